/* h3load's TLS backend, one of two chosen when bench/meson.build builds it
 * (the same choice as ringgate's -Dtls): h3load_tls_gnutls.c
 * (ngtcp2_crypto_gnutls; Debian 12) or h3load_tls_openssl.c
 * (ngtcp2_crypto_ossl on OpenSSL >= 3.5; Debian 13, post-quantum hybrid
 * groups). h3load.c and h3load_conn.c see only this. */
#ifndef RG_BENCH_H3LOAD_TLS_H
#define RG_BENCH_H3LOAD_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

/* The backend's name and version, e.g. "gnutls 3.7.9". */
const char *h3tls_backend(void);
/* Once, before any connection: trust CACERT (NULL: the system's, unless
 * INSECURE), offer the key-exchange GROUPS (colon- or comma-separated
 * names as OpenSSL spells them, e.g. "X25519MLKEM768:X25519"; NULL: the
 * backend's default, X25519 on gnutls). 0, or -1 with the reason printed
 * to stderr (a group this backend cannot offer is refused, never
 * dropped). */
int h3tls_init(const char *cacert, bool insecure, const char *groups);
void h3tls_deinit(void);
/* Random bytes for connection IDs and tokens. */
void h3tls_rand(void *p, size_t n);
/* The TLS session of c, for c->host (SNI, verification), ALPN h3, set as
 * c->q's native handle: c->q must exist. 0 or -1 (note_error says why). */
int h3tls_conn_new(struct conn *c);
void h3tls_conn_free(struct conn *c);
/* The key-exchange group c's handshake negotiated ("X25519MLKEM768",
 * "X25519", ...), or "?" before the handshake or when unknown. */
const char *h3tls_conn_group(struct conn *c);

#endif
