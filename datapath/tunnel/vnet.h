/* vnet: the virtio-net header of a TUN queue opened with IFF_VNET_HDR, and
 * the offloads it announces, done in software before encryption.
 *
 * With TUNSETOFFLOAD (TUN_F_CSUM, TUN_F_TSO4/6, TUN_F_USO4/6) the kernel
 * hands a read up to 64 KB: one TCP or UDP "super-packet" whose header says
 * how to cut it (gso_type, gso_size) and whose transport checksum is only
 * partial (VIRTIO_NET_HDR_F_NEEDS_CSUM: the pseudo-header sum sits in the
 * checksum field, the device is to add the rest; virtio spec 1.2 §5.1.6.2).
 * A tunnel has no device to do that, so this module does what a NIC would:
 *
 *  - no GSO, NEEDS_CSUM: complete the checksum in place (fold the one's
 *    complement sum of [csum_start, end) and store its complement at
 *    csum_start + csum_offset, RFC 1071);
 *  - GSO TCPV4 / TCPV6 (TSO): one packet per gso_size bytes of payload, each
 *    with the IP and TCP headers copied and fixed: IPv4 total length, id
 *    incremented per segment and header checksum, IPv6 payload length, TCP
 *    sequence number advanced by the bytes before it, FIN and PSH only on the
 *    last segment, CWR only on the first (RFC 3168 §6.1.2), and the TCP
 *    checksum computed over the segment with its pseudo header (RFC 9293
 *    §3.1);
 *  - GSO UDP_L4 (USO): the same cut for UDP, each segment a datagram with
 *    its own length and checksum (0 is sent as 0xffff, RFC 768).
 *
 * Written by hand: no packaged C library segments a virtio-net GSO packet
 * outside the kernel. Sans-IO: bytes in, packets out through a callback.
 *
 * Contract of what is accepted (everything else is -EINVAL, counted by the
 * caller as a bad vnet header): gso_type NONE, TCPV4, TCPV6 or UDP_L4 (with
 * or without the ECN bit; UFO, which would mean IP fragmentation, is not
 * offered to the kernel and is refused); for GSO, NEEDS_CSUM set, gso_size
 * not 0, the IP version matching, csum_start the end of the IP header (IPv6
 * without extension headers), csum_offset that of the protocol, an IPv4
 * packet that is not a fragment, and headers within the packet. */
#ifndef RG_TUNNEL_VNET_H
#define RG_TUNNEL_VNET_H

#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr on the wire: 10 bytes, little endian on a TUN
 * queue (TUNSETVNETLE is the default on little-endian hosts; ringgate runs
 * on x86-64 and arm64 little endian, and the parser reads LE explicitly). */
#define TUN_VNET_HDR_LEN 10

enum {
	TUN_VNET_F_NEEDS_CSUM = 1,
	TUN_VNET_F_DATA_VALID = 2,
	TUN_VNET_GSO_NONE = 0,
	TUN_VNET_GSO_TCPV4 = 1,
	TUN_VNET_GSO_UDP = 3, /* UFO: refused */
	TUN_VNET_GSO_TCPV6 = 4,
	TUN_VNET_GSO_UDP_L4 = 5,
	TUN_VNET_GSO_ECN = 0x80,
};

struct tun_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* Decode / encode the 10 wire bytes. */
void tun_vnet_hdr_read(const uint8_t *b, struct tun_vnet_hdr *h);
void tun_vnet_hdr_write(uint8_t *b, const struct tun_vnet_hdr *h);

/* One finished inner packet. It lives until the call returns (the next
 * segment is built in the same scratch). The return value is ignored. */
typedef void (*tun_vnet_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

/* Cut pkt[0..len) (what followed the vnet header) as h says and hand each
 * resulting IP packet to emit. pkt may be modified (a checksum completed in
 * place). GSO segments are built in scratch, which must hold the headers
 * plus gso_size bytes. Returns the number of packets emitted (>= 1), or
 * -EINVAL (refused header or packet, nothing emitted), -EMSGSIZE (a
 * segment would not fit scratch). */
int tun_vnet_segment(const struct tun_vnet_hdr *h, uint8_t *pkt, size_t len, uint8_t *scratch, size_t scratch_len,
                     tun_vnet_emit_fn emit, void *ctx);

/* The Internet checksum helpers, exposed for the tests. Partial sum (not
 * folded, not complemented) of len bytes added to sum. */
uint64_t tun_csum_add(uint64_t sum, const uint8_t *p, size_t len);
/* Fold a partial sum to 16 bits and complement it: the value to store. */
uint16_t tun_csum_finish(uint64_t sum);
/* The partial sum of the TCP/UDP pseudo header (RFC 9293 §3.1, RFC 8200
 * §8.1) of the IP packet at ip, for l4_len bytes of transport. */
uint64_t tun_csum_pseudo(const uint8_t *ip, int v6, uint8_t proto, size_t l4_len);
/* Recompute the header checksum of the IPv4 header at ip (ihl bytes). */
void tun_ip4_checksum(uint8_t *ip, size_t ihl);

#endif
