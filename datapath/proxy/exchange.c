/* exchange: one proxied request as a sans-IO state machine (exchange.h).
 *
 * Request direction: the body is copied into a ring of PEX_REQ_BUF bytes
 * and credited back to the client (act->consume) only once written to the
 * backend, so the client's flow-control window is the only buffer bound.
 * Response direction: the parser's body events become segments pointing
 * into the driver's receive buffers; parsing pauses while PEX_RESP_WINDOW
 * bytes or PEX_SEGS segments wait for the client's acks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/exchange.h"

/* ---- pool ---- */

void pex_pool_init(struct pex_pool *p, size_t size, unsigned max)
{
	*p = (struct pex_pool){.size = size < sizeof(void *) ? sizeof(void *) : size, .max = max};
}

void *pex_pool_get(struct pex_pool *p)
{
	void *o = p->free;

	if (o) {
		memcpy(&p->free, o, sizeof(void *));
	} else {
		if (p->allocated >= p->max)
			return NULL;
		o = malloc(p->size);
		if (!o)
			return NULL;
		p->allocated++;
	}
	if (++p->live > p->high)
		p->high = p->live;
	return o;
}

void pex_pool_put(struct pex_pool *p, void *obj)
{
	if (!obj)
		return;
	memcpy(obj, &p->free, sizeof(void *));
	p->free = obj;
	p->live--;
}

void pex_pool_fini(struct pex_pool *p)
{
	void *o;

	while ((o = p->free)) {
		memcpy(&p->free, o, sizeof(void *));
		free(o);
		p->allocated--;
	}
}

/* ---- helpers ---- */

const char *pex_state_name(enum pex_state s)
{
	switch (s) {
	case PEX_FREE: return "free";
	case PEX_CONNECTING: return "connecting";
	case PEX_UPSTREAM: return "upstream";
	case PEX_STREAMING: return "streaming";
	case PEX_LOCAL: return "local";
	case PEX_FINISHED: return "finished";
	case PEX_CLOSED: return "closed";
	}
	return "?";
}

static void act_clear(struct pex_act *act)
{
	act->flags = 0;
	act->reuse = false;
	act->failed_server = -1;
	act->n_iov = 0;
	act->n_hdrs = 0;
	act->consume = 0;
	act->fed = 0;
	act->n_release = 0;
	act->tag_refs = 0;
	act->why = NULL;
}

static void act_done(const struct proxy_exchange *ex, struct pex_act *act)
{
	act->deadline = ex->deadline;
}

static bool upstream_state(const struct proxy_exchange *ex)
{
	return ex->state == PEX_UPSTREAM || ex->state == PEX_STREAMING;
}

static void release_conn(struct proxy_exchange *ex, bool reuse, struct pex_act *act)
{
	if (!ex->conn)
		return;
	ex->conn = false;
	act->flags |= PEX_A_RELEASE;
	act->reuse = reuse;
}

static void release_segs(struct proxy_exchange *ex, unsigned upto, struct pex_act *act)
{
	while (ex->seg_ack != upto) {
		act->release[act->n_release++] = ex->segs[ex->seg_ack++ % PEX_SEGS].tag;
		ex->ack_off = 0;
	}
}

/* The request body ring goes back once the client is gone and no write
 * points into it. */
static void drop_buffers(struct proxy_exchange *ex)
{
	if (ex->state == PEX_CLOSED && !ex->writing && ex->rb) {
		pex_pool_put(ex->env->bufs, ex->rb);
		ex->rb = NULL;
	}
}

/* ---- answers made here ---- */

static void answer(struct proxy_exchange *ex, unsigned status, const char *text, struct pex_act *act)
{
	struct proxy_counters *ctr = ex->env->ctr;
	size_t len = strlen(text);

	release_conn(ex, false, act);
	ex->deadline = RG_NO_DEADLINE;
	ex->paused = false;
	if (ex->responded) {
		/* headers already went out: the only honest signal is a reset */
		ctr->upstream_resets++;
		act->flags |= PEX_A_RESET;
		ex->state = PEX_FINISHED;
		return;
	}
	ex->local = text;
	ex->local_left = ex->head_req ? 0 : len;
	act->hdrs[0] = (struct quic_header){"content-type", 12, "text/plain; charset=utf-8", 25};
	act->hdrs[1] = (struct quic_header){"content-length", 14, ex->cl,
	                                    (size_t)snprintf(ex->cl, sizeof(ex->cl), "%zu", len)};
	act->n_hdrs = 2;
	act->status = status;
	act->with_body = true;
	act->flags |= PEX_A_RESPOND;
	ex->responded = true;
	switch (status) {
	case 404: ctr->no_route++; break;
	case 413:
	case 431: ctr->too_large++; break;
	case 502: ctr->bad_gateway++; break;
	case 503: ctr->unavailable++; break;
	case 504: ctr->gateway_timeout++; break;
	default: break;
	}
	ex->state = PEX_LOCAL;
}

static void fail_502(struct proxy_exchange *ex, const char *why, struct pex_act *act)
{
	if (ex->state != PEX_FREE && ex->be)
		act->failed_server = (int)ex->srv;
	act->why = why;
	answer(ex, 502, "bad gateway\n", act);
}

/* ---- choosing a server ---- */

static void connect_next(struct proxy_exchange *ex, uint64_t now, struct pex_act *act)
{
	const struct pex_backend *be = ex->be;
	/* At most one attempt per server: `tried` names only the first 64,
	 * and a local failure (no socket) must not loop forever. */
	int pick = ex->attempts >= be->n ? -EHOSTDOWN : proxy_lb_pick(be->lb, be->st, be->n, now, ex->tried);

	if (pick < 0) {
		if (ex->attempts) {
			act->why = "no server of the backend accepted a connection";
			answer(ex, 502, "bad gateway\n", act);
		} else {
			answer(ex, 503, "service unavailable\n", act);
		}
		return;
	}
	ex->srv = (unsigned)pick;
	ex->attempts++;
	ex->conn = true; /* the driver holds (or is getting) a connection */
	ex->deadline = now + PEX_CONNECT_TIMEOUT_NS;
	act->flags |= PEX_A_CONNECT;
	act->server = (unsigned)pick;
	ex->state = PEX_CONNECTING;
}

/* ---- request direction ---- */

static unsigned body_iov(struct proxy_exchange *ex, struct iovec *iov, uint64_t n)
{
	size_t at = (size_t)(ex->rb_out % PEX_REQ_BUF);
	size_t first = PEX_REQ_BUF - at;
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

static void write_more(struct proxy_exchange *ex, struct pex_act *act)
{
	unsigned k = 0;
	uint64_t avail;

	if (!ex->conn || ex->writing || ex->req_done || ex->write_failed || !upstream_state(ex))
		return;
	if (ex->head_off < ex->head_len)
		act->iov[k++] = (struct iovec){ex->head + ex->head_off, ex->head_len - ex->head_off};
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
			act->iov[k++] = (struct iovec){ex->fbuf + ex->foff, ex->flen - ex->foff};
		if (avail > ex->chunk_left)
			avail = ex->chunk_left;
	}
	k += body_iov(ex, act->iov + k, avail);
	if (k == 0) {
		bool body_out = !ex->has_body ||
		                (ex->body_ended && ex->rb_out == ex->rb_in &&
		                 (!ex->chunked || (ex->final_queued && ex->foff == ex->flen)));

		if (ex->head_off == ex->head_len && body_out)
			ex->req_done = true;
		return;
	}
	act->n_iov = k;
	act->flags |= PEX_A_WRITE;
	ex->writing = true;
}

void pex_init(struct proxy_exchange *ex, struct pex_env *env)
{
	/* the segments, the parser and the head buffer are written before
	 * they are read: clearing only the rest keeps their 41 KB out of
	 * each request */
	memset(ex, 0, offsetof(struct proxy_exchange, segs));
	ex->env = env;
	ex->deadline = RG_NO_DEADLINE;
	ex->state = PEX_FREE;
}

void pex_refuse(struct proxy_exchange *ex, unsigned status, bool head_req, uint64_t now,
                struct pex_act *act)
{
	act_clear(act);
	if (ex->state != PEX_FREE) {
		act_done(ex, act);
		return;
	}
	ex->env->ctr->requests++;
	ex->started = now;
	ex->head_req = head_req;
	if (status == 400)
		ex->env->ctr->bad_target++;
	answer(ex, status, status == 431 ? "request header fields too large\n" : "bad request\n", act);
	act_done(ex, act);
}

void pex_request(struct proxy_exchange *ex, const struct quic_request *req, const char *client,
                 const struct pex_backend *be, bool allow_0rtt, uint64_t now, struct pex_act *act)
{
	int64_t blen;
	ssize_t n;

	act_clear(act);
	if (ex->state != PEX_FREE) {
		act_done(ex, act);
		return;
	}
	ex->env->ctr->requests++;
	ex->started = now;
	ex->head_req = !strcmp(req->method, "HEAD");
	ex->has_body = req->has_body;
	ex->body_ended = !req->has_body;
	if (!be) {
		answer(ex, 404, "no route\n", act);
		goto out;
	}
	/* RFC 8470: early data may be replayed; a route that has not opted in
	 * never sees it, the client retries after the handshake */
	if (req->early_data && !allow_0rtt) {
		answer(ex, 425, "too early\n", act);
		goto out;
	}
	if (req->content_length > (int64_t)PROXY_MAX_REQUEST_BODY) {
		answer(ex, 413, "request body too large\n", act);
		goto out;
	}
	if (!req->has_body)
		blen = req->content_length == 0 || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
		               !strcmp(req->method, "PATCH")
		           ? 0
		           : HTTP1_REQ_NO_BODY;
	else
		blen = req->content_length >= 0 ? req->content_length : HTTP1_REQ_CHUNKED;
	ex->chunked = blen == HTTP1_REQ_CHUNKED;
	n = http1_req_serialize_via(req, client, ex->via, blen, ex->head, sizeof(ex->head));
	if (n < 0) {
		if (n == -ENOSPC)
			answer(ex, 431, "request header fields too large\n", act);
		else
			answer(ex, 400, "bad request\n", act);
		goto out;
	}
	if (req->has_body && !(ex->rb = pex_pool_get(ex->env->bufs))) {
		/* every body buffer of the worker is in use */
		answer(ex, 503, "service unavailable\n", act);
		goto out;
	}
	ex->head_len = (size_t)n;
	http1_resp_init(&ex->rp, ex->head_req);
	ex->be = be;
	connect_next(ex, now, act);
out:
	act_done(ex, act);
}

int pex_body(struct proxy_exchange *ex, const uint8_t *data, size_t len, uint64_t now, struct pex_act *act)
{
	size_t at, m;

	(void)now;
	act_clear(act);
	ex->body_total += len;
	if (ex->state == PEX_FREE || ex->state == PEX_LOCAL || ex->state == PEX_FINISHED ||
	    ex->state == PEX_CLOSED || !ex->rb) {
		act->consume = len; /* nobody wants it: keep the window open */
		goto out;
	}
	if (ex->body_total > PROXY_MAX_REQUEST_BODY) {
		answer(ex, 413, "request body too large\n", act);
		act->consume = len;
		goto out;
	}
	if (ex->rb_in + len - ex->rb_out > PEX_REQ_BUF) {
		act_done(ex, act);
		return -ENOBUFS; /* beyond the flow-control window: a broken peer */
	}
	while (len) {
		at = (size_t)(ex->rb_in % PEX_REQ_BUF);
		m = PEX_REQ_BUF - at;
		if (m > len)
			m = len;
		memcpy(ex->rb + at, data, m);
		ex->rb_in += m;
		data += m;
		len -= m;
	}
	write_more(ex, act);
out:
	act_done(ex, act);
	return 0;
}

void pex_body_end(struct proxy_exchange *ex, uint64_t now, struct pex_act *act)
{
	(void)now;
	act_clear(act);
	ex->body_ended = true;
	write_more(ex, act);
	act_done(ex, act);
}

void pex_connected(struct proxy_exchange *ex, bool reused, uint64_t now, struct pex_act *act)
{
	act_clear(act);
	if (ex->state != PEX_CONNECTING) {
		act_done(ex, act);
		return;
	}
	ex->conn = true;
	ex->reused = reused;
	ex->deadline = now + ex->be->timeout_ns;
	ex->state = PEX_UPSTREAM;
	act->flags |= PEX_A_READ;
	write_more(ex, act);
	act_done(ex, act);
}

void pex_connect_failed(struct proxy_exchange *ex, int err, bool refused, uint64_t now,
                        struct pex_act *act)
{
	(void)err;
	act_clear(act);
	if (ex->state != PEX_CONNECTING) {
		act_done(ex, act);
		return;
	}
	act->failed_server = (int)ex->srv;
	if (refused) {
		/* passive health check: a server refusing connections rests */
		ex->be->st[ex->srv].down_until = now + PEX_DOWN_NS;
		ex->env->ctr->conns_failed++;
		act->why = "connect failed; server down for a while";
	}
	ex->tried |= (uint64_t)1 << (ex->srv & 63);
	release_conn(ex, false, act);
	connect_next(ex, now, act);
	act_done(ex, act);
}

void pex_written(struct proxy_exchange *ex, long res, uint64_t now, struct pex_act *act)
{
	size_t n, m;

	act_clear(act);
	ex->writing = false;
	if (!upstream_state(ex) || !ex->conn) {
		drop_buffers(ex);
		goto out;
	}
	if (res < 0) {
		/* The backend stopped reading: it may still answer (an early
		 * error response); the read side decides. */
		ex->write_failed = true;
		goto out;
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
		act->consume = n; /* only now: the client may send more */
	}
	if (!ex->paused)
		ex->deadline = now + ex->be->timeout_ns;
	write_more(ex, act);
out:
	act_done(ex, act);
}

/* ---- response direction ---- */

static bool window_full(const struct proxy_exchange *ex)
{
	return ex->seg_end - ex->seg_ack == PEX_SEGS || ex->unacked >= PEX_RESP_WINDOW;
}

static void resume(struct proxy_exchange *ex, struct pex_act *act)
{
	if (ex->blocked) {
		ex->blocked = false;
		act->flags |= PEX_A_RESUME;
	}
}

static void resp_finished(struct proxy_exchange *ex, bool all_parsed, struct pex_act *act)
{
	bool reuse = ex->rp.keep_alive && ex->req_done && !ex->write_failed && !ex->writing && all_parsed;

	ex->resp_done = true;
	ex->deadline = RG_NO_DEADLINE;
	release_conn(ex, reuse, act);
	resume(ex, act);
	ex->state = PEX_FINISHED;
}

static void read_end(struct proxy_exchange *ex, int err, uint64_t now, struct pex_act *act)
{
	struct http1_out out;
	/* before http1_resp_eof(), which moves the parser to its error state */
	bool started = http1_resp_started(&ex->rp);

	if (!err && http1_resp_eof(&ex->rp, &out) == HTTP1_DONE) {
		resp_finished(ex, true, act);
		return;
	}
	if (ex->reused && !started && ex->rb_out == 0 && !ex->writing &&
	    ex->attempts < PEX_RETRIES) {
		/* A keep-alive connection the backend had closed: nothing of
		 * this request was consumed, so it goes again on another one. */
		release_conn(ex, false, act);
		ex->head_off = 0;
		ex->foff = ex->flen = 0;
		ex->chunk_left = 0;
		ex->chunk_open = ex->final_queued = ex->req_done = ex->write_failed = false;
		http1_resp_init(&ex->rp, ex->head_req);
		connect_next(ex, now, act);
		return;
	}
	fail_502(ex, err ? "backend read failed" : "backend closed the connection before the end of the response",
	         act);
}

void pex_read_end(struct proxy_exchange *ex, int err, uint64_t now, struct pex_act *act)
{
	act_clear(act);
	if (upstream_state(ex) && ex->conn)
		read_end(ex, err, now, act);
	act_done(ex, act);
}

void pex_read(struct proxy_exchange *ex, const uint8_t *data, size_t len, void *tag, uint64_t now,
              struct pex_act *act)
{
	size_t off = 0;

	act_clear(act);
	if (!upstream_state(ex) || !ex->conn)
		goto out;
	for (;;) {
		struct http1_out o;
		size_t n;

		if (window_full(ex))
			break;
		/* also with nothing left: the parser may complete on 0 bytes */
		n = http1_resp_feed(&ex->rp, data + off, len - off, &o);
		off += n;
		switch (o.ev) {
		case HTTP1_NEED_MORE:
			break;
		case HTTP1_HEADERS: {
			unsigned dropped;

			act->n_hdrs = http1_resp_h3_headers(&ex->rp, act->hdrs, PEX_MAX_HDRS, &dropped);
			ex->env->ctr->headers_dropped += dropped;
			act->status = ex->rp.status;
			ex->with_body = ex->rp.framing != HTTP1_BODY_NONE;
			act->with_body = ex->with_body;
			act->flags |= PEX_A_RESPOND;
			ex->responded = true;
			ex->deadline = now + ex->be->timeout_ns;
			ex->state = PEX_STREAMING;
			/* the fields point into the parser: the driver sends
			 * them before it feeds the rest */
			act->flags |= PEX_A_FEED;
			act->fed = off;
			goto out;
		}
		case HTTP1_BODY: {
			struct pex_seg *sg = &ex->segs[ex->seg_end++ % PEX_SEGS];

			sg->p = o.body;
			sg->len = o.body_len;
			sg->tag = tag;
			act->tag_refs++;
			ex->unacked += o.body_len;
			resume(ex, act);
			continue;
		}
		case HTTP1_DONE:
			act->fed = off;
			resp_finished(ex, off == len, act);
			goto out;
		case HTTP1_ERROR:
			act->fed = off;
			fail_502(ex, http1_error_name(o.error), act);
			goto out;
		}
		break;
	}
	act->fed = off;
	if (window_full(ex)) {
		ex->paused = true;
		ex->deadline = RG_NO_DEADLINE; /* the client is slow, not the backend */
	} else {
		ex->paused = false;
		ex->deadline = now + ex->be->timeout_ns;
		act->flags |= PEX_A_READ;
	}
out:
	act_done(ex, act);
}

ssize_t pex_pull(struct proxy_exchange *ex, struct quic_iov *iov, unsigned n, bool *eof)
{
	unsigned k = 0;

	if (ex->state == PEX_LOCAL) {
		if (ex->local_left && n) {
			iov[k++] = (struct quic_iov){(const uint8_t *)ex->local, ex->local_left};
			ex->local_left = 0;
		}
		*eof = true;
		return k;
	}
	while (k < n && ex->seg_sent != ex->seg_end) {
		const struct pex_seg *sg = &ex->segs[ex->seg_sent++ % PEX_SEGS];

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

void pex_acked(struct proxy_exchange *ex, uint64_t n, uint64_t now, struct pex_act *act)
{
	act_clear(act);
	while (n && ex->seg_ack != ex->seg_sent) {
		struct pex_seg *sg = &ex->segs[ex->seg_ack % PEX_SEGS];
		size_t m = sg->len - ex->ack_off;

		if (m > n)
			m = (size_t)n;
		ex->ack_off += m;
		n -= m;
		ex->unacked -= m;
		if (ex->ack_off == sg->len) {
			act->release[act->n_release++] = sg->tag;
			ex->seg_ack++;
			ex->ack_off = 0;
		}
	}
	if (ex->paused && ex->conn && upstream_state(ex) && !window_full(ex)) {
		ex->paused = false;
		ex->deadline = now + ex->be->timeout_ns;
		act->flags |= PEX_A_FEED;
	}
	act_done(ex, act);
}

const uint64_t proxy_latency_bounds_us[PROXY_LATENCY_BUCKETS - 1] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static void latency_count(struct proxy_counters *ctr, uint64_t us)
{
	unsigned b = 0;

	while (b < PROXY_LATENCY_BUCKETS - 1 && us > proxy_latency_bounds_us[b])
		b++;
	ctr->latency_buckets[b]++;
	ctr->latency_sum_us += us;
	ctr->latency_count++;
}

void pex_client_gone(struct proxy_exchange *ex, uint64_t now, struct pex_act *act)
{
	act_clear(act);
	if (ex->state == PEX_CLOSED || ex->state == PEX_FREE) {
		act_done(ex, act);
		return;
	}
	latency_count(ex->env->ctr, (now - ex->started) / 1000);
	/* the client went away mid-exchange: this connection is spoiled */
	release_conn(ex, false, act);
	release_segs(ex, ex->seg_end, act);
	ex->deadline = RG_NO_DEADLINE;
	ex->state = PEX_CLOSED;
	drop_buffers(ex);
	act_done(ex, act);
}

void pex_timeout(struct proxy_exchange *ex, uint64_t now, struct pex_act *act)
{
	act_clear(act);
	if (ex->deadline == RG_NO_DEADLINE || now < ex->deadline) {
		act_done(ex, act);
		return;
	}
	switch (ex->state) {
	case PEX_CONNECTING:
		act->failed_server = (int)ex->srv;
		ex->be->st[ex->srv].down_until = now + PEX_DOWN_NS;
		act->why = "backend connect timed out";
		answer(ex, 504, "gateway timeout\n", act);
		break;
	case PEX_UPSTREAM:
	case PEX_STREAMING:
		act->failed_server = (int)ex->srv;
		act->why = "backend response timed out";
		answer(ex, 504, "gateway timeout\n", act);
		break;
	default:
		ex->deadline = RG_NO_DEADLINE;
		break;
	}
	act_done(ex, act);
}
