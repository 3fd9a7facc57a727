/* tls: gnutls credentials per vhost and the TLS 1.3 session of each QUIC
 * connection, with the certificate picked by SNI (RFC 6066 section 3).
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
 * new to the process (replay.c). The limits a client remembers for 0-RTT
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
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "datapath/quic/internal.h"

/* TLS 1.3 only (RFC 9001 4.2), the AEADs QUIC defines, no middlebox
 * compatibility mode (RFC 9001 8.4). */
static const char quic_tls_priority[] =
	"%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1";

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

struct quic_vhost_set *quic_vset_get(struct quic_vhost_set *s)
{
	/* relaxed: taking a reference needs one already held */
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

unsigned quic_vset_count(const struct quic_vhost_set *s)
{
	return s->n;
}

const char *quic_vset_name(const struct quic_vhost_set *s, unsigned i)
{
	return i < s->n ? s->v[i].name : NULL;
}

const void *quic_vset_cred(const struct quic_vhost_set *s, unsigned i)
{
	return i < s->n ? s->v[i].cred : NULL;
}

void quic_vset_put(struct quic_vhost_set *s)
{
	/* acq_rel: every use by another thread happens before the free */
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->v[i].cred)
			gnutls_certificate_free_credentials(s->v[i].cred);
		free(s->v[i].name);
		free(s->v[i].listen);
	}
	free(s);
}

int quic_vset_load(const struct quic_vhost_params *vp, unsigned n, struct quic_vhost_set **out)
{
	if (!n)
		return -EINVAL;
	struct quic_vhost_set *s = calloc(1, sizeof(*s) + n * sizeof(s->v[0]));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	int rv = 0;
	for (unsigned i = 0; i < n; i++) {
		struct quic_vhost *v = &s->v[i];
		if (!vp[i].name || !vp[i].cert_file || !vp[i].key_file) {
			rv = -EINVAL;
			break;
		}
		v->name = strdup(vp[i].name);
		if (!v->name) {
			rv = -ENOMEM;
			break;
		}
		s->n = i + 1;
		if (vp[i].n_listen) {
			v->listen = malloc(sizeof(*v->listen) * vp[i].n_listen);
			if (!v->listen || !vp[i].listen) {
				rv = v->listen ? -EINVAL : -ENOMEM;
				break;
			}
			memcpy(v->listen, vp[i].listen, sizeof(*v->listen) * vp[i].n_listen);
			v->n_listen = vp[i].n_listen;
		}
		rv = gnutls_certificate_allocate_credentials(&v->cred);
		if (rv < 0) {
			v->cred = NULL;
			rv = gnutls_errno(rv);
			break;
		}
		rv = gnutls_certificate_set_x509_key_file(v->cred, vp[i].cert_file, vp[i].key_file,
		                                          GNUTLS_X509_FMT_PEM);
		if (rv < 0) {
			rv = gnutls_errno(rv);
			break;
		}
		rv = 0;
	}
	if (rv) {
		quic_vset_put(s);
		return rv;
	}
	*out = s;
	return 0;
}

static const char ticket_key_label[] = "ringgate quic session ticket key v1";

int quic_tls_init(struct quic_server *srv)
{
	int rv = gnutls_priority_init(&srv->prio, quic_tls_priority, NULL);
	if (rv < 0)
		return gnutls_errno(rv);
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
	if (srv->prio)
		gnutls_priority_deinit(srv->prio);
	srv->prio = NULL;
	if (srv->anti_replay)
		quic_replay_release();
	srv->anti_replay = NULL;
	gnutls_memset(srv->ticket_key, 0, sizeof(srv->ticket_key));
}

/* Is `local` (where the client sent its first Initial) one of the
 * listeners v is bound to? The sockets are IPV6_V6ONLY, so the family
 * always matches the listener's; a wildcard entry (0.0.0.0, [::]) is the
 * wildcard listener, which receives for every local address. */
static bool vhost_bound(const struct quic_vhost *v, const rg_sockaddr *local)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (!v->n_listen)
		return true;
	for (unsigned i = 0; i < v->n_listen; i++) {
		const rg_sockaddr *l = &v->listen[i];

		if (l->sa.sa_family != local->sa.sa_family)
			continue;
		if (l->sa.sa_family == AF_INET && l->in4.sin_port == local->in4.sin_port &&
		    (l->in4.sin_addr.s_addr == htonl(INADDR_ANY) ||
		     l->in4.sin_addr.s_addr == local->in4.sin_addr.s_addr))
			return true;
		if (l->sa.sa_family == AF_INET6 && l->in6.sin6_port == local->in6.sin6_port &&
		    (!memcmp(&l->in6.sin6_addr, &any6, sizeof(any6)) ||
		     !memcmp(&l->in6.sin6_addr, &local->in6.sin6_addr, sizeof(any6))))
			return true;
	}
	return false;
}

/* name NULL: the client sent no SNI; the first vhost served on this
 * listener answers. A name served only on other listeners is unknown
 * here ([vhost] listen). */
static const struct quic_vhost *vhost_find(const struct quic_vhost_set *set, const char *name,
                                           const rg_sockaddr *local)
{
	for (unsigned i = 0; i < set->n; i++)
		if ((!name || strcasecmp(set->v[i].name, name) == 0) && vhost_bound(&set->v[i], local))
			return &set->v[i];
	return NULL;
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
		c->vhost = vhost_find(c->vset, name, &c->local);
	} else if (!c->anti_port_scan) {
		/* No SNI (e.g. a client that dialled an IP address): the first
		 * vhost of this listener serves it, unless names are mandatory. */
		c->vhost = vhost_find(c->vset, NULL, &c->local);
	}
	if (!c->vhost) {
		c->sni_refused = true;
		return GNUTLS_E_UNRECOGNIZED_NAME;
	}
	rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, c->vhost->cred);
	if (rv < 0)
		return rv;
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

/* RFC 8446 4.2: extension_type early_data(42) */
#define TLS_EXT_EARLY_DATA 42

static int scan_ext(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	(void)data;
	(void)size;
	if (tls_id == TLS_EXT_EARLY_DATA)
		*(bool *)ctx = true;
	return 0;
}

/* Before gnutls reads the ClientHello: note whether it offers early data,
 * to count 0-RTT refused (gnutls says only when it accepts). */
static int client_hello_hook(gnutls_session_t session, unsigned htype, unsigned when,
                             unsigned incoming, const gnutls_datum_t *msg)
{
	ngtcp2_crypto_conn_ref *ref = gnutls_session_get_ptr(session);
	struct quic_conn *c = container_of(ref, struct quic_conn, conn_ref);

	if (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO && when == GNUTLS_HOOK_PRE && incoming)
		gnutls_ext_raw_parse(&c->early_offered, scan_ext, msg,
		                     GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
	return 0;
}

int quic_tls_handshake_done(struct quic_conn *c)
{
	struct quic_counters *ctr = &c->srv->ctr;

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
	rv = gnutls_priority_set(s, srv->prio);
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
	rv = gnutls_alpn_set_protocols(s, srv->alpn, srv->n_alpn,
	                               GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE);
	if (rv < 0)
		goto fail;
	gnutls_handshake_set_post_client_hello_function(s, post_client_hello);
	gnutls_session_set_ptr(s, &c->conn_ref);
	c->tls = s;
	c->vset = quic_vset_get(srv->vset);
	return 0;
fail:
	gnutls_deinit(s);
	return gnutls_errno(rv);
}
