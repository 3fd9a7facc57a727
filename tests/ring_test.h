/* ring_test.h: the ring a C test drives, made the way every such test makes
 * it: backend from argv[1] ("epoll", else io_uring), skip (77) when the
 * kernel refuses io_uring. Header-only, like check.h. */
#ifndef RG_TESTS_RING_TEST_H
#define RG_TESTS_RING_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ring/ring.h"

/* 0 with *r made; otherwise the exit status main should return (77 skip,
 * 1 failure), the reason printed. */
static inline int ring_test_create(int argc, char **argv, const struct ring_ops *ops, struct ring **r)
{
	struct ring_opts o;
	ring_opts_default(&o);
	o.backend = argc > 1 && !strcmp(argv[1], "epoll") ? RING_BACKEND_EPOLL : RING_BACKEND_URING;
	o.ops = ops;
	int err = ring_create(&o, r);
	if (err == -ENOSYS || err == -EPERM) {
		printf("SKIP: io_uring unavailable (%s)\n", strerror(-err));
		return 77;
	}
	if (err) {
		fprintf(stderr, "ring_create: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

#endif
