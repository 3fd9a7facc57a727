/* server: per-worker dispatch of QUIC datagrams. Finds the connection by
 * DCID, or decides what an unknown DCID gets: Version Negotiation (RFC 9000
 * 6), a new connection (with or without Retry, RFC 9000 8.1.2), a stateless
 * reset (RFC 9000 10.3), a hand-off to the owning worker, or a counted drop.
 * Also the worker-level deadline: the minimum of the connections' heap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "datapath/quic/internal.h"

/* RFC 9000 14.1: a client's first datagram is at least 1200 bytes; only
 * such datagrams earn a Version Negotiation answer (RFC 9000 5.2.2). */
#define QUIC_MIN_INITIAL_DGRAM 1200
/* RFC 9000 10.3: a stateless reset looks like a short-header packet of at
 * least 21 bytes, and must be smaller than what triggered it (10.3.3). */
#define QUIC_MIN_STATELESS_RESET 21
#define QUIC_MAX_STATELESS_RESET 43

static const char *const quic_drop_names[QUIC_DROP_MAX] = {
	[QUIC_DROP_BAD_PACKET] = "bad_packet",
	[QUIC_DROP_UNKNOWN_VERSION] = "unknown_version",
	[QUIC_DROP_NO_CONN] = "no_conn",
	[QUIC_DROP_NOT_INITIAL] = "not_initial",
	[QUIC_DROP_BACKLOG] = "backlog",
	[QUIC_DROP_CONN_LIMIT] = "conn_limit",
	[QUIC_DROP_RETRY_SENT] = "retry_sent",
	[QUIC_DROP_BAD_TOKEN] = "bad_token",
	[QUIC_DROP_ANTI_PORT_SCAN] = "anti_port_scan",
	[QUIC_DROP_OTHER_WORKER] = "other_worker",
	[QUIC_DROP_CONN_READ] = "conn_read",
	[QUIC_DROP_CLOSING] = "closing",
	[QUIC_DROP_TX_FULL] = "tx_full",
	[QUIC_DROP_RESET_LIMITED] = "reset_limited",
	[QUIC_DROP_NOMEM] = "nomem",
	[QUIC_DROP_DRAINING] = "draining",
};

const char *quic_drop_name(enum quic_drop d)
{
	return (unsigned)d < QUIC_DROP_MAX ? quic_drop_names[d] : "?";
}

enum quic_app quic_alpn_served(const char *id, size_t len)
{
	/* The one table of what ringgate speaks over QUIC: h3.c serves it
	 * (hq-interop, HTTP/0.9 over QUIC, is not implemented) */
	static const struct {
		const char *id;
		enum quic_app app;
	} served[] = {
		{"h3", QUIC_APP_H3},
	};
	for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
		if (len == strlen(served[i].id) && memcmp(id, served[i].id, len) == 0)
			return served[i].app;
	return QUIC_APP_NONE;
}

/* The defaults of quic_params.rng and .wall, for callers other than the
 * worker (tests, tools), which hands in its own: the TLS backend's
 * generator and the system clock. */
static int rng_default(void *ctx, void *buf, size_t n)
{
	(void)ctx;
	return tls_random(buf, n);
}

static uint64_t wall_time(void *ctx)
{
	(void)ctx;
	return (uint64_t)time(NULL);
}

/* The reloadable settings, checked before anything changes. */
static int params_check(const struct quic_params *p)
{
	if (p->n_alpn > QUIC_ALPN_MAX || (p->n_alpn && !p->alpn))
		return -EINVAL;
	for (unsigned i = 0; i < p->n_alpn; i++) {
		size_t len = p->alpn[i] ? strlen(p->alpn[i]) : 0;
		if (!len || len > QUIC_ALPN_MAX_LEN || quic_alpn_served(p->alpn[i], len) == QUIC_APP_NONE)
			return -EINVAL;
	}
	if (p->n_versions > QUIC_MAX_VERSIONS)
		return -EINVAL;
	for (unsigned i = 0; i < p->n_versions; i++) {
		if (p->versions[i] != QUIC_VERSION_V1 && p->versions[i] != QUIC_VERSION_V2)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (p->versions[j] == p->versions[i])
				return -EINVAL;
	}
	/* RFC 9114 6.2: the client opens 3 unidirectional streams */
	if (p->max_streams_uni && p->max_streams_uni < 3)
		return -EINVAL;
	if (p->initial_max_stream_data > QUIC_STREAM_WINDOW_MAX)
		return -EINVAL;
	if (p->preferred_addr.sa.sa_family != 0 && p->preferred_addr.sa.sa_family != AF_INET &&
	    p->preferred_addr.sa.sa_family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* Take the reloadable settings of p (checked) for connections accepted
 * from now on; defaults for the zeros. */
static int params_apply(struct quic_server *srv, const struct quic_params *p)
{
	char *qlog = NULL;

	if (p->qlog_dir && p->qlog_dir[0]) {
		qlog = strdup(p->qlog_dir);
		if (!qlog)
			return -ENOMEM;
	}
	/* The anti-replay window is taken the first time 0-RTT is on and
	 * kept until the server goes: sessions in their handshake may point
	 * to it, and turning zero_rtt off only stops offering early data. */
	if (p->zero_rtt && !srv->anti_replay) {
		int rc = quic_replay_acquire(&srv->p.wall, &srv->anti_replay);
		if (rc < 0) {
			free(qlog);
			return rc;
		}
	}
	free(srv->qlog_dir);
	srv->qlog_dir = qlog;
	srv->n_alpn = 0;
	for (unsigned i = 0; i < p->n_alpn; i++) {
		snprintf(srv->alpn_ids[i], sizeof(srv->alpn_ids[i]), "%s", p->alpn[i]);
		srv->alpn[i].data = (unsigned char *)srv->alpn_ids[i];
		srv->alpn[i].size = (unsigned)strlen(srv->alpn_ids[i]);
		srv->n_alpn++;
	}
	if (!srv->n_alpn) {
		snprintf(srv->alpn_ids[0], sizeof(srv->alpn_ids[0]), "h3");
		srv->alpn[0].data = (unsigned char *)srv->alpn_ids[0];
		srv->alpn[0].size = 2;
		srv->n_alpn = 1;
	}
	srv->p.alpn = NULL; /* the copy in srv is used */
	srv->p.n_alpn = 0;
	srv->p.idle_timeout_ns = p->idle_timeout_ns ? p->idle_timeout_ns : 30 * NGTCP2_SECONDS;
	srv->p.backlog = p->backlog ? p->backlog : 1024;
	/* Only a limit: the connection list, the heap and the CID table grow
	 * as needed, so a reload takes a new value for new connections (a
	 * lower one closes nothing; Initials wait until the count falls). */
	srv->p.max_conns = p->max_conns ? p->max_conns : QUIC_MAX_CONNS_DEFAULT;
	srv->p.retry = p->retry;
	srv->p.anti_port_scan = p->anti_port_scan;
	srv->p.zero_rtt = p->zero_rtt;
	srv->p.qlog_dir = NULL; /* the copy in srv is used */
	if (p->n_versions) {
		memcpy(srv->p.versions, p->versions, sizeof(srv->p.versions));
		srv->p.n_versions = p->n_versions;
	} else {
		/* v2 first: a client that offers both gets v2 (RFC 9368 4) */
		srv->p.versions[0] = QUIC_VERSION_V2;
		srv->p.versions[1] = QUIC_VERSION_V1;
		srv->p.n_versions = 2;
	}
	srv->p.max_streams_bidi = p->max_streams_bidi ? p->max_streams_bidi : 100;
	srv->p.max_streams_uni = p->max_streams_uni ? p->max_streams_uni : 3;
	srv->p.initial_max_data = p->initial_max_data ? p->initial_max_data : QUIC_CONN_WINDOW;
	srv->p.initial_max_stream_data =
	        p->initial_max_stream_data ? p->initial_max_stream_data : QUIC_STREAM_WINDOW;
	/* 0: twice the idle timeout (both are reloadable, so the rule is
	 * applied here, not at read time). ngtcp2's idle timer already drops
	 * a handshake whose client went silent for idle_timeout; this cap
	 * only bounds one a client keeps barely alive, and leaves a lossy
	 * handshake that still makes progress (RFC 9002 6.2 backoff) the
	 * time its client is willing to wait (issue 18: at idle_timeout
	 * exactly, CI saw 1 of 50 handshakes under 30 % loss cut while its
	 * client still waited). gtlsserver sets no cap at all. */
	srv->p.handshake_timeout_ns = p->handshake_timeout_ns ? p->handshake_timeout_ns
	                                                      : 2 * srv->p.idle_timeout_ns;
	srv->p.preferred_addr = p->preferred_addr;
	return 0;
}

bool quic_version_offered(const struct quic_server *srv, uint32_t v)
{
	for (unsigned i = 0; i < srv->p.n_versions; i++)
		if (srv->p.versions[i] == v)
			return true;
	return false;
}

int quic_server_set_params(struct quic_server *srv, const struct quic_params *p)
{
	struct quic_vhost_set *s;
	int rc;

	if (!p || (!p->vset && (!p->vhosts || !p->n_vhosts)))
		return -EINVAL;
	rc = params_check(p);
	if (rc < 0)
		return rc;
	if (p->vset)
		s = quic_vset_get(p->vset); /* the generation's: no file read */
	else if ((rc = quic_vset_load(p->vhosts, p->n_vhosts, &s)) < 0)
		return rc; /* the running set and settings stay */
	rc = params_apply(srv, p);
	if (rc < 0) {
		quic_vset_put(s);
		return rc;
	}
	quic_vset_put(srv->vset);
	srv->vset = s;
	return 0;
}

int quic_server_create(const struct quic_params *p, struct quic_server **out)
{
	uint8_t key[QUIC_CID_HASH_KEY_LEN];
	struct quic_server *srv;
	int rc;

	if (!p || (!p->vset && (!p->vhosts || p->n_vhosts == 0)) || !p->static_secret ||
	    p->worker_id >= QUIC_CID_MAX_WORKERS || params_check(p) < 0)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->p = *p;
	if (!srv->p.rng.fill)
		srv->p.rng = (struct quic_rng){.fill = rng_default};
	if (!srv->p.wall.now)
		srv->p.wall = (struct quic_wall_clock){.now = wall_time};
	if (!srv->p.stateless_reset_rate)
		srv->p.stateless_reset_rate = 100;
	if (!srv->p.on_request) {
		srv->p.on_request = quic_responder_request;
		srv->p.request_ctx = NULL;
	}
	memcpy(srv->static_secret, p->static_secret, QUIC_STATIC_SECRET_LEN);
	srv->reset_tokens = srv->p.stateless_reset_rate;
	rc = params_apply(srv, p);
	if (rc < 0) {
		free(srv);
		return rc;
	}

	rc = quic_tls_init(srv);
	srv->p.vhosts = NULL; /* copied: the caller's array may go */
	if (rc < 0)
		goto err;
	if (quic_rand(srv, key, sizeof(key)) < 0) {
		rc = -EIO;
		goto err;
	}
	/* Presized for max_conns connections of up to 4 CIDs each (so that
	 * the table does not grow under a connection flood), but not beyond
	 * QUIC_CID_PRESIZE_MAX entries: at 32 bytes a slot and half full,
	 * max_connections = 1000000 would take 256 MB per worker before a
	 * single client came. Past it the table doubles as it fills. */
	rc = quic_cid_table_init(&srv->cids,
	                         (size_t)(srv->p.max_conns < QUIC_CID_PRESIZE_MAX / 4
	                                          ? srv->p.max_conns * 4
	                                          : QUIC_CID_PRESIZE_MAX),
	                         key);
	sodium_memzero(key, sizeof(key));
	if (rc < 0)
		goto err;
	*out = srv;
	return 0;
err:
	quic_tls_free(srv);
	sodium_memzero(srv->static_secret, sizeof(srv->static_secret));
	free(srv->qlog_dir);
	free(srv);
	return rc;
}

void quic_server_destroy(struct quic_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		quic_conn_free(srv->conns);
	free(srv->heap);
	quic_cid_table_free(&srv->cids);
	quic_tls_free(srv);
	sodium_memzero(srv->static_secret, sizeof(srv->static_secret));
	free(srv->qlog_dir);
	free(srv);
}

const struct quic_counters *quic_server_counters(const struct quic_server *srv)
{
	return &srv->ctr;
}

uint64_t quic_server_next_expiry(const struct quic_server *srv)
{
	return srv->heap_len ? srv->heap[0]->deadline : RG_NO_DEADLINE;
}

bool quic_server_wants_write(const struct quic_server *srv)
{
	return srv->pend_head != NULL;
}

void quic_server_flush(struct quic_server *srv, uint64_t now, const struct quic_tx *tx)
{
	/* Only the connections queued when the flush starts: one whose write
	 * found the send batch full goes back on the list for the next turn
	 * instead of being retried here forever. */
	unsigned n = srv->n_pending;

	srv->tx = tx;
	srv->now = now;
	while (n-- > 0) {
		struct quic_conn *c = quic_pending_pop(srv);

		if (!c)
			break;
		quic_conn_write(c); /* a failure closes or frees c, counted there */
	}
	srv->tx = NULL;
}

/* Every connection whose deadline passed, each at most once per call: one
 * that is still due afterwards (ngtcp2 asks again at once) moves to
 * now + 1, i.e. the next loop turn. */
static void run_due(struct quic_server *srv)
{
	while (srv->heap_len && srv->heap[0]->deadline <= srv->now) {
		struct quic_conn *c = srv->heap[0];

		if (quic_conn_expire(c) != QUIC_CONN_FREED && c->deadline <= srv->now)
			quic_heap_update(srv, c, srv->now + 1);
	}
}

void quic_server_handle_expiry(struct quic_server *srv, uint64_t now, const struct quic_tx *tx)
{
	srv->tx = tx;
	srv->now = now;
	run_due(srv);
	srv->tx = NULL;
}

void quic_server_close_all(struct quic_server *srv, uint64_t now, const struct quic_tx *tx)
{
	struct quic_conn *c, *next;

	srv->tx = tx;
	srv->now = now;
	for (c = srv->conns; c; c = next) {
		next = c->next;
		if (c->state == QUIC_CONN_HANDSHAKE || c->state == QUIC_CONN_ESTABLISHED)
			quic_conn_close(c, NGHTTP3_H3_NO_ERROR);
	}
	srv->tx = NULL;
}

void quic_server_drain(struct quic_server *srv, uint64_t now, const struct quic_tx *tx)
{
	srv->tx = tx;
	srv->now = now;
	srv->draining = true;
	for (struct quic_conn *c = srv->conns; c; c = c->next) {
		/* GOAWAY naming the first stream not processed: the ones already
		 * open run to completion, newer ones are refused (RFC 9114 5.2) */
		if (c->state == QUIC_CONN_ESTABLISHED && c->h3 && nghttp3_conn_shutdown(c->h3) == 0)
			quic_pending_add(c->srv, c);
	}
	srv->tx = NULL;
}

unsigned quic_server_active_streams(const struct quic_server *srv)
{
	unsigned n = 0;
	for (const struct quic_conn *c = srv->conns; c; c = c->next)
		for (const struct quic_stream *s = c->streams; s; s = s->next)
			n++;
	return n;
}

/* ---- stateless answers ---- */

static void send_version_negotiation(struct quic_server *srv, const struct ring_dgram *d,
                                     const ngtcp2_version_cid *vc)
{
	uint8_t buf[QUIC_MAX_PKT];
	uint32_t sv[1 + QUIC_MAX_VERSIONS];
	uint8_t unused;
	ngtcp2_ssize n;

	if (quic_rand(srv, &unused, 1) < 0 || quic_rand(srv, &sv[0], sizeof(sv[0])) < 0)
		return;
	/* RFC 9000 6.3: a reserved version 0x?a?a?a?a greases the list. */
	sv[0] = (sv[0] & 0xf0f0f0f0u) | 0x0a0a0a0au;
	/* every version offered, in preference order (RFC 9368 2.1: the
	 * client picks from them) */
	for (unsigned i = 0; i < srv->p.n_versions; i++)
		sv[1 + i] = srv->p.versions[i];
	n = ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), unused, vc->scid, vc->scidlen,
	                                         vc->dcid, vc->dcidlen, sv, 1 + srv->p.n_versions);
	if (n > 0 && quic_send_dgram(srv, d->sock, &d->peer, &d->local, buf, (size_t)n) >= 0)
		srv->ctr.version_negotiation_sent++;
}

static bool reset_allowed(struct quic_server *srv)
{
	uint64_t rate = srv->p.stateless_reset_rate;

	if (srv->now > srv->reset_refill_at) {
		uint64_t add = (srv->now - srv->reset_refill_at) * rate / NGTCP2_SECONDS;

		if (add > 0) {
			srv->reset_tokens = srv->reset_tokens + add > rate ? rate : srv->reset_tokens + add;
			srv->reset_refill_at = srv->now;
		}
	}
	if (srv->reset_tokens == 0)
		return false;
	srv->reset_tokens--;
	return true;
}

static void send_stateless_reset(struct quic_server *srv, const struct ring_dgram *d,
                                 const ngtcp2_version_cid *vc)
{
	uint8_t buf[QUIC_MAX_STATELESS_RESET], rnd[QUIC_MAX_STATELESS_RESET];
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
	size_t len = d->len - 1 < QUIC_MAX_STATELESS_RESET ? d->len - 1 : QUIC_MAX_STATELESS_RESET;
	ngtcp2_cid cid;
	ngtcp2_ssize n;

	if (d->len - 1 < QUIC_MIN_STATELESS_RESET)
		return; /* too small to answer with something smaller */
	if (!reset_allowed(srv)) {
		srv->ctr.drops[QUIC_DROP_RESET_LIMITED]++;
		return;
	}
	ngtcp2_cid_init(&cid, vc->dcid, vc->dcidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, srv->static_secret,
	                                                 sizeof(srv->static_secret), &cid) != 0 ||
	    quic_rand(srv, rnd, sizeof(rnd)) < 0)
		return;
	n = ngtcp2_pkt_write_stateless_reset(buf, len, token, rnd, len - sizeof(token));
	if (n > 0 && quic_send_dgram(srv, d->sock, &d->peer, &d->local, buf, (size_t)n) >= 0)
		srv->ctr.stateless_reset_sent++;
}

static void send_retry(struct quic_server *srv, const struct ring_dgram *d, const ngtcp2_pkt_hd *hd)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN2], buf[QUIC_MAX_PKT];
	uint8_t nonce[QUIC_CID_NONCE_LEN];
	size_t cap = d->len * 3 < sizeof(buf) ? d->len * 3 : sizeof(buf); /* RFC 9000 8.1 */
	ngtcp2_cid scid;
	ngtcp2_ssize tlen, n;

	if (quic_rand(srv, nonce, sizeof(nonce)) < 0)
		return;
	scid.datalen = QUIC_CID_LEN;
	quic_cid_encode(scid.data, srv->p.worker_id, nonce);
	tlen = ngtcp2_crypto_generate_retry_token2(token, srv->static_secret,
	                                           sizeof(srv->static_secret), hd->version,
	                                           &d->peer.sa, (ngtcp2_socklen)quic_addr_len(&d->peer),
	                                           &scid, &hd->dcid, srv->now);
	if (tlen < 0)
		return;
	n = ngtcp2_crypto_write_retry(buf, cap, hd->version, &hd->scid, &scid, &hd->dcid, token,
	                              (size_t)tlen);
	if (n > 0 && quic_send_dgram(srv, d->sock, &d->peer, &d->local, buf, (size_t)n) >= 0)
		srv->ctr.retry_sent++;
}

static void send_invalid_token_close(struct quic_server *srv, const struct ring_dgram *d,
                                     const ngtcp2_pkt_hd *hd)
{
	uint8_t buf[QUIC_MAX_PKT];
	ngtcp2_ssize n;

	n = ngtcp2_crypto_write_connection_close(buf, sizeof(buf), hd->version, &hd->scid,
	                                         &hd->dcid, NGTCP2_INVALID_TOKEN, NULL, 0);
	if (n > 0)
		quic_send_dgram(srv, d->sock, &d->peer, &d->local, buf, (size_t)n);
}

/* ---- new connections ---- */

static bool want_retry(const struct quic_server *srv)
{
	switch (srv->p.retry) {
	case QUIC_RETRY_ON:
		return true;
	case QUIC_RETRY_AUTO:
		return srv->ctr.conns_handshaking >= srv->p.backlog / 2;
	case QUIC_RETRY_OFF:
		break;
	}
	return false;
}

static void accept_initial(struct quic_server *srv, const struct ring_dgram *d, ngtcp2_pkt_hd hd)
{
	ngtcp2_token_type token_type = NGTCP2_TOKEN_TYPE_UNKNOWN;
	ngtcp2_cid odcid, *ocid = NULL;
	struct quic_conn *c;
	int rc;

	if (srv->draining) {
		srv->ctr.drops[QUIC_DROP_DRAINING]++;
		return;
	}
	if (srv->n_conns >= srv->p.max_conns) {
		srv->ctr.drops[QUIC_DROP_CONN_LIMIT]++;
		return;
	}
	if (srv->ctr.conns_handshaking >= srv->p.backlog) {
		srv->ctr.drops[QUIC_DROP_BACKLOG]++;
		return;
	}
	if (hd.tokenlen > 0 && hd.token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY2) {
		rc = ngtcp2_crypto_verify_retry_token2(
			&odcid, hd.token, hd.tokenlen, srv->static_secret, sizeof(srv->static_secret),
			hd.version, &d->peer.sa, (ngtcp2_socklen)quic_addr_len(&d->peer), &hd.dcid,
			QUIC_RETRY_TOKEN_TIMEOUT, srv->now);
		if (rc != 0) {
			/* RFC 9000 8.1.3: an invalid Retry token gets INVALID_TOKEN. */
			srv->ctr.drops[QUIC_DROP_BAD_TOKEN]++;
			send_invalid_token_close(srv, d, &hd);
			return;
		}
		ocid = &odcid;
		token_type = NGTCP2_TOKEN_TYPE_RETRY;
	} else if (hd.tokenlen > 0 && hd.token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR &&
	           ngtcp2_crypto_verify_regular_token(
	                   hd.token, hd.tokenlen, srv->static_secret, sizeof(srv->static_secret),
	                   &d->peer.sa, (ngtcp2_socklen)quic_addr_len(&d->peer),
	                   QUIC_NEW_TOKEN_LIFETIME_S * NGTCP2_SECONDS, srv->now) == 0) {
		/* A NEW_TOKEN token of ours for this address (RFC 9000 8.1.3):
		 * the address is validated, no Retry. */
		srv->ctr.tokens_accepted++;
		token_type = NGTCP2_TOKEN_TYPE_NEW_TOKEN;
	} else {
		/* RFC 9000 8.1.3: a NEW_TOKEN token that does not verify
		 * (expired, another address, another process's secret) is
		 * ignored, not an error: the client may hold stale ones. */
		if (hd.tokenlen > 0 && hd.token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR)
			srv->ctr.tokens_rejected++;
		hd.token = NULL;
		hd.tokenlen = 0;
		if (want_retry(srv)) {
			srv->ctr.drops[QUIC_DROP_RETRY_SENT]++;
			send_retry(srv, d, &hd);
			return;
		}
	}
	rc = quic_conn_new(srv, d, &hd, ocid, token_type, &c);
	if (rc < 0) {
		srv->ctr.drops[QUIC_DROP_NOMEM]++;
		return;
	}
	if (quic_conn_read(c, d) == QUIC_CONN_RETRY) {
		srv->ctr.drops[QUIC_DROP_RETRY_SENT]++;
		send_retry(srv, d, &hd);
		quic_conn_free(c);
	}
}

static void dispatch(struct quic_server *srv, const struct ring_dgram *d)
{
	ngtcp2_version_cid vc;
	struct quic_conn *c;
	int rv, owner;

	rv = ngtcp2_pkt_decode_version_cid(&vc, d->data, d->len, QUIC_CID_LEN);
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		srv->ctr.drops[QUIC_DROP_UNKNOWN_VERSION]++;
		if (d->len >= QUIC_MIN_INITIAL_DGRAM)
			send_version_negotiation(srv, d, &vc);
		return;
	}
	if (rv != 0 || ((d->data[0] & 0x80) && vc.version == 0)) {
		/* garbage, or a Version Negotiation packet sent to a server */
		srv->ctr.drops[QUIC_DROP_BAD_PACKET]++;
		return;
	}
	c = quic_cid_table_find(&srv->cids, vc.dcid, vc.dcidlen);
	if (c) {
		quic_conn_read(c, d);
		return;
	}
	if (d->data[0] & 0x80) {
		ngtcp2_pkt_hd hd;

		/* Any worker may accept an Initial (the Retry token and the
		 * NEW_TOKEN token verify with the shared secret), even one
		 * whose DCID another worker chose for a Retry. */
		if (ngtcp2_accept(&hd, d->data, d->len) == 0) {
			/* ngtcp2 speaks it but [quic] versions does not offer
			 * it: the client is told what is (RFC 9000 6.1) */
			if (!quic_version_offered(srv, hd.version)) {
				srv->ctr.drops[QUIC_DROP_UNKNOWN_VERSION]++;
				if (d->len >= QUIC_MIN_INITIAL_DGRAM)
					send_version_negotiation(srv, d, &vc);
				return;
			}
			accept_initial(srv, d, hd);
			return;
		}
	}
	owner = quic_cid_owner(vc.dcid, vc.dcidlen);
	if (owner >= 0 && (unsigned)owner != srv->p.worker_id) {
		/* Short header after migration or NAT rebinding; or a
		 * Handshake/0-RTT packet whose 4-tuple the kernel now steers
		 * elsewhere (reuseport group changed): the owner has it. */
		if (srv->p.on_foreign) {
			if (srv->p.on_foreign(srv->p.foreign_ctx, d, (unsigned)owner) == 0)
				srv->ctr.handoffs_sent++;
			else
				srv->ctr.handoffs_dropped++;
			return;
		}
		srv->ctr.drops[QUIC_DROP_OTHER_WORKER]++;
		return;
	}
	if (d->data[0] & 0x80) {
		srv->ctr.drops[QUIC_DROP_NOT_INITIAL]++;
		return;
	}
	srv->ctr.drops[QUIC_DROP_NO_CONN]++;
	send_stateless_reset(srv, d, &vc);
}

void quic_server_recv(struct quic_server *srv, const struct ring_dgram *d, unsigned n,
                      uint64_t now, const struct quic_tx *tx)
{
	unsigned i;

	srv->tx = tx;
	srv->now = now;
	for (i = 0; i < n; i++) {
		srv->ctr.rx_dgrams++;
		srv->ctr.rx_bytes += d[i].len;
		dispatch(srv, &d[i]);
	}
	/* Connections that read something are on the write-now list: the
	 * worker writes each once at the end of its turn (quic_server_flush),
	 * after every datagram and resumed stream of the turn. */
	srv->tx = NULL;
}

void quic_server_recv_handoff(struct quic_server *srv, const struct ring_dgram *d, unsigned n,
                              uint64_t now, const struct quic_tx *tx)
{
	srv->ctr.handoffs_received += n;
	quic_server_recv(srv, d, n, now, tx);
}
