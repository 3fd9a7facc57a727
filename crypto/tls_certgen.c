#include "crypto/tls_certgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < d->size) {
		ssize_t n = write(fd, d->data + off, d->size - off);
		if (n < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		off += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

int tls_certgen(const char *const *names, unsigned n_names, const char *cert_path,
                const char *key_path)
{
	if (n_names == 0 || !names[0][0])
		return -EINVAL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t cpem = {0}, kpem = {0};
	int err = -EIO;

	if (gnutls_x509_privkey_init(&key) < 0)
		goto out;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
		goto out;
	if (gnutls_x509_crt_init(&crt) < 0)
		goto out;

	unsigned char serial[16];
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* a positive INTEGER (RFC 5280 4.1.2.2) */
	time_t now = time(NULL);
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 90 * 24 * 3600) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, names[0],
	                                  (unsigned)strlen(names[0])) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		goto out;
	for (unsigned i = 0; i < n_names; i++) {
		unsigned char ip[16];
		int r;
		if (!names[i][0]) {
			err = -EINVAL;
			goto out;
		}
		if (inet_pton(AF_INET, names[i], ip) == 1)
			r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
			                                         GNUTLS_FSAN_APPEND);
		else if (inet_pton(AF_INET6, names[i], ip) == 1)
			r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
			                                         GNUTLS_FSAN_APPEND);
		else
			r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
			                                         (unsigned)strlen(names[i]),
			                                         GNUTLS_FSAN_APPEND);
		if (r < 0) {
			err = -EINVAL;
			goto out;
		}
	}
	if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
	                                      &kpem) < 0)
		goto out;
	err = write_file(key_path, &kpem, 0600);
	if (!err)
		err = write_file(cert_path, &cpem, 0644);

out:
	/* one exit: the private key is wiped before its memory goes back */
	if (kpem.data) {
		gnutls_memset(kpem.data, 0, kpem.size);
		gnutls_free(kpem.data);
	}
	gnutls_free(cpem.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return err;
}
