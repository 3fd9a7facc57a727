/* ratelimit: see ratelimit.h. Token buckets counted in nanoseconds of
 * credit: elapsed time is added, one handshake costs 1 s / rate. */
#include "datapath/tunnel/ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/tunnel/tunnel_const.h"

int ratelimit_init(struct ratelimit *rl, uint32_t entries, unsigned per_second, unsigned burst,
                   const struct crypto_rng *rng)
{
	memset(rl, 0, sizeof(*rl));
	if (!per_second && !burst) {
		per_second = HANDSHAKES_PER_SECOND;
		burst = HANDSHAKES_BURSTABLE;
	}
	if (!entries || entries > (1u << 28) || !per_second || !burst || per_second > NS_PER_SEC ||
	    (uint64_t)burst * (NS_PER_SEC / per_second) > UINT32_MAX)
		return -EINVAL;
	uint32_t size = RATELIMIT_PROBE;
	while (size < entries)
		size <<= 1;
	int err = crypto_random(rng ? rng : &crypto_rng_system, rl->hash_key, sizeof(rl->hash_key));
	if (err)
		return err;
	rl->slots = calloc(size, sizeof(*rl->slots));
	if (!rl->slots)
		return -ENOMEM;
	rl->mask = size - 1;
	rl->cost = NS_PER_SEC / per_second;
	rl->max_tokens = rl->cost * burst;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	free(rl->slots);
	memset(rl, 0, sizeof(*rl));
}

enum ratelimit_verdict ratelimit_allow(struct ratelimit *rl, const rg_sockaddr *addr, uint64_t now)
{
	uint8_t key[16] = {0};
	uint8_t family;
	if (addr->sa.sa_family == AF_INET) {
		family = AF_INET;
		memcpy(key, &addr->in4.sin_addr, 4);
	} else if (addr->sa.sa_family == AF_INET6) {
		family = AF_INET6;
		memcpy(key, &addr->in6.sin6_addr, 8); /* the /64 */
	} else {
		return RATELIMIT_BAD_FAMILY;
	}

	uint8_t hbuf[17], out[8];
	memcpy(hbuf, key, 16);
	hbuf[16] = family;
	crypto_shorthash(out, hbuf, sizeof(hbuf), rl->hash_key);
	uint64_t h;
	memcpy(&h, out, 8);

	struct ratelimit_entry *reuse = NULL;
	for (uint32_t p = 0; p < RATELIMIT_PROBE; p++) {
		struct ratelimit_entry *e = &rl->slots[(h + p) & rl->mask];
		if (!e->last) {
			/* Slots never empty again once used, so the source is
			 * not further along. */
			if (!reuse)
				reuse = e;
			break;
		}
		if (e->family == family && !memcmp(e->key, key, 16)) {
			uint64_t elapsed = now > e->last ? now - e->last : 0;
			uint64_t tokens = e->tokens + elapsed;
			if (tokens > rl->max_tokens)
				tokens = rl->max_tokens;
			e->last = now;
			if (tokens < rl->cost) {
				e->tokens = (uint32_t)tokens;
				return RATELIMIT_DENY;
			}
			e->tokens = (uint32_t)(tokens - rl->cost);
			return RATELIMIT_ALLOW;
		}
		/* Refilled to the burst: as good as absent, free for reuse
		 * (after the whole window was searched for this source). */
		if (!reuse && now >= e->last && now - e->last + e->tokens >= rl->max_tokens)
			reuse = e;
	}
	if (!reuse)
		return RATELIMIT_TABLE_FULL;
	memcpy(reuse->key, key, 16);
	reuse->family = family;
	reuse->last = now;
	reuse->tokens = (uint32_t)(rl->max_tokens - rl->cost); /* a new source starts with the burst */
	return RATELIMIT_ALLOW;
}
