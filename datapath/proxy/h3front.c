/* h3front: HTTP/3's binding to the proxy's front seam (front.h). The
 * quic_stream calls of quic.h are the seam's operations as they are; this
 * file only adapts their argument types. proxy_request() is the quic
 * server's on_request (proxy.h). */
#include "datapath/proxy/front.h"
#include "datapath/proxy/proxy.h"

#define H3_INTERNAL_ERROR 0x0102 /* RFC 9114 8.1 */

static int h3_body(void *h, struct quic_stream *s, const uint8_t *data, size_t len)
{
	(void)s;
	return proxy_front_body(h, data, len);
}

static void h3_body_end(void *h, struct quic_stream *s)
{
	(void)s;
	proxy_front_body_end(h);
}

static ssize_t h3_read(void *h, struct quic_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	(void)s;
	return proxy_front_read(h, iov, n, eof);
}

static void h3_acked(void *h, struct quic_stream *s, uint64_t n)
{
	(void)s;
	proxy_front_acked(h, n);
}

static void h3_close(void *h, struct quic_stream *s, uint64_t app_error)
{
	(void)s;
	proxy_front_close(h, app_error);
}

static const struct quic_handler_ops h3_handler = {
	.body = h3_body,
	.body_end = h3_body_end,
	.read = h3_read,
	.acked = h3_acked,
	.close = h3_close,
};

static void h3_attach(void *s, void *h) { quic_stream_attach(s, &h3_handler, h); }
static int h3_respond(void *s, unsigned status, const struct quic_header *hdrs, unsigned n, bool with_body)
{
	return quic_stream_respond(s, status, hdrs, n, with_body);
}
static void h3_resume(void *s) { quic_stream_resume(s); }
static void h3_consume(void *s, size_t n) { quic_stream_consume(s, n); }
static void h3_reset(void *s, uint64_t err) { quic_stream_reset(s, err); }

static const struct proxy_front_ops h3_front = {
	.attach = h3_attach,
	.respond = h3_respond,
	.resume = h3_resume,
	.consume = h3_consume,
	.reset = h3_reset,
	.internal_error = H3_INTERNAL_ERROR,
	.via = "3",
};

int proxy_request(void *ctx, struct quic_stream *s, const struct quic_request *req)
{
	return proxy_front_request(ctx, &h3_front, s, req);
}
