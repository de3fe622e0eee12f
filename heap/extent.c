/* SPDX-License-Identifier: MIT */
/*
 * extent.c -- extents: layout of a caller's buffer, the address-sorted
 * extent table, and adding an extent in three phases.
 *
 * Adding an extent (init or extend):
 *   1. rt_extent_reserve(), under the lock: check that the buffer overlaps
 *      no extent and that a slot is free, and insert the buffer in the
 *      sorted table with lookup size 0 (frees into it fail cleanly); only
 *      the descriptor is written;
 *   2. rt_extent_prepare(), outside the lock: write the 256-byte header and
 *      clear the page map (skipped for zeroed buffers), so that a fresh
 *      buffer's first-touch page faults happen outside the lock;
 *   3. rt_extent_publish(), under the lock: the whole page array becomes
 *      one free run whose node is the header's tail node, and lookups find
 *      the extent.
 * The page array itself is never written.
 *
 * Invariants: X1 bases[0..nr_ext) is ordered, bases[i] is look[i].x->buf,
 * and no two buffers overlap; X2 by_slot[i]->slot == i for every published
 * extent; X3 a published extent's map obeys the invariants of runs.c and
 * bucket.c.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "extent.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <string.h>

_Static_assert(sizeof(struct rt_extent) <= RTHEAP_EXTENT_HDR,
               "extent header must fit in RTHEAP_EXTENT_HDR bytes");
_Static_assert(RTHEAP_EXTENT_HDR % 64 == 0,
               "extent header keeps the map cache-line aligned");
#if UINTPTR_MAX > 0xffffffffu
_Static_assert(offsetof(struct rt_extent, tail_room) == 64 &&
               offsetof(struct rt_extent, bkt_head) < 128,
               "extent header: hot fields in line 0, the tail node in line 1");
#endif

static size_t map_bytes(size_t page)
{
	return RTHEAP_MAP_BYTES(page);
}

/*
 * Compute the layout of a buffer at address base: the number of pages and
 * the offsets of the map, the side table and the page array.  The page
 * array is aligned to the page size in absolute terms, so blocks of class
 * c are aligned to 16 << c and runs to the page size.
 * The loop runs at most twice: the first estimate is off by at most the
 * alignment padding, which is less than one page.
 */
static int layout_at(uintptr_t base, size_t page, size_t size,
                     uint32_t *npages, size_t *side_off, size_t *pages_off)
{
	size_t mb = map_bytes(page);
	if (size < RTHEAP_EXTENT_HDR + 2 * (page + mb))
		return -EINVAL;
	size_t n = (size - RTHEAP_EXTENT_HDR) / (page + mb);
	for (; n >= 2; n--) {
		uintptr_t end_map = base + RTHEAP_EXTENT_HDR + n * mb;
		uintptr_t pages = (end_map + page - 1) & ~(uintptr_t)(page - 1);
		if (pages < end_map) /* address space wrap */
			return -EINVAL;
		if ((pages - base) + n * page <= size) {
			*side_off = RTHEAP_EXTENT_HDR + n * 4;
			*pages_off = (size_t)(pages - base);
			break;
		}
	}
	if (n < 2)
		return -EINVAL;
	if (n > RTHEAP_MAX_EXTENT_PAGES)
		return -EINVAL;
	*npages = (uint32_t)n;
	return 0;
}

/* The map always starts right after the header, at RTHEAP_EXTENT_HDR. */
RT_FN int rt_extent_layout(size_t page, void *buf, size_t size, uint32_t *npages,
                           size_t *side_off, size_t *pages_off)
{
	return layout_at((uintptr_t)buf, page, size, npages, side_off, pages_off);
}

size_t rtheap_overhead(size_t size, size_t page_size)
{
	if (page_size == 0)
		page_size = RTHEAP_DEFAULT_PAGE;
	/* the page sizes rtheap_init() rejects: nothing fits */
	if (page_size & (page_size - 1) || page_size < 8 || page_size > RTHEAP_MAX_PAGE)
		return size;
	if (page_size < RTHEAP_MIN_PAGE)
		page_size = RTHEAP_MIN_PAGE;
	uint32_t n;
	size_t so, po;
	/* A buffer aligned to the page size: base address 0 stands for it. */
	if (layout_at(0, page_size, size, &n, &so, &po))
		return size;
	return size - (size_t)n * page_size;
}

/* Binary search of the sorted table of buffer addresses, without branches
 * (Shar's power-of-two steps): with k the largest power of two below E, a
 * first probe at E - k leaves k candidates, halved by each further probe:
 * ceil(log2 E) probes, none for a single extent.  The final unsigned
 * compare also rejects an address below the first extent (it wraps) and
 * an extent still being added (its lookup size is 0 until published). */
RT_HOT struct rt_extent *rt_extent_find(const struct rt_heap *h, const void *p)
{
	uintptr_t a = (uintptr_t)p;
	const uintptr_t *base = h->bases;
	uint32_t lo = 0, k = h->lk_half;
	if (k) {
		uint32_t hi = h->nr_ext - k;
		RT_STEP();
		lo = base[hi] <= a ? hi : 0;
		for (k >>= 1; k; k >>= 1) {
			RT_STEP();
			lo = base[lo + k] <= a ? lo + k : lo;
		}
	}
	return a - base[lo] < h->look[lo].lsize ? h->look[lo].x : NULL;
}

/* Index in the sorted table where an extent at address a goes (or is). */
static uint32_t sorted_pos(const struct rt_heap *h, uintptr_t a)
{
	uint32_t lo = 0, hi = h->nr_ext;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (h->bases[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

RT_FN int rt_extent_check_args(size_t page, void *buf, size_t size)
{
	if (!buf || ((uintptr_t)buf & 7u))
		return -EINVAL;
	if ((uintptr_t)buf + size < (uintptr_t)buf)
		return -EINVAL;
	uint32_t n;
	size_t so, po;
	return rt_extent_layout(page, buf, size, &n, &so, &po);
}

/*
 * Phase 1, under the lock: claim a slot and a place in the sorted table.
 * Only the descriptor is written: the buffer is not touched while the lock
 * is held, so a fresh buffer's first-touch page faults happen outside it.
 * Nothing is written unless the buffer is acceptable.
 */
RT_FN int rt_extent_reserve(struct rt_heap *h, void *buf, size_t size,
                            uint32_t *slot)
{
	/* a bad buffer is -EINVAL first, even when the table is full */
	uintptr_t a = (uintptr_t)buf;
	uint32_t pos = sorted_pos(h, a);
	if (pos > 0 && h->bases[pos - 1] + h->rsize[pos - 1] > a)
		return -EINVAL;
	if (pos < h->nr_ext && a + size > h->bases[pos])
		return -EINVAL;
	if (h->nr_ext >= RTHEAP_MAX_EXTENTS)
		return -ENOSPC;
	uint32_t n = h->nr_ext - pos;
	memmove(&h->bases[pos + 1], &h->bases[pos], n * sizeof(h->bases[0]));
	memmove(&h->look[pos + 1], &h->look[pos], n * sizeof(h->look[0]));
	memmove(&h->rsize[pos + 1], &h->rsize[pos], n * sizeof(h->rsize[0]));
	h->look[pos].x = (struct rt_extent *)buf;
	h->bases[pos] = a;
	h->look[pos].lsize = 0; /* not found by lookups until published */
	h->rsize[pos] = size;
	*slot = h->nr_ext++;
	h->lk_half = h->nr_ext > 1 ? 1u << rt_fls32(h->nr_ext - 1) : 0;
	return 0;
}

/*
 * Phase 2, outside the lock: write the header, clear the map (unless the
 * buffer is known to be zero) and describe the whole page array as one free
 * run.  Nobody reads this buffer yet.
 */
RT_FN struct rt_extent *rt_extent_prepare(struct rt_heap *h, void *buf,
                                          size_t size, uint32_t slot,
                                          unsigned flags)
{
	uint32_t np = 0;
	size_t so = 0, po = 0;
	int err = rt_extent_layout(h->page, buf, size, &np, &so, &po);
	rt_assert(!err, "layout was validated before the reservation");
	(void)err;
	struct rt_extent *x = (struct rt_extent *)buf;
	memset(x, 0, sizeof(*x));
	x->magic = RT_EXT_MAGIC;
	x->npages = np;
	x->pshift = h->pshift;
	x->buf = buf;
	x->size = size;
	x->map = (uint32_t *)(void *)((uint8_t *)buf + RTHEAP_EXTENT_HDR);
	x->side = h->side_words ? (uint32_t *)(void *)((uint8_t *)buf + so)
	                        : NULL;
	x->pages = (uint8_t *)buf + po;
	x->slot = slot;
	if (!(flags & RTHEAP_F_ZEROED))
		memset(x->map, 0, (size_t)np * sizeof(x->map[0]));
	rt_runs_describe(x, 0, np);
	hook_pages_added(x->pages, (size_t)np << h->pshift);
	return x;
}

/* Phase 3, under the lock: make the extent visible and its pages free. */
RT_FN void rt_extent_publish(struct rt_heap *h, struct rt_extent *x)
{
	uint32_t pos = sorted_pos(h, (uintptr_t)x->buf);
	rt_assert(h->look[pos].x == x, "a reserved extent stays in the table");
	rt_assert(x->slot < h->nr_ext && !h->by_slot[x->slot],
	          "a reserved slot is published once (X2)");
	x->span = (size_t)x->npages << h->pshift;
	h->look[pos].lsize = x->size;
	h->by_slot[x->slot] = x;
	h->nr_live++;
	rt_runs_push(h, rt_ext_tail(x), hook_state());
	h->size += x->size;
	h->usable += x->span;
}
