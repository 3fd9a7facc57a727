/* timers: every rule of timers.h as a table: a sequence of events at fake
 * times, each followed by the expected next deadline, and expiries with the
 * expected set of actions. Times are milliseconds after an arbitrary base
 * (now is never 0). Jitter is off (seed 0) in the tables and checked on
 * its own at the end. */
#include "datapath/tunnel/timers.h"
#include "tests/tunnel/check.h"

#define BASE_NS (1000 * NS_PER_SEC)
#define MS(x) (BASE_NS + (uint64_t)(x) * 1000000ULL)
#define NONE (-1LL)
#define SKIP (-2LL)

enum op {
	END = 0,
	KEY,        /* set the key given to data events: a = birth ms, b = counter, c = initiator */
	DATA_SENT,  /* a = plain length */
	DATA_RECV,  /* a = plain length */
	KA_RECV,    /* zero-length keepalive received */
	SENT,       /* any authenticated packet sent */
	RECV,       /* any authenticated packet received */
	INITIATED,
	COMPLETE,
	DERIVED,
	WANTED,
	PERSIST,    /* a = interval seconds */
	ZEROED,
	EXPIRE,     /* expect: actions == acts */
};

struct step {
	long long ms;
	enum op op;
	long long a, b, c;
	unsigned acts;  /* for EXPIRE */
	long long next; /* expected next deadline in ms, NONE, or SKIP */
};

struct scenario {
	const char *name;
	struct step steps[24];
};

#define K (KEEPALIVE_TIMEOUT * 1000LL)
#define R (REKEY_TIMEOUT * 1000LL)
#define Z (3LL * REJECT_AFTER_TIME * 1000LL)

static const struct scenario scenarios[] = {
    {"retransmit, then complete",
     {{0, INITIATED, .next = R},
      {R - 1, EXPIRE, .acts = 0, .next = R},
      {R, EXPIRE, .acts = TIMERS_ACT_RETRANSMIT, .next = NONE},
      {R, INITIATED, .next = 2 * R},
      {R + 100, RECV, .next = 2 * R},
      {R + 100, COMPLETE, .next = NONE},
      {R + 100, DERIVED, .next = R + 100 + Z},
      {2 * R, EXPIRE, .acts = 0, .next = R + 100 + Z},
      {R + 100 + Z, EXPIRE, .acts = TIMERS_ACT_ZERO_KEYS, .next = NONE}}},
    {"passive keepalive",
     {{0, DATA_RECV, 100, .next = K},
      {K - 1, EXPIRE, .acts = 0, .next = K},
      {K, EXPIRE, .acts = TIMERS_ACT_KEEPALIVE, .next = NONE},
      {K, SENT, .next = NONE}}},
    {"anything sent cancels the keepalive",
     {{0, KEY, 0, 0, 1},
      {0, DATA_RECV, 100, .next = K},
      {3000, DATA_SENT, 100, .next = K}, /* the keepalive is earlier than the no-reply timer */
      {3000, SENT, .next = 3000 + K + R},
      {K, EXPIRE, .acts = 0, .next = 3000 + K + R}}},
    {"data received while a keepalive is pending: one more keepalive",
     {{0, DATA_RECV, 100, .next = K},
      {4000, DATA_RECV, 100, .next = K},
      {K, EXPIRE, .acts = TIMERS_ACT_KEEPALIVE, .next = NONE},
      {K, SENT, .next = 2 * K},
      {2 * K, EXPIRE, .acts = TIMERS_ACT_KEEPALIVE, .next = NONE},
      {2 * K, SENT, .next = NONE}}},
    {"a keepalive received needs no keepalive back",
     {{0, KA_RECV, .next = NONE}, {0, RECV, .next = NONE}, {0, DATA_RECV, 0, .next = NONE}}},
    {"data sent, no reply: new handshake",
     {{0, KEY, 0, 0, 0},
      {0, DATA_SENT, 100, .next = K + R},
      {0, SENT, .next = K + R},
      {5000, DATA_SENT, 100, .next = K + R}, /* not pushed back */
      {K + R - 1, EXPIRE, .acts = 0, .next = K + R},
      {K + R, EXPIRE, .acts = TIMERS_ACT_NEW_HANDSHAKE, .next = NONE},
      {K + R, INITIATED, .next = K + 2 * R}}},
    {"data sent, reply received: no new handshake",
     {{0, KEY, 0, 0, 0}, {0, DATA_SENT, 100, .next = K + R}, {K + R - 1, RECV, .next = NONE}}},
    {"a keepalive sent expects no reply",
     {{0, KEY, 0, 0, 0}, {0, DATA_SENT, 0, .next = NONE}}},
    {"initiator rekeys after REKEY_AFTER_TIME on send",
     {{0, KEY, 0, 0, 1},
      {119999, DATA_SENT, 100, .next = 119999 + K + R},
      {120000, DATA_SENT, 100, .next = 120000},
      {120000, EXPIRE, .acts = TIMERS_ACT_REKEY, .next = 119999 + K + R},
      {120000, INITIATED, .next = 120000 + R}}},
    {"responder does not rekey by age",
     {{0, KEY, 0, 0, 0}, {150000, DATA_SENT, 100, .next = 150000 + K + R}}},
    {"REKEY_AFTER_MESSAGES on send, either role",
     {{0, KEY, 0, (long long)(REKEY_AFTER_MESSAGES >> 1), 0},
      {1000, DATA_SENT, 0, .next = NONE},
      {1000, KEY, 0, -1 /* REKEY_AFTER_MESSAGES + 1, set below */, 0},
      {1000, DATA_SENT, 0, .next = 1000},
      {1000, EXPIRE, .acts = TIMERS_ACT_REKEY, .next = NONE}}},
    {"at most one initiation per REKEY_TIMEOUT",
     {{0, INITIATED, .next = R},
      {100, COMPLETE, .next = NONE},
      {R - 1, WANTED, .next = NONE},
      {R, WANTED, .next = R},
      {R, WANTED, .next = R},
      {R, EXPIRE, .acts = TIMERS_ACT_HANDSHAKE_FOR_DATA, .next = NONE},
      {R, INITIATED, .next = 2 * R},
      {R + 1, WANTED, .next = 2 * R},
      {2 * R, EXPIRE, .acts = TIMERS_ACT_RETRANSMIT, .next = NONE}}},
    {"initiator that only receives rekeys before REJECT_AFTER_TIME, once",
     {{0, KEY, 0, 0, 1},
      {164999, DATA_RECV, 100, .next = 164999 + K},
      {165000, DATA_RECV, 100, .next = 165000},
      {165000, EXPIRE, .acts = TIMERS_ACT_REKEY, .next = 164999 + K},
      {165000, INITIATED, .next = 165000 + R},
      {171000, DATA_RECV, 100, .next = 165000 + R}, /* once per keypair */
      {171000, KA_RECV, .next = 165000 + R},
      {172000, COMPLETE, .next = 164999 + K},
      {172000, KEY, 172000, 0, 1},
      {172000, DATA_RECV, 100, .next = 164999 + K}}},
    {"last-minute rekey on a keepalive too",
     {{0, KEY, 0, 0, 1}, {165000, KA_RECV, .next = 165000}, {165000, EXPIRE, .acts = TIMERS_ACT_REKEY, .next = NONE}}},
    {"responder does not do the last-minute rekey",
     {{0, KEY, 0, 0, 0}, {170000, KA_RECV, .next = NONE}}},
    {"persistent keepalive",
     {{0, PERSIST, 25, .next = 0}, /* turning it on sends one at once */
      {0, EXPIRE, .acts = TIMERS_ACT_PERSISTENT_KEEPALIVE, .next = NONE},
      {0, SENT, .next = 25000},
      {10000, RECV, .next = 35000},
      {34999, EXPIRE, .acts = 0, .next = 35000},
      {35000, EXPIRE, .acts = TIMERS_ACT_PERSISTENT_KEEPALIVE, .next = NONE},
      {35000, SENT, .next = 60000},
      {40000, PERSIST, 10, .next = 50000}, /* a new interval applies at once */
      {41000, PERSIST, 10, .next = 51000},
      {45000, PERSIST, 0, .next = NONE},
      {60000, SENT, .next = NONE}}},
    {"a newer session pushes the erasure back",
     {{0, DERIVED, .next = Z}, {100000, DERIVED, .next = 100000 + Z}, {100000 + Z, EXPIRE, .acts = TIMERS_ACT_ZERO_KEYS, .next = NONE}}},
    {"keys erased by the caller disarm the erasure",
     {{0, DERIVED, .next = Z}, {1000, ZEROED, .next = NONE}}},
    {"several rules due at once",
     {{0, KEY, 0, 0, 0},
      {0, DATA_RECV, 100, .next = K},
      {0, DERIVED, .next = K},
      {0, PERSIST, 10, .next = 0},
      {0, EXPIRE, .acts = TIMERS_ACT_PERSISTENT_KEEPALIVE, .next = K},
      {5000, DATA_SENT, 100, .next = K},
      {Z, EXPIRE, .acts = TIMERS_ACT_KEEPALIVE | TIMERS_ACT_NEW_HANDSHAKE | TIMERS_ACT_ZERO_KEYS, .next = NONE}}},
};

static const char *op_name(enum op o)
{
	static const char *n[] = {"end", "key", "data_sent", "data_recv", "ka_recv", "sent", "recv",
	                          "initiated", "complete", "derived", "wanted", "persist", "zeroed", "expire"};
	return n[o];
}

static void run(const struct scenario *s)
{
	struct timers t;
	struct timers_key key = {0};
	timers_init(&t, 0);
	for (size_t i = 0; i < 24 && s->steps[i].op != END; i++) {
		const struct step *st = &s->steps[i];
		uint64_t now = MS(st->ms);
		unsigned acts = 0;
		switch (st->op) {
		case KEY:
			key.birth = MS(st->a);
			key.send_counter = st->b == -1 ? REKEY_AFTER_MESSAGES + 1 : (uint64_t)st->b;
			key.initiator = st->c;
			continue;
		case DATA_SENT:
			timers_data_sent(&t, now, &key, (size_t)st->a);
			break;
		case DATA_RECV:
			timers_data_received(&t, now, &key, (size_t)st->a);
			break;
		case KA_RECV:
			timers_keepalive_received(&t, now, &key);
			break;
		case SENT:
			timers_any_authenticated_packet_sent(&t, now);
			break;
		case RECV:
			timers_any_authenticated_packet_received(&t, now);
			break;
		case INITIATED:
			timers_handshake_initiated(&t, now);
			break;
		case COMPLETE:
			timers_handshake_complete(&t, now);
			break;
		case DERIVED:
			timers_session_derived(&t, now);
			break;
		case WANTED:
			timers_handshake_wanted(&t, now);
			break;
		case PERSIST:
			timers_persistent_keepalive_set(&t, now, (uint16_t)st->a);
			break;
		case ZEROED:
			timers_keys_zeroed(&t);
			break;
		case EXPIRE:
			acts = timers_handle_expiry(&t, now);
			CHECK(acts == st->acts, "%s: step %zu (expire at %lld ms): actions %#x want %#x", s->name, i,
			      st->ms, acts, st->acts);
			break;
		case END:
			break;
		}
		if (st->next == SKIP)
			continue;
		uint64_t want = st->next == NONE ? RG_NO_DEADLINE : MS(st->next);
		uint64_t got = timers_next_expiry(&t);
		CHECK(got == want, "%s: step %zu (%s at %lld ms): next %lld ms want %lld ms", s->name, i,
		      op_name(st->op), st->ms, got != RG_NO_DEADLINE ? (long long)((got - BASE_NS) / 1000000) : -1,
		      st->next == NONE ? -1 : st->next);
	}
}

/* "No deadline" is RG_NO_DEADLINE, not 0: a deadline at time 0 (a clock
 * that starts at 0, as fake time does) is a real one, due at once. With 0
 * meaning "none" the wanted handshake and the first persistent keepalive
 * below were never sent. */
static void test_no_deadline(void)
{
	struct timers t;
	timers_init(&t, 0);
	CHECK(timers_next_expiry(&t) == RG_NO_DEADLINE, "fresh timers: no deadline");
	CHECK(timers_handle_expiry(&t, 0) == 0, "nothing fires when nothing is armed");
	CHECK(timers_handle_expiry(&t, RG_NO_DEADLINE - 1) == 0, "nothing fires at the end of time");
	timers_handshake_wanted(&t, 0);
	CHECK(timers_next_expiry(&t) == 0, "handshake wanted at time 0: due at 0, got %llu",
	      (unsigned long long)timers_next_expiry(&t));
	CHECK(timers_handle_expiry(&t, 0) == TIMERS_ACT_HANDSHAKE_FOR_DATA, "initiation at time 0");
	CHECK(timers_next_expiry(&t) == RG_NO_DEADLINE, "fired: no deadline left");
	timers_persistent_keepalive_set(&t, 0, 25);
	CHECK(timers_handle_expiry(&t, 0) == TIMERS_ACT_PERSISTENT_KEEPALIVE, "persistent keepalive at time 0");
	timers_any_authenticated_packet_sent(&t, 0);
	CHECK(timers_next_expiry(&t) == 25 * NS_PER_SEC, "next persistent keepalive after 25 s");
}

/* Give up after REKEY_ATTEMPT_TIME: a loop rather than 40 table rows. */
static void test_give_up(void)
{
	struct timers t;
	timers_init(&t, 0);
	uint64_t now = MS(0);
	timers_handshake_wanted(&t, now);
	CHECK(timers_handle_expiry(&t, now) == TIMERS_ACT_HANDSHAKE_FOR_DATA, "first initiation");
	timers_handshake_initiated(&t, now);
	timers_data_received(&t, now, NULL, 100); /* a keepalive pending must be stopped by the give-up */
	int retries = 0;
	unsigned acts = 0;
	for (;;) {
		now = timers_next_expiry(&t);
		CHECK(now != 0, "something armed");
		if (!now)
			break;
		acts = timers_handle_expiry(&t, now);
		if (acts & TIMERS_ACT_KEEPALIVE) {
			timers_any_authenticated_packet_sent(&t, now);
			acts &= ~(unsigned)TIMERS_ACT_KEEPALIVE;
		}
		if (acts == TIMERS_ACT_RETRANSMIT) {
			retries++;
			timers_handshake_initiated(&t, now);
			timers_any_authenticated_packet_sent(&t, now);
			continue;
		}
		if (acts)
			break;
	}
	CHECK(acts == TIMERS_ACT_GIVE_UP, "gave up: %#x", acts);
	CHECK(retries == MAX_TIMER_HANDSHAKES, "%d retries, want %d", retries, MAX_TIMER_HANDSHAKES);
	CHECK(now == MS((MAX_TIMER_HANDSHAKES + 1) * R), "gave up at %llu ms",
	      (unsigned long long)((now - BASE_NS) / 1000000));
	CHECK(now - MS(0) >= REKEY_ATTEMPT_TIME_NS, "tried at least REKEY_ATTEMPT_TIME");
	CHECK(timers_next_expiry(&t) == now + ZERO_KEYS_AFTER_NS, "erasure armed by the give-up");
	CHECK(timers_handle_expiry(&t, now + ZERO_KEYS_AFTER_NS) == TIMERS_ACT_ZERO_KEYS, "erased");

	/* With a session derived before, the give-up keeps the earlier erasure. */
	timers_init(&t, 0);
	timers_session_derived(&t, MS(0));
	timers_handshake_initiated(&t, MS(1000));
	t.attempts = MAX_TIMER_HANDSHAKES;
	CHECK(timers_handle_expiry(&t, MS(1000 + R)) == TIMERS_ACT_GIVE_UP, "give up");
	CHECK(timers_next_expiry(&t) == MS(Z), "erasure not pushed back by the give-up");

	/* A new request for data restarts the attempts (Linux does the same:
	 * a peer with traffic keeps trying). */
	timers_init(&t, 0);
	timers_handshake_initiated(&t, MS(0));
	t.attempts = 10;
	timers_handshake_wanted(&t, MS(1000)); /* rate limited, but the count restarts */
	CHECK(t.attempts == 0, "attempts restart");
	CHECK(timers_next_expiry(&t) == MS(R), "only the retransmission armed");
}

static void test_jitter(void)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint32_t seed = 1; seed < 2000; seed++) {
		struct timers t;
		timers_init(&t, seed * 2654435761u);
		timers_handshake_initiated(&t, MS(0));
		uint64_t d = timers_next_expiry(&t) - MS(0);
		CHECK(d >= REKEY_TIMEOUT_NS && d < REKEY_TIMEOUT_NS + REKEY_TIMEOUT_JITTER_MAX_NS, "jitter in range: %llu",
		      (unsigned long long)d);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		/* The no-reply timer is jittered too. */
		timers_init(&t, seed * 2654435761u);
		timers_data_sent(&t, MS(0), NULL, 1);
		d = timers_next_expiry(&t) - MS(0);
		CHECK(d >= KEEPALIVE_TIMEOUT_NS + REKEY_TIMEOUT_NS &&
		          d < KEEPALIVE_TIMEOUT_NS + REKEY_TIMEOUT_NS + REKEY_TIMEOUT_JITTER_MAX_NS,
		      "no-reply jitter in range");
	}
	CHECK(hi - lo > REKEY_TIMEOUT_JITTER_MAX_NS * 9 / 10, "jitter spreads: %llu ns",
	      (unsigned long long)(hi - lo));
}

static void test_key_validity(void)
{
	struct timers_key k = {.birth = MS(0), .send_counter = 0, .initiator = true};
	CHECK(timers_key_can_send(&k, MS(179999)), "usable before REJECT_AFTER_TIME");
	CHECK(!timers_key_can_send(&k, MS(180000)), "not at REJECT_AFTER_TIME");
	k.send_counter = REJECT_AFTER_MESSAGES - 1;
	CHECK(timers_key_can_send(&k, MS(1)), "last counter usable");
	k.send_counter = REJECT_AFTER_MESSAGES;
	CHECK(!timers_key_can_send(&k, MS(1)), "not at REJECT_AFTER_MESSAGES");
	CHECK(timers_key_can_receive(MS(0), MS(179999)), "receive before REJECT_AFTER_TIME");
	CHECK(!timers_key_can_receive(MS(0), MS(180000)), "not after");
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
	test_give_up();
	test_no_deadline();
	test_jitter();
	test_key_validity();
	printf("sizeof(struct timers) = %zu\n", sizeof(struct timers));
	return check_report("timers");
}
