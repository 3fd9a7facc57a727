/* tcpfront: what the HTTP/1.1 and HTTP/2 bindings to the proxy's front
 * seam (h1front.c, h2front.c) share: both run over a TCP connection of
 * datapath/https/ (struct https_conn), wrap each request stream in a
 * struct https_stream and hand the connection's verified client
 * certificate to the proxy. Written once here; the two files keep only
 * what differs (the stream type they call). */
#include <errno.h>

#include "datapath/https/conn.h"
#include "datapath/proxy/front.h"
#include "datapath/proxy/proxy.h"

int tcpfront_request(struct https_conn *c, const struct proxy_front_ops *ops, void *s,
                     const struct quic_request *req)
{
	struct https_stream *hs = https_stream_get(c, s);
	if (!hs)
		return -ENOMEM;
	struct quic_request r = *req;
	if (c->cert_subject[0]) { /* issue 9 §3: verified by the handshake */
		r.client_cert_subject = c->cert_subject;
		r.client_cert_sha256 = c->cert_sha256;
	}
	if (c->tls_mode && c->tls) { /* issue 20: the access log's, fields of the finished handshake */
		r.tls_version = tls_tcp_version(c->tls);
		r.tls_group = tls_group_label(tls_tcp_group(c->tls));
		r.tls_resumed = tls_tcp_resumed(c->tls);
	}
	int err = proxy_front_request(c->env->px, ops, hs, &r);
	if (err) {
		https_stream_put(hs);
		return err;
	}
	https_conn_kick(c);
	return 0;
}

/* h1conn.h / h2.h on_answer: the access log's line for an answer the
 * connection made itself, with the handshake's fields as above. */
static void answer(struct https_conn *c, const char *proto, const struct quic_request *req,
                   unsigned status)
{
	struct proxy *px = c->env->px;

	if (!proxy_access_log_on(px))
		return;
	struct quic_request r = *req;
	if (c->tls_mode && c->tls) {
		r.tls_version = tls_tcp_version(c->tls);
		r.tls_group = tls_group_label(tls_tcp_group(c->tls));
		r.tls_resumed = tls_tcp_resumed(c->tls);
	}
	proxy_log_answer(px, proto, &r, status);
}

void h1front_answer(void *ctx, const struct quic_request *req, unsigned status)
{
	answer(ctx, "http/1.1", req, status);
}

void h2front_answer(void *ctx, const struct quic_request *req, unsigned status)
{
	answer(ctx, "h2", req, status);
}

void tcpfront_close(struct https_stream *hs, uint64_t app_error)
{
	proxy_front_close(hs->h, app_error);
	https_stream_put(hs);
}
