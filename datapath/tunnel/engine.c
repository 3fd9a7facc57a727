/* engine: set-up, peers, authorization, load and timers of the tunnel
 * engine. The receive path is engine_rx.c, the send path engine_tx.c; see
 * engine.h for the model and the contracts. */
#include "datapath/tunnel/engine.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/x25519.h"

#define DEFAULT_MTU 1420
#define DEFAULT_LOAD_PER_SEC 1000
#define MAX_MTU 65535

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

int tunnel_engine_init(struct tunnel_engine *e, const struct tunnel_engine_config *cfg)
{
	int err = -EINVAL;
	memset(e, 0, sizeof(*e));
	if (!cfg->private_key || !cfg->is_authorized || !cfg->capacity || !cfg->out.send_datagram ||
	    !cfg->out.deliver_packet || cfg->mtu > MAX_MTU)
		return -EINVAL;
	const struct crypto_rng *rng = cfg->rng ? cfg->rng : &crypto_rng_system;
	e->capacity = cfg->capacity;
	e->mtu = cfg->mtu ? cfg->mtu : DEFAULT_MTU;
	e->load_threshold = cfg->load_handshakes_per_sec ? cfg->load_handshakes_per_sec : DEFAULT_LOAD_PER_SEC;
	e->is_authorized = cfg->is_authorized;
	e->auth_ctx = cfg->auth_ctx;
	e->out = cfg->out;
	uint32_t max_ips = cfg->max_allowed_ips ? cfg->max_allowed_ips : 8 * cfg->capacity;
	uint32_t rl_entries = cfg->ratelimit_entries ? cfg->ratelimit_entries : RATELIMIT_DEFAULT_ENTRIES;

	err = noise_local_init(&e->local, cfg->private_key, rng);
	if (err)
		goto fail_local;
	err = cookie_checker_init(&e->checker, e->local.static_public, rng);
	if (err)
		goto fail_checker;
	err = session_table_init(&e->sessions, cfg->capacity, rng);
	if (err)
		goto fail_sessions;
	e->sessions.index_tag = cfg->index_tag & cfg->index_tag_mask;
	e->sessions.index_tag_mask = cfg->index_tag_mask;
	/* Two trie nodes per prefix always suffice (allowedips.h). */
	err = allowedips_init(&e->routes, 2 * (size_t)max_ips);
	if (err)
		goto fail_routes;
	err = ratelimit_init(&e->limiter, rl_entries, HANDSHAKES_PER_SECOND, HANDSHAKES_BURSTABLE, rng);
	if (err)
		goto fail_limiter;
	err = -ENOMEM;
	e->aead = crypto_aead_new();
	if (!e->aead)
		goto fail_aead;
	/* calloc'd and never walked here: pages become resident only as
	 * peers, handshakes and waiting packets use them (pool.h). */
	e->peers = calloc(cfg->capacity, sizeof(*e->peers));
	e->hs_pool = calloc(cfg->capacity, sizeof(*e->hs_pool));
	e->queue_pool = calloc(cfg->capacity, e->mtu);
	e->buf = calloc(1, MESSAGE_DATA_HEADER_LEN + round16(e->mtu) + NOISE_AUTHTAG_LEN);
	uint32_t slots = 2;
	while (slots < 2ull * cfg->capacity)
		slots <<= 1;
	e->peer_slots = calloc(slots, sizeof(*e->peer_slots));
	e->peer_mask = slots - 1;
	if (!e->peers || !e->hs_pool || !e->queue_pool || !e->buf || !e->peer_slots)
		goto fail_arrays;
	err = crypto_random(rng, e->peer_hash_key, sizeof(e->peer_hash_key));
	if (err)
		goto fail_arrays;
	pool_init(&e->peer_pool, cfg->capacity);
	pool_init(&e->hs_alloc, cfg->capacity);
	return 0;

fail_arrays:
	free(e->peer_slots);
	free(e->buf);
	free(e->queue_pool);
	free(e->hs_pool);
	free(e->peers);
	crypto_aead_free(e->aead);
fail_aead:
	ratelimit_free(&e->limiter);
fail_limiter:
	allowedips_free(&e->routes);
fail_routes:
	session_table_free(&e->sessions);
fail_sessions:
	cookie_checker_wipe(&e->checker);
fail_checker:
	noise_local_wipe(&e->local);
fail_local:
	memset(e, 0, sizeof(*e));
	return err;
}

void tunnel_engine_free(struct tunnel_engine *e)
{
	if (!e->peers)
		return;
	/* The one exit that wipes: handshake state, cookies, psks, queued
	 * plaintext, then the tables (session_table_free wipes keypairs). */
	for (uint32_t i = 0; i < tunnel_engine_peer_bound(e); i++)
		if (e->peers[i].in_use) {
			/* the trie goes as a whole below: no scan per peer */
			e->peers[i].may_have_routes = false;
			tunnel_peer_remove(e, &e->peers[i]);
		}
	/* Only what was ever used can hold secrets (tunnel_peer_remove
	 * wiped each peer, its handshake and its waiting packet). */
	crypto_wipe(e->buf, MESSAGE_DATA_HEADER_LEN + round16(e->mtu) + NOISE_AUTHTAG_LEN);
	crypto_wipe(e->peer_hash_key, sizeof(e->peer_hash_key));
	free(e->buf);
	free(e->peer_slots);
	free(e->queue_pool);
	free(e->hs_pool);
	free(e->peers);
	crypto_aead_free(e->aead);
	ratelimit_free(&e->limiter);
	allowedips_free(&e->routes);
	session_table_free(&e->sessions);
	cookie_checker_wipe(&e->checker);
	noise_local_wipe(&e->local);
	memset(e, 0, sizeof(*e));
}

const uint8_t *tunnel_engine_public_key(const struct tunnel_engine *e)
{
	return e->local.static_public;
}

int tunnel_peer_config_precompute(struct tunnel_peer_config *c, const uint8_t private_key[NOISE_PUBLIC_KEY_LEN],
                                  const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	c->has_static_static = false;
	int err = crypto_x25519_shared(c->static_static, private_key, c->public_key);
	if (err)
		return err;
	memcpy(c->static_static_for, public_key, NOISE_PUBLIC_KEY_LEN);
	c->has_static_static = true;
	return 0;
}

void tunnel_engine_count_rx(struct tunnel_engine *e, enum tunnel_rx_verdict v)
{
	if ((unsigned)v < TUNNEL_RX__COUNT)
		e->rx_count[v]++;
}

const char *tunnel_rx_verdict_name(enum tunnel_rx_verdict v)
{
	static const char *const names[TUNNEL_RX__COUNT] = {
		[TUNNEL_RX_DATA] = "data",
		[TUNNEL_RX_KEEPALIVE] = "keepalive",
		[TUNNEL_RX_HANDSHAKE] = "handshake",
		[TUNNEL_RX_COOKIE] = "cookie",
		[TUNNEL_RX_COOKIE_SENT] = "cookie_sent",
		[TUNNEL_RX_DROP_MALFORMED] = "drop_malformed",
		[TUNNEL_RX_DROP_MAC] = "drop_mac",
		[TUNNEL_RX_DROP_RATELIMIT] = "drop_ratelimit",
		[TUNNEL_RX_DROP_HANDSHAKE] = "drop_handshake",
		[TUNNEL_RX_DROP_UNAUTHORIZED] = "drop_unauthorized",
		[TUNNEL_RX_DROP_HS_REPLAY] = "drop_handshake_replay",
		[TUNNEL_RX_DROP_NO_SESSION] = "drop_no_session",
		[TUNNEL_RX_DROP_KEY_EXPIRED] = "drop_key_expired",
		[TUNNEL_RX_DROP_REPLAY] = "drop_replay",
		[TUNNEL_RX_DROP_AUTH] = "drop_auth",
		[TUNNEL_RX_DROP_COOKIE] = "drop_cookie",
		[TUNNEL_RX_DROP_INNER] = "drop_inner",
		[TUNNEL_RX_DROP_ALLOWED_IPS] = "drop_allowed_ips",
		[TUNNEL_RX_DROP_NO_ROOM] = "drop_no_room",
		[TUNNEL_RX_DROP_INTERNAL] = "drop_internal",
	};
	return (unsigned)v < TUNNEL_RX__COUNT ? names[v] : "?";
}

const char *tunnel_tx_verdict_name(enum tunnel_tx_verdict v)
{
	static const char *const names[TUNNEL_TX__COUNT] = {
		[TUNNEL_TX_SENT] = "sent",
		[TUNNEL_TX_QUEUED] = "queued",
		[TUNNEL_TX_DROP_MALFORMED] = "drop_malformed",
		[TUNNEL_TX_DROP_TOO_BIG] = "drop_too_big",
		[TUNNEL_TX_DROP_NO_ROUTE] = "drop_no_route",
		[TUNNEL_TX_DROP_NO_ENDPOINT] = "drop_no_endpoint",
		[TUNNEL_TX_DROP_REPLACED] = "drop_replaced",
		[TUNNEL_TX_DROP_GIVE_UP] = "drop_give_up",
		[TUNNEL_TX_DROP_NO_ROOM] = "drop_no_room",
		[TUNNEL_TX_DROP_INTERNAL] = "drop_internal",
	};
	return (unsigned)v < TUNNEL_TX__COUNT ? names[v] : "?";
}

/* ---- load ---- */

void tunnel_engine_set_under_load(struct tunnel_engine *e, bool loaded)
{
	e->forced_load = loaded;
}

bool tunnel_engine_under_load(struct tunnel_engine *e, uint64_t now)
{
	/* Slide the 1 s windows; a window two seconds old counts as empty. */
	if (now >= e->load_window_start + NS_PER_SEC) {
		e->load_prev_count = now < e->load_window_start + 2 * NS_PER_SEC ? e->load_count : 0;
		e->load_count = 0;
		e->load_window_start = now;
	}
	return e->forced_load || e->load_count > e->load_threshold || e->load_prev_count > e->load_threshold;
}

/* ---- peers ---- */

static uint32_t peer_home(const struct tunnel_engine *e, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	/* Keyed: an authorized peer should not be able to pick a key that
	 * lands on a long probe run (the keys are the remotes' choice). */
	uint8_t out[8];
	crypto_shorthash(out, key, NOISE_PUBLIC_KEY_LEN, e->peer_hash_key);
	uint64_t h;
	memcpy(&h, out, sizeof(h));
	return (uint32_t)h & e->peer_mask;
}

/* The slot holding key, or the empty slot that ends its probe run. */
static uint32_t peer_slot_find(const struct tunnel_engine *e, const uint8_t key[NOISE_PUBLIC_KEY_LEN], bool *found)
{
	uint32_t i = peer_home(e, key);
	for (;; i = (i + 1) & e->peer_mask) {
		uint32_t id1 = e->peer_slots[i];
		if (!id1 || !memcmp(e->peers[id1 - 1].public_key, key, NOISE_PUBLIC_KEY_LEN)) {
			*found = id1 != 0;
			return i;
		}
	}
}

static void peer_slot_remove(struct tunnel_engine *e, const struct tunnel_peer *p)
{
	bool found;
	uint32_t hole = peer_slot_find(e, p->public_key, &found);
	if (!found)
		return;
	/* Backward shift: an entry later in the run moves into the hole
	 * unless its home lies cyclically in (hole, j]. */
	for (uint32_t j = (hole + 1) & e->peer_mask; e->peer_slots[j]; j = (j + 1) & e->peer_mask) {
		uint32_t home = peer_home(e, e->peers[e->peer_slots[j] - 1].public_key);
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		e->peer_slots[hole] = e->peer_slots[j];
		hole = j;
	}
	e->peer_slots[hole] = 0;
}

struct tunnel_peer *tunnel_peer_find(struct tunnel_engine *e, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	bool found;
	uint32_t i = peer_slot_find(e, key, &found);
	return found ? &e->peers[e->peer_slots[i] - 1] : NULL;
}

const uint8_t *tunnel_engine_peer_key_at(const struct tunnel_engine *e, const rg_sockaddr *remote)
{
	const struct session *s = session_lookup_addr(&e->sessions, remote);
	const struct tunnel_peer *p = s ? s->peer : NULL;
	return p ? p->public_key : NULL;
}

uint8_t *tunnel_peer_queued(const struct tunnel_engine *e, const struct tunnel_peer *p)
{
	return e->queue_pool + (size_t)(p - e->peers) * e->mtu;
}

struct noise_handshake *tunnel_peer_hs(const struct tunnel_engine *e, const struct tunnel_peer *p)
{
	return p->hs1 ? &e->hs_pool[p->hs1 - 1] : NULL;
}

struct noise_handshake *tunnel_peer_hs_get(struct tunnel_engine *e, struct tunnel_peer *p)
{
	if (!p->hs1) {
		/* Never empty: one handshake per peer, as many as peers. */
		uint32_t id = pool_get(&e->hs_alloc, e->hs_pool, sizeof(*e->hs_pool));
		if (id == UINT32_MAX)
			return NULL;
		p->hs1 = id + 1;
		noise_handshake_clear(&e->hs_pool[id]);
	}
	return &e->hs_pool[p->hs1 - 1];
}

void tunnel_peer_hs_clear(struct tunnel_engine *e, struct tunnel_peer *p)
{
	if (!p->hs1)
		return;
	noise_handshake_clear(&e->hs_pool[p->hs1 - 1]);
	pool_put(&e->hs_alloc, e->hs_pool, sizeof(*e->hs_pool), p->hs1 - 1);
	p->hs1 = 0;
}

/* End p's session (keys wiped by session_remove) and its handshake. */
static void drop_session(struct tunnel_engine *e, struct tunnel_peer *p)
{
	if (p->session) {
		session_remove(&e->sessions, p->session);
		p->session = NULL;
	}
	tunnel_peer_hs_clear(e, p);
}

/* The configured prefixes as a keyed hash (the peer table's key). */
static uint64_t routes_fingerprint(const struct tunnel_engine *e, const struct tunnel_peer_config *cfg)
{
	uint8_t out[8];
	uint64_t h;
	uint64_t acc = cfg->n_allowed_ips;
	for (size_t i = 0; i < cfg->n_allowed_ips; i++) {
		const struct allowedips_prefix *x = &cfg->allowed_ips[i];
		uint8_t b[18] = {x->ip.family, x->cidr};
		memcpy(b + 2, x->ip.bytes, 16);
		crypto_shorthash(out, b, sizeof(b), e->peer_hash_key);
		memcpy(&h, out, sizeof(h));
		acc = acc * 0x9E3779B97F4A7C15ULL + h; /* order matters: a list */
	}
	return acc;
}

int tunnel_peer_configure(struct tunnel_engine *e, struct tunnel_peer *p, const struct tunnel_peer_config *cfg,
                          uint64_t now)
{
	if (cfg->has_psk)
		memcpy(p->psk, cfg->psk, sizeof(p->psk));
	else
		memset(p->psk, 0, sizeof(p->psk));
	/* Replace the routes wholesale, unless they are what p was given last
	 * and p still owns each of them (a reload usually changes a few peers
	 * of thousands, and removing a peer's prefixes scans the trie's
	 * nodes). A prefix another peer owns moves here (one owner per
	 * prefix, paper §2). */
	uint64_t fp = routes_fingerprint(e, cfg);
	bool same = p->may_have_routes && cfg->n_allowed_ips > 0 && fp == p->routes_fp;
	for (size_t i = 0; same && i < cfg->n_allowed_ips; i++)
		same = allowedips_find(&e->routes, &cfg->allowed_ips[i].ip, cfg->allowed_ips[i].cidr) == p;
	if (!same) {
		if (p->may_have_routes)
			allowedips_remove_by_peer(&e->routes, p);
		p->may_have_routes = cfg->n_allowed_ips > 0;
		for (size_t i = 0; i < cfg->n_allowed_ips; i++) {
			int err = allowedips_insert(&e->routes, &cfg->allowed_ips[i].ip, cfg->allowed_ips[i].cidr, p);
			if (err) {
				/* Half a set of allowed IPs would route some of
				 * the peer's traffic and drop the rest: none. */
				allowedips_remove_by_peer(&e->routes, p);
				p->may_have_routes = false;
				p->routes_fp = 0;
				return err;
			}
		}
		p->routes_fp = fp;
	}
	if (cfg->endpoint.sa.sa_family == AF_INET || cfg->endpoint.sa.sa_family == AF_INET6) {
		p->endpoint = cfg->endpoint;
		p->has_endpoint = true;
	}
	p->persistent_keepalive = cfg->persistent_keepalive;
	if (p->session)
		timers_persistent_keepalive_set(&p->session->timers, now, p->persistent_keepalive);
	tunnel_peer_sync(e, p, now);
	return 0;
}

struct tunnel_peer *tunnel_peer_create(struct tunnel_engine *e, const struct tunnel_peer_config *cfg)
{
	bool found;
	uint32_t slot = peer_slot_find(e, cfg->public_key, &found);
	if (found)
		return NULL; /* callers look it up first */
	uint32_t id = pool_get(&e->peer_pool, e->peers, sizeof(*e->peers));
	if (id == UINT32_MAX)
		return NULL;
	struct tunnel_peer *p = &e->peers[id];
	memset(p, 0, sizeof(*p));
	p->sock = -1; /* not reached yet */
	memcpy(p->public_key, cfg->public_key, NOISE_PUBLIC_KEY_LEN);
	(void)cookie_maker_init(&p->cookie, p->public_key); /* fails only on NULL */
	p->in_use = true;
	e->peer_slots[slot] = id + 1;
	e->npeers++;
	return p;
}

void tunnel_peer_remove(struct tunnel_engine *e, struct tunnel_peer *p)
{
	if (!p->in_use)
		return;
	drop_session(e, p);
	if (p->may_have_routes)
		allowedips_remove_by_peer(&e->routes, p);
	peer_slot_remove(e, p);
	if (p->queued_len)
		crypto_wipe(tunnel_peer_queued(e, p), p->queued_len);
	crypto_wipe(p, sizeof(*p));
	pool_put(&e->peer_pool, e->peers, sizeof(*e->peers), (uint32_t)(p - e->peers));
	e->npeers--;
}

int tunnel_peer_move(struct tunnel_engine *e, struct tunnel_peer *p, const rg_sockaddr *to, uint64_t now)
{
	if (p->session && tunnel_sockaddr_equal(&p->session->remote, to))
		return 0;
	/* One session per remote address: the address now speaks for p
	 * (it just authenticated as p), so a stale session of another peer
	 * there ends. */
	struct session *other = session_lookup_addr(&e->sessions, to);
	if (other) {
		struct tunnel_peer *q = other->peer;
		if (q == p)
			return 0;
		if (q)
			drop_session(e, q);
		else
			session_remove(&e->sessions, other);
	}
	if (p->session)
		return session_set_remote(&e->sessions, p->session, to);
	int err = session_create(&e->sessions, to, p, &p->session);
	if (err) {
		p->session = NULL;
		return err;
	}
	timers_persistent_keepalive_set(&p->session->timers, now, p->persistent_keepalive);
	tunnel_peer_sync(e, p, now);
	return 0;
}

int tunnel_engine_add_initiator(struct tunnel_engine *e, const struct tunnel_peer_config *cfg, uint64_t now,
                                struct tunnel_peer **out)
{
	if (cfg->endpoint.sa.sa_family != AF_INET && cfg->endpoint.sa.sa_family != AF_INET6)
		return -EINVAL;
	if (tunnel_peer_find(e, cfg->public_key))
		return -EEXIST;
	struct tunnel_peer *p = tunnel_peer_create(e, cfg);
	if (!p)
		return -ENOSPC;
	int err = tunnel_peer_move(e, p, &cfg->endpoint, now);
	if (!err)
		err = tunnel_peer_configure(e, p, cfg, now);
	if (err) {
		tunnel_peer_remove(e, p);
		return err;
	}
	if (out)
		*out = p;
	return 0;
}

unsigned tunnel_engine_foreach_peer(const struct tunnel_engine *e,
                                    bool (*fn)(void *ctx, const struct tunnel_peer_view *v), void *ctx)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < tunnel_engine_peer_bound(e); i++) {
		const struct tunnel_peer *p = &e->peers[i];
		if (!p->in_use)
			continue;
		struct tunnel_peer_view v;
		memset(&v, 0, sizeof(v));
		memcpy(v.public_key, p->public_key, sizeof(v.public_key));
		if (p->session) {
			v.has_session = true;
			v.endpoint = p->session->remote;
			v.rx_bytes = p->session->rx_bytes;
			v.tx_bytes = p->session->tx_bytes;
		} else if (p->has_endpoint) {
			v.endpoint = p->endpoint;
		}
		v.last_handshake = p->last_handshake;
		v.rx_packets = p->rx_packets;
		v.tx_packets = p->tx_packets;
		n++;
		if (!fn(ctx, &v))
			break;
	}
	return n;
}

void tunnel_engine_authorization_changed(struct tunnel_engine *e, uint64_t now)
{
	for (uint32_t i = 0; i < tunnel_engine_peer_bound(e); i++) {
		struct tunnel_peer *p = &e->peers[i];
		if (!p->in_use)
			continue;
		const struct tunnel_peer_config *cfg = e->is_authorized(e->auth_ctx, p->public_key, now);
		/* Withdrawn, or its allowed IPs do not fit the trie (sized
		 * for the configured peers, so only a reload that outgrew
		 * the worker): sessions and keys go at once. */
		if (!cfg || tunnel_peer_configure(e, p, cfg, now))
			tunnel_peer_remove(e, p);
	}
}

/* ---- timers ---- */

uint64_t tunnel_engine_next_expiry(struct tunnel_engine *e)
{
	return session_timers_next(&e->sessions);
}

struct expiry_ctx {
	struct tunnel_engine *e;
	uint64_t wall_ns;
};

static void session_due(void *ctx, struct session *s, uint64_t now)
{
	struct expiry_ctx *x = ctx;
	struct tunnel_peer *p = s->peer;
	if (p && p->in_use && p->session == s)
		tunnel_peer_service(x->e, p, now, x->wall_ns); /* syncs the session */
	else if (s->in_use)
		session_timer_sync(&x->e->sessions, s, now);
}

void tunnel_engine_handle_expiry(struct tunnel_engine *e, uint64_t now, uint64_t wall_ns)
{
	struct expiry_ctx x = {e, wall_ns};
	session_timers_advance(&e->sessions, now, session_due, &x);
}

int tunnel_peer_initiate(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now, uint64_t wall_ns)
{
	struct message_handshake_initiation msg;
	uint32_t idx;
	struct session *s = p->session;
	if (!s)
		return -ENOTCONN;
	/* Paper §5.4.2: a fresh random sender index per handshake. */
	struct noise_handshake *hs = tunnel_peer_hs_get(e, p);
	if (!hs)
		return -ENOSPC;
	int err = session_index_new(&e->sessions, s, &idx);
	if (err) {
		tunnel_peer_hs_clear(e, p);
		return err;
	}
	err = noise_initiation_create(hs, &e->local, p->public_key, p->psk, idx, wall_ns, &msg);
	if (err)
		goto fail;
	err = cookie_maker_add_macs(&p->cookie, &msg, sizeof(msg), now);
	if (err)
		goto fail;
	e->out.send_datagram(e->out.ctx, p->sock, &s->remote, &p->local, (const uint8_t *)&msg, sizeof(msg));
	timers_handshake_initiated(&s->timers, now);
	timers_any_authenticated_packet_sent(&s->timers, now);
	tunnel_peer_sync(e, p, now);
	crypto_wipe(&msg, sizeof(msg));
	return 0;
fail:
	tunnel_peer_hs_clear(e, p);
	session_index_release(&e->sessions, idx);
	s->hs_index = 0;
	crypto_wipe(&msg, sizeof(msg));
	return err;
}

/* Perform the timer actions due at now (timers.h contract). Actions
 * report events, and an event may make another deadline due at once
 * (a keepalive with no key asks for a handshake now), hence the loop;
 * each pass fires a deadline, so it ends. */
void tunnel_peer_service(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now, uint64_t wall_ns)
{
	for (int pass = 0; pass < 4 && p->in_use && p->session; pass++) {
		struct session *s = p->session;
		uint64_t next = timers_next_expiry(&s->timers);
		if (next > now) /* RG_NO_DEADLINE included */
			break;
		unsigned act = timers_handle_expiry(&s->timers, now);
		if (act & TIMERS_ACT_GIVE_UP) {
			/* Paper §6.4: the queued packet is stale by now. */
			if (p->queued_len) {
				crypto_wipe(tunnel_peer_queued(e, p), p->queued_len);
				p->queued_len = 0;
				e->tx_count[TUNNEL_TX_DROP_GIVE_UP]++;
			}
			tunnel_peer_hs_clear(e, p);
		}
		if (act & TIMERS_ACT_ZERO_KEYS) {
			/* Paper §6.3: forward secrecy for idle peers. */
			session_keys_zero(&e->sessions, s);
			timers_keys_zeroed(&s->timers);
			tunnel_peer_hs_clear(e, p);
		}
		if (act & TIMERS_ACT_INITIATION)
			(void)tunnel_peer_initiate(e, p, now, wall_ns);
		if (act & TIMERS_ACT_SEND_KEEPALIVE)
			(void)tunnel_peer_send_keepalive(e, p, now);
	}
	tunnel_peer_sync(e, p, now);
}

void tunnel_peer_sync(struct tunnel_engine *e, struct tunnel_peer *p, uint64_t now)
{
	if (p->in_use && p->session)
		session_timer_sync(&e->sessions, p->session, now);
}
