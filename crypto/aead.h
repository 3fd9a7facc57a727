/* AEADs: ChaCha20-Poly1305 (RFC 8439) with WireGuard's 64-bit counter nonce
 * (4 zero bytes then the counter, little-endian), and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha-03) for cookie replies.
 *
 * Implementation, chosen by measurement (tests/crypto/cryptobench.c):
 * ChaCha20-Poly1305 from OpenSSL 3.0 libcrypto (about twice libsodium's
 * speed on 1420-byte packets here: it has AVX2/AVX-512 code paths), through a
 * pre-fetched EVP_CIPHER and one EVP_CIPHER_CTX per worker re-initialised
 * with the key and nonce for each packet: no allocation per packet.
 * XChaCha20-Poly1305 from libsodium (OpenSSL 3.0 has no XChaCha).
 *
 * Lengths: the tag is CRYPTO_AEAD_TAG_LEN bytes after the ciphertext;
 * dst == src (in place) is allowed, other overlaps are not. */
#ifndef RG_CRYPTO_AEAD_H
#define RG_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_AEAD_KEY_LEN 32
#define CRYPTO_AEAD_TAG_LEN 16
#define CRYPTO_AEAD_NONCE_LEN 12
#define CRYPTO_XAEAD_NONCE_LEN 24
/* OpenSSL takes int lengths; a datagram is far smaller. */
#define CRYPTO_AEAD_MAX_LEN (1u << 30)

/* One per worker (or per thread): owns an EVP_CIPHER_CTX. Not thread-safe;
 * a context may be used with any number of keys. */
struct crypto_aead;

/* NULL on allocation failure. */
struct crypto_aead *crypto_aead_new(void);
void crypto_aead_free(struct crypto_aead *a);

/* dst[0..len) = ChaCha20(src), dst[len..len+16) = tag. 0 or -EINVAL / -EIO. */
int crypto_aead_seal(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN], uint64_t counter,
                     uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen);
/* src is len bytes of ciphertext including the 16-byte tag; dst receives
 * len - 16 bytes. 0, or -EBADMSG when the tag does not verify (dst then holds
 * unauthenticated bytes: the caller must drop it), -EINVAL, -EIO. */
int crypto_aead_open(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN], uint64_t counter,
                     uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen);

/* The same with an arbitrary 96-bit RFC 8439 nonce (for known-answer
 * tests and other protocols). */
int crypto_aead_seal_nonce(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN],
                           const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], uint8_t *dst, const uint8_t *src, size_t len,
                           const void *ad, size_t adlen);
int crypto_aead_open_nonce(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN],
                           const uint8_t nonce[CRYPTO_AEAD_NONCE_LEN], uint8_t *dst, const uint8_t *src, size_t len,
                           const void *ad, size_t adlen);

/* XChaCha20-Poly1305 (libsodium), same layout, 24-byte nonce. Same errors. */
int crypto_xaead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
                      uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen);
int crypto_xaead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
                      uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen);

/* This thread's context, created on first use (NULL on allocation failure):
 * for handshake messages, which are not on the per-packet path. */
struct crypto_aead *crypto_aead_thread(void);

#endif
