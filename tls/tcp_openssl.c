/* tcp_openssl: TLS 1.2/1.3 server sessions over a byte stream (tls/tcp.h)
 * on the OpenSSL >= 3.5 backend (-Dtls=openssl): the HTTPS front end over
 * TCP (issue 9), with the hybrid post-quantum group where the vhost asks.
 *
 * Credentials: the vhost's SSL_CTX (tls_vset_cred) is QUIC's: TLS 1.3
 * only, and its ClientHello, ALPN and ticket callbacks read a QUIC
 * connection from the SSL's app data, so a TCP SSL cannot run on it. Each
 * server (one per worker and vhost set) makes one TCP context per vhost
 * from the same loaded objects instead: the vhost's certificate, chain and
 * key (reference counted, never read from disk again) and its groups, with
 * TCP's versions, suites and callbacks. A reload that swaps the set makes
 * new servers; sessions keep theirs.
 *
 * A session starts on the first vhost's context; the ClientHello callback,
 * which runs before the version, suite and key share are chosen, moves it
 * to the SNI's vhost (SSL_set_SSL_CTX, RFC 6066 3) and sets the vhost's
 * groups; pq = require refuses a client that lists no hybrid group
 * (handshake_failure, counted in pq_refused) and allows TLS 1.3 only.
 *
 * I/O: one BIO of our own over the buffers of tcp_buf.h (no BIO_s_mem,
 * which allocates as it grows).
 *
 * Tickets (RFC 8446 4.6.1, RFC 5077): stateless, AES-256-CBC +
 * HMAC-SHA256 (OpenSSL's format), under keys derived per period of
 * QUIC_TICKET_LIFETIME_S wall-clock seconds from HMAC-SHA512(shared key,
 * "ringgate tcp session ticket key v1"); the current and the previous
 * period's keys decrypt. Every worker derives the same keys; QUIC's
 * (tls/openssl.c) come from the shared key without this label, so a ticket
 * of one never resumes the other. The session cache is off: only tickets
 * resume, on any worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "datapath/quic/quic.h" /* QUIC_TICKET_KEY_LEN, QUIC_TICKET_LIFETIME_S */
#include "tls/backend.h"
#include "tls/ossl_common.h"
#include "tls/tcp.h"
#include "tls/tcp_common.h"

#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
/* RFC 9113 9.2.2: TLS 1.2 for h2 with ephemeral key exchange and AEAD only */
#define TLS12_SUITES "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
#define TLS_EXT_SERVER_NAME 0       /* RFC 6066 3 */
#define TLS_EXT_ALPN 16             /* RFC 7301 3.1 */

static const char tcp_ticket_label[] = "ringgate tcp session ticket key v1";

struct ticket_keys {
	uint64_t period; /* UINT64_MAX: not derived */
	uint8_t name[16], aes[32], mac[32];
};

struct tls_tcp_server {
	unsigned refs; /* the owner + each session (one thread) */
	struct tls_vhost_set *vset;
	struct tls_tcp_counters *ctr;
	unsigned alpn;
	struct tls_wall_clock wall;
	uint8_t master[64];
	struct ticket_keys keys[2]; /* a small cache: this period, the last */
	BIO_METHOD *bio;
	SSL_CTX **ctx; /* per vhost of vset, same index */
};

struct tls_tcp {
	struct tls_tcp_common c; /* first: tcp_common.c reads it */
	struct tls_tcp_server *srv;
	SSL *ssl;
};

/* ---- the BIO over tcp_buf ---- */

static int bio_write(BIO *bio, const char *p, int n)
{
	struct tls_tcp *t = BIO_get_data(bio);
	BIO_clear_retry_flags(bio);
	size_t k = n > 0 ? tcp_out_put(&t->c.b, p, (size_t)n) : 0;
	if (!k && n > 0) {
		BIO_set_retry_write(bio);
		return -1;
	}
	return (int)k;
}

static int bio_read(BIO *bio, char *p, int n)
{
	struct tls_tcp *t = BIO_get_data(bio);
	BIO_clear_retry_flags(bio);
	size_t k = n > 0 ? tcp_in_take(&t->c.b, p, (size_t)n) : 0;
	if (!k && n > 0 && !t->c.input_end) {
		BIO_set_retry_read(bio);
		return -1;
	}
	return (int)k; /* 0 at the end of input: EOF */
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct tls_tcp *t = BIO_get_data(bio);
	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_PENDING:
		return t ? (long)t->c.b.in_len : 0;
	case BIO_CTRL_WPENDING:
		return t ? (long)t->c.b.out_len : 0;
	case BIO_CTRL_EOF:
		return t && t->c.input_end && !t->c.b.in_len;
	default:
		return 0;
	}
}

static int bio_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

/* ---- tickets ---- */

static int hmac512(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[64])
{
	size_t outlen = 0;
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA512", NULL, key, klen, msg, mlen, out, 64, &outlen) &&
	               outlen == 64
	       ? 0
	       : -EIO;
}

static const struct ticket_keys *keys_for(struct tls_tcp_server *s, uint64_t period)
{
	struct ticket_keys *k = &s->keys[period & 1];
	if (k->period == period)
		return k;
	uint8_t msg[40], a[64], m[64];
	static const char la[] = "ringgate tcp ticket aes", lm[] = "ringgate tcp ticket mac";
	_Static_assert(sizeof(la) == sizeof(lm), "same length labels");
	for (int i = 0; i < 8; i++)
		msg[sizeof(la) - 1 + (size_t)i] = (uint8_t)(period >> (56 - 8 * i));
	memcpy(msg, la, sizeof(la) - 1);
	int rv = hmac512(s->master, sizeof(s->master), msg, sizeof(la) - 1 + 8, a);
	memcpy(msg, lm, sizeof(lm) - 1);
	rv = rv ? rv : hmac512(s->master, sizeof(s->master), msg, sizeof(lm) - 1 + 8, m);
	if (!rv) {
		memcpy(k->name, a, 16);
		memcpy(k->aes, a + 16, 32);
		memcpy(k->mac, m, 32);
		k->period = period;
	}
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(m, sizeof(m));
	return rv ? NULL : k;
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 use, 2 use and renew, 0
 * unknown key (full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_tcp *t = SSL_get_app_data(ssl);
	if (!t)
		return -1;
	struct tls_tcp_server *s = t->srv;
	uint64_t now = s->wall.now ? s->wall.now(s->wall.ctx) : (uint64_t)time(NULL);
	uint64_t period = now / QUIC_TICKET_LIFETIME_S;

	for (uint64_t back = 0; back < 2 && period >= back; back++) {
		const struct ticket_keys *k = keys_for(s, period - back);
		if (!k)
			return -1;
		if (!enc && CRYPTO_memcmp(k->name, key_name, 16))
			continue;
		OSSL_PARAM params[3];
		params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->mac, sizeof(k->mac));
		params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		params[2] = OSSL_PARAM_construct_end();
		if (enc) {
			memcpy(key_name, k->name, 16);
			if (RAND_bytes(iv, 16) != 1 ||
			    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
				return -1;
		} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1) {
			return -1;
		}
		if (EVP_MAC_CTX_set_params(hctx, params) != 1)
			return -1;
		/* renew: a resumed handshake gets a fresh ticket (one per
		 * handshake, as on gnutls) */
		return enc ? 1 : 2;
	}
	return 0;
}

/* ---- the ClientHello ---- */

static int hello_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_tcp *t = SSL_get_app_data(ssl);
	const unsigned char *p;
	size_t len;

	(void)arg;
	if (!t)
		return SSL_CLIENT_HELLO_ERROR;
	struct tls_tcp_server *s = t->srv;
	t->c.sni[0] = 0;
	if (SSL_client_hello_get0_ext(ssl, TLS_EXT_SERVER_NAME, &p, &len) == 1)
		tls_tcp_common_sni(&t->c, p, len);
	/* no SNI (a client that dialled an address): the listener's first vhost */
	t->c.vhost = tls_vset_find(s->vset, t->c.sni[0] ? t->c.sni : NULL, &t->c.local);
	if (!t->c.vhost) {
		s->ctr->unknown_sni++;
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (t->c.vhost->pq == TLS_PQ_REQUIRE && !tls_ossl_hello_has_pq(ssl)) {
		s->ctr->pq_refused++;
		tls_log_refusal("TCP", &t->c.peer, "pq = require and the client offers no hybrid group");
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	SSL_CTX *ctx = s->ctx[t->c.vhost - s->vset->v];
	/* client certificates (issue 9 §3), verified by OpenSSL against the
	 * vhost's client_ca (its store, in the TCP context): a failure is the
	 * alert OpenSSL picks (bad_certificate, unknown_ca, ...); none when
	 * required: certificate_required (TLS 1.3) / handshake_failure */
	tls_ossl_ask_cert(ssl, t->c.vhost->client_auth, true, NULL);
	if ((ctx != SSL_get_SSL_CTX(ssl) && !SSL_set_SSL_CTX(ssl, ctx)) ||
	    SSL_set1_groups_list(ssl, t->c.vhost->kx) != 1 ||
	    (t->c.vhost->pq == TLS_PQ_REQUIRE && SSL_set_min_proto_version(ssl, TLS1_3_VERSION) != 1)) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* ALPN (only called when the client offers it): the first of ours the
 * client also offers (RFC 7301 3.2, h2 first); none: the fatal
 * no_application_protocol alert. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg)
{
	struct tls_tcp *t = SSL_get_app_data(ssl);
	static const struct {
		enum tls_alpn id;
		const char *name;
	} ours[] = {{TLS_ALPN_H2, "h2"}, {TLS_ALPN_HTTP11, "http/1.1"}};

	(void)arg;
	if (!t)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	for (unsigned i = 0; i < 2; i++) {
		if (!(t->srv->alpn & ours[i].id))
			continue;
		size_t l = strlen(ours[i].name);
		for (unsigned j = 0; j < inlen && j + 1u + in[j] <= inlen; j += 1u + in[j])
			if (in[j] == l && !memcmp(in + j + 1, ours[i].name, l)) {
				t->c.alpn = ours[i].id;
				*out = in + j + 1;
				*outlen = in[j];
				return SSL_TLSEXT_ERR_OK;
			}
	}
	t->srv->ctr->alpn_refused++;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* ---- the server ---- */

static SSL_CTX *tcp_ctx(struct tls_tcp_server *s, const struct tls_vhost *v)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	SSL_CTX *q = v->cred;
	STACK_OF(X509) *chain = NULL;

	if (!c)
		return NULL;
	/* The session id context is the vhost's: a ticket resumes only on
	 * the vhost that issued it (RFC 8446 4.6.1), so one from a vhost
	 * without client_auth never skips another's client certificate
	 * (and resumed_cert_refused judges what a ticket of this vhost
	 * carries against its CAs of now). */
	int ok = tls_ossl_vhost_sid_ctx(c, v->name) == 0 && SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 &&
	         SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
	         SSL_CTX_set_ciphersuites(c, TLS13_SUITES) == 1 && SSL_CTX_set_cipher_list(c, TLS12_SUITES) == 1 &&
	         SSL_CTX_get0_certificate(q) && SSL_CTX_use_certificate(c, SSL_CTX_get0_certificate(q)) == 1 &&
	         SSL_CTX_use_PrivateKey(c, SSL_CTX_get0_privatekey(q)) == 1 &&
	         SSL_CTX_get0_chain_certs(q, &chain) == 1 && (!chain || SSL_CTX_set1_chain(c, chain) == 1) &&
	         SSL_CTX_set1_groups_list(c, v->kx) == 1 && SSL_CTX_set_num_tickets(c, 1) == 1;
	/* the vhost's client CAs: its verify store (shared) and the names a
	 * CertificateRequest lists */
	if (ok && v->client_auth != TLS_CLIENT_AUTH_OFF) {
		STACK_OF(X509_NAME) *cas = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(q));
		ok = cas != NULL;
		if (cas) {
			SSL_CTX_set1_cert_store(c, SSL_CTX_get_cert_store(q));
			SSL_CTX_set_client_CA_list(c, cas);
		}
	}
	if (!ok) {
		SSL_CTX_free(c);
		return NULL;
	}
	/* RFC 9113 9.2.1: no renegotiation */
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	/* one record per SSL_write_ex: a client's smaller record size limit
	 * (RFC 8449) must not make one call write more records than the
	 * room tls_tcp_write checked (a partly written call would have to be
	 * repeated with the same bytes) */
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_client_hello_cb(c, hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(c, alpn_cb, NULL);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(c, ticket_cb);
	(void)s;
	return c;
}

static void server_free(struct tls_tcp_server *s)
{
	if (s->ctx)
		for (unsigned i = 0; i < s->vset->n; i++)
			SSL_CTX_free(s->ctx[i]);
	free(s->ctx);
	BIO_meth_free(s->bio);
	tls_vset_put(s->vset);
	OPENSSL_cleanse(s->master, sizeof(s->master));
	OPENSSL_cleanse(s->keys, sizeof(s->keys));
	free(s);
}

int tls_tcp_server_new(const struct tls_tcp_params *p, struct tls_tcp_server **out)
{
	if (!p || !p->vset || !p->vset->n || !p->ticket_key || !p->ctr ||
	    (p->alpn & ~(unsigned)(TLS_ALPN_H2 | TLS_ALPN_HTTP11)))
		return -EINVAL;
	struct tls_tcp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->refs = 1;
	s->vset = tls_vset_get(p->vset);
	s->ctr = p->ctr;
	s->alpn = p->alpn ? p->alpn : TLS_ALPN_H2 | TLS_ALPN_HTTP11;
	s->wall = p->wall;
	s->keys[0].period = s->keys[1].period = UINT64_MAX;
	int rv = -EIO;
	if (hmac512(p->ticket_key, QUIC_TICKET_KEY_LEN, tcp_ticket_label, sizeof(tcp_ticket_label) - 1,
	            s->master) < 0)
		goto fail;
	rv = -ENOMEM;
	s->bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringgate tcp");
	s->ctx = calloc(s->vset->n, sizeof(*s->ctx));
	if (!s->bio || !s->ctx || !BIO_meth_set_write(s->bio, bio_write) || !BIO_meth_set_read(s->bio, bio_read) ||
	    !BIO_meth_set_ctrl(s->bio, bio_ctrl) || !BIO_meth_set_create(s->bio, bio_create))
		goto fail;
	rv = -EINVAL;
	for (unsigned i = 0; i < s->vset->n; i++)
		if (!(s->ctx[i] = tcp_ctx(s, &s->vset->v[i])))
			goto fail;
	*out = s;
	return 0;
fail:
	ERR_clear_error();
	server_free(s);
	return rv;
}

void tls_tcp_server_put(struct tls_tcp_server *s)
{
	if (s && --s->refs == 0)
		server_free(s);
}

/* ---- the session ---- */

int tls_tcp_new(struct tls_tcp_server *srv, const rg_sockaddr *local, const rg_sockaddr *peer,
                struct tls_tcp **out)
{
	if (!srv || !local || !out)
		return -EINVAL;
	struct tls_tcp *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	tls_tcp_common_init(&t->c, local, peer);
	memset(&t->srv, 0, sizeof(*t) - offsetof(struct tls_tcp, srv));
	t->ssl = SSL_new(srv->ctx[0]);
	BIO *bio = BIO_new(srv->bio);
	if (!t->ssl || !bio) {
		BIO_free(bio);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_data(bio, t);
	BIO_up_ref(bio);
	SSL_set_bio(t->ssl, bio, bio); /* one BIO both ways: two references */
	SSL_set_app_data(t->ssl, t);
	SSL_set_accept_state(t->ssl);
	srv->refs++;
	t->srv = srv;
	*out = t;
	return 0;
}

void tls_tcp_free(struct tls_tcp *t)
{
	if (!t)
		return;
	SSL_set_app_data(t->ssl, NULL);
	SSL_free(t->ssl);
	tls_tcp_server_put(t->srv);
	free(t);
}

/* A resumed session skipped the Certificate message (and the vhost's
 * session id context only says which name issued the ticket): on a vhost
 * with client_auth, the certificate the ticket carries must verify
 * against its CAs of now (a reload may have changed client_ca or
 * client_auth), and require needs one, as on the gnutls backend. */
static bool resumed_cert_refused(struct tls_tcp *t)
{
	const struct tls_vhost *v = t->c.vhost;
	if (!v || v->client_auth == TLS_CLIENT_AUTH_OFF || SSL_session_reused(t->ssl) != 1)
		return false;
	int rv = tls_ossl_reverify(t->ssl);
	return rv == -EACCES || (rv == -ENOENT && v->client_auth == TLS_CLIENT_AUTH_REQUIRE);
}

static void handshake_done(struct tls_tcp *t)
{
	struct tls_tcp_counters *ctr = t->srv->ctr;

	t->c.state = TCP_OPEN;
	t->c.resumed = SSL_session_reused(t->ssl) == 1;
	t->c.group = tls_group_index(SSL_get0_group_name(t->ssl));
	ctr->handshakes++;
	ctr->groups[t->c.group]++;
	if (t->c.resumed)
		ctr->handshakes_resumed++;
	if (SSL_version(t->ssl) == TLS1_2_VERSION)
		ctr->handshakes_tls12++;
}

/* What a failed SSL call means: -EAGAIN (needs input or output room), 0
 * (close_notify), -ECONNRESET (input ended without one), -EPROTO (an alert
 * is queued when one is due: OpenSSL writes it itself). */
static int ssl_err(struct tls_tcp *t, int rv)
{
	int e = SSL_get_error(t->ssl, rv);
	unsigned long code = ERR_peek_error();
	ERR_clear_error();
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		break;
	case SSL_ERROR_SSL:
		if (ERR_GET_REASON(code) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			if (t->c.state == TCP_HANDSHAKE)
				t->srv->ctr->handshake_failures++;
			if (t->c.state == TCP_HANDSHAKE && t->c.vhost && t->c.vhost->client_auth != TLS_CLIENT_AUTH_OFF &&
			    (ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
			     ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED ||
			     SSL_get_verify_result(t->ssl) != X509_V_OK))
				t->srv->ctr->client_cert_refused++;
			t->c.state = TCP_FAILED;
			return -EPROTO;
		}
		break;
	default:
		break;
	}
	if (t->c.state == TCP_HANDSHAKE)
		t->srv->ctr->handshake_failures++;
	t->c.state = TCP_FAILED;
	return -ECONNRESET;
}

int tls_tcp_handshake(struct tls_tcp *t)
{
	if (t->c.state == TCP_OPEN)
		return 0;
	if (t->c.state == TCP_FAILED)
		return -EPROTO;
	ERR_clear_error();
	int rv = SSL_do_handshake(t->ssl);
	if (rv == 1 && resumed_cert_refused(t)) {
		/* OpenSSL has no call to send a fatal alert now: the caller
		 * closes the connection */
		t->srv->ctr->handshake_failures++;
		t->srv->ctr->client_cert_refused++;
		t->c.state = TCP_FAILED;
		return -EPROTO;
	}
	if (rv == 1) {
		handshake_done(t);
		return 0;
	}
	rv = ssl_err(t, rv);
	if (rv)
		return rv;
	t->srv->ctr->handshake_failures++; /* close_notify in the handshake */
	t->c.state = TCP_FAILED;
	return -ECONNRESET;
}

ssize_t tls_tcp_read(struct tls_tcp *t, uint8_t *buf, size_t cap)
{
	if (!cap)
		return -EINVAL;
	int rv = tls_tcp_handshake(t);
	if (rv)
		return rv;
	size_t n = 0;
	ERR_clear_error();
	rv = SSL_read_ex(t->ssl, buf, cap, &n);
	if (rv == 1)
		return (ssize_t)n;
	return ssl_err(t, rv);
}

ssize_t tls_tcp_seal(struct tls_tcp *t, const uint8_t *p, size_t len)
{
	size_t w = 0;
	ERR_clear_error();
	int rv = SSL_write_ex(t->ssl, p, len, &w);
	if (rv == 1)
		return (ssize_t)w;
	rv = ssl_err(t, rv);
	return rv ? rv : -EPROTO;
}

void tls_tcp_close_notify(struct tls_tcp *t)
{
	if (t->c.close_sent || t->c.state != TCP_OPEN)
		return;
	t->c.close_sent = true;
	ERR_clear_error();
	SSL_shutdown(t->ssl); /* one alert: fits the ring's slack */
	ERR_clear_error();
}

const char *tls_tcp_version(const struct tls_tcp *t)
{
	switch (SSL_version(t->ssl)) {
	case TLS1_3_VERSION:
		return "TLSv1.3";
	case TLS1_2_VERSION:
		return "TLSv1.2";
	default:
		return "";
	}
}

int tls_tcp_peer_cert(const struct tls_tcp *t, char *subject, size_t cap, uint8_t sha256[32])
{
	if (t->c.state != TCP_OPEN || !t->c.vhost || t->c.vhost->client_auth == TLS_CLIENT_AUTH_OFF)
		return -ENOENT;
	return tls_ossl_peer_cert(t->ssl, subject, cap, sha256);
}

/* OpenSSL's read and write buffers (one record each, kept: no
 * SSL_MODE_RELEASE_BUFFERS, which would allocate per record) and the SSL
 * itself. An estimate. */
#define OPENSSL_SESSION_EST (2 * TCP_IN_CAP + 8192)

size_t tls_tcp_mem(const struct tls_tcp *t)
{
	(void)t;
	return sizeof(struct tls_tcp) + OPENSSL_SESSION_EST;
}
