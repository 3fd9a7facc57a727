/* h1conn: the HTTP/1.1 server side of one TCP (+TLS) connection (RFC 9112),
 * doing no I/O. The sibling of h2.h, with the same driver calls and the
 * same stream contract, so that the TCP front end drives either by ALPN.
 *
 * An h1_conn belongs to one worker thread. It owns no socket, no TLS
 * session and no clock. The driver's calls, in order:
 *
 *   accepted (+ TLS done, ALPN http/1.1 or none):  h1_conn_new()
 *   plaintext read:            n = h1_conn_recv(): it takes n bytes; the
 *                              driver keeps the rest and offers them again
 *                              once h1_conn_wants_input() is true (this is
 *                              the back-pressure of request bodies and of
 *                              pipelined requests: TCP's window does the rest)
 *   each loop turn:            while (h1_conn_send() > 0)
 *                                  { write the iovecs; h1_conn_sent(bytes taken) }
 *   timer fired:               h1_conn_handle_expiry()
 *   stop / reload:             h1_conn_shutdown()
 *   h1_conn_done() true, or the connection is gone:  h1_conn_free()
 *
 * Requests are parsed by h1req.h (strict: obs-fold, bare CR, conflicting
 * Content-Length, Transfer-Encoding with Content-Length, invalid names or
 * values are answered 400 and the connection closed, RFC 9112 11.2). One
 * request is served at a time; pipelined requests (RFC 9112 9.3) wait in
 * the input until the response before them is complete, and their
 * responses go out in order.
 *
 * Each request is a stream with the contract of quic.h ("HTTP/3 requests")
 * with h1_ in place of quic_, as h2.h does; the differences:
 *  - reset() closes the connection once what was handed over is written:
 *    after the response head, HTTP/1.1 has no other way to abort a
 *    message; before it, the proxy has already answered the errors it
 *    knows through respond(), so a reset is an internal failure.
 *  - acked() means handed to TLS (h1_conn_sent), as in h2.h.
 *  - response framing is chosen here: the handler's Content-Length if it
 *    gave one (a body of another length is a broken message: the
 *    connection is closed after it), else chunked (RFC 9112 7.1) for a
 *    request of HTTP/1.1, else (HTTP/1.0) the body ends with the
 *    connection. HEAD and 1xx/204/304 carry no body (RFC 9110 6.4.1).
 *  - the connection is kept alive unless the request asked for close, was
 *    HTTP/1.0 without keep-alive, the body was not fully read, or the
 *    connection is shutting down (then `Connection: close` is sent).
 *  - extra response fields the front end adds to every response (Alt-Svc)
 *    come from params.extra_headers.
 *  - respond() takes a final status only (200..599, else -EINVAL, as
 *    h2_stream_respond); the handler's Connection, Keep-Alive,
 *    Proxy-Connection, Transfer-Encoding and Upgrade fields are dropped
 *    (this layer frames the message), and a 204's Content-Length too
 *    (RFC 9110 8.6). A Content-Length that is not one run of digits, or
 *    given twice: -EINVAL. No Date field is added: the HTTP/3 and h2 paths
 *    add none either (the proxy forwards the backend's).
 *  - Expect: 100-continue (RFC 9110 10.1.1): "100 Continue" goes out as
 *    soon as on_request() returned without a final answer: the handler
 *    takes body bytes from then on (body() cannot say "not yet"; the
 *    window is the back-pressure), so waiting for a later signal would
 *    only delay the client. A handler that answers inside on_request
 *    gets no 100; the connection then closes unless the body arrives.
 *  - request body back-pressure: body bytes given to body() and not yet
 *    consume()d are bounded by a 256 KiB window (h2's stream window);
 *    while it is full h1_conn_recv takes nothing and wants_input is
 *    false. consume() and resume() only mark the stream: the driver's
 *    next loop turn (h1_conn_send, then recv of what it holds when
 *    wants_input) moves the bytes.
 *  - an HTTP/1.0 request without Host gets authority "" (HTTP/1.1 without
 *    one was refused 400 by h1req).
 *  - Transfer-Encoding other than exactly "chunked" is answered 501 (RFC
 *    9112 6.1: a coding not implemented here), a request line longer than
 *    max_header_bytes 414, a head over it or over max_headers fields 431.
 *
 * Errors: 0 or a negative errno. Peer misbehaviour is not an error of the
 * call: the connection answers (400, 408, 413, 414, 431, 501, 505 as RFC
 * 9110/9112 say) and ends; h1_conn_done() then becomes true once the
 * answer was handed over. Each case is counted in struct h1_counters.
 */
#ifndef RG_H1CONN_H
#define RG_H1CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "datapath/quic/quic.h" /* struct quic_request, quic_header, quic_iov */

/* Why a connection ended (each counted). */
enum h1_end {
	H1_END_NONE = 0,
	H1_END_CLOSE,           /* the client closed, or asked for close / HTTP/1.0 */
	H1_END_BAD_REQUEST,     /* 400: h1req refused the head or the chunked body */
	H1_END_HEAD_TOO_LARGE,  /* 431 / 414: head over max_header_bytes or max_headers */
	H1_END_HEADER_TIMEOUT,  /* 408: the head took longer than header_timeout (slowloris) */
	H1_END_IDLE,            /* keep-alive idle_timeout, or closed to make room */
	H1_END_BODY_TIMEOUT,    /* request body stalled longer than body_timeout */
	H1_END_RESET,           /* the handler reset the stream */
	H1_END_SHUTDOWN,        /* graceful stop */
	H1_END_MAX
};

struct h1_counters {
	uint64_t conns_opened, conns_closed;
	uint64_t requests;
	uint64_t pipelined;       /* requests that waited behind another */
	uint64_t keepalive_reuse; /* requests after the first on a connection */
	uint64_t ended[H1_END_MAX];
};

struct h1_stream;
struct h1_conn;

struct h1_handler_ops {
	int (*body)(void *h, struct h1_stream *s, const uint8_t *data, size_t len);
	void (*body_end)(void *h, struct h1_stream *s);
	ssize_t (*read)(void *h, struct h1_stream *s, struct quic_iov *iov, unsigned n, bool *eof);
	void (*acked)(void *h, struct h1_stream *s, uint64_t n);
	void (*close)(void *h, struct h1_stream *s, uint64_t err);
};

/* 0, or a negative errno: the connection answers 500 and closes. The
 * request's strings as in quic.h (method, path, authority = Host live until
 * close(); headers only during the call); scheme is "https" or "http" as
 * params.scheme says. */
typedef int (*h1_request_fn)(void *ctx, struct h1_stream *s, const struct quic_request *req);

struct h1_params {
	h1_request_fn on_request;
	void *request_ctx;
	/* Called with answer_ctx when the connection answers a head itself,
	 * before on_request (400, 414, 417, 431, 501, 505 refused head; 408
	 * header timeout), for the access log: req has peer, sni, scheme, and
	 * method and path once the request line was valid (else NULL);
	 * authority NULL. NULL: nothing called. */
	void (*on_answer)(void *ctx, const struct quic_request *req, unsigned status);
	void *answer_ctx;
	struct h1_counters *ctr;      /* required: the worker's */
	unsigned worker_id;           /* for quic_request.worker_id */
	const char *scheme;           /* "https" (TLS) or "http" ([redirect]) */
	/* Added to every response head (e.g. Alt-Svc); n_extra may be 0. The
	 * array and strings must outlive the connection. */
	const struct quic_header *extra_headers;
	unsigned n_extra;
	/* 0 takes the default shown. */
	uint32_t max_header_bytes;    /* request line + fields, 16384: over -> 431 (414 for the line) */
	unsigned max_headers;         /* 100: over -> 431 */
	uint64_t header_timeout_ns;   /* first byte of a head to its end, 10 s -> 408 */
	uint64_t idle_timeout_ns;     /* keep-alive wait for the next request, 60 s */
	uint64_t body_timeout_ns;     /* no request body byte for this long, 60 s */
	uint64_t shutdown_timeout_ns; /* graceful stop to hard close, 30 s */
};

/* `peer` and `sni` are kept by reference: the driver's connection owns
 * them and outlives this. -EINVAL, -ENOMEM. */
RG_MUST_CHECK int h1_conn_new(const struct h1_params *p, const char *sni, const rg_sockaddr *peer,
                              uint64_t now, struct h1_conn **out);
/* The stream in flight, if any, gets close() with a non-zero err. */
void h1_conn_free(struct h1_conn *c);

/* Plaintext from the peer: the bytes taken (0..len). -EPIPE when the
 * connection is ending and takes nothing more. len 0 means the peer closed
 * its side (end of stream). */
ssize_t h1_conn_recv(struct h1_conn *c, const uint8_t *data, size_t len, uint64_t now);
/* Would h1_conn_recv take bytes now? */
bool h1_conn_wants_input(const struct h1_conn *c);

/* Bytes to write as up to n iovecs (n >= 4): the connection's own buffer
 * (heads, chunk framing) and the handler's body bytes. The count, 0 when
 * nothing now, or -ENOMEM. Valid until h1_conn_sent. */
int h1_conn_send(struct h1_conn *c, struct iovec *iov, unsigned n, uint64_t now);
void h1_conn_sent(struct h1_conn *c, size_t n);

uint64_t h1_conn_next_expiry(const struct h1_conn *c);
void h1_conn_handle_expiry(struct h1_conn *c, uint64_t now);
/* Graceful stop: an idle connection ends now; one with a request in flight
 * ends after its response, which carries `Connection: close`. */
void h1_conn_shutdown(struct h1_conn *c, uint64_t now);
/* Is the connection idle between requests (nothing read of a next one)?
 * The driver closes such connections first when the worker is short of
 * room (issue 9: "idle keep-alive connections are closed"). */
bool h1_conn_idle(const struct h1_conn *c);
bool h1_conn_done(const struct h1_conn *c);
enum h1_end h1_conn_end_reason(const struct h1_conn *c);

/* ---- streams: as quic_stream_* in quic.h ---- */
void h1_stream_attach(struct h1_stream *s, const struct h1_handler_ops *ops, void *h);
RG_MUST_CHECK int h1_stream_respond(struct h1_stream *s, unsigned status,
                                    const struct quic_header *hdrs, unsigned n, bool with_body);
void h1_stream_resume(struct h1_stream *s);
void h1_stream_consume(struct h1_stream *s, size_t n);
void h1_stream_reset(struct h1_stream *s, uint64_t err);

#endif
