/* Driving libinih over a configuration text and collecting its sections.
 *
 * Why a reader of our own (ini_parse_stream) instead of ini_parse_string:
 * Debian's libinih is built without INI_HANDLER_LINENO, so the handler is
 * not told the line, and it reports only the FIRST syntax error's line.
 * libinih calls the reader exactly once per line it counts and calls the
 * handler for a line before reading the next, so a reader that hands over
 * one line at a time knows the line of every callback. The reader also:
 *   - sees section headers, so empty sections ([quic] with all defaults)
 *     and repeated headers are noticed (the handler only sees keys);
 *   - reports every malformed line (libinih would keep only the first);
 *   - strips leading whitespace, which turns off libinih's multi-line
 *     continuation values (an indented line would otherwise be appended to
 *     the previous key), without touching libinih's process-wide knobs;
 *   - refuses lines longer than libinih's buffer instead of letting it
 *     split them into two lines.
 * libinih keeps doing what it is for: splitting name and value, trimming,
 * and inline ';' comments. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "ini/internal.h"

void ini_load_error(struct ini_load *L, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	L->errors++;
	if (ini_diag_addf(L->diag, L->file, line, "%s", msg))
		L->oom = -ENOMEM;
}

void ini_load_warn(struct ini_load *L, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ini_diag_addf(L->diag, L->file, line, "warning: %s", msg)) {
		L->oom = -ENOMEM;
		return;
	}
	const char *w = ini_arena_strdup(L->arena, ini_diag_get(L->diag, ini_diag_count(L->diag) - 1));
	const char **v = w ? ini_arena_grow(L->arena, L->warns, L->n_warns, sizeof(*v)) : NULL;
	if (!v) {
		L->oom = -ENOMEM;
		return;
	}
	v[L->n_warns++] = w;
	L->warns = v;
}

struct ini_inst *ini_load_find(const struct ini_load *L, enum ini_sec_id sec)
{
	for (unsigned i = 0; i < L->n_insts; i++)
		if (L->insts[i]->sec == sec)
			return L->insts[i];
	return NULL;
}

/* libinih's rule for where a value or header ends: at any of `chars`, or
 * at an inline ';' comment (a ';' after whitespace). */
static const char *find_end(const char *s, const char *e, const char *chars)
{
	bool was_space = false;
	for (; s < e; s++) {
		if (strchr(chars, *s) || (was_space && *s == ';'))
			return s;
		was_space = *s == ' ' || *s == '\t' || *s == '\r';
	}
	return e;
}

static int inst_add(struct ini_load *L, struct ini_inst *in)
{
	if (L->n_insts == L->cap_insts) {
		unsigned cap = L->cap_insts ? L->cap_insts * 2 : 16;
		struct ini_inst **v = realloc(L->insts, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		L->insts = v;
		L->cap_insts = cap;
	}
	L->insts[L->n_insts++] = in;
	return 0;
}

/* A header line: s..e is what is between '[' and ']'. */
static void section_begin(struct ini_load *L, const char *s, const char *e, unsigned line)
{
	char kind[32], name[256], why[INI_WHY_MAX];
	L->cur = NULL;
	L->in_section = true;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	const char *k_end = s;
	while (k_end < e && *k_end != ' ' && *k_end != '\t')
		k_end++;
	const char *n = k_end;
	while (n < e && (*n == ' ' || *n == '\t'))
		n++;
	size_t klen = (size_t)(k_end - s), nlen = (size_t)(e - n);
	if (klen == 0) {
		ini_load_error(L, line, "empty section header []");
		return;
	}
	snprintf(kind, sizeof(kind), "%.*s", (int)(klen < 31 ? klen : 31), s);
	if (nlen >= sizeof(name)) {
		ini_load_error(L, line, "section name too long");
		return;
	}
	memcpy(name, n, nlen);
	name[nlen] = 0;

	enum ini_sec_id id;
	for (id = 0; id < INI_SEC_MAX; id++)
		if (strlen(ini_schema[id].name) == klen && !memcmp(ini_schema[id].name, s, klen))
			break;
	if (id == INI_SEC_MAX) {
		ini_load_error(L, line,
		               "unknown section [%s] (known: appliance, quic, vhost NAME, backend NAME, "
		               "route NAME, tunnel, peer NAME, https, redirect)", kind);
		return;
	}
	const struct ini_section *sec = &ini_schema[id];
	if (sec->named && !nlen) {
		ini_load_error(L, line, "[%s] needs a name: [%s NAME]", kind, kind);
		return;
	}
	if (!sec->named && nlen) {
		ini_load_error(L, line, "[%s] takes no name (found '%.64s')", kind, name);
		return;
	}
	if (nlen) {
		int bad = sec->hostname_name ? ini_value_hostname(name, true, why) : ini_schema_check_name(name, why);
		if (!bad && strpbrk(name, " \t"))
			bad = snprintf(why, sizeof(why), "a name has no spaces");
		if (bad) {
			ini_load_error(L, line, "[%s %.64s]: %s", kind, name, why);
			return;
		}
	}
	for (unsigned i = 0; i < L->n_insts; i++) {
		struct ini_inst *o = L->insts[i];
		if (o->sec != id)
			continue;
		if (!sec->named) {
			ini_load_error(L, line, "duplicate section [%s] (first on line %u)", kind, o->line);
			return;
		}
		if (!strcmp(o->name, name)) {
			ini_load_error(L, line, "duplicate section [%s %s] (first on line %u)", kind, name, o->line);
			return;
		}
	}

	struct ini_inst *in = ini_arena_alloc(L->arena, sizeof(*in));
	void *obj = ini_arena_alloc(L->arena, sec->size);
	char *nm = nlen ? ini_arena_strdup(L->arena, name) : NULL;
	if (!in || !obj || (nlen && !nm) || inst_add(L, in)) {
		L->oom = -ENOMEM;
		return;
	}
	in->sec = id;
	in->obj = obj;
	in->name = nm;
	in->line = line;
	if (sec->named)
		*(const char **)(void *)((char *)obj + sec->name_off) = nm;
	if (sec->line_off != (size_t)-1)
		*(unsigned *)(void *)((char *)obj + sec->line_off) = line;
	L->cur = in;
}

/* The line before this one was a key line: did libinih take it? (It
 * always does when it has a '=' before any comment; this is the guard
 * that keeps our line count honest if that ever changes.) */
static void check_kv_taken(struct ini_load *L)
{
	if (L->expect_kv && L->kv_line != L->lineno)
		ini_load_error(L, L->lineno, "expected KEY = VALUE");
	L->expect_kv = false;
}

/* Classify one line (already without leading whitespace and newline)
 * and return what libinih should see: the line itself, or "" when we
 * have dealt with it (an error, or a header we rejected). */
static bool line_keep(struct ini_load *L, const char *s, const char *e)
{
	if (s == e || *s == ';' || *s == '#' || *s == '\r')
		return true;
	if (*s == '[') {
		const char *close = find_end(s + 1, e, "]");
		if (close == e || *close != ']') {
			ini_load_error(L, L->lineno, "section header without ']'");
			L->cur = NULL;
			L->in_section = true;
			return false;
		}
		const char *rest = close + 1;
		while (rest < e && (*rest == ' ' || *rest == '\t' || *rest == '\r'))
			rest++;
		if (rest < e && *rest != ';' && *rest != '#') {
			ini_load_error(L, L->lineno, "text after section header ']'");
			L->cur = NULL;
			L->in_section = true;
			return false;
		}
		section_begin(L, s + 1, close, L->lineno);
		return true;
	}
	const char *sep = find_end(s, e, "=:");
	if (sep == e || *sep != '=') {
		ini_load_error(L, L->lineno, "expected KEY = VALUE");
		return false;
	}
	if (sep == s) {
		ini_load_error(L, L->lineno, "missing key name before '='");
		return false;
	}
	L->expect_kv = true;
	return true;
}

/* fgets-style reader for ini_parse_stream: exactly one line per call. */
static char *reader(char *buf, int num, void *user)
{
	struct ini_load *L = user;
	check_kv_taken(L);
	if (L->pos >= L->end)
		return NULL;
	const char *s = L->pos;
	const char *nl = memchr(s, '\n', (size_t)(L->end - s));
	const char *e = nl ? nl : L->end;
	L->pos = nl ? nl + 1 : L->end;
	L->lineno++;

	if (L->lineno == 1 && e - s >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3; /* UTF-8 byte order mark */
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;

	bool keep;
	if (memchr(s, 0, (size_t)(e - s))) {
		ini_load_error(L, L->lineno, "NUL byte in line");
		keep = false;
	} else if (e - s > num - 3) {
		/* libinih needs room for "\r\n\0". */
		ini_load_error(L, L->lineno, "line too long (more than %d characters)", num - 3);
		keep = false;
	} else {
		keep = line_keep(L, s, e);
	}
	size_t n = keep ? (size_t)(e - s) : 0;
	memcpy(buf, s, n);
	buf[n] = '\n';
	buf[n + 1] = 0;
	return buf;
}

static int on_kv(void *user, const char *section, const char *name, const char *value)
{
	struct ini_load *L = user;
	(void)section; /* we follow sections ourselves: see section_begin() */
	L->kv_line = L->lineno;
	if (!L->in_section) {
		ini_load_error(L, L->lineno, "key '%.64s' outside any section", name);
		return 1;
	}
	if (L->cur)
		ini_schema_set(L, L->cur, name, value ? value : "", L->lineno);
	/* Always "success": errors are ours to collect, all of them. */
	return 1;
}

int ini_load_parse(struct ini_load *L, const char *text, size_t len)
{
	L->pos = text;
	L->end = text + len;
	L->lineno = 0;
	L->cur = NULL;
	L->in_section = false;
	int r = ini_parse_stream(reader, L, on_kv, L);
	if (r == -2)
		return -ENOMEM;
	/* r > 0 is the first line libinih disliked: the reader has already
	 * reported every such line. */
	return L->oom;
}
