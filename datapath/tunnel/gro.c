/* gro: TCP segment coalescing for TUN writes (gro.h). */
#include "datapath/tunnel/gro.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/tunnel/bytes.h"

struct tun_gro {
	size_t len;      /* bytes of buf in use; 0: no run */
	size_t ip_len;   /* IP header */
	size_t hdr;      /* IP + TCP headers */
	size_t mss;      /* payload of the first segment */
	unsigned nseg;
	uint32_t next_seq;
	uint16_t next_id;
	bool v6, closed;
	uint8_t buf[TUN_GRO_MAX_LEN];
};

int tun_gro_create(struct tun_gro **out)
{
	struct tun_gro *g = malloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->len = 0;
	g->nseg = 0;
	*out = g;
	return 0;
}

void tun_gro_free(struct tun_gro *g)
{
	free(g);
}

bool tun_gro_pending(const struct tun_gro *g)
{
	return g->len != 0;
}

/* What a candidate segment looks like. */
struct seg {
	bool v6;
	size_t ip_len, hdr, payload;
	uint8_t flags;
};

/* A TCP segment that may be merged: 0, or -1 (emit it as it is). */
static int candidate(const uint8_t *p, size_t len, struct seg *s)
{
	if (len < 40)
		return -1;
	int ver = p[0] >> 4;
	if (ver == 4) {
		if ((p[0] & 0x0f) != 5 || p[9] != IPPROTO_TCP || tunnel_get16(p + 2) != len)
			return -1; /* options, not TCP, or a length that is not this packet's */
		if (tunnel_get16(p + 6) & 0x3fff)
			return -1; /* MF or a fragment offset */
		s->v6 = false;
		s->ip_len = 20;
	} else if (ver == 6) {
		if (len < 60 || p[6] != IPPROTO_TCP || (size_t)tunnel_get16(p + 4) + 40 != len)
			return -1; /* extension headers, not TCP, or jumbo/odd length */
		s->v6 = true;
		s->ip_len = 40;
	} else {
		return -1;
	}
	const uint8_t *t = p + s->ip_len;
	size_t thl = (size_t)(t[12] >> 4) * 4;
	if (thl < 20 || s->ip_len + thl >= len) /* no payload: pure ACKs pass */
		return -1;
	s->flags = t[13];
	if ((s->flags & (uint8_t)~TH_PUSH) != TH_ACK) /* SYN FIN RST URG ECE CWR */
		return -1;
	s->hdr = s->ip_len + thl;
	s->payload = len - s->hdr;
	return 0;
}

/* Can segment p (described by s) extend the pending run? */
static bool extends(const struct tun_gro *g, const uint8_t *p, size_t len, const struct seg *s)
{
	const uint8_t *r = g->buf;
	if (g->closed || g->nseg >= TUN_GRO_MAX_SEGS || g->len + s->payload > TUN_GRO_MAX_LEN)
		return false;
	if (s->v6 != g->v6 || s->hdr != g->hdr || s->payload > g->mss)
		return false;
	if (s->v6) {
		/* version, traffic class, flow label; next header, hop
		 * limit, addresses */
		if (memcmp(p, r, 4) || memcmp(p + 6, r + 6, 34))
			return false;
	} else {
		/* version/IHL, TOS; flags/fragment, TTL, protocol;
		 * addresses */
		if (memcmp(p, r, 2) || memcmp(p + 6, r + 6, 4) || memcmp(p + 12, r + 12, 8))
			return false;
		if (!(p[6] & 0x40) && tunnel_get16(p + 4) != g->next_id)
			return false; /* without DF the ids must follow on */
	}
	const uint8_t *t = p + s->ip_len, *rt = r + g->ip_len;
	if (memcmp(t, rt, 4) || tunnel_get32(t + 4) != g->next_seq)
		return false; /* ports, sequence */
	/* ACK number, data offset, window; the urgent pointer; options */
	if (memcmp(t + 8, rt + 8, 2 + 2 + 1) || memcmp(t + 14, rt + 14, 2) || memcmp(t + 18, rt + 18, 2))
		return false;
	if (memcmp(t + 20, rt + 20, s->hdr - s->ip_len - 20))
		return false;
	(void)len;
	return true;
}

static void start(struct tun_gro *g, const uint8_t *p, size_t len, const struct seg *s)
{
	memcpy(g->buf, p, len);
	g->len = len;
	g->v6 = s->v6;
	g->ip_len = s->ip_len;
	g->hdr = s->hdr;
	g->mss = s->payload;
	g->nseg = 1;
	g->next_seq = tunnel_get32(p + s->ip_len + 4) + (uint32_t)s->payload;
	g->next_id = s->v6 ? 0 : (uint16_t)(tunnel_get16(p + 4) + 1);
	g->closed = (s->flags & TH_PUSH) != 0;
}

void tun_gro_flush(struct tun_gro *g, tun_gro_emit_fn emit, void *ctx)
{
	if (!g->len)
		return;
	struct tun_vnet_hdr h = {0};
	uint8_t *p = g->buf;
	if (g->nseg > 1) {
		if (g->v6) {
			tunnel_put16(p + 4, (uint16_t)(g->len - 40));
		} else {
			tunnel_put16(p + 2, (uint16_t)g->len);
			tun_ip4_checksum(p, g->ip_len);
		}
		/* what the kernel's TSO leaves in the field: the pseudo-header
		 * sum over the whole length, folded, not complemented */
		uint64_t ps = tun_csum_pseudo(p, g->v6, IPPROTO_TCP, g->len - g->ip_len);
		tunnel_put16(p + g->ip_len + 16, (uint16_t)~tun_csum_finish(ps));
		h.flags = TUN_VNET_F_NEEDS_CSUM;
		h.gso_type = g->v6 ? TUN_VNET_GSO_TCPV6 : TUN_VNET_GSO_TCPV4;
		h.hdr_len = (uint16_t)g->hdr;
		h.gso_size = (uint16_t)g->mss;
		h.csum_start = (uint16_t)g->ip_len;
		h.csum_offset = 16;
	}
	size_t len = g->len;
	unsigned n = g->nseg;
	g->len = 0;
	g->nseg = 0;
	emit(ctx, &h, p, len, n);
}

void tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len, tun_gro_emit_fn emit, void *ctx)
{
	struct seg s;
	if (candidate(pkt, len, &s)) {
		static const struct tun_vnet_hdr none;
		tun_gro_flush(g, emit, ctx);
		emit(ctx, &none, pkt, len, 1);
		return;
	}
	if (g->len && extends(g, pkt, len, &s)) {
		memcpy(g->buf + g->len, pkt + s.hdr, s.payload);
		g->len += s.payload;
		g->nseg++;
		g->next_seq += (uint32_t)s.payload;
		g->next_id++;
		if (s.flags & TH_PUSH) {
			g->buf[g->ip_len + 13] |= TH_PUSH;
			g->closed = true;
		}
		if (s.payload < g->mss)
			g->closed = true;
		return;
	}
	tun_gro_flush(g, emit, ctx);
	start(g, pkt, len, &s);
}
