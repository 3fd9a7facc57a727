/* test_steer: the reuseport programs of worker_tunnel_steer() and
 * worker_quic_steer(). Each tunnel message addressed to a receiver index
 * reaches the socket (worker) the index's low byte names, and each QUIC
 * packet whose destination connection ID is one of ours the worker the CID
 * names, from any source port; initiations, clients' first Initials and
 * garbage are left to the kernel's hash. Real sockets on loopback, no
 * root. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/quic/cid.h"
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

/* A reuseport group of WORKERS sockets on a fresh loopback port. */
static int group(int *fds, struct sockaddr_in *a)
{
	socklen_t alen = sizeof(*a);
	fds[0] = udp(0, 1);
	if (fds[0] < 0 || getsockname(fds[0], (struct sockaddr *)a, &alen))
		return -1;
	for (int i = 1; i < WORKERS; i++)
		if ((fds[i] = udp(ntohs(a->sin_port), 1)) < 0)
			return -1;
	return 0;
}

/* Where the datagrams of one group went. */
struct tally {
	int fds[WORKERS];
	struct sockaddr_in addr;
	unsigned steered, wrong, lost, spread[WORKERS];
	/* The socket the kernel's 4-tuple hash names for each source: where
	 * its first hashed datagram went (the hash is keyed by a boot-time
	 * secret, so it is learned, not computed); -1: none yet. */
	int hashed_at[SOURCES];
	unsigned rehashed, off_hash; /* later hashed datagrams: on that socket, elsewhere */
};

/* Send len bytes from src to the group; which socket got it, -1: none. */
static int deliver(struct tally *t, int src, const void *m, size_t len)
{
	(void)sendto(src, m, len, 0, (struct sockaddr *)&t->addr, sizeof(t->addr));
	struct pollfd p[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		p[i] = (struct pollfd){.fd = t->fds[i], .events = POLLIN};
	if (poll(p, WORKERS, 1000) <= 0) {
		t->lost++;
		return -1;
	}
	for (int i = 0; i < WORKERS; i++)
		if (p[i].revents & POLLIN) {
			uint8_t b[2048];
			(void)recv(t->fds[i], b, sizeof(b), 0);
			return i;
		}
	t->lost++;
	return -1;
}

/* A datagram that must reach socket `want`. */
static void expect_at(struct tally *t, int src, const void *m, size_t len, int want)
{
	int got = deliver(t, src, m, len);
	if (got == want)
		t->steered++;
	else if (got >= 0)
		t->wrong++;
}

static void tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int s = 0; s < SOURCES; s++)
		t->hashed_at[s] = -1;
}

/* A datagram from source s that the program leaves to the kernel's hash:
 * it must reach the socket the hash names for s, the same for every such
 * datagram of s (a program that returned a socket of its own choosing,
 * e.g. 0 or a byte of the payload, would be caught here). Returns the
 * socket, -1: lost. */
static int expect_hashed(struct tally *t, const int *src, int s, const void *m, size_t len)
{
	int got = deliver(t, src[s], m, len);
	if (got < 0)
		return -1;
	if (t->hashed_at[s] < 0) {
		t->hashed_at[s] = got;
		t->spread[got]++;
	} else if (got == t->hashed_at[s]) {
		t->rehashed++;
	} else {
		t->off_hash++;
	}
	return got;
}

static unsigned sockets_used(const struct tally *t)
{
	unsigned used = 0;
	for (int w = 0; w < WORKERS; w++)
		used += t->spread[w] > 0;
	return used;
}

static void tunnel(const int *src)
{
	struct tally t;
	tally_init(&t);
	if (group(t.fds, &t.addr)) {
		CHECK(0, "tunnel sockets");
		return;
	}
	CHECK(worker_tunnel_steer(t.fds[0], 1) == 0, "one worker: nothing to do");
	int err = worker_tunnel_steer(t.fds[0], WORKERS);
	CHECK(err == 0, "attach: %s", strerror(-err));
	static const uint8_t types[3] = {4, 3, 2}; /* data, cookie reply, response */
	for (int s = 0; s < SOURCES; s++) {
		for (int w = 0; w < WORKERS; w++)
			for (int k = 0; k < 3; k++) {
				/* receiver index at 4 (at 8 in a response), little-
				 * endian: the low byte names the worker */
				uint8_t m[64] = {types[k]};
				unsigned off = types[k] == 2 ? 8 : 4;
				m[off] = (uint8_t)w;
				m[off + 1] = (uint8_t)(0x5a + s);
				m[off + 2] = (uint8_t)(s * 7);
				m[off + 3] = 0x80;
				m[off == 8 ? 4 : 8] = (uint8_t)(WORKERS - 1 - w); /* the other field: ignored */
				expect_at(&t, src[s], m, 32 + 16 * (size_t)k, w);
			}
		/* an initiation: its sender index says nothing about us */
		uint8_t init[148] = {1};
		expect_hashed(&t, src, s, init, sizeof(init));
	}
	CHECK(!t.lost, "tunnel: %u datagrams lost", t.lost);
	CHECK(t.steered == SOURCES * WORKERS * 3 && !t.wrong, "tunnel: %u to the index's worker, %u elsewhere",
	      t.steered, t.wrong);
	/* 32 sources over 4 sockets by hash: all on one socket has odds 4^-31 */
	CHECK(sockets_used(&t) > 1, "initiations spread by hash over %u sockets", sockets_used(&t));
	/* From every source, datagrams the program must leave to the hash:
	 * an index naming a worker past the group, a type the program does not
	 * know, a second initiation with other bytes. Each must land where
	 * that source's initiation did. */
	for (int s = 0; s < SOURCES; s++) {
		uint8_t past[32] = {4, 0, 0, 0, (uint8_t)(WORKERS + s)};
		uint8_t unknown[32] = {(uint8_t)(5 + s), 0, 0, 0, (uint8_t)(s % WORKERS)};
		uint8_t init2[148] = {1, 0, 0, 0, (uint8_t)s, 1, 2, 3, (uint8_t)(s % WORKERS)};
		expect_hashed(&t, src, s, past, sizeof(past));
		expect_hashed(&t, src, s, unknown, sizeof(unknown));
		expect_hashed(&t, src, s, init2, sizeof(init2));
	}
	CHECK(!t.lost, "tunnel: %u datagrams lost", t.lost);
	CHECK(t.rehashed == 3 * SOURCES && !t.off_hash,
	      "tunnel: past-the-group index, unknown type, initiation: %u on the socket the hash names, %u elsewhere",
	      t.rehashed, t.off_hash);
	printf("tunnel: %u steered, initiations on %u sockets, %u more on the hash's socket, %u elsewhere\n",
	       t.steered, sockets_used(&t), t.rehashed, t.off_hash);
	for (int i = 0; i < WORKERS; i++)
		close(t.fds[i]);
}

static void quic(const int *src)
{
	struct tally t;
	tally_init(&t);
	if (group(t.fds, &t.addr)) {
		CHECK(0, "quic sockets");
		return;
	}
	int err = worker_quic_steer(t.fds[0], WORKERS);
	CHECK(err == 0, "attach: %s", strerror(-err));
	for (int s = 0; s < SOURCES; s++) {
		for (int w = 0; w < WORKERS; w++) {
			uint8_t nonce[QUIC_CID_NONCE_LEN], cid[QUIC_CID_LEN];
			memset(nonce, 0x33 + s, sizeof(nonce));
			CHECK(quic_cid_encode(cid, (unsigned)w, nonce) == 0, "encode");
			/* short header (1-RTT): 0b01.., DCID, then ciphertext */
			uint8_t p[1200] = {0x40 | (uint8_t)s};
			memcpy(p + 1, cid, QUIC_CID_LEN);
			expect_at(&t, src[s], p, 100, w);
			/* long header (Handshake): version, DCID length, DCID */
			uint8_t l[1200] = {0xe0, 0, 0, 0, 1, QUIC_CID_LEN};
			memcpy(l + 6, cid, QUIC_CID_LEN);
			expect_at(&t, src[s], l, 600, w);
		}
		/* a client's first Initial: its own 8-octet DCID */
		uint8_t init[1200] = {0xc0, 0, 0, 0, 1, 8, 0x0f, 0, 1, 2, 3, 4, 5, 6};
		expect_hashed(&t, src, s, init, sizeof(init));
	}
	CHECK(!t.lost, "quic: %u datagrams lost", t.lost);
	CHECK(t.steered == SOURCES * WORKERS * 2 && !t.wrong, "quic: %u to the CID's worker, %u elsewhere", t.steered,
	      t.wrong);
	CHECK(sockets_used(&t) > 1, "first Initials spread by hash over %u sockets", sockets_used(&t));
	/* From every source: a CID not of our shape (short and long header),
	 * our shape naming a worker past the group, a long header whose DCID
	 * length is not ours. Each must land where that source's first
	 * Initial did. */
	for (int s = 0; s < SOURCES; s++) {
		uint8_t foreign[64] = {0x41, 0x99, 0, (uint8_t)(s % WORKERS)};
		uint8_t past[64] = {0x41, QUIC_CID_LEN - 1, 0x7f, (uint8_t)(0xff - s)};
		uint8_t lforeign[1200] = {0xe0, 0, 0, 0, 1, QUIC_CID_LEN, 0x42, 0, (uint8_t)(s % WORKERS)};
		uint8_t lshort[1200] = {0xe0, 0, 0, 0, 1, 4, QUIC_CID_LEN - 1, 0, (uint8_t)(s % WORKERS)};
		expect_hashed(&t, src, s, foreign, sizeof(foreign));
		expect_hashed(&t, src, s, past, sizeof(past));
		expect_hashed(&t, src, s, lforeign, sizeof(lforeign));
		expect_hashed(&t, src, s, lshort, sizeof(lshort));
	}
	CHECK(!t.lost, "quic: %u datagrams lost", t.lost);
	CHECK(t.rehashed == 4 * SOURCES && !t.off_hash,
	      "quic: foreign CIDs, worker past the group, other DCID length: %u on the socket the hash names, "
	      "%u elsewhere",
	      t.rehashed, t.off_hash);
	printf("quic: %u steered, first Initials on %u sockets, %u more on the hash's socket, %u elsewhere\n",
	       t.steered, sockets_used(&t), t.rehashed, t.off_hash);
	for (int i = 0; i < WORKERS; i++)
		close(t.fds[i]);
}

int main(void)
{
	int src[SOURCES];
	for (int s = 0; s < SOURCES; s++)
		if ((src[s] = udp(0, 0)) < 0)
			return 1;
	tunnel(src);
	quic(src);
	return check_report("test_steer");
}
