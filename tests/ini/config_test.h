/* What the configuration loader's tests share (test_config.c,
 * test_config_keys.c): the fixture directory and its files
 * (config_fixtures.c), and loading a text that must load. */
#ifndef RG_TESTS_INI_CONFIG_TEST_H
#define RG_TESTS_INI_CONFIG_TEST_H

#include <stdlib.h>

#include "ini/config.h"
#include "ini/value.h"
#include "tests/check.h"

extern char dir[128];
extern char keys[4][45]; /* @K0@..@K3@: base64 WireGuard keys */

void die(const char *what); /* a fixture could not be made: exit 99 */
void put(const char *name, const void *data, size_t len); /* a private (0600) file in dir */
void puts_file(const char *name, const char *text);
void fixture_path(char *path, size_t n, const char *name); /* dir/name */
void make_fixtures(void);
void remove_fixtures(void);
/* Replace @D@ by the fixture dir and @K0@..@K3@ by the keys. malloc'ed. */
char *subst(const char *t);

/* Load text (after subst) as t.ini; it must load. Returns the config. */
static inline struct rg_config *load_ok(const char *t, struct ini_diag *d)
{
	char *text = subst(t);
	struct rg_config *c = NULL;
	ini_diag_init(d);
	int r = ini_config_load_string("t.ini", text, &c, d);
	free(text);
	CHECK(r == 0 && c, "loads (r=%d): %s", r, t);
	if (r)
		ini_diag_print(d, stderr);
	return c;
}

#endif
