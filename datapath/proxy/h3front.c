/* h3front: HTTP/3's binding to the proxy's front seam (front.h). The
 * stream's events reach the proxy directly (quic_handler_ops is the seam's
 * event table); the proxy's calls on the stream are quic.h's quic_stream
 * calls, adapted here only in their argument types. proxy_request() is the quic
 * server's on_request (proxy.h). */
#include "datapath/proxy/front.h"
#include "datapath/proxy/proxy.h"

#define H3_INTERNAL_ERROR 0x0102 /* RFC 9114 8.1 */

static const struct quic_handler_ops h3_handler = {
	.body = proxy_front_body,
	.body_end = proxy_front_body_end,
	.read = proxy_front_read,
	.acked = proxy_front_acked,
	.close = proxy_front_close,
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
	.proto = "h3",
};

int proxy_request(void *ctx, struct quic_stream *s, const struct quic_request *req)
{
	return proxy_front_request(ctx, &h3_front, s, req);
}
