/* crypto/noise.c against a published vector, through a model.
 *
 * No fixed-input vector for WireGuard's handshake is published, but
 * WireGuard's handshake is exactly Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s
 * with the prologue "WireGuard v1 zx2c4 Jason@zx2c4.com", a TAI64N payload
 * in message 1 and an empty payload in message 2 (WireGuard paper §5.4;
 * Noise spec rev. 34 §5, §7, §9). So:
 *
 * 1. A generic model of the Noise state machine (CipherState,
 *    SymmetricState, the IKpsk2 token list), written from the Noise spec and
 *    built only on the primitives test_primitives.c checks against RFCs, is
 *    validated against the Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector of
 *    the cacophony test suite (vectors/cacophony.txt in
 *    github.com/haskell-cryptography/cacophony, commit 8ee9d41e): both
 *    handshake messages, the handshake hash and four transport messages.
 * 2. The model then runs with WireGuard's prologue and payloads, the same
 *    keys and ephemerals, and noise.c must produce byte-identical messages
 *    and the same transport keys. */
#include "crypto/aead.h"
#include "crypto/blake2s.h"
#include "crypto/cookie.h"
#include "crypto/noise.h"
#include "crypto/x25519.h"

#include <errno.h>

#include "check.h"

/* ---- the model (Noise spec §5) ------------------------------------------- */

struct model {
	uint8_t ck[32], h[32], k[32];
	uint64_t n;
	int has_k;
	struct crypto_aead *aead;
};

/* Noise §4.3 HKDF over HMAC-BLAKE2s, written out rather than through
 * crypto_blake2s_kdf so the model does not share that code. */
static void m_hkdf(uint8_t *o1, uint8_t *o2, uint8_t *o3, const uint8_t ck[32], const uint8_t *ikm, size_t len)
{
	uint8_t tk[32], buf[33], t1[32], t2[32];
	crypto_blake2s_hmac(tk, ck, 32, ikm, len);
	buf[0] = 1;
	crypto_blake2s_hmac(t1, tk, 32, buf, 1);
	memcpy(buf, t1, 32), buf[32] = 2;
	crypto_blake2s_hmac(t2, tk, 32, buf, 33);
	if (o3) {
		memcpy(buf, t2, 32), buf[32] = 3;
		crypto_blake2s_hmac(o3, tk, 32, buf, 33);
	}
	memcpy(o1, t1, 32);
	memcpy(o2, t2, 32);
}

static void m_init(struct model *m, const char *name, const uint8_t *prologue, size_t plen)
{
	memset(m, 0, sizeof(*m));
	m->aead = crypto_aead_thread();
	/* InitializeSymmetric: name longer than HASHLEN is hashed. */
	crypto_blake2s_hash(m->h, name, strlen(name));
	memcpy(m->ck, m->h, 32);
	crypto_blake2s_hash2(m->h, m->h, 32, prologue, plen); /* MixHash(prologue) */
}

static void m_mix_hash(struct model *m, const uint8_t *d, size_t len)
{
	crypto_blake2s_hash2(m->h, m->h, 32, d, len);
}

static void m_mix_key(struct model *m, const uint8_t *ikm, size_t len)
{
	uint8_t ck[32];
	m_hkdf(ck, m->k, NULL, m->ck, ikm, len);
	memcpy(m->ck, ck, 32);
	m->n = 0, m->has_k = 1;
}

static void m_mix_key_and_hash(struct model *m, const uint8_t psk[32])
{
	uint8_t ck[32], th[32];
	m_hkdf(ck, th, m->k, m->ck, psk, 32);
	memcpy(m->ck, ck, 32);
	m_mix_hash(m, th, 32);
	m->n = 0, m->has_k = 1;
}

static size_t m_encrypt_and_hash(struct model *m, uint8_t *out, const uint8_t *p, size_t len)
{
	/* Only called with a key in IKpsk2. Nonce: 4 zero bytes || LE64(n). */
	crypto_aead_seal(m->aead, m->k, m->n++, out, p, len, m->h, 32);
	m_mix_hash(m, out, len + 16);
	return len + 16;
}

static void m_dh(struct model *m, const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t s[32];
	crypto_x25519_shared(s, priv, pub);
	m_mix_key(m, s, 32);
}

struct keys {
	uint8_t is[32], ie[32], rs[32], re[32], psk[32];
};

/* Both handshake messages of IKpsk2 written by the model (the responder's
 * reading is the same transcript); also the handshake hash and Split(). */
static void model_ikpsk2(const struct keys *k, const uint8_t *prologue, size_t plen, const uint8_t *p1, size_t p1len,
                         const uint8_t *p2, size_t p2len, uint8_t *msg1, size_t *m1len, uint8_t *msg2, size_t *m2len,
                         uint8_t hash[32], uint8_t c1[32], uint8_t c2[32])
{
	struct model m;
	uint8_t ispub[32], iepub[32], rspub[32], repub[32];
	crypto_x25519_public(ispub, k->is);
	crypto_x25519_public(iepub, k->ie);
	crypto_x25519_public(rspub, k->rs);
	crypto_x25519_public(repub, k->re);
	m_init(&m, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", prologue, plen);
	m_mix_hash(&m, rspub, 32); /* <- s */
	/* -> e, es, s, ss */
	size_t o = 0;
	memcpy(msg1, iepub, 32), o = 32;
	m_mix_hash(&m, iepub, 32);
	m_mix_key(&m, iepub, 32); /* psk modes: "e" also calls MixKey (spec §9.2) */
	m_dh(&m, k->ie, rspub);
	o += m_encrypt_and_hash(&m, msg1 + o, ispub, 32);
	m_dh(&m, k->is, rspub);
	o += m_encrypt_and_hash(&m, msg1 + o, p1, p1len);
	*m1len = o;
	/* <- e, ee, se, psk */
	memcpy(msg2, repub, 32), o = 32;
	m_mix_hash(&m, repub, 32);
	m_mix_key(&m, repub, 32);
	m_dh(&m, k->ie, repub);
	m_dh(&m, k->is, repub);
	m_mix_key_and_hash(&m, k->psk);
	o += m_encrypt_and_hash(&m, msg2 + o, p2, p2len);
	*m2len = o;
	memcpy(hash, m.h, 32);
	m_hkdf(c1, c2, NULL, m.ck, NULL, 0); /* Split() */
}

/* ---- 1: the model against the cacophony vector ------------------------------ */

static void load_cacophony(struct keys *k)
{
	unhex(k->is, 32, "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1");
	unhex(k->ie, 32, "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a");
	unhex(k->rs, 32, "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893");
	unhex(k->re, 32, "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b");
	unhex(k->psk, 32, "54686973206973206d7920417573747269616e20706572737065637469766521");
}

static void test_model_vector(void)
{
	struct keys k;
	load_cacophony(&k);
	uint8_t prologue[16], p[6][32], msg1[256], msg2[256], hash[32], c1[32], c2[32], pub[32];
	size_t plen[6], m1, m2;
	size_t prl = unhex(prologue, sizeof(prologue), "4a6f686e2047616c74");
	static const char *const payloads[6] = {
		"4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",   "462e20412e20486179656b",
		"4361726c204d656e676572",           "4a65616e2d426170746973746520536179", "457567656e2042f6686d20766f6e2042617765726b",
	};
	for (int i = 0; i < 6; i++)
		plen[i] = unhex(p[i], 32, payloads[i]);
	crypto_x25519_public(pub, k.rs);
	CHECK_HEX(pub, 32, "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"); /* init_remote_static */

	model_ikpsk2(&k, prologue, prl, p[0], plen[0], p[1], plen[1], msg1, &m1, msg2, &m2, hash, c1, c2);
	CHECK_HEX(msg1, m1,
	          "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944001e21de9f98ddd8e2ad57527207feb5"
	          "6253c9c94a9e496782ecfcb2a75fbcaf1b52948cc48daefe660c62119ab5000980c84831215f2441eba616548e832985"
	          "464cf17e51ee93109008399a21f7e13f");
	CHECK_HEX(msg2, m2,
	          "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843cb765f2caef0751b8f007572dab03222"
	          "17755c0632f365717edbf34d33e87a");
	CHECK_HEX(hash, 32, "f5191b875290abcd41347ac3622d9679688a7e980229cb937ef748336cfde0e5");

	/* Transport: the initiator sends with c1, the responder with c2, each
	 * with its own counter from 0; empty AD. */
	static const char *const ct[4] = {
		"8153ca9833bc3c1b91a7e66e5f4d4f5b59bf9e64c2f20d15f0bba7",
		"07af0c9c86e1b4e80f36b04ff7688d51141af3debd0332f0a705ef",
		"6ab1467c0448cc78394494abaaf23afce0e234315d6e2624dcbfa8a21c1c4d073d",
		"dfc346c0d2296ae6cf1acf6f12b8456a1dba228cf8d8b774aacf1c47fc53aa80ebc7a4c292",
	};
	struct crypto_aead *a = crypto_aead_thread();
	uint8_t out[64];
	for (int i = 0; i < 4; i++) {
		int from_initiator = i % 2 == 0;
		crypto_aead_seal(a, from_initiator ? c1 : c2, (uint64_t)(i / 2), out, p[2 + i], plen[2 + i], NULL, 0);
		CHECK_HEX(out, plen[2 + i] + 16, ct[i]);
	}
}

/* ---- 2: noise.c against the validated model --------------------------------- */

struct fixed_rng {
	const uint8_t *bytes;
	size_t left;
};

static int fixed_fill(void *opaque, uint8_t *buf, size_t len)
{
	struct fixed_rng *f = opaque;
	if (len > f->left)
		return -EIO;
	memcpy(buf, f->bytes, len);
	f->bytes += len, f->left -= len;
	return 0;
}

static void compare_wireguard(const struct keys *k, bool with_psk)
{
	struct fixed_rng ri = {k->ie, 32}, rr = {k->re, 32};
	struct crypto_rng rng_i = {fixed_fill, &ri}, rng_r = {fixed_fill, &rr};
	struct noise_local li, lr;
	struct noise_handshake hi, hr;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
	struct crypto_keypair ki, kr;
	const uint8_t *psk = with_psk ? k->psk : NULL;
	/* Whole seconds: timestamp whitening leaves them as they are. */
	const uint64_t wall = 1700000000ull * 1000000000ull;

	CHECK(noise_local_init(&li, k->is, &rng_i) == 0 && noise_local_init(&lr, k->rs, &rng_r) == 0, "locals");
	CHECK(noise_initiation_create(&hi, &li, lr.static_public, psk, 1, wall, &init) == 0, "initiation");
	/* 2^62 + 10 + 1700000000 s, 0 ns */
	CHECK_HEX(hi.timestamp, 12, "400000006553f10a00000000");
	CHECK(noise_initiation_consume(&hr, &lr, &init, sizeof(init)) == NOISE_OK, "consume");
	CHECK(noise_initiation_accept(&hr, true, psk, NULL) == NOISE_OK, "accept");
	CHECK(noise_response_create(&hr, &lr, 2, &resp) == 0, "response");
	CHECK(noise_response_consume(&hi, &li, &resp, sizeof(resp)) == NOISE_OK, "response consume");
	CHECK(noise_handshake_begin_session(&hi, &ki) == 0 && noise_handshake_begin_session(&hr, &kr) == 0, "keys");

	struct keys mk = *k;
	if (!with_psk)
		memset(mk.psk, 0, 32); /* WireGuard's psk when none is configured */
	uint8_t ts[12], msg1[256], msg2[256], hash[32], c1[32], c2[32];
	size_t m1, m2;
	unhex(ts, 12, "400000006553f10a00000000");
	model_ikpsk2(&mk, (const uint8_t *)NOISE_IDENTIFIER, sizeof(NOISE_IDENTIFIER) - 1, ts, 12, NULL, 0, msg1, &m1,
	             msg2, &m2, hash, c1, c2);
	CHECK(m1 == 32 + 48 + 28 && m2 == 32 + 16, "model lengths %zu %zu", m1, m2);
	CHECK(!memcmp(init.unencrypted_ephemeral, msg1, m1), "initiation differs from the model (psk %d)", with_psk);
	CHECK(!memcmp(resp.unencrypted_ephemeral, msg2, m2), "response differs from the model (psk %d)", with_psk);
	CHECK(!memcmp(ki.send_key, c1, 32) && !memcmp(ki.recv_key, c2, 32), "initiator keys differ from Split()");
	CHECK(!memcmp(kr.send_key, c2, 32) && !memcmp(kr.recv_key, c1, 32), "responder keys differ from Split()");

	/* mac1 = MAC16(HASH("mac1----" || Spub_r), msg[0:116]) (paper §5.4.4). */
	struct cookie_maker mk1;
	uint8_t key[32], mac[16];
	cookie_maker_init(&mk1, lr.static_public);
	cookie_maker_add_macs(&mk1, &init, sizeof(init), 0);
	crypto_blake2s_hash2(key, "mac1----", 8, lr.static_public, 32);
	crypto_blake2s_mac(mac, 16, key, 32, &init, 116);
	CHECK(!memcmp(mac, init.macs.mac1, 16) && crypto_is_zero(init.macs.mac2, 16), "mac1 construction");
}

int main(void)
{
	struct keys k;
	test_model_vector();
	load_cacophony(&k);
	compare_wireguard(&k, true);
	compare_wireguard(&k, false);
	crypto_thread_exit();
	return checks_report("test_noise_vector");
}
