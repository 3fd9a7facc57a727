/* backend: what the files of tls/ share besides tls.h (not for users of the seam). */
#ifndef RG_TLS_BACKEND_H
#define RG_TLS_BACKEND_H

#include "tls/tls.h"

struct tls_group {
	const char *name; /* IANA registry spelling */
	unsigned id;      /* TLS NamedGroup */
	bool pq;          /* a post-quantum hybrid */
};

const struct tls_group *tls_group_find(const char *name, size_t len);
/* fn for each group of a comma/space separated list, in order; -ENOENT
 * for an unknown name, else the first non-zero fn result or 0. */
int tls_groups_each(const char *groups, int (*fn)(void *ctx, const struct tls_group *g), void *ctx);
/* Is g offered under policy pq (see groups.c)? */
bool tls_group_used(const struct tls_group *g, enum tls_pq pq);

/* gnutls build: a tls_groups_each callback that appends ":+GROUP-name" for
 * g to the priority string in ctx (a buffer of TLS_GNUTLS_PRIO_CAP bytes);
 * -EINVAL for a group gnutls has no name for (a PQ one). tls/gnutls.c. */
#define TLS_GNUTLS_PRIO_CAP 512
int tls_gnutls_prio_group(void *ctx, const struct tls_group *g);

/* A handshake refused by policy: "tls: PROTO handshake from ADDR refused:
 * WHY" at warn, rate-limited per thread (tls/log.c). */
void tls_log_refusal(const char *proto, const rg_sockaddr *peer, const char *why);

#endif
