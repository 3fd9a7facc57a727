/* Shared by the crypto/ sources only: the algorithms fetched once by
 * crypto_init() and this thread's contexts. */
#ifndef RG_CRYPTO_INTERNAL_H
#define RG_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

struct crypto_algs {
	EVP_MD *blake2s;       /* "BLAKE2S-256" */
	EVP_MAC *blake2smac;   /* "BLAKE2SMAC" */
	EVP_MAC *hmac;         /* "HMAC" */
	EVP_CIPHER *chachapoly; /* "ChaCha20-Poly1305" */
};
extern struct crypto_algs crypto_algs;

struct crypto_aead {
	EVP_CIPHER_CTX *ctx;
};

struct crypto_thread_ctx {
	EVP_MD_CTX *md;
	EVP_MAC_CTX *b2mac;
	EVP_MAC_CTX *hmac; /* digest already set to BLAKE2s-256 */
	struct crypto_aead *aead;
};
/* This thread's contexts, created on first use; NULL on failure. */
struct crypto_thread_ctx *crypto_thread_ctx(void);

#endif
