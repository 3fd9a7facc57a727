/* responder: the built-in HTTP/3 responder behind the test server and the
 * demo until the reverse proxy exists. Every body is streamed through the
 * handler interface of quic.h, so it also shows how a proxy uses it:
 *
 *   GET /          a small HTML page
 *   GET /bytes/N   N bytes of quic_pattern_byte(i), from one static table
 *   POST /echo     the request body back, full duplex, with the request's
 *                  flow-control credit returned only as the echoed bytes are
 *                  acknowledged: memory per exchange is one receive window
 *   anything else  404
 *   0-RTT          425 Too Early for a request in early data that is not
 *                  GET or HEAD (RFC 8470 5.2)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/quic/internal.h"

#define PATTERN_CHUNK 16384
#define PATTERN_PERIOD 26

static uint8_t pattern[PATTERN_PERIOD + PATTERN_CHUNK];

static const char index_html[] =
	"<!doctype html>\n<html><head><title>ringgate</title></head>\n"
	"<body><h1>ringgate</h1><p>HTTP/3 is working.</p></body></html>\n";
static const char not_found[] = "not found\n";
static const char bad_request[] = "bad request\n";
static const char too_early[] = "too early: retry after the handshake\n";

enum resp_kind { RESP_STATIC, RESP_BYTES, RESP_ECHO };

struct resp {
	enum resp_kind kind;
	struct quic_stream *s; /* ours until close() */
	/* RESP_STATIC */
	const uint8_t *p;
	size_t left;
	/* RESP_BYTES */
	uint64_t off, total;
	/* RESP_ECHO: ring of QUIC_STREAM_WINDOW bytes, acked <= sent <= recvd */
	uint8_t *ring;
	uint64_t recvd, sent, acked;
	bool ended, blocked;
};

static void pattern_init(void)
{
	size_t i;

	if (pattern[0])
		return;
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = quic_pattern_byte(i);
}

static ssize_t resp_read(void *h, struct quic_iov *iov, unsigned n, bool *eof)
{
	struct resp *r = h;
	unsigned k = 0;

	switch (r->kind) {
	case RESP_STATIC:
		if (r->left) {
			iov[k++] = (struct quic_iov){ r->p, r->left };
			r->p += r->left;
			r->left = 0;
		}
		*eof = true;
		return k;
	case RESP_BYTES:
		while (k < n && r->off < r->total) {
			uint64_t len = r->total - r->off;

			if (len > PATTERN_CHUNK)
				len = PATTERN_CHUNK;
			iov[k++] = (struct quic_iov){ pattern + r->off % PATTERN_PERIOD, (size_t)len };
			r->off += len;
		}
		*eof = r->off == r->total;
		return k;
	case RESP_ECHO:
		while (k < n && r->sent < r->recvd) {
			size_t at = (size_t)(r->sent % QUIC_STREAM_WINDOW);
			uint64_t len = r->recvd - r->sent;

			if (len > QUIC_STREAM_WINDOW - at)
				len = QUIC_STREAM_WINDOW - at;
			iov[k++] = (struct quic_iov){ r->ring + at, (size_t)len };
			r->sent += len;
		}
		if (k == 0 && !r->ended) {
			r->blocked = true;
			return QUIC_BODY_WOULDBLOCK;
		}
		*eof = r->ended && r->sent == r->recvd;
		return k;
	}
	return -EINVAL;
}

static int resp_body(void *h, const uint8_t *data, size_t len)
{
	struct resp *r = h;
	struct quic_stream *s = r->s;

	if (r->kind != RESP_ECHO) {
		quic_stream_consume(s, len);
		return 0;
	}
	/* Flow control keeps recvd - acked within one window; more would be
	 * a peer ignoring it. */
	if (r->recvd + len - r->acked > QUIC_STREAM_WINDOW)
		return -ENOBUFS;
	while (len > 0) {
		size_t at = (size_t)(r->recvd % QUIC_STREAM_WINDOW);
		size_t m = len < QUIC_STREAM_WINDOW - at ? len : QUIC_STREAM_WINDOW - at;

		memcpy(r->ring + at, data, m);
		r->recvd += m;
		data += m;
		len -= m;
	}
	if (r->blocked) {
		r->blocked = false;
		quic_stream_resume(s);
	}
	return 0;
}

static void resp_body_end(void *h)
{
	struct resp *r = h;

	r->ended = true;
	if (r->blocked) {
		r->blocked = false;
		quic_stream_resume(r->s);
	}
}

static void resp_acked(void *h, uint64_t n)
{
	struct resp *r = h;

	if (r->kind != RESP_ECHO)
		return;
	r->acked += n;
	quic_stream_consume(r->s, (size_t)n); /* the echoed bytes free window */
}

static void resp_close(void *h, uint64_t app_error)
{
	struct resp *r = h;

	(void)app_error;
	free(r->ring);
	free(r);
}

static const struct quic_handler_ops resp_ops = {
	.body = resp_body,
	.body_end = resp_body_end,
	.read = resp_read,
	.acked = resp_acked,
	.close = resp_close,
};

static int respond_static(struct quic_stream *s, unsigned status, const char *type,
                          const char *body, bool head)
{
	struct resp *r = calloc(1, sizeof(*r));
	char cl[24];
	struct quic_header hdrs[2] = {
		{ "content-type", 12, type, strlen(type) },
		{ "content-length", 14, cl, 0 },
	};
	int rc;

	if (!r)
		return -ENOMEM;
	r->kind = RESP_STATIC;
	r->p = (const uint8_t *)body;
	r->left = head ? 0 : strlen(body);
	hdrs[1].value_len = (size_t)snprintf(cl, sizeof(cl), "%zu", strlen(body));
	r->s = s;
	quic_stream_attach(s, &resp_ops, r);
	rc = quic_stream_respond(s, status, hdrs, 2, true);
	return rc;
}

int quic_responder_request(void *ctx, struct quic_stream *s, const struct quic_request *req)
{
	bool get = strcmp(req->method, "GET") == 0, head = strcmp(req->method, "HEAD") == 0;
	struct resp *r;

	(void)ctx;
	pattern_init();
	/* What a route with allow_0rtt = no does, for unsafe methods only:
	 * GET and HEAD may be replayed harmlessly (RFC 8470 3). */
	if (req->early_data && !get && !head)
		return respond_static(s, 425, "text/plain", too_early, false);
	if ((get || head) && strcmp(req->path, "/") == 0)
		return respond_static(s, 200, "text/html; charset=utf-8", index_html, head);

	if ((get || head) && strncmp(req->path, "/bytes/", 7) == 0) {
		const char *p = req->path + 7;
		char *end, cl[24];
		unsigned long long n;
		struct quic_header hdrs[2] = {
			{ "content-type", 12, "application/octet-stream", 24 },
			{ "content-length", 14, cl, 0 },
		};

		errno = 0;
		n = strtoull(p, &end, 10);
		if (*p < '0' || *p > '9' || *end || errno || n > (1ull << 40))
			return respond_static(s, 400, "text/plain", bad_request, head);
		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->kind = RESP_BYTES;
		r->total = head ? 0 : n;
		hdrs[1].value_len = (size_t)snprintf(cl, sizeof(cl), "%llu", n);
		r->s = s;
		quic_stream_attach(s, &resp_ops, r);
		return quic_stream_respond(s, 200, hdrs, 2, true);
	}

	if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/echo") == 0) {
		struct quic_header hdrs[1] = {
			{ "content-type", 12, "application/octet-stream", 24 },
		};

		r = calloc(1, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->kind = RESP_ECHO;
		r->ended = !req->has_body;
		r->ring = malloc(QUIC_STREAM_WINDOW);
		if (!r->ring) {
			free(r);
			return -ENOMEM;
		}
		r->s = s;
		quic_stream_attach(s, &resp_ops, r);
		return quic_stream_respond(s, 200, hdrs, 1, true);
	}
	return respond_static(s, 404, "text/plain", not_found, head);
}
