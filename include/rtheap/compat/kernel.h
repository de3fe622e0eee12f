/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/kernel.h -- the kernel's general allocation calls
 * (kmalloc, kzalloc, kfree), its page allocator (__get_free_pages,
 * get_zeroed_page, free_pages, get_order) and its per-CPU data
 * (rtheap/compat/kernel_percpu.h, included), as the device-driver textbook
 * shows them, over the native layer rtheap/kmem.h on the process default
 * heap (rtheap/default.h: no set-up call, grows on demand).
 *
 * Code written for those calls compiles against this header unchanged:
 * kmalloc(size, flags) with the GFP_* flags (rtheap/compat/gfp.h: ints,
 * and gfp_t), kfree(const void *), page addresses as unsigned long,
 * free_pages(addr, order), PAGE_SIZE.  Every call is one native call
 * (plus the kernel's own conventions: kmalloc(0), kfree(NULL),
 * free_pages(0, order)), so bounds, contexts and errors are the native
 * ones, stated per call.
 *
 * Flags:
 *  - GFP_ATOMIC never waits: NULL (or 0) at once when no memory is free.
 *    The real-time calls are kmalloc / kzalloc / __get_free_pages /
 *    get_zeroed_page with GFP_ATOMIC, kfree and free_pages.
 *  - GFP_KERNEL (GFP_NOIO, GFP_NOFS) may wait: the default heap is grown
 *    (synchronously) and the caller sleeps until a release through kfree
 *    or free_pages, at most the layer's wait timeout
 *    (rtkmem_set_wait_timeout(), 1 s by default), then fails.  Not for
 *    a real-time thread.
 *  - __GFP_ZERO: zero-filled memory.
 *
 * Differences from the kernel:
 *  - GFP_KERNEL gives up after the wait timeout (the kernel retries small
 *    requests almost forever, and may invoke the OOM killer);
 *  - a bad release (kfree of a pointer that is not a live block, a wrong
 *    order, an interior, foreign or released address in free_pages) is
 *    caught, changes nothing and is reported to the default heap's error
 *    callback (rtheap_set_error_handler(rtheap_default(), ...)), where the
 *    kernel would corrupt memory or BUG();
 *  - the page calls hand out heap memory of the layer's 4096-byte pages,
 *    not physical page frames: there is no struct page, so alloc_pages()
 *    and __free_pages() are not offered, and the DMA / highmem zones do
 *    not exist (no __GFP_DMA, __GFP_HIGHMEM);
 *  - the largest order is the default heap's (rtkmem_max_order()), not
 *    MAX_ORDER; the blocks come from the heap's extents, so a large order
 *    may need the heap to grow first (GFP_KERNEL does that);
 *  - kmalloc'ed memory is aligned to min(rounded size, 256 bytes), at
 *    least 16 (the heap's rule; docs/kmem.md): ARCH_KMALLOC_MINALIGN
 *    is 16.
 */
#ifndef RTHEAP_COMPAT_KERNEL_H
#define RTHEAP_COMPAT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "rtheap/compat/gfp.h"
#include "rtheap/default.h"
#include "rtheap/kmem.h"
/* Per-CPU data (alloc_percpu, per_cpu_ptr, get_cpu_ptr / put_cpu_ptr,
 * free_percpu, for_each_possible_cpu): its own header, also usable alone. */
#include "rtheap/compat/kernel_percpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Pages                                                               */
/* ------------------------------------------------------------------ */

/** The page of the page calls: 4096 bytes (RTKMEM_PAGE_SIZE).  A
 *  definition made before this header must have that value. */
#ifndef PAGE_SHIFT
#define PAGE_SHIFT 12
#endif
#ifndef PAGE_SIZE
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#endif
#ifndef PAGE_MASK
#define PAGE_MASK (~(PAGE_SIZE - 1))
#endif
#ifdef __cplusplus
static_assert((PAGE_SIZE) == RTKMEM_PAGE_SIZE, "PAGE_SIZE is the layer's page");
#else
_Static_assert((PAGE_SIZE) == RTKMEM_PAGE_SIZE, "PAGE_SIZE is the layer's page");
#endif

/** The smallest alignment of kmalloc's blocks (RTHEAP_MIN_BLOCK). */
#define ARCH_KMALLOC_MINALIGN 16

/**
 * The smallest order whose block holds @p size bytes (rtkmem_get_order()):
 * get_order(1) .. get_order(PAGE_SIZE) is 0, get_order(PAGE_SIZE + 1) is
 * 1.  get_order(0) is undefined in the kernel; here it is, as there, the
 * order of the whole address space (no block of it can be had).
 * Bound: O(1).  Context: any.
 */
static inline int get_order(unsigned long size)
{
	return (int)rtkmem_get_order((size_t)size);
}

/**
 * 2^@p order contiguous pages aligned to their own size, from the default
 * heap (rtkmem_pages_alloc()); __GFP_ZERO zero-fills them.
 * @return their address, or 0: no memory (GFP_ATOMIC at once, GFP_KERNEL
 *         after the wait timeout), an order above rtkmem_max_order(), an
 *         unknown flag, no default heap.
 * Bound: GFP_ATOMIC: rtheap_alloc_aligned()'s, O(1) (plus the zero fill).
 *        GFP_KERNEL: by the wait timeout.
 * Context: GFP_ATOMIC: RT-safe once the default heap exists.  GFP_KERNEL:
 *          not RT.
 */
static inline unsigned long __get_free_pages(gfp_t gfp_mask, unsigned int order)
{
	return (unsigned long)(uintptr_t)rtkmem_pages_alloc(rtheap_default(), order,
	                                                    (unsigned)gfp_mask);
}

/** __get_free_pages(@p gfp_mask, 0). */
#define __get_free_page(gfp_mask) __get_free_pages((gfp_mask), 0)

/** One zero-filled page: __get_free_pages(@p gfp_mask | __GFP_ZERO, 0). */
static inline unsigned long get_zeroed_page(gfp_t gfp_mask)
{
	return __get_free_pages(gfp_mask | (gfp_t)__GFP_ZERO, 0);
}

/**
 * Release the block at @p addr allocated with @p order
 * (rtkmem_pages_free()); 0 does nothing.  A wrong order, an address that
 * is not the start of a live page block (interior, foreign, released
 * already, a kmalloc block) changes nothing and is reported to the
 * default heap's error callback.
 * Bound: O(log E) lookup, then as rtheap_free().  Context: RT-safe.
 */
static inline void free_pages(unsigned long addr, unsigned int order)
{
	if (addr)
		(void)rtkmem_pages_free(rtheap_default(), (void *)(uintptr_t)addr, order);
}

/** free_pages(@p addr, 0). */
#define free_page(addr) free_pages((addr), 0)

/* ------------------------------------------------------------------ */
/* General allocation                                                  */
/* ------------------------------------------------------------------ */

/** What kmalloc(0) returns, as in the kernel: not NULL, not memory;
 *  kfree() accepts it and does nothing. */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((uintptr_t)(const void *)(x) <= (uintptr_t)ZERO_SIZE_PTR)

/**
 * At least @p size bytes from the default heap (rtkmem_alloc()).
 * @p flags: GFP_ATOMIC, GFP_KERNEL (or GFP_NOIO, GFP_NOFS), | __GFP_ZERO.
 * @return the block; ZERO_SIZE_PTR for @p size 0; NULL: no memory
 *         (GFP_ATOMIC at once, GFP_KERNEL after the wait timeout), an
 *         unknown flag, no default heap.
 * Bound: GFP_ATOMIC: rtheap_alloc()'s, O(1) (plus the zero fill).
 *        GFP_KERNEL: by the wait timeout.
 * Context: GFP_ATOMIC: RT-safe once the default heap exists.
 *          GFP_KERNEL: not RT.
 */
static inline void *kmalloc(size_t size, gfp_t flags)
{
	if (!size)
		return ZERO_SIZE_PTR;
	return rtkmem_alloc(rtheap_default(), size, (unsigned)flags);
}

/** kmalloc(@p size, @p flags | __GFP_ZERO). */
static inline void *kzalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags | (gfp_t)__GFP_ZERO);
}

/** kmalloc of @p n elements of @p size bytes; NULL when n * size
 *  overflows. */
static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kmalloc(n * size, flags);
}

/** kmalloc_array(@p n, @p size, @p flags | __GFP_ZERO). */
static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags | (gfp_t)__GFP_ZERO);
}

/**
 * Release a block of kmalloc (rtkmem_free()).  NULL and ZERO_SIZE_PTR do
 * nothing.  A pointer that is not a live block of the default heap (a
 * double release, an interior or foreign pointer, a page block) changes
 * nothing and is reported to the default heap's error callback.
 * Bound: rtheap_free()'s, O(log E).  Context: RT-safe.
 */
static inline void kfree(const void *objp)
{
	if (!ZERO_OR_NULL_PTR(objp))
		(void)rtkmem_free(rtheap_default(), (void *)(uintptr_t)objp);
}

/** The usable size of a kmalloc block (rtheap_usable_size()): at least
 *  what was asked; 0 for NULL, ZERO_SIZE_PTR or a pointer that is not a
 *  live block.  Bound: O(log E).  Context: RT-safe. */
static inline size_t ksize(const void *objp)
{
	if (ZERO_OR_NULL_PTR(objp))
		return 0;
	return rtheap_usable_size(rtheap_default(), objp);
}

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_KERNEL_H */
