/* Reading the files a configuration names: keys, the admin token, and
 * certificate/key pairs (checked with gnutls, which the TLS side uses too,
 * so "valid here" means "loadable there"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "ini/internal.h"

#define KEY_FILE_MAX 4096
#define CERT_FILE_MAX (1u << 20)

int ini_file_read(const char *path, size_t max, char **out, size_t *len)
{
	/* O_NONBLOCK: a FIFO or a device named by mistake must not hang the
	 * control thread; only regular files are read. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int err = 0;
	char *buf = NULL;
	size_t n = 0;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EBADFD;
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	/* Read up to max + 1 bytes: one more than allowed tells "too big". */
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			err = -EFBIG;
			goto out;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (buf)
		ini_file_wipe_free(buf, n);
	close(fd);
	return err;
}

void ini_file_wipe_free(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

const char *ini_file_strerror(int err)
{
	if (err == -EFBIG)
		return "file too large";
	if (err == -EBADFD)
		return "not a regular file";
	return strerror(-err);
}

int ini_file_secret_mode(const char *path, unsigned *mode)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	*mode = (unsigned)(st.st_mode & 07777);
	return (st.st_mode & (S_IRWXG | S_IRWXO)) ? 1 : 0;
}

static void why_errno(char *why, const char *path, int err)
{
	snprintf(why, INI_WHY_MAX, "cannot read %.96s: %s", path, ini_file_strerror(err));
}

/* Length of s without trailing whitespace (the newline an editor or
 * `wg genkey > file` leaves). */
static size_t trimmed_len(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

int ini_file_key(const char *path, uint8_t key[RG_KEY_LEN], char *why)
{
	char *buf;
	size_t len;
	int err = ini_file_read(path, KEY_FILE_MAX, &buf, &len);
	if (err) {
		why_errno(why, path, err);
		return err;
	}
	size_t n = trimmed_len(buf, len);
	buf[n] = 0;
	char w[INI_WHY_MAX];
	if (strlen(buf) != n || ini_value_key(buf, key, w)) {
		snprintf(why, INI_WHY_MAX, "%.96s: not a key: want one line of 44 characters of base64 "
		         "decoding to 32 bytes (wg genkey)", path);
		err = -EINVAL;
	}
	ini_file_wipe_free(buf, len);
	return err;
}

int ini_file_token(struct ini_arena *a, const char *path, const char **token, char *why)
{
	char *buf;
	size_t len;
	int err = ini_file_read(path, KEY_FILE_MAX, &buf, &len);
	if (err) {
		why_errno(why, path, err);
		return err;
	}
	size_t n = len;
	/* Only the trailing newline goes: other whitespace would be part of
	 * what a client must send, so it is refused below instead. */
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	err = -EINVAL;
	if (n < 32) {
		snprintf(why, INI_WHY_MAX, "%.96s: token too short (%zu characters, want at least 32)", path, n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f) {
			snprintf(why, INI_WHY_MAX, "%.96s: the token must be one line of visible ASCII characters "
			         "without spaces", path);
			goto out;
		}
	}
	*token = ini_arena_strndup(a, buf, n);
	err = *token ? 0 : -ENOMEM;
out:
	ini_file_wipe_free(buf, len);
	return err;
}

int ini_file_cert_pair(const char *cert, const char *key, bool *bad_key, char *why)
{
	char *cbuf = NULL, *kbuf = NULL;
	size_t clen = 0, klen = 0;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n_crts = 0;
	gnutls_x509_privkey_t pk = NULL;
	gnutls_certificate_credentials_t cred = NULL;
	int err, r;

	*bad_key = false;
	err = ini_file_read(cert, CERT_FILE_MAX, &cbuf, &clen);
	if (err) {
		why_errno(why, cert, err);
		goto out;
	}
	*bad_key = true;
	err = ini_file_read(key, CERT_FILE_MAX, &kbuf, &klen);
	if (err) {
		why_errno(why, key, err);
		goto out;
	}
	gnutls_datum_t cd = {(unsigned char *)cbuf, (unsigned)clen};
	gnutls_datum_t kd = {(unsigned char *)kbuf, (unsigned)klen};

	err = -EINVAL;
	*bad_key = false;
	r = gnutls_x509_crt_list_import2(&crts, &n_crts, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n_crts == 0) {
		snprintf(why, INI_WHY_MAX, "%.96s: not a PEM certificate chain (%s)", cert,
		         r < 0 ? gnutls_strerror(r) : "empty");
		goto out;
	}
	*bad_key = true;
	if ((r = gnutls_x509_privkey_init(&pk)) < 0 ||
	    (r = gnutls_x509_privkey_import2(pk, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(why, INI_WHY_MAX, "%.96s: not an unencrypted PEM private key (%s)", key, gnutls_strerror(r));
		goto out;
	}
	if ((r = gnutls_certificate_allocate_credentials(&cred)) < 0) {
		err = -ENOMEM;
		snprintf(why, INI_WHY_MAX, "gnutls: %s", gnutls_strerror(r));
		goto out;
	}
	r = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		snprintf(why, INI_WHY_MAX, "%.96s does not match the certificate in %.96s", key, cert);
		goto out;
	}
	if (r < 0) {
		*bad_key = false;
		snprintf(why, INI_WHY_MAX, "%.96s with %.96s: %s", cert, key, gnutls_strerror(r));
		goto out;
	}
	err = 0;
out:
	if (cred)
		gnutls_certificate_free_credentials(cred);
	if (pk)
		gnutls_x509_privkey_deinit(pk);
	for (unsigned i = 0; i < n_crts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	ini_file_wipe_free(kbuf, klen);
	free(cbuf);
	return err;
}

int ini_file_ca(const char *path, char *why)
{
	char *buf = NULL;
	size_t len = 0;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	int err = ini_file_read(path, CERT_FILE_MAX, &buf, &len);
	if (err) {
		why_errno(why, path, err);
		return err;
	}
	gnutls_datum_t d = {(unsigned char *)buf, (unsigned)len};
	int r = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n == 0) {
		snprintf(why, INI_WHY_MAX, "%.96s: not a PEM list of CA certificates (%s)", path,
		         r < 0 ? gnutls_strerror(r) : "empty");
		err = -EINVAL;
	}
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	free(buf);
	return err;
}
