/* The /metrics renderer as it was before the table (control/api.c at
 * 189d481), frozen here as the model test_metrics.c compares against:
 * every line it prints must still be printed, in the same order. Do not
 * add metrics here; new rows of control/metrics.c need nothing in this
 * file (the comparison is "every legacy line is still there"). */
#include <stdio.h>

#include "control/metrics.h"
#include "tests/control/metrics_legacy.h"

static void metric_head(FILE *b, const char *name, const char *type, const char *help)
{
	fprintf(b, "# HELP ringgate_%s %s\n# TYPE ringgate_%s %s\n", name, help, name, type);
}

void metrics_legacy_render(FILE *b, const struct metrics_proc *p, const struct worker_stats *st,
                           unsigned n_workers)
{
	metric_head(b, "build_info", "gauge", "Version of the running appliance.");
	fprintf(b, "ringgate_build_info{version=\"%s\"} 1\n", RG_VERSION);
	metric_head(b, "uptime_seconds", "gauge", "Seconds since start.");
	fprintf(b, "ringgate_uptime_seconds %llu\n", (unsigned long long)p->uptime_seconds);
	metric_head(b, "workers", "gauge", "Worker threads.");
	fprintf(b, "ringgate_workers %u\n", (unsigned)p->workers);
	metric_head(b, "config_generation", "gauge", "Id of the configuration generation in force.");
	fprintf(b, "ringgate_config_generation %llu\n", (unsigned long long)p->config_generation);
	metric_head(b, "reloads_total", "counter", "Configuration reloads by result.");
	fprintf(b, "ringgate_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)p->reloads_ok);
	fprintf(b, "ringgate_reloads_total{result=\"failed\"} %llu\n", (unsigned long long)p->reloads_failed);

#define PER_WORKER(name, type, help, expr)                                                                   \
	do {                                                                                                 \
		metric_head(b, name, type, help);                                                            \
		for (unsigned i = 0; i < n_workers; i++)                                                     \
			fprintf(b, "ringgate_" name "{worker=\"%u\"} %llu\n", i, (unsigned long long)(expr)); \
	} while (0)
	PER_WORKER("rx_datagrams_total", "counter", "UDP datagrams received.", st[i].ring.rx_dgrams);
	PER_WORKER("rx_bytes_total", "counter", "UDP payload bytes received.", st[i].ring.rx_bytes);
	PER_WORKER("tx_datagrams_total", "counter", "UDP datagrams sent.", st[i].ring.tx_dgrams);
	PER_WORKER("tx_bytes_total", "counter", "UDP payload bytes sent.", st[i].ring.tx_bytes);
	PER_WORKER("rx_calls_total", "counter", "Receive completions or calls.", st[i].ring.rx_calls);
	PER_WORKER("tx_calls_total", "counter", "Send system calls or io_uring send submissions.", st[i].ring.tx_calls);
	PER_WORKER("tx_runs_total", "counter", "Send messages, one per GSO run of datagrams.", st[i].ring.tx_runs);
	PER_WORKER("gso_fallbacks_total", "counter", "GSO runs resent without GSO after EIO.",
	           st[i].ring.tx_gso_fallbacks);
	PER_WORKER("loop_turns_total", "counter", "Worker loop turns.", st[i].turns);
	PER_WORKER("worker_sockets", "gauge", "UDP sockets owned by the worker.", st[i].n_socks);
	PER_WORKER("worker_generation", "gauge", "Configuration generation the worker holds.", st[i].gen_id);

	metric_head(b, "rx_datagrams_by_listener_total", "counter", "Datagrams received by listener kind.");
	for (unsigned i = 0; i < n_workers; i++)
		for (unsigned k = 0; k < LISTENER_KIND_MAX; k++)
			fprintf(b, "ringgate_rx_datagrams_by_listener_total{worker=\"%u\",listener=\"%s\"} %llu\n", i,
			        listener_kind_name((enum listener_kind)k), (unsigned long long)st[i].rx_by_kind[k]);
	metric_head(b, "quic_handshakes_total", "counter", "QUIC handshakes by result.");
	for (unsigned i = 0; i < n_workers; i++) {
		static const char *const res[] = {"started", "completed", "failed"};
		const uint64_t v[] = {st[i].quic.handshakes_started, st[i].quic.handshakes_completed,
		                      st[i].quic.handshakes_failed};
		for (unsigned k = 0; k < 3; k++)
			fprintf(b, "ringgate_quic_handshakes_total{worker=\"%u\",result=\"%s\"} %llu\n", i, res[k],
			        (unsigned long long)v[k]);
	}
	PER_WORKER("quic_connections", "gauge", "QUIC connections open.", st[i].quic.conns_open);
	PER_WORKER("quic_connections_handshaking", "gauge", "QUIC connections still in handshake.",
	           st[i].quic.conns_handshaking);
	PER_WORKER("http_requests_total", "counter", "HTTP/3 requests received.", st[i].quic.requests);
	PER_WORKER("proxy_requests_total", "counter", "HTTP/3 requests handed to the reverse proxy.",
	           st[i].proxy.requests);
	metric_head(b, "proxy_errors_total", "counter", "Answers the proxy made itself, by status.");
	for (unsigned i = 0; i < n_workers; i++) {
		static const char *const code[] = {"404", "413_431", "502", "503", "504", "reset"};
		const uint64_t v[] = {st[i].proxy.no_route,    st[i].proxy.too_large,       st[i].proxy.bad_gateway,
		                      st[i].proxy.unavailable, st[i].proxy.gateway_timeout, st[i].proxy.upstream_resets};
		for (unsigned k = 0; k < 6; k++)
			fprintf(b, "ringgate_proxy_errors_total{worker=\"%u\",status=\"%s\"} %llu\n", i, code[k],
			        (unsigned long long)v[k]);
	}
	metric_head(b, "http_request_duration_seconds", "histogram",
	            "Proxied HTTP/3 requests, from the request head to the end of the response.");
	for (unsigned i = 0; i < n_workers; i++) {
		uint64_t cum = 0;
		for (unsigned k = 0; k < PROXY_LATENCY_BUCKETS; k++) {
			cum += st[i].proxy.latency_buckets[k];
			if (k < PROXY_LATENCY_BUCKETS - 1)
				fprintf(b, "ringgate_http_request_duration_seconds_bucket{worker=\"%u\",le=\"%g\"} %llu\n", i,
				        (double)proxy_latency_bounds_us[k] / 1e6, (unsigned long long)cum);
			else
				fprintf(b, "ringgate_http_request_duration_seconds_bucket{worker=\"%u\",le=\"+Inf\"} %llu\n", i,
				        (unsigned long long)cum);
		}
		fprintf(b, "ringgate_http_request_duration_seconds_sum{worker=\"%u\"} %.6f\n", i,
		        (double)st[i].proxy.latency_sum_us / 1e6);
		fprintf(b, "ringgate_http_request_duration_seconds_count{worker=\"%u\"} %llu\n", i,
		        (unsigned long long)st[i].proxy.latency_count);
	}
	PER_WORKER("tunnel_sessions", "gauge", "Tunnel peers with a session on the worker.", st[i].tunnel_sessions);
	PER_WORKER("tunnel_session_capacity", "gauge", "Tunnel sessions the worker has room for.", st[i].tunnel_capacity);
	PER_WORKER("tunnel_handoffs_sent_total", "counter",
	           "Tunnel datagrams handed to the worker owning their session (roamed peers).", st[i].tunnel_handoffs_out);
	PER_WORKER("tunnel_handoffs_received_total", "counter", "Tunnel datagrams handed over by another worker.",
	           st[i].tunnel_handoffs_in);
	PER_WORKER("tunnel_handoffs_dropped_total", "counter", "Tunnel hand-offs dropped (owner's channel full).",
	           st[i].tunnel_handoffs_dropped);
	PER_WORKER("proxy_upstream_connections", "gauge", "Open backend connections.", st[i].proxy.conns_open);
	PER_WORKER("proxy_upstream_connects_total", "counter", "Backend connections opened.", st[i].proxy.conns_opened);
	PER_WORKER("proxy_upstream_reuses_total", "counter", "Requests sent on a kept-alive connection.",
	           st[i].proxy.conns_reused);
	PER_WORKER("http_requests_0rtt_total", "counter", "HTTP/3 requests received in 0-RTT.", st[i].quic.requests_0rtt);
	PER_WORKER("quic_handshakes_resumed_total", "counter", "QUIC handshakes resumed with a ticket.",
	           st[i].quic.handshakes_resumed);
	PER_WORKER("quic_0rtt_accepted_total", "counter", "QUIC 0-RTT early data accepted.", st[i].quic.zero_rtt_accepted);
	PER_WORKER("quic_0rtt_rejected_total", "counter", "QUIC 0-RTT early data offered and refused.",
	           st[i].quic.zero_rtt_rejected);
	PER_WORKER("quic_tickets_issued_total", "counter", "TLS session tickets sent.", st[i].quic.tickets_issued);
	PER_WORKER("quic_tokens_issued_total", "counter", "QUIC NEW_TOKEN tokens sent.", st[i].quic.tokens_issued);
	PER_WORKER("quic_tokens_accepted_total", "counter", "QUIC Initials with a valid NEW_TOKEN token.",
	           st[i].quic.tokens_accepted);
	PER_WORKER("quic_tokens_rejected_total", "counter", "QUIC NEW_TOKEN tokens that did not verify.",
	           st[i].quic.tokens_rejected);
	PER_WORKER("quic_handoffs_sent_total", "counter", "QUIC datagrams handed to the CID's owner worker.",
	           st[i].quic.handoffs_sent);
	PER_WORKER("quic_handoffs_received_total", "counter", "QUIC datagrams handed over by another worker.",
	           st[i].quic.handoffs_received);
	PER_WORKER("quic_handoffs_dropped_total", "counter", "QUIC hand-offs dropped (owner's channel full).",
	           st[i].quic.handoffs_dropped);
	PER_WORKER("quic_path_migrations_total", "counter", "QUIC paths validated after a client moved.",
	           st[i].quic.path_migrations);
	PER_WORKER("quic_qlog_files_total", "counter", "qlog files opened.", st[i].quic.qlog_files);
	PER_WORKER("quic_qlog_errors_total", "counter", "qlog files that could not be opened or written.",
	           st[i].quic.qlog_errors);
	metric_head(b, "http_responses_total", "counter", "HTTP/3 responses by status class.");
	for (unsigned i = 0; i < n_workers; i++) {
		static const char *const cls[] = {"2xx", "4xx", "5xx"};
		const uint64_t v[] = {st[i].quic.responses_2xx, st[i].quic.responses_4xx, st[i].quic.responses_5xx};
		for (unsigned k = 0; k < 3; k++)
			fprintf(b, "ringgate_http_responses_total{worker=\"%u\",class=\"%s\"} %llu\n", i, cls[k],
			        (unsigned long long)v[k]);
	}
	metric_head(b, "tunnel_rx_total", "counter", "Tunnel datagrams received, by verdict.");
	for (unsigned i = 0; i < n_workers; i++)
		for (unsigned v = 0; v < TUNNEL_RX__COUNT; v++)
			fprintf(b, "ringgate_tunnel_rx_total{worker=\"%u\",verdict=\"%s\"} %llu\n", i,
			        tunnel_rx_verdict_name((enum tunnel_rx_verdict)v), (unsigned long long)st[i].tunnel_rx[v]);
	metric_head(b, "tunnel_tx_total", "counter", "Tunnel packets to send, by verdict.");
	for (unsigned i = 0; i < n_workers; i++)
		for (unsigned v = 0; v < TUNNEL_TX__COUNT; v++)
			fprintf(b, "ringgate_tunnel_tx_total{worker=\"%u\",verdict=\"%s\"} %llu\n", i,
			        tunnel_tx_verdict_name((enum tunnel_tx_verdict)v), (unsigned long long)st[i].tunnel_tx[v]);
	PER_WORKER("tun_reads_total", "counter", "TUN queue reads (super-packets).", st[i].tun_reads);
	PER_WORKER("tun_read_bytes_total", "counter", "Bytes read from the TUN queue.", st[i].tun_read_bytes);
	PER_WORKER("tun_segments_total", "counter", "Inner packets after segmentation of TUN reads.", st[i].tun_segments);
	PER_WORKER("tun_writes_total", "counter", "Writes to the TUN queue (a coalesced super-packet is one).",
	           st[i].tun_writes);
	PER_WORKER("tun_write_bytes_total", "counter", "Bytes written to the TUN queue.", st[i].tun_write_bytes);
	PER_WORKER("tun_sync_writes_total", "counter", "TUN writes done with writev(2) by the worker: all of them, in order.",
	           st[i].tun_sync_writes);
	PER_WORKER("tun_coalesced_writes_total", "counter",
	           "TUN writes that were TCP super-packets of coalesced decrypted segments.", st[i].tun_coalesced_writes);
	PER_WORKER("tun_coalesced_segments_total", "counter", "Decrypted TCP segments merged into coalesced TUN writes.",
	           st[i].tun_coalesced_segments);
	PER_WORKER("tun_errors_total", "counter", "TUN reads or writes the kernel refused.", st[i].tun_errors);
	PER_WORKER("tun_handoff_out_total", "counter", "TUN reads handed to the worker owning the peer.",
	           st[i].handoff_out);
	PER_WORKER("tun_handoff_in_total", "counter", "TUN reads taken over from other workers.", st[i].handoff_in);
#undef PER_WORKER

	metric_head(b, "drops_total", "counter", "Datagrams dropped, by layer and reason.");
	for (unsigned i = 0; i < n_workers; i++) {
		for (unsigned d = 0; d < RING_DROP_MAX; d++)
			fprintf(b, "ringgate_drops_total{worker=\"%u\",layer=\"ring\",reason=\"%s\"} %llu\n", i,
			        ring_drop_name((enum ring_drop)d), (unsigned long long)st[i].ring.drops[d]);
		for (unsigned d = 0; d < DP_DROP_MAX; d++)
			fprintf(b, "ringgate_drops_total{worker=\"%u\",layer=\"datapath\",reason=\"%s\"} %llu\n", i,
			        dp_drop_name((enum dp_drop)d), (unsigned long long)st[i].drops[d]);
		for (unsigned d = 0; d < QUIC_DROP_MAX; d++)
			fprintf(b, "ringgate_drops_total{worker=\"%u\",layer=\"quic\",reason=\"%s\"} %llu\n", i,
			        quic_drop_name((enum quic_drop)d), (unsigned long long)st[i].quic.drops[d]);
	}
}
