/* test_redirect: the [redirect] server's handler (datapath/https/redirect.c)
 * on a real h1_conn, driven with byte strings: 308 with the Location kept
 * exact (host, port, path, query), 421 for hosts we do not serve, 400
 * without Host, and no open redirect (absolute-form, userinfo in Host,
 * other tricks), request bodies dropped; redirect_decide() alone for the
 * Host values h1req would refuse before it.
 */
#include <string.h>

#include "datapath/https/redirect.h"
#include "tests/check.h"

#define NOW 1000000000000ull

static const char *const names[] = { "example.com", "*.wild.test", "Mixed.Case.org" };

struct t {
	struct h1_conn *c;
	struct h1_counters ctr;
	char out[16384];
	size_t out_len;
};

static void open_(struct t *t, const struct redirect_conf *conf)
{
	struct h1_params p = { .on_request = redirect_on_request, .request_ctx = (void *)conf, .scheme = "http" };

	memset(t, 0, sizeof(*t));
	p.ctr = &t->ctr;
	CHECK(h1_conn_new(&p, NULL, NULL, NOW, &t->c) == 0, "new");
}

static void drain(struct t *t)
{
	struct iovec iov[16];
	int n;

	while ((n = h1_conn_send(t->c, iov, 16, NOW)) > 0) {
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

/* One exchange on a fresh connection: the response text. */
static void ask(const struct redirect_conf *conf, const char *req, char *out, size_t cap)
{
	struct t t;
	size_t len = strlen(req), off = 0;

	open_(&t, conf);
	while (off < len && h1_conn_wants_input(t.c)) {
		ssize_t r = h1_conn_recv(t.c, (const uint8_t *)req + off, len - off, NOW);

		if (r <= 0)
			break;
		off += (size_t)r;
		drain(&t);
	}
	drain(&t);
	{
		size_t k = t.out_len < cap - 1 ? t.out_len : cap - 1;

		memcpy(out, t.out, k);
		out[k] = 0;
	}
	h1_conn_free(t.c);
}

static bool has_location(const char *resp, const char *loc)
{
	char want[512];

	snprintf(want, sizeof(want), "\r\nlocation: %s\r\n", loc);
	return strstr(resp, "HTTP/1.1 308 Permanent Redirect\r\n") == resp && strstr(resp, want) != NULL;
}

static bool status_is(const char *resp, const char *st)
{
	char want[32];

	snprintf(want, sizeof(want), "HTTP/1.1 %s ", st);
	return strstr(resp, want) == resp && !strstr(resp, "location:");
}

/* One request and what must come back: a 308 to loc, or (loc NULL) status
 * st with no Location; what names the case in a failure. */
struct want {
	const char *req, *loc, *st, *what;
};

/* Ask each, check each; the last response stays in r for more checks. */
static void expect(const struct redirect_conf *conf, const struct want *w, unsigned n, char *r, size_t cap)
{
	for (unsigned i = 0; i < n; i++) {
		ask(conf, w[i].req, r, cap);
		CHECK(w[i].loc ? has_location(r, w[i].loc) : status_is(r, w[i].st), "%s: %s", w[i].what, r);
	}
}

#define COUNT(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

static void test_308(void)
{
	struct redirect_conf conf = { .names = names, .n_names = 3 };
	static const struct want exact[] = {
		{ "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com/a/b?x=1&y=%20",
		  NULL, "exact, query kept" },
	};
	static const struct want hosts[] = {
		{ "GET / HTTP/1.1\r\nHost: EXAMPLE.com:80\r\n\r\n", "https://example.com/", NULL,
		  "case, port in Host ignored" },
		{ "GET /p HTTP/1.1\r\nHost: a.wild.test\r\n\r\n", "https://a.wild.test/p", NULL, "wildcard" },
		{ "GET /p HTTP/1.1\r\nHost: b.a.wild.test\r\n\r\n", "https://b.a.wild.test/p", NULL,
		  "wildcard, deeper (as routes match)" },
		{ "GET /p HTTP/1.1\r\nHost: wild.test\r\n\r\n", NULL, "421", "wildcard not the apex" },
		{ "GET /p HTTP/1.1\r\nHost: mixed.case.ORG.\r\n\r\n", "https://mixed.case.org/p", NULL,
		  "trailing dot, lower case" },
	};
	static const struct want port8443[] = {
		{ "GET /q?z HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com:8443/q?z", NULL, "port kept" },
	};
	static const struct want port443[] = {
		{ "GET /q HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com/q", NULL, "443 omitted" },
	};
	char r[4096];

	expect(&conf, exact, COUNT(exact), r, sizeof(r));
	CHECK(strstr(r, "\r\n\r\nMoved to HTTPS.\n") != NULL, "small body: %s", r);
	CHECK(strstr(r, "content-length: 16\r\n") != NULL, "length: %s", r);

	expect(&conf, hosts, COUNT(hosts), r, sizeof(r));

	conf.https_port = 8443;
	expect(&conf, port8443, COUNT(port8443), r, sizeof(r));
	conf.https_port = 443;
	expect(&conf, port443, COUNT(port443), r, sizeof(r));

	/* HEAD: the same head, no body */
	ask(&conf, "HEAD /h HTTP/1.1\r\nHost: example.com\r\n\r\n", r, sizeof(r));
	CHECK(has_location(r, "https://example.com/h") && strstr(r, "\r\n\r\n")[4] == 0, "HEAD: %s", r);
}

static void test_refusals(void)
{
	struct redirect_conf conf = { .names = names, .n_names = 3 };
	static const struct want unknown[] = {
		{ "GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n", NULL, "421", "unknown host" },
	};
	static const struct want tricks[] = {
		{ "GET / HTTP/1.1\r\nHost: example.com.evil.com\r\n\r\n", NULL, "421", "suffix trick" },
		{ "GET / HTTP/1.1\r\nHost: evilexample.com\r\n\r\n", NULL, "421", "no dot" },
		{ "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", NULL, "421", "IP literal" },
		{ "GET / HTTP/1.0\r\n\r\n", NULL, "400", "no Host" },
		/* absolute-form: refused by the parser before any redirect */
		{ "GET http://evil.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", NULL, "400", "absolute-form" },
		{ "GET //evil.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "https://example.com//evil.com/", NULL,
		  "path stays a path" },
		{ "GET / HTTP/1.1\r\nHost: evil.com@example.com\r\n\r\n", NULL, "400", "userinfo in Host" },
		{ "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: example.com\r\n\r\n", NULL, "404",
		  "ACME not served yet" },
		{ "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", NULL, "400", "asterisk-form" },
	};
	char r[4096];

	expect(&conf, unknown, COUNT(unknown), r, sizeof(r));
	CHECK(strstr(r, "421 Misdirected Request\r\n") != NULL, "reason: %s", r);
	expect(&conf, tricks, COUNT(tricks), r, sizeof(r));
}

static void test_decide(void)
{
	struct redirect_conf conf = { .names = names, .n_names = 3 };
	char loc[64];

	/* Host values h1req refuses already: the handler refuses them too */
	CHECK(redirect_decide(&conf, "evil.com@example.com", "/", loc, sizeof(loc)) == 421, "@");
	CHECK(redirect_decide(&conf, "example.com@evil.com", "/", loc, sizeof(loc)) == 421, "@ after");
	CHECK(redirect_decide(&conf, "evil.com/example.com", "/", loc, sizeof(loc)) == 421, "/");
	CHECK(redirect_decide(&conf, "example.com:80x", "/", loc, sizeof(loc)) == 421, "bad port");
	/* names the wildcard would cover if only the suffix were looked at */
	CHECK(redirect_decide(&conf, "evil.com@a.wild.test", "/", loc, sizeof(loc)) == 421, "@ wildcard");
	CHECK(redirect_decide(&conf, "evil.com/a.wild.test", "/", loc, sizeof(loc)) == 421, "/ wildcard");
	CHECK(redirect_decide(&conf, "evil.com\\a.wild.test", "/", loc, sizeof(loc)) == 421, "\\ wildcard");
	CHECK(redirect_decide(&conf, "example.com", "http://evil/", loc, sizeof(loc)) == 400, "absolute");
	CHECK(redirect_decide(&conf, "example.com", "/a\r\nX: y", loc, sizeof(loc)) == 400, "CRLF in path");
	CHECK(redirect_decide(&conf, NULL, "/", loc, sizeof(loc)) == 400, "no host");
	CHECK(redirect_decide(&conf, "", "/", loc, sizeof(loc)) == 400, "empty host");
	CHECK(redirect_decide(&conf, "example.com", "/x", loc, sizeof(loc)) == 308 &&
	              !strcmp(loc, "https://example.com/x"),
	      "308 %s", loc);
	CHECK(redirect_decide(&conf, "example.com", "/0123456789012345678901234567890123456789012345678901234567890",
	                      loc, sizeof(loc)) == 414,
	      "does not fit");
}

static void test_body_dropped(void)
{
	struct redirect_conf conf = { .names = names, .n_names = 3 };
	struct t t;
	const char *req = "POST /f HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n\r\nabcd"
	                  "GET /g HTTP/1.1\r\nHost: example.com\r\n\r\n";

	open_(&t, &conf);
	CHECK(h1_conn_recv(t.c, (const uint8_t *)req, strlen(req), NOW) == (ssize_t)strlen(req), "all taken");
	drain(&t);
	CHECK(has_location(t.out, "https://example.com/f"), "first: %s", t.out);
	/* the body was there: read, dropped, and the connection goes on */
	CHECK(strstr(t.out, "location: https://example.com/g\r\n") != NULL, "second: %s", t.out);
	CHECK(!h1_conn_done(t.c), "kept alive");
	h1_conn_free(t.c);

	/* a body larger than the window: dropped as it comes (consumed) */
	{
		static char big[400000];
		size_t hl = (size_t)snprintf(big, sizeof(big),
		                             "POST /f HTTP/1.1\r\nHost: example.com\r\nContent-Length: 300000\r\n\r\n");
		size_t off = 0, total;

		memset(big + hl, 'z', 300000);
		total = hl + 300000 + (size_t)snprintf(big + hl + 300000, sizeof(big) - hl - 300000,
		                                       "GET /g HTTP/1.1\r\nHost: example.com\r\n\r\n");
		t.out_len = 0;
		open_(&t, &conf);
		while (off < total && h1_conn_wants_input(t.c)) {
			ssize_t r = h1_conn_recv(t.c, (const uint8_t *)big + off, total - off, NOW);

			if (r <= 0)
				break;
			off += (size_t)r;
			drain(&t);
		}
		CHECK(off == total && strstr(t.out, "location: https://example.com/g\r\n"), "big body dropped: %zu %s",
		      off, t.out);
		h1_conn_free(t.c);
	}

	/* a body still to come: the connection closes after the answer
	 * rather than wait for a body nobody wants */
	open_(&t, &conf);
	req = "POST /f HTTP/1.1\r\nHost: example.com\r\nContent-Length: 100\r\n\r\nabcd";
	CHECK(h1_conn_recv(t.c, (const uint8_t *)req, strlen(req), NOW) == (ssize_t)strlen(req), "taken");
	drain(&t);
	CHECK(has_location(t.out, "https://example.com/f") && h1_conn_done(t.c), "closed: %s", t.out);
	h1_conn_free(t.c);
}

int main(void)
{
	test_308();
	test_refusals();
	test_decide();
	test_body_dropped();
	return check_report("test_redirect");
}
