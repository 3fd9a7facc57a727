/* Request-target normalization (datapath/proxy/path.c): a corpus of
 * traversal forms and legitimate targets (input -> normalized target or
 * the refusal), then the dot-segment removal against a literal transcript
 * of RFC 3986 5.2.4's buffer algorithm on random targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/path.h"
#include "tests/check.h"

#define OK PROXY_PATH_OK

static const struct {
	const char *in;
	enum proxy_path_verdict want;
	const char *out; /* when OK */
} corpus[] = {
	/* legitimate */
	{"/", OK, "/"},
	{"*", OK, "*"},
	{"/public/a%20b.txt", OK, "/public/a%20b.txt"},
	{"/public/./x", OK, "/public/x"},
	{"/public/x/../y", OK, "/public/y"},
	{"/public/x/..", OK, "/public/"},
	{"/public/.", OK, "/public/"},
	{"/public/x/.", OK, "/public/x/"},
	{"/a/b/c/./../../g", OK, "/a/g"},                  /* RFC 3986 5.2.4 */
	{"/mid/content=5/../6", OK, "/mid/6"},             /* RFC 3986 5.2.4 */
	{"/a//b", OK, "/a//b"},                            /* "//" kept */
	{"/a//../b", OK, "/a/b"},
	{"/a/..", OK, "/"},
	{"/.", OK, "/"},
	{"/./", OK, "/"},
	{"/...", OK, "/..."},                              /* not a dot segment */
	{"/..a/.b/a..", OK, "/..a/.b/a.."},
	{"/%41%62c%7e%2D%5f", OK, "/Abc~-_"},              /* unreserved decoded */
	{"/a%3bb%3Fc%2a", OK, "/a%3Bb%3Fc%2A"},            /* reserved kept, hex upper-cased */
	{"/%25", OK, "/%25"},                              /* '%' itself stays encoded */
	{"/%252e%252e/x", OK, "/%252e%252e/x"},            /* no double decoding */
	{"/%c3%a9t%C3%A9", OK, "/%C3%A9t%C3%A9"},
	{"/caf\xc3\xa9", OK, "/caf\xc3\xa9"},              /* raw UTF-8 passes */
	{"/a;b/c", OK, "/a;b/c"},
	{"/x?a=%2f&b=../../c&d=%zz", OK, "/x?a=%2f&b=../../c&d=%zz"}, /* query untouched */
	{"/x/../y?/../../z", OK, "/y?/../../z"},
	{"/x/..?q", OK, "/?q"},
	{"/?", OK, "/?"},
	{"/p/%2e/q", OK, "/p/q"},
	{"/p/%2e%2E/q", OK, "/q"},
	{"/public/%2e%2e/public/x", OK, "/public/x"},
	/* traversal forms from /public/ */
	{"/public/../secret.txt", OK, "/secret.txt"},       /* normalized, routes elsewhere */
	{"/public/%2e%2e/secret.txt", OK, "/secret.txt"},
	{"/public/%2E%2E/secret.txt", OK, "/secret.txt"},
	{"/public/.%2e/secret.txt", OK, "/secret.txt"},
	{"/public/%2e./secret.txt", OK, "/secret.txt"},
	{"/public/..%2fsecret.txt", PROXY_PATH_ENCODED_SEP, NULL},
	{"/public/..%2Fsecret.txt", PROXY_PATH_ENCODED_SEP, NULL},
	{"/public/%2e%2e%2fsecret.txt", PROXY_PATH_ENCODED_SEP, NULL},
	{"/public/..%5csecret.txt", PROXY_PATH_ENCODED_SEP, NULL},
	{"/public/..\\secret.txt", PROXY_PATH_BAD_CHAR, NULL},
	{"/public/..;/secret.txt", PROXY_PATH_DOT_PARAMS, NULL},
	{"/public/..;x=1/secret.txt", PROXY_PATH_DOT_PARAMS, NULL},
	{"/public/.;/secret.txt", PROXY_PATH_DOT_PARAMS, NULL},
	{"/public/..%3b/secret.txt", PROXY_PATH_DOT_PARAMS, NULL},
	{"/public/%2e%2e;/secret.txt", PROXY_PATH_DOT_PARAMS, NULL},
	{"/public/../../secret.txt", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/..", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/../", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/%2e%2e/etc/passwd", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/a/../..", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/a/./../../b", PROXY_PATH_ABOVE_ROOT, NULL},
	{"/public/%252e%252e%252fsecret", OK, "/public/%252e%252e%252fsecret"},
	{"/public/%00/x", PROXY_PATH_ENCODED_CTL, NULL},
	{"/public/x%00.txt", PROXY_PATH_ENCODED_CTL, NULL},
	{"/public/%0d%0aX: y", PROXY_PATH_ENCODED_CTL, NULL},
	{"/public/%1f", PROXY_PATH_ENCODED_CTL, NULL},
	{"/public/%7F", PROXY_PATH_ENCODED_CTL, NULL},
	{"/public/a b", PROXY_PATH_BAD_CHAR, NULL},
	{"/public/a\tb", PROXY_PATH_BAD_CHAR, NULL},
	{"/public/a\x7f", PROXY_PATH_BAD_CHAR, NULL},
	{"/public/x#/../../secret", PROXY_PATH_BAD_CHAR, NULL},
	{"/public/..#", PROXY_PATH_BAD_CHAR, NULL},
	{"/x?a b", PROXY_PATH_BAD_CHAR, NULL},
	{"/x?a#b", PROXY_PATH_BAD_CHAR, NULL},
	{"/x?a\x01", PROXY_PATH_BAD_CHAR, NULL},
	{"/%", PROXY_PATH_BAD_ESCAPE, NULL},
	{"/%2", PROXY_PATH_BAD_ESCAPE, NULL},
	{"/%2?x", PROXY_PATH_BAD_ESCAPE, NULL},
	{"/%zz", PROXY_PATH_BAD_ESCAPE, NULL},
	{"/%%32%65", PROXY_PATH_BAD_ESCAPE, NULL},
	{"", PROXY_PATH_NOT_ORIGIN_FORM, NULL},
	{"public/x", PROXY_PATH_NOT_ORIGIN_FORM, NULL},
	{"http://h/x", PROXY_PATH_NOT_ORIGIN_FORM, NULL},
	{"**", PROXY_PATH_NOT_ORIGIN_FORM, NULL},
	{"?x", PROXY_PATH_NOT_ORIGIN_FORM, NULL},
};

static void test_corpus(void)
{
	char out[256];

	for (unsigned i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		size_t n = 12345;
		enum proxy_path_verdict v =
			proxy_path_normalize(corpus[i].in, strlen(corpus[i].in), out, sizeof(out), &n);

		CHECK(v == corpus[i].want, "\"%s\": %s, want %s", corpus[i].in, proxy_path_verdict_name(v),
		      proxy_path_verdict_name(corpus[i].want));
		if (v != OK || corpus[i].want != OK)
			continue;
		CHECK(n == strlen(corpus[i].out) && !strcmp(out, corpus[i].out), "\"%s\" -> \"%s\", want \"%s\"",
		      corpus[i].in, out, corpus[i].out);
		CHECK(n <= strlen(corpus[i].in), "\"%s\" grew", corpus[i].in); /* path.h: cap = len + 1 */
		/* idempotent: the result normalizes to itself */
		{
			char again[256];
			size_t m;

			v = proxy_path_normalize(out, n, again, sizeof(again), &m);
			CHECK(v == OK && m == n && !memcmp(again, out, n), "\"%s\" not stable", out);
		}
	}
	/* an embedded NUL is a control character, not the end */
	{
		size_t n;

		CHECK(proxy_path_normalize("/a\0/../b", 8, out, sizeof(out), &n) == PROXY_PATH_BAD_CHAR, "raw NUL");
	}
}

static void test_cap(void)
{
	const char *p = "/a/./b";
	char out[8];
	size_t n;

	CHECK(proxy_path_normalize(p, 6, out, 6, &n) == PROXY_PATH_TOO_LONG, "cap == len");
	CHECK(proxy_path_normalize(p, 6, out, 7, &n) == OK && !strcmp(out, "/a/b"), "cap == len + 1");
	CHECK(proxy_path_normalize("*", 1, out, 1, &n) == PROXY_PATH_TOO_LONG, "'*' needs 2");
}

/* RFC 3986 5.2.4, the buffer algorithm as written (rules A-E), on a path
 * already decoded; *above set when rule C finds nothing to remove. */
static void model_remove_dots(const char *in, char *out, int *above)
{
	char buf[512];
	char *b = buf;
	size_t o = 0;

	snprintf(buf, sizeof(buf), "%s", in);
	*above = 0;
	while (*b) {
		if (!strncmp(b, "../", 3)) {
			b += 3; /* A */
		} else if (!strncmp(b, "./", 2)) {
			b += 2;
		} else if (!strncmp(b, "/./", 3)) {
			b += 2; /* B: "/./" -> "/" */
		} else if (!strcmp(b, "/.")) {
			b[1] = 0; /* "/." -> "/" */
		} else if (!strncmp(b, "/../", 4) || !strcmp(b, "/..")) {
			/* C */
			if (b[3] == '/')
				b += 3;
			else {
				b += 2;
				b[0] = '/';
			}
			if (o == 0)
				*above = 1;
			while (o > 0 && out[--o] != '/')
				;
		} else if (!strcmp(b, ".") || !strcmp(b, "..")) {
			b += strlen(b); /* D */
		} else {
			/* E: the first segment, its '/' included */
			do
				out[o++] = *b++;
			while (*b && *b != '/');
		}
	}
	out[o] = 0;
}

static void model_decode(const char *in, char *out)
{
	size_t o = 0;

	for (size_t i = 0; in[i];) {
		if (in[i] == '%' && (in[i + 1] == '2') && (in[i + 2] == 'e' || in[i + 2] == 'E')) {
			out[o++] = '.';
			i += 3;
		} else if (in[i] == '%' && in[i + 1] == '4' && in[i + 2] == '1') {
			out[o++] = 'A';
			i += 3;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = 0;
}

static void test_model(void)
{
	static const char *const tok[] = {"/", "/", "/", ".", "..", "a", "%2e", "%2E", "%41", "b."};
	unsigned seed = 12345;
	unsigned mism = 0;

	for (unsigned t = 0; t < 200000; t++) {
		char in[256] = "/", dec[256], want[256], got[256];
		int above;
		size_t n;
		unsigned k;
		enum proxy_path_verdict v;

		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 16) % 12;
		for (unsigned j = 0; j < k; j++) {
			seed = seed * 1103515245u + 12345u;
			strcat(in, tok[(seed >> 16) % (sizeof(tok) / sizeof(tok[0]))]);
		}
		model_decode(in, dec);
		model_remove_dots(dec, want, &above);
		if (!want[0])
			strcpy(want, "/");
		v = proxy_path_normalize(in, strlen(in), got, sizeof(got), &n);
		if (above) {
			if (v != PROXY_PATH_ABOVE_ROOT && ++mism < 10)
				CHECK(0, "\"%s\": %s, want above root", in, proxy_path_verdict_name(v));
			continue;
		}
		if ((v != OK || strcmp(got, want)) && ++mism < 10)
			CHECK(0, "\"%s\": %s \"%s\", want \"%s\"", in, proxy_path_verdict_name(v),
			      v == OK ? got : "", want);
	}
	CHECK(mism == 0, "%u of 200000 random targets differ from RFC 3986 5.2.4", mism);
}

int main(void)
{
	test_corpus();
	test_cap();
	test_model();
	return check_report("proxy_path");
}
