/* SPDX-License-Identifier: MIT */
/*
 * rtheap/pool.h -- reserve pools: a set of elements kept allocated in
 * advance, so that an allocation still succeeds when memory runs short
 * (the Linux kernel's mempool).
 *
 * A pool sits on an underlying allocator: an object cache of
 * rtheap/cache.h, or a pair of functions the caller supplies.  It keeps at
 * least min_nr elements of that allocator in a reserve.  An allocation
 * asks the underlying allocator first and takes an element of the reserve
 * only when that fails; a release refills the reserve first, and gives the
 * element back to the underlying allocator once the reserve is full.  So
 * min_nr allocations in a row succeed whatever else has taken the memory,
 * and every element released returns to the reserve until it is full.
 *
 *   rtpool_alloc():  underlying allocator --fails--> reserve --empty--> NULL
 *                                                     (NOWAIT) or wait for
 *                                                     a release (WAIT)
 *   rtpool_free():   reserve below min_nr? --yes--> reserve (wakes a waiter)
 *                                          --no---> underlying allocator
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context";
 * a call that reports an error changes nothing).  A(n) and F are the
 * bounds of one allocation and one release of the underlying allocator
 * (for a cache, those of rtcache_alloc() and rtcache_free()).
 *
 * Lock: each pool has its own priority-inheritance mutex and a condition
 * variable on CLOCK_MONOTONIC.  The pool never calls the underlying
 * allocator's functions, nor the heap, with its lock held: the lock
 * covers the reserve only, a few instructions, so a thread that waits
 * for it waits for a bounded time.  The order, where locks nest, is
 * pool -> underlying allocator -> heap.
 *
 * Real-time paths: rtpool_alloc() with RTPOOL_NOWAIT, rtpool_alloc_timed()
 * (bounded by its timeout) and rtpool_free().  rtpool_alloc() with
 * RTPOOL_WAIT waits without limit: not for a real-time thread.
 * docs/caches.md, "Reserve pools", has the design.
 */
#ifndef RTHEAP_POOL_H
#define RTHEAP_POOL_H

#include <stddef.h>
#include <time.h>

#include "rtheap/cache.h"
#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A reserve pool (opaque; its descriptor is allocated from its heap). */
typedef struct rtpool rtpool_t;

/**
 * The underlying allocator of a pool built on caller-supplied functions
 * (the kernel's mempool_alloc_t and mempool_free_t).  The allocation
 * function returns one element, or NULL when it has none; @p flags tells
 * it whether it may block (RTPOOL_WAIT) or not (RTPOOL_NOWAIT).  The pool
 * calls both without holding its lock; they may run in several threads at
 * once (make them thread-safe) and must not call the pool.  @p data is the
 * pointer given at creation.
 */
typedef void *rtpool_alloc_fn(unsigned flags, void *data);
typedef void rtpool_free_fn(void *elem, void *data);

/** Flags of rtpool_alloc(), passed on to the allocation function. */
enum rtpool_flags {
	/** Never block: NULL at once when the underlying allocator and the
	 *  reserve have nothing. */
	RTPOOL_NOWAIT = 0,
	/** Wait, without limit, for an element to be released. */
	RTPOOL_WAIT = 1u << 0,
};

/**
 * Create a pool on @p heap that keeps @p min_nr elements of the functions
 * @p alloc_fn / @p free_fn in reserve, recording the caller's file and
 * line (use the rtpool_create() macro).
 *
 * The pool's descriptor and its reserve (an array of min_nr pointers) are
 * allocated from @p heap; then @p alloc_fn is called min_nr times, with
 * RTPOOL_WAIT, to fill the reserve.  The pool is registered on @p heap:
 * rtheap_dump() lists it and rtheap_check() checks it.
 *
 * @p min_nr 0 is accepted: the pool then keeps no reserve and passes
 * every call to the underlying allocator; RTPOOL_WAIT still waits for a
 * release through the pool (rtpool_resize() can give it a reserve later).
 *
 * @return the pool, or NULL with errno: EINVAL (unusable heap, NULL
 *         @p alloc_fn or @p free_fn, @p min_nr so large that its array
 *         overflows size_t); ENOMEM (no memory in @p heap for the
 *         descriptor or the array, or @p alloc_fn returned NULL before the
 *         reserve was full: every element taken is given back through
 *         @p free_fn, the heap is as before); ENOTSUP (the system has no
 *         priority-inheritance mutex).
 * Bound: min_nr calls of @p alloc_fn, plus O(1) and three heap calls.
 * Context: not RT (set-up).
 */
rtpool_t *rtpool_create_at(rtheap_t *heap, size_t min_nr,
                           rtpool_alloc_fn *alloc_fn, rtpool_free_fn *free_fn,
                           void *data, const char *file, int line);
#define rtpool_create(heap, min_nr, alloc_fn, free_fn, data) \
	rtpool_create_at((heap), (min_nr), (alloc_fn), (free_fn), (data), \
	                 __FILE__, __LINE__)

/**
 * Create a pool on @p heap whose elements are objects of @p cache
 * (rtcache_alloc(), rtcache_free()); otherwise as rtpool_create_at().
 * The cache may live on another heap.  Destroy the pool before the cache:
 * the reserve holds live objects of the cache, so rtcache_destroy()
 * answers -EBUSY while the pool exists.
 * @return the pool, or NULL with errno: EINVAL (unusable heap, NULL
 *         @p cache, @p min_nr too large), ENOMEM (as rtpool_create_at(),
 *         the cache having no slab for the reserve), ENOTSUP.
 * Bound: min_nr rtcache_alloc() calls, plus O(1) and three heap calls.
 * Context: not RT (set-up).
 */
rtpool_t *rtpool_create_cache_at(rtheap_t *heap, size_t min_nr,
                                 rtcache_t *cache, const char *file, int line);
#define rtpool_create_cache(heap, min_nr, cache) \
	rtpool_create_cache_at((heap), (min_nr), (cache), __FILE__, __LINE__)

/**
 * Allocate one element.
 *
 * First the underlying allocator is asked (with RTPOOL_NOWAIT); if it has
 * nothing, the element released last to the reserve is taken.  If the
 * reserve is empty: with RTPOOL_NOWAIT, NULL at once; with RTPOOL_WAIT,
 * the underlying allocator is asked once more with RTPOOL_WAIT (a cache
 * ignores the flag), then the caller waits until a release through this
 * pool (to the reserve or to the underlying allocator) or a resize wakes
 * it, and starts again.  Memory freed to the underlying allocator by other
 * means does not wake it.
 * @return the element; or NULL with errno ENOMEM (RTPOOL_NOWAIT and
 *         nothing available: counted in the pool's failures), EINVAL
 *         (unusable pool, a flag other than RTPOOL_WAIT).
 * Bound: RTPOOL_NOWAIT: A + O(1) (the pool's lock is held for O(1) by any
 *        holder).  RTPOOL_WAIT: unbounded by design (until a release).
 * Context: RTPOOL_NOWAIT: RT-safe if the underlying allocator is (an
 *          object cache is).  RTPOOL_WAIT: not for a real-time thread; use
 *          rtpool_alloc_timed() with a deadline it can afford.
 */
RTHEAP_WARN_UNUSED
void *rtpool_alloc(rtpool_t *pool, unsigned flags);

/**
 * As rtpool_alloc(pool, RTPOOL_WAIT), waiting until @p abs_timeout at
 * most: an absolute time on CLOCK_MONOTONIC.  The underlying allocator is
 * only ever asked with RTPOOL_NOWAIT (it does not know the deadline).  A
 * deadline already past still tries the underlying allocator and the
 * reserve once, as sem_timedwait() does.
 * @return the element; or NULL with errno ETIMEDOUT (nothing came back
 *         before the deadline: counted in timeouts and failures), EINVAL
 *         (unusable pool, NULL @p abs_timeout, tv_nsec outside
 *         0..999999999).
 * Bound: A + O(1) per wake-up, until the deadline.
 * Context: RT-safe in the sense that it returns by the deadline (plus the
 *          scheduling latency of the wake-up) if the underlying allocator
 *          is RT-safe.
 */
RTHEAP_WARN_UNUSED
void *rtpool_alloc_timed(rtpool_t *pool, const struct timespec *abs_timeout);

/**
 * Release an element allocated from @p pool.  If the reserve holds fewer
 * than min_nr elements, the element goes to the reserve and one waiting
 * caller is woken; otherwise it goes back to the underlying allocator
 * (and a waiting caller is woken to try that allocator again).
 * The element is not checked when it goes to the reserve (as the kernel's
 * mempool_free()): release only what this pool handed out.
 * @return 0 (also for NULL: nothing done); -EINVAL: unusable pool; for a
 *         pool on a cache, rtcache_free()'s error when the element goes
 *         back to the cache and is not a live object of it (reported and
 *         counted as that call does; nothing changes).
 * Bound: O(1) + F.
 * Context: RT-safe if the underlying release is.
 */
int rtpool_free(rtpool_t *pool, void *elem);

/**
 * Change min_nr.  Growing allocates the new array from the heap and the
 * min_nr increase in elements from the underlying allocator (with
 * RTPOOL_WAIT) before anything changes: if one of them fails, everything
 * taken is given back and the pool is unchanged (-ENOMEM); then the new
 * elements join the reserve and waiting callers are woken.  Shrinking
 * gives the elements above the new min_nr back to the underlying
 * allocator and moves the reserve to a smaller array (if the heap has no
 * block for it, the larger array is kept: not an error).
 * Concurrent allocations and releases are allowed meanwhile.
 * @return 0; -EINVAL: unusable pool, or @p new_min_nr too large for its
 *         array; -ENOMEM: as above, nothing changed; -EBUSY: another
 *         resize of this pool is under way.
 * Bound: O(min_nr) copies plus |new - old| underlying calls and two heap
 *        calls.
 * Context: not RT.
 */
int rtpool_resize(rtpool_t *pool, size_t new_min_nr);

/**
 * Destroy the pool: the elements of the reserve go back to the underlying
 * allocator, the array and the descriptor back to the heap, and the pool
 * leaves the heap's registry.  Elements still allocated stay valid
 * elements of the underlying allocator: release them there (the free
 * function, rtcache_free()), not to the pool any more.
 * @return 0; -EINVAL: unusable pool; -EBUSY: a caller waits in
 *         rtpool_alloc() / rtpool_alloc_timed(), or a resize is under way
 *         (nothing changes).
 * Bound: min_nr underlying releases plus O(1) and two heap calls.
 * Context: not RT; no other call on the pool may start meanwhile.
 */
int rtpool_destroy(rtpool_t *pool);

/** Statistics of one pool (a snapshot; the counters run since creation). */
struct rtpool_stats {
	const char *file;     /**< creator's file and line */
	int line;
	size_t min_nr;        /**< elements the reserve keeps */
	size_t curr_nr;       /**< elements in the reserve now */
	size_t allocs;        /**< successful allocations */
	size_t from_reserve;  /**< of which served from the reserve */
	size_t frees;         /**< releases (not counting NULL) */
	size_t refills;       /**< of which went to the reserve */
	size_t waits;         /**< times a caller waited for a release */
	size_t timeouts;      /**< rtpool_alloc_timed() calls that expired */
	size_t failures;      /**< allocations that returned NULL (ENOMEM or
	                           ETIMEDOUT; not EINVAL) */
};
/** 0 or -EINVAL (unusable pool, NULL @p st).  Bound O(1).
 *  Context: RT-safe (takes the pool's lock). */
int rtpool_get_stats(rtpool_t *pool, struct rtpool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_POOL_H */
