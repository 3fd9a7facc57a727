/* h1req: the strict HTTP/1.1 request parser (h1req.h). RFC 9112 sections
 * are cited where a rule comes from. */
#include <string.h>

#include "datapath/https/h1req.h"

static bool tchar(uint8_t c)
{
	/* RFC 9110 5.6.2 token */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static uint8_t lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool name_is(const char *s, size_t n, const char *lower)
{
	size_t m = strlen(lower);

	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lc((uint8_t)s[i]) != (uint8_t)lower[i])
			return false;
	return true;
}

void h1req_init(struct h1req *p)
{
	p->scan = 0;
	p->start = 0;
	p->line_done = false;
	p->error = H1REQ_OK;
}

/* RFC 9112 3: method SP request-target SP HTTP-version */
static enum h1req_error request_line(struct h1req *p, const uint8_t *l, size_t n)
{
	size_t i = 0, m, t;

	while (i < n && tchar(l[i]))
		i++;
	if (!i || i >= n || l[i] != ' ')
		return H1REQ_E_REQUEST_LINE;
	m = i++;
	t = i;
	while (i < n && l[i] > 0x20 && l[i] < 0x7f)
		i++;
	if (i == t || i >= n || l[i] != ' ')
		return H1REQ_E_REQUEST_LINE;
	/* origin-form, or asterisk-form for OPTIONS (3.2.1, 3.2.4); absolute-
	 * and authority-form are for proxies and CONNECT: not served here */
	if (l[t] != '/' && !(i - t == 1 && l[t] == '*' && m == 7 && !memcmp(l, "OPTIONS", 7)))
		return H1REQ_E_REQUEST_LINE;
	i++;
	if (n - i != 8 || memcmp(l + i, "HTTP/", 5) || l[i + 6] != '.' || l[i + 5] < '0' || l[i + 5] > '9' ||
	    l[i + 7] < '0' || l[i + 7] > '9')
		return H1REQ_E_REQUEST_LINE;
	if (l[i + 5] != '1' || l[i + 7] > '1')
		return H1REQ_E_VERSION;
	p->method = (const char *)l;
	p->method_len = (uint32_t)m;
	p->target = (const char *)l + t;
	p->target_len = (uint32_t)(i - 1 - t);
	p->minor = (unsigned)(l[i + 7] - '0');
	return H1REQ_OK;
}

/* RFC 9112 5: field-name ":" OWS field-value OWS; fills f when non-NULL */
static enum h1req_error field_line(const uint8_t *l, size_t n, struct h1req_field *f)
{
	size_t i = 0, v, e;

	if (n && (l[0] == ' ' || l[0] == '\t'))
		return H1REQ_E_OBS_FOLD; /* 5.2: obs-fold refused */
	while (i < n && tchar(l[i]))
		i++;
	if (!i || i >= n || l[i] != ':')
		return H1REQ_E_FIELD_NAME; /* 5.1: no whitespace before the colon */
	v = i + 1;
	while (v < n && (l[v] == ' ' || l[v] == '\t'))
		v++;
	e = n;
	while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	for (size_t k = v; k < e; k++)
		if ((l[k] < 0x20 && l[k] != '\t') || l[k] == 0x7f)
			return H1REQ_E_FIELD_VALUE;
	if (f)
		*f = (struct h1req_field){(const char *)l, (const char *)l + v, (uint32_t)i, (uint32_t)(e - v)};
	return H1REQ_OK;
}

static bool token_in_list(const char *v, size_t n, const char *lower)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && name_is(v + s, e - s, lower))
			return true;
	}
	return false;
}

static bool host_ok(const char *h, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(".-:[]_", c)))
			return false;
	}
	return true;
}

/* The whole head is there and every line is well-formed: read it. */
static enum h1req_error semantics(struct h1req *p, const uint8_t *buf, size_t end)
{
	size_t i = p->start;
	unsigned n_cl = 0, n_te = 0, n_host = 0;
	bool close = false, ka = false;
	const struct h1req_field *te = NULL;

	p->n_fields = 0;
	p->host = NULL;
	p->host_len = 0;
	p->content_length = -1;
	p->chunked = false;
	p->expect_continue = false;
	for (bool first = true;; first = false) {
		const uint8_t *nl = memchr(buf + i, '\n', end - i);
		size_t n = (size_t)(nl - (buf + i)) - 1;
		enum h1req_error err;

		if (first) {
			err = request_line(p, buf + i, n);
			if (err)
				return err;
		} else if (!n) {
			break;
		} else {
			struct h1req_field *f = &p->fields[p->n_fields++];

			field_line(buf + i, n, f);
			if (name_is(f->name, f->name_len, "content-length")) {
				int64_t v = 0;

				if (++n_cl > 1 || !f->value_len || f->value_len > 18)
					return H1REQ_E_CONTENT_LENGTH;
				for (uint32_t k = 0; k < f->value_len; k++) {
					if (f->value[k] < '0' || f->value[k] > '9')
						return H1REQ_E_CONTENT_LENGTH;
					v = v * 10 + (f->value[k] - '0');
				}
				p->content_length = v;
			} else if (name_is(f->name, f->name_len, "transfer-encoding")) {
				n_te++;
				te = f;
			} else if (name_is(f->name, f->name_len, "host")) {
				n_host++;
				p->host = f->value;
				p->host_len = f->value_len;
			} else if (name_is(f->name, f->name_len, "connection")) {
				close |= token_in_list(f->value, f->value_len, "close");
				ka |= token_in_list(f->value, f->value_len, "keep-alive");
			} else if (name_is(f->name, f->name_len, "expect")) {
				if (!name_is(f->value, f->value_len, "100-continue"))
					return H1REQ_E_EXPECT;
				p->expect_continue = p->minor >= 1;
			}
		}
		i = (size_t)(nl - buf) + 1;
	}
	if (n_te) {
		/* 6.1: a server MAY reject TE with CL; a proxy must, or it
		 * forwards a message two parsers frame differently */
		if (n_cl)
			return H1REQ_E_TE_AND_CL;
		/* one field, exactly "chunked": a list, a repeat, or another
		 * coding is refused rather than guessed (6.3 point 4) */
		if (n_te > 1 || p->minor < 1 || !name_is(te->value, te->value_len, "chunked"))
			return H1REQ_E_TRANSFER_ENCODING;
		p->chunked = true;
	}
	if (p->minor >= 1 ? n_host != 1 : n_host > 1)
		return H1REQ_E_HOST;
	if (n_host && !host_ok(p->host, p->host_len))
		return H1REQ_E_HOST;
	p->keep_alive = p->minor >= 1 ? !close : (ka && !close);
	p->head_len = end - p->start;
	return H1REQ_OK;
}

static enum h1req_verdict fail(struct h1req *p, enum h1req_error e)
{
	p->error = e;
	return H1REQ_ERROR;
}

enum h1req_verdict h1req_parse(struct h1req *p, const uint8_t *buf, size_t len, size_t max_bytes)
{
	if (p->error)
		return H1REQ_ERROR;
	/* 2.2: a server SHOULD ignore at least one empty line before the
	 * request line (a client's CRLF after a previous body) */
	while (!p->line_done && p->scan == p->start && len - p->start >= 2 && buf[p->start] == '\r' &&
	       buf[p->start + 1] == '\n')
		p->scan = p->start += 2;
	/* bytes past the limit are never looked at: the verdict is the same
	 * however the input was split */
	if (len - p->start > max_bytes)
		len = p->start + max_bytes;
	for (;;) {
		const uint8_t *l = buf + p->scan;
		const uint8_t *nl = memchr(l, '\n', len - p->scan);
		size_t n;
		const uint8_t *cr;

		if (!nl) {
			/* a CR that something other than LF follows is bare now */
			cr = memchr(l, '\r', len - p->scan);
			if (cr && cr + 1 < buf + len)
				return fail(p, H1REQ_E_BARE_CR);
			if (len - p->start >= max_bytes)
				return fail(p, H1REQ_E_TOO_LARGE);
			return H1REQ_NEED_MORE;
		}
		/* the first offence in the bytes decides, however they were
		 * split: a CR inside the line before an LF without CR */
		cr = memchr(l, '\r', (size_t)(nl - l));
		if (cr && cr + 1 != nl)
			return fail(p, H1REQ_E_BARE_CR);
		if (!cr)
			return fail(p, H1REQ_E_BARE_LF);
		n = (size_t)(nl - l) - 1;
		if (!p->line_done) {
			struct h1req tmp;
			enum h1req_error e = request_line(&tmp, l, n);

			if (e)
				return fail(p, e);
			p->line_done = true;
			p->n_fields = 0;
		} else if (!n) {
			enum h1req_error e = semantics(p, buf, (size_t)(nl + 1 - buf));

			p->scan = (size_t)(nl + 1 - buf);
			return e ? fail(p, e) : H1REQ_HEAD;
		} else {
			enum h1req_error e = field_line(l, n, NULL);

			if (e)
				return fail(p, e);
			if (++p->n_fields > H1REQ_MAX_FIELDS)
				return fail(p, H1REQ_E_TOO_MANY);
		}
		p->scan = (size_t)(nl + 1 - buf);
	}
}

unsigned h1req_status(enum h1req_error e)
{
	switch (e) {
	case H1REQ_E_VERSION:
		return 505;
	case H1REQ_E_EXPECT:
		return 417;
	case H1REQ_E_TOO_LARGE:
	case H1REQ_E_TOO_MANY:
		return 431;
	default:
		return 400;
	}
}

const char *h1req_error_name(enum h1req_error e)
{
	static const char *const names[H1REQ_E_MAX] = {
		"ok", "request_line", "version", "bare_cr", "bare_lf", "obs_fold", "field_name",
		"field_value", "content_length", "te_and_cl", "transfer_encoding", "host", "expect",
		"too_large", "too_many", "chunk",
	};
	return (unsigned)e < H1REQ_E_MAX ? names[e] : "?";
}

/* ---- chunked bodies ---- */

void h1chunk_init(struct h1chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->state = H1C_SIZE;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lc(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

enum h1chunk_event h1chunk_feed(struct h1chunk *c, const uint8_t *in, size_t len, size_t *used,
                                const uint8_t **data, size_t *dlen)
{
	size_t i = 0;

	*data = NULL;
	*dlen = 0;
	while (i < len) {
		uint8_t b = in[i];

		switch (c->state) {
		case H1C_SIZE:
			i++;
			if (++c->line_len > H1REQ_MAX_CHUNK_LINE)
				goto bad;
			if (c->saw_cr) {
				if (b != '\n' || !c->digits)
					goto bad;
				c->saw_cr = false;
				c->line_len = 0;
				c->in_ext = false;
				if (!c->size) {
					c->state = H1C_TRAILER;
					c->line_empty = true;
				} else {
					c->state = H1C_DATA;
					c->left = c->size;
				}
				c->digits = 0;
				c->size = 0;
			} else if (b == '\r') {
				c->saw_cr = true;
			} else if (c->in_ext) {
				/* chunk-ext (7.1.1): read past, no control characters */
				if ((b < 0x20 && b != '\t') || b == 0x7f)
					goto bad;
			} else if (b == ';' && c->digits) {
				c->in_ext = true;
			} else {
				int h = hexval(b);

				/* no whitespace, no sign, at most 15 digits: no overflow */
				if (h < 0 || ++c->digits > 15)
					goto bad;
				c->size = c->size << 4 | (uint64_t)h;
			}
			break;
		case H1C_DATA: {
			size_t n = len - i < c->left ? len - i : (size_t)c->left;

			c->left -= n;
			if (!c->left)
				c->state = H1C_DATA_CR;
			*data = in + i;
			*dlen = n;
			*used = i + n;
			return H1C_BODY;
		}
		case H1C_DATA_CR:
			i++;
			if (b != '\r')
				goto bad;
			c->state = H1C_DATA_LF;
			break;
		case H1C_DATA_LF:
			i++;
			if (b != '\n')
				goto bad;
			c->state = H1C_SIZE;
			break;
		case H1C_TRAILER:
			i++;
			if (++c->line_len > H1REQ_MAX_CHUNK_LINE)
				goto bad;
			if (c->saw_cr) {
				if (b != '\n')
					goto bad;
				c->saw_cr = false;
				c->line_len = 0;
				if (c->line_empty) {
					c->state = H1C_DONE;
					*used = i;
					return H1C_END;
				}
				c->line_empty = true;
			} else if (b == '\r') {
				c->saw_cr = true;
			} else if (b == '\n' || (c->line_empty && (b == ' ' || b == '\t')) ||
			           (b < 0x20 && b != '\t') || b == 0x7f) {
				goto bad; /* bare LF, obs-fold, control characters */
			} else {
				c->line_empty = false;
			}
			break;
		case H1C_DONE:
			*used = i;
			return H1C_END;
		}
	}
	*used = i;
	return c->state == H1C_DONE ? H1C_END : H1C_NEED_MORE;
bad:
	*used = i;
	return H1C_ERROR;
}
