/* SPDX-License-Identifier: MIT */
/*
 * region.c -- region pools (rtheap/region.h): bump allocation in blocks
 * that are owned runs of the heap (owner.h, kind RT_OWN_REGION), aligned
 * to their own size B, and large allocations as heap blocks of their own.
 *
 *   B-aligned owned run (one block)
 *   +--------+----------------------+-----+-------+-------+---- ... ----+
 *   | header | maps: live/start x W | pad | alloc | alloc |   free      |
 *   +--------+----------------------+-----+-------+-------+---- ... ----+
 *   ^ p & ~(B - 1)                        ^ first        ^ off          ^ B
 *
 *   large allocation (a heap block):  | rlarge header, 48 B | user bytes |
 *
 * Every allocation starts on a 16-byte granule.  Two bits per granule,
 * interleaved in words (word 2w: live, word 2w + 1: start): "live" marks
 * the first granule of a live allocation, "start" the first granule of
 * every allocation since the block was last rewound.  A release of p
 * rounds p down to B, asks the page map whether that is an owned run of
 * this kind and size (O(log E)), reads the header's pool and tests p's
 * bits: live -> released; start only -> double release; neither -> not
 * an allocation.  A pointer that is no block's is tried as a large
 * allocation: the heap block at p - 48 (O(log E)) whose header names this
 * pool.  Nothing is ever searched.
 *
 * Lists: every block is on `blocks`; a block whose live count is zero and
 * which is not current is also on `reuse` (a second link), so the
 * allocation that runs out of room takes one in O(1).  Large allocations
 * are on `large` (unlinked in O(1) on release).
 *
 * Locking: none by default (a pool per thread); with RTREGION_LOCKED the
 * pool's own lock of the heap's mode, then the heap lock inside the door's
 * calls: order pool -> heap.  Misuse is reported after the pool's lock is
 * released.
 */
#include "owner.h"
#include "rtheap/default.h"
#include "rtheap/region.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define rg_unlikely(x) __builtin_expect(!!(x), 0)
#define RG_HOT static inline __attribute__((always_inline))
#define RG_COLD static __attribute__((noinline, cold))
#define RG_SIDE static __attribute__((noinline))

#define POOL_MAGIC 0x52676e50u  /* "RgnP" */
#define BLOCK_MAGIC 0x52676e42u /* "RgnB" */
#define LARGE_MAGIC 0x52676e4cu /* "RgnL" */
#define GRAN 16u                /* RTREGION_ALIGN */
#define GRAN_SHIFT 4u
#define WORD_BITS 64u
#define BLOCK_MIN 1024u         /* one map word per kind */
#define KNOWN_FLAGS (RTREGION_LOCKED | RTREGION_GROW)

/* ---------------------------------------------------------------- lists */

struct rg_link {
	struct rg_link *next, *prev;
};

static inline void link_init(struct rg_link *h)
{
	h->next = h->prev = h;
}

static inline void link_del(struct rg_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static inline void link_push(struct rg_link *h, struct rg_link *l)
{
	l->next = h->next;
	l->prev = h;
	h->next->prev = l;
	h->next = l;
}

static inline bool link_empty(const struct rg_link *h)
{
	return h->next == h;
}

/* ---------------------------------------------------------------- types */

/* At the start of every block. */
struct rblock {
	struct rg_link all;   /* first: pool->blocks */
	struct rg_link reuse; /* pool->reuse while live == 0 and not current */
	struct rtregion *pool;
	uint32_t magic;
	uint32_t live;        /* live small allocations */
	uint32_t off;         /* bump offset: [first, off) handed out */
	uint32_t failed;      /* requests it could not serve */
	uint64_t map[];       /* 2 x W words: live, start interleaved */
};
#define BLOCK_HDR offsetof(struct rblock, map)

/* In front of every large allocation (RTREGION_LARGE_HDR bytes). */
struct rlarge {
	struct rg_link link;  /* pool->large */
	struct rtregion *pool;
	size_t size;          /* requested */
	uint32_t magic;
};
_Static_assert(sizeof(struct rlarge) <= RTREGION_LARGE_HDR, "large header fits");
_Static_assert(RTREGION_LARGE_HDR % GRAN == 0, "large header keeps 16-byte alignment");
_Static_assert(RTREGION_ALIGN == GRAN, "granule is the alignment");

struct rtregion {
	/* hot: the bump path reads these */
	uint32_t fast_magic;  /* POOL_MAGIC if neither locked nor checked */
	uint32_t block;       /* B */
	struct rblock *cur;
	size_t allocs;
	/* the rest */
	uint32_t magic;
	uint32_t first;       /* offset of a block's first allocation */
	size_t small_max;     /* B - first */
	size_t frees;
	uint32_t words;       /* W: map words per kind */
	rtheap_t *heap;
	struct rt_layer_lock lk;
	struct rg_link blocks, reuse, large;
	size_t nblocks, nreuse, nlarge, large_bytes;
	size_t failures, misuse, resets;
	unsigned flags;
	bool checked;
	bool fill;            /* the heap's RTHEAP_F_DEBUG_FILL */
	const void *uaf;      /* debug fill: first write after release found
	                       * under the lock, reported after it */
	struct rt_owner owner;
};

static void region_op_dump(struct rt_owner *o, FILE *out);
static int region_op_check(struct rt_owner *o, struct rtheap_fault *f);
static const struct rt_owner_ops region_ops = {
	.kind = "region",
	.check = region_op_check,
	.dump = region_op_dump,
};

static inline struct rtregion *region_of(struct rt_owner *o)
{
	return (struct rtregion *)(void *)((char *)o - offsetof(struct rtregion, owner));
}

static inline struct rblock *block_of_reuse(struct rg_link *l)
{
	return (struct rblock *)(void *)((char *)l - offsetof(struct rblock, reuse));
}

static inline bool region_ok(const struct rtregion *r)
{
	return r && r->magic == POOL_MAGIC;
}

/* ---------------------------------------------------------------- lock */

static inline void region_lock(struct rtregion *r)
{
	rt_layer_lock(&r->lk);
}

static inline void region_unlock(struct rtregion *r)
{
	rt_layer_unlock(&r->lk);
}

/* ---------------------------------------------------------------- bitmaps */

RG_HOT uint64_t *live_word(struct rblock *b, uint32_t g)
{
	return &b->map[2u * (g / WORD_BITS)];
}

RG_HOT uint64_t gbit(uint32_t g)
{
	return (uint64_t)1 << (g % WORD_BITS);
}

/* Granules of the block's bumped area, [first, off), as map words. */
static inline uint32_t used_words(const struct rtregion *r, const struct rblock *b)
{
	uint32_t g = (b->off + GRAN - 1u) >> GRAN_SHIFT;
	uint32_t w = (g + WORD_BITS - 1u) / WORD_BITS;
	return w < r->words ? w : r->words;
}

/* Bytes of the allocation starting at granule g: up to the next start
 * granule, or to off (a scan of the start map: checkers only). */
static size_t alloc_span(const struct rblock *b, uint32_t g)
{
	uint32_t end = b->off >> GRAN_SHIFT;
	for (uint32_t i = g + 1u; i < end; i++)
		if (b->map[2u * (i / WORD_BITS) + 1u] & gbit(i))
			return (size_t)(i - g) * GRAN;
	return (size_t)(end - g) * GRAN;
}

/* fn(r, b, granule) on every live allocation of b. */
static void block_each_live(struct rtregion *r, struct rblock *b,
                            void (*fn)(struct rtregion *, struct rblock *, uint32_t))
{
	uint32_t n = used_words(r, b);
	for (uint32_t w = 0; w < n; w++) {
		uint64_t m = b->map[2u * w];
		while (m) {
			uint32_t g = w * WORD_BITS + (uint32_t)__builtin_ctzll(m);
			m &= m - 1u;
			fn(r, b, g);
		}
	}
}

static void poison_live(struct rtregion *r, struct rblock *b, uint32_t g)
{
	(void)r;
	rt_owner_obj_free((char *)b + (size_t)g * GRAN, alloc_span(b, g));
}

/* ---------------------------------------------------------------- debug fill */

/* Debug fill (the heap's RTHEAP_F_DEBUG_FILL): every byte of a block's
 * allocation area that no live allocation holds keeps the freed pattern
 * (filled when the block is taken, at each release over the allocation's
 * span, at each rewind), a fresh allocation gets the fresh pattern.  So
 * a write after release is seen when the block is rewound, reset or given
 * back: one pass over the block, O(B), on the debug path only. */

/* n bytes at p: the pattern written (opened to checkers meanwhile; p is
 * not a live allocation's, so it is closed again). */
static void fill_span(void *p, size_t n, int byte)
{
	rt_owner_open(p, n);
	memset(p, byte, n);
	rt_owner_close(p, n);
}

/* The first byte of [p, p + n) that is not the freed pattern, or NULL. */
static const unsigned char *fill_broken(const unsigned char *p, size_t n)
{
	rt_owner_open((void *)(uintptr_t)p, n);
	const unsigned char *bad = rt_owner_fill_broken(p, n);
	rt_owner_close((void *)(uintptr_t)p, n);
	return bad;
}

/* Verify the parts of b that hold no live allocation: the spans of the
 * released allocations in [first, off), then [off, B).  The first write
 * found is kept in r->uaf (reported after the lock): the start of the
 * released allocation written, or the byte itself past off.  O(B). */
RG_COLD void block_verify(struct rtregion *r, struct rblock *b)
{
	const unsigned char *base = (const unsigned char *)b, *bad = NULL;
	uint32_t end = b->off >> GRAN_SHIFT, g = r->first >> GRAN_SHIFT;
	while (g < end && !bad) {
		uint32_t n = (uint32_t)(alloc_span(b, g) >> GRAN_SHIFT);
		if (!(*live_word(b, g) & gbit(g)) &&
		    fill_broken(base + (size_t)g * GRAN, (size_t)n * GRAN))
			bad = base + (size_t)g * GRAN;
		g += n;
	}
	if (!bad)
		bad = fill_broken(base + b->off, r->block - b->off);
	if (bad && !r->uaf)
		r->uaf = bad;
}

/* The write after release found under the lock, taken (NULL if none). */
static inline const void *uaf_take(struct rtregion *r)
{
	const void *bad = r->uaf;
	if (rg_unlikely(bad))
		r->uaf = NULL;
	return bad;
}

static void uaf_report(rtheap_t *heap, const void *bad)
{
	if (bad)
		rt_owner_report(heap, RTHEAP_ERR_USE_AFTER_FREE, bad);
}

/* Checkers and debug fill, before a rewind: released spans verified,
 * live allocations poisoned, the bumped area filled as freed. */
RG_COLD void block_rewind_debug(struct rtregion *r, struct rblock *b)
{
	if (r->fill)
		block_verify(r, b);
	if (r->checked && b->live)
		block_each_live(r, b, poison_live);
	if (r->fill)
		fill_span((char *)b + r->first, b->off - r->first, RT_OWNER_FILL_FREED);
}

/* Empty the block (no live allocation left, or dropping them): bump
 * offset back to first, both maps cleared. */
static void block_rewind(struct rtregion *r, struct rblock *b)
{
	if (rg_unlikely(r->checked | r->fill))
		block_rewind_debug(r, b);
	memset(b->map, 0, (size_t)used_words(r, b) * 2u * sizeof(uint64_t));
	b->off = r->first;
	b->live = 0;
}

/* ---------------------------------------------------------------- blocks */

/* A new block from the heap, on the blocks list (not current yet). */
static struct rblock *block_make(struct rtregion *r)
{
	struct rblock *b = rt_owner_take_kind(r->heap, r->block, RT_OWN_REGION);
	if (!b)
		return NULL;
	memset(b, 0, BLOCK_HDR + (size_t)r->words * 2u * sizeof(uint64_t));
	link_init(&b->reuse);
	b->pool = r;
	b->magic = BLOCK_MAGIC;
	b->off = r->first;
	if (r->fill)
		memset((char *)b + r->first, RT_OWNER_FILL_FREED, r->small_max);
	if (r->checked)
		rt_owner_close((char *)b + r->first, r->small_max);
	link_push(&r->blocks, &b->all);
	r->nblocks++;
	return b;
}

static void block_give(struct rtregion *r, struct rblock *b)
{
	if (r->fill)
		block_verify(r, b);
	if (r->checked) {
		if (b->live)
			block_each_live(r, b, poison_live);
		rt_owner_open((char *)b + r->first, r->small_max);
	}
	link_del(&b->all);
	if (b->reuse.next != &b->reuse)
		link_del(&b->reuse);
	b->magic = 0;
	b->pool = NULL;
	r->nblocks--;
	(void)rt_owner_give(r->heap, b); /* ours: cannot fail */
}

/* @p r's heap is the process default heap (which this does not create). */
static bool on_default_heap(const rtheap_t *heap)
{
	struct rtheap_default_info info;
	return rtheap_default_stats(&info) == 0 && info.created && rtheap_default() == heap;
}

/* RTREGION_GROW: the default heap grown for @p need bytes: true if grown. */
RG_COLD bool region_grow(struct rtregion *r, size_t need)
{
	if (!(r->flags & RTREGION_GROW) || !on_default_heap(r->heap))
		return false;
	return rtheap_default_grow(need) == 0;
}

/* The current block cannot serve a request: the next current block is
 * the current one rewound (no live allocation), else a reusable one
 * rewound, else a new one.  NULL if the heap has none. */
RG_SIDE struct rblock *block_next(struct rtregion *r)
{
	struct rblock *old = r->cur, *b;
	old->failed++;
	if (old->live == 0) {
		block_rewind(r, old);
		return old;
	}
	if (!link_empty(&r->reuse)) {
		b = block_of_reuse(r->reuse.next);
		link_del(&b->reuse);
		r->nreuse--;
		block_rewind(r, b);
	} else {
		b = block_make(r);
		if (!b && region_grow(r, 2u * (size_t)r->block))
			b = block_make(r);
		if (!b)
			return NULL;
	}
	b->failed = 0;
	r->cur = b;
	return b;
}

/* ---------------------------------------------------------------- allocation */

/* One small allocation of need bytes (a multiple of 16) from b, which has
 * room for it.  The live and start words of granule off / 16 are the
 * pair at byte (off / 1024) * 16 of the maps. */
RG_HOT void *bump(struct rblock *b, uint32_t off, uint32_t need, struct rtregion *r)
{
	uint64_t *w = (uint64_t *)(void *)((char *)b->map + ((off >> 6) & ~(uint32_t)15u));
	uint64_t bit = gbit(off >> GRAN_SHIFT);
	b->off = off + need;
	b->live++;
	w[0] |= bit;
	/* keeps GCC from pairing the two ORs into 5 vector instructions */
	__asm__("" : "+r"(bit));
	w[1] |= bit;
	r->allocs++;
	return (char *)b + off;
}

/* A large allocation: a heap block with its header in front. */
static void *large_alloc(struct rtregion *r, size_t size)
{
	if (size > SIZE_MAX - RTREGION_LARGE_HDR)
		return NULL;
	struct rlarge *l = rtheap_alloc(r->heap, size + RTREGION_LARGE_HDR);
	if (!l && region_grow(r, size + RTREGION_LARGE_HDR))
		l = rtheap_alloc(r->heap, size + RTREGION_LARGE_HDR);
	if (!l)
		return NULL;
	l->pool = r;
	l->size = size;
	l->magic = LARGE_MAGIC;
	link_push(&r->large, &l->link);
	r->nlarge++;
	r->large_bytes += size;
	r->allocs++;
	return (char *)l + RTREGION_LARGE_HDR;
}

/* Debug fill and checkers: a fresh small allocation of size bytes
 * (need, rounded) filled and opened. */
RG_COLD void small_handed_out(struct rtregion *r, void *p, size_t size, uint32_t need)
{
	if (r->fill)
		fill_span(p, need, RT_OWNER_FILL_FRESH);
	if (r->checked)
		rt_owner_obj_alloc(p, size, 0);
}

/* Under the pool's lock, any size but 0: the general path. */
static void *alloc_body(struct rtregion *r, size_t size)
{
	void *p;
	if (size > r->small_max) {
		p = large_alloc(r, size);
	} else {
		uint32_t need = ((uint32_t)size + GRAN - 1u) & ~(GRAN - 1u);
		struct rblock *b = r->cur;
		if (need > r->block - b->off)
			b = block_next(r);
		p = b ? bump(b, b->off, need, r) : NULL;
		if (p && rg_unlikely(r->checked | r->fill))
			small_handed_out(r, p, size, need);
	}
	if (!p) {
		r->failures++;
		errno = ENOMEM;
	}
	return p;
}

RG_COLD void *alloc_slow(struct rtregion *r, size_t size)
{
	if (!region_ok(r) || size == 0) {
		errno = EINVAL;
		return NULL;
	}
	region_lock(r);
	void *p = alloc_body(r, size);
	const void *bad = uaf_take(r);
	region_unlock(r);
	uaf_report(r->heap, bad);
	return p;
}

void *rtregion_alloc(rtregion_t *r, size_t size)
{
	/* fast_magic is POOL_MAGIC only for an unlocked, unchecked pool */
	if (rg_unlikely(!r || r->fast_magic != POOL_MAGIC))
		return alloc_slow(r, size);
	struct rblock *b = r->cur;
	uint32_t off = b->off;
	/* One test for size 0 (wraps), large and no room: a small request
	 * fits iff size <= B - off (both ends multiples of 16). */
	if (rg_unlikely(size - 1u >= (size_t)(r->block - off)))
		return alloc_slow(r, size);
	return bump(b, off, ((uint32_t)size + GRAN - 1u) & ~(GRAN - 1u), r);
}

void *rtregion_calloc(rtregion_t *r, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = rtregion_alloc(r, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

/* ---------------------------------------------------------------- release */

/* Checkers and debug fill: the released allocation at p (granule g of
 * b) poisoned and filled with the freed pattern, padding included. */
RG_COLD void small_released(struct rtregion *r, struct rblock *b, void *p, uint32_t g)
{
	size_t span = alloc_span(b, g);
	if (r->checked)
		rt_owner_obj_free(p, span);
	if (r->fill)
		fill_span(p, span, RT_OWNER_FILL_FREED);
}

/* A small allocation at p of block b: 0, -EALREADY or -EINVAL. */
RG_HOT int small_free(struct rtregion *r, struct rblock *b, void *p)
{
	size_t off = (size_t)((char *)p - (char *)b);
	if (b->magic != BLOCK_MAGIC || b->pool != r || (off & (GRAN - 1u)) ||
	    off < r->first || off >= b->off)
		return -EINVAL;
	uint32_t g = (uint32_t)(off >> GRAN_SHIFT);
	uint64_t *w = live_word(b, g), bit = gbit(g);
	if (!(w[0] & bit))
		return (w[1] & bit) ? -EALREADY : -EINVAL;
	if (rg_unlikely(r->checked | r->fill))
		small_released(r, b, p, g);
	w[0] &= ~bit;
	r->frees++;
	if (--b->live == 0 && b != r->cur) {
		link_push(&r->reuse, &b->reuse);
		r->nreuse++;
	}
	return 0;
}

/* A large allocation of this pool at p (inside an extent: past its
 * header, so p - 48 does not wrap): 0 or -EINVAL. */
static int large_free(struct rtregion *r, void *p)
{
	if ((uintptr_t)p & (GRAN - 1u))
		return -EINVAL;
	struct rlarge *l = (struct rlarge *)(void *)((char *)p - RTREGION_LARGE_HDR);
	/* a live heap block big enough to be a large allocation: only then
	 * is its would-be header read (a smaller block may end before it) */
	if (rtheap_usable_size(r->heap, l) <= RTREGION_LARGE_HDR + r->small_max)
		return -EINVAL;
	if (l->magic != LARGE_MAGIC || l->pool != r || l->link.next->prev != &l->link)
		return -EINVAL;
	link_del(&l->link);
	l->magic = 0;
	r->nlarge--;
	r->large_bytes -= l->size;
	r->frees++;
	(void)rtheap_free(r->heap, l); /* a live block of the heap */
	return 0;
}

static int free_body(struct rtregion *r, void *p)
{
	void *run;
	int rc = rt_owner_find_kind(r->heap, p, r->block, RT_OWN_REGION, &run);
	if (rc == 0)
		return small_free(r, run, p);
	if (rc == -EFAULT)
		return -EFAULT;
	return large_free(r, p);
}

RG_COLD int free_refused(struct rtregion *r, void *p, int rc)
{
	rtheap_error_kind_t kind = rc == -EFAULT     ? RTHEAP_ERR_FOREIGN
	                           : rc == -EALREADY ? RTHEAP_ERR_DOUBLE_FREE
	                                             : RTHEAP_ERR_NOT_BLOCK;
	rt_owner_report(r->heap, kind, p);
	return rc;
}

int rtregion_free(rtregion_t *r, void *p)
{
	if (rg_unlikely(!region_ok(r)))
		return -EINVAL;
	if (rg_unlikely(!p))
		return 0;
	region_lock(r);
	int rc = free_body(r, p);
	if (rg_unlikely(rc))
		r->misuse++;
	region_unlock(r);
	if (rg_unlikely(rc))
		return free_refused(r, p, rc);
	return 0;
}

/* ---------------------------------------------------------------- reset, destroy */

static void large_drop_all(struct rtregion *r)
{
	while (!link_empty(&r->large)) {
		struct rlarge *l = (struct rlarge *)(void *)r->large.next;
		link_del(&l->link);
		l->magic = 0;
		(void)rtheap_free(r->heap, l);
	}
	r->nlarge = 0;
	r->large_bytes = 0;
}

/* Every block rewound; the oldest becomes current and the others are
 * reusable, oldest first, so that a reset pool walks its blocks again in
 * the order it first took them. */
static void reset_locked(struct rtregion *r)
{
	large_drop_all(r);
	link_init(&r->reuse);
	r->nreuse = 0;
	r->cur = (struct rblock *)(void *)r->blocks.prev;
	for (struct rg_link *l = r->blocks.next; l != &r->blocks; l = l->next) {
		struct rblock *b = (struct rblock *)(void *)l;
		block_rewind(r, b);
		b->failed = 0;
		link_init(&b->reuse);
		if (b != r->cur) {
			link_push(&r->reuse, &b->reuse);
			r->nreuse++;
		}
	}
	r->resets++;
}

int rtregion_reset(rtregion_t *r)
{
	if (!region_ok(r))
		return -EINVAL;
	region_lock(r);
	reset_locked(r);
	const void *bad = uaf_take(r);
	region_unlock(r);
	uaf_report(r->heap, bad);
	return 0;
}

/* The reusable blocks beyond keep back to the heap, those emptied
 * longest ago first (the list's tail: the head is the warmest). */
int rtregion_shrink(rtregion_t *r, size_t keep)
{
	if (!region_ok(r))
		return -EINVAL;
	region_lock(r);
	while (r->nreuse > keep) {
		r->nreuse--;
		block_give(r, block_of_reuse(r->reuse.prev));
	}
	const void *bad = uaf_take(r);
	region_unlock(r);
	uaf_report(r->heap, bad);
	return 0;
}

int rtregion_destroy(rtregion_t *r)
{
	if (!region_ok(r))
		return -EINVAL;
	region_lock(r);
	large_drop_all(r);
	while (!link_empty(&r->blocks))
		block_give(r, (struct rblock *)(void *)r->blocks.next);
	r->magic = 0;
	r->fast_magic = 0;
	const void *bad = uaf_take(r);
	rtheap_t *heap = r->heap;
	region_unlock(r);
	rt_owner_unregister(&r->owner);
	rt_layer_lock_destroy(&r->lk);
	(void)rtheap_free(heap, r);
	uaf_report(heap, bad);
	return 0;
}

/* ---------------------------------------------------------------- create */

/* The block size for a request: 0 when invalid. */
static size_t block_plan(rtheap_t *heap, size_t want)
{
	size_t page = rtheap_page_size(heap), max = rt_owner_max(heap);
	size_t need = want ? want : RTREGION_BLOCK_DEFAULT, b = BLOCK_MIN;
	if (!page || need > RTREGION_BLOCK_MAX)
		return 0;
	if (need < page)
		need = page;
	while (b < need)
		b <<= 1; /* at most 20 steps */
	return b <= max ? b : 0;
}

static void region_setup(struct rtregion *r, rtheap_t *heap, size_t block, unsigned flags)
{
	r->heap = heap;
	r->block = (uint32_t)block;
	r->words = (uint32_t)(block / GRAN / WORD_BITS);
	size_t hdr = BLOCK_HDR + (size_t)r->words * 2u * sizeof(uint64_t);
	r->first = (uint32_t)((hdr + GRAN - 1u) & ~(size_t)(GRAN - 1u));
	r->small_max = block - r->first;
	r->flags = flags;
	r->checked = rt_owner_checked() != 0;
	r->fill = (rt_owner_flags(heap) & RTHEAP_F_DEBUG_FILL) != 0;
	link_init(&r->blocks);
	link_init(&r->reuse);
	link_init(&r->large);
	r->owner.ops = &region_ops;
}

static rtregion_t *create_fail(int err)
{
	errno = err;
	return NULL;
}

rtregion_t *rtregion_create_at(rtheap_t *heap, size_t block_size, unsigned flags,
                               const char *file, int line)
{
	if (!heap && !(heap = rtheap_default()))
		return create_fail(ENOMEM);
	int mode = rt_owner_lock_mode(heap);
	size_t block = mode < 0 ? 0 : block_plan(heap, block_size);
	if (!block || (flags & ~(unsigned)KNOWN_FLAGS))
		return create_fail(EINVAL);
	struct rtregion *r = rtheap_alloc(heap, sizeof *r);
	if (!r && (flags & RTREGION_GROW) && on_default_heap(heap) &&
	    rtheap_default_grow(sizeof *r + 2u * block) == 0)
		r = rtheap_alloc(heap, sizeof *r);
	if (!r)
		return create_fail(ENOMEM);
	memset(r, 0, sizeof *r);
	region_setup(r, heap, block, flags);
	r->owner.file = file ? file : "?";
	r->owner.line = line;
	int err = -rt_layer_lock_init(&r->lk, (flags & RTREGION_LOCKED) ? mode : RTHEAP_LOCK_NONE);
	if (!err && !(r->cur = block_make(r)) &&
	    !(region_grow(r, 2u * block) && (r->cur = block_make(r))))
		err = ENOMEM;
	if (!err && rt_owner_register(heap, &r->owner))
		err = EINVAL;
	if (err) {
		if (r->cur)
			block_give(r, r->cur);
		rt_layer_lock_destroy(&r->lk);
		(void)rtheap_free(heap, r);
		return create_fail(err);
	}
	r->magic = POOL_MAGIC;
	if (!r->checked && !r->fill && r->lk.mode == RTHEAP_LOCK_NONE)
		r->fast_magic = POOL_MAGIC;
	return r;
}

/* ---------------------------------------------------------------- statistics, monitor */

static void stats_locked(const struct rtregion *r, struct rtregion_stats *st)
{
	memset(st, 0, sizeof *st);
	st->block_size = r->block;
	st->block_header = r->first;
	st->small_max = r->small_max;
	st->blocks = r->nblocks;
	st->reusable_blocks = r->nreuse;
	for (const struct rg_link *l = r->blocks.next; l != &r->blocks; l = l->next) {
		const struct rblock *b = (const struct rblock *)(const void *)l;
		st->used_bytes += b->off - r->first;
		st->live_small += b->live;
	}
	st->large = r->nlarge;
	st->large_bytes = r->large_bytes;
	st->allocs = r->allocs;
	st->frees = r->frees;
	st->failures = r->failures;
	st->misuse = r->misuse;
	st->resets = r->resets;
	st->file = r->owner.file;
	st->line = r->owner.line;
}

int rtregion_get_stats(rtregion_t *r, struct rtregion_stats *st)
{
	if (!region_ok(r) || !st)
		return -EINVAL;
	region_lock(r);
	stats_locked(r, st);
	region_unlock(r);
	return 0;
}

static void monitor_locked(struct rtregion *r, FILE *out)
{
	size_t i = 0;
	for (struct rg_link *l = r->blocks.next; l != &r->blocks; l = l->next) {
		struct rblock *b = (struct rblock *)(void *)l;
		fprintf(out, "  block %3zu %p: used %6u free %6u live %5u failures %4u%s\n",
		        ++i, (void *)b, (unsigned)(b->off - r->first),
		        (unsigned)(r->block - b->off), (unsigned)b->live,
		        (unsigned)b->failed, b == r->cur ? "  current" : "");
	}
	i = 0;
	for (struct rg_link *l = r->large.next; l != &r->large; l = l->next) {
		struct rlarge *g = (struct rlarge *)(void *)l;
		fprintf(out, "  large %3zu %p: size %zu\n", ++i,
		        (void *)((char *)g + RTREGION_LARGE_HDR), g->size);
	}
}

static void summary_line(const struct rtregion *r, FILE *out)
{
	struct rtregion_stats st;
	stats_locked(r, &st);
	fprintf(out, "region %p: block %zu B (header %zu), blocks %zu (%zu reusable),"
	        " live small %zu, large %zu (%zu B), allocs %zu frees %zu failures %zu"
	        " misuse %zu resets %zu; created at %s:%d\n",
	        (const void *)r, st.block_size, st.block_header, st.blocks,
	        st.reusable_blocks, st.live_small, st.large, st.large_bytes, st.allocs,
	        st.frees, st.failures, st.misuse, st.resets, st.file, st.line);
}

int rtregion_monitor(rtregion_t *r, FILE *out, const char *title)
{
	if (!region_ok(r) || !out)
		return -EINVAL;
	region_lock(r);
	fprintf(out, "---- region pool %p: %s ----\n", (void *)r, title ? title : "");
	monitor_locked(r, out);
	summary_line(r, out);
	region_unlock(r);
	return 0;
}

static void region_op_dump(struct rt_owner *o, FILE *out)
{
	struct rtregion *r = region_of(o);
	region_lock(r);
	summary_line(r, out);
	monitor_locked(r, out);
	region_unlock(r);
}

/* ---------------------------------------------------------------- check */


/* Bits of b: live ones a subset of the start ones, none at or past off,
 * as many live as counted. */
static int check_maps(struct rtregion *r, struct rblock *b, struct rtheap_fault *f)
{
	uint32_t lo = r->first >> GRAN_SHIFT, hi = b->off >> GRAN_SHIFT;
	size_t live = 0;
	for (uint32_t w = 0; w < r->words; w++) {
		uint64_t lv = b->map[2u * w], st = b->map[2u * w + 1u], in = 0;
		uint32_t g0 = w * WORD_BITS;
		for (uint32_t k = 0; k < WORD_BITS; k++) /* granules in [lo, hi) */
			if (g0 + k >= lo && g0 + k < hi)
				in |= gbit(k);
		if (st & ~in)
			return rt_owner_fault(f, "region: an allocation start outside the bumped area", b);
		if (lv & ~st)
			return rt_owner_fault(f, "region: a live allocation not marked as a start", b);
		live += (size_t)__builtin_popcountll(lv);
	}
	if (live != b->live)
		return rt_owner_fault(f, "region: block's live map does not match its live count", b);
	return 0;
}

static int check_block(struct rtregion *r, struct rblock *b, struct rtheap_fault *f)
{
	void *run = NULL;
	if (rt_owner_find_kind(r->heap, b, r->block, RT_OWN_REGION, &run) || run != b)
		return rt_owner_fault(f, "region: a block is not an owned run of the pool's size", b);
	if (b->magic != BLOCK_MAGIC || b->pool != r)
		return rt_owner_fault(f, "region: block header's magic or pool pointer overwritten", b);
	if (b->off < r->first || b->off > r->block)
		return rt_owner_fault(f, "region: block bump offset out of range", b);
	bool on_reuse = b->reuse.next != &b->reuse;
	if (on_reuse != (b->live == 0 && b != r->cur))
		return rt_owner_fault(f, "region: block on the wrong list for its live count", b);
	return check_maps(r, b, f);
}

static int check_blocks(struct rtregion *r, struct rtheap_fault *f)
{
	size_t n = 0, reuse = 0;
	bool cur = false;
	for (struct rg_link *l = r->blocks.next; l != &r->blocks; l = l->next) {
		struct rblock *b = (struct rblock *)(void *)l;
		if (++n > r->nblocks || l->next->prev != l)
			return rt_owner_fault(f, "region: block list longer than counted or broken", b);
		int rc = check_block(r, b, f);
		if (rc)
			return rc;
		reuse += b->reuse.next != &b->reuse;
		cur |= b == r->cur;
	}
	if (n != r->nblocks || reuse != r->nreuse || !cur)
		return rt_owner_fault(f, "region: block counts or current block do not match", r);
	return 0;
}

static int check_large(struct rtregion *r, struct rtheap_fault *f)
{
	size_t n = 0, bytes = 0;
	for (struct rg_link *l = r->large.next; l != &r->large; l = l->next) {
		struct rlarge *g = (struct rlarge *)(void *)l;
		if (++n > r->nlarge || l->next->prev != l)
			return rt_owner_fault(f, "region: large list longer than counted or broken", g);
		if (rtheap_check_block(r->heap, g) != 0 || g->magic != LARGE_MAGIC || g->pool != r)
			return rt_owner_fault(f, "region: a large allocation's header or heap block is bad", g);
		bytes += g->size;
	}
	if (n != r->nlarge || bytes != r->large_bytes)
		return rt_owner_fault(f, "region: large counts do not match", r);
	return 0;
}

static int region_op_check(struct rt_owner *o, struct rtheap_fault *f)
{
	struct rtregion *r = region_of(o);
	if (r->magic != POOL_MAGIC)
		return rt_owner_fault(f, "region: descriptor's magic overwritten", r);
	region_lock(r);
	int rc = check_blocks(r, f);
	if (!rc)
		rc = check_large(r, f);
	region_unlock(r);
	return rc;
}
