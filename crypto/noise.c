/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard runs it (WireGuard
 * paper §5.4.2-§5.4.5; Noise spec rev. 34 §5 for MixHash, MixKey,
 * MixKeyAndHash, EncryptAndHash). Every step carries its Noise token.
 *
 * Each transition works on a local copy of the handshake, commits it to the
 * caller's object at the end of the success path, and leaves through one
 * exit that wipes the copy and every intermediate key. */
#include "crypto/noise.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/x25519.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

int noise_local_init(struct noise_local *l, const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
                     const struct crypto_rng *rng)
{
	memset(l, 0, sizeof(*l));
	memcpy(l->static_private, priv, NOISE_PUBLIC_KEY_LEN);
	crypto_x25519_clamp(l->static_private);
	l->rng = rng ? *rng : crypto_rng_system;
	int err = crypto_x25519_public(l->static_public, l->static_private);
	if (err)
		noise_local_wipe(l);
	return err;
}

void noise_local_wipe(struct noise_local *l)
{
	crypto_wipe(l, sizeof(*l));
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	crypto_wipe(hs, sizeof(*hs));
	hs->state = NOISE_HANDSHAKE_ZEROED;
}

const char *noise_verdict_name(enum noise_verdict v)
{
	switch (v) {
	case NOISE_OK: return "ok";
	case NOISE_REJECT_STATE: return "wrong state";
	case NOISE_REJECT_MALFORMED: return "malformed";
	case NOISE_REJECT_INDEX: return "unknown receiver index";
	case NOISE_REJECT_BAD_POINT: return "small-order key";
	case NOISE_REJECT_DECRYPT: return "decryption failed";
	case NOISE_REJECT_UNAUTHORIZED: return "unauthorized";
	case NOISE_REJECT_REPLAY: return "replayed timestamp";
	case NOISE_REJECT_INTERNAL: return "internal error";
	}
	return "?";
}

uint32_t noise_response_receiver_index(const void *pkt)
{
	return le32toh(((const struct message_handshake_response *)pkt)->receiver_index);
}

/* ---- symmetric state (Noise §5.2) --------------------------------------- */

/* Ci = HASH(Construction); Hi = HASH(Ci || Identifier);
 * Hi = HASH(Hi || Spub_r): the responder's static is IK's pre-message. */
static int handshake_init(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
                          const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	int err = crypto_blake2s_hash(ck, NOISE_CONSTRUCTION, sizeof(NOISE_CONSTRUCTION) - 1);
	if (!err)
		err = crypto_blake2s_hash2(h, ck, NOISE_HASH_LEN, NOISE_IDENTIFIER, sizeof(NOISE_IDENTIFIER) - 1);
	if (!err)
		err = crypto_blake2s_hash2(h, h, NOISE_HASH_LEN, responder_static, NOISE_PUBLIC_KEY_LEN);
	return err;
}

/* MixHash: h = HASH(h || in) */
static int mix_hash(uint8_t h[NOISE_HASH_LEN], const void *in, size_t len)
{
	return crypto_blake2s_hash2(h, h, NOISE_HASH_LEN, in, len);
}

/* MixKey: (ck, k) = KDF2(ck, in), or ck = KDF1(ck, in) when k is NULL. */
static int mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t *k, const void *in, size_t len)
{
	return crypto_blake2s_kdf(ck, k, NULL, ck, in, len);
}

/* MixKey(DH(priv, pub)); -EINVAL when the DH output is all zero. */
static int mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *k, const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
                  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	int err = crypto_x25519_shared(dh, priv, pub);
	if (!err)
		err = mix_key(ck, k, dh, sizeof(dh));
	crypto_wipe(dh, sizeof(dh));
	return err;
}

/* EncryptAndHash with a fresh key (nonce 0: every key in the handshake is
 * used once): dst = AEAD(k, 0, src, h); h = HASH(h || dst). */
static int encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t k[NOISE_SYMMETRIC_KEY_LEN],
                            uint8_t h[NOISE_HASH_LEN])
{
	struct crypto_aead *a = crypto_aead_thread();
	if (!a)
		return -ENOMEM;
	int err = crypto_aead_seal(a, k, 0, dst, src, len, h, NOISE_HASH_LEN);
	if (!err)
		err = mix_hash(h, dst, noise_encrypted_len(len));
	return err;
}

/* DecryptAndHash: dst = AEAD-Open(k, 0, src, h); h = HASH(h || src).
 * -EBADMSG on a bad tag. src holds len + 16 bytes. */
static int decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t k[NOISE_SYMMETRIC_KEY_LEN],
                            uint8_t h[NOISE_HASH_LEN])
{
	struct crypto_aead *a = crypto_aead_thread();
	if (!a)
		return -ENOMEM;
	int err = crypto_aead_open(a, k, 0, dst, src, noise_encrypted_len(len), h, NOISE_HASH_LEN);
	if (!err)
		err = mix_hash(h, src, noise_encrypted_len(len));
	return err;
}

static enum noise_verdict verdict_of(int err)
{
	switch (err) {
	case 0: return NOISE_OK;
	case -EBADMSG: return NOISE_REJECT_DECRYPT;
	case -EINVAL: return NOISE_REJECT_BAD_POINT;
	default: return NOISE_REJECT_INTERNAL;
	}
}

static bool header_is(const void *pkt, size_t len, enum message_type t)
{
	return message_type_of(pkt, len) == t;
}

/* The timestamp in an initiation is rounded down to a multiple of 2^24 ns
 * (~16.8 ms, the power of two below 1 s / INITIATIONS_PER_SECOND), as the
 * Linux implementation does: it does not reveal the initiator's clock
 * precisely, and two initiations within one such slot carry equal stamps, so
 * the responder's strictly-later check limits how fast a replayed or
 * flooding initiator can make it do the DH work of a response. */
static uint64_t whiten(uint64_t wall_ns)
{
	return wall_ns - (wall_ns % NS_PER_SEC) % (1u << 24);
}

/* ---- initiator ------------------------------------------------------------ */

int noise_initiation_create(struct noise_handshake *hs, const struct noise_local *local,
                            const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
                            const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN], uint32_t local_index, uint64_t wall_ns,
                            struct message_handshake_initiation *out)
{
	struct noise_handshake n = {0};
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int err;

	memset(out, 0, sizeof(*out));
	out->header.type = MESSAGE_HANDSHAKE_INITIATION;
	out->sender_index = htole32(local_index);
	memcpy(n.remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(n.preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	n.local_index = local_index;
	if ((err = handshake_init(n.chaining_key, n.hash, remote_static)))
		goto out;

	/* e */
	if ((err = crypto_x25519_generate(n.ephemeral_private, &local->rng)) ||
	    (err = crypto_x25519_public(e_pub, n.ephemeral_private)))
		goto out;
	memcpy(out->unencrypted_ephemeral, e_pub, sizeof(e_pub));
	if ((err = mix_hash(n.hash, e_pub, sizeof(e_pub))) || (err = mix_key(n.chaining_key, NULL, e_pub, sizeof(e_pub))))
		goto out;

	/* es */
	if ((err = mix_dh(n.chaining_key, key, n.ephemeral_private, remote_static)))
		goto out;

	/* s */
	if ((err = encrypt_and_hash(out->encrypted_static, local->static_public, NOISE_PUBLIC_KEY_LEN, key, n.hash)))
		goto out;

	/* ss */
	if ((err = mix_dh(n.chaining_key, key, local->static_private, remote_static)))
		goto out;

	/* {t}: the payload is the TAI64N timestamp */
	crypto_tai64n_encode(n.timestamp, whiten(wall_ns));
	if ((err = encrypt_and_hash(out->encrypted_timestamp, n.timestamp, NOISE_TIMESTAMP_LEN, key, n.hash)))
		goto out;

	n.state = NOISE_HANDSHAKE_CREATED_INITIATION;
	*hs = n;
out:
	if (err) {
		noise_handshake_clear(hs);
		memset(out, 0, sizeof(*out));
	}
	crypto_wipe(&n, sizeof(n));
	crypto_wipe(key, sizeof(key));
	return err;
}

enum noise_verdict noise_response_consume(struct noise_handshake *hs, const struct noise_local *local,
                                          const void *pkt, size_t len)
{
	const struct message_handshake_response *m = pkt;
	struct noise_handshake n;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], tau[NOISE_HASH_LEN], empty[1];
	enum noise_verdict v;
	int err = 0;

	if (hs->state != NOISE_HANDSHAKE_CREATED_INITIATION)
		return NOISE_REJECT_STATE;
	if (!header_is(pkt, len, MESSAGE_HANDSHAKE_RESPONSE))
		return NOISE_REJECT_MALFORMED;
	if (le32toh(m->receiver_index) != hs->local_index)
		return NOISE_REJECT_INDEX;
	n = *hs;

	/* e */
	memcpy(n.remote_ephemeral, m->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	if ((err = mix_hash(n.hash, n.remote_ephemeral, NOISE_PUBLIC_KEY_LEN)) ||
	    (err = mix_key(n.chaining_key, NULL, n.remote_ephemeral, NOISE_PUBLIC_KEY_LEN)))
		goto out;

	/* ee */
	if ((err = mix_dh(n.chaining_key, NULL, n.ephemeral_private, n.remote_ephemeral)))
		goto out;

	/* se */
	if ((err = mix_dh(n.chaining_key, NULL, local->static_private, n.remote_ephemeral)))
		goto out;

	/* psk: MixKeyAndHash(psk): (ck, tau, k) = KDF3(ck, psk); h = HASH(h || tau) */
	if ((err = crypto_blake2s_kdf(n.chaining_key, tau, key, n.chaining_key, n.preshared_key, NOISE_SYMMETRIC_KEY_LEN)) ||
	    (err = mix_hash(n.hash, tau, sizeof(tau))))
		goto out;

	/* {}: the empty payload authenticates the whole transcript */
	if ((err = decrypt_and_hash(empty, m->encrypted_nothing, 0, key, n.hash)))
		goto out;

	n.remote_index = le32toh(m->sender_index);
	n.state = NOISE_HANDSHAKE_CONSUMED_RESPONSE;
	*hs = n;
out:
	v = verdict_of(err);
	crypto_wipe(&n, sizeof(n));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(tau, sizeof(tau));
	return v;
}

/* ---- responder ------------------------------------------------------------ */

enum noise_verdict noise_initiation_consume(struct noise_handshake *hs, const struct noise_local *local,
                                            const void *pkt, size_t len)
{
	return noise_initiation_consume_ss(hs, local, pkt, len, NULL, NULL);
}

enum noise_verdict noise_initiation_consume_ss(struct noise_handshake *hs, const struct noise_local *local,
                                               const void *pkt, size_t len, noise_static_static_fn ss,
                                               void *ss_ctx)
{
	const struct message_handshake_initiation *m = pkt;
	struct noise_handshake n = {0};
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	enum noise_verdict v;
	int err = 0;

	noise_handshake_clear(hs);
	if (!header_is(pkt, len, MESSAGE_HANDSHAKE_INITIATION))
		return NOISE_REJECT_MALFORMED;
	if ((err = handshake_init(n.chaining_key, n.hash, local->static_public)))
		goto out;

	/* e */
	memcpy(n.remote_ephemeral, m->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	if ((err = mix_hash(n.hash, n.remote_ephemeral, NOISE_PUBLIC_KEY_LEN)) ||
	    (err = mix_key(n.chaining_key, NULL, n.remote_ephemeral, NOISE_PUBLIC_KEY_LEN)))
		goto out;

	/* es */
	if ((err = mix_dh(n.chaining_key, key, local->static_private, n.remote_ephemeral)))
		goto out;

	/* s: the initiator's static key, authenticated from here on */
	if ((err = decrypt_and_hash(n.remote_static, m->encrypted_static, NOISE_PUBLIC_KEY_LEN, key, n.hash)))
		goto out;

	/* ss */
	const uint8_t *pre = ss ? ss(ss_ctx, n.remote_static) : NULL;
	if (pre)
		err = mix_key(n.chaining_key, key, pre, NOISE_PUBLIC_KEY_LEN);
	else
		err = mix_dh(n.chaining_key, key, local->static_private, n.remote_static);
	if (err)
		goto out;

	/* {t} */
	if ((err = decrypt_and_hash(n.timestamp, m->encrypted_timestamp, NOISE_TIMESTAMP_LEN, key, n.hash)))
		goto out;

	n.remote_index = le32toh(m->sender_index);
	n.state = NOISE_HANDSHAKE_CONSUMED_INITIATION;
	*hs = n;
out:
	v = verdict_of(err);
	crypto_wipe(&n, sizeof(n));
	crypto_wipe(key, sizeof(key));
	return v;
}

enum noise_verdict noise_initiation_accept(struct noise_handshake *hs, bool authorized,
                                           const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN],
                                           const uint8_t last_timestamp[NOISE_TIMESTAMP_LEN])
{
	enum noise_verdict v = NOISE_OK;
	if (hs->state != NOISE_HANDSHAKE_CONSUMED_INITIATION)
		v = NOISE_REJECT_STATE;
	else if (!authorized)
		v = NOISE_REJECT_UNAUTHORIZED;
	else if (last_timestamp && crypto_tai64n_compare(hs->timestamp, last_timestamp) <= 0)
		v = NOISE_REJECT_REPLAY;
	if (v != NOISE_OK) {
		noise_handshake_clear(hs);
		return v;
	}
	if (psk)
		memcpy(hs->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	else
		memset(hs->preshared_key, 0, NOISE_SYMMETRIC_KEY_LEN);
	hs->state = NOISE_HANDSHAKE_ACCEPTED_INITIATION;
	return NOISE_OK;
}

int noise_response_create(struct noise_handshake *hs, const struct noise_local *local, uint32_t local_index,
                          struct message_handshake_response *out)
{
	struct noise_handshake n;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], tau[NOISE_HASH_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (hs->state != NOISE_HANDSHAKE_ACCEPTED_INITIATION)
		return -EINVAL;
	n = *hs;
	out->header.type = MESSAGE_HANDSHAKE_RESPONSE;
	out->sender_index = htole32(local_index);
	out->receiver_index = htole32(n.remote_index);
	n.local_index = local_index;

	/* e */
	if ((err = crypto_x25519_generate(n.ephemeral_private, &local->rng)) ||
	    (err = crypto_x25519_public(e_pub, n.ephemeral_private)))
		goto out;
	memcpy(out->unencrypted_ephemeral, e_pub, sizeof(e_pub));
	if ((err = mix_hash(n.hash, e_pub, sizeof(e_pub))) || (err = mix_key(n.chaining_key, NULL, e_pub, sizeof(e_pub))))
		goto out;

	/* ee */
	if ((err = mix_dh(n.chaining_key, NULL, n.ephemeral_private, n.remote_ephemeral)))
		goto out;

	/* se */
	if ((err = mix_dh(n.chaining_key, NULL, n.ephemeral_private, n.remote_static)))
		goto out;

	/* psk: (ck, tau, k) = KDF3(ck, psk); h = HASH(h || tau) */
	if ((err = crypto_blake2s_kdf(n.chaining_key, tau, key, n.chaining_key, n.preshared_key, NOISE_SYMMETRIC_KEY_LEN)) ||
	    (err = mix_hash(n.hash, tau, sizeof(tau))))
		goto out;

	/* {} */
	if ((err = encrypt_and_hash(out->encrypted_nothing, e_pub, 0, key, n.hash)))
		goto out;

	/* The ephemeral is spent: only the chaining key is needed from here. */
	crypto_wipe(n.ephemeral_private, sizeof(n.ephemeral_private));
	n.state = NOISE_HANDSHAKE_CREATED_RESPONSE;
	*hs = n;
out:
	if (err) {
		noise_handshake_clear(hs);
		memset(out, 0, sizeof(*out));
	}
	crypto_wipe(&n, sizeof(n));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(tau, sizeof(tau));
	return err;
}

/* ---- transport keys ------------------------------------------------------- */

int noise_handshake_begin_session(struct noise_handshake *hs, struct crypto_keypair *kp)
{
	uint8_t t1[NOISE_SYMMETRIC_KEY_LEN], t2[NOISE_SYMMETRIC_KEY_LEN];
	bool initiator = hs->state == NOISE_HANDSHAKE_CONSUMED_RESPONSE;
	int err;

	if (!initiator && hs->state != NOISE_HANDSHAKE_CREATED_RESPONSE)
		return -EINVAL;
	/* Split(): (T1, T2) = KDF2(C, empty); the initiator sends with T1. */
	if ((err = crypto_blake2s_kdf(t1, t2, NULL, hs->chaining_key, NULL, 0)))
		goto out;
	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, initiator ? t1 : t2, sizeof(t1));
	memcpy(kp->recv_key, initiator ? t2 : t1, sizeof(t1));
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->is_initiator = initiator;
	noise_handshake_clear(hs);
out:
	crypto_wipe(t1, sizeof(t1));
	crypto_wipe(t2, sizeof(t2));
	return err;
}
