/* The epoll backend, for kernels or sandboxes without io_uring: the same
 * ring.h behaviour with recvmmsg (GRO and pktinfo parsed the same way) and
 * sendmmsg (one message per run, UDP_SEGMENT per message). Sends complete
 * during the flush, so the arena is free again at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ring/internal.h"

#define EPOLL_MM 64      /* datagrams (or GRO batches) per recvmmsg */
#define EPOLL_ROUNDS 8   /* recvmmsg calls per socket per turn, for fairness */

static unsigned mm_count(const struct ring *r)
{
	return r->o.rx_bufs < EPOLL_MM ? r->o.rx_bufs : EPOLL_MM;
}

int epoll_backend_init(struct ring *r)
{
	unsigned n = mm_count(r);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0)
		return -errno;
	r->mm = calloc(n, sizeof(*r->mm));
	r->mm_iov = calloc(n, sizeof(*r->mm_iov));
	r->mm_ctrl = calloc(n, sizeof(*r->mm_ctrl));
	r->mm_name = calloc(n, sizeof(*r->mm_name));
	if (!r->mm || !r->mm_iov || !r->mm_ctrl || !r->mm_name) {
		epoll_backend_fini(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		r->mm_iov[i].iov_base = r->rx_mem + (size_t)i * r->o.rx_buf_size;
		r->mm_iov[i].iov_len = r->o.rx_buf_size;
	}
	return 0;
}

void epoll_backend_fini(struct ring *r)
{
	if (r->epfd >= 0)
		close(r->epfd);
	r->epfd = -1;
	free(r->mm);
	free(r->mm_iov);
	free(r->mm_ctrl);
	free(r->mm_name);
	r->mm = NULL;
	r->mm_iov = NULL;
	r->mm_ctrl = NULL;
	r->mm_name = NULL;
}

int epoll_sock_add(struct ring *r, unsigned idx)
{
	struct epoll_event ev = {.events = EPOLLIN,
	                         .data.u64 = ring_ud(RING_OP_RECV, idx, r->socks[idx].gen)};
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->socks[idx].fd, &ev) < 0 ? -errno : 0;
}

void epoll_sock_del(struct ring *r, unsigned idx)
{
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->socks[idx].fd, NULL);
}

int epoll_chan_add(struct ring *r, unsigned idx)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ring_ud(RING_OP_CHAN, idx, 0)};
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->chans[idx]->efd, &ev) < 0 ? -errno : 0;
}

/* Read what a socket has, in rounds of recvmmsg; each round is delivered
 * before the next overwrites the buffers. */
static void sock_read(struct ring *r, unsigned idx)
{
	struct ring_sock *s = &r->socks[idx];
	unsigned n = mm_count(r);
	for (int round = 0; round < EPOLL_ROUNDS && s->fd >= 0; round++) {
		for (unsigned i = 0; i < n; i++) {
			struct msghdr *m = &r->mm[i].msg_hdr;
			m->msg_name = &r->mm_name[i];
			m->msg_namelen = sizeof(r->mm_name[i]);
			m->msg_iov = &r->mm_iov[i];
			m->msg_iovlen = 1;
			m->msg_control = r->mm_ctrl[i];
			m->msg_controllen = RING_CTRL_RX;
			m->msg_flags = 0;
		}
		int got = recvmmsg(s->fd, r->mm, n, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return; /* EAGAIN: drained */
		r->st.rx_calls++;
		for (int i = 0; i < got; i++) {
			struct msghdr *m = &r->mm[i].msg_hdr;
			if (m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
				r->st.drops[(m->msg_flags & MSG_TRUNC) ? RING_DROP_TRUNC : RING_DROP_BAD_CMSG]++;
				continue;
			}
			rg_sockaddr local = s->addr;
			unsigned gro = 0;
			bool bad = false;
			r->rx_ecn = 0; /* ECN: set by ring_cmsg_parse (IP_TOS / IPV6_TCLASS) */
			for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
				bad |= ring_cmsg_parse(r, m, c, idx, &local, &gro) != 0;
			if (bad) {
				r->st.drops[RING_DROP_BAD_CMSG]++;
				continue;
			}
			ring_batch_add(r, idx, r->mm_iov[i].iov_base, r->mm[i].msg_len, gro, &r->mm_name[i],
			               &local, -1);
		}
		ring_batch_deliver(r);
		if ((unsigned)got < n)
			return;
	}
}

/* sendmmsg takes one socket: send the runs [from, to) of one socket. */
static void send_group(struct ring *r, unsigned from, unsigned to)
{
	struct mmsghdr mm[64];
	unsigned idx[64];
	unsigned i = from;
	while (i != to) {
		unsigned k = 0;
		int fd = r->socks[r->runs[i].sock].fd;
		while (i != to && k < 64) {
			struct ring_run *run = &r->runs[i];
			if (run->nseg > 1 && !r->socks[run->sock].gso_ok) {
				ring_run_resend_plain(r, run);
			} else if (run->nseg) {
				ring_run_msg(r, run, true);
				mm[k].msg_hdr = run->msg;
				mm[k].msg_len = 0;
				idx[k++] = i;
				r->st.tx_runs++;
			}
			i = (i + 1) % RING_TX_SLOTS;
		}
		unsigned done = 0;
		while (done < k) {
			int n = sendmmsg(fd, mm + done, k - done, MSG_DONTWAIT);
			r->st.tx_calls++;
			if (n > 0) {
				for (int j = 0; j < n; j++) {
					struct ring_run *run = &r->runs[idx[done + (unsigned)j]];
					r->st.tx_dgrams += run->nseg;
					r->st.tx_bytes += run->len;
					run->nseg = 0;
				}
				done += (unsigned)n;
				continue;
			}
			/* the message at `done` failed */
			struct ring_run *run = &r->runs[idx[done]];
			if (ring_gso_refused(-errno, run)) {
				r->socks[run->sock].gso_ok = false;
				r->st.tx_gso_fallbacks++;
				ring_run_resend_plain(r, run);
			} else {
				r->st.drops[RING_DROP_SEND_ERR] += run->nseg;
				run->nseg = 0;
			}
			done++;
		}
	}
}

int epoll_flush(struct ring *r)
{
	unsigned start = r->run_unsubmitted;
	while (start != r->run_tail) {
		unsigned end = start;
		uint16_t sock = r->runs[start].sock;
		while (end != r->run_tail && r->runs[end].sock == sock)
			end = (end + 1) % RING_TX_SLOTS;
		if (r->socks[sock].fd >= 0)
			send_group(r, start, end);
		start = end;
	}
	/* every run is finished: counted above, the arena is free again */
	while (r->run_unsubmitted != r->run_tail) {
		struct ring_run *run = &r->runs[r->run_unsubmitted];
		r->run_unsubmitted = (r->run_unsubmitted + 1) % RING_TX_SLOTS;
		run->nseg = 0;
		ring_run_done(r, run, 0);
	}
	return 0;
}

int epoll_turn(struct ring *r)
{
	epoll_flush(r);
	int timeout = -1;
	if (r->deadline != RG_NO_DEADLINE) {
		uint64_t now = ring_now();
		/* round up: waking a little late is fine, early means a spin */
		timeout = r->deadline > now ? (int)((r->deadline - now + 999999) / 1000000) : 0;
	}
	if (epoll_io_pending(r))
		timeout = 0;
	struct epoll_event evs[64];
	int n = epoll_wait(r->epfd, evs, 64, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	bool chan_fired[RING_MAX_CHANS] = {false};
	for (int i = 0; i < n; i++) {
		uint64_t ud = evs[i].data.u64;
		if (ud & RING_UD_IO) {
			epoll_io_event(r, (int)(ud & 0x7fffffff), evs[i].events);
			continue;
		}
		unsigned idx = ring_ud_idx(ud);
		if (ring_ud_op(ud) == RING_OP_RECV) {
			if (idx < RING_MAX_SOCKS && r->socks[idx].fd >= 0 &&
			    r->socks[idx].gen == ring_ud_gen(ud))
				sock_read(r, idx);
		} else if (ring_ud_op(ud) == RING_OP_CHAN && idx < r->n_chans) {
			chan_fired[idx] = true;
		}
	}
	epoll_io_run(r);
	for (unsigned i = 0; i < r->n_chans; i++) {
		if (!chan_fired[i])
			continue;
		uint64_t v;
		if (read(r->chans[i]->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
		ring_chan_drain_signal(r->chans[i]);
		if (r->o.ops->chan)
			r->o.ops->chan(r->o.ctx, r);
	}
	return 0;
}
