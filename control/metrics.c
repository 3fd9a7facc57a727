/* The /metrics tables and their renderer (metrics.h says why one table). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/metrics.h"

/* The offset of field f of struct S, which must be a uint64_t: a row that
 * names anything else does not compile (its array size would be -1). */
#define OFF(S, f)                                                                                  \
	(offsetof(struct S, f) +                                                                   \
	 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((struct S *)0)->f), uint64_t) ? 1 : -1]))
/* The same for an array of uint64_t, and its element count. */
#define AOFF(S, f) OFF(S, f[0])
#define ALEN(S, f) ((unsigned)(sizeof(((struct S *)0)->f) / sizeof(uint64_t)))

/* Per-worker rows, over struct worker_stats. */
#define ONE(nm, ty, hl, f) {.name = nm, .type = METRIC_##ty, .help = hl, .off = OFF(worker_stats, f)}
#define FIX(nm, ty, hl, f, lbl)                                                                    \
	{.name = nm, .type = METRIC_##ty, .help = hl, .off = OFF(worker_stats, f), .fixed = lbl}
#define ARR(nm, ty, hl, f, fx, k, fn)                                                              \
	{.name = nm, .type = METRIC_##ty, .help = hl, .off = AOFF(worker_stats, f), .fixed = fx,    \
	 .array = &(const struct metric_array){.key = k, .n = ALEN(worker_stats, f), .name = fn}}

/* Label values of the enum-indexed arrays: the modules' own names. */
static const char *kind_label(unsigned k)
{
	return listener_kind_name((enum listener_kind)k);
}
static const char *ring_drop_label(unsigned k)
{
	return ring_drop_name((enum ring_drop)k);
}
static const char *dp_drop_label(unsigned k)
{
	return dp_drop_name((enum dp_drop)k);
}
static const char *quic_drop_label(unsigned k)
{
	return quic_drop_name((enum quic_drop)k);
}
static const char *tunnel_rx_label(unsigned k)
{
	return tunnel_rx_verdict_name((enum tunnel_rx_verdict)k);
}
static const char *tunnel_tx_label(unsigned k)
{
	return tunnel_tx_verdict_name((enum tunnel_tx_verdict)k);
}

/* issue 9: why HTTP/1.1 and HTTP/2 connections ended (h1conn.h, h2.h) */
static const char *h1_end_label(unsigned k)
{
	static const char *const n[H1_END_MAX] = {
		[H1_END_NONE] = "none", [H1_END_CLOSE] = "close", [H1_END_BAD_REQUEST] = "bad_request",
		[H1_END_HEAD_TOO_LARGE] = "head_too_large", [H1_END_HEADER_TIMEOUT] = "header_timeout",
		[H1_END_IDLE] = "idle", [H1_END_BODY_TIMEOUT] = "body_timeout", [H1_END_RESET] = "reset",
		[H1_END_SHUTDOWN] = "shutdown",
	};
	return k < H1_END_MAX && n[k] ? n[k] : "other";
}
static const char *h2_end_label(unsigned k)
{
	static const char *const n[H2_END_MAX] = {
		[H2_END_NONE] = "none", [H2_END_BAD_PREFACE] = "bad_preface", [H2_END_RAPID_RESET] = "rapid_reset",
		[H2_END_HEADER_BLOCK] = "header_block", [H2_END_CONTINUATIONS] = "continuations",
		[H2_END_ACK_FLOOD] = "ack_flood", [H2_END_SETTINGS] = "settings", [H2_END_EMPTY_DATA] = "empty_data",
		[H2_END_MEMORY] = "memory", [H2_END_PROTOCOL] = "protocol", [H2_END_IDLE] = "idle",
	};
	return k < H2_END_MAX && n[k] ? n[k] : "other";
}

static const struct metric_hist latency_hist = {
	.n = ALEN(worker_stats, proxy.latency_buckets),
	.bounds = proxy_latency_bounds_us,
	.sum_off = OFF(worker_stats, proxy.latency_sum_us),
	.count_off = OFF(worker_stats, proxy.latency_count),
	.scale = 1e6,
};

/* The order is the output order (kept from before the table existed, so
 * that the document diffs cleanly across versions). */
const struct metric_desc metrics_worker[] = {
	ONE("rx_datagrams_total", COUNTER, "UDP datagrams received.", ring.rx_dgrams),
	ONE("rx_bytes_total", COUNTER, "UDP payload bytes received.", ring.rx_bytes),
	ONE("tx_datagrams_total", COUNTER, "UDP datagrams sent.", ring.tx_dgrams),
	ONE("tx_bytes_total", COUNTER, "UDP payload bytes sent.", ring.tx_bytes),
	ONE("rx_calls_total", COUNTER, "Receive completions or calls.", ring.rx_calls),
	ONE("tx_calls_total", COUNTER, "Send system calls or io_uring send submissions.", ring.tx_calls),
	ONE("tx_runs_total", COUNTER, "Send messages, one per GSO run of datagrams.", ring.tx_runs),
	ONE("gso_fallbacks_total", COUNTER, "GSO runs resent without GSO after EIO.", ring.tx_gso_fallbacks),
	ONE("loop_turns_total", COUNTER, "Worker loop turns.", turns),
	ONE("worker_sockets", GAUGE, "UDP sockets owned by the worker.", n_socks),
	ONE("worker_generation", GAUGE, "Configuration generation the worker holds.", gen_id),
	ARR("rx_datagrams_by_listener_total", COUNTER, "Datagrams received by listener kind.", rx_by_kind,
	    NULL, "listener", kind_label),
	FIX("quic_handshakes_total", COUNTER, "QUIC handshakes by result.", quic.handshakes_started,
	    "result=\"started\""),
	FIX("quic_handshakes_total", COUNTER, "QUIC handshakes by result.", quic.handshakes_completed,
	    "result=\"completed\""),
	FIX("quic_handshakes_total", COUNTER, "QUIC handshakes by result.", quic.handshakes_failed,
	    "result=\"failed\""),
	ONE("quic_connections", GAUGE, "QUIC connections open.", quic.conns_open),
	ONE("quic_connections_handshaking", GAUGE, "QUIC connections still in handshake.", quic.conns_handshaking),
	ONE("http_requests_total", COUNTER, "HTTP/3 requests received.", quic.requests),
	ONE("proxy_requests_total", COUNTER, "HTTP/3 requests handed to the reverse proxy.", proxy.requests),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.bad_target,
	    "status=\"400\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.no_route,
	    "status=\"404\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.too_large,
	    "status=\"413_431\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.bad_gateway,
	    "status=\"502\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.unavailable,
	    "status=\"503\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.gateway_timeout,
	    "status=\"504\""),
	FIX("proxy_errors_total", COUNTER, "Answers the proxy made itself, by status.", proxy.upstream_resets,
	    "status=\"reset\""),
	{.name = "http_request_duration_seconds", .type = METRIC_HISTOGRAM,
	 .help = "Proxied HTTP/3 requests, from the request head to the end of the response.",
	 .off = AOFF(worker_stats, proxy.latency_buckets), .hist = &latency_hist},
	ONE("tunnel_sessions", GAUGE, "Tunnel peers with a session on the worker.", tunnel_sessions),
	ONE("tunnel_session_capacity", GAUGE, "Tunnel sessions the worker has room for.", tunnel_capacity),
	ONE("tunnel_handoffs_sent_total", COUNTER,
	    "Tunnel datagrams handed to the worker owning their session (roamed peers).", tunnel_handoffs_out),
	ONE("tunnel_handoffs_received_total", COUNTER, "Tunnel datagrams handed over by another worker.",
	    tunnel_handoffs_in),
	ONE("tunnel_handoffs_dropped_total", COUNTER, "Tunnel hand-offs dropped (owner's channel full).",
	    tunnel_handoffs_dropped),
	ONE("proxy_upstream_connections", GAUGE, "Open backend connections.", proxy.conns_open),
	ONE("proxy_upstream_connects_total", COUNTER, "Backend connections opened.", proxy.conns_opened),
	ONE("proxy_upstream_reuses_total", COUNTER, "Requests sent on a kept-alive connection.", proxy.conns_reused),
	FIX("proxy_pool_objects", GAUGE, "Objects a proxy pool allocated and keeps for reuse, by pool.",
	    proxy.pool_exchanges, "pool=\"exchange\""),
	FIX("proxy_pool_objects", GAUGE, "Objects a proxy pool allocated and keeps for reuse, by pool.",
	    proxy.pool_bodies, "pool=\"body\""),
	FIX("proxy_pool_objects", GAUGE, "Objects a proxy pool allocated and keeps for reuse, by pool.",
	    proxy.pool_chunks, "pool=\"chunk\""),
	FIX("proxy_pool_high_water", GAUGE, "Most objects of a proxy pool in use at once, by pool.",
	    proxy.pool_exchanges_high, "pool=\"exchange\""),
	FIX("proxy_pool_high_water", GAUGE, "Most objects of a proxy pool in use at once, by pool.",
	    proxy.pool_bodies_high, "pool=\"body\""),
	FIX("proxy_pool_high_water", GAUGE, "Most objects of a proxy pool in use at once, by pool.",
	    proxy.pool_chunks_high, "pool=\"chunk\""),
	ONE("access_log_dropped_total", COUNTER,
	    "Access log lines lost to a failed or short write ([appliance] access_log).", proxy.access_log_dropped),
	ONE("http_requests_0rtt_total", COUNTER, "HTTP/3 requests received in 0-RTT.", quic.requests_0rtt),
	ONE("quic_handshakes_resumed_total", COUNTER, "QUIC handshakes resumed with a ticket.",
	    quic.handshakes_resumed),
	ONE("quic_0rtt_accepted_total", COUNTER, "QUIC 0-RTT early data accepted.", quic.zero_rtt_accepted),
	ONE("quic_0rtt_rejected_total", COUNTER, "QUIC 0-RTT early data offered and refused.", quic.zero_rtt_rejected),
	ONE("quic_tickets_issued_total", COUNTER, "TLS session tickets sent.", quic.tickets_issued),
	ONE("quic_tokens_issued_total", COUNTER, "QUIC NEW_TOKEN tokens sent.", quic.tokens_issued),
	ONE("quic_tokens_accepted_total", COUNTER, "QUIC Initials with a valid NEW_TOKEN token.", quic.tokens_accepted),
	ONE("quic_tokens_rejected_total", COUNTER, "QUIC NEW_TOKEN tokens that did not verify.", quic.tokens_rejected),
	ONE("quic_handoffs_sent_total", COUNTER, "QUIC datagrams handed to the CID's owner worker.",
	    quic.handoffs_sent),
	ONE("quic_handoffs_received_total", COUNTER, "QUIC datagrams handed over by another worker.",
	    quic.handoffs_received),
	ONE("quic_handoffs_dropped_total", COUNTER, "QUIC hand-offs dropped (owner's channel full).",
	    quic.handoffs_dropped),
	ONE("quic_path_migrations_total", COUNTER, "QUIC paths validated after a client moved.", quic.path_migrations),
	ONE("quic_qlog_files_total", COUNTER, "qlog files opened.", quic.qlog_files),
	ONE("quic_qlog_errors_total", COUNTER, "qlog files that could not be opened or written.", quic.qlog_errors),
	ONE("quic_conns_v2_total", COUNTER, "QUIC connections that speak version 2 (RFC 9369).", quic.conns_v2),
	ONE("quic_ecn_validated_paths_total", COUNTER, "QUIC paths whose ECN marking was validated (RFC 9000 13.4.2).",
	    quic.ecn_validated_paths),
	ONE("quic_rx_ecn_ect_total", COUNTER, "QUIC datagrams received with ECT(0) or ECT(1).", quic.rx_ecn_ect),
	ONE("quic_rx_ecn_ce_total", COUNTER, "QUIC datagrams received with CE (congestion experienced).",
	    quic.rx_ecn_ce),
	ONE("quic_tx_ecn_ect_total", COUNTER, "QUIC packets sent with an ECT codepoint.", quic.tx_ecn_ect),
	ONE("quic_handshake_timeouts_total", COUNTER, "QUIC handshakes dropped at [quic] handshake_timeout.",
	    quic.handshake_timeouts),
	ONE("quic_key_updates_total", COUNTER, "QUIC 1-RTT key updates (RFC 9001 6).", quic.key_updates),
	ONE("quic_client_cert_refused_total", COUNTER,
	    "QUIC handshakes refused for their client certificate (none when required, or unverified).",
	    quic.client_cert_refused),
	FIX("http_responses_total", COUNTER, "HTTP/3 responses by status class.", quic.responses_2xx, "class=\"2xx\""),
	FIX("http_responses_total", COUNTER, "HTTP/3 responses by status class.", quic.responses_4xx, "class=\"4xx\""),
	FIX("http_responses_total", COUNTER, "HTTP/3 responses by status class.", quic.responses_5xx, "class=\"5xx\""),
	ARR("tunnel_rx_total", COUNTER, "Tunnel datagrams received, by verdict.", tunnel_rx, NULL, "verdict",
	    tunnel_rx_label),
	ARR("tunnel_tx_total", COUNTER, "Tunnel packets to send, by verdict.", tunnel_tx, NULL, "verdict",
	    tunnel_tx_label),
	ONE("tun_reads_total", COUNTER, "TUN queue reads (super-packets).", tun_reads),
	ONE("tun_read_bytes_total", COUNTER, "Bytes read from the TUN queue.", tun_read_bytes),
	ONE("tun_segments_total", COUNTER, "Inner packets after segmentation of TUN reads.", tun_segments),
	ONE("tun_writes_total", COUNTER, "Writes to the TUN queue (a coalesced super-packet is one).", tun_writes),
	ONE("tun_write_bytes_total", COUNTER, "Bytes written to the TUN queue.", tun_write_bytes),
	ONE("tun_sync_writes_total", COUNTER, "TUN writes done with writev(2) by the worker: all of them, in order.",
	    tun_sync_writes),
	ONE("tun_coalesced_writes_total", COUNTER,
	    "TUN writes that were TCP super-packets of coalesced decrypted segments.", tun_coalesced_writes),
	ONE("tun_coalesced_segments_total", COUNTER, "Decrypted TCP segments merged into coalesced TUN writes.",
	    tun_coalesced_segments),
	ONE("tun_errors_total", COUNTER, "TUN reads or writes the kernel refused.", tun_errors),
	ONE("tun_handoff_out_total", COUNTER, "TUN reads handed to the worker owning the peer.", handoff_out),
	ONE("tun_handoff_in_total", COUNTER, "TUN reads taken over from other workers.", handoff_in),
	ARR("drops_total", COUNTER, "Datagrams dropped, by layer and reason.", ring.drops, "layer=\"ring\"",
	    "reason", ring_drop_label),
	ARR("drops_total", COUNTER, "Datagrams dropped, by layer and reason.", drops, "layer=\"datapath\"",
	    "reason", dp_drop_label),
	ARR("drops_total", COUNTER, "Datagrams dropped, by layer and reason.", quic.drops, "layer=\"quic\"",
	    "reason", quic_drop_label),
	ARR("tls_handshakes_total", COUNTER, "TLS handshakes completed, by protocol and key-exchange group.",
	    quic.tls_groups, "proto=\"quic\"", "group", tls_group_label),
	ARR("tls_handshakes_total", COUNTER, "TLS handshakes completed, by protocol and key-exchange group.",
	    tls_tcp.groups, "proto=\"tcp\"", "group", tls_group_label),
	FIX("tls_pq_refused_total", COUNTER, "TLS handshakes refused by pq = require (no hybrid group offered).",
	    quic.tls_pq_refused, "proto=\"quic\""),
	FIX("tls_pq_refused_total", COUNTER, "TLS handshakes refused by pq = require (no hybrid group offered).",
	    tls_tcp.pq_refused, "proto=\"tcp\""),
	/* HTTPS over TCP (issue 9) */
	ONE("https_connections_accepted_total", COUNTER, "TCP connections accepted ([https] and [redirect]).",
	    https.accepted),
	ONE("https_connections", GAUGE, "TCP connections open.", https.open),
	ONE("https_connections_refused_total", COUNTER, "TCP connections closed at once: max_connections, none idle.",
	    https.refused_full),
	ONE("https_connections_closed_idle_total", COUNTER,
	    "Idle keep-alive TCP connections closed to make room for a new one.", https.closed_idle_for_room),
	ONE("https_connections_closed_total", COUNTER, "TCP connections closed.", https.closed),
	ONE("https_accept_errors_total", COUNTER, "Accepts refused by the kernel (EMFILE, ENFILE, ENOBUFS, ENOMEM).",
	    https.accept_errors),
	ONE("https_handshake_timeouts_total", COUNTER, "TLS handshakes over TCP closed at handshake_timeout.",
	    https.handshake_timeouts),
	ONE("https_redirect_connections_total", COUNTER, "TCP connections accepted on [redirect] listeners.",
	    https.redirect_accepted),
	FIX("https_connections_by_protocol_total", COUNTER, "TCP connections by the HTTP version ALPN chose.",
	    https.conns_h1, "protocol=\"1.1\""),
	FIX("https_connections_by_protocol_total", COUNTER, "TCP connections by the HTTP version ALPN chose.",
	    https.conns_h2, "protocol=\"2\""),
	ONE("tls_tcp_handshakes_completed_total", COUNTER, "TLS handshakes over TCP completed.", tls_tcp.handshakes),
	ONE("tls_tcp_handshakes_resumed_total", COUNTER, "TLS handshakes over TCP resumed with a ticket.",
	    tls_tcp.handshakes_resumed),
	ONE("tls_tcp_handshakes_tls12_total", COUNTER, "TLS handshakes over TCP that negotiated TLS 1.2.",
	    tls_tcp.handshakes_tls12),
	ONE("tls_tcp_handshake_failures_total", COUNTER, "TLS handshakes over TCP refused or failed.",
	    tls_tcp.handshake_failures),
	ONE("tls_tcp_unknown_sni_total", COUNTER, "TLS handshakes over TCP for a name no vhost serves there.",
	    tls_tcp.unknown_sni),
	ONE("tls_tcp_client_cert_refused_total", COUNTER,
	    "TLS handshakes over TCP refused for their client certificate (none when required, or unverified).",
	    tls_tcp.client_cert_refused),
	ONE("tls_tcp_alpn_refused_total", COUNTER, "TLS handshakes over TCP offering ALPN but neither h2 nor http/1.1.",
	    tls_tcp.alpn_refused),
	FIX("https_requests_total", COUNTER, "Requests over TCP by protocol.", h1.requests, "protocol=\"1.1\""),
	FIX("https_requests_total", COUNTER, "Requests over TCP by protocol.", h2.requests, "protocol=\"2\""),
	FIX("https_protocol_connections_opened_total", COUNTER, "HTTP connections over TCP made, by protocol.",
	    h1.conns_opened, "protocol=\"1.1\""),
	FIX("https_protocol_connections_opened_total", COUNTER, "HTTP connections over TCP made, by protocol.",
	    h2.conns_opened, "protocol=\"2\""),
	FIX("https_protocol_connections_closed_total", COUNTER, "HTTP connections over TCP ended, by protocol.",
	    h1.conns_closed, "protocol=\"1.1\""),
	FIX("https_protocol_connections_closed_total", COUNTER, "HTTP connections over TCP ended, by protocol.",
	    h2.conns_closed, "protocol=\"2\""),
	ONE("https_h1_pipelined_total", COUNTER, "HTTP/1.1 requests that waited behind another (pipelining).",
	    h1.pipelined),
	ONE("https_h1_keepalive_reuse_total", COUNTER, "HTTP/1.1 requests after the first on a connection.",
	    h1.keepalive_reuse),
	ARR("https_connection_ends_total", COUNTER, "HTTP connections over TCP ended, by protocol and reason.",
	    h1.ended, "protocol=\"1.1\"", "reason", h1_end_label),
	ARR("https_connection_ends_total", COUNTER, "HTTP connections over TCP ended, by protocol and reason.",
	    h2.ended, "protocol=\"2\"", "reason", h2_end_label),
	ONE("https_h2_streams_reset_by_peer_total", COUNTER, "HTTP/2 RST_STREAM frames received.",
	    h2.streams_reset_by_peer),
	ONE("https_h2_streams_malformed_total", COUNTER, "HTTP/2 streams refused as malformed (RFC 9113 8.1.1).",
	    h2.streams_refused_malformed),
	ONE("https_h2_headers_too_large_total", COUNTER, "HTTP/2 requests answered 431.", h2.headers_too_large),
	ONE("https_h2_goaway_graceful_total", COUNTER, "HTTP/2 graceful GOAWAYs sent (drain, reload).",
	    h2.goaway_graceful),
	ONE("https_h2_abuse_rx_frames_total", COUNTER, "Frames received on HTTP/2 connections ended for abuse.",
	    h2.abuse_rx_frames),
	ONE("https_h2_abuse_rx_bytes_total", COUNTER, "Bytes received on HTTP/2 connections ended for abuse.",
	    h2.abuse_rx_bytes),
};
const unsigned metrics_worker_n = sizeof(metrics_worker) / sizeof(metrics_worker[0]);

/* Process-wide rows, over struct metrics_proc. */
#define PONE(nm, ty, hl, f) {.name = nm, .type = METRIC_##ty, .help = hl, .off = OFF(metrics_proc, f)}
#define PFIX(nm, ty, hl, f, lbl)                                                                   \
	{.name = nm, .type = METRIC_##ty, .help = hl, .off = OFF(metrics_proc, f), .fixed = lbl}

const struct metric_desc metrics_process[] = {
	PFIX("build_info", GAUGE, "Version of the running appliance.", build_info, "version=\"" RG_VERSION "\""),
	PONE("uptime_seconds", GAUGE, "Seconds since start.", uptime_seconds),
	PONE("workers", GAUGE, "Worker threads.", workers),
	PONE("config_generation", GAUGE, "Id of the configuration generation in force.", config_generation),
	PFIX("reloads_total", COUNTER, "Configuration reloads by result.", reloads_ok, "result=\"ok\""),
	PFIX("reloads_total", COUNTER, "Configuration reloads by result.", reloads_failed, "result=\"failed\""),
};
const unsigned metrics_process_n = sizeof(metrics_process) / sizeof(metrics_process[0]);

const char *metric_type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static uint64_t word(const void *base, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

/* "{worker="i",FIXED,KEY="VAL"}" with the parts that exist; nothing at all
 * when none does. worker < 0: process-wide. */
static void labels(FILE *f, long worker, const char *fixed, const char *key, const char *val)
{
	const char *sep = "{";
	if (worker >= 0) {
		fprintf(f, "%sworker=\"%ld\"", sep, worker);
		sep = ",";
	}
	if (fixed) {
		fprintf(f, "%s%s", sep, fixed);
		sep = ",";
	}
	if (key) {
		fprintf(f, "%s%s=\"%s\"", sep, key, val);
		sep = ",";
	}
	if (sep[0] == ',')
		fputc('}', f);
}

static void hist(FILE *f, const struct metric_desc *d, const void *base, long worker)
{
	const struct metric_hist *h = d->hist;
	uint64_t cum = 0;
	char le[32];
	for (unsigned k = 0; k < h->n; k++) {
		cum += word(base, d->off + k * sizeof(uint64_t));
		if (k + 1 < h->n)
			snprintf(le, sizeof(le), "%g", (double)h->bounds[k] / h->scale);
		else
			snprintf(le, sizeof(le), "+Inf");
		fprintf(f, "ringgate_%s_bucket", d->name);
		labels(f, worker, d->fixed, "le", le);
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "ringgate_%s_sum", d->name);
	labels(f, worker, d->fixed, NULL, NULL);
	fprintf(f, " %.6f\n", (double)word(base, h->sum_off) / h->scale);
	fprintf(f, "ringgate_%s_count", d->name);
	labels(f, worker, d->fixed, NULL, NULL);
	fprintf(f, " %llu\n", (unsigned long long)word(base, h->count_off));
}

static void sample(FILE *f, const struct metric_desc *d, const void *base, long worker)
{
	if (d->hist) {
		hist(f, d, base, worker);
		return;
	}
	unsigned n = d->array ? d->array->n : 1;
	for (unsigned k = 0; k < n; k++) {
		fprintf(f, "ringgate_%s", d->name);
		labels(f, worker, d->fixed, d->array ? d->array->key : NULL,
		       d->array ? d->array->name(k) : NULL);
		fprintf(f, " %llu\n", (unsigned long long)word(base, d->off + k * sizeof(uint64_t)));
	}
}

/* One table: each run of rows with the same name is a metric; HELP and
 * TYPE once, then for each instance (worker, or the process) the samples
 * of the run's rows. */
static void table(FILE *f, const struct metric_desc *t, unsigned nt, const void *base, size_t stride,
                  unsigned n_inst, bool per_worker)
{
	for (unsigned g = 0; g < nt;) {
		unsigned e = g + 1;
		while (e < nt && !strcmp(t[e].name, t[g].name))
			e++;
		fprintf(f, "# HELP ringgate_%s %s\n# TYPE ringgate_%s %s\n", t[g].name, t[g].help, t[g].name,
		        metric_type_name(t[g].type));
		for (unsigned i = 0; i < n_inst; i++)
			for (unsigned r = g; r < e; r++)
				sample(f, &t[r], (const char *)base + i * stride, per_worker ? (long)i : -1);
		g = e;
	}
}

int metrics_render(const struct metrics_proc *p, const struct worker_stats *st, unsigned n_workers,
                   char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return -ENOMEM;
	table(f, metrics_process, metrics_process_n, p, sizeof(*p), 1, false);
	table(f, metrics_worker, metrics_worker_n, st, sizeof(*st), n_workers, true);
	bool bad = ferror(f);
	if (fclose(f) || bad) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
