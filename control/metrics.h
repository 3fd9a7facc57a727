/* GET /metrics: the Prometheus text exposition (format 0.0.4) of the
 * counters, rendered from two tables instead of code per counter.
 *
 * Every per-worker metric is one row of metrics_worker[] (metrics.c): its
 * name without the "ringgate_" prefix, counter or gauge, help text, and the
 * offsetof() of a uint64_t in struct worker_stats (offsetof reaches through
 * the nested structs: quic.requests, proxy.conns_open, ring.tx_runs).
 * Adding a counter is: the field in its module's counters struct, then one
 * row here. struct ring_stats, quic_counters and proxy_counters are copied
 * into struct worker_stats whole (worker.c stats_publish), so a field added
 * to them needs nothing else; only a word of struct worker_stats itself
 * (the TUN queue's, the tunnel gauges) is set there by name.
 * tests/control/test_metrics.c fails while a uint64_t of struct
 * worker_stats is neither in the table nor in its "not exported" list.
 *
 * Why one table in control/ rather than a table in each module's header:
 * the exposition (names, help, which words are public) is the admin API's
 * contract (INTERFACE.md), not the datapath's; the datapath headers stay
 * plain structs that protocol cores and their tests use without this file;
 * and the row order is the output order, so /metrics stays one readable,
 * diffable document. The offsets are checked at compile time (a row naming
 * a field that is not a uint64_t, or an array of them, does not build).
 *
 * Process-wide metrics (uptime, reloads, ...) go through the same renderer
 * with a second table over struct metrics_proc, without the worker label.
 *
 * Sample lines, for worker i (the worker label is left out for process-
 * wide rows):
 *   ringgate_NAME{worker="i"} V                      one word
 *   ringgate_NAME{worker="i",FIXED} V                a fixed label pair
 *   ringgate_NAME{worker="i"[,FIXED],KEY="NAME(k)"} V an array, k = 0..n-1
 * Consecutive rows with the same name are one metric: HELP and TYPE once,
 * then for each worker the samples of every row in table order (so
 * drops_total lists a worker's ring, datapath and quic reasons together). */
#ifndef RG_METRICS_H
#define RG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "datapath/worker.h"

enum metric_type {
	METRIC_COUNTER = 0,
	METRIC_GAUGE,
	METRIC_HISTOGRAM, /* see struct metric_hist */
};

/* A row over an array of words indexed by an enum: one sample per element,
 * labelled KEY="name(k)". */
struct metric_array {
	const char *key;
	unsigned n; /* elements: sizeof the field / 8 */
	const char *(*name)(unsigned k);
};

/* A histogram (Prometheus "histogram"): `off` is the first of n bucket
 * counts (not cumulative; the last one is +Inf), bounds[n-1] their upper
 * bounds, sum and count two more words. Bounds and sum are divided by
 * `scale` on output (microseconds -> seconds). */
struct metric_hist {
	unsigned n;
	const uint64_t *bounds;
	size_t sum_off, count_off;
	double scale;
};

struct metric_desc {
	const char *name; /* without "ringgate_"; [a-zA-Z_:][a-zA-Z0-9_:]* */
	enum metric_type type;
	const char *help;
	size_t off;                       /* of a uint64_t (the first, for arrays) */
	const char *fixed;                /* NULL, or KEY="VALUE" added to every sample */
	const struct metric_array *array; /* NULL: one word */
	const struct metric_hist *hist;   /* METRIC_HISTOGRAM only */
};

/* The control thread's own numbers, filled by the admin API per request. */
struct metrics_proc {
	uint64_t build_info; /* 1; the version is a label */
	uint64_t uptime_seconds;
	uint64_t workers;
	uint64_t config_generation;
	uint64_t reloads_ok, reloads_failed;
};

extern const struct metric_desc metrics_worker[];
extern const unsigned metrics_worker_n;
extern const struct metric_desc metrics_process[];
extern const unsigned metrics_process_n;

const char *metric_type_name(enum metric_type t);

/* The whole exposition: the process table over *p, then the worker table
 * over st[0..n_workers-1]. 0 with *out a malloc'd text of *len bytes (the
 * caller frees it), or -ENOMEM. */
RG_MUST_CHECK int metrics_render(const struct metrics_proc *p, const struct worker_stats *st,
                                 unsigned n_workers, char **out, size_t *len);

#endif
