/* Internal types of datapath/quic, shared by its files only. */
#ifndef RG_QUIC_INTERNAL_H
#define RG_QUIC_INTERNAL_H

#include <stdatomic.h>
#include <stdio.h>

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "datapath/quic/cid.h"
#include "datapath/quic/quic.h"

#define QUIC_MAX_GSO_SEGS 64          /* UDP_SEGMENT limit the kernel accepts */
#define QUIC_MAX_PKT 1500             /* largest datagram we build */
#define QUIC_RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)
#define QUIC_STREAM_WINDOW QUIC_STREAM_WINDOW_MAX /* per request stream */
/* ngtcp2's ECN testing budget (NGTCP2_ECN_MAX_NUM_VALIDATION_PKTS in
 * ngtcp2_conn.h, after RFC 9000 A.4's testing state) */
#define QUIC_ECN_TESTING_PKTS 10
#define QUIC_CONN_WINDOW (4 * 1024 * 1024) /* per connection */
#define QUIC_SCIDS_PER_CONN 8         /* active_connection_id_limit we accept */
#define QUIC_MAX_HEADER_BYTES 16384   /* request header section we copy */
#define QUIC_QLOG_BUF (64 * 1024)     /* stdio buffer of a qlog file */
#define QUIC_QLOG_MAX_BYTES (256ull << 20) /* a qlog file stops growing here */

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* RFC 9000 10.2: closing and draining last three times the PTO. */
enum quic_conn_state {
	QUIC_CONN_HANDSHAKE,   /* counted against the backlog */
	QUIC_CONN_ESTABLISHED,
	QUIC_CONN_CLOSING,     /* CONNECTION_CLOSE sent; we answer with it again */
	QUIC_CONN_DRAINING,    /* peer closed; we send nothing */
};

/* An ALPN id as both libraries take it (gnutls_datum_t's layout). */
struct quic_alpn_id {
	unsigned char *data;
	unsigned size;
};

struct quic_conn {
	struct quic_server *srv;
	ngtcp2_crypto_conn_ref conn_ref; /* TLS session's app data -> this */
	ngtcp2_conn *conn;
	void *tls;                       /* the backend's session (tls/) */
	nghttp3_conn *h3;
	enum quic_conn_state state;
	struct quic_vhost_set *vset;     /* referenced for the connection's life */
	const struct tls_vhost *vhost;   /* chosen by SNI in the client hello */
	bool sni_refused;
	bool anti_port_scan;             /* the server's setting when accepted */
	rg_sockaddr local;               /* where the first Initial was sent to:
	                                    picks the vhosts bound there */
	enum quic_app app;               /* from the negotiated ALPN */
	bool in_write;                   /* re-entrancy guard for resume() */
	ngtcp2_cid odcid;                /* client's first DCID, in the table
	                                    until the handshake completes */
	bool odcid_in_table;
	uint64_t deadline;               /* heap key, RG_NO_DEADLINE: none */
	size_t heap_idx;
	bool pending;                    /* on the server's write-now list */
	struct quic_conn *pend_prev, *pend_next;
	uint64_t close_deadline;         /* end of closing/draining */
	ngtcp2_ccerr last_error;
	uint8_t *close_pkt;              /* CONNECTION_CLOSE kept for the closing period */
	size_t close_len;
	unsigned close_rx, close_next;   /* closing: packets seen, answer at */
	struct quic_stream *streams;     /* all open streams */
	struct quic_conn *prev, *next;   /* server's list of connections */
	rg_sockaddr peer;                /* for quic_request.peer */
	bool early_offered;              /* the ClientHello carried early_data */
	bool rx_0rtt;                    /* stream data being read came in 0-RTT */
	FILE *qlog;                      /* NULL: qlog off or failed */
	uint64_t qlog_bytes;
	/* issue 18 */
	uint64_t max_streams_bidi;       /* the server's setting when accepted */
	uint32_t versions[QUIC_MAX_VERSIONS]; /* settings.preferred_versions points here */
	bool counted_v2;                 /* conns_v2 counted */
	/* ECN (RFC 9000 13.4.2): ngtcp2 marks the first packets of a path
	 * while it tests it, stops until the ACKs' ECN counts validate it,
	 * then marks again; a failed path stays unmarked. So ECT marks past
	 * the testing budget mean a validated path. Reset on a new path. */
	uint32_t ecn_marked;             /* ECT packets sent on the current path */
	bool ecn_validated;              /* counted in ecn_validated_paths */
	/* issue 9 §3: the client certificate, verified against the vhost's
	 * client_ca during the handshake and kept here at its end (the TLS
	 * session is released after it, issue 17): subject RFC 4514
	 * (malloc'd, NULL: none) and SHA-256 in lowercase hex */
	bool peer_cert_ok;
	char *cert_subject;
	char cert_sha256[65];
	/* issue 20: the group (enum tls_group_idx) and resumption of the
	 * finished handshake, for the access log (quic_request.tls_*) */
	uint8_t tls_group;
	bool tls_resumed;
};

struct quic_stream {
	struct quic_conn *qc;
	int64_t id;
	struct quic_stream *prev, *next;
	const struct quic_handler_ops *ops;
	void *h;
	bool responded, body_ended, headers_done, closed;
	/* request header section copied here: pseudo-headers and the rest */
	char *hbuf;
	size_t hlen, hcap;
	struct quic_header *hdrs;
	unsigned n_hdrs, hdrs_cap;
	size_t method_off, scheme_off, authority_off, path_off; /* SIZE_MAX: absent */
	int64_t content_length;
	bool hdr_overflow;
	bool early;                      /* header bytes came in 0-RTT */
};

struct quic_server {
	struct quic_params p;
	/* ALPN ids offered to new connections, in preference order */
	char alpn_ids[QUIC_ALPN_MAX][QUIC_ALPN_MAX_LEN + 1];
	struct quic_alpn_id alpn[QUIC_ALPN_MAX];
	unsigned n_alpn;
	uint8_t static_secret[QUIC_STATIC_SECRET_LEN];
	struct quic_vhost_set *vset; /* for new connections */
	void *tls_ctx;               /* the backend's per-server state (tls/) */
	struct quic_cid_table cids;
	struct quic_conn **heap;
	size_t heap_len, heap_cap;
	struct quic_conn *pend_head, *pend_tail; /* write-now list (heap.c) */
	unsigned n_pending;
	struct quic_conn *conns; /* list of all, for destroy */
	bool draining;           /* quic_server_drain: no new connections */
	unsigned n_conns;
	struct quic_counters ctr;
	uint8_t ticket_key[QUIC_TICKET_KEY_LEN];
	void *anti_replay; /* the process's (tls/replay.c); NULL: no 0-RTT */
	char *qlog_dir;                   /* NULL: off */
	uint64_t reset_tokens, reset_refill_at; /* stateless reset token bucket */
	/* the call in progress (recv / handle_expiry): callbacks use these */
	const struct quic_tx *tx;
	uint64_t now;
};

/* n random bytes from the server's source (quic_params.rng); 0 or -EIO. */
static inline int quic_rand(const struct quic_server *srv, void *buf, size_t n)
{
	return srv->p.rng.fill(srv->p.rng.ctx, buf, n) < 0 ? -EIO : 0;
}

/* server.c: is v one of the versions [quic] offers (srv->p.versions)? */
bool quic_version_offered(const struct quic_server *srv, uint32_t v);

/* heap.c: the worker's min-heap of connection deadlines */
RG_MUST_CHECK int quic_heap_push(struct quic_server *srv, struct quic_conn *c);
void quic_heap_update(struct quic_server *srv, struct quic_conn *c, uint64_t deadline);
void quic_heap_remove(struct quic_server *srv, struct quic_conn *c);
/* heap.c: the write-now list, what "something to send" means (not a
 * deadline): the next quic_server_flush(), at the end of the worker's loop
 * turn, writes each connection on it. add: append unless already there (a
 * connection is written once per flush however often it is scheduled);
 * del: take out if there; pop: the oldest, NULL when empty. */
void quic_pending_add(struct quic_server *srv, struct quic_conn *c);
void quic_pending_del(struct quic_server *srv, struct quic_conn *c);
struct quic_conn *quic_pending_pop(struct quic_server *srv);

/* tls/replay.c: the process-wide 0-RTT anti-replay window, reference
 * counted; *out is the backend's handle (tls.h tls_replay_acquire). */
static inline int quic_replay_acquire(const struct quic_wall_clock *clk, void **out)
{
	struct tls_wall_clock w = {.now = clk->now, .ctx = clk->ctx};
	return tls_replay_acquire(&w, out);
}
#define quic_replay_release tls_replay_release

/* Count a completed handshake under its group's name (either library's
 * spelling). */
static inline void quic_count_group(struct quic_server *srv, const char *group)
{
	srv->ctr.tls_groups[tls_group_index(group)]++;
}

/* The QUIC crypto hooks, implemented by the TLS backend (tls/gnutls.c or
 * tls/openssl.c) over ngtcp2_crypto_*. */
RG_MUST_CHECK int quic_tls_init(struct quic_server *srv);
/* At handshake completion: send a session ticket, count resumption,
 * early data and the key-exchange group. 0 or negative errno. */
int quic_tls_handshake_done(struct quic_conn *c);
void quic_tls_free(struct quic_server *srv);
RG_MUST_CHECK int quic_tls_session_new(struct quic_server *srv, struct quic_conn *c);
/* The connection's TLS session (c->tls), NULL fine. */
void quic_tls_session_free(struct quic_conn *c);
/* After the handshake completed (its ticket already handed to ngtcp2,
 * which copies CRYPTO data): free the TLS session if the backend needs it
 * no more. In QUIC a client sends no TLS message after its Finished (RFC
 * 9001 6: no KeyUpdate; 4.4: no post-handshake authentication), key
 * updates run on ngtcp2's own crypto context, and the Handshake keys are
 * gone, so the session is dead weight: with gnutls about 14 KB of each
 * idle connection's 56 KB (heaptrack, issue 17). c->tls is NULL after it
 * did; 1-RTT CRYPTO data then ends the connection (conn.c). Called
 * outside any TLS call. */
void quic_tls_release(struct quic_conn *c);

/* conn.c */
enum quic_conn_verdict {
	QUIC_CONN_OK,
	QUIC_CONN_FREED, /* the connection is gone */
	QUIC_CONN_REFUSED, /* new connection refused (no packet was sent) */
	QUIC_CONN_RETRY,   /* ngtcp2 wants a Retry for this Initial */
};
RG_MUST_CHECK int quic_conn_new(struct quic_server *srv, const struct ring_dgram *d,
                  const ngtcp2_pkt_hd *hd, const ngtcp2_cid *ocid,
                  ngtcp2_token_type token_type, struct quic_conn **out);
enum quic_conn_verdict quic_conn_read(struct quic_conn *c, const struct ring_dgram *d);
/* After reading or on expiry: write what can be written, re-arm the deadline. */
enum quic_conn_verdict quic_conn_write(struct quic_conn *c);
enum quic_conn_verdict quic_conn_expire(struct quic_conn *c);
void quic_conn_close(struct quic_conn *c, uint64_t app_error);
void quic_conn_free(struct quic_conn *c);
size_t quic_addr_len(const rg_sockaddr *a);
/* Send one ready-made datagram through srv->tx. -ENOBUFS when no space.
 * Every failure is counted where it happens (QUIC_DROP_TX_FULL here,
 * RING_DROP_SEND_ERR in the ring), and what is lost is lost as on the wire,
 * so a caller may go on without looking at the result. */
int quic_send_dgram(struct quic_server *srv, unsigned sock, const rg_sockaddr *to,
                    const rg_sockaddr *from, const uint8_t *pkt, size_t len);

/* h3.c */
int quic_h3_setup(struct quic_conn *c);
void quic_h3_free(struct quic_conn *c);
/* ngtcp2's stream callbacks, in conn.c's callback table: each exists only
 * to hand the stream event to nghttp3, so it lives beside nghttp3's. 0, or
 * NGTCP2_ERR_CALLBACK_FAILURE after the connection was given its HTTP/3
 * error (before the HTTP/3 setup, stream events are ignored). */
int quic_h3_recv_stream_data(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t offset,
                             const uint8_t *data, size_t len, void *user_data, void *sud);
int quic_h3_acked_stream_data_offset(ngtcp2_conn *conn, int64_t id, uint64_t offset, uint64_t len,
                                     void *user_data, void *sud);
int quic_h3_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t id, uint64_t app_error,
                         void *user_data, void *sud);
int quic_h3_stream_reset(ngtcp2_conn *conn, int64_t id, uint64_t final_size, uint64_t app_error,
                         void *user_data, void *sud);
int quic_h3_stream_stop_sending(ngtcp2_conn *conn, int64_t id, uint64_t app_error, void *user_data,
                                void *sud);
int quic_h3_extend_max_remote_streams_bidi(ngtcp2_conn *conn, uint64_t max, void *user_data);
int quic_h3_extend_max_stream_data(ngtcp2_conn *conn, int64_t id, uint64_t max, void *user_data,
                                   void *sud);
/* One packet: nghttp3 data + ngtcp2 framing. Returns bytes written, 0 when
 * nothing to send, or an ngtcp2 error (NGTCP2_ERR_CALLBACK_FAILURE with
 * c->last_error set for HTTP/3 errors). *pi gets the packet's ECN
 * codepoint (pi->ecn, RFC 9000 13.4). */
ngtcp2_ssize quic_h3_write_pkt(struct quic_conn *c, ngtcp2_path *path, ngtcp2_pkt_info *pi,
                               uint8_t *dst, size_t cap, uint64_t now);

#endif
