/* ratelimit: the burst and the rate of one source, sources kept apart (and
 * ports and IPv6 /64s together), a full table, then a differential test
 * against a naive per-source token bucket on random arrivals. */
#include <errno.h>

#include "datapath/tunnel/ratelimit.h"
#include "datapath/tunnel/tunnel_const.h"
#include "tests/tunnel/check.h"

#define T0 (1000 * NS_PER_SEC)
#define MSEC 1000000ULL

static void test_rules(void)
{
	struct ratelimit rl;
	CHECK(ratelimit_init(&rl, 1024, 0, 0, &test_rng) == 0, "init");
	rg_sockaddr a = sa_parse("192.0.2.1", 1000);

	/* Burst of 5, then nothing until 50 ms of credit accrue. */
	for (int i = 0; i < HANDSHAKES_BURSTABLE; i++)
		CHECK(ratelimit_allow(&rl, &a, T0) == RATELIMIT_ALLOW, "burst %d", i);
	CHECK(ratelimit_allow(&rl, &a, T0) == RATELIMIT_DENY, "sixth denied");
	CHECK(ratelimit_allow(&rl, &a, T0 + 49 * MSEC) == RATELIMIT_DENY, "49 ms: not yet");
	CHECK(ratelimit_allow(&rl, &a, T0 + 50 * MSEC) == RATELIMIT_ALLOW, "50 ms: one more");
	CHECK(ratelimit_allow(&rl, &a, T0 + 50 * MSEC) == RATELIMIT_DENY, "and only one");

	/* Another port of the same host shares the bucket. */
	rg_sockaddr a2 = sa_parse("192.0.2.1", 2000);
	CHECK(ratelimit_allow(&rl, &a2, T0 + 60 * MSEC) == RATELIMIT_DENY, "ports share the bucket");
	/* Another host does not. */
	rg_sockaddr b = sa_parse("192.0.2.2", 1000);
	CHECK(ratelimit_allow(&rl, &b, T0 + 60 * MSEC) == RATELIMIT_ALLOW, "another host has its own");

	/* Sustained: over 10 s of constant pressure, 20 per second plus the
	 * burst get through. */
	rg_sockaddr c = sa_parse("198.51.100.1", 1);
	int allowed = 0;
	for (uint64_t t = 0; t <= 10 * NS_PER_SEC; t += MSEC)
		allowed += ratelimit_allow(&rl, &c, T0 + t) == RATELIMIT_ALLOW;
	CHECK(allowed == 10 * HANDSHAKES_PER_SECOND + HANDSHAKES_BURSTABLE, "sustained rate: %d allowed", allowed);

	/* After a pause of 250 ms the full burst is back, not more. */
	int burst = 0;
	for (int i = 0; i < 10; i++)
		burst += ratelimit_allow(&rl, &c, T0 + 10 * NS_PER_SEC + 300 * MSEC) == RATELIMIT_ALLOW;
	CHECK(burst == HANDSHAKES_BURSTABLE, "burst refilled to %d", burst);

	/* IPv6: the /64 is one source. */
	rg_sockaddr v1 = sa_parse("2001:db8:1:2::1", 1), v2 = sa_parse("2001:db8:1:2:ffff::9", 2),
	            v3 = sa_parse("2001:db8:1:3::1", 1);
	for (int i = 0; i < HANDSHAKES_BURSTABLE; i++)
		CHECK(ratelimit_allow(&rl, i % 2 ? &v1 : &v2, T0) == RATELIMIT_ALLOW, "v6 burst");
	CHECK(ratelimit_allow(&rl, &v2, T0) == RATELIMIT_DENY, "same /64 shares");
	CHECK(ratelimit_allow(&rl, &v3, T0) == RATELIMIT_ALLOW, "another /64 does not");
	/* An IPv4 address and an IPv6 address with the same leading bytes
	 * are different sources. */
	rg_sockaddr v4like = sa_parse("c000:0201::", 1); /* 192.0.2.1 as the first bytes */
	CHECK(ratelimit_allow(&rl, &v4like, T0) == RATELIMIT_ALLOW, "families apart");

	rg_sockaddr bad;
	memset(&bad, 0, sizeof(bad));
	CHECK(ratelimit_allow(&rl, &bad, T0) == RATELIMIT_BAD_FAMILY, "bad family");
	ratelimit_free(&rl);

	/* A table of 16 slots (one probe window): the 17th active source is
	 * refused; once the emptied buckets refilled (250 ms) the slots are
	 * reused. */
	CHECK(ratelimit_init(&rl, 1, 0, 0, &test_rng) == 0, "init tiny");
	int full = 0, ok = 0;
	for (int i = 0; i < 17; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		rg_sockaddr s = sa_parse(ip, 1);
		enum ratelimit_verdict v = ratelimit_allow(&rl, &s, T0);
		ok += v == RATELIMIT_ALLOW;
		full += v == RATELIMIT_TABLE_FULL;
		for (int k = 1; k < HANDSHAKES_BURSTABLE; k++) /* empty the bucket: 250 ms to refill */
			ratelimit_allow(&rl, &s, T0);
	}
	CHECK(ok == RATELIMIT_PROBE && full == 1, "16 tracked, 1 refused: %d %d", ok, full);
	rg_sockaddr late = sa_parse("10.0.1.1", 1);
	CHECK(ratelimit_allow(&rl, &late, T0 + 249 * MSEC) == RATELIMIT_TABLE_FULL, "still full at 249 ms");
	CHECK(ratelimit_allow(&rl, &late, T0 + 250 * MSEC) == RATELIMIT_ALLOW, "stale bucket reused at 250 ms");
	ratelimit_free(&rl);

	CHECK(ratelimit_init(&rl, 0, 0, 0, NULL) == -EINVAL, "0 entries");
	CHECK(!ratelimit_under_load(128, 1024) && ratelimit_under_load(129, 1024), "under load above 1/8");
}

/* ---- naive model: one bucket per source in a flat list ---- */

struct mbucket {
	rg_sockaddr key;
	double tokens; /* in handshakes */
	uint64_t last;
};

static void test_differential(void)
{
	enum { SOURCES = 300, EVENTS = 200000 };
	struct ratelimit rl;
	CHECK(ratelimit_init(&rl, 4096, 0, 0, &test_rng) == 0, "init");
	static struct mbucket m[SOURCES];
	rg_sockaddr src[SOURCES];
	for (int i = 0; i < SOURCES; i++) {
		char ip[64];
		if (i % 2)
			snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
		else
			snprintf(ip, sizeof(ip), "2001:db8:%x::1", i);
		src[i] = sa_parse(ip, (uint16_t)i);
		m[i].key = src[i];
		m[i].tokens = -1; /* unseen */
	}
	uint64_t now = T0;
	int mismatches = 0, allowed = 0;
	for (int e = 0; e < EVENTS; e++) {
		now += rnd_below(2) ? rnd_below(3 * MSEC) : 0;
		int i = (int)(rnd_below(4) ? rnd_below(8) : rnd_below(SOURCES)); /* a few hot sources */
		/* The model in exact integer ns, as the rule reads: credit grows
		 * with time up to the burst; a handshake costs 1/20 s. */
		const uint64_t cost = NS_PER_SEC / HANDSHAKES_PER_SECOND, max = cost * HANDSHAKES_BURSTABLE;
		bool want;
		if (m[i].tokens < 0) {
			m[i].tokens = (double)(max - cost);
			want = true;
		} else {
			uint64_t tok = (uint64_t)m[i].tokens + (now - m[i].last);
			if (tok > max)
				tok = max;
			want = tok >= cost;
			m[i].tokens = (double)(want ? tok - cost : tok);
		}
		m[i].last = now;
		bool got = ratelimit_allow(&rl, &src[i], now) == RATELIMIT_ALLOW;
		allowed += got;
		if (got != want && mismatches++ < 10)
			CHECK(got == want, "event %d source %d: got %d want %d", e, i, got, want);
	}
	CHECK(mismatches == 0, "%d mismatches", mismatches);
	printf("differential: %d events, %d allowed\n", EVENTS, allowed);
	ratelimit_free(&rl);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	test_rules();
	test_differential();
	printf("sizeof(struct ratelimit_entry) = %zu\n", sizeof(struct ratelimit_entry));
	return check_report("ratelimit");
}
