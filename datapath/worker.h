/* A worker: one pinned thread, one ring, its sockets and (as the protocol
 * issues land) its connection and session tables. Shares nothing with other
 * workers; the control thread talks to it only through its channel and the
 * generation publisher. */
#ifndef RG_WORKER_H
#define RG_WORKER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "datapath/gen.h"
#include "datapath/https/conn.h"
#include "datapath/proxy/proxy.h"
#include "datapath/quic/quic.h"
#include "datapath/tunnel/engine.h"
#include "ring/ring.h"

/* What a socket is for; chooses the protocol handler in the demux. */
enum listener_kind {
	LISTENER_QUIC = 0,
	LISTENER_TUNNEL,
	LISTENER_HTTPS,    /* TCP: TLS, HTTP/1.1 and HTTP/2 (issue 9) */
	LISTENER_REDIRECT, /* TCP: plain HTTP/1.1, redirects to https */
	LISTENER_KIND_MAX
};

/* Why the datapath dropped a datagram (the ring keeps its own reasons). */
enum dp_drop {
	DP_DROP_NO_HANDLER, /* listener kind whose protocol is not built in yet */
	DP_DROP_EMPTY,      /* zero-length datagram */
	DP_DROP_NO_TUN,     /* tunnel packet decrypted, but no TUN device configured */
	DP_DROP_TUN_BAD_VNET, /* TUN read refused by vnet.h (bad virtio-net header or packet) */
	DP_DROP_TUN_NO_ROUTE, /* TUN packet whose destination no configured peer allows */
	DP_DROP_TUN_WRITE,    /* decrypted packet not written: every TUN write slot busy, or refused */
	DP_DROP_HANDOFF_FULL, /* TUN packet for another worker's peer: its hand-off ring is full */
	DP_DROP_HANDOFF_NO_SOCK, /* QUIC hand-off received, no own socket for its local address */
	DP_DROP_MAX
};

/* Messages on a worker's channel. */
enum worker_msg_type {
	WORKER_MSG_STOP = 1,   /* leave the loop */
	WORKER_MSG_DRAIN,      /* u64: deadline (ring_now ns): graceful stop, step one */
	WORKER_MSG_GEN,        /* a new generation is published: pick it up */
	WORKER_MSG_SOCK_ADD,   /* u64: fd, u32: enum listener_kind; reply: none */
	WORKER_MSG_SOCK_DEL,   /* u64: fd as sent in SOCK_ADD */
	WORKER_MSG_HANDOFF,    /* u32: a worker that queued items for us in the
	                          group's mesh (handoff.h); a wake-up only */
};

/* All fields are uint64_t: they are copied word by word.
 * Counters a worker publishes for the control thread about every 100 ms
 * and when it stops. Read them with worker_stats_read(). */
struct worker_stats {
	struct ring_stats ring;
	uint64_t rx_by_kind[LISTENER_KIND_MAX];
	uint64_t drops[DP_DROP_MAX];
	struct quic_counters quic; /* zero when QUIC is off */
	struct proxy_counters proxy; /* the HTTP/3 reverse proxy, zero when QUIC is off */
	uint64_t tunnel_rx[TUNNEL_RX__COUNT]; /* tunnel verdicts, zero when off */
	uint64_t tunnel_tx[TUNNEL_TX__COUNT];
	uint64_t gen_id;     /* generation this worker holds */
	uint64_t tunnel_sessions; /* gauge: peers with a session on this worker */
	uint64_t tunnel_capacity; /* gauge: sessions the worker has room for */
	uint64_t tunnel_handoffs_out, tunnel_handoffs_in, tunnel_handoffs_dropped;
	uint64_t turns;      /* loop turns */
	uint64_t n_socks;
	/* TUN queue of this worker (zero without a TUN device) */
	uint64_t tun_reads, tun_read_bytes;   /* reads: super-packets */
	uint64_t tun_segments;                /* inner packets after segmentation */
	uint64_t tun_writes, tun_write_bytes; /* writes (a super-packet is one) */
	uint64_t tun_errors;                  /* reads or writes the kernel refused */
	uint64_t tun_sync_writes;             /* written with writev(2) by the worker: all */
	uint64_t tun_coalesced_writes;        /* of tun_writes, TCP super-packets (coalesced segments) */
	uint64_t tun_coalesced_segments;      /* decrypted segments merged into those */
	uint64_t handoff_out, handoff_in;     /* TUN reads handed to / taken from other workers */
	/* the HTTPS front end over TCP (issue 9), zero without [https] */
	struct https_counters https;
	struct tls_tcp_counters tls_tcp;
	struct h1_counters h1;
	struct h2_counters h2;
};

/* One tunnel peer as a worker's engine knows it, published for GET /peers
 * with the stats (every ~100 ms) under a sequence lock. All words. */
struct worker_peer_stat {
	uint8_t public_key[32];
	rg_sockaddr endpoint;       /* where its session is; family 0: none */
	uint32_t pad;
	uint64_t last_handshake_ns; /* wall clock, ns since the epoch; 0: never */
	uint64_t rx_bytes, tx_bytes; /* transport payload of its session */
	uint64_t rx_packets, tx_packets;
};

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
typedef void (*log_fn)(enum log_level lvl, const char *fmt, va_list ap);

struct worker_params {
	unsigned id;
	int cpu;              /* -1: do not pin */
	struct gen_pub *pub;
	struct ring_opts ring; /* ops/ctx are the worker's own; the rest is used */
	log_fn log;           /* may be NULL */
	/* QUIC termination: NULL when no [quic]. Copied; the strings it points
	 * to must stay valid until worker_start returns. The credentials come
	 * loaded in quic->vset (the generation's, control/genbuild.c): the
	 * worker reads no certificate file. */
	const struct quic_params *quic;
	/* Tunnel termination: the private key (copied), NULL when no [tunnel]. */
	const uint8_t *tunnel_key;
	unsigned tunnel_mtu;  /* largest inner packet; 0: 1420 */
	unsigned tunnel_capacity; /* sessions (and peers) per worker; 0: 4096 */
	/* Shared by the workers of the tunnel (shard.h); NULL without [tunnel]. */
	struct tunnel_shard *shard;
	/* This worker's TUN queue (the worker owns it from here), or -1. */
	int tun_fd;
	/* The group's workers, indexed by id, for the hand-offs (QUIC and
	 * tunnel datagrams, TUN reads; datapath/handoff.h): the caller's array
	 * that worker_start fills (entries read atomically; NULL while a
	 * worker is not started). Workers are started one after the other:
	 * the first creates the group's hand-off mesh, the others share it.
	 * NULL: no hand-off, an item for another worker is dropped. With
	 * peers, worker_stop() stops the whole group first (workers post to
	 * each other), then frees one; the last frees the mesh. */
	struct worker **peers;
	unsigned n_peers;
	/* [https] or [redirect] configured at start (the proxy is made for
	 * HTTPS too); the session ticket key every worker shares
	 * (QUIC_TICKET_KEY_LEN bytes, copied), NULL: random per worker */
	bool https;
	const uint8_t *https_ticket_key;
};

/* [https] and [redirect] of a generation (control/genbuild.c), read-only. */
struct worker_https_gen {
	bool on;                         /* [https] */
	struct tls_vhost_set *vset;      /* the vhosts' credentials (a reference) */
	unsigned max_connections;
	uint64_t handshake_timeout_ns, header_timeout_ns, idle_timeout_ns;
	uint32_t max_header_bytes;
	unsigned max_headers, h2_max_streams;
	/* Alt-Svc value by vset index (alt_svc = auto: h3 on the [quic] port
	 * serving that vhost); NULL entry: none */
	char **alt_svc;
	unsigned n_alt;
	bool redirect;                   /* [redirect] */
	uint16_t https_port;             /* the port [redirect] sends clients to */
	const char *const *names;        /* the vhost names served (redirect) */
	unsigned n_names;
};

/* What a generation carries for the workers beyond the config (gen->priv),
 * built by the control thread: the QUIC vhosts of that config. */
struct worker_gen {
	const struct quic_vhost_params *quic_vhosts; /* NULL when no [quic] */
	unsigned n_quic_vhosts;
	/* The [quic] settings a reload may change (quic_server_set_params),
	 * vhosts = quic_vhosts; the strings live in the generation's config.
	 * Meaningful only with quic_vhosts. */
	struct quic_params quic;
	/* The tunnel's authorized peers ([peer] sections and peers_file),
	 * sorted by public key for bsearch: the engine's is_authorized. */
	const struct tunnel_peer_config *tunnel_peers;
	unsigned n_tunnel_peers;
	struct allowedips_prefix *tunnel_prefixes; /* storage the peers point into */
	/* The proxy's routes and backends (NULL: no route, 404s); its stats
	 * slots are written by the workers holding this generation. */
	struct proxy_conf *proxy;
	/* Allowed IPs of every configured peer -> its tunnel_peer_config:
	 * picks the peer (and so the owning worker) of a TUN packet. Read-only
	 * once published. NULL without peers. */
	struct allowedips *tunnel_routes;
	/* [https] / [redirect]; NULL: neither */
	struct worker_https_gen *https;
	/* [appliance] access_log (issue 20): the file, opened O_APPEND by
	 * gen_build and closed with the generation, so a reload reopens it
	 * (logrotate). Only with access_log; the workers write whole lines. */
	bool access_log;
	int access_log_fd;
};

struct worker;

/* Start the worker thread. Returns once its ring exists (so a ring error is
 * reported here, not later), or negative errno. */
RG_MUST_CHECK int worker_start(const struct worker_params *p, struct worker **out);
/* Any thread. -EAGAIN when the channel is full. */
RG_MUST_CHECK int worker_post(struct worker *w, const struct ring_msg *m);
/* After WORKER_MSG_DRAIN: true once the worker accepts no new work and its
 * requests in flight are finished, or its drain deadline passed. It keeps
 * running (and answering what is still open) until it is stopped. */
bool worker_drained(const struct worker *w);
/* Post WORKER_MSG_STOP, join the thread, free the worker. */
void worker_stop(struct worker *w);
void worker_stats_read(const struct worker *w, struct worker_stats *out);
/* Any thread: up to cap of the worker's published peers; returns how many. */
unsigned worker_peers_read(const struct worker *w, struct worker_peer_stat *out, unsigned cap);
enum ring_backend worker_backend(const struct worker *w);

/* Make the kernel deliver each tunnel datagram addressed to one of our
 * sessions straight to the worker that owns it (its receiver index names
 * the worker), instead of by 4-tuple hash and a hand-off between workers:
 * attach to any socket of a tunnel listener's SO_REUSEPORT group whose
 * i-th socket belongs to worker i. 0 (also when n_workers needs no
 * steering), or -errno (the hand-offs still deliver, only slower). */
RG_MUST_CHECK int worker_tunnel_steer(int fd, unsigned n_workers);
/* The same for a QUIC listener: packets whose destination connection ID is
 * one of ours (datapath/quic/cid.h names the owning worker) go to that
 * worker, so a client whose NAT rebinds stays on its connection's worker
 * without a hand-off. */
RG_MUST_CHECK int worker_quic_steer(int fd, unsigned n_workers);

const char *dp_drop_name(enum dp_drop d);
const char *ring_drop_name(enum ring_drop d);
const char *listener_kind_name(enum listener_kind k);

#endif
