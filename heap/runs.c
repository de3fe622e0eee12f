/* SPDX-License-Identifier: MIT */
/*
 * runs.c -- free page runs: a two-level segregated-fit index over run
 * lengths, split and coalesce through the page map.
 *
 * Invariants maintained here:
 *  R1  every free run [s, s+n) has map[s] == map[s+n-1] == FREE|n, and every
 *      page strictly inside it is NONE;
 *  R2  no two free runs are adjacent (release merges both neighbours);
 *  R3  every free run is on exactly one list, runs[fl][sl] for its length,
 *      whose index its node records (idx), and the bit of that list is set
 *      in sl_bitmap[fl] (and fl in fl_bitmap) exactly when the list is not
 *      empty;
 *  R4  the node of a run ending the extent is the header's tail node
 *      (rt_ext_tail), otherwise it lives in the run's first page.
 * Every function below is O(1): no loop at all.
 * A split leaves the remainder's node in place (the tail run gives its first
 * pages, any other run its last pages), so a split whose remainder stays on
 * the same list costs no list operation at all.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "runs.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <string.h>

/* Smallest list whose every run holds at least n pages (false if none
 * can exist). */
static inline bool mapping_search(uint32_t n, unsigned *idx)
{
	unsigned s = rt_fls32((n >> RT_SL_SHIFT) | 1u);
	uint64_t r = (uint64_t)n + (1u << s) - 1u; /* round up to the list */
	if (r > RTHEAP_MAX_EXTENT_PAGES)
		return false;
	*idx = rt_runs_index((uint32_t)r);
	return true;
}

RT_HOT struct rt_node *rt_run_node(struct rt_extent *x, uint32_t start, uint32_t len)
{
	if (start + len == x->npages)
		return rt_ext_tail(x);
	return (struct rt_node *)(void *)(x->pages + ((size_t)start << x->pshift));
}

/* -- memory checkers: a node in free memory stays poisoned, except while
 * the heap itself reads or writes it (hooks.h).  A run node is in a page,
 * or is the extent header's tail node, which is never poisoned. -- */

RT_COLD bool run_node_in_page(const struct rt_heap *h, const struct rt_node *nd)
{
#ifdef RTHEAP_STEP_COUNT
	unsigned long steps = rtheap_step_counter; /* checker work is not counted */
#endif
	const struct rt_extent *x = nd ? rt_extent_find(h, nd) : NULL;
#ifdef RTHEAP_STEP_COUNT
	rtheap_step_counter = steps;
#endif
	return x && nd != rt_ext_tail(x);
}
/* ck: which checkers to speak to (hooks.h), a constant 0 on the path
 * without any.  The node's extent is looked up only with a checker. */
#define RUN_OPEN(ck, h, nd)                                                  \
	do {                                                                 \
		if (rt_unlikely((ck) & RT_CK_ANY) && run_node_in_page((h), (nd)))          \
			rt_ck_open((void *)(uintptr_t)(nd), sizeof(struct rt_node)); \
	} while (0)
#define RUN_CLOSE(ck, h, nd)                                                 \
	do {                                                                 \
		if (rt_unlikely((ck) & RT_CK_ANY) && run_node_in_page((h), (nd)))          \
			rt_ck_close((void *)(uintptr_t)(nd), sizeof(struct rt_node)); \
	} while (0)

/* A copy of a node, read with the checkers' blessing. */
RT_HOT struct rt_node run_node_read(const struct rt_heap *h,
                                    const struct rt_node *nd, const unsigned ck)
{
	struct rt_node v;
	RUN_OPEN(ck, h, nd);
	v = *nd;
	RUN_CLOSE(ck, h, nd);
	(void)h;
	return v;
}

/* The same, off the hot path (check.c, debug). */
RT_FN struct rt_node rt_run_node_read(const struct rt_heap *h,
                                      const struct rt_node *nd)
{
	return run_node_read(h, nd, hook_state());
}

/* -- the free lists -- */

/*
 * Placement order: where a run stands in the address order the placement
 * policy prefers low addresses by.  A run's node is in its first page, so
 * the node's address is the run's, with one exception: the run that ends
 * an extent (its node is the header's tail) counts as higher than every
 * other.  That run is the extent's untouched end; keeping it last keeps it
 * whole for the largest requests.  The node's address alone says which
 * (rt_node_is_tail: bit 3, clear in a page node, whose low 8 bits are
 * clear): rotating it right by 4 keeps the order of page nodes and moves a
 * tail node's bit 3 to the top.  No node is read: one instruction.
 */
_Static_assert(RTHEAP_MIN_PAGE % 16 == 0,
               "a node in a page has bit 3 of its address clear");
RT_HOT uintptr_t run_order(const struct rt_node *nd)
{
	uintptr_t a = (uintptr_t)nd;
	return (a >> 4) | (a << (sizeof(a) * 8 - 4));
}

/* Debug mode: linking second follows head->next, a pointer read from free
 * memory: check the head and its neighbours first.  A corrupt head gets
 * the run in front of it instead (nothing read from it is followed), and
 * is reported when an allocation reaches it (run_checked). */
RT_HOT bool run_second_ok(const struct rt_heap *h, const struct rt_node *head,
                          const unsigned ck)
{
	return !rt_unlikely(RT_DEBUG(ck, h)) || rt_debug_run_ok(h, head);
}

/* One link of a neighbour's node, written with the checkers' blessing. */
RT_HOT void run_set_prev(struct rt_heap *h, struct rt_node *nd,
                         struct rt_node *v, const unsigned ck)
{
	RUN_OPEN(ck, h, nd);
	nd->prev = v;
	RUN_CLOSE(ck, h, nd);
	(void)h;
}

/* Link nd (open) second on a list whose head is head (R3). */
RT_HOT void run_link_second(struct rt_heap *h, struct rt_node *nd,
                            struct rt_node *head, const unsigned ck)
{
	RT_STEP(); /* the node after the head is written too */
	RUN_OPEN(ck, h, head);
	struct rt_node *next = head->next;
	nd->next = next;
	head->next = nd;
	RUN_CLOSE(ck, h, head);
	nd->prev = head;
	if (next)
		run_set_prev(h, next, nd, ck);
}

/* Link nd (open) at the head of list i. */
RT_HOT void run_link_head(struct rt_heap *h, struct rt_node *nd, unsigned i,
                          struct rt_node *head, const unsigned ck)
{
	nd->prev = NULL;
	nd->next = head;
	if (head) {
		run_set_prev(h, head, nd, ck);
	} else { /* the list was empty: its bits (R3) */
		h->sl_bitmap[i >> RT_SL_SHIFT] |= 1u << (i & (RT_SL_COUNT - 1));
		h->fl_bitmap |= 1u << (i >> RT_SL_SHIFT);
	}
	h->runs[i] = nd;
}

/*
 * Push nd on list i, the list of its length: at the head if the list is
 * empty or nd lies below the head in placement order, else second.  So a
 * list's head is the lowest of the runs pushed since it became the head,
 * and the good fit, which takes heads, leans to low addresses (the free
 * memory left at high addresses stays in one piece).  O(1): one more
 * node written than a push at the head when the run goes second.
 */
RT_HOT void run_list_push_at(struct rt_heap *h, struct rt_node *nd, unsigned i,
                             const unsigned ck)
{
	RUN_OPEN(ck, h, nd);
	struct rt_node *head = h->runs[i];
	RT_STEP();
	rt_assert(i == rt_runs_index(nd->len) && nd->len &&
	          nd->start + nd->len <= nd->ext->npages &&
	          rt_run_node(nd->ext, nd->start, nd->len) == nd,
	          "a pushed node describes a run of its extent (R4)");
	rt_assert(!head == !(h->sl_bitmap[i >> RT_SL_SHIFT] &
	                     (1u << (i & (RT_SL_COUNT - 1)))),
	          "a list is empty iff its bitmap bit is clear (R3)");
	nd->idx = i;
	if (head && run_order(nd) > run_order(head) && run_second_ok(h, head, ck))
		run_link_second(h, nd, head, ck);
	else
		run_link_head(h, nd, i, head, ck);
	RUN_CLOSE(ck, h, nd);
	h->free_runs++;
}

RT_HOT void rt_runs_push(struct rt_heap *h, struct rt_node *nd, const unsigned ck)
{
	RUN_OPEN(ck, h, nd);
	unsigned i = rt_runs_index(nd->len);
	RUN_CLOSE(ck, h, nd);
	run_list_push_at(h, nd, i, ck);
}

RT_HOT void run_list_remove_at(struct rt_heap *h, struct rt_node *nd, unsigned i,
                               const unsigned ck)
{
	RT_STEP();
	RUN_OPEN(ck, h, nd);
	struct rt_node *next = nd->next, *prev = nd->prev;
	RUN_CLOSE(ck, h, nd);
	rt_assert(h->free_runs > 0, "free run count underflow");
	rt_assert((h->fl_bitmap >> (i >> RT_SL_SHIFT)) & 1u &
	          (h->sl_bitmap[i >> RT_SL_SHIFT] >> (i & (RT_SL_COUNT - 1))),
	          "a listed run's list has its bits set (R3)");
	rt_assert(prev || h->runs[i] == nd, "a node without predecessor heads its list");
	if (next)
		run_set_prev(h, next, prev, ck);
	if (prev) {
		RUN_OPEN(ck, h, prev);
		prev->next = next; /* the list keeps a head */
		RUN_CLOSE(ck, h, prev);
	} else if (!(h->runs[i] = next)) {
		unsigned fl = i >> RT_SL_SHIFT;
		uint32_t slmap = h->sl_bitmap[fl] & ~(1u << (i & (RT_SL_COUNT - 1)));
		h->sl_bitmap[fl] = slmap;
		if (!slmap)
			h->fl_bitmap &= ~(1u << fl);
	}
	h->free_runs--;
}

/* Unlist the node of a free run of len pages (len read from the map): its
 * list index is in the node (R3).  The node lies in free memory, where a
 * program's stray write could land: an index out of range is not used to
 * address the descriptor's tables; the map's length gives it instead. */
RT_HOT void run_list_remove(struct rt_heap *h, struct rt_node *nd, uint32_t len,
                            const unsigned ck)
{
	RUN_OPEN(ck, h, nd);
	unsigned i = nd->idx;
	rt_assert(i == rt_runs_index(nd->len), "a listed node records its list (R3)");
	RUN_CLOSE(ck, h, nd);
	if (rt_unlikely(i >= RT_FL_COUNT * RT_SL_COUNT))
		i = rt_runs_index(len);
	run_list_remove_at(h, nd, i, ck);
}

/* -- node placement -- */

RT_HOT struct rt_node *run_node_make(struct rt_heap *h, struct rt_extent *x,
                                     uint32_t start, uint32_t len, const unsigned ck)
{
	struct rt_node *nd = rt_run_node(x, start, len);
	RUN_OPEN(ck, h, nd);
	nd->ext = x;
	nd->start = start;
	nd->len = len;
	RUN_CLOSE(ck, h, nd);
	(void)h;
	return nd;
}

/* The node's bytes become plain free memory again (debug: the pattern). */
RT_HOT void run_node_drop(struct rt_heap *h, struct rt_extent *x,
                          struct rt_node *nd, const unsigned ck)
{
	if (rt_unlikely(RT_DEBUG(ck, h)) && nd != rt_ext_tail(x)) {
		hook_open(ck, nd, sizeof(*nd));
		rt_debug_fill(nd, sizeof(*nd), RT_FILL_FREED);
		hook_close(ck, nd, sizeof(*nd));
	}
}

/* Describe a free run in the map and its node, without listing it: for a
 * new extent, before it is published (R1, R4). */
RT_FN void rt_runs_describe(struct rt_extent *x, uint32_t start, uint32_t len)
{
	rt_map_set(x, start, PG_MAKE(PG_FREE, len));
	rt_map_set(x, start + len - 1, PG_MAKE(PG_FREE, len));
	struct rt_node *nd = rt_run_node(x, start, len);
	nd->ext = x;
	nd->start = start;
	nd->len = len;
}

/* Record a free run in the map (R1) and on its list (R3). */
RT_HOT void rt_runs_insert(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                    uint32_t len, const unsigned ck)
{
	rt_assert(len && start + len <= x->npages, "a free run lies in its extent");
	rt_map_set(x, start, PG_MAKE(PG_FREE, len));
	rt_map_set(x, start + len - 1, PG_MAKE(PG_FREE, len));
	rt_runs_push(h, run_node_make(h, x, start, len, ck), ck);
}

/* A walk over the non-empty lists in increasing order: the first level
 * it is in, and the non-empty lists of that level not passed yet (the
 * lowest of them is the current list). */
struct run_walk {
	unsigned fl;
	uint32_t slmap;
};

/* The current list of the walk in *ip, moving to the next first level if
 * the walk's is exhausted (false if no list is left).  One bitmap search
 * at most. */
RT_HOT bool run_walk_settle(const struct rt_heap *h, struct run_walk *w,
                            unsigned *ip)
{
	if (!w->slmap) {
		uint32_t flmap = h->fl_bitmap & (~0u << (w->fl + 1));
		if (!flmap)
			return false;
		w->fl = rt_ffs32(flmap);
		w->slmap = h->sl_bitmap[w->fl];
	}
	*ip = (w->fl << RT_SL_SHIFT) + rt_ffs32(w->slmap);
	return true;
}

/* The list of the longest run an extent can hold exists: the list of any
 * request of at most that many pages does. */
_Static_assert((24u << RT_SL_SHIFT) + (RTHEAP_MAX_EXTENT_PAGES >> 24) <
                       RT_FL_COUNT * RT_SL_COUNT &&
               RTHEAP_MAX_EXTENT_PAGES >> 28 == 1u,
               "every run length up to RTHEAP_MAX_EXTENT_PAGES has a list");

/* Start a walk at the first non-empty list at or above list i (the list
 * of a length of at most RTHEAP_MAX_EXTENT_PAGES pages), in *ip (false if
 * none).  At most two bitmap searches. */
RT_HOT bool run_walk_from(const struct rt_heap *h, unsigned i,
                          struct run_walk *w, unsigned *ip)
{
	rt_assert(i < RT_FL_COUNT * RT_SL_COUNT, "a request's list exists");
	w->fl = i >> RT_SL_SHIFT;
	w->slmap = h->sl_bitmap[w->fl] & (~0u << (i & (RT_SL_COUNT - 1)));
	return run_walk_settle(h, w, ip);
}

/* The next non-empty list of the walk, in *ip: the current one's bit is
 * cleared, so the next list of the same first level costs no load. */
RT_HOT bool run_walk_next(const struct rt_heap *h, struct run_walk *w,
                          unsigned *ip)
{
	w->slmap &= w->slmap - 1u;
	return run_walk_settle(h, w, ip);
}

/* The first non-empty list at or above list i, in *ip (false if none). */
RT_HOT bool run_list_from(const struct rt_heap *h, unsigned i, unsigned *ip)
{
	struct run_walk w;
	return run_walk_from(h, i, &w, ip);
}

/* The head of the first non-empty list at or above the smallest list
 * whose every run holds at least n pages, with its list index in *ip;
 * NULL if there is none.  (The aligned take's search.) */
RT_HOT struct rt_node *run_search(struct rt_heap *h, uint32_t n, unsigned *ip)
{
	unsigned i;
	if (!mapping_search(n, &i) || !run_list_from(h, i, ip))
		return NULL;
	return h->runs[*ip];
}

/* Every run on n's own list holds n pages: n is the list's lower bound
 * (always below 32 pages, where lists are exact). */
static inline bool run_list_holds(uint32_t n)
{
	unsigned s = rt_fls32((n >> RT_SL_SHIFT) | 1u);
	return (n & ((1u << s) - 1u)) == 0;
}

/*
 * The good fit: the run to take for n pages, its list index in *ip; NULL
 * if no list offers one.  Of the heads of the first two non-empty lists
 * at or above n's own list, the lower in placement order; n's own list
 * counts only if its head holds n pages (the length is read from the
 * head only where the list does not say it).  A run of fit(n) pages, if
 * any, lies on a list at or above the first one looked at, so the promise
 * of rtheap_alloc() holds; taking the lower of two heads leans
 * allocations to low addresses.  One walk over the bitmaps: a list search,
 * then at most two steps to the next non-empty list (a step within the
 * first level clears a bit; across, one more search).  The two heads are
 * compared by their addresses alone (run_order); the one node read is
 * the head of n's own list, for its length, and nothing is followed.
 */
RT_HOT struct rt_node *run_find(struct rt_heap *h, uint32_t n, unsigned *ip,
                                const unsigned ck)
{
	unsigned own = rt_runs_index(n), i, j;
	struct run_walk w;
	if (!run_walk_from(h, own, &w, &i))
		return NULL;
	struct rt_node *a = h->runs[i];
	if (i == own && !run_list_holds(n) &&
	    run_node_read(h, a, ck).len < n) { /* n's own list, head too short */
		if (!run_walk_next(h, &w, &i))
			return NULL;
		a = h->runs[i];
	}
	*ip = i;
	if (!run_walk_next(h, &w, &j))
		return a;
	RT_STEP(); /* a second head is compared */
	struct rt_node *b = h->runs[j];
	if (run_order(b) < run_order(a)) {
		*ip = j;
		return b;
	}
	return a;
}

/* Debug mode: check the node found and its neighbours before following
 * them (false: corrupt, reported). */
RT_HOT bool run_checked(struct rt_heap *h, struct rt_node *nd, const unsigned ck)
{
	if (rt_unlikely(RT_DEBUG(ck, h)) && !rt_debug_run_ok(h, nd)) {
		rt_report(h, RTHEAP_ERR_CORRUPT, nd);
		return false;
	}
	return true;
}

/* Read the run of node nd: its extent, first page and length. */
RT_HOT struct rt_extent *run_read(struct rt_heap *h, struct rt_node *nd,
                                  uint32_t *start, uint32_t *len,
                                  const unsigned ck)
{
	RUN_OPEN(ck, h, nd);
	struct rt_extent *x = nd->ext;
	*start = nd->start;
	*len = nd->len;
	RUN_CLOSE(ck, h, nd);
	rt_assert(*len && *start + *len <= x->npages &&
	          rt_run_node(x, *start, *len) == nd &&
	          x->map[*start] == PG_MAKE(PG_FREE, *len) &&
	          x->map[*start + *len - 1] == PG_MAKE(PG_FREE, *len),
	          "a listed node describes a free run of its extent (R1, R4)");
	return x;
}

/* The whole run [start, start+n) on list i is taken. */
RT_HOT void run_take_whole(struct rt_heap *h, struct rt_extent *x,
                           struct rt_node *nd, unsigned i, uint32_t start,
                           uint32_t n, const unsigned ck)
{
	run_list_remove_at(h, nd, i, ck);
	run_node_drop(h, x, nd, ck);
	if (n > 1)
		rt_map_set(x, start + n - 1, PG_MAKE(PG_NONE, 0)); /* old tail */
}

/*
 * Cut n pages off the run [start, start+len) on list i, so that the
 * remainder keeps the node where it is (R4): the run ending the extent
 * gives its first pages (its node is the header's), any other run its
 * last pages (its node is in its first page).  The remainder changes list
 * only if its length crosses a list boundary.  Returns the first page cut.
 */
RT_HOT uint32_t run_cut(struct rt_heap *h, struct rt_extent *x,
                        struct rt_node *nd, unsigned i, uint32_t start,
                        uint32_t len, uint32_t n, const unsigned ck)
{
	uint32_t rlen = len - n, rstart = start, blk;
	if (rt_node_is_tail(nd)) {
		blk = start;
		rstart = start + n;
	} else {
		blk = start + rlen;
		if (n > 1)
			rt_map_set(x, start + len - 1, PG_MAKE(PG_NONE, 0)); /* old tail */
	}
	rt_map_set(x, rstart, PG_MAKE(PG_FREE, rlen));
	RT_TEST_POINT(RT_TP_RUN_CUT); /* step-counting builds: tests only */
	rt_map_set(x, rstart + rlen - 1, PG_MAKE(PG_FREE, rlen));
	unsigned ri = rt_runs_index(rlen);
	if (ri != i)
		run_list_remove_at(h, nd, i, ck);
	RUN_OPEN(ck, h, nd);
	nd->start = rstart;
	nd->len = rlen;
	RUN_CLOSE(ck, h, nd);
	if (ri != i)
		run_list_push_at(h, nd, ri, ck);
	rt_assert(rt_run_node(x, rstart, rlen) == nd,
	          "the remainder of a cut keeps its node (R4)");
	return blk;
}

/*
 * Take a run of n pages: find, check (debug), then take the whole run or
 * cut n pages off it.  The caller writes map[start] for what the pages
 * become.
 */
RT_HOT bool rt_runs_take(struct rt_heap *h, uint32_t n, struct rt_extent **xp,
                         uint32_t *startp, const unsigned ck)
{
	unsigned i = 0;
	uint32_t start, len;
	struct rt_node *nd = run_find(h, n, &i, ck);
	if (!nd || !run_checked(h, nd, ck))
		return false;
	struct rt_extent *x = run_read(h, nd, &start, &len, ck);
	rt_assert(len >= n, "the run found holds the request");
	if (len == n)
		run_take_whole(h, x, nd, i, start, n, ck);
	else
		start = run_cut(h, x, nd, i, start, len, n, ck);
	*xp = x;
	*startp = start;
	return true;
}

/*
 * Take a run of n pages whose first page is aligned to a pages in absolute
 * terms (a a power of two >= 2: the alignment over the page size), the way
 * TLSF's memalign does.  A free run of at least n + a - 1 pages holds such
 * an n-page piece wherever it starts, so the good fit above looks for one;
 * failing that, the head of the list of n + a - 1 is taken if its own
 * aligned piece fits (it may, being that long or luckily placed).  The run
 * found is cut in up to three: the head before its first aligned page, the
 * n pages, the tail after them.  Head and tail go back to the index as
 * free runs.  They need no merge: the whole free run was taken, and its
 * neighbours are not free (R2), so each piece borders an allocated page or
 * the new block.  Cost: one unlink, at most two pushes and four map
 * writes: O(1), no loop.  The caller writes map[start] for what the pages
 * become.
 */
RT_HOT bool rt_runs_take_aligned(struct rt_heap *h, uint32_t n, uint32_t a,
                                 struct rt_extent **xp, uint32_t *startp,
                                 const unsigned ck)
{
	uint64_t span = (uint64_t)n + a - 1u;
	if (span > RTHEAP_MAX_EXTENT_PAGES)
		return false;
	unsigned i = 0;
	struct rt_node *nd = run_search(h, (uint32_t)span, &i);
	bool sure = nd != NULL; /* every run of that list holds span pages */
	if (!nd) {
		i = rt_runs_index((uint32_t)span);
		nd = h->runs[i];
		if (!nd)
			return false;
	}
	if (!run_checked(h, nd, ck))
		return false;
	uint32_t start, len;
	struct rt_extent *x = run_read(h, nd, &start, &len, ck);
	/* pages from start to the next page whose absolute number is a
	 * multiple of a */
	uint32_t base = (uint32_t)((uintptr_t)x->pages >> h->pshift);
	uint32_t off = (0u - base - start) & (a - 1u);
	if (!sure && (uint64_t)off + n > len)
		return false;
	rt_assert((uint64_t)off + n <= len, "the aligned piece lies in the run");
	uint32_t blk = start + off, rem = len - off - n;

	run_list_remove_at(h, nd, i, ck);
	run_node_drop(h, x, nd, ck);
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_skip(h, x, start, blk);
	if (off)
		rt_runs_insert(h, x, start, off, ck);
	if (rem)
		rt_runs_insert(h, x, blk + n, rem, ck);
	else if (n > 1)
		rt_map_set(x, blk + n - 1, PG_MAKE(PG_NONE, 0)); /* old tail */
	*xp = x;
	*startp = blk;
	return true;
}

/*
 * Take the first n pages of the free run [start, start+len) (len > 0 read
 * from its head entry, n <= len): a run block that ends at start grows
 * into them in place (rtheap_realloc).  The run ending the extent keeps
 * its node (the header's tail) and gives its first pages as run_cut()
 * does; any other run has its node in the first page, which is taken:
 * the node is unlisted and the remainder inserted afresh at start + n.
 * map[start] becomes NONE (an interior page of the grown block).  False
 * (nothing changed) when debug mode finds the node corrupt (reported).
 * O(1): at most one unlink, one push and four map writes.
 */
RT_HOT bool rt_runs_take_head(struct rt_heap *h, struct rt_extent *x,
                              uint32_t start, uint32_t len, uint32_t n,
                              const unsigned ck)
{
	struct rt_node *nd = rt_run_node(x, start, len);
	unsigned i = rt_runs_index(len); /* the node's list (R3), from the map */
	rt_assert(n && n <= len && x->map[start] == PG_MAKE(PG_FREE, len),
	          "the pages taken head a free run (R1)");
	if (!run_checked(h, nd, ck))
		return false;
	if (n == len) {
		run_take_whole(h, x, nd, i, start, n, ck);
	} else if (rt_node_is_tail(nd)) {
		(void)run_cut(h, x, nd, i, start, len, n, ck);
	} else {
		run_list_remove_at(h, nd, i, ck);
		run_node_drop(h, x, nd, ck);
		rt_runs_insert(h, x, start + n, len - n, ck);
	}
	rt_map_set(x, start, PG_MAKE(PG_NONE, 0));
	return true;
}

/* If the run before [*start, ...) is free, unlist it and extend the
 * range over it. */
RT_HOT void run_merge_prev(struct rt_heap *h, struct rt_extent *x,
                           uint32_t *start, uint32_t *len, const unsigned ck)
{
	if (*start == 0)
		return;
	uint32_t e = rt_map_get(x, *start - 1);
	if (PG_TYPE(e) != PG_FREE)
		return;
	uint32_t l = PG_LEN(e);
	rt_assert(l <= *start && x->map[*start - l] == e,
	          "a free run's head entry matches its tail (R1)");
	/* a run before another cannot end the extent (R4) */
	struct rt_node *nd = (struct rt_node *)(void *)rt_page_addr(h, x, *start - l);
	rt_assert(run_node_read(h, nd, ck).start == *start - l,
	          "the node of the previous free run is in its first page");
	run_list_remove(h, nd, l, ck);
	run_node_drop(h, x, nd, ck);
	if (l > 1)
		rt_map_set(x, *start - 1, PG_MAKE(PG_NONE, 0));
	rt_map_set(x, *start, PG_MAKE(PG_NONE, 0));
	*start -= l;
	*len += l;
}

/* If the run after [start, start+*len) is free, unlist it and extend the
 * range over it. */
RT_HOT void run_merge_next(struct rt_heap *h, struct rt_extent *x,
                           uint32_t start, uint32_t *len, const unsigned ck)
{
	if (start + *len >= x->npages)
		return;
	uint32_t e = rt_map_get(x, start + *len);
	if (PG_TYPE(e) != PG_FREE)
		return;
	uint32_t r = PG_LEN(e);
	rt_assert(r <= x->npages - start - *len &&
	          x->map[start + *len + r - 1] == e,
	          "a free run's tail entry matches its head (R1)");
	struct rt_node *nd = rt_run_node(x, start + *len, r);
	rt_assert(run_node_read(h, nd, ck).start == start + *len,
	          "the node of the next free run describes it");
	run_list_remove(h, nd, r, ck);
	run_node_drop(h, x, nd, ck);
	rt_map_set(x, start + *len, PG_MAKE(PG_NONE, 0));
	*len += r;
}

/*
 * Give pages back: merge the previous run, merge the next run, insert
 * (R2).  The caller has checked that [start, start+len) is a live run or
 * an empty bucket page.
 */
RT_HOT void rt_runs_release(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                            uint32_t len, const unsigned ck)
{
	rt_assert(len && start + len <= x->npages, "released pages are in the extent");
	run_merge_prev(h, x, &start, &len, ck);
	run_merge_next(h, x, start, &len, ck);
	rt_runs_insert(h, x, start, len, ck);
}

/* Bytes of the head run of the highest non-empty list: an allocation of
 * that size is sure to succeed (run_find takes that head: it is on the
 * request's own list, holds the request, and no list lies above it). */
RT_FN size_t rt_runs_largest(const struct rt_heap *h)
{
	if (!h->fl_bitmap)
		return 0;
	unsigned fl = rt_fls32(h->fl_bitmap);
	unsigned sl = rt_fls32(h->sl_bitmap[fl]);
	return (size_t)rt_run_node_read(h, h->runs[(fl << RT_SL_SHIFT) + sl]).len
	       << h->pshift;
}
