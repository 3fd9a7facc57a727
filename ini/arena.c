/* Bump allocator with wipe-on-free: see arena.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini/arena.h"

#define CHUNK_MIN 4096
#define ALIGN _Alignof(max_align_t)

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(max_align_t) unsigned char data[];
};

struct ini_arena {
	struct chunk *head;
};

struct ini_arena *ini_arena_new(void)
{
	return calloc(1, sizeof(struct ini_arena));
}

void ini_arena_free(struct ini_arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		/* The arena holds private keys and the admin token. */
		explicit_bzero(c->data, c->size);
		free(c);
		c = next;
	}
	free(a);
}

void *ini_arena_alloc(struct ini_arena *a, size_t size)
{
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (!size)
		size = ALIGN;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < size) {
		size_t want = size > CHUNK_MIN ? size : CHUNK_MIN;
		c = malloc(sizeof(*c) + want);
		if (!c)
			return NULL;
		c->size = want;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

char *ini_arena_strndup(struct ini_arena *a, const char *s, size_t n)
{
	char *p = ini_arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

char *ini_arena_strdup(struct ini_arena *a, const char *s)
{
	return ini_arena_strndup(a, s, strlen(s));
}

void *ini_arena_grow(struct ini_arena *a, const void *old, size_t n, size_t size)
{
	if (size && n + 1 > SIZE_MAX / 2 / size)
		return NULL;
	void *p = ini_arena_alloc(a, (n + 1) * size);
	if (p && n)
		memcpy(p, old, n * size);
	return p;
}
