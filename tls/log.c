/* log: the few lines tls/ writes (handshakes refused by policy), through
 * the log function control installs, rate-limited per thread. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "ring/addr.h"
#include "tls/backend.h"

/* A flood of refused clients (a scanner, an old client fleet under
 * pq = require) must not become a flood of log lines: at most this many a
 * second per thread, then one line with the count left out. */
#define REFUSAL_LINES_PER_S 10

static _Atomic(tls_log_fn) log_fn;

void tls_log_set(tls_log_fn fn)
{
	atomic_store_explicit(&log_fn, fn, memory_order_release);
}

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...)
{
	tls_log_fn fn = atomic_load_explicit(&log_fn, memory_order_acquire);
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	fn(level, fmt, ap);
	va_end(ap);
}

void tls_log_refusal(const char *proto, const rg_sockaddr *peer, const char *why)
{
	/* per thread: each worker counts its own second, no shared state */
	static _Thread_local uint64_t second;
	static _Thread_local unsigned lines, left_out;
	struct timespec ts;
	char addr[INET6_ADDRSTRLEN + 10];

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if ((uint64_t)ts.tv_sec != second) {
		if (left_out)
			logf_(TLS_LOG_WARN, "tls: %u more refused handshakes in the last second not logged",
			      left_out);
		second = (uint64_t)ts.tv_sec;
		lines = left_out = 0;
	}
	if (lines >= REFUSAL_LINES_PER_S) {
		left_out++;
		return;
	}
	lines++;
	rg_addr_str(peer, addr, sizeof(addr), "?");
	logf_(TLS_LOG_WARN, "tls: %s handshake from %s refused: %s", proto, addr, why);
}
