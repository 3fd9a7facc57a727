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

struct allowedips_node {
	struct allowedips_node *child[2]; /* child[0] doubles as the free-list link */
	struct allowedips_node *parent;
	void *peer; /* NULL: a branch node, or a free node */
	uint64_t key[2];
	uint8_t cidr;
	uint8_t in_use;
};

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

static struct allowedips_node **root_of(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static struct allowedips_node *node_get(struct allowedips *t)
{
	struct allowedips_node *n = t->free_list;
	t->free_list = n->child[0];
	memset(n, 0, sizeof(*n));
	n->in_use = 1;
	t->used++;
	return n;
}

static void node_put(struct allowedips *t, struct allowedips_node *n)
{
	memset(n, 0, sizeof(*n));
	n->child[0] = t->free_list;
	t->free_list = n;
	t->used--;
}

/* The slot that points at n: its parent's child pointer or the root. */
static struct allowedips_node **slot_of(struct allowedips *t, int family, struct allowedips_node *n)
{
	if (!n->parent)
		return root_of(t, family);
	return n->parent->child[0] == n ? &n->parent->child[0] : &n->parent->child[1];
}

int allowedips_init(struct allowedips *t, size_t max_nodes)
{
	memset(t, 0, sizeof(*t));
	if (!max_nodes)
		return -EINVAL;
	t->pool = calloc(max_nodes, sizeof(*t->pool));
	if (!t->pool)
		return -ENOMEM;
	t->capacity = max_nodes;
	for (size_t i = max_nodes; i-- > 0;) {
		t->pool[i].child[0] = t->free_list;
		t->free_list = &t->pool[i];
	}
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
	struct allowedips_node **slot = root_of(t, ip->family), *parent = NULL;

	for (;;) {
		struct allowedips_node *n = *slot;
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
			parent = n;
			slot = &n->child[key_bit(k.w, n->cidr)];
			continue;
		}
		/* The new prefix either contains n (common == cidr) or
		 * diverges from it inside both prefixes: it goes here. */
		if (common == cidr) {
			if (!t->free_list)
				return -ENOSPC;
			struct allowedips_node *m = node_get(t);
			m->key[0] = k.w[0];
			m->key[1] = k.w[1];
			m->cidr = cidr;
			m->peer = peer;
			m->parent = parent;
			m->child[key_bit(n->key, cidr)] = n;
			n->parent = m;
			*slot = m;
			return 0;
		}
		if (t->capacity - t->used < 2)
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
		leaf->parent = b;
		unsigned lb = key_bit(k.w, common);
		b->child[lb] = leaf;
		b->child[!lb] = n;
		n->parent = b;
		*slot = b;
		return 0;
	}

	if (!t->free_list)
		return -ENOSPC;
	struct allowedips_node *leaf = node_get(t);
	leaf->key[0] = k.w[0];
	leaf->key[1] = k.w[1];
	leaf->cidr = cidr;
	leaf->peer = peer;
	leaf->parent = parent;
	*slot = leaf;
	return 0;
}

/* n lost its peer: splice out n, and then its parent, while they are
 * branches with fewer than two children. */
static void compact(struct allowedips *t, int family, struct allowedips_node *n)
{
	while (n && !n->peer) {
		struct allowedips_node *parent = n->parent;
		struct allowedips_node **slot = slot_of(t, family, n);
		if (n->child[0] && n->child[1])
			return; /* still a useful branch */
		struct allowedips_node *only = n->child[0] ? n->child[0] : n->child[1];
		*slot = only;
		if (only)
			only->parent = parent;
		node_put(t, n);
		n = parent;
	}
}

static struct allowedips_node *find_exact(struct allowedips *t, int family, const struct key *k, unsigned cidr)
{
	struct allowedips_node *n = *root_of(t, family);
	while (n && n->cidr <= cidr && node_matches(n, k)) {
		if (n->cidr == cidr)
			return n;
		n = n->child[key_bit(k->w, n->cidr)];
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

static int family_of_node(const struct allowedips *t, const struct allowedips_node *n)
{
	while (n->parent)
		n = n->parent;
	return n == t->root4 ? AF_INET : AF_INET6;
}

size_t allowedips_remove_by_peer(struct allowedips *t, const void *peer)
{
	size_t removed = 0;
	if (!peer)
		return 0;
	/* compact() frees only branch nodes (peer == NULL), never another
	 * node of this peer, so a linear pass over the pool sees each once. */
	for (size_t i = 0; i < t->capacity; i++) {
		struct allowedips_node *n = &t->pool[i];
		if (!n->in_use || n->peer != peer)
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
	const struct allowedips_node *n = family == AF_INET ? t->root4 : t->root6;
	void *best = NULL;
	while (n && node_matches(n, &k)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr >= bits)
			break;
		n = n->child[key_bit(k.w, n->cidr)];
	}
	return best;
}

void *allowedips_lookup(const struct allowedips *t, const struct tunnel_ip *ip)
{
	return allowedips_lookup_raw(t, ip->family, ip->bytes);
}

struct walk {
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
	walk_node(w, n->child[0]);
	walk_node(w, n->child[1]);
}

size_t allowedips_peer_prefixes(const struct allowedips *t, const void *peer, struct allowedips_prefix *out,
                                size_t cap)
{
	struct walk w = {.peer = peer, .out = out, .cap = cap};
	if (!peer)
		return 0;
	w.family = AF_INET;
	walk_node(&w, t->root4);
	w.family = AF_INET6;
	walk_node(&w, t->root6);
	return w.count;
}
