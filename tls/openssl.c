/* openssl: the OpenSSL >= 3.5 backend of the TLS seam (tls/tls.h), with
 * ngtcp2_crypto_ossl (OpenSSL's own QUIC TLS API, SSL_set_quic_tls_cbs).
 * Built with -Dtls=openssl (Debian 13: OpenSSL 3.5, ngtcp2 from
 * trixie-backports). What it adds over gnutls: the hybrid post-quantum
 * group X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem, NamedGroup 4588),
 * first in the default groups.
 *
 * Credentials: one SSL_CTX per vhost, each configured alike (TLS 1.3 only,
 * RFC 9001 4.2; the three AEADs QUIC defines; ALPN, ticket key and early
 * data callbacks) with its own chain and groups. A connection's SSL starts
 * on the first vhost's context; the ClientHello callback, which runs
 * before the key share is chosen, moves it to the SNI's vhost
 * (SSL_set_SSL_CTX, RFC 6066 3) and sets that vhost's groups, so [vhost]
 * groups/pq decide the key exchange.
 *
 * pq = require (issue 20): the session offers only hybrid groups. A client
 * that lists one among its supported_groups but sent no key share for it
 * gets a HelloRetryRequest naming it (RFC 8446 4.1.4, OpenSSL does this
 * itself); a client that lists none is refused in the ClientHello
 * callback with handshake_failure, counted (tls_pq_refused) and logged
 * with its address.
 *
 * Resumption (RFC 8446 4.6.1, RFC 9001 4.5): stateless tickets, one per
 * handshake, encrypted (AES-256-CBC + HMAC-SHA256, OpenSSL's ticket
 * format) under keys derived from the server's ticket master key per
 * period of QUIC_TICKET_LIFETIME_S wall-clock seconds; the current and the
 * previous period's keys decrypt. Every worker derives the same keys from
 * the same master key, so a ticket resumes on any worker, and keys rotate
 * without coordination, as on the gnutls backend.
 *
 * 0-RTT (RFC 9001 4.6): with zero_rtt on, early data is enabled per
 * session; OpenSSL refuses a ticket whose age is off by more than 10 s
 * (its TICKET_AGE_ALLOWANCE, the window of tls/replay.c) and asks the
 * early-data callback, which records the ClientHello's random in the
 * process's anti-replay table: a replayed ClientHello carries the same
 * random and is refused (early data only; the handshake goes on in 1-RTT).
 * OpenSSL's own anti-replay (stateful tickets only) is off.
 *
 * Client certificates ([vhost] client_ca, client_auth; issue 9 §3): the
 * ClientHello callback asks for one on the SNI's vhost (tls/ossl_common.c,
 * shared with the TCP sessions); OpenSSL verifies it against the vhost's
 * CAs and verify_cb counts a refusal. require is judged at the end of the
 * handshake, as on gnutls: no certificate, or a resumed session whose
 * ticket carries one the vhost's CAs of now do not verify, is refused and
 * counted. A vhost with client_auth has its own session id context, so
 * another vhost's ticket gets a full handshake there. A request in 0-RTT
 * is answered 425 (datapath/quic/h3.c): the certificate is not judged yet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ngtcp2/ngtcp2_crypto_ossl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "datapath/quic/internal.h"
#include "tls/backend.h"
#include "tls/ossl_common.h"

#define CIPHERSUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_EXT_SERVER_NAME 0      /* RFC 6066 3 */
#define TLS_EXT_EARLY_DATA 42      /* RFC 8446 4.2.10 */

const char *tls_backend(void)
{
	static char name[48];
	if (!name[0])
		snprintf(name, sizeof(name), "OpenSSL %s", OpenSSL_version(OPENSSL_VERSION_STRING));
	return name;
}

int tls_random(void *buf, size_t n)
{
	return n > INT_MAX || RAND_bytes(buf, (int)n) != 1 ? -EIO : 0;
}

bool tls_pq_available(void)
{
	static int avail = -1; /* benign race: every thread computes the same */
	if (avail < 0) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
		avail = ctx && SSL_CTX_set1_groups_list(ctx, "X25519MLKEM768") == 1;
		SSL_CTX_free(ctx);
		ERR_clear_error();
	}
	return avail;
}

static struct quic_conn *conn_of(SSL *ssl)
{
	ngtcp2_crypto_conn_ref *ref = SSL_get_app_data(ssl);
	return ref ? container_of(ref, struct quic_conn, conn_ref) : NULL;
}

/* ---- ticket keys ---- */

/* HMAC-SHA512(master, label || period) as a KDF: the master key is
 * uniformly random, the label separates the uses. */
static int ticket_derive(const struct quic_server *srv, const char *label, uint64_t period,
                         uint8_t out[64])
{
	uint8_t msg[32];
	size_t n = strlen(label), outlen = 0;

	memcpy(msg, label, n);
	for (int i = 0; i < 8; i++)
		msg[n + (size_t)i] = (uint8_t)(period >> (56 - 8 * i));
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA512", NULL, srv->ticket_key, sizeof(srv->ticket_key), msg,
	                 n + 8, out, 64, &outlen) && outlen == 64 ? 0 : -EIO;
}

static int ticket_keys(const struct quic_server *srv, uint64_t period, uint8_t name[16],
                       uint8_t aes[32], uint8_t mac[32])
{
	uint8_t a[64], m[64];
	if (ticket_derive(srv, "ringgate ticket aes", period, a) < 0 ||
	    ticket_derive(srv, "ringgate ticket mac", period, m) < 0)
		return -EIO;
	memcpy(name, a, 16);
	memcpy(aes, a + 16, 32);
	memcpy(mac, m, 32);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(m, sizeof(m));
	return 0;
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 use, 2 use and renew, 0
 * unknown key (full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct quic_conn *c = conn_of(ssl);
	uint8_t name[16], aes[32], mac[32];
	int rv = -1;

	if (!c)
		return -1;
	struct quic_server *srv = c->srv;
	uint64_t period = srv->p.wall.now(srv->p.wall.ctx) / QUIC_TICKET_LIFETIME_S;
	OSSL_PARAM params[3];
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, mac, sizeof(mac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();

	if (enc) {
		if (ticket_keys(srv, period, name, aes, mac) < 0 || RAND_bytes(iv, 16) != 1)
			goto out;
		memcpy(key_name, name, 16);
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv) != 1 ||
		    EVP_MAC_CTX_set_params(hctx, params) != 1)
			goto out;
		srv->ctr.tickets_issued++;
		rv = 1;
		goto out;
	}
	rv = 0;
	for (uint64_t back = 0; back < 2 && period >= back; back++) {
		if (ticket_keys(srv, period - back, name, aes, mac) < 0) {
			rv = -1;
			break;
		}
		if (CRYPTO_memcmp(name, key_name, 16))
			continue;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv) != 1 ||
		    EVP_MAC_CTX_set_params(hctx, params) != 1)
			rv = -1;
		else
			rv = 2; /* renew: OpenSSL sends a ticket after a resumed
			           handshake only when asked, and one ticket per
			           handshake is the rule (as on gnutls) */
		break;
	}
out:
	OPENSSL_cleanse(aes, sizeof(aes));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rv;
}

/* ---- the ClientHello: SNI, groups, pq = require ---- */

/* Issue 9 §3: a client certificate that does not verify against the
 * vhost's client_ca is refused (OpenSSL sends the alert) and counted here;
 * OpenSSL stops at the first failure, so this runs once per handshake. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	if (ok)
		return 1;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct quic_conn *c = ssl ? conn_of(ssl) : NULL;
	if (c)
		c->srv->ctr.client_cert_refused++;
	return 0;
}

static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct quic_conn *c = conn_of(ssl);
	const unsigned char *p;
	size_t len;
	char name[256];
	bool has_name = false;

	(void)arg;
	if (!c)
		return SSL_CLIENT_HELLO_ERROR;
	c->early_offered = SSL_client_hello_get0_ext(ssl, TLS_EXT_EARLY_DATA, &p, &len) == 1;
	/* ServerNameList: u16 length, name_type(1) = host_name(0), u16 length,
	 * name (RFC 6066 3); the first entry is the one. */
	if (SSL_client_hello_get0_ext(ssl, TLS_EXT_SERVER_NAME, &p, &len) == 1 && len >= 5 && p[2] == 0) {
		size_t n = (size_t)p[3] << 8 | p[4];
		if (n < sizeof(name) && 5 + n <= len) {
			memcpy(name, p + 5, n);
			name[n] = 0;
			has_name = true;
		}
	}
	if (c->srv->p.debug_log)
		fprintf(stderr, "quic[%u]: client hello, SNI %s\n", c->srv->p.worker_id, has_name ? name : "(none)");
	if (has_name)
		c->vhost = tls_vset_find(c->vset, name, &c->local);
	else if (!c->anti_port_scan)
		/* No SNI (e.g. a client that dialled an IP address): the first
		 * vhost of this listener serves it, unless names are mandatory. */
		c->vhost = tls_vset_find(c->vset, NULL, &c->local);
	if (!c->vhost) {
		c->sni_refused = true;
		*al = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (c->vhost->pq == TLS_PQ_REQUIRE && !tls_ossl_hello_has_pq(ssl)) {
		c->srv->ctr.tls_pq_refused++;
		tls_log_refusal("QUIC", &c->peer, "pq = require and the client offers no hybrid group");
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (c->vhost->cred != SSL_get_SSL_CTX(ssl) && !SSL_set_SSL_CTX(ssl, c->vhost->cred)) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (SSL_set1_groups_list(ssl, c->vhost->kx) != 1) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* client certificates (issue 9 §3): asked for and verified against
	 * the CAs of the vhost's context (just set); require is judged at
	 * the end of the handshake (quic_tls_handshake_done), where a
	 * missing certificate and a resumed session are counted in one
	 * place, as on the gnutls backend */
	tls_ossl_ask_cert(ssl, c->vhost->client_auth, false, verify_cb);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* ALPN: the first of the server's list the client also offers (RFC 7301
 * 3.2); none: no_application_protocol (RFC 9001 8.1). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg)
{
	struct quic_conn *c = conn_of(ssl);

	(void)arg;
	if (!c)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	const struct quic_server *srv = c->srv;
	for (unsigned i = 0; i < srv->n_alpn; i++)
		for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
			if (j + 1u + in[j] > inlen)
				break;
			if (in[j] == srv->alpn[i].size && !memcmp(in + j + 1, srv->alpn[i].data, in[j])) {
				c->app = quic_alpn_served((const char *)in + j + 1, in[j]);
				if (c->app == QUIC_APP_NONE)
					return SSL_TLSEXT_ERR_ALERT_FATAL;
				*out = in + j + 1;
				*outlen = in[j];
				return SSL_TLSEXT_ERR_OK;
			}
		}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Early data is accepted once per ClientHello random in the window. */
static int early_cb(SSL *ssl, void *arg)
{
	uint8_t rnd[32];

	(void)arg;
	if (SSL_get_client_random(ssl, rnd, sizeof(rnd)) != sizeof(rnd))
		return 0;
	return tls_replay_record(rnd, sizeof(rnd), 0) == 0;
}

/* ---- credentials ---- */

int tls_backend_cred_load(const struct tls_vhost_params *vp, void **out)
{
	if (access(vp->cert_file, R_OK) || access(vp->key_file, R_OK) ||
	    (vp->client_ca && access(vp->client_ca, R_OK)))
		return -ENOENT;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return -ENOMEM;
	static const unsigned char sid_ctx[] = "ringgate";
	int ok = SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 &&
	         SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1 &&
	         SSL_CTX_set_ciphersuites(ctx, CIPHERSUITES) == 1 &&
	         SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) == 1 &&
	         SSL_CTX_use_certificate_chain_file(ctx, vp->cert_file) == 1 &&
	         SSL_CTX_use_PrivateKey_file(ctx, vp->key_file, SSL_FILETYPE_PEM) == 1 &&
	         SSL_CTX_check_private_key(ctx) == 1 && SSL_CTX_set_num_tickets(ctx, 1) == 1;
	/* a vhost asking for client certificates has a session id context
	 * of its own: a ticket issued elsewhere (without a certificate, or
	 * one another vhost's CAs verified) gets a full handshake there */
	if (ok && vp->client_auth != TLS_CLIENT_AUTH_OFF)
		ok = tls_ossl_vhost_sid_ctx(ctx, vp->name) == 0;
	/* client certificates' CAs (issue 9 §3): the verify store and the
	 * names a CertificateRequest lists */
	STACK_OF(X509_NAME) *cas = NULL;
	if (ok && vp->client_ca) {
		ok = SSL_CTX_load_verify_file(ctx, vp->client_ca) == 1 &&
		     (cas = SSL_load_client_CA_file(vp->client_ca)) != NULL;
		if (ok)
			SSL_CTX_set_client_CA_list(ctx, cas);
	}
	if (!ok) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	SSL_CTX_set_options(ctx, (SSL_OP_ALL & ~SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS) | SSL_OP_NO_ANTI_REPLAY |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	SSL_CTX_set_allow_early_data_cb(ctx, early_cb, NULL);
	*out = ctx;
	return 0;
}

void tls_backend_cred_free(void *cred)
{
	SSL_CTX_free(cred);
}

int tls_backend_leaf_der(const void *cred, uint8_t **der, size_t *len)
{
	X509 *x = SSL_CTX_get0_certificate(cred);
	unsigned char *buf = NULL;
	int n = x ? i2d_X509(x, &buf) : -1;
	if (n <= 0)
		return -ENOENT;
	*der = malloc((size_t)n);
	if (*der) {
		memcpy(*der, buf, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(buf);
	return *der ? 0 : -ENOMEM;
}

struct kx_buf {
	char s[TLS_GROUPS_MAX_LEN];
	enum tls_pq pq;
};

static int kx_add(void *ctx, const struct tls_group *g)
{
	struct kx_buf *b = ctx;
	if (!tls_group_used(g, b->pq))
		return 0;
	size_t n = strlen(b->s);
	snprintf(b->s + n, sizeof(b->s) - n, "%s%s", n ? ":" : "", g->name);
	return 0;
}

/* OpenSSL's groups list: the names joined with ':', filtered by pq. */
int tls_backend_kx_load(struct tls_vhost *v)
{
	struct kx_buf b = {.pq = v->pq};
	if (tls_groups_each(v->groups, kx_add, &b) < 0 || !b.s[0])
		return -EINVAL;
	v->kx = strdup(b.s);
	return v->kx ? 0 : -ENOMEM;
}

void tls_backend_kx_free(void *kx)
{
	free(kx);
}

/* OpenSSL keeps no anti-replay object of ours: the record is the table. */
static char replay_token;

void *tls_backend_replay_new(void)
{
	return &replay_token;
}

void tls_backend_replay_free(void *r)
{
	(void)r;
}

/* ---- the QUIC hooks ---- */

static const char ticket_key_label[] = "ringgate quic session ticket key v1";

int quic_tls_init(struct quic_server *srv)
{
	if (ngtcp2_crypto_ossl_init() != 0)
		return -EIO;
	if (srv->p.ticket_key) {
		memcpy(srv->ticket_key, srv->p.ticket_key, sizeof(srv->ticket_key));
	} else {
		/* as on gnutls: HMAC-SHA512(static secret, label) */
		size_t outlen = 0;
		if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA512", NULL, srv->static_secret,
		               sizeof(srv->static_secret), (const unsigned char *)ticket_key_label, sizeof(ticket_key_label) - 1,
		               srv->ticket_key, sizeof(srv->ticket_key), &outlen) ||
		    outlen != sizeof(srv->ticket_key))
			return -EIO;
	}
	srv->p.ticket_key = NULL; /* the copy in srv is used */
	if (srv->p.vset) {
		/* loaded once by the generation's builder: no file read here */
		srv->vset = tls_vset_get(srv->p.vset);
		srv->p.vset = NULL;
		return 0;
	}
	return tls_vset_load(srv->p.vhosts, srv->p.n_vhosts, &srv->vset);
}

void quic_tls_free(struct quic_server *srv)
{
	tls_vset_put(srv->vset);
	srv->vset = NULL;
	if (srv->anti_replay)
		tls_replay_release();
	srv->anti_replay = NULL;
	OPENSSL_cleanse(srv->ticket_key, sizeof(srv->ticket_key));
}

/* Issue 9 §3: the verified client certificate's subject (RFC 4514) and
 * SHA-256 into the connection, as the gnutls backend keeps them. 0,
 * -ENOENT (none), -EACCES (a resumed session's certificate no longer
 * verifies against this vhost's CAs), -ENOMEM. */
static int keep_peer_cert(struct quic_conn *c, SSL *ssl)
{
	char subject[1024];
	uint8_t sha[32];

	if (!SSL_get0_peer_certificate(ssl))
		return -ENOENT;
	/* a resumed session skipped the Certificate message: what its ticket
	 * carries must verify against THIS vhost's CAs now */
	if (SSL_session_reused(ssl) && tls_ossl_reverify(ssl) < 0)
		return -EACCES;
	int rv = tls_ossl_peer_cert(ssl, subject, sizeof(subject), sha);
	if (rv < 0)
		return rv == -ENOENT ? -EACCES : rv;
	free(c->cert_subject);
	c->cert_subject = strdup(subject);
	if (!c->cert_subject)
		return -ENOMEM;
	sodium_bin2hex(c->cert_sha256, sizeof(c->cert_sha256), sha, sizeof(sha));
	c->peer_cert_ok = true;
	return 0;
}

int quic_tls_handshake_done(struct quic_conn *c)
{
	struct quic_counters *ctr = &c->srv->ctr;
	SSL *ssl = ngtcp2_crypto_ossl_ctx_get_ssl(c->tls);

	if (c->vhost && c->vhost->client_auth != TLS_CLIENT_AUTH_OFF) {
		int rv = keep_peer_cert(c, ssl);
		if (rv == -ENOMEM)
			return rv;
		if (rv == -EACCES || (rv == -ENOENT && c->vhost->client_auth == TLS_CLIENT_AUTH_REQUIRE)) {
			ctr->client_cert_refused++;
			return -EACCES;
		}
	}
	quic_count_group(c->srv, SSL_get0_group_name(ssl));
	if (SSL_session_reused(ssl))
		ctr->handshakes_resumed++;
	if (SSL_get_early_data_status(ssl) == SSL_EARLY_DATA_ACCEPTED)
		ctr->zero_rtt_accepted++;
	else if (c->early_offered)
		ctr->zero_rtt_rejected++;
	/* the ticket goes out by itself (SSL_CTX_set_num_tickets 1, RFC 9001
	 * 4.5: in 1-RTT CRYPTO frames); ticket_cb counts it */
	return 0;
}

int quic_tls_session_new(struct quic_server *srv, struct quic_conn *c)
{
	ngtcp2_crypto_ossl_ctx *octx = NULL;
	SSL *ssl = SSL_new(srv->vset->v[0].cred);

	if (!ssl)
		return -ENOMEM;
	if (ngtcp2_crypto_ossl_ctx_new(&octx, ssl) != 0) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	SSL_set_app_data(ssl, &c->conn_ref);
	SSL_set_accept_state(ssl);
	bool early = srv->p.zero_rtt && srv->anti_replay;
	if (ngtcp2_crypto_ossl_configure_server_session(ssl) != 0 ||
	    SSL_set1_groups_list(ssl, srv->vset->v[0].kx) != 1 ||
	    (early && SSL_set_quic_tls_early_data_enabled(ssl, 1) != 1)) {
		SSL_set_app_data(ssl, NULL);
		SSL_free(ssl);
		ngtcp2_crypto_ossl_ctx_del(octx);
		ERR_clear_error();
		return -EINVAL;
	}
	c->tls = octx;
	c->vset = tls_vset_get(srv->vset);
	return 0;
}

/* Kept: OpenSSL writes the session ticket from inside a later
 * SSL_do_handshake (ngtcp2_crypto_ossl drives it on received CRYPTO data),
 * so the SSL object is not known to be idle at handshake completion. */
void quic_tls_release(struct quic_conn *c)
{
	(void)c;
}

void quic_tls_session_free(struct quic_conn *c)
{
	if (!c->tls)
		return;
	SSL *ssl = ngtcp2_crypto_ossl_ctx_get_ssl(c->tls);
	if (ssl) {
		SSL_set_app_data(ssl, NULL);
		SSL_free(ssl);
	}
	ngtcp2_crypto_ossl_ctx_del(c->tls);
	c->tls = NULL;
}
