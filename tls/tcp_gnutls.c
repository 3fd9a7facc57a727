/* tcp_gnutls: TLS 1.2/1.3 server sessions over a byte stream (tls/tcp.h)
 * on the gnutls backend: the HTTPS front end over TCP (issue 9).
 *
 * The session reads and writes through gnutls' push/pull functions over
 * the two fixed buffers of tcp_buf.h. Certificates are the vhosts' gnutls
 * credentials (the same objects QUIC uses, tls_vset_cred), picked by SNI
 * and listener in the post-client-hello function (RFC 6066 3), exactly as
 * tls/gnutls.c does for QUIC. The priority is TCP's own (QUIC's, in
 * struct tls_vhost.kx, is TLS 1.3 only): TLS 1.3, and TLS 1.2 with ECDHE
 * and AEAD suites only, which is what RFC 9113 9.2.2 allows for h2, with
 * the vhost's groups in its order. It is built per vhost once per server.
 *
 * Tickets (RFC 8446 4.6.1, RFC 5077 for TLS 1.2): gnutls encrypts them
 * under keys it derives per QUIC_TICKET_LIFETIME_S period from a master
 * key. TCP's master key is HMAC-SHA512(shared key, "ringgate tcp session
 * ticket key v1"), QUIC's uses another label (tls/gnutls.c): every worker
 * derives the same, so a ticket resumes on any worker, and a QUIC ticket
 * never resumes a TCP session or the reverse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "datapath/quic/quic.h" /* QUIC_TICKET_KEY_LEN, QUIC_TICKET_LIFETIME_S */
#include "tls/backend.h"
#include "tls/tcp.h"
#include "tls/tcp_common.h"

/* RFC 9113 9.2.2: h2 over TLS 1.2 needs an ephemeral key exchange and an
 * AEAD cipher; http/1.1 gets the same (nothing weaker is worth offering).
 * Renegotiation is refused (RFC 9113 9.2.1; gnutls refuses a client-started
 * one unless asked). Groups follow per vhost. */
static const char tcp_priority[] =
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL";

static const char tcp_ticket_label[] = "ringgate tcp session ticket key v1";

#define TLS_EXT_SERVER_NAME 0 /* RFC 6066 3 */
#define TLS_EXT_ALPN 16       /* RFC 7301 3.1 */

struct tls_tcp_server {
	unsigned refs; /* the owner + each session (one thread) */
	struct tls_vhost_set *vset;
	struct tls_tcp_counters *ctr;
	gnutls_datum_t alpn[2]; /* server preference: h2 first (RFC 7301 3.2) */
	unsigned n_alpn;
	uint8_t ticket_key[64];
	gnutls_priority_t *prio; /* per vhost of vset, same index */
};

struct tls_tcp {
	struct tls_tcp_common c; /* first: tcp_common.c reads it */
	struct tls_tcp_server *srv;
	gnutls_session_t s;
	bool alpn_offered; /* the ClientHello carried ALPN */
	bool cert_refused; /* the client's certificate did not verify */
	bool peer_ok;      /* it did: tls_tcp_peer_cert */
};

/* ---- the server ---- */

static void server_free(struct tls_tcp_server *s)
{
	if (s->prio)
		for (unsigned i = 0; i < s->vset->n; i++)
			if (s->prio[i])
				gnutls_priority_deinit(s->prio[i]);
	free(s->prio);
	tls_vset_put(s->vset);
	gnutls_memset(s->ticket_key, 0, sizeof(s->ticket_key));
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
	unsigned alpn = p->alpn ? p->alpn : TLS_ALPN_H2 | TLS_ALPN_HTTP11;
	if (alpn & TLS_ALPN_H2)
		s->alpn[s->n_alpn++] = (gnutls_datum_t){(unsigned char *)"h2", 2};
	if (alpn & TLS_ALPN_HTTP11)
		s->alpn[s->n_alpn++] = (gnutls_datum_t){(unsigned char *)"http/1.1", 8};
	/* HMAC-SHA512 as a KDF (one HKDF-Expand block) over a uniformly random
	 * key; the label keeps TCP's tickets apart from QUIC's. */
	_Static_assert(sizeof(s->ticket_key) == 64, "SHA-512 output is gnutls' ticket master key");
	int rv = -EIO;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA512, p->ticket_key, QUIC_TICKET_KEY_LEN, tcp_ticket_label,
	                     sizeof(tcp_ticket_label) - 1, s->ticket_key) < 0)
		goto fail;
	rv = -ENOMEM;
	s->prio = calloc(s->vset->n, sizeof(*s->prio));
	if (!s->prio)
		goto fail;
	for (unsigned i = 0; i < s->vset->n; i++) {
		char prio[TLS_GNUTLS_PRIO_CAP];
		snprintf(prio, sizeof(prio), "%s", tcp_priority);
		rv = -EINVAL;
		if (tls_groups_each(s->vset->v[i].groups, tls_gnutls_prio_group, prio) < 0 ||
		    gnutls_priority_init(&s->prio[i], prio, NULL) < 0) {
			s->prio[i] = NULL;
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	server_free(s);
	return rv;
}

void tls_tcp_server_put(struct tls_tcp_server *s)
{
	if (s && --s->refs == 0)
		server_free(s);
}

/* ---- transport over the buffers ---- */

static ssize_t pull_fn(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tls_tcp *t = ptr;
	size_t n = tcp_in_take(&t->c.b, data, len);
	if (n)
		return (ssize_t)n;
	if (t->c.input_end)
		return 0; /* EOF: gnutls tells a close_notify from a truncation */
	gnutls_transport_set_errno(t->s, EAGAIN);
	return -1;
}

static ssize_t push_fn(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tls_tcp *t = ptr;
	size_t n = tcp_out_put(&t->c.b, data, len);
	if (n)
		return (ssize_t)n;
	gnutls_transport_set_errno(t->s, EAGAIN);
	return -1;
}

/* ---- the ClientHello ---- */

static int scan_ext(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	struct tls_tcp *t = ctx;

	if (tls_id == TLS_EXT_ALPN)
		t->alpn_offered = true;
	if (tls_id == TLS_EXT_SERVER_NAME)
		tls_tcp_common_sni(&t->c, data, size);
	return 0;
}

/* Before gnutls parses the ClientHello: the SNI's vhost priority, so its
 * groups decide the key share (post_client_hello is too late for that). */
static int client_hello_hook(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
                             const gnutls_datum_t *msg)
{
	struct tls_tcp *t = gnutls_session_get_ptr(session);

	if (htype != GNUTLS_HANDSHAKE_CLIENT_HELLO || when != GNUTLS_HOOK_PRE || !incoming)
		return 0;
	t->c.sni[0] = 0;
	t->alpn_offered = false;
	gnutls_ext_raw_parse(t, scan_ext, msg, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
	const struct tls_vhost *v = tls_vset_find(t->srv->vset, t->c.sni[0] ? t->c.sni : NULL, &t->c.local);
	if (v && gnutls_priority_set(session, t->srv->prio[v - t->srv->vset->v]) < 0)
		return GNUTLS_E_INTERNAL_ERROR;
	return 0;
}

static int post_client_hello(gnutls_session_t session)
{
	struct tls_tcp *t = gnutls_session_get_ptr(session);
	struct tls_tcp_server *srv = t->srv;
	gnutls_datum_t sel;

	/* no SNI (a client that dialled an address): the listener's first vhost */
	t->c.vhost = tls_vset_find(srv->vset, t->c.sni[0] ? t->c.sni : NULL, &t->c.local);
	if (!t->c.vhost) {
		srv->ctr->unknown_sni++;
		return GNUTLS_E_UNRECOGNIZED_NAME; /* alert unrecognized_name (RFC 6066 3) */
	}
	int rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, t->c.vhost->cred);
	if (rv < 0)
		return rv;
	/* client certificates (issue 9 §3): verified on receipt (verify_cb)
	 * against the CAs in the vhost's credentials */
	if (t->c.vhost->client_auth != TLS_CLIENT_AUTH_OFF)
		gnutls_certificate_server_set_request(session, t->c.vhost->client_auth == TLS_CLIENT_AUTH_REQUIRE
		                                                       ? GNUTLS_CERT_REQUIRE
		                                                       : GNUTLS_CERT_REQUEST);
	/* gnutls chose the first of our list the client offers
	 * (GNUTLS_ALPN_SERVER_PRECEDENCE); offered but none of ours:
	 * no_application_protocol (RFC 7301 3.2); not offered: HTTP/1.1. */
	t->c.alpn = TLS_ALPN_NONE;
	if (gnutls_alpn_get_selected_protocol(session, &sel) == 0) {
		if (sel.size == 2 && !memcmp(sel.data, "h2", 2))
			t->c.alpn = TLS_ALPN_H2;
		else if (sel.size == 8 && !memcmp(sel.data, "http/1.1", 8))
			t->c.alpn = TLS_ALPN_HTTP11;
	}
	if (t->c.alpn == TLS_ALPN_NONE && t->alpn_offered) {
		srv->ctr->alpn_refused++;
		return GNUTLS_E_NO_APPLICATION_PROTOCOL;
	}
	return 0;
}

/* A client certificate: does it verify against the vhost's client_ca?
 * None sent: gnutls' GNUTLS_CERT_REQUIRE refuses that by itself. */
static int peer_verify(struct tls_tcp *t)
{
	unsigned n = 0, status = 0;
	if (!gnutls_certificate_get_peers(t->s, &n) || !n)
		return 0;
	if (gnutls_certificate_verify_peers2(t->s, &status) < 0 || status) {
		t->cert_refused = true;
		return GNUTLS_E_CERTIFICATE_ERROR; /* alert bad_certificate */
	}
	t->peer_ok = true;
	return 0;
}

static int verify_cb(gnutls_session_t session)
{
	struct tls_tcp *t = gnutls_session_get_ptr(session);
	if (!t->c.vhost || t->c.vhost->client_auth == TLS_CLIENT_AUTH_OFF)
		return 0; /* not asked for */
	return peer_verify(t);
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
	int rv = gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
	if (rv < 0) {
		free(t);
		return -ENOMEM;
	}
	gnutls_datum_t tkey = {srv->ticket_key, sizeof(srv->ticket_key)};
	/* the default vhost's priority and credentials until the hello says */
	if (gnutls_priority_set(t->s, srv->prio[0]) < 0 ||
	    gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, srv->vset->v[0].cred) < 0 ||
	    gnutls_session_ticket_enable_server(t->s, &tkey) < 0 ||
	    gnutls_alpn_set_protocols(t->s, srv->alpn, srv->n_alpn, GNUTLS_ALPN_SERVER_PRECEDENCE) < 0) {
		gnutls_deinit(t->s);
		free(t);
		return -EINVAL;
	}
	/* the ticket lifetime, and gnutls' key rotation period */
	gnutls_db_set_cache_expiration(t->s, QUIC_TICKET_LIFETIME_S);
	gnutls_handshake_set_hook_function(t->s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE,
	                                   client_hello_hook);
	gnutls_handshake_set_post_client_hello_function(t->s, post_client_hello);
	gnutls_session_set_verify_function(t->s, verify_cb);
	gnutls_session_set_ptr(t->s, t);
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_push_function(t->s, push_fn);
	gnutls_transport_set_pull_function(t->s, pull_fn);
	srv->refs++;
	t->srv = srv;
	*out = t;
	return 0;
}

void tls_tcp_free(struct tls_tcp *t)
{
	if (!t)
		return;
	gnutls_deinit(t->s);
	tls_tcp_server_put(t->srv);
	free(t);
}

static int handshake_done(struct tls_tcp *t)
{
	struct tls_tcp_counters *ctr = t->srv->ctr;

	/* A resumed session skipped the certificate: what the ticket carries
	 * must verify against THIS vhost's CAs (a ticket from a vhost without
	 * client_auth must not open one that has it). */
	if (t->c.vhost->client_auth != TLS_CLIENT_AUTH_OFF && !t->peer_ok) {
		int rv = peer_verify(t);
		if (rv)
			return rv;
		if (!t->peer_ok && t->c.vhost->client_auth == TLS_CLIENT_AUTH_REQUIRE) {
			t->cert_refused = true;
			return GNUTLS_E_CERTIFICATE_ERROR;
		}
	}

	t->c.state = TCP_OPEN;
	t->c.resumed = gnutls_session_is_resumed(t->s) != 0;
	t->c.group = tls_group_index(gnutls_group_get_name(gnutls_group_get(t->s)));
	ctr->handshakes++;
	ctr->groups[t->c.group]++;
	if (t->c.resumed)
		ctr->handshakes_resumed++;
	if (gnutls_protocol_get_version(t->s) == GNUTLS_TLS1_2)
		ctr->handshakes_tls12++;
	return 0;
}

static int fail(struct tls_tcp *t, int err)
{
	if (t->c.state == TCP_HANDSHAKE) {
		t->srv->ctr->handshake_failures++;
		/* none when required (TLS 1.3: certificate_required), or a
		 * certificate that did not verify */
		if (t->cert_refused || (t->c.vhost && t->c.vhost->client_auth != TLS_CLIENT_AUTH_OFF &&
		                        (err == GNUTLS_E_NO_CERTIFICATE_FOUND || err == GNUTLS_E_CERTIFICATE_REQUIRED)))
			t->srv->ctr->client_cert_refused++;
	}
	t->c.state = TCP_FAILED;
	/* the alert the error calls for (gnutls sends none by itself):
	 * unrecognized_name, no_application_protocol, decode_error, ... */
	if (err != GNUTLS_E_PREMATURE_TERMINATION)
		gnutls_alert_send_appropriate(t->s, err);
	return err == GNUTLS_E_PREMATURE_TERMINATION ? -ECONNRESET : -EPROTO;
}

int tls_tcp_handshake(struct tls_tcp *t)
{
	if (t->c.state == TCP_OPEN)
		return 0;
	if (t->c.state == TCP_FAILED)
		return -EPROTO;
	for (;;) {
		int rv = gnutls_handshake(t->s);
		if (rv == 0) {
			rv = handshake_done(t);
			return rv ? fail(t, rv) : 0;
		}
		if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
			if (t->c.input_end && !t->c.b.in_len && !t->c.b.out_len) {
				t->srv->ctr->handshake_failures++;
				t->c.state = TCP_FAILED;
				return -ECONNRESET;
			}
			return -EAGAIN;
		}
		if (gnutls_error_is_fatal(rv))
			return fail(t, rv);
		/* a warning alert: go on */
	}
}

ssize_t tls_tcp_read(struct tls_tcp *t, uint8_t *buf, size_t cap)
{
	if (!cap)
		return -EINVAL;
	int rv = tls_tcp_handshake(t);
	if (rv)
		return rv;
	for (;;) {
		ssize_t n = gnutls_record_recv(t->s, buf, cap);
		if (n >= 0)
			return n; /* 0: close_notify */
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return -EAGAIN;
		if (n == GNUTLS_E_REHANDSHAKE) {
			/* RFC 9113 9.2.1: no renegotiation; refuse with a warning */
			gnutls_alert_send(t->s, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		if (!gnutls_error_is_fatal((int)n))
			continue;
		return fail(t, (int)n);
	}
}

ssize_t tls_tcp_seal(struct tls_tcp *t, const uint8_t *p, size_t len)
{
	ssize_t rv = gnutls_record_send(t->s, p, len);
	if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
		/* cannot happen with the room checked; the record is queued
		 * in gnutls: flush it later */
		gnutls_record_send(t->s, NULL, 0);
		return -EINPROGRESS;
	}
	return rv < 0 ? fail(t, (int)rv) : rv;
}

void tls_tcp_close_notify(struct tls_tcp *t)
{
	if (t->c.close_sent || t->c.state != TCP_OPEN)
		return;
	t->c.close_sent = true;
	gnutls_bye(t->s, GNUTLS_SHUT_WR); /* one alert: fits the ring's slack */
}

const char *tls_tcp_version(const struct tls_tcp *t)
{
	switch (gnutls_protocol_get_version(t->s)) {
	case GNUTLS_TLS1_3:
		return "TLSv1.3";
	case GNUTLS_TLS1_2:
		return "TLSv1.2";
	default:
		return "";
	}
}

int tls_tcp_peer_cert(const struct tls_tcp *t, char *subject, size_t cap, uint8_t sha256[32])
{
	unsigned n = 0;
	const gnutls_datum_t *d = t->peer_ok ? gnutls_certificate_get_peers(t->s, &n) : NULL;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {0};

	if (!d || !n)
		return -ENOENT;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, d[0].data, d[0].size, sha256) < 0 || gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	int rv = gnutls_x509_crt_import(crt, &d[0], GNUTLS_X509_FMT_DER) < 0 || gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0
	                 ? -EINVAL
	                 : 0;
	if (!rv && cap) {
		size_t k = dn.size < cap - 1 ? dn.size : cap - 1;
		memcpy(subject, dn.data, k);
		subject[k] = 0;
	}
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return rv;
}

/* gnutls' session state and the record buffers it keeps while a record is
 * incomplete or being decrypted: about two records. An estimate. */
#define GNUTLS_SESSION_EST (2 * TCP_IN_CAP + 4096)

size_t tls_tcp_mem(const struct tls_tcp *t)
{
	(void)t;
	return sizeof(struct tls_tcp) + GNUTLS_SESSION_EST;
}
