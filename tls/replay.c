/* replay: the one 0-RTT anti-replay window of the process (RFC 8446 8.2,
 * "ClientHello recording"), shared by every worker's quic_server.
 *
 * Why shared, against the shared-nothing rule: a replayed ClientHello can
 * come from any source address, so SO_REUSEPORT may steer it to any worker;
 * a per-worker record would let each worker accept the same early data
 * once. gnutls keys the record with the gnutls_anti_replay_t's start time,
 * so every server must also use the same backend object (made here, under
 * the lock, by tls_backend_replay_new; read-only after init, safe to
 * share). The table itself is backend-neutral: gnutls hands it its key
 * through its add function, the OpenSSL backend the ClientHello's random
 * and binder from its early-data callback. The table is touched only by handshakes that
 * offer early data with a valid ticket, never by established connections,
 * so one mutex costs nothing on the packet path.
 *
 * The table: open addressing over a fixed array (no allocation), entries
 * are a 128-bit hash of the backend's key (BLAKE2b via libsodium, keyed per
 * process) and an expiry in wall-clock seconds. "Now"
 * is the wall clock passed in by the server that opened the window
 * (quic_params.wall: time(NULL) by default), never read here, so a test
 * runs the record on fake time. Expired entries are reused. When a probe run finds no free slot the ClientHello
 * is refused as if it were a replay: early data fails closed, the
 * handshake goes on in 1-RTT.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "tls/tls.h"

/* RFC 8446 8.2: the window; as the QUIC server's QUIC_ANTI_REPLAY_WINDOW_S */
#define REPLAY_WINDOW_S 10

#define REPLAY_SLOTS 16384 /* power of two */
#define REPLAY_PROBE 32

struct replay_slot {
	uint8_t h[16];
	uint64_t exp; /* 0: empty */
};

static pthread_mutex_t replay_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned replay_refs;
static void *replay_obj; /* the backend's (tls_backend_replay_new) */
static uint8_t replay_key[crypto_generichash_KEYBYTES];
static struct replay_slot replay_tab[REPLAY_SLOTS];
/* The wall clock of the server that opened the window (quic_params.wall):
 * one record, one clock. */
static struct tls_wall_clock replay_clock;

int tls_replay_record(const void *key, size_t len, uint64_t exp_time)
{
	uint64_t now, idx;
	struct replay_slot *free_slot = NULL;
	uint8_t h[16];
	int rv = 0;

	pthread_mutex_lock(&replay_mu);
	if (!replay_refs) {
		rv = -ENOSPC; /* no window open */
		goto out;
	}
	now = replay_clock.now(replay_clock.ctx);
	crypto_generichash(h, sizeof(h), key, len, replay_key, sizeof(replay_key));
	memcpy(&idx, h, sizeof(idx));
	for (unsigned i = 0; i < REPLAY_PROBE; i++) {
		struct replay_slot *s = &replay_tab[(idx + i) & (REPLAY_SLOTS - 1)];

		if (s->exp > now && memcmp(s->h, h, sizeof(h)) == 0) {
			rv = -EEXIST;
			goto out;
		}
		if (!free_slot && s->exp <= now)
			free_slot = s;
	}
	if (!free_slot) {
		rv = -ENOSPC; /* full: refuse early data */
		goto out;
	}
	memcpy(free_slot->h, h, sizeof(h));
	free_slot->exp = exp_time > 0 ? exp_time : now + REPLAY_WINDOW_S;
out:
	pthread_mutex_unlock(&replay_mu);
	return rv;
}

int tls_replay_acquire(const struct tls_wall_clock *clk, void **out)
{
	int rc = 0;

	pthread_mutex_lock(&replay_mu);
	if (replay_refs == 0) {
		if (sodium_init() < 0) {
			rc = -ENOMEM;
			goto out;
		}
		randombytes_buf(replay_key, sizeof(replay_key));
		memset(replay_tab, 0, sizeof(replay_tab));
		replay_clock = *clk;
		replay_obj = tls_backend_replay_new();
		if (!replay_obj) {
			rc = -ENOMEM;
			goto out;
		}
	}
	replay_refs++;
	*out = replay_obj;
out:
	pthread_mutex_unlock(&replay_mu);
	return rc;
}

void tls_replay_release(void)
{
	pthread_mutex_lock(&replay_mu);
	if (replay_refs > 0 && --replay_refs == 0) {
		tls_backend_replay_free(replay_obj);
		replay_obj = NULL;
		sodium_memzero(replay_key, sizeof(replay_key));
	}
	pthread_mutex_unlock(&replay_mu);
}
