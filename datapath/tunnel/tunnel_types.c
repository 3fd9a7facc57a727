/* Small address helpers shared by the tunnel building blocks. */
#include "datapath/tunnel/tunnel_types.h"

#include <errno.h>

int tunnel_ip_from_sockaddr(struct tunnel_ip *ip, const rg_sockaddr *sa)
{
	memset(ip, 0, sizeof(*ip));
	switch (sa->sa.sa_family) {
	case AF_INET:
		ip->family = AF_INET;
		memcpy(ip->bytes, &sa->in4.sin_addr, 4);
		return 0;
	case AF_INET6:
		ip->family = AF_INET6;
		memcpy(ip->bytes, &sa->in6.sin6_addr, 16);
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

bool tunnel_sockaddr_equal(const rg_sockaddr *a, const rg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	switch (a->sa.sa_family) {
	case AF_INET:
		return a->in4.sin_port == b->in4.sin_port && a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	case AF_INET6:
		return a->in6.sin6_port == b->in6.sin6_port && a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	default:
		return false;
	}
}
