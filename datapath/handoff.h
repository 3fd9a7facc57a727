/* handoff: the one way items cross from one worker to another
 * (ARCHITECTURE.md principle 1, "workers meet only through message rings").
 *
 * What crosses: a QUIC datagram for a CID another worker owns, a tunnel
 * datagram for a session another worker owns (roamed peer), a TUN read for a
 * peer another worker owns. Each is copied once into a single-producer
 * single-consumer byte ring, one ring per ordered pair of workers: no lock,
 * no CAS on the data path, no allocation (STYLE.md rule 9; the channel's
 * 24-byte messages would need a malloc per datagram and a free on the other
 * thread), and the items of one sender stay in order.
 *
 * Wake-up: the consumer is woken through its ring channel (ring_chan), with
 * at most one wake-up in flight per pair: the push that finds the pair not
 * yet signalled raises the pair's flag, marks the sender in the consumer's
 * set of senders, and asks the caller to post a wake-up message. The
 * consumer takes that set (handoff_senders) on each channel wake-up and
 * drains only those senders' rings. A wake-up message lost to a full channel
 * loses nothing: a full channel wakes the consumer anyway, and the set is
 * read on every wake-up.
 *
 * Records: a 64-byte header (length, kind, socket, peer and local address)
 * and the bytes, padded to 8; records never wrap (a SKIP marker fills the
 * end of the ring). Byte offsets run freely modulo 2^32. */
#ifndef RG_DATAPATH_HANDOFF_H
#define RG_DATAPATH_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

enum handoff_kind {
	HANDOFF_QUIC_DGRAM = 1,   /* peer, local, payload */
	HANDOFF_TUNNEL_DGRAM = 2, /* peer, local, payload */
	HANDOFF_TUN_PACKET = 3,   /* a raw TUN read (vnet header + packet) */
};

/* One item as the consumer sees it: valid until handoff_pop. */
struct handoff_item {
	uint32_t len;
	uint16_t kind; /* enum handoff_kind */
	uint16_t sock; /* the sender's socket index (informative only) */
	rg_sockaddr peer, local;
	uint8_t data[]; /* len bytes */
};

struct handoff_mesh;

/* n_workers 1..1024; ring_bytes per ordered pair, rounded up to a power of
 * two, 64 KiB .. 1 GiB (pages of pairs never used are never touched).
 * 0, -EINVAL, -ENOMEM. */
RG_MUST_CHECK int handoff_mesh_create(unsigned n_workers, size_t ring_bytes, struct handoff_mesh **out);
/* After no thread uses it. NULL is fine. */
void handoff_mesh_destroy(struct handoff_mesh *m);
unsigned handoff_mesh_workers(const struct handoff_mesh *m);
/* The largest payload a push accepts: a quarter of a ring, less the header. */
size_t handoff_max_len(const struct handoff_mesh *m);

/* Producer `from` (its thread only): copy an item for worker `to`. `peer`
 * and `local` may be NULL (zeroed). 1: queued, and `to` must be woken (post
 * one message on its channel); 0: queued, a wake-up is already on its way;
 * -ENOBUFS: the ring is full (the caller drops and counts); -EMSGSIZE: len
 * beyond handoff_max_len; -EINVAL: bad worker ids (from == to included). */
RG_MUST_CHECK int handoff_push(struct handoff_mesh *m, unsigned from, unsigned to, enum handoff_kind kind,
                               unsigned sock, const rg_sockaddr *peer, const rg_sockaddr *local,
                               const uint8_t *data, size_t len);

/* Consumer `to` (its thread only), on every channel wake-up: the senders
 * that signalled since the last call, up to cap ids in `from` (cap >= the
 * number of workers takes them all; the rest stay marked). Returns how many.
 * For each: handoff_ack (clears the pair's flag, so a later push wakes
 * again), then handoff_peek / handoff_pop until NULL. */
unsigned handoff_senders(struct handoff_mesh *m, unsigned to, unsigned *from, unsigned cap);
void handoff_ack(struct handoff_mesh *m, unsigned from, unsigned to);
const struct handoff_item *handoff_peek(struct handoff_mesh *m, unsigned from, unsigned to);
void handoff_pop(struct handoff_mesh *m, unsigned from, unsigned to);

#endif
