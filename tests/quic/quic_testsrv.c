/* quic_testsrv: datapath/quic on a plain non-blocking UDP socket (recvmmsg
 * in, sendmsg with UDP_SEGMENT out), for tests against real clients.
 *
 *   quic_testsrv --port P --cert C --key K [--name localhost]
 *                [--vhost NAME:CERT:KEY]... [--addr 127.0.0.1]
 *                [--retry off|on|auto] [--anti-port-scan] [--backlog N]
 *                [--idle-timeout SECONDS] [--handshake-timeout SECONDS]
 *                [--time-limit SECONDS] [--debug]
 *                [--zero-rtt] [--qlog-dir DIR] [--secret HEX64]
 *
 * --secret fixes the static secret (and so the ticket key and the token
 * key) so that a second server process accepts the first one's tickets and
 * tokens, as the workers of one ringgate do.
 *
 * Exits 0 after the time limit or SIGTERM/SIGINT, printing the counters as
 * "name value" lines on stdout; 2 when it cannot start.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "datapath/quic/quic.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define RX_BATCH 64
#define RX_BUF 2048
#define TX_ARENA (4u << 20)
#define TX_MAX 4096

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the send batch: a tiny stand-in for ring_send_prep/commit ---- */

struct tx_ent {
	size_t off, len, seg;
	rg_sockaddr to, from;
	bool has_from;
};

struct txq {
	int fd;
	bool gso;
	uint8_t *arena;
	size_t used, prep_off;
	struct tx_ent ent[TX_MAX];
	unsigned n;
	uint64_t sendmsg_calls, send_errors;
};

static uint8_t *txq_prep(void *ctx, size_t cap)
{
	struct txq *q = ctx;

	if (q->n == TX_MAX || q->used + cap > TX_ARENA)
		return NULL;
	q->prep_off = q->used;
	return q->arena + q->used;
}

static int txq_commit(void *ctx, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from,
                      size_t len, size_t seg)
{
	struct txq *q = ctx;
	struct tx_ent *e = &q->ent[q->n++];

	(void)sock;
	e->off = q->prep_off;
	e->len = len;
	e->seg = seg;
	e->to = *to;
	e->has_from = from != NULL && from->sa.sa_family != 0;
	if (e->has_from)
		e->from = *from;
	q->used = q->prep_off + len;
	return 0;
}

static const struct quic_tx_ops txq_ops = { txq_prep, txq_commit };

static int send_one(struct txq *q, const struct tx_ent *e, const uint8_t *p, size_t len, size_t seg)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)p, len };
	struct msghdr mh = {
		.msg_name = (void *)&e->to,
		.msg_namelen = e->to.sa.sa_family == AF_INET6 ? sizeof(e->to.in6) : sizeof(e->to.in4),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
	};
	struct cmsghdr *cm;
	size_t clen = 0;

	memset(&u, 0, sizeof(u));
	cm = (struct cmsghdr *)u.buf;
	if (seg && len > seg) {
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		*(uint16_t *)CMSG_DATA(cm) = (uint16_t)seg;
		clen += CMSG_SPACE(sizeof(uint16_t));
		cm = (struct cmsghdr *)(u.buf + clen);
	}
	if (e->has_from && e->from.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = e->from.in4.sin_addr };

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		clen += CMSG_SPACE(sizeof(pi));
	} else if (e->has_from && e->from.sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_addr = e->from.in6.sin6_addr };

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		clen += CMSG_SPACE(sizeof(pi));
	}
	mh.msg_controllen = clen;
	if (!clen)
		mh.msg_control = NULL;
	q->sendmsg_calls++;
	for (;;) {
		if (sendmsg(q->fd, &mh, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			struct pollfd pfd = { q->fd, POLLOUT, 0 };

			poll(&pfd, 1, 100);
			continue;
		}
		return -errno;
	}
}

static void txq_flush(struct txq *q)
{
	unsigned i;

	for (i = 0; i < q->n; i++) {
		const struct tx_ent *e = &q->ent[i];
		const uint8_t *p = q->arena + e->off;
		int rc = -EIO;

		if (q->gso || !e->seg)
			rc = send_one(q, e, p, e->len, q->gso ? e->seg : 0);
		if (rc == -EIO && e->seg) {
			/* no GSO here: one sendmsg per segment (as the ring does) */
			size_t off;

			q->gso = false;
			for (off = 0; off < e->len; off += e->seg)
				rc = send_one(q, e, p + off,
				              e->len - off < e->seg ? e->len - off : e->seg, 0);
		}
		if (rc < 0)
			q->send_errors++;
	}
	q->n = 0;
	q->used = 0;
}

/* ---- receive ---- */

static int recv_batch(int fd, struct ring_dgram *d, uint8_t (*bufs)[RX_BUF], uint16_t port)
{
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	int i, n;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < RX_BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], RX_BUF };
		mm[i].msg_hdr.msg_name = &d[i].peer;
		mm[i].msg_hdr.msg_namelen = sizeof(d[i].peer);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = ctl[i].buf;
		mm[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return n < 0 && errno != EAGAIN && errno != EINTR ? -errno : 0;
	for (i = 0; i < n; i++) {
		struct cmsghdr *cm;

		d[i].data = bufs[i];
		d[i].len = mm[i].msg_len;
		d[i].sock = 0;
		memset(&d[i].local, 0, sizeof(d[i].local));
		for (cm = CMSG_FIRSTHDR(&mm[i].msg_hdr); cm; cm = CMSG_NXTHDR(&mm[i].msg_hdr, cm)) {
			if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				d[i].local.in4.sin_family = AF_INET;
				d[i].local.in4.sin_addr = pi.ipi_addr;
				d[i].local.in4.sin_port = htons(port);
			} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
				d[i].local.in6.sin6_family = AF_INET6;
				d[i].local.in6.sin6_addr = pi.ipi6_addr;
				d[i].local.in6.sin6_port = htons(port);
			}
		}
	}
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: quic_testsrv --port P --cert C --key K [--name N] "
	                "[--vhost NAME:CERT:KEY]... [--addr A] [--retry off|on|auto] "
	                "[--anti-port-scan] [--backlog N] [--idle-timeout S] [--handshake-timeout S] "
	                "[--time-limit S] [--debug] [--zero-rtt] [--qlog-dir D] [--secret HEX64]\n");
	exit(2);
}

static void print_counters(const struct quic_counters *c, const struct txq *q)
{
	unsigned i;

#define P(f) printf(#f " %llu\n", (unsigned long long)c->f)
	P(rx_dgrams); P(rx_bytes); P(tx_dgrams); P(tx_bytes); P(tx_gso_bufs);
	P(handshakes_started); P(handshakes_completed); P(handshakes_failed); P(sni_refused);
	P(conns_open); P(conns_handshaking); P(conns_closed_idle); P(conns_closed_local);
	P(conns_closed_peer); P(requests); P(responses_2xx); P(responses_4xx); P(responses_5xx);
	P(streams_reset); P(retry_sent); P(version_negotiation_sent); P(stateless_reset_sent);
	P(handshakes_resumed); P(zero_rtt_accepted); P(zero_rtt_rejected); P(requests_0rtt);
	P(tickets_issued); P(tokens_issued); P(tokens_accepted); P(tokens_rejected);
	P(handoffs_sent); P(handoffs_received); P(handoffs_dropped); P(path_migrations);
	P(qlog_files); P(qlog_errors);
	P(conns_v2); P(ecn_validated_paths); P(rx_ecn_ect); P(rx_ecn_ce); P(tx_ecn_ect);
	P(handshake_timeouts);
	P(key_updates);
#undef P
	for (i = 0; i < QUIC_DROP_MAX; i++)
		printf("drop_%s %llu\n", quic_drop_name(i), (unsigned long long)c->drops[i]);
	printf("sendmsg_calls %llu\nsend_errors %llu\n", (unsigned long long)q->sendmsg_calls,
	       (unsigned long long)q->send_errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "vhost", required_argument, NULL, 'v' },
		{ "addr", required_argument, NULL, 'a' },
		{ "retry", required_argument, NULL, 'r' },
		{ "anti-port-scan", no_argument, NULL, 'A' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "handshake-timeout", required_argument, NULL, 'H' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		{ "zero-rtt", no_argument, NULL, 'z' },
		{ "qlog-dir", required_argument, NULL, 'q' },
		{ "secret", required_argument, NULL, 's' },
		{ 0 },
	};
	struct quic_vhost_params vh[8];
	char *vh_args[8];
	unsigned n_vh = 0, n_args = 0, i;
	const char *cert = NULL, *key = NULL, *name = "localhost", *addr = "127.0.0.1";
	struct quic_params p = { 0 };
	uint8_t secret[QUIC_STATIC_SECRET_LEN];
	double time_limit = 60;
	int port = 0, o, fd, one = 1, rc;
	rg_sockaddr sa = { 0 };
	struct quic_server *srv;
	static struct txq q;
	static uint8_t bufs[RX_BATCH][RX_BUF];
	struct ring_dgram d[RX_BATCH];
	struct quic_tx tx = { &txq_ops, &q };
	uint64_t end;
	FILE *ur;
	const char *secret_hex = NULL;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = atoi(optarg); break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'n': name = optarg; break;
		case 'a': addr = optarg; break;
		case 'v': {
			char *s = strdup(optarg), *c1, *c2;

			c1 = strchr(s, ':');
			c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (!c2 || n_vh >= 7)
				usage();
			*c1 = *c2 = 0;
			vh_args[n_args++] = s;
			vh[n_vh++] = (struct quic_vhost_params){ s, c1 + 1, c2 + 1 };
			break;
		}
		case 'r':
			p.retry = strcmp(optarg, "on") == 0     ? QUIC_RETRY_ON
			          : strcmp(optarg, "auto") == 0 ? QUIC_RETRY_AUTO
			                                        : QUIC_RETRY_OFF;
			break;
		case 'A': p.anti_port_scan = true; break;
		case 'b': p.backlog = (unsigned)atoi(optarg); break;
		case 'i': p.idle_timeout_ns = (uint64_t)(atof(optarg) * 1e9); break;
		case 'H': p.handshake_timeout_ns = (uint64_t)(atof(optarg) * 1e9); break;
		case 't': time_limit = atof(optarg); break;
		case 'd': p.debug_log = true; break;
		case 'z': p.zero_rtt = true; break;
		case 'q': p.qlog_dir = optarg; break;
		case 's': secret_hex = optarg; break;
		default: usage();
		}
	}
	if (port <= 0 || port > 65535 || (!cert && n_vh == 0))
		usage();
	if (cert) {
		memmove(vh + 1, vh, n_vh * sizeof(vh[0]));
		vh[0] = (struct quic_vhost_params){ name, cert, key ? key : cert };
		n_vh++;
	}

	if (secret_hex) {
		if (strlen(secret_hex) != 2 * sizeof(secret))
			usage();
		for (i = 0; i < sizeof(secret); i++) {
			unsigned v;

			if (sscanf(secret_hex + 2 * i, "%2x", &v) != 1)
				usage();
			secret[i] = (uint8_t)v;
		}
	} else {
		ur = fopen("/dev/urandom", "rb");
		if (!ur || fread(secret, 1, sizeof(secret), ur) != sizeof(secret)) {
			fprintf(stderr, "quic_testsrv: /dev/urandom: %s\n", strerror(errno));
			return 2;
		}
		fclose(ur);
	}
	p.vhosts = vh;
	p.n_vhosts = n_vh;
	p.static_secret = secret;
	p.n_workers = 1;
	rc = quic_server_create(&p, &srv);
	if (rc < 0) {
		fprintf(stderr, "quic_testsrv: quic_server_create: %s\n", strerror(-rc));
		return 2;
	}

	if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) == 1) {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET, addr, &sa.in4.sin_addr) == 1) {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons((uint16_t)port);
	} else {
		usage();
	}
	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		quic_server_destroy(srv);
		return 2;
	}
	if (sa.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	o = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o, sizeof(o));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &o, sizeof(o));
	if (bind(fd, &sa.sa, sa.sa.sa_family == AF_INET6 ? sizeof(sa.in6) : sizeof(sa.in4)) < 0) {
		fprintf(stderr, "quic_testsrv: bind %s:%d: %s\n", addr, port, strerror(errno));
		quic_server_destroy(srv);
		close(fd);
		return 2;
	}
	q.fd = fd;
	q.gso = true;
	q.arena = malloc(TX_ARENA);
	if (!q.arena) {
		quic_server_destroy(srv);
		close(fd);
		return 2;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "quic_testsrv: listening on %s port %d (%u vhosts)\n", addr, port, n_vh);

	end = now_ns() + (uint64_t)(time_limit * 1e9);
	while (!stop) {
		uint64_t now = now_ns(), next = quic_server_next_expiry(srv);
		struct pollfd pfd = { fd, POLLIN, 0 };
		int timeout, n;

		if (now >= end)
			break;
		if (next <= now || quic_server_wants_write(srv))
			timeout = 0;
		else {
			uint64_t ms = (next - now + 999999) / 1000000;

			timeout = ms > 100 ? 100 : (int)ms;
		}
		if (timeout)
			poll(&pfd, 1, timeout);
		while ((n = recv_batch(fd, d, bufs, (uint16_t)port)) > 0) {
			quic_server_recv(srv, d, (unsigned)n, now_ns(), &tx);
			quic_server_flush(srv, now_ns(), &tx); /* end of this "turn" */
			txq_flush(&q);
		}
		now = now_ns();
		if (quic_server_next_expiry(srv) <= now)
			quic_server_handle_expiry(srv, now, &tx);
		quic_server_flush(srv, now, &tx);
		txq_flush(&q);
	}
	quic_server_close_all(srv, now_ns(), &tx);
	txq_flush(&q);
	print_counters(quic_server_counters(srv), &q);
	quic_server_destroy(srv);
	free(q.arena);
	close(fd);
	for (i = 0; i < n_args; i++)
		free(vh_args[i]);
	return 0;
}
