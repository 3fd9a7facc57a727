#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "control/admin.h"
#include "control/app.h"
#include "ring/addr.h"

const char *addr_str(const rg_sockaddr *a, char *buf, size_t len)
{
	return rg_addr_str(a, buf, len, "(none)");
}

bool addr_is_loopback(const rg_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->in4.sin_addr.s_addr) >> 24) == 127;
	if (a->sa.sa_family == AF_INET6) {
		if (IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
			return a->in6.sin6_addr.s6_addr[12] == 127;
	}
	return false;
}
