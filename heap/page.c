/* SPDX-License-Identifier: MIT */
/*
 * page.c -- page-run blocks: a request above half a page takes a run of
 * whole pages from the free-run index (runs.c), and gives it back there.
 * This file holds the whole path of that block kind, as bucket.c holds the
 * path of sub-page blocks: take, mark, debug fill and verify, memory-checker
 * hooks, page counts, and the checks of a release.
 *
 * Invariants maintained here:
 *  P1  an allocated run [s, s+n) has map[s] == RUN|n and every other page
 *      of it NONE (runs.c leaves the old tail entry NONE when it cuts);
 *  P2  pages_run is the sum of n over the allocated runs.
 * Every function below is O(1) apart from the debug fill and verify.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "page.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

/* Pages [start, start+n) of x were just taken: they become a block. */
RT_HOT void *page_claim(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                        uint32_t n, size_t *bsize, const unsigned ck)
{
	rt_assert(n && start + n <= x->npages, "a taken run lies in its extent");
	rt_map_set(x, start, PG_MAKE(PG_RUN, n));
	h->pages_run += n;
	*bsize = (size_t)n << h->pshift;
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_take(h, x, start, n);
	return rt_page_addr(h, x, start);
}

/* A run of whole pages for size bytes (P/2 < size <= max_request); its
 * size in *bsize.  NULL if no free run fits. */
RT_HOT void *rt_page_alloc(struct rt_heap *h, size_t size, size_t *bsize,
                           const unsigned ck)
{
	uint32_t n = (uint32_t)((size + h->page - 1) >> h->pshift);
	struct rt_extent *x;
	uint32_t start;
	if (!rt_runs_take(h, n, &x, &start, ck))
		return NULL;
	return page_claim(h, x, start, n, bsize, ck);
}

/* A run of whole pages for size bytes, its first page aligned to align
 * (a power of two above the page size) in absolute terms. */
RT_HOT void *rt_page_alloc_aligned(struct rt_heap *h, size_t size, size_t align,
                                   size_t *bsize, const unsigned ck)
{
	uint32_t n = (uint32_t)((size + h->page - 1) >> h->pshift);
	uint32_t a = (uint32_t)(align >> h->pshift);
	struct rt_extent *x;
	uint32_t start;
	if (!rt_runs_take_aligned(h, n, a, &x, &start, ck))
		return NULL;
	return page_claim(h, x, start, n, bsize, ck);
}

/*
 * Release the run block at ptr, first page pg of x (entry e, a RUN entry),
 * off bytes into that page: check that ptr starts the block, check what
 * the release will merge (debug), ask ckfn, then fill, tell the checkers
 * and give the pages back.  Its size in *bsize.  Returns 0 or a negative
 * error, misuse reported.
 */
RT_HOT int rt_page_free(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                        uint32_t e, size_t off, void *ptr,
                        int (*ckfn)(void *), size_t *bsize, const unsigned ck)
{
	uint32_t n = PG_LEN(e);
	int err;
	if (rt_unlikely(off)) {
		rt_report(h, RTHEAP_ERR_NOT_BLOCK, ptr);
		return -EINVAL;
	}
	if (rt_unlikely(RT_DEBUG(ck, h)) && !rt_debug_release_ok(h, x, pg, n)) {
		rt_report(h, RTHEAP_ERR_CORRUPT, ptr);
		return -EUCLEAN;
	}
	if (ckfn && (err = ckfn(ptr)) != 0)
		return err;
	rt_assert(n && pg + n <= x->npages, "a RUN entry's run lies in its extent (P1)");
	*bsize = (size_t)n << h->pshift;
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_fill(ptr, *bsize, RT_FILL_FREED);
	hook_block_free(ck, ptr, *bsize);
	rt_assert(h->pages_run >= n, "run page count underflow");
	h->pages_run -= n;
	rt_runs_release(h, x, pg, n, ck);
	return 0;
}

/* Size of the live run block at offset off of page pg (entry e, a RUN
 * entry), or 0 if off is not the start of the block. */
RT_FN size_t rt_page_size(const struct rt_heap *h, uint32_t e, size_t off)
{
	return off ? 0 : (size_t)PG_LEN(e) << h->pshift;
}
