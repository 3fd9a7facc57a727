/* genbuild: the one pure function that turns a configuration into what the
 * workers of a generation read (ARCHITECTURE.md principle 4, "Config
 * generations").
 *
 * gen_build reads cfg and the inputs below and nothing else: no global,
 * no publishing, no log except through in->diag. What it reads from the
 * filesystem is what the configuration names: the vhosts' certificate and
 * key files (read once here for every worker, datapath/quic/quic.h
 * quic_vset_load) and the [peer] endpoints it resolves. The caller
 * (control/app.c publish) wraps the result in a struct gen and publishes it.
 *
 * Threads: any thread; the control thread in ringgate.
 */
#ifndef RG_GENBUILD_H
#define RG_GENBUILD_H

#include "control/appcfg.h"
#include "datapath/worker.h"

struct rg_config;

struct gen_build_in {
	/* The generation in force (NULL at start): each unchanged peer's
	 * static-static DH is taken from it instead of computed again
	 * (engine.h tunnel_peer_config_precompute: one Curve25519 operation a
	 * peer); a peer whose key or our private key changed gets it computed. */
	const struct worker_gen *prev;
	unsigned n_workers; /* the proxy's per-worker stats slots */
	struct appcfg_diag diag; /* warnings, e.g. a [peer] endpoint that does not resolve */
};

/* Build cfg's generation into *out (malloc'ed; gen_build_free). The
 * strings of (*out)->quic and its vhosts point into cfg: cfg must outlive
 * *out. Errors, with nothing allocated left behind and *out NULL:
 * -ENOENT a certificate or key file is missing, -EINVAL one is not valid
 * PEM or the key does not match the certificate, -ENOMEM. */
RG_MUST_CHECK int gen_build(const struct rg_config *cfg, const struct gen_build_in *in, struct worker_gen **out);
/* Frees what gen_build made, wiping the peers' secrets (psks, precomputed
 * DH). The credentials go when the last worker's server lets them go
 * (reference counted). NULL is fine. */
void gen_build_free(struct worker_gen *wg);

#endif
