/* ringbench: 1400-byte UDP through one worker over loopback.
 *
 *   ringbench MODE SERVER OFFLOAD SECONDS
 *     MODE     sink | echo
 *     SERVER   uring | uring1 | epoll | plain
 *              uring1: io_uring waking for every completion (wait_batch 1)
 *              plain: a bare recvmmsg loop, sink only
 *     OFFLOAD  gso        client sends with UDP_SEGMENT, server has UDP_GRO
 *              gso-nogro  client sends with UDP_SEGMENT, server without GRO:
 *                         the server handles every datagram on its own
 *              none       client uses sendmmsg, nobody has GRO
 *
 * The server runs in a thread pinned to CPU 1, the client in the main
 * thread pinned to CPU 0; each stops by itself after SECONDS. Prints one
 * JSON object: datagrams/s and Gbit/s the server handled, and the server
 * thread's CPU nanoseconds per datagram (CLOCK_THREAD_CPUTIME_ID, which
 * includes its system calls and, with DEFER_TASKRUN, io_uring's task work).
 * Echo counts datagrams that made the round trip. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring/ring.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define DGRAM 1400
#define SEGS 45 /* 63000 bytes per GSO send, under the 64 KiB limit */
#define ECHO_WINDOW 2048

static bool echo_mode, offload /* client GSO */, gro /* server and client GRO */;
static enum { SRV_URING, SRV_URING1, SRV_EPOLL, SRV_PLAIN } server;
static double seconds;
static rg_sockaddr srv_addr;
static _Atomic bool srv_ready, srv_stop;
static uint64_t srv_dgrams, srv_bytes, srv_cpu_ns, srv_calls, srv_turns;
static const char *srv_backend = "";

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	if (ring_pin_cpu((unsigned)cpu))
		fprintf(stderr, "ringbench: cannot pin to cpu %d\n", cpu);
}

/* ---- server on the ring ---- */

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx;
	for (unsigned i = 0; i < n; i++) {
		srv_bytes += d[i].len;
		if (echo_mode)
			ring_send(r, d[i].sock, &d[i].peer, &d[i].local, d[i].data, d[i].len);
	}
	srv_dgrams += n;
}

static void on_timer(void *ctx, struct ring *r, uint64_t now)
{
	(void)ctx;
	(void)r;
	(void)now;
}

static const struct ring_ops ops = {.recv = on_recv, .timer = on_timer};

static void *ring_server(void *arg)
{
	(void)arg;
	pin(1);
	struct ring_opts o;
	ring_opts_default(&o);
	o.backend = server == SRV_EPOLL ? RING_BACKEND_EPOLL : RING_BACKEND_URING;
	o.gro = gro;
	o.gso = true;
	o.ops = &ops;
	if (server == SRV_URING1)
		o.wait_batch = 1; /* wake for every completion: what batching saves */
	struct ring *r;
	int err = ring_create(&o, &r);
	if (err) {
		fprintf(stderr, "ringbench: ring_create: %s\n", strerror(-err));
		exit(77);
	}
	srv_backend = ring_backend_name(ring_backend_of(r));
	rg_sockaddr a = {.in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	int fd = ring_udp_open(&a, gro);
	if (fd < 0 || ring_sock_add(r, fd) < 0) {
		fprintf(stderr, "ringbench: socket: %s\n", strerror(fd < 0 ? -fd : EINVAL));
		exit(1);
	}
	if (ring_sock_addr(r, 0, &srv_addr)) {
		fprintf(stderr, "ringbench: no server address\n");
		exit(1);
	}
	atomic_store(&srv_ready, true);
	uint64_t c0 = cpu_ns();
	while (!atomic_load_explicit(&srv_stop, memory_order_relaxed)) {
		ring_timer_set(r, ring_now() + 50000000ull); /* to notice the stop */
		ring_turn(r);
		srv_turns++;
	}
	srv_cpu_ns = cpu_ns() - c0;
	srv_calls = ring_stats(r)->rx_calls + ring_stats(r)->tx_calls;
	ring_destroy(r);
	return NULL;
}

/* ---- the baseline: a bare recvmmsg loop (sink only) ---- */

static void *plain_server(void *arg)
{
	(void)arg;
	pin(1);
	srv_backend = "recvmmsg";
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1, buf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	if (gro)
		setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	struct timeval tv = {0, 50000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rg_sockaddr a = {.in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	bind(fd, &a.sa, sizeof(a.in4));
	socklen_t l = sizeof(srv_addr);
	getsockname(fd, &srv_addr.sa, &l);
	enum { V = 64 };
	static uint8_t bufs[V][65536];
	static char ctrl[V][64];
	struct mmsghdr mm[V];
	struct iovec iov[V];
	atomic_store(&srv_ready, true);
	uint64_t c0 = cpu_ns();
	while (!atomic_load_explicit(&srv_stop, memory_order_relaxed)) {
		for (int i = 0; i < V; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctrl[i];
			mm[i].msg_hdr.msg_controllen = sizeof(ctrl[i]);
		}
		int n = recvmmsg(fd, mm, V, MSG_WAITFORONE, NULL);
		srv_calls++;
		srv_turns++;
		for (int i = 0; i < n; i++) {
			unsigned seg = 0;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c;
			     c = CMSG_NXTHDR(&mm[i].msg_hdr, c))
				if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO)
					memcpy(&seg, CMSG_DATA(c), sizeof(int));
			unsigned len = mm[i].msg_len;
			srv_dgrams += seg && seg < len ? (len + seg - 1) / seg : 1;
			srv_bytes += len;
		}
	}
	srv_cpu_ns = cpu_ns() - c0;
	close(fd);
	return NULL;
}

/* ---- client ---- */

static uint64_t now_ns(void)
{
	return ring_now();
}

/* One burst of SEGS datagrams: one GSO sendmsg, or one sendmmsg. */
static int burst(int fd, uint8_t *payload)
{
	if (offload) {
		char ctrl[CMSG_SPACE(sizeof(uint16_t))] = {0};
		struct iovec iov = {payload, (size_t)DGRAM * SEGS};
		struct msghdr m = {.msg_name = &srv_addr, .msg_namelen = sizeof(srv_addr.in4),
		                   .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
		                   .msg_controllen = sizeof(ctrl)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		uint16_t seg = DGRAM;
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		return sendmsg(fd, &m, MSG_DONTWAIT) > 0 ? SEGS : 0;
	}
	struct mmsghdr mm[SEGS];
	struct iovec iov[SEGS];
	for (int i = 0; i < SEGS; i++) {
		iov[i].iov_base = payload + i * DGRAM;
		iov[i].iov_len = DGRAM;
		memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
		mm[i].msg_hdr.msg_name = &srv_addr;
		mm[i].msg_hdr.msg_namelen = sizeof(srv_addr.in4);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	int n = sendmmsg(fd, mm, SEGS, MSG_DONTWAIT);
	return n > 0 ? n : 0;
}

/* Echo replies: count datagrams (GRO batches count by segment). */
static uint64_t drain(int fd)
{
	enum { V = 32 };
	static uint8_t bufs[V][65536];
	static char ctrl[V][64];
	struct mmsghdr mm[V];
	struct iovec iov[V];
	uint64_t got = 0;
	for (;;) {
		for (int i = 0; i < V; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctrl[i];
			mm[i].msg_hdr.msg_controllen = sizeof(ctrl[i]);
		}
		int n = recvmmsg(fd, mm, V, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return got;
		for (int i = 0; i < n; i++) {
			unsigned seg = 0;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c;
			     c = CMSG_NXTHDR(&mm[i].msg_hdr, c))
				if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO)
					memcpy(&seg, CMSG_DATA(c), sizeof(int));
			unsigned len = mm[i].msg_len;
			got += seg && seg < len ? (len + seg - 1) / seg : 1;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: ringbench sink|echo uring|uring1|epoll|plain gso|gso-nogro|none SECONDS\n");
		return 2;
	}
	echo_mode = !strcmp(argv[1], "echo");
	server = !strcmp(argv[2], "uring")    ? SRV_URING
	         : !strcmp(argv[2], "uring1") ? SRV_URING1
	         : !strcmp(argv[2], "epoll")  ? SRV_EPOLL
	                                      : SRV_PLAIN;
	offload = !strncmp(argv[3], "gso", 3);
	gro = !strcmp(argv[3], "gso");
	seconds = atof(argv[4]);
	if (seconds <= 0 || seconds > 60 || (echo_mode && server == SRV_PLAIN)) {
		fprintf(stderr, "ringbench: SECONDS in (0, 60]; plain is sink only\n");
		return 2;
	}
	pthread_t t;
	pthread_create(&t, NULL, server == SRV_PLAIN ? plain_server : ring_server, NULL);
	while (!atomic_load(&srv_ready))
		usleep(1000);
	pin(0);

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1, buf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	if (gro)
		setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	static uint8_t payload[DGRAM * SEGS];
	memset(payload, 0x5a, sizeof(payload));

	uint64_t sent = 0, echoed = 0, lost = 0;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), progress = t0;
	while (now_ns() < end) {
		if (echo_mode) {
			/* keep a window in flight so the loopback queues never overflow */
			if (sent - echoed - lost < ECHO_WINDOW)
				sent += (uint64_t)burst(fd, payload);
			else {
				struct pollfd p = {.fd = fd, .events = POLLIN};
				poll(&p, 1, 10);
			}
			uint64_t got = drain(fd);
			echoed += got;
			uint64_t now = now_ns();
			if (got)
				progress = now;
			/* lost datagrams must not stall the window: after 100 ms
			 * without progress they are written off */
			if (now - progress > 100000000ull && sent > echoed + lost) {
				lost = sent - echoed;
				progress = now;
			}
		} else {
			int n = burst(fd, payload);
			if (!n) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				poll(&p, 1, 1);
			}
			sent += (uint64_t)n;
		}
	}
	double el = (double)(now_ns() - t0) / 1e9;
	atomic_store(&srv_stop, true);
	pthread_join(t, NULL);
	if (echo_mode)
		echoed += drain(fd);
	close(fd);

	uint64_t handled = echo_mode ? echoed : srv_dgrams;
	printf("{\"mode\":\"%s\",\"server\":\"%s\",\"backend\":\"%s\",\"offload\":\"%s\","
	       "\"seconds\":%.2f,\"sent\":%llu,\"handled\":%llu,\"pps\":%.0f,\"gbps\":%.3f,"
	       "\"lost\":%llu,\"server_cpu_ns_per_dgram\":%.1f,\"server_calls_per_dgram\":%.4f,"
	       "\"server_turns_per_dgram\":%.4f}\n",
	       argv[1], argv[2], srv_backend, argv[3], el, (unsigned long long)sent,
	       (unsigned long long)handled, (double)handled / el,
	       (double)handled * DGRAM * 8 / el / 1e9, (unsigned long long)lost,
	       srv_dgrams ? (double)srv_cpu_ns / (double)srv_dgrams : 0.0,
	       srv_dgrams ? (double)srv_calls / (double)srv_dgrams : 0.0,
	       srv_dgrams ? (double)srv_turns / (double)srv_dgrams : 0.0);
	return 0;
}
