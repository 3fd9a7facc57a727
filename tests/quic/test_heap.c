/* test_heap: the deadline min-heap of datapath/quic/heap.c against a naive
 * model (scan all connections for the minimum) under random pushes,
 * updates and removes. Uses the module's internal header: the heap has no
 * public face. */
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

int main(void)
{
	static struct quic_conn conns[N];
	static bool in[N];
	struct quic_server srv;
	unsigned op, i, failures = 0;

	memset(&srv, 0, sizeof(srv));
	for (op = 0; op < 200000 && failures < 10; op++) {
		unsigned k = (unsigned)(rnd() % N);
		uint64_t min = UINT64_MAX, d = rnd() % 1000;
		size_t n = 0;

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
	}
	free(srv.heap);
	if (failures)
		return 1;
	printf("test_heap: ok\n");
	return 0;
}
