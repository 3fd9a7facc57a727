/* http1: the HTTP/1.1 backend codec of the proxy (RFC 9112). Sans-IO and
 * allocation-free: bytes in, events out.
 *
 * Written by hand: no packaged C library parses HTTP/1.1 responses into
 * this shape (llhttp is not in Debian 12 as a library; picohttpparser is
 * not packaged) while keeping zero-copy body segments and fixed memory.
 *
 * Response parser. http1_resp_feed() consumes bytes and stops at the first
 * event; the caller feeds the rest again. Any split of the input gives the
 * same events (the header section is accumulated in the parser's own
 * buffer, line by line; body events point into the caller's bytes).
 *
 *   HTTP1_NEED_MORE  every byte given was consumed, nothing to report
 *   HTTP1_HEADERS    the final (non-1xx) header section is complete:
 *                    status, headers[] (pointing into the parser) are valid
 *                    until the next feed
 *   HTTP1_BODY       out->body / out->body_len: body bytes, inside `data`
 *   HTTP1_DONE       the message is complete; bytes after it are not consumed
 *   HTTP1_ERROR      out->error says why; the connection must be closed
 *
 * 1xx interim responses (except 101, an error here: the proxy never asks
 * to upgrade) are skipped. A response to HEAD, and 1xx, 204 and 304 have no
 * body. A body without Content-Length or chunked coding runs until the
 * connection closes: call http1_resp_eof() when it does.
 */
#ifndef RG_HTTP1_H
#define RG_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "datapath/quic/quic.h"

#define HTTP1_MAX_HEADER_BYTES 16384 /* response header section, status line included */
#define HTTP1_MAX_HEADERS 64
#define HTTP1_MAX_LINE 1024          /* chunk-size lines and trailer lines */

enum http1_event {
	HTTP1_NEED_MORE = 0,
	HTTP1_HEADERS,
	HTTP1_BODY,
	HTTP1_DONE,
	HTTP1_ERROR,
};

enum http1_error {
	HTTP1_OK = 0,
	HTTP1_E_STATUS_LINE,    /* not "HTTP/1.x NNN reason" */
	HTTP1_E_HEADER,         /* malformed field line (incl. obs-fold) */
	HTTP1_E_TOO_LARGE,      /* header section over HTTP1_MAX_HEADER_BYTES */
	HTTP1_E_TOO_MANY,       /* more than HTTP1_MAX_HEADERS fields */
	HTTP1_E_CONTENT_LENGTH, /* invalid or conflicting Content-Length */
	HTTP1_E_CHUNK,          /* bad chunk size line or missing CRLF */
	HTTP1_E_TRUNCATED,      /* connection closed before the message ended */
	HTTP1_E_UPGRADE,        /* 101 Switching Protocols */
};

enum http1_framing {
	HTTP1_BODY_NONE = 0,
	HTTP1_BODY_LENGTH,
	HTTP1_BODY_CHUNKED,
	HTTP1_BODY_CLOSE, /* until the connection closes */
};

struct http1_field {
	const char *name, *value;
	uint16_t name_len, value_len;
};

struct http1_resp {
	/* results, valid from HTTP1_HEADERS on */
	unsigned status;
	unsigned minor;              /* HTTP/1.minor */
	enum http1_framing framing;
	int64_t content_length;      /* -1 when absent */
	bool keep_alive;             /* the connection may carry another request */
	struct http1_field headers[HTTP1_MAX_HEADERS];
	unsigned n_headers;
	/* state */
	uint8_t state;
	bool head_request;
	bool conn_close, conn_keep_alive, saw_te;
	uint64_t cl_fields;          /* bit i: headers[i] is Content-Length */
	uint64_t left;               /* body or chunk bytes still expected */
	size_t hlen;                 /* bytes in hbuf */
	size_t line_start;           /* start of the line being read in hbuf */
	size_t trailer_bytes;        /* fill of the chunk-size / trailer line */
	/* the header section, then room for one chunk-size or trailer line */
	char hbuf[HTTP1_MAX_HEADER_BYTES + HTTP1_MAX_LINE];
};

struct http1_out {
	enum http1_event ev;
	enum http1_error error;
	const uint8_t *body;
	size_t body_len;
};

/* Ready for a response to a request with this method (HEAD: no body). */
void http1_resp_init(struct http1_resp *p, bool head_request);
/* Consume bytes up to the next event; returns how many were consumed. */
size_t http1_resp_feed(struct http1_resp *p, const uint8_t *data, size_t len, struct http1_out *out);
/* The connection closed: HTTP1_DONE for a close-delimited body (or when
 * already done), else HTTP1_ERROR with HTTP1_E_TRUNCATED. */
enum http1_event http1_resp_eof(struct http1_resp *p, struct http1_out *out);
/* True before any byte of the response was consumed. */
bool http1_resp_started(const struct http1_resp *p);
const char *http1_error_name(enum http1_error e);

/* The response's fields for HTTP/3: names lower-cased in place, hop-by-hop
 * fields (Connection and those it names, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Transfer-Encoding, Upgrade) left out, and Content-Length left
 * out when Transfer-Encoding came with it (RFC 9112 6.3 rule 3; such a
 * response also clears keep_alive). Fills up to `max`,
 * returns how many; *dropped counts the fields that did not fit. */
unsigned http1_resp_h3_headers(struct http1_resp *p, struct quic_header *out, unsigned max,
                               unsigned *dropped);

/* Request serializer. The request line and header section for `req` into
 * buf: Host from :authority (or the request's own Host), the request's
 * fields without hop-by-hop ones, X-Forwarded-For `client` (the request's
 * own X-Forwarded-For fields kept before it), X-Forwarded-Proto: https,
 * Via: 3 ringgate, and the body framing:
 *   body_len >= 0: Content-Length (0 included when the method usually has
 *                  a body); body_len == -1: Transfer-Encoding: chunked;
 *   body_len == -2: no body.
 * Returns the length, or -ENOSPC when it does not fit (the proxy answers
 * 431), -EINVAL for a request it cannot express (CR/LF in a field). */
#define HTTP1_REQ_NO_BODY (-2)
#define HTTP1_REQ_CHUNKED (-1)
ssize_t http1_req_serialize(const struct quic_request *req, const char *client, int64_t body_len,
                            char *buf, size_t cap);
/* The same, with Via's received-protocol (RFC 9110 7.6.3) as the client
 * spoke it: "3", "2", "1.1" (NULL: "3"). */
ssize_t http1_req_serialize_via(const struct quic_request *req, const char *client, const char *via,
                                int64_t body_len, char *buf, size_t cap);

/* Case-insensitive comparison of a field name with a lower-case literal. */
bool http1_name_is(const char *name, size_t len, const char *lower);

#endif
