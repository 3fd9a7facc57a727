/* h3client: drives libcurl (HTTP/3 only, ngtcp2+gnutls inside libcurl) so the
 * tests talk to quic_testsrv through a client nobody here wrote; the curl
 * binary on this system lacks HTTP/3, libcurl3-gnutls has it. This file only
 * schedules transfers and hashes bodies.
 *
 *   h3client [--cacert F | --insecure] [--resolve H:P:A] [--count N]
 *            [--parallel P] [--post-file F] [--connect-timeout S] [--quiet]
 *            [--verbose] [--path-as-is] [--header "Name: value"]...
 *            [--cert PEM --key PEM] URL...
 *
 * Each transfer prints "<status> <bytes> <sha256>" (unless --quiet); the
 * last line is "summary ok=N failed=M" plus a count per status. Exit 0 when
 * every transfer finished at the HTTP level (any status), 1 otherwise, 77
 * when libcurl has no HTTP/3. --path-as-is sends "/../" and "/./" as
 * given (libcurl removes them by default), for the proxy's path tests.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

struct xfer {
	CURL *e;
	gnutls_hash_hd_t h;
	unsigned long long bytes;
	FILE *post;
	const char *url;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;

	gnutls_hash(x->h, p, sz * n);
	x->bytes += sz * n;
	return sz * n;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;

	return fread(p, sz, n, x->post);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cacert", required_argument, NULL, 'c' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "post-file", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "path-as-is", no_argument, NULL, 'a' },
		{ "header", required_argument, NULL, 'H' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ 0 },
	};
	const char *cacert = NULL, *post = NULL, *cert = NULL, *key = NULL;
	struct curl_slist *resolve = NULL, *headers = NULL;
	long connect_timeout = 0;
	bool insecure = false, quiet = false, verbose = false, as_is = false;
	unsigned count = 1, parallel = 1, total, started = 0, done = 0, ok = 0, failed = 0;
	unsigned status_count[600] = { 0 };
	curl_off_t post_size = 0;
	struct xfer *xs;
	CURLM *m;
	int o, running = 1;
	unsigned i;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cacert = optarg; break;
		case 'k': insecure = true; break;
		case 'r': resolve = curl_slist_append(resolve, optarg); break;
		case 'n': count = (unsigned)atoi(optarg); break;
		case 'P': parallel = (unsigned)atoi(optarg); break;
		case 'p': post = optarg; break;
		case 'q': quiet = true; break;
		case 'v': verbose = true; break;
		case 't': connect_timeout = atol(optarg); break;
		case 'a': as_is = true; break;
		case 'H': headers = curl_slist_append(headers, optarg); break;
		case 'C': cert = optarg; break;
		case 'K': key = optarg; break;
		default:
			fprintf(stderr, "usage: h3client [options] URL...\n");
			return 2;
		}
	}
	if (optind >= argc || count == 0 || parallel == 0) {
		fprintf(stderr, "usage: h3client [options] URL...\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP3)) {
		fprintf(stderr, "h3client: this libcurl has no HTTP/3\n");
		return 77;
	}
	if (post) {
		struct stat st;

		if (stat(post, &st) < 0) {
			perror(post);
			return 2;
		}
		post_size = st.st_size;
	}
	total = count * (unsigned)(argc - optind);
	xs = calloc(total, sizeof(*xs));
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);

	for (i = 0; i < total; i++)
		xs[i].url = argv[optind + i % (unsigned)(argc - optind)];

	while (done < total) {
		CURLMsg *msg;
		int left;

		while (started < total && started - done < parallel) {
			struct xfer *x = &xs[started++];

			x->e = curl_easy_init();
			gnutls_hash_init(&x->h, GNUTLS_DIG_SHA256);
			curl_easy_setopt(x->e, CURLOPT_URL, x->url);
			curl_easy_setopt(x->e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_3ONLY);
			curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_data);
			curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
			curl_easy_setopt(x->e, CURLOPT_TIMEOUT, 60L);
			curl_easy_setopt(x->e, CURLOPT_PIPEWAIT, 1L);
			if (connect_timeout)
				curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT, connect_timeout);
			if (verbose)
				curl_easy_setopt(x->e, CURLOPT_VERBOSE, 1L);
			if (as_is)
				curl_easy_setopt(x->e, CURLOPT_PATH_AS_IS, 1L);
			if (resolve)
				curl_easy_setopt(x->e, CURLOPT_RESOLVE, resolve);
			if (headers)
				curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, headers);
			if (cert)
				curl_easy_setopt(x->e, CURLOPT_SSLCERT, cert);
			if (key)
				curl_easy_setopt(x->e, CURLOPT_SSLKEY, key);
			if (cacert)
				curl_easy_setopt(x->e, CURLOPT_CAINFO, cacert);
			if (insecure) {
				curl_easy_setopt(x->e, CURLOPT_SSL_VERIFYPEER, 0L);
				curl_easy_setopt(x->e, CURLOPT_SSL_VERIFYHOST, 0L);
			}
			if (post) {
				x->post = fopen(post, "rb");
				curl_easy_setopt(x->e, CURLOPT_POST, 1L);
				curl_easy_setopt(x->e, CURLOPT_READFUNCTION, on_read);
				curl_easy_setopt(x->e, CURLOPT_READDATA, x);
				curl_easy_setopt(x->e, CURLOPT_POSTFIELDSIZE_LARGE, post_size);
			}
			curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
			curl_multi_add_handle(m, x->e);
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct xfer *x;
			unsigned char dig[32];
			char hex[65];
			long status = 0;
			int k;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
			gnutls_hash_deinit(x->h, dig);
			for (k = 0; k < 32; k++)
				sprintf(hex + 2 * k, "%02x", dig[k]);
			if (msg->data.result == CURLE_OK) {
				ok++;
				if (status >= 0 && status < 600)
					status_count[status]++;
			} else {
				failed++;
				fprintf(stderr, "h3client: %s: %s\n", x->url,
				        curl_easy_strerror(msg->data.result));
			}
			if (!quiet)
				printf("%ld %llu %s\n", status, x->bytes, hex);
			curl_multi_remove_handle(m, x->e);
			curl_easy_cleanup(x->e);
			if (x->post)
				fclose(x->post);
			done++;
		}
		if (done < total)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	printf("summary ok=%u failed=%u", ok, failed);
	for (i = 0; i < 600; i++)
		if (status_count[i])
			printf(" status_%u=%u", i, status_count[i]);
	printf("\n");
	curl_multi_cleanup(m);
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
	free(xs);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
