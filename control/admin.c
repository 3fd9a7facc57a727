#include "control/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_MAX_CONNS 64
#define ADMIN_HDR_MAX (16 * 1024)
#define ADMIN_BODY_MAX (1024 * 1024)
#define ADMIN_CONN_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

struct conn {
	int fd;
	uint64_t deadline;
	rg_sockaddr peer;
	char *buf;       /* request, then response */
	size_t len, cap;
	size_t sent;     /* while writing */
	bool writing;
};

struct admin {
	int lfd, efd;
	admin_handler h;
	void *ctx;
	struct conn conns[ADMIN_MAX_CONNS];
};

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void admin_resp_printf(struct admin_resp *r, int status, const char *ctype, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	free(r->body);
	r->status = status;
	r->content_type = ctype;
	r->body = n < 0 ? NULL : s;
	r->len = n < 0 ? 0 : (size_t)n;
}

int admin_open(const rg_sockaddr *addr, admin_handler h, void *ctx, struct admin **out)
{
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		a->conns[i].fd = -1;
	a->h = h;
	a->ctx = ctx;
	int err;
	a->lfd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0) {
		err = -errno;
		goto fail;
	}
	int one = 1;
	setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t alen = addr->sa.sa_family == AF_INET6 ? sizeof(addr->in6) : sizeof(addr->in4);
	if (bind(a->lfd, &addr->sa, alen) < 0 || listen(a->lfd, 64) < 0) {
		err = -errno;
		goto fail_lfd;
	}
	a->efd = epoll_create1(EPOLL_CLOEXEC);
	if (a->efd < 0) {
		err = -errno;
		goto fail_lfd;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
	if (epoll_ctl(a->efd, EPOLL_CTL_ADD, a->lfd, &ev) < 0) {
		err = -errno;
		goto fail_efd;
	}
	*out = a;
	return 0;

fail_efd:
	close(a->efd);
fail_lfd:
	close(a->lfd);
fail:
	free(a);
	return err;
}

static void conn_close(struct admin *a, struct conn *c)
{
	epoll_ctl(a->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void admin_close(struct admin *a)
{
	if (!a)
		return;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		if (a->conns[i].fd >= 0)
			conn_close(a, &a->conns[i]);
	close(a->efd);
	close(a->lfd);
	free(a);
}

int admin_local_addr(const struct admin *a, rg_sockaddr *out)
{
	socklen_t len = sizeof(*out);
	return getsockname(a->lfd, &out->sa, &len) < 0 ? -errno : 0;
}

int admin_fd(const struct admin *a)
{
	return a->efd;
}

static void do_accept(struct admin *a, uint64_t now)
{
	for (;;) {
		rg_sockaddr peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(a->lfd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = NULL;
		for (int i = 0; i < ADMIN_MAX_CONNS; i++)
			if (a->conns[i].fd < 0) {
				c = &a->conns[i];
				break;
			}
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
			                           "Connection: close\r\n\r\nbusy\n";
			ssize_t r = write(fd, busy, sizeof(busy) - 1);
			(void)r;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->deadline = now + ADMIN_CONN_TIMEOUT_NS;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - a->conns)};
		if (epoll_ctl(a->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			c->fd = -1;
		}
	}
}

/* Replace the connection's buffer with the serialized response and start
 * writing it. */
static void respond(struct admin *a, struct conn *c, struct admin_resp *r, bool head_only)
{
	char hdr[512];
	int hn = snprintf(hdr, sizeof(hdr),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	                  r->status, reason(r->status),
	                  r->content_type ? r->content_type : "text/plain; charset=utf-8", r->len,
	                  r->extra_headers ? r->extra_headers : "");
	size_t blen = head_only ? 0 : r->len;
	char *out = malloc((size_t)hn + blen);
	if (!out) {
		free(r->body);
		conn_close(a, c);
		return;
	}
	memcpy(out, hdr, (size_t)hn);
	if (blen)
		memcpy(out + hn, r->body, blen);
	free(r->body);
	free(c->buf);
	c->buf = out;
	c->len = (size_t)hn + blen;
	c->cap = c->len;
	c->sent = 0;
	c->writing = true;
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - a->conns)};
	epoll_ctl(a->efd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void respond_status(struct admin *a, struct conn *c, int status, const char *text)
{
	struct admin_resp r = {0};
	admin_resp_printf(&r, status, NULL, "%s\n", text);
	respond(a, c, &r, false);
}

/* Find header `name` in the header block [p, end): its trimmed value and
 * length, or NULL. The buffer is not modified: a request whose body is
 * still coming is parsed again from scratch on the next read. */
static char *header_find(char *p, char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			char *e = eol;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*len = (size_t)(e - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Returns true when a whole request was parsed and answered. */
static bool try_request(struct admin *a, struct conn *c)
{
	char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!hend) {
		if (c->len >= ADMIN_HDR_MAX) {
			respond_status(a, c, 431, "request header too large");
			return true;
		}
		return false;
	}
	size_t hlen = (size_t)(hend - c->buf) + 4;
	/* request line: METHOD SP TARGET SP VERSION */
	char *eol = memchr(c->buf, '\n', hlen);
	char *sp1 = memchr(c->buf, ' ', (size_t)(eol - c->buf));
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		respond_status(a, c, 400, "bad request line");
		return true;
	}
	char *hdrs = eol + 1;
	size_t clen_n = 0, te_n = 0, auth_n = 0;
	char *clen_s = header_find(hdrs, hend + 2, "Content-Length", &clen_n);
	char *te = header_find(hdrs, hend + 2, "Transfer-Encoding", &te_n);
	char *auth = header_find(hdrs, hend + 2, "Authorization", &auth_n);
	if (te) {
		respond_status(a, c, 400, "chunked request bodies are not accepted here");
		return true;
	}
	size_t clen = 0;
	if (clen_s) {
		char num[24], *endp;
		if (clen_n == 0 || clen_n >= sizeof(num)) {
			respond_status(a, c, 400, "bad Content-Length");
			return true;
		}
		memcpy(num, clen_s, clen_n);
		num[clen_n] = '\0';
		errno = 0;
		unsigned long long v = strtoull(num, &endp, 10);
		if (errno || *endp || num[0] == '-') {
			respond_status(a, c, 400, "bad Content-Length");
			return true;
		}
		if (v > ADMIN_BODY_MAX) {
			respond_status(a, c, 413, "body too large");
			return true;
		}
		clen = (size_t)v;
	}
	if (c->len < hlen + clen)
		return false; /* body still coming: the buffer stays as read */

	/* the whole request is here: terminate its strings in place */
	*sp1 = '\0';
	*sp2 = '\0';
	if (auth)
		auth[auth_n] = '\0';
	char *target = sp1 + 1;
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	struct admin_req req = {
		.method = c->buf,
		.path = target,
		.query = query ? query : "",
		.authorization = auth,
		.body = c->buf + hlen,
		.body_len = clen,
		.peer = c->peer,
	};
	struct admin_resp resp = {.status = 404};
	bool head = !strcmp(req.method, "HEAD");
	if (head)
		req.method = "GET";
	a->h(a->ctx, &req, &resp);
	respond(a, c, &resp, head);
	return true;
}

static void on_readable(struct admin *a, struct conn *c)
{
	for (;;) {
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			if (ncap > ADMIN_HDR_MAX + ADMIN_BODY_MAX + 8192) {
				respond_status(a, c, 413, "request too large");
				return;
			}
			char *nb = realloc(c->buf, ncap);
			if (!nb) {
				conn_close(a, c);
				return;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			if (try_request(a, c))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(a, c); /* EOF or error before a whole request */
		return;
	}
}

static void on_writable(struct admin *a, struct conn *c)
{
	while (c->sent < c->len) {
		ssize_t n = send(c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;
		}
		c->sent += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	conn_close(a, c);
}

void admin_process(struct admin *a, uint64_t now)
{
	struct epoll_event evs[32];
	int n = epoll_wait(a->efd, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		uint32_t k = evs[i].data.u32;
		if (k == UINT32_MAX) {
			do_accept(a, now);
			continue;
		}
		struct conn *c = &a->conns[k];
		if (c->fd < 0)
			continue;
		if (c->writing)
			on_writable(a, c);
		else
			on_readable(a, c);
	}
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		struct conn *c = &a->conns[i];
		if (c->fd >= 0 && now > c->deadline)
			conn_close(a, c);
	}
}
