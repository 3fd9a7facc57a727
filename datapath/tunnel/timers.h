/* timers: every per-peer timer rule of WireGuard (paper §6), in one place.
 *
 * The datapath reports what happened (the timers_* event functions); this
 * file alone decides what to arm. Each peer has one deadline,
 * timers_next_expiry(); when it passes the worker calls
 * timers_handle_expiry(now) and performs the actions it returns. No clock
 * is read: `now` is the caller's monotonic time in nanoseconds, never 0.
 *
 * The rules (paper §6.2-§6.5; the event names follow Linux
 * drivers/net/wireguard/timers.c, whose behaviour this reproduces without
 * its code):
 *
 *  retransmit   An initiation unanswered for REKEY_TIMEOUT + jitter is sent
 *               again (TIMERS_ACT_RETRANSMIT). After MAX_TIMER_HANDSHAKES
 *               (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18) retries, about
 *               REKEY_ATTEMPT_TIME, it gives up (TIMERS_ACT_GIVE_UP: drop
 *               the packets waiting for a key, stop the passive keepalive,
 *               and erase the keys REJECT_AFTER_TIME * 3 later unless that
 *               is already due).
 *  keepalive    Data received and nothing sent back within KEEPALIVE_TIMEOUT:
 *               send a keepalive (TIMERS_ACT_KEEPALIVE). Data received
 *               again while it is pending asks for one more keepalive
 *               KEEPALIVE_TIMEOUT after the first is sent.
 *  no reply     Data sent and no authenticated packet received within
 *               KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter: start a new
 *               handshake (TIMERS_ACT_NEW_HANDSHAKE).
 *  rekey        On sending, the keypair has sent more than
 *               REKEY_AFTER_MESSAGES, or we initiated it and it is older
 *               than REKEY_AFTER_TIME; on receiving, we initiated the
 *               current keypair and it is older than REJECT_AFTER_TIME -
 *               KEEPALIVE_TIMEOUT - REKEY_TIMEOUT (once per handshake):
 *               start a handshake (TIMERS_ACT_REKEY).
 *  no key       Data is waiting and no keypair may send: start a handshake
 *               (TIMERS_ACT_HANDSHAKE_FOR_DATA).
 *  zero keys    REJECT_AFTER_TIME * 3 after the last session was derived,
 *               erase every key (TIMERS_ACT_ZERO_KEYS).
 *  persistent   With a persistent keepalive interval set, an interval
 *               without any authenticated packet in either direction sends
 *               a keepalive (TIMERS_ACT_PERSISTENT_KEEPALIVE); turning the
 *               interval on sends one at once.
 *  rate limit   Apart from retransmissions, at most one initiation per
 *               REKEY_TIMEOUT (paper §6.1): requests inside that are
 *               dropped, as the handshake in flight will answer them.
 *               A request that is not a retransmission restarts the count
 *               of attempts.
 *
 * Caller contract:
 *  - Report every authenticated packet sent (initiation, response, data,
 *    keepalive) with timers_any_authenticated_packet_sent and every one
 *    received with timers_any_authenticated_packet_received, in addition
 *    to the specific events below.
 *  - For each TIMERS_ACT_* returned, do it: any of TIMERS_ACT_INITIATION
 *    means "create and send one initiation", then report
 *    timers_handshake_initiated (if it could not be sent, nothing is
 *    retried until the next event asks again). Any of
 *    TIMERS_ACT_SEND_KEEPALIVE means "send one keepalive" (an empty data
 *    message; with no usable key, report timers_handshake_wanted instead).
 *  - After events, re-read timers_next_expiry() and move the peer's timer
 *    wheel entry if it changed. A deadline <= now is due at once.
 */
#ifndef RG_TUNNEL_TIMERS_H
#define RG_TUNNEL_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/tunnel/tunnel_const.h"
#include "ring/ring.h" /* RG_NO_DEADLINE */

/* Bits of the set returned by timers_handle_expiry(). */
enum timers_action {
	TIMERS_ACT_RETRANSMIT = 1u << 0,          /* initiation unanswered: send it again (a retry) */
	TIMERS_ACT_NEW_HANDSHAKE = 1u << 1,       /* sent data, heard nothing back: new handshake */
	TIMERS_ACT_REKEY = 1u << 2,               /* keypair old or worn: new handshake */
	TIMERS_ACT_HANDSHAKE_FOR_DATA = 1u << 3,  /* packets wait for a key: new handshake */
	TIMERS_ACT_GIVE_UP = 1u << 4,             /* no handshake after REKEY_ATTEMPT_TIME: drop queued packets */
	TIMERS_ACT_KEEPALIVE = 1u << 5,           /* received data, sent nothing: passive keepalive */
	TIMERS_ACT_PERSISTENT_KEEPALIVE = 1u << 6,/* persistent keepalive interval passed */
	TIMERS_ACT_ZERO_KEYS = 1u << 7,           /* REJECT_AFTER_TIME * 3 since the last session: erase keys */
};
#define TIMERS_ACT_INITIATION \
	(TIMERS_ACT_RETRANSMIT | TIMERS_ACT_NEW_HANDSHAKE | TIMERS_ACT_REKEY | TIMERS_ACT_HANDSHAKE_FOR_DATA)
#define TIMERS_ACT_SEND_KEEPALIVE (TIMERS_ACT_KEEPALIVE | TIMERS_ACT_PERSISTENT_KEEPALIVE)

/* What the timer rules need to know about the keypair a packet used (or the
 * current keypair, on receive). */
struct timers_key {
	uint64_t birth;        /* when the keypair was derived (ns) */
	uint64_t send_counter; /* messages sent with it so far */
	bool initiator;        /* we sent the initiation that made it */
};

struct timers {
	/* Deadlines in ns, RG_NO_DEADLINE: not armed. */
	uint64_t retransmit_at;   /* initiation retransmission or give-up */
	uint64_t keepalive_at;    /* passive keepalive */
	uint64_t new_handshake_at;/* data sent without a reply */
	uint64_t zero_keys_at;    /* erase all keys */
	uint64_t persistent_at;   /* persistent keepalive */
	uint64_t initiation_at;   /* a non-retry initiation was asked for */
	uint64_t last_initiation; /* when the last initiation was sent: rate limit */
	uint64_t next;            /* earliest of the deadlines, RG_NO_DEADLINE: none */
	uint32_t prng;            /* jitter source, 0: no jitter */
	uint16_t persistent_interval; /* seconds, 0: off (u16 as in wg(8)) */
	uint8_t attempts;         /* retransmissions of the current handshake */
	uint8_t initiation_why;   /* TIMERS_ACT_* reasons of initiation_at */
	bool need_another_keepalive; /* data received while a keepalive was pending */
	bool keepalive_owed;      /* arm that other keepalive when the first is sent */
	bool sent_lastminute;     /* the receive-side rekey fired for this keypair */
};

/* Zero state, nothing armed. seed feeds the retransmission jitter (paper
 * §6.1: "REKEY_TIMEOUT + jitter", up to REKEY_TIMEOUT_JITTER_MAX_NS); take
 * it from the worker's random source. 0 turns jitter off (tests). */
void timers_init(struct timers *t, uint32_t seed);

/* The peer's one deadline (ns), RG_NO_DEADLINE when nothing is armed. */
static inline uint64_t timers_next_expiry(const struct timers *t)
{
	return t->next;
}

/* Fire everything due at `now`; returns a set of enum timers_action bits
 * (0: nothing to do). */
unsigned timers_handle_expiry(struct timers *t, uint64_t now);

/* ---- events ---- */

/* A data message was sent with key k; plain_len 0 is a keepalive (which
 * expects no reply, so it does not arm the no-reply timer). */
void timers_data_sent(struct timers *t, uint64_t now, const struct timers_key *k, size_t plain_len);
/* A data message authenticated; cur describes the current keypair (the
 * receive-side rekey looks at it, whichever keypair the packet used);
 * plain_len 0 is a keepalive, which needs no keepalive in answer. */
void timers_data_received(struct timers *t, uint64_t now, const struct timers_key *cur, size_t plain_len);
/* The zero-length form of timers_data_received. */
void timers_keepalive_received(struct timers *t, uint64_t now, const struct timers_key *cur);
void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now);
void timers_any_authenticated_packet_received(struct timers *t, uint64_t now);
/* An initiation was sent (first or retry). */
void timers_handshake_initiated(struct timers *t, uint64_t now);
/* The handshake finished: initiator got the response, responder got the
 * first data message on the new keypair (paper §5.4.7). */
void timers_handshake_complete(struct timers *t, uint64_t now);
/* A new keypair was derived (either role). */
void timers_session_derived(struct timers *t, uint64_t now);
/* Packets wait and no keypair can send them. */
void timers_handshake_wanted(struct timers *t, uint64_t now);
/* Set the persistent keepalive interval in seconds (0: off). */
void timers_persistent_keepalive_set(struct timers *t, uint64_t now, uint16_t interval_s);
/* The keys were erased (after TIMERS_ACT_ZERO_KEYS, or by the caller). */
void timers_keys_zeroed(struct timers *t);

/* ---- keypair validity (paper §6.1 limits) ---- */

/* May a keypair still send? Not after REJECT_AFTER_TIME or once its counter
 * reached REJECT_AFTER_MESSAGES. */
bool timers_key_can_send(const struct timers_key *k, uint64_t now);
/* May a keypair still receive? Not after REJECT_AFTER_TIME; the counter
 * limit is the replay window's (replay.h). */
bool timers_key_can_receive(uint64_t birth, uint64_t now);

const char *timers_action_name(enum timers_action a);

#endif
