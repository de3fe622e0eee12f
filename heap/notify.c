/* SPDX-License-Identifier: MIT */
/*
 * notify.c -- what the heap tells its user: misuse reports and low-memory
 * notifications.
 *
 * Both are found under the heap lock and delivered after it is released,
 * so that a callback may call the heap and a real-time caller does not
 * hold the lock through it:
 *   1. under the lock, rt_report() records a misuse in the descriptor (the
 *      first one of the call; errors counts them all), and the alloc path
 *      decides whether the low-memory callback is due;
 *   2. still under the lock, rt_notify_*() copy what is due into a struct
 *      rt_pending on the caller's stack and clear the record;
 *   3. the function that locked unlocks, then calls rt_notify_deliver().
 *
 * Low-memory state is kept as limits on h->used, so that the hot paths
 * test one comparison each:
 *   armed:    alloc notifies when used > lowmem_trip (free < threshold), or,
 *             with a run watch, when the largest free run is below
 *             lowmem_run (alloc_slow routes every alloc to the check);
 *   disarmed: free tries to re-arm when used < lowmem_rearm.
 * An unused limit is set so that its test is never true.
 *
 * The default misuse handler, used when none is set, runs in the failing
 * call (often a real-time thread): it records the first address of each
 * kind and writes nothing; rtheap_destroy() prints what it recorded.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "notify.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---------------- misuse ---------------- */

/* Under the lock: record a misuse for delivery after unlocking. */
RT_FN void rt_report(struct rt_heap *h, rtheap_error_kind_t kind, const void *addr)
{
	h->errors++;
	if (!h->pend_kind) {
		h->pend_kind = kind;
		h->pend_addr = addr;
	}
}

static const char *kind_name(rtheap_error_kind_t k)
{
	switch (k) {
	case RTHEAP_ERR_FOREIGN: return "address outside the heap";
	case RTHEAP_ERR_NOT_BLOCK: return "address is not the start of a block";
	case RTHEAP_ERR_DOUBLE_FREE: return "block already free (double free)";
	case RTHEAP_ERR_USE_AFTER_FREE: return "free memory written after free";
	case RTHEAP_ERR_CORRUPT: return "heap metadata corrupted";
	case RTHEAP_ERR_OWNER_DIED: return "a process died holding the lock (heap recovered)";
	case RTHEAP_ERR_BROKEN: return "a process died holding the lock mid-change (heap broken)";
	}
	return "unknown misuse";
}

static void default_error(rtheap_t *heap, rtheap_error_kind_t kind,
                          const void *addr, void *arg)
{
	(void)arg;
	struct rt_heap *h = rt_heap_of(heap);
	unsigned k = (unsigned)kind & 7u;
	if (!(atomic_fetch_or(&h->err_seen, 1u << k) & (1u << k)))
		h->err_first[k] = addr;
}

void rtheap_print_error(rtheap_t *heap, rtheap_error_kind_t kind,
                        const void *addr, void *arg)
{
	FILE *f = arg ? (FILE *)arg : stderr;
	const char *name = rt_heap_ok(rt_heap_of(heap)) ? rt_heap_of(heap)->name : NULL;
	fprintf(f, "rtheap %p%s%s: %s (%p)\n", (void *)heap, name ? " " : "",
	        name ? name : "", kind_name(kind), addr);
}

/* rtheap_destroy(): say what the default handler recorded. */
RT_FN void rt_notify_print_recorded(struct rt_heap *h)
{
	unsigned seen = atomic_load(&h->err_seen);
	if (!seen)
		return;
	fprintf(stderr, "rtheap %p%s%s: %zu misuse(s) reported to the default handler:\n",
	        (void *)h, h->name ? " " : "", h->name ? h->name : "", h->errors);
	for (unsigned k = 0; k < 8; k++)
		if (seen & (1u << k))
			fprintf(stderr, "  %s, first at %p\n",
			        kind_name((rtheap_error_kind_t)k), h->err_first[k]);
}

/* ---------------- low memory ---------------- */

RT_FN void rt_lowmem_arm(struct rt_heap *h)
{
	h->lowmem_armed = true;
	h->lowmem_rearm = 0;
	if (!h->lowmem_fn)
		h->lowmem_trip = SIZE_MAX;
	else if (h->lowmem_threshold > h->usable)
		h->lowmem_trip = 0;
	else
		h->lowmem_trip = h->usable - h->lowmem_threshold;
	h->alloc_slow = (h->flags & RTHEAP_F_DEBUG_FILL) ||
	                (h->lowmem_fn && h->lowmem_run);
}

static void lowmem_disarm(struct rt_heap *h)
{
	h->lowmem_armed = false;
	h->lowmem_trip = SIZE_MAX;
	if (h->lowmem_run)
		h->lowmem_rearm = SIZE_MAX; /* every free looks at the runs */
	else if (h->lowmem_threshold > h->usable)
		h->lowmem_rearm = 0;
	else
		h->lowmem_rearm = h->usable - h->lowmem_threshold + 1;
	h->alloc_slow = (h->flags & RTHEAP_F_DEBUG_FILL) != 0;
}

static bool lowmem_ok(const struct rt_heap *h)
{
	return h->usable - h->used >= h->lowmem_threshold &&
	       (!h->lowmem_run || rt_runs_largest(h) >= h->lowmem_run);
}

/* Free path, disarmed: re-arm once memory is back above both limits. */
RT_COLD void rt_lowmem_try_arm(struct rt_heap *h)
{
	if (lowmem_ok(h))
		rt_lowmem_arm(h);
}

/* After an extension changed usable: re-arm if memory is back above the
 * limits, else stay (or become) disarmed: the helper that extended too
 * little was already told, and reads the statistics to see it. */
RT_FN void rt_lowmem_update(struct rt_heap *h)
{
	if (!h->lowmem_fn || lowmem_ok(h))
		rt_lowmem_arm(h);
	else
		lowmem_disarm(h);
}

/* ---------------- callbacks of shared heaps ---------------- */

/* An object of the library: its address tells one loaded image of the
 * library from another (a process-shared heap, rtheap.h). */
static const char image_anchor;

RT_FN const void *rt_image_mark(void)
{
	return &image_anchor;
}

/* May this process call the callbacks stored in the descriptor?  Always
 * for a heap of one process; for a shared heap only where the library is
 * loaded where it was in the process that set them (its fork children). */
static inline bool callbacks_here(const struct rt_heap *h)
{
	return h->lock_mode != RTHEAP_LOCK_SHARED || h->img == rt_image_mark();
}

/* ---------------- collect (under the lock) and deliver (after) ---------------- */

/* Move the recorded misuse, if any, into pd; true if pd has anything. */
static inline bool collect(struct rt_heap *h, struct rt_pending *pd)
{
	pd->kind = h->pend_kind;
	if (rt_unlikely(pd->kind)) {
		pd->addr = h->pend_addr;
		pd->err_fn = h->err_fn && callbacks_here(h) ? h->err_fn : default_error;
		pd->err_arg = h->err_arg;
		h->pend_kind = 0;
	}
	return pd->low_fn || pd->kind;
}

static void lowmem_due(struct rt_heap *h, struct rt_pending *pd, size_t request)
{
	pd->low_fn = callbacks_here(h) ? h->lowmem_fn : NULL;
	pd->low_arg = h->lowmem_arg;
	pd->low_request = request;
	pd->low_free = h->usable - h->used;
}

/* A call that failed with a misuse. */
RT_COLD bool rt_notify_misuse(struct rt_heap *h, struct rt_pending *pd)
{
	pd->low_fn = NULL;
	return collect(h, pd);
}

/* An allocation of size bytes failed: the low-memory callback hears of it
 * (armed or not), with any misuse found on the way. */
RT_COLD bool rt_notify_failed(struct rt_heap *h, size_t size,
                              struct rt_pending *pd)
{
	lowmem_due(h, pd, size);
	return collect(h, pd);
}

/* An allocation succeeded on the slow end: notify (request 0) and disarm
 * if it crossed a low-memory limit while armed. */
RT_COLD bool rt_notify_alloc(struct rt_heap *h, struct rt_pending *pd)
{
	pd->low_fn = NULL;
	if (h->used > h->lowmem_trip ||
	    (h->lowmem_armed && h->lowmem_fn && h->lowmem_run &&
	     rt_runs_largest(h) < h->lowmem_run)) {
		lowmem_due(h, pd, 0);
		lowmem_disarm(h);
	}
	return collect(h, pd);
}

/* After unlocking: call the callbacks collected in pd. */
RT_COLD void rt_notify_deliver(struct rt_heap *h, const struct rt_pending *pd)
{
	if (pd->low_fn)
		pd->low_fn((rtheap_t *)(void *)h, pd->low_free, pd->low_request,
		           pd->low_arg);
	if (pd->kind) {
		pd->err_fn((rtheap_t *)(void *)h, pd->kind, pd->addr, pd->err_arg);
		if ((h->flags & RTHEAP_F_ABORT_ON_ERROR) &&
		    pd->kind != RTHEAP_ERR_OWNER_DIED)
			abort();
	}
}

/* A shared heap's lock met a dead owner (lock.h): under the lock, say what
 * to deliver after it, kind and addr, in pd (errors does not count it). */
RT_COLD void rt_notify_event(struct rt_heap *h, rtheap_error_kind_t kind,
                             const void *addr, struct rt_pending *pd)
{
	h->pend_kind = kind;
	h->pend_addr = addr;
	(void)rt_notify_misuse(h, pd);
}
