/* tcp_common: what a tls_tcp session holds whatever the backend
 * (tcp_gnutls.c, tcp_openssl.c; not for users of tcp.h). Each backend's
 * struct tls_tcp starts with a struct tls_tcp_common, so the accessors of
 * tcp.h that only read these fields are written once (tcp_common.c,
 * compiled with either backend) instead of once per backend. */
#ifndef RG_TLS_TCP_COMMON_H
#define RG_TLS_TCP_COMMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "tls/tcp.h"
#include "tls/tcp_buf.h"

enum tcp_state { TCP_HANDSHAKE, TCP_OPEN, TCP_FAILED };

struct tls_tcp_common {
	const struct tls_vhost *vhost;
	rg_sockaddr local, peer;
	enum tcp_state state;
	bool input_end; /* the peer closed its side */
	bool close_sent;
	bool resumed;
	enum tls_alpn alpn;
	enum tls_group_idx group;
	char sni[256];
	struct tcp_buf b; /* last: not zeroed by tls_tcp_common_init */
};

/* A new session's common part: zeroed (but for the buffers' contents),
 * local and peer (may be NULL) copied, group TLS_GI_OTHER. */
void tls_tcp_common_init(struct tls_tcp_common *c, const rg_sockaddr *local, const rg_sockaddr *peer);
/* The server_name extension's body (RFC 6066 3) into c->sni, lowercase:
 * ServerNameList: u16 length, name_type(1) = host_name(0), u16 length,
 * name; the first entry is the one. c->sni is left as it is when the
 * extension is malformed or the name does not fit. */
void tls_tcp_common_sni(struct tls_tcp_common *c, const uint8_t *ext, size_t len);
/* The backend's one step of tls_tcp_write (tcp_common.c holds the loop):
 * seal plaintext p[0 .. len) as one record into the output buffer, where
 * len fits (the caller checked the room for it and its overhead). The
 * bytes taken (len: the record is in the buffer), -EINPROGRESS when the
 * record was taken but waits in the library for room (the write stops
 * there, len counted), or a negative errno: -EAGAIN when nothing was
 * taken, any other ends the session. tcp_gnutls.c, tcp_openssl.c. */
ssize_t tls_tcp_seal(struct tls_tcp *t, const uint8_t *p, size_t len);

#endif
