/* ratelimit: per-source token buckets for handshake messages (WireGuard
 * paper §5.3's DoS mitigation; rates of Linux ratelimiter.c: 20 per second
 * per source with a burst of 5). Handshakes cost a Curve25519 operation or
 * two, so a worker under a flood must shed them cheaply and per source,
 * not globally, or one attacker would lock every honest peer out.
 *
 * The key is the source address without the port (a host cannot escape its
 * bucket by changing ports); for IPv6 the /64, because one host usually
 * owns a whole /64 and would otherwise get 2^64 buckets.
 *
 * Fixed-size table, open addressing keyed by SipHash-2-4 (libsodium
 * crypto_shorthash) under a random key, each address kept within a window
 * of RATELIMIT_PROBE slots of its home. A bucket that has refilled to the
 * burst is the same as no bucket, so such stale entries are reused in
 * place: no timer, no garbage collection pass, no allocation. When every
 * slot of an address's window holds a live bucket the verdict is
 * RATELIMIT_TABLE_FULL: treat it as a denial (as Linux does past its
 * table limit); size the table for the sources expected in a quarter
 * second (a bucket refills in 250 ms), not for the peers: a worker that
 * answers 5,000 handshakes a second has about 1,250 live buckets, however
 * many sessions it keeps (RATELIMIT_DEFAULT_ENTRIES).
 *
 * When to consult it: the caller measures its own load. Linux checks the
 * limiter only when its handshake queue is more than 1/8 full, and
 * otherwise lets every handshake through (with cookies demanded under
 * load as well); ratelimit_under_load() is that test. Not thread-safe: one
 * limiter per worker (reuseport already shards sources between workers). */
#ifndef RG_TUNNEL_RATELIMIT_H
#define RG_TUNNEL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/tunnel/tunnel_types.h"

#define RATELIMIT_PROBE 16
/* About three times the live buckets of a worker at full handshake speed
 * (above, ~1,500 at 6,000 handshakes/s), so windows stay sparse; 128 KB. */
#define RATELIMIT_DEFAULT_ENTRIES 4096u

enum ratelimit_verdict {
	RATELIMIT_ALLOW = 0,
	RATELIMIT_DENY,       /* this source's bucket is empty */
	RATELIMIT_TABLE_FULL, /* no room to track this source: deny too */
	RATELIMIT_BAD_FAMILY, /* neither IPv4 nor IPv6: deny */
};

struct ratelimit_entry {
	uint64_t last;   /* ns of the last refill; 0: empty slot */
	uint32_t tokens; /* ns of credit, at most burst * cost (< 2^32) */
	uint8_t family;
	uint8_t key[16]; /* IPv4 address, or the IPv6 /64 */
};                       /* 32 bytes */

struct ratelimit {
	struct ratelimit_entry *slots;
	uint32_t mask;
	uint64_t cost;       /* ns of credit per handshake: 1 s / rate */
	uint64_t max_tokens; /* burst * cost */
	uint8_t hash_key[16];
};

/* A table of `entries` slots (rounded up to a power of two, at least
 * RATELIMIT_PROBE), `per_second` handshakes per source with `burst`
 * (0, 0: HANDSHAKES_PER_SECOND, HANDSHAKES_BURSTABLE). rng NULL: the
 * system generator, for the hash key. 0, -EINVAL (also a burst of four
 * seconds or more: the credit must fit 32 bits), -ENOMEM, rng error. */
RG_MUST_CHECK int ratelimit_init(struct ratelimit *rl, uint32_t entries, unsigned per_second, unsigned burst,
                   const struct crypto_rng *rng);
void ratelimit_free(struct ratelimit *rl);

/* Take one handshake's worth from the bucket of addr's source at `now`
 * (ns, never 0). */
enum ratelimit_verdict ratelimit_allow(struct ratelimit *rl, const rg_sockaddr *addr, uint64_t now);

/* Linux's threshold: under load when the handshake queue is more than an
 * eighth full. Then rate-limit (and demand cookies). */
static inline bool ratelimit_under_load(size_t queued, size_t queue_len)
{
	return queued > queue_len / 8;
}

#endif
