/* SPDX-License-Identifier: MIT */
/*
 * bucket.c -- sub-page blocks: power-of-two classes 16 B .. P/2.
 *
 * A bucket page holds blocks of one class.  Its free blocks are tracked by
 * a bitmap: in the map entry itself when the page has at most 16 blocks
 * ("inline", every class at the default 256 B page), else in the side table
 * ("side", P/512 32-bit words per page) with the free count in the entry.
 *
 * A page with at least one free block is on its extent's list for its
 * class; the list node (two pointers) lives in one free block of the
 * page, the "node block", whose index is in the map entry.  The heap keeps,
 * per class, the set of extents whose list is not empty.
 *
 * Invariants maintained here:
 *  B1  a bucket page is on its class list iff it has a free block;
 *  B2  the node block of a listed page is free and holds its list node;
 *  B3  cls[c].exts holds an extent iff its list for class c is not empty;
 *  B4  a page whose blocks are all free is not a bucket page any more: it
 *      is released to the page runs at once.
 * The release path is whole here: the debug check of what emptying a page
 * touches, the caller's ckfn, the misuse reports (not a block, double
 * free), fill and checker hooks, and the class counts.
 * Bounds: alloc and free take at most one map read of the page, one of a
 * neighbour page (list unlink), and a bitmap search of one word inline, or
 * at most P/512 words on a side page (1 word for P <= 512, 64 at 32 KiB).
 */
#ifndef RTHEAP_UNITY_BUILD
#error "bucket.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

static inline uint32_t nblocks_of(const struct rt_heap *h, unsigned cls)
{
	return (uint32_t)(h->page >> (cls + 4));
}

static inline void *block_addr(const struct rt_heap *h,
                               const struct rt_extent *x, uint32_t pg,
                               unsigned cls, uint32_t b)
{
	return (uint8_t *)rt_page_addr(h, x, pg) + ((size_t)b << (cls + 4));
}

static inline uint32_t *side_words(const struct rt_heap *h,
                                   const struct rt_extent *x, uint32_t pg)
{
	return x->side + (size_t)pg * h->side_words;
}

static inline uint32_t bkt_node_index(const struct rt_heap *h, uint32_t e)
{
	return nblocks_of(h, BK_CLS(e)) <= BK_INLINE_MAX ? BK_INODE(e)
	                                                 : BK_SNODE(e);
}

RT_FN struct rt_bnode *rt_bucket_node(const struct rt_heap *h,
                                const struct rt_extent *x, uint32_t pg,
                                uint32_t e)
{
	return block_addr(h, x, pg, BK_CLS(e), bkt_node_index(h, e));
}

/* -- the per-extent list of pages with free blocks (B1, B3).  Nodes live
 * in free blocks: memory checkers see them poisoned except while the heap
 * reads or writes them (hooks.h). -- */

/* ck: which checkers to speak to (hooks.h), a constant 0 on the path
 * without any. */
#define BKT_OPEN(ck, nd) hook_open((ck), (void *)(uintptr_t)(nd), sizeof(struct rt_bnode))
#define BKT_CLOSE(ck, nd) hook_close((ck), (void *)(uintptr_t)(nd), sizeof(struct rt_bnode))

RT_FN struct rt_bnode rt_bucket_node_read(const struct rt_bnode *nd)
{
	const unsigned ck = hook_state();
	struct rt_bnode v;
	BKT_OPEN(ck, nd);
	v = *nd;
	BKT_CLOSE(ck, nd);
	return v;
}

RT_HOT void bkt_list_push(struct rt_heap *h, struct rt_extent *x, unsigned cls,
                          struct rt_bnode *nd, const unsigned ck)
{
	struct rt_bnode *head = x->bkt_head[cls];
	RT_STEP();
	rt_assert(!head == !rt_extset_has(&h->cls[cls].exts, x->slot),
	          "an extent is in its class's set iff its list is not empty (B3)");
	BKT_OPEN(ck, nd);
	nd->prev = NULL;
	nd->next = head;
	BKT_CLOSE(ck, nd);
	if (head) {
		BKT_OPEN(ck, head);
		head->prev = nd;
		BKT_CLOSE(ck, head);
	} else {
		rt_extset_add(&h->cls[cls].exts, x->slot);
	}
	x->bkt_head[cls] = nd;
}

RT_HOT void bkt_list_unlink(struct rt_heap *h, struct rt_extent *x,
                            unsigned cls, struct rt_bnode *nd, const unsigned ck)
{
	RT_STEP();
	BKT_OPEN(ck, nd);
	struct rt_bnode *prev = nd->prev, *next = nd->next;
	rt_assert(prev || x->bkt_head[cls] == nd,
	          "a page node without predecessor heads its class list (B1)");
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_fill(nd, sizeof(*nd), RT_FILL_FREED);
	BKT_CLOSE(ck, nd);
	if (prev) {
		BKT_OPEN(ck, prev);
		prev->next = next;
		BKT_CLOSE(ck, prev);
	} else if (!(x->bkt_head[cls] = next)) {
		rt_extset_del(&h->cls[cls].exts, x->slot);
	}
	if (next) {
		BKT_OPEN(ck, next);
		next->prev = prev;
		BKT_CLOSE(ck, next);
	}
}

/* Unlink, after checking the node in debug mode (false: corrupt, reported). */
RT_HOT bool bkt_unlink_checked(struct rt_heap *h, struct rt_extent *x,
                               unsigned cls, struct rt_bnode *nd, const unsigned ck)
{
	if (rt_unlikely(RT_DEBUG(ck, h)) && !rt_debug_bnode_ok(h, x, cls, nd)) {
		rt_report(h, RTHEAP_ERR_CORRUPT, nd);
		return false;
	}
	bkt_list_unlink(h, x, cls, nd, ck);
	return true;
}

/* -- side bitmaps: bounded scans over P/512 words -- */

static uint32_t side_highest_except(uint32_t *w, uint32_t nw, uint32_t skip)
{
	for (uint32_t i = nw; i-- > 0;) {
		RT_STEP();
		uint32_t v = w[i];
		if (i == (skip >> 5))
			v &= ~(1u << (skip & 31));
		if (v)
			return i * 32u + rt_fls32(v);
	}
	return RT_NIL;
}

static bool side_test(const uint32_t *w, uint32_t b)
{
	return (w[b >> 5] >> (b & 31)) & 1u;
}

/* -- allocation -- */

static void *take_from_page(struct rt_heap *h, struct rt_extent *x,
                            uint32_t pg, unsigned cls, const unsigned ck)
{
	uint32_t e = rt_map_get(x, pg);
	uint32_t nb = nblocks_of(h, cls);
	uint32_t b;
	rt_assert(PG_TYPE(e) == PG_BUCKET && BK_CLS(e) == cls,
	          "a listed page is a bucket page of its class (B1)");

	if (nb <= BK_INLINE_MAX) {
		uint32_t bits = BK_IBITS(e), node = BK_INODE(e);
		uint32_t others = bits & ~(1u << node);
		rt_assert((bits >> node) & 1u, "the node block of a listed page is free (B2)");
		if (others) {
			b = rt_fls32(others);
		} else {
			b = node;
			if (!bkt_unlink_checked(h, x, cls, block_addr(h, x, pg, cls, b), ck))
				return NULL;
		}
		rt_map_set(x, pg, BK_INLINE(bits & ~(1u << b), node, cls));
	} else {
		uint32_t *w = side_words(h, x, pg);
		uint32_t cnt = BK_SCOUNT(e), node = BK_SNODE(e);
		rt_assert(cnt && side_test(w, node),
		          "the node block of a listed page is free (B2)");
		if (cnt > 1) {
			b = side_highest_except(w, nb / 32, node);
		} else {
			b = node;
			if (!bkt_unlink_checked(h, x, cls, block_addr(h, x, pg, cls, b), ck))
				return NULL;
		}
		w[b >> 5] &= ~(1u << (b & 31));
		rt_map_set(x, pg, BK_SIDE(cnt - 1, node, cls));
	}
	return block_addr(h, x, pg, cls, b);
}

/* Always inlined: called from both copies of the alloc path (hooks.h), gcc
 * would keep it out of line, and the call costs about 30 instructions on
 * the longest allocation. */
RT_HOT void *take_new_page(struct rt_heap *h, unsigned cls, const unsigned ck)
{
	struct rt_extent *x;
	uint32_t pg;
	if (!rt_runs_take(h, 1, &x, &pg, ck))
		return NULL;
	if (rt_unlikely(RT_DEBUG(ck, h))) {
		void *pa = rt_page_addr(h, x, pg);
		rt_debug_take(h, x, pg, 1);
		hook_open(ck, pa, h->page);
		rt_debug_fill(pa, h->page, RT_FILL_FREED);
		hook_close(ck, pa, h->page);
	}
	uint32_t nb = nblocks_of(h, cls);
	uint32_t b = nb - 1;
	/* block 0 becomes the node block; the last block is handed out */
	if (nb <= BK_INLINE_MAX) {
		uint32_t bits = ((1u << nb) - 1u) & ~(1u << b);
		rt_map_set(x, pg, BK_INLINE(bits, 0, cls));
	} else {
		uint32_t *w = side_words(h, x, pg);
		uint32_t nw = nb / 32;
		for (uint32_t i = 0; i < nw; i++) {
			RT_STEP();
			w[i] = ~0u;
		}
		w[b >> 5] &= ~(1u << (b & 31));
		rt_map_set(x, pg, BK_SIDE(nb - 1, 0, cls));
	}
	bkt_list_push(h, x, cls, block_addr(h, x, pg, cls, 0), ck);
	h->pages_bucket++;
	h->cls[cls].pages++;
	return block_addr(h, x, pg, cls, b);
}

RT_HOT void *rt_bucket_alloc(struct rt_heap *h, unsigned cls, const unsigned ck)
{
	struct rt_extset *s = &h->cls[cls].exts;
	void *p;
	if (!rt_extset_empty(s)) {
		struct rt_extent *x = h->by_slot[rt_extset_first(s)];
		rt_assert(x && x->bkt_head[cls],
		          "an extent in a class's set has a partial page of it (B3)");
		uint32_t pg = (uint32_t)(((uint8_t *)x->bkt_head[cls] - x->pages) >>
		                         h->pshift);
		p = take_from_page(h, x, pg, cls, ck);
		if (!p)
			return NULL;
	} else {
		p = take_new_page(h, cls, ck);
		if (!p)
			return NULL;
	}
	h->cls[cls].live++;
	return p;
}

/* -- release -- */

RT_HOT void page_empty(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                       unsigned cls, uint32_t node, const unsigned ck)
{
	rt_assert(h->pages_bucket > 0 && h->cls[cls].pages > 0,
	          "bucket page count underflow");
	h->pages_bucket--;
	h->cls[cls].pages--;
	bkt_list_unlink(h, x, cls, block_addr(h, x, pg, cls, node), ck);
	rt_runs_release(h, x, pg, 1, ck);
}

/* The block is free memory again: fill (debug), tell the checkers. */
RT_HOT void bkt_block_drop(struct rt_heap *h, unsigned cls, void *blk,
                           const unsigned ck)
{
	size_t bsize = (size_t)16 << cls;
	if (rt_unlikely(RT_DEBUG(ck, h)))
		rt_debug_fill(blk, bsize, RT_FILL_FREED);
	hook_block_free(ck, blk, bsize);
	rt_assert(h->cls[cls].live > 0, "live block count underflow");
	h->cls[cls].live--;
}

/* Block b (at blk) of an inline page (entry e): mark it free, put the page
 * back on its list if it was full (B1), release it if it is now empty
 * (B4). */
RT_HOT int bkt_free_inline(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                           uint32_t e, uint32_t b, void *blk,
                           const unsigned ck)
{
	unsigned cls = BK_CLS(e);
	uint32_t nb = nblocks_of(h, cls);
	uint32_t bits = BK_IBITS(e);
	if ((bits >> b) & 1u) {
		rt_report(h, RTHEAP_ERR_DOUBLE_FREE, blk);
		return -EINVAL;
	}
	bkt_block_drop(h, cls, blk, ck);
	if (!bits) {
		rt_map_set(x, pg, BK_INLINE(1u << b, b, cls));
		bkt_list_push(h, x, cls, blk, ck);
		return 0;
	}
	uint32_t node = BK_INODE(e);
	bits |= 1u << b;
	if (bits == (1u << nb) - 1u) {
		page_empty(h, x, pg, cls, node, ck);
		return 0;
	}
	rt_map_set(x, pg, BK_INLINE(bits, node, cls));
	return 0;
}

/* The same for a side page: the bitmap in the side table, the count in
 * the entry. */
RT_HOT int bkt_free_side(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                         uint32_t e, uint32_t b, void *blk,
                         const unsigned ck)
{
	unsigned cls = BK_CLS(e);
	uint32_t nb = nblocks_of(h, cls);
	uint32_t *w = side_words(h, x, pg);
	if (side_test(w, b)) {
		rt_report(h, RTHEAP_ERR_DOUBLE_FREE, blk);
		return -EINVAL;
	}
	bkt_block_drop(h, cls, blk, ck);
	uint32_t cnt = BK_SCOUNT(e);
	w[b >> 5] |= 1u << (b & 31);
	if (!cnt) {
		rt_map_set(x, pg, BK_SIDE(1, b, cls));
		bkt_list_push(h, x, cls, blk, ck);
		return 0;
	}
	rt_assert(cnt < nb, "a side page with a live block has a free count below its blocks");
	if (cnt + 1 == nb) {
		page_empty(h, x, pg, cls, BK_SNODE(e), ck);
		return 0;
	}
	rt_map_set(x, pg, BK_SIDE(cnt + 1, BK_SNODE(e), cls));
	return 0;
}

/*
 * Release the block at ptr, offset off of bucket page pg of x (entry e):
 * check what emptying the page would touch (debug), ask ckfn if the block
 * is live, check that ptr starts a block, then free it in its page.  Its
 * size in *bsize.  Returns 0 or a negative error, misuse reported.
 * The inline and side variants are separate steps, both inlined.
 */
RT_HOT int rt_bucket_free(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                          uint32_t e, size_t off, void *ptr,
                          int (*ckfn)(void *), size_t *bsize, const unsigned ck)
{
	unsigned cls = BK_CLS(e);
	int err;
	if (rt_unlikely(RT_DEBUG(ck, h)) && !rt_bucket_free_ok(h, x, pg, e, off)) {
		rt_report(h, RTHEAP_ERR_CORRUPT, ptr);
		return -EUCLEAN;
	}
	if (ckfn && rt_bucket_is_live(h, x, pg, e, off) && (err = ckfn(ptr)) != 0)
		return err;
	*bsize = (size_t)16 << cls;
	if (off & (*bsize - 1)) {
		rt_report(h, RTHEAP_ERR_NOT_BLOCK, ptr);
		return -EINVAL;
	}
	uint32_t b = (uint32_t)(off >> (cls + 4));
	if (nblocks_of(h, cls) <= BK_INLINE_MAX)
		return bkt_free_inline(h, x, pg, e, b, ptr, ck);
	return bkt_free_side(h, x, pg, e, b, ptr, ck);
}

/* Debug mode, before rt_bucket_free(): if this release empties the page,
 * check the list node and the runs the page would merge with. */
RT_FN bool rt_bucket_free_ok(struct rt_heap *h, struct rt_extent *x,
                             uint32_t pg, uint32_t e, size_t off)
{
	unsigned cls = BK_CLS(e);
	if (!rt_bucket_is_live(h, x, pg, e, off))
		return true; /* rt_bucket_free() refuses it without reading nodes */
	if (rt_bucket_nfree(h, x, pg, e) + 1 < nblocks_of(h, cls))
		return true;
	return rt_debug_bnode_ok(h, x, cls, rt_bucket_node(h, x, pg, e)) &&
	       rt_debug_release_ok(h, x, pg, 1);
}

/* -- queries (check_block, usable_size, rtheap_check) -- */

RT_FN bool rt_bucket_block_free(const struct rt_heap *h, const struct rt_extent *x,
                          uint32_t pg, uint32_t e, uint32_t b)
{
	if (nblocks_of(h, BK_CLS(e)) <= BK_INLINE_MAX)
		return (BK_IBITS(e) >> b) & 1u;
	return side_test(side_words(h, x, pg), b);
}

RT_FN bool rt_bucket_is_live(const struct rt_heap *h, const struct rt_extent *x,
                       uint32_t pg, uint32_t e, size_t off)
{
	unsigned cls = BK_CLS(e);
	if (off & (((size_t)16 << cls) - 1))
		return false;
	return !rt_bucket_block_free(h, x, pg, e, (uint32_t)(off >> (cls + 4)));
}

/* Size of the live block at offset off of bucket page pg (entry e), or 0
 * if no live block starts there. */
RT_FN size_t rt_bucket_size(const struct rt_heap *h, const struct rt_extent *x,
                            uint32_t pg, uint32_t e, size_t off)
{
	return rt_bucket_is_live(h, x, pg, e, off) ? (size_t)16 << BK_CLS(e) : 0;
}

RT_FN uint32_t rt_bucket_nfree(const struct rt_heap *h, const struct rt_extent *x,
                         uint32_t pg, uint32_t e)
{
	uint32_t nb = nblocks_of(h, BK_CLS(e));
	if (nb <= BK_INLINE_MAX)
		return (uint32_t)__builtin_popcount(BK_IBITS(e));
	uint32_t n = 0;
	const uint32_t *w = side_words(h, x, pg);
	for (uint32_t i = 0; i < nb / 32; i++)
		n += (uint32_t)__builtin_popcount(w[i]);
	(void)x;
	return n;
}
