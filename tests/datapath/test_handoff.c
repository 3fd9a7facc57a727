/* test_handoff: the worker-to-worker hand-off (datapath/handoff.h).
 *
 * 1. One thread: the largest item fits and one byte more is refused, a
 *    full ring refuses with -ENOBUFS and takes again once drained, items
 *    come back intact and in order with their addresses, only the senders
 *    that signalled are named, one wake-up per burst.
 * 2. Two producer threads and a consumer on a real ring and channel (the
 *    channel made tiny so wake-up messages are refused as full): N items
 *    each of varying sizes including the maximum; the consumer drains only
 *    when woken and only the senders named. Every item is either received,
 *    in order per sender and intact, or counted as a drop by its producer;
 *    an item left in a ring at the end is a lost wake-up. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath/handoff.h"
#include "ring/ring.h"

static int failures;
#define CHECK(c, ...)                                                        \
	do {                                                                 \
		if (!(c)) {                                                  \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			failures++;                                          \
		}                                                            \
	} while (0)

#define N_ITEMS 20000u
#define N_SENDERS 2u
#define RING_BYTES (64u << 10)

static uint8_t pattern(unsigned from, uint32_t seq, size_t i)
{
	return (uint8_t)(from * 131u + seq * 7u + i);
}

static size_t fill(uint8_t *buf, unsigned from, uint32_t seq, size_t len)
{
	memcpy(buf, &seq, sizeof(seq));
	for (size_t i = sizeof(seq); i < len; i++)
		buf[i] = pattern(from, seq, i);
	return len;
}

static bool intact(const struct handoff_item *it, unsigned from, uint32_t *seq)
{
	if (it->len < sizeof(*seq))
		return false;
	memcpy(seq, it->data, sizeof(*seq));
	for (size_t i = sizeof(*seq); i < it->len; i++)
		if (it->data[i] != pattern(from, *seq, i))
			return false;
	return true;
}

static void case_single(void)
{
	struct handoff_mesh *m;
	CHECK(handoff_mesh_create(3, RING_BYTES, &m) == 0, "create");
	size_t max = handoff_max_len(m);
	uint8_t *buf = malloc(max + 1);
	rg_sockaddr peer = {.in4 = {.sin_family = AF_INET, .sin_port = htons(4433)}};
	rg_sockaddr local = {.in4 = {.sin_family = AF_INET, .sin_port = htons(443)}};

	CHECK(handoff_push(m, 1, 1, HANDOFF_QUIC_DGRAM, 0, NULL, NULL, buf, 1) == -EINVAL, "to self");
	CHECK(handoff_push(m, 1, 3, HANDOFF_QUIC_DGRAM, 0, NULL, NULL, buf, 1) == -EINVAL, "no worker 3");
	CHECK(handoff_push(m, 1, 0, HANDOFF_TUN_PACKET, 0, NULL, NULL, buf, max + 1) == -EMSGSIZE, "max + 1");
	/* the first push of a burst asks for a wake-up, the rest do not */
	fill(buf, 1, 0, max);
	CHECK(handoff_push(m, 1, 0, HANDOFF_TUN_PACKET, 0, NULL, NULL, buf, max) == 1, "max fits, wake");
	fill(buf, 1, 1, 100);
	CHECK(handoff_push(m, 1, 0, HANDOFF_QUIC_DGRAM, 7, &peer, &local, buf, 100) == 0, "no second wake");
	/* fill the rest: -ENOBUFS, not a wrap over unread bytes */
	unsigned queued = 2;
	int r;
	while ((r = handoff_push(m, 1, 0, HANDOFF_TUNNEL_DGRAM, 0, NULL, NULL, buf, 1000)) == 0)
		queued++;
	CHECK(r == -ENOBUFS, "full ring: %d", r);
	CHECK(queued > 40 && queued < 70, "%u items in a 64 KiB ring", queued);

	unsigned from[4];
	unsigned n = handoff_senders(m, 0, from, 4);
	CHECK(n == 1 && from[0] == 1, "only sender 1 signalled (%u senders)", n);
	CHECK(handoff_senders(m, 0, from, 4) == 0, "the set is taken once");
	CHECK(handoff_senders(m, 1, from, 4) == 0, "nobody signalled worker 1");
	handoff_ack(m, 1, 0);
	const struct handoff_item *it = handoff_peek(m, 1, 0);
	uint32_t seq;
	CHECK(it && it->kind == HANDOFF_TUN_PACKET && it->len == max && intact(it, 1, &seq) && seq == 0,
	      "the maximum item intact");
	handoff_pop(m, 1, 0);
	it = handoff_peek(m, 1, 0);
	CHECK(it && it->kind == HANDOFF_QUIC_DGRAM && it->len == 100 && it->sock == 7 &&
	              memcmp(&it->peer, &peer, sizeof(peer)) == 0 && memcmp(&it->local, &local, sizeof(local)) == 0,
	      "a datagram with its addresses");
	handoff_pop(m, 1, 0);
	unsigned got = 2;
	while ((it = handoff_peek(m, 1, 0)) != NULL) {
		got++;
		handoff_pop(m, 1, 0);
	}
	CHECK(got == queued, "%u of %u items back", got, queued);
	/* drained and acked: the next push wakes again, and fits again */
	CHECK(handoff_push(m, 1, 0, HANDOFF_TUN_PACKET, 0, NULL, NULL, buf, max) == 1, "wake after ack");
	CHECK(handoff_push(m, 2, 0, HANDOFF_TUN_PACKET, 0, NULL, NULL, buf, 10) == 1, "another sender wakes");
	n = handoff_senders(m, 0, from, 1);
	CHECK(n == 1, "cap 1: one sender");
	n += handoff_senders(m, 0, from + 1, 4);
	CHECK(n == 2 && from[0] != from[1], "the other sender stays marked (%u)", n);
	free(buf);
	handoff_mesh_destroy(m);
}

/* ---- two producers, one consumer on a ring ---- */

struct prod {
	unsigned id;
	pthread_t t;
	unsigned sent, dropped, wakes, wakes_refused, max_sent;
};

static struct handoff_mesh *mesh;
static struct ring_chan *chan;
static _Atomic unsigned producers_done;
static uint32_t next_seq[N_SENDERS + 1];
static unsigned received[N_SENDERS + 1], bad, chan_calls, drained_calls;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *producer(void *arg)
{
	struct prod *p = arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (p->id + 1);
	size_t max = handoff_max_len(mesh);
	uint8_t *buf = malloc(max);
	for (uint32_t seq = 0; seq < N_ITEMS; seq++) {
		size_t len;
		switch (rnd(&s) % 8) {
		case 0: len = max; break;                     /* the maximum */
		case 1: len = 4 + rnd(&s) % 60000 % (max - 4); break;
		default: len = 4 + rnd(&s) % 1400; break;      /* datagram sizes */
		}
		fill(buf, p->id, seq, len);
		int r = handoff_push(mesh, p->id, 0, (enum handoff_kind)(1 + seq % 3), 0, NULL, NULL, buf, len);
		if (r < 0) {
			p->dropped++; /* the counted drop of a full ring */
			continue;
		}
		p->sent++;
		if (len == max)
			p->max_sent++;
		if (r == 1) {
			struct ring_msg m = {.type = 1, .u32 = p->id};
			p->wakes++;
			if (ring_chan_send(chan, &m) == -EAGAIN)
				p->wakes_refused++; /* the channel is full: a wake-up is pending anyway */
		}
		/* other traffic on the consumer's channel (control messages in a
		 * worker): fills it, so some wake-ups are refused as full */
		if (rnd(&s) % 4 == 0) {
			struct ring_msg noise = {.type = 2};
			(void)!ring_chan_send(chan, &noise);
		}
		if (rnd(&s) % 64 == 0)
			usleep(50);
	}
	free(buf);
	atomic_fetch_add(&producers_done, 1);
	return NULL;
}

static void on_recv(void *ctx, struct ring *r, struct ring_dgram *d, unsigned n)
{
	(void)ctx, (void)r, (void)d, (void)n;
}

static void on_chan(void *ctx, struct ring *r)
{
	(void)ctx, (void)r;
	struct ring_msg m;
	chan_calls++;
	while (ring_chan_recv(chan, &m) == 1)
		;
	unsigned from[N_SENDERS + 1];
	unsigned n = handoff_senders(mesh, 0, from, N_SENDERS + 1);
	for (unsigned i = 0; i < n; i++) {
		unsigned f = from[i];
		drained_calls++;
		handoff_ack(mesh, f, 0);
		const struct handoff_item *it;
		while ((it = handoff_peek(mesh, f, 0)) != NULL) {
			uint32_t seq;
			if (f == 0 || f > N_SENDERS || !intact(it, f, &seq) || seq < next_seq[f]) {
				bad++;
			} else {
				next_seq[f] = seq + 1;
				received[f]++;
			}
			handoff_pop(mesh, f, 0);
		}
	}
	/* a slow consumer now and then, so the rings fill up */
	if (chan_calls % 16 == 0)
		usleep(500);
}

static void case_threads(void)
{
	static const struct ring_ops ops = {.recv = on_recv, .chan = on_chan};
	struct ring_opts o;
	struct ring *r;
	ring_opts_default(&o);
	o.ops = &ops;
	CHECK(handoff_mesh_create(N_SENDERS + 1, RING_BYTES, &mesh) == 0, "create");
	CHECK(ring_chan_create(2, &chan) == 0, "chan");
	CHECK(ring_create(&o, &r) == 0, "ring");
	CHECK(ring_chan_attach(r, chan) == 0, "attach");
	struct prod p[N_SENDERS];
	for (unsigned i = 0; i < N_SENDERS; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].id = i + 1;
		pthread_create(&p[i].t, NULL, producer, &p[i]);
	}
	/* the consumer drains only when woken; bounded in time */
	uint64_t end = ring_now() + 30000000000ull;
	unsigned total = 0;
	for (;;) {
		total = 0;
		for (unsigned i = 0; i < N_SENDERS; i++)
			total += received[i + 1];
		unsigned sent = 0;
		if (atomic_load(&producers_done) == N_SENDERS) {
			for (unsigned i = 0; i < N_SENDERS; i++)
				sent += p[i].sent;
			if (total + bad >= sent)
				break;
		}
		if (ring_now() > end)
			break;
		ring_timer_set(r, ring_now() + 100000000ull);
		if (ring_turn(r) < 0)
			break;
	}
	for (unsigned i = 0; i < N_SENDERS; i++)
		pthread_join(p[i].t, NULL);
	unsigned left = 0;
	for (unsigned f = 1; f <= N_SENDERS; f++)
		while (handoff_peek(mesh, f, 0)) {
			left++;
			handoff_pop(mesh, f, 0);
		}
	for (unsigned i = 0; i < N_SENDERS; i++) {
		printf("  sender %u: %u sent (%u of the maximum size), %u dropped (ring full), %u received, "
		       "%u wake-ups posted, %u refused by a full channel\n",
		       p[i].id, p[i].sent, p[i].max_sent, p[i].dropped, received[p[i].id], p[i].wakes,
		       p[i].wakes_refused);
		CHECK(p[i].sent + p[i].dropped == N_ITEMS, "sender %u: every item sent or counted", p[i].id);
		CHECK(received[p[i].id] == p[i].sent, "sender %u: %u received of %u sent", p[i].id,
		      received[p[i].id], p[i].sent);
		CHECK(p[i].max_sent > 0, "sender %u: no item of the maximum size went through", p[i].id);
		CHECK(p[i].wakes <= p[i].sent, "sender %u: more wake-ups than items", p[i].id);
	}
	printf("  consumer: %u wake-ups, %u ring drains, %u bad, %u left in the rings\n", chan_calls, drained_calls,
	       bad, left);
	CHECK(bad == 0, "%u items corrupt or out of order", bad);
	CHECK(left == 0, "%u items never drained: a lost wake-up", left);
	CHECK(p[0].dropped + p[1].dropped > 0, "the rings never filled: the drop path was not exercised");
	CHECK(p[0].wakes_refused + p[1].wakes_refused > 0, "no wake-up was refused: the full channel was not exercised");
	ring_destroy(r);
	ring_chan_destroy(chan);
	handoff_mesh_destroy(mesh);
}

int main(void)
{
	case_single();
	case_threads();
	printf("handoff: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
