/* The fixtures of the configuration loader's tests (config_test.h):
 * certificates, keys, token and peers files made at run time (gnutls) in a
 * temporary directory, and the @D@ / @K0@..@K3@ substitution. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tests/ini/config_test.h"

char dir[128];
char keys[4][45]; /* @K0@..@K3@: base64 WireGuard keys */

/* ---- fixtures ------------------------------------------------------------ */

void die(const char *what)
{
	fprintf(stderr, "fixture: %s\n", what);
	exit(99);
}

void put(const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	/* Private, as keys should be: test_warnings() opens some up itself. */
	if (!f || fchmod(fileno(f), 0600) || fwrite(data, 1, len, f) != len || fclose(f))
		die(path);
}

void fixture_path(char *path, size_t n, const char *name)
{
	snprintf(path, n, "%s/%s", dir, name);
}

void puts_file(const char *name, const char *text)
{
	put(name, text, strlen(text));
}

static void write_datum(const char *name, gnutls_datum_t *d)
{
	put(name, d->data, d->size);
	gnutls_free(d->data);
}

/* A self-signed certificate for `cn` and its key, plus a second key that
 * does not match. */
static void make_cert(const char *cn, const char *cert_name, const char *key_name, const char *other_name)
{
	gnutls_x509_privkey_t k = NULL, k2 = NULL;
	gnutls_x509_crt_t c = NULL;
	gnutls_datum_t d;
	unsigned char serial[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	unsigned bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1);
	if (gnutls_x509_privkey_init(&k) || gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA, bits, 0) ||
	    gnutls_x509_privkey_init(&k2) || gnutls_x509_privkey_generate(k2, GNUTLS_PK_ECDSA, bits, 0) ||
	    gnutls_x509_crt_init(&c) || gnutls_x509_crt_set_version(c, 3) ||
	    gnutls_x509_crt_set_serial(c, serial, sizeof(serial)) ||
	    gnutls_x509_crt_set_activation_time(c, time(NULL) - 60) ||
	    gnutls_x509_crt_set_expiration_time(c, time(NULL) + 86400) ||
	    gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)) ||
	    gnutls_x509_crt_set_key(c, k) || gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0))
		die("certificate");
	if (gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d))
		die("export cert");
	write_datum(cert_name, &d);
	if (gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &d))
		die("export key");
	write_datum(key_name, &d);
	if (gnutls_x509_privkey_export2(k2, GNUTLS_X509_FMT_PEM, &d))
		die("export key 2");
	write_datum(other_name, &d);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_privkey_deinit(k);
	gnutls_x509_privkey_deinit(k2);
}

void make_fixtures(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/rg-ini-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	for (unsigned i = 0; i < 4; i++) {
		unsigned char raw[32];
		gnutls_datum_t in = {raw, 32}, out;
		memset(raw, 0x11 * (int)(i + 1), sizeof(raw));
		raw[0] = (unsigned char)i;
		if (gnutls_base64_encode2(&in, &out) || out.size != 44)
			die("base64");
		memcpy(keys[i], out.data, 44);
		keys[i][44] = 0;
		gnutls_free(out.data);
	}
	make_cert("example.com", "cert.pem", "key.pem", "other.key");
	puts_file("garbage.pem", "this is not PEM\n");
	char line[64];
	snprintf(line, sizeof(line), "%s\n", keys[3]);
	puts_file("tunnel.key", line);
	puts_file("psk.key", line);
	puts_file("bad.key", "hello\n");
	puts_file("token", "0123456789abcdef0123456789abcdef0123\n");
	puts_file("short.token", "0123456789\n");
	puts_file("space.token", "0123456789abcdef 0123456789abcdef0123\n");
	char peers[512];
	snprintf(peers, sizeof(peers),
	         "# authorized peers\n"
	         "\n"
	         "%s 10.8.0.10/32, fd00::10/128   # phone\n"
	         "%s 10.8.0.11/32\n",
	         keys[1], keys[2]);
	puts_file("peers", peers);
	snprintf(peers, sizeof(peers),
	         "# two bad lines, one good, one duplicate\n"
	         "%s\n"
	         "%s 10.8.0.20/33\n"
	         "%s 10.8.0.21/32\n"
	         "%s 10.8.0.22/32\n"
	         "notakey 10.8.0.23/32\n",
	         keys[1], keys[1], keys[2], keys[2]);
	puts_file("peers_bad", peers);
	snprintf(peers, sizeof(peers), "%s 10.8.0.30/32\n", keys[0]);
	puts_file("peers_dup", peers);
}

void remove_fixtures(void)
{
	static const char *const names[] = {"cert.pem", "key.pem", "other.key", "garbage.pem", "tunnel.key",
	                                    "psk.key", "bad.key", "token", "short.token", "space.token",
	                                    "peers", "peers_bad", "peers_dup", "unreadable", "t.ini",
	                                    "open.key", "open.token", "open.psk", "open.pem"};
	char path[256];
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Replace @D@ by the fixture dir and @K0@..@K3@ by the keys. malloc'ed. */
char *subst(const char *t)
{
	size_t cap = strlen(t) * 2 + 4096, n = 0;
	char *out = malloc(cap);
	if (!out)
		die("malloc");
	while (*t) {
		const char *rep = NULL;
		size_t skip = 0;
		if (!strncmp(t, "@D@", 3)) {
			rep = dir;
			skip = 3;
		} else if (t[0] == '@' && t[1] == 'K' && t[2] >= '0' && t[2] <= '3' && t[3] == '@') {
			rep = keys[t[2] - '0'];
			skip = 4;
		}
		if (rep) {
			size_t l = strlen(rep);
			if (n + l + 1 >= cap)
				die("subst");
			memcpy(out + n, rep, l);
			n += l;
			t += skip;
		} else {
			if (n + 2 >= cap)
				die("subst");
			out[n++] = *t++;
		}
	}
	out[n] = 0;
	return out;
}
