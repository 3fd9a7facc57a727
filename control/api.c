/* The admin API's endpoints (INTERFACE.md). Bearer tokens are compared in
 * constant time; /health is open. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "control/admin.h"
#include "control/app.h"
#include "control/authlimit.h"
#include "control/log.h"
#include "control/metrics.h"
#include "crypto/wgkey.h"
#include "datapath/tunnel/shard.h"
#include "tls/tls.h"

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

/* Equal, in a time that depends only on want's length, never on where the
 * bytes differ. Lengths are compared too: the received value is counted,
 * not read up to a NUL ("TOKEN\0junk" is not TOKEN). */
static bool ct_equal(const char *got, size_t glen, const char *want, size_t wlen)
{
	volatile unsigned char diff = (unsigned char)(glen != wlen);
	for (size_t i = 0; i < wlen; i++)
		diff |= (unsigned char)(want[i] ^ (i < glen ? got[i] : 0));
	return diff == 0;
}

/* "Bearer" 1*SP token (RFC 6750 §2.1); the scheme is case-insensitive
 * (RFC 9110 §11.1). */
static bool bearer_ok(const struct admin_req *req, const char *token)
{
	const char *h = req->authorization;
	size_t n = req->authorization_len;
	if (!h || n < 7 || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	n -= 7;
	while (n && *h == ' ') {
		h++;
		n--;
	}
	return ct_equal(h, n, token, strlen(token));
}

/* 200 when the request may go on, else the status to answer (and, for a
 * slowed-down 429, *delay_ns). */
static int authorize(struct app *a, const struct admin_req *req, uint64_t *delay_ns)
{
	if (!a->admin_token)
		return 200; /* loopback admin without a token file (INTERFACE.md) */
	uint64_t now = ring_now();
	enum authlimit_verdict v = authlimit_before(&a->authlimit, &req->peer, now);
	if (v == AUTHLIMIT_LOCKED)
		return 429; /* this address only; the token is not even compared */
	if (bearer_ok(req, a->admin_token))
		return 200; /* the global back-off never stops the right token */
	authlimit_failed(&a->authlimit, &req->peer, now);
	if (v == AUTHLIMIT_SLOW) {
		*delay_ns = AUTHLIMIT_SLOW_DELAY_NS;
		return 429;
	}
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
	sb_printf(&b, "]");
	/* issue 20: each vhost's key exchange, as the generation in force
	 * loaded it (the control thread owns the generations) */
	struct gen *cur = atomic_load(&a->pub.current);
	const struct worker_gen *cwg = cur ? cur->priv : NULL;
	const struct tls_vhost_set *vs = cwg ? cwg->quic.vset : NULL;
	static const char *const pq_names[] = {[TLS_PQ_PREFER] = "prefer", [TLS_PQ_REQUIRE] = "require",
	                                       [TLS_PQ_OFF] = "off"};
	sb_printf(&b, ",\"vhosts\":[");
	for (unsigned i = 0; vs && i < tls_vset_count(vs); i++)
		sb_printf(&b, "%s{\"name\":\"%s\",\"groups\":\"%s\",\"pq\":\"%s\"}", i ? "," : "",
		          tls_vset_name(vs, i), tls_vset_groups(vs, i),
		          (unsigned)vs->v[i].pq < 3 ? pq_names[vs->v[i].pq] : "?");
	sb_printf(&b, "]}\n");
	sb_respond(&b, r, 200, "application/json");
}

/* The exposition is rendered from the tables of control/metrics.c. */
static void get_metrics(struct app *a, struct admin_resp *r)
{
	struct worker_stats *st = calloc(a->n_workers ? a->n_workers : 1, sizeof(*st));
	if (!st) {
		admin_resp_printf(r, 500, NULL, "out of memory\n");
		return;
	}
	for (unsigned i = 0; i < a->n_workers; i++)
		worker_stats_read(a->workers[i], &st[i]);
	struct gen *g = atomic_load(&a->pub.current);
	const struct metrics_proc p = {
		.build_info = 1,
		.uptime_seconds = uptime_s(a),
		.workers = a->n_workers,
		.config_generation = g ? g->id : 0,
		.reloads_ok = a->reloads_ok,
		.reloads_failed = a->reloads_failed,
	};
	char *body;
	size_t len;
	int err = metrics_render(&p, st, a->n_workers, &body, &len);
	free(st);
	if (err) {
		admin_resp_printf(r, 500, NULL, "out of memory\n");
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = body;
	r->len = len;
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
	uint64_t delay_ns = 0;
	int auth = authorize(a, req, &delay_ns);
	if (auth != 200) {
		char peer[80];
		log_warn("admin: refused %s %s from %s: %s", req->method, req->path,
		         addr_str(&req->peer, peer, sizeof(peer)),
		         auth == 429 ? "too many failed tokens" : "bad or missing bearer token");
		if (auth == 429) {
			admin_resp_printf(r, 429, NULL, "too many failed attempts, try again later\n");
			r->extra_headers = delay_ns ? "Retry-After: 1\r\n" : "Retry-After: 60\r\n";
			r->delay_ns = delay_ns;
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
