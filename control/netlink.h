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

#endif
