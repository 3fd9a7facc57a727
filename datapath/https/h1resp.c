/* h1resp: the response side of h1conn (contract in h1conn.h, shared state
 * in h1conn_internal.h): the output queue of segments, response heads and
 * the connection's own error answers, chunk framing around the handler's
 * body bytes, and the iovecs h1_conn_send() hands to the driver.
 *
 * Output: a queue of segments, each in the output buffer or in the
 * handler's response body (zero copy; chunk framing is written into the
 * output buffer between them). h1_conn_sent() pops it and turns body bytes
 * into acked() calls.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "datapath/https/h1conn_internal.h"

/* ---- the output queue ---- */

/* Append to the output buffer and queue it; false when it does not fit. */
static bool out_put(struct h1_conn *c, const void *p, size_t len)
{
	if (len > c->out_cap - c->out_len || !segq_room(&c->q, 1))
		return false;
	memcpy(c->out + c->out_len, p, len);
	segq_push(&c->q, c->out + c->out_len, len, NULL);
	c->out_len += len;
	return true;
}

static bool out_str(struct h1_conn *c, const char *s)
{
	return out_put(c, s, strlen(s));
}

static bool name_is(const char *n, size_t nl, const char *lower)
{
	return nl == strlen(lower) && strncasecmp(n, lower, nl) == 0;
}

static const char *reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 425: return "Too Early";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return ""; /* reason-phrase may be empty (RFC 9112 4) */
	}
}

static bool out_extras(struct h1_conn *c)
{
	for (unsigned i = 0; i < c->p.n_extra; i++) {
		const struct quic_header *x = &c->p.extra_headers[i];

		if (!out_put(c, x->name, x->name_len) || !out_str(c, ": ") ||
		    !out_put(c, x->value, x->value_len) || !out_str(c, "\r\n"))
			return false;
	}
	return true;
}

/* RFC 9110 10.1.1: the interim answer to "Expect: 100-continue"; best
 * effort, like every write of the output buffer that may not fit. */
void h1resp_continue(struct h1_conn *c)
{
	out_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
}

void h1resp_drop_queue(struct h1_conn *c)
{
	segq_clear(&c->q);
	c->out_len = 0;
}

bool h1resp_body_queued(const struct h1_conn *c)
{
	return segq_any_tagged(&c->q);
}

/* ---- the connection's own answers ---- */

/* The connection answers by itself, with a small body, and closes after:
 * a refused head, a timeout, a handler failure before its response. */
void h1resp_answer_and_close(struct h1_conn *c, unsigned status, const char *why)
{
	char head[160], body[128];
	int bl;

	bl = snprintf(body, sizeof(body), "%u %s%s%s\n", status, reason(status), why ? ": " : "",
	              why ? why : "");
	snprintf(head, sizeof(head),
	         "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
	         "Connection: close\r\n",
	         status, reason(status), bl);
	/* a 100 Continue may be queued before it; nothing else is */
	if (!out_str(c, head) || !out_extras(c) || !out_str(c, "\r\n") || !out_put(c, body, (size_t)bl)) {
		h1resp_drop_queue(c);
		c->state = H1S_DEAD;
		return;
	}
	c->state = H1S_CLOSING;
}

/* ---- response bodies, the send side ---- */

/* Ask the handler for body bytes and queue them with their framing. */
static void fill(struct h1_conn *c)
{
	struct h1_stream *s = &c->st;

	while (s->active && s->want_body && !s->blocked && !s->resp_done && !s->err &&
	       segq_room(&c->q, H1_READ_IOV + 3) && c->out_cap - c->out_len >= H1_FRAME_ROOM) {
		struct quic_iov iov[H1_READ_IOV];
		bool eof = false;
		ssize_t r;
		size_t total = 0;
		unsigned i, k;

		c->depth++;
		r = s->ops->read(s->h, s, iov, H1_READ_IOV, &eof);
		c->depth--;
		if (s->err || !s->active)
			return;
		if (r == QUIC_BODY_WOULDBLOCK) {
			s->blocked = true;
			return;
		}
		if (r < 0 || (r == 0 && !eof) || r > (ssize_t)H1_READ_IOV) {
			h1conn_stream_fail(c, r < 0 ? (uint64_t)-r : 1, 0, NULL);
			return;
		}
		k = (unsigned)r;
		for (i = 0; i < k; i++) {
			if (s->frame == F_LENGTH && iov[i].len > s->resp_left - total) {
				/* more than its Content-Length: cut, close after */
				iov[i].len = (size_t)(s->resp_left - total);
				s->broken = true;
			}
			total += iov[i].len;
		}
		if (s->frame == F_CHUNKED && total) {
			char hx[24];

			snprintf(hx, sizeof(hx), "%zx\r\n", total);
			out_str(c, hx);
		}
		for (i = 0; i < k; i++)
			segq_push(&c->q, iov[i].base, iov[i].len, s);
		if (s->frame == F_CHUNKED && total)
			out_str(c, "\r\n");
		if (s->frame == F_LENGTH)
			s->resp_left -= total;
		if (eof) {
			if (s->frame == F_CHUNKED)
				out_str(c, "0\r\n\r\n"); /* no trailers (RFC 9112 7.1.2) */
			if (s->frame == F_LENGTH && s->resp_left)
				s->broken = true; /* shorter than announced */
			s->resp_done = true;
		} else if (s->broken) {
			s->resp_done = true;
		}
	}
}

int h1_conn_send(struct h1_conn *c, struct iovec *iov, unsigned n, uint64_t now)
{
	c->now = now;
	if (c->state == H1S_DEAD)
		return 0;
	h1conn_pump(c);
	fill(c);
	h1conn_settle(c);
	if (c->state == H1S_DEAD)
		return 0;
	return (int)segq_iov(&c->q, iov, n);
}

void h1_conn_sent(struct h1_conn *c, size_t n)
{
	struct h1_stream *s = &c->st;
	size_t take;
	void *body;

	while ((take = segq_take(&c->q, &n, &body)) != 0) {
		if (body && s->active && s->ops && s->ops->acked) {
			c->depth++;
			s->ops->acked(s->h, s, take);
			c->depth--;
		}
	}
	if (c->q.n == 0) {
		segq_clear(&c->q);
		c->out_len = 0;
	}
	h1conn_settle(c);
}

/* ---- response heads ---- */

/* Fields that describe the connection or the framing, which this layer
 * decides (RFC 9110 7.6.1, RFC 9112 6): never taken from the handler. */
static bool hop_field(const struct quic_header *h)
{
	return name_is(h->name, h->name_len, "connection") || name_is(h->name, h->name_len, "keep-alive") ||
	       name_is(h->name, h->name_len, "proxy-connection") ||
	       name_is(h->name, h->name_len, "transfer-encoding") || name_is(h->name, h->name_len, "upgrade");
}

static bool parse_len(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (!n || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

int h1_stream_respond(struct h1_stream *s, unsigned status, const struct quic_header *hdrs, unsigned n,
                      bool with_body)
{
	struct h1_conn *c = s->c;
	bool no_body, have_len = false, keep;
	uint64_t len = 0;
	size_t mark_len = c->out_len;
	unsigned mark_sn = c->q.n;
	char line[64];
	unsigned i;

	if (status < 200 || status > 599 || (n && !hdrs))
		return -EINVAL;
	if (s->responded)
		return -EALREADY;
	if (!s->active || s->err || c->state != H1S_REQ)
		return -EPIPE;
	/* RFC 9110 6.4.1: HEAD, 204 and 304 have no content */
	no_body = s->is_head || status == 204 || status == 304;
	for (i = 0; i < n; i++)
		if (name_is(hdrs[i].name, hdrs[i].name_len, "content-length")) {
			uint64_t v;

			if (have_len || !parse_len(hdrs[i].value, hdrs[i].value_len, &v))
				return -EINVAL;
			have_len = true;
			len = v;
		}
	if (no_body)
		s->frame = F_NONE;
	else if (!with_body)
		s->frame = F_LENGTH; /* Content-Length: 0 unless given */
	else if (have_len)
		s->frame = F_LENGTH;
	else if (s->minor >= 1)
		s->frame = F_CHUNKED;
	else
		s->frame = F_CLOSE; /* RFC 9112 6.3 point 8 */
	keep = s->keep_alive && !c->shutting && s->frame != F_CLOSE;
	snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", status, reason(status));
	if (!out_str(c, line))
		goto nomem;
	for (i = 0; i < n; i++) {
		if (hop_field(&hdrs[i]))
			continue;
		/* RFC 9110 8.6: no Content-Length in a 204 */
		if (status == 204 && name_is(hdrs[i].name, hdrs[i].name_len, "content-length"))
			continue;
		if (!out_put(c, hdrs[i].name, hdrs[i].name_len) || !out_str(c, ": ") ||
		    !out_put(c, hdrs[i].value, hdrs[i].value_len) || !out_str(c, "\r\n"))
			goto nomem;
	}
	if (!out_extras(c))
		goto nomem;
	if (s->frame == F_LENGTH && !have_len && !out_str(c, "Content-Length: 0\r\n"))
		goto nomem;
	if (s->frame == F_CHUNKED && !out_str(c, "Transfer-Encoding: chunked\r\n"))
		goto nomem;
	if (!keep ? !out_str(c, "Connection: close\r\n")
	          : s->minor == 0 && !out_str(c, "Connection: keep-alive\r\n"))
		goto nomem;
	if (!out_str(c, "\r\n"))
		goto nomem;
	if (!keep)
		s->keep_alive = false;
	s->responded = true;
	s->resp_left = with_body && !no_body ? len : 0;
	s->want_body = with_body && !no_body && s->ops && s->ops->read &&
	               !(s->frame == F_LENGTH && (!have_len || len == 0));
	if (!s->want_body)
		s->resp_done = true;
	/* a length announced and no body to follow, or a body the handler
	 * meant to send and cannot (no read op): the connection closes after */
	if (!with_body && !no_body && have_len && len)
		s->broken = true;
	if (with_body && !no_body && !(s->ops && s->ops->read) && s->frame != F_LENGTH)
		s->broken = true;
	return 0;
nomem:
	c->out_len = mark_len;
	c->q.n = mark_sn;
	struct segq_seg *last = segq_last(&c->q);
	if (last && !last->tag && last->p + last->len > c->out + mark_len)
		last->len = (size_t)(c->out + mark_len - last->p);
	return -ENOMEM;
}
