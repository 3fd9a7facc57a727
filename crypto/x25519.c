#include "crypto/x25519.h"
#include "crypto/util.h"

#include <errno.h>
#include <sodium.h>

void crypto_x25519_clamp(uint8_t priv[CRYPTO_X25519_KEY_LEN])
{
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
}

int crypto_x25519_generate(uint8_t priv[CRYPTO_X25519_KEY_LEN], const struct crypto_rng *rng)
{
	int err = crypto_random(rng, priv, CRYPTO_X25519_KEY_LEN);
	if (err)
		return err;
	crypto_x25519_clamp(priv);
	return 0;
}

int crypto_x25519_public(uint8_t pub[CRYPTO_X25519_KEY_LEN], const uint8_t priv[CRYPTO_X25519_KEY_LEN])
{
	if (crypto_init())
		return -ENOMEM;
	return crypto_scalarmult_curve25519_base(pub, priv) ? -EINVAL : 0;
}

int crypto_x25519_shared(uint8_t out[CRYPTO_X25519_KEY_LEN], const uint8_t priv[CRYPTO_X25519_KEY_LEN],
                         const uint8_t pub[CRYPTO_X25519_KEY_LEN])
{
	if (crypto_init())
		return -ENOMEM;
	/* libsodium returns -1 for an all-zero result (and for the small-order
	 * inputs that produce it); check again so the contract does not depend
	 * on that. */
	if (crypto_scalarmult_curve25519(out, priv, pub) || crypto_is_zero(out, CRYPTO_X25519_KEY_LEN)) {
		crypto_wipe(out, CRYPTO_X25519_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}
