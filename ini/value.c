/* Value parsers of the configuration file: see value.h. Written by hand
 * because libinih hands over strings only; base64 decoding is gnutls'. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/gnutls.h>

#include "ini/value.h"

#define WHY(...) (snprintf(why, INI_WHY_MAX, __VA_ARGS__), -EINVAL)

/* Leading decimal digits of s into *v (overflow-checked); returns the
 * number of digits, or -1 on overflow. *v is written on every path
 * (UINT64_MAX on overflow), so no caller can read it unset: gcc 12 at -O3
 * cannot prove the callers' checks cover the -1 path and warns
 * -Wmaybe-uninitialized otherwise. */
static int digits(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;
	for (; isdigit((unsigned char)s[n]); n++) {
		unsigned d = (unsigned)(s[n] - '0');
		if (x > (UINT64_MAX - d) / 10) {
			*v = UINT64_MAX;
			return -1;
		}
		x = x * 10 + d;
	}
	*v = x;
	return n;
}

int ini_value_bool(const char *s, bool *out, char *why)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	for (unsigned i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return WHY("not a boolean (on/off, yes/no, true/false)");
}

int ini_value_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why)
{
	uint64_t v;
	int n = digits(s, &v);
	if (n < 0)
		return WHY("number too large (at most %llu)", (unsigned long long)max);
	if (n == 0 || s[n])
		return WHY("not a whole number");
	if (v < min || v > max)
		return WHY("out of range %llu..%llu", (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

static int mul(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b && a > UINT64_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

int ini_value_duration(const char *s, uint64_t *ms, char *why)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	uint64_t v;
	int n = digits(s, &v);
	if (n < 0)
		return WHY("duration too large");
	if (n == 0)
		return WHY("not a duration (a number and a unit: 250ms, 10s, 5m, 1h)");
	if (!s[n]) {
		if (v == 0) {
			*ms = 0;
			return 0;
		}
		return WHY("duration needs a unit (ms, s, m, h): e.g. %llus", (unsigned long long)v);
	}
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(s + n, units[i].unit)) {
			if (mul(v, units[i].ms, ms))
				return WHY("duration too large");
			return 0;
		}
	}
	return WHY("unknown duration unit '%.16s' (ms, s, m, h, d)", s + n);
}

int ini_value_size(const char *s, uint64_t *bytes, char *why)
{
	uint64_t v;
	int n = digits(s, &v);
	if (n < 0)
		return WHY("size too large");
	if (n == 0)
		return WHY("not a size (a number and a unit: 64k, 10m, 1g)");
	const char *u = s + n;
	unsigned shift = 0;
	switch (tolower((unsigned char)*u)) {
	case 0:
		break;
	case 'b':
		if (u[1])
			return WHY("unknown size unit '%.16s' (k, m, g, t)", u);
		break;
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	default:
		return WHY("unknown size unit '%.16s' (k, m, g, t)", u);
	}
	if (shift) {
		u++;
		if (*u == 'b' || *u == 'B')
			u++;
		if (*u)
			return WHY("unknown size unit '%.16s' (k, m, g, t)", s + n);
	}
	if (mul(v, (uint64_t)1 << shift, bytes))
		return WHY("size too large");
	return 0;
}

int ini_value_port(const char *s, uint16_t *port, char *why)
{
	uint64_t v = 0;
	int n = digits(s, &v);
	/* n < 0 first: digits() stopped inside an over-long number, so s[n]
	 * would be s[-1], before the string. */
	if (n < 0)
		return WHY("port out of range 1..65535");
	if (n == 0 || s[n])
		return WHY("missing or bad port after ':' (1..65535)");
	if (v < 1 || v > 65535)
		return WHY("port out of range 1..65535");
	*port = (uint16_t)v;
	return 0;
}

static bool ifname_ok(const char *s, size_t n)
{
	if (n == 0 || n >= IF_NAMESIZE)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* What the kernel's dev_valid_name() refuses, plus ':' (our separator). */
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':')
			return false;
	}
	return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

int ini_value_addr(const char *s, bool allow_iface, struct rg_cfg_addr *out, char *why)
{
	struct rg_cfg_addr a;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	memset(&a, 0, sizeof(a));

	if (!strncmp(s, "iface", 5) && (s[5] == ' ' || s[5] == '\t')) {
		if (!allow_iface)
			return WHY("an interface listener is not allowed here: want ADDRESS:PORT");
		const char *name = s + 5;
		while (*name == ' ' || *name == '\t')
			name++;
		colon = strrchr(name, ':');
		if (!colon)
			return WHY("want iface NAME:PORT");
		if (!ifname_ok(name, (size_t)(colon - name)))
			return WHY("bad interface name (1..%d characters, no spaces, '/' or ':')",
			           IF_NAMESIZE - 1);
		if (ini_value_port(colon + 1, &a.port, why))
			return -EINVAL;
		a.kind = RG_CFG_ADDR_IFACE;
		memcpy(a.iface, name, (size_t)(colon - name));
		*out = a;
		return 0;
	}

	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end)
			return WHY("missing ']' after IPv6 address");
		size_t n = (size_t)(end - s - 1);
		if (memchr(s + 1, '%', n))
			return WHY("IPv6 zone ids ('%%') are not supported");
		if (n >= sizeof(host))
			return WHY("bad IPv6 address");
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (inet_pton(AF_INET6, host, &a.sa.in6.sin6_addr) != 1)
			return WHY("bad IPv6 address '%s'", host);
		if (end[1] != ':')
			return WHY("want [IPV6]:PORT");
		if (ini_value_port(end + 2, &a.port, why))
			return -EINVAL;
		a.sa.in6.sin6_family = AF_INET6;
		a.sa.in6.sin6_port = htons(a.port);
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return WHY("want ADDRESS:PORT (e.g. 0.0.0.0:443 or [::]:443)");
		if (strchr(colon + 1, ':'))
			return WHY("IPv6 addresses need brackets: [::1]:443");
		size_t n = (size_t)(colon - s);
		if (n >= sizeof(host) || n == 0)
			return WHY("bad IPv4 address");
		memcpy(host, s, n);
		host[n] = 0;
		if (inet_pton(AF_INET, host, &a.sa.in4.sin_addr) != 1)
			return WHY("bad IPv4 address '%s' (host names are not allowed here)", host);
		if (ini_value_port(colon + 1, &a.port, why))
			return -EINVAL;
		a.sa.in4.sin_family = AF_INET;
		a.sa.in4.sin_port = htons(a.port);
	}
	a.kind = RG_CFG_ADDR_INET;
	*out = a;
	return 0;
}

int ini_value_host_port(const char *s, char *host, size_t hostsz, uint16_t *port, char *why)
{
	const char *hp, *colon;
	size_t n;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return WHY("want HOST:PORT or [IPV6]:PORT");
		hp = s + 1;
		n = (size_t)(end - hp);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return WHY("want HOST:PORT");
		if (memchr(s, ':', (size_t)(colon - s)))
			return WHY("IPv6 addresses need brackets: [::1]:51820");
		hp = s;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hostsz || n > 253)
		return WHY("bad host");
	memcpy(host, hp, n);
	host[n] = 0;
	if (ini_value_port(colon + 1, port, why))
		return -EINVAL;
	unsigned char buf[16];
	if (*s == '[') {
		if (inet_pton(AF_INET6, host, buf) != 1)
			return WHY("bad IPv6 address '%s'", host);
		return 0;
	}
	if (inet_pton(AF_INET, host, buf) == 1)
		return 0;
	return ini_value_hostname(host, false, why);
}

int ini_value_cidr(const char *s, bool mask, struct rg_cidr *out, char *why)
{
	char host[INET6_ADDRSTRLEN + 1];
	struct rg_cidr c;
	memset(&c, 0, sizeof(c));
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return WHY("bad address in CIDR '%.64s'", s);
	memcpy(host, s, n);
	host[n] = 0;
	unsigned max;
	if (inet_pton(AF_INET, host, c.addr) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c.addr) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else {
		return WHY("bad address in CIDR '%.64s'", s);
	}
	c.prefix = (uint8_t)max;
	if (slash) {
		uint64_t p;
		int d = digits(slash + 1, &p);
		if (d <= 0 || slash[1 + d] || p > max)
			return WHY("bad prefix length in '%.64s' (0..%u)", s, max);
		c.prefix = (uint8_t)p;
	}
	if (mask) {
		for (unsigned bit = c.prefix; bit < max; bit++)
			c.addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	}
	*out = c;
	return 0;
}

int ini_value_cpuset(const char *s, struct rg_cpuset *out, char *why)
{
	struct rg_cpuset c;
	char item[32];
	int r;
	memset(&c, 0, sizeof(c));
	if (!strcasecmp(s, "all")) {
		c.all = true;
		*out = c;
		return 0;
	}
	unsigned count = 0;
	while ((r = ini_value_list_next(&s, item, sizeof(item), why)) > 0) {
		uint64_t lo, hi;
		int n = digits(item, &lo);
		if (n <= 0)
			return WHY("bad CPU list item '%s' (all, or e.g. 0-3,8)", item);
		hi = lo;
		if (item[n] == '-') {
			int m = digits(item + n + 1, &hi);
			if (m <= 0 || item[n + 1 + m])
				return WHY("bad CPU range '%s'", item);
			if (hi < lo)
				return WHY("CPU range '%s' runs backwards", item);
		} else if (item[n]) {
			return WHY("bad CPU list item '%s' (all, or e.g. 0-3,8)", item);
		}
		if (hi >= RG_CFG_MAX_CPUS)
			return WHY("CPU %llu out of range 0..%d", (unsigned long long)hi, RG_CFG_MAX_CPUS - 1);
		for (uint64_t i = lo; i <= hi; i++)
			c.bits[i / 64] |= (uint64_t)1 << (i % 64);
		count++;
	}
	if (r < 0)
		return r;
	if (!count)
		return WHY("empty CPU list (all, or e.g. 0-3,8)");
	*out = c;
	return 0;
}

int ini_value_key(const char *s, uint8_t key[RG_KEY_LEN], char *why)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s);
	/* 32 bytes are 43 characters of data and one '=' of padding. */
	if (n != 44 || s[43] != '=')
		return WHY("not a key: want 44 characters of base64 (as from wg genkey / wg pubkey)");
	for (size_t i = 0; i < 43; i++)
		if (!memchr(b64, s[i], sizeof(b64) - 1))
			return WHY("not a key: bad base64 character");
	gnutls_datum_t in = {(unsigned char *)(uintptr_t)s, 44}, dec = {NULL, 0};
	int r = gnutls_base64_decode2(&in, &dec);
	if (r < 0 || dec.size != RG_KEY_LEN) {
		if (dec.data) {
			explicit_bzero(dec.data, dec.size);
			gnutls_free(dec.data);
		}
		return WHY("not a key: does not decode to 32 bytes");
	}
	memcpy(key, dec.data, RG_KEY_LEN);
	explicit_bzero(dec.data, dec.size);
	gnutls_free(dec.data);
	return 0;
}

int ini_value_hostname(char *s, bool allow_wildcard, char *why)
{
	char *p = s;
	if (allow_wildcard && p[0] == '*') {
		if (p[1] != '.')
			return WHY("a wildcard must be '*.' and a domain, e.g. *.example.com");
		p += 2;
	}
	size_t n = strlen(p);
	if (n == 0 || n > 253)
		return WHY("bad host name (1..253 characters)");
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.' || c == 0) {
			if (label == 0)
				return WHY("bad host name '%.64s': empty label", s);
			if (label > 63)
				return WHY("bad host name '%.64s': label longer than 63", s);
			if (p[i - 1] == '-' || p[i - label] == '-')
				return WHY("bad host name '%.64s': label starts or ends with '-'", s);
			label = 0;
			continue;
		}
		if (c == '*')
			return WHY("bad host name '%.64s': '*' only as a leading '*.'", s);
		if (!isalnum(c) && c != '-')
			return WHY("bad host name '%.64s': letters, digits, '-' and '.' only", s);
		p[i] = (char)tolower(c);
		label++;
	}
	return 0;
}

int ini_value_enum(const char *s, const struct ini_enum_name *names, int *out, char *why)
{
	char list[INI_WHY_MAX - 24];
	size_t len = 0;
	for (const struct ini_enum_name *e = names; e->name; e++) {
		if (!strcasecmp(s, e->name)) {
			*out = e->value;
			return 0;
		}
		int w = snprintf(list + len, sizeof(list) - len, "%s%s", len ? " | " : "", e->name);
		if (w > 0 && (size_t)w < sizeof(list) - len)
			len += (size_t)w;
	}
	list[len] = 0;
	return WHY("want one of: %s", list);
}

int ini_value_list_next(const char **cursor, char *item, size_t itemsz, char *why)
{
	const char *s = *cursor;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*cursor = s;
		return 0;
	}
	const char *end = strchr(s, ',');
	const char *next = end ? end + 1 : s + strlen(s);
	if (!end)
		end = s + strlen(s);
	const char *e = end;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == s)
		return WHY("empty item in a comma-separated list");
	if ((size_t)(e - s) >= itemsz)
		return WHY("list item too long: '%.32s...'", s);
	memcpy(item, s, (size_t)(e - s));
	item[e - s] = 0;
	/* A trailing comma leaves an empty item: report it rather than
	 * quietly accepting "a, b,". */
	if (*end == ',') {
		const char *t = next;
		while (*t == ' ' || *t == '\t')
			t++;
		if (!*t)
			return WHY("empty item in a comma-separated list (trailing ',')");
	}
	*cursor = next;
	return 1;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The IPv4 address of a (also when IPv4-mapped IPv6), or false. */
static bool as_v4(const struct rg_cfg_addr *a, uint8_t v4[4])
{
	if (a->kind != RG_CFG_ADDR_INET)
		return false;
	if (a->sa.sa.sa_family == AF_INET) {
		memcpy(v4, &a->sa.in4.sin_addr, 4);
		return true;
	}
	const uint8_t *b = a->sa.in6.sin6_addr.s6_addr;
	if (!memcmp(b, v4mapped, 12)) {
		memcpy(v4, b + 12, 4);
		return true;
	}
	return false;
}

bool ini_addr_is_loopback(const struct rg_cfg_addr *a)
{
	uint8_t v4[4];
	if (as_v4(a, v4))
		return v4[0] == 127;
	return a->kind == RG_CFG_ADDR_INET && IN6_IS_ADDR_LOOPBACK(&a->sa.in6.sin6_addr);
}

bool ini_addr_is_link_local(const struct rg_cfg_addr *a)
{
	uint8_t v4[4];
	if (as_v4(a, v4))
		return v4[0] == 169 && v4[1] == 254;   /* RFC 3927 */
	return a->kind == RG_CFG_ADDR_INET && IN6_IS_ADDR_LINKLOCAL(&a->sa.in6.sin6_addr); /* fe80::/10 */
}

bool ini_addr_is_unspecified(const struct rg_cfg_addr *a)
{
	uint8_t v4[4];
	if (as_v4(a, v4))
		return !v4[0] && !v4[1] && !v4[2] && !v4[3];
	return a->kind == RG_CFG_ADDR_INET && IN6_IS_ADDR_UNSPECIFIED(&a->sa.in6.sin6_addr);
}

bool ini_addr_equal(const struct rg_cfg_addr *a, const struct rg_cfg_addr *b)
{
	if (a->kind != b->kind || a->port != b->port)
		return false;
	if (a->kind == RG_CFG_ADDR_IFACE)
		return !strcmp(a->iface, b->iface);
	if (a->sa.sa.sa_family != b->sa.sa.sa_family)
		return false;
	if (a->sa.sa.sa_family == AF_INET)
		return a->sa.in4.sin_addr.s_addr == b->sa.in4.sin_addr.s_addr;
	return !memcmp(&a->sa.in6.sin6_addr, &b->sa.in6.sin6_addr, 16);
}

void ini_addr_format(const struct rg_cfg_addr *a, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN];
	if (a->kind == RG_CFG_ADDR_IFACE)
		snprintf(buf, n, "iface %s:%u", a->iface, a->port);
	else if (a->sa.sa.sa_family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", inet_ntop(AF_INET6, &a->sa.in6.sin6_addr, h, sizeof(h)), a->port);
	else
		snprintf(buf, n, "%s:%u", inet_ntop(AF_INET, &a->sa.in4.sin_addr, h, sizeof(h)), a->port);
}
