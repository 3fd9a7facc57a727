/* session: per-worker session table; see session.h for the model. */
#include "datapath/tunnel/session.h"

#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct session_index_slot {
	uint32_t index;
	uint32_t sid1; /* session id + 1, 0: empty */
};

_Static_assert(crypto_shorthash_BYTES == 8 && crypto_shorthash_KEYBYTES == 16, "SipHash-2-4 sizes");

#define SESSION_MAX_CAPACITY (1u << 26)
#define INDEX_TRIES 64 /* a random index is taken with probability <= 1/2^29 */

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* ---- address table ---- */

/* The bytes that identify a remote: family, port, address, scope. Built
 * explicitly so padding and the IPv6 flow label never reach the hash. */
static uint64_t addr_hash(const struct session_table *t, const rg_sockaddr *a)
{
	uint8_t buf[24] = {0};
	uint8_t out[8];
	buf[0] = (uint8_t)a->sa.sa_family;
	if (a->sa.sa_family == AF_INET) {
		memcpy(buf + 2, &a->in4.sin_port, 2);
		memcpy(buf + 4, &a->in4.sin_addr, 4);
	} else {
		memcpy(buf + 2, &a->in6.sin6_port, 2);
		memcpy(buf + 4, &a->in6.sin6_addr, 16);
		memcpy(buf + 20, &a->in6.sin6_scope_id, 4);
	}
	crypto_shorthash(out, buf, sizeof(buf), t->hash_key);
	uint64_t h;
	memcpy(&h, out, 8);
	return h;
}

static bool addr_family_ok(const rg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

/* The address slot holding remote, or the empty slot where it would go. */
static uint32_t addr_find(const struct session_table *t, const rg_sockaddr *remote, bool *found)
{
	uint32_t i = (uint32_t)addr_hash(t, remote) & t->addr_mask;
	for (;;) {
		uint32_t sid1 = t->addr_slots[i];
		if (!sid1) {
			*found = false;
			return i;
		}
		if (tunnel_sockaddr_equal(&t->sessions[sid1 - 1].remote, remote)) {
			*found = true;
			return i;
		}
		i = (i + 1) & t->addr_mask;
	}
}

/* Linear probing removal by backward shift: every later entry of the run
 * that may move into the hole moves, so no tombstone is left behind. */
static void addr_delete_at(struct session_table *t, uint32_t hole)
{
	uint32_t j = hole;
	for (;;) {
		j = (j + 1) & t->addr_mask;
		uint32_t sid1 = t->addr_slots[j];
		if (!sid1)
			break;
		uint32_t home = (uint32_t)addr_hash(t, &t->sessions[sid1 - 1].remote) & t->addr_mask;
		/* Entry j may stay when its home lies cyclically in (hole, j]. */
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		t->addr_slots[hole] = sid1;
		hole = j;
	}
	t->addr_slots[hole] = 0;
}

static void addr_remove(struct session_table *t, struct session *s)
{
	bool found;
	uint32_t i = addr_find(t, &s->remote, &found);
	if (found)
		addr_delete_at(t, i);
}

/* ---- index table ---- */

static uint32_t index_home(const struct session_table *t, uint32_t index)
{
	/* Fibonacci hashing: the indices are our own random numbers. */
	return (uint32_t)(((uint64_t)index * 0x9E3779B97F4A7C15ULL) >> 32) & t->index_mask;
}

static uint32_t index_find(const struct session_table *t, uint32_t index, bool *found)
{
	uint32_t i = index_home(t, index);
	for (;;) {
		const struct session_index_slot *e = &t->index_slots[i];
		if (!e->sid1) {
			*found = false;
			return i;
		}
		if (e->index == index) {
			*found = true;
			return i;
		}
		i = (i + 1) & t->index_mask;
	}
}

void session_index_release(struct session_table *t, uint32_t index)
{
	bool found;
	uint32_t hole = index_find(t, index, &found);
	if (!found)
		return;
	uint32_t j = hole;
	for (;;) {
		j = (j + 1) & t->index_mask;
		struct session_index_slot e = t->index_slots[j];
		if (!e.sid1)
			break;
		uint32_t home = index_home(t, e.index);
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		t->index_slots[hole] = e;
		hole = j;
	}
	t->index_slots[hole] = (struct session_index_slot){0};
	t->index_count--;
}

int session_index_new(struct session_table *t, struct session *s, uint32_t *out)
{
	/* Keep the index table at most 3/4 full (session.h): probe runs stay
	 * short and there is always an empty slot to end them. */
	if (s->hs_index) {
		session_index_release(t, s->hs_index);
		s->hs_index = 0;
	}
	if (t->index_count >= (t->index_mask + 1) / 4 * 3)
		return -ENOSPC;
	for (int tries = 0; tries < INDEX_TRIES; tries++) {
		uint32_t idx;
		int err = crypto_random(&t->rng, (uint8_t *)&idx, sizeof(idx));
		if (err)
			return err;
		idx = (idx & ~t->index_tag_mask) | t->index_tag;
		if (!idx)
			continue; /* 0 means "none" in struct session */
		bool found;
		uint32_t i = index_find(t, idx, &found);
		if (found)
			continue;
		t->index_slots[i] = (struct session_index_slot){.index = idx, .sid1 = s->id + 1};
		t->index_count++;
		s->hs_index = idx;
		*out = idx;
		return 0;
	}
	return -EAGAIN;
}

struct session *session_lookup_index(const struct session_table *t, uint32_t index, struct session_keypair **kp)
{
	bool found;
	uint32_t i = index_find(t, index, &found);
	if (kp)
		*kp = NULL;
	if (!found)
		return NULL;
	struct session *s = &t->sessions[t->index_slots[i].sid1 - 1];
	if (kp) {
		const uint8_t roles[3] = {s->current, s->next, s->previous};
		for (int r = 0; r < 3; r++)
			if (roles[r] != SESSION_SLOT_NONE && s->slot[roles[r]]->kp.local_index == index) {
				*kp = s->slot[roles[r]];
				break;
			}
	}
	return s;
}

/* ---- table ---- */

int session_table_init(struct session_table *t, uint32_t capacity, const struct crypto_rng *rng)
{
	int err = -ENOMEM;
	memset(t, 0, sizeof(*t));
	if (!capacity || capacity > SESSION_MAX_CAPACITY)
		return -EINVAL;
	t->rng = rng ? *rng : crypto_rng_system;
	t->capacity = capacity;
	uint32_t addr_size = pow2_at_least(2ull * capacity);
	/* Up to three indices per session (two keypairs and a handshake), at
	 * most 3/4 of the slots; an idle session has one. */
	uint32_t index_size = pow2_at_least(4ull * capacity);
	t->addr_mask = addr_size - 1;
	t->index_mask = index_size - 1;

	/* calloc'd, never walked: resident only as used (pool.h). */
	t->sessions = calloc(capacity, sizeof(*t->sessions));
	t->keypairs = calloc(2 * (size_t)capacity, sizeof(*t->keypairs));
	t->addr_slots = calloc(addr_size, sizeof(*t->addr_slots));
	t->index_slots = calloc(index_size, sizeof(*t->index_slots));
	if (!t->sessions || !t->keypairs || !t->addr_slots || !t->index_slots)
		goto fail;
	err = crypto_random(&t->rng, t->hash_key, sizeof(t->hash_key));
	if (err)
		goto fail;
	pool_init(&t->session_pool, capacity);
	pool_init(&t->keypair_pool, 2 * capacity);
	return 0;

fail:
	free(t->index_slots);
	free(t->addr_slots);
	free(t->keypairs);
	free(t->sessions);
	memset(t, 0, sizeof(*t));
	return err;
}

void session_table_free(struct session_table *t)
{
	if (!t->sessions)
		return;
	/* Only objects ever handed out can hold keys. */
	crypto_wipe(t->sessions, (size_t)t->session_pool.high * sizeof(*t->sessions));
	crypto_wipe(t->keypairs, (size_t)t->keypair_pool.high * sizeof(*t->keypairs));
	crypto_wipe(t->hash_key, sizeof(t->hash_key));
	free(t->index_slots);
	free(t->addr_slots);
	free(t->keypairs);
	free(t->sessions);
	memset(t, 0, sizeof(*t));
}

size_t session_table_memory(const struct session_table *t)
{
	return (size_t)t->capacity * (sizeof(*t->sessions) + 2 * sizeof(*t->keypairs)) +
	       ((size_t)t->addr_mask + 1) * sizeof(*t->addr_slots) +
	       ((size_t)t->index_mask + 1) * sizeof(*t->index_slots);
}

struct session *session_lookup_addr(const struct session_table *t, const rg_sockaddr *remote)
{
	bool found;
	if (!addr_family_ok(remote))
		return NULL;
	uint32_t i = addr_find(t, remote, &found);
	return found ? &t->sessions[t->addr_slots[i] - 1] : NULL;
}

/* Only the parts that identify the remote are kept (tunnel_sockaddr_equal). */
static void copy_remote(rg_sockaddr *dst, const rg_sockaddr *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->sa.sa_family == AF_INET) {
		dst->in4.sin_family = AF_INET;
		dst->in4.sin_port = src->in4.sin_port;
		dst->in4.sin_addr = src->in4.sin_addr;
	} else {
		dst->in6.sin6_family = AF_INET6;
		dst->in6.sin6_port = src->in6.sin6_port;
		dst->in6.sin6_addr = src->in6.sin6_addr;
		dst->in6.sin6_scope_id = src->in6.sin6_scope_id;
	}
}

int session_create(struct session_table *t, const rg_sockaddr *remote, void *peer, struct session **out)
{
	bool found;
	if (!addr_family_ok(remote))
		return -EAFNOSUPPORT;
	uint32_t i = addr_find(t, remote, &found);
	if (found)
		return -EEXIST;
	if (t->session_pool.live >= t->session_pool.cap)
		return -ENOSPC;
	uint32_t seed;
	int err = crypto_random(&t->rng, (uint8_t *)&seed, sizeof(seed));
	if (err)
		return err;

	uint32_t id = pool_get(&t->session_pool, t->sessions, sizeof(*t->sessions));
	struct session *s = &t->sessions[id];
	memset(s, 0, sizeof(*s));
	copy_remote(&s->remote, remote);
	s->id = id;
	s->peer = peer;
	s->previous = s->current = s->next = SESSION_SLOT_NONE;
	timers_init(&s->timers, seed | 1); /* never 0: 0 would turn jitter off */
	s->in_use = true;
	t->addr_slots[i] = id + 1;
	t->count++;
	*out = s;
	return 0;
}

int session_set_remote(struct session_table *t, struct session *s, const rg_sockaddr *remote)
{
	bool found;
	if (!addr_family_ok(remote))
		return -EAFNOSUPPORT;
	if (tunnel_sockaddr_equal(&s->remote, remote))
		return 0;
	addr_find(t, remote, &found);
	if (found)
		return -EEXIST;
	addr_remove(t, s);
	copy_remote(&s->remote, remote);
	uint32_t i = addr_find(t, remote, &found);
	t->addr_slots[i] = s->id + 1;
	return 0;
}

/* ---- deadlines ---- */

void session_timer_sync(struct session_table *t, struct session *s, uint64_t now)
{
	uint64_t want = timers_next_expiry(&s->timers);
	bool armed = twheel_armed(&s->timer);
	if (want == RG_NO_DEADLINE) {
		if (armed)
			twheel_del(&t->wheel, &s->timer);
		return;
	}
	if (!t->wheel_on) {
		twheel_init(&t->wheel, now);
		t->wheel_on = true;
	}
	if (!armed || want < s->timer.deadline)
		twheel_add(&t->wheel, &s->timer, want);
}

uint64_t session_timers_next(struct session_table *t)
{
	if (!t->wheel_on)
		return RG_NO_DEADLINE;
	return twheel_next_deadline(&t->wheel);
}

struct advance_ctx {
	void (*fn)(void *ctx, struct session *s, uint64_t now);
	void *ctx;
};

static void fire(void *ctx, struct twheel_timer *tm, uint64_t now)
{
	struct advance_ctx *a = ctx;
	struct session *s = (struct session *)((char *)tm - offsetof(struct session, timer));
	a->fn(a->ctx, s, now);
}

void session_timers_advance(struct session_table *t, uint64_t now,
                            void (*fn)(void *ctx, struct session *s, uint64_t now), void *ctx)
{
	if (!t->wheel_on)
		return;
	struct advance_ctx a = {fn, ctx};
	twheel_advance(&t->wheel, now, fire, &a);
}

/* ---- keypairs ---- */

static void drop_slot(struct session_table *t, struct session *s, uint8_t *role)
{
	if (*role == SESSION_SLOT_NONE)
		return;
	struct session_keypair *kp = s->slot[*role];
	session_index_release(t, kp->kp.local_index);
	crypto_wipe(kp, sizeof(*kp));
	pool_put(&t->keypair_pool, t->keypairs, sizeof(*t->keypairs), (uint32_t)(kp - t->keypairs));
	s->slot[*role] = NULL;
	*role = SESSION_SLOT_NONE;
}

void session_keys_zero(struct session_table *t, struct session *s)
{
	drop_slot(t, s, &s->previous);
	drop_slot(t, s, &s->current);
	drop_slot(t, s, &s->next);
	if (s->hs_index) {
		session_index_release(t, s->hs_index);
		s->hs_index = 0;
	}
}

void session_remove(struct session_table *t, struct session *s)
{
	if (!s->in_use)
		return;
	if (twheel_armed(&s->timer))
		twheel_del(&t->wheel, &s->timer);
	session_keys_zero(t, s);
	addr_remove(t, s);
	uint32_t id = s->id;
	crypto_wipe(s, sizeof(*s));
	pool_put(&t->session_pool, t->sessions, sizeof(*t->sessions), id);
	t->count--;
}

int session_keypair_install(struct session_table *t, struct session *s, const struct crypto_keypair *kp,
                            uint64_t now)
{
	struct session_keypair *owner_kp;
	if (session_lookup_index(t, kp->local_index, &owner_kp) != s || owner_kp)
		return -EINVAL; /* not s's index, or already a live keypair's */

	if (kp->is_initiator) {
		/* Our initiation was answered: the keypair is confirmed. */
		if (s->next != SESSION_SLOT_NONE) {
			/* A responder-side next that was never used goes to
			 * previous rather than away, so late data on it still
			 * decrypts; current and the old previous go. */
			drop_slot(t, s, &s->previous);
			drop_slot(t, s, &s->current);
			s->previous = s->next;
			s->next = SESSION_SLOT_NONE;
		} else {
			drop_slot(t, s, &s->previous);
			s->previous = s->current;
			s->current = SESSION_SLOT_NONE;
		}
	} else {
		/* Paper §5.4.7: the responder waits for the initiator's first
		 * data message before sending with the new keypair. */
		drop_slot(t, s, &s->next);
		drop_slot(t, s, &s->previous);
	}
	/* At most one keypair is alive now: a slot is free, and the pool
	 * (two per session) has one for it. */
	uint8_t free_slot = s->slot[0] ? 1 : 0;
	uint32_t id = pool_get(&t->keypair_pool, t->keypairs, sizeof(*t->keypairs));
	if (id == UINT32_MAX)
		return -ENOSPC; /* cannot happen: 2 * capacity keypairs */
	struct session_keypair *dst = s->slot[free_slot] = &t->keypairs[id];
	memset(dst, 0, sizeof(*dst));
	dst->kp = *kp;
	dst->birth = now;
	replay_init(&dst->replay);
	if (kp->is_initiator)
		s->current = free_slot;
	else
		s->next = free_slot;
	if (s->hs_index == kp->local_index)
		s->hs_index = 0; /* the keypair owns the index now */
	return 0;
}

bool session_keypair_received(struct session_table *t, struct session *s, struct session_keypair *kp)
{
	if (s->next == SESSION_SLOT_NONE || kp != s->slot[s->next])
		return false;
	/* The initiator used the new keypair: it is confirmed and becomes
	 * current; the old current stays as previous for packets in flight. */
	drop_slot(t, s, &s->previous);
	s->previous = s->current;
	s->current = s->next;
	s->next = SESSION_SLOT_NONE;
	return true;
}

void session_keypair_timers_key(const struct session_keypair *kp, struct timers_key *out)
{
	if (!kp) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->birth = kp->birth;
	out->send_counter = kp->kp.send_counter;
	out->initiator = kp->kp.is_initiator;
}

struct session_keypair *session_keypair_for_send(struct session *s, uint64_t now)
{
	struct session_keypair *kp = session_keypair_current(s);
	struct timers_key k;
	if (!kp)
		return NULL;
	session_keypair_timers_key(kp, &k);
	return timers_key_can_send(&k, now) ? kp : NULL;
}
