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
	 * bucket; everyone waits; it refills at one per second */
	memset(&l, 0, sizeof(l));
	t = 9000 * S;
	char ip[32];
	for (int i = 0; i < 50; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		rg_sockaddr x = v4(ip);
		CHECK(authlimit_before(&l, &x, t) == AUTHLIMIT_CHECK, "distributed %d", i);
		authlimit_failed(&l, &x, t);
	}
	CHECK(authlimit_before(&l, &b, t) == AUTHLIMIT_GLOBAL_BACKOFF, "global back-off");
	CHECK(authlimit_before(&l, &b, t + S) == AUTHLIMIT_CHECK, "one token after 1 s");

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
