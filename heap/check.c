/* SPDX-License-Identifier: MIT */
/*
 * check.c -- rtheap_check(): the full integrity walk.
 *
 * It re-derives, from the page maps alone, everything the heap keeps
 * incrementally (free runs, bucket pages, live blocks, used bytes) and
 * compares: the invariants R1-R4 (runs.c), B1-B4 (bucket.c) and X1-X3
 * (extent.c), the list links in both directions, the bitmaps of the
 * free-run index and of the bucket extent sets, and the statistics.
 * Every list walk is bounded by the number of pages, so a corrupted cycle
 * is reported rather than followed forever.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "check.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"
#include "owner.h"

#include <string.h>

struct walk {
	struct rtheap_fault *fault;
	size_t total_pages, free_runs, run_pages, bucket_pages, owned_pages, used, live;
	size_t partial[RTHEAP_NR_CLASSES];
	size_t class_live[RTHEAP_NR_CLASSES], class_pages[RTHEAP_NR_CLASSES];
};

static int fail(struct walk *w, const char *what, const void *addr, int ext,
                long page)
{
	if (w->fault) {
		w->fault->what = what;
		w->fault->addr = addr;
		w->fault->extent = ext;
		w->fault->page = page;
	}
	return -EUCLEAN;
}

#define FAIL(what, addr, ext, page) return fail(w, what, addr, ext, (long)(page))

/* The header of published extent x in slot i: where its parts lie. */
static int check_extent(struct rt_heap *h, struct walk *w, struct rt_extent *x,
                        uint32_t i)
{
	if (x->magic != RT_EXT_MAGIC)
		FAIL("extent header magic", x, (int)i, -1);
	if (x->slot != i)
		FAIL("extent slot index", x, (int)i, -1);
	if (x->pshift != h->pshift)
		FAIL("extent page shift", x, (int)i, -1);
	if ((uint8_t *)x->map != (uint8_t *)x->buf + RTHEAP_EXTENT_HDR ||
	    (h->side_words
	             ? (uint8_t *)x->side != (uint8_t *)(x->map + x->npages)
	             : x->side != NULL))
		FAIL("extent map or side table misplaced", x, (int)i, -1);
	if (x->npages < 2 || x->npages > RTHEAP_MAX_EXTENT_PAGES ||
	    ((uintptr_t)x->pages & (h->page - 1)) ||
	    (uint8_t *)x->pages < (uint8_t *)(x->side ? x->side + (size_t)x->npages * h->side_words
	                                               : x->map + x->npages) ||
	    (uint8_t *)x->pages + ((size_t)x->npages << h->pshift) >
	            (uint8_t *)x->buf + x->size)
		FAIL("extent page array outside its buffer", x, (int)i, -1);
	if (x->span != ((size_t)x->npages << h->pshift))
		FAIL("extent span differs from its pages", x, (int)i, -1);
	if (x->hw > x->npages)
		FAIL("extent high-water mark beyond its pages", x, (int)i, -1);
	return 0;
}

/* The address-sorted table (X1) and its lookup sizes.  An entry not yet
 * published (lookup size 0) belongs to an extension whose header is being
 * written outside the lock: read nothing of it.  Counting the published
 * entries instead shows that none is hidden. */
static int check_sorted_table(struct rt_heap *h, struct walk *w)
{
	uint32_t in_table = 0;
	for (uint32_t i = 0; i < h->nr_ext; i++) {
		struct rt_extent *x = h->look[i].x;
		if (h->bases[i] != (uintptr_t)x)
			FAIL("extent search table out of date", x, -1, -1);
		if (i + 1 < h->nr_ext && h->bases[i] + h->rsize[i] > h->bases[i + 1])
			FAIL("extent table not sorted or overlapping", x, -1, -1);
		if (!h->look[i].lsize)
			continue;
		in_table++;
		if (h->look[i].lsize != h->rsize[i] || x->slot >= h->nr_ext ||
		    h->by_slot[x->slot] != x)
			FAIL("extent table entry does not match its extent", x, -1, -1);
	}
	if (in_table != h->nr_live)
		FAIL("published extent hidden from lookups", h, -1, -1);
	return 0;
}

/* The extents by slot (X2), their headers, counts and sizes, then the
 * sorted table. */
static int check_extent_table(struct rt_heap *h, struct walk *w)
{
	if (h->nr_ext == 0 || h->nr_ext > RTHEAP_MAX_EXTENTS ||
	    h->nr_live > h->nr_ext)
		FAIL("extent count out of range", h, -1, -1);
	if (h->lk_half != (h->nr_ext > 1 ? 1u << rt_fls32(h->nr_ext - 1) : 0))
		FAIL("extent lookup step does not match the extent count", h, -1, -1);
	size_t size = 0, published = 0;
	for (uint32_t i = 0; i < h->nr_ext; i++) {
		struct rt_extent *x = h->by_slot[i];
		if (!x)
			continue; /* being added */
		published++;
		int err = check_extent(h, w, x, i);
		if (err)
			return err;
		w->total_pages += x->npages;
		size += x->size;
	}
	if (published != h->nr_live || size != h->size)
		FAIL("extent count or total size differs from the extents", h, -1, -1);
	return check_sorted_table(h, w);
}

static int check_free_run(struct rt_heap *h, struct walk *w,
                          struct rt_extent *x, uint32_t pg, uint32_t len)
{
	int xi = (int)x->slot;
	if (len == 0 || (uint64_t)pg + len > x->npages)
		FAIL("free run length out of range", rt_page_addr(h, x, pg), xi, pg);
	if (x->map[pg + len - 1] != PG_MAKE(PG_FREE, len))
		FAIL("free run tail does not match its head", rt_page_addr(h, x, pg), xi, pg);
	for (uint32_t i = pg + 1; i + 1 < pg + len; i++)
		if (x->map[i] != PG_MAKE(PG_NONE, 0))
			FAIL("page inside a free run is not NONE", rt_page_addr(h, x, i), xi, i);
	if (pg > 0 && PG_TYPE(x->map[pg - 1]) == PG_FREE)
		FAIL("two adjacent free runs", rt_page_addr(h, x, pg), xi, pg);
	struct rt_node *nd = rt_run_node(x, pg, len);
	struct rt_node v = rt_run_node_read(h, nd);
	if (v.ext != x || v.start != pg || v.len != len || v.idx != rt_runs_index(len))
		FAIL("free run node does not describe its run", nd, xi, pg);
	w->free_runs++;
	return 0;
}

static int check_bucket_page(struct rt_heap *h, struct walk *w,
                             struct rt_extent *x, uint32_t pg, uint32_t e)
{
	int xi = (int)x->slot;
	unsigned cls = BK_CLS(e);
	if (cls >= h->nclasses)
		FAIL("bucket class out of range", rt_page_addr(h, x, pg), xi, pg);
	uint32_t nb = (uint32_t)(h->page >> (cls + 4));
	uint32_t nfree = rt_bucket_nfree(h, x, pg, e);
	if (nb <= BK_INLINE_MAX && (BK_IBITS(e) >> nb))
		FAIL("bucket bitmap has bits beyond the last block", rt_page_addr(h, x, pg), xi, pg);
	if (nb > BK_INLINE_MAX && BK_SCOUNT(e) != nfree)
		FAIL("bucket free count differs from its bitmap", rt_page_addr(h, x, pg), xi, pg);
	if (nfree >= nb)
		FAIL("empty bucket page was not released", rt_page_addr(h, x, pg), xi, pg);
	if (nfree) {
		uint32_t node = nb <= BK_INLINE_MAX ? BK_INODE(e) : BK_SNODE(e);
		if (node >= nb || !rt_bucket_block_free(h, x, pg, e, node))
			FAIL("bucket node block is not free", rt_page_addr(h, x, pg), xi, pg);
		w->partial[cls]++;
	}
	w->bucket_pages++;
	w->class_pages[cls]++;
	w->class_live[cls] += nb - nfree;
	w->live += nb - nfree;
	w->used += (size_t)(nb - nfree) << (cls + 4);
	return 0;
}

/* A run block or an owned run at pg (P1, O1). */
static int check_block_run(struct rt_heap *h, struct walk *w,
                           struct rt_extent *x, uint32_t pg, uint32_t e)
{
	int xi = (int)x->slot;
	uint32_t len = RUN_LEN(e);
	if (PG_TYPE(e) == PG_OWNED && (OW_LOG(e) > 28 || OW_SPARE(e)))
		FAIL("owned entry out of range", rt_page_addr(h, x, pg), xi, pg);
	if (len == 0 || (uint64_t)pg + len > x->npages)
		FAIL("run length out of range", rt_page_addr(h, x, pg), xi, pg);
	for (uint32_t i = pg + 1; i < pg + len; i++)
		if (x->map[i] != PG_MAKE(PG_NONE, 0))
			FAIL("page inside a run is not NONE", rt_page_addr(h, x, i), xi, i);
	if (PG_TYPE(e) == PG_OWNED) {
		uintptr_t a = (uintptr_t)rt_page_addr(h, x, pg);
		if ((len & (len - 1)) || (a & (((uintptr_t)len << h->pshift) - 1)))
			FAIL("owned run is not a power of two aligned to its size",
			     rt_page_addr(h, x, pg), xi, pg);
		w->owned_pages += len;
	} else {
		w->run_pages += len;
	}
	w->live++;
	w->used += (size_t)len << h->pshift;
	return 0;
}

static int check_map(struct rt_heap *h, struct walk *w, struct rt_extent *x)
{
	int xi = (int)x->slot, err;
	for (uint32_t pg = 0; pg < x->npages;) {
		uint32_t e = x->map[pg];
		switch (PG_TYPE(e)) {
		case PG_FREE:
			if ((err = check_free_run(h, w, x, pg, PG_LEN(e))))
				return err;
			pg += PG_LEN(e);
			break;
		case PG_RUN:
		case PG_OWNED:
			if ((err = check_block_run(h, w, x, pg, e)))
				return err;
			pg += RUN_LEN(e);
			break;
		case PG_BUCKET:
			if ((err = check_bucket_page(h, w, x, pg, e)))
				return err;
			pg++;
			break;
		default:
			FAIL("page belongs to no run or bucket", rt_page_addr(h, x, pg), xi, pg);
		}
	}
	return 0;
}

static int check_run_lists(struct rt_heap *h, struct walk *w)
{
	size_t seen = 0;
	if (h->fl_bitmap >> RT_FL_COUNT)
		FAIL("first-level bitmap names lists that do not exist", h, -1, -1);
	for (unsigned fl = 0; fl < RT_FL_COUNT; fl++) {
		if (h->sl_bitmap[fl] >> RT_SL_COUNT)
			FAIL("second-level bitmap names lists that do not exist", h, -1, -1);
		bool fl_bit = (h->fl_bitmap >> fl) & 1u;
		if (fl_bit != (h->sl_bitmap[fl] != 0))
			FAIL("first-level bitmap disagrees with second level", h, -1, -1);
		for (unsigned sl = 0; sl < RT_SL_COUNT; sl++) {
			struct rt_node *nd = h->runs[fl * RT_SL_COUNT + sl], *prev = NULL;
			bool bit = (h->sl_bitmap[fl] >> sl) & 1u;
			if (bit != (nd != NULL))
				FAIL("second-level bitmap disagrees with its list", h, -1, -1);
			for (; nd; prev = nd, nd = rt_run_node_read(h, nd).next) {
				if (++seen > w->total_pages)
					FAIL("free-run list has a cycle", nd, -1, -1);
				struct rt_node v = rt_run_node_read(h, nd);
				struct rt_extent *x = v.ext;
				bool known = false;
				for (uint32_t i = 0; i < h->nr_ext; i++)
					known |= h->by_slot[i] == x && x != NULL;
				if (!known)
					FAIL("free-run node points to an unknown extent", nd, -1, -1);
				if (v.prev != prev)
					FAIL("free-run list back link broken", nd, (int)x->slot, v.start);
				unsigned f, s;
				rt_runs_mapping(v.len, &f, &s);
				if (f != fl || s != sl)
					FAIL("free run on the wrong list for its length", nd, (int)x->slot, v.start);
				if ((uint64_t)v.start + v.len > x->npages ||
				    x->map[v.start] != PG_MAKE(PG_FREE, v.len) ||
				    rt_run_node(x, v.start, v.len) != nd)
					FAIL("listed free run is not free in the map", nd, (int)x->slot, v.start);
			}
		}
	}
	if (seen != w->free_runs || seen != h->free_runs)
		FAIL("free runs in lists, in maps and in the count differ", h, -1, -1);
	return 0;
}

static int check_bucket_lists(struct rt_heap *h, struct walk *w)
{
	for (unsigned c = 0; c < RTHEAP_NR_CLASSES; c++) {
		size_t seen = 0;
		struct rt_extset *s = &h->cls[c].exts;
		for (uint32_t i = 0; i < RT_EXT_WORDS * 64u; i++) {
			struct rt_extent *x = i < h->nr_ext ? h->by_slot[i] : NULL;
			bool in_set = (s->w[i >> 6] >> (i & 63)) & 1u;
			if (!x) {
				if (in_set)
					FAIL("bucket extent set names no extent", h, (int)i, -1);
				continue;
			}
			if (in_set != (x->bkt_head[c] != NULL))
				FAIL("bucket extent set disagrees with the extent list", x, (int)i, -1);
			if (RT_EXT_WORDS > 1 && in_set && !((s->summary >> (i >> 6)) & 1u))
				FAIL("bucket extent set summary bit missing", x, (int)i, -1);
			struct rt_bnode *prev = NULL;
			for (struct rt_bnode *nd = x->bkt_head[c]; nd;
			     prev = nd, nd = rt_bucket_node_read(nd).next) {
				if (++seen > w->total_pages)
					FAIL("bucket list has a cycle", x, (int)i, -1);
				uintptr_t off = (uintptr_t)nd - (uintptr_t)x->pages;
				if (off >= ((size_t)x->npages << h->pshift))
					FAIL("bucket list node outside its extent", nd, (int)i, -1);
				uint32_t pg = (uint32_t)(off >> h->pshift);
				uint32_t e = x->map[pg];
				if (PG_TYPE(e) != PG_BUCKET || BK_CLS(e) != c ||
				    rt_bucket_nfree(h, x, pg, e) == 0)
					FAIL("listed page is not a partial bucket page of its class",
					     rt_page_addr(h, x, pg), (int)i, pg);
				if (rt_bucket_node(h, x, pg, e) != nd)
					FAIL("bucket list node is not in the page's node block", nd, (int)i, pg);
				if (rt_bucket_node_read(nd).prev != prev)
					FAIL("bucket list back link broken", nd, (int)i, pg);
			}
		}
		if (seen != w->partial[c])
			FAIL("partial bucket pages and listed pages differ", h, -1, -1);
		for (uint32_t j = 0; RT_EXT_WORDS > 1 && j < 64; j++)
			if (((s->summary >> j) & 1u) != (j < RT_EXT_WORDS && s->w[j] != 0))
				FAIL("bucket extent set summary disagrees with its words", h, -1, -1);
	}
	return 0;
}

static int check_stats(struct rt_heap *h, struct walk *w)
{
	if (w->used != h->used)
		FAIL("used bytes differ from the blocks in the maps", h, -1, -1);
	if (w->live != h->alloc_calls - h->free_calls)
		FAIL("live block count differs from the maps", h, -1, -1);
	if (w->run_pages != h->pages_run || w->bucket_pages != h->pages_bucket ||
	    w->owned_pages != h->pages_owned)
		FAIL("page counts differ from the maps", h, -1, -1);
	if (h->usable != (w->total_pages << h->pshift))
		FAIL("usable bytes differ from the extents", h, -1, -1);
	if (h->used > h->peak || h->used > h->usable)
		FAIL("used exceeds peak or usable", h, -1, -1);
	for (unsigned c = 0; c < RTHEAP_NR_CLASSES; c++)
		if (w->class_live[c] != h->cls[c].live ||
		    w->class_pages[c] != h->cls[c].pages)
			FAIL("per-class counts differ from the maps", h, -1, -1);
	/* low-memory limits agree with the armed flag (heap.c) */
	if (h->lowmem_armed ? h->lowmem_rearm != 0
	                    : h->lowmem_trip != SIZE_MAX)
		FAIL("low-memory limits disagree with the armed state", h, -1, -1);
	if (h->alloc_slow != ((h->flags & RTHEAP_F_DEBUG_FILL) ||
	                      (h->lowmem_armed && h->lowmem_fn && h->lowmem_run)))
		FAIL("allocation slow-path flag disagrees with its causes", h, -1, -1);
	if (h->slow_copy != rt_copy_compute(h))
		FAIL("hot-path copy disagrees with the checkers and the debug flag", h, -1, -1);
	return 0;
}

static int check_walk(struct rt_heap *h, struct walk *w)
{
	int err = check_extent_table(h, w);
	for (uint32_t i = 0; !err && i < h->nr_ext; i++)
		if (h->by_slot[i])
			err = check_map(h, w, h->by_slot[i]);
	if (!err)
		err = check_run_lists(h, w);
	if (!err)
		err = check_bucket_lists(h, w);
	if (!err)
		err = check_stats(h, w);
	return err;
}

static int check_locked(struct rt_heap *h, void *arg)
{
	return check_walk(h, arg);
}

static void fault_clear(struct rtheap_fault *fault)
{
	if (fault) {
		fault->what = NULL;
		fault->addr = NULL;
		fault->extent = -1;
		fault->page = -1;
	}
}

/* The walk, for a caller that holds the lock (a shared heap's recovery
 * from a dead lock owner, lock.h): 0 or -EUCLEAN, the fault in *fault. */
RT_FN int rt_check_locked(struct rt_heap *h, struct rtheap_fault *fault)
{
	struct walk w;
	memset(&w, 0, sizeof(w));
	w.fault = fault;
	fault_clear(fault);
	return check_walk(h, &w);
}

int rtheap_check(rtheap_t *heap, struct rtheap_fault *fault)
{
	struct walk w;
	memset(&w, 0, sizeof(w));
	w.fault = fault;
	fault_clear(fault);
	int err = rt_with_lock(heap, check_locked, &w);
	if (err == -ENOTRECOVERABLE) {
		/* a shared heap broken by a dead lock owner (rtheap.h) */
		if (fault) {
			fault->what = "heap broken: a process died holding its lock mid-change";
			fault->addr = heap;
		}
		return -EUCLEAN;
	}
	/* then every layer object, outside the heap lock (each takes its own
	 * lock, then maybe the heap's: the layers' lock order) */
	for (struct rt_owner *o = rt_owner_next(heap, NULL); !err && o;
	     o = rt_owner_next(heap, o))
		if (o->ops->check)
			err = o->ops->check(o, fault);
	return err;
}
