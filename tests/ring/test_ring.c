/* The ring over loopback, for one backend (argv[1]: uring or epoll).
 * Each case drives a ring in this thread against plain sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "ring/ring.h"
#include "tests/check.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static enum ring_backend backend;

/* ---- what the callbacks saw ---- */
#define MAXD 4096
static struct got {
	uint32_t len;
	uint16_t sock;
	uint8_t first;
	rg_sockaddr peer, local;
} got[MAXD];
static unsigned n_got;
static bool echo;      /* reply to every datagram from the address it came to */
static unsigned timer_calls, chan_calls;
static uint64_t timer_now;
static struct ring_chan *the_chan;
static uint64_t chan_msgs, chan_order_errors;
static uint64_t chan_last[8];

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx;
	for (unsigned i = 0; i < n; i++) {
		if (n_got < MAXD) {
			got[n_got].len = d[i].len;
			got[n_got].sock = d[i].sock;
			got[n_got].first = d[i].len ? d[i].data[0] : 0;
			got[n_got].peer = d[i].peer;
			got[n_got].local = d[i].local;
			n_got++;
		}
		if (echo)
			ring_send(r, d[i].sock, &d[i].peer, &d[i].local, d[i].data, d[i].len);
	}
}

static void on_chan(void *ctx, struct ring *r)
{
	(void)ctx;
	(void)r;
	struct ring_msg m;
	chan_calls++;
	while (ring_chan_recv(the_chan, &m) == 1) {
		if (m.u32 < 8) {
			if (m.u64 != chan_last[m.u32] + 1)
				chan_order_errors++;
			chan_last[m.u32] = m.u64;
		}
		chan_msgs++;
	}
}

static void on_timer(void *ctx, struct ring *r, uint64_t now)
{
	(void)ctx;
	(void)r;
	timer_calls++;
	timer_now = now;
}

static const struct ring_ops ops = {.recv = on_recv, .chan = on_chan, .timer = on_timer};

static struct ring *mk(unsigned rx_bufs, bool gro)
{
	struct ring_opts o;
	ring_opts_default(&o);
	o.backend = backend;
	o.rx_bufs = rx_bufs;
	o.gro = gro;
	o.ops = &ops;
	struct ring *r;
	int err = ring_create(&o, &r);
	if (err) {
		printf("ring_create(%s): %s\n", ring_backend_name(backend), strerror(-err));
		exit(err == -ENOSYS || err == -EPERM ? 77 : 1);
	}
	if (ring_backend_of(r) != backend) {
		printf("asked for %s, got %s\n", ring_backend_name(backend), ring_backend_name(ring_backend_of(r)));
		exit(1);
	}
	n_got = 0;
	echo = false;
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

/* A ring socket on ip:0; returns its index, fills its address. */
static int add_sock(struct ring *r, const char *ip, bool gro, rg_sockaddr *bound)
{
	rg_sockaddr a = sa(ip, 0);
	int fd = ring_udp_open(&a, gro);
	if (fd < 0) {
		printf("ring_udp_open(%s): %s\n", ip, strerror(-fd));
		exit(1);
	}
	int idx = ring_sock_add(r, fd);
	if (idx < 0) {
		printf("ring_sock_add: %s\n", strerror(-idx));
		exit(1);
	}
	CHECK(ring_sock_addr(r, (unsigned)idx, bound) == 0, "bound address");
	/* the ring's table answers for the fd: callers keep no second one */
	CHECK(ring_sock_find(r, fd) == idx, "find fd %d: %d, added as %d", fd, ring_sock_find(r, fd), idx);
	return idx;
}

static int plain(int af)
{
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int v = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v));
	return fd;
}

/* Turn the ring until `want` datagrams arrived or 2 s passed. */
static void turns_until(struct ring *r, unsigned want)
{
	uint64_t end = ring_now() + 2000000000ull;
	while (n_got < want && ring_now() < end) {
		ring_timer_set(r, ring_now() + 20000000ull);
		ring_turn(r);
	}
	CHECK(ring_flush(r) == 0, "flush");
}

static void turns_for(struct ring *r, uint64_t ns)
{
	uint64_t end = ring_now() + ns;
	while (ring_now() < end) {
		ring_timer_set(r, ring_now() + 10000000ull);
		ring_turn(r);
	}
	CHECK(ring_flush(r) == 0, "flush");
}

/* Receive on a plain socket with a deadline; returns length or -1. */
static ssize_t recv_plain(int fd, uint8_t *buf, size_t len, rg_sockaddr *from, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -1;
	socklen_t fl = sizeof(*from);
	return recvfrom(fd, buf, len, MSG_DONTWAIT, &from->sa, &fl);
}

/* ---- cases ---- */

/* N datagrams sent with one GSO sendmsg arrive coalesced (GRO) and come
 * out as N datagrams with their own contents. */
static void case_gro_split(void)
{
	struct ring *r = mk(64, true);
	rg_sockaddr a;
	add_sock(r, "127.0.0.1", true, &a);
	int c = plain(AF_INET);
	enum { N = 20, SEG = 1000 };
	static uint8_t buf[N * SEG];
	for (int i = 0; i < N; i++)
		memset(buf + i * SEG, 'A' + i, SEG);
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
	CHECK(sendmsg(c, &m, 0) == (ssize_t)sizeof(buf), "GSO sendmsg: %s", strerror(errno));
	turns_until(r, N);
	CHECK(n_got == N, "got %u datagrams, want %d", n_got, N);
	for (unsigned i = 0; i < n_got && i < N; i++)
		CHECK(got[i].len == SEG && got[i].first == 'A' + i, "datagram %u: len %u first %c", i,
		      got[i].len, got[i].first);
	const struct ring_stats *st = ring_stats(r);
	printf("  gro_split: %u datagrams in %llu receive completions/calls\n", n_got,
	       (unsigned long long)st->rx_calls);
	close(c);
	ring_destroy(r);
}

/* The ring sends `n` datagrams of the given sizes to a plain receiver,
 * which must get exactly those sizes in order. Returns the send calls. */
static uint64_t send_sizes(const char *ip, const uint16_t *sizes, unsigned n)
{
	struct ring *r = mk(64, true);
	rg_sockaddr a;
	int s = add_sock(r, ip, true, &a);
	int af = strchr(ip, ':') ? AF_INET6 : AF_INET;
	int rx = plain(af);
	rg_sockaddr to = sa(ip, 0);
	bind(rx, &to.sa, salen(&to));
	socklen_t tl = sizeof(to);
	getsockname(rx, &to.sa, &tl);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = ring_send_prep(r, sizes[i]);
		CHECK(p != NULL, "prep %u", i);
		if (!p)
			break;
		memset(p, (int)(i & 0xff), sizes[i]);
		CHECK(ring_send_commit(r, (unsigned)s, &to, NULL, sizes[i], 0) == 0, "commit %u", i);
	}
	CHECK(ring_flush(r) == 0, "flush");
	turns_for(r, 30000000ull); /* io_uring: reap the send completions */
	static uint8_t buf[70000];
	for (unsigned i = 0; i < n; i++) {
		rg_sockaddr from;
		ssize_t len = recv_plain(rx, buf, sizeof(buf), &from, 1000);
		CHECK(len == sizes[i] && buf[0] == (uint8_t)i, "datagram %u: %zd bytes, want %u", i, len,
		      sizes[i]);
		if (len < 0)
			break;
	}
	uint64_t calls = ring_stats(r)->tx_runs;
	CHECK(ring_stats(r)->tx_dgrams == n, "tx_dgrams %llu, want %u",
	      (unsigned long long)ring_stats(r)->tx_dgrams, n);
	close(rx);
	ring_destroy(r);
	return calls;
}

static void case_gso_send(void)
{
	uint16_t sizes[64];
	for (int i = 0; i < 64; i++)
		sizes[i] = 1000;
	uint64_t calls = send_sizes("127.0.0.1", sizes, 64);
	CHECK(calls == 1, "64 equal datagrams took %llu sends, want 1 GSO send", (unsigned long long)calls);
	/* more than 64 segments or 64 KiB start a new run */
	uint16_t big[100];
	for (int i = 0; i < 100; i++)
		big[i] = 1400;
	calls = send_sizes("127.0.0.1", big, 100);
	CHECK(calls >= 3 && calls <= 4, "100 x 1400 took %llu sends, want 3 (64 KiB per run)",
	      (unsigned long long)calls);
	printf("  gso_send: 64 x 1000 in 1 send, 100 x 1400 in %llu\n", (unsigned long long)calls);
}

static void case_mixed_sizes(void)
{
	/* a shorter datagram ends a run as its tail; a longer one starts a
	 * new run: [1200 1200 1200 500] [1200] [1300 1300 1] [900] */
	static const uint16_t sizes[] = {1200, 1200, 1200, 500, 1200, 1300, 1300, 1, 900};
	uint64_t calls = send_sizes("127.0.0.1", sizes, 9);
	CHECK(calls == 4, "mixed sizes took %llu sends, want 4", (unsigned long long)calls);
	calls = send_sizes("::1", sizes, 9);
	CHECK(calls == 4, "IPv6 mixed sizes took %llu sends, want 4", (unsigned long long)calls);
}

static void case_many_sockets(void)
{
	struct ring *r = mk(64, true);
	enum { N = 32 };
	rg_sockaddr a[N];
	int idx[N];
	for (int i = 0; i < N; i++)
		idx[i] = add_sock(r, i % 2 ? "::1" : "127.0.0.1", true, &a[i]);
	int c4 = plain(AF_INET), c6 = plain(AF_INET6);
	for (int i = 0; i < N; i++) {
		uint8_t b = (uint8_t)i;
		sendto(a[i].sa.sa_family == AF_INET6 ? c6 : c4, &b, 1, 0, &a[i].sa, salen(&a[i]));
	}
	turns_until(r, N);
	CHECK(n_got == N, "got %u of %d", n_got, N);
	for (unsigned i = 0; i < n_got; i++) {
		unsigned who = got[i].first;
		CHECK(who < N && got[i].sock == idx[who], "datagram for socket %u came on %u", who, got[i].sock);
		CHECK(who < N && got[i].local.sa.sa_family == a[who].sa.sa_family, "family of local address");
	}
	/* remove half; the others keep working, and only they are found */
	CHECK(ring_sock_find(r, -1) == -ENOENT, "find of no fd");
	CHECK(ring_sock_find(r, 0) == -ENOENT, "fd 0 (stdin) found as a ring socket");
	for (int i = 0; i < N; i += 2)
		CHECK(ring_sock_remove(r, (unsigned)idx[i]) == 0, "remove %d", i);
	for (int i = 0; i < N; i += 2) {
		rg_sockaddr x;
		CHECK(ring_sock_addr(r, (unsigned)idx[i], &x) == -EINVAL, "removed socket %d has an address", i);
	}
	n_got = 0;
	for (int i = 1; i < N; i += 2) {
		uint8_t b = (uint8_t)i;
		sendto(c6, &b, 1, 0, &a[i].sa, salen(&a[i]));
	}
	turns_until(r, N / 2);
	CHECK(n_got == N / 2, "after removing half: got %u of %d", n_got, N / 2);
	close(c4);
	close(c6);
	ring_destroy(r);
}

/* The ring socket is bound to the wildcard address; the client talks to
 * 127.0.0.2 (or ::1); the echo must come back from that address. */
static void case_reply_source(const char *wild, const char *dst)
{
	struct ring *r = mk(64, true);
	rg_sockaddr a;
	add_sock(r, wild, true, &a);
	uint16_t port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in4.sin_port);
	rg_sockaddr to = sa(dst, port);
	int c = plain(to.sa.sa_family);
	echo = true;
	sendto(c, "hello", 5, 0, &to.sa, salen(&to));
	turns_until(r, 1);
	turns_for(r, 20000000ull);
	CHECK(n_got == 1, "%s: got %u", dst, n_got);
	char ip[64] = "";
	if (n_got) {
		const rg_sockaddr *l = &got[0].local;
		inet_ntop(l->sa.sa_family, l->sa.sa_family == AF_INET6 ? (void *)&l->in6.sin6_addr
		                                                        : (void *)&l->in4.sin_addr,
		          ip, sizeof(ip));
		CHECK(!strcmp(ip, dst), "local address %s, want %s", ip, dst);
	}
	uint8_t buf[64];
	rg_sockaddr from;
	ssize_t n = recv_plain(c, buf, sizeof(buf), &from, 1000);
	CHECK(n == 5, "no echo for %s", dst);
	if (n == 5) {
		inet_ntop(from.sa.sa_family, from.sa.sa_family == AF_INET6 ? (void *)&from.in6.sin6_addr
		                                                          : (void *)&from.in4.sin_addr,
		          ip, sizeof(ip));
		CHECK(!strcmp(ip, dst), "reply came from %s, want %s", ip, dst);
	}
	close(c);
	ring_destroy(r);
}

/* A tiny buffer ring under a burst: io_uring runs out of buffers (counted
 * as nobufs, the receive re-armed); epoll leaves the excess to the socket
 * buffer. Either way traffic afterwards flows. */
static void case_nobufs(void)
{
	struct ring *r = mk(4, false); /* no GRO: a buffer per datagram */
	rg_sockaddr a;
	add_sock(r, "127.0.0.1", false, &a);
	int c = plain(AF_INET);
	uint8_t buf[200];
	memset(buf, 7, sizeof(buf));
	for (int i = 0; i < 1000; i++)
		sendto(c, buf, sizeof(buf), 0, &a.sa, salen(&a));
	turns_for(r, 300000000ull);
	unsigned burst = n_got;
	uint64_t nobufs = ring_stats(r)->drops[RING_DROP_NOBUFS];
	n_got = 0;
	buf[0] = 0x55;
	for (int i = 0; i < 10; i++) {
		sendto(c, buf, sizeof(buf), 0, &a.sa, salen(&a));
		turns_for(r, 5000000ull);
	}
	turns_until(r, 10);
	unsigned after = 0;
	for (unsigned i = 0; i < n_got; i++)
		after += got[i].first == 0x55;
	printf("  nobufs: burst of 1000 -> %u delivered, %llu nobufs events; then %u of 10\n", burst,
	       (unsigned long long)nobufs, after);
	CHECK(after == 10, "after the burst %u of 10 arrived", after);
	CHECK(burst > 0, "nothing of the burst arrived");
	if (backend == RING_BACKEND_URING)
		CHECK(nobufs > 0, "4 buffers and 1000 datagrams never ran out (nobufs 0)");
	close(c);
	ring_destroy(r);
}

static void case_odd_sizes(void)
{
	struct ring *r = mk(16, true);
	rg_sockaddr a;
	add_sock(r, "127.0.0.1", true, &a);
	int c = plain(AF_INET);
	static uint8_t big[65507];
	memset(big, 9, sizeof(big));
	sendto(c, big, 0, 0, &a.sa, salen(&a));
	turns_until(r, 1);
	sendto(c, big, 1, 0, &a.sa, salen(&a));
	turns_until(r, 2);
	CHECK(sendto(c, big, sizeof(big), 0, &a.sa, salen(&a)) == (ssize_t)sizeof(big), "send 65507");
	turns_until(r, 3);
	CHECK(n_got == 3, "got %u of 3", n_got);
	if (n_got == 3)
		CHECK(got[0].len == 0 && got[1].len == 1 && got[2].len == 65507, "sizes %u %u %u",
		      got[0].len, got[1].len, got[2].len);
	close(c);
	ring_destroy(r);
}

static void *producer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	for (uint64_t i = 1; i <= 20000; i++) {
		struct ring_msg m = {.type = 1, .u32 = id, .u64 = i};
		while (ring_chan_send(the_chan, &m) == -EAGAIN)
			sched_yield();
	}
	return NULL;
}

static void case_channel(void)
{
	struct ring *r = mk(16, true);
	CHECK(ring_chan_create(256, &the_chan) == 0, "chan create");
	CHECK(ring_chan_attach(r, the_chan) == 0, "chan attach");
	memset(chan_last, 0, sizeof(chan_last));
	chan_msgs = chan_order_errors = 0;
	pthread_t t[4];
	for (unsigned i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)i);
	uint64_t end = ring_now() + 10000000000ull;
	while (chan_msgs < 80000 && ring_now() < end) {
		ring_timer_set(r, ring_now() + 50000000ull);
		ring_turn(r);
	}
	for (unsigned i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	turns_for(r, 20000000ull);
	printf("  channel: %llu messages in %u wake-ups\n", (unsigned long long)chan_msgs, chan_calls);
	CHECK(chan_msgs == 80000, "%llu of 80000 messages", (unsigned long long)chan_msgs);
	CHECK(chan_order_errors == 0, "%llu out of order", (unsigned long long)chan_order_errors);
	ring_destroy(r);
	ring_chan_destroy(the_chan);
}

static void case_deadline(void)
{
	struct ring *r = mk(16, true);
	uint64_t t0 = ring_now(), dl = t0 + 30000000ull;
	timer_calls = 0;
	ring_timer_set(r, dl);
	while (!timer_calls && ring_now() < t0 + 2000000000ull)
		ring_turn(r);
	CHECK(timer_calls == 1, "deadline fired %u times", timer_calls);
	CHECK(timer_now >= dl, "fired %lld ns early", (long long)(dl - timer_now));
	CHECK(timer_now < dl + 200000000ull, "fired %llu ms late",
	      (unsigned long long)((timer_now - dl) / 1000000));
	/* a deadline already past fires at the next turn without waiting */
	timer_calls = 0;
	ring_timer_set(r, 1);
	ring_turn(r);
	CHECK(timer_calls == 1, "past deadline did not fire at once");
	/* 0 is a real deadline, the earliest: due at once (RG_NO_DEADLINE,
	 * not 0, is "none") */
	timer_calls = 0;
	ring_timer_set(r, 0);
	ring_turn(r);
	CHECK(timer_calls == 1, "deadline 0 did not fire at once");
	ring_destroy(r);
}

/* Where io_uring is refused (seccomp here; kernel.io_uring_disabled or
 * an old kernel elsewhere), RING_BACKEND_AUTO must run on epoll, and an
 * explicit RING_BACKEND_URING must fail cleanly. A child process installs
 * a filter that answers EPERM to io_uring_setup, as container runtimes do. */
static void case_auto_fallback(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(3);
		struct ring_opts o;
		ring_opts_default(&o);
		o.backend = RING_BACKEND_AUTO;
		o.ops = &ops;
		struct ring *r;
		if (ring_create(&o, &r))
			_exit(4);
		int got_epoll = ring_backend_of(r) == RING_BACKEND_EPOLL;
		ring_destroy(r);
		o.backend = RING_BACKEND_URING;
		int err = ring_create(&o, &r);
		_exit(got_epoll && err == -EPERM ? 0 : 5);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "with io_uring_setup refused: child exit %d (3 no seccomp, 4 no ring, 5 wrong backend)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "uring") && strcmp(argv[1], "epoll"))) {
		fprintf(stderr, "usage: %s uring|epoll\n", argv[0]);
		return 1;
	}
	backend = strcmp(argv[1], "uring") ? RING_BACKEND_EPOLL : RING_BACKEND_URING;
	printf("backend %s\n", argv[1]);
	case_gro_split();
	case_gso_send();
	case_mixed_sizes();
	case_many_sockets();
	case_reply_source("0.0.0.0", "127.0.0.2");
	case_reply_source("::", "::1");
	case_nobufs();
	case_odd_sizes();
	case_channel();
	case_deadline();
	if (backend == RING_BACKEND_URING)
		case_auto_fallback();
	printf("%s\n", checks_failed ? "FAILED" : "ok");
	return checks_failed ? 1 : 0;
}
