/* Helpers shared by the crypto tests, beside CHECK (tests/check.h): hex
 * literals and CHECK_HEX. */
#ifndef RG_TESTS_CRYPTO_CHECK_H
#define RG_TESTS_CRYPTO_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

/* Parse hex (spaces and colons ignored) into out; returns the byte count.
 * Aborts on a malformed literal: that is a bug in the test itself. */
static inline size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = hex; *p; p++) {
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else if (*p == ' ' || *p == ':' || *p == '\n')
			continue;
		else
			abort();
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			abort();
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		abort();
	return n;
}

static inline void tohex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* Compare bytes with a hex literal, printing both on mismatch. */
#define CHECK_HEX(buf, len, hex)                                                                             \
	do {                                                                                                 \
		uint8_t want_[1024];                                                                         \
		char got_[2 * 1024 + 1];                                                                     \
		size_t wn_ = unhex(want_, sizeof(want_), hex);                                               \
		tohex(got_, (buf), (len));                                                                   \
		CHECK(wn_ == (size_t)(len) && memcmp(want_, (buf), wn_) == 0, "got %s want %s", got_, hex);  \
	} while (0)

static inline int checks_report(const char *name)
{
	if (checks_failed) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name, checks_failed, checks_run);
		return 1;
	}
	printf("%s: %d checks passed\n", name, checks_run);
	return 0;
}

#endif
