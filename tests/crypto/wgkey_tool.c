/* genkey / pubkey through crypto/wgkey.h, for test_wgkey.sh to compare with
 * `wg genkey` / `wg pubkey`. Reads the private key from standard input. */
#include "crypto/wgkey.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	uint8_t k[WGKEY_LEN], p[WGKEY_LEN];
	char line[128], b64[WGKEY_B64_LEN + 1];
	if (argc == 2 && !strcmp(argv[1], "genkey")) {
		if (wgkey_generate(k) || wgkey_to_base64(k, b64))
			return 1;
	} else if (argc == 2 && !strcmp(argv[1], "pubkey")) {
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		line[strcspn(line, "\r\n")] = '\0';
		if (wgkey_from_base64(line, k) || wgkey_public(k, p) || wgkey_to_base64(p, b64))
			return 1;
	} else {
		fprintf(stderr, "usage: wgkey_tool genkey|pubkey\n");
		return 2;
	}
	puts(b64);
	wgkey_wipe(k, sizeof(k));
	return 0;
}
