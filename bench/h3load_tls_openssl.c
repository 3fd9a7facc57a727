/* h3load's TLS on OpenSSL >= 3.5 (ngtcp2_crypto_ossl, which drives
 * OpenSSL's own QUIC TLS callbacks, SSL_set_quic_tls_cbs): the Debian 13
 * build (h3load_tls.h), where --groups can offer the hybrid
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem). */
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <ngtcp2/ngtcp2_crypto_ossl.h>

#include "h3load.h"

static SSL_CTX *ctx;
static char backend[64];

const char *h3tls_backend(void)
{
	snprintf(backend, sizeof(backend), "%s", OpenSSL_version(OPENSSL_VERSION));
	return backend;
}

int h3tls_init(const char *cacert, bool insecure, const char *groups)
{
	char list[256];

	if (ngtcp2_crypto_ossl_init()) {
		fprintf(stderr, "h3load: ngtcp2_crypto_ossl_init failed\n");
		return -1;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
		fprintf(stderr, "h3load: SSL_CTX_new failed\n");
		return -1;
	}
	if (groups) {
		/* OpenSSL separates groups with ':'; accept ',' too */
		snprintf(list, sizeof(list), "%s", groups);
		for (char *p = list; *p; p++)
			if (*p == ',')
				*p = ':';
		if (SSL_CTX_set1_groups_list(ctx, list) != 1) {
			fprintf(stderr, "h3load: --groups %s: refused by %s\n", groups, h3tls_backend());
			return -1;
		}
	}
	if (cacert) {
		if (SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1) {
			fprintf(stderr, "h3load: no certificate in %s\n", cacert);
			return -1;
		}
	} else if (!insecure) {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	SSL_CTX_set_verify(ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	/* every connection a full handshake: no tickets kept */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return 0;
}

void h3tls_deinit(void)
{
	SSL_CTX_free(ctx);
}

void h3tls_rand(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		abort(); /* no randomness: nothing to measure */
}

int h3tls_conn_new(struct conn *c)
{
	static const unsigned char alpn[] = { 2, 'h', '3' };
	ngtcp2_crypto_ossl_ctx *octx = NULL;
	SSL *ssl = SSL_new(ctx);

	if (!ssl) {
		note_error("SSL_new failed");
		return -1;
	}
	SSL_set_app_data(ssl, &c->ref);
	SSL_set_connect_state(ssl);
	if (ngtcp2_crypto_ossl_configure_client_session(ssl) ||
	    SSL_set_alpn_protos(ssl, alpn, sizeof(alpn)) ||
	    SSL_set_tlsext_host_name(ssl, G.host) != 1 ||
	    (!G.insecure && SSL_set1_host(ssl, G.host) != 1) ||
	    ngtcp2_crypto_ossl_ctx_new(&octx, ssl)) {
		note_error("OpenSSL session set-up failed: %s", ERR_reason_error_string(ERR_get_error()));
		SSL_set_app_data(ssl, NULL);
		SSL_free(ssl);
		return -1;
	}
	c->tls = octx;
	ngtcp2_conn_set_tls_native_handle(c->q, octx);
	return 0;
}

void h3tls_conn_free(struct conn *c)
{
	ngtcp2_crypto_ossl_ctx *octx = c->tls;
	SSL *ssl;

	if (!octx)
		return;
	ssl = ngtcp2_crypto_ossl_ctx_get_ssl(octx);
	if (ssl) {
		/* c->q is gone or going: ngtcp2_crypto_ossl must not reach it */
		SSL_set_app_data(ssl, NULL);
		SSL_free(ssl);
	}
	ngtcp2_crypto_ossl_ctx_del(octx);
	c->tls = NULL;
}

const char *h3tls_conn_group(struct conn *c)
{
	SSL *ssl = c->tls ? ngtcp2_crypto_ossl_ctx_get_ssl(c->tls) : NULL;
	const char *n = ssl ? SSL_get0_group_name(ssl) : NULL;

	return n ? n : "?";
}
