/* upstream: per-worker keep-alive pools of TCP connections to backend
 * servers, on the worker's ring (ring_io_*), and their receive buffers.
 *
 * A connection is CONNECTING, BUSY (attached to one exchange), IDLE (in its
 * server's pool) or CLOSING (waiting for the I/O in flight to finish before
 * the fd is closed and the memory freed). Its one timer is the idle
 * deadline; the connect and response deadlines are the exchange's
 * (exchange.h). Receive chunks come from the worker's bounded pool. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/proxy/internal.h"

void proxy_log(struct proxy *px, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!px->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	px->log(px->log_ctx, level, msg);
}

struct chunk *chunk_get(struct proxy *px)
{
	struct chunk *c = pex_pool_get(&px->chunks);

	if (!c)
		return NULL;
	c->refs = 1;
	return c;
}

void chunk_put(struct proxy *px, struct chunk *c)
{
	if (!c || --c->refs)
		return;
	pex_pool_put(&px->chunks, c);
}

void pset_put(struct pset *set)
{
	if (--set->refs)
		return;
	free(set->servers);
	free(set->states);
	free(set->backends);
	free(set);
}

/* RG_NO_DEADLINE disarms (twheel_add does that itself). */
void uconn_timer(struct uconn *c, uint64_t deadline)
{
	twheel_add(&c->srv->set->px->wheel, &c->timer, deadline);
}

static void idle_unlink(struct uconn *c)
{
	if (!c->idle_pprev)
		return;
	*c->idle_pprev = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_pprev = c->idle_pprev;
	c->idle_next = NULL;
	c->idle_pprev = NULL;
}

static void uc_free(struct uconn *c)
{
	struct pserver *srv = c->srv;
	struct proxy *px = srv->set->px;

	uconn_timer(c, RG_NO_DEADLINE);
	idle_unlink(c);
	*c->all_pprev = c->all_next;
	if (c->all_next)
		c->all_next->all_pprev = c->all_pprev;
	if (c->fd >= 0)
		close(c->fd);
	chunk_put(px, c->rchunk);
	srv->st->conns--;
	px->n_conns--;
	px->ctr.conns_open--;
	pset_put(srv->set);
	free(c);
}

/* Close: the fd goes once no operation is in flight on it. */
static void uc_close(struct uconn *c)
{
	struct proxy *px = c->srv->set->px;

	idle_unlink(c);
	uconn_timer(c, RG_NO_DEADLINE);
	if (c->state == UC_BUSY || c->state == UC_CONNECTING)
		c->srv->st->busy--;
	c->state = UC_CLOSING;
	c->ex = NULL;
	if (!ring_io_busy(&c->rd) && !ring_io_busy(&c->wr)) {
		uc_free(c);
		return;
	}
	/* wake a read that may wait forever (an idle backend) */
	shutdown(c->fd, SHUT_RDWR);
	ring_io_cancel(px->ring, &c->rd);
	ring_io_cancel(px->ring, &c->wr);
}

static void closing_done(struct uconn *c)
{
	if (!ring_io_busy(&c->rd) && !ring_io_busy(&c->wr))
		uc_free(c);
}

static void on_read(struct ring *r, struct ring_io *io, int res)
{
	struct uconn *c = io->user;
	struct proxy *px = c->srv->set->px;

	(void)r;
	px->io_pending--;
	if (c->state == UC_CLOSING) {
		closing_done(c);
		return;
	}
	if (c->state == UC_IDLE) {
		/* the backend closed an idle connection, or sent bytes nobody
		 * asked for: either way it cannot carry a request */
		uc_close(c);
		return;
	}
	if (res > 0)
		c->rfill += (size_t)res;
	else
		c->eof = true;
	ex_read(c->ex, res); /* may release or close c */
}

static void on_write(struct ring *r, struct ring_io *io, int res)
{
	struct uconn *c = io->user;
	struct proxy *px = c->srv->set->px;
	struct exchange *wex = c->wex;

	(void)r;
	px->io_pending--;
	c->wex = NULL;
	if (c->state == UC_CLOSING)
		closing_done(c);
	else if (c->state == UC_CONNECTING)
		ex_connected(c->ex, res); /* may close c */
	if (wex) {
		/* also when c was released meanwhile: the exchange's buffers
		 * are free only once the kernel is done with them */
		ex_written(wex, res);
		ex_put(wex);
	}
}

void uconn_read(struct uconn *c)
{
	struct proxy *px = c->srv->set->px;

	if (ring_io_busy(&c->rd) || c->state == UC_CLOSING || c->state == UC_CONNECTING || c->eof)
		return;
	if (c->rparsed != c->rfill)
		return; /* the exchange still has bytes to parse */
	if (!c->rchunk || PROXY_CHUNK - c->rfill < PROXY_CHUNK_MIN_ROOM) {
		struct chunk *n = chunk_get(px);

		if (!n)
			return; /* retried at the next ack or timeout */
		chunk_put(px, c->rchunk);
		c->rchunk = n;
		c->rfill = c->rparsed = 0;
	}
	c->rd.op = RING_IO_READ;
	c->rd.fd = c->fd;
	c->rd.buf = c->rchunk->data + c->rfill;
	c->rd.len = PROXY_CHUNK - c->rfill;
	c->rd.done = on_read;
	c->rd.user = c;
	if (ring_io_submit(px->ring, &c->rd) == 0)
		px->io_pending++;
}

int uconn_writev(struct uconn *c, const struct iovec *iov, unsigned n)
{
	struct proxy *px = c->srv->set->px;
	int err;

	c->wr.op = RING_IO_WRITEV;
	c->wr.fd = c->fd;
	c->wr.iov = iov;
	c->wr.iovcnt = n;
	c->wr.done = on_write;
	c->wr.user = c;
	err = ring_io_submit(px->ring, &c->wr);
	if (err)
		return err;
	px->io_pending++;
	return 0;
}

struct uconn *uconn_get(struct pserver *srv, struct exchange *ex, int *err)
{
	struct proxy *px = srv->set->px;
	struct uconn *c = srv->idle;
	int fd, one = 1;

	if (c) {
		idle_unlink(c);
		uconn_timer(c, RG_NO_DEADLINE);
		c->state = UC_BUSY;
		c->ex = ex;
		c->reused = true;
		srv->st->busy++;
		px->ctr.conns_reused++;
		return c;
	}
	fd = socket(srv->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	/* requests and small responses go out at once, not after Nagle's delay */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	c->srv = srv;
	c->fd = fd;
	c->ex = ex;
	c->state = UC_CONNECTING;
	c->wr.op = RING_IO_CONNECT;
	c->wr.fd = fd;
	c->wr.addr = srv->addr;
	c->wr.done = on_write;
	c->wr.user = c;
	*err = ring_io_submit(px->ring, &c->wr);
	if (*err) {
		close(fd);
		free(c);
		return NULL;
	}
	px->io_pending++;
	c->all_next = px->conns;
	if (px->conns)
		px->conns->all_pprev = &c->all_next;
	c->all_pprev = &px->conns;
	px->conns = c;
	srv->set->refs++;
	srv->st->conns++;
	srv->st->busy++;
	px->n_conns++;
	px->ctr.conns_opened++;
	px->ctr.conns_open++;
	return c; /* the connect deadline is the exchange's */
}

/* The connect finished: from now on the connection always reads. */
void uconn_connected(struct uconn *c)
{
	c->state = UC_BUSY;
	uconn_read(c);
}

void uconn_release(struct uconn *c, bool reuse)
{
	struct pserver *srv = c->srv;

	if (!reuse || srv->set->retired || c->eof || c->state != UC_BUSY || ring_io_busy(&c->wr) ||
	    c->rparsed != c->rfill) {
		uc_close(c);
		return;
	}
	srv->st->busy--;
	c->state = UC_IDLE;
	c->ex = NULL;
	c->idle_next = srv->idle;
	if (srv->idle)
		srv->idle->idle_pprev = &c->idle_next;
	c->idle_pprev = &srv->idle;
	srv->idle = c;
	uconn_read(c); /* notices the backend closing it */
	uconn_timer(c, ring_now() + PROXY_IDLE_TIMEOUT_NS);
}

/* An idle connection's deadline passed (busy ones have no timer). */
void uconn_expired(struct uconn *c)
{
	if (!c->ex)
		uc_close(c);
}

void uconn_close_idle(struct pserver *srv)
{
	while (srv->idle)
		uc_close(srv->idle);
}

void uconn_close_all(struct proxy *px)
{
	struct uconn *c = px->conns, *next;

	for (; c; c = next) {
		next = c->all_next;
		if (c->state != UC_CLOSING)
			uc_close(c);
	}
}
