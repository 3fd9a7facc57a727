/* test_genbuild: control/genbuild.c, the pure generation builder.
 *
 * Configurations are parsed from strings by the project's ini loader;
 * certificates are made by crypto/tls_certgen.c in a temporary directory.
 * Checked: the vhosts' credentials are loaded (each vhost's own chain),
 * the routes and the tunnel's allowed IPs, the peers with their
 * static-static DH (against an independent X25519), the reuse of the
 * previous generation's DH for unchanged peers and not for changed ones
 * nor under a new private key, warnings through the diag callback only,
 * failures (-ENOENT, -EINVAL; run under ASan: nothing leaks), and that
 * two builds of one configuration are equal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gnutls/gnutls.h>

#include "control/genbuild.h"
#include "crypto/tls_certgen.h"
#include "crypto/wgkey.h"
#include "crypto/x25519.h"
#include "datapath/proxy/route.h"
#include "datapath/quic/internal.h" /* quic_replay_acquire */
#include "datapath/quic/quic.h"
#include "datapath/tunnel/allowedips.h"
#include "ini/config.h"
#include "tests/check.h"

static char dir[256];
static char priv_b64[2][WGKEY_B64_LEN + 1]; /* two tunnel private keys */
static uint8_t peer_pub[3][WGKEY_LEN];
static char peer_b64[3][WGKEY_B64_LEN + 1];

static void die(const char *what)
{
	fprintf(stderr, "test_genbuild: %s\n", what);
	exit(2);
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void put_file(const char *name, const char *text, mode_t mode)
{
	char p[512];
	path_of(p, sizeof(p), name);
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		die("write fixture");
	chmod(p, mode);
}

static void fixtures(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/rg-genbuild-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	char c[512], k[512];
	static const char *const a_names[] = {"a.example"}, *const b_names[] = {"b.example"};
	path_of(c, sizeof(c), "a.pem");
	path_of(k, sizeof(k), "a.key");
	if (tls_certgen(a_names, 1, c, k))
		die("certgen a");
	path_of(c, sizeof(c), "b.pem");
	path_of(k, sizeof(k), "b.key");
	if (tls_certgen(b_names, 1, c, k))
		die("certgen b");
	/* fixed keys: the run is the same every time */
	for (unsigned i = 0; i < 2; i++) {
		uint8_t priv[WGKEY_LEN];
		memset(priv, 0x40 + (int)i, sizeof(priv));
		crypto_x25519_clamp(priv);
		if (wgkey_to_base64(priv, priv_b64[i]))
			die("base64");
		char line[WGKEY_B64_LEN + 2]; /* the key and a newline */
		memcpy(line, priv_b64[i], WGKEY_B64_LEN);
		line[WGKEY_B64_LEN] = '\n';
		line[WGKEY_B64_LEN + 1] = 0;
		put_file(i ? "t1.key" : "t0.key", line, 0600);
	}
	for (unsigned i = 0; i < 3; i++) {
		uint8_t priv[WGKEY_LEN];
		memset(priv, 0x10 + (int)i, sizeof(priv));
		crypto_x25519_clamp(priv);
		if (crypto_x25519_public(peer_pub[i], priv) || wgkey_to_base64(peer_pub[i], peer_b64[i]))
			die("peer key");
	}
}

static void cleanup(void)
{
	static const char *const names[] = {"a.pem", "a.key", "b.pem", "b.key", "t0.key", "t1.key"};
	char p[512];
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_of(p, sizeof(p), names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* The configuration: [quic] with two vhosts (b bound to an iface: a
 * warning), a route, a tunnel with private key file `tkey` and the peers
 * named by `peers` (indexes into peer_b64; peer p<i> allows 10.8.0.<i+2>/32
 * and fd00::<i+2>/128). */
static struct rg_config *load(const char *tkey, const unsigned *peers, unsigned n_peers)
{
	char text[4096];
	int n = snprintf(text, sizeof(text),
	                 "[quic]\n"
	                 "listen = 127.0.0.1:4433, iface lo:4433\n"
	                 "[vhost a.example]\n"
	                 "cert = %s/a.pem\n"
	                 "key = %s/a.key\n"
	                 "[vhost b.example]\n"
	                 "cert = %s/b.pem\n"
	                 "key = %s/b.key\n"
	                 "listen = iface lo:4433\n"
	                 "[backend web]\n"
	                 "server = 127.0.0.1:8080\n"
	                 "[route api]\n"
	                 "host = a.example\n"
	                 "path_prefix = /api/\n"
	                 "backend = web\n"
	                 "[tunnel]\n"
	                 "listen = 127.0.0.1:51820\n"
	                 "private_key_file = %s/%s\n",
	                 dir, dir, dir, dir, dir, tkey);
	for (unsigned i = 0; i < n_peers; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		              "[peer p%u]\npublic_key = %s\nallowed_ips = 10.8.0.%u/32, fd00::%u/128\n", peers[i],
		              peer_b64[peers[i]], peers[i] + 2, peers[i] + 2);
	if (n >= (int)sizeof(text))
		die("config too long");
	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	int r = ini_config_load_string("gen.ini", text, &c, &d);
	if (r || !c) {
		ini_diag_print(&d, stderr);
		die("config does not load");
	}
	ini_diag_free(&d);
	return c;
}

struct diag_log {
	unsigned n;
	char last[512];
};

static void diag_cb(void *ctx, enum log_level level, const char *msg)
{
	struct diag_log *l = ctx;
	(void)level;
	if (!l)
		return;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

static int build(const struct rg_config *c, const struct worker_gen *prev, struct diag_log *dl, struct worker_gen **out)
{
	struct gen_build_in in = {.prev = prev, .n_workers = 2, .diag = {.fn = diag_cb, .ctx = dl}};
	return gen_build(c, &in, out);
}

/* The DER of the first certificate of a PEM file. */
static int file_der(const char *name, gnutls_datum_t *der)
{
	char p[512];
	gnutls_datum_t pem = {0};
	path_of(p, sizeof(p), name);
	if (gnutls_load_file(p, &pem) < 0)
		return -1;
	int r = gnutls_pem_base64_decode2("CERTIFICATE", &pem, der);
	gnutls_free(pem.data);
	return r < 0 ? -1 : 0;
}

/* Does vhost i of the generation serve the chain of PEM file `name`? */
static bool serves(const struct worker_gen *wg, unsigned i, const char *name)
{
	gnutls_datum_t want = {0};
	uint8_t *got = NULL;
	size_t got_len = 0;
	if (file_der(name, &want) || tls_vset_leaf_der(wg->quic.vset, i, &got, &got_len))
		return false;
	bool ok = got_len == want.size && !memcmp(got, want.data, want.size);
	gnutls_free(want.data);
	free(got);
	return ok;
}

static const struct tunnel_peer_config *route_of(const struct worker_gen *wg, const char *ip)
{
	struct tunnel_ip t = {0};
	t.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(t.family, ip, t.bytes) != 1)
		return NULL;
	return wg->tunnel_routes ? allowedips_lookup(wg->tunnel_routes, &t) : NULL;
}

static const struct tunnel_peer_config *peer_of(const struct worker_gen *wg, unsigned k)
{
	for (unsigned i = 0; i < wg->n_tunnel_peers; i++)
		if (!memcmp(wg->tunnel_peers[i].public_key, peer_pub[k], WGKEY_LEN))
			return &wg->tunnel_peers[i];
	return NULL;
}

/* The DH a peer must carry under tunnel key file t<i>. */
static void dh_want(unsigned tkey, unsigned k, uint8_t out[32])
{
	uint8_t priv[WGKEY_LEN];
	memset(priv, 0x40 + (int)tkey, sizeof(priv));
	crypto_x25519_clamp(priv);
	if (crypto_x25519_shared(out, priv, peer_pub[k]))
		die("x25519");
}

static void test_build(void)
{
	static const unsigned peers[] = {0, 1};
	struct rg_config *c = load("t0.key", peers, 2);
	struct diag_log dl = {0};
	struct worker_gen *wg = NULL;
	int r = build(c, NULL, &dl, &wg);
	CHECK(r == 0 && wg, "build (r=%d)", r);
	if (!wg) {
		ini_config_free(c);
		return;
	}
	/* vhosts: names and each its own certificate, loaded once here */
	CHECK(wg->n_quic_vhosts == 2 && wg->quic.n_vhosts == 2, "two vhosts (%u)", wg->n_quic_vhosts);
	CHECK(wg->quic.vset && quic_vset_count(wg->quic.vset) == 2, "credentials loaded");
	if (wg->quic.vset && quic_vset_count(wg->quic.vset) == 2) {
		CHECK(!strcmp(quic_vset_name(wg->quic.vset, 0), "a.example") &&
		      !strcmp(quic_vset_name(wg->quic.vset, 1), "b.example"), "vhost names in order");
		CHECK(serves(wg, 0, "a.pem"), "a.example serves a.pem");
		CHECK(serves(wg, 1, "b.pem"), "b.example serves b.pem");
		CHECK(!serves(wg, 0, "b.pem"), "and not b.pem");
	}
	CHECK(wg->quic_vhosts && wg->quic_vhosts[1].n_listen == 2, "iface lo:4433 is port 4433 on both families");
	/* the one warning went to diag (iface-bound vhost), nowhere else */
	CHECK(dl.n == 1 && strstr(dl.last, "[vhost b.example] listen = iface lo:4433"), "diag: %u '%s'", dl.n,
	      dl.last);
	/* routes */
	CHECK(wg->proxy && wg->proxy->n_routes == 1 && wg->proxy->n_workers == 2, "one route, two workers' slots");
	if (wg->proxy) {
		CHECK(proxy_route_match(wg->proxy, "a.example", "/api/x") == 0, "route a.example/api/");
		CHECK(proxy_route_match(wg->proxy, "a.example", "/other") == -1, "no route for /other");
		CHECK(proxy_route_match(wg->proxy, "b.example", "/api/x") == -1, "no route for b.example");
	}
	/* peers: sorted, each with the DH of our key and theirs */
	CHECK(wg->n_tunnel_peers == 2, "two peers (%u)", wg->n_tunnel_peers);
	if (wg->n_tunnel_peers == 2)
		CHECK(memcmp(wg->tunnel_peers[0].public_key, wg->tunnel_peers[1].public_key, 32) < 0, "sorted by key");
	for (unsigned k = 0; k < 2; k++) {
		const struct tunnel_peer_config *p = peer_of(wg, k);
		uint8_t want[32];
		dh_want(0, k, want);
		CHECK(p && p->has_static_static && !memcmp(p->static_static, want, 32), "peer %u's DH", k);
		CHECK(p && p->n_allowed_ips == 2, "peer %u's allowed IPs", k);
	}
	/* allowed IPs -> peer */
	CHECK(route_of(wg, "10.8.0.2") == peer_of(wg, 0) && peer_of(wg, 0), "10.8.0.2 -> p0");
	CHECK(route_of(wg, "fd00::3") == peer_of(wg, 1) && peer_of(wg, 1), "fd00::3 -> p1");
	CHECK(route_of(wg, "10.8.0.9") == NULL, "10.8.0.9 -> nobody");
	gen_build_free(wg);
	ini_config_free(c);
}

/* The previous generation's DH is taken for the peers it has, computed for
 * the others, and not taken under another private key. A marker in the
 * previous generation's DH tells reuse from recomputation. */
static void test_dh_reuse(void)
{
	static const unsigned old_peers[] = {0, 1}, new_peers[] = {1, 2};
	struct rg_config *c0 = load("t0.key", old_peers, 2);
	struct rg_config *c1 = load("t0.key", new_peers, 2);
	struct rg_config *c2 = load("t1.key", new_peers, 2);
	struct worker_gen *g0 = NULL, *g1 = NULL, *g2 = NULL;
	int r = build(c0, NULL, NULL, &g0);
	CHECK(r == 0, "first build (r=%d)", r);
	struct tunnel_peer_config *p1 = g0 ? (struct tunnel_peer_config *)peer_of(g0, 1) : NULL;
	CHECK(p1 != NULL, "p1 in the first generation");
	if (!p1)
		goto out;
	memset(p1->static_static, 0xAB, 32); /* the marker */
	r = build(c1, g0, NULL, &g1);
	CHECK(r == 0 && g1, "second build (r=%d)", r);
	if (!g1)
		goto out;
	uint8_t marker[32], want[32];
	memset(marker, 0xAB, sizeof(marker));
	const struct tunnel_peer_config *q1 = peer_of(g1, 1), *q2 = peer_of(g1, 2);
	CHECK(q1 && q1->has_static_static && !memcmp(q1->static_static, marker, 32), "unchanged peer: DH reused");
	dh_want(0, 2, want);
	CHECK(q2 && q2->has_static_static && !memcmp(q2->static_static, want, 32), "new peer: DH computed");
	CHECK(!peer_of(g1, 0), "removed peer gone");
	/* a new private key: nothing from g0 is valid */
	r = build(c2, g0, NULL, &g2);
	CHECK(r == 0 && g2, "third build (r=%d)", r);
	if (g2) {
		q1 = peer_of(g2, 1);
		dh_want(1, 1, want);
		CHECK(q1 && q1->has_static_static && !memcmp(q1->static_static, want, 32),
		      "new private key: DH computed again, not reused");
	}
out:
	gen_build_free(g2);
	gen_build_free(g1);
	gen_build_free(g0);
	ini_config_free(c2);
	ini_config_free(c1);
	ini_config_free(c0);
}

/* Building twice from one configuration gives equal generations. */
static void test_same(void)
{
	static const unsigned peers[] = {2, 0, 1};
	struct rg_config *c = load("t0.key", peers, 3);
	struct worker_gen *x = NULL, *y = NULL;
	int rx = build(c, NULL, NULL, &x), ry = build(c, NULL, NULL, &y);
	CHECK(rx == 0 && ry == 0 && x && y, "two builds (%d, %d)", rx, ry);
	if (x && y) {
		CHECK(x->n_quic_vhosts == y->n_quic_vhosts && x->quic.idle_timeout_ns == y->quic.idle_timeout_ns &&
		      x->quic.backlog == y->quic.backlog && x->quic.retry == y->quic.retry &&
		      x->quic.zero_rtt == y->quic.zero_rtt && x->quic.anti_port_scan == y->quic.anti_port_scan,
		      "same [quic] settings");
		CHECK(x->quic.vset != y->quic.vset, "each generation has its own credentials");
		for (unsigned i = 0; i < x->n_quic_vhosts && i < y->n_quic_vhosts; i++) {
			CHECK(!strcmp(x->quic_vhosts[i].name, y->quic_vhosts[i].name) &&
			      x->quic_vhosts[i].n_listen == y->quic_vhosts[i].n_listen &&
			      !memcmp(x->quic_vhosts[i].listen, y->quic_vhosts[i].listen,
			              sizeof(rg_sockaddr) * x->quic_vhosts[i].n_listen), "vhost %u", i);
			CHECK(serves(x, i, i ? "b.pem" : "a.pem") && serves(y, i, i ? "b.pem" : "a.pem"), "cert %u", i);
		}
		CHECK(x->n_tunnel_peers == 3 && y->n_tunnel_peers == 3, "three peers");
		for (unsigned i = 0; i < x->n_tunnel_peers && i < y->n_tunnel_peers; i++) {
			const struct tunnel_peer_config *a = &x->tunnel_peers[i], *b = &y->tunnel_peers[i];
			CHECK(!memcmp(a->public_key, b->public_key, 32) && !memcmp(a->psk, b->psk, 32) &&
			      a->has_psk == b->has_psk && !memcmp(a->static_static, b->static_static, 32) &&
			      a->has_static_static == b->has_static_static && a->n_allowed_ips == b->n_allowed_ips &&
			      !memcmp(a->allowed_ips, b->allowed_ips, sizeof(*a->allowed_ips) * a->n_allowed_ips) &&
			      !memcmp(&a->endpoint, &b->endpoint, sizeof(a->endpoint)) &&
			      a->persistent_keepalive == b->persistent_keepalive,
			      "peer %u equal", i);
		}
		static const char *const ips[] = {"10.8.0.2", "10.8.0.3", "10.8.0.4", "fd00::4", "10.8.0.5"};
		for (unsigned i = 0; i < 5; i++) {
			const struct tunnel_peer_config *a = route_of(x, ips[i]), *b = route_of(y, ips[i]);
			CHECK((!a && !b) || (a && b && a - x->tunnel_peers == b - y->tunnel_peers), "route %s", ips[i]);
		}
		CHECK(x->proxy && y->proxy && x->proxy->n_routes == y->proxy->n_routes &&
		      x->proxy->n_backends == y->proxy->n_backends && x->proxy->n_servers == y->proxy->n_servers,
		      "same proxy conf");
	}
	gen_build_free(x);
	gen_build_free(y);
	ini_config_free(c);
}

/* A certificate that went bad between the load and the build (the loader
 * checked it): the build fails with the error and leaves nothing behind
 * (LeakSanitizer checks at exit). */
static void test_fail(void)
{
	static const unsigned peers[] = {0};
	struct rg_config *c = load("t0.key", peers, 1);
	struct worker_gen *wg = (struct worker_gen *)&wg; /* not NULL: must be reset */
	char p[512], saved[512];
	path_of(p, sizeof(p), "b.key");
	path_of(saved, sizeof(saved), "b.key.saved");
	if (rename(p, saved))
		die("rename");
	struct diag_log dl = {0};
	int r = build(c, NULL, &dl, &wg);
	CHECK(r == -ENOENT && wg == NULL, "missing key: -ENOENT (r=%d)", r);
	CHECK(dl.n == 1 && strstr(dl.last, "gen.ini:6: [vhost b.example] cert ") && strstr(dl.last, "cannot read"),
	      "the failing vhost named at its line: '%s'", dl.last);
	put_file("b.key", "not a key\n", 0600);
	wg = (struct worker_gen *)&wg;
	r = build(c, NULL, NULL, &wg);
	CHECK(r == -EINVAL && wg == NULL, "garbage key: -EINVAL (r=%d)", r);
	/* another vhost's key: does not match the certificate */
	char a_key[512];
	path_of(a_key, sizeof(a_key), "a.key");
	unlink(p);
	if (link(a_key, p))
		die("link");
	r = build(c, NULL, NULL, &wg);
	CHECK(r == -EINVAL && wg == NULL, "mismatched key: -EINVAL (r=%d)", r);
	unlink(p);
	if (rename(saved, p))
		die("rename back");
	r = build(c, NULL, NULL, &wg);
	CHECK(r == 0 && wg, "good again (r=%d)", r);
	gen_build_free(wg);
	ini_config_free(c);
}

/* A deterministic source that counts its calls. */
static int rng_fill(void *ctx, void *buf, size_t n)
{
	unsigned *calls = ctx;
	memset(buf, 0x5a + (int)(*calls)++, n);
	return 0;
}

/* The workers' servers take the generation's credentials and read no
 * file: with the certificate files gone, a server is still created and
 * reloaded from generations built while they were there; the credentials
 * outlive the generation as long as a server holds them (LeakSanitizer:
 * and are freed with the last). The server draws its randomness from
 * quic_params.rng. */
static void test_worker_creds(void)
{
	static const unsigned peers[] = {0};
	struct rg_config *c = load("t0.key", peers, 1);
	struct worker_gen *g1 = NULL, *g2 = NULL;
	int r = build(c, NULL, NULL, &g1);
	if (!r)
		r = build(c, g1, NULL, &g2);
	CHECK(r == 0 && g1 && g2, "two builds (r=%d)", r);
	if (!g1 || !g2)
		goto out;
	char pem[512], saved[512];
	path_of(pem, sizeof(pem), "a.pem");
	path_of(saved, sizeof(saved), "a.pem.saved");
	if (rename(pem, saved))
		die("rename");
	static const uint8_t secret[QUIC_STATIC_SECRET_LEN] = {1};
	unsigned calls = 0;
	struct quic_params qp = g1->quic;
	qp.static_secret = secret;
	qp.worker_id = 0;
	qp.n_workers = 1;
	qp.rng = (struct quic_rng){.fill = rng_fill, .ctx = &calls};
	struct quic_server *srv = NULL;
	r = quic_server_create(&qp, &srv);
	CHECK(r == 0 && srv, "server from the generation's credentials, no file read (r=%d)", r);
	CHECK(calls > 0, "randomness from quic_params.rng (%u calls)", calls);
	gen_build_free(g1); /* the server keeps its reference */
	g1 = NULL;
	if (srv) {
		struct quic_params rp = g2->quic;
		r = quic_server_set_params(srv, &rp);
		CHECK(r == 0, "reload from the next generation's credentials (r=%d)", r);
		rp.vset = NULL; /* the files: gone */
		r = quic_server_set_params(srv, &rp);
		CHECK(r == -ENOENT, "without them the files are read, and missing (r=%d)", r);
		quic_server_destroy(srv);
	}
	if (rename(saved, pem))
		die("rename back");
out:
	gen_build_free(g2);
	gen_build_free(g1);
	ini_config_free(c);
}

/* Fake send side: keeps the last datagram. */
struct fake_tx {
	uint8_t buf[2048];
	size_t len;
	unsigned n;
};

static uint8_t *ftx_prep(void *ctx, size_t cap)
{
	struct fake_tx *t = ctx;
	return cap <= sizeof(t->buf) ? t->buf : NULL;
}

static int ftx_commit(void *ctx, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from, size_t len,
                      size_t seg)
{
	struct fake_tx *t = ctx;
	(void)sock, (void)to, (void)from, (void)seg;
	t->len = len;
	t->n++;
	return 0;
}

/* With the randomness passed in, a server's answers are reproducible: two
 * servers seeded alike answer an unknown version with the same Version
 * Negotiation packet, greased version included (RFC 9000 6.3). */
static void test_quic_rng(void)
{
	static const unsigned peers[] = {0};
	struct rg_config *c = load("t0.key", peers, 1);
	struct worker_gen *g = NULL;
	int r = build(c, NULL, NULL, &g);
	CHECK(r == 0 && g, "build (r=%d)", r);
	static const uint8_t secret[QUIC_STATIC_SECRET_LEN] = {2};
	static const struct quic_tx_ops ops = {.prep = ftx_prep, .commit = ftx_commit};
	struct fake_tx out[2] = {0};
	for (unsigned k = 0; g && k < 2; k++) {
		unsigned calls = 0;
		struct quic_params qp = g->quic;
		qp.static_secret = secret;
		qp.n_workers = 1;
		qp.rng = (struct quic_rng){.fill = rng_fill, .ctx = &calls};
		struct quic_server *srv = NULL;
		if (quic_server_create(&qp, &srv)) {
			CHECK(0, "server %u", k);
			continue;
		}
		/* a long header of version 0x1a2a3a4a, padded like an Initial */
		uint8_t pkt[1200] = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9};
		struct ring_dgram d = {.data = pkt, .len = sizeof(pkt)};
		d.peer.in4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(5555),
		                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		d.local.in4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(4433),
		                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		struct quic_tx tx = {.ops = &ops, .ctx = &out[k]};
		quic_server_recv(srv, &d, 1, 1000000000ull, &tx);
		quic_server_destroy(srv);
	}
	CHECK(out[0].n == 1 && out[1].n == 1, "one Version Negotiation each (%u, %u)", out[0].n, out[1].n);
	CHECK(out[0].len == out[1].len && out[0].len > 8 && !memcmp(out[0].buf, out[1].buf, out[0].len),
	      "byte for byte the same");
	/* the versions close the packet: the greased one, then the default
	 * [quic] versions in preference order, QUIC v2 and v1 (issue 18) */
	static const uint8_t tail[12] = {0x5a, 0x5a, 0x5a, 0x5a, 0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 1};
	CHECK(out[0].len >= 12 && !memcmp(out[0].buf + out[0].len - 12, tail, 12),
	      "greased version from the seeded source");
	gen_build_free(g);
	ini_config_free(c);
}

static uint64_t fake_wall(void *ctx)
{
	return *(const uint64_t *)ctx;
}

/* The 0-RTT anti-replay record reads the wall clock it was given, not
 * time(NULL): a ClientHello recorded until t=1010 is a replay at t=1005
 * and new again at t=1011. */
static void test_replay_clock(void)
{
	uint64_t t = 1000;
	struct quic_wall_clock clk = {.now = fake_wall, .ctx = &t};
	void *ar = NULL;
	int r = quic_replay_acquire(&clk, &ar);
	CHECK(r == 0 && ar, "window opened (r=%d)", r);
	if (r)
		return;
	uint8_t k[16] = "client hello 1";
	CHECK(tls_replay_record(k, sizeof(k), 1010) == 0, "first time: new");
	t = 1005;
	CHECK(tls_replay_record(k, sizeof(k), 1010) == -EEXIST, "at 1005: a replay");
	t = 1011;
	CHECK(tls_replay_record(k, sizeof(k), 1020) == 0, "at 1011: expired, new again");
	quic_replay_release();
	CHECK(tls_replay_record(k, sizeof(k), 1030) == -ENOSPC, "no window: refused");
}

/* [appliance] access_log (issue 20): the generation opens the file
 * O_APPEND and closes it when freed (a reload's new generation reopens it:
 * logrotate); a directory that does not exist fails the build with
 * FILE:LINE and the reason; unset, no file. */
static struct rg_config *load_text(const char *text)
{
	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	if (ini_config_load_string("gen.ini", text, &c, &d) || !c) {
		ini_diag_print(&d, stderr);
		die("config does not load");
	}
	ini_diag_free(&d);
	return c;
}

static void test_access_log(void)
{
	char text[1024], p[512];
	path_of(p, sizeof(p), "alog.log");
	snprintf(text, sizeof(text), "[appliance]\naccess_log = %s\n", p);
	struct rg_config *c = load_text(text);
	struct worker_gen *wg = NULL, *wg2 = NULL;
	int r = build(c, NULL, NULL, &wg);
	CHECK(r == 0 && wg && wg->access_log, "access_log opened (r=%d)", r);
	if (!r) {
		int fl = fcntl(wg->access_log_fd, F_GETFL);
		CHECK(fl >= 0 && (fl & O_APPEND) && (fl & O_ACCMODE) == O_WRONLY, "O_WRONLY | O_APPEND: %#x", fl);
		CHECK(access(p, F_OK) == 0, "the file is created");
		/* the next generation (a reload) has its own open file */
		r = build(c, wg, NULL, &wg2);
		CHECK(r == 0 && wg2 && wg2->access_log && wg2->access_log_fd != wg->access_log_fd, "reopened");
		int fd = wg->access_log_fd;
		gen_build_free(wg);
		CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "closed with its generation");
		gen_build_free(wg2);
	}
	unlink(p);
	ini_config_free(c);

	path_of(p, sizeof(p), "no-such-dir/alog.log");
	snprintf(text, sizeof(text), "[appliance]\nworkers = 1\naccess_log = %s\n", p);
	c = load_text(text);
	struct diag_log dl = {0};
	wg = (struct worker_gen *)&wg;
	r = build(c, NULL, &dl, &wg);
	CHECK(r == -ENOENT && wg == NULL, "missing directory: -ENOENT (r=%d)", r);
	CHECK(dl.n == 1 && strstr(dl.last, "gen.ini:3: [appliance] access_log = ") &&
	              strstr(dl.last, "No such file or directory"),
	      "FILE:LINE and why: '%s'", dl.last);
	ini_config_free(c);

	c = load_text("[appliance]\naccess_log =\n");
	r = build(c, NULL, NULL, &wg);
	CHECK(r == 0 && wg && !wg->access_log, "empty: off");
	gen_build_free(wg);
	ini_config_free(c);
}

int main(void)
{
	if (gnutls_global_init() < 0)
		die("gnutls");
	fixtures();
	test_build();
	test_dh_reuse();
	test_same();
	test_fail();
	test_worker_creds();
	test_quic_rng();
	test_replay_clock();
	test_access_log();
	cleanup();
	gnutls_global_deinit();
	return check_report("genbuild");
}
