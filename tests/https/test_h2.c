/* test_h2: datapath/https/h2.c against nghttp2's own CLIENT session, in
 * memory, with fake time and the fake handler of h2_test.h. The abuse
 * defences, against raw frames, are in test_h2_abuse.c.
 */
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "datapath/https/h2.h"
#include "tests/check.h"
#include "tests/https/h2_test.h"

static void resume_all(void)
{
	unsigned i;

	for (i = 0; i < n_fh && i < 4096; i++)
		if (fhs[i].s && fhs[i].blocked) {
			fhs[i].blocked = false;
			h2_stream_resume(fhs[i].s);
		}
}

/* ---- client side (nghttp2 client session) ---- */

struct cli {
	nghttp2_session *ng;
	struct h2_conn *c;
	struct h2_counters ctr;
	bool not_reading;
	int status[MAXID];
	size_t data[MAXID];
	int closed[MAXID];
	uint32_t close_code[MAXID];
	bool goaway;
	uint32_t goaway_code;
	int32_t goaway_last;
	uint64_t server_bytes;
	/* request body source */
	size_t body_len, body_off;
};

static int c_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct cli *k = ud;

	(void)ng;
	(void)flags;
	(void)vl;
	if (f->hd.type == NGHTTP2_HEADERS && nl == 7 && !memcmp(name, ":status", 7))
		k->status[f->hd.stream_id % MAXID] = atoi((const char *)value);
	if (nl == 10 && !memcmp(name, "connection", 10))
		k->status[f->hd.stream_id % MAXID] = -1; /* must never appear */
	return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                  void *ud)
{
	struct cli *k = ud;
	size_t off = k->data[id % MAXID];

	(void)ng;
	(void)flags;
	if (off + n <= sizeof(big) && memcmp(d, big + off, n) != 0 && n > 5)
		k->status[id % MAXID] = -2; /* corrupted body */
	k->data[id % MAXID] += n;
	return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
	struct cli *k = ud;

	(void)ng;
	k->closed[id % MAXID]++;
	k->close_code[id % MAXID] = code;
	return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
	struct cli *k = ud;

	(void)ng;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		k->goaway = true;
		k->goaway_code = f->goaway.error_code;
		k->goaway_last = f->goaway.last_stream_id;
	}
	return 0;
}

static void cli_init(struct cli *k, const struct h2_params *p0)
{
	nghttp2_session_callbacks *cb;
	struct h2_params p = { 0 };

	memset(k, 0, sizeof(*k));
	if (p0)
		p = *p0;
	p.on_request = on_request;
	p.ctr = &k->ctr;
	CHECK(h2_conn_new(&p, "example.com", NULL, NOW, &k->c) == 0, "conn_new");
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
	nghttp2_session_client_new(&k->ng, cb, k);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(k->ng, NGHTTP2_FLAG_NONE, NULL, 0);
	n_fh = 0;
	requests_seen = 0;
}

static void cli_free(struct cli *k)
{
	h2_conn_free(k->c);
	nghttp2_session_del(k->ng);
}

/* client -> server */
static bool c2s(struct cli *k)
{
	bool moved = false;

	for (;;) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(k->ng, &p);

		if (n <= 0)
			break;
		h2_conn_recv(k->c, p, (size_t)n, NOW);
		moved = true;
	}
	return moved;
}

/* server -> client */
static bool s2c(struct cli *k)
{
	bool moved = false;
	struct iovec iov[16];
	int n, i;

	if (k->not_reading)
		return false;
	while ((n = h2_conn_send(k->c, iov, 16, NOW)) > 0) {
		size_t tot = 0;

		for (i = 0; i < n; i++) {
			nghttp2_session_mem_recv(k->ng, iov[i].iov_base, iov[i].iov_len);
			tot += iov[i].iov_len;
		}
		k->server_bytes += tot;
		h2_conn_sent(k->c, tot);
		moved = true;
	}
	return moved;
}

static void pump(struct cli *k)
{
	int guard = 0;

	while (((int)c2s(k) | (int)s2c(k)) && ++guard < 100000)
		;
}

static void pump_resuming(struct cli *k)
{
	int guard = 0;

	do {
		pump(k);
		resume_all();
	} while (((int)c2s(k) | (int)s2c(k)) && ++guard < 100000);
	pump(k);
}

static int32_t get(struct cli *k, const char *method, const char *path)
{
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"example.com", 10, 11, 0 },
		{ (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0 },
	};

	return nghttp2_submit_request(k->ng, NULL, nv, 4, NULL, NULL);
}

static struct fh *fh_of(int32_t id)
{
	unsigned i;

	for (i = 0; i < n_fh && i < 4096; i++)
		if (fhs[i].used && fhs[i].closes == 0 && fhs[i].s && h2_stream_id(fhs[i].s) == id)
			return &fhs[i];
	return NULL;
}

/* ---- functional tests ---- */

static void test_get(void)
{
	struct cli k;
	int32_t id;

	cli_init(&k, NULL);
	id = get(&k, "GET", "/small");
	pump(&k);
	CHECK(k.status[id] == 200, "status %d", k.status[id]);
	CHECK(k.data[id] == 5, "body %zu", k.data[id]);
	CHECK(k.closed[id] == 1 && k.close_code[id] == 0, "client close");
	CHECK(fhs[0].closes == 1 && fhs[0].close_code == H2_NO_ERROR, "handler close %d", fhs[0].closes);
	CHECK(fhs[0].acked == 5, "acked %llu", (unsigned long long)fhs[0].acked);
	CHECK(fhs[0].body_end, "GET without body: body_end");
	CHECK(h2_conn_streams(k.c) == 0, "stream freed");
	CHECK(!h2_conn_done(k.c), "connection stays");
	cli_free(&k);
}

static void test_head(void)
{
	struct cli k;
	int32_t id;

	cli_init(&k, NULL);
	id = get(&k, "HEAD", "/big");
	pump(&k);
	CHECK(k.status[id] == 200, "status %d", k.status[id]);
	CHECK(k.data[id] == 0, "HEAD has no body, got %zu", k.data[id]);
	CHECK(fhs[0].reads == 0, "read() not called for HEAD");
	CHECK(fhs[0].closes == 1 && fhs[0].close_code == 0, "closed");
	cli_free(&k);
}

static void test_big_block_resume(void)
{
	struct cli k;
	int32_t id;

	cli_init(&k, NULL);
	id = get(&k, "GET", "/big");
	pump(&k);
	CHECK(k.data[id] < sizeof(big), "blocked first: %zu", k.data[id]);
	pump_resuming(&k);
	CHECK(k.status[id] == 200, "status %d", k.status[id]);
	CHECK(k.data[id] == sizeof(big), "1 MiB body, got %zu", k.data[id]);
	CHECK(fhs[0].acked == sizeof(big), "acked %llu", (unsigned long long)fhs[0].acked);
	CHECK(fhs[0].closes == 1 && fhs[0].close_code == 0, "closed once");
	cli_free(&k);
}

static ssize_t c_body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct cli *k = ud;
	size_t n = k->body_len - k->body_off;

	(void)ng;
	(void)id;
	(void)src;
	if (n > len)
		n = len;
	memcpy(buf, big + k->body_off, n);
	k->body_off += n;
	if (k->body_off == k->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void test_post_flow_control(bool auto_window_broken)
{
	struct h2_params p = { .stream_window = 65536, .conn_window = 1 << 20 };
	struct cli k;
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"example.com", 10, 11, 0 },
		{ (uint8_t *)":path", (uint8_t *)"/post", 5, 5, 0 },
	};
	nghttp2_data_provider prd = { .read_callback = c_body_read };
	int32_t id;
	struct fh *f;
	int rounds = 0;

	g_auto_consume = auto_window_broken; /* "broken": consume at once */
	cli_init(&k, &p);
	k.body_len = 300000;
	id = nghttp2_submit_request(k.ng, NULL, nv, 4, &prd, NULL);
	pump(&k);
	f = fh_of(id);
	CHECK(f != NULL, "request seen");
	if (!f)
		goto out;
	if (!auto_window_broken) {
		CHECK(f->body_rx == 65536, "only the stream window before consume: %zu", f->body_rx);
		while (!f->body_end && rounds++ < 100) {
			size_t n = f->body_rx - f->consumed;

			h2_stream_consume(f->s, n);
			f->consumed += n;
			pump(&k);
		}
		CHECK(f->body_rx == 300000 && f->body_end, "all body after consuming: %zu", f->body_rx);
		CHECK(rounds >= 4, "credit came in steps (%d)", rounds);
		CHECK(h2_stream_respond(f->s, 200, NULL, 0, false) == 0, "respond");
		CHECK(h2_stream_respond(f->s, 200, NULL, 0, false) == -EALREADY, "twice");
		pump(&k);
		CHECK(k.status[id] == 200, "answered");
	} else {
		CHECK(f->body_rx == 300000, "auto consume: everything at once");
	}
out:
	g_auto_consume = true;
	cli_free(&k);
}

static void test_concurrent_100(void)
{
	struct cli k;
	int32_t ids[120];
	unsigned i, ok = 0;

	cli_init(&k, NULL);
	pump(&k); /* SETTINGS exchanged: the client knows the limit */
	for (i = 0; i < 120; i++)
		ids[i] = get(&k, "GET", "/block");
	pump(&k);
	CHECK(h2_conn_streams(k.c) == 100, "100 streams open at once, %u", h2_conn_streams(k.c));
	CHECK(requests_seen == 100, "the others wait client-side, %u", requests_seen);
	pump_resuming(&k);
	pump_resuming(&k);
	for (i = 0; i < 120; i++)
		ok += k.status[ids[i]] == 200 && k.data[ids[i]] == 5 && k.closed[ids[i]] == 1;
	CHECK(ok == 120, "all 120 done, %u", ok);
	CHECK(h2_conn_streams(k.c) == 0, "none left");
	cli_free(&k);
}

static void test_client_reset(void)
{
	struct cli k;
	int32_t id;
	struct fh *f;

	cli_init(&k, NULL);
	id = get(&k, "GET", "/hold");
	pump(&k);
	f = fh_of(id);
	CHECK(f != NULL, "request seen");
	nghttp2_submit_rst_stream(k.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
	pump(&k);
	CHECK(fhs[0].closes == 1, "close once: %d", fhs[0].closes);
	CHECK(fhs[0].close_code == H2_CANCEL, "code %llu", (unsigned long long)fhs[0].close_code);
	CHECK(k.ctr.streams_reset_by_peer == 1, "counted");
	resume_all(); /* nothing must touch the freed stream */
	pump(&k);
	CHECK(fhs[0].closes == 1, "still once");
	cli_free(&k);
}

static void test_goaway_graceful(void)
{
	struct cli k;
	int32_t ids[3], late;
	unsigned i, seen;

	cli_init(&k, NULL);
	for (i = 0; i < 3; i++)
		ids[i] = get(&k, "GET", "/hold");
	pump(&k);
	seen = requests_seen;
	h2_conn_shutdown(k.c, NOW);
	k.not_reading = true; /* GOAWAY serialized, not yet at the client */
	{
		struct iovec iov[16];
		int n = h2_conn_send(k.c, iov, 16, NOW);

		CHECK(n > 0, "GOAWAY to send");
		k.not_reading = false;
		for (int j = 0; j < n; j++) {
			nghttp2_session_mem_recv(k.ng, iov[j].iov_base, iov[j].iov_len);
			h2_conn_sent(k.c, iov[j].iov_len);
		}
	}
	CHECK(k.goaway && k.goaway_code == 0 && k.goaway_last == ids[2], "GOAWAY NO_ERROR last %d",
	      k.goaway_last);
	/* a request the client sends anyway (raced) is not processed */
	{
		static const uint8_t hdr[] = { 0, 0, 4, 1, 5, 0, 0, 0, 7, 0x82, 0x87, 0x84, 0x41 };
		(void)hdr;
	}
	late = get(&k, "GET", "/small");
	pump(&k);
	CHECK(requests_seen == seen, "no request after GOAWAY (%u)", requests_seen);
	CHECK(late < 0 || k.closed[late % MAXID] == 1, "late stream refused");
	CHECK(!h2_conn_done(k.c), "in-flight streams keep it");
	for (i = 0; i < 3; i++) {
		struct fh *f = fh_of(ids[i]);

		if (f)
			f->mode = M_SMALL;
	}
	pump_resuming(&k);
	for (i = 0; i < 3; i++)
		CHECK(k.status[ids[i]] == 200 && k.data[ids[i]] == 5, "in-flight %u finished", i);
	CHECK(h2_conn_done(k.c), "done after the last stream");
	cli_free(&k);
}

static void test_idle_expiry(void)
{
	struct cli k;

	cli_init(&k, NULL);
	pump(&k);
	CHECK(h2_conn_next_expiry(k.c) == NOW + 60000000000ull, "idle deadline");
	h2_conn_handle_expiry(k.c, NOW + 60000000000ull);
	pump(&k);
	CHECK(k.goaway && k.goaway_code == 0, "idle GOAWAY");
	CHECK(h2_conn_done(k.c), "done");
	cli_free(&k);
}
int main(void)
{
	big_fill();
	test_get();
	test_head();
	test_big_block_resume();
	test_post_flow_control(false);
	test_post_flow_control(true);
	test_concurrent_100();
	test_client_reset();
	test_goaway_graceful();
	test_idle_expiry();
	return check_report("h2");
}
