/* redirect: the request handler of the [redirect] server (issue 9 section
 * 2), plain HTTP/1.1 on port 80, sans-IO: it runs on the h1_conn streams
 * of h1conn.h and answers every request itself.
 *
 *   Host names a vhost (exact, or "*.example.com": any name below
 *   example.com, not example.com itself, as proxy/route.c matches; case
 *   insensitive; a port in Host is ignored; one trailing dot too):
 *       308 Permanent Redirect (RFC 9110 15.4.9),
 *       Location: https://HOST[:PORT]/PATH?QUERY (the request target as
 *       sent, origin-form only; PORT omitted when 0 or 443)
 *   any other Host (an IP literal, an unknown name): 421 Misdirected
 *       Request (RFC 9110 15.5.20): nothing is redirected to a name we
 *       do not serve (no open redirect)
 *   no Host (HTTP/1.0) or a target that is not origin-form: 400
 *   /.well-known/acme-challenge/... : 404 for now (see the hook below)
 * Each answer has a small text/plain body; request bodies are read and
 * dropped (credited at once); the connection closes after a response
 * whose request body was not fully read (h1conn's rule).
 *
 * No Date field: the HTTP/3 and h2 paths add none of their own either
 * (the proxy forwards the backend's), and this core has no wall clock. */
#ifndef RG_HTTPS_REDIRECT_H
#define RG_HTTPS_REDIRECT_H

#include <stddef.h>
#include <stdint.h>

#include "datapath/https/h1conn.h"

#define REDIRECT_ACME_PREFIX "/.well-known/acme-challenge/"

struct redirect_conf {
	/* the vhost names: "example.com" or "*.example.com"; the array and
	 * the strings outlive every connection using the conf */
	const char *const *names;
	unsigned n_names;
	uint16_t https_port; /* 0 or 443: no port in Location */
	/* TODO(ACME HTTP-01, the later issue that issue 9 section 2 announces,
	 * not filed yet): when set, requests for a known host under
	 * REDIRECT_ACME_PREFIX go to this function instead of the 404 they get
	 * today (it answers on the stream itself, 0 or -errno). Nothing sets
	 * it yet, and redirect_on_request() ignores it: no challenge is
	 * served before that issue defines how tokens get here. */
	h1_request_fn acme_http01;
	void *acme_ctx;
	/* Each answer, for the access log: called with answer_ctx, the
	 * request as redirect_on_request got it and the status. NULL: none. */
	void (*on_answer)(void *ctx, const struct quic_request *req, unsigned status);
	void *answer_ctx;
};

/* The answer for a request: 308 (then loc holds the Location value), 400,
 * 404, 414 (the Location would not fit in cap), 421. host is the Host
 * field value (NULL when absent), path the request target as sent. */
unsigned redirect_decide(const struct redirect_conf *conf, const char *host, const char *path,
                         char *loc, size_t cap);

/* The h1_request_fn of the redirect server: request_ctx is a const struct
 * redirect_conf *. Always answers (0), or -ENOMEM when the response head
 * did not fit (h1conn then answers 500). */
int redirect_on_request(void *ctx, struct h1_stream *s, const struct quic_request *req);

#endif
