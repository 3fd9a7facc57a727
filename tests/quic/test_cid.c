/* test_cid: the server CID encoding (datapath/quic/cid.h) and the CID table,
 * the table checked against a deliberately naive model (a flat array
 * searched linearly) under random inserts, removes and lookups. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/quic/cid.h"
#include "tests/check.h"

/* xorshift64*: reproducible, and no dependency on the CSPRNG */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static void test_encoding(void)
{
	static const unsigned workers[] = { 0, 1, 2, 255, 256, 4095, 65534, 65535 };
	uint8_t nonce[QUIC_CID_NONCE_LEN], cid[QUIC_CID_LEN];
	unsigned i, j;

	for (i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
		for (j = 0; j < QUIC_CID_NONCE_LEN; j++)
			nonce[j] = (uint8_t)rnd();
		CHECK_TRUE(quic_cid_encode(cid, workers[i], nonce) == 0);
		CHECK_TRUE(cid[0] == 0x0f); /* config 0, length self-description 15 */
		CHECK_TRUE(cid[1] == workers[i] >> 8 && cid[2] == (workers[i] & 0xff));
		CHECK_TRUE(memcmp(cid + 3, nonce, QUIC_CID_NONCE_LEN) == 0);
		CHECK_TRUE(quic_cid_owner(cid, QUIC_CID_LEN) == (int)workers[i]);
		CHECK_TRUE(quic_cid_owner(cid, QUIC_CID_LEN - 1) == -EINVAL);
		CHECK_TRUE(quic_cid_owner(cid, QUIC_CID_LEN + 1) == -EINVAL);
	}
	CHECK_TRUE(quic_cid_encode(cid, QUIC_CID_MAX_WORKERS, nonce) == -EINVAL);
	cid[0] = 0x2f; /* another config rotation: not ours */
	CHECK_TRUE(quic_cid_owner(cid, QUIC_CID_LEN) == -EINVAL);
	cid[0] = 0x0e; /* wrong self-described length */
	CHECK_TRUE(quic_cid_owner(cid, QUIC_CID_LEN) == -EINVAL);
}

struct model_ent {
	uint8_t len, data[QUIC_CID_MAX_LEN];
	void *val;
	bool used;
};

#define KEYS 600

static void random_cid(uint8_t *cid, size_t *len)
{
	/* A small key space so that inserts of present keys and removes of
	 * absent ones happen often. */
	unsigned k = (unsigned)(rnd() % KEYS);
	size_t i;

	*len = 1 + k % QUIC_CID_MAX_LEN;
	for (i = 0; i < *len; i++)
		cid[i] = (uint8_t)(k * 131 + i * 7);
}

static struct model_ent *model_find(struct model_ent *m, const uint8_t *cid, size_t len)
{
	unsigned i;

	for (i = 0; i < KEYS; i++)
		if (m[i].used && m[i].len == len && memcmp(m[i].data, cid, len) == 0)
			return &m[i];
	return NULL;
}

static void test_table_model(void)
{
	static struct model_ent model[KEYS];
	uint8_t key[QUIC_CID_HASH_KEY_LEN] = { 1, 2, 3 };
	struct quic_cid_table t;
	size_t count = 0;
	unsigned op;

	CHECK_TRUE(quic_cid_table_init(&t, 1, key) == 0); /* tiny: growth is exercised */
	for (op = 0; op < 300000; op++) {
		uint8_t cid[QUIC_CID_MAX_LEN];
		size_t len;
		struct model_ent *e;
		void *val = (void *)(uintptr_t)(1 + rnd() % 1000);
		unsigned i;

		random_cid(cid, &len);
		e = model_find(model, cid, len);
		switch (rnd() % 3) {
		case 0:
			if (e) {
				CHECK_TRUE(quic_cid_table_insert(&t, cid, len, val) == -EEXIST);
				break;
			}
			CHECK_TRUE(quic_cid_table_insert(&t, cid, len, val) == 0);
			for (i = 0; i < KEYS && model[i].used; i++)
				;
			model[i] = (struct model_ent){ (uint8_t)len, { 0 }, val, true };
			memcpy(model[i].data, cid, len);
			count++;
			break;
		case 1:
			CHECK_TRUE(quic_cid_table_remove(&t, cid, len) == (e ? 0 : -ENOENT));
			if (e) {
				e->used = false;
				count--;
			}
			break;
		default:
			CHECK_TRUE(quic_cid_table_find(&t, cid, len) == (e ? e->val : NULL));
			break;
		}
		CHECK_TRUE(t.count == count);
		if (checks_failed > 10)
			break;
	}
	/* every surviving key still found after all the shifting */
	for (op = 0; op < KEYS; op++)
		if (model[op].used)
			CHECK_TRUE(quic_cid_table_find(&t, model[op].data, model[op].len) == model[op].val);
	quic_cid_table_free(&t);
}

static void test_table_args(void)
{
	uint8_t key[QUIC_CID_HASH_KEY_LEN] = { 0 }, cid[21] = { 0 };
	struct quic_cid_table t;
	int v;

	CHECK_TRUE(quic_cid_table_init(&t, 10, key) == 0);
	CHECK_TRUE(quic_cid_table_insert(&t, cid, 0, &v) == -EINVAL);
	CHECK_TRUE(quic_cid_table_insert(&t, cid, 21, &v) == -EINVAL);
	CHECK_TRUE(quic_cid_table_insert(&t, cid, 8, NULL) == -EINVAL);
	CHECK_TRUE(quic_cid_table_find(&t, cid, 0) == NULL);
	CHECK_TRUE(quic_cid_table_remove(&t, cid, 21) == -ENOENT);
	CHECK_TRUE(quic_cid_table_insert(&t, cid, 20, &v) == 0);
	CHECK_TRUE(quic_cid_table_find(&t, cid, 20) == &v);
	CHECK_TRUE(quic_cid_table_find(&t, cid, 19) == NULL); /* length is part of the key */
	quic_cid_table_free(&t);
}

int main(void)
{
	test_encoding();
	test_table_args();
	test_table_model();
	if (checks_failed) {
		fprintf(stderr, "test_cid: %d failures\n", checks_failed);
		return 1;
	}
	printf("test_cid: ok\n");
	return 0;
}
