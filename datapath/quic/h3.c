/* h3: HTTP/3 server glue (nghttp3) between a QUIC connection and the
 * request handlers of quic.h: header sections copied into a quic_request,
 * request bodies passed through with flow-control credit returned only when
 * the handler consumes them, response bodies pulled from the handler with
 * WOULDBLOCK / resume, and nghttp3's output framed by ngtcp2 one packet at a
 * time (quic_h3_write_pkt, called from conn.c's GSO loop).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/quic/internal.h"

_Static_assert(sizeof(struct quic_iov) == sizeof(nghttp3_vec) &&
                       offsetof(struct quic_iov, base) == offsetof(nghttp3_vec, base) &&
                       offsetof(struct quic_iov, len) == offsetof(nghttp3_vec, len),
               "quic_iov mirrors nghttp3_vec so read() fills nghttp3's array directly");

struct hdr_rec {
	size_t no, nl, vo, vl;
};

static void conn_app_error(struct quic_conn *c, int liberr)
{
	ngtcp2_ccerr_set_application_error(&c->last_error,
	                                   nghttp3_err_infer_quic_app_error_code(liberr), NULL, 0);
}

static void credit(struct quic_conn *c, int64_t id, size_t n)
{
	ngtcp2_conn_extend_max_stream_offset(c->conn, id, n);
	ngtcp2_conn_extend_max_offset(c->conn, n);
}

static void stream_free(struct quic_stream *s, uint64_t app_error)
{
	struct quic_conn *c = s->qc;

	if (s->ops && s->ops->close)
		s->ops->close(s->h, app_error);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s->hbuf);
	free(s->hdrs);
	free(s);
}

/* ---- nghttp3 callbacks ---- */

static int h3_acked_stream_data(nghttp3_conn *h3, int64_t id, uint64_t len, void *cud, void *sud)
{
	struct quic_stream *s = sud;

	(void)h3;
	(void)id;
	(void)cud;
	if (s && s->ops && s->ops->acked)
		s->ops->acked(s->h, len);
	return 0;
}

static int h3_stream_close(nghttp3_conn *h3, int64_t id, uint64_t app_error, void *cud, void *sud)
{
	(void)h3;
	(void)id;
	(void)cud;
	if (sud)
		stream_free(sud, app_error);
	return 0;
}

static int h3_recv_data(nghttp3_conn *h3, int64_t id, const uint8_t *data, size_t len,
                        void *cud, void *sud)
{
	struct quic_conn *c = cud;
	struct quic_stream *s = sud;

	(void)h3;
	if (!s || !s->ops || !s->ops->body) {
		credit(c, id, len); /* nobody wants it: discard, keep the window open */
		return 0;
	}
	if (s->ops->body(s->h, data, len) < 0)
		quic_stream_reset(s, NGHTTP3_H3_INTERNAL_ERROR);
	return 0;
}

static int h3_deferred_consume(nghttp3_conn *h3, int64_t id, size_t n, void *cud, void *sud)
{
	(void)h3;
	(void)sud;
	credit(cud, id, n);
	return 0;
}

static int h3_begin_headers(nghttp3_conn *h3, int64_t id, void *cud, void *sud)
{
	struct quic_conn *c = cud;
	struct quic_stream *s;

	if (sud) /* trailers or a second section: ignored */
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP3_ERR_NOMEM;
	s->qc = c;
	s->id = id;
	s->method_off = s->scheme_off = s->authority_off = s->path_off = SIZE_MAX;
	s->content_length = -1;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	if (nghttp3_conn_set_stream_user_data(h3, id, s) != 0) {
		stream_free(s, NGHTTP3_H3_INTERNAL_ERROR);
		return NGHTTP3_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static size_t append(struct quic_stream *s, const uint8_t *p, size_t n)
{
	size_t off = s->hlen;

	if (s->hlen + n + 1 > QUIC_MAX_HEADER_BYTES) {
		s->hdr_overflow = true;
		return SIZE_MAX;
	}
	if (!s->hbuf) {
		s->hbuf = malloc(QUIC_MAX_HEADER_BYTES);
		if (!s->hbuf) {
			s->hdr_overflow = true;
			return SIZE_MAX;
		}
		s->hcap = QUIC_MAX_HEADER_BYTES;
	}
	memcpy(s->hbuf + s->hlen, p, n);
	s->hbuf[s->hlen + n] = 0;
	s->hlen += n + 1;
	return off;
}

static int h3_recv_header(nghttp3_conn *h3, int64_t id, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *cud, void *sud)
{
	struct quic_stream *s = sud;
	nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
	size_t vo;

	(void)h3;
	(void)id;
	(void)flags;
	(void)cud;
	if (!s || s->headers_done || s->hdr_overflow)
		return 0;
	s->early |= s->qc->rx_0rtt;
	switch (token) {
	case NGHTTP3_QPACK_TOKEN__METHOD:
		s->method_off = append(s, v.base, v.len);
		return 0;
	case NGHTTP3_QPACK_TOKEN__SCHEME:
		s->scheme_off = append(s, v.base, v.len);
		return 0;
	case NGHTTP3_QPACK_TOKEN__AUTHORITY:
		s->authority_off = append(s, v.base, v.len);
		return 0;
	case NGHTTP3_QPACK_TOKEN__PATH:
		s->path_off = append(s, v.base, v.len);
		return 0;
	default:
		break;
	}
	if (n.len > 0 && n.base[0] == ':')
		return 0; /* :protocol and other pseudo-headers: not ours */
	if (s->n_hdrs == s->hdrs_cap) {
		unsigned cap = s->hdrs_cap ? s->hdrs_cap * 2 : 16;
		struct quic_header *h = realloc(s->hdrs, cap * sizeof(*h));

		if (!h) {
			s->hdr_overflow = true;
			return 0;
		}
		s->hdrs = h;
		s->hdrs_cap = cap;
	}
	/* offsets now, pointers once hbuf stops moving (it never does: it is
	 * allocated once at full size) */
	s->hdrs[s->n_hdrs].name = (const char *)(uintptr_t)append(s, n.base, n.len);
	vo = append(s, v.base, v.len);
	if (s->hdr_overflow)
		return 0;
	s->hdrs[s->n_hdrs].name_len = n.len;
	s->hdrs[s->n_hdrs].value = (const char *)(uintptr_t)vo;
	s->hdrs[s->n_hdrs].value_len = v.len;
	s->n_hdrs++;
	if (token == NGHTTP3_QPACK_TOKEN_CONTENT_LENGTH) {
		char *end;
		long long cl = strtoll(s->hbuf + vo, &end, 10);

		if (*end == 0 && cl >= 0)
			s->content_length = cl;
	}
	return 0;
}

static const char *field(const struct quic_stream *s, size_t off)
{
	return off == SIZE_MAX ? NULL : s->hbuf + off;
}

/* An error answer without a body; a stream that cannot even get that
 * (out of memory) is reset rather than left hanging. The access log gets
 * it (quic.h on_answer) with what the head said. */
static void refuse(struct quic_conn *c, struct quic_stream *s, unsigned status)
{
	struct quic_server *srv = c->srv;

	if (srv->p.on_answer) {
		struct quic_request req = {
			.method = field(s, s->method_off),
			.scheme = field(s, s->scheme_off),
			.authority = field(s, s->authority_off),
			.path = field(s, s->path_off),
			.sni = c->vhost ? c->vhost->name : NULL,
			.peer = &c->peer,
			.worker_id = srv->p.worker_id,
			.early_data = s->early,
			.tls_version = "TLSv1.3",
			.tls_group = tls_group_label(c->tls_group),
			.tls_resumed = c->tls_resumed,
		};
		srv->p.on_answer(srv->p.request_ctx, &req, status);
	}
	if (quic_stream_respond(s, status, NULL, 0, false) < 0)
		quic_stream_reset(s, NGHTTP3_H3_INTERNAL_ERROR);
}

static int h3_end_headers(nghttp3_conn *h3, int64_t id, int fin, void *cud, void *sud)
{
	struct quic_conn *c = cud;
	struct quic_stream *s = sud;
	struct quic_server *srv = c->srv;
	struct quic_request req;
	unsigned i;
	int rc;

	(void)h3;
	(void)id;
	if (!s || s->headers_done)
		return 0;
	s->headers_done = true;
	s->early |= c->rx_0rtt;
	srv->ctr.requests++;
	srv->ctr.requests_0rtt += s->early;
	if (s->hdr_overflow) {
		refuse(c, s, 431);
		return 0;
	}
	for (i = 0; i < s->n_hdrs; i++) {
		s->hdrs[i].name = s->hbuf + (uintptr_t)s->hdrs[i].name;
		s->hdrs[i].value = s->hbuf + (uintptr_t)s->hdrs[i].value;
	}
	if (!field(s, s->method_off) || !field(s, s->path_off)) {
		refuse(c, s, 400);
		return 0;
	}
	/* issue 9 §3: before the handshake ends (0-RTT) the client
	 * certificate is not verified yet: a vhost with client_auth answers
	 * 425 Too Early, the client retries after the handshake (RFC 8470 5.2) */
	if (c->vhost && c->vhost->client_auth != TLS_CLIENT_AUTH_OFF && c->state == QUIC_CONN_HANDSHAKE) {
		refuse(c, s, 425);
		return 0;
	}
	req = (struct quic_request){
		.method = field(s, s->method_off),
		.scheme = field(s, s->scheme_off),
		.authority = field(s, s->authority_off),
		.path = field(s, s->path_off),
		.headers = s->hdrs,
		.n_headers = s->n_hdrs,
		.content_length = s->content_length,
		.has_body = !fin,
		.sni = c->vhost ? c->vhost->name : NULL,
		.peer = &c->peer,
		.worker_id = srv->p.worker_id,
		.early_data = s->early,
		/* issue 9 §3: verified at the handshake (tls/) */
		.client_cert_subject = c->cert_subject,
		.client_cert_sha256 = c->cert_subject ? c->cert_sha256 : NULL,
		/* issue 20: the access log's; QUIC is TLS 1.3 only (RFC 9001 4.2) */
		.tls_version = "TLSv1.3",
		.tls_group = tls_group_label(c->tls_group),
		.tls_resumed = c->tls_resumed,
	};
	rc = srv->p.on_request(srv->p.request_ctx, s, &req);
	/* header copies other than the pseudo-headers are gone after the call */
	free(s->hdrs);
	s->hdrs = NULL;
	s->n_hdrs = s->hdrs_cap = 0;
	if (rc < 0)
		quic_stream_reset(s, NGHTTP3_H3_INTERNAL_ERROR);
	return 0;
}

static int h3_end_stream(nghttp3_conn *h3, int64_t id, void *cud, void *sud)
{
	struct quic_stream *s = sud;

	(void)h3;
	(void)id;
	(void)cud;
	if (s && !s->body_ended) {
		s->body_ended = true;
		if (s->ops && s->ops->body_end)
			s->ops->body_end(s->h);
	}
	return 0;
}

static int h3_stop_sending(nghttp3_conn *h3, int64_t id, uint64_t app_error, void *cud, void *sud)
{
	struct quic_conn *c = cud;

	(void)h3;
	(void)sud;
	ngtcp2_conn_shutdown_stream_read(c->conn, 0, id, app_error);
	return 0;
}

static int h3_reset_stream(nghttp3_conn *h3, int64_t id, uint64_t app_error, void *cud, void *sud)
{
	struct quic_conn *c = cud;

	(void)h3;
	(void)sud;
	ngtcp2_conn_shutdown_stream_write(c->conn, 0, id, app_error);
	return 0;
}

static nghttp3_ssize h3_read_data(nghttp3_conn *h3, int64_t id, nghttp3_vec *vec, size_t veccnt,
                                  uint32_t *pflags, void *cud, void *sud)
{
	struct quic_stream *s = sud;
	bool eof = false;
	ssize_t n;

	(void)h3;
	(void)id;
	(void)cud;
	if (!s || !s->ops || !s->ops->read) {
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
		return 0;
	}
	n = s->ops->read(s->h, (struct quic_iov *)vec, veccnt > 64 ? 64 : (unsigned)veccnt, &eof);
	if (n == QUIC_BODY_WOULDBLOCK)
		return NGHTTP3_ERR_WOULDBLOCK;
	if (n < 0) {
		/* The body source failed: reset this exchange, keep the
		 * connection (ngtcp2 reports STREAM_SHUT_WR to the writer). */
		quic_stream_reset(s, NGHTTP3_H3_INTERNAL_ERROR);
		return NGHTTP3_ERR_WOULDBLOCK;
	}
	if (eof)
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
	return n;
}

static const nghttp3_callbacks quic_h3_callbacks = {
	.acked_stream_data = h3_acked_stream_data,
	.stream_close = h3_stream_close,
	.recv_data = h3_recv_data,
	.deferred_consume = h3_deferred_consume,
	.begin_headers = h3_begin_headers,
	.recv_header = h3_recv_header,
	.end_headers = h3_end_headers,
	.stop_sending = h3_stop_sending,
	.end_stream = h3_end_stream,
	.reset_stream = h3_reset_stream,
};

int quic_h3_setup(struct quic_conn *c)
{
	nghttp3_settings settings;
	int64_t ctrl, qenc, qdec;
	int rv;

	if (c->h3)
		return 0;
	if (ngtcp2_conn_get_streams_uni_left(c->conn) < 3)
		return -EPROTO; /* RFC 9114 6.2: the peer must allow 3 */
	nghttp3_settings_default(&settings);
	settings.qpack_max_dtable_capacity = 4096;
	settings.qpack_blocked_streams = 100;
	settings.max_field_section_size = QUIC_MAX_HEADER_BYTES;
	if (nghttp3_conn_server_new(&c->h3, &quic_h3_callbacks, &settings, NULL, c) != 0)
		return -ENOMEM;
	nghttp3_conn_set_max_client_streams_bidi(c->h3, c->max_streams_bidi);
	if (ngtcp2_conn_open_uni_stream(c->conn, &ctrl, NULL) != 0 ||
	    ngtcp2_conn_open_uni_stream(c->conn, &qenc, NULL) != 0 ||
	    ngtcp2_conn_open_uni_stream(c->conn, &qdec, NULL) != 0)
		return -EPROTO;
	rv = nghttp3_conn_bind_control_stream(c->h3, ctrl);
	if (rv == 0)
		rv = nghttp3_conn_bind_qpack_streams(c->h3, qenc, qdec);
	return rv == 0 ? 0 : -EPROTO;
}

void quic_h3_free(struct quic_conn *c)
{
	if (c->h3)
		nghttp3_conn_del(c->h3);
	c->h3 = NULL;
	while (c->streams)
		stream_free(c->streams, NGHTTP3_H3_REQUEST_CANCELLED);
}

int quic_h3_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t offset,
                             const uint8_t *data, size_t len, void *user_data, void *sud)
{
	struct quic_conn *c = user_data;
	nghttp3_ssize n;

	(void)conn;
	(void)offset;
	(void)sud;
	if (!c->h3)
		return 0;
	/* RFC 9001 9.2: part of these bytes came in 0-RTT and the handshake
	 * is not complete: a request they begin may be a replay. */
	c->rx_0rtt = flags & NGTCP2_STREAM_DATA_FLAG_0RTT;
	n = nghttp3_conn_read_stream(c->h3, id, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
	c->rx_0rtt = false;
	if (n < 0) {
		conn_app_error(c, (int)n);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	credit(c, id, (size_t)n);
	return 0;
}

int quic_h3_acked_stream_data_offset(ngtcp2_conn *conn, int64_t id, uint64_t offset, uint64_t len,
                                     void *user_data, void *sud)
{
	struct quic_conn *c = user_data;
	int rv;

	(void)conn;
	(void)offset;
	(void)sud;
	if (!c->h3)
		return 0;
	rv = nghttp3_conn_add_ack_offset(c->h3, id, len);
	if (rv != 0) {
		conn_app_error(c, rv);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

int quic_h3_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t app_error,
                         void *user_data, void *sud)
{
	struct quic_conn *c = user_data;
	int rv;

	(void)conn;
	(void)sud;
	if (!c->h3)
		return 0;
	if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
		app_error = NGHTTP3_H3_NO_ERROR;
	rv = nghttp3_conn_close_stream(c->h3, id, app_error);
	if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
		conn_app_error(c, rv);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	if (ngtcp2_is_bidi_stream(id) && !ngtcp2_conn_is_local_stream(c->conn, id))
		ngtcp2_conn_extend_max_streams_bidi(c->conn, 1);
	return 0;
}

/* The peer reset its side, or asked us to stop sending: either way the
 * request's reading ends (nghttp3 answers what it must). */
static int shutdown_read(struct quic_conn *c, int64_t id)
{
	int rv;

	if (!c->h3)
		return 0;
	rv = nghttp3_conn_shutdown_stream_read(c->h3, id);
	if (rv != 0) {
		conn_app_error(c, rv);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

int quic_h3_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size, uint64_t app_error,
                         void *user_data, void *sud)
{
	(void)conn;
	(void)final_size;
	(void)app_error;
	(void)sud;
	return shutdown_read(user_data, id);
}

int quic_h3_stream_stop_sending(ngtcp2_conn *conn, int64_t id, uint64_t app_error, void *user_data,
                                void *sud)
{
	(void)conn;
	(void)app_error;
	(void)sud;
	return shutdown_read(user_data, id);
}

int quic_h3_extend_max_remote_streams_bidi(ngtcp2_conn *conn, uint64_t max, void *user_data)
{
	struct quic_conn *c = user_data;

	(void)conn;
	if (c->h3)
		nghttp3_conn_set_max_client_streams_bidi(c->h3, max);
	return 0;
}

int quic_h3_extend_max_stream_data(ngtcp2_conn *conn, int64_t id, uint64_t max, void *user_data,
                                   void *sud)
{
	struct quic_conn *c = user_data;

	(void)conn;
	(void)max;
	(void)sud;
	if (c->h3 && nghttp3_conn_unblock_stream(c->h3, id) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

ngtcp2_ssize quic_h3_write_pkt(struct quic_conn *c, ngtcp2_path *path, ngtcp2_pkt_info *pi,
                               uint8_t *dst, size_t cap, uint64_t now)
{
	nghttp3_vec vec[16];

	for (;;) {
		int64_t id = -1;
		int fin = 0;
		nghttp3_ssize nv = 0;
		ngtcp2_ssize ndata, nw;
		uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
		int rv;

		if (c->h3 && ngtcp2_conn_get_max_data_left(c->conn)) {
			nv = nghttp3_conn_writev_stream(c->h3, &id, &fin, vec, 16);
			if (nv < 0) {
				conn_app_error(c, (int)nv);
				return NGTCP2_ERR_CALLBACK_FAILURE;
			}
		}
		if (fin)
			flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		nw = ngtcp2_conn_writev_stream(c->conn, path, pi, dst, cap, &ndata, flags, id,
		                               (const ngtcp2_vec *)vec, (size_t)nv, now);
		if (nw < 0) {
			switch (nw) {
			case NGTCP2_ERR_STREAM_DATA_BLOCKED:
				nghttp3_conn_block_stream(c->h3, id);
				continue;
			case NGTCP2_ERR_STREAM_SHUT_WR:
				nghttp3_conn_shutdown_stream_write(c->h3, id);
				continue;
			case NGTCP2_ERR_WRITE_MORE:
				rv = nghttp3_conn_add_write_offset(c->h3, id, (uint64_t)ndata);
				if (rv != 0) {
					conn_app_error(c, rv);
					return NGTCP2_ERR_CALLBACK_FAILURE;
				}
				continue;
			default:
				return nw;
			}
		}
		if (ndata >= 0 && c->h3) {
			rv = nghttp3_conn_add_write_offset(c->h3, id, (uint64_t)ndata);
			if (rv != 0) {
				conn_app_error(c, rv);
				return NGTCP2_ERR_CALLBACK_FAILURE;
			}
		}
		return nw;
	}
}

/* ---- the stream API of quic.h ---- */

void quic_stream_attach(struct quic_stream *s, const struct quic_handler_ops *ops, void *h)
{
	s->ops = ops;
	s->h = h;
}

int quic_stream_respond(struct quic_stream *s, unsigned status, const struct quic_header *hdrs,
                        unsigned n, bool with_body)
{
	struct quic_conn *c = s->qc;
	struct quic_counters *ctr = &c->srv->ctr;
	nghttp3_nv nva[33];
	nghttp3_data_reader dr = { .read_data = h3_read_data };
	char st[4];
	unsigned i;
	int rv;

	if (s->responded)
		return -EALREADY;
	if (status < 100 || status > 999 || n > 32 || !c->h3 || (with_body && !s->ops))
		return -EINVAL;
	snprintf(st, sizeof(st), "%u", status);
	nva[0] = (nghttp3_nv){ (const uint8_t *)":status", (const uint8_t *)st, 7, 3, 0 };
	for (i = 0; i < n; i++)
		nva[i + 1] = (nghttp3_nv){ (const uint8_t *)hdrs[i].name,
			                   (const uint8_t *)hdrs[i].value, hdrs[i].name_len,
			                   hdrs[i].value_len, 0 };
	rv = nghttp3_conn_submit_response(c->h3, s->id, nva, n + 1, with_body ? &dr : NULL);
	if (rv != 0)
		return rv == NGHTTP3_ERR_NOMEM ? -ENOMEM : -EINVAL;
	s->responded = true;
	if (status < 300)
		ctr->responses_2xx++;
	else if (status >= 400 && status < 500)
		ctr->responses_4xx++;
	else if (status >= 500)
		ctr->responses_5xx++;
	quic_pending_add(c->srv, c);
	return 0;
}

void quic_stream_resume(struct quic_stream *s)
{
	struct quic_conn *c = s->qc;

	if (c->h3 && nghttp3_conn_resume_stream(c->h3, s->id) != 0)
		quic_stream_reset(s, NGHTTP3_H3_INTERNAL_ERROR);
	quic_pending_add(c->srv, c);
}

void quic_stream_consume(struct quic_stream *s, size_t n)
{
	credit(s->qc, s->id, n);
	quic_pending_add(s->qc->srv, s->qc);
}

void quic_stream_reset(struct quic_stream *s, uint64_t app_error)
{
	struct quic_conn *c = s->qc;

	c->srv->ctr.streams_reset++;
	ngtcp2_conn_shutdown_stream(c->conn, 0, s->id, app_error);
	quic_pending_add(c->srv, c);
}
