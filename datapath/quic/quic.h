/* quic: QUIC + HTTP/3 termination for one worker (ngtcp2, nghttp3, gnutls).
 *
 * A quic_server belongs to one worker thread and is used by that thread only
 * (no locks, shared nothing). It owns no socket and no clock: datagrams come
 * in with quic_server_recv() together with `now`, datagrams go out through
 * the caller's struct quic_tx, and the caller owns the one timer, armed for
 * quic_server_next_expiry() and serviced with quic_server_handle_expiry().
 * Writes are not timers: the caller calls quic_server_flush() once at the
 * end of each loop turn.
 * The signatures of quic_tx_ops match ring_send_prep / ring_send_commit so a
 * worker maps them onto its ring with two one-line wrappers.
 *
 * Time: `now` is CLOCK_MONOTONIC nanoseconds (ring_now()); all workers of a
 * process share that clock, which matters for Retry tokens minted by one
 * worker and checked by another.
 *
 * Errors: functions return 0 or a negative errno. Per-datagram outcomes are
 * not errors: they are verdicts, counted in struct quic_counters.
 */
#ifndef RG_QUIC_H
#define RG_QUIC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring/ring.h" /* rg_sockaddr, struct ring_dgram (types only) */
#include "tls/tls.h" /* the vhost set, credentials by SNI */

#define QUIC_STATIC_SECRET_LEN 32
/* Connections per server ([quic] max_connections) when params say 0, and
 * the most CID table entries allocated before the first client (about
 * 16 MB per worker; the table grows past it). */
#define QUIC_MAX_CONNS_DEFAULT 4096u
#define QUIC_CID_PRESIZE_MAX ((size_t)1 << 18)
/* Session ticket master key (gnutls_session_ticket_key_generate's size;
 * the OpenSSL backend derives its ticket keys from it). */
#define QUIC_TICKET_KEY_LEN 64
/* [quic] versions: v1 and v2 at most. */
#define QUIC_MAX_VERSIONS 2
/* The largest per-stream window: the built-in responder and the proxy
 * hold one stream window of request body (exchange.h PEX_REQ_BUF). */
#define QUIC_STREAM_WINDOW_MAX (256 * 1024)

/* ---- sending ----
 * prep: space for one datagram, or for a GSO buffer of equal-size segments,
 *       of up to `cap` bytes; NULL when the batch of this turn is full. Only
 *       the latest prep is valid; the module commits or abandons it before
 *       the next prep.
 * commit: `len` bytes at the last prep pointer go to `to` from `from` (the
 *       local address the peer used; may be NULL) on socket `sock`. `seg` is
 *       0 for one datagram, else the segment size of a GSO buffer (every
 *       segment `seg` bytes except a shorter last one).
 * When prep returns NULL the module stops writing for that connection and
 * keeps it on the write-now list (quic_server_wants_write() stays true), so
 * nothing is lost: QUIC retransmits what it must. */
struct quic_tx_ops {
	uint8_t *(*prep)(void *ctx, size_t cap);
	int (*commit)(void *ctx, unsigned sock, const rg_sockaddr *to,
	              const rg_sockaddr *from, size_t len, size_t seg) RG_MUST_CHECK;
	/* Optional (NULL: commit, every datagram ECN 0): commit with the
	 * ECN codepoint (RFC 3168, the low two bits of the TOS / traffic
	 * class) that every datagram of the buffer carries (issue 18). */
	int (*commit_ecn)(void *ctx, unsigned sock, const rg_sockaddr *to,
	                  const rg_sockaddr *from, size_t len, size_t seg,
	                  uint8_t ecn) RG_MUST_CHECK;
};

struct quic_tx {
	const struct quic_tx_ops *ops;
	void *ctx;
};

/* ---- HTTP/3 requests ----
 * A quic_stream is one request/response exchange. The server calls
 * params.on_request when a request's header section is complete. The callee
 * either answers at once (quic_stream_respond with body or not), or attaches
 * a handler (quic_stream_attach) that receives the request body and produces
 * the response body, or resets the stream. */
struct quic_stream;

struct quic_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct quic_request {
	/* NUL-terminated, owned by the stream, valid until the handler's close. */
	const char *method, *scheme, *authority, *path;
	/* Regular header fields (pseudo-headers excluded), valid only during
	 * on_request. */
	const struct quic_header *headers;
	unsigned n_headers;
	int64_t content_length; /* -1 when absent */
	bool has_body;          /* false when the HEADERS frame ended the stream */
	const char *sni;        /* the vhost name this connection was accepted for */
	const rg_sockaddr *peer;
	unsigned worker_id;
	/* Part of the request's header section arrived in 0-RTT (TLS early
	 * data): it may be a replay (RFC 8446 8, RFC 9001 9.2). A route that
	 * does not allow 0-RTT answers 425 Too Early (RFC 8470 5.2); the client
	 * then retries after the handshake. Only possible with zero_rtt on. */
	bool early_data;
	/* The client certificate the TLS layer verified against the vhost's
	 * client_ca (issue 9 §3): its subject (RFC 4514) and SHA-256
	 * fingerprint (64 lowercase hex digits), NUL-terminated, valid during
	 * on_request; NULL when the client sent none or the vhost has
	 * client_auth off. The proxy sends them as X-Client-Cert-Subject /
	 * X-Client-Cert-Sha256 and always drops the client's own copies. */
	const char *client_cert_subject, *client_cert_sha256;
	/* The connection's TLS facts, for the access log (issue 20 §2): its
	 * version ("TLSv1.3") and key-exchange group (tls.h
	 * tls_group_label(), the ringgate_tls_handshakes_total label), both
	 * static strings, NULL on plain HTTP; whether a ticket resumed it.
	 * Set once per connection at the end of its handshake. */
	const char *tls_version, *tls_group;
	bool tls_resumed;
};

struct quic_iov {
	const uint8_t *base;
	size_t len;
};

/* read() returns this when no body bytes are ready yet; the handler calls
 * quic_stream_resume() when they are. */
#define QUIC_BODY_WOULDBLOCK (-EAGAIN)

/* Each operation gets only the handle given to quic_stream_attach(): a
 * handler that needs its stream keeps it there. So the proxy's front-seam
 * events (datapath/proxy/front.h, proxy_front_body() ...) are these
 * operations as they are, with no adapter between nghttp3's callback and
 * the exchange. */
struct quic_handler_ops {
	/* Request body bytes, valid only during the call. They keep counting
	 * against the peer's flow-control window until the handler calls
	 * quic_stream_consume(): that is the back-pressure. Return 0, or a
	 * negative errno to reset the stream. */
	int (*body)(void *h, const uint8_t *data, size_t len);
	/* The request body ended (FIN). */
	void (*body_end)(void *h);
	/* Response body: fill up to `n` iovecs, return how many (0 is allowed
	 * only with *eof), QUIC_BODY_WOULDBLOCK, or another negative errno (the
	 * stream is reset). Set *eof on the last chunk. The bytes must stay
	 * valid and unchanged until acked() reports them delivered. */
	ssize_t (*read)(void *h, struct quic_iov *iov, unsigned n, bool *eof);
	/* `n` more response body bytes were acknowledged by the peer, in order. */
	void (*acked)(void *h, uint64_t n);
	/* The exchange is over (completed, reset, or connection gone); the
	 * stream pointer is invalid after this returns. `app_error` is the
	 * HTTP/3 error code (0x100 H3_NO_ERROR on success). */
	void (*close)(void *h, uint64_t app_error);
};

/* Return 0, or a negative errno to reset the stream (H3_INTERNAL_ERROR). */
typedef int (*quic_request_fn)(void *ctx, struct quic_stream *s,
                               const struct quic_request *req);

/* Attach a handler; only from on_request. */
void quic_stream_attach(struct quic_stream *s, const struct quic_handler_ops *ops, void *h);
/* Submit the response header section. With `with_body` the body comes from
 * the attached handler's read(); without, the stream ends after the headers.
 * -EINVAL on bad arguments, -EALREADY when already responded, -ENOMEM. */
RG_MUST_CHECK int quic_stream_respond(struct quic_stream *s, unsigned status,
                        const struct quic_header *hdrs, unsigned n, bool with_body);
/* Response body data became available after read() said WOULDBLOCK. Safe to
 * call outside any callback: the connection goes on the write-now list,
 * written by the next quic_server_flush(). When nghttp3 cannot resume the
 * stream (out of memory) the stream is reset with H3_INTERNAL_ERROR here, and
 * its handler hears of it as of any reset: nothing is left for the caller to
 * handle, and a stalled stream is never the outcome. */
void quic_stream_resume(struct quic_stream *s);
/* `n` request body bytes were processed: give the peer that much credit. */
void quic_stream_consume(struct quic_stream *s, size_t n);
/* Abort the exchange in both directions with an HTTP/3 error code. */
void quic_stream_reset(struct quic_stream *s, uint64_t app_error);

/* ---- server ---- */

/* The vhosts' credentials by SNI are the TLS seam's (tls/tls.h): these
 * names stay as aliases of tls_* until every user says tls_* (the HTTPS
 * front end of issue 9 uses quic_vset_name/quic_vset_cred). A vhost's
 * credential is the backend's type (gnutls_certificate_credentials_t on
 * the gnutls build, SSL_CTX * on the OpenSSL build). */
#define quic_vhost_params tls_vhost_params
#define quic_vhost_set tls_vhost_set
#define quic_vset_load tls_vset_load
#define quic_vset_get tls_vset_get
#define quic_vset_put tls_vset_put
#define quic_vset_count tls_vset_count
#define quic_vset_name tls_vset_name
#define quic_vset_cred tls_vset_cred

/* Randomness and wall clock of a server (STYLE.md convention 1: they come
 * in at init, so a test can make them deterministic; the worker hands in
 * its own, datapath/worker.c). fill: n random bytes into buf, 0 or -errno.
 * NULL fill: the TLS backend's generator (tls_random). */
struct quic_rng {
	int (*fill)(void *ctx, void *buf, size_t n);
	void *ctx;
};
/* Wall-clock seconds since the epoch: the 0-RTT anti-replay record's
 * expiry (replay.c; gnutls gives expiries in the same clock). NULL now:
 * the system clock (time(NULL)). The window is shared by every server of the process, so the
 * first server to turn 0-RTT on sets it for all. */
struct quic_wall_clock {
	uint64_t (*now)(void *ctx);
	void *ctx;
};

enum quic_retry_mode {
	QUIC_RETRY_OFF = 0,
	QUIC_RETRY_ON,   /* every new connection validates its address first */
	QUIC_RETRY_AUTO, /* Retry once half the handshake backlog is in use */
};

struct quic_params {
	const struct quic_vhost_params *vhosts; /* the first is the default for
	                                           clients that send no SNI */
	unsigned n_vhosts;
	/* Non-NULL: the credentials already loaded for these vhosts (a
	 * configuration generation's); the server takes a reference and reads
	 * no file, and vhosts may be NULL. NULL: the server loads vhosts' files. */
	struct quic_vhost_set *vset;
	struct quic_rng rng;         /* fixed at create */
	struct quic_wall_clock wall; /* fixed at create */
	/* ALPN protocol ids offered, in the server's order of preference
	 * (RFC 7301 3.2: the server picks the first of these the client
	 * also offers); each must be one quic_alpn_served() accepts.
	 * n_alpn 0: {"h3"}. Copied. */
	const char *const *alpn;
	unsigned n_alpn;
	uint64_t idle_timeout_ns;  /* 0: 30 s */
	unsigned backlog;          /* handshakes in progress; 0: 1024 */
	unsigned max_conns;        /* per server; 0: QUIC_MAX_CONNS_DEFAULT.
	                              Reloadable (a limit, no table is fixed) */
	enum quic_retry_mode retry;
	bool anti_port_scan;       /* unknown or missing SNI: drop silently */
	unsigned worker_id;        /* < QUIC_CID_MAX_WORKERS */
	unsigned n_workers;
	const uint8_t *static_secret; /* QUIC_STATIC_SECRET_LEN bytes, the same
	                                 in every worker: Retry tokens, stateless
	                                 reset tokens */
	uint32_t stateless_reset_rate; /* per second; 0: 100 */
	quic_request_fn on_request;    /* NULL: the built-in responder */
	void *request_ctx;
	/* Called with request_ctx when h3 answers a request itself, before
	 * on_request (400 no :method or :path, 431 field section too large,
	 * 425 0-RTT on a client_auth vhost): req holds what is known (NULL
	 * strings: not known), for the access log. NULL: nothing called. */
	void (*on_answer)(void *ctx, const struct quic_request *req, unsigned status);
	/* A packet for a CID that another worker owns (short header, or a
	 * long header that is not a new Initial). NULL: drop and count
	 * QUIC_DROP_OTHER_WORKER. The datagram is valid only during
	 * the call (copy it to hand it off). */
	int (*on_foreign)(void *ctx, const struct ring_dgram *d, unsigned owner);
	/* on_foreign returns 0 when the datagram was handed off (counted
	 * handoffs_sent), or a negative errno when it was dropped (counted
	 * handoffs_dropped: the owner's channel is full, or no such worker).
	 * The owner feeds it to quic_server_recv_handoff(). */
	void *foreign_ctx;
	bool debug_log;           /* ngtcp2's own debug log on stderr */

	/* ---- resumption, 0-RTT, tokens, qlog ---- */
	/* Session tickets are always issued (one per handshake) and accepted:
	 * gnutls encrypts them under keys derived from this master key with a
	 * time-based rotation (gnutls stek.c: the key of period
	 * floor(wall clock / QUIC_TICKET_LIFETIME_S), tickets of the current
	 * and the previous period accepted). QUIC_TICKET_KEY_LEN bytes, the
	 * same in every worker; NULL: derived from static_secret (HMAC-SHA512
	 * with a label), which already is. */
	const uint8_t *ticket_key;
	/* Accept 0-RTT (TLS early data) on resumed connections. Replays are
	 * refused by one anti-replay window shared by all the servers of the
	 * process (ClientHellos recorded for QUIC_ANTI_REPLAY_WINDOW_S). */
	bool zero_rtt;
	/* Directory for one qlog file (JSON-SEQ, RFC 7464) per connection,
	 * named <ODCID in hex>.sqlog; NULL or "": off. Copied. */
	const char *qlog_dir;

	/* ---- versions, transport parameters, preferred address (issue 18) ----
	 * All reloadable: connections accepted from then on take them. */
	/* QUIC versions offered, most preferred first (RFC 9368 compatible
	 * version negotiation: a v1 client that also offers v2 is moved to the
	 * first of these it supports; Version Negotiation packets list them).
	 * Each QUIC_VERSION_V1 or QUIC_VERSION_V2, no repeats; n_versions 0:
	 * {v2, v1}. Held in the struct (no pointer to keep alive). */
	uint32_t versions[QUIC_MAX_VERSIONS];
	unsigned n_versions;
	uint64_t max_streams_bidi;        /* request streams; 0: 100 */
	uint64_t max_streams_uni;         /* 0: 3, at least 3 (RFC 9114 6.2) */
	uint64_t initial_max_data;        /* connection window; 0: 4 MiB */
	uint64_t initial_max_stream_data; /* per stream, <= QUIC_STREAM_WINDOW_MAX; 0: that */
	/* A handshake not done this long after the first Initial is dropped.
	 * 0: twice the idle timeout (a lossy path may need many PTOs; the
	 * idle timeout already bounds a silent peer; gtlsserver has no cap). */
	uint64_t handshake_timeout_ns;
	/* RFC 9000 9.6 / 18.2 preferred_address: family 0: none. The server
	 * must receive on it (a [quic] listener). Its CID encodes the worker
	 * like every CID of ours (cid.h), so the reuseport steering and the
	 * hand-off find the connection after the client moves. Not offered to
	 * a connection that already arrived on that address. */
	rg_sockaddr preferred_addr;
};

/* Supported QUIC versions (RFC 9000, RFC 9369 3.1). */
#define QUIC_VERSION_V1 0x00000001u
#define QUIC_VERSION_V2 0x6b3343cfu

/* Ticket lifetime and ticket key rotation period (seconds). */
#define QUIC_TICKET_LIFETIME_S 3600
/* NEW_TOKEN tokens are valid this long (seconds of the monotonic clock:
 * the static secret, hence every token, dies with the process). */
#define QUIC_NEW_TOKEN_LIFETIME_S 3600
#define QUIC_ANTI_REPLAY_WINDOW_S 10

/* Why a datagram was dropped (every one counted). */
enum quic_drop {
	QUIC_DROP_BAD_PACKET,      /* unparseable header */
	QUIC_DROP_UNKNOWN_VERSION, /* answered with Version Negotiation */
	QUIC_DROP_NO_CONN,         /* short header, unknown CID (maybe reset sent) */
	QUIC_DROP_NOT_INITIAL,     /* long header, unknown CID, not an acceptable Initial */
	QUIC_DROP_BACKLOG,         /* handshake backlog full */
	QUIC_DROP_CONN_LIMIT,      /* max_conns reached */
	QUIC_DROP_RETRY_SENT,      /* Initial without token, answered with Retry */
	QUIC_DROP_BAD_TOKEN,       /* Retry token invalid/expired (close sent) */
	QUIC_DROP_ANTI_PORT_SCAN,  /* unknown SNI, silently refused */
	QUIC_DROP_OTHER_WORKER,    /* CID owned by another worker, no hand-off */
	QUIC_DROP_CONN_READ,       /* ngtcp2 rejected the packet for a connection */
	QUIC_DROP_CLOSING,         /* packet for a closing or draining connection */
	QUIC_DROP_TX_FULL,         /* no send space for a stateless reply */
	QUIC_DROP_RESET_LIMITED,   /* stateless reset rate limit */
	QUIC_DROP_NOMEM,
	QUIC_DROP_DRAINING,        /* new connection while draining for shutdown */
	QUIC_DROP_MAX
};

struct quic_counters {
	uint64_t rx_dgrams, rx_bytes, tx_dgrams, tx_bytes, tx_gso_bufs;
	uint64_t handshakes_started, handshakes_completed, handshakes_failed;
	uint64_t sni_refused;           /* unknown SNI (with or without alert) */
	uint64_t conns_open;            /* gauge */
	uint64_t conns_handshaking;     /* gauge */
	uint64_t conns_closed_idle, conns_closed_local, conns_closed_peer;
	uint64_t requests, responses_2xx, responses_4xx, responses_5xx, streams_reset;
	uint64_t retry_sent, version_negotiation_sent, stateless_reset_sent;
	uint64_t drops[QUIC_DROP_MAX];
	/* resumption, 0-RTT, tokens, hand-off (appended: word-copied) */
	uint64_t handshakes_resumed;    /* completed with a session ticket */
	uint64_t zero_rtt_accepted;     /* early data accepted */
	uint64_t zero_rtt_rejected;     /* offered, refused (off, replay, window) */
	uint64_t requests_0rtt;         /* requests with early_data set */
	uint64_t tickets_issued;
	uint64_t tokens_issued;         /* NEW_TOKEN frames submitted */
	uint64_t tokens_accepted;       /* Initials with a valid NEW_TOKEN token */
	uint64_t tokens_rejected;       /* invalid/expired/other-address ones (ignored) */
	uint64_t handoffs_sent, handoffs_received, handoffs_dropped;
	uint64_t path_migrations;       /* validated new paths (migration, rebinding) */
	uint64_t qlog_files, qlog_errors;
	/* issue 18 (appended) */
	uint64_t conns_v2;              /* connections that speak QUIC v2 */
	uint64_t ecn_validated_paths;   /* paths where ngtcp2 kept ECT marks past validation (RFC 9000 13.4.2) */
	uint64_t rx_ecn_ect;            /* datagrams received with ECT(0) or ECT(1) */
	uint64_t rx_ecn_ce;             /* datagrams received with CE */
	uint64_t tx_ecn_ect;            /* packets sent with an ECT codepoint */
	uint64_t handshake_timeouts;    /* handshakes dropped at handshake_timeout */
	/* issue 20: completed handshakes by key-exchange group (tls.h
	 * enum tls_group_idx), and handshakes refused by pq = require */
	uint64_t tls_groups[TLS_GI_MAX];
	uint64_t tls_pq_refused;
	/* issue 17 */
	uint64_t key_updates;           /* 1-RTT key updates (RFC 9001 6), ours or the peer's */
	/* issue 9 §3 (appended) */
	uint64_t client_cert_refused;   /* client_auth: none when required, or one that did not verify */
};

const char *quic_drop_name(enum quic_drop d);

struct quic_server;

/* Takes p->vset or loads the vhosts' certificates (-ENOENT, -EINVAL for
 * bad PEM, -EINVAL for bad params), allocates the tables sized by max_conns. */
RG_MUST_CHECK int quic_server_create(const struct quic_params *p, struct quic_server **out);
/* Frees every connection without sending anything. */
void quic_server_destroy(struct quic_server *srv);

/* A batch of datagrams from the sockets of this worker. `d[i].data` may be
 * modified in place (decryption). Replies go out through `tx`. */
void quic_server_recv(struct quic_server *srv, const struct ring_dgram *d,
                      unsigned n, uint64_t now, const struct quic_tx *tx);
/* Datagrams another worker handed to this one (it owns their CIDs): like
 * quic_server_recv, counted as handoffs_received. `d[i].sock` must be a
 * socket of this worker whose local address matches `d[i].local`. */
void quic_server_recv_handoff(struct quic_server *srv, const struct ring_dgram *d,
                              unsigned n, uint64_t now, const struct quic_tx *tx);
/* Earliest deadline of all connections (ns), RG_NO_DEADLINE when there is
 * none. A value <= now means "call quic_server_handle_expiry now". Writes
 * that are due are not deadlines: see quic_server_flush(). */
uint64_t quic_server_next_expiry(const struct quic_server *srv);
/* Write every connection with something to send (read a packet, a stream
 * resumed, GOAWAY queued), each once, however often it was scheduled.
 * Called once at the end of each loop turn, after every completion of the
 * turn was handled and before the ring submits the send batch. */
void quic_server_flush(struct quic_server *srv, uint64_t now, const struct quic_tx *tx);
/* True while a connection waits on the write-now list: after a flush, only
 * when the send batch was full. The caller then does not sleep. */
bool quic_server_wants_write(const struct quic_server *srv);
/* Run every deadline that passed: loss recovery, pacing, idle timeouts,
 * closing/draining periods; write what became sendable. */
void quic_server_handle_expiry(struct quic_server *srv, uint64_t now,
                               const struct quic_tx *tx);
/* Close every connection with H3_NO_ERROR (CONNECTION_CLOSE sent); they are
 * freed after their closing period. For graceful stop. */
void quic_server_close_all(struct quic_server *srv, uint64_t now,
                           const struct quic_tx *tx);

/* Graceful stop, first step: accept no new connection (Initials for
 * unknown connections are dropped, counted QUIC_DROP_DRAINING) and send
 * every established connection an HTTP/3 GOAWAY, so clients open no new
 * request stream here while the ones in flight finish. */
void quic_server_drain(struct quic_server *srv, uint64_t now, const struct quic_tx *tx);
/* Request streams still open over all connections: the drain is over when
 * this reaches 0 (then quic_server_close_all). */
unsigned quic_server_active_streams(const struct quic_server *srv);

const struct quic_counters *quic_server_counters(const struct quic_server *srv);

/* The application protocols ringgate speaks over QUIC, by ALPN id. */
enum quic_app {
	QUIC_APP_NONE = 0,
	QUIC_APP_H3, /* "h3", RFC 9114 */
};
/* The protocol an ALPN id names, QUIC_APP_NONE when ringgate does not
 * serve it (e.g. "hq-interop": HTTP/0.9 over QUIC is not implemented). */
enum quic_app quic_alpn_served(const char *id, size_t len);
/* At most this many ALPN ids, each at most QUIC_ALPN_MAX_LEN bytes (the
 * limits of gnutls_alpn_set_protocols). */
#define QUIC_ALPN_MAX 8
#define QUIC_ALPN_MAX_LEN 32

/* Reload of the [quic] settings that can change while running: alpn,
 * idle_timeout_ns, backlog, retry, anti_port_scan, zero_rtt, qlog_dir, the
 * versions, transport limits, handshake timeout and preferred address
 * (issue 18), and the vhosts (certificates and listen bindings).
 * Connections accepted from now on take the new values; connections
 * already accepted keep theirs (their transport parameters, ALPN, vhost
 * and qlog file were fixed at their first Initial). The other fields of
 * `p` are ignored: they are fixed for the life of the server. On error
 * (-EINVAL bad params, -ENOENT/-EINVAL certificates, -ENOMEM) nothing
 * changed. With p->vset its credentials are taken (no file is read);
 * else the files are read: slow path. */
int quic_server_set_params(struct quic_server *srv, const struct quic_params *p);


/* The built-in responder (responder.c): GET / small HTML, GET /bytes/N N
 * bytes of quic_pattern_byte(i), POST /echo the request body, 404 else.
 * 0-RTT rule (stands in for a route with allow_0rtt = no): a request with
 * early_data whose method is not GET or HEAD (not safe, RFC 9110 9.2.1) is
 * answered 425 Too Early; GET and HEAD are served.
 * Bodies are streamed; nothing holds a whole body in memory. */
int quic_responder_request(void *ctx, struct quic_stream *s,
                           const struct quic_request *req);
/* The /bytes/N pattern: byte i of the body. */
static inline uint8_t quic_pattern_byte(uint64_t i) { return (uint8_t)('a' + i % 26); }

#endif
