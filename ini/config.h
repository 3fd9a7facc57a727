/* ringgate configuration: the typed result of parsing ringgate.ini, and the
 * loader the control thread calls. Every section and key is described in
 * ../shared/design/INTERFACE.md; the table that drives parsing is ini/schema.c.
 *
 * Units, once for the whole file:
 *   - durations are MILLISECONDS in uint64_t fields named *_ms
 *     (the file says 250ms, 10s, 5m, 1h);
 *   - sizes are BYTES in uint64_t fields named *_bytes (64k, 10m, 1g);
 *   - ports are host byte order in `port`; inside sockaddrs they are network
 *     order as the kernel wants them;
 *   - keys are the raw 32 bytes (the file holds WireGuard's base64).
 *
 * Ownership: a struct rg_config is one allocation tree (an arena) owned by
 * whoever got it from ini_config_load_*; ini_config_free() releases all of
 * it and wipes the secrets (tunnel private key, preshared keys, admin token)
 * first. After load nothing writes to it: the control thread publishes it to
 * the workers as a config generation, read-only, from any thread.
 *
 * Relative file names in the config are taken as given (relative to the
 * working directory of the process), not to the config file's folder.
 */
#ifndef RG_INI_CONFIG_H
#define RG_INI_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define RG_KEY_LEN 32         /* X25519 public/private keys, preshared keys */
#define RG_CFG_MAX_CPUS 1024  /* `cpus` and `workers` upper bound */
#define RG_CFG_MAX_WORKERS 1024
#define RG_CFG_MAX_TUN_ADDRS 16 /* [tunnel] address list */

/* ---- diagnostics ------------------------------------------------------ */

/* An ordered list of messages, each "FILE:LINE: message" (no newline).
 * LINE is the line of the offending key or section header; for a
 * cross-check it is the line of the key that is wrong; it is 0 only when
 * the whole file is at fault (cannot be opened). Zero-initialised is a
 * valid empty list, as is ini_diag_init(). */
struct ini_diag {
	char **msgs;
	unsigned n, cap;
	bool oom;  /* an append failed for lack of memory (messages were lost) */
};

void ini_diag_init(struct ini_diag *d);
void ini_diag_free(struct ini_diag *d);  /* and leaves it empty, reusable */
unsigned ini_diag_count(const struct ini_diag *d);
/* i-th message, NULL when i >= count. Valid until the next append/free. */
const char *ini_diag_get(const struct ini_diag *d, unsigned i);
/* Append a message already formatted by the caller (printf style).
 * 0 or -ENOMEM. */
int ini_diag_append(struct ini_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append "FILE:LINE: message". 0 or -ENOMEM. */
int ini_diag_addf(struct ini_diag *d, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Print every message, one a line. */
void ini_diag_print(const struct ini_diag *d, FILE *f);
/* Every message joined with '\n' (each ends in one); malloc'ed, caller
 * frees. "" when empty; NULL only on allocation failure. */
char *ini_diag_join(const struct ini_diag *d);

/* ---- value types ------------------------------------------------------- */

enum rg_cfg_addr_kind {
	RG_CFG_ADDR_INET = 0,  /* an IPv4 or IPv6 address and port: `sa` is set */
	RG_CFG_ADDR_IFACE,     /* `iface NAME:PORT`: `iface` and `port` are set */
};

union rg_cfg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* 1.2.3.4:443, [::1]:443, 0.0.0.0:443, [::]:443, iface eth0:443.
 * Ports are 1..65535. */
struct rg_cfg_addr {
	enum rg_cfg_addr_kind kind;
	uint16_t port;               /* host order, both kinds */
	union rg_cfg_sockaddr sa;    /* INET: AF_INET or AF_INET6, port in network order */
	char iface[IF_NAMESIZE];     /* IFACE: NUL-terminated interface name */
};

/* 10.0.0.0/8, fd00::/64. `addr` holds 4 (AF_INET) or 16 bytes, network
 * order. In allowed-IP lists the host bits are cleared (as WireGuard does);
 * in [tunnel] address they are kept (it is the interface's own address). */
struct rg_cidr {
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* 0..32 or 0..128 */
	uint8_t addr[16];
};

/* `all`, or a list like 0-3,8. Bit i of bits[] set = CPU i listed. */
struct rg_cpuset {
	bool all;
	uint64_t bits[RG_CFG_MAX_CPUS / 64];
};

static inline bool rg_cpuset_has(const struct rg_cpuset *s, unsigned cpu)
{
	return cpu < RG_CFG_MAX_CPUS && (s->all || (s->bits[cpu / 64] >> (cpu % 64) & 1));
}

enum rg_cfg_log_level {
	RG_CFG_LOG_ERROR = 0,
	RG_CFG_LOG_WARN,
	RG_CFG_LOG_INFO,
	RG_CFG_LOG_DEBUG,
};

enum rg_quic_retry {
	RG_QUIC_RETRY_AUTO = 0,  /* send Retry only under load */
	RG_QUIC_RETRY_ON,
	RG_QUIC_RETRY_OFF,
};

/* [tls] pq (issue 20); in a [vhost], UNSET: [tls]'s. */
enum rg_tls_pq {
	RG_TLS_PQ_UNSET = 0,
	RG_TLS_PQ_PREFER,
	RG_TLS_PQ_REQUIRE,
	RG_TLS_PQ_OFF,
};

/* [vhost] client_auth (issue 9 §3). */
enum rg_client_auth {
	RG_CLIENT_AUTH_OFF = 0,
	RG_CLIENT_AUTH_OPTIONAL,
	RG_CLIENT_AUTH_REQUIRE,
};

enum rg_lb_algorithm {
	RG_LB_LEAST_CONNECTIONS = 0,
	RG_LB_ROUND_ROBIN,
	RG_LB_WEIGHTED_ROUND_ROBIN,
	RG_LB_RANDOM,
	RG_LB_IP_HASH,
	RG_LB_LEAST_RESPONSE_TIME,
};

/* ---- sections ---------------------------------------------------------- */

/* Every section and repeated item records `line`, the line it was declared
 * on in `rg_config.source`, so later stages can point at it too. */

struct rg_appliance_cfg {
	unsigned workers;              /* 1..1024; 0 = auto (one per CPU in `cpus`) */
	struct rg_cpuset cpus;         /* default all */
	struct rg_cfg_addr admin;      /* default 127.0.0.1:8082; always RG_CFG_ADDR_INET */
	bool admin_loopback;           /* admin is 127.0.0.0/8 or ::1 */
	const char *admin_token_file;  /* NULL: none (allowed only on loopback) */
	const char *admin_token;       /* the file's token, trailing CR/LF trimmed,
	                                  >= 32 characters; NULL when no file */
	enum rg_cfg_log_level log_level; /* default info */
	const char *user;              /* NULL: stay as started */
	/* issue 20: one JSON line per finished request appended here
	 * (datapath/proxy/accesslog.h); NULL: off */
	const char *access_log;
	unsigned access_log_line;      /* 0: not set */
};

struct rg_quic_cfg {
	unsigned line;                 /* of the [quic] header */
	const struct rg_cfg_addr *listen; /* default 0.0.0.0:443, [::]:443 */
	unsigned n_listen;
	const char *const *alpn;       /* default "h3" */
	unsigned n_alpn;
	enum rg_quic_retry retry;      /* default auto */
	bool zero_rtt;                 /* default off */
	bool anti_port_scan;           /* default off */
	unsigned backlog;              /* handshakes in progress, default 1024 */
	unsigned max_connections;      /* per worker, 16..1000000, default 4096 */
	uint64_t idle_timeout_ms;      /* default 30s */
	const char *qlog_dir;          /* NULL: off */
	/* issue 18 */
	const char *const *versions;   /* "v1" / "v2", preference order; default v2, v1 */
	unsigned n_versions;
	unsigned max_streams_bidi;     /* default 100 */
	unsigned max_streams_uni;      /* default 3 (RFC 9114 6.2 minimum) */
	uint64_t initial_max_data;     /* bytes, default 4 MiB */
	uint64_t initial_max_stream_data; /* bytes, default 256 KiB (the most) */
	uint64_t handshake_timeout_ms; /* 0 (empty, the default): the idle timeout */
	struct rg_cfg_addr preferred_address; /* sa family 0: none */
};

/* [https] alt_svc (issue 9) */
enum rg_alt_svc {
	RG_ALT_SVC_AUTO = 0, /* Alt-Svc: h3 on responses of vhosts [quic] serves */
	RG_ALT_SVC_OFF,
};

/* [https]: HTTPS over TCP, HTTP/1.1 and HTTP/2 (issue 9). Vhosts are
 * shared with [quic]. */
struct rg_https_cfg {
	unsigned line;                 /* of the [https] header */
	const struct rg_cfg_addr *listen; /* default 0.0.0.0:443, [::]:443 */
	unsigned n_listen;
	enum rg_alt_svc alt_svc;       /* default auto */
	unsigned max_connections;      /* per worker, default 16384 */
	uint64_t handshake_timeout_ms; /* default 10s */
	uint64_t header_timeout_ms;    /* default 10s (slowloris) */
	uint64_t idle_timeout_ms;      /* keep-alive, default 60s */
	uint64_t max_header_bytes;     /* default 16k */
	unsigned max_headers;          /* default 100 */
	unsigned h2_max_streams;       /* SETTINGS_MAX_CONCURRENT_STREAMS, default 100 */
	const char *proxy_protocol;    /* next wave: refused when set */
	const char *limits;            /* next wave: refused when set */
};

/* [redirect]: plain HTTP/1.1, 308 to https (issue 9). */
struct rg_redirect_cfg {
	unsigned line;
	const struct rg_cfg_addr *listen; /* default 0.0.0.0:80 */
	unsigned n_listen;
};

struct rg_vhost_cfg {
	unsigned line;
	const char *name;              /* the SNI name, lower case */
	const char *cert;              /* PEM chain file; checked readable, matches key */
	const char *key;               /* PEM private key file */
	const struct rg_cfg_addr *listen; /* n_listen == 0: every [quic] listener */
	unsigned n_listen;
	/* issue 20: overrides of [tls] groups / pq; NULL / UNSET: [tls]'s.
	 * What the build can do is checked by control/appcfg.c (the TLS
	 * backend knows), at the lines kept here (0: not set). */
	const char *groups;
	enum rg_tls_pq pq;
	unsigned groups_line, pq_line;
	/* issue 9 §3: client certificates. client_ca is checked a readable
	 * PEM list of certificates; client_auth other than off needs it. */
	const char *client_ca;
	enum rg_client_auth client_auth;
	unsigned client_auth_line;     /* for control/appcfg.c (0: not set) */
};

/* [tls] (issue 20): key exchange of every TLS handshake. */
struct rg_tls_cfg {
	unsigned line;                 /* of the [tls] header */
	const char *groups;            /* "A, B" as written; NULL: the build's default */
	enum rg_tls_pq pq;             /* default prefer */
	unsigned groups_line, pq_line; /* 0: not set */
};

struct rg_backend_server_cfg {
	unsigned line;
	struct rg_cfg_addr addr;       /* IP literal and port (never link-local) */
	unsigned weight;               /* 1..65535, default 1 */
	unsigned priority;             /* 1..255, default 1; lower is preferred */
	unsigned max_conns;            /* 0 = unlimited (default) */
};

struct rg_backend_cfg {
	unsigned line;
	const char *name;
	const struct rg_backend_server_cfg *servers; /* at least one */
	unsigned n_servers;
	enum rg_lb_algorithm algorithm;  /* default least_connections */
	const char *health_check;      /* path starting with '/'; NULL: off (default) */
	uint64_t health_interval_ms;   /* default 10s */
	uint64_t timeout_ms;           /* default 30s */
};

struct rg_route_cfg {
	unsigned line;
	const char *name;
	const char *host;              /* as written, lower case: exact or "*.suffix" */
	bool host_wildcard;            /* host is "*.suffix" */
	const char *host_suffix;       /* wildcard: ".suffix" (points into host); else NULL */
	const char *path_prefix;       /* starts with '/', default "/" */
	const char *backend;           /* backend name */
	unsigned backend_idx;          /* index into rg_config.backends */
	bool allow_0rtt;               /* default no */
};

/* One authorized peer of a peers_file line. */
struct rg_peer_entry {
	unsigned line;
	uint8_t public_key[RG_KEY_LEN];
	const struct rg_cidr *allowed_ips;
	unsigned n_allowed_ips;
};

/* The peers of a peers_file. Owned by one arena: free with ini_peers_free()
 * when loaded by ini_peers_load_file(); inside a rg_config it belongs to
 * the config. */
struct rg_peer_list {
	const char *path;
	struct rg_peer_entry *peers;
	unsigned n;
	void *arena;                   /* private */
};

struct rg_tunnel_cfg {
	unsigned line;                 /* of the [tunnel] header */
	const struct rg_cfg_addr *listen; /* default 0.0.0.0:51820 */
	unsigned n_listen;
	const char *private_key_file;  /* required */
	uint8_t private_key[RG_KEY_LEN]; /* its contents, decoded (secret) */
	const char *tun;               /* TUN device name; NULL: no TUN device */
	/* The TUN device's own addresses with their prefixes, host bits kept:
	 * a comma-separated list as wg-quick's Address (10.8.0.1/24, fd00::1/64),
	 * so the device can be dual-stack. n_address == 0: none. */
	const struct rg_cidr *address;
	unsigned n_address;            /* 0..RG_CFG_MAX_TUN_ADDRS, no address twice */
	unsigned mtu;                  /* 576..9000, default 1420 (>= 1280 with IPv6) */
	const char *peers_file;        /* NULL: none */
	struct rg_peer_list file_peers; /* its peers, loaded with the config (n = 0 if none) */
};

struct rg_peer_cfg {
	unsigned line;
	const char *name;
	uint8_t public_key[RG_KEY_LEN];
	const struct rg_cidr *allowed_ips;
	unsigned n_allowed_ips;
	const char *preshared_key_file; /* NULL: none */
	bool has_preshared_key;
	uint8_t preshared_key[RG_KEY_LEN]; /* the file's key, decoded (secret) */
	const char *endpoint;          /* "host:port" as written; NULL: the peer initiates */
	const char *endpoint_host;     /* host part (no brackets) */
	uint16_t endpoint_port;
	bool endpoint_is_addr;         /* host was an IP literal: endpoint_addr is set */
	struct rg_cfg_addr endpoint_addr;
	unsigned persistent_keepalive_s; /* 0..65535, 0 = off (default) */
};

struct rg_config {
	const char *source;            /* file name (or the name given for a string) */
	struct rg_appliance_cfg appliance;
	const struct rg_quic_cfg *quic;     /* NULL: no [quic] section, QUIC off */
	const struct rg_vhost_cfg *vhosts;
	unsigned n_vhosts;
	const struct rg_backend_cfg *backends;
	unsigned n_backends;
	const struct rg_route_cfg *routes;
	unsigned n_routes;
	const struct rg_tunnel_cfg *tunnel; /* NULL: no [tunnel] section, tunnels off */
	const struct rg_tls_cfg *tls;  /* NULL: no [tls] section (defaults) */
	const struct rg_peer_cfg *peers;
	unsigned n_peers;
	const struct rg_https_cfg *https;       /* NULL: no [https] (issue 9) */
	const struct rg_redirect_cfg *redirect; /* NULL: no [redirect] */
	/* What loads but does not do what it says, or is unsafe: keys parsed
	 * and not implemented yet, secret files open to group or others. Each
	 * "FILE:LINE: warning: ..." (also in the load's diag). Start-up and
	 * reload log them; --strict treats them as errors. */
	const char *const *warnings;
	unsigned n_warnings;
	void *arena;                   /* private: owns everything above */
};

/* ---- loading ----------------------------------------------------------- */

/* Parse and check `path`. Returns 0 and sets *out to a new config, or a
 * negative errno and leaves *out alone: -EINVAL when the file has errors
 * (all of them appended to diag as "FILE:LINE: message", warnings among
 * them as "FILE:LINE: warning: message"), -ENOENT/-EACCES/...
 * when it cannot be read (one "FILE:0: ..." message), -ENOMEM.
 * On success diag gets the warnings only (as rg_config.warnings).
 * Reads the files the config names (certs, keys, token, peers_file).
 * diag may be NULL when messages are not wanted. */
int ini_config_load_file(const char *path, struct rg_config **out, struct ini_diag *diag);

/* The same on text in memory; `name` stands for the file name in messages
 * (e.g. "demo.ini" for the embedded --demo config). */
int ini_config_load_string(const char *name, const char *text, struct rg_config **out,
                           struct ini_diag *diag);

/* Wipe the secrets and free the whole tree. NULL is fine. */
void ini_config_free(struct rg_config *c);

/* Index of the backend called `name`, or -ENOENT. */
int ini_config_backend_find(const struct rg_config *c, const char *name);

/* Load a peers_file: one peer a line, "<base64 public key> <allowed-ips>"
 * (allowed-ips a comma-separated CIDR list), '#' starts a comment, blank
 * lines are fine. Returns 0 and fills *out (free with ini_peers_free), or a
 * negative errno with *out zeroed: -EINVAL with every bad line in diag as
 * "FILE:LINE: message" (duplicate keys included), or the open error. */
int ini_peers_load_file(const char *path, struct rg_peer_list *out, struct ini_diag *diag);
/* The same on text in memory, `name` standing for the file name. */
int ini_peers_load_string(const char *name, const char *text, struct rg_peer_list *out,
                          struct ini_diag *diag);
void ini_peers_free(struct rg_peer_list *l);

/* Names of enum values as written in the file ("least_connections", "info"). */
const char *ini_lb_algorithm_name(enum rg_lb_algorithm a);
const char *ini_log_level_name(enum rg_cfg_log_level l);
const char *ini_quic_retry_name(enum rg_quic_retry r);
const char *ini_tls_pq_name(enum rg_tls_pq p);

#endif
