/* replay: the sliding-window replay filter for transport counters (WireGuard
 * paper §5.4.6, after RFC 6479 "IPsec Anti-Replay Algorithm without Bit
 * Shifting").
 *
 * The window is a ring of REPLAY_WORDS 64-bit words; the word holding the
 * highest counter seen moves forward by clearing the words it passes, so no
 * bit is ever shifted. One word of the ring is the partly filled current
 * word, which is why the ring holds one word more than the window.
 *
 * Size: REPLAY_WINDOW = 2048 counters (33 words, 264 bytes). WireGuard on
 * Linux keeps 8192 - 64 because it decrypts one peer's packets on every CPU
 * at once and they come back badly reordered; here a session is owned by
 * one worker that decrypts its packets in arrival order, so the window only
 * has to absorb reordering in the network, and 2048 packets of 1420 bytes is
 * 2.9 MB, 2.3 ms at 10 Gbit/s. The memory matters more: a session holds up
 * to three receiving keypairs and the per-session budget is 1 KiB.
 *
 * Contract (the counter is only trustworthy once the packet authenticated):
 *   1. replay_check(r, c) before decrypting: a cheap early drop of obvious
 *      replays and stale packets; it changes nothing.
 *   2. decrypt and verify the tag.
 *   3. replay_update(r, c) after authentication: re-checks (another packet
 *      of the same batch may have taken c meanwhile) and marks c as seen
 *      only when the verdict is REPLAY_OK. Accept the packet only then.
 * Marking a counter before authentication would let a forged packet with a
 * huge counter slide the window and blind the receiver to the real traffic.
 */
#ifndef RG_TUNNEL_REPLAY_H
#define RG_TUNNEL_REPLAY_H

#include <stdint.h>

#define REPLAY_WINDOW 2048u                      /* counters accepted below the highest seen */
#define REPLAY_WORDS (REPLAY_WINDOW / 64u + 1u)  /* + the word being filled */

enum replay_verdict {
	REPLAY_OK = 0,       /* new: accept (update marks it) */
	REPLAY_DUPLICATE,    /* seen before: drop */
	REPLAY_TOO_OLD,      /* more than REPLAY_WINDOW below the highest: drop */
	REPLAY_LIMIT,        /* counter >= REJECT_AFTER_MESSAGES (paper §5.4.6): drop */
};

struct replay {
	uint64_t next; /* highest counter marked + 1; 0: nothing marked yet */
	uint64_t bitmap[REPLAY_WORDS];
};

/* A fresh window (also what a zeroed struct replay is). */
void replay_init(struct replay *r);

/* Would counter c be accepted? Changes nothing. */
enum replay_verdict replay_check(const struct replay *r, uint64_t c);

/* Check again and, on REPLAY_OK, mark c as seen. Call only after the
 * packet carrying c authenticated. */
enum replay_verdict replay_update(struct replay *r, uint64_t c);

const char *replay_verdict_name(enum replay_verdict v);

#endif
