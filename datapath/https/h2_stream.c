/* h2_stream: the handler's side of an HTTP/2 stream (contract in h2.h):
 * attach, respond, resume, consume, reset, and the data provider that
 * pulls response body iovecs from the handler for nghttp2 (the output
 * queue that frames them is in h2.c). Split from h2.c, one concern per
 * file (STYLE.md convention 5).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "datapath/https/h2.h"
#include "datapath/https/h2_internal.h"

/* ---- response body: data provider ---- */

static size_t stash_bytes(const struct h2_stream *s)
{
	size_t n = 0;
	unsigned i;

	for (i = s->iov_i; i < s->iov_n; i++)
		n += s->iov[i].len;
	return n - s->iov_off;
}

static ssize_t cb_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *dflags, nghttp2_data_source *src, void *ud)
{
	struct h2_stream *s = src->ptr;
	size_t avail;

	(void)ng;
	(void)id;
	(void)buf;
	(void)ud;
	if (s->iov_i == s->iov_n && !s->eof) {
		bool eof = false;
		ssize_t n = s->ops && s->ops->read ? s->ops->read(s->h, s, s->iov, H2_STREAM_IOV, &eof)
		                                   : -EPIPE;

		if (n == QUIC_BODY_WOULDBLOCK || (n == 0 && !eof)) {
			s->deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
		if (n < 0 || n > (ssize_t)H2_STREAM_IOV)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
		s->iov_i = 0;
		s->iov_n = (unsigned)n;
		s->iov_off = 0;
		s->eof = eof;
	}
	avail = stash_bytes(s);
	if (avail > length)
		avail = length;
	else if (s->eof)
		*dflags |= NGHTTP2_DATA_FLAG_EOF;
	if (avail)
		*dflags |= NGHTTP2_DATA_FLAG_NO_COPY;
	return (ssize_t)avail;
}

void h2_stream_attach(struct h2_stream *s, const struct h2_handler_ops *ops, void *h)
{
	s->ops = ops;
	s->h = h;
}

/* RFC 9113 8.2.2: connection-specific fields never go out on HTTP/2. */
static bool conn_specific(const struct quic_header *h)
{
	static const char *const names[] = { "connection", "keep-alive", "proxy-connection",
		                             "transfer-encoding", "upgrade" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (h->name_len == strlen(names[i]) && strncasecmp(h->name, names[i], h->name_len) == 0)
			return true;
	return false;
}

int h2_stream_respond(struct h2_stream *s, unsigned status, const struct quic_header *hdrs,
                      unsigned n, bool with_body)
{
	struct h2_conn *c = s->c;
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = cb_data_read };
	nghttp2_nv *nva;
	char st[4];
	unsigned i, k = 0;
	int rc;

	if (status < 200 || status > 599 || (n && !hdrs))
		return -EINVAL;
	if (s->responded)
		return -EALREADY;
	if (s->ng_closed)
		return -EPIPE;
	nva = malloc((n + 1) * sizeof(*nva));
	if (!nva)
		return -ENOMEM;
	snprintf(st, sizeof(st), "%u", status);
	nva[k++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE };
	for (i = 0; i < n; i++) {
		if (conn_specific(&hdrs[i]))
			continue;
		nva[k++] = (nghttp2_nv){ (uint8_t *)(uintptr_t)hdrs[i].name,
			                 (uint8_t *)(uintptr_t)hdrs[i].value, hdrs[i].name_len,
			                 hdrs[i].value_len, NGHTTP2_NV_FLAG_NONE };
	}
	/* HEAD: the header section only (RFC 9110 9.3.2). */
	rc = nghttp2_submit_response(c->ng, s->id, nva, k, with_body && !s->is_head ? &prd : NULL);
	free(nva);
	if (rc != 0)
		return rc == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EINVAL;
	s->responded = true;
	return 0;
}

void h2_stream_resume(struct h2_stream *s)
{
	if (!s->deferred || s->ng_closed)
		return;
	s->deferred = false;
	if (nghttp2_session_resume_data(s->c->ng, s->id) != 0)
		h2_stream_reset(s, H2_INTERNAL_ERROR);
}

void h2_stream_consume(struct h2_stream *s, size_t n)
{
	if (n > s->unconsumed)
		n = s->unconsumed;
	s->unconsumed -= n;
	if (!n)
		return;
	if (s->ng_closed) /* the stream is gone in nghttp2: connection credit only */
		nghttp2_session_consume_connection(s->c->ng, n);
	else
		nghttp2_session_consume(s->c->ng, s->id, n);
}

void h2_stream_reset(struct h2_stream *s, uint64_t app_error)
{
	if (s->ng_closed)
		return;
	nghttp2_submit_rst_stream(s->c->ng, NGHTTP2_FLAG_NONE, s->id, (uint32_t)app_error);
}

int32_t h2_stream_id(const struct h2_stream *s)
{
	return s->id;
}
