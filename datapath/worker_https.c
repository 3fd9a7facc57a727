/* worker_https: the HTTPS front end over TCP inside a worker (issue 9):
 * its listeners ([https] and [redirect], SO_REUSEPORT sockets control
 * hands over with WORKER_MSG_SOCK_ADD), accepting with RING_IO_ACCEPT
 * multishot, the bounded connection pool (max_connections per worker:
 * idle keep-alive connections are closed first to make room, beyond that
 * a new connection is closed at once and counted), the generation's
 * settings (new connections take the new vhosts and settings, open ones
 * keep theirs), drain. The connections themselves are
 * datapath/https/conn.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datapath/https/conn.h"
#include "datapath/https/redirect.h"
#include "datapath/proxy/proxy.h"
#include "datapath/worker_internal.h"

#define HTTPS_MAX_LISTENERS 64
#define ACCEPT_RETRY_NS (100ull * 1000 * 1000) /* after EMFILE & co. */

struct https_listener {
	struct twheel_timer retry; /* first: the wheel's callback gets it */
	struct worker *w;
	int fd;
	unsigned kind;
	bool closing;
	struct ring_io acc;
};

struct worker_https {
	struct https_env env;
	struct https_listener *l[HTTPS_MAX_LISTENERS];
	unsigned n_l;
	struct https_cfg *cfg;     /* for new connections; NULL: no [https] */
	struct https_cfg *rcfg;    /* [redirect]'s, NULL: none */
	uint8_t ticket_key[QUIC_TICKET_KEY_LEN];
	const struct worker_https_gen *made_from; /* the generation's settings cfg was made of */
};

static void conn_refuse(struct worker *w, int fd)
{
	w->https->env.ctr.refused_full++;
	close(fd);
}

static void on_accept(struct ring *r, struct ring_io *io, int res);

static void listener_arm(struct https_listener *l)
{
	if (l->closing || ring_io_busy(&l->acc))
		return;
	l->acc.op = RING_IO_ACCEPT;
	l->acc.fd = l->fd;
	l->acc.done = on_accept;
	l->acc.user = l;
	if (ring_io_submit(l->w->ring, &l->acc))
		twheel_add(&l->w->https->env.tw, &l->retry, ring_now() + ACCEPT_RETRY_NS);
}

static void listener_free(struct worker *w, struct https_listener *l)
{
	struct worker_https *h = w->https;
	twheel_del(&h->env.tw, &l->retry);
	for (unsigned i = 0; i < h->n_l; i++)
		if (h->l[i] == l) {
			h->l[i] = h->l[--h->n_l];
			break;
		}
	close(l->fd);
	free(l);
}

static void on_accept(struct ring *r, struct ring_io *io, int res)
{
	(void)r;
	struct https_listener *l = io->user;
	struct worker *w = l->w;
	struct worker_https *h = w->https;
	uint64_t now = ring_now();
	if (res < 0) {
		if (l->closing) {
			if (!ring_io_busy(&l->acc))
				listener_free(w, l);
			return;
		}
		/* back-pressure (ring.h): the connection waits in the backlog */
		h->env.ctr.accept_errors++;
		if (!ring_io_busy(&l->acc))
			twheel_add(&h->env.tw, &l->retry, now + ACCEPT_RETRY_NS);
		return;
	}
	int fd = res;
	bool tls = l->kind == LISTENER_HTTPS;
	struct https_cfg *cfg = tls ? h->cfg : h->rcfg;
	h->env.ctr.accepted++;
	if (!tls)
		h->env.ctr.redirect_accepted++;
	if (l->closing || !cfg || w->draining) {
		close(fd);
		return;
	}
	if (h->env.n_open >= cfg->max_connections && !https_env_close_idle(&h->env, now)) {
		conn_refuse(w, fd);
		return;
	}
	/* the closed idle one may linger a moment: it is over the limit
	 * for that moment only */
	(void)https_conn_start(&h->env, cfg, tls, fd, &io->addr, now);
}

static void on_retry(struct https_listener *l)
{
	listener_arm(l);
}

bool https_sock_add(struct worker *w, int fd, unsigned kind)
{
	if (kind != LISTENER_HTTPS && kind != LISTENER_REDIRECT)
		return false;
	struct worker_https *h = w->https;
	struct https_listener *l = h && h->n_l < HTTPS_MAX_LISTENERS ? calloc(1, sizeof(*l)) : NULL;
	if (!l) {
		wlog(w, LOG_ERROR, "worker %u: cannot add a %s listener", w->id, listener_kind_name(kind));
		close(fd);
		return true;
	}
	l->w = w;
	l->fd = fd;
	l->kind = kind;
	h->l[h->n_l++] = l;
	w->st.n_socks++;
	listener_arm(l);
	return true;
}

bool https_sock_del(struct worker *w, int fd)
{
	struct worker_https *h = w->https;
	if (!h)
		return false;
	for (unsigned i = 0; i < h->n_l; i++) {
		struct https_listener *l = h->l[i];
		if (l->fd != fd || l->closing)
			continue;
		l->closing = true;
		w->st.n_socks--;
		if (ring_io_busy(&l->acc))
			ring_io_cancel(w->ring, &l->acc); /* freed by its completion */
		else
			listener_free(w, l);
		return true;
	}
	return false;
}

/* ---- settings of a generation ---- */

/* [redirect]: redirect.h's handler for the generation's names and port
 * (the names live in the generation's config, which outlives every
 * https_cfg made of it: a connection holds the generation's vset only, so
 * the conf copies the names). */
static void redirect_conf_free(void *ctx)
{
	struct redirect_conf *rc = ctx;
	if (!rc)
		return;
	for (unsigned i = 0; i < rc->n_names; i++)
		free((void *)rc->names[i]);
	free((void *)rc->names);
	free(rc);
}

/* redirect.h on_answer: [redirect]'s answers in the access log */
static void redirect_answered(void *px, const struct quic_request *req, unsigned status)
{
	proxy_log_answer(px, "http/1.1", req, status);
}

static int redirect_bind(struct https_cfg *c, const struct worker_https_gen *g, struct proxy *px)
{
	struct redirect_conf *rc = calloc(1, sizeof(*rc));
	const char **names = calloc(g->n_names ? g->n_names : 1, sizeof(*names));
	if (!rc || !names) {
		free(rc);
		free(names);
		return -ENOMEM;
	}
	rc->names = names;
	rc->https_port = g->https_port;
	for (unsigned i = 0; i < g->n_names; i++, rc->n_names++)
		if (!(names[i] = strdup(g->names[i]))) {
			redirect_conf_free(rc);
			return -ENOMEM;
		}
	if (px) {
		rc->on_answer = redirect_answered;
		rc->answer_ctx = px;
	}
	c->redirect_fn = redirect_on_request;
	c->redirect_ctx = rc;
	c->redirect_free = redirect_conf_free;
	return 0;
}

static struct https_cfg *cfg_make(struct worker *w, const struct worker_https_gen *g, bool tls)
{
	struct worker_https *h = w->https;
	struct https_cfg *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->refs = 1;
	c->max_connections = g->max_connections ? g->max_connections : 16384;
	c->handshake_timeout_ns = g->handshake_timeout_ns ? g->handshake_timeout_ns : 10000000000ull;
	c->h1.max_header_bytes = g->max_header_bytes;
	c->h1.max_headers = g->max_headers;
	c->h1.header_timeout_ns = g->header_timeout_ns;
	c->h1.idle_timeout_ns = g->idle_timeout_ns;
	c->h2.max_concurrent_streams = g->h2_max_streams;
	c->h2.max_header_bytes = g->max_header_bytes;
	c->h2.max_headers = g->max_headers;
	c->h2.idle_timeout_ns = g->idle_timeout_ns;
	if (!tls) {
		if (redirect_bind(c, g, w->proxy)) {
			free(c);
			return NULL;
		}
		return c;
	}
	if (g->vset)
		c->vset = tls_vset_get(g->vset);
	if (g->n_alt) {
		c->alt_svc = calloc(g->n_alt, sizeof(*c->alt_svc));
		if (!c->alt_svc) {
			https_cfg_put(c);
			return NULL;
		}
		c->n_alt = g->n_alt;
		for (unsigned i = 0; i < g->n_alt; i++) {
			if (!g->alt_svc[i])
				continue;
			char *v = strdup(g->alt_svc[i]);
			if (!v) {
				https_cfg_put(c);
				return NULL;
			}
			c->alt_svc[i] = (struct quic_header){"alt-svc", 7, v, strlen(v)};
		}
	}
	struct tls_tcp_params tp = {
		.vset = g->vset,
		.ticket_key = h->ticket_key,
		.alpn = TLS_ALPN_H2 | TLS_ALPN_HTTP11,
		.ctr = &h->env.tls,
	};
	int err = tls_tcp_server_new(&tp, &c->srv);
	if (err) {
		c->srv = NULL;
		https_cfg_put(c);
		return NULL;
	}
	return c;
}

/* A generation reached the worker: new connections take its settings. */
void https_gen_switched(struct worker *w)
{
	struct worker_https *h = w->https;
	const struct worker_gen *wg = w->gen ? w->gen->priv : NULL;
	const struct worker_https_gen *g = wg ? wg->https : NULL;
	if (!h || g == h->made_from)
		return;
	struct https_cfg *c = NULL, *rc = NULL;
	if (g && g->on && g->vset) {
		c = cfg_make(w, g, true);
		if (!c) {
			wlog(w, LOG_ERROR, "worker %u: new [https] settings and certificates not taken, the old ones stay",
			     w->id);
			return;
		}
	}
	if (g && g->redirect) {
		rc = cfg_make(w, g, false);
		if (!rc) {
			https_cfg_put(c);
			wlog(w, LOG_ERROR, "worker %u: new [redirect] settings not taken, the old ones stay", w->id);
			return;
		}
	}
	https_cfg_put(h->cfg);
	https_cfg_put(h->rcfg);
	h->cfg = c;
	h->rcfg = rc;
	h->made_from = g;
}

int https_start(struct worker *w, const uint8_t *ticket_key)
{
	struct worker_https *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	https_env_init(&h->env, w->ring, w->proxy, w->id, ring_now());
	if (ticket_key)
		memcpy(h->ticket_key, ticket_key, sizeof(h->ticket_key));
	w->https = h;
	return 0;
}

void https_drain(struct worker *w)
{
	if (w->https)
		https_env_shutdown(&w->https->env, ring_now());
}

unsigned https_busy(const struct worker *w)
{
	return w->https ? https_env_busy(&w->https->env) : 0;
}

void https_flush(struct worker *w, uint64_t now)
{
	if (w->https)
		https_env_flush(&w->https->env, now);
}

uint64_t https_next_expiry(struct worker *w)
{
	return w->https ? https_env_next_expiry(&w->https->env) : RG_NO_DEADLINE;
}

/* The wheel holds the connections' timers and the listeners' retries:
 * a listener's timer is told apart by its address. */
void https_timer(struct worker *w, uint64_t now)
{
	struct worker_https *h = w->https;
	if (!h)
		return;
	/* listeners first: their retry is due, not a connection's */
	for (unsigned i = 0; i < h->n_l; i++) {
		struct https_listener *l = h->l[i];
		if (twheel_armed(&l->retry) && l->retry.deadline <= now) {
			twheel_del(&h->env.tw, &l->retry);
			on_retry(l);
		}
	}
	https_env_handle_expiry(&h->env, now);
}

void https_stats(struct worker *w)
{
	struct worker_https *h = w->https;
	if (!h)
		return;
	w->st.https = h->env.ctr;
	w->st.tls_tcp = h->env.tls;
	w->st.h1 = h->env.h1;
	w->st.h2 = h->env.h2;
}

/* Before the proxy and the ring go: connections end (their streams close
 * into the proxy), listeners close. */
void https_teardown(struct worker *w)
{
	struct worker_https *h = w->https;
	if (!h)
		return;
	https_env_destroy(&h->env);
	for (unsigned i = 0; i < h->n_l; i++) {
		twheel_del(&h->env.tw, &h->l[i]->retry);
		close(h->l[i]->fd);
		h->l[i]->fd = -1;
	}
	https_cfg_put(h->cfg);
	https_cfg_put(h->rcfg);
	h->cfg = h->rcfg = NULL;
}

/* After ring_destroy: the memory the ring's operations pointed into. */
void https_release(struct worker *w)
{
	struct worker_https *h = w->https;
	if (!h)
		return;
	https_env_release(&h->env);
	for (unsigned i = 0; i < h->n_l; i++)
		free(h->l[i]);
	free(h);
	w->https = NULL;
}
