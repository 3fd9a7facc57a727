/* libFuzzer target for the HTTP/1.1 response parser: the input is fed in
 * pieces whose sizes come from its first byte, as HEAD or not, then EOF.
 * Checks invariants: consumed bytes never exceed what was given, body
 * pointers stay inside the piece, a Content-Length body is exactly as long
 * as announced, and parsing the same input whole gives the same outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/http1.h"

struct outcome {
	int end; /* 0 need more, 1 done, 2 error */
	uint64_t body;
	unsigned status;
};

static struct outcome parse(const uint8_t *d, size_t n, size_t step, bool head)
{
	static struct http1_resp p;
	struct outcome o = {0, 0, 0};
	size_t at = 0;

	http1_resp_init(&p, head);
	while (at < n && !o.end) {
		size_t len = n - at < step ? n - at : step;
		uint8_t *piece = malloc(len);
		size_t off = 0;

		memcpy(piece, d + at, len);
		for (;;) {
			struct http1_out out;
			size_t k = http1_resp_feed(&p, piece + off, len - off, &out);

			if (k > len - off)
				abort();
			off += k;
			if (out.ev == HTTP1_HEADERS) {
				o.status = p.status;
				if (p.status < 200 || p.status > 999)
					abort();
				continue;
			}
			if (out.ev == HTTP1_BODY) {
				if (out.body < piece || out.body + out.body_len > piece + len || !out.body_len)
					abort();
				o.body += out.body_len;
				continue;
			}
			if (out.ev == HTTP1_DONE)
				o.end = 1;
			else if (out.ev == HTTP1_ERROR)
				o.end = 2;
			break;
		}
		free(piece);
		at += len;
	}
	if (!o.end) {
		struct http1_out out;

		o.end = http1_resp_eof(&p, &out) == HTTP1_DONE ? 1 : 2;
	}
	if (o.end == 1 && p.framing == HTTP1_BODY_LENGTH && o.body != (uint64_t)p.content_length)
		abort();
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (data[0] & 0x3f) + 1;
	bool head = data[0] & 0x40;
	struct outcome a = parse(data + 1, size - 1, step, head);
	struct outcome b = parse(data + 1, size - 1, size, head);

	if (a.end != b.end || a.body != b.body || a.status != b.status)
		abort(); /* the split changed the result */
	return 0;
}
