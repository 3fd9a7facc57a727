/* gro: coalescing of decrypted TCP segments into one virtio-net GSO
 * super-packet per TUN write, the reverse of tun_vnet_segment() (vnet.h).
 *
 * Consecutive segments of one TCP flow handed to tun_gro_add() are merged
 * while they could have come from one TSO send: same addresses and ports,
 * contiguous sequence numbers, the same ACK number, window, TCP options and
 * IP header fields (all but length, id and checksum; IPv4 ids consecutive
 * unless DF is set), no IP options or IPv6 extension headers, flags ACK only
 * (PSH allowed on the last segment, which ends the run), payload not empty,
 * every segment the size of the first except a shorter last one (which ends
 * the run), at most TUN_GRO_MAX_SEGS segments and TUN_GRO_MAX_LEN bytes of
 * IP packet. The output carries VIRTIO_NET_HDR_F_NEEDS_CSUM, gso_type
 * TCPV4/TCPV6, gso_size the first segment's payload, hdr_len the IP + TCP
 * header, csum_start/offset of the TCP checksum, whose field holds the
 * folded, uncomplemented pseudo-header sum over the whole TCP length (what
 * the kernel's TSO leaves there); the IPv4 header checksum is recomputed.
 *
 * One run is pending at a time: anything that does not extend it (another
 * flow, a non-TCP packet) flushes it first, so the order of packets is kept
 * exactly. A run of one segment is emitted as it came, with an empty vnet
 * header. Segment checksums are not verified: the packets were
 * authenticated by the tunnel, as the kernel's WireGuard marks them
 * CHECKSUM_UNNECESSARY. Sans-IO; no allocation after tun_gro_create(). */
#ifndef RG_TUNNEL_GRO_H
#define RG_TUNNEL_GRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/tunnel/vnet.h"

#define TUN_GRO_MAX_LEN 65535u
#define TUN_GRO_MAX_SEGS 64u

/* One packet out: h (gso_type NONE and flags 0 for a packet as it came),
 * pkt[0..len) the IP packet, nseg the segments it holds (1 if not merged).
 * pkt lives until the call returns. */
typedef void (*tun_gro_emit_fn)(void *ctx, const struct tun_vnet_hdr *h, const uint8_t *pkt, size_t len,
                                unsigned nseg);

struct tun_gro;

RG_MUST_CHECK int tun_gro_create(struct tun_gro **out);
void tun_gro_free(struct tun_gro *g);
/* Add one IP packet: merged into the pending run, or the run is flushed
 * and the packet starts a new one or (not a candidate) is emitted at once. */
void tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len, tun_gro_emit_fn emit, void *ctx);
/* Emit the pending run, if any. */
void tun_gro_flush(struct tun_gro *g, tun_gro_emit_fn emit, void *ctx);
bool tun_gro_pending(const struct tun_gro *g);

#endif
