/* The schema: one table per section of {key, type, field, flags, default,
 * range}, and the code that applies a table to `key = value` lines. Every
 * section and key here is in ../shared/design/INTERFACE.md; a new key is a
 * new row, not new parsing code. Defaults are written as the user would
 * write them and go through the same parsers as the file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ini/internal.h"

#define F(type, field) offsetof(type, field)
#define NOFF ((size_t)0)

/* ---- extra rules for strings ------------------------------------------- */

static int check_url_path(const char *s, char *why)
{
	if (s[0] != '/') {
		snprintf(why, INI_WHY_MAX, "must start with '/'");
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f) {
			snprintf(why, INI_WHY_MAX, "no spaces or control characters in a path");
			return -EINVAL;
		}
	}
	return 0;
}

static int check_ifname(const char *s, char *why)
{
	size_t n = strlen(s);
	bool ok = n > 0 && n < IF_NAMESIZE && strcmp(s, ".") && strcmp(s, "..");
	for (const char *p = s; ok && *p; p++)
		ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f && *p != '/' && *p != ':';
	if (!ok) {
		snprintf(why, INI_WHY_MAX, "not an interface name (1..%d characters, no spaces, '/' or ':')",
		         IF_NAMESIZE - 1);
		return -EINVAL;
	}
	return 0;
}

static int check_user(const char *s, char *why)
{
	bool ok = strlen(s) <= 32 && (isalpha((unsigned char)s[0]) || s[0] == '_');
	for (const char *p = s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
	if (!ok) {
		snprintf(why, INI_WHY_MAX, "not a user name");
		return -EINVAL;
	}
	return 0;
}

static int check_alpn(const char *s, char *why)
{
	bool ok = strlen(s) <= 255;
	for (const char *p = s; ok && *p; p++)
		ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f;
	if (!ok) {
		snprintf(why, INI_WHY_MAX, "not an ALPN protocol id (1..255 visible characters)");
		return -EINVAL;
	}
	return 0;
}

/* [quic] versions: RFC 9000's v1 and RFC 9369's v2 */
static int check_quic_version(const char *s, char *why)
{
	if (strcmp(s, "v1") != 0 && strcmp(s, "v2") != 0) {
		snprintf(why, INI_WHY_MAX, "not a QUIC version ringgate speaks (v1, v2)");
		return -EINVAL;
	}
	return 0;
}

/* [tls] groups: the syntax only ("A, B": names of letters, digits, '_',
 * '-'); which names this build can negotiate is the TLS backend's word,
 * asked by control/appcfg.c (tls_groups_check) with this key's line. */
static int check_tls_groups(const char *s, char *why)
{
	bool ok = strlen(s) <= 255, any = false;
	for (const char *p = s; ok && *p; p++) {
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == ',' || *p == ' ' || *p == '\t';
		any |= isalnum((unsigned char)*p) != 0;
	}
	if (!ok || !any) {
		snprintf(why, INI_WHY_MAX, "not a list of key-exchange group names (e.g. X25519MLKEM768, X25519)");
		return -EINVAL;
	}
	return 0;
}

int ini_schema_check_name(const char *name, char *why)
{
	size_t n = strlen(name);
	bool ok = n > 0 && n <= 64;
	for (const char *p = name; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
	if (!ok) {
		snprintf(why, INI_WHY_MAX, "bad name '%.64s' (1..64 of letters, digits, '_', '-', '.')", name);
		return -EINVAL;
	}
	return 0;
}

/* ---- the tables ---------------------------------------------------------- */

static const struct ini_enum_name log_levels[] = {
	{"error", RG_CFG_LOG_ERROR}, {"warn", RG_CFG_LOG_WARN},
	{"info", RG_CFG_LOG_INFO},   {"debug", RG_CFG_LOG_DEBUG},
	{NULL, 0},
};

static const struct ini_enum_name retries[] = {
	{"on", RG_QUIC_RETRY_ON}, {"off", RG_QUIC_RETRY_OFF}, {"auto", RG_QUIC_RETRY_AUTO}, {NULL, 0},
};

static const struct ini_enum_name tls_pqs[] = {
	{"prefer", RG_TLS_PQ_PREFER}, {"require", RG_TLS_PQ_REQUIRE}, {"off", RG_TLS_PQ_OFF}, {NULL, 0},
};

static const struct ini_enum_name client_auths[] = {
	{"off", RG_CLIENT_AUTH_OFF}, {"optional", RG_CLIENT_AUTH_OPTIONAL}, {"require", RG_CLIENT_AUTH_REQUIRE},
	{NULL, 0},
};

static const struct ini_enum_name algorithms[] = {
	{"least_connections", RG_LB_LEAST_CONNECTIONS},
	{"round_robin", RG_LB_ROUND_ROBIN},
	{"weighted_round_robin", RG_LB_WEIGHTED_ROUND_ROBIN},
	{"random", RG_LB_RANDOM},
	{"ip_hash", RG_LB_IP_HASH},
	{"least_response_time", RG_LB_LEAST_RESPONSE_TIME},
	{NULL, 0},
};

#define MS_MAX (24ull * 3600 * 1000) /* no timer in the file needs more than a day */

#define A struct rg_appliance_cfg
static const struct ini_key appliance_keys[] = {
	{"workers", INI_T_WORKERS, F(A, workers), NOFF, 0, "auto", 1, RG_CFG_MAX_WORKERS, NULL, NULL},
	{"cpus", INI_T_CPUSET, F(A, cpus), NOFF, 0, "all", 0, 0, NULL, NULL},
	{"admin", INI_T_ADDR, F(A, admin), NOFF, 0, "127.0.0.1:8082", 0, 0, NULL, NULL},
	{"admin_token_file", INI_T_PATH, F(A, admin_token_file), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	{"log_level", INI_T_ENUM, F(A, log_level), NOFF, 0, "info", 0, 0, log_levels, NULL},
	{"user", INI_T_STRING, F(A, user), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, check_user},
	/* issue 20 */
	{"access_log", INI_T_PATH, F(A, access_log), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
};
#undef A

#define Q struct rg_quic_cfg
static const struct ini_key quic_keys[] = {
	{"listen", INI_T_ADDR_LIST, F(Q, listen), F(Q, n_listen), 0, "0.0.0.0:443, [::]:443", 0, 0, NULL, NULL},
	{"alpn", INI_T_STRING_LIST, F(Q, alpn), F(Q, n_alpn), 0, "h3", 0, 0, NULL, check_alpn},
	{"retry", INI_T_ENUM, F(Q, retry), NOFF, 0, "auto", 0, 0, retries, NULL},
	{"zero_rtt", INI_T_BOOL, F(Q, zero_rtt), NOFF, 0, "off", 0, 0, NULL, NULL},
	{"anti_port_scan", INI_T_BOOL, F(Q, anti_port_scan), NOFF, 0, "off", 0, 0, NULL, NULL},
	{"backlog", INI_T_UINT, F(Q, backlog), NOFF, 0, "1024", 1, 1u << 20, NULL, NULL},
	{"max_connections", INI_T_UINT, F(Q, max_connections), NOFF, 0, "4096", 16, 1000000, NULL, NULL},
	{"idle_timeout", INI_T_DURATION, F(Q, idle_timeout_ms), NOFF, 0, "30s", 1, MS_MAX, NULL, NULL},
	{"qlog_dir", INI_T_PATH, F(Q, qlog_dir), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	/* issue 18 */
	{"versions", INI_T_STRING_LIST, F(Q, versions), F(Q, n_versions), 0, "v2, v1", 0, 0, NULL,
	 check_quic_version},
	{"max_streams_bidi", INI_T_UINT, F(Q, max_streams_bidi), NOFF, 0, "100", 1, 1u << 20, NULL, NULL},
	{"max_streams_uni", INI_T_UINT, F(Q, max_streams_uni), NOFF, 0, "3", 3, 1u << 20, NULL, NULL},
	{"initial_max_data", INI_T_SIZE, F(Q, initial_max_data), NOFF, 0, "4m", 16384, 1ull << 30, NULL, NULL},
	{"initial_max_stream_data", INI_T_SIZE, F(Q, initial_max_stream_data), NOFF, 0, "256k", 16384, 262144,
	 NULL, NULL},
	{"handshake_timeout", INI_T_DURATION, F(Q, handshake_timeout_ms), NOFF, INI_F_EMPTY_OFF, NULL, 1000, MS_MAX,
	 NULL, NULL},
	{"preferred_address", INI_T_ADDR, F(Q, preferred_address), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
};
#undef Q

#define V struct rg_vhost_cfg
static const struct ini_key vhost_keys[] = {
	{"cert", INI_T_PATH, F(V, cert), NOFF, INI_F_REQUIRED, NULL, 0, 0, NULL, NULL},
	{"key", INI_T_PATH, F(V, key), NOFF, INI_F_REQUIRED, NULL, 0, 0, NULL, NULL},
	{"listen", INI_T_ADDR_LIST, F(V, listen), F(V, n_listen), INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	/* issue 20: override [tls] */
	{"groups", INI_T_STRING, F(V, groups), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, check_tls_groups},
	{"pq", INI_T_ENUM, F(V, pq), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, tls_pqs, NULL},
	/* issue 9 §3: client certificates (ini/check.c checks them together) */
	{"client_ca", INI_T_PATH, F(V, client_ca), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	{"client_auth", INI_T_ENUM, F(V, client_auth), NOFF, 0, "off", 0, 0, client_auths, NULL},
};
#undef V

/* issue 20 */
#define S struct rg_tls_cfg
static const struct ini_key tls_keys[] = {
	{"groups", INI_T_STRING, F(S, groups), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, check_tls_groups},
	{"pq", INI_T_ENUM, F(S, pq), NOFF, 0, "prefer", 0, 0, tls_pqs, NULL},
};
#undef S

#define B struct rg_backend_cfg
static const struct ini_key backend_keys[] = {
	{"server", INI_T_SERVER, F(B, servers), F(B, n_servers), INI_F_REPEAT, NULL, 0, 0, NULL, NULL},
	{"algorithm", INI_T_ENUM, F(B, algorithm), NOFF, 0, "least_connections", 0, 0, algorithms, NULL},
	{"health_check", INI_T_STRING, F(B, health_check), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL,
	 check_url_path},
	{"health_interval", INI_T_DURATION, F(B, health_interval_ms), NOFF, 0, "10s", 100, MS_MAX, NULL, NULL},
	{"timeout", INI_T_DURATION, F(B, timeout_ms), NOFF, 0, "30s", 1, MS_MAX, NULL, NULL},
};
#undef B

#define R struct rg_route_cfg
static const struct ini_key route_keys[] = {
	{"host", INI_T_HOST, F(R, host), NOFF, INI_F_REQUIRED | INI_F_WILDCARD, NULL, 0, 0, NULL, NULL},
	{"path_prefix", INI_T_STRING, F(R, path_prefix), NOFF, 0, "/", 0, 0, NULL, check_url_path},
	{"backend", INI_T_STRING, F(R, backend), NOFF, INI_F_REQUIRED, NULL, 0, 0, NULL, ini_schema_check_name},
	{"allow_0rtt", INI_T_BOOL, F(R, allow_0rtt), NOFF, 0, "no", 0, 0, NULL, NULL},
};
#undef R

#define T struct rg_tunnel_cfg
static const struct ini_key tunnel_keys[] = {
	{"listen", INI_T_ADDR_LIST, F(T, listen), F(T, n_listen), 0, "0.0.0.0:51820", 0, 0, NULL, NULL},
	{"private_key_file", INI_T_PATH, F(T, private_key_file), NOFF, INI_F_REQUIRED, NULL, 0, 0, NULL, NULL},
	{"tun", INI_T_STRING, F(T, tun), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, check_ifname},
	/* A list, as wg-quick's Address: a dual-stack TUN (check.c: no repeats, at
	 * most RG_CFG_MAX_TUN_ADDRS). */
	{"address", INI_T_CIDR_LIST, F(T, address), F(T, n_address), INI_F_EMPTY_OFF | INI_F_HOST_BITS, NULL, 0, 0,
	 NULL, NULL},
	/* 576 is IPv4's minimum; check.c asks for 1280 once IPv6 is in play. */
	{"mtu", INI_T_UINT, F(T, mtu), NOFF, 0, "1420", 576, 9000, NULL, NULL},
	{"peers_file", INI_T_PATH, F(T, peers_file), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
};
#undef T

#define P struct rg_peer_cfg
static const struct ini_key peer_keys[] = {
	{"public_key", INI_T_KEY, F(P, public_key), NOFF, INI_F_REQUIRED, NULL, 0, 0, NULL, NULL},
	/* Repeatable so long lists need not fit one line. */
	{"allowed_ips", INI_T_CIDR_LIST, F(P, allowed_ips), F(P, n_allowed_ips), INI_F_REPEAT | INI_F_EMPTY_OFF,
	 NULL, 0, 0, NULL, NULL},
	{"preshared_key_file", INI_T_PATH, F(P, preshared_key_file), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	{"endpoint", INI_T_ENDPOINT, F(P, endpoint), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, NULL},
	{"persistent_keepalive", INI_T_SECONDS, F(P, persistent_keepalive_s), NOFF, 0, "0", 0, 65535, NULL, NULL},
};
#undef P

/* [https] proxy_protocol and limits are INTERFACE.md's next wave: a value
 * is refused (never parsed and ignored). */
static int check_next_wave(const char *s, char *why)
{
	(void)s;
	snprintf(why, INI_WHY_MAX, "not implemented yet (issue 9 next wave: PROXY protocol and [limit] policies)");
	return -EINVAL;
}

static const struct ini_enum_name alt_svcs[] = {
	{"auto", RG_ALT_SVC_AUTO}, {"off", RG_ALT_SVC_OFF}, {NULL, 0},
};

/* issue 9 */
#define H struct rg_https_cfg
static const struct ini_key https_keys[] = {
	{"listen", INI_T_ADDR_LIST, F(H, listen), F(H, n_listen), 0, "0.0.0.0:443, [::]:443", 0, 0, NULL, NULL},
	{"alt_svc", INI_T_ENUM, F(H, alt_svc), NOFF, 0, "auto", 0, 0, alt_svcs, NULL},
	{"max_connections", INI_T_UINT, F(H, max_connections), NOFF, 0, "16384", 16, 1000000, NULL, NULL},
	{"handshake_timeout", INI_T_DURATION, F(H, handshake_timeout_ms), NOFF, 0, "10s", 100, MS_MAX, NULL, NULL},
	{"header_timeout", INI_T_DURATION, F(H, header_timeout_ms), NOFF, 0, "10s", 100, MS_MAX, NULL, NULL},
	{"idle_timeout", INI_T_DURATION, F(H, idle_timeout_ms), NOFF, 0, "60s", 100, MS_MAX, NULL, NULL},
	{"max_header_bytes", INI_T_SIZE, F(H, max_header_bytes), NOFF, 0, "16k", 1024, 1u << 20, NULL, NULL},
	{"max_headers", INI_T_UINT, F(H, max_headers), NOFF, 0, "100", 8, 10000, NULL, NULL},
	{"h2_max_streams", INI_T_UINT, F(H, h2_max_streams), NOFF, 0, "100", 1, 10000, NULL, NULL},
	{"proxy_protocol", INI_T_STRING, F(H, proxy_protocol), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL,
	 check_next_wave},
	{"limits", INI_T_STRING, F(H, limits), NOFF, INI_F_EMPTY_OFF, NULL, 0, 0, NULL, check_next_wave},
};
#undef H

#define D struct rg_redirect_cfg
static const struct ini_key redirect_keys[] = {
	{"listen", INI_T_ADDR_LIST, F(D, listen), F(D, n_listen), 0, "0.0.0.0:80", 0, 0, NULL, NULL},
};
#undef D

#define SEC(n, named_, host_, type, keys_, has_name)                                          \
	{n, named_, host_, sizeof(type), has_name, offsetof(type, line), keys_,                   \
	 sizeof(keys_) / sizeof(keys_[0])}

const struct ini_section ini_schema[INI_SEC_MAX] = {
	[INI_SEC_APPLIANCE] = {"appliance", false, false, sizeof(struct rg_appliance_cfg), 0, (size_t)-1,
	                       appliance_keys, sizeof(appliance_keys) / sizeof(appliance_keys[0])},
	[INI_SEC_QUIC] = SEC("quic", false, false, struct rg_quic_cfg, quic_keys, 0),
	[INI_SEC_VHOST] = SEC("vhost", true, true, struct rg_vhost_cfg, vhost_keys, offsetof(struct rg_vhost_cfg, name)),
	[INI_SEC_BACKEND] = SEC("backend", true, false, struct rg_backend_cfg, backend_keys,
	                        offsetof(struct rg_backend_cfg, name)),
	[INI_SEC_ROUTE] = SEC("route", true, false, struct rg_route_cfg, route_keys, offsetof(struct rg_route_cfg, name)),
	[INI_SEC_TUNNEL] = SEC("tunnel", false, false, struct rg_tunnel_cfg, tunnel_keys, 0),
	[INI_SEC_PEER] = SEC("peer", true, false, struct rg_peer_cfg, peer_keys, offsetof(struct rg_peer_cfg, name)),
	[INI_SEC_TLS] = SEC("tls", false, false, struct rg_tls_cfg, tls_keys, 0),
	[INI_SEC_HTTPS] = SEC("https", false, false, struct rg_https_cfg, https_keys, 0),
	[INI_SEC_REDIRECT] = SEC("redirect", false, false, struct rg_redirect_cfg, redirect_keys, 0),
};

_Static_assert(sizeof(appliance_keys) / sizeof(appliance_keys[0]) <= INI_MAX_KEYS, "key_line too small");
_Static_assert(sizeof(quic_keys) / sizeof(quic_keys[0]) <= INI_MAX_KEYS, "key_line too small");
_Static_assert(sizeof(tunnel_keys) / sizeof(tunnel_keys[0]) <= INI_MAX_KEYS, "key_line too small");
_Static_assert(sizeof(https_keys) / sizeof(https_keys[0]) <= INI_MAX_KEYS, "key_line too small");
_Static_assert(sizeof(peer_keys) / sizeof(peer_keys[0]) <= INI_MAX_KEYS, "key_line too small");
_Static_assert(sizeof(enum rg_lb_algorithm) == sizeof(int), "enums are stored as int");

/* ---- applying a row ---------------------------------------------------- */

#define FIELD(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))

/* Append `size` bytes at `item` to the list at k->off / k->off2. */
static int list_append(struct ini_load *L, void *obj, const struct ini_key *k, const void *item, size_t size)
{
	void **arr = FIELD(obj, k->off, void *);
	unsigned *n = FIELD(obj, k->off2, unsigned);
	if (*n >= 4096)
		return -E2BIG;
	char *p = ini_arena_grow(L->arena, *arr, *n, size);
	if (!p)
		return -ENOMEM;
	memcpy(p + (size_t)*n * size, item, size);
	*arr = p;
	(*n)++;
	return 0;
}

/* server = ADDR [weight=N] [priority=N] [max_conns=N] */
static int set_server(struct ini_load *L, void *obj, const struct ini_key *k, const char *value,
                      unsigned line, char *why)
{
	static const struct {
		const char *name;
		size_t off;
		uint64_t min, max;
	} attrs[] = {
		{"weight", offsetof(struct rg_backend_server_cfg, weight), 1, 65535},
		{"priority", offsetof(struct rg_backend_server_cfg, priority), 1, 255},
		{"max_conns", offsetof(struct rg_backend_server_cfg, max_conns), 0, 1000000},
	};
	struct rg_backend_server_cfg s = {.line = line, .weight = 1, .priority = 1, .max_conns = 0};
	bool seen[3] = {false, false, false};
	char tok[128];
	const char *p = value;
	bool first = true;
	while (*p) {
		size_t n = strcspn(p, " \t");
		if (n >= sizeof(tok)) {
			snprintf(why, INI_WHY_MAX, "word too long: '%.32s...'", p);
			return -EINVAL;
		}
		memcpy(tok, p, n);
		tok[n] = 0;
		p += n;
		p += strspn(p, " \t");
		if (first) {
			if (ini_value_addr(tok, false, &s.addr, why))
				return -EINVAL;
			first = false;
			continue;
		}
		char *eq = strchr(tok, '=');
		unsigned i;
		if (eq)
			*eq = 0;
		for (i = 0; i < 3 && (!eq || strcmp(tok, attrs[i].name)); i++)
			;
		if (i == 3) {
			snprintf(why, INI_WHY_MAX, "unknown server attribute '%.32s' (weight=, priority=, max_conns=)", tok);
			return -EINVAL;
		}
		if (seen[i]) {
			snprintf(why, INI_WHY_MAX, "%s= given twice", attrs[i].name);
			return -EINVAL;
		}
		seen[i] = true;
		uint64_t v;
		char w[INI_WHY_MAX];
		if (ini_value_uint(eq + 1, attrs[i].min, attrs[i].max, &v, w)) {
			snprintf(why, INI_WHY_MAX, "%s=%.16s: %.400s", attrs[i].name, eq + 1, w);
			return -EINVAL;
		}
		*FIELD(&s, attrs[i].off, unsigned) = (unsigned)v;
	}
	if (first) {
		snprintf(why, INI_WHY_MAX, "want ADDRESS:PORT [weight=N] [priority=N] [max_conns=N]");
		return -EINVAL;
	}
	int r = list_append(L, obj, k, &s, sizeof(s));
	if (r == -E2BIG)
		snprintf(why, INI_WHY_MAX, "too many servers");
	return r;
}

static int set_endpoint(struct ini_load *L, struct rg_peer_cfg *p, const char *value, char *why)
{
	char host[256];
	uint16_t port;
	if (ini_value_host_port(value, host, sizeof(host), &port, why))
		return -EINVAL;
	struct rg_cfg_addr a;
	char ignore[INI_WHY_MAX];
	p->endpoint_is_addr = !ini_value_addr(value, false, &a, ignore);
	if (p->endpoint_is_addr)
		p->endpoint_addr = a;
	p->endpoint = ini_arena_strdup(L->arena, value);
	p->endpoint_host = ini_arena_strdup(L->arena, host);
	p->endpoint_port = port;
	return p->endpoint && p->endpoint_host ? 0 : -ENOMEM;
}

/* Parse `value` per row k into the section struct obj. 0, -EINVAL (why
 * says why) or -ENOMEM. */
static int set_value(struct ini_load *L, void *obj, const struct ini_key *k, const char *value,
                     unsigned line, char *why)
{
	char item[256];
	uint64_t v;
	int r;

	if (!*value && (k->flags & INI_F_EMPTY_OFF))
		return 0; /* the zeroed field already means unset */
	if (!*value) {
		snprintf(why, INI_WHY_MAX, "empty value");
		return -EINVAL;
	}
	switch (k->type) {
	case INI_T_BOOL:
		return ini_value_bool(value, FIELD(obj, k->off, bool), why);
	case INI_T_UINT:
		if (ini_value_uint(value, k->min, k->max, &v, why))
			return -EINVAL;
		*FIELD(obj, k->off, unsigned) = (unsigned)v;
		return 0;
	case INI_T_WORKERS:
		if (!strcasecmp(value, "auto")) {
			*FIELD(obj, k->off, unsigned) = 0;
			return 0;
		}
		if (ini_value_uint(value, k->min, k->max, &v, why)) {
			size_t l = strlen(why);
			snprintf(why + l, INI_WHY_MAX - l, " (or auto)");
			return -EINVAL;
		}
		*FIELD(obj, k->off, unsigned) = (unsigned)v;
		return 0;
	case INI_T_SECONDS:
		if (isdigit((unsigned char)value[strlen(value) - 1])) {
			if (ini_value_uint(value, k->min, k->max, &v, why))
				return -EINVAL;
		} else {
			if (ini_value_duration(value, &v, why))
				return -EINVAL;
			if (v % 1000) {
				snprintf(why, INI_WHY_MAX, "whole seconds only");
				return -EINVAL;
			}
			v /= 1000;
			if (v < k->min || v > k->max) {
				snprintf(why, INI_WHY_MAX, "out of range %llu..%llu seconds",
				         (unsigned long long)k->min, (unsigned long long)k->max);
				return -EINVAL;
			}
		}
		*FIELD(obj, k->off, unsigned) = (unsigned)v;
		return 0;
	case INI_T_DURATION:
	case INI_T_SIZE:
		r = k->type == INI_T_DURATION ? ini_value_duration(value, &v, why) : ini_value_size(value, &v, why);
		if (r)
			return r;
		if (v < k->min || v > k->max) {
			if (k->type == INI_T_DURATION)
				snprintf(why, INI_WHY_MAX, "out of range %llums..%llus", (unsigned long long)k->min,
				         (unsigned long long)(k->max / 1000));
			else
				snprintf(why, INI_WHY_MAX, "out of range %llu..%llu bytes",
				         (unsigned long long)k->min, (unsigned long long)k->max);
			return -EINVAL;
		}
		*FIELD(obj, k->off, uint64_t) = v;
		return 0;
	case INI_T_STRING:
		if (k->check && k->check(value, why))
			return -EINVAL;
		/* fall through */
	case INI_T_PATH: {
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p < ' ' || *p == 0x7f) {
				snprintf(why, INI_WHY_MAX, "control character in value");
				return -EINVAL;
			}
		}
		const char *s = ini_arena_strdup(L->arena, value);
		if (!s)
			return -ENOMEM;
		*FIELD(obj, k->off, const char *) = s;
		return 0;
	}
	case INI_T_HOST: {
		char *s = ini_arena_strdup(L->arena, value);
		if (!s)
			return -ENOMEM;
		if (ini_value_hostname(s, k->flags & INI_F_WILDCARD, why))
			return -EINVAL;
		*FIELD(obj, k->off, const char *) = s;
		return 0;
	}
	case INI_T_ADDR:
		return ini_value_addr(value, false, FIELD(obj, k->off, struct rg_cfg_addr), why);
	case INI_T_CPUSET:
		return ini_value_cpuset(value, FIELD(obj, k->off, struct rg_cpuset), why);
	case INI_T_KEY:
		return ini_value_key(value, FIELD(obj, k->off, uint8_t), why);
	case INI_T_ENUM: {
		int e;
		if (ini_value_enum(value, k->names, &e, why))
			return -EINVAL;
		*FIELD(obj, k->off, int) = e;
		return 0;
	}
	case INI_T_ADDR_LIST:
	case INI_T_CIDR_LIST:
	case INI_T_STRING_LIST: {
		const char *cur = value;
		while ((r = ini_value_list_next(&cur, item, sizeof(item), why)) > 0) {
			struct rg_cfg_addr a;
			struct rg_cidr c;
			const char *s;
			if (k->type == INI_T_ADDR_LIST) {
				if (ini_value_addr(item, true, &a, why))
					return -EINVAL;
				r = list_append(L, obj, k, &a, sizeof(a));
			} else if (k->type == INI_T_CIDR_LIST) {
				if (ini_value_cidr(item, !(k->flags & INI_F_HOST_BITS), &c, why))
					return -EINVAL;
				r = list_append(L, obj, k, &c, sizeof(c));
			} else {
				if (k->check && k->check(item, why))
					return -EINVAL;
				if (!(s = ini_arena_strdup(L->arena, item)))
					return -ENOMEM;
				r = list_append(L, obj, k, &s, sizeof(s));
			}
			if (r == -E2BIG)
				snprintf(why, INI_WHY_MAX, "list too long");
			if (r)
				return r == -E2BIG ? -EINVAL : r;
		}
		return r;
	}
	case INI_T_SERVER:
		return set_server(L, obj, k, value, line, why);
	case INI_T_ENDPOINT:
		return set_endpoint(L, obj, value, why);
	}
	snprintf(why, INI_WHY_MAX, "internal: unknown value type");
	return -EINVAL;
}

static const struct ini_key *key_find(const struct ini_section *s, const char *name, unsigned *idx)
{
	for (unsigned i = 0; i < s->n_keys; i++) {
		if (!strcmp(s->keys[i].name, name)) {
			*idx = i;
			return &s->keys[i];
		}
	}
	return NULL;
}

static void section_label(const struct ini_inst *in, char *buf, size_t n)
{
	if (in->name)
		snprintf(buf, n, "[%s %s]", ini_schema[in->sec].name, in->name);
	else
		snprintf(buf, n, "[%s]", ini_schema[in->sec].name);
}

void ini_schema_set(struct ini_load *L, struct ini_inst *in, const char *key, const char *value, unsigned line)
{
	const struct ini_section *s = &ini_schema[in->sec];
	char why[INI_WHY_MAX], label[96];
	unsigned idx;
	const struct ini_key *k = key_find(s, key, &idx);
	if (!k) {
		char known[INI_WHY_MAX];
		size_t len = 0;
		for (unsigned i = 0; i < s->n_keys; i++) {
			int w = snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", s->keys[i].name);
			if (w < 0 || (size_t)w >= sizeof(known) - len)
				break;
			len += (size_t)w;
		}
		known[len] = 0;
		section_label(in, label, sizeof(label));
		ini_load_error(L, line, "unknown key '%.64s' in %s (known: %s)", key, label, known);
		return;
	}
	if (in->key_line[idx] && !(k->flags & INI_F_REPEAT)) {
		ini_load_error(L, line, "duplicate key '%s' (first set on line %u)", key, in->key_line[idx]);
		return;
	}
	if (!in->key_line[idx])
		in->key_line[idx] = line;
	int r = set_value(L, in->obj, k, value, line, why);
	if (r == -ENOMEM)
		L->oom = -ENOMEM;
	else if (r) {
		in->bad |= 1u << idx;
		ini_load_error(L, line, "%s = %.64s%s: %s", key, value, strlen(value) > 64 ? "..." : "", why);
	}
}

void ini_schema_finish(struct ini_load *L, struct ini_inst *in)
{
	const struct ini_section *s = &ini_schema[in->sec];
	char why[INI_WHY_MAX], label[96];
	for (unsigned i = 0; i < s->n_keys; i++) {
		const struct ini_key *k = &s->keys[i];
		/* A bad value was reported where it was; the default stands in
		 * for it so later checks do not trip over a half-set field. */
		if (in->key_line[i] && !(in->bad >> i & 1))
			continue;
		if (in->key_line[i] && !k->def)
			continue;
		if (k->flags & INI_F_REQUIRED) {
			section_label(in, label, sizeof(label));
			ini_load_error(L, in->line, "%s needs '%s'", label, k->name);
		} else if (k->def) {
			int r = set_value(L, in->obj, k, k->def, in->line, why);
			if (r == -ENOMEM)
				L->oom = -ENOMEM;
			else if (r) /* a bug in the table above */
				ini_load_error(L, in->line, "internal: default of %s: %s", k->name, why);
		}
	}
}

bool ini_schema_key_bad(const struct ini_inst *in, const char *key)
{
	unsigned idx;
	return key_find(&ini_schema[in->sec], key, &idx) && (in->bad >> idx & 1);
}

bool ini_schema_key_given(const struct ini_inst *in, const char *key)
{
	unsigned idx;
	return key_find(&ini_schema[in->sec], key, &idx) && in->key_line[idx];
}

unsigned ini_schema_key_line(const struct ini_inst *in, const char *key)
{
	unsigned idx;
	if (key_find(&ini_schema[in->sec], key, &idx) && in->key_line[idx])
		return in->key_line[idx];
	return in->line;
}
