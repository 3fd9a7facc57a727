/* route: routing table, server selection, /backends JSON (route.h). */
#include "datapath/proxy/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool ieq(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc(a[i]) != lower[i])
			return false;
	return true;
}

bool proxy_host_match(const struct proxy_route_conf *r, const char *host, size_t len)
{
	size_t hl = strlen(r->host);

	if (!r->wildcard)
		return len == hl && ieq(host, r->host, len);
	/* "*.example.com": any name below example.com, not example.com itself */
	hl -= 1; /* ".example.com" */
	return len > hl && ieq(host + len - hl, r->host + 1, hl);
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
		if ((i < 64 && (tried >> i & 1)) || st[i].down_until > now)
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

			if ((i < 64 && (tried >> i & 1)) || s->down_until > now || !available(s) ||
			    s->priority != best_prio)
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

		if ((i < 64 && (tried >> i & 1)) || s->down_until > now || !available(s) ||
		    s->priority != best_prio)
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

struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sbf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(struct sb *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *np = realloc(b->p, ncap);

		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static const char *addr_fmt(const rg_sockaddr *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &a->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, ntohs(a->in4.sin_port));
	}
	return buf;
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

char *proxy_conf_json(const struct proxy_conf *c)
{
	struct sb b = {0};
	char addr[80];

	sbf(&b, "{\"backends\":[");
	for (unsigned i = 0; c && i < c->n_backends; i++) {
		const struct proxy_backend_conf *be = &c->backends[i];

		sbf(&b, "%s{\"name\":\"%s\",\"algorithm\":\"%s\",\"timeout_ms\":%llu,\"servers\":[",
		    i ? "," : "", be->name,
		    be->lb == PROXY_LB_LEAST_CONNECTIONS ? "least_connections" : "round_robin",
		    (unsigned long long)(be->timeout_ns / 1000000));
		for (unsigned j = 0; j < be->n_servers; j++) {
			const struct proxy_server_conf *s = &be->servers[j];
			uint64_t conns = 0, busy = 0, req = 0, fails = 0, down = 0;

			for (unsigned w = 0; w < c->n_workers; w++) {
				const struct proxy_srv_stats *st = &c->stats[(be->first + j) * c->n_workers + w];

				conns += ld(&st->conns);
				busy += ld(&st->busy);
				req += ld(&st->requests);
				fails += ld(&st->failures);
				down += ld(&st->down);
			}
			sbf(&b,
			    "%s{\"address\":\"%s\",\"weight\":%u,\"priority\":%u,\"max_conns\":%u,"
			    "\"state\":\"%s\",\"down_workers\":%llu,\"connections\":%llu,"
			    "\"active_connections\":%llu,\"requests\":%llu,\"failures\":%llu}",
			    j ? "," : "", addr_fmt(&s->addr, addr, sizeof(addr)), s->weight, s->priority,
			    s->max_conns, down ? "down" : "up", (unsigned long long)down,
			    (unsigned long long)conns, (unsigned long long)busy, (unsigned long long)req,
			    (unsigned long long)fails);
		}
		sbf(&b, "]}");
	}
	sbf(&b, "],\"routes\":[");
	for (unsigned i = 0; c && i < c->n_routes; i++)
		sbf(&b, "%s{\"name\":\"%s\",\"host\":\"%s\",\"path_prefix\":\"%s\",\"backend\":\"%s\"}",
		    i ? "," : "", c->routes[i].name, c->routes[i].host, c->routes[i].path_prefix,
		    c->backends[c->routes[i].backend].name);
	sbf(&b, "]}\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
