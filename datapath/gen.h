/* Config generations (ARCHITECTURE.md principle 4).
 *
 * The control thread builds an immutable generation and publishes a
 * pointer to it. Each worker picks up the current pointer at the top of its
 * loop turn and then announces the id it now holds. A retired generation is
 * freed by the control thread once every worker announced a newer id, so a
 * reload never pauses a worker and a worker never reads freed memory.
 *
 * Threads: gen_publish / gen_collect / gen_pub_destroy on the control
 * thread only; gen_acquire / gen_worker_leave on worker `w` only.
 */
#ifndef RG_GEN_H
#define RG_GEN_H

#include <stdatomic.h>
#include <stdint.h>

struct rg_config;

struct gen {
	uint64_t id;                   /* set by gen_publish, increasing from 1 */
	const struct rg_config *cfg;   /* owned by the generation */
	void *priv;                    /* data derived from cfg by its builder */
	void (*destroy)(struct gen *); /* frees cfg, priv and the gen itself */
	struct gen *retired_next;      /* control thread's list */
};

/* One worker's announcement, alone on its cache line. */
struct gen_slot {
	_Alignas(64) _Atomic uint64_t held;
};

struct gen_pub {
	_Atomic(struct gen *) current;
	uint64_t next_id;
	unsigned n_workers;
	struct gen_slot *slots;
	struct gen *retired; /* newest first */
	unsigned n_retired;
};

RG_MUST_CHECK int gen_pub_init(struct gen_pub *p, unsigned n_workers);
/* Frees the current and every retired generation: call after the workers stopped. */
void gen_pub_destroy(struct gen_pub *p);

/* Publish g as current; the previous one is retired. Returns g->id. */
uint64_t gen_publish(struct gen_pub *p, struct gen *g);
/* Free the retired generations no worker holds any more. Returns how many
 * are still waiting. */
unsigned gen_collect(struct gen_pub *p);

/* Worker w: make *cur the current generation. Returns 1 when it changed. */
static inline int gen_acquire(struct gen_pub *p, unsigned w, struct gen **cur)
{
	struct gen *g = atomic_load_explicit(&p->current, memory_order_acquire);
	if (g == *cur)
		return 0;
	*cur = g;
	/* Release: every read of the older generation happens before this. */
	atomic_store_explicit(&p->slots[w].held, g ? g->id : 0, memory_order_release);
	return 1;
}

/* Worker w stopped: it holds nothing and never will again. */
static inline void gen_worker_leave(struct gen_pub *p, unsigned w)
{
	atomic_store_explicit(&p->slots[w].held, UINT64_MAX, memory_order_release);
}

#endif
