/* The HTTP/1.1 codec: every good response parsed under every split of its
 * bytes into two (and byte by byte) gives the same status, fields, body
 * and end; bad responses give errors; the request serializer drops
 * hop-by-hop fields and adds the forwarding ones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/http1.h"
#include "tests/check.h"

struct result {
	unsigned status, n_headers;
	enum http1_framing framing;
	bool keep_alive, done, error, headers;
	enum http1_error err;
	char body[4096];
	size_t body_len;
	size_t consumed;   /* bytes the parser took in total */
};

/* Feed `msg` in pieces cut at `cuts` (ascending), then EOF when `eof`. */
static void run(const char *msg, size_t len, const size_t *cuts, unsigned n_cuts, bool head, bool eof,
                struct result *r)
{
	static struct http1_resp p;
	size_t start = 0;

	memset(r, 0, sizeof(*r));
	http1_resp_init(&p, head);
	for (unsigned i = 0; i <= n_cuts && !r->done && !r->error; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		/* a copy of just this piece: reads past it are caught by ASan */
		size_t plen = end - start;
		uint8_t *piece = malloc(plen ? plen : 1);

		memcpy(piece, msg + start, plen);
		size_t off = 0;
		for (;;) {
			struct http1_out out;
			size_t n = http1_resp_feed(&p, piece + off, plen - off, &out);

			off += n;
			r->consumed += n;
			if (out.ev == HTTP1_HEADERS) {
				r->headers = true;
				r->status = p.status;
				r->n_headers = p.n_headers;
				r->framing = p.framing;
				r->keep_alive = p.keep_alive;
				continue;
			}
			if (out.ev == HTTP1_BODY) {
				if (r->body_len + out.body_len <= sizeof(r->body))
					memcpy(r->body + r->body_len, out.body, out.body_len);
				r->body_len += out.body_len;
				continue;
			}
			if (out.ev == HTTP1_DONE)
				r->done = true;
			if (out.ev == HTTP1_ERROR) {
				r->error = true;
				r->err = out.error;
			}
			break;
		}
		free(piece);
		start = end;
	}
	if (eof && !r->done && !r->error) {
		struct http1_out out;

		if (http1_resp_eof(&p, &out) == HTTP1_DONE)
			r->done = true;
		else {
			r->error = true;
			r->err = out.error;
		}
	}
}

struct good {
	const char *name, *msg;
	bool head, eof;
	unsigned status;
	enum http1_framing framing;
	bool keep_alive;
	const char *body;
	size_t extra; /* bytes after the message, not consumed */
};

static const struct good goods[] = {
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", false, false, 200,
	 HTTP1_BODY_LENGTH, true, "hello", 0},
	{"no reason, LF only", "HTTP/1.1 200\nContent-Length: 2\n\nhi", false, false, 200, HTTP1_BODY_LENGTH,
	 true, "hi", 0},
	{"chunked, extensions, trailers",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	 "5;a=b\r\nhello\r\n1 ; q=\"x\"\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n",
	 false, false, 200, HTTP1_BODY_CHUNKED, true, "hello 0123456789", 0},
	{"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\nuntil the end", false, true, 200,
	 HTTP1_BODY_CLOSE, false, "until the end", 0},
	{"1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	                "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nz",
	 false, false, 201, HTTP1_BODY_LENGTH, true, "z", 0},
	{"204 no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nNEXT", false, false, 204,
	 HTTP1_BODY_NONE, true, "", 4},
	{"304 no body", "HTTP/1.1 304 Not Modified\r\n\r\n", false, false, 304, HTTP1_BODY_NONE, true, "", 0},
	{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true, false, 200, HTTP1_BODY_NONE, true,
	 "", 0},
	{"connection close", "HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n", false,
	 false, 200, HTTP1_BODY_NONE, false, "", 0},
	{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n1",
	 false, false, 200, HTTP1_BODY_LENGTH, true, "1", 0},
	{"HTTP/1.0 default close", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n1", false, false, 200,
	 HTTP1_BODY_LENGTH, false, "1", 0},
	{"equal content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabcXY",
	 false, false, 200, HTTP1_BODY_LENGTH, true, "abc", 2},
	{"TE beats CL, not reused", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
	                            "1\r\nq\r\n0\r\n\r\n",
	 false, false, 200, HTTP1_BODY_CHUNKED, false, "q", 0},
};

static void test_good(void)
{
	for (unsigned g = 0; g < sizeof(goods) / sizeof(goods[0]); g++) {
		const struct good *t = &goods[g];
		size_t len = strlen(t->msg);
		size_t cuts[2];
		struct result r;

		/* no cut, every single cut, and every pair of cuts */
		for (size_t a = 0; a <= len; a++) {
			for (size_t b = a; b <= len; b++) {
				unsigned n = 0;

				if (a > 0 && a < len)
					cuts[n++] = a;
				if (b > a && b < len)
					cuts[n++] = b;
				run(t->msg, len, cuts, n, t->head, t->eof, &r);
				CHECK(r.done && !r.error, "%s cut %zu,%zu: done %d error %d (%s)", t->name, a, b, r.done,
				      r.error, http1_error_name(r.err));
				CHECK(r.status == t->status, "%s: status %u", t->name, r.status);
				CHECK(r.framing == t->framing, "%s: framing %d", t->name, r.framing);
				CHECK(r.keep_alive == t->keep_alive, "%s: keep_alive %d", t->name, r.keep_alive);
				CHECK(r.body_len == strlen(t->body) && !memcmp(r.body, t->body, r.body_len),
				      "%s cut %zu,%zu: body '%.*s'", t->name, a, b, (int)r.body_len, r.body);
				if (!t->eof)
					CHECK(r.consumed == len - t->extra, "%s cut %zu,%zu: consumed %zu of %zu", t->name,
					      a, b, r.consumed, len);
				if (checks_failed > 20)
					return;
			}
		}
	}
	/* byte by byte */
	for (unsigned g = 0; g < sizeof(goods) / sizeof(goods[0]); g++) {
		size_t len = strlen(goods[g].msg), cuts[512];
		struct result r;

		for (size_t i = 1; i < len && i <= 512; i++)
			cuts[i - 1] = i;
		run(goods[g].msg, len, cuts, (unsigned)(len - 1), goods[g].head, goods[g].eof, &r);
		CHECK(r.done && r.body_len == strlen(goods[g].body), "%s byte by byte", goods[g].name);
	}
}

static void test_bad(void)
{
	static const struct {
		const char *msg;
		enum http1_error err;
		bool eof;
	} bad[] = {
		{"HTTP/2 200 OK\r\n\r\n", HTTP1_E_STATUS_LINE, false},
		{"HTTP/1.1 20 OK\r\n\r\n", HTTP1_E_STATUS_LINE, false},
		{"HTTP/1.1 2000 OK\r\n\r\n", HTTP1_E_STATUS_LINE, false},
		{"HTTP/1.1 abc\r\n\r\n", HTTP1_E_STATUS_LINE, false},
		{"ICY 200 OK\r\n\r\n", HTTP1_E_STATUS_LINE, false},
		{"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", HTTP1_E_HEADER, false},
		{"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", HTTP1_E_HEADER, false},
		{"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", HTTP1_E_HEADER, false},
		{"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", HTTP1_E_HEADER, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HTTP1_E_CONTENT_LENGTH, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", HTTP1_E_CONTENT_LENGTH, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP1_E_CONTENT_LENGTH, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", HTTP1_E_CONTENT_LENGTH, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP1_E_CONTENT_LENGTH, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTP1_E_CHUNK, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", HTTP1_E_CHUNK, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", HTTP1_E_CHUNK, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", HTTP1_E_CHUNK, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", HTTP1_E_CHUNK, false},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", HTTP1_E_UPGRADE, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", HTTP1_E_TRUNCATED, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", HTTP1_E_TRUNCATED, true},
		{"HTTP/1.1 200 O", HTTP1_E_TRUNCATED, true},
	};
	struct result r;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].msg);

		for (size_t a = 0; a < len; a++) {
			size_t cut = a;

			run(bad[i].msg, len, &cut, a ? 1 : 0, false, bad[i].eof, &r);
			CHECK(r.error && r.err == bad[i].err, "bad %u cut %zu: error %d (%s), want %s", i, a, r.error,
			      http1_error_name(r.err), http1_error_name(bad[i].err));
		}
	}
	/* a header section over the limit */
	{
		size_t len = HTTP1_MAX_HEADER_BYTES + 100;
		char *m = malloc(len + 1);

		strcpy(m, "HTTP/1.1 200 OK\r\nX-Big: ");
		memset(m + strlen(m), 'a', len - strlen(m));
		m[len] = 0;
		run(m, len, NULL, 0, false, false, &r);
		CHECK(r.error && r.err == HTTP1_E_TOO_LARGE, "oversized header: %s", http1_error_name(r.err));
		free(m);
	}
	/* too many fields */
	{
		char m[8192] = "HTTP/1.1 200 OK\r\n";

		for (int i = 0; i < HTTP1_MAX_HEADERS + 1; i++)
			sprintf(m + strlen(m), "X-%d: v\r\n", i);
		strcat(m, "\r\n");
		run(m, strlen(m), NULL, 0, false, false, &r);
		CHECK(r.error && r.err == HTTP1_E_TOO_MANY, "too many fields: %s", http1_error_name(r.err));
	}
}

static void test_h3_headers(void)
{
	static struct http1_resp p;
	const char *m = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Hop, keep-alive\r\n"
	                "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nUpgrade: h2c\r\n"
	                "Trailer: X\r\nSet-Cookie: a=1\r\n\r\n";
	struct http1_out out;
	struct quic_header h[8];
	unsigned dropped, n;

	http1_resp_init(&p, false);
	http1_resp_feed(&p, (const uint8_t *)m, strlen(m), &out);
	CHECK(out.ev == HTTP1_HEADERS, "headers");
	n = http1_resp_h3_headers(&p, h, 8, &dropped);
	CHECK(n == 2 && dropped == 0, "n %u dropped %u", n, dropped);
	CHECK(n >= 1 && h[0].name_len == 12 && !memcmp(h[0].name, "content-type", 12), "lower-cased");
	CHECK(n >= 2 && !memcmp(h[1].name, "set-cookie", 10) && !memcmp(h[1].value, "a=1", 3), "set-cookie");
	n = http1_resp_h3_headers(&p, h, 1, &dropped);
	CHECK(n == 1 && dropped == 1, "limit: n %u dropped %u", n, dropped);
}

/* RFC 9112 6.3 rule 3: a response with Transfer-Encoding and
 * Content-Length reaches HTTP/3 without Content-Length (a client would
 * check the body against it), and its connection is not reused. Only
 * Content-Length: the other fields stay. */
static void test_te_drops_cl(void)
{
	static const struct {
		const char *name, *head;
		bool head_req;
		bool want_cl; /* content-length forwarded */
		bool want_keep;
	} t[] = {
		{"CL then TE", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n",
		 false, false, false},
		{"TE then CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\ncontent-LENGTH: 100\r\n\r\n",
		 false, false, false},
		{"two CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nContent-Length: 5\r\n"
		                  "Transfer-Encoding: gzip, chunked\r\n\r\n",
		 false, false, false},
		{"TE not chunked", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\nX-A: 1\r\n\r\n",
		 false, false, false},
		{"HEAD with both", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n",
		 true, false, false},
		{"204 with both", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n",
		 false, false, false},
		{"CL alone", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-A: 1\r\n\r\n", false, true, true},
		{"HEAD, CL alone", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-A: 1\r\n\r\n", true, true, true},
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		static struct http1_resp p;
		struct http1_out out;
		struct quic_header h[8];
		unsigned dropped, n;
		bool cl = false, xa = false;

		http1_resp_init(&p, t[i].head_req);
		http1_resp_feed(&p, (const uint8_t *)t[i].head, strlen(t[i].head), &out);
		CHECK(out.ev == HTTP1_HEADERS, "%s: headers", t[i].name);
		n = http1_resp_h3_headers(&p, h, 8, &dropped);
		for (unsigned k = 0; k < n; k++) {
			cl |= h[k].name_len == 14 && !memcmp(h[k].name, "content-length", 14);
			xa |= h[k].name_len == 3 && !memcmp(h[k].name, "x-a", 3);
		}
		CHECK(cl == t[i].want_cl, "%s: content-length %s", t[i].name, cl ? "forwarded" : "dropped");
		CHECK(xa, "%s: x-a lost", t[i].name);
		CHECK(p.keep_alive == t[i].want_keep, "%s: keep_alive %d", t[i].name, p.keep_alive);
	}
	/* the integration case: CL 100, chunked body of 5 bytes; the body is
	 * the chunked one, and the message ends with it */
	{
		static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
		                        "5\r\nhello\r\n0\r\n\r\n";
		struct result r;

		run(m, sizeof(m) - 1, NULL, 0, false, false, &r);
		CHECK(r.done && !r.error && r.body_len == 5 && !memcmp(r.body, "hello", 5) && !r.keep_alive,
		      "CL 100 + chunked 5: done %d body %zu keep %d", r.done, r.body_len, r.keep_alive);
	}
}

static void test_serialize(void)
{
	static const struct quic_header hdrs[] = {
		{"user-agent", 10, "t/1", 3},
		{"connection", 10, "x-private", 9},
		{"x-private", 9, "secret", 6},
		{"keep-alive", 10, "1", 1},
		{"proxy-authorization", 19, "x", 1},
		{"te", 2, "trailers", 8},
		{"upgrade", 7, "h2c", 3},
		{"transfer-encoding", 17, "chunked", 7},
		{"trailer", 7, "x", 1},
		{"host", 4, "other", 5},
		{"content-length", 14, "5", 1},
		{"x-forwarded-for", 15, "1.1.1.1", 7},
		{"x-forwarded-proto", 17, "http", 4},
		{"cookie", 6, "a=1", 3},
		{"cookie", 6, "b=2", 3},
	};
	rg_sockaddr peer = {0};
	struct quic_request req = {
		.method = "POST", .scheme = "https", .authority = "example.com:4433", .path = "/p?q=1",
		.headers = hdrs, .n_headers = sizeof(hdrs) / sizeof(hdrs[0]), .content_length = 5,
		.has_body = true, .peer = &peer,
	};
	char buf[2048];
	ssize_t n = http1_req_serialize(&req, "192.0.2.7", 5, buf, sizeof(buf) - 1);

	CHECK(n > 0, "serialize: %zd", n);
	if (n <= 0)
		return;
	buf[n] = 0;
	CHECK(!strncmp(buf, "POST /p?q=1 HTTP/1.1\r\nHost: example.com:4433\r\n", 46), "%s", buf);
	CHECK(strstr(buf, "user-agent: t/1\r\n"), "user-agent kept");
	CHECK(strstr(buf, "X-Forwarded-For: 192.0.2.7\r\n"), "xff");
	CHECK(strstr(buf, "x-forwarded-for: 1.1.1.1\r\n"), "the client's xff kept before ours");
	CHECK(strstr(buf, "X-Forwarded-Proto: https\r\n") && !strstr(buf, "x-forwarded-proto"), "xfp");
	CHECK(strstr(buf, "Via: 3 ringgate\r\n"), "via");
	CHECK(strstr(buf, "Content-Length: 5\r\n") && !strstr(buf, "content-length"), "cl");
	CHECK(strstr(buf, "Cookie: a=1; b=2\r\n"), "cookies joined");
	CHECK(!strstr(buf, "x-private") && !strstr(buf, "keep-alive") && !strstr(buf, "proxy-") &&
	          !strstr(buf, "te:") && !strstr(buf, "upgrade") && !strstr(buf, "transfer-encoding") &&
	          !strstr(buf, "trailer") && !strstr(buf, "connection") && !strstr(buf, "other"),
	      "hop-by-hop removed:\n%s", buf);
	CHECK(!strcmp(buf + n - 4, "\r\n\r\n"), "ends the head");

	n = http1_req_serialize(&req, "192.0.2.7", HTTP1_REQ_CHUNKED, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && strstr(buf, "Transfer-Encoding: chunked\r\n") && !strstr(buf, "Content-Length"),
	      "chunked");
	n = http1_req_serialize(&req, "192.0.2.7", HTTP1_REQ_NO_BODY, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && !strstr(buf, "Transfer-Encoding") && !strstr(buf, "Content-Length"), "no body");
	CHECK(http1_req_serialize(&req, "192.0.2.7", 5, buf, 100) == -ENOSPC, "too small: -ENOSPC");
	/* a front end names the protocol its client spoke (front.h) */
	n = http1_req_serialize_via(&req, "192.0.2.7", "1.1", 5, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && strstr(buf, "Via: 1.1 ringgate\r\n") && !strstr(buf, "Via: 3"), "via 1.1: %s", buf);
	req.path = "/a\r\nX: y";
	CHECK(http1_req_serialize(&req, "192.0.2.7", 5, buf, sizeof(buf)) == -EINVAL, "CRLF refused");
}

/* Issue 9 §3: X-Client-Cert-* come from the TLS layer only. */
static void test_client_cert(void)
{
	const struct quic_header hdrs[] = {
		{"x-client-cert-subject", 21, "evil", 4},
		{"X-Client-Cert-Sha256", 20, "00", 2},
		{"accept", 6, "*/*", 3},
	};
	rg_sockaddr peer = {0};
	struct quic_request req = {
		.method = "GET", .scheme = "https", .authority = "example.com", .path = "/",
		.headers = hdrs, .n_headers = 3, .content_length = -1, .peer = &peer,
	};
	char buf[2048];
	ssize_t n = http1_req_serialize(&req, "192.0.2.7", HTTP1_REQ_NO_BODY, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && !strstr(buf, "x-client-cert") && !strstr(buf, "X-Client-Cert") && strstr(buf, "accept: */*\r\n"),
	      "forged copies dropped without mTLS:\n%s", buf);
	req.client_cert_subject = "CN=client,O=Example";
	req.client_cert_sha256 = "ab01";
	n = http1_req_serialize(&req, "192.0.2.7", HTTP1_REQ_NO_BODY, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	CHECK(n > 0 && strstr(buf, "X-Client-Cert-Subject: CN=client,O=Example\r\n") &&
	          strstr(buf, "X-Client-Cert-Sha256: ab01\r\n") && !strstr(buf, "evil") && !strstr(buf, ": 00\r\n"),
	      "verified values only:\n%s", buf);
	req.client_cert_subject = "CN=a\r\nX-Admin: 1";
	CHECK(http1_req_serialize(&req, "192.0.2.7", HTTP1_REQ_NO_BODY, buf, sizeof(buf)) == -EINVAL,
	      "CRLF in a subject refused");
}

int main(void)
{
	test_good();
	test_bad();
	test_h3_headers();
	test_te_drops_cl();
	test_serialize();
	test_client_cert();
	if (checks_failed) {
		fprintf(stderr, "%d failures\n", checks_failed);
		return 1;
	}
	printf("http1: ok\n");
	return 0;
}
