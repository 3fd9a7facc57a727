/* test_steer: the reuseport program of worker_tunnel_steer() delivers each
 * tunnel message addressed to a receiver index to the socket (worker) its
 * low byte names, from any source port, and leaves initiations and
 * garbage to the kernel's hash. Real sockets on loopback, no root. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/worker.h"
#include "tests/tunnel/check.h" /* CHECK, check_report */

#define WORKERS 4
#define SOURCES 32

static int udp(uint16_t port, int reuse)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("socket");
		return -1;
	}
	return fd;
}

/* Which of the group's sockets got the one datagram in flight, -1: none. */
static int receiver(const int *fds)
{
	struct pollfd p[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	if (poll(p, WORKERS, 1000) <= 0)
		return -1;
	for (int i = 0; i < WORKERS; i++)
		if (p[i].revents & POLLIN) {
			uint8_t b[256];
			(void)recv(fds[i], b, sizeof(b), 0);
			return i;
		}
	return -1;
}

int main(void)
{
	int fds[WORKERS];
	fds[0] = udp(0, 1);
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	if (fds[0] < 0 || getsockname(fds[0], (struct sockaddr *)&a, &alen))
		return 1;
	uint16_t port = ntohs(a.sin_port);
	for (int i = 1; i < WORKERS; i++)
		if ((fds[i] = udp(port, 1)) < 0)
			return 1;
	CHECK(worker_tunnel_steer(fds[0], 1) == 0, "one worker: nothing to do");
	int err = worker_tunnel_steer(fds[0], WORKERS);
	CHECK(err == 0, "attach: %s", strerror(-err));

	int src[SOURCES];
	for (int s = 0; s < SOURCES; s++)
		if ((src[s] = udp(0, 0)) < 0)
			return 1;
	unsigned steered = 0, wrong = 0, lost = 0, spread[WORKERS] = {0};
	for (int s = 0; s < SOURCES; s++) {
		for (int w = 0; w < WORKERS; w++) {
			/* data (type 4) and cookie reply (3): receiver index at 4;
			 * response (2): at 8. Index bytes little-endian: the low
			 * byte names the worker, the rest is random. */
			static const uint8_t types[3] = {4, 3, 2};
			for (int t = 0; t < 3; t++) {
				uint8_t m[64] = {types[t]};
				unsigned off = types[t] == 2 ? 8 : 4;
				m[off] = (uint8_t)w;
				m[off + 1] = (uint8_t)(0x5a + s);
				m[off + 2] = (uint8_t)(s * 7);
				m[off + 3] = 0x80;
				m[types[t] == 2 ? 4 : 8] = (uint8_t)(WORKERS - 1 - w); /* the other field: ignored */
				(void)sendto(src[s], m, 32 + 16 * (unsigned)t, 0, (struct sockaddr *)&a, sizeof(a));
				int got = receiver(fds);
				if (got < 0)
					lost++;
				else if (got == w)
					steered++;
				else
					wrong++;
			}
		}
		/* an initiation (type 1) from this source: the kernel's hash */
		uint8_t init[148] = {1};
		init[4] = 0; /* its sender index says nothing about us */
		(void)sendto(src[s], init, sizeof(init), 0, (struct sockaddr *)&a, sizeof(a));
		int got = receiver(fds);
		if (got >= 0)
			spread[got]++;
		else
			lost++;
	}
	CHECK(!lost, "%u datagrams lost", lost);
	CHECK(steered == SOURCES * WORKERS * 3 && !wrong, "%u steered to the worker their index names, %u elsewhere",
	      steered, wrong);
	unsigned used = 0;
	for (int w = 0; w < WORKERS; w++)
		used += spread[w] > 0;
	/* 32 sources over 4 sockets by hash: all on one socket has odds 4^-31 */
	CHECK(used > 1, "initiations spread by the kernel's hash over %u sockets", used);
	/* an index byte past the group falls back to the hash, not a drop */
	uint8_t m[32] = {4};
	m[4] = 200;
	(void)sendto(src[0], m, sizeof(m), 0, (struct sockaddr *)&a, sizeof(a));
	CHECK(receiver(fds) >= 0, "index past the group: delivered by hash");
	printf("%u steered, initiations on %u sockets\n", steered, used);
	return check_report("test_steer");
}
