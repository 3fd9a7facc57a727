/* conn: one TCP connection of the HTTPS front end (conn.h). */
#include "datapath/https/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#define LINGER_NS (2ull * 1000 * 1000 * 1000) /* reads drained after our FIN */

void https_cfg_put(struct https_cfg *c)
{
	if (!c || --c->refs)
		return;
	tls_tcp_server_put(c->srv);
	tls_vset_put(c->vset);
	if (c->redirect_free)
		c->redirect_free(c->redirect_ctx);
	if (c->alt_svc)
		for (unsigned i = 0; i < c->n_alt; i++)
			free((void *)c->alt_svc[i].value);
	free(c->alt_svc);
	free(c);
}

/* ---- lists ---- */

static void open_unlink(struct https_env *e, struct https_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		e->open_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		e->open_tail = c->prev;
	c->prev = c->next = NULL;
}

static void open_append(struct https_env *e, struct https_conn *c)
{
	c->next = NULL;
	c->prev = e->open_tail;
	if (e->open_tail)
		e->open_tail->next = c;
	else
		e->open_head = c;
	e->open_tail = c;
}

void https_conn_kick(struct https_conn *c)
{
	if (c->dirty || c->st == HTTPS_FREE)
		return;
	struct https_env *e = c->env;
	c->dirty = true;
	c->dprev = NULL;
	c->dnext = e->dirty_head;
	if (e->dirty_head)
		e->dirty_head->dprev = c;
	e->dirty_head = c;
}

static void dirty_unlink(struct https_conn *c)
{
	if (!c->dirty)
		return;
	struct https_env *e = c->env;
	if (c->dprev)
		c->dprev->dnext = c->dnext;
	else
		e->dirty_head = c->dnext;
	if (c->dnext)
		c->dnext->dprev = c->dprev;
	c->dprev = c->dnext = NULL;
	c->dirty = false;
}

/* ---- streams pool (h1front.c, h2front.c) ---- */

struct https_stream *https_stream_get(struct https_conn *c, void *s)
{
	struct https_env *e = c->env;
	struct https_stream *hs = e->stream_free;
	if (hs)
		e->stream_free = hs->next_free;
	else if (!(hs = malloc(sizeof(*hs))))
		return NULL;
	memset(hs, 0, sizeof(*hs));
	hs->s = s;
	hs->c = c;
	return hs;
}

void https_stream_put(struct https_stream *hs)
{
	struct https_env *e = hs->c->env;
	hs->next_free = e->stream_free;
	e->stream_free = hs;
}

/* ---- the connection ---- */

static void pump(struct https_conn *c, uint64_t now);

static bool app_done(const struct https_conn *c)
{
	switch (c->app) {
	case HTTPS_APP_H1: return h1_conn_done(c->h1);
	case HTTPS_APP_H2: return h2_conn_done(c->h2);
	default: return false;
	}
}

static void app_free(struct https_conn *c)
{
	if (c->app == HTTPS_APP_H1)
		h1_conn_free(c->h1);
	else if (c->app == HTTPS_APP_H2)
		h2_conn_free(c->h2);
	c->h1 = NULL;
	c->h2 = NULL;
	c->app = HTTPS_APP_NONE;
}

static void finalize(struct https_conn *c)
{
	struct https_env *e = c->env;
	app_free(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	tls_tcp_free(c->tls);
	c->tls = NULL;
	https_cfg_put(c->cfg);
	c->cfg = NULL;
	twheel_del(&e->tw, &c->timer);
	dirty_unlink(c);
	open_unlink(e, c);
	c->st = HTTPS_FREE;
	e->n_open--;
	e->ctr.open = e->n_open;
	e->ctr.closed++;
	c->next = e->free_list;
	e->free_list = c;
}

/* Begin the end: hard skips flushing (the peer is gone or broke TLS). */
static void begin_close(struct https_conn *c, bool hard, uint64_t now)
{
	if (c->st == HTTPS_CLOSING) {
		c->hard |= hard;
		return;
	}
	c->st = HTTPS_CLOSING;
	c->hard = hard;
	if (!hard && c->tls && tls_tcp_handshake_done(c->tls))
		tls_tcp_close_notify(c->tls);
	c->linger_deadline = now + LINGER_NS;
}

/* The application's bytes into TLS (or straight to the socket). */
static int app_output(struct https_conn *c, uint64_t now)
{
	struct iovec iov[HTTPS_WIOV];
	for (int guard = 0; guard < 64; guard++) {
		int n = 0;
		if (c->tls_mode && tls_tcp_output_pending(c->tls) >= 4 * HTTPS_RBUF)
			return 0; /* enough queued: write it first */
		if (!c->tls_mode && ring_io_busy(&c->wr))
			return 0;
		if (c->app == HTTPS_APP_H1)
			n = h1_conn_send(c->h1, c->tls_mode ? iov : c->wiov, HTTPS_WIOV, now);
		else if (c->app == HTTPS_APP_H2)
			n = h2_conn_send(c->h2, c->tls_mode ? iov : c->wiov, HTTPS_WIOV, now);
		if (n < 0)
			return n;
		if (n == 0)
			return 0;
		if (!c->tls_mode) {
			/* plaintext: the iovecs point into the connection's buffers
			 * until the write completes and h1_conn_sent is told */
			c->wr.op = RING_IO_WRITEV;
			c->wr.fd = c->fd;
			c->wr.iov = c->wiov;
			c->wr.iovcnt = (unsigned)n;
			int err = ring_io_submit(c->env->ring, &c->wr);
			return err;
		}
		ssize_t r = tls_tcp_write(c->tls, iov, (unsigned)n);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		if (c->app == HTTPS_APP_H1)
			h1_conn_sent(c->h1, (size_t)r);
		else
			h2_conn_sent(c->h2, (size_t)r);
	}
	return 0;
}

/* TLS's ciphertext to the socket. */
static int tls_flush(struct https_conn *c)
{
	if (!c->tls || ring_io_busy(&c->wr) || c->fd < 0)
		return 0;
	unsigned n = tls_tcp_output(c->tls, c->wiov, HTTPS_WIOV);
	if (!n)
		return 0;
	c->wr.op = RING_IO_WRITEV;
	c->wr.fd = c->fd;
	c->wr.iov = c->wiov;
	c->wr.iovcnt = n;
	return ring_io_submit(c->env->ring, &c->wr);
}

static bool output_pending(const struct https_conn *c)
{
	return ring_io_busy(&c->wr) || (c->tls && tls_tcp_output_pending(c->tls));
}

static void arm_read(struct https_conn *c)
{
	if (ring_io_busy(&c->rd) || c->peer_eof || c->fd < 0)
		return;
	size_t room;
	void *buf;
	if (c->st == HTTPS_CLOSING) {
		if (c->hard)
			return;
		buf = c->rbuf; /* drained and dropped */
		room = sizeof(c->rbuf);
	} else if (c->tls_mode) {
		room = tls_tcp_input_room(c->tls);
		if (room > sizeof(c->rbuf))
			room = sizeof(c->rbuf);
		/* HTTP/1.1 back-pressure: plaintext not taken yet stops reading */
		if (c->plen)
			room = 0;
		buf = c->rbuf;
	} else {
		room = c->plen ? 0 : sizeof(c->pbuf);
		buf = c->pbuf;
	}
	if (!room)
		return;
	c->rd.op = RING_IO_READ;
	c->rd.fd = c->fd;
	c->rd.buf = buf;
	c->rd.len = room;
	if (ring_io_submit(c->env->ring, &c->rd))
		c->peer_eof = true;
}

static uint64_t conn_deadline(const struct https_conn *c)
{
	switch (c->st) {
	case HTTPS_HANDSHAKE: return c->hs_deadline;
	case HTTPS_SERVING:
		if (c->app == HTTPS_APP_H1)
			return h1_conn_next_expiry(c->h1);
		if (c->app == HTTPS_APP_H2)
			return h2_conn_next_expiry(c->h2);
		return RG_NO_DEADLINE;
	case HTTPS_CLOSING: return c->linger_deadline;
	default: return RG_NO_DEADLINE;
	}
}

/* Issue 9 §3: the client certificate the handshake verified, kept for
 * every request of the connection. A subject longer than the buffer is
 * not cut (a cut subject could name someone else): the connection ends. */
static int keep_peer_cert(struct https_conn *c)
{
	uint8_t sha[32];
	c->cert_subject[0] = c->cert_sha256[0] = 0;
	int r = tls_tcp_peer_cert(c->tls, c->cert_subject, sizeof(c->cert_subject), sha);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || strlen(c->cert_subject) >= sizeof(c->cert_subject) - 1) {
		c->cert_subject[0] = 0;
		return r < 0 ? r : -E2BIG;
	}
	sodium_bin2hex(c->cert_sha256, sizeof(c->cert_sha256), sha, sizeof(sha));
	return 0;
}

static int start_app(struct https_conn *c, uint64_t now)
{
	struct https_env *e = c->env;
	struct https_cfg *cfg = c->cfg;
	const struct quic_header *alt = NULL;
	if (c->tls_mode) {
		const char *sni = tls_tcp_sni(c->tls);
		const struct tls_vhost *v = tls_tcp_vhost(c->tls);
		snprintf(c->sni, sizeof(c->sni), "%s", sni && *sni ? sni : v && v->name ? v->name : "");
		int err = keep_peer_cert(c);
		if (err)
			return err;
		for (unsigned i = 0; v && cfg->vset && i < cfg->n_alt && i < tls_vset_count(cfg->vset); i++)
			if (&cfg->vset->v[i] == v || !strcmp(tls_vset_name(cfg->vset, i), v->name)) {
				if (cfg->alt_svc[i].value)
					alt = &cfg->alt_svc[i];
				break;
			}
	}
	if (c->tls_mode && tls_tcp_alpn(c->tls) == TLS_ALPN_H2) {
		struct h2_params p = cfg->h2;
		p.on_request = h2front_request;
		p.request_ctx = c;
		p.on_answer = h2front_answer;
		p.answer_ctx = c;
		p.ctr = &e->h2;
		p.worker_id = e->worker_id;
		c->app = HTTPS_APP_H2;
		e->ctr.conns_h2++;
		int err = h2_conn_new(&p, c->sni, &c->peer, now, &c->h2);
		if (err)
			c->app = HTTPS_APP_NONE;
		c->alt_hdr = alt;
		return err;
	}
	struct h1_params p = cfg->h1;
	if (c->tls_mode) {
		p.on_request = h1front_request;
		p.request_ctx = c;
		p.scheme = "https";
		p.extra_headers = alt;
		p.n_extra = alt ? 1 : 0;
	} else {
		p.on_request = cfg->redirect_fn;
		p.request_ctx = cfg->redirect_ctx;
		p.scheme = "http";
	}
	p.on_answer = h1front_answer; /* refused heads, both kinds */
	p.answer_ctx = c;
	p.ctr = &e->h1;
	p.worker_id = e->worker_id;
	c->app = HTTPS_APP_H1;
	e->ctr.conns_h1++;
	int err = h1_conn_new(&p, c->sni, &c->peer, now, &c->h1);
	if (err)
		c->app = HTTPS_APP_NONE;
	return err;
}

/* Plaintext to the application: h2 takes all, h1 what it can now. */
static int app_input(struct https_conn *c, uint64_t now)
{
	for (int guard = 0; guard < 256; guard++) {
		if (c->plen) {
			if (c->app == HTTPS_APP_H2) {
				int r = h2_conn_recv(c->h2, c->pbuf + c->poff, c->plen, now);
				c->plen = 0;
				if (r == -EPIPE)
					return 0;
			} else {
				if (!h1_conn_wants_input(c->h1))
					return 0;
				ssize_t n = h1_conn_recv(c->h1, c->pbuf + c->poff, c->plen, now);
				if (n == -EPIPE) {
					c->plen = 0;
					return 0;
				}
				if (n <= 0)
					return 0;
				c->poff += (size_t)n;
				c->plen -= (size_t)n;
				continue;
			}
		}
		c->poff = 0;
		if (!c->tls_mode)
			return 0; /* the next read fills pbuf */
		ssize_t r = tls_tcp_read(c->tls, c->pbuf, sizeof(c->pbuf));
		if (r > 0) {
			c->plen = (size_t)r;
			continue;
		}
		if (r == 0) {
			c->peer_eof = true; /* close_notify */
			return 0;
		}
		if (r == -EAGAIN)
			return 0;
		return (int)r;
	}
	return 0;
}

static void pump(struct https_conn *c, uint64_t now)
{
	struct https_env *e = c->env;
	if (c->st == HTTPS_FREE)
		return;
	if (c->st == HTTPS_HANDSHAKE) {
		int r = tls_tcp_handshake(c->tls);
		if (r == 0) {
			c->st = HTTPS_SERVING;
			if (start_app(c, now))
				begin_close(c, false, now);
		} else if (r != -EAGAIN) {
			begin_close(c, false, now); /* an alert may be queued: flush it */
		} else if (c->peer_eof) {
			begin_close(c, true, now);
		}
	}
	if (c->st == HTTPS_SERVING) {
		int err = app_input(c, now);
		if (err)
			begin_close(c, err == -ECONNRESET, now);
		else if (c->peer_eof && !c->plen && !c->eof_given) {
			c->eof_given = true;
			if (c->app == HTTPS_APP_H1)
				(void)h1_conn_recv(c->h1, NULL, 0, now);
			else
				begin_close(c, true, now); /* HTTP/2 without GOAWAY: gone */
		}
	}
	if (c->st == HTTPS_SERVING) {
		if (app_output(c, now) < 0)
			begin_close(c, true, now);
		else if (app_done(c))
			begin_close(c, false, now);
	}
	if (c->tls_mode && !c->hard && tls_flush(c))
		begin_close(c, true, now);
	if (c->st == HTTPS_CLOSING) {
		if (!c->hard && output_pending(c) && now < c->linger_deadline + LINGER_NS) {
			twheel_add(&e->tw, &c->timer, c->linger_deadline + LINGER_NS);
			return;
		}
		if (ring_io_busy(&c->wr)) {
			ring_io_cancel(e->ring, &c->wr);
			return; /* its completion comes back here */
		}
		app_free(c);
		if (!c->wr_shut && c->fd >= 0) {
			c->wr_shut = true;
			shutdown(c->fd, SHUT_WR);
		}
		if (c->hard || c->peer_eof || now >= c->linger_deadline) {
			if (ring_io_busy(&c->rd)) {
				ring_io_cancel(e->ring, &c->rd);
				return;
			}
			finalize(c);
			return;
		}
	}
	arm_read(c);
	twheel_add(&e->tw, &c->timer, conn_deadline(c));
}

static void on_read(struct ring *r, struct ring_io *io, int res)
{
	(void)r;
	struct https_conn *c = io->user;
	uint64_t now = ring_now();
	if (c->st == HTTPS_CLOSING) {
		if (res <= 0)
			c->peer_eof = true;
		pump(c, now);
		return;
	}
	if (res > 0) {
		if (c->tls_mode) {
			if (tls_tcp_input(c->tls, c->rbuf, (size_t)res)) {
				begin_close(c, true, now);
			}
		} else {
			c->poff = 0;
			c->plen = (size_t)res;
		}
	} else if (res == -ECANCELED) {
		/* only CLOSING cancels */
	} else {
		c->peer_eof = true;
	}
	pump(c, now);
}

static void on_write(struct ring *r, struct ring_io *io, int res)
{
	(void)r;
	struct https_conn *c = io->user;
	uint64_t now = ring_now();
	if (res < 0) {
		begin_close(c, true, now);
		pump(c, now);
		return;
	}
	if (c->tls_mode)
		tls_tcp_output_sent(c->tls, (size_t)res);
	else if (c->app == HTTPS_APP_H1)
		h1_conn_sent(c->h1, (size_t)res);
	pump(c, now);
}

int https_conn_start(struct https_env *e, struct https_cfg *cfg, bool tls, int fd, const rg_sockaddr *peer,
                     uint64_t now)
{
	struct https_conn *c = e->free_list;
	if (c) {
		e->free_list = c->next;
	} else if (!(c = malloc(sizeof(*c)))) {
		close(fd);
		return -ENOMEM;
	} else {
		e->n_alloc++;
	}
	memset(c, 0, offsetof(struct https_conn, rbuf));
	c->env = e;
	c->fd = fd;
	c->peer = *peer;
	c->tls_mode = tls;
	c->rd.done = on_read;
	c->rd.user = c;
	c->wr.done = on_write;
	c->wr.user = c;
	socklen_t sl = sizeof(c->local);
	if (getsockname(fd, &c->local.sa, &sl) < 0)
		memset(&c->local, 0, sizeof(c->local));
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cfg->refs++;
	c->cfg = cfg;
	e->n_open++;
	e->ctr.open = e->n_open;
	open_append(e, c);
	c->st = tls ? HTTPS_HANDSHAKE : HTTPS_SERVING;
	if (tls) {
		c->hs_deadline = now + cfg->handshake_timeout_ns;
		int err = tls_tcp_new(cfg->srv, &c->local, &c->peer, &c->tls);
		if (err) {
			c->tls = NULL;
			begin_close(c, true, now);
			pump(c, now);
			return err;
		}
	} else if (start_app(c, now)) {
		begin_close(c, true, now);
	}
	pump(c, now);
	return 0;
}

static void on_timer(void *ctx, struct twheel_timer *t, uint64_t now)
{
	(void)ctx;
	struct https_conn *c = (struct https_conn *)t;
	switch (c->st) {
	case HTTPS_HANDSHAKE:
		c->env->ctr.handshake_timeouts++;
		begin_close(c, true, now);
		break;
	case HTTPS_SERVING:
		if (c->app == HTTPS_APP_H1)
			h1_conn_handle_expiry(c->h1, now);
		else if (c->app == HTTPS_APP_H2)
			h2_conn_handle_expiry(c->h2, now);
		break;
	case HTTPS_CLOSING:
		if (now >= c->linger_deadline + LINGER_NS)
			c->hard = true; /* the peer does not read: give up */
		break;
	default:
		return;
	}
	pump(c, now);
}

void https_env_init(struct https_env *e, struct ring *r, struct proxy *px, unsigned worker_id, uint64_t now)
{
	memset(e, 0, sizeof(*e));
	e->ring = r;
	e->px = px;
	e->worker_id = worker_id;
	twheel_init(&e->tw, now);
}

static bool conn_idle(const struct https_conn *c)
{
	if (c->st != HTTPS_SERVING)
		return false;
	if (c->app == HTTPS_APP_H1)
		return h1_conn_idle(c->h1);
	if (c->app == HTTPS_APP_H2)
		return h2_conn_streams(c->h2) == 0;
	return false;
}

bool https_env_close_idle(struct https_env *e, uint64_t now)
{
	unsigned scanned = 0;
	for (struct https_conn *c = e->open_head; c && scanned < 256; c = c->next, scanned++) {
		if (!conn_idle(c))
			continue;
		if (c->app == HTTPS_APP_H1)
			h1_conn_shutdown(c->h1, now);
		else
			h2_conn_shutdown(c->h2, now);
		begin_close(c, false, now);
		e->ctr.closed_idle_for_room++;
		pump(c, now);
		return true;
	}
	return false;
}

void https_env_shutdown(struct https_env *e, uint64_t now)
{
	e->draining = true;
	struct https_conn *c = e->open_head;
	while (c) {
		struct https_conn *next = c->next;
		if (c->st == HTTPS_SERVING) {
			if (c->app == HTTPS_APP_H1)
				h1_conn_shutdown(c->h1, now);
			else if (c->app == HTTPS_APP_H2)
				h2_conn_shutdown(c->h2, now);
			https_conn_kick(c);
		} else if (c->st == HTTPS_HANDSHAKE) {
			begin_close(c, true, now);
			https_conn_kick(c);
		}
		c = next;
	}
}

void https_env_flush(struct https_env *e, uint64_t now)
{
	while (e->dirty_head) {
		struct https_conn *c = e->dirty_head;
		dirty_unlink(c);
		pump(c, now);
	}
}

/* Timers only: "write now" is the dirty list, flushed by https_env_flush
 * at the end of every loop turn before the ring's timeout is armed
 * (issue 17: no deadline 0 for pending writes). */
uint64_t https_env_next_expiry(struct https_env *e)
{
	return twheel_next_deadline(&e->tw);
}

void https_env_handle_expiry(struct https_env *e, uint64_t now)
{
	twheel_advance(&e->tw, now, on_timer, e);
}

unsigned https_env_busy(const struct https_env *e)
{
	unsigned n = 0;
	for (const struct https_conn *c = e->open_head; c; c = c->next)
		if (c->st == HTTPS_SERVING && !conn_idle(c))
			n++;
	return n;
}

void https_env_destroy(struct https_env *e)
{
	for (struct https_conn *c = e->open_head; c; c = c->next) {
		app_free(c);
		tls_tcp_free(c->tls);
		c->tls = NULL;
		https_cfg_put(c->cfg);
		c->cfg = NULL;
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
	}
}

void https_env_release(struct https_env *e)
{
	struct https_conn *c;
	while ((c = e->open_head) != NULL) {
		e->open_head = c->next;
		free(c);
	}
	while ((c = e->free_list) != NULL) {
		e->free_list = c->next;
		free(c);
	}
	struct https_stream *s;
	while ((s = e->stream_free) != NULL) {
		e->stream_free = s->next_free;
		free(s);
	}
	e->open_tail = NULL;
	e->dirty_head = NULL;
}
