/* GSO and GRO edges, for one backend (argv[1]: uring or epoll):
 *  - the kernel refuses a GSO send (SO_NO_CHECK makes udp_send_skb answer
 *    EINVAL, as a route without checksum offload answers EIO): the run is
 *    resent datagram by datagram and the socket stops using GSO;
 *  - a caller-built GSO buffer beyond 64 KiB (64 x 1400, as the QUIC core
 *    builds them) goes out as several runs, every datagram intact;
 *  - a GRO batch with a shorter tail, IPv4 and IPv6, comes out as the
 *    original datagrams, and the receive really was coalesced. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring/ring.h"
#include "tests/check.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static enum ring_backend backend;

#define MAXD 256
static struct {
	uint32_t len;
	uint8_t first, last;
} got[MAXD];
static unsigned n_got;

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx;
	(void)r;
	for (unsigned i = 0; i < n && n_got < MAXD; i++, n_got++) {
		got[n_got].len = d[i].len;
		got[n_got].first = d[i].len ? d[i].data[0] : 0;
		got[n_got].last = d[i].len ? d[i].data[d[i].len - 1] : 0;
	}
}

static void on_timer(void *ctx, struct ring *r, uint64_t now)
{
	(void)ctx;
	(void)r;
	(void)now;
}

static const struct ring_ops ops = {.recv = on_recv, .timer = on_timer};

static struct ring *mk(void)
{
	struct ring_opts o;
	ring_opts_default(&o);
	o.backend = backend;
	o.rx_bufs = 64;
	o.ops = &ops;
	struct ring *r;
	int err = ring_create(&o, &r);
	if (err) {
		printf("ring_create(%s): %s\n", ring_backend_name(backend), strerror(-err));
		exit(err == -ENOSYS || err == -EPERM || err == -EOPNOTSUPP ? 77 : 1);
	}
	n_got = 0;
	return r;
}

static rg_sockaddr sa(const char *ip, uint16_t port)
{
	rg_sockaddr a;
	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
		a.in6.sin6_port = htons(port);
	} else {
		a.in4.sin_family = AF_INET;
		inet_pton(AF_INET, ip, &a.in4.sin_addr);
		a.in4.sin_port = htons(port);
	}
	return a;
}

static socklen_t salen(const rg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

/* A plain receiver on ip:0 with room for bursts. */
static int receiver(const char *ip, rg_sockaddr *addr)
{
	*addr = sa(ip, 0);
	int fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int v = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v));
	socklen_t l = sizeof(*addr);
	if (bind(fd, &addr->sa, salen(addr)) < 0 || getsockname(fd, &addr->sa, &l) < 0) {
		printf("receiver %s: %s\n", ip, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Turn the ring for `ms` milliseconds (io_uring: reaps send completions). */
static void turns(struct ring *r, unsigned ms)
{
	uint64_t end = ring_now() + ms * 1000000ull;
	while (ring_now() < end) {
		ring_timer_set(r, ring_now() + 2000000ull);
		ring_turn(r);
	}
}

/* Read datagrams until none comes for 200 ms; check each is `size` bytes
 * filled with its index. Returns how many arrived. */
static unsigned expect_dgrams(int fd, unsigned n, size_t size)
{
	static uint8_t buf[70000];
	unsigned k = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, 200) > 0) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0)
			break;
		CHECK((size_t)len == size && buf[0] == (uint8_t)k && buf[len - 1] == (uint8_t)k,
		      "datagram %u: %zd bytes starting %u, want %zu bytes of %u", k, len, buf[0], size, k);
		k++;
	}
	CHECK(k == n, "%u datagrams arrived, want %u", k, n);
	return k;
}

static void case_gso_refused(void)
{
	struct ring *r = mk();
	rg_sockaddr any = sa("127.0.0.1", 0), to;
	int fd = ring_udp_open(&any, false);
	int one = 1;
	/* no UDP checksum: the kernel cannot offload segmentation (EINVAL) */
	CHECK(setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)) == 0, "SO_NO_CHECK");
	int s = ring_sock_add(r, fd);
	int rx = receiver("127.0.0.1", &to);
	uint8_t buf[1000];
	for (int round = 0; round < 2; round++) {
		const struct ring_stats *st = ring_stats(r);
		uint64_t runs0 = st->tx_runs;
		for (unsigned i = 0; i < 10; i++) {
			memset(buf, (int)i, sizeof(buf));
			CHECK(ring_send(r, (unsigned)s, &to, NULL, buf, sizeof(buf)) == 0, "send %u", i);
		}
		CHECK(ring_flush(r) == 0, "flush");
		turns(r, 20);
		expect_dgrams(rx, 10, sizeof(buf));
		CHECK(st->tx_gso_fallbacks == 1, "round %d: %llu fallbacks, want 1", round,
		      (unsigned long long)st->tx_gso_fallbacks);
		CHECK(st->tx_dgrams == 10u * (round + 1), "round %d: tx_dgrams %llu", round,
		      (unsigned long long)st->tx_dgrams);
		CHECK(st->drops[RING_DROP_SEND_ERR] == 0, "send errors %llu",
		      (unsigned long long)st->drops[RING_DROP_SEND_ERR]);
		if (round == 1) /* GSO is off now: ten plain sends, no refused run */
			CHECK(st->tx_runs - runs0 == 10, "after the fallback %llu sends, want 10",
			      (unsigned long long)(st->tx_runs - runs0));
	}
	printf("  gso refused: resent without GSO, then plain sends\n");
	close(rx);
	ring_destroy(r);
}

static void case_big_gso_buffer(void)
{
	struct ring *r = mk();
	rg_sockaddr any = sa("127.0.0.1", 0), to;
	int s = ring_sock_add(r, ring_udp_open(&any, false));
	int rx = receiver("127.0.0.1", &to);
	enum { N = 64, SEG = 1400 };
	uint8_t *p = ring_send_prep(r, N * SEG);
	CHECK(p != NULL, "prep %d bytes", N * SEG);
	if (p) {
		for (unsigned i = 0; i < N; i++)
			memset(p + i * SEG, (int)i, SEG);
		CHECK(ring_send_commit(r, (unsigned)s, &to, NULL, N * SEG, SEG) == 0, "commit");
	}
	CHECK(ring_flush(r) == 0, "flush");
	turns(r, 20);
	expect_dgrams(rx, N, SEG);
	const struct ring_stats *st = ring_stats(r);
	CHECK(st->tx_runs == 2, "64 x 1400 took %llu sends, want 2 (65000 bytes per send)",
	      (unsigned long long)st->tx_runs);
	CHECK(st->tx_dgrams == N && st->drops[RING_DROP_SEND_ERR] == 0, "tx %llu, errors %llu",
	      (unsigned long long)st->tx_dgrams, (unsigned long long)st->drops[RING_DROP_SEND_ERR]);
	close(rx);
	ring_destroy(r);
}

/* A plain socket sends N x SEG and a TAIL-byte datagram in one GSO
 * sendmsg; the ring socket (GRO on) must see N + 1 datagrams. */
static void case_gro_tail(const char *ip)
{
	struct ring *r = mk();
	rg_sockaddr any = sa(ip, 0), a;
	int s = ring_sock_add(r, ring_udp_open(&any, true));
	CHECK(ring_sock_addr(r, (unsigned)s, &a) == 0, "bound address");
	enum { N = 30, SEG = 1200, TAIL = 333 };
	static uint8_t buf[N * SEG + TAIL];
	for (unsigned i = 0; i <= N; i++)
		memset(buf + i * SEG, (int)('a' + i), i < N ? SEG : TAIL);
	int c = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char ctrl[CMSG_SPACE(sizeof(uint16_t))] = {0};
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_name = &a, .msg_namelen = salen(&a), .msg_iov = &iov, .msg_iovlen = 1,
	                   .msg_control = ctrl, .msg_controllen = sizeof(ctrl)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = SEG;
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	CHECK(sendmsg(c, &m, 0) == (ssize_t)sizeof(buf), "%s: GSO sendmsg: %s", ip, strerror(errno));
	uint64_t end = ring_now() + 2000000000ull;
	while (n_got < N + 1 && ring_now() < end) {
		ring_timer_set(r, ring_now() + 20000000ull);
		ring_turn(r);
	}
	CHECK(n_got == N + 1, "%s: %u datagrams, want %d", ip, n_got, N + 1);
	for (unsigned i = 0; i < n_got && i <= N; i++)
		CHECK(got[i].len == (i < N ? SEG : TAIL) && got[i].first == 'a' + i && got[i].last == 'a' + i,
		      "%s: datagram %u: %u bytes of %c..%c", ip, i, got[i].len, got[i].first, got[i].last);
	const struct ring_stats *st = ring_stats(r);
	/* one GSO send on loopback arrives as one GRO batch (a receive call
	 * or completion); fewer calls than datagrams proves the split ran */
	CHECK(st->rx_calls < N, "%s: %llu receive calls for %d datagrams: not coalesced", ip,
	      (unsigned long long)st->rx_calls, N + 1);
	printf("  gro tail %s: %u datagrams from %llu receive calls\n", ip, n_got,
	       (unsigned long long)st->rx_calls);
	close(c);
	ring_destroy(r);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "uring") && strcmp(argv[1], "epoll"))) {
		fprintf(stderr, "usage: %s uring|epoll\n", argv[0]);
		return 1;
	}
	backend = strcmp(argv[1], "uring") ? RING_BACKEND_EPOLL : RING_BACKEND_URING;
	printf("backend %s\n", argv[1]);
	case_gso_refused();
	case_big_gso_buffer();
	case_gro_tail("127.0.0.1");
	case_gro_tail("::1");
	printf("%s\n", checks_failed ? "FAILED" : "ok");
	return checks_failed ? 1 : 0;
}
