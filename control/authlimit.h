/* Brute-force protection for the admin API's bearer tokens.
 * Per address: 10 failures within 60 s lock that address out (429) for
 * 60 s from the last failure. Globally: failures drain a bucket of 50 that
 * refills one per second; while it is empty every token check is refused
 * with 429 before comparing, so distributed guessing gains nothing.
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
#define AUTHLIMIT_SLOTS 1024

struct authlimit_slot {
	uint8_t ip[16]; /* IPv4 as v4-mapped */
	uint64_t first; /* start of the window, 0: free */
	uint64_t last;  /* last failure */
	uint32_t failures;
};

struct authlimit {
	struct authlimit_slot slots[AUTHLIMIT_SLOTS];
	uint64_t global_tokens_at; /* time the bucket was last refilled */
	uint32_t global_tokens;
	bool init;
};

enum authlimit_verdict {
	AUTHLIMIT_CHECK,       /* go ahead and compare the token */
	AUTHLIMIT_LOCKED,      /* this address failed too often */
	AUTHLIMIT_GLOBAL_BACKOFF,
};

enum authlimit_verdict authlimit_before(struct authlimit *l, const rg_sockaddr *peer, uint64_t now);
void authlimit_failed(struct authlimit *l, const rg_sockaddr *peer, uint64_t now);

#endif
