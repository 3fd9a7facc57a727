/* Brute-force protection for the admin API's bearer tokens.
 *
 * Per source address (IPv4 address, IPv6 /64: one subscriber usually holds
 * a whole /64, RFC 6177): 10 failures within 60 s lock that address out
 * (429, token not compared) for 60 s from its last failure. The table is
 * bounded; when the slots an address hashes to are all live, the one with
 * the oldest failure is evicted (that address just starts a fresh window).
 *
 * Globally: failures drain a bucket of 50 that refills one per second.
 * While it is empty, distributed guessing is only slowed down: the token is
 * still compared, the right one passes at once, a wrong one is answered 429
 * after AUTHLIMIT_SLOW_DELAY_NS. A global lock-out that refused the right
 * token would let anyone who reaches the port lock the operator out.
 * The slowdown costs only clients that wait for their answer (one that
 * hangs up early learns "wrong" from the silence); what bounds guessing is
 * the per-address lock-out and the token's length (>= 32 characters).
 *
 * Time is passed in (ns). Control thread only. */
#ifndef RG_AUTHLIMIT_H
#define RG_AUTHLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/ring.h"

#define AUTHLIMIT_FAILURES 10
#define AUTHLIMIT_WINDOW_NS (60ull * 1000000000ull)
#define AUTHLIMIT_GLOBAL_BURST 50
#define AUTHLIMIT_GLOBAL_REFILL_NS (1000000000ull)
#define AUTHLIMIT_SLOW_DELAY_NS (1000000000ull)
#define AUTHLIMIT_SLOTS 1024

struct authlimit_slot {
	uint8_t key[16]; /* IPv4 as v4-mapped; IPv6 its /64, the rest zero */
	uint64_t first;  /* start of the window, 0: free */
	uint64_t last;   /* last failure */
	uint32_t failures;
};

struct authlimit {
	struct authlimit_slot slots[AUTHLIMIT_SLOTS];
	uint64_t global_tokens_at; /* time the bucket was last refilled */
	uint32_t global_tokens;
	bool init;
};

enum authlimit_verdict {
	AUTHLIMIT_CHECK = 0, /* compare the token */
	AUTHLIMIT_LOCKED,    /* this address failed too often: 429, do not compare */
	AUTHLIMIT_SLOW,      /* global back-off: compare; a wrong token is answered late */
};

/* The key of an address: IPv4 (and v4-mapped IPv6) as v4-mapped, other
 * IPv6 by its /64. Shared with the admin transport's per-address cap. */
void authlimit_key(const rg_sockaddr *peer, uint8_t key[16]);

/* Before comparing a token from peer. */
enum authlimit_verdict authlimit_before(struct authlimit *l, const rg_sockaddr *peer, uint64_t now);
/* After a wrong or missing token from peer. */
void authlimit_failed(struct authlimit *l, const rg_sockaddr *peer, uint64_t now);

#endif
