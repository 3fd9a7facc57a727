#include "ring/twheel.h"

#include <stddef.h>
#include <string.h>

#define MASK (TWHEEL_SLOTS - 1)

void twheel_init(struct twheel *tw, uint64_t now)
{
	memset(tw, 0, sizeof(*tw));
	tw->tick = now >> TWHEEL_TICK_SHIFT;
}

static void link_into(struct twheel *tw, unsigned level, unsigned slot, struct twheel_timer *t)
{
	struct twheel_timer **head = &tw->slots[level][slot];
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
	tw->bitmap[level] |= 1ull << slot;
}

static void place(struct twheel *tw, struct twheel_timer *t)
{
	uint64_t tick = t->deadline >> TWHEEL_TICK_SHIFT;
	if (tick < tw->tick)
		tick = tw->tick; /* overdue: the current slot */
	unsigned level;
	for (level = 0; level < TWHEEL_LEVELS - 1; level++)
		if ((tick >> (TWHEEL_BITS * (level + 1))) == (tw->tick >> (TWHEEL_BITS * (level + 1))))
			break;
	unsigned slot = (unsigned)(tick >> (TWHEEL_BITS * level)) & MASK;
	link_into(tw, level, slot, t);
}

static void unlink_timer(struct twheel *tw, struct twheel_timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	/* clear the slot's bit when it became empty: find the slot by address */
	struct twheel_timer **head = t->pprev;
	if (!*head) {
		for (unsigned l = 0; l < TWHEEL_LEVELS; l++) {
			struct twheel_timer **base = tw->slots[l];
			if (head >= base && head < base + TWHEEL_SLOTS) {
				tw->bitmap[l] &= ~(1ull << (head - base));
				break;
			}
		}
	}
	t->next = NULL;
	t->pprev = NULL;
}

void twheel_add(struct twheel *tw, struct twheel_timer *t, uint64_t deadline)
{
	if (deadline == RG_NO_DEADLINE) {
		/* nothing to wait for: an entry would only sit in the top
		 * level being placed again every turn of the wheel */
		twheel_del(tw, t);
		return;
	}
	if (t->pprev) {
		/* the earliest timer moving later: the minimum is unknown */
		if (tw->min_ok && t->deadline == tw->min && deadline > t->deadline)
			tw->min_ok = false;
		unlink_timer(tw, t);
	} else {
		tw->count++;
	}
	if (tw->min_ok && deadline < tw->min)
		tw->min = deadline;
	t->deadline = deadline;
	place(tw, t);
}

void twheel_del(struct twheel *tw, struct twheel_timer *t)
{
	if (!t->pprev)
		return;
	if (tw->min_ok && t->deadline == tw->min)
		tw->min_ok = false;
	unlink_timer(tw, t);
	tw->count--;
}

static uint64_t slot_min(struct twheel_timer *t)
{
	uint64_t m = RG_NO_DEADLINE;
	for (; t; t = t->next)
		if (t->deadline < m)
			m = t->deadline;
	return m;
}

static uint64_t earliest(const struct twheel *tw)
{
	/* Levels below the top hold only timers of the current block of the
	 * level above, at or after the current slot: the first occupied slot
	 * from the current one holds the earliest. */
	for (unsigned l = 0; l < TWHEEL_LEVELS - 1; l++) {
		unsigned cur = (unsigned)(tw->tick >> (TWHEEL_BITS * l)) & MASK;
		uint64_t bits = tw->bitmap[l] & (~0ull << cur);
		if (bits)
			return slot_min(tw->slots[l][__builtin_ctzll(bits)]);
		if (tw->bitmap[l]) /* slots before cur: overdue timers cannot be there */
			return slot_min(tw->slots[l][__builtin_ctzll(tw->bitmap[l])]);
	}
	/* the top level may wrap around: look at all of it */
	uint64_t m = RG_NO_DEADLINE;
	for (uint64_t bits = tw->bitmap[TWHEEL_LEVELS - 1]; bits; bits &= bits - 1) {
		uint64_t s = slot_min(tw->slots[TWHEEL_LEVELS - 1][__builtin_ctzll(bits)]);
		if (s < m)
			m = s;
	}
	return m;
}

uint64_t twheel_next_deadline(struct twheel *tw)
{
	if (!tw->count)
		return RG_NO_DEADLINE;
	/* A slot may hold thousands of timers (every idle tunnel session's
	 * keepalive): walk it once, then keep the answer until the earliest
	 * timer fires, is deleted or moves later. */
	if (!tw->min_ok) {
		tw->min = earliest(tw);
		tw->min_ok = true;
	}
	return tw->min;
}

/* Move every timer of a higher-level slot to where it belongs now. */
static void cascade(struct twheel *tw, unsigned level)
{
	unsigned slot = (unsigned)(tw->tick >> (TWHEEL_BITS * level)) & MASK;
	struct twheel_timer *t = tw->slots[level][slot];
	tw->slots[level][slot] = NULL;
	tw->bitmap[level] &= ~(1ull << slot);
	while (t) {
		struct twheel_timer *next = t->next;
		place(tw, t);
		t = next;
	}
}

unsigned twheel_advance(struct twheel *tw, uint64_t now, twheel_fn fn, void *ctx)
{
	uint64_t now_tick = now >> TWHEEL_TICK_SHIFT;
	unsigned fired = 0;
	for (;;) {
		unsigned slot = (unsigned)tw->tick & MASK;
		while (tw->slots[0][slot]) {
			struct twheel_timer *t = tw->slots[0][slot];
			unlink_timer(tw, t);
			if (t->deadline > now) {
				/* due later in this tick: held aside (still armed, so a
				 * callback may delete it) and placed again at the end */
				t->next = tw->later;
				if (tw->later)
					tw->later->pprev = &t->next;
				tw->later = t;
				t->pprev = &tw->later;
				continue;
			}
			tw->count--;
			fired++;
			if (tw->min_ok && t->deadline == tw->min)
				tw->min_ok = false;
			fn(ctx, t, now);
		}
		if (tw->tick >= now_tick)
			break;
		if (!tw->count) {
			tw->tick = now_tick; /* nothing armed: jump */
			break;
		}
		/* skip the empty rest of the block in one step */
		uint64_t rest = tw->bitmap[0] & (~0ull << slot);
		uint64_t block_end = tw->tick | MASK;
		if (!rest && block_end < now_tick)
			tw->tick = block_end;
		tw->tick++;
		for (unsigned l = TWHEEL_LEVELS - 1; l >= 1; l--)
			if (!(tw->tick & ((1ull << (TWHEEL_BITS * l)) - 1)))
				cascade(tw, l);
	}
	while (tw->later) {
		struct twheel_timer *t = tw->later;
		tw->later = t->next;
		if (tw->later)
			tw->later->pprev = &tw->later;
		place(tw, t);
	}
	return fired;
}
