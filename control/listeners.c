/* The listeners of the control thread: one SO_REUSEPORT socket per worker
 * for each listen address (UDP for QUIC and the tunnel, TCP for [https] and
 * [redirect]), handed over to the workers, the configured ones changed in
 * two steps (prepare, commit) and the iface ones bound and unbound by the
 * netlink watcher. Nothing here is on the packet path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/app.h"
#include "control/listeners.h"
#include "control/log.h"
#include "control/netlink.h"

/* ---- one listener ---- */

static bool listener_same(const struct app_listener *l, enum listener_kind k, const rg_sockaddr *s)
{
	if (l->kind != k || l->addr.sa.sa_family != s->sa.sa_family)
		return false;
	if (s->sa.sa_family == AF_INET)
		return l->addr.in4.sin_port == s->in4.sin_port &&
		       l->addr.in4.sin_addr.s_addr == s->in4.sin_addr.s_addr;
	return l->addr.in6.sin6_port == s->in6.sin6_port &&
	       !memcmp(&l->addr.in6.sin6_addr, &s->in6.sin6_addr, sizeof(s->in6.sin6_addr));
}

/* Open one SO_REUSEPORT socket per worker for l; nothing is handed over yet. */
static int listener_open(struct app *a, struct app_listener *l)
{
	/* one socket per worker, also before the workers run (start-up binds
	 * first so a taken port fails before anything else happened) */
	unsigned n = a->n_target;
	l->fds = malloc(sizeof(int) * n);
	if (!l->fds)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		l->fds[i] = -1;
	bool tcp = l->kind == LISTENER_HTTPS || l->kind == LISTENER_REDIRECT;
	for (unsigned i = 0; i < n; i++) {
		/* TCP: one SO_REUSEPORT listening socket per worker, accepted
		 * on that worker's ring (the kernel spreads by 4-tuple) */
		int fd = tcp ? ring_tcp_listen(&l->addr, 0) : ring_udp_open(&l->addr, true);
		if (fd < 0) {
			for (unsigned j = 0; j < i; j++)
				close(l->fds[j]);
			free(l->fds);
			l->fds = NULL;
			return fd;
		}
		l->fds[i] = fd;
	}
	/* Datagrams for a session or connection go straight to the worker
	 * that holds it (ARCHITECTURE.md "Steering"). */
	if (tcp)
		return 0;
	int err = l->kind == LISTENER_TUNNEL ? worker_tunnel_steer(l->fds[0], n) : worker_quic_steer(l->fds[0], n);
	if (err) {
		char s[80];
		log_warn("%s: cannot steer %s datagrams to their workers (%s); they are handed over instead",
		         addr_str(&l->addr, s, sizeof(s)), listener_kind_name(l->kind), strerror(-err));
	}
	return 0;
}

static void listener_hand_over(struct app *a, struct app_listener *l)
{
	for (unsigned i = 0; i < a->n_workers; i++) {
		struct ring_msg m = {.type = WORKER_MSG_SOCK_ADD, .u32 = l->kind, .u64 = (uint64_t)l->fds[i]};
		while (worker_post(a->workers[i], &m) == -EAGAIN)
			usleep(1000);
	}
	l->bound = true;
	char s[80];
	log_info("listening on %s (%s), %u sockets", addr_str(&l->addr, s, sizeof(s)),
	         listener_kind_name(l->kind), a->n_workers);
}

void listener_close(struct app *a, struct app_listener *l)
{
	if (l->bound) {
		/* the worker owns the fd now: it closes it */
		for (unsigned i = 0; i < a->n_workers; i++) {
			struct ring_msg m = {.type = WORKER_MSG_SOCK_DEL, .u64 = (uint64_t)l->fds[i]};
			while (worker_post(a->workers[i], &m) == -EAGAIN)
				usleep(1000);
		}
		char s[80];
		log_info("stopped listening on %s (%s)", addr_str(&l->addr, s, sizeof(s)),
		         listener_kind_name(l->kind));
	} else if (l->fds) {
		for (unsigned i = 0; i < a->n_target; i++)
			if (l->fds[i] >= 0)
				close(l->fds[i]);
	}
	free(l->fds);
	l->fds = NULL;
	l->bound = false;
}

/* ---- iface listeners (netlink watcher callbacks) ---- */

static int dyn_bind(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname)
{
	struct app *a = ctx;
	if (a->n_dyn == a->cap_dyn) {
		unsigned ncap = a->cap_dyn ? a->cap_dyn * 2 : 8;
		struct app_listener *n = realloc(a->dyn, sizeof(*n) * ncap);
		if (!n)
			return -ENOMEM;
		a->dyn = n;
		a->cap_dyn = ncap;
	}
	struct app_listener *l = &a->dyn[a->n_dyn];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->addr = *addr;
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	int err = listener_open(a, l);
	if (err) {
		char s[80];
		log_warn("cannot listen on %s (%s, interface %s): %s", addr_str(addr, s, sizeof(s)),
		         listener_kind_name(kind), ifname, strerror(-err));
		return err;
	}
	listener_hand_over(a, l);
	a->n_dyn++;
	return 0;
}

static void dyn_unbind(void *ctx, enum listener_kind kind, const rg_sockaddr *addr, const char *ifname)
{
	struct app *a = ctx;
	(void)ifname;
	for (unsigned i = 0; i < a->n_dyn; i++) {
		if (!listener_same(&a->dyn[i], kind, addr))
			continue;
		listener_close(a, &a->dyn[i]);
		a->dyn[i] = a->dyn[--a->n_dyn];
		return;
	}
}

const struct nlwatch_ops listeners_iface_ops = {.on_bind = dyn_bind, .on_unbind = dyn_unbind};

void listeners_next_free(struct app *a, struct listeners_next *nx, bool close_new)
{
	if (close_new && nx->l)
		for (unsigned k = 0; k < nx->n; k++)
			if (!nx->l[k].bound)
				listener_close(a, &nx->l[k]);
	free(nx->l);
	free(nx->kept);
	memset(nx, 0, sizeof(*nx));
}

int listeners_prepare(struct app *a, const struct rg_config *cfg, struct listeners_next *nx, char **errors)
{
	struct appcfg_listen *want = NULL;
	unsigned n_want = 0;
	memset(nx, 0, sizeof(*nx));
	int err = appcfg_listens(cfg, &want, &n_want);
	if (err)
		return err;
	nx->l = calloc(n_want ? n_want : 1, sizeof(*nx->l));
	nx->kept = calloc(a->n_listeners ? a->n_listeners : 1, sizeof(*nx->kept));
	if (!nx->l || !nx->kept) {
		free(want);
		listeners_next_free(a, nx, false);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n_want; i++, nx->n++) {
		struct app_listener *l = &nx->l[i];
		l->kind = want[i].kind;
		l->addr = want[i].addr;
		for (unsigned j = 0; j < a->n_listeners; j++) {
			if (!nx->kept[j] && listener_same(&a->listeners[j], want[i].kind, &want[i].addr)) {
				nx->kept[j] = true;
				*l = a->listeners[j]; /* takes over its sockets */
				break;
			}
		}
		if (l->fds)
			continue;
		err = listener_open(a, l);
		if (err) {
			char s[80];
			if (asprintf(errors, "cannot listen on %s (%s): %s\n", addr_str(&want[i].addr, s, sizeof(s)),
			             listener_kind_name(want[i].kind), strerror(-err)) < 0)
				*errors = NULL;
			/* close only what this call opened; kept ones stay with a->listeners */
			for (unsigned k = 0; k < i; k++)
				if (!nx->l[k].bound)
					listener_close(a, &nx->l[k]);
			nx->n = 0;
			free(want);
			listeners_next_free(a, nx, false);
			return err;
		}
	}
	free(want);
	return 0;
}

void listeners_commit(struct app *a, struct listeners_next *nx)
{
	for (unsigned i = 0; i < nx->n; i++)
		if (!nx->l[i].bound)
			listener_hand_over(a, &nx->l[i]);
	for (unsigned j = 0; j < a->n_listeners; j++)
		if (!nx->kept[j])
			listener_close(a, &a->listeners[j]);
	free(a->listeners);
	a->listeners = nx->l;
	a->n_listeners = nx->n;
	nx->l = NULL;
	listeners_next_free(a, nx, false);
}
