/* Packet helpers of the offload tests (test_vnet, test_gro): naive
 * checksums written independently of vnet.c (one 16-bit word at a time),
 * header field writers, and a sink that keeps the packets a segmenter
 * emits. */
#ifndef RG_TESTS_TUNNEL_PACKETS_H
#define RG_TESTS_TUNNEL_PACKETS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t naive_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i < len; i += 2)
		s += (uint32_t)(p[i] << 8) + (i + 1 < len ? p[i + 1] : 0);
	return s;
}

static inline uint16_t naive_fold(uint32_t s)
{
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void w16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void w32(uint8_t *p, uint32_t v)
{
	w16(p, v >> 16);
	w16(p + 2, v & 0xffff);
}

/* Packets emitted by tun_vnet_segment(): pass capture_emit and a struct
 * capture as its ctx. n counts every packet, kept or not. */
#define CAPTURE_MAX 200
struct capture {
	uint8_t pkt[CAPTURE_MAX][2048];
	size_t len[CAPTURE_MAX];
	int n;
};

static inline void capture_emit(void *ctx, const uint8_t *p, size_t len)
{
	struct capture *c = ctx;
	if (c->n < CAPTURE_MAX && len <= sizeof(c->pkt[0])) {
		memcpy(c->pkt[c->n], p, len);
		c->len[c->n] = len;
	}
	c->n++;
}

#endif
