#include "datapath/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datapath/tunnel/shard.h"
#include "datapath/tunnel/tun.h"

#define WORKER_MAX_SOCKS 256
#define TUN_WRITE_SLOTS 1024
#define MAX_INITIATED 64
#define STATS_PERIOD_NS (100ull * 1000 * 1000)

struct worker {
	unsigned id;
	int cpu;
	struct gen_pub *pub;
	struct gen *gen;
	struct ring *ring;
	struct ring_chan *chan;
	struct ring_opts ropts;
	log_fn log;
	struct quic_params quic_params;
	bool has_quic;
	struct quic_server *quic;
	struct proxy *proxy; /* the quic server's on_request, with QUIC */
	struct quic_tx tx; /* the ring as the protocol cores' send interface */
	uint8_t tunnel_key[32];
	bool has_tunnel;
	struct tunnel_engine *tunnel;
	int tunnel_sock[2]; /* a tunnel socket per family (0: IPv4, 1: IPv6), -1: none */
	int cur_sock;       /* the socket of the datagram being handled, -1: none */
	unsigned tunnel_mtu;
	struct tunnel_shard *shard; /* NULL: no [tunnel] */
	int tun_fd;                 /* until the queue takes it, -1: no TUN */
	struct tun_queue *tunq;
	uint8_t *seg_scratch;       /* one GSO segment being built (vnet.h) */
	uint64_t seg_now, seg_wall; /* time of the TUN read being segmented */
	/* Peers this worker initiates to ([peer] endpoint, shard.h designated):
	 * their datagrams use a socket of our own, bound to an ephemeral port,
	 * so the answers come back to this worker whatever the reuseport hash. */
	int init_sock[2];           /* ring socket index per family, -1: none yet */
	uint16_t init_port[2];      /* its port, network order */
	rg_sockaddr init_ep[MAX_INITIATED];
	unsigned n_init;
	/* published peers (worker_peers_read), a sequence lock over words */
	struct worker_peer_stat *peer_snap;
	unsigned peer_snap_cap;
	_Atomic uint64_t peer_seq;
	_Atomic uint64_t peer_n;
	pthread_t thread;
	bool stop;
	bool draining;          /* WORKER_MSG_DRAIN seen */
	uint64_t drain_deadline;
	_Atomic bool drained;   /* read by the control thread */
	struct worker **peers; /* QUIC hand-off: the group, by id (may be NULL) */
	unsigned n_peers;
	bool stop_posted, joined; /* control thread only: group stop */
	/* start-up hand-shake: the thread reports ring creation */
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;
	int start_err; /* 1: pending */
	enum ring_backend backend;

	struct {
		int fd;           /* as the control thread sent it, -1: free */
		int idx;          /* ring socket index */
		uint8_t kind;
	} socks[WORKER_MAX_SOCKS];
	uint8_t kind_of[WORKER_MAX_SOCKS]; /* ring socket index -> kind */

	struct worker_stats st;   /* worker thread's own */
	struct worker_stats snap; /* published copy, read by control */
	uint64_t snap_at;
	bool snap_dirty; /* counters moved since the last publish */
};

static void wlog(struct worker *w, enum log_level l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void wlog(struct worker *w, enum log_level l, const char *fmt, ...)
{
	if (!w->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	w->log(l, fmt, ap);
	va_end(ap);
}

const char *dp_drop_name(enum dp_drop d)
{
	static const char *const n[DP_DROP_MAX] = {
		[DP_DROP_NO_HANDLER] = "no_handler",
		[DP_DROP_EMPTY] = "empty",
		[DP_DROP_NO_TUN] = "no_tun",
		[DP_DROP_TUN_BAD_VNET] = "tun_bad_vnet",
		[DP_DROP_TUN_NO_ROUTE] = "tun_no_route",
		[DP_DROP_TUN_WRITE] = "tun_write",
		[DP_DROP_HANDOFF_FULL] = "handoff_full",
		[DP_DROP_HANDOFF_NO_SOCK] = "handoff_no_socket",
	};
	return d < DP_DROP_MAX ? n[d] : "unknown";
}

const char *ring_drop_name(enum ring_drop d)
{
	static const char *const n[RING_DROP_MAX] = {
		[RING_DROP_NOBUFS] = "nobufs",
		[RING_DROP_TRUNC] = "truncated",
		[RING_DROP_SEND_ERR] = "send_error",
		[RING_DROP_SEND_FULL] = "send_full",
		[RING_DROP_BAD_CMSG] = "bad_cmsg",
	};
	return d < RING_DROP_MAX ? n[d] : "unknown";
}

const char *listener_kind_name(enum listener_kind k)
{
	static const char *const n[LISTENER_KIND_MAX] = {
		[LISTENER_QUIC] = "quic",
		[LISTENER_TUNNEL] = "tunnel",
	};
	return k < LISTENER_KIND_MAX ? n[k] : "unknown";
}

static uint64_t wall_ns(void);

/* The engine's peers for GET /peers: a sequence lock (odd while writing)
 * around relaxed word stores, so a reader never mixes two peers' words. */
static void peers_publish(struct worker *w)
{
	if (!w->peer_snap)
		return;
	uint64_t now = ring_now(), wall = wall_ns();
	uint64_t seq = atomic_load_explicit(&w->peer_seq, memory_order_relaxed);
	atomic_store_explicit(&w->peer_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	unsigned n = 0;
	uint64_t sessions = 0;
	for (uint32_t i = 0; i < w->tunnel->capacity; i++)
		sessions += w->tunnel->peers[i].in_use && w->tunnel->peers[i].session;
	w->st.tunnel_sessions = sessions;
	for (uint32_t i = 0; i < w->tunnel->capacity && n < w->peer_snap_cap; i++) {
		const struct tunnel_peer *p = &w->tunnel->peers[i];
		if (!p->in_use)
			continue;
		struct worker_peer_stat ps;
		memset(&ps, 0, sizeof(ps));
		memcpy(ps.public_key, p->public_key, sizeof(ps.public_key));
		if (p->session) {
			ps.endpoint = p->session->remote;
			ps.rx_bytes = p->session->rx_bytes;
			ps.tx_bytes = p->session->tx_bytes;
		} else if (p->has_endpoint) {
			ps.endpoint = p->endpoint;
		}
		if (p->last_handshake && p->last_handshake <= now)
			ps.last_handshake_ns = wall - (now - p->last_handshake);
		ps.rx_packets = p->rx_packets;
		ps.tx_packets = p->tx_packets;
		const uint64_t *src = (const uint64_t *)&ps;
		uint64_t *dst = (uint64_t *)&w->peer_snap[n++];
		for (size_t k = 0; k < sizeof(ps) / sizeof(uint64_t); k++)
			__atomic_store_n(&dst[k], src[k], __ATOMIC_RELAXED);
	}
	atomic_store_explicit(&w->peer_n, n, memory_order_relaxed);
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

/* Publish the counters with relaxed atomic stores so the control thread's
 * relaxed loads never see a torn value. */
static void stats_publish(struct worker *w)
{
	w->st.ring = *ring_stats(w->ring);
	if (w->quic)
		w->st.quic = *quic_server_counters(w->quic);
	if (w->proxy) {
		w->st.proxy = *proxy_counters(w->proxy);
		proxy_stats_publish(w->proxy);
	}
	if (w->tunnel) {
		memcpy(w->st.tunnel_rx, w->tunnel->rx_count, sizeof(w->st.tunnel_rx));
		memcpy(w->st.tunnel_tx, w->tunnel->tx_count, sizeof(w->st.tunnel_tx));
	}
	if (w->tunq) {
		const struct tun_queue_stats *t = tun_queue_stats(w->tunq);
		w->st.tun_reads = t->rx_reads;
		w->st.tun_read_bytes = t->rx_bytes;
		w->st.tun_writes = t->tx_writes;
		w->st.tun_write_bytes = t->tx_bytes;
		w->st.tun_errors = t->rx_errors + t->tx_errors;
		w->st.tun_sync_writes = t->tx_sync;
		w->st.tun_coalesced_writes = t->tx_gro_writes;
		w->st.tun_coalesced_segments = t->tx_gro_segs;
	}
	if (w->tunnel)
		peers_publish(w);
	w->st.gen_id = w->gen ? w->gen->id : 0;
	const uint64_t *src = (const uint64_t *)&w->st;
	uint64_t *dst = (uint64_t *)&w->snap;
	for (size_t i = 0; i < sizeof(w->st) / sizeof(uint64_t); i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
}

void worker_stats_read(const struct worker *w, struct worker_stats *out)
{
	const uint64_t *src = (const uint64_t *)&w->snap;
	uint64_t *dst = (uint64_t *)out;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

enum ring_backend worker_backend(const struct worker *w)
{
	return w->backend;
}

/* The protocol cores send through the ring: same signatures. */
static uint8_t *tx_prep(void *ctx, size_t cap)
{
	return ring_send_prep(ctx, cap);
}

static int tx_commit(void *ctx, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from,
                     size_t len, size_t seg)
{
	return ring_send_commit(ctx, sock, to, from, len, seg);
}

static const struct quic_tx_ops tx_ops = {.prep = tx_prep, .commit = tx_commit};

static unsigned kind_of(const struct worker *w, const struct ring_dgram *d)
{
	unsigned k = d->sock < WORKER_MAX_SOCKS ? w->kind_of[d->sock] : LISTENER_KIND_MAX;
	return k < LISTENER_KIND_MAX ? k : LISTENER_QUIC;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the tunnel engine's outputs ---- */

static int initiator_sock(struct worker *w, const rg_sockaddr *to, const rg_sockaddr *from);

static void tunnel_send(void *ctx, const rg_sockaddr *to, const rg_sockaddr *from, const uint8_t *bytes,
                        size_t len)
{
	struct worker *w = ctx;
	/* a reply leaves by the socket the request came in on; what timers
	 * send goes out by the tunnel socket of the peer's family */
	int fam = to->sa.sa_family == AF_INET6;
	int sock = w->cur_sock >= 0 ? w->cur_sock : initiator_sock(w, to, from);
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
	/* Authenticated data from this peer reached this worker: its session
	 * is here, so TUN packets for it are to come here (shard.h). A lookup;
	 * a store only when the owner changes. */
	if (w->shard)
		tunnel_shard_claim(w->shard, peer->public_key, w->id);
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
	int r = tunnel_shard_push(w->shard, w->id, to, buf, len);
	if (r < 0) {
		w->st.drops[DP_DROP_HANDOFF_FULL]++;
		return;
	}
	w->st.handoff_out++;
	if (r == 1) {
		struct ring_msg m = {.type = WORKER_MSG_HANDOFF, .u32 = w->id};
		struct ring_chan *c = tunnel_shard_ctx(w->shard, to);
		/* a full channel: the worker is being woken anyway and looks at
		 * every hand-off ring on each channel wake-up (handoff_drain) */
		if (c)
			ring_chan_send(c, &m);
	}
}

/* Every packet other workers queued for us. */
static void handoff_drain(struct worker *w)
{
	if (!w->shard || !w->tunnel)
		return;
	unsigned n = tunnel_shard_workers(w->shard);
	uint64_t now = ring_now();
	for (unsigned from = 0; from < n; from++) {
		if (from == w->id)
			continue;
		tunnel_shard_ack(w->shard, from, w->id);
		uint8_t *p;
		size_t len;
		while ((p = tunnel_shard_peek(w->shard, from, w->id, &len)) != NULL) {
			w->st.handoff_in++;
			tun_local(w, p, len, now);
			tunnel_shard_pop(w->shard, from, w->id);
		}
	}
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
static void initiators_sync(struct worker *w)
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

static int tunnel_start(struct worker *w)
{
	w->tunnel = calloc(1, sizeof(*w->tunnel));
	if (!w->tunnel)
		return -ENOMEM;
	struct tunnel_engine_config c = {
		.private_key = w->tunnel_key,
		.capacity = 4096,
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
		err = w->seg_scratch ? tun_queue_create(w->ring, w->tun_fd, w->tunnel->mtu, TUN_WRITE_SLOTS,
		                                        on_tun_read, w, &w->tunq)
		                     : -ENOMEM;
		if (!err)
			w->tun_fd = -1; /* the queue's now */
	}
	if (!err && w->shard)
		tunnel_shard_set_ctx(w->shard, w->id, w->chan);
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
	struct session *s = session_lookup_addr(&w->tunnel->sessions, from);
	const struct tunnel_peer *p = s ? s->peer : NULL;
	if (p)
		tunnel_shard_claim(w->shard, p->public_key, w->id);
}

/* A run of datagrams of one listener kind goes to its protocol core. */
static int handoff_post(struct worker *w, const struct ring_dgram *d, unsigned owner, uint32_t type);

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

static void dispatch(struct worker *w, unsigned kind, struct ring_dgram *d, unsigned n, uint64_t now)
{
	w->st.rx_by_kind[kind] += n;
	if (kind == LISTENER_QUIC && w->quic) {
		quic_server_recv(w->quic, d, n, now, &w->tx);
		return;
	}
	if (kind == LISTENER_TUNNEL && w->tunnel) {
		uint64_t wall = wall_ns();
		for (unsigned i = 0; i < n; i++) {
			int owner = tunnel_owner(w, &d[i]);
			if (owner >= 0) {
				if (handoff_post(w, &d[i], (unsigned)owner, WORKER_MSG_TUNNEL_DGRAM) == 0)
					w->st.tunnel_handoffs_out++;
				else
					w->st.tunnel_handoffs_dropped++;
				continue;
			}
			w->cur_sock = d[i].sock;
			enum tunnel_rx_verdict v =
				tunnel_engine_recv(w->tunnel, &d[i].peer, &d[i].local, d[i].data, d[i].len, now, wall);
			if ((v == TUNNEL_RX_HANDSHAKE || v == TUNNEL_RX_KEEPALIVE) && w->shard)
				claim_remote(w, &d[i].peer);
		}
		w->cur_sock = -1;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		w->st.drops[d[i].len ? DP_DROP_NO_HANDLER : DP_DROP_EMPTY]++;
}

/* The demux: the batch is cut into runs of one listener kind (a batch
 * usually comes from one socket, so one run) and each run goes to its
 * protocol core. */
static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	struct worker *w = ctx;
	(void)r;
	uint64_t now = ring_now();
	unsigned start = 0;
	while (start < n) {
		unsigned kind = kind_of(w, &d[start]), end = start + 1;
		while (end < n && kind_of(w, &d[end]) == kind)
			end++;
		dispatch(w, kind, d + start, end - start, now);
		start = end;
	}
}

/* One deadline for the ring: the earliest of the protocol cores'. */
static void arm_timer(struct worker *w)
{
	uint64_t next = UINT64_MAX;
	if (w->quic)
		next = quic_server_next_expiry(w->quic);
	if (w->tunnel) {
		/* 0 is "nothing armed" (engine.h), not the earliest deadline:
		 * taken as a deadline it made idle workers spin */
		uint64_t t = tunnel_engine_next_expiry(w->tunnel);
		if (t && t < next)
			next = t;
	}
	if (w->proxy) {
		uint64_t t = proxy_next_expiry(w->proxy);
		if (t < next)
			next = t;
	}
	if (w->draining && !atomic_load_explicit(&w->drained, memory_order_relaxed) &&
	    w->drain_deadline < next)
		next = w->drain_deadline;
	/* counters that moved are published within a period even when the
	 * worker then goes idle */
	if (w->snap_dirty && w->snap_at + STATS_PERIOD_NS < next)
		next = w->snap_at + STATS_PERIOD_NS;
	ring_timer_set(w->ring, next == UINT64_MAX ? 0 : (next ? next : 1));
}

static void sock_add(struct worker *w, int fd, unsigned kind)
{
	int slot = -1;
	for (int i = 0; i < WORKER_MAX_SOCKS; i++)
		if (w->socks[i].fd < 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		wlog(w, LOG_ERROR, "worker %u: more than %d sockets, closing fd %d", w->id,
		     WORKER_MAX_SOCKS, fd);
		close(fd);
		return;
	}
	int idx = ring_sock_add(w->ring, fd);
	if (idx < 0 || idx >= WORKER_MAX_SOCKS) {
		wlog(w, LOG_ERROR, "worker %u: cannot add socket: %s", w->id, strerror(idx < 0 ? -idx : ENOSPC));
		if (idx >= 0)
			ring_sock_remove(w->ring, (unsigned)idx);
		else
			close(fd);
		return;
	}
	w->socks[slot].fd = fd;
	w->socks[slot].idx = idx;
	w->socks[slot].kind = (uint8_t)kind;
	w->kind_of[idx] = (uint8_t)kind;
	if (kind == LISTENER_TUNNEL) {
		rg_sockaddr a;
		if (!ring_sock_addr(w->ring, (unsigned)idx, &a) && w->tunnel_sock[a.sa.sa_family == AF_INET6] < 0)
			w->tunnel_sock[a.sa.sa_family == AF_INET6] = idx;
	}
	w->st.n_socks++;
}

static void sock_del(struct worker *w, int fd)
{
	for (int i = 0; i < WORKER_MAX_SOCKS; i++) {
		if (w->socks[i].fd != fd)
			continue;
		ring_sock_remove(w->ring, (unsigned)w->socks[i].idx);
		w->kind_of[w->socks[i].idx] = LISTENER_KIND_MAX;
		for (int f = 0; f < 2; f++)
			if (w->tunnel_sock[f] == w->socks[i].idx)
				w->tunnel_sock[f] = -1; /* the next one added takes over */
		w->socks[i].fd = -1;
		w->st.n_socks--;
		return;
	}
}

/* ---- QUIC hand-off between workers ----
 * Server CIDs name their worker (datapath/quic/cid.h). A datagram that the
 * kernel steered to another worker (NAT rebinding, migration, a reuseport
 * group that changed) is copied to the owner over its channel; the owner
 * reads it as its own, answering from its socket for the same local
 * address. Bounded by the owner's channel: full means dropped (counted by
 * the QUIC server as handoffs_dropped; QUIC recovers the loss). */
struct handoff {
	struct ring_dgram d;
	uint8_t data[];
};

#define HANDOFF_BATCH 64

static int handoff_post(struct worker *w, const struct ring_dgram *d, unsigned owner, uint32_t type)
{
	if (!w->peers || owner >= w->n_peers)
		return -ENOENT;
	struct worker *to = __atomic_load_n(&w->peers[owner], __ATOMIC_ACQUIRE);
	if (!to || to == w)
		return -ENOENT;
	struct handoff *h = malloc(sizeof(*h) + d->len);
	if (!h)
		return -ENOMEM;
	h->d = *d;
	h->d.data = h->data;
	memcpy(h->data, d->data, d->len);
	struct ring_msg m = {.type = type, .ptr = h};
	int err = ring_chan_send(to->chan, &m);
	if (err) {
		free(h);
		return err;
	}
	return 0;
}

static int quic_handoff_send(void *ctx, const struct ring_dgram *d, unsigned owner)
{
	return handoff_post(ctx, d, owner, WORKER_MSG_QUIC_DGRAM);
}

/* This worker's QUIC socket for the address a datagram was sent to: the
 * one bound to exactly that address, else a wildcard one of its family and
 * port. -1: none (the listener went away meanwhile). */
static int sock_for(const struct worker *w, const rg_sockaddr *local, unsigned kind)
{
	int wildcard = -1;
	for (int i = 0; i < WORKER_MAX_SOCKS; i++) {
		if (w->socks[i].fd < 0 || w->socks[i].kind != kind)
			continue;
		rg_sockaddr a;
		if (ring_sock_addr(w->ring, (unsigned)w->socks[i].idx, &a) ||
		    a.sa.sa_family != local->sa.sa_family)
			continue;
		if (a.sa.sa_family == AF_INET) {
			if (a.in4.sin_port != local->in4.sin_port)
				continue;
			if (a.in4.sin_addr.s_addr == local->in4.sin_addr.s_addr)
				return w->socks[i].idx;
			if (a.in4.sin_addr.s_addr == htonl(INADDR_ANY) && wildcard < 0)
				wildcard = w->socks[i].idx;
		} else {
			if (a.in6.sin6_port != local->in6.sin6_port)
				continue;
			if (!memcmp(&a.in6.sin6_addr, &local->in6.sin6_addr, sizeof(a.in6.sin6_addr)))
				return w->socks[i].idx;
			if (IN6_IS_ADDR_UNSPECIFIED(&a.in6.sin6_addr) && wildcard < 0)
				wildcard = w->socks[i].idx;
		}
	}
	return wildcard;
}

static void handoff_flush(struct worker *w, struct handoff **h, unsigned n)
{
	struct ring_dgram d[HANDOFF_BATCH];
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		int sock = w->quic ? sock_for(w, &h[i]->d.local, LISTENER_QUIC) : -1;
		if (sock < 0) {
			w->st.drops[DP_DROP_HANDOFF_NO_SOCK]++;
			continue;
		}
		d[k] = h[i]->d;
		d[k].sock = (uint16_t)sock;
		k++;
	}
	if (k)
		quic_server_recv_handoff(w->quic, d, k, ring_now(), &w->tx);
	for (unsigned i = 0; i < n; i++)
		free(h[i]);
}

/* A tunnel datagram another worker received for one of our sessions: as
 * if it had come in here, replies leaving by our socket for its address. */
static void tunnel_handoff_recv(struct worker *w, struct handoff *h)
{
	int sock = w->tunnel ? sock_for(w, &h->d.local, LISTENER_TUNNEL) : -1;
	if (sock < 0) {
		w->st.drops[DP_DROP_HANDOFF_NO_SOCK]++;
		free(h);
		return;
	}
	w->st.tunnel_handoffs_in++;
	w->cur_sock = sock;
	enum tunnel_rx_verdict v = tunnel_engine_recv(w->tunnel, &h->d.peer, &h->d.local, h->d.data, h->d.len,
	                                              ring_now(), wall_ns());
	if ((v == TUNNEL_RX_HANDSHAKE || v == TUNNEL_RX_KEEPALIVE) && w->shard)
		claim_remote(w, &h->d.peer);
	w->cur_sock = -1;
	free(h);
}

static void on_chan(void *ctx, struct ring *r)
{
	struct worker *w = ctx;
	struct ring_msg m;
	struct handoff *ho[HANDOFF_BATCH];
	unsigned n_ho = 0;
	(void)r;
	while (ring_chan_recv(w->chan, &m) == 1) {
		switch (m.type) {
		case WORKER_MSG_TUNNEL_DGRAM:
			tunnel_handoff_recv(w, m.ptr);
			break;
		case WORKER_MSG_QUIC_DGRAM:
			ho[n_ho++] = m.ptr;
			if (n_ho == HANDOFF_BATCH) {
				handoff_flush(w, ho, n_ho);
				n_ho = 0;
			}
			break;
		case WORKER_MSG_STOP:
			w->stop = true;
			break;
		case WORKER_MSG_DRAIN:
			if (!w->draining) {
				w->draining = true;
				w->drain_deadline = m.u64;
				if (w->quic)
					quic_server_drain(w->quic, ring_now(), &w->tx);
			}
			break;
		case WORKER_MSG_GEN:
			/* picked up at the top of the next turn */
			break;
		case WORKER_MSG_SOCK_ADD:
			sock_add(w, (int)m.u64, m.u32);
			break;
		case WORKER_MSG_SOCK_DEL:
			sock_del(w, (int)m.u64);
			break;
		case WORKER_MSG_HANDOFF:
			break; /* every hand-off ring is drained below */
		default:
			wlog(w, LOG_WARN, "worker %u: unknown message %u", w->id, m.type);
		}
	}
	handoff_drain(w);
	if (n_ho)
		handoff_flush(w, ho, n_ho);
}

static void on_timer(void *ctx, struct ring *r, uint64_t now)
{
	struct worker *w = ctx;
	(void)r;
	if (w->quic && quic_server_next_expiry(w->quic) <= now)
		quic_server_handle_expiry(w->quic, now, &w->tx);
	if (w->tunnel && tunnel_engine_next_expiry(w->tunnel) <= now)
		tunnel_engine_handle_expiry(w->tunnel, now, wall_ns());
	if (w->proxy && proxy_next_expiry(w->proxy) <= now)
		proxy_handle_expiry(w->proxy, now);
}

static const struct ring_ops worker_ops = {
	.recv = on_recv,
	.chan = on_chan,
	.timer = on_timer,
};

/* The proxy follows the generation: routes swap at once, the old pools
 * drain. */
static void proxy_follow(struct worker *w)
{
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	if (w->proxy && proxy_set_conf(w->proxy, wg ? wg->proxy : NULL))
		wlog(w, LOG_ERROR, "worker %u: no memory for the proxy's pools: requests get 404", w->id);
}

static void proxy_log_cb(void *ctx, int level, const char *msg)
{
	wlog(ctx, (enum log_level)level, "%s", msg);
}

/* A reload reached this worker: new certificates for new connections
 * (existing ones keep theirs). Runs on the worker thread, rarely. */
static void gen_switched(struct worker *w)
{
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	/* keys withdrawn by the reload lose their sessions now */
	if (w->tunnel) {
		tunnel_engine_authorization_changed(w->tunnel, ring_now());
		initiators_sync(w);
	}
	if (!w->quic || !wg || !wg->quic_vhosts)
		return;
	int err = quic_server_set_vhosts(w->quic, wg->quic_vhosts, wg->n_quic_vhosts);
	if (err)
		wlog(w, LOG_ERROR, "worker %u: new certificates not loaded, the old ones stay: %s", w->id,
		     strerror(-err));
}

static void start_done(struct worker *w, int err)
{
	pthread_mutex_lock(&w->start_mu);
	w->start_err = err;
	pthread_cond_signal(&w->start_cv);
	pthread_mutex_unlock(&w->start_mu);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "rg-worker-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	if (w->cpu >= 0) {
		int err = ring_pin_cpu((unsigned)w->cpu);
		if (err)
			wlog(w, LOG_WARN, "worker %u: cannot pin to cpu %d: %s", w->id, w->cpu, strerror(-err));
	}
	/* The ring is created on the worker's own thread: SINGLE_ISSUER and
	 * DEFER_TASKRUN tie it to the thread that submits. */
	struct ring_opts o = w->ropts;
	o.ops = &worker_ops;
	o.ctx = w;
	int err = ring_create(&o, &w->ring);
	if (!err) {
		err = ring_chan_attach(w->ring, w->chan);
		if (err)
			ring_destroy(w->ring);
	}
	if (err) {
		w->ring = NULL;
		start_done(w, err);
		return NULL;
	}
	w->backend = ring_backend_of(w->ring);
	w->tx.ops = &tx_ops;
	w->tx.ctx = w->ring;
	if (w->has_tunnel && (err = tunnel_start(w)) != 0) {
		ring_destroy(w->ring);
		w->ring = NULL;
		start_done(w, err);
		return NULL;
	}
	if (w->has_quic) {
		/* HTTP/3 requests go to the reverse proxy */
		err = proxy_create(w->ring, w->id, proxy_log_cb, w, &w->proxy);
		w->quic_params.on_request = proxy_request;
		w->quic_params.request_ctx = w->proxy;
		if (!err)
			err = quic_server_create(&w->quic_params, &w->quic);
		if (err) {
			proxy_destroy(w->proxy);
			w->proxy = NULL;
			if (w->tunq) {
				tun_queue_stop(w->tunq);
				ring_destroy(w->ring);
				w->ring = NULL;
				tun_queue_free(w->tunq);
				w->tunq = NULL;
			}
			if (w->tunnel) {
				tunnel_engine_free(w->tunnel);
				free(w->tunnel);
				w->tunnel = NULL;
			}
			ring_destroy(w->ring); /* NULL-safe */
			w->ring = NULL;
			start_done(w, err);
			return NULL;
		}
	}
	gen_acquire(w->pub, w->id, &w->gen);
	proxy_follow(w);
	start_done(w, 0);
	initiators_sync(w);

	while (!w->stop) {
		struct gen *before = w->gen;
		if (gen_acquire(w->pub, w->id, &w->gen)) {
			w->snap_dirty = true; /* /status shows the switch soon */
			proxy_follow(w);
			if (before)
				gen_switched(w);
			else
				initiators_sync(w); /* the first generation (gen_switched does it after) */
		}
		/* the end of the last turn: write the TCP run the TUN queue
		 * was coalescing (tun.h) before the ring submits and waits */
		if (w->tunq && tun_queue_flush(w->tunq))
			w->st.drops[DP_DROP_TUN_WRITE]++;
		arm_timer(w);
		err = ring_turn(w->ring);
		if (err && err != -EINTR) {
			wlog(w, LOG_ERROR, "worker %u: ring failed: %s", w->id, strerror(-err));
			break;
		}
		w->st.turns++;
		uint64_t now = ring_now();
		if (w->draining && !atomic_load_explicit(&w->drained, memory_order_relaxed) &&
		    (!w->quic || !quic_server_active_streams(w->quic) || now >= w->drain_deadline)) {
			if (w->quic && now >= w->drain_deadline)
				wlog(w, LOG_WARN, "worker %u: drain deadline passed with %u requests open", w->id,
				     quic_server_active_streams(w->quic));
			atomic_store(&w->drained, true);
		}
		if (now - w->snap_at >= STATS_PERIOD_NS) {
			w->snap_at = now;
			stats_publish(w);
			w->snap_dirty = false;
		} else {
			w->snap_dirty = true;
		}
	}
	if (w->quic) {
		/* tell the peers, then give the close packets one last flush */
		quic_server_close_all(w->quic, ring_now(), &w->tx);
		ring_flush(w->ring);
	}
	if (w->tunq) {
		/* the reads hold the queue's buffers: let them finish first */
		tun_queue_flush(w->tunq);
		tun_queue_stop(w->tunq);
		uint64_t end = ring_now() + 500000000ull;
		while (tun_queue_busy(w->tunq) && ring_now() < end) {
			ring_timer_set(w->ring, ring_now() + 10000000ull);
			if (ring_turn(w->ring) < 0)
				break;
		}
	}
	stats_publish(w);
	gen_worker_leave(w->pub, w->id);
	quic_server_destroy(w->quic);
	w->quic = NULL;
	proxy_destroy(w->proxy); /* after the streams that used it */
	w->proxy = NULL;
	if (w->tunnel) {
		tunnel_engine_free(w->tunnel);
		free(w->tunnel);
		w->tunnel = NULL;
	}
	ring_destroy(w->ring); /* on its own thread; closes the sockets it owns */
	w->ring = NULL;
	tun_queue_free(w->tunq); /* closes the queue's fd */
	w->tunq = NULL;
	free(w->seg_scratch);
	w->seg_scratch = NULL;
	return NULL;
}

int worker_start(const struct worker_params *p, struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->id = p->id;
	w->cpu = p->cpu;
	w->pub = p->pub;
	w->ropts = p->ring;
	w->log = p->log;
	if (p->quic) {
		w->quic_params = *p->quic;
		w->has_quic = true;
	}
	w->peers = p->peers;
	w->n_peers = p->n_peers;
	if (w->has_quic && w->peers && w->n_peers > 1) {
		w->quic_params.on_foreign = quic_handoff_send;
		w->quic_params.foreign_ctx = w;
	}
	if (p->tunnel_key) {
		memcpy(w->tunnel_key, p->tunnel_key, sizeof(w->tunnel_key));
		w->has_tunnel = true;
	}
	w->tunnel_sock[0] = w->tunnel_sock[1] = -1;
	w->init_sock[0] = w->init_sock[1] = -1;
	w->cur_sock = -1;
	w->tunnel_mtu = p->tunnel_mtu;
	w->shard = p->shard;
	w->tun_fd = w->has_tunnel ? p->tun_fd : -1;
	w->start_err = 1;
	for (int i = 0; i < WORKER_MAX_SOCKS; i++) {
		w->socks[i].fd = -1;
		w->kind_of[i] = LISTENER_KIND_MAX;
	}
	pthread_mutex_init(&w->start_mu, NULL);
	pthread_cond_init(&w->start_cv, NULL);
	int err = ring_chan_create(1024, &w->chan);
	if (err)
		goto fail_chan;
	err = -pthread_create(&w->thread, NULL, worker_main, w);
	if (err)
		goto fail_thread;
	pthread_mutex_lock(&w->start_mu);
	while (w->start_err == 1)
		pthread_cond_wait(&w->start_cv, &w->start_mu);
	err = w->start_err;
	pthread_mutex_unlock(&w->start_mu);
	if (err) {
		pthread_join(w->thread, NULL);
		goto fail_thread;
	}
	/* release: a peer that loads this pointer sees a started worker */
	__atomic_store_n(out, w, __ATOMIC_RELEASE);
	return 0;

fail_thread:
	if (w->tun_fd >= 0)
		close(w->tun_fd); /* the worker owns it from worker_start on */
	free(w->peer_snap);
	ring_chan_destroy(w->chan);
fail_chan:
	pthread_cond_destroy(&w->start_cv);
	pthread_mutex_destroy(&w->start_mu);
	free(w);
	return err;
}

bool worker_drained(const struct worker *w)
{
	return atomic_load(&((struct worker *)w)->drained);
}

int worker_post(struct worker *w, const struct ring_msg *m)
{
	return ring_chan_send(w->chan, m);
}

static void post_stop(struct worker *w)
{
	if (w->stop_posted)
		return;
	struct ring_msg m = {.type = WORKER_MSG_STOP};
	/* The channel may be momentarily full; the worker drains it every turn. */
	while (worker_post(w, &m) == -EAGAIN)
		usleep(1000);
	w->stop_posted = true;
}

static void join(struct worker *w)
{
	if (w->joined)
		return;
	pthread_join(w->thread, NULL);
	w->joined = true;
}

void worker_stop(struct worker *w)
{
	if (!w)
		return;
	/* Workers of a group post hand-offs into each other's channels: none
	 * may be freed while another still runs. Stop them all (the first
	 * call does it; later calls find them joined). */
	if (w->peers) {
		for (unsigned i = 0; i < w->n_peers; i++)
			if (w->peers[i])
				post_stop(w->peers[i]);
		for (unsigned i = 0; i < w->n_peers; i++)
			if (w->peers[i])
				join(w->peers[i]);
	}
	post_stop(w);
	join(w);
	/* gone from the group: a later worker_stop of a peer skips it */
	if (w->peers && w->id < w->n_peers && w->peers[w->id] == w)
		__atomic_store_n(&w->peers[w->id], NULL, __ATOMIC_RELEASE);
	/* hand-offs that arrived after the loop ended */
	struct ring_msg m;
	while (ring_chan_recv(w->chan, &m) == 1)
		if (m.type == WORKER_MSG_QUIC_DGRAM || m.type == WORKER_MSG_TUNNEL_DGRAM)
			free(m.ptr);
	if (w->tun_fd >= 0)
		close(w->tun_fd);
	free(w->peer_snap);
	ring_chan_destroy(w->chan);
	pthread_cond_destroy(&w->start_cv);
	pthread_mutex_destroy(&w->start_mu);
	free(w);
}
