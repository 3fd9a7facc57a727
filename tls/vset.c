/* vset: the vhosts' credentials by SNI, backend-neutral (tls.h). The
 * backend loads and frees one credential (tls_backend_cred_*); the set,
 * its reference count and the SNI + listener match live here. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls/tls.h"

struct tls_vhost_set *tls_vset_get(struct tls_vhost_set *s)
{
	/* relaxed: taking a reference needs one already held */
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

unsigned tls_vset_count(const struct tls_vhost_set *s)
{
	return s->n;
}

const char *tls_vset_name(const struct tls_vhost_set *s, unsigned i)
{
	return i < s->n ? s->v[i].name : NULL;
}

const void *tls_vset_cred(const struct tls_vhost_set *s, unsigned i)
{
	return i < s->n ? s->v[i].cred : NULL;
}

const char *tls_vset_groups(const struct tls_vhost_set *s, unsigned i)
{
	return i < s->n ? s->v[i].groups : NULL;
}

int tls_vset_leaf_der(const struct tls_vhost_set *s, unsigned i, uint8_t **der, size_t *len)
{
	if (i >= s->n || !s->v[i].cred)
		return -ENOENT;
	return tls_backend_leaf_der(s->v[i].cred, der, len);
}

void tls_vset_put(struct tls_vhost_set *s)
{
	/* acq_rel: every use by another thread happens before the free */
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		if (s->v[i].cred)
			tls_backend_cred_free(s->v[i].cred);
		free(s->v[i].name);
		free(s->v[i].listen);
		free(s->v[i].groups);
		tls_backend_kx_free(s->v[i].kx);
	}
	free(s);
}

static int vhost_load(struct tls_vhost *v, const struct tls_vhost_params *vp)
{
	char why[TLS_WHY_MAX];

	if (!vp->name || !vp->cert_file || !vp->key_file)
		return -EINVAL;
	if (tls_groups_check(vp->groups, vp->pq, why) < 0)
		return -EINVAL;
	if (vp->client_auth > TLS_CLIENT_AUTH_REQUIRE || (vp->client_auth && !vp->client_ca))
		return -EINVAL;
	v->name = strdup(vp->name);
	v->groups = strdup(vp->groups ? vp->groups : tls_groups_default());
	if (!v->name || !v->groups)
		return -ENOMEM;
	v->pq = vp->pq;
	v->client_auth = vp->client_auth;
	if (vp->n_listen) {
		if (!vp->listen)
			return -EINVAL;
		v->listen = malloc(sizeof(*v->listen) * vp->n_listen);
		if (!v->listen)
			return -ENOMEM;
		memcpy(v->listen, vp->listen, sizeof(*v->listen) * vp->n_listen);
		v->n_listen = vp->n_listen;
	}
	int rv = tls_backend_kx_load(v);
	return rv ? rv : tls_backend_cred_load(vp, &v->cred);
}

int tls_vset_load(const struct tls_vhost_params *vp, unsigned n, struct tls_vhost_set **out)
{
	if (!n)
		return -EINVAL;
	struct tls_vhost_set *s = calloc(1, sizeof(*s) + n * sizeof(s->v[0]));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	int rv = 0;
	for (unsigned i = 0; i < n && !rv; i++) {
		s->n = i + 1; /* freed by put whatever was filled in */
		rv = vhost_load(&s->v[i], &vp[i]);
	}
	if (rv) {
		tls_vset_put(s);
		return rv;
	}
	*out = s;
	return 0;
}

/* Is `local` (where the client sent its first Initial) one of the
 * listeners v is bound to? The sockets are IPV6_V6ONLY, so the family
 * always matches the listener's; a wildcard entry (0.0.0.0, [::]) is the
 * wildcard listener, which receives for every local address. */
static bool vhost_bound(const struct tls_vhost *v, const rg_sockaddr *local)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (!v->n_listen)
		return true;
	for (unsigned i = 0; i < v->n_listen; i++) {
		const rg_sockaddr *l = &v->listen[i];

		if (l->sa.sa_family != local->sa.sa_family)
			continue;
		if (l->sa.sa_family == AF_INET && l->in4.sin_port == local->in4.sin_port &&
		    (l->in4.sin_addr.s_addr == htonl(INADDR_ANY) ||
		     l->in4.sin_addr.s_addr == local->in4.sin_addr.s_addr))
			return true;
		if (l->sa.sa_family == AF_INET6 && l->in6.sin6_port == local->in6.sin6_port &&
		    (!memcmp(&l->in6.sin6_addr, &any6, sizeof(any6)) ||
		     !memcmp(&l->in6.sin6_addr, &local->in6.sin6_addr, sizeof(any6))))
			return true;
	}
	return false;
}

/* name NULL: the client sent no SNI; the first vhost served on this
 * listener answers. A name served only on other listeners is unknown
 * here ([vhost] listen). */
const struct tls_vhost *tls_vset_find(const struct tls_vhost_set *set, const char *name,
                                      const rg_sockaddr *local)
{
	for (unsigned i = 0; i < set->n; i++)
		if ((!name || strcasecmp(set->v[i].name, name) == 0) && vhost_bound(&set->v[i], local))
			return &set->v[i];
	return NULL;
}
