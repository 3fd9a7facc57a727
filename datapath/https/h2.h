/* h2: the HTTP/2 server side of one TCP+TLS connection (RFC 9113), over
 * nghttp2, doing no I/O.
 *
 * An h2_conn belongs to one worker thread. It owns no socket, no TLS session
 * and no clock: the driver (the TCP connection of datapath/https/, ALPN "h2")
 * hands it decrypted bytes with h2_conn_recv() and `now`, asks it for bytes
 * to encrypt and write with h2_conn_send(), reports how many it took with
 * h2_conn_sent(), and owns the one timer (h2_conn_next_expiry /
 * h2_conn_handle_expiry). The driver's calls, in order:
 *
 *   accept + TLS handshake done, ALPN "h2":  h2_conn_new()
 *   plaintext read from TLS:                 h2_conn_recv()
 *   each loop turn (after recv, resume, ...)  while (h2_conn_send() > 0)
 *       { write the iovecs to TLS; h2_conn_sent(bytes TLS accepted) }
 *   timer fired:                             h2_conn_handle_expiry()
 *   stop / reload:                           h2_conn_shutdown()
 *   h2_conn_done() true, or TCP/TLS gone:    h2_conn_free()
 *
 * Requests: each request stream follows the stream contract of
 * datapath/quic/quic.h ("HTTP/3 requests") with h2_ in place of quic_: the
 * same struct quic_request, quic_header and quic_iov, the same handler ops
 * shape (struct h2_handler_ops), QUIC_BODY_WOULDBLOCK, respond / resume /
 * consume / reset. The differences:
 *  - app_error codes are HTTP/2 error codes (RFC 9113 7): close() gets 0
 *    (NO_ERROR) on success, h2_stream_reset() takes one.
 *  - acked(): over TCP there is no per-byte acknowledgement the proxy could
 *    use, so "acked" means HANDED TO THE TLS LAYER: the driver reported the
 *    bytes taken with h2_conn_sent() (gnutls_record_send accepted them, i.e.
 *    they were encrypted into a record and the handler's buffer is no longer
 *    read). Until then the bytes must stay valid and unchanged: DATA frame
 *    payloads are not copied, the iovecs h2_conn_send() returns point into
 *    the handler's buffers (NGHTTP2_DATA_FLAG_NO_COPY + send_data callback).
 *  - close() of a stream with response bytes still queued is delayed until
 *    they were handed over (h2_conn_sent) or the connection is freed.
 *  - request body credit: WINDOW_UPDATE only for bytes the handler consumed
 *    (nghttp2 automatic window update is off); bytes still unconsumed when a
 *    stream closes are returned to the connection window then.
 *  - a HEAD request never has a body sent, whatever with_body says (RFC 9110
 *    9.3.2); its handler's read() is not called.
 *
 * Memory: nghttp2 allocates through a counting allocator; a connection above
 * params.max_conn_mem fails its allocations and is ended (GOAWAY where
 * possible). Header copies are bounded by max_header_bytes per stream.
 *
 * Errors: 0 or a negative errno. Peer misbehaviour is not an error of the
 * call: it ends the connection (h2_conn_done() becomes true once the GOAWAY
 * was handed over) and is counted in struct h2_counters.
 */
#ifndef RG_H2_H
#define RG_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "datapath/quic/quic.h" /* struct quic_request, quic_header, quic_iov */

/* HTTP/2 error codes (RFC 9113 7) the module uses. */
#define H2_NO_ERROR 0x0u
#define H2_PROTOCOL_ERROR 0x1u
#define H2_INTERNAL_ERROR 0x2u
#define H2_REFUSED_STREAM 0x7u
#define H2_CANCEL 0x8u
#define H2_ENHANCE_YOUR_CALM 0xbu

/* Why a connection ended early: each has a counter. */
enum h2_end {
	H2_END_NONE = 0,
	H2_END_BAD_PREFACE,     /* not "PRI * HTTP/2.0..." (RFC 9113 3.4) */
	H2_END_RAPID_RESET,     /* > rst_max RST_STREAMs in rst_window (CVE-2023-44487) */
	H2_END_HEADER_BLOCK,    /* header block over max_header_block (CVE-2024-27316) */
	H2_END_CONTINUATIONS,   /* > max_continuations CONTINUATION frames */
	H2_END_ACK_FLOOD,       /* outbound SETTINGS/PING ACKs over max_outbound_ack */
	H2_END_SETTINGS,        /* too many entries in a SETTINGS frame */
	H2_END_EMPTY_DATA,      /* > max_empty_data empty DATA frames in rst_window */
	H2_END_MEMORY,          /* nghttp2 allocations over max_conn_mem */
	H2_END_PROTOCOL,        /* any other connection error of the peer */
	H2_END_IDLE,            /* no stream and nothing received for idle_timeout */
	H2_END_MAX
};

/* Per worker, shared by all of its connections (no atomics: one thread). */
struct h2_counters {
	uint64_t conns_opened, conns_closed;
	uint64_t requests;
	uint64_t streams_reset_by_peer;   /* RST_STREAM received */
	uint64_t streams_refused_malformed; /* RFC 9113 8.1.1 stream errors and 400s */
	uint64_t headers_too_large;       /* 431 answered */
	uint64_t goaway_graceful;         /* h2_conn_shutdown() */
	uint64_t ended[H2_END_MAX];       /* indexed by enum h2_end */
	/* Cost of the connections ended for abuse (every enum h2_end but
	 * NONE and IDLE): frames and bytes they had sent us until then. */
	uint64_t abuse_rx_frames, abuse_rx_bytes;
};

struct h2_stream;
struct h2_conn;

struct h2_handler_ops {
	int (*body)(void *h, struct h2_stream *s, const uint8_t *data, size_t len);
	void (*body_end)(void *h, struct h2_stream *s);
	ssize_t (*read)(void *h, struct h2_stream *s, struct quic_iov *iov, unsigned n, bool *eof);
	void (*acked)(void *h, struct h2_stream *s, uint64_t n);
	void (*close)(void *h, struct h2_stream *s, uint64_t app_error);
};

/* Return 0, or a negative errno to reset the stream (INTERNAL_ERROR). The
 * request's strings follow quic.h: method/scheme/authority/path live until
 * close(), headers only during the call. authority is :authority, or Host
 * when :authority is absent (RFC 9113 8.3.1). */
typedef int (*h2_request_fn)(void *ctx, struct h2_stream *s, const struct quic_request *req);

struct h2_params {
	h2_request_fn on_request;
	void *request_ctx;
	/* Called with answer_ctx when the connection answers a stream's head
	 * itself, before on_request (431 field section too large, 400 no
	 * :method, :path or authority), for the access log: req has peer,
	 * sni and whichever of method, path and authority (else Host) came
	 * (NULL: not known). NULL: nothing called. */
	void (*on_answer)(void *ctx, const struct quic_request *req, unsigned status);
	void *answer_ctx;
	struct h2_counters *ctr;      /* required: the worker's */
	unsigned worker_id;
	/* Every limit below: 0 takes the default shown. */
	unsigned max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS, 100 */
	uint32_t max_header_bytes;    /* decoded field section (RFC 9113 6.5.2
	                               * MAX_HEADER_LIST_SIZE), 16384: over -> 431 */
	unsigned max_headers;         /* fields per section, 100: over -> 431 */
	uint32_t max_header_block;    /* raw HEADERS+CONTINUATION payload bytes,
	                               * 65536: over -> connection ended */
	unsigned max_continuations;   /* CONTINUATION frames per block, 8 */
	uint32_t stream_window;       /* SETTINGS_INITIAL_WINDOW_SIZE, 262144 */
	uint32_t conn_window;         /* connection receive window, 1048576 */
	unsigned rst_max;             /* RST_STREAMs received per rst_window, 100 */
	unsigned max_empty_data;      /* empty non-final DATA per rst_window, 100 */
	uint64_t rst_window_ns;       /* 1 s */
	unsigned max_outbound_ack;    /* queued SETTINGS/PING ACKs, 100 */
	unsigned max_settings;        /* entries per SETTINGS frame, 32 */
	size_t max_conn_mem;          /* bytes nghttp2 may hold, 4 MiB */
	uint64_t idle_timeout_ns;     /* no stream open, nothing received: 60 s */
	uint64_t shutdown_timeout_ns; /* graceful GOAWAY to hard close: 30 s */
	/* Tests only: turn one defence off to see its test fail. */
	bool test_no_rst_limit, test_no_header_block_limit, test_no_empty_data_limit;
};

/* A server connection; the preface is expected first. -EINVAL (no
 * on_request / ctr), -ENOMEM. `peer` and `sni` are copied by reference:
 * they must outlive the connection (the driver's TCP connection owns them). */
RG_MUST_CHECK int h2_conn_new(const struct h2_params *p, const char *sni,
                              const rg_sockaddr *peer, uint64_t now, struct h2_conn **out);
/* Every stream's close() is called (CANCEL for those in flight); bytes
 * handed out by h2_conn_send and not yet reported sent are abandoned. */
void h2_conn_free(struct h2_conn *c);

/* Decrypted bytes from the peer. Returns 0; the connection's fate, if the
 * peer misbehaved, is in h2_conn_done() / h2_conn_end_reason(). -EPIPE when
 * the connection is already ending and the bytes were ignored. */
int h2_conn_recv(struct h2_conn *c, const uint8_t *data, size_t len, uint64_t now);

/* Bytes to write, as up to `n` iovecs (n >= 4) pointing into the
 * connection's own buffer and into handlers' response bodies. Returns the
 * iovec count, 0 when there is nothing to write now, or -ENOMEM. The bytes
 * stay valid until h2_conn_sent() reports them taken; calling h2_conn_send
 * again before that returns the same bytes (what is left of them). */
int h2_conn_send(struct h2_conn *c, struct iovec *iov, unsigned n, uint64_t now);
/* `n` bytes of what h2_conn_send returned were handed to TLS: handlers'
 * acked() are called for their body bytes among them. */
void h2_conn_sent(struct h2_conn *c, size_t n);

/* The one deadline (RG_NO_DEADLINE when none): idle timeout, or the hard
 * stop after a graceful GOAWAY. */
uint64_t h2_conn_next_expiry(const struct h2_conn *c);
void h2_conn_handle_expiry(struct h2_conn *c, uint64_t now);

/* Graceful stop (RFC 9113 6.8): GOAWAY with the last stream id processed,
 * streams in flight finish, new ones are refused; the connection is done
 * when the last one closed or shutdown_timeout passed. */
void h2_conn_shutdown(struct h2_conn *c, uint64_t now);

/* True when the driver should close the TCP connection: nothing more will
 * be written (h2_conn_send returns 0) and nothing more will be read. */
bool h2_conn_done(const struct h2_conn *c);
enum h2_end h2_conn_end_reason(const struct h2_conn *c);
/* Frames and bytes received so far; streams open; bytes nghttp2 holds. */
uint64_t h2_conn_rx_frames(const struct h2_conn *c);
uint64_t h2_conn_rx_bytes(const struct h2_conn *c);
unsigned h2_conn_streams(const struct h2_conn *c);
size_t h2_conn_mem(const struct h2_conn *c);
/* nghttp2's outbound queue (frames waiting to be serialized). */
size_t h2_conn_outq(const struct h2_conn *c);

/* ---- streams: as quic_stream_* in quic.h ---- */
void h2_stream_attach(struct h2_stream *s, const struct h2_handler_ops *ops, void *h);
/* -EINVAL (status outside 100..599... bad arguments), -EALREADY, -ENOMEM. */
RG_MUST_CHECK int h2_stream_respond(struct h2_stream *s, unsigned status,
                                    const struct quic_header *hdrs, unsigned n, bool with_body);
void h2_stream_resume(struct h2_stream *s);
void h2_stream_consume(struct h2_stream *s, size_t n);
void h2_stream_reset(struct h2_stream *s, uint64_t app_error);
/* The stream's id (tests, logs). */
int32_t h2_stream_id(const struct h2_stream *s);

#endif
