/* The routing table (host exact / wildcard, port stripped, longest path
 * prefix) and server selection (weights, least connections, priority,
 * down servers, max_conns) against tables of expectations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/route.h"
#include "tests/check.h"

static void add_route(struct proxy_conf *c, unsigned i, const char *name, const char *host,
                      const char *prefix)
{
	c->routes[i].name = strdup(name);
	c->routes[i].host = strdup(host);
	c->routes[i].wildcard = host[0] == '*';
	c->routes[i].path_prefix = strdup(prefix);
	c->routes[i].backend = 0;
}

static void test_match(void)
{
	struct proxy_conf *c = proxy_conf_new(6, 1, 2);
	static const struct {
		const char *auth, *path;
		int want;
	} t[] = {
		{"example.com", "/", 0},
		{"EXAMPLE.com:4433", "/x", 0},
		{"example.com", "/api", 1},
		{"example.com", "/api/v1/x", 2},
		{"example.com", "/api/v1", 2},
		{"example.com", "/api/v1?x", 2},
		{"example.com", "/api/v10", 1},
		{"example.com", "/apix", 0},
		{"a.example.com", "/", 3},
		{"a.b.example.com:1", "/api", 3},
		{"A.Example.COM.", "/", 3},
		{"x.static.example.com", "/", 4},
		{"static.example.com", "/", 3},
		{"other.org", "/", -1},
		{"[::1]:4433", "/", 5},
		{"::1", "/", -1},
		{NULL, "/", -1},
	};

	add_route(c, 0, "root", "example.com", "/");
	add_route(c, 1, "api", "example.com", "/api");
	add_route(c, 2, "v1", "example.com", "/api/v1");
	add_route(c, 3, "wild", "*.example.com", "/");
	add_route(c, 4, "wild2", "*.static.example.com", "/");
	add_route(c, 5, "v6", "::1", "/");
	c->backends[0].name = strdup("b");
	c->backends[0].servers = calloc(1, sizeof(*c->backends[0].servers));
	c->backends[0].n_servers = 1;
	CHECK(proxy_conf_finish(c) == 0, "finish");
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = proxy_route_match(c, t[i].auth, t[i].path);

		CHECK(r == t[i].want, "%s %s: route %d, want %d", t[i].auth ? t[i].auth : "(null)", t[i].path, r,
		      t[i].want);
	}
	struct proxy_srv_totals tot;

	proxy_server_totals(c, 0, 0, &tot);
	CHECK(!tot.down_workers && !tot.requests && !tot.conns, "server of b up and idle");
	proxy_conf_free(c);
}

static void test_pick(void)
{
	struct proxy_srv_state st[3];
	unsigned count[3] = {0};

	/* weights 1, 2, 3: exactly proportional over a period */
	memset(st, 0, sizeof(st));
	for (unsigned i = 0; i < 3; i++) {
		st[i].weight = i + 1;
		st[i].priority = 1;
	}
	for (unsigned i = 0; i < 600; i++) {
		int p = proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 0);

		CHECK(p >= 0 && p < 3, "pick %d", p);
		if (p >= 0)
			count[p]++;
	}
	CHECK(count[0] == 100 && count[1] == 200 && count[2] == 300, "wrr %u %u %u", count[0], count[1], count[2]);

	/* least connections: the idle one wins; ties take turns */
	memset(st, 0, sizeof(st));
	for (unsigned i = 0; i < 3; i++) {
		st[i].weight = 1;
		st[i].priority = 1;
		st[i].busy = 5;
	}
	st[1].busy = 2;
	CHECK(proxy_lb_pick(PROXY_LB_LEAST_CONNECTIONS, st, 3, 1000, 0) == 1, "least busy");
	st[1].busy = 5;
	memset(count, 0, sizeof(count));
	for (unsigned i = 0; i < 30; i++)
		count[proxy_lb_pick(PROXY_LB_LEAST_CONNECTIONS, st, 3, 1000, 0)]++;
	CHECK(count[0] == 10 && count[1] == 10 && count[2] == 10, "ties rotate %u %u %u", count[0], count[1],
	      count[2]);

	/* down servers are skipped; all down: -EHOSTDOWN; tried ones excluded */
	st[0].down_until = 2000;
	for (unsigned i = 0; i < 10; i++)
		CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 0) != 0, "down skipped");
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 1u << 1) == 2, "tried excluded");
	st[1].down_until = st[2].down_until = 2000;
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 0) == -EHOSTDOWN, "all down");
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 2000, 0) >= 0, "up again after the rest");

	/* priority: 2 only when every 1 is down */
	memset(st, 0, sizeof(st));
	st[0] = (struct proxy_srv_state){.weight = 1, .priority = 2};
	st[1] = (struct proxy_srv_state){.weight = 1, .priority = 1};
	st[2] = (struct proxy_srv_state){.weight = 1, .priority = 1};
	for (unsigned i = 0; i < 10; i++)
		CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 0) != 0, "backup unused");
	st[1].down_until = st[2].down_until = 5000;
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 3, 1000, 0) == 0, "backup used");

	/* max_conns: full with no idle one is -EBUSY; an idle one is fine */
	memset(st, 0, sizeof(st));
	st[0] = (struct proxy_srv_state){.weight = 1, .priority = 1, .max_conns = 2, .conns = 2, .busy = 2};
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 1, 1000, 0) == -EBUSY, "full");
	st[0].busy = 1;
	CHECK(proxy_lb_pick(PROXY_LB_ROUND_ROBIN, st, 1, 1000, 0) == 0, "idle one reusable");
}

int main(void)
{
	test_match();
	test_pick();
	if (checks_failed) {
		fprintf(stderr, "%d failures\n", checks_failed);
		return 1;
	}
	printf("route: ok\n");
	return 0;
}
