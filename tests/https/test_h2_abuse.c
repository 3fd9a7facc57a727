/* test_h2_abuse: datapath/https/h2.c against raw frames the test writes
 * itself, for the abuse defences (rapid reset, CONTINUATION flood,
 * oversized header blocks, PING/SETTINGS floods with the client not
 * reading, empty DATA floods, bad preface, malformed requests), with fake
 * time and the fake handler of h2_test.h. Each abuse case also runs with
 * its defence turned off and checks that the bound is then NOT met (so
 * the test can fail).
 */
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "datapath/https/h2.h"
#include "tests/check.h"
#include "tests/https/h2_test.h"

/* ---- raw frames ---- */

struct raw {
	struct h2_conn *c;
	struct h2_counters ctr;
	nghttp2_hd_deflater *def;
	uint8_t out[1 << 16];
	size_t out_len;
	/* what the server sent */
	unsigned rst[MAXID];
	uint32_t rst_code[MAXID];
	bool goaway;
	uint32_t goaway_code;
	unsigned headers_frames, sent_frames;
	uint64_t fed_bytes, fed_frames;
};

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void raw_read_out(struct raw *r)
{
	struct iovec iov[16];
	int n, i;

	while ((n = h2_conn_send(r->c, iov, 16, NOW)) > 0) {
		size_t tot = 0;

		for (i = 0; i < n; i++) {
			size_t l = iov[i].iov_len;

			if (r->out_len + l > sizeof(r->out)) /* keep the unparsed tail only */
				l = sizeof(r->out) - r->out_len;
			memcpy(r->out + r->out_len, iov[i].iov_base, l);
			r->out_len += l;
			tot += iov[i].iov_len;
		}
		h2_conn_sent(r->c, tot);
		/* parse whole frames */
		{
			size_t off = 0;

			while (r->out_len - off >= 9) {
				size_t len = (size_t)r->out[off] << 16 | r->out[off + 1] << 8 | r->out[off + 2];
				uint8_t type = r->out[off + 3];
				uint32_t sid = ((uint32_t)r->out[off + 5] << 24 | r->out[off + 6] << 16 |
				                r->out[off + 7] << 8 | r->out[off + 8]) & 0x7fffffff;
				const uint8_t *pl = r->out + off + 9;

				if (r->out_len - off - 9 < len)
					break;
				r->sent_frames++;
				if (type == NGHTTP2_RST_STREAM && len == 4) {
					r->rst[sid % MAXID]++;
					r->rst_code[sid % MAXID] = (uint32_t)pl[0] << 24 | pl[1] << 16 | pl[2] << 8 | pl[3];
				} else if (type == NGHTTP2_GOAWAY && len >= 8) {
					r->goaway = true;
					r->goaway_code = (uint32_t)pl[4] << 24 | pl[5] << 16 | pl[6] << 8 | pl[7];
				} else if (type == NGHTTP2_HEADERS) {
					r->headers_frames++;
				}
				off += 9 + len;
			}
			memmove(r->out, r->out + off, r->out_len - off);
			r->out_len -= off;
		}
	}
}

static void raw_init(struct raw *r, const struct h2_params *p0)
{
	struct h2_params p = { 0 };

	memset(r, 0, sizeof(*r));
	if (p0)
		p = *p0;
	p.on_request = on_request;
	p.ctr = &r->ctr;
	CHECK(h2_conn_new(&p, "example.com", NULL, NOW, &r->c) == 0, "conn_new");
	nghttp2_hd_deflate_new(&r->def, 4096);
	n_fh = 0;
	requests_seen = 0;
}

static void raw_free(struct raw *r)
{
	h2_conn_free(r->c);
	nghttp2_hd_deflate_del(r->def);
}

static void feed(struct raw *r, const void *p, size_t n)
{
	h2_conn_recv(r->c, p, n, NOW);
	r->fed_bytes += n;
}

static size_t frame(uint8_t *b, size_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
	b[0] = (uint8_t)(len >> 16);
	b[1] = (uint8_t)(len >> 8);
	b[2] = (uint8_t)len;
	b[3] = type;
	b[4] = flags;
	b[5] = (uint8_t)(sid >> 24);
	b[6] = (uint8_t)(sid >> 16);
	b[7] = (uint8_t)(sid >> 8);
	b[8] = (uint8_t)sid;
	return 9;
}

static void send_frame(struct raw *r, uint8_t type, uint8_t flags, uint32_t sid,
                       const uint8_t *pl, size_t len)
{
	uint8_t buf[9 + 16384];

	frame(buf, len, type, flags, sid);
	if (len)
		memcpy(buf + 9, pl, len);
	feed(r, buf, 9 + len);
	r->fed_frames++;
}

static void raw_start(struct raw *r)
{
	feed(r, preface, sizeof(preface) - 1);
	send_frame(r, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

/* HEADERS for a request with the given fields (name/value pairs). */
static void send_headers(struct raw *r, uint32_t sid, uint8_t flags, const char *const *nv, unsigned n)
{
	nghttp2_nv a[16];
	uint8_t blk[4096];
	ssize_t len;
	unsigned i;

	for (i = 0; i < n; i++)
		a[i] = (nghttp2_nv){ (uint8_t *)nv[2 * i], (uint8_t *)nv[2 * i + 1], strlen(nv[2 * i]),
			             strlen(nv[2 * i + 1]), NGHTTP2_NV_FLAG_NONE };
	len = nghttp2_hd_deflate_hd(r->def, blk, sizeof(blk), a, n);
	CHECK(len > 0, "deflate");
	send_frame(r, NGHTTP2_HEADERS, flags | NGHTTP2_FLAG_END_HEADERS, sid, blk, (size_t)len);
}

static const char *const get_nv[] = { ":method", "GET", ":scheme", "https", ":authority", "a.example",
	                              ":path", "/hold" };

static void test_bad_preface(void)
{
	struct raw r;
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

	raw_init(&r, NULL);
	feed(&r, req, sizeof(req) - 1);
	CHECK(h2_conn_done(r.c), "closed");
	CHECK(h2_conn_end_reason(r.c) == H2_END_BAD_PREFACE, "reason %d", h2_conn_end_reason(r.c));
	CHECK(r.ctr.ended[H2_END_BAD_PREFACE] == 1, "counted");
	{
		struct iovec iov[4];

		CHECK(h2_conn_send(r.c, iov, 4, NOW) == 0, "nothing sent to a non-HTTP/2 peer");
	}
	CHECK(h2_conn_recv(r.c, (const uint8_t *)"x", 1, NOW) == -EPIPE, "ignored after");
	raw_free(&r);
}

/* Returns how many HEADERS+RST_STREAM pairs were fed until the connection
 * ended (or `pairs` if it never did). */
static unsigned rapid_reset(bool disabled, uint32_t *code, enum h2_end *why)
{
	struct h2_params p = { .rst_max = 100, .test_no_rst_limit = disabled };
	struct raw r;
	unsigned i;
	static const uint8_t cancel[4] = { 0, 0, 0, 8 };

	raw_init(&r, &p);
	raw_start(&r);
	for (i = 0; i < 10000 && !h2_conn_done(r.c); i++) {
		send_headers(&r, 2 * i + 1, NGHTTP2_FLAG_END_STREAM, get_nv, 4);
		send_frame(&r, NGHTTP2_RST_STREAM, 0, 2 * i + 1, cancel, 4);
		raw_read_out(&r);
		if (h2_conn_end_reason(r.c) != H2_END_NONE) {
			i++;
			break;
		}
	}
	raw_read_out(&r);
	*code = r.goaway ? r.goaway_code : UINT32_MAX;
	*why = h2_conn_end_reason(r.c);
	CHECK(h2_conn_mem(r.c) < (4u << 20), "memory bounded: %zu", h2_conn_mem(r.c));
	raw_free(&r);
	return i;
}

static void test_rapid_reset(void)
{
	uint32_t code;
	enum h2_end why;
	unsigned n = rapid_reset(false, &code, &why);

	CHECK(why == H2_END_RAPID_RESET, "reason %d", why);
	CHECK(code == H2_ENHANCE_YOUR_CALM, "GOAWAY ENHANCE_YOUR_CALM, got %u", code);
	CHECK(n <= 101 + 1, "ended after %u resets (limit 100)", n);
	n = rapid_reset(true, &code, &why);
	CHECK(!(why == H2_END_RAPID_RESET && n <= 102), "disabled: not ended by our limit (%u)", n);
	printf("rapid reset: defence off -> %u resets taken (nghttp2 backstop: reason %d)\n", n, why);
}

/* An HPACK literal without indexing, new name: "x-pad: <vlen bytes>". */
static size_t hpack_literal(uint8_t *b, size_t vlen)
{
	size_t o = 0;

	b[o++] = 0x00;
	b[o++] = 5;
	memcpy(b + o, "x-pad", 5);
	o += 5;
	/* 7-bit prefix integer (RFC 7541 5.1) */
	if (vlen < 127) {
		b[o++] = (uint8_t)vlen;
	} else {
		size_t v = vlen - 127;

		b[o++] = 127;
		while (v >= 128) {
			b[o++] = (uint8_t)(v % 128 + 128);
			v /= 128;
		}
		b[o++] = (uint8_t)v;
	}
	memset(b + o, 'a', vlen);
	return o + vlen;
}

/* HEADERS without END_HEADERS, then CONTINUATION frames of `each` bytes
 * of complete literals, until the connection ended or 10,000 frames. */
static void continuation_flood(const struct h2_params *p, size_t each, uint64_t *bytes,
                               uint64_t *frames, enum h2_end *why)
{
	struct raw r;
	uint8_t blk[16384];
	unsigned i;
	size_t n;

	raw_init(&r, p);
	raw_start(&r);
	{
		nghttp2_nv a[4];
		ssize_t len;

		for (i = 0; i < 4; i++)
			a[i] = (nghttp2_nv){ (uint8_t *)get_nv[2 * i], (uint8_t *)get_nv[2 * i + 1],
				             strlen(get_nv[2 * i]), strlen(get_nv[2 * i + 1]), 0 };
		len = nghttp2_hd_deflate_hd(r.def, blk, sizeof(blk), a, 4);
		send_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, blk, (size_t)len);
	}
	n = each ? hpack_literal(blk, each - 8 - (each > 134 ? 2 : 0)) : 0;
	for (i = 0; i < 10000 && h2_conn_end_reason(r.c) == H2_END_NONE; i++)
		send_frame(&r, NGHTTP2_CONTINUATION, 0, 1, blk, n);
	raw_read_out(&r);
	*bytes = r.fed_bytes;
	*frames = r.fed_frames;
	*why = h2_conn_end_reason(r.c);
	CHECK(requests_seen == 0, "no request from a flood");
	CHECK(r.goaway || *why == H2_END_NONE, "GOAWAY sent when ended");
	raw_free(&r);
}

static void test_continuation(void)
{
	struct h2_params p = { 0 };
	uint64_t bytes, frames;
	enum h2_end why;

	/* big frames: the raw header block cap (64 KiB) */
	continuation_flood(&p, 16000, &bytes, &frames, &why);
	CHECK(why == H2_END_HEADER_BLOCK, "reason %d", why);
	CHECK(bytes <= 65536 + 16384 + 200, "ended within the cap: %llu bytes", (unsigned long long)bytes);
	printf("continuation, 16 KB frames: ended after %llu frames, %llu bytes\n",
	       (unsigned long long)frames, (unsigned long long)bytes);
	p.test_no_header_block_limit = true;
	continuation_flood(&p, 16000, &bytes, &frames, &why);
	CHECK(bytes > 65536 + 16384 + 200, "cap off: more bytes taken (%llu)", (unsigned long long)bytes);
	/* small and empty frames: the CONTINUATION count (8) */
	p = (struct h2_params){ 0 };
	continuation_flood(&p, 0, &bytes, &frames, &why);
	CHECK(why == H2_END_CONTINUATIONS, "empty: reason %d", why);
	CHECK(frames <= 2 + 1 + 8 + 1, "empty: ended after %llu frames", (unsigned long long)frames);
	continuation_flood(&p, 100, &bytes, &frames, &why);
	CHECK(why == H2_END_CONTINUATIONS, "small: reason %d", why);
	CHECK(frames <= 2 + 1 + 8 + 1, "small: ended after %llu frames", (unsigned long long)frames);
	p.max_continuations = 1000000;
	continuation_flood(&p, 0, &bytes, &frames, &why);
	CHECK(frames > 1000, "limit off: %llu empty frames taken", (unsigned long long)frames);
}

static void test_hpack_bomb(bool disabled)
{
	struct h2_params p = { .test_no_header_block_limit = disabled };
	struct raw r;
	uint8_t blk[16384];
	size_t o = 0, i;

	raw_init(&r, &p);
	raw_start(&r);
	/* :method GET, :scheme https, :path /, then a 4000-byte field added to
	 * the dynamic table (index 62), then thousands of 1-byte references */
	blk[o++] = 0x82;
	blk[o++] = 0x87;
	blk[o++] = 0x84;
	blk[o++] = 0x40; /* literal with incremental indexing, new name */
	blk[o++] = 3;
	memcpy(blk + o, "x-b", 3);
	o += 3;
	blk[o++] = 127;
	blk[o++] = (uint8_t)((4000 - 127) % 128 + 128);
	blk[o++] = (uint8_t)((4000 - 127) / 128);
	memset(blk + o, 'b', 4000);
	o += 4000;
	for (i = 0; i < 10000 && o < sizeof(blk); i++)
		blk[o++] = 0x80 | 62;
	send_frame(&r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, blk, o);
	raw_read_out(&r);
	if (!disabled) {
		CHECK(h2_conn_end_reason(r.c) == H2_END_HEADER_BLOCK, "decoded size ends it: %d",
		      h2_conn_end_reason(r.c));
		CHECK(r.goaway && r.goaway_code == H2_ENHANCE_YOUR_CALM, "GOAWAY");
	} else {
		CHECK(h2_conn_end_reason(r.c) != H2_END_HEADER_BLOCK, "off: not ended by the cap");
	}
	raw_free(&r);
}

/* 1,000,000 PINGs (or empty SETTINGS) with nobody reading the answers. */
static void ack_flood(bool settings, unsigned max_ack, enum h2_end *why, unsigned *taken,
                      size_t *peak_mem)
{
	struct h2_params p = { .max_outbound_ack = max_ack };
	struct raw r;
	uint8_t buf[17 * 1024];
	size_t one = settings ? 9 : 17, k = sizeof(buf) / one, i;
	unsigned sent = 0;

	raw_init(&r, &p);
	raw_start(&r);
	for (i = 0; i < k; i++) {
		frame(buf + i * one, settings ? 0 : 8, settings ? NGHTTP2_SETTINGS : NGHTTP2_PING, 0, 0);
		if (!settings)
			memset(buf + i * one + 9, (int)i, 8);
	}
	*peak_mem = 0;
	while (sent < 1000000 && !h2_conn_done(r.c)) {
		feed(&r, buf, k * one);
		sent += (unsigned)k;
		if (h2_conn_mem(r.c) > *peak_mem)
			*peak_mem = h2_conn_mem(r.c);
	}
	*why = h2_conn_end_reason(r.c);
	*taken = sent;
	CHECK(h2_conn_done(r.c), "connection dropped");
	raw_free(&r);
}

static void test_ack_floods(void)
{
	enum h2_end why;
	unsigned taken;
	size_t peak;
	int settings;

	for (settings = 0; settings < 2; settings++) {
		ack_flood(settings, 0, &why, &taken, &peak);
		CHECK(why == H2_END_ACK_FLOOD, "%s: reason %d", settings ? "SETTINGS" : "PING", why);
		CHECK(taken <= 2048, "%s: ended within one 17 KB write: %u frames", settings ? "SETTINGS" : "PING", taken);
		CHECK(peak < 512 * 1024, "%s: memory %zu", settings ? "SETTINGS" : "PING", peak);
		printf("%s flood: ended after %u frames, peak nghttp2 memory %zu B\n",
		       settings ? "SETTINGS" : "PING", taken, peak);
		/* nghttp2's ACK bound "off" (huge): only the memory cap remains */
		ack_flood(settings, 1u << 30, &why, &taken, &peak);
		CHECK(why != H2_END_ACK_FLOOD, "off: not the ACK bound (%d)", why);
		CHECK(peak <= (4u << 20), "off: the memory cap still holds (%zu)", peak);
		printf("%s flood, ACK bound off: reason %d after %u frames, peak %zu B\n",
		       settings ? "SETTINGS" : "PING", why, taken, peak);
	}
}

static unsigned empty_data(bool disabled, enum h2_end *why)
{
	struct h2_params p = { .test_no_empty_data_limit = disabled };
	static const char *const post_nv[] = { ":method", "POST", ":scheme", "https",
		                               ":authority", "a.example", ":path", "/post" };
	struct raw r;
	unsigned i;

	raw_init(&r, &p);
	raw_start(&r);
	send_headers(&r, 1, 0, post_nv, 4);
	for (i = 0; i < 10000 && h2_conn_end_reason(r.c) == H2_END_NONE; i++)
		send_frame(&r, NGHTTP2_DATA, 0, 1, NULL, 0);
	raw_read_out(&r);
	*why = h2_conn_end_reason(r.c);
	raw_free(&r);
	return i;
}

static void test_empty_data(void)
{
	enum h2_end why;
	unsigned n = empty_data(false, &why);

	CHECK(why == H2_END_EMPTY_DATA, "reason %d", why);
	CHECK(n <= 102, "ended after %u empty frames", n);
	n = empty_data(true, &why);
	CHECK(n == 10000, "off: all 10000 taken (%u)", n);
}

static void test_malformed(void)
{
	static const char *const cases[][12] = {
		/* missing :path */
		{ ":method", "GET", ":scheme", "https", ":authority", "a" },
		/* connection-specific field (RFC 9113 8.2.2) */
		{ ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", "connection", "close" },
		/* uppercase name */
		{ ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", "X-Up", "1" },
		/* pseudo-header after a regular field */
		{ ":method", "GET", ":scheme", "https", "x-a", "1", ":path", "/", ":authority", "a" },
		/* TE other than trailers */
		{ ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", "te", "gzip" },
		/* Host differing from :authority (RFC 9113 8.3.1) */
		{ ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", "host", "b" },
		/* unknown pseudo-header */
		{ ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/", ":foo", "b" },
	};
	static const unsigned ncase[] = { 3, 5, 5, 5, 5, 5, 5 };
	unsigned i;

	for (i = 0; i < sizeof(ncase) / sizeof(ncase[0]); i++) {
		struct raw r;

		raw_init(&r, NULL);
		raw_start(&r);
		send_headers(&r, 1, NGHTTP2_FLAG_END_STREAM, cases[i], ncase[i]);
		raw_read_out(&r);
		CHECK(requests_seen == 0, "case %u: no request reached the handler", i);
		CHECK(r.rst[1] == 1 && r.rst_code[1] == H2_PROTOCOL_ERROR,
		      "case %u: RST_STREAM PROTOCOL_ERROR (rst %u code %u)", i, r.rst[1], r.rst_code[1]);
		CHECK(!h2_conn_done(r.c), "case %u: a stream error only", i);
		raw_free(&r);
	}
	/* no :authority and no Host: 400, and a good request still works */
	{
		static const char *const noauth[] = { ":method", "GET", ":scheme", "https", ":path", "/" };
		struct raw r;

		raw_init(&r, NULL);
		raw_start(&r);
		send_headers(&r, 1, NGHTTP2_FLAG_END_STREAM, noauth, 3);
		raw_read_out(&r);
		CHECK(requests_seen == 0 && (r.headers_frames == 1 || r.rst_code[1] == H2_PROTOCOL_ERROR),
		      "400 or stream error without authority");
		CHECK(r.ctr.streams_refused_malformed >= 1, "counted");
		raw_free(&r);
	}
}

static void test_header_limits(void)
{
	struct h2_params p = { .max_headers = 10 };
	struct raw r;
	const char *nv[2 * 16] = { ":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/" };
	unsigned i;

	raw_init(&r, &p);
	raw_start(&r);
	for (i = 4; i < 16; i++) {
		nv[2 * i] = "x-h";
		nv[2 * i + 1] = "v";
	}
	send_headers(&r, 1, NGHTTP2_FLAG_END_STREAM, nv, 16);
	raw_read_out(&r);
	CHECK(requests_seen == 0 && r.ctr.headers_too_large == 1, "12 fields > 10: 431");
	CHECK(!h2_conn_done(r.c), "stream-level");
	raw_free(&r);
}

int main(void)
{
	big_fill();
	test_bad_preface();
	test_rapid_reset();
	test_continuation();
	test_hpack_bomb(false);
	test_hpack_bomb(true);
	test_ack_floods();
	test_empty_data();
	test_malformed();
	test_header_limits();
	return check_report("h2_abuse");
}
