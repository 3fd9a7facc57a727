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
 *  - Hand-off queues: one single-producer single-consumer byte ring per
 *    ordered pair of workers. Why not the worker channel (ring_chan)? Its
 *    messages are 24 bytes: a packet would need an allocation per hand-off
 *    and a free on the other thread, and a malloc on the fast path is what
 *    STYLE.md rule 9 forbids. A per-pair SPSC ring copies the packet once,
 *    needs no lock and no CAS, and keeps the packets of one TUN queue in
 *    order. The consumer is woken through its channel only when it is not
 *    already signalled (one flag per pair), so a burst costs one message.
 *
 * A record is the raw TUN read (vnet header + super-packet): the receiving
 * worker segments it, so the copy is one memcpy of up to 64 KB rather than
 * one per segment. */
#ifndef RG_TUNNEL_SHARD_H
#define RG_TUNNEL_SHARD_H

#include <stddef.h>
#include <stdint.h>

struct tunnel_shard;

/* n_workers >= 1; peers: how many keys the owner map holds (at least);
 * ring_bytes: size of each hand-off ring (rounded up to a power of two).
 * 0, -EINVAL, -ENOMEM. */
RG_MUST_CHECK int tunnel_shard_create(unsigned n_workers, unsigned peers, size_t ring_bytes, struct tunnel_shard **out);
/* After every worker stopped. */
void tunnel_shard_destroy(struct tunnel_shard *s);
unsigned tunnel_shard_workers(const struct tunnel_shard *s);

/* An opaque pointer per worker (the worker keeps its channel here, so a
 * producer can wake the consumer). Any thread; release / acquire. */
void tunnel_shard_set_ctx(struct tunnel_shard *s, unsigned worker, void *ctx);
void *tunnel_shard_ctx(const struct tunnel_shard *s, unsigned worker);

/* The owning worker of key, or -1. Any thread, lock-free. */
int tunnel_shard_owner(const struct tunnel_shard *s, const uint8_t key[32]);
/* Make `worker` the owner of key. Any thread. -ENOSPC when the map is full. */
int tunnel_shard_claim(struct tunnel_shard *s, const uint8_t key[32], unsigned worker);
/* Claim only if nobody owns key yet; returns the owner afterwards. */
int tunnel_shard_claim_if_free(struct tunnel_shard *s, const uint8_t key[32], unsigned worker);
/* The worker that initiates to a peer nobody owns: a hash of its key. */
unsigned tunnel_shard_designated(const struct tunnel_shard *s, const uint8_t key[32]);

/* Producer `from` (its thread only): queue len bytes for worker `to`.
 * 1: queued, wake `to` (post a message on its channel); 0: queued, `to`
 * is already signalled; -ENOBUFS: the ring is full (drop, count);
 * -EMSGSIZE: larger than a quarter of the ring. */
RG_MUST_CHECK int tunnel_shard_push(struct tunnel_shard *s, unsigned from, unsigned to, const uint8_t *p, size_t len);
/* Consumer `to` (its thread only), on the wake message: first ack (clears
 * the signal, so a push after it wakes again), then peek / pop until NULL. */
void tunnel_shard_ack(struct tunnel_shard *s, unsigned from, unsigned to);
uint8_t *tunnel_shard_peek(struct tunnel_shard *s, unsigned from, unsigned to, size_t *len);
void tunnel_shard_pop(struct tunnel_shard *s, unsigned from, unsigned to);

#endif
