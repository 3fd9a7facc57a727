/* Inside a worker: its state, shared by worker.c (the loop, sockets,
 * channel, QUIC, proxy, stats) and worker_tunnel.c (the tunnel engine, the
 * TUN queue, initiators, hand-offs of tunnel traffic). Not for users of
 * worker.h. Everything here runs on the worker's own thread unless noted. */
#ifndef RG_WORKER_INTERNAL_H
#define RG_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "datapath/handoff.h"
#include "datapath/tunnel/shard.h"
#include "datapath/tunnel/tun.h"
#include "datapath/worker.h"

#define WORKER_MAX_SOCKS 256
#define MAX_INITIATED 64
#define STATS_PERIOD_NS (100ull * 1000 * 1000)

/* The group's hand-off mesh, shared by its workers (worker.c mesh_join). */
struct worker_mesh {
	struct handoff_mesh *m;
	_Atomic unsigned refs;
};

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
	struct proxy *proxy; /* the quic server's on_request, with QUIC or HTTPS */
	bool has_https;
	uint8_t https_ticket[64];
	struct worker_https *https; /* worker_https.c */
	struct quic_tx tx; /* the ring as the protocol cores' send interface */
	uint8_t tunnel_key[32];
	bool has_tunnel;
	struct tunnel_engine *tunnel;
	int tunnel_sock[2]; /* a tunnel socket per family (0: IPv4, 1: IPv6), -1: none */
	unsigned tunnel_mtu;
	unsigned tunnel_capacity;
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
	struct worker **peers; /* the group, by id (may be NULL) */
	struct worker_mesh *mesh; /* hand-offs to and from the group, NULL: alone */
	unsigned n_peers;
	bool stop_posted, joined; /* control thread only: group stop */
	/* start-up hand-shake: the thread reports ring creation */
	pthread_mutex_t start_mu;
	pthread_cond_t start_cv;
	int start_err; /* 1: pending */
	enum ring_backend backend;

	/* The ring's socket table is the only one (ring_sock_find by the fd
	 * control sent); the listener kind is kept here by ring socket index,
	 * LISTENER_KIND_MAX: no socket of ours there. */
	uint8_t kind_of[WORKER_MAX_SOCKS];

	struct worker_stats st;   /* worker thread's own */
	struct worker_stats snap; /* published copy, read by control */
	uint64_t snap_at;
	bool snap_dirty; /* counters moved since the last publish */
};

/* ---- worker.c, for worker_tunnel.c ---- */
void wlog(struct worker *w, enum log_level l, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
uint64_t wall_ns(void);
/* Copy an item to worker `owner` through the group's mesh and wake it if
 * needed. 0, -ENOENT (no such worker running), -ENOBUFS (its ring is full:
 * the caller drops and counts), -EMSGSIZE. */
RG_MUST_CHECK int handoff_send(struct worker *w, unsigned owner, enum handoff_kind kind, unsigned sock,
                               const rg_sockaddr *peer, const rg_sockaddr *local, const uint8_t *data,
                               size_t len);
/* A received datagram, with its socket and addresses. */
RG_MUST_CHECK int handoff_post(struct worker *w, const struct ring_dgram *d, unsigned owner, enum handoff_kind kind);
/* This worker's socket of `kind` for the local address a datagram was sent
 * to: exact address, else a wildcard one of its family and port; -1: none. */
int sock_for(const struct worker *w, const rg_sockaddr *local, unsigned kind);

/* ---- worker_tunnel.c, for worker.c ---- */
RG_MUST_CHECK int tunnel_start(struct worker *w);
/* Attach a classic BPF reuseport program (len instructions) to fd's
 * group: worker_quic_steer, worker_tunnel_steer. 0 or -errno. */
struct sock_filter;
RG_MUST_CHECK int worker_steer_attach(int fd, struct sock_filter *code, unsigned short len);
void tunnel_recv(struct worker *w, struct ring_dgram *d, unsigned n, uint64_t now);
/* Items of the mesh (worker.c handoff_in): a tunnel datagram whose session
 * is ours, a TUN read for a peer we own. */
void tunnel_handoff_recv(struct worker *w, struct ring_dgram *d);
void tunnel_tun_handoff_recv(struct worker *w, uint8_t *p, size_t len, uint64_t now);
void initiators_sync(struct worker *w);
void peers_publish(struct worker *w);

/* ---- worker_https.c, for worker.c ---- */
RG_MUST_CHECK int https_start(struct worker *w, const uint8_t *ticket_key);
/* A TCP listener of LISTENER_HTTPS / LISTENER_REDIRECT: true when it was
 * one (taken, or closed on failure). */
bool https_sock_add(struct worker *w, int fd, unsigned kind);
bool https_sock_del(struct worker *w, int fd);
void https_gen_switched(struct worker *w);
void https_drain(struct worker *w);
unsigned https_busy(const struct worker *w);
void https_flush(struct worker *w, uint64_t now);
uint64_t https_next_expiry(struct worker *w);
void https_timer(struct worker *w, uint64_t now);
void https_stats(struct worker *w);
void https_teardown(struct worker *w);
void https_release(struct worker *w);

#endif
