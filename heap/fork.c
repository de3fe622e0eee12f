/* SPDX-License-Identifier: MIT */
/*
 * fork.c -- the heap lock around fork() (owner.h, "fork"): the door the
 * process default heap (heap/default.c) uses from its pthread_atfork
 * handlers.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "fork.c is part of heap/unity.c"
#endif
#include "internal.h"
#include "lock.h"
#include "owner.h"

void rt_owner_fork_prepare(rtheap_t *heap)
{
	heap_lock(rt_heap_of(heap));
}

void rt_owner_fork_parent(rtheap_t *heap)
{
	heap_unlock(rt_heap_of(heap));
}

/* The forking thread held the lock: no other thread was inside the heap,
 * so its state is whole; only the lock's own word is stale.  Release it
 * first: for the PI mutex the C library refuses (EPERM, its word names
 * the parent thread's id), but tools that track lock ownership
 * (ThreadSanitizer) see it released; then set it up afresh. */
void rt_owner_fork_child(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	heap_unlock(h);
	(void)heap_lock_init(h);
}
