#include "crypto/cookie.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

size_t cookie_addr_bytes(const struct sockaddr *sa, uint8_t out[COOKIE_ADDR_MAX])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memcpy(out, &s4->sin_addr, 4);
		memcpy(out + 4, &s4->sin_port, 2);
		return 6;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(out, &s6->sin6_addr, 16);
		memcpy(out + 16, &s6->sin6_port, 2);
		return 18;
	}
	return 0;
}

/* key = HASH(label || Spub) */
static int derive_key(uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const char label[8],
                      const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	return crypto_blake2s_hash2(key, label, 8, pub, NOISE_PUBLIC_KEY_LEN);
}

/* Handshake messages end with the two MACs; mac1 covers everything before
 * it, mac2 everything before mac2. */
static bool is_handshake(const void *pkt, size_t len)
{
	enum message_type t = message_type_of(pkt, len);
	return t == MESSAGE_HANDSHAKE_INITIATION || t == MESSAGE_HANDSHAKE_RESPONSE;
}

static struct message_macs *macs_of(const void *pkt, size_t len)
{
	return (struct message_macs *)((uint8_t *)(uintptr_t)pkt + len - sizeof(struct message_macs));
}

static int mac1_of(uint8_t out[COOKIE_LEN], const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const void *pkt, size_t len)
{
	return crypto_blake2s_mac(out, COOKIE_LEN, key, NOISE_SYMMETRIC_KEY_LEN, pkt,
	                          len - sizeof(struct message_macs));
}

static int mac2_of(uint8_t out[COOKIE_LEN], const uint8_t cookie[COOKIE_LEN], const void *pkt, size_t len)
{
	return crypto_blake2s_mac(out, COOKIE_LEN, cookie, COOKIE_LEN, pkt, len - COOKIE_LEN);
}

/* ---- checker (receiving side) --------------------------------------------- */

int cookie_checker_init(struct cookie_checker *c, const uint8_t local_static_public[NOISE_PUBLIC_KEY_LEN],
                        const struct crypto_rng *rng)
{
	memset(c, 0, sizeof(*c));
	c->rng = rng ? *rng : crypto_rng_system;
	int err = derive_key(c->message_mac1_key, COOKIE_LABEL_MAC1, local_static_public);
	if (!err)
		err = derive_key(c->cookie_encryption_key, COOKIE_LABEL_COOKIE, local_static_public);
	if (err)
		cookie_checker_wipe(c);
	return err;
}

void cookie_checker_wipe(struct cookie_checker *c)
{
	crypto_wipe(c, sizeof(*c));
}

/* cookie = MAC(Rm, address bytes), Rm renewed once it is
 * COOKIE_SECRET_MAX_AGE old (paper §5.4.7). */
static int make_cookie(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN], const uint8_t *src, size_t src_len,
                       uint64_t now)
{
	if (!c->have_secret || now - c->secret_birthdate >= COOKIE_SECRET_MAX_AGE * NS_PER_SEC) {
		int err = crypto_random(&c->rng, c->secret, sizeof(c->secret));
		if (err)
			return err;
		c->secret_birthdate = now;
		c->have_secret = true;
	}
	/* An empty address still gets a MAC (of zero bytes). */
	return crypto_blake2s_mac(cookie, COOKIE_LEN, c->secret, sizeof(c->secret), src, src_len);
}

enum cookie_mac_verdict cookie_checker_validate(struct cookie_checker *c, const void *pkt, size_t len,
                                                const uint8_t *src, size_t src_len, uint64_t now)
{
	uint8_t mac[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_verdict v = COOKIE_MAC_INVALID;
	if (!is_handshake(pkt, len))
		return COOKIE_MAC_INVALID;
	const struct message_macs *macs = macs_of(pkt, len);

	if (mac1_of(mac, c->message_mac1_key, pkt, len)) {
		v = COOKIE_MAC_INTERNAL;
		goto out;
	}
	if (!crypto_equal(mac, macs->mac1, COOKIE_LEN))
		goto out;
	v = COOKIE_MAC_VALID_MAC1;
	if (crypto_is_zero(macs->mac2, COOKIE_LEN))
		goto out;
	if (make_cookie(c, cookie, src, src_len, now) || mac2_of(mac, cookie, pkt, len)) {
		v = COOKIE_MAC_INTERNAL;
		goto out;
	}
	if (crypto_equal(mac, macs->mac2, COOKIE_LEN))
		v = COOKIE_MAC_VALID_MAC2;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return v;
}

int cookie_reply_create(struct cookie_checker *c, struct message_handshake_cookie *out, const void *pkt,
                        size_t len, const uint8_t *src, size_t src_len, uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];
	int err;
	if (!is_handshake(pkt, len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->header.type = MESSAGE_HANDSHAKE_COOKIE;
	/* The sender index sits at offset 4 in both initiation and response. */
	memcpy(&out->receiver_index, (const uint8_t *)pkt + 4, sizeof(out->receiver_index));
	if ((err = crypto_random(&c->rng, out->nonce, sizeof(out->nonce))) ||
	    (err = make_cookie(c, cookie, src, src_len, now)))
		goto out;
	err = crypto_xaead_seal(c->cookie_encryption_key, out->nonce, out->encrypted_cookie, cookie, COOKIE_LEN,
	                        macs_of(pkt, len)->mac1, COOKIE_LEN);
out:
	crypto_wipe(cookie, sizeof(cookie));
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- maker (sending side) ------------------------------------------------- */

int cookie_maker_init(struct cookie_maker *m, const uint8_t remote_static_public[NOISE_PUBLIC_KEY_LEN])
{
	memset(m, 0, sizeof(*m));
	if (!remote_static_public)
		return -EINVAL;
	m->remote_static = remote_static_public;
	return 0;
}

void cookie_maker_wipe(struct cookie_maker *m)
{
	crypto_wipe(m, sizeof(*m));
}

int cookie_maker_add_macs(struct cookie_maker *m, void *pkt, size_t len, uint64_t now)
{
	if (!is_handshake(pkt, len))
		return -EINVAL;
	struct message_macs *macs = macs_of(pkt, len);
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	int err = derive_key(key, COOKIE_LABEL_MAC1, m->remote_static);
	if (!err)
		err = mac1_of(macs->mac1, key, pkt, len);
	crypto_wipe(key, sizeof(key));
	if (err)
		return err;
	memcpy(m->last_mac1_sent, macs->mac1, COOKIE_LEN);
	m->have_sent_mac1 = true;

	/* The responder renews its secret every COOKIE_SECRET_MAX_AGE, so a
	 * cookie is used for at most that long after it arrived. */
	if (m->have_cookie && now - m->cookie_birthdate < COOKIE_SECRET_MAX_AGE * NS_PER_SEC)
		return mac2_of(macs->mac2, m->cookie, pkt, len);
	m->have_cookie = false;
	memset(macs->mac2, 0, COOKIE_LEN);
	return 0;
}

enum cookie_reply_verdict cookie_maker_consume_reply(struct cookie_maker *m, const void *pkt, size_t len,
                                                     uint64_t now)
{
	const struct message_handshake_cookie *r = pkt;
	uint8_t cookie[COOKIE_LEN];
	if (message_type_of(pkt, len) != MESSAGE_HANDSHAKE_COOKIE)
		return COOKIE_REPLY_MALFORMED;
	if (!m->have_sent_mac1)
		return COOKIE_REPLY_UNEXPECTED;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	int err = derive_key(key, COOKIE_LABEL_COOKIE, m->remote_static);
	if (!err)
		err = crypto_xaead_open(key, r->nonce, cookie, r->encrypted_cookie, sizeof(r->encrypted_cookie),
		                        m->last_mac1_sent, COOKIE_LEN);
	crypto_wipe(key, sizeof(key));
	if (err) {
		crypto_wipe(cookie, sizeof(cookie));
		return err == -EBADMSG ? COOKIE_REPLY_DECRYPT : COOKIE_REPLY_INTERNAL;
	}
	memcpy(m->cookie, cookie, COOKIE_LEN);
	m->cookie_birthdate = now;
	m->have_cookie = true;
	m->have_sent_mac1 = false; /* one reply per mac1 sent */
	crypto_wipe(cookie, sizeof(cookie));
	return COOKIE_REPLY_OK;
}
