/* replay: RFC 6479 window. Bit b of counter c lives in ring word
 * (c / 64) % REPLAY_WORDS at bit c % 64. Words of counters above the
 * highest are zero: every word the highest counter enters is cleared
 * first, which also forgets the counters that fell out of the window. */
#include "datapath/tunnel/replay.h"

#include <string.h>

#include "datapath/tunnel/tunnel_const.h"

_Static_assert(REPLAY_WINDOW % 64 == 0, "the window is whole words");
_Static_assert(REPLAY_WINDOW >= 2048, "at least 2048 counters");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static unsigned word_of(uint64_t c)
{
	/* REPLAY_WORDS is 33, not a power of two: the compiler turns the
	 * constant modulo into a multiply, cheaper than a wider ring. */
	return (unsigned)((c >> 6) % REPLAY_WORDS);
}

enum replay_verdict replay_check(const struct replay *r, uint64_t c)
{
	if (c >= REJECT_AFTER_MESSAGES)
		return REPLAY_LIMIT;
	if (r->next == 0 || c >= r->next)
		return REPLAY_OK; /* above everything seen */
	uint64_t highest = r->next - 1;
	if (highest - c > REPLAY_WINDOW)
		return REPLAY_TOO_OLD;
	if (r->bitmap[word_of(c)] >> (c & 63) & 1)
		return REPLAY_DUPLICATE;
	return REPLAY_OK;
}

enum replay_verdict replay_update(struct replay *r, uint64_t c)
{
	enum replay_verdict v = replay_check(r, c);
	if (v != REPLAY_OK)
		return v;
	if (c >= r->next) {
		/* Move the top: clear the words between the old highest
		 * counter's word (exclusive) and c's word (inclusive); all of
		 * them when c jumps a whole ring ahead. Before the first
		 * counter the ring is already zero. */
		if (r->next) {
			uint64_t from = (r->next - 1) >> 6, to = c >> 6;
			uint64_t n = to - from;
			if (n > REPLAY_WORDS)
				n = REPLAY_WORDS;
			for (uint64_t i = 1; i <= n; i++)
				r->bitmap[(from + i) % REPLAY_WORDS] = 0;
		}
		r->next = c + 1;
	}
	r->bitmap[word_of(c)] |= 1ULL << (c & 63);
	return REPLAY_OK;
}

const char *replay_verdict_name(enum replay_verdict v)
{
	switch (v) {
	case REPLAY_OK:
		return "ok";
	case REPLAY_DUPLICATE:
		return "duplicate";
	case REPLAY_TOO_OLD:
		return "too_old";
	case REPLAY_LIMIT:
		return "counter_limit";
	}
	return "?";
}
