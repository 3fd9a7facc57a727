/* mac1, mac2 and cookie replies (WireGuard paper §5.3, §5.4.4, §5.4.7).
 *
 *   mac1 = MAC(HASH(LABEL_MAC1 || Spub_receiver), msg up to mac1)   always
 *   mac2 = MAC(cookie, msg up to mac2), or 16 zero bytes without a cookie
 *   cookie = MAC(Rm, source address bytes), Rm random, renewed every
 *            COOKIE_SECRET_MAX_AGE (120 s)
 *   reply  = XAEAD(HASH(LABEL_COOKIE || Spub_responder), random 24-byte
 *            nonce, cookie, AD = mac1 of the message that triggered it)
 * MAC is keyed BLAKE2s with a 16-byte output.
 *
 * The checker is the receiving side (one per local static key, per worker:
 * it keeps the secret); the maker is the sending side (one per peer). Both
 * are sans-IO: now is a monotonic clock in nanoseconds, passed in, and
 * randomness comes in at init. Whether the responder is under load, and so
 * demands mac2, is the caller's decision. */
#ifndef RG_CRYPTO_COOKIE_H
#define RG_CRYPTO_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/messages.h"
#include "crypto/util.h"

#define COOKIE_LABEL_MAC1 "mac1----"
#define COOKIE_LABEL_COOKIE "cookie--"
/* Address bytes: IPv6 address and port, the largest case. */
#define COOKIE_ADDR_MAX 18

struct cookie_checker {
	uint8_t secret[COOKIE_SECRET_LEN];
	uint64_t secret_birthdate; /* ns, monotonic */
	bool have_secret;
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie_encryption_key[NOISE_SYMMETRIC_KEY_LEN];
	struct crypto_rng rng;
};

/* One per peer, so kept small (a tunnel worker holds thousands): the two
 * keys derived from the peer's public key are not stored but derived again
 * per handshake message (two BLAKE2s calls beside a handshake's four
 * Curve25519 operations). */
struct cookie_maker {
	const uint8_t *remote_static; /* the peer's public key; outlives the maker */
	uint8_t cookie[COOKIE_LEN];
	uint8_t last_mac1_sent[COOKIE_LEN];
	uint64_t cookie_birthdate; /* ns, monotonic */
	bool have_cookie;
	bool have_sent_mac1;
};

enum cookie_mac_verdict {
	COOKIE_MAC_INVALID = 0, /* malformed, or mac1 wrong: drop silently */
	COOKIE_MAC_VALID_MAC1,  /* mac1 right, mac2 absent or wrong */
	COOKIE_MAC_VALID_MAC2,  /* both right: the source address is proven */
	COOKIE_MAC_INTERNAL,    /* library or randomness failure: drop */
};

enum cookie_reply_verdict {
	COOKIE_REPLY_OK = 0,
	COOKIE_REPLY_MALFORMED,  /* not a 64-byte type-3 message */
	COOKIE_REPLY_UNEXPECTED, /* we have no outstanding mac1 to match */
	COOKIE_REPLY_DECRYPT,    /* AEAD failed: wrong key, wrong AD, forged */
	COOKIE_REPLY_INTERNAL,
};

/* The bytes the cookie is computed over: the IP address then the port as on
 * the wire (big-endian). Returns their length (6 or 18), 0 for other
 * address families. */
size_t cookie_addr_bytes(const struct sockaddr *sa, uint8_t out[COOKIE_ADDR_MAX]);

/* local_static_public: this side's static public key. rng NULL: system.
 * 0 or negative errno. */
int cookie_checker_init(struct cookie_checker *c, const uint8_t local_static_public[NOISE_PUBLIC_KEY_LEN],
                        const struct crypto_rng *rng);
void cookie_checker_wipe(struct cookie_checker *c);

/* Check the MACs of a handshake initiation or response (len must be
 * MESSAGE_INITIATION_LEN or MESSAGE_RESPONSE_LEN with a matching type).
 * src/src_len are the source address bytes (cookie_addr_bytes()). mac2 is
 * checked only when it is not all zero. May renew the secret (now). */
enum cookie_mac_verdict cookie_checker_validate(struct cookie_checker *c, const void *pkt, size_t len,
                                                const uint8_t *src, size_t src_len, uint64_t now);

/* Build the cookie reply to a handshake message whose mac1 was valid:
 * receiver index = the message's sender index. 0 or negative errno. */
int cookie_reply_create(struct cookie_checker *c, struct message_handshake_cookie *out, const void *pkt,
                        size_t len, const uint8_t *src, size_t src_len, uint64_t now);

/* remote_static_public: the static public key of the side we send to; the
 * maker keeps the pointer, so those bytes must outlive it. */
int cookie_maker_init(struct cookie_maker *m, const uint8_t remote_static_public[NOISE_PUBLIC_KEY_LEN]);
void cookie_maker_wipe(struct cookie_maker *m);

/* Fill mac1 and mac2 of an outgoing initiation or response (len as above),
 * as the last step before sending. mac2 uses the cookie if one was received
 * less than COOKIE_SECRET_MAX_AGE ago, zeros otherwise. 0 or -EINVAL, -EIO. */
int cookie_maker_add_macs(struct cookie_maker *m, void *pkt, size_t len, uint64_t now);

/* Consume a cookie reply addressed to us (the caller matched its receiver
 * index to this peer's handshake). Decrypts with the mac1 we sent last as
 * AD; on COOKIE_REPLY_OK the next add_macs carries mac2. A reply is
 * accepted once per mac1 sent. */
enum cookie_reply_verdict cookie_maker_consume_reply(struct cookie_maker *m, const void *pkt, size_t len,
                                                     uint64_t now);

#endif
