/* genbuild: config in, worker_gen out (genbuild.h). */
#include "control/genbuild.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath/tunnel/allowedips.h"
#include "ini/config.h"

void gen_build_free(struct worker_gen *wg)
{
	if (!wg)
		return;
	if (wg->access_log)
		close(wg->access_log_fd);
	appcfg_https_free(wg->https);
	free((void *)wg->quic_vhosts);
	quic_vset_put(wg->quic.vset); /* the servers hold their own references */
	if (wg->tunnel_peers)
		explicit_bzero((void *)wg->tunnel_peers, sizeof(*wg->tunnel_peers) * wg->n_tunnel_peers);
	proxy_conf_free(wg->proxy);
	if (wg->tunnel_routes) {
		allowedips_free(wg->tunnel_routes);
		free(wg->tunnel_routes);
	}
	free((void *)wg->tunnel_peers);
	free(wg->tunnel_prefixes);
	free(wg);
}

/* The generation's allowed IPs -> peer config: which peer (and so which
 * worker) a TUN packet is for (worker.c tun_target). */
static int routes_build(struct worker_gen *wg)
{
	size_t n_pfx = 0;
	for (unsigned i = 0; i < wg->n_tunnel_peers; i++)
		n_pfx += wg->tunnel_peers[i].n_allowed_ips;
	if (!n_pfx)
		return 0;
	struct allowedips *t = calloc(1, sizeof(*t));
	if (!t || allowedips_init(t, 2 * n_pfx + 2)) {
		free(t);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < wg->n_tunnel_peers; i++) {
		const struct tunnel_peer_config *pc = &wg->tunnel_peers[i];
		for (size_t j = 0; j < pc->n_allowed_ips; j++) {
			/* sized for every prefix above: a failure is a bug, and a
			 * table missing routes must not be published */
			int err = allowedips_insert(t, &pc->allowed_ips[j].ip, pc->allowed_ips[j].cidr, (void *)pc);
			if (err) {
				allowedips_free(t);
				free(t);
				return err;
			}
		}
	}
	wg->tunnel_routes = t;
	return 0;
}

/* [vhost] listen = iface NAME:PORT: the interface's addresses come and go
 * (netlink), the vhost binding does not follow them: it is enforced by
 * port (appcfg_quic_params). Said at every build, so at every start and
 * reload. */
static void vhost_iface_warn(const struct rg_config *cfg, const struct appcfg_diag *diag)
{
	for (unsigned i = 0; i < cfg->n_vhosts; i++)
		for (unsigned j = 0; j < cfg->vhosts[i].n_listen; j++)
			if (cfg->vhosts[i].listen[j].kind == RG_CFG_ADDR_IFACE)
				appcfg_diagf(diag, LOG_WARN,
				             "[vhost %s] listen = iface %s:%u is enforced by port only: the name is "
				             "served on every [quic] listener with port %u",
				             cfg->vhosts[i].name, cfg->vhosts[i].listen[j].iface,
				             cfg->vhosts[i].listen[j].port, cfg->vhosts[i].listen[j].port);
}

/* The set failed to load: name the vhost that fails, with its FILE:LINE
 * (loading them one at a time: slow, but only on this way out). */
static void vhost_blame(const struct rg_config *cfg, const struct quic_vhost_params *qv, unsigned n,
                        const struct appcfg_diag *diag)
{
	for (unsigned i = 0; i < n && i < cfg->n_vhosts; i++) {
		struct quic_vhost_set *one = NULL;
		int err = quic_vset_load(&qv[i], 1, &one);
		quic_vset_put(one);
		if (err) {
			appcfg_diagf(diag, LOG_ERROR, "%s:%u: [vhost %s] cert %s, key %s: %s", cfg->source,
			             cfg->vhosts[i].line, qv[i].name, qv[i].cert_file, qv[i].key_file,
			             err == -ENOENT ? "cannot read the file" : "not a valid certificate and matching key");
			return;
		}
	}
}

/* [quic]: the reloadable settings, and every vhost's certificate and key
 * read once into credentials the workers share (quic.h quic_vset_load). */
static int quic_build(const struct rg_config *cfg, const struct appcfg_diag *diag, struct worker_gen *wg)
{
	struct quic_params qp;
	struct quic_vhost_params *qv = NULL;
	if (appcfg_quic_params(cfg, &qp, &qv) != 0)
		return 0; /* no [quic] */
	wg->quic_vhosts = qv; /* the strings live in cfg */
	wg->n_quic_vhosts = qp.n_vhosts;
	wg->quic = qp;
	if (!qp.n_vhosts)
		return 0; /* ini/check.c refuses [quic] without a vhost; the worker skips it */
	int err = quic_vset_load(qv, qp.n_vhosts, &wg->quic.vset);
	if (err)
		vhost_blame(cfg, qv, qp.n_vhosts, diag);
	return err;
}

/* [https] / [redirect]: the vhosts [quic] loaded, or loaded here when
 * there is no [quic]. */
static int https_build(const struct rg_config *cfg, const struct appcfg_diag *diag, struct worker_gen *wg)
{
	if (!cfg->https && !cfg->redirect)
		return 0;
	struct tls_vhost_set *vset = NULL;
	if (cfg->https && wg->quic.vset) {
		vset = tls_vset_get(wg->quic.vset);
	} else if (cfg->https && cfg->n_vhosts) {
		struct quic_vhost_params *qv = NULL;
		int err = appcfg_vhost_params(cfg, &qv);
		if (err)
			return err;
		err = tls_vset_load(qv, cfg->n_vhosts, &vset);
		if (err)
			vhost_blame(cfg, qv, cfg->n_vhosts, diag);
		free(qv);
		if (err)
			return err;
	}
	int err = appcfg_https_gen(cfg, vset, &wg->https);
	tls_vset_put(vset);
	return err;
}

/* [appliance] access_log: opened here, once per generation, for every
 * worker (O_APPEND: their whole-line writes never interleave); appcfg_load
 * checked it already, this open can still fail (the directory went). */
static int access_log_open(const struct rg_config *cfg, const struct appcfg_diag *diag, struct worker_gen *wg)
{
	const char *path = cfg->appliance.access_log;
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0) {
		int err = -errno;
		appcfg_diagf(diag, LOG_ERROR, "%s:%u: [appliance] access_log = %s: cannot be opened for append: %s",
		             cfg->source, cfg->appliance.access_log_line, path, strerror(-err));
		return err;
	}
	wg->access_log = true;
	wg->access_log_fd = fd;
	return 0;
}

int gen_build(const struct rg_config *cfg, const struct gen_build_in *in, struct worker_gen **out)
{
	*out = NULL;
	struct worker_gen *wg = calloc(1, sizeof(*wg));
	if (!wg)
		return -ENOMEM;
	int err = quic_build(cfg, &in->diag, wg);
	if (!err)
		err = https_build(cfg, &in->diag, wg);
	if (err)
		goto fail;
	struct tunnel_peer_config *tp = NULL;
	const struct worker_gen *prev = in->prev;
	err = appcfg_tunnel_peers(cfg, prev ? prev->tunnel_peers : NULL, prev ? prev->n_tunnel_peers : 0, &in->diag,
	                          &tp, &wg->n_tunnel_peers, &wg->tunnel_prefixes);
	if (err)
		goto fail;
	wg->tunnel_peers = tp;
	err = appcfg_proxy_conf(cfg, in->n_workers, &wg->proxy);
	if (err)
		goto fail;
	err = routes_build(wg);
	if (!err)
		err = access_log_open(cfg, &in->diag, wg);
	if (err)
		goto fail;
	vhost_iface_warn(cfg, &in->diag);
	*out = wg;
	return 0;
fail:
	gen_build_free(wg);
	return err;
}
