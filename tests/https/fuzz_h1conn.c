/* libFuzzer target for the HTTP/1.1 server connection (h1conn.h). The
 * first four bytes choose how the driver and the handler behave (piece
 * size of the input, bytes taken per write, whether the handler consumes,
 * answers at once / at body end / never, blocks its body, resets, when the
 * clock jumps and when the connection is shut down); the rest is what the
 * client sends. Invariants: recv takes no more than given; no handler
 * callback after its close(), close() exactly once per request; acked()
 * never more than read() handed out; unconsumed body bytes never over the
 * 256 KiB window; the output starts with "HTTP/1.1 "; once done, the
 * connection writes nothing and takes nothing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/https/h1conn.h"

#define NH 1024

struct fh {
	struct h1_stream *s;
	bool closed, blocked;
	uint64_t handed, acked, body, consumed;
	int reads;
};

static struct fh fhs[NH];
static unsigned n_req, n_closed;
static uint8_t mode_h; /* handler behaviour bits */
static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static struct fh *live(void *h)
{
	struct fh *f = h;

	if (f->closed)
		abort(); /* a callback after close() */
	return f;
}

static int h_body(void *h, struct h1_stream *s, const uint8_t *d, size_t n)
{
	struct fh *f = live(h);

	(void)d;
	f->body += n;
	if (f->body - f->consumed > 256 * 1024)
		abort();
	if (mode_h & 1) {
		h1_stream_consume(s, n);
		f->consumed += n;
	}
	if ((mode_h & 0x40) && f->body > 100)
		h1_stream_reset(s, 2);
	return 0;
}

static void h_body_end(void *h, struct h1_stream *s)
{
	struct fh *f = live(h);
	static const struct quic_header ct = { "content-type", 12, "text/plain", 10 };

	if ((mode_h & 6) == 2 && h1_stream_respond(s, 200, &ct, 1, true) != 0)
		h1_stream_reset(s, 2);
	(void)f;
}

static ssize_t h_read(void *h, struct h1_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	struct fh *f = live(h);

	(void)s;
	if (n < 2)
		abort();
	if ((mode_h & 8) && f->reads++ == 0) {
		f->blocked = true;
		return QUIC_BODY_WOULDBLOCK;
	}
	iov[0].base = (const uint8_t *)text;
	iov[0].len = 10;
	iov[1].base = (const uint8_t *)text + 10;
	iov[1].len = 26;
	f->handed += 36;
	*eof = f->handed >= 36 * (1u + (mode_h >> 4 & 3));
	return 2;
}

static void h_acked(void *h, struct h1_stream *s, uint64_t n)
{
	struct fh *f = live(h);

	(void)s;
	f->acked += n;
	if (f->acked > f->handed)
		abort();
}

static void h_close(void *h, struct h1_stream *s, uint64_t err)
{
	struct fh *f = live(h);

	(void)s;
	(void)err;
	f->closed = true;
	f->s = NULL;
	n_closed++;
}

static const struct h1_handler_ops hops = { h_body, h_body_end, h_read, h_acked, h_close };

static int on_request(void *ctx, struct h1_stream *s, const struct quic_request *req)
{
	struct fh *f;
	static const struct quic_header hd[2] = { { "content-type", 12, "text/plain", 10 },
		                                  { "content-length", 14, "72", 2 } };

	(void)ctx;
	if (!req->method || !req->path || !req->authority || !req->scheme)
		abort();
	if (n_req >= NH)
		return -ENOMEM; /* answered 500 by the connection */
	f = &fhs[n_req++];
	memset(f, 0, sizeof(*f));
	f->s = s;
	h1_stream_attach(s, &hops, f);
	switch (mode_h & 6) {
	case 0:
		return h1_stream_respond(s, 200, hd, 1, true);
	case 4:
		return h1_stream_respond(s, 200, hd, (mode_h & 0x80) ? 2 : 1, !(mode_h & 0x20));
	default:
		return 0; /* at body end (2), or never (6) */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h1_counters ctr = { 0 };
	struct h1_params p = { .on_request = on_request, .ctr = &ctr, .max_header_bytes = 1024,
		               .max_headers = 16 };
	struct h1_conn *c;
	uint64_t now = 1000000000000ull;
	size_t piece, wstep, off = 0;
	uint8_t timing, stop_at;
	bool done_seen = false, first = true;
	static const uint64_t steps[4] = { 0, 100000000ull, 1000000000ull, 5000000000ull };
	unsigned turns = 0;

	if (size < 4)
		return 0;
	piece = data[0] % 64 + 1;
	wstep = (size_t)(data[1] % 8) * 7 + 1;
	mode_h = data[2];
	timing = data[3];
	stop_at = (uint8_t)(timing >> 4);
	data += 4;
	size -= 4;
	n_req = n_closed = 0;
	if (h1_conn_new(&p, "x", NULL, now, &c) != 0)
		return 0;
	while (turns++ < 10000) {
		struct iovec iov[8];
		int n;

		if (h1_conn_done(c)) {
			done_seen = true;
			if (h1_conn_send(c, iov, 8, now) != 0)
				abort();
			if (off < size && h1_conn_recv(c, data + off, size - off, now) >= 0)
				abort();
			break;
		}
		if (off < size && h1_conn_wants_input(c)) {
			size_t len = size - off < piece ? size - off : piece;
			ssize_t r = h1_conn_recv(c, data + off, len, now);

			if (r > (ssize_t)len)
				abort();
			if (r > 0)
				off += (size_t)r;
		} else if (off == size && (timing & 1)) {
			(void)h1_conn_recv(c, NULL, 0, now); /* the client closes */
		}
		while ((n = h1_conn_send(c, iov, 8, now)) > 0) {
			size_t take = iov[0].iov_len < wstep ? iov[0].iov_len : wstep;

			if (first) {
				if (iov[0].iov_len >= 9 && memcmp(iov[0].iov_base, "HTTP/1.1 ", 9) != 0)
					abort();
				first = false;
			}
			h1_conn_sent(c, take);
		}
		if (n < 0)
			abort();
		/* the handler side: unblock, consume what it holds */
		for (unsigned i = 0; i < n_req; i++) {
			if (fhs[i].s && fhs[i].blocked) {
				fhs[i].blocked = false;
				h1_stream_resume(fhs[i].s);
			}
			if (fhs[i].s && (turns & 3) == 0 && fhs[i].body > fhs[i].consumed) {
				h1_stream_consume(fhs[i].s, (size_t)(fhs[i].body - fhs[i].consumed));
				fhs[i].consumed = fhs[i].body;
			}
			if (fhs[i].s && (mode_h & 6) == 6 && (turns & 7) == 7) {
				static const struct quic_header ct = { "content-type", 12, "t", 1 };

				if (h1_stream_respond(fhs[i].s, 204, &ct, 1, false) != 0)
					h1_stream_reset(fhs[i].s, 2);
			}
		}
		if (turns == stop_at * 4u + 1u && (timing & 2))
			h1_conn_shutdown(c, now);
		/* the clock: 0, 0.1, 1 or 5 s a turn; once the input is all
		 * given, jumps that fire the idle and body timers */
		now += steps[timing >> 2 & 3];
		if (off == size && (turns & 31) == 0)
			now += 100000000000ull;
		if (now >= h1_conn_next_expiry(c))
			h1_conn_handle_expiry(c, now);
	}
	(void)done_seen;
	h1_conn_free(c);
	if (n_closed != n_req)
		abort(); /* every stream closed exactly once */
	if (ctr.conns_opened != 1 || ctr.conns_closed != 1 || ctr.requests < n_req)
		abort();
	return 0;
}
