/* The io_uring backend.
 *
 * Receive: one multishot recvmsg per socket on a provided buffer ring; each
 * completion carries one datagram or one GRO batch in its buffer, laid out
 * as io_uring_recvmsg_out + name + control + payload. Buffers go back to
 * the ring after the batch was delivered. A multishot request ends (no
 * IORING_CQE_F_MORE) on -ENOBUFS, which is back-pressure: the buffers come
 * back with the delivery and the request is re-armed.
 *
 * Send: the runs of a turn become sendmsg SQEs that the next turn's wait
 * submits, so a turn costs one io_uring_enter. Their arena bytes stay put
 * until the completion.
 *
 * Setup: SINGLE_ISSUER + DEFER_TASKRUN where the kernel has them (the ring
 * is only ever used by its worker thread, and completions are then run only
 * when the worker waits), else COOP_TASKRUN, else plain. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring/internal.h"

static struct io_uring_sqe *get_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ur);
	if (!sqe) {
		io_uring_submit(&r->ur);
		sqe = io_uring_get_sqe(&r->ur);
	}
	return sqe;
}

#ifndef IORING_FEAT_MIN_TIMEOUT
#define URING_FEAT_MIN_TIMEOUT (1U << 15) /* 6.12; liburing 2.3 predates it */
#else
#define URING_FEAT_MIN_TIMEOUT IORING_FEAT_MIN_TIMEOUT
#endif
#define URING_RX_ERR_MAX 16 /* receive errors in a row before giving up on a socket */

/* Provided buffer rings came in 5.19, multishot recvmsg in 6.0: on a kernel
 * with only the first, every receive would fail with -EINVAL. Ask once: arm
 * one on a throwaway socket and cancel it; -ECANCELED means it was taken. */
static int probe_recvmsg_multishot(struct ring *r)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	uint64_t ud = ring_ud(RING_OP_PROBE, 0, 0);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ur);
	io_uring_prep_recvmsg_multishot(sqe, fd, &r->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, ud);
	sqe = io_uring_get_sqe(&r->ur);
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_CANCEL, 0, 0));
	int err = io_uring_submit(&r->ur);
	int verdict = err < 0 ? err : -ETIME;
	for (int seen = 0; err >= 0 && seen < 2;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = 1};
		err = io_uring_wait_cqe_timeout(&r->ur, &cqe, &ts);
		if (err < 0)
			break;
		if (io_uring_cqe_get_data64(cqe) == ud && !(cqe->flags & IORING_CQE_F_MORE))
			verdict = cqe->res == -ECANCELED ? 0 : -EOPNOTSUPP;
		seen += io_uring_cqe_get_data64(cqe) == ud ? !(cqe->flags & IORING_CQE_F_MORE) : 1;
		io_uring_cqe_seen(&r->ur, cqe);
	}
	close(fd);
	return verdict;
}

int uring_init(struct ring *r)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int err = -EINVAL;
	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		/* multishot receives post many completions per submission */
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = r->o.entries * 8;
		err = io_uring_queue_init_params(r->o.entries, &r->ur, &p);
		if (err != -EINVAL)
			break;
	}
	if (err)
		return err;
	r->min_wait = r->ur.features & URING_FEAT_MIN_TIMEOUT;

	r->br_len = (size_t)r->o.rx_bufs * sizeof(struct io_uring_buf);
	r->br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->br == MAP_FAILED) {
		err = -ENOMEM;
		goto fail_ring;
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (unsigned long)r->br,
		.ring_entries = r->o.rx_bufs,
		.bgid = 0,
	};
	err = io_uring_register_buf_ring(&r->ur, &reg, 0);
	if (err)
		goto fail_br;
	io_uring_buf_ring_init(r->br);
	r->br_mask = (unsigned)io_uring_buf_ring_mask(r->o.rx_bufs);
	for (unsigned i = 0; i < r->o.rx_bufs; i++)
		io_uring_buf_ring_add(r->br, r->rx_mem + (size_t)i * r->o.rx_buf_size, r->o.rx_buf_size,
		                      (unsigned short)i, r->br_mask, (int)i);
	io_uring_buf_ring_advance(r->br, (int)r->o.rx_bufs);

	memset(&r->rx_msg, 0, sizeof(r->rx_msg));
	/* The completion's buffer holds header (16), name (msg_namelen) and
	 * control data back to back: 32 rather than sockaddr_in6's 28 keeps
	 * the cmsghdrs 8-byte aligned. */
	r->rx_msg.msg_namelen = 32;
	r->rx_msg.msg_controllen = RING_CTRL_RX;
	err = probe_recvmsg_multishot(r);
	if (err)
		goto fail_reg;
	return 0;

fail_reg:
	io_uring_unregister_buf_ring(&r->ur, 0);

fail_br:
	munmap(r->br, r->br_len);
fail_ring:
	io_uring_queue_exit(&r->ur);
	return err;
}

void uring_fini(struct ring *r)
{
	io_uring_unregister_buf_ring(&r->ur, 0);
	io_uring_queue_exit(&r->ur);
	munmap(r->br, r->br_len);
}

int uring_sock_arm(struct ring *r, unsigned idx)
{
	struct ring_sock *s = &r->socks[idx];
	struct io_uring_sqe *sqe = get_sqe(r);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_recvmsg_multishot(sqe, s->fd, &r->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_RECV, idx, s->gen));
	s->armed = true;
	return 0;
}

void uring_sock_cancel(struct ring *r, unsigned idx)
{
	struct ring_sock *s = &r->socks[idx];
	if (!s->armed)
		return;
	struct io_uring_sqe *sqe = get_sqe(r);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ring_ud(RING_OP_RECV, idx, s->gen), 0);
	io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_CANCEL, idx, s->gen));
	io_uring_submit(&r->ur);
	s->armed = false;
}

int uring_chan_arm(struct ring *r, unsigned idx)
{
	struct io_uring_sqe *sqe = get_sqe(r);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, r->chans[idx]->efd, &r->chan_buf[idx], sizeof(r->chan_buf[idx]), 0);
	io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_CHAN, idx, 0));
	return 0;
}

/* Queue the unsubmitted runs as sendmsg SQEs; the next wait submits them. */
static int queue_sends(struct ring *r)
{
	while (r->run_unsubmitted != r->run_tail) {
		unsigned i = r->run_unsubmitted;
		struct ring_run *run = &r->runs[i];
		const struct ring_sock *s = &r->socks[run->sock];
		if (!run->nseg || s->fd < 0) {
			r->run_unsubmitted = (i + 1) % RING_TX_SLOTS;
			ring_run_done(r, run, 0);
			continue;
		}
		if (run->nseg > 1 && !s->gso_ok) {
			ring_run_resend_plain(r, run);
			r->run_unsubmitted = (i + 1) % RING_TX_SLOTS;
			ring_run_done(r, run, 0);
			continue;
		}
		struct io_uring_sqe *sqe = get_sqe(r);
		if (!sqe)
			return -EBUSY;
		ring_run_msg(r, run, true);
		io_uring_prep_sendmsg(sqe, s->fd, &run->msg, 0);
		io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_SEND, i, 0));
		run->submitted = true;
		r->st.tx_calls++;
		r->st.tx_runs++;
		r->run_unsubmitted = (i + 1) % RING_TX_SLOTS;
	}
	return 0;
}

int uring_flush(struct ring *r)
{
	int err = queue_sends(r);
	int n = io_uring_submit(&r->ur);
	return err ? err : (n < 0 ? n : 0);
}

static void on_recv(struct ring *r, struct io_uring_cqe *cqe, uint64_t ud, bool *rearm)
{
	unsigned idx = ring_ud_idx(ud);
	struct ring_sock *s = idx < RING_MAX_SOCKS ? &r->socks[idx] : NULL;
	bool current = s && s->fd >= 0 && s->gen == (ring_ud_gen(ud) & 0xffff);
	bool has_buf = cqe->flags & IORING_CQE_F_BUFFER;
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

	if (current && !(cqe->flags & IORING_CQE_F_MORE)) {
		s->armed = false;
		*rearm = true;
	}
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			r->st.drops[RING_DROP_NOBUFS]++; /* back-pressure, not an error */
		else if (current && s->rx_errs < URING_RX_ERR_MAX)
			s->rx_errs++; /* a socket that only fails is not re-armed for ever */
		return;
	}
	if (current)
		s->rx_errs = 0;
	if (!has_buf)
		return;
	uint8_t *buf = r->rx_mem + (size_t)bid * r->o.rx_buf_size;
	if (!current)
		goto recycle; /* a late datagram of a removed socket */
	r->st.rx_calls++;
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, &r->rx_msg);
	if (!o || (o->flags & MSG_TRUNC) || (o->flags & MSG_CTRUNC)) {
		r->st.drops[(o && (o->flags & MSG_TRUNC)) ? RING_DROP_TRUNC : RING_DROP_BAD_CMSG]++;
		goto recycle;
	}
	rg_sockaddr peer, local = s->addr;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, io_uring_recvmsg_name(o),
	       o->namelen < sizeof(peer) ? o->namelen : sizeof(peer));
	unsigned gro = 0;
	r->rx_ecn = 0; /* ECN: set by ring_cmsg_parse from IP_TOS / IPV6_TCLASS */
	for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &r->rx_msg); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &r->rx_msg, c)) {
		if (ring_cmsg_parse(r, &r->rx_msg, c, idx, &local, &gro)) {
			r->st.drops[RING_DROP_BAD_CMSG]++;
			goto recycle;
		}
	}
	uint8_t *payload = io_uring_recvmsg_payload(o, &r->rx_msg);
	size_t len = io_uring_recvmsg_payload_length(o, cqe->res, &r->rx_msg);
	ring_batch_add(r, idx, payload, len, gro, &peer, &local, (int)bid);
	return;

recycle:
	io_uring_buf_ring_add(r->br, buf, r->o.rx_buf_size, (unsigned short)bid, r->br_mask, 0);
	io_uring_buf_ring_advance(r->br, 1);
}

static void on_send(struct ring *r, struct io_uring_cqe *cqe, uint64_t ud)
{
	struct ring_run *run = &r->runs[ring_ud_idx(ud) % RING_TX_SLOTS];
	if (ring_gso_refused(cqe->res, run)) {
		/* The kernel will not segment for this socket or route: send
		 * this run datagram by datagram and stop using GSO on it. */
		r->socks[run->sock].gso_ok = false;
		r->st.tx_gso_fallbacks++;
		ring_run_resend_plain(r, run);
		ring_run_done(r, run, 0);
		return;
	}
	ring_run_done(r, run, cqe->res);
}

/* Submit what is queued and wait: for one completion, or (min_wait) for
 * up to wait_batch of them but no longer than wait_batch_us once the first
 * is there, or until the deadline. One io_uring_enter either way.
 * liburing 2.3 has no call that passes min_wait_usec (its
 * io_uring_getevents_arg calls the field `pad`; 2.8 renamed it), so the SQ
 * tail is published and the kernel entered here, as
 * io_uring_submit_and_wait_timeout does. ring/meson.build tells which name
 * the installed header uses. */
static int enter_wait(struct ring *r, unsigned want, struct __kernel_timespec *ts)
{
	struct io_uring_sq *sq = &r->ur.sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	unsigned submit = sq->sqe_tail - io_uring_smp_load_acquire(sq->khead);
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.ts = (uint64_t)(uintptr_t)ts,
	};
	if (!r->min_wait && want > 1)
		want = 1;
	if (r->min_wait && want > 1) {
#ifdef RG_HAVE_GETEVENTS_MIN_WAIT_USEC
		arg.min_wait_usec = r->o.wait_batch_us;
#else
		arg.pad = r->o.wait_batch_us; /* min_wait_usec since kernel 6.12 */
#endif
	}
	int ret = io_uring_enter2((unsigned)r->ur.ring_fd, submit, want,
	                          IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, (sigset_t *)&arg,
	                          sizeof(arg));
	return ret;
}

int uring_turn(struct ring *r)
{
	int err = queue_sends(r);
	if (err)
		return err;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts, *tsp = NULL;
	if (r->deadline != RG_NO_DEADLINE) {
		uint64_t now = ring_now();
		uint64_t left = r->deadline > now ? r->deadline - now : 0;
		ts.tv_sec = (long long)(left / 1000000000ull);
		ts.tv_nsec = (long long)(left % 1000000000ull);
		tsp = &ts;
	}
	int ret = enter_wait(r, io_uring_cq_ready(&r->ur) ? 0 : r->o.wait_batch, tsp);
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
		return ret;

	bool chan_fired[RING_MAX_CHANS] = {false};
	bool any_rearm = false;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&r->ur, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		n++;
		if (ud & RING_UD_IO) {
			uring_io_complete(r, ud, cqe->res, cqe->flags);
			continue;
		}
		switch (ring_ud_op(ud)) {
		case RING_OP_RECV:
			on_recv(r, cqe, ud, &any_rearm);
			break;
		case RING_OP_SEND:
			on_send(r, cqe, ud);
			break;
		case RING_OP_CHAN:
			if (ring_ud_idx(ud) < r->n_chans)
				chan_fired[ring_ud_idx(ud)] = true;
			break;
		case RING_OP_CANCEL:
		case RING_OP_PROBE:
			break;
		}
	}
	io_uring_cq_advance(&r->ur, n);
	/* deliver first: that gives the buffers back before any re-arm */
	ring_batch_deliver(r);
	if (any_rearm)
		for (unsigned i = 0; i < r->n_socks_hi; i++)
			if (r->socks[i].fd >= 0 && !r->socks[i].armed &&
			    r->socks[i].rx_errs < URING_RX_ERR_MAX)
				uring_sock_arm(r, i);
	for (unsigned i = 0; i < r->n_chans; i++) {
		if (!chan_fired[i])
			continue;
		ring_chan_drain_signal(r->chans[i]);
		uring_chan_arm(r, i);
		if (r->o.ops->chan)
			r->o.ops->chan(r->o.ctx, r);
	}
	return 0;
}
