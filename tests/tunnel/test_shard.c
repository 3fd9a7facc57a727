/* shard: the owner map (claims, claim-if-free, designation in range, a
 * full map). The hand-off rings it had are datapath/handoff.c's now,
 * tested by tests/datapath/test_handoff.c. */
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

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	owners();
	return check_report("shard");
}
