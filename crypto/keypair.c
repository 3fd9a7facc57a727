#include "crypto/keypair.h"
#include "crypto/util.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

int crypto_keypair_seal(struct crypto_keypair *kp, struct crypto_aead *a, uint8_t *pkt, size_t plain_len,
                        size_t *pkt_len)
{
	if (plain_len > CRYPTO_AEAD_MAX_LEN)
		return -EINVAL;
	if (kp->send_counter >= REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	uint64_t counter = kp->send_counter;
	struct message_data *m = (struct message_data *)pkt;
	m->header = (struct message_header){.type = MESSAGE_DATA};
	m->key_idx = htole32(kp->remote_index);
	m->counter = htole64(counter);
	int err = crypto_aead_seal(a, kp->send_key, counter, pkt + MESSAGE_DATA_HEADER_LEN,
	                           pkt + MESSAGE_DATA_HEADER_LEN, plain_len, NULL, 0);
	if (err)
		return err;
	/* The counter is spent only once the message exists. */
	kp->send_counter = counter + 1;
	*pkt_len = MESSAGE_DATA_HEADER_LEN + plain_len + NOISE_AUTHTAG_LEN;
	return 0;
}

uint32_t crypto_keypair_index_of(const uint8_t *pkt)
{
	return le32toh(((const struct message_data *)pkt)->key_idx);
}

enum crypto_keypair_verdict crypto_keypair_open(const struct crypto_keypair *kp, struct crypto_aead *a,
                                                uint8_t *pkt, size_t len, uint64_t *counter, size_t *plain_len)
{
	if (message_type_of(pkt, len) != MESSAGE_DATA)
		return CRYPTO_KEYPAIR_MALFORMED;
	const struct message_data *m = (const struct message_data *)pkt;
	if (le32toh(m->key_idx) != kp->local_index)
		return CRYPTO_KEYPAIR_WRONG_INDEX;
	uint64_t c = le64toh(m->counter);
	if (c >= REJECT_AFTER_MESSAGES)
		return CRYPTO_KEYPAIR_COUNTER_EXHAUSTED;
	size_t clen = len - MESSAGE_DATA_HEADER_LEN;
	int err = crypto_aead_open(a, kp->recv_key, c, pkt + MESSAGE_DATA_HEADER_LEN, pkt + MESSAGE_DATA_HEADER_LEN,
	                           clen, NULL, 0);
	if (err == -EBADMSG)
		return CRYPTO_KEYPAIR_DECRYPT_FAILED;
	if (err)
		return CRYPTO_KEYPAIR_INTERNAL;
	*counter = c;
	*plain_len = clen - NOISE_AUTHTAG_LEN;
	return CRYPTO_KEYPAIR_OK;
}

void crypto_keypair_wipe(struct crypto_keypair *kp)
{
	crypto_wipe(kp, sizeof(*kp));
}
