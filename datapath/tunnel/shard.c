/* shard: owner map and hand-off rings shared by the workers (shard.h). */
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

/* Byte offsets run freely (mod 2^32); a record is an 8-byte header (its
 * length, or SKIP: the rest of the ring up to its end is unused) and the
 * bytes, padded to 8 so headers stay aligned. Records never wrap. */
#define SKIP UINT32_MAX

struct handoff {
	_Alignas(64) _Atomic uint32_t head; /* consumer's */
	_Alignas(64) _Atomic uint32_t tail; /* producer's */
	_Alignas(64) _Atomic uint32_t signalled;
	uint8_t *data;
};

struct tunnel_shard {
	unsigned n;
	uint32_t size, mask;
	struct handoff *rings; /* n * n, [from * n + to] */
	uint8_t *ring_mem;
	struct owner_slot *slots;
	uint32_t slot_mask;
	_Atomic(void *) *ctx; /* n */
	pthread_mutex_t mu;
};

int tunnel_shard_create(unsigned n_workers, unsigned peers, size_t ring_bytes, struct tunnel_shard **out)
{
	if (!n_workers || ring_bytes < 4096 || ring_bytes > (1u << 30))
		return -EINVAL;
	struct tunnel_shard *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n_workers;
	s->size = 4096;
	while (s->size < ring_bytes)
		s->size <<= 1;
	s->mask = s->size - 1;
	uint32_t slots = 64;
	while (slots < 2 * (uint64_t)peers)
		slots <<= 1;
	s->slot_mask = slots - 1;
	s->rings = aligned_alloc(64, sizeof(*s->rings) * n_workers * n_workers);
	/* calloc: pages of rings never used (the diagonal, idle pairs) are
	 * never touched */
	s->ring_mem = calloc((size_t)n_workers * n_workers, s->size);
	s->slots = calloc(slots, sizeof(*s->slots));
	s->ctx = calloc(n_workers, sizeof(*s->ctx));
	if (!s->rings || !s->ring_mem || !s->slots || !s->ctx) {
		free(s->ctx);
		free(s->rings);
		free(s->ring_mem);
		free(s->slots);
		free(s);
		return -ENOMEM;
	}
	memset(s->rings, 0, sizeof(*s->rings) * n_workers * n_workers);
	for (unsigned i = 0; i < n_workers * n_workers; i++)
		s->rings[i].data = s->ring_mem + (size_t)i * s->size;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void tunnel_shard_destroy(struct tunnel_shard *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->ctx);
	free(s->rings);
	free(s->ring_mem);
	free(s->slots);
	free(s);
}

unsigned tunnel_shard_workers(const struct tunnel_shard *s)
{
	return s->n;
}

void tunnel_shard_set_ctx(struct tunnel_shard *s, unsigned worker, void *ctx)
{
	if (worker < s->n)
		atomic_store_explicit(&s->ctx[worker], ctx, memory_order_release);
}

void *tunnel_shard_ctx(const struct tunnel_shard *s, unsigned worker)
{
	return worker < s->n ? atomic_load_explicit(&s->ctx[worker], memory_order_acquire) : NULL;
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

static struct handoff *pair(struct tunnel_shard *s, unsigned from, unsigned to)
{
	return &s->rings[from * s->n + to];
}

static uint32_t rec_size(size_t len)
{
	return 8 + (uint32_t)((len + 7) & ~(size_t)7);
}

int tunnel_shard_push(struct tunnel_shard *s, unsigned from, unsigned to, const uint8_t *p, size_t len)
{
	if (from >= s->n || to >= s->n || from == to)
		return -EINVAL;
	if (len > s->size / 4)
		return -EMSGSIZE;
	struct handoff *h = pair(s, from, to);
	uint32_t t = atomic_load_explicit(&h->tail, memory_order_relaxed);
	uint32_t hd = atomic_load_explicit(&h->head, memory_order_acquire);
	uint32_t need = rec_size(len), pos = t & s->mask, to_end = s->size - pos;
	uint32_t free_bytes = s->size - (t - hd);
	if (need > to_end) {
		if (free_bytes < to_end + need)
			return -ENOBUFS;
		uint32_t skip = SKIP;
		memcpy(h->data + pos, &skip, 4);
		t += to_end;
		free_bytes -= to_end;
		pos = 0;
	}
	if (free_bytes < need)
		return -ENOBUFS;
	uint32_t l32 = (uint32_t)len;
	memcpy(h->data + pos, &l32, 4);
	memcpy(h->data + pos + 8, p, len);
	atomic_store_explicit(&h->tail, t + need, memory_order_release);
	/* Store-buffer pattern against the consumer's ack: our tail store
	 * must be visible before we read `signalled`, and its signalled store
	 * before it reads the tail (shard.h: no lost wake-up). The fences, not
	 * the release/acquire pair, give that order. */
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_exchange(&h->signalled, 1) == 0 ? 1 : 0;
}

void tunnel_shard_ack(struct tunnel_shard *s, unsigned from, unsigned to)
{
	atomic_store(&pair(s, from, to)->signalled, 0);
	atomic_thread_fence(memory_order_seq_cst); /* before the tail is read (push) */
}

uint8_t *tunnel_shard_peek(struct tunnel_shard *s, unsigned from, unsigned to, size_t *len)
{
	struct handoff *h = pair(s, from, to);
	for (;;) {
		uint32_t hd = atomic_load_explicit(&h->head, memory_order_relaxed);
		uint32_t t = atomic_load_explicit(&h->tail, memory_order_acquire);
		if (hd == t)
			return NULL;
		uint32_t pos = hd & s->mask, l32;
		memcpy(&l32, h->data + pos, 4);
		if (l32 == SKIP) {
			atomic_store_explicit(&h->head, hd + (s->size - pos), memory_order_release);
			continue;
		}
		*len = l32;
		return h->data + pos + 8;
	}
}

void tunnel_shard_pop(struct tunnel_shard *s, unsigned from, unsigned to)
{
	struct handoff *h = pair(s, from, to);
	uint32_t hd = atomic_load_explicit(&h->head, memory_order_relaxed), l32;
	memcpy(&l32, h->data + (hd & s->mask), 4);
	atomic_store_explicit(&h->head, hd + rec_size(l32), memory_order_release);
}
