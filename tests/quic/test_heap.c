/* test_heap: the deadline min-heap of datapath/quic/heap.c against a naive
 * model (scan all connections for the minimum) under random pushes,
 * updates and removes, with RG_NO_DEADLINE among the keys; then the
 * write-now list: a connection scheduled twice in one turn is written once.
 * Uses the module's internal header: neither has a public face. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/quic/internal.h"

#define N 500

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The write-now list: scheduling is idempotent within a turn, order is
 * first-scheduled first, and a connection freed while queued leaves it. */
static unsigned pending_cases(void)
{
	static struct quic_conn c[4];
	struct quic_server srv;
	struct quic_conn *order[8];
	unsigned n = 0, failures = 0;

	memset(&srv, 0, sizeof(srv));
	memset(c, 0, sizeof(c));
	for (unsigned i = 0; i < 4; i++)
		c[i].srv = &srv;
	if (quic_server_wants_write(&srv)) {
		fprintf(stderr, "pending: empty list wants a write\n");
		failures++;
	}
	/* a read, a resumed stream, another read on c0; c1, c2, c3 once */
	quic_pending_add(&srv, &c[0]);
	quic_pending_add(&srv, &c[1]);
	quic_pending_add(&srv, &c[0]);
	quic_pending_add(&srv, &c[2]);
	quic_pending_add(&srv, &c[3]);
	quic_pending_add(&srv, &c[0]);
	/* no deadline moved: "write now" is not a deadline of 0 */
	if (quic_server_next_expiry(&srv) != RG_NO_DEADLINE) {
		fprintf(stderr, "pending: scheduling set a deadline\n");
		failures++;
	}
	quic_pending_del(&srv, &c[2]); /* freed while queued */
	if (!quic_server_wants_write(&srv) || srv.n_pending != 3) {
		fprintf(stderr, "pending: %u queued, want 3\n", srv.n_pending);
		failures++;
	}
	for (struct quic_conn *p; (p = quic_pending_pop(&srv)) && n < 8;)
		order[n++] = p;
	if (n != 3 || order[0] != &c[0] || order[1] != &c[1] || order[2] != &c[3]) {
		fprintf(stderr, "pending: flushed %u connections (c0 scheduled 3 times), want c0 c1 c3 once each\n", n);
		failures++;
	}
	/* after the flush the next turn can schedule it again */
	quic_pending_add(&srv, &c[0]);
	if (quic_pending_pop(&srv) != &c[0] || quic_pending_pop(&srv) || quic_server_wants_write(&srv)) {
		fprintf(stderr, "pending: re-scheduling after a flush\n");
		failures++;
	}
	printf("test_heap: write-now list: %u writes for 6 schedules of 4 connections (1 freed)\n", n);
	return failures;
}

int main(void)
{
	static struct quic_conn conns[N];
	static bool in[N];
	struct quic_server srv;
	unsigned op, i, failures = 0;

	memset(&srv, 0, sizeof(srv));
	for (op = 0; op < 200000 && failures < 10; op++) {
		unsigned k = (unsigned)(rnd() % N);
		uint64_t min = RG_NO_DEADLINE, d = rnd() % 1000;
		size_t n = 0;

		if (rnd() % 5 == 0)
			d = RG_NO_DEADLINE; /* idle connections: sort last */
		if (!in[k]) {
			conns[k].deadline = d;
			if (quic_heap_push(&srv, &conns[k]) != 0)
				return 1;
			in[k] = true;
		} else if (rnd() % 3 == 0) {
			quic_heap_remove(&srv, &conns[k]);
			in[k] = false;
		} else {
			quic_heap_update(&srv, &conns[k], d);
		}
		for (i = 0; i < N; i++) {
			if (!in[i])
				continue;
			n++;
			if (conns[i].deadline < min)
				min = conns[i].deadline;
			if (srv.heap[conns[i].heap_idx] != &conns[i]) {
				fprintf(stderr, "op %u: conn %u index %zu stale\n", op, i, conns[i].heap_idx);
				failures++;
			}
		}
		if (n != srv.heap_len || (n && srv.heap[0]->deadline != min)) {
			fprintf(stderr, "op %u: heap min %llu len %zu, model %llu len %zu\n", op,
			        n ? (unsigned long long)srv.heap[0]->deadline : 0ull, srv.heap_len,
			        (unsigned long long)min, n);
			failures++;
		}
		/* what the worker arms: never an earlier "none" than a real one */
		if (quic_server_next_expiry(&srv) != min) {
			fprintf(stderr, "op %u: next_expiry %llu, model %llu\n", op,
			        (unsigned long long)quic_server_next_expiry(&srv), (unsigned long long)min);
			failures++;
		}
	}
	free(srv.heap);
	failures += pending_cases();
	if (failures)
		return 1;
	printf("test_heap: ok\n");
	return 0;
}
