/* Types shared by the tunnel building blocks (allowedips, replay, timers,
 * session, ratelimit). Everything here is plain data: no I/O, no clock.
 *
 * Time is a uint64_t count of nanoseconds on the caller's monotonic clock
 * (ring_now()); 0 is reserved to mean "never" or "not armed", so a caller
 * whose clock may read 0 must add an offset. */
#ifndef RG_TUNNEL_TYPES_H
#define RG_TUNNEL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/util.h" /* struct crypto_rng: the randomness handed in at init */
#include "ring/ring.h"   /* rg_sockaddr */

/* An IP address without port, as the allowed-IPs trie and the rate limiter
 * see it: family AF_INET (4 bytes used) or AF_INET6 (16 bytes), network
 * byte order. */
struct tunnel_ip {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

/* Fill *ip from the address part of a socket address. 0 or -EAFNOSUPPORT. */
int tunnel_ip_from_sockaddr(struct tunnel_ip *ip, const rg_sockaddr *sa);

/* Whether two socket addresses name the same remote: same family, port and
 * address (and scope id for IPv6). Padding and flow labels are ignored, so
 * addresses built by different code compare equal. */
bool tunnel_sockaddr_equal(const rg_sockaddr *a, const rg_sockaddr *b);

#endif
