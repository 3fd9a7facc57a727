/* Netlink interface watcher for `listen = iface NAME:PORT` (control thread).
 *
 * Keeps a table of links and their addresses from an rtnetlink socket
 * (initial dump, then RTMGRP_LINK / IPV4_IFADDR / IPV6_IFADDR events) and
 * tells the caller which (kind, address:port) pairs should be bound: every
 * usable address of a wanted interface while its link is up. An address is
 * usable once it can be bound: IPv6 addresses still in duplicate address
 * detection (IFA_F_TENTATIVE) or that failed it are skipped until they
 * settle. Link-local IPv6 addresses carry the interface as scope id.
 *
 * The caller gets on_bind for each pair that became wanted and on_unbind for
 * each that stopped being wanted (address removed, link down or deleted).
 * An interface deleted and created again (new ifindex) is picked up by name.
 */
#ifndef RG_NETLINK_H
#define RG_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "datapath/worker.h" /* enum listener_kind */
#include "ring/ring.h"       /* rg_sockaddr */

struct nlwatch_want {
	enum listener_kind kind;
	char ifname[IF_NAMESIZE];
	uint16_t port;
};

struct nlwatch_ops {
	/* Return 0 when bound; a negative errno is logged and retried at the
	 * next event or nlwatch_retry(). */
	int (*on_bind)(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname);
	void (*on_unbind)(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname);
};

struct nlwatch;

RG_MUST_CHECK int nlwatch_open(const struct nlwatch_ops *ops, void *ctx, struct nlwatch **out);
void nlwatch_close(struct nlwatch *nw);
/* The fd to poll for readability. */
int nlwatch_fd(const struct nlwatch *nw);
/* Read and apply pending events. Never blocks. */
void nlwatch_process(struct nlwatch *nw);
/* Replace the wanted interfaces (at start and on reload): binds and
 * unbinds what the change implies. The array is copied. */
RG_MUST_CHECK int nlwatch_set_wants(struct nlwatch *nw, const struct nlwatch_want *w, unsigned n);
/* Try binds that failed before (e.g. once a second). */
void nlwatch_retry(struct nlwatch *nw);

/* What is bound now, for /status: calls fn for each bound pair. */
void nlwatch_foreach_bound(const struct nlwatch *nw,
                           void (*fn)(void *arg, enum listener_kind kind, const rg_sockaddr *addr,
                                      const char *ifname),
                           void *arg);

/* ---- interface addresses: [tunnel] address on the TUN device ----
 *
 * Separate from the watcher: a few rtnetlink requests on a socket of their
 * own, run on the control thread at start and on reload. */

struct nladdr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 or 16 bytes, network order */
	unsigned prefix;
};

/* Same family, address and prefix length. */
bool nladdr_equal(const struct nladdr *x, const struct nladdr *y);

enum nladdr_op {
	NLADDR_ADD = 0, /* an address that came */
	NLADDR_DEL,     /* an address that left */
	NLADDR_READD,   /* an unchanged IPv4 address the kernel took along with a removed primary */
};
/* Told the outcome of each step (err 0 or negative errno), for the log. */
typedef void (*nladdr_report_fn)(void *ctx, enum nladdr_op op, const struct nladdr *a, int err);

/* Make link `ifindex` carry `want` where it carried `old` (what this
 * process put there before; n_old 0 at start). Addresses in both lists are
 * left alone; those only in old are removed, then those only in want are
 * added. Removal comes first because a new IPv4 address in the subnet of
 * one on the link becomes its secondary, and removing a primary removes
 * its secondaries too (net.ipv4.conf.*.promote_secondaries is off by
 * default); for the same reason an unchanged IPv4 address that shares the
 * subnet and prefix of a removed one is added again (NLADDR_READD). IPv6
 * addresses are added without duplicate address detection: usable at once
 * on a point-to-point TUN. An address already there, or already gone, is
 * not an error. Every step is tried whatever the earlier ones gave.
 * *now (room for n_old + n_want) gets what the link carries of both lists
 * afterwards (want's that are there, and old's that could not be removed):
 * the `old` of the next call. Returns 0 or the first negative errno. */
int nladdr_sync(unsigned ifindex, const struct nladdr *old, unsigned n_old, const struct nladdr *want,
                unsigned n_want, struct nladdr *now, unsigned *n_now, nladdr_report_fn report, void *ctx);

#endif
