/* vnet: software checksum and segmentation offload (vnet.h). */
#include "datapath/tunnel/vnet.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>

#include "datapath/tunnel/bytes.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void tun_vnet_hdr_read(const uint8_t *b, struct tun_vnet_hdr *h)
{
	h->flags = b[0];
	h->gso_type = b[1];
	h->hdr_len = le16(b + 2);
	h->gso_size = le16(b + 4);
	h->csum_start = le16(b + 6);
	h->csum_offset = le16(b + 8);
}

void tun_vnet_hdr_write(uint8_t *b, const struct tun_vnet_hdr *h)
{
	const uint16_t v[4] = {h->hdr_len, h->gso_size, h->csum_start, h->csum_offset};
	b[0] = h->flags;
	b[1] = h->gso_type;
	for (int i = 0; i < 4; i++) {
		b[2 + 2 * i] = (uint8_t)v[i];
		b[3 + 2 * i] = (uint8_t)(v[i] >> 8);
	}
}

/* RFC 1071: 16-bit big-endian words summed in a wide accumulator; an odd
 * last byte is the high half of a word. */
uint64_t tun_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 4) {
		sum += tunnel_get32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += tunnel_get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t tun_csum_finish(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The pseudo header of RFC 9293 §3.1 / RFC 8200 §8.1. */
uint64_t tun_csum_pseudo(const uint8_t *ip, int v6, uint8_t proto, size_t l4_len)
{
	uint64_t s = v6 ? tun_csum_add(0, ip + 8, 32) : tun_csum_add(0, ip + 12, 8);
	return s + proto + l4_len;
}

/* The transport checksum of a whole packet, from scratch. */
static void l4_checksum(uint8_t *ip, int v6, size_t l4_off, size_t len, uint8_t proto)
{
	uint8_t *l4 = ip + l4_off;
	size_t l4_len = len - l4_off, at = proto == IPPROTO_TCP ? 16 : 6;
	tunnel_put16(l4 + at, 0);
	uint16_t c = tun_csum_finish(tun_csum_add(tun_csum_pseudo(ip, v6, proto, l4_len), l4, l4_len));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff; /* RFC 768: 0 means no checksum */
	tunnel_put16(l4 + at, c);
}

void tun_ip4_checksum(uint8_t *ip, size_t ihl)
{
	tunnel_put16(ip + 10, 0);
	tunnel_put16(ip + 10, tun_csum_finish(tun_csum_add(0, ip, ihl)));
}

/* Partial checksum (no GSO): the field holds the pseudo-header sum, the
 * rest is added here, as a NIC or skb_checksum_help() would. */
static int complete_csum(const struct tun_vnet_hdr *h, uint8_t *pkt, size_t len)
{
	size_t start = h->csum_start, at = start + h->csum_offset;
	if (start >= len || at + 2 > len)
		return -EINVAL;
	uint16_t c = tun_csum_finish(tun_csum_add(0, pkt + start, len - start));
	/* A UDP checksum that computes to 0 is sent as 0xffff. Which
	 * protocol it is the offset says: 6 is UDP's, 16 TCP's. */
	if (c == 0 && h->csum_offset == 6)
		c = 0xffff;
	tunnel_put16(pkt + at, c);
	return 0;
}

/* What segmentation needs to know of the headers. */
struct layout {
	int v6;
	uint8_t proto;
	size_t ip_len; /* IP header, = csum_start */
	size_t hdr;    /* IP + transport headers */
};

static int parse(const struct tun_vnet_hdr *h, const uint8_t *pkt, size_t len, struct layout *l)
{
	uint8_t type = h->gso_type & (uint8_t)~TUN_VNET_GSO_ECN;
	if (!(h->flags & TUN_VNET_F_NEEDS_CSUM) || !h->gso_size || len < 20)
		return -EINVAL;
	int ver = pkt[0] >> 4;
	if ((type == TUN_VNET_GSO_TCPV4 && ver != 4) || (type == TUN_VNET_GSO_TCPV6 && ver != 6) ||
	    (ver != 4 && ver != 6))
		return -EINVAL;
	l->v6 = ver == 6;
	l->proto = type == TUN_VNET_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	if (l->v6) {
		if (len < 40 || pkt[6] != l->proto)
			return -EINVAL; /* extension headers: not offered by the kernel's TSO/USO paths we enable */
		l->ip_len = 40;
	} else {
		l->ip_len = (size_t)(pkt[0] & 0x0f) * 4;
		if (l->ip_len < 20 || l->ip_len > len || pkt[9] != l->proto)
			return -EINVAL;
		if (tunnel_get16(pkt + 6) & 0x3fff) /* MF or a fragment offset */
			return -EINVAL;
	}
	if (h->csum_start != l->ip_len || h->csum_offset != (l->proto == IPPROTO_TCP ? 16 : 6))
		return -EINVAL;
	size_t thl = 8;
	if (l->proto == IPPROTO_TCP) {
		if (l->ip_len + 20 > len)
			return -EINVAL;
		thl = (size_t)(pkt[l->ip_len + 12] >> 4) * 4;
		if (thl < 20)
			return -EINVAL;
	}
	l->hdr = l->ip_len + thl;
	if (l->hdr > len)
		return -EINVAL;
	return 0;
}

enum { TCP_CWR = 0x80 }; /* <netinet/tcp.h> has TH_FIN, TH_PUSH, not CWR */

int tun_vnet_segment(const struct tun_vnet_hdr *h, uint8_t *pkt, size_t len, uint8_t *scratch, size_t scratch_len,
                     tun_vnet_emit_fn emit, void *ctx)
{
	uint8_t type = h->gso_type & (uint8_t)~TUN_VNET_GSO_ECN;
	if (type == TUN_VNET_GSO_NONE) {
		if (h->gso_type & TUN_VNET_GSO_ECN)
			return -EINVAL;
		if ((h->flags & TUN_VNET_F_NEEDS_CSUM) && complete_csum(h, pkt, len))
			return -EINVAL;
		emit(ctx, pkt, len);
		return 1;
	}
	if (type != TUN_VNET_GSO_TCPV4 && type != TUN_VNET_GSO_TCPV6 && type != TUN_VNET_GSO_UDP_L4)
		return -EINVAL;
	struct layout l;
	if (parse(h, pkt, len, &l))
		return -EINVAL;
	size_t payload = len - l.hdr, mss = h->gso_size;
	if (l.hdr + (payload < mss ? payload : mss) > scratch_len)
		return -EMSGSIZE;
	uint16_t id = l.v6 ? 0 : tunnel_get16(pkt + 4);
	uint32_t seq = l.proto == IPPROTO_TCP ? tunnel_get32(pkt + l.ip_len + 4) : 0;
	uint8_t tcp_flags = l.proto == IPPROTO_TCP ? pkt[l.ip_len + 13] : 0;
	int n = 0;
	size_t off = 0;
	do {
		size_t seg = payload - off < mss ? payload - off : mss;
		bool first = off == 0, last = off + seg >= payload;
		uint8_t *s = scratch;
		memcpy(s, pkt, l.hdr);
		memcpy(s + l.hdr, pkt + l.hdr + off, seg);
		size_t slen = l.hdr + seg;
		if (l.v6) {
			tunnel_put16(s + 4, (uint16_t)(slen - 40));
		} else {
			tunnel_put16(s + 2, (uint16_t)slen);
			tunnel_put16(s + 4, (uint16_t)(id + n));
			tun_ip4_checksum(s, l.ip_len);
		}
		uint8_t *l4 = s + l.ip_len;
		if (l.proto == IPPROTO_TCP) {
			tunnel_put32(l4 + 4, seq + (uint32_t)off);
			uint8_t f = tcp_flags;
			if (!last)
				f &= (uint8_t)~(TH_FIN | TH_PUSH);
			if (!first)
				f &= (uint8_t)~TCP_CWR;
			l4[13] = f;
		} else {
			tunnel_put16(l4 + 4, (uint16_t)(slen - l.ip_len));
		}
		l4_checksum(s, l.v6, l.ip_len, slen, l.proto);
		emit(ctx, s, slen);
		n++;
		off += seg;
	} while (off < payload);
	return n;
}
