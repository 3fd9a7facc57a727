/* Protocol constants of the tunnel datapath, with the names of the
 * WireGuard paper (https://www.wireguard.com/papers/wireguard.pdf).
 *
 * The wire format and the paper's §6.1 constants already live in one header,
 * crypto/messages.h (message types, sizes, REKEY_AFTER_TIME ...), which the
 * handshake code shares; defining them twice would let the two drift, so
 * this header includes it, checks the values against the paper here, and
 * adds the nanosecond forms and the constants only the datapath uses. */
#ifndef RG_TUNNEL_CONST_H
#define RG_TUNNEL_CONST_H

#include <stdint.h>

#include "crypto/messages.h"

/* Paper §6.1 (and §5.4.6 for the counters), restated as checks. */
_Static_assert(REKEY_AFTER_MESSAGES == (1ULL << 60), "REKEY_AFTER_MESSAGES is 2^60");
_Static_assert(REJECT_AFTER_MESSAGES == 0xFFFFFFFFFFFFFFFFULL - (1ULL << 13), "REJECT_AFTER_MESSAGES is 2^64 - 2^13 - 1");
_Static_assert(REKEY_AFTER_TIME == 120, "REKEY_AFTER_TIME is 120 s");
_Static_assert(REJECT_AFTER_TIME == 180, "REJECT_AFTER_TIME is 180 s");
_Static_assert(REKEY_ATTEMPT_TIME == 90, "REKEY_ATTEMPT_TIME is 90 s");
_Static_assert(REKEY_TIMEOUT == 5, "REKEY_TIMEOUT is 5 s");
_Static_assert(KEEPALIVE_TIMEOUT == 10, "KEEPALIVE_TIMEOUT is 10 s");
_Static_assert(COOKIE_SECRET_MAX_AGE == 120, "COOKIE_SECRET_MAX_AGE is 120 s");
_Static_assert(MESSAGE_INITIATION_LEN == 148 && MESSAGE_RESPONSE_LEN == 92 && MESSAGE_COOKIE_LEN == 64 &&
               MESSAGE_DATA_HEADER_LEN == 16, "message sizes of paper §5.4");

/* The same durations in nanoseconds, the unit of every `now` here. */
#define REKEY_AFTER_TIME_NS ((uint64_t)REKEY_AFTER_TIME * NS_PER_SEC)
#define REJECT_AFTER_TIME_NS ((uint64_t)REJECT_AFTER_TIME * NS_PER_SEC)
#define REKEY_ATTEMPT_TIME_NS ((uint64_t)REKEY_ATTEMPT_TIME * NS_PER_SEC)
#define REKEY_TIMEOUT_NS ((uint64_t)REKEY_TIMEOUT * NS_PER_SEC)
#define KEEPALIVE_TIMEOUT_NS ((uint64_t)KEEPALIVE_TIMEOUT * NS_PER_SEC)
#define COOKIE_SECRET_MAX_AGE_NS ((uint64_t)COOKIE_SECRET_MAX_AGE * NS_PER_SEC)

/* Paper §6.1: "REKEY_TIMEOUT + jitter", the jitter being up to a third of a
 * second (Linux: HZ / 3). Spreads retries of peers that started together. */
#define REKEY_TIMEOUT_JITTER_MAX_NS (333ULL * 1000000ULL)

/* Paper §6.2: a responder whose current keypair is older than this when it
 * receives, and which initiated that keypair, starts a handshake at once, so
 * that a new keypair exists before REJECT_AFTER_TIME ends the old one. */
#define REKEY_LASTMINUTE_AGE_NS (REJECT_AFTER_TIME_NS - KEEPALIVE_TIMEOUT_NS - REKEY_TIMEOUT_NS)

/* Paper §6.3/6.4: after this long without a new session every key of a peer
 * is erased (forward secrecy for idle peers). */
#define ZERO_KEYS_AFTER_NS (3 * REJECT_AFTER_TIME_NS)

/* Handshake flood protection (Linux ratelimiter.c): per source address. */
#define HANDSHAKES_PER_SECOND 20
#define HANDSHAKES_BURSTABLE 5

/* The minimal transport payload of a keepalive: an empty data message
 * (paper §6.5), header plus tag. */
#define MESSAGE_KEEPALIVE_LEN MESSAGE_DATA_MIN_LEN

#endif
