/* Stream and device I/O on the ring (ring.h "stream and device I/O").
 *
 * io_uring: one SQE per operation, user_data the struct ring_io with the
 * top bit set; the completion is the result. epoll: operations are tried in
 * the turn after they were submitted; one that would block waits on its
 * descriptor (readers and writers in FIFO lists, the epoll registration
 * following what is waited for) and is tried again when the descriptor is
 * ready. A connect that is in progress waits for writability and then
 * reads SO_ERROR. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring/internal.h"

enum {
	IO_IDLE = 0,
	IO_URING,   /* an SQE is out */
	IO_READY,   /* epoll: to try in the next turn */
	IO_WAIT,    /* epoll: waiting on its descriptor */
	IO_STATE = 0x0f,
	IO_CONNECTING = 0x10, /* epoll: connect() answered EINPROGRESS */
	IO_CANCELLED = 0x20,  /* epoll: complete with -ECANCELED */
};

static socklen_t addr_len(const rg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

static bool io_valid(const struct ring_io *io)
{
	if (io->fd < 0 || !io->done)
		return false;
	switch (io->op) {
	case RING_IO_CONNECT:
		return io->addr.sa.sa_family == AF_INET || io->addr.sa.sa_family == AF_INET6;
	case RING_IO_READ:
	case RING_IO_WRITE:
		return io->buf || !io->len;
	case RING_IO_WRITEV:
		return io->iov && io->iovcnt;
	case RING_IO_ACCEPT:
		return true;
	}
	return false;
}

static void ready_push(struct ring *r, struct ring_io *io)
{
	io->next = NULL;
	if (!r->io_ready)
		r->io_ready_tail = &r->io_ready;
	*r->io_ready_tail = io;
	r->io_ready_tail = &io->next;
}

static int uring_io_submit(struct ring *r, struct ring_io *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ur);
	if (!sqe) {
		io_uring_submit(&r->ur);
		sqe = io_uring_get_sqe(&r->ur);
		if (!sqe)
			return -EAGAIN;
	}
	switch (io->op) {
	case RING_IO_CONNECT:
		io_uring_prep_connect(sqe, io->fd, &io->addr.sa, addr_len(&io->addr));
		break;
	case RING_IO_READ:
		io_uring_prep_read(sqe, io->fd, io->buf, (unsigned)io->len, 0);
		break;
	case RING_IO_WRITE:
		io_uring_prep_write(sqe, io->fd, io->buf, (unsigned)io->len, 0);
		break;
	case RING_IO_WRITEV:
		io_uring_prep_writev(sqe, io->fd, io->iov, io->iovcnt, 0);
		break;
	case RING_IO_ACCEPT:
		/* no address buffer: one buffer would be overwritten by every
		 * accept of a batch; the peer comes from getpeername */
		io_uring_prep_multishot_accept(sqe, io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)io | RING_UD_IO);
	io->state = IO_URING;
	return 0;
}

int ring_io_submit(struct ring *r, struct ring_io *io)
{
	if (io->state)
		return -EBUSY;
	if (!io_valid(io))
		return -EINVAL;
	if (r->backend == RING_BACKEND_URING)
		return uring_io_submit(r, io);
	io->state = IO_READY;
	ready_push(r, io);
	return 0;
}

/* An accepted connection's peer into io->addr (zeroed when unknown). */
static void peer_of(struct ring_io *io, int fd)
{
	socklen_t l = sizeof(io->addr);

	memset(&io->addr, 0, sizeof(io->addr));
	if (getpeername(fd, &io->addr.sa, &l) < 0)
		memset(&io->addr, 0, sizeof(io->addr));
}

void uring_io_complete(struct ring *r, uint64_t ud, int res, unsigned cqe_flags)
{
	struct ring_io *io = (struct ring_io *)(uintptr_t)(ud & ~RING_UD_IO);

	if (io->op == RING_IO_ACCEPT && res >= 0) {
		/* liburing's rule for multishot: F_MORE clear means the kernel
		 * stopped it; after a success that is not the caller's doing,
		 * so arm it again (stays in flight through done) */
		if (!(cqe_flags & IORING_CQE_F_MORE)) {
			io->state = IO_IDLE;
			if (uring_io_submit(r, io) < 0)
				io->state = IO_IDLE;
		}
		peer_of(io, res);
		io->done(r, io, res);
		return;
	}
	if (io->op == RING_IO_ACCEPT && (cqe_flags & IORING_CQE_F_MORE)) {
		/* an error the multishot survives: report, stay armed */
		io->done(r, io, res);
		return;
	}
	io->state = IO_IDLE;
	io->done(r, io, res);
}

/* ---- epoll ---- */

static struct io_fd *fd_slot(struct ring *r, int fd, bool grow)
{
	if ((unsigned)fd >= r->n_iofd) {
		if (!grow)
			return NULL;
		unsigned n = r->n_iofd ? r->n_iofd : 64;
		while (n <= (unsigned)fd)
			n *= 2;
		struct io_fd *t = realloc(r->iofd, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + r->n_iofd, 0, (n - r->n_iofd) * sizeof(*t));
		r->iofd = t;
		r->n_iofd = n;
	}
	return &r->iofd[fd];
}

/* Make the epoll registration of fd follow its waiters. */
static int fd_update(struct ring *r, int fd, struct io_fd *f)
{
	uint32_t want = (f->rd ? EPOLLIN : 0) | (f->wr ? EPOLLOUT : 0);
	if (want == f->reg)
		return 0;
	struct epoll_event ev = {.events = want, .data.u64 = RING_UD_IO | (uint64_t)fd};
	int op = !want ? EPOLL_CTL_DEL : f->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(r->epfd, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL)
		return -errno;
	f->reg = want;
	return 0;
}

static void list_append(struct ring_io **head, struct ring_io *io)
{
	io->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = io;
}

static bool list_remove(struct ring_io **head, struct ring_io *io)
{
	for (; *head; head = &(*head)->next)
		if (*head == io) {
			*head = io->next;
			return true;
		}
	return false;
}

void ring_io_cancel(struct ring *r, struct ring_io *io)
{
	uint8_t st = io->state & IO_STATE;
	if (st == IO_IDLE)
		return;
	if (st == IO_URING) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ur);
		if (!sqe) {
			io_uring_submit(&r->ur);
			sqe = io_uring_get_sqe(&r->ur);
		}
		if (sqe) {
			io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)io | RING_UD_IO, 0);
			io_uring_sqe_set_data64(sqe, ring_ud(RING_OP_CANCEL, 0, 0));
		}
		return;
	}
	if (st == IO_WAIT) {
		struct io_fd *f = fd_slot(r, io->fd, false);
		if (f && (list_remove(&f->rd, io) || list_remove(&f->wr, io)))
			fd_update(r, io->fd, f);
		io->state = IO_READY | IO_CANCELLED;
		ready_push(r, io);
		return;
	}
	io->state |= IO_CANCELLED; /* already queued to run */
}

void epoll_io_event(struct ring *r, int fd, uint32_t events)
{
	struct io_fd *f = fd_slot(r, fd, false);
	if (!f)
		return;
	bool err = events & (EPOLLERR | EPOLLHUP);
	struct ring_io *woke[2] = {NULL, NULL};
	if ((events & EPOLLIN) || err) {
		woke[0] = f->rd;
		f->rd = NULL;
	}
	if ((events & EPOLLOUT) || err) {
		woke[1] = f->wr;
		f->wr = NULL;
	}
	for (int k = 0; k < 2; k++)
		for (struct ring_io *io = woke[k], *next; io; io = next) {
			next = io->next;
			io->state = (uint8_t)((io->state & ~IO_STATE) | IO_READY);
			ready_push(r, io);
		}
	fd_update(r, fd, f);
}

/* Try one operation now: its result, or -EAGAIN to wait. */
static int try_io(struct ring_io *io)
{
	ssize_t n;
	switch (io->op) {
	case RING_IO_CONNECT:
		if (io->state & IO_CONNECTING) {
			int soerr = 0;
			socklen_t l = sizeof(soerr);
			if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
				return -errno;
			return soerr == EINPROGRESS ? -EAGAIN : -soerr;
		}
		if (connect(io->fd, &io->addr.sa, addr_len(&io->addr)) == 0)
			return 0;
		if (errno == EINPROGRESS || errno == EAGAIN) {
			io->state |= IO_CONNECTING;
			return -EAGAIN;
		}
		return -errno;
	case RING_IO_READ:
		n = read(io->fd, io->buf, io->len);
		break;
	case RING_IO_WRITE:
		n = send(io->fd, io->buf, io->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = write(io->fd, io->buf, io->len);
		break;
	case RING_IO_ACCEPT: {
		socklen_t l = sizeof(io->addr);
		int fd;

		memset(&io->addr, 0, sizeof(io->addr));
		fd = accept4(io->fd, &io->addr.sa, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EWOULDBLOCK || errno == ECONNABORTED ? -EAGAIN : -errno;
		return fd;
	}
	case RING_IO_WRITEV: {
		struct msghdr m = {.msg_iov = (struct iovec *)io->iov, .msg_iovlen = io->iovcnt};
		n = sendmsg(io->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = writev(io->fd, io->iov, (int)io->iovcnt);
		break;
	}
	default:
		return -EINVAL;
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)n;
}

void epoll_io_run(struct ring *r)
{
	struct ring_io *list = r->io_ready;
	r->io_ready = NULL; /* what done() submits waits for the next turn */
	for (struct ring_io *io = list, *next; io; io = next) {
		next = io->next;
		int res = (io->state & IO_CANCELLED) ? -ECANCELED : try_io(io);
		if (res == -EAGAIN) {
			struct io_fd *f = fd_slot(r, io->fd, true);
			if (f) {
				/* a listening socket is readable when a
				 * connection waits (never writable) */
				bool wr = io->op != RING_IO_READ && io->op != RING_IO_ACCEPT;
				list_append(wr ? &f->wr : &f->rd, io);
				io->state = (uint8_t)((io->state & ~IO_STATE) | IO_WAIT);
				if (fd_update(r, io->fd, f) == 0)
					continue;
				list_remove(wr ? &f->wr : &f->rd, io);
				res = -ENOMEM;
			} else {
				res = -ENOMEM;
			}
		}
		if (io->op == RING_IO_ACCEPT && res >= 0) {
			/* multishot: still in flight; try again next turn
			 * (EAGAIN then parks it on the socket) unless done
			 * cancelled it */
			io->state = IO_READY;
			io->done(r, io, res);
			ready_push(r, io);
			continue;
		}
		io->state = IO_IDLE;
		io->done(r, io, res);
	}
}

bool epoll_io_pending(const struct ring *r)
{
	return r->io_ready != NULL;
}

void ring_io_fini(struct ring *r)
{
	free(r->iofd);
	r->iofd = NULL;
	r->n_iofd = 0;
}
