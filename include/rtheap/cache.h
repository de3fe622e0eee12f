/* SPDX-License-Identifier: MIT */
/*
 * rtheap/cache.h -- object caches on a heap: fixed-size objects in slabs,
 * with optional constructor and destructor, in a constant number of steps.
 *
 * A cache hands out objects of one size.  It takes slabs (runs of pages,
 * each aligned to its own size) from its heap through the heap's page map,
 * so that an object needs no header: the release of an object finds its
 * slab by rounding the address down to the slab size and checks, through
 * the page map, that this is a slab of this cache.  docs/caches.md has the
 * design, the layout and the figures.
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context";
 * a call that reports an error changes nothing).  S is the number of
 * objects per slab of the cache (a constant fixed at creation,
 * rtcache_get_stats()), E the heap's extents.
 *
 * Real-time paths: rtcache_alloc(), rtcache_free() and their _nolock
 * variants.  Everything else (create, destroy, clear, shrink, enumerate,
 * statistics and reports) is for set-up and maintenance code.
 */
#ifndef RTHEAP_CACHE_H
#define RTHEAP_CACHE_H

#include <stddef.h>
#include <stdio.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An object cache (opaque; its descriptor is allocated from its heap). */
typedef struct rtcache rtcache_t;

/**
 * Constructor or destructor of a cache's objects, as the kernel's slab
 * allocator calls them: the constructor runs on every object of a slab
 * when the slab is made; objects go back to the cache in their
 * constructed state (the cache keeps its free-list links outside them);
 * the destructor runs on every object of a slab when the slab goes back
 * to the heap.  @p flags is RTCACHE_CTOR (constructor) or RTCACHE_DTOR
 * (destructor).  It runs with the cache's lock held: it must not call the
 * cache.
 */
typedef void (*rtcache_ctor_fn)(void *obj, rtcache_t *cache, unsigned long flags);

/** The flags argument of a constructor / destructor call. */
#define RTCACHE_CTOR 1ul
#define RTCACHE_DTOR 2ul

/** The cache line the RTCACHE_HWCACHE_ALIGN flag aligns objects to. */
#define RTCACHE_LINE 64u

/** Flags of rtcache_create(). */
enum rtcache_flags {
	/** Zero every object on allocation (the block arenas' behaviour);
	 *  not with a constructor (-EINVAL). */
	RTCACHE_ZERO = 1u << 0,
	/** Align every object to RTCACHE_LINE bytes (at least). */
	RTCACHE_HWCACHE_ALIGN = 1u << 1,
	/** No lock at all: the cache is used by one thread only (or the
	 *  caller serialises); rtcache_alloc() is then rtcache_alloc_nolock(). */
	RTCACHE_NOLOCK = 1u << 2,
};

/**
 * Create a cache of objects of @p size bytes on @p heap, recording the
 * caller's file and line (use the rtcache_create() macro).
 *
 * @p size is rounded up to a multiple of the pointer size and of the
 * alignment; @p align is 0 (pointer size) or a power of two up to the
 * heap's page size; RTCACHE_HWCACHE_ALIGN raises it to RTCACHE_LINE.
 * @p name is copied (up to 31 characters; NULL: "cache").  @p file and
 * @p line are kept (not copied) for the reports.  The lock follows the
 * heap's lock mode (a priority-inheritance mutex, a spin lock or none),
 * unless RTCACHE_NOLOCK.  A @p dtor without a @p ctor is allowed (it then
 * sees objects whose first two bytes a release overwrote).
 *
 * Slab size: with stride the rounded size, W the bits of a long and
 * H the fixed slab header (56 bytes on 64-bit machines, 36 on 32-bit),
 * a slab of B bytes holds the largest S (at most 65535) with
 *     first(S) + S * stride <= B,
 *     first(S) = round_up(H + ceil(S / W) * W / 8 + (ctor ? 2 * S : 0), align)
 * (header, allocated-bitmap, the constructor's side array of links,
 * padding).  B is the smallest power of two of pages (at least one page)
 * whose whole overhead B - S * stride (header, bitmap, side array,
 * padding and tail) is at most B / 8, trying none past the first that
 * holds 65535 objects.  If none up to the heap's largest owned run (and
 * 1 GiB) is, the smallest whose tail waste B - first(S) - S * stride
 * alone is at most B / 8 (constructor caches of objects of up to 8 bytes,
 * 12 on 32-bit machines, whose links and bits alone exceed the bound);
 * failing that, the largest that holds one object.  docs/caches.md has
 * the layout and the figures.
 * @return the cache, or NULL with errno: EINVAL (unusable heap, size 0 or
 *         too large for a slab of this heap, bad alignment, RTCACHE_ZERO
 *         with a constructor, unknown flag), ENOMEM (no memory for the
 *         cache's descriptor in @p heap: a failed heap allocation, counted
 *         as such), ENOTSUP (no priority-inheritance mutex: only if the
 *         system lost it since the heap was made).  No slab is taken yet.
 * Bound: O(1) plus one heap allocation.
 * Context: not RT (set-up).
 */
rtcache_t *rtcache_create_at(rtheap_t *heap, const char *name, size_t size,
                             size_t align, unsigned flags, rtcache_ctor_fn ctor,
                             rtcache_ctor_fn dtor, const char *file, int line);
#define rtcache_create(heap, name, size, align, flags, ctor, dtor) \
	rtcache_create_at((heap), (name), (size), (align), (flags), (ctor), \
	                  (dtor), __FILE__, __LINE__)

/** The private pointer of a cache (NULL until set): for constructors.
 *  Not locked; a NULL or unusable cache: nothing set / NULL.  Bound: O(1).
 *  Context: any; set it before other threads use the cache. */
void rtcache_set_private(rtcache_t *cache, void *priv);
void *rtcache_private(const rtcache_t *cache);

/**
 * Allocate one object: the one released last, if any (LIFO: it is likely
 * still in the processor's cache), else the next unused one of a partial
 * slab, else a new slab is taken from the heap (constructor run on each
 * of its S objects).  Zeroed with RTCACHE_ZERO.
 * With the heap's RTHEAP_F_DEBUG_FILL and no constructor, the object is
 * filled with 0xA5, and an object released before is first verified to
 * still hold the 0xDD its release wrote (past its first two bytes, the
 * free-list link): a write after release is reported to the heap's error
 * callback (RTHEAP_ERR_USE_AFTER_FREE, the object's address) and counted;
 * the object is handed out anyway.
 * @return the object, or NULL (unusable cache, or the heap has no run for
 *         a new slab: counted in the cache's failures and the heap's
 *         failed allocations, the heap's low-memory callback runs, while
 *         the cache's lock is held: that callback must not call this
 *         cache).
 * Bound: O(1) without a new slab; with one, one rt heap allocation
 *        (rtheap_alloc_aligned()'s bound) plus S constructor calls.
 *        No loop otherwise (RTCACHE_ZERO and debug fill add O(size)).
 * Context: RT-safe (with a constructor, as RT-safe as the constructor).
 */
void *rtcache_alloc(rtcache_t *cache);
/** rtcache_alloc() without taking the cache's lock: for a cache used by
 *  one thread only.  Same results and bound; the fast path is a few tens
 *  of instructions (docs/caches.md).  Context: RT-safe, from the one
 *  thread that uses the cache (or with the caller's own serialisation). */
void *rtcache_alloc_nolock(rtcache_t *cache);

/**
 * rtcache_alloc() for a caller that may wait for memory (the kernel's
 * GFP_KERNEL, rtheap/compat/slab.h).  When the cache has no object and
 * the heap no run for a new slab, and the cache lives on the process
 * default heap (rtheap/default.h), that heap is grown synchronously
 * (rtheap_default_grow(), by enough for one slab whatever the alignment)
 * and the allocation is tried once more.  On any other heap this is
 * rtcache_alloc(): there is nothing to wait for.
 * @return the object, or NULL (as rtcache_alloc(); also when the default
 *         heap cannot grow, or another thread took the new memory first).
 *         The first failed attempt is counted as rtcache_alloc() counts
 *         it.
 * Bound: rtcache_alloc()'s, plus, when the default heap is short, one
 *        rtheap_default_grow() (mmap, mlock, prefaulting) and one more
 *        rtcache_alloc().
 * Context: not RT (it may map memory and wait for the default heap's
 *          helper thread); RT code uses rtcache_alloc().
 */
void *rtcache_alloc_wait(rtcache_t *cache);

/**
 * Release one object of @p cache.  The next allocation returns it.  When
 * its slab becomes empty the slab is kept, unless the cache already keeps
 * its quota of empty slabs (rtcache_set_keep()): then one empty slab goes
 * back to the heap (destructor run on each of its objects).
 * @return 0; -EFAULT: @p obj is outside the heap; -EINVAL: not an object
 *         of this cache (a heap block, free memory, an interior pointer, an
 *         object of another cache) or an unusable cache; -EALREADY: the
 *         object is already free (double release, or an object of a slab
 *         of this cache that was never handed out, or dropped by
 *         rtcache_clear()).  Every error changes
 *         nothing and is reported to the heap's error callback
 *         (RTHEAP_ERR_FOREIGN, RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE)
 *         and counted in the heap's errors.  NULL: 0, nothing done.
 * Bound: O(log E) slab lookup (the heap's page map, under the heap lock),
 *        then O(1); when a slab goes back, one heap release plus S
 *        destructor calls (debug fill adds O(size)).
 * Context: RT-safe.
 */
int rtcache_free(rtcache_t *cache, void *obj);
/** rtcache_free() without the cache's lock: same results and bound.
 *  Context: RT-safe, from the one thread that uses the cache. */
int rtcache_free_nolock(rtcache_t *cache, void *obj);

/**
 * Release every object at once; the slabs are kept for reuse (no
 * destructor runs: with a constructor, the program must leave objects in
 * their constructed state, as before a release).  No slab goes back to
 * the heap, whatever rtcache_set_keep() says: rtcache_shrink() does that.
 * @return 0 or -EINVAL (unusable cache).
 * Bound: O(number of slabs x S / W) (each slab's bitmap is cleared; W the
 *        bits of a long); with a memory checker, plus O(live objects).
 * Context: not RT (maintenance); takes the cache's lock.
 */
int rtcache_clear(rtcache_t *cache);

/**
 * Call @p fn(obj, arg) on every live object (order undefined) until it
 * returns non-zero.  The cache must not change meanwhile: the walk holds
 * the cache's lock (other threads' calls wait), and the callback must not
 * call the cache (it would deadlock, or change the lists walked).
 * @return 0, the callback's non-zero value, or -EINVAL (unusable cache,
 *         NULL @p fn).
 * Bound: O(number of slabs x S).  Context: not RT.
 */
int rtcache_enumerate(rtcache_t *cache, int (*fn)(void *obj, void *arg), void *arg);

/**
 * Give every empty slab back to the heap (destructor run on their
 * objects).  @return the number of bytes given back, or -EINVAL.
 * Bound: O(empty slabs x S).  Context: not RT.
 */
long rtcache_shrink(rtcache_t *cache);

/** How many empty slabs a release keeps before it gives one back to the
 *  heap (default 1): the hysteresis that keeps an alloc/free pair at a
 *  slab boundary from calling the heap each time.  A release that leaves
 *  more than @p nslabs empty slabs gives the oldest empty one back.
 *  Setting it gives nothing back by itself.  0 or -EINVAL.  O(1).
 *  Context: any (takes the cache's lock). */
int rtcache_set_keep(rtcache_t *cache, unsigned nslabs);

/**
 * Destroy the cache: every slab back to the heap (destructor run), the
 * descriptor freed.  @return 0; -EBUSY: objects are still allocated
 * (nothing changes; rtcache_clear() first to drop them); -EINVAL.
 * Bound: O(slabs x S).  Context: not RT.
 */
int rtcache_destroy(rtcache_t *cache);

/** Statistics of one cache (a snapshot under its lock). */
struct rtcache_stats {
	const char *name;
	const char *file;          /**< creator's file and line */
	int line;
	size_t obj_size;           /**< size requested at creation */
	size_t stride;             /**< bytes between objects (rounded size) */
	size_t align;
	size_t objs_per_slab;      /**< S */
	size_t pages_per_slab;
	size_t slab_bytes;
	size_t active_objs, total_objs;
	size_t active_slabs, total_slabs; /**< active: holds a live object */
	size_t empty_slabs;
	size_t allocs, frees, failures;
	size_t overhead_bytes;     /**< slab headers and bitmaps, all slabs */
};
/** 0 or -EINVAL.  Bound O(1).  Context: any (takes the cache's lock). */
int rtcache_get_stats(rtcache_t *cache, struct rtcache_stats *st);

/**
 * A slabinfo-style report of every cache of @p heap to @p out: one header
 * line (starting with '#', naming the columns), then one line per cache:
 *   name active_objs num_objs objsize objperslab pagesperslab
 *     : slabdata active_slabs num_slabs empty_slabs
 *     : stats allocs frees failures : created file:line
 * @return 0 or -EINVAL (unusable heap, NULL @p out).
 * Bound: O(caches) plus the stream's output.
 * No cache may be created or destroyed meanwhile.  Context: not RT.
 */
int rtheap_slabinfo(rtheap_t *heap, FILE *out);

/* rtheap_dump() (rtheap.h) lists every cache too; verbose, with one line
 * per slab (address, objects in use / S, the cache's creator file:line).
 * rtheap_check() checks every cache: each slab an owned run of the slab
 * size, its header, bitmap and free list against its counts, the lists
 * against the cache's counters (O(slabs x S)). */


#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_CACHE_H */
