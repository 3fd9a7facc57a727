/* The strict HTTP/1.1 request parser (datapath/https/h1req.h): good heads
 * in any split, each refusal with its status, a request-smuggling corpus
 * (CL.TE, TE.CL, TE.TE obfuscations, duplicate Content-Length) where every
 * ambiguous head is refused, and chunked bodies. */
#include <stdio.h>
#include <string.h>

#include "datapath/https/h1req.h"
#include "tests/check.h"

#define MAX 8192

/* Parse text fed in pieces of `step` bytes (0: at once). */
static enum h1req_verdict parse(const char *text, size_t step, struct h1req *p)
{
	size_t len = strlen(text), have = step ? 0 : len;
	enum h1req_verdict v;

	h1req_init(p);
	for (;;) {
		v = h1req_parse(p, (const uint8_t *)text, have, MAX);
		if (v != H1REQ_NEED_MORE || have == len)
			return v;
		have = have + step > len ? len : have + step;
	}
}

static void expect_err(const char *text, enum h1req_error e, const char *what)
{
	struct h1req p;

	for (size_t step = 0; step < 4; step += 3) {
		enum h1req_verdict v = parse(text, step, &p);

		CHECK(v == H1REQ_ERROR && p.error == e, "%s (step %zu): verdict %d error %s, want %s", what, step, v,
		      h1req_error_name(p.error), h1req_error_name(e));
	}
}

static void test_good(void)
{
	static const char *req = "\r\nPOST /a/b?c=d HTTP/1.1\r\nHost: example.com:4433\r\n"
	                         "Content-Length: 12\r\nX-A:  v  \r\nConnection: keep-alive\r\n\r\nhello world!";
	struct h1req p;

	for (size_t step = 0; step < 40; step++) {
		enum h1req_verdict v = parse(req, step, &p);

		CHECK(v == H1REQ_HEAD, "good head (step %zu): %d %s", step, v, h1req_error_name(p.error));
		if (v != H1REQ_HEAD)
			continue;
		CHECK(p.method_len == 4 && !memcmp(p.method, "POST", 4), "method");
		CHECK(p.target_len == 8 && !memcmp(p.target, "/a/b?c=d", 8), "target %.*s", (int)p.target_len,
		      p.target);
		CHECK(p.minor == 1 && p.keep_alive && !p.chunked && p.content_length == 12, "framing");
		CHECK(p.host_len == 16 && !memcmp(p.host, "example.com:4433", 16), "host");
		CHECK(p.n_fields == 4 && p.fields[2].value_len == 1 && p.fields[2].value[0] == 'v', "OWS trimmed");
		CHECK(p.start + p.head_len == strlen(req) - 12, "head length %zu", p.head_len);
	}
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, &p) == H1REQ_HEAD &&
	          !p.keep_alive, "Connection: close");
	CHECK(parse("GET / HTTP/1.0\r\n\r\n", 0, &p) == H1REQ_HEAD && !p.keep_alive && !p.host, "1.0 no Host");
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, &p) == H1REQ_HEAD && p.keep_alive,
	      "1.0 keep-alive");
	CHECK(parse("PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", 0,
	            &p) == H1REQ_HEAD && p.chunked && p.expect_continue && p.content_length == -1,
	      "chunked + 100-continue");
	CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, &p) == H1REQ_HEAD, "OPTIONS *");
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", 0, &p) == H1REQ_HEAD, "obs-text allowed");
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n", 0, &p) == H1REQ_NEED_MORE, "incomplete");
}

static void test_refusals(void)
{
	char big[MAX + 100];

	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", H1REQ_E_OBS_FOLD, "obs-fold");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", H1REQ_E_BARE_CR, "bare CR in a value");
	expect_err("GET / HTTP/1.1\rHost: a\r\n\r\n", H1REQ_E_BARE_CR, "bare CR ends a line");
	expect_err("GET / HTTP/1.1\nHost: a\r\n\r\n", H1REQ_E_BARE_LF, "bare LF");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n\n", H1REQ_E_BARE_LF, "bare LF at the end");
	expect_err("GET / HTTP/1.1\r\nHost : a\r\n\r\n", H1REQ_E_FIELD_NAME, "space before colon");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", H1REQ_E_FIELD_NAME, "name not a token");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", H1REQ_E_FIELD_NAME, "empty name");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", H1REQ_E_FIELD_VALUE, "control in value");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", H1REQ_E_FIELD_VALUE, "DEL in value");
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
		struct h1req p;

		h1req_init(&p);
		CHECK(h1req_parse(&p, (const uint8_t *)nul, sizeof(nul) - 1, MAX) == H1REQ_ERROR &&
		          p.error == H1REQ_E_FIELD_VALUE, "NUL in value");
	}
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", H1REQ_E_CONTENT_LENGTH, "CL not digits");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", H1REQ_E_CONTENT_LENGTH, "CL negative");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	           H1REQ_E_CONTENT_LENGTH, "CL overflow");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", H1REQ_E_CONTENT_LENGTH, "CL list");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	           H1REQ_E_CONTENT_LENGTH, "conflicting CL");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	           H1REQ_E_CONTENT_LENGTH, "duplicate equal CL");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	           H1REQ_E_TE_AND_CL, "TE with CL");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	           H1REQ_E_TRANSFER_ENCODING, "coding list");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	           H1REQ_E_TRANSFER_ENCODING, "chunked not last");
	expect_err("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", H1REQ_E_TRANSFER_ENCODING, "TE in 1.0");
	expect_err("GET / HTTP/1.1\r\n\r\n", H1REQ_E_HOST, "no Host");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", H1REQ_E_HOST, "two Hosts");
	expect_err("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", H1REQ_E_HOST, "bad Host");
	expect_err("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", H1REQ_E_HOST, "Host with a path");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", H1REQ_E_EXPECT, "unknown expectation");
	expect_err("GET / HTTP/2.0\r\nHost: a\r\n\r\n", H1REQ_E_VERSION, "HTTP/2.0");
	expect_err("GET / HTTP/1.2\r\nHost: a\r\n\r\n", H1REQ_E_VERSION, "HTTP/1.2");
	expect_err("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", H1REQ_E_REQUEST_LINE, "trailing space");
	expect_err("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", H1REQ_E_REQUEST_LINE, "two spaces");
	expect_err("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", H1REQ_E_REQUEST_LINE, "absolute-form");
	expect_err("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", H1REQ_E_REQUEST_LINE, "authority-form");
	expect_err("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", H1REQ_E_REQUEST_LINE, "method not a token");
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n\x16\x03\x01\r\n\r\n", H1REQ_E_FIELD_NAME, "binary line");

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
	big[sizeof(big) - 1] = 0;
	expect_err(big, H1REQ_E_TOO_LARGE, "oversize head, no end");
	{
		char many[4096];
		size_t n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: a\r\n");

		for (int i = 0; i < H1REQ_MAX_FIELDS; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "X%d: 1\r\n", i);
		snprintf(many + n, sizeof(many) - n, "\r\n");
		expect_err(many, H1REQ_E_TOO_MANY, "too many fields");
	}
	CHECK(h1req_status(H1REQ_E_OBS_FOLD) == 400 && h1req_status(H1REQ_E_TOO_LARGE) == 431 &&
	          h1req_status(H1REQ_E_TOO_MANY) == 431 && h1req_status(H1REQ_E_EXPECT) == 417 &&
	          h1req_status(H1REQ_E_VERSION) == 505, "statuses");
}

/* Request smuggling (PortSwigger's and RFC 9112 11.2's classes): every
 * head a front end and a backend could frame differently is refused. */
static void test_smuggling(void)
{
	static const char *const corpus[] = {
		/* CL.TE / TE.CL */
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		/* TE.TE obfuscations */
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n" /* accepted: HTAB is OWS */,
		"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\nTransfer-Encoding\r\n : chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \013chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 3\r\n\r\n" /* accepted: another name */,
		/* duplicate / odd Content-Length */
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length\r\n: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\rX: y\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\nContent-Length: 3\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct h1req p;
		enum h1req_verdict v = parse(corpus[i], 0, &p);
		bool unambiguous_ok = i == 6 || i == 12;

		if (unambiguous_ok)
			CHECK(v == H1REQ_HEAD && (i != 6 || p.chunked) && (i != 12 || p.content_length == 3),
			      "corpus %zu accepted with one framing", i);
		else
			CHECK(v == H1REQ_ERROR && h1req_status(p.error) == 400, "corpus %zu refused: %d %s", i, v,
			      h1req_error_name(p.error));
	}
}

static size_t dechunk(const char *in, size_t step, char *out, size_t cap, enum h1chunk_event *last)
{
	struct h1chunk c;
	size_t len = strlen(in), off = 0, n = 0;

	h1chunk_init(&c);
	*last = H1C_NEED_MORE;
	while (off < len) {
		size_t lim = step && off + step < len ? off + step : len, used;
		const uint8_t *d;
		size_t dl;
		enum h1chunk_event e = h1chunk_feed(&c, (const uint8_t *)in + off, lim - off, &used, &d, &dl);

		off += used;
		*last = e;
		if (e == H1C_BODY && n + dl <= cap) {
			memcpy(out + n, d, dl);
			n += dl;
		}
		if (e == H1C_END || e == H1C_ERROR)
			break;
	}
	return n;
}

static void test_chunked(void)
{
	static const char good[] = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	char out[64];
	enum h1chunk_event e;

	for (size_t step = 0; step < 8; step++) {
		size_t n = dechunk(good, step, out, sizeof(out), &e);

		CHECK(e == H1C_END && n == 16 && !memcmp(out, "hello 0123456789", 16), "chunked (step %zu): %d %zu",
		      step, e, n);
	}
	dechunk("5\r\nhello\r\n0\r\n\r\n", 0, out, sizeof(out), &e);
	CHECK(e == H1C_END, "no trailer");
	static const char *const bad[] = {
		"5\r\nhelloXX\r\n0\r\n\r\n", /* data longer than the size */
		"5\nhello\r\n0\r\n\r\n",     /* bare LF */
		" 5\r\nhello\r\n0\r\n\r\n",  /* leading space */
		"-5\r\nhello\r\n",
		"\r\n",                      /* no digits */
		"1000000000000000\r\n",      /* 16 hex digits: overflow guard */
		"5\r\nhello\r\n0\r\nX: a\n\r\n",  /* bare LF in a trailer */
		"5\r\nhello\r\n0\r\n folded\r\n\r\n",
		"5;\x01\r\nhello\r\n0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dechunk(bad[i], 0, out, sizeof(out), &e);
		CHECK(e == H1C_ERROR, "bad chunked %zu: %d", i, e);
	}
}

int main(void)
{
	test_good();
	test_refusals();
	test_smuggling();
	test_chunked();
	return check_report("h1req");
}
