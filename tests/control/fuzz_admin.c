/* libFuzzer target: the admin API's request parser (admin_req_parse), no
 * socket involved. Besides the sanitizers, it checks the parser's contract
 * on every input: a request that is not complete leaves the buffer as it
 * was, a complete one has its strings inside the buffer, an Authorization
 * value as long as its stated length (no NUL cutting it short), and a
 * body that ends inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/admin.h"

static int inside(const char *p, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	struct admin_req req;
	int status = 0;
	const char *why = NULL;
	switch (admin_req_parse(buf, size, &req, &status, &why)) {
	case ADMIN_PARSE_HEAD:
	case ADMIN_PARSE_BODY:
		if (memcmp(buf, data, size))
			abort(); /* the transport parses the same bytes again */
		break;
	case ADMIN_PARSE_ERROR:
		if (status < 400 || status > 499 || !why || memcmp(buf, data, size))
			abort();
		break;
	case ADMIN_PARSE_DONE:
		if (!inside(req.method, buf, size) || !inside(req.path, buf, size) ||
		    !req.body || !inside(req.body, buf, size) || req.body + req.body_len > buf + size)
			abort();
		if (strlen(req.method) == 0)
			abort();
		if (req.authorization &&
		    (!inside(req.authorization, buf, size) || strlen(req.authorization) != req.authorization_len))
			abort();
		break;
	}
	free(buf);
	return 0;
}
