/* front: the seam between a client-side front end (HTTP/3 today, HTTP/1.1
 * and HTTP/2 over TCP) and the proxy's request driver (proxy.c).
 *
 * A front end frames requests; everything after the request head is
 * shared: routing, the exchange (exchange.h), the upstream pools. It hands
 * each request to proxy_front_request() with a table of four operations on
 * its own stream object, and then feeds the returned handle the events of
 * that stream. The contract is the quic_stream contract of quic.h ("HTTP/3
 * requests"), operation for operation:
 *
 *   proxy -> front end (struct proxy_front_ops, `stream` is the front
 *   end's own object):
 *     attach(stream, h)     called first, inside proxy_front_request,
 *                           before any other operation: the handle the
 *                           front end passes to the proxy_front_* events
 *     respond(...)          quic_stream_respond: 0, -EINVAL, -EALREADY,
 *                           -ENOMEM; the body follows through
 *                           proxy_front_read() when with_body
 *     resume(stream)        quic_stream_resume: proxy_front_read() has
 *                           bytes again after it said WOULDBLOCK; safe
 *                           outside any callback (the front end writes
 *                           later, never re-entering the proxy from here)
 *     consume(stream, n)    quic_stream_consume: n request body bytes were
 *                           processed, the client may send that much more
 *     reset(stream, err)    quic_stream_reset: abort the exchange both
 *                           ways; err is ops->internal_error. The front
 *                           end still calls proxy_front_close() (it may do
 *                           so from inside reset)
 *
 *   front end -> proxy (the handle h from attach), struct quic_handler_ops:
 *     proxy_front_body      body():     bytes valid during the call; 0 or
 *                           -errno (then reset the stream). Bytes count
 *                           against the client's window until consume()
 *     proxy_front_body_end  body_end(): the request body ended
 *     proxy_front_read      read():     fill up to n iovecs, return the
 *                           count, QUIC_BODY_WOULDBLOCK, or -errno (reset);
 *                           *eof on the last; bytes stay valid and
 *                           unchanged until proxy_front_acked() covers them
 *     proxy_front_acked     acked():    n more response body bytes were
 *                           delivered, in order (TCP: written to the
 *                           socket, the kernel owns a copy)
 *     proxy_front_close     close():    the exchange is over for the
 *                           front end (completed, reset, connection
 *                           gone); h and the stream's attachment are
 *                           invalid after it returns
 *
 * Threading: one worker, no locks; `ctx` is that worker's struct proxy.
 */
#ifndef RG_PROXY_FRONT_H
#define RG_PROXY_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "datapath/quic/quic.h" /* struct quic_request, quic_header, quic_iov */

struct proxy;

struct proxy_front_ops {
	void (*attach)(void *stream, void *h);
	int (*respond)(void *stream, unsigned status, const struct quic_header *hdrs, unsigned n,
	               bool with_body) RG_MUST_CHECK;
	void (*resume)(void *stream);
	void (*consume)(void *stream, size_t n);
	void (*reset)(void *stream, uint64_t err);
	/* the error code reset() is given when the proxy aborts an exchange
	 * (H3_INTERNAL_ERROR 0x0102 for HTTP/3, INTERNAL_ERROR 0x2 for HTTP/2;
	 * HTTP/1.1 closes the connection whatever it is) */
	uint64_t internal_error;
	/* the protocol the client spoke, as Via writes it (RFC 9110 7.6.3):
	 * "3", "2", "1.1"; NULL: "3" */
	const char *via;
	/* and as the access log names it (the ALPN token): "h3", "h2",
	 * "http/1.1"; NULL: "h3" */
	const char *proto;
};

/* A request head (req as quic.h's on_request gives it: method, path,
 * authority or a Host field, headers; req->peer for X-Forwarded-For).
 * Calls ops->attach(stream, h) first; on return the exchange is running
 * (it may already have answered through ops->respond). 0, or -ENOMEM when
 * the worker's exchange pool is exhausted (nothing attached: the front end
 * answers or resets itself). */
RG_MUST_CHECK int proxy_front_request(struct proxy *px, const struct proxy_front_ops *ops, void *stream,
                                      const struct quic_request *req);

int proxy_front_body(void *h, const uint8_t *data, size_t len);
void proxy_front_body_end(void *h);
ssize_t proxy_front_read(void *h, struct quic_iov *iov, unsigned n, bool *eof);
void proxy_front_acked(void *h, uint64_t n);
void proxy_front_close(void *h, uint64_t err);

#endif
