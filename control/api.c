/* The admin API's endpoints (INTERFACE.md). Bearer tokens are compared in
 * constant time; /health is open. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/admin.h"
#include "control/app.h"
#include "control/authlimit.h"
#include "control/log.h"
#include "crypto/wgkey.h"
#include "datapath/tunnel/shard.h"

/* A growable text buffer for JSON and metrics bodies (control thread only). */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static void sb_respond(struct sbuf *b, struct admin_resp *r, int status, const char *ctype)
{
	if (b->oom) {
		free(b->p);
		admin_resp_printf(r, 500, NULL, "out of memory\n");
		return;
	}
	r->status = status;
	r->content_type = ctype;
	r->body = b->p;
	r->len = b->len;
}

/* Equal in time independent of where the strings differ. */
static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char diff = (unsigned char)(alen != blen);
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* 200 when the request may go on, else the status to answer. */
static int authorize(struct app *a, const struct admin_req *req)
{
	if (!a->admin_token)
		return 200; /* loopback admin without a token file (INTERFACE.md) */
	uint64_t now = ring_now();
	switch (authlimit_before(&a->authlimit, &req->peer, now)) {
	case AUTHLIMIT_LOCKED:
	case AUTHLIMIT_GLOBAL_BACKOFF:
		return 429;
	case AUTHLIMIT_CHECK:
		break;
	}
	const char *h = req->authorization;
	if (h && !strncmp(h, "Bearer ", 7)) {
		h += 7;
		if (ct_equal(h, strlen(h), a->admin_token, strlen(a->admin_token)))
			return 200;
	}
	authlimit_failed(&a->authlimit, &req->peer, now);
	return 401;
}

static uint64_t uptime_s(const struct app *a)
{
	return (ring_now() - a->started_ns) / 1000000000ull;
}

static void get_status(struct app *a, struct admin_resp *r)
{
	struct sbuf b = {0};
	char addr[80];
	sb_printf(&b, "{\"version\":\"%s\",\"uptime_s\":%llu,\"started\":%lld,\"workers\":%u,", RG_VERSION,
	          (unsigned long long)uptime_s(a), (long long)a->started_wall, a->n_workers);
	uint64_t gen = atomic_load(&a->pub.current) ? atomic_load(&a->pub.current)->id : 0;
	sb_printf(&b, "\"config_generation\":%llu,\"reloads\":{\"ok\":%llu,\"failed\":%llu},",
	          (unsigned long long)gen, (unsigned long long)a->reloads_ok,
	          (unsigned long long)a->reloads_failed);
	sb_printf(&b, "\"backend\":\"%s\",\"listeners\":[",
	          a->n_workers ? ring_backend_name(worker_backend(a->workers[0])) : "none");
	for (unsigned i = 0; i < a->n_listeners + a->n_dyn; i++) {
		const struct app_listener *l =
			i < a->n_listeners ? &a->listeners[i] : &a->dyn[i - a->n_listeners];
		sb_printf(&b, "%s{\"kind\":\"%s\",\"address\":\"%s\",\"bound\":%s", i ? "," : "",
		          listener_kind_name(l->kind), addr_str(&l->addr, addr, sizeof(addr)),
		          l->bound ? "true" : "false");
		if (l->ifname[0])
			sb_printf(&b, ",\"interface\":\"%s\"", l->ifname);
		sb_printf(&b, "}");
	}
	sb_printf(&b, "],\"worker_generations\":[");
	for (unsigned i = 0; i < a->n_workers; i++) {
		struct worker_stats st;
		worker_stats_read(a->workers[i], &st);
		sb_printf(&b, "%s%llu", i ? "," : "", (unsigned long long)st.gen_id);
	}
	sb_printf(&b, "]}\n");
	sb_respond(&b, r, 200, "application/json");
}

static void metric_head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP ringgate_%s %s\n# TYPE ringgate_%s %s\n", name, help, name, type);
}

static void get_metrics(struct app *a, struct admin_resp *r)
{
	struct sbuf b = {0};
	struct worker_stats *st = calloc(a->n_workers ? a->n_workers : 1, sizeof(*st));
	if (!st) {
		admin_resp_printf(r, 500, NULL, "out of memory\n");
		return;
	}
	for (unsigned i = 0; i < a->n_workers; i++)
		worker_stats_read(a->workers[i], &st[i]);

	metric_head(&b, "build_info", "gauge", "Version of the running appliance.");
	sb_printf(&b, "ringgate_build_info{version=\"%s\"} 1\n", RG_VERSION);
	metric_head(&b, "uptime_seconds", "gauge", "Seconds since start.");
	sb_printf(&b, "ringgate_uptime_seconds %llu\n", (unsigned long long)uptime_s(a));
	metric_head(&b, "workers", "gauge", "Worker threads.");
	sb_printf(&b, "ringgate_workers %u\n", a->n_workers);
	struct gen *g = atomic_load(&a->pub.current);
	metric_head(&b, "config_generation", "gauge", "Id of the configuration generation in force.");
	sb_printf(&b, "ringgate_config_generation %llu\n", (unsigned long long)(g ? g->id : 0));
	metric_head(&b, "reloads_total", "counter", "Configuration reloads by result.");
	sb_printf(&b, "ringgate_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)a->reloads_ok);
	sb_printf(&b, "ringgate_reloads_total{result=\"failed\"} %llu\n",
	          (unsigned long long)a->reloads_failed);

#define PER_WORKER(name, type, help, expr)                                                       \
	do {                                                                                       \
		metric_head(&b, name, type, help);                                                 \
		for (unsigned i = 0; i < a->n_workers; i++)                                        \
			sb_printf(&b, "ringgate_" name "{worker=\"%u\"} %llu\n", i,                \
			          (unsigned long long)(expr));                                     \
	} while (0)
	PER_WORKER("rx_datagrams_total", "counter", "UDP datagrams received.", st[i].ring.rx_dgrams);
	PER_WORKER("rx_bytes_total", "counter", "UDP payload bytes received.", st[i].ring.rx_bytes);
	PER_WORKER("tx_datagrams_total", "counter", "UDP datagrams sent.", st[i].ring.tx_dgrams);
	PER_WORKER("tx_bytes_total", "counter", "UDP payload bytes sent.", st[i].ring.tx_bytes);
	PER_WORKER("rx_calls_total", "counter", "Receive completions or calls.", st[i].ring.rx_calls);
	PER_WORKER("tx_calls_total", "counter", "Send system calls or io_uring send submissions.",
	           st[i].ring.tx_calls);
	PER_WORKER("tx_runs_total", "counter", "Send messages, one per GSO run of datagrams.",
	           st[i].ring.tx_runs);
	PER_WORKER("gso_fallbacks_total", "counter", "GSO runs resent without GSO after EIO.",
	           st[i].ring.tx_gso_fallbacks);
	PER_WORKER("loop_turns_total", "counter", "Worker loop turns.", st[i].turns);
	PER_WORKER("worker_sockets", "gauge", "UDP sockets owned by the worker.", st[i].n_socks);
	PER_WORKER("worker_generation", "gauge", "Configuration generation the worker holds.",
	           st[i].gen_id);

	metric_head(&b, "rx_datagrams_by_listener_total", "counter",
	            "Datagrams received by listener kind.");
	for (unsigned i = 0; i < a->n_workers; i++)
		for (unsigned k = 0; k < LISTENER_KIND_MAX; k++)
			sb_printf(&b, "ringgate_rx_datagrams_by_listener_total{worker=\"%u\",listener=\"%s\"} %llu\n",
			          i, listener_kind_name((enum listener_kind)k),
			          (unsigned long long)st[i].rx_by_kind[k]);
	metric_head(&b, "quic_handshakes_total", "counter", "QUIC handshakes by result.");
	for (unsigned i = 0; i < a->n_workers; i++) {
		static const char *const res[] = {"started", "completed", "failed"};
		const uint64_t v[] = {st[i].quic.handshakes_started, st[i].quic.handshakes_completed,
		                      st[i].quic.handshakes_failed};
		for (unsigned k = 0; k < 3; k++)
			sb_printf(&b, "ringgate_quic_handshakes_total{worker=\"%u\",result=\"%s\"} %llu\n", i, res[k],
			          (unsigned long long)v[k]);
	}
	PER_WORKER("quic_connections", "gauge", "QUIC connections open.", st[i].quic.conns_open);
	PER_WORKER("quic_connections_handshaking", "gauge", "QUIC connections still in handshake.",
	           st[i].quic.conns_handshaking);
	PER_WORKER("http_requests_total", "counter", "HTTP/3 requests received.", st[i].quic.requests);
	PER_WORKER("proxy_requests_total", "counter", "HTTP/3 requests handed to the reverse proxy.",
	           st[i].proxy.requests);
	metric_head(&b, "proxy_errors_total", "counter", "Answers the proxy made itself, by status.");
	for (unsigned i = 0; i < a->n_workers; i++) {
		static const char *const code[] = {"404", "413_431", "502", "503", "504", "reset"};
		const uint64_t v[] = {st[i].proxy.no_route,        st[i].proxy.too_large,
		                      st[i].proxy.bad_gateway,     st[i].proxy.unavailable,
		                      st[i].proxy.gateway_timeout, st[i].proxy.upstream_resets};
		for (unsigned k = 0; k < 6; k++)
			sb_printf(&b, "ringgate_proxy_errors_total{worker=\"%u\",status=\"%s\"} %llu\n", i, code[k],
			          (unsigned long long)v[k]);
	}
	metric_head(&b, "http_request_duration_seconds", "histogram",
	            "Proxied HTTP/3 requests, from the request head to the end of the response.");
	for (unsigned i = 0; i < a->n_workers; i++) {
		uint64_t cum = 0;
		for (unsigned k = 0; k < PROXY_LATENCY_BUCKETS; k++) {
			cum += st[i].proxy.latency_buckets[k];
			if (k < PROXY_LATENCY_BUCKETS - 1)
				sb_printf(&b, "ringgate_http_request_duration_seconds_bucket{worker=\"%u\",le=\"%g\"} %llu\n", i,
				          (double)proxy_latency_bounds_us[k] / 1e6, (unsigned long long)cum);
			else
				sb_printf(&b, "ringgate_http_request_duration_seconds_bucket{worker=\"%u\",le=\"+Inf\"} %llu\n", i,
				          (unsigned long long)cum);
		}
		sb_printf(&b, "ringgate_http_request_duration_seconds_sum{worker=\"%u\"} %.6f\n", i,
		          (double)st[i].proxy.latency_sum_us / 1e6);
		sb_printf(&b, "ringgate_http_request_duration_seconds_count{worker=\"%u\"} %llu\n", i,
		          (unsigned long long)st[i].proxy.latency_count);
	}
	PER_WORKER("tunnel_sessions", "gauge", "Tunnel peers with a session on the worker.", st[i].tunnel_sessions);
	PER_WORKER("tunnel_session_capacity", "gauge", "Tunnel sessions the worker has room for.", st[i].tunnel_capacity);
	PER_WORKER("tunnel_handoffs_sent_total", "counter",
	           "Tunnel datagrams handed to the worker owning their session (roamed peers).",
	           st[i].tunnel_handoffs_out);
	PER_WORKER("tunnel_handoffs_received_total", "counter", "Tunnel datagrams handed over by another worker.",
	           st[i].tunnel_handoffs_in);
	PER_WORKER("tunnel_handoffs_dropped_total", "counter", "Tunnel hand-offs dropped (owner's channel full).",
	           st[i].tunnel_handoffs_dropped);
	PER_WORKER("proxy_upstream_connections", "gauge", "Open backend connections.", st[i].proxy.conns_open);
	PER_WORKER("proxy_upstream_connects_total", "counter", "Backend connections opened.",
	           st[i].proxy.conns_opened);
	PER_WORKER("proxy_upstream_reuses_total", "counter", "Requests sent on a kept-alive connection.",
	           st[i].proxy.conns_reused);
	PER_WORKER("http_requests_0rtt_total", "counter", "HTTP/3 requests received in 0-RTT.",
	           st[i].quic.requests_0rtt);
	PER_WORKER("quic_handshakes_resumed_total", "counter", "QUIC handshakes resumed with a ticket.",
	           st[i].quic.handshakes_resumed);
	PER_WORKER("quic_0rtt_accepted_total", "counter", "QUIC 0-RTT early data accepted.",
	           st[i].quic.zero_rtt_accepted);
	PER_WORKER("quic_0rtt_rejected_total", "counter", "QUIC 0-RTT early data offered and refused.",
	           st[i].quic.zero_rtt_rejected);
	PER_WORKER("quic_tickets_issued_total", "counter", "TLS session tickets sent.",
	           st[i].quic.tickets_issued);
	PER_WORKER("quic_tokens_issued_total", "counter", "QUIC NEW_TOKEN tokens sent.",
	           st[i].quic.tokens_issued);
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
	metric_head(&b, "http_responses_total", "counter", "HTTP/3 responses by status class.");
	for (unsigned i = 0; i < a->n_workers; i++) {
		static const char *const cls[] = {"2xx", "4xx", "5xx"};
		const uint64_t v[] = {st[i].quic.responses_2xx, st[i].quic.responses_4xx,
		                      st[i].quic.responses_5xx};
		for (unsigned k = 0; k < 3; k++)
			sb_printf(&b, "ringgate_http_responses_total{worker=\"%u\",class=\"%s\"} %llu\n", i, cls[k],
			          (unsigned long long)v[k]);
	}
	metric_head(&b, "tunnel_rx_total", "counter", "Tunnel datagrams received, by verdict.");
	for (unsigned i = 0; i < a->n_workers; i++)
		for (unsigned v = 0; v < TUNNEL_RX__COUNT; v++)
			sb_printf(&b, "ringgate_tunnel_rx_total{worker=\"%u\",verdict=\"%s\"} %llu\n", i,
			          tunnel_rx_verdict_name((enum tunnel_rx_verdict)v),
			          (unsigned long long)st[i].tunnel_rx[v]);
	metric_head(&b, "tunnel_tx_total", "counter", "Tunnel packets to send, by verdict.");
	for (unsigned i = 0; i < a->n_workers; i++)
		for (unsigned v = 0; v < TUNNEL_TX__COUNT; v++)
			sb_printf(&b, "ringgate_tunnel_tx_total{worker=\"%u\",verdict=\"%s\"} %llu\n", i,
			          tunnel_tx_verdict_name((enum tunnel_tx_verdict)v),
			          (unsigned long long)st[i].tunnel_tx[v]);
	PER_WORKER("tun_reads_total", "counter", "TUN queue reads (super-packets).", st[i].tun_reads);
	PER_WORKER("tun_read_bytes_total", "counter", "Bytes read from the TUN queue.", st[i].tun_read_bytes);
	PER_WORKER("tun_segments_total", "counter", "Inner packets after segmentation of TUN reads.",
	           st[i].tun_segments);
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

	metric_head(&b, "drops_total", "counter", "Datagrams dropped, by layer and reason.");
	for (unsigned i = 0; i < a->n_workers; i++) {
		for (unsigned d = 0; d < RING_DROP_MAX; d++)
			sb_printf(&b, "ringgate_drops_total{worker=\"%u\",layer=\"ring\",reason=\"%s\"} %llu\n", i,
			          ring_drop_name((enum ring_drop)d), (unsigned long long)st[i].ring.drops[d]);
		for (unsigned d = 0; d < DP_DROP_MAX; d++)
			sb_printf(&b, "ringgate_drops_total{worker=\"%u\",layer=\"datapath\",reason=\"%s\"} %llu\n",
			          i, dp_drop_name((enum dp_drop)d), (unsigned long long)st[i].drops[d]);
		for (unsigned d = 0; d < QUIC_DROP_MAX; d++)
			sb_printf(&b, "ringgate_drops_total{worker=\"%u\",layer=\"quic\",reason=\"%s\"} %llu\n", i,
			          quic_drop_name((enum quic_drop)d), (unsigned long long)st[i].quic.drops[d]);
	}
	free(st);
	sb_respond(&b, r, 200, "text/plain; version=0.0.4; charset=utf-8");
}

/* The backends of the generation in force, with what the workers last
 * published about each server (within about 100 ms). */
static void get_backends(struct app *a, struct admin_resp *r)
{
	struct gen *g = atomic_load(&a->pub.current);
	const struct worker_gen *wg = g ? g->priv : NULL;
	const struct proxy_conf *c = wg ? wg->proxy : NULL;
	struct sbuf b = {0};
	char addr[80];
	sb_printf(&b, "{\"backends\":[");
	for (unsigned i = 0; c && i < c->n_backends; i++) {
		const struct proxy_backend_conf *be = &c->backends[i];
		sb_printf(&b, "%s{\"name\":\"%s\",\"algorithm\":\"%s\",\"timeout_ms\":%llu,\"servers\":[",
		          i ? "," : "", be->name,
		          be->lb == PROXY_LB_LEAST_CONNECTIONS ? "least_connections" : "round_robin",
		          (unsigned long long)(be->timeout_ns / 1000000));
		for (unsigned j = 0; j < be->n_servers; j++) {
			const struct proxy_server_conf *s = &be->servers[j];
			struct proxy_srv_totals t;
			proxy_server_totals(c, i, j, &t);
			sb_printf(&b,
			          "%s{\"address\":\"%s\",\"weight\":%u,\"priority\":%u,\"max_conns\":%u,"
			          "\"state\":\"%s\",\"down_workers\":%llu,\"connections\":%llu,"
			          "\"active_connections\":%llu,\"requests\":%llu,\"failures\":%llu}",
			          j ? "," : "", addr_str(&s->addr, addr, sizeof(addr)), s->weight, s->priority,
			          s->max_conns, t.down_workers ? "down" : "up", (unsigned long long)t.down_workers,
			          (unsigned long long)t.conns, (unsigned long long)t.busy,
			          (unsigned long long)t.requests, (unsigned long long)t.failures);
		}
		sb_printf(&b, "]}");
	}
	sb_printf(&b, "],\"routes\":[");
	for (unsigned i = 0; c && i < c->n_routes; i++)
		sb_printf(&b, "%s{\"name\":\"%s\",\"host\":\"%s\",\"path_prefix\":\"%s\",\"backend\":\"%s\"}",
		          i ? "," : "", c->routes[i].name, c->routes[i].host, c->routes[i].path_prefix,
		          c->backends[c->routes[i].backend].name);
	sb_printf(&b, "]}\n");
	sb_respond(&b, r, 200, "application/json");
}

static int peer_key_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const struct tunnel_peer_config *)elem)->public_key, 32);
}

/* GET /peers: the configured peers of the generation in force, with what
 * the workers last published about them (worker_peers_read, the snapshot
 * under their sequence lock): bytes summed over the workers that have a
 * session, the newest handshake, the endpoint of that session, and the
 * worker that owns the peer (shard.h) or else had that handshake. */
static void get_peers(struct app *a, struct admin_resp *r)
{
	struct gen *g = atomic_load(&a->pub.current);
	const struct worker_gen *wg = g ? g->priv : NULL;
	unsigned n = wg ? wg->n_tunnel_peers : 0;
	struct agg {
		uint64_t rx, tx, hs;
		int worker;
		rg_sockaddr ep;
	} *agg = calloc(n ? n : 1, sizeof(*agg));
	/* a worker publishes at most its capacity of peers */
	const unsigned cap = a->tunnel_capacity ? a->tunnel_capacity : 1;
	struct worker_peer_stat *ps = malloc(sizeof(*ps) * cap);
	if (!agg || !ps) {
		free(agg);
		free(ps);
		admin_resp_printf(r, 500, NULL, "out of memory\n");
		return;
	}
	for (unsigned i = 0; i < n; i++)
		agg[i].worker = -1;
	for (unsigned w = 0; w < a->n_workers; w++) {
		unsigned m = worker_peers_read(a->workers[w], ps, cap);
		for (unsigned k = 0; k < m; k++) {
			const struct tunnel_peer_config *pc =
				bsearch(ps[k].public_key, wg->tunnel_peers, n, sizeof(*wg->tunnel_peers), peer_key_cmp);
			if (!pc)
				continue; /* withdrawn since */
			struct agg *x = &agg[pc - wg->tunnel_peers];
			x->rx += ps[k].rx_bytes;
			x->tx += ps[k].tx_bytes;
			if (ps[k].last_handshake_ns > x->hs || (x->worker < 0 && ps[k].endpoint.sa.sa_family)) {
				if (ps[k].last_handshake_ns > x->hs)
					x->hs = ps[k].last_handshake_ns;
				x->worker = (int)w;
				x->ep = ps[k].endpoint;
			}
		}
	}
	struct sbuf b = {0};
	sb_printf(&b, "{\"peers\":[");
	for (unsigned i = 0; i < n; i++) {
		const struct tunnel_peer_config *pc = &wg->tunnel_peers[i];
		char key[WGKEY_B64_LEN + 1], ep[80];
		wgkey_to_base64(pc->public_key, key);
		const rg_sockaddr *e = agg[i].ep.sa.sa_family ? &agg[i].ep : &pc->endpoint;
		sb_printf(&b, "%s{\"public_key\":\"%s\",\"endpoint\":", i ? "," : "", key);
		if (e->sa.sa_family)
			sb_printf(&b, "\"%s\"", addr_str(e, ep, sizeof(ep)));
		else
			sb_printf(&b, "null");
		sb_printf(&b, ",\"last_handshake\":%llu,\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"allowed_ips\":[",
		          (unsigned long long)(agg[i].hs / 1000000000ull), (unsigned long long)agg[i].rx,
		          (unsigned long long)agg[i].tx);
		for (size_t j = 0; j < pc->n_allowed_ips; j++) {
			const struct allowedips_prefix *x = &pc->allowed_ips[j];
			char ip[INET6_ADDRSTRLEN];
			inet_ntop(x->ip.family, x->ip.bytes, ip, sizeof(ip));
			sb_printf(&b, "%s\"%s/%u\"", j ? "," : "", ip, x->cidr);
		}
		int owner = a->shard ? tunnel_shard_owner(a->shard, pc->public_key) : -1;
		if (owner < 0)
			owner = agg[i].worker;
		sb_printf(&b, "],\"worker\":");
		if (owner >= 0)
			sb_printf(&b, "%d}", owner);
		else
			sb_printf(&b, "null}");
	}
	sb_printf(&b, "]}\n");
	free(agg);
	free(ps);
	sb_respond(&b, r, 200, "application/json");
}

static void post_reload(struct app *a, struct admin_resp *r)
{
	char *errors = NULL;
	int err = app_reload(a, &errors);
	if (err) {
		admin_resp_printf(r, 400, NULL, "reload refused, the old configuration stays:\n%s",
		                  errors ? errors : "unknown error\n");
	} else {
		struct gen *g = atomic_load(&a->pub.current);
		admin_resp_printf(r, 200, "application/json", "{\"config_generation\":%llu}\n",
		                  (unsigned long long)(g ? g->id : 0));
	}
	free(errors);
}

void api_handle(void *ctx, const struct admin_req *req, struct admin_resp *r)
{
	struct app *a = ctx;
	bool get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");

	if (!strcmp(req->path, "/health")) {
		if (!get) {
			admin_resp_printf(r, 405, NULL, "method not allowed\n");
			return;
		}
		if (a->stopping || a->draining)
			admin_resp_printf(r, 503, NULL, "stopping\n");
		else
			admin_resp_printf(r, 200, NULL, "ok\n");
		return;
	}

	static const struct {
		const char *path;
		bool post;
	} known[] = {{"/metrics", false}, {"/status", false}, {"/peers", false},
	             {"/backends", false}, {"/reload", true}, {"/shutdown", true}};
	int k = -1;
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(req->path, known[i].path))
			k = (int)i;
	if (k < 0) {
		admin_resp_printf(r, 404, NULL, "not found\n");
		return;
	}
	int auth = authorize(a, req);
	if (auth != 200) {
		char peer[80];
		log_warn("admin: refused %s %s from %s: %s", req->method, req->path,
		         addr_str(&req->peer, peer, sizeof(peer)),
		         auth == 429 ? "too many failed tokens" : "bad or missing bearer token");
		if (auth == 429) {
			admin_resp_printf(r, 429, NULL, "too many failed attempts, try again later\n");
			r->extra_headers = "Retry-After: 60\r\n";
		} else {
			admin_resp_printf(r, 401, NULL, "unauthorized\n");
			r->extra_headers = "WWW-Authenticate: Bearer\r\n";
		}
		return;
	}
	if (known[k].post ? !post : !get) {
		admin_resp_printf(r, 405, NULL, "method not allowed\n");
		return;
	}
	if (!strcmp(req->path, "/status"))
		get_status(a, r);
	else if (!strcmp(req->path, "/metrics"))
		get_metrics(a, r);
	else if (!strcmp(req->path, "/peers"))
		get_peers(a, r);
	else if (!strcmp(req->path, "/backends"))
		get_backends(a, r);
	else if (!strcmp(req->path, "/reload"))
		post_reload(a, r);
	else if (!strcmp(req->path, "/shutdown")) {
		app_begin_stop(a, "admin: shutdown requested");
		admin_resp_printf(r, 200, NULL, "stopping\n");
	}
}
