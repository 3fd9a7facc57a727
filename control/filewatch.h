/* Watches files (certificates, keys, peers_file) for changes with inotify
 * and reports once things settle, so a reload sees whole files.
 *
 * The directories are watched, not the files: tools replace certificates by
 * renaming a new file over the old one or by swapping symlinks (certbot,
 * Kubernetes secrets), which a watch on the old inode would miss. */
#ifndef RG_FILEWATCH_H
#define RG_FILEWATCH_H

#include <stdbool.h>
#include <stdint.h>

#define FILEWATCH_SETTLE_NS (500ull * 1000 * 1000)

struct filewatch;

RG_MUST_CHECK int filewatch_open(struct filewatch **out);
void filewatch_close(struct filewatch *fw);
int filewatch_fd(const struct filewatch *fw);
/* Replace the watched set (at start and after each reload). */
RG_MUST_CHECK int filewatch_set(struct filewatch *fw, const char *const *paths, unsigned n);
/* Read events; remembers that a watched file changed. */
void filewatch_process(struct filewatch *fw, uint64_t now);
/* True once, FILEWATCH_SETTLE_NS after the last change of a watched file. */
bool filewatch_due(struct filewatch *fw, uint64_t now);

#endif
