/* ringgatectl: talks to the admin API of a running ringgate, and offline
 * helpers for keys and test certificates (INTERFACE.md). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/tls_certgen.h"
#include "crypto/wgkey.h"

#define DEFAULT_ADMIN "127.0.0.1:8082"
#define DEFAULT_TOKEN_FILE "/etc/ringgate/admin.token"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: ringgatectl [--admin HOST:PORT] [--token-file FILE] COMMAND\n\n"
	        "Commands that talk to a running ringgate (admin API, default " DEFAULT_ADMIN "):\n"
	        "  status            version, uptime, workers, listeners, config generation\n"
	        "  peers             tunnel peers\n"
	        "  backends          backend servers and their health\n"
	        "  metrics           Prometheus metrics\n"
	        "  health            exit 0 while it serves\n"
	        "  reload            re-read config, certificates and peers\n"
	        "  shutdown          graceful drain and exit\n\n"
	        "Offline helpers:\n"
	        "  genkey            print a new private key (WireGuard base64, like wg genkey)\n"
	        "  pubkey            read a private key on stdin, print its public key\n"
	        "  certgen [--cert FILE] [--key FILE] HOST...\n"
	        "                    write a self-signed certificate and key for HOSTs\n"
	        "                    (default HOST.pem and HOST.key of the first HOST)\n\n"
	        "The token is read from --token-file (default " DEFAULT_TOKEN_FILE
	        " when readable).\n");
}

/* "host:port" or "[v6]:port" -> a connected TCP socket, or -1 with a message. */
static int dial(const char *hostport)
{
	char host[256];
	const char *port;
	if (hostport[0] == '[') {
		const char *e = strchr(hostport, ']');
		if (!e || e[1] != ':' || (size_t)(e - hostport - 1) >= sizeof(host))
			goto bad;
		memcpy(host, hostport + 1, (size_t)(e - hostport - 1));
		host[e - hostport - 1] = '\0';
		port = e + 2;
	} else {
		const char *c = strrchr(hostport, ':');
		if (!c || (size_t)(c - hostport) >= sizeof(host))
			goto bad;
		memcpy(host, hostport, (size_t)(c - hostport));
		host[c - hostport] = '\0';
		port = c + 1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	int r = getaddrinfo(host, port, &hints, &ai);
	if (r) {
		fprintf(stderr, "ringgatectl: bad admin address '%s': %s\n", hostport, gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		fprintf(stderr, "ringgatectl: cannot reach the admin API at %s: %s\n", hostport,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
bad:
	fprintf(stderr, "ringgatectl: bad admin address '%s' (want HOST:PORT or [V6]:PORT)\n", hostport);
	return -1;
}

static char *read_token(const char *path, bool required)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (required)
			fprintf(stderr, "ringgatectl: cannot read token file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return strdup(buf);
}

/* One request; prints the body to stdout on 2xx, to stderr otherwise.
 * Returns the process exit code. */
static int request(const char *admin, const char *token, const char *method, const char *path)
{
	int fd = dial(admin);
	if (fd < 0)
		return 2;
	char req[2048];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ringgatectl/%s\r\n%s%s%s"
	                 "Content-Length: 0\r\nConnection: close\r\n\r\n",
	                 method, path, admin, RG_VERSION, token ? "Authorization: Bearer " : "",
	                 token ? token : "", token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		fprintf(stderr, "ringgatectl: cannot send the request\n");
		close(fd);
		return 2;
	}
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				break;
			buf = nb;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	int status = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !body) {
		fprintf(stderr, "ringgatectl: not an HTTP answer from %s\n", admin);
		free(buf);
		return 2;
	}
	body += 4;
	int rc = 0;
	if (status >= 200 && status < 300) {
		fputs(body, stdout);
	} else {
		fprintf(stderr, "ringgatectl: %s %s: HTTP %d\n%s", method, path, status, body);
		rc = 1;
	}
	free(buf);
	return rc;
}

static int cmd_genkey(void)
{
	uint8_t k[WGKEY_LEN];
	char b64[WGKEY_B64_LEN + 1];
	int err = wgkey_generate(k);
	if (!err)
		err = wgkey_to_base64(k, b64);
	wgkey_wipe(k, sizeof(k));
	if (err) {
		fprintf(stderr, "ringgatectl: genkey: %s\n", strerror(-err));
		return 1;
	}
	puts(b64);
	wgkey_wipe(b64, sizeof(b64));
	return 0;
}

static int cmd_pubkey(void)
{
	char line[256];
	uint8_t priv[WGKEY_LEN], pub[WGKEY_LEN];
	char b64[WGKEY_B64_LEN + 1];
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "ringgatectl: pubkey: no key on standard input\n");
		return 1;
	}
	line[strcspn(line, "\r\n")] = '\0';
	int err = wgkey_from_base64(line, priv);
	wgkey_wipe(line, sizeof(line));
	if (err) {
		fprintf(stderr, "ringgatectl: pubkey: not a base64 key of 32 bytes\n");
		return 1;
	}
	err = wgkey_public(priv, pub);
	wgkey_wipe(priv, sizeof(priv));
	if (!err)
		err = wgkey_to_base64(pub, b64);
	if (err) {
		fprintf(stderr, "ringgatectl: pubkey: %s\n", strerror(-err));
		return 1;
	}
	puts(b64);
	return 0;
}

static int cmd_certgen(int argc, char **argv)
{
	static const struct option o[] = {
		{"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'}, {0}};
	const char *cert = NULL, *key = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:k:", o, NULL)) != -1) {
		if (c == 'c')
			cert = optarg;
		else if (c == 'k')
			key = optarg;
		else
			return 1;
	}
	if (optind >= argc) {
		fprintf(stderr, "ringgatectl: certgen needs at least one HOST\n");
		return 1;
	}
	char *dcert = NULL, *dkey = NULL;
	if (!cert && asprintf(&dcert, "%s.pem", argv[optind]) < 0)
		return 1;
	if (!key && asprintf(&dkey, "%s.key", argv[optind]) < 0)
		return 1;
	int err = tls_certgen((const char *const *)argv + optind, (unsigned)(argc - optind),
	                      cert ? cert : dcert, key ? key : dkey);
	if (err)
		fprintf(stderr, "ringgatectl: certgen: %s\n", strerror(-err));
	else
		printf("wrote %s and %s\n", cert ? cert : dcert, key ? key : dkey);
	free(dcert);
	free(dkey);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"admin", required_argument, NULL, 'a'},
		{"token-file", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *admin = DEFAULT_ADMIN, *token_file = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+a:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			admin = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringgatectl %s\n", RG_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	const char *cmd = argv[optind];
	if (!strcmp(cmd, "genkey"))
		return cmd_genkey();
	if (!strcmp(cmd, "pubkey"))
		return cmd_pubkey();
	if (!strcmp(cmd, "certgen"))
		return cmd_certgen(argc - optind, argv + optind);

	static const struct {
		const char *name, *method, *path;
	} api[] = {
		{"status", "GET", "/status"},   {"peers", "GET", "/peers"},
		{"backends", "GET", "/backends"}, {"metrics", "GET", "/metrics"},
		{"health", "GET", "/health"},   {"reload", "POST", "/reload"},
		{"shutdown", "POST", "/shutdown"},
	};
	for (unsigned i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		if (strcmp(cmd, api[i].name))
			continue;
		char *token = read_token(token_file ? token_file : DEFAULT_TOKEN_FILE, token_file != NULL);
		if (token_file && !token)
			return 1;
		int rc = request(admin, token, api[i].method, api[i].path);
		free(token);
		return rc;
	}
	fprintf(stderr, "ringgatectl: unknown command '%s' (see --help)\n", cmd);
	return 1;
}
