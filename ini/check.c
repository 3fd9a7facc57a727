/* Checks that span keys, sections or files, run once every section has its
 * values and defaults. Each message points at the line of the key that is
 * wrong (or the section header when a key is missing). */
#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini/internal.h"

#define LINE(in, key) ini_schema_key_line((in), (key))

/* A file holding a secret (key, token) must be its owner's alone: warn as
 * wg ("is world accessible") and ssh ("UNPROTECTED PRIVATE KEY FILE") do.
 * Only a warning, so that a key shared with a group on purpose still
 * loads; --strict refuses it. A file that cannot be read is reported by
 * the read itself. */
static void check_secret_mode(struct ini_load *L, struct ini_inst *in, const char *key, const char *path)
{
	unsigned mode;
	if (ini_file_secret_mode(path, &mode) == 1)
		ini_load_warn(L, LINE(in, key),
		              "%s: %.200s holds a secret and is accessible by %s (mode %04o): chmod 600 it",
		              key, path,
		              (mode & 070) && (mode & 07) ? "group and others" : (mode & 070) ? "group" : "others",
		              mode);
}

static void check_appliance(struct ini_load *L, struct ini_inst *in)
{
	struct rg_appliance_cfg *a = in->obj;
	char why[INI_WHY_MAX], buf[80];

	a->admin_loopback = ini_addr_is_loopback(&a->admin);
	a->access_log_line = LINE(in, "access_log");
	if (a->admin_token_file) {
		int r = ini_file_token(L->arena, a->admin_token_file, &a->admin_token, why);
		if (r == -ENOMEM)
			L->oom = r;
		else if (r)
			ini_load_error(L, LINE(in, "admin_token_file"), "admin_token_file: %s", why);
		else
			check_secret_mode(L, in, "admin_token_file", a->admin_token_file);
	} else if (!a->admin_loopback) {
		ini_addr_format(&a->admin, buf, sizeof(buf));
		ini_load_error(L, LINE(in, "admin"),
		               "admin = %s is not a loopback address: admin_token_file is required", buf);
	}
	if (a->user) {
		struct passwd pw, *res = NULL;
		char pbuf[4096];
		if (getpwnam_r(a->user, &pw, pbuf, sizeof(pbuf), &res) || !res)
			ini_load_error(L, LINE(in, "user"), "user = %s: no such user", a->user);
	}
}

static bool addr_listed(const struct rg_cfg_addr *a, const struct rg_cfg_addr *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ini_addr_equal(a, &list[i]))
			return true;
	return false;
}

/* No address twice in one listen list. */
static void check_listen_dups(struct ini_load *L, struct ini_inst *in, const struct rg_cfg_addr *l, unsigned n)
{
	char buf[80];
	for (unsigned i = 1; i < n; i++) {
		if (addr_listed(&l[i], l, i)) {
			ini_addr_format(&l[i], buf, sizeof(buf));
			ini_load_error(L, LINE(in, "listen"), "listen: %s given twice", buf);
		}
	}
}

/* [quic] preferred_address (RFC 9000 9.6): clients move there, so a
 * [quic] listener must receive on it: listed as it is, or a wildcard
 * listener of its family on its port. A wildcard or port 0 is no address
 * a client can move to. */
static void check_preferred_address(struct ini_load *L, struct ini_inst *in, const struct rg_quic_cfg *q)
{
	const struct rg_cfg_addr *pa = &q->preferred_address;
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	char buf[80];
	int af = pa->sa.sa.sa_family;

	if (af == 0)
		return;
	ini_addr_format(pa, buf, sizeof(buf));
	if (pa->kind != RG_CFG_ADDR_INET || pa->port == 0 ||
	    (af == AF_INET ? pa->sa.in4.sin_addr.s_addr == htonl(INADDR_ANY)
	                   : !memcmp(&pa->sa.in6.sin6_addr, &any6, sizeof(any6)))) {
		ini_load_error(L, LINE(in, "preferred_address"),
		               "preferred_address: %s is not an address a client can move to", buf);
		return;
	}
	for (unsigned i = 0; i < q->n_listen; i++) {
		const struct rg_cfg_addr *l = &q->listen[i];
		if (l->kind != RG_CFG_ADDR_INET || l->port != pa->port || l->sa.sa.sa_family != af)
			continue;
		if (ini_addr_equal(l, pa) ||
		    (af == AF_INET ? l->sa.in4.sin_addr.s_addr == htonl(INADDR_ANY)
		                   : !memcmp(&l->sa.in6.sin6_addr, &any6, sizeof(any6))))
			return;
	}
	ini_load_error(L, LINE(in, "preferred_address"),
	               "preferred_address: %s is not a [quic] listen address (clients would move where nothing listens)",
	               buf);
}

static void check_quic(struct ini_load *L, struct ini_inst *in)
{
	struct rg_quic_cfg *q = in->obj;
	check_listen_dups(L, in, q->listen, q->n_listen);
	/* Only what the datapath speaks may be offered: a client that
	 * negotiated anything else would get nothing (datapath/quic
	 * quic_alpn_served() is the table; hq-interop is not implemented). */
	if (q->n_alpn > 8)
		ini_load_error(L, LINE(in, "alpn"), "alpn: at most 8 protocols");
	for (unsigned i = 0; i < q->n_alpn; i++)
		if (strcmp(q->alpn[i], "h3") != 0)
			ini_load_error(L, LINE(in, "alpn"), "alpn: ringgate does not serve '%.64s' (it serves h3)",
			               q->alpn[i]);
	if (!ini_load_find(L, INI_SEC_VHOST))
		ini_load_error(L, in->line, "[quic] needs at least one [vhost NAME] with a certificate");
	for (unsigned i = 0; i < q->n_versions; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(q->versions[i], q->versions[j]))
				ini_load_error(L, LINE(in, "versions"), "versions: %s given twice", q->versions[i]);
	check_preferred_address(L, in, q);
}

/* [https] and [redirect] (issue 9): TCP listeners; [https] serves the
 * [vhost] certificates. */
static void check_https(struct ini_load *L, struct ini_inst *in)
{
	const struct rg_https_cfg *h = in->obj;
	check_listen_dups(L, in, h->listen, h->n_listen);
	if (!ini_load_find(L, INI_SEC_VHOST))
		ini_load_error(L, in->line, "[https] needs at least one [vhost NAME] with a certificate");
}

static void check_redirect(struct ini_load *L, struct ini_inst *in)
{
	const struct rg_redirect_cfg *r = in->obj;
	check_listen_dups(L, in, r->listen, r->n_listen);
}

/* Issue 9 §3: client certificates. client_auth needs the CAs to verify
 * against, and the CA file must load (the TLS backends read it again at
 * each generation). Whether this build's QUIC asks for certificates is
 * the TLS backend's to say: control/appcfg.c checks that. */
static void check_client_auth(struct ini_load *L, struct ini_inst *in)
{
	struct rg_vhost_cfg *v = in->obj;
	char why[INI_WHY_MAX];
	if (v->client_ca) {
		int r = ini_file_ca(v->client_ca, why);
		if (r == -ENOMEM)
			L->oom = r;
		else if (r)
			ini_load_error(L, LINE(in, "client_ca"), "client_ca: %s", why);
	}
	v->client_auth_line = ini_schema_key_given(in, "client_auth") ? LINE(in, "client_auth") : 0;
	if (v->client_auth != RG_CLIENT_AUTH_OFF && !v->client_ca)
		ini_load_error(L, LINE(in, "client_auth"), "client_auth = %s needs client_ca (the CAs to verify against)",
		               v->client_auth == RG_CLIENT_AUTH_REQUIRE ? "require" : "optional");
}

static void check_vhost(struct ini_load *L, struct ini_inst *in, const struct rg_quic_cfg *q)
{
	struct rg_vhost_cfg *v = in->obj;
	char why[INI_WHY_MAX], buf[80];
	bool bad_key;

	if (v->cert && v->key) {
		int r = ini_file_cert_pair(v->cert, v->key, &bad_key, why);
		if (r == -ENOMEM)
			L->oom = r;
		else if (r)
			ini_load_error(L, LINE(in, bad_key ? "key" : "cert"), "%s: %s", bad_key ? "key" : "cert", why);
		if (!r || !bad_key)
			check_secret_mode(L, in, "key", v->key);
	}
	check_listen_dups(L, in, v->listen, v->n_listen);
	/* for control/appcfg.c's backend check (0: not set) */
	v->groups_line = ini_schema_key_given(in, "groups") ? LINE(in, "groups") : 0;
	v->pq_line = ini_schema_key_given(in, "pq") ? LINE(in, "pq") : 0;
	check_client_auth(L, in);
	for (unsigned i = 0; i < v->n_listen; i++) {
		if (!q) {
			ini_load_error(L, LINE(in, "listen"), "listen: there is no [quic] section to listen with");
			break;
		}
		if (!addr_listed(&v->listen[i], q->listen, q->n_listen)) {
			ini_addr_format(&v->listen[i], buf, sizeof(buf));
			ini_load_error(L, LINE(in, "listen"), "listen: %s is not a [quic] listen address", buf);
		}
	}
}

/* Keys of [backend] that parse but are not built yet (the load-balancing
 * work will build them): say so, and what runs instead, rather than fall
 * back in silence. What runs instead is control/appcfg.c lb_of() and the
 * passive check of datapath/proxy/proxy.c ex_connected(). */
static void check_backend_unbuilt(struct ini_load *L, struct ini_inst *in)
{
	struct rg_backend_cfg *b = in->obj;
	switch (b->algorithm) {
	case RG_LB_RANDOM:
	case RG_LB_IP_HASH:
	case RG_LB_LEAST_RESPONSE_TIME:
		ini_load_warn(L, LINE(in, "algorithm"),
		              "algorithm = %s is not implemented yet: [backend %s] uses weighted_round_robin instead",
		              ini_lb_algorithm_name(b->algorithm), b->name);
		break;
	case RG_LB_LEAST_CONNECTIONS:
	case RG_LB_ROUND_ROBIN:
	case RG_LB_WEIGHTED_ROUND_ROBIN:
		break;
	}
	if (b->health_check)
		ini_load_warn(L, LINE(in, "health_check"),
		              "health_check = %s is not implemented yet: no probe is sent; [backend %s] only rests "
		              "a server whose connect fails (for 5 s)", b->health_check, b->name);
	if (ini_schema_key_given(in, "health_interval") && !ini_schema_key_bad(in, "health_interval"))
		ini_load_warn(L, LINE(in, "health_interval"),
		              "health_interval is not implemented yet (no health probes are sent): it has no effect");
}

static void check_backend(struct ini_load *L, struct ini_inst *in)
{
	struct rg_backend_cfg *b = in->obj;
	char buf[80];
	check_backend_unbuilt(L, in);
	/* A server line with a bad value was reported on its own line. */
	if (!b->n_servers && !ini_schema_key_given(in, "server"))
		ini_load_error(L, in->line, "[backend %s] needs at least one 'server'", b->name);
	for (unsigned i = 0; i < b->n_servers; i++) {
		const struct rg_backend_server_cfg *s = &b->servers[i];
		ini_addr_format(&s->addr, buf, sizeof(buf));
		/* 169.254.169.254 and fd00:ec2::254 style metadata endpoints hand
		 * out cloud credentials: a proxy must never be pointed there. */
		if (ini_addr_is_link_local(&s->addr))
			ini_load_error(L, s->line,
			               "server %s: link-local addresses (169.254.0.0/16, fe80::/10) are refused "
			               "(cloud metadata endpoints)", buf);
		else if (ini_addr_is_unspecified(&s->addr))
			ini_load_error(L, s->line, "server %s: the unspecified address is not a destination", buf);
		for (unsigned j = 0; j < i; j++)
			if (ini_addr_equal(&s->addr, &b->servers[j].addr))
				ini_load_error(L, s->line, "server %s given twice (first on line %u)", buf,
				               b->servers[j].line);
	}
}

static void check_routes(struct ini_load *L)
{
	for (unsigned i = 0; i < L->n_insts; i++) {
		struct ini_inst *in = L->insts[i];
		if (in->sec != INI_SEC_ROUTE)
			continue;
		struct rg_route_cfg *r = in->obj;
		if (r->host && r->host[0] == '*') {
			r->host_wildcard = true;
			r->host_suffix = r->host + 1;
		}
		if (r->backend) {
			unsigned idx = 0;
			bool found = false;
			for (unsigned j = 0; j < L->n_insts && !found; j++) {
				if (L->insts[j]->sec != INI_SEC_BACKEND)
					continue;
				if (!strcmp(L->insts[j]->name, r->backend))
					found = true;
				else
					idx++;
			}
			if (found)
				r->backend_idx = idx;
			else
				ini_load_error(L, LINE(in, "backend"), "backend = %s: no [backend %s]", r->backend,
				               r->backend);
		}
		/* Two routes for the same host and prefix: one would never match. */
		for (unsigned j = 0; j < i && r->host && r->path_prefix; j++) {
			const struct ini_inst *o = L->insts[j];
			const struct rg_route_cfg *p = o->obj;
			if (o->sec == INI_SEC_ROUTE && p->host && p->path_prefix && !strcmp(p->host, r->host) &&
			    !strcmp(p->path_prefix, r->path_prefix))
				ini_load_error(L, LINE(in, "host"), "[route %s] has the same host and path_prefix as "
				               "[route %s] (line %u)", in->name, o->name, o->line);
		}
	}
}

/* [tunnel] address: each address once (the same address with two prefix
 * lengths would be one address on the device, the second add replacing
 * the first), and few enough for the control thread's fixed tables. Two
 * IPv4 addresses in one subnet are fine: the second is a secondary. */
static void check_tun_address(struct ini_load *L, struct ini_inst *in)
{
	struct rg_tunnel_cfg *t = in->obj;
	char ip[INET6_ADDRSTRLEN];
	if (t->n_address > RG_CFG_MAX_TUN_ADDRS)
		ini_load_error(L, LINE(in, "address"), "address: %u addresses, at most %d", t->n_address,
		               RG_CFG_MAX_TUN_ADDRS);
	for (unsigned i = 1; i < t->n_address; i++) {
		const struct rg_cidr *a = &t->address[i];
		for (unsigned j = 0; j < i; j++) {
			const struct rg_cidr *b = &t->address[j];
			if (a->family == b->family && !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16)) {
				inet_ntop(a->family, a->addr, ip, sizeof(ip));
				ini_load_error(L, LINE(in, "address"), "address: %s given twice", ip);
				break;
			}
		}
	}
}

/* Load the tunnel's own key and its peers_file. */
static void check_tunnel(struct ini_load *L, struct ini_inst *in)
{
	struct rg_tunnel_cfg *t = in->obj;
	char why[INI_WHY_MAX];
	int r;

	if (t->private_key_file) {
		r = ini_file_key(t->private_key_file, t->private_key, why);
		if (r)
			ini_load_error(L, LINE(in, "private_key_file"), "private_key_file: %s", why);
		else
			check_secret_mode(L, in, "private_key_file", t->private_key_file);
	}
	check_listen_dups(L, in, t->listen, t->n_listen);
	check_tun_address(L, in);
	if (t->peers_file) {
		char *text;
		size_t len;
		r = ini_file_read(t->peers_file, 16u << 20, &text, &len);
		if (r) {
			snprintf(why, sizeof(why), "%s", ini_file_strerror(r));
			ini_load_error(L, LINE(in, "peers_file"), "peers_file: cannot read %.96s: %s", t->peers_file, why);
			return;
		}
		const char *name = ini_arena_strdup(L->arena, t->peers_file);
		r = name ? ini_peers_parse(L->arena, name, text, len, &t->file_peers, L->diag) : -ENOMEM;
		free(text);
		if (r < 0)
			L->oom = r;
		else
			L->errors += (unsigned)r;
	}
}

static void check_mtu(struct ini_load *L, struct ini_inst *tin)
{
	struct rg_tunnel_cfg *t = tin->obj;
	bool v6 = false;
	for (unsigned i = 0; i < t->n_address; i++)
		v6 |= t->address[i].family == AF_INET6;
	for (unsigned i = 0; i < L->n_insts && !v6; i++) {
		if (L->insts[i]->sec != INI_SEC_PEER)
			continue;
		const struct rg_peer_cfg *p = L->insts[i]->obj;
		for (unsigned j = 0; j < p->n_allowed_ips; j++)
			v6 |= p->allowed_ips[j].family == AF_INET6;
	}
	for (unsigned i = 0; i < t->file_peers.n && !v6; i++)
		for (unsigned j = 0; j < t->file_peers.peers[i].n_allowed_ips; j++)
			v6 |= t->file_peers.peers[i].allowed_ips[j].family == AF_INET6;
	/* RFC 8200 section 5: IPv6 links carry at least 1280 bytes. */
	if (v6 && t->mtu < 1280)
		ini_load_error(L, LINE(tin, "mtu"), "mtu = %u: the tunnel carries IPv6, which needs at least 1280",
		               t->mtu);
}

static void check_peer(struct ini_load *L, struct ini_inst *in)
{
	struct rg_peer_cfg *p = in->obj;
	char why[INI_WHY_MAX];
	if (p->preshared_key_file) {
		p->has_preshared_key = !ini_file_key(p->preshared_key_file, p->preshared_key, why);
		if (!p->has_preshared_key)
			ini_load_error(L, LINE(in, "preshared_key_file"), "preshared_key_file: %s", why);
		else
			check_secret_mode(L, in, "preshared_key_file", p->preshared_key_file);
	}
}

/* The same public key for two peers, or the same allowed IP range for two
 * peers, makes which peer gets a packet depend on file order. Both the
 * [peer] sections and the peers_file are looked at together. */
struct peer_ref {
	const char *file;
	unsigned line;        /* of the public key (section) or the file line */
	unsigned ips_line;
	const uint8_t *key;
	const struct rg_cidr *ips;
	unsigned n_ips;
	bool from_file;       /* pairs within the peers_file are peers.c's to report */
};

static bool cidr_equal(const struct rg_cidr *a, const struct rg_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static void check_peer_dups(struct ini_load *L, const struct rg_tunnel_cfg *t)
{
	unsigned n = t ? t->file_peers.n : 0;
	for (unsigned i = 0; i < L->n_insts; i++)
		n += L->insts[i]->sec == INI_SEC_PEER;
	if (!n)
		return;
	struct peer_ref *v = calloc(n, sizeof(*v));
	if (!v) {
		L->oom = -ENOMEM;
		return;
	}
	unsigned k = 0;
	for (unsigned i = 0; i < L->n_insts; i++) {
		struct ini_inst *in = L->insts[i];
		if (in->sec != INI_SEC_PEER || ini_schema_key_bad(in, "public_key") ||
		    !ini_schema_key_given(in, "public_key"))
			continue;
		const struct rg_peer_cfg *p = in->obj;
		v[k++] = (struct peer_ref){L->file, LINE(in, "public_key"), LINE(in, "allowed_ips"), p->public_key,
		                           p->allowed_ips, p->n_allowed_ips, false};
	}
	for (unsigned i = 0; t && i < t->file_peers.n; i++) {
		const struct rg_peer_entry *e = &t->file_peers.peers[i];
		v[k++] = (struct peer_ref){t->file_peers.path, e->line, e->line, e->public_key, e->allowed_ips,
		                           e->n_allowed_ips, true};
	}
	char ip[INET6_ADDRSTRLEN];
	n = k;
	for (unsigned i = 1; i < n; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (v[i].from_file && v[j].from_file)
				continue;
			if (!memcmp(v[i].key, v[j].key, RG_KEY_LEN)) {
				L->errors++;
				if (ini_diag_addf(L->diag, v[i].file, v[i].line,
				                  "duplicate peer public key (also at %s:%u)", v[j].file, v[j].line))
					L->oom = -ENOMEM;
				break;
			}
		}
		for (unsigned a = 0; a < v[i].n_ips; a++) {
			for (unsigned j = 0; j < i; j++) {
				if (v[i].from_file && v[j].from_file)
					continue;
				for (unsigned b = 0; b < v[j].n_ips; b++) {
					if (!cidr_equal(&v[i].ips[a], &v[j].ips[b]))
						continue;
					inet_ntop(v[i].ips[a].family, v[i].ips[a].addr, ip, sizeof(ip));
					L->errors++;
					if (ini_diag_addf(L->diag, v[i].file, v[i].ips_line,
					                  "allowed ip %s/%u already belongs to the peer at %s:%u", ip,
					                  v[i].ips[a].prefix, v[j].file, v[j].line))
						L->oom = -ENOMEM;
				}
			}
		}
	}
	free(v);
}

void ini_check_all(struct ini_load *L)
{
	struct ini_inst *quic = ini_load_find(L, INI_SEC_QUIC);
	struct ini_inst *tunnel = ini_load_find(L, INI_SEC_TUNNEL);

	for (unsigned i = 0; i < L->n_insts; i++) {
		struct ini_inst *in = L->insts[i];
		switch (in->sec) {
		case INI_SEC_APPLIANCE: check_appliance(L, in); break;
		case INI_SEC_QUIC: check_quic(L, in); break;
		case INI_SEC_VHOST: check_vhost(L, in, quic ? quic->obj : NULL); break;
		case INI_SEC_BACKEND: check_backend(L, in); break;
		case INI_SEC_TUNNEL: check_tunnel(L, in); break;
		case INI_SEC_PEER: check_peer(L, in); break;
		case INI_SEC_TLS: {
			struct rg_tls_cfg *t = in->obj;
			t->groups_line = ini_schema_key_given(in, "groups") ? LINE(in, "groups") : 0;
			t->pq_line = ini_schema_key_given(in, "pq") ? LINE(in, "pq") : 0;
			break;
		}
		case INI_SEC_HTTPS: check_https(L, in); break;
		case INI_SEC_REDIRECT: check_redirect(L, in); break;
		case INI_SEC_ROUTE:
		case INI_SEC_MAX: break;
		}
	}
	check_routes(L);
	if (tunnel)
		check_mtu(L, tunnel);
	else if (ini_load_find(L, INI_SEC_PEER))
		ini_load_error(L, ini_load_find(L, INI_SEC_PEER)->line, "[peer] needs a [tunnel] section");
	check_peer_dups(L, tunnel ? tunnel->obj : NULL);
}
