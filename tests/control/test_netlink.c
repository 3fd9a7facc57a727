/* The netlink watcher against the real kernel, in a private network
 * namespace (run by netlink.sh under unshare -n): addresses appear and go,
 * the link goes down and up, the interface is deleted and created again. veth pairs: this kernel
 * has no dummy interfaces, and the peer end must be up for the link to
 * carry traffic (not needed for binding, but it is what a real box has).
 * on_bind really binds a UDP socket, so "bound" means bindable. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/log.h"
#include "control/netlink.h"

#define MAXB 32
static struct {
	rg_sockaddr addr;
	int fd;
} bound[MAXB];
static int n_bound, failures;

static const char *str(const rg_sockaddr *a, char *buf, size_t len)
{
	char ip[64];
	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->in4.sin_port));
	} else {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	}
	return buf;
}

static int on_bind(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname)
{
	(void)ctx;
	(void)kind;
	(void)ifname;
	int fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len = addr->sa.sa_family == AF_INET ? sizeof(addr->in4) : sizeof(addr->in6);
	if (fd < 0 || bind(fd, &addr->sa, len) < 0) {
		char b[80];
		int err = -errno;
		printf("  bind %s failed: %s\n", str(addr, b, sizeof(b)), strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	bound[n_bound].addr = *addr;
	bound[n_bound++].fd = fd;
	return 0;
}

static void on_unbind(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname)
{
	(void)ctx;
	(void)kind;
	(void)ifname;
	char want[80], have[80];
	str(addr, want, sizeof(want));
	for (int i = 0; i < n_bound; i++) {
		if (strcmp(str(&bound[i].addr, have, sizeof(have)), want))
			continue;
		close(bound[i].fd);
		bound[i] = bound[--n_bound];
		return;
	}
	printf("FAIL: unbind of %s that was not bound\n", want);
	failures++;
}

/* The bound set as a sorted, comma-separated string, link-local left out
 * (its address depends on the interface's MAC). */
static void bound_str(char *out, size_t len)
{
	char items[MAXB][80];
	int n = 0;
	for (int i = 0; i < n_bound; i++) {
		if (bound[i].addr.sa.sa_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&bound[i].addr.in6.sin6_addr))
			continue;
		str(&bound[i].addr, items[n++], 80);
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(items[i], items[j]) > 0) {
				char t[80];
				memcpy(t, items[i], 80);
				memcpy(items[i], items[j], 80);
				memcpy(items[j], t, 80);
			}
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		strncat(out, i ? "," : "", len - strlen(out) - 1);
		strncat(out, items[i], len - strlen(out) - 1);
	}
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		printf("FAIL: '%s'\n", cmd);
		failures++;
	}
}

/* Process events until the bound set is `want`, at most `ms`. */
static void set_wants(struct nlwatch *nw, const struct nlwatch_want *w, unsigned n)
{
	int err = nlwatch_set_wants(nw, w, n);
	if (err) {
		printf("  nlwatch_set_wants: %s\n", strerror(-err));
		failures++;
	}
}

static void expect_within(struct nlwatch *nw, const char *step, const char *want, int ms)
{
	char have[1024];
	for (int i = 0; i < ms / 10; i++) {
		struct pollfd p = {.fd = nlwatch_fd(nw), .events = POLLIN};
		poll(&p, 1, 10);
		nlwatch_process(nw);
		nlwatch_retry(nw); /* as the control loop does every tick */
		bound_str(have, sizeof(have));
		if (!strcmp(have, want)) {
			printf("ok: %s -> {%s} after %d ms\n", step, have, i * 10);
			return;
		}
	}
	printf("FAIL: %s: bound {%s}, want {%s}\n", step, have, want);
	failures++;
}

/* The bound: an address is served within 2 s of appearing. */
static void expect(struct nlwatch *nw, const char *step, const char *want)
{
	expect_within(nw, step, want, 2000);
}

int main(void)
{
	static const struct nlwatch_ops ops = {.on_bind = on_bind, .on_unbind = on_unbind};
	struct nlwatch *nw;
	log_setup(LOG_DEBUG, false);
	sh("ip link add rgt0 type veth peer name rgt0p && ip link set rgt0p up && ip link set rgt0 up");
	int err = nlwatch_open(&ops, NULL, &nw);
	if (err) {
		printf("FAIL: nlwatch_open: %s\n", strerror(-err));
		return 1;
	}
	struct nlwatch_want w[] = {
		{.kind = LISTENER_QUIC, .ifname = "rgt0", .port = 4433},
		{.kind = LISTENER_TUNNEL, .ifname = "rgt1", .port = 51820},
	};
	set_wants(nw, w, 2);
	expect(nw, "no addresses yet", "");
	sh("ip addr add 10.99.0.1/24 dev rgt0");
	expect(nw, "IPv4 address added", "10.99.0.1:4433");
	sh("ip addr add 2001:db8:99::1/64 dev rgt0");
	/* With DAD the address is tentative for about a second (it cannot be
	 * bound before): bound once it settles. */
	expect_within(nw, "IPv6 address added (after DAD)", "10.99.0.1:4433,[2001:db8:99::1]:4433", 5000);
	sh("ip addr add 2001:db8:98::1/64 dev rgt0 nodad");
	expect(nw, "IPv6 address added (nodad)", "10.99.0.1:4433,[2001:db8:98::1]:4433,[2001:db8:99::1]:4433");
	sh("ip addr del 2001:db8:98::1/64 dev rgt0");
	expect(nw, "IPv6 address removed", "10.99.0.1:4433,[2001:db8:99::1]:4433");
	/* another subnet: deleting a primary address also deletes the
	 * secondaries of its subnet */
	sh("ip addr add 10.97.0.2/24 dev rgt0");
	expect(nw, "second IPv4 address", "10.97.0.2:4433,10.99.0.1:4433,[2001:db8:99::1]:4433");
	sh("ip addr del 10.99.0.1/24 dev rgt0");
	expect(nw, "IPv4 address removed", "10.97.0.2:4433,[2001:db8:99::1]:4433");
	sh("ip link set rgt0 down");
	expect(nw, "link down", "");
	/* IPv4 addresses survive the link going down; IPv6 ones are flushed
	 * (net.ipv6.conf.*.keep_addr_on_down = 0, the default) */
	sh("ip link set rgt0 up");
	expect(nw, "link up again", "10.97.0.2:4433");
	sh("ip link del rgt0");
	expect(nw, "interface deleted", "");
	sh("ip link add rgt0 type veth peer name rgt0p && ip link set rgt0p up && ip addr add 10.99.0.3/24 dev rgt0 && ip link set rgt0 up");
	expect(nw, "interface created again", "10.99.0.3:4433");
	/* another wanted interface, other kind */
	sh("ip link add rgt1 type veth peer name rgt1p && ip link set rgt1p up && ip addr add 10.98.0.1/24 dev rgt1 && ip link set rgt1 up");
	expect(nw, "second interface", "10.98.0.1:51820,10.99.0.3:4433");
	/* reload drops a want: its addresses are unbound, the other stays */
	set_wants(nw, w, 1);
	expect(nw, "want removed", "10.99.0.3:4433");
	set_wants(nw, NULL, 0);
	expect(nw, "no wants", "");
	nlwatch_close(nw);
	for (int i = 0; i < n_bound; i++)
		close(bound[i].fd);
	printf("%s\n", failures ? "netlink: FAILED" : "netlink: ok");
	return failures ? 1 : 0;
}
