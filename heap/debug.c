/* SPDX-License-Identifier: MIT */
/*
 * debug.c -- debug mode (RTHEAP_F_DEBUG_FILL): fill patterns, and the
 * checks of list nodes before the heap follows them.
 *
 * With RTHEAP_F_DEBUG_FILL, every free byte the heap has handed out once
 * holds RT_FILL_FREED: freed blocks and runs are filled on release, list
 * nodes are refilled when they are dropped, and a fresh bucket page is
 * filled when it is split.  Pages beyond the extent's high-water mark (never
 * handed out) hold whatever the buffer held and are not verified.  When a
 * block is handed out again its bytes are verified, and a write after free
 * is reported with its address.  This costs O(block size) and is a debug aid.
 * What is found is reported with rt_report() (notify.c).
 */
#ifndef RTHEAP_UNITY_BUILD
#error "debug.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <string.h>

RT_FN void rt_debug_fill(void *p, size_t n, int byte)
{
	memset(p, byte, n);
}

RT_FN const void *rt_debug_verify(const void *p, size_t n, int byte)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)byte)
			return c + i;
	return NULL;
}

/* Pages [start, start+n) were just taken from the free runs: verify the
 * part below the high-water mark, then raise the mark. */
RT_FN void rt_debug_take(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                   uint32_t n)
{
	uint32_t end = start + n < x->hw ? start + n : x->hw;
	if (start < end) {
		void *p = rt_page_addr(h, x, start);
		size_t len = (size_t)(end - start) << h->pshift;
		hook_open(hook_state(), p, len);
		const void *bad = rt_debug_verify(p, len, RT_FILL_FREED);
		hook_close(hook_state(), p, len);
		if (bad) /* the first modified byte: a free page has no blocks */
			rt_report(h, RTHEAP_ERR_USE_AFTER_FREE, bad);
	}
	if (start + n > x->hw)
		x->hw = start + n;
}

/* Pages [start, end) stay free while pages after them are taken (the head
 * of an aligned run): fill the part above the high-water mark with the
 * freed pattern, so that rt_debug_take may raise the mark past them. */
RT_FN void rt_debug_skip(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                         uint32_t end)
{
	if (start < x->hw)
		start = x->hw;
	if (start >= end)
		return;
	void *p = rt_page_addr(h, x, start);
	size_t len = (size_t)(end - start) << h->pshift;
	hook_open(hook_state(), p, len);
	rt_debug_fill(p, len, RT_FILL_FREED);
	hook_close(hook_state(), p, len);
}

/*
 * Debug mode: the list nodes the heap keeps in free memory are checked
 * before the heap follows or writes through them, so that a program that
 * wrote into a freed block gets a report (RTHEAP_ERR_CORRUPT) and a refused
 * call, not a heap that chases garbage pointers.  Each check is O(log E).
 */

/* A free-run node: it describes a free run of its own extent, in the map. */
/* Where a run node may live, from the map alone: the extent header's tail
 * node, or the first byte of a page that heads a free run.  Checked before
 * the node is read, so that a corrupt link into a live block never makes
 * the check open and close (poison, for ASan) the caller's memory. */
static bool run_node_place_ok(const struct rt_heap *h, const struct rt_extent *x,
                              const struct rt_node *nd)
{
	if (nd == rt_ext_tail(x))
		return true;
	uintptr_t off = (uintptr_t)nd - (uintptr_t)x->pages;
	if (off >= x->span || (off & (h->page - 1)))
		return false;
	return PG_TYPE(x->map[off >> h->pshift]) == PG_FREE;
}

static bool run_node_ok(const struct rt_heap *h, const struct rt_node *nd)
{
	if (!nd)
		return true;
	struct rt_extent *x = rt_extent_find(h, nd);
	if (!x || !run_node_place_ok(h, x, nd))
		return false;
	struct rt_node v = rt_run_node_read(h, nd);
	return v.ext == x && v.len && v.start < x->npages &&
	       v.len <= x->npages - v.start &&
	       rt_run_node(x, v.start, v.len) == nd &&
	       v.idx == rt_runs_index(v.len) &&
	       x->map[v.start] == PG_MAKE(PG_FREE, v.len);
}

/* The node and both neighbours it would write through. */
RT_FN bool rt_debug_run_ok(const struct rt_heap *h, const struct rt_node *nd)
{
	if (!run_node_ok(h, nd))
		return false;
	struct rt_node v = rt_run_node_read(h, nd);
	return run_node_ok(h, v.prev) && run_node_ok(h, v.next);
}

/* The free runs that releasing [start, start+n) would merge. */
RT_FN bool rt_debug_release_ok(const struct rt_heap *h, struct rt_extent *x,
                               uint32_t start, uint32_t n)
{
	if (start > 0) {
		uint32_t e = x->map[start - 1];
		if (PG_TYPE(e) == PG_FREE &&
		    (PG_LEN(e) > start ||
		     !rt_debug_run_ok(h, rt_run_node(x, start - PG_LEN(e), PG_LEN(e)))))
			return false;
	}
	if (start + n < x->npages) {
		uint32_t e = x->map[start + n];
		if (PG_TYPE(e) == PG_FREE &&
		    (PG_LEN(e) > x->npages - start - n ||
		     !rt_debug_run_ok(h, rt_run_node(x, start + n, PG_LEN(e)))))
			return false;
	}
	return true;
}

/* A bucket node: the node block of a partial page of class cls in x. */
static bool bnode_ok(const struct rt_heap *h, const struct rt_extent *x,
                     unsigned cls, const struct rt_bnode *nd)
{
	if (!nd)
		return true;
	uintptr_t off = (uintptr_t)nd - (uintptr_t)x->pages;
	if (off >= x->span)
		return false;
	uint32_t pg = (uint32_t)(off >> h->pshift);
	uint32_t e = x->map[pg];
	return PG_TYPE(e) == PG_BUCKET && BK_CLS(e) == cls &&
	       rt_bucket_node(h, x, pg, e) == nd;
}

RT_FN bool rt_debug_bnode_ok(const struct rt_heap *h, const struct rt_extent *x,
                             unsigned cls, const struct rt_bnode *nd)
{
	struct rt_bnode v = rt_bucket_node_read(nd);
	if ((v.prev == NULL) != (x->bkt_head[cls] == nd))
		return false;
	return bnode_ok(h, x, cls, v.prev) && bnode_ok(h, x, cls, v.next);
}
