/* gnutls: the gnutls backend of the TLS seam (tls/tls.h): credentials per
 * vhost and the TLS 1.3 session of each QUIC connection, with the
 * certificate picked by SNI (RFC 6066 section 3). gnutls 3.7/3.8 has no
 * ML-KEM hybrid group: tls_pq_available() is false and [tls] groups may
 * name classical groups only (tls/groups.c refuses the rest).
 *
 * gnutls calls the post-client-hello function after the ClientHello's
 * extensions are parsed and before the cipher suite and certificate are
 * chosen, so setting the credentials there selects the vhost's chain. An
 * unknown name is refused there; conn.c decides whether the refusal is
 * answered (alert unrecognized_name) or silent (anti_port_scan).
 *
 * Resumption (RFC 8446 4.6.1, RFC 9001 4.5): one session ticket per
 * handshake, sent when it completes. gnutls encrypts tickets under keys it
 * derives from the server's master key per period of
 * QUIC_TICKET_LIFETIME_S wall-clock seconds and accepts the current and
 * the previous period's: every worker holds the same master key (derived
 * from the process's static secret), so a ticket from one worker resumes
 * on any other, and keys rotate without coordination.
 *
 * 0-RTT (RFC 9001 4.6): with zero_rtt on, tickets allow early data
 * (max_early_data_size 0xffffffff, RFC 9001 4.6.1) and gnutls accepts it
 * when the ticket's age fits the anti-replay window and the ClientHello is
 * new to the process (tls/replay.c). The limits a client remembers for 0-RTT
 * (RFC 9000 7.4.1: flow control, stream counts, active_connection_id_limit)
 * are compile-time constants, and the ticket key lives as long as the
 * process: a ticket never meets a server whose limits are lower than the
 * ones it was issued under. max_idle_timeout, which a reload may change,
 * is not among the remembered parameters. A reload that turns zero_rtt off
 * only stops accepting early data in new handshakes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sodium.h>

#include "datapath/quic/internal.h"
#include "tls/backend.h"

/* TLS 1.3 only (RFC 9001 4.2), the AEADs QUIC defines, no middlebox
 * compatibility mode (RFC 9001 8.4); the groups follow, from the vhost's
 * [tls] groups (tls_backend_kx_load). */
static const char quic_tls_priority[] =
	"%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL";

const char *tls_backend(void)
{
	static char name[48];
	if (!name[0])
		snprintf(name, sizeof(name), "gnutls %s", gnutls_check_version(NULL));
	return name;
}

int tls_random(void *buf, size_t n)
{
	return gnutls_rnd(GNUTLS_RND_RANDOM, buf, n) < 0 ? -EIO : 0;
}

bool tls_pq_available(void)
{
	return false;
}

static int gnutls_errno(int rv)
{
	switch (rv) {
	case GNUTLS_E_FILE_ERROR:
		return -ENOENT;
	case GNUTLS_E_MEMORY_ERROR:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

int tls_backend_cred_load(const struct tls_vhost_params *vp, void **out)
{
	gnutls_certificate_credentials_t cred;
	int rv = gnutls_certificate_allocate_credentials(&cred);
	if (rv < 0)
		return gnutls_errno(rv);
	rv = gnutls_certificate_set_x509_key_file(cred, vp->cert_file, vp->key_file,
	                                          GNUTLS_X509_FMT_PEM);
	if (rv < 0) {
		gnutls_certificate_free_credentials(cred);
		return gnutls_errno(rv);
	}
	/* client certificates' CAs (issue 9 §3): the count of CAs read, none
	 * is a configuration error */
	if (vp->client_ca) {
		rv = gnutls_certificate_set_x509_trust_file(cred, vp->client_ca, GNUTLS_X509_FMT_PEM);
		if (rv <= 0) {
			gnutls_certificate_free_credentials(cred);
			return rv == 0 ? -EINVAL : gnutls_errno(rv);
		}
	}
	*out = cred;
	return 0;
}

void tls_backend_cred_free(void *cred)
{
	gnutls_certificate_free_credentials(cred);
}

int tls_backend_leaf_der(const void *cred, uint8_t **der, size_t *len)
{
	gnutls_datum_t got = {0};
	/* got points into the credentials: copied, not freed */
	if (gnutls_certificate_get_crt_raw((gnutls_certificate_credentials_t)cred, 0, 0, &got) < 0)
		return -ENOENT;
	*der = malloc(got.size);
	if (!*der)
		return -ENOMEM;
	memcpy(*der, got.data, got.size);
	*len = got.size;
	return 0;
}

/* gnutls' priority names of the groups tls/groups.c knows (classical:
 * the PQ ones never get here, tls_groups_check refused them). One for
 * QUIC's priorities here and TCP's (tcp_gnutls.c). */
int tls_gnutls_prio_group(void *ctx, const struct tls_group *g)
{
	static const struct {
		unsigned id;
		const char *prio;
	} map[] = {{29, "X25519"}, {30, "X448"}, {23, "SECP256R1"}, {24, "SECP384R1"}, {25, "SECP521R1"}};
	char *buf = ctx;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].id == g->id) {
			size_t n = strlen(buf);
			snprintf(buf + n, TLS_GNUTLS_PRIO_CAP - n, ":+GROUP-%s", map[i].prio);
			return 0;
		}
	return -EINVAL;
}

/* A vhost's priority: the fixed part, then its groups in its order (the
 * server's preference, gnutls' %SERVER_PRECEDENCE is not set: the client's
 * key share is used when it names any of them, saving a round trip). */
int tls_backend_kx_load(struct tls_vhost *v)
{
	char prio[TLS_GNUTLS_PRIO_CAP];
	gnutls_priority_t p;

	snprintf(prio, sizeof(prio), "%s", quic_tls_priority);
	if (tls_groups_each(v->groups, tls_gnutls_prio_group, prio) < 0)
		return -EINVAL;
	if (gnutls_priority_init(&p, prio, NULL) < 0)
		return -EINVAL;
	v->kx = p;
	return 0;
}

void tls_backend_kx_free(void *kx)
{
	if (kx)
		gnutls_priority_deinit(kx);
}

_Static_assert(sizeof(struct quic_alpn_id) == sizeof(gnutls_datum_t) &&
                       offsetof(struct quic_alpn_id, size) == offsetof(gnutls_datum_t, size),
               "quic_alpn_id is a gnutls_datum_t");

static const char ticket_key_label[] = "ringgate quic session ticket key v1";

int quic_tls_init(struct quic_server *srv)
{
	int rv;

	if (srv->p.ticket_key) {
		memcpy(srv->ticket_key, srv->p.ticket_key, sizeof(srv->ticket_key));
	} else {
		/* HMAC-SHA512 as a KDF (one HKDF-Expand block): the static
		 * secret is uniformly random, the label separates this key
		 * from ngtcp2's token and reset-token keys. */
		_Static_assert(QUIC_TICKET_KEY_LEN == 64, "SHA-512 output is the ticket key");
		rv = gnutls_hmac_fast(GNUTLS_MAC_SHA512, srv->static_secret,
		                      sizeof(srv->static_secret), ticket_key_label,
		                      sizeof(ticket_key_label) - 1, srv->ticket_key);
		if (rv < 0)
			return -EIO;
	}
	srv->p.ticket_key = NULL; /* the copy in srv is used */
	/* the anti-replay window was taken with the settings (server.c) */
	if (srv->p.vset) {
		/* loaded once by the generation's builder: no file read here */
		srv->vset = quic_vset_get(srv->p.vset);
		srv->p.vset = NULL; /* srv->vset is the one in use */
		return 0;
	}
	return quic_vset_load(srv->p.vhosts, srv->p.n_vhosts, &srv->vset);
}

void quic_tls_free(struct quic_server *srv)
{
	quic_vset_put(srv->vset);
	srv->vset = NULL;
	if (srv->anti_replay)
		quic_replay_release();
	srv->anti_replay = NULL;
	gnutls_memset(srv->ticket_key, 0, sizeof(srv->ticket_key));
}

static int post_client_hello(gnutls_session_t session)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
	struct quic_conn *c = container_of(ref, struct quic_conn, conn_ref);
	struct quic_server *srv = c->srv;
	char name[256];
	size_t len = sizeof(name) - 1;
	unsigned type;
	gnutls_datum_t alpn;
	int rv;

	rv = gnutls_server_name_get(session, name, &len, &type, 0);
	if (srv->p.debug_log)
		fprintf(stderr, "quic[%u]: client hello, SNI %s\n", srv->p.worker_id,
		        rv == 0 ? name : "(none)");
	if (rv == 0 && type == GNUTLS_NAME_DNS) {
		name[len] = 0;
		c->vhost = tls_vset_find(c->vset, name, &c->local);
	} else if (!c->anti_port_scan) {
		/* No SNI (e.g. a client that dialled an IP address): the first
		 * vhost of this listener serves it, unless names are mandatory. */
		c->vhost = tls_vset_find(c->vset, NULL, &c->local);
	}
	if (!c->vhost) {
		c->sni_refused = true;
		return GNUTLS_E_UNRECOGNIZED_NAME;
	}
	rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, c->vhost->cred);
	if (rv < 0)
		return rv;
	/* client certificates (issue 9 §3): asked for, verified on receipt
	 * (verify_cb) against the CAs in the vhost's credentials. require is
	 * enforced at the end of the handshake (quic_tls_handshake_done),
	 * where a missing certificate and a resumed session are judged and
	 * counted in one place. */
	if (c->vhost->client_auth != TLS_CLIENT_AUTH_OFF)
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
	/* GNUTLS_ALPN_MANDATORY already fails a handshake without a common
	 * protocol (RFC 9001 8.1); gnutls picked the first of our list the
	 * client offers (GNUTLS_ALPN_SERVER_PRECEDENCE, RFC 7301 3.2). The
	 * connection speaks what was negotiated. */
	if (gnutls_alpn_get_selected_protocol(session, &alpn) != 0)
		return GNUTLS_E_NO_APPLICATION_PROTOCOL;
	c->app = quic_alpn_served((const char *)alpn.data, alpn.size);
	if (c->app == QUIC_APP_NONE)
		return GNUTLS_E_NO_APPLICATION_PROTOCOL;
	return 0;
}

/* RFC 8446 4.2: extension_type early_data(42); RFC 6066 3: server_name(0) */
#define TLS_EXT_EARLY_DATA 42
#define TLS_EXT_SERVER_NAME 0

struct hello_scan {
	bool early;
	char name[256]; /* "" : no host_name */
};

static int scan_ext(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	struct hello_scan *h = ctx;

	if (tls_id == TLS_EXT_EARLY_DATA)
		h->early = true;
	/* ServerNameList: u16 length, then name_type(1) u16 length name; the
	 * first host_name(0) entry is the one (RFC 6066 3). */
	if (tls_id == TLS_EXT_SERVER_NAME && size >= 5 && data[2] == 0) {
		unsigned n = (unsigned)data[3] << 8 | data[4];
		if (n < sizeof(h->name) && 5 + n <= size) {
			memcpy(h->name, data + 5, n);
			h->name[n] = 0;
		}
	}
	return 0;
}

/* Before gnutls reads the ClientHello: note whether it offers early data,
 * to count 0-RTT refused (gnutls says only when it accepts), and set the
 * priority of the vhost the SNI names, so its groups decide the key share
 * (post_client_hello is too late: the key share is parsed by then). The
 * vhost itself is chosen by post_client_hello, from gnutls' parse. */
static int client_hello_hook(gnutls_session_t session, unsigned htype, unsigned when,
                             unsigned incoming, const gnutls_datum_t *msg)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
	struct quic_conn *c = container_of(ref, struct quic_conn, conn_ref);
	struct hello_scan h = {0};

	if (htype != GNUTLS_HANDSHAKE_CLIENT_HELLO || when != GNUTLS_HOOK_PRE || !incoming)
		return 0;
	gnutls_ext_raw_parse(&h, scan_ext, msg, GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
	c->early_offered = h.early;
	const struct tls_vhost *v = tls_vset_find(c->vset, h.name[0] ? h.name : NULL, &c->local);
	if (v && v->kx != c->vset->v[0].kx && gnutls_priority_set(session, v->kx) < 0)
		return GNUTLS_E_INTERNAL_ERROR;
	return 0;
}

/* Issue 9 §3: does the client's certificate, if it sent one, verify
 * against the vhost's client_ca? One that does not is refused (alert
 * bad_certificate) and counted; none is judged by the caller. */
static int peer_verify(struct quic_conn *c, gnutls_session_t s)
{
	unsigned n = 0, status = 0;
	if (!gnutls_certificate_get_peers(s, &n) || !n)
		return 0;
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status) {
		c->srv->ctr.client_cert_refused++;
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	c->peer_cert_ok = true;
	return 0;
}

static int verify_cb(gnutls_session_t session)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
	struct quic_conn *c = container_of(ref, struct quic_conn, conn_ref);
	if (!c->vhost || c->vhost->client_auth == TLS_CLIENT_AUTH_OFF)
		return 0; /* not asked for */
	return peer_verify(c, session);
}

/* The verified certificate's subject (RFC 4514) and SHA-256 into the
 * connection: the session is released after the handshake (issue 17). */
static int keep_peer_cert(struct quic_conn *c)
{
	unsigned n = 0;
	const gnutls_datum_t *d = gnutls_certificate_get_peers(c->tls, &n);
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {0};
	uint8_t sha[32];
	if (!d || !n)
		return -ENOENT;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, d[0].data, d[0].size, sha) < 0 || gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	int rv = gnutls_x509_crt_import(crt, &d[0], GNUTLS_X509_FMT_DER) < 0 || gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0
	                 ? -EINVAL
	                 : 0;
	gnutls_x509_crt_deinit(crt);
	if (!rv) {
		free(c->cert_subject);
		c->cert_subject = strndup((const char *)dn.data, dn.size);
		rv = c->cert_subject ? 0 : -ENOMEM;
	}
	gnutls_free(dn.data);
	sodium_bin2hex(c->cert_sha256, sizeof(c->cert_sha256), sha, sizeof(sha));
	return rv;
}

/* The group of the finished handshake (ringgate_tls_handshakes_total). */
static void srv_count_group(struct quic_conn *c)
{
	quic_count_group(c->srv, gnutls_group_get_name(gnutls_group_get(c->tls)));
}

int quic_tls_handshake_done(struct quic_conn *c)
{
	struct quic_counters *ctr = &c->srv->ctr;

	if (c->vhost && c->vhost->client_auth != TLS_CLIENT_AUTH_OFF) {
		/* a resumed session skipped the Certificate message: what its
		 * ticket carries must verify against THIS vhost's CAs (a ticket
		 * of a vhost without client_auth must not open one with it) */
		if (!c->peer_cert_ok && peer_verify(c, c->tls) < 0)
			return -EACCES;
		if (!c->peer_cert_ok && c->vhost->client_auth == TLS_CLIENT_AUTH_REQUIRE) {
			ctr->client_cert_refused++;
			return -EACCES;
		}
		if (c->peer_cert_ok && keep_peer_cert(c) < 0)
			return -ENOMEM;
	}
	srv_count_group(c);
	if (gnutls_session_is_resumed(c->tls))
		ctr->handshakes_resumed++;
	if (gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_EARLY_DATA)
		ctr->zero_rtt_accepted++;
	else if (c->early_offered)
		ctr->zero_rtt_rejected++;
	/* RFC 9001 4.5: tickets go in 1-RTT CRYPTO frames, after the
	 * handshake; gnutls hands the message to ngtcp2's read function. */
	if (gnutls_session_ticket_send(c->tls, 1, 0) < 0)
		return -EIO;
	ctr->tickets_issued++;
	return 0;
}

int quic_tls_session_new(struct quic_server *srv, struct quic_conn *c)
{
	gnutls_datum_t tkey = { srv->ticket_key, sizeof(srv->ticket_key) };
	unsigned flags = GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET | GNUTLS_NO_END_OF_EARLY_DATA;
	gnutls_session_t s;
	int rv;

	bool early = srv->p.zero_rtt && srv->anti_replay;
	if (early)
		flags |= GNUTLS_ENABLE_EARLY_DATA;
	rv = gnutls_init(&s, flags);
	if (rv < 0)
		return gnutls_errno(rv);
	/* the default vhost's; the hello hook switches to the SNI's */
	rv = gnutls_priority_set(s, srv->vset->v[0].kx);
	if (rv < 0)
		goto fail;
	rv = gnutls_session_ticket_enable_server(s, &tkey);
	if (rv < 0)
		goto fail;
	/* the ticket lifetime, and gnutls' key rotation period */
	gnutls_db_set_cache_expiration(s, QUIC_TICKET_LIFETIME_S);
	if (early) {
		gnutls_anti_replay_enable(s, srv->anti_replay);
		/* RFC 9001 4.6.1: the only value allowed in QUIC */
		rv = gnutls_record_set_max_early_data_size(s, 0xffffffffu);
		if (rv < 0)
			goto fail;
	}
	gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_PRE,
	                                   client_hello_hook);
	if (ngtcp2_crypto_gnutls_configure_server_session(s) != 0) {
		rv = GNUTLS_E_INTERNAL_ERROR;
		goto fail;
	}
	/* Some credentials must be present before the hello is read; the
	 * post-client-hello function replaces them with the SNI's. */
	rv = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, srv->vset->v[0].cred);
	if (rv < 0)
		goto fail;
	rv = gnutls_alpn_set_protocols(s, (const gnutls_datum_t *)srv->alpn, srv->n_alpn,
	                               GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE);
	if (rv < 0)
		goto fail;
	gnutls_handshake_set_post_client_hello_function(s, post_client_hello);
	gnutls_session_set_verify_function(s, verify_cb); /* issue 9 §3 */
	gnutls_session_set_ptr(s, &c->conn_ref);
	c->tls = s;
	c->vset = quic_vset_get(srv->vset);
	return 0;
fail:
	gnutls_deinit(s);
	return gnutls_errno(rv);
}

void quic_tls_session_free(struct quic_conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
}

void quic_tls_release(struct quic_conn *c)
{
	quic_tls_session_free(c);
}

/* The process's anti-replay object (tls/replay.c keeps the record):
 * gnutls checks the ticket age against the window itself and hands each
 * new early-data ClientHello's key to the add function. */
static int replay_add(void *ptr, time_t exp_time, const gnutls_datum_t *key,
                      const gnutls_datum_t *data)
{
	(void)ptr;
	(void)data;
	int rv = tls_replay_record(key->data, key->size, exp_time > 0 ? (uint64_t)exp_time : 0);
	return rv == -EEXIST ? GNUTLS_E_DB_ENTRY_EXISTS : rv ? GNUTLS_E_DB_ERROR : 0;
}

void *tls_backend_replay_new(void)
{
	gnutls_anti_replay_t ar;
	if (gnutls_anti_replay_init(&ar) < 0)
		return NULL;
	gnutls_anti_replay_set_window(ar, QUIC_ANTI_REPLAY_WINDOW_S * 1000);
	gnutls_anti_replay_set_add_function(ar, replay_add);
	return ar;
}

void tls_backend_replay_free(void *r)
{
	if (r)
		gnutls_anti_replay_deinit(r);
}
