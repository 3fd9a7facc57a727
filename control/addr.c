#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "control/admin.h"
#include "control/app.h"

const char *addr_str(const rg_sockaddr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->in4.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
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
