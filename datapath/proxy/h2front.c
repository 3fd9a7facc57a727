/* h2front: HTTP/2's binding to the proxy's front seam (front.h), as
 * h3front.c is HTTP/3's. A request stream of h2.h gets a struct
 * https_stream (datapath/https/conn.h) that names its TCP connection: the
 * proxy's calls (respond, resume, consume, reset) then mark the
 * connection to be written at the end of the loop turn. */
#include <string.h>
#include <strings.h>

#include "datapath/https/conn.h"
#include "datapath/proxy/front.h"

static int h2f_body(void *h, struct h2_stream *s, const uint8_t *data, size_t len)
{
	(void)s;
	return proxy_front_body(((struct https_stream *)h)->h, data, len);
}

static void h2f_body_end(void *h, struct h2_stream *s)
{
	(void)s;
	proxy_front_body_end(((struct https_stream *)h)->h);
}

static ssize_t h2f_read(void *h, struct h2_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	(void)s;
	return proxy_front_read(((struct https_stream *)h)->h, iov, n, eof);
}

static void h2f_acked(void *h, struct h2_stream *s, uint64_t n)
{
	(void)s;
	proxy_front_acked(((struct https_stream *)h)->h, n);
}

static void h2f_close(void *h, struct h2_stream *s, uint64_t app_error)
{
	(void)s;
	tcpfront_close(h, app_error);
}

static const struct h2_handler_ops h2f_handler = {
	.body = h2f_body,
	.body_end = h2f_body_end,
	.read = h2f_read,
	.acked = h2f_acked,
	.close = h2f_close,
};

static void h2f_attach(void *stream, void *h)
{
	struct https_stream *hs = stream;
	hs->h = h;
	h2_stream_attach(hs->s, &h2f_handler, hs);
}

/* The response head, with the connection's Alt-Svc (RFC 7838 3) when its
 * vhost is served by [quic] too: h2.h has no per-connection extra fields. */
static int h2f_respond(void *stream, unsigned status, const struct quic_header *hdrs, unsigned n, bool with_body)
{
	struct https_stream *hs = stream;
	https_conn_kick(hs->c);
	const struct quic_header *alt = hs->c->alt_hdr;
	/* a backend's own Alt-Svc stands */
	for (unsigned i = 0; alt && i < n; i++)
		if (hdrs[i].name_len == 7 && !strncasecmp(hdrs[i].name, "alt-svc", 7))
			alt = NULL;
	if (!alt || n >= 64)
		return h2_stream_respond(hs->s, status, hdrs, n, with_body);
	struct quic_header all[65];
	if (n)
		memcpy(all, hdrs, n * sizeof(*hdrs));
	all[n] = *alt;
	return h2_stream_respond(hs->s, status, all, n + 1, with_body);
}

static void h2f_resume(void *stream)
{
	struct https_stream *hs = stream;
	h2_stream_resume(hs->s);
	https_conn_kick(hs->c);
}

static void h2f_consume(void *stream, size_t n)
{
	struct https_stream *hs = stream;
	h2_stream_consume(hs->s, n);
	https_conn_kick(hs->c);
}

static void h2f_reset(void *stream, uint64_t err)
{
	struct https_stream *hs = stream;
	https_conn_kick(hs->c);
	h2_stream_reset(hs->s, err);
}

static const struct proxy_front_ops h2_front = {
	.attach = h2f_attach,
	.respond = h2f_respond,
	.resume = h2f_resume,
	.consume = h2f_consume,
	.reset = h2f_reset,
	.internal_error = H2_INTERNAL_ERROR,
	.via = "2",
	.proto = "h2",
};

/* On an error nothing is attached: the stream is reset by h2.c (INTERNAL_ERROR) */
int h2front_request(void *ctx, struct h2_stream *s, const struct quic_request *req)
{
	return tcpfront_request(ctx, &h2_front, s, req);
}
