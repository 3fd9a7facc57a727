/* tunnelbench: the tunnel engine's handshake cost and session memory, on
 * one thread, without I/O (the engine is sans-IO, so this is the CPU a
 * worker spends; sockets come on top and are measured by the ring suite).
 *
 *   tunnelbench handshakes N   N distinct clients, each with its own key and
 *       source address, initiate to one responder. Timed on the responder
 *       alone (CLOCK_THREAD_CPUTIME_ID around tunnel_engine_recv):
 *         plain_no_precompute  initiations answered with a response (the
 *                 full Noise responder: 4 DH, the authorization lookup, a
 *                 peer and a session),
 *         plain   the same with the static-static DH taken from the peer's
 *                 config, as ringgate's control thread precomputes it
 *                 (3 DH per handshake): what a worker does,
 *         cookie  the same initiations under load, without mac2: answered
 *                 with a cookie reply (no DH: what load shedding costs),
 *         mac2    initiations carrying a valid mac2 under load: checked and
 *                 answered like plain.
 *   tunnelbench memory N       a responder with capacity N, N clients
 *       complete a handshake and send one data packet each (which
 *       confirms the responder's keypair), then sit idle: the responder's
 *       resident memory per session (process RSS measured around its own
 *       work only, after one warm-up handshake paid the crypto libraries'
 *       one-time set-up) and its heap reserved per session (calloc'd
 *       capacity, most of it never touched: the pools of pool.h); then
 *       what those idle sessions cost a worker's loop turn (the next
 *       deadline, and firing timers when none is due).
 * Prints one JSON object per measurement. */
#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/util.h"
#include "datapath/tunnel/engine.h"

#define DGRAM_MAX 256 /* handshake messages only: data is counted, not kept */

struct client {
	struct tunnel_engine e;
	struct tunnel_peer_config server;
	struct allowedips_prefix ip;
	rg_sockaddr addr;
	uint8_t msg[DGRAM_MAX];
	size_t len;
};

static struct tunnel_peer_config *auth;       /* the responder's authorized clients, sorted */
static struct allowedips_prefix *auth_ips;
static unsigned n_auth;
static rg_sockaddr server_addr;
static uint8_t reply[DGRAM_MAX];
static size_t reply_len;
static uint64_t now = 1000 * NS_PER_SEC, wall = 1700000000ULL * NS_PER_SEC;
/* Fake time between two messages fed to the responder: 2 ms keeps it under
 * its load threshold (1,000 handshakes/s) unless a case forces load. */
static const uint64_t step_ns = 2 * NS_PER_SEC / 1000;

static uint64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct tunnel_peer_config *)a)->public_key,
	              ((const struct tunnel_peer_config *)b)->public_key, NOISE_PUBLIC_KEY_LEN);
}

static const struct tunnel_peer_config *server_auth(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN], uint64_t t)
{
	(void)ctx, (void)t;
	struct tunnel_peer_config k;
	memcpy(k.public_key, key, NOISE_PUBLIC_KEY_LEN);
	return bsearch(&k, auth, n_auth, sizeof(*auth), key_cmp);
}

static const struct tunnel_peer_config *client_auth(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN], uint64_t t)
{
	struct client *c = ctx;
	(void)t;
	return memcmp(key, c->server.public_key, NOISE_PUBLIC_KEY_LEN) ? NULL : &c->server;
}

/* The client's output: keep its last handshake message. */
static void client_send(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from, const uint8_t *b,
                        size_t len)
{
	(void)sock;
	struct client *c = ctx;
	(void)to, (void)from;
	if (len <= DGRAM_MAX) {
		memcpy(c->msg, b, len);
		c->len = len;
	}
}

/* The responder's output: keep the last reply. */
static void server_send(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from, const uint8_t *b,
                        size_t len)
{
	(void)sock;
	(void)ctx, (void)to, (void)from;
	if (len <= DGRAM_MAX) {
		memcpy(reply, b, len);
		reply_len = len;
	}
}

static void deliver(void *ctx, struct tunnel_peer *p, const uint8_t *b, size_t len)
{
	(void)ctx, (void)p, (void)b, (void)len;
}

static rg_sockaddr addr4(uint32_t ip, uint16_t port)
{
	rg_sockaddr a;
	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	a.in4.sin_port = htons(port);
	a.in4.sin_addr.s_addr = htonl(ip);
	return a;
}

static uint8_t last_priv[32]; /* of the engine made last */

static void engine(struct tunnel_engine *e, uint32_t capacity, tunnel_authorize_fn fn, void *ctx,
                   void (*send)(void *, int, const rg_sockaddr *, const rg_sockaddr *, const uint8_t *, size_t))
{
	uint8_t *priv = last_priv;
	crypto_random(&crypto_rng_system, priv, 32);
	struct tunnel_engine_config cfg = {
		.private_key = priv,
		.capacity = capacity,
		.is_authorized = fn,
		.auth_ctx = ctx,
		.out = {.ctx = ctx, .send_datagram = send, .deliver_packet = deliver},
	};
	if (tunnel_engine_init(e, &cfg)) {
		fprintf(stderr, "engine init failed\n");
		exit(1);
	}
}

static size_t ip4_packet(uint8_t *buf, uint32_t src, size_t payload)
{
	size_t len = 20 + payload;
	memset(buf, 0, len);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[8] = 64;
	buf[9] = 17;
	uint32_t s = htonl(src), d = htonl(0x0a000001);
	memcpy(buf + 12, &s, 4);
	memcpy(buf + 16, &d, 4);
	return len;
}

/* N clients, keys registered with the responder (whose key is `spub`). */
static struct client *clients_make(unsigned n, const uint8_t *spub)
{
	struct client *cs = calloc(n, sizeof(*cs));
	auth = calloc(n, sizeof(*auth));
	auth_ips = calloc(n, sizeof(*auth_ips));
	n_auth = n;
	for (unsigned i = 0; i < n; i++) {
		struct client *c = &cs[i];
		uint32_t inner = 0x0a010000u + i + 2;
		c->addr = addr4(0xc6120000u + i + 1, 40000); /* 198.18.0.0/15, one source each */
		engine(&c->e, 1, client_auth, c, client_send);
		memcpy(c->server.public_key, spub, NOISE_PUBLIC_KEY_LEN);
		c->server.endpoint = server_addr;
		c->ip.ip.family = AF_INET;
		c->ip.cidr = 0;
		c->server.allowed_ips = &c->ip;
		c->server.n_allowed_ips = 1;
		if (tunnel_engine_add_initiator(&c->e, &c->server, now, NULL)) {
			fprintf(stderr, "add initiator failed\n");
			exit(1);
		}
		memcpy(auth[i].public_key, tunnel_engine_public_key(&c->e), NOISE_PUBLIC_KEY_LEN);
		auth_ips[i].ip.family = AF_INET;
		uint32_t be = htonl(inner);
		memcpy(auth_ips[i].ip.bytes, &be, 4);
		auth_ips[i].cidr = 32;
		auth[i].allowed_ips = &auth_ips[i];
		auth[i].n_allowed_ips = 1;
	}
	/* keep each client's allowed-IP pointer valid across the sort */
	qsort(auth, n, sizeof(*auth), key_cmp);
	return cs;
}

static void clients_free(struct client *cs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		tunnel_engine_free(&cs[i].e);
	free(cs);
	free(auth);
	free(auth_ips);
}

/* Make every client emit an initiation (it starts one for its first packet). */
static void initiate_all(struct client *cs, unsigned n)
{
	uint8_t pkt[64];
	for (unsigned i = 0; i < n; i++) {
		cs[i].len = 0;
		tunnel_engine_send(&cs[i].e, pkt, ip4_packet(pkt, 0x0a010000u + i + 2, 16), now, wall + now);
	}
}

/* Feed each client's message to the responder; CPU ns per message and how
 * many got a reply of type `want`. The client consumes the reply when
 * `back` (a cookie reply makes its next initiation carry mac2). */
static double feed(struct tunnel_engine *s, struct client *cs, unsigned n, uint8_t want, bool back,
                   unsigned *answered)
{
	uint64_t spent = 0;
	*answered = 0;
	for (unsigned i = 0; i < n; i++) {
		struct client *c = &cs[i];
		if (!c->len)
			continue;
		uint8_t m[DGRAM_MAX];
		memcpy(m, c->msg, c->len);
		now += step_ns;
		reply_len = 0;
		uint64_t t0 = thread_ns();
		tunnel_engine_recv(s, 0, &c->addr, &server_addr, m, c->len, now, wall + now);
		spent += thread_ns() - t0;
		if (reply_len && reply[0] == want) {
			(*answered)++;
			if (back)
				tunnel_engine_recv(&c->e, 0, &server_addr, &c->addr, reply, reply_len, now, wall + now);
		}
	}
	return (double)spent / n;
}

/* The responder's configs of its clients: with the static-static DH
 * computed ahead (what ringgate's control thread does for every [peer] and
 * peers_file entry), or without (computed per handshake). */
static void auth_precompute(const uint8_t *priv, const uint8_t *pub, bool on)
{
	for (unsigned i = 0; i < n_auth; i++)
		if (!on || tunnel_peer_config_precompute(&auth[i], priv, pub))
			auth[i].has_static_static = false;
}

/* A fresh responder in *s for the same clients, who get fresh engines
 * (and keys) aimed at it. */
static void fresh_responder(struct tunnel_engine *s, struct client *cs, unsigned n, bool precompute)
{
	tunnel_engine_free(s);
	engine(s, n + 16, server_auth, NULL, server_send);
	uint8_t priv[32];
	memcpy(priv, last_priv, sizeof(priv));
	for (unsigned i = 0; i < n; i++) {
		memcpy(cs[i].server.public_key, tunnel_engine_public_key(s), NOISE_PUBLIC_KEY_LEN);
		tunnel_engine_free(&cs[i].e);
		engine(&cs[i].e, 1, client_auth, &cs[i], client_send);
		if (tunnel_engine_add_initiator(&cs[i].e, &cs[i].server, now, NULL)) {
			fprintf(stderr, "tunnelbench: cannot add initiator %u\n", i);
			exit(1);
		}
		memcpy(auth[i].public_key, tunnel_engine_public_key(&cs[i].e), NOISE_PUBLIC_KEY_LEN);
	}
	qsort(auth, n, sizeof(*auth), key_cmp);
	auth_precompute(priv, tunnel_engine_public_key(s), precompute);
	crypto_wipe(priv, sizeof(priv));
}

static void handshakes(unsigned n)
{
	struct tunnel_engine s;
	server_addr = addr4(0xc0000201u, 51820);
	engine(&s, 1, server_auth, NULL, server_send);
	struct client *cs = clients_make(n, tunnel_engine_public_key(&s));
	unsigned ok;

	/* every Curve25519 operation per handshake */
	fresh_responder(&s, cs, n, false);
	initiate_all(cs, n);
	double dh = feed(&s, cs, n, 2, false, &ok);
	printf("{\"case\":\"plain_no_precompute\",\"n\":%u,\"answered\":%u,\"ns_per_handshake\":%.0f,"
	       "\"per_sec\":%.0f}\n", n, ok, dh, 1e9 / dh);

	/* as a ringgate worker runs: static-static DH from the config */
	fresh_responder(&s, cs, n, true);
	initiate_all(cs, n);
	double plain = feed(&s, cs, n, 2, false, &ok);
	printf("{\"case\":\"plain\",\"n\":%u,\"answered\":%u,\"ns_per_handshake\":%.0f,\"per_sec\":%.0f}\n", n, ok,
	       plain, 1e9 / plain);

	/* a fresh responder under load: cookie replies for the same clients */
	fresh_responder(&s, cs, n, true);
	tunnel_engine_set_under_load(&s, true);
	initiate_all(cs, n);
	double cookie = feed(&s, cs, n, 3, true, &ok);
	printf("{\"case\":\"cookie\",\"n\":%u,\"answered\":%u,\"ns_per_handshake\":%.0f,\"per_sec\":%.0f}\n", n, ok,
	       cookie, 1e9 / cookie);

	/* the clients retry with mac2 (after REKEY_TIMEOUT) */
	now += 6 * NS_PER_SEC;
	for (unsigned i = 0; i < n; i++) {
		cs[i].len = 0;
		tunnel_engine_handle_expiry(&cs[i].e, now, wall + now);
	}
	double mac2 = feed(&s, cs, n, 2, false, &ok);
	printf("{\"case\":\"mac2\",\"n\":%u,\"answered\":%u,\"ns_per_handshake\":%.0f,\"per_sec\":%.0f}\n", n, ok,
	       mac2, 1e9 / mac2);
	clients_free(cs, n);
	tunnel_engine_free(&s);
}

/* The crypto libraries' one-time set-up (OpenSSL providers, libsodium's
 * CPU probe, thread contexts) is paid by the first handshake of the
 * process, not by sessions: do one before measuring. */
static void warm_up(void)
{
	struct tunnel_engine s;
	engine(&s, 1, server_auth, NULL, server_send);
	struct client *cs = clients_make(1, tunnel_engine_public_key(&s));
	initiate_all(cs, 1);
	unsigned ok;
	feed(&s, cs, 1, 2, true, &ok);
	feed(&s, cs, 1, 4, false, &ok);
	clients_free(cs, 1);
	tunnel_engine_free(&s);
}

static void memory(unsigned n)
{
	server_addr = addr4(0xc0000201u, 51820);
	warm_up();
	/* Only the responder's memory counts: measure around its creation,
	 * around the initiations it answers and around the first data
	 * packets it receives, not while the clients are made or consume
	 * the responses. */
	struct tunnel_engine s;
	malloc_trim(0);
	long rss0 = rss_kb();
	struct mallinfo2 m0 = mallinfo2();
	engine(&s, n, server_auth, NULL, server_send);
	uint8_t priv[32];
	memcpy(priv, last_priv, sizeof(priv));
	long rss_empty = rss_kb();
	struct mallinfo2 m_empty = mallinfo2();
	struct client *cs = clients_make(n, tunnel_engine_public_key(&s));
	auth_precompute(priv, tunnel_engine_public_key(&s), true);
	initiate_all(cs, n);
	uint8_t (*resp)[DGRAM_MAX] = calloc(n, DGRAM_MAX);
	size_t *resp_len = calloc(n, sizeof(*resp_len));
	if (!resp || !resp_len) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	/* the bench's own buffers: resident before the measurement starts */
	memset(resp, 1, (size_t)n * DGRAM_MAX);
	memset(resp_len, 1, (size_t)n * sizeof(*resp_len));
	long rss_a = rss_kb();
	struct mallinfo2 m_a = mallinfo2();
	unsigned ok = 0;
	for (unsigned i = 0; i < n; i++) {
		now += step_ns;
		reply_len = 0;
		tunnel_engine_recv(&s, 0, &cs[i].addr, &server_addr, cs[i].msg, cs[i].len, now, wall + now);
		resp_len[i] = 0;
		if (reply_len && reply[0] == 2) {
			memcpy(resp[i], reply, reply_len);
			resp_len[i] = reply_len;
		}
	}
	long rss_b = rss_kb();
	struct mallinfo2 m_b = mallinfo2();
	/* The clients take their responses and send the packet that waited
	 * (their data message confirms the responder's keypair). */
	for (unsigned i = 0; i < n; i++) {
		cs[i].len = 0;
		if (resp_len[i])
			tunnel_engine_recv(&cs[i].e, 0, &server_addr, &cs[i].addr, resp[i], resp_len[i], now, wall + now);
	}
	long rss_c = rss_kb();
	struct mallinfo2 m_c = mallinfo2();
	uint64_t data0 = s.rx_count[TUNNEL_RX_DATA];
	for (unsigned i = 0; i < n; i++)
		if (cs[i].len && cs[i].msg[0] == 4)
			tunnel_engine_recv(&s, 0, &cs[i].addr, &server_addr, cs[i].msg, cs[i].len, now, wall + now);
	ok = (unsigned)(s.rx_count[TUNNEL_RX_DATA] - data0);
	long rss_d = rss_kb();
	struct mallinfo2 m_d = mallinfo2();
	long server_kb = (rss_empty - rss0) + (rss_b - rss_a) + (rss_d - rss_c);
	double heap = (double)(m_empty.uordblks + m_empty.hblkhd - m0.uordblks - m0.hblkhd) +
	              (double)(m_b.uordblks + m_b.hblkhd) - (double)(m_a.uordblks + m_a.hblkhd) +
	              (double)(m_d.uordblks + m_d.hblkhd) - (double)(m_c.uordblks + m_c.hblkhd);
	printf("{\"case\":\"memory\",\"n\":%u,\"established\":%u,\"rss_kb_engine_empty\":%ld,"
	       "\"rss_kb_engine_full\":%ld,\"rss_bytes_per_session\":%.0f,\"heap_bytes_per_session\":%.0f,"
	       "\"sizeof_peer\":%zu,\"sizeof_session\":%zu,\"sizeof_keypair\":%zu}\n",
	       n, ok, rss_empty - rss0, server_kb, server_kb * 1024.0 / n, heap / n, sizeof(struct tunnel_peer),
	       sizeof(struct session), sizeof(struct session_keypair));
	/* What the idle sessions cost a worker's loop turn: it asks for the
	 * next deadline (and fires due timers) every turn. */
	uint64_t t0 = thread_ns(), sum = 0;
	for (int k = 0; k < 100000; k++)
		sum += tunnel_engine_next_expiry(&s);
	double next_ns = (double)(thread_ns() - t0) / 100000;
	t0 = thread_ns();
	for (int k = 0; k < 1000; k++)
		tunnel_engine_handle_expiry(&s, now, wall + now);
	double expiry_ns = (double)(thread_ns() - t0) / 1000;
	printf("{\"case\":\"idle_turn\",\"n\":%u,\"next_expiry_ns\":%.0f,\"handle_expiry_ns\":%.0f,\"armed\":%s}\n", n,
	       next_ns, expiry_ns, sum ? "true" : "false");
	/* A reload that changes nothing: every peer is asked again and
	 * re-configured (the worker's pause on a generation change). */
	t0 = thread_ns();
	tunnel_engine_authorization_changed(&s, now);
	double reload_ms = (double)(thread_ns() - t0) / 1e6;
	printf("{\"case\":\"reload\",\"n\":%u,\"peers\":%u,\"ms\":%.2f}\n", n, s.npeers, reload_ms);
	crypto_wipe(priv, sizeof(priv));
	free(resp);
	free(resp_len);
	clients_free(cs, n);
	tunnel_engine_free(&s);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tunnelbench handshakes|memory N\n");
		return 2;
	}
	unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
	if (!strcmp(argv[1], "handshakes"))
		handshakes(n);
	else if (!strcmp(argv[1], "memory"))
		memory(n);
	else
		return 2;
	return 0;
}
