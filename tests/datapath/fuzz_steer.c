/* libFuzzer target: the datagram classifiers that steer a datagram to its
 * worker, differentially. Two classifiers decide the owner of every
 * datagram and must agree:
 *
 *  - the kernel, running the reuseport programs of worker_quic_steer() and
 *    worker_tunnel_steer() (classic BPF over the UDP payload) on a real
 *    reuseport group of WORKERS sockets on loopback;
 *  - the C code a worker runs on what it received: for QUIC the server's
 *    dispatch (ngtcp2_pkt_decode_version_cid, then quic_cid_owner on the
 *    DCID, datapath/quic/server.c), for the tunnel tunnel_receiver_index()
 *    and its low byte (datapath/worker_tunnel.c).
 *
 * The first input byte picks the group (bit 0: tunnel), the rest is the
 * datagram. Checked, aborting on a disagreement:
 *   1. C names a worker of the group: the kernel delivered it there (else
 *      every such datagram costs a hand-off between workers, and the
 *      design's "no hand-off after migration" is void);
 *   2. C parses the datagram as addressed to a CID or index that is not of
 *      the group: the kernel left it to its 4-tuple hash, i.e. delivered it
 *      to the socket the hash names for our one source (learned at start
 *      from a datagram both leave to the hash).
 * Datagrams C cannot parse (truncated, malformed) may go anywhere: the
 * worker drops them. Needs loopback only, no root. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ngtcp2/ngtcp2.h>

#include "datapath/quic/cid.h"
#include "datapath/tunnel/engine.h"
#include "datapath/worker.h"

#define WORKERS 4

struct group {
	int fds[WORKERS];
	struct sockaddr_in addr;
	int hashed; /* the socket the hash names for src */
};

static int src = -1;
static struct group quic, tun;

static int udp(uint16_t port, int reuse)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1, big = 4 << 20;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("fuzz_steer: socket");
		abort();
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

/* Which socket of g received what src just sent; aborts when none did
 * within 2 s (loopback does not lose datagrams the buffers have room for). */
static int deliver(struct group *g, const uint8_t *m, size_t len)
{
	if (sendto(src, m, len, 0, (struct sockaddr *)&g->addr, sizeof(g->addr)) != (ssize_t)len) {
		perror("fuzz_steer: sendto");
		abort();
	}
	struct pollfd p[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		p[i] = (struct pollfd){.fd = g->fds[i], .events = POLLIN};
	if (poll(p, WORKERS, 2000) <= 0) {
		fprintf(stderr, "fuzz_steer: a %zu-byte datagram reached no socket\n", len);
		abort();
	}
	for (int i = 0; i < WORKERS; i++)
		if (p[i].revents & POLLIN) {
			uint8_t b[1];
			(void)recv(g->fds[i], b, sizeof(b), MSG_TRUNC);
			return i;
		}
	abort();
}

static void group_init(struct group *g, int (*steer)(int, unsigned), const uint8_t *hashed, size_t hashed_len)
{
	socklen_t alen = sizeof(g->addr);
	g->fds[0] = udp(0, 1);
	if (getsockname(g->fds[0], (struct sockaddr *)&g->addr, &alen))
		abort();
	for (int i = 1; i < WORKERS; i++)
		g->fds[i] = udp(ntohs(g->addr.sin_port), 1);
	int err = steer(g->fds[0], WORKERS);
	if (err) {
		fprintf(stderr, "fuzz_steer: attach: %s\n", strerror(-err));
		abort();
	}
	g->hashed = deliver(g, hashed, hashed_len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	src = udp(0, 0);
	/* what both classifiers leave to the hash: a client's first Initial
	 * (its own 8-octet DCID), a handshake initiation */
	static const uint8_t initial[1200] = {0xc0, 0, 0, 0, 1, 8, 0x0f, 0, 1, 2, 3, 4, 5, 6};
	static const uint8_t initiation[MESSAGE_INITIATION_LEN] = {MESSAGE_HANDSHAKE_INITIATION};
	group_init(&quic, worker_quic_steer, initial, sizeof(initial));
	group_init(&tun, worker_tunnel_steer, initiation, sizeof(initiation));
	return 0;
}

/* The owner the QUIC server's dispatch reads off a datagram: a worker id,
 * -1 (a DCID not of our shape: the hash's business), -2 (not parsed:
 * dropped or answered with Version Negotiation wherever it lands). */
static int quic_owner(const uint8_t *d, size_t len)
{
	ngtcp2_version_cid vc;
	int rv = ngtcp2_pkt_decode_version_cid(&vc, d, len, QUIC_CID_LEN);
	if (rv != 0 || ((d[0] & 0x80) && vc.version == 0))
		return -2;
	int owner = quic_cid_owner(vc.dcid, vc.dcidlen);
	return owner >= 0 ? owner : -1;
}

/* The same for the tunnel: the low byte of the receiver index, -2 when
 * the worker would not look (an initiation, a malformed message: any
 * worker handles those). */
static int tunnel_owner(const uint8_t *d, size_t len)
{
	uint32_t idx = tunnel_receiver_index(d, len);
	return idx ? (int)(idx & 0xff) : -2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 + 1500)
		return 0;
	bool is_tunnel = data[0] & 1;
	const uint8_t *d = data + 1;
	size_t len = size - 1;
	struct group *g = is_tunnel ? &tun : &quic;
	int owner = is_tunnel ? tunnel_owner(d, len) : quic_owner(d, len);
	int got = deliver(g, d, len);
	if (owner >= 0 && owner < WORKERS && got != owner) {
		fprintf(stderr, "fuzz_steer: %s datagram of %zu bytes for worker %d reached socket %d\n",
		        is_tunnel ? "tunnel" : "QUIC", len, owner, got);
		abort();
	}
	if ((owner == -1 || owner >= WORKERS) && got != g->hashed) {
		fprintf(stderr, "fuzz_steer: %s datagram of %zu bytes (owner %d: not of the group) reached socket %d, "
		        "the hash names %d\n", is_tunnel ? "tunnel" : "QUIC", len, owner, got, g->hashed);
		abort();
	}
	return 0;
}
