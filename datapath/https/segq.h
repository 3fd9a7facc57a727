/* segq: a TCP front end's queue of output segments (HTTP/1.1 h1resp.c,
 * HTTP/2 h2.c), written to TLS in order and taken off as TLS accepts the
 * bytes. A segment points at bytes that stay where they are until taken:
 * the framer's own output buffer (tag NULL: framing, heads) or a response
 * body's bytes (tag: the stream whose handler is told when they were
 * sent). Framing bytes contiguous with the previous framing segment join
 * it, so heads and chunk markers written piece by piece are one iovec.
 *
 * The array belongs to the framer (its size is the framer's), the queue is
 * a ring over it. No allocation; one worker, no locks. */
#ifndef RG_HTTPS_SEGQ_H
#define RG_HTTPS_SEGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct segq_seg {
	const uint8_t *p;
	size_t len;
	void *tag; /* NULL: framing bytes; else whose body bytes they are */
};

struct segq {
	struct segq_seg *segs;
	unsigned cap;     /* entries of segs */
	unsigned head, n; /* ring: first segment, count */
	size_t hoff;      /* bytes of the head segment already taken */
};

static inline void segq_init(struct segq *q, struct segq_seg *segs, unsigned cap)
{
	*q = (struct segq){.segs = segs, .cap = cap};
}

static inline void segq_clear(struct segq *q)
{
	q->head = q->n = 0;
	q->hoff = 0;
}

static inline bool segq_room(const struct segq *q, unsigned k)
{
	return q->n + k <= q->cap;
}

static inline struct segq_seg *segq_last(const struct segq *q)
{
	return q->n ? &q->segs[(q->head + q->n - 1) % q->cap] : NULL;
}

/* Queue len bytes at p (the caller checked segq_room). */
static inline void segq_push(struct segq *q, const uint8_t *p, size_t len, void *tag)
{
	struct segq_seg *last = segq_last(q);

	if (!len)
		return;
	if (!tag && last && !last->tag && last->p + last->len == p) {
		last->len += len;
		return;
	}
	q->segs[(q->head + q->n) % q->cap] = (struct segq_seg){.p = p, .len = len, .tag = tag};
	q->n++;
}

/* Up to n iovecs of what is queued, from the first byte not yet taken. */
static inline unsigned segq_iov(const struct segq *q, struct iovec *iov, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < q->n; i++) {
		const struct segq_seg *g = &q->segs[(q->head + i) % q->cap];
		size_t off = i == 0 ? q->hoff : 0;

		iov[i].iov_base = (void *)(uintptr_t)(g->p + off);
		iov[i].iov_len = g->len - off;
	}
	return i;
}

/* Take up to *n sent bytes off the head segment: how many, the segment's
 * tag in *tag, *n less by as many. 0 when *n or the queue is empty. */
static inline size_t segq_take(struct segq *q, size_t *n, void **tag)
{
	if (!*n || !q->n)
		return 0;
	struct segq_seg *g = &q->segs[q->head];
	size_t take = g->len - q->hoff;

	if (take > *n)
		take = *n;
	*tag = g->tag;
	*n -= take;
	q->hoff += take;
	if (q->hoff == g->len) {
		q->head = (q->head + 1) % q->cap;
		q->n--;
		q->hoff = 0;
	}
	return take;
}

/* Is any queued segment tagged (body bytes not yet sent)? */
static inline bool segq_any_tagged(const struct segq *q)
{
	for (unsigned i = 0; i < q->n; i++)
		if (q->segs[(q->head + i) % q->cap].tag)
			return true;
	return false;
}

#endif
