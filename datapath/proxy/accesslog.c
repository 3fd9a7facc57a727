/* accesslog: the access log's formatter and a worker's line buffer
 * (accesslog.h). */
#include "datapath/proxy/accesslog.h"
#include "ring/addr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool alog_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	bool cut = n >= cap;
	if (cut)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
	return cut;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629 4, the
 * table of well-formed byte sequences), 0 when there is none. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t b = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef)
		len = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		len = 4;
	else
		return 0; /* a continuation byte, C0/C1 (overlong), F5..FF */
	if (b == 0xe0)
		lo = 0xa0; /* overlong */
	else if (b == 0xed)
		hi = 0x9f; /* UTF-16 surrogates */
	else if (b == 0xf0)
		lo = 0x90; /* overlong */
	else if (b == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

size_t alog_escape(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)src;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		uint8_t b = s[i];
		char e = 0;
		size_t u = b >= 0x20 && b != 0x7f && b != '"' && b != '\\' ? utf8_len(s + i, len - i) : 0;

		if (u) { /* as it is */
			if (o + u > cap)
				break;
			memcpy(dst + o, s + i, u);
			o += u;
			i += u;
			continue;
		}
		switch (b) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		}
		if (e) {
			if (o + 2 > cap)
				break;
			dst[o++] = '\\';
			dst[o++] = e;
		} else { /* a control character or a byte outside UTF-8 */
			if (o + 6 > cap)
				break;
			memcpy(dst + o, "\\u00", 4);
			dst[o + 4] = hex[b >> 4];
			dst[o + 5] = hex[b & 15];
			o += 6;
		}
		i++;
	}
	return o;
}

size_t alog_time(char out[25], uint64_t wall_ns)
{
	uint64_t ms = wall_ns / 1000000;
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char b[64];

	gmtime_r(&s, &tm); /* UTC: no time zone file, no lock */
	size_t w = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b + w, sizeof(b) - w, ".%03uZ", (unsigned)(ms % 1000));
	memcpy(out, b, 24);
	out[24] = 0;
	return 24;
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s)
{
	size_t n = strlen(s);
	if (o->len + n <= o->cap) {
		memcpy(o->p + o->len, s, n);
		o->len += n;
	}
}

/* ,"key":"escaped value" ("-" for an empty one when dash) */
static void put_str(struct out *o, const char *key, const char *v, bool dash)
{
	put(o, ",\"");
	put(o, key);
	put(o, "\":\"");
	if (!v || (!*v && dash))
		v = "-";
	o->len += alog_escape(o->p + o->len, o->cap - o->len, v, strlen(v));
	put(o, "\"");
}

static void put_u64(struct out *o, const char *key, uint64_t v)
{
	char b[64];
	snprintf(b, sizeof(b), ",\"%s\":%" PRIu64, key, v);
	put(o, b);
}

static void put_bool(struct out *o, const char *key, bool v)
{
	char b[64];
	snprintf(b, sizeof(b), ",\"%s\":%s", key, v ? "true" : "false");
	put(o, b);
}

size_t alog_format(char *dst, size_t cap, const struct alog_rec *r)
{
	struct out o = {dst, 0, cap - 1}; /* room for the '\n' */
	char t[25], a[INET6_ADDRSTRLEN + 16], b[64];

	if (cap < ALOG_LINE_MAX)
		return 0;
	alog_time(t, r->wall_ns);
	put(&o, "{\"time\":\"");
	put(&o, t);
	put(&o, "\"");
	rg_addr_str(&r->client, a, sizeof(a), "-");
	put_str(&o, "client", a, true);
	put_str(&o, "proto", r->proto, true);
	put_str(&o, "tls", r->tls_version, true);
	put_str(&o, "group", r->tls_group, true);
	put_str(&o, "sni", r->sni, true);
	put_str(&o, "host", r->host, true);
	put_str(&o, "method", r->method, true);
	put_str(&o, "path", r->path, false);
	put_bool(&o, "path_cut", r->path_cut);
	put_u64(&o, "status", r->status);
	put_u64(&o, "rx_bytes", r->rx_bytes);
	put_u64(&o, "tx_bytes", r->tx_bytes);
	rg_addr_str(&r->upstream, a, sizeof(a), "-");
	put_str(&o, "upstream", a, true);
	put_str(&o, "route", r->route, true);
	snprintf(b, sizeof(b), ",\"duration_ms\":%" PRIu64 ".%03" PRIu64, r->duration_ns / 1000000,
	         r->duration_ns / 1000 % 1000);
	put(&o, b);
	put_bool(&o, "early_data", r->early_data);
	put_bool(&o, "resumed", r->resumed);
	put(&o, "}");
	dst[o.len++] = '\n';
	return o.len;
}

int alog_init(struct alog *l)
{
	*l = (struct alog){.fd = -1};
	l->buf = malloc(ALOG_BUF);
	return l->buf ? 0 : -ENOMEM;
}

void alog_fini(struct alog *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->lines = 0;
}

void alog_flush(struct alog *l)
{
	if (!l->lines)
		return;
	ssize_t n = l->fd >= 0 ? write(l->fd, l->buf, l->len) : -1;
	if (n == (ssize_t)l->len) {
		l->written += l->lines;
	} else {
		/* failed or short (a full disk): never blocked on, never retried.
		 * A short write left part of a line in the file; the count
		 * covers the whole batch, as nothing says which lines made it. */
		l->dropped += l->lines;
	}
	l->len = l->lines = 0;
}

void alog_set_fd(struct alog *l, int fd)
{
	if (fd == l->fd)
		return;
	alog_flush(l);
	l->fd = fd;
}

void alog_add(struct alog *l, const struct alog_rec *r)
{
	if (l->fd < 0 || !l->buf)
		return;
	if (ALOG_BUF - l->len < ALOG_LINE_MAX)
		alog_flush(l);
	size_t n = alog_format(l->buf + l->len, ALOG_BUF - l->len, r);
	l->len += n;
	l->lines += n > 0;
}
