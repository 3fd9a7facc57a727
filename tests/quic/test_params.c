/* test_params: quic_server_set_params (a reload of [quic]) and the ALPN
 * table. A refused reload changes nothing (the running certificates and
 * settings stay); an accepted one replaces the settings for new
 * connections, with the defaults for zeros; an ALPN ringgate does not
 * serve is refused at create and at reload. The certificate is made here
 * with gnutls, in a temporary directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "datapath/quic/internal.h"
#include "tests/check.h"

static char dir[] = "/tmp/test_params.XXXXXX";
static char cert_path[64], key_path[64];

static int write_datum(const char *path, const gnutls_datum_t *d)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	size_t n = fwrite(d->data, 1, d->size, f);
	return fclose(f) == 0 && n == d->size ? 0 : -EIO;
}

/* A self-signed P-256 certificate for "a.test", valid for an hour. */
static int make_cert(void)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {0};
	unsigned char serial = 1;
	time_t now = time(NULL);
	int rc = -EIO;

	if (!mkdtemp(dir))
		return -errno;
	snprintf(cert_path, sizeof(cert_path), "%s/a.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/a.key", dir);
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, &serial, 1) < 0 || gnutls_x509_crt_set_activation_time(crt, now - 60) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 3600) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "a.test", 6) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "a.test", 6, GNUTLS_FSAN_SET) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 || gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0 || write_datum(cert_path, &d))
		goto out;
	gnutls_free(d.data);
	d.data = NULL;
	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0 || write_datum(key_path, &d))
		goto out;
	rc = 0;
out:
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

static void test_alpn_table(void)
{
	CHECK_TRUE(quic_alpn_served("h3", 2) == QUIC_APP_H3);
	CHECK_TRUE(quic_alpn_served("h3x", 2) == QUIC_APP_H3); /* by length, not NUL */
	CHECK_TRUE(quic_alpn_served("h3-29", 5) == QUIC_APP_NONE);
	CHECK_TRUE(quic_alpn_served("hq-interop", 10) == QUIC_APP_NONE);
	CHECK_TRUE(quic_alpn_served("h", 1) == QUIC_APP_NONE);
	CHECK_TRUE(quic_alpn_served("", 0) == QUIC_APP_NONE);
}

static void test_reload(void)
{
	static const uint8_t secret[QUIC_STATIC_SECRET_LEN] = {1, 2, 3};
	static const char *const h3[] = {"h3"};
	static const char *const hq_h3[] = {"hq-interop", "h3"};
	const rg_sockaddr l4433 = {.in4 = {.sin_family = AF_INET, .sin_port = htons(4433)}};
	struct quic_vhost_params vh = {.name = "a.test", .cert_file = cert_path, .key_file = key_path,
	                               .listen = &l4433, .n_listen = 1};
	struct quic_params p = {.vhosts = &vh, .n_vhosts = 1, .static_secret = secret, .n_workers = 1};
	struct quic_server *srv = NULL;

	/* an ALPN list with one id ringgate does not serve: refused */
	p.alpn = hq_h3;
	p.n_alpn = 2;
	CHECK(quic_server_create(&p, &srv) == -EINVAL, "create with alpn hq-interop, h3");
	p.alpn = NULL;
	p.n_alpn = 0;
	CHECK(quic_server_create(&p, &srv) == 0, "create with the defaults");
	if (!srv)
		return;
	CHECK(srv->n_alpn == 1 && srv->alpn[0].size == 2 && !memcmp(srv->alpn[0].data, "h3", 2), "default alpn h3");
	CHECK(srv->p.idle_timeout_ns == 30ull * 1000000000 && srv->p.backlog == 1024 && !srv->qlog_dir &&
	      !srv->p.anti_port_scan && srv->p.retry == QUIC_RETRY_OFF && !srv->anti_replay,
	      "defaults: idle 30 s, backlog 1024, no qlog, no anti_port_scan, no 0-RTT");
	CHECK(srv->vset->v[0].n_listen == 1 && srv->vset->v[0].listen[0].in4.sin_port == htons(4433),
	      "the vhost's listen address is copied");

	/* refused reloads change nothing */
	struct quic_vhost_set *before = srv->vset;
	struct quic_params r = p;
	r.idle_timeout_ns = 7000000000ull;
	r.backlog = 3;
	r.anti_port_scan = true;
	r.retry = QUIC_RETRY_ON;
	r.zero_rtt = true;
	r.qlog_dir = "/tmp";
	r.alpn = hq_h3;
	r.n_alpn = 2;
	CHECK(quic_server_set_params(srv, &r) == -EINVAL, "reload with alpn hq-interop, h3");
	struct quic_vhost_params missing = vh;
	missing.cert_file = "/nonexistent/cert.pem";
	r.alpn = h3;
	r.n_alpn = 1;
	r.vhosts = &missing;
	CHECK(quic_server_set_params(srv, &r) == -ENOENT, "reload with a missing certificate");
	CHECK(srv->vset == before && srv->p.idle_timeout_ns == 30ull * 1000000000 && srv->p.backlog == 1024 &&
	      !srv->p.anti_port_scan && srv->p.retry == QUIC_RETRY_OFF && !srv->p.zero_rtt && !srv->qlog_dir,
	      "a refused reload changed the running settings");

	/* an accepted one takes everything, for new connections */
	r.vhosts = &vh;
	vh.n_listen = 0; /* now on every listener */
	CHECK(quic_server_set_params(srv, &r) == 0, "good reload");
	CHECK(srv->vset != before && srv->vset->v[0].n_listen == 0, "new vhost set");
	CHECK(srv->p.idle_timeout_ns == 7000000000ull && srv->p.backlog == 3 && srv->p.anti_port_scan &&
	      srv->p.retry == QUIC_RETRY_ON && srv->p.zero_rtt && srv->anti_replay && srv->qlog_dir &&
	      !strcmp(srv->qlog_dir, "/tmp"),
	      "settings not taken");
	/* and back: zeros are the defaults, 0-RTT off, qlog off */
	CHECK(quic_server_set_params(srv, &p) == 0, "reload to the defaults");
	CHECK(srv->p.idle_timeout_ns == 30ull * 1000000000 && srv->p.backlog == 1024 && !srv->p.zero_rtt &&
	      !srv->qlog_dir && srv->n_alpn == 1,
	      "defaults not restored");
	quic_server_destroy(srv);
}

int main(void)
{
	if (make_cert()) {
		fprintf(stderr, "cannot make a test certificate\n");
		return 1;
	}
	test_alpn_table();
	test_reload();
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	return check_report("test_params");
}
