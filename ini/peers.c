/* The peers_file: one authorized peer a line, "<base64 public key>
 * <allowed-ips>", '#' to the end of a line is a comment. Not INI, so not
 * libinih: a line splitter of our own, the value parsers of value.c. It is
 * reread on every reload, so it has its own loader (and arena). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ini/internal.h"

#define PEERS_FILE_MAX (16u << 20)
#define PEERS_MAX 1000000u

static bool cidr_same(const struct rg_cidr *a, const struct rg_cidr *b)
{
	return a->family == b->family && a->prefix == b->prefix && !memcmp(a->addr, b->addr, 16);
}

/* One line, s..e, no newline, comment already cut. 1: a peer in *pe,
 * 0: blank, -EINVAL: reported, -ENOMEM. */
static int parse_line(struct ini_arena *a, const char *name, unsigned line, const char *s, const char *e,
                      struct rg_peer_entry *pe, struct ini_diag *diag)
{
	char key[64], item[128], why[INI_WHY_MAX];
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (s == e)
		return 0;
	const char *k = s;
	while (s < e && *s != ' ' && *s != '\t')
		s++;
	size_t klen = (size_t)(s - k);
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if (s == e) {
		ini_diag_addf(diag, name, line, "want '<public key> <allowed-ips>': allowed-ips missing");
		return -EINVAL;
	}
	if (klen >= sizeof(key)) {
		ini_diag_addf(diag, name, line, "public key: not a key: want 44 characters of base64");
		return -EINVAL;
	}
	memcpy(key, k, klen);
	key[klen] = 0;
	memset(pe, 0, sizeof(*pe));
	pe->line = line;
	if (ini_value_key(key, pe->public_key, why)) {
		ini_diag_addf(diag, name, line, "public key: %s", why);
		return -EINVAL;
	}

	size_t rlen = (size_t)(e - s);
	char *list = malloc(rlen + 1);
	if (!list)
		return -ENOMEM;
	memcpy(list, s, rlen);
	list[rlen] = 0;
	const char *cur = list;
	struct rg_cidr c;
	int r;
	while ((r = ini_value_list_next(&cur, item, sizeof(item), why)) > 0) {
		if (strpbrk(item, " \t")) {
			snprintf(why, sizeof(why), "'%.64s': allowed-ips are separated by ','", item);
			r = -EINVAL;
			break;
		}
		if ((r = ini_value_cidr(item, true, &c, why)))
			break;
		struct rg_cidr *ips = ini_arena_grow(a, pe->allowed_ips, pe->n_allowed_ips, sizeof(c));
		if (!ips) {
			r = -ENOMEM;
			break;
		}
		ips[pe->n_allowed_ips++] = c;
		pe->allowed_ips = ips;
	}
	free(list);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		ini_diag_addf(diag, name, line, "allowed-ips: %s", why);
		return -EINVAL;
	}
	return 1;
}

int ini_peers_parse(struct ini_arena *a, const char *name, const char *text, size_t len,
                    struct rg_peer_list *out, struct ini_diag *diag)
{
	const char *p = text, *end = text + len;
	unsigned line = 0, cap = 0;
	int errors = 0;
	char ip[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	out->path = name;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *hash = memchr(p, '#', (size_t)(e - p));
		const char *s = p;
		line++;
		p = nl ? nl + 1 : end;
		if (memchr(s, 0, (size_t)(e - s))) {
			ini_diag_addf(diag, name, line, "NUL byte in line");
			errors++;
			continue;
		}
		struct rg_peer_entry pe;
		int r = parse_line(a, name, line, s, hash ? hash : e, &pe, diag);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			errors++;
		if (r <= 0)
			continue;

		bool dup = false;
		for (unsigned i = 0; i < out->n && !dup; i++) {
			if (!memcmp(out->peers[i].public_key, pe.public_key, RG_KEY_LEN)) {
				ini_diag_addf(diag, name, line, "duplicate public key (first on line %u)", out->peers[i].line);
				dup = true;
			}
		}
		for (unsigned j = 0; j < pe.n_allowed_ips && !dup; j++) {
			for (unsigned i = 0; i < out->n && !dup; i++) {
				for (unsigned k = 0; k < out->peers[i].n_allowed_ips && !dup; k++) {
					if (cidr_same(&pe.allowed_ips[j], &out->peers[i].allowed_ips[k])) {
						inet_ntop(pe.allowed_ips[j].family, pe.allowed_ips[j].addr, ip, sizeof(ip));
						ini_diag_addf(diag, name, line, "allowed ip %s/%u already belongs to the peer "
						              "on line %u", ip, pe.allowed_ips[j].prefix, out->peers[i].line);
						dup = true;
					}
				}
			}
		}
		if (dup) {
			errors++;
			continue;
		}
		if (out->n == PEERS_MAX) {
			ini_diag_addf(diag, name, line, "too many peers (at most %u)", PEERS_MAX);
			return errors + 1;
		}
		if (out->n == cap) {
			/* Double rather than grow by one: files may hold many peers. */
			cap = cap ? cap * 2 : 16;
			struct rg_peer_entry *v = ini_arena_alloc(a, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			if (out->n)
				memcpy(v, out->peers, out->n * sizeof(*v));
			out->peers = v;
		}
		out->peers[out->n++] = pe;
	}
	return errors;
}

int ini_peers_load_string(const char *name, const char *text, struct rg_peer_list *out, struct ini_diag *diag)
{
	struct ini_diag local;
	struct ini_arena *a = ini_arena_new();
	int r;

	memset(out, 0, sizeof(*out));
	ini_diag_init(&local);
	if (!diag)
		diag = &local;
	const char *nm = a ? ini_arena_strdup(a, name) : NULL;
	if (!nm) {
		ini_arena_free(a);
		return -ENOMEM;
	}
	struct rg_peer_list l;
	r = ini_peers_parse(a, nm, text, strlen(text), &l, diag);
	if (r == 0 && diag->oom)
		r = -ENOMEM;
	if (r != 0) {
		ini_arena_free(a);
		ini_diag_free(&local);
		return r < 0 ? r : -EINVAL;
	}
	l.arena = a;
	*out = l;
	ini_diag_free(&local);
	return 0;
}

int ini_peers_load_file(const char *path, struct rg_peer_list *out, struct ini_diag *diag)
{
	char *text;
	size_t len;
	memset(out, 0, sizeof(*out));
	int r = ini_file_read(path, PEERS_FILE_MAX, &text, &len);
	if (r) {
		if (diag)
			ini_diag_addf(diag, path, 0, "cannot read: %s", ini_file_strerror(r));
		return r;
	}
	if (strlen(text) != len) {
		/* A NUL inside: let the line parser find and report it. */
		struct ini_diag local;
		ini_diag_init(&local);
		struct ini_arena *a = ini_arena_new();
		struct rg_peer_list l;
		r = a ? ini_peers_parse(a, path, text, len, &l, diag ? diag : &local) : -ENOMEM;
		ini_arena_free(a);
		ini_diag_free(&local);
		free(text);
		return r < 0 ? r : -EINVAL;
	}
	r = ini_peers_load_string(path, text, out, diag);
	free(text);
	return r;
}

void ini_peers_free(struct rg_peer_list *l)
{
	if (!l)
		return;
	ini_arena_free(l->arena);
	memset(l, 0, sizeof(*l));
}
