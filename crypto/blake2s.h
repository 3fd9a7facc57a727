/* BLAKE2s (RFC 7693) and the constructions WireGuard builds on it:
 * HASH, MAC (keyed BLAKE2s with a 16- or 32-byte output), HMAC-BLAKE2s and
 * the HKDF of the WireGuard paper (KDF1/KDF2/KDF3).
 *
 * Implementation: OpenSSL 3.0 libcrypto ("BLAKE2S-256" EVP_MD, "BLAKE2SMAC"
 * and "HMAC" EVP_MACs), fetched once and used through per-thread contexts
 * that are re-initialised for each call; libsodium has no BLAKE2s. Only the
 * KDF chaining (a few HMAC calls, as the paper defines it) is written here.
 *
 * All functions return 0 or a negative errno (-ENOMEM if this thread's
 * context cannot be created, -EINVAL for a bad length, -EIO if OpenSSL
 * fails). Outputs may alias inputs. */
#ifndef RG_CRYPTO_BLAKE2S_H
#define RG_CRYPTO_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_BLAKE2S_HASH_LEN 32
#define CRYPTO_BLAKE2S_BLOCK_LEN 64
#define CRYPTO_BLAKE2S_KEY_MAX 32

/* out = BLAKE2s-256(in) */
int crypto_blake2s_hash(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *in, size_t len);
/* out = BLAKE2s-256(a || b): the paper's HASH(x || y) without a copy. */
int crypto_blake2s_hash2(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *a, size_t alen,
                         const void *b, size_t blen);
/* Keyed BLAKE2s (RFC 7693 §2.5: key in the parameter block and first block)
 * with an outlen-byte output, 1 <= outlen <= 32 (WireGuard uses 16: mac1,
 * mac2, cookie); 1 <= keylen <= 32. Not a truncation: outlen is part of the
 * parameter block. */
int crypto_blake2s_mac(uint8_t *out, size_t outlen, const void *key, size_t keylen,
                       const void *in, size_t len);
/* HMAC (RFC 2104) with BLAKE2s-256 as the hash, 32-byte output. */
int crypto_blake2s_hmac(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *key, size_t keylen,
                        const void *in, size_t len);
/* The WireGuard paper's KDFn(key, input) for n = 1, 2, 3:
 *   t0 = HMAC(key, input), t1 = HMAC(t0, 0x1), ti = HMAC(t0, t(i-1) || i).
 * out2/out3 may be NULL (KDF1, KDF2). Outputs may alias key. */
int crypto_blake2s_kdf(uint8_t out1[CRYPTO_BLAKE2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
                       const uint8_t key[CRYPTO_BLAKE2S_HASH_LEN], const void *in, size_t len);

#endif
