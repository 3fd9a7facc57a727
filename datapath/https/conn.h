/* conn: one accepted TCP connection of the HTTPS front end (issue 9), on
 * its worker's ring: the socket's reads and writes (RING_IO_READ /
 * RING_IO_WRITEV), the TLS session (tls/tcp.h) or plaintext ([redirect]),
 * then the HTTP/1.1 (h1conn.h) or HTTP/2 (h2.h) connection ALPN chose.
 *
 * State machine (enum https_conn_state):
 *   HANDSHAKE  TLS handshake, bounded by handshake_timeout
 *   SERVING    h1_conn / h2_conn; their own timers (header, idle, body)
 *   CLOSING    the application is done: its last bytes and close_notify
 *              are written, the write side is shut, reads are drained for
 *              a short linger (so unread request bytes do not turn the
 *              close into a reset that loses the response), then close
 *   FREE       back in the worker's pool
 * One deadline per connection, one twheel timer.
 *
 * Requests go to the reverse proxy through h1front.c / h2front.c; the
 * proxy's calls on a stream (respond, resume, consume, reset) mark the
 * connection "to write" (https_conn_kick) and the worker writes it at the
 * end of the loop turn (https_env_flush), never re-entering the proxy.
 *
 * Threading: everything belongs to one worker thread.
 */
#ifndef RG_HTTPS_CONN_H
#define RG_HTTPS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/https/h1conn.h"
#include "datapath/https/h2.h"
#include "ring/ring.h"
#include "ring/twheel.h"
#include "tls/tcp.h"

struct proxy;

/* Per worker; published with the worker's stats (all words). */
struct https_counters {
	uint64_t accepted;             /* connections accepted (both kinds) */
	uint64_t open;                 /* gauge: connections open now */
	uint64_t refused_full;         /* closed at once: max_connections reached, none idle */
	uint64_t closed_idle_for_room; /* idle keep-alive connections closed to make room */
	uint64_t closed;               /* connections closed (any reason) */
	uint64_t accept_errors;        /* accept back-pressure (EMFILE, ENFILE, ENOBUFS, ENOMEM) */
	uint64_t handshake_timeouts;   /* TLS handshakes over handshake_timeout */
	uint64_t redirect_accepted;    /* of accepted, on [redirect] listeners */
	uint64_t conns_h1, conns_h2;   /* connections served by ALPN */
};

/* Settings of one generation, per worker, shared by the connections
 * accepted under it (a reference each): a reload changes them for new
 * connections only. */
struct https_cfg {
	unsigned refs;
	struct tls_tcp_server *srv;    /* NULL: no [https] (redirect only) */
	struct tls_vhost_set *vset;    /* the generation's (a reference) */
	unsigned max_connections;
	uint64_t handshake_timeout_ns;
	struct h1_params h1;           /* on_request/ctx/ctr/extra set per connection */
	struct h2_params h2;
	/* Alt-Svc by vhost index of vset (NULL entry: none) */
	struct quic_header *alt_svc;   /* n_alt entries; value NULL: none */
	unsigned n_alt;
	/* [redirect]: the request handler and its context (redirect.h) */
	h1_request_fn redirect_fn;
	void *redirect_ctx;
	void (*redirect_free)(void *ctx);
};

void https_cfg_put(struct https_cfg *c);

enum https_conn_state { HTTPS_HANDSHAKE = 0, HTTPS_SERVING, HTTPS_CLOSING, HTTPS_FREE };
enum https_app { HTTPS_APP_NONE = 0, HTTPS_APP_H1, HTTPS_APP_H2 };

#define HTTPS_RBUF 16384
#define HTTPS_WIOV 16

struct https_env;

struct https_conn {
	struct twheel_timer timer; /* first: the wheel's callback gets it */
	struct https_env *env;
	struct https_conn *prev, *next;        /* env->open (oldest first) or env->free */
	struct https_conn *dprev, *dnext;      /* env's to-write list */
	bool dirty;
	enum https_conn_state st;
	enum https_app app;
	bool tls_mode;        /* false: [redirect] plaintext */
	bool peer_eof, eof_given, hard, wr_shut;
	int fd;
	struct https_cfg *cfg;
	struct tls_tcp *tls;
	struct h1_conn *h1;
	struct h2_conn *h2;
	rg_sockaddr peer, local;
	char sni[256];
	/* issue 9 §3: the verified client certificate (tls_tcp_peer_cert at
	 * the end of the handshake), for X-Client-Cert-*; cert_subject[0] == 0
	 * when none */
	char cert_subject[1024];
	char cert_sha256[65];
	const struct quic_header *alt_hdr; /* Alt-Svc of its vhost (HTTP/2 adds it per response), or NULL */
	uint64_t hs_deadline, linger_deadline;
	struct ring_io rd, wr;
	struct iovec wiov[HTTPS_WIOV];
	size_t wlen;          /* bytes of the write in flight */
	size_t poff, plen;    /* plaintext waiting in pbuf */
	uint8_t rbuf[HTTPS_RBUF];
	uint8_t pbuf[HTTPS_RBUF];
};

/* A request in flight between a stream (h1 or h2) and the proxy: what the
 * proxy's stream operations need to find the connection again. Pooled. */
struct https_stream {
	void *s;                 /* struct h1_stream * or struct h2_stream * */
	void *h;                 /* the proxy's handle (attach) */
	struct https_conn *c;
	const struct quic_header *alt_svc; /* added to the response head (h2), or NULL */
	struct https_stream *next_free;
};

/* What the connections of one worker share. */
struct https_env {
	struct ring *ring;
	struct proxy *px;
	unsigned worker_id;
	struct twheel tw;
	struct https_conn *open_head, *open_tail; /* oldest first */
	struct https_conn *free_list;
	struct https_conn *dirty_head;
	unsigned n_open, n_alloc;
	struct https_stream *stream_free;
	bool draining;
	struct https_counters ctr;
	struct tls_tcp_counters tls;
	struct h1_counters h1;
	struct h2_counters h2;
};

void https_env_init(struct https_env *e, struct ring *r, struct proxy *px, unsigned worker_id, uint64_t now);
/* Every connection ends now (streams closed into the proxy, sockets
 * closed): before the proxy and the ring go. */
void https_env_destroy(struct https_env *e);
/* After ring_destroy (the ring held the connections' struct ring_io):
 * the memory. */
void https_env_release(struct https_env *e);

/* A connection accepted on `local` (fd owned from here). cfg: a
 * reference is taken. tls: [https] (else plaintext [redirect]). 0, or
 * -ENOMEM (fd closed). */
int https_conn_start(struct https_env *e, struct https_cfg *cfg, bool tls, int fd, const rg_sockaddr *peer,
                     uint64_t now);
/* Make room for one more connection: close the oldest idle one. true if
 * one was closed. */
bool https_env_close_idle(struct https_env *e, uint64_t now);
/* Graceful stop of every connection (h1_conn_shutdown / h2_conn_shutdown). */
void https_env_shutdown(struct https_env *e, uint64_t now);
/* Write what the proxy's calls produced (once per loop turn). */
void https_env_flush(struct https_env *e, uint64_t now);
uint64_t https_env_next_expiry(struct https_env *e);
void https_env_handle_expiry(struct https_env *e, uint64_t now);
/* Requests in flight (drain). */
unsigned https_env_busy(const struct https_env *e);

void https_conn_kick(struct https_conn *c);

/* h1front.c / h2front.c: the on_request of h1_conn / h2_conn (ctx: the
 * struct https_conn). */
int h1front_request(void *ctx, struct h1_stream *s, const struct quic_request *req);
int h2front_request(void *ctx, struct h2_stream *s, const struct quic_request *req);
/* What both share (datapath/proxy/tcpfront.c): a struct https_stream for
 * s, the connection's verified client certificate copied into the request,
 * proxy_front_request with ops; the stream is put back on an error. */
struct proxy_front_ops;
int tcpfront_request(struct https_conn *c, const struct proxy_front_ops *ops, void *s,
                     const struct quic_request *req);
/* h1_params / h2_params on_answer (tcpfront.c; ctx: the struct
 * https_conn): the access log's line, with the handshake's TLS fields. */
void h1front_answer(void *ctx, const struct quic_request *req, unsigned status);
void h2front_answer(void *ctx, const struct quic_request *req, unsigned status);
/* The handler's close: the proxy's, then the stream is put back. */
void tcpfront_close(struct https_stream *hs, uint64_t app_error);
struct https_stream *https_stream_get(struct https_conn *c, void *s);
void https_stream_put(struct https_stream *hs);

#endif
