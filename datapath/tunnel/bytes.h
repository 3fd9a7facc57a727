/* bytes: fixed-width big-endian loads and stores of unaligned IP, TCP and
 * UDP header fields, for the tunnel's packet code (WireGuard's own
 * little-endian fields are read through crypto/messages.h's structs). */
#ifndef RG_TUNNEL_BYTES_H
#define RG_TUNNEL_BYTES_H

#include <stdint.h>

static inline uint16_t tunnel_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void tunnel_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t tunnel_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void tunnel_put32(uint8_t *p, uint32_t v)
{
	tunnel_put16(p, (uint16_t)(v >> 16));
	tunnel_put16(p + 2, (uint16_t)v);
}

#endif
