/* test_h1conn: datapath/https/h1conn.c driven with byte strings, fake time
 * and a fake handler (as test_h2.c does for h2): keep-alive, pipelining,
 * request bodies with back-pressure, response framing, the strict parser's
 * refusals, the timers (slowloris, idle, body), graceful stop, resets,
 * extra headers, acked() counts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/https/h1conn.h"
#include "tests/check.h"

#define NOW 1000000000000ull
#define SEC 1000000000ull

/* ---- fake handler ---- */

struct fh {
	struct h1_stream *s;
	char path[64], method[16], authority[64];
	size_t body_rx, consumed;
	bool body_end, auto_consume, blocked;
	int closes;
	uint64_t close_err;
	uint64_t acked;
	size_t off;
	int reads;
	char body[4096]; /* request body bytes seen (first 4 KiB) */
};

static struct fh fhs[64];
static unsigned n_fh;
static bool g_auto_consume = true;
static bool g_respond_at_end; /* POST: answer at body_end */
static const char *resp_text = "hello";

static int h_body(void *h, struct h1_stream *s, const uint8_t *d, size_t n)
{
	struct fh *f = h;

	for (size_t i = 0; i < n && f->body_rx + i < sizeof(f->body); i++)
		f->body[f->body_rx + i] = (char)d[i];
	f->body_rx += n;
	if (f->auto_consume) {
		h1_stream_consume(s, n);
		f->consumed += n;
	}
	return 0;
}

static int respond_for(struct fh *f);

static void h_body_end(void *h, struct h1_stream *s)
{
	struct fh *f = h;

	(void)s;
	f->body_end = true;
	if (g_respond_at_end && !strcmp(f->method, "POST"))
		CHECK(respond_for(f) == 0, "respond at body end");
}

static ssize_t h_read(void *h, struct h1_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	struct fh *f = h;
	size_t total = strlen(resp_text);

	(void)s;
	(void)n;
	f->reads++;
	if (!strcmp(f->path, "/hold") && !f->blocked && f->reads == 1) {
		f->blocked = true;
		return QUIC_BODY_WOULDBLOCK;
	}
	/* two pieces, to see chunk framing around iovecs */
	if (f->off == 0 && total > 2) {
		iov[0].base = (const uint8_t *)resp_text;
		iov[0].len = 2;
		iov[1].base = (const uint8_t *)resp_text + 2;
		iov[1].len = total - 2;
		f->off = total;
		*eof = true;
		return 2;
	}
	iov[0].base = (const uint8_t *)resp_text + f->off;
	iov[0].len = total - f->off;
	f->off = total;
	*eof = true;
	return 1;
}

static void h_acked(void *h, struct h1_stream *s, uint64_t n)
{
	struct fh *f = h;

	(void)s;
	f->acked += n;
}

static void h_close(void *h, struct h1_stream *s, uint64_t err)
{
	struct fh *f = h;

	(void)s;
	f->closes++;
	f->close_err = err;
	f->s = NULL;
}

static const struct h1_handler_ops hops = { h_body, h_body_end, h_read, h_acked, h_close };

static int respond_for(struct fh *f)
{
	static const struct quic_header ct = { "content-type", 12, "text/plain", 10 };
	static const struct quic_header conn = { "connection", 10, "keep-alive", 10 };
	char len[24];
	struct quic_header hd[3] = { ct, conn, { "content-length", 14, len, 0 } };

	snprintf(len, sizeof(len), "%zu", strlen(resp_text));
	hd[2].value_len = strlen(len);
	if (!strcmp(f->path, "/cl"))
		return h1_stream_respond(f->s, 200, hd, 3, true);
	if (!strcmp(f->path, "/204"))
		return h1_stream_respond(f->s, 204, hd, 3, false);
	if (!strcmp(f->path, "/lennobody"))
		return h1_stream_respond(f->s, 200, hd, 3, false);
	if (!strcmp(f->path, "/nobody"))
		return h1_stream_respond(f->s, 200, hd, 2, false);
	if (!strcmp(f->path, "/post"))
		return h1_stream_respond(f->s, 201, hd, 2, false);
	return h1_stream_respond(f->s, 200, hd, 2, true);
}

static unsigned requests_seen;

static int on_request(void *ctx, struct h1_stream *s, const struct quic_request *req)
{
	struct fh *f = &fhs[n_fh++ % 64];

	(void)ctx;
	memset(f, 0, sizeof(*f));
	requests_seen++;
	f->s = s;
	f->auto_consume = g_auto_consume;
	snprintf(f->path, sizeof(f->path), "%s", req->path);
	snprintf(f->method, sizeof(f->method), "%s", req->method);
	snprintf(f->authority, sizeof(f->authority), "%s", req->authority);
	CHECK(!strcmp(req->scheme, "https"), "scheme %s", req->scheme);
	h1_stream_attach(s, &hops, f);
	if (!strcmp(req->path, "/fail"))
		return -EIO;
	if (!strcmp(req->path, "/wait") || (g_respond_at_end && !strcmp(req->method, "POST")))
		return 0; /* the test answers later */
	return respond_for(f);
}

/* ---- the client side: bytes in, bytes out ---- */

struct t {
	struct h1_conn *c;
	struct h1_counters ctr;
	uint64_t now;
	char out[1 << 16];
	size_t out_len;
	size_t rd; /* where the test has read the output up to */
};

static const struct quic_header altsvc = { "alt-svc", 7, "h3=\":443\"; ma=86400", 19 };

static void t_open(struct t *t, const struct h1_params *over)
{
	struct h1_params p = { 0 };

	memset(t, 0, sizeof(*t));
	if (over)
		p = *over;
	p.on_request = on_request;
	p.ctr = &t->ctr;
	p.scheme = "https";
	p.extra_headers = &altsvc;
	p.n_extra = 1;
	t->now = NOW;
	n_fh = 0;
	requests_seen = 0;
	CHECK(h1_conn_new(&p, "example.com", NULL, t->now, &t->c) == 0, "new");
}

/* Everything the connection has to write, into t->out. */
static void drain(struct t *t)
{
	struct iovec iov[16];
	int n;

	while ((n = h1_conn_send(t->c, iov, 16, t->now)) > 0) {
		size_t tot = 0;

		for (int i = 0; i < n; i++) {
			if (t->out_len + iov[i].iov_len < sizeof(t->out)) {
				memcpy(t->out + t->out_len, iov[i].iov_base, iov[i].iov_len);
				t->out_len += iov[i].iov_len;
			}
			tot += iov[i].iov_len;
		}
		h1_conn_sent(t->c, tot);
	}
	t->out[t->out_len] = 0;
}

/* Offer bytes like the driver: what is not taken is offered again after a
 * send turn, while the connection wants input. Returns the bytes taken. */
static size_t push_n(struct t *t, const void *d, size_t len)
{
	size_t off = 0;

	for (int turns = 0; turns < 100 && off < len; turns++) {
		ssize_t r;

		if (!h1_conn_wants_input(t->c))
			break;
		r = h1_conn_recv(t->c, (const uint8_t *)d + off, len - off, t->now);
		if (r < 0)
			break;
		off += (size_t)r;
		drain(t);
	}
	drain(t);
	return off;
}

static size_t push(struct t *t, const char *s)
{
	return push_n(t, s, strlen(s));
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void t_close(struct t *t)
{
	h1_conn_free(t->c);
	CHECK(t->ctr.conns_closed == 1, "closed once");
}

/* ---- cases ---- */

static void test_keepalive(void)
{
	struct t t;

	t_open(&t, NULL);
	push(&t, "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200 OK\r\n") == t.out, "status: %s", t.out);
	CHECK(strstr(t.out, "Transfer-Encoding: chunked\r\n") != NULL, "chunked: %s", t.out);
	CHECK(strstr(t.out, "\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n") != NULL ||
	              strstr(t.out, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n") != NULL,
	      "chunked body: %s", t.out);
	CHECK(strstr(t.out, "alt-svc: h3=\":443\"; ma=86400\r\n") != NULL, "alt-svc: %s", t.out);
	/* the handler's own Connection field is not passed through */
	CHECK(!strstr(t.out, "keep-alive") && !strstr(t.out, "Connection"), "no connection field: %s", t.out);
	CHECK(fhs[0].closes == 1 && fhs[0].close_err == 0, "closed ok");
	CHECK(fhs[0].acked == 5, "acked %llu", (unsigned long long)fhs[0].acked);
	CHECK(!strcmp(fhs[0].authority, "example.com") && !strcmp(fhs[0].path, "/a"), "request fields");
	CHECK(!h1_conn_done(t.c) && h1_conn_idle(t.c), "kept alive");
	t.out_len = 0;
	push(&t, "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200 OK\r\n") == t.out, "second: %s", t.out);
	CHECK(requests_seen == 2 && t.ctr.requests == 2 && t.ctr.keepalive_reuse == 1, "two requests");
	CHECK(!h1_conn_done(t.c), "still open");
	t_close(&t);
}

static void test_pipelined(void)
{
	struct t t;
	const char *p1, *p2, *p3;

	t_open(&t, NULL);
	push(&t, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
	         "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(requests_seen == 3, "three requests: %u", requests_seen);
	CHECK(count(t.out, "HTTP/1.1 200 OK\r\n") == 3, "three answers: %s", t.out);
	CHECK(!strcmp(fhs[0].path, "/1") && !strcmp(fhs[1].path, "/2") && !strcmp(fhs[2].path, "/3"),
	      "in order");
	/* responses in order: the HEAD one (no body) last */
	p1 = strstr(t.out, "HTTP/1.1 200");
	p2 = p1 ? strstr(p1 + 1, "0\r\n\r\nHTTP/1.1 200") : NULL;
	p3 = p2 ? strstr(p2 + 1, "0\r\n\r\nHTTP/1.1 200") : NULL;
	CHECK(p1 && p2 && p3, "three framed responses: %s", t.out);
	CHECK(p3 && strstr(p3 + 5, "hello") == NULL && strstr(p3 + 5, "Transfer-Encoding") == NULL,
	      "HEAD: no body, no framing: %s", p3 ? p3 : "");
	CHECK(fhs[2].reads == 0, "HEAD: read() never called");
	CHECK(t.ctr.pipelined == 2, "pipelined %llu", (unsigned long long)t.ctr.pipelined);
	CHECK(!h1_conn_done(t.c), "open");
	t_close(&t);
}

static void test_content_length_response(void)
{
	struct t t;

	t_open(&t, NULL);
	push(&t, "GET /cl HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "content-length: 5\r\n") != NULL, "cl: %s", t.out);
	CHECK(!strstr(t.out, "Transfer-Encoding"), "not chunked: %s", t.out);
	CHECK(strstr(t.out, "\r\n\r\nhello") != NULL && strlen(strstr(t.out, "\r\n\r\nhello")) == 9,
	      "raw body: %s", t.out);
	CHECK(fhs[0].acked == 5, "acked");
	t.out_len = 0;
	push(&t, "GET /nobody HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "Content-Length: 0\r\n") != NULL, "no body -> CL 0: %s", t.out);
	t.out_len = 0;
	push(&t, "GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 204 No Content\r\n") == t.out && !strstr(t.out, "ength"),
	      "204 no CL: %s", t.out);
	CHECK(!h1_conn_done(t.c), "open");
	t.out_len = 0;
	/* a length announced and no body: the client would wait for it;
	 * the connection closes after the head instead */
	push(&t, "GET /lennobody HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200") == t.out && strstr(t.out, "content-length: 5\r\n"), "%s", t.out);
	CHECK(h1_conn_done(t.c), "closed after a broken message");
	t_close(&t);
}

static void test_http10(void)
{
	struct t t;

	t_open(&t, NULL);
	push(&t, "GET /x HTTP/1.0\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200 OK\r\n") == t.out, "status: %s", t.out);
	CHECK(strstr(t.out, "Connection: close\r\n") != NULL, "close: %s", t.out);
	CHECK(!strstr(t.out, "Transfer-Encoding") && !strstr(t.out, "ength:"), "close-delimited: %s", t.out);
	CHECK(strstr(t.out, "\r\n\r\nhello") != NULL, "body: %s", t.out);
	CHECK(!strcmp(fhs[0].authority, ""), "no Host: empty authority");
	CHECK(h1_conn_done(t.c), "done after a close-delimited body");
	CHECK(h1_conn_end_reason(t.c) == H1_END_CLOSE, "reason");
	t_close(&t);

	/* HTTP/1.0 keep-alive with a Content-Length response stays open */
	t_open(&t, NULL);
	push(&t, "GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	CHECK(strstr(t.out, "Connection: keep-alive\r\n") != NULL, "1.0 ka: %s", t.out);
	CHECK(!h1_conn_done(t.c), "1.0 kept alive");
	t_close(&t);
}

static void test_connection_close(void)
{
	struct t t;

	t_open(&t, NULL);
	push(&t, "GET /cl HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "Connection: close\r\n") != NULL, "close echoed: %s", t.out);
	CHECK(requests_seen == 1, "nothing after close");
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_CLOSE, "done");
	CHECK(h1_conn_recv(t.c, (const uint8_t *)"x", 1, t.now) == -EPIPE, "EPIPE after");
	t_close(&t);
}

static void test_post_bodies(void)
{
	struct t t;
	static char big[300000 + 200];
	size_t taken, hl;

	g_respond_at_end = true;
	/* Content-Length */
	t_open(&t, NULL);
	push(&t, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello");
	CHECK(fhs[0].body_rx == 5 && !fhs[0].body_end, "partial body %zu", fhs[0].body_rx);
	push(&t, " worldGET /cl HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(fhs[0].body_rx == 11 && !memcmp(fhs[0].body, "hello world", 11) && fhs[0].body_end,
	      "body: %.*s", (int)fhs[0].body_rx, fhs[0].body);
	CHECK(strstr(t.out, "HTTP/1.1 201 Created\r\n") == t.out, "201: %s", t.out);
	CHECK(requests_seen == 2 && strstr(t.out, "\r\n\r\nhello"), "next request after the body: %s", t.out);
	t_close(&t);

	/* chunked, with an extension and a trailer */
	t_open(&t, NULL);
	push(&t, "POST /post HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
	CHECK(fhs[0].body_rx == 11 && !memcmp(fhs[0].body, "hello world", 11) && fhs[0].body_end,
	      "chunked body: %.*s", (int)fhs[0].body_rx, fhs[0].body);
	CHECK(strstr(t.out, "HTTP/1.1 201") == t.out && !h1_conn_done(t.c), "answered, open: %s", t.out);
	t_close(&t);

	/* back-pressure: the handler does not consume; the window (256 KiB)
	 * stops the connection taking more; consuming resumes it */
	g_auto_consume = false;
	t_open(&t, NULL);
	hl = (size_t)snprintf(big, sizeof(big), "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\n");
	memset(big + hl, 'b', 300000);
	taken = push_n(&t, big, hl + 300000);
	CHECK(fhs[0].body_rx == 256 * 1024, "window-bounded: %zu", fhs[0].body_rx);
	CHECK(taken == hl + 256 * 1024, "taken %zu", taken);
	CHECK(!h1_conn_wants_input(t.c), "wants no input while full");
	CHECK(h1_conn_next_expiry(t.c) == RG_NO_DEADLINE, "no body timer while the handler holds");
	t.now += 100 * SEC; /* the handler held it long: not the client's fault */
	drain(&t);
	if (fhs[0].s)
		h1_stream_consume(fhs[0].s, 100000);
	CHECK(h1_conn_wants_input(t.c), "wants input after consume");
	CHECK(h1_conn_next_expiry(t.c) == t.now + 60 * SEC, "body timer from the window's opening");
	taken += push_n(&t, big + taken, hl + 300000 - taken);
	CHECK(fhs[0].body_rx == 300000 && fhs[0].body_end && taken == hl + 300000, "rest: %zu", fhs[0].body_rx);
	t_close(&t);

	/* the same with chunks: the window holds inside a chunk */
	t_open(&t, NULL);
	hl = (size_t)snprintf(big, sizeof(big),
	                      "POST /post HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n493e0\r\n");
	memset(big + hl, 'c', 300000);
	memcpy(big + hl + 300000, "\r\n0\r\n\r\n", 7);
	taken = push_n(&t, big, hl + 300007);
	CHECK(fhs[0].body_rx == 256 * 1024 && !fhs[0].body_end, "chunked window: %zu", fhs[0].body_rx);
	if (fhs[0].s)
		h1_stream_consume(fhs[0].s, 256 * 1024);
	taken += push_n(&t, big + taken, hl + 300007 - taken);
	CHECK(fhs[0].body_rx == 300000 && fhs[0].body_end && taken == hl + 300007, "chunked rest: %zu",
	      fhs[0].body_rx);
	CHECK(fhs[0].body[0] == 'c' && strstr(t.out, "HTTP/1.1 201") == t.out, "answered: %s", t.out);
	t_close(&t);
	g_auto_consume = true;

	/* Expect: 100-continue */
	t_open(&t, NULL);
	push(&t, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
	CHECK(!strcmp(t.out, "HTTP/1.1 100 Continue\r\n\r\n"), "100: %s", t.out);
	push(&t, "ok");
	CHECK(strstr(t.out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201") == t.out, "then 201: %s", t.out);
	t_close(&t);
	g_respond_at_end = false;

	/* a response before the body was read: the connection closes after */
	t_open(&t, NULL);
	push(&t, "POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc");
	CHECK(strstr(t.out, "HTTP/1.1 200") == t.out, "answered early: %s", t.out);
	CHECK(h1_conn_done(t.c), "closed: body not read");
	CHECK(fhs[0].closes == 1, "stream closed");
	t_close(&t);
}

static void test_rejections(void)
{
	static const struct {
		const char *req;
		const char *status;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "400" },              /* obs-fold */
		{ "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "400" },                      /* bare CR */
		{ "GET / HTTP/1.1\nHost: a\r\n\r\n", "400" },                              /* bare LF */
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "400" },
		{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400" },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "400" },                           /* space before : */
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: \001\r\n\r\n", "400" },                 /* control char */
		{ "GET / HTTP/1.1\r\n\r\n", "400" },                                       /* no Host */
		{ "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", "400" },                 /* absolute-form */
		{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "501" },
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505" },
		{ "GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", "417" },
		{ "POST /wait HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400" }, /* chunk */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t t;
		char want[32];
		bool body_case = i == sizeof(cases) / sizeof(cases[0]) - 1;

		t_open(&t, NULL);
		push(&t, cases[i].req);
		snprintf(want, sizeof(want), "HTTP/1.1 %s ", cases[i].status);
		CHECK(strstr(t.out, want) == t.out, "case %u: %s", i, t.out);
		CHECK(strstr(t.out, "Connection: close\r\n") && strstr(t.out, "alt-svc:"), "case %u close: %s", i,
		      t.out);
		CHECK(h1_conn_done(t.c), "case %u done", i);
		CHECK(h1_conn_end_reason(t.c) == H1_END_BAD_REQUEST, "case %u reason %d", i,
		      h1_conn_end_reason(t.c));
		CHECK(requests_seen == (body_case ? 1u : 0u), "case %u: handler reached", i);
		if (body_case)
			CHECK(fhs[0].closes == 1 && fhs[0].close_err != 0, "case %u: stream closed with error", i);
		t_close(&t);
	}
}

static void test_too_large(void)
{
	struct t t;
	static char buf[40000];
	size_t n;
	struct h1_params p = { .max_header_bytes = 4096, .max_headers = 10 };

	t_open(&t, &p);
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(buf + n, 'x', 5000);
	memcpy(buf + n + 5000, "\r\n\r\n", 5);
	push(&t, buf);
	CHECK(strstr(t.out, "HTTP/1.1 431 ") == t.out, "431: %s", t.out);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_HEAD_TOO_LARGE, "done");
	t_close(&t);

	t_open(&t, &p);
	n = (size_t)snprintf(buf, sizeof(buf), "GET /");
	memset(buf + n, 'u', 5000);
	memcpy(buf + n + 5000, " HTTP/1.1\r\n\r\n", 14);
	push(&t, buf);
	CHECK(strstr(t.out, "HTTP/1.1 414 ") == t.out, "414: %s", t.out);
	t_close(&t);

	t_open(&t, &p);
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 11; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X%d: y\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	push(&t, buf);
	CHECK(strstr(t.out, "HTTP/1.1 431 ") == t.out, "431 count: %s", t.out);
	CHECK(requests_seen == 0, "not dispatched");
	t_close(&t);
}

static void test_timeouts(void)
{
	struct t t;
	struct h1_params p = { .header_timeout_ns = 10 * SEC, .idle_timeout_ns = 60 * SEC, .body_timeout_ns = 30 * SEC };
	const char *head = "GET / HTTP/1.1\r\nHost: a\r\n";

	/* slowloris: one byte a second; the idle timer does not help it */
	t_open(&t, &p);
	CHECK(h1_conn_next_expiry(t.c) == NOW + 60 * SEC, "idle timer");
	for (size_t i = 0; head[i] && !h1_conn_done(t.c); i++) {
		push_n(&t, head + i, 1);
		t.now += SEC;
		if (t.now >= h1_conn_next_expiry(t.c))
			h1_conn_handle_expiry(t.c, t.now);
		drain(&t);
	}
	CHECK(h1_conn_next_expiry(t.c) == RG_NO_DEADLINE, "no timer when done");
	CHECK(strstr(t.out, "HTTP/1.1 408 ") == t.out, "408: %s", t.out);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_HEADER_TIMEOUT, "slowloris ended");
	CHECK(t.ctr.ended[H1_END_HEADER_TIMEOUT] == 1, "counted");
	CHECK(requests_seen == 0, "never dispatched");
	t_close(&t);

	/* the head timer runs from the head's first byte, not from the
	 * connection's opening (the idle timer covers the wait before) */
	t_open(&t, &p);
	t.now += 50 * SEC;
	push(&t, "G");
	CHECK(h1_conn_next_expiry(t.c) == t.now + 10 * SEC, "head timer from the first byte");
	t_close(&t);

	/* idle keep-alive */
	t_open(&t, &p);
	push(&t, "GET /cl HTTP/1.1\r\nHost: a\r\n\r\n");
	t.now += 30 * SEC;
	CHECK(h1_conn_next_expiry(t.c) == NOW + 60 * SEC, "idle from the end of the response");
	h1_conn_handle_expiry(t.c, t.now);
	CHECK(!h1_conn_done(t.c), "not yet");
	t.now += 30 * SEC;
	h1_conn_handle_expiry(t.c, t.now);
	drain(&t);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_IDLE, "idle ended");
	t_close(&t);

	/* stalled body */
	g_respond_at_end = true;
	t_open(&t, &p);
	push(&t, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
	CHECK(h1_conn_next_expiry(t.c) == NOW + 30 * SEC, "body timer");
	t.now += 30 * SEC;
	h1_conn_handle_expiry(t.c, t.now);
	drain(&t);
	CHECK(strstr(t.out, "HTTP/1.1 408 ") == t.out, "body 408: %s", t.out);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_BODY_TIMEOUT, "body timeout");
	CHECK(fhs[0].closes == 1 && fhs[0].close_err != 0, "stream closed with error");
	t_close(&t);
	g_respond_at_end = false;
}

static void test_shutdown(void)
{
	struct t t;

	/* idle: ends at once */
	t_open(&t, NULL);
	h1_conn_shutdown(t.c, t.now);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_SHUTDOWN, "idle shutdown");
	t_close(&t);

	/* in flight: the response carries Connection: close, done after */
	t_open(&t, NULL);
	push(&t, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(requests_seen == 1 && t.out_len == 0, "waiting");
	h1_conn_shutdown(t.c, t.now);
	CHECK(!h1_conn_done(t.c), "in flight");
	CHECK(h1_conn_next_expiry(t.c) == NOW + 30 * SEC, "hard stop timer");
	CHECK(respond_for(&fhs[0]) == 0, "respond");
	drain(&t);
	CHECK(strstr(t.out, "HTTP/1.1 200") == t.out && strstr(t.out, "Connection: close\r\n"), "close: %s",
	      t.out);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_SHUTDOWN, "done after");
	CHECK(requests_seen == 1 && fhs[0].closes == 1 && fhs[0].close_err == 0, "pipelined one dropped");
	t_close(&t);

	/* shutdown after the head went out (no Connection: close in it):
	 * the response finishes, then the connection ends */
	t_open(&t, NULL);
	push(&t, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200") == t.out && !strstr(t.out, "Connection: close"), "%s", t.out);
	h1_conn_shutdown(t.c, t.now);
	h1_stream_resume(fhs[0].s);
	drain(&t);
	CHECK(strstr(t.out, "0\r\n\r\n") != NULL, "body finished: %s", t.out);
	CHECK(h1_conn_done(t.c) && requests_seen == 1, "ended after it");
	t_close(&t);

	/* hard stop after shutdown_timeout */
	t_open(&t, NULL);
	push(&t, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n");
	h1_conn_shutdown(t.c, t.now);
	t.now += 30 * SEC;
	h1_conn_handle_expiry(t.c, t.now);
	CHECK(h1_conn_done(t.c) && fhs[0].closes == 1 && fhs[0].close_err != 0, "hard stop");
	t_close(&t);
}

static void test_reset_and_fail(void)
{
	struct t t;

	/* reset after the head went out: closed, nothing more */
	t_open(&t, NULL);
	push(&t, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 200") == t.out && fhs[0].blocked, "head out, body blocked: %s", t.out);
	h1_stream_reset(fhs[0].s, 0x102);
	drain(&t);
	CHECK(h1_conn_done(t.c) && h1_conn_end_reason(t.c) == H1_END_RESET, "reset ends");
	CHECK(fhs[0].closes == 1 && fhs[0].close_err == 0x102, "close(err)");
	CHECK(!strstr(t.out, "0\r\n\r\n"), "no clean end of the chunked body: %s", t.out);
	t_close(&t);

	/* reset before any response: 500 */
	t_open(&t, NULL);
	push(&t, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n");
	h1_stream_reset(fhs[0].s, 0x102);
	drain(&t);
	CHECK(strstr(t.out, "HTTP/1.1 500 ") == t.out && h1_conn_done(t.c), "500: %s", t.out);
	t_close(&t);

	/* on_request fails: 500 */
	t_open(&t, NULL);
	push(&t, "GET /fail HTTP/1.1\r\nHost: a\r\n\r\n");
	CHECK(strstr(t.out, "HTTP/1.1 500 ") == t.out && h1_conn_done(t.c), "500 fail: %s", t.out);
	t_close(&t);

	/* resume after WOULDBLOCK */
	t_open(&t, NULL);
	push(&t, "GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
	h1_stream_resume(fhs[0].s);
	drain(&t);
	CHECK(strstr(t.out, "0\r\n\r\n") && fhs[0].acked == 5 && !h1_conn_done(t.c), "resumed: %s", t.out);
	t_close(&t);

	/* the peer goes away mid-body */
	g_respond_at_end = true;
	t_open(&t, NULL);
	push(&t, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
	CHECK(h1_conn_recv(t.c, NULL, 0, t.now) == 0, "eof");
	drain(&t);
	CHECK(h1_conn_done(t.c) && fhs[0].closes == 1 && fhs[0].close_err != 0, "cut short");
	t_close(&t);
	g_respond_at_end = false;

	/* free with a request in flight: close() with an error */
	t_open(&t, NULL);
	push(&t, "GET /wait HTTP/1.1\r\nHost: a\r\n\r\n");
	h1_conn_free(t.c);
	CHECK(fhs[0].closes == 1 && fhs[0].close_err != 0, "free closes");
}

static void test_partial_writes(void)
{
	struct t t;
	struct iovec iov[16];
	int n;

	/* the driver takes one byte at a time: acked() only for what was taken */
	t_open(&t, NULL);
	{
		const char *r = "GET /cl HTTP/1.1\r\nHost: a\r\n\r\n";

		CHECK(h1_conn_recv(t.c, (const uint8_t *)r, strlen(r), t.now) == (ssize_t)strlen(r), "recv");
	}
	while ((n = h1_conn_send(t.c, iov, 16, t.now)) > 0) {
		size_t before = fhs[0].acked;

		t.out[t.out_len++] = *(char *)iov[0].iov_base;
		h1_conn_sent(t.c, 1);
		CHECK(fhs[0].acked - before <= 1, "acked step");
	}
	t.out[t.out_len] = 0;
	CHECK(fhs[0].acked == 5 && strstr(t.out, "\r\n\r\nhello"), "all: %s", t.out);
	t_close(&t);
}

int main(void)
{
	test_keepalive();
	test_pipelined();
	test_content_length_response();
	test_http10();
	test_connection_close();
	test_post_bodies();
	test_rejections();
	test_too_large();
	test_timeouts();
	test_shutdown();
	test_reset_and_fail();
	test_partial_writes();
	return check_report("test_h1conn");
}
