/* tls/tcp: TLS 1.2 and 1.3 server sessions over a byte stream (the HTTPS
 * front end over TCP, issue 9), behind the same seam as QUIC (tls.h).
 *
 * Sans-IO: a session owns no socket and no clock. The driver (the TCP
 * connection of datapath/https/) gives it the ciphertext it read, takes the
 * ciphertext it must write, and moves plaintext in and out:
 *
 *   accepted:          tls_tcp_new()
 *   bytes read:        tls_tcp_input(); then tls_tcp_handshake() until 0,
 *                      then tls_tcp_read() until -EAGAIN
 *   to write:          tls_tcp_output() -> write them -> tls_tcp_output_sent()
 *   plaintext out:     tls_tcp_write() (bytes are encrypted and copied into
 *                      the output buffer: the caller's buffer is free again
 *                      when it returns; this is what h2.h calls "handed to
 *                      the TLS layer")
 *   end:               tls_tcp_close_notify(), flush the output, close
 *                      the socket, tls_tcp_free()
 *
 * Certificates come from the generation's tls_vhost_set, by SNI and by the
 * local address the connection was accepted on (tls_vset_find), exactly as
 * QUIC picks them: a reload that swaps the set serves new connections with
 * the new certificates, connections already open keep theirs (the session
 * holds a reference). Session tickets are encrypted under keys derived from
 * the ticket key every worker shares (rotated by wall-clock period as for
 * QUIC, QUIC_TICKET_LIFETIME_S), so a ticket from one worker resumes on any
 * other. ALPN: the server's preference among what the client offers, from
 * params.alpn; a client that offers ALPN but none of ours is refused
 * (no_application_protocol, RFC 7301 3.2); no ALPN at all means HTTP/1.1.
 *
 * Errors: 0 or a negative errno. -EAGAIN: more input needed (or output
 * must be written first). -EPROTO: the peer failed the handshake or sent a
 * bad record; an alert may be queued in the output, write it and close.
 * -ECONNRESET: the peer closed without close_notify.
 *
 * Threading: a session belongs to one worker thread. The backend's
 * per-process objects (ticket keys, the vhosts' credentials) are shared
 * read-only.
 */
#ifndef RG_TLS_TCP_H
#define RG_TLS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "tls/tls.h"

/* ALPN protocols a TCP listener may offer (bit mask) and the result. */
enum tls_alpn {
	TLS_ALPN_NONE = 0,        /* the client sent no ALPN: HTTP/1.1 */
	TLS_ALPN_HTTP11 = 1u << 0, /* "http/1.1" */
	TLS_ALPN_H2 = 1u << 1,     /* "h2" (RFC 9113 3.2: TLS 1.2+ with its cipher rules) */
};

/* Handshake outcomes, counted per worker (struct tls_tcp_counters). */
struct tls_tcp_counters {
	uint64_t handshakes;            /* completed */
	uint64_t handshakes_resumed;    /* of those, with a session ticket */
	uint64_t handshakes_tls12;      /* of those, TLS 1.2 */
	uint64_t handshake_failures;    /* refused or failed (bad ClientHello, alert, ...) */
	uint64_t unknown_sni;           /* no vhost for the name on that listener */
	uint64_t alpn_refused;          /* ALPN offered, none of ours */
	uint64_t groups[TLS_GI_MAX];    /* completed handshakes by key exchange group */
	uint64_t pq_refused;            /* refused by pq = require (OpenSSL build) */
	uint64_t client_cert_refused;   /* client_auth: none when required, or one that did not verify */
};

struct tls_tcp_params {
	/* The generation's vhosts; the session takes its own reference. */
	struct tls_vhost_set *vset;
	/* QUIC_TICKET_KEY_LEN bytes shared by every worker (the same key as
	 * QUIC's or one derived the same way). Copied by tls_tcp_server_new. */
	const uint8_t *ticket_key;
	unsigned alpn;                 /* TLS_ALPN_H2 | TLS_ALPN_HTTP11; 0: both */
	struct tls_tcp_counters *ctr;  /* required: the worker's */
	/* The wall clock that picks the ticket key's period (OpenSSL build;
	 * gnutls rotates by its own clock). .now NULL: time(). */
	struct tls_wall_clock wall;
};

/* What every session of one worker shares: the ticket key, the ALPN list,
 * the backend's per-server objects. Made per worker when the [https]
 * settings (or the vhost set) change; sessions made from it keep it alive
 * (reference counted, one thread). */
struct tls_tcp_server;
RG_MUST_CHECK int tls_tcp_server_new(const struct tls_tcp_params *p, struct tls_tcp_server **out);
void tls_tcp_server_put(struct tls_tcp_server *s);

struct tls_tcp;

/* A server session for a connection accepted on `local` from `peer`
 * (both copied; `local` picks the vhosts bound there). -ENOMEM, -EINVAL. */
RG_MUST_CHECK int tls_tcp_new(struct tls_tcp_server *s, const rg_sockaddr *local,
                              const rg_sockaddr *peer, struct tls_tcp **out);
/* Nothing is sent: call tls_tcp_close_notify() first for a clean end. */
void tls_tcp_free(struct tls_tcp *t);

/* Room for ciphertext in the input buffer (the driver reads at most this
 * much): one maximal record (16,645 bytes) when empty, 0 when full, until
 * handshake/read consume it (the library takes what it needs per call). */
size_t tls_tcp_input_room(const struct tls_tcp *t);
/* Ciphertext read from the socket. -ENOBUFS when len > tls_tcp_input_room. */
RG_MUST_CHECK int tls_tcp_input(struct tls_tcp *t, const uint8_t *data, size_t len);
/* The peer closed its side (read gave 0): once the buffered input is used
 * up, tls_tcp_read gives 0 after a close_notify, else -ECONNRESET, and an
 * unfinished handshake -ECONNRESET. (Added: without it a truncation attack,
 * RFC 8446 6.1, could not be told from a clean close.) */
void tls_tcp_input_end(struct tls_tcp *t);

/* Drive the handshake: 0 when complete (also on every later call), -EAGAIN
 * when it needs more input or when the output buffer is full (a flight
 * with a long chain can exceed it): write the output, and call again
 * after tls_tcp_output_sent as well as after input. -EPROTO (see top),
 * -ECONNRESET (input ended). */
int tls_tcp_handshake(struct tls_tcp *t);
bool tls_tcp_handshake_done(const struct tls_tcp *t);

/* Plaintext the peer sent: bytes copied to buf (> 0), 0 at close_notify,
 * -EAGAIN when more ciphertext is needed, -EPROTO, -ECONNRESET. */
ssize_t tls_tcp_read(struct tls_tcp *t, uint8_t *buf, size_t cap);
/* Encrypt up to the sum of the iovecs' lengths into the output buffer:
 * the bytes taken (> 0, possibly fewer than offered when the output buffer
 * is full: write it, then call again), or -EAGAIN when it is full now,
 * -EPROTO. Only after the handshake. */
ssize_t tls_tcp_write(struct tls_tcp *t, const struct iovec *iov, unsigned n);
/* Queue close_notify (RFC 8446 6.1). Idempotent. */
void tls_tcp_close_notify(struct tls_tcp *t);

/* Ciphertext to write: up to n iovecs into the session's output buffer;
 * returns the count (0: nothing to write). Valid until output_sent. */
unsigned tls_tcp_output(struct tls_tcp *t, struct iovec *iov, unsigned n);
/* n bytes of that output were written (the kernel took them). */
void tls_tcp_output_sent(struct tls_tcp *t, size_t n);
/* Bytes waiting in the output buffer. */
size_t tls_tcp_output_pending(const struct tls_tcp *t);

/* After the handshake: the negotiated ALPN, the vhost that answered (its
 * name is the SNI as configured; NULL when none was found and the handshake
 * failed), whether a ticket resumed it, the key exchange group. */
enum tls_alpn tls_tcp_alpn(const struct tls_tcp *t);
const struct tls_vhost *tls_tcp_vhost(const struct tls_tcp *t);
/* The SNI the client sent (lowercase), "" when none. Lives with t. */
const char *tls_tcp_sni(const struct tls_tcp *t);
bool tls_tcp_resumed(const struct tls_tcp *t);
enum tls_group_idx tls_tcp_group(const struct tls_tcp *t);
/* "TLSv1.3" / "TLSv1.2" (the access log's spelling). */
const char *tls_tcp_version(const struct tls_tcp *t);
/* The client certificate of a vhost with client_auth (issue 9 §3), once
 * verified against the vhost's client_ca: its subject as an RFC 4514
 * string ("CN=client,O=Example") in subject (cut to cap - 1 bytes) and the
 * SHA-256 of its DER (the X-Client-Cert-* headers). 0, or -ENOENT when the
 * client sent none (client_auth optional or off). A resumed session
 * carries the certificate of the handshake that issued its ticket. */
int tls_tcp_peer_cert(const struct tls_tcp *t, char *subject, size_t cap, uint8_t sha256[32]);
/* Memory the session holds (buffers and the backend's estimate), for the
 * per-connection budget of bench/run https. */
size_t tls_tcp_mem(const struct tls_tcp *t);

#endif
