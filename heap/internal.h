/* SPDX-License-Identifier: MIT */
/*
 * internal.h -- private data structures of rtheap and the declarations of
 * its internal functions, grouped by the file that defines them.
 *
 * Design after M. K. McKusick and M. J. Karels, "Design of a General Purpose
 * Memory Allocator for the 4.3BSD UNIX Kernel", USENIX Summer 1988: a page
 * map with one entry per page says what each page holds, sub-page requests
 * come from power-of-two buckets and need no per-block header, larger ones
 * take runs of pages.  What this design changes (docs/design.md has the
 * full argument):
 *   - free page runs are indexed by a two-level segregated fit (lists by
 *     run length with bitmaps), and coalesced through the length stored in
 *     the first and last map entry of every free run: no list walk;
 *   - a bucket page tracks its free blocks in a bitmap, so a page that
 *     becomes empty leaves its bucket in O(1), and blocks are never carved
 *     into a free list up front;
 *   - bucket lists are kept per extent and indexed by a bitmap of extents,
 *     so a page is always read through its own extent's map;
 *   - extents may have any size; the extent of an address is found by a
 *     binary search in an address-sorted table.
 *
 * Files: extent.c (extents), runs.c (free-run index), page.c (page-run
 * blocks), bucket.c (sub-page blocks), heap.c (entry points; lock.h),
 * resize.c (rtheap_realloc, rtheap_calloc, rtheap_aligned_alloc: after
 * heap.c, whose static helpers it uses),
 * notify.c (reports and notifications), debug.c (debug mode), check.c
 * (rtheap_check), xnheap.c (Xenomai 2 interface); hooks.h (checkers).
 * The declarations below are grouped by the file that defines them.
 *
 * Extent layout (the caller's buffer):
 *
 *   buf                                                         buf+size
 *   | header (256 B) | map: npages x u32 | side bitmaps | pad | page array | tail |
 *   |  struct        |  one entry/page   | P/128 B/page |     | npages x P |      |
 *                                          (P > 256 only)  ^ aligned to P
 */
#ifndef RTHEAP_INTERNAL_H
#define RTHEAP_INTERNAL_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtheap/rtheap.h"
#include "hooks.h"

/* ---------------- internal invariant assertions ---------------- */
/* rt_assert(cond, "message"): an invariant of the heap's own state, checked
 * on every state change that matters (map entries, list heads and bitmaps,
 * counts, run nodes).  On in Debug builds, compiled out (not evaluated)
 * with NDEBUG, so they cost nothing in Release and RelWithDebInfo.  Never
 * for what a caller can cause: bad input is an error return. */
#define rt_assert(cond, msg) assert((cond) && msg)

#define rt_likely(x) __builtin_expect(!!(x), 1)
#define rt_unlikely(x) __builtin_expect(!!(x), 0)

/* ---------------- step counting (test builds) ---------------- */
#ifdef RTHEAP_STEP_COUNT
extern _Thread_local unsigned long rtheap_step_counter;
#define RT_STEP() (rtheap_step_counter++)
#else
#define RT_STEP() ((void)0)
#endif

/* Test points (step-counting builds only, rtheap_steps.h): the test's hook
 * runs there, under the heap lock, e.g. to kill the process holding it. */
#define RT_TP_LOCKED 1  /* just after the heap lock was taken */
#define RT_TP_RUN_CUT 2 /* in a run split, between two map writes */
#ifdef RTHEAP_STEP_COUNT
extern _Thread_local void (*rt_test_hook)(int point);
extern _Thread_local int rt_test_at;
#define RT_TEST_POINT(p) \
	(rt_unlikely(rt_test_hook && rt_test_at == (p)) ? rt_test_hook(p) : (void)0)
#else
#define RT_TEST_POINT(p) ((void)0)
#endif

/* ---------------- constants ---------------- */
/* "rthp", mixed with the ABI version and the descriptor size of this build,
 * so that a process of another build (rtheap_attach()) does not take the
 * descriptor for one of its own */
#define RT_HEAP_MAGIC \
	(0x72746870u ^ ((uint32_t)RTHEAP_ABI_VERSION << 8) ^ \
	 ((uint32_t)RTHEAP_DESC_WORDS << 20))
#define RT_EXT_MAGIC 0x72747874u  /* "rtxt" */
#define RT_NIL 0xffffffffu

/* Free-run index: lists by run length in pages.  Runs of 1..31 pages have
 * exact lists (fl 0 and 1); longer runs split each power of two in 16. */
#define RT_SL_SHIFT 4
#define RT_SL_COUNT (1u << RT_SL_SHIFT)
#define RT_FL_COUNT 26 /* run lengths below 2^29 */

#define RT_EXT_WORDS ((RTHEAP_MAX_EXTENTS + 63) / 64)

/* ---------------- page map entries ---------------- */
/*
 * 32-bit entry: type in bits 29..31, payload in bits 0..28.
 *
 *  NONE    interior page of a run, or page never used.  A zeroed map is a
 *          valid map in which every page is NONE.
 *  FREE    first or last page of a free run; payload = run length.
 *          Invariant: FREE appears only at the two ends of a free run.
 *  RUN     first page of an allocated run; payload = run length.
 *  BUCKET  page split into blocks of one class; payload (see below).
 *  OWNED   first page of a run owned by a layer (heap/owner.h); payload:
 *          bits 0..4 log2 of the run length (a power of two), bits 5..12
 *          the owner's kind (RT_OWN_*), so that a layer never takes
 *          another layer's run of the same size for its own.
 *
 * BUCKET payload: class in bits 25..28 (block = 16 << class).
 *   "inline" pages (at most 16 blocks): bits 0..15 free-block bitmap,
 *                                       bits 16..19 index of the node block;
 *   "side" pages (more than 16 blocks): bits 0..11 free-block count,
 *                                       bits 12..22 index of the node block,
 *                                       bitmap in the side table.
 */
enum { PG_NONE = 0, PG_FREE = 1, PG_RUN = 2, PG_BUCKET = 3, PG_OWNED = 4 };

#define PG_TYPE(e) ((e) >> 29)
#define PG_LEN(e) ((e) & 0x1fffffffu)
#define PG_MAKE(t, p) (((uint32_t)(t) << 29) | (uint32_t)(p))

/* OWNED entries (see above) and the length of any run entry */
#define OW_MAKE(kind, lg) PG_MAKE(PG_OWNED, ((uint32_t)(kind) << 5) | (uint32_t)(lg))
#define OW_LOG(e) ((e) & 0x1fu)
#define OW_KIND(e) (((e) >> 5) & 0xffu)
#define OW_SPARE(e) (PG_LEN(e) >> 13)
#define RUN_LEN(e) \
	(PG_TYPE(e) == PG_OWNED ? (uint32_t)1 << OW_LOG(e) : PG_LEN(e))

#define BK_CLS(e) (((e) >> 25) & 0xfu)
#define BK_IBITS(e) ((e) & 0xffffu)
#define BK_INODE(e) (((e) >> 16) & 0xfu)
#define BK_SCOUNT(e) ((e) & 0xfffu)
#define BK_SNODE(e) (((e) >> 12) & 0x7ffu)
#define BK_INLINE(bits, node, cls) \
	PG_MAKE(PG_BUCKET, ((uint32_t)(cls) << 25) | ((uint32_t)(node) << 16) | (bits))
#define BK_SIDE(count, node, cls) \
	PG_MAKE(PG_BUCKET, ((uint32_t)(cls) << 25) | ((uint32_t)(node) << 12) | (count))
#define BK_INLINE_MAX 16u

/* ---------------- structures ---------------- */
struct rt_extent;

/* Node of a free page run, stored in the run's first page, or in the
 * extent header for the run that ends the extent (so init writes nothing
 * into the page array). */
struct rt_node {
	struct rt_node *prev, *next;
	struct rt_extent *ext;
	uint32_t start, len;
	uint32_t idx; /* its list, rt_runs_index(len), while listed */
};

/* Node of a bucket page on its extent's per-class list, stored in one of
 * the page's free blocks (the "node block"); 16 bytes, the smallest block.
 * Links point at the neighbours' nodes, so unlinking reads no map entry. */
struct rt_bnode {
	struct rt_bnode *prev, *next;
};

/* The header starts the caller's buffer (RTHEAP_EXTENT_HDR bytes, a
 * multiple of 64).  What every alloc and free reads comes first, in the
 * first 64 bytes: one cache line when the buffer is 64-byte aligned. */
struct rt_extent {
	uint8_t *pages;       /* page array, aligned to the page size */
	uint32_t *map;        /* npages entries */
	size_t span;          /* bytes of page array once published, 0 before */
	uint32_t npages;
	uint32_t pshift;      /* log2(page size), copied from the heap */
	uint32_t *side;       /* side bitmaps (P > 256), P/512 words a page */
	uint32_t slot;        /* index in heap->by_slot */
	uint32_t magic;
	void *buf;            /* buffer and size as given by the caller */
	size_t size;
	/* the second line: room for the node of the free run ending the
	 * extent (the tail node, 40 bytes), which rt_ext_tail() places at an
	 * odd multiple of 8 (64 or 72 bytes in): never page aligned */
	_Alignas(8) unsigned char tail_room[sizeof(struct rt_node) + 8];
	struct rt_bnode *bkt_head[RTHEAP_NR_CLASSES]; /* partial pages per class */
	uint32_t hw;          /* pages below hw were handed out once (debug fill) */
};

/* The tail node of x.  The header is 8-byte aligned (the buffer must be),
 * so setting bit 3 moves the node by 0 or 8 bytes inside its room: a tail
 * node's address has bit 3 set, a node in a page (aligned to the page
 * size, 256 B or more) never has, and a node says which it is without
 * being read (rt_node_is_tail). */
static inline struct rt_node *rt_ext_tail(const struct rt_extent *x)
{
	return (struct rt_node *)((uintptr_t)x->tail_room | 8u);
}
static inline bool rt_node_is_tail(const struct rt_node *nd)
{
	return ((uintptr_t)nd & 8u) != 0;
}

/* A set of extent slots: one word up to 64 extents (first member in one
 * ctz), else words plus a summary word (two ctz). */
struct rt_extset {
	uint64_t summary; /* unused when RT_EXT_WORDS == 1 */
	uint64_t w[RT_EXT_WORDS];
};

/* The fields every alloc and free reads or writes come first (the first
 * two cache lines of a 64-byte aligned descriptor), so that a cold call
 * misses on as few descriptor lines as possible. */
struct rt_heap {
	uint32_t magic;
	uint32_t flags;
	uint32_t pshift;      /* log2(page size) */
	uint32_t nclasses;    /* bucket classes in use: blocks 16 .. P/2 */
	size_t page;          /* page size */
	size_t max_request;   /* largest request that could ever fit */
	int lock_mode;
	uint32_t nr_ext;      /* reserved extents (slots used) */
	uint32_t lk_half;     /* largest power of two below nr_ext, 0 if none:
	                       * the first probe of rt_extent_find() */
	uint32_t fl_bitmap;   /* free-run index: non-empty first levels */
	bool alloc_slow;      /* every alloc takes the slow end (debug, run watch) */
	bool lowmem_armed;
	uint8_t slow_copy;    /* rt_copy_of(), fixed at init */
	atomic_flag spin;
	size_t used, peak, alloc_calls, free_calls; /* live = alloc - free */
	size_t lowmem_trip;   /* armed: notify when used exceeds this */
	size_t lowmem_rearm;  /* disarmed: re-arm when used is below this */
	size_t free_runs, pages_bucket, pages_run;
	/* the sorted table: by buffer address, reserved and published; the
	 * addresses alone (the keys of the search, dense), then per entry
	 * what the search's last step reads */
	uintptr_t bases[RTHEAP_MAX_EXTENTS]; /* buffer addresses */
	struct rt_look {
		size_t lsize;         /* lookup size: 0 until published */
		struct rt_extent *x;  /* the extent (its buffer) */
	} look[RTHEAP_MAX_EXTENTS];
	pthread_mutex_t mtx;

	/* free-run index */
	uint32_t sl_bitmap[RT_FL_COUNT];
	struct rt_node *runs[RT_FL_COUNT * RT_SL_COUNT]; /* by rt_runs_index() */

	/* buckets, by class: what a bucket alloc or free touches, together */
	struct rt_class {
		struct rt_extset exts; /* extents holding a partial page */
		size_t live, pages;    /* blocks handed out, bucket pages */
	} cls[RTHEAP_NR_CLASSES];

	/* extents */
	struct rt_extent *by_slot[RTHEAP_MAX_EXTENTS]; /* NULL until published */
	uint32_t nr_live;     /* published extents */
	size_t rsize[RTHEAP_MAX_EXTENTS];    /* buffer sizes (overlap checks) */

	/* statistics and settings off the hot path */
	size_t size, usable, failed, errors;
	size_t side_words;    /* 32-bit side bitmap words per page (P/512) */
	size_t lowmem_threshold;
	rtheap_lowmem_fn lowmem_fn;
	void *lowmem_arg;
	size_t lowmem_run;    /* also notify when the largest run is below */
	rtheap_error_fn err_fn;
	void *err_arg;
	_Atomic unsigned err_seen; /* kinds the default handler recorded */
	const void *err_first[8];  /* by kind: its first address (default handler) */
	const char *name;
	struct rt_owner *owners; /* layer objects (owner.c), a list */
	size_t pages_owned;      /* pages of owned runs (owner.c, O2) */
	/* misuse seen under the lock, delivered after unlocking */
	rtheap_error_kind_t pend_kind;
	const void *pend_addr;
	/* process-shared mode (lock.h, rtheap_attach()) */
	const struct rt_heap *self; /* the descriptor's address at init */
	const void *img;         /* rt_image_mark() of the process that set the
	                          * callbacks: they are called where it matches */
	size_t owner_deaths;     /* lock owners that died, heap found whole */
	uint32_t broken;         /* a lock owner died mid-change: every call fails */
};

static inline struct rt_heap *rt_heap_of(rtheap_t *h)
{
	return (struct rt_heap *)(void *)h;
}

static inline bool rt_heap_ok(const struct rt_heap *h)
{
	return h && h->magic == RT_HEAP_MAGIC;
}

/* The library is one translation unit (unity.c): internal functions are
 * static so that the compiler inlines the hot paths; RT_HOT forces it. */
#define RT_FN static
#ifdef RTHEAP_COVERAGE_BUILD
/* Coverage build (scripts/coverage.sh, -O0): hot functions stay out of
 * line, one instance each, so that gcov counts the branches of a line of
 * source once, whichever copy (ck = 0 or a checker) and caller took them. */
#define RT_HOT static inline
#else
#define RT_HOT static inline __attribute__((always_inline))
#endif
#define RT_COLD static __attribute__((noinline, cold))

/* ---------------- small helpers ---------------- */
static inline unsigned rt_fls32(uint32_t x) /* index of highest set bit */
{
	return 31u - (unsigned)__builtin_clz(x);
}
static inline unsigned rt_ffs32(uint32_t x) /* index of lowest set bit */
{
	return (unsigned)__builtin_ctz(x);
}
static inline unsigned rt_ffs64(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

static inline uint32_t rt_map_get(const struct rt_extent *x, uint32_t pg)
{
	RT_STEP();
	return x->map[pg];
}
static inline void rt_map_set(struct rt_extent *x, uint32_t pg, uint32_t e)
{
	RT_STEP();
	/* relaxed: the per-thread caches read entries without the heap
	 * lock (owner.h, rt_owner_view); a plain move on the usual targets */
	__atomic_store_n(&x->map[pg], e, __ATOMIC_RELAXED);
}
static inline void *rt_page_addr(const struct rt_heap *h,
                                 const struct rt_extent *x, uint32_t pg)
{
	return x->pages + ((size_t)pg << h->pshift);
}

/* ---------------- extset (extent.c) ---------------- */
static inline void rt_extset_add(struct rt_extset *s, uint32_t slot)
{
	s->w[slot >> 6] |= 1ull << (slot & 63);
#if RT_EXT_WORDS > 1
	s->summary |= 1ull << (slot >> 6);
#endif
}
static inline void rt_extset_del(struct rt_extset *s, uint32_t slot)
{
#if RT_EXT_WORDS > 1
	uint32_t i = slot >> 6;
	s->w[i] &= ~(1ull << (slot & 63));
	if (!s->w[i])
		s->summary &= ~(1ull << i);
#else
	s->w[0] &= ~(1ull << slot);
#endif
}
static inline bool rt_extset_has(const struct rt_extset *s, uint32_t slot)
{
	return (s->w[slot >> 6] >> (slot & 63)) & 1u;
}
static inline bool rt_extset_empty(const struct rt_extset *s)
{
#if RT_EXT_WORDS > 1
	return !s->summary;
#else
	return !s->w[0];
#endif
}
static inline uint32_t rt_extset_first(const struct rt_extset *s)
{
#if RT_EXT_WORDS > 1
	unsigned i = rt_ffs64(s->summary);
	return (uint32_t)(i * 64u + rt_ffs64(s->w[i]));
#else
	return rt_ffs64(s->w[0]);
#endif
}

/* extent.c */
RT_FN int rt_extent_layout(size_t page, void *buf, size_t size, uint32_t *npages,
                           size_t *side_off, size_t *pages_off);
RT_FN struct rt_extent *rt_extent_find(const struct rt_heap *h, const void *p);
RT_FN int rt_extent_check_args(size_t page, void *buf, size_t size);
RT_FN int rt_extent_reserve(struct rt_heap *h, void *buf, size_t size,
                            uint32_t *slot);
RT_FN struct rt_extent *rt_extent_prepare(struct rt_heap *h, void *buf,
                                          size_t size, uint32_t slot,
                                          unsigned flags);
RT_FN void rt_extent_publish(struct rt_heap *h, struct rt_extent *x);

/* ck, the last argument of the hot functions below: which memory checkers
 * to speak to, 0 on the path without any (hooks.h).  The copy with
 * ck = RT_CK_ANY also serves heaps in debug mode (rt_copy_of), so that the
 * plain copy tests no debug flag: RT_DEBUG(ck, h) is a constant false in
 * it. */
static inline unsigned rt_copy_of(const struct rt_heap *h)
{
	return h->slow_copy;
}
/* The third copy, ck = RT_CK_SHARED (slow_copy RT_COPY_SHARED): a shared
 * heap without checkers or debug mode.  No checker bit is set, so every
 * hook and debug test compiles away as in the plain copy; only its lock
 * differs (lock.h: it can refuse). */
#define RT_CK_SHARED 4u
#define RT_COPY_CHECKED 1u
#define RT_COPY_SHARED 2u
/* Computed once, at init: the checkers are known by then (the first
 * extent's hook_pages_added() runs the detection if no constructor has),
 * and the flags do not change.  A shared heap takes a copy of its own
 * (RT_COPY_SHARED; the checked one if it also has checkers or debug mode):
 * only those cope with a lock that can refuse (lock.h). */
static inline uint8_t rt_copy_compute(const struct rt_heap *h)
{
	if ((hook_state() | (h->flags & RTHEAP_F_DEBUG_FILL)) != 0)
		return RT_COPY_CHECKED;
	/* a shared heap's lock can refuse (lock.h): its own copy */
	return h->lock_mode == RTHEAP_LOCK_SHARED ? RT_COPY_SHARED : 0;
}
#define RT_DEBUG(ck, h) (((ck) & RT_CK_ANY) && ((h)->flags & RTHEAP_F_DEBUG_FILL))

/* runs.c: free-run index (take: find, cut; release: merge, insert) */
RT_FN void rt_runs_describe(struct rt_extent *x, uint32_t start, uint32_t len);
RT_FN void rt_runs_push(struct rt_heap *h, struct rt_node *nd, unsigned ck);
RT_FN void rt_runs_insert(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                    uint32_t len, unsigned ck);
RT_FN bool rt_runs_take(struct rt_heap *h, uint32_t npages, struct rt_extent **x,
                  uint32_t *start, unsigned ck);
RT_FN bool rt_runs_take_aligned(struct rt_heap *h, uint32_t npages, uint32_t a,
                                struct rt_extent **x, uint32_t *start,
                                unsigned ck);
RT_FN bool rt_runs_take_head(struct rt_heap *h, struct rt_extent *x,
                             uint32_t start, uint32_t len, uint32_t n,
                             unsigned ck);
RT_FN void rt_runs_release(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                     uint32_t len, unsigned ck);
RT_FN size_t rt_runs_largest(const struct rt_heap *h);
RT_FN struct rt_node *rt_run_node(struct rt_extent *x, uint32_t start, uint32_t len);

/* Map a run length to its list index (fl * 16 + sl).  Lengths 1..31 have
 * exact lists; a longer length n with highest bit f goes to first level
 * f - 3 and to the second-level list given by its next 4 bits.  With
 * s = f - 4 (0 below 32) this is (s << 4) + (n >> s): no branch. */
static inline unsigned rt_runs_index(uint32_t n)
{
	unsigned s = rt_fls32((n >> RT_SL_SHIFT) | 1u);
	return (s << RT_SL_SHIFT) + (n >> s);
}
static inline void rt_runs_mapping(uint32_t n, unsigned *fl, unsigned *sl)
{
	unsigned i = rt_runs_index(n);
	*fl = i >> RT_SL_SHIFT;
	*sl = i & (RT_SL_COUNT - 1);
}

RT_FN struct rt_node rt_run_node_read(const struct rt_heap *h,
                                      const struct rt_node *nd);

/* page.c: page-run blocks (requests above P/2) */
RT_FN void *rt_page_alloc(struct rt_heap *h, size_t size, size_t *bsize,
                          unsigned ck);
RT_FN void *rt_page_alloc_aligned(struct rt_heap *h, size_t size, size_t align,
                                  size_t *bsize, unsigned ck);
RT_FN int rt_page_free(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                       uint32_t e, size_t off, void *ptr,
                       int (*ckfn)(void *), size_t *bsize, unsigned ck);
RT_FN size_t rt_page_size(const struct rt_heap *h, uint32_t e, size_t off);

/* bucket.c: sub-page blocks */
RT_FN struct rt_bnode rt_bucket_node_read(const struct rt_bnode *nd);
RT_FN void *rt_bucket_alloc(struct rt_heap *h, unsigned cls, unsigned ck);
RT_FN int rt_bucket_free(struct rt_heap *h, struct rt_extent *x, uint32_t pg,
                         uint32_t e, size_t off, void *ptr,
                         int (*ckfn)(void *), size_t *bsize, unsigned ck);
RT_FN size_t rt_bucket_size(const struct rt_heap *h, const struct rt_extent *x,
                            uint32_t pg, uint32_t e, size_t off);
RT_FN bool rt_bucket_free_ok(struct rt_heap *h, struct rt_extent *x,
                             uint32_t pg, uint32_t e, size_t off);
RT_FN bool rt_bucket_is_live(const struct rt_heap *h, const struct rt_extent *x,
                       uint32_t pg, uint32_t e, size_t off);
RT_FN struct rt_bnode *rt_bucket_node(const struct rt_heap *h,
                                const struct rt_extent *x, uint32_t pg,
                                uint32_t e);
RT_FN bool rt_bucket_block_free(const struct rt_heap *h, const struct rt_extent *x,
                          uint32_t pg, uint32_t e, uint32_t b);
RT_FN uint32_t rt_bucket_nfree(const struct rt_heap *h, const struct rt_extent *x,
                         uint32_t pg, uint32_t e);

/* check.c: the walk of rtheap_check(), under the lock the caller holds */
RT_FN int rt_check_locked(struct rt_heap *h, struct rtheap_fault *fault);

/* heap.c: public entry points (the lock is lock.h, included by heap.c) */
RT_FN int rt_check_abi(const char *call, size_t desc_size, size_t want,
                       unsigned abi);
RT_FN int rt_with_lock(rtheap_t *heap, int (*fn)(struct rt_heap *, void *), void *arg);

/* notify.c: misuse reports and low-memory notifications, found under the
 * lock and delivered after it (struct rt_pending, on the caller's stack) */
struct rt_pending {
	rtheap_error_kind_t kind;
	const void *addr;
	rtheap_error_fn err_fn;
	void *err_arg;
	rtheap_lowmem_fn low_fn;
	void *low_arg;
	size_t low_free, low_request;
};
RT_FN void rt_report(struct rt_heap *h, rtheap_error_kind_t kind, const void *addr);
RT_FN void rt_notify_print_recorded(struct rt_heap *h);
RT_FN void rt_lowmem_arm(struct rt_heap *h);
RT_FN void rt_lowmem_try_arm(struct rt_heap *h);
RT_FN void rt_lowmem_update(struct rt_heap *h);
RT_FN bool rt_notify_misuse(struct rt_heap *h, struct rt_pending *pd);
RT_FN bool rt_notify_failed(struct rt_heap *h, size_t size, struct rt_pending *pd);
RT_FN bool rt_notify_alloc(struct rt_heap *h, struct rt_pending *pd);
RT_FN void rt_notify_deliver(struct rt_heap *h, const struct rt_pending *pd);
RT_FN void rt_notify_event(struct rt_heap *h, rtheap_error_kind_t kind,
                           const void *addr, struct rt_pending *pd);
RT_FN const void *rt_image_mark(void);

/* debug.c: fill patterns and the debug-mode checks of list nodes */
#define RT_FILL_FRESH 0xa5
#define RT_FILL_FREED 0xdd
RT_FN void rt_debug_fill(void *p, size_t n, int byte);
RT_FN const void *rt_debug_verify(const void *p, size_t n, int byte);
RT_FN bool rt_debug_run_ok(const struct rt_heap *h, const struct rt_node *nd);
RT_FN bool rt_debug_release_ok(const struct rt_heap *h, struct rt_extent *x,
                               uint32_t start, uint32_t n);
RT_FN bool rt_debug_bnode_ok(const struct rt_heap *h, const struct rt_extent *x,
                             unsigned cls, const struct rt_bnode *nd);
RT_FN void rt_debug_take(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                   uint32_t n);
RT_FN void rt_debug_skip(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                         uint32_t end);

#endif /* RTHEAP_INTERNAL_H */
