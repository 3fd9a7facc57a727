/* libFuzzer target: the tunnel's incoming-datagram path
 * (tunnel_engine_recv), reached at every depth. Each input builds a fresh
 * pair of engines, A (initiator) and B (responder, A's key authorized),
 * with a deterministic random source, so every input replays alone. The
 * first byte picks what B receives (bits 0-2):
 *   0  the rest of the input, raw (type, length and MAC checks)
 *   1  A's real handshake initiation with the input XORed over it
 *   2  after a completed handshake, A's real data message, XORed likewise
 *   3  after a completed handshake, a data message with B's live receiver
 *      index and the input as counter and ciphertext (replay, AEAD paths)
 *   4  A's real initiation with the input XORed over the fields before
 *      mac1, then mac1 (and mac2, when B is under load and A took B's
 *      cookie) recomputed with A's cookie maker: past the MAC checks into
 *      the Noise handshake (WireGuard paper 5.4.2, 5.4.4)
 *   5  after a completed handshake, the input as the plaintext of a data
 *      message sealed with A's live keypair: past the AEAD into the inner
 *      packet checks (IP header, allowed IPs, keepalive)
 *   6  B's real handshake response to A's initiation, XORed over the
 *      fields before mac1, MACs recomputed with B's cookie maker, given to
 *      A (the initiator's consume path)
 *   7  as 5, with the first four input bytes choosing the counters of two
 *      sealed messages (replay window, paper 5.4.6, RFC 6479)
 * and bit 7 puts B under load (cookie replies, mac2 checks). Anything B
 * answers is fed back to A, so A's response and cookie paths run too.
 * Modes 4-7 build what the fuzzer cannot guess (MACs and AEAD tags under
 * keys it never sees) around the fuzzed bytes; without them no input gets
 * past the mac1 check or the AEAD tag.
 * Every datagram must come back as a verdict: no crash, no leak, no
 * undefined behaviour (ASan + UBSan). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/cookie.h"
#include "crypto/keypair.h"
#include "datapath/tunnel/engine.h"
#include "datapath/tunnel/session.h"
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

/* The handshake message queued first for `to`, copied into dg (at most
 * cap bytes); its length, 0: none. */
static size_t take(struct fnode *to, uint8_t *dg, size_t cap)
{
	for (unsigned i = 0; i < n_net; i++)
		if (net[i].to == to && net[i].len <= cap) {
			memcpy(dg, net[i].bytes, net[i].len);
			return net[i].len;
		}
	return 0;
}

/* Fuzzed fields of a real handshake message (len bytes in dg), then the
 * sender's MACs over them, so the receiver's mac1 (and, with a cookie,
 * mac2) check passes and the Noise code sees the fuzzed fields. */
static void remac(struct fnode *from, struct fnode *to, uint8_t *dg, size_t len, const uint8_t *in, size_t n)
{
	xor_over(dg, len - sizeof(struct message_macs), in, n);
	struct tunnel_peer *p = tunnel_peer_find(&from->e, tunnel_engine_public_key(&to->e));
	if (p)
		cookie_maker_add_macs(&p->cookie, dg, len, now);
}

/* Seal plain[0..n) as a data message from A to B with A's live keypair,
 * at `counter` (UINT64_MAX: the keypair's next). Returns its length, 0:
 * no keypair. */
static size_t seal(uint8_t *dg, size_t cap, const uint8_t *plain, size_t n, uint64_t counter)
{
	struct tunnel_peer *p = tunnel_peer_find(&node_a->e, tunnel_engine_public_key(&node_b->e));
	struct session_keypair *kp = p && p->session ? session_keypair_for_send(p->session, now) : NULL;
	if (!kp || MESSAGE_DATA_MIN_LEN + n > cap)
		return 0;
	if (counter != UINT64_MAX)
		kp->kp.send_counter = counter;
	memcpy(dg + MESSAGE_DATA_HEADER_LEN, plain, n);
	size_t len = 0;
	if (crypto_keypair_seal(&kp->kp, node_a->e.aead, dg, n, &len))
		return 0;
	return len;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
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
	unsigned mode = data[0] & 7;
	if (data[0] & 0x80)
		tunnel_engine_set_under_load(&b.e, true);
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	uint8_t pkt[256], dg[DGRAM_MAX + MESSAGE_DATA_MIN_LEN];

	if (mode == 2 || mode == 3 || mode == 5 || mode == 7) { /* complete a handshake and one data exchange */
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
	case 4: {
		n_net = 0;
		tunnel_engine_send(&a.e, pkt, ip4(pkt, 48), now, wall + now);
		size_t len = take(&b, dg, sizeof(dg));
		if (!len)
			break;
		if (data[0] & 0x80)
			pump(); /* B under load answers with a cookie reply; A takes the cookie */
		n_net = 0;
		remac(&a, &b, dg, len, in, n);
		tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, len, now, wall + now);
		break;
	}
	case 5: {
		size_t len = seal(dg, sizeof(dg), in, n, UINT64_MAX);
		if (len)
			tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, len, now, wall + now);
		break;
	}
	case 6: {
		n_net = 0;
		tunnel_engine_send(&a.e, pkt, ip4(pkt, 48), now, wall + now);
		size_t len = take(&b, dg, sizeof(dg));
		n_net = 0;
		if (!len)
			break;
		tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, len, now, wall + now);
		len = take(&a, dg, sizeof(dg)); /* B's response (or cookie reply) */
		n_net = 0;
		if (!len)
			break;
		remac(&b, &a, dg, len, in, n);
		tunnel_engine_recv(&a.e, 0, &b.addr, &a.addr, dg, len, now, wall + now);
		break;
	}
	case 7: {
		if (n < 4)
			break;
		/* a valid message first (the window moves), then the fuzzed
		 * counter with the fuzzed plaintext */
		size_t len = seal(dg, sizeof(dg), in + 4, n - 4, le16(in));
		if (len)
			tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, len, now, wall + now);
		len = seal(dg, sizeof(dg), in + 4, n - 4, le16(in + 2));
		if (len)
			tunnel_engine_recv(&b.e, 0, &a.addr, &b.addr, dg, len, now, wall + now);
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
