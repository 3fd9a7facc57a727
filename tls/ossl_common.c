/* ossl_common: the parts of the OpenSSL backend its QUIC (openssl.c) and
 * TCP (tcp_openssl.c) sessions share: the ClientHello's groups, client
 * certificates (issue 9 §3) and the vhost's session id context. */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "tls/ossl_common.h"

#define TLS_EXT_SUPPORTED_GROUPS 10 /* RFC 8446 4.2.7 */

bool tls_ossl_hello_has_pq(SSL *ssl)
{
	const unsigned char *p;
	size_t len;

	/* NamedGroupList: u16 length, then u16 ids */
	if (!SSL_client_hello_get0_ext(ssl, TLS_EXT_SUPPORTED_GROUPS, &p, &len) || len < 2)
		return false;
	size_t n = (size_t)p[0] << 8 | p[1];
	if (n + 2 > len)
		return false;
	for (size_t i = 2; i + 1 < n + 2; i += 2) {
		const char *nm = tls_group_name((unsigned)p[i] << 8 | p[i + 1]);
		if (tls_group_is_pq(nm, strlen(nm)))
			return true;
	}
	return false;
}

void tls_ossl_ask_cert(SSL *ssl, enum tls_client_auth a, bool fail_if_none, SSL_verify_cb cb)
{
	if (a == TLS_CLIENT_AUTH_OFF) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return;
	}
	int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
	if (a == TLS_CLIENT_AUTH_REQUIRE && fail_if_none)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_set_verify(ssl, mode, cb);
}

int tls_ossl_vhost_sid_ctx(SSL_CTX *ctx, const char *name)
{
	static const char label[] = "ringgate vhost ";
	unsigned char sid[32]; /* <= SSL_MAX_SID_CTX_LENGTH */
	unsigned len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(md, label, sizeof(label) - 1) == 1 &&
	         EVP_DigestUpdate(md, name, strlen(name)) == 1 && EVP_DigestFinal_ex(md, sid, &len) == 1 &&
	         SSL_CTX_set_session_id_context(ctx, sid, len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		ERR_clear_error();
	return ok ? 0 : -EIO;
}

int tls_ossl_peer_cert(const SSL *ssl, char *subject, size_t cap, uint8_t sha256[32])
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	unsigned len = 0;

	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return -ENOENT;
	if (X509_digest(x, EVP_sha256(), sha256, &len) != 1 || len != 32) {
		ERR_clear_error();
		return -ENOMEM;
	}
	/* RFC 4514 (XN_FLAG_RFC2253: last RDN first, ',' between, escaped) */
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		ERR_clear_error();
		return -ENOMEM;
	}
	if (cap) {
		int n = BIO_read(b, subject, cap - 1 > INT32_MAX ? INT32_MAX : (int)(cap - 1));
		subject[n > 0 ? n : 0] = 0;
	}
	BIO_free(b);
	return 0;
}

int tls_ossl_reverify(SSL *ssl)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	if (!x)
		return -ENOENT;
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	/* what OpenSSL's own check of a client's chain sets: the SSL's
	 * verify parameters and the ssl_client purpose */
	int ok = v && X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), x, NULL) == 1 &&
	         X509_STORE_CTX_set_default(v, "ssl_client") == 1 &&
	         X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(v), SSL_get0_param(ssl)) == 1 &&
	         X509_verify_cert(v) == 1;
	X509_STORE_CTX_free(v);
	ERR_clear_error();
	return ok ? 0 : -EACCES;
}
