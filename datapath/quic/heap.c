/* heap: the worker's two schedules of connections.
 *
 * The binary min-heap of connection deadlines, one entry per connection
 * (STYLE.md rule 2: one deadline per object); RG_NO_DEADLINE sorts last.
 * Each connection remembers its index so an update is O(log n).
 *
 * The write-now list: connections with something to send (a packet was
 * read, a stream was resumed). Not a deadline of 0: the worker flushes the
 * list once at the end of its loop turn, after every completion of the turn
 * was handled, so a connection that read 30 datagrams and had 3 streams
 * resumed writes once (quic_server_flush). FIFO, intrusive, O(1). */
#include <errno.h>
#include <stdlib.h>

#include "datapath/quic/internal.h"

static void place(struct quic_server *srv, size_t i, struct quic_conn *c)
{
	srv->heap[i] = c;
	c->heap_idx = i;
}

static void sift_up(struct quic_server *srv, size_t i)
{
	struct quic_conn *c = srv->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (srv->heap[parent]->deadline <= c->deadline)
			break;
		place(srv, i, srv->heap[parent]);
		i = parent;
	}
	place(srv, i, c);
}

static void sift_down(struct quic_server *srv, size_t i)
{
	struct quic_conn *c = srv->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		uint64_t best = c->deadline;

		if (l < srv->heap_len && srv->heap[l]->deadline < best) {
			m = l;
			best = srv->heap[l]->deadline;
		}
		if (l + 1 < srv->heap_len && srv->heap[l + 1]->deadline < best)
			m = l + 1;
		if (m == i)
			break;
		place(srv, i, srv->heap[m]);
		i = m;
	}
	place(srv, i, c);
}

int quic_heap_push(struct quic_server *srv, struct quic_conn *c)
{
	if (srv->heap_len == srv->heap_cap) {
		size_t cap = srv->heap_cap ? srv->heap_cap * 2 : 64;
		struct quic_conn **h = realloc(srv->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		srv->heap = h;
		srv->heap_cap = cap;
	}
	place(srv, srv->heap_len++, c);
	sift_up(srv, c->heap_idx);
	return 0;
}

void quic_heap_update(struct quic_server *srv, struct quic_conn *c, uint64_t deadline)
{
	uint64_t old = c->deadline;

	c->deadline = deadline;
	if (deadline < old)
		sift_up(srv, c->heap_idx);
	else if (deadline > old)
		sift_down(srv, c->heap_idx);
}

void quic_heap_remove(struct quic_server *srv, struct quic_conn *c)
{
	size_t i = c->heap_idx;
	struct quic_conn *last = srv->heap[--srv->heap_len];

	if (last == c)
		return;
	place(srv, i, last);
	sift_down(srv, i);
	sift_up(srv, last->heap_idx);
}

void quic_pending_add(struct quic_server *srv, struct quic_conn *c)
{
	if (c->pending)
		return; /* once per turn however often it is asked */
	c->pending = true;
	c->pend_next = NULL;
	c->pend_prev = srv->pend_tail;
	if (srv->pend_tail)
		srv->pend_tail->pend_next = c;
	else
		srv->pend_head = c;
	srv->pend_tail = c;
	srv->n_pending++;
}

void quic_pending_del(struct quic_server *srv, struct quic_conn *c)
{
	if (!c->pending)
		return;
	if (c->pend_prev)
		c->pend_prev->pend_next = c->pend_next;
	else
		srv->pend_head = c->pend_next;
	if (c->pend_next)
		c->pend_next->pend_prev = c->pend_prev;
	else
		srv->pend_tail = c->pend_prev;
	c->pend_prev = c->pend_next = NULL;
	c->pending = false;
	srv->n_pending--;
}

struct quic_conn *quic_pending_pop(struct quic_server *srv)
{
	struct quic_conn *c = srv->pend_head;

	if (c)
		quic_pending_del(srv, c);
	return c;
}
