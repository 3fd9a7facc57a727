/* The loader's public face: read, parse (load.c, schema.c), check
 * (check.c), and gather the sections into one immutable struct rg_config
 * living in one arena. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ini/internal.h"

#define CONFIG_FILE_MAX (4u << 20)

/* Copy every instance of `sec` into one contiguous array of objects. */
static int gather(struct ini_load *L, enum ini_sec_id sec, const void **arr, unsigned *n)
{
	size_t size = ini_schema[sec].size;
	unsigned count = 0;
	for (unsigned i = 0; i < L->n_insts; i++)
		count += L->insts[i]->sec == sec;
	*arr = NULL;
	*n = count;
	if (!count)
		return 0;
	char *v = ini_arena_alloc(L->arena, size * count);
	if (!v)
		return -ENOMEM;
	unsigned k = 0;
	for (unsigned i = 0; i < L->n_insts; i++)
		if (L->insts[i]->sec == sec)
			memcpy(v + size * k++, L->insts[i]->obj, size);
	*arr = v;
	return 0;
}

static int assemble(struct ini_load *L, struct rg_config **out)
{
	struct rg_config *c = ini_arena_alloc(L->arena, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->source = L->file;
	c->arena = L->arena;
	c->warnings = L->warns;
	c->n_warnings = L->n_warns;
	struct ini_inst *in = ini_load_find(L, INI_SEC_APPLIANCE);
	c->appliance = *(struct rg_appliance_cfg *)in->obj;
	in = ini_load_find(L, INI_SEC_QUIC);
	c->quic = in ? in->obj : NULL;
	in = ini_load_find(L, INI_SEC_TUNNEL);
	c->tunnel = in ? in->obj : NULL;
	in = ini_load_find(L, INI_SEC_TLS);
	c->tls = in ? in->obj : NULL;
	in = ini_load_find(L, INI_SEC_HTTPS);
	c->https = in ? in->obj : NULL;
	in = ini_load_find(L, INI_SEC_REDIRECT);
	c->redirect = in ? in->obj : NULL;
	if (gather(L, INI_SEC_VHOST, (const void **)&c->vhosts, &c->n_vhosts) ||
	    gather(L, INI_SEC_BACKEND, (const void **)&c->backends, &c->n_backends) ||
	    gather(L, INI_SEC_ROUTE, (const void **)&c->routes, &c->n_routes) ||
	    gather(L, INI_SEC_PEER, (const void **)&c->peers, &c->n_peers))
		return -ENOMEM;
	*out = c;
	return 0;
}

/* An absent [appliance] is all defaults. */
static int appliance_default(struct ini_load *L)
{
	if (ini_load_find(L, INI_SEC_APPLIANCE))
		return 0;
	struct ini_inst *in = ini_arena_alloc(L->arena, sizeof(*in));
	void *obj = ini_arena_alloc(L->arena, ini_schema[INI_SEC_APPLIANCE].size);
	if (!in || !obj)
		return -ENOMEM;
	in->sec = INI_SEC_APPLIANCE;
	in->obj = obj;
	struct ini_inst **v = realloc(L->insts, (L->n_insts + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memmove(v + 1, v, L->n_insts * sizeof(*v));
	v[0] = in;
	L->insts = v;
	L->n_insts++;
	L->cap_insts = L->n_insts;
	return 0;
}

/* The line of a message of file `file`, or UINT_MAX for other files
 * (a peers_file's messages go after the config's own). */
static unsigned msg_line(const char *msg, const char *file)
{
	size_t n = strlen(file);
	if (strncmp(msg, file, n) || msg[n] != ':')
		return UINT_MAX;
	return (unsigned)strtoul(msg + n + 1, NULL, 10);
}

/* Parse errors are found before cross-check errors; show them all in
 * file order. Insertion sort: stable, and lists are short. */
static void sort_messages(struct ini_diag *d, unsigned from, const char *file)
{
	for (unsigned i = from + 1; i < d->n; i++) {
		char *m = d->msgs[i];
		unsigned line = msg_line(m, file), j = i;
		while (j > from && msg_line(d->msgs[j - 1], file) > line) {
			d->msgs[j] = d->msgs[j - 1];
			j--;
		}
		d->msgs[j] = m;
	}
}

static int load(const char *name, const char *text, size_t len, struct rg_config **out, struct ini_diag *diag)
{
	struct ini_diag local;
	struct ini_load L;
	int r;

	ini_diag_init(&local);
	memset(&L, 0, sizeof(L));
	L.diag = diag ? diag : &local;
	unsigned first_msg = L.diag->n;
	L.arena = ini_arena_new();
	if (!L.arena || !(L.file = ini_arena_strdup(L.arena, name))) {
		r = -ENOMEM;
		goto out;
	}
	r = ini_load_parse(&L, text, len);
	if (!r)
		r = appliance_default(&L);
	if (r)
		goto out;
	for (unsigned i = 0; i < L.n_insts; i++)
		ini_schema_finish(&L, L.insts[i]);
	ini_check_all(&L);
	sort_messages(L.diag, first_msg, L.file);
	r = L.oom;
	if (!r && L.errors)
		r = -EINVAL;
	if (!r)
		r = assemble(&L, out);
	if (!r)
		L.arena = NULL; /* now the config's */
out:
	if (r == -ENOMEM && L.diag)
		ini_diag_addf(L.diag, name, 0, "out of memory");
	free(L.insts);
	ini_arena_free(L.arena);
	ini_diag_free(&local);
	return r;
}

int ini_config_load_string(const char *name, const char *text, struct rg_config **out, struct ini_diag *diag)
{
	return load(name, text, strlen(text), out, diag);
}

int ini_config_load_file(const char *path, struct rg_config **out, struct ini_diag *diag)
{
	char *text;
	size_t len;
	int r = ini_file_read(path, CONFIG_FILE_MAX, &text, &len);
	if (r) {
		if (diag)
			ini_diag_addf(diag, path, 0, "cannot read: %s", ini_file_strerror(r));
		return r;
	}
	r = load(path, text, len, out, diag);
	free(text);
	return r;
}

void ini_config_free(struct rg_config *c)
{
	if (c)
		ini_arena_free(c->arena); /* c itself lives in the arena */
}

int ini_config_backend_find(const struct rg_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_backends; i++)
		if (!strcmp(c->backends[i].name, name))
			return (int)i;
	return -ENOENT;
}

const char *ini_lb_algorithm_name(enum rg_lb_algorithm a)
{
	switch (a) {
	case RG_LB_LEAST_CONNECTIONS: return "least_connections";
	case RG_LB_ROUND_ROBIN: return "round_robin";
	case RG_LB_WEIGHTED_ROUND_ROBIN: return "weighted_round_robin";
	case RG_LB_RANDOM: return "random";
	case RG_LB_IP_HASH: return "ip_hash";
	case RG_LB_LEAST_RESPONSE_TIME: return "least_response_time";
	}
	return "?";
}

const char *ini_log_level_name(enum rg_cfg_log_level l)
{
	switch (l) {
	case RG_CFG_LOG_ERROR: return "error";
	case RG_CFG_LOG_WARN: return "warn";
	case RG_CFG_LOG_INFO: return "info";
	case RG_CFG_LOG_DEBUG: return "debug";
	}
	return "?";
}

const char *ini_quic_retry_name(enum rg_quic_retry r)
{
	switch (r) {
	case RG_QUIC_RETRY_AUTO: return "auto";
	case RG_QUIC_RETRY_ON: return "on";
	case RG_QUIC_RETRY_OFF: return "off";
	}
	return "?";
}

const char *ini_tls_pq_name(enum rg_tls_pq p)
{
	switch (p) {
	case RG_TLS_PQ_PREFER: return "prefer";
	case RG_TLS_PQ_REQUIRE: return "require";
	case RG_TLS_PQ_OFF: return "off";
	case RG_TLS_PQ_UNSET: break;
	}
	return "(from [tls])";
}
