/* proxy: one HTTP/3 request relayed to an HTTP/1.1 backend (proxy.h).
 *
 * An exchange lives from on_request to the stream's close() and any write
 * still in flight that points into it (refs). Request direction: the body
 * is copied from QUIC into a ring of PROXY_REQ_BUF bytes and credited back
 * (quic_stream_consume) only once written to the backend. Response
 * direction: the parser's body events are segments pointing into the
 * connection's receive chunks; read() hands them to HTTP/3, acked() drops
 * their chunk references; reading from the backend pauses while
 * PROXY_RESP_WINDOW bytes or PROXY_SEGS segments wait for acks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/internal.h"
#include "datapath/proxy/path.h"

#define H3_INTERNAL_ERROR 0x0102 /* RFC 9114 8.1 */

enum ex_state {
	EX_WAIT = 1, /* connecting to a server */
	EX_PROXYING, /* request going out, response coming back */
	EX_LOCAL,    /* answered here (404, 413, 431, 5xx) */
	EX_OVER,     /* upstream finished or failed; waiting for the stream's close */
};

struct seg {
	const uint8_t *p;
	size_t len;
	struct chunk *c;
};

struct exchange {
	struct proxy *px;
	uint64_t started;      /* ring_now() at the request's header section */
	struct quic_stream *s; /* NULL after close() */
	unsigned refs;         /* the stream, plus a write in flight */
	enum ex_state state;
	struct pset *set;
	struct pbackend *be;
	struct pserver *srv;
	struct uconn *c;
	uint64_t tried;
	unsigned attempts;
	bool head_req, has_body, body_ended, chunked;
	bool responded, with_body, resp_done, blocked, paused, write_failed;
	char client[64];

	/* request */
	char *head;
	size_t head_len, head_off;
	uint8_t *rb;
	uint64_t rb_in, rb_out, body_total;
	char fbuf[40]; /* chunk framing: "\r\n" closing the last chunk, next size line */
	size_t flen, foff;
	uint64_t chunk_left;
	bool chunk_open, final_queued, req_done, writing;
	struct iovec wiov[4];

	/* response */
	struct http1_resp *rp;
	struct seg segs[PROXY_SEGS];
	unsigned seg_ack, seg_sent, seg_end; /* free-running indices */
	size_t ack_off;
	uint64_t unacked;

	/* local answer */
	const char *local;
	size_t local_left;
};

/* ---- lifetime ---- */

void ex_put(struct exchange *ex)
{
	struct proxy *px = ex->px;

	if (--ex->refs)
		return;
	while (ex->seg_ack != ex->seg_end)
		chunk_put(px, ex->segs[ex->seg_ack++ % PROXY_SEGS].c);
	if (ex->set)
		pset_put(ex->set);
	free(ex->head);
	free(ex->rb);
	free(ex->rp);
	free(ex);
	px->n_exchanges--;
}

static void detach(struct exchange *ex, bool reuse)
{
	struct uconn *c = ex->c;

	if (!c)
		return;
	ex->c = NULL;
	ex->writing = false; /* a write in flight keeps its own reference */
	uconn_release(c, reuse);
}

/* ---- answers made here ---- */

static void answer(struct exchange *ex, unsigned status, const char *text)
{
	struct quic_header h[2];
	char cl[24];
	int err;

	detach(ex, false);
	if (!ex->s)
		return;
	if (ex->responded) {
		/* headers already went out: the only honest signal is a reset */
		ex->state = EX_OVER;
		ex->px->ctr.upstream_resets++;
		quic_stream_reset(ex->s, H3_INTERNAL_ERROR);
		return;
	}
	ex->state = EX_LOCAL;
	ex->local = text;
	ex->local_left = ex->head_req ? 0 : strlen(text);
	h[0] = (struct quic_header){"content-type", 12, "text/plain; charset=utf-8", 25};
	h[1] = (struct quic_header){"content-length", 14, cl,
	                            (size_t)snprintf(cl, sizeof(cl), "%zu", strlen(text))};
	ex->responded = true;
	err = quic_stream_respond(ex->s, status, h, 2, true);
	if (err)
		quic_stream_reset(ex->s, H3_INTERNAL_ERROR);
	switch (status) {
	case 404: ex->px->ctr.no_route++; break;
	case 413:
	case 431: ex->px->ctr.too_large++; break;
	case 502: ex->px->ctr.bad_gateway++; break;
	case 503: ex->px->ctr.unavailable++; break;
	case 504: ex->px->ctr.gateway_timeout++; break;
	default: break;
	}
}

static void fail_502(struct exchange *ex, const char *why)
{
	proxy_log(ex->px, 1, "proxy: worker %u: bad gateway: %s", ex->px->worker_id, why);
	if (ex->srv)
		ex->srv->failures++;
	answer(ex, 502, "bad gateway\n");
}

/* ---- choosing a server ---- */

static void ex_start(struct exchange *ex);

static void ex_connect(struct exchange *ex)
{
	struct pbackend *be = ex->be;
	int pick, err = 0;

	for (;;) {
		struct uconn *c;

		/* At most one attempt per server: `tried` names only the first
		 * 64, and a local failure (no socket) must not loop forever. */
		pick = ex->attempts >= be->n ? -EHOSTDOWN
		                             : proxy_lb_pick(be->lb, ex->set->states + be->first, be->n, ring_now(), ex->tried);
		if (pick < 0) {
			if (ex->attempts)
				fail_502(ex, "no server of the backend accepted a connection");
			else
				answer(ex, 503, "service unavailable\n");
			return;
		}
		ex->srv = &ex->set->servers[be->first + (unsigned)pick];
		ex->attempts++;
		c = uconn_get(ex->srv, ex, &err);
		if (c) {
			ex->c = c;
			if (c->state == UC_BUSY)
				ex_start(ex);
			else
				ex->state = EX_WAIT;
			return;
		}
		/* no socket at all: a local problem, try another server */
		ex->tried |= (uint64_t)1 << ((unsigned)pick & 63);
		ex->srv->failures++;
	}
}

void ex_connected(struct exchange *ex, int res)
{
	struct uconn *c = ex->c;

	if (res < 0) {
		struct pserver *srv = ex->srv;

		/* passive health check: a server refusing connections rests */
		srv->failures++;
		srv->st->down_until = ring_now() + PROXY_DOWN_NS;
		ex->px->ctr.conns_failed++;
		proxy_log(ex->px, 1, "proxy: worker %u: connect failed: %s; server down for %llu s",
		          ex->px->worker_id, strerror(-res), PROXY_DOWN_NS / 1000000000ull);
		ex->tried |= (uint64_t)1 << ((unsigned)(srv - ex->set->servers - ex->be->first) & 63);
		detach(ex, false);
		ex_connect(ex);
		return;
	}
	uconn_connected(c);
	ex_start(ex);
}

/* ---- request direction ---- */

static void ex_write(struct exchange *ex);

static void ex_start(struct exchange *ex)
{
	ex->state = EX_PROXYING;
	ex->srv->requests++;
	uconn_timer(ex->c, ring_now() + ex->be->timeout_ns);
	ex_write(ex);
}

static unsigned body_iov(struct exchange *ex, struct iovec *iov, uint64_t n)
{
	size_t at = (size_t)(ex->rb_out % PROXY_REQ_BUF);
	size_t first = PROXY_REQ_BUF - at;
	unsigned k = 0;

	if (!n)
		return 0;
	if (first > n)
		first = (size_t)n;
	iov[k++] = (struct iovec){ex->rb + at, first};
	if (n > first)
		iov[k++] = (struct iovec){ex->rb, (size_t)(n - first)};
	return k;
}

static void ex_write(struct exchange *ex)
{
	struct uconn *c = ex->c;
	unsigned k = 0;
	uint64_t avail;

	if (!c || c->state != UC_BUSY || ex->writing || ex->req_done || ex->write_failed ||
	    ex->state != EX_PROXYING)
		return;
	if (ex->head_off < ex->head_len) {
		ex->wiov[k++] = (struct iovec){ex->head + ex->head_off, ex->head_len - ex->head_off};
	}
	avail = ex->rb_in - ex->rb_out;
	if (ex->chunked) {
		if (ex->foff == ex->flen && ex->chunk_left == 0) {
			const char *close = ex->chunk_open ? "\r\n" : "";

			if (avail) {
				ex->flen = (size_t)snprintf(ex->fbuf, sizeof(ex->fbuf), "%s%" PRIx64 "\r\n", close, avail);
				ex->chunk_left = avail;
				ex->chunk_open = true;
				ex->foff = 0;
			} else if (ex->body_ended && !ex->final_queued) {
				/* last-chunk, no trailers (RFC 9112 7.1) */
				ex->flen = (size_t)snprintf(ex->fbuf, sizeof(ex->fbuf), "%s0\r\n\r\n", close);
				ex->foff = 0;
				ex->final_queued = true;
				ex->chunk_open = false;
			}
		}
		if (ex->foff < ex->flen)
			ex->wiov[k++] = (struct iovec){ex->fbuf + ex->foff, ex->flen - ex->foff};
		if (avail > ex->chunk_left)
			avail = ex->chunk_left;
	}
	k += body_iov(ex, ex->wiov + k, avail);
	if (k == 0) {
		bool body_out = !ex->has_body ||
		                (ex->body_ended && ex->rb_out == ex->rb_in &&
		                 (!ex->chunked || (ex->final_queued && ex->foff == ex->flen)));

		if (ex->head_off == ex->head_len && body_out)
			ex->req_done = true;
		return;
	}
	if (uconn_writev(c, ex->wiov, k) < 0) {
		fail_502(ex, "cannot submit a write");
		return;
	}
	ex->writing = true;
	ex->refs++;
	c->wex = ex;
}

void ex_written(struct exchange *ex, int res)
{
	size_t n, m;

	ex->writing = false;
	if (res < 0) {
		/* The backend stopped reading: it may still answer (an early
		 * error response); the read side decides. */
		ex->write_failed = true;
		return;
	}
	n = (size_t)res;
	m = ex->head_len - ex->head_off;
	if (m > n)
		m = n;
	ex->head_off += m;
	n -= m;
	m = ex->flen - ex->foff;
	if (m > n)
		m = n;
	ex->foff += m;
	n -= m;
	if (n) {
		ex->rb_out += n;
		if (ex->chunked)
			ex->chunk_left -= n;
		if (ex->s)
			quic_stream_consume(ex->s, n); /* only now: the client may send more */
	}
	if (ex->c && ex->be)
		uconn_timer(ex->c, ring_now() + ex->be->timeout_ns);
	ex_write(ex);
}

static int ex_body(void *h, struct quic_stream *s, const uint8_t *data, size_t len)
{
	struct exchange *ex = h;
	size_t at, m;

	ex->body_total += len;
	if (ex->state == EX_LOCAL || ex->state == EX_OVER || !ex->rb) {
		quic_stream_consume(s, len); /* nobody wants it: keep the window open */
		return 0;
	}
	if (ex->body_total > PROXY_MAX_REQUEST_BODY) {
		answer(ex, 413, "request body too large\n");
		quic_stream_consume(s, len);
		return 0;
	}
	if (ex->rb_in + len - ex->rb_out > PROXY_REQ_BUF)
		return -ENOBUFS; /* beyond the flow-control window: a broken peer */
	while (len) {
		at = (size_t)(ex->rb_in % PROXY_REQ_BUF);
		m = PROXY_REQ_BUF - at;
		if (m > len)
			m = len;
		memcpy(ex->rb + at, data, m);
		ex->rb_in += m;
		data += m;
		len -= m;
	}
	ex_write(ex);
	return 0;
}

static void ex_body_end(void *h, struct quic_stream *s)
{
	struct exchange *ex = h;

	(void)s;
	ex->body_ended = true;
	ex_write(ex);
}

/* ---- response direction ---- */

static void resume(struct exchange *ex)
{
	if (ex->blocked && ex->s) {
		ex->blocked = false;
		quic_stream_resume(ex->s);
	}
}

static void resp_done(struct exchange *ex)
{
	struct uconn *c = ex->c;
	bool reuse = ex->rp->keep_alive && ex->req_done && !ex->write_failed && !ex->writing &&
	             c->rparsed == c->rfill;

	ex->resp_done = true;
	ex->state = EX_OVER;
	detach(ex, reuse);
	resume(ex);
}

static bool respond(struct exchange *ex)
{
	struct quic_header h[32];
	unsigned dropped, n;
	int err;

	n = http1_resp_h3_headers(ex->rp, h, 32, &dropped);
	ex->px->ctr.headers_dropped += dropped;
	ex->with_body = ex->rp->framing != HTTP1_BODY_NONE;
	ex->responded = true;
	err = quic_stream_respond(ex->s, ex->rp->status, h, n, ex->with_body);
	if (err) {
		proxy_log(ex->px, 1, "proxy: worker %u: cannot submit the response: %s", ex->px->worker_id,
		          strerror(-err));
		return false;
	}
	return true;
}

/* Feed what the connection read to the parser, as far as the response
 * window allows; then read more. */
static void parse(struct exchange *ex)
{
	struct uconn *c = ex->c;

	for (;;) {
		struct http1_out out;
		size_t n;

		if (ex->seg_end - ex->seg_ack == PROXY_SEGS || ex->unacked >= PROXY_RESP_WINDOW) {
			ex->paused = true;
			uconn_timer(c, 0); /* the client is slow, not the backend */
			return;
		}
		n = http1_resp_feed(ex->rp, c->rchunk->data + c->rparsed, c->rfill - c->rparsed, &out);
		c->rparsed += n;
		switch (out.ev) {
		case HTTP1_NEED_MORE:
			break;
		case HTTP1_HEADERS:
			if (!ex->s || !respond(ex)) {
				answer(ex, 502, "bad gateway\n");
				return;
			}
			continue;
		case HTTP1_BODY: {
			struct seg *sg = &ex->segs[ex->seg_end++ % PROXY_SEGS];

			sg->p = out.body;
			sg->len = out.body_len;
			sg->c = c->rchunk;
			c->rchunk->refs++;
			ex->unacked += out.body_len;
			resume(ex);
			continue;
		}
		case HTTP1_DONE:
			resp_done(ex);
			return;
		case HTTP1_ERROR:
			fail_502(ex, http1_error_name(out.error));
			return;
		}
		break;
	}
	ex->paused = false;
	uconn_read(c);
	uconn_timer(c, ring_now() + ex->be->timeout_ns);
}

void ex_read(struct exchange *ex, int res)
{
	struct uconn *c = ex->c;
	struct http1_out out;

	if (res > 0) {
		parse(ex);
		return;
	}
	/* end of stream or an error: whatever was read is parsed already */
	if (res == 0 && http1_resp_eof(ex->rp, &out) == HTTP1_DONE) {
		resp_done(ex);
		return;
	}
	if (c->reused && !http1_resp_started(ex->rp) && ex->rb_out == 0 && !ex->writing &&
	    ex->attempts < 4) {
		/* A keep-alive connection the backend had closed: nothing of
		 * this request was consumed, so it goes again on another one. */
		detach(ex, false);
		ex->head_off = 0;
		ex->foff = ex->flen = 0;
		ex->chunk_left = 0;
		ex->chunk_open = ex->final_queued = ex->req_done = ex->write_failed = false;
		http1_resp_init(ex->rp, ex->head_req);
		ex_connect(ex);
		return;
	}
	fail_502(ex, res == 0 ? "backend closed the connection before the end of the response"
	                      : strerror(-res));
}

void ex_timeout(struct exchange *ex)
{
	proxy_log(ex->px, 1, "proxy: worker %u: backend %s timed out", ex->px->worker_id,
	          ex->state == EX_WAIT ? "connect" : "response");
	if (ex->srv) {
		ex->srv->failures++;
		if (ex->state == EX_WAIT)
			ex->srv->st->down_until = ring_now() + PROXY_DOWN_NS;
	}
	answer(ex, 504, "gateway timeout\n");
}

static ssize_t ex_read_body(void *h, struct quic_stream *s, struct quic_iov *iov, unsigned n,
                            bool *eof)
{
	struct exchange *ex = h;
	unsigned k = 0;

	(void)s;
	if (ex->state == EX_LOCAL) {
		if (ex->local_left && n) {
			iov[k++] = (struct quic_iov){(const uint8_t *)ex->local, ex->local_left};
			ex->local_left = 0;
		}
		*eof = true;
		return k;
	}
	while (k < n && ex->seg_sent != ex->seg_end) {
		const struct seg *sg = &ex->segs[ex->seg_sent++ % PROXY_SEGS];

		iov[k++] = (struct quic_iov){sg->p, sg->len};
	}
	if (ex->seg_sent == ex->seg_end && ex->resp_done) {
		*eof = true;
		return k;
	}
	if (k == 0) {
		ex->blocked = true;
		return QUIC_BODY_WOULDBLOCK;
	}
	return k;
}

static void ex_acked(void *h, struct quic_stream *s, uint64_t n)
{
	struct exchange *ex = h;

	(void)s;
	if (ex->state == EX_LOCAL && ex->seg_ack == ex->seg_end)
		return;
	while (n && ex->seg_ack != ex->seg_sent) {
		struct seg *sg = &ex->segs[ex->seg_ack % PROXY_SEGS];
		size_t m = sg->len - ex->ack_off;

		if (m > n)
			m = (size_t)n;
		ex->ack_off += m;
		n -= m;
		ex->unacked -= m;
		if (ex->ack_off == sg->len) {
			chunk_put(ex->px, sg->c);
			ex->seg_ack++;
			ex->ack_off = 0;
		}
	}
	if (ex->paused && ex->c && ex->state == EX_PROXYING)
		parse(ex);
}


static void latency_count(struct proxy_counters *ctr, uint64_t us)
{
	unsigned b = 0;
	while (b < PROXY_LATENCY_BUCKETS - 1 && us > proxy_latency_bounds_us[b])
		b++;
	ctr->latency_buckets[b]++;
	ctr->latency_sum_us += us;
	ctr->latency_count++;
}

static void ex_close(void *h, struct quic_stream *s, uint64_t app_error)
{
	struct exchange *ex = h;

	(void)s;
	(void)app_error;
	latency_count(&ex->px->ctr, (ring_now() - ex->started) / 1000);
	ex->s = NULL;
	if (ex->c) /* the client went away mid-exchange: this connection is spoiled */
		detach(ex, false);
	ex->state = EX_OVER;
	ex_put(ex);
}

static const struct quic_handler_ops ex_ops = {
	.body = ex_body,
	.body_end = ex_body_end,
	.read = ex_read_body,
	.acked = ex_acked,
	.close = ex_close,
};

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

int proxy_request(void *ctx, struct quic_stream *s, const struct quic_request *req)
{
	struct proxy *px = ctx;
	struct exchange *ex = calloc(1, sizeof(*ex));
	/* the normalized target: never longer than the raw one, and one that
	 * does not fit here would not fit the serialized head either (431) */
	char path[PROXY_HEAD_MAX];
	struct quic_request fwd = *req;
	enum proxy_path_verdict pv;
	size_t plen;
	int route;
	int64_t blen;
	ssize_t n;

	if (!ex)
		return -ENOMEM;
	px->ctr.requests++;
	px->n_exchanges++;
	ex->px = px;
	ex->s = s;
	ex->started = ring_now();
	ex->refs = 1;
	ex->head_req = !strcmp(req->method, "HEAD");
	ex->has_body = req->has_body;
	ex->body_ended = !req->has_body;
	quic_stream_attach(s, &ex_ops, ex);

	/* Routed and forwarded alike: one reading of the target (path.h). */
	pv = proxy_path_normalize(req->path, strlen(req->path), path, sizeof(path), &plen);
	if (pv == PROXY_PATH_TOO_LONG) {
		answer(ex, 431, "request header fields too large\n");
		return 0;
	}
	if (pv != PROXY_PATH_OK) {
		px->ctr.bad_target++;
		proxy_log(px, 3, "proxy: worker %u: 400: %s", px->worker_id, proxy_path_verdict_name(pv));
		answer(ex, 400, "bad request\n");
		return 0;
	}
	fwd.path = path;
	req = &fwd;

	route = px->set ? proxy_route_match(px->conf, host_of(req), req->path) : -1;
	if (route < 0) {
		answer(ex, 404, "no route\n");
		return 0;
	}
	/* RFC 8470: early data may be replayed; a route that has not opted in
	 * never sees it, the client retries after the handshake */
	if (req->early_data && !px->conf->routes[route].allow_0rtt) {
		answer(ex, 425, "too early\n");
		return 0;
	}
	if (req->content_length > (int64_t)PROXY_MAX_REQUEST_BODY) {
		answer(ex, 413, "request body too large\n");
		return 0;
	}
	client_addr(req->peer, ex->client, sizeof(ex->client));
	if (!req->has_body)
		blen = req->content_length == 0 || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
		               !strcmp(req->method, "PATCH")
		           ? 0
		           : HTTP1_REQ_NO_BODY;
	else
		blen = req->content_length >= 0 ? req->content_length : HTTP1_REQ_CHUNKED;
	ex->chunked = blen == HTTP1_REQ_CHUNKED;
	ex->head = malloc(PROXY_HEAD_MAX);
	ex->rp = malloc(sizeof(*ex->rp));
	ex->rb = req->has_body ? malloc(PROXY_REQ_BUF) : NULL;
	if (!ex->head || !ex->rp || (req->has_body && !ex->rb)) {
		answer(ex, 503, "out of memory\n");
		return 0;
	}
	n = http1_req_serialize(req, ex->client, blen, ex->head, PROXY_HEAD_MAX);
	if (n < 0) {
		if (n == -ENOSPC)
			answer(ex, 431, "request header fields too large\n");
		else
			answer(ex, 400, "bad request\n");
		return 0;
	}
	ex->head_len = (size_t)n;
	http1_resp_init(ex->rp, ex->head_req);
	ex->set = px->set;
	ex->set->refs++;
	ex->be = &ex->set->backends[px->conf->routes[route].backend];
	ex_connect(ex);
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

		set->backends[b] = (struct pbackend){bc->lb, bc->timeout_ns, bc->first, bc->n_servers};
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
	return twheel_next_deadline(&px->wheel);
}

void proxy_handle_expiry(struct proxy *px, uint64_t now)
{
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

const struct proxy_counters *proxy_counters(const struct proxy *px)
{
	return &px->ctr;
}

void proxy_destroy(struct proxy *px)
{
	struct chunk *c;
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
	while ((c = px->free_chunks)) {
		px->free_chunks = c->next;
		free(c);
	}
	free(px);
}
