/* Parsers for the value types of the configuration file. Each takes the
 * value as libinih hands it over (whitespace and inline comment already
 * stripped) and returns 0, or -EINVAL with a short reason in `why`
 * (INI_WHY_MAX bytes, no trailing newline, not naming the key). None of
 * them allocates; none depends on the running system (no DNS, no
 * interface lookups), so a file validates the same on any machine. */
#ifndef RG_INI_VALUE_H
#define RG_INI_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ini/config.h"

#define INI_WHY_MAX 512

struct ini_enum_name {
	const char *name;
	int value;
};

/* on/off, yes/no, true/false, 1/0 (any case). */
int ini_value_bool(const char *s, bool *out, char *why);
/* Decimal, no sign, min <= v <= max. */
int ini_value_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *why);
/* <number><unit>, unit ms | s | m | h | d; a bare 0 is allowed. -> milliseconds. */
int ini_value_duration(const char *s, uint64_t *ms, char *why);
/* <number>[unit], unit k | m | g | t (powers of 1024, any case, optional
 * trailing b); a bare number is bytes. */
int ini_value_size(const char *s, uint64_t *bytes, char *why);
/* A port: decimal 1..65535, nothing else (the part after ':'). */
int ini_value_port(const char *s, uint16_t *port, char *why);
/* 1.2.3.4:443, [::1]:443, and with allow_iface `iface NAME:PORT`. */
int ini_value_addr(const char *s, bool allow_iface, struct rg_cfg_addr *out, char *why);
/* host:port or [v6]:port, host a DNS name or an IP literal. host gets the
 * host without brackets (hostsz >= 256). */
int ini_value_host_port(const char *s, char *host, size_t hostsz, uint16_t *port, char *why);
/* 10.0.0.0/8, fd00::/64; no prefix means a single address (/32, /128).
 * mask: clear the host bits. */
int ini_value_cidr(const char *s, bool mask, struct rg_cidr *out, char *why);
/* all | 0-3,8 (CPUs < RG_CFG_MAX_CPUS). */
int ini_value_cpuset(const char *s, struct rg_cpuset *out, char *why);
/* WireGuard key: 44 characters of base64 decoding to exactly 32 bytes. */
int ini_value_key(const char *s, uint8_t key[RG_KEY_LEN], char *why);
/* A DNS name, lower-cased in place; with allow_wildcard also "*.suffix". */
int ini_value_hostname(char *s, bool allow_wildcard, char *why);
/* One of names[] (NULL-terminated, any case). */
int ini_value_enum(const char *s, const struct ini_enum_name *names, int *out, char *why);

/* Comma-separated lists: copy the next trimmed item into item (itemsz
 * bytes) and advance *cursor. 1: an item, 0: the end, -EINVAL: an empty
 * or over-long item. */
int ini_value_list_next(const char **cursor, char *item, size_t itemsz, char *why);

/* Address helpers. */
bool ini_addr_is_loopback(const struct rg_cfg_addr *a);
bool ini_addr_is_link_local(const struct rg_cfg_addr *a);
bool ini_addr_is_unspecified(const struct rg_cfg_addr *a);
bool ini_addr_equal(const struct rg_cfg_addr *a, const struct rg_cfg_addr *b);
/* "1.2.3.4:443", "[::1]:443", "iface eth0:443" into buf. */
void ini_addr_format(const struct rg_cfg_addr *a, char *buf, size_t n);

#endif
