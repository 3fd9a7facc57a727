/* The ring's common half: options, lifetime, the send batch and its GSO
 * coalescing, the receive batch and GRO splitting, control messages. The
 * backends (uring.c, epoll.c) only move bytes between these and the kernel. */
#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ring/internal.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

void ring_opts_default(struct ring_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->backend = RING_BACKEND_AUTO;
	o->gso = true;
	o->gro = true;
	/* Tests and benchmarks pick a backend without a flag. */
	const char *b = getenv("RINGGATE_RING_BACKEND");
	if (b && !strcmp(b, "epoll"))
		o->backend = RING_BACKEND_EPOLL;
	else if (b && !strcmp(b, "uring"))
		o->backend = RING_BACKEND_URING;
}

const char *ring_backend_name(enum ring_backend b)
{
	switch (b) {
	case RING_BACKEND_URING:
		return "io_uring";
	case RING_BACKEND_EPOLL:
		return "epoll";
	default:
		return "auto";
	}
}

enum ring_backend ring_backend_of(const struct ring *r)
{
	return r->backend;
}

uint64_t ring_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const struct ring_stats *ring_stats(const struct ring *r)
{
	return &r->st;
}

void ring_timer_set(struct ring *r, uint64_t deadline)
{
	r->deadline = deadline;
}

static bool pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

int ring_create(const struct ring_opts *o, struct ring **out)
{
	if (!o->ops || !o->ops->recv)
		return -EINVAL;
	struct ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = *o;
	r->deadline = RG_NO_DEADLINE;
	if (!r->o.entries)
		r->o.entries = 1024;
	if (!r->o.rx_bufs)
		r->o.rx_bufs = 256;
	/* A GRO batch is at most 64 KiB of payload; the buffer also holds the
	 * io_uring recvmsg header, the peer address and the control data. */
	if (!r->o.rx_buf_size)
		r->o.rx_buf_size = 65536 + 512;
	if (!r->o.tx_arena)
		r->o.tx_arena = 4u << 20;
	if (!r->o.wait_batch)
		r->o.wait_batch = 32;
	if (!r->o.wait_batch_us)
		r->o.wait_batch_us = 50;
	if (!pow2(r->o.rx_bufs) || r->o.rx_bufs > 32768 || r->o.rx_buf_size < 2048 ||
	    r->o.tx_arena < 65536) {
		free(r);
		return -EINVAL;
	}
	for (unsigned i = 0; i < RING_MAX_SOCKS; i++)
		r->socks[i].fd = -1;
	r->epfd = -1;

	int err = -ENOMEM;
	r->rx_mem = mmap(NULL, (size_t)r->o.rx_bufs * r->o.rx_buf_size, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->rx_mem == MAP_FAILED)
		goto fail_rx;
	r->tx_size = r->o.tx_arena;
	r->tx_mem = mmap(NULL, r->tx_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->tx_mem == MAP_FAILED)
		goto fail_tx;

	err = -ENOSYS;
	if (o->backend != RING_BACKEND_EPOLL) {
		err = uring_init(r);
		if (!err)
			r->backend = RING_BACKEND_URING;
		else if (o->backend == RING_BACKEND_URING)
			goto fail_backend;
	}
	if (err) {
		/* io_uring refused (ENOSYS, EPERM from kernel.io_uring_disabled
		 * or seccomp, ENOMEM from a low memlock limit): same API on epoll */
		err = epoll_backend_init(r);
		if (err)
			goto fail_backend;
		r->backend = RING_BACKEND_EPOLL;
	}
	*out = r;
	return 0;

fail_backend:
	munmap(r->tx_mem, r->tx_size);
fail_tx:
	munmap(r->rx_mem, (size_t)r->o.rx_bufs * r->o.rx_buf_size);
fail_rx:
	free(r);
	return err;
}

void ring_destroy(struct ring *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n_socks_hi; i++)
		if (r->socks[i].fd >= 0)
			close(r->socks[i].fd);
	if (r->backend == RING_BACKEND_URING)
		uring_fini(r);
	else
		epoll_backend_fini(r);
	ring_io_fini(r);
	munmap(r->tx_mem, r->tx_size);
	munmap(r->rx_mem, (size_t)r->o.rx_bufs * r->o.rx_buf_size);
	free(r);
}

/* ---- sockets ---- */

int ring_sock_add(struct ring *r, int fd)
{
	unsigned idx;
	for (idx = 0; idx < RING_MAX_SOCKS; idx++)
		if (r->socks[idx].fd < 0)
			break;
	if (idx == RING_MAX_SOCKS)
		return -ENOSPC;
	struct ring_sock *s = &r->socks[idx];
	socklen_t len = sizeof(s->addr);
	memset(&s->addr, 0, sizeof(s->addr));
	if (getsockname(fd, &s->addr.sa, &len) < 0)
		return -errno;
	s->port = s->addr.sa.sa_family == AF_INET6 ? s->addr.in6.sin6_port : s->addr.in4.sin_port;
	s->fd = fd;
	s->gen++;
	s->gso_ok = r->o.gso;
	s->armed = false;
	s->rx_errs = 0;
	if (idx >= r->n_socks_hi)
		r->n_socks_hi = idx + 1;
	int err = r->backend == RING_BACKEND_URING ? uring_sock_arm(r, idx) : epoll_sock_add(r, idx);
	if (err) {
		s->fd = -1;
		return err;
	}
	return (int)idx;
}

int ring_sock_remove(struct ring *r, unsigned idx)
{
	if (idx >= RING_MAX_SOCKS || r->socks[idx].fd < 0)
		return -EINVAL;
	if (r->backend == RING_BACKEND_URING)
		uring_sock_cancel(r, idx);
	else
		epoll_sock_del(r, idx);
	/* Unsent runs of this socket go nowhere. */
	for (unsigned i = r->run_unsubmitted; i != r->run_tail; i = (i + 1) % RING_TX_SLOTS)
		if (r->runs[i].sock == idx)
			r->runs[i].nseg = 0; /* flush skips it and frees its space */
	close(r->socks[idx].fd);
	r->socks[idx].fd = -1;
	r->socks[idx].gen++; /* late completions of the old socket are ignored */
	return 0;
}

int ring_sock_find(const struct ring *r, int fd)
{
	if (fd < 0)
		return -ENOENT;
	for (unsigned i = 0; i < r->n_socks_hi; i++)
		if (r->socks[i].fd == fd)
			return (int)i;
	return -ENOENT;
}

int ring_sock_addr(const struct ring *r, unsigned idx, rg_sockaddr *out)
{
	if (idx >= RING_MAX_SOCKS || r->socks[idx].fd < 0)
		return -EINVAL;
	*out = r->socks[idx].addr;
	return 0;
}

/* ---- control messages ---- */

int ring_cmsg_parse(struct ring *r, struct msghdr *m, struct cmsghdr *c, unsigned sock,
                    rg_sockaddr *local, unsigned *gro)
{
	(void)m;
	const struct ring_sock *s = &r->socks[sock];
	if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
		const struct in_pktinfo *pi = (const void *)CMSG_DATA(c);
		local->in4.sin_family = AF_INET;
		local->in4.sin_addr = pi->ipi_addr; /* the header's destination */
		local->in4.sin_port = s->port;
		return 0;
	}
	if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
		const struct in6_pktinfo *pi = (const void *)CMSG_DATA(c);
		local->in6.sin6_family = AF_INET6;
		local->in6.sin6_addr = pi->ipi6_addr;
		local->in6.sin6_port = s->port;
		/* link-local replies must leave on the interface they came in on */
		local->in6.sin6_scope_id = pi->ipi6_ifindex;
		return 0;
	}
	if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && c->cmsg_len >= CMSG_LEN(1)) {
		r->rx_ecn = *(const uint8_t *)CMSG_DATA(c) & 3; /* RFC 3168 5 */
		return 0;
	}
	if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
	    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
		int v;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		r->rx_ecn = (uint8_t)(v & 3);
		return 0;
	}
	if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
		int v;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		if (v <= 0)
			return -EINVAL;
		*gro = (unsigned)v;
		return 0;
	}
	return 0; /* others are of no interest */
}

/* ---- receive batch ---- */

void ring_batch_deliver(struct ring *r)
{
	if (r->n_batch)
		r->o.ops->recv(r->o.ctx, r, r->batch, r->n_batch);
	r->n_batch = 0;
	if (r->n_batch_bids) {
		/* the callback is done with the bytes: the buffers go back */
		for (unsigned i = 0; i < r->n_batch_bids; i++) {
			unsigned bid = r->batch_bids[i];
			io_uring_buf_ring_add(r->br, r->rx_mem + (size_t)bid * r->o.rx_buf_size,
			                      r->o.rx_buf_size, (unsigned short)bid, r->br_mask, (int)i);
		}
		io_uring_buf_ring_advance(r->br, (int)r->n_batch_bids);
		r->n_batch_bids = 0;
	}
}

void ring_batch_add(struct ring *r, unsigned sock, uint8_t *data, size_t len, unsigned gro,
                    const rg_sockaddr *peer, const rg_sockaddr *local, int bid)
{
	unsigned nseg = (gro && gro < len) ? (unsigned)((len + gro - 1) / gro) : 1;
	if (r->n_batch + nseg > RING_BATCH)
		ring_batch_deliver(r);
	size_t step = nseg > 1 ? gro : len;
	for (unsigned i = 0; i < nseg; i++) {
		struct ring_dgram *d = &r->batch[r->n_batch++];
		size_t off = (size_t)i * step;
		d->data = data + off;
		d->len = (uint32_t)(len - off < step ? len - off : step);
		d->sock = (uint16_t)sock;
		d->ecn = r->rx_ecn;
		d->peer = *peer;
		d->local = *local;
	}
	r->rx_ecn = 0;
	r->st.rx_dgrams += nseg;
	r->st.rx_bytes += len;
	if (bid >= 0)
		r->batch_bids[r->n_batch_bids++] = (uint16_t)bid;
}

/* ---- send batch ---- */

static bool addr_eq(const rg_sockaddr *a, const rg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port && a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port && a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
	       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}

static unsigned runs_used(const struct ring *r)
{
	return (r->run_tail + RING_TX_SLOTS - r->run_head) % RING_TX_SLOTS;
}

uint8_t *ring_send_prep(struct ring *r, size_t cap)
{
	r->prep_valid = false;
	if (cap == 0 || cap > r->tx_size / 2)
		return NULL;
	size_t off;
	if (runs_used(r) == 0) {
		r->tx_head = r->tx_tail = r->tx_wrap = 0;
		off = 0;
	} else if (!r->tx_wrap) {
		/* data in [head, tail): room after tail, else wrap to the start */
		if (r->tx_tail + cap <= r->tx_size)
			off = r->tx_tail;
		else if (cap < r->tx_head)
			off = 0;
		else
			return NULL;
	} else {
		/* wrapped: data in [head, wrap) and [0, tail) */
		if (r->tx_tail + cap < r->tx_head)
			off = r->tx_tail;
		else
			return NULL;
	}
	r->prep_off = off;
	r->prep_cap = cap;
	r->prep_valid = true;
	return r->tx_mem + off;
}

int ring_send_commit(struct ring *r, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from,
                     size_t len, size_t seg)
{
	return ring_send_commit_ecn(r, sock, to, from, len, seg, 0);
}

int ring_send_commit_ecn(struct ring *r, unsigned sock, const rg_sockaddr *to,
                         const rg_sockaddr *from, size_t len, size_t seg, uint8_t ecn)
{
	ecn &= 3;
	if (!r->prep_valid || len > r->prep_cap || len == 0 || sock >= RING_MAX_SOCKS ||
	    r->socks[sock].fd < 0) {
		r->prep_valid = false;
		r->st.drops[RING_DROP_SEND_ERR]++;
		return -EINVAL;
	}
	r->prep_valid = false;
	size_t off = r->prep_off;
	bool wrapped = off == 0 && runs_used(r) && !r->tx_wrap && r->tx_tail > 0;

	/* Extend the last unsubmitted run when the kernel's GSO rules allow:
	 * same socket, destination and source, contiguous bytes, equal size
	 * (a shorter datagram is the run's last), at most 64 segments. */
	if (!seg && r->run_unsubmitted != r->run_tail && !wrapped) {
		struct ring_run *last = &r->runs[(r->run_tail + RING_TX_SLOTS - 1) % RING_TX_SLOTS];
		if (last->sock == sock && !last->tail && last->nseg && last->nseg < RING_GSO_MAX_SEGS &&
		    last->off + last->len == off && len <= last->seg &&
		    last->len + len <= RING_GSO_MAX_BYTES && r->socks[sock].gso_ok &&
		    last->ecn == ecn && addr_eq(&last->to, to) && last->has_from == (from != NULL) &&
		    (!from || addr_eq(&last->from, from))) {
			last->len += (uint32_t)len;
			last->nseg++;
			last->tail = len < last->seg;
			r->tx_tail = off + len;
			return 0;
		}
	}
	/* A caller's GSO buffer becomes as many runs as the kernel's limits
	 * need (64 segments, 65000 bytes per send): 64 full-size QUIC packets
	 * are ~93 KB, which one sendmsg would refuse with EMSGSIZE. */
	size_t nseg = 1, per = 1;
	if (seg && seg < len) {
		nseg = (len + seg - 1) / seg;
		per = RING_GSO_MAX_BYTES / seg;
		per = per > RING_GSO_MAX_SEGS ? RING_GSO_MAX_SEGS : per ? per : 1;
	} else {
		seg = 0;
	}
	size_t need = (nseg + per - 1) / per;
	if (runs_used(r) + need > RING_TX_SLOTS - 1) {
		r->st.drops[RING_DROP_SEND_FULL] += nseg;
		return -ENOBUFS;
	}
	if (wrapped)
		r->tx_wrap = r->tx_tail;
	for (size_t done = 0; done < len;) {
		size_t chunk = seg ? (len - done < per * seg ? len - done : per * seg) : len;
		struct ring_run *run = &r->runs[r->run_tail];
		memset(run, 0, offsetof(struct ring_run, msg));
		run->off = (uint32_t)(off + done);
		run->len = (uint32_t)chunk;
		run->sock = (uint16_t)sock;
		if (seg && seg < chunk) {
			run->seg = (uint16_t)seg;
			run->nseg = (uint16_t)((chunk + seg - 1) / seg);
		} else {
			run->seg = (uint16_t)chunk;
			run->nseg = 1;
		}
		run->tail = seg != 0; /* a caller's GSO buffer is closed */
		run->ecn = ecn;
		run->to = *to;
		if (from) {
			run->from = *from;
			run->has_from = true;
		}
		r->run_tail = (r->run_tail + 1) % RING_TX_SLOTS;
		done += chunk;
	}
	r->tx_tail = off + len;
	return 0;
}

int ring_send(struct ring *r, unsigned sock, const rg_sockaddr *to, const rg_sockaddr *from,
              const void *buf, size_t len)
{
	uint8_t *p = ring_send_prep(r, len);
	if (!p) {
		r->st.drops[RING_DROP_SEND_FULL]++;
		return -ENOBUFS;
	}
	memcpy(p, buf, len);
	return ring_send_commit(r, sock, to, from, len, 0);
}

void ring_run_msg(struct ring *r, struct ring_run *run, bool gso)
{
	struct msghdr *m = &run->msg;
	memset(m, 0, sizeof(*m));
	m->msg_name = &run->to;
	m->msg_namelen = run->to.sa.sa_family == AF_INET6 ? sizeof(run->to.in6) : sizeof(run->to.in4);
	run->iov.iov_base = r->tx_mem + run->off;
	run->iov.iov_len = run->len;
	m->msg_iov = &run->iov;
	m->msg_iovlen = 1;
	m->msg_control = run->ctrl.buf;
	m->msg_controllen = sizeof(run->ctrl.buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	size_t used = 0;
	if (gso && run->nseg > 1) {
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &run->seg, sizeof(uint16_t));
		used += CMSG_SPACE(sizeof(uint16_t));
		c = CMSG_NXTHDR(m, c);
	}
	if (run->has_from && run->from.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = {.ipi_spec_dst = run->from.in4.sin_addr};
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		used += CMSG_SPACE(sizeof(pi));
	} else if (run->has_from && run->from.sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi = {.ipi6_addr = run->from.in6.sin6_addr,
		                         .ipi6_ifindex = run->from.in6.sin6_scope_id};
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		used += CMSG_SPACE(sizeof(pi));
	}
	if (run->ecn) {
		/* the TOS / traffic class byte's ECN field (RFC 3168 5); the
		 * DSCP bits stay 0. One value for every GSO segment. */
		int tos = run->ecn;
		c = (struct cmsghdr *)((char *)m->msg_control + used);
		c->cmsg_level = run->to.sa.sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
		c->cmsg_type = run->to.sa.sa_family == AF_INET6 ? IPV6_TCLASS : IP_TOS;
		c->cmsg_len = CMSG_LEN(sizeof(tos));
		memcpy(CMSG_DATA(c), &tos, sizeof(tos));
		used += CMSG_SPACE(sizeof(tos));
	}
	m->msg_controllen = used;
	if (!used)
		m->msg_control = NULL;
}

void ring_run_done(struct ring *r, struct ring_run *run, int res)
{
	if (run->nseg) {
		if (res >= 0) {
			r->st.tx_dgrams += run->nseg;
			r->st.tx_bytes += run->len;
		} else {
			r->st.drops[RING_DROP_SEND_ERR] += run->nseg;
		}
	}
	run->done = true;
	/* free finished runs in order; their bytes go back to the arena */
	while (r->run_head != r->run_unsubmitted && r->runs[r->run_head].done) {
		struct ring_run *h = &r->runs[r->run_head];
		r->run_head = (r->run_head + 1) % RING_TX_SLOTS;
		if (r->run_head == r->run_tail) {
			r->tx_head = r->tx_tail = r->tx_wrap = 0;
			break;
		}
		const struct ring_run *next = &r->runs[r->run_head];
		if (next->off < h->off)
			r->tx_wrap = 0; /* the head passed the wrap point */
		r->tx_head = next->off;
	}
}

void ring_run_resend_plain(struct ring *r, struct ring_run *run)
{
	/* One sendmmsg for the whole run, each segment its own message. The
	 * run's arena bytes are still ours: its completion is being handled. */
	const struct ring_sock *s = &r->socks[run->sock];
	struct ring_run one[RING_GSO_MAX_SEGS];
	struct mmsghdr mm[RING_GSO_MAX_SEGS];
	unsigned n = 0;
	for (uint32_t off = 0; off < run->len && n < RING_GSO_MAX_SEGS; off += run->seg, n++) {
		one[n] = *run;
		one[n].off = run->off + off;
		one[n].len = run->len - off < run->seg ? run->len - off : run->seg;
		one[n].nseg = 1;
		ring_run_msg(r, &one[n], false);
		mm[n].msg_hdr = one[n].msg;
		mm[n].msg_len = 0;
	}
	unsigned sent = 0;
	uint64_t bytes = 0;
	while (s->fd >= 0 && sent < n) {
		int k = sendmmsg(s->fd, mm + sent, n - sent, MSG_DONTWAIT);
		r->st.tx_calls++;
		if (k <= 0)
			break; /* EAGAIN or an error: the rest is dropped (UDP) */
		for (int j = 0; j < k; j++)
			bytes += one[sent + (unsigned)j].len;
		sent += (unsigned)k;
	}
	r->st.tx_runs += n;
	r->st.tx_dgrams += sent;
	r->st.tx_bytes += bytes;
	r->st.drops[RING_DROP_SEND_ERR] += run->nseg > sent ? run->nseg - sent : 0;
	run->nseg = 0; /* counted here */
}

int ring_flush(struct ring *r)
{
	r->prep_valid = false;
	if (r->run_unsubmitted == r->run_tail)
		return 0;
	return r->backend == RING_BACKEND_URING ? uring_flush(r) : epoll_flush(r);
}

int ring_turn(struct ring *r)
{
	int err = r->backend == RING_BACKEND_URING ? uring_turn(r) : epoll_turn(r);
	if (err)
		return err;
	if (r->deadline != RG_NO_DEADLINE && ring_now() >= r->deadline && r->o.ops->timer) {
		r->deadline = RG_NO_DEADLINE; /* one shot: the callback arms the next */
		r->o.ops->timer(r->o.ctx, r, ring_now());
	}
	/* io_uring: the runs of this turn become SQEs that the next turn's
	 * wait submits in the same io_uring_enter; epoll sends them now. */
	if (r->backend == RING_BACKEND_URING)
		return 0;
	return ring_flush(r);
}

/* ---- channels: attach ---- */

int ring_chan_attach(struct ring *r, struct ring_chan *c)
{
	if (r->n_chans == RING_MAX_CHANS)
		return -ENOSPC;
	unsigned idx = r->n_chans++;
	r->chans[idx] = c;
	int err = r->backend == RING_BACKEND_URING ? uring_chan_arm(r, idx) : epoll_chan_add(r, idx);
	if (err)
		r->n_chans--;
	return err;
}
