/* ringgate: the appliance. Parses the command line, then hands over to the
 * control thread's loop (app.c). Exit codes (INTERFACE.md): 0 clean
 * shutdown, 1 bad configuration or arguments, 2 a runtime failure at start. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/app.h"
#include "control/log.h"
#include "tls/tls.h"

#define DEFAULT_CONFIG "/etc/ringgate/ringgate.ini"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: ringgate [options]\n"
	        "Edge appliance: QUIC/HTTP-3 reverse proxy and WireGuard-compatible tunnels.\n\n"
	        "  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
	        "      --demo            run on the embedded demo configuration (no file, no root)\n"
	        "      --validate        check the configuration, print every problem, exit 0 if valid\n"
	        "      --strict          every configuration warning is an error (exit 1 from --validate\n"
	        "                        and at start, a refused reload): keys not implemented yet,\n"
	        "                        secret files open to group or others\n"
	        "      --workers N       override [appliance] workers\n"
	        "      --log-level LEVEL error, warn, info or debug\n"
	        "      --json-logs       one JSON object per log line\n"
	        "      --ring-backend B  auto, uring or epoll (default auto)\n"
	        "  -V, --version         print the version\n"
	        "  -h, --help            this help\n\n"
	        "Exit codes: 0 clean shutdown, 1 bad configuration or arguments,\n"
	        "2 runtime failure at start.\n");
}

int main(int argc, char **argv)
{
	enum { OPT_DEMO = 256, OPT_VALIDATE, OPT_STRICT, OPT_WORKERS, OPT_LOG_LEVEL, OPT_JSON, OPT_BACKEND };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"demo", no_argument, NULL, OPT_DEMO},
		{"validate", no_argument, NULL, OPT_VALIDATE},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"json-logs", no_argument, NULL, OPT_JSON},
		{"ring-backend", required_argument, NULL, OPT_BACKEND},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct app a = {.config_path = NULL, .backend = RING_BACKEND_AUTO};
	bool validate = false, json = false, level_set = false;
	enum log_level level = LOG_INFO;
	int c;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a.config_path = optarg;
			break;
		case OPT_DEMO:
			a.demo = true;
			break;
		case OPT_VALIDATE:
			validate = true;
			break;
		case OPT_STRICT:
			a.strict = true;
			break;
		case OPT_WORKERS: {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > 1024) {
				fprintf(stderr, "ringgate: --workers takes a number from 1 to 1024, not '%s'\n", optarg);
				return 1;
			}
			a.workers_override = (unsigned)n;
			break;
		}
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &level)) {
				fprintf(stderr, "ringgate: --log-level takes error, warn, info or debug, not '%s'\n",
				        optarg);
				return 1;
			}
			level_set = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_BACKEND:
			if (!strcmp(optarg, "auto"))
				a.backend = RING_BACKEND_AUTO;
			else if (!strcmp(optarg, "uring"))
				a.backend = RING_BACKEND_URING;
			else if (!strcmp(optarg, "epoll"))
				a.backend = RING_BACKEND_EPOLL;
			else {
				fprintf(stderr, "ringgate: --ring-backend takes auto, uring or epoll, not '%s'\n",
				        optarg);
				return 1;
			}
			break;
		case 'V':
			printf("ringgate %s\n", RG_VERSION);
			/* issue 20: which TLS backend, and whether PQ key exchange is possible */
			printf("tls: %s, post-quantum groups %s\n", tls_backend(),
			       tls_pq_available() ? "available (X25519MLKEM768)" : "not available");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringgate: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 1;
	}
	if (a.demo && a.config_path) {
		fprintf(stderr, "ringgate: --demo and --config exclude each other\n");
		return 1;
	}
	if (!a.config_path && !a.demo)
		a.config_path = DEFAULT_CONFIG;
	log_setup(level, json);
	a.log_level_forced = level_set;

	if (validate)
		return app_validate(&a);

	int rc = app_start(&a);
	if (rc == 0)
		rc = app_run(&a);
	app_stop(&a);
	return rc;
}
