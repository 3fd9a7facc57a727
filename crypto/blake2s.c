#include "crypto/blake2s.h"
#include "crypto/internal.h"
#include "crypto/util.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <string.h>

int crypto_blake2s_hash2(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *a, size_t alen,
                         const void *b, size_t blen)
{
	struct crypto_thread_ctx *t = crypto_thread_ctx();
	if (!t)
		return -ENOMEM;
	if (!EVP_DigestInit_ex2(t->md, crypto_algs.blake2s, NULL) || (alen && !EVP_DigestUpdate(t->md, a, alen)) ||
	    (blen && !EVP_DigestUpdate(t->md, b, blen)) || !EVP_DigestFinal_ex(t->md, out, NULL))
		return -EIO;
	return 0;
}

int crypto_blake2s_hash(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *in, size_t len)
{
	return crypto_blake2s_hash2(out, in, len, NULL, 0);
}

int crypto_blake2s_mac(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
                       size_t len)
{
	if (outlen < 1 || outlen > CRYPTO_BLAKE2S_HASH_LEN || keylen < 1 || keylen > CRYPTO_BLAKE2S_KEY_MAX)
		return -EINVAL;
	struct crypto_thread_ctx *t = crypto_thread_ctx();
	if (!t)
		return -ENOMEM;
	/* The output size goes into the parameter block before the key block is
	 * processed, so a 16-byte MAC is BLAKE2s-128, as RFC 7693 defines it. */
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen),
		OSSL_PARAM_construct_end(),
	};
	size_t got = 0;
	if (!EVP_MAC_init(t->b2mac, key, keylen, p) || (len && !EVP_MAC_update(t->b2mac, in, len)) ||
	    !EVP_MAC_final(t->b2mac, out, &got, outlen) || got != outlen)
		return -EIO;
	return 0;
}

static int hmac2(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *key, size_t keylen, const void *a,
                 size_t alen, const void *b, size_t blen)
{
	struct crypto_thread_ctx *t = crypto_thread_ctx();
	if (!t)
		return -ENOMEM;
	size_t got = 0;
	if (!EVP_MAC_init(t->hmac, key, keylen, NULL) || (alen && !EVP_MAC_update(t->hmac, a, alen)) ||
	    (blen && !EVP_MAC_update(t->hmac, b, blen)) ||
	    !EVP_MAC_final(t->hmac, out, &got, CRYPTO_BLAKE2S_HASH_LEN) || got != CRYPTO_BLAKE2S_HASH_LEN)
		return -EIO;
	return 0;
}

int crypto_blake2s_hmac(uint8_t out[CRYPTO_BLAKE2S_HASH_LEN], const void *key, size_t keylen,
                        const void *in, size_t len)
{
	/* OpenSSL's HMAC refuses an empty key; HMAC defines one (zero padding). */
	static const uint8_t zero;
	if (!keylen)
		key = &zero, keylen = 1;
	return hmac2(out, key, keylen, in, len, NULL, 0);
}

int crypto_blake2s_kdf(uint8_t out1[CRYPTO_BLAKE2S_HASH_LEN], uint8_t *out2, uint8_t *out3,
                       const uint8_t key[CRYPTO_BLAKE2S_HASH_LEN], const void *in, size_t len)
{
	uint8_t t0[CRYPTO_BLAKE2S_HASH_LEN], t[CRYPTO_BLAKE2S_HASH_LEN];
	uint8_t ctr;
	int err = hmac2(t0, key, CRYPTO_BLAKE2S_HASH_LEN, in, len, NULL, 0);
	if (err)
		goto out;
	/* t1 = HMAC(t0, 0x1) */
	ctr = 1;
	if ((err = hmac2(t, t0, sizeof(t0), &ctr, 1, NULL, 0)))
		goto out;
	memcpy(out1, t, sizeof(t));
	if (!out2)
		goto out;
	/* t2 = HMAC(t0, t1 || 0x2) */
	ctr = 2;
	if ((err = hmac2(t, t0, sizeof(t0), t, sizeof(t), &ctr, 1)))
		goto out;
	memcpy(out2, t, sizeof(t));
	if (!out3)
		goto out;
	/* t3 = HMAC(t0, t2 || 0x3) */
	ctr = 3;
	if ((err = hmac2(t, t0, sizeof(t0), t, sizeof(t), &ctr, 1)))
		goto out;
	memcpy(out3, t, sizeof(t));
out:
	crypto_wipe(t0, sizeof(t0));
	crypto_wipe(t, sizeof(t));
	return err;
}
