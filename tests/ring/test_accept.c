/* Multishot accept on the ring (RING_IO_ACCEPT), for one backend (argv[1]:
 * uring or epoll), over loopback TCP: a burst of connections accepted by
 * one submit (the operation stays in flight between them, with the peer's
 * address), the accepted sockets non-blocking; EMFILE as back-pressure (the
 * operation ends, the connection waits in the backlog, a resubmit after a
 * close accepts it); cancel ends it with -ECANCELED. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring/ring.h"
#include "tests/check.h"
#include "tests/ring_test.h"

#define BURST 40

struct acc {
	struct ring_io io;
	int fds[BURST + 8];
	unsigned n;
	int last_err;
	bool ended, busy_inside, nonblock;
	uint16_t peer_ports[BURST + 8];
};

static void on_accept(struct ring *r, struct ring_io *io, int res)
{
	struct acc *a = io->user;

	(void)r;
	if (res < 0) {
		a->last_err = res;
		a->ended = !ring_io_busy(io);
		return;
	}
	a->busy_inside = ring_io_busy(io);
	a->nonblock = fcntl(res, F_GETFL) & O_NONBLOCK;
	if (a->n < BURST + 8) {
		a->peer_ports[a->n] = ntohs(io->addr.in4.sin_port);
		a->fds[a->n++] = res;
	} else {
		close(res);
	}
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

static void turn_until(struct ring *r, struct acc *a, unsigned n, bool ended)
{
	uint64_t end = ring_now() + 5000000000ull;

	while (ring_now() < end && (a->n < n || (ended && !a->ended))) {
		ring_timer_set(r, ring_now() + 50000000ull);
		if (ring_turn(r) < 0)
			break;
	}
}

static int dial(const rg_sockaddr *to, uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rg_sockaddr me;
	socklen_t l = sizeof(me);

	if (fd < 0 || connect(fd, &to->sa, sizeof(to->in4)) < 0)
		return -1;
	getsockname(fd, &me.sa, &l);
	*port = ntohs(me.in4.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	struct ring *r;
	int rc = ring_test_create(argc, argv, &ops, &r);
	rg_sockaddr addr = {.in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	socklen_t l = sizeof(addr);
	int clients[BURST + 2];
	uint16_t cports[BURST + 2];
	struct acc a;
	int lfd, lfd2;

	if (rc)
		return rc;
	lfd = ring_tcp_listen(&addr, 128);
	CHECK(lfd >= 0, "ring_tcp_listen: %s", strerror(-lfd));
	if (lfd < 0)
		return 1;
	getsockname(lfd, &addr.sa, &l);
	/* SO_REUSEPORT: a second worker's socket on the same port */
	lfd2 = ring_tcp_listen(&addr, 128);
	CHECK(lfd2 >= 0, "a second reuseport listener: %s", strerror(-lfd2));
	if (lfd2 >= 0)
		close(lfd2);

	memset(&a, 0, sizeof(a));
	a.io = (struct ring_io){.op = RING_IO_ACCEPT, .fd = lfd, .done = on_accept, .user = &a};
	CHECK(ring_io_submit(r, &a.io) == 0, "submit");
	CHECK(ring_io_submit(r, &a.io) == -EBUSY, "in flight: -EBUSY");

	/* a burst, then another: one submit accepts them all */
	for (unsigned i = 0; i < BURST / 2; i++)
		clients[i] = dial(&addr, &cports[i]);
	turn_until(r, &a, BURST / 2, false);
	for (unsigned i = BURST / 2; i < BURST; i++)
		clients[i] = dial(&addr, &cports[i]);
	turn_until(r, &a, BURST, false);
	CHECK(a.n == BURST, "accepted %u of %u", a.n, BURST);
	CHECK(a.busy_inside, "multishot: still in flight inside done");
	CHECK(a.nonblock, "accepted socket non-blocking");
	CHECK(ring_io_busy(&a.io), "still armed after the burst");
	{
		unsigned matched = 0;

		for (unsigned i = 0; i < a.n; i++)
			for (unsigned j = 0; j < BURST; j++)
				matched += a.peer_ports[i] == cports[j];
		CHECK(matched == BURST, "peer addresses: %u of %u", matched, BURST);
	}
	/* the accepted ends carry bytes */
	if (a.n) {
		char c = 0;

		CHECK(write(clients[0], "x", 1) == 1, "write");
		for (unsigned i = 0; i < a.n; i++)
			if (a.peer_ports[i] == cports[0]) {
				usleep(10000);
				CHECK(read(a.fds[i], &c, 1) == 1 && c == 'x', "accepted socket reads");
			}
	}
	for (unsigned i = 0; i < a.n; i++)
		close(a.fds[i]);
	for (unsigned i = 0; i < BURST; i++)
		close(clients[i]);
	a.n = 0;

	/* a connection that comes after the accept had to wait (epoll: it is
	 * parked on the listening socket, which turns readable, never
	 * writable) */
	for (int i = 0; i < 3; i++) {
		ring_timer_set(r, ring_now() + 20000000ull);
		if (ring_turn(r) < 0)
			break;
	}
	{
		int late = dial(&addr, &cports[0]);

		turn_until(r, &a, 1, false);
		CHECK(a.n == 1, "a connection after the accept waited: accepted %u", a.n);
		if (a.n)
			close(a.fds[0]);
		if (late >= 0)
			close(late);
		a.n = 0;
	}

	/* cancel: done once more with -ECANCELED, then idle */
	a.ended = false;
	a.last_err = 0;
	ring_io_cancel(r, &a.io);
	turn_until(r, &a, 0, true);
	CHECK(a.ended && a.last_err == -ECANCELED, "cancelled: %s", strerror(-a.last_err));
	CHECK(!ring_io_busy(&a.io), "idle after cancel");

	/* EMFILE: no descriptor left. The accept ends with the error, the
	 * connection stays queued, a resubmit after a close takes it. The
	 * limit is lowered so that the client's socket takes the last free
	 * descriptor (an io_uring accept may run as soon as the connection
	 * is queued, in any system call's exit). */
	{
		struct rlimit old, lim;
		int probe = dup(2);

		getrlimit(RLIMIT_NOFILE, &old);
		close(probe);
		lim = old;
		lim.rlim_cur = (rlim_t)probe + 1;
		CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit");
		/* io_uring reads the limit when the accept is submitted */
		CHECK(ring_io_submit(r, &a.io) == 0, "submit under the limit");
		a.ended = false;
		a.last_err = 0;
		clients[0] = dial(&addr, &cports[0]);
		CHECK(clients[0] == probe, "the client took the last descriptor: %d", clients[0]);
		turn_until(r, &a, 0, true);
		CHECK(a.n == 0 && a.ended && (a.last_err == -EMFILE || a.last_err == -ENFILE),
		      "EMFILE ends the accept: n %u ended %d err %s", a.n, a.ended, strerror(-a.last_err));
		CHECK(!ring_io_busy(&a.io), "idle after back-pressure");
		CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0, "restore the limit");
		CHECK(ring_io_submit(r, &a.io) == 0, "resubmit");
		turn_until(r, &a, 1, false);
		CHECK(a.n == 1, "the queued connection accepted after the resubmit: %u", a.n);
		for (unsigned i = 0; i < a.n; i++)
			close(a.fds[i]);
		close(clients[0]);
		a.n = 0;
	}

	close(lfd);
	ring_destroy(r);
	if (checks_failed) {
		fprintf(stderr, "%d failures\n", checks_failed);
		return 1;
	}
	printf("accept %s: ok\n", argc > 1 ? argv[1] : "uring");
	return 0;
}
