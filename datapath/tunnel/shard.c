/* shard: the owner map shared by the workers (shard.h). */
#include "datapath/tunnel/shard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_READY = 2 };

struct owner_slot {
	_Atomic uint32_t state; /* written under the mutex, read with acquire */
	_Atomic int32_t owner;
	uint8_t key[32];
};

struct tunnel_shard {
	unsigned n;
	struct owner_slot *slots;
	uint32_t slot_mask;
	pthread_mutex_t mu;
};

int tunnel_shard_create(unsigned n_workers, unsigned peers, size_t ring_bytes, struct tunnel_shard **out)
{
	(void)ring_bytes; /* the hand-off rings moved to datapath/handoff.h */
	if (!n_workers)
		return -EINVAL;
	struct tunnel_shard *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n_workers;
	uint32_t slots = 64;
	while (slots < 2 * (uint64_t)peers)
		slots <<= 1;
	s->slot_mask = slots - 1;
	s->slots = calloc(slots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void tunnel_shard_destroy(struct tunnel_shard *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->slots);
	free(s);
}

unsigned tunnel_shard_workers(const struct tunnel_shard *s)
{
	return s->n;
}

/* Public keys are Curve25519 points chosen by key generation: their bytes
 * are uniform, so the first eight are a fine hash. Only configured
 * (authorized) keys are ever inserted. */
static uint32_t key_hash(const uint8_t *key)
{
	uint64_t h;
	memcpy(&h, key, sizeof(h));
	return (uint32_t)(h ^ h >> 32);
}

static struct owner_slot *find(const struct tunnel_shard *s, const uint8_t key[32], bool *empty_at)
{
	uint32_t i = key_hash(key) & s->slot_mask;
	for (uint32_t probes = 0; probes <= s->slot_mask; probes++, i = (i + 1) & s->slot_mask) {
		struct owner_slot *o = &s->slots[i];
		if (atomic_load_explicit(&o->state, memory_order_acquire) != SLOT_READY) {
			*empty_at = true;
			return o;
		}
		if (!memcmp(o->key, key, 32)) {
			*empty_at = false;
			return o;
		}
	}
	*empty_at = false;
	return NULL;
}

int tunnel_shard_owner(const struct tunnel_shard *s, const uint8_t key[32])
{
	bool empty;
	struct owner_slot *o = find(s, key, &empty);
	if (!o || empty)
		return -1;
	return atomic_load_explicit(&o->owner, memory_order_relaxed);
}

static int claim(struct tunnel_shard *s, const uint8_t key[32], unsigned worker, bool only_if_free)
{
	bool empty;
	struct owner_slot *o = find(s, key, &empty);
	if (o && !empty) {
		int cur = atomic_load_explicit(&o->owner, memory_order_relaxed);
		if (cur == (int)worker || (only_if_free && cur >= 0))
			return cur;
		atomic_store_explicit(&o->owner, (int32_t)worker, memory_order_relaxed);
		return (int)worker;
	}
	/* A new key: inserts are serialized; readers see the slot only once
	 * its key and owner are written (release of SLOT_READY). */
	pthread_mutex_lock(&s->mu);
	o = find(s, key, &empty);
	int ret;
	if (!o) {
		ret = -ENOSPC;
	} else if (!empty) {
		int cur = atomic_load_explicit(&o->owner, memory_order_relaxed);
		if (!(only_if_free && cur >= 0))
			atomic_store_explicit(&o->owner, (int32_t)worker, memory_order_relaxed);
		ret = atomic_load_explicit(&o->owner, memory_order_relaxed);
	} else {
		memcpy(o->key, key, 32);
		atomic_store_explicit(&o->owner, (int32_t)worker, memory_order_relaxed);
		atomic_store_explicit(&o->state, SLOT_READY, memory_order_release);
		ret = (int)worker;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

int tunnel_shard_claim(struct tunnel_shard *s, const uint8_t key[32], unsigned worker)
{
	int r = claim(s, key, worker, false);
	return r < 0 ? r : 0;
}

int tunnel_shard_claim_if_free(struct tunnel_shard *s, const uint8_t key[32], unsigned worker)
{
	return claim(s, key, worker, true);
}

unsigned tunnel_shard_designated(const struct tunnel_shard *s, const uint8_t key[32])
{
	/* other bytes than the map's hash: designation and slot independent */
	return key_hash(key + 8) % s->n;
}
