/* Helpers shared by the tunnel tests, beside CHECK (tests/check.h): a
 * deterministic PRNG (seeded from argv[1] when given, so a failing seed can
 * be replayed) and address parsing. */
#ifndef RG_TESTS_TUNNEL_CHECK_H
#define RG_TESTS_TUNNEL_CHECK_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/tunnel/tunnel_types.h"
#include "tests/check.h"

/* xoshiro-style 64-bit PRNG (splitmix64): deterministic per seed. */
static uint64_t test_rng_state = 0x9e3779b97f4a7c15ULL;
static inline uint64_t rnd64(void)
{
	uint64_t z = (test_rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static inline uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd64() % n);
}
static inline void test_seed(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20240601;
	test_rng_state = seed;
	printf("seed %llu\n", (unsigned long long)seed);
}

/* A struct crypto_rng over the PRNG above. */
static inline int test_rng_fill(void *opaque, uint8_t *buf, size_t len)
{
	(void)opaque;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd64();
	return 0;
}
static const struct crypto_rng test_rng = {.fill = test_rng_fill, .opaque = NULL};

/* "10.0.0.1" or "2001:db8::1" into a tunnel_ip; aborts on a typo. */
static inline struct tunnel_ip ip_parse(const char *s)
{
	struct tunnel_ip ip;
	memset(&ip, 0, sizeof(ip));
	if (inet_pton(AF_INET, s, ip.bytes) == 1) {
		ip.family = AF_INET;
	} else if (inet_pton(AF_INET6, s, ip.bytes) == 1) {
		ip.family = AF_INET6;
	} else {
		fprintf(stderr, "bad address literal %s\n", s);
		abort();
	}
	return ip;
}

static inline rg_sockaddr sa_parse(const char *s, uint16_t port)
{
	rg_sockaddr sa;
	memset(&sa, 0, sizeof(sa));
	struct tunnel_ip ip = ip_parse(s);
	if (ip.family == AF_INET) {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(port);
		memcpy(&sa.in4.sin_addr, ip.bytes, 4);
	} else {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(port);
		memcpy(&sa.in6.sin6_addr, ip.bytes, 16);
	}
	return sa;
}

#endif
