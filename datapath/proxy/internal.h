/* Internal types of datapath/proxy, shared by upstream.c and proxy.c only. */
#ifndef RG_PROXY_INTERNAL_H
#define RG_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "datapath/proxy/accesslog.h"
#include "datapath/proxy/exchange.h"
#include "datapath/proxy/http1.h"
#include "datapath/proxy/proxy.h"
#include "datapath/proxy/route.h"
#include "ring/ring.h"
#include "ring/twheel.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

#define PROXY_CHUNK 65536            /* upstream receive buffer */
#define PROXY_CHUNK_MIN_ROOM 2048    /* less room left: read into a fresh chunk */
#define PROXY_IDLE_TIMEOUT_NS (15ull * 1000000000)   /* keep-alive connection unused */
/* Per-worker pool bounds (grown on demand, kept at their high-water mark;
 * sizes and marks are on /metrics). Past them a request gets 503 (body
 * buffers) or is refused (exchanges), and a read waits for a free chunk. */
#define PROXY_MAX_EXCHANGES 16384    /* ~41 KiB each: head buffer and parser embedded */
#define PROXY_MAX_BODY_BUFS 512      /* PEX_REQ_BUF (256 KiB) each */
#define PROXY_MAX_CHUNKS 4096        /* PROXY_CHUNK each; a response window is 64 of them */

struct chunk {
	unsigned refs; /* the connection reading into it + each body segment */
	uint8_t data[PROXY_CHUNK];
};

struct pset;
struct exchange;

/* One worker's state for one server of one generation. */
struct pserver {
	struct pset *set;
	unsigned gidx;        /* index among all servers of the conf (stats slot) */
	rg_sockaddr addr;
	struct proxy_srv_state *st; /* in set->states, contiguous per backend */
	struct uconn *idle;   /* keep-alive connections, most recent first */
	uint64_t requests, failures;
};

struct pbackend {
	struct pex_backend pb; /* what the exchange sees: lb, timeout, the states */
	unsigned first, n;     /* servers[first .. first+n) of the set */
};

/* A worker's pools for one configuration generation. When a reload
 * retires it, its idle connections close and the busy ones finish their
 * exchange and close; it is freed when the last reference goes. */
struct pset {
	struct proxy *px;
	unsigned refs;        /* the proxy's current set + each connection + each exchange */
	bool retired;
	unsigned n_backends, n_servers;
	struct pbackend *backends;
	struct pserver *servers;
	struct proxy_srv_state *states;
};

enum uconn_state {
	UC_CONNECTING = 1,
	UC_IDLE,
	UC_BUSY,
	UC_CLOSING, /* waiting for the I/O in flight before closing the fd */
};

/* A TCP connection to a backend server. Exactly one read is kept in
 * flight while it is open (also when idle: that is how a backend's close
 * is noticed), except while the exchange's response window is full. */
struct uconn {
	struct pserver *srv;
	enum uconn_state state;
	int fd;
	struct ring_io rd, wr;
	struct chunk *rchunk;   /* reading into rchunk->data[rfill..] */
	size_t rfill, rparsed;  /* bytes read / handed to the parser */
	struct exchange *ex;
	struct exchange *wex;   /* holds a reference while a write is in flight */
	struct uconn *all_next, **all_pprev;
	struct uconn *idle_next, **idle_pprev;
	struct twheel_timer timer; /* idle deadline (the exchange owns the others) */
	bool reused;               /* has carried a request before */
	bool eof;                  /* the backend closed its side */
};

struct proxy {
	struct ring *ring;
	unsigned worker_id;
	proxy_log_fn log;
	void *log_ctx;
	struct twheel wheel;       /* connections' idle deadlines */
	struct twheel xwheel;      /* exchanges' deadlines */
	struct uconn *conns;       /* every connection */
	struct pset *set;          /* for the conf in force */
	const struct proxy_conf *conf;
	struct pex_pool exs, bufs, chunks;
	struct pex_env env;
	unsigned n_conns, n_exchanges, io_pending;
	struct proxy_counters ctr;
	struct alog alog;          /* the access log's line buffer (fd -1: off) */
	struct alog_rec answer_rec; /* proxy_log_answer's line, filled and formatted at once */
};

/* upstream.c */
struct chunk *chunk_get(struct proxy *px);
void chunk_put(struct proxy *px, struct chunk *c);
void pset_put(struct pset *set);
/* An idle connection to srv, or a new one connecting (NULL on error with
 * *err set). The exchange is attached; proxy.c hears back through
 * ex_connected / ex_read / ex_written. */
struct uconn *uconn_get(struct pserver *srv, struct exchange *ex, int *err);
/* Done with the connection: back to the pool when `reuse`, else closed. */
void uconn_release(struct uconn *c, bool reuse);
/* (Re)arm the read when the connection has none in flight. */
void uconn_read(struct uconn *c);
/* Submit a writev of the exchange's request bytes. */
RG_MUST_CHECK int uconn_writev(struct uconn *c, const struct iovec *iov, unsigned n);
/* Arm the connection's one timer; RG_NO_DEADLINE disarms it. */
void uconn_timer(struct uconn *c, uint64_t deadline);
void uconn_close_all(struct proxy *px);
/* The connect succeeded: BUSY, reading. */
void uconn_connected(struct uconn *c);
/* Its idle deadline passed (from the wheel). */
void uconn_expired(struct uconn *c);
void uconn_close_idle(struct pserver *srv);
void proxy_log(struct proxy *px, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* proxy.c, called by upstream.c */
void ex_connected(struct exchange *ex, int res);
void ex_read(struct exchange *ex, int res);
/* A write of ex's completed (on its connection, or on one it released). */
void ex_written(struct exchange *ex, int res);
void ex_put(struct exchange *ex);

#endif
