/* pool: fixed-size object pools that touch memory only as it is used.
 *
 * The tunnel engine sizes everything at init and never allocates after
 * (engine.h), yet its memory per idle session is budgeted (1 KiB): a
 * worker sized for 4,096 peers that carries 40 must not pay for 4,096.
 * So the arrays are calloc()ed (fresh zero pages from the kernel, not
 * resident until written) and handed out from a high-water mark; a freed
 * object goes on a free list threaded through its own first four bytes
 * and is reused first. Nothing walks the array at init, so only objects
 * ever used are resident, and an object comes back wiped by its owner.
 *
 * Ids are positions in the array; callers keep id + 1 where 0 must mean
 * "none". Not thread-safe: one pool per worker object. */
#ifndef RG_TUNNEL_POOL_H
#define RG_TUNNEL_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pool {
	uint32_t cap;       /* objects in the array */
	uint32_t high;      /* objects ever handed out: [0, high) were touched */
	uint32_t free_head; /* id + 1 of the first free object below high, 0: none */
	uint32_t live;      /* objects handed out and not freed */
};

static inline void pool_init(struct pool *p, uint32_t cap)
{
	*p = (struct pool){.cap = cap};
}

/* An id, or UINT32_MAX when every object is live. `base` and `size` are
 * the array the pool stands for (objects of at least 4 bytes). */
static inline uint32_t pool_get(struct pool *p, void *base, size_t size)
{
	uint32_t id;
	if (p->free_head) {
		id = p->free_head - 1;
		memcpy(&p->free_head, (uint8_t *)base + (size_t)id * size, sizeof(p->free_head));
	} else if (p->high < p->cap) {
		id = p->high++;
	} else {
		return UINT32_MAX;
	}
	p->live++;
	return id;
}

/* Give id back; the object's first four bytes become the free link, so
 * wipe it (if it held secrets) before this. */
static inline void pool_put(struct pool *p, void *base, size_t size, uint32_t id)
{
	memcpy((uint8_t *)base + (size_t)id * size, &p->free_head, sizeof(p->free_head));
	p->free_head = id + 1;
	p->live--;
}

#endif
