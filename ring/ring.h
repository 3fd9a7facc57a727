/* ring: one per worker thread. Owns the io_uring (or the epoll fallback),
 * the UDP sockets handed to it, the provided receive buffers and the send
 * batch of the current loop turn.
 *
 * Contract for all functions: 0 or a positive value on success, negative
 * errno on failure. Nothing here is thread-safe: a ring is used by the one
 * thread that created it, except ring_chan_send() which any thread may call.
 *
 * A loop turn (ring_turn):
 *   1. submit what was queued (sends flushed by the previous turn),
 *   2. wait until a completion arrives or the deadline set with
 *      ring_timer_set() passes,
 *   3. dispatch every completion: received datagrams in batches to
 *      ops->recv, channel wake-ups to ops->chan, the deadline to ops->timer,
 *   4. flush the send batch the callbacks built (ring_flush).
 */
#ifndef RG_RING_H
#define RG_RING_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* "No deadline", the one value for it in every module (STYLE.md convention
 * 2): the tunnel timers and engine, the QUIC heap, the timer wheel, the
 * proxy and the ring's timeout. UINT64_MAX, as ngtcp2_conn_get_expiry():
 * it compares later than any real time, so "earliest deadline" is a plain
 * minimum and nothing can mistake it for "due now" (0 once meant "none" in
 * the tunnel engine and made idle workers spin). */
#define RG_NO_DEADLINE UINT64_MAX

/* An IPv4 or IPv6 socket address without sockaddr_storage's 128 bytes. */
typedef union rg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
} rg_sockaddr;

enum ring_backend {
	RING_BACKEND_AUTO = 0, /* io_uring when the kernel allows it, else epoll */
	RING_BACKEND_URING,
	RING_BACKEND_EPOLL,
};

/* Why the ring layer dropped something. The datapath keeps its own reasons. */
enum ring_drop {
	RING_DROP_NOBUFS,    /* receive buffers exhausted (back-pressure) */
	RING_DROP_TRUNC,     /* datagram or control data larger than a buffer */
	RING_DROP_SEND_ERR,  /* the kernel refused a send */
	RING_DROP_SEND_FULL, /* send batch full for this turn */
	RING_DROP_BAD_CMSG,  /* unparseable control messages */
	RING_DROP_MAX
};

struct ring_stats {
	uint64_t rx_dgrams, rx_bytes, rx_calls; /* rx_calls: completions or syscalls */
	uint64_t tx_dgrams, tx_bytes, tx_calls; /* tx_calls: sendmsg / sendmmsg issued */
	uint64_t tx_runs;                       /* sendmsg messages: a GSO run each */
	uint64_t tx_gso_fallbacks;              /* runs resent without GSO (EIO, EINVAL) */
	uint64_t drops[RING_DROP_MAX];
};

/* One received datagram. `data` points into a provided buffer that is valid
 * only during the ops->recv callback; it may be modified in place (decrypt). */
struct ring_dgram {
	uint8_t *data;
	uint32_t len;
	uint16_t sock;     /* socket index from ring_sock_add() */
	uint8_t ecn;       /* ECN codepoint it arrived with (RFC 3168: the low two
	                      bits of IP_TOS / IPV6_TCLASS; one value for all the
	                      segments of a GRO batch, as the kernel only merges
	                      datagrams of equal TOS) */
	rg_sockaddr peer;  /* where it came from */
	rg_sockaddr local; /* the address the peer sent to (IP_PKTINFO /
	                      IPV6_RECVPKTINFO), port of the socket */
};

struct ring;

struct ring_ops {
	/* A batch of received datagrams, GRO super-datagrams already split. */
	void (*recv)(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n);
	/* A channel of this ring was signalled: drain it with ring_chan_recv(). */
	void (*chan)(void *ctx, struct ring *r);
	/* The deadline set by ring_timer_set() passed; `now` is ring_now(). */
	void (*timer)(void *ctx, struct ring *r, uint64_t now);
};

struct ring_opts {
	enum ring_backend backend;
	unsigned entries;      /* SQ entries; 0: default (1024) */
	unsigned rx_bufs;      /* provided buffers, power of two; 0: default (512) */
	unsigned rx_buf_size;  /* bytes per buffer; 0: default (65536, a full GRO batch) */
	size_t tx_arena;       /* bytes of send space per turn; 0: default (4 MiB) */
	bool gso;              /* coalesce sends with UDP_SEGMENT (default true via ring_opts_default) */
	bool gro;              /* enable UDP_GRO on sockets added (default true) */
	/* io_uring on kernels with IORING_FEAT_MIN_TIMEOUT (6.12): a turn waits
	 * for up to wait_batch completions, but returns wait_batch_us after the
	 * first one. With DEFER_TASKRUN the kernel then wakes this thread once
	 * per batch instead of once per datagram, work that otherwise lands on
	 * the sending CPU. 0: defaults (32 completions, 50 us); wait_batch 1:
	 * wake for every completion. Latency cost: at most wait_batch_us. */
	unsigned wait_batch;
	unsigned wait_batch_us;
	const struct ring_ops *ops;
	void *ctx;
};

void ring_opts_default(struct ring_opts *o);

/* Create a ring for the calling thread. With RING_BACKEND_AUTO, falls back
 * to epoll when io_uring_setup fails (ENOSYS, EPERM from
 * kernel.io_uring_disabled or seccomp). */
RG_MUST_CHECK int ring_create(const struct ring_opts *o, struct ring **out);
void ring_destroy(struct ring *r);
enum ring_backend ring_backend_of(const struct ring *r);
const char *ring_backend_name(enum ring_backend b);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t ring_now(void);

/* ---- sockets ---- */

/* Open a UDP socket bound to `addr` ready for a ring: SO_REUSEPORT,
 * IP_PKTINFO / IPV6_RECVPKTINFO, IP_RECVTOS / IPV6_RECVTCLASS (ECN), IPV6_V6ONLY for [::], UDP_GRO when `gro`,
 * non-blocking, large buffers (SO_RCVBUFFORCE / SO_SNDBUFFORCE when
 * privileged, else the plain options). Returns the fd or negative errno
 * (-EADDRINUSE, -EACCES ...). */
RG_MUST_CHECK int ring_udp_open(const rg_sockaddr *addr, bool gro);

/* Hand a socket to the ring; the ring starts receiving on it and owns the
 * fd from then on (closes it in ring_sock_remove / ring_destroy).
 * Returns the socket index (>= 0) used in ring_dgram.sock and sends. */
RG_MUST_CHECK int ring_sock_add(struct ring *r, int fd);
/* Stop receiving on a socket and close it; the index may be reused.
 * -EINVAL only for an index that holds no socket (a caller's bug). */
int ring_sock_remove(struct ring *r, unsigned sock);
/* The index of the socket whose fd was handed to ring_sock_add, -ENOENT
 * when the ring holds no such socket. The ring's table is the only one: a
 * caller keeps what else it knows of a socket (its kind) by index. */
RG_MUST_CHECK int ring_sock_find(const struct ring *r, int fd);
/* The local address the socket is bound to (for logs and /status). */
RG_MUST_CHECK int ring_sock_addr(const struct ring *r, unsigned sock, rg_sockaddr *out);

/* ---- sending ----
 * Datagrams are collected during one loop turn and flushed at its end.
 * Consecutive datagrams with the same socket, destination, source and
 * length are coalesced into one sendmsg with UDP_SEGMENT, at most 64
 * segments and 65000 bytes per run; a shorter datagram ends a run (it
 * becomes the run's tail), a longer one starts a new run. When the kernel
 * answers EIO to a GSO send (the route cannot segment: no checksum
 * offload, xfrm), or EINVAL (the socket cannot: SO_NO_CHECK), the run is
 * resent without GSO and GSO is switched off for that socket.
 * `from` may be NULL (the kernel picks the source); otherwise it
 * is passed as IP_PKTINFO / IPV6_PKTINFO so replies leave from the address
 * the client used.
 */

/* Space for one datagram (or a pre-coalesced GSO buffer) of up to `cap`
 * bytes in this turn's batch; NULL when the batch is full (flush first).
 * Only the most recent prep is valid; commit or abandon it. */
uint8_t *ring_send_prep(struct ring *r, size_t cap);
/* Commit `len` bytes written at the last ring_send_prep() pointer.
 * `seg` is 0 for one datagram, or the segment size when the caller already
 * built a GSO buffer of len bytes (ngtcp2_conn_write_aggregate_pkt); a
 * buffer beyond 64 segments or 65000 bytes goes out as several runs. */
/* Every failure of these two is counted where it happens
 * (RING_DROP_SEND_ERR, RING_DROP_SEND_FULL) and the datagram is lost as
 * on the wire: a caller with nothing else to do may ignore the result. */
int ring_send_commit(struct ring *r, unsigned sock, const rg_sockaddr *to,
                     const rg_sockaddr *from, size_t len, size_t seg);
/* ring_send_commit with an ECN codepoint (0..3, RFC 3168) every datagram
 * of it carries: sent as an IP_TOS / IPV6_TCLASS control message, so a
 * GSO run never mixes codepoints (a datagram with another codepoint
 * starts a new run). ecn 0 is ring_send_commit. */
int ring_send_commit_ecn(struct ring *r, unsigned sock, const rg_sockaddr *to,
                         const rg_sockaddr *from, size_t len, size_t seg, uint8_t ecn);
/* Copying convenience: prep + memcpy + commit. */
int ring_send(struct ring *r, unsigned sock, const rg_sockaddr *to,
              const rg_sockaddr *from, const void *buf, size_t len);
/* Submit the batch now (ring_turn does this at the end of every turn). */
RG_MUST_CHECK int ring_flush(struct ring *r);

/* ---- time and turns ---- */

/* The one deadline of this ring (ring_now() nanoseconds); RG_NO_DEADLINE
 * disarms (the initial state), a deadline <= now makes the turn wait for
 * nothing. The worker sets it to its earliest deadline. */
void ring_timer_set(struct ring *r, uint64_t deadline);

/* One loop turn, as described at the top. Returns 0, or negative errno on
 * a fatal ring error. */
int ring_turn(struct ring *r);

const struct ring_stats *ring_stats(const struct ring *r);

/* ---- stream and device I/O ----
 * One-shot operations on descriptors the caller owns and keeps open until
 * the operation completed: TCP connections to backends, TUN queues. The
 * completion runs io->done from ring_turn (never from ring_io_submit), with
 * the system call's result: bytes moved, 0 (end of stream, or connected),
 * or a negative errno. The struct ring_io belongs to the ring from submit
 * until done starts; done may submit it again.
 * io_uring: IORING_OP_CONNECT / READ / WRITE / WRITEV, submitted with the
 * turn's one io_uring_enter. epoll: the call is tried in the next turn; on
 * EAGAIN or EINPROGRESS the descriptor waits in epoll and the call is
 * retried when it is ready. Either way the descriptor may be non-blocking.
 * Several operations may be in flight on one descriptor (a read and a
 * write on a socket, several reads on a TUN queue). */
enum ring_io_op {
	RING_IO_CONNECT = 1, /* addr */
	RING_IO_READ,        /* buf, len */
	RING_IO_WRITE,       /* buf, len; may move fewer bytes than asked */
	RING_IO_WRITEV,      /* iov, iovcnt; may move fewer bytes than asked */
	/* fd: a listening socket. Multishot: done runs once per accepted
	 * connection with its descriptor (>= 0, non-blocking, close-on-exec,
	 * the caller's to close) and io->addr set to the peer's address, and
	 * the operation stays in flight (ring_io_busy() is true inside done:
	 * do not submit it again). io_uring: IORING_OP_ACCEPT with
	 * IORING_ACCEPT_MULTISHOT, re-armed by the ring when the kernel ends
	 * the multishot (IORING_CQE_F_MORE clear) after a success. epoll:
	 * accept4 when the socket is readable. A negative result ends it
	 * (idle inside done): -ECANCELED after ring_io_cancel, and the
	 * back-pressure errors -EMFILE, -ENFILE, -ENOBUFS, -ENOMEM (no
	 * descriptor or memory left: the connection stays in the listen
	 * backlog): the caller submits it again once it has closed something
	 * or after a short wait, which is what keeps a full process from
	 * spinning on accept. */
	RING_IO_ACCEPT,
};

struct ring_io;
typedef void (*ring_io_fn)(struct ring *r, struct ring_io *io, int res);

struct ring_io {
	enum ring_io_op op;
	int fd;
	void *buf;
	size_t len;
	const struct iovec *iov;
	unsigned iovcnt;
	rg_sockaddr addr;
	ring_io_fn done;
	void *user;
	/* the ring's */
	struct ring_io *next;
	uint8_t state;
};

/* -EBUSY when the operation is still in flight, -EINVAL on bad fields. */
RG_MUST_CHECK int ring_io_submit(struct ring *r, struct ring_io *io);
/* Ask an operation in flight to stop. done still runs, with -ECANCELED or
 * with the result it reached first; the descriptor may be closed only
 * after that. No effect on an operation that is not in flight. */
void ring_io_cancel(struct ring *r, struct ring_io *io);
static inline bool ring_io_busy(const struct ring_io *io) { return io->state != 0; }

/* A TCP listening socket bound to addr for a ring's RING_IO_ACCEPT:
 * SO_REUSEPORT (one per worker, the kernel spreads connections by
 * 4-tuple), IPV6_V6ONLY for IPv6, non-blocking, close-on-exec, listen()
 * with `backlog` (0: SOMAXCONN). The fd, or -errno (-EADDRINUSE ...). */
RG_MUST_CHECK int ring_tcp_listen(const rg_sockaddr *addr, int backlog);

/* ---- message channels ----
 * A bounded multi-producer single-consumer queue of fixed-size messages
 * with an eventfd the consumer's ring watches. Producers: the control
 * thread (sockets, config generations, stop) and other workers (hand-offs).
 */
struct ring_msg {
	uint32_t type; /* meaning is the user's */
	uint32_t u32;
	uint64_t u64;
	void *ptr;
};

struct ring_chan;

/* capacity is rounded up to a power of two. */
RG_MUST_CHECK int ring_chan_create(unsigned capacity, struct ring_chan **out);
void ring_chan_destroy(struct ring_chan *c);
/* Watch the channel from ring r: ops->chan runs when it is signalled. */
RG_MUST_CHECK int ring_chan_attach(struct ring *r, struct ring_chan *c);
/* Any thread. -EAGAIN when full. Wakes the consumer. */
RG_MUST_CHECK int ring_chan_send(struct ring_chan *c, const struct ring_msg *m);
/* Consumer thread only. 1 when a message was taken, 0 when empty. */
int ring_chan_recv(struct ring_chan *c, struct ring_msg *m);

/* ---- threads ---- */

/* Pin the calling thread to one CPU. */
RG_MUST_CHECK int ring_pin_cpu(unsigned cpu);

#endif
