/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/slab.h -- the kernel's object caches and reserve pools,
 * as the device-driver textbook (Linux 2.6) shows them: kmem_cache_*,
 * mempool_*, GFP_ATOMIC and GFP_KERNEL, over rtheap's object caches
 * (rtheap/cache.h) and reserve pools (rtheap/pool.h).
 *
 * Code written for those calls compiles against this header unchanged:
 * the type names and argument forms are the textbook's (kmem_cache_t *,
 * a constructor and destructor void (*)(void *, kmem_cache_t *, unsigned
 * long), the mempool_alloc_t and mempool_free_t function types,
 * mempool_free(element, pool)).  kmem_cache_t is rtcache_t and mempool_t
 * is rtpool_t, so native calls (statistics, rtheap_slabinfo()) work on
 * them too.  Every call maps its arguments onto one native call (two for
 * kmem_cache_shrink(), to give the kernel's answer) and adds nothing of
 * its own: bounds, contexts and errors are the native ones, as stated per
 * call.
 *
 * Allocation flags (an int, as in 2.6):
 *  - GFP_ATOMIC never waits: an allocation that finds no memory returns
 *    NULL at once (RT-safe);
 *  - GFP_KERNEL may wait: kmem_cache_alloc() on a cache of the process
 *    default heap (rtheap/default.h) grows that heap synchronously when
 *    no slab can be had and tries again (rtcache_alloc_wait()); on another
 *    heap there is nothing to wait for and it answers as GFP_ATOMIC.
 *    mempool_alloc() waits until an element is released to the pool.
 *    GFP_NOIO and GFP_NOFS are GFP_KERNEL (they differ only in what the
 *    kernel's reclaim may do while waiting; there is none here).
 *  Their values are RTPOOL_NOWAIT and RTPOOL_WAIT: a mempool allocation
 *  function receives the caller's flag as the native pool passes it.
 *  They are defined once for the kernel-style headers in
 *  rtheap/compat/gfp.h (with __GFP_ZERO and gfp_t).
 *
 * The heap.  The kernel calls take no heap argument, so caches and pools
 * are created on a "current heap" of this interface: the heap last given
 * to kmem_set_heap(), or the process default heap (rtheap/default.h) when
 * none was given.  This pointer is the one piece of global state of the
 * interface, forced by its signatures; it is read only when a cache or a
 * pool is created, and each stays on the heap it was created on.
 *
 * Differences from the kernel: a constructor is called with flags
 * SLAB_CTOR_CONSTRUCTOR only (never SLAB_CTOR_ATOMIC: it runs in the
 * context of the allocation that makes the slab, under the cache's lock,
 * and must not call the cache), a destructor with RTCACHE_DTOR (the
 * kernel passes 0); misuse (a release of something that is not a live
 * object of the cache) is caught, changes nothing and is reported to the
 * heap's error callback, where the kernel would corrupt memory or BUG().
 *
 * Real-time paths: kmem_cache_alloc(GFP_ATOMIC), kmem_cache_free(),
 * mempool_alloc(GFP_ATOMIC) and mempool_free() (with a pool on a cache,
 * or on RT-safe functions).  GFP_KERNEL allocations, creation,
 * destruction, shrinking and resizing are not real-time calls.
 */
#ifndef RTHEAP_COMPAT_SLAB_H
#define RTHEAP_COMPAT_SLAB_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "rtheap/cache.h"
#include "rtheap/compat/gfp.h"
#include "rtheap/pool.h"
#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The current heap                                                    */
/* ------------------------------------------------------------------ */

/**
 * Make @p heap the heap of the caches and pools created from now on; NULL
 * returns to the process default heap.  Those created before stay where
 * they are.  Bound: O(1) (an atomic store).  Context: any thread.
 */
void kmem_set_heap(rtheap_t *heap);

/**
 * The current heap of this interface: the one given to kmem_set_heap(),
 * else rtheap_default() (created by this call if it does not exist yet;
 * NULL if it cannot be created).  Bound: O(1) once the default heap
 * exists.  Context: any thread.
 */
rtheap_t *kmem_get_heap(void);

/* ------------------------------------------------------------------ */
/* Flags                                                               */
/* ------------------------------------------------------------------ */

/* Allocation flags GFP_ATOMIC, GFP_KERNEL, GFP_NOIO, GFP_NOFS (and
 * __GFP_ZERO, which these calls do not use): rtheap/compat/gfp.h. */

/** kmem_cache_create() flags.  SLAB_HWCACHE_ALIGN aligns objects to the
 *  cache line, 64 bytes (RTCACHE_HWCACHE_ALIGN).  SLAB_NO_REAP (keep the
 *  cache's free slabs from the kernel's reaper) and SLAB_CACHE_DMA
 *  (objects in DMA-able memory) are accepted and ignored: no reaper takes
 *  slabs here (only kmem_cache_shrink() and the cache's own hysteresis
 *  give them back), and every heap is plain memory.  Any other bit makes
 *  kmem_cache_create() fail with EINVAL. */
#define SLAB_NO_REAP 0x00001000ul
#define SLAB_HWCACHE_ALIGN 0x00002000ul
#define SLAB_CACHE_DMA 0x00004000ul

/** Flags a constructor receives: SLAB_CTOR_CONSTRUCTOR always (it is
 *  RTCACHE_CTOR); SLAB_CTOR_ATOMIC never (see the top of the file). */
#define SLAB_CTOR_CONSTRUCTOR RTCACHE_CTOR
#define SLAB_CTOR_ATOMIC 0x00000100ul

/* ------------------------------------------------------------------ */
/* Object caches                                                       */
/* ------------------------------------------------------------------ */

/** An object cache. */
typedef rtcache_t kmem_cache_t;

/* The native flags for kmem_cache_create()'s: an unknown bit becomes all
 * bits, which rtcache_create_at() refuses (EINVAL). */
static inline unsigned kmem_cache_flags_(unsigned long flags)
{
	const unsigned long known = SLAB_HWCACHE_ALIGN | SLAB_NO_REAP | SLAB_CACHE_DMA;
	if (flags & ~known)
		return ~0u;
	return (flags & SLAB_HWCACHE_ALIGN) ? (unsigned)RTCACHE_HWCACHE_ALIGN : 0u;
}

/**
 * Create a cache of objects of @p size bytes on the current heap, with
 * the creator's @p file and @p line (use kmem_cache_create(), which
 * passes the caller's): rtcache_create_at().  @p name is copied (31
 * characters).  @p offset is taken as the objects' alignment: 0 for the
 * pointer size, else a power of two up to the heap's page size.
 * @p ctor runs on every object of a slab when the slab is made, @p dtor
 * on every object of a slab when the slab goes back to the heap; objects
 * keep their constructed state while free (the cache's free-list links
 * are outside them).  Either may be NULL.
 * @return the cache, or NULL with errno: EINVAL (size 0 or too large for
 *         a slab, @p offset not a power of two or above the page size, an
 *         unknown flag, no current heap), ENOMEM (no memory for the
 *         cache's descriptor).  No slab is taken yet.
 * Bound: O(1) plus one heap allocation.  Context: not RT (set-up).
 */
static inline kmem_cache_t *kmem_cache_create_at(const char *name, size_t size, size_t offset,
                                                 unsigned long flags,
                                                 void (*ctor)(void *, kmem_cache_t *, unsigned long),
                                                 void (*dtor)(void *, kmem_cache_t *, unsigned long),
                                                 const char *file, int line)
{
	return rtcache_create_at(kmem_get_heap(), name, size, offset,
	                         kmem_cache_flags_(flags), ctor, dtor, file, line);
}
#define kmem_cache_create(name, size, offset, flags, ctor, dtor) \
	kmem_cache_create_at((name), (size), (offset), (flags), (ctor), (dtor), \
	                     __FILE__, __LINE__)

/**
 * Allocate one object.  GFP_KERNEL (or GFP_NOIO, GFP_NOFS):
 * rtcache_alloc_wait(), which grows the process default heap when the
 * cache lives there and has no slab to give; GFP_ATOMIC:
 * rtcache_alloc(), never waits.
 * @return the object (in its constructed state with a constructor), or
 *         NULL: no memory for a new slab (counted as a failed allocation
 *         of the heap and of the cache), an unusable cache.
 * Bound: GFP_ATOMIC: O(1), with a new slab one heap allocation plus S
 *        constructor calls.  GFP_KERNEL: the same, plus one synchronous
 *        extension of the default heap.
 * Context: GFP_ATOMIC: RT-safe (as the constructor).  GFP_KERNEL: not RT.
 */
static inline void *kmem_cache_alloc(kmem_cache_t *cache, int flags)
{
	return (flags & GFP_KERNEL) ? rtcache_alloc_wait(cache) : rtcache_alloc(cache);
}

/**
 * Release one object (rtcache_free()); it keeps its constructed state.
 * NULL: nothing happens.  A pointer that is not a live object of @p cache
 * changes nothing and is reported to the heap's error callback
 * (RTHEAP_ERR_FOREIGN, RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE) and
 * counted in its errors.
 * Bound: O(log E) slab lookup, then O(1); when a slab goes back, one heap
 * release plus S destructor calls.  Context: RT-safe.
 */
static inline void kmem_cache_free(kmem_cache_t *cache, void *obj)
{
	(void)rtcache_free(cache, obj);
}

/**
 * Destroy the cache (rtcache_destroy()): every slab back to the heap,
 * the destructor run on each of their objects.
 * @return 0; non-zero (-EBUSY) when objects are still allocated, and
 *         nothing changes; -EINVAL for an unusable cache.
 * Bound: O(slabs x S).  Context: not RT.
 */
static inline int kmem_cache_destroy(kmem_cache_t *cache)
{
	return rtcache_destroy(cache);
}

/**
 * Give the cache's empty slabs back to the heap (rtcache_shrink()).
 * @return as in 2.6: 0 when the cache holds no slab any more, 1 when
 *         slabs with live objects remain; -EINVAL for an unusable cache.
 * Bound: O(empty slabs x S).  Context: not RT.
 */
static inline int kmem_cache_shrink(kmem_cache_t *cache)
{
	struct rtcache_stats st;
	if (rtcache_shrink(cache) < 0 || rtcache_get_stats(cache, &st) != 0)
		return -EINVAL;
	return st.total_slabs != 0;
}

/* ------------------------------------------------------------------ */
/* Reserve pools                                                       */
/* ------------------------------------------------------------------ */

/** A reserve pool. */
typedef rtpool_t mempool_t;
/** The pool's element allocation and release functions:
 *  void *alloc(int gfp_mask, void *pool_data),
 *  void free(void *element, void *pool_data). */
typedef rtpool_alloc_fn mempool_alloc_t;
typedef rtpool_free_fn mempool_free_t;

/* A count of the kernel's (int) as the native size: a negative one
 * becomes one the native calls refuse as too large (EINVAL). */
static inline size_t mempool_count_(int n)
{
	return n >= 0 ? (size_t)n : SIZE_MAX;
}

/**
 * Create a pool on the current heap that keeps @p min_nr elements of
 * @p alloc_fn / @p free_fn in reserve (rtpool_create_at(); use
 * mempool_create(), which passes the caller's file and line).  The
 * reserve is filled at once: @p alloc_fn is called @p min_nr times with
 * GFP_KERNEL.
 * @return the pool, or NULL with errno: EINVAL (negative @p min_nr, NULL
 *         function, no current heap), ENOMEM (no memory for the pool, or
 *         @p alloc_fn failed before the reserve was full: what it gave is
 *         given back).
 * Bound: @p min_nr calls of @p alloc_fn plus O(1).  Context: not RT.
 */
static inline mempool_t *mempool_create_at(int min_nr, mempool_alloc_t *alloc_fn,
                                           mempool_free_t *free_fn, void *pool_data,
                                           const char *file, int line)
{
	return rtpool_create_at(kmem_get_heap(), mempool_count_(min_nr), alloc_fn,
	                        free_fn, pool_data, file, line);
}
#define mempool_create(min_nr, alloc_fn, free_fn, pool_data) \
	mempool_create_at((min_nr), (alloc_fn), (free_fn), (pool_data), __FILE__, __LINE__)

/**
 * Allocate one element (rtpool_alloc()): from the allocation function
 * first (called with GFP_ATOMIC), else from the reserve.  When both have
 * nothing: GFP_ATOMIC returns NULL at once; GFP_KERNEL calls the
 * allocation function once with GFP_KERNEL, then waits until an element
 * is released to the pool, and tries again.
 * @return the element; NULL with errno ENOMEM (GFP_ATOMIC, nothing
 *         available) or EINVAL (unusable pool, a flag other than these).
 * Bound: GFP_ATOMIC: one call of the allocation function plus O(1).
 *        GFP_KERNEL: unbounded (until a release).
 * Context: GFP_ATOMIC: RT-safe if the allocation function is.
 *          GFP_KERNEL: not RT.
 */
static inline void *mempool_alloc(mempool_t *pool, int gfp_mask)
{
	return rtpool_alloc(pool, (unsigned)gfp_mask);
}

/**
 * Release an element (rtpool_free(); note the argument order): into the
 * reserve while it holds fewer than min_nr elements (waking a waiter),
 * else back through the release function.  NULL: nothing happens.
 * Bound: O(1) plus one call of the release function.
 * Context: RT-safe if the release function is.
 */
static inline void mempool_free(void *element, mempool_t *pool)
{
	(void)rtpool_free(pool, element);
}

/**
 * Change the pool's min_nr (rtpool_resize()).  @p gfp_mask is ignored:
 * growing always calls the allocation function with GFP_KERNEL (a resize
 * is not a real-time call).
 * @return 0; -ENOMEM (the new elements or array could not be had:
 *         nothing changed); -EINVAL (unusable pool, negative
 *         @p new_min_nr); -EBUSY (another resize is under way).
 * Bound: O(min_nr) plus |new - old| calls.  Context: not RT.
 */
static inline int mempool_resize(mempool_t *pool, int new_min_nr, int gfp_mask)
{
	(void)gfp_mask;
	return rtpool_resize(pool, mempool_count_(new_min_nr));
}

/**
 * Destroy the pool (rtpool_destroy()): the reserve's elements go back
 * through the release function.  Elements still allocated stay valid:
 * release them to their allocator, no longer to the pool.  An unusable
 * pool, or one with a waiter: nothing happens.
 * Bound: min_nr calls of the release function plus O(1).  Context: not RT.
 */
static inline void mempool_destroy(mempool_t *pool)
{
	(void)rtpool_destroy(pool);
}

/**
 * The allocation and release functions of a pool of a cache's objects:
 * @p pool_data is the kmem_cache_t *.  kmem_cache_alloc() and
 * kmem_cache_free().
 */
static inline void *mempool_alloc_slab(int gfp_mask, void *pool_data)
{
	return kmem_cache_alloc((kmem_cache_t *)pool_data, gfp_mask);
}
static inline void mempool_free_slab(void *element, void *pool_data)
{
	kmem_cache_free((kmem_cache_t *)pool_data, element);
}

/** mempool_create(@p min_nr, mempool_alloc_slab, mempool_free_slab,
 *  @p cache), as later kernels define it. */
#define mempool_create_slab_pool(min_nr, cache) \
	mempool_create_at((min_nr), mempool_alloc_slab, mempool_free_slab, \
	                  (void *)(cache), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_SLAB_H */
