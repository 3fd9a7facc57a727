/* libFuzzer target for the HTTP/1.1 request parser (h1req.h). The first
 * byte sets the piece size the head arrives in; the rest is the request.
 * Invariants: the head parsed in pieces gives the same verdict, error and
 * head length as parsed whole; an accepted head lies inside the input, has
 * no CR, LF or NUL in any field, and never both a Content-Length and
 * chunked framing (nothing ambiguous forwarded); a chunked body decodes to
 * the same bytes in pieces as whole, consuming no more than given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/https/h1req.h"

#define MAX 4096

static size_t dechunk(const uint8_t *d, size_t n, size_t step, uint8_t *out, int *end)
{
	struct h1chunk c;
	size_t off = 0, got = 0;

	h1chunk_init(&c);
	*end = 0;
	while (off < n) {
		size_t lim = off + step < n ? off + step : n, used;
		const uint8_t *b;
		size_t bl;
		enum h1chunk_event e = h1chunk_feed(&c, d + off, lim - off, &used, &b, &bl);

		if (used > lim - off)
			abort();
		if (e == H1C_BODY) {
			if (b < d + off || b + bl > d + lim)
				abort();
			memcpy(out + got, b, bl);
			got += bl;
		}
		off += used;
		if (e == H1C_END || e == H1C_ERROR) {
			*end = e;
			break;
		}
	}
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h1req a, b;
	enum h1req_verdict va, vb;
	size_t step, have;

	if (size < 1)
		return 0;
	step = data[0] % 16 + 1;
	data++;
	size--;
	h1req_init(&a);
	va = h1req_parse(&a, data, size, MAX);
	h1req_init(&b);
	have = 0;
	do {
		have = have + step > size ? size : have + step;
		vb = h1req_parse(&b, data, have, MAX);
	} while (vb == H1REQ_NEED_MORE && have < size);
	if (va != vb || a.error != b.error)
		abort();
	if (va == H1REQ_HEAD) {
		if (a.head_len != b.head_len || a.start + a.head_len > size || a.head_len > MAX)
			abort();
		if (a.chunked && a.content_length >= 0)
			abort();
		for (unsigned i = 0; i < a.n_fields; i++) {
			const struct h1req_field *f = &a.fields[i];

			if ((const uint8_t *)f->value < data || (const uint8_t *)f->value + f->value_len > data + size)
				abort();
			for (uint32_t k = 0; k < f->value_len; k++)
				if (f->value[k] == '\r' || f->value[k] == '\n' || f->value[k] == 0)
					abort();
		}
		if (a.chunked) {
			const uint8_t *body = data + a.start + a.head_len;
			size_t bn = size - a.start - a.head_len;
			uint8_t *o1 = malloc(bn + 1), *o2 = malloc(bn + 1);
			int e1, e2;
			size_t n1 = dechunk(body, bn, bn ? bn : 1, o1, &e1);
			size_t n2 = dechunk(body, bn, step, o2, &e2);

			if (n1 != n2 || e1 != e2 || memcmp(o1, o2, n1))
				abort();
			free(o1);
			free(o2);
		}
	}
	return 0;
}
