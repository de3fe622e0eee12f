/* SPDX-License-Identifier: MIT */
/*
 * rtheap/kmem.h -- kernel-style allocation on any heap: requests with
 * flags (never wait, may wait with a timeout, zeroed) and page-order
 * blocks (2^order pages of 4096 bytes aligned to their own size).
 * rtheap/compat/kernel.h maps the kernel's kmalloc / __get_free_pages
 * calls onto these, on the process default heap.  docs/kmem.md has the
 * design and the figures.
 *
 * Flags (enum rtkmem_flags):
 *  - RTKMEM_ATOMIC (0): never wait.  A request that finds no memory
 *    returns NULL at once; the bound is the heap's own (rtheap_alloc()).
 *    This is the real-time call.
 *  - RTKMEM_WAIT: may wait, at most until a deadline, for memory to come
 *    back: released through rtkmem_free() / rtkmem_pages_free() (which
 *    wake waiters), or added to the process default heap (a waiter on
 *    that heap grows it itself, synchronously, with
 *    rtheap_default_grow(), before it sleeps).  A waiter also tries
 *    again every RTKMEM_POLL_MS milliseconds (rtkmem_set_poll_interval()),
 *    so that memory released
 *    with plain rtheap_free() or added with rtheap_extend() is seen
 *    without a wake-up.  Not a real-time call.
 *  - RTKMEM_ZERO: the memory handed out is zero-filled.
 *
 * Waking costs a release one relaxed load of a waiter count while nobody
 * waits; with a waiter, the release also takes the layer's wait lock
 * (priority inheritance) and broadcasts its condition variable.  The
 * core's rtheap_free() is not touched.
 *
 * Page-order blocks: owned runs of the heap (kind "pages" in its page
 * map), so that a release by address and order is checked exactly in
 * O(log E): a wrong order, an interior or foreign address, a block
 * released already, another layer's run (an object-cache slab of the same
 * size) are refused, reported to the heap's error callback and change
 * nothing.  The page size of this layer is RTKMEM_PAGE_SIZE (4096 bytes,
 * the kernel's PAGE_SIZE on x86-64 and most targets), whatever the heap's
 * own page size (256 bytes for the default heap); on a heap of larger
 * pages, the orders whose block is smaller than one heap page are
 * refused.
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context").
 * Every call accepts any heap that rtheap_init() made, in every lock mode;
 * with RTHEAP_LOCK_NONE nothing ever waits (there is no other thread).
 */
#ifndef RTHEAP_KMEM_H
#define RTHEAP_KMEM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Page of the page-order calls: 4096 bytes, 2^RTKMEM_PAGE_SHIFT. */
#define RTKMEM_PAGE_SHIFT 12u
#define RTKMEM_PAGE_SIZE ((size_t)1 << RTKMEM_PAGE_SHIFT)

/** By default a waiter tries again at least this often (milliseconds);
 *  rtkmem_set_poll_interval() changes it. */
#define RTKMEM_POLL_MS 10u

/** Default longest wait of an RTKMEM_WAIT request (nanoseconds): 1 s.
 *  rtkmem_set_wait_timeout() changes it. */
#define RTKMEM_WAIT_DEFAULT_NS ((uint64_t)1000000000u)
/** rtkmem_set_wait_timeout(RTKMEM_WAIT_FOREVER): wait without limit. */
#define RTKMEM_WAIT_FOREVER UINT64_MAX

/** Allocation flags.  The values of RTKMEM_ATOMIC and RTKMEM_WAIT are
 *  those of RTPOOL_NOWAIT and RTPOOL_WAIT (rtheap/pool.h), so that one
 *  GFP_* flag (rtheap/compat/gfp.h) serves both layers. */
enum rtkmem_flags {
	RTKMEM_ATOMIC = 0,     /**< never wait (the real-time default) */
	RTKMEM_WAIT = 1u << 0, /**< may wait, until a deadline */
	RTKMEM_ZERO = 1u << 1, /**< zero-filled memory */
};

/** Counters of the layer, for the whole process (every heap). */
struct rtkmem_stats {
	size_t waiting;    /**< callers asleep or about to sleep now */
	size_t sleeps;     /**< times a caller went to sleep */
	size_t wakeups;    /**< broadcasts by releases and growths */
	size_t grows;      /**< rtheap_default_grow() calls by waiters */
	size_t timeouts;   /**< waits that ended at their deadline, failed */
	size_t page_errors; /**< refused page-order releases */
};

/**
 * Allocate @p size bytes from @p heap (rtheap_alloc(): the same block,
 * alignment and release by rtheap_free() or rtkmem_free()).
 * @p flags: RTKMEM_ZERO zero-fills the block (its rounded size, as
 * rtheap_zalloc()); RTKMEM_WAIT waits at most the wait timeout
 * (rtkmem_set_wait_timeout(), 1 s by default) when no memory is free,
 * as rtkmem_alloc_timed() with that deadline.
 * @return the block; NULL with errno EINVAL (size 0, an unknown flag, an
 *         unusable heap), ENOMEM (no memory: at once without
 *         RTKMEM_WAIT) or ETIMEDOUT (RTKMEM_WAIT: none by the deadline).
 * Bound: RTKMEM_ATOMIC: rtheap_alloc()'s (O(1)), plus the zero fill
 *        (O(size)).  RTKMEM_WAIT: not bounded but by the timeout.
 * Context: RTKMEM_ATOMIC: RT-safe.  RTKMEM_WAIT: not RT.
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtkmem_alloc(rtheap_t *heap, size_t size, unsigned flags);

/**
 * As rtkmem_alloc() with RTKMEM_WAIT, waiting at most until
 * @p abs_timeout (CLOCK_MONOTONIC, absolute; NULL: no limit).  Before it
 * sleeps, a caller on the process default heap grows that heap
 * (rtheap_default_grow(), synchronously: mapping one extent may overrun
 * the deadline by that time) and wakes the other waiters when it did.
 * Asleep, it is woken by every release through rtkmem_free() or
 * rtkmem_pages_free() (on any heap) and tries again at least every
 * RTKMEM_POLL_MS ms.  A deadline in the past: one try (and one growth).
 * @p flags: RTKMEM_ZERO; RTKMEM_WAIT is implied.
 * @return as rtkmem_alloc(); EINVAL also for a timespec whose tv_nsec is
 *         outside [0, 1e9).
 * Bound: by the deadline (plus one extension of the default heap).
 * Context: not RT.
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtkmem_alloc_timed(rtheap_t *heap, size_t size, unsigned flags,
                         const struct timespec *abs_timeout);

/**
 * Release a block of @p heap (rtheap_free(): NULL does nothing; a pointer
 * that is not a live block is refused, reported to the heap's error
 * callback and changes nothing), then wake the callers waiting in this
 * layer, if any.
 * @return as rtheap_free().
 * Bound: rtheap_free()'s plus one load; with waiters, one lock of the
 *        wait mutex and a broadcast (a system call).
 * Context: RT-safe (the broadcast is a futex wake, only with waiters).
 */
int rtkmem_free(rtheap_t *heap, void *ptr);

/**
 * Longest wait of an RTKMEM_WAIT request without an explicit deadline,
 * for the whole process: @p ns nanoseconds (0: no wait, but the default
 * heap is still grown once; RTKMEM_WAIT_FOREVER: no limit).
 * @return the previous value.  Bound: O(1).  Context: any thread.
 */
uint64_t rtkmem_set_wait_timeout(uint64_t ns);

/**
 * How often a waiter tries again without being woken, for the whole
 * process: every @p ns nanoseconds (at least 1 ms: smaller values count
 * as 1 ms); RTKMEM_WAIT_FOREVER: never (only releases through this layer
 * and the waiters' own growth of the default heap wake it).
 * @return the previous value.  Bound: O(1).  Context: any thread.
 */
uint64_t rtkmem_set_poll_interval(uint64_t ns);

/** Fill @p st (struct rtkmem_stats, counters read one by one).
 *  @return 0, or -EINVAL for NULL.  Bound: O(1).  Context: RT-safe. */
int rtkmem_get_stats(struct rtkmem_stats *st);

/* ------------------------------------------------------------------ */
/* Page-order blocks                                                   */
/* ------------------------------------------------------------------ */

/**
 * The smallest order whose block holds @p size bytes: 0 for 1 ..
 * RTKMEM_PAGE_SIZE bytes, 1 up to two pages, ... (the kernel's
 * get_order()).  @p size 0 gives the order of SIZE_MAX + 1 bytes, as the
 * kernel's does (an order no heap serves).
 * Bound: O(1).  Context: any.
 */
static inline unsigned rtkmem_get_order(size_t size)
{
	size_t pages = (size - 1u) >> RTKMEM_PAGE_SHIFT;
	unsigned order = 0;
	if (pages)
		order = (unsigned)(sizeof(unsigned long long) * 8u) -
		        (unsigned)__builtin_clzll((unsigned long long)pages);
	return order;
}

/**
 * The largest order @p heap may ever serve: log2 of its largest owned
 * run (rt_owner_max) in pages of RTKMEM_PAGE_SIZE.  It depends on the
 * heap's page size and the size of its largest extent (see
 * docs/kmem.md); whether such a block is free now is another matter.
 * @return the order, or -EINVAL for an unusable heap.  (On a heap of
 *         pages above RTKMEM_PAGE_SIZE the smallest orders are refused:
 *         see the top of this header.)
 * Bound: O(1).  Context: RT-safe.
 */
int rtkmem_max_order(rtheap_t *heap);

/**
 * Allocate 2^@p order contiguous pages of RTKMEM_PAGE_SIZE bytes aligned
 * to their own size (absolute address): an owned run of @p heap, which
 * rtheap_free() refuses; release it with rtkmem_pages_free(@p order).
 * @p flags as rtkmem_alloc() (RTKMEM_ZERO zero-fills the 2^order pages;
 * RTKMEM_WAIT waits for a release or grows the default heap).  ASan and
 * Memcheck see the block as a heap block.
 * Which free memory serves it: the aligned take of rtheap_alloc_aligned(),
 * sure to succeed when a free run of 2B - P bytes exists (B the block's
 * size, P the heap's page); a free run of exactly B bytes that happens to
 * be aligned may not serve it.  So a released block of the same order
 * does not by itself satisfy a waiting request unless it joins other free
 * memory.
 * @return the block; NULL with errno EINVAL (order above
 *         rtkmem_max_order(), an unknown flag, an unusable heap, or a
 *         block smaller than the heap's page), ENOMEM or
 *         ETIMEDOUT (as rtkmem_alloc()).  A failure for want of memory is
 *         counted in the heap's failed_allocs and calls its low-memory
 *         callback (request: the block's size).
 * Bound: RTKMEM_ATOMIC: rtheap_alloc_aligned()'s (O(1)), plus the zero
 *        fill (O(2^order pages)).  RTKMEM_WAIT: by the timeout.
 * Context: RTKMEM_ATOMIC: RT-safe.  RTKMEM_WAIT: not RT.
 */
RTHEAP_WARN_UNUSED
void *rtkmem_pages_alloc(rtheap_t *heap, unsigned order, unsigned flags);

/** As rtkmem_pages_alloc() with RTKMEM_WAIT and the deadline
 *  @p abs_timeout (as rtkmem_alloc_timed()).  Bound: by the deadline.
 *  Context: not RT. */
RTHEAP_WARN_UNUSED
void *rtkmem_pages_alloc_timed(rtheap_t *heap, unsigned order, unsigned flags,
                               const struct timespec *abs_timeout);

/**
 * Release the page-order block at @p addr, allocated with @p order, then
 * wake the waiters (as rtkmem_free()).  NULL does nothing (0).
 * @return 0; -EFAULT: @p addr outside every extent of @p heap
 *         (RTHEAP_ERR_FOREIGN); -EINVAL: @p addr is not the start of a
 *         live page-order block of exactly this order (a wrong order, an
 *         interior address, a block released already, a heap block, an
 *         object-cache slab or another layer's run of the same size:
 *         RTHEAP_ERR_NOT_BLOCK), or an order above rtkmem_max_order(), or
 *         an unusable heap (not reported).  Every error changes nothing;
 *         the reported ones go to the heap's error callback, are counted
 *         in its errors and in page_errors.
 * Bound: as rtheap_free(): O(log E), the check and the release in one heap-lock section.
 * Context: RT-safe.
 */
int rtkmem_pages_free(rtheap_t *heap, void *addr, unsigned order);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_KMEM_H */
