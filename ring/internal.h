/* Inside the ring: the state both backends share, and the hooks each
 * backend provides. Not for users of ring.h. */
#ifndef RG_RING_INTERNAL_H
#define RG_RING_INTERNAL_H

#include <liburing.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "ring/ring.h"

#define RING_MAX_SOCKS 256
#define RING_MAX_CHANS 8
#define RING_BATCH 256        /* datagrams handed to ops->recv at once */
#define RING_GSO_MAX_SEGS 64  /* the kernel's UDP_MAX_SEGMENTS */
#define RING_GSO_MAX_BYTES 65000 /* below the 64 KiB IP datagram limit with headers */
#define RING_TX_SLOTS 1024    /* send runs in flight */
#define RING_CTRL_RX 128      /* room for pktinfo + GRO cmsgs */
#define RING_CTRL_TX (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
                      CMSG_SPACE(sizeof(int)) /* IP_TOS / IPV6_TCLASS: ECN */)

/* What a completion is for: the low byte of user_data. */
enum ring_op {
	RING_OP_RECV = 1,
	RING_OP_SEND,
	RING_OP_CHAN,
	RING_OP_CANCEL,
	RING_OP_PROBE,
};

/* user_data layout: op (8 bits) | index (16 bits) | generation (16 bits).
 * The generation lets a late completion of a removed socket be told from
 * one of the socket now using the same index. */
static inline uint64_t ring_ud(enum ring_op op, unsigned idx, unsigned gen)
{
	return (uint64_t)op | (uint64_t)(idx & 0xffff) << 8 | (uint64_t)(gen & 0xffff) << 24;
}
static inline enum ring_op ring_ud_op(uint64_t ud) { return (enum ring_op)(ud & 0xff); }
static inline unsigned ring_ud_idx(uint64_t ud) { return (unsigned)(ud >> 8) & 0xffff; }
static inline unsigned ring_ud_gen(uint64_t ud) { return (unsigned)(ud >> 24) & 0xffff; }

struct ring_sock {
	int fd;          /* -1: free */
	uint16_t gen;
	bool gso_ok;     /* cleared after the kernel answered EIO to a GSO send */
	bool armed;      /* io_uring: a multishot receive is in flight */
	uint8_t rx_errs; /* io_uring: receive errors in a row (not re-armed past a limit) */
	uint16_t port;   /* network order, for ring_dgram.local */
	rg_sockaddr addr;
};

/* One sendmsg: a run of equal-size datagrams (and maybe a shorter tail)
 * contiguous in the send arena. */
struct ring_run {
	uint32_t off, len;   /* in the arena */
	uint16_t seg;        /* segment size; == len for one datagram */
	uint16_t nseg;
	uint16_t sock;
	bool tail;           /* a shorter datagram ended the run */
	uint8_t ecn;         /* ECN codepoint of every datagram of the run */
	bool has_from;
	bool submitted;
	bool done;
	rg_sockaddr to, from;
	struct msghdr msg;   /* io_uring: must live until the completion */
	struct iovec iov;
	union {
		char buf[RING_CTRL_TX];
		struct cmsghdr align;
	} ctrl;
};

struct ring_chan {
	unsigned mask;
	_Alignas(64) _Atomic uint64_t head; /* producers claim here */
	_Alignas(64) uint64_t tail;         /* the consumer reads here */
	_Alignas(64) _Atomic int signaled;  /* an eventfd write is pending */
	int efd;
	struct chan_cell {
		_Atomic uint64_t seq;
		struct ring_msg msg;
	} *cells;
};

struct ring {
	enum ring_backend backend;
	struct ring_opts o;
	struct ring_stats st;
	uint64_t deadline;

	struct ring_sock socks[RING_MAX_SOCKS];
	unsigned n_socks_hi; /* highest used index + 1 */

	/* receive buffers: rx_bufs of rx_buf_size bytes */
	uint8_t *rx_mem;
	/* the batch being built for ops->recv, and the buffers it uses */
	struct ring_dgram batch[RING_BATCH];
	unsigned n_batch;
	uint8_t rx_ecn; /* of the datagram being parsed (ring_cmsg_parse); the
	                   backends zero it before each datagram's cmsgs */
	uint16_t batch_bids[RING_BATCH];
	unsigned n_batch_bids;

	/* send arena: a circular buffer of runs, freed in order as they
	 * complete (io_uring) or at once (epoll) */
	uint8_t *tx_mem;
	size_t tx_size;
	size_t tx_head, tx_tail; /* bytes in use: [head, tail) modulo wrap */
	size_t tx_wrap;          /* where the data before a wrap ends, 0 if none */
	size_t prep_off, prep_cap;
	bool prep_valid;
	struct ring_run runs[RING_TX_SLOTS];
	unsigned run_head, run_tail; /* runs in use, FIFO, RING_TX_SLOTS modulo */
	unsigned run_unsubmitted;    /* first run not yet submitted */

	struct ring_chan *chans[RING_MAX_CHANS];
	uint64_t chan_buf[RING_MAX_CHANS]; /* io_uring: eventfd read targets */
	unsigned n_chans;

	/* io_uring */
	struct io_uring ur;
	struct io_uring_buf_ring *br;
	size_t br_len;
	unsigned br_mask;
	struct msghdr rx_msg; /* template of the multishot recvmsg */
	bool min_wait;        /* IORING_FEAT_MIN_TIMEOUT: batched waits */
	unsigned sqe_pending;

	/* stream I/O (io.c). epoll: operations to try in the next turn
	 * (new, woken, cancelled), and the waiters of each descriptor. */
	struct ring_io *io_ready, **io_ready_tail;
	struct io_fd {
		struct ring_io *rd, *wr;
		uint32_t reg; /* events registered with epoll */
	} *iofd;
	unsigned n_iofd;

	/* epoll */
	int epfd;
	struct mmsghdr *mm;
	struct iovec *mm_iov;
	uint8_t (*mm_ctrl)[RING_CTRL_RX];
	rg_sockaddr *mm_name;
};

/* ---- ring.c, for the backends ---- */
/* Parse the control messages of a received datagram into local address
 * and GRO segment size, and its ECN codepoint into r->rx_ecn (which the
 * next ring_batch_add takes). Returns 0 or -EINVAL. */
int ring_cmsg_parse(struct ring *r, struct msghdr *m, struct cmsghdr *first, unsigned sock,
                    rg_sockaddr *local, unsigned *gro);
/* Add one received (maybe GRO-coalesced) datagram to the batch, split into
 * its segments. `bid` is the buffer to give back after delivery, or -1. */
void ring_batch_add(struct ring *r, unsigned sock, uint8_t *data, size_t len, unsigned gro,
                    const rg_sockaddr *peer, const rg_sockaddr *local, int bid);
/* Deliver the batch to ops->recv, then return its buffers. */
void ring_batch_deliver(struct ring *r);
/* Build the msghdr of a run (destination, iov, UDP_SEGMENT, pktinfo). */
void ring_run_msg(struct ring *r, struct ring_run *run, bool gso);
/* A run is finished (sent or failed): account and free its arena space. */
void ring_run_done(struct ring *r, struct ring_run *run, int res);
/* Resend a run datagram by datagram, one sendmmsg (GSO refused). */
void ring_run_resend_plain(struct ring *r, struct ring_run *run);
/* Did the kernel refuse to segment this run? EIO: the route cannot
 * segment (no checksum offload, xfrm). EINVAL: the socket cannot (e.g.
 * SO_NO_CHECK) or the segment exceeds the route's MTU. Either way the same
 * bytes go out without UDP_SEGMENT, and the socket stops using GSO. */
static inline bool ring_gso_refused(int err, const struct ring_run *run)
{
	return run->nseg > 1 && (err == -EIO || err == -EINVAL);
}
void ring_chan_drain_signal(struct ring_chan *c);

/* ---- io.c: stream and device I/O ---- */
/* user_data / epoll data with the top bit set: a struct ring_io (io_uring)
 * or a descriptor with waiters (epoll). Ring ops never reach that bit. */
#define RING_UD_IO (1ULL << 63)
void uring_io_complete(struct ring *r, uint64_t ud, int res, unsigned cqe_flags);
/* epoll: a descriptor with waiters is ready; the operations woken and the
 * ones submitted or cancelled since the last turn run at the turn's end. */
void epoll_io_event(struct ring *r, int fd, uint32_t events);
void epoll_io_run(struct ring *r);
bool epoll_io_pending(const struct ring *r);
void ring_io_fini(struct ring *r);

/* ---- backends ---- */
int uring_init(struct ring *r);
void uring_fini(struct ring *r);
int uring_sock_arm(struct ring *r, unsigned idx);
void uring_sock_cancel(struct ring *r, unsigned idx);
int uring_chan_arm(struct ring *r, unsigned idx);
int uring_flush(struct ring *r);
int uring_turn(struct ring *r);

int epoll_backend_init(struct ring *r);
void epoll_backend_fini(struct ring *r);
int epoll_sock_add(struct ring *r, unsigned idx);
void epoll_sock_del(struct ring *r, unsigned idx);
int epoll_chan_add(struct ring *r, unsigned idx);
int epoll_flush(struct ring *r);
int epoll_turn(struct ring *r);

#endif
