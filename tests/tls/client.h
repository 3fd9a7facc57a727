/* client.h: an in-memory TLS client for test_tcp.c, made with the library
 * of the build's backend (gnutls, or OpenSSL with RG_TLS_OPENSSL), so the
 * server is checked against that library's own client. Test code only:
 * the buffers grow as needed. */
#ifndef RG_TESTS_TLS_CLIENT_H
#define RG_TESTS_TLS_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct cli_opts {
	const char *sni;  /* NULL: no server_name */
	const char *alpn; /* "h2,http/1.1"; NULL: no ALPN */
	bool tls12;       /* TLS 1.2 only */
	const uint8_t *session; /* resume this (cli_session's), or NULL */
	size_t session_len;
	const char *groups; /* OpenSSL build: the client's groups ("X25519"), NULL: default */
	bool cbc;           /* TLS 1.2 with ECDHE and CBC suites only (no AEAD) */
	const char *cert, *key; /* a client certificate to present when asked */
	bool small_records;     /* ask for 512-byte records (RFC 8449 / RFC 6066 4) */
};

struct bytes {
	uint8_t *p;
	size_t off, len, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->off + b->len + n > b->cap) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len);
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			b->cap = (b->len + n) * 2;
			b->p = realloc(b->p, b->cap);
			if (!b->p)
				abort();
		}
	}
	memcpy(b->p + b->off + b->len, p, n);
	b->len += n;
}

static inline size_t bytes_take(struct bytes *b, void *p, size_t n)
{
	if (n > b->len)
		n = b->len;
	memcpy(p, b->p + b->off, n);
	b->off += n;
	b->len -= n;
	return n;
}

#ifndef RG_TLS_OPENSSL
#include <gnutls/gnutls.h>

struct cli {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	struct bytes in, out;
	int alert;
};

static void cli_global_init(void)
{
}

static ssize_t cli_pull(gnutls_transport_ptr_t ptr, void *p, size_t n)
{
	struct cli *c = ptr;
	if (!c->in.len) {
		gnutls_transport_set_errno(c->s, EAGAIN);
		return -1;
	}
	return (ssize_t)bytes_take(&c->in, p, n);
}

static ssize_t cli_push(gnutls_transport_ptr_t ptr, const void *p, size_t n)
{
	bytes_add(&((struct cli *)ptr)->out, p, n);
	return (ssize_t)n;
}

static struct cli *cli_new(const struct cli_opts *o)
{
	struct cli *c = calloc(1, sizeof(*c));
	c->alert = -1;
	gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	gnutls_priority_set_direct(c->s,
	                           o->cbc     ? "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1:+SHA256"
	                           : o->tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
	                                      : "NORMAL",
	                           NULL);
	gnutls_certificate_allocate_credentials(&c->cred);
	if (o->cert)
		gnutls_certificate_set_x509_key_file(c->cred, o->cert, o->key, GNUTLS_X509_FMT_PEM);
	gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->cred);
	if (o->sni)
		gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, o->sni, strlen(o->sni));
	if (o->alpn) {
		gnutls_datum_t d[4];
		unsigned n = 0;
		const char *p = o->alpn;
		while (*p && n < 4) {
			size_t l = strcspn(p, ",");
			d[n++] = (gnutls_datum_t){(unsigned char *)p, (unsigned)l};
			p += l + (p[l] == ',');
		}
		gnutls_alpn_set_protocols(c->s, d, n, 0);
	}
	if (o->small_records)
		gnutls_record_set_max_size(c->s, 512);
	if (o->session) {
		gnutls_session_set_data(c->s, o->session, o->session_len);
	}
	gnutls_transport_set_ptr(c->s, c);
	gnutls_transport_set_push_function(c->s, cli_push);
	gnutls_transport_set_pull_function(c->s, cli_pull);
	return c;
}

static void cli_free(struct cli *c)
{
	gnutls_deinit(c->s);
	gnutls_certificate_free_credentials(c->cred);
	free(c->in.p);
	free(c->out.p);
	free(c);
}

static int cli_err(struct cli *c, int rv)
{
	if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED)
		return -EAGAIN;
	if (rv == GNUTLS_E_FATAL_ALERT_RECEIVED || rv == GNUTLS_E_WARNING_ALERT_RECEIVED)
		c->alert = (int)gnutls_alert_get(c->s);
	return -EPROTO;
}

static int cli_handshake(struct cli *c)
{
	int rv = gnutls_handshake(c->s);
	return rv == 0 ? 0 : cli_err(c, rv);
}

static ssize_t cli_write(struct cli *c, const void *p, size_t n)
{
	ssize_t rv = gnutls_record_send(c->s, p, n);
	return rv >= 0 ? rv : cli_err(c, (int)rv);
}

static ssize_t cli_read(struct cli *c, void *p, size_t n)
{
	ssize_t rv = gnutls_record_recv(c->s, p, n);
	return rv >= 0 ? rv : cli_err(c, (int)rv);
}

static void cli_bye(struct cli *c)
{
	gnutls_bye(c->s, GNUTLS_SHUT_WR);
}

static int cli_alert(struct cli *c)
{
	return c->alert;
}

static bool cli_alpn_is(struct cli *c, const char *want)
{
	gnutls_datum_t d;
	return gnutls_alpn_get_selected_protocol(c->s, &d) == 0 && d.size == strlen(want) &&
	       !memcmp(d.data, want, d.size);
}

static const uint8_t *cli_leaf(struct cli *c, size_t *len)
{
	unsigned n = 0;
	const gnutls_datum_t *d = gnutls_certificate_get_peers(c->s, &n);
	if (!d || !n)
		return NULL;
	*len = d[0].size;
	return d[0].data;
}

static uint8_t *cli_session(struct cli *c, size_t *len)
{
	gnutls_datum_t d = {0};
	if (gnutls_session_get_data2(c->s, &d) < 0)
		return NULL;
	uint8_t *p = malloc(d.size);
	memcpy(p, d.data, d.size);
	*len = d.size;
	gnutls_free(d.data);
	return p;
}

static bool cli_resumed(struct cli *c)
{
	return gnutls_session_is_resumed(c->s) != 0;
}

#else
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct cli {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rb, *wb;
	struct bytes in, out; /* in: unused (the rbio holds it) */
	int alert;
	uint8_t *leaf;
	size_t leaf_len;
};

static void cli_global_init(void)
{
}

static void cli_info(const SSL *ssl, int where, int ret)
{
	struct cli *c = SSL_get_app_data(ssl);
	if ((where & SSL_CB_READ_ALERT) && c)
		c->alert = ret & 0xff;
}

static struct cli *cli_new(const struct cli_opts *o)
{
	struct cli *c = calloc(1, sizeof(*c));
	c->alert = -1;
	c->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_info_callback(c->ctx, cli_info);
	c->ssl = SSL_new(c->ctx);
	SSL_set_app_data(c->ssl, c);
	c->rb = BIO_new(BIO_s_mem());
	c->wb = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(c->rb, -1);
	SSL_set_bio(c->ssl, c->rb, c->wb);
	SSL_set_connect_state(c->ssl);
	if (o->tls12 || o->cbc)
		SSL_set_max_proto_version(c->ssl, TLS1_2_VERSION);
	if (o->cbc)
		SSL_set_cipher_list(c->ssl, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256");
	if (o->groups)
		SSL_set1_groups_list(c->ssl, o->groups);
	if (o->small_records)
		SSL_set_tlsext_max_fragment_length(c->ssl, TLSEXT_max_fragment_length_512);
	if (o->cert) {
		SSL_use_certificate_file(c->ssl, o->cert, SSL_FILETYPE_PEM);
		SSL_use_PrivateKey_file(c->ssl, o->key, SSL_FILETYPE_PEM);
	}
	if (o->sni)
		SSL_set_tlsext_host_name(c->ssl, o->sni);
	if (o->alpn) {
		unsigned char wire[64];
		size_t n = 0;
		const char *p = o->alpn;
		while (*p) {
			size_t l = strcspn(p, ",");
			wire[n++] = (unsigned char)l;
			memcpy(wire + n, p, l);
			n += l;
			p += l + (p[l] == ',');
		}
		SSL_set_alpn_protos(c->ssl, wire, (unsigned)n);
	}
	if (o->session) {
		const unsigned char *p = o->session;
		SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, (long)o->session_len);
		if (sess) {
			SSL_set_session(c->ssl, sess);
			SSL_SESSION_free(sess);
		}
	}
	return c;
}

static void cli_free(struct cli *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	free(c->in.p);
	free(c->out.p);
	free(c->leaf);
	free(c);
}

static int cli_err(struct cli *c, int rv)
{
	int e = SSL_get_error(c->ssl, rv);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	return -EPROTO;
}

static int cli_handshake(struct cli *c)
{
	int rv = SSL_do_handshake(c->ssl);
	if (rv == 1)
		return 0;
	rv = cli_err(c, rv);
	return rv ? rv : -EPROTO;
}

static ssize_t cli_write(struct cli *c, const void *p, size_t n)
{
	size_t w = 0;
	if (n > 16384)
		n = 16384;
	int rv = SSL_write_ex(c->ssl, p, n, &w);
	return rv == 1 ? (ssize_t)w : cli_err(c, rv);
}

static ssize_t cli_read(struct cli *c, void *p, size_t n)
{
	size_t r = 0;
	int rv = SSL_read_ex(c->ssl, p, n, &r);
	return rv == 1 ? (ssize_t)r : cli_err(c, rv);
}

static void cli_bye(struct cli *c)
{
	SSL_shutdown(c->ssl);
}

static int cli_alert(struct cli *c)
{
	return c->alert;
}

static bool cli_alpn_is(struct cli *c, const char *want)
{
	const unsigned char *d = NULL;
	unsigned l = 0;
	SSL_get0_alpn_selected(c->ssl, &d, &l);
	return d && l == strlen(want) && !memcmp(d, want, l);
}

static const uint8_t *cli_leaf(struct cli *c, size_t *len)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	unsigned char *buf = NULL;
	int n = x ? i2d_X509(x, &buf) : -1;
	if (n <= 0)
		return NULL;
	free(c->leaf);
	c->leaf = malloc((size_t)n);
	memcpy(c->leaf, buf, (size_t)n);
	OPENSSL_free(buf);
	*len = (size_t)n;
	return c->leaf;
}

static uint8_t *cli_session(struct cli *c, size_t *len)
{
	SSL_SESSION *s = SSL_get1_session(c->ssl);
	unsigned char *buf = NULL;
	int n = s ? i2d_SSL_SESSION(s, &buf) : -1;
	SSL_SESSION_free(s);
	if (n <= 0)
		return NULL;
	uint8_t *p = malloc((size_t)n);
	memcpy(p, buf, (size_t)n);
	OPENSSL_free(buf);
	*len = (size_t)n;
	return p;
}

static bool cli_resumed(struct cli *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

static void cli_feed(struct cli *c, const void *p, size_t n)
{
	BIO_write(c->rb, p, (int)n);
}

static size_t cli_pending(struct cli *c)
{
	char tmp[16384];
	int n;
	while ((n = BIO_read(c->wb, tmp, sizeof(tmp))) > 0)
		bytes_add(&c->out, tmp, (size_t)n);
	return c->out.len;
}
#endif

#ifndef RG_TLS_OPENSSL
/* ciphertext from the server; what the client has for it */
static void cli_feed(struct cli *c, const void *p, size_t n)
{
	bytes_add(&c->in, p, n);
}

static size_t cli_pending(struct cli *c)
{
	return c->out.len;
}
#endif

static const uint8_t *cli_out(struct cli *c)
{
	return c->out.p + c->out.off;
}

static void cli_consumed(struct cli *c, size_t n)
{
	c->out.off += n;
	c->out.len -= n;
}

#endif
