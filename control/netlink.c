#include "control/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/log.h"

/* Links and addresses are few on an edge box; flat arrays keep this simple
 * and it all runs on the control thread. */
#define NL_MAX_LINKS 256
#define NL_MAX_ADDRS 1024
#define NL_MAX_WANTS 64
#define NL_MAX_BOUND 1024

struct nl_link {
	int ifindex; /* 0: free */
	char name[IF_NAMESIZE];
	bool up;
};

struct nl_addr {
	int ifindex; /* 0: free */
	int family;
	uint8_t ip[16];
	bool usable;
};

struct nl_bound {
	bool used;
	bool ok; /* bind succeeded */
	enum listener_kind kind;
	rg_sockaddr addr;
	char ifname[IF_NAMESIZE];
};

struct nlwatch {
	struct mnl_socket *nl;
	unsigned portid;
	unsigned seq;
	const struct nlwatch_ops *ops;
	void *ctx;
	struct nl_link links[NL_MAX_LINKS];
	struct nl_addr addrs[NL_MAX_ADDRS];
	struct nlwatch_want wants[NL_MAX_WANTS];
	unsigned n_wants;
	struct nl_bound bound[NL_MAX_BOUND];
	bool dumping;
};

static struct nl_link *link_find(struct nlwatch *nw, int ifindex)
{
	for (int i = 0; i < NL_MAX_LINKS; i++)
		if (nw->links[i].ifindex == ifindex)
			return &nw->links[i];
	return NULL;
}

static struct nl_link *link_by_name(struct nlwatch *nw, const char *name)
{
	for (int i = 0; i < NL_MAX_LINKS; i++)
		if (nw->links[i].ifindex && !strcmp(nw->links[i].name, name))
			return &nw->links[i];
	return NULL;
}

static void addr_make(rg_sockaddr *sa, const struct nl_addr *a, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	if (a->family == AF_INET) {
		sa->in4.sin_family = AF_INET;
		sa->in4.sin_port = htons(port);
		memcpy(&sa->in4.sin_addr, a->ip, 4);
	} else {
		sa->in6.sin6_family = AF_INET6;
		sa->in6.sin6_port = htons(port);
		memcpy(&sa->in6.sin6_addr, a->ip, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sa->in6.sin6_addr))
			sa->in6.sin6_scope_id = (uint32_t)a->ifindex;
	}
}

static bool sa_equal(const rg_sockaddr *x, const rg_sockaddr *y)
{
	if (x->sa.sa_family != y->sa.sa_family)
		return false;
	if (x->sa.sa_family == AF_INET)
		return x->in4.sin_port == y->in4.sin_port && x->in4.sin_addr.s_addr == y->in4.sin_addr.s_addr;
	return x->in6.sin6_port == y->in6.sin6_port && x->in6.sin6_scope_id == y->in6.sin6_scope_id &&
	       !memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr, 16);
}

/* The next usable address of want's interface after *pos (start with
 * *pos = -1), as an address:port; false when there is none (or the link is
 * down or absent). */
static bool want_next(struct nlwatch *nw, const struct nlwatch_want *want, int *pos, rg_sockaddr *sa)
{
	const struct nl_link *l = link_by_name(nw, want->ifname);
	if (!l || !l->up)
		return false;
	while (++*pos < NL_MAX_ADDRS) {
		const struct nl_addr *a = &nw->addrs[*pos];
		if (a->ifindex == l->ifindex && a->usable) {
			addr_make(sa, a, want->port);
			return true;
		}
	}
	return false;
}

/* Is (kind, addr) wanted by the current links, addresses and wants? */
static bool wanted(struct nlwatch *nw, enum listener_kind kind, const rg_sockaddr *sa, const char *ifname)
{
	for (unsigned w = 0; w < nw->n_wants; w++) {
		const struct nlwatch_want *want = &nw->wants[w];
		if (want->kind != kind || strcmp(want->ifname, ifname))
			continue;
		rg_sockaddr cand;
		for (int pos = -1; want_next(nw, want, &pos, &cand);)
			if (sa_equal(&cand, sa))
				return true;
	}
	return false;
}

/* Bring the bound table in line with what is wanted now. */
static void reconcile(struct nlwatch *nw)
{
	if (nw->dumping)
		return;
	/* unbind what is no longer wanted */
	for (int b = 0; b < NL_MAX_BOUND; b++) {
		struct nl_bound *e = &nw->bound[b];
		if (!e->used || wanted(nw, e->kind, &e->addr, e->ifname))
			continue;
		if (e->ok)
			nw->ops->on_unbind(nw->ctx, e->kind, &e->addr, e->ifname);
		e->used = false;
	}
	/* bind what is wanted and not bound (or whose bind failed before) */
	for (unsigned w = 0; w < nw->n_wants; w++) {
		const struct nlwatch_want *want = &nw->wants[w];
		rg_sockaddr sa;
		for (int pos = -1; want_next(nw, want, &pos, &sa);) {
			struct nl_bound *e = NULL, *free_e = NULL;
			for (int b = 0; b < NL_MAX_BOUND; b++) {
				if (nw->bound[b].used && nw->bound[b].kind == want->kind &&
				    sa_equal(&nw->bound[b].addr, &sa)) {
					e = &nw->bound[b];
					break;
				}
				if (!nw->bound[b].used && !free_e)
					free_e = &nw->bound[b];
			}
			if (e && e->ok)
				continue;
			if (!e) {
				if (!free_e) {
					log_error("netlink: more than %d bound addresses", NL_MAX_BOUND);
					return;
				}
				e = free_e;
				memset(e, 0, sizeof(*e));
				e->used = true;
				e->kind = want->kind;
				e->addr = sa;
				memcpy(e->ifname, want->ifname, IF_NAMESIZE);
			}
			e->ok = nw->ops->on_bind(nw->ctx, want->kind, &sa, want->ifname) == 0;
		}
	}
}

/* ---- message parsing ---- */

struct attrs {
	const struct nlattr *tb[IFLA_MAX > IFA_MAX ? IFLA_MAX + 1 : IFA_MAX + 1];
	int max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(attr);
	if (mnl_attr_type_valid(attr, (uint16_t)t->max) < 0)
		return MNL_CB_OK; /* newer attribute than our headers: ignore */
	t->tb[type] = attr;
	return MNL_CB_OK;
}

static void on_link(struct nlwatch *nw, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct attrs t = {.max = IFLA_MAX};
	mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &t);
	struct nl_link *l = link_find(nw, ifi->ifi_index);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (l) {
			log_info("netlink: interface %s is gone", l->name);
			memset(l, 0, sizeof(*l));
		}
		for (int i = 0; i < NL_MAX_ADDRS; i++)
			if (nw->addrs[i].ifindex == ifi->ifi_index)
				memset(&nw->addrs[i], 0, sizeof(nw->addrs[i]));
		return;
	}
	if (!l) {
		l = link_find(nw, 0);
		if (!l) {
			log_error("netlink: more than %d interfaces", NL_MAX_LINKS);
			return;
		}
		l->ifindex = ifi->ifi_index;
	}
	if (t.tb[IFLA_IFNAME]) {
		const char *name = mnl_attr_get_str(t.tb[IFLA_IFNAME]);
		size_t n = strnlen(name, IF_NAMESIZE - 1);
		memcpy(l->name, name, n);
		l->name[n] = '\0';
	}
	bool up = (ifi->ifi_flags & IFF_UP) != 0;
	if (up != l->up && !nw->dumping)
		log_info("netlink: interface %s is %s", l->name, up ? "up" : "down");
	l->up = up;
}

static void on_addr(struct nlwatch *nw, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return;
	struct attrs t = {.max = IFA_MAX};
	mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &t);
	/* IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS
	 * otherwise (for IPv6 only IFA_ADDRESS is sent). */
	const struct nlattr *at = t.tb[IFA_LOCAL] ? t.tb[IFA_LOCAL] : t.tb[IFA_ADDRESS];
	if (!at)
		return;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	if (mnl_attr_get_payload_len(at) < alen)
		return;
	uint8_t ip[16] = {0};
	memcpy(ip, mnl_attr_get_payload(at), alen);
	uint32_t flags = ifa->ifa_flags;
	if (t.tb[IFA_FLAGS])
		flags = mnl_attr_get_u32(t.tb[IFA_FLAGS]);

	struct nl_addr *a = NULL, *free_a = NULL;
	for (int i = 0; i < NL_MAX_ADDRS; i++) {
		struct nl_addr *x = &nw->addrs[i];
		if (x->ifindex == (int)ifa->ifa_index && x->family == ifa->ifa_family &&
		    !memcmp(x->ip, ip, 16)) {
			a = x;
			break;
		}
		if (!x->ifindex && !free_a)
			free_a = x;
	}
	if (nlh->nlmsg_type == RTM_DELADDR) {
		if (a)
			memset(a, 0, sizeof(*a));
		return;
	}
	if (!a) {
		if (!free_a) {
			log_error("netlink: more than %d addresses", NL_MAX_ADDRS);
			return;
		}
		a = free_a;
		a->ifindex = (int)ifa->ifa_index;
		a->family = ifa->ifa_family;
		memcpy(a->ip, ip, 16);
	}
	a->usable = !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlwatch *nw = data;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(nw, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(nw, nlh);
		break;
	}
	return MNL_CB_OK;
}

/* Read messages until the socket is empty (or, while dumping, until the
 * dump's NLMSG_DONE). */
static int drain(struct nlwatch *nw, bool until_done)
{
	char buf[MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768];
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nw->nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return until_done ? -EAGAIN : 0;
			if (errno == ENOBUFS) {
				/* events were lost: the caller dumps again */
				log_warn("netlink: event queue overflowed, reading the tables again");
				return -ENOBUFS;
			}
			return -errno;
		}
		/* seq/portid 0: events and dump replies both pass */
		int r = mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, nw);
		if (r == MNL_CB_STOP && until_done)
			return 0;
		if (r < 0 && errno != ESRCH && errno != ENOENT)
			return -errno;
	}
}

static int dump(struct nlwatch *nw, int type)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nw->seq;
	struct rtgenmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(nw->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* the socket is non-blocking: wait for the dump's answer a little */
	for (int tries = 0; tries < 2000; tries++) {
		int r = drain(nw, true);
		if (r != -EAGAIN)
			return r;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static int resync(struct nlwatch *nw)
{
	memset(nw->links, 0, sizeof(nw->links));
	memset(nw->addrs, 0, sizeof(nw->addrs));
	nw->dumping = true;
	int err = dump(nw, RTM_GETLINK);
	if (!err)
		err = dump(nw, RTM_GETADDR);
	nw->dumping = false;
	if (!err)
		reconcile(nw);
	return err;
}

int nlwatch_open(const struct nlwatch_ops *ops, void *ctx, struct nlwatch **out)
{
	struct nlwatch *nw = calloc(1, sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	nw->ops = ops;
	nw->ctx = ctx;
	int err;
	nw->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!nw->nl) {
		err = -errno;
		goto fail;
	}
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (mnl_socket_bind(nw->nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail_sock;
	}
	nw->portid = mnl_socket_get_portid(nw->nl);
	err = resync(nw);
	if (err)
		goto fail_sock;
	*out = nw;
	return 0;

fail_sock:
	mnl_socket_close(nw->nl);
fail:
	free(nw);
	return err;
}

void nlwatch_close(struct nlwatch *nw)
{
	if (!nw)
		return;
	mnl_socket_close(nw->nl);
	free(nw);
}

int nlwatch_fd(const struct nlwatch *nw)
{
	return mnl_socket_get_fd(nw->nl);
}

void nlwatch_process(struct nlwatch *nw)
{
	int err = drain(nw, false);
	if (err == -ENOBUFS)
		err = resync(nw);
	else if (!err)
		reconcile(nw);
	if (err)
		log_warn("netlink: %s", strerror(-err));
}

int nlwatch_set_wants(struct nlwatch *nw, const struct nlwatch_want *w, unsigned n)
{
	if (n > NL_MAX_WANTS)
		return -E2BIG;
	if (n)
		memcpy(nw->wants, w, sizeof(*w) * n);
	nw->n_wants = n;
	reconcile(nw);
	return 0;
}

void nlwatch_retry(struct nlwatch *nw)
{
	reconcile(nw);
}

void nlwatch_foreach_bound(const struct nlwatch *nw,
                           void (*fn)(void *arg, enum listener_kind kind, const rg_sockaddr *addr,
                                      const char *ifname),
                           void *arg)
{
	for (int b = 0; b < NL_MAX_BOUND; b++)
		if (nw->bound[b].used && nw->bound[b].ok)
			fn(arg, nw->bound[b].kind, &nw->bound[b].addr, nw->bound[b].ifname);
}

/* ---- interface addresses ---- */

bool nladdr_equal(const struct nladdr *x, const struct nladdr *y)
{
	return x->family == y->family && x->prefix == y->prefix &&
	       !memcmp(x->addr, y->addr, x->family == AF_INET ? 4 : 16);
}

static bool listed(const struct nladdr *a, const struct nladdr *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (nladdr_equal(a, &list[i]))
			return true;
	return false;
}

/* Would removing IPv4 primary p take a along as its secondary? The kernel
 * files an address as a secondary of another with the same prefix length
 * whose subnet holds it (net/ipv4/devinet.c). */
static bool same_subnet4(const struct nladdr *p, const struct nladdr *a)
{
	if (p->family != AF_INET || a->family != AF_INET || p->prefix != a->prefix || p->prefix > 32)
		return false;
	uint32_t x, y;
	memcpy(&x, p->addr, 4);
	memcpy(&y, a->addr, 4);
	uint32_t mask = p->prefix ? htonl(~0u << (32 - p->prefix)) : 0;
	return (x & mask) == (y & mask);
}

/* One RTM_NEWADDR / RTM_DELADDR, answered by its ack. */
static int addr_req(struct mnl_socket *nl, unsigned *seq, uint16_t type, unsigned ifindex, const struct nladdr *a)
{
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is not a constant expression */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	/* REPLACE: an address already there is refreshed, not refused */
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = ++*seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)a->prefix;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	size_t len = a->family == AF_INET ? 4 : 16;
	mnl_attr_put(nlh, IFA_LOCAL, len, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a->addr);
	if (a->family == AF_INET6 && type == RTM_NEWADDR)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, *seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

int nladdr_sync(unsigned ifindex, const struct nladdr *old, unsigned n_old, const struct nladdr *want,
                unsigned n_want, struct nladdr *now, unsigned *n_now, nladdr_report_fn report, void *ctx)
{
	*n_now = 0;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int first = 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		first = -errno;
		mnl_socket_close(nl);
		/* nothing changed: the link carries what it did */
		for (unsigned i = 0; i < n_old; i++)
			now[(*n_now)++] = old[i];
		return first;
	}
	unsigned seq = (unsigned)time(NULL);
	bool *lost = calloc(n_want ? n_want : 1, sizeof(*lost)); /* unchanged, taken along */
	if (!lost) {
		mnl_socket_close(nl);
		for (unsigned i = 0; i < n_old; i++)
			now[(*n_now)++] = old[i];
		return -ENOMEM;
	}
	/* what left */
	for (unsigned i = 0; i < n_old; i++) {
		if (listed(&old[i], want, n_want))
			continue;
		int err = addr_req(nl, &seq, RTM_DELADDR, ifindex, &old[i]);
		if (err == -EADDRNOTAVAIL || err == -ENOENT || err == -ENODEV)
			err = 0; /* gone already */
		if (report)
			report(ctx, NLADDR_DEL, &old[i], err);
		if (err) {
			first = first ? first : err;
			now[(*n_now)++] = old[i]; /* still there */
			continue;
		}
		for (unsigned j = 0; j < n_want; j++)
			if (listed(&want[j], old, n_old) && same_subnet4(&old[i], &want[j]))
				lost[j] = true;
	}
	/* what came, and what the kernel may have taken along */
	for (unsigned j = 0; j < n_want; j++) {
		bool kept = listed(&want[j], old, n_old);
		if (kept && !lost[j]) {
			now[(*n_now)++] = want[j];
			continue;
		}
		int err = addr_req(nl, &seq, RTM_NEWADDR, ifindex, &want[j]);
		if (err == -EEXIST)
			err = 0;
		if (report)
			report(ctx, kept ? NLADDR_READD : NLADDR_ADD, &want[j], err);
		if (err)
			first = first ? first : err;
		else
			now[(*n_now)++] = want[j];
	}
	free(lost);
	mnl_socket_close(nl);
	return first;
}
