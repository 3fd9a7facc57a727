/* Stream I/O on the ring (ring_io_*), for one backend (argv[1]: uring or
 * epoll), over loopback TCP: connect, refused connect, write and read both
 * ways, a read and a write in flight on one socket at once, a write larger
 * than the socket buffers (partial writes resumed), cancel of a pending
 * read, and end of stream. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring/ring.h"
#include "tests/check.h"
#include "tests/ring_test.h"

struct op {
	struct ring_io io;
	int res;
	bool done;
};

static void on_done(struct ring *r, struct ring_io *io, int res)
{
	(void)r;
	struct op *o = io->user;
	o->res = res;
	o->done = true;
}

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx, (void)r, (void)d, (void)n;
}
static void on_timer(void *ctx, struct ring *r, uint64_t now)
{
	(void)ctx, (void)r, (void)now;
}
static const struct ring_ops ops = {.recv = on_recv, .timer = on_timer};

/* Turn the ring until every op in the list is done, for at most 5 s. */
static bool wait_ops(struct ring *r, struct op **list, unsigned n)
{
	uint64_t end = ring_now() + 5000000000ull;
	for (;;) {
		bool all = true;
		for (unsigned i = 0; i < n; i++)
			all &= list[i]->done;
		if (all)
			return true;
		if (ring_now() > end)
			return false;
		ring_timer_set(r, ring_now() + 100000000ull);
		if (ring_turn(r) < 0)
			return false;
	}
}
static bool wait1(struct ring *r, struct op *o)
{
	return wait_ops(r, &o, 1);
}

static void start(struct ring *r, struct op *o, enum ring_io_op op, int fd, void *buf, size_t len)
{
	(void)r;
	memset(o, 0, sizeof(*o));
	o->io.op = op;
	o->io.fd = fd;
	o->io.buf = buf;
	o->io.len = len;
	o->io.done = on_done;
	o->io.user = o;
}

static int listener(uint16_t *port)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		return -1;
	*port = ntohs(a.sin_port);
	return l;
}

static rg_sockaddr loop_addr(uint16_t port)
{
	rg_sockaddr s = {.in4 = {.sin_family = AF_INET, .sin_port = htons(port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	return s;
}

#define BIG (8u << 20)

struct drain_arg {
	int fd;
	size_t got;
	uint32_t sum;
};

static void *drain(void *p)
{
	struct drain_arg *a = p;
	static uint8_t buf[65536];
	ssize_t n;
	while (a->got < BIG && (n = read(a->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			a->sum = a->sum * 31 + buf[i];
		a->got += (size_t)n;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct ring *r;
	int rc = ring_test_create(argc, argv, &ops, &r);
	if (rc)
		return rc;
	const char *backend = ring_backend_name(ring_backend_of(r));
	uint16_t port;
	int l = listener(&port);
	CHECK(l >= 0, "listener");

	/* connect */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct op a, b;
	start(r, &a, RING_IO_CONNECT, c, NULL, 0);
	a.io.addr = loop_addr(port);
	CHECK(ring_io_submit(r, &a.io) == 0, "submit connect");
	CHECK(ring_io_submit(r, &a.io) == -EBUSY, "in flight twice");
	CHECK(wait1(r, &a) && a.res == 0, "connect: %d", a.res);
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0, "accept");

	/* refused connect: a port nobody listens on */
	uint16_t dead;
	int l2 = listener(&dead);
	close(l2);
	int c2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	start(r, &b, RING_IO_CONNECT, c2, NULL, 0);
	b.io.addr = loop_addr(dead);
	CHECK(ring_io_submit(r, &b.io) == 0, "submit");
	CHECK(wait1(r, &b) && b.res == -ECONNREFUSED, "refused: %d", b.res);
	close(c2);

	/* write out, read in */
	char msg[] = "hello", buf[64];
	start(r, &a, RING_IO_WRITE, c, msg, 5);
	CHECK(ring_io_submit(r, &a.io) == 0, "submit");
	CHECK(wait1(r, &a) && a.res == 5, "write: %d", a.res);
	CHECK(read(s, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5), "peer got it");

	/* a read waits; a writev on the same socket completes meanwhile */
	start(r, &a, RING_IO_READ, c, buf, sizeof(buf));
	CHECK(ring_io_submit(r, &a.io) == 0, "submit read");
	struct iovec iov[2] = {{.iov_base = "ab", .iov_len = 2}, {.iov_base = "cde", .iov_len = 3}};
	start(r, &b, RING_IO_WRITEV, c, NULL, 0);
	b.io.iov = iov;
	b.io.iovcnt = 2;
	CHECK(ring_io_submit(r, &b.io) == 0, "submit writev");
	CHECK(wait1(r, &b) && b.res == 5, "writev: %d", b.res);
	CHECK(!a.done, "read still waits");
	char pb[8] = {0};
	CHECK(read(s, pb, sizeof(pb)) == 5 && !memcmp(pb, "abcde", 5), "peer got the iovecs");
	CHECK(write(s, "world", 5) == 5, "peer write");
	CHECK(wait1(r, &a) && a.res == 5 && !memcmp(buf, "world", 5), "read: %d", a.res);

	/* a write larger than the socket buffers: partial writes, resumed */
	uint8_t *big = malloc(BIG);
	uint32_t sum = 0;
	for (size_t i = 0; i < BIG; i++) {
		big[i] = (uint8_t)(i * 7 + i / 4096);
		sum = sum * 31 + big[i];
	}
	struct drain_arg da = {.fd = s};
	pthread_t th;
	pthread_create(&th, NULL, drain, &da);
	size_t off = 0;
	unsigned writes = 0;
	while (off < BIG) {
		start(r, &a, RING_IO_WRITE, c, big + off, BIG - off);
		CHECK(ring_io_submit(r, &a.io) == 0, "submit");
		if (!wait1(r, &a) || a.res <= 0) {
			CHECK(0, "big write: %d", a.res);
			break;
		}
		off += (size_t)a.res;
		writes++;
	}
	pthread_join(th, NULL);
	CHECK(da.got == BIG && da.sum == sum, "8 MiB arrived intact (%zu bytes, %u writes)", da.got, writes);
	free(big);

	/* cancel a pending read */
	start(r, &a, RING_IO_READ, c, buf, sizeof(buf));
	CHECK(ring_io_submit(r, &a.io) == 0, "submit");
	ring_timer_set(r, ring_now() + 1000000);
	ring_turn(r); /* let it reach the kernel / epoll */
	CHECK(!a.done, "still pending");
	ring_io_cancel(r, &a.io);
	CHECK(wait1(r, &a) && a.res == -ECANCELED, "cancelled: %d", a.res);
	ring_io_cancel(r, &a.io); /* not in flight: no effect */

	/* end of stream */
	start(r, &a, RING_IO_READ, c, buf, sizeof(buf));
	CHECK(ring_io_submit(r, &a.io) == 0, "submit");
	close(s);
	CHECK(wait1(r, &a) && a.res == 0, "EOF: %d", a.res);

	/* bad arguments */
	start(r, &b, RING_IO_READ, -1, buf, 1);
	CHECK(ring_io_submit(r, &b.io) == -EINVAL, "bad fd");

	close(c);
	close(l);
	ring_destroy(r);
	printf("%s: %s\n", backend, checks_failed ? "FAILED" : "ok");
	return checks_failed ? 1 : 0;
}
