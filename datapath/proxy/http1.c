/* http1: the HTTP/1.1 backend codec (see http1.h). RFC 9112 section
 * numbers are cited where a rule comes from. */
#include "datapath/proxy/http1.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

_Static_assert(HTTP1_MAX_HEADERS <= 64, "http1_resp.cl_fields is a 64-bit mask");

enum {
	S_STATUS = 0, /* reading the status line */
	S_HEADERS,    /* reading field lines */
	S_BODY_LEN,   /* Content-Length bytes left */
	S_CHUNK_SIZE, /* reading a chunk-size line */
	S_CHUNK_DATA, /* chunk bytes left */
	S_CHUNK_CRLF, /* the CRLF after chunk data */
	S_TRAILERS,   /* trailer field lines (discarded) */
	S_BODY_CLOSE, /* everything until EOF */
	S_DONE,
	S_ERROR,
};

static char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool http1_name_is(const char *name, size_t len, const char *lower)
{
	/* a NUL in name stops strncasecmp short of lower's end: no match */
	return strlen(lower) == len && strncasecmp(name, lower, len) == 0;
}

/* RFC 9110 5.6.2: tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

void http1_resp_init(struct http1_resp *p, bool head_request)
{
	p->status = 0;
	p->minor = 1;
	p->framing = HTTP1_BODY_NONE;
	p->content_length = -1;
	p->keep_alive = false;
	p->n_headers = 0;
	p->state = S_STATUS;
	p->head_request = head_request;
	p->conn_close = p->conn_keep_alive = p->saw_te = false;
	p->cl_fields = 0;
	p->left = 0;
	p->hlen = 0;
	p->line_start = 0;
	p->trailer_bytes = 0;
}

bool http1_resp_started(const struct http1_resp *p)
{
	return p->state != S_STATUS || p->hlen != 0 || p->status != 0;
}

const char *http1_error_name(enum http1_error e)
{
	static const char *const n[] = {
		[HTTP1_OK] = "ok",
		[HTTP1_E_STATUS_LINE] = "bad status line",
		[HTTP1_E_HEADER] = "bad header field",
		[HTTP1_E_TOO_LARGE] = "header section too large",
		[HTTP1_E_TOO_MANY] = "too many header fields",
		[HTTP1_E_CONTENT_LENGTH] = "bad Content-Length",
		[HTTP1_E_CHUNK] = "bad chunked coding",
		[HTTP1_E_TRUNCATED] = "connection closed before the end of the response",
		[HTTP1_E_UPGRADE] = "unexpected 101 Switching Protocols",
	};
	return e <= HTTP1_E_UPGRADE ? n[e] : "unknown";
}

static size_t fail(struct http1_resp *p, struct http1_out *out, enum http1_error e, size_t consumed)
{
	p->state = S_ERROR;
	out->ev = HTTP1_ERROR;
	out->error = e;
	return consumed;
}

/* Append bytes up to and including LF to hbuf. Returns 1 when a line is
 * complete (hbuf[line_start..hlen) holds it, LF included), 0 when all of
 * data went in, -1 when the section is too large. *used: bytes taken. */
static int take_line(char *buf, size_t *blen, size_t cap, const uint8_t *data, size_t len,
                     size_t *used)
{
	const uint8_t *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) + 1 : len;

	if (*blen + n > cap)
		return -1;
	memcpy(buf + *blen, data, n);
	*blen += n;
	*used = n;
	return nl ? 1 : 0;
}

/* Strip CRLF or LF; returns the line length without it, or -1 when a lone
 * CR sits inside (RFC 9112 2.2: a bare CR is invalid). */
static ssize_t line_end(char *line, size_t n)
{
	n--; /* LF */
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (memchr(line, '\r', n))
		return -1;
	line[n] = 0;
	return (ssize_t)n;
}

/* RFC 9112 4: HTTP-version SP status-code SP [ reason-phrase ] */
static bool parse_status(struct http1_resp *p, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) || l[7] < '0' || l[7] > '9' || l[8] != ' ')
		return false;
	if (l[9] < '1' || l[9] > '9' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9')
		return false;
	if (n > 12 && l[12] != ' ')
		return false;
	p->minor = (unsigned)(l[7] - '0');
	p->status = (unsigned)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
	return true;
}

/* RFC 9112 5: field-name ":" OWS field-value OWS; no obs-fold. */
static enum http1_error parse_field(struct http1_resp *p, char *l, size_t n)
{
	size_t i = 0, vs, ve;

	if (n == 0 || is_ows(l[0]))
		return HTTP1_E_HEADER; /* obs-fold or empty name */
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i >= n || l[i] != ':')
		return HTTP1_E_HEADER;
	if (p->n_headers == HTTP1_MAX_HEADERS)
		return HTTP1_E_TOO_MANY;
	l[i] = 0;
	vs = i + 1;
	while (vs < n && is_ows(l[vs]))
		vs++;
	ve = n;
	while (ve > vs && is_ows(l[ve - 1]))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (l[k] == 0 || (unsigned char)l[k] == 0x7f)
			return HTTP1_E_HEADER;
	l[ve] = 0;
	p->headers[p->n_headers++] = (struct http1_field){
		.name = l, .name_len = (uint16_t)i, .value = l + vs, .value_len = (uint16_t)(ve - vs)};
	return HTTP1_OK;
}

/* Content-Length: 1*DIGIT, possibly a list of equal values (RFC 9110
 * 8.6: a recipient may accept "42, 42"). */
static enum http1_error add_content_length(struct http1_resp *p, const char *v, size_t n)
{
	size_t i = 0;

	for (;;) {
		uint64_t x = 0;
		size_t d = 0;

		while (i < n && is_ows(v[i]))
			i++;
		while (i < n && v[i] >= '0' && v[i] <= '9') {
			if (++d > 18)
				return HTTP1_E_CONTENT_LENGTH;
			x = x * 10 + (uint64_t)(v[i++] - '0');
		}
		if (d == 0)
			return HTTP1_E_CONTENT_LENGTH;
		if (p->content_length >= 0 && (uint64_t)p->content_length != x)
			return HTTP1_E_CONTENT_LENGTH;
		p->content_length = (int64_t)x;
		while (i < n && is_ows(v[i]))
			i++;
		if (i == n)
			return HTTP1_OK;
		if (v[i++] != ',')
			return HTTP1_E_CONTENT_LENGTH;
	}
}

/* Whether a comma-separated list (a field value) has the token `lower`. */
static bool token_list_has(const char *v, size_t n, const char *lower)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (e > s && http1_name_is(v + s, e - s, lower))
			return true;
	}
	return false;
}

/* The last transfer coding is chunked (RFC 9112 6.3 rule 4). */
static bool last_coding_chunked(const char *v, size_t n)
{
	size_t e = n, s;

	while (e > 0 && (is_ows(v[e - 1]) || v[e - 1] == ','))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < e && is_ows(v[s]))
		s++;
	return http1_name_is(v + s, e - s, "chunked");
}

/* The header section ended: decide the framing (RFC 9112 6.3). */
static enum http1_error headers_done(struct http1_resp *p)
{
	bool chunked = false;
	enum http1_error e;

	p->cl_fields = 0;
	for (unsigned i = 0; i < p->n_headers; i++) {
		const struct http1_field *f = &p->headers[i];

		if (http1_name_is(f->name, f->name_len, "content-length")) {
			if ((e = add_content_length(p, f->value, f->value_len)) != HTTP1_OK)
				return e;
			p->cl_fields |= (uint64_t)1 << i; /* i < HTTP1_MAX_HEADERS == 64 */
		} else if (http1_name_is(f->name, f->name_len, "transfer-encoding")) {
			p->saw_te = true;
			chunked = last_coding_chunked(f->value, f->value_len); /* the last field's last coding */
		} else if (http1_name_is(f->name, f->name_len, "connection")) {
			if (token_list_has(f->value, f->value_len, "close"))
				p->conn_close = true;
			if (token_list_has(f->value, f->value_len, "keep-alive"))
				p->conn_keep_alive = true;
		}
	}
	p->keep_alive = p->minor >= 1 ? !p->conn_close : (p->conn_keep_alive && !p->conn_close);
	/* RFC 9112 6.3 rule 3: both Transfer-Encoding and Content-Length
	 * "ought to be handled as an error"; forwarded, Content-Length goes
	 * (http1_resp_h3_headers leaves it out), and the connection is not
	 * reused: the backend and we may disagree on where the message ends,
	 * whatever the status or method. */
	if (p->saw_te && p->content_length >= 0)
		p->keep_alive = false;
	if (p->head_request || p->status == 204 || p->status == 304) {
		p->framing = HTTP1_BODY_NONE;
		p->state = S_BODY_LEN;
		p->left = 0;
	} else if (p->saw_te) {
		/* Transfer-Encoding overrides Content-Length (rule 3 above) */
		p->content_length = -1;
		if (chunked) {
			p->framing = HTTP1_BODY_CHUNKED;
			p->state = S_CHUNK_SIZE;
		} else {
			p->framing = HTTP1_BODY_CLOSE;
			p->state = S_BODY_CLOSE;
			p->keep_alive = false;
		}
	} else if (p->content_length >= 0) {
		p->framing = p->content_length ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
		p->state = S_BODY_LEN;
		p->left = (uint64_t)p->content_length;
	} else {
		p->framing = HTTP1_BODY_CLOSE;
		p->state = S_BODY_CLOSE;
		p->keep_alive = false;
	}
	p->hlen = p->line_start; /* the empty line is not kept */
	return HTTP1_OK;
}

/* A chunk-size line: 1*HEXDIG [ chunk-ext ] (RFC 9112 7.1). */
static bool parse_chunk_size(const char *l, size_t n, uint64_t *size)
{
	size_t i = 0;
	uint64_t x = 0;

	while (i < n) {
		char c = lc(l[i]);
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			break;
		if (i >= 15)
			return false; /* beyond 2^60: nobody sends that, overflow guard */
		x = x << 4 | d;
		i++;
	}
	if (i == 0)
		return false;
	while (i < n && is_ows(l[i]))
		i++;
	if (i < n && l[i] != ';')
		return false;
	/* extensions are ignored (RFC 9112 7.1.1) */
	*size = x;
	return true;
}

size_t http1_resp_feed(struct http1_resp *p, const uint8_t *data, size_t len, struct http1_out *out)
{
	size_t used = 0;

	out->ev = HTTP1_NEED_MORE;
	out->error = HTTP1_OK;
	out->body = NULL;
	out->body_len = 0;
	for (;;) {
		size_t n;
		int r;
		ssize_t ll;
		char *l;

		switch (p->state) {
		case S_STATUS:
		case S_HEADERS:
			if (used == len)
				return used;
			r = take_line(p->hbuf, &p->hlen, HTTP1_MAX_HEADER_BYTES, data + used, len - used, &n);
			if (r < 0)
				return fail(p, out, HTTP1_E_TOO_LARGE, used);
			used += n;
			if (r == 0)
				break;
			l = p->hbuf + p->line_start;
			ll = line_end(l, p->hlen - p->line_start);
			if (ll < 0)
				return fail(p, out, p->state == S_STATUS ? HTTP1_E_STATUS_LINE : HTTP1_E_HEADER, used);
			if (p->state == S_STATUS) {
				if (!parse_status(p, l, (size_t)ll))
					return fail(p, out, HTTP1_E_STATUS_LINE, used);
				p->state = S_HEADERS;
				p->line_start = p->hlen;
				break;
			}
			if (ll > 0) {
				enum http1_error e = parse_field(p, l, (size_t)ll);

				if (e != HTTP1_OK)
					return fail(p, out, e, used);
				p->line_start = p->hlen;
				break;
			}
			/* the empty line: end of the section */
			if (p->status < 200) {
				if (p->status == 101)
					return fail(p, out, HTTP1_E_UPGRADE, used);
				/* interim response (RFC 9110 15.2): skip it */
				p->n_headers = 0;
				p->hlen = p->line_start = 0;
				p->state = S_STATUS;
				break;
			}
			{
				enum http1_error e = headers_done(p);

				if (e != HTTP1_OK)
					return fail(p, out, e, used);
			}
			out->ev = HTTP1_HEADERS;
			return used;
		case S_BODY_LEN:
		case S_CHUNK_DATA:
			if (p->left == 0) {
				if (p->state == S_BODY_LEN) {
					p->state = S_DONE;
					out->ev = HTTP1_DONE;
					return used;
				}
				p->state = S_CHUNK_CRLF;
				p->line_start = 0;
				break;
			}
			if (used == len)
				return used;
			n = len - used;
			if (n > p->left)
				n = (size_t)p->left;
			p->left -= n;
			out->ev = HTTP1_BODY;
			out->body = data + used;
			out->body_len = n;
			return used + n;
		case S_BODY_CLOSE:
			if (used == len)
				return used;
			out->ev = HTTP1_BODY;
			out->body = data + used;
			out->body_len = len - used;
			return len;
		case S_CHUNK_CRLF:
			/* CRLF (or a lone LF) after the chunk data; line_start
			 * counts the CR seen */
			if (used == len)
				return used;
			if (data[used] == '\r' && p->line_start == 0) {
				p->line_start = 1;
				used++;
				break;
			}
			if (data[used] != '\n')
				return fail(p, out, HTTP1_E_CHUNK, used);
			used++;
			p->line_start = 0;
			p->trailer_bytes = 0;
			p->state = S_CHUNK_SIZE;
			break;
		case S_CHUNK_SIZE:
		case S_TRAILERS: {
			/* These lines go after the header section in hbuf: the
			 * fields stay valid. */
			char *lb = p->hbuf + p->hlen;
			size_t cap = HTTP1_MAX_LINE, fill = p->trailer_bytes;

			if (used == len)
				return used;
			r = take_line(lb, &fill, cap, data + used, len - used, &n);
			if (r < 0)
				return fail(p, out, p->state == S_CHUNK_SIZE ? HTTP1_E_CHUNK : HTTP1_E_TOO_LARGE, used);
			used += n;
			p->trailer_bytes = fill;
			if (r == 0)
				break;
			p->trailer_bytes = 0;
			ll = line_end(lb, fill);
			if (ll < 0)
				return fail(p, out, HTTP1_E_CHUNK, used);
			if (p->state == S_CHUNK_SIZE) {
				uint64_t size;

				if (!parse_chunk_size(lb, (size_t)ll, &size))
					return fail(p, out, HTTP1_E_CHUNK, used);
				if (size == 0) {
					p->state = S_TRAILERS;
					p->left = 0; /* trailer section bytes so far */
				} else {
					p->state = S_CHUNK_DATA;
					p->left = size;
				}
				break;
			}
			if (ll == 0) {
				p->state = S_DONE;
				out->ev = HTTP1_DONE;
				return used;
			}
			/* a trailer field: checked, counted, not forwarded */
			if (is_ows(lb[0]) || !memchr(lb, ':', (size_t)ll))
				return fail(p, out, HTTP1_E_HEADER, used);
			p->left += (uint64_t)ll;
			if (p->left > HTTP1_MAX_HEADER_BYTES)
				return fail(p, out, HTTP1_E_TOO_LARGE, used);
			break;
		}
		case S_DONE:
			out->ev = HTTP1_DONE;
			return used;
		case S_ERROR:
		default:
			out->ev = HTTP1_ERROR;
			out->error = HTTP1_E_TRUNCATED;
			return used;
		}
	}
}

enum http1_event http1_resp_eof(struct http1_resp *p, struct http1_out *out)
{
	out->body = NULL;
	out->body_len = 0;
	out->error = HTTP1_OK;
	if (p->state == S_BODY_CLOSE || p->state == S_DONE ||
	    (p->state == S_BODY_LEN && p->left == 0)) {
		p->state = S_DONE;
		out->ev = HTTP1_DONE;
		return HTTP1_DONE;
	}
	p->state = S_ERROR;
	out->ev = HTTP1_ERROR;
	out->error = HTTP1_E_TRUNCATED;
	return HTTP1_ERROR;
}

static bool hop_by_hop(const char *name, size_t len)
{
	static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "te",
	                                  "trailer", "transfer-encoding", "upgrade"};

	for (unsigned i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (http1_name_is(name, len, hop[i]))
			return true;
	return false;
}

unsigned http1_resp_h3_headers(struct http1_resp *p, struct quic_header *out, unsigned max,
                               unsigned *dropped)
{
	unsigned k = 0;

	*dropped = 0;
	for (unsigned i = 0; i < p->n_headers; i++) {
		struct http1_field *f = &p->headers[i];
		bool named = false;

		if (hop_by_hop(f->name, f->name_len))
			continue;
		/* RFC 9112 6.3 rule 3: with Transfer-Encoding, Content-Length
		 * is removed before forwarding (marked by headers_done) */
		if (p->saw_te && (p->cl_fields >> i & 1))
			continue;
		/* RFC 9110 7.6.1: fields named in Connection are hop-by-hop too */
		for (unsigned j = 0; j < p->n_headers && !named; j++)
			if (http1_name_is(p->headers[j].name, p->headers[j].name_len, "connection")) {
				char low[64];

				if (f->name_len >= sizeof(low))
					continue;
				for (unsigned c = 0; c < f->name_len; c++)
					low[c] = lc(f->name[c]);
				low[f->name_len] = 0;
				named = token_list_has(p->headers[j].value, p->headers[j].value_len, low);
			}
		if (named)
			continue;
		if (k == max) {
			(*dropped)++;
			continue;
		}
		/* RFC 9114 4.2: field names in HTTP/3 are lower case */
		for (unsigned c = 0; c < f->name_len; c++)
			((char *)f->name)[c] = lc(f->name[c]);
		out[k++] = (struct quic_header){f->name, f->name_len, f->value, f->value_len};
	}
	return k;
}

/* ---- request serializer ---- */

struct wbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static void put(struct wbuf *b, const char *s, size_t n)
{
	if (b->full || b->cap - b->len < n) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct wbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

static bool clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == 0)
			return false;
	return true;
}

/* A request field the proxy does not pass on. */
static bool req_dropped(const struct quic_request *req, const struct quic_header *h)
{
	if (hop_by_hop(h->name, h->name_len) || (h->name_len > 6 && http1_name_is(h->name, 6, "proxy-")))
		return true;
	if (http1_name_is(h->name, h->name_len, "content-length") ||
	    http1_name_is(h->name, h->name_len, "x-forwarded-proto") ||
	    http1_name_is(h->name, h->name_len, "cookie"))
		return true; /* the proxy writes these itself */
	/* issue 9 §3: only the TLS layer may vouch for a client certificate;
	 * a client's own copies are dropped with or without mTLS */
	if (http1_name_is(h->name, h->name_len, "x-client-cert-subject") ||
	    http1_name_is(h->name, h->name_len, "x-client-cert-sha256"))
		return true;
	if (req->authority && http1_name_is(h->name, h->name_len, "host"))
		return true;
	for (unsigned j = 0; j < req->n_headers; j++) {
		const struct quic_header *c = &req->headers[j];
		char low[64];

		if (!http1_name_is(c->name, c->name_len, "connection") || h->name_len >= sizeof(low))
			continue;
		for (size_t i = 0; i < h->name_len; i++)
			low[i] = lc(h->name[i]);
		low[h->name_len] = 0;
		if (token_list_has(c->value, c->value_len, low))
			return true;
	}
	return false;
}

ssize_t http1_req_serialize(const struct quic_request *req, const char *client, int64_t body_len,
                            char *buf, size_t cap)
{
	return http1_req_serialize_via(req, client, NULL, body_len, buf, cap);
}

ssize_t http1_req_serialize_via(const struct quic_request *req, const char *client, const char *via,
                                int64_t body_len, char *buf, size_t cap)
{
	struct wbuf b = {.p = buf, .cap = cap};
	bool cookie = false;
	char num[32];

	if (!req->method || !req->path || !clean(req->method, strlen(req->method)) ||
	    !clean(req->path, strlen(req->path)))
		return -EINVAL;
	puts_(&b, req->method);
	put(&b, " ", 1);
	puts_(&b, req->path);
	puts_(&b, " HTTP/1.1\r\n");
	if (req->authority) {
		if (!clean(req->authority, strlen(req->authority)))
			return -EINVAL;
		puts_(&b, "Host: ");
		puts_(&b, req->authority);
		puts_(&b, "\r\n");
	}
	for (unsigned i = 0; i < req->n_headers; i++) {
		const struct quic_header *h = &req->headers[i];

		if (!clean(h->name, h->name_len) || !clean(h->value, h->value_len))
			return -EINVAL;
		if (req_dropped(req, h))
			continue;
		put(&b, h->name, h->name_len);
		put(&b, ": ", 2);
		put(&b, h->value, h->value_len);
		put(&b, "\r\n", 2);
	}
	/* RFC 9114 4.2.1: HTTP/3 may split Cookie into several fields; HTTP/1.1
	 * wants one, joined with "; ". */
	for (unsigned i = 0; i < req->n_headers; i++) {
		const struct quic_header *h = &req->headers[i];

		if (!http1_name_is(h->name, h->name_len, "cookie"))
			continue;
		puts_(&b, cookie ? "; " : "Cookie: ");
		put(&b, h->value, h->value_len);
		cookie = true;
	}
	if (cookie)
		put(&b, "\r\n", 2);
	if (client && *client) {
		puts_(&b, "X-Forwarded-For: ");
		puts_(&b, client);
		puts_(&b, "\r\n");
	}
	if (req->client_cert_subject && req->client_cert_sha256) {
		/* a subject is RFC 4514 text from a verified certificate, but
		 * its attribute values may hold any byte: never let one split
		 * the head (then the request is refused, as any CR/LF) */
		if (!clean(req->client_cert_subject, strlen(req->client_cert_subject)) ||
		    !clean(req->client_cert_sha256, strlen(req->client_cert_sha256)))
			return -EINVAL;
		puts_(&b, "X-Client-Cert-Subject: ");
		puts_(&b, req->client_cert_subject);
		puts_(&b, "\r\nX-Client-Cert-Sha256: ");
		puts_(&b, req->client_cert_sha256);
		puts_(&b, "\r\n");
	}
	puts_(&b, "X-Forwarded-Proto: https\r\nVia: ");
	puts_(&b, via ? via : "3");
	puts_(&b, " ringgate\r\n");
	if (body_len >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)body_len);
		puts_(&b, "Content-Length: ");
		puts_(&b, num);
		puts_(&b, "\r\n");
	} else if (body_len == HTTP1_REQ_CHUNKED) {
		puts_(&b, "Transfer-Encoding: chunked\r\n");
	}
	puts_(&b, "\r\n");
	return b.full ? -ENOSPC : (ssize_t)b.len;
}
