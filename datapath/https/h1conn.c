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
 * Output: a queue of segments, each in the output buffer or in the
 * handler's response body (zero copy; chunk framing is written into the
 * output buffer between them). h1_conn_sent() pops it and turns body bytes
 * into acked() calls.
 *
 * Re-entrancy: handler callbacks may call the h1_stream_* functions; the
 * stream's close() is only called outside callbacks (settle()), so a
 * handler never sees its stream vanish under its own call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/https/h1conn.h"
#include "datapath/https/h1req.h"

#define H1_BODY_WINDOW (256u * 1024u)
#define H1_SEGS 32u
#define H1_READ_IOV 8u
/* room for chunk framing per read() batch: "%zx\r\n" before, "\r\n" after,
 * "0\r\n\r\n" at the end */
#define H1_FRAME_ROOM 32u
#define H1_OUT_EXTRA 2048u

enum h1_state {
	H1S_IDLE,    /* between requests, no byte of the next head yet */
	H1S_HEAD,    /* reading a head (header_timeout runs) */
	H1S_REQ,     /* a request in flight */
	H1S_CLOSING, /* nothing more read: what is queued goes out, then DEAD */
	H1S_DEAD,
};

enum h1_body { B_NONE, B_LENGTH, B_CHUNKED };
enum h1_frame { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE };

struct seg {
	const uint8_t *p;
	size_t len;
	bool body; /* the handler's bytes: acked() when sent */
};

struct h1_stream {
	struct h1_conn *c;
	const struct h1_handler_ops *ops;
	void *h;
	bool active;       /* between dispatch and close() */
	bool is_head, keep_alive;
	unsigned minor;
	/* request body */
	enum h1_body body;
	uint64_t body_left;
	struct h1chunk ck;
	bool body_done;    /* body_end() called (or no body) */
	size_t unconsumed;
	/* response */
	bool responded, ours; /* ours: the connection answered (error) */
	enum h1_frame frame;
	uint64_t resp_left;   /* F_LENGTH: bytes still expected */
	bool want_body;       /* read() is to be called */
	bool blocked;         /* read() said WOULDBLOCK, waiting for resume() */
	bool resp_done;       /* the whole response is queued */
	bool broken;          /* the body did not match its length: close after */
	uint64_t err;         /* non-zero: close() gets it; the connection ends */
};

struct h1_conn {
	struct h1_params p;
	enum h1_state state;
	enum h1_end end;
	const char *sni;
	const rg_sockaddr *peer;
	uint64_t now, deadline_base; /* when the current state's timer began */
	uint64_t shutdown_at;
	bool shutting, peer_eof;
	unsigned served; /* requests on this connection */
	int depth;       /* inside handler callbacks */
	struct h1_stream st;
	struct h1req pr;
	struct quic_header hdrs[H1REQ_MAX_FIELDS];
	/* input */
	uint8_t *in;
	size_t in_cap, in_len, in_off; /* in_off: leftover after the head */
	/* output */
	struct seg segs[H1_SEGS];
	unsigned sh, sn;
	size_t hoff;
	uint8_t *out;
	size_t out_cap, out_len;
};

/* ---- small helpers ---- */

static void end_once(struct h1_conn *c, enum h1_end why)
{
	if (c->end != H1_END_NONE)
		return;
	c->end = why;
	c->p.ctr->ended[why]++;
}

static bool seg_room(const struct h1_conn *c, unsigned n)
{
	return c->sn + n <= H1_SEGS;
}

static void seg_push(struct h1_conn *c, const uint8_t *p, size_t len, bool body)
{
	struct seg *last = c->sn ? &c->segs[(c->sh + c->sn - 1) % H1_SEGS] : NULL;

	if (!len)
		return;
	/* output-buffer bytes right after the previous ones: one segment */
	if (!body && last && !last->body && last->p + last->len == p) {
		last->len += len;
		return;
	}
	c->segs[(c->sh + c->sn) % H1_SEGS] = (struct seg){ p, len, body };
	c->sn++;
}

/* Append to the output buffer and queue it; false when it does not fit. */
static bool out_put(struct h1_conn *c, const void *p, size_t len)
{
	if (len > c->out_cap - c->out_len || !seg_room(c, 1))
		return false;
	memcpy(c->out + c->out_len, p, len);
	seg_push(c, c->out + c->out_len, len, false);
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

/* ---- the stream's end ---- */

static void drop_queue(struct h1_conn *c)
{
	c->sn = 0;
	c->sh = 0;
	c->hoff = 0;
	c->out_len = 0;
}

static bool body_queued(const struct h1_conn *c)
{
	for (unsigned i = 0; i < c->sn; i++)
		if (c->segs[(c->sh + i) % H1_SEGS].body)
			return true;
	return false;
}

/* The connection answers by itself, with a small body, and closes after:
 * a refused head, a timeout, a handler failure before its response. */
static void answer_and_close(struct h1_conn *c, unsigned status, const char *why)
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
		drop_queue(c);
		c->state = H1S_DEAD;
		return;
	}
	c->state = H1S_CLOSING;
}

/* Close the stream when nothing of it is left to do; go on with the next
 * request or end. Only outside callbacks. */
static void pump(struct h1_conn *c);

static void settle(struct h1_conn *c)
{
	struct h1_stream *s = &c->st;
	bool keep;

	if (c->depth)
		return;
	if (s->active) {
		bool over = s->err ? !body_queued(c) : (s->responded && s->resp_done && c->sn == 0);

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
			pump(c);
			return;
		}
	}
	if (c->state == H1S_CLOSING && c->sn == 0)
		c->state = H1S_DEAD;
}

/* An error of the stream in flight (handler failure, peer gone, body
 * framing, body timeout): answer if nothing was answered yet, close. */
static void stream_fail(struct h1_conn *c, uint64_t err, unsigned status, const char *why)
{
	struct h1_stream *s = &c->st;

	if (!s->active)
		return;
	if (!s->err)
		s->err = err ? err : 1;
	s->want_body = false;
	if (status && !s->responded && c->state != H1S_CLOSING && c->state != H1S_DEAD) {
		s->responded = s->ours = s->resp_done = true;
		answer_and_close(c, status, why);
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
		stream_fail(c, (uint64_t)-rc, 500, NULL);
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
				stream_fail(c, 1, 400, h1req_error_name(H1REQ_E_CHUNK));
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

static void refuse_head(struct h1_conn *c)
{
	enum h1req_error e = c->pr.error;
	unsigned status = h1req_status(e);

	if (e == H1REQ_E_TOO_LARGE && !c->pr.line_done)
		status = 414; /* the request line alone is over the limit */
	if (e == H1REQ_E_TRANSFER_ENCODING)
		status = 501; /* RFC 9112 6.1: a coding we do not implement */
	end_once(c, status == 414 || status == 431 ? H1_END_HEAD_TOO_LARGE : H1_END_BAD_REQUEST);
	answer_and_close(c, status, h1req_error_name(e));
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
		stream_fail(c, (uint64_t)-rc, 500, NULL);
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
		out_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* Parse what the input buffer holds, and feed leftover body bytes. */
static void pump(struct h1_conn *c)
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
			c->state = c->sn ? H1S_CLOSING : H1S_DEAD;
		} else if (c->st.active && !c->st.body_done) {
			/* the request is cut short: nothing can answer it */
			end_once(c, H1_END_CLOSE);
			stream_fail(c, 1, 0, NULL);
		}
		settle(c);
		return 0;
	}
	pump(c);
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
		pump(c);
	}
	settle(c);
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

/* Ask the handler for body bytes and queue them with their framing. */
static void fill(struct h1_conn *c)
{
	struct h1_stream *s = &c->st;

	while (s->active && s->want_body && !s->blocked && !s->resp_done && !s->err &&
	       seg_room(c, H1_READ_IOV + 3) && c->out_cap - c->out_len >= H1_FRAME_ROOM) {
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
			stream_fail(c, r < 0 ? (uint64_t)-r : 1, 0, NULL);
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
			seg_push(c, iov[i].base, iov[i].len, true);
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
	unsigned i;

	c->now = now;
	if (c->state == H1S_DEAD)
		return 0;
	pump(c);
	fill(c);
	settle(c);
	if (c->state == H1S_DEAD)
		return 0;
	for (i = 0; i < n && i < c->sn; i++) {
		const struct seg *g = &c->segs[(c->sh + i) % H1_SEGS];
		size_t off = i == 0 ? c->hoff : 0;

		iov[i].iov_base = (void *)(uintptr_t)(g->p + off);
		iov[i].iov_len = g->len - off;
	}
	return (int)i;
}

void h1_conn_sent(struct h1_conn *c, size_t n)
{
	struct h1_stream *s = &c->st;

	while (n && c->sn) {
		struct seg *g = &c->segs[c->sh];
		size_t take = g->len - c->hoff;
		bool body = g->body;

		if (take > n)
			take = n;
		n -= take;
		c->hoff += take;
		if (c->hoff == g->len) {
			c->sh = (c->sh + 1) % H1_SEGS;
			c->sn--;
			c->hoff = 0;
		}
		if (body && s->active && s->ops && s->ops->acked) {
			c->depth++;
			s->ops->acked(s->h, s, take);
			c->depth--;
		}
	}
	if (c->sn == 0) {
		c->sh = 0;
		c->out_len = 0;
	}
	settle(c);
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
		drop_queue(c);
		c->state = H1S_DEAD;
		settle(c);
		return;
	}
	switch (c->state) {
	case H1S_IDLE:
		end_once(c, H1_END_IDLE);
		c->state = c->sn ? H1S_CLOSING : H1S_DEAD;
		break;
	case H1S_HEAD:
		/* RFC 9110 15.5.9 */
		end_once(c, H1_END_HEADER_TIMEOUT);
		answer_and_close(c, 408, "header timeout");
		break;
	case H1S_REQ:
		end_once(c, H1_END_BODY_TIMEOUT);
		stream_fail(c, 1, 408, "body timeout");
		break;
	default:
		break;
	}
	settle(c);
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
		c->state = c->sn ? H1S_CLOSING : H1S_DEAD;
	}
	/* H1S_REQ: the response says Connection: close if its head is not
	 * out yet, and the connection ends after it (settle) */
	settle(c);
}

bool h1_conn_idle(const struct h1_conn *c)
{
	return c->state == H1S_IDLE && c->in_len == 0 && c->sn == 0;
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
	unsigned mark_sn = c->sn;
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
	c->sn = mark_sn;
	if (c->sn) {
		struct seg *last = &c->segs[(c->sh + c->sn - 1) % H1_SEGS];

		if (!last->body && last->p + last->len > c->out + mark_len)
			last->len = (size_t)(c->out + mark_len - last->p);
	}
	return -ENOMEM;
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
	stream_fail(c, err ? err : 1, 500, NULL);
	settle(c);
}
