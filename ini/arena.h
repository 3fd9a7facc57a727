/* A bump allocator: one per loaded config (or peers file), so the result is
 * a single allocation tree that frees in one call, and every byte it held
 * (keys, tokens) is wiped on the way out. Growing an array copies it and
 * leaves the old copy in the arena: configurations are small and loaded
 * rarely, so the waste buys simplicity. Not thread-safe while building;
 * read-only afterwards. */
#ifndef RG_INI_ARENA_H
#define RG_INI_ARENA_H

#include <stddef.h>

struct ini_arena;

struct ini_arena *ini_arena_new(void);
/* Wipe and free every chunk. NULL is fine. */
void ini_arena_free(struct ini_arena *a);
/* Zeroed memory aligned for any type, or NULL. */
void *ini_arena_alloc(struct ini_arena *a, size_t size);
char *ini_arena_strdup(struct ini_arena *a, const char *s);
char *ini_arena_strndup(struct ini_arena *a, const char *s, size_t n);
/* Grow an array of `n` elements of `size` bytes to n + 1 and return the new
 * array (the old one is copied into it), or NULL on overflow/ENOMEM. */
void *ini_arena_grow(struct ini_arena *a, const void *old, size_t n, size_t size);

#endif
