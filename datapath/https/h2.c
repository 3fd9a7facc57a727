/* h2: HTTP/2 server connection over nghttp2, sans-IO (contract in h2.h).
 *
 * Output path: nghttp2_session_mem_send() gives control frames, copied into
 * the connection's stage buffer (they are small); DATA frames are produced
 * with NGHTTP2_DATA_FLAG_NO_COPY, so nghttp2 calls send_data() with the
 * 9-byte frame header only, and the payload goes out as iovecs pointing
 * into the handler's own buffers. A queue of segments (stage or handler
 * bytes) is what h2_conn_send() hands the driver; h2_conn_sent() pops it and
 * turns handler bytes into acked() calls.
 *
 * Abuse defences (each counted in struct h2_counters, each ending the
 * connection with GOAWAY where one can still be useful):
 *  - bad client preface (RFC 9113 3.4): nghttp2's BAD_CLIENT_MAGIC, closed
 *    at once, nothing is sent to a peer that does not speak HTTP/2;
 *  - rapid reset (CVE-2023-44487): RST_STREAMs received per window,
 *    GOAWAY ENHANCE_YOUR_CALM (nghttp2's own token bucket, 1000 / 33 per s,
 *    stays behind it as a backstop);
 *  - CONTINUATION flood and oversized header blocks (CVE-2024-27316,
 *    CVE-2024-28182): raw header block bytes are summed per block from
 *    frame headers, before HPACK decoding, plus nghttp2's
 *    max_continuations; decoded size over 4x max_header_bytes also ends it;
 *  - SETTINGS / PING floods with the peer not reading: nghttp2's
 *    max_outbound_ack bounds the queued ACKs (NGHTTP2_ERR_FLOODED), the
 *    connection is dropped without GOAWAY (the peer does not read);
 *  - empty DATA frames without END_STREAM per window (they cost us a frame
 *    each and no flow-control credit to the peer);
 *  - all of nghttp2's memory through a counting allocator, capped.
 *
 * The handler-facing stream calls (h2_stream_*) and the data provider
 * are in h2_stream.c; the objects both files share, in h2_internal.h.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "datapath/https/h2.h"
#include "datapath/https/h2_internal.h"

/* ---- memory ---- */

static bool charge(struct h2_conn *c, size_t n)
{
	if (c->mem_used + n > c->p.max_conn_mem)
		return false;
	c->mem_used += n;
	return true;
}

static void *mem_malloc(size_t size, void *ud)
{
	struct h2_conn *c = ud;
	void *p;

	if (!charge(c, size))
		return NULL;
	p = malloc(size);
	c->mem_used -= size;
	if (p)
		c->mem_used += malloc_usable_size(p);
	return p;
}

static void mem_free(void *ptr, void *ud)
{
	struct h2_conn *c = ud;

	if (ptr) {
		c->mem_used -= malloc_usable_size(ptr);
		free(ptr);
	}
}

static void *mem_calloc(size_t nmemb, size_t size, void *ud)
{
	struct h2_conn *c = ud;
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	p = mem_malloc(nmemb * size, ud);
	if (p)
		memset(p, 0, nmemb * size);
	(void)c;
	return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
	struct h2_conn *c = ud;
	size_t old = ptr ? malloc_usable_size(ptr) : 0;
	void *p;

	if (size > old && !charge(c, size - old))
		return NULL;
	if (size > old)
		c->mem_used -= size - old;
	p = realloc(ptr, size);
	if (!p)
		return NULL;
	c->mem_used = c->mem_used - old + malloc_usable_size(p);
	return p;
}

/* ---- connection end ---- */

static bool abuse(enum h2_end e)
{
	return e != H2_END_NONE && e != H2_END_IDLE;
}

/* A connection error of the peer: GOAWAY with `code` and close after it
 * left, or at once when `now_dead` (the peer does not read, or does not
 * speak HTTP/2). The first reason is the one kept. */
static void conn_end(struct h2_conn *c, enum h2_end why, uint32_t code, bool now_dead)
{
	if (c->state == H2_DEAD || c->state == H2_ENDING)
		return;
	c->end = why;
	c->p.ctr->ended[why]++;
	if (abuse(why)) {
		c->p.ctr->abuse_rx_frames += c->rx_frames;
		c->p.ctr->abuse_rx_bytes += c->rx_bytes;
	}
	if (now_dead || nghttp2_session_terminate_session(c->ng, code) != 0) {
		c->state = H2_DEAD;
		return;
	}
	c->state = H2_ENDING;
	c->deadline_at = c->now + H2_LINGER_NS;
}

/* ---- streams ---- */

static void stream_free(struct h2_stream *s, uint64_t code)
{
	struct h2_conn *c = s->c;

	if (s->unconsumed && c->ng) /* return credit the handler never used */
		nghttp2_session_consume_connection(c->ng, s->unconsumed);
	if (s->ops && s->ops->close)
		s->ops->close(s->h, s, code);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->n_streams--;
	if (s->hbuf)
		c->mem_used -= malloc_usable_size(s->hbuf);
	free(s->hbuf);
	free(s->hdrs);
	free(s);
}

static void stream_closed(struct h2_stream *s, uint64_t code)
{
	s->ng_closed = true;
	s->close_code = code;
	if (s->queued == 0)
		stream_free(s, code);
	/* else: freed by h2_conn_sent() once its queued bytes were taken */
}

static size_t append(struct h2_stream *s, const uint8_t *p, size_t n)
{
	struct h2_conn *c = s->c;
	size_t cap = (size_t)c->p.max_header_bytes;
	size_t off = s->hlen;

	if (s->hlen + n + 1 > cap) {
		s->hdr_overflow = true;
		return SIZE_MAX;
	}
	if (!s->hbuf) {
		if (!charge(c, cap) || !(s->hbuf = malloc(cap))) {
			s->hdr_overflow = true;
			return SIZE_MAX;
		}
		c->mem_used += malloc_usable_size(s->hbuf) - cap;
	}
	memcpy(s->hbuf + s->hlen, p, n);
	s->hbuf[s->hlen + n] = 0;
	s->hlen += n + 1;
	return off;
}

static const char *field(const struct h2_stream *s, size_t off)
{
	return off == SIZE_MAX ? NULL : s->hbuf + off;
}

/* ---- nghttp2 callbacks: input ---- */

static void window_roll(struct h2_conn *c)
{
	if (c->now - c->win_start >= c->p.rst_window_ns) {
		c->win_start = c->now;
		c->win_rst = c->win_empty = 0;
	}
}

static int cb_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud)
{
	struct h2_conn *c = ud;

	(void)ng;
	c->rx_frames++;
	switch (hd->type) {
	case NGHTTP2_HEADERS:
		c->block_bytes = hd->length;
		break;
	case NGHTTP2_CONTINUATION:
		c->block_bytes += hd->length;
		break;
	default:
		return 0;
	}
	/* Checked on the frame header, before any HPACK work (CVE-2024-27316). */
	if (c->block_bytes > c->p.max_header_block && !c->p.test_no_header_block_limit) {
		conn_end(c, H2_END_HEADER_BLOCK, H2_ENHANCE_YOUR_CALM, false);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int cb_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers: no new stream */
	if (!charge(c, sizeof(*s)) || !(s = calloc(1, sizeof(*s)))) {
		nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id, H2_REFUSED_STREAM);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	c->mem_used -= sizeof(*s);
	s->c = c;
	s->id = f->hd.stream_id;
	s->method_off = s->scheme_off = s->authority_off = s->path_off = s->host_off = SIZE_MAX;
	s->content_length = -1;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->n_streams++;
	if (nghttp2_session_set_stream_user_data(ng, s->id, s) != 0) {
		stream_free(s, H2_INTERNAL_ERROR);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static bool name_is(const uint8_t *n, size_t nl, const char *lit)
{
	return nl == strlen(lit) && memcmp(n, lit, nl) == 0;
}

static int cb_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s;
	size_t *slot = NULL, vo;

	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (!s || s->headers_done)
		return 0; /* trailers: decoded (HPACK state) and dropped */
	s->hdr_bytes += namelen + valuelen + 32;
	/* HPACK can decode far more than it read (indexed fields): a hard cap
	 * on the decoded size too. */
	if (s->hdr_bytes > 4ull * c->p.max_header_bytes && !c->p.test_no_header_block_limit) {
		conn_end(c, H2_END_HEADER_BLOCK, H2_ENHANCE_YOUR_CALM, false);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (s->hdr_overflow)
		return 0;
	if (s->hdr_bytes > c->p.max_header_bytes) {
		s->hdr_overflow = true;
		return 0;
	}
	/* nghttp2 already checked the pseudo-headers (RFC 9113 8.3: known,
	 * once, before regular fields), lowercase names, and refused
	 * connection-specific fields (8.2.2) with a stream error. */
	if (namelen > 0 && name[0] == ':') {
		if (name_is(name, namelen, ":method"))
			slot = &s->method_off;
		else if (name_is(name, namelen, ":scheme"))
			slot = &s->scheme_off;
		else if (name_is(name, namelen, ":authority"))
			slot = &s->authority_off;
		else if (name_is(name, namelen, ":path"))
			slot = &s->path_off;
		if (slot)
			*slot = append(s, value, valuelen);
		if (name_is(name, namelen, ":method") && name_is(value, valuelen, "HEAD"))
			s->is_head = true;
		return 0;
	}
	if (s->n_hdrs >= c->p.max_headers) {
		s->hdr_overflow = true;
		return 0;
	}
	if (s->n_hdrs == s->hdrs_cap) {
		unsigned cap = s->hdrs_cap ? s->hdrs_cap * 2 : 16;
		struct quic_header *h;

		if (cap > c->p.max_headers)
			cap = c->p.max_headers;
		h = realloc(s->hdrs, cap * sizeof(*h));
		if (!h) {
			s->hdr_overflow = true;
			return 0;
		}
		s->hdrs = h;
		s->hdrs_cap = cap;
	}
	/* offsets now, pointers at the end (hbuf never moves, but it may not
	 * exist yet) */
	s->hdrs[s->n_hdrs].name = (const char *)(uintptr_t)append(s, name, namelen);
	vo = append(s, value, valuelen);
	if (s->hdr_overflow)
		return 0;
	s->hdrs[s->n_hdrs].name_len = namelen;
	s->hdrs[s->n_hdrs].value = (const char *)(uintptr_t)vo;
	s->hdrs[s->n_hdrs].value_len = valuelen;
	s->n_hdrs++;
	if (name_is(name, namelen, "host"))
		s->host_off = vo;
	else if (name_is(name, namelen, "content-length")) {
		char *end;
		long long cl = strtoll(s->hbuf + vo, &end, 10);

		if (*end == 0 && cl >= 0)
			s->content_length = cl;
	}
	return 0;
}

static void refuse(struct h2_stream *s, unsigned status)
{
	struct h2_conn *c = s->c;

	if (c->p.on_answer) { /* the access log's line (h2.h) */
		const char *auth = field(s, s->authority_off);
		struct quic_request req = {
			.method = field(s, s->method_off),
			.scheme = field(s, s->scheme_off),
			.authority = auth ? auth : field(s, s->host_off),
			.path = field(s, s->path_off),
			.sni = c->sni,
			.peer = c->peer,
			.worker_id = c->p.worker_id,
		};
		c->p.on_answer(c->p.answer_ctx, &req, status);
	}
	if (h2_stream_respond(s, status, NULL, 0, false) < 0)
		h2_stream_reset(s, H2_INTERNAL_ERROR);
}

static void request(struct h2_conn *c, struct h2_stream *s, bool fin)
{
	struct quic_request req;
	const char *auth, *host;
	unsigned i;
	int rc;

	s->headers_done = true;
	c->p.ctr->requests++;
	if (s->hdr_overflow) {
		c->p.ctr->headers_too_large++;
		refuse(s, 431);
		return;
	}
	for (i = 0; i < s->n_hdrs; i++) {
		s->hdrs[i].name = s->hbuf + (uintptr_t)s->hdrs[i].name;
		s->hdrs[i].value = s->hbuf + (uintptr_t)s->hdrs[i].value;
	}
	auth = field(s, s->authority_off);
	host = field(s, s->host_off);
	/* RFC 9113 8.3.1: Host differing from :authority is malformed. */
	if (auth && host && strcasecmp(auth, host) != 0) {
		c->p.ctr->streams_refused_malformed++;
		h2_stream_reset(s, H2_PROTOCOL_ERROR);
		return;
	}
	if (!auth)
		auth = host;
	if (!field(s, s->method_off) || !field(s, s->path_off) || !auth) {
		c->p.ctr->streams_refused_malformed++;
		refuse(s, 400);
		return;
	}
	req = (struct quic_request){
		.method = field(s, s->method_off),
		.scheme = field(s, s->scheme_off),
		.authority = auth,
		.path = field(s, s->path_off),
		.headers = s->hdrs,
		.n_headers = s->n_hdrs,
		.content_length = s->content_length,
		.has_body = !fin,
		.sni = c->sni,
		.peer = c->peer,
		.worker_id = c->p.worker_id,
	};
	rc = c->p.on_request(c->p.request_ctx, s, &req);
	free(s->hdrs);
	s->hdrs = NULL;
	s->n_hdrs = s->hdrs_cap = 0;
	if (rc < 0)
		h2_stream_reset(s, H2_INTERNAL_ERROR);
}

static void body_end(struct h2_stream *s)
{
	if (!s->body_ended) {
		s->body_ended = true;
		if (s->ops && s->ops->body_end)
			s->ops->body_end(s->h, s);
	}
}

static int cb_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = f->hd.stream_id ? nghttp2_session_get_stream_user_data(ng, f->hd.stream_id) : NULL;
	bool fin = f->hd.flags & NGHTTP2_FLAG_END_STREAM;

	switch (f->hd.type) {
	case NGHTTP2_HEADERS:
		if (!s)
			return 0;
		if (!s->headers_done && f->headers.cat == NGHTTP2_HCAT_REQUEST)
			request(c, s, fin);
		/* the handler may have reset it: look again */
		s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
		if (s && fin)
			body_end(s);
		return 0;
	case NGHTTP2_DATA:
		if (f->hd.length == 0 && !fin && !c->p.test_no_empty_data_limit) {
			window_roll(c);
			if (++c->win_empty > c->p.max_empty_data) {
				conn_end(c, H2_END_EMPTY_DATA, H2_ENHANCE_YOUR_CALM, false);
				return NGHTTP2_ERR_CALLBACK_FAILURE;
			}
		}
		if (s && fin)
			body_end(s);
		return 0;
	case NGHTTP2_RST_STREAM:
		c->p.ctr->streams_reset_by_peer++;
		if (c->p.test_no_rst_limit)
			return 0;
		window_roll(c);
		if (++c->win_rst > c->p.rst_max) {
			conn_end(c, H2_END_RAPID_RESET, H2_ENHANCE_YOUR_CALM, false);
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		return 0;
	default:
		return 0;
	}
}

static int cb_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
	struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);

	(void)flags;
	(void)ud;
	if (!s || !s->ops || !s->ops->body || s->ng_closed) {
		nghttp2_session_consume(ng, id, len); /* nobody wants it */
		return 0;
	}
	s->unconsumed += len;
	if (s->ops->body(s->h, s, data, len) < 0)
		h2_stream_reset(s, H2_INTERNAL_ERROR);
	return 0;
}

static int cb_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);

	(void)ud;
	if (s) {
		nghttp2_session_set_stream_user_data(ng, id, NULL);
		stream_closed(s, code);
	}
	return 0;
}

static int cb_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int lib_error, void *ud)
{
	struct h2_conn *c = ud;

	(void)ng;
	(void)f;
	/* malformed requests (RFC 9113 8.1.1): nghttp2 resets the stream */
	if (lib_error == NGHTTP2_ERR_HTTP_HEADER || lib_error == NGHTTP2_ERR_HTTP_MESSAGING)
		c->p.ctr->streams_refused_malformed++;
	return 0;
}

/* ---- nghttp2 callbacks: output ---- */

static void stage_push(struct h2_conn *c, const uint8_t *p, size_t len)
{
	uint8_t *dst = c->stage + c->stage_len;

	memcpy(dst, p, len);
	c->stage_len += len;
	segq_push(&c->q, dst, len, NULL);
}

static int cb_send_data(nghttp2_session *ng, nghttp2_frame *f, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *ud)
{
	struct h2_conn *c = ud;
	struct h2_stream *s = src->ptr;

	(void)ng;
	/* No padding is ever selected (no select_padding callback). */
	if (f->data.padlen != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (c->stage_len + 9 > H2_STAGE || !segq_room(&c->q, 1 + H2_STREAM_IOV))
		return NGHTTP2_ERR_WOULDBLOCK; /* called again once the queue drained */
	stage_push(c, framehd, 9);
	s->queued += length;
	while (length) {
		const struct quic_iov *v = &s->iov[s->iov_i];
		size_t take = v->len - s->iov_off;

		if (take > length)
			take = length;
		segq_push(&c->q, v->base + s->iov_off, take, s);
		s->iov_off += take;
		length -= take;
		if (s->iov_off == v->len) {
			s->iov_i++;
			s->iov_off = 0;
		}
	}
	while (s->iov_i < s->iov_n && s->iov[s->iov_i].len == 0)
		s->iov_i++;
	return 0;
}

/* ---- connection ---- */

static void defaults(struct h2_params *p)
{
#define DEF(f, v) if (!p->f) p->f = (v)
	DEF(max_concurrent_streams, 100);
	DEF(max_header_bytes, 16384);
	DEF(max_headers, 100);
	DEF(max_header_block, 65536);
	DEF(max_continuations, 8);
	DEF(stream_window, 262144);
	DEF(conn_window, 1048576);
	DEF(rst_max, 100);
	DEF(max_empty_data, 100);
	DEF(rst_window_ns, 1000000000ull);
	DEF(max_outbound_ack, 100);
	DEF(max_settings, 32);
	DEF(max_conn_mem, 4u << 20);
	DEF(idle_timeout_ns, 60000000000ull);
	DEF(shutdown_timeout_ns, 30000000000ull);
#undef DEF
}

int h2_conn_new(const struct h2_params *p, const char *sni, const rg_sockaddr *peer,
                uint64_t now, struct h2_conn **out)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	struct h2_conn *c;
	nghttp2_settings_entry iv[5];
	int rc = -ENOMEM;

	if (!p || !p->on_request || !p->ctr || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	segq_init(&c->q, c->segs, H2_SEGS);
	c->p = *p;
	defaults(&c->p);
	c->sni = sni;
	c->peer = peer;
	c->now = c->last_rx = c->win_start = now;
	c->deadline_at = RG_NO_DEADLINE;
	c->mem = (nghttp2_mem){ .mem_user_data = c, .malloc = mem_malloc, .free = mem_free,
	                        .calloc = mem_calloc, .realloc = mem_realloc };
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto fail;
	nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, cb_begin_frame);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, cb_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cb_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_stream_close);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, cb_invalid_frame);
	nghttp2_session_callbacks_set_send_data_callback(cbs, cb_send_data);
	/* Credit only for consumed bytes (h2_stream_consume). */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_max_outbound_ack(opt, c->p.max_outbound_ack);
	nghttp2_option_set_max_settings(opt, c->p.max_settings);
	nghttp2_option_set_max_continuations(opt, c->p.max_continuations);
	/* nghttp2's own rapid-reset bucket stays as a backstop behind ours. */
	nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
	if (nghttp2_session_server_new3(&c->ng, cbs, c, opt, &c->mem) != 0)
		goto fail;
	iv[0] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->p.max_concurrent_streams };
	iv[1] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, c->p.stream_window };
	iv[2] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, c->p.max_header_bytes };
	iv[3] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 };
	iv[4] = (nghttp2_settings_entry){ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 };
	if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 5) != 0 ||
	    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
	                                          (int32_t)c->p.conn_window) != 0)
		goto fail;
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	c->p.ctr->conns_opened++;
	*out = c;
	return 0;
fail:
	if (c->ng)
		nghttp2_session_del(c->ng);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	free(c);
	return rc;
}

void h2_conn_free(struct h2_conn *c)
{
	if (!c)
		return;
	/* nghttp2_session_del calls no callbacks: close our streams after. */
	nghttp2_session_del(c->ng);
	c->ng = NULL;
	while (c->streams) {
		struct h2_stream *s = c->streams;

		stream_free(s, s->ng_closed ? s->close_code : H2_CANCEL);
	}
	c->p.ctr->conns_closed++;
	free(c);
}

int h2_conn_recv(struct h2_conn *c, const uint8_t *data, size_t len, uint64_t now)
{
	ssize_t r;

	c->now = now;
	if (c->state == H2_ENDING || c->state == H2_DEAD)
		return -EPIPE;
	c->last_rx = now;
	r = nghttp2_session_mem_recv(c->ng, data, len);
	c->rx_bytes += r > 0 ? (uint64_t)r : len;
	if (r >= 0)
		return 0;
	switch (r) {
	case NGHTTP2_ERR_CALLBACK_FAILURE:
		/* one of ours, already ended; else an unexpected failure */
		conn_end(c, H2_END_PROTOCOL, H2_INTERNAL_ERROR, false);
		break;
	case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
		conn_end(c, H2_END_BAD_PREFACE, H2_PROTOCOL_ERROR, true);
		break;
	case NGHTTP2_ERR_FLOODED:
		conn_end(c, H2_END_ACK_FLOOD, H2_ENHANCE_YOUR_CALM, true);
		break;
	case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
		conn_end(c, H2_END_CONTINUATIONS, H2_ENHANCE_YOUR_CALM, false);
		break;
	case NGHTTP2_ERR_TOO_MANY_SETTINGS:
		conn_end(c, H2_END_SETTINGS, H2_ENHANCE_YOUR_CALM, false);
		break;
	case NGHTTP2_ERR_NOMEM:
		conn_end(c, H2_END_MEMORY, H2_ENHANCE_YOUR_CALM, true);
		break;
	default:
		conn_end(c, H2_END_PROTOCOL, H2_PROTOCOL_ERROR, false);
		break;
	}
	return 0;
}

/* Serialize what nghttp2 has into the segment queue. */
static int fill(struct h2_conn *c)
{
	while (!c->hold && segq_room(&c->q, 2 + H2_STREAM_IOV)) {
		const uint8_t *p;
		ssize_t r = nghttp2_session_mem_send(c->ng, &p);

		if (r < 0) {
			conn_end(c, r == NGHTTP2_ERR_NOMEM ? H2_END_MEMORY : H2_END_PROTOCOL,
			         H2_INTERNAL_ERROR, true);
			return r == NGHTTP2_ERR_NOMEM ? -ENOMEM : 0;
		}
		if (r == 0)
			break;
		if ((size_t)r <= H2_STAGE - c->stage_len) {
			stage_push(c, p, (size_t)r);
		} else {
			/* valid until the next mem_send: none until it was taken */
			segq_push(&c->q, p, (size_t)r, NULL);
			c->hold = true;
		}
	}
	return 0;
}

int h2_conn_send(struct h2_conn *c, struct iovec *iov, unsigned n, uint64_t now)
{
	int rc;

	c->now = now;
	if (c->state == H2_DEAD)
		return 0;
	rc = fill(c);
	if (rc < 0)
		return rc;
	if (c->state == H2_DEAD)
		return 0;
	return (int)segq_iov(&c->q, iov, n);
}

void h2_conn_sent(struct h2_conn *c, size_t n)
{
	size_t take;
	void *tag;

	while ((take = segq_take(&c->q, &n, &tag)) != 0) {
		struct h2_stream *s = tag;

		if (s) {
			s->queued -= take;
			if (s->ops && s->ops->acked)
				s->ops->acked(s->h, s, take);
			if (s->queued == 0 && s->ng_closed)
				stream_free(s, s->close_code);
		}
	}
	if (c->q.n == 0) {
		c->stage_len = 0;
		c->hold = false;
	}
}

uint64_t h2_conn_next_expiry(const struct h2_conn *c)
{
	switch (c->state) {
	case H2_OPEN:
		return c->n_streams ? RG_NO_DEADLINE : c->last_rx + c->p.idle_timeout_ns;
	case H2_DRAINING:
	case H2_ENDING:
		return c->deadline_at;
	default:
		return RG_NO_DEADLINE;
	}
}

void h2_conn_handle_expiry(struct h2_conn *c, uint64_t now)
{
	c->now = now;
	if (now < h2_conn_next_expiry(c))
		return;
	if (c->state == H2_OPEN) {
		/* idle: a graceful GOAWAY (RFC 9113 9.1) */
		c->end = H2_END_IDLE;
		c->p.ctr->ended[H2_END_IDLE]++;
		h2_conn_shutdown(c, now);
		return;
	}
	c->state = H2_DEAD;
}

void h2_conn_shutdown(struct h2_conn *c, uint64_t now)
{
	c->now = now;
	if (c->state != H2_OPEN)
		return;
	c->p.ctr->goaway_graceful++;
	/* RFC 9113 6.8: the last stream id we will process; streams above it
	 * are ignored by nghttp2 from now on (the client retries them). */
	if (nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE,
	                          nghttp2_session_get_last_proc_stream_id(c->ng), H2_NO_ERROR,
	                          NULL, 0) != 0) {
		c->state = H2_DEAD;
		return;
	}
	c->state = H2_DRAINING;
	c->deadline_at = now + c->p.shutdown_timeout_ns;
}

bool h2_conn_done(const struct h2_conn *c)
{
	if (c->state == H2_DEAD)
		return true;
	if (c->q.n)
		return false;
	return !nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng);
}

enum h2_end h2_conn_end_reason(const struct h2_conn *c)
{
	return c->end;
}

uint64_t h2_conn_rx_frames(const struct h2_conn *c)
{
	return c->rx_frames;
}

uint64_t h2_conn_rx_bytes(const struct h2_conn *c)
{
	return c->rx_bytes;
}

unsigned h2_conn_streams(const struct h2_conn *c)
{
	return c->n_streams;
}

size_t h2_conn_mem(const struct h2_conn *c)
{
	return c->mem_used;
}

size_t h2_conn_outq(const struct h2_conn *c)
{
	return nghttp2_session_get_outbound_queue_size(c->ng);
}
