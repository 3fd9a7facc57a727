/* The admin API's HTTP/1.1 transport on the control thread: accepts,
 * reads one request per connection (Content-Length bodies up to 1 MiB),
 * hands it to the handler and writes the answer, then closes.
 * The endpoints live in api.c.
 *
 * The table of connections is bounded, and so that an operator's request
 * is always answered within a second or two however many sockets others
 * hold open (RFC 9112 §9.8 lets a server close idle connections):
 * - a source address (IPv4 address, IPv6 /64) holds at most
 *   ADMIN_PER_ADDR_MAX connections: a new one evicts its oldest;
 * - a connection must send its whole request head within
 *   ADMIN_HEAD_TIMEOUT_NS of being accepted (slowloris), and the whole
 *   request within ADMIN_CONN_TIMEOUT_NS;
 * - when the table is full, a new connection evicts the oldest that has
 *   not sent a whole request head (then a held answer, then one still
 *   sending its body); one whose answer is being written is never evicted. */
#ifndef RG_ADMIN_H
#define RG_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h" /* rg_sockaddr */

struct admin_req {
	const char *method;
	const char *path;          /* without the query string */
	const char *query;         /* after '?', or "" */
	const char *authorization; /* header value, or NULL */
	size_t authorization_len;  /* its length: compare this, not strlen */
	const char *body;
	size_t body_len;
	rg_sockaddr peer;
};

struct admin_resp {
	int status;
	const char *content_type; /* default text/plain; charset=utf-8 */
	char *body;               /* malloc'ed, freed by the transport */
	size_t len;
	const char *extra_headers; /* e.g. "WWW-Authenticate: Bearer\r\n", or NULL */
	uint64_t delay_ns;         /* hold the answer this long first (a slowdown), 0: at once */
};

#define ADMIN_MAX_CONNS 64
#define ADMIN_PER_ADDR_MAX 8
#define ADMIN_HDR_MAX (16 * 1024)
#define ADMIN_BODY_MAX (1024 * 1024)
#define ADMIN_HEAD_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)
#define ADMIN_CONN_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

/* The request parser, a pure function (no socket, no clock, no allocation)
 * so that it can be fuzzed on its own. */
enum admin_parse {
	ADMIN_PARSE_DONE = 0, /* a whole request: *req is filled (but for peer) */
	ADMIN_PARSE_HEAD,     /* the request head is not complete yet */
	ADMIN_PARSE_BODY,     /* the head is complete, the body still coming */
	ADMIN_PARSE_ERROR,    /* answer *status with *why and close */
};

/* Parse the request in buf[0, len). buf[len] must be '\0' (the parser may
 * look at it, never past it). On ADMIN_PARSE_DONE the strings of *req are
 * terminated in place inside buf and NUL bytes in header fields are
 * replaced by SP (RFC 9110 §5.5), so a value cannot end early; otherwise
 * buf is left as it was and may be parsed again once more bytes came. */
enum admin_parse admin_req_parse(char *buf, size_t len, struct admin_req *req, int *status,
                                 const char **why);

typedef void (*admin_handler)(void *ctx, const struct admin_req *req, struct admin_resp *resp);

struct admin;

/* Listen on addr. Returns 0 or negative errno (-EADDRINUSE ...). */
RG_MUST_CHECK int admin_open(const rg_sockaddr *addr, admin_handler h, void *ctx, struct admin **out);
void admin_close(struct admin *a);
/* The address it listens on (port filled in when 0 was asked). */
RG_MUST_CHECK int admin_local_addr(const struct admin *a, rg_sockaddr *out);
/* An epoll fd that becomes readable when admin_process() has work. */
int admin_fd(const struct admin *a);
/* Accept, read, answer whatever is ready; expire slow clients. Never blocks. */
void admin_process(struct admin *a, uint64_t now_ns);

/* Helpers for handlers: set a response from a printf format. */
void admin_resp_printf(struct admin_resp *r, int status, const char *ctype, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
