/* Micro-benchmark of the crypto/ primitives, one thread: the figures behind
 * the library choices written in aead.h and x25519.h. Not a test.
 *   cryptobench [seconds-per-case]   (default 0.5)
 * Build without sanitizers for meaningful numbers (-Dbuildtype=release). */
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/cookie.h"
#include "crypto/keypair.h"
#include "crypto/noise.h"
#include "crypto/x25519.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PKT 1420

static double seconds = 0.5;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run fn in batches until `seconds` pass; return calls per second. */
static double rate(void (*fn)(void *), void *arg)
{
	unsigned long n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 64; i++)
			fn(arg);
		n += 64;
		t = now_s();
	} while (t - t0 < seconds);
	return (double)n / (t - t0);
}

static uint8_t buf[PKT + 64], key[32] = {1, 2, 3}, pub[32], priv[32];
static uint64_t ctr;
static struct crypto_aead *aead;

static void aead_ours(void *a)
{
	(void)a;
	if (crypto_aead_seal(aead, key, ctr++, buf, buf, PKT, NULL, 0))
		abort();
}

static void aead_sodium(void *a)
{
	(void)a;
	uint8_t n[12] = {0};
	memcpy(n + 4, &ctr, 8);
	ctr++;
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + PKT, NULL, buf, PKT, NULL, 0, NULL, n, key);
}

static void aead_open_ours(void *a)
{
	(void)a;
	/* seal then open: open alone would fail the tag after the first call */
	if (crypto_aead_seal(aead, key, 7, buf, buf, PKT, NULL, 0) || crypto_aead_open(aead, key, 7, buf, buf, PKT + 16, NULL, 0))
		abort();
}

static void keypair_seal(void *a)
{
	size_t len;
	if (crypto_keypair_seal(a, aead, buf, PKT, &len))
		abort();
}

static void x25519_ours(void *a)
{
	(void)a;
	uint8_t out[32];
	if (crypto_x25519_shared(out, priv, pub))
		abort();
}

static void x25519_openssl(void *a)
{
	/* What an EVP caller pays per DH: two key objects and a derive context. */
	(void)a;
	uint8_t out[32];
	size_t outlen = 32;
	EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(sk, NULL);
	if (!c || EVP_PKEY_derive_init(c) <= 0 || EVP_PKEY_derive_set_peer(c, pk) <= 0 ||
	    EVP_PKEY_derive(c, out, &outlen) <= 0)
		abort();
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(sk);
}

static void hash64(void *a)
{
	(void)a;
	if (crypto_blake2s_hash(buf, buf, 64))
		abort();
}

static void hash64_oneshot(void *a)
{
	/* EVP_Digest with an implicit fetch by name each call. */
	(void)a;
	EVP_MD *md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	if (!EVP_Digest(buf, 64, buf, NULL, md, NULL))
		abort();
	EVP_MD_free(md);
}

static void mac1(void *a)
{
	(void)a;
	if (crypto_blake2s_mac(buf, 16, key, 32, buf, 116))
		abort();
}

static void kdf3(void *a)
{
	(void)a;
	if (crypto_blake2s_kdf(buf, buf + 32, buf + 64, key, buf, 32))
		abort();
}

struct hs_pair {
	struct noise_local i, r;
};

static void handshake(void *a)
{
	struct hs_pair *p = a;
	struct noise_handshake hi, hr;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct crypto_keypair ki, kr;
	static uint64_t wall = 1700000000ull * 1000000000ull;
	wall += 1ull << 25;
	if (noise_initiation_create(&hi, &p->i, p->r.static_public, NULL, 1, wall, &init) ||
	    noise_initiation_consume(&hr, &p->r, &init, sizeof(init)) ||
	    noise_initiation_accept(&hr, true, NULL, NULL) || noise_response_create(&hr, &p->r, 2, &resp) ||
	    noise_response_consume(&hi, &p->i, &resp, sizeof(resp)) || noise_handshake_begin_session(&hi, &ki) ||
	    noise_handshake_begin_session(&hr, &kr))
		abort();
}

int main(int argc, char **argv)
{
	if (argc > 1)
		seconds = atof(argv[1]);
	if (crypto_init() || crypto_thread_init() || !(aead = crypto_aead_new()))
		return 1;
	crypto_x25519_generate(priv, NULL);
	uint8_t p2[32];
	crypto_x25519_generate(p2, NULL);
	crypto_x25519_public(pub, p2);

	double r;
	printf("cryptobench: one thread, %d-byte packets, %.1f s per case\n", PKT, seconds);
	r = rate(aead_ours, NULL);
	printf("  chacha20poly1305 seal  OpenSSL EVP, ctx reused, key+nonce per packet [chosen]: %7.3f GB/s  (%.0f pkt/s)\n",
	       r * PKT / 1e9, r);
	r = rate(aead_open_ours, NULL);
	printf("  chacha20poly1305 seal+open OpenSSL [chosen]:                            %7.3f GB/s  (per direction %.3f)\n",
	       r * PKT / 1e9, 2 * r * PKT / 1e9);
	struct crypto_keypair kp = {.send_key = {9}};
	r = rate(keypair_seal, &kp);
	printf("  crypto_keypair_seal (header + counter + AEAD in place):                 %7.3f GB/s\n", r * PKT / 1e9);
	r = rate(aead_sodium, NULL);
	printf("  chacha20poly1305 seal  libsodium ietf_encrypt_detached:                 %7.3f GB/s\n", r * PKT / 1e9);
	r = rate(x25519_ours, NULL);
	printf("  x25519 shared  libsodium crypto_scalarmult [chosen]:                    %7.0f ops/s\n", r);
	r = rate(x25519_openssl, NULL);
	printf("  x25519 shared  OpenSSL EVP_PKEY_derive (objects per call):              %7.0f ops/s\n", r);
	r = rate(hash64, NULL);
	printf("  blake2s-256 of 64 B  pre-fetched MD, per-thread ctx [chosen]:           %7.2f Mops/s\n", r / 1e6);
	r = rate(hash64_oneshot, NULL);
	printf("  blake2s-256 of 64 B  fetch + EVP_Digest per call:                       %7.2f Mops/s\n", r / 1e6);
	r = rate(mac1, NULL);
	printf("  mac1 (keyed blake2s-128 of 116 B, BLAKE2SMAC):                          %7.2f Mops/s\n", r / 1e6);
	r = rate(kdf3, NULL);
	printf("  KDF3 (4 x HMAC-BLAKE2s):                                                %7.2f Mops/s\n", r / 1e6);
	struct hs_pair hp;
	uint8_t k1[32], k2[32];
	crypto_x25519_generate(k1, NULL);
	crypto_x25519_generate(k2, NULL);
	noise_local_init(&hp.i, k1, NULL);
	noise_local_init(&hp.r, k2, NULL);
	r = rate(handshake, &hp);
	printf("  full handshake (both sides, 10 x X25519, keys):                         %7.0f /s\n", r);
	crypto_aead_free(aead);
	crypto_thread_exit();
	return 0;
}
