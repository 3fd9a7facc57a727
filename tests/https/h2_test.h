/* h2_test: the fake handler shared by test_h2.c (functional tests over
 * nghttp2's client session) and test_h2_abuse.c (raw abuse frames): one
 * h2_handler_ops that answers by path (/big, /block, /hold, /post), its
 * per-stream records, and the 1 MiB body it serves. Header-only, like
 * tests/check.h: each test program has its own copy of the state.
 */
#ifndef RG_TESTS_HTTPS_H2_TEST_H
#define RG_TESTS_HTTPS_H2_TEST_H

#include <stdlib.h>
#include <string.h>

#include "datapath/https/h2.h"

#define NOW 1000000000000ull
#define MAXID 65536

/* ---- fake handler ---- */

enum mode { M_SMALL, M_BIG, M_BLOCK, M_ECHO_LEN, M_HOLD };

struct fh {
	struct h2_stream *s;
	enum mode mode;
	bool used, is_head;
	size_t body_rx, consumed;
	bool body_end;
	int closes;
	uint64_t close_code;
	uint64_t acked;
	size_t off;      /* response bytes handed out by read() */
	bool blocked;    /* read said WOULDBLOCK */
	int reads;
	bool auto_consume;
};

static struct fh fhs[4096];
static unsigned n_fh;
static uint8_t big[1 << 20];
static unsigned requests_seen;
static bool g_auto_consume = true;

static struct fh *fh_new(void)
{
	struct fh *f = &fhs[n_fh++ % 4096];

	memset(f, 0, sizeof(*f));
	f->used = true;
	return f;
}

static int h_body(void *h, struct h2_stream *s, const uint8_t *d, size_t n)
{
	struct fh *f = h;

	(void)d;
	f->body_rx += n;
	if (f->auto_consume) {
		h2_stream_consume(s, n);
		f->consumed += n;
	}
	return 0;
}

static void h_body_end(void *h, struct h2_stream *s)
{
	struct fh *f = h;

	(void)s;
	f->body_end = true;
}

static ssize_t h_read(void *h, struct h2_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	struct fh *f = h;
	size_t total = f->mode == M_BIG ? sizeof(big) : 5;
	unsigned i = 0;

	(void)s;
	f->reads++;
	/* M_BLOCK and M_BIG: every other call says WOULDBLOCK (resumed by the
	 * test) */
	if ((f->mode == M_BLOCK || f->mode == M_BIG) && (f->reads % 2) == 1) {
		f->blocked = true;
		return QUIC_BODY_WOULDBLOCK;
	}
	if (f->mode == M_HOLD) {
		f->blocked = true;
		return QUIC_BODY_WOULDBLOCK;
	}
	while (i < n && i < 3 && f->off < total) {
		size_t take = total - f->off > 20000 ? 20000 : total - f->off;

		iov[i].base = f->mode == M_BIG ? big + f->off : (const uint8_t *)"hello" + f->off;
		iov[i].len = take;
		f->off += take;
		i++;
	}
	*eof = f->off == total;
	return (ssize_t)i;
}

static void h_acked(void *h, struct h2_stream *s, uint64_t n)
{
	struct fh *f = h;

	(void)s;
	f->acked += n;
}

static void h_close(void *h, struct h2_stream *s, uint64_t code)
{
	struct fh *f = h;

	(void)s;
	f->closes++;
	f->close_code = code;
	f->s = NULL;
}

static const struct h2_handler_ops hops = { h_body, h_body_end, h_read, h_acked, h_close };

static int on_request(void *ctx, struct h2_stream *s, const struct quic_request *req)
{
	struct fh *f = fh_new();
	static const struct quic_header ct = { "content-type", 12, "text/plain", 10 };
	static const struct quic_header bad = { "connection", 10, "close", 5 };
	struct quic_header hd[2] = { ct, bad };

	(void)ctx;
	requests_seen++;
	f->s = s;
	f->auto_consume = g_auto_consume;
	f->is_head = strcmp(req->method, "HEAD") == 0;
	if (!strcmp(req->path, "/big"))
		f->mode = M_BIG;
	else if (!strcmp(req->path, "/block"))
		f->mode = M_BLOCK;
	else if (!strcmp(req->path, "/hold"))
		f->mode = M_HOLD;
	else if (!strcmp(req->path, "/post"))
		f->mode = M_ECHO_LEN;
	h2_stream_attach(s, &hops, f);
	if (f->mode == M_ECHO_LEN)
		return 0; /* answers at body end (the test does) */
	return h2_stream_respond(s, 200, hd, 2, true);
}

/* The body served for /big: the same bytes in every program. */
static void big_fill(void)
{
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + (i >> 11));
}

#endif
