/* engine_rx: the receive path of the tunnel engine (engine.h): handshake
 * initiations and responses behind the MAC, cookie and rate checks, cookie
 * replies, and data messages (replay window, keypair confirmation,
 * roaming, allowed-IPs check on the inner source). */
#include "datapath/tunnel/engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static enum tunnel_rx_verdict verdict(struct tunnel_engine *e, enum tunnel_rx_verdict v)
{
	tunnel_engine_count_rx(e, v);
	return v;
}

/* Paper §5.3, in the order that keeps a flood cheap: mac1 (one BLAKE2s,
 * proves the sender knows our public key) always; under load, mac2 (proves
 * the source address) or a cookie reply instead of any Curve25519 work;
 * then the source's token bucket. Returns TUNNEL_RX_HANDSHAKE to go on. */
static enum tunnel_rx_verdict gate_handshake(struct tunnel_engine *e, const rg_sockaddr *from,
                                             const rg_sockaddr *local, int sock, const uint8_t *data,
                                             size_t len, uint64_t now)
{
	uint8_t src[COOKIE_ADDR_MAX];
	size_t src_len = cookie_addr_bytes(&from->sa, src);
	if (!src_len)
		return TUNNEL_RX_DROP_MALFORMED;
	/* Count before the checks: a flood of garbage is load too. */
	bool loaded = tunnel_engine_under_load(e, now);
	e->load_count++;
	enum cookie_mac_verdict mv = cookie_checker_validate(&e->checker, data, len, src, src_len, now);
	if (mv == COOKIE_MAC_INVALID)
		return TUNNEL_RX_DROP_MAC;
	if (mv == COOKIE_MAC_INTERNAL)
		return TUNNEL_RX_DROP_INTERNAL;
	if (loaded && mv != COOKIE_MAC_VALID_MAC2) {
		struct message_handshake_cookie reply;
		if (cookie_reply_create(&e->checker, &reply, data, len, src, src_len, now))
			return TUNNEL_RX_DROP_INTERNAL;
		e->out.send_datagram(e->out.ctx, sock, from, local, (const uint8_t *)&reply, sizeof(reply));
		return TUNNEL_RX_COOKIE_SENT;
	}
	if (ratelimit_allow(&e->limiter, from, now) != RATELIMIT_ALLOW)
		return TUNNEL_RX_DROP_RATELIMIT;
	return TUNNEL_RX_HANDSHAKE;
}

/* The authorization layer is asked as soon as the initiator's key is
 * decrypted: its answer carries the precomputed static-static DH. */
struct auth_probe {
	struct tunnel_engine *e;
	uint64_t now;
	const struct tunnel_peer_config *cfg;
};

static const uint8_t *probe_static_static(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct auth_probe *a = ctx;
	a->cfg = a->e->is_authorized(a->e->auth_ctx, key, a->now);
	if (!a->cfg || !a->cfg->has_static_static ||
	    memcmp(a->cfg->static_static_for, a->e->local.static_public, NOISE_PUBLIC_KEY_LEN))
		return NULL;
	return a->cfg->static_static;
}

static enum tunnel_rx_verdict rx_initiation(struct tunnel_engine *e, const rg_sockaddr *from,
                                            const rg_sockaddr *local, int sock, const uint8_t *data, size_t len,
                                            uint64_t now)
{
	enum tunnel_rx_verdict v = gate_handshake(e, from, local, sock, data, len, now);
	if (v != TUNNEL_RX_HANDSHAKE)
		return v;

	/* The handshake is consumed into a scratch object: the peer's own
	 * initiation in flight (if any) stays intact until this one is
	 * accepted (noise.h: handshakes are plain data). */
	struct noise_handshake hs;
	struct message_handshake_response resp;
	struct crypto_keypair kp;
	memset(&kp, 0, sizeof(kp));
	memset(&resp, 0, sizeof(resp));
	/* (e, es, s, ss, {t}): the initiator's static key, authenticated. */
	struct auth_probe probe = {.e = e, .now = now};
	if (noise_initiation_consume_ss(&hs, &e->local, data, len, probe_static_static, &probe) != NOISE_OK) {
		v = TUNNEL_RX_DROP_HANDSHAKE;
		goto out;
	}
	/* The responder learned who this is and asked the authorization
	 * layer (probe_static_static runs before any NOISE_OK). */
	const struct tunnel_peer_config *cfg = probe.cfg;
	struct tunnel_peer *p = tunnel_peer_find(e, hs.remote_static);
	if (!cfg) {
		(void)noise_initiation_accept(&hs, false, NULL, NULL);
		if (p)
			tunnel_peer_remove(e, p); /* withdrawn: nothing of it may live on */
		v = TUNNEL_RX_DROP_UNAUTHORIZED;
		goto out;
	}
	bool created = false;
	if (!p) {
		p = tunnel_peer_create(e, cfg);
		if (!p) {
			v = TUNNEL_RX_DROP_NO_ROOM;
			goto out;
		}
		created = true;
		if (tunnel_peer_configure(e, p, cfg, now)) {
			v = TUNNEL_RX_DROP_NO_ROOM;
			goto fail_peer;
		}
	}
	enum noise_verdict nv = noise_initiation_accept(&hs, true, cfg->has_psk ? cfg->psk : NULL,
	                                                p->have_timestamp ? p->last_timestamp : NULL);
	if (nv != NOISE_OK) {
		v = nv == NOISE_REJECT_REPLAY ? TUNNEL_RX_DROP_HS_REPLAY : TUNNEL_RX_DROP_HANDSHAKE;
		goto fail_peer;
	}
	/* Authenticated: the initiator is at `from` now (paper §2.1). */
	if (tunnel_peer_move(e, p, from, now)) {
		v = TUNNEL_RX_DROP_NO_ROOM;
		goto fail_peer;
	}
	memcpy(p->last_timestamp, hs.timestamp, NOISE_TIMESTAMP_LEN);
	p->have_timestamp = true;
	p->local = *local;
	p->sock = sock;
	struct session *s = p->session;
	uint32_t idx;
	/* A new sender index replaces our own initiation's, if one was in
	 * flight: the peer's handshake wins, as one handshake per peer is
	 * kept (both sides initiating at once converge on this one). */
	tunnel_peer_hs_clear(e, p);
	if (session_index_new(&e->sessions, s, &idx)) {
		v = TUNNEL_RX_DROP_NO_ROOM;
		goto out;
	}
	/* (e, ee, se, psk, {}) */
	if (noise_response_create(&hs, &e->local, idx, &resp) ||
	    cookie_maker_add_macs(&p->cookie, &resp, sizeof(resp), now) || noise_handshake_begin_session(&hs, &kp) ||
	    session_keypair_install(&e->sessions, s, &kp, now)) {
		session_index_release(&e->sessions, idx);
		s->hs_index = 0;
		v = TUNNEL_RX_DROP_INTERNAL;
		goto out;
	}
	e->out.send_datagram(e->out.ctx, sock, from, local, (const uint8_t *)&resp, sizeof(resp));
	timers_any_authenticated_packet_received(&s->timers, now);
	timers_session_derived(&s->timers, now);
	timers_any_authenticated_packet_sent(&s->timers, now);
	tunnel_peer_sync(e, p, now);
	v = TUNNEL_RX_HANDSHAKE;
	goto out;

fail_peer:
	if (created)
		tunnel_peer_remove(e, p); /* nothing authenticated it */
out:
	noise_handshake_clear(&hs);
	crypto_keypair_wipe(&kp);
	crypto_wipe(&resp, sizeof(resp));
	return v;
}

static enum tunnel_rx_verdict rx_response(struct tunnel_engine *e, const rg_sockaddr *from,
                                          const rg_sockaddr *local, int sock,
                                          const uint8_t *data, size_t len, uint64_t now, uint64_t wall_ns)
{
	enum tunnel_rx_verdict v = gate_handshake(e, from, local, sock, data, len, now);
	if (v != TUNNEL_RX_HANDSHAKE)
		return v;
	uint32_t idx = noise_response_receiver_index(data);
	struct session_keypair *skp;
	struct session *s = session_lookup_index(&e->sessions, idx, &skp);
	struct tunnel_peer *p = s ? s->peer : NULL;
	struct noise_handshake *hs = p ? tunnel_peer_hs(e, p) : NULL;
	if (!s || skp || !hs || hs->state != NOISE_HANDSHAKE_CREATED_INITIATION || hs->local_index != idx)
		return TUNNEL_RX_DROP_NO_SESSION;
	/* (e, ee, se, psk, {}): a forged response leaves hs intact. */
	if (noise_response_consume(hs, &e->local, data, len) != NOISE_OK)
		return TUNNEL_RX_DROP_HANDSHAKE;
	struct crypto_keypair kp;
	int err = noise_handshake_begin_session(hs, &kp);
	tunnel_peer_hs_clear(e, p); /* done with it either way */
	if (err || session_keypair_install(&e->sessions, s, &kp, now)) {
		crypto_keypair_wipe(&kp);
		return TUNNEL_RX_DROP_INTERNAL;
	}
	crypto_keypair_wipe(&kp);
	/* p has a session (s) that only changes address: that fails only
	 * when another session holds `from`, which tunnel_peer_move ends. */
	if (tunnel_peer_move(e, p, from, now))
		return TUNNEL_RX_DROP_NO_ROOM;
	p->local = *local;
	p->sock = sock;
	p->last_handshake = now;
	timers_any_authenticated_packet_received(&s->timers, now);
	timers_session_derived(&s->timers, now);
	timers_handshake_complete(&s->timers, now);
	/* Paper §5.4.7: the responder may not send until we used the new
	 * keypair, so confirm it at once: the waiting packet, or else a
	 * keepalive. */
	if (p->queued_len)
		tunnel_peer_flush(e, p, now);
	else
		(void)tunnel_peer_send_keepalive(e, p, now);
	tunnel_peer_service(e, p, now, wall_ns);
	return TUNNEL_RX_HANDSHAKE;
}

static enum tunnel_rx_verdict rx_cookie(struct tunnel_engine *e, const uint8_t *data, size_t len, uint64_t now)
{
	const struct message_handshake_cookie *c = (const void *)data;
	uint32_t idx = le32toh(c->receiver_index);
	struct session_keypair *skp;
	struct session *s = session_lookup_index(&e->sessions, idx, &skp);
	struct tunnel_peer *p = s ? s->peer : NULL;
	const struct noise_handshake *hs = p ? tunnel_peer_hs(e, p) : NULL;
	if (!s || skp || !hs || hs->state != NOISE_HANDSHAKE_CREATED_INITIATION || hs->local_index != idx)
		return TUNNEL_RX_DROP_NO_SESSION;
	/* Paper §5.4.7: no retry now; the next initiation (the
	 * retransmission after REKEY_TIMEOUT) carries mac2. */
	if (cookie_maker_consume_reply(&p->cookie, data, len, now) != COOKIE_REPLY_OK)
		return TUNNEL_RX_DROP_COOKIE;
	return TUNNEL_RX_COOKIE;
}

static enum tunnel_rx_verdict rx_data(struct tunnel_engine *e, const rg_sockaddr *from,
                                      const rg_sockaddr *local, int sock,
                                      uint8_t *data, size_t len, uint64_t now, uint64_t wall_ns)
{
	struct session_keypair *kp;
	struct session *s = session_lookup_index(&e->sessions, crypto_keypair_index_of(data), &kp);
	if (!s || !kp || !s->peer)
		return TUNNEL_RX_DROP_NO_SESSION;
	struct tunnel_peer *p = s->peer;
	if (!timers_key_can_receive(kp->birth, now))
		return TUNNEL_RX_DROP_KEY_EXPIRED;
	/* replay.h contract: cheap check first, mark only after the tag. */
	uint64_t counter = le64toh(((const struct message_data *)data)->counter);
	if (replay_check(&kp->replay, counter) != REPLAY_OK)
		return TUNNEL_RX_DROP_REPLAY;
	size_t plain_len;
	enum crypto_keypair_verdict kv = crypto_keypair_open(&kp->kp, e->aead, data, len, &counter, &plain_len);
	if (kv == CRYPTO_KEYPAIR_INTERNAL)
		return TUNNEL_RX_DROP_INTERNAL;
	if (kv == CRYPTO_KEYPAIR_MALFORMED)
		return TUNNEL_RX_DROP_MALFORMED;
	if (kv != CRYPTO_KEYPAIR_OK)
		return TUNNEL_RX_DROP_AUTH;
	if (replay_update(&kp->replay, counter) != REPLAY_OK)
		return TUNNEL_RX_DROP_REPLAY;

	/* Authenticated. Paper §5.4.7: the first data on the responder's
	 * next keypair confirms it. */
	if (session_keypair_received(&e->sessions, s, kp)) {
		p->last_handshake = now;
		timers_handshake_complete(&s->timers, now);
	}
	/* Roaming (paper §2.1): the session follows the peer's address. */
	if (!tunnel_sockaddr_equal(&s->remote, from) && tunnel_peer_move(e, p, from, now))
		return TUNNEL_RX_DROP_NO_ROOM; /* cannot happen: see the response case */
	p->local = *local;
	p->sock = sock;
	timers_any_authenticated_packet_received(&s->timers, now);
	struct timers_key cur;
	session_keypair_timers_key(session_keypair_current(s), &cur);

	enum tunnel_rx_verdict v;
	const uint8_t *inner = data + MESSAGE_DATA_HEADER_LEN;
	if (!plain_len) {
		timers_keepalive_received(&s->timers, now, &cur);
		v = TUNNEL_RX_KEEPALIVE;
	} else {
		timers_data_received(&s->timers, now, &cur, plain_len);
		int family;
		size_t ip_len;
		if (tunnel_engine_inner(inner, plain_len, &family, &ip_len)) {
			v = TUNNEL_RX_DROP_INNER;
		} else if (allowedips_lookup_raw(&e->routes, family, family == AF_INET ? inner + 12 : inner + 8) != p) {
			/* Cryptokey routing (paper §2): the source must be
			 * one this peer may use. */
			v = TUNNEL_RX_DROP_ALLOWED_IPS;
		} else {
			s->rx_bytes += ip_len;
			p->rx_packets++;
			e->out.deliver_packet(e->out.ctx, p, inner, ip_len);
			v = TUNNEL_RX_DATA;
		}
	}
	/* A confirmed keypair may release the waiting packet; events may
	 * have made a deadline due (last-minute rekey). */
	tunnel_peer_flush(e, p, now);
	tunnel_peer_service(e, p, now, wall_ns);
	return v;
}

enum tunnel_rx_verdict tunnel_engine_recv(struct tunnel_engine *e, int sock, const rg_sockaddr *from,
                                          const rg_sockaddr *local, uint8_t *data, size_t len, uint64_t now,
                                          uint64_t wall_ns)
{
	enum tunnel_rx_verdict v;
	switch (message_type_of(data, len)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		v = rx_initiation(e, from, local, sock, data, len, now);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		v = rx_response(e, from, local, sock, data, len, now, wall_ns);
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		v = rx_cookie(e, data, len, now);
		break;
	case MESSAGE_DATA:
		v = rx_data(e, from, local, sock, data, len, now, wall_ns);
		break;
	default:
		v = TUNNEL_RX_DROP_MALFORMED;
		break;
	}
	return verdict(e, v);
}
