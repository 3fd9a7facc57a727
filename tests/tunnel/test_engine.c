/* test_engine: two tunnel engines in one process, wired to each other
 * through their tunnel_out callbacks (an in-memory network and TUN, the
 * wireguard-go style of fake), driven by fake time. Covers the handshake,
 * data both ways, keepalive, rekey with the old keypair accepted until the
 * new one is confirmed, authorization (unknown and withdrawn keys), cookies
 * under load, the handshake rate limit, replay, roaming, the allowed-IPs
 * source check, and garbage of every type and length. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/tunnel/engine.h"
#include "tests/tunnel/check.h"

#define MAX_DGRAMS 256
#define DGRAM_MAX 2048
#define MAX_AUTH 4

struct dgram {
	rg_sockaddr to, from;
	size_t len;
	uint8_t bytes[DGRAM_MAX];
};

struct node;

/* The in-memory network: datagrams wait here until pumped, so the engine
 * is never re-entered from its own callbacks. */
static struct dgram net[MAX_DGRAMS];
static unsigned net_head, net_tail;
static struct node *nodes[4];
static unsigned n_nodes;

struct node {
	const char *name;
	uint8_t priv[32];
	struct tunnel_engine e;
	rg_sockaddr addr;   /* where it listens */
	rg_sockaddr source; /* what the network shows as its source (NAT) */
	struct tunnel_peer_config auth[MAX_AUTH];
	struct allowedips_prefix auth_ips[MAX_AUTH];
	bool authorized[MAX_AUTH];
	unsigned n_auth;
	uint8_t last_delivered[DGRAM_MAX];
	size_t last_delivered_len;
	unsigned delivered;
};

static uint64_t now = 1000 * NS_PER_SEC;
static const uint64_t wall_base = 1700000000ULL * NS_PER_SEC;

static rg_sockaddr sa4(const char *ip, uint16_t port)
{
	rg_sockaddr a;
	memset(&a, 0, sizeof(a));
	a.in4.sin_family = AF_INET;
	a.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.in4.sin_addr);
	return a;
}

/* Sends that carried the socket of the datagram that reached the node
 * (node_sock), and sends that carried another one: the engine hands the
 * socket back in its send action instead of an ambient "current socket". */
static unsigned sends_with_sock, sends_wrong_sock;

static int node_sock(const struct node *n)
{
	return 40 + (int)(n->name[0] & 0x1f);
}

static void send_cb(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from, const uint8_t *bytes,
                    size_t len)
{
	struct node *n = ctx;
	(void)from;
	if (sock == node_sock(n))
		sends_with_sock++;
	else if (sock != -1)
		sends_wrong_sock++;
	if (net_tail - net_head >= MAX_DGRAMS || len > DGRAM_MAX) {
		fprintf(stderr, "network overflow\n");
		abort();
	}
	struct dgram *d = &net[net_tail++ % MAX_DGRAMS];
	d->to = *to;
	d->from = n->source;
	d->len = len;
	memcpy(d->bytes, bytes, len);
}

static void deliver_cb(void *ctx, struct tunnel_peer *peer, const uint8_t *bytes, size_t len)
{
	struct node *n = ctx;
	(void)peer;
	memcpy(n->last_delivered, bytes, len);
	n->last_delivered_len = len;
	n->delivered++;
}

static const struct tunnel_peer_config *auth_cb(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN], uint64_t t)
{
	struct node *n = ctx;
	(void)t;
	for (unsigned i = 0; i < n->n_auth; i++)
		if (n->authorized[i] && !memcmp(n->auth[i].public_key, key, NOISE_PUBLIC_KEY_LEN))
			return &n->auth[i];
	return NULL;
}

static struct node *node_at(const rg_sockaddr *a)
{
	for (unsigned i = 0; i < n_nodes; i++)
		if (tunnel_sockaddr_equal(&nodes[i]->addr, a) || tunnel_sockaddr_equal(&nodes[i]->source, a))
			return nodes[i];
	return NULL;
}

static void node_init(struct node *n, const char *name, const char *ip, uint16_t port)
{
	memset(n, 0, sizeof(*n));
	n->name = name;
	n->addr = n->source = sa4(ip, port);
	test_rng_fill(NULL, n->priv, sizeof(n->priv));
	struct tunnel_engine_config cfg = {
		.private_key = n->priv,
		.rng = &test_rng,
		.capacity = 8,
		.is_authorized = auth_cb,
		.auth_ctx = n,
		.out = {.ctx = n, .send_datagram = send_cb, .deliver_packet = deliver_cb},
	};
	if (tunnel_engine_init(&n->e, &cfg)) {
		fprintf(stderr, "engine init failed\n");
		abort();
	}
	nodes[n_nodes++] = n;
}

static unsigned wheel_violations(const struct tunnel_engine *e);

static void node_free(struct node *n)
{
	CHECK(!wheel_violations(&n->e), "%s: every deadline in the wheel at the end", n->name);
	tunnel_engine_free(&n->e);
}

static void net_reset(void)
{
	net_head = net_tail = 0;
	n_nodes = 0;
}

/* `who` will accept `peer`'s key with inner prefix ip/32; endpoint
 * optional. Returns the config (kept in who). */
static struct tunnel_peer_config *authorize(struct node *who, struct node *peer, const char *ip, bool endpoint)
{
	unsigned i = who->n_auth++;
	struct tunnel_peer_config *c = &who->auth[i];
	memset(c, 0, sizeof(*c));
	memcpy(c->public_key, tunnel_engine_public_key(&peer->e), NOISE_PUBLIC_KEY_LEN);
	who->auth_ips[i].ip = ip_parse(ip);
	who->auth_ips[i].cidr = 32;
	c->allowed_ips = &who->auth_ips[i];
	c->n_allowed_ips = 1;
	if (endpoint)
		c->endpoint = peer->addr;
	who->authorized[i] = true;
	return c;
}

/* Deliver one datagram; returns the receiver's verdict, or -1 when the
 * network was empty or nobody listens there. */
static int pump_one(void)
{
	if (net_head == net_tail)
		return -1;
	struct dgram *d = &net[net_head++ % MAX_DGRAMS];
	struct node *n = node_at(&d->to);
	if (!n)
		return -1;
	return (int)tunnel_engine_recv(&n->e, node_sock(n), &d->from, &n->addr, d->bytes, d->len, now, wall_base + now);
}

/* Every session with a deadline sits in the wheel at or before it
 * (session_timer_sync's contract): otherwise a timer would never fire. */
static unsigned wheel_violations(const struct tunnel_engine *e)
{
	unsigned bad = 0;
	for (uint32_t i = 0; i < e->sessions.session_pool.high; i++) {
		const struct session *s = &e->sessions.sessions[i];
		uint64_t want = s->in_use ? timers_next_expiry(&s->timers) : RG_NO_DEADLINE;
		if (want != RG_NO_DEADLINE && (!twheel_armed(&s->timer) || s->timer.deadline > want))
			bad++;
	}
	return bad;
}

static void check_wheels(void)
{
	for (unsigned i = 0; i < n_nodes; i++)
		CHECK(!wheel_violations(&nodes[i]->e), "%s: every deadline in the wheel", nodes[i]->name);
}

static void pump(void)
{
	for (int i = 0; i < 1000 && net_head != net_tail; i++)
		pump_one();
	check_wheels();
}

/* An IPv4 packet src -> dst with `payload` bytes of a pattern. */
static size_t ip4_packet(uint8_t *buf, const char *src, const char *dst, size_t payload, uint8_t seed)
{
	size_t len = 20 + payload;
	memset(buf, 0, 20);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[8] = 64;
	buf[9] = 17;
	inet_pton(AF_INET, src, buf + 12);
	inet_pton(AF_INET, dst, buf + 16);
	for (size_t i = 0; i < payload; i++)
		buf[20 + i] = (uint8_t)(seed + i * 7);
	return len;
}

/* A (initiator, endpoint B) and B (responder) that know each other. */
static void pair_init(struct node *a, struct node *b)
{
	net_reset();
	node_init(a, "A", "192.0.2.1", 40000);
	node_init(b, "B", "198.51.100.2", 51820);
	struct tunnel_peer_config *cb = authorize(a, b, "10.9.0.2", true);
	authorize(b, a, "10.9.0.1", false);
	CHECK(tunnel_engine_add_initiator(&a->e, cb, now, NULL) == 0, "add initiator");
}

/* Send one packet A -> B (or B -> A) and check it arrives intact. */
static bool exchange(struct node *from, struct node *to, const char *src, const char *dst, size_t payload, uint8_t seed)
{
	uint8_t pkt[1500];
	size_t len = ip4_packet(pkt, src, dst, payload, seed);
	unsigned before = to->delivered;
	enum tunnel_tx_verdict tv = tunnel_engine_send(&from->e, pkt, len, now, wall_base + now);
	pump();
	return (tv == TUNNEL_TX_SENT || tv == TUNNEL_TX_QUEUED) && to->delivered == before + 1 &&
	       to->last_delivered_len == len && !memcmp(to->last_delivered, pkt, len);
}

static void establish(struct node *a, struct node *b)
{
	CHECK(exchange(a, b, "10.9.0.1", "10.9.0.2", 100, 1), "first packet A->B through the handshake");
	CHECK(exchange(b, a, "10.9.0.2", "10.9.0.1", 200, 2), "reply B->A");
}

static uint32_t key_idx_of(const struct dgram *d)
{
	uint32_t v;
	memcpy(&v, d->bytes + 4, 4);
	return v;
}

/* tunnel_engine_foreach_peer: what the worker publishes for GET /peers. */
struct seen {
	unsigned n, with_session, stop_after;
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	uint64_t rx_packets;
	rg_sockaddr endpoint;
};

static bool seen_peer(void *ctx, const struct tunnel_peer_view *v)
{
	struct seen *s = ctx;
	s->n++;
	s->with_session += v->has_session;
	memcpy(s->key, v->public_key, sizeof(s->key));
	s->rx_packets = v->rx_packets;
	s->endpoint = v->endpoint;
	return s->n < s->stop_after;
}

static void check_foreach_peer(struct node *b, struct node *a)
{
	struct seen s = {.stop_after = 100};
	unsigned visited = tunnel_engine_foreach_peer(&b->e, seen_peer, &s);
	CHECK(visited == 1 && s.n == 1 && s.with_session == 1, "foreach: one peer with a session (%u)", visited);
	CHECK(!memcmp(s.key, tunnel_engine_public_key(&a->e), sizeof(s.key)), "foreach: A's key");
	CHECK(s.rx_packets > 0 && tunnel_sockaddr_equal(&s.endpoint, &a->source), "foreach: A's counters and address");
	struct seen one = {.stop_after = 1};
	CHECK(tunnel_engine_foreach_peer(&b->e, seen_peer, &one) == 1, "foreach stops when told");
	/* the worker's shard claim (worker_tunnel.c claim_remote) */
	const uint8_t *k = tunnel_engine_peer_key_at(&b->e, &a->source);
	CHECK(k && !memcmp(k, tunnel_engine_public_key(&a->e), NOISE_PUBLIC_KEY_LEN), "peer_key_at: A's key at A's address");
	rg_sockaddr elsewhere = sa4("192.0.2.99", 4242);
	CHECK(!tunnel_engine_peer_key_at(&b->e, &elsewhere), "peer_key_at: nobody at an unknown address");
}

static void test_handshake_data_keepalive_rekey(void)
{
	struct node a, b;
	pair_init(&a, &b);
	uint8_t pkt[1500];
	size_t len = ip4_packet(pkt, "10.9.0.1", "10.9.0.2", 33, 9);
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_QUEUED, "queued before handshake");
	CHECK(net_tail - net_head == 1 && net[net_head % MAX_DGRAMS].bytes[0] == MESSAGE_HANDSHAKE_INITIATION,
	      "one initiation sent");
	CHECK(pump_one() == TUNNEL_RX_HANDSHAKE, "B answers the initiation");
	CHECK(tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e)) != NULL, "B learned A's key");
	CHECK(pump_one() == TUNNEL_RX_HANDSHAKE, "A consumes the response");
	/* The queued packet, padded to 16 (53 -> 64 bytes of plaintext). */
	CHECK(net_tail - net_head == 1 && net[net_head % MAX_DGRAMS].len == 16 + 64 + 16, "padded data message");
	CHECK(pump_one() == TUNNEL_RX_DATA, "B gets the queued packet");
	CHECK(b.last_delivered_len == len && !memcmp(b.last_delivered, pkt, len), "byte-identical A->B");
	/* What an idle session holds (pool.h): one keypair each, no
	 * handshake state (A's went back to the pool with the response, B
	 * as responder never took one). */
	CHECK(a.e.hs_alloc.live == 0 && a.e.hs_alloc.high == 1 && b.e.hs_alloc.high == 0, "handshake pools");
	CHECK(a.e.sessions.keypair_pool.live == 1 && b.e.sessions.keypair_pool.live == 1, "one keypair each");
	for (int i = 0; i < 5; i++) {
		CHECK(exchange(&b, &a, "10.9.0.2", "10.9.0.1", 10 + 97 * (size_t)i, (uint8_t)i), "B->A %d", i);
		CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 1400 - 20 - 50 * (size_t)i, (uint8_t)i), "A->B %d", i);
	}
	check_foreach_peer(&b, &a);

	/* Keepalive (paper §6.5): B got data and says nothing for
	 * KEEPALIVE_TIMEOUT. */
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 50, 3), "A->B before keepalive");
	uint64_t ka0 = a.e.rx_count[TUNNEL_RX_KEEPALIVE];
	now += KEEPALIVE_TIMEOUT_NS - 1;
	tunnel_engine_handle_expiry(&b.e, now, wall_base + now);
	CHECK(net_head == net_tail, "no keepalive before KEEPALIVE_TIMEOUT");
	now += 1;
	CHECK(tunnel_engine_next_expiry(&b.e) <= now, "B's deadline is due");
	tunnel_engine_handle_expiry(&b.e, now, wall_base + now);
	pump();
	CHECK(a.e.rx_count[TUNNEL_RX_KEEPALIVE] == ka0 + 1, "keepalive after KEEPALIVE_TIMEOUT");

	/* Rekey (paper §6.2): A initiated the keypair; after REKEY_AFTER_TIME
	 * its next send starts a handshake. */
	struct tunnel_peer *pa = tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e));
	uint64_t born = pa->session->slot[pa->session->current]->birth;
	now = born + REKEY_AFTER_TIME_NS + NS_PER_SEC;
	len = ip4_packet(pkt, "10.9.0.1", "10.9.0.2", 64, 5);
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "old keypair still sends");
	CHECK(net_tail - net_head == 2 && net[(net_head + 1) % MAX_DGRAMS].bytes[0] == MESSAGE_HANDSHAKE_INITIATION,
	      "data then a rekey initiation");
	uint32_t old_idx_b = pa->session->slot[pa->session->current]->kp.local_index;
	CHECK(pump_one() == TUNNEL_RX_DATA, "data on the old keypair");
	CHECK(pump_one() == TUNNEL_RX_HANDSHAKE, "B answers the rekey");
	CHECK(pa->session->next != SESSION_SLOT_NONE, "B's new keypair waits for confirmation");
	/* B still sends on the old keypair, A (before the response) reads it. */
	len = ip4_packet(pkt, "10.9.0.2", "10.9.0.1", 40, 6);
	CHECK(tunnel_engine_send(&b.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "B sends, old keypair");
	/* Network order: response, then B's data. A gets the response first,
	 * rotates (old current -> previous) and sends its confirmation. */
	/* Timer keepalives B owed may come first; the response follows. */
	int v;
	while ((v = pump_one()) == TUNNEL_RX_KEEPALIVE)
		;
	CHECK(v == TUNNEL_RX_HANDSHAKE, "A consumes the rekey response (%d)", v);
	CHECK(pump_one() == TUNNEL_RX_DATA, "old keypair accepted after A rotated (previous)");
	CHECK(a.last_delivered_len == len && !memcmp(a.last_delivered, pkt, len), "byte-identical on previous");
	CHECK(pump_one() == TUNNEL_RX_KEEPALIVE, "A's confirmation keepalive on the new keypair");
	CHECK(pa->session->next == SESSION_SLOT_NONE &&
	      pa->session->slot[pa->session->current]->kp.local_index != old_idx_b, "B confirmed the new keypair");
	unsigned mark = net_tail;
	CHECK(tunnel_engine_send(&b.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "B sends, new keypair");
	CHECK(key_idx_of(&net[mark % MAX_DGRAMS]) != 0, "header");
	pump();
	CHECK(a.last_delivered_len == len, "new keypair delivers");
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 300, 7), "A->B after rekey");
	CHECK(b.e.sessions.keypair_pool.live == 2 && b.e.sessions.keypair_pool.high == 2, "B: current and previous");
	CHECK(a.e.hs_alloc.live == 0 && a.e.hs_alloc.high == 1, "A's handshake slot reused for the rekey");
	/* Erasing the keys (paper §6.3) gives the keypairs back. */
	now += 3 * REJECT_AFTER_TIME_NS + NS_PER_SEC;
	tunnel_engine_handle_expiry(&a.e, now, wall_base + now);
	tunnel_engine_handle_expiry(&b.e, now, wall_base + now);
	CHECK(a.e.sessions.keypair_pool.live == 0 && b.e.sessions.keypair_pool.live == 0, "keys erased: pools empty");
	node_free(&a);
	node_free(&b);
}

/* Many peers in one engine: the public-key index finds every one through
 * removals (backward-shift deletion keeps probe runs intact), and freed
 * peers, sessions and trie nodes are reused instead of touching more of
 * their arrays. */
static void test_peer_index(void)
{
	enum { CAP = 512, N = 300 };
	struct node a;
	net_reset();
	memset(&a, 0, sizeof(a));
	uint8_t priv[32];
	test_rng_fill(NULL, priv, sizeof(priv));
	struct tunnel_engine_config cfg = {
		.private_key = priv,
		.rng = &test_rng,
		.capacity = CAP,
		.is_authorized = auth_cb,
		.auth_ctx = &a,
		.out = {.ctx = &a, .send_datagram = send_cb, .deliver_packet = deliver_cb},
	};
	CHECK(tunnel_engine_init(&a.e, &cfg) == 0, "init");
	CHECK(a.e.peer_pool.high == 0 && a.e.sessions.session_pool.high == 0 && a.e.routes.nodes.high == 0,
	      "nothing touched at init");
	static struct tunnel_peer_config pc[N];
	static struct allowedips_prefix ip[N];
	struct tunnel_peer *p[N];
	for (unsigned i = 0; i < N; i++) {
		memset(&pc[i], 0, sizeof(pc[i]));
		test_rng_fill(NULL, pc[i].public_key, NOISE_PUBLIC_KEY_LEN);
		pc[i].public_key[0] = (uint8_t)i; /* distinct even if the PRNG repeated */
		pc[i].public_key[1] = (uint8_t)(i >> 8);
		char text[32];
		snprintf(text, sizeof(text), "10.%u.%u.1", i >> 8, i & 0xff);
		ip[i].ip = ip_parse(text);
		ip[i].cidr = 32;
		pc[i].allowed_ips = &ip[i];
		pc[i].n_allowed_ips = 1;
		pc[i].endpoint = sa4("203.0.113.1", (uint16_t)(1000 + i));
		CHECK(tunnel_engine_add_initiator(&a.e, &pc[i], now, &p[i]) == 0, "add %u", i);
	}
	CHECK(tunnel_engine_add_initiator(&a.e, &pc[7], now, NULL) == -EEXIST, "a known key is refused");
	unsigned found = 0;
	for (unsigned i = 0; i < N; i++)
		found += tunnel_peer_find(&a.e, pc[i].public_key) == p[i];
	CHECK(found == N, "all %u peers found (%u)", N, found);
	for (unsigned i = 0; i < N; i += 3)
		tunnel_peer_remove(&a.e, p[i]);
	unsigned ok = 0;
	for (unsigned i = 0; i < N; i++)
		ok += i % 3 ? tunnel_peer_find(&a.e, pc[i].public_key) == p[i]
		            : tunnel_peer_find(&a.e, pc[i].public_key) == NULL;
	CHECK(ok == N, "after removing every third: %u of %u right", ok, N);
	for (unsigned i = 0; i < N; i++) {
		void *route = allowedips_lookup(&a.e.routes, &ip[i].ip);
		CHECK(i % 3 ? route == p[i] : route == NULL, "route of peer %u", i);
	}
	uint32_t peers_high = a.e.peer_pool.high, sessions_high = a.e.sessions.session_pool.high;
	uint32_t nodes_high = a.e.routes.nodes.high;
	for (unsigned i = 0; i < N; i += 3)
		CHECK(tunnel_engine_add_initiator(&a.e, &pc[i], now, &p[i]) == 0, "re-add %u", i);
	CHECK(a.e.npeers == N && a.e.peer_pool.high == peers_high && a.e.sessions.session_pool.high == sessions_high &&
	      a.e.routes.nodes.high == nodes_high, "freed objects reused: peers %u sessions %u nodes %u",
	      a.e.peer_pool.high, a.e.sessions.session_pool.high, a.e.routes.nodes.high);
	found = 0;
	for (unsigned i = 0; i < N; i++)
		found += tunnel_peer_find(&a.e, pc[i].public_key) == p[i] &&
		         allowedips_lookup(&a.e.routes, &ip[i].ip) == p[i];
	CHECK(found == N, "all found again with their routes (%u)", found);
	tunnel_engine_free(&a.e);
}

/* The static-static DH taken from the config (noise.h): used when it was
 * made for the engine's key, ignored otherwise. */
static void test_static_static(void)
{
	struct node a, b;
	pair_init(&a, &b);
	struct tunnel_peer_config *ca = &b.auth[0];
	const uint8_t *bpub = tunnel_engine_public_key(&b.e);
	CHECK(tunnel_peer_config_precompute(ca, b.priv, bpub) == 0 && ca->has_static_static, "precompute");
	establish(&a, &b);
	/* A wrong value for the right key is used, so the handshake fails:
	 * the precomputed DH is really what the responder mixes in. */
	ca->static_static[0] ^= 1;
	now += REKEY_AFTER_TIME_NS + NS_PER_SEC;
	uint64_t refused = b.e.rx_count[TUNNEL_RX_DROP_HANDSHAKE];
	exchange(&a, &b, "10.9.0.1", "10.9.0.2", 10, 1); /* old keypair, and a rekey initiation */
	CHECK(b.e.rx_count[TUNNEL_RX_DROP_HANDSHAKE] == refused + 1, "corrupt precomputed DH refused");
	/* Made for another key (the server's key changed since): ignored. */
	ca->static_static_for[0] ^= 1;
	now += REKEY_TIMEOUT_NS + REKEY_TIMEOUT_JITTER_MAX_NS;
	tunnel_engine_handle_expiry(&a.e, now, wall_base + now);
	uint64_t done = b.e.rx_count[TUNNEL_RX_HANDSHAKE];
	pump();
	CHECK(b.e.rx_count[TUNNEL_RX_HANDSHAKE] == done + 1, "precomputed DH for another key ignored");
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 300, 7), "data on the new keypair");
	node_free(&a);
	node_free(&b);
}

/* A reload re-configures every peer; one whose allowed IPs did not change
 * keeps its trie nodes (no remove and insert), yet a prefix another peer
 * took meanwhile comes back, and a changed list replaces the old one. */
static void test_reload_routes(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	struct tunnel_peer *pa = tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e));
	struct tunnel_ip a1 = ip_parse("10.9.0.1"), a5 = ip_parse("10.9.0.5"), c7 = ip_parse("10.9.0.7");
	/* a marker only a remove-and-insert of A's prefixes would wipe */
	struct tunnel_ip mark = ip_parse("10.9.9.9");
	CHECK(allowedips_insert(&b.e.routes, &mark, 32, pa) == 0, "marker");
	tunnel_engine_authorization_changed(&b.e, now);
	CHECK(allowedips_lookup(&b.e.routes, &a1) == pa && allowedips_lookup(&b.e.routes, &mark) == pa,
	      "unchanged: A's trie nodes left alone");
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 60, 1), "traffic after the reload");

	b.auth_ips[0].ip = a5; /* A's prefix changes */
	tunnel_engine_authorization_changed(&b.e, now);
	CHECK(allowedips_lookup(&b.e.routes, &a1) == NULL && allowedips_lookup(&b.e.routes, &a5) == pa,
	      "changed: old prefix gone, new one A's");

	/* C (a configured initiator) takes A's prefix, then gives it up. */
	unsigned ci = b.n_auth++;
	struct tunnel_peer_config *cc = &b.auth[ci];
	memset(cc, 0, sizeof(*cc));
	test_rng_fill(NULL, cc->public_key, NOISE_PUBLIC_KEY_LEN);
	b.auth_ips[ci].ip = a5;
	b.auth_ips[ci].cidr = 32;
	cc->allowed_ips = &b.auth_ips[ci];
	cc->n_allowed_ips = 1;
	cc->endpoint = sa4("203.0.113.9", 51820);
	b.authorized[ci] = true;
	struct tunnel_peer *pc;
	CHECK(tunnel_engine_add_initiator(&b.e, cc, now, &pc) == 0, "C added");
	CHECK(allowedips_lookup(&b.e.routes, &a5) == pc, "C took 10.9.0.5");
	b.auth_ips[ci].ip = c7;
	tunnel_engine_authorization_changed(&b.e, now);
	CHECK(allowedips_lookup(&b.e.routes, &a5) == pa && allowedips_lookup(&b.e.routes, &c7) == pc,
	      "after C gave it up, A has 10.9.0.5 again and C 10.9.0.7");
	net_head = net_tail;
	node_free(&a);
	node_free(&b);
}

static void test_unauthorized(void)
{
	struct node a, b, c;
	pair_init(&a, &b);
	node_init(&c, "C", "203.0.113.7", 41000);
	struct tunnel_peer_config *cb = authorize(&c, &b, "10.9.0.2", true);
	CHECK(tunnel_engine_add_initiator(&c.e, cb, now, NULL) == 0, "C initiator");
	uint8_t pkt[100];
	size_t len = ip4_packet(pkt, "10.9.0.3", "10.9.0.2", 20, 1);
	CHECK(tunnel_engine_send(&c.e, pkt, len, now, wall_base + now) == TUNNEL_TX_QUEUED, "C queues");
	CHECK(pump_one() == TUNNEL_RX_DROP_UNAUTHORIZED, "B refuses C's key");
	CHECK(net_head == net_tail, "no response to an unknown key");
	CHECK(b.e.rx_count[TUNNEL_RX_DROP_UNAUTHORIZED] == 1, "counted");
	CHECK(tunnel_peer_find(&b.e, tunnel_engine_public_key(&c.e)) == NULL, "no peer for C");
	node_free(&a);
	node_free(&b);
	node_free(&c);
}

static void test_withdrawn(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	b.authorized[0] = false; /* a reload withdrew A's key */
	tunnel_engine_authorization_changed(&b.e, now);
	CHECK(tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e)) == NULL, "peer dropped at once");
	CHECK(b.e.sessions.count == 0, "session dropped");
	uint8_t pkt[100];
	size_t len = ip4_packet(pkt, "10.9.0.1", "10.9.0.2", 20, 1);
	unsigned before = b.delivered;
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "A still sends");
	CHECK(pump_one() == TUNNEL_RX_DROP_NO_SESSION, "B refuses data of a withdrawn key");
	CHECK(b.delivered == before && b.e.rx_count[TUNNEL_RX_DROP_NO_SESSION] == 1, "not delivered, counted");
	/* A's next handshake is refused too. */
	now += REKEY_TIMEOUT_NS + NS_PER_SEC;
	struct tunnel_peer *pb = tunnel_peer_find(&a.e, tunnel_engine_public_key(&b.e));
	CHECK(tunnel_peer_initiate(&a.e, pb, now, wall_base + now) == 0, "A initiates again");
	CHECK(pump_one() == TUNNEL_RX_DROP_UNAUTHORIZED, "handshake of a withdrawn key refused");
	CHECK(net_head == net_tail, "no answer");
	node_free(&a);
	node_free(&b);
}

static void test_cookie_under_load(void)
{
	struct node a, b;
	pair_init(&a, &b);
	tunnel_engine_set_under_load(&b.e, true);
	uint8_t pkt[100];
	size_t len = ip4_packet(pkt, "10.9.0.1", "10.9.0.2", 20, 1);
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_QUEUED, "queued");
	CHECK(pump_one() == TUNNEL_RX_COOKIE_SENT, "no mac2 under load: cookie reply");
	CHECK(net_tail - net_head == 1 && net[net_head % MAX_DGRAMS].len == MESSAGE_COOKIE_LEN, "cookie reply sent");
	CHECK(pump_one() == TUNNEL_RX_COOKIE, "A consumes the cookie");
	CHECK(tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e)) == NULL, "B did no handshake work");
	/* The retransmission after REKEY_TIMEOUT (+ jitter) carries mac2. */
	now += REKEY_TIMEOUT_NS + REKEY_TIMEOUT_JITTER_MAX_NS;
	tunnel_engine_handle_expiry(&a.e, now, wall_base + now);
	CHECK(net_tail - net_head == 1 && net[net_head % MAX_DGRAMS].bytes[0] == MESSAGE_HANDSHAKE_INITIATION,
	      "retransmitted initiation");
	CHECK(pump_one() == TUNNEL_RX_HANDSHAKE, "initiation with mac2 accepted under load");
	pump();
	CHECK(b.delivered == 1 && b.last_delivered_len == len && !memcmp(b.last_delivered, pkt, len),
	      "queued packet arrives after the cookie round");
	node_free(&a);
	node_free(&b);
}

static void test_ratelimit(void)
{
	struct node a, b;
	pair_init(&a, &b);
	struct tunnel_peer *pb = tunnel_peer_find(&a.e, tunnel_engine_public_key(&b.e));
	/* Eight distinct, valid initiations from one source at one instant. */
	for (int i = 0; i < 8; i++)
		CHECK(tunnel_peer_initiate(&a.e, pb, now, wall_base + now + (uint64_t)i * NS_PER_SEC) == 0, "init %d", i);
	unsigned n = net_tail - net_head;
	struct dgram inits[8];
	for (unsigned i = 0; i < n && i < 8; i++)
		inits[i] = net[(net_head + i) % MAX_DGRAMS];
	net_head = net_tail;
	int ok = 0, limited = 0;
	for (unsigned i = 0; i < n && i < 8; i++) {
		enum tunnel_rx_verdict v = tunnel_engine_recv(&b.e, -1, &inits[i].from, &b.addr, inits[i].bytes, inits[i].len,
		                                              now, wall_base + now);
		ok += v == TUNNEL_RX_HANDSHAKE;
		limited += v == TUNNEL_RX_DROP_RATELIMIT;
	}
	CHECK(ok == HANDSHAKES_BURSTABLE && limited == 8 - HANDSHAKES_BURSTABLE, "burst 5 then limited (%d ok, %d)",
	      ok, limited);
	CHECK(b.e.rx_count[TUNNEL_RX_DROP_RATELIMIT] == 3, "counted");
	net_head = net_tail;
	node_free(&a);
	node_free(&b);
}

static void test_replay(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	uint8_t pkt[200];
	size_t len = ip4_packet(pkt, "10.9.0.1", "10.9.0.2", 80, 4);
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "sent");
	struct dgram copy = net[net_head % MAX_DGRAMS];
	CHECK(pump_one() == TUNNEL_RX_DATA, "original delivered");
	unsigned before = b.delivered;
	CHECK(tunnel_engine_recv(&b.e, -1, &copy.from, &b.addr, copy.bytes, copy.len, now, wall_base + now) ==
	          TUNNEL_RX_DROP_REPLAY, "replayed packet dropped");
	CHECK(b.delivered == before && b.e.rx_count[TUNNEL_RX_DROP_REPLAY] == 1, "not delivered, counted");
	/* A tampered copy with a fresh counter fails authentication. */
	copy = net[0];
	tunnel_engine_send(&a.e, pkt, len, now, wall_base + now);
	copy = net[net_head % MAX_DGRAMS];
	net_head = net_tail;
	copy.bytes[copy.len - 1] ^= 1;
	CHECK(tunnel_engine_recv(&b.e, -1, &copy.from, &b.addr, copy.bytes, copy.len, now, wall_base + now) ==
	          TUNNEL_RX_DROP_AUTH, "tampered packet dropped");
	node_free(&a);
	node_free(&b);
}

static void test_roaming(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	a.source = sa4("192.0.2.99", 50000); /* NAT rebinding */
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 60, 8), "data from the new address");
	struct tunnel_peer *pa = tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e));
	CHECK(pa && pa->session && tunnel_sockaddr_equal(&pa->session->remote, &a.source), "session moved");
	CHECK(session_lookup_addr(&b.e.sessions, &a.addr) == NULL, "old address free");
	unsigned mark = net_tail;
	CHECK(exchange(&b, &a, "10.9.0.2", "10.9.0.1", 70, 9), "reply reaches the new address");
	CHECK(tunnel_sockaddr_equal(&net[mark % MAX_DGRAMS].to, &a.source), "sent to the new address");
	node_free(&a);
	node_free(&b);
}

static void test_allowed_ips(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	uint8_t pkt[200];
	size_t len = ip4_packet(pkt, "10.9.0.77", "10.9.0.2", 30, 1);
	unsigned before = b.delivered;
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_SENT, "A routes by destination");
	CHECK(pump_one() == TUNNEL_RX_DROP_ALLOWED_IPS, "spoofed inner source dropped");
	CHECK(b.delivered == before && b.e.rx_count[TUNNEL_RX_DROP_ALLOWED_IPS] == 1, "counted");
	len = ip4_packet(pkt, "10.9.0.1", "10.9.9.9", 30, 1);
	CHECK(tunnel_engine_send(&a.e, pkt, len, now, wall_base + now) == TUNNEL_TX_DROP_NO_ROUTE, "no route");
	CHECK(tunnel_engine_send(&a.e, pkt, 3, now, wall_base + now) == TUNNEL_TX_DROP_MALFORMED, "not IP");
	node_free(&a);
	node_free(&b);
}

static bool is_drop(enum tunnel_rx_verdict v)
{
	return v >= TUNNEL_RX_DROP_MALFORMED && v < TUNNEL_RX__COUNT;
}

static void test_garbage(void)
{
	struct node a, b;
	pair_init(&a, &b);
	establish(&a, &b);
	struct tunnel_peer *pa = tunnel_peer_find(&b.e, tunnel_engine_public_key(&a.e));
	uint32_t live_idx = pa->session->slot[pa->session->current]->kp.local_index;
	uint8_t buf[256];
	uint64_t total = 0, bad = 0;
	const uint8_t types[] = {0, 1, 2, 3, 4, 5, 0x41, 0xff};
	for (int round = 0; round < 3; round++)
		for (size_t t = 0; t < sizeof(types); t++)
			for (size_t len = 0; len <= 200; len++) {
				for (size_t i = 0; i < sizeof(buf); i++)
					buf[i] = (uint8_t)rnd64();
				if (len > 0)
					buf[0] = types[t];
				if (len > 3 && round < 2)
					buf[1] = buf[2] = buf[3] = 0;
				if (len >= 8 && round == 1) /* a live receiver index */
					memcpy(buf + 4, &live_idx, 4);
				enum tunnel_rx_verdict v =
					tunnel_engine_recv(&b.e, -1, &a.source, &b.addr, buf, len, now, wall_base + now);
				total++;
				bad += !is_drop(v);
				net_head = net_tail; /* drop any cookie replies etc. */
			}
	for (int i = 0; i < 5000; i++) {
		size_t len = rnd_below(sizeof(buf));
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd64();
		bad += !is_drop(tunnel_engine_recv(&b.e, -1, &a.source, &b.addr, buf, len, now, wall_base + now));
		total++;
	}
	CHECK(bad == 0, "%llu of %llu garbage datagrams not dropped", (unsigned long long)bad,
	      (unsigned long long)total);
	uint64_t drops = 0;
	for (int v = TUNNEL_RX_DROP_MALFORMED; v < TUNNEL_RX__COUNT; v++)
		drops += b.e.rx_count[v];
	CHECK(drops == total, "every drop counted (%llu of %llu)", (unsigned long long)drops,
	      (unsigned long long)total);
	printf("garbage: malformed %llu mac %llu no_session %llu auth %llu ratelimit %llu\n",
	       (unsigned long long)b.e.rx_count[TUNNEL_RX_DROP_MALFORMED],
	       (unsigned long long)b.e.rx_count[TUNNEL_RX_DROP_MAC],
	       (unsigned long long)b.e.rx_count[TUNNEL_RX_DROP_NO_SESSION],
	       (unsigned long long)b.e.rx_count[TUNNEL_RX_DROP_AUTH],
	       (unsigned long long)b.e.rx_count[TUNNEL_RX_DROP_RATELIMIT]);
	/* The session still works. */
	CHECK(exchange(&a, &b, "10.9.0.1", "10.9.0.2", 44, 1), "session survives garbage");
	node_free(&a);
	node_free(&b);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	test_handshake_data_keepalive_rekey();
	test_peer_index();
	test_static_static();
	test_reload_routes();
	test_unauthorized();
	test_withdrawn();
	test_cookie_under_load();
	test_ratelimit();
	test_replay();
	test_roaming();
	test_allowed_ips();
	test_garbage();
	printf("send actions: %u carried the socket the peer reached, %u another one\n", sends_with_sock,
	       sends_wrong_sock);
	CHECK(sends_with_sock > 0 && sends_wrong_sock == 0, "the send action carries the receiving socket");
	return check_report("test_engine");
}
