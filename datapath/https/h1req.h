/* h1req: the strict HTTP/1.1 request parser of the TCP front end
 * (RFC 9112). Sans-IO and allocation-free: bytes in, a verdict out.
 *
 * Written by hand for the same reason as proxy/http1.c (no packaged C
 * parser in Debian 12 with fixed memory and these refusals), and strict on
 * purpose: a proxy that reads a request differently from the backend
 * behind it is how requests are smuggled (RFC 9112 11.2). Everything that
 * could be read two ways is refused with 400 and the connection closed:
 *   obs-fold (5.2), a bare CR or a bare LF (2.2), whitespace before the
 *   colon (5.1), a field name that is not a token, a value with a control
 *   character (NUL included), Content-Length that is not one run of digits
 *   or appears twice (6.3 point 5; even "5" twice: nothing ambiguous is
 *   forwarded), Transfer-Encoding together with Content-Length (6.1),
 *   Transfer-Encoding other than exactly "chunked" (a coding list, or
 *   chunked not last: 6.3 point 4), Transfer-Encoding in HTTP/1.0, a
 *   missing or repeated Host in HTTP/1.1 (3.2), a request target that is
 *   not origin-form (or "*" for OPTIONS), a version other than 1.0/1.1,
 *   an Expect other than 100-continue (417, RFC 9110 10.1.1).
 * A head over max_bytes or with more than H1REQ_MAX_FIELDS fields: 431.
 *
 * The head must be in one contiguous buffer (the connection's read
 * buffer); h1req_parse() is called again with the same buffer grown, and
 * resumes where the previous call's complete lines ended. */
#ifndef RG_HTTPS_H1REQ_H
#define RG_HTTPS_H1REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H1REQ_MAX_FIELDS 100
#define H1REQ_MAX_CHUNK_LINE 4096 /* chunk-size line with extensions, trailer lines */

enum h1req_verdict {
	H1REQ_NEED_MORE = 0, /* no complete head yet */
	H1REQ_HEAD,          /* the head is complete: out fields are valid */
	H1REQ_ERROR,         /* refuse: p->error, status h1req_status() */
};

/* Why a request was refused; the order is the metrics' label order. */
enum h1req_error {
	H1REQ_OK = 0,
	H1REQ_E_REQUEST_LINE,   /* not "method SP origin-form SP HTTP/1.x" */
	H1REQ_E_VERSION,        /* HTTP version other than 1.0 / 1.1 (505) */
	H1REQ_E_BARE_CR,        /* CR not followed by LF */
	H1REQ_E_BARE_LF,        /* LF not preceded by CR */
	H1REQ_E_OBS_FOLD,       /* a line starting with SP or HTAB */
	H1REQ_E_FIELD_NAME,     /* empty, not a token, or whitespace before ':' */
	H1REQ_E_FIELD_VALUE,    /* a control character in a value */
	H1REQ_E_CONTENT_LENGTH, /* not digits, too large, or repeated */
	H1REQ_E_TE_AND_CL,      /* Transfer-Encoding with Content-Length */
	H1REQ_E_TRANSFER_ENCODING, /* anything but exactly "chunked" */
	H1REQ_E_HOST,           /* HTTP/1.1 without exactly one valid Host */
	H1REQ_E_EXPECT,         /* Expect other than 100-continue (417) */
	H1REQ_E_TOO_LARGE,      /* head over max_bytes (431) */
	H1REQ_E_TOO_MANY,       /* over H1REQ_MAX_FIELDS fields (431) */
	H1REQ_E_CHUNK,          /* bad chunked body framing */
	H1REQ_E_MAX
};

struct h1req_field {
	const char *name, *value; /* into the caller's buffer; value trimmed */
	uint32_t name_len, value_len;
};

struct h1req {
	/* parser state (h1req_init) */
	size_t scan;         /* complete lines validated up to here */
	size_t start;        /* the request line begins here (leading CRLFs skipped) */
	bool line_done;      /* the request line was validated */
	enum h1req_error error;

	/* results, valid after H1REQ_HEAD until the buffer changes */
	size_t head_len;     /* bytes of the head, final CRLF included */
	const char *method, *target;
	uint32_t method_len, target_len;
	unsigned minor;      /* HTTP/1.minor */
	struct h1req_field fields[H1REQ_MAX_FIELDS];
	unsigned n_fields;
	const char *host;    /* NULL when absent (HTTP/1.0) */
	uint32_t host_len;
	int64_t content_length; /* -1 absent */
	bool chunked;
	bool keep_alive;     /* the connection may carry another request */
	bool expect_continue;
};

void h1req_init(struct h1req *p);
/* buf[0..len) holds the connection's unparsed bytes from the request's
 * first one; max_bytes the head limit. */
enum h1req_verdict h1req_parse(struct h1req *p, const uint8_t *buf, size_t len, size_t max_bytes);
/* The status to answer a refusal with: 400, 417, 431 or 505. */
unsigned h1req_status(enum h1req_error e);
/* A short name for logs and metrics labels ("obs_fold"). */
const char *h1req_error_name(enum h1req_error e);

/* ---- chunked request bodies (RFC 9112 7.1) ---- */
enum h1chunk_state {
	H1C_SIZE = 0, /* in a chunk-size line */
	H1C_DATA,     /* chunk data, `left` bytes to go */
	H1C_DATA_CR,  /* the CRLF after the data */
	H1C_DATA_LF,
	H1C_TRAILER,  /* trailer section lines (validated, dropped) */
	H1C_DONE,
};

struct h1chunk {
	enum h1chunk_state state;
	uint64_t left;
	uint64_t size;      /* of the chunk-size line being read */
	unsigned digits, line_len;
	bool in_ext, saw_cr, line_empty;
};

enum h1chunk_event {
	H1C_NEED_MORE = 0, /* all input consumed */
	H1C_BODY,          /* *data, *dlen: body bytes inside the input */
	H1C_END,           /* the body (and trailers) ended */
	H1C_ERROR,         /* H1REQ_E_CHUNK: close the connection */
};

void h1chunk_init(struct h1chunk *c);
/* Consume from in[0..len): *used bytes taken; stops at the first event. */
enum h1chunk_event h1chunk_feed(struct h1chunk *c, const uint8_t *in, size_t len, size_t *used,
                                const uint8_t **data, size_t *dlen);

#endif
