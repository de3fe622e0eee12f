/* SPDX-License-Identifier: MIT */
/*
 * rtheap/region.h -- region pools on a heap: one pool per connection or
 * request, many per process.  Small requests are carved from the pool's
 * current block by bumping a pointer (16-byte aligned); blocks are owned
 * runs of the heap, aligned to their own size; each block counts its live
 * allocations and becomes reusable when the count drops to zero; large
 * requests get a heap block of their own.  Reset drops everything and
 * keeps the blocks; destroy gives everything back.  docs/region.md has the
 * design, the layout and the figures.
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context";
 * a call that reports an error changes nothing).  B is the pool's block
 * size, E the heap's extents.  A "small" request is one of at most
 * rtregion_stats.small_max bytes (B minus the block header); a "large"
 * request is any bigger one.
 *
 * Real-time paths: rtregion_alloc(), rtregion_calloc() (plus the zeroing)
 * and rtregion_free().  Create, reset, destroy, the monitor and the
 * statistics are for set-up and maintenance code (reset is bounded by the
 * number of blocks and large allocations: it may be called between two
 * requests of a real-time loop if that number is bounded).
 *
 * Debug fill: on a heap with RTHEAP_F_DEBUG_FILL, a fresh small
 * allocation holds 0xA5 (its padding to 16 bytes too), a released one,
 * a block's free room and everything a reset drops 0xDD; a write after
 * release is found when its block is rewound (an allocation that moves
 * to it), reset, given back by rtregion_shrink() or destroyed, and
 * reported as RTHEAP_ERR_USE_AFTER_FREE (one report per call: the start
 * of the released allocation written, or the byte itself past the
 * block's bump offset), the call going on as usual.  It costs O(B) per
 * block so treated and O(allocation) per release (not for real-time
 * use); such a pool never takes the bump path's shortcut.  Large
 * allocations are heap blocks: the heap fills and checks them itself.
 *
 * Locking: a pool is meant for one thread (one connection, one request):
 * by default it has no lock at all, and the caller serialises.  With
 * RTREGION_LOCKED the pool has its own lock of the heap's lock mode (a
 * priority-inheritance mutex, a spin lock or none); the heap's lock is
 * taken inside it (order pool -> heap).
 */
#ifndef RTHEAP_REGION_H
#define RTHEAP_REGION_H

#include <stddef.h>
#include <stdio.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A region pool (opaque; its descriptor is allocated from its heap). */
typedef struct rtregion rtregion_t;

/** Block size of a pool created with block size 0 (the original's). */
#define RTREGION_BLOCK_DEFAULT 4096u
/** Alignment of every allocation of a pool. */
#define RTREGION_ALIGN 16u
/** Largest block size accepted (the heap's largest owned run may be less). */
#define RTREGION_BLOCK_MAX ((size_t)1 << 30)

/** Flags of rtregion_create(). */
enum rtregion_flags {
	/** The pool has a lock of its heap's lock mode: several threads may
	 *  use it.  Without it the pool is unlocked (one thread). */
	RTREGION_LOCKED = 1u << 0,
	/** On the process default heap (rtheap/default.h): when no block,
	 *  large allocation or (at creation) descriptor can be had, grow that
	 *  heap synchronously and try once more, as malloc would.  Makes allocation not RT-safe when
	 *  memory runs out; ignored on any other heap. */
	RTREGION_GROW = 1u << 1,
};

/**
 * Create a pool on @p heap (NULL: the process default heap,
 * rtheap_default()), recording the caller's file and line (use the
 * rtregion_create() macro).  The pool takes its first block at once.
 * @p block_size: 0 for RTREGION_BLOCK_DEFAULT; otherwise rounded up to a
 * power of two of at least the heap's page size and at least 1024 bytes.
 * @return the pool, or NULL with errno: EINVAL (unusable heap, unknown
 *         flag, block size above RTREGION_BLOCK_MAX or the heap's largest
 *         owned run), ENOMEM (no memory for the descriptor or the first
 *         block: a failed heap allocation, counted as such), ENOTSUP (no
 *         priority-inheritance mutex).
 * Bound: O(1) plus two heap allocations (and the default heap's creation
 *        on its first use).  Context: not RT (set-up).
 */
rtregion_t *rtregion_create_at(rtheap_t *heap, size_t block_size, unsigned flags,
                               const char *file, int line);
#define rtregion_create(heap, block_size, flags) \
	rtregion_create_at((heap), (block_size), (flags), __FILE__, __LINE__)

/**
 * Allocate @p size bytes, 16-byte aligned, contents undefined.  A small
 * request bumps the current block's pointer; when it does not fit, the
 * current block's failure count grows and the pool moves to a reusable
 * block (one whose live count dropped to zero, taken from a list in
 * O(1); the current block itself when its count is zero) or to a new
 * block from the heap.  A large request is a heap block of its own,
 * @p size plus a header of RTREGION_LARGE_HDR bytes.
 * @return the allocation, or NULL with errno: EINVAL (size 0, unusable
 *         pool), ENOMEM (no memory in the heap, or @p size beyond any
 *         block the heap could give: counted in the pool's failures and
 *         the heap's failed allocations).
 * Bound: O(1) on the bump path (a few tens of instructions unlocked,
 *        docs/region.md); moving to a reusable block adds clearing its
 *        two bitmaps (B / 512 words); a new block or a large request adds
 *        one heap allocation (rtheap_alloc_aligned()'s / rtheap_alloc()'s
 *        bound).  With RTREGION_GROW on the default heap, when memory
 *        runs out: one rtheap_default_grow() (not RT).  With
 *        RTHEAP_F_DEBUG_FILL: plus the fill (O(size)) and, at a block
 *        switch, the block's verification (O(B)).
 * Context: RT-safe (without RTREGION_GROW, or while memory lasts).
 */
void *rtregion_alloc(rtregion_t *pool, size_t size);

/**
 * rtregion_alloc(pool, n * size), zeroed.
 * @return as rtregion_alloc(); NULL with errno ENOMEM also when n * size
 *         overflows (nothing allocated, nothing counted), EINVAL when it
 *         is 0.
 * Bound: rtregion_alloc()'s plus the zeroing (O(n * size)).
 * Context: RT-safe, as rtregion_alloc().
 */
void *rtregion_calloc(rtregion_t *pool, size_t n, size_t size);

/**
 * Release one allocation of @p pool.  A small allocation lowers its
 * block's live count; a block whose count drops to zero becomes reusable
 * at once (the current block is rewound when it next runs out of room).
 * A large allocation goes back to the heap.
 * @return 0 (also for NULL: nothing done); -EFAULT: @p p is outside the
 *         heap; -EINVAL: not an allocation of this pool (a heap block,
 *         another pool's allocation, an interior pointer, memory never
 *         handed out, a large allocation already released), or an
 *         unusable pool; -EALREADY: a small allocation already released
 *         (double release; detected until its block is reused).  Every
 *         error changes nothing, is reported to the heap's error callback
 *         (RTHEAP_ERR_FOREIGN, RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE)
 *         and counted in the heap's errors and the pool's misuse count.
 * Bound: O(log E): one page-map lookup (rt heap lock) then O(1); a large
 *        allocation: one more O(log E) lookup and one heap release.  No
 *        search of the pool's blocks or large allocations.  With a memory
 *        checker or RTHEAP_F_DEBUG_FILL: plus O(B / 16) to find the
 *        allocation's span and its poisoning or fill.
 * Context: RT-safe.
 */
int rtregion_free(rtregion_t *pool, void *p);

/**
 * Drop every allocation: large ones go back to the heap, blocks are kept
 * (all empty; the oldest becomes current, the others reusable in the
 * order they were first taken, so the pool walks its blocks again as its
 * first request did).
 * @return 0 or -EINVAL (unusable pool).
 * Bound: O(blocks x B / 512 words + large allocations x heap release);
 *        with a memory checker, plus O(live allocations); with
 *        RTHEAP_F_DEBUG_FILL, plus O(blocks x B) (verify and fill).
 * Context: not RT in general; RT-safe when the caller bounds the number
 *          of blocks and large allocations (the request loop's reset).
 */
int rtregion_reset(rtregion_t *pool);

/**
 * Give the reusable blocks (live count zero, not current) beyond @p keep
 * back to the heap, those emptied longest ago first: afterwards the pool
 * holds at most @p keep reusable blocks.  Blocks with live allocations
 * and the current block are never given back (a pool keeps one block).
 * rtregion_shrink(pool, 0) after rtregion_reset() leaves the pool with
 * its oldest block only.
 * @return 0 or -EINVAL (unusable pool).
 * Bound: O(1) plus, per block given back, one heap release (as
 *        rtheap_free(); with RTHEAP_F_DEBUG_FILL, plus O(B) to verify the
 *        block): O(reusable blocks - keep), nothing when there are at
 *        most @p keep.  No walk of the other blocks.
 * Context: RT-safe when the caller bounds the number of blocks given back
 *          (the blocks a request may empty beyond @p keep); not RT in
 *          general.
 */
int rtregion_shrink(rtregion_t *pool, size_t keep);

/**
 * Destroy the pool: every large allocation and every block back to the
 * heap, the descriptor freed, whatever is still allocated.
 * @return 0 or -EINVAL (unusable pool).
 * Bound: as rtregion_reset(), plus one heap release per block.
 * Context: not RT.
 */
int rtregion_destroy(rtregion_t *pool);

/** Bytes of the header in front of every large allocation (multiple of 16). */
#define RTREGION_LARGE_HDR 48u

/** Statistics of one pool (a snapshot under its lock). */
struct rtregion_stats {
	size_t block_size;      /**< B */
	size_t block_header;    /**< bytes of each block before its first allocation */
	size_t small_max;       /**< largest small request: B - block_header */
	size_t blocks;          /**< blocks held */
	size_t reusable_blocks; /**< blocks with no live allocation, not current */
	size_t live_small;      /**< live small allocations */
	size_t used_bytes;      /**< bytes bumped in every block (live or not) */
	size_t large;           /**< live large allocations */
	size_t large_bytes;     /**< their requested sizes */
	size_t allocs, frees;   /**< successful calls since creation */
	size_t failures;        /**< allocations that returned NULL for memory */
	size_t misuse;          /**< rtregion_free() errors */
	size_t resets;
	const char *file;       /**< creator's file and line */
	int line;
};
/** 0 or -EINVAL.  Bound O(blocks) (used_bytes sums them).  Context: any
 *  (takes the pool's lock). */
int rtregion_get_stats(rtregion_t *pool, struct rtregion_stats *st);

/**
 * Print the pool to @p out: a title line (with @p title, may be NULL),
 * then one line per block: address, used / free bytes, live count,
 * failures (requests it could not serve), "current" for the current
 * block; then one line per large allocation (address, size); a summary
 * last.  @return 0 or -EINVAL (unusable pool, NULL @p out).
 * Bound: O(blocks + large allocations).  Context: not RT.
 */
int rtregion_monitor(rtregion_t *pool, FILE *out, const char *title);

/* rtheap_dump() lists every pool (verbose: with its blocks), and
 * rtheap_check() checks every pool: each block an owned run of the pool's
 * kind and size, its header, bitmaps against its live count, the lists
 * against the counters, each large allocation a live heap block
 * (O(blocks x B / 512 + large allocations x log E)). */

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_REGION_H */
