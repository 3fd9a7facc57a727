/* tls: the one TLS seam of ringgate, with two backends (issue 20).
 *
 * Everything that depends on the TLS library sits behind this header:
 * tls/gnutls.c (gnutls >= 3.7, the Debian 12 build) or tls/openssl.c
 * (OpenSSL >= 3.5 with ngtcp2_crypto_ossl, the Debian 13 build), chosen at
 * build time by meson's -Dtls=auto|gnutls|openssl. Exactly one backend is
 * compiled in; no code outside tls/ names either library's TLS API.
 *
 * What the seam offers:
 *  - credentials by SNI: a vhost set (certificate chain + key per name,
 *    with the listeners it is bound to) loaded once per configuration
 *    generation and shared read-only by every worker (reference counted);
 *  - key-exchange groups and the post-quantum policy ([tls] groups, pq;
 *    per [vhost] overrides), checked here so --validate can refuse what
 *    this build cannot do, with the reason;
 *  - the QUIC hooks (session per connection, ALPN, session tickets with a
 *    key every worker shares, 0-RTT with the process's anti-replay
 *    window, RFC 9001 through ngtcp2_crypto_*): declared in
 *    datapath/quic/internal.h as quic_tls_*, implemented by the backend.
 */
#ifndef RG_TLS_H
#define RG_TLS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h" /* rg_sockaddr */

/* [tls] pq: what a handshake does about a post-quantum (hybrid) key share. */
enum tls_pq {
	TLS_PQ_PREFER = 0, /* hybrid first when the client offers it, else classical */
	TLS_PQ_REQUIRE,    /* hybrid or nothing: HelloRetryRequest, then refuse */
	TLS_PQ_OFF,        /* classical groups only */
};

/* The hybrid group of draft-ietf-tls-ecdhe-mlkem (X25519 + ML-KEM-768,
 * FIPS 203), TLS NamedGroup 0x11ec = 4588. */
#define TLS_GROUP_X25519MLKEM768 4588
/* The longest groups list accepted ("A, B, C" as written in the INI). */
#define TLS_GROUPS_MAX_LEN 256
#define TLS_WHY_MAX 160

/* Backend name and version, e.g. "gnutls 3.7.9" or "OpenSSL 3.5.4". */
const char *tls_backend(void);
/* n bytes from the backend's CSPRNG (gnutls_rnd's GNUTLS_RND_RANDOM, or
 * OpenSSL's RAND_bytes): a generator in user space, seeded by the kernel,
 * so no system call per draw. 0, or -EIO. */
int tls_random(void *buf, size_t n);
/* Can this build negotiate a post-quantum hybrid group? */
bool tls_pq_available(void);
/* The groups a vhost uses when [tls] groups is not set: on a PQ build
 * "X25519MLKEM768, X25519, secp256r1", else "X25519, secp256r1, secp384r1". */
const char *tls_groups_default(void);
/* Is `groups` (comma-separated names, NULL: the default) with policy pq
 * possible in this build? 0, or -EINVAL with why filled (e.g.
 * "X25519MLKEM768 needs the OpenSSL >= 3.5 build; this build uses gnutls
 * 3.7.9"). Also refuses pq = require with no hybrid group in the list and
 * pq = off with only hybrid groups. */
int tls_groups_check(const char *groups, enum tls_pq pq, char why[TLS_WHY_MAX]);
/* Is the named group (case-insensitive) a post-quantum hybrid? */
bool tls_group_is_pq(const char *name, size_t len);
/* The IANA name of TLS NamedGroup id (RFC 8446 4.2.7), "unknown" else. */
const char *tls_group_name(unsigned id);

/* Handshakes are counted by group (ringgate_tls_handshakes_total{group=}):
 * one counter per entry of this index. */
enum tls_group_idx {
	TLS_GI_X25519MLKEM768,
	TLS_GI_X25519,
	TLS_GI_SECP256R1,
	TLS_GI_SECP384R1,
	TLS_GI_SECP521R1,
	TLS_GI_X448,
	TLS_GI_OTHER,
	TLS_GI_MAX
};
/* The index of a group name as either library spells it (case-insensitive). */
enum tls_group_idx tls_group_index(const char *name);
/* The label of index k (the registry's spelling, "other"). */
const char *tls_group_label(unsigned k);

/* ---- credentials by SNI ---- */

/* [vhost] client_auth (issue 9 §3): whether a client certificate, verified
 * against client_ca, is asked for. optional: a client without one is
 * served, one with a certificate that does not verify is refused. */
enum tls_client_auth {
	TLS_CLIENT_AUTH_OFF = 0,
	TLS_CLIENT_AUTH_OPTIONAL,
	TLS_CLIENT_AUTH_REQUIRE,
};

struct tls_vhost_params {
	const char *name;      /* SNI name, exact match (case-insensitive) */
	const char *cert_file; /* PEM chain */
	const char *key_file;  /* PEM key */
	/* The listeners this name is served on ([vhost] listen), matched
	 * against the local address a client's first datagram was sent to
	 * (port and family always; the address unless the entry's is the
	 * wildcard). Elsewhere the name is unknown, exactly as a name no
	 * vhost has: refused with unrecognized_name, or silently with
	 * anti_port_scan. n_listen 0: every listener. Copied. */
	const rg_sockaddr *listen;
	unsigned n_listen;
	/* Key-exchange groups and PQ policy ([vhost] over [tls]); NULL
	 * groups: tls_groups_default(). Checked with tls_groups_check. */
	const char *groups;
	enum tls_pq pq;
	/* Client certificates ([vhost] client_ca, client_auth): the CAs (PEM
	 * file, loaded into the vhost's credentials; NULL: none) and the
	 * policy; client_auth other than off needs client_ca. Asked for by
	 * the TCP sessions (tls/tcp.h) and QUIC's, on both backends. */
	const char *client_ca;
	enum tls_client_auth client_auth;
};

struct tls_vhost {
	char *name;
	void *cred; /* the backend's: gnutls_certificate_credentials_t, SSL_CTX * */
	rg_sockaddr *listen; /* n_listen 0: every listener */
	unsigned n_listen;
	char *groups;        /* as configured or the default, never NULL */
	enum tls_pq pq;
	void *kx;            /* the backend's form of groups + pq (gnutls: a
	                        gnutls_priority_t; OpenSSL: a ':' list) */
	enum tls_client_auth client_auth; /* its CAs are in cred */
};

/* The vhosts' credentials, loaded together. Built once per configuration
 * generation by the control thread and then shared read-only by every
 * worker's servers: both libraries allow credentials (gnutls certificate
 * credentials, an OpenSSL SSL_CTX) to be used by many sessions in many
 * threads once set up. A connection holds a reference for its life, so
 * the count is atomic: the last user to let go frees it. */
struct tls_vhost_set {
	_Atomic unsigned refs;
	unsigned n;
	struct tls_vhost v[];
};

/* Read each cert/key pair once. -EINVAL (bad params, bad PEM, a key that
 * does not match, groups this build cannot do), -ENOENT (a missing file),
 * -ENOMEM; nothing leaked. */
__attribute__((warn_unused_result)) int tls_vset_load(const struct tls_vhost_params *vp, unsigned n,
                                                      struct tls_vhost_set **out);
/* Another reference (any thread). Returns s. */
struct tls_vhost_set *tls_vset_get(struct tls_vhost_set *s);
/* Drop one reference (any thread); the last frees. NULL is fine. */
void tls_vset_put(struct tls_vhost_set *s);
unsigned tls_vset_count(const struct tls_vhost_set *s);
const char *tls_vset_name(const struct tls_vhost_set *s, unsigned i);
/* Vhost i's credentials in the backend's type (see struct tls_vhost). */
const void *tls_vset_cred(const struct tls_vhost_set *s, unsigned i);
const char *tls_vset_groups(const struct tls_vhost_set *s, unsigned i);
/* The DER of vhost i's leaf certificate, malloc'd (caller frees):
 * backend-neutral, for tests and /status. 0, -ENOENT, -ENOMEM. */
int tls_vset_leaf_der(const struct tls_vhost_set *s, unsigned i, uint8_t **der, size_t *len);
/* The vhost serving `name` on the listener `local` (NULL name: the client
 * sent no SNI, the first vhost bound there answers), NULL for none. */
const struct tls_vhost *tls_vset_find(const struct tls_vhost_set *s, const char *name,
                                      const rg_sockaddr *local);

/* ---- backend primitives used by vset.c (each backend implements) ---- */
int tls_backend_cred_load(const struct tls_vhost_params *vp, void **cred);
void tls_backend_cred_free(void *cred);
/* v->kx from v->groups and v->pq (checked already); free it (NULL fine). */
int tls_backend_kx_load(struct tls_vhost *v);
void tls_backend_kx_free(void *kx);
int tls_backend_leaf_der(const void *cred, uint8_t **der, size_t *len);

/* ---- the process's 0-RTT anti-replay window (tls/replay.c) ----
 * RFC 8446 8.2 "ClientHello recording", one window for every worker. */
struct tls_wall_clock {
	uint64_t (*now)(void *ctx);
	void *ctx;
};
/* Open (first caller) or share the window; *out is the backend's handle
 * to give sessions (never NULL on success). 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int tls_replay_acquire(const struct tls_wall_clock *clk, void **out);
void tls_replay_release(void);
/* Record one ClientHello's key, valid until exp (wall-clock seconds; 0:
 * the window from now). 0 when new, -EEXIST for a replay, -ENOSPC when
 * the table is full or no window is open (early data then fails closed). */
int tls_replay_record(const void *key, size_t len, uint64_t exp);
/* The backend's process-wide anti-replay object (made under the window's
 * lock by the first acquire; freed by the last release). */
void *tls_backend_replay_new(void);
void tls_backend_replay_free(void *r);

/* Logging: tls/ writes a line only for handshakes refused by policy
 * (pq = require, tls/log.c), with the client's address, at most 10 a
 * second per thread. control installs the process's log function at start
 * (before the workers run); levels are those of enum log_level
 * (datapath/worker.h), which tls/ does not include. Without one, nothing
 * is written. */
enum { TLS_LOG_ERROR = 0, TLS_LOG_WARN = 1, TLS_LOG_INFO = 2, TLS_LOG_DEBUG = 3 };
typedef void (*tls_log_fn)(int level, const char *fmt, va_list ap);
void tls_log_set(tls_log_fn fn);

#endif
