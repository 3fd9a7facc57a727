/* tun: the TUN device of the tunnel ([tunnel] tun = NAME).
 *
 * Two halves, for two threads:
 *
 *  - Control thread, before privileges are dropped: tun_open() creates (or
 *    attaches to) the device with IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE |
 *    IFF_VNET_HDR, one queue (one fd) per worker, sets the 10-byte virtio-net
 *    header (TUNSETVNETHDRSZ) and the offloads the kernel accepts
 *    (TUNSETOFFLOAD, probed from the widest set down: CSUM + TSO4/6 +
 *    USO4/6, then without USO, then CSUM alone, then none). tun_link_set()
 *    gives the link its MTU and brings it up through rtnetlink (libmnl);
 *    its addresses are set by the control thread (control/netlink.c).
 *
 *  - Worker thread: struct tun_queue drives one queue on the worker's ring
 *    with the ring's stream I/O: TUN_QUEUE_READS reads always in flight (each
 *    buffer holds a whole 64 KB super-packet behind its vnet header). Writes
 *    are writev(2) calls from the worker, in order (tun_queue_write). No
 *    allocation after tun_queue_create. Not thread-safe: one queue, one
 *    worker.
 *
 * Every queue fd is non-blocking on the epoll backend (which retries on
 * EAGAIN) and blocking on io_uring, where the kernel waits for readiness
 * itself (a non-blocking read would complete with -EAGAIN instead). */
#ifndef RG_TUNNEL_TUN_H
#define RG_TUNNEL_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/tunnel/vnet.h"
#include "ring/ring.h"

#define TUN_QUEUE_READS 8
#define TUN_READ_BUF (TUN_VNET_HDR_LEN + 65536)

/* What TUNSETOFFLOAD accepted (TUN_F_* bits of linux/if_tun.h). */
struct tun_info {
	char name[IF_NAMESIZE];
	unsigned offload;
	unsigned ifindex;
};

/* Open n queues of device `name` (created if missing) into fds[0..n).
 * 0, or negative errno (-ENOENT: no /dev/net/tun; -EINVAL: the device
 * exists with other flags, e.g. single queue or no vnet header; -EPERM).
 * On error no fd is left open. */
RG_MUST_CHECK int tun_open(const char *name, unsigned n, int *fds, struct tun_info *info);

/* MTU (0: leave it), then up. The device's addresses are the control
 * thread's (control/netlink.c nladdr_sync). 0 or negative errno; *why says
 * which step failed. */
RG_MUST_CHECK int tun_link_set(const struct tun_info *info, unsigned mtu, const char **why);

/* Human-readable offload list ("csum,tso4,tso6,uso4,uso6") into buf. */
const char *tun_offload_str(unsigned offload, char *buf, size_t len);

/* ---- one queue on a worker's ring ---- */

/* A read completed: buf[0..len) is the vnet header and the packet. buf
 * is the queue's and is reused once this returns. */
typedef void (*tun_read_fn)(void *ctx, uint8_t *buf, size_t len);

struct tun_queue_stats {
	uint64_t rx_reads, rx_bytes;       /* reads (super-packets) and their bytes */
	uint64_t tx_writes, tx_bytes;      /* writes (a super-packet is one) */
	uint64_t tx_gro_writes;            /* of them, coalesced super-packets */
	uint64_t tx_gro_segs;              /* the segments merged into those */
	uint64_t tx_sync;                  /* written by writev(2) in the worker: since every
	                                      write is, equal to tx_writes (kept for /metrics) */
	uint64_t rx_errors, tx_errors;     /* the kernel refused */
};

struct tun_queue;

/* Take fd (the queue owns and closes it), start the reads. Packets
 * written are at most mtu bytes. 0, -EINVAL (mtu 0), -ENOMEM. */
int tun_queue_create(struct ring *r, int fd, unsigned mtu, tun_read_fn on_read, void *ctx, struct tun_queue **out);
/* Hand one IP packet to the queue's coalescer (gro.h): consecutive TCP
 * segments of one flow become one super-packet with a GSO vnet header,
 * anything else goes as it came with a zero vnet header (checksums of
 * decrypted packets are complete). The pending run is written when a
 * packet cannot extend it and by tun_queue_flush(), to be called at the
 * end of every loop turn. Each write is a writev(2) made in the call, so
 * the device receives the packets in the order they were handed over, under
 * any load (a TUN write does not wait: tun.c). 0, -EMSGSIZE, -ENOBUFS
 * (stopping), or the error of a write this call made (which may be of an
 * earlier packet's run). */
int tun_queue_write(struct tun_queue *q, const uint8_t *pkt, size_t len);
/* Write the pending coalesced run, if any. 0 or the write's error. */
int tun_queue_flush(struct tun_queue *q);
/* Stop: cancel every read in flight. Turn the ring until
 * tun_queue_busy() is false, then tun_queue_free(). */
void tun_queue_stop(struct tun_queue *q);
bool tun_queue_busy(const struct tun_queue *q);
void tun_queue_free(struct tun_queue *q);
const struct tun_queue_stats *tun_queue_stats(const struct tun_queue *q);

#endif
