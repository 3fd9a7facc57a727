/* handoff: per-pair SPSC byte rings between workers (handoff.h). */
#include "datapath/handoff.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SKIP UINT32_MAX
#define HDR sizeof(struct handoff_item)
#define MAX_WORKERS 1024u

_Static_assert(sizeof(struct handoff_item) % 8 == 0, "records stay 8-aligned");

struct pair {
	_Alignas(64) _Atomic uint32_t head; /* consumer's */
	_Alignas(64) _Atomic uint32_t tail; /* producer's */
	_Alignas(64) _Atomic uint32_t signalled;
	uint8_t *data;
};

struct handoff_mesh {
	unsigned n, words;
	uint32_t size, mask;
	struct pair *pairs;             /* n * n, [from * n + to] */
	uint8_t *mem;
	_Atomic uint64_t *senders;      /* n * words: bit `from` of consumer `to` */
};

int handoff_mesh_create(unsigned n_workers, size_t ring_bytes, struct handoff_mesh **out)
{
	if (!n_workers || n_workers > MAX_WORKERS || ring_bytes < (64u << 10) || ring_bytes > (1u << 30))
		return -EINVAL;
	struct handoff_mesh *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->n = n_workers;
	m->words = (n_workers + 63) / 64;
	m->size = 64u << 10;
	while (m->size < ring_bytes)
		m->size <<= 1;
	m->mask = m->size - 1;
	size_t np = (size_t)n_workers * n_workers;
	m->pairs = aligned_alloc(64, sizeof(*m->pairs) * np);
	/* calloc: the diagonal and idle pairs are never touched */
	m->mem = calloc(np, m->size);
	m->senders = calloc((size_t)n_workers * m->words, sizeof(*m->senders));
	if (!m->pairs || !m->mem || !m->senders) {
		handoff_mesh_destroy(m);
		return -ENOMEM;
	}
	memset(m->pairs, 0, sizeof(*m->pairs) * np);
	for (size_t i = 0; i < np; i++)
		m->pairs[i].data = m->mem + i * m->size;
	*out = m;
	return 0;
}

void handoff_mesh_destroy(struct handoff_mesh *m)
{
	if (!m)
		return;
	free(m->pairs);
	free(m->mem);
	free(m->senders);
	free(m);
}

unsigned handoff_mesh_workers(const struct handoff_mesh *m)
{
	return m->n;
}

size_t handoff_max_len(const struct handoff_mesh *m)
{
	return m->size / 4 - HDR;
}

static struct pair *pair_of(struct handoff_mesh *m, unsigned from, unsigned to)
{
	return &m->pairs[(size_t)from * m->n + to];
}

static uint32_t rec_size(size_t len)
{
	return (uint32_t)(HDR + ((len + 7) & ~(size_t)7));
}

int handoff_push(struct handoff_mesh *m, unsigned from, unsigned to, enum handoff_kind kind, unsigned sock,
                 const rg_sockaddr *peer, const rg_sockaddr *local, const uint8_t *data, size_t len)
{
	if (from >= m->n || to >= m->n || from == to)
		return -EINVAL;
	if (len > handoff_max_len(m))
		return -EMSGSIZE;
	struct pair *p = pair_of(m, from, to);
	uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
	uint32_t hd = atomic_load_explicit(&p->head, memory_order_acquire);
	uint32_t need = rec_size(len), pos = t & m->mask, to_end = m->size - pos;
	uint32_t free_bytes = m->size - (t - hd);
	if (need > to_end) {
		if (free_bytes < to_end + need)
			return -ENOBUFS;
		uint32_t skip = SKIP;
		memcpy(p->data + pos, &skip, 4);
		t += to_end;
		free_bytes -= to_end;
		pos = 0;
	}
	if (free_bytes < need)
		return -ENOBUFS;
	struct handoff_item *it = (struct handoff_item *)(void *)(p->data + pos);
	it->len = (uint32_t)len;
	it->kind = (uint16_t)kind;
	it->sock = (uint16_t)sock;
	if (peer)
		it->peer = *peer;
	else
		memset(&it->peer, 0, sizeof(it->peer));
	if (local)
		it->local = *local;
	else
		memset(&it->local, 0, sizeof(it->local));
	memcpy(it->data, data, len);
	atomic_store_explicit(&p->tail, t + need, memory_order_release);
	/* Store-buffer pattern against handoff_ack: our tail store must be
	 * visible before we read `signalled`, and the consumer's clearing of
	 * it before it reads the tail; otherwise both could miss the item
	 * (no wake-up, nothing drained). The fences give that order. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_exchange(&p->signalled, 1) != 0)
		return 0;
	/* first push since the consumer's ack: name us in its set of senders
	 * before the caller posts the wake-up that makes it read the set */
	atomic_fetch_or_explicit(&m->senders[(size_t)to * m->words + from / 64], 1ull << (from % 64),
	                         memory_order_release);
	return 1;
}

unsigned handoff_senders(struct handoff_mesh *m, unsigned to, unsigned *from, unsigned cap)
{
	unsigned n = 0;
	for (unsigned w = 0; w < m->words && n < cap; w++) {
		_Atomic uint64_t *word = &m->senders[(size_t)to * m->words + w];
		if (!atomic_load_explicit(word, memory_order_relaxed))
			continue;
		uint64_t bits = atomic_exchange_explicit(word, 0, memory_order_acquire);
		for (; bits; bits &= bits - 1) {
			if (n == cap) {
				/* no room: leave the rest marked for the next call */
				atomic_fetch_or_explicit(word, bits, memory_order_relaxed);
				break;
			}
			from[n++] = w * 64 + (unsigned)__builtin_ctzll(bits);
		}
	}
	return n;
}

void handoff_ack(struct handoff_mesh *m, unsigned from, unsigned to)
{
	atomic_store(&pair_of(m, from, to)->signalled, 0);
	atomic_thread_fence(memory_order_seq_cst); /* before the tail is read (push) */
}

const struct handoff_item *handoff_peek(struct handoff_mesh *m, unsigned from, unsigned to)
{
	struct pair *p = pair_of(m, from, to);
	for (;;) {
		uint32_t hd = atomic_load_explicit(&p->head, memory_order_relaxed);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_acquire);
		if (hd == t)
			return NULL;
		uint32_t pos = hd & m->mask, l32;
		memcpy(&l32, p->data + pos, 4);
		if (l32 == SKIP) {
			atomic_store_explicit(&p->head, hd + (m->size - pos), memory_order_release);
			continue;
		}
		return (const struct handoff_item *)(const void *)(p->data + pos);
	}
}

void handoff_pop(struct handoff_mesh *m, unsigned from, unsigned to)
{
	struct pair *p = pair_of(m, from, to);
	uint32_t hd = atomic_load_explicit(&p->head, memory_order_relaxed), l32;
	memcpy(&l32, p->data + (hd & m->mask), 4);
	atomic_store_explicit(&p->head, hd + rec_size(l32), memory_order_release);
}
