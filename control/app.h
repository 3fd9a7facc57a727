/* The control thread's state: configuration, generations, workers,
 * listeners, admin API. Everything here runs on the control thread. */
#ifndef RG_APP_H
#define RG_APP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "control/appcfg.h"
#include "control/authlimit.h"
#include "datapath/gen.h"
#include "datapath/worker.h"
#include "ring/ring.h"

struct rg_config;
struct admin;
struct nlwatch;
struct filewatch;
struct admin_req;
struct admin_resp;

/* One bound listen address: a socket per worker in one SO_REUSEPORT group. */
struct app_listener {
	enum listener_kind kind;
	rg_sockaddr addr;
	int *fds; /* per worker, as handed over; -1 when not bound */
	bool bound;
	char ifname[IF_NAMESIZE]; /* "" for an address listener */
};

struct app {
	/* from the command line */
	const char *config_path;
	bool demo;
	bool log_level_forced; /* --log-level given: the config's log_level is ignored */
	bool strict; /* --strict: a configuration warning is an error (validate, start, reload) */
	unsigned workers_override; /* 0: from the config */
	enum ring_backend backend;

	/* the configuration in force, owned by the current generation */
	const struct rg_config *cfg;
	char *demo_dir; /* temporary files of --demo, removed at exit */
	char *config_text; /* --demo: the embedded configuration, completed */
	struct admin *responder; /* --demo: the built-in HTTP backend */

	struct gen_pub pub;
	unsigned n_target; /* workers to run; sockets are opened for this many */
	unsigned n_workers; /* started */
	unsigned tunnel_capacity; /* sessions per worker, fixed at start; 0: no tunnel */
	struct worker **workers;

	struct app_listener *listeners; /* address listeners of the config */
	unsigned n_listeners;
	struct app_listener *dyn; /* iface listeners, bound by the netlink watcher */
	unsigned n_dyn, cap_dyn;
	struct nlwatch *nlwatch;
	struct filewatch *filewatch;

	struct admin *admin;
	rg_sockaddr admin_addr;
	char *admin_token; /* NULL: open (loopback only) */
	struct authlimit authlimit;

	uint8_t quic_secret[32]; /* Retry and stateless reset tokens, all workers */
	uint8_t https_ticket[64];
	uint16_t demo_redirect_port; /* --demo: the [redirect] listener's free loopback port */ /* TLS-over-TCP session ticket key, all workers (issue 9) */

	/* [tunnel]: what the workers share, and the TUN device's queues (one
	 * per worker, handed over in worker_params; -1 once handed over) */
	struct tunnel_shard *shard;
	int *tun_fds;
	char tun_name[IF_NAMESIZE];
	struct appcfg_tun tun_now; /* address and MTU the TUN device has (reload compares) */
	unsigned tun_ifindex;

	int epfd, sigfd, tickfd;
	bool stopping;
	bool draining;           /* app_begin_stop: workers finishing in-flight work */
	uint64_t drain_deadline; /* ring_now ns */
	int exit_code;

	uint64_t started_ns;
	time_t started_wall;
	uint64_t reloads_ok, reloads_failed;
};

/* control/app.c */
int app_validate(struct app *a); /* --validate: 0 valid, 1 not */
int app_start(struct app *a);  /* 0, or the process exit code (1 config, 2 runtime) */
int app_run(struct app *a);    /* the control loop; returns the exit code */
void app_stop(struct app *a);  /* stop workers, free everything */
/* Re-read the configuration; on success publish a new generation.
 * Errors go to *errors (malloc'ed text, one per line) when non-NULL. */
int app_reload(struct app *a, char **errors);

/* control/demo.c: the embedded demo configuration with its temporary
 * certificate and tunnel key; sets a->demo_dir and a->config_text. The
 * built-in responder answers on an admin transport of its own. */
RG_MUST_CHECK int demo_prepare(struct app *a);
void demo_cleanup(struct app *a);
void demo_banner(const struct app *a); /* how to try each part */

/* control/api.c */
void api_handle(void *ctx, const struct admin_req *req, struct admin_resp *resp);

/* control/addr.c */
/* "1.2.3.4:443" or "[::1]:443" of an address, into buf (>= 64 bytes). */
const char *addr_str(const rg_sockaddr *a, char *buf, size_t len);
bool addr_is_loopback(const rg_sockaddr *a);

/* SIGTERM, SIGINT, POST /shutdown: stop accepting (no new QUIC
 * connection, HTTP/3 GOAWAY on the open ones), let the requests in flight
 * finish for up to APP_DRAIN_NS, then stop. A second request stops at once. */
#define APP_DRAIN_NS (10ull * 1000000000)
void app_begin_stop(struct app *a, const char *why);

#endif
