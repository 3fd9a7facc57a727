/* libFuzzer target: any bytes as a configuration file and as a peers_file.
 * Loading must never crash, leak or read out of bounds, and must either
 * succeed or leave messages that all start with the file's name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	struct ini_diag d;
	struct rg_config *c = NULL;
	ini_diag_init(&d);
	int r = ini_config_load_string("fuzz.ini", text, &c, &d);
	if (r == 0 && (!c || ini_diag_count(&d)))
		abort();
	if (r != 0 && (c || (r == -22 && !ini_diag_count(&d))))
		abort();
	for (unsigned i = 0; i < ini_diag_count(&d); i++)
		if (strncmp(ini_diag_get(&d, i), "fuzz.ini:", 9) && !d.oom)
			abort();
	ini_config_free(c);
	ini_diag_free(&d);

	struct rg_peer_list pl;
	r = ini_peers_load_string("fuzz.peers", text, &pl, &d);
	if (r == 0)
		ini_peers_free(&pl);
	ini_diag_free(&d);
	free(text);
	return 0;
}
