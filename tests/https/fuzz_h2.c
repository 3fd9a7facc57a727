/* fuzz_h2: raw bytes into datapath/https/h2.c's server connection (the
 * client preface prepended when the first input byte is odd, so the fuzzer
 * gets past it), with a handler that answers every request with a small
 * body, and the output drained (half of the time in 7-byte steps). */
#include <string.h>

#include "datapath/https/h2.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static ssize_t f_read(void *h, struct h2_stream *s, struct quic_iov *iov, unsigned n, bool *eof)
{
	(void)h;
	(void)s;
	(void)n;
	iov[0].base = (const uint8_t *)"fuzz";
	iov[0].len = 4;
	*eof = true;
	return 1;
}

static int f_body(void *h, struct h2_stream *s, const uint8_t *d, size_t n)
{
	(void)h;
	(void)d;
	h2_stream_consume(s, n);
	return 0;
}

static const struct h2_handler_ops fops = { .body = f_body, .read = f_read };

static int f_request(void *ctx, struct h2_stream *s, const struct quic_request *req)
{
	(void)ctx;
	(void)req;
	h2_stream_attach(s, &fops, NULL);
	return h2_stream_respond(s, 200, NULL, 0, true);
}

static void drain(struct h2_conn *c, bool slow)
{
	struct iovec iov[8];
	int n, guard = 0;

	while ((n = h2_conn_send(c, iov, 8, 1)) > 0 && guard++ < 10000) {
		size_t tot = 0;
		int i;

		for (i = 0; i < n; i++)
			tot += iov[i].iov_len;
		h2_conn_sent(c, slow && tot > 7 ? 7 : tot);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h2_counters ctr = { 0 };
	struct h2_params p = { .on_request = f_request, .ctr = &ctr };
	struct h2_conn *c;
	bool slow;
	size_t off = 1, step;

	if (size < 1 || h2_conn_new(&p, "fuzz", NULL, 1, &c) != 0)
		return 0;
	slow = data[0] & 2;
	if (data[0] & 1)
		(void)h2_conn_recv(c, (const uint8_t *)preface, sizeof(preface) - 1, 1);
	step = (data[0] >> 2) + 1;
	while (off < size && !h2_conn_done(c)) {
		size_t n = size - off < step ? size - off : step;

		(void)h2_conn_recv(c, data + off, n, 1);
		off += n;
		drain(c, slow);
	}
	if (data[0] & 0x80)
		h2_conn_shutdown(c, 2);
	drain(c, slow);
	h2_conn_free(c);
	return 0;
}
