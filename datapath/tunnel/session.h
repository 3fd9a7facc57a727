/* session: a worker's tunnel sessions, one per remote socket address (the
 * initiator's address:port, IPv4 or IPv6), found by that address for
 * handshakes and by our receiver index for transport packets.
 *
 * A session holds what one remote needs on the fast path: its transport
 * keypairs with their replay windows, its timer state and byte counters,
 * and the opaque peer (from the config generation) it authenticated as.
 * Handshake secrets are not kept here: a responder derives the keypair in
 * the same turn it consumes the initiation (crypto/noise.h).
 *
 * Keypairs (WireGuard paper §5.4.7 and Linux noise.c's rotation, written
 * independently): a session has roles previous, current and next.
 *  - An initiator's new keypair is confirmed by the response it just
 *    consumed: it becomes current, the old current becomes previous (a
 *    pending next, never confirmed, takes previous's place instead).
 *  - A responder's new keypair may not send until the initiator used it:
 *    it becomes next, and the old previous and next are dropped; the first
 *    authenticated data on next (session_keypair_received) promotes it.
 * Either way at most two keypairs are alive at once, so a session has two
 * slots, each pointing into the table's keypair pool (2 per session, so it
 * never runs dry). A keypair with its 2048-counter replay window is 368
 * bytes: an idle session holds one, a session whose keys were erased none,
 * and only the pool's objects ever used are resident (pool.h), which is
 * how an idle session stays under its 1 KiB budget.
 *
 * Indices (paper §5.4.2: a random 32-bit sender index per handshake, the
 * peer puts it in every message to us): allocated from the random source
 * given at init, unique in the worker, never 0. An index maps to a session;
 * the session knows whether it names a keypair or a handshake in progress.
 *
 * Tables: open addressing with linear probing and backward-shift removal
 * (no tombstones, so lookups stay short under churn). The address table is
 * at most half full; the index table at most 3/4, and that only if every
 * session held three indices at once (a rekey in flight over a previous
 * keypair): idle sessions hold one, so it is usually under 1/4 full.
 * The address table hashes with SipHash-2-4 (libsodium crypto_shorthash)
 * under a random key, because remote addresses are chosen by the remote:
 * an unkeyed hash would let a flood of chosen source ports pile into one
 * probe run. Indices are ours and random, so a multiplicative hash does.
 *
 * Everything is allocated by session_table_init(); nothing after, and
 * nothing is touched there either: sessions and keypairs come from pools
 * that bring pages in as they are first used.
 * Not thread-safe: one table per worker. */
#ifndef RG_TUNNEL_SESSION_H
#define RG_TUNNEL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keypair.h"
#include "datapath/tunnel/pool.h"
#include "datapath/tunnel/replay.h"
#include "datapath/tunnel/timers.h"
#include "datapath/tunnel/tunnel_types.h"
#include "ring/twheel.h"

struct session_keypair {
	struct crypto_keypair kp; /* keys, counters, indices (crypto/keypair.h) */
	uint64_t birth;           /* when it was derived (ns) */
	struct replay replay;     /* receive-side window (replay.h) */
};

#define SESSION_SLOT_NONE 0xff

struct session {
	rg_sockaddr remote;      /* key of the address table; first bytes: pool link when free */
	uint32_t hs_index;       /* our index of a handshake in progress, 0: none */
	void *peer;              /* the authorized peer; opaque, the caller's */
	struct timers timers;
	uint64_t rx_bytes, tx_bytes;  /* transport payload, for /peers */
	struct session_keypair *slot[2]; /* from the table's keypair pool, NULL: free */
	struct twheel_timer timer; /* in the table's wheel, at or before timers.next */
	uint32_t id;             /* position in the table's array */
	uint8_t previous, current, next; /* slot of each role, or SESSION_SLOT_NONE */
	bool in_use;
};                               /* 184 bytes */

struct session_table {
	struct session *sessions; /* capacity of them */
	struct pool session_pool;
	struct session_keypair *keypairs; /* 2 * capacity of them */
	struct pool keypair_pool;
	uint32_t *addr_slots;     /* session id + 1, 0: empty */
	struct session_index_slot *index_slots;
	uint32_t capacity, count;
	uint32_t addr_mask, index_mask, index_count;
	uint8_t hash_key[16];     /* SipHash key of the address table */
	struct crypto_rng rng;
	/* Sessions with a deadline (session_timer_sync), so the engine finds
	 * the due ones without walking every session. */
	struct twheel wheel;
	bool wheel_on;            /* initialised at the first deadline's now */
	/* Every index this table hands out has (index & index_tag_mask) ==
	 * index_tag: the worker that owns a session can be read off the
	 * receiver index of any message addressed to it (0, 0: no tag). */
	uint32_t index_tag, index_tag_mask;
};

/* Room for `capacity` sessions. rng (NULL: crypto_rng_system) supplies
 * the indices, the hash key and the timer jitter seeds. 0, -EINVAL
 * (capacity 0 or above 2^26), -ENOMEM, or the rng's error. */
RG_MUST_CHECK int session_table_init(struct session_table *t, uint32_t capacity, const struct crypto_rng *rng);
/* Wipes every key, then frees. */
void session_table_free(struct session_table *t);

/* Total bytes session_table_init reserved (virtual: pages come in as
 * sessions and keypairs are used). */
size_t session_table_memory(const struct session_table *t);

/* The session of a remote address, or NULL. Port and address (and IPv6
 * scope) must match; the fast path for handshakes. */
struct session *session_lookup_addr(const struct session_table *t, const rg_sockaddr *remote);

/* A new session for remote, with no keys, its timers initialised (a
 * random jitter seed). 0, -EEXIST (that address has one: look it up),
 * -ENOSPC (table full: the caller counts a drop), -EAFNOSUPPORT. */
RG_MUST_CHECK int session_create(struct session_table *t, const rg_sockaddr *remote, void *peer, struct session **out);

/* Wipe its keys, release its indices and its address. */
void session_remove(struct session_table *t, struct session *s);

/* Move a session to a new remote address (the peer roamed: paper §2.1
 * endpoint update after an authenticated packet). 0, -EEXIST (another
 * session has that address), -EAFNOSUPPORT. */
RG_MUST_CHECK int session_set_remote(struct session_table *t, struct session *s, const rg_sockaddr *remote);

/* ---- deadlines ---- */

/* After anything may have changed s->timers: make the wheel hold s at or
 * before s->timers.next (out of it when nothing is armed). Lazy: a deadline
 * that moved later (the common case, a keepalive pushed back by traffic)
 * leaves the wheel alone, the session fires early, finds nothing due and
 * is synced again. O(1). */
void session_timer_sync(struct session_table *t, struct session *s, uint64_t now);
/* The earliest time a session may be due (never later than the true one),
 * RG_NO_DEADLINE: none armed. */
uint64_t session_timers_next(struct session_table *t);
/* Call fn for every session whose wheel deadline passed (it was taken out
 * of the wheel: service it, then sync it if it lives on). fn may remove
 * or sync any session. */
void session_timers_advance(struct session_table *t, uint64_t now,
                            void (*fn)(void *ctx, struct session *s, uint64_t now), void *ctx);

/* ---- indices ---- */

/* A fresh random index mapped to s, for the sender index of a handshake
 * message; kept as s->hs_index until the keypair that uses it is
 * installed (which takes it over) or session_index_release(). 0, -ENOSPC
 * (index table full), -EAGAIN (the rng kept giving taken values), or the
 * rng's error. A previous hs_index of s is released first. */
RG_MUST_CHECK int session_index_new(struct session_table *t, struct session *s, uint32_t *out);
void session_index_release(struct session_table *t, uint32_t index);

/* The session that owns our index `index` (from a data message or a
 * response), or NULL. *kp is its keypair with that local index, or NULL
 * when the index is the session's handshake in progress. kp may be NULL. */
struct session *session_lookup_index(const struct session_table *t, uint32_t index, struct session_keypair **kp);

/* ---- keypairs ---- */

/* Install a keypair just derived (noise_handshake_begin_session) at `now`
 * and rotate as described above. kp->local_index must be an index of s
 * (normally s->hs_index, which it takes over). Dropped keypairs are wiped
 * and their indices released. The caller reports timers_session_derived
 * (and, as initiator, timers_handshake_complete). 0, -EINVAL (the index
 * is not s's). */
RG_MUST_CHECK int session_keypair_install(struct session_table *t, struct session *s, const struct crypto_keypair *kp,
                            uint64_t now);

/* A data message authenticated with kp (after replay_update said OK).
 * Returns true when this confirmed the responder's next keypair, which now
 * is current: the handshake is complete (report timers_handshake_complete). */
bool session_keypair_received(struct session_table *t, struct session *s, struct session_keypair *kp);

/* The keypair to send with: current, if it may still send (timers.h
 * limits), else NULL: queue the packet and report timers_handshake_wanted.
 * A responder's current keypair is never a next one, so §5.4.7 holds. */
struct session_keypair *session_keypair_for_send(struct session *s, uint64_t now);
static inline struct session_keypair *session_keypair_current(struct session *s)
{
	return s->current == SESSION_SLOT_NONE ? NULL : s->slot[s->current];
}

/* What timers.h needs of a keypair (NULL kp: zeroed key). */
void session_keypair_timers_key(const struct session_keypair *kp, struct timers_key *out);

/* Wipe every keypair and release its index, and the handshake index
 * (TIMERS_ACT_ZERO_KEYS). */
void session_keys_zero(struct session_table *t, struct session *s);

#endif
