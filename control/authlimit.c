#include "control/authlimit.h"

#include <string.h>

void authlimit_key(const rg_sockaddr *a, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (a->sa.sa_family == AF_INET) {
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &a->in4.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6) {
		/* a v4-mapped peer of a dual-stack socket is one IPv4 address;
		 * any other IPv6 peer is its /64 (RFC 6177: a site gets at least
		 * a /64, so counting single addresses would let one attacker
		 * start 2^64 fresh windows) */
		bool mapped = IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr);
		memcpy(ip, &a->in6.sin6_addr, mapped ? 16 : 8);
	}
}

static uint32_t hash(const uint8_t ip[16])
{
	uint32_t h = 2166136261u; /* FNV-1a: the table only spreads addresses */
	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h;
}

static void refill(struct authlimit *l, uint64_t now)
{
	if (!l->init) {
		l->init = true;
		l->global_tokens = AUTHLIMIT_GLOBAL_BURST;
		l->global_tokens_at = now;
		return;
	}
	uint64_t add = (now - l->global_tokens_at) / AUTHLIMIT_GLOBAL_REFILL_NS;
	if (add) {
		uint64_t t = l->global_tokens + add;
		l->global_tokens = t > AUTHLIMIT_GLOBAL_BURST ? AUTHLIMIT_GLOBAL_BURST : (uint32_t)t;
		l->global_tokens_at += add * AUTHLIMIT_GLOBAL_REFILL_NS;
	}
}

/* The slot of ip, or NULL. Linear probing over a few slots: the table is a
 * cache, an address pushed out just starts a fresh window. */
static struct authlimit_slot *find(struct authlimit *l, const uint8_t ip[16], uint64_t now, bool create)
{
	uint32_t h = hash(ip);
	struct authlimit_slot *victim = NULL;
	for (unsigned i = 0; i < 8; i++) {
		struct authlimit_slot *s = &l->slots[(h + i) % AUTHLIMIT_SLOTS];
		bool live = s->first && now - s->last < AUTHLIMIT_WINDOW_NS;
		if (live && !memcmp(s->key, ip, 16))
			return s;
		if (!live && !victim)
			victim = s;
	}
	if (!create)
		return NULL;
	if (!victim) /* all eight live: take the oldest */
		for (unsigned i = 0; i < 8; i++) {
			struct authlimit_slot *s = &l->slots[(h + i) % AUTHLIMIT_SLOTS];
			if (!victim || s->last < victim->last)
				victim = s;
		}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, ip, 16);
	victim->first = now ? now : 1;
	return victim;
}

enum authlimit_verdict authlimit_before(struct authlimit *l, const rg_sockaddr *peer, uint64_t now)
{
	uint8_t ip[16];
	authlimit_key(peer, ip);
	refill(l, now);
	struct authlimit_slot *s = find(l, ip, now, false);
	if (s && s->failures >= AUTHLIMIT_FAILURES)
		return AUTHLIMIT_LOCKED;
	if (l->global_tokens == 0)
		return AUTHLIMIT_SLOW;
	return AUTHLIMIT_CHECK;
}

void authlimit_failed(struct authlimit *l, const rg_sockaddr *peer, uint64_t now)
{
	uint8_t ip[16];
	authlimit_key(peer, ip);
	refill(l, now);
	if (l->global_tokens)
		l->global_tokens--;
	struct authlimit_slot *s = find(l, ip, now, true);
	if (now - s->first >= AUTHLIMIT_WINDOW_NS && s->failures < AUTHLIMIT_FAILURES) {
		s->first = now; /* window over without a lock-out: start again */
		s->failures = 0;
	}
	s->failures++;
	s->last = now;
}
