/* Small helpers every crypto/ module uses: library start-up, per-thread
 * contexts, randomness, constant-time comparison, secure wipe, TAI64N.
 *
 * Threading: the primitives keep per-thread OpenSSL contexts (BLAKE2s,
 * HMAC, the handshake's AEAD). They are created on first use in a thread;
 * a worker calls crypto_thread_init() at start so the fast path never
 * allocates, and crypto_thread_exit() before it ends. */
#ifndef RG_CRYPTO_UTIL_H
#define RG_CRYPTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fetch the OpenSSL algorithms once and initialise libsodium. Idempotent and
 * thread-safe; every crypto_* entry point calls it, so calling it early only
 * moves the cost to start-up. 0 or -ENOMEM / -ENOTSUP (an algorithm missing
 * from the OpenSSL providers). */
int crypto_init(void);

/* Create this thread's contexts now (0 or -ENOMEM); free them (idempotent). */
int crypto_thread_init(void);
void crypto_thread_exit(void);

/* Randomness source handed to the sans-IO protocol cores at init, so tests
 * can make handshakes deterministic. Fills buf, returns 0 or negative errno. */
struct crypto_rng {
	int (*fill)(void *opaque, uint8_t *buf, size_t len);
	void *opaque;
};
/* The system generator (libsodium randombytes_buf, i.e. getrandom()). */
extern const struct crypto_rng crypto_rng_system;
int crypto_random(const struct crypto_rng *rng, uint8_t *buf, size_t len);

/* Constant-time equality of two buffers of length len (time depends on len
 * only). */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Constant-time test for all zero bytes. */
bool crypto_is_zero(const void *p, size_t len);
/* Wipe that the compiler may not elide. */
void crypto_wipe(void *p, size_t len);

/* TAI64N, as WireGuard's initiation timestamp: 8 bytes big-endian
 * 2^62 + 10 + unix seconds (the TAI-UTC offset of 1972 that the TAI64 label
 * convention and WireGuard use), then 4 bytes big-endian nanoseconds.
 * wall_ns is the wall clock in nanoseconds since the Unix epoch, passed in:
 * no clock is read here. */
#define CRYPTO_TAI64N_LEN 12
void crypto_tai64n_encode(uint8_t out[CRYPTO_TAI64N_LEN], uint64_t wall_ns);
/* > 0 when a is later than b, 0 equal, < 0 earlier (big-endian compare).
 * Not constant time: timestamps are not secret once decrypted. */
int crypto_tai64n_compare(const uint8_t a[CRYPTO_TAI64N_LEN], const uint8_t b[CRYPTO_TAI64N_LEN]);

#endif
