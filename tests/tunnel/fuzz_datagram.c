/* libFuzzer target: the tunnel's incoming-datagram path
 * (tunnel_engine_recv), reached at every depth. Each input builds a fresh
 * pair of engines, A (initiator) and B (responder, A's key authorized),
 * with a deterministic random source, so every input replays alone. The
 * first byte picks what B receives:
 *   0  the rest of the input, raw (type, length and MAC checks)
 *   1  A's real handshake initiation with the input XORed over it
 *   2  after a completed handshake, A's real data message, XORed likewise
 *   3  after a completed handshake, a data message with B's live receiver
 *      index and the input as counter and ciphertext (replay, AEAD paths)
 * and bit 7 puts B under load (cookie replies, mac2 checks). Anything B
 * answers is fed back to A, so A's response and cookie paths run too.
 * Every datagram must come back as a verdict: no crash, no leak, no
 * undefined behaviour (ASan + UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "datapath/tunnel/engine.h"
#include "tests/tunnel/check.h"

#define NET_MAX 16
#define DGRAM_MAX 2048

struct fnode {
	struct tunnel_engine e;
	rg_sockaddr addr;
	struct tunnel_peer_config auth;
	struct allowedips_prefix ip;
	bool has_auth;
};

static struct fdgram {
	struct fnode *to;
	rg_sockaddr from;
	size_t len;
	uint8_t bytes[DGRAM_MAX];
} net[NET_MAX];
static unsigned n_net;
static struct fnode *node_a, *node_b;
static const uint64_t wall = 1700000000ULL * NS_PER_SEC;
static uint64_t now;

static void on_send(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from, const uint8_t *b,
                    size_t len)
{
	struct fnode *n = ctx;
	(void)from, (void)sock;
	if (n_net == NET_MAX || len > DGRAM_MAX)
		return;
	struct fdgram *d = &net[n_net++];
	d->to = tunnel_sockaddr_equal(to, &node_a->addr) ? node_a : node_b;
	d->from = n->addr;
	d->len = len;
	memcpy(d->bytes, b, len);
}

static void on_deliver(void *ctx, struct tunnel_peer *p, const uint8_t *b, size_t len)
{
	(void)ctx, (void)p, (void)b, (void)len;
}

static const struct tunnel_peer_config *on_auth(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN], uint64_t t)
{
	struct fnode *n = ctx;
	(void)t;
	return n->has_auth && !memcmp(n->auth.public_key, key, NOISE_PUBLIC_KEY_LEN) ? &n->auth : NULL;
}

static int node_init(struct fnode *n, const char *ip, uint16_t port)
{
	memset(n, 0, sizeof(*n));
	n->addr.in4.sin_family = AF_INET;
	n->addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &n->addr.in4.sin_addr);
	uint8_t priv[32];
	test_rng_fill(NULL, priv, sizeof(priv));
	struct tunnel_engine_config cfg = {
		.private_key = priv,
		.rng = &test_rng,
		.capacity = 4,
		.is_authorized = on_auth,
		.auth_ctx = n,
		.out = {.ctx = n, .send_datagram = on_send, .deliver_packet = on_deliver},
	};
	return tunnel_engine_init(&n->e, &cfg);
}

static void authorize(struct fnode *who, struct fnode *peer, const char *ip, bool endpoint)
{
	memcpy(who->auth.public_key, tunnel_engine_public_key(&peer->e), NOISE_PUBLIC_KEY_LEN);
	who->ip.ip = ip_parse(ip);
	who->ip.cidr = 32;
	who->auth.allowed_ips = &who->ip;
	who->auth.n_allowed_ips = 1;
	if (endpoint)
		who->auth.endpoint = peer->addr;
	who->has_auth = true;
}

/* Deliver what is queued, in order, up to a bound (answers queue more). */
static void pump(void)
{
	for (unsigned i = 0; i < n_net && i < 64; i++) {
		struct fdgram *d = &net[i];
		tunnel_engine_recv(&d->to->e, 0, &d->from, &d->to->addr, d->bytes, d->len, now, wall + now);
	}
	n_net = 0;
}

static size_t ip4(uint8_t *buf, size_t payload)
{
	size_t len = 20 + payload;
	memset(buf, 0, len);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[8] = 64;
	buf[9] = 17;
	inet_pton(AF_INET, "10.9.0.1", buf + 12);
	inet_pton(AF_INET, "10.9.0.2", buf + 16);
	return len;
}

static void xor_over(uint8_t *b, size_t len, const uint8_t *in, size_t n)
{
	for (size_t i = 0; len && i + 1 < n; i += 2)
		b[in[i] % len] ^= in[i + 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > DGRAM_MAX)
		return 0;
	static struct fnode a, b;
	test_rng_state = 0x5eed;
	now = 1000 * NS_PER_SEC;
	n_net = 0;
	node_a = &a;
	node_b = &b;
	if (node_init(&a, "192.0.2.1", 40000) || node_init(&b, "198.51.100.2", 51820))
		abort();
	authorize(&a, &b, "10.9.0.2", true);
	authorize(&b, &a, "10.9.0.1", false);
	if (tunnel_engine_add_initiator(&a.e, &a.auth, now, NULL))
		abort();
	unsigned mode = data[0] & 3;
	if (data[0] & 0x80)
		tunnel_engine_set_under_load(&b.e, true);
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	uint8_t pkt[256], dg[DGRAM_MAX];

	if (mode >= 2) { /* complete a handshake and one data exchange */
		tunnel_engine_send(&a.e, pkt, ip4(pkt, 32), now, wall + now);
		pump();
		pump();
		pump();
		now += NS_PER_SEC / 100;
	}
	switch (mode) {
	case 0:
		memcpy(dg, in, n);
		tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, n, now, wall + now);
		break;
	case 1:
	case 2:
		n_net = 0;
		tunnel_engine_send(&a.e, pkt, ip4(pkt, 48), now, wall + now);
		if (n_net) {
			xor_over(net[0].bytes, net[0].len, in, n);
			n_net = 1;
		}
		break;
	case 3: {
		/* B's receiver index: what A addresses its data messages to */
		n_net = 0;
		tunnel_engine_send(&a.e, pkt, ip4(pkt, 16), now, wall + now);
		if (n_net && net[0].len >= 16 && n + 16 <= DGRAM_MAX) {
			memcpy(dg, net[0].bytes, 8);
			memcpy(dg + 8, in, n);
			n_net = 0;
			tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, 8 + n, now, wall + now);
		}
		break;
	}
	}
	pump(); /* B's answers to A, A's to B */
	pump();
	now += 130 * NS_PER_SEC; /* timers: rekey, expiry, cookie rotation */
	tunnel_engine_handle_expiry(&a.e, now, wall + now);
	tunnel_engine_handle_expiry(&b.e, now, wall + now);
	pump();
	tunnel_engine_free(&a.e);
	tunnel_engine_free(&b.e);
	return 0;
}
