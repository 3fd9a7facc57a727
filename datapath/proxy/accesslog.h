/* accesslog: one JSON object per finished request ([appliance] access_log,
 * issue 20 §2 "the access log records the group"), and per answer a front
 * end made before the proxy saw the request (proxy.h proxy_log_answer:
 * refused heads, [redirect]'s answers; what the front end does not know is
 * "-", the path "", upstream and route "-", bytes and duration 0).
 *
 * Two parts, both without a socket or a clock of their own:
 *  - the formatter: a struct alog_rec (what the proxy copied of the
 *    request head, what it counted while the exchange ran) into one line
 *    of JSON (RFC 8259), every string escaped by alog_escape: '"', '\\',
 *    control characters, and each byte that is not part of well-formed
 *    UTF-8 (RFC 3629 4) as \u00XX, so a line is always valid JSON;
 *  - the worker's line buffer (struct alog): lines are appended whole and
 *    go out with one write(2) on the generation's O_APPEND fd, at the end
 *    of the worker's loop turn (alog_flush) or when the next line might
 *    not fit. A line is never split across writes, so the lines of the
 *    workers sharing the file never interleave (O_APPEND: each write lands
 *    whole at the end). A failed or short write is not retried: the
 *    buffer's lines are counted as dropped and the worker goes on.
 *
 * No allocation after alog_init, no syscall per line.
 * Threads: one struct alog per worker, used by that worker only.
 */
#ifndef RG_PROXY_ACCESSLOG_H
#define RG_PROXY_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h" /* rg_sockaddr */

#define ALOG_BUF (64 * 1024)   /* a worker's buffer */
#define ALOG_PATH_MAX 1024     /* bytes of the request target kept (more: cut, "path_cut") */
#define ALOG_NAME_MAX 128      /* host, sni, route */
#define ALOG_METHOD_MAX 24
/* The longest line alog_format can make (every kept byte escaped to six):
 * less than the buffer, so a flush always makes room for one line. */
#define ALOG_LINE_MAX (6 * (ALOG_PATH_MAX + 3 * ALOG_NAME_MAX + ALOG_METHOD_MAX) + 1024)
_Static_assert(ALOG_LINE_MAX < ALOG_BUF, "a line must fit an empty buffer");

struct alog_rec {
	uint64_t wall_ns;          /* the request head's arrival, ns since the epoch (UTC) */
	uint64_t duration_ns;      /* from the request head to the end of the exchange */
	rg_sockaddr client;        /* family 0: unknown ("-") */
	rg_sockaddr upstream;      /* the last server tried; family 0: none ("-") */
	const char *proto;         /* "h3", "h2", "http/1.1" (static) */
	const char *tls_version;   /* "TLSv1.3"; NULL: plain HTTP ("-") */
	const char *tls_group;     /* tls.h tls_group_label(); NULL: "-" */
	bool early_data, resumed, path_cut;
	unsigned status;           /* 0: no response head went out (reset, client gone) */
	uint64_t rx_bytes, tx_bytes; /* request body from / response body to the client */
	/* NUL-terminated copies (alog_copy), "" when absent */
	char method[ALOG_METHOD_MAX];
	char sni[ALOG_NAME_MAX], host[ALOG_NAME_MAX], route[ALOG_NAME_MAX];
	char path[ALOG_PATH_MAX];
};

/* Copy src (NULL: "") into dst[cap], cut at cap - 1 bytes; returns whether
 * it was cut. */
bool alog_copy(char *dst, size_t cap, const char *src);

/* The JSON string body of src[0 .. len) (no quotes) into dst[cap]: '"'
 * and '\\' backslashed, \b \f \n \r \t, other bytes below 0x20 and 0x7f as
 * \u00XX, well-formed UTF-8 sequences as they are, every other byte (a
 * stray continuation, an overlong form, a surrogate, beyond U+10FFFF, a
 * cut sequence) as \u00XX. Stops before a character that would not fit.
 * Returns the bytes written (dst is not NUL-terminated). */
size_t alog_escape(char *dst, size_t cap, const char *src, size_t len);

/* "2026-12-06T22:06:10.123Z" (RFC 3339, UTC, milliseconds) into out[25]
 * (NUL-terminated). Returns 24. */
size_t alog_time(char out[25], uint64_t wall_ns);

/* One line, '\n' included, into dst[cap]. Returns its length, or 0 when
 * cap < ALOG_LINE_MAX (a line may need that much). */
size_t alog_format(char *dst, size_t cap, const struct alog_rec *r);

struct alog {
	int fd;          /* -1: off (lines given to alog_add are discarded) */
	char *buf;       /* ALOG_BUF bytes */
	size_t len;      /* bytes of whole lines waiting */
	unsigned lines;  /* lines waiting */
	uint64_t written, dropped; /* lines */
};

/* The buffer (the one allocation), fd -1. 0 or -ENOMEM. */
int alog_init(struct alog *l);
void alog_fini(struct alog *l);
/* A new generation's fd (-1: off): what waits goes to the old one first. */
void alog_set_fd(struct alog *l, int fd);
/* Format r into the buffer; when it might not fit, flush first. */
void alog_add(struct alog *l, const struct alog_rec *r);
/* One write(2) of the waiting lines; nothing waiting: no syscall. */
void alog_flush(struct alog *l);

#endif
