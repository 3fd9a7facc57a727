/* test_exchange: the proxy exchange (datapath/proxy/exchange.h) driven
 * against a fake upstream and a fake client with fake time, the way
 * tests/tunnel/test_engine.c drives two engines: no socket, no ring, no
 * clock. Every error path of the proxy is reached here: connect refused
 * (502 + passive health), reset mid-body, timeouts before and after the
 * response head, client gone, 413, 431, 425, 404, 503, a TE+CL response,
 * the stale keep-alive retry, the response window; and N sequential
 * requests that take nothing from malloc once the pools are warm. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/proxy/exchange.h"
#include "tests/check.h"

#define SEC 1000000000ull

struct fchunk {
	int refs;
};

/* One test world: the exchange, its worker's environment, a backend of
 * two servers, a fake upstream connection and a fake HTTP/3 client. */
struct world {
	struct proxy_exchange *ex;
	struct proxy_counters ctr;
	struct pex_pool bufs, exs;
	struct pex_env env;
	struct proxy_srv_state st[2];
	struct pex_backend be;
	uint64_t now, deadline;

	/* upstream */
	bool refuse[2], hang, idle, conn_open, auto_write, last_reuse, reused_used;
	unsigned connects, releases, last_server, failures[2];
	long write_pending;
	char req[1 << 20];
	size_t req_len;
	bool reading;
	/* bytes read but not yet consumed by the exchange (response window) */
	const uint8_t *pend;
	size_t pend_len;
	struct fchunk chunk;
	bool in_feed;
	uint8_t rbuf[1 << 22];
	size_t rbuf_len;

	/* client */
	unsigned status, responds;
	bool with_body, reset, eof, auto_ack;
	char hdrs[4096];
	size_t hdrs_len;
	char body[1 << 20];
	size_t body_len;
	uint64_t consumed, unacked;
};

static void apply(struct world *w, const struct pex_act *a);
static void feed(struct world *w);

static void client_pull(struct world *w)
{
	struct pex_act a;

	for (;;) {
		struct quic_iov iov[8];
		bool eof = false;
		ssize_t k = pex_pull(w->ex, iov, 8, &eof);
		uint64_t got = 0;

		if (k < 0)
			break;
		for (ssize_t i = 0; i < k; i++) {
			if (w->body_len + iov[i].len <= sizeof(w->body))
				memcpy(w->body + w->body_len, iov[i].base, iov[i].len);
			w->body_len += iov[i].len;
			got += iov[i].len;
		}
		w->unacked += got;
		if (eof)
			w->eof = true;
		if (w->auto_ack && w->unacked) {
			uint64_t n = w->unacked;

			w->unacked = 0;
			pex_acked(w->ex, n, w->now, &a);
			apply(w, &a);
		}
		if (eof || k == 0)
			break;
	}
}

static void apply(struct world *w, const struct pex_act *a)
{
	struct pex_act b;

	w->deadline = a->deadline;
	w->consumed += a->consume;
	for (unsigned i = 0; i < a->n_release; i++)
		((struct fchunk *)a->release[i])->refs--;
	if (a->failed_server >= 0)
		w->failures[a->failed_server]++;
	if (a->flags & PEX_A_RELEASE) {
		w->conn_open = false;
		w->releases++;
		w->last_reuse = a->reuse;
		w->idle = a->reuse;
		w->reading = false;
		w->pend_len = 0;
	}
	if (a->flags & PEX_A_RESPOND) {
		w->status = a->status;
		w->with_body = a->with_body;
		w->responds++;
		w->hdrs_len = 0;
		for (unsigned i = 0; i < a->n_hdrs; i++)
			w->hdrs_len += (size_t)snprintf(w->hdrs + w->hdrs_len, sizeof(w->hdrs) - w->hdrs_len,
			                                "%.*s: %.*s\n", (int)a->hdrs[i].name_len, a->hdrs[i].name,
			                                (int)a->hdrs[i].value_len, a->hdrs[i].value);
	}
	if (a->flags & PEX_A_RESET)
		w->reset = true;
	if (a->flags & PEX_A_WRITE) {
		long total = 0;

		for (unsigned i = 0; i < a->n_iov; i++) {
			memcpy(w->req + w->req_len, a->iov[i].iov_base, a->iov[i].iov_len);
			w->req_len += a->iov[i].iov_len;
			total += (long)a->iov[i].iov_len;
		}
		w->write_pending = total;
		if (w->auto_write) {
			w->write_pending = 0;
			pex_written(w->ex, total, w->now, &b);
			apply(w, &b);
		}
	}
	if (a->flags & PEX_A_READ)
		w->reading = true;
	if (a->flags & PEX_A_CONNECT) {
		unsigned s = a->server;

		w->connects++;
		w->last_server = s;
		if (w->refuse[s]) {
			pex_connect_failed(w->ex, -ECONNREFUSED, true, w->now, &b);
			apply(w, &b);
		} else if (!w->hang) {
			bool reused = w->idle;

			w->idle = false;
			w->conn_open = true;
			w->reused_used |= reused;
			pex_connected(w->ex, reused, w->now, &b);
			apply(w, &b);
		}
	}
	if ((a->flags & PEX_A_RESPOND) && a->with_body)
		client_pull(w);
	if (a->flags & PEX_A_RESUME)
		client_pull(w);
	if ((a->flags & PEX_A_FEED) && !w->in_feed)
		feed(w);
}

/* Hand the pending upstream bytes to the exchange, as proxy.c does with
 * the part of its receive chunk the parser has not consumed. */
static void feed(struct world *w)
{
	struct pex_act a;

	w->in_feed = true;
	while (w->conn_open) {
		pex_read(w->ex, w->pend, w->pend_len, &w->chunk, w->now, &a);
		w->chunk.refs += (int)a.tag_refs;
		w->pend += a.fed;
		w->pend_len -= a.fed;
		apply(w, &a);
		if (!(a.flags & PEX_A_FEED))
			break;
	}
	w->in_feed = false;
}

static void upstream_send(struct world *w, const char *s, size_t len)
{
	CHECK(w->rbuf_len + len <= sizeof(w->rbuf), "fake upstream buffer");
	memcpy(w->rbuf + w->rbuf_len, s, len);
	w->pend = w->rbuf + w->rbuf_len;
	w->pend_len = len;
	w->rbuf_len += len;
	feed(w);
}

static void upstream_str(struct world *w, const char *s)
{
	upstream_send(w, s, strlen(s));
}

static void upstream_eof(struct world *w, int err)
{
	struct pex_act a;

	pex_read_end(w->ex, err, w->now, &a);
	apply(w, &a);
}

static void write_done(struct world *w)
{
	struct pex_act a;
	long n = w->write_pending;

	w->write_pending = 0;
	pex_written(w->ex, n, w->now, &a);
	apply(w, &a);
}

static void client_gone(struct world *w)
{
	struct pex_act a;

	pex_client_gone(w->ex, w->now, &a);
	apply(w, &a);
}

static void tick(struct world *w, uint64_t to)
{
	struct pex_act a;

	w->now = to;
	pex_timeout(w->ex, w->now, &a);
	apply(w, &a);
}

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	pex_pool_init(&w->bufs, PEX_REQ_BUF, 4);
	pex_pool_init(&w->exs, sizeof(struct proxy_exchange), 4);
	w->env = (struct pex_env){&w->ctr, &w->bufs};
	w->st[0] = (struct proxy_srv_state){.weight = 1};
	w->st[1] = (struct proxy_srv_state){.weight = 1};
	w->be = (struct pex_backend){PROXY_LB_ROUND_ROBIN, 30 * SEC, w->st, 2};
	w->now = 1000 * SEC;
	w->auto_write = true;
	w->auto_ack = true;
	return w;
}

/* A fresh exchange from the pool, for the next request on the same world
 * (the upstream connection may stay idle between them). */
static void next_exchange(struct world *w)
{
	if (w->ex)
		pex_pool_put(&w->exs, w->ex);
	w->ex = pex_pool_get(&w->exs);
	pex_init(w->ex, &w->env);
	w->req_len = 0;
	w->rbuf_len = 0;
	w->body_len = 0;
	w->status = 0;
	w->responds = 0;
	w->eof = w->reset = false;
	w->consumed = 0;
}

static void world_free(struct world *w)
{
	if (w->ex)
		pex_pool_put(&w->exs, w->ex);
	pex_pool_fini(&w->exs);
	pex_pool_fini(&w->bufs);
	free(w);
}

static struct quic_request get_req(const char *method, const char *path)
{
	static const rg_sockaddr peer = {.in4 = {.sin_family = AF_INET}};

	return (struct quic_request){.method = method, .scheme = "https", .authority = "example.test",
	                             .path = path, .content_length = -1, .peer = &peer};
}

static void request(struct world *w, const struct quic_request *req, bool allow_0rtt)
{
	struct pex_act a;

	pex_request(w->ex, req, "192.0.2.1", &w->be, allow_0rtt, w->now, &a);
	apply(w, &a);
}

static void body(struct world *w, const char *s, size_t len)
{
	struct pex_act a;
	int err = pex_body(w->ex, (const uint8_t *)s, len, w->now, &a);

	CHECK(err == 0, "pex_body %d", err);
	apply(w, &a);
}

static void body_end(struct world *w)
{
	struct pex_act a;

	pex_body_end(w->ex, w->now, &a);
	apply(w, &a);
}

static bool has(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

static const char ok5[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: fake\r\n\r\nhello";

static void test_get(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/x");

	next_exchange(w);
	request(w, &r, false);
	CHECK(w->connects == 1 && w->conn_open, "connected");
	CHECK(has(w->req, w->req_len, "GET /x HTTP/1.1\r\n"), "request line: %.*s", (int)w->req_len, w->req);
	CHECK(has(w->req, w->req_len, "X-Forwarded-For: 192.0.2.1\r\n"), "XFF");
	CHECK(has(w->req, w->req_len, "X-Forwarded-Proto: https\r\n"), "XFP");
	CHECK(has(w->req, w->req_len, "Via: 3 ringgate\r\n"), "Via");
	CHECK(w->ex->state == PEX_UPSTREAM, "state %s", pex_state_name(w->ex->state));
	CHECK(w->deadline == w->now + 30 * SEC, "response deadline");
	CHECK(w->reading, "a read is asked for");
	upstream_str(w, ok5);
	CHECK(w->status == 200 && w->responds == 1, "status %u", w->status);
	CHECK(has(w->hdrs, w->hdrs_len, "content-length: 5\n"), "headers %s", w->hdrs);
	CHECK(has(w->hdrs, w->hdrs_len, "server: fake\n"), "headers %s", w->hdrs);
	CHECK(w->body_len == 5 && !memcmp(w->body, "hello", 5) && w->eof, "body");
	CHECK(w->releases == 1 && w->last_reuse, "keep-alive: connection back to the pool");
	CHECK(w->chunk.refs == 0, "chunk refs %d", w->chunk.refs);
	CHECK(w->ex->state == PEX_FINISHED && w->deadline == RG_NO_DEADLINE, "finished");
	w->now += 3 * 1000000; /* 3 ms */
	client_gone(w);
	CHECK(w->ctr.requests == 1 && w->ctr.latency_count == 1 && w->ctr.latency_buckets[1] == 1,
	      "latency 3 ms in the 5 ms bucket");
	CHECK(w->releases == 1, "no second release");
	world_free(w);
}

static void test_post_chunked(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("POST", "/up");

	r.has_body = true;
	w->auto_write = false;
	next_exchange(w);
	request(w, &r, false);
	CHECK(has(w->req, w->req_len, "Transfer-Encoding: chunked\r\n"), "chunked: %.*s", (int)w->req_len, w->req);
	body(w, "hello", 5); /* a write is in flight: held */
	CHECK(w->consumed == 0, "nothing credited before it is written");
	write_done(w);       /* the head; the first chunk goes out */
	CHECK(has(w->req, w->req_len, "\r\n\r\n5\r\nhello"), "first chunk");
	CHECK(w->consumed == 0, "credited only once written");
	write_done(w);
	CHECK(w->consumed == 5, "credit %llu", (unsigned long long)w->consumed);
	body(w, "abc", 3);
	body(w, "de", 2);
	write_done(w);
	body_end(w);
	write_done(w);
	write_done(w);
	CHECK(w->consumed == 10, "credit %llu", (unsigned long long)w->consumed);
	CHECK(has(w->req, w->req_len, "hello\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "chunks: %.*s", (int)w->req_len,
	      w->req);
	CHECK(w->ex->req_done, "request complete");
	CHECK(w->bufs.live == 1, "a body buffer from the pool");
	upstream_str(w, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	CHECK(w->status == 201 && w->eof && w->last_reuse, "201, reused");
	client_gone(w);
	CHECK(w->bufs.live == 0, "body buffer back");
	world_free(w);
}

static void test_keepalive(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/a");

	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, ok5);
	client_gone(w);
	CHECK(w->idle && !w->reused_used, "first: fresh connection, then idle");
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->reused_used && w->ex->reused, "second request reuses it");
	upstream_str(w, ok5);
	CHECK(w->status == 200 && w->last_reuse, "second 200");
	client_gone(w);
	/* a connection: close response does not go back */
	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
	CHECK(w->status == 200 && !w->last_reuse, "Connection: close is not reused");
	client_gone(w);
	world_free(w);
}

static void test_stale_keepalive_retry(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/a");

	w->idle = true; /* an idle connection the backend closed meanwhile */
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->ex->reused, "reused");
	upstream_eof(w, 0);
	CHECK(w->connects == 2 && w->conn_open && !w->ex->reused, "replayed on a fresh connection: %u %d %d %u %s", w->connects, w->conn_open, w->ex->reused, w->status, pex_state_name(w->ex->state));
	upstream_str(w, ok5);
	CHECK(w->status == 200 && w->ctr.bad_gateway == 0, "200 after the replay");
	client_gone(w);
	world_free(w);
}

static void test_connect_refused(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/a");

	w->refuse[0] = true;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->connects == 2 && w->status == 0, "two connects, no answer yet");
	CHECK(w->st[0].down_until == w->now + PEX_DOWN_NS, "server 0 rests");
	CHECK(w->failures[0] == 1 && w->ctr.conns_failed == 1, "failure counted");
	upstream_str(w, ok5);
	CHECK(w->status == 200, "server 1 answers");
	client_gone(w);

	w->refuse[1] = true;
	w->st[0].down_until = 0;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->status == 502 && w->ctr.bad_gateway == 1, "both refuse: 502 (%u)", w->status);
	CHECK(!memcmp(w->body, "bad gateway\n", 12) && w->eof, "502 body");
	CHECK(w->st[1].down_until == w->now + PEX_DOWN_NS, "server 1 rests");
	client_gone(w);
	/* both down: 503 without a connect */
	next_exchange(w);
	w->connects = 0;
	request(w, &r, false);
	CHECK(w->status == 503 && w->connects == 0 && w->ctr.unavailable == 1, "503 (%u)", w->status);
	client_gone(w);
	world_free(w);
}

static void test_reset_mid_body(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/big");

	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	CHECK(w->status == 200 && w->body_len == 10 && !w->eof, "head and part of the body");
	upstream_eof(w, -ECONNRESET);
	CHECK(w->reset && w->ctr.upstream_resets == 1 && w->responds == 1, "stream reset, not a second head");
	CHECK(w->releases == 1 && !w->last_reuse, "connection closed");
	CHECK(w->failures[w->last_server] == 1, "server failure counted");
	client_gone(w);
	CHECK(w->chunk.refs == 0, "refs %d", w->chunk.refs);
	/* closed early, before the head: 502 */
	next_exchange(w);
	request(w, &r, false);
	upstream_eof(w, 0);
	CHECK(w->status == 502 && !w->reset, "eof before the head: 502");
	client_gone(w);
	world_free(w);
}

static void test_timeouts(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/slow");
	uint64_t t0;

	/* connect never answers */
	w->hang = true;
	next_exchange(w);
	request(w, &r, false);
	t0 = w->now;
	CHECK(w->deadline == t0 + PEX_CONNECT_TIMEOUT_NS, "connect deadline");
	tick(w, t0 + PEX_CONNECT_TIMEOUT_NS - 1);
	CHECK(w->status == 0, "not yet");
	tick(w, t0 + PEX_CONNECT_TIMEOUT_NS);
	CHECK(w->status == 504 && w->ctr.gateway_timeout == 1, "504 (%u)", w->status);
	CHECK(w->st[w->last_server].down_until == w->now + PEX_DOWN_NS, "passive health");
	CHECK(w->deadline == RG_NO_DEADLINE, "no deadline after");
	client_gone(w);

	/* connected, no response head */
	w->hang = false;
	memset(w->st, 0, sizeof(w->st));
	w->st[0].weight = w->st[1].weight = 1;
	next_exchange(w);
	request(w, &r, false);
	t0 = w->now;
	tick(w, t0 + 29 * SEC);
	CHECK(w->status == 0, "before the backend timeout");
	tick(w, t0 + 30 * SEC);
	CHECK(w->status == 504 && w->ctr.gateway_timeout == 2 && !w->last_reuse, "504 before the head");
	client_gone(w);

	/* after the head: a reset */
	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
	t0 = w->now;
	CHECK(w->deadline == t0 + 30 * SEC, "deadline rearmed by the read");
	tick(w, t0 + 30 * SEC);
	CHECK(w->status == 200 && w->reset && w->ctr.upstream_resets == 1, "reset after the head");
	client_gone(w);
	world_free(w);
}

static void test_client_gone(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/big");

	w->auto_ack = false;
	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	upstream_str(w, "abcdefghij");
	CHECK(w->chunk.refs == 2, "two segments held (%d)", w->chunk.refs);
	client_gone(w);
	CHECK(w->chunk.refs == 0, "all released (%d)", w->chunk.refs);
	CHECK(w->releases == 1 && !w->last_reuse, "spoiled connection closed");
	CHECK(w->ex->state == PEX_CLOSED && w->deadline == RG_NO_DEADLINE, "closed");
	upstream_eof(w, 0); /* late: ignored */
	CHECK(w->responds == 1, "nothing more");

	/* gone while a request body write is in flight: the buffer stays */
	r = get_req("PUT", "/u");
	r.has_body = true;
	r.content_length = 4;
	w->auto_write = false;
	next_exchange(w);
	request(w, &r, false);
	body(w, "abcd", 4);
	client_gone(w);
	CHECK(pex_busy(w->ex) && w->bufs.live == 1, "the write still points into it");
	write_done(w);
	CHECK(!pex_busy(w->ex) && w->bufs.live == 0, "then the buffer goes back");
	world_free(w);
}

static void test_local_answers(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/a");
	struct quic_header big = {"x-big", 5, NULL, 0};
	static char val[PEX_HEAD_MAX];
	struct pex_act a;

	/* 404 */
	next_exchange(w);
	pex_request(w->ex, &r, "192.0.2.1", NULL, false, w->now, &a);
	apply(w, &a);
	CHECK(w->status == 404 && w->ctr.no_route == 1 && w->connects == 0, "404");
	CHECK(has(w->hdrs, w->hdrs_len, "content-length: 9\n") && w->body_len == 9, "404 body");
	client_gone(w);
	/* 425: early data on a route that did not opt in */
	r.early_data = true;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->status == 425 && w->connects == 0, "425 (%u)", w->status);
	client_gone(w);
	next_exchange(w);
	request(w, &r, true);
	CHECK(w->status == 0 && w->connects == 1, "0-RTT allowed");
	client_gone(w);
	r.early_data = false;
	/* 413 by Content-Length */
	r = get_req("POST", "/a");
	r.has_body = true;
	r.content_length = (int64_t)PROXY_MAX_REQUEST_BODY + 1;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->status == 413 && w->ctr.too_large == 1, "413 (%u)", w->status);
	body(w, "xx", 2);
	CHECK(w->consumed == 2, "body of a refused request credited at once");
	client_gone(w);
	/* 413 by the bytes streamed without a Content-Length */
	r.content_length = -1;
	next_exchange(w);
	request(w, &r, false);
	{
		static char blk[PEX_REQ_BUF];
		uint64_t sent = 0;

		while (w->status == 0 && sent <= PROXY_MAX_REQUEST_BODY) {
			body(w, blk, sizeof(blk));
			sent += sizeof(blk);
		}
		CHECK(w->status == 413 && sent == PROXY_MAX_REQUEST_BODY + PEX_REQ_BUF, "413 streamed (%u)",
		      w->status);
	}
	client_gone(w);
	/* 431: a head that does not fit */
	memset(val, 'v', sizeof(val) - 1);
	big.value = val;
	big.value_len = sizeof(val) - 1;
	r = get_req("GET", "/a");
	r.headers = &big;
	r.n_headers = 1;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->status == 431 && w->ctr.too_large == 3, "431 (%u)", w->status);
	client_gone(w);
	/* the driver's refusals (path.c verdicts) */
	next_exchange(w);
	pex_refuse(w->ex, 400, false, w->now, &a);
	apply(w, &a);
	CHECK(w->status == 400 && w->ctr.bad_target == 1 && w->body_len == 12, "400");
	client_gone(w);
	/* HEAD: no body bytes, the length still says what GET would get */
	r = get_req("HEAD", "/a");
	next_exchange(w);
	pex_request(w->ex, &r, "192.0.2.1", NULL, false, w->now, &a);
	apply(w, &a);
	CHECK(w->status == 404 && w->body_len == 0 && w->eof, "HEAD 404 without a body");
	client_gone(w);
	world_free(w);
}

static void test_te_cl(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/te");

	next_exchange(w);
	request(w, &r, false);
	upstream_str(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
	                "5\r\nhello\r\n0\r\n\r\n");
	CHECK(w->status == 200 && !has(w->hdrs, w->hdrs_len, "content-length"), "CL dropped: %s", w->hdrs);
	CHECK(!has(w->hdrs, w->hdrs_len, "transfer-encoding"), "TE is hop-by-hop");
	CHECK(w->body_len == 5 && !memcmp(w->body, "hello", 5) && w->eof, "chunked body decoded");
	CHECK(w->releases == 1 && !w->last_reuse, "RFC 9112 6.3: not reused after TE+CL");
	client_gone(w);
	world_free(w);
}

/* A slow client: parsing stops at PEX_SEGS segments and goes on as acks come. */
static void test_window(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("GET", "/w");
	const unsigned n = PEX_SEGS + 10;
	static char resp[64 + (PEX_SEGS + 10) * 8];
	size_t len;

	w->auto_ack = false;
	len = (size_t)snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(resp + len, sizeof(resp) - len, "1\r\nx\r\n");
	len += (size_t)snprintf(resp + len, sizeof(resp) - len, "0\r\n\r\n");
	next_exchange(w);
	request(w, &r, false);
	upstream_send(w, resp, len);
	CHECK(w->ex->paused && w->pend_len > 0 && w->deadline == RG_NO_DEADLINE, "paused, no deadline");
	CHECK(w->chunk.refs == (int)PEX_SEGS, "refs %d", w->chunk.refs);
	w->auto_ack = true;
	{
		struct pex_act a;
		uint64_t k = w->unacked;

		w->unacked = 0;
		pex_acked(w->ex, k, w->now, &a);
		apply(w, &a);
	}
	client_pull(w);
	CHECK(w->body_len == n && w->eof && w->chunk.refs == 0, "all %zu bytes, refs %d", w->body_len,
	      w->chunk.refs);
	client_gone(w);
	world_free(w);
}

/* Steady state: N sequential requests with bodies on one worker take
 * their exchange and body buffer from the pools, which stop growing after
 * the first request (only a pool's growth calls malloc). */
static void test_no_alloc(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("POST", "/p");
	unsigned ok = 0;

	r.has_body = true;
	r.content_length = 4;
	for (unsigned i = 0; i < 1000; i++) {
		next_exchange(w);
		request(w, &r, false);
		body(w, "ping", 4);
		body_end(w);
		upstream_str(w, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong");
		ok += w->status == 200 && w->eof && w->last_reuse;
		w->now += 1000000;
		client_gone(w);
	}
	printf("no_alloc: %u/1000 ok; exchange pool %u allocated, high %u; body pool %u allocated, high %u\n",
	       ok, w->exs.allocated, w->exs.high, w->bufs.allocated, w->bufs.high);
	CHECK(ok == 1000, "%u", ok);
	CHECK(w->exs.allocated == 1 && w->bufs.allocated == 1, "pools grew past one object");
	CHECK(w->ctr.requests == 1000 && w->ctr.latency_count == 1000, "counters");
	world_free(w);
}

/* A bounded pool refuses past its maximum: the request gets 503. */
static void test_pool_bound(void)
{
	struct world *w = world_new();
	struct quic_request r = get_req("POST", "/p");
	void *held[4];

	for (unsigned i = 0; i < 4; i++)
		held[i] = pex_pool_get(&w->bufs);
	CHECK(pex_pool_get(&w->bufs) == NULL && w->bufs.high == 4, "bounded");
	r.has_body = true;
	next_exchange(w);
	request(w, &r, false);
	CHECK(w->status == 503 && w->connects == 0, "503 when no body buffer is left (%u)", w->status);
	client_gone(w);
	for (unsigned i = 0; i < 4; i++)
		pex_pool_put(&w->bufs, held[i]);
	world_free(w);
}

int main(void)
{
	test_get();
	test_post_chunked();
	test_keepalive();
	test_stale_keepalive_retry();
	test_connect_refused();
	test_reset_mid_body();
	test_timeouts();
	test_client_gone();
	test_local_answers();
	test_te_cl();
	test_window();
	test_no_alloc();
	test_pool_bound();
	return check_report("test_exchange");
}
