/* tun: the TUN device and its queues (tun.h). */
#include "datapath/tunnel/tun.h"

#include "datapath/tunnel/gro.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Older uapi headers (Debian 12's 6.1) lack UDP segmentation offload
 * (Linux 6.2); the values are ABI. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* ---- control thread: device ---- */

static int open_queue(const char *name, char *got)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int sz = TUN_VNET_HDR_LEN;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	memcpy(got, ifr.ifr_name, IF_NAMESIZE);
	got[IF_NAMESIZE - 1] = 0;
	return fd;
}

int tun_open(const char *name, unsigned n, int *fds, struct tun_info *info)
{
	if (!name || !*name || strlen(name) >= IF_NAMESIZE || !n)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	for (unsigned i = 0; i < n; i++)
		fds[i] = -1;
	int err = 0;
	for (unsigned i = 0; i < n; i++) {
		int fd = open_queue(name, info->name);
		if (fd < 0) {
			err = fd;
			goto fail;
		}
		fds[i] = fd;
	}
	/* The widest offload set first; the kernel refuses flags it does not
	 * know (USO before 6.2) with EINVAL. The set is per device: what the
	 * first queue gets, all get. Segmentation needs CSUM. */
	static const unsigned tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
		0,
	};
	for (unsigned t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
		bool ok = true;
		for (unsigned i = 0; i < n && ok; i++)
			ok = ioctl(fds[i], TUNSETOFFLOAD, tries[t]) == 0;
		if (ok) {
			info->offload = tries[t];
			break;
		}
	}
	info->ifindex = if_nametoindex(info->name);
	if (!info->ifindex) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	return err;
}

const char *tun_offload_str(unsigned offload, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{TUN_F_CSUM, "csum"}, {TUN_F_TSO4, "tso4"}, {TUN_F_TSO6, "tso6"},
	             {TUN_F_USO4, "uso4"}, {TUN_F_USO6, "uso6"}};
	size_t at = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(offload & names[i].bit))
			continue;
		int w = snprintf(buf + at, len - at, "%s%s", at ? "," : "", names[i].name);
		if (w < 0 || (size_t)w >= len - at)
			break;
		at += (size_t)w;
	}
	if (!at)
		snprintf(buf, len, "none");
	return buf;
}

/* One rtnetlink request, answered by an ack (or an error). */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	static unsigned seq_next;
	nlh->nlmsg_seq = ++seq_next + (unsigned)time(NULL);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is a VLA size */
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

int tun_link_set(const struct tun_info *info, unsigned mtu, const char **why)
{
	*why = "netlink socket";
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	int err = 0;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE is a VLA size */
	*why = "mtu and up";
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)info->ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	err = nl_talk(nl, nlh);
out:
	mnl_socket_close(nl);
	return err;
}

/* ---- worker thread: one queue ---- */

struct tun_slot {
	struct ring_io io;
	struct tun_queue *q;
	uint8_t *buf;
};

struct tun_queue {
	struct ring *ring;
	int fd;
	unsigned mtu;
	tun_read_fn on_read;
	void *ctx;
	bool stopping;
	struct tun_slot rd[TUN_QUEUE_READS];
	struct tun_gro *gro;
	int emit_err; /* the first error of the writes tun_gro emitted */
	uint8_t *mem;
	struct tun_queue_stats st;
};

static void read_done(struct ring *r, struct ring_io *io, int res);

static void read_arm(struct tun_queue *q, struct tun_slot *s)
{
	s->io.op = RING_IO_READ;
	s->io.fd = q->fd;
	s->io.buf = s->buf;
	s->io.len = TUN_READ_BUF;
	s->io.done = read_done;
	s->io.user = s;
	if (ring_io_submit(q->ring, &s->io))
		q->st.rx_errors++;
}

static void read_done(struct ring *r, struct ring_io *io, int res)
{
	(void)r;
	struct tun_slot *s = io->user;
	struct tun_queue *q = s->q;
	if (q->stopping)
		return;
	if (res > 0) {
		q->st.rx_reads++;
		q->st.rx_bytes += (uint64_t)res;
		q->on_read(q->ctx, s->buf, (size_t)res);
	} else if (res != -EAGAIN && res != -EINTR) {
		/* -EBADFD and the like: the queue was detached or the fd is
		 * gone. Re-arming would spin on the error: this read stays
		 * idle, counted so /metrics shows it. */
		q->st.rx_errors++;
		return;
	}
	read_arm(q, s);
}

int tun_queue_create(struct ring *r, int fd, unsigned mtu, tun_read_fn on_read, void *ctx, struct tun_queue **out)
{
	if (!mtu)
		return -EINVAL;
	struct tun_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->mem = malloc((size_t)TUN_QUEUE_READS * TUN_READ_BUF);
	if (!q->mem || tun_gro_create(&q->gro)) {
		free(q->mem);
		free(q);
		return -ENOMEM;
	}
	q->ring = r;
	q->fd = fd;
	q->mtu = mtu;
	q->on_read = on_read;
	q->ctx = ctx;
	/* io_uring waits for readiness itself on a blocking fd; epoll needs
	 * EAGAIN to know when to wait (tun.h). */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0) {
		if (ring_backend_of(r) == RING_BACKEND_EPOLL)
			fl |= O_NONBLOCK;
		else
			fl &= ~O_NONBLOCK;
		fcntl(fd, F_SETFL, fl);
	}
	for (unsigned i = 0; i < TUN_QUEUE_READS; i++) {
		q->rd[i].q = q;
		q->rd[i].buf = q->mem + (size_t)i * TUN_READ_BUF;
		read_arm(q, &q->rd[i]);
	}
	*out = q;
	return 0;
}

/* Write vnet header vh and pkt[0..len) now, with writev(2) from this
 * thread: every TUN write goes this way, so writes reach the device in the
 * order tun_gro emits them, which gro.h promises and TCP needs (a segment
 * that overtakes others reads as loss: three duplicate ACKs halve the
 * window, RFC 5681 section 3.2). Writes through the ring could not keep
 * that order: a pool of slots needs a way out when every slot is in
 * flight, and writing at once overtook the slots still queued. A TUN write
 * does not wait: the kernel hands the packet to its stack in this call
 * (tun_get_user), and the queue's send buffer is INT_MAX unless
 * TUNSETSNDBUF lowers it; -EAGAIN (epoll backend, non-blocking fd) would
 * mean the device refused, and the packet is dropped and counted like any
 * other refusal. Writing from pkt itself also saves the copy into a slot. */
static int write_vnet(struct tun_queue *q, const uint8_t *vh, const uint8_t *pkt, size_t len)
{
	struct iovec iov[2] = {{(void *)vh, TUN_VNET_HDR_LEN}, {(void *)pkt, len}};
	ssize_t n;
	do
		n = writev(q->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(TUN_VNET_HDR_LEN + len)) {
		q->st.tx_errors++;
		return n < 0 ? -errno : -EIO;
	}
	q->st.tx_writes++;
	q->st.tx_sync++;
	q->st.tx_bytes += len;
	return 0;
}

/* tun_gro's output: a packet as it came (a zero vnet header: checksums of
 * decrypted packets are complete) or a super-packet. */
static void gro_emit(void *ctx, const struct tun_vnet_hdr *h, const uint8_t *pkt, size_t len, unsigned nseg)
{
	struct tun_queue *q = ctx;
	uint8_t vh[TUN_VNET_HDR_LEN];
	tun_vnet_hdr_write(vh, h);
	int err = write_vnet(q, vh, pkt, len);
	if (!err && nseg > 1) {
		q->st.tx_gro_writes++;
		q->st.tx_gro_segs += nseg;
	}
	if (err && !q->emit_err)
		q->emit_err = err;
}

int tun_queue_write(struct tun_queue *q, const uint8_t *pkt, size_t len)
{
	if (len > q->mtu)
		return -EMSGSIZE;
	if (q->stopping)
		return -ENOBUFS;
	q->emit_err = 0;
	tun_gro_add(q->gro, pkt, len, gro_emit, q);
	return q->emit_err;
}

int tun_queue_flush(struct tun_queue *q)
{
	q->emit_err = 0;
	if (!q->stopping)
		tun_gro_flush(q->gro, gro_emit, q);
	return q->emit_err;
}

void tun_queue_stop(struct tun_queue *q)
{
	q->stopping = true;
	for (unsigned i = 0; i < TUN_QUEUE_READS; i++)
		ring_io_cancel(q->ring, &q->rd[i].io);
}

bool tun_queue_busy(const struct tun_queue *q)
{
	for (unsigned i = 0; i < TUN_QUEUE_READS; i++)
		if (ring_io_busy(&q->rd[i].io))
			return true;
	return false;
}

void tun_queue_free(struct tun_queue *q)
{
	if (!q)
		return;
	close(q->fd);
	free(q->mem);
	tun_gro_free(q->gro);
	free(q);
}

const struct tun_queue_stats *tun_queue_stats(const struct tun_queue *q)
{
	return &q->st;
}
