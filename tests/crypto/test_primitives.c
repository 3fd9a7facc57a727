/* Known-answer and differential tests of the crypto/ primitives. Each vector
 * names its source; nothing here was produced by the code under test.
 *
 * BLAKE2s: besides RFC 7693 Appendix B, a naive BLAKE2s written from
 * RFC 7693 §2-§3 lives below. It is validated by the RFC's Appendix E
 * self-test (48 keyed and unkeyed hashes, output lengths 16/20/28/32, folded
 * into one published digest) and then serves as the model the OpenSSL-backed
 * keyed MAC, HMAC and KDF are compared against. */
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/util.h"
#include "crypto/wgkey.h"
#include "crypto/x25519.h"

#include <errno.h>
#include <sodium.h>

#include "check.h"

/* ---- naive BLAKE2s (RFC 7693), the model -------------------------------- */

static const uint32_t b2s_iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                   0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
static const uint8_t b2s_sigma[10][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static uint32_t rotr(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void ref_g(uint32_t v[16], int a, int b, int c, int d, uint32_t x, uint32_t y)
{
	v[a] = v[a] + v[b] + x;
	v[d] = rotr(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 12);
	v[a] = v[a] + v[b] + y;
	v[d] = rotr(v[d] ^ v[a], 8);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 7);
}

static void ref_compress(uint32_t h[8], const uint8_t block[64], uint64_t t, int last)
{
	uint32_t v[16], m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16 |
		       (uint32_t)block[4 * i + 3] << 24;
	for (int i = 0; i < 8; i++)
		v[i] = h[i], v[i + 8] = b2s_iv[i];
	v[12] ^= (uint32_t)t;
	v[13] ^= (uint32_t)(t >> 32);
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < 10; r++) {
		const uint8_t *s = b2s_sigma[r];
		ref_g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
		ref_g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
		ref_g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
		ref_g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
		ref_g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
		ref_g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
		ref_g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
		ref_g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for (int i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

/* One-shot BLAKE2s: nn-byte output, kk-byte key (0: unkeyed). */
static void ref_blake2s(uint8_t *out, size_t nn, const uint8_t *key, size_t kk, const uint8_t *in, size_t ll)
{
	uint8_t *buf = calloc(1, ll + 64 + 64);
	size_t total = 0;
	if (kk) {
		memcpy(buf, key, kk); /* key block, zero-padded to 64 bytes */
		total = 64;
	}
	if (ll)
		memcpy(buf + total, in, ll);
	total += ll;
	size_t blocks = total ? (total + 63) / 64 : 1;
	uint32_t h[8];
	memcpy(h, b2s_iv, sizeof(h));
	h[0] ^= 0x01010000u ^ (uint32_t)(kk << 8) ^ (uint32_t)nn;
	for (size_t i = 0; i + 1 < blocks; i++)
		ref_compress(h, buf + 64 * i, (uint64_t)(i + 1) * 64, 0);
	ref_compress(h, buf + 64 * (blocks - 1), total, 1); /* zero-padded tail */
	for (size_t i = 0; i < nn; i++)
		out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
	free(buf);
}

/* RFC 2104 HMAC over the model hash. */
static void ref_hmac(uint8_t out[32], const uint8_t *key, size_t kk, const uint8_t *in, size_t ll)
{
	uint8_t k[64] = {0}, inner[32], *buf = malloc(64 + ll + 32);
	if (kk > 64)
		ref_blake2s(k, 32, NULL, 0, key, kk);
	else
		memcpy(k, key, kk);
	for (int i = 0; i < 64; i++)
		buf[i] = k[i] ^ 0x36;
	if (ll)
		memcpy(buf + 64, in, ll);
	ref_blake2s(inner, 32, NULL, 0, buf, 64 + ll);
	for (int i = 0; i < 64; i++)
		buf[i] = k[i] ^ 0x5c;
	memcpy(buf + 64, inner, 32);
	ref_blake2s(out, 32, NULL, 0, buf, 96);
	free(buf);
}

/* RFC 7693 Appendix E: deterministic input sequence. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1;
	for (size_t i = 0; i < len; i++) {
		uint32_t t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

static void test_blake2s(void)
{
	uint8_t out[32], ref[32];

	/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
	static const char abc_hex[] = "508C5E8C327C14E2E1A72BA34EEB452F37458B209ED63A294D999B4C86675982";
	CHECK(crypto_blake2s_hash(out, "abc", 3) == 0, "hash");
	CHECK_HEX(out, 32, abc_hex);
	ref_blake2s(ref, 32, NULL, 0, (const uint8_t *)"abc", 3);
	CHECK_HEX(ref, 32, abc_hex);

	/* RFC 7693 Appendix E self-test: the model for every (outlen, inlen),
	 * and our keyed MAC for the keyed half, each folded into one digest. */
	static const size_t md_len[4] = {16, 20, 28, 32}, in_len[6] = {0, 3, 64, 65, 255, 1024};
	uint8_t in[1024], key[32], md[32], md2[32];
	uint8_t *fold_ref = malloc(48 * 32), *fold_ours = malloc(48 * 32);
	size_t fl = 0;
	for (int i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (int j = 0; j < 6; j++) {
			size_t inlen = in_len[j];
			selftest_seq(in, inlen, (uint32_t)inlen);
			ref_blake2s(md, outlen, NULL, 0, in, inlen); /* unkeyed */
			memcpy(fold_ref + fl, md, outlen);
			if (outlen == 32) {
				CHECK(crypto_blake2s_hash(md2, in, inlen) == 0, "hash");
				CHECK(memcmp(md, md2, 32) == 0, "unkeyed BLAKE2s-256 of %zu bytes differs from the model", inlen);
			}
			memcpy(fold_ours + fl, md, outlen); /* no unkeyed non-32 API: model */
			fl += outlen;
			selftest_seq(key, outlen, (uint32_t)outlen);
			ref_blake2s(md, outlen, key, outlen, in, inlen); /* keyed */
			memcpy(fold_ref + fl, md, outlen);
			CHECK(crypto_blake2s_mac(md2, outlen, key, outlen, in, inlen) == 0, "mac");
			memcpy(fold_ours + fl, md2, outlen);
			fl += outlen;
		}
	}
	static const char grand[] = "6A411F08CE25ADCDFB02ABA641451CEC53C598B24F4FC787FBDC88797F4C1DFE";
	ref_blake2s(out, 32, NULL, 0, fold_ref, fl);
	CHECK_HEX(out, 32, grand); /* validates the model */
	CHECK(crypto_blake2s_hash(out, fold_ours, fl) == 0, "hash");
	CHECK_HEX(out, 32, grand); /* validates the keyed MAC at 16/20/28/32 */
	free(fold_ref);
	free(fold_ours);

	/* Differential: every output length and key length WireGuard could
	 * use, against the model. */
	uint8_t msg[300];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (size_t outlen = 1; outlen <= 32; outlen += 5)
		for (size_t kk = 1; kk <= 32; kk += 3)
			for (size_t ll = 0; ll <= sizeof(msg); ll += 61) {
				ref_blake2s(ref, outlen, msg + 100, kk, msg, ll);
				CHECK(crypto_blake2s_mac(out, outlen, msg + 100, kk, msg, ll) == 0, "mac");
				CHECK(memcmp(out, ref, outlen) == 0, "mac outlen %zu keylen %zu len %zu", outlen, kk, ll);
			}
	CHECK(crypto_blake2s_mac(out, 0, key, 32, msg, 1) == -EINVAL, "outlen 0");
	CHECK(crypto_blake2s_mac(out, 33, key, 32, msg, 1) == -EINVAL, "outlen 33");
	CHECK(crypto_blake2s_mac(out, 16, key, 33, msg, 1) == -EINVAL, "keylen 33");
	/* hash2 is HASH(a || b). */
	ref_blake2s(ref, 32, NULL, 0, msg, 150);
	CHECK(crypto_blake2s_hash2(out, msg, 70, msg + 70, 80) == 0 && memcmp(out, ref, 32) == 0, "hash2");

	/* HMAC-BLAKE2s against RFC 2104 over the model, keys shorter, equal to
	 * and longer than the 64-byte block (and empty). */
	static const size_t klens[] = {0, 1, 16, 32, 63, 64, 65, 100};
	for (size_t i = 0; i < sizeof(klens) / sizeof(klens[0]); i++)
		for (size_t ll = 0; ll <= 200; ll += 50) {
			ref_hmac(ref, msg + 50, klens[i], msg, ll);
			CHECK(crypto_blake2s_hmac(out, msg + 50, klens[i], msg, ll) == 0, "hmac");
			CHECK(memcmp(out, ref, 32) == 0, "hmac keylen %zu len %zu", klens[i], ll);
		}

	/* KDF1/2/3 as the WireGuard paper defines them (§5.4 "KDFn"), over the
	 * model HMAC. */
	uint8_t ck[32], t0[32], t1[32], t2[32], t3[32], b[33], o1[32], o2[32], o3[32];
	memcpy(ck, msg + 10, 32);
	ref_hmac(t0, ck, 32, msg, 77);
	b[0] = 1;
	ref_hmac(t1, t0, 32, b, 1);
	memcpy(b, t1, 32), b[32] = 2;
	ref_hmac(t2, t0, 32, b, 33);
	memcpy(b, t2, 32), b[32] = 3;
	ref_hmac(t3, t0, 32, b, 33);
	CHECK(crypto_blake2s_kdf(o1, o2, o3, ck, msg, 77) == 0, "kdf3");
	CHECK(!memcmp(o1, t1, 32) && !memcmp(o2, t2, 32) && !memcmp(o3, t3, 32), "KDF3 differs from the model");
	CHECK(crypto_blake2s_kdf(o1, o2, NULL, ck, msg, 77) == 0 && !memcmp(o1, t1, 32) && !memcmp(o2, t2, 32), "KDF2");
	memcpy(o1, ck, 32); /* output aliasing the key, as MixKey does */
	CHECK(crypto_blake2s_kdf(o1, NULL, NULL, o1, msg, 77) == 0 && !memcmp(o1, t1, 32), "KDF1 in place");
	/* KDF of empty input (Split()). */
	ref_hmac(t0, ck, 32, NULL, 0);
	b[0] = 1;
	ref_hmac(t1, t0, 32, b, 1);
	CHECK(crypto_blake2s_kdf(o1, NULL, NULL, ck, NULL, 0) == 0 && !memcmp(o1, t1, 32), "KDF1 of empty input");
}

/* ---- X25519 ----------------------------------------------------------------- */

static void test_x25519(void)
{
	uint8_t k[32], u[32], out[32];

	/* RFC 7748 §5.2, the two test vectors (the second u has its top bit
	 * set, which X25519 must mask). */
	unhex(k, 32, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	unhex(u, 32, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	CHECK(crypto_x25519_shared(out, k, u) == 0, "x25519");
	CHECK_HEX(out, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	unhex(k, 32, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
	unhex(u, 32, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
	CHECK(crypto_x25519_shared(out, k, u) == 0, "x25519");
	CHECK_HEX(out, 32, "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");

	/* RFC 7748 §5.2, the iterated test: k = u = 9; k, u = X25519(k, u), k. */
	memset(k, 0, 32), k[0] = 9;
	memcpy(u, k, 32);
	for (int i = 1; i <= 1000; i++) {
		if (crypto_x25519_shared(out, k, u)) {
			CHECK(0, "iteration %d failed", i);
			break;
		}
		memcpy(u, k, 32);
		memcpy(k, out, 32);
		if (i == 1)
			CHECK_HEX(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
	}
	CHECK_HEX(k, 32, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");

	/* RFC 7748 §6.1, Alice and Bob. */
	uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32];
	unhex(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	CHECK(crypto_x25519_public(apub, a) == 0 && crypto_x25519_public(bpub, b) == 0, "public");
	CHECK_HEX(apub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK_HEX(bpub, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	CHECK(crypto_x25519_shared(s1, a, bpub) == 0 && crypto_x25519_shared(s2, b, apub) == 0, "shared");
	CHECK_HEX(s1, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK_HEX(s2, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

	/* All-zero output is rejected (RFC 7748 §6.1): u = 0 and u = 1 are of
	 * small order; the output is wiped. */
	memset(u, 0, 32);
	memset(out, 0xaa, 32);
	CHECK(crypto_x25519_shared(out, a, u) == -EINVAL && crypto_is_zero(out, 32), "u = 0 accepted");
	u[0] = 1;
	CHECK(crypto_x25519_shared(out, a, u) == -EINVAL, "u = 1 accepted");

	/* Generation clamps; public of clamped and unclamped agree. */
	uint8_t g[32], gc[32], p1[32], p2[32];
	CHECK(crypto_x25519_generate(g, NULL) == 0, "generate");
	CHECK((g[0] & 7) == 0 && (g[31] & 0x80) == 0 && (g[31] & 0x40), "not clamped");
	memcpy(gc, g, 32);
	g[0] |= 7, g[31] |= 0x80;
	CHECK(crypto_x25519_public(p1, g) == 0 && crypto_x25519_public(p2, gc) == 0 && !memcmp(p1, p2, 32),
	      "clamping changed the public key");
}

/* ---- AEADs ------------------------------------------------------------------ */

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
                                "the future, sunscreen would be it.";

static void test_aead(void)
{
	struct crypto_aead *a = crypto_aead_new();
	CHECK(a != NULL, "crypto_aead_new");
	if (!a)
		return;
	uint8_t key[32], nonce[12], ad[12], buf[256], back[256];
	size_t pl = sizeof(sunscreen) - 1;

	/* RFC 8439 §2.8.2. */
	unhex(key, 32, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, 12, "070000004041424344454647");
	unhex(ad, 12, "50515253c0c1c2c3c4c5c6c7");
	static const char ct_8439[] =
		"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
		"1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		"3ff4def08e4b7a9de576d26586cec64b6116"
		"1ae10b594f09e26a7e902ecbd0600691";
	CHECK(pl == 114, "plaintext length %zu", pl);
	CHECK(crypto_aead_seal_nonce(a, key, nonce, buf, (const uint8_t *)sunscreen, pl, ad, 12) == 0, "seal");
	CHECK_HEX(buf, pl + 16, ct_8439);
	CHECK(crypto_aead_open_nonce(a, key, nonce, back, buf, pl + 16, ad, 12) == 0 && !memcmp(back, sunscreen, pl),
	      "open RFC 8439 vector");
	buf[pl + 15] ^= 1;
	CHECK(crypto_aead_open_nonce(a, key, nonce, back, buf, pl + 16, ad, 12) == -EBADMSG, "bad tag accepted");
	buf[pl + 15] ^= 1;
	CHECK(crypto_aead_open_nonce(a, key, nonce, back, buf, pl + 16, ad, 11) == -EBADMSG, "short AD accepted");
	CHECK(crypto_aead_open_nonce(a, key, nonce, back, buf, 15, ad, 12) == -EINVAL, "short input");

	/* The counter nonce is 4 zero bytes then the counter, little-endian,
	 * as in the WireGuard paper §5.4.6: compare with the explicit nonce, and
	 * with libsodium's independent implementation, in place, 1420 bytes. */
	static uint8_t p[1420 + 16], q[1420 + 16], r[1420 + 16];
	for (size_t i = 0; i < 1420; i++)
		p[i] = (uint8_t)(i ^ 0x5a);
	uint64_t ctr = 0x0102030405060708ull;
	unhex(nonce, 12, "000000000807060504030201");
	memcpy(q, p, 1420);
	CHECK(crypto_aead_seal(a, key, ctr, q, q, 1420, NULL, 0) == 0, "seal in place");
	CHECK(crypto_aead_seal_nonce(a, key, nonce, r, p, 1420, NULL, 0) == 0 && !memcmp(q, r, 1436), "counter nonce");
	unsigned long long rl = 0;
	crypto_aead_chacha20poly1305_ietf_encrypt(r, &rl, p, 1420, NULL, 0, NULL, nonce, key);
	CHECK(rl == 1436 && !memcmp(q, r, 1436), "differs from libsodium");
	CHECK(crypto_aead_open(a, key, ctr, q, q, 1436, NULL, 0) == 0 && !memcmp(q, p, 1420), "open in place");
	CHECK(crypto_aead_open(a, key, ctr + 1, r, r, 1436, NULL, 0) == -EBADMSG, "wrong counter accepted");
	/* Empty plaintext with AD (the handshake's "encrypted nothing"). */
	CHECK(crypto_aead_seal(a, key, 0, buf, buf, 0, ad, 12) == 0, "seal empty");
	crypto_aead_chacha20poly1305_ietf_encrypt(r, &rl, NULL, 0, ad, 12, NULL, (const uint8_t[12]){0}, key);
	CHECK(rl == 16 && !memcmp(buf, r, 16), "empty seal differs from libsodium");
	CHECK(crypto_aead_open(a, key, 0, back, buf, 16, ad, 12) == 0, "open empty");

	/* draft-irtf-cfrg-xchacha-03 §A.3.1 (AEAD_XChaCha20_Poly1305). */
	uint8_t xnonce[24];
	unhex(xnonce, 24, "404142434445464748494a4b4c4d4e4f5051525354555657");
	CHECK(crypto_xaead_seal(key, xnonce, buf, (const uint8_t *)sunscreen, pl, ad, 12) == 0, "xseal");
	CHECK_HEX(buf, pl + 16,
	          "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39"
	          "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
	          "21f9664c97637da9768812f615c68b13b52e"
	          "c0875924c1c7987947deafd8780acf49");
	CHECK(crypto_xaead_open(key, xnonce, back, buf, pl + 16, ad, 12) == 0 && !memcmp(back, sunscreen, pl), "xopen");
	buf[3] ^= 0x10;
	CHECK(crypto_xaead_open(key, xnonce, back, buf, pl + 16, ad, 12) == -EBADMSG, "xopen of flipped bit");
	crypto_aead_free(a);
}

/* ---- helpers: TAI64N, compare, wipe, base64 keys ---------------------------- */

static void test_util(void)
{
	uint8_t t[12], t2[12];
	/* TAI64 label of the Unix epoch is 2^62 + 10 (cr.yp.to/libtai/tai64.html). */
	crypto_tai64n_encode(t, 0);
	CHECK_HEX(t, 12, "400000000000000a00000000");
	crypto_tai64n_encode(t, 1500000000ull * 1000000000ull + 123456789);
	CHECK_HEX(t, 12, "4000000059682f0a 075bcd15"); /* 2^62 + 10 + 1500000000, 123456789 */
	crypto_tai64n_encode(t2, 1500000000ull * 1000000000ull + 123456790);
	CHECK(crypto_tai64n_compare(t2, t) > 0 && crypto_tai64n_compare(t, t2) < 0 && crypto_tai64n_compare(t, t) == 0,
	      "tai64n order");
	crypto_tai64n_encode(t2, 1500000001ull * 1000000000ull);
	CHECK(crypto_tai64n_compare(t2, t) > 0, "a later second with fewer ns is later");

	uint8_t x[32] = {0}, y[32] = {0};
	CHECK(crypto_equal(x, y, 32) && crypto_is_zero(x, 32), "equal");
	y[31] = 1;
	CHECK(!crypto_equal(x, y, 32) && !crypto_is_zero(y, 32), "differ");
	memset(x, 0x77, 32);
	crypto_wipe(x, 32);
	CHECK(crypto_is_zero(x, 32), "wipe");

	/* Base64 keys: round trip, and only canonical 44-character text. */
	uint8_t k[32], k2[32];
	char b64[WGKEY_B64_LEN + 1];
	for (int i = 0; i < 50; i++) {
		CHECK(wgkey_generate(k) == 0 && wgkey_to_base64(k, b64) == 0, "generate");
		CHECK(strlen(b64) == 44 && b64[43] == '=', "format %s", b64);
		CHECK(wgkey_from_base64(b64, k2) == 0 && !memcmp(k, k2, 32), "round trip %s", b64);
	}
	/* The RFC 7748 §6.1 keys in the format `wg` uses: base64 of the bytes
	 * above (`echo <hex> | xxd -r -p | base64`); `wg pubkey` of Alice's
	 * private key gives the public key below, which is the RFC's. */
	static const char alice_b64[] = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
	CHECK(wgkey_from_base64(alice_b64, k) == 0, "decode");
	CHECK_HEX(k, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	uint8_t pub[32];
	CHECK(wgkey_public(k, pub) == 0 && wgkey_to_base64(pub, b64) == 0, "pub");
	CHECK_HEX(pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK(strcmp(b64, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=") == 0, "pub b64 %s", b64);

	static const char *const bad[] = {
		"",
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo",   /* 43: no padding */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==", /* 45 */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=",  /* non-canonical last bits */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*=",  /* bad character */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA",  /* no '=' */
		" dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", /* leading space */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkq-Xf7pR25LCo=",  /* URL-safe alphabet */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(k2, 0x55, 32);
		CHECK(wgkey_from_base64(bad[i], k2) == -EINVAL, "accepted '%s'", bad[i]);
		CHECK(k2[0] == 0x55 && k2[31] == 0x55, "key written on error");
	}
}

int main(void)
{
	if (crypto_init()) {
		fprintf(stderr, "crypto_init failed\n");
		return 1;
	}
	test_blake2s();
	test_x25519();
	test_aead();
	test_util();
	crypto_thread_exit();
	return checks_report("test_primitives");
}
