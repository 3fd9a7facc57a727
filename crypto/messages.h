/* The WireGuard wire format and protocol constants, with the names of the
 * WireGuard paper (https://www.wireguard.com/papers/wireguard.pdf, §5 and
 * §6). All integers on the wire are little-endian; the structs are packed so
 * they may be laid over a datagram at any alignment. */
#ifndef RG_CRYPTO_MESSAGES_H
#define RG_CRYPTO_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/util.h"
#include "crypto/x25519.h"

#define NOISE_PUBLIC_KEY_LEN CRYPTO_X25519_KEY_LEN
#define NOISE_SYMMETRIC_KEY_LEN CRYPTO_AEAD_KEY_LEN
#define NOISE_TIMESTAMP_LEN CRYPTO_TAI64N_LEN
#define NOISE_AUTHTAG_LEN CRYPTO_AEAD_TAG_LEN
#define NOISE_HASH_LEN CRYPTO_BLAKE2S_HASH_LEN
#define noise_encrypted_len(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

#define COOKIE_SECRET_LEN 32
#define COOKIE_LEN 16
#define COOKIE_NONCE_LEN CRYPTO_XAEAD_NONCE_LEN

/* Time constants of the paper's §6.1, in seconds (the tunnel timers use
 * them; crypto/ uses only REJECT_AFTER_MESSAGES and the cookie ones). */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13)) /* 2^64 - 2^13 - 1 */
#define REKEY_AFTER_TIME 120
#define REJECT_AFTER_TIME 180
#define REKEY_ATTEMPT_TIME 90
#define REKEY_TIMEOUT 5
#define KEEPALIVE_TIMEOUT 10
#define COOKIE_SECRET_MAX_AGE 120
#define COOKIE_SECRET_LATENCY 5
#define INITIATIONS_PER_SECOND 50
#define MAX_TIMER_HANDSHAKES (90 / 5)

#define NS_PER_SEC 1000000000ULL

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

/* One byte of type and three reserved bytes that must be zero: receivers
 * compare all four bytes, as a little-endian 32-bit value. */
struct message_header {
	uint8_t type;
	uint8_t reserved_zero[3];
} __attribute__((packed));

struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
} __attribute__((packed));

struct message_handshake_initiation {
	struct message_header header;
	uint32_t sender_index; /* le */
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_response {
	struct message_header header;
	uint32_t sender_index;   /* le */
	uint32_t receiver_index; /* le */
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[noise_encrypted_len(0)];
	struct message_macs macs;
} __attribute__((packed));

struct message_handshake_cookie {
	struct message_header header;
	uint32_t receiver_index; /* le */
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[noise_encrypted_len(COOKIE_LEN)];
} __attribute__((packed));

struct message_data {
	struct message_header header;
	uint32_t key_idx; /* le: the receiver's index */
	uint64_t counter; /* le */
	uint8_t encrypted_data[];
} __attribute__((packed));

#define MESSAGE_INITIATION_LEN 148
#define MESSAGE_RESPONSE_LEN 92
#define MESSAGE_COOKIE_LEN 64
#define MESSAGE_DATA_HEADER_LEN 16
#define MESSAGE_DATA_MIN_LEN (MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN)

_Static_assert(sizeof(struct message_handshake_initiation) == MESSAGE_INITIATION_LEN, "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == MESSAGE_RESPONSE_LEN, "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == MESSAGE_COOKIE_LEN, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == MESSAGE_DATA_HEADER_LEN, "data header is 16 bytes");

/* The message type of a datagram, MESSAGE_INVALID when it is too short for
 * that type, the reserved bytes are not zero or the type is unknown. The
 * demultiplexer's first step. */
static inline enum message_type message_type_of(const void *pkt, size_t len)
{
	const uint8_t *p = pkt;
	if (len < sizeof(struct message_header) || p[1] | p[2] | p[3])
		return MESSAGE_INVALID;
	switch (p[0]) {
	case MESSAGE_HANDSHAKE_INITIATION:
		return len == MESSAGE_INITIATION_LEN ? MESSAGE_HANDSHAKE_INITIATION : MESSAGE_INVALID;
	case MESSAGE_HANDSHAKE_RESPONSE:
		return len == MESSAGE_RESPONSE_LEN ? MESSAGE_HANDSHAKE_RESPONSE : MESSAGE_INVALID;
	case MESSAGE_HANDSHAKE_COOKIE:
		return len == MESSAGE_COOKIE_LEN ? MESSAGE_HANDSHAKE_COOKIE : MESSAGE_INVALID;
	case MESSAGE_DATA:
		return len >= MESSAGE_DATA_MIN_LEN ? MESSAGE_DATA : MESSAGE_INVALID;
	default:
		return MESSAGE_INVALID;
	}
}

#endif
