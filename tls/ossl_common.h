/* ossl_common: what the OpenSSL backend's QUIC sessions (tls/openssl.c)
 * and TCP sessions (tls/tcp_openssl.c) share (not for users of the seam).
 * Compiled with the OpenSSL backend only, into datapath/quic's library
 * (tls_quic_src), which every user of the TCP sessions links too. */
#ifndef RG_TLS_OSSL_COMMON_H
#define RG_TLS_OSSL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls/tls.h"

/* Does the ClientHello (read from the client hello callback) list a
 * post-quantum hybrid among its supported_groups (RFC 8446 4.2.7)? */
bool tls_ossl_hello_has_pq(SSL *ssl);

/* Ask for a client certificate as the vhost's client_auth says (issue 9
 * §3), verified against the CAs of the SSL's current context (its store
 * and client CA list: call after moving to the vhost's context). off:
 * nothing asked. optional: asked, a certificate that does not verify is
 * refused (the alert OpenSSL picks: bad_certificate, unknown_ca, ...).
 * require: the same, and with fail_if_none a client that sends none is
 * refused by OpenSSL (certificate_required in TLS 1.3, RFC 8446 4.4.2.4);
 * without it the caller judges that at the end of the handshake. cb:
 * OpenSSL's verify callback (NULL: its default). */
void tls_ossl_ask_cert(SSL *ssl, enum tls_client_auth a, bool fail_if_none, SSL_verify_cb cb);

/* The SSL_CTX session id context of a vhost (RFC 8446 4.6.1: a ticket
 * resumes only where its context matches): SHA-256 of "ringgate vhost "
 * and the name, so a ticket of one vhost never opens another that asks
 * for client certificates without the Certificate message. 0 or -EIO. */
int tls_ossl_vhost_sid_ctx(SSL_CTX *ctx, const char *name);

/* The client certificate of a finished handshake (or of the session a
 * resumed one carries), when OpenSSL verified it: its subject as RFC 4514
 * (XN_FLAG_RFC2253; truncated to cap - 1 bytes) and the SHA-256 of its
 * DER. 0, -ENOENT (none, or one that did not verify), -ENOMEM. */
int tls_ossl_peer_cert(const SSL *ssl, char *subject, size_t cap, uint8_t sha256[32]);

/* A resumed session skipped the Certificate message: does the certificate
 * its ticket carries verify against the CAs of the SSL's current context
 * now (a reload may have changed client_ca)? The leaf alone, as the
 * ticket holds no chain. 0, -ENOENT (no certificate), -EACCES. */
int tls_ossl_reverify(SSL *ssl);

#endif
