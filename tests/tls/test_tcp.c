/* test_tcp: tls/tcp.h against an in-process client of the same library
 * (gnutls, or OpenSSL on the -Dtls=openssl build), through memory only.
 * Certificates are made at start with `openssl req` in a temporary folder.
 *
 * Covered: TLS 1.3 and TLS 1.2 handshakes, the certificate picked by SNI
 * (two vhosts, the leaf compared), unknown SNI refused with
 * unrecognized_name, ALPN h2 / http/1.1 / none / no match refused,
 * resumption with a ticket from another server made with the same key (and
 * none with another key), a 1 MB echo both ways in odd pieces through the
 * back-pressure of input_room and the output ring, close_notify, a
 * truncated stream, garbage input, the counters (group included).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/tls/client.h"
#include "tls/tcp.h"

static char dir[] = "/tmp/rg-tlstcp-XXXXXX";
static struct tls_vhost_set *vset;
static struct tls_tcp_counters ctr;
static uint8_t key1[64], key2[64];
static rg_sockaddr local;

/* extra_names: that many more DNS names in the certificate (a large
 * certificate: its flight is more than the output buffer holds) */
static int make_cert(const char *name, unsigned extra_names)
{
	static char cmd[40000];
	int n = snprintf(cmd, sizeof(cmd),
	                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
	                 "-subj /CN=%s -keyout %s/%s.key -out %s/%s.pem -addext subjectAltName=DNS:%s",
	                 name, dir, name, dir, name, name);
	for (unsigned i = 0; i < extra_names; i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, ",DNS:n%04u.padding-to-make-a-large-certificate.test", i);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, " >/dev/null 2>&1");
	return system(cmd);
}

/* Moves ciphertext both ways, in pieces of at most `piece` bytes, through
 * the server's input room. The count of bytes moved. */
static size_t xfer(struct cli *c, struct tls_tcp *t, size_t piece)
{
	size_t moved = 0;
	struct iovec iov[2];
	unsigned k = tls_tcp_output(t, iov, 2);
	if (k) {
		size_t n = iov[0].iov_len < piece ? iov[0].iov_len : piece;
		cli_feed(c, iov[0].iov_base, n);
		tls_tcp_output_sent(t, n);
		moved += n;
	}
	size_t room = tls_tcp_input_room(t);
	size_t n = cli_pending(c);
	if (n > room)
		n = room;
	if (n > piece)
		n = piece;
	if (n) {
		CHECK(tls_tcp_input(t, cli_out(c), n) == 0, "input %zu", n);
		cli_consumed(c, n);
		moved += n;
	}
	return moved;
}

/* Both handshakes to the end or the first failure: 0, or the server's
 * error (*crv the client's). */
static int handshake(struct cli *c, struct tls_tcp *t, int *crv)
{
	int sr = -EAGAIN, cr = -EAGAIN;
	for (int i = 0; i < 400; i++) {
		if (cr == -EAGAIN)
			cr = cli_handshake(c);
		xfer(c, t, 100000);
		if (sr == -EAGAIN)
			sr = tls_tcp_handshake(t);
		xfer(c, t, 100000);
		if (sr != -EAGAIN && cr != -EAGAIN)
			break;
		if ((sr != 0 && sr != -EAGAIN) || (cr != 0 && cr != -EAGAIN)) {
			/* let the alert reach the client */
			for (int j = 0; j < 4 && cr == -EAGAIN; j++) {
				xfer(c, t, 100000);
				cr = cli_handshake(c);
			}
			break;
		}
	}
	if (crv)
		*crv = cr;
	return sr;
}

static struct tls_tcp_server *server(const uint8_t *key, unsigned alpn)
{
	struct tls_tcp_params p = {.vset = vset, .ticket_key = key, .alpn = alpn, .ctr = &ctr};
	struct tls_tcp_server *s = NULL;
	CHECK(tls_tcp_server_new(&p, &s) == 0, "server_new");
	return s;
}

static struct tls_tcp *session(struct tls_tcp_server *s)
{
	struct tls_tcp *t = NULL;
	CHECK(tls_tcp_new(s, &local, &local, &t) == 0, "tls_tcp_new");
	return t;
}

static bool leaf_is(struct cli *c, unsigned vhost)
{
	uint8_t *der = NULL;
	size_t len = 0;
	bool ok = false;
	if (tls_vset_leaf_der(vset, vhost, &der, &len) == 0) {
		size_t got_len = 0;
		const uint8_t *got = cli_leaf(c, &got_len);
		ok = got && got_len == len && !memcmp(got, der, len);
	}
	free(der);
	return ok;
}

/* A handshake with these client settings: the server's result. */
struct hs {
	struct cli *c;
	struct tls_tcp *t;
	int sr, cr;
};

static struct hs run(struct tls_tcp_server *s, const struct cli_opts *o)
{
	struct hs h = {.c = cli_new(o), .t = session(s)};
	h.sr = handshake(h.c, h.t, &h.cr);
	return h;
}

static void done(struct hs *h)
{
	cli_free(h->c);
	tls_tcp_free(h->t);
}

static void test_versions_sni_alpn(struct tls_tcp_server *s)
{
	struct tls_tcp_counters before = ctr;

	/* TLS 1.3, SNI a.test, ALPN h2 + http/1.1: h2 (server preference) */
	struct hs h = run(s, &(struct cli_opts){.sni = "a.test", .alpn = "h2,http/1.1"});
	CHECK(h.sr == 0 && h.cr == 0, "tls13 handshake %d %d", h.sr, h.cr);
	CHECK(tls_tcp_handshake_done(h.t), "done");
	CHECK(!strcmp(tls_tcp_version(h.t), "TLSv1.3"), "version %s", tls_tcp_version(h.t));
	CHECK(tls_tcp_alpn(h.t) == TLS_ALPN_H2, "alpn %d", tls_tcp_alpn(h.t));
	CHECK(cli_alpn_is(h.c, "h2"), "client sees h2");
	CHECK(tls_tcp_vhost(h.t) == &vset->v[0], "vhost a");
	CHECK(!strcmp(tls_tcp_sni(h.t), "a.test"), "sni %s", tls_tcp_sni(h.t));
	CHECK(leaf_is(h.c, 0), "leaf of a.test");
	CHECK(!tls_tcp_resumed(h.t), "not resumed");
	CHECK(tls_tcp_group(h.t) != TLS_GI_OTHER, "group %s", tls_group_label(tls_tcp_group(h.t)));
	CHECK(ctr.groups[tls_tcp_group(h.t)] == before.groups[tls_tcp_group(h.t)] + 1, "group counted");
	CHECK(ctr.handshakes == before.handshakes + 1, "handshakes counted");
	CHECK(tls_tcp_mem(h.t) > 2 * 16384, "mem %zu", tls_tcp_mem(h.t));
	done(&h);

	/* TLS 1.2 forced on the client, SNI B.TEST (case), http/1.1 only */
	h = run(s, &(struct cli_opts){.sni = "B.Test", .alpn = "http/1.1", .tls12 = true});
	CHECK(h.sr == 0 && h.cr == 0, "tls12 handshake %d %d", h.sr, h.cr);
	CHECK(!strcmp(tls_tcp_version(h.t), "TLSv1.2"), "version %s", tls_tcp_version(h.t));
	CHECK(tls_tcp_alpn(h.t) == TLS_ALPN_HTTP11, "alpn %d", tls_tcp_alpn(h.t));
	CHECK(tls_tcp_vhost(h.t) == &vset->v[1], "vhost b");
	CHECK(!strcmp(tls_tcp_sni(h.t), "b.test"), "sni lowercase %s", tls_tcp_sni(h.t));
	CHECK(leaf_is(h.c, 1), "leaf of b.test");
	CHECK(ctr.handshakes_tls12 == before.handshakes_tls12 + 1, "tls12 counted");
	/* b.test's groups are secp384r1 only: its priority was used */
	CHECK(tls_tcp_group(h.t) == TLS_GI_SECP384R1, "tls12 ECDHE group %s", tls_group_label(tls_tcp_group(h.t)));
	CHECK(ctr.groups[TLS_GI_SECP384R1] == before.groups[TLS_GI_SECP384R1] + 1, "secp384r1 counted");
	done(&h);

	/* RFC 9113 9.2.2: TLS 1.2 with a non-AEAD suite is refused */
	before = ctr;
	h = run(s, &(struct cli_opts){.sni = "a.test", .alpn = "h2", .cbc = true});
	CHECK(h.sr == -EPROTO && h.cr != 0, "TLS 1.2 CBC refused %d %d", h.sr, h.cr);
	CHECK(ctr.handshake_failures == before.handshake_failures + 1, "failure counted");
	done(&h);

	/* no ALPN, no SNI: HTTP/1.1 on the listener's first vhost */
	h = run(s, &(struct cli_opts){0});
	CHECK(h.sr == 0 && h.cr == 0, "plain handshake %d %d", h.sr, h.cr);
	CHECK(tls_tcp_alpn(h.t) == TLS_ALPN_NONE, "alpn none %d", tls_tcp_alpn(h.t));
	CHECK(tls_tcp_vhost(h.t) == &vset->v[0], "first vhost");
	CHECK(!strcmp(tls_tcp_sni(h.t), ""), "no sni");
	CHECK(leaf_is(h.c, 0), "leaf of the first vhost");
	done(&h);

	/* ALPN offered, none of ours: no_application_protocol */
	before = ctr;
	h = run(s, &(struct cli_opts){.sni = "a.test", .alpn = "spdy/3,h3"});
	CHECK(h.sr == -EPROTO, "alpn mismatch refused %d", h.sr);
	CHECK(h.cr != 0, "client failed");
	CHECK(cli_alert(h.c) == 120, "no_application_protocol alert, got %d", cli_alert(h.c));
	CHECK(ctr.alpn_refused == before.alpn_refused + 1, "alpn_refused counted");
	CHECK(ctr.handshake_failures == before.handshake_failures + 1, "failure counted");
	CHECK(ctr.handshakes == before.handshakes, "no handshake counted");
	done(&h);

	/* unknown SNI: unrecognized_name */
	before = ctr;
	h = run(s, &(struct cli_opts){.sni = "c.test", .alpn = "h2"});
	CHECK(h.sr == -EPROTO, "unknown sni refused %d", h.sr);
	CHECK(cli_alert(h.c) == 112, "unrecognized_name alert, got %d", cli_alert(h.c));
	CHECK(ctr.unknown_sni == before.unknown_sni + 1, "unknown_sni counted");
	CHECK(tls_tcp_vhost(h.t) == NULL, "no vhost");
	done(&h);

	/* only h2 offered on an http/1.1-only server: refused */
	struct tls_tcp_server *s11 = server(key1, TLS_ALPN_HTTP11);
	h = run(s11, &(struct cli_opts){.sni = "a.test", .alpn = "h2"});
	CHECK(h.sr == -EPROTO && cli_alert(h.c) == 120, "h2 on an http/1.1 server %d", h.sr);
	done(&h);
	h = run(s11, &(struct cli_opts){.sni = "a.test", .alpn = "h2,http/1.1"});
	CHECK(h.sr == 0 && tls_tcp_alpn(h.t) == TLS_ALPN_HTTP11, "http/1.1 picked %d", h.sr);
	done(&h);
	tls_tcp_server_put(s11);
}

static void ping_pong(struct hs *h);

/* A certificate larger than the output buffer: the handshake stops with
 * -EAGAIN on a full output and goes on once it is written. */
static void test_big_flight(struct tls_tcp_server *s)
{
	uint8_t *der = NULL;
	size_t len = 0;
	CHECK(tls_vset_leaf_der(vset, 2, &der, &len) == 0 && len > 20000, "big leaf %zu bytes", len);
	free(der);
	for (int v12 = 0; v12 < 2; v12++) {
		struct hs h = run(s, &(struct cli_opts){.sni = "big.test", .alpn = "h2", .tls12 = v12});
		CHECK(h.sr == 0 && h.cr == 0, "big flight handshake (tls12 %d) %d %d", v12, h.sr, h.cr);
		CHECK(leaf_is(h.c, 2), "leaf of big.test");
		ping_pong(&h);
		done(&h);
	}
}

/* ping from the client, pong from the server: the client reads the
 * tickets sent after the handshake on the way. */
static void ping_pong(struct hs *h)
{
	uint8_t buf[64];
	CHECK(cli_write(h->c, "ping", 4) == 4, "client write");
	xfer(h->c, h->t, 100000);
	ssize_t n = tls_tcp_read(h->t, buf, sizeof(buf));
	CHECK(n == 4 && !memcmp(buf, "ping", 4), "server read %zd", n);
	CHECK(tls_tcp_write(h->t, &(struct iovec){(void *)"pong", 4}, 1) == 4, "server write");
	xfer(h->c, h->t, 100000);
	/* the tickets come first (TLS 1.3): a read may take only them */
	for (int i = 0; i < 4 && (n = cli_read(h->c, buf, sizeof(buf))) == -EAGAIN; i++)
		;
	CHECK(n == 4 && !memcmp(buf, "pong", 4), "client read %zd", n);
}

static void test_resume(struct tls_tcp_server *s, bool tls12)
{
	struct tls_tcp_server *other = server(key1, 0); /* another worker */
	struct tls_tcp_server *stranger = server(key2, 0);
	struct cli_opts o = {.sni = "a.test", .alpn = "h2", .tls12 = tls12};

	struct hs h = run(s, &o);
	CHECK(h.sr == 0, "first handshake %d", h.sr);
	ping_pong(&h);
	size_t tlen = 0;
	uint8_t *ticket = cli_session(h.c, &tlen);
	CHECK(ticket && tlen, "client has a session");
	done(&h);

	struct tls_tcp_counters before = ctr;
	o.session = ticket;
	o.session_len = tlen;
	h = run(other, &o);
	CHECK(h.sr == 0 && h.cr == 0, "resumed handshake %d %d", h.sr, h.cr);
	CHECK(tls_tcp_resumed(h.t), "resumed on another worker (tls12 %d)", tls12);
	CHECK(cli_resumed(h.c), "client says resumed");
	CHECK(tls_tcp_vhost(h.t) == &vset->v[0], "vhost after resumption");
	CHECK(tls_tcp_alpn(h.t) == TLS_ALPN_H2, "alpn after resumption");
	CHECK(ctr.handshakes_resumed == before.handshakes_resumed + 1, "resumed counted");
	done(&h);

	h = run(stranger, &o);
	CHECK(h.sr == 0 && h.cr == 0, "full handshake with another key %d %d", h.sr, h.cr);
	CHECK(!tls_tcp_resumed(h.t), "a ticket of another key does not resume");
	done(&h);
	free(ticket);
	tls_tcp_server_put(other);
	tls_tcp_server_put(stranger);
}

/* 1 MB each way in odd pieces; the server echoes what it reads, bounded by
 * its output ring; both sides keep going until all came back. */
static void test_echo(struct tls_tcp_server *s)
{
	enum { TOTAL = 1 << 20 };
	uint8_t *src = malloc(TOTAL), *back = malloc(TOTAL), *pend = malloc(TOTAL);
	size_t sent = 0, got = 0, pend_off = 0, pend_len = 0, srv_read = 0;
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 11));
	struct hs h = run(s, &(struct cli_opts){.sni = "b.test", .alpn = "h2"});
	CHECK(h.sr == 0, "echo handshake");
	bool full_seen = false, eagain_seen = false, short_seen = false;
	size_t pieces[] = {1, 7, 1000, 4097, 16383, 16385, 33333, 3};
	unsigned k = 0;
	for (int round = 0; round < 200000 && got < TOTAL; round++) {
		size_t piece = pieces[k++ % 8];
		/* the client runs ahead of the server: its input fills up */
		while (sent < TOTAL && cli_pending(h.c) < 40000) {
			size_t n = TOTAL - sent < piece ? TOTAL - sent : piece;
			ssize_t w = cli_write(h.c, src + sent, n);
			if (w <= 0)
				break;
			sent += (size_t)w;
		}
		xfer(h.c, h.t, piece * 3 + 11);
		if (tls_tcp_input_room(h.t) == 0)
			full_seen = true;
		/* the server: read what it can while its echo backlog is small */
		while (pend_len < 65536 && pend_off + pend_len < TOTAL) {
			ssize_t n = tls_tcp_read(h.t, pend + pend_off + pend_len, piece * 2 + 5 < TOTAL - pend_off - pend_len ? piece * 2 + 5 : TOTAL - pend_off - pend_len);
			if (n <= 0) {
				CHECK(n == -EAGAIN || (n == 0 && pend_off + pend_len == TOTAL), "server read %zd", n);
				break;
			}
			pend_len += (size_t)n;
			srv_read += (size_t)n;
		}
		if (pend_len) {
			struct iovec iov[2] = {{pend + pend_off, pend_len / 2}, {pend + pend_off + pend_len / 2, pend_len - pend_len / 2}};
			ssize_t w = tls_tcp_write(h.t, iov, 2);
			if (w == -EAGAIN)
				eagain_seen = true;
			else if (w > 0) {
				if ((size_t)w < pend_len)
					short_seen = true;
				pend_off += (size_t)w;
				pend_len -= (size_t)w;
			} else
				CHECK(0, "server write %zd", w);
		}
		xfer(h.c, h.t, piece * 2 + 1);
		for (;;) {
			ssize_t n = cli_read(h.c, back + got, TOTAL - got < piece * 5 ? TOTAL - got : piece * 5);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	CHECK(sent == TOTAL && srv_read == TOTAL && got == TOTAL, "echo sent %zu read %zu back %zu", sent, srv_read, got);
	CHECK(!memcmp(src, back, TOTAL), "echo bytes intact");
	CHECK(full_seen, "input room 0 met");
	CHECK(eagain_seen || short_seen, "output full met: -EAGAIN %d, short write %d", eagain_seen, short_seen);
	CHECK(tls_tcp_output_pending(h.t) == 0, "output drained");

	/* the client closes: the server reads 0 after close_notify */
	cli_bye(h.c);
	xfer(h.c, h.t, 100000);
	uint8_t b[16];
	CHECK(tls_tcp_read(h.t, b, sizeof(b)) == 0, "close_notify read as 0");
	/* the server closes: the client sees close_notify */
	tls_tcp_close_notify(h.t);
	tls_tcp_close_notify(h.t); /* idempotent */
	CHECK(tls_tcp_output_pending(h.t) > 0, "close_notify queued");
	xfer(h.c, h.t, 100000);
	CHECK(cli_read(h.c, b, sizeof(b)) == 0, "client saw close_notify");
	CHECK(tls_tcp_write(h.t, &(struct iovec){b, 1}, 1) < 0, "no write after close_notify");
	done(&h);
	free(src);
	free(back);
	free(pend);
}

static char client_pem[300], client_key[300], rogue_pem[300], rogue_key[300];
static uint8_t client_sha[32];

/* A CA, a client certificate it signed, the same certificate signed by
 * another CA of the same name (the rogue: clients send it, as its issuer
 * is one the CertificateRequest names),
 * and the client certificate's SHA-256 as openssl computes it. */
static int make_client_certs(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "(cd %s && printf 'extendedKeyUsage=clientAuth\n' >ext && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca "
	         "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
	         "-keyout ca.key -out ca.pem && "
	         "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=client.test/O=Ringgate "
	         "-keyout client.key -out client.csr && "
	         "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext "
	         "-out client.pem && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca "
	         "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
	         "-keyout rogueca.key -out rogueca.pem && "
	         "openssl x509 -req -in client.csr -CA rogueca.pem -CAkey rogueca.key -CAcreateserial -days 2 "
	         "-extfile ext -out rogue.pem && cp client.key rogue.key && "
	         "openssl x509 -noout -fingerprint -sha256 -in client.pem >client.fp) >/dev/null 2>&1",
	         dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(client_pem, sizeof(client_pem), "%s/client.pem", dir);
	snprintf(client_key, sizeof(client_key), "%s/client.key", dir);
	snprintf(rogue_pem, sizeof(rogue_pem), "%s/rogue.pem", dir);
	snprintf(rogue_key, sizeof(rogue_key), "%s/rogue.key", dir);
	snprintf(cmd, sizeof(cmd), "%s/client.fp", dir);
	FILE *f = fopen(cmd, "r");
	char line[256] = "";
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	const char *p = strchr(line, '=');
	for (int i = 0; p && i < 32; i++, p += 3) {
		unsigned v;
		if (sscanf(p + 1, "%2x", &v) != 1)
			return -1;
		client_sha[i] = (uint8_t)v;
	}
	return p ? 0 : -1;
}

static void check_peer(struct hs *h, bool want, const char *what)
{
	char subj[256] = "";
	uint8_t sha[32] = {0};
	int rv = tls_tcp_peer_cert(h->t, subj, sizeof(subj), sha);
	if (!want) {
		CHECK(rv == -ENOENT, "%s: no client certificate, got %d", what, rv);
		return;
	}
	CHECK(rv == 0, "%s: peer_cert %d", what, rv);
	CHECK(!strcmp(subj, "O=Ringgate,CN=client.test"), "%s: subject '%s'", what, subj);
	CHECK(!memcmp(sha, client_sha, 32), "%s: SHA-256 of the client certificate", what);
	char small[8];
	CHECK(tls_tcp_peer_cert(h->t, small, sizeof(small), sha) == 0 && !strcmp(small, "O=Ringg"), "%s: cut '%s'",
	      what, small);
}

/* client_auth = require (mtls.test) and optional (opt.test), issue 9 §3 */
static void test_client_cert(struct tls_tcp_server *s)
{
	struct tls_tcp_counters before = ctr;
	for (int v12 = 0; v12 < 2; v12++) {
		struct hs h = run(s, &(struct cli_opts){.sni = "mtls.test", .alpn = "h2", .tls12 = v12,
		                                        .cert = client_pem, .key = client_key});
		CHECK(h.sr == 0 && h.cr == 0, "require + good certificate (tls12 %d): %d %d", v12, h.sr, h.cr);
		check_peer(&h, true, v12 ? "require, TLS 1.2" : "require, TLS 1.3");
		done(&h);
	}
	CHECK(ctr.client_cert_refused == before.client_cert_refused, "nothing refused yet");

	for (int v12 = 0; v12 < 2; v12++) {
		before = ctr;
		struct hs h = run(s, &(struct cli_opts){.sni = "mtls.test", .tls12 = v12});
		CHECK(h.sr == -EPROTO, "require + no certificate refused (tls12 %d): %d", v12, h.sr);
		CHECK(ctr.client_cert_refused == before.client_cert_refused + 1, "refusal counted (tls12 %d)", v12);
		CHECK(ctr.handshake_failures == before.handshake_failures + 1, "failure counted");
		done(&h);
		before = ctr;
		h = run(s, &(struct cli_opts){.sni = "mtls.test", .tls12 = v12, .cert = rogue_pem, .key = rogue_key});
		CHECK(h.sr == -EPROTO, "require + rogue certificate refused (tls12 %d): %d", v12, h.sr);
		CHECK(ctr.client_cert_refused == before.client_cert_refused + 1, "rogue refusal counted");
		done(&h);
	}

	struct hs h = run(s, &(struct cli_opts){.sni = "opt.test"});
	CHECK(h.sr == 0 && h.cr == 0, "optional + no certificate: served %d", h.sr);
	check_peer(&h, false, "optional, none");
	done(&h);
	h = run(s, &(struct cli_opts){.sni = "opt.test", .cert = client_pem, .key = client_key});
	CHECK(h.sr == 0, "optional + good certificate %d", h.sr);
	check_peer(&h, true, "optional");
	done(&h);
	before = ctr;
	h = run(s, &(struct cli_opts){.sni = "opt.test", .cert = rogue_pem, .key = rogue_key});
	CHECK(h.sr == -EPROTO, "optional + rogue certificate refused %d", h.sr);
	CHECK(ctr.client_cert_refused == before.client_cert_refused + 1, "optional rogue counted");
	done(&h);
	h = run(s, &(struct cli_opts){.sni = "a.test", .cert = client_pem, .key = client_key});
	CHECK(h.sr == 0, "client_auth off %d", h.sr);
	check_peer(&h, false, "off: not asked");
	done(&h);

	/* resumption keeps the verified certificate; a ticket from a vhost
	 * without client_auth never opens mtls.test without one */
	for (int v12 = 0; v12 < 2; v12++) {
		struct cli_opts o = {.sni = "mtls.test", .alpn = "h2", .tls12 = v12, .cert = client_pem, .key = client_key};
		h = run(s, &o);
		ping_pong(&h);
		size_t tlen = 0;
		uint8_t *ticket = cli_session(h.c, &tlen);
		done(&h);
		o.session = ticket;
		o.session_len = tlen;
		h = run(s, &o);
		CHECK(h.sr == 0 && tls_tcp_resumed(h.t), "mtls resumed (tls12 %d): %d", v12, h.sr);
		check_peer(&h, true, "resumed");
		done(&h);
		free(ticket);

		o = (struct cli_opts){.sni = "a.test", .alpn = "h2", .tls12 = v12};
		h = run(s, &o);
		ping_pong(&h);
		ticket = cli_session(h.c, &tlen);
		done(&h);
		o = (struct cli_opts){.sni = "mtls.test", .alpn = "h2", .tls12 = v12, .session = ticket, .session_len = tlen};
		h = run(s, &o);
		CHECK(h.sr != 0, "a.test's ticket without a certificate: refused on mtls.test (tls12 %d) %d", v12, h.sr);
		done(&h);
		o.cert = client_pem;
		o.key = client_key;
		h = run(s, &o);
		CHECK(h.sr != 0 || tls_tcp_peer_cert(h.t, (char[8]){0}, 8, (uint8_t[32]){0}) == 0,
		      "a.test's ticket on mtls.test: served only with a verified certificate (tls12 %d)", v12);
		done(&h);
		free(ticket);
	}
}

/* pq = require (OpenSSL build): a client without a hybrid group is refused */
static void test_pq(struct tls_tcp_server *s)
{
	struct tls_tcp_counters before = ctr;
	struct hs h = run(s, &(struct cli_opts){.sni = "pq.test", .groups = "X25519:secp256r1"});
	CHECK(h.sr == -EPROTO, "classical client refused %d", h.sr);
	CHECK(cli_alert(h.c) == 40, "handshake_failure alert, got %d", cli_alert(h.c));
	CHECK(ctr.pq_refused == before.pq_refused + 1, "pq_refused counted");
	done(&h);
	h = run(s, &(struct cli_opts){.sni = "pq.test", .alpn = "h2"});
	CHECK(h.sr == 0 && h.cr == 0, "hybrid client %d %d", h.sr, h.cr);
	CHECK(tls_tcp_group(h.t) == TLS_GI_X25519MLKEM768, "group %s", tls_group_label(tls_tcp_group(h.t)));
	CHECK(ctr.groups[TLS_GI_X25519MLKEM768] == before.groups[TLS_GI_X25519MLKEM768] + 1, "hybrid counted");
	done(&h);
	h = run(s, &(struct cli_opts){.sni = "pq.test", .tls12 = true});
	CHECK(h.sr == -EPROTO, "TLS 1.2 on a pq = require vhost refused %d", h.sr);
	done(&h);
	/* the other vhosts still take a classical client */
	h = run(s, &(struct cli_opts){.sni = "a.test", .groups = "X25519"});
	CHECK(h.sr == 0 && tls_tcp_group(h.t) == TLS_GI_X25519, "classical on a.test %d", h.sr);
	done(&h);
}

/* A client that asked for 512-byte records: a write of many records
 * still never overruns the output ring, and every byte arrives. */
static void test_small_records(struct tls_tcp_server *s)
{
	enum { N = 200000 };
	static uint8_t src[N], back[N];
	for (size_t i = 0; i < N; i++)
		src[i] = (uint8_t)(i * 13 + 5);
	for (int v12 = 0; v12 < 2; v12++) {
		struct hs h = run(s, &(struct cli_opts){.sni = "a.test", .tls12 = v12, .small_records = true});
		CHECK(h.sr == 0 && h.cr == 0, "small records handshake (tls12 %d) %d %d", v12, h.sr, h.cr);
		size_t sent = 0, got = 0;
		for (int i = 0; i < 100000 && got < N; i++) {
			if (sent < N) {
				ssize_t w = tls_tcp_write(h.t, &(struct iovec){src + sent, N - sent}, 1);
				CHECK(w > 0 || w == -EAGAIN, "write %zd", w);
				if (w > 0)
					sent += (size_t)w;
			}
			CHECK(tls_tcp_output_pending(h.t) <= 16384 + 1024, "ring bound");
			/* part of the ring: the next write has room for a few records */
			xfer(h.c, h.t, i % 3 ? 3001 : 10007);
			ssize_t n;
			while ((n = cli_read(h.c, back + got, N - got)) > 0) {
				CHECK(n <= 512, "record of %zd bytes", n);
				got += (size_t)n;
			}
		}
		CHECK(got == N && !memcmp(src, back, N), "small records: %zu of %d intact", got, N);
		done(&h);
	}
}

static void test_truncation_garbage(struct tls_tcp_server *s)
{
	uint8_t b[64];
	struct hs h = run(s, &(struct cli_opts){.sni = "a.test"});
	CHECK(h.sr == 0, "handshake");
	ping_pong(&h);
	/* a full output ring: a short write, then -EAGAIN until written */
	static uint8_t lots[100000];
	ssize_t w1 = tls_tcp_write(h.t, &(struct iovec){lots, sizeof(lots)}, 1);
	CHECK(w1 > 0 && w1 < (ssize_t)sizeof(lots), "short write %zd", w1);
	CHECK(tls_tcp_write(h.t, &(struct iovec){lots, sizeof(lots)}, 1) == -EAGAIN, "full: -EAGAIN");
	struct iovec ov[2];
	CHECK(tls_tcp_output(h.t, ov, 2) >= 1 && tls_tcp_output_pending(h.t) > (size_t)w1, "records pending");
	tls_tcp_output_sent(h.t, tls_tcp_output_pending(h.t));
	CHECK(tls_tcp_write(h.t, &(struct iovec){lots, 10}, 1) == 10, "room again");
	tls_tcp_input_end(h.t);
	CHECK(tls_tcp_read(h.t, b, sizeof(b)) == -ECONNRESET, "end without close_notify: -ECONNRESET");
	done(&h);

	/* garbage instead of a ClientHello */
	struct tls_tcp_counters before = ctr;
	struct tls_tcp *t = session(s);
	static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(tls_tcp_input(t, junk, sizeof(junk) - 1) == 0, "input");
	CHECK(tls_tcp_handshake(t) == -EPROTO, "garbage -> -EPROTO");
	CHECK(tls_tcp_handshake(t) == -EPROTO, "stays failed");
	CHECK(ctr.handshake_failures == before.handshake_failures + 1, "failure counted");
	tls_tcp_free(t);

	/* garbage after the handshake: a bad record */
	h = run(s, &(struct cli_opts){.sni = "a.test"});
	uint8_t rec[64] = {23, 3, 3, 0, 40};
	memset(rec + 5, 0xab, 40);
	CHECK(tls_tcp_input(h.t, rec, 45) == 0, "input");
	CHECK(tls_tcp_read(h.t, b, sizeof(b)) == -EPROTO, "bad record -> -EPROTO");
	done(&h);

	/* more than the room is refused */
	t = session(s);
	size_t room = tls_tcp_input_room(t);
	uint8_t *big = calloc(1, room + 1);
	CHECK(room >= 16384 + 256 + 5, "room for one record %zu", room);
	CHECK(tls_tcp_input(t, big, room + 1) == -ENOBUFS, "over the room: -ENOBUFS");
	free(big);
	/* the peer leaves mid-handshake */
	tls_tcp_input_end(t);
	CHECK(tls_tcp_handshake(t) == -ECONNRESET, "end in the handshake: -ECONNRESET");
	tls_tcp_free(t);
}

int main(void)
{
	if (!mkdtemp(dir) || make_cert("a.test", 0) || make_cert("b.test", 0) || make_cert("big.test", 500)) {
		fprintf(stderr, "test_tcp: cannot make certificates with openssl req in %s\n", dir);
		return 1;
	}
	char ca[256], ka[256], cb[256], kb[256], cbig[256], kbig[256];
	snprintf(cbig, sizeof(cbig), "%s/big.test.pem", dir);
	snprintf(kbig, sizeof(kbig), "%s/big.test.key", dir);
	snprintf(ca, sizeof(ca), "%s/a.test.pem", dir);
	snprintf(ka, sizeof(ka), "%s/a.test.key", dir);
	snprintf(cb, sizeof(cb), "%s/b.test.pem", dir);
	snprintf(kb, sizeof(kb), "%s/b.test.key", dir);
	char cacert[256];
	snprintf(cacert, sizeof(cacert), "%s/ca.pem", dir);
	if (make_client_certs()) {
		fprintf(stderr, "test_tcp: cannot make the client certificates in %s\n", dir);
		return 1;
	}
	struct tls_vhost_params vp[6] = {
		{.name = "a.test", .cert_file = ca, .key_file = ka},
		{.name = "b.test", .cert_file = cb, .key_file = kb, .groups = "secp384r1"},
		{.name = "big.test", .cert_file = cbig, .key_file = kbig},
		{.name = "mtls.test", .cert_file = ca, .key_file = ka, .client_ca = cacert,
		 .client_auth = TLS_CLIENT_AUTH_REQUIRE},
		{.name = "opt.test", .cert_file = ca, .key_file = ka, .client_ca = cacert,
		 .client_auth = TLS_CLIENT_AUTH_OPTIONAL},
		{.name = "pq.test", .cert_file = ca, .key_file = ka, .pq = TLS_PQ_REQUIRE},
	};
	bool pq = tls_pq_available();
	struct tls_vhost_set *bad_set = NULL;
	struct tls_vhost_params no_ca = {.name = "x", .cert_file = ca, .key_file = ka,
	                                 .client_auth = TLS_CLIENT_AUTH_REQUIRE};
	CHECK(tls_vset_load(&no_ca, 1, &bad_set) == -EINVAL, "client_auth without client_ca: -EINVAL");
	no_ca.client_ca = "/nonexistent/ca.pem";
	CHECK(tls_vset_load(&no_ca, 1, &bad_set) == -ENOENT, "a missing client_ca: -ENOENT");
	int rv = tls_vset_load(vp, pq ? 6 : 5, &vset);
	CHECK(rv == 0, "vset_load %d", rv);
	if (rv)
		return check_report("tls_tcp");
	for (int i = 0; i < 64; i++) {
		key1[i] = (uint8_t)i;
		key2[i] = (uint8_t)(i + 100);
	}
	local.in4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(443),
	                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cli_global_init();

	struct tls_tcp_server *s = server(key1, 0);
	struct tls_tcp_params bad = {.vset = vset, .ticket_key = key1};
	struct tls_tcp_server *x = NULL;
	CHECK(tls_tcp_server_new(&bad, &x) == -EINVAL, "no counters: -EINVAL");

	test_versions_sni_alpn(s);
	test_big_flight(s);
	test_resume(s, false);
	test_resume(s, true);
	test_echo(s);
	test_client_cert(s);
	test_small_records(s);
	if (pq)
		test_pq(s);
	else
		printf("tls_tcp: %s has no hybrid group: pq = require not tested here\n", tls_backend());
	test_truncation_garbage(s);
	tls_tcp_server_put(s);
	tls_vset_put(vset);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_tcp: could not remove %s\n", dir);
	return check_report("tls_tcp");
}
