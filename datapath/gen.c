#include "datapath/gen.h"

#include <errno.h>
#include <stdlib.h>

int gen_pub_init(struct gen_pub *p, unsigned n_workers)
{
	p->slots = aligned_alloc(64, sizeof(*p->slots) * (n_workers ? n_workers : 1));
	if (!p->slots)
		return -ENOMEM;
	for (unsigned i = 0; i < n_workers; i++)
		atomic_init(&p->slots[i].held, 0);
	atomic_init(&p->current, NULL);
	p->next_id = 1;
	p->n_workers = n_workers;
	p->retired = NULL;
	p->n_retired = 0;
	return 0;
}

static void destroy(struct gen *g)
{
	if (g && g->destroy)
		g->destroy(g);
}

void gen_pub_destroy(struct gen_pub *p)
{
	while (p->retired) {
		struct gen *g = p->retired;
		p->retired = g->retired_next;
		destroy(g);
	}
	destroy(atomic_exchange(&p->current, NULL));
	free(p->slots);
	p->slots = NULL;
}

uint64_t gen_publish(struct gen_pub *p, struct gen *g)
{
	g->id = p->next_id++;
	g->retired_next = NULL;
	struct gen *old = atomic_exchange_explicit(&p->current, g, memory_order_acq_rel);
	if (old) {
		old->retired_next = p->retired;
		p->retired = old;
		p->n_retired++;
	}
	return g->id;
}

unsigned gen_collect(struct gen_pub *p)
{
	/* A worker holds exactly the generation whose id it announced, and it
	 * announces only after switching; so anything older than the smallest
	 * announcement is held by nobody. A worker that has not announced yet
	 * holds 0, which keeps everything alive, as it must: it may be
	 * between loading `current` and announcing. */
	uint64_t min = UINT64_MAX;
	for (unsigned i = 0; i < p->n_workers; i++) {
		uint64_t h = atomic_load_explicit(&p->slots[i].held, memory_order_acquire);
		if (h < min)
			min = h;
	}
	struct gen **link = &p->retired;
	while (*link) {
		struct gen *g = *link;
		if (g->id < min) {
			*link = g->retired_next;
			p->n_retired--;
			destroy(g);
		} else {
			link = &g->retired_next;
		}
	}
	return p->n_retired;
}
