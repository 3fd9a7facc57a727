/* WireGuard's key text format: 32 bytes in standard base64 with padding,
 * 44 characters ("wg genkey", "wg pubkey", wg-quick files). Used by
 * ringgatectl genkey/pubkey, the demo and the config loader. Encoding is
 * libsodium's sodium_bin2base64 / sodium_base642bin (ORIGINAL variant),
 * which also rejects non-canonical trailing bits. */
#ifndef RG_CRYPTO_WGKEY_H
#define RG_CRYPTO_WGKEY_H

/* stdbool.h: tools/ringgatectl.c has relied on this header for bool. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGKEY_LEN 32
#define WGKEY_B64_LEN 44 /* without the terminating NUL */

/* A new private key from the system generator, clamped like `wg genkey`. */
int wgkey_generate(uint8_t key[WGKEY_LEN]);
/* The public key of a private key (clamped or not, like `wg pubkey`).
 * 0 or -EINVAL. */
int wgkey_public(const uint8_t priv[WGKEY_LEN], uint8_t pub[WGKEY_LEN]);
/* Writes WGKEY_B64_LEN characters and a NUL to b64. 0 or -EINVAL. */
int wgkey_to_base64(const uint8_t key[WGKEY_LEN], char b64[WGKEY_B64_LEN + 1]);
/* Exactly 44 characters of canonical base64 for 32 bytes, nothing around
 * them (the caller strips line ends). 0 or -EINVAL; key untouched on error. */
int wgkey_from_base64(const char *b64, uint8_t key[WGKEY_LEN]);
/* Wipe key material (not elided by the compiler). */
void wgkey_wipe(void *p, size_t len);

#endif
