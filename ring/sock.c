/* Sockets for rings and CPU pinning. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "ring/internal.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define RING_SOCK_BUF (8 << 20)

static void set_buf(int fd, int force, int plain)
{
	int v = RING_SOCK_BUF;
	/* *BUFFORCE passes net.core.[rw]mem_max when privileged (CAP_NET_ADMIN) */
	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, plain, &v, sizeof(v));
}

int ring_udp_open(const rg_sockaddr *addr, bool gro)
{
	int af = addr->sa.sa_family;
	if (af != AF_INET && af != AF_INET6)
		return -EAFNOSUPPORT;
	int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	int one = 1, err;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (af == AF_INET) {
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
			goto fail;
	} else {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
			goto fail;
	}
	/* ECN (RFC 9000 13.4): the TOS / traffic class of each datagram.
	 * Without it every datagram reads as not-ECT: QUIC still works. */
	if (af == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
	/* GRO is an optimisation: a kernel without it still works */
	if (gro)
		setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	socklen_t len = af == AF_INET6 ? sizeof(addr->in6) : sizeof(addr->in4);
	if (bind(fd, &addr->sa, len) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int ring_tcp_listen(const rg_sockaddr *addr, int backlog)
{
	int af = addr->sa.sa_family;
	if (af != AF_INET && af != AF_INET6)
		return -EAFNOSUPPORT;
	int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	int one = 1, err;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (af == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	socklen_t len = af == AF_INET6 ? sizeof(addr->in6) : sizeof(addr->in4);
	if (bind(fd, &addr->sa, len) < 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

int ring_pin_cpu(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
