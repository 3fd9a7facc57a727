/* The WireGuard handshake between two in-process instances, the MACs and
 * cookie replies around it, and transport keypairs: the happy path, every
 * rejection the brief lists (wrong static key, unknown peer, bad mac1,
 * replayed initiation, truncated messages, flipped bits, wrong psk), cookie
 * round trips and secret rotation on a fake clock. */
#include "crypto/cookie.h"
#include "crypto/keypair.h"
#include "crypto/noise.h"
#include "crypto/x25519.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>

#include "check.h"

#define SEC 1000000000ull
/* Wall clock for timestamps; monotonic clock for cookies. Both fake. */
static const uint64_t WALL0 = 1700000000ull * SEC;
static const uint64_t MONO0 = 5000 * SEC;

struct side {
	struct noise_local local;
	struct cookie_checker checker; /* for messages sent to us */
	struct cookie_maker maker;     /* for messages we send to the other side */
};

static struct side I, R, S; /* initiator, responder, a stranger */
static uint8_t src_i[COOKIE_ADDR_MAX], src_other[COOKIE_ADDR_MAX];
static size_t src_i_len, src_other_len;

static void side_init(struct side *s, const struct side *peer)
{
	uint8_t priv[32];
	if (crypto_x25519_generate(priv, NULL) || noise_local_init(&s->local, priv, NULL) ||
	    cookie_checker_init(&s->checker, s->local.static_public, NULL))
		abort();
	if (peer && cookie_maker_init(&s->maker, peer->local.static_public))
		abort();
}

/* Initiator -> responder, up to the responder's decision. */
static enum noise_verdict initiate(struct noise_handshake *hi, struct noise_handshake *hr, const uint8_t *psk,
                                   uint64_t wall, struct message_handshake_initiation *m)
{
	if (noise_initiation_create(hi, &I.local, R.local.static_public, psk, 0x11111111, wall, m) ||
	    cookie_maker_add_macs(&I.maker, m, sizeof(*m), MONO0))
		return NOISE_REJECT_INTERNAL;
	if (cookie_checker_validate(&R.checker, m, sizeof(*m), src_i, src_i_len, MONO0) != COOKIE_MAC_VALID_MAC1)
		return NOISE_REJECT_MALFORMED;
	return noise_initiation_consume(hr, &R.local, m, sizeof(*m));
}

static void full_handshake(const uint8_t *psk_i, const uint8_t *psk_r, struct crypto_keypair *ki,
                           struct crypto_keypair *kr)
{
	struct noise_handshake hi, hr;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;

	CHECK(initiate(&hi, &hr, psk_i, WALL0, &init) == NOISE_OK, "initiation");
	CHECK(hi.state == NOISE_HANDSHAKE_CREATED_INITIATION, "initiator state %d", hi.state);
	CHECK(init.header.type == 1 && sizeof(init) == 148 && le32toh(init.sender_index) == 0x11111111, "wire");
	/* The responder learned the initiator's static key. */
	CHECK(hr.state == NOISE_HANDSHAKE_CONSUMED_INITIATION, "responder state %d", hr.state);
	CHECK(!memcmp(hr.remote_static, I.local.static_public, 32), "initiator's static key not learned");
	CHECK(!memcmp(hr.timestamp, hi.timestamp, 12), "timestamp");
	CHECK(hr.remote_index == 0x11111111, "remote index");
	/* A response before the decision is refused. */
	CHECK(noise_response_create(&hr, &R.local, 0x22222222, &resp) == -EINVAL, "response before accept");
	CHECK(hr.state == NOISE_HANDSHAKE_CONSUMED_INITIATION, "state changed by a refused call");

	CHECK(noise_initiation_accept(&hr, true, psk_r, NULL) == NOISE_OK, "accept");
	CHECK(noise_response_create(&hr, &R.local, 0x22222222, &resp) == 0, "response");
	CHECK(resp.header.type == 2 && le32toh(resp.receiver_index) == 0x11111111 &&
	      le32toh(resp.sender_index) == 0x22222222, "response wire");
	CHECK(cookie_maker_add_macs(&R.maker, &resp, sizeof(resp), MONO0) == 0, "macs");
	CHECK(cookie_checker_validate(&I.checker, &resp, sizeof(resp), NULL, 0, MONO0) == COOKIE_MAC_VALID_MAC1,
	      "response mac1");
	CHECK(noise_response_receiver_index(&resp) == hi.local_index, "receiver index");
	enum noise_verdict v = noise_response_consume(&hi, &I.local, &resp, sizeof(resp));
	bool same_psk = (!psk_i && !psk_r) || (psk_i && psk_r && !memcmp(psk_i, psk_r, 32));
	if (!same_psk) {
		CHECK(v == NOISE_REJECT_DECRYPT, "psk mismatch gave %s", noise_verdict_name(v));
		CHECK(hi.state == NOISE_HANDSHAKE_CREATED_INITIATION, "a failed response changed the handshake");
		return;
	}
	CHECK(v == NOISE_OK, "response consume: %s", noise_verdict_name(v));
	CHECK(noise_handshake_begin_session(&hi, ki) == 0 && noise_handshake_begin_session(&hr, kr) == 0, "keys");
	CHECK(hi.state == NOISE_HANDSHAKE_ZEROED && crypto_is_zero(hi.chaining_key, 32), "handshake not wiped");
	CHECK(noise_handshake_begin_session(&hi, ki) == -EINVAL, "keys twice");
}

static void test_handshake_and_data(void)
{
	struct crypto_keypair ki, kr;
	full_handshake(NULL, NULL, &ki, &kr);
	CHECK(!memcmp(ki.send_key, kr.recv_key, 32) && !memcmp(ki.recv_key, kr.send_key, 32), "keys differ");
	CHECK(memcmp(ki.send_key, ki.recv_key, 32), "both directions share a key");
	CHECK(ki.is_initiator && !kr.is_initiator, "roles");
	CHECK(ki.local_index == 0x11111111 && ki.remote_index == 0x22222222 && kr.local_index == 0x22222222 &&
	      kr.remote_index == 0x11111111, "indices");

	/* Data both ways, in place. */
	struct crypto_aead *a = crypto_aead_new();
	static uint8_t pkt[16 + 1420 + 16];
	for (int round = 0; round < 5; round++) {
		for (int dir = 0; dir < 2; dir++) {
			struct crypto_keypair *tx = dir ? &kr : &ki, *rx = dir ? &ki : &kr;
			size_t plen = (size_t)(round * 300 + 16), len = 0, got = 0;
			uint64_t ctr = ~0ull;
			for (size_t i = 0; i < plen; i++)
				pkt[16 + i] = (uint8_t)(i + round + dir);
			CHECK(crypto_keypair_seal(tx, a, pkt, plen, &len) == 0 && len == plen + 32, "seal");
			CHECK(message_type_of(pkt, len) == MESSAGE_DATA && crypto_keypair_index_of(pkt) == rx->local_index,
			      "data header");
			CHECK(crypto_keypair_open(rx, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_OK, "open");
			CHECK(ctr == (uint64_t)round && got == plen, "counter %llu len %zu", (unsigned long long)ctr, got);
			bool same = true;
			for (size_t i = 0; i < plen; i++)
				same &= pkt[16 + i] == (uint8_t)(i + round + dir);
			CHECK(same, "payload differs");
		}
	}
	/* Rejections of data messages. */
	size_t len, got;
	uint64_t ctr;
	memset(pkt + 16, 0, 64);
	CHECK(crypto_keypair_seal(&ki, a, pkt, 64, &len) == 0, "seal");
	pkt[40] ^= 4;
	CHECK(crypto_keypair_open(&kr, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_DECRYPT_FAILED, "flipped bit");
	CHECK(crypto_keypair_seal(&ki, a, pkt, 64, &len) == 0, "seal");
	pkt[8] ^= 1; /* the counter is the nonce: authenticated too */
	CHECK(crypto_keypair_open(&kr, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_DECRYPT_FAILED, "counter changed");
	CHECK(crypto_keypair_seal(&ki, a, pkt, 64, &len) == 0, "seal");
	CHECK(crypto_keypair_open(&kr, a, pkt, 31, &ctr, &got) == CRYPTO_KEYPAIR_MALFORMED, "truncated");
	CHECK(crypto_keypair_open(&ki, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_WRONG_INDEX, "own message");
	pkt[1] = 1;
	CHECK(crypto_keypair_open(&kr, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_MALFORMED, "reserved byte");
	/* Counter limits (paper §6.1: REJECT_AFTER_MESSAGES). */
	ki.send_counter = REJECT_AFTER_MESSAGES;
	CHECK(crypto_keypair_seal(&ki, a, pkt, 64, &len) == -EKEYEXPIRED, "seal past REJECT_AFTER_MESSAGES");
	ki.send_counter = REJECT_AFTER_MESSAGES - 1;
	CHECK(crypto_keypair_seal(&ki, a, pkt, 64, &len) == 0, "last counter");
	CHECK(crypto_keypair_open(&kr, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_OK && ctr == REJECT_AFTER_MESSAGES - 1,
	      "last counter open");
	struct message_data *d = (struct message_data *)pkt;
	d->counter = htole64(REJECT_AFTER_MESSAGES);
	CHECK(crypto_keypair_open(&kr, a, pkt, len, &ctr, &got) == CRYPTO_KEYPAIR_COUNTER_EXHAUSTED, "counter limit");
	crypto_keypair_wipe(&ki);
	crypto_keypair_wipe(&kr);
	crypto_aead_free(a);

	/* With a psk on both sides; and mismatched psks fail at the response. */
	uint8_t psk[32], psk2[32];
	memset(psk, 0x42, 32);
	memset(psk2, 0x43, 32);
	full_handshake(psk, psk, &ki, &kr);
	CHECK(!memcmp(ki.send_key, kr.recv_key, 32), "psk keys differ");
	struct crypto_keypair k0i, k0r;
	full_handshake(NULL, NULL, &k0i, &k0r);
	CHECK(memcmp(ki.send_key, k0i.send_key, 32), "psk not mixed in");
	full_handshake(psk, psk2, &ki, &kr);
	full_handshake(NULL, psk, &ki, &kr);
}

static void test_rejections(void)
{
	struct noise_handshake hi, hr, hi_saved;
	struct message_handshake_initiation init, bad;
	struct message_handshake_response resp;
	enum noise_verdict v;

	/* Wrong static key: the initiator thinks the responder is S. mac1 is
	 * keyed with S's key, so the checker drops it; and even past mac1 the
	 * static cannot be decrypted. */
	CHECK(noise_initiation_create(&hi, &I.local, S.local.static_public, NULL, 1, WALL0, &init) == 0, "create");
	CHECK(cookie_maker_add_macs(&S.maker, &init, sizeof(init), MONO0) == 0, "macs"); /* S.maker targets R */
	v = noise_initiation_consume(&hr, &R.local, &init, sizeof(init));
	CHECK(v == NOISE_REJECT_DECRYPT, "wrong responder key: %s", noise_verdict_name(v));
	CHECK(hr.state == NOISE_HANDSHAKE_ZEROED && crypto_is_zero(&hr, sizeof(hr)), "failed consume left state");
	struct cookie_maker to_s;
	cookie_maker_init(&to_s, S.local.static_public);
	cookie_maker_add_macs(&to_s, &init, sizeof(init), MONO0);
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_i, src_i_len, MONO0) == COOKIE_MAC_INVALID,
	      "mac1 for another key accepted");

	/* Unknown peer: decrypts fine (a valid static), the caller refuses it. */
	CHECK(initiate(&hi, &hr, NULL, WALL0, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, false, NULL, NULL) == NOISE_REJECT_UNAUTHORIZED, "unauthorized");
	CHECK(hr.state == NOISE_HANDSHAKE_ZEROED, "unauthorized left state");
	CHECK(noise_response_create(&hr, &R.local, 9, &resp) == -EINVAL, "response after refusal");
	/* The stranger is a real peer of no one: same outcome through its key. */
	struct noise_handshake hs_s;
	CHECK(noise_initiation_create(&hs_s, &S.local, R.local.static_public, NULL, 5, WALL0, &init) == 0, "create");
	CHECK(noise_initiation_consume(&hr, &R.local, &init, sizeof(init)) == NOISE_OK, "consume");
	CHECK(!memcmp(hr.remote_static, S.local.static_public, 32), "stranger's key");

	/* Bad mac1. */
	CHECK(initiate(&hi, &hr, NULL, WALL0, &init) == NOISE_OK, "initiate");
	init.macs.mac1[3] ^= 0x80;
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_i, src_i_len, MONO0) == COOKIE_MAC_INVALID,
	      "bad mac1 accepted");

	/* Replay: the same initiation again, an older one, one in the same
	 * timestamp slot; a later one passes. */
	uint8_t last[12];
	CHECK(initiate(&hi, &hr, NULL, WALL0 + 10 * SEC, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, true, NULL, NULL) == NOISE_OK, "first");
	memcpy(last, hr.timestamp, 12);
	CHECK(noise_initiation_consume(&hr, &R.local, &init, sizeof(init)) == NOISE_OK, "consume replay");
	CHECK(noise_initiation_accept(&hr, true, NULL, last) == NOISE_REJECT_REPLAY, "replayed initiation accepted");
	CHECK(hr.state == NOISE_HANDSHAKE_ZEROED, "replay left state");
	CHECK(initiate(&hi, &hr, NULL, WALL0 + 9 * SEC, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, true, NULL, last) == NOISE_REJECT_REPLAY, "older timestamp accepted");
	CHECK(initiate(&hi, &hr, NULL, WALL0 + 10 * SEC + 1000, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, true, NULL, last) == NOISE_REJECT_REPLAY, "same slot accepted");
	CHECK(initiate(&hi, &hr, NULL, WALL0 + 10 * SEC + 20000000, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, true, NULL, last) == NOISE_OK, "20 ms later refused");
	CHECK(noise_initiation_accept(&hr, true, NULL, last) == NOISE_REJECT_STATE, "accept twice");

	/* Truncated, extended, wrong type, reserved bytes. */
	CHECK(initiate(&hi, &hr, NULL, WALL0, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_consume(&hr, &R.local, &init, 147) == NOISE_REJECT_MALFORMED, "147 bytes");
	CHECK(noise_initiation_consume(&hr, &R.local, &init, 0) == NOISE_REJECT_MALFORMED, "0 bytes");
	CHECK(cookie_checker_validate(&R.checker, &init, 147, src_i, src_i_len, MONO0) == COOKIE_MAC_INVALID, "mac 147");
	uint8_t big[149];
	memcpy(big, &init, 148);
	big[148] = 0;
	CHECK(noise_initiation_consume(&hr, &R.local, big, 149) == NOISE_REJECT_MALFORMED, "149 bytes");
	bad = init;
	bad.header.type = 2;
	CHECK(noise_initiation_consume(&hr, &R.local, &bad, sizeof(bad)) == NOISE_REJECT_MALFORMED, "type 2");
	bad = init;
	bad.header.reserved_zero[2] = 1;
	CHECK(noise_initiation_consume(&hr, &R.local, &bad, sizeof(bad)) == NOISE_REJECT_MALFORMED, "reserved");

	/* Every single-bit flip: mac1 covers bytes [0, 116); the AEADs cover
	 * the ephemeral, the static and the timestamp [8, 116). */
	int mac_missed = 0, noise_missed = 0;
	for (size_t bit = 0; bit < 148 * 8; bit++) {
		bad = init;
		((uint8_t *)&bad)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum cookie_mac_verdict cv =
			cookie_checker_validate(&R.checker, &bad, sizeof(bad), src_i, src_i_len, MONO0);
		if (bit / 8 < 132 && cv != COOKIE_MAC_INVALID)
			mac_missed++;
		if (bit / 8 >= 8 && bit / 8 < 116 && noise_initiation_consume(&hr, &R.local, &bad, sizeof(bad)) == NOISE_OK)
			noise_missed++;
	}
	CHECK(mac_missed == 0, "%d flipped initiation bits passed mac1", mac_missed);
	CHECK(noise_missed == 0, "%d flipped initiation bits passed the handshake", noise_missed);

	/* A small-order ephemeral (all zero) is refused. */
	bad = init;
	memset(bad.unencrypted_ephemeral, 0, 32);
	v = noise_initiation_consume(&hr, &R.local, &bad, sizeof(bad));
	CHECK(v == NOISE_REJECT_BAD_POINT, "zero ephemeral: %s", noise_verdict_name(v));

	/* Responses: flipped bits, wrong receiver index, truncation; each leaves
	 * the initiator's handshake intact, and the real response then works. */
	CHECK(initiate(&hi, &hr, NULL, WALL0, &init) == NOISE_OK, "initiate");
	CHECK(noise_initiation_accept(&hr, true, NULL, NULL) == NOISE_OK, "accept");
	CHECK(noise_response_create(&hr, &R.local, 77, &resp) == 0, "response");
	CHECK(cookie_maker_add_macs(&R.maker, &resp, sizeof(resp), MONO0) == 0, "macs");
	hi_saved = hi;
	mac_missed = noise_missed = 0;
	int state_touched = 0;
	for (size_t bit = 0; bit < 92 * 8; bit++) {
		struct message_handshake_response b = resp;
		((uint8_t *)&b)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (bit / 8 < 76 && cookie_checker_validate(&I.checker, &b, sizeof(b), NULL, 0, MONO0) != COOKIE_MAC_INVALID)
			mac_missed++;
		if (bit / 8 >= 12 && bit / 8 < 60 && noise_response_consume(&hi, &I.local, &b, sizeof(b)) == NOISE_OK)
			noise_missed++;
		state_touched += memcmp(&hi, &hi_saved, sizeof(hi)) != 0;
	}
	CHECK(mac_missed == 0, "%d flipped response bits passed mac1", mac_missed);
	CHECK(noise_missed == 0, "%d flipped response bits passed the handshake", noise_missed);
	CHECK(state_touched == 0, "a rejected response changed the handshake");
	struct message_handshake_response b = resp;
	b.receiver_index = htole32(0x11111112);
	CHECK(noise_response_consume(&hi, &I.local, &b, sizeof(b)) == NOISE_REJECT_INDEX, "wrong receiver index");
	CHECK(noise_response_consume(&hi, &I.local, &resp, 91) == NOISE_REJECT_MALFORMED, "91 bytes");
	CHECK(noise_response_consume(&hi, &I.local, &init, sizeof(init)) == NOISE_REJECT_MALFORMED, "an initiation");
	/* A response for another initiator's handshake: S's ephemeral/static
	 * do not match, so it fails authentication. */
	CHECK(noise_response_consume(&hi, &S.local, &resp, sizeof(resp)) == NOISE_REJECT_DECRYPT, "wrong local key");
	CHECK(noise_response_consume(&hi, &I.local, &resp, sizeof(resp)) == NOISE_OK, "real response after forgeries");
	CHECK(noise_response_consume(&hi, &I.local, &resp, sizeof(resp)) == NOISE_REJECT_STATE, "response twice");
	struct noise_handshake z = {0};
	CHECK(noise_response_consume(&z, &I.local, &resp, sizeof(resp)) == NOISE_REJECT_STATE, "response, no handshake");
}

static void test_cookies(void)
{
	struct noise_handshake hi, hr;
	struct message_handshake_initiation init;
	struct message_handshake_cookie reply;
	uint64_t t0 = MONO0 + 1000 * SEC;

	/* Address bytes: IP then port, network order. */
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(51820)};
	inet_pton(AF_INET, "192.0.2.1", &s4.sin_addr);
	uint8_t ab[COOKIE_ADDR_MAX];
	CHECK(cookie_addr_bytes((struct sockaddr *)&s4, ab) == 6, "v4 len");
	CHECK_HEX(ab, 6, "c0000201ca6c");
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	CHECK(cookie_addr_bytes((struct sockaddr *)&s6, ab) == 18, "v6 len");
	CHECK_HEX(ab, 18, "20010db8000000000000000000000001 01bb");

	/* Under load the responder answers a mac1-only initiation with a
	 * cookie reply; the initiator decrypts it and its next initiation from
	 * the same address carries a valid mac2. */
	CHECK(noise_initiation_create(&hi, &I.local, R.local.static_public, NULL, 0xabcdef01, WALL0, &init) == 0, "c");
	CHECK(cookie_maker_add_macs(&I.maker, &init, sizeof(init), t0) == 0, "macs");
	CHECK(crypto_is_zero(init.macs.mac2, 16), "mac2 without a cookie");
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_i, src_i_len, t0) == COOKIE_MAC_VALID_MAC1,
	      "mac1");
	CHECK(cookie_reply_create(&R.checker, &reply, &init, sizeof(init), src_i, src_i_len, t0) == 0, "reply");
	CHECK(sizeof(reply) == 64 && message_type_of(&reply, sizeof(reply)) == MESSAGE_HANDSHAKE_COOKIE, "wire");
	CHECK(le32toh(reply.receiver_index) == 0xabcdef01, "reply index");

	struct message_handshake_cookie tampered = reply;
	tampered.encrypted_cookie[5] ^= 1;
	CHECK(cookie_maker_consume_reply(&I.maker, &tampered, sizeof(tampered), t0) == COOKIE_REPLY_DECRYPT, "tampered");
	tampered = reply;
	tampered.nonce[0] ^= 1;
	CHECK(cookie_maker_consume_reply(&I.maker, &tampered, sizeof(tampered), t0) == COOKIE_REPLY_DECRYPT, "nonce");
	CHECK(cookie_maker_consume_reply(&I.maker, &reply, 63, t0) == COOKIE_REPLY_MALFORMED, "63 bytes");
	/* The stranger's maker (other key, other mac1) cannot read it. */
	CHECK(cookie_maker_consume_reply(&S.maker, &reply, sizeof(reply), t0) != COOKIE_REPLY_OK, "stranger read it");
	CHECK(cookie_maker_consume_reply(&I.maker, &reply, sizeof(reply), t0) == COOKIE_REPLY_OK, "reply consumed");
	CHECK(cookie_maker_consume_reply(&I.maker, &reply, sizeof(reply), t0) == COOKIE_REPLY_UNEXPECTED, "twice");

	CHECK(noise_initiation_create(&hi, &I.local, R.local.static_public, NULL, 2, WALL0 + SEC, &init) == 0, "c");
	CHECK(cookie_maker_add_macs(&I.maker, &init, sizeof(init), t0 + 1 * SEC) == 0, "macs");
	CHECK(!crypto_is_zero(init.macs.mac2, 16), "no mac2 with a cookie");
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_i, src_i_len, t0 + SEC) == COOKIE_MAC_VALID_MAC2,
	      "mac2 not accepted");
	/* The cookie is bound to the source address (and port). */
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_other, src_other_len, t0 + SEC) ==
	              COOKIE_MAC_VALID_MAC1,
	      "mac2 accepted from another address");
	/* mac2 is computed after mac1, over everything before mac2. */
	init.macs.mac2[0] ^= 1;
	CHECK(cookie_checker_validate(&R.checker, &init, sizeof(init), src_i, src_i_len, t0 + SEC) == COOKIE_MAC_VALID_MAC1,
	      "flipped mac2 accepted");
	CHECK(noise_initiation_consume(&hr, &R.local, &init, sizeof(init)) == NOISE_OK, "macs do not affect noise");

	/* A reply to an older mac1 is refused: AD is the mac1 we sent last. */
	struct message_handshake_initiation init2;
	CHECK(noise_initiation_create(&hi, &I.local, R.local.static_public, NULL, 3, WALL0 + 2 * SEC, &init2) == 0, "c");
	CHECK(cookie_maker_add_macs(&I.maker, &init2, sizeof(init2), t0 + SEC) == 0, "macs");
	CHECK(cookie_reply_create(&R.checker, &reply, &init, sizeof(init), src_i, src_i_len, t0 + SEC) == 0, "reply");
	CHECK(cookie_maker_consume_reply(&I.maker, &reply, sizeof(reply), t0 + SEC) == COOKIE_REPLY_DECRYPT, "old mac1");

	/* The initiator uses a cookie for COOKIE_SECRET_MAX_AGE (120 s). */
	CHECK(cookie_maker_add_macs(&I.maker, &init, sizeof(init), t0 + 119 * SEC) == 0, "macs");
	CHECK(!crypto_is_zero(init.macs.mac2, 16), "cookie dropped before 120 s");
	CHECK(cookie_maker_add_macs(&I.maker, &init, sizeof(init), t0 + 120 * SEC) == 0, "macs");
	CHECK(crypto_is_zero(init.macs.mac2, 16), "cookie used after 120 s");
	CHECK(!I.maker.have_cookie, "expired cookie kept");
}

/* Secret rotation on a fake clock: the responder's cookie secret lives
 * COOKIE_SECRET_MAX_AGE; a mac2 made from a cookie of the old secret is
 * no longer valid once it rotated. */
static void test_cookie_rotation(void)
{
	struct cookie_checker c;
	struct cookie_maker m;
	struct message_handshake_initiation init;
	struct message_handshake_cookie reply;
	struct noise_handshake hi;
	uint64_t t0 = MONO0 + 5000 * SEC;

	CHECK(cookie_checker_init(&c, R.local.static_public, NULL) == 0 && cookie_maker_init(&m, R.local.static_public) == 0,
	      "init");
	CHECK(!c.have_secret, "secret before first use");
	CHECK(noise_initiation_create(&hi, &I.local, R.local.static_public, NULL, 4, WALL0, &init) == 0, "c");
	CHECK(cookie_maker_add_macs(&m, &init, sizeof(init), t0) == 0, "macs");
	CHECK(cookie_reply_create(&c, &reply, &init, sizeof(init), src_i, src_i_len, t0) == 0, "reply");
	CHECK(c.have_secret && c.secret_birthdate == t0, "secret born");
	uint8_t secret0[32];
	memcpy(secret0, c.secret, 32);
	CHECK(cookie_maker_consume_reply(&m, &reply, sizeof(reply), t0) == COOKIE_REPLY_OK, "consume");

	CHECK(cookie_maker_add_macs(&m, &init, sizeof(init), t0 + 60 * SEC) == 0, "macs");
	CHECK(cookie_checker_validate(&c, &init, sizeof(init), src_i, src_i_len, t0 + 119 * SEC) == COOKIE_MAC_VALID_MAC2,
	      "valid at 119 s");
	CHECK(!memcmp(c.secret, secret0, 32), "rotated early");
	CHECK(cookie_checker_validate(&c, &init, sizeof(init), src_i, src_i_len, t0 + 120 * SEC) == COOKIE_MAC_VALID_MAC1,
	      "old cookie valid after rotation");
	CHECK(memcmp(c.secret, secret0, 32) && c.secret_birthdate == t0 + 120 * SEC, "secret not rotated at 120 s");
	/* A fresh reply after rotation gives a cookie that works again. */
	CHECK(cookie_maker_add_macs(&m, &init, sizeof(init), t0 + 121 * SEC) == 0, "macs");
	CHECK(cookie_reply_create(&c, &reply, &init, sizeof(init), src_i, src_i_len, t0 + 121 * SEC) == 0, "reply");
	CHECK(cookie_maker_consume_reply(&m, &reply, sizeof(reply), t0 + 121 * SEC) == COOKIE_REPLY_OK, "consume");
	CHECK(cookie_maker_add_macs(&m, &init, sizeof(init), t0 + 122 * SEC) == 0, "macs");
	CHECK(cookie_checker_validate(&c, &init, sizeof(init), src_i, src_i_len, t0 + 122 * SEC) == COOKIE_MAC_VALID_MAC2,
	      "new cookie");
	/* Rotation again two periods later. */
	CHECK(cookie_checker_validate(&c, &init, sizeof(init), src_i, src_i_len, t0 + 400 * SEC) == COOKIE_MAC_VALID_MAC1,
	      "valid after the second rotation");
	cookie_checker_wipe(&c);
	cookie_maker_wipe(&m);
}

/* Workers run handshakes at the same time: each thread gets its own
 * OpenSSL contexts (created on first use, freed by the thread-exit hook,
 * which LeakSanitizer checks). */
static void *worker(void *arg)
{
	int *ok = arg;
	struct crypto_aead *a = crypto_aead_new();
	for (int i = 0; i < 20 && a; i++) {
		struct noise_handshake hi, hr;
		struct message_handshake_initiation init;
		struct message_handshake_response resp;
		struct crypto_keypair ki, kr;
		uint8_t pkt[16 + 64 + 16] = {0};
		size_t len, got;
		uint64_t ctr;
		if (noise_initiation_create(&hi, &I.local, R.local.static_public, NULL, 7, WALL0, &init) ||
		    noise_initiation_consume(&hr, &R.local, &init, sizeof(init)) ||
		    noise_initiation_accept(&hr, true, NULL, NULL) || noise_response_create(&hr, &R.local, 8, &resp) ||
		    noise_response_consume(&hi, &I.local, &resp, sizeof(resp)) || noise_handshake_begin_session(&hi, &ki) ||
		    noise_handshake_begin_session(&hr, &kr) || crypto_keypair_seal(&ki, a, pkt, 64, &len) ||
		    crypto_keypair_open(&kr, a, pkt, len, &ctr, &got))
			*ok = 0;
	}
	crypto_aead_free(a);
	return NULL; /* no crypto_thread_exit(): the destructor must free */
}

static void test_threads(void)
{
	pthread_t t[2];
	int ok[2] = {1, 1};
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, worker, &ok[i]) == 0, "pthread_create");
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK(ok[i], "handshakes failed in thread %d", i);
	}
}

int main(void)
{
	side_init(&R, NULL);
	side_init(&I, &R);
	side_init(&S, &R);
	cookie_maker_init(&R.maker, I.local.static_public);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(40000)};
	inet_pton(AF_INET, "198.51.100.7", &a.sin_addr);
	src_i_len = cookie_addr_bytes((struct sockaddr *)&a, src_i);
	a.sin_port = htons(40001);
	src_other_len = cookie_addr_bytes((struct sockaddr *)&a, src_other);

	test_handshake_and_data();
	test_rejections();
	test_cookies();
	test_cookie_rotation();
	test_threads();
	crypto_thread_exit();
	return checks_report("test_noise");
}
