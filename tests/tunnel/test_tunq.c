/* The TUN queue's write order (tun.h, gro.h), for one backend (argv[1]:
 * uring or epoll): a flood of decrypted packets handed to one queue in one
 * loop turn, more than any pool of in-flight writes could hold, must reach
 * the device in the order it was handed over. gro.h promises it, and the
 * kernel's TCP treats a reordered segment as loss (RFC 5681 section 3.2:
 * three duplicate ACKs halve the window).
 *
 * The device is an in-memory fake: one end of an AF_UNIX SOCK_SEQPACKET
 * pair, which keeps the boundaries of writes as a TUN queue does; a thread
 * drains the other end and checks the sequence number every packet
 * carries: plain UDP packets (written as they came) and runs of TCP
 * segments of one flow (coalesced into one GSO super-packet per run). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/tunnel/tun.h"
#include "tests/check.h"
#include "tests/ring_test.h"
#include "tests/tunnel/packets.h"

#define MTU 1420u
#define SEG 100u      /* TCP payload per segment: every one the same, so runs coalesce */
#define ROUNDS 400u   /* groups of (UDP, UDP, TCP run of RUN segments) */
#define RUN 3u
#define TOTAL (ROUNDS * (2 + RUN))

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An IPv4 packet 10.8.0.1 -> 10.8.0.2: UDP with payload seq (4 bytes,
 * padded to 40), or one TCP segment of SEG bytes starting with seq, of the
 * flow 40000 -> 5201, whose TCP sequence number follows from seq. DF set,
 * ACK only, same ACK number and window: what tun_gro merges. */
static size_t build(uint8_t *out, bool tcp, uint32_t seq, uint32_t tcp_seq)
{
	size_t thl = tcp ? 20 : 8, plen = tcp ? SEG : 40, len = 20 + thl + plen;
	memset(out, 0, len);
	out[0] = 0x45;
	w16(out + 2, (unsigned)len);
	out[6] = 0x40;
	out[8] = 64;
	out[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	out[12] = 10, out[13] = 8, out[15] = 1;
	out[16] = 10, out[17] = 8, out[19] = 2;
	w16(out + 10, (uint16_t)~naive_fold(naive_sum(out, 20)));
	uint8_t *l4 = out + 20;
	w16(l4, tcp ? 40000 : 40001);
	w16(l4 + 2, 5201);
	if (tcp) {
		w32(l4 + 4, tcp_seq);
		w32(l4 + 8, 0x11223344);
		l4[12] = 5 << 4;
		l4[13] = 0x10; /* ACK */
		w16(l4 + 14, 501);
	} else {
		w16(l4 + 4, (unsigned)(thl + plen));
	}
	w32(l4 + thl, seq);
	return len;
}

/* The drain thread: every write that reached the fake device, in order. */
static struct {
	int fd;
	uint32_t next;  /* the sequence number expected next */
	unsigned pkts;  /* packets seen (a super-packet counts its segments) */
	unsigned writes, supers, out_of_order;
	uint32_t first_bad_got, first_bad_want;
} dev;

static void seen(uint32_t seq)
{
	if (seq != dev.next && !dev.out_of_order++) {
		dev.first_bad_got = seq;
		dev.first_bad_want = dev.next;
	}
	dev.next = seq + 1;
	dev.pkts++;
}

static void *drain(void *arg)
{
	(void)arg;
	static uint8_t buf[TUN_READ_BUF];
	ssize_t n;
	while (dev.pkts < TOTAL && (n = read(dev.fd, buf, sizeof(buf))) > 0) {
		dev.writes++;
		if ((size_t)n < TUN_VNET_HDR_LEN + 28)
			continue;
		struct tun_vnet_hdr h;
		tun_vnet_hdr_read(buf, &h);
		const uint8_t *ip = buf + TUN_VNET_HDR_LEN;
		size_t len = (size_t)n - TUN_VNET_HDR_LEN;
		if (ip[9] == IPPROTO_UDP) {
			seen(rd32(ip + 28));
			continue;
		}
		/* a TCP segment, or a super-packet of segments of SEG bytes */
		const uint8_t *pay = ip + 40;
		size_t plen = len - 40;
		if (h.gso_type != TUN_VNET_GSO_NONE)
			dev.supers++;
		for (size_t at = 0; at + 4 <= plen; at += SEG)
			seen(rd32(pay + at));
	}
	return NULL;
}

static void on_read(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx, (void)buf, (void)len;
}

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx, (void)r, (void)d, (void)n;
}

static const struct ring_ops ops = {.recv = on_recv};

/* Turn the ring (each turn bounded by a 10 ms deadline) until done() or
 * 5 s passed. */
static void turn_until(struct ring *r, bool (*done)(struct tun_queue *), struct tun_queue *q)
{
	uint64_t end = ring_now() + 5000000000ull;
	while (!done(q) && ring_now() < end) {
		ring_timer_set(r, ring_now() + 10000000ull);
		ring_turn(r);
	}
}

static bool all_seen(struct tun_queue *q)
{
	(void)q;
	return __atomic_load_n(&dev.pkts, __ATOMIC_ACQUIRE) >= TOTAL;
}

static bool idle(struct tun_queue *q)
{
	return !tun_queue_busy(q);
}

int main(int argc, char **argv)
{
	struct ring *r;
	int rc = ring_test_create(argc, argv, &ops, &r);
	if (rc)
		return rc;
	const char *backend = ring_backend_name(ring_backend_of(r));
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		perror("socketpair");
		return 1;
	}
	/* Room for the whole flood in the fake device, so a write never waits
	 * for the drain thread (a real TUN write never waits: its send buffer
	 * is INT_MAX). SO_SNDBUFFORCE needs CAP_NET_ADMIN; without it the
	 * drain thread keeps up anyway. */
	int big = 64 << 20;
	if (setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	dev.fd = sp[1];
	pthread_t th;
	CHECK(pthread_create(&th, NULL, drain, NULL) == 0, "drain thread");

	struct tun_queue *q;
	int err = tun_queue_create(r, sp[0], MTU, on_read, NULL, &q);
	CHECK(err == 0, "tun_queue_create: %s", strerror(-err));
	if (err)
		return check_report("tunnel_tunq");

	/* The flood, all in one loop turn, as one receive batch of datagrams
	 * decrypts: UDP, UDP, then a TCP run that the next UDP packet flushes
	 * as one super-packet. */
	static uint8_t pkt[2048];
	uint32_t seq = 0, tcp_seq = 1000;
	int werr = 0;
	for (unsigned g = 0; g < ROUNDS; g++) {
		for (unsigned i = 0; i < 2 + RUN; i++, seq++) {
			bool tcp = i >= 2;
			size_t len = build(pkt, tcp, seq, tcp_seq);
			if (tcp)
				tcp_seq += SEG;
			int e = tun_queue_write(q, pkt, len);
			if (e && !werr)
				werr = e;
		}
	}
	int ferr = tun_queue_flush(q);
	CHECK(werr == 0, "tun_queue_write: %s", strerror(-werr));
	CHECK(ferr == 0, "tun_queue_flush: %s", strerror(-ferr));
	turn_until(r, all_seen, q);
	struct tun_queue_stats st = *tun_queue_stats(q);
	tun_queue_stop(q);
	turn_until(r, idle, q);
	CHECK(!tun_queue_busy(q), "queue still busy after stop");
	tun_queue_free(q); /* closes sp[0]: the drain thread reads end of file */
	pthread_join(th, NULL);
	close(sp[1]);
	ring_destroy(r);

	printf("backend %s: %u packets handed over, %u reached the device in %u writes (%u super-packets), "
	       "%u out of order; queue: %llu writes, %llu coalesced of %llu segments, %llu errors\n",
	       backend, TOTAL, dev.pkts, dev.writes, dev.supers, dev.out_of_order,
	       (unsigned long long)st.tx_writes, (unsigned long long)st.tx_gro_writes,
	       (unsigned long long)st.tx_gro_segs, (unsigned long long)st.tx_errors);
	CHECK(dev.pkts == TOTAL, "%u of %u packets reached the device", dev.pkts, TOTAL);
	CHECK(dev.out_of_order == 0, "%u packets out of order, the first: %u where %u was due", dev.out_of_order,
	      dev.first_bad_got, dev.first_bad_want);
	CHECK(dev.supers == ROUNDS, "%u super-packets, %u runs", dev.supers, ROUNDS);
	CHECK(st.tx_errors == 0, "%llu write errors", (unsigned long long)st.tx_errors);
	return check_report("tunnel_tunq");
}
