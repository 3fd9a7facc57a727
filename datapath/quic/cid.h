/* cid: the shape of the connection IDs this server chooses, and the
 * per-worker table from connection ID to connection.
 *
 * Encoding of a server-chosen CID (QUIC_CID_LEN = 16 octets), following the
 * "plaintext" layout of QUIC-LB (draft-ietf-quic-load-balancers, section 3)
 * so a reuseport BPF program or another worker can find the owner without
 * state:
 *
 *   octet 0      bits 7..5: config rotation, always 0 here
 *                bits 4..0: length self-description, QUIC_CID_LEN - 1
 *   octets 1..2  owning worker id, big-endian (0..65535)
 *   octets 3..15 random nonce (104 bits, from the CSPRNG)
 *
 * The worker id is visible on the wire. That is accepted: it says which
 * core holds the connection, nothing about the client.
 */
#ifndef RG_QUIC_CID_H
#define RG_QUIC_CID_H

#include <stddef.h>
#include <stdint.h>

#define QUIC_CID_LEN 16
#define QUIC_CID_MAX_LEN 20 /* RFC 9000 17.2: a CID is at most 20 octets */
#define QUIC_CID_MAX_WORKERS 65536u
#define QUIC_CID_NONCE_LEN (QUIC_CID_LEN - 3)
#define QUIC_CID_HASH_KEY_LEN 16

/* Write a CID for `worker` with `nonce` (QUIC_CID_NONCE_LEN random octets)
 * into cid[QUIC_CID_LEN]. -EINVAL when worker is out of range. */
int quic_cid_encode(uint8_t *cid, unsigned worker, const uint8_t *nonce);
/* The owning worker of a CID of our shape, or -EINVAL when it is not one of
 * ours (wrong length or first octet). */
int quic_cid_owner(const uint8_t *cid, size_t len);

/* Open addressing with linear probing and backward-shift deletion; keys are
 * hashed with SipHash-2-4 (libsodium crypto_shorthash) under a per-worker
 * random key, because clients choose the Initial DCID and could otherwise
 * aim collisions at one slot. Capacity is a power of two kept at most half
 * full; it doubles when needed (allocation off the common path: the
 * initial size comes from max_conns). Values are opaque, never NULL. */
struct quic_cid_slot {
	uint8_t len; /* 0: empty */
	uint8_t data[QUIC_CID_MAX_LEN];
	void *val;
};

struct quic_cid_table {
	struct quic_cid_slot *slots;
	size_t mask;  /* capacity - 1 */
	size_t count;
	uint8_t key[QUIC_CID_HASH_KEY_LEN];
};

RG_MUST_CHECK int quic_cid_table_init(struct quic_cid_table *t, size_t expected,
                        const uint8_t key[QUIC_CID_HASH_KEY_LEN]);
void quic_cid_table_free(struct quic_cid_table *t);
/* NULL when absent. */
void *quic_cid_table_find(const struct quic_cid_table *t, const uint8_t *cid, size_t len);
/* -EINVAL (len 0 or > 20, val NULL), -EEXIST, -ENOMEM. */
RG_MUST_CHECK int quic_cid_table_insert(struct quic_cid_table *t, const uint8_t *cid, size_t len, void *val);
/* -ENOENT when absent. */
int quic_cid_table_remove(struct quic_cid_table *t, const uint8_t *cid, size_t len);

#endif
