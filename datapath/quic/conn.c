/* conn: the lifecycle of one QUIC connection (ngtcp2): creation from a
 * client Initial, packet input, GSO-aggregated output with pacing, the one
 * deadline, closing and draining (RFC 9000 10.2), freeing.
 *
 * All timer policy of a connection lives here: quic_conn_write() and
 * quic_conn_expire() are the only places that set c->deadline.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "datapath/quic/internal.h"

/* RFC 8446 6.2 */
#define TLS_ALERT_UNRECOGNIZED_NAME 112

size_t quic_addr_len(const rg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

static void addr_from_ngtcp2(rg_sockaddr *dst, const ngtcp2_addr *a)
{
	memset(dst, 0, sizeof(*dst));
	if (a->addrlen <= sizeof(*dst))
		memcpy(dst, a->addr, a->addrlen);
}

static void path_of(ngtcp2_path *path, const struct ring_dgram *d)
{
	path->local.addr = (ngtcp2_sockaddr *)&d->local.sa;
	path->local.addrlen = (ngtcp2_socklen)quic_addr_len(&d->local);
	path->remote.addr = (ngtcp2_sockaddr *)&d->peer.sa;
	path->remote.addrlen = (ngtcp2_socklen)quic_addr_len(&d->peer);
	path->user_data = (void *)(uintptr_t)d->sock;
}

/* Commit a run of n packets (off bytes, GSO segments of seg) to the send
 * batch. A refused commit is counted by the ring (RING_DROP_SEND_ERR) and
 * the packets are lost like any on the wire: ngtcp2's loss recovery sends
 * their frames again, so only the counters must not claim them. */
/* The sender's commit with the ECN codepoint every datagram of the
 * buffer carries (RFC 9000 13.4); a sender without commit_ecn sends ECN 0
 * (then ngtcp2's validation fails and it stops asking, RFC 9000 13.4.2.2). */
static int tx_commit(const struct quic_tx *tx, unsigned sock, const rg_sockaddr *to,
                     const rg_sockaddr *from, size_t len, size_t seg, uint8_t ecn)
{
	if (ecn && tx->ops->commit_ecn)
		return tx->ops->commit_ecn(tx->ctx, sock, to, from, len, seg, ecn);
	return tx->ops->commit(tx->ctx, sock, to, from, len, seg);
}

/* n packets of connection c went out with codepoint ecn: past ngtcp2's
 * testing budget, marks mean the path's ECN was validated. */
static void count_ecn(struct quic_conn *c, unsigned n, uint8_t ecn)
{
	if (!c || !ecn)
		return;
	c->srv->ctr.tx_ecn_ect += n;
	c->ecn_marked += n;
	if (!c->ecn_validated && c->ecn_marked > QUIC_ECN_TESTING_PKTS) {
		c->ecn_validated = true;
		c->srv->ctr.ecn_validated_paths++;
	}
}

static void commit_run(struct quic_conn *c, unsigned sock, const rg_sockaddr *to,
                      const rg_sockaddr *from, size_t off, unsigned n, size_t seg, uint8_t ecn)
{
	struct quic_server *srv = c->srv;
	int rc = tx_commit(srv->tx, sock, to, from, off, n > 1 ? seg : 0, ecn);

	if (rc < 0)
		return;
	srv->ctr.tx_dgrams += n;
	srv->ctr.tx_bytes += off;
	srv->ctr.tx_gso_bufs += n > 1;
	count_ecn(c, n, ecn);
}

static int send_dgram_ecn(struct quic_server *srv, unsigned sock, const rg_sockaddr *to,
                          const rg_sockaddr *from, const uint8_t *pkt, size_t len, uint8_t ecn)
{
	const struct quic_tx *tx = srv->tx;
	uint8_t *buf = tx->ops->prep(tx->ctx, len);
	int rc;

	if (!buf) {
		srv->ctr.drops[QUIC_DROP_TX_FULL]++;
		return -ENOBUFS;
	}
	memcpy(buf, pkt, len);
	rc = tx_commit(tx, sock, to, from, len, 0, ecn);
	if (rc >= 0) {
		srv->ctr.tx_dgrams++;
		srv->ctr.tx_bytes += len;
	}
	return rc;
}

int quic_send_dgram(struct quic_server *srv, unsigned sock, const rg_sockaddr *to,
                    const rg_sockaddr *from, const uint8_t *pkt, size_t len)
{
	return send_dgram_ecn(srv, sock, to, from, pkt, len, 0);
}

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return container_of(ref, struct quic_conn, conn_ref)->conn;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	/* Packet number skips and PATH_CHALLENGE padding: not secret. The
	 * server's source (quic_params.rng), set in settings.rand_ctx. */
	if (quic_rand(ctx->native_handle, dest, len) < 0)
		abort(); /* the CSPRNG failing leaves nothing safe to do */
}

static int new_scid(struct quic_conn *c, ngtcp2_cid *cid, uint8_t *token)
{
	struct quic_server *srv = c->srv;
	uint8_t nonce[QUIC_CID_NONCE_LEN];
	int tries;

	for (tries = 0; tries < 4; tries++) {
		if (quic_rand(srv, nonce, sizeof(nonce)) < 0)
			return -EIO;
		cid->datalen = QUIC_CID_LEN;
		quic_cid_encode(cid->data, srv->p.worker_id, nonce);
		if (quic_cid_table_insert(&srv->cids, cid->data, cid->datalen, c) == 0)
			break;
	}
	if (tries == 4)
		return -EEXIST;
	if (token && ngtcp2_crypto_generate_stateless_reset_token(
	                     token, srv->static_secret, sizeof(srv->static_secret), cid) != 0) {
		quic_cid_table_remove(&srv->cids, cid->data, cid->datalen);
		return -EIO;
	}
	return 0;
}

static int cb_get_new_connection_id(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token,
                                    size_t cidlen, void *user_data)
{
	(void)conn;
	(void)cidlen; /* always QUIC_CID_LEN: we chose the first one */
	return new_scid(user_data, cid, token) < 0 ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_remove_connection_id(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *user_data)
{
	struct quic_conn *c = user_data;

	(void)conn;
	quic_cid_table_remove(&c->srv->cids, cid->data, cid->datalen);
	return 0;
}

/* RFC 9000 8.1.3: a token for the client's next connection from this
 * address, so it skips Retry. Only the IP address is bound (ngtcp2's
 * regular token AAD): a new source port still matches. */
static void submit_new_token(struct quic_conn *c, const ngtcp2_addr *remote)
{
	struct quic_server *srv = c->srv;
	uint8_t token[NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN];
	ngtcp2_ssize n;

	n = ngtcp2_crypto_generate_regular_token(token, srv->static_secret,
	                                         sizeof(srv->static_secret), remote->addr,
	                                         remote->addrlen, srv->now);
	if (n < 0)
		return; /* no token: the next connection may see a Retry */
	if (ngtcp2_conn_submit_new_token(c->conn, token, (size_t)n) == 0)
		srv->ctr.tokens_issued++;
}

static int cb_handshake_completed(ngtcp2_conn *conn, void *user_data)
{
	struct quic_conn *c = user_data;

	if (c->state != QUIC_CONN_HANDSHAKE)
		return 0;
	/* quic_tls_handshake_done counts the group and a resumption (its
	 * contract, either backend): which counters moved is what this
	 * connection negotiated, kept for the access log (issue 20) without
	 * asking the backend again (its session may be released after) */
	uint64_t groups[TLS_GI_MAX], resumed = c->srv->ctr.handshakes_resumed;
	memcpy(groups, c->srv->ctr.tls_groups, sizeof(groups));
	if (quic_tls_handshake_done(c) < 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->tls_group = TLS_GI_OTHER;
	for (unsigned i = 0; i < TLS_GI_MAX; i++)
		if (c->srv->ctr.tls_groups[i] != groups[i])
			c->tls_group = (uint8_t)i;
	c->tls_resumed = c->srv->ctr.handshakes_resumed != resumed;
	submit_new_token(c, &ngtcp2_conn_get_path(conn)->remote);
	c->state = QUIC_CONN_ESTABLISHED;
	c->srv->ctr.handshakes_completed++;
	if (ngtcp2_conn_get_negotiated_version(conn) == QUIC_VERSION_V2 && !c->counted_v2) {
		c->counted_v2 = true;
		c->srv->ctr.conns_v2++;
	}
	c->srv->ctr.conns_handshaking--;
	return 0;
}

/* The client moved (migration, NAT rebinding) and the new path answered
 * PATH_CHALLENGE (RFC 9000 8.2, 9). ngtcp2 already switched to it; the
 * reply path's socket comes from path->user_data like any other. */
static int cb_path_validation(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
                              const ngtcp2_path *old_path, ngtcp2_path_validation_result res,
                              void *user_data)
{
	struct quic_conn *c = user_data;

	(void)conn;
	if (res != NGTCP2_PATH_VALIDATION_RESULT_SUCCESS)
		return 0;
	if (old_path) {
		c->srv->ctr.path_migrations++;
		/* ngtcp2 tests ECN again on the new path */
		c->ecn_marked = 0;
		c->ecn_validated = false;
	}
	addr_from_ngtcp2(&c->peer, &path->remote);
	/* RFC 9000 8.1.3: a token for the new address */
	if (flags & NGTCP2_PATH_VALIDATION_FLAG_NEW_TOKEN)
		submit_new_token(c, &path->remote);
	return 0;
}

static int cb_recv_tx_key(ngtcp2_conn *conn, ngtcp2_encryption_level level, void *user_data)
{
	(void)conn;
	/* 1-RTT keys: the server may speak HTTP/3 from here (0.5-RTT). */
	if (level != NGTCP2_ENCRYPTION_LEVEL_1RTT)
		return 0;
	/* the application the ALPN negotiated (tls.c post_client_hello) */
	switch (((struct quic_conn *)user_data)->app) {
	case QUIC_APP_H3:
		return quic_h3_setup(user_data) < 0 ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
	case QUIC_APP_NONE:
		break;
	}
	return NGTCP2_ERR_CALLBACK_FAILURE;
}

/* CRYPTO data once the TLS session was released (quic_tls_release): a
 * client has no TLS message to send after its Finished in QUIC, so this
 * is a KeyUpdate or post-handshake authentication, both forbidden (RFC
 * 9001 6, 4.4): unexpected_message, CRYPTO_ERROR 0x010a. */
static int cb_recv_crypto_data(ngtcp2_conn *conn, ngtcp2_encryption_level level, uint64_t offset,
                               const uint8_t *data, size_t len, void *user_data)
{
	struct quic_conn *c = user_data;

	if (!c->tls) {
		ngtcp2_conn_set_tls_alert(conn, 10 /* unexpected_message, RFC 8446 6 */);
		return NGTCP2_ERR_CRYPTO;
	}
	return ngtcp2_crypto_recv_crypto_data_cb(conn, level, offset, data, len, user_data);
}

/* Key updates run on ngtcp2's crypto context, never on the TLS session
 * (released after the handshake): counted, so a test can see them work. */
static int cb_update_key(ngtcp2_conn *conn, uint8_t *rx_secret, uint8_t *tx_secret,
                         ngtcp2_crypto_aead_ctx *rx_aead_ctx, uint8_t *rx_iv,
                         ngtcp2_crypto_aead_ctx *tx_aead_ctx, uint8_t *tx_iv,
                         const uint8_t *current_rx_secret, const uint8_t *current_tx_secret,
                         size_t secretlen, void *user_data)
{
	struct quic_conn *c = user_data;
	int rv = ngtcp2_crypto_update_key_cb(conn, rx_secret, tx_secret, rx_aead_ctx, rx_iv, tx_aead_ctx,
	                                     tx_iv, current_rx_secret, current_tx_secret, secretlen,
	                                     user_data);
	if (rv == 0)
		c->srv->ctr.key_updates++;
	return rv;
}

static const ngtcp2_callbacks quic_conn_callbacks = {
	.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
	.recv_crypto_data = cb_recv_crypto_data,
	.handshake_completed = cb_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = ngtcp2_crypto_decrypt_cb,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = quic_h3_recv_stream_data,
	.acked_stream_data_offset = quic_h3_acked_stream_data_offset,
	.stream_close = quic_h3_stream_close,
	.rand = cb_rand,
	.get_new_connection_id = cb_get_new_connection_id,
	.remove_connection_id = cb_remove_connection_id,
	.update_key = cb_update_key,
	.stream_reset = quic_h3_stream_reset,
	.extend_max_remote_streams_bidi = quic_h3_extend_max_remote_streams_bidi,
	.extend_max_stream_data = quic_h3_extend_max_stream_data,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.stream_stop_sending = quic_h3_stream_stop_sending,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
	.recv_tx_key = cb_recv_tx_key,
	.path_validation = cb_path_validation,
};

static void log_printf(void *user_data, const char *fmt, ...)
{
	struct quic_conn *c = user_data;
	va_list ap;

	fprintf(stderr, "quic[%u]: ", c->srv->p.worker_id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- qlog ----
 * One file per connection, opened with the connection (one open() on the
 * handshake path) and written through a QUIC_QLOG_BUF stdio buffer, so the
 * datapath makes a write() about every 64 KiB of events rather than one per
 * event; closed (flushed) when the connection is freed. That is blocking
 * file I/O on the worker thread, bounded by the buffer: qlog is a debugging
 * aid, off unless qlog_dir is set. A file stops at QUIC_QLOG_MAX_BYTES, on
 * a record boundary (ngtcp2 hands over whole records), so it stays valid
 * JSON-SEQ. */
static void qlog_write(void *user_data, uint32_t flags, const void *data, size_t len)
{
	struct quic_conn *c = user_data;

	(void)flags;
	if (!c->qlog || c->qlog_bytes + len > QUIC_QLOG_MAX_BYTES)
		return;
	if (fwrite(data, 1, len, c->qlog) != len) {
		c->srv->ctr.qlog_errors++;
		fclose(c->qlog);
		c->qlog = NULL;
		return;
	}
	c->qlog_bytes += len;
}

static void qlog_open(struct quic_conn *c, const ngtcp2_cid *odcid)
{
	struct quic_server *srv = c->srv;
	char path[4096], hex[2 * NGTCP2_MAX_CIDLEN + 1];
	size_t i;
	int n;

	for (i = 0; i < odcid->datalen; i++)
		snprintf(hex + 2 * i, 3, "%02x", odcid->data[i]);
	hex[2 * odcid->datalen] = 0;
	n = snprintf(path, sizeof(path), "%s/%s.sqlog", srv->qlog_dir, hex);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		srv->ctr.qlog_errors++;
		return;
	}
	c->qlog = fopen(path, "we");
	if (!c->qlog) {
		srv->ctr.qlog_errors++;
		return;
	}
	setvbuf(c->qlog, NULL, _IOFBF, QUIC_QLOG_BUF);
	srv->ctr.qlog_files++;
}

static void qlog_close(struct quic_conn *c)
{
	if (c->qlog && fclose(c->qlog) != 0)
		c->srv->ctr.qlog_errors++;
	c->qlog = NULL;
}

static ngtcp2_conn *conn_ref_get(ngtcp2_crypto_conn_ref *ref)
{
	return get_conn(ref);
}

/* ---- lifecycle ---- */

/* RFC 9000 18.2 preferred_address: the [quic] address of the family it
 * is, with a CID of ours (sequence number 1, RFC 9000 5.1.1) and its
 * stateless reset token. The CID encodes this worker, so after the client
 * moves, the reuseport steering and the hand-off still find the
 * connection here. Not offered when the client already uses it. */
static int preferred_addr_param(struct quic_conn *c, const struct ring_dgram *d,
                                ngtcp2_transport_params *params)
{
	const rg_sockaddr *pa = &c->srv->p.preferred_addr;
	ngtcp2_preferred_addr *out = &params->preferred_addr;
	int rc;

	if (pa->sa.sa_family == 0 || pa->sa.sa_family != d->local.sa.sa_family)
		return 0;
	if (pa->sa.sa_family == AF_INET
	            ? pa->in4.sin_port == d->local.in4.sin_port &&
	                      pa->in4.sin_addr.s_addr == d->local.in4.sin_addr.s_addr
	            : pa->in6.sin6_port == d->local.in6.sin6_port &&
	                      memcmp(&pa->in6.sin6_addr, &d->local.in6.sin6_addr, 16) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	rc = new_scid(c, &out->cid, out->stateless_reset_token);
	if (rc < 0)
		return rc;
	if (pa->sa.sa_family == AF_INET) {
		memcpy(&out->ipv4, &pa->in4, sizeof(out->ipv4));
		out->ipv4_present = 1;
	} else {
		memcpy(&out->ipv6, &pa->in6, sizeof(out->ipv6));
		out->ipv6_present = 1;
	}
	params->preferred_addr_present = 1;
	return 0;
}

int quic_conn_new(struct quic_server *srv, const struct ring_dgram *d,
                  const ngtcp2_pkt_hd *hd, const ngtcp2_cid *ocid,
                  ngtcp2_token_type token_type, struct quic_conn **out)
{
	ngtcp2_settings settings;
	ngtcp2_transport_params params = {0};
	ngtcp2_path path;
	ngtcp2_cid scid;
	struct quic_conn *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->srv = srv;
	c->conn_ref.get_conn = conn_ref_get;
	c->conn_ref.user_data = c;
	c->state = QUIC_CONN_HANDSHAKE;
	c->deadline = RG_NO_DEADLINE;
	c->peer = d->peer;
	c->local = d->local;
	c->anti_port_scan = srv->p.anti_port_scan;
	ngtcp2_ccerr_default(&c->last_error);

	rc = new_scid(c, &scid, NULL);
	if (rc < 0)
		goto err_free;

	ngtcp2_settings_default(&settings);
	settings.initial_ts = srv->now;
	settings.rand_ctx.native_handle = srv;
	settings.token = hd->token;
	settings.tokenlen = hd->tokenlen;
	settings.token_type = token_type;
	/* auto-tuning may grow the windows up to these */
	settings.max_window = srv->p.initial_max_data > QUIC_CONN_WINDOW ? srv->p.initial_max_data
	                                                                 : QUIC_CONN_WINDOW;
	settings.max_stream_window = QUIC_STREAM_WINDOW;
	/* [quic] handshake_timeout; by default twice the idle timeout
	 * (server.c params_apply): a fixed 10 s cut lossy handshakes short
	 * (issue 18) */
	settings.handshake_timeout = srv->p.handshake_timeout_ns;
	/* RFC 9368: the versions offered, most preferred first; a client
	 * whose first Initial is v1 and that lists v2 moves to v2 (compatible
	 * negotiation, ngtcp2 does it given these). */
	memcpy(c->versions, srv->p.versions, sizeof(c->versions));
	settings.preferred_versions = c->versions;
	settings.preferred_versionslen = srv->p.n_versions;
	c->max_streams_bidi = srv->p.max_streams_bidi;
	if (srv->p.debug_log)
		settings.log_printf = log_printf;
	if (srv->qlog_dir) {
		qlog_open(c, ocid ? ocid : &hd->dcid);
		if (c->qlog)
			settings.qlog_write = qlog_write;
	}

	ngtcp2_transport_params_default(&params);
	params.initial_max_stream_data_bidi_local = srv->p.initial_max_stream_data;
	params.initial_max_stream_data_bidi_remote = srv->p.initial_max_stream_data;
	params.initial_max_stream_data_uni = srv->p.initial_max_stream_data;
	params.initial_max_data = srv->p.initial_max_data;
	params.initial_max_streams_bidi = srv->p.max_streams_bidi;
	/* at least control + 2 QPACK (RFC 9114 6.2), checked in server.c */
	params.initial_max_streams_uni = srv->p.max_streams_uni;
	params.max_idle_timeout = srv->p.idle_timeout_ns;
	params.active_connection_id_limit = QUIC_SCIDS_PER_CONN;
	params.stateless_reset_token_present = 1;
	if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token,
	                                                 srv->static_secret,
	                                                 sizeof(srv->static_secret), &scid) != 0) {
		rc = -EIO;
		goto err_scid;
	}
	if (ocid) { /* after Retry, RFC 9000 7.3 */
		params.original_dcid = *ocid;
		params.retry_scid = hd->dcid;
		params.retry_scid_present = 1;
	} else {
		params.original_dcid = hd->dcid;
	}
	params.original_dcid_present = 1;
	rc = preferred_addr_param(c, d, &params);
	if (rc < 0)
		goto err_scid;

	path_of(&path, d);
	rc = ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version,
	                            &quic_conn_callbacks, &settings, &params, NULL, c);
	if (rc != 0) {
		rc = -ENOMEM;
		goto err_scid;
	}
	rc = quic_tls_session_new(srv, c);
	if (rc < 0)
		goto err_conn;
	ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);

	/* Clients resend Initials to the DCID they chose until they see ours. */
	c->odcid = hd->dcid;
	if (quic_cid_table_insert(&srv->cids, hd->dcid.data, hd->dcid.datalen, c) == 0)
		c->odcid_in_table = true;
	rc = quic_heap_push(srv, c);
	if (rc < 0)
		goto err_tls;

	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	srv->ctr.conns_open++;
	srv->ctr.conns_handshaking++;
	srv->ctr.handshakes_started++;
	*out = c;
	return 0;

err_tls:
	if (c->odcid_in_table)
		quic_cid_table_remove(&srv->cids, c->odcid.data, c->odcid.datalen);
	quic_tls_session_free(c);
	quic_vset_put(c->vset);
err_conn:
	ngtcp2_conn_del(c->conn);
err_scid:
	quic_cid_table_remove(&srv->cids, scid.data, scid.datalen);
	if (params.preferred_addr_present)
		quic_cid_table_remove(&srv->cids, params.preferred_addr.cid.data,
		                      params.preferred_addr.cid.datalen);
	qlog_close(c);
err_free:
	free(c);
	return rc;
}

void quic_conn_free(struct quic_conn *c)
{
	struct quic_server *srv = c->srv;
	ngtcp2_cid scids[QUIC_SCIDS_PER_CONN * 2 + 2];
	size_t n, i;

	if (c->state == QUIC_CONN_HANDSHAKE) {
		srv->ctr.conns_handshaking--;
		srv->ctr.handshakes_failed++;
	}
	n = ngtcp2_conn_get_scid(c->conn, NULL);
	if (n <= sizeof(scids) / sizeof(scids[0])) {
		ngtcp2_conn_get_scid(c->conn, scids);
		for (i = 0; i < n; i++)
			quic_cid_table_remove(&srv->cids, scids[i].data, scids[i].datalen);
	}
	if (c->odcid_in_table)
		quic_cid_table_remove(&srv->cids, c->odcid.data, c->odcid.datalen);
	quic_heap_remove(srv, c);
	quic_pending_del(srv, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	srv->ctr.conns_open--;

	quic_h3_free(c);
	ngtcp2_conn_del(c->conn); /* may write the qlog's last records */
	qlog_close(c);
	quic_tls_session_free(c);
	quic_vset_put(c->vset); /* after the session that used its credentials */
	free(c->cert_subject);
	free(c->close_pkt);
	free(c);
}

static void rearm(struct quic_conn *c)
{
	uint64_t t;

	if (c->state == QUIC_CONN_CLOSING || c->state == QUIC_CONN_DRAINING)
		t = c->close_deadline;
	else
		t = ngtcp2_conn_get_expiry(c->conn);
	quic_heap_update(c->srv, c, t);
}

static uint64_t close_period(struct quic_conn *c)
{
	return c->srv->now + 3 * ngtcp2_conn_get_pto(c->conn);
}

static void start_draining(struct quic_conn *c)
{
	if (c->state == QUIC_CONN_HANDSHAKE) {
		c->srv->ctr.conns_handshaking--;
		c->srv->ctr.handshakes_failed++;
	}
	c->state = QUIC_CONN_DRAINING;
	c->close_deadline = close_period(c);
	c->srv->ctr.conns_closed_peer++;
	rearm(c);
}

/* Send CONNECTION_CLOSE with c->last_error and enter the closing period.
 * Returns QUIC_CONN_FREED when even that was impossible. */
static enum quic_conn_verdict start_closing(struct quic_conn *c)
{
	struct quic_server *srv = c->srv;
	ngtcp2_path_storage ps;
	rg_sockaddr to, from;
	ngtcp2_ssize n;

	if (c->state == QUIC_CONN_CLOSING || c->state == QUIC_CONN_DRAINING)
		return QUIC_CONN_OK;
	if (c->last_error.type == NGTCP2_CCERR_TYPE_IDLE_CLOSE) {
		quic_conn_free(c);
		return QUIC_CONN_FREED;
	}
	c->close_pkt = malloc(QUIC_MAX_PKT);
	if (!c->close_pkt) {
		quic_conn_free(c);
		return QUIC_CONN_FREED;
	}
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, NULL, c->close_pkt,
	                                       QUIC_MAX_PKT, &c->last_error, srv->now);
	if (n <= 0) {
		quic_conn_free(c);
		return QUIC_CONN_FREED;
	}
	c->close_len = (size_t)n;
	addr_from_ngtcp2(&to, &ps.path.remote);
	addr_from_ngtcp2(&from, &ps.path.local);
	quic_send_dgram(srv, (unsigned)(uintptr_t)ps.path.user_data, &to, &from,
	                c->close_pkt, c->close_len);
	if (c->state == QUIC_CONN_HANDSHAKE) {
		srv->ctr.conns_handshaking--;
		srv->ctr.handshakes_failed++;
	}
	c->state = QUIC_CONN_CLOSING;
	c->close_next = 1;
	c->close_deadline = close_period(c);
	srv->ctr.conns_closed_local++;
	rearm(c);
	return QUIC_CONN_OK;
}

static enum quic_conn_verdict fail(struct quic_conn *c, int liberr)
{
	if (c->last_error.error_code == 0 && c->last_error.type == NGTCP2_CCERR_TYPE_TRANSPORT)
		ngtcp2_ccerr_set_liberr(&c->last_error, liberr, NULL, 0);
	return start_closing(c);
}

void quic_conn_close(struct quic_conn *c, uint64_t app_error)
{
	ngtcp2_ccerr_set_application_error(&c->last_error, app_error, NULL, 0);
	start_closing(c);
}

enum quic_conn_verdict quic_conn_read(struct quic_conn *c, const struct ring_dgram *d)
{
	struct quic_server *srv = c->srv;
	ngtcp2_pkt_info pi = { 0 };
	ngtcp2_path path;
	int rv;

	switch (c->state) {
	case QUIC_CONN_CLOSING:
		/* RFC 9000 10.2.1: answer with the close again, less and less
		 * often (after 1, 2, 4 ... packets). */
		srv->ctr.drops[QUIC_DROP_CLOSING]++;
		if (++c->close_rx >= c->close_next) {
			c->close_next *= 2;
			quic_send_dgram(srv, d->sock, &d->peer, &d->local, c->close_pkt, c->close_len);
		}
		return QUIC_CONN_OK;
	case QUIC_CONN_DRAINING:
		srv->ctr.drops[QUIC_DROP_CLOSING]++;
		return QUIC_CONN_OK;
	case QUIC_CONN_HANDSHAKE:
	case QUIC_CONN_ESTABLISHED:
		break;
	}

	path_of(&path, d);
	/* RFC 9000 13.4.1: the codepoint each datagram arrived with feeds
	 * the ECN counts of our ACKs */
	pi.ecn = d->ecn & NGTCP2_ECN_MASK;
	if (pi.ecn == NGTCP2_ECN_CE)
		srv->ctr.rx_ecn_ce++;
	else if (pi.ecn)
		srv->ctr.rx_ecn_ect++;
	rv = ngtcp2_conn_read_pkt(c->conn, &path, &pi, d->data, d->len, srv->now);
	if (rv == 0) {
		if (c->state == QUIC_CONN_ESTABLISHED && c->tls) {
			quic_tls_release(c);
			if (!c->tls)
				ngtcp2_conn_set_tls_native_handle(c->conn, NULL);
		}
		quic_pending_add(c->srv, c);
		return QUIC_CONN_OK;
	}
	switch (rv) {
	case NGTCP2_ERR_DRAINING: /* the packet was read: it closed the connection */
		start_draining(c);
		return QUIC_CONN_OK;
	case NGTCP2_ERR_RETRY:
		return QUIC_CONN_RETRY;
	default:
		break;
	}
	srv->ctr.drops[QUIC_DROP_CONN_READ]++;
	switch (rv) {
	case NGTCP2_ERR_DROP_CONN:
		quic_conn_free(c);
		return QUIC_CONN_FREED;
	case NGTCP2_ERR_CRYPTO:
		if (c->sni_refused) {
			srv->ctr.sni_refused++;
			if (c->anti_port_scan) {
				/* Nothing was sent yet: vanish. */
				srv->ctr.drops[QUIC_DROP_ANTI_PORT_SCAN]++;
				quic_conn_free(c);
				return QUIC_CONN_REFUSED;
			}
			ngtcp2_ccerr_set_tls_alert(&c->last_error, TLS_ALERT_UNRECOGNIZED_NAME,
			                           NULL, 0);
		} else if (c->last_error.error_code == 0) {
			ngtcp2_ccerr_set_tls_alert(&c->last_error,
			                           ngtcp2_conn_get_tls_alert(c->conn), NULL, 0);
		}
		return start_closing(c);
	default:
		return fail(c, rv);
	}
}

/* Write up to the send quantum: runs of equal-size packets go out as one
 * GSO buffer (a shorter packet ends a run as its tail, at most
 * QUIC_MAX_GSO_SEGS per run, one path and one ECN codepoint per run: the
 * TOS of a GSO send applies to every segment). Then tell ngtcp2 when the
 * burst left, for pacing. */
enum quic_conn_verdict quic_conn_write(struct quic_conn *c)
{
	struct quic_server *srv = c->srv;
	const struct quic_tx *tx = srv->tx;
	size_t mtu, budget;
	bool more = true;

	/* this write serves whatever asked for one earlier in the turn */
	quic_pending_del(srv, c);
	if (c->state == QUIC_CONN_CLOSING || c->state == QUIC_CONN_DRAINING) {
		rearm(c);
		return QUIC_CONN_OK;
	}
	mtu = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->conn);
	if (mtu > QUIC_MAX_PKT)
		mtu = QUIC_MAX_PKT;
	budget = ngtcp2_conn_get_send_quantum(c->conn) / mtu;
	if (budget == 0)
		budget = 1;

	c->in_write = true;
	while (more && budget > 0) {
		size_t max = budget < QUIC_MAX_GSO_SEGS ? budget : QUIC_MAX_GSO_SEGS;
		size_t off = 0, seg = 0, n = 0;
		unsigned sock = 0;
		uint8_t ecn = 0;
		rg_sockaddr to, from;
		uint8_t *buf = tx->ops->prep(tx->ctx, max * mtu);

		if (!buf) {
			/* Batch full: stay on the write-now list; the worker
			 * does not wait for a deadline while it is not empty
			 * (quic_server_wants_write) and the ring frees the
			 * batch as the kernel takes it. */
			c->in_write = false;
			ngtcp2_conn_update_pkt_tx_time(c->conn, srv->now);
			quic_pending_add(c->srv, c);
			rearm(c);
			return QUIC_CONN_OK;
		}
		while (n < max) {
			ngtcp2_path_storage ps;
			ngtcp2_pkt_info pi = {0};
			ngtcp2_ssize nw;
			rg_sockaddr pto, pfrom;
			unsigned psock;

			ngtcp2_path_storage_zero(&ps);
			nw = quic_h3_write_pkt(c, &ps.path, &pi, buf + off, n ? seg : mtu, srv->now);
			if (nw < 0) {
				if (n > 0)
					commit_run(c, sock, &to, &from, off, n, seg, ecn);
				c->in_write = false;
				return fail(c, (int)nw);
			}
			if (nw == 0) {
				more = false;
				break;
			}
			addr_from_ngtcp2(&pto, &ps.path.remote);
			addr_from_ngtcp2(&pfrom, &ps.path.local);
			psock = (unsigned)(uintptr_t)ps.path.user_data;
			if (n == 0) {
				to = pto;
				from = pfrom;
				sock = psock;
				seg = (size_t)nw;
				ecn = pi.ecn & NGTCP2_ECN_MASK;
			} else if (psock != sock || memcmp(&pto, &to, sizeof(to)) != 0 ||
			           memcmp(&pfrom, &from, sizeof(from)) != 0 ||
			           (pi.ecn & NGTCP2_ECN_MASK) != ecn) {
				/* Another path (migration, probing), or another
				 * ECN codepoint (ngtcp2's ECN testing ended): end
				 * the run and send this packet by itself. */
				uint8_t tmp[QUIC_MAX_PKT];
				uint8_t pecn = pi.ecn & NGTCP2_ECN_MASK;

				memcpy(tmp, buf + off, (size_t)nw);
				/* a refused send is counted where it failed; loss
				 * recovery resends the frames */
				commit_run(c, sock, &to, &from, off, n, seg, ecn);
				budget -= n + 1;
				n = 0;
				if (send_dgram_ecn(srv, psock, &pto, &pfrom, tmp, (size_t)nw, pecn) >= 0)
					count_ecn(c, 1, pecn);
				break;
			}
			off += (size_t)nw;
			n++;
			if ((size_t)nw < seg)
				break;
		}
		if (n > 0) {
			commit_run(c, sock, &to, &from, off, n, seg, ecn);
			budget = budget > n ? budget - n : 0;
		}
	}
	c->in_write = false;
	ngtcp2_conn_update_pkt_tx_time(c->conn, srv->now);
	rearm(c);
	return QUIC_CONN_OK;
}

enum quic_conn_verdict quic_conn_expire(struct quic_conn *c)
{
	struct quic_server *srv = c->srv;
	int rv;

	switch (c->state) {
	case QUIC_CONN_CLOSING:
	case QUIC_CONN_DRAINING:
		if (srv->now >= c->close_deadline) {
			quic_conn_free(c);
			return QUIC_CONN_FREED;
		}
		rearm(c);
		return QUIC_CONN_OK;
	case QUIC_CONN_HANDSHAKE:
	case QUIC_CONN_ESTABLISHED:
		break;
	}
	if (ngtcp2_conn_get_expiry(c->conn) <= srv->now) {
		rv = ngtcp2_conn_handle_expiry(c->conn, srv->now);
		if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
			/* RFC 9000 10.1: an idle timeout closes silently. */
			if (c->state == QUIC_CONN_ESTABLISHED)
				srv->ctr.conns_closed_idle++;
			if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT)
				srv->ctr.handshake_timeouts++;
			quic_conn_free(c);
			return QUIC_CONN_FREED;
		}
		if (rv != 0)
			return fail(c, rv);
	}
	return quic_conn_write(c);
}
