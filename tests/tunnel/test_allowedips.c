/* allowedips: table-driven cases, then a differential test against a
 * deliberately naive model (a flat list scanned for the longest match), as
 * Linux's selftest for its trie does. Run with a seed to replay a failure:
 *   test_allowedips 12345 */
#include <errno.h>
#include <sys/socket.h>

#include "datapath/tunnel/allowedips.h"
#include "tests/tunnel/check.h"

/* Peers are opaque pointers: use addresses inside this array. */
static char peers[64];
#define P(i) ((void *)&peers[i])

static void ins(struct allowedips *t, const char *ip, int cidr, void *peer)
{
	struct tunnel_ip a = ip_parse(ip);
	int err = allowedips_insert(t, &a, (uint8_t)cidr, peer);
	CHECK(err == 0, "insert %s/%d: %d", ip, cidr, err);
}

static void *look(struct allowedips *t, const char *ip)
{
	struct tunnel_ip a = ip_parse(ip);
	return allowedips_lookup(t, &a);
}

struct lookup_case {
	const char *ip;
	int peer; /* -1: no match */
};

static void run_cases(struct allowedips *t, const char *name, const struct lookup_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *want = c[i].peer < 0 ? NULL : P(c[i].peer);
		void *got = look(t, c[i].ip);
		CHECK(got == want, "%s: lookup %s: got peer %ld want %d", name, c[i].ip,
		      got ? (long)((char *)got - peers) : -1L, c[i].peer);
	}
}

static void test_table(void)
{
	struct allowedips t;
	CHECK(allowedips_init(&t, 256) == 0, "init");

	/* Empty table: nothing matches. */
	static const struct lookup_case empty[] = {{"0.0.0.0", -1}, {"255.255.255.255", -1}, {"::", -1}};
	run_cases(&t, "empty", empty, sizeof(empty) / sizeof(empty[0]));

	/* Overlapping IPv4 prefixes, the most specific wins. */
	ins(&t, "0.0.0.0", 0, P(1));
	ins(&t, "10.0.0.0", 8, P(2));
	ins(&t, "10.1.0.0", 16, P(3));
	ins(&t, "10.1.2.0", 24, P(4));
	ins(&t, "10.1.2.3", 32, P(5));
	ins(&t, "192.168.4.0", 22, P(6));
	/* Non-canonical: host bits past the cidr are masked (172.16.0.0/12). */
	ins(&t, "172.16.99.77", 12, P(8));
	static const struct lookup_case v4[] = {
	    {"1.2.3.4", 1},       {"10.200.0.1", 2},    {"10.1.200.1", 3},  {"10.1.2.4", 4},
	    {"10.1.2.3", 5},      {"10.1.2.2", 4},      {"192.168.5.255", 6}, {"192.168.8.0", 1},
	    {"192.168.3.255", 1}, {"172.31.255.255", 8}, {"172.16.0.0", 8},  {"172.32.0.0", 1},
	    {"255.255.255.255", 1}, {"0.0.0.0", 1},
	};
	run_cases(&t, "v4", v4, sizeof(v4) / sizeof(v4[0]));
	/* The families are separate: 0.0.0.0/0 does not answer for IPv6. */
	CHECK(look(&t, "::1") == NULL, "v4 default does not cover v6");

	/* Re-inserting an existing prefix moves it (non-canonical spelling). */
	ins(&t, "10.9.9.9", 8, P(7));
	CHECK(look(&t, "10.200.0.1") == P(7), "10/8 moved to P7");
	CHECK(look(&t, "10.1.200.1") == P(3), "10.1/16 unchanged");

	/* IPv6. */
	ins(&t, "::", 0, P(10));
	ins(&t, "2001:db8::", 32, P(11));
	ins(&t, "2001:db8:1::", 48, P(12));
	ins(&t, "2001:db8:1::1", 128, P(13));
	ins(&t, "2001:db8:1:0:8000::", 65, P(14)); /* a prefix that crosses the 64-bit word */
	ins(&t, "fe80::1234:5678:9abc:def0", 64, P(15)); /* host bits set: masked to fe80::/64 */
	static const struct lookup_case v6[] = {
	    {"::1", 10},         {"2001:db8:ffff::1", 11},  {"2001:db8:1::2", 12}, {"2001:db8:1::1", 13},
	    {"2001:db8:1::8000:0:0:0", 14}, {"2001:db8:1::7fff:ffff:ffff:ffff", 12},
	    {"2001:db8:1:0:ffff::", 14}, {"2001:db9::", 10}, {"fe80::1", 15}, {"fe80:0:0:1::1", 10},
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 10},
	};
	run_cases(&t, "v6", v6, sizeof(v6) / sizeof(v6[0]));
	CHECK(look(&t, "10.1.2.3") == P(5), "v6 inserts leave v4 alone");

	/* Listing gives masked prefixes. */
	struct allowedips_prefix list[8];
	size_t n = allowedips_peer_prefixes(&t, P(15), list, 8);
	CHECK(n == 1 && list[0].cidr == 64 && list[0].ip.family == AF_INET6, "list P15");
	struct tunnel_ip fe80 = ip_parse("fe80::");
	CHECK(n == 1 && !memcmp(list[0].ip.bytes, fe80.bytes, 16), "list P15 masked");
	n = allowedips_peer_prefixes(&t, P(8), list, 8);
	struct tunnel_ip v172 = ip_parse("172.16.0.0");
	CHECK(n == 1 && list[0].cidr == 12 && !memcmp(list[0].ip.bytes, v172.bytes, 4), "list P8 masked");

	/* A peer with several prefixes in both families. */
	ins(&t, "100.64.0.0", 10, P(20));
	ins(&t, "100.64.0.0", 24, P(20));
	ins(&t, "fd00::", 8, P(20));
	ins(&t, "1.1.1.1", 32, P(20));
	n = allowedips_peer_prefixes(&t, P(20), list, 8);
	CHECK(n == 4, "P20 has 4 prefixes: %zu", n);
	CHECK(n == 4 && list[0].cidr == 32 && list[1].cidr == 10 && list[2].cidr == 24 && list[3].cidr == 8 &&
	          list[3].ip.family == AF_INET6, "P20 listed in order");
	CHECK(allowedips_peer_prefixes(&t, P(20), list, 2) == 4, "count beyond cap");

	/* Remove by peer: everything of P20 goes, its overlaps fall back. */
	CHECK(allowedips_remove_by_peer(&t, P(20)) == 4, "remove P20");
	CHECK(look(&t, "100.64.0.1") == P(1), "100.64/10 gone");
	CHECK(look(&t, "1.1.1.1") == P(1), "1.1.1.1/32 gone");
	CHECK(look(&t, "fd00::1") == P(10), "fd00::/8 gone");
	CHECK(allowedips_peer_prefixes(&t, P(20), list, 8) == 0, "P20 has nothing");

	/* Remove one prefix: the covering one answers again. */
	struct tunnel_ip a = ip_parse("10.1.2.0");
	CHECK(allowedips_remove(&t, &a, 24) == 0, "remove 10.1.2.0/24");
	CHECK(allowedips_remove(&t, &a, 24) == -ENOENT, "remove twice");
	CHECK(look(&t, "10.1.2.4") == P(3), "falls back to /16");
	CHECK(look(&t, "10.1.2.3") == P(5), "/32 below survives");
	a = ip_parse("10.1.0.0");
	CHECK(allowedips_remove(&t, &a, 17) == -ENOENT, "remove a prefix that is not there");

	/* /0 removal leaves nothing for unmatched addresses. */
	a = ip_parse("0.0.0.0");
	CHECK(allowedips_remove(&t, &a, 0) == 0, "remove 0/0");
	CHECK(look(&t, "1.2.3.4") == NULL, "no default any more");
	a = ip_parse("::");
	CHECK(allowedips_remove(&t, &a, 0) == 0, "remove ::/0");
	CHECK(look(&t, "::1") == NULL, "no v6 default any more");

	/* Argument checks. */
	a = ip_parse("10.0.0.0");
	CHECK(allowedips_insert(&t, &a, 33, P(1)) == -EINVAL, "v4 /33");
	CHECK(allowedips_insert(&t, &a, 8, NULL) == -EINVAL, "NULL peer");
	a = ip_parse("::");
	CHECK(allowedips_insert(&t, &a, 129, P(1)) == -EINVAL, "v6 /129");
	a.family = 99;
	CHECK(allowedips_insert(&t, &a, 1, P(1)) == -EINVAL, "bad family");
	CHECK(allowedips_lookup(&t, &a) == NULL, "bad family lookup");

	/* Everything removed returns every node to the pool. */
	for (int i = 0; i < 64; i++)
		allowedips_remove_by_peer(&t, P(i));
	CHECK(t.nodes.live == 0, "all nodes back in the pool: %u", t.nodes.live);
	allowedips_free(&t);

	/* A full pool refuses and leaves the table as it was. */
	CHECK(allowedips_init(&t, 3) == 0, "init 3");
	ins(&t, "10.0.0.0", 8, P(1));
	ins(&t, "11.0.0.0", 8, P(2)); /* needs a branch: 3 nodes used */
	a = ip_parse("12.0.0.0");
	CHECK(allowedips_insert(&t, &a, 8, P(3)) == -ENOSPC, "pool full");
	CHECK(look(&t, "10.1.1.1") == P(1) && look(&t, "11.1.1.1") == P(2) && look(&t, "12.1.1.1") == NULL,
	      "unchanged after ENOSPC");
	ins(&t, "10.0.0.0", 8, P(4)); /* a move needs no node */
	CHECK(look(&t, "10.1.1.1") == P(4), "move with a full pool");
	allowedips_free(&t);
}

/* ---- the naive model ---- */

struct model_entry {
	struct tunnel_ip ip; /* masked */
	uint8_t cidr;
	void *peer;
};

static struct model_entry *model;
static size_t model_n;

static void mask_ip(struct tunnel_ip *ip, unsigned cidr)
{
	unsigned len = ip->family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < len; i++) {
		unsigned keep = cidr >= 8 * (i + 1) ? 8 : cidr > 8 * i ? cidr - 8 * i : 0;
		ip->bytes[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static int matches(const struct tunnel_ip *prefix, unsigned cidr, const struct tunnel_ip *ip)
{
	struct tunnel_ip m = *ip;
	if (prefix->family != ip->family)
		return 0;
	mask_ip(&m, cidr);
	return !memcmp(m.bytes, prefix->bytes, 16);
}

static void model_insert(const struct tunnel_ip *ip, uint8_t cidr, void *peer)
{
	struct tunnel_ip m = *ip;
	mask_ip(&m, cidr);
	for (size_t i = 0; i < model_n; i++)
		if (model[i].cidr == cidr && !memcmp(&model[i].ip, &m, sizeof(m))) {
			model[i].peer = peer;
			return;
		}
	model[model_n++] = (struct model_entry){.ip = m, .cidr = cidr, .peer = peer};
}

static void model_remove_peer(void *peer)
{
	size_t j = 0;
	for (size_t i = 0; i < model_n; i++)
		if (model[i].peer != peer)
			model[j++] = model[i];
	model_n = j;
}

static void *model_lookup(const struct tunnel_ip *ip)
{
	int best = -1;
	void *peer = NULL;
	for (size_t i = 0; i < model_n; i++)
		if (model[i].cidr > best && matches(&model[i].ip, model[i].cidr, ip)) {
			best = model[i].cidr;
			peer = model[i].peer;
		}
	return peer;
}

/* Random addresses drawn near a few bases so that prefixes overlap and
 * nest often, with the rest of the bits random. */
static struct tunnel_ip rand_ip(int family)
{
	static const uint8_t bases[4][16] = {
	    {10, 0, 0, 0},
	    {192, 168, 1, 0},
	    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0x80},
	    {0xfd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69},
	};
	struct tunnel_ip ip;
	memset(&ip, 0, sizeof(ip));
	ip.family = (uint8_t)family;
	unsigned len = family == AF_INET ? 4 : 16;
	uint64_t r = rnd64();
	for (unsigned i = 0; i < len; i++)
		ip.bytes[i] = (uint8_t)rnd64();
	if (r & 1) { /* share a random-length start with a base */
		unsigned keep = rnd_below(len * 8 + 1);
		const uint8_t *b = bases[(r >> 1 & 1) + (family == AF_INET6 ? 2 : 0)];
		for (unsigned i = 0; i < len; i++) {
			unsigned k = keep >= 8 * (i + 1) ? 8 : keep > 8 * i ? keep - 8 * i : 0;
			uint8_t m = (uint8_t)(0xff00 >> k);
			ip.bytes[i] = (uint8_t)((b[i] & m) | (ip.bytes[i] & ~m));
		}
	}
	return ip;
}

static unsigned rand_cidr(int family)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	switch (rnd_below(4)) {
	case 0:
		return rnd_below(bits + 1);
	case 1:
		return bits - rnd_below(4); /* hosts and near-hosts */
	default:
		return rnd_below(bits / 2 + 1) + bits / 4; /* the usual middle */
	}
}

static void test_differential(void)
{
	enum { PREFIXES = 6000, NPEERS = 48, ROUNDS = 12, LOOKUPS = 20000 };
	struct allowedips t;
	model = calloc(PREFIXES * ROUNDS, sizeof(*model));
	model_n = 0;
	CHECK(allowedips_init(&t, 2 * PREFIXES * ROUNDS) == 0, "init");
	int mismatches = 0;
	size_t lookups = 0;

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < PREFIXES / ROUNDS * 2; i++) {
			int family = rnd_below(2) ? AF_INET : AF_INET6;
			struct tunnel_ip ip = rand_ip(family);
			uint8_t cidr = (uint8_t)rand_cidr(family);
			void *peer = P(1 + rnd_below(NPEERS));
			int err = allowedips_insert(&t, &ip, cidr, peer);
			CHECK(err == 0, "insert %d", err);
			model_insert(&ip, cidr, peer);
		}
		/* Interleaved removes: a few peers lose everything. */
		for (int r = 0; r < 3; r++) {
			void *peer = P(1 + rnd_below(NPEERS));
			size_t before = model_n;
			model_remove_peer(peer);
			size_t got = allowedips_remove_by_peer(&t, peer);
			CHECK(got == before - model_n, "remove_by_peer count %zu want %zu", got, before - model_n);
		}
		for (int i = 0; i < LOOKUPS / ROUNDS; i++) {
			int family = rnd_below(2) ? AF_INET : AF_INET6;
			struct tunnel_ip ip = rand_ip(family);
			if (rnd_below(4) == 0 && model_n) { /* exactly at or inside a known prefix */
				struct model_entry *e = &model[rnd_below((uint32_t)model_n)];
				ip = e->ip;
				if (rnd_below(2))
					ip.bytes[(e->ip.family == AF_INET ? 3 : 15)] ^= (uint8_t)rnd64();
			}
			void *want = model_lookup(&ip), *got = allowedips_lookup(&t, &ip);
			lookups++;
			if (got != want && mismatches++ < 10)
				CHECK(got == want, "round %d lookup mismatch", round);
		}
		/* Every peer's listing equals the model's entries for it. */
		for (int p = 1; p <= NPEERS; p++) {
			size_t want = 0;
			for (size_t i = 0; i < model_n; i++)
				want += model[i].peer == P(p);
			struct allowedips_prefix out[1];
			size_t got = allowedips_peer_prefixes(&t, P(p), out, 0);
			CHECK(got == want, "peer %d has %zu prefixes, model %zu", p, got, want);
		}
	}
	CHECK(mismatches == 0, "%d lookup mismatches in %zu lookups", mismatches, lookups);

	/* The listing itself round-trips: re-inserting a peer's listed
	 * prefixes into a fresh table answers like the model for that peer. */
	void *peer = NULL;
	for (size_t i = 0; i < model_n && !peer; i++)
		peer = model[i].peer;
	if (peer) {
		size_t cnt = allowedips_peer_prefixes(&t, peer, NULL, 0);
		struct allowedips_prefix *list = calloc(cnt ? cnt : 1, sizeof(*list));
		CHECK(allowedips_peer_prefixes(&t, peer, list, cnt) == cnt, "list");
		size_t found = 0;
		for (size_t i = 0; i < cnt; i++)
			for (size_t j = 0; j < model_n; j++)
				if (model[j].peer == peer && model[j].cidr == list[i].cidr &&
				    !memcmp(&model[j].ip, &list[i].ip, sizeof(list[i].ip))) {
					found++;
					break;
				}
		CHECK(found == cnt, "every listed prefix is in the model: %zu of %zu", found, cnt);
		free(list);
	}

	printf("differential: %zu prefixes live, %zu lookups, %u nodes used\n", model_n, lookups, t.nodes.live);
	for (int p = 0; p <= NPEERS; p++)
		allowedips_remove_by_peer(&t, P(p));
	CHECK(t.nodes.live == 0, "empty after removing all: %u", t.nodes.live);
	allowedips_free(&t);
	free(model);
}

int main(int argc, char **argv)
{
	test_seed(argc, argv);
	test_table();
	test_differential();
	printf("sizeof(struct allowedips) = %zu\n", sizeof(struct allowedips));
	return check_report("allowedips");
}
