#include "control/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/authlimit.h" /* authlimit_key: the same notion of "one address" */

enum conn_state {
	CONN_FREE = 0,
	CONN_HEAD,  /* reading the request head: ADMIN_HEAD_TIMEOUT_NS */
	CONN_BODY,  /* head read, body still coming */
	CONN_HOLD,  /* answer ready, held until deadline (a slowdown) */
	CONN_WRITE, /* writing the answer */
};

struct conn {
	int fd;
	enum conn_state state;
	uint64_t accepted; /* eviction takes the oldest first */
	uint64_t deadline; /* of the current state (HOLD: when to start writing) */
	uint8_t key[16];   /* source address, authlimit_key() */
	rg_sockaddr peer;
	char *buf;         /* request, then response */
	size_t len, cap;
	size_t sent;       /* while writing */
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

/* Find header `name` in the header block [p, end): its value without
 * surrounding whitespace and its length, or NULL; *count is how many
 * fields of that name there are. Nothing is written. */
static char *header_find(char *p, char *end, const char *name, size_t *len, unsigned *count)
{
	size_t nl = strlen(name);
	char *found = NULL;
	*count = 0;
	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			if (++*count == 1) {
				char *v = p + nl + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				char *e = eol;
				while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
					e--;
				*len = (size_t)(e - v);
				found = v;
			}
		}
		p = eol + 1;
	}
	return found;
}

static enum admin_parse refuse(int *status, const char **why, int st, const char *text)
{
	*status = st;
	*why = text;
	return ADMIN_PARSE_ERROR;
}

enum admin_parse admin_req_parse(char *buf, size_t len, struct admin_req *req, int *status,
                                 const char **why)
{
	char *hend = memmem(buf, len, "\r\n\r\n", 4);
	if (!hend) {
		if (len >= ADMIN_HDR_MAX)
			return refuse(status, why, 431, "request header too large");
		return ADMIN_PARSE_HEAD;
	}
	size_t hlen = (size_t)(hend - buf) + 4;
	if (hlen > ADMIN_HDR_MAX)
		return refuse(status, why, 431, "request header too large");
	/* request line: METHOD SP TARGET SP HTTP/1.x (RFC 9112 §3) */
	char *eol = memchr(buf, '\n', hlen); /* found: hend ends with one */
	size_t rl = (size_t)(eol - buf);
	char *sp1 = memchr(buf, ' ', rl);
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || eol - (sp2 + 1) < 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) || memchr(buf, '\0', rl))
		return refuse(status, why, 400, "bad request line");
	char *hdrs = eol + 1;
	size_t clen_n = 0, te_n = 0, auth_n = 0;
	unsigned clen_k, te_k, auth_k;
	char *clen_s = header_find(hdrs, hend + 2, "Content-Length", &clen_n, &clen_k);
	header_find(hdrs, hend + 2, "Transfer-Encoding", &te_n, &te_k);
	char *auth = header_find(hdrs, hend + 2, "Authorization", &auth_n, &auth_k);
	if (te_k)
		return refuse(status, why, 400, "chunked request bodies are not accepted here");
	/* two lengths, or two credentials: which one would count is exactly
	 * what a smuggling or confusion attempt wants (RFC 9112 §6.3) */
	if (clen_k > 1)
		return refuse(status, why, 400, "more than one Content-Length");
	if (auth_k > 1)
		return refuse(status, why, 400, "more than one Authorization");
	size_t clen = 0;
	if (clen_s) {
		/* 1*DIGIT (RFC 9110 §8.6): no sign, no space, no hex */
		bool big = false;
		if (clen_n == 0)
			return refuse(status, why, 400, "bad Content-Length");
		for (size_t i = 0; i < clen_n; i++) {
			if (clen_s[i] < '0' || clen_s[i] > '9')
				return refuse(status, why, 400, "bad Content-Length");
			if (!big)
				clen = clen * 10 + (size_t)(clen_s[i] - '0');
			big = big || clen > ADMIN_BODY_MAX; /* stop before it could wrap */
		}
		if (big)
			return refuse(status, why, 413, "body too large");
	}
	if (len < hlen + clen)
		return ADMIN_PARSE_BODY; /* the buffer stays as read */

	/* The whole request is here. A NUL inside a field value would end it
	 * early for any C string compare ("Bearer TOKEN\0junk"): RFC 9110 §5.5
	 * lets a recipient replace it by SP, which keeps the junk visible. */
	for (char *p = hdrs; p < hend; p++)
		if (*p == '\0')
			*p = ' ';
	*sp1 = '\0';
	*sp2 = '\0';
	if (auth)
		auth[auth_n] = '\0'; /* inside the head: at worst its CR */
	char *target = sp1 + 1;
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	*req = (struct admin_req){
		.method = buf,
		.path = target,
		.query = query ? query : "",
		.authorization = auth,
		.authorization_len = auth ? auth_n : 0,
		.body = buf + hlen,
		.body_len = clen,
	};
	return ADMIN_PARSE_DONE;
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

/* Rather evict c than b: no complete head yet, then a held (deliberately
 * slowed) answer, then a body still coming; among equals the oldest. */
static bool evict_before(const struct conn *c, const struct conn *b)
{
	static const int rank[] = {[CONN_HEAD] = 0, [CONN_HOLD] = 1, [CONN_BODY] = 2};
	if (!b)
		return true;
	if (rank[c->state] != rank[b->state])
		return rank[c->state] < rank[b->state];
	return c->accepted < b->accepted;
}

/* The slot for a newcomer from key, after closing its occupant if need be,
 * or NULL when it must be turned away. Over the cap of its own address it
 * replaces that address's first victim; in a full table anyone's. An
 * answer being written is never cut. */
static struct conn *pick_slot(struct admin *a, const uint8_t key[16])
{
	struct conn *free_slot = NULL, *mine = NULL, *any = NULL;
	unsigned n_mine = 0;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		struct conn *c = &a->conns[i];
		if (c->state == CONN_FREE) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		bool same = !memcmp(c->key, key, 16);
		n_mine += same;
		if (c->state == CONN_WRITE)
			continue;
		if (same && evict_before(c, mine))
			mine = c;
		if (evict_before(c, any))
			any = c;
	}
	struct conn *victim = n_mine >= ADMIN_PER_ADDR_MAX ? mine : free_slot ? NULL : any;
	if (n_mine >= ADMIN_PER_ADDR_MAX && !mine)
		return NULL;
	if (!victim)
		return free_slot;
	conn_close(a, victim);
	return victim;
}

static void arm(struct admin *a, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - a->conns)};
	if (epoll_ctl(a->efd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		conn_close(a, c);
}

/* Replace the connection's buffer with the serialized response and start
 * writing it, or hold it until now + r->delay_ns. */
static void respond(struct admin *a, struct conn *c, struct admin_resp *r, bool head_only, uint64_t now)
{
	char hdr[512];
	int hn = snprintf(hdr, sizeof(hdr),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	                  r->status, reason(r->status),
	                  r->content_type ? r->content_type : "text/plain; charset=utf-8", r->len,
	                  r->extra_headers ? r->extra_headers : "");
	size_t blen = head_only ? 0 : r->len;
	char *out = hn < 0 || (size_t)hn >= sizeof(hdr) ? NULL : malloc((size_t)hn + blen);
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
	if (r->delay_ns) {
		c->state = CONN_HOLD;
		c->deadline = now + r->delay_ns;
		arm(a, c, 0); /* only hang-ups until then */
		return;
	}
	c->state = CONN_WRITE;
	c->deadline = now + ADMIN_CONN_TIMEOUT_NS;
	arm(a, c, EPOLLOUT);
}

static void respond_status(struct admin *a, struct conn *c, int status, const char *text, uint64_t now)
{
	struct admin_resp r = {0};
	admin_resp_printf(&r, status, NULL, "%s\n", text);
	respond(a, c, &r, false, now);
}

/* Returns true when the request was answered (or the connection closed). */
static bool try_request(struct admin *a, struct conn *c, uint64_t now)
{
	struct admin_req req;
	int status = 0;
	const char *why = NULL;
	switch (admin_req_parse(c->buf, c->len, &req, &status, &why)) {
	case ADMIN_PARSE_HEAD:
		return false;
	case ADMIN_PARSE_BODY:
		if (c->state == CONN_HEAD) {
			c->state = CONN_BODY;
			c->deadline = c->accepted + ADMIN_CONN_TIMEOUT_NS;
		}
		return false;
	case ADMIN_PARSE_ERROR:
		respond_status(a, c, status, why, now);
		return true;
	case ADMIN_PARSE_DONE:
		break;
	}
	req.peer = c->peer;
	struct admin_resp resp = {.status = 404};
	bool head = !strcmp(req.method, "HEAD");
	if (head)
		req.method = "GET";
	a->h(a->ctx, &req, &resp);
	respond(a, c, &resp, head, now);
	return true;
}

static void on_readable(struct admin *a, struct conn *c, uint64_t now)
{
	for (;;) {
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			if (ncap > ADMIN_HDR_MAX + ADMIN_BODY_MAX + 8192) {
				respond_status(a, c, 413, "request too large", now);
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
			if (try_request(a, c, now))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(a, c); /* EOF or error before a whole request */
		return;
	}
}

static void do_accept(struct admin *a, uint64_t now)
{
	for (;;) {
		rg_sockaddr peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(a->lfd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		uint8_t key[16];
		authlimit_key(&peer, key);
		struct conn *c = pick_slot(a, key);
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
			                           "Connection: close\r\n\r\nbusy\n";
			ssize_t r = write(fd, busy, sizeof(busy) - 1);
			(void)r; /* best effort: the socket is closed either way */
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CONN_HEAD;
		c->peer = peer;
		memcpy(c->key, key, 16);
		c->accepted = now;
		c->deadline = now + ADMIN_HEAD_TIMEOUT_NS;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - a->conns)};
		if (epoll_ctl(a->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			memset(c, 0, sizeof(*c));
			c->fd = -1;
			continue;
		}
		/* a client usually sends its request with the handshake's last
		 * ACK: read it now, before later arrivals could evict this one */
		on_readable(a, c, now);
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
		switch (c->state) {
		case CONN_FREE:
			break; /* closed earlier in this turn */
		case CONN_HEAD:
		case CONN_BODY:
			on_readable(a, c, now);
			break;
		case CONN_HOLD:
			if (evs[i].events & (EPOLLHUP | EPOLLERR))
				conn_close(a, c);
			break;
		case CONN_WRITE:
			on_writable(a, c);
			break;
		}
	}
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		struct conn *c = &a->conns[i];
		if (c->state == CONN_FREE || now < c->deadline)
			continue;
		if (c->state == CONN_HOLD) {
			c->state = CONN_WRITE;
			c->deadline = now + ADMIN_CONN_TIMEOUT_NS;
			arm(a, c, EPOLLOUT);
		} else {
			conn_close(a, c); /* head, body or write too slow */
		}
	}
}
