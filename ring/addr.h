/* addr: an rg_sockaddr as text, for logs and status: "a.b.c.d:port",
 * "[v6]:port", or `none` for any other family. Header-only (inline), so
 * the users that must not link the ring (tls/, control/) share it too. */
#ifndef RG_RING_ADDR_H
#define RG_RING_ADDR_H

#include <arpa/inet.h>
#include <stdio.h>

#include "ring/ring.h"

static inline const char *rg_addr_str(const rg_sockaddr *a, char *buf, size_t len, const char *none)
{
	char ip[INET6_ADDRSTRLEN];

	if (a && a->sa.sa_family == AF_INET && inet_ntop(AF_INET, &a->in4.sin_addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, ntohs(a->in4.sin_port));
	else if (a && a->sa.sa_family == AF_INET6 && inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	else
		snprintf(buf, len, "%s", none);
	return buf;
}

#endif
