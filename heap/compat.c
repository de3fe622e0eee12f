/* SPDX-License-Identifier: MIT */
/*
 * compat.c -- what the compatibility headers cannot keep inline: the
 * "current heap" of each interface whose calls take no heap argument
 * (rtheap/compat/mi_mem.h, rtheap/compat/slab.h).  Everything else of
 * those interfaces is inline in their headers, mapped onto the native
 * layers.  One pointer per interface, read when an arena, a cache or a
 * pool is created; NULL means the process default heap.
 */
#include "rtheap/compat/mi_mem.h"
#include "rtheap/compat/slab.h"
#include "rtheap/default.h"

#include <stdatomic.h>

static _Atomic(rtheap_t *) mi_mem_heap;
static _Atomic(rtheap_t *) kmem_heap;

void mi_mem_set_heap(rtheap_t *heap)
{
	atomic_store_explicit(&mi_mem_heap, heap, memory_order_release);
}

rtheap_t *mi_mem_get_heap(void)
{
	rtheap_t *h = atomic_load_explicit(&mi_mem_heap, memory_order_acquire);
	return h ? h : rtheap_default();
}

void kmem_set_heap(rtheap_t *heap)
{
	atomic_store_explicit(&kmem_heap, heap, memory_order_release);
}

rtheap_t *kmem_get_heap(void)
{
	rtheap_t *h = atomic_load_explicit(&kmem_heap, memory_order_acquire);
	return h ? h : rtheap_default();
}
