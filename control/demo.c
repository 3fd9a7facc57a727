/* ringgate --demo: a configuration that needs no file and no root.
 * A self-signed certificate for localhost and a tunnel key are made in a
 * temporary directory; a built-in HTTP/1.1 responder on an ephemeral
 * loopback port is the backend behind the proxy. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/admin.h"
#include "control/app.h"
#include "control/log.h"
#include "crypto/tls_certgen.h"
#include "crypto/wgkey.h"

static void responder_handle(void *ctx, const struct admin_req *req, struct admin_resp *r)
{
	(void)ctx;
	char peer[80];
	if (!strcmp(req->path, "/echo") && !strcmp(req->method, "POST")) {
		r->status = 200;
		r->content_type = "application/octet-stream";
		r->body = malloc(req->body_len ? req->body_len : 1);
		if (!r->body) {
			admin_resp_printf(r, 500, NULL, "out of memory\n");
			return;
		}
		memcpy(r->body, req->body, req->body_len);
		r->len = req->body_len;
		return;
	}
	if (strcmp(req->method, "GET")) {
		admin_resp_printf(r, 405, NULL, "method not allowed\n");
		return;
	}
	/* GET /bytes/N: N bytes of the pattern the HTTP/3 tests check
	 * (byte i is 'a' + i % 26), up to 64 MiB */
	if (!strncmp(req->path, "/bytes/", 7)) {
		char *end;
		unsigned long long n = strtoull(req->path + 7, &end, 10);
		if (req->path[7] < '0' || req->path[7] > '9' || *end || n > (64ull << 20)) {
			admin_resp_printf(r, 400, NULL, "bad request\n");
			return;
		}
		r->body = malloc(n ? n : 1);
		if (!r->body) {
			admin_resp_printf(r, 500, NULL, "out of memory\n");
			return;
		}
		for (unsigned long long i = 0; i < n; i++)
			r->body[i] = (char)('a' + i % 26);
		r->status = 200;
		r->content_type = "application/octet-stream";
		r->len = n;
		return;
	}
	if (strcmp(req->path, "/") && strcmp(req->path, "/index.html")) {
		admin_resp_printf(r, 404, NULL, "not found\n");
		return;
	}
	admin_resp_printf(r, 200, "text/html; charset=utf-8",
	                  "<!doctype html><html><head><title>ringgate demo</title></head><body>\n"
	                  "<h1>ringgate demo backend</h1>\n"
	                  "<p>You asked for <code>%s</code>; the request reached the built-in "
	                  "responder from %s.</p>\n</body></html>\n",
	                  req->path, addr_str(&req->peer, peer, sizeof(peer)));
}

static int write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fchmod(fileno(f), mode);
	int ok = fputs(text, f) >= 0;
	return (fclose(f) == 0 && ok) ? 0 : -EIO;
}

int demo_prepare(struct app *a)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL, *cert = NULL, *key = NULL, *tkey = NULL;
	int err = -ENOMEM;
	if (asprintf(&dir, "%s/ringgate-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(dir)) {
		err = -errno;
		free(dir);
		return err;
	}
	a->demo_dir = dir;
	if (asprintf(&cert, "%s/localhost.pem", dir) < 0 || asprintf(&key, "%s/localhost.key", dir) < 0 ||
	    asprintf(&tkey, "%s/tunnel.key", dir) < 0)
		goto out;

	static const char *const names[] = {"localhost", "127.0.0.1", "::1"};
	err = tls_certgen(names, 3, cert, key);
	if (err)
		goto out;

	uint8_t priv[WGKEY_LEN];
	char b64[WGKEY_B64_LEN + 2];
	err = wgkey_generate(priv);
	if (!err)
		err = wgkey_to_base64(priv, b64);
	wgkey_wipe(priv, sizeof(priv));
	if (err)
		goto out;
	strcat(b64, "\n");
	err = write_text(tkey, b64, 0600);
	wgkey_wipe(b64, sizeof(b64));
	if (err)
		goto out;

	/* The built-in responder listens on an ephemeral loopback port. */
	rg_sockaddr raddr = {.in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	err = admin_open(&raddr, responder_handle, a, &a->responder);
	if (!err)
		err = admin_local_addr(a->responder, &raddr);
	if (err)
		goto out;

	/* [redirect] on a free loopback port (asked of the kernel, then
	 * released for ringgate to bind a moment later) */
	int pfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rg_sockaddr paddr = {.in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	socklen_t plen = sizeof(paddr.in4);
	if (pfd < 0 || bind(pfd, &paddr.sa, plen) < 0 || getsockname(pfd, &paddr.sa, &plen) < 0) {
		err = -errno;
		if (pfd >= 0)
			close(pfd);
		goto out;
	}
	close(pfd);
	a->demo_redirect_port = ntohs(paddr.in4.sin_port);

	if (asprintf(&a->config_text,
	             "; ringgate --demo: the embedded configuration\n"
	             "[appliance]\n"
	             "workers = auto\n"
	             "admin = 127.0.0.1:8082\n"
	             "\n"
	             "[quic]\n"
	             "listen = 127.0.0.1:4433\n"
	             "\n"
	             "[https]\n"
	             "listen = 127.0.0.1:4433\n"
	             "\n"
	             "[redirect]\n"
	             "listen = 127.0.0.1:%u\n"
	             "\n"
	             "[vhost localhost]\n"
	             "cert = %s\n"
	             "key = %s\n"
	             "\n"
	             "[backend demo]\n"
	             "server = 127.0.0.1:%u\n"
	             "\n"
	             "[route demo]\n"
	             "host = localhost\n"
	             "path_prefix = /\n"
	             "backend = demo\n"
	             "\n"
	             "[tunnel]\n"
	             "listen = 127.0.0.1:51820\n"
	             "private_key_file = %s\n",
	             a->demo_redirect_port, cert, key, ntohs(raddr.in4.sin_port), tkey) < 0) {
		a->config_text = NULL;
		err = -ENOMEM;
	}
out:
	free(cert);
	free(key);
	free(tkey);
	return err;
}

void demo_banner(const struct app *a)
{
	rg_sockaddr r;
	char rs[80];
	if (!a->responder || admin_local_addr(a->responder, &r))
		return;
	log_info("demo: files in %s", a->demo_dir);
	log_info("demo: admin API      curl http://127.0.0.1:8082/health");
	log_info("demo: metrics        curl http://127.0.0.1:8082/metrics");
	log_info("demo: HTTP/3 (QUIC)  127.0.0.1:4433, certificate %s/localhost.pem", a->demo_dir);
	log_info("demo: HTTPS (TCP)    curl --cacert %s/localhost.pem https://localhost:4433/ "
	         "(HTTP/2 or --http1.1; Alt-Svc: h3)", a->demo_dir);
	log_info("demo: redirect       curl -i http://localhost:%u/ (308 to https)", a->demo_redirect_port);
	log_info("demo: tunnel         127.0.0.1:51820 (no TUN device), server key %s/tunnel.key",
	         a->demo_dir);
	log_info("demo: backend        built-in responder on http://%s/", addr_str(&r, rs, sizeof(rs)));
	log_info("demo: stop with Ctrl-C (SIGINT) or SIGTERM");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void demo_cleanup(struct app *a)
{
	if (a->demo_dir) {
		nftw(a->demo_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(a->demo_dir);
		a->demo_dir = NULL;
	}
	free(a->config_text);
	a->config_text = NULL;
}
