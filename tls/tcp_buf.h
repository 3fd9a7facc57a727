/* tcp_buf: the two fixed buffers of a tls_tcp session, shared by both
 * backends (tcp_gnutls.c, tcp_openssl.c; not for users of tcp.h).
 *
 * Input: ciphertext the driver read, taken by the library's pull/read
 * callback; bounded by one maximal TLS record (RFC 8446 5.2: 2^14 + 256
 * bytes of TLSCiphertext fragment plus the 5-byte header; RFC 5246 6.2.3
 * allows 2^14 + 2048 for TLS 1.2, but AEAD suites never exceed 2^14 + 256),
 * so a record always fits and the driver never reads more than one ahead.
 * Output: a ring the library's push/write callback fills with records and
 * the driver drains with writev; encryption (tls_tcp_write) only starts a
 * record when it fits whole, so the library never holds a half-written
 * record of application data. Nothing here allocates.
 */
#ifndef RG_TLS_TCP_BUF_H
#define RG_TLS_TCP_BUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#define TCP_REC_MAX 16384u                       /* plaintext per record, RFC 8446 5.1 */
#define TCP_IN_CAP (TCP_REC_MAX + 256u + 5u)     /* 16,645: one TLSCiphertext */
#define TCP_OUT_CAP (TCP_REC_MAX + 1024u)        /* one record + alerts/tickets */
#define TCP_REC_OVERHEAD 256u /* header + explicit nonce + tag + padding, any AEAD suite */

struct tcp_buf {
	size_t in_off, in_len;   /* unread input: in[in_off, in_off + in_len) */
	size_t out_head, out_len; /* pending output in the ring, from out_head */
	uint8_t in[TCP_IN_CAP];
	uint8_t out[TCP_OUT_CAP];
};

static inline size_t tcp_in_room(const struct tcp_buf *b)
{
	return TCP_IN_CAP - b->in_len;
}

static inline int tcp_in_put(struct tcp_buf *b, const uint8_t *p, size_t n)
{
	if (n > tcp_in_room(b))
		return -ENOBUFS;
	if (b->in_off + b->in_len + n > TCP_IN_CAP) { /* compact: rare, small */
		memmove(b->in, b->in + b->in_off, b->in_len);
		b->in_off = 0;
	}
	memcpy(b->in + b->in_off + b->in_len, p, n);
	b->in_len += n;
	return 0;
}

/* Up to n bytes of input into p; the count (0: none buffered). */
static inline size_t tcp_in_take(struct tcp_buf *b, void *p, size_t n)
{
	if (n > b->in_len)
		n = b->in_len;
	memcpy(p, b->in + b->in_off, n);
	b->in_off += n;
	b->in_len -= n;
	if (!b->in_len)
		b->in_off = 0;
	return n;
}

static inline size_t tcp_out_room(const struct tcp_buf *b)
{
	return TCP_OUT_CAP - b->out_len;
}

/* Up to n bytes of p into the ring; the count (0: full). */
static inline size_t tcp_out_put(struct tcp_buf *b, const void *p, size_t n)
{
	const uint8_t *s = p;
	if (n > tcp_out_room(b))
		n = tcp_out_room(b);
	size_t tail = (b->out_head + b->out_len) % TCP_OUT_CAP;
	size_t first = TCP_OUT_CAP - tail < n ? TCP_OUT_CAP - tail : n;
	memcpy(b->out + tail, s, first);
	memcpy(b->out, s + first, n - first);
	b->out_len += n;
	return n;
}

static inline unsigned tcp_out_iov(struct tcp_buf *b, struct iovec *iov, unsigned n)
{
	if (!b->out_len || !n)
		return 0;
	size_t first = TCP_OUT_CAP - b->out_head;
	if (first >= b->out_len) {
		iov[0] = (struct iovec){b->out + b->out_head, b->out_len};
		return 1;
	}
	iov[0] = (struct iovec){b->out + b->out_head, first};
	if (n < 2)
		return 1;
	iov[1] = (struct iovec){b->out, b->out_len - first};
	return 2;
}

static inline void tcp_out_sent(struct tcp_buf *b, size_t n)
{
	if (n > b->out_len)
		n = b->out_len;
	b->out_len -= n;
	b->out_head = b->out_len ? (b->out_head + n) % TCP_OUT_CAP : 0;
}

#endif
