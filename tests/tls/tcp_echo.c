/* tcp_echo: a test-only TLS echo server over tls/tcp.h on a plain blocking
 * TCP socket, one connection at a time, for tests/tls/interop.sh (clients
 * nobody here wrote: openssl s_client, gnutls-cli).
 *
 *   tcp_echo --port P --ticket-key HEX128 [--alpn h2|http/1.1] [--conns N]
 *            --vhost NAME,CERT,KEY[,CLIENT_CA,optional|require] [--vhost ...]
 *
 * Prints "listening" on stderr when ready; per handshake one line on
 * stdout: "hs sni=S alpn=A version=V resumed=0|1 group=G vhost=NAME
 * peer=SUBJECT|-" or
 * "fail RV"; echoes the plaintext it reads; at exit (N connections, or
 * SIGTERM) the counters as "name value" lines. A 60 s alarm bounds it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/tcp.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int flush(int fd, struct tls_tcp *t)
{
	struct iovec iov[2];
	unsigned k;
	while ((k = tls_tcp_output(t, iov, 2))) {
		ssize_t n = writev(fd, iov, (int)k);
		if (n <= 0)
			return -1;
		tls_tcp_output_sent(t, (size_t)n);
	}
	return 0;
}

/* 0: more input came (or the input ended), -1: give up */
static int more_input(int fd, struct tls_tcp *t)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 10000) <= 0)
		return -1;
	uint8_t buf[17000];
	size_t room = tls_tcp_input_room(t);
	if (!room)
		return 0;
	ssize_t n = read(fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0)
		return -1;
	if (n == 0) {
		tls_tcp_input_end(t);
		return 0;
	}
	return tls_tcp_input(t, buf, (size_t)n) == 0 ? 0 : -1;
}

static const char *alpn_name(enum tls_alpn a)
{
	return a == TLS_ALPN_H2 ? "h2" : a == TLS_ALPN_HTTP11 ? "http/1.1" : "none";
}

static void serve(int fd, struct tls_tcp_server *srv)
{
	rg_sockaddr local = {0}, peer = {0};
	socklen_t l = sizeof(local);
	getsockname(fd, &local.sa, &l);
	l = sizeof(peer);
	getpeername(fd, &peer.sa, &l);
	struct tls_tcp *t = NULL;
	if (tls_tcp_new(srv, &local, &peer, &t) != 0)
		return;
	int rv;
	while ((rv = tls_tcp_handshake(t)) == -EAGAIN)
		if (flush(fd, t) < 0 || more_input(fd, t) < 0)
			goto out;
	if (rv) {
		printf("fail %d\n", rv);
		goto out;
	}
	const struct tls_vhost *v = tls_tcp_vhost(t);
	char subj[256];
	uint8_t sha[32];
	if (tls_tcp_peer_cert(t, subj, sizeof(subj), sha) != 0)
		snprintf(subj, sizeof(subj), "-");
	printf("hs sni=%s alpn=%s version=%s resumed=%d group=%s vhost=%s peer=%s\n",
	       tls_tcp_sni(t)[0] ? tls_tcp_sni(t) : "-", alpn_name(tls_tcp_alpn(t)), tls_tcp_version(t),
	       tls_tcp_resumed(t), tls_group_label(tls_tcp_group(t)), v ? v->name : "-", subj);
	fflush(stdout);
	for (;;) {
		uint8_t buf[4096];
		if (flush(fd, t) < 0)
			goto out;
		ssize_t n = tls_tcp_read(t, buf, sizeof(buf));
		if (n == -EAGAIN) {
			if (more_input(fd, t) < 0)
				goto out;
			continue;
		}
		if (n <= 0) {
			if (n == 0)
				tls_tcp_close_notify(t); /* answer the client's */
			break;
		}
		size_t off = 0;
		while (off < (size_t)n) {
			ssize_t w = tls_tcp_write(t, &(struct iovec){buf + off, (size_t)n - off}, 1);
			if (w == -EAGAIN) {
				if (flush(fd, t) < 0)
					goto out;
				continue;
			}
			if (w < 0)
				goto out;
			off += (size_t)w;
		}
	}
out:
	flush(fd, t);
	fflush(stdout);
	tls_tcp_free(t);
}

static int hexkey(const char *s, uint8_t *k, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		k[i] = (uint8_t)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tls_vhost_params vp[8];
	unsigned nv = 0, alpn = 0;
	int port = 0, conns = 1000;
	uint8_t key[64];
	bool have_key = false;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--conns"))
			conns = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--alpn"))
			alpn = !strcmp(argv[i + 1], "h2") ? TLS_ALPN_H2 : TLS_ALPN_HTTP11;
		else if (!strcmp(argv[i], "--ticket-key"))
			have_key = hexkey(argv[i + 1], key, sizeof(key)) == 0;
		else if (!strcmp(argv[i], "--vhost") && nv < 8) {
			char *name = argv[i + 1], *cert = strchr(name, ','), *k = cert ? strchr(cert + 1, ',') : NULL;
			if (!k)
				break;
			*cert++ = 0;
			*k++ = 0;
			char *ca = strchr(k, ','), *auth = ca ? strchr(ca + 1, ',') : NULL;
			if (ca && auth) {
				*ca++ = 0;
				*auth++ = 0;
			}
			vp[nv++] = (struct tls_vhost_params){
				.name = name, .cert_file = cert, .key_file = k, .client_ca = auth ? ca : NULL,
				.client_auth = !auth                     ? TLS_CLIENT_AUTH_OFF
				               : !strcmp(auth, "require") ? TLS_CLIENT_AUTH_REQUIRE
				                                          : TLS_CLIENT_AUTH_OPTIONAL};
		}
	}
	if (!port || !nv || !have_key) {
		fprintf(stderr, "usage: tcp_echo --port P --ticket-key HEX128 --vhost NAME,CERT,KEY ...\n");
		return 2;
	}
	struct tls_vhost_set *vset;
	struct tls_tcp_counters ctr = {0};
	struct tls_tcp_server *srv;
	if (tls_vset_load(vp, nv, &vset) != 0 ||
	    tls_tcp_server_new(&(struct tls_tcp_params){.vset = vset, .ticket_key = key, .alpn = alpn, .ctr = &ctr},
	                       &srv) != 0) {
		fprintf(stderr, "tcp_echo: cannot load the vhosts\n");
		return 1;
	}
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16)) {
		perror("tcp_echo: listen");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	fprintf(stderr, "listening\n");
	for (int n = 0; n < conns && !stop;) {
		/* a short poll, so SIGTERM is seen even when it lands just
		 * before accept() */
		struct pollfd p = {.fd = ls, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		n++;
		serve(fd, srv);
		close(fd);
	}
	close(ls);
	printf("handshakes %llu\nresumed %llu\ntls12 %llu\nfailures %llu\nunknown_sni %llu\nalpn_refused %llu\n"
	       "client_cert_refused %llu\n",
	       (unsigned long long)ctr.handshakes, (unsigned long long)ctr.handshakes_resumed,
	       (unsigned long long)ctr.handshakes_tls12, (unsigned long long)ctr.handshake_failures,
	       (unsigned long long)ctr.unknown_sni, (unsigned long long)ctr.alpn_refused,
	       (unsigned long long)ctr.client_cert_refused);
	tls_tcp_server_put(srv);
	tls_vset_put(vset);
	return 0;
}
