/* Self-signed certificates for tests and demos (ringgatectl certgen,
 * ringgate --demo): an ECDSA P-256 key and a certificate for the given
 * names, valid from an hour ago for 90 days, usable as a TLS server
 * certificate. Names that parse as IPv4/IPv6 addresses become IP SANs,
 * the others DNS SANs; the first is the subject CN. */
#ifndef RG_TLS_CERTGEN_H
#define RG_TLS_CERTGEN_H

/* Write cert (PEM) and key (PKCS#8 PEM, mode 0600). 0 or negative errno
 * (-EINVAL for a bad name, -EIO for a gnutls failure). */
int tls_certgen(const char *const *names, unsigned n_names, const char *cert_path,
                const char *key_path);

#endif
