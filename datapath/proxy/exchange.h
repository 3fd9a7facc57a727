/* exchange: one proxied request as a sans-IO state machine.
 *
 * Nothing here reads a clock, touches a socket, the ring or a QUIC stream:
 * the driver (proxy.c for HTTP/3 today; HTTP/1.1 and HTTP/2 front ends
 * later) feeds events with `now` and carries out the actions returned in
 * struct pex_act. Every event function clears *act first, checks the
 * state, and commits the new state at the end of its success path.
 *
 * Events: request head (target already normalized by path.c, route
 * already matched), request body bytes / end, upstream connected / connect
 * failed, upstream bytes read, upstream write completed, client pulled /
 * acked body bytes, client gone, timeout.
 *
 * Actions (flags; several may come at once: carry them out in this order,
 * the response head before the bytes fed after it):
 *   act->release[] buffer tags (given to pex_read) no body segment uses any more
 *   act->failed_server  a server to count a failure for (-1: none)
 *   act->consume   request body bytes the client may be credited for
 *   PEX_A_RELEASE  detach the upstream connection: keep it idle when
 *                  act->reuse, else close it (a write in flight still owns
 *                  the exchange's buffers: see pex_busy())
 *   PEX_A_RESPOND  send the response head act->status, act->hdrs[0 .. n_hdrs)
 *                  to the client; body follows (pex_pull) when with_body
 *   PEX_A_RESET    abort the client's stream (the head went out already)
 *   PEX_A_CONNECT  get a connection to server act->server of the backend
 *                  (an idle one or a new connect), then pex_connected() or
 *                  pex_connect_failed()
 *   PEX_A_WRITE    writev act->iov[0 .. n_iov) upstream (copy the iovecs:
 *                  they live in act), then pex_written()
 *   PEX_A_READ     keep a read in flight on the connection, then pex_read()
 *   PEX_A_FEED     call pex_read() again with the bytes it did not consume
 *                  (after a response head, or when the window reopened),
 *                  with none (len 0) when all were
 *   PEX_A_RESUME   body bytes are ready for the client: pex_pull() has data
 *   act->deadline  the exchange's single deadline, UINT64_MAX for none (a
 *                  nested event may move it: ex->deadline is the current one)
 *   act->why       a short reason for the driver's log, or NULL
 *
 * Memory: the exchange embeds its request head buffer and the response
 * parser; the request body ring (PEX_REQ_BUF) comes from a per-worker
 * bounded pool (struct pex_pool). Response body bytes are not copied:
 * segments point into the driver's receive buffers, each tagged, and
 * tags come back in act->release once the client acked those bytes.
 */
#ifndef RG_PROXY_EXCHANGE_H
#define RG_PROXY_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "datapath/proxy/http1.h"
#include "datapath/proxy/proxy.h"
#include "datapath/proxy/route.h"
#include "datapath/quic/quic.h"

#define PEX_RESP_WINDOW (4 * 1024 * 1024) /* response bytes read ahead of the client's acks */
#define PEX_SEGS 256                      /* body segments handed out, not yet acked */
/* Request body bytes held between the client and the backend. The peer may
 * send a whole stream window before we consume anything, so this must be
 * at least the QUIC stream window (QUIC_STREAM_WINDOW, 256 KiB). */
#define PEX_REQ_BUF (256 * 1024)
#define PEX_HEAD_MAX (HTTP1_MAX_HEADER_BYTES + 1024) /* serialized request head */
#define PEX_CONNECT_TIMEOUT_NS (5ull * 1000000000)
#define PEX_DOWN_NS (5ull * 1000000000) /* passive health: a failed server rests */
#define PEX_MAX_HDRS 32
#define PEX_RETRIES 4 /* a request replayed on a fresh connection after a stale keep-alive one */

/* A bounded free-list pool of same-size buffers (one per worker): grown by
 * malloc up to `max` objects, never shrunk until pex_pool_fini. Only the
 * growth allocates, so a steady load reuses what it already has. */
struct pex_pool {
	size_t size;
	unsigned max;
	unsigned allocated; /* objects ever malloc'd and not freed (pool size) */
	unsigned live;      /* handed out */
	unsigned high;      /* high-water mark of live */
	void *free;         /* free list threaded through each object's first bytes */
};

void pex_pool_init(struct pex_pool *p, size_t size, unsigned max);
/* An object, or NULL when `max` are live or malloc failed. */
void *pex_pool_get(struct pex_pool *p);
void pex_pool_put(struct pex_pool *p, void *obj);
void pex_pool_fini(struct pex_pool *p);

enum pex_state {
	PEX_FREE = 0,
	PEX_CONNECTING, /* waiting for a connection to act->server */
	PEX_UPSTREAM,   /* request going out, response head not yet received */
	PEX_STREAMING,  /* response head sent; body flowing from the backend */
	PEX_LOCAL,      /* answered here; waiting for the client to finish */
	PEX_FINISHED,   /* upstream done (or failed); waiting for the client to finish */
	PEX_CLOSED,     /* the client is gone; only a write in flight may remain */
};

enum {
	PEX_A_RELEASE = 1u << 0,
	PEX_A_CONNECT = 1u << 1,
	PEX_A_WRITE = 1u << 2,
	PEX_A_READ = 1u << 3,
	PEX_A_FEED = 1u << 4,
	PEX_A_RESPOND = 1u << 5,
	PEX_A_RESUME = 1u << 6,
	PEX_A_RESET = 1u << 7,
};

struct pex_act {
	unsigned flags;
	bool reuse;              /* PEX_A_RELEASE */
	unsigned server;         /* PEX_A_CONNECT: index in the backend */
	int failed_server;       /* a server to count a failure for, -1 none */
	struct iovec iov[4];     /* PEX_A_WRITE */
	unsigned n_iov;
	unsigned status;         /* PEX_A_RESPOND */
	struct quic_header hdrs[PEX_MAX_HDRS];
	unsigned n_hdrs;
	bool with_body;
	size_t consume;          /* request body credit for the client */
	size_t fed;              /* pex_read: bytes the parser consumed */
	void *release[PEX_SEGS]; /* buffer tags no longer referenced */
	unsigned n_release;
	unsigned tag_refs;       /* pex_read: segments that now reference its tag */
	uint64_t deadline;
	const char *why;         /* a short reason for the driver's log, or NULL */
};

/* What the exchange needs to know of the chosen route's backend. */
struct pex_backend {
	enum proxy_lb lb;
	uint64_t timeout_ns;          /* response timeout (between bytes) */
	struct proxy_srv_state *st;   /* n entries, the worker's state */
	unsigned n;
};

/* Per worker: counters and the body buffer pool the exchanges share. */
struct pex_env {
	struct proxy_counters *ctr;
	struct pex_pool *bufs; /* PEX_REQ_BUF-sized */
};

struct pex_seg {
	const uint8_t *p;
	size_t len;
	void *tag;
};

struct proxy_exchange {
	enum pex_state state;
	struct pex_env *env;
	uint64_t started;
	const struct pex_backend *be;
	unsigned srv;               /* the server in use (valid from CONNECTING) */
	unsigned attempts;
	uint64_t tried;             /* servers that failed this request (first 64) */
	uint64_t deadline;
	bool head_req, has_body, body_ended, chunked;
	bool responded, with_body, resp_done, blocked, paused, write_failed;
	bool conn, reused;          /* holds (or is getting) an upstream connection; was it reused */
	bool writing, req_done;
	const char *via;            /* Via's received-protocol (front.h); NULL: "3" */

	/* request */
	size_t head_len, head_off;
	uint8_t *rb;                /* from env->bufs when the request has a body */
	uint64_t rb_in, rb_out, body_total;
	char fbuf[40];              /* chunk framing (RFC 9112 7.1) */
	size_t flen, foff;
	uint64_t chunk_left;
	bool chunk_open, final_queued;

	/* response */
	unsigned seg_ack, seg_sent, seg_end; /* free-running indices into segs */
	size_t ack_off;
	uint64_t unacked;

	/* local answer */
	const char *local;
	size_t local_left;
	char cl[24];

	/* Not cleared by pex_init (written before read): */
	struct pex_seg segs[PEX_SEGS];
	struct http1_resp rp;
	char head[PEX_HEAD_MAX];
};

/* Ready for a request: state PEX_FREE until pex_request. */
void pex_init(struct proxy_exchange *ex, struct pex_env *env);
/* The request head. `req->path` is the normalized target; `be` the route's
 * backend (NULL: no route, 404), allow_0rtt the route's opt-in to early
 * data. `client` the client's address as text (X-Forwarded-For). */
void pex_request(struct proxy_exchange *ex, const struct quic_request *req, const char *client,
                 const struct pex_backend *be, bool allow_0rtt, uint64_t now, struct pex_act *act);
/* Answer here without a backend (the driver's 400/431 for a refused target). */
void pex_refuse(struct proxy_exchange *ex, unsigned status, bool head_req, uint64_t now,
                struct pex_act *act);
/* Request body bytes (copied); -ENOBUFS beyond the flow-control window. */
RG_MUST_CHECK int pex_body(struct proxy_exchange *ex, const uint8_t *data, size_t len, uint64_t now,
                           struct pex_act *act);
void pex_body_end(struct proxy_exchange *ex, uint64_t now, struct pex_act *act);
/* The connection for PEX_A_CONNECT is ready (reused: it carried a request before). */
void pex_connected(struct proxy_exchange *ex, bool reused, uint64_t now, struct pex_act *act);
/* It could not be had. `refused`: the server refused or did not answer
 * (passive health rests it); else a local failure (no socket). */
void pex_connect_failed(struct proxy_exchange *ex, int err, bool refused, uint64_t now,
                        struct pex_act *act);
/* The write of PEX_A_WRITE completed: res bytes, or -errno. */
void pex_written(struct proxy_exchange *ex, long res, uint64_t now, struct pex_act *act);
/* Bytes read from the backend, or (len 0) the bytes left after a
 * PEX_A_FEED when none are. act->fed says how many the parser consumed;
 * body segments point into `data` and keep `tag` (act->tag_refs more). */
void pex_read(struct proxy_exchange *ex, const uint8_t *data, size_t len, void *tag, uint64_t now,
              struct pex_act *act);
/* The backend closed its side (err 0) or the read failed (-errno). */
void pex_read_end(struct proxy_exchange *ex, int err, uint64_t now, struct pex_act *act);
/* The client pulls body bytes: a count of iovecs, QUIC_BODY_WOULDBLOCK. */
ssize_t pex_pull(struct proxy_exchange *ex, struct quic_iov *iov, unsigned n, bool *eof);
/* The client acknowledged n more body bytes. */
void pex_acked(struct proxy_exchange *ex, uint64_t n, uint64_t now, struct pex_act *act);
/* The client's stream closed (done or reset). Counts the latency. */
void pex_client_gone(struct proxy_exchange *ex, uint64_t now, struct pex_act *act);
/* The deadline passed (ignored when it has not, or is none). */
void pex_timeout(struct proxy_exchange *ex, uint64_t now, struct pex_act *act);
/* A write in flight still points into the exchange: do not free it yet. */
static inline bool pex_busy(const struct proxy_exchange *ex) { return ex->writing; }
const char *pex_state_name(enum pex_state s);

#endif
