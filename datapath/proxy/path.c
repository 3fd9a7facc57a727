/* path: request-target normalization (path.h). Written by hand: no
 * packaged C library does RFC 3986 5.2.4 on an HTTP target with the
 * refusals an edge proxy needs (liburiparser normalizes whole URIs and
 * decodes nothing). RFC 3986 section numbers are cited where a rule comes
 * from. */
#include "datapath/proxy/path.h"

#include <stdbool.h>
#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 2.3: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

/* Never in a target we forward: CTL, SP, DEL (RFC 9112 3.2 has none of
 * them; SP would end the request line early) and '#' (a fragment is not
 * sent, RFC 9110 7.1; a backend cutting there would read another path). */
static bool bad_raw(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '#';
}

/* The segment just written, out[0..n): 1 for ".", 2 for "..", else 0;
 * -1 for a dot segment followed by parameters (";" or its escape). */
static int dot_segment(const char *s, size_t n)
{
	size_t d = 0;

	while (d < n && d < 2 && s[d] == '.')
		d++;
	if (d == 0)
		return 0;
	if (d == n)
		return (int)d;
	if (s[d] == ';' || (n - d >= 3 && s[d] == '%' && s[d + 1] == '3' && s[d + 2] == 'B'))
		return -1;
	return 0;
}

enum proxy_path_verdict proxy_path_normalize(const char *in, size_t len, char *out, size_t cap,
                                             size_t *out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, o = 0, q;

	if (cap < len + 1)
		return PROXY_PATH_TOO_LONG;
	if (len == 1 && in[0] == '*') { /* asterisk-form (RFC 9112 3.2.4) */
		out[0] = '*';
		out[1] = 0;
		*out_len = 1;
		return PROXY_PATH_OK;
	}
	if (len == 0 || in[0] != '/')
		return PROXY_PATH_NOT_ORIGIN_FORM;
	for (q = 0; q < len && in[q] != '?'; q++)
		;
	/* the query: checked for bytes that cannot be forwarded, not changed */
	for (size_t k = q; k < len; k++)
		if (bad_raw((unsigned char)in[k]))
			return PROXY_PATH_BAD_CHAR;

	/* One segment per turn: decode it into out after its '/', then apply
	 * RFC 3986 5.2.4 to it. out holds "/s1/s2.../sk", never more bytes
	 * than were read from in: cap >= len + 1 bounds every write. */
	while (i < q) {
		size_t seg = o; /* where this "/segment" starts in out */
		int dots;

		out[o++] = in[i++]; /* '/' */
		while (i < q && in[i] != '/') {
			unsigned char c = (unsigned char)in[i];
			int h, l;

			if (c != '%') {
				if (bad_raw(c) || c == '\\')
					return PROXY_PATH_BAD_CHAR;
				out[o++] = (char)c;
				i++;
				continue;
			}
			if (q - i < 3 || (h = hexval((unsigned char)in[i + 1])) < 0 ||
			    (l = hexval((unsigned char)in[i + 2])) < 0)
				return PROXY_PATH_BAD_ESCAPE;
			c = (unsigned char)(h << 4 | l);
			if (c == '/' || c == '\\')
				return PROXY_PATH_ENCODED_SEP;
			if (c < 0x20 || c == 0x7f)
				return PROXY_PATH_ENCODED_CTL;
			if (unreserved(c)) {
				out[o++] = (char)c; /* 6.2.2.2 */
			} else {
				out[o++] = '%'; /* 6.2.2.1: upper-case hex */
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
			i += 3;
		}
		dots = dot_segment(out + seg + 1, o - seg - 1);
		if (dots < 0)
			return PROXY_PATH_DOT_PARAMS;
		if (dots == 0)
			continue;
		/* 5.2.4 B ("/./") and C ("/../"): drop the segment; for ".."
		 * also the last one kept, which must exist (else above root) */
		o = seg;
		if (dots == 2) {
			if (o == 0)
				return PROXY_PATH_ABOVE_ROOT;
			while (out[--o] != '/')
				;
		}
		/* "/a/." and "/a/b/..": the target ends in a directory, "/a/" */
		if (i == q)
			out[o++] = '/';
	}
	if (o == 0)
		out[o++] = '/';
	memcpy(out + o, in + q, len - q);
	o += len - q;
	out[o] = 0;
	*out_len = o;
	return PROXY_PATH_OK;
}

const char *proxy_path_verdict_name(enum proxy_path_verdict v)
{
	static const char *const n[] = {
		[PROXY_PATH_OK] = "ok",
		[PROXY_PATH_NOT_ORIGIN_FORM] = "not an origin-form target",
		[PROXY_PATH_BAD_CHAR] = "control character, space, '#' or '\\' in the target",
		[PROXY_PATH_BAD_ESCAPE] = "malformed percent-escape",
		[PROXY_PATH_ENCODED_SEP] = "encoded '/' or '\\' in the path",
		[PROXY_PATH_ENCODED_CTL] = "encoded control character in the path",
		[PROXY_PATH_ABOVE_ROOT] = "'..' above the root",
		[PROXY_PATH_DOT_PARAMS] = "dot segment with parameters",
		[PROXY_PATH_TOO_LONG] = "target too long",
	};
	return (unsigned)v <= PROXY_PATH_TOO_LONG ? n[v] : "unknown";
}
