/* h3load: an HTTP/3 load generator on ngtcp2 + nghttp3 + gnutls
 * (ngtcp2_crypto_gnutls), one thread, one connected UDP socket per
 * connection, UDP_GRO on receive. libcurl's HTTP/3 was not used: its
 * per-transfer overhead and its buffered read path make it the bottleneck of
 * a single-connection bulk download on loopback; here the body is counted
 * and dropped where nghttp3 hands it over.
 *
 *   h3load [options] URL [URL...]
 *     -c, --conns N          connections at once (default 1)
 *     -m, --streams N        requests in flight per connection (default 1)
 *     -n, --requests N       total requests (default 1 unless -D)
 *     -D, --duration SECS    run for SECS instead of a count
 *     -r, --reqs-per-conn N  close a connection after N requests and open a
 *                            new one (1: one handshake per request)
 *         --idle             open the connections, make no request, print
 *                            "established N" when all are up, hold them for
 *                            --hold seconds, then close them
 *         --hold SECS        (default 5)
 *         --handshakes N     handshakes in progress at once in --idle mode
 *                            (default 64)
 *     -a, --addr IP          connect here instead of resolving the URL's host
 *     -k, --insecure         do not verify the server certificate
 *         --cacert FILE      trust this CA (default: the system's)
 *     -t, --time-limit SECS  hard stop (default 60)
 *         --json             print one JSON object instead of text
 *
 * Every URL must name the same scheme, host and port; requests go round the
 * URLs' paths. Latency is measured from the request's submission (for a
 * connection's first request: from the connection's start, handshake
 * included) to the end of its response stream. A request counts as ok when its status is 2xx and
 * its stream ended without an error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define PRIORITY                                                                                  \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"-GROUP-ALL:+GROUP-X25519"
#define RX_BUF 65536
#define TX_BUF 1500

struct req {
	struct conn *c;
	struct req *prev, *next; /* the connection's requests in flight */
	uint64_t t0;
	uint64_t bytes;
	int status;
};

enum conn_state { C_FREE, C_HANDSHAKE, C_OPEN, C_DONE };

struct conn {
	enum conn_state st;
	int fd;
	ngtcp2_conn *q;
	nghttp3_conn *h3;
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref;
	struct sockaddr_storage local, remote;
	socklen_t llen, rlen;
	ngtcp2_path path;
	struct req *reqs;
	unsigned inflight, issued;
	bool failed; /* the connection ended with an error */
	bool handshaked;
	uint64_t t_open;
};

static struct {
	/* options */
	const char *host, *port, *addr, *cacert, *authority;
	const char **paths;
	unsigned npaths;
	unsigned conns, streams, reqs_per_conn, handshakes;
	uint64_t requests;
	double duration, hold, time_limit;
	bool insecure, idle, json;
	/* state */
	struct sockaddr_storage dst;
	socklen_t dstlen;
	gnutls_certificate_credentials_t cred;
	struct conn *cs;
	int ep;
	uint64_t t_start, t_end, deadline, hard_deadline;
	uint64_t started, ok, failed, bytes, conns_opened, handshakes_done, conn_errors;
	uint32_t *lat_us;
	size_t nlat, caplat;
	bool stop_issuing;
	char first_error[160];
} G;

static volatile sig_atomic_t interrupted;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...)
{
	va_list ap;

	if (G.first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(G.first_error, sizeof(G.first_error), fmt, ap);
	va_end(ap);
}

static void rnd(void *p, size_t n)
{
	gnutls_rnd(GNUTLS_RND_NONCE, p, n);
}

/* ---- ngtcp2 callbacks ---- */

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	rnd(dest, len);
}

static int cb_new_cid(ngtcp2_conn *q, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *ud)
{
	(void)q;
	(void)ud;
	rnd(cid->data, cidlen);
	cid->datalen = cidlen;
	rnd(token, NGTCP2_STATELESS_RESET_TOKENLEN);
	return 0;
}

static int setup_h3(struct conn *c);

static int cb_handshake_completed(ngtcp2_conn *q, void *ud)
{
	struct conn *c = ud;

	(void)q;
	c->st = C_OPEN;
	c->handshaked = true;
	G.handshakes_done++;
	return setup_h3(c) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int cb_recv_stream_data(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t off,
                               const uint8_t *data, size_t len, void *ud, void *sud)
{
	struct conn *c = ud;
	nghttp3_ssize n;

	(void)off;
	(void)sud;
	if (!c->h3)
		return 0;
	n = nghttp3_conn_read_stream(c->h3, sid, data, len, flags & NGTCP2_STREAM_DATA_FLAG_FIN);
	if (n < 0) {
		note_error("nghttp3_conn_read_stream: %s", nghttp3_strerror((int)n));
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	ngtcp2_conn_extend_max_stream_offset(q, sid, (uint64_t)n);
	ngtcp2_conn_extend_max_offset(q, (uint64_t)n);
	return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t off, uint64_t len, void *ud,
                                void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)off;
	(void)sud;
	if (c->h3 && nghttp3_conn_add_ack_offset(c->h3, sid, len))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_stream_close(ngtcp2_conn *q, uint32_t flags, int64_t sid, uint64_t app_err, void *ud,
                           void *sud)
{
	struct conn *c = ud;
	int rv;

	(void)q;
	(void)sud;
	if (!c->h3)
		return 0;
	if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
		app_err = NGHTTP3_H3_NO_ERROR;
	rv = nghttp3_conn_close_stream(c->h3, sid, app_err);
	if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_stream_reset(ngtcp2_conn *q, int64_t sid, uint64_t final_size, uint64_t app_err,
                           void *ud, void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)final_size;
	(void)app_err;
	(void)sud;
	if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int cb_extend_max_stream_data(ngtcp2_conn *q, int64_t sid, uint64_t max, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)q;
	(void)max;
	(void)sud;
	if (c->h3 && nghttp3_conn_unblock_stream(c->h3, sid))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

/* ---- nghttp3 callbacks ---- */

static void req_unlink(struct conn *c, struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->inflight--;
}

static void req_done(struct conn *c, struct req *r, bool ok)
{
	uint64_t t = now_ns();

	if (ok && r->status >= 200 && r->status < 300) {
		G.ok++;
		if (G.nlat == G.caplat) {
			size_t cap = G.caplat ? G.caplat * 2 : 4096;
			uint32_t *p = realloc(G.lat_us, cap * sizeof(*p));

			if (p) {
				G.lat_us = p;
				G.caplat = cap;
			}
		}
		if (G.nlat < G.caplat)
			G.lat_us[G.nlat++] = (uint32_t)((t - r->t0) / 1000);
	} else {
		G.failed++;
		if (ok)
			note_error("HTTP status %d", r->status);
	}
	G.t_end = t;
	req_unlink(c, r);
	free(r);
}

static int h3_stream_close(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;
	struct req *r = sud;

	(void)h;
	(void)sid;
	if (!r)
		return 0;
	if (app_err != NGHTTP3_H3_NO_ERROR)
		note_error("stream closed with H3 error 0x%" PRIx64, app_err);
	req_done(c, r, app_err == NGHTTP3_H3_NO_ERROR);
	return 0;
}

static int h3_recv_data(nghttp3_conn *h, int64_t sid, const uint8_t *data, size_t len, void *ud,
                        void *sud)
{
	struct conn *c = ud;
	struct req *r = sud;

	(void)h;
	(void)data;
	if (r)
		r->bytes += len;
	G.bytes += len;
	ngtcp2_conn_extend_max_stream_offset(c->q, sid, len);
	ngtcp2_conn_extend_max_offset(c->q, len);
	return 0;
}

static int h3_deferred_consume(nghttp3_conn *h, int64_t sid, size_t n, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_extend_max_stream_offset(c->q, sid, n);
	ngtcp2_conn_extend_max_offset(c->q, n);
	return 0;
}

static int h3_recv_header(nghttp3_conn *h, int64_t sid, int32_t token, nghttp3_rcbuf *name,
                          nghttp3_rcbuf *value, uint8_t flags, void *ud, void *sud)
{
	struct req *r = sud;

	(void)h;
	(void)sid;
	(void)name;
	(void)flags;
	(void)ud;
	if (r && token == NGHTTP3_QPACK_TOKEN__STATUS) {
		nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
		int s = 0;

		for (size_t i = 0; i < v.len && v.base[i] >= '0' && v.base[i] <= '9'; i++)
			s = s * 10 + (v.base[i] - '0');
		r->status = s;
	}
	return 0;
}

static int h3_stop_sending(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_shutdown_stream_read(c->q, 0, sid, app_err);
	return 0;
}

static int h3_reset_stream(nghttp3_conn *h, int64_t sid, uint64_t app_err, void *ud, void *sud)
{
	struct conn *c = ud;

	(void)h;
	(void)sud;
	ngtcp2_conn_shutdown_stream_write(c->q, 0, sid, app_err);
	return 0;
}

static int setup_h3(struct conn *c)
{
	static const nghttp3_callbacks cbs = {
		.stream_close = h3_stream_close,
		.recv_data = h3_recv_data,
		.deferred_consume = h3_deferred_consume,
		.recv_header = h3_recv_header,
		.stop_sending = h3_stop_sending,
		.reset_stream = h3_reset_stream,
	};
	nghttp3_settings s;
	int64_t ctrl, enc, dec;

	nghttp3_settings_default(&s);
	if (nghttp3_conn_client_new(&c->h3, &cbs, &s, nghttp3_mem_default(), c))
		return -1;
	if (ngtcp2_conn_open_uni_stream(c->q, &ctrl, NULL) ||
	    nghttp3_conn_bind_control_stream(c->h3, ctrl) ||
	    ngtcp2_conn_open_uni_stream(c->q, &enc, NULL) ||
	    ngtcp2_conn_open_uni_stream(c->q, &dec, NULL) ||
	    nghttp3_conn_bind_qpack_streams(c->h3, enc, dec))
		return -1;
	return 0;
}

/* ---- connections ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct conn *)ref->user_data)->q;
}

static int conn_open(struct conn *c)
{
	static const ngtcp2_callbacks cbs = {
		.client_initial = ngtcp2_crypto_client_initial_cb,
		.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
		.encrypt = ngtcp2_crypto_encrypt_cb,
		.decrypt = ngtcp2_crypto_decrypt_cb,
		.hp_mask = ngtcp2_crypto_hp_mask_cb,
		.recv_retry = ngtcp2_crypto_recv_retry_cb,
		.update_key = ngtcp2_crypto_update_key_cb,
		.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
		.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
		.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
		.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
		.rand = cb_rand,
		.get_new_connection_id = cb_new_cid,
		.handshake_completed = cb_handshake_completed,
		.recv_stream_data = cb_recv_stream_data,
		.acked_stream_data_offset = cb_acked_stream_data,
		.stream_close = cb_stream_close,
		.stream_reset = cb_stream_reset,
		.extend_max_stream_data = cb_extend_max_stream_data,
	};
	static const gnutls_datum_t alpn = { (unsigned char *)"h3", 2 };
	ngtcp2_settings st;
	ngtcp2_transport_params tp;
	ngtcp2_cid dcid, scid;
	int one = 1, buf = 4 << 20;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	memset(c, 0, sizeof(*c));
	c->fd = socket(G.dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		note_error("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(c->fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	c->rlen = G.dstlen;
	memcpy(&c->remote, &G.dst, G.dstlen);
	c->llen = sizeof(c->local);
	if (connect(c->fd, (struct sockaddr *)&c->remote, c->rlen) < 0 ||
	    getsockname(c->fd, (struct sockaddr *)&c->local, &c->llen) < 0) {
		note_error("connect: %s", strerror(errno));
		goto fail_fd;
	}
	c->path = (ngtcp2_path){
		.local = { (ngtcp2_sockaddr *)&c->local, c->llen },
		.remote = { (ngtcp2_sockaddr *)&c->remote, c->rlen },
	};

	dcid.datalen = 18;
	rnd(dcid.data, dcid.datalen);
	scid.datalen = 17;
	rnd(scid.data, scid.datalen);
	ngtcp2_settings_default(&st);
	st.initial_ts = now_ns();
	st.max_window = 64u << 20;
	st.max_stream_window = 32u << 20;
	st.handshake_timeout = 10 * NGTCP2_SECONDS;
	ngtcp2_transport_params_default(&tp);
	tp.initial_max_stream_data_bidi_local = 8u << 20;
	tp.initial_max_stream_data_uni = 256u << 10;
	tp.initial_max_data = 16u << 20;
	tp.initial_max_streams_bidi = 0;
	tp.initial_max_streams_uni = 3;
	tp.max_idle_timeout = 30 * NGTCP2_SECONDS;
	if (ngtcp2_conn_client_new(&c->q, &dcid, &scid, &c->path, NGTCP2_PROTO_VER_V1, &cbs, &st, &tp,
	                           NULL, c))
		goto fail_fd;

	if (gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) ||
	    ngtcp2_crypto_gnutls_configure_client_session(c->tls) ||
	    gnutls_priority_set_direct(c->tls, PRIORITY, NULL) ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, G.cred) ||
	    gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) ||
	    gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, G.host, strlen(G.host))) {
		note_error("gnutls session set-up failed");
		goto fail_q;
	}
	if (!G.insecure)
		gnutls_session_set_verify_cert(c->tls, G.host, 0);
	c->ref = (ngtcp2_crypto_conn_ref){ get_conn, c };
	gnutls_session_set_ptr(c->tls, &c->ref);
	ngtcp2_conn_set_tls_native_handle(c->q, c->tls);

	if (epoll_ctl(G.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail_tls;
	c->st = C_HANDSHAKE;
	c->t_open = now_ns();
	G.conns_opened++;
	return 0;

fail_tls:
	gnutls_deinit(c->tls);
fail_q:
	ngtcp2_conn_del(c->q);
fail_fd:
	close(c->fd);
	c->st = C_FREE;
	return -1;
}

/* conn_free: close the connection (with CONNECTION_CLOSE when it is still
 * alive), count its requests in flight as failed when it failed. */
static void conn_free(struct conn *c, bool send_close)
{
	if (c->st == C_FREE)
		return;
	if (send_close && !ngtcp2_conn_in_closing_period(c->q) && !ngtcp2_conn_in_draining_period(c->q)) {
		uint8_t buf[TX_BUF];
		ngtcp2_ccerr cc;
		ngtcp2_path_storage ps;
		ngtcp2_ssize n;

		ngtcp2_ccerr_set_application_error(&cc, NGHTTP3_H3_NO_ERROR, NULL, 0);
		ngtcp2_path_storage_zero(&ps);
		n = ngtcp2_conn_write_connection_close(c->q, &ps.path, NULL, buf, sizeof(buf), &cc, now_ns());
		if (n > 0 && send(c->fd, buf, (size_t)n, 0) < 0) {
			/* best effort: the server's idle timeout ends it otherwise */
		}
	}
	/* Requests still in flight (nghttp3_conn_del does not report them)
	 * failed, unless the run's time is up and they were cut short. */
	if (!G.stop_issuing)
		G.failed += c->inflight;
	while (c->reqs) {
		struct req *r = c->reqs;

		req_unlink(c, r);
		free(r);
	}
	if (c->h3)
		nghttp3_conn_del(c->h3);
	ngtcp2_conn_del(c->q);
	gnutls_deinit(c->tls);
	close(c->fd);
	if (c->failed) {
		G.conn_errors++;
		/* A failed handshake costs the request it was opened for, so that
		 * a count-bounded run ends against a server that refuses. */
		if (!c->handshaked && !G.idle && !G.stop_issuing) {
			G.started++;
			G.failed++;
		}
	}
	c->st = C_FREE;
}

static bool more_work(void)
{
	if (G.stop_issuing || G.idle)
		return false;
	if (G.duration > 0)
		return true;
	return G.started < G.requests;
}

static void submit_requests(struct conn *c)
{
	while (c->h3 && more_work() && c->inflight < G.streams &&
	       (!G.reqs_per_conn || c->issued < G.reqs_per_conn)) {
		const char *path = G.paths[G.started % G.npaths];
		nghttp3_nv nv[] = {
#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP3_NV_FLAG_NO_COPY_NAME }
			NV(":method", "GET"),
			NV(":scheme", "https"),
			NV(":authority", G.authority),
			NV(":path", path),
			NV("user-agent", "h3load"),
#undef NV
		};
		struct req *r;
		int64_t sid;

		if (ngtcp2_conn_open_bidi_stream(c->q, &sid, NULL))
			return; /* stream limit: wait for MAX_STREAMS */
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->c = c;
		/* A connection's first request counts from the connection's
		 * start: with -r 1 the latency is handshake plus request. */
		r->t0 = c->issued ? now_ns() : c->t_open;
		if (nghttp3_conn_submit_request(c->h3, sid, nv, sizeof(nv) / sizeof(nv[0]), NULL, r)) {
			free(r);
			c->failed = true;
			return;
		}
		r->next = c->reqs;
		if (c->reqs)
			c->reqs->prev = r;
		c->reqs = r;
		c->inflight++;
		c->issued++;
		G.started++;
	}
}

/* conn_write: hand everything ngtcp2 and nghttp3 have to the socket. */
static int conn_write(struct conn *c)
{
	uint8_t buf[TX_BUF];
	uint64_t ts = now_ns();

	for (;;) {
		int64_t sid = -1;
		int fin = 0;
		nghttp3_vec vec[16];
		nghttp3_ssize nv = 0;
		ngtcp2_ssize nw, ndata = -1;
		uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;

		if (c->h3 && ngtcp2_conn_get_max_data_left(c->q)) {
			nv = nghttp3_conn_writev_stream(c->h3, &sid, &fin, vec, 16);
			if (nv < 0) {
				note_error("nghttp3_conn_writev_stream: %s", nghttp3_strerror((int)nv));
				return -1;
			}
		}
		if (fin)
			flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		nw = ngtcp2_conn_writev_stream(c->q, NULL, NULL, buf, sizeof(buf), &ndata, flags, sid,
		                               (const ngtcp2_vec *)vec, (size_t)nv, ts);
		if (nw < 0) {
			switch (nw) {
			case NGTCP2_ERR_STREAM_DATA_BLOCKED:
				nghttp3_conn_block_stream(c->h3, sid);
				continue;
			case NGTCP2_ERR_STREAM_SHUT_WR:
				nghttp3_conn_shutdown_stream_write(c->h3, sid);
				continue;
			case NGTCP2_ERR_WRITE_MORE:
				if (nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndata))
					return -1;
				continue;
			}
			note_error("ngtcp2_conn_writev_stream: %s", ngtcp2_strerror((int)nw));
			return -1;
		}
		if (ndata >= 0 && nghttp3_conn_add_write_offset(c->h3, sid, (size_t)ndata))
			return -1;
		if (nw == 0)
			break;
		if (send(c->fd, buf, (size_t)nw, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED) {
			note_error("send: %s", strerror(errno));
			return -1;
		}
	}
	ngtcp2_conn_update_pkt_tx_time(c->q, ts);
	return 0;
}

/* conn_read: drain the socket; each read may carry many coalesced
 * datagrams (UDP_GRO), split at the segment size the kernel reports. */
static int conn_read(struct conn *c)
{
	static uint8_t buf[RX_BUF];
	char ctrl[CMSG_SPACE(sizeof(int))];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl,
		                     .msg_controllen = sizeof(ctrl) };
		ssize_t n = recvmsg(c->fd, &mh, 0);
		size_t seg, off;
		struct cmsghdr *cm;
		uint64_t ts;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			note_error("recvmsg: %s", strerror(errno));
			return -1;
		}
		seg = (size_t)n;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
				int v;

				memcpy(&v, CMSG_DATA(cm), sizeof(v));
				if (v > 0)
					seg = (size_t)v;
			}
		ts = now_ns();
		for (off = 0; off < (size_t)n; off += seg) {
			size_t len = (size_t)n - off < seg ? (size_t)n - off : seg;
			ngtcp2_pkt_info pi = { 0 };
			int rv = ngtcp2_conn_read_pkt(c->q, &c->path, &pi, buf + off, len, ts);

			if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
				c->st = C_DONE;
				return 0;
			}
			if (rv) {
				note_error("ngtcp2_conn_read_pkt: %s", ngtcp2_strerror(rv));
				return -1;
			}
		}
	}
}

static void conn_step(struct conn *c)
{
	if (c->st == C_DONE)
		return;
	submit_requests(c);
	if (conn_write(c)) {
		c->failed = true;
		c->st = C_DONE;
	}
}

/* ---- set-up and report ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	size_t i;

	if (!G.nlat)
		return 0;
	i = (size_t)(p / 100.0 * (double)(G.nlat - 1) + 0.5);
	return G.lat_us[i] / 1000.0;
}

static int parse_url(const char *url, bool first)
{
	const char *p, *h, *slash;
	char host[256], port[16];
	size_t hl;

	if (strncmp(url, "https://", 8))
		return -1;
	h = url + 8;
	slash = strchr(h, '/');
	if (!slash)
		slash = h + strlen(h);
	if (*h == '[') {
		p = memchr(h, ']', (size_t)(slash - h));
		if (!p)
			return -1;
		hl = (size_t)(p - h - 1);
		memcpy(host, h + 1, hl < 255 ? hl : 255);
		p++;
	} else {
		p = memchr(h, ':', (size_t)(slash - h));
		if (!p)
			p = slash;
		hl = (size_t)(p - h);
		memcpy(host, h, hl < 255 ? hl : 255);
	}
	host[hl < 255 ? hl : 255] = 0;
	if (*p == ':')
		snprintf(port, sizeof(port), "%.*s", (int)(slash - p - 1), p + 1);
	else
		strcpy(port, "443");
	if (first) {
		G.host = strdup(host);
		G.port = strdup(port);
		G.authority = strndup(h, (size_t)(slash - h));
	} else if (strcmp(host, G.host) || strcmp(port, G.port)) {
		return -1;
	}
	G.paths[G.npaths++] = *slash ? slash : "/";
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: h3load [-c CONNS] [-m STREAMS] [-n REQUESTS | -D SECS] [-r REQS_PER_CONN]\n"
	        "              [--idle [--hold SECS] [--handshakes N]] [-a ADDR] [-k | --cacert F]\n"
	        "              [-t TIME_LIMIT] [--json] URL...\n");
	exit(2);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conns", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 'm' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "reqs-per-conn", required_argument, NULL, 'r' },
		{ "idle", no_argument, NULL, 'I' },
		{ "hold", required_argument, NULL, 'H' },
		{ "handshakes", required_argument, NULL, 'S' },
		{ "addr", required_argument, NULL, 'a' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *ai;
	struct rusage ru;
	struct rlimit rl;
	bool established_printed = false;
	uint64_t hold_until = 0;
	unsigned i, live;
	int o;

	G.conns = 1;
	G.streams = 1;
	G.hold = 5;
	G.handshakes = 64;
	G.time_limit = 60;
	while ((o = getopt_long(argc, argv, "c:m:n:D:r:a:kt:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': G.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': G.streams = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': G.requests = strtoull(optarg, NULL, 10); break;
		case 'D': G.duration = atof(optarg); break;
		case 'r': G.reqs_per_conn = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': G.idle = true; break;
		case 'H': G.hold = atof(optarg); break;
		case 'S': G.handshakes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'a': G.addr = optarg; break;
		case 'k': G.insecure = true; break;
		case 'C': G.cacert = optarg; break;
		case 't': G.time_limit = atof(optarg); break;
		case 'j': G.json = true; break;
		default: usage();
		}
	}
	if (optind >= argc || !G.conns || !G.streams || !G.handshakes || G.time_limit <= 0)
		usage();
	if (!G.requests && G.duration <= 0)
		G.requests = 1;
	G.paths = calloc((size_t)(argc - optind), sizeof(*G.paths));
	for (i = 0; (int)i < argc - optind; i++)
		if (parse_url(argv[optind + (int)i], i == 0)) {
			fprintf(stderr, "h3load: %s: want https://HOST[:PORT]/PATH, one host for all\n",
			        argv[optind + (int)i]);
			return 2;
		}
	if (getaddrinfo(G.addr ? G.addr : G.host, G.port, &hints, &ai)) {
		fprintf(stderr, "h3load: cannot resolve %s\n", G.addr ? G.addr : G.host);
		return 2;
	}
	memcpy(&G.dst, ai->ai_addr, ai->ai_addrlen);
	G.dstlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	/* One socket per connection: raise the descriptor limit to fit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < G.conns + 64u) {
		rl.rlim_cur = G.conns + 64u;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur; /* works as root */
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "h3load: cannot raise the descriptor limit to %u\n", G.conns + 64);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&G.cred);
	if (G.cacert) {
		if (gnutls_certificate_set_x509_trust_file(G.cred, G.cacert, GNUTLS_X509_FMT_PEM) <= 0) {
			fprintf(stderr, "h3load: no certificate in %s\n", G.cacert);
			return 2;
		}
	} else if (!G.insecure) {
		gnutls_certificate_set_x509_system_trust(G.cred);
	}
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	G.cs = calloc(G.conns, sizeof(*G.cs));
	if (!G.cs || G.ep < 0)
		return 2;

	G.t_start = G.t_end = now_ns();
	G.hard_deadline = G.t_start + (uint64_t)(G.time_limit * 1e9);
	if (G.duration > 0)
		G.deadline = G.t_start + (uint64_t)(G.duration * 1e9);

	for (;;) {
		struct epoll_event evs[256];
		uint64_t t = now_ns(), next = t + 100000000u;
		unsigned handshaking = 0;
		int n, timeout_ms;

		if (interrupted || t >= G.hard_deadline) {
			if (!interrupted)
				note_error("time limit reached");
			G.stop_issuing = true;
			break;
		}
		if (G.conn_errors >= 100 && !G.handshakes_done) {
			note_error("100 connections failed, none completed its handshake");
			G.stop_issuing = true;
			break;
		}
		if (G.deadline && t >= G.deadline) {
			G.stop_issuing = true;
			break;
		}
		/* Open connections where slots are free and work is left. */
		live = 0;
		for (i = 0; i < G.conns; i++)
			if (G.cs[i].st == C_HANDSHAKE)
				handshaking++;
		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];

			if (c->st == C_FREE && !established_printed &&
			    (G.idle ? G.conns_opened < G.conns && handshaking < G.handshakes : more_work())) {
				if (conn_open(c) == 0) {
					handshaking++;
					conn_step(c);
				} else {
					G.conn_errors++;
					G.failed++;
					G.started++;
				}
			}
			if (c->st != C_FREE)
				live++;
		}
		if (!live && (G.idle ? G.conns_opened >= G.conns : !more_work()))
			break;
		if (G.idle && !established_printed && G.handshakes_done + G.conn_errors >= G.conns) {
			printf("established %" PRIu64 "\n", G.handshakes_done);
			fflush(stdout);
			established_printed = true;
			hold_until = now_ns() + (uint64_t)(G.hold * 1e9);
		}
		if (established_printed && now_ns() >= hold_until)
			break;

		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];
			uint64_t e;

			if (c->st == C_FREE)
				continue;
			e = ngtcp2_conn_get_expiry(c->q);
			if (e < next)
				next = e;
		}
		t = now_ns();
		timeout_ms = next <= t ? 0 : (int)((next - t + 999999) / 1000000);
		n = epoll_wait(G.ep, evs, 256, timeout_ms);
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			if (c->st == C_FREE || c->st == C_DONE)
				continue;
			if (conn_read(c)) {
				c->failed = true;
				c->st = C_DONE;
				continue;
			}
			conn_step(c);
		}
		t = now_ns();
		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];

			if (c->st == C_FREE)
				continue;
			if (c->st != C_DONE && ngtcp2_conn_get_expiry(c->q) <= t) {
				int rv = ngtcp2_conn_handle_expiry(c->q, t);

				if (rv) {
					note_error("connection timed out: %s", ngtcp2_strerror(rv));
					c->failed = true;
					c->st = C_DONE;
				} else {
					conn_step(c);
				}
			}
			if (c->st == C_DONE) {
				if (c->inflight)
					c->failed = true;
				conn_free(c, !c->failed);
			} else if (c->st == C_OPEN && !c->inflight && !G.idle &&
			           (G.reqs_per_conn ? c->issued >= G.reqs_per_conn : !more_work())) {
				conn_free(c, true);
			}
		}
	}
	for (i = 0; i < G.conns; i++)
		conn_free(&G.cs[i], true);
	if (!G.deadline || G.t_end > G.deadline)
		G.deadline = G.t_end;

	getrusage(RUSAGE_SELF, &ru);
	double el = (double)(G.deadline - G.t_start) / 1e9;
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	             ru.ru_stime.tv_usec / 1e6;
	qsort(G.lat_us, G.nlat, sizeof(*G.lat_us), cmp_u32);
	if (G.json) {
		printf("{\"ok\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"conns\":%" PRIu64
		       ",\"handshakes\":%" PRIu64 ",\"conn_errors\":%" PRIu64
		       ",\"elapsed_s\":%.4f,\"rps\":%.1f,\"bytes\":%" PRIu64
		       ",\"bytes_per_s\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f"
		       ",\"client_cpu_s\":%.3f,\"error\":\"%s\"}\n",
		       G.ok, G.failed, G.conns_opened, G.handshakes_done, G.conn_errors, el,
		       el > 0 ? G.ok / el : 0, G.bytes, el > 0 ? G.bytes / el : 0, pct(50), pct(90), pct(99),
		       cpu, G.first_error);
	} else {
		printf("requests: %" PRIu64 " ok, %" PRIu64 " failed; connections: %" PRIu64
		       " opened, %" PRIu64 " handshakes, %" PRIu64 " failed\n",
		       G.ok, G.failed, G.conns_opened, G.handshakes_done, G.conn_errors);
		printf("time: %.3f s, %.1f requests/s, %.2f MB/s (%" PRIu64 " body bytes)\n", el,
		       el > 0 ? G.ok / el : 0, el > 0 ? G.bytes / el / 1e6 : 0, G.bytes);
		printf("latency: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms\n", pct(50), pct(90), pct(99));
		printf("client CPU: %.3f s\n", cpu);
		if (G.first_error[0])
			printf("first error: %s\n", G.first_error);
	}
	gnutls_certificate_free_credentials(G.cred);
	return G.failed || G.conn_errors ? 1 : 0;
}
