/* h1conn_internal: the state h1conn.c (requests, bodies, timers, the
 * stream's lifecycle) and h1resp.c (output queue, response heads, chunk
 * framing, send iovecs) share. Not a public contract: only these two files
 * include it; everyone else uses h1conn.h.
 */
#ifndef RG_H1CONN_INTERNAL_H
#define RG_H1CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/https/h1conn.h"
#include "datapath/https/h1req.h"
#include "datapath/https/segq.h"


#define H1_BODY_WINDOW (256u * 1024u)
#define H1_SEGS 32u
#define H1_READ_IOV 8u
/* room for chunk framing per read() batch: "%zx\r\n" before, "\r\n" after,
 * "0\r\n\r\n" at the end */
#define H1_FRAME_ROOM 32u
#define H1_OUT_EXTRA 2048u

enum h1_state {
	H1S_IDLE,    /* between requests, no byte of the next head yet */
	H1S_HEAD,    /* reading a head (header_timeout runs) */
	H1S_REQ,     /* a request in flight */
	H1S_CLOSING, /* nothing more read: what is queued goes out, then DEAD */
	H1S_DEAD,
};

enum h1_body { B_NONE, B_LENGTH, B_CHUNKED };
enum h1_frame { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE };

struct h1_stream {
	struct h1_conn *c;
	const struct h1_handler_ops *ops;
	void *h;
	bool active;       /* between dispatch and close() */
	bool is_head, keep_alive;
	unsigned minor;
	/* request body */
	enum h1_body body;
	uint64_t body_left;
	struct h1chunk ck;
	bool body_done;    /* body_end() called (or no body) */
	size_t unconsumed;
	/* response */
	bool responded, ours; /* ours: the connection answered (error) */
	enum h1_frame frame;
	uint64_t resp_left;   /* F_LENGTH: bytes still expected */
	bool want_body;       /* read() is to be called */
	bool blocked;         /* read() said WOULDBLOCK, waiting for resume() */
	bool resp_done;       /* the whole response is queued */
	bool broken;          /* the body did not match its length: close after */
	uint64_t err;         /* non-zero: close() gets it; the connection ends */
};

struct h1_conn {
	struct h1_params p;
	enum h1_state state;
	enum h1_end end;
	const char *sni;
	const rg_sockaddr *peer;
	uint64_t now, deadline_base; /* when the current state's timer began */
	uint64_t shutdown_at;
	bool shutting, peer_eof;
	unsigned served; /* requests on this connection */
	int depth;       /* inside handler callbacks */
	struct h1_stream st;
	struct h1req pr;
	struct quic_header hdrs[H1REQ_MAX_FIELDS];
	/* input */
	uint8_t *in;
	size_t in_cap, in_len, in_off; /* in_off: leftover after the head */
	/* output */
	struct segq q; /* over segs; body segments tagged with &st */
	struct segq_seg segs[H1_SEGS];
	uint8_t *out;
	size_t out_cap, out_len;
};

/* h1conn.c: parse what the input buffer holds, and feed leftover body
 * bytes. */
void h1conn_pump(struct h1_conn *c);
/* h1conn.c: close the stream when nothing of it is left to do; go on with
 * the next request or end. Only outside callbacks. */
void h1conn_settle(struct h1_conn *c);
/* h1conn.c: an error of the stream in flight: answer with status if
 * nothing was answered yet (0: never), close. */
void h1conn_stream_fail(struct h1_conn *c, uint64_t err, unsigned status, const char *why);

/* h1resp.c: drop everything queued (the connection dies). */
void h1resp_drop_queue(struct h1_conn *c);
/* h1resp.c: true when handler body bytes are still queued. */
bool h1resp_body_queued(const struct h1_conn *c);
/* h1resp.c: the connection's own answer (status, small text body) and
 * Connection: close; state goes CLOSING, or DEAD when it does not fit. */
void h1resp_answer_and_close(struct h1_conn *c, unsigned status, const char *why);
/* h1resp.c: queue "100 Continue" (RFC 9110 10.1.1), if it fits. */
void h1resp_continue(struct h1_conn *c);

#endif
