/* The admin API's HTTP/1.1 transport on the control thread: accepts,
 * reads one request per connection (Content-Length bodies up to 1 MiB),
 * hands it to the handler and writes the answer, then closes.
 * The endpoints live in api.c. */
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
};

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
