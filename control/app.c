/* The control thread: loads the configuration, starts the workers, binds the
 * listeners and hands their sockets over, serves the admin API, handles
 * signals and reloads. Nothing here is on the packet path. */
#include <assert.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/app.h"
#include "control/appcfg.h"
#include "control/filewatch.h"
#include "control/genbuild.h"
#include "control/listeners.h"
#include "control/log.h"
#include "control/netlink.h"
#include "control/service.h"
#include "datapath/quic/quic.h"
#include "datapath/tunnel/shard.h"
#include "datapath/tunnel/tun.h"
#include "ini/config.h"
#include "tls/tls.h"

#define TICK_NS (200ull * 1000 * 1000)

enum { EP_SIGNAL = 1, EP_TICK, EP_ADMIN, EP_RESPONDER, EP_NETLINK, EP_FILES };

/* ---- configuration ---- */

/* Load the file (or the demo text) into a new configuration; errors into
 * *errors as text, one per line. --strict: warnings are errors. */
static int load_config(struct app *a, struct rg_config **out, char **errors)
{
	return appcfg_load(a->demo ? "demo.ini" : a->config_path, a->config_text, a->strict, out, errors);
}

static void gen_free(struct gen *g)
{
	gen_build_free(g->priv);
	appcfg_free((struct rg_config *)g->cfg);
	free(g);
}

static void diag_log(void *ctx, enum log_level level, const char *msg)
{
	(void)ctx;
	log_msg(level, "%s", msg);
}

/* tls/'s lines (refused handshakes) go to the process's log; its levels
 * are enum log_level's values (tls/tls.h). */
_Static_assert(TLS_LOG_ERROR == (int)LOG_ERROR && TLS_LOG_WARN == (int)LOG_WARN &&
                   TLS_LOG_INFO == (int)LOG_INFO && TLS_LOG_DEBUG == (int)LOG_DEBUG,
               "tls/ log levels are enum log_level's");
static void tls_log(int level, const char *fmt, va_list ap)
{
	log_vmsg((enum log_level)level, fmt, ap);
}

/* What a reload cannot change. Every [quic] key reloads (the workers take
 * them for new connections, quic_server_set_params; new listen addresses
 * are bound like any listener), but the QUIC servers themselves are made
 * at start: a [quic] section cannot appear or go. */
static int reload_check(struct app *a, const struct rg_config *cfg, char **errors)
{
	const char *file = a->demo ? "demo.ini" : a->config_path;
	/* the workers make their TCP front end (and the proxy) at start */
	if (a->cfg && !a->cfg->https && !a->cfg->redirect && (cfg->https || cfg->redirect)) {
		unsigned line = cfg->https ? cfg->https->line : cfg->redirect->line;
		if (asprintf(errors, "%s:%u: [%s] cannot be added by a reload: restart ringgate\n", file, line,
		             cfg->https ? "https" : "redirect") < 0)
			*errors = NULL;
		return -EINVAL;
	}
	if (!a->cfg || !a->cfg->quic == !cfg->quic)
		return 0;
	int n = cfg->quic ? asprintf(errors, "%s:%u: [quic] cannot be added by a reload: restart ringgate\n", file,
	                             cfg->quic->line)
	                  : asprintf(errors, "%s: [quic] cannot be removed by a reload: restart ringgate\n", file);
	if (n < 0)
		*errors = NULL;
	return -EINVAL;
}

/* Build the generation of cfg (genbuild.h; the one in force lends its
 * peers' DH), publish it, wake the workers. On failure nothing was
 * published and cfg is still the caller's; on success the generation owns
 * cfg. */
RG_MUST_CHECK static int publish(struct app *a, struct rg_config *cfg)
{
	const struct gen *cur = atomic_load(&a->pub.current);
	struct gen_build_in in = {
		.prev = cur ? cur->priv : NULL,
		.n_workers = a->n_target,
		.diag = {.fn = diag_log},
	};
	struct worker_gen *wg = NULL;
	struct gen *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	int err = gen_build(cfg, &in, &wg);
	if (err) {
		free(g);
		return err;
	}
	g->cfg = cfg;
	g->priv = wg;
	g->destroy = gen_free;
	gen_publish(&a->pub, g);
	a->cfg = cfg;
	/* Wake every worker so it picks the generation up now, not at its next
	 * packet. A full channel means the worker is busy and will look anyway
	 * at the top of its next turn. */
	struct ring_msg m = {.type = WORKER_MSG_GEN};
	for (unsigned i = 0; i < a->n_workers; i++) {
		int werr = worker_post(a->workers[i], &m);
		assert(!werr || werr == -EAGAIN); /* -EAGAIN: full, see above */
		(void)werr;
	}
	return 0;
}

int app_validate(struct app *a)
{
	struct rg_config *cfg = NULL;
	char *errors = NULL;
	int err = 0;
	if (a->demo)
		err = demo_prepare(a);
	if (!err)
		err = load_config(a, &cfg, &errors);
	if (err) {
		if (errors)
			fputs(errors, stderr);
		else
			fprintf(stderr, "ringgate: %s: %s\n", a->config_path ? a->config_path : "demo",
			        strerror(-err));
		free(errors);
		admin_close(a->responder);
		a->responder = NULL;
		demo_cleanup(a);
		return 1;
	}
	appcfg_warnings_report(cfg, true);
	const char *const *w;
	unsigned n_warn = appcfg_warnings(cfg, &w);
	if (n_warn)
		printf("%s: configuration is valid, with %u warning%s\n", a->demo ? "demo" : a->config_path,
		       n_warn, n_warn == 1 ? "" : "s");
	else
		printf("%s: configuration is valid\n", a->demo ? "demo" : a->config_path);
	appcfg_free(cfg);
	admin_close(a->responder);
	demo_cleanup(a);
	return 0;
}

/* ---- listeners (control/listeners.c), interfaces, watched files ---- */

static int add_ep(struct app *a, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Hand the config's iface listeners to the netlink watcher, opening it the
 * first time one is configured. */
static int ifaces_apply(struct app *a, const struct rg_config *cfg)
{
	struct nlwatch_want *w = NULL;
	unsigned n = 0;
	int err = appcfg_iface_wants(cfg, &w, &n);
	if (err)
		return err;
	if (n && !a->nlwatch) {
		err = nlwatch_open(&listeners_iface_ops, a, &a->nlwatch);
		if (!err)
			err = add_ep(a, nlwatch_fd(a->nlwatch), EP_NETLINK);
		if (err) {
			log_error("cannot watch interfaces through netlink: %s", strerror(-err));
			free(w);
			return err;
		}
	}
	if (a->nlwatch)
		err = nlwatch_set_wants(a->nlwatch, w, n);
	free(w);
	return err;
}

static void files_apply(struct app *a, const struct rg_config *cfg)
{
	const char **paths = NULL;
	unsigned n = 0;
	if (!a->filewatch) {
		if (filewatch_open(&a->filewatch) || add_ep(a, filewatch_fd(a->filewatch), EP_FILES)) {
			log_warn("cannot watch certificate and peer files; reload by SIGHUP or the admin API");
			filewatch_close(a->filewatch);
			a->filewatch = NULL;
			return;
		}
	}
	int err = appcfg_watched_files(cfg, &paths, &n);
	if (!err)
		err = filewatch_set(a->filewatch, paths, n);
	if (err)
		log_warn("cannot watch the certificate and peer files (%s); reload by SIGHUP or the admin API",
		         strerror(-err));
	free(paths);
}

/* ---- start-up ---- */

/* [https] max_connections is per worker and each connection holds a
 * descriptor (two while a request is proxied): the soft limit is raised
 * to the hard one, and what still does not fit is said at start. */
static void https_fd_check(const struct app *a)
{
	if (!a->cfg->https)
		return;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
		if (!setrlimit(RLIMIT_NOFILE, &up))
			rl = up;
	}
	uint64_t want = 2ull * a->n_target * a->cfg->https->max_connections + 256;
	if (rl.rlim_cur != RLIM_INFINITY && want > rl.rlim_cur)
		log_warn("%s:%u: [https] max_connections = %u per worker, %u workers: up to %llu descriptors, "
		         "the limit is %llu (ulimit -n / LimitNOFILE=): accepts will fail with EMFILE before the pool is full",
		         a->demo ? "demo.ini" : a->config_path, a->cfg->https->line, a->cfg->https->max_connections,
		         a->n_target, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static int start_workers(struct app *a)
{
	unsigned cpus[1024];
	unsigned n_cpus = 0;
	int err = appcfg_cpus(a->cfg, cpus, 1024, &n_cpus);
	if (err) {
		fprintf(stderr, "ringgate: cannot read the CPU set: %s\n", strerror(-err));
		return 2;
	}
	unsigned n = a->n_target;
	a->workers = calloc(n, sizeof(*a->workers));
	if (!a->workers) {
		fprintf(stderr, "ringgate: out of memory\n");
		return 2;
	}
	struct appcfg_tun tun;
	unsigned tun_mtu = appcfg_tunnel_tun(a->cfg, &tun) ? 0 : tun.mtu; /* -ENOENT: no [tunnel] */
	/* the published generation's [quic]: its credentials, loaded once */
	const struct worker_gen *wg = atomic_load(&a->pub.current)->priv;
	struct quic_params qp = wg->quic;
	bool quic = wg->quic_vhosts != NULL;
	if (quic) {
		if (getrandom(a->quic_secret, sizeof(a->quic_secret), 0) != sizeof(a->quic_secret)) {
			fprintf(stderr, "ringgate: no randomness for the QUIC token key\n");
			return 2;
		}
		qp.static_secret = a->quic_secret;
		qp.n_workers = n;
	}
	tls_log_set(tls_log); /* before any worker runs a handshake */
	bool https = a->cfg->https || a->cfg->redirect;
	https_fd_check(a);
	if (https && getrandom(a->https_ticket, sizeof(a->https_ticket), 0) != sizeof(a->https_ticket)) {
		fprintf(stderr, "ringgate: no randomness for the TLS session ticket key\n");
		return 2;
	}
	for (unsigned i = 0; i < n; i++) {
		qp.worker_id = i;
		struct worker_params p = {
			.id = i,
			.cpu = n_cpus ? (int)cpus[i % n_cpus] : -1,
			.pub = &a->pub,
			.log = log_vmsg,
			.quic = quic ? &qp : NULL,
			.tunnel_key = appcfg_tunnel_key(a->cfg),
			.tunnel_mtu = tun_mtu,
			.tunnel_capacity = a->tunnel_capacity,
			.shard = a->shard,
			.tun_fd = a->tun_fds ? a->tun_fds[i] : -1,
			.peers = a->workers, /* QUIC hand-off to the CID's owner */
			.n_peers = n,
			.https = https,
			.https_ticket_key = https ? a->https_ticket : NULL,
		};
		if (a->tun_fds)
			a->tun_fds[i] = -1; /* the worker's from here, even if it fails */
		ring_opts_default(&p.ring);
		if (a->backend != RING_BACKEND_AUTO)
			p.ring.backend = a->backend;
		err = worker_start(&p, &a->workers[i]);
		if (err) {
			fprintf(stderr, "ringgate: cannot start worker %u: %s\n", i, strerror(-err));
			return 2;
		}
		a->n_workers++;
	}
	log_info("%u workers on the %s backend", n, ring_backend_name(worker_backend(a->workers[0])));
	if (a->tunnel_capacity)
		log_info("tunnel: %u peers configured, room for %u sessions per worker", appcfg_tunnel_peer_count(a->cfg),
		         a->tunnel_capacity);
	return 0;
}

static const char *tun_addr_str(const struct nladdr *x, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(x->family, x->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, x->prefix);
	return buf;
}

/* nladdr_sync's report: at start (nothing running yet) a failure is the
 * one line on stderr; on reload each step goes to the log. */
static void tun_addr_report(void *ctx, enum nladdr_op op, const struct nladdr *x, int err)
{
	struct app *a = ctx;
	char s[INET6_ADDRSTRLEN + 8];
	static const char *const verb[] = {"add", "remove", "add again"};
	tun_addr_str(x, s, sizeof(s));
	if (err && !a->n_workers)
		fprintf(stderr, "ringgate: cannot %s address %s on TUN device %s: %s\n", verb[op], s, a->tun_name,
		        strerror(-err));
	else if (err)
		log_error("reload: cannot %s address %s on %s: %s", verb[op], s, a->tun_name, strerror(-err));
	else if (a->n_workers)
		log_info("reload: %s address %s %s%s", a->tun_name, s,
		         op == NLADDR_DEL ? "removed" : "added",
		         op == NLADDR_READD ? " again (the kernel took it along with a removed primary)" : "");
	else
		log_info("TUN device %s: address %s", a->tun_name, s);
}

/* [tunnel]: the shared owner map and hand-off rings, and the TUN device
 * (one queue per worker, address, MTU, up), before privileges are dropped. */
static int start_tunnel(struct app *a)
{
	a->tunnel_capacity = appcfg_tunnel_capacity(a->cfg); /* 0 without [tunnel] */
	struct appcfg_tun t;
	if (appcfg_tunnel_tun(a->cfg, &t))
		return 0;
	size_t ring_bytes = a->n_target <= 8 ? (4u << 20) : (1u << 20);
	/* the owner map holds every peer that has a session somewhere */
	int err = tunnel_shard_create(a->n_target, a->tunnel_capacity, ring_bytes, &a->shard);
	if (err) {
		fprintf(stderr, "ringgate: tunnel: %s\n", strerror(-err));
		return 2;
	}
	if (!t.name)
		return 0;
	a->tun_fds = calloc(a->n_target, sizeof(int));
	struct tun_info info;
	err = a->tun_fds ? tun_open(t.name, a->n_target, a->tun_fds, &info) : -ENOMEM;
	if (err) {
		fprintf(stderr, "ringgate: cannot open TUN device %s with %u queues: %s\n", t.name, a->n_target,
		        strerror(-err));
		free(a->tun_fds);
		a->tun_fds = NULL;
		return 2;
	}
	/* MTU and up first: a link below 1280 has no IPv6, so the MTU must be
	 * in place before an IPv6 address can be. */
	const char *why = "";
	err = tun_link_set(&info, t.mtu, &why);
	if (err) {
		fprintf(stderr, "ringgate: cannot set up TUN device %s (%s): %s\n", info.name, why, strerror(-err));
		return 2;
	}
	snprintf(a->tun_name, sizeof(a->tun_name), "%s", info.name);
	a->tun_ifindex = info.ifindex;
	a->tun_now = t;
	a->tun_now.name = NULL; /* points into the config, which reloads replace */
	err = nladdr_sync(info.ifindex, NULL, 0, t.addrs, t.n_addrs, a->tun_now.addrs, &a->tun_now.n_addrs,
	                  tun_addr_report, a);
	if (err)
		return 2; /* the failing address is on stderr */
	char off[64];
	log_info("TUN device %s: %u queues, mtu %u, offloads %s", info.name, a->n_target, t.mtu,
	         tun_offload_str(info.offload, off, sizeof(off)));
	return 0;
}

static int start_admin(struct app *a)
{
	int err = appcfg_admin(a->cfg, &a->admin_addr, &a->admin_token);
	if (err) {
		fprintf(stderr, "ringgate: admin token: %s\n", strerror(-err));
		return 1;
	}
	err = admin_open(&a->admin_addr, api_handle, a, &a->admin);
	if (err) {
		char s[80];
		fprintf(stderr, "ringgate: cannot listen on %s (admin API): %s\n",
		        addr_str(&a->admin_addr, s, sizeof(s)), strerror(-err));
		return 2;
	}
	return add_ep(a, admin_fd(a->admin), EP_ADMIN) ? 2 : 0;
}

static int start_control_fds(struct app *a)
{
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	a->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->epfd < 0 || a->sigfd < 0 || a->tickfd < 0)
		return -errno;
	struct itimerspec its = {
		.it_interval = {.tv_nsec = (long)TICK_NS},
		.it_value = {.tv_nsec = (long)TICK_NS},
	};
	if (timerfd_settime(a->tickfd, 0, &its, NULL) < 0)
		return -errno;
	int err = add_ep(a, a->sigfd, EP_SIGNAL);
	if (!err)
		err = add_ep(a, a->tickfd, EP_TICK);
	return err;
}

int app_start(struct app *a)
{
	a->epfd = a->sigfd = a->tickfd = -1;
	a->started_ns = ring_now();
	a->started_wall = time(NULL);

	/* Block the signals before any thread exists so that every thread
	 * inherits the mask and only the signalfd sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (start_control_fds(a)) {
		fprintf(stderr, "ringgate: cannot set up the control thread: %s\n", strerror(errno));
		return 2;
	}
	if (a->demo) {
		int err = demo_prepare(a);
		if (err) {
			fprintf(stderr, "ringgate: cannot prepare the demo: %s\n", strerror(-err));
			return 2;
		}
		if (a->responder && add_ep(a, admin_fd(a->responder), EP_RESPONDER))
			return 2;
	}

	struct rg_config *cfg = NULL;
	char *errors = NULL;
	int err = load_config(a, &cfg, &errors);
	if (err) {
		if (errors)
			fputs(errors, stderr);
		else
			fprintf(stderr, "ringgate: %s: %s\n", a->config_path, strerror(-err));
		free(errors);
		return 1;
	}
	a->cfg = cfg;
	if (!a->log_level_forced)
		log_setup(appcfg_log_level(cfg), log_json_enabled());
	appcfg_warnings_report(cfg, false);

	/* Bind everything first: a taken port or a missing permission is then
	 * the one line on stderr, before any worker started. */
	unsigned cpus[1024], n_cpus = 0;
	int cerr = appcfg_cpus(cfg, cpus, 1024, &n_cpus);
	if (cerr)
		log_warn("[appliance] cpus: %s; the workers are not pinned",
		         cerr == -EINVAL ? "none of the listed CPUs is one this process may run on"
		                         : strerror(-cerr));
	a->n_target = a->workers_override ? a->workers_override : appcfg_workers(cfg);
	if (a->n_target == 0) /* auto: one per CPU */
		a->n_target = n_cpus ? n_cpus : 1;
	int rc = start_admin(a);
	if (rc) {
		appcfg_free(cfg);
		a->cfg = NULL;
		return rc;
	}
	struct listeners_next nx;
	err = listeners_prepare(a, cfg, &nx, &errors);
	if (err) {
		fprintf(stderr, "ringgate: %s", errors ? errors : "cannot bind the listeners\n");
		free(errors);
		appcfg_free(cfg);
		a->cfg = NULL;
		return 2;
	}
	rc = start_tunnel(a);
	if (!rc && gen_pub_init(&a->pub, a->n_target)) {
		fprintf(stderr, "ringgate: out of memory\n");
		rc = 2;
	}
	/* The first generation before the workers: they start with its
	 * credentials instead of each reading the PEM files. */
	if (!rc && (err = publish(a, cfg)) != 0) {
		fprintf(stderr, "ringgate: cannot build the configuration for the workers: %s\n", strerror(-err));
		rc = 2;
	}
	if (rc) {
		listeners_next_free(a, &nx, true);
		appcfg_free(cfg);
		a->cfg = NULL;
		return rc;
	}
	rc = start_workers(a); /* from here the generation owns cfg */
	if (rc) {
		listeners_next_free(a, &nx, true);
		return rc;
	}
	char s[80];
	log_info("admin API on http://%s/ (%s)", addr_str(&a->admin_addr, s, sizeof(s)),
	         a->admin_token ? "bearer token" : "open to local callers");
	listeners_commit(a, &nx);
	if (ifaces_apply(a, cfg)) {
		fprintf(stderr, "ringgate: cannot follow the listen interfaces through netlink\n");
		return 2;
	}
	files_apply(a, cfg);
	const char *user = appcfg_user(cfg);
	if (user && *user) {
		const char *why = "";
		err = service_drop_root(user, &why);
		if (err) {
			fprintf(stderr, "ringgate: cannot drop root to user %s: %s: %s\n", user, why,
			        strerror(-err));
			return 2;
		}
		log_info("running as user %s with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE", user);
	}
	if (a->demo)
		demo_banner(a);
	uint64_t gen = atomic_load(&a->pub.current)->id;
	log_info("ringgate %s ready (config generation %llu)", RG_VERSION, (unsigned long long)gen);
	service_ready(gen);
	return 0;
}

/* ---- reload ---- */

/* [tunnel] address: the TUN device takes the new list now: addresses that
 * left are removed, those that came are added, the others are left alone
 * (sessions stay; inner packets to or from a removed address stop). mtu:
 * the workers' buffers were sized for the old one, so at the next start. */
static void tun_apply(struct app *a, const struct rg_config *cfg)
{
	struct appcfg_tun t;
	if (!a->tun_ifindex || appcfg_tunnel_tun(cfg, &t))
		return;
	if (t.mtu != a->tun_now.mtu)
		log_warn("reload: [tunnel] mtu %u takes effect at the next start (running %u)", t.mtu, a->tun_now.mtu);
	if (appcfg_tun_addrs_same(&t, &a->tun_now))
		return;
	struct nladdr now[APPCFG_TUN_MAX_ADDRS];
	unsigned n_now = 0;
	/* *now has room for old + want: both are at most RG_CFG_MAX_TUN_ADDRS
	 * from a config, and what could not be removed is dropped from the
	 * tracked list beyond that (logged as it failed) */
	struct nladdr old[APPCFG_TUN_MAX_ADDRS / 2];
	unsigned n_old = a->tun_now.n_addrs < APPCFG_TUN_MAX_ADDRS / 2 ? a->tun_now.n_addrs : APPCFG_TUN_MAX_ADDRS / 2;
	memcpy(old, a->tun_now.addrs, n_old * sizeof(old[0]));
	if (nladdr_sync(a->tun_ifindex, old, n_old, t.addrs, t.n_addrs, now, &n_now, tun_addr_report, a))
		log_error("reload: %s does not carry every [tunnel] address; the next reload tries again", a->tun_name);
	memcpy(a->tun_now.addrs, now, n_now * sizeof(now[0]));
	a->tun_now.n_addrs = n_now;
}

int app_reload(struct app *a, char **errors)
{
	struct rg_config *cfg = NULL;
	struct listeners_next nx;
	*errors = NULL;
	service_reloading();
	int err = load_config(a, &cfg, errors);
	if (!err && (err = reload_check(a, cfg, errors)) != 0)
		appcfg_free(cfg);
	if (!err) {
		appcfg_warnings_report(cfg, false);
		unsigned n = a->workers_override ? a->workers_override : appcfg_workers(cfg);
		if (n && n != a->n_workers)
			log_warn("reload: workers = %u takes effect at the next start (running %u)", n,
			         a->n_workers);
		struct appcfg_tun t;
		if (!appcfg_tunnel_tun(cfg, &t) && (t.name ? strcmp(t.name, a->tun_name) != 0 : a->tun_name[0] != 0))
			log_warn("reload: [tunnel] tun takes effect at the next start (running %s)",
			         a->tun_name[0] ? a->tun_name : "without a TUN device");
		unsigned peers = appcfg_tunnel_peer_count(cfg);
		if (a->tunnel_capacity && peers > a->tunnel_capacity)
			log_warn("reload: %u tunnel peers, room for %u sessions per worker until the next start", peers,
			         a->tunnel_capacity);
		err = listeners_prepare(a, cfg, &nx, errors);
		if (!err) {
			err = publish(a, cfg);
			if (err) {
				listeners_next_free(a, &nx, true);
				if (asprintf(errors, "cannot build the configuration for the workers: %s\n",
				             strerror(-err)) < 0)
					*errors = NULL;
			}
		}
		if (err)
			appcfg_free(cfg);
	}
	if (err) {
		a->reloads_failed++;
		log_error("reload refused, the old configuration stays:\n%s",
		          *errors ? *errors : strerror(-err));
		service_reloaded(atomic_load(&a->pub.current)->id);
		return err;
	}
	listeners_commit(a, &nx);
	/* a changed token file takes effect now; a changed admin address at
	 * the next start (the socket stays) */
	rg_sockaddr admin_addr;
	char *token = NULL;
	if (!appcfg_admin(cfg, &admin_addr, &token)) {
		free(a->admin_token);
		a->admin_token = token;
		if (memcmp(&admin_addr, &a->admin_addr, sizeof(admin_addr)))
			log_warn("reload: a new admin address takes effect at the next start");
	}
	if (ifaces_apply(a, cfg))
		log_warn("reload: interface listeners not updated");
	tun_apply(a, cfg);
	files_apply(a, cfg);
	if (!a->log_level_forced)
		log_setup(appcfg_log_level(cfg), log_json_enabled());
	a->reloads_ok++;
	uint64_t gen = atomic_load(&a->pub.current)->id;
	log_info("reloaded: config generation %llu", (unsigned long long)gen);
	service_reloaded(gen);
	return 0;
}

/* ---- the loop ---- */

void app_begin_stop(struct app *a, const char *why)
{
	if (a->draining || !a->n_workers) {
		log_info("%s: stopping now", why);
		a->stopping = true;
		return;
	}
	a->draining = true;
	a->drain_deadline = ring_now() + APP_DRAIN_NS;
	service_stopping();
	log_info("%s: draining: no new connections, requests in flight finish (up to %llu s)", why,
	         (unsigned long long)(APP_DRAIN_NS / 1000000000ull));
	struct ring_msg m = {.type = WORKER_MSG_DRAIN, .u64 = a->drain_deadline};
	for (unsigned i = 0; i < a->n_workers; i++)
		for (int tries = 0; worker_post(a->workers[i], &m) == -EAGAIN && tries < 100; tries++)
			usleep(1000);
}

/* During a drain, on every tick: stop once every worker is done, or a
 * little after the deadline whatever they say. */
static void drain_check(struct app *a, uint64_t now)
{
	if (!a->draining || a->stopping)
		return;
	unsigned done = 0;
	for (unsigned i = 0; i < a->n_workers; i++)
		done += worker_drained(a->workers[i]);
	if (done == a->n_workers || now > a->drain_deadline + 1000000000ull) {
		log_info("drained (%u of %u workers finished): stopping", done, a->n_workers);
		a->stopping = true;
	}
}

static void on_signal(struct app *a)
{
	struct signalfd_siginfo si;
	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			app_begin_stop(a, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		case SIGHUP: {
			char *errors = NULL;
			log_info("SIGHUP: reloading");
			app_reload(a, &errors);
			free(errors);
			break;
		}
		}
	}
}

int app_run(struct app *a)
{
	while (!a->stopping) {
		struct epoll_event evs[16];
		int n = epoll_wait(a->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("control loop: %s", strerror(errno));
			return 2;
		}
		uint64_t now = ring_now();
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EP_SIGNAL:
				on_signal(a);
				break;
			case EP_TICK: {
				uint64_t ticks;
				if (read(a->tickfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
					log_warn("timerfd: %s", strerror(errno));
				gen_collect(&a->pub);
				drain_check(a, now);
				admin_process(a->admin, now);
				if (a->responder)
					admin_process(a->responder, now);
				if (a->nlwatch)
					nlwatch_retry(a->nlwatch); /* binds that failed before */
				if (a->filewatch && filewatch_due(a->filewatch, now)) {
					char *errors = NULL;
					log_info("certificate or peer files changed: reloading");
					app_reload(a, &errors);
					free(errors);
				}
				break;
			}
			case EP_NETLINK:
				nlwatch_process(a->nlwatch);
				break;
			case EP_FILES:
				filewatch_process(a->filewatch, now);
				break;
			case EP_ADMIN:
				admin_process(a->admin, now);
				break;
			case EP_RESPONDER:
				admin_process(a->responder, now);
				break;
			}
		}
	}
	service_stopping();
	return a->exit_code;
}

void app_stop(struct app *a)
{
	nlwatch_close(a->nlwatch); /* no callbacks from here on */
	a->nlwatch = NULL;
	filewatch_close(a->filewatch);
	a->filewatch = NULL;
	for (unsigned i = 0; i < a->n_dyn; i++)
		if (!a->dyn[i].bound)
			listener_close(a, &a->dyn[i]);
	for (unsigned i = 0; i < a->n_listeners; i++)
		if (!a->listeners[i].bound)
			listener_close(a, &a->listeners[i]);
	/* workers close the sockets they own as they stop */
	for (unsigned i = 0; i < a->n_workers; i++)
		worker_stop(a->workers[i]);
	if (a->tun_fds) /* queues of workers that never started */
		for (unsigned i = 0; i < a->n_target; i++)
			if (a->tun_fds[i] >= 0)
				close(a->tun_fds[i]);
	free(a->tun_fds);
	a->tun_fds = NULL;
	tunnel_shard_destroy(a->shard); /* no worker uses it any more */
	a->shard = NULL;
	for (unsigned i = 0; i < a->n_listeners; i++)
		free(a->listeners[i].fds);
	free(a->listeners);
	for (unsigned i = 0; i < a->n_dyn; i++)
		free(a->dyn[i].fds);
	free(a->dyn);
	free(a->workers);
	if (a->pub.slots) {
		gen_pub_destroy(&a->pub);
	} else if (a->cfg) {
		appcfg_free((struct rg_config *)a->cfg);
	}
	a->cfg = NULL;
	admin_close(a->admin);
	admin_close(a->responder);
	free(a->admin_token);
	explicit_bzero(a->quic_secret, sizeof(a->quic_secret));
	explicit_bzero(a->https_ticket, sizeof(a->https_ticket));
	demo_cleanup(a);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->tickfd >= 0)
		close(a->tickfd);
	if (a->n_workers || a->stopping)
		log_info("stopped");
}
