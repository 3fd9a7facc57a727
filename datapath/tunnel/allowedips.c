/* allowedips: path-compressed binary trie, one per address family.
 *
 * Keys are held as two 64-bit words in host order, bit 0 being the most
 * significant bit of the address (the first bit on the wire); an IPv4
 * address sits in the top 32 bits of word 0. Comparing a key with a node is
 * then one XOR and mask per word, and "the first bit where two keys differ"
 * is a count of leading zeros.
 *
 * Invariants (checked by tests/tunnel/test_allowedips.c through lookups):
 *  - a node's key has no bits set past its cidr;
 *  - a child's cidr is greater than its parent's and its key starts with
 *    the parent's prefix; child[b] holds keys whose bit number parent->cidr
 *    is b;
 *  - a node without a peer (a branch) has exactly two children: branches
 *    with one child are spliced out on removal, so the depth is at most one
 *    node per bit. */
#include "datapath/tunnel/allowedips.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Links are pool positions + 1, 0: none (allowedips.h). */
struct allowedips_node {
	uint32_t child[2]; /* child[0] doubles as the free-list link */
	uint32_t parent;
	uint8_t cidr;
	void *peer; /* NULL: a branch node, or a free node */
	uint64_t key[2];
};

_Static_assert(sizeof(struct allowedips_node) == 40, "a trie node is 40 bytes");

static inline struct allowedips_node *node_at(const struct allowedips *t, uint32_t link)
{
	return link ? &t->pool[link - 1] : NULL;
}

static inline uint32_t link_of(const struct allowedips *t, const struct allowedips_node *n)
{
	return n ? (uint32_t)(n - t->pool) + 1 : 0;
}

struct key {
	uint64_t w[2];
};

static unsigned max_bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static struct key key_of(int family, const uint8_t *addr)
{
	struct key k;
	if (family == AF_INET) {
		k.w[0] = (uint64_t)addr[0] << 56 | (uint64_t)addr[1] << 48 | (uint64_t)addr[2] << 40 |
		         (uint64_t)addr[3] << 32;
		k.w[1] = 0;
	} else {
		k.w[0] = load_be64(addr);
		k.w[1] = load_be64(addr + 8);
	}
	return k;
}

/* Mask of the first `cidr` bits of word w (0 or 1). */
static uint64_t mask_word(unsigned cidr, unsigned w)
{
	unsigned lo = w * 64;
	if (cidr <= lo)
		return 0;
	if (cidr >= lo + 64)
		return ~0ULL;
	return ~0ULL << (64 - (cidr - lo));
}

static struct key key_mask(struct key k, unsigned cidr)
{
	k.w[0] &= mask_word(cidr, 0);
	k.w[1] &= mask_word(cidr, 1);
	return k;
}

static unsigned key_bit(const uint64_t *w, unsigned i)
{
	return (unsigned)(w[i >> 6] >> (63 - (i & 63))) & 1;
}

/* Do the first n->cidr bits of k equal n's key? */
static int node_matches(const struct allowedips_node *n, const struct key *k)
{
	return !(((k->w[0] ^ n->key[0]) & mask_word(n->cidr, 0)) | ((k->w[1] ^ n->key[1]) & mask_word(n->cidr, 1)));
}

/* Number of leading bits k and n's key share, capped at `limit`. */
static unsigned common_bits(const struct allowedips_node *n, const struct key *k, unsigned limit)
{
	uint64_t x = k->w[0] ^ n->key[0];
	unsigned c;
	if (x)
		c = (unsigned)__builtin_clzll(x);
	else if ((x = k->w[1] ^ n->key[1]))
		c = 64 + (unsigned)__builtin_clzll(x);
	else
		c = 128;
	return c < limit ? c : limit;
}

static uint32_t *root_of(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

/* Callers check room first (free_nodes). pool.h: freed nodes first, then
 * untouched ones; a freed node's first word (child[0]) is the pool's link. */
static struct allowedips_node *node_get(struct allowedips *t)
{
	struct allowedips_node *n = &t->pool[pool_get(&t->nodes, t->pool, sizeof(*t->pool))];
	memset(n, 0, sizeof(*n));
	return n;
}

static void node_put(struct allowedips *t, struct allowedips_node *n)
{
	memset(n, 0, sizeof(*n)); /* peer NULL: remove_by_peer skips it */
	pool_put(&t->nodes, t->pool, sizeof(*t->pool), (uint32_t)(n - t->pool));
}

static uint32_t free_nodes(const struct allowedips *t)
{
	return t->nodes.cap - t->nodes.live;
}

/* The link that points at n: its parent's child link or the root. */
static uint32_t *slot_of(struct allowedips *t, int family, struct allowedips_node *n)
{
	struct allowedips_node *parent = node_at(t, n->parent);
	if (!parent)
		return root_of(t, family);
	uint32_t self = link_of(t, n);
	return parent->child[0] == self ? &parent->child[0] : &parent->child[1];
}

int allowedips_init(struct allowedips *t, size_t max_nodes)
{
	memset(t, 0, sizeof(*t));
	if (!max_nodes)
		return -EINVAL;
	if (max_nodes >= UINT32_MAX)
		return -EINVAL;
	t->pool = calloc(max_nodes, sizeof(*t->pool));
	if (!t->pool)
		return -ENOMEM;
	pool_init(&t->nodes, (uint32_t)max_nodes);
	return 0;
}

void allowedips_free(struct allowedips *t)
{
	free(t->pool);
	memset(t, 0, sizeof(*t));
}

static int check_args(const struct tunnel_ip *ip, uint8_t cidr)
{
	unsigned bits = max_bits(ip->family);
	if (!bits || cidr > bits)
		return -EINVAL;
	return 0;
}

int allowedips_insert(struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr, void *peer)
{
	int err = check_args(ip, cidr);
	if (err)
		return err;
	if (!peer)
		return -EINVAL;

	struct key k = key_mask(key_of(ip->family, ip->bytes), cidr);
	uint32_t *slot = root_of(t, ip->family);
	uint32_t parent = 0;

	for (;;) {
		struct allowedips_node *n = node_at(t, *slot);
		if (!n)
			break;
		unsigned limit = cidr < n->cidr ? cidr : n->cidr;
		unsigned common = common_bits(n, &k, limit);

		if (common == n->cidr && common == cidr) {
			n->peer = peer; /* the prefix exists: it moves to the new peer */
			return 0;
		}
		if (common == n->cidr) {
			/* n is a proper prefix of the new key: go down. */
			parent = *slot;
			slot = &n->child[key_bit(k.w, n->cidr)];
			continue;
		}
		/* The new prefix either contains n (common == cidr) or
		 * diverges from it inside both prefixes: it goes here. */
		if (common == cidr) {
			if (!free_nodes(t))
				return -ENOSPC;
			struct allowedips_node *m = node_get(t);
			m->key[0] = k.w[0];
			m->key[1] = k.w[1];
			m->cidr = cidr;
			m->peer = peer;
			m->parent = parent;
			m->child[key_bit(n->key, cidr)] = *slot;
			n->parent = link_of(t, m);
			*slot = n->parent;
			return 0;
		}
		if (free_nodes(t) < 2)
			return -ENOSPC;
		struct allowedips_node *b = node_get(t), *leaf = node_get(t);
		struct key bk = key_mask(k, common);
		b->key[0] = bk.w[0];
		b->key[1] = bk.w[1];
		b->cidr = (uint8_t)common;
		b->parent = parent;
		leaf->key[0] = k.w[0];
		leaf->key[1] = k.w[1];
		leaf->cidr = cidr;
		leaf->peer = peer;
		leaf->parent = link_of(t, b);
		unsigned lb = key_bit(k.w, common);
		b->child[lb] = link_of(t, leaf);
		b->child[!lb] = *slot;
		n->parent = leaf->parent;
		*slot = leaf->parent;
		return 0;
	}

	if (!free_nodes(t))
		return -ENOSPC;
	struct allowedips_node *leaf = node_get(t);
	leaf->key[0] = k.w[0];
	leaf->key[1] = k.w[1];
	leaf->cidr = cidr;
	leaf->peer = peer;
	leaf->parent = parent;
	*slot = link_of(t, leaf);
	return 0;
}

/* n lost its peer: splice out n, and then its parent, while they are
 * branches with fewer than two children. */
static void compact(struct allowedips *t, int family, struct allowedips_node *n)
{
	while (n && !n->peer) {
		uint32_t parent = n->parent;
		uint32_t *slot = slot_of(t, family, n);
		if (n->child[0] && n->child[1])
			return; /* still a useful branch */
		uint32_t only = n->child[0] ? n->child[0] : n->child[1];
		*slot = only;
		if (only)
			node_at(t, only)->parent = parent;
		node_put(t, n);
		n = node_at(t, parent);
	}
}

static struct allowedips_node *find_exact(const struct allowedips *t, int family, const struct key *k,
                                          unsigned cidr)
{
	struct allowedips_node *n = node_at(t, family == AF_INET ? t->root4 : t->root6);
	while (n && n->cidr <= cidr && node_matches(n, k)) {
		if (n->cidr == cidr)
			return n;
		n = node_at(t, n->child[key_bit(k->w, n->cidr)]);
	}
	return NULL;
}

int allowedips_remove(struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr)
{
	int err = check_args(ip, cidr);
	if (err)
		return err;
	struct key k = key_mask(key_of(ip->family, ip->bytes), cidr);
	struct allowedips_node *n = find_exact(t, ip->family, &k, cidr);
	if (!n || !n->peer)
		return -ENOENT;
	n->peer = NULL;
	compact(t, ip->family, n);
	return 0;
}

void *allowedips_find(const struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr)
{
	if (check_args(ip, cidr))
		return NULL;
	struct key k = key_mask(key_of(ip->family, ip->bytes), cidr);
	struct allowedips_node *n = find_exact(t, ip->family, &k, cidr);
	return n ? n->peer : NULL;
}

static int family_of_node(const struct allowedips *t, const struct allowedips_node *n)
{
	while (n->parent)
		n = node_at(t, n->parent);
	return link_of(t, n) == t->root4 ? AF_INET : AF_INET6;
}

size_t allowedips_remove_by_peer(struct allowedips *t, const void *peer)
{
	size_t removed = 0;
	if (!peer)
		return 0;
	/* compact() frees only branch nodes (peer == NULL), never another
	 * node of this peer, so a linear pass over the pool sees each once. */
	for (uint32_t i = 0; i < t->nodes.high; i++) {
		struct allowedips_node *n = &t->pool[i];
		if (n->peer != peer)
			continue;
		int family = family_of_node(t, n);
		n->peer = NULL;
		compact(t, family, n);
		removed++;
	}
	return removed;
}

void *allowedips_lookup_raw(const struct allowedips *t, int family, const uint8_t *addr)
{
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	unsigned bits = max_bits(family);
	struct key k = key_of(family, addr);
	const struct allowedips_node *n = node_at(t, family == AF_INET ? t->root4 : t->root6);
	void *best = NULL;
	while (n && node_matches(n, &k)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr >= bits)
			break;
		n = node_at(t, n->child[key_bit(k.w, n->cidr)]);
	}
	return best;
}

void *allowedips_lookup(const struct allowedips *t, const struct tunnel_ip *ip)
{
	return allowedips_lookup_raw(t, ip->family, ip->bytes);
}

struct walk {
	const struct allowedips *t;
	const void *peer;
	struct allowedips_prefix *out;
	size_t cap, count;
	int family;
};

/* In-order walk: a node sorts before its subtree (shorter prefix first),
 * child[0] before child[1]. Depth is bounded by the address bits (129). */
static void walk_node(struct walk *w, const struct allowedips_node *n)
{
	if (!n)
		return;
	if (n->peer == w->peer) {
		if (w->count < w->cap) {
			struct allowedips_prefix *p = &w->out[w->count];
			memset(p, 0, sizeof(*p));
			p->ip.family = (uint8_t)w->family;
			p->cidr = n->cidr;
			if (w->family == AF_INET) {
				uint8_t tmp[8];
				store_be64(tmp, n->key[0]);
				memcpy(p->ip.bytes, tmp, 4);
			} else {
				store_be64(p->ip.bytes, n->key[0]);
				store_be64(p->ip.bytes + 8, n->key[1]);
			}
		}
		w->count++;
	}
	walk_node(w, node_at(w->t, n->child[0]));
	walk_node(w, node_at(w->t, n->child[1]));
}

size_t allowedips_peer_prefixes(const struct allowedips *t, const void *peer, struct allowedips_prefix *out,
                                size_t cap)
{
	struct walk w = {.t = t, .peer = peer, .out = out, .cap = cap};
	if (!peer)
		return 0;
	w.family = AF_INET;
	walk_node(&w, node_at(t, t->root4));
	w.family = AF_INET6;
	walk_node(&w, node_at(t, t->root6));
	return w.count;
}
