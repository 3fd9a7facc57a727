#include "crypto/wgkey.h"
#include "crypto/util.h"
#include "crypto/x25519.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int wgkey_generate(uint8_t key[WGKEY_LEN])
{
	return crypto_x25519_generate(key, NULL);
}

int wgkey_public(const uint8_t priv[WGKEY_LEN], uint8_t pub[WGKEY_LEN])
{
	return crypto_x25519_public(pub, priv);
}

int wgkey_to_base64(const uint8_t key[WGKEY_LEN], char b64[WGKEY_B64_LEN + 1])
{
	if (crypto_init())
		return -EINVAL;
	sodium_bin2base64(b64, WGKEY_B64_LEN + 1, key, WGKEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

int wgkey_from_base64(const char *b64, uint8_t key[WGKEY_LEN])
{
	uint8_t tmp[WGKEY_LEN];
	size_t got = 0;
	const char *end = NULL;
	int err = -EINVAL;
	if (crypto_init() || strnlen(b64, WGKEY_B64_LEN + 1) != WGKEY_B64_LEN || b64[WGKEY_B64_LEN - 1] != '=')
		return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, WGKEY_B64_LEN, NULL, &got, &end,
	                      sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    got == WGKEY_LEN && end == b64 + WGKEY_B64_LEN) {
		memcpy(key, tmp, WGKEY_LEN);
		err = 0;
	}
	crypto_wipe(tmp, sizeof(tmp));
	return err;
}

void wgkey_wipe(void *p, size_t len)
{
	crypto_wipe(p, len);
}
