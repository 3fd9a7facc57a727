#include "datapath/worker_internal.h"

#include <assert.h>
#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include "datapath/quic/cid.h"
#include "datapath/tunnel/shard.h"
#include "datapath/tunnel/tun.h"

void wlog(struct worker *w, enum log_level l, const char *fmt, ...)
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
		[LISTENER_HTTPS] = "https",
		[LISTENER_REDIRECT] = "redirect",
	};
	return k < LISTENER_KIND_MAX ? n[k] : "unknown";
}

/* Publish the counters with relaxed atomic stores so the control thread's
 * relaxed loads never see a torn value. */
static void stats_publish(struct worker *w)
{
	w->st.ring = *ring_stats(w->ring);
	if (w->quic)
		w->st.quic = *quic_server_counters(w->quic);
	if (w->proxy) {
		proxy_stats_publish(w->proxy); /* first: it brings the pool gauges up to date */
		w->st.proxy = *proxy_counters(w->proxy);
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
	https_stats(w);
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

static int tx_commit_ecn(void *ctx, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from,
                         size_t len, size_t seg, uint8_t ecn)
{
	return ring_send_commit_ecn(ctx, sock, to, from, len, seg, ecn);
}

static const struct quic_tx_ops tx_ops = {.prep = tx_prep, .commit = tx_commit, .commit_ecn = tx_commit_ecn};

static unsigned kind_of(const struct worker *w, const struct ring_dgram *d)
{
	unsigned k = d->sock < WORKER_MAX_SOCKS ? w->kind_of[d->sock] : LISTENER_KIND_MAX;
	return k < LISTENER_KIND_MAX ? k : LISTENER_QUIC;
}

uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The QUIC server's randomness and wall clock (quic.h, STYLE.md convention
 * 1), handed in by the worker: the TLS backend's generator, which draws in
 * user space (several connection IDs per handshake: no getrandom() call
 * each), and wall_ns above, the tunnel engine's clock. */
static int quic_rng_fill(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	return tls_random(buf, n);
}

static uint64_t quic_wall_s(void *ctx)
{
	(void)ctx;
	return wall_ns() / 1000000000ull;
}

/* ---- the tunnel engine's outputs ---- */

static void dispatch(struct worker *w, unsigned kind, struct ring_dgram *d, unsigned n, uint64_t now)
{
	w->st.rx_by_kind[kind] += n;
	if (kind == LISTENER_QUIC && w->quic) {
		quic_server_recv(w->quic, d, n, now, &w->tx);
		return;
	}
	if (kind == LISTENER_TUNNEL && w->tunnel) {
		tunnel_recv(w, d, n, now);
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
	uint64_t next = RG_NO_DEADLINE; /* every core answers in that convention */
	if (w->quic) {
		next = quic_server_next_expiry(w->quic);
		/* the flush left connections queued (send batch full): do not
		 * sleep, write them next turn once the batch went out */
		if (quic_server_wants_write(w->quic))
			next = 0;
	}
	if (w->tunnel) {
		uint64_t t = tunnel_engine_next_expiry(w->tunnel);
		if (t < next)
			next = t;
	}
	if (w->proxy) {
		uint64_t t = proxy_next_expiry(w->proxy);
		if (t < next)
			next = t;
	}
	if (w->https) {
		uint64_t t = https_next_expiry(w);
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
	ring_timer_set(w->ring, next);
}

/* The ring's socket table is the worker's: what the worker adds (the
 * listener kind) is kept by ring socket index in kind_of[]. */
static void sock_add(struct worker *w, int fd, unsigned kind)
{
	if (https_sock_add(w, fd, kind))
		return; /* TCP listeners: accepted on the ring, not read */
	int idx = ring_sock_add(w->ring, fd);
	if (idx < 0 || idx >= WORKER_MAX_SOCKS) {
		wlog(w, LOG_ERROR, "worker %u: cannot add socket: %s", w->id, strerror(idx < 0 ? -idx : ENOSPC));
		if (idx >= 0)
			ring_sock_remove(w->ring, (unsigned)idx);
		else
			close(fd);
		return;
	}
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
	if (https_sock_del(w, fd))
		return;
	int idx = ring_sock_find(w->ring, fd);
	if (idx < 0 || idx >= WORKER_MAX_SOCKS)
		return;
	ring_sock_remove(w->ring, (unsigned)idx);
	w->kind_of[idx] = LISTENER_KIND_MAX;
	for (int f = 0; f < 2; f++)
		if (w->tunnel_sock[f] == idx)
			w->tunnel_sock[f] = -1; /* the next one added takes over */
	w->st.n_socks--;
}

/* ---- hand-off between workers (datapath/handoff.h) ----
 * Server CIDs name their worker (datapath/quic/cid.h), tunnel receiver
 * indexes and the shard's owner map name theirs. A datagram or TUN read that
 * reached another worker (NAT rebinding, migration, a roamed peer, a
 * reuseport group that changed) is copied into the ring of that pair; the
 * owner reads it as its own, answering from its socket for the same local
 * address. Bounded by the ring: full means dropped and counted by the
 * caller (QUIC and the tunnel recover the loss). */

int handoff_send(struct worker *w, unsigned owner, enum handoff_kind kind, unsigned sock,
                 const rg_sockaddr *peer, const rg_sockaddr *local, const uint8_t *data, size_t len)
{
	if (!w->mesh || owner >= w->n_peers)
		return -ENOENT;
	struct worker *to = __atomic_load_n(&w->peers[owner], __ATOMIC_ACQUIRE);
	if (!to || to == w)
		return -ENOENT; /* not started (or stopped): nobody to wake */
	int r = handoff_push(w->mesh->m, w->id, owner, kind, sock, peer, local, data, len);
	if (r == 1) {
		struct ring_msg m = {.type = WORKER_MSG_HANDOFF, .u32 = w->id};
		/* -EAGAIN, a full channel: loses nothing, the messages in it
		 * wake `to`, which reads its set of senders on every wake-up */
		int err = ring_chan_send(to->chan, &m);
		assert(!err || err == -EAGAIN);
		(void)err;
	}
	return r < 0 ? r : 0;
}

int handoff_post(struct worker *w, const struct ring_dgram *d, unsigned owner, enum handoff_kind kind)
{
	return handoff_send(w, owner, kind, d->sock, &d->peer, &d->local, d->data, d->len);
}

static void quic_handoff_recv(struct worker *w, struct ring_dgram *d, uint64_t now);

/* The senders that signalled, each ring drained: datagrams as if read
 * here, TUN reads to the local tunnel path. Only those senders: a worker
 * of 64 does not scan 63 rings per wake-up. */
static void handoff_in(struct worker *w)
{
	if (!w->mesh)
		return;
	struct handoff_mesh *m = w->mesh->m;
	unsigned from[64], n;
	uint64_t now = ring_now();
	/* one pass over the senders that signalled; more than 64 of them: the
	 * rest in further passes (a sender that signals again meanwhile
	 * waits for the next wake-up, its message is on its way) */
	do {
		n = handoff_senders(m, w->id, from, 64);
		for (unsigned i = 0; i < n; i++) {
			const struct handoff_item *it;
			handoff_ack(m, from[i], w->id);
			while ((it = handoff_peek(m, from[i], w->id)) != NULL) {
				/* the consumer owns the record until the pop: the
				 * protocol cores may decrypt in place */
				struct ring_dgram d = {.data = (uint8_t *)it->data, .len = it->len,
				                       .peer = it->peer, .local = it->local};
				switch ((enum handoff_kind)it->kind) {
				case HANDOFF_QUIC_DGRAM:
					quic_handoff_recv(w, &d, now);
					break;
				case HANDOFF_TUNNEL_DGRAM:
					tunnel_handoff_recv(w, &d);
					break;
				case HANDOFF_TUN_PACKET:
					tunnel_tun_handoff_recv(w, d.data, d.len, now);
					break;
				}
				handoff_pop(m, from[i], w->id);
			}
		}
	} while (n == 64);
}

/* The group's one mesh: created by the first worker of the group to start
 * (worker_start runs on the control thread, one worker after the other),
 * referenced by the others, freed by the last worker_stop (the group is
 * joined before any worker is freed). */
static int mesh_join(struct worker *w)
{
	if (!w->peers || w->n_peers < 2)
		return 0;
	for (unsigned i = 0; i < w->n_peers; i++) {
		struct worker *p = i == w->id ? NULL : __atomic_load_n(&w->peers[i], __ATOMIC_ACQUIRE);
		if (p && p->mesh) {
			atomic_fetch_add(&p->mesh->refs, 1);
			w->mesh = p->mesh;
			return 0;
		}
	}
	struct worker_mesh *wm = calloc(1, sizeof(*wm));
	if (!wm)
		return -ENOMEM;
	/* a TUN read (64 KiB + vnet header) must fit a quarter of a ring;
	 * the pages of idle pairs are never touched */
	size_t bytes = w->n_peers <= 8 ? (4u << 20) : (1u << 20);
	int err = handoff_mesh_create(w->n_peers, bytes, &wm->m);
	if (err) {
		free(wm);
		return err;
	}
	atomic_store(&wm->refs, 1);
	w->mesh = wm;
	return 0;
}

static void mesh_leave(struct worker *w)
{
	if (w->mesh && atomic_fetch_sub(&w->mesh->refs, 1) == 1) {
		handoff_mesh_destroy(w->mesh->m);
		free(w->mesh);
	}
	w->mesh = NULL;
}

int worker_quic_steer(int fd, unsigned n_workers)
{
	if (n_workers < 2 || n_workers > QUIC_CID_MAX_WORKERS)
		return 0;
	/* Classic BPF run by the kernel's reuseport selection on the UDP
	 * payload; the result is the socket's index in the group, i.e. the
	 * worker (control binds worker i's socket i-th). A packet whose
	 * destination CID has our shape (cid.h: first octet QUIC_CID_LEN - 1,
	 * then the owner, big-endian) goes to its owner: short headers (the
	 * bulk, and every packet after a NAT rebinding) carry the DCID at
	 * offset 1, long headers its length at 5 and the DCID at 6. Anything
	 * else, a client's first Initial among them, returns an index past
	 * the group: the kernel's 4-tuple hash picks the worker. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),                       /* 0: first octet */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 4, 0),            /* 1: long header: 6 */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1),                       /* 2: short: DCID[0] */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, QUIC_CID_LEN - 1, 0, 8), /* 3: ours? else 12 */
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),                       /* 4: owner */
		BPF_STMT(BPF_RET | BPF_A, 0),                                /* 5 */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 5),                       /* 6: DCID length */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, QUIC_CID_LEN, 0, 4),     /* 7: else 12 */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),                       /* 8: DCID[0] */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, QUIC_CID_LEN - 1, 0, 2), /* 9: else 12 */
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 7),                       /* 10: owner */
		BPF_STMT(BPF_RET | BPF_A, 0),                                /* 11 */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),                      /* 12: the kernel's hash */
	};
	return worker_steer_attach(fd, code, sizeof(code) / sizeof(code[0]));
}

int worker_steer_attach(int fd, struct sock_filter *code, unsigned short len)
{
	struct sock_fprog prog = {.len = len, .filter = code};
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

static int quic_handoff_send(void *ctx, const struct ring_dgram *d, unsigned owner)
{
	return handoff_post(ctx, d, owner, HANDOFF_QUIC_DGRAM);
}

/* This worker's QUIC socket for the address a datagram was sent to: the
 * one bound to exactly that address, else a wildcard one of its family and
 * port. -1: none (the listener went away meanwhile). */
int sock_for(const struct worker *w, const rg_sockaddr *local, unsigned kind)
{
	int wildcard = -1;
	for (int i = 0; i < WORKER_MAX_SOCKS; i++) {
		if (w->kind_of[i] != kind)
			continue;
		rg_sockaddr a;
		if (ring_sock_addr(w->ring, (unsigned)i, &a) ||
		    a.sa.sa_family != local->sa.sa_family)
			continue;
		if (a.sa.sa_family == AF_INET) {
			if (a.in4.sin_port != local->in4.sin_port)
				continue;
			if (a.in4.sin_addr.s_addr == local->in4.sin_addr.s_addr)
				return i;
			if (a.in4.sin_addr.s_addr == htonl(INADDR_ANY) && wildcard < 0)
				wildcard = i;
		} else {
			if (a.in6.sin6_port != local->in6.sin6_port)
				continue;
			if (!memcmp(&a.in6.sin6_addr, &local->in6.sin6_addr, sizeof(a.in6.sin6_addr)))
				return i;
			if (IN6_IS_ADDR_UNSPECIFIED(&a.in6.sin6_addr) && wildcard < 0)
				wildcard = i;
		}
	}
	return wildcard;
}

/* A QUIC datagram another worker handed over: read as if it came in on our
 * socket for the same local address. */
static void quic_handoff_recv(struct worker *w, struct ring_dgram *d, uint64_t now)
{
	int sock = w->quic ? sock_for(w, &d->local, LISTENER_QUIC) : -1;
	if (sock < 0) {
		w->st.drops[DP_DROP_HANDOFF_NO_SOCK]++;
		return;
	}
	d->sock = (uint16_t)sock;
	quic_server_recv_handoff(w->quic, d, 1, now, &w->tx);
}

static void on_chan(void *ctx, struct ring *r)
{
	struct worker *w = ctx;
	struct ring_msg m;
	(void)r;
	while (ring_chan_recv(w->chan, &m) == 1) {
		switch (m.type) {
		case WORKER_MSG_STOP:
			w->stop = true;
			break;
		case WORKER_MSG_DRAIN:
			if (!w->draining) {
				w->draining = true;
				w->drain_deadline = m.u64;
				if (w->quic)
					quic_server_drain(w->quic, ring_now(), &w->tx);
				https_drain(w);
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
			break; /* the senders that signalled are drained below */
		default:
			wlog(w, LOG_WARN, "worker %u: unknown message %u", w->id, m.type);
		}
	}
	/* on every wake-up, not only on WORKER_MSG_HANDOFF: a wake-up message
	 * refused by a full channel is covered by the messages that filled it */
	handoff_in(w);
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
	if (w->https && https_next_expiry(w) <= now)
		https_timer(w, now);
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
	/* the lines still waiting went to the old fd before gen_acquire */
	if (w->proxy)
		proxy_access_log(w->proxy, wg && wg->access_log ? wg->access_log_fd : -1);
}

static void proxy_log_cb(void *ctx, int level, const char *msg)
{
	wlog(ctx, (enum log_level)level, "%s", msg);
}

/* A reload reached this worker: new certificates, vhost bindings and
 * [quic] settings for new connections (existing ones keep theirs). Runs on
 * the worker thread, rarely. */
static void gen_switched(struct worker *w)
{
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	/* keys withdrawn by the reload lose their sessions now */
	if (w->tunnel) {
		tunnel_engine_authorization_changed(w->tunnel, ring_now());
		initiators_sync(w);
	}
	https_gen_switched(w);
	if (!w->quic || !wg || !wg->quic_vhosts)
		return;
	int err = quic_server_set_params(w->quic, &wg->quic);
	if (err)
		wlog(w, LOG_ERROR, "worker %u: new [quic] settings and certificates not taken, the old ones stay: %s",
		     w->id, strerror(-err));
}

static void start_done(struct worker *w, int err)
{
	pthread_mutex_lock(&w->start_mu);
	w->start_err = err;
	pthread_cond_signal(&w->start_cv);
	pthread_mutex_unlock(&w->start_mu);
}

/* What the worker made on its thread, on every way out (a failed start
 * too): QUIC before the proxy its streams used; the TUN queue's I/O
 * cancelled before the ring goes, its buffers freed after. */
static void worker_teardown(struct worker *w)
{
	quic_server_destroy(w->quic);
	w->quic = NULL;
	https_teardown(w); /* its streams close into the proxy */
	proxy_destroy(w->proxy);
	w->proxy = NULL;
	if (w->tunq)
		tun_queue_stop(w->tunq); /* nothing left to cancel after a drain */
	if (w->tunnel) {
		tunnel_engine_free(w->tunnel);
		free(w->tunnel);
		w->tunnel = NULL;
	}
	ring_destroy(w->ring); /* on its own thread; closes the sockets it owns */
	w->ring = NULL;
	https_release(w);
	tun_queue_free(w->tunq); /* closes the queue's fd */
	w->tunq = NULL;
	free(w->seg_scratch);
	w->seg_scratch = NULL;
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
		worker_teardown(w);
		start_done(w, err);
		return NULL;
	}
	if (w->has_quic || w->has_https) {
		/* HTTP/3, HTTP/2 and HTTP/1.1 requests go to the reverse proxy */
		err = proxy_create(w->ring, w->id, proxy_log_cb, w, &w->proxy);
		w->quic_params.on_request = proxy_request;
		w->quic_params.request_ctx = w->proxy;
		w->quic_params.on_answer = proxy_answer_h3; /* the access log's */
		if (!err && w->has_quic)
			err = quic_server_create(&w->quic_params, &w->quic);
		if (!err && w->has_https)
			err = https_start(w, w->https_ticket);
		if (err) {
			worker_teardown(w);
			start_done(w, err);
			return NULL;
		}
	}
	gen_acquire(w->pub, w->id, &w->gen);
	proxy_follow(w);
	https_gen_switched(w);
	start_done(w, 0);
	initiators_sync(w);

	while (!w->stop) {
		struct gen *before = w->gen;
		/* the access log's lines of the last turn belong to the fd of
		 * the generation still held: written before it is let go */
		if (w->proxy && atomic_load_explicit(&w->pub->current, memory_order_acquire) != before)
			proxy_access_log_flush(w->proxy);
		if (gen_acquire(w->pub, w->id, &w->gen)) {
			w->snap_dirty = true; /* /status shows the switch soon */
			proxy_follow(w);
			if (before)
				gen_switched(w);
			else {
				initiators_sync(w); /* the first generation (gen_switched does it after) */
				https_gen_switched(w);
			}
		}
		/* the end of the last turn: write the TCP run the TUN queue
		 * was coalescing (tun.h) before the ring submits and waits */
		if (w->tunq && tun_queue_flush(w->tunq))
			w->st.drops[DP_DROP_TUN_WRITE]++;
		/* and the QUIC connections that have something to send, each
		 * once for the whole turn (quic.h: write-now list) */
		if (w->quic)
			quic_server_flush(w->quic, ring_now(), &w->tx);
		/* the TCP connections the proxy gave something to write */
		https_flush(w, ring_now());
		/* the access log: the turn's finished requests, one write(2) */
		if (w->proxy)
			proxy_access_log_flush(w->proxy);
		arm_timer(w);
		err = ring_turn(w->ring);
		if (err && err != -EINTR) {
			wlog(w, LOG_ERROR, "worker %u: ring failed: %s", w->id, strerror(-err));
			break;
		}
		w->st.turns++;
		uint64_t now = ring_now();
		if (w->draining && !atomic_load_explicit(&w->drained, memory_order_relaxed) &&
		    (((!w->quic || !quic_server_active_streams(w->quic)) && !https_busy(w)) ||
		     now >= w->drain_deadline)) {
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
		int ferr = ring_flush(w->ring);
		if (ferr)
			wlog(w, LOG_WARN, "worker %u: the last close packets were not sent: %s", w->id,
			     strerror(-ferr));
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
	if (w->proxy) { /* the last lines, while the generation's fd is held */
		proxy_access_log_flush(w->proxy);
		proxy_access_log(w->proxy, -1);
	}
	stats_publish(w);
	gen_worker_leave(w->pub, w->id);
	worker_teardown(w);
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
		w->quic_params.rng = (struct quic_rng){.fill = quic_rng_fill};
		w->quic_params.wall = (struct quic_wall_clock){.now = quic_wall_s};
		w->has_quic = true;
	}
	w->peers = p->peers;
	w->n_peers = p->n_peers;
	w->has_https = p->https;
	if (p->https_ticket_key) {
		memcpy(w->https_ticket, p->https_ticket_key, sizeof(w->https_ticket));
	} else if (p->https && getrandom(w->https_ticket, sizeof(w->https_ticket), 0) != sizeof(w->https_ticket)) {
		/* never a guessable ticket key: no worker instead */
		free(w);
		return -EIO;
	}
	if (mesh_join(w) != 0) {
		free(w);
		return -ENOMEM;
	}
	if (w->has_quic && w->mesh) {
		w->quic_params.on_foreign = quic_handoff_send;
		w->quic_params.foreign_ctx = w;
	}
	if (p->tunnel_key) {
		memcpy(w->tunnel_key, p->tunnel_key, sizeof(w->tunnel_key));
		w->has_tunnel = true;
	}
	w->tunnel_sock[0] = w->tunnel_sock[1] = -1;
	w->init_sock[0] = w->init_sock[1] = -1;
	w->tunnel_mtu = p->tunnel_mtu;
	w->tunnel_capacity = p->tunnel_capacity ? p->tunnel_capacity : 4096;
	w->shard = p->shard;
	w->tun_fd = w->has_tunnel ? p->tun_fd : -1;
	w->start_err = 1;
	for (int i = 0; i < WORKER_MAX_SOCKS; i++)
		w->kind_of[i] = LISTENER_KIND_MAX;
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
	mesh_leave(w);
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
	/* hand-offs that arrived after the loop ended are in the mesh: it
	 * goes with the group's last worker */
	mesh_leave(w);
	if (w->tun_fd >= 0)
		close(w->tun_fd);
	free(w->peer_snap);
	ring_chan_destroy(w->chan);
	pthread_cond_destroy(&w->start_cv);
	pthread_mutex_destroy(&w->start_mu);
	free(w);
}
