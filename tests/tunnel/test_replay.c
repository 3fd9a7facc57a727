/* replay: table-driven sequences (in order, duplicates, far ahead, too old,
 * the window edge, wrap of the ring words, the counter limit), then a
 * differential test against a naive model: the set of every counter ever
 * accepted plus the highest one, with the paper's rule written plainly. */
#include "datapath/tunnel/replay.h"
#include "datapath/tunnel/tunnel_const.h"
#include "tests/tunnel/check.h"

struct step {
	uint64_t counter;
	enum replay_verdict want;
};

#define W REPLAY_WINDOW
#define LIMIT REJECT_AFTER_MESSAGES
#define END {0, (enum replay_verdict)99}

struct seq {
	const char *name;
	struct step steps[16];
};

static const struct seq seqs[] = {
    {"in order", {{0, REPLAY_OK}, {1, REPLAY_OK}, {2, REPLAY_OK}, {3, REPLAY_OK}, {4, REPLAY_OK}, END}},
    {"duplicates", {{0, REPLAY_OK}, {0, REPLAY_DUPLICATE}, {1, REPLAY_OK}, {0, REPLAY_DUPLICATE},
                    {1, REPLAY_DUPLICATE}, {5, REPLAY_OK}, {5, REPLAY_DUPLICATE}, {3, REPLAY_OK},
                    {3, REPLAY_DUPLICATE}, END}},
    {"first counter high", {{1000, REPLAY_OK}, {0, REPLAY_OK}, {999, REPLAY_OK}, {1000, REPLAY_DUPLICATE}, END}},
    {"reordered", {{3, REPLAY_OK}, {1, REPLAY_OK}, {2, REPLAY_OK}, {0, REPLAY_OK}, {2, REPLAY_DUPLICATE}, END}},
    /* The edge: exactly W below the highest is the oldest accepted. */
    {"window edge", {{W + 10, REPLAY_OK}, {10, REPLAY_OK}, {9, REPLAY_TOO_OLD}, {10, REPLAY_DUPLICATE},
                     {11, REPLAY_OK}, {W + 11, REPLAY_OK}, {10, REPLAY_TOO_OLD}, {11, REPLAY_DUPLICATE}, END}},
    {"edge at 0", {{0, REPLAY_OK}, {W, REPLAY_OK}, {0, REPLAY_DUPLICATE}, {W + 1, REPLAY_OK},
                   {0, REPLAY_TOO_OLD}, {1, REPLAY_OK}, END}},
    /* A jump far ahead forgets everything: old counters are too old, not
     * mistaken for seen ones through a stale word of the ring. */
    {"far ahead", {{5, REPLAY_OK}, {6, REPLAY_OK}, {1000000, REPLAY_OK}, {6, REPLAY_TOO_OLD},
                   {1000000 - W, REPLAY_OK}, {1000000 - W - 1, REPLAY_TOO_OLD}, {999999, REPLAY_OK},
                   {1000000, REPLAY_DUPLICATE}, END}},
    /* One ring (33 words = 2112 counters) ahead: word of 64 aliases 64 + 2112. */
    {"ring wrap", {{64, REPLAY_OK}, {64 + 64 * REPLAY_WORDS, REPLAY_OK}, {64 + 64 * REPLAY_WORDS - 1, REPLAY_OK},
                   {64 * REPLAY_WORDS, REPLAY_OK}, {64 + 64 * REPLAY_WORDS, REPLAY_DUPLICATE}, END}},
    /* The top moves by less than a ring: the words passed are cleared, the
     * ones still in the window are kept. */
    {"partial slide", {{100, REPLAY_OK}, {500, REPLAY_OK}, {100 + W, REPLAY_OK}, {100, REPLAY_DUPLICATE},
                       {101, REPLAY_OK}, {500, REPLAY_DUPLICATE}, {100 + W + 64 * 5, REPLAY_OK},
                       {500, REPLAY_DUPLICATE}, {499, REPLAY_OK}, {101, REPLAY_TOO_OLD}, END}},
    /* Word boundaries: the last and first bit of adjacent words. */
    {"word bits", {{63, REPLAY_OK}, {64, REPLAY_OK}, {127, REPLAY_OK}, {128, REPLAY_OK}, {63, REPLAY_DUPLICATE},
                   {64, REPLAY_DUPLICATE}, {62, REPLAY_OK}, {65, REPLAY_OK}, END}},
    /* The limit of paper §5.4.6: REJECT_AFTER_MESSAGES and above never pass. */
    {"limit", {{LIMIT - 1, REPLAY_OK}, {LIMIT, REPLAY_LIMIT}, {UINT64_MAX, REPLAY_LIMIT}, {LIMIT - 2, REPLAY_OK},
               {LIMIT - 1, REPLAY_DUPLICATE}, {LIMIT - 1 - W, REPLAY_OK}, {LIMIT - 2 - W, REPLAY_TOO_OLD}, END}},
    {"limit first", {{UINT64_MAX, REPLAY_LIMIT}, {0, REPLAY_OK}, END}},
};

static void test_table(void)
{
	for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
		struct replay r;
		replay_init(&r);
		for (size_t i = 0; i < 16 && seqs[s].steps[i].want != (enum replay_verdict)99; i++) {
			const struct step *st = &seqs[s].steps[i];
			enum replay_verdict c = replay_check(&r, st->counter);
			enum replay_verdict u = replay_update(&r, st->counter);
			CHECK(c == st->want && u == st->want, "%s step %zu counter %llu: check %s update %s want %s",
			      seqs[s].name, i, (unsigned long long)st->counter, replay_verdict_name(c),
			      replay_verdict_name(u), replay_verdict_name(st->want));
		}
	}

	/* check alone marks nothing: a packet that fails authentication must
	 * leave the window as it was. */
	struct replay r;
	replay_init(&r);
	CHECK(replay_check(&r, 7) == REPLAY_OK, "check 7");
	CHECK(replay_check(&r, 7) == REPLAY_OK, "check 7 again");
	CHECK(replay_check(&r, 1u << 20) == REPLAY_OK, "check far");
	CHECK(replay_update(&r, 7) == REPLAY_OK, "update 7");
	CHECK(replay_check(&r, 0) == REPLAY_OK, "a forged far counter did not move the window");
	CHECK(replay_check(&r, 7) == REPLAY_DUPLICATE, "7 now seen");
}

/* ---- naive model: every accepted counter in a hash set ---- */

static uint64_t *set_keys;
static uint8_t *set_used;
static size_t set_cap;

static size_t set_slot(uint64_t c)
{
	size_t i = (size_t)((c * 0x9e3779b97f4a7c15ULL) >> 20) & (set_cap - 1);
	while (set_used[i] && set_keys[i] != c)
		i = (i + 1) & (set_cap - 1);
	return i;
}

struct model {
	int any;
	uint64_t highest;
};

static enum replay_verdict model_verdict(const struct model *m, uint64_t c)
{
	if (c >= REJECT_AFTER_MESSAGES)
		return REPLAY_LIMIT;
	if (m->any && c < m->highest && m->highest - c > REPLAY_WINDOW)
		return REPLAY_TOO_OLD;
	if (set_used[set_slot(c)])
		return REPLAY_DUPLICATE;
	return REPLAY_OK;
}

static void model_mark(struct model *m, uint64_t c)
{
	size_t i = set_slot(c);
	set_used[i] = 1;
	set_keys[i] = c;
	if (!m->any || c > m->highest)
		m->highest = c;
	m->any = 1;
}

static void test_differential(void)
{
	enum { STEPS = 400000 };
	set_cap = 1u << 20;
	set_keys = calloc(set_cap, sizeof(*set_keys));
	set_used = calloc(set_cap, 1);

	for (int run = 0; run < 4; run++) {
		memset(set_used, 0, set_cap);
		struct model m = {0};
		struct replay r;
		replay_init(&r);
		/* Runs 2 and 3 start near the counter limit. */
		uint64_t base = run >= 2 ? REJECT_AFTER_MESSAGES - 20000000 : 0;
		uint64_t cur = base;
		unsigned counts[4] = {0};
		for (int i = 0; i < STEPS / 4; i++) {
			uint64_t c;
			switch (rnd_below(16)) {
			case 0: /* far behind, maybe just at the edge */
				c = cur - (REPLAY_WINDOW - 2) - rnd_below(5);
				break;
			case 1: /* jump ahead, sometimes more than a ring */
				c = cur + rnd_below(4 * 64 * REPLAY_WORDS);
				break;
			case 2: /* an exact duplicate of something recent */
				c = cur - rnd_below(64);
				break;
			default: /* mostly in order with network reordering */
				c = cur + (uint64_t)((int64_t)rnd_below(8) - 3);
				break;
			}
			if (c > cur && c - cur < (1ULL << 40) && c < REJECT_AFTER_MESSAGES)
				cur = c;
			if (run >= 2 && i > STEPS / 4 - 10000 && rnd_below(1000) == 0)
				c = REJECT_AFTER_MESSAGES + rnd_below(3) - 1;
			enum replay_verdict want = model_verdict(&m, c);
			enum replay_verdict got = replay_check(&r, c);
			CHECK(got == want, "run %d step %d counter %llu: check %s, model %s", run, i,
			      (unsigned long long)c, replay_verdict_name(got), replay_verdict_name(want));
			/* One packet in eight fails authentication: checked, not marked. */
			if (rnd_below(8) == 0)
				continue;
			got = replay_update(&r, c);
			CHECK(got == want, "run %d step %d counter %llu: update %s, model %s", run, i,
			      (unsigned long long)c, replay_verdict_name(got), replay_verdict_name(want));
			if (want == REPLAY_OK)
				model_mark(&m, c);
			counts[want]++;
		}
		printf("run %d: ok %u duplicate %u too_old %u limit %u\n", run, counts[0], counts[1], counts[2],
		       counts[3]);
		CHECK(counts[0] && counts[1] && counts[2] && (run < 2 || counts[3]), "every verdict exercised");
	}
	free(set_keys);
	free(set_used);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	test_table();
	test_differential();
	printf("sizeof(struct replay) = %zu (window %u counters)\n", sizeof(struct replay), REPLAY_WINDOW);
	return check_report("replay");
}
