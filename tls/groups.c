/* groups: the key-exchange group names of [tls] groups and their checks,
 * backend-neutral (tls.h). Names are the IANA TLS Supported Groups
 * registry's (RFC 8446 4.2.7; the hybrids of draft-ietf-tls-ecdhe-mlkem),
 * matched case-insensitively, as OpenSSL and the INTERFACE.md default
 * write them. Whether the build can do a PQ group is the backend's word
 * (tls_pq_available); this file only applies it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tls/tls.h"
#include "tls/backend.h"

static const struct tls_group tls_groups[] = {
	{"X25519MLKEM768", TLS_GROUP_X25519MLKEM768, true},
	{"SecP256r1MLKEM768", 4587, true},
	{"SecP384r1MLKEM1024", 4589, true},
	{"X25519", 29, false},
	{"X448", 30, false},
	{"secp256r1", 23, false},
	{"secp384r1", 24, false},
	{"secp521r1", 25, false},
};

const struct tls_group *tls_group_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(tls_groups) / sizeof(tls_groups[0]); i++)
		if (strlen(tls_groups[i].name) == len && !strncasecmp(tls_groups[i].name, name, len))
			return &tls_groups[i];
	return NULL;
}

bool tls_group_is_pq(const char *name, size_t len)
{
	const struct tls_group *g = tls_group_find(name, len);
	return g && g->pq;
}

const char *tls_group_name(unsigned id)
{
	for (size_t i = 0; i < sizeof(tls_groups) / sizeof(tls_groups[0]); i++)
		if (tls_groups[i].id == id)
			return tls_groups[i].name;
	return "unknown";
}

const char *tls_groups_default(void)
{
	return tls_pq_available() ? "X25519MLKEM768, X25519, secp256r1" : "X25519, secp256r1, secp384r1";
}

int tls_groups_each(const char *groups, int (*fn)(void *ctx, const struct tls_group *g), void *ctx)
{
	const char *p = groups;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *b = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		if (p == b)
			break;
		const struct tls_group *g = tls_group_find(b, (size_t)(p - b));
		if (!g)
			return -ENOENT;
		int rv = fn(ctx, g);
		if (rv)
			return rv;
	}
	return 0;
}

struct check {
	unsigned n, n_pq;
	const struct tls_group *first_pq;
};

static int count(void *ctx, const struct tls_group *g)
{
	struct check *c = ctx;
	c->n++;
	if (g->pq) {
		c->n_pq++;
		if (!c->first_pq)
			c->first_pq = g;
	}
	return 0;
}

int tls_groups_check(const char *groups, enum tls_pq pq, char why[TLS_WHY_MAX])
{
	struct check c = {0};
	const char *list = groups ? groups : tls_groups_default();

	if (strlen(list) >= TLS_GROUPS_MAX_LEN) {
		snprintf(why, TLS_WHY_MAX, "more than %d characters of groups", TLS_GROUPS_MAX_LEN - 1);
		return -EINVAL;
	}
	if (tls_groups_each(list, count, &c) < 0) {
		snprintf(why, TLS_WHY_MAX, "unknown group in '%s' (known: X25519MLKEM768, "
		         "SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, X448, secp256r1, secp384r1, secp521r1)",
		         list);
		return -EINVAL;
	}
	if (!c.n) {
		snprintf(why, TLS_WHY_MAX, "no group named");
		return -EINVAL;
	}
	/* RFC-free rule of this build: a group the library cannot do is
	 * refused, never dropped, so the file says what is negotiated. */
	if (c.first_pq && !tls_pq_available()) {
		snprintf(why, TLS_WHY_MAX, "%s needs the OpenSSL >= 3.5 build; this build uses %s",
		         c.first_pq->name, tls_backend());
		return -EINVAL;
	}
	if (pq == TLS_PQ_REQUIRE && !tls_pq_available()) {
		snprintf(why, TLS_WHY_MAX, "pq = require needs the OpenSSL >= 3.5 build; this build uses %s",
		         tls_backend());
		return -EINVAL;
	}
	if (pq == TLS_PQ_REQUIRE && !c.n_pq) {
		snprintf(why, TLS_WHY_MAX, "pq = require needs a hybrid group (X25519MLKEM768) in groups");
		return -EINVAL;
	}
	/* pq = off with the default list: the hybrids are left out at use.
	 * With a list written out, naming a hybrid contradicts it. */
	if (pq == TLS_PQ_OFF && groups && c.n_pq) {
		snprintf(why, TLS_WHY_MAX, "pq = off, yet groups names %s", c.first_pq->name);
		return -EINVAL;
	}
	if (pq == TLS_PQ_OFF && c.n_pq == c.n) {
		snprintf(why, TLS_WHY_MAX, "pq = off leaves no group");
		return -EINVAL;
	}
	return 0;
}

/* What a session offers: the list without the hybrids when pq = off, only
 * the hybrids when pq = require (the client that has no share for one gets
 * a HelloRetryRequest naming it, RFC 8446 4.1.4, and a client that
 * supports none is refused: handshake_failure). */
bool tls_group_used(const struct tls_group *g, enum tls_pq pq)
{
	return pq == TLS_PQ_OFF ? !g->pq : pq == TLS_PQ_REQUIRE ? g->pq : true;
}

static const char *const gi_labels[TLS_GI_MAX] = {
	[TLS_GI_X25519MLKEM768] = "X25519MLKEM768", [TLS_GI_X25519] = "X25519",
	[TLS_GI_SECP256R1] = "secp256r1",           [TLS_GI_SECP384R1] = "secp384r1",
	[TLS_GI_SECP521R1] = "secp521r1",           [TLS_GI_X448] = "X448",
	[TLS_GI_OTHER] = "other",
};

enum tls_group_idx tls_group_index(const char *name)
{
	if (!name)
		return TLS_GI_OTHER;
	for (unsigned k = 0; k < TLS_GI_OTHER; k++)
		if (!strcasecmp(gi_labels[k], name))
			return (enum tls_group_idx)k;
	return TLS_GI_OTHER;
}

const char *tls_group_label(unsigned k)
{
	return k < TLS_GI_MAX ? gi_labels[k] : "other";
}
