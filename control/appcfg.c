#include "control/appcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/netlink.h"
#include "crypto/wgkey.h"
#include "crypto/x25519.h"
#include "datapath/proxy/route.h"
#include "datapath/quic/quic.h"
#include "datapath/tunnel/engine.h"
#include "ini/config.h"

/* Every warning, then the verdict: the errors of a --strict load. */
static char *strict_errors(const struct rg_config *c)
{
	size_t len = 64;
	for (unsigned i = 0; i < c->n_warnings; i++)
		len += strlen(c->warnings[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	size_t at = 0;
	for (unsigned i = 0; i < c->n_warnings; i++)
		at += (size_t)snprintf(s + at, len - at, "%s\n", c->warnings[i]);
	snprintf(s + at, len - at, "--strict: %u warning%s, refused\n", c->n_warnings, c->n_warnings == 1 ? "" : "s");
	return s;
}

/* [tls] pq as the TLS seam spells it (UNSET: prefer, the default). */
static enum tls_pq tls_pq_of(enum rg_tls_pq p)
{
	switch (p) {
	case RG_TLS_PQ_REQUIRE:
		return TLS_PQ_REQUIRE;
	case RG_TLS_PQ_OFF:
		return TLS_PQ_OFF;
	case RG_TLS_PQ_UNSET:
	case RG_TLS_PQ_PREFER:
	default:
		return TLS_PQ_PREFER;
	}
}

/* A vhost's key exchange: its own groups / pq, else [tls]'s, else the
 * build's default (NULL groups). */
static const char *vhost_groups(const struct rg_config *c, const struct rg_vhost_cfg *v)
{
	return v->groups ? v->groups : c->tls ? c->tls->groups : NULL;
}

static enum tls_pq vhost_pq(const struct rg_config *c, const struct rg_vhost_cfg *v)
{
	return tls_pq_of(v->pq ? v->pq : c->tls ? c->tls->pq : RG_TLS_PQ_PREFER);
}

/* One "FILE:LINE: [SECTION] key = value: why" error appended to *errs. */
static int tls_error(char **errs, const char *file, unsigned line, const char *sec, const char *key,
                     const char *value, const char *why)
{
	char *m = NULL;
	if (asprintf(&m, "%s%s:%u: %s %s = %s: %s\n", *errs ? *errs : "", file, line, sec, key, value, why) < 0)
		return -ENOMEM;
	free(*errs);
	*errs = m;
	return 0;
}

/* Issue 20: what the TLS backend of this build can negotiate ([tls] and
 * each [vhost]'s groups and pq), refused with FILE:LINE and the backend's
 * reason (tls_groups_check): a PQ group or pq = require on the gnutls
 * build is an error, never dropped. The groups alone are checked first,
 * so the blame falls on the groups line when they are the trouble, on
 * the pq line when the policy contradicts them. */
static int tls_check(const struct rg_config *c, char **errs)
{
	char why[TLS_WHY_MAX], sec[96];
	int bad = 0;
	if (c->tls) {
		const struct rg_tls_cfg *t = c->tls;
		enum tls_pq pq = tls_pq_of(t->pq);
		if (tls_groups_check(t->groups, TLS_PQ_PREFER, why) < 0) {
			bad = tls_error(errs, c->source, t->groups_line ? t->groups_line : t->line, "[tls]", "groups",
			                t->groups ? t->groups : tls_groups_default(), why) ?: -EINVAL;
		} else if (tls_groups_check(t->groups, pq, why) < 0) {
			bad = tls_error(errs, c->source, t->pq_line ? t->pq_line : t->line, "[tls]", "pq",
			                ini_tls_pq_name(t->pq), why) ?: -EINVAL;
		}
	}
	for (unsigned i = 0; i < c->n_vhosts && bad != -ENOMEM; i++) {
		const struct rg_vhost_cfg *v = &c->vhosts[i];
		if (!v->groups_line && !v->pq_line)
			continue; /* [tls]'s, checked above */
		const char *g = vhost_groups(c, v);
		enum tls_pq pq = vhost_pq(c, v);
		snprintf(sec, sizeof(sec), "[vhost %s]", v->name);
		int r = 0;
		if (v->groups_line && tls_groups_check(g, TLS_PQ_PREFER, why) < 0)
			r = tls_error(errs, c->source, v->groups_line, sec, "groups", g, why);
		else if (tls_groups_check(g, pq, why) < 0)
			r = v->pq_line ? tls_error(errs, c->source, v->pq_line, sec, "pq", ini_tls_pq_name(v->pq), why)
			               : tls_error(errs, c->source, v->groups_line, sec, "groups", g ? g : tls_groups_default(),
			                           why);
		else
			continue;
		bad = r ?: -EINVAL;
	}
	return bad;
}

/* Issue 20: [appliance] access_log must be a file this process can append
 * to, in a directory that exists: --validate, start and reload refuse it
 * with FILE:LINE and the system's reason. Opened (created when missing,
 * as the generation will) and closed; gen_build opens it for the workers. */
static int access_log_check(const struct rg_config *c, char **errs)
{
	const char *path = c->appliance.access_log;
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	char why[160];
	snprintf(why, sizeof(why), "cannot be opened for append: %s", strerror(errno));
	return tls_error(errs, c->source, c->appliance.access_log_line, "[appliance]", "access_log", path, why)
	               ?: -EINVAL;
}

int appcfg_load(const char *name, const char *text, bool strict, struct rg_config **out, char **errors)
{
	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	int err = text ? ini_config_load_string(name, text, &c, &d) : ini_config_load_file(name, &c, &d);
	*errors = NULL;
	if (err && ini_diag_count(&d))
		*errors = ini_diag_join(&d);
	ini_diag_free(&d);
	if (!err) {
		err = tls_check(c, errors);
		int aerr = access_log_check(c, errors);
		if (!err)
			err = aerr;
		if (err) {
			ini_config_free(c);
			return err;
		}
	}
	if (!err && strict && c->n_warnings) {
		*errors = strict_errors(c);
		ini_config_free(c);
		return -EINVAL;
	}
	if (!err)
		*out = c;
	return err;
}

void appcfg_free(struct rg_config *c)
{
	ini_config_free(c);
}

unsigned appcfg_warnings(const struct rg_config *c, const char *const **out)
{
	*out = c->warnings;
	return c->n_warnings;
}

void appcfg_warnings_report(const struct rg_config *c, bool plain)
{
	for (unsigned i = 0; i < c->n_warnings; i++) {
		if (plain)
			fprintf(stderr, "%s\n", c->warnings[i]);
		else
			log_warn("%s", c->warnings[i]);
	}
}

static int push_listens(const struct rg_cfg_addr *l, unsigned n, enum listener_kind kind,
                        struct appcfg_listen **out, unsigned *count)
{
	for (unsigned i = 0; i < n; i++) {
		if (l[i].kind != RG_CFG_ADDR_INET)
			continue;
		struct appcfg_listen *nw = realloc(*out, sizeof(**out) * (*count + 1));
		if (!nw)
			return -ENOMEM;
		*out = nw;
		nw[*count].kind = kind;
		memset(&nw[*count].addr, 0, sizeof(nw[*count].addr));
		memcpy(&nw[*count].addr, &l[i].sa,
		       l[i].sa.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		(*count)++;
	}
	return 0;
}

int appcfg_listens(const struct rg_config *c, struct appcfg_listen **out, unsigned *n)
{
	*out = NULL;
	*n = 0;
	int err = 0;
	if (c->quic)
		err = push_listens(c->quic->listen, c->quic->n_listen, LISTENER_QUIC, out, n);
	if (!err && c->tunnel)
		err = push_listens(c->tunnel->listen, c->tunnel->n_listen, LISTENER_TUNNEL, out, n);
	if (!err && c->https)
		err = push_listens(c->https->listen, c->https->n_listen, LISTENER_HTTPS, out, n);
	if (!err && c->redirect)
		err = push_listens(c->redirect->listen, c->redirect->n_listen, LISTENER_REDIRECT, out, n);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

static int push_ifaces(const struct rg_cfg_addr *l, unsigned n, enum listener_kind kind,
                       struct nlwatch_want **out, unsigned *count)
{
	for (unsigned i = 0; i < n; i++) {
		if (l[i].kind != RG_CFG_ADDR_IFACE)
			continue;
		struct nlwatch_want *nw = realloc(*out, sizeof(**out) * (*count + 1));
		if (!nw)
			return -ENOMEM;
		*out = nw;
		memset(&nw[*count], 0, sizeof(nw[*count]));
		nw[*count].kind = kind;
		nw[*count].port = l[i].port;
		memcpy(nw[*count].ifname, l[i].iface, IF_NAMESIZE);
		(*count)++;
	}
	return 0;
}

int appcfg_iface_wants(const struct rg_config *c, struct nlwatch_want **out, unsigned *n)
{
	*out = NULL;
	*n = 0;
	int err = 0;
	if (c->quic)
		err = push_ifaces(c->quic->listen, c->quic->n_listen, LISTENER_QUIC, out, n);
	if (!err && c->tunnel)
		err = push_ifaces(c->tunnel->listen, c->tunnel->n_listen, LISTENER_TUNNEL, out, n);
	if (!err && c->https)
		err = push_ifaces(c->https->listen, c->https->n_listen, LISTENER_HTTPS, out, n);
	if (!err && c->redirect)
		err = push_ifaces(c->redirect->listen, c->redirect->n_listen, LISTENER_REDIRECT, out, n);
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

int appcfg_watched_files(const struct rg_config *c, const char ***out, unsigned *n)
{
	unsigned cap = 4 + 2 * c->n_vhosts + c->n_peers;
	const char **p = calloc(cap, sizeof(*p));
	if (!p)
		return -ENOMEM;
	unsigned k = 0;
	for (unsigned i = 0; i < c->n_vhosts; i++) {
		p[k++] = c->vhosts[i].cert;
		p[k++] = c->vhosts[i].key;
	}
	if (c->tunnel) {
		p[k++] = c->tunnel->private_key_file;
		if (c->tunnel->peers_file)
			p[k++] = c->tunnel->peers_file;
	}
	for (unsigned i = 0; i < c->n_peers; i++)
		if (c->peers[i].preshared_key_file)
			p[k++] = c->peers[i].preshared_key_file;
	if (c->appliance.admin_token_file)
		p[k++] = c->appliance.admin_token_file;
	*out = p;
	*n = k;
	return 0;
}

const char *appcfg_user(const struct rg_config *c)
{
	return c->appliance.user;
}

unsigned appcfg_workers(const struct rg_config *c)
{
	return c->appliance.workers;
}

int appcfg_cpus(const struct rg_config *c, unsigned *cpus, unsigned max, unsigned *n)
{
	cpu_set_t allowed;
	*n = 0;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return -errno;
	/* `all` means the CPUs this process may run on; a listed CPU outside
	 * them would fail to pin, so it is left out (and said by the caller's
	 * count). */
	for (unsigned cpu = 0; cpu < CPU_SETSIZE && cpu < RG_CFG_MAX_CPUS && *n < max; cpu++)
		if (CPU_ISSET(cpu, &allowed) && rg_cpuset_has(&c->appliance.cpus, cpu))
			cpus[(*n)++] = cpu;
	return *n ? 0 : -EINVAL;
}

int appcfg_admin(const struct rg_config *c, rg_sockaddr *addr, char **token)
{
	memset(addr, 0, sizeof(*addr));
	const struct rg_cfg_addr *a = &c->appliance.admin;
	memcpy(addr, &a->sa,
	       a->sa.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	*token = NULL;
	if (c->appliance.admin_token) {
		*token = strdup(c->appliance.admin_token);
		if (!*token)
			return -ENOMEM;
	}
	return 0;
}

enum log_level appcfg_log_level(const struct rg_config *c)
{
	switch (c->appliance.log_level) {
	case RG_CFG_LOG_ERROR:
		return LOG_ERROR;
	case RG_CFG_LOG_WARN:
		return LOG_WARN;
	case RG_CFG_LOG_DEBUG:
		return LOG_DEBUG;
	case RG_CFG_LOG_INFO:
	default:
		return LOG_INFO;
	}
}

int appcfg_vhost_params(const struct rg_config *c, struct quic_vhost_params **vhosts)
{
	*vhosts = NULL;
	/* one block: the vhosts, then their listen addresses (two per iface
	 * entry), so that free(*vhosts) frees all */
	size_t n_addr = 0;
	for (unsigned i = 0; i < c->n_vhosts; i++)
		n_addr += 2 * (size_t)c->vhosts[i].n_listen;
	size_t head = (c->n_vhosts ? c->n_vhosts : 1) * sizeof(struct quic_vhost_params);
	head = (head + _Alignof(rg_sockaddr) - 1) / _Alignof(rg_sockaddr) * _Alignof(rg_sockaddr);
	struct quic_vhost_params *v = calloc(1, head + n_addr * sizeof(rg_sockaddr));
	if (!v)
		return -ENOMEM;
	rg_sockaddr *la = (rg_sockaddr *)((char *)v + head);
	for (unsigned i = 0; i < c->n_vhosts; i++) {
		const struct rg_vhost_cfg *vc = &c->vhosts[i];
		v[i].name = vc->name;
		v[i].cert_file = vc->cert;
		v[i].key_file = vc->key;
		v[i].groups = vhost_groups(c, vc); /* issue 20; checked by tls_check */
		v[i].pq = vhost_pq(c, vc);
		v[i].client_ca = vc->client_ca; /* issue 9 §3; checked by ini/check.c */
		v[i].client_auth = vc->client_auth == RG_CLIENT_AUTH_REQUIRE    ? TLS_CLIENT_AUTH_REQUIRE
		                   : vc->client_auth == RG_CLIENT_AUTH_OPTIONAL ? TLS_CLIENT_AUTH_OPTIONAL
		                                                                 : TLS_CLIENT_AUTH_OFF;
		v[i].listen = la;
		for (unsigned j = 0; j < vc->n_listen; j++) {
			const struct rg_cfg_addr *l = &vc->listen[j];
			if (l->kind == RG_CFG_ADDR_INET) {
				_Static_assert(sizeof(*la) >= sizeof(l->sa), "rg_sockaddr holds a config address");
				memcpy(la, &l->sa, sizeof(l->sa));
				la++;
				continue;
			}
			/* `iface NAME:PORT`: the interface's addresses follow
			 * netlink, so the binding is by port on either family
			 * (app.c warns about it) */
			la->in4 = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(l->port)};
			la[1].in6 = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(l->port)};
			la += 2;
		}
		v[i].n_listen = (unsigned)(la - v[i].listen);
	}
	*vhosts = v;
	return 0;
}

int appcfg_quic_params(const struct rg_config *c, struct quic_params *p,
                       struct quic_vhost_params **vhosts)
{
	memset(p, 0, sizeof(*p));
	*vhosts = NULL;
	if (!c->quic)
		return -ENOENT;
	int err = appcfg_vhost_params(c, vhosts);
	if (err)
		return err;
	struct quic_vhost_params *v = *vhosts;
	p->vhosts = v;
	p->n_vhosts = c->n_vhosts;
	p->alpn = c->quic->alpn; /* checked by ini/check.c: all served */
	p->n_alpn = c->quic->n_alpn;
	p->idle_timeout_ns = c->quic->idle_timeout_ms * 1000000ull;
	p->backlog = c->quic->backlog;
	p->max_conns = c->quic->max_connections;
	p->anti_port_scan = c->quic->anti_port_scan;
	p->zero_rtt = c->quic->zero_rtt;
	p->qlog_dir = c->quic->qlog_dir; /* copied by each quic_server */
	/* issue 18: versions (checked "v1"/"v2", no repeats), limits */
	p->n_versions = 0;
	for (unsigned i = 0; i < c->quic->n_versions && i < QUIC_MAX_VERSIONS; i++)
		p->versions[p->n_versions++] = strcmp(c->quic->versions[i], "v2") == 0 ? QUIC_VERSION_V2
		                                                                         : QUIC_VERSION_V1;
	p->max_streams_bidi = c->quic->max_streams_bidi;
	p->max_streams_uni = c->quic->max_streams_uni;
	p->initial_max_data = c->quic->initial_max_data;
	p->initial_max_stream_data = c->quic->initial_max_stream_data;
	p->handshake_timeout_ns = c->quic->handshake_timeout_ms * 1000000ull; /* 0: the idle timeout */
	memset(&p->preferred_addr, 0, sizeof(p->preferred_addr));
	if (c->quic->preferred_address.sa.sa.sa_family == AF_INET)
		p->preferred_addr.in4 = c->quic->preferred_address.sa.in4;
	else if (c->quic->preferred_address.sa.sa.sa_family == AF_INET6)
		p->preferred_addr.in6 = c->quic->preferred_address.sa.in6;
	switch (c->quic->retry) {
	case RG_QUIC_RETRY_ON:
		p->retry = QUIC_RETRY_ON;
		break;
	case RG_QUIC_RETRY_OFF:
		p->retry = QUIC_RETRY_OFF;
		break;
	case RG_QUIC_RETRY_AUTO:
	default:
		p->retry = QUIC_RETRY_AUTO;
		break;
	}
	*vhosts = v;
	return 0;
}

static int peer_cmp(const void *a, const void *b)
{
	return memcmp(((const struct tunnel_peer_config *)a)->public_key,
	              ((const struct tunnel_peer_config *)b)->public_key, NOISE_PUBLIC_KEY_LEN);
}

static void cidr_to_prefix(const struct rg_cidr *c, struct allowedips_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->ip.family = c->family;
	memcpy(p->ip.bytes, c->addr, c->family == AF_INET ? 4 : 16);
	p->cidr = c->prefix;
}

void appcfg_diagf(const struct appcfg_diag *d, enum log_level level, const char *fmt, ...)
{
	if (!d || !d->fn)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->fn(d->ctx, level, msg);
}

/* host:port of a [peer] endpoint (this side initiates) into *out. */
static void endpoint_resolve(const struct rg_peer_cfg *pc, const struct appcfg_diag *diag, rg_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (pc->endpoint_is_addr) {
		const struct rg_cfg_addr *a = &pc->endpoint_addr;
		memcpy(out, &a->sa,
		       a->sa.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		return;
	}
	char port[8];
	snprintf(port, sizeof(port), "%u", pc->endpoint_port);
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
	int err = getaddrinfo(pc->endpoint_host, port, &hints, &res);
	if (err || !res) {
		appcfg_diagf(diag, LOG_WARN, "[peer %s] endpoint %s does not resolve (%s): it stays responder-only",
		             pc->name, pc->endpoint, gai_strerror(err));
		return;
	}
	if (res->ai_addrlen <= sizeof(*out))
		memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
}

int appcfg_tunnel_peers(const struct rg_config *c, const struct tunnel_peer_config *prev, unsigned n_prev,
                        const struct appcfg_diag *diag, struct tunnel_peer_config **peers, unsigned *n,
                        struct allowedips_prefix **prefixes)
{
	*peers = NULL;
	*prefixes = NULL;
	*n = 0;
	if (!c->tunnel)
		return 0;
	const struct rg_peer_list *fp = &c->tunnel->file_peers;
	unsigned total = c->n_peers + fp->n, n_pfx = 0;
	for (unsigned i = 0; i < c->n_peers; i++)
		n_pfx += c->peers[i].n_allowed_ips;
	for (unsigned i = 0; i < fp->n; i++)
		n_pfx += fp->peers[i].n_allowed_ips;
	struct tunnel_peer_config *p = calloc(total ? total : 1, sizeof(*p));
	struct allowedips_prefix *x = calloc(n_pfx ? n_pfx : 1, sizeof(*x));
	if (!p || !x) {
		free(p);
		free(x);
		return -ENOMEM;
	}
	unsigned k = 0, at = 0;
	for (unsigned i = 0; i < c->n_peers; i++, k++) {
		const struct rg_peer_cfg *pc = &c->peers[i];
		memcpy(p[k].public_key, pc->public_key, NOISE_PUBLIC_KEY_LEN);
		if (pc->has_preshared_key) {
			memcpy(p[k].psk, pc->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
			p[k].has_psk = true;
		}
		p[k].allowed_ips = x + at;
		p[k].n_allowed_ips = pc->n_allowed_ips;
		for (unsigned j = 0; j < pc->n_allowed_ips; j++)
			cidr_to_prefix(&pc->allowed_ips[j], &x[at++]);
		if (pc->endpoint)
			endpoint_resolve(pc, diag, &p[k].endpoint);
		p[k].persistent_keepalive = (uint16_t)pc->persistent_keepalive_s;
	}
	for (unsigned i = 0; i < fp->n; i++, k++) {
		const struct rg_peer_entry *pe = &fp->peers[i];
		memcpy(p[k].public_key, pe->public_key, NOISE_PUBLIC_KEY_LEN);
		p[k].allowed_ips = x + at;
		p[k].n_allowed_ips = pe->n_allowed_ips;
		for (unsigned j = 0; j < pe->n_allowed_ips; j++)
			cidr_to_prefix(&pe->allowed_ips[j], &x[at++]);
	}
	qsort(p, total, sizeof(*p), peer_cmp);
	/* The static-static DH of every peer, once per key instead of once per
	 * handshake on the workers (engine.h): about 35 us a new peer; a
	 * reload takes the unchanged peers' from the generation in force
	 * (both lists sorted: one merge pass). */
	const uint8_t *priv = c->tunnel->private_key;
	uint8_t pub[NOISE_PUBLIC_KEY_LEN];
	if (crypto_x25519_public(pub, priv) == 0) {
		unsigned j = 0;
		for (unsigned i = 0; i < total; i++) {
			while (j < n_prev && peer_cmp(&prev[j], &p[i]) < 0)
				j++;
			const struct tunnel_peer_config *o = j < n_prev && !peer_cmp(&prev[j], &p[i]) ? &prev[j] : NULL;
			if (o && o->has_static_static && !memcmp(o->static_static_for, pub, sizeof(pub))) {
				memcpy(p[i].static_static, o->static_static, sizeof(p[i].static_static));
				memcpy(p[i].static_static_for, pub, sizeof(pub));
				p[i].has_static_static = true;
			} else if (tunnel_peer_config_precompute(&p[i], priv, pub)) {
				/* a key of small order: no handshake with it can
				 * succeed (the responder refuses it too) */
				char b64[WGKEY_B64_LEN + 1];
				if (wgkey_to_base64(p[i].public_key, b64))
					b64[0] = 0;
				appcfg_diagf(diag, LOG_WARN,
				             "tunnel peer %s: the public key is of small order; its handshakes will fail", b64);
			}
		}
	}
	*peers = p;
	*prefixes = x;
	*n = total;
	return 0;
}

int appcfg_tunnel_tun(const struct rg_config *c, struct appcfg_tun *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->tunnel)
		return -ENOENT;
	out->name = c->tunnel->tun;
	out->mtu = c->tunnel->mtu ? c->tunnel->mtu : 1420;
	_Static_assert(2 * RG_CFG_MAX_TUN_ADDRS <= APPCFG_TUN_MAX_ADDRS, "appcfg_tun.addrs too small");
	for (unsigned i = 0; i < c->tunnel->n_address && i < RG_CFG_MAX_TUN_ADDRS; i++) {
		const struct rg_cidr *a = &c->tunnel->address[i];
		struct nladdr *o = &out->addrs[out->n_addrs++];
		o->family = a->family;
		memcpy(o->addr, a->addr, a->family == AF_INET ? 4 : 16);
		o->prefix = a->prefix;
	}
	return 0;
}

bool appcfg_tun_addrs_same(const struct appcfg_tun *x, const struct appcfg_tun *y)
{
	if (x->n_addrs != y->n_addrs)
		return false;
	for (unsigned i = 0; i < x->n_addrs; i++) {
		bool found = false;
		for (unsigned j = 0; j < y->n_addrs && !found; j++)
			found = nladdr_equal(&x->addrs[i], &y->addrs[j]);
		if (!found)
			return false;
	}
	return true;
}

unsigned appcfg_tunnel_peer_count(const struct rg_config *c)
{
	return c->tunnel ? c->n_peers + c->tunnel->file_peers.n : 0;
}

unsigned appcfg_tunnel_capacity(const struct rg_config *c)
{
	if (!c->tunnel)
		return 0;
	uint64_t want = 2ull * appcfg_tunnel_peer_count(c);
	unsigned cap = APPCFG_TUNNEL_MIN_SESSIONS;
	while (cap < want && cap < APPCFG_TUNNEL_MAX_SESSIONS)
		cap <<= 1;
	return cap;
}

const uint8_t *appcfg_tunnel_key(const struct rg_config *c)
{
	return c->tunnel ? c->tunnel->private_key : NULL;
}

static enum proxy_lb lb_of(enum rg_lb_algorithm a)
{
	switch (a) {
	case RG_LB_LEAST_CONNECTIONS:
		return PROXY_LB_LEAST_CONNECTIONS;
	case RG_LB_ROUND_ROBIN:
	case RG_LB_WEIGHTED_ROUND_ROBIN:
		return PROXY_LB_ROUND_ROBIN; /* weights always count */
	case RG_LB_RANDOM:
	case RG_LB_IP_HASH:
	case RG_LB_LEAST_RESPONSE_TIME:
	default:
		/* parsed but not built yet: weighted round robin stands in */
		return PROXY_LB_ROUND_ROBIN;
	}
}

int appcfg_proxy_conf(const struct rg_config *c, unsigned n_workers, struct proxy_conf **out)
{
	*out = NULL;
	if (!c->n_routes)
		return 0;
	struct proxy_conf *p = proxy_conf_new(c->n_routes, c->n_backends, n_workers);
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_backends; i++) {
		const struct rg_backend_cfg *b = &c->backends[i];
		struct proxy_backend_conf *pb = &p->backends[i];
		pb->name = strdup(b->name);
		pb->servers = calloc(b->n_servers ? b->n_servers : 1, sizeof(*pb->servers));
		if (!pb->name || !pb->servers)
			goto nomem;
		pb->n_servers = b->n_servers;
		pb->lb = lb_of(b->algorithm);
		pb->timeout_ns = b->timeout_ms * 1000000ull;
		for (unsigned j = 0; j < b->n_servers; j++) {
			const struct rg_backend_server_cfg *s = &b->servers[j];
			memcpy(&pb->servers[j].addr, &s->addr.sa,
			       s->addr.sa.sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
			                                          : sizeof(struct sockaddr_in));
			pb->servers[j].weight = s->weight;
			pb->servers[j].priority = s->priority;
			pb->servers[j].max_conns = s->max_conns;
		}
	}
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct rg_route_cfg *r = &c->routes[i];
		struct proxy_route_conf *pr = &p->routes[i];
		pr->name = strdup(r->name);
		pr->host = strdup(r->host);
		pr->path_prefix = strdup(r->path_prefix ? r->path_prefix : "/");
		if (!pr->name || !pr->host || !pr->path_prefix)
			goto nomem;
		pr->wildcard = r->host_wildcard;
		pr->backend = r->backend_idx;
		pr->allow_0rtt = r->allow_0rtt;
	}
	if (proxy_conf_finish(p))
		goto nomem;
	*out = p;
	return 0;
nomem:
	proxy_conf_free(p);
	return -ENOMEM;
}

/* ---- [https] and [redirect] (issue 9) ---- */

/* The [quic] port a vhost is served on: its own first listen entry, else
 * [quic]'s first. 0: none. */
static uint16_t quic_port_of(const struct rg_config *c, const struct rg_vhost_cfg *v)
{
	if (!c->quic || !c->quic->n_listen)
		return 0;
	if (v->n_listen)
		return v->listen[0].port;
	return c->quic->listen[0].port;
}

void appcfg_https_free(struct worker_https_gen *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_alt; i++)
		free(g->alt_svc[i]);
	free(g->alt_svc);
	free((void *)g->names);
	tls_vset_put(g->vset);
	free(g);
}

int appcfg_https_gen(const struct rg_config *c, struct tls_vhost_set *vset, struct worker_https_gen **out)
{
	*out = NULL;
	if (!c->https && !c->redirect)
		return 0;
	struct worker_https_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (c->https) {
		const struct rg_https_cfg *h = c->https;
		g->on = true;
		g->vset = vset ? tls_vset_get(vset) : NULL;
		g->max_connections = h->max_connections;
		g->handshake_timeout_ns = h->handshake_timeout_ms * 1000000ull;
		g->header_timeout_ns = h->header_timeout_ms * 1000000ull;
		g->idle_timeout_ns = h->idle_timeout_ms * 1000000ull;
		g->max_header_bytes = (uint32_t)h->max_header_bytes;
		g->max_headers = h->max_headers;
		g->h2_max_streams = h->h2_max_streams;
		g->https_port = h->n_listen ? h->listen[0].port : 443;
		/* Alt-Svc (RFC 7838 3): h3 where [quic] serves the vhost; by
		 * the set's index, which is the config's vhost order */
		if (h->alt_svc == RG_ALT_SVC_AUTO && c->quic && c->n_vhosts) {
			g->alt_svc = calloc(c->n_vhosts, sizeof(*g->alt_svc));
			if (!g->alt_svc)
				goto oom;
			g->n_alt = c->n_vhosts;
			for (unsigned i = 0; i < c->n_vhosts; i++) {
				uint16_t port = quic_port_of(c, &c->vhosts[i]);
				if (port && asprintf(&g->alt_svc[i], "h3=\":%u\"; ma=86400", port) < 0) {
					g->alt_svc[i] = NULL;
					goto oom;
				}
			}
		}
	} else {
		g->https_port = 443;
	}
	if (c->redirect) {
		g->redirect = true;
		g->names = calloc(c->n_vhosts ? c->n_vhosts : 1, sizeof(char *));
		if (!g->names)
			goto oom;
		for (unsigned i = 0; i < c->n_vhosts; i++)
			((const char **)g->names)[i] = c->vhosts[i].name;
		g->n_names = c->n_vhosts;
	}
	*out = g;
	return 0;
oom:
	appcfg_https_free(g);
	return -ENOMEM;
}
