/* route: routing table, server selection, /backends JSON (route.h). */
#include "datapath/proxy/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/http1.h"

struct proxy_conf *proxy_conf_new(unsigned n_routes, unsigned n_backends, unsigned n_workers)
{
	struct proxy_conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->routes = calloc(n_routes ? n_routes : 1, sizeof(*c->routes));
	c->backends = calloc(n_backends ? n_backends : 1, sizeof(*c->backends));
	c->n_routes = n_routes;
	c->n_backends = n_backends;
	c->n_workers = n_workers ? n_workers : 1;
	if (!c->routes || !c->backends) {
		proxy_conf_free(c);
		return NULL;
	}
	return c;
}

int proxy_conf_finish(struct proxy_conf *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->n_backends; i++) {
		c->backends[i].first = n;
		n += c->backends[i].n_servers;
	}
	for (unsigned i = 0; i < c->n_routes; i++)
		c->routes[i].prefix_len = c->routes[i].path_prefix ? strlen(c->routes[i].path_prefix) : 0;
	c->n_servers = n;
	c->stats = aligned_alloc(64, sizeof(*c->stats) * (n ? n : 1) * c->n_workers);
	if (!c->stats)
		return -ENOMEM;
	memset(c->stats, 0, sizeof(*c->stats) * (n ? n : 1) * c->n_workers);
	return 0;
}

void proxy_conf_free(struct proxy_conf *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_routes && c->routes; i++) {
		free(c->routes[i].name);
		free(c->routes[i].host);
		free(c->routes[i].path_prefix);
	}
	for (unsigned i = 0; i < c->n_backends && c->backends; i++) {
		free(c->backends[i].name);
		free(c->backends[i].servers);
	}
	free(c->routes);
	free(c->backends);
	free(c->stats);
	free(c);
}

bool proxy_host_match(const struct proxy_route_conf *r, const char *host, size_t len)
{
	size_t hl = strlen(r->host);

	if (!r->wildcard)
		return http1_name_is(host, len, r->host);
	/* "*.example.com": any name below example.com, not example.com itself */
	hl -= 1; /* ".example.com" */
	return len > hl && http1_name_is(host + len - hl, hl, r->host + 1);
}

bool proxy_path_match(const struct proxy_route_conf *r, const char *path)
{
	size_t n = r->prefix_len;

	if (strncmp(path, r->path_prefix, n))
		return false;
	if (n && r->path_prefix[n - 1] == '/')
		return true;
	return path[n] == 0 || path[n] == '/' || path[n] == '?' || path[n] == '#';
}

/* The host of an authority: "[v6]:port", "name:port", "name". */
static size_t host_part(const char *a, const char **host)
{
	const char *colon;

	if (a[0] == '[') {
		const char *e = strchr(a, ']');

		*host = a + 1;
		return e ? (size_t)(e - a - 1) : strlen(a + 1);
	}
	*host = a;
	colon = strrchr(a, ':');
	return colon ? (size_t)(colon - a) : strlen(a);
}

int proxy_route_match(const struct proxy_conf *c, const char *authority, const char *path)
{
	const char *host;
	size_t hlen;
	int best = -1;
	uint64_t best_score = 0;

	if (!c || !authority || !path)
		return -1;
	hlen = host_part(authority, &host);
	if (hlen && host[hlen - 1] == '.')
		hlen--; /* "example.com." is example.com */
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct proxy_route_conf *r = &c->routes[i];
		uint64_t host_rank, score;

		if (!proxy_host_match(r, host, hlen) || !proxy_path_match(r, path))
			continue;
		host_rank = r->wildcard ? strlen(r->host) : 0x10000;
		score = host_rank << 32 | (r->prefix_len + 1);
		if (score > best_score) {
			best_score = score;
			best = (int)i;
		}
	}
	return best;
}

static bool available(const struct proxy_srv_state *s)
{
	return !s->max_conns || s->conns < s->max_conns || s->conns > s->busy;
}

/* Already tried for this request (the first 64 servers are tracked), or
 * marked down. */
static bool excluded(const struct proxy_srv_state *s, unsigned i, uint64_t tried, uint64_t now)
{
	return (i < 64 && (tried >> i & 1)) || s->down_until > now;
}

int proxy_lb_pick(enum proxy_lb lb, struct proxy_srv_state *st, unsigned n, uint64_t now,
                  uint64_t tried)
{
	unsigned best_prio = ~0u, i;
	bool any_up = false;
	int64_t total = 0;
	int pick = -1;
	/* least_connections: the smallest busy/weight among candidates */
	unsigned lc_busy = 0, lc_weight = 1;
	bool lc_set = false;

	for (i = 0; i < n; i++) {
		if (excluded(&st[i], i, tried, now))
			continue;
		any_up = true;
		if (available(&st[i]) && st[i].priority < best_prio)
			best_prio = st[i].priority;
	}
	if (!any_up)
		return -EHOSTDOWN;
	if (best_prio == ~0u)
		return -EBUSY;
	if (lb == PROXY_LB_LEAST_CONNECTIONS) {
		for (i = 0; i < n; i++) {
			const struct proxy_srv_state *s = &st[i];

			if (excluded(s, i, tried, now) || !available(s) || s->priority != best_prio)
				continue;
			/* s->busy / s->weight < lc_busy / lc_weight */
			if (!lc_set || (uint64_t)s->busy * lc_weight < (uint64_t)lc_busy * s->weight) {
				lc_busy = s->busy;
				lc_weight = s->weight;
				lc_set = true;
			}
		}
	}
	/* Smooth weighted round robin (as nginx does it) among the candidates
	 * of the best priority; for least_connections among those tied for the
	 * fewest connections, so equal servers still take turns. */
	for (i = 0; i < n; i++) {
		struct proxy_srv_state *s = &st[i];

		if (excluded(s, i, tried, now) || !available(s) || s->priority != best_prio)
			continue;
		if (lb == PROXY_LB_LEAST_CONNECTIONS &&
		    (uint64_t)s->busy * lc_weight != (uint64_t)lc_busy * s->weight)
			continue;
		s->cw += s->weight;
		total += s->weight;
		if (pick < 0 || s->cw > st[pick].cw)
			pick = (int)i;
	}
	st[pick].cw -= total;
	return pick;
}

/* ---- GET /backends ---- */

void proxy_server_totals(const struct proxy_conf *c, unsigned backend, unsigned server,
                         struct proxy_srv_totals *out)
{
	const struct proxy_backend_conf *be = &c->backends[backend];

	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < c->n_workers; w++) {
		const struct proxy_srv_stats *st = &c->stats[(be->first + server) * c->n_workers + w];

		out->conns += __atomic_load_n(&st->conns, __ATOMIC_RELAXED);
		out->busy += __atomic_load_n(&st->busy, __ATOMIC_RELAXED);
		out->requests += __atomic_load_n(&st->requests, __ATOMIC_RELAXED);
		out->failures += __atomic_load_n(&st->failures, __ATOMIC_RELAXED);
		out->down_workers += __atomic_load_n(&st->down, __ATOMIC_RELAXED);
	}
}
