/* h3load: an HTTP/3 load generator on ngtcp2 + nghttp3 + gnutls
 * (ngtcp2_crypto_gnutls) or OpenSSL >= 3.5 (ngtcp2_crypto_ossl), whichever
 * ringgate's build uses (h3load_tls.h), one thread, one connected UDP socket per
 * connection, UDP_GRO on receive. libcurl's HTTP/3 was not used: its
 * per-transfer overhead and its buffered read path make it the bottleneck of
 * a single-connection bulk download on loopback; here the body is counted
 * and dropped where nghttp3 hands it over.
 *
 *   h3load [options] URL [URL...]
 *     -c, --conns N          connections at once (default 1)
 *     -m, --streams N        requests in flight per connection (default 1)
 *     -n, --requests N       total requests (default 1 unless -D)
 *     -D, --duration SECS    run for SECS instead of a count
 *     -r, --reqs-per-conn N  close a connection after N requests and open a
 *                            new one (1: one handshake per request)
 *         --idle             open the connections, make no request, print
 *                            "established N" when all are up, hold them for
 *                            --hold seconds, then close them
 *         --hold SECS        (default 5)
 *         --handshakes N     handshakes in progress at once in --idle mode
 *                            (default 64)
 *     -a, --addr IP          connect here instead of resolving the URL's host
 *     -k, --insecure         do not verify the server certificate
 *         --cacert FILE      trust this CA (default: the system's)
 *         --groups LIST      key-exchange groups to offer, OpenSSL's names
 *                            (X25519MLKEM768:X25519); default X25519 on
 *                            gnutls, OpenSSL's default on OpenSSL; the gnutls
 *                            build refuses a post-quantum group
 *     -t, --time-limit SECS  hard stop (default 60)
 *         --json             print one JSON object instead of text
 *
 * Every URL must name the same scheme, host and port; requests go round the
 * URLs' paths. Latency is measured from the request's submission (for a
 * connection's first request: from the connection's start, handshake
 * included) to the end of its response stream. A request counts as ok when its status is 2xx and
 * its stream ended without an error.
 *
 * Handshakes (with -r 1: one per request) are reported with what each took
 * before it completed on the client (ngtcp2's handshake_completed): UDP
 * payload bytes sent (so without the client's Finished) and received (up
 * to the server's Finished), and the datagrams sent that begin with an
 * Initial packet (a hybrid key share needs more than one), plus the group
 * negotiated.
 */
#include "h3load.h"

struct h3load G;

static volatile sig_atomic_t interrupted;

/* ---- set-up and report ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	size_t i;

	if (!G.nlat)
		return 0;
	i = (size_t)(p / 100.0 * (double)(G.nlat - 1) + 0.5);
	return G.lat_us[i] / 1000.0;
}

static int parse_url(const char *url, bool first)
{
	const char *p, *h, *slash;
	char host[256], port[16];
	size_t hl;

	if (strncmp(url, "https://", 8))
		return -1;
	h = url + 8;
	slash = strchr(h, '/');
	if (!slash)
		slash = h + strlen(h);
	if (*h == '[') {
		p = memchr(h, ']', (size_t)(slash - h));
		if (!p)
			return -1;
		hl = (size_t)(p - h - 1);
		memcpy(host, h + 1, hl < 255 ? hl : 255);
		p++;
	} else {
		p = memchr(h, ':', (size_t)(slash - h));
		if (!p)
			p = slash;
		hl = (size_t)(p - h);
		memcpy(host, h, hl < 255 ? hl : 255);
	}
	host[hl < 255 ? hl : 255] = 0;
	if (*p == ':')
		snprintf(port, sizeof(port), "%.*s", (int)(slash - p - 1), p + 1);
	else
		strcpy(port, "443");
	if (first) {
		G.host = strdup(host);
		G.port = strdup(port);
		G.authority = strndup(h, (size_t)(slash - h));
	} else if (strcmp(host, G.host) || strcmp(port, G.port)) {
		return -1;
	}
	G.paths[G.npaths++] = *slash ? slash : "/";
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: h3load [-c CONNS] [-m STREAMS] [-n REQUESTS | -D SECS] [-r REQS_PER_CONN]\n"
	        "              [--idle [--hold SECS] [--handshakes N]] [-a ADDR] [-k | --cacert F]\n"
	        "              [--groups LIST] [-t TIME_LIMIT] [--json] URL...\n");
	exit(2);
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conns", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 'm' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "reqs-per-conn", required_argument, NULL, 'r' },
		{ "idle", no_argument, NULL, 'I' },
		{ "hold", required_argument, NULL, 'H' },
		{ "handshakes", required_argument, NULL, 'S' },
		{ "addr", required_argument, NULL, 'a' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "groups", required_argument, NULL, 'G' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *ai;
	struct rusage ru;
	struct rlimit rl;
	bool established_printed = false;
	uint64_t hold_until = 0;
	unsigned i, live;
	int o;

	G.conns = 1;
	G.streams = 1;
	G.hold = 5;
	G.handshakes = 64;
	G.time_limit = 60;
	while ((o = getopt_long(argc, argv, "c:m:n:D:r:a:kt:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': G.conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': G.streams = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': G.requests = strtoull(optarg, NULL, 10); break;
		case 'D': G.duration = atof(optarg); break;
		case 'r': G.reqs_per_conn = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': G.idle = true; break;
		case 'H': G.hold = atof(optarg); break;
		case 'S': G.handshakes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'a': G.addr = optarg; break;
		case 'k': G.insecure = true; break;
		case 'C': G.cacert = optarg; break;
		case 'G': G.groups = optarg; break;
		case 't': G.time_limit = atof(optarg); break;
		case 'j': G.json = true; break;
		default: usage();
		}
	}
	if (optind >= argc || !G.conns || !G.streams || !G.handshakes || G.time_limit <= 0)
		usage();
	if (!G.requests && G.duration <= 0)
		G.requests = 1;
	G.paths = calloc((size_t)(argc - optind), sizeof(*G.paths));
	for (i = 0; (int)i < argc - optind; i++)
		if (parse_url(argv[optind + (int)i], i == 0)) {
			fprintf(stderr, "h3load: %s: want https://HOST[:PORT]/PATH, one host for all\n",
			        argv[optind + (int)i]);
			return 2;
		}
	if (getaddrinfo(G.addr ? G.addr : G.host, G.port, &hints, &ai)) {
		fprintf(stderr, "h3load: cannot resolve %s\n", G.addr ? G.addr : G.host);
		return 2;
	}
	memcpy(&G.dst, ai->ai_addr, ai->ai_addrlen);
	G.dstlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	/* One socket per connection: raise the descriptor limit to fit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < G.conns + 64u) {
		rl.rlim_cur = G.conns + 64u;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur; /* works as root */
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "h3load: cannot raise the descriptor limit to %u\n", G.conns + 64);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (h3tls_init(G.cacert, G.insecure, G.groups))
		return 2;
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	G.cs = calloc(G.conns, sizeof(*G.cs));
	if (!G.cs || G.ep < 0)
		return 2;

	G.t_start = G.t_end = now_ns();
	G.hard_deadline = G.t_start + (uint64_t)(G.time_limit * 1e9);
	if (G.duration > 0)
		G.deadline = G.t_start + (uint64_t)(G.duration * 1e9);

	for (;;) {
		struct epoll_event evs[256];
		uint64_t t = now_ns(), next = t + 100000000u;
		unsigned handshaking = 0;
		int n, timeout_ms;

		if (interrupted || t >= G.hard_deadline) {
			if (!interrupted)
				note_error("time limit reached");
			G.stop_issuing = true;
			break;
		}
		if (G.conn_errors >= 100 && !G.handshakes_done) {
			note_error("100 connections failed, none completed its handshake");
			G.stop_issuing = true;
			break;
		}
		if (G.deadline && t >= G.deadline) {
			G.stop_issuing = true;
			break;
		}
		/* Open connections where slots are free and work is left. */
		live = 0;
		for (i = 0; i < G.conns; i++)
			if (G.cs[i].st == C_HANDSHAKE)
				handshaking++;
		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];

			if (c->st == C_FREE && !established_printed &&
			    (G.idle ? G.conns_opened < G.conns && handshaking < G.handshakes : more_work())) {
				if (conn_open(c) == 0) {
					handshaking++;
					conn_step(c);
				} else {
					G.conn_errors++;
					G.failed++;
					G.started++;
				}
			}
			if (c->st != C_FREE)
				live++;
		}
		if (!live && (G.idle ? G.conns_opened >= G.conns : !more_work()))
			break;
		if (G.idle && !established_printed && G.handshakes_done + G.conn_errors >= G.conns) {
			printf("established %" PRIu64 "\n", G.handshakes_done);
			fflush(stdout);
			established_printed = true;
			hold_until = now_ns() + (uint64_t)(G.hold * 1e9);
		}
		if (established_printed && now_ns() >= hold_until)
			break;

		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];
			uint64_t e;

			if (c->st == C_FREE)
				continue;
			e = ngtcp2_conn_get_expiry(c->q);
			if (e < next)
				next = e;
		}
		t = now_ns();
		timeout_ms = next <= t ? 0 : (int)((next - t + 999999) / 1000000);
		n = epoll_wait(G.ep, evs, 256, timeout_ms);
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			if (c->st == C_FREE || c->st == C_DONE)
				continue;
			if (conn_read(c)) {
				c->failed = true;
				c->st = C_DONE;
				continue;
			}
			conn_step(c);
		}
		t = now_ns();
		for (i = 0; i < G.conns; i++) {
			struct conn *c = &G.cs[i];

			if (c->st == C_FREE)
				continue;
			if (c->st != C_DONE && ngtcp2_conn_get_expiry(c->q) <= t) {
				int rv = ngtcp2_conn_handle_expiry(c->q, t);

				if (rv) {
					note_error("connection timed out: %s", ngtcp2_strerror(rv));
					c->failed = true;
					c->st = C_DONE;
				} else {
					conn_step(c);
				}
			}
			if (c->st == C_DONE) {
				if (c->inflight)
					c->failed = true;
				conn_free(c, !c->failed);
			} else if (c->st == C_OPEN && !c->inflight && !G.idle &&
			           (G.reqs_per_conn ? c->issued >= G.reqs_per_conn : !more_work())) {
				conn_free(c, true);
			}
		}
	}
	for (i = 0; i < G.conns; i++)
		conn_free(&G.cs[i], true);
	if (!G.deadline || G.t_end > G.deadline)
		G.deadline = G.t_end;

	getrusage(RUSAGE_SELF, &ru);
	double el = (double)(G.deadline - G.t_start) / 1e9;
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	             ru.ru_stime.tv_usec / 1e6;
	if (G.nlat) /* qsort with no array is undefined (an --idle run makes no request) */
		qsort(G.lat_us, G.nlat, sizeof(*G.lat_us), cmp_u32);
	if (G.json) {
		printf("{\"ok\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"conns\":%" PRIu64
		       ",\"handshakes\":%" PRIu64 ",\"conn_errors\":%" PRIu64
		       ",\"elapsed_s\":%.4f,\"rps\":%.1f,\"bytes\":%" PRIu64
		       ",\"bytes_per_s\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f"
		       ",\"client_cpu_s\":%.3f,\"hs_tx_bytes\":%" PRIu64 ",\"hs_rx_bytes\":%" PRIu64
		       ",\"hs_initial_dgrams\":%" PRIu64 ",\"group\":\"%s\",\"group_other\":%" PRIu64
		       ",\"tls\":\"%s\",\"error\":\"%s\"}\n",
		       G.ok, G.failed, G.conns_opened, G.handshakes_done, G.conn_errors, el,
		       el > 0 ? G.ok / el : 0, G.bytes, el > 0 ? G.bytes / el : 0, pct(50), pct(90), pct(99),
		       cpu, G.hs_tx, G.hs_rx, G.hs_initials, G.group, G.group_other, h3tls_backend(),
		       G.first_error);
	} else {
		printf("requests: %" PRIu64 " ok, %" PRIu64 " failed; connections: %" PRIu64
		       " opened, %" PRIu64 " handshakes, %" PRIu64 " failed\n",
		       G.ok, G.failed, G.conns_opened, G.handshakes_done, G.conn_errors);
		printf("time: %.3f s, %.1f requests/s, %.2f MB/s (%" PRIu64 " body bytes)\n", el,
		       el > 0 ? G.ok / el : 0, el > 0 ? G.bytes / el / 1e6 : 0, G.bytes);
		printf("latency: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms\n", pct(50), pct(90), pct(99));
		printf("client CPU: %.3f s\n", cpu);
		if (G.handshakes_done)
			printf("handshakes: group %s (%" PRIu64 " other), per handshake before it completed: "
			       "%.2f Initial datagrams sent, %.0f bytes sent, %.0f received (%s)\n",
			       G.group, G.group_other, (double)G.hs_initials / (double)G.handshakes_done,
			       (double)G.hs_tx / (double)G.handshakes_done,
			       (double)G.hs_rx / (double)G.handshakes_done, h3tls_backend());
		if (G.first_error[0])
			printf("first error: %s\n", G.first_error);
	}
	h3tls_deinit();
	return G.failed || G.conn_errors ? 1 : 0;
}
