/* The timer wheel on fake time, against a naive model: a flat array of
 * deadlines scanned on every step. Random adds, moves, deletes and time
 * steps from a microsecond to hours; every timer must fire exactly once, at
 * the first advance with now >= its deadline, and next_deadline must never
 * be later than the model's earliest. An add with RG_NO_DEADLINE disarms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring/twheel.h"

#define N 2000
static struct twheel tw;
static struct twheel_timer timers[N];
static uint64_t model[N]; /* 0: not armed */
static unsigned fired_now[N];
static int failures;
static unsigned no_deadline_adds;

static uint64_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ull;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static void on_fire(void *ctx, struct twheel_timer *t, uint64_t now)
{
	(void)ctx;
	unsigned i = (unsigned)(t - timers);
	if (!model[i]) {
		printf("FAIL: timer %u fired but was not armed\n", i);
		failures++;
	} else if (model[i] > now) {
		printf("FAIL: timer %u fired at %llu before its deadline %llu\n", i, (unsigned long long)now,
		       (unsigned long long)model[i]);
		failures++;
	}
	model[i] = 0;
	fired_now[i]++;
	/* callbacks may re-arm: every 7th timer re-arms itself */
	if (i % 7 == 0 && (rnd() & 1)) {
		uint64_t d = now + 1 + rnd() % 5000000000ull;
		twheel_add(&tw, t, d);
		model[i] = d;
	}
}

static uint64_t step_len(void)
{
	switch (rnd() % 6) {
	case 0: return rnd() % 1000;                       /* sub-microsecond */
	case 1: return rnd() % 2000000;                    /* up to 2 ms */
	case 2: return rnd() % 100000000;                  /* up to 100 ms */
	case 3: return rnd() % 5000000000ull;              /* up to 5 s */
	case 4: return rnd() % 600000000000ull;            /* up to 10 min */
	default: return rnd() % 36000000000000ull;         /* up to 10 h */
	}
}

int main(void)
{
	uint64_t now = 1000000000000ull;
	twheel_init(&tw, now);
	unsigned total_fired = 0;
	for (int round = 0; round < 6000 && failures < 10; round++) {
		/* a few random operations */
		for (int k = 0; k < 5; k++) {
			unsigned i = (unsigned)(rnd() % N);
			switch (rnd() % 4) {
			case 0:
			case 1: {
				uint64_t d = now + step_len();
				if (rnd() % 10 == 0 && now > 1000)
					d = now - rnd() % 1000; /* already overdue */
				twheel_add(&tw, &timers[i], d);
				model[i] = d ? d : 1;
				if (!d)
					twheel_add(&tw, &timers[i], 1);
				break;
			}
			case 2:
				twheel_del(&tw, &timers[i]);
				model[i] = 0;
				break;
			default:
				/* "no deadline" disarms, armed or not: it must
				 * neither fire nor count nor become the minimum */
				if (rnd() % 2) {
					twheel_add(&tw, &timers[i], RG_NO_DEADLINE);
					model[i] = 0;
					no_deadline_adds++;
				}
				break;
			}
			/* between changes too: the remembered minimum must
			 * follow adds, moves and deletes exactly */
			if (rnd() % 4 == 0) {
				uint64_t m = UINT64_MAX;
				for (unsigned j = 0; j < N; j++)
					if (model[j] && model[j] < m)
						m = model[j];
				if (twheel_next_deadline(&tw) != m) {
					printf("FAIL round %d: next_deadline %llu after a change, earliest %llu\n", round,
					       (unsigned long long)twheel_next_deadline(&tw), (unsigned long long)m);
					failures++;
				}
			}
		}
		/* the wheel's next deadline is the true one (exact, and never
		 * later, which would miss a timer) */
		uint64_t earliest = UINT64_MAX;
		for (unsigned i = 0; i < N; i++)
			if (model[i] && model[i] < earliest)
				earliest = model[i];
		uint64_t next = twheel_next_deadline(&tw);
		if (next != earliest) {
			printf("FAIL round %d: next_deadline %llu, earliest %llu\n", round,
			       (unsigned long long)next, (unsigned long long)earliest);
			failures++;
		}
		/* step time: sometimes exactly to the next deadline */
		uint64_t to = (rnd() % 3 == 0 && earliest != UINT64_MAX) ? earliest : now + step_len();
		if (to < now)
			to = now;
		uint64_t expect[N];
		memcpy(expect, model, sizeof(model));
		memset(fired_now, 0, sizeof(fired_now));
		now = to;
		total_fired += twheel_advance(&tw, now, on_fire, NULL);
		for (unsigned i = 0; i < N; i++) {
			bool due = expect[i] && expect[i] <= now;
			if (due && fired_now[i] == 0) {
				printf("FAIL round %d: timer %u due at %llu did not fire by %llu\n", round, i,
				       (unsigned long long)expect[i], (unsigned long long)now);
				failures++;
			}
			if (!due && fired_now[i]) {
				printf("FAIL round %d: timer %u fired though not due\n", round, i);
				failures++;
			}
			if (fired_now[i] > 1) {
				printf("FAIL round %d: timer %u fired %u times\n", round, i, fired_now[i]);
				failures++;
			}
		}
		unsigned armed = 0;
		for (unsigned i = 0; i < N; i++)
			armed += model[i] != 0;
		if (armed != tw.count) {
			printf("FAIL round %d: wheel counts %u timers, model %u\n", round, tw.count, armed);
			failures++;
		}
	}
	printf("twheel: %u timers fired over %llu s of fake time, %u RG_NO_DEADLINE adds%s\n", total_fired,
	       (unsigned long long)(now / 1000000000ull), no_deadline_adds, failures ? " - FAILED" : "");
	return failures ? 1 : 0;
}
