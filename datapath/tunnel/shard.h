/* shard: what the workers of one tunnel share (ARCHITECTURE.md principle 1,
 * "workers meet only through message rings").
 *
 * Sessions live in the worker whose UDP socket the peer's datagrams reach
 * (the kernel's reuseport hash of the 4-tuple), but a packet for that peer
 * may be read from any worker's TUN queue. Two shared structures route it:
 *
 *  - The owner map: peer public key -> the worker that last received
 *    authenticated data from it (or was designated to initiate to it). It
 *    is written rarely (a claim costs a lookup; a store only when the owner
 *    changes; a new key takes a mutex) and read lock-free on every TUN
 *    packet. Entries are never removed: the key set is the configured peers,
 *    bounded by the capacity; a full map just leaves new keys unowned
 *    (their packets are then handled where they are read).
 *
 * Hand-offs (a TUN read for a peer another worker owns) go through the
 * group's mesh, the one hand-off mechanism of the workers
 * (datapath/handoff.h). */
#ifndef RG_TUNNEL_SHARD_H
#define RG_TUNNEL_SHARD_H

#include <stddef.h>
#include <stdint.h>

struct tunnel_shard;

/* n_workers >= 1; peers: how many keys the owner map holds (at least).
 * ring_bytes is no longer used (the hand-off rings are datapath/handoff.h's);
 * kept until control/app.c stops passing it. 0, -EINVAL, -ENOMEM. */
RG_MUST_CHECK int tunnel_shard_create(unsigned n_workers, unsigned peers, size_t ring_bytes, struct tunnel_shard **out);
/* After every worker stopped. */
void tunnel_shard_destroy(struct tunnel_shard *s);
unsigned tunnel_shard_workers(const struct tunnel_shard *s);

/* The owning worker of key, or -1. Any thread, lock-free. */
int tunnel_shard_owner(const struct tunnel_shard *s, const uint8_t key[32]);
/* Make `worker` the owner of key. Any thread. -ENOSPC when the map is full. */
int tunnel_shard_claim(struct tunnel_shard *s, const uint8_t key[32], unsigned worker);
/* Claim only if nobody owns key yet; returns the owner afterwards. */
int tunnel_shard_claim_if_free(struct tunnel_shard *s, const uint8_t key[32], unsigned worker);
/* The worker that initiates to a peer nobody owns: a hash of its key. */
unsigned tunnel_shard_designated(const struct tunnel_shard *s, const uint8_t key[32]);

#endif
