/* h3load's HTTP/3 client connections: ngtcp2 and nghttp3 callbacks, one
 * connected UDP socket each, requests issued and counted (h3load.h). */
#include "h3load.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void note_error(const char *fmt, ...)
{
	va_list ap;

	if (G.first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(G.first_error, sizeof(G.first_error), fmt, ap);
	va_end(ap);
}

static void rnd(void *p, size_t n)
{
	h3tls_rand(p, n);
}

/* ---- ngtcp2 callbacks ---- */

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	rnd(dest, len);
}

static int cb_new_cid(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *ud)
{
	(void)q;
	(void)ud;
	rnd(cid->data, cidlen);
	cid->datalen = cidlen;
	rnd(token, NGTCP2_STATELESS_RESET_TOKENLEN);
	return 0;
}

static int setup_h3(struct conn *c);

static int cb_handshake_completed(ngtcp2_conn *q, void *ud)
{
	struct conn *c = ud;

	(void)q;
	const char *group = h3tls_conn_group(c);

	c->st = C_OPEN;
	c->handshaked = true;
	G.handshakes_done++;
	G.hs_tx += c->hs_tx;
	G.hs_rx += c->hs_rx;
	G.hs_initials += c->hs_initials;
	if (!G.group[0])
		snprintf(G.group, sizeof(G.group), "%s", group);
	else if (strcmp(G.group, group))
		G.group_other++;
	return setup_h3(c) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t off,
                               const uint8_t *data, size_t len, void *ud, void *sud)
{
	struct conn *c = ud;
	nghttp3_ssize n;

	(void)off;
	(void)sud;
	if (!c->h3)
		return 0;
	n = nghttp3_conn_read_stream(c->h3, sid, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
	if (n < 0) {
		note_error("nghttp3_conn_read_stream: %s", nghttp3_strerror((int)n));
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	ngtcp2_conn_extend_max_stream_offset(q, sid, (uint64_t)n);
	ngtcp2_conn_extend_max_offset(q, (uint64_t)n);
	return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t off, uint64_t len, void *ud,
                                void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)off;
	(void)sud;
	if (c->h3 && nghttp3_conn_add_ack_offset(c->h3, sid, len))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t app_err, void *ud,
                           void *sud)
{
	struct conn *c = ud;
	int rv;

	(void)q;
	(void)sud;
	if (!c->h3)
		return 0;
	if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
		app_err = NGHTTP3_H3_NO_ERROR;
	rv = nghttp3_conn_close_stream(c->h3, sid, app_err);
	if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_stream_reset(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_err,
                           void *ud, void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)final_size;
	(void)app_err;
	(void)sud;
	if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_extend_max_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t max, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)max;
	(void)sud;
	if (c->h3 && nghttp3_conn_unblock_stream(c->h3, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

/* ---- nghttp3 callbacks ---- */

static void req_unlink(struct conn *c, struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->inflight--;
}

static void req_done(struct conn *c, struct req *r, bool ok)
{
	uint64_t t = now_ns();

	if (ok && r->status >= 200 && r->status < 300) {
		G.ok++;
		if (G.nlat == G.caplat) {
			size_t cap = G.caplat ? G.caplat * 2 : 4096;
			uint32_t *p = realloc(G.lat_us, cap * sizeof(*p));

			if (p) {
				G.lat_us = p;
				G.caplat = cap;
			}
		}
		if (G.nlat < G.caplat)
			G.lat_us[G.nlat++] = (uint32_t)((t - r->t0) / 1000);
	} else {
		G.failed++;
		if (ok)
			note_error("HTTP status %d", r->status);
	}
	G.t_end = t;
	req_unlink(c, r);
	free(r);
}

static int h3_stream_close(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;
	struct req *r = sud;

	(void)h;
	(void)sid;
	if (!r)
		return 0;
	if (app_err != NGHTTP3_H3_NO_ERROR)
		note_error("stream closed with H3 error 0x%" PRIx64, app_err);
	req_done(c, r, app_err == NGHTTP3_H3_NO_ERROR);
	return 0;
}

static int h3_recv_data(nghttp3_conn *h, int64_t sid, const uint8_t *data, size_t len, void *ud,
                        void *sud)
{
	struct conn *c = ud;
	struct req *r = sud;

	(void)h;
	(void)data;
	if (r)
		r->bytes += len;
	G.bytes += len;
	ngtcp2_conn_extend_max_stream_offset(c->q, sid, len);
	ngtcp2_conn_extend_max_offset(c->q, len);
	return 0;
}

static int h3_deferred_consume(nghttp3_conn *h, int64_t sid, size_t n, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_extend_max_stream_offset(c->q, sid, n);
	ngtcp2_conn_extend_max_offset(c->q, n);
	return 0;
}

static int h3_recv_header(nghttp3_conn *h, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
	struct req *r = sud;

	(void)h;
	(void)sid;
	(void)name;
	(void)flags;
	(void)ud;
	if (r && token == NGHTTP3_QPACK_TOKEN__STATUS) {
		nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
		int s = 0;

		for (size_t i = 0; i < v.len && v.base[i] >= '0' && v.base[i] <= '9'; i++)
			s = s * 10 + (v.base[i] - '0');
		r->status = s;
	}
	return 0;
}

static int h3_stop_sending(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_shutdown_stream_read(c->q, 0, sid, app_err);
	return 0;
}

static int h3_reset_stream(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_shutdown_stream_write(c->q, 0, sid, app_err);
	return 0;
}

static int setup_h3(struct conn *c)
{
	static const nghttp3_callbacks cbs = {
		.stream_close = h3_stream_close,
		.recv_data = h3_recv_data,
		.deferred_consume = h3_deferred_consume,
		.recv_header = h3_recv_header,
		.stop_sending = h3_stop_sending,
		.reset_stream = h3_reset_stream,
	};
	nghttp3_settings s;
	int64_t ctrl, enc, dec;

	nghttp3_settings_default(&s);
	if (nghttp3_conn_client_new(&c->h3, &cbs, &s, nghttp3_mem_default(), c))
		return -1;
	if (ngtcp2_conn_open_uni_stream(c->q, &ctrl, NULL) ||
	    nghttp3_conn_bind_control_stream(c->h3, ctrl) ||
	    ngtcp2_conn_open_uni_stream(c->q, &enc, NULL) ||
	    ngtcp2_conn_open_uni_stream(c->q, &dec, NULL) ||
	    nghttp3_conn_bind_qpack_streams(c->h3, enc, dec))
		return -1;
	return 0;
}

/* ---- connections ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct conn *)ref->user_data)->q;
}

int conn_open(struct conn *c)
{
	static const ngtcp2_callbacks cbs = {
		.client_initial = ngtcp2_crypto_client_initial_cb,
		.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
		.encrypt = ngtcp2_crypto_encrypt_cb,
		.decrypt = ngtcp2_crypto_decrypt_cb,
		.hp_mask = ngtcp2_crypto_hp_mask_cb,
		.recv_retry = ngtcp2_crypto_recv_retry_cb,
		.update_key = ngtcp2_crypto_update_key_cb,
		.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
		.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
		.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
		.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
		.rand = cb_rand,
		.get_new_connection_id = cb_new_cid,
		.handshake_completed = cb_handshake_completed,
		.recv_stream_data = cb_recv_stream_data,
		.acked_stream_data_offset = cb_acked_stream_data,
		.stream_close = cb_stream_close,
		.stream_reset = cb_stream_reset,
		.extend_max_stream_data = cb_extend_max_stream_data,
	};
	ngtcp2_settings st;
	ngtcp2_transport_params tp;
	ngtcp2_cid dcid, scid;
	int one = 1, buf = 4 << 20;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	memset(c, 0, sizeof(*c));
	c->fd = socket(G.dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(c->fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	c->rlen = G.dstlen;
	memcpy(&c->remote, &G.dst, G.dstlen);
	c->llen = sizeof(c->local);
	if (connect(c->fd, (struct sockaddr *)&c->remote, c->rlen) < 0 ||
	    getsockname(c->fd, (struct sockaddr *)&c->local, &c->llen) < 0) {
		note_error("connect: %s", strerror(errno));
		goto fail_fd;
	}
	c->path = (ngtcp2_path){
		.local = { (ngtcp2_sockaddr *)&c->local, c->llen },
		.remote = { (ngtcp2_sockaddr *)&c->remote, c->rlen },
	};

	dcid.datalen = 18;
	rnd(dcid.data, dcid.datalen);
	scid.datalen = 17;
	rnd(scid.data, scid.datalen);
	ngtcp2_settings_default(&st);
	st.initial_ts = now_ns();
	st.max_window = 64u << 20;
	st.max_stream_window = 32u << 20;
	st.handshake_timeout = 10 * NGTCP2_SECONDS;
	ngtcp2_transport_params_default(&tp);
	tp.initial_max_stream_data_bidi_local = 8u << 20;
	tp.initial_max_stream_data_uni = 256u << 10;
	tp.initial_max_data = 16u << 20;
	tp.initial_max_streams_bidi = 0;
	tp.initial_max_streams_uni = 3;
	tp.max_idle_timeout = 30 * NGTCP2_SECONDS;
	if (ngtcp2_conn_client_new(&c->q, &dcid, &scid, &c->path, NGTCP2_PROTO_VER_V1, &cbs, &st, &tp,
	                           NULL, c))
		goto fail_fd;

	c->ref = (ngtcp2_crypto_conn_ref){ get_conn, c };
	if (h3tls_conn_new(c))
		goto fail_q;

	if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail_tls;
	c->st = C_HANDSHAKE;
	c->t_open = now_ns();
	G.conns_opened++;
	return 0;

fail_tls:
	h3tls_conn_free(c);
fail_q:
	ngtcp2_conn_del(c->q);
fail_fd:
	close(c->fd);
	c->st = C_FREE;
	return -1;
}

/* conn_free: close the connection (with CONNECTION_CLOSE when it is still
 * alive), count its requests in flight as failed when it failed. */
void conn_free(struct conn *c, bool send_close)
{
	if (c->st == C_FREE)
		return;
	if (send_close && !ngtcp2_conn_in_closing_period(c->q) && !ngtcp2_conn_in_draining_period(c->q)) {
		uint8_t buf[TX_BUF];
		ngtcp2_ccerr cc;
		ngtcp2_path_storage ps;
		ngtcp2_ssize n;

		ngtcp2_ccerr_set_application_error(&cc, NGHTTP3_H3_NO_ERROR, NULL, 0);
		ngtcp2_path_storage_zero(&ps);
		n = ngtcp2_conn_write_connection_close(c->q, &ps.path, NULL, buf, sizeof(buf), &cc, now_ns());
		if (n > 0 && send(c->fd, buf, (size_t)n, 0) < 0) {
			/* best effort: the server's idle timeout ends it otherwise */
		}
	}
	/* Requests still in flight (nghttp3_conn_del does not report them)
	 * failed, unless the run's time is up and they were cut short. */
	if (!G.stop_issuing)
		G.failed += c->inflight;
	while (c->reqs) {
		struct req *r = c->reqs;

		req_unlink(c, r);
		free(r);
	}
	if (c->h3)
		nghttp3_conn_del(c->h3);
	ngtcp2_conn_del(c->q);
	h3tls_conn_free(c);
	close(c->fd);
	if (c->failed) {
		G.conn_errors++;
		/* A failed handshake costs the request it was opened for, so that
		 * a count-bounded run ends against a server that refuses. */
		if (!c->handshaked && !G.idle && !G.stop_issuing) {
			G.started++;
			G.failed++;
		}
	}
	c->st = C_FREE;
}

bool more_work(void)
{
	if (G.stop_issuing || G.idle)
		return false;
	if (G.duration > 0)
		return true;
	return G.started < G.requests;
}

static void submit_requests(struct conn *c)
{
	while (c->h3 && more_work() && c->inflight < G.streams &&
	       (!G.reqs_per_conn || c->issued < G.reqs_per_conn)) {
		const char *path = G.paths[G.started % G.npaths];
		nghttp3_nv nv[] = {
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP3_NV_FLAG_NO_COPY_NAME }
			NV(":method", "GET"),
			NV(":scheme", "https"),
			NV(":authority", G.authority),
			NV(":path", path),
			NV("user-agent", "h3load"),
#undef NV
		};
		struct req *r;
		int64_t sid;

		if (ngtcp2_conn_open_bidi_stream(c->q, &sid, NULL))
			return; /* stream limit: wait for MAX_STREAMS */
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->c = c;
		/* A connection's first request counts from the connection's
		 * start: with -r 1 the latency is handshake plus request. */
		r->t0 = c->issued ? now_ns() : c->t_open;
		if (nghttp3_conn_submit_request(c->h3, sid, nv, sizeof(nv) / sizeof(nv[0]), NULL, r)) {
			free(r);
			c->failed = true;
			return;
		}
		r->next = c->reqs;
		if (c->reqs)
			c->reqs->prev = r;
		c->reqs = r;
		c->inflight++;
		c->issued++;
		G.started++;
	}
}

/* conn_write: hand everything ngtcp2 and nghttp3 have to the socket. */
static int conn_write(struct conn *c)
{
	uint8_t buf[TX_BUF];
	uint64_t ts = now_ns();

	for (;;) {
		int64_t sid = -1;
		int fin = 0;
		nghttp3_vec vec[16];
		nghttp3_ssize nv = 0;
		ngtcp2_ssize nw, ndata = -1;
		uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

		if (c->h3 && ngtcp2_conn_get_max_data_left(c->q)) {
			nv = nghttp3_conn_writev_stream(c->h3, &sid, &fin, vec, 16);
			if (nv < 0) {
				note_error("nghttp3_conn_writev_stream: %s", nghttp3_strerror((int)nv));
				return -1;
			}
		}
		if (fin)
			flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		nw = ngtcp2_conn_writev_stream(c->q, NULL, NULL, buf, sizeof(buf), &ndata, flags, sid,
		                               (const ngtcp2_vec *)vec, (size_t)nv, ts);
		if (nw < 0) {
			switch (nw) {
			case NGTCP2_ERR_STREAM_DATA_BLOCKED:
				nghttp3_conn_block_stream(c->h3, sid);
				continue;
			case NGTCP2_ERR_STREAM_SHUT_WR:
				nghttp3_conn_shutdown_stream_write(c->h3, sid);
				continue;
			case NGTCP2_ERR_WRITE_MORE:
				if (nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndata))
					return -1;
				continue;
			}
			note_error("ngtcp2_conn_writev_stream: %s", ngtcp2_strerror((int)nw));
			return -1;
		}
		if (ndata >= 0 && nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndata))
			return -1;
		if (nw == 0)
			break;
		if (!c->handshaked) {
			c->hs_tx += (uint64_t)nw;
			/* RFC 9000 17.2: long header (0x80), type bits 0x30 = 0
			 * for an Initial in QUIC v1 */
			if ((buf[0] & 0x80) && !(buf[0] & 0x30))
				c->hs_initials++;
		}
		if (send(c->fd, buf, (size_t)nw, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED) {
			note_error("send: %s", strerror(errno));
			return -1;
		}
	}
	ngtcp2_conn_update_pkt_tx_time(c->q, ts);
	return 0;
}

/* conn_read: drain the socket; each read may carry many coalesced
 * datagrams (UDP_GRO), split at the segment size the kernel reports. */
int conn_read(struct conn *c)
{
	static uint8_t buf[RX_BUF];
	char ctrl[CMSG_SPACE(sizeof(int))];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
		                     .msg_controllen = sizeof(ctrl) };
		ssize_t n = recvmsg(c->fd, &mh, 0);
		size_t seg, off;
		struct cmsghdr *cm;
		uint64_t ts;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			note_error("recvmsg: %s", strerror(errno));
			return -1;
		}
		seg = (size_t)n;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
				int v;

				memcpy(&v, CMSG_DATA(cm), sizeof(v));
				if (v > 0)
					seg = (size_t)v;
			}
		ts = now_ns();
		for (off = 0; off < (size_t)n; off += seg) {
			size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
			ngtcp2_pkt_info pi = { 0 };
			int rv;

			if (!c->handshaked)
				c->hs_rx += len;
			rv = ngtcp2_conn_read_pkt(c->q, &c->path, &pi, buf + off, len, ts);

			if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
				c->st = C_DONE;
				if (!c->handshaked) {
					/* closed by the server before the handshake
					 * completed: a failed connection (so that a
					 * refusing server ends a count-bounded run),
					 * with the server's error (RFC 9001 4.8: a TLS
					 * alert is 0x100 + its code) */
					const ngtcp2_ccerr *e = ngtcp2_conn_get_ccerr(c->q);

					note_error("closed by the server during the handshake: error 0x%" PRIx64
					           " %.*s",
					           e->error_code, (int)(e->reasonlen < 60 ? e->reasonlen : 60),
					           e->reason ? (const char *)e->reason : "");
					c->failed = true;
				}
				return 0;
			}
			if (rv) {
				note_error("ngtcp2_conn_read_pkt: %s", ngtcp2_strerror(rv));
				return -1;
			}
		}
	}
}

void conn_step(struct conn *c)
{
	if (c->st == C_DONE)
		return;
	submit_requests(c);
	if (conn_write(c)) {
		c->failed = true;
		c->st = C_DONE;
	}
}
