/* The pre-table /metrics renderer, frozen as a model (metrics_legacy.c). */
#ifndef RG_TESTS_METRICS_LEGACY_H
#define RG_TESTS_METRICS_LEGACY_H

#include <stdio.h>

#include "control/metrics.h"

void metrics_legacy_render(FILE *b, const struct metrics_proc *p, const struct worker_stats *st,
                           unsigned n_workers);

#endif
