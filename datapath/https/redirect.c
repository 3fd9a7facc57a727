/* redirect: the [redirect] server's answers (contract in redirect.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "datapath/https/redirect.h"

#define REDIRECT_LOC_MAX 8192u

/* RFC 3986 3.2.2 reg-name as DNS uses it: letters, digits, '-', '.', and
 * '_' (seen in real names). Anything else ('@', '/', '\\', '%', ...) is not
 * a name we could serve: no userinfo tricks reach the Location. */
static bool dns_name(const char *h, size_t n)
{
	if (!n || n > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
		if (c == '.' && i + 1 < n && h[i + 1] == '.')
			return false;
	}
	return true;
}

static bool known(const struct redirect_conf *conf, const char *h, size_t n)
{
	for (unsigned i = 0; i < conf->n_names; i++) {
		const char *v = conf->names[i];
		size_t vl = strlen(v);

		if (vl > 1 && v[0] == '*' && v[1] == '.') {
			/* "*.example.com": any name below, not the apex */
			if (n > vl - 1 && !strncasecmp(h + n - (vl - 1), v + 1, vl - 1))
				return true;
		} else if (vl == n && !strncasecmp(h, v, n)) {
			return true;
		}
	}
	return false;
}

static bool origin_form(const char *p)
{
	if (!p || p[0] != '/')
		return false;
	/* RFC 9112 3.2.1; h1req let only visible ASCII through, checked again
	 * here because this text goes into a header we write */
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

unsigned redirect_decide(const struct redirect_conf *conf, const char *host, const char *path,
                         char *loc, size_t cap)
{
	size_t n;
	const char *colon;
	char port[8] = "";
	int w;

	if (!host || !*host || !origin_form(path))
		return 400;
	if (host[0] == '[')
		return 421; /* an IP literal names no vhost */
	colon = strchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if (colon) {
		/* RFC 3986 3.2.3: port = *DIGIT */
		for (const char *q = colon + 1; *q; q++)
			if (*q < '0' || *q > '9')
				return 421;
	}
	if (n && host[n - 1] == '.')
		n--; /* "example.com." is example.com */
	if (!dns_name(host, n) || !known(conf, host, n))
		return 421;
	if (!strncmp(path, REDIRECT_ACME_PREFIX, strlen(REDIRECT_ACME_PREFIX)))
		return 404; /* not served before the ACME issue (redirect.h) */
	if (conf->https_port && conf->https_port != 443)
		snprintf(port, sizeof(port), ":%u", (unsigned)conf->https_port);
	w = snprintf(loc, cap, "https://%.*s%s%s", (int)n, host, port, path);
	if (w < 0 || (size_t)w >= cap)
		return 414;
	/* the name in lower case: the form certificates and routes use */
	for (size_t i = 8; i < 8 + n; i++)
		if (loc[i] >= 'A' && loc[i] <= 'Z')
			loc[i] = (char)(loc[i] + 32);
	return 308;
}

/* ---- the handler: a static text body, request bodies dropped ---- */

static int r_body(void *h, struct h1_stream *s, const uint8_t *data, size_t len)
{
	(void)h;
	(void)data;
	h1_stream_consume(s, len);
	return 0;
}

static ssize_t r_read(void *h, struct h1_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	(void)s;
	(void)n;
	iov[0].base = (const uint8_t *)h;
	iov[0].len = strlen(h);
	*eof = true;
	return 1;
}

static const struct h1_handler_ops ops = { r_body, NULL, r_read, NULL, NULL };

static const char *text(unsigned status)
{
	switch (status) {
	case 308: return "Moved to HTTPS.\n";
	case 400: return "Bad request.\n";
	case 404: return "Not found.\n";
	case 414: return "URI too long.\n";
	default: return "This server does not serve that host.\n";
	}
}

int redirect_on_request(void *ctx, struct h1_stream *s, const struct quic_request *req)
{
	const struct redirect_conf *conf = ctx;
	char loc[REDIRECT_LOC_MAX]; /* respond() copies it into the head */
	const char *host = req->authority && *req->authority ? req->authority : NULL;
	unsigned status = redirect_decide(conf, host, req->path, loc, sizeof(loc));
	const char *body = text(status);
	char len[24];
	struct quic_header h[3];
	unsigned n = 0;

	snprintf(len, sizeof(len), "%zu", strlen(body));
	h[n++] = (struct quic_header){ "content-type", 12, "text/plain; charset=utf-8", 25 };
	h[n++] = (struct quic_header){ "content-length", 14, len, strlen(len) };
	if (status == 308)
		h[n++] = (struct quic_header){ "location", 8, loc, strlen(loc) };
	if (conf->on_answer)
		conf->on_answer(conf->answer_ctx, req, status);
	h1_stream_attach(s, &ops, (void *)(uintptr_t)body);
	return h1_stream_respond(s, status, h, n, true);
}
