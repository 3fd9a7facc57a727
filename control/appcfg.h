/* What the control thread reads from a loaded configuration. The only
 * place in control/ that knows the fields of struct rg_config (ini/). */
#ifndef RG_APPCFG_H
#define RG_APPCFG_H

#include "control/log.h"
#include "control/netlink.h"
#include "datapath/worker.h"
#include "ring/ring.h"

struct rg_config;

/* Where a builder's messages go (control/genbuild.h): the log on the
 * control thread, a buffer in a test. fn NULL: nowhere. */
struct appcfg_diag {
	void (*fn)(void *ctx, enum log_level level, const char *msg);
	void *ctx;
};
void appcfg_diagf(const struct appcfg_diag *d, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct appcfg_listen {
	enum listener_kind kind;
	rg_sockaddr addr;
};

/* Parse and check. `text` non-NULL: parse it, naming it `name` in
 * messages; else read the file `name`. On failure *errors holds every
 * problem as "FILE:LINE: message" lines (malloc'ed). strict (--strict): a
 * configuration with warnings is refused (-EINVAL), the warnings and a
 * closing "--strict: N warnings, refused" line being its errors. */
RG_MUST_CHECK int appcfg_load(const char *name, const char *text, bool strict, struct rg_config **out,
                              char **errors);
void appcfg_free(struct rg_config *c);
/* The configuration's warnings ("FILE:LINE: warning: ..."): keys that do
 * not do what they say yet, secret files open to others. Count, *out
 * pointing into c. */
unsigned appcfg_warnings(const struct rg_config *c, const char *const **out);
/* Each warning to the log (start, reload: they name FILE:LINE), or with
 * plain, one a line to stderr (--validate). */
void appcfg_warnings_report(const struct rg_config *c, bool plain);

/* Every address listener (not `iface NAME:PORT` ones: the netlink binder
 * owns those) of [quic] and [tunnel]; *out malloc'ed. */
RG_MUST_CHECK int appcfg_listens(const struct rg_config *c, struct appcfg_listen **out, unsigned *n);
/* Every `iface NAME:PORT` listener of [quic] and [tunnel]; *out malloc'ed. */
struct nlwatch_want;
RG_MUST_CHECK int appcfg_iface_wants(const struct rg_config *c, struct nlwatch_want **out, unsigned *n);
/* Files whose change triggers a reload: certificates, keys, peers_file,
 * the admin token. *out malloc'ed, the strings belong to c. */
RG_MUST_CHECK int appcfg_watched_files(const struct rg_config *c, const char ***out, unsigned *n);
/* [appliance] user, or NULL. */
const char *appcfg_user(const struct rg_config *c);
/* QUIC settings for one worker, or -ENOENT when there is no [quic].
 * *vhosts is malloc'ed (free it after the workers started); the strings
 * point into c. */
struct quic_params;
struct quic_vhost_params;
RG_MUST_CHECK int appcfg_quic_params(const struct rg_config *c, struct quic_params *p,
                       struct quic_vhost_params **vhosts);
/* The vhosts as the TLS seam loads them ([quic] and [https] share them),
 * whether or not there is a [quic]; *vhosts malloc'ed, c->n_vhosts of
 * them, strings pointing into c. */
RG_MUST_CHECK int appcfg_vhost_params(const struct rg_config *c, struct quic_vhost_params **vhosts);
/* [https] / [redirect] for the workers (alt-svc values, names), or NULL
 * *out without either; vset: the generation's loaded vhosts (a reference
 * is taken). Free with appcfg_https_free. */
struct worker_https_gen;
RG_MUST_CHECK int appcfg_https_gen(const struct rg_config *c, struct tls_vhost_set *vset,
                                   struct worker_https_gen **out);
void appcfg_https_free(struct worker_https_gen *g);
/* The tunnel's authorized peers, sorted by key; NULL/0 without [tunnel].
 * A [peer] endpoint is resolved here (getaddrinfo, numeric port); one that
 * does not resolve leaves the peer responder-only, said through diag.
 * *prefixes is the storage the peers' allowed_ips point into; free both.
 * Each peer's static-static DH (engine.h) is computed here, or taken from
 * prev (the generation in force, sorted; may be NULL) when it has the key
 * and was computed for the same private key. */
struct tunnel_peer_config;
struct allowedips_prefix;
RG_MUST_CHECK int appcfg_tunnel_peers(const struct rg_config *c, const struct tunnel_peer_config *prev, unsigned n_prev,
                        const struct appcfg_diag *diag, struct tunnel_peer_config **peers, unsigned *n,
                        struct allowedips_prefix **prefixes);
/* The reverse proxy's routes and backends for workers that many workers
 * (stats slots); *out NULL when there is no [route]. Strings are copied:
 * the conf does not point into c. 0 or -ENOMEM. */
struct proxy_conf;
RG_MUST_CHECK int appcfg_proxy_conf(const struct rg_config *c, unsigned n_workers, struct proxy_conf **out);

/* [tunnel] tun / address / mtu. The address list of the config holds at
 * most RG_CFG_MAX_TUN_ADDRS (16); twice that is room for what a reload
 * could not remove next to what it added (nladdr_sync's *now). */
#define APPCFG_TUN_MAX_ADDRS 32
struct appcfg_tun {
	const char *name;   /* NULL: no TUN device (the demo) */
	struct nladdr addrs[APPCFG_TUN_MAX_ADDRS];
	unsigned n_addrs;   /* 0: none */
	unsigned mtu;       /* 1420 unless set */
};
/* -ENOENT without [tunnel]. name points into c. */
RG_MUST_CHECK int appcfg_tunnel_tun(const struct rg_config *c, struct appcfg_tun *out);
/* The same addresses, in any order. */
bool appcfg_tun_addrs_same(const struct appcfg_tun *x, const struct appcfg_tun *y);
/* Sessions each tunnel worker makes room for: any configured peer may land
 * on any worker, so twice the peers [peer] and peers_file name (room for
 * peers a reload adds), at least APPCFG_TUNNEL_MIN_SESSIONS, a power of
 * two. Memory is reserved, not resident: an idle session costs about 1 KiB
 * once used (datapath/tunnel/pool.h). 0 without [tunnel]. */
#define APPCFG_TUNNEL_MIN_SESSIONS 4096u
#define APPCFG_TUNNEL_MAX_SESSIONS (1u << 22)
unsigned appcfg_tunnel_capacity(const struct rg_config *c);
/* The peers [peer] and peers_file name. */
unsigned appcfg_tunnel_peer_count(const struct rg_config *c);
/* The tunnel's private key (32 bytes), NULL without [tunnel]. */
const uint8_t *appcfg_tunnel_key(const struct rg_config *c);
/* 0 for `auto`. */
unsigned appcfg_workers(const struct rg_config *c);
/* The CPUs of `cpus` (all: those this process may run on). */
RG_MUST_CHECK int appcfg_cpus(const struct rg_config *c, unsigned *cpus, unsigned max, unsigned *n);
/* Admin address and token (NULL when no token file); the token is malloc'ed. */
RG_MUST_CHECK int appcfg_admin(const struct rg_config *c, rg_sockaddr *addr, char **token);
enum log_level appcfg_log_level(const struct rg_config *c);

#endif
