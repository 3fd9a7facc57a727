/* The access log (datapath/proxy/accesslog.c): the JSON escaper against
 * a table and, on random bytes, against a decoder (what it writes is
 * valid UTF-8 with no raw control character, quote or backslash, and
 * decodes back to the input); RFC 3339 times; one full line; the worker's
 * buffer: lines reach the file whole, a buffer that would overflow is
 * written first, a failed write counts its lines as dropped. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datapath/proxy/accesslog.h"
#include "tests/check.h"

static const char *esc(const char *s, size_t len)
{
	static char out[4096];
	size_t n = alog_escape(out, sizeof(out) - 1, s, len);
	out[n] = 0;
	return out;
}

static const struct {
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
} table[] = {
	{"/index.html?a=1&b=2", 0, "/index.html?a=1&b=2"},
	{"say \"hi\"", 0, "say \\\"hi\\\""},
	{"a\\b", 0, "a\\\\b"},
	{"\b\f\n\r\t", 0, "\\b\\f\\n\\r\\t"},
	{"\x01\x1f\x7f", 0, "\\u0001\\u001f\\u007f"},
	{"nul\0x", 5, "nul\\u0000x"},
	{"caf\xc3\xa9", 0, "caf\xc3\xa9"},                   /* U+00E9, well-formed */
	{"\xe2\x82\xac", 0, "\xe2\x82\xac"},                 /* U+20AC */
	{"\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80"},         /* U+1F600 */
	{"\xff\xfe", 0, "\\u00ff\\u00fe"},                   /* never in UTF-8 */
	{"\x80x", 0, "\\u0080x"},                            /* stray continuation */
	{"\xc0\xaf", 0, "\\u00c0\\u00af"},                   /* overlong '/' */
	{"\xe0\x80\xaf", 0, "\\u00e0\\u0080\\u00af"},        /* overlong */
	{"\xed\xa0\x80", 0, "\\u00ed\\u00a0\\u0080"},        /* surrogate U+D800 */
	{"\xf4\x90\x80\x80", 0, "\\u00f4\\u0090\\u0080\\u0080"}, /* > U+10FFFF */
	{"\xe2\x82", 0, "\\u00e2\\u0082"},                   /* cut sequence */
	{"\xc3\xa9\xc3", 0, "\xc3\xa9\\u00c3"},
};

/* Decode what alog_escape wrote; -1 when it is not what it promises. */
static long unescape(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		uint8_t b = (uint8_t)s[i];
		if (b < 0x20 || b == 0x7f || b == '"')
			return -1;
		if (b == '\\') {
			if (i + 1 >= n)
				return -1;
			char e = s[i + 1];
			const char *m = strchr("\"\\bfnrt", e);
			if (m && e) {
				out[o++] = (uint8_t)"\"\\\b\f\n\r\t"[m - "\"\\bfnrt"];
				i += 2;
			} else if (e == 'u' && i + 6 <= n && s[i + 2] == '0' && s[i + 3] == '0') {
				unsigned v;
				if (sscanf(s + i + 4, "%2x", &v) != 1)
					return -1;
				out[o++] = (uint8_t)v;
				i += 6;
			} else {
				return -1;
			}
			continue;
		}
		out[o++] = b; /* raw bytes: must be well-formed UTF-8, checked below */
		i++;
	}
	return (long)o;
}

/* Is the raw (unescaped) part of s well-formed UTF-8? A naive decoder:
 * every code point rebuilt and range-checked. */
static bool utf8_ok(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k;
		if (p[i] < 0x80) {
			i++;
			continue;
		} else if ((p[i] & 0xe0) == 0xc0) {
			cp = p[i] & 0x1f, k = 2;
		} else if ((p[i] & 0xf0) == 0xe0) {
			cp = p[i] & 0x0f, k = 3;
		} else if ((p[i] & 0xf8) == 0xf0) {
			cp = p[i] & 0x07, k = 4;
		} else {
			return false;
		}
		if (i + k > n)
			return false;
		for (size_t j = 1; j < k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k;
	}
	return true;
}

static void test_escape(void)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t len = table[i].len ? table[i].len : strlen(table[i].in);
		const char *got = esc(table[i].in, len);
		CHECK(!strcmp(got, table[i].want), "case %zu: got '%s' want '%s'", i, got, table[i].want);
	}
	/* room: never a partial escape */
	char small[8];
	size_t n = alog_escape(small, 7, "ab\x01\x02", 4);
	CHECK(n == 2 && !memcmp(small, "ab", 2), "cut before \\u0001: %zu", n);
	n = alog_escape(small, 3, "a\xe2\x82\xac", 4);
	CHECK(n == 1, "cut before a 3-byte character: %zu", n);

	/* random bytes, biased toward the interesting ones */
	srand(20);
	static char raw[512], out[512 * 6];
	static uint8_t back[512];
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand() % 64);
		for (size_t i = 0; i < len; i++) {
			int r = rand() % 8;
			raw[i] = (char)(r == 0 ? 0x80 + rand() % 0x40 : r == 1 ? 0xc0 + rand() % 0x40 : r == 2 ? rand() % 0x20
			                                                 : r == 3 ? "\"\\/"[rand() % 3] : rand() % 256);
		}
		size_t o = alog_escape(out, sizeof(out), raw, len);
		long b = unescape(out, o, back);
		char rawpart[512 * 6];
		size_t rp = 0;
		for (size_t i = 0; i < o; i++) { /* the raw bytes only, escapes skipped */
			if (out[i] == '\\') {
				i += out[i + 1] == 'u' ? 5 : 1;
				continue;
			}
			rawpart[rp++] = out[i];
		}
		CHECK(b == (long)len && !memcmp(back, raw, len), "round %d: does not decode back", round);
		CHECK(utf8_ok(rawpart, rp), "round %d: not UTF-8", round);
		if (checks_failed)
			break;
	}
}

static void test_time(void)
{
	static const struct {
		uint64_t ms;
		const char *want;
	} t[] = {
		{0, "1970-01-01T00:00:00.000Z"},
		{951782400000ull, "2000-02-29T00:00:00.000Z"},
		{1709251199999ull, "2024-02-29T23:59:59.999Z"},
		{1798150000123ull, "2026-12-24T22:06:40.123Z"},
		{4102444800500ull, "2100-01-01T00:00:00.500Z"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[25];
		size_t n = alog_time(out, t[i].ms * 1000000 + 999999);
		CHECK(n == 24 && !strcmp(out, t[i].want), "%s != %s", out, t[i].want);
	}
}

static void rec_fill(struct alog_rec *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->wall_ns = 1798150000123ull * 1000000;
	r->duration_ns = 12345678;
	r->client.in4.sin_family = AF_INET;
	r->client.in4.sin_port = htons(40000);
	inet_pton(AF_INET, "10.0.0.2", &r->client.in4.sin_addr);
	r->upstream.in6.sin6_family = AF_INET6;
	r->upstream.in6.sin6_port = htons(8080);
	inet_pton(AF_INET6, "::1", &r->upstream.in6.sin6_addr);
	r->proto = "h3";
	r->tls_version = "TLSv1.3";
	r->tls_group = "X25519MLKEM768";
	r->early_data = true;
	r->status = 200;
	r->rx_bytes = 3;
	r->tx_bytes = 1234;
	alog_copy(r->method, sizeof(r->method), "GET");
	alog_copy(r->sni, sizeof(r->sni), "a.example");
	alog_copy(r->host, sizeof(r->host), "a.example:443");
	alog_copy(r->route, sizeof(r->route), "api");
	r->path_cut = alog_copy(r->path, sizeof(r->path), path);
}

static void test_format(void)
{
	static char line[ALOG_LINE_MAX];
	struct alog_rec r;
	rec_fill(&r, "/q?\"x\"");
	size_t n = alog_format(line, sizeof(line), &r);
	const char *want =
		"{\"time\":\"2026-12-24T22:06:40.123Z\",\"client\":\"10.0.0.2:40000\",\"proto\":\"h3\","
		"\"tls\":\"TLSv1.3\",\"group\":\"X25519MLKEM768\",\"sni\":\"a.example\",\"host\":\"a.example:443\","
		"\"method\":\"GET\",\"path\":\"/q?\\\"x\\\"\",\"path_cut\":false,\"status\":200,\"rx_bytes\":3,"
		"\"tx_bytes\":1234,\"upstream\":\"[::1]:8080\",\"route\":\"api\",\"duration_ms\":12.345,"
		"\"early_data\":true,\"resumed\":false}\n";
	CHECK(n == strlen(want) && !memcmp(line, want, n), "got %.*s", (int)n, line);

	/* plain HTTP, nothing known: dashes */
	memset(&r, 0, sizeof(r));
	r.proto = "http/1.1";
	n = alog_format(line, sizeof(line), &r);
	line[n] = 0;
	CHECK(strstr(line, "\"client\":\"-\",\"proto\":\"http/1.1\",\"tls\":\"-\",\"group\":\"-\",\"sni\":\"-\"") &&
	              strstr(line, "\"upstream\":\"-\",\"route\":\"-\",\"duration_ms\":0.000"),
	      "%s", line);

	/* the worst case fits ALOG_LINE_MAX; less room: refused */
	char worst[2 * ALOG_PATH_MAX];
	memset(worst, 0x01, sizeof(worst) - 1);
	worst[sizeof(worst) - 1] = 0;
	rec_fill(&r, worst);
	memset(r.sni, 0x02, sizeof(r.sni) - 1);
	memset(r.host, 0x02, sizeof(r.host) - 1);
	memset(r.route, 0x02, sizeof(r.route) - 1);
	memset(r.method, 0x02, sizeof(r.method) - 1);
	CHECK(r.path_cut, "a long path is cut");
	n = alog_format(line, sizeof(line), &r);
	CHECK(n > 6 * ALOG_PATH_MAX && n <= ALOG_LINE_MAX && line[n - 1] == '\n' &&
	              !memcmp(line + n - 2, "}\n", 2) && memchr(line, '\n', n) == line + n - 1,
	      "worst case: %zu", n);
	CHECK(alog_format(line, ALOG_LINE_MAX - 1, &r) == 0, "too little room");
}

static size_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) ? 0 : (size_t)st.st_size;
}

static void test_buffer(void)
{
	char tmpl[] = "/tmp/rg-alog-XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0, "mkstemp");
	if (fd < 0)
		return;
	unlink(tmpl);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int afd = open(path, O_WRONLY | O_APPEND);
	CHECK(afd >= 0, "reopen O_APPEND");

	struct alog l;
	CHECK(alog_init(&l) == 0, "init");
	struct alog_rec r;
	char p[ALOG_PATH_MAX];
	memset(p, 'p', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = 0;
	rec_fill(&r, p);

	/* off: discarded, nothing counted */
	alog_add(&l, &r);
	CHECK(l.lines == 0 && l.dropped == 0, "off: %u", l.lines);

	alog_set_fd(&l, afd);
	unsigned added = 0, flushes_seen = 0;
	size_t last = 0;
	for (int i = 0; i < 200; i++) {
		alog_add(&l, &r);
		added++;
		size_t sz = file_size(fd);
		if (sz != last) { /* an overflow flush: whole lines only */
			flushes_seen++;
			char c;
			CHECK(pread(fd, &c, 1, (off_t)sz - 1) == 1 && c == '\n', "a flush ends on a line's end");
			last = sz;
		}
		CHECK(l.len <= ALOG_BUF, "buffer bound");
	}
	CHECK(flushes_seen >= 2, "a buffer that would overflow is written first (%u writes)", flushes_seen);
	alog_flush(&l);
	CHECK(l.written == added && l.dropped == 0 && l.lines == 0, "written %lu of %u",
	      (unsigned long)l.written, added);
	alog_flush(&l); /* nothing waiting: nothing written */

	/* the file: `added` lines, each a whole object */
	size_t sz = file_size(fd);
	char *all = malloc(sz + 1);
	CHECK(all && pread(fd, all, sz, 0) == (ssize_t)sz, "read back");
	if (all) {
		all[sz] = 0;
		unsigned lines = 0;
		for (char *s = all, *e; (e = strchr(s, '\n')); s = e + 1) {
			lines++;
			CHECK(!strncmp(s, "{\"time\":", 8) && e[-1] == '}', "line %u is whole", lines);
		}
		CHECK(lines == added, "%u lines, %u added", lines, added);
		free(all);
	}

	/* a write that fails: the batch is counted, never retried */
	int ro = open(path, O_RDONLY);
	alog_set_fd(&l, ro);
	alog_add(&l, &r);
	alog_add(&l, &r);
	alog_flush(&l);
	CHECK(l.dropped == 2 && l.lines == 0 && l.len == 0, "dropped %lu", (unsigned long)l.dropped);
	CHECK(file_size(fd) == sz, "nothing written by the failed write");

	/* a new fd: what waits goes to the old one first */
	alog_set_fd(&l, afd);
	alog_add(&l, &r);
	alog_set_fd(&l, -1);
	CHECK(file_size(fd) > sz && l.lines == 0, "switching flushes to the old fd");
	alog_fini(&l);
	close(ro);
	close(afd);
	close(fd);
}

int main(void)
{
	test_escape();
	test_time();
	test_format();
	test_buffer();
	return check_report("proxy_accesslog");
}
