/* Admin token brute-force protection with fake time. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "control/authlimit.h"
#include "tests/check.h"

#define S 1000000000ull

static rg_sockaddr v4(const char *ip)
{
	rg_sockaddr a = {.in4 = {.sin_family = AF_INET, .sin_port = htons(1234)}};
	inet_pton(AF_INET, ip, &a.in4.sin_addr);
	return a;
}

static rg_sockaddr v6(const char *ip)
{
	rg_sockaddr a = {.in6 = {.sin6_family = AF_INET6, .sin6_port = htons(1234)}};
	inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
	return a;
}

static struct authlimit l; /* 48 KiB: not on the stack */

int main(void)
{
	rg_sockaddr a = v4("192.0.2.1"), b = v4("192.0.2.2");
	uint64_t t = 1000 * S;

	/* nine failures: still allowed to try */
	for (int i = 0; i < 9; i++) {
		CHECK(authlimit_before(&l, &a, t) == AUTHLIMIT_CHECK, "try %d", i);
		authlimit_failed(&l, &a, t);
		t += S;
	}
	CHECK(authlimit_before(&l, &a, t) == AUTHLIMIT_CHECK, "10th try allowed");
	authlimit_failed(&l, &a, t);
	CHECK(authlimit_before(&l, &a, t) == AUTHLIMIT_LOCKED, "locked after 10");
	/* another address is not affected */
	CHECK(authlimit_before(&l, &b, t) == AUTHLIMIT_CHECK, "b unaffected");
	/* the port does not matter: same address */
	rg_sockaddr a2 = a;
	a2.in4.sin_port = htons(999);
	CHECK(authlimit_before(&l, &a2, t) == AUTHLIMIT_LOCKED, "other port, same lock");
	/* 59 s after the last failure: still locked; 60 s: free again */
	CHECK(authlimit_before(&l, &a, t + 59 * S) == AUTHLIMIT_LOCKED, "locked at 59 s");
	CHECK(authlimit_before(&l, &a, t + 60 * S) == AUTHLIMIT_CHECK, "free at 60 s");

	/* failures spread over more than 60 s never lock */
	memset(&l, 0, sizeof(l));
	t = 5000 * S;
	for (int i = 0; i < 30; i++) {
		CHECK(authlimit_before(&l, &a, t) == AUTHLIMIT_CHECK, "slow try %d", i);
		authlimit_failed(&l, &a, t);
		t += 7 * S; /* 9 failures per 63 s */
	}

	/* distributed guessing: 50 failures from 50 addresses empty the global
	 * bucket; from then on every check is slowed down, but still made (the
	 * right token must pass: a global lock-out would lock the operator
	 * out); it refills at one per second */
	memset(&l, 0, sizeof(l));
	t = 9000 * S;
	char ip[32];
	for (int i = 0; i < 50; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		rg_sockaddr x = v4(ip);
		CHECK(authlimit_before(&l, &x, t) == AUTHLIMIT_CHECK, "distributed %d", i);
		authlimit_failed(&l, &x, t);
	}
	CHECK(authlimit_before(&l, &b, t) == AUTHLIMIT_SLOW, "global back-off is a slowdown, not a lock");
	CHECK(authlimit_before(&l, &b, t + S) == AUTHLIMIT_CHECK, "one token after 1 s");

	/* the attacker of the issue: one address fails 20 times (locked after
	 * 10), 60 more fail once each (bucket empty): the operator's address
	 * is still checked, the attacker's is locked */
	memset(&l, 0, sizeof(l));
	t = 12000 * S;
	rg_sockaddr op = v4("127.0.0.1"), att = v4("127.0.0.2");
	for (int i = 0; i < 20; i++)
		if (authlimit_before(&l, &att, t) != AUTHLIMIT_LOCKED)
			authlimit_failed(&l, &att, t);
	for (int i = 0; i < 60; i++) {
		snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
		rg_sockaddr x = v4(ip);
		if (authlimit_before(&l, &x, t) != AUTHLIMIT_LOCKED)
			authlimit_failed(&l, &x, t);
	}
	CHECK(authlimit_before(&l, &att, t) == AUTHLIMIT_LOCKED, "attacker locked");
	CHECK(authlimit_before(&l, &op, t) == AUTHLIMIT_SLOW, "operator still compared (got %d)",
	      (int)authlimit_before(&l, &op, t));

	/* IPv6: one /64 is one address (else 2^64 fresh windows); the next
	 * /64 is another; a v4-mapped peer is its IPv4 address */
	memset(&l, 0, sizeof(l));
	t = 15000 * S;
	for (int i = 0; i < 10; i++) {
		rg_sockaddr x = v6("2001:db8:1:2::1");
		x.in6.sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
		x.in6.sin6_addr.s6_addr[9] = (uint8_t)(i * 7);
		CHECK(authlimit_before(&l, &x, t) == AUTHLIMIT_CHECK, "v6 try %d", i);
		authlimit_failed(&l, &x, t);
	}
	rg_sockaddr y = v6("2001:db8:1:2:ffff:ffff:ffff:fffe"), z = v6("2001:db8:1:3::1");
	CHECK(authlimit_before(&l, &y, t) == AUTHLIMIT_LOCKED, "whole /64 locked");
	CHECK(authlimit_before(&l, &z, t) == AUTHLIMIT_CHECK, "next /64 not locked");
	for (int i = 0; i < 10; i++)
		authlimit_failed(&l, &b, t);
	rg_sockaddr bm = v6("::ffff:192.0.2.2"), bn = v6("::ffff:192.0.2.3");
	CHECK(authlimit_before(&l, &bm, t) == AUTHLIMIT_LOCKED, "v4-mapped is the IPv4 address");
	CHECK(authlimit_before(&l, &bn, t) == AUTHLIMIT_CHECK, "v4-mapped neighbour not locked");

	/* bounded table: the eight slots an address may use full of live
	 * entries, a newcomer evicts the one with the oldest failure */
	memset(&l, 0, sizeof(l));
	t = 18000 * S;
	l.init = true;
	l.global_tokens = AUTHLIMIT_GLOBAL_BURST;
	l.global_tokens_at = t;
	unsigned filled = 0;
	rg_sockaddr first = v4("10.0.0.1");
	uint8_t k0[16];
	authlimit_key(&first, k0);
	for (int i = 0; i < 10; i++)
		authlimit_failed(&l, &first, t);
	CHECK(authlimit_before(&l, &first, t) == AUTHLIMIT_LOCKED, "first locked");
	/* 20000 newer addresses fill every slot: the first's entry, the
	 * oldest of its group, is pushed out; the table never grows */
	for (unsigned i = 0; i < 20000; i++) {
		rg_sockaddr x = v4("10.1.0.0");
		x.in4.sin_addr.s_addr = htonl(0x0a010000u + i);
		authlimit_failed(&l, &x, t + S);
		l.global_tokens = AUTHLIMIT_GLOBAL_BURST;
	}
	for (unsigned j = 0; j < AUTHLIMIT_SLOTS; j++)
		filled += l.slots[j].first != 0;
	CHECK(filled == AUTHLIMIT_SLOTS, "table full (%u)", filled);
	bool k0_there = false;
	for (unsigned j = 0; j < AUTHLIMIT_SLOTS; j++)
		k0_there |= !memcmp(l.slots[j].key, k0, 16);
	CHECK(!k0_there, "the oldest entry was evicted when the table filled");

	/* many addresses do not break the table */
	memset(&l, 0, sizeof(l));
	t = 20000 * S;
	for (int i = 0; i < 5000; i++) {
		rg_sockaddr x = {.in6 = {.sin6_family = AF_INET6}};
		x.in6.sin6_addr.s6_addr[0] = 0x20;
		memcpy(&x.in6.sin6_addr.s6_addr[12], &i, sizeof(i));
		authlimit_before(&l, &x, t);
		authlimit_failed(&l, &x, t);
		t += S; /* keep the global bucket from running dry */
	}
	printf("%s\n", checks_failed ? "authlimit: FAILED" : "authlimit: ok");
	return checks_failed ? 1 : 0;
}
