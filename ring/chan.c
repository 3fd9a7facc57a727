/* Message channels: a bounded multi-producer single-consumer queue of
 * fixed-size messages (per-cell sequence numbers: a producer claims a cell
 * by advancing head with a CAS, fills it and publishes it by storing its
 * sequence; the one consumer reads cells in order) plus an eventfd that
 * wakes the consumer's ring. The eventfd is written only on the first
 * message after the consumer last looked, so a busy channel costs no
 * syscall per message. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ring/internal.h"

int ring_chan_create(unsigned capacity, struct ring_chan **out)
{
	unsigned n = 2;
	while (n < capacity)
		n <<= 1;
	struct ring_chan *c = aligned_alloc(64, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cells = calloc(n, sizeof(*c->cells));
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!c->cells || c->efd < 0) {
		int err = c->efd < 0 ? -errno : -ENOMEM;
		if (c->efd >= 0)
			close(c->efd);
		free(c->cells);
		free(c);
		return err;
	}
	c->mask = n - 1;
	for (unsigned i = 0; i < n; i++)
		atomic_init(&c->cells[i].seq, i);
	atomic_init(&c->head, 0);
	c->tail = 0;
	atomic_init(&c->signaled, 0);
	*out = c;
	return 0;
}

void ring_chan_destroy(struct ring_chan *c)
{
	if (!c)
		return;
	close(c->efd);
	free(c->cells);
	free(c);
}

int ring_chan_send(struct ring_chan *c, const struct ring_msg *m)
{
	uint64_t pos = atomic_load_explicit(&c->head, memory_order_relaxed);
	struct chan_cell *cell;
	for (;;) {
		cell = &c->cells[pos & c->mask];
		uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		int64_t dif = (int64_t)seq - (int64_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&c->head, &pos, pos + 1,
			                                          memory_order_relaxed, memory_order_relaxed))
				break;
		} else if (dif < 0) {
			return -EAGAIN; /* full */
		} else {
			pos = atomic_load_explicit(&c->head, memory_order_relaxed);
		}
	}
	cell->msg = *m;
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
	/* seq_cst exchange: ordered after the publish above, so a consumer that
	 * cleared the flag and then drains sees the message, and one that has
	 * not cleared it yet gets the wake-up from this or an earlier write. */
	if (!atomic_exchange(&c->signaled, 1)) {
		uint64_t one = 1;
		if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int ring_chan_recv(struct ring_chan *c, struct ring_msg *m)
{
	struct chan_cell *cell = &c->cells[c->tail & c->mask];
	uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
	if ((int64_t)seq - (int64_t)(c->tail + 1) < 0)
		return 0; /* empty (or the producer has not published yet) */
	*m = cell->msg;
	atomic_store_explicit(&cell->seq, c->tail + c->mask + 1, memory_order_release);
	c->tail++;
	return 1;
}

void ring_chan_drain_signal(struct ring_chan *c)
{
	/* the consumer is about to drain: later sends must signal again */
	atomic_store(&c->signaled, 0);
}
