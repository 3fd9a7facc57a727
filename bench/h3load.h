/* h3load internals: the options and counters of a run (G), and the
 * HTTP/3 client connections of h3load_conn.c that h3load.c drives. */
#ifndef RG_BENCH_H3LOAD_H
#define RG_BENCH_H3LOAD_H

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "h3load_tls.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define RX_BUF 65536
#define TX_BUF 1500

struct req {
	struct conn *c;
	struct req *prev, *next; /* the connection's requests in flight */
	uint64_t t0;
	uint64_t bytes;
	int status;
};

enum conn_state { C_FREE, C_HANDSHAKE, C_OPEN, C_DONE };

struct conn {
	enum conn_state st;
	int fd;
	ngtcp2_conn *q;
	nghttp3_conn *h3;
	void *tls; /* the backend's session (h3load_tls.h) */
	ngtcp2_crypto_conn_ref ref;
	struct sockaddr_storage local, remote;
	socklen_t llen, rlen;
	ngtcp2_path path;
	struct req *reqs;
	unsigned inflight, issued;
	bool failed; /* the connection ended with an error */
	bool handshaked;
	uint64_t t_open;
	/* before the handshake completed (handshake_completed callback):
	 * UDP payload bytes sent and received, datagrams sent whose first
	 * packet is an Initial */
	uint64_t hs_tx, hs_rx, hs_initials;
};

struct h3load {
	/* options */
	const char *host, *port, *addr, *cacert, *authority, *groups;
	const char **paths;
	unsigned npaths;
	unsigned conns, streams, reqs_per_conn, handshakes;
	uint64_t requests;
	double duration, hold, time_limit;
	bool insecure, idle, json;
	/* state */
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct conn *cs;
	int ep;
	uint64_t t_start, t_end, deadline, hard_deadline;
	uint64_t started, ok, failed, bytes, conns_opened, handshakes_done, conn_errors;
	/* summed over completed handshakes: what each one took before it
	 * completed (struct conn's hs_*); the group of the first, and how
	 * many negotiated another */
	uint64_t hs_tx, hs_rx, hs_initials, group_other;
	char group[32];
	uint32_t *lat_us;
	size_t nlat, caplat;
	bool stop_issuing;
	char first_error[160];
};

extern struct h3load G;

uint64_t now_ns(void);
void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Open connection c (socket, TLS, QUIC); 0 or -1 (counted). */
int conn_open(struct conn *c);
void conn_free(struct conn *c, bool send_close);
/* Read what the socket has, then write, then settle the connection. */
int conn_read(struct conn *c);
void conn_step(struct conn *c);
/* Requests left to issue (count or time). */
bool more_work(void);

#endif
