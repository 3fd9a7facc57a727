/* allowedips: the cryptokey routing table of WireGuard (paper §2): IPv4
 * and IPv6 prefixes mapped to a peer, looked up by longest prefix match.
 * Outbound, the destination of a TUN packet picks the peer; inbound, the
 * source of a decrypted packet must map back to the peer it came from.
 *
 * A path-compressed binary trie per family (the same idea as Linux
 * drivers/net/wireguard/allowedips.c; this is an independent implementation,
 * written by hand because no packaged C library offers a trie with
 * "remove every prefix of one value"). Every node holds a masked key and
 * its prefix length; a node is either a prefix (peer != NULL) or a branch
 * with two children where two keys diverge. Lookup walks at most one node
 * per address bit and compares whole 64-bit words: O(address bits).
 *
 * Memory: nodes come from a pool sized at init; n prefixes need at most
 * 2n - 1 nodes per family (each insert adds a prefix node and at most one
 * branch), so 2 * max_prefixes nodes always suffice. Nothing allocates
 * after allowedips_init(), and the pool is touched only as nodes are used
 * (freed nodes are reused first), so an engine sized for many peers that
 * holds few keeps few pages resident (pool.h explains why).
 *
 * Not thread-safe. Lookups only read, so one table may be shared read-only
 * between threads once built (a config generation) as long as nobody
 * changes it.
 *
 * Peers are opaque non-NULL pointers owned by the caller. */
#ifndef RG_TUNNEL_ALLOWEDIPS_H
#define RG_TUNNEL_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include "datapath/tunnel/pool.h"
#include "datapath/tunnel/tunnel_types.h"

struct allowedips_node;

/* Links between nodes are pool positions + 1 (0: none), 32 bits instead of
 * a pointer's 64: a node is 40 bytes, and a peer with one /32 costs about
 * two of them. */
struct allowedips {
	uint32_t root4, root6;
	struct allowedips_node *pool; /* nodes.cap of them */
	struct pool nodes;            /* which are used (pool.h) */
};

/* One prefix as listed by allowedips_peer_prefixes(). */
struct allowedips_prefix {
	struct tunnel_ip ip; /* masked to cidr */
	uint8_t cidr;
};

/* Allocate a pool of `max_nodes` nodes (2 per prefix is always enough).
 * 0, -EINVAL (max_nodes 0), -ENOMEM. */
RG_MUST_CHECK int allowedips_init(struct allowedips *t, size_t max_nodes);
void allowedips_free(struct allowedips *t);

/* Map prefix ip/cidr to peer. Host bits past cidr are ignored (masked), as
 * `wg set ... allowed-ips 10.0.0.1/8` means 10.0.0.0/8. Inserting a prefix
 * that exists moves it to the new peer (WireGuard semantics: one prefix has
 * one owner). 0, -EINVAL (cidr too long for the family, unknown family,
 * peer NULL), -ENOSPC (pool exhausted; the table is unchanged). */
RG_MUST_CHECK int allowedips_insert(struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr, void *peer);

/* The peer of exactly the prefix ip/cidr (host bits ignored), or NULL. */
void *allowedips_find(const struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr);

/* Remove exactly the prefix ip/cidr. 0, -ENOENT, -EINVAL. */
int allowedips_remove(struct allowedips *t, const struct tunnel_ip *ip, uint8_t cidr);

/* Remove every prefix of peer; returns how many were removed. Linear in the
 * nodes ever used: a control-path operation (peer removed from the config). */
size_t allowedips_remove_by_peer(struct allowedips *t, const void *peer);

/* The peer whose prefix is the longest match for the address, or NULL.
 * The fast path: no allocation, at most one node per address bit. */
void *allowedips_lookup(const struct allowedips *t, const struct tunnel_ip *ip);

/* Lookup on raw network-order bytes: 4 for AF_INET, 16 for AF_INET6, as
 * found in a packet header (destination outbound, source inbound). */
void *allowedips_lookup_raw(const struct allowedips *t, int family, const uint8_t *addr);

/* Write up to cap of peer's prefixes to out, IPv4 first, each family in
 * address order (shorter prefix first on equal addresses); returns the
 * total number the peer has (may exceed cap: call again with more room). */
size_t allowedips_peer_prefixes(const struct allowedips *t, const void *peer, struct allowedips_prefix *out,
                                size_t cap);

#endif
