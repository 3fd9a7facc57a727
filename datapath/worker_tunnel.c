/* The worker's tunnel side: the engine's callbacks, the TUN queue (reads
 * segmented and routed to the peer's worker, decrypted packets written),
 * initiators on sockets of their own, tunnel datagrams handed to the worker
 * that holds their session, and the peers published for GET /peers. */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath/worker_internal.h"

/* The engine's peers for GET /peers: a sequence lock (odd while writing)
 * around relaxed word stores, so a reader never mixes two peers' words. */
struct publish_ctx {
	struct worker *w;
	uint64_t now, wall;
	unsigned n;
	uint64_t sessions;
};

static bool publish_peer(void *ctx, const struct tunnel_peer_view *v)
{
	struct publish_ctx *c = ctx;
	struct worker *w = c->w;
	/* peer_snap_cap is the engine's capacity: one pass sees every peer */
	if (c->n >= w->peer_snap_cap)
		return false;
	c->sessions += v->has_session;
	struct worker_peer_stat ps;
	memset(&ps, 0, sizeof(ps));
	memcpy(ps.public_key, v->public_key, sizeof(ps.public_key));
	ps.endpoint = v->endpoint;
	ps.rx_bytes = v->rx_bytes;
	ps.tx_bytes = v->tx_bytes;
	if (v->last_handshake && v->last_handshake <= c->now)
		ps.last_handshake_ns = c->wall - (c->now - v->last_handshake);
	ps.rx_packets = v->rx_packets;
	ps.tx_packets = v->tx_packets;
	const uint64_t *src = (const uint64_t *)&ps;
	uint64_t *dst = (uint64_t *)&w->peer_snap[c->n++];
	for (size_t k = 0; k < sizeof(ps) / sizeof(uint64_t); k++)
		__atomic_store_n(&dst[k], src[k], __ATOMIC_RELAXED);
	return true;
}

void peers_publish(struct worker *w)
{
	if (!w->peer_snap)
		return;
	struct publish_ctx c = {.w = w, .now = ring_now(), .wall = wall_ns()};
	uint64_t seq = atomic_load_explicit(&w->peer_seq, memory_order_relaxed);
	atomic_store_explicit(&w->peer_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	tunnel_engine_foreach_peer(w->tunnel, publish_peer, &c);
	w->st.tunnel_sessions = c.sessions;
	w->st.tunnel_capacity = w->tunnel->capacity;
	atomic_store_explicit(&w->peer_n, c.n, memory_order_relaxed);
	atomic_store_explicit(&w->peer_seq, seq + 2, memory_order_release);
}

unsigned worker_peers_read(const struct worker *w, struct worker_peer_stat *out, unsigned cap)
{
	_Static_assert(sizeof(struct worker_peer_stat) % sizeof(uint64_t) == 0, "words");
	if (!w->peer_snap)
		return 0;
	for (int tries = 0; tries < 1000; tries++) {
		struct worker *mw = (struct worker *)w;
		uint64_t s1 = atomic_load_explicit(&mw->peer_seq, memory_order_acquire);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		unsigned n = (unsigned)atomic_load_explicit(&mw->peer_n, memory_order_relaxed);
		if (n > cap)
			n = cap;
		for (unsigned i = 0; i < n; i++) {
			const uint64_t *src = (const uint64_t *)&w->peer_snap[i];
			uint64_t *dst = (uint64_t *)&out[i];
			for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
				dst[k] = __atomic_load_n(&src[k], __ATOMIC_RELAXED);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&mw->peer_seq, memory_order_relaxed) == s1)
			return n;
	}
	return 0;
}

static int initiator_sock(struct worker *w, const rg_sockaddr *to, const rg_sockaddr *from);

static void tunnel_send(void *ctx, int sock, const rg_sockaddr *to, const rg_sockaddr *from,
                        const uint8_t *bytes, size_t len)
{
	struct worker *w = ctx;
	/* a reply, and whatever goes to a peer that reached us, leaves by the
	 * socket the peer reached (the engine hands it back); an initiation
	 * to a configured endpoint by our initiator socket, else the tunnel
	 * socket of the peer's family */
	int fam = to->sa.sa_family == AF_INET6;
	if (sock < 0 || sock >= WORKER_MAX_SOCKS || w->kind_of[sock] != LISTENER_TUNNEL)
		sock = initiator_sock(w, to, from);
	if (sock < 0)
		sock = w->tunnel_sock[fam];
	if (sock < 0) {
		w->st.drops[DP_DROP_NO_HANDLER]++;
		return;
	}
	ring_send(w->ring, (unsigned)sock, to, from && from->sa.sa_family ? from : NULL, bytes, len);
}

static void tunnel_deliver(void *ctx, struct tunnel_peer *peer, const uint8_t *bytes, size_t len)
{
	struct worker *w = ctx;
	/* The peer's TUN packets already come here: the owner map was claimed
	 * when its handshake (or a keepalive) reached this worker
	 * (claim_remote), the only moments a session changes workers. */
	(void)peer;
	if (!w->tunq) {
		w->st.drops[DP_DROP_NO_TUN]++;
		return;
	}
	if (tun_queue_write(w->tunq, bytes, len))
		w->st.drops[DP_DROP_TUN_WRITE]++;
}

/* The socket for a datagram the engine's timers send: ours for the
 * endpoints this worker initiated to (or when the peer last reached us on
 * it), else -1 (the listener of the family). */
static int initiator_sock(struct worker *w, const rg_sockaddr *to, const rg_sockaddr *from)
{
	int fam = to->sa.sa_family == AF_INET6;
	if (w->init_sock[fam] < 0)
		return -1;
	if (from && from->sa.sa_family) {
		uint16_t port = from->sa.sa_family == AF_INET6 ? from->in6.sin6_port : from->in4.sin_port;
		if (port == w->init_port[fam])
			return w->init_sock[fam];
	}
	for (unsigned i = 0; i < w->n_init; i++)
		if (tunnel_sockaddr_equal(&w->init_ep[i], to))
			return w->init_sock[fam];
	return -1;
}

/* ---- the TUN side ---- */

static void seg_emit(void *ctx, const uint8_t *pkt, size_t len)
{
	struct worker *w = ctx;
	w->st.tun_segments++;
	tunnel_engine_send(w->tunnel, pkt, len, w->seg_now, w->seg_wall);
}

/* A TUN read (vnet header + packet) whose peer is on this worker:
 * segment it and let the engine route, encrypt and send each packet. */
static void tun_local(struct worker *w, uint8_t *buf, size_t len, uint64_t now)
{
	struct tun_vnet_hdr h;
	if (len <= TUN_VNET_HDR_LEN) {
		w->st.drops[DP_DROP_TUN_BAD_VNET]++;
		return;
	}
	tun_vnet_hdr_read(buf, &h);
	w->seg_now = now;
	w->seg_wall = wall_ns();
	if (tun_vnet_segment(&h, buf + TUN_VNET_HDR_LEN, len - TUN_VNET_HDR_LEN, w->seg_scratch, TUN_READ_BUF,
	                     seg_emit, w) < 0)
		w->st.drops[DP_DROP_TUN_BAD_VNET]++;
}

/* Which worker's engine is to send this TUN packet: the owner of the peer
 * its destination routes to; for a peer nobody owns yet, the designated
 * initiator when it has an endpoint, else this worker (whose engine then
 * counts no_route / no_endpoint). */
static unsigned tun_target(struct worker *w, const uint8_t *pkt, size_t len)
{
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	if (!w->shard || tunnel_shard_workers(w->shard) < 2 || !wg || !wg->tunnel_routes || len < 20)
		return w->id;
	int fam;
	const uint8_t *dst;
	if (pkt[0] >> 4 == 4) {
		fam = AF_INET;
		dst = pkt + 16;
	} else if (pkt[0] >> 4 == 6 && len >= 40) {
		fam = AF_INET6;
		dst = pkt + 24;
	} else {
		return w->id;
	}
	const struct tunnel_peer_config *pc = allowedips_lookup_raw(wg->tunnel_routes, fam, dst);
	if (!pc)
		return w->id;
	int owner = tunnel_shard_owner(w->shard, pc->public_key);
	if (owner >= 0 && (unsigned)owner < tunnel_shard_workers(w->shard))
		return (unsigned)owner;
	if (pc->endpoint.sa.sa_family)
		return tunnel_shard_designated(w->shard, pc->public_key);
	return w->id;
}

static void on_tun_read(void *ctx, uint8_t *buf, size_t len)
{
	struct worker *w = ctx;
	if (!w->tunnel)
		return;
	unsigned to = len > TUN_VNET_HDR_LEN ? tun_target(w, buf + TUN_VNET_HDR_LEN, len - TUN_VNET_HDR_LEN) : w->id;
	if (to == w->id) {
		tun_local(w, buf, len, ring_now());
		return;
	}
	if (handoff_send(w, to, HANDOFF_TUN_PACKET, 0, NULL, NULL, buf, len) < 0) {
		/* full ring, or the owner not running: its session lives
		 * there, so the packet is dropped and counted */
		w->st.drops[DP_DROP_HANDOFF_FULL]++;
		return;
	}
	w->st.handoff_out++;
}

/* A TUN read another worker handed over (handoff.h): its peer is ours. */
void tunnel_tun_handoff_recv(struct worker *w, uint8_t *p, size_t len, uint64_t now)
{
	if (!w->tunnel)
		return;
	w->st.handoff_in++;
	tun_local(w, p, len, now);
}

/* Open this worker's initiator socket of a family (ephemeral port). */
static int init_sock_open(struct worker *w, int fam6)
{
	if (w->init_sock[fam6] >= 0)
		return 0;
	rg_sockaddr a;
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = fam6 ? AF_INET6 : AF_INET;
	int fd = ring_udp_open(&a, w->ropts.gro);
	if (fd < 0)
		return fd;
	int idx = ring_sock_add(w->ring, fd);
	if (idx < 0 || idx >= WORKER_MAX_SOCKS) {
		if (idx >= 0)
			ring_sock_remove(w->ring, (unsigned)idx);
		else
			close(fd);
		return idx < 0 ? idx : -ENOSPC;
	}
	rg_sockaddr got;
	if (!ring_sock_addr(w->ring, (unsigned)idx, &got))
		w->init_port[fam6] = fam6 ? got.in6.sin6_port : got.in4.sin_port;
	w->kind_of[idx] = LISTENER_TUNNEL;
	w->init_sock[fam6] = idx;
	return 0;
}

/* [peer] sections with an endpoint: the designated worker (shard.h)
 * initiates, from its own socket. Runs at start and after each reload. */
void initiators_sync(struct worker *w)
{
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	if (!w->tunnel || !wg)
		return;
	for (unsigned i = 0; i < wg->n_tunnel_peers; i++) {
		const struct tunnel_peer_config *pc = &wg->tunnel_peers[i];
		if (!pc->endpoint.sa.sa_family)
			continue;
		unsigned d = w->shard ? tunnel_shard_designated(w->shard, pc->public_key) : 0;
		if (d != w->id || tunnel_peer_find(w->tunnel, pc->public_key))
			continue;
		int fam6 = pc->endpoint.sa.sa_family == AF_INET6;
		int err = init_sock_open(w, fam6);
		if (!err)
			err = tunnel_engine_add_initiator(w->tunnel, pc, ring_now(), NULL);
		if (err) {
			wlog(w, LOG_WARN, "worker %u: cannot initiate to a peer: %s", w->id, strerror(-err));
			continue;
		}
		if (w->n_init < MAX_INITIATED)
			w->init_ep[w->n_init++] = pc->endpoint;
		if (w->shard)
			tunnel_shard_claim_if_free(w->shard, pc->public_key, w->id);
	}
}

static int key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const struct tunnel_peer_config *)elem)->public_key, NOISE_PUBLIC_KEY_LEN);
}

/* The authorization layer: the generation this worker holds says which
 * keys may have a tunnel, so a reload that withdraws a key takes effect
 * at this worker's next turn. */
static const struct tunnel_peer_config *tunnel_authorize(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN],
                                                         uint64_t now)
{
	struct worker *w = ctx;
	(void)now;
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	if (!wg || !wg->n_tunnel_peers)
		return NULL;
	return bsearch(key, wg->tunnel_peers, wg->n_tunnel_peers, sizeof(*wg->tunnel_peers), key_cmp);
}

int tunnel_start(struct worker *w)
{
	w->tunnel = calloc(1, sizeof(*w->tunnel));
	if (!w->tunnel)
		return -ENOMEM;
	struct tunnel_engine_config c = {
		.private_key = w->tunnel_key,
		.capacity = w->tunnel_capacity,
		.mtu = w->tunnel_mtu,
		.is_authorized = tunnel_authorize,
		.auth_ctx = w,
		.out = {.ctx = w, .send_datagram = tunnel_send, .deliver_packet = tunnel_deliver},
	};
	/* Our receiver indices name this worker in their low byte: a message
	 * for one of our sessions that the kernel's reuseport hash sends to
	 * another worker (the peer roamed to a new address or port) is handed
	 * here, and the session follows the peer instead of being rebuilt. */
	if (w->peers && w->n_peers > 1 && w->n_peers <= 256) {
		c.index_tag = w->id;
		c.index_tag_mask = 0xff;
	}
	int err = tunnel_engine_init(w->tunnel, &c);
	explicit_bzero(w->tunnel_key, sizeof(w->tunnel_key));
	if (err) {
		free(w->tunnel);
		w->tunnel = NULL;
		return err;
	}
	w->peer_snap_cap = w->tunnel->capacity;
	w->peer_snap = calloc(w->peer_snap_cap, sizeof(*w->peer_snap));
	if (!w->peer_snap)
		err = -ENOMEM;
	if (!err && w->tun_fd >= 0) {
		w->seg_scratch = malloc(TUN_READ_BUF);
		err = w->seg_scratch ? tun_queue_create(w->ring, w->tun_fd, w->tunnel->mtu, on_tun_read, w, &w->tunq)
		                     : -ENOMEM;
		if (!err)
			w->tun_fd = -1; /* the queue's now */
	}
	if (err) {
		free(w->seg_scratch);
		w->seg_scratch = NULL;
		free(w->peer_snap);
		w->peer_snap = NULL;
		tunnel_engine_free(w->tunnel);
		free(w->tunnel);
		w->tunnel = NULL;
	}
	return err;
}

/* A handshake completed (or a keepalive came) from `from`: the peer's
 * session is on this worker now, so its TUN packets are to come here
 * before its first data packet does (a roamed peer moves at once). Rare:
 * a table lookup is fine. */
static void claim_remote(struct worker *w, const rg_sockaddr *from)
{
	const uint8_t *key = tunnel_engine_peer_key_at(w->tunnel, from);
	if (key)
		tunnel_shard_claim(w->shard, key, w->id);
}

/* A run of datagrams of one listener kind goes to its protocol core. */

int worker_tunnel_steer(int fd, unsigned n_workers)
{
	/* Without the worker tag in the receiver indices there is nothing to
	 * steer by (tunnel_start: 2 to 256 workers). */
	if (n_workers < 2 || n_workers > 256)
		return 0;
	/* Classic BPF run by the kernel's reuseport selection on the UDP
	 * payload (the header is pulled first); its result is the index of
	 * the socket in the group, i.e. the worker, as control binds worker
	 * i's socket i-th. Messages addressed to one of our indices return
	 * its low byte; anything else returns an index past the group, which
	 * makes the kernel fall back to its 4-tuple hash (initiations: any
	 * worker may answer). Little-endian indices (engine.h). */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),          /* 0: A = message type */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 2, 0),   /* 1: data: index at 4 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, 1, 0),   /* 2: cookie reply: at 4 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 2, 4),   /* 3: response: at 8; else 8 */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 4),          /* 4 */
		BPF_STMT(BPF_RET | BPF_A, 0),                   /* 5 */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),          /* 6 */
		BPF_STMT(BPF_RET | BPF_A, 0),                   /* 7 */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),         /* 8: the kernel's hash */
	};
	return worker_steer_attach(fd, code, sizeof(code) / sizeof(code[0]));
}

/* The worker owning the session a tunnel datagram is addressed to, when
 * that is another worker of the group; -1: ours, or an initiation. */
static int tunnel_owner(const struct worker *w, const struct ring_dgram *d)
{
	if (!w->peers || w->n_peers < 2 || w->n_peers > 256)
		return -1;
	uint32_t idx = tunnel_receiver_index(d->data, d->len);
	if (!idx)
		return -1;
	unsigned owner = idx & 0xff;
	return owner != w->id && owner < w->n_peers ? (int)owner : -1;
}

/* A tunnel datagram another worker received for one of our sessions: as
 * if it had come in here, replies leaving by our socket for its address. */
void tunnel_handoff_recv(struct worker *w, struct ring_dgram *d)
{
	int sock = w->tunnel ? sock_for(w, &d->local, LISTENER_TUNNEL) : -1;
	if (sock < 0) {
		w->st.drops[DP_DROP_HANDOFF_NO_SOCK]++;
		return;
	}
	w->st.tunnel_handoffs_in++;
	enum tunnel_rx_verdict v = tunnel_engine_recv(w->tunnel, sock, &d->peer, &d->local, d->data, d->len,
	                                              ring_now(), wall_ns());
	if ((v == TUNNEL_RX_HANDSHAKE || v == TUNNEL_RX_KEEPALIVE) && w->shard)
		claim_remote(w, &d->peer);
}

/* A batch of datagrams from the tunnel sockets: ours to the engine, those
 * addressed to another worker's session handed to it. */
void tunnel_recv(struct worker *w, struct ring_dgram *d, unsigned n, uint64_t now)
{
	uint64_t wall = wall_ns();
	for (unsigned i = 0; i < n; i++) {
		int owner = tunnel_owner(w, &d[i]);
		if (owner >= 0) {
			if (handoff_post(w, &d[i], (unsigned)owner, HANDOFF_TUNNEL_DGRAM) == 0)
				w->st.tunnel_handoffs_out++;
			else
				w->st.tunnel_handoffs_dropped++;
			continue;
		}
		enum tunnel_rx_verdict v = tunnel_engine_recv(w->tunnel, d[i].sock, &d[i].peer, &d[i].local,
		                                              d[i].data, d[i].len, now, wall);
		if ((v == TUNNEL_RX_HANDSHAKE || v == TUNNEL_RX_KEEPALIVE) && w->shard)
			claim_remote(w, &d[i].peer);
	}
}
