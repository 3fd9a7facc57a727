/* The configuration loader end to end: a full valid file with every
 * section, defaults, several errors in one pass, the peers_file loader and
 * the warnings. The table of bad inputs and the [quic]/[tls] keys are in
 * test_config_keys.c; the fixtures (certificates, keys and token files made
 * at run time in a temporary directory) in config_fixtures.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "tests/ini/config_test.h"

/* ---- a full valid file ------------------------------------------------- */

static const char full[] =
	"; every section and key\n"
	"[appliance]\n"
	"workers = 4                 ; pinned workers\n"
	"cpus = 0-3,8\n"
	"admin = 0.0.0.0:8082\n"
	"admin_token_file = @D@/token\n"
	"log_level = debug\n"
	"user = root\n"
	"\n"
	"# QUIC\n"
	"[quic]\n"
	"listen = 0.0.0.0:443, [::]:443, iface eth0:8443\n"
	"alpn = h3\n"
	"retry = on\n"
	"zero_rtt = yes\n"
	"anti_port_scan = true\n"
	"backlog = 4096\n"
	"idle_timeout = 250ms\n"
	"qlog_dir = /var/log/qlog\n"
	"\n"
	"[vhost Example.com]\n"
	"cert = @D@/cert.pem\n"
	"key = @D@/key.pem\n"
	"listen = [::]:443\n"
	"\n"
	"[vhost *.example.org]\n"
	"cert = @D@/cert.pem\n"
	"key = @D@/key.pem\n"
	"\n"
	"[backend api]\n"
	"server = 127.0.0.1:3003 weight=100 priority=1 max_conns=100   ; repeatable\n"
	"server = [2001:db8::5]:3004 priority=2\n"
	"algorithm = weighted_round_robin\n"
	"health_check = /health\n"
	"health_interval = 5m\n"
	"timeout = 1h\n"
	"\n"
	"[backend static]\n"
	"server = 10.0.0.9:80\n"
	"\n"
	"[route api]\n"
	"host = API.example.com\n"
	"path_prefix = /v1/\n"
	"backend = api\n"
	"allow_0rtt = on\n"
	"\n"
	"[route wild]\n"
	"host = *.example.org\n"
	"backend = static\n"
	"\n"
	"[tunnel]\n"
	"listen = 0.0.0.0:51820, iface wg-uplink:51821\n"
	"private_key_file = @D@/tunnel.key\n"
	"tun = rg0\n"
	"address = fd00::1/64\n"
	"mtu = 1280\n"
	"peers_file = @D@/peers\n"
	"\n"
	"[peer laptop]\n"
	"public_key = @K0@\n"
	"allowed_ips = 10.8.0.2/32, fd00::2/128\n"
	"allowed_ips = 192.168.7.99/24\n"
	"preshared_key_file = @D@/psk.key\n"
	"endpoint = [2001:db8::9]:51820\n"
	"persistent_keepalive = 25\n"
	"\n"
	"[peer office]\n"
	"public_key = @K3@\n"
	"endpoint = vpn.example.net:51820\n"
	"persistent_keepalive = 1m\n";

static void test_full(void)
{
	struct ini_diag d;
	struct rg_config *c = NULL;
	char *text = subst(full);
	ini_diag_init(&d);
	int r = ini_config_load_string("full.ini", text, &c, &d);
	free(text);
	CHECK(r == 0 && c, "full config loads (r=%d)", r);
	if (r) {
		ini_diag_print(&d, stderr);
		ini_diag_free(&d);
		return;
	}
	/* health_check and health_interval (lines 34, 35) are not built yet. */
	CHECK(ini_diag_count(&d) == 2 && c->n_warnings == 2 && !strncmp(c->warnings[0], "full.ini:34: warning: ", 22) &&
	      !strncmp(c->warnings[1], "full.ini:35: warning: ", 22), "two warnings, no errors");
	if (ini_diag_count(&d) != 2)
		ini_diag_print(&d, stderr);
	CHECK(!strcmp(c->source, "full.ini"), "source");
	const struct rg_appliance_cfg *a = &c->appliance;
	CHECK(a->workers == 4 && !a->cpus.all && rg_cpuset_has(&a->cpus, 8) && !rg_cpuset_has(&a->cpus, 4), "appliance");
	CHECK(!a->admin_loopback && a->admin.port == 8082 && a->admin_token &&
	      !strcmp(a->admin_token, "0123456789abcdef0123456789abcdef0123"), "admin token trimmed");
	CHECK(a->log_level == RG_CFG_LOG_DEBUG && a->user && !strcmp(a->user, "root"), "log_level, user");

	const struct rg_quic_cfg *q = c->quic;
	CHECK(q && q->n_listen == 3 && q->listen[2].kind == RG_CFG_ADDR_IFACE && !strcmp(q->listen[2].iface, "eth0") &&
	      q->listen[2].port == 8443 && q->listen[1].sa.sa.sa_family == AF_INET6, "quic listen");
	CHECK(q && q->n_alpn == 1 && !strcmp(q->alpn[0], "h3"), "alpn");
	CHECK(q && q->retry == RG_QUIC_RETRY_ON && q->zero_rtt && q->anti_port_scan && q->backlog == 4096 &&
	      q->idle_timeout_ms == 250 && q->qlog_dir && q->line == 11, "quic values");

	CHECK(c->n_vhosts == 2 && !strcmp(c->vhosts[0].name, "example.com") && c->vhosts[0].n_listen == 1 &&
	      c->vhosts[1].n_listen == 0 && c->vhosts[0].line == 21, "vhosts");

	CHECK(c->n_backends == 2, "backends");
	const struct rg_backend_cfg *b = &c->backends[0];
	CHECK(b->n_servers == 2 && b->servers[0].weight == 100 && b->servers[0].priority == 1 &&
	      b->servers[0].max_conns == 100 && b->servers[0].line == 31 && b->servers[1].weight == 1 &&
	      b->servers[1].priority == 2 && b->servers[1].max_conns == 0, "servers");
	CHECK(b->algorithm == RG_LB_WEIGHTED_ROUND_ROBIN && !strcmp(b->health_check, "/health") &&
	      b->health_interval_ms == 300000 && b->timeout_ms == 3600000, "backend values");
	CHECK(ini_config_backend_find(c, "static") == 1 && ini_config_backend_find(c, "nope") == -ENOENT, "find");

	CHECK(c->n_routes == 2, "routes");
	const struct rg_route_cfg *rt = &c->routes[0];
	CHECK(!strcmp(rt->host, "api.example.com") && !rt->host_wildcard && !strcmp(rt->path_prefix, "/v1/") &&
	      rt->backend_idx == 0 && rt->allow_0rtt, "route api");
	rt = &c->routes[1];
	CHECK(rt->host_wildcard && !strcmp(rt->host_suffix, ".example.org") && rt->backend_idx == 1 &&
	      !strcmp(rt->path_prefix, "/") && !rt->allow_0rtt, "route wild");

	const struct rg_tunnel_cfg *t = c->tunnel;
	CHECK(t && t->n_listen == 2 && t->listen[1].kind == RG_CFG_ADDR_IFACE && !strcmp(t->listen[1].iface, "wg-uplink"),
	      "tunnel listen");
	CHECK(t && t->private_key[0] == 3 && t->private_key[31] == 0x44 && !strcmp(t->tun, "rg0") && t->n_address == 1 &&
	      t->address[0].family == AF_INET6 && t->address[0].prefix == 64 && t->address[0].addr[15] == 1 &&
	      t->mtu == 1280,
	      "tunnel values");
	CHECK(t && t->file_peers.n == 2 && t->file_peers.peers[0].line == 3 && t->file_peers.peers[0].n_allowed_ips == 2 &&
	      t->file_peers.peers[1].public_key[0] == 2, "peers_file loaded");

	CHECK(c->n_peers == 2, "peers");
	const struct rg_peer_cfg *p = &c->peers[0];
	CHECK(!strcmp(p->name, "laptop") && p->public_key[0] == 0 && p->public_key[1] == 0x11 && p->n_allowed_ips == 3 &&
	      p->allowed_ips[2].addr[3] == 0 && p->allowed_ips[2].prefix == 24, "peer allowed_ips (repeated, masked)");
	CHECK(p->has_preshared_key && p->preshared_key[0] == 3 && p->endpoint_is_addr &&
	      !strcmp(p->endpoint_host, "2001:db8::9") && p->endpoint_port == 51820 && p->persistent_keepalive_s == 25,
	      "peer laptop");
	p = &c->peers[1];
	CHECK(!p->endpoint_is_addr && !strcmp(p->endpoint_host, "vpn.example.net") && p->persistent_keepalive_s == 60 &&
	      !p->has_preshared_key && p->n_allowed_ips == 0, "peer office");
	ini_config_free(c);
	ini_diag_free(&d);
}

/* Defaults: every key INTERFACE.md shows has one; [quic]/[tunnel] absent = off. */
static void test_defaults(void)
{
	struct rg_config *c = NULL;
	int r = ini_config_load_string("min.ini", "", &c, NULL);
	CHECK(r == 0 && c, "empty file is a valid config (r=%d)", r);
	if (c) {
		const struct rg_appliance_cfg *a = &c->appliance;
		CHECK(a->workers == 0 && a->cpus.all && a->admin_loopback && a->admin.port == 8082 &&
		      !a->admin_token_file && !a->admin_token && a->log_level == RG_CFG_LOG_INFO && !a->user,
		      "appliance defaults");
		CHECK(!c->quic && !c->tunnel && !c->n_vhosts && !c->n_backends && !c->n_routes && !c->n_peers, "all off");
	}
	ini_config_free(c);

	char *text = subst("[quic]\n[vhost localhost]\ncert=@D@/cert.pem\nkey=@D@/key.pem\n[backend b]\n"
	                   "server=127.0.0.1:1\n[route r]\nhost=localhost\nbackend=b\n[tunnel]\n"
	                   "private_key_file=@D@/tunnel.key\n[peer p]\npublic_key=@K1@\n");
	c = NULL;
	struct ini_diag d;
	ini_diag_init(&d);
	r = ini_config_load_string("def.ini", text, &c, &d);
	free(text);
	CHECK(r == 0 && c, "defaults config loads (r=%d)", r);
	if (r)
		ini_diag_print(&d, stderr);
	if (c) {
		const struct rg_quic_cfg *q = c->quic;
		char l0[64] = "", l1[64] = "";
		if (q && q->n_listen == 2) {
			ini_addr_format(&q->listen[0], l0, sizeof(l0));
			ini_addr_format(&q->listen[1], l1, sizeof(l1));
		}
		CHECK(!strcmp(l0, "0.0.0.0:443") && !strcmp(l1, "[::]:443"), "quic listen default");
		CHECK(q && q->n_alpn == 1 && !strcmp(q->alpn[0], "h3") && q->retry == RG_QUIC_RETRY_AUTO && !q->zero_rtt &&
		      !q->anti_port_scan && q->backlog == 1024 && q->idle_timeout_ms == 30000 && !q->qlog_dir,
		      "quic defaults");
		CHECK(q && q->max_connections == 4096, "max_connections default 4096 (the old constant)");
		/* issue 18: the transport keys' defaults are the old constants */
		CHECK(q && q->n_versions == 2 && !strcmp(q->versions[0], "v2") && !strcmp(q->versions[1], "v1") &&
		      q->max_streams_bidi == 100 && q->max_streams_uni == 3 && q->initial_max_data == 4u << 20 &&
		      q->initial_max_stream_data == 256u << 10 && q->handshake_timeout_ms == 0 &&
		      q->preferred_address.sa.sa.sa_family == 0, "issue 18 [quic] defaults");
		const struct rg_backend_cfg *b = &c->backends[0];
		CHECK(b->algorithm == RG_LB_LEAST_CONNECTIONS && !b->health_check && b->health_interval_ms == 10000 &&
		      b->timeout_ms == 30000 && b->servers[0].weight == 1, "backend defaults");
		CHECK(!strcmp(c->routes[0].path_prefix, "/") && !c->routes[0].allow_0rtt, "route defaults");
		const struct rg_tunnel_cfg *t = c->tunnel;
		CHECK(t->n_listen == 1 && t->listen[0].port == 51820 && !t->tun && !t->n_address && t->mtu == 1420 &&
		      !t->peers_file && t->file_peers.n == 0, "tunnel defaults");
		CHECK(c->peers[0].persistent_keepalive_s == 0 && !c->peers[0].endpoint &&
		      !c->peers[0].preshared_key_file, "peer defaults");
	}
	ini_config_free(c);
	ini_diag_free(&d);
}


/* Several errors in one pass, reported in line order. */
static void test_many_errors(void)
{
	static const char text[] =
		"[appliance]\n"
		"workers = 0\n"               /* 2 */
		"bogus = 1\n"                 /* 3 */
		"[quic]\n"                    /* 4: needs a vhost */
		"idle_timeout = soon\n"       /* 5 */
		"[nonsense]\n"                /* 6 */
		"x = y\n"                     /* (skipped: in a bad section) */
		"[backend a]\n"
		"server = 169.254.169.254:80\n" /* 9 */
		"[route r]\n"
		"host = a.b\n"
		"backend = zzz\n"             /* 12 */
		"just words\n";               /* 13 */
	static const char *const want[] = {"t.ini:2: ", "t.ini:3: ", "t.ini:4: ", "t.ini:5: ",
	                                   "t.ini:6: ", "t.ini:9: ", "t.ini:12: ", "t.ini:13: "};
	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	int r = ini_config_load_string("t.ini", text, &c, &d);
	unsigned n = sizeof(want) / sizeof(want[0]);
	CHECK(r == -EINVAL && !c, "many: -EINVAL");
	CHECK(ini_diag_count(&d) == n, "many: %u messages, want %u", ini_diag_count(&d), n);
	for (unsigned i = 0; i < n && i < ini_diag_count(&d); i++)
		CHECK(!strncmp(ini_diag_get(&d, i), want[i], strlen(want[i])), "many #%u: '%s', want '%s'", i,
		      ini_diag_get(&d, i), want[i]);
	char *joined = ini_diag_join(&d);
	CHECK(joined && strstr(joined, "t.ini:9: server 169.254.169.254:80: link-local") &&
	      joined[strlen(joined) - 1] == '\n', "join");
	if (checks_failed)
		ini_diag_print(&d, stderr);
	free(joined);
	ini_diag_free(&d);
}

/* Syntax details: comments, inline comments, indentation, CRLF, BOM. */
static void test_syntax(void)
{
	static const char text[] =
		"\xEF\xBB\xBF; comment\r\n"
		"# another\n"
		"  [appliance]   ; inline after header\n"
		"\tworkers = 2\t; inline\n"
		"    log_level = warn\r\n"
		"cpus = 1;2\n"; /* ';' without a space before it is not a comment: bad list */
	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	int r = ini_config_load_string("s.ini", text, &c, &d);
	CHECK(r == -EINVAL && ini_diag_count(&d) == 1 && !strncmp(ini_diag_get(&d, 0), "s.ini:6: cpus = 1;2", 19),
	      "syntax: only line 6 is bad (%s)", ini_diag_count(&d) ? ini_diag_get(&d, 0) : "-");
	ini_diag_free(&d);
	r = ini_config_load_string("s.ini", "[appliance]\n  workers = 2\n   log_level = warn\n", &c, &d);
	CHECK(r == 0 && c->appliance.workers == 2 && c->appliance.log_level == RG_CFG_LOG_WARN,
	      "indented lines are keys, not continuations");
	ini_config_free(c);
	ini_diag_free(&d);
}

static void test_files(void)
{
	struct ini_diag d;
	struct rg_config *c = NULL;
	char path[256];
	ini_diag_init(&d);
	snprintf(path, sizeof(path), "%s/does-not-exist.ini", dir);
	int r = ini_config_load_file(path, &c, &d);
	CHECK(r == -ENOENT && !c && ini_diag_count(&d) == 1 && strstr(ini_diag_get(&d, 0), ":0: cannot read"),
	      "missing file");
	ini_diag_free(&d);

	/* the same text via a file: messages name the file */
	char *text = subst("[appliance]\nworkers = 3\n[backend x]\n");
	puts_file("t.ini", text);
	free(text);
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	r = ini_config_load_file(path, &c, &d);
	char want[300];
	snprintf(want, sizeof(want), "%s:3: [backend x] needs at least one 'server'", path);
	CHECK(r == -EINVAL && ini_diag_count(&d) == 1 && !strcmp(ini_diag_get(&d, 0), want), "file name in messages");
	ini_diag_free(&d);

	/* the peers_file loader on its own */
	struct rg_peer_list pl;
	snprintf(path, sizeof(path), "%s/peers", dir);
	r = ini_peers_load_file(path, &pl, &d);
	CHECK(r == 0 && pl.n == 2 && pl.peers[0].n_allowed_ips == 2 && pl.peers[1].line == 4 && pl.path &&
	      !strcmp(pl.path, path), "peers file loads");
	ini_peers_free(&pl);
	snprintf(path, sizeof(path), "%s/peers_bad", dir);
	r = ini_peers_load_file(path, &pl, &d);
	CHECK(r == -EINVAL && pl.n == 0 && ini_diag_count(&d) == 4, "peers_bad: 4 errors (%u)", ini_diag_count(&d));
	static const unsigned lines[] = {2, 3, 5, 6};
	for (unsigned i = 0; i < 4 && i < ini_diag_count(&d); i++) {
		snprintf(want, sizeof(want), "%s:%u: ", path, lines[i]);
		CHECK(!strncmp(ini_diag_get(&d, i), want, strlen(want)), "peers_bad line %u: %s", lines[i],
		      ini_diag_get(&d, i));
	}
	ini_diag_free(&d);
	r = ini_peers_load_string("p", "# nothing\n\n   \n", &pl, NULL);
	CHECK(r == 0 && pl.n == 0, "empty peers file");
	ini_peers_free(&pl);
	text = subst("@K1@ 10.0.0.1/32 extra\n@K2@ 10.0.0.2/32,\n");
	r = ini_peers_load_string("p", text, &pl, &d);
	free(text);
	CHECK(r == -EINVAL && ini_diag_count(&d) == 2 && !strncmp(ini_diag_get(&d, 0), "p:1: ", 5) &&
	      !strncmp(ini_diag_get(&d, 1), "p:2: ", 5), "peers: spaces in list, trailing comma");
	ini_diag_free(&d);
	r = ini_peers_load_file("/nonexistent/peers", &pl, &d);
	CHECK(r == -ENOENT && ini_diag_count(&d) == 1 && strstr(ini_diag_get(&d, 0), "/nonexistent/peers:0: "),
	      "missing peers file");
	ini_diag_free(&d);
}

/* [tunnel] address: one CIDR as before, or a list (wg-quick's Address) so
 * the TUN device can be dual-stack; host bits kept; each address once. */
static void test_tun_address(void)
{
	static const struct {
		const char *value;
		int ok;
		unsigned n;
		const char *first, *last; /* "ADDR/PREFIX" */
		const char *what;         /* error: part of the message */
	} t[] = {
		{"10.8.0.1/24", 1, 1, "10.8.0.1/24", "10.8.0.1/24", NULL},
		{"10.8.0.1/24, fd00:8::1/64", 1, 2, "10.8.0.1/24", "fd00:8::1/64", NULL},
		{"fd00:8::1/64,10.8.0.1/24", 1, 2, "fd00:8::1/64", "10.8.0.1/24", NULL},
		{"10.8.0.1/24, 10.8.0.5/24, 10.9.0.1/16, fd00:8::1/64, fd00:9::7/48", 1, 5, "10.8.0.1/24",
		 "fd00:9::7/48", NULL},
		{"10.8.0.1", 1, 1, "10.8.0.1/32", "10.8.0.1/32", NULL},
		{"", 1, 0, NULL, NULL, NULL},
		{"10.8.0.1/24, 10.8.0.1/16", 0, 0, NULL, NULL, "10.8.0.1 given twice"},
		{"fd00:8::1/64, fd00:8:0::1/128", 0, 0, NULL, NULL, "fd00:8::1 given twice"},
		{"10.8.0.1/24,", 0, 0, NULL, NULL, "trailing ','"},
		{"10.8.0.1/24, fd00:8::1/129", 0, 0, NULL, NULL, "bad prefix length"},
		{"10.8.0.1/24 fd00:8::1/64", 0, 0, NULL, NULL, "bad prefix length"},
		/* 17 addresses, the line under libinih's 200 characters */
		{"10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,10.0.0.9,10.0.0.10,10.0.0.11,"
		 "10.0.0.12,10.0.0.13,10.0.0.14,10.0.0.15,10.0.0.16,10.0.0.17", 0, 0, NULL, NULL, "17 addresses, at most 16"},
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char conf[1024];
		snprintf(conf, sizeof(conf), "[tunnel]\nprivate_key_file = @D@/tunnel.key\naddress = %s\n", t[i].value);
		char *text = subst(conf);
		struct rg_config *c = NULL;
		struct ini_diag d;
		ini_diag_init(&d);
		int r = ini_config_load_string("t.ini", text, &c, &d);
		free(text);
		if (!t[i].ok) {
			CHECK(r == -EINVAL && ini_diag_count(&d) == 1 && !strncmp(ini_diag_get(&d, 0), "t.ini:3: ", 9) &&
			      strstr(ini_diag_get(&d, 0), t[i].what), "address = %s: want t.ini:3: ...%s...", t[i].value,
			      t[i].what);
		} else {
			CHECK(r == 0 && c && c->tunnel->n_address == t[i].n, "address = %s: %u addresses", t[i].value,
			      c ? c->tunnel->n_address : 0);
			if (r == 0 && t[i].n) {
				const struct rg_cidr *f = &c->tunnel->address[0], *l = &c->tunnel->address[t[i].n - 1];
				char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], fa[64], la[64];
				inet_ntop(f->family, f->addr, a, sizeof(a));
				inet_ntop(l->family, l->addr, b, sizeof(b));
				snprintf(fa, sizeof(fa), "%s/%u", a, f->prefix);
				snprintf(la, sizeof(la), "%s/%u", b, l->prefix);
				CHECK(!strcmp(fa, t[i].first) && !strcmp(la, t[i].last), "address = %s: got %s .. %s", t[i].value,
				      fa, la);
			}
		}
		if (checks_failed)
			ini_diag_print(&d, stderr);
		ini_config_free(c);
		ini_diag_free(&d);
	}
	/* An IPv6 address in the list asks for an IPv6 MTU (RFC 8200 section 5). */
	char *text = subst("[tunnel]\nprivate_key_file = @D@/tunnel.key\naddress = 10.8.0.1/24, fd00::1/64\nmtu = 1000\n");
	struct rg_config *c = NULL;
	struct ini_diag d;
	ini_diag_init(&d);
	int r = ini_config_load_string("t.ini", text, &c, &d);
	free(text);
	CHECK(r == -EINVAL && ini_diag_count(&d) == 1 && strstr(ini_diag_get(&d, 0), "t.ini:4: mtu = 1000"),
	      "IPv6 second in the list still needs mtu >= 1280");
	ini_diag_free(&d);
}


/* Is there a warning "t.ini:LINE: warning: ..." holding every one of
 * `what` (NULL-terminated), in the config and in the diag alike? */
static bool has_warning(const struct rg_config *c, const struct ini_diag *d, unsigned line, const char *const *what)
{
	char pre[64];
	snprintf(pre, sizeof(pre), "t.ini:%u: warning: ", line);
	bool in_cfg = false, in_diag = false;
	for (unsigned i = 0; c && i < c->n_warnings; i++) {
		bool all = !strncmp(c->warnings[i], pre, strlen(pre));
		for (const char *const *w = what; all && *w; w++)
			all = strstr(c->warnings[i], *w) != NULL;
		in_cfg |= all;
	}
	for (unsigned i = 0; i < ini_diag_count(d); i++)
		in_diag |= !strncmp(ini_diag_get(d, i), pre, strlen(pre)) && strstr(ini_diag_get(d, i), what[0]);
	return in_cfg && in_diag;
}

/* Keys that parse but are not built yet, and secret files open to group
 * or others: each loads with a "FILE:LINE: warning:" (issue 15), never in
 * silence. */
static void test_warnings(void)
{
	struct ini_diag d;
	struct rg_config *c;
	static const char *const algos[] = {"random", "ip_hash", "least_response_time"};
	for (unsigned i = 0; i < 3; i++) {
		char t[256];
		snprintf(t, sizeof(t), "[backend a]\nserver = 10.0.0.1:80\nalgorithm = %s\n", algos[i]);
		c = load_ok(t, &d);
		const char *const w[] = {"algorithm", algos[i], "not implemented", "weighted_round_robin", NULL};
		CHECK(c && c->n_warnings == 1 && has_warning(c, &d, 3, w), "algorithm = %s warns at line 3", algos[i]);
		if (c && c->n_warnings != 1)
			ini_diag_print(&d, stderr);
		ini_config_free(c);
		ini_diag_free(&d);
	}
	c = load_ok("[backend a]\nserver = 10.0.0.1:80\nhealth_check = /healthz\nhealth_interval = 2s\n"
	            "algorithm = round_robin\n", &d);
	const char *const hc[] = {"health_check = /healthz", "not implemented", "connect fails", NULL};
	const char *const hi[] = {"health_interval", "not implemented", NULL};
	CHECK(c && c->n_warnings == 2 && has_warning(c, &d, 3, hc) && has_warning(c, &d, 4, hi),
	      "health_check and health_interval warn at lines 3, 4");
	ini_config_free(c);
	ini_diag_free(&d);
	/* What is built does not warn. */
	c = load_ok("[backend a]\nserver = 10.0.0.1:80\nalgorithm = least_connections\n[backend b]\n"
	            "server = 10.0.0.2:80\nalgorithm = weighted_round_robin\n", &d);
	CHECK(c && c->n_warnings == 0 && ini_diag_count(&d) == 0, "built algorithms do not warn");
	ini_config_free(c);
	ini_diag_free(&d);

	/* Secret files: private ones are quiet, open ones warn at their key's
	 * line naming the file and its mode. */
	char path[256], *text;
	static const struct {
		const char *name, *from;
		unsigned mode;
		const char *who;
	} open_files[] = {
		{"open.token", "0123456789abcdef0123456789abcdef0123\n", 0640, "group (mode 0640)"},
		{"open.key", NULL, 0644, "group and others (mode 0644)"},
		{"open.psk", NULL, 0604, "others (mode 0604)"},
	};
	for (unsigned i = 0; i < 3; i++) {
		char line[64];
		snprintf(line, sizeof(line), "%s\n", keys[3]);
		puts_file(open_files[i].name, open_files[i].from ? open_files[i].from : line);
		fixture_path(path, sizeof(path), open_files[i].name);
		CHECK(chmod(path, open_files[i].mode) == 0, "chmod %s", path);
	}
	/* the vhost key: a copy of key.pem, opened up */
	{
		char kp[256], *pem;
		fixture_path(kp, sizeof(kp), "key.pem");
		FILE *f = fopen(kp, "r");
		pem = calloc(1, 8192);
		if (!f || !pem || !fread(pem, 1, 8191, f))
			die("read key.pem");
		fclose(f);
		puts_file("open.pem", pem);
		free(pem);
		fixture_path(path, sizeof(path), "open.pem");
		CHECK(chmod(path, 0644) == 0, "chmod open.pem");
	}
	static const char priv[] =
		"[appliance]\nadmin_token_file = @D@/token\n"                   /* 1-2 */
		"[quic]\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/key.pem\n" /* 3-6 */
		"[tunnel]\nprivate_key_file = @D@/tunnel.key\n"                 /* 7-8 */
		"[peer p]\npublic_key = @K1@\npreshared_key_file = @D@/psk.key\n"; /* 9-11 */
	c = load_ok(priv, &d);
	CHECK(c && c->n_warnings == 0 && ini_diag_count(&d) == 0, "private secret files: no warning");
	ini_config_free(c);
	ini_diag_free(&d);
	static const char open[] =
		"[appliance]\nadmin_token_file = @D@/open.token\n"
		"[quic]\n[vhost a.example]\ncert = @D@/cert.pem\nkey = @D@/open.pem\n"
		"[tunnel]\nprivate_key_file = @D@/open.key\n"
		"[peer p]\npublic_key = @K1@\npreshared_key_file = @D@/open.psk\n";
	c = load_ok(open, &d);
	text = subst("@D@/");
	char p2[300], p6[300], p8[300], p11[300];
	snprintf(p2, sizeof(p2), "%sopen.token", text);
	snprintf(p6, sizeof(p6), "%sopen.pem", text);
	snprintf(p8, sizeof(p8), "%sopen.key", text);
	snprintf(p11, sizeof(p11), "%sopen.psk", text);
	free(text);
	const char *const w2[] = {"admin_token_file", p2, open_files[0].who, NULL};
	const char *const w6[] = {"key", p6, "group and others (mode 0644)", NULL};
	const char *const w8[] = {"private_key_file", p8, open_files[1].who, NULL};
	const char *const w11[] = {"preshared_key_file", p11, open_files[2].who, NULL};
	CHECK(c && c->n_warnings == 4, "4 open secret files, 4 warnings (%u)", c ? c->n_warnings : 0);
	CHECK(has_warning(c, &d, 2, w2), "admin_token_file warns at line 2");
	CHECK(has_warning(c, &d, 6, w6), "vhost key warns at line 6");
	CHECK(has_warning(c, &d, 8, w8), "private_key_file warns at line 8");
	CHECK(has_warning(c, &d, 11, w11), "preshared_key_file warns at line 11");
	if (checks_failed)
		ini_diag_print(&d, stderr);
	ini_config_free(c);
	ini_diag_free(&d);

	/* With an error too, the warning is still in the list, in line order. */
	text = subst("[tunnel]\nprivate_key_file = @D@/open.key\nmtu = 1\n");
	struct rg_config *bad = NULL;
	ini_diag_init(&d);
	int r = ini_config_load_string("t.ini", text, &bad, &d);
	free(text);
	CHECK(r == -EINVAL && !bad && ini_diag_count(&d) == 2 &&
	      !strncmp(ini_diag_get(&d, 0), "t.ini:2: warning: private_key_file", 34) &&
	      !strncmp(ini_diag_get(&d, 1), "t.ini:3: mtu", 12), "warning and error together, in order");
	ini_diag_free(&d);
}

/* The embedded --demo configuration of control/demo.c, in shape. */
static void test_demo_shape(void)
{
	char *text = subst("; ringgate --demo: the embedded configuration\n[appliance]\nworkers = auto\n"
	                   "admin = 127.0.0.1:8082\n\n[quic]\nlisten = 127.0.0.1:4433\n\n[vhost localhost]\n"
	                   "cert = @D@/cert.pem\nkey = @D@/key.pem\n\n[backend demo]\nserver = 127.0.0.1:40000\n\n"
	                   "[route demo]\nhost = localhost\npath_prefix = /\nbackend = demo\n\n[tunnel]\n"
	                   "listen = 127.0.0.1:51820\nprivate_key_file = @D@/tunnel.key\n");
	struct rg_config *c = NULL;
	struct ini_diag d;
	ini_diag_init(&d);
	int r = ini_config_load_string("demo.ini", text, &c, &d);
	CHECK(r == 0 && c && c->quic && c->tunnel && !c->tunnel->tun, "demo config (r=%d)", r);
	if (r)
		ini_diag_print(&d, stderr);
	ini_config_free(c);
	ini_diag_free(&d);
	free(text);
}

int main(void)
{
	make_fixtures();
	test_full();
	test_defaults();
	test_many_errors();
	test_syntax();
	test_files();
	test_warnings();
	test_tun_address();
	test_demo_shape();
	remove_fixtures();
	printf("%d checks, %d failed\n", checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}
