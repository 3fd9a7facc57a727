/* h1conn: HTTP/1.1 server connection, sans-IO (contract in h1conn.h).
 *
 * Memory: one allocation per connection, nothing per request. The
 * connection holds its input buffer (max_header_bytes: the head being read
 * plus whatever pipelined bytes fit behind it), the output buffer (response
 * heads, chunk framing, the canned error answers) and the one stream.
 *
 * Input: head bytes are copied into the input buffer and parsed there by
 * h1req; the request's method, target and Host are NUL-terminated in place
 * and live until the stream's close(), so the buffer is only compacted
 * between requests. Request body bytes are handed to body() from wherever
 * they are (the input buffer's leftover, else the driver's own bytes: no
 * copy), as far as the window allows: body bytes given and not consumed
 * are bounded by H1_BODY_WINDOW, like h2's stream window; past it recv
 * takes nothing more and TCP's window pushes back on the client.
 *
 * Output: the output queue, response heads, the canned error answers,
 * chunk framing and the send iovecs are in h1resp.c; the state both files
 * share is in h1conn_internal.h.
 *
 * Re-entrancy: handler callbacks may call the h1_stream_* functions; the
 * stream's close() is only called outside callbacks (h1conn_settle()), so a
 * handler never sees its stream vanish under its own call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/https/h1conn_internal.h"
#include "datapath/https/h1req.h"

/* ---- small helpers ---- */

static void end_once(struct h1_conn *c, enum h1_end why)
{
	if (c->end != H1_END_NONE)
		return;
	c->end = why;
	c->p.ctr->ended[why]++;
}

/* ---- the stream's end ---- */

/* Close the stream when nothing of it is left to do; go on with the next
 * request or end. Only outside callbacks. */
void h1conn_settle(struct h1_conn *c)
{
	struct h1_stream *s = &c->st;
	bool keep;

	if (c->depth)
		return;
	if (s->active) {
		bool over = s->err ? !h1resp_body_queued(c) : (s->responded && s->resp_done && c->q.n == 0);

		if (!over)
			return;
		/* a body not read to its end leaves the connection unusable */
		keep = !s->err && s->body_done && s->keep_alive && !s->broken && s->frame != F_CLOSE &&
		       !c->shutting && !c->peer_eof && c->state == H1S_REQ;
		s->active = false;
		if (s->ops && s->ops->close)
			s->ops->close(s->h, s, s->err);
		s->ops = NULL;
		if (c->state == H1S_DEAD)
			return;
		if (!keep) {
			if (c->state != H1S_CLOSING) {
				end_once(c, c->shutting ? H1_END_SHUTDOWN : H1_END_CLOSE);
				c->state = H1S_CLOSING;
			}
		} else {
			/* the next request: its bytes (pipelined) move to the front */
			size_t left = c->in_len - c->in_off;

			memmove(c->in, c->in + c->in_off, left);
			c->in_len = left;
			c->in_off = 0;
			h1req_init(&c->pr);
			c->state = left ? H1S_HEAD : H1S_IDLE;
			c->deadline_base = c->now;
			if (left)
				c->p.ctr->pipelined++;
			h1conn_pump(c);
			return;
		}
	}
	if (c->state == H1S_CLOSING && c->q.n == 0)
		c->state = H1S_DEAD;
}

/* An error of the stream in flight (handler failure, peer gone, body
 * framing, body timeout): answer if nothing was answered yet, close. */
void h1conn_stream_fail(struct h1_conn *c, uint64_t err, unsigned status, const char *why)
{
	struct h1_stream *s = &c->st;

	if (!s->active)
		return;
	if (!s->err)
		s->err = err ? err : 1;
	s->want_body = false;
	if (status && !s->responded && c->state != H1S_CLOSING && c->state != H1S_DEAD) {
		s->responded = s->ours = s->resp_done = true;
		h1resp_answer_and_close(c, status, why);
	} else if (c->state != H1S_DEAD) {
		/* mid-message: HTTP/1.1 has no other way to abort it; what is
		 * queued goes out, then the connection closes */
		c->state = H1S_CLOSING;
	}
}

/* ---- request bodies ---- */

static size_t window_room(const struct h1_stream *s)
{
	return s->unconsumed >= H1_BODY_WINDOW ? 0 : H1_BODY_WINDOW - s->unconsumed;
}

static void body_finished(struct h1_conn *c)
{
	struct h1_stream *s = &c->st;

	s->body_done = true;
	if (s->ops && s->ops->body_end) {
		c->depth++;
		s->ops->body_end(s->h, s);
		c->depth--;
	}
}

static bool deliver(struct h1_conn *c, const uint8_t *d, size_t n)
{
	struct h1_stream *s = &c->st;
	int rc = 0;

	s->unconsumed += n;
	c->deadline_base = c->now;
	if (s->ops && s->ops->body) {
		c->depth++;
		rc = s->ops->body(s->h, s, d, n);
		c->depth--;
	} else {
		s->unconsumed -= n; /* nobody reads it: discarded, credited */
	}
	if (rc < 0) {
		h1conn_stream_fail(c, (uint64_t)-rc, 500, NULL);
		return false;
	}
	return true;
}

/* Body bytes from d[0..len): how many were taken. */
static size_t feed_body(struct h1_conn *c, const uint8_t *d, size_t len)
{
	struct h1_stream *s = &c->st;
	size_t taken = 0;

	while (taken < len && s->active && !s->body_done && !s->err && c->state == H1S_REQ) {
		size_t room = window_room(s);

		if (s->body == B_LENGTH) {
			size_t n = len - taken;

			if (n > s->body_left)
				n = (size_t)s->body_left;
			if (n > room)
				n = room;
			if (!n)
				break;
			s->body_left -= n;
			taken += n;
			if (!deliver(c, d + taken - n, n))
				break;
			if (!s->body_left)
				body_finished(c);
		} else {
			size_t used = 0, dlen = 0;
			const uint8_t *data = NULL;
			enum h1chunk_event ev = h1chunk_feed(&s->ck, d + taken, len - taken, &used, &data, &dlen);

			if (ev == H1C_BODY && dlen > room) {
				/* give back what the window has no room for: the
				 * parser reads it again next time */
				size_t back = dlen - room;

				s->ck.left += back;
				s->ck.state = H1C_DATA;
				used -= back;
				dlen = room;
			}
			taken += used;
			if (ev == H1C_ERROR) {
				end_once(c, H1_END_BAD_REQUEST);
				h1conn_stream_fail(c, 1, 400, h1req_error_name(H1REQ_E_CHUNK));
				break;
			}
			if (ev == H1C_BODY && dlen) {
				if (!deliver(c, data, dlen))
					break;
			} else if (ev == H1C_END) {
				body_finished(c);
			} else if (!used) {
				break;
			}
		}
	}
	return taken;
}

/* ---- heads ---- */

/* The access log's line for an answer made here (h1conn.h on_answer). A
 * valid request line is "method SP target SP version": both are cut in
 * place (the connection closes after this answer, the buffer is not read
 * again). */
static void answered(struct h1_conn *c, unsigned status)
{
	struct quic_request req = {
		.scheme = c->p.scheme, .sni = c->sni, .peer = c->peer, .worker_id = c->p.worker_id,
	};

	if (!c->p.on_answer)
		return;
	if (c->pr.line_done && c->pr.start < c->in_len) {
		char *l = (char *)c->in + c->pr.start, *end = (char *)c->in + c->in_len;
		char *sp1 = memchr(l, ' ', (size_t)(end - l));
		char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;

		if (sp2) {
			*sp1 = *sp2 = 0;
			req.method = l;
			req.path = sp1 + 1;
		}
	}
	c->p.on_answer(c->p.answer_ctx, &req, status);
}

static void refuse_head(struct h1_conn *c)
{
	enum h1req_error e = c->pr.error;
	unsigned status = h1req_status(e);

	if (e == H1REQ_E_TOO_LARGE && !c->pr.line_done)
		status = 414; /* the request line alone is over the limit */
	if (e == H1REQ_E_TRANSFER_ENCODING)
		status = 501; /* RFC 9112 6.1: a coding we do not implement */
	end_once(c, status == 414 || status == 431 ? H1_END_HEAD_TOO_LARGE : H1_END_BAD_REQUEST);
	answered(c, status);
	h1resp_answer_and_close(c, status, h1req_error_name(e));
}

static void dispatch(struct h1_conn *c)
{
	struct h1req *pr = &c->pr;
	struct h1_stream *s = &c->st;
	struct quic_request req;
	char *base = (char *)c->in;
	unsigned i;
	int rc;

	if (pr->n_fields > c->p.max_headers) {
		pr->error = H1REQ_E_TOO_MANY;
		refuse_head(c);
		return;
	}
	/* NUL-terminate in place: each is followed by SP, OWS or CR */
	base[(pr->method - base) + pr->method_len] = 0;
	base[(pr->target - base) + pr->target_len] = 0;
	if (pr->host)
		base[(pr->host - base) + pr->host_len] = 0;
	for (i = 0; i < pr->n_fields; i++)
		c->hdrs[i] = (struct quic_header){ pr->fields[i].name, pr->fields[i].name_len,
			                           pr->fields[i].value, pr->fields[i].value_len };
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->active = true;
	s->is_head = !strcmp(pr->method, "HEAD");
	s->keep_alive = pr->keep_alive;
	s->minor = pr->minor;
	if (pr->chunked) {
		s->body = B_CHUNKED;
		h1chunk_init(&s->ck);
	} else if (pr->content_length > 0) {
		s->body = B_LENGTH;
		s->body_left = (uint64_t)pr->content_length;
	}
	c->in_off = pr->scan;
	c->state = H1S_REQ;
	c->deadline_base = c->now;
	c->p.ctr->requests++;
	if (c->served++)
		c->p.ctr->keepalive_reuse++;
	req = (struct quic_request){
		.method = pr->method,
		.scheme = c->p.scheme,
		/* HTTP/1.0 may come without Host: an empty authority */
		.authority = pr->host ? pr->host : "",
		.path = pr->target,
		.headers = c->hdrs,
		.n_headers = pr->n_fields,
		.content_length = pr->chunked ? -1 : pr->content_length,
		.has_body = s->body != B_NONE,
		.sni = c->sni,
		.peer = c->peer,
		.worker_id = c->p.worker_id,
	};
	c->depth++;
	rc = c->p.on_request(c->p.request_ctx, s, &req);
	c->depth--;
	if (rc < 0) {
		h1conn_stream_fail(c, (uint64_t)-rc, 500, NULL);
		return;
	}
	if (s->err)
		return;
	if (s->body == B_NONE) {
		body_finished(c);
		return;
	}
	/* RFC 9110 10.1.1: 100 Continue once the request went to the handler
	 * and it did not answer at once: the handler takes body bytes from
	 * now on (body() has no way to say "not yet"; the window does). */
	if (pr->expect_continue && !s->responded)
		h1resp_continue(c);
}

/* Parse what the input buffer holds, and feed leftover body bytes. */
void h1conn_pump(struct h1_conn *c)
{
	for (;;) {
		if (c->state == H1S_IDLE || c->state == H1S_HEAD) {
			enum h1req_verdict v;

			if (!c->in_len)
				return;
			v = h1req_parse(&c->pr, c->in, c->in_len, c->p.max_header_bytes);
			if (v == H1REQ_NEED_MORE) {
				if (c->in_len == c->in_cap && c->pr.start) {
					/* empty lines before the head filled the buffer */
					memmove(c->in, c->in + c->pr.start, c->in_len - c->pr.start);
					c->in_len -= c->pr.start;
					h1req_init(&c->pr);
					continue;
				}
				return;
			}
			if (v == H1REQ_ERROR) {
				refuse_head(c);
				return;
			}
			dispatch(c);
			continue;
		}
		if (c->state == H1S_REQ && c->st.active && !c->st.body_done && c->in_off < c->in_len) {
			size_t n = feed_body(c, c->in + c->in_off, c->in_len - c->in_off);

			c->in_off += n;
			if (n)
				continue;
		}
		return;
	}
}

/* ---- connection ---- */

int h1_conn_new(const struct h1_params *p, const char *sni, const rg_sockaddr *peer, uint64_t now,
                struct h1_conn **out)
{
	struct h1_conn *c;
	size_t in_cap, out_cap;

	if (!p || !p->on_request || !p->ctr || !out)
		return -EINVAL;
	in_cap = p->max_header_bytes ? p->max_header_bytes : 16384;
	/* a response head as big as a request head, plus our own fields */
	out_cap = in_cap + H1_OUT_EXTRA;
	c = calloc(1, sizeof(*c) + in_cap + out_cap);
	if (!c)
		return -ENOMEM;
	c->p = *p;
	if (!c->p.scheme)
		c->p.scheme = "https";
	if (!c->p.max_header_bytes)
		c->p.max_header_bytes = 16384;
	if (!c->p.max_headers || c->p.max_headers > H1REQ_MAX_FIELDS)
		c->p.max_headers = H1REQ_MAX_FIELDS;
	if (!c->p.header_timeout_ns)
		c->p.header_timeout_ns = 10000000000ull;
	if (!c->p.idle_timeout_ns)
		c->p.idle_timeout_ns = 60000000000ull;
	if (!c->p.body_timeout_ns)
		c->p.body_timeout_ns = 60000000000ull;
	if (!c->p.shutdown_timeout_ns)
		c->p.shutdown_timeout_ns = 30000000000ull;
	c->in = (uint8_t *)(c + 1);
	c->in_cap = in_cap;
	c->out = c->in + in_cap;
	segq_init(&c->q, c->segs, H1_SEGS);
	c->out_cap = out_cap;
	c->sni = sni;
	c->peer = peer;
	c->now = c->deadline_base = now;
	c->state = H1S_IDLE;
	h1req_init(&c->pr);
	c->p.ctr->conns_opened++;
	*out = c;
	return 0;
}

void h1_conn_free(struct h1_conn *c)
{
	struct h1_stream *s;

	if (!c)
		return;
	s = &c->st;
	if (s->active) {
		s->active = false;
		if (s->ops && s->ops->close)
			s->ops->close(s->h, s, s->err ? s->err : 1);
	}
	if (c->end == H1_END_NONE)
		end_once(c, H1_END_CLOSE);
	c->p.ctr->conns_closed++;
	free(c);
}

static bool reading(const struct h1_conn *c)
{
	return !c->peer_eof && (c->state == H1S_IDLE || c->state == H1S_HEAD || c->state == H1S_REQ);
}

ssize_t h1_conn_recv(struct h1_conn *c, const uint8_t *data, size_t len, uint64_t now)
{
	size_t taken = 0;

	c->now = now;
	if (!reading(c))
		return -EPIPE;
	if (!len) {
		c->peer_eof = true;
		if (c->state == H1S_IDLE || c->state == H1S_HEAD) {
			end_once(c, H1_END_CLOSE);
			c->state = c->q.n ? H1S_CLOSING : H1S_DEAD;
		} else if (c->st.active && !c->st.body_done) {
			/* the request is cut short: nothing can answer it */
			end_once(c, H1_END_CLOSE);
			h1conn_stream_fail(c, 1, 0, NULL);
		}
		h1conn_settle(c);
		return 0;
	}
	h1conn_pump(c);
	while (taken < len && reading(c)) {
		struct h1_stream *s = &c->st;
		size_t n;

		if (c->state == H1S_REQ && s->active && !s->body_done) {
			if (c->in_off < c->in_len)
				break; /* the window is full with buffered bytes */
			n = feed_body(c, data + taken, len - taken);
			taken += n;
			if (!n)
				break;
			continue;
		}
		/* a head, or pipelined bytes behind the request in flight */
		n = c->in_cap - c->in_len;
		if (!n)
			break;
		if (n > len - taken)
			n = len - taken;
		memcpy(c->in + c->in_len, data + taken, n);
		c->in_len += n;
		taken += n;
		if (c->state == H1S_IDLE) {
			c->state = H1S_HEAD; /* slowloris: the clock runs from the first byte */
			c->deadline_base = now;
		}
		h1conn_pump(c);
	}
	h1conn_settle(c);
	return (ssize_t)taken;
}

bool h1_conn_wants_input(const struct h1_conn *c)
{
	const struct h1_stream *s = &c->st;

	if (!reading(c))
		return false;
	if (c->state == H1S_REQ && s->active && !s->body_done)
		return c->in_off == c->in_len && window_room(s) > 0;
	return c->in_len < c->in_cap;
}

uint64_t h1_conn_next_expiry(const struct h1_conn *c)
{
	const struct h1_stream *s = &c->st;
	uint64_t t = RG_NO_DEADLINE;

	switch (c->state) {
	case H1S_IDLE:
		t = c->deadline_base + c->p.idle_timeout_ns;
		break;
	case H1S_HEAD:
		t = c->deadline_base + c->p.header_timeout_ns;
		break;
	case H1S_REQ:
		/* only when waiting on the client, not on the handler */
		if (s->active && !s->body_done && !c->peer_eof && window_room(s) > 0 && c->in_off == c->in_len)
			t = c->deadline_base + c->p.body_timeout_ns;
		break;
	default:
		break;
	}
	if (c->shutting && c->state != H1S_DEAD) {
		uint64_t h = c->shutdown_at + c->p.shutdown_timeout_ns;

		t = h < t ? h : t;
	}
	return t;
}

void h1_conn_handle_expiry(struct h1_conn *c, uint64_t now)
{
	c->now = now;
	if (c->state == H1S_DEAD || now < h1_conn_next_expiry(c))
		return;
	if (c->shutting && now >= c->shutdown_at + c->p.shutdown_timeout_ns) {
		end_once(c, H1_END_SHUTDOWN);
		if (c->st.active && !c->st.err)
			c->st.err = 1;
		h1resp_drop_queue(c);
		c->state = H1S_DEAD;
		h1conn_settle(c);
		return;
	}
	switch (c->state) {
	case H1S_IDLE:
		end_once(c, H1_END_IDLE);
		c->state = c->q.n ? H1S_CLOSING : H1S_DEAD;
		break;
	case H1S_HEAD:
		/* RFC 9110 15.5.9 */
		end_once(c, H1_END_HEADER_TIMEOUT);
		answered(c, 408);
		h1resp_answer_and_close(c, 408, "header timeout");
		break;
	case H1S_REQ:
		end_once(c, H1_END_BODY_TIMEOUT);
		h1conn_stream_fail(c, 1, 408, "body timeout");
		break;
	default:
		break;
	}
	h1conn_settle(c);
}

void h1_conn_shutdown(struct h1_conn *c, uint64_t now)
{
	c->now = now;
	if (c->shutting || c->state == H1S_DEAD)
		return;
	c->shutting = true;
	c->shutdown_at = now;
	if (c->state == H1S_IDLE || c->state == H1S_HEAD) {
		end_once(c, H1_END_SHUTDOWN);
		c->state = c->q.n ? H1S_CLOSING : H1S_DEAD;
	}
	/* H1S_REQ: the response says Connection: close if its head is not
	 * out yet, and the connection ends after it (settle) */
	h1conn_settle(c);
}

bool h1_conn_idle(const struct h1_conn *c)
{
	return c->state == H1S_IDLE && c->in_len == 0 && c->q.n == 0;
}

bool h1_conn_done(const struct h1_conn *c)
{
	return c->state == H1S_DEAD;
}

enum h1_end h1_conn_end_reason(const struct h1_conn *c)
{
	return c->end;
}

/* ---- streams ---- */

void h1_stream_attach(struct h1_stream *s, const struct h1_handler_ops *ops, void *h)
{
	s->ops = ops;
	s->h = h;
}

void h1_stream_resume(struct h1_stream *s)
{
	s->blocked = false;
}

void h1_stream_consume(struct h1_stream *s, size_t n)
{
	bool was_full = window_room(s) == 0;

	if (n > s->unconsumed)
		n = s->unconsumed;
	s->unconsumed -= n;
	/* the body timer measures the client, not a handler that held the
	 * window closed: it starts again when the window opens (from the
	 * last time the driver gave) */
	if (was_full && n)
		s->c->deadline_base = s->c->now;
}

void h1_stream_reset(struct h1_stream *s, uint64_t err)
{
	struct h1_conn *c = s->c;

	if (!s->active)
		return;
	end_once(c, H1_END_RESET);
	/* before the response: an internal failure, answered 500 */
	h1conn_stream_fail(c, err ? err : 1, 500, NULL);
	h1conn_settle(c);
}
