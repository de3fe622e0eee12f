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

/* A shared heap's lock is process-shared: fork() needs nothing (the child
 * uses it as it is, rtheap.h), and re-initialising it in the child would
 * break it for every other process.  So the three do nothing for it. */
static bool fork_skips(const struct rt_heap *h)
{
	return h->lock_mode == RTHEAP_LOCK_SHARED;
}

void rt_owner_fork_prepare(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!fork_skips(h))
		(void)heap_lock(h); /* only the shared mode can refuse */
}

void rt_owner_fork_parent(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!fork_skips(h))
		heap_unlock(h);
}

/* The forking thread held the lock: no other thread was inside the heap,
 * so its state is whole; only the lock's own word is stale.  Release it
 * first: for the PI mutex the C library refuses (EPERM, its word names
 * the parent thread's id), but tools that track lock ownership
 * (ThreadSanitizer) see it released; then set it up afresh. */
void rt_owner_fork_child(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (fork_skips(h))
		return;
	heap_unlock(h);
	(void)heap_lock_init(h);
}
