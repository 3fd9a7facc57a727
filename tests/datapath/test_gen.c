/* Generation hand-over between threads: workers keep reading the generation
 * they hold while the control thread publishes and collects as fast as it
 * can. Under ASan a use after free or a leak fails the test; the counts
 * check that every retired generation is freed once, and only after every
 * worker moved past it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/gen.h"

#define WORKERS 4
#define GENERATIONS 20000
#define PAYLOAD 64

struct payload {
	uint64_t id;
	uint64_t words[PAYLOAD];
};

static _Atomic uint64_t destroyed;
static _Atomic bool done;
static struct gen_pub pub;

static void destroy(struct gen *g)
{
	struct payload *p = g->priv;
	/* poison so a late reader would see a mismatch even without ASan */
	memset(p, 0xa5, sizeof(*p));
	free(p);
	free(g);
	atomic_fetch_add(&destroyed, 1);
}

static struct gen *make(uint64_t seq)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct payload *p = malloc(sizeof(*p));
	p->id = seq;
	for (int i = 0; i < PAYLOAD; i++)
		p->words[i] = seq * 31 + (uint64_t)i;
	g->priv = p;
	g->destroy = destroy;
	return g;
}

static _Atomic uint64_t bad_reads, switches;

static void *worker(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg;
	struct gen *cur = NULL;
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		if (gen_acquire(&pub, w, &cur))
			atomic_fetch_add_explicit(&switches, 1, memory_order_relaxed);
		if (!cur)
			continue;
		const struct payload *p = cur->priv;
		/* read the whole generation, as a worker reads routes and peers */
		for (int i = 0; i < PAYLOAD; i++)
			if (p->words[i] != p->id * 31 + (uint64_t)i)
				atomic_fetch_add(&bad_reads, 1);
	}
	gen_worker_leave(&pub, w);
	return NULL;
}

int main(void)
{
	if (gen_pub_init(&pub, WORKERS))
		return 1;
	gen_publish(&pub, make(0));
	pthread_t t[WORKERS];
	for (unsigned i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);

	unsigned max_waiting = 0;
	for (uint64_t s = 1; s <= GENERATIONS; s++) {
		gen_publish(&pub, make(s));
		unsigned waiting = gen_collect(&pub);
		if (waiting > max_waiting)
			max_waiting = waiting;
	}
	atomic_store(&done, true);
	for (unsigned i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	/* every worker left: all retired generations go now */
	unsigned left = gen_collect(&pub);
	uint64_t freed = atomic_load(&destroyed);
	gen_pub_destroy(&pub);

	printf("published %d, retired and freed %llu, most waiting %u, worker switches %llu\n",
	       GENERATIONS + 1, (unsigned long long)freed, max_waiting,
	       (unsigned long long)atomic_load(&switches));
	int fail = 0;
	if (atomic_load(&bad_reads)) {
		printf("FAIL: %llu reads saw a freed or foreign generation\n",
		       (unsigned long long)atomic_load(&bad_reads));
		fail = 1;
	}
	if (left != 0) {
		printf("FAIL: %u generations still retired after every worker left\n", left);
		fail = 1;
	}
	if (freed != GENERATIONS) {
		printf("FAIL: %llu of %d retired generations freed\n", (unsigned long long)freed, GENERATIONS);
		fail = 1;
	}
	if (atomic_load(&destroyed) != GENERATIONS + 1) {
		printf("FAIL: destroy count %llu, want %d\n", (unsigned long long)atomic_load(&destroyed),
		       GENERATIONS + 1);
		fail = 1;
	}
	return fail;
}
