/* path: the one normalization of a request target before routing (sans-IO,
 * allocation-free).
 *
 * Why: the router compares path prefixes and the backend resolves the path
 * again on its own. If they read the bytes differently, a request routed
 * under "/public/" reaches a file outside it ("/public/../secret",
 * "/public/%2e%2e/secret", "/public/..%2fsecret"). So the proxy settles the
 * path once, where the request head enters it, routes on the result and
 * forwards exactly that result. Every front end (HTTP/3 today; HTTP/1.1
 * and HTTP/2 when they come) hands its request to proxy_request(), which
 * calls proxy_path_normalize() before anything looks at the path.
 *
 * Rules, for an origin-form target "/path[?query]":
 *  - percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are
 *    decoded (RFC 3986 2.3, 6.2.2.2), so "%2e" is "." and "%41" is "A";
 *    every other escape stays, its hex digits upper-cased (6.2.2.1);
 *  - then dot segments are removed (RFC 3986 5.2.4): "/a/./b" is "/a/b",
 *    "/a/b/../c" is "/a/c", "/a/.." is "/"; "//" is kept as it is;
 *  - the query is not decoded or changed (its meaning is the backend's).
 * Refused (the proxy answers 400), because the backend would otherwise
 * read the target differently from the router:
 *  - "%2F" and "%5C": the backend may decode them into separators after
 *    our dot removal ("..%2f" climbs one level in many servers);
 *  - a raw "\": Windows-style servers read it as "/";
 *  - escapes of NUL and control characters (%00-%1F, %7F), and raw control
 *    characters, SP, DEL or "#" anywhere (not in an origin-form target,
 *    RFC 9112 3.2; SP would also split the HTTP/1.1 request line);
 *  - a "%" not followed by two hex digits;
 *  - ".." that would climb above "/" (RFC 3986 clamps it; an edge box
 *    says no, a client sending it is probing);
 *  - a dot segment carrying parameters ("..;x", ".;x"): Java servlet
 *    containers strip ";x" and then read ".." (the Tomcat bypass);
 *  - a target that is neither origin-form nor "*".
 * "*" (asterisk-form, OPTIONS) passes unchanged. CONNECT carries no :path
 * in HTTP/3 and never gets here.
 */
#ifndef RG_PROXY_PATH_H
#define RG_PROXY_PATH_H

#include <stddef.h>

enum proxy_path_verdict {
	PROXY_PATH_OK = 0,
	PROXY_PATH_NOT_ORIGIN_FORM, /* empty, or not starting with '/' (and not "*") */
	PROXY_PATH_BAD_CHAR,        /* raw CTL, SP, DEL, '#' or '\' */
	PROXY_PATH_BAD_ESCAPE,      /* '%' without two hex digits */
	PROXY_PATH_ENCODED_SEP,     /* %2F or %5C in the path */
	PROXY_PATH_ENCODED_CTL,     /* %00-%1F or %7F in the path */
	PROXY_PATH_ABOVE_ROOT,      /* ".." above "/" */
	PROXY_PATH_DOT_PARAMS,      /* "..;x" or ".;x" */
	PROXY_PATH_TOO_LONG,        /* the result does not fit `cap` */
};

/* Normalize the target in[0..len) into out (NUL-terminated, *out_len
 * bytes without the NUL). The result is never longer than the input, so
 * cap >= len + 1 always suffices; with less, PROXY_PATH_TOO_LONG. Any
 * verdict but PROXY_PATH_OK leaves out undefined. in and out must not
 * overlap. */
enum proxy_path_verdict proxy_path_normalize(const char *in, size_t len, char *out, size_t cap,
                                             size_t *out_len);

const char *proxy_path_verdict_name(enum proxy_path_verdict v);

#endif
