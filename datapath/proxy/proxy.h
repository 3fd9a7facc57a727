/* proxy: the HTTP/3 -> HTTP/1.1 reverse proxy of one worker.
 *
 * A struct proxy belongs to one worker thread and uses that worker's ring
 * for its backend connections (ring_io_*, upstream.c) and its own timer
 * wheels for the exchanges' deadlines and the idle connections'; the
 * worker folds proxy_next_expiry() into its single ring timeout.
 * proxy_request() is the quic server's on_request (h3front.c); other front
 * ends hand requests in through front.h. The exchange itself is sans-IO
 * (exchange.h); proxy.c drives it for every front end.
 *
 * Memory per exchange is bounded and comes from per-worker pools (no
 * malloc per request once they are warm): the request body passes through
 * a buffer of one QUIC stream window (credit goes back to the client only
 * once bytes were written to the backend), the response body is handed to
 * HTTP/3 as pointers into the upstream receive buffers, read at most
 * PEX_RESP_WINDOW ahead of the client's acknowledgements.
 *
 * Answers made here: 400 request target refused by the normalization
 * (path.h; routing and forwarding use the normalized target), 404 no route, 413 request body over
 * PROXY_MAX_REQUEST_BODY (no INI key yet), 431 request head too large,
 * 502 backend refused, closed or sent garbage, 503 no server available
 * (all down or at max_conns), 504 backend timeout. A backend failing after
 * the response headers went out resets the stream (H3_INTERNAL_ERROR).
 */
#ifndef RG_PROXY_H
#define RG_PROXY_H

#include <stdint.h>

#include "datapath/quic/quic.h"
#include "datapath/proxy/route.h"

/* The request body limit (413). No INI key carries it yet. */
#define PROXY_MAX_REQUEST_BODY (64ull * 1024 * 1024)

/* Per-worker counters; all uint64_t (copied word by word into worker_stats). */
#define PROXY_LATENCY_BUCKETS 13
extern const uint64_t proxy_latency_bounds_us[PROXY_LATENCY_BUCKETS - 1];

struct proxy_counters {
	uint64_t requests;          /* handed to the proxy */
	uint64_t no_route;          /* 404 */
	uint64_t bad_gateway;       /* 502 */
	uint64_t unavailable;       /* 503 */
	uint64_t gateway_timeout;   /* 504 */
	uint64_t too_large;         /* 413 and 431 */
	uint64_t bad_target;        /* 400: request target refused (path.h) */
	uint64_t upstream_resets;   /* stream reset after the headers went out */
	uint64_t conns_opened, conns_reused, conns_failed;
	uint64_t conns_open;        /* gauge */
	uint64_t headers_dropped;   /* response fields beyond what HTTP/3 submit takes */
	/* Request durations, from the request's header section to the end of
	 * the exchange (response delivered, or reset): a histogram with upper
	 * bounds proxy_latency_bounds_us (the last bucket is +Inf). */
	uint64_t latency_buckets[PROXY_LATENCY_BUCKETS];
	uint64_t latency_sum_us, latency_count;
	/* The worker's pools (gauges): objects allocated (kept for reuse) and
	 * the most in use at once. Only a pool's growth allocates: a steady
	 * load keeps these flat. */
	uint64_t pool_exchanges, pool_exchanges_high;
	uint64_t pool_bodies, pool_bodies_high;   /* request body rings */
	uint64_t pool_chunks, pool_chunks_high;   /* upstream receive chunks */
	/* [appliance] access_log (issue 20): lines lost to a failed or short
	 * write (accesslog.h) */
	uint64_t access_log_dropped;
};

struct proxy;

/* level: enum log_level of worker.h (0 error .. 3 debug) */
typedef void (*proxy_log_fn)(void *ctx, int level, const char *msg);

RG_MUST_CHECK int proxy_create(struct ring *r, unsigned worker_id, proxy_log_fn log, void *log_ctx,
                 struct proxy **out);
/* After the quic server is gone (its streams closed): closes every
 * backend connection, waits (bounded) for their I/O, frees everything. */
void proxy_destroy(struct proxy *px);
/* The routes and backends of a new generation (NULL: none, every request
 * gets 404). The previous pools retire: idle connections close now, busy
 * ones when their exchange ends. `c` must stay valid until the next call. */
RG_MUST_CHECK int proxy_set_conf(struct proxy *px, const struct proxy_conf *c);
/* quic_request_fn; ctx is the struct proxy. */
int proxy_request(void *ctx, struct quic_stream *s, const struct quic_request *req);
uint64_t proxy_next_expiry(struct proxy *px);
void proxy_handle_expiry(struct proxy *px, uint64_t now);
/* Copy this worker's per-server figures into the conf's stats slots, and
 * the pools' sizes and high-water marks into the counters (the stats
 * snapshot, every ~100 ms: not per request). */
void proxy_stats_publish(struct proxy *px);
const struct proxy_counters *proxy_counters(const struct proxy *px);
/* The access log (accesslog.h) of the generation in force: its fd (-1:
 * off), owned by the generation; the lines waiting go to the previous fd
 * first. Call before the worker announces the new generation. */
void proxy_access_log(struct proxy *px, int fd);
/* Write the lines waiting (one write(2)): at the end of the loop turn. */
void proxy_access_log_flush(struct proxy *px);
/* The access log's line for an answer a front end made itself, before or
 * without the proxy's exchange: a head it refused (HTTP/1.1 400, 414, 431,
 * 501, 408 header timeout; HTTP/2 and HTTP/3 400 and 431; HTTP/3 425 for
 * 0-RTT on a client_auth vhost) and [redirect]'s 308, 400, 404, 414, 421.
 * proto: "h3", "h2", "http/1.1" (static). req: what the front end knows,
 * as it would hand it to on_request: peer, sni, authority (else a Host
 * field among headers), method, path, tls_version, tls_group,
 * tls_resumed, early_data; a NULL pointer is what it does not know
 * (method and path of an unparsable head) and is logged "-" (path ""),
 * like upstream and route ("-"), rx_bytes, tx_bytes and duration_ms (0).
 * Nothing is done while the log is off (one branch); no allocation, no
 * system call (the line joins the worker's buffer, alog_add). */
void proxy_log_answer(struct proxy *px, const char *proto, const struct quic_request *req,
                      unsigned status);
/* Is the access log on? (a front end's one branch before it gathers more) */
bool proxy_access_log_on(const struct proxy *px);
/* The hook of quic_params.on_answer (h3front.c); ctx is the struct proxy. */
void proxy_answer_h3(void *ctx, const struct quic_request *req, unsigned status);

#endif
