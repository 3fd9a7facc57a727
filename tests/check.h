/* check.h: the assertion every C test uses. CHECK records a failure with
 * its place, the condition's text and a message, and goes on, so one run
 * reports every broken case (the first 50 are printed); check_report()
 * prints the tally and gives main its exit status. Header-only: each test
 * program has its own counters. */
#ifndef RG_TESTS_CHECK_H
#define RG_TESTS_CHECK_H

#include <stdio.h>

static int checks_failed, checks_run;

#define CHECK(cond, ...)                                                                                     \
	do {                                                                                                 \
		checks_run++;                                                                                \
		if (!(cond)) {                                                                               \
			if (++checks_failed <= 50) {                                                         \
				fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
				fprintf(stderr, __VA_ARGS__);                                                \
				fputc('\n', stderr);                                                         \
			}                                                                                    \
		}                                                                                            \
	} while (0)

/* A CHECK whose condition says it all. */
#define CHECK_TRUE(cond) CHECK(cond, "%s", "does not hold")

/* "NAME: N checks, M failed"; 0 when none failed, else 1. */
static inline int check_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}

#endif
