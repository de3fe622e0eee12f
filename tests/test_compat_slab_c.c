/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the kernel-style calls, written as a driver of the
 * textbook writes them: rtheap/compat/slab.h must compile as strict C11
 * with -Wall -Wextra -Werror, and the textbook's function types must
 * take the program's functions without casts.  Called from
 * test_compat_slab.cc.
 */
#include <stddef.h>
#include <stdint.h>

#include "rtheap/compat/slab.h"

int slab_c_program(rtheap_t *heap);

struct scull_qset {
	void **data;
	struct scull_qset *next;
	int quantum;
};

static int constructed;

static void qset_ctor(void *obj, kmem_cache_t *cache, unsigned long flags)
{
	struct scull_qset *q = obj;
	(void)cache;
	if ((flags & SLAB_CTOR_CONSTRUCTOR) == 0)
		return;
	q->data = NULL;
	q->next = NULL;
	q->quantum = 4000;
	constructed++;
}

static void qset_dtor(void *obj, kmem_cache_t *cache, unsigned long flags)
{
	(void)obj;
	(void)cache;
	(void)flags;
	constructed--;
}

/* The pool's own element functions, with the textbook's types. */
static char arena[4][64];
static int arena_used[4];

static void *arena_alloc(int gfp_mask, void *pool_data)
{
	int i;
	(void)gfp_mask;
	(void)pool_data;
	for (i = 0; i < 4; i++) {
		if (!arena_used[i]) {
			arena_used[i] = 1;
			return arena[i];
		}
	}
	return NULL;
}

static void arena_free(void *element, void *pool_data)
{
	int i;
	(void)pool_data;
	for (i = 0; i < 4; i++)
		if (element == arena[i])
			arena_used[i] = 0;
}

/* Returns 0, or the number of the first step that misbehaved. */
int slab_c_program(rtheap_t *heap)
{
	mempool_alloc_t *alloc_fn = arena_alloc;
	mempool_free_t *free_fn = arena_free;
	mempool_alloc_t *slab_alloc = mempool_alloc_slab;
	mempool_free_t *slab_free = mempool_free_slab;
	kmem_cache_t *cache;
	mempool_t *pool, *own;
	struct scull_qset *a, *b;
	void *e;

	kmem_set_heap(heap);
	if (kmem_get_heap() != heap)
		return 1;
	cache = kmem_cache_create("scull_qset", sizeof(struct scull_qset), 0,
	                          SLAB_HWCACHE_ALIGN, qset_ctor, qset_dtor);
	if (!cache)
		return 2;
	a = kmem_cache_alloc(cache, GFP_KERNEL);
	b = kmem_cache_alloc(cache, GFP_ATOMIC);
	if (!a || !b || a == b || a->quantum != 4000 || b->next != NULL)
		return 3;
	if ((uintptr_t)a % 64 != 0 || (uintptr_t)b % 64 != 0)
		return 4;
	kmem_cache_free(cache, b);
	if (kmem_cache_alloc(cache, GFP_ATOMIC) != b)
		return 5;

	pool = mempool_create(2, slab_alloc, slab_free, cache);
	if (!pool)
		return 6;
	e = mempool_alloc(pool, GFP_ATOMIC);
	if (!e || ((struct scull_qset *)e)->quantum != 4000)
		return 7;
	mempool_free(e, pool);
	if (mempool_resize(pool, 3, GFP_KERNEL) != 0)
		return 8;
	mempool_destroy(pool);

	own = mempool_create(2, alloc_fn, free_fn, NULL);
	if (!own || !arena_used[0] || !arena_used[1])
		return 9;
	e = mempool_alloc(own, GFP_KERNEL);
	if (e != arena[2])
		return 10;
	mempool_free(e, own);
	mempool_destroy(own);
	if (arena_used[0] || arena_used[1] || arena_used[2])
		return 11;

	kmem_cache_free(cache, a);
	kmem_cache_free(cache, b);
	if (kmem_cache_shrink(cache) != 0)
		return 12;
	if (kmem_cache_destroy(cache) != 0 || constructed != 0)
		return 13;
	kmem_set_heap(NULL);
	return 0;
}
