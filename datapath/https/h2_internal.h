/* h2_internal: the connection and stream objects shared by h2.c (the
 * connection, nghttp2 callbacks, output queue) and h2_stream.c (the
 * handler-facing stream contract of h2.h). Not a public contract: only
 * these two files include it. */
#ifndef RG_DATAPATH_HTTPS_H2_INTERNAL_H
#define RG_DATAPATH_HTTPS_H2_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "datapath/https/h2.h"
#include "datapath/https/segq.h"

/* The stage holds copied control frames and DATA frame headers; a frame
 * bigger than what is left of it is referenced in nghttp2's own buffer. */
#define H2_STAGE 16384u
#define H2_SEGS 64u
#define H2_STREAM_IOV 8u
/* After a connection error: time given to the GOAWAY to leave. */
#define H2_LINGER_NS 1000000000ull

enum h2_state {
	H2_OPEN,      /* serving */
	H2_DRAINING,  /* graceful GOAWAY sent: streams in flight finish */
	H2_ENDING,    /* connection error: GOAWAY then close */
	H2_DEAD,      /* nothing more to read or write */
};

struct h2_stream {
	struct h2_conn *c;
	struct h2_stream *prev, *next;
	int32_t id;
	const struct h2_handler_ops *ops;
	void *h;
	/* header copy: NUL-terminated strings, allocated once at full size */
	char *hbuf;
	size_t hlen;
	size_t method_off, scheme_off, authority_off, path_off, host_off;
	struct quic_header *hdrs;
	unsigned n_hdrs, hdrs_cap;
	uint64_t hdr_bytes; /* decoded, RFC 9113 6.5.2 accounting (+32 each) */
	int64_t content_length;
	bool hdr_overflow, headers_done, responded, is_head, eof, deferred;
	bool body_ended, ng_closed;
	uint64_t close_code;
	size_t unconsumed; /* request body bytes given to body() and not consumed */
	/* response bytes read() returned and not yet framed */
	struct quic_iov iov[H2_STREAM_IOV];
	unsigned iov_i, iov_n;
	size_t iov_off;
	size_t queued; /* body bytes in the segment queue */
};

struct h2_conn {
	struct h2_params p;
	enum h2_state state;
	enum h2_end end;
	nghttp2_session *ng;
	nghttp2_mem mem;
	size_t mem_used;
	const char *sni;
	const rg_sockaddr *peer;
	struct h2_stream *streams;
	unsigned n_streams;
	uint64_t now, last_rx, deadline_at;
	uint64_t rx_frames, rx_bytes;
	/* header block accounting */
	uint64_t block_bytes;
	/* per-window abuse counters */
	uint64_t win_start;
	unsigned win_rst, win_empty;
	/* output */
	struct segq q;    /* over segs; body segments tagged with their stream */
	struct segq_seg segs[H2_SEGS];
	bool hold;        /* a segment points into nghttp2's buffer */
	size_t stage_len;
	uint8_t stage[H2_STAGE];
};

#endif
