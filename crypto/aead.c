#include "crypto/aead.h"
#include "crypto/internal.h"
#include "crypto/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

struct crypto_aead *crypto_aead_new(void)
{
	if (crypto_init())
		return NULL;
	struct crypto_aead *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->ctx = EVP_CIPHER_CTX_new();
	/* Bind the cipher once; per packet only key and nonce are set. */
	if (!a->ctx || !EVP_CipherInit_ex2(a->ctx, crypto_algs.chachapoly, NULL, NULL, 1, NULL)) {
		crypto_aead_free(a);
		return NULL;
	}
	return a;
}

void crypto_aead_free(struct crypto_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* cleanses the key schedule */
	free(a);
}

struct crypto_aead *crypto_aead_thread(void)
{
	struct crypto_thread_ctx *t = crypto_thread_ctx();
	return t ? t->aead : NULL;
}

/* RFC 8439 §2.8 nonce as WireGuard and Noise use it: 32 zero bits, then the
 * 64-bit counter little-endian. */
static void nonce96(uint8_t n[CRYPTO_AEAD_NONCE_LEN], uint64_t counter)
{
	for (int i = 0; i < 4; i++)
		n[i] = 0;
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

int crypto_aead_seal(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN], uint64_t counter,
                     uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen)
{
	uint8_t n[CRYPTO_AEAD_NONCE_LEN];
	nonce96(n, counter);
	return crypto_aead_seal_nonce(a, key, n, dst, src, len, ad, adlen);
}

int crypto_aead_open(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN], uint64_t counter,
                     uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen)
{
	uint8_t n[CRYPTO_AEAD_NONCE_LEN];
	nonce96(n, counter);
	return crypto_aead_open_nonce(a, key, n, dst, src, len, ad, adlen);
}

int crypto_aead_seal_nonce(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN],
                           const uint8_t n[CRYPTO_AEAD_NONCE_LEN], uint8_t *dst, const uint8_t *src, size_t len,
                           const void *ad, size_t adlen)
{
	if (len > CRYPTO_AEAD_MAX_LEN || adlen > CRYPTO_AEAD_MAX_LEN)
		return -EINVAL;
	int adl = 0, outl = 0, finl = 0;
	EVP_CIPHER_CTX *c = a->ctx;
	if (!EVP_EncryptInit_ex2(c, NULL, key, n, NULL) ||
	    (adlen && !EVP_EncryptUpdate(c, NULL, &adl, ad, (int)adlen)) ||
	    (len && !EVP_EncryptUpdate(c, dst, &outl, src, (int)len)) || !EVP_EncryptFinal_ex(c, dst + outl, &finl) ||
	    (size_t)outl + (size_t)finl != len ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CRYPTO_AEAD_TAG_LEN, dst + len) <= 0)
		return -EIO;
	return 0;
}

int crypto_aead_open_nonce(struct crypto_aead *a, const uint8_t key[CRYPTO_AEAD_KEY_LEN],
                           const uint8_t n[CRYPTO_AEAD_NONCE_LEN], uint8_t *dst, const uint8_t *src, size_t len,
                           const void *ad, size_t adlen)
{
	if (len < CRYPTO_AEAD_TAG_LEN || len > CRYPTO_AEAD_MAX_LEN || adlen > CRYPTO_AEAD_MAX_LEN)
		return -EINVAL;
	size_t plen = len - CRYPTO_AEAD_TAG_LEN;
	uint8_t tag[CRYPTO_AEAD_TAG_LEN];
	int adl = 0, outl = 0, finl = 0;
	/* Copy the tag out first: in place, the plaintext overwrites nothing
	 * past plen, but the ctrl call wants a non-const buffer. */
	for (size_t i = 0; i < sizeof(tag); i++)
		tag[i] = src[plen + i];
	EVP_CIPHER_CTX *c = a->ctx;
	if (!EVP_DecryptInit_ex2(c, NULL, key, n, NULL) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CRYPTO_AEAD_TAG_LEN, tag) <= 0 ||
	    (adlen && !EVP_DecryptUpdate(c, NULL, &adl, ad, (int)adlen)) ||
	    (plen && !EVP_DecryptUpdate(c, dst, &outl, src, (int)plen)))
		return -EIO;
	if (!EVP_DecryptFinal_ex(c, dst + outl, &finl))
		return -EBADMSG;
	return 0;
}

int crypto_xaead_seal(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
                      uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen)
{
	if (len > CRYPTO_AEAD_MAX_LEN || adlen > CRYPTO_AEAD_MAX_LEN || crypto_init())
		return -EINVAL;
	unsigned long long clen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, src, len, ad, adlen, NULL, nonce, key) ||
	    clen != len + CRYPTO_AEAD_TAG_LEN)
		return -EIO;
	return 0;
}

int crypto_xaead_open(const uint8_t key[CRYPTO_AEAD_KEY_LEN], const uint8_t nonce[CRYPTO_XAEAD_NONCE_LEN],
                      uint8_t *dst, const uint8_t *src, size_t len, const void *ad, size_t adlen)
{
	if (len < CRYPTO_AEAD_TAG_LEN || len > CRYPTO_AEAD_MAX_LEN || adlen > CRYPTO_AEAD_MAX_LEN || crypto_init())
		return -EINVAL;
	unsigned long long plen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &plen, NULL, src, len, ad, adlen, nonce, key))
		return -EBADMSG;
	return 0;
}
