/* h3load's TLS on gnutls (ngtcp2_crypto_gnutls): the Debian 12 build
 * (h3load_tls.h). gnutls 3.7/3.8 as Debian builds it has no ML-KEM, so a
 * post-quantum group is refused here, with the build that has it named. */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "h3load.h"

#define PRIORITY_BASE \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL"

static gnutls_certificate_credentials_t cred;
static char priority[512] = PRIORITY_BASE ":+GROUP-X25519";
static char backend[64];

const char *h3tls_backend(void)
{
	snprintf(backend, sizeof(backend), "gnutls %s", gnutls_check_version(NULL));
	return backend;
}

/* "X25519:secp256r1" (OpenSSL's spelling, as --groups takes it) ->
 * ":+GROUP-X25519:+GROUP-SECP256R1" appended to the priority string. */
static int set_groups(const char *groups)
{
	static const struct {
		const char *ossl, *gnutls;
	} known[] = {
		{ "X25519", "GROUP-X25519" },       { "X448", "GROUP-X448" },
		{ "secp256r1", "GROUP-SECP256R1" }, { "P-256", "GROUP-SECP256R1" },
		{ "secp384r1", "GROUP-SECP384R1" }, { "P-384", "GROUP-SECP384R1" },
		{ "secp521r1", "GROUP-SECP521R1" }, { "P-521", "GROUP-SECP521R1" },
	};
	char list[256], *save = NULL, *g;
	size_t len = strlen(PRIORITY_BASE);

	snprintf(list, sizeof(list), "%s", groups);
	priority[len] = 0;
	for (g = strtok_r(list, ":,", &save); g; g = strtok_r(NULL, ":,", &save)) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcasecmp(g, known[i].ossl))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			if (strcasestr(g, "MLKEM") || strcasestr(g, "KYBER"))
				fprintf(stderr,
				        "h3load: --groups %s: this h3load is built on %s, which has no "
				        "post-quantum group; build it where ringgate's TLS backend is OpenSSL >= 3.5 "
				        "(-Dtls=openssl, Debian 13)\n",
				        g, h3tls_backend());
			else
				fprintf(stderr, "h3load: --groups %s: unknown to the gnutls build\n", g);
			return -1;
		}
		len += (size_t)snprintf(priority + len, sizeof(priority) - len, ":+%s", known[i].gnutls);
		if (len >= sizeof(priority))
			return -1;
	}
	return len > strlen(PRIORITY_BASE) ? 0 : -1;
}

int h3tls_init(const char *cacert, bool insecure, const char *groups)
{
	if (groups && set_groups(groups))
		return -1;
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&cred);
	if (cacert) {
		if (gnutls_certificate_set_x509_trust_file(cred, cacert, GNUTLS_X509_FMT_PEM) <= 0) {
			fprintf(stderr, "h3load: no certificate in %s\n", cacert);
			return -1;
		}
	} else if (!insecure) {
		gnutls_certificate_set_x509_system_trust(cred);
	}
	return 0;
}

void h3tls_deinit(void)
{
	gnutls_certificate_free_credentials(cred);
}

void h3tls_rand(void *p, size_t n)
{
	gnutls_rnd(GNUTLS_RND_NONCE, p, n);
}

int h3tls_conn_new(struct conn *c)
{
	static const gnutls_datum_t alpn = { (unsigned char *)"h3", 2 };
	gnutls_session_t s;

	if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA)) {
		note_error("gnutls_init failed");
		return -1;
	}
	if (ngtcp2_crypto_gnutls_configure_client_session(s) ||
	    gnutls_priority_set_direct(s, priority, NULL) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) ||
	    gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY) ||
	    gnutls_server_name_set(s, GNUTLS_NAME_DNS, G.host, strlen(G.host))) {
		note_error("gnutls session set-up failed");
		gnutls_deinit(s);
		return -1;
	}
	if (!G.insecure)
		gnutls_session_set_verify_cert(s, G.host, 0);
	gnutls_session_set_ptr(s, &c->ref);
	c->tls = s;
	ngtcp2_conn_set_tls_native_handle(c->q, s);
	return 0;
}

void h3tls_conn_free(struct conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
}

const char *h3tls_conn_group(struct conn *c)
{
	const char *n = c->tls ? gnutls_group_get_name(gnutls_group_get(c->tls)) : NULL;

	return n ? n : "?";
}
