/* h1front: HTTP/1.1's binding to the proxy's front seam (front.h), as
 * h3front.c is HTTP/3's. A request of h1conn.h gets a struct
 * https_stream (datapath/https/conn.h) that names its TCP connection: the
 * proxy's calls (respond, resume, consume, reset) then mark the
 * connection to be written at the end of the loop turn. */

#include "datapath/https/conn.h"
#include "datapath/proxy/front.h"

static int h1f_body(void *h, struct h1_stream *s, const uint8_t *data, size_t len)
{
	(void)s;
	return proxy_front_body(((struct https_stream *)h)->h, data, len);
}

static void h1f_body_end(void *h, struct h1_stream *s)
{
	(void)s;
	proxy_front_body_end(((struct https_stream *)h)->h);
}

static ssize_t h1f_read(void *h, struct h1_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	(void)s;
	return proxy_front_read(((struct https_stream *)h)->h, iov, n, eof);
}

static void h1f_acked(void *h, struct h1_stream *s, uint64_t n)
{
	(void)s;
	proxy_front_acked(((struct https_stream *)h)->h, n);
}

static void h1f_close(void *h, struct h1_stream *s, uint64_t app_error)
{
	(void)s;
	tcpfront_close(h, app_error);
}

static const struct h1_handler_ops h1f_handler = {
	.body = h1f_body,
	.body_end = h1f_body_end,
	.read = h1f_read,
	.acked = h1f_acked,
	.close = h1f_close,
};

static void h1f_attach(void *stream, void *h)
{
	struct https_stream *hs = stream;
	hs->h = h;
	h1_stream_attach(hs->s, &h1f_handler, hs);
}

/* Alt-Svc comes with h1_params.extra_headers (every response head). */
static int h1f_respond(void *stream, unsigned status, const struct quic_header *hdrs, unsigned n, bool with_body)
{
	struct https_stream *hs = stream;
	https_conn_kick(hs->c);
	return h1_stream_respond(hs->s, status, hdrs, n, with_body);
}

static void h1f_resume(void *stream)
{
	struct https_stream *hs = stream;
	h1_stream_resume(hs->s);
	https_conn_kick(hs->c);
}

static void h1f_consume(void *stream, size_t n)
{
	struct https_stream *hs = stream;
	h1_stream_consume(hs->s, n);
	https_conn_kick(hs->c);
}

static void h1f_reset(void *stream, uint64_t err)
{
	struct https_stream *hs = stream;
	https_conn_kick(hs->c);
	h1_stream_reset(hs->s, err);
}

static const struct proxy_front_ops h1_front = {
	.attach = h1f_attach,
	.respond = h1f_respond,
	.resume = h1f_resume,
	.consume = h1f_consume,
	.reset = h1f_reset,
	.internal_error = 0, /* HTTP/1.1 closes the connection whatever it is */
	.via = "1.1",
	.proto = "http/1.1",
};

/* On an error nothing is attached: h1conn.c answers 500 */
int h1front_request(void *ctx, struct h1_stream *s, const struct quic_request *req)
{
	return tcpfront_request(ctx, &h1_front, s, req);
}
