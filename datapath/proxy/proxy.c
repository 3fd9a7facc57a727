/* proxy: the request driver of the reverse proxy (proxy.h): connects a
 * front end's stream (front.h: HTTP/3, HTTP/1.1, HTTP/2, each through the
 * same four operations) and upstream.c's connections to the sans-IO
 * exchange (exchange.h). The HTTP/3 binding is h3front.c.
 *
 * Each event from either side goes to the exchange with ring_now(); run()
 * carries out the actions it returns (connect, write, read, respond,
 * resume, reset, release) and arms the exchange's one deadline on the
 * worker's exchange wheel. An exchange lives from on_request to the
 * stream's close() and any write still in flight that points into it
 * (refs); it comes from the worker's exchange pool, its request body ring
 * from the body pool, the upstream receive chunks from the chunk pool.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datapath/proxy/accesslog.h"
#include "datapath/proxy/front.h"
#include "datapath/proxy/internal.h"
#include "datapath/proxy/path.h"

struct exchange {
	struct proxy_exchange x;
	struct proxy *px;
	void *s;                 /* the front end's stream; NULL after close() */
	const struct proxy_front_ops *fo;
	unsigned refs;           /* the stream, a write in flight, a run() on the stack */
	struct pset *set;
	struct pbackend *be;
	struct uconn *c;
	struct twheel_timer timer;
	struct iovec wiov[4];    /* the write in flight: read by the kernel */
	char client[64];
	bool logged;             /* the access log was on at the request: rec is filled */
	/* Not cleared at the request (filled only when logged): */
	struct alog_rec rec;
};

/* ---- lifetime ---- */

/* The pools keep their own high-water marks: copied at each publish. */
static void pool_stats(struct proxy *px)
{
	px->ctr.pool_exchanges = px->exs.allocated;
	px->ctr.pool_exchanges_high = px->exs.high;
	px->ctr.pool_bodies = px->bufs.allocated;
	px->ctr.pool_bodies_high = px->bufs.high;
	px->ctr.pool_chunks = px->chunks.allocated;
	px->ctr.pool_chunks_high = px->chunks.high;
}

void ex_put(struct exchange *ex)
{
	struct proxy *px = ex->px;

	if (--ex->refs)
		return;
	if (twheel_armed(&ex->timer))
		twheel_del(&px->xwheel, &ex->timer);
	if (ex->set)
		pset_put(ex->set);
	pex_pool_put(&px->exs, ex);
	px->n_exchanges--;
}

static void detach(struct exchange *ex, bool reuse)
{
	struct uconn *c = ex->c;

	if (!c)
		return;
	ex->c = NULL;
	uconn_release(c, reuse);
}

/* ---- carrying out the exchange's actions ---- */

static void feed(struct exchange *ex);

static void run(struct exchange *ex, const struct pex_act *a)
{
	struct proxy *px = ex->px;
	uint64_t dl;

	ex->refs++; /* a callback below (a reset's close) must not free it */
	for (unsigned i = 0; i < a->n_release; i++)
		chunk_put(px, a->release[i]);
	if (a->failed_server >= 0 && ex->be)
		ex->set->servers[ex->be->first + (unsigned)a->failed_server].failures++;
	if (a->why)
		proxy_log(px, 1, "proxy: worker %u: %s", px->worker_id, a->why);
	if (a->consume && ex->s)
		ex->fo->consume(ex->s, a->consume); /* the client may send more */
	if (a->flags & PEX_A_RELEASE)
		detach(ex, a->reuse);
	if ((a->flags & PEX_A_RESPOND) && ex->s) {
		ex->rec.status = a->status; /* the access log's (read only when logged) */
		int err = ex->fo->respond(ex->s, a->status, a->hdrs, a->n_hdrs, a->with_body);

		if (err) {
			proxy_log(px, 1, "proxy: worker %u: cannot submit the response: %s", px->worker_id,
			          strerror(-err));
			px->ctr.upstream_resets++;
			ex->fo->reset(ex->s, ex->fo->internal_error);
		}
	}
	if ((a->flags & PEX_A_RESET) && ex->s)
		ex->fo->reset(ex->s, ex->fo->internal_error);
	if (a->flags & PEX_A_CONNECT) {
		struct pserver *srv = &ex->set->servers[ex->be->first + a->server];
		struct pex_act b;
		int err = 0;
		struct uconn *c = uconn_get(srv, ex, &err);

		if (ex->logged)
			ex->rec.upstream = srv->addr;

		if (!c) {
			/* no socket at all: a local problem, try another server */
			pex_connect_failed(&ex->x, err, false, ring_now(), &b);
			run(ex, &b);
		} else {
			ex->c = c;
			if (c->state == UC_BUSY) { /* an idle one, kept alive */
				srv->requests++;
				pex_connected(&ex->x, true, ring_now(), &b);
				run(ex, &b);
			}
		}
	}
	if ((a->flags & PEX_A_WRITE) && ex->c) {
		memcpy(ex->wiov, a->iov, a->n_iov * sizeof(a->iov[0]));
		if (uconn_writev(ex->c, ex->wiov, a->n_iov) < 0) {
			struct pex_act b;

			pex_written(&ex->x, -EIO, ring_now(), &b);
			run(ex, &b);
			pex_read_end(&ex->x, -EIO, ring_now(), &b);
			run(ex, &b);
		} else {
			ex->refs++;
			ex->c->wex = ex;
		}
	}
	if ((a->flags & PEX_A_READ) && ex->c)
		uconn_read(ex->c);
	if (a->flags & PEX_A_FEED)
		feed(ex);
	if ((a->flags & PEX_A_RESUME) && ex->s)
		ex->fo->resume(ex->s);
	/* the exchange's state now, not this action's: a nested run() may
	 * have moved it on */
	dl = ex->x.deadline;
	if (dl == RG_NO_DEADLINE) {
		if (twheel_armed(&ex->timer))
			twheel_del(&px->xwheel, &ex->timer);
	} else if (!twheel_armed(&ex->timer) || ex->timer.deadline != dl) {
		twheel_add(&px->xwheel, &ex->timer, dl);
	}
	ex_put(ex);
}

/* Hand the connection's unparsed bytes (possibly none) to the exchange. */
static void feed(struct exchange *ex)
{
	struct uconn *c = ex->c;
	struct pex_act a;

	if (!c || !c->rchunk)
		return;
	pex_read(&ex->x, c->rchunk->data + c->rparsed, c->rfill - c->rparsed, c->rchunk, ring_now(), &a);
	c->rparsed += a.fed;
	c->rchunk->refs += a.tag_refs;
	run(ex, &a);
}

/* ---- upstream.c's events ---- */

void ex_connected(struct exchange *ex, int res)
{
	struct uconn *c = ex->c;
	struct pex_act a;

	if (res < 0) {
		proxy_log(ex->px, 1, "proxy: worker %u: connect failed: %s", ex->px->worker_id, strerror(-res));
		detach(ex, false);
		pex_connect_failed(&ex->x, res, true, ring_now(), &a);
		run(ex, &a);
		return;
	}
	uconn_connected(c);
	c->srv->requests++;
	pex_connected(&ex->x, false, ring_now(), &a);
	run(ex, &a);
}

void ex_written(struct exchange *ex, int res)
{
	struct pex_act a;

	pex_written(&ex->x, res, ring_now(), &a);
	run(ex, &a);
}

void ex_read(struct exchange *ex, int res)
{
	struct pex_act a;

	if (res > 0) {
		feed(ex);
		return;
	}
	/* end of stream or an error: whatever was read is parsed already */
	pex_read_end(&ex->x, res, ring_now(), &a);
	run(ex, &a);
}

static void on_xtimer(void *ctx, struct twheel_timer *t, uint64_t now)
{
	struct exchange *ex = container_of(t, struct exchange, timer);
	struct pex_act a;

	(void)ctx;
	pex_timeout(&ex->x, now, &a);
	run(ex, &a);
}

/* ---- the front end's events (front.h) ---- */

int proxy_front_body(void *h, const uint8_t *data, size_t len)
{
	struct exchange *ex = h;
	struct pex_act a;
	int err;

	err = pex_body(&ex->x, data, len, ring_now(), &a);
	ex->rec.rx_bytes += len;
	run(ex, &a);
	return err;
}

void proxy_front_body_end(void *h)
{
	struct exchange *ex = h;
	struct pex_act a;

	pex_body_end(&ex->x, ring_now(), &a);
	run(ex, &a);
}

ssize_t proxy_front_read(void *h, struct quic_iov *iov, unsigned n, bool *eof)
{
	struct exchange *ex = h;

	return pex_pull(&ex->x, iov, n, eof);
}

void proxy_front_acked(void *h, uint64_t n)
{
	struct exchange *ex = h;
	struct pex_act a;

	pex_acked(&ex->x, n, ring_now(), &a);
	ex->rec.tx_bytes += n;
	run(ex, &a);
}

void proxy_front_close(void *h, uint64_t err)
{
	struct exchange *ex = h;
	struct pex_act a;

	(void)err;
	ex->s = NULL;
	pex_client_gone(&ex->x, ring_now(), &a);
	run(ex, &a);
	if (ex->logged) { /* one line per finished request (accesslog.h) */
		ex->rec.duration_ns = ring_now() - ex->x.started;
		alog_add(&ex->px->alog, &ex->rec);
	}
	ex_put(ex);
}

/* ---- on_request ---- */

static void client_addr(const rg_sockaddr *a, char *buf, size_t n)
{
	buf[0] = 0;
	if (!a)
		return;
	if (a->sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, (socklen_t)n);
	else if (a->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &a->in4.sin_addr, buf, (socklen_t)n);
}

static const char *host_of(const struct quic_request *req)
{
	if (req->authority)
		return req->authority;
	for (unsigned i = 0; i < req->n_headers; i++)
		if (http1_name_is(req->headers[i].name, req->headers[i].name_len, "host"))
			return req->headers[i].value; /* NUL-terminated by the quic glue */
	return NULL;
}

/* What the request head says, into r (its strings may not outlive the
 * call); status and the byte counts are the caller's. */
static void log_head(struct alog_rec *r, const char *proto, const struct quic_request *req)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts); /* the vDSO's: no system call */
	r->wall_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	memset(&r->client, 0, sizeof(r->client));
	memset(&r->upstream, 0, sizeof(r->upstream));
	if (req->peer)
		r->client = *req->peer;
	r->proto = proto;
	r->tls_version = req->tls_version;
	r->tls_group = req->tls_group;
	r->early_data = req->early_data;
	r->resumed = req->tls_resumed;
	alog_copy(r->method, sizeof(r->method), req->method);
	alog_copy(r->sni, sizeof(r->sni), req->sni);
	alog_copy(r->host, sizeof(r->host), host_of(req));
	r->path_cut = alog_copy(r->path, sizeof(r->path), req->path);
	r->route[0] = 0;
}

/* The access log's copy of the request head, made only while the log is
 * on. */
static void log_begin(struct exchange *ex, const struct quic_request *req)
{
	ex->logged = true;
	log_head(&ex->rec, ex->fo->proto ? ex->fo->proto : "h3", req);
}

void proxy_log_answer(struct proxy *px, const char *proto, const struct quic_request *req,
                      unsigned status)
{
	if (px->alog.fd < 0)
		return;
	/* the worker's one record for these (~1.5 KiB of copies): formatted
	 * into the buffer at once, so never in use twice */
	struct alog_rec *r = &px->answer_rec;

	log_head(r, proto, req);
	r->status = status;
	r->rx_bytes = r->tx_bytes = r->duration_ns = 0;
	alog_add(&px->alog, r);
}

bool proxy_access_log_on(const struct proxy *px)
{
	return px && px->alog.fd >= 0;
}

void proxy_answer_h3(void *ctx, const struct quic_request *req, unsigned status)
{
	proxy_log_answer(ctx, "h3", req, status);
}

int proxy_front_request(struct proxy *px, const struct proxy_front_ops *ops, void *s,
                        const struct quic_request *req)
{
	struct exchange *ex = pex_pool_get(&px->exs);
	/* the normalized target: never longer than the raw one, and one that
	 * does not fit here would not fit the serialized head either (431) */
	char path[PEX_HEAD_MAX];
	struct quic_request fwd = *req;
	enum proxy_path_verdict pv;
	struct pex_act a;
	uint64_t now = ring_now();
	bool head_req = !strcmp(req->method, "HEAD");
	size_t plen;
	int route;

	if (!ex)
		return -ENOMEM; /* PROXY_MAX_EXCHANGES in flight on this worker */
	memset(&ex->px, 0, offsetof(struct exchange, rec) - offsetof(struct exchange, px));
	ex->rec.status = 0;
	ex->rec.rx_bytes = ex->rec.tx_bytes = 0;
	pex_init(&ex->x, &px->env);
	ex->x.via = ops->via;
	px->n_exchanges++;
	ex->px = px;
	ex->s = s;
	ex->fo = ops;
	ex->refs = 1;
	ops->attach(s, ex);
	if (px->alog.fd >= 0)
		log_begin(ex, req);

	/* Routed and forwarded alike: one reading of the target (path.h). */
	pv = proxy_path_normalize(req->path, strlen(req->path), path, sizeof(path), &plen);
	if (pv != PROXY_PATH_OK) {
		if (pv != PROXY_PATH_TOO_LONG)
			proxy_log(px, 3, "proxy: worker %u: 400: %s", px->worker_id, proxy_path_verdict_name(pv));
		pex_refuse(&ex->x, pv == PROXY_PATH_TOO_LONG ? 431 : 400, head_req, now, &a);
		run(ex, &a);
		return 0;
	}
	fwd.path = path;
	req = &fwd;

	route = px->set ? proxy_route_match(px->conf, host_of(req), req->path) : -1;
	if (route >= 0) {
		ex->set = px->set;
		ex->set->refs++;
		ex->be = &ex->set->backends[px->conf->routes[route].backend];
		if (ex->logged)
			alog_copy(ex->rec.route, sizeof(ex->rec.route), px->conf->routes[route].name);
	}
	client_addr(req->peer, ex->client, sizeof(ex->client));
	pex_request(&ex->x, req, ex->client, ex->be ? &ex->be->pb : NULL,
	            route >= 0 && px->conf->routes[route].allow_0rtt, now, &a);
	run(ex, &a);
	return 0;
}

/* ---- the worker's side ---- */

static void on_timer(void *ctx, struct twheel_timer *t, uint64_t now)
{
	(void)ctx;
	(void)now;
	uconn_expired(container_of(t, struct uconn, timer));
}

int proxy_create(struct ring *r, unsigned worker_id, proxy_log_fn log, void *log_ctx,
                 struct proxy **out)
{
	struct proxy *px = calloc(1, sizeof(*px));

	if (!px)
		return -ENOMEM;
	px->ring = r;
	px->worker_id = worker_id;
	px->log = log;
	px->log_ctx = log_ctx;
	twheel_init(&px->wheel, ring_now());
	twheel_init(&px->xwheel, ring_now());
	pex_pool_init(&px->exs, sizeof(struct exchange), PROXY_MAX_EXCHANGES);
	pex_pool_init(&px->bufs, PEX_REQ_BUF, PROXY_MAX_BODY_BUFS);
	pex_pool_init(&px->chunks, sizeof(struct chunk), PROXY_MAX_CHUNKS);
	px->env = (struct pex_env){&px->ctr, &px->bufs};
	if (alog_init(&px->alog)) {
		free(px);
		return -ENOMEM;
	}
	*out = px;
	return 0;
}

static void retire(struct proxy *px)
{
	struct pset *old = px->set;

	if (!old)
		return;
	px->set = NULL;
	old->retired = true;
	for (unsigned i = 0; i < old->n_servers; i++)
		uconn_close_idle(&old->servers[i]);
	pset_put(old);
}

int proxy_set_conf(struct proxy *px, const struct proxy_conf *c)
{
	struct pset *set;
	unsigned nw;

	if (c == px->conf)
		return 0;
	retire(px);
	px->conf = c;
	if (!c)
		return 0;
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->px = px;
	set->refs = 1;
	set->n_backends = c->n_backends;
	set->n_servers = c->n_servers;
	set->backends = calloc(c->n_backends ? c->n_backends : 1, sizeof(*set->backends));
	set->servers = calloc(c->n_servers ? c->n_servers : 1, sizeof(*set->servers));
	set->states = calloc(c->n_servers ? c->n_servers : 1, sizeof(*set->states));
	if (!set->backends || !set->servers || !set->states) {
		pset_put(set);
		px->conf = NULL;
		return -ENOMEM;
	}
	nw = c->n_workers ? c->n_workers : 1;
	for (unsigned b = 0; b < c->n_backends; b++) {
		const struct proxy_backend_conf *bc = &c->backends[b];

		set->backends[b] = (struct pbackend){
			.pb = {bc->lb, bc->timeout_ns, set->states + bc->first, bc->n_servers},
			.first = bc->first,
			.n = bc->n_servers,
		};
		for (unsigned i = 0; i < bc->n_servers; i++) {
			struct pserver *s = &set->servers[bc->first + i];
			struct proxy_srv_state *st = &set->states[bc->first + i];
			const struct proxy_server_conf *sc = &bc->servers[i];

			s->set = set;
			s->gidx = bc->first + i;
			s->addr = sc->addr;
			s->st = st;
			st->weight = sc->weight ? sc->weight : 1;
			st->priority = sc->priority;
			/* max_conns is for the process; each worker keeps its
			 * share, rounded up (workers share nothing) */
			st->max_conns = sc->max_conns ? (sc->max_conns + nw - 1) / nw : 0;
		}
	}
	px->set = set;
	return 0;
}

uint64_t proxy_next_expiry(struct proxy *px)
{
	uint64_t a = twheel_next_deadline(&px->wheel), b = twheel_next_deadline(&px->xwheel);

	return a < b ? a : b;
}

void proxy_handle_expiry(struct proxy *px, uint64_t now)
{
	twheel_advance(&px->xwheel, now, on_xtimer, px);
	twheel_advance(&px->wheel, now, on_timer, px);
}

static void st_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

void proxy_stats_publish(struct proxy *px)
{
	const struct proxy_conf *c = px->conf;
	uint64_t now = ring_now();

	pool_stats(px);
	if (!c || !px->set || px->worker_id >= c->n_workers)
		return;
	for (unsigned i = 0; i < px->set->n_servers; i++) {
		const struct pserver *s = &px->set->servers[i];
		struct proxy_srv_stats *d = &c->stats[(size_t)s->gidx * c->n_workers + px->worker_id];

		st_store(&d->conns, s->st->conns);
		st_store(&d->busy, s->st->busy);
		st_store(&d->requests, s->requests);
		st_store(&d->failures, s->failures);
		st_store(&d->down, s->st->down_until > now);
	}
}

void proxy_access_log(struct proxy *px, int fd)
{
	alog_set_fd(&px->alog, fd);
}

void proxy_access_log_flush(struct proxy *px)
{
	alog_flush(&px->alog);
	px->ctr.access_log_dropped = px->alog.dropped;
}

const struct proxy_counters *proxy_counters(const struct proxy *px)
{
	return &px->ctr;
}

void proxy_destroy(struct proxy *px)
{
	unsigned spins = 0;

	if (!px)
		return;
	retire(px);
	uconn_close_all(px);
	/* the kernel may still hold buffers of cancelled operations: let
	 * their completions come back (bounded) before the memory goes */
	while (px->io_pending && spins++ < 200) {
		ring_timer_set(px->ring, ring_now() + 5000000);
		if (ring_turn(px->ring) < 0)
			break;
	}
	if (px->io_pending || px->n_conns || px->n_exchanges)
		proxy_log(px, 1, "proxy: worker %u: %u I/O, %u connections, %u exchanges left at exit",
		          px->worker_id, px->io_pending, px->n_conns, px->n_exchanges);
	pex_pool_fini(&px->chunks);
	pex_pool_fini(&px->bufs);
	pex_pool_fini(&px->exs);
	alog_fini(&px->alog);
	free(px);
}
