/* shard: the owner map (claims, claim-if-free, designation in range, a
 * full map) and the hand-off rings: order and contents of records of every
 * size through many wrap-arounds, -ENOBUFS when full, the wake-up signal
 * (one per burst, again after an ack), and a two-thread run where a
 * producer and a consumer race for a few hundred thousand records. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "datapath/tunnel/shard.h"
#include "tests/tunnel/check.h"

static void key_of(uint8_t key[32], uint32_t i)
{
	for (int b = 0; b < 32; b++)
		key[b] = (uint8_t)(i * 2654435761u >> (b % 4 * 8)) ^ (uint8_t)b;
	memcpy(key, &i, sizeof(i));
}

static void owners(void)
{
	struct tunnel_shard *s;
	CHECK(tunnel_shard_create(4, 100, 1 << 16, &s) == 0, "create");
	uint8_t k[32];
	for (uint32_t i = 0; i < 100; i++) {
		key_of(k, i);
		CHECK(tunnel_shard_owner(s, k) == -1, "key %u owned before any claim", i);
		CHECK(tunnel_shard_designated(s, k) < 4, "designated out of range");
		CHECK(tunnel_shard_claim_if_free(s, k, i % 4) == (int)(i % 4), "claim if free of a new key");
	}
	for (uint32_t i = 0; i < 100; i++) {
		key_of(k, i);
		CHECK(tunnel_shard_owner(s, k) == (int)(i % 4), "key %u owner %d", i, tunnel_shard_owner(s, k));
		CHECK(tunnel_shard_claim_if_free(s, k, 3) == (int)(i % 4), "claim if free took an owned key");
		CHECK(tunnel_shard_claim(s, k, 2) == 0 && tunnel_shard_owner(s, k) == 2, "claim moves the owner");
	}
	/* the map holds at least `peers` keys; far more fill it */
	int full = 0;
	for (uint32_t i = 100; i < 10000 && !full; i++) {
		key_of(k, i);
		full = tunnel_shard_claim(s, k, 1) == -ENOSPC;
	}
	CHECK(full, "the map never filled");
	key_of(k, 5);
	CHECK(tunnel_shard_owner(s, k) == 2, "a full map lost a key");
	tunnel_shard_destroy(s);
}

static void rings(void)
{
	struct tunnel_shard *s;
	CHECK(tunnel_shard_create(3, 16, 8192, &s) == 0, "create");
	uint8_t buf[2048], *p;
	size_t len;
	CHECK(tunnel_shard_push(s, 1, 1, buf, 10) == -EINVAL, "push to self");
	CHECK(tunnel_shard_push(s, 0, 1, buf, 3000) == -EMSGSIZE, "larger than a quarter of the ring");
	CHECK(tunnel_shard_peek(s, 0, 1, &len) == NULL, "empty ring gave a record");
	/* wake-up: the first push of a burst asks for it, later ones not */
	CHECK(tunnel_shard_push(s, 0, 1, buf, 1) == 1, "first push does not wake");
	CHECK(tunnel_shard_push(s, 0, 1, buf, 1) == 0, "second push wakes again");
	CHECK(tunnel_shard_push(s, 2, 1, buf, 1) == 1, "pairs do not have their own signal");
	tunnel_shard_ack(s, 0, 1);
	CHECK(tunnel_shard_push(s, 0, 1, buf, 1) == 1, "no wake after the ack");
	for (int i = 0; i < 3; i++) {
		CHECK(tunnel_shard_peek(s, 0, 1, &len) && len == 1, "record %d", i);
		tunnel_shard_pop(s, 0, 1);
	}
	CHECK(tunnel_shard_peek(s, 0, 1, &len) == NULL, "ring 0->1 not empty");
	CHECK(tunnel_shard_peek(s, 2, 1, &len) && len == 1, "ring 2->1 lost its record");
	tunnel_shard_pop(s, 2, 1);
	/* FIFO contents of every size through many wraps; fill to -ENOBUFS */
	uint32_t next_in = 0, next_out = 0;
	int full_seen = 0;
	for (int round = 0; round < 5000; round++) {
		int pushes = (int)rnd_below(8);
		for (int i = 0; i < pushes; i++) {
			size_t l = 4 + rnd_below(2000);
			memcpy(buf, &next_in, 4);
			memset(buf + 4, (int)(next_in & 0xff), l - 4);
			int r = tunnel_shard_push(s, 0, 2, buf, l);
			if (r == -ENOBUFS) {
				full_seen++;
				break;
			}
			CHECK(r >= 0, "push %d", r);
			next_in++;
		}
		int pops = (int)rnd_below(8);
		for (int i = 0; i < pops && (p = tunnel_shard_peek(s, 0, 2, &len)); i++) {
			uint32_t seq;
			memcpy(&seq, p, 4);
			CHECK(seq == next_out, "record %u came out as %u", next_out, seq);
			int same = 1;
			for (size_t b = 4; b < len; b++)
				same &= p[b] == (uint8_t)(seq & 0xff);
			CHECK(same, "record %u contents", seq);
			next_out = seq + 1;
			tunnel_shard_pop(s, 0, 2);
		}
	}
	while ((p = tunnel_shard_peek(s, 0, 2, &len))) {
		uint32_t seq;
		memcpy(&seq, p, 4);
		CHECK(seq == next_out, "drain: %u came out as %u", next_out, seq);
		next_out = seq + 1;
		tunnel_shard_pop(s, 0, 2);
	}
	CHECK(next_out == next_in && full_seen > 0, "%u in, %u out, full %d times", next_in, next_out, full_seen);
	tunnel_shard_destroy(s);
}

/* ---- two threads ---- */

#define RACE_N 300000u
static struct tunnel_shard *race;
static _Atomic int race_bad;

static void *producer(void *arg)
{
	(void)arg;
	uint8_t buf[1600];
	for (uint32_t i = 0; i < RACE_N;) {
		size_t l = 8 + (i * 7919u) % 1500;
		memcpy(buf, &i, 4);
		for (size_t b = 4; b < l; b++)
			buf[b] = (uint8_t)(i + b);
		int r = tunnel_shard_push(race, 0, 1, buf, l);
		if (r == -ENOBUFS)
			continue; /* spin: the consumer catches up */
		if (r < 0)
			atomic_store(&race_bad, 1);
		i++;
	}
	return NULL;
}

static void concurrent(void)
{
	CHECK(tunnel_shard_create(2, 1, 1 << 16, &race) == 0, "create");
	pthread_t t;
	pthread_create(&t, NULL, producer, NULL);
	uint32_t want = 0;
	size_t len;
	uint8_t *p;
	int bad = 0;
	while (want < RACE_N) {
		tunnel_shard_ack(race, 0, 1);
		while ((p = tunnel_shard_peek(race, 0, 1, &len))) {
			uint32_t seq;
			memcpy(&seq, p, 4);
			if (seq != want || len != 8 + (seq * 7919u) % 1500)
				bad++;
			for (size_t b = 4; b < len; b++)
				if (p[b] != (uint8_t)(seq + b)) {
					bad++;
					break;
				}
			want = seq + 1;
			tunnel_shard_pop(race, 0, 1);
		}
	}
	pthread_join(t, NULL);
	CHECK(!bad && !atomic_load(&race_bad), "%d records out of order or damaged", bad);
	tunnel_shard_destroy(race);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	owners();
	rings();
	concurrent();
	return check_report("shard");
}
