/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/mi_mem.h -- the block arenas of a renderer's memory
 * manager (miMemblk, mi_mem_blk*) over rtheap's object caches.
 *
 * Code written for those calls compiles against this header unchanged.
 * An arena is an object cache of rtheap/cache.h (miMemblk is rtcache_t),
 * created with RTCACHE_ZERO and no constructor; every call below maps the
 * original's names and arguments onto one or two native calls and adds
 * nothing of its own, so bounds, contexts and errors are the native ones
 * (rtheap/cache.h), as stated per call.
 *
 * Behaviour kept from the original:
 *  - every block of an arena has one size, rounded up to a multiple of
 *    the pointer size; no header per block; bookkeeping is one slab
 *    header and bitmap per slab (docs/caches.md gives the formula);
 *  - an allocated block is zeroed;
 *  - the next allocation returns the block released last (LIFO);
 *  - mi_mem_blkclear() releases every block at once and keeps the pages;
 *  - mi_mem_blkenumerate() visits every live block, in no set order;
 *  - mi_mem_dump() and mi_mem_summary() list every arena, and with the
 *    dump every page (slab), tagged with the creator's file and line.
 *
 * Differences:
 *  - no size cap: the original refuses blocks above 8 KiB, here a block
 *    may be as large as a slab of the heap can hold (rtcache_create());
 *  - failures are answers, not aborts: creating an arena, or allocating a
 *    block when the heap has no room for a new slab, returns NULL;
 *  - misuse is caught: releasing a pointer that is not a live block of
 *    the arena (foreign, interior, of another arena, released already)
 *    changes nothing and is reported to the heap's error callback
 *    (rtheap_set_error_handler()) and counted in its statistics; the
 *    call still returns nothing, as the original does.
 *
 * The heap.  The original calls take no heap argument, so the arenas are
 * created on a "current heap" of this interface: the heap last given to
 * mi_mem_set_heap(), or the process default heap (rtheap/default.h) when
 * none was given.  This pointer is the one piece of global state of the
 * interface, forced by its signatures; it is read when an arena is
 * created and by the listings, and an arena stays on the heap it was
 * created on.  Several heaps can be used by switching the current heap
 * between creations; rtheap_dump() lists the arenas of any heap.
 *
 * Real-time paths: mi_mem_blkallocate(), mi_mem_blkfallocate() and
 * mi_mem_blkrelease() (each RT-safe, O(1) without a new slab).  Creation,
 * deletion, clear, enumeration and the listings are for set-up and
 * maintenance code.
 */
#ifndef RTHEAP_COMPAT_MI_MEM_H
#define RTHEAP_COMPAT_MI_MEM_H

#include <stddef.h>
#include <stdio.h>

#include "rtheap/cache.h"
#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A block arena: an object cache of zeroed blocks. */
typedef rtcache_t miMemblk;

/**
 * Make @p heap the heap of the arenas created from now on (and of the
 * listings); NULL returns to the process default heap.  Arenas created
 * before stay where they are.
 * Bound: O(1) (an atomic store).  Context: any thread; usually once at
 * set-up.
 */
void mi_mem_set_heap(rtheap_t *heap);

/**
 * The current heap of this interface: the one given to mi_mem_set_heap(),
 * else rtheap_default() (created by this call if it does not exist yet;
 * NULL if it cannot be created).
 * Bound: O(1) once the default heap exists.  Context: any thread.
 */
rtheap_t *mi_mem_get_heap(void);

/**
 * Create an arena of blocks of @p bsize bytes on the current heap,
 * recording @p file and @p line for the listings (use mi_mem_blkcreate(),
 * which passes the caller's).  rtcache_create_at() with RTCACHE_ZERO, no
 * constructor, the name "miMemblk".  @p bsize is rounded up to a multiple
 * of the pointer size; there is no 8 KiB cap.
 * @return the arena, or NULL: @p bsize 0 or negative, or too large for a
 *         slab of the heap; no memory for the arena's descriptor; no
 *         current heap (errno as rtcache_create_at()).
 * Bound: O(1) plus one heap allocation.  Context: not RT (set-up).
 */
static inline miMemblk *mi_mem_int_blkcreate(int bsize, const char *file, int line)
{
	return rtcache_create_at(mi_mem_get_heap(), "miMemblk",
	                         bsize > 0 ? (size_t)bsize : (size_t)0, 0,
	                         RTCACHE_ZERO, NULL, NULL, file, line);
}
/** Create an arena of blocks of @p bsize bytes, tagged with the caller's
 *  file and line. */
#define mi_mem_blkcreate(bsize) mi_mem_int_blkcreate((bsize), __FILE__, __LINE__)

/**
 * Delete an arena and all its blocks: rtcache_clear() then
 * rtcache_destroy(); every slab goes back to the heap.  NULL or an
 * unusable arena: nothing happens.
 * Bound: O(slabs x S).  Context: not RT.
 */
static inline void mi_mem_blkdelete(miMemblk *mb)
{
	(void)rtcache_clear(mb);
	(void)rtcache_destroy(mb);
}

/**
 * Allocate one zeroed block (rtcache_alloc(): the arena's lock is taken).
 * @return the block, or NULL (no room for a new slab in the heap, counted
 *         there as a failed allocation; or an unusable arena).
 * Bound: O(1) plus the zeroing; with a new slab, one heap allocation.
 * Context: RT-safe.
 */
static inline void *mi_mem_blkallocate(miMemblk *mb)
{
	return rtcache_alloc(mb);
}

/**
 * The fast variant of mi_mem_blkallocate() for an arena used by one
 * thread only: rtcache_alloc_nolock(), no lock taken.  Same answers.
 * Bound, context: as mi_mem_blkallocate(), with no other thread calling
 * the arena meanwhile.
 */
static inline void *mi_mem_blkfallocate(miMemblk *mb)
{
	return rtcache_alloc_nolock(mb);
}

/**
 * Release one block (rtcache_free()); the next allocation returns it.
 * NULL: nothing happens.  A pointer that is not a live block of @p mb
 * changes nothing and is reported to the heap's error callback
 * (RTHEAP_ERR_FOREIGN, RTHEAP_ERR_NOT_BLOCK or RTHEAP_ERR_DOUBLE_FREE) and
 * counted in its errors.
 * Bound: O(log E) slab lookup, then O(1).  Context: RT-safe.
 */
static inline void mi_mem_blkrelease(miMemblk *mb, void *blk)
{
	(void)rtcache_free(mb, blk);
}

/**
 * Release every block of the arena at once, keeping its pages for the
 * next allocations (rtcache_clear()).  NULL: nothing happens.
 * Bound: O(slabs x S / W).  Context: not RT.
 */
static inline void mi_mem_blkclear(miMemblk *mb)
{
	(void)rtcache_clear(mb);
}

/* rtcache_enumerate()'s callback returns int, the original's returns
 * nothing: this passes each block on and always continues. */
struct mi_mem_enum_arg_ {
	void (*cb)(void *blk, void *arg);
	void *arg;
};
static inline int mi_mem_enum_call_(void *blk, void *arg)
{
	const struct mi_mem_enum_arg_ *e = (const struct mi_mem_enum_arg_ *)arg;
	e->cb(blk, e->arg);
	return 0;
}

/**
 * Call @p cb(blk, @p arg) once for every live block of the arena, in no
 * set order (rtcache_enumerate()).  The arena must not change meanwhile:
 * no allocation or release by any thread, and @p cb must not call the
 * arena.  NULL arena or NULL @p cb: nothing happens.
 * Bound: O(slabs x S).  Context: not RT.
 */
static inline void mi_mem_blkenumerate(miMemblk *mb, void (*cb)(void *blk, void *arg),
                                       void *arg)
{
	struct mi_mem_enum_arg_ e;
	e.cb = cb;
	e.arg = arg;
	(void)rtcache_enumerate(mb, cb ? mi_mem_enum_call_ : NULL, &e);
}

/**
 * The dump listing: rtheap_dump(current heap, @p out, 1): the heap, its
 * extents, every arena (and other layer object) with its creator's
 * file:line, and one line per slab tagged with it too.  @p out NULL:
 * stderr.
 * Bound: O(extents + layer objects + slabs).  Context: not RT; no arena
 * may be created or deleted meanwhile.
 */
static inline void mi_mem_dump(FILE *out)
{
	(void)rtheap_dump(mi_mem_get_heap(), out ? out : stderr, 1);
}

/**
 * The summary listing: rtheap_dump(current heap, @p out, 0): the heap,
 * its extents and one line per arena with its creator's file:line.
 * @p out NULL: stderr.  Bound, context: as mi_mem_dump().
 */
static inline void mi_mem_summary(FILE *out)
{
	(void)rtheap_dump(mi_mem_get_heap(), out ? out : stderr, 0);
}

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_MI_MEM_H */
