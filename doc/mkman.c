/* mkman: writes ringgate's man pages at build time.
 *
 *   mkman page TEMPLATE OUT KEYS|- [NAME=VALUE]...
 *       copy TEMPLATE to OUT, replacing each @NAME@ with VALUE and, when
 *       KEYS (the descriptions file, doc/ringgate.ini.keys) is given, a line
 *       "@KEYS@" with one subsection per configuration section and one
 *       entry per key; an @NAME@ left unreplaced is an error
 *   mkman keys KEYS
 *       print every key as "[section] key = default", from the same two
 *       sources (the list INTERFACE.md's configuration block is checked
 *       against)
 *
 * Type, default, range, allowed words, "required" and "repeatable" come
 * from the schema table (ini/schema.c), the prose from KEYS. A schema key
 * without a description, a description naming no schema key, or a schema
 * section without an introduction is an error: the build stops, so the page
 * and the parser cannot drift. This is the only reader of the table outside
 * ini/, hence ini/internal.h.
 *
 * Output is man(7) troff; user text is escaped so that it cannot issue
 * requests (groff_man(7): a line starting with '.' or '\'' is a request). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini/internal.h"

#define MAX_TEXT 8192

struct desc {
	unsigned line; /* in KEYS, for messages */
	bool used;
	char text[MAX_TEXT];
};

struct descs {
	const char *path;
	struct desc sec[INI_SEC_MAX];
	struct desc key[INI_SEC_MAX][INI_MAX_KEYS];
	unsigned errors;
};

static void err_at(struct descs *d, unsigned line, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s:%u: ", d->path, line);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	d->errors++;
}

static int sec_find(const char *name)
{
	for (int i = 0; i < INI_SEC_MAX; i++)
		if (!strcmp(ini_schema[i].name, name))
			return i;
	return -1;
}

static int key_find(int sec, const char *name)
{
	for (unsigned i = 0; i < ini_schema[sec].n_keys; i++)
		if (!strcmp(ini_schema[sec].keys[i].name, name))
			return (int)i;
	return -1;
}

static void append(struct descs *d, struct desc *to, const char *line, unsigned ln)
{
	size_t have = strlen(to->text), add = strlen(line);
	if (have + add + 2 > sizeof(to->text)) {
		err_at(d, ln, "%s%s", "description too long", "");
		return;
	}
	memcpy(to->text + have, line, add);
	to->text[have + add] = '\n';
	to->text[have + add + 1] = 0;
}

/* Read KEYS into d. 0, or -errno when the file cannot be read; format and
 * coverage problems are counted in d->errors (each printed as FILE:LINE). */
static int descs_load(struct descs *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char buf[1024];
	unsigned ln = 0;
	int sec = -1;
	struct desc *cur = NULL;
	while (fgets(buf, sizeof(buf), f)) {
		ln++;
		buf[strcspn(buf, "\n")] = 0;
		if (buf[0] == '#')
			continue;
		if (!strncmp(buf, "@section ", 9)) {
			sec = sec_find(buf + 9);
			cur = NULL;
			if (sec < 0)
				err_at(d, ln, "no section [%s] in ini/schema.c%s", buf + 9, "");
			else if (d->sec[sec].line)
				err_at(d, ln, "section [%s] described twice%s", buf + 9, "");
			else
				cur = &d->sec[sec];
			if (cur)
				cur->line = ln;
			continue;
		}
		if (!strncmp(buf, "@key ", 5)) {
			cur = NULL;
			int k = sec < 0 ? -1 : key_find(sec, buf + 5);
			if (sec < 0)
				err_at(d, ln, "key %s before any known @section%s", buf + 5, "");
			else if (k < 0)
				err_at(d, ln, "no key '%s' in [%s] of ini/schema.c", buf + 5, ini_schema[sec].name);
			else if (d->key[sec][k].line)
				err_at(d, ln, "key '%s' of [%s] described twice", buf + 5, ini_schema[sec].name);
			else
				cur = &d->key[sec][k];
			if (cur)
				cur->line = ln;
			continue;
		}
		if (buf[0] == '@') {
			err_at(d, ln, "unknown directive '%s' (@section, @key)%s", buf, "");
			continue;
		}
		if (cur)
			append(d, cur, buf, ln);
		else if (buf[0])
			err_at(d, ln, "text outside any @section or @key%s%s", "", "");
	}
	int r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (r)
		return r;
	for (int s = 0; s < INI_SEC_MAX; s++) {
		if (!d->sec[s].line)
			err_at(d, ln, "section [%s] of ini/schema.c has no @section block%s", ini_schema[s].name, "");
		for (unsigned k = 0; k < ini_schema[s].n_keys; k++)
			if (!d->key[s][k].line)
				err_at(d, ln, "key '%s' of [%s] in ini/schema.c has no @key block: describe it",
				       ini_schema[s].keys[k].name, ini_schema[s].name);
	}
	return 0;
}

/* ---- troff output ------------------------------------------------------ */

/* One line of user text, escaped. */
static void put_text_line(FILE *o, const char *s, size_t n)
{
	if (n && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", o);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", o);
		else if (s[i] == '-')
			fputs("\\-", o);
		else
			fputc(s[i], o);
	}
	fputc('\n', o);
}

/* Paragraphs of text; `para` is the request between paragraphs. */
static void put_text(FILE *o, const char *text, const char *para)
{
	bool pending = false, any = false;
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n == 0) {
			pending = any;
		} else {
			if (pending)
				fprintf(o, "%s\n", para);
			pending = false;
			any = true;
			put_text_line(o, p, n);
		}
		p += n + (p[n] == '\n');
	}
}

static void put_word(FILE *o, const char *font, const char *s)
{
	fprintf(o, "\\f%s", font);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", o);
		else if (*s == '-')
			fputs("\\-", o);
		else
			fputc(*s, o);
	}
	fputs("\\fR", o);
}

static const char *type_word(enum ini_vtype t)
{
	/* No default: a new type must be named here (-Wswitch). */
	switch (t) {
	case INI_T_BOOL: return "boolean";
	case INI_T_UINT: return "number";
	case INI_T_SECONDS: return "seconds";
	case INI_T_DURATION: return "duration";
	case INI_T_SIZE: return "size";
	case INI_T_WORKERS: return "number|auto";
	case INI_T_STRING: return "string";
	case INI_T_PATH: return "file";
	case INI_T_HOST: return "host";
	case INI_T_ADDR: return "address:port";
	case INI_T_ADDR_LIST: return "listen-list";
	case INI_T_CIDR_LIST: return "prefix-list";
	case INI_T_CPUSET: return "cpu-list";
	case INI_T_KEY: return "base64-key";
	case INI_T_ENUM: return "word";
	case INI_T_STRING_LIST: return "list";
	case INI_T_SERVER: return "server";
	case INI_T_ENDPOINT: return "host:port";
	}
	return "value";
}

static void fmt_ms(char *buf, size_t n, uint64_t ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} u[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
	for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (ms && ms % u[i].ms == 0) {
			snprintf(buf, n, "%" PRIu64 "%s", ms / u[i].ms, u[i].unit);
			return;
		}
	}
	snprintf(buf, n, "%" PRIu64 "ms", ms);
}

/* The facts the schema row states: default, range, words, flags. */
static void put_facts(FILE *o, const struct ini_key *k)
{
	char a[32], b[32];
	fputs(".IP\n", o);
	if (k->flags & INI_F_REQUIRED)
		fputs("Required.", o);
	else if (k->def) {
		fputs("Default: ", o);
		put_word(o, "B", k->def);
		fputs(".", o);
	} else {
		fputs("Default: empty (unset).", o);
	}
	if (k->flags & INI_F_REPEAT)
		fputs(" May be given more than once.", o);
	switch (k->type) {
	case INI_T_UINT:
	case INI_T_WORKERS:
		fprintf(o, " Range: %" PRIu64 " to %" PRIu64 ".", k->min, k->max);
		break;
	case INI_T_SECONDS:
		fprintf(o, " Range: %" PRIu64 " to %" PRIu64 " seconds.", k->min, k->max);
		break;
	case INI_T_DURATION:
		fmt_ms(a, sizeof(a), k->min);
		fmt_ms(b, sizeof(b), k->max);
		fprintf(o, " Range: %s to %s.", a, b);
		break;
	case INI_T_SIZE:
		fprintf(o, " Range: %" PRIu64 " to %" PRIu64 " bytes.", k->min, k->max);
		break;
	case INI_T_BOOL:
		fputs(" On or off (also yes/no, true/false).", o);
		break;
	case INI_T_ENUM:
		fputs(" One of:", o);
		for (const struct ini_enum_name *e = k->names; e && e->name; e++) {
			fputs(e == k->names ? " " : ", ", o);
			put_word(o, "B", e->name);
		}
		fputs(".", o);
		break;
	default:
		break;
	}
	fputc('\n', o);
}

static void put_keys(FILE *o, const struct descs *d)
{
	for (int s = 0; s < INI_SEC_MAX; s++) {
		const struct ini_section *sec = &ini_schema[s];
		fprintf(o, ".SS [%s%s]\n", sec->name, sec->named ? " \\fINAME\\fP" : "");
		put_text(o, d->sec[s].text, ".PP");
		for (unsigned i = 0; i < sec->n_keys; i++) {
			const struct ini_key *k = &sec->keys[i];
			fputs(".TP\n", o);
			put_word(o, "B", k->name);
			fputs(" = ", o);
			put_word(o, "I", type_word(k->type));
			fputc('\n', o);
			put_text(o, d->key[s][i].text, ".IP");
			put_facts(o, k);
		}
	}
}

/* Write line `buf` with every @NAME@ of vars replaced. -EINVAL when an
 * @WORD@ with no value remains (a typo in a template must not reach a page). */
static int put_subst(FILE *o, const char *buf, char **vars, int n_vars)
{
	for (const char *p = buf; *p;) {
		const char *at = strchr(p, '@');
		const char *end = at ? strchr(at + 1, '@') : NULL;
		if (!at || !end) {
			fputs(p, o);
			return 0;
		}
		fwrite(p, 1, (size_t)(at - p), o);
		size_t n = (size_t)(end - at - 1);
		int i;
		for (i = 0; i < n_vars; i++)
			if (!strncmp(vars[i], at + 1, n) && vars[i][n] == '=')
				break;
		if (i < n_vars) {
			fputs(vars[i] + n + 1, o);
			p = end + 1;
			continue;
		}
		bool word = n > 0;
		for (size_t j = 0; j < n; j++)
			word = word && ((at[1 + j] >= 'A' && at[1 + j] <= 'Z') || at[1 + j] == '_');
		if (word) {
			fprintf(stderr, "mkman: no value for @%.*s@\n", (int)n, at + 1);
			return -EINVAL;
		}
		fputc('@', o); /* a lone '@' in text */
		p = at + 1;
	}
	return 0;
}

static int cmd_page(const char *tmpl, const char *out, const char *keys, char **vars, int n_vars)
{
	static struct descs d;
	if (keys) {
		int r = descs_load(&d, keys);
		if (r) {
			fprintf(stderr, "mkman: %s: %s\n", keys, strerror(-r));
			return 1;
		}
		if (d.errors)
			return 1;
	}
	FILE *in = fopen(tmpl, "r");
	if (!in) {
		fprintf(stderr, "mkman: %s: %s\n", tmpl, strerror(errno));
		return 1;
	}
	FILE *o = fopen(out, "w");
	if (!o) {
		fprintf(stderr, "mkman: %s: %s\n", out, strerror(errno));
		fclose(in);
		return 1;
	}
	char buf[1024];
	bool placed = false;
	while (fgets(buf, sizeof(buf), in)) {
		if (!strcmp(buf, "@KEYS@\n")) {
			if (!keys) {
				fprintf(stderr, "mkman: %s has @KEYS@ but no KEYS file was given\n", tmpl);
				goto fail;
			}
			put_keys(o, &d);
			placed = true;
			continue;
		}
		if (put_subst(o, buf, vars, n_vars))
			goto fail;
	}
	if (keys && !placed) {
		fprintf(stderr, "mkman: %s has no @KEYS@ line\n", tmpl);
		goto fail;
	}
	fclose(in);
	if (fclose(o)) {
		fprintf(stderr, "mkman: %s: %s\n", out, strerror(errno));
		remove(out);
		return 1;
	}
	return 0;
fail:
	fclose(in);
	fclose(o);
	remove(out);
	return 1;
}

static int cmd_keys(const char *keys)
{
	static struct descs d;
	int r = descs_load(&d, keys);
	if (r) {
		fprintf(stderr, "mkman: %s: %s\n", keys, strerror(-r));
		return 1;
	}
	if (d.errors)
		return 1;
	for (int s = 0; s < INI_SEC_MAX; s++)
		for (unsigned i = 0; i < ini_schema[s].n_keys; i++) {
			const struct ini_key *k = &ini_schema[s].keys[i];
			printf("[%s] %s = %s\n", ini_schema[s].name, k->name, k->def ? k->def : "");
		}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "page"))
		return cmd_page(argv[2], argv[3], strcmp(argv[4], "-") ? argv[4] : NULL, argv + 5, argc - 5);
	if (argc == 3 && !strcmp(argv[1], "keys"))
		return cmd_keys(argv[2]);
	fprintf(stderr, "usage: mkman page TEMPLATE OUT KEYS|- [NAME=VALUE]...\n"
	                "       mkman keys KEYS\n");
	return 2;
}
