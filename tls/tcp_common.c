/* tcp_common: the accessors of tls/tcp.h that read only the fields every
 * backend keeps in struct tls_tcp_common (tcp_common.h), once for both
 * backends. Each backend's struct tls_tcp has a struct tls_tcp_common as
 * its first member, so a pointer to one is a pointer to the other
 * (C11 6.7.2.1p15). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tls/tcp_common.h"

static struct tls_tcp_common *com(struct tls_tcp *t)
{
	return (struct tls_tcp_common *)t;
}

static const struct tls_tcp_common *ccom(const struct tls_tcp *t)
{
	return (const struct tls_tcp_common *)t;
}

void tls_tcp_common_init(struct tls_tcp_common *c, const rg_sockaddr *local, const rg_sockaddr *peer)
{
	memset(c, 0, offsetof(struct tls_tcp_common, b));
	c->b.in_off = c->b.in_len = c->b.out_head = c->b.out_len = 0;
	c->local = *local;
	if (peer)
		c->peer = *peer;
	c->group = TLS_GI_OTHER;
}

void tls_tcp_common_sni(struct tls_tcp_common *c, const uint8_t *ext, size_t len)
{
	if (len < 5 || ext[2] != 0)
		return;
	size_t n = (size_t)ext[3] << 8 | ext[4];
	if (n >= sizeof(c->sni) || 5 + n > len)
		return;
	for (size_t i = 0; i < n; i++)
		c->sni[i] = (char)(ext[5 + i] >= 'A' && ext[5 + i] <= 'Z' ? ext[5 + i] + 32 : ext[5 + i]);
	c->sni[n] = 0;
}

size_t tls_tcp_input_room(const struct tls_tcp *t)
{
	return tcp_in_room(&ccom(t)->b);
}

int tls_tcp_input(struct tls_tcp *t, const uint8_t *data, size_t len)
{
	return tcp_in_put(&com(t)->b, data, len);
}

void tls_tcp_input_end(struct tls_tcp *t)
{
	com(t)->input_end = true;
}

bool tls_tcp_handshake_done(const struct tls_tcp *t)
{
	return ccom(t)->state == TCP_OPEN;
}

unsigned tls_tcp_output(struct tls_tcp *t, struct iovec *iov, unsigned n)
{
	return tcp_out_iov(&com(t)->b, iov, n);
}

void tls_tcp_output_sent(struct tls_tcp *t, size_t n)
{
	tcp_out_sent(&com(t)->b, n);
}

size_t tls_tcp_output_pending(const struct tls_tcp *t)
{
	return ccom(t)->b.out_len;
}

enum tls_alpn tls_tcp_alpn(const struct tls_tcp *t)
{
	return ccom(t)->alpn;
}

const struct tls_vhost *tls_tcp_vhost(const struct tls_tcp *t)
{
	return ccom(t)->vhost;
}

const char *tls_tcp_sni(const struct tls_tcp *t)
{
	return ccom(t)->sni;
}

bool tls_tcp_resumed(const struct tls_tcp *t)
{
	return ccom(t)->resumed;
}

enum tls_group_idx tls_tcp_group(const struct tls_tcp *t)
{
	return ccom(t)->group;
}

ssize_t tls_tcp_write(struct tls_tcp *t, const struct iovec *iov, unsigned n)
{
	struct tls_tcp_common *c = com(t);
	if (c->state == TCP_FAILED)
		return -EPROTO;
	if (c->state != TCP_OPEN || c->close_sent)
		return -EINVAL;
	size_t taken = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			/* a whole record or nothing: neither library keeps a
			 * half-written record of ours (see tcp_buf.h) */
			size_t room = tcp_out_room(&c->b);
			if (room <= TCP_REC_OVERHEAD)
				return taken ? (ssize_t)taken : -EAGAIN;
			size_t chunk = room - TCP_REC_OVERHEAD;
			if (chunk > TCP_REC_MAX)
				chunk = TCP_REC_MAX;
			if (chunk > left)
				chunk = left;
			ssize_t w = tls_tcp_seal(t, p, chunk);
			if (w == -EAGAIN) /* cannot happen with the room checked */
				return taken ? (ssize_t)taken : -EAGAIN;
			if (w == -EINPROGRESS)
				return (ssize_t)(taken + chunk);
			if (w < 0)
				return w;
			p += w;
			left -= (size_t)w;
			taken += (size_t)w;
		}
	}
	return (ssize_t)taken;
}
