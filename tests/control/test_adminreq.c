/* The admin API's request parser, table-driven: whole requests, partial
 * ones (head, then body), and the refusals, with the NUL of
 * "Bearer TOKEN\0junk" kept visible. */
#include <stdlib.h>
#include <string.h>

#include "control/admin.h"
#include "tests/check.h"

struct parse_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum admin_parse want;
	int status;              /* on ADMIN_PARSE_ERROR */
	const char *path, *auth; /* on ADMIN_PARSE_DONE */
	size_t auth_len;
	size_t body_len;
};

#define TOK "0123456789abcdef0123456789abcdef"
static const struct parse_case cases[] = {
	{"get", "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", 0, ADMIN_PARSE_DONE, 0, "/status", NULL, 0, 0},
	{"query", "GET /metrics?a=b HTTP/1.0\r\n\r\n", 0, ADMIN_PARSE_DONE, 0, "/metrics", NULL, 0, 0},
	{"bearer", "GET /status HTTP/1.1\r\nAuthorization: Bearer " TOK "\r\n\r\n", 0, ADMIN_PARSE_DONE, 0,
	 "/status", "Bearer " TOK, 39, 0},
	{"bearer nul junk", "GET /status HTTP/1.1\r\nAuthorization: Bearer " TOK "\0junk\r\n\r\n", 85,
	 ADMIN_PARSE_DONE, 0, "/status", "Bearer " TOK " junk", 44, 0},
	{"bearer trailing nul", "GET /s HTTP/1.1\r\nAuthorization: Bearer " TOK "\0\r\n\r\n", 76, ADMIN_PARSE_DONE, 0,
	 "/s", "Bearer " TOK " ", 40, 0},
	{"empty authorization", "GET /s HTTP/1.1\r\nAuthorization:\r\n\r\n", 0, ADMIN_PARSE_DONE, 0, "/s", "", 0, 0},
	{"body", "POST /reload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0, ADMIN_PARSE_DONE, 0, "/reload", NULL, 0, 3},
	{"head pending", "GET /status HTTP/1.1\r\nHost: x\r\n", 0, ADMIN_PARSE_HEAD, 0, NULL, NULL, 0, 0},
	{"nothing yet", "", 0, ADMIN_PARSE_HEAD, 0, NULL, NULL, 0, 0},
	{"body pending", "POST /reload HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc", 0, ADMIN_PARSE_BODY, 0, NULL, NULL, 0, 0},
	{"no version", "GET /status\r\n\r\n", 0, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"short version", "GET /status HTTP/1\r\n\r\n", 0, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"empty method", " /status HTTP/1.1\r\n\r\n", 0, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"nul in path", "GET /sta\0us HTTP/1.1\r\n\r\n", 24, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"chunked", "POST /reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ADMIN_PARSE_ERROR, 400, NULL,
	 NULL, 0, 0},
	{"two lengths", "POST /r HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, ADMIN_PARSE_ERROR,
	 400, NULL, NULL, 0, 0},
	{"two credentials", "GET /s HTTP/1.1\r\nAuthorization: Bearer a\r\nauthorization: Bearer " TOK "\r\n\r\n", 0,
	 ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"signed length", "POST /r HTTP/1.1\r\nContent-Length: +1\r\n\r\na", 0, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"empty length", "POST /r HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, ADMIN_PARSE_ERROR, 400, NULL, NULL, 0, 0},
	{"huge length", "POST /r HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, ADMIN_PARSE_ERROR,
	 413, NULL, NULL, 0, 0},
	{"length over 1 MiB", "POST /r HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 0, ADMIN_PARSE_ERROR, 413, NULL,
	 NULL, 0, 0},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *t = &cases[i];
		size_t len = t->len ? t->len : strlen(t->in);
		char *buf = malloc(len + 1);
		memcpy(buf, t->in, len);
		buf[len] = '\0';
		struct admin_req req;
		memset(&req, 0, sizeof(req));
		int status = 0;
		const char *why = NULL;
		enum admin_parse got = admin_req_parse(buf, len, &req, &status, &why);
		CHECK(got == t->want, "%s: verdict %d, want %d", t->name, (int)got, (int)t->want);
		if (got == ADMIN_PARSE_ERROR && t->want == got)
			CHECK(status == t->status && why, "%s: status %d, want %d", t->name, status, t->status);
		if (got == ADMIN_PARSE_DONE && t->want == got) {
			CHECK(!strcmp(req.path, t->path), "%s: path %s", t->name, req.path);
			CHECK(req.body_len == t->body_len, "%s: body %zu", t->name, req.body_len);
			if (t->auth) {
				CHECK(req.authorization && req.authorization_len == t->auth_len &&
				              !memcmp(req.authorization, t->auth, t->auth_len),
				      "%s: authorization of %zu bytes, want %zu", t->name, req.authorization_len,
				      t->auth_len);
				/* as a C string it must not end before its length */
				CHECK(req.authorization && strlen(req.authorization) == req.authorization_len,
				      "%s: a NUL inside the value", t->name);
			} else {
				CHECK(!req.authorization, "%s: unexpected authorization", t->name);
			}
		}
		if (got != ADMIN_PARSE_DONE) /* left as read: parsed again later */
			CHECK(!memcmp(buf, t->in, len), "%s: buffer changed", t->name);
		free(buf);
	}

	/* a head arriving one byte at a time: HEAD until the blank line, then
	 * BODY until the body is complete */
	static const char req[] = "POST /reload HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
	size_t n = sizeof(req) - 1, hl = strstr(req, "\r\n\r\n") + 4 - req;
	char buf[sizeof(req)];
	for (size_t k = 0; k <= n; k++) {
		memcpy(buf, req, k);
		buf[k] = '\0';
		struct admin_req r;
		int status;
		const char *why;
		enum admin_parse want = k < hl ? ADMIN_PARSE_HEAD : k < n ? ADMIN_PARSE_BODY : ADMIN_PARSE_DONE;
		CHECK(admin_req_parse(buf, k, &r, &status, &why) == want, "prefix of %zu bytes", k);
	}
	return check_report("adminreq");
}
