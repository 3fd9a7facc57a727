/* The list of "FILE:LINE: message" strings: see config.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini/config.h"

void ini_diag_init(struct ini_diag *d)
{
	memset(d, 0, sizeof(*d));
}

void ini_diag_free(struct ini_diag *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	ini_diag_init(d);
}

unsigned ini_diag_count(const struct ini_diag *d)
{
	return d->n;
}

const char *ini_diag_get(const struct ini_diag *d, unsigned i)
{
	return i < d->n ? d->msgs[i] : NULL;
}

static int push(struct ini_diag *d, char *msg)
{
	if (d->n == d->cap) {
		unsigned cap = d->cap ? d->cap * 2 : 8;
		char **m = realloc(d->msgs, cap * sizeof(*m));
		if (!m) {
			free(msg);
			d->oom = true;
			return -ENOMEM;
		}
		d->msgs = m;
		d->cap = cap;
	}
	d->msgs[d->n++] = msg;
	return 0;
}

int ini_diag_append(struct ini_diag *d, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		d->oom = true;
		return -ENOMEM;
	}
	return push(d, msg);
}

int ini_diag_addf(struct ini_diag *d, const char *file, unsigned line, const char *fmt, ...)
{
	char *body, *msg;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (r < 0) {
		d->oom = true;
		return -ENOMEM;
	}
	r = asprintf(&msg, "%s:%u: %s", file, line, body);
	free(body);
	if (r < 0) {
		d->oom = true;
		return -ENOMEM;
	}
	return push(d, msg);
}

void ini_diag_print(const struct ini_diag *d, FILE *f)
{
	for (unsigned i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msgs[i]);
	if (d->oom)
		fprintf(f, "(more messages were lost: out of memory)\n");
}

char *ini_diag_join(const struct ini_diag *d)
{
	size_t len = 1;
	for (unsigned i = 0; i < d->n; i++)
		len += strlen(d->msgs[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (unsigned i = 0; i < d->n; i++) {
		size_t l = strlen(d->msgs[i]);
		memcpy(p, d->msgs[i], l);
		p[l] = '\n';
		p += l + 1;
	}
	*p = 0;
	return s;
}
