/* route: the proxy's routing table and load balancing.
 *
 * struct proxy_conf is immutable once built (control/appcfg.c builds one
 * per configuration generation); workers read it without locks. The only
 * mutable part is `stats`, one cache line per (server, worker), written by
 * that worker alone with relaxed atomic stores and read by the control
 * thread for GET /backends.
 *
 * Selection state (struct proxy_srv_state) belongs to one worker: the
 * balancing is per worker, as everything on the datapath.
 */
#ifndef RG_PROXY_ROUTE_H
#define RG_PROXY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

enum proxy_lb {
	PROXY_LB_ROUND_ROBIN = 0,   /* smooth weighted round robin */
	PROXY_LB_LEAST_CONNECTIONS, /* fewest busy connections per weight */
};

struct proxy_server_conf {
	rg_sockaddr addr;
	unsigned weight;    /* >= 1 */
	unsigned priority;  /* lower is preferred; higher ones only when all lower are down */
	unsigned max_conns; /* whole process; 0 = unlimited */
};

struct proxy_backend_conf {
	char *name;
	struct proxy_server_conf *servers;
	unsigned n_servers;
	unsigned first; /* index of servers[0] among all servers of the conf */
	enum proxy_lb lb;
	uint64_t timeout_ns; /* response timeout (`timeout`) */
};

struct proxy_route_conf {
	char *name;
	char *host;        /* lower case; exact, or "*.suffix" */
	bool wildcard;
	char *path_prefix; /* starts with '/' */
	size_t prefix_len;
	unsigned backend;  /* index into backends */
	bool allow_0rtt;   /* false: a request that arrived in 0-RTT gets 425 */
};

/* Published by worker w for server s at stats[s * n_workers + w]. */
struct proxy_srv_stats {
	_Alignas(64) uint64_t conns;  /* open connections (busy and idle) */
	uint64_t busy;                /* connections carrying a request */
	uint64_t requests, failures;  /* failures: connect errors, timeouts, bad responses */
	uint64_t down;                /* 1 while this worker holds it down */
};

struct proxy_conf {
	struct proxy_route_conf *routes;
	unsigned n_routes;
	struct proxy_backend_conf *backends;
	unsigned n_backends;
	unsigned n_servers; /* over all backends */
	unsigned n_workers;
	struct proxy_srv_stats *stats;
};

/* An empty conf for n_workers with room for the given counts; the builder
 * fills routes[] / backends[] (strings malloc'ed) then calls
 * proxy_conf_finish(). NULL on ENOMEM. */
struct proxy_conf *proxy_conf_new(unsigned n_routes, unsigned n_backends, unsigned n_workers);
/* Counts servers, sets `first`, allocates stats. 0 or -ENOMEM. */
RG_MUST_CHECK int proxy_conf_finish(struct proxy_conf *c);
void proxy_conf_free(struct proxy_conf *c);

/* The route for a request, or -1. `authority` may hold a port (stripped)
 * and any case; NULL matches only routes... none: a request without a host
 * has no route. Among routes whose host and path prefix match: an exact
 * host beats a wildcard, a longer wildcard suffix beats a shorter one, then
 * the longest path prefix wins. A prefix matches at a segment boundary:
 * "/api" matches "/api", "/api/x" and "/api?q", not "/apix"; a prefix
 * ending in '/' matches anything below it. */
int proxy_route_match(const struct proxy_conf *c, const char *authority, const char *path);
bool proxy_host_match(const struct proxy_route_conf *r, const char *host, size_t len);
bool proxy_path_match(const struct proxy_route_conf *r, const char *path);

/* One worker's view of one server. */
struct proxy_srv_state {
	unsigned conns;      /* open: connecting, busy, idle */
	unsigned busy;       /* connecting or carrying a request */
	unsigned max_conns;  /* this worker's share; 0 = unlimited */
	unsigned weight, priority;
	int64_t cw;          /* smooth weighted round robin's current weight */
	uint64_t down_until; /* passive health: connects failed, skip until then */
};

/* Pick a server of a backend for a new request. `tried` (bit i = server i,
 * the first 64) excludes servers that already failed this request.
 * Returns the index, -EHOSTDOWN when every candidate is down, -EBUSY when
 * the ones up are all at max_conns with no idle connection. */
int proxy_lb_pick(enum proxy_lb lb, struct proxy_srv_state *st, unsigned n, uint64_t now,
                  uint64_t tried);

/* GET /backends: one server's stats summed over the workers (read while
 * they write them: each word is current, the set is not a snapshot). */
struct proxy_srv_totals {
	uint64_t conns, busy, requests, failures, down_workers;
};
void proxy_server_totals(const struct proxy_conf *c, unsigned backend, unsigned server,
                         struct proxy_srv_totals *out);

#endif
