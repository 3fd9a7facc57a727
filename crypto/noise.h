/* WireGuard's handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with the
 * prologue "WireGuard v1 zx2c4 Jason@zx2c4.com" (WireGuard paper §5.4).
 *
 * Sans-IO: functions take bytes, keys and the wall time, and return message
 * bytes, verdicts and transport keys. No socket, no clock; randomness (the
 * ephemeral keys) comes from the crypto_rng given to noise_local_init().
 * mac1/mac2 are not touched here: cookie.h adds them to outgoing messages
 * and checks them on incoming ones before these functions run.
 *
 * Initiator:
 *   noise_initiation_create(hs, ...)      -> 148-byte initiation, add MACs, send
 *   noise_response_consume(hs, ...)       -> NOISE_OK
 *   noise_handshake_begin_session(hs, kp) -> transport keys
 * Responder (after cookie_checker_validate() accepted the MACs):
 *   noise_initiation_consume(hs, ...)     -> hs->remote_static is the
 *       initiator's static key, decrypted and authenticated (es, ss);
 *       hs->timestamp its TAI64N. The caller looks the peer up by that key.
 *   noise_initiation_accept(hs, authorized, psk, last_timestamp)
 *       -> the caller's decision, the peer's psk, and the replay check
 *          against the last timestamp the caller saw from that peer
 *   noise_response_create(hs, ...)        -> 92-byte response, add MACs, send
 *   noise_handshake_begin_session(hs, kp) -> transport keys
 *
 * A struct noise_handshake is plain data and may be copied: the responder
 * may consume into a scratch object and copy it into the peer afterwards.
 * Every function checks the state first and commits the new state only on
 * success; a failed consume leaves a handshake in progress untouched
 * (a forged response must not end a handshake), a failed
 * noise_initiation_consume leaves hs zeroed. */
#ifndef RG_CRYPTO_NOISE_H
#define RG_CRYPTO_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keypair.h"
#include "crypto/messages.h"
#include "crypto/util.h"

#define NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define NOISE_IDENTIFIER "WireGuard v1 zx2c4 Jason@zx2c4.com"

/* This side's identity, and where its randomness comes from. */
struct noise_local {
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	struct crypto_rng rng;
};

/* priv is clamped into l->static_private; rng NULL means the system
 * generator. 0 or -EINVAL (priv gives no public key), -ENOMEM. */
int noise_local_init(struct noise_local *l, const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
                     const struct crypto_rng *rng);
void noise_local_wipe(struct noise_local *l);

enum noise_handshake_state {
	NOISE_HANDSHAKE_ZEROED = 0,
	NOISE_HANDSHAKE_CREATED_INITIATION,  /* initiator, waiting for a response */
	NOISE_HANDSHAKE_CONSUMED_INITIATION, /* responder, waiting for the caller's decision */
	NOISE_HANDSHAKE_ACCEPTED_INITIATION, /* responder, may create the response */
	NOISE_HANDSHAKE_CREATED_RESPONSE,    /* responder, keys ready */
	NOISE_HANDSHAKE_CONSUMED_RESPONSE,   /* initiator, keys ready */
};

struct noise_handshake {
	enum noise_handshake_state state;
	uint32_t local_index;  /* our sender index in this handshake */
	uint32_t remote_index; /* the peer's sender index */
	/* Readable by the caller after noise_initiation_consume(). */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN]; /* sent (initiator) or received */
	/* Secrets. */
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
};

enum noise_verdict {
	NOISE_OK = 0,
	NOISE_REJECT_STATE,        /* called in the wrong state */
	NOISE_REJECT_MALFORMED,    /* length, type or reserved bytes wrong */
	NOISE_REJECT_INDEX,        /* response not addressed to this handshake */
	NOISE_REJECT_BAD_POINT,    /* a DH gave all zeros (small-order key) */
	NOISE_REJECT_DECRYPT,      /* an AEAD tag failed: wrong keys or tampered */
	NOISE_REJECT_UNAUTHORIZED, /* the caller refused the initiator's key */
	NOISE_REJECT_REPLAY,       /* timestamp not later than the last one seen */
	NOISE_REJECT_INTERNAL,     /* allocation, randomness or library failure */
};
const char *noise_verdict_name(enum noise_verdict v);

/* Wipe everything; state becomes NOISE_HANDSHAKE_ZEROED. */
void noise_handshake_clear(struct noise_handshake *hs);

/* Initiator: start a handshake with the responder's static key and the
 * pair's psk (NULL: the all-zero psk WireGuard uses when none is set).
 * local_index is this handshake's sender index (chosen by the caller's index
 * table); wall_ns the wall clock (ns since the Unix epoch) for the TAI64N
 * timestamp. Any previous state is overwritten. Writes out without MACs
 * (zero). 0 or negative errno: -EINVAL (remote_static is a small-order
 * point), -ENOMEM, -EIO; hs is zeroed on error. */
int noise_initiation_create(struct noise_handshake *hs, const struct noise_local *local,
                            const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
                            const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN], uint32_t local_index, uint64_t wall_ns,
                            struct message_handshake_initiation *out);

/* Responder: decrypt an initiation of len bytes into hs (any previous state
 * is overwritten). On NOISE_OK, hs->remote_static, hs->timestamp and
 * hs->remote_index describe the initiator; the caller decides next. */
enum noise_verdict noise_initiation_consume(struct noise_handshake *hs, const struct noise_local *local,
                                            const void *pkt, size_t len);

/* The static-static DH, DH(our static private, the initiator's static
 * public), depends only on the two keys, so a responder that knows its
 * peers can compute it once per peer instead of once per handshake (the
 * Linux implementation keeps it per peer): one Curve25519 operation of the
 * four a responder does. Called with the initiator's static key as soon as
 * it is decrypted; returns that DH computed earlier, or NULL to have it
 * computed now. A wrong value only makes the handshake fail (the timestamp
 * does not decrypt). */
typedef const uint8_t *(*noise_static_static_fn)(void *ctx, const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN]);

/* noise_initiation_consume, asking `ss` (may be NULL) for the DH above. */
enum noise_verdict noise_initiation_consume_ss(struct noise_handshake *hs, const struct noise_local *local,
                                               const void *pkt, size_t len, noise_static_static_fn ss,
                                               void *ss_ctx);

/* Responder: the caller's decision on hs->remote_static. authorized false
 * gives NOISE_REJECT_UNAUTHORIZED; last_timestamp (NULL: none seen yet) is
 * the latest timestamp previously accepted from this peer, and hs->timestamp
 * must be strictly later (NOISE_REJECT_REPLAY). psk NULL means all zero.
 * Every rejection clears hs. On NOISE_OK the caller stores hs->timestamp as
 * the peer's new last timestamp. */
enum noise_verdict noise_initiation_accept(struct noise_handshake *hs, bool authorized,
                                           const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN],
                                           const uint8_t last_timestamp[NOISE_TIMESTAMP_LEN]);

/* Responder: build the response (without MACs) with our sender index.
 * 0 or -EINVAL (wrong state or a small-order ephemeral), -ENOMEM, -EIO;
 * hs is cleared on error. */
int noise_response_create(struct noise_handshake *hs, const struct noise_local *local, uint32_t local_index,
                          struct message_handshake_response *out);

/* Initiator: consume a response. hs is untouched unless NOISE_OK. */
enum noise_verdict noise_response_consume(struct noise_handshake *hs, const struct noise_local *local,
                                          const void *pkt, size_t len);

/* Both: derive the transport keypair (paper §5.4.5: KDF2(C, empty), the
 * initiator sends with the first key) and clear hs. -EINVAL in a state that
 * has no keys. */
int noise_handshake_begin_session(struct noise_handshake *hs, struct crypto_keypair *kp);

/* The receiver index of a response (the caller's lookup of hs), after
 * message_type_of() said MESSAGE_HANDSHAKE_RESPONSE. */
uint32_t noise_response_receiver_index(const void *pkt);

#endif
