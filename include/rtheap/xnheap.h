/*
 * Xenomai 2 compatible heap interface over rtheap.
 *
 * Code written for the Xenomai 2 nucleus heap (xnheap_*) compiles and runs
 * unchanged against this header, with these relaxations: extents may have
 * any size (not just the size of the first one, not capped at 16 MiB), and
 * every operation is O(1) (O(log E) to find the extent of a freed block).
 *
 * Return codes follow the native API: -EINVAL for bad arguments or an
 * address inside the heap that is not a live block, -EFAULT for an address
 * outside every extent, -ENOSPC when the extent table is full.
 *
 * Page sizes: every power of two from 8 bytes to 32 KiB is accepted;
 * sizes below RTHEAP_MIN_PAGE (256) are rounded up to it internally, and
 * xnheap_page_size() reports the size in use.  The lock is the native
 * default, a priority-inheritance mutex.  Contexts and bounds are those of
 * the native function each call wraps (see rtheap.h).
 */
#ifndef RTHEAP_XNHEAP_H
#define RTHEAP_XNHEAP_H

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RTHEAP_HAVE_U_LONG
#define RTHEAP_HAVE_U_LONG
/* Same type as the BSD typedef in <sys/types.h>; repeating it is valid. */
typedef unsigned long u_long;
#endif

/** The heap descriptor: a complete type that callers declare themselves. */
typedef struct xnheap {
	rtheap_t rt;          /**< the native heap */
	u_long extentsize;    /**< size of the initial extent, as passed to init */
} xnheap_t;

/** Flush routine of xnheap_destroy(): called once per extent. */
typedef void (*xnheap_flushfn)(xnheap_t *heap, void *extaddr, u_long extsize,
                               void *cookie);

/** Initialise over @p heapaddr (@p heapsize bytes) with @p pagesize pages.
 *  @return 0 or -EINVAL (see rtheap_init(), including its refusal of a
 *  descriptor compiled against another build's headers).  O(1) plus
 *  clearing the map.  An inline wrapper over xnheap_init_abi(). */
static inline int xnheap_init(xnheap_t *heap, void *heapaddr, u_long heapsize,
                              u_long pagesize);

/** The checked entry point behind xnheap_init(): @p desc_size and @p abi are
 *  the caller's sizeof(xnheap_t) and RTHEAP_ABI_VERSION. */
int xnheap_init_abi(xnheap_t *heap, void *heapaddr, u_long heapsize,
                    u_long pagesize, size_t desc_size, unsigned abi);

static inline int xnheap_init(xnheap_t *heap, void *heapaddr, u_long heapsize,
                              u_long pagesize)
{
	return xnheap_init_abi(heap, heapaddr, heapsize, pagesize,
	                       sizeof(xnheap_t), RTHEAP_ABI_VERSION);
}

/** Call @p flushfn once per extent, then invalidate the heap.
 *  @return 0 or -EINVAL.  O(E) plus the callbacks. */
int xnheap_destroy(xnheap_t *heap, xnheap_flushfn flushfn, void *cookie);

/** Allocate @p size bytes; NULL on failure or for size 0.  O(1), RT-safe. */
void *xnheap_alloc(xnheap_t *heap, u_long size);

/** Release a block: 0, -EFAULT (outside the heap) or -EINVAL (not a live
 *  block).  O(log E), RT-safe. */
int xnheap_free(xnheap_t *heap, void *block);

/** Release @p block if @p ckfn(block) returns 0, else return ckfn's value
 *  and keep the block.  O(log E) plus ckfn. */
int xnheap_test_and_free(xnheap_t *heap, void *block, int (*ckfn)(void *block));

/** Add an extent of any size: 0, -EINVAL or -ENOSPC.  See rtheap_extend(). */
int xnheap_extend(xnheap_t *heap, void *extaddr, u_long extsize);

/** 0 if @p block starts a live block, else -EINVAL or -EFAULT.  O(log E). */
int xnheap_check_block(xnheap_t *heap, void *block);

/** Bytes of an extent of @p hsize bytes with page size @p psize taken by
 *  metadata, padding and the unusable tail.  O(1). */
u_long xnheap_overhead(u_long hsize, u_long psize);

/** Bytes available to blocks in all extents.  O(1). */
u_long xnheap_usable_mem(xnheap_t *heap);

/** Bytes held by live blocks (rounded sizes).  O(1). */
u_long xnheap_used_mem(xnheap_t *heap);

/** Size of a free run that an allocation is sure to get (see
 *  rtheap_stats.largest_free).  O(1). */
u_long xnheap_max_contiguous(xnheap_t *heap);

/** Size of the initial extent as passed to xnheap_init().  O(1). */
u_long xnheap_extentsize(xnheap_t *heap);

/** Page size in use (after rounding small sizes up).  O(1). */
u_long xnheap_page_size(xnheap_t *heap);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_XNHEAP_H */
