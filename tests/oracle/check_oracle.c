/* SPDX-License-Identifier: MIT */
/*
 * White-box corruptions for rtheap_check(): the library is compiled into
 * this file (heap/unity.c) so that the corruptions can reach the private
 * structures of heap/internal.h.  Each case builds the same small heap,
 * changes one field so that exactly one fault kind of heap/check.c is the
 * first one the walk meets, and states where it must be reported.  Every
 * change is recorded and undone, so that the heap checks clean again.
 *
 * A kind whose condition has several parts has one case per part (a
 * variant), so that each way of reaching it is shown to report the same
 * place.
 *
 * Layout (page P, extent 0, the buffer with the lower slot):
 *   pages 0..2  a live 3-page run          page 3  a bucket page, 3 blocks live
 *   pages 4..7  a free run (node in page 4) pages 8..9 a live 2-page run
 *   the rest    free (node in the extent header); extent 1: a second buffer.
 * P = 256 with 64-byte blocks (4 a page, inline bitmap), or P = 1024 with
 * 16-byte blocks (64 a page, side bitmap) for the side-table cases.
 */
#include "unity.c"

#include <stdlib.h>
#include <string.h>

#include "check_oracle.h"

#if defined(__SANITIZE_ADDRESS__)
#define ORACLE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ORACLE_ASAN 1
#endif
#endif
#ifdef ORACLE_ASAN
#include <sanitizer/asan_interface.h>
#define OPEN(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define OPEN(p, n) ((void)(p), (void)(n))
#endif

#define BUF_A (1u << 20)
#define BUF_B (1u << 16)
#define MAX_SAVES 8

/* A node outside every extent (a corrupt list link to foreign memory). */
static struct rt_node outside_node;

struct ctx {
	rtheap_t heap;
	struct rt_heap *h;
	struct rt_extent *x;       /* extent 0 (the buffer of slot 0) */
	unsigned char *a, *b;      /* buffers */
	size_t page;
	unsigned cls;              /* class of the small blocks */
	void *run, *run2, *small[3];
	struct { void *at; size_t n; unsigned char old[64]; } saved[MAX_SAVES];
	int nsaved;
};

static void save(struct ctx *c, void *at, size_t n)
{
	if (c->nsaved >= MAX_SAVES || n > sizeof c->saved[0].old)
		abort();
	OPEN(at, n);
	c->saved[c->nsaved].at = at;
	c->saved[c->nsaved].n = n;
	memcpy(c->saved[c->nsaved].old, at, n);
	c->nsaved++;
}

static void restore(struct ctx *c)
{
	while (c->nsaved > 0) {
		c->nsaved--;
		OPEN(c->saved[c->nsaved].at, c->saved[c->nsaved].n);
		memcpy(c->saved[c->nsaved].at, c->saved[c->nsaved].old, c->saved[c->nsaved].n);
	}
}

/* SET(c, lvalue, value): record the old bytes, then assign. */
#define SET(c, lv, val) do { save((c), &(lv), sizeof(lv)); (lv) = (val); } while (0)

static void *page_addr(struct ctx *c, uint32_t pg)
{
	return c->x->pages + (size_t)pg * c->page;
}

static void want(struct oracle_result *r, const void *addr, int ext, long page)
{
	r->want.addr = addr;
	r->want.extent = ext;
	r->want.page = page;
}

static int setup(struct ctx *c, size_t page)
{
	memset(c, 0, sizeof *c);
	c->page = page;
	c->a = aligned_alloc(4096, BUF_A);
	c->b = aligned_alloc(4096, BUF_B);
	if (!c->a || !c->b)
		return -1;
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.page_size = page;
	cfg.lock = RTHEAP_LOCK_NONE;
	cfg.name = "oracle";
	if (rtheap_init(&c->heap, c->a, BUF_A, &cfg))
		return -1;
	c->h = rt_heap_of(&c->heap);
	c->x = c->h->by_slot[0];
	size_t blk = page == 256 ? 64 : 16;
	c->cls = page == 256 ? 2 : 0;
	c->run = rtheap_alloc(&c->heap, 3 * page);
	for (int i = 0; i < 3; i++)
		c->small[i] = rtheap_alloc(&c->heap, blk);
	void *hole = rtheap_alloc(&c->heap, 4 * page);
	c->run2 = rtheap_alloc(&c->heap, 2 * page);
	if (!c->run || !hole || !c->run2 || rtheap_free(&c->heap, hole))
		return -1;
	if (rtheap_extend(&c->heap, c->b, BUF_B, 0))
		return -1;
	if (c->run != page_addr(c, 0) || c->run2 != page_addr(c, 8) ||
	    PG_TYPE(c->x->map[3]) != PG_BUCKET || c->x->map[4] != PG_MAKE(PG_FREE, 4) ||
	    c->h->nr_ext != 2 || BK_CLS(c->x->map[3]) != c->cls)
		return -1;
	return rtheap_check(&c->heap, NULL) == 0 ? 0 : -1;
}

static void teardown(struct ctx *c)
{
	if (c->h)
		rtheap_destroy(&c->heap, NULL, NULL);
	/* the heap poisons free memory for ASan: clear it before freeing */
	if (c->a) {
		OPEN(c->a, BUF_A);
		free(c->a);
	}
	if (c->b) {
		OPEN(c->b, BUF_B);
		free(c->b);
	}
}

/* index of a live small block in page 3, and of the page's node block */
static uint32_t live_index(struct ctx *c)
{
	size_t blk = (size_t)16 << c->cls;
	return (uint32_t)(((unsigned char *)c->small[0] - (unsigned char *)page_addr(c, 3)) / blk);
}

static struct rt_node *free_node(struct ctx *c)
{
	return (struct rt_node *)page_addr(c, 4);
}

/* a node written into the live run at pages 8..9, made the head of the
 * list of the free run 4..7 (whose real node is dropped from it) */
static struct rt_node *fake_head(struct ctx *c, struct rt_extent *ext, uint32_t start,
                                 uint32_t len)
{
	struct rt_node *f = c->run2;
	OPEN(f, sizeof *f);
	f->prev = f->next = NULL;
	f->ext = ext;
	f->start = start;
	f->len = len;
	SET(c, c->h->runs[rt_runs_index(4)], f);
	return f;
}

/* extent 1 (the second buffer) and its index in the sorted table */
static struct rt_extent *ext_b(struct ctx *c)
{
	return c->h->by_slot[1];
}
static uint32_t sorted_index(struct ctx *c, const struct rt_extent *x)
{
	for (uint32_t i = 0; i < c->h->nr_ext; i++)
		if (c->h->look[i].x == x)
			return i;
	abort();
}

/* A copy of extent 1's header at the start of its (free) page array, with
 * slot `slot`, put in extent 1's place in the sorted table; its entry still
 * ends where the buffer ends, so the table stays sorted. */
static struct rt_extent *fake_extent(struct ctx *c, uint32_t slot)
{
	struct rt_extent *b = ext_b(c);
	uint32_t i = sorted_index(c, b);
	struct rt_extent *f = (struct rt_extent *)(void *)b->pages;
	size_t shift = (size_t)(b->pages - (unsigned char *)b);
	OPEN(f, sizeof *f);
	memcpy(f, b, sizeof *f);
	f->slot = slot;
	SET(c, c->h->look[i].x, f);
	SET(c, c->h->bases[i], (uintptr_t)f);
	SET(c, c->h->rsize[i], c->h->rsize[i] - shift);
	SET(c, c->h->look[i].lsize, c->h->look[i].lsize - shift);
	return f;
}

static void dummy_lowmem(rtheap_t *heap, size_t free_bytes, size_t request, void *arg)
{
	(void)heap;
	(void)free_bytes;
	(void)request;
	(void)arg;
}

typedef void corrupt_fn(struct ctx *c, struct oracle_result *r);

/* ---- extent table ---- */
static void k_ext_count(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->nr_live, 3);
	want(r, c->h, -1, -1);
}
static void k_ext_magic(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->magic, RT_EXT_MAGIC ^ 1u);
	want(r, c->x, 0, -1);
}
static void k_ext_slot(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->slot, 1);
	want(r, c->x, 0, -1);
}
static void k_ext_pshift(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->pshift, c->x->pshift + 1);
	want(r, c->x, 0, -1);
}
static void k_ext_map(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map, c->x->map + 1);
	want(r, c->x, 0, -1);
}
static void k_ext_pages(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->npages, 1);
	want(r, c->x, 0, -1);
}
static void k_ext_span(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->span, c->x->span + c->page);
	want(r, c->x, 0, -1);
}
static void k_ext_hw(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->hw, c->x->npages + 1);
	want(r, c->x, 0, -1);
}
static void k_ext_size(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->size, c->h->size + 1);
	want(r, c->h, -1, -1);
}
static void k_ext_bases(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->bases[1], c->h->bases[1] + 1);
	want(r, c->h->look[1].x, -1, -1);
}
static void k_ext_overlap(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->rsize[0], c->h->bases[1] - c->h->bases[0] + 1);
	want(r, c->h->look[0].x, -1, -1);
}
static void k_ext_lsize(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->look[1].lsize, c->h->look[1].lsize + 1);
	want(r, c->h->look[1].x, -1, -1);
}
static void k_ext_hidden(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->look[1].lsize, 0);
	want(r, c->h, -1, -1);
}

/* ---- page maps ---- */
static void k_free_len(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[4], PG_MAKE(PG_FREE, 0));
	want(r, page_addr(c, 4), 0, 4);
}
static void k_free_tail(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[7], PG_MAKE(PG_FREE, 3));
	want(r, page_addr(c, 4), 0, 4);
}
static void k_free_inner(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[6], PG_MAKE(PG_RUN, 1));
	want(r, page_addr(c, 6), 0, 6);
}
static void k_free_adjacent(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[8], PG_MAKE(PG_FREE, 2));
	SET(c, c->x->map[9], PG_MAKE(PG_FREE, 2));
	want(r, page_addr(c, 8), 0, 8);
}
static void k_free_node(struct ctx *c, struct oracle_result *r)
{
	SET(c, free_node(c)->len, 5);
	want(r, free_node(c), 0, 4);
}
static void k_run_len(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[8], PG_MAKE(PG_RUN, c->x->npages));
	want(r, page_addr(c, 8), 0, 8);
}
static void k_run_inner(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[2], PG_MAKE(PG_FREE, 1));
	want(r, page_addr(c, 2), 0, 2);
}
static void k_page_none(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[8], PG_MAKE(PG_NONE, 0));
	want(r, page_addr(c, 8), 0, 8);
}
static void k_bucket_cls(struct ctx *c, struct oracle_result *r)
{
	uint32_t e = c->x->map[3];
	SET(c, c->x->map[3], (e & ~(0xfu << 25)) | (15u << 25));
	want(r, page_addr(c, 3), 0, 3);
}
static void k_bucket_bits(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[3], c->x->map[3] | (1u << 4)); /* 4 blocks: bits 0..3 */
	want(r, page_addr(c, 3), 0, 3);
}
static void k_bucket_count(struct ctx *c, struct oracle_result *r)
{
	uint32_t e = c->x->map[3];
	SET(c, c->x->map[3], (e & ~0xfffu) | ((BK_SCOUNT(e) + 1) & 0xfffu));
	want(r, page_addr(c, 3), 0, 3);
}
static void k_bucket_empty(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[3], c->x->map[3] | 0xfu);
	want(r, page_addr(c, 3), 0, 3);
}
static void k_bucket_nodeblk(struct ctx *c, struct oracle_result *r)
{
	uint32_t e = c->x->map[3];
	SET(c, c->x->map[3], (e & ~(0xfu << 16)) | (live_index(c) << 16));
	want(r, page_addr(c, 3), 0, 3);
}

/* ---- free-run index ---- */
static void k_fl_range(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->fl_bitmap, c->h->fl_bitmap | (1u << RT_FL_COUNT));
	want(r, c->h, -1, -1);
}
static void k_sl_range(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->sl_bitmap[0], c->h->sl_bitmap[0] | (1u << RT_SL_COUNT));
	want(r, c->h, -1, -1);
}
static void k_fl_disagree(struct ctx *c, struct oracle_result *r)
{
	unsigned fl = rt_ffs32(c->h->fl_bitmap);
	SET(c, c->h->fl_bitmap, c->h->fl_bitmap & ~(1u << fl));
	want(r, c->h, -1, -1);
}
static void k_sl_disagree(struct ctx *c, struct oracle_result *r)
{
	unsigned fl = rt_ffs32(c->h->fl_bitmap);
	uint32_t empty = ~c->h->sl_bitmap[fl] & ((1u << RT_SL_COUNT) - 1u);
	SET(c, c->h->sl_bitmap[fl], c->h->sl_bitmap[fl] | (1u << rt_ffs32(empty)));
	want(r, c->h, -1, -1);
}
static void k_run_unknown_ext(struct ctx *c, struct oracle_result *r)
{
	struct rt_node *f = fake_head(c, NULL, 4, 4);
	f->ext = (struct rt_extent *)(void *)f;
	want(r, f, -1, -1);
}
static void k_run_backlink(struct ctx *c, struct oracle_result *r)
{
	struct rt_node *nd = free_node(c);
	if (c->h->runs[rt_runs_index(4)] != nd)
		abort(); /* the layout: the run 4..7 heads its list */
	SET(c, nd->prev, nd);
	want(r, nd, 0, 4);
}
static void k_run_wrong_list(struct ctx *c, struct oracle_result *r)
{
	if (rt_runs_index(5) == rt_runs_index(4))
		abort();
	struct rt_node *f = fake_head(c, c->x, 4, 5);
	want(r, f, 0, 4);
}
static void k_run_not_free(struct ctx *c, struct oracle_result *r)
{
	struct rt_node *f = fake_head(c, c->x, 0, 4);
	want(r, f, 0, 0);
}
static void k_run_count(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->free_runs, c->h->free_runs + 1);
	want(r, c->h, -1, -1);
}

/* ---- bucket lists ---- */
static void k_bset_noext(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->cls[0].exts.w[0], c->h->cls[0].exts.w[0] | (1ull << 2));
	want(r, c->h, 2, -1);
}
static void k_bset_disagree(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->cls[c->cls].exts.w[0], c->h->cls[c->cls].exts.w[0] & ~1ull);
	want(r, c->x, 0, -1);
}
static void k_blist_outside(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->bkt_head[c->cls], (struct rt_bnode *)(void *)c->x);
	want(r, c->x, 0, -1);
}
static void k_blist_not_partial(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->bkt_head[c->cls], (struct rt_bnode *)page_addr(c, 0));
	want(r, page_addr(c, 0), 0, 0);
}
static void k_blist_not_node(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->bkt_head[c->cls], (struct rt_bnode *)c->small[0]);
	want(r, c->small[0], 0, 3);
}
static void k_blist_backlink(struct ctx *c, struct oracle_result *r)
{
	struct rt_bnode *nd = c->x->bkt_head[c->cls];
	SET(c, nd->prev, nd);
	want(r, nd, 0, 3);
}
static void k_blist_count(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->bkt_head[c->cls], NULL);
	SET(c, c->h->cls[c->cls].exts.w[0], c->h->cls[c->cls].exts.w[0] & ~1ull);
	want(r, c->h, -1, -1);
}

/* ---- statistics ---- */
static void k_st_used(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->used, c->h->used + 16);
	want(r, c->h, -1, -1);
}
static void k_st_live(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->free_calls, c->h->free_calls + 1);
	want(r, c->h, -1, -1);
}
static void k_st_pages(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->pages_bucket, c->h->pages_bucket + 1);
	want(r, c->h, -1, -1);
}
static void k_st_usable(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->usable, c->h->usable + c->page);
	want(r, c->h, -1, -1);
}
static void k_st_peak(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->peak, c->h->used - 1);
	want(r, c->h, -1, -1);
}
static void k_st_class(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->cls[c->cls].pages, c->h->cls[c->cls].pages + 1);
	want(r, c->h, -1, -1);
}
static void k_st_lowmem(struct ctx *c, struct oracle_result *r)
{
	if (c->h->lowmem_armed)
		SET(c, c->h->lowmem_rearm, 1);
	else
		SET(c, c->h->lowmem_trip, 0);
	want(r, c->h, -1, -1);
}
static void k_st_slow(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->alloc_slow, !c->h->alloc_slow);
	want(r, c->h, -1, -1);
}
static void k_st_copy(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->slow_copy, (uint8_t)!c->h->slow_copy);
	want(r, c->h, -1, -1);
}
static void k_ext_step(struct ctx *c, struct oracle_result *r)
{
	/* 0 is a step lookups can survive: they read entry 0 only */
	SET(c, c->h->lk_half, 0);
	want(r, c->h, -1, -1);
}
static void v_free_node_idx(struct ctx *c, struct oracle_result *r)
{
	SET(c, free_node(c)->idx, free_node(c)->idx ^ 1u);
	want(r, free_node(c), 0, 4);
}

/* ---- variants: the other parts of a kind's condition ---- */
static void v_ext_count_none(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->nr_ext, 0);
	want(r, c->h, -1, -1);
}
static void v_ext_count_many(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->nr_ext, RTHEAP_MAX_EXTENTS + 1);
	want(r, c->h, -1, -1);
}
static void v_ext_side_moved(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->side, c->x->side + 1);
	want(r, c->x, 0, -1);
}
static void v_ext_side_without_table(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->side, c->x->map + c->x->npages);
	want(r, c->x, 0, -1);
}
static void v_ext_too_many_pages(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->npages, RTHEAP_MAX_EXTENT_PAGES + 1u);
	want(r, c->x, 0, -1);
}
static void v_ext_pages_misaligned(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->pages, c->x->pages + 16);
	want(r, c->x, 0, -1);
}
static void v_ext_pages_over_map(struct ctx *c, struct oracle_result *r)
{
	/* still aligned, below the end of the map (P = 256), or below the
	 * start of the side table (P = 1024): whole pages lower */
	unsigned char *meta = c->x->side ? (unsigned char *)c->x->side
	                                 : (unsigned char *)(c->x->map + c->x->npages);
	size_t down = ((size_t)(c->x->pages - meta) / c->page + 1) * c->page;
	SET(c, c->x->pages, c->x->pages - down);
	want(r, c->x, 0, -1);
}
static void v_ext_pages_past_end(struct ctx *c, struct oracle_result *r)
{
	unsigned char *end = (unsigned char *)c->x->buf + c->x->size;
	size_t slack = (size_t)(end - (c->x->pages + (size_t)c->x->npages * c->page));
	SET(c, c->x->pages, c->x->pages + (slack / c->page + 1) * c->page);
	want(r, c->x, 0, -1);
}
static void v_ext_unpublished(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->by_slot[1], NULL); /* published, yet not in its slot */
	want(r, c->h, -1, -1);
}
static void v_ext_entry_slot_range(struct ctx *c, struct oracle_result *r)
{
	want(r, fake_extent(c, 7), -1, -1);
}
static void v_ext_entry_other_slot(struct ctx *c, struct oracle_result *r)
{
	want(r, fake_extent(c, 1), -1, -1); /* slot 1 holds the real extent 1 */
}
static void v_free_len_long(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[4], PG_MAKE(PG_FREE, c->x->npages));
	want(r, page_addr(c, 4), 0, 4);
}
static void v_run_len_zero(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->x->map[8], PG_MAKE(PG_RUN, 0));
	want(r, page_addr(c, 8), 0, 8);
}
/* the node-block index of the bucket page at page 3: inline, bits 16..19
 * (P = 256); side, bits 12..22 (P = 1024) */
static void set_node_index(struct ctx *c, uint32_t node)
{
	uint32_t e = c->x->map[3];
	if (c->page == 256)
		SET(c, c->x->map[3], (e & ~(0xfu << 16)) | (node << 16));
	else
		SET(c, c->x->map[3], (e & ~(0x7ffu << 12)) | (node << 12));
}
static void v_bucket_node_range(struct ctx *c, struct oracle_result *r)
{
	set_node_index(c, (uint32_t)(c->page >> (c->cls + 4)) + 1u); /* past the last block */
	want(r, page_addr(c, 3), 0, 3);
}
static void v_bucket_node_live(struct ctx *c, struct oracle_result *r)
{
	set_node_index(c, live_index(c));
	want(r, page_addr(c, 3), 0, 3);
}
static void v_run_ext_outside(struct ctx *c, struct oracle_result *r)
{
	/* a list link to memory outside every extent, naming itself as extent */
	outside_node.prev = outside_node.next = NULL;
	outside_node.ext = (struct rt_extent *)(void *)&outside_node;
	outside_node.start = 4;
	outside_node.len = 4;
	SET(c, c->h->runs[rt_runs_index(4)], &outside_node);
	want(r, &outside_node, -1, -1);
}
static void v_run_ext_being_added(struct ctx *c, struct oracle_result *r)
{
	/* extent 1 looks half added (reserved, not published): its slot is
	 * empty; a node naming no extent (NULL) must not match that slot */
	struct rt_extent *b = ext_b(c);
	SET(c, c->h->by_slot[1], NULL);
	SET(c, c->h->nr_live, 1);
	SET(c, c->h->size, c->h->size - b->size);
	SET(c, c->h->look[sorted_index(c, b)].lsize, 0);
	want(r, fake_head(c, NULL, 4, 4), -1, -1);
}
static void v_run_wrong_first_level(struct ctx *c, struct oracle_result *r)
{
	if (rt_runs_index(40) >> RT_SL_SHIFT == rt_runs_index(4) >> RT_SL_SHIFT)
		abort();
	want(r, fake_head(c, c->x, 4, 40), 0, 4);
}
static void v_run_past_extent(struct ctx *c, struct oracle_result *r)
{
	uint32_t start = c->x->npages - 2;
	want(r, fake_head(c, c->x, start, 4), 0, start);
}
static void v_run_not_its_node(struct ctx *c, struct oracle_result *r)
{
	/* describes the free run 4..7 exactly, but is not the run's node */
	want(r, fake_head(c, c->x, 4, 4), 0, 4);
}
static void v_run_unlisted(struct ctx *c, struct oracle_result *r)
{
	/* the free run 4..7, alone on its list, taken off it (bitmaps kept
	 * consistent): the maps have one free run more than the lists */
	unsigned i = rt_runs_index(4), fl = i >> RT_SL_SHIFT;
	struct rt_node *nd = free_node(c);
	OPEN(nd, sizeof *nd);
	if (c->h->runs[i] != nd || nd->next)
		abort();
	uint32_t sl = c->h->sl_bitmap[fl] & ~(1u << (i & (RT_SL_COUNT - 1)));
	SET(c, c->h->runs[i], NULL);
	SET(c, c->h->sl_bitmap[fl], sl);
	if (!sl)
		SET(c, c->h->fl_bitmap, c->h->fl_bitmap & ~(1u << fl));
	want(r, c->h, -1, -1);
}
static void v_st_run_pages(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->pages_run, c->h->pages_run + 1);
	want(r, c->h, -1, -1);
}
static void v_st_class_live(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->cls[c->cls].live, c->h->cls[c->cls].live + 1);
	want(r, c->h, -1, -1);
}
static void v_st_lowmem_disarmed(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->lowmem_armed, false);
	SET(c, c->h->lowmem_trip, 0); /* a disarmed heap has no trip limit */
	want(r, c->h, -1, -1);
}
static void v_st_slow_debug(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->flags, c->h->flags | RTHEAP_F_DEBUG_FILL);
	want(r, c->h, -1, -1);
}
static void v_st_slow_run_watch(struct ctx *c, struct oracle_result *r)
{
	SET(c, c->h->lowmem_fn, dummy_lowmem);
	SET(c, c->h->lowmem_run, c->page);
	want(r, c->h, -1, -1);
}

static const struct {
	const char *what;
	const char *variant; /* NULL: the kind's first case */
	corrupt_fn *fn;
	size_t page;
} cases[] = {
	{"extent count out of range", NULL, k_ext_count, 256},
	{"extent header magic", NULL, k_ext_magic, 256},
	{"extent slot index", NULL, k_ext_slot, 256},
	{"extent page shift", NULL, k_ext_pshift, 256},
	{"extent map or side table misplaced", NULL, k_ext_map, 256},
	{"extent page array outside its buffer", NULL, k_ext_pages, 256},
	{"extent span differs from its pages", NULL, k_ext_span, 256},
	{"extent high-water mark beyond its pages", NULL, k_ext_hw, 256},
	{"extent count or total size differs from the extents", NULL, k_ext_size, 256},
	{"extent search table out of date", NULL, k_ext_bases, 256},
	{"extent table not sorted or overlapping", NULL, k_ext_overlap, 256},
	{"extent table entry does not match its extent", NULL, k_ext_lsize, 256},
	{"published extent hidden from lookups", NULL, k_ext_hidden, 256},
	{"free run length out of range", NULL, k_free_len, 256},
	{"free run tail does not match its head", NULL, k_free_tail, 256},
	{"page inside a free run is not NONE", NULL, k_free_inner, 256},
	{"two adjacent free runs", NULL, k_free_adjacent, 256},
	{"free run node does not describe its run", NULL, k_free_node, 256},
	{"run length out of range", NULL, k_run_len, 256},
	{"page inside a run is not NONE", NULL, k_run_inner, 256},
	{"page belongs to no run or bucket", NULL, k_page_none, 256},
	{"bucket class out of range", NULL, k_bucket_cls, 256},
	{"bucket bitmap has bits beyond the last block", NULL, k_bucket_bits, 256},
	{"bucket free count differs from its bitmap", NULL, k_bucket_count, 1024},
	{"empty bucket page was not released", NULL, k_bucket_empty, 256},
	{"bucket node block is not free", NULL, k_bucket_nodeblk, 256},
	{"first-level bitmap names lists that do not exist", NULL, k_fl_range, 256},
	{"second-level bitmap names lists that do not exist", NULL, k_sl_range, 256},
	{"first-level bitmap disagrees with second level", NULL, k_fl_disagree, 256},
	{"second-level bitmap disagrees with its list", NULL, k_sl_disagree, 256},
	{"free-run node points to an unknown extent", NULL, k_run_unknown_ext, 256},
	{"free-run list back link broken", NULL, k_run_backlink, 256},
	{"free run on the wrong list for its length", NULL, k_run_wrong_list, 256},
	{"listed free run is not free in the map", NULL, k_run_not_free, 256},
	{"free runs in lists, in maps and in the count differ", NULL, k_run_count, 256},
	{"bucket extent set names no extent", NULL, k_bset_noext, 256},
	{"bucket extent set disagrees with the extent list", NULL, k_bset_disagree, 256},
	{"bucket list node outside its extent", NULL, k_blist_outside, 256},
	{"listed page is not a partial bucket page of its class", NULL, k_blist_not_partial, 256},
	{"bucket list node is not in the page's node block", NULL, k_blist_not_node, 256},
	{"bucket list back link broken", NULL, k_blist_backlink, 256},
	{"partial bucket pages and listed pages differ", NULL, k_blist_count, 256},
	{"used bytes differ from the blocks in the maps", NULL, k_st_used, 256},
	{"live block count differs from the maps", NULL, k_st_live, 256},
	{"page counts differ from the maps", NULL, k_st_pages, 256},
	{"usable bytes differ from the extents", NULL, k_st_usable, 256},
	{"used exceeds peak or usable", NULL, k_st_peak, 256},
	{"per-class counts differ from the maps", NULL, k_st_class, 256},
	{"low-memory limits disagree with the armed state", NULL, k_st_lowmem, 256},
	{"allocation slow-path flag disagrees with its causes", NULL, k_st_slow, 256},
	{"hot-path copy disagrees with the checkers and the debug flag", NULL, k_st_copy, 256},
	{"extent lookup step does not match the extent count", NULL, k_ext_step, 256},
	/* variants */
	{"extent count out of range", "no extent", v_ext_count_none, 256},
	{"extent count out of range", "more than the maximum", v_ext_count_many, 256},
	{"extent map or side table misplaced", "side table moved", v_ext_side_moved, 1024},
	{"extent map or side table misplaced", "side table where none is", v_ext_side_without_table, 256},
	{"extent page array outside its buffer", "too many pages", v_ext_too_many_pages, 256},
	{"extent page array outside its buffer", "misaligned", v_ext_pages_misaligned, 256},
	{"extent page array outside its buffer", "over the map", v_ext_pages_over_map, 256},
	{"extent page array outside its buffer", "below the side table", v_ext_pages_over_map, 1024},
	{"extent page array outside its buffer", "past the buffer end", v_ext_pages_past_end, 256},
	{"extent count or total size differs from the extents", "slot emptied", v_ext_unpublished, 256},
	{"extent table entry does not match its extent", "slot out of range", v_ext_entry_slot_range, 256},
	{"extent table entry does not match its extent", "slot of another extent", v_ext_entry_other_slot, 256},
	{"free run length out of range", "past the extent", v_free_len_long, 256},
	{"run length out of range", "length 0", v_run_len_zero, 256},
	{"bucket node block is not free", "index past the blocks", v_bucket_node_range, 256},
	{"bucket node block is not free", "side page, index past the blocks", v_bucket_node_range, 1024},
	{"bucket node block is not free", "side page, live block", v_bucket_node_live, 1024},
	{"free-run node points to an unknown extent", "node outside every extent", v_run_ext_outside, 256},
	{"free-run node points to an unknown extent", "no extent, one being added", v_run_ext_being_added, 256},
	{"free run on the wrong list for its length", "first level", v_run_wrong_first_level, 256},
	{"listed free run is not free in the map", "past the extent", v_run_past_extent, 256},
	{"listed free run is not free in the map", "not the run's node", v_run_not_its_node, 256},
	{"free runs in lists, in maps and in the count differ", "run missing from its list", v_run_unlisted, 256},
	{"page counts differ from the maps", "run pages", v_st_run_pages, 256},
	{"per-class counts differ from the maps", "live blocks", v_st_class_live, 256},
	{"low-memory limits disagree with the armed state", "disarmed", v_st_lowmem_disarmed, 256},
	{"allocation slow-path flag disagrees with its causes", "debug mode", v_st_slow_debug, 256},
	{"allocation slow-path flag disagrees with its causes", "run watch", v_st_slow_run_watch, 256},
	{"free run node does not describe its run", "list index", v_free_node_idx, 256},
};

int oracle_count(void)
{
	return (int)(sizeof cases / sizeof cases[0]);
}

const char *oracle_what(int k)
{
	return cases[k].what;
}

const char *oracle_variant(int k)
{
	return cases[k].variant;
}

void oracle_run(int k, struct oracle_result *r)
{
	struct ctx *c = calloc(1, sizeof *c);
	memset(r, 0, sizeof *r);
	r->rc = r->rc_after = -1;
	r->want.what = cases[k].what;
	if (c && setup(c, cases[k].page) == 0) {
		r->setup_ok = 1;
		cases[k].fn(c, r);
		r->rc = rtheap_check(&c->heap, &r->got);
		restore(c);
		r->rc_after = rtheap_check(&c->heap, NULL);
	}
	if (c)
		teardown(c);
	free(c);
}
