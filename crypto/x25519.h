/* X25519 (RFC 7748) through libsodium's crypto_scalarmult: it takes raw
 * 32-byte keys with no per-call object (OpenSSL's EVP_PKEY derive costs two
 * key objects and a context per call) and runs at the same speed here
 * (tests/crypto/cryptobench.c). Scalars are clamped by the primitive
 * (RFC 7748 §5), so unclamped private keys give the same results as `wg`. */
#ifndef RG_CRYPTO_X25519_H
#define RG_CRYPTO_X25519_H

#include <stdint.h>

#include "crypto/util.h"

#define CRYPTO_X25519_KEY_LEN 32

/* Clamp a private key in place (RFC 7748 §5 decodeScalar25519). */
void crypto_x25519_clamp(uint8_t priv[CRYPTO_X25519_KEY_LEN]);
/* 32 random bytes from rng (NULL: the system generator), clamped. */
int crypto_x25519_generate(uint8_t priv[CRYPTO_X25519_KEY_LEN], const struct crypto_rng *rng);
/* pub = X25519(priv, 9). 0 or -EINVAL. */
int crypto_x25519_public(uint8_t pub[CRYPTO_X25519_KEY_LEN], const uint8_t priv[CRYPTO_X25519_KEY_LEN]);
/* out = X25519(priv, pub). -EINVAL when the result is all zero (pub of
 * small order, RFC 7748 §6.1's check), out is then zeroed. */
int crypto_x25519_shared(uint8_t out[CRYPTO_X25519_KEY_LEN], const uint8_t priv[CRYPTO_X25519_KEY_LEN],
                         const uint8_t pub[CRYPTO_X25519_KEY_LEN]);

#endif
