/* engine_tx: the send path of the tunnel engine (engine.h): route an inner
 * packet by allowed IPs, pad, seal, send; keepalives; the one packet that
 * waits for a handshake. */
#include "datapath/tunnel/engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "datapath/tunnel/bytes.h"

int tunnel_engine_inner(const uint8_t *pkt, size_t len, int *family, size_t *ip_len)
{
	if (!len)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4: {
		if (len < 20)
			return -EINVAL;
		size_t tot = tunnel_get16(pkt + 2);
		if (tot < 20 || tot > len)
			return -EINVAL;
		*family = AF_INET;
		*ip_len = tot;
		return 0;
	}
	case 6: {
		if (len < 40)
			return -EINVAL;
		size_t tot = 40 + (size_t)tunnel_get16(pkt + 4);
		if (tot > len)
			return -EINVAL;
		*family = AF_INET6;
		*ip_len = tot;
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* Seal plain[0..len) with kp and send it to p's session address. Paper
 * §5.4.6: pad with zeros to a multiple of 16 so lengths leak less, but
 * never past the MTU (the padded packet must still fit the path). */
static int seal_send(struct tunnel_engine *e, struct tunnel_peer *p, struct session_keypair *kp,
                     const uint8_t *plain, size_t len, uint64_t now)
{
	struct session *s = p->session;
	size_t padded = (len + 15) & ~(size_t)15;
	if (padded > e->mtu)
		padded = len > e->mtu ? len : e->mtu;
	uint8_t *buf = e->buf;
	if (len)
		memcpy(buf + MESSAGE_DATA_HEADER_LEN, plain, len);
	memset(buf + MESSAGE_DATA_HEADER_LEN + len, 0, padded - len);
	size_t pkt_len;
	int err = crypto_keypair_seal(&kp->kp, e->aead, buf, padded, &pkt_len);
	if (err)
		return err;
	e->out.send_datagram(e->out.ctx, p->sock, &s->remote, &p->local, buf, pkt_len);
	struct timers_key k;
	session_keypair_timers_key(kp, &k);
	timers_any_authenticated_packet_sent(&s->timers, now);
	timers_data_sent(&s->timers, now, &k, len);
	s->tx_bytes += len;
	p->tx_packets++;
	return 0;
}

int tunnel_peer_send_keepalive(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now)
{
	struct session *s = p->session;
	if (!s)
		return -ENOTCONN;
	struct session_keypair *kp = session_keypair_for_send(s, now);
	if (!kp) {
		/* No key may send: a handshake gives one (timers.h contract). */
		timers_handshake_wanted(&s->timers, now);
		return -ENOKEY;
	}
	return seal_send(e, p, kp, NULL, 0, now);
}

/* Send the waiting packet if a keypair may send now. */
void tunnel_peer_flush(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now)
{
	if (!p->queued_len || !p->session)
		return;
	struct session_keypair *kp = session_keypair_for_send(p->session, now);
	if (!kp)
		return;
	uint8_t *q = tunnel_peer_queued(e, p);
	if (!seal_send(e, p, kp, q, p->queued_len, now)) {
		crypto_wipe(q, p->queued_len);
		p->queued_len = 0;
	}
}

static enum tunnel_tx_verdict count(struct tunnel_engine *e, enum tunnel_tx_verdict v)
{
	e->tx_count[v]++;
	return v;
}

enum tunnel_tx_verdict tunnel_engine_send(struct tunnel_engine *e, const uint8_t *packet, size_t len, uint64_t now,
                                          uint64_t wall_ns)
{
	int family;
	size_t ip_len;
	if (tunnel_engine_inner(packet, len, &family, &ip_len))
		return count(e, TUNNEL_TX_DROP_MALFORMED);
	if (ip_len > e->mtu)
		return count(e, TUNNEL_TX_DROP_TOO_BIG);
	/* Cryptokey routing (paper §2): the destination picks the peer. */
	const uint8_t *dst = family == AF_INET ? packet + 16 : packet + 24;
	struct tunnel_peer *p = allowedips_lookup_raw(&e->routes, family, dst);
	if (!p)
		return count(e, TUNNEL_TX_DROP_NO_ROUTE);
	if (!p->session) {
		/* A responder-only peer is reachable only where it last
		 * spoke from; an initiator has its endpoint. */
		if (!p->has_endpoint)
			return count(e, TUNNEL_TX_DROP_NO_ENDPOINT);
		int err = tunnel_peer_move(e, p, &p->endpoint, now);
		if (err)
			return count(e, err == -ENOSPC ? TUNNEL_TX_DROP_NO_ROOM : TUNNEL_TX_DROP_INTERNAL);
	}
	struct session *s = p->session;
	struct session_keypair *kp = session_keypair_for_send(s, now);
	if (kp) {
		if (seal_send(e, p, kp, packet, ip_len, now))
			return count(e, TUNNEL_TX_DROP_INTERNAL);
		/* A send may ask for a rekey (REKEY_AFTER_TIME, paper §6.2). */
		tunnel_peer_service(e, p, now, wall_ns);
		return count(e, TUNNEL_TX_SENT);
	}
	uint8_t *q = tunnel_peer_queued(e, p);
	if (p->queued_len)
		e->tx_count[TUNNEL_TX_DROP_REPLACED]++;
	if (p->queued_len > ip_len) /* the wipes cover queued_len: no tail left */
		crypto_wipe(q + ip_len, p->queued_len - ip_len);
	memcpy(q, packet, ip_len);
	p->queued_len = (uint16_t)ip_len; /* ip_len <= mtu <= 65535 */
	timers_handshake_wanted(&s->timers, now);
	tunnel_peer_service(e, p, now, wall_ns);
	return count(e, TUNNEL_TX_QUEUED);
}
