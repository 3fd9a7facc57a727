/* cid: server CID encoding and the CID -> connection table (see cid.h). */
#include "cid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define QUIC_CID_CONFIG_ID 0u

int quic_cid_encode(uint8_t *cid, unsigned worker, const uint8_t *nonce)
{
	if (worker >= QUIC_CID_MAX_WORKERS)
		return -EINVAL;
	cid[0] = (uint8_t)(QUIC_CID_CONFIG_ID << 5 | (QUIC_CID_LEN - 1));
	cid[1] = (uint8_t)(worker >> 8);
	cid[2] = (uint8_t)worker;
	memcpy(cid + 3, nonce, QUIC_CID_NONCE_LEN);
	return 0;
}

int quic_cid_owner(const uint8_t *cid, size_t len)
{
	if (len != QUIC_CID_LEN || cid[0] != (uint8_t)(QUIC_CID_CONFIG_ID << 5 | (QUIC_CID_LEN - 1)))
		return -EINVAL;
	return cid[1] << 8 | cid[2];
}

static size_t hash(const struct quic_cid_table *t, const uint8_t *cid, size_t len)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, cid, len, t->key);
	return (size_t)h;
}

static int alloc_slots(struct quic_cid_table *t, size_t cap)
{
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = cap - 1;
	t->count = 0;
	return 0;
}

int quic_cid_table_init(struct quic_cid_table *t, size_t expected,
                        const uint8_t key[QUIC_CID_HASH_KEY_LEN])
{
	size_t cap = 16;

	memset(t, 0, sizeof(*t));
	if (sodium_init() < 0)
		return -EIO;
	while (cap < expected * 2 && cap < ((size_t)1 << 30))
		cap <<= 1;
	memcpy(t->key, key, QUIC_CID_HASH_KEY_LEN);
	return alloc_slots(t, cap);
}

void quic_cid_table_free(struct quic_cid_table *t)
{
	free(t->slots);
	sodium_memzero(t->key, sizeof(t->key));
	memset(t, 0, sizeof(*t));
}

static struct quic_cid_slot *lookup(const struct quic_cid_table *t, const uint8_t *cid,
                                    size_t len, size_t *idx)
{
	size_t i = hash(t, cid, len) & t->mask;

	for (;; i = (i + 1) & t->mask) {
		struct quic_cid_slot *s = &t->slots[i];

		if (s->len == 0) {
			*idx = i;
			return NULL;
		}
		if (s->len == len && memcmp(s->data, cid, len) == 0) {
			*idx = i;
			return s;
		}
	}
}

void *quic_cid_table_find(const struct quic_cid_table *t, const uint8_t *cid, size_t len)
{
	struct quic_cid_slot *s;
	size_t i;

	if (len == 0 || len > QUIC_CID_MAX_LEN)
		return NULL;
	s = lookup(t, cid, len, &i);
	return s ? s->val : NULL;
}

static int grow(struct quic_cid_table *t)
{
	struct quic_cid_slot *old = t->slots;
	size_t oldcap = t->mask + 1, i;
	int rc;

	rc = alloc_slots(t, oldcap * 2);
	if (rc < 0) {
		t->slots = old;
		t->mask = oldcap - 1;
		return rc;
	}
	for (i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].len == 0)
			continue;
		lookup(t, old[i].data, old[i].len, &j);
		t->slots[j] = old[i];
		t->count++;
	}
	free(old);
	return 0;
}

int quic_cid_table_insert(struct quic_cid_table *t, const uint8_t *cid, size_t len, void *val)
{
	size_t i;

	if (len == 0 || len > QUIC_CID_MAX_LEN || !val)
		return -EINVAL;
	if (lookup(t, cid, len, &i))
		return -EEXIST;
	if ((t->count + 1) * 2 > t->mask + 1) {
		int rc = grow(t);
		if (rc < 0)
			return rc;
		lookup(t, cid, len, &i);
	}
	t->slots[i].len = (uint8_t)len;
	memcpy(t->slots[i].data, cid, len);
	t->slots[i].val = val;
	t->count++;
	return 0;
}

int quic_cid_table_remove(struct quic_cid_table *t, const uint8_t *cid, size_t len)
{
	size_t i, j;

	if (len == 0 || len > QUIC_CID_MAX_LEN || !lookup(t, cid, len, &i))
		return -ENOENT;
	/* Backward-shift deletion (Knuth 6.4, algorithm R): move later members
	 * of the probe run into the hole unless they already sit at or after
	 * their home slot in cyclic order past the hole. No tombstones. */
	for (j = i;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (t->slots[j].len == 0)
			break;
		home = hash(t, t->slots[j].data, t->slots[j].len) & t->mask;
		/* Leave slot j alone when home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->count--;
	return 0;
}
