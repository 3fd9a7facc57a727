/* Value parsers of ini/value.c, good and bad, table by table. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini/value.h"
#include "tests/check.h"

static void test_bool(void)
{
	static const struct {
		const char *in;
		int want; /* 1 true, 0 false, -1 error */
	} t[] = {
		{"on", 1}, {"yes", 1}, {"true", 1}, {"ON", 1}, {"1", 1}, {"off", 0}, {"no", 0},
		{"false", 0}, {"False", 0}, {"0", 0}, {"", -1}, {"maybe", -1}, {"onn", -1}, {"2", -1},
	};
	char why[INI_WHY_MAX];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool b = false;
		int r = ini_value_bool(t[i].in, &b, why);
		if (t[i].want < 0)
			CHECK(r == -EINVAL && strstr(why, "boolean"), "bool '%s' should fail", t[i].in);
		else
			CHECK(r == 0 && b == (t[i].want == 1), "bool '%s'", t[i].in);
	}
}

static void test_duration(void)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t ms;
	} t[] = {
		{"250ms", 1, 250}, {"10s", 1, 10000}, {"5m", 1, 300000}, {"1h", 1, 3600000},
		{"2d", 1, 172800000}, {"0", 1, 0}, {"0s", 1, 0}, {"30", 0, 0}, {"", 0, 0},
		{"s", 0, 0}, {"5x", 0, 0}, {"1.5s", 0, 0}, {"-1s", 0, 0}, {"10 s", 0, 0},
		{"99999999999999999999s", 0, 0}, {"9999999999999999h", 0, 0}, {"5M", 0, 0},
	};
	char why[INI_WHY_MAX];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		int r = ini_value_duration(t[i].in, &v, why);
		if (t[i].ok)
			CHECK(r == 0 && v == t[i].ms, "duration '%s' -> %llu", t[i].in, (unsigned long long)v);
		else
			CHECK(r == -EINVAL && *why, "duration '%s' should fail", t[i].in);
	}
}

static void test_size(void)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t bytes;
	} t[] = {
		{"64k", 1, 65536}, {"10m", 1, 10485760}, {"1g", 1, 1073741824}, {"1G", 1, 1073741824},
		{"2kb", 1, 2048}, {"100", 1, 100}, {"100b", 1, 100}, {"1t", 1, 1ull << 40},
		{"", 0, 0}, {"k", 0, 0}, {"10q", 0, 0}, {"10kk", 0, 0}, {"-1k", 0, 0},
		{"99999999999999999g", 0, 0}, {"1.5m", 0, 0},
	};
	char why[INI_WHY_MAX];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 0;
		int r = ini_value_size(t[i].in, &v, why);
		if (t[i].ok)
			CHECK(r == 0 && v == t[i].bytes, "size '%s' -> %llu", t[i].in, (unsigned long long)v);
		else
			CHECK(r == -EINVAL, "size '%s' should fail", t[i].in);
	}
}

static void test_uint(void)
{
	char why[INI_WHY_MAX];
	uint64_t v;
	CHECK(!ini_value_uint("1024", 1, 2048, &v, why) && v == 1024, "uint 1024");
	CHECK(ini_value_uint("0", 1, 2048, &v, why) == -EINVAL && strstr(why, "range"), "uint below");
	CHECK(ini_value_uint("2049", 1, 2048, &v, why) == -EINVAL && strstr(why, "range"), "uint above");
	CHECK(ini_value_uint("+5", 0, 9, &v, why) == -EINVAL, "uint sign");
	CHECK(ini_value_uint("5 ", 0, 9, &v, why) == -EINVAL, "uint trailing");
	CHECK(ini_value_uint("0x10", 0, 99, &v, why) == -EINVAL, "uint hex");
	CHECK(ini_value_uint("184467440737095516160", 0, UINT64_MAX, &v, why) == -EINVAL, "uint overflow");
}

static void test_addr(void)
{
	static const struct {
		const char *in;
		bool iface_ok;
		int ok;
		const char *fmt; /* ini_addr_format of the result */
	} t[] = {
		{"1.2.3.4:443", false, 1, "1.2.3.4:443"},
		{"0.0.0.0:443", false, 1, "0.0.0.0:443"},
		{"[::1]:443", false, 1, "[::1]:443"},
		{"[::]:443", false, 1, "[::]:443"},
		{"[2001:db8::1]:65535", false, 1, "[2001:db8::1]:65535"},
		{"iface eth0:443", true, 1, "iface eth0:443"},
		{"iface   wg-0.1:51820", true, 1, "iface wg-0.1:51820"},
		{"iface eth0:443", false, 0, NULL},
		{"iface :443", true, 0, NULL},
		{"iface averyveryverylongname:443", true, 0, NULL},
		{"iface eth0", true, 0, NULL},
		{"1.2.3.4", false, 0, NULL},
		{"1.2.3.4:", false, 0, NULL},
		{"1.2.3.4:0", false, 0, NULL},
		{"1.2.3.4:65536", false, 0, NULL},
		{"1.2.3.4:44x", false, 0, NULL},
		{"256.1.1.1:80", false, 0, NULL},
		{"1.2.3:80", false, 0, NULL},
		{"example.com:80", false, 0, NULL},
		{"::1:443", false, 0, NULL},
		{"[::1:443", false, 0, NULL},
		{"[::1]443", false, 0, NULL},
		{"[fe80::1%eth0]:443", false, 0, NULL},
		{"[1.2.3.4]:443", false, 0, NULL},
		{":443", false, 0, NULL},
		{"", false, 0, NULL},
	};
	char why[INI_WHY_MAX], buf[80];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rg_cfg_addr a;
		int r = ini_value_addr(t[i].in, t[i].iface_ok, &a, why);
		if (t[i].ok) {
			CHECK(r == 0, "addr '%s': %s", t[i].in, why);
			if (r)
				continue;
			ini_addr_format(&a, buf, sizeof(buf));
			CHECK(!strcmp(buf, t[i].fmt), "addr '%s' -> '%s'", t[i].in, buf);
			if (a.kind == RG_CFG_ADDR_INET)
				CHECK(ntohs(a.sa.in4.sin_port) == a.port, "addr '%s' port order", t[i].in);
		} else {
			CHECK(r == -EINVAL && *why, "addr '%s' should fail", t[i].in);
		}
	}
	struct rg_cfg_addr a;
	ini_value_addr("127.0.0.5:1", false, &a, why);
	CHECK(ini_addr_is_loopback(&a), "127.0.0.5 loopback");
	ini_value_addr("[::1]:1", false, &a, why);
	CHECK(ini_addr_is_loopback(&a), "::1 loopback");
	ini_value_addr("[::ffff:127.0.0.1]:1", false, &a, why);
	CHECK(ini_addr_is_loopback(&a), "mapped loopback");
	ini_value_addr("0.0.0.0:1", false, &a, why);
	CHECK(!ini_addr_is_loopback(&a) && ini_addr_is_unspecified(&a), "0.0.0.0");
	ini_value_addr("169.254.169.254:80", false, &a, why);
	CHECK(ini_addr_is_link_local(&a), "169.254 link-local");
	ini_value_addr("[fe80::1]:80", false, &a, why);
	CHECK(ini_addr_is_link_local(&a), "fe80 link-local");
	ini_value_addr("[febf::1]:80", false, &a, why);
	CHECK(ini_addr_is_link_local(&a), "febf (in fe80::/10) link-local");
	ini_value_addr("[fec0::1]:80", false, &a, why);
	CHECK(!ini_addr_is_link_local(&a), "fec0 not link-local");
	ini_value_addr("[::ffff:169.254.1.1]:80", false, &a, why);
	CHECK(ini_addr_is_link_local(&a), "mapped 169.254 link-local");
	ini_value_addr("169.253.1.1:80", false, &a, why);
	CHECK(!ini_addr_is_link_local(&a), "169.253 not link-local");
}

/* Ports, also ones too long for a uint64_t: each is copied into a buffer
 * of its own size, so a read before its first byte (s[-1] once the digit
 * count came back as -1 for overflow) is a heap-buffer-overflow under
 * ASan, and the message must say "out of range", not "bad port". */
static void test_port(void)
{
	static const struct {
		const char *in;
		int ok;
		uint16_t port;
		const char *why; /* a part of the message when it fails */
	} t[] = {
		{"1", 1, 1, NULL}, {"443", 1, 443, NULL}, {"65535", 1, 65535, NULL}, {"00080", 1, 80, NULL},
		{"0", 0, 0, "out of range"}, {"65536", 0, 0, "out of range"},
		{"99999999999", 0, 0, "out of range"},
		{"18446744073709551615", 0, 0, "out of range"}, /* UINT64_MAX itself */
		{"18446744073709551616", 0, 0, "out of range"}, /* 20 digits, overflows */
		{"99999999999999999999", 0, 0, "out of range"},
		{"123456789012345678901234567890", 0, 0, "out of range"},
		{"", 0, 0, "bad port"}, {"-1", 0, 0, "bad port"}, {"+80", 0, 0, "bad port"},
		{"80 ", 0, 0, "bad port"}, {"8o", 0, 0, "bad port"}, {"0x50", 0, 0, "bad port"},
		{"99999999999999999999x", 0, 0, NULL},
	};
	char why[INI_WHY_MAX];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].in) + 1;
		char *s = malloc(n);
		if (!s)
			abort();
		memcpy(s, t[i].in, n);
		uint16_t port = 7;
		why[0] = 0;
		int r = ini_value_port(s, &port, why);
		free(s);
		if (t[i].ok) {
			CHECK(r == 0 && port == t[i].port, "port '%s' -> %u (%s)", t[i].in, port, why);
		} else {
			CHECK(r == -EINVAL && port == 7, "port '%s' should fail", t[i].in);
			CHECK(!t[i].why || strstr(why, t[i].why), "port '%s': '%s' should say '%s'", t[i].in, why,
			      t[i].why);
		}
	}
	/* The same through the address parsers. */
	struct rg_cfg_addr a;
	char host[256];
	uint16_t port;
	CHECK(ini_value_addr("1.2.3.4:99999999999999999999", false, &a, why) == -EINVAL &&
	      strstr(why, "out of range"), "addr with a 20-digit port: %s", why);
	CHECK(ini_value_addr("[::1]:99999999999999999999", false, &a, why) == -EINVAL &&
	      strstr(why, "out of range"), "v6 addr with a 20-digit port: %s", why);
	CHECK(ini_value_host_port("h.example:99999999999999999999", host, sizeof(host), &port, why) == -EINVAL &&
	      strstr(why, "out of range"), "endpoint with a 20-digit port: %s", why);
}

static void test_host_port(void)
{
	char why[INI_WHY_MAX], host[256];
	uint16_t port;
	CHECK(!ini_value_host_port("vpn.Example.com:51820", host, sizeof(host), &port, why) &&
	      !strcmp(host, "vpn.example.com") && port == 51820, "endpoint name");
	CHECK(!ini_value_host_port("[2001:db8::1]:51820", host, sizeof(host), &port, why) &&
	      !strcmp(host, "2001:db8::1"), "endpoint v6");
	CHECK(!ini_value_host_port("192.0.2.1:1", host, sizeof(host), &port, why), "endpoint v4");
	CHECK(ini_value_host_port("vpn.example.com", host, sizeof(host), &port, why) == -EINVAL, "no port");
	CHECK(ini_value_host_port("::1:51820", host, sizeof(host), &port, why) == -EINVAL, "v6 no brackets");
	CHECK(ini_value_host_port("bad_host:1", host, sizeof(host), &port, why) == -EINVAL, "bad host");
	CHECK(ini_value_host_port("h:0", host, sizeof(host), &port, why) == -EINVAL, "port 0");
}

static void test_cidr(void)
{
	static const struct {
		const char *in;
		bool mask;
		int ok;
		const char *addr;
		unsigned prefix;
	} t[] = {
		{"10.0.0.0/8", true, 1, "10.0.0.0", 8},
		{"10.1.2.3/8", true, 1, "10.0.0.0", 8},
		{"10.8.0.1/24", false, 1, "10.8.0.1", 24},
		{"10.8.0.2", true, 1, "10.8.0.2", 32},
		{"0.0.0.0/0", true, 1, "0.0.0.0", 0},
		{"fd00::1/64", true, 1, "fd00::", 64},
		{"fd00::1/64", false, 1, "fd00::1", 64},
		{"::/0", true, 1, "::", 0},
		{"2001:db8::7", true, 1, "2001:db8::7", 128},
		{"10.0.0.0/33", true, 0, NULL, 0},
		{"fd00::/129", true, 0, NULL, 0},
		{"10.0.0.0/", true, 0, NULL, 0},
		{"10.0.0.0/x", true, 0, NULL, 0},
		{"10.0.0/8", true, 0, NULL, 0},
		{"/8", true, 0, NULL, 0},
		{"host/8", true, 0, NULL, 0},
		{"10.0.0.0/8/8", true, 0, NULL, 0},
	};
	char why[INI_WHY_MAX], buf[64];
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rg_cidr c;
		int r = ini_value_cidr(t[i].in, t[i].mask, &c, why);
		if (!t[i].ok) {
			CHECK(r == -EINVAL, "cidr '%s' should fail", t[i].in);
			continue;
		}
		CHECK(r == 0, "cidr '%s': %s", t[i].in, why);
		if (r)
			continue;
		inet_ntop(c.family, c.addr, buf, sizeof(buf));
		CHECK(!strcmp(buf, t[i].addr) && c.prefix == t[i].prefix, "cidr '%s' -> %s/%u", t[i].in, buf, c.prefix);
	}
}

static void test_cpuset(void)
{
	struct rg_cpuset s;
	char why[INI_WHY_MAX];
	CHECK(!ini_value_cpuset("all", &s, why) && s.all && rg_cpuset_has(&s, 1023), "all");
	CHECK(!ini_value_cpuset("0-3,8", &s, why) && !s.all, "0-3,8");
	CHECK(rg_cpuset_has(&s, 0) && rg_cpuset_has(&s, 3) && rg_cpuset_has(&s, 8) && !rg_cpuset_has(&s, 4) &&
	      !rg_cpuset_has(&s, 9), "0-3,8 members");
	CHECK(!ini_value_cpuset(" 5 , 64-65 ", &s, why) && rg_cpuset_has(&s, 65) && rg_cpuset_has(&s, 5), "spaces");
	CHECK(!ini_value_cpuset("1023", &s, why) && rg_cpuset_has(&s, 1023), "1023");
	static const char *const bad[] = {"", "3-1", "1024", "0-1024", "x", "1-", "-1", "1,,2", "1,", "1 2", "1-2-3"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(ini_value_cpuset(bad[i], &s, why) == -EINVAL, "cpus '%s' should fail", bad[i]);
}

static void test_key(void)
{
	uint8_t k[RG_KEY_LEN];
	char why[INI_WHY_MAX];
	/* 32 bytes 0x00..0x1f */
	CHECK(!ini_value_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k, why) && k[0] == 0 && k[31] == 31,
	      "key decodes");
	static const char *const bad[] = {
		"", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",      /* 43 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",        /* 45 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",         /* no padding */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=",         /* bad char */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh==",         /* 31 bytes */
		"AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=",        /* space */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(ini_value_key(bad[i], k, why) == -EINVAL && strstr(why, "key"), "key #%u should fail", i);
}

static void test_hostname(void)
{
	char why[INI_WHY_MAX], s[300];
	static const struct {
		const char *in;
		bool wild;
		int ok;
		const char *out;
	} t[] = {
		{"Example.COM", false, 1, "example.com"}, {"localhost", false, 1, "localhost"},
		{"*.example.com", true, 1, "*.example.com"}, {"a-b.c", false, 1, "a-b.c"},
		{"*.example.com", false, 0, NULL}, {"*example.com", true, 0, NULL}, {"a.*.com", true, 0, NULL},
		{"a..b", false, 0, NULL}, {".a", false, 0, NULL}, {"a.", false, 0, NULL}, {"-a.com", false, 0, NULL},
		{"a-.com", false, 0, NULL}, {"a_b.com", false, 0, NULL}, {"", false, 0, NULL}, {"*.", true, 0, NULL},
		{"*", true, 0, NULL},
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(s, sizeof(s), "%s", t[i].in);
		int r = ini_value_hostname(s, t[i].wild, why);
		if (t[i].ok)
			CHECK(r == 0 && !strcmp(s, t[i].out), "host '%s' -> '%s'", t[i].in, s);
		else
			CHECK(r == -EINVAL, "host '%s' should fail", t[i].in);
	}
	memset(s, 'a', 64);
	s[64] = 0;
	CHECK(ini_value_hostname(s, false, why) == -EINVAL, "64-character label");
}

static void test_enum_list(void)
{
	static const struct ini_enum_name names[] = {{"on", 1}, {"off", 2}, {"auto", 3}, {NULL, 0}};
	char why[INI_WHY_MAX], item[16];
	int v;
	CHECK(!ini_value_enum("AUTO", names, &v, why) && v == 3, "enum auto");
	CHECK(ini_value_enum("maybe", names, &v, why) == -EINVAL && strstr(why, "on | off | auto"), "enum bad: %s", why);

	const char *cur = " a , bb,c ";
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == 1 && !strcmp(item, "a"), "list a");
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == 1 && !strcmp(item, "bb"), "list bb");
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == 1 && !strcmp(item, "c"), "list c");
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == 0, "list end");
	cur = "a,,b";
	ini_value_list_next(&cur, item, sizeof(item), why);
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == -EINVAL, "list empty item");
	cur = "a,";
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == -EINVAL, "list trailing comma");
	cur = "0123456789abcdefgh";
	CHECK(ini_value_list_next(&cur, item, sizeof(item), why) == -EINVAL, "list item too long");
}

int main(void)
{
	test_bool();
	test_duration();
	test_size();
	test_uint();
	test_addr();
	test_port();
	test_host_port();
	test_cidr();
	test_cpuset();
	test_key();
	test_hostname();
	test_enum_list();
	printf("%d checks, %d failed\n", checks_run, checks_failed);
	return checks_failed ? 1 : 0;
}
