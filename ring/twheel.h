/* A hierarchical timer wheel per worker. No clock is read here: `now` is
 * passed in (ring_now() nanoseconds), so tests run on fake time.
 *
 * Four levels of 64 slots; a tick is 2^20 ns (about 1 ms). A timer sits in
 * level 0 when it falls in the current 64-tick block, level 1 when in the
 * current 4096-tick block, and so on; a slot of a higher level is cascaded
 * down when the wheel enters its block. Timers beyond the top level's reach
 * (about 4.9 hours) wait in the top level and are placed again as it turns.
 *
 * A timer fires at the first advance with now >= deadline; deadlines are
 * kept exactly (ticks only place timers). twheel_next_deadline() is the
 * earliest deadline, never later than the true one, for arming the ring's
 * single timeout. Timers are intrusive: no allocation. */
#ifndef RG_TWHEEL_H
#define RG_TWHEEL_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/ring.h" /* RG_NO_DEADLINE */

#define TWHEEL_LEVELS 4
#define TWHEEL_BITS 6
#define TWHEEL_SLOTS (1u << TWHEEL_BITS)
#define TWHEEL_TICK_SHIFT 20

struct twheel_timer {
	struct twheel_timer *next, **pprev; /* pprev NULL: not armed */
	uint64_t deadline;
};

struct twheel {
	uint64_t tick; /* current tick: deadlines up to it have fired */
	uint64_t bitmap[TWHEEL_LEVELS];
	struct twheel_timer *slots[TWHEEL_LEVELS][TWHEEL_SLOTS];
	struct twheel_timer *later; /* during advance: this tick, after now */
	unsigned count;
	uint64_t min;               /* earliest deadline, when min_ok */
	bool min_ok;
};

typedef void (*twheel_fn)(void *ctx, struct twheel_timer *t, uint64_t now);

void twheel_init(struct twheel *tw, uint64_t now);
/* Arm t for `deadline`; an armed timer is moved. A deadline in the past
 * fires at the next advance; RG_NO_DEADLINE disarms (as twheel_del). */
void twheel_add(struct twheel *tw, struct twheel_timer *t, uint64_t deadline);
void twheel_del(struct twheel *tw, struct twheel_timer *t);
static inline bool twheel_armed(const struct twheel_timer *t) { return t->pprev != 0; }
/* Earliest deadline, RG_NO_DEADLINE when no timer is armed. Remembered until
 * the earliest timer fires, is deleted or moves later, so asking every
 * loop turn costs O(1) however many timers share a slot. */
uint64_t twheel_next_deadline(struct twheel *tw);
/* Fire every timer with deadline <= now, in deadline order within a tick.
 * A callback may add or delete any timer. Returns how many fired. */
unsigned twheel_advance(struct twheel *tw, uint64_t now, twheel_fn fn, void *ctx);

#endif
