#include "crypto/util.h"
#include "crypto/aead.h"
#include "crypto/internal.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

struct crypto_algs crypto_algs;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

static void init_all(void)
{
	if (sodium_init() < 0) {
		init_err = -ENOMEM;
		return;
	}
	/* Fetched once: an implicit fetch by name on every call costs a lookup
	 * in the provider store, which dominates a 64-byte hash. */
	crypto_algs.blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	crypto_algs.blake2smac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	crypto_algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	crypto_algs.chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!crypto_algs.blake2s || !crypto_algs.blake2smac || !crypto_algs.hmac || !crypto_algs.chachapoly)
		init_err = -ENOTSUP;
}

int crypto_init(void)
{
	pthread_once(&init_once, init_all);
	return init_err;
}

/* Per-thread contexts. A pthread key destructor frees them when a thread
 * that forgot crypto_thread_exit() ends. */
static _Thread_local struct crypto_thread_ctx tctx;
static _Thread_local int tctx_ready;
static pthread_key_t tctx_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void tctx_destroy(void *unused)
{
	(void)unused;
	crypto_thread_exit();
}

static void key_init(void)
{
	pthread_key_create(&tctx_key, tctx_destroy);
}

void crypto_thread_exit(void)
{
	EVP_MD_CTX_free(tctx.md);
	EVP_MAC_CTX_free(tctx.b2mac);
	EVP_MAC_CTX_free(tctx.hmac);
	crypto_aead_free(tctx.aead);
	memset(&tctx, 0, sizeof(tctx));
	tctx_ready = 0;
}

int crypto_thread_init(void)
{
	if (tctx_ready)
		return 0;
	int err = crypto_init();
	if (err)
		return err;
	pthread_once(&key_once, key_init);
	tctx.md = EVP_MD_CTX_new();
	tctx.b2mac = EVP_MAC_CTX_new(crypto_algs.blake2smac);
	tctx.hmac = EVP_MAC_CTX_new(crypto_algs.hmac);
	tctx.aead = crypto_aead_new();
	if (!tctx.md || !tctx.b2mac || !tctx.hmac || !tctx.aead)
		goto fail;
	/* The HMAC digest is set once; each call only re-keys. */
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"BLAKE2S-256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!EVP_MAC_CTX_set_params(tctx.hmac, p))
		goto fail;
	pthread_setspecific(tctx_key, &tctx);
	tctx_ready = 1;
	return 0;
fail:
	crypto_thread_exit();
	return -ENOMEM;
}

struct crypto_thread_ctx *crypto_thread_ctx(void)
{
	if (__builtin_expect(!tctx_ready, 0) && crypto_thread_init())
		return NULL;
	return &tctx;
}

static int system_fill(void *opaque, uint8_t *buf, size_t len)
{
	(void)opaque;
	randombytes_buf(buf, len);
	return 0;
}

const struct crypto_rng crypto_rng_system = {.fill = system_fill};

int crypto_random(const struct crypto_rng *rng, uint8_t *buf, size_t len)
{
	int err = crypto_init();
	if (err)
		return err;
	if (!rng)
		rng = &crypto_rng_system;
	return rng->fill(rng->opaque, buf, len);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_is_zero(const void *p, size_t len)
{
	const volatile uint8_t *b = p;
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

/* TAI64N is written here: no packaged library on Debian encodes it, and it
 * is twelve bytes of arithmetic (https://cr.yp.to/libtai/tai64.html). */
void crypto_tai64n_encode(uint8_t out[CRYPTO_TAI64N_LEN], uint64_t wall_ns)
{
	uint64_t sec = 0x400000000000000aULL + wall_ns / 1000000000u;
	uint32_t nsec = (uint32_t)(wall_ns % 1000000000u);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int crypto_tai64n_compare(const uint8_t a[CRYPTO_TAI64N_LEN], const uint8_t b[CRYPTO_TAI64N_LEN])
{
	return memcmp(a, b, CRYPTO_TAI64N_LEN);
}
