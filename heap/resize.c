/* SPDX-License-Identifier: MIT */
/*
 * resize.c -- the C-style calls over the heap's own: rtheap_realloc(),
 * rtheap_calloc(), rtheap_aligned_alloc() (rtheap.h).
 *
 * rtheap_realloc() resizes a block where it is whenever it can, under one
 * hold of the heap lock:
 *  - a bucket block keeps its place while the new size fits its class;
 *  - a run block of n pages that needs m <= n pages gives pages
 *    [m, n) back as a free run (merged with a free run after it);
 *  - a run block that needs m > n pages takes the first m - n pages of
 *    the free run that starts right after it, if that run is long enough:
 *    one map read says whether it is (the page after the block heads a
 *    free run, R1 of runs.c), and runs.c cuts the pages off in O(1).
 * Otherwise it allocates, copies and releases with the public calls (the
 * copy is the only cost that depends on the size).  The pointer is checked
 * as rtheap_free() checks it, and a misuse is reported the same way.
 *
 * After heap.c in unity.c: it uses heap.c's static helpers (locate,
 * free_no_block, the lock).
 */
#ifndef RTHEAP_UNITY_BUILD
#error "resize.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <errno.h>
#include <string.h>

/*
 * The live block at ptr: its extent, first page, map entry and size.  A
 * pointer that is not the start of a live block is reported exactly as
 * rtheap_free() reports it (free_locked, rt_page_free, rt_bucket_free),
 * and the same error returned.
 */
RT_HOT int resize_find(struct rt_heap *h, void *ptr, struct rt_extent **xp,
                       uint32_t *pg, uint32_t *e, size_t *bsize)
{
	size_t off;
	int err = locate(h, ptr, xp, pg, &off);
	if (rt_unlikely(err)) {
		rt_report(h, err == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK,
		          ptr);
		return err;
	}
	*e = rt_map_get(*xp, *pg);
	if (PG_TYPE(*e) == PG_RUN) {
		*bsize = (size_t)PG_LEN(*e) << h->pshift;
		if (rt_likely(!off))
			return 0;
		rt_report(h, RTHEAP_ERR_NOT_BLOCK, ptr);
		return -EINVAL;
	}
	if (PG_TYPE(*e) != PG_BUCKET)
		return free_no_block(h, *e, off, ptr);
	*bsize = (size_t)16 << BK_CLS(*e);
	if (rt_likely(rt_bucket_is_live(h, *xp, *pg, *e, off)))
		return 0;
	rt_report(h, (off & (*bsize - 1)) ? RTHEAP_ERR_NOT_BLOCK
	                                  : RTHEAP_ERR_DOUBLE_FREE, ptr);
	return -EINVAL;
}

/*
 * The run block at ptr (first page pg of x) of n pages keeps its first m
 * (0 < m < n): the last n - m go back to the free runs, merged with a
 * free run after them (the block itself lies before them).  -EUCLEAN
 * (reported, nothing changed) if debug mode finds that run's node
 * overwritten, as rtheap_free() would.
 */
RT_HOT int resize_shrink(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                         uint32_t n, uint32_t m, void *ptr, const unsigned ck)
{
	size_t old = (size_t)n << h->pshift, now = (size_t)m << h->pshift;
	if (rt_unlikely(RT_DEBUG(ck, h)) && !rt_debug_release_ok(h, x, pg + m, n - m)) {
		rt_report(h, RTHEAP_ERR_CORRUPT, ptr);
		return -EUCLEAN;
	}
	rt_map_set(x, pg, PG_MAKE(PG_RUN, m));
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_fill((uint8_t *)ptr + now, old - now, RT_FILL_FREED);
	hook_block_resize(ck, ptr, old, now);
	rt_assert(h->pages_run >= n - m && h->used >= old - now,
	          "run page and used byte counts cover the block");
	h->pages_run -= n - m;
	rt_runs_release(h, x, pg + m, n - m, ck);
	h->used -= old - now;
	if (rt_unlikely(h->used < h->lowmem_rearm))
		rt_lowmem_try_arm(h);
	return 0;
}

/*
 * The run block at ptr (first page pg of x) of n pages grows to m > n
 * pages in place if the free run right after it holds m - n pages: 1 if
 * it grew, 0 if that run is missing or short (nothing changed),
 * -EUCLEAN if debug mode finds its node overwritten (reported).
 */
RT_HOT int resize_grow(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                       uint32_t n, uint32_t m, void *ptr, const unsigned ck)
{
	uint32_t end = pg + n;
	if (end >= x->npages)
		return 0;
	uint32_t e = rt_map_get(x, end);
	if (PG_TYPE(e) != PG_FREE || PG_LEN(e) < m - n)
		return 0;
	if (!rt_runs_take_head(h, x, end, PG_LEN(e), m - n, ck))
		return -EUCLEAN;
	size_t old = (size_t)n << h->pshift, now = (size_t)m << h->pshift;
	rt_map_set(x, pg, PG_MAKE(PG_RUN, m));
	h->pages_run += m - n;
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_take(h, x, end, m - n);
	hook_block_resize(ck, ptr, old, now);
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_fill((uint8_t *)ptr + old, now - old, RT_FILL_FRESH);
	h->used += now - old;
	if (h->used > h->peak)
		h->peak = h->used;
	return 1;
}

/*
 * Resize the live block at ptr to size bytes where it is, if it can be:
 * *done says whether it was; *bsize is the block's size (before).  0, or
 * the error of a bad pointer (reported).  Under the lock.
 */
RT_HOT int resize_locked(struct rt_heap *h, void *ptr, size_t size,
                         size_t *bsize, bool *done, const unsigned ck)
{
	struct rt_extent *x;
	uint32_t pg, e;
	int err = resize_find(h, ptr, &x, &pg, &e, bsize);
	*done = false;
	if (rt_unlikely(err))
		return err;
	if (PG_TYPE(e) == PG_BUCKET || size > h->max_request) {
		*done = size <= *bsize; /* the class still fits */
		return 0;
	}
	uint32_t n = PG_LEN(e), m = (uint32_t)((size + h->page - 1) >> h->pshift);
	if (m < n)
		err = resize_shrink(h, x, pg, n, m, ptr, ck);
	else if (m > n)
		err = resize_grow(h, x, pg, n, m, ptr, ck);
	if (err < 0)
		return err;
	*done = m <= n || err == 1;
	return 0;
}

/* Not in place: a new block, the old content, the old block released.
 * A failure leaves the old block as it was. */
RT_COLD void *resize_move(rtheap_t *heap, void *ptr, size_t size, size_t bsize)
{
	void *p = rtheap_alloc(heap, size);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(p, ptr, size < bsize ? size : bsize);
	int err = rtheap_free(heap, ptr);
	if (rt_unlikely(err)) {
		/* debug mode found a neighbour overwritten, or another thread
		 * released ptr meanwhile: keep the old block, drop the new */
		(void)rtheap_free(heap, p);
		errno = -err;
		return NULL;
	}
	return p;
}

/* rtheap_realloc() for ck = 0 and ck = RT_CK_ANY (as alloc_body): lock,
 * resize in place or find out it cannot be, unlock, deliver; then move. */
RT_HOT void *realloc_body(struct rt_heap *h, void *ptr, size_t size,
                          const unsigned ck)
{
	struct rt_pending pd;
	bool notify = false, done;
	size_t bsize = 0;

	int err = heap_lock_ck(h, ck);
	if (rt_unlikely(err)) {
		errno = -err; /* ENOTRECOVERABLE: a broken shared heap */
		return NULL;
	}
	err = resize_locked(h, ptr, size, &bsize, &done, ck);
	if (rt_unlikely(err))
		notify = rt_notify_misuse(h, &pd);
	else if (done && rt_unlikely(h->used > h->lowmem_trip || h->alloc_slow))
		notify = rt_notify_alloc(h, &pd); /* resized: as an allocation */
	heap_unlock_ck(h, ck);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	if (rt_unlikely(err)) {
		errno = -err;
		return NULL;
	}
	if (done)
		return ptr;
	return resize_move((rtheap_t *)(void *)h, ptr, size, bsize);
}

RT_COLD void *realloc_checked(struct rt_heap *h, void *ptr, size_t size)
{
	if (rt_copy_of(h) == RT_COPY_SHARED)
		return realloc_body(h, ptr, size, RT_CK_SHARED);
	return realloc_body(h, ptr, size, RT_CK_ANY);
}

void *rtheap_realloc(rtheap_t *heap, void *ptr, size_t size)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h))) {
		errno = EINVAL;
		return NULL;
	}
	if (!ptr) {
		void *p = rtheap_alloc(heap, size);
		if (!p && size)
			errno = ENOMEM;
		return p;
	}
	if (!size) { /* as glibc: release, NULL */
		int err = rtheap_free(heap, ptr);
		if (err)
			errno = -err;
		return NULL;
	}
	if (rt_unlikely(rt_copy_of(h)))
		return realloc_checked(h, ptr, size);
	return realloc_body(h, ptr, size, 0);
}

void *rtheap_calloc(rtheap_t *heap, size_t n, size_t size)
{
	size_t total;
	if (!rt_heap_ok(rt_heap_of(heap))) {
		errno = EINVAL;
		return NULL;
	}
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM; /* as calloc: not counted, no callback */
		return NULL;
	}
	int saved = errno;
	errno = 0;
	void *p = rtheap_zalloc(heap, total);
	/* ENOTRECOVERABLE (a broken shared heap) is kept */
	if (p || !total)
		errno = saved;
	else if (errno != ENOTRECOVERABLE)
		errno = ENOMEM;
	return p;
}

void *rtheap_aligned_alloc(rtheap_t *heap, size_t align, size_t size)
{
	if (!rt_heap_ok(rt_heap_of(heap)) || !align || (align & (align - 1)) ||
	    align > RTHEAP_MAX_ALIGN) {
		errno = EINVAL;
		return NULL;
	}
	if (!size)
		return NULL;
	int saved = errno;
	errno = 0;
	void *p = rtheap_alloc_aligned(heap, size, align);
	if (p)
		errno = saved;
	else if (errno != ENOTRECOVERABLE) /* kept: a broken shared heap */
		errno = ENOMEM;
	return p;
}
