/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/mp.h -- the per-connection memory pool of the well-known
 * server example (mp_create_pool, mp_malloc, mp_calloc, mp_free,
 * mp_reset_pool, mp_destroy_pool, monitor_mp_poll) over rtheap's region
 * pools (rtheap/region.h), on the process default heap
 * (rtheap/default.h): no set-up call.
 *
 * Code written for those calls compiles against this header unchanged:
 * the names, the struct tags (struct mp_pool_s, struct mp_node_s, struct
 * mp_large_s) and the argument forms are the original's.  The structs are
 * incomplete types here: a program that reads the original's fields
 * (head, current, large, last, end, quote, failed) must use
 * rtregion_get_stats() or monitor_mp_poll() instead.  A struct mp_pool_s *
 * is an rtregion_t *, so the native calls work on it too.
 *
 * Each call is one native call:
 *  - mp_create_pool(size): the original's block size: size, unless it is
 *    below 4096 or not a multiple of 4096, then 4096; a size that is not a
 *    power of two is rounded up to one (blocks are runs aligned to their
 *    size).  The pool grows the default heap when it runs out
 *    (RTREGION_GROW), as malloc would.  NULL when no memory.
 *  - mp_malloc / mp_calloc(pool, size): 16-byte aligned; NULL for size 0
 *    or no memory.  mp_calloc zeroes (it takes one size, as the original).
 *  - mp_free(pool, p): releases one allocation.  Where the original
 *    ignores a pointer it does not know, every bad release is caught,
 *    changes nothing and is reported to the default heap's error callback
 *    (rtheap_set_error_handler(rtheap_default(), ...)) and counted.
 *  - mp_reset_pool(pool): everything gone, blocks kept.
 *  - monitor_mp_poll(pool, tk): the monitor printout on stdout (per block:
 *    used / free / live count / failures, then the large allocations).
 *
 * Differences from the original: release finds the block of an
 * allocation in O(log E) (no walk of the block chain or the large list);
 * a block is retired from bumping at its first failure (the original
 * skips a block after four) and every block whose live count is zero is
 * reused; the pool descriptor lives in the heap, not in the first block.
 *
 * Real-time paths: mp_malloc, mp_calloc and mp_free while the default
 * heap has memory (when it runs out they grow it: not RT).  Creation,
 * reset, destruction and the monitor are not real-time calls.
 */
#ifndef RTHEAP_COMPAT_MP_H
#define RTHEAP_COMPAT_MP_H

#include <stddef.h>
#include <stdio.h>

#include "rtheap/default.h"
#include "rtheap/region.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The original's block size and alignment. */
#define MP_PAGE_SIZE 4096
#define MP_ALIGNMENT 16

struct mp_pool_s;
struct mp_node_s;
struct mp_large_s;

static inline rtregion_t *mp_region_(struct mp_pool_s *pool)
{
	return (rtregion_t *)(void *)pool;
}

/** A pool of blocks of @p size bytes (see the top).  Bound, errors:
 *  rtregion_create().  Context: not RT. */
static inline struct mp_pool_s *mp_create_pool(size_t size)
{
	size_t block = (size < MP_PAGE_SIZE || size % MP_PAGE_SIZE) ? 0 : size;
	return (struct mp_pool_s *)(void *)rtregion_create_at(NULL, block, RTREGION_GROW,
	                                                      "mp_create_pool", 0);
}

/** Everything back to the heap.  Context: not RT. */
static inline void mp_destroy_pool(struct mp_pool_s *pool)
{
	(void)rtregion_destroy(mp_region_(pool));
}

/** rtregion_alloc().  Context: RT-safe while the heap has memory. */
static inline void *mp_malloc(struct mp_pool_s *pool, size_t size)
{
	return rtregion_alloc(mp_region_(pool), size);
}

/** rtregion_calloc(pool, 1, size). */
static inline void *mp_calloc(struct mp_pool_s *pool, size_t size)
{
	return rtregion_calloc(mp_region_(pool), 1, size);
}

/** rtregion_free(): a bad release is reported, not returned. */
static inline void mp_free(struct mp_pool_s *pool, void *p)
{
	(void)rtregion_free(mp_region_(pool), p);
}

/** rtregion_reset(). */
static inline void mp_reset_pool(struct mp_pool_s *pool)
{
	(void)rtregion_reset(mp_region_(pool));
}

/** rtregion_monitor(pool, stdout, tk).  Context: not RT. */
static inline void monitor_mp_poll(struct mp_pool_s *pool, char *tk)
{
	(void)rtregion_monitor(mp_region_(pool), stdout, tk);
}

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_MP_H */
