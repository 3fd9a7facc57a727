/* tcp_common: what a tls_tcp session holds whatever the backend
 * (tcp_gnutls.c, tcp_openssl.c; not for users of tcp.h). Each backend's
 * struct tls_tcp starts with a struct tls_tcp_common, so the accessors of
 * tcp.h that only read these fields are written once (tcp_common.c,
 * compiled with either backend) instead of once per backend. */
#ifndef RG_TLS_TCP_COMMON_H
#define RG_TLS_TCP_COMMON_H

#include <stdbool.h>

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

#endif
