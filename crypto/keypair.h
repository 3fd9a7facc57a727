/* A transport keypair: what a completed handshake leaves behind. Sending
 * takes the next counter and seals a data message in place; receiving opens
 * one in place and hands the counter back. The replay window, the key
 * rotation timers and the choice of keypair belong to the tunnel datapath.
 *
 * Data message layout (WireGuard paper §5.4.6):
 *   type 4 | 3 zero | receiver index (le32) | counter (le64) | AEAD(payload)
 * with key = the direction's transport key, nonce = the counter, no AD. */
#ifndef RG_CRYPTO_KEYPAIR_H
#define RG_CRYPTO_KEYPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/messages.h"

struct crypto_keypair {
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t send_counter;  /* next counter to send */
	uint32_t local_index;   /* ours: arrives in the peer's data headers */
	uint32_t remote_index;  /* theirs: written into our data headers */
	bool is_initiator;      /* the responder must not send before it has
	                         * received (paper §5.4.7); the datapath decides */
};

enum crypto_keypair_verdict {
	CRYPTO_KEYPAIR_OK = 0,
	CRYPTO_KEYPAIR_MALFORMED,        /* too short, not type 4, reserved bytes set */
	CRYPTO_KEYPAIR_WRONG_INDEX,      /* receiver index is not this keypair's */
	CRYPTO_KEYPAIR_COUNTER_EXHAUSTED,/* counter >= REJECT_AFTER_MESSAGES */
	CRYPTO_KEYPAIR_DECRYPT_FAILED,   /* tag mismatch: forged, corrupted, wrong key */
	CRYPTO_KEYPAIR_INTERNAL,         /* the AEAD library failed */
};

/* Seal in place. pkt holds MESSAGE_DATA_HEADER_LEN bytes of room, then
 * plain_len bytes of payload (already padded by the caller), then
 * NOISE_AUTHTAG_LEN bytes of room. Writes the header and takes the next
 * counter. *pkt_len = header + plain_len + tag. 0, -EKEYEXPIRED when the
 * counter reached REJECT_AFTER_MESSAGES, -EINVAL, -EIO. */
int crypto_keypair_seal(struct crypto_keypair *kp, struct crypto_aead *a, uint8_t *pkt, size_t plain_len,
                        size_t *pkt_len);

/* Open in place: on CRYPTO_KEYPAIR_OK the payload is pkt[16 .. 16+*plain_len)
 * and *counter is the message's counter, for the caller's replay window
 * (checked only now, after authentication). On any other verdict the packet
 * must be dropped. */
enum crypto_keypair_verdict crypto_keypair_open(const struct crypto_keypair *kp, struct crypto_aead *a,
                                                uint8_t *pkt, size_t len, uint64_t *counter, size_t *plain_len);

/* The receiver index of a data message (le32 at offset 4), for the lookup
 * of the keypair; the caller has checked message_type_of() first. */
uint32_t crypto_keypair_index_of(const uint8_t *pkt);

void crypto_keypair_wipe(struct crypto_keypair *kp);

#endif
