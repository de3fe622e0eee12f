/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the object caches (rtheap/cache.h), the reserve
 * pools (rtheap/pool.h) and the region pools (rtheap/region.h): the input
 * bytes drive operations on one to three caches, up to two reserve pools,
 * up to two region pools and plain blocks on one small heap, mirrored in
 * a shadow model of their documented behaviour (docs/caches.md);
 * tests/fuzz/README.md lists the operations.
 *
 * The model keeps every slab of every cache with its free list (LIFO),
 * its fresh index and the order of the cache's avail, full and empty
 * lists, so it predicts the exact object each allocation returns, which
 * slab a release or a shrink gives back, every return code, the error
 * callback's kind and address and the heap's counters.  Objects are
 * filled on allocation and verified before release; constructor caches
 * keep a stamp the constructor wrote across release and allocation
 * (verified on allocation and in the destructor); RTCACHE_ZERO objects
 * are zero and debug-filled ones 0xA5 when handed out.  A pool's reserve
 * is modelled too: which element an allocation returns, where a release
 * goes.  After every operation: rtheap_check passes (it checks the caches
 * and pools too), the statistics of the heap, of each cache and of each
 * pool match the model.  Any mismatch aborts, which libFuzzer reports as
 * a crash.
 *
 * Page-order blocks (rtheap/kmem.h) live beside them: allocated (zeroed or
 * not) and released by order, refused releases (a wrong order, interior,
 * foreign or released addresses, a slab of a cache, a heap block) predicted
 * from the model's page blocks alone (section "page-order blocks").
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see tests/CMakeLists.txt).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owner.h" /* rt_owner_max(): the slab-size rule's limit */
#include "rtheap/cache.h"
#include "rtheap/kmem.h"
#include "rtheap/pool.h"
#include "rtheap/region.h"
#include "rtheap/rtheap.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef FUZZ_UNPOISON
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Model helpers whose loops would dominate the run time with comparison
 * tracing: libFuzzer needs coverage of the cache, not of them. */
#if defined(__clang__) && __clang_major__ >= 13
#define MODEL_FN __attribute__((no_sanitize("coverage"), noinline))
#else
#define MODEL_FN
#endif

#define ARENA_SIZE (640u << 10)
#define ARENA2_SIZE (96u << 10)
#define MAX_CACHES 3
#define MAX_SLABS 640 /* per cache: at most the heap's pages */
#define MAX_S 4096
#define MAX_BLOCKS 64
#define FREED_RING 8
#define MAX_POOLS 2
#define MAX_ELEMS 32
#define SLAB_HDR (5 * sizeof(void *) + 16) /* H of docs/caches.md */
#define WBITS (8 * sizeof(unsigned long))
#define SLAB_MAX ((size_t)1 << 30)
#define MAX_REGIONS 2
#define RG_MAX_BLOCKS 160 /* at most the heap's pages: blocks are at least a page */
#define RG_MAX_ALLOCS 512

static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static _Alignas(4096) unsigned char arena2[ARENA2_SIZE];
static _Alignas(64) unsigned char foreign_mem[512];

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "fuzz_cache: line %d: %s: ", __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
			abort();                                                   \
		}                                                                  \
	} while (0)

/* ---- input reader ---- */

struct input {
	const uint8_t *d;
	size_t n, i;
};

static unsigned get8(struct input *in) { return in->i < in->n ? in->d[in->i++] : 0u; }
static unsigned get16(struct input *in)
{
	unsigned lo = get8(in);
	return lo | get8(in) << 8;
}

/* ---- model ---- */

struct mslab {
	unsigned char *addr;
	uint32_t inuse, fresh, nfree;
	uint16_t *stack;       /* the free list: stack[nfree - 1] released last */
	uint8_t *live, *dirty;
	uint8_t *seed;         /* a live object's fill; 0: as the cache handed it out */
	uint8_t *tag;          /* 1: held by a pool (its reserve or its user) */
	uint32_t *seen;        /* enumeration epoch */
};

struct mcache {
	rtcache_t *c;          /* NULL: slot unused */
	char name[48];
	size_t size, align, stride, first, B, S;
	unsigned flags;
	int ctor, dtor, fill, zero;
	unsigned keep;
	size_t allocs, frees, failures, live;
	struct mslab *all[MAX_SLABS];
	int nall;
	struct mslab *avail[MAX_SLABS], *full[MAX_SLABS], *empty[MAX_SLABS];
	int navail, nfull, nempty;
	/* constructor and destructor calls of the current operation */
	size_t ctor_calls;
	unsigned char *ctor_first, *ctor_prev;
	struct mslab *gone[MAX_SLABS];
	int ngone;
	size_t dtor_calls;
};

struct hblock {
	unsigned char *p;
	size_t req, round;
	uint8_t seed;
	int tag;               /* 1: an element of a pool on functions */
};

/* A reserve pool, on a cache (m) or on functions that allocate heap
 * blocks of esize bytes (fn_alloc, fn_free below). */
struct mpool {
	rtpool_t *p;           /* NULL: slot unused */
	struct mcache *m;
	size_t esize;
	size_t min_nr, arr_round; /* arr_round: its array in the heap, 0: none */
	void *res[MAX_ELEMS];  /* the reserve: res[curr - 1] handed out first */
	size_t curr;
	void *out[MAX_ELEMS];  /* handed out to the program */
	size_t nout;
	size_t allocs, from_reserve, frees, refills, waits, timeouts, failures;
	/* the element functions in the current operation */
	void *got[MAX_ELEMS];  /* allocated, not released again */
	void *want[MAX_ELEMS]; /* releases expected, in order */
	size_t ngot, nwant, wpos, fn_allocs, fn_frees;
};

static struct model {
	rtheap_t heap;
	int alive;
	size_t page;
	unsigned hflags;
	unsigned char *ext_buf[2];
	size_t ext_size[2];
	int next;
	struct hblock blk[MAX_BLOCKS];
	int nblk;
	unsigned char *freed[FREED_RING];
	unsigned freed_pos;
	size_t desc_round;     /* a cache's descriptor in the heap */
	size_t allocs, frees, failed, errors;
	int cb_calls, exp_calls;
	rtheap_error_kind_t cb_kind, exp_kind;
	const void *cb_addr, *exp_addr;
	struct mcache mc[MAX_CACHES];
	struct mcache *cur;    /* the cache whose call runs (ctor, dtor) */
	struct mpool mp[MAX_POOLS];
	size_t pool_desc_round;
	uint32_t epoch;
	size_t enum_calls, enum_stop;
	uint8_t seed;
} M;

/* Page-order blocks (rtheap/kmem.h), kept apart from the caches' model:
 * see the section "page-order blocks" below. */
#define MAX_PAGEBLKS 24
static struct pmodel {
	struct { unsigned char *p; unsigned order; uint8_t seed; } blk[MAX_PAGEBLKS];
	int n;
	unsigned char *freed[FREED_RING];
	unsigned freed_pos;
} PM;
static int pages_overlap(const unsigned char *p, size_t n);
static struct mcache *pick(unsigned b);
static void pages_account(size_t *used, size_t *live, size_t *owned);

static void on_error(rtheap_t *h, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	CHECK(h == &M.heap && arg == &M, "error callback with wrong heap/arg");
	M.cb_calls++;
	M.cb_kind = kind;
	M.cb_addr = addr;
}

static void expect_report(rtheap_error_kind_t kind, const void *addr)
{
	M.exp_calls++;
	M.exp_kind = kind;
	M.exp_addr = addr;
	M.errors++;
}

static size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

static int pow2(size_t x)
{
	return x && !(x & (x - 1));
}

/* ---- region pools (rtheap/region.h) ---- */

/* The model of a pool: its blocks in the order they were taken (the
 * oldest first), per block its bump offset, live count, failures and two
 * marks per 16-byte granule (live, start), the reuse list (head first),
 * the current block, the live allocations with their fill. */
struct rgblk {
	unsigned char *addr;
	uint32_t off, live, failed;
	uint8_t *lv, *st;      /* per granule */
};

struct rgalloc {
	unsigned char *p;
	size_t size, round;    /* round: the heap block of a large one */
	uint8_t seed;
	int large;
};

struct mregion {
	rtregion_t *r;         /* NULL: slot unused */
	size_t B, first, small_max, desc_round;
	struct rgblk blk[RG_MAX_BLOCKS];
	int nblk, cur;
	int reuse[RG_MAX_BLOCKS];
	int nreuse;
	struct rgalloc a[RG_MAX_ALLOCS];
	int na;
	unsigned char *freed[FREED_RING];
	unsigned freed_pos;
	size_t allocs, frees, failures, misuse, resets, nlarge, large_bytes;
};

static struct mregion RG[MAX_REGIONS];
static void do_rg_destroy(struct mregion *g);

static size_t rg_header(size_t B)
{
	/* links, pool, four counts; then two bits per granule (rtheap/region.h) */
	size_t h = 5 * sizeof(void *) + 16 + 2 * (B / 16 / 8);
	return round_up(h, 16);
}

/* Heap bytes, blocks and owned pages of every pool (for check_heap). */
static void rg_heap_use(size_t *used, size_t *live, size_t *owned)
{
	for (int i = 0; i < MAX_REGIONS; i++) {
		const struct mregion *g = &RG[i];
		if (!g->r)
			continue;
		*used += g->desc_round + (size_t)g->nblk * g->B;
		*live += 1 + (size_t)g->nblk;
		*owned += (size_t)g->nblk * g->B / M.page;
		for (int k = 0; k < g->na; k++)
			if (g->a[k].large) {
				*used += g->a[k].round;
				*live += 1;
			}
	}
}

MODEL_FN static int rg_overlaps(const unsigned char *p, size_t n)
{
	for (int i = 0; i < MAX_REGIONS; i++) {
		const struct mregion *g = &RG[i];
		for (int k = 0; g->r && k < g->nblk; k++)
			if (p < g->blk[k].addr + g->B && g->blk[k].addr < p + n)
				return 1;
		for (int k = 0; g->r && k < g->na; k++)
			if (g->a[k].large && p < g->a[k].p - RTREGION_LARGE_HDR + g->a[k].round &&
			    g->a[k].p - RTREGION_LARGE_HDR < p + n)
				return 1;
	}
	return 0;
}

static void rg_check(const struct mregion *g)
{
	struct rtregion_stats st;
	size_t reusable = 0, live = 0, used = 0;
	CHECK(rtregion_get_stats(g->r, &st) == 0, "region stats");
	for (int k = 0; k < g->nblk; k++) {
		live += g->blk[k].live;
		used += g->blk[k].off - g->first;
	}
	reusable = (size_t)g->nreuse;
	CHECK(st.block_size == g->B && st.block_header == g->first && st.small_max == g->small_max,
	      "region geometry %zu/%zu", st.block_size, st.block_header);
	CHECK(st.blocks == (size_t)g->nblk && st.reusable_blocks == reusable,
	      "region blocks %zu (%zu reusable) vs %d (%zu)", st.blocks, st.reusable_blocks, g->nblk,
	      reusable);
	CHECK(st.live_small == live && st.used_bytes == used, "region live %zu used %zu vs %zu %zu",
	      st.live_small, st.used_bytes, live, used);
	CHECK(st.large == g->nlarge && st.large_bytes == g->large_bytes, "region large %zu vs %zu",
	      st.large, g->nlarge);
	CHECK(st.allocs == g->allocs && st.frees == g->frees && st.failures == g->failures &&
	          st.misuse == g->misuse && st.resets == g->resets,
	      "region counters %zu %zu %zu %zu %zu vs %zu %zu %zu %zu %zu", st.allocs, st.frees,
	      st.failures, st.misuse, st.resets, g->allocs, g->frees, g->failures, g->misuse,
	      g->resets);
}

static void rg_blk_init(struct mregion *g, struct rgblk *b, unsigned char *addr)
{
	size_t n = g->B / 16;
	b->addr = addr;
	b->off = (uint32_t)g->first;
	b->live = b->failed = 0;
	b->lv = calloc(n, 1);
	b->st = calloc(n, 1);
	CHECK(b->lv && b->st, "model memory");
}

static void rg_rewind(struct mregion *g, struct rgblk *b)
{
	memset(b->lv, 0, g->B / 16);
	memset(b->st, 0, g->B / 16);
	b->off = (uint32_t)g->first;
	b->live = 0;
}


/* ---- contents ---- */

static inline uint8_t stamp_byte(const unsigned char *obj, size_t i)
{
	return (uint8_t)(((uintptr_t)obj >> 3) ^ (i * 7u) ^ 0x5au);
}

static inline uint8_t user_byte(uint8_t seed, size_t i)
{
	return (uint8_t)(seed ^ (i * 13u) ^ (i >> 8));
}

MODEL_FN static void stamp(unsigned char *obj, size_t n)
{
	for (size_t i = 0; i < n; i++)
		obj[i] = stamp_byte(obj, i);
}

MODEL_FN static void verify_stamp(const unsigned char *obj, size_t n, const char *when)
{
	for (size_t i = 0; i < n; i++)
		CHECK(obj[i] == stamp_byte(obj, i), "%s: object %p byte %zu lost its constructed state",
		      when, (const void *)obj, i);
}

MODEL_FN static void fill_user(unsigned char *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = user_byte(seed, i);
}

MODEL_FN static void verify_user(const unsigned char *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		CHECK(p[i] == user_byte(seed, i), "live memory %p (%zu bytes) byte %zu overwritten",
		      (const void *)p, n, i);
}

MODEL_FN static void verify_all(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		CHECK(p[i] == v, "object %p byte %zu is %#x, not %#x", (const void *)p, i, p[i], v);
}

/* ---- slabs and lists ---- */

static unsigned char *obj_at(const struct mcache *m, const struct mslab *s, size_t idx)
{
	return s->addr + m->first + idx * m->stride;
}

static struct mslab *slab_new(const struct mcache *m, unsigned char *addr)
{
	size_t S = m->S;
	struct mslab *s = calloc(1, sizeof *s);
	CHECK(s != NULL, "out of memory");
	s->addr = addr;
	s->stack = calloc(S, sizeof *s->stack);
	s->live = calloc(S, 1);
	s->seed = calloc(S, 1);
	s->dirty = calloc(S, 1);
	s->tag = calloc(S, 1);
	s->seen = calloc(S, sizeof *s->seen);
	CHECK(s->stack && s->live && s->seed && s->dirty && s->tag && s->seen, "out of memory");
	return s;
}

static void slab_free(struct mslab *s)
{
	free(s->stack);
	free(s->live);
	free(s->seed);
	free(s->dirty);
	free(s->tag);
	free(s->seen);
	free(s);
}

MODEL_FN static int list_find(struct mslab **l, int n, const struct mslab *s)
{
	for (int i = 0; i < n; i++)
		if (l[i] == s)
			return i;
	return -1;
}

MODEL_FN static void list_del(struct mslab **l, int *n, const struct mslab *s)
{
	int i = list_find(l, *n, s);
	CHECK(i >= 0, "model: slab %p not on its list", (void *)s->addr);
	memmove(&l[i], &l[i + 1], (size_t)(*n - i - 1) * sizeof *l);
	(*n)--;
}

MODEL_FN static void list_push(struct mslab **l, int *n, struct mslab *s)
{
	CHECK(*n < MAX_SLABS, "model: too many slabs");
	memmove(&l[1], &l[0], (size_t)*n * sizeof *l);
	l[0] = s;
	(*n)++;
}

/* The slab of m holding address a, or NULL. */
MODEL_FN static struct mslab *slab_holding(const struct mcache *m, const void *a)
{
	const unsigned char *p = a;
	for (int i = 0; i < m->nall; i++)
		if (p >= m->all[i]->addr && p < m->all[i]->addr + m->B)
			return m->all[i];
	return NULL;
}

/* Index of the object a starts in s, or -1. */
static long obj_index(const struct mcache *m, const struct mslab *s, const void *a)
{
	size_t off = (size_t)((const unsigned char *)a - s->addr);
	if (off < m->first || (off - m->first) % m->stride)
		return -1;
	size_t idx = (off - m->first) / m->stride;
	return idx < m->S ? (long)idx : -1;
}

/* The k-th live object of m (k < m->live). */
MODEL_FN static void nth_live(const struct mcache *m, size_t k, struct mslab **sp, size_t *ip)
{
	for (int i = 0; i < m->nall; i++) {
		struct mslab *s = m->all[i];
		if (k >= s->inuse) {
			k -= s->inuse;
			continue;
		}
		for (size_t idx = 0; idx < m->S; idx++)
			if (s->live[idx] && k-- == 0) {
				*sp = s;
				*ip = idx;
				return;
			}
	}
	CHECK(0, "model: live count out of step");
}

/* Slab s (empty) goes back to the heap: off the lists now; its destructor
 * calls are checked, and it is forgotten, by gone_done(). */
static void model_give(struct mcache *m, struct mslab *s)
{
	CHECK(s->inuse == 0 && m->ngone < MAX_SLABS, "model: giving a slab in use");
	if (list_find(m->avail, m->navail, s) >= 0)
		list_del(m->avail, &m->navail, s);
	list_del(m->empty, &m->nempty, s);
	list_del(m->all, &m->nall, s);
	m->gone[m->ngone++] = s;
}

/* Start of an operation on m: no slab gone, no destructor call yet. */
static void op_start(struct mcache *m)
{
	m->ngone = 0;
	m->dtor_calls = 0;
	m->ctor_calls = 0;
}

/* Every empty slab of m goes back, in the cache's order: the tail of the
 * empty list first. */
static void give_empty(struct mcache *m)
{
	while (m->nempty)
		model_give(m, m->empty[m->nempty - 1]);
}

/* End of an operation on m: the destructor ran on every object of every
 * slab given back, in order; forget those slabs. */
static void gone_done(struct mcache *m)
{
	CHECK(m->dtor_calls == (m->dtor ? (size_t)m->ngone * m->S : 0),
	      "destructor ran %zu times for %d slabs of %zu", m->dtor_calls, m->ngone, m->S);
	for (int g = 0; g < m->ngone; g++) {
		slab_free(m->gone[g]);
		M.frees++;
	}
	m->ngone = 0;
}

/* ---- constructor, destructor ---- */

static struct mcache *mc_of(rtcache_t *c)
{
	for (int i = 0; i < MAX_CACHES; i++)
		if (M.mc[i].c == c && c)
			return &M.mc[i];
	return NULL;
}

static void ctor(void *obj, rtcache_t *cache, unsigned long flags)
{
	struct mcache *m = M.cur;
	CHECK(m && m->c == cache && mc_of(cache) == m, "constructor of the wrong cache");
	CHECK(flags == RTCACHE_CTOR, "constructor flags %lu", flags);
	unsigned char *p = obj;
	if (m->ctor_calls++ == 0)
		m->ctor_first = p;
	else
		CHECK(p == m->ctor_prev + m->stride, "constructor order: %p after %p", obj,
		      (void *)m->ctor_prev);
	m->ctor_prev = p;
	stamp(p, m->size);
}

static void dtor(void *obj, rtcache_t *cache, unsigned long flags)
{
	struct mcache *m = M.cur;
	CHECK(m && m->c == cache, "destructor of the wrong cache");
	CHECK(flags == RTCACHE_DTOR, "destructor flags %lu", flags);
	size_t pos = m->dtor_calls++;
	CHECK(pos / m->S < (size_t)m->ngone, "destructor on a slab that stays");
	const struct mslab *s = m->gone[pos / m->S];
	CHECK(obj == obj_at(m, s, pos % m->S), "destructor call %zu on %p, not %p", pos, obj,
	      (void *)obj_at(m, s, pos % m->S));
	if (m->ctor)
		verify_stamp(obj, m->size, "destructor");
}

/* ---- the slab-size rule (rtheap/cache.h), computed here ---- */

static size_t g_first(size_t n, size_t align, int with_ctor)
{
	size_t map = (n + WBITS - 1) / WBITS * sizeof(unsigned long);
	return round_up(SLAB_HDR + map + (with_ctor ? 2 * n : 0), align);
}

MODEL_FN static size_t g_fit(size_t B, size_t stride, size_t align, int with_ctor)
{
	if (B <= SLAB_HDR)
		return 0;
	size_t n = (B - SLAB_HDR) / (stride + (with_ctor ? 2 : 0));
	if (n > 65535)
		n = 65535;
	while (n > 0 && g_first(n, align, with_ctor) + n * stride > B)
		n--;
	return n;
}

/* The slab size, or 0 when no slab up to max holds an object. */
MODEL_FN static size_t g_slab(size_t max, size_t stride, size_t align, int with_ctor)
{
	size_t tail = 0, last = 0;
	if (max > SLAB_MAX)
		max = SLAB_MAX;
	for (size_t B = M.page; B <= max; B *= 2) {
		size_t n = g_fit(B, stride, align, with_ctor);
		if (!n)
			continue;
		last = B;
		if (B - n * stride <= B / 8)
			return B;
		if (!tail && B - g_first(n, align, with_ctor) - n * stride <= B / 8)
			tail = B;
		if (n == 65535)
			break;
	}
	return tail ? tail : last;
}

/* ---- checks after every operation ---- */

static size_t largest_free(void)
{
	struct rtheap_stats st;
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats");
	return st.largest_free;
}

static void check_cache(struct mcache *m)
{
	struct rtcache_stats st;
	memset(&st, 0x5a, sizeof st);
	CHECK(rtcache_get_stats(m->c, &st) == 0, "cache stats");
	size_t empties = (size_t)m->nempty, active = (size_t)m->nall - empties;
	CHECK(st.active_objs == m->live, "%s: active_objs %zu vs %zu", m->name, st.active_objs,
	      m->live);
	CHECK(st.total_objs == (size_t)m->nall * m->S, "%s: total_objs %zu", m->name,
	      st.total_objs);
	CHECK(st.total_slabs == (size_t)m->nall, "%s: slabs %zu vs %d", m->name, st.total_slabs,
	      m->nall);
	CHECK(st.active_slabs == active && st.empty_slabs == empties,
	      "%s: active/empty slabs %zu/%zu vs %zu/%zu", m->name, st.active_slabs,
	      st.empty_slabs, active, empties);
	CHECK(st.allocs == m->allocs && st.frees == m->frees && st.failures == m->failures,
	      "%s: allocs %zu frees %zu failures %zu vs %zu %zu %zu", m->name, st.allocs,
	      st.frees, st.failures, m->allocs, m->frees, m->failures);
	CHECK(st.overhead_bytes == (size_t)m->nall * m->first, "%s: overhead %zu", m->name,
	      st.overhead_bytes);
	CHECK(st.objs_per_slab == m->S && st.slab_bytes == m->B && st.stride == m->stride,
	      "%s: geometry changed", m->name);
}

static void check_heap(void)
{
	struct rtheap_stats st;
	struct rtheap_fault f;
	memset(&f, 0, sizeof f);
	int rc = rtheap_check(&M.heap, &f);
	CHECK(rc == 0, "rtheap_check %d: %s at %p", rc, f.what ? f.what : "?", f.addr);
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats");
	size_t used = 0, live = (size_t)M.nblk, owned = 0;
	for (int i = 0; i < M.nblk; i++)
		used += M.blk[i].round;
	for (int i = 0; i < MAX_CACHES; i++) {
		const struct mcache *m = &M.mc[i];
		if (!m->c)
			continue;
		used += M.desc_round + (size_t)m->nall * m->B;
		live += 1 + (size_t)m->nall;
		owned += (size_t)m->nall * m->B / M.page;
	}
	for (int i = 0; i < MAX_POOLS; i++) {
		const struct mpool *q = &M.mp[i];
		if (!q->p)
			continue;
		used += M.pool_desc_round + q->arr_round;
		live += 1 + (q->arr_round != 0);
	}
	rg_heap_use(&used, &live, &owned);
	pages_account(&used, &live, &owned);
	CHECK(st.used == used, "used %zu vs %zu", st.used, used);
	CHECK(st.live_blocks == live, "live blocks %zu vs %zu", st.live_blocks, live);
	CHECK(st.pages_owned == owned, "owned pages %zu vs %zu", st.pages_owned, owned);
	CHECK(st.alloc_calls == M.allocs && st.free_calls == M.frees,
	      "heap allocs %zu frees %zu vs %zu %zu", st.alloc_calls, st.free_calls, M.allocs,
	      M.frees);
	CHECK(st.failed_allocs == M.failed, "failed %zu vs %zu", st.failed_allocs, M.failed);
	CHECK(st.errors == M.errors, "errors %zu vs %zu", st.errors, M.errors);
}

static void check_pool(const struct mpool *q)
{
	struct rtpool_stats st;
	CHECK(rtpool_get_stats(q->p, &st) == 0, "pool stats");
	CHECK(st.min_nr == q->min_nr && st.curr_nr == q->curr, "pool min_nr %zu curr_nr %zu vs %zu %zu",
	      st.min_nr, st.curr_nr, q->min_nr, q->curr);
	CHECK(st.allocs == q->allocs && st.from_reserve == q->from_reserve && st.frees == q->frees &&
	          st.refills == q->refills,
	      "pool allocs %zu (%zu from reserve) frees %zu (%zu refills) vs %zu (%zu) %zu (%zu)",
	      st.allocs, st.from_reserve, st.frees, st.refills, q->allocs, q->from_reserve, q->frees,
	      q->refills);
	CHECK(st.waits == q->waits && st.timeouts == q->timeouts && st.failures == q->failures,
	      "pool waits %zu timeouts %zu failures %zu vs %zu %zu %zu", st.waits, st.timeouts,
	      st.failures, q->waits, q->timeouts, q->failures);
}

static void check_all(void)
{
	CHECK(M.cb_calls == M.exp_calls, "error callback called %d times, expected %d (kind %d at %p)",
	      M.cb_calls, M.exp_calls, M.cb_kind, M.cb_addr);
	if (M.exp_calls)
		CHECK(M.cb_kind == M.exp_kind && M.cb_addr == M.exp_addr,
		      "reported kind %d at %p, expected %d at %p", M.cb_kind, M.cb_addr, M.exp_kind,
		      M.exp_addr);
	M.cb_calls = M.exp_calls = 0;
	check_heap();
	for (int i = 0; i < MAX_CACHES; i++)
		if (M.mc[i].c)
			check_cache(&M.mc[i]);
	for (int i = 0; i < MAX_POOLS; i++)
		if (M.mp[i].p)
			check_pool(&M.mp[i]);
	for (int i = 0; i < MAX_REGIONS; i++)
		if (RG[i].r)
			rg_check(&RG[i]);
}

/* ---- where things are ---- */

MODEL_FN static int in_extent(const void *a, size_t n)
{
	const unsigned char *p = a;
	for (int i = 0; i < M.next; i++)
		if (p >= M.ext_buf[i] && p + n <= M.ext_buf[i] + M.ext_size[i])
			return 1;
	return 0;
}

/* Does [p, p + n) overlap a live heap block or a slab? */
MODEL_FN static int overlaps(const unsigned char *p, size_t n)
{
	if (rg_overlaps(p, n))
		return 1;
	for (int i = 0; i < M.nblk; i++)
		if (p < M.blk[i].p + M.blk[i].round && M.blk[i].p < p + n)
			return 1;
	for (int c = 0; c < MAX_CACHES; c++) {
		const struct mcache *m = &M.mc[c];
		for (int i = 0; m->c && i < m->nall; i++)
			if (p < m->all[i]->addr + m->B && m->all[i]->addr < p + n)
				return 1;
	}
	return pages_overlap(p, n);
}

/* ---- create ---- */

static size_t choose_size(struct input *in)
{
	static const size_t odd[] = {24, 40, 96, 100, 200, 1000, 3000, 13, 2, 3};
	static const size_t huge[] = {0, SLAB_MAX, SLAB_MAX + 1, SIZE_MAX, 1u << 20, 100000};
	unsigned b = get8(in);
	switch (b >> 5) {
	case 0:
	case 1:
	case 2:
		return 1 + (b & 31);
	case 3:
		return 8 * (1 + get8(in) % 32);
	case 4:
		return 1 + get16(in) % (2 * M.page);
	case 5:
		return (size_t)1 << (get8(in) % 14);
	case 6:
		return huge[get8(in) % (sizeof huge / sizeof huge[0])];
	default:
		return odd[get8(in) % (sizeof odd / sizeof odd[0])];
	}
}

static size_t choose_align(struct input *in)
{
	static const size_t al[] = {0, 0, 0, 8, 16, 32, 64, 128, 1, 2, 4, 256, 512, 3, 24, 1u << 20};
	unsigned b = get8(in);
	if (b == 0xff)
		return M.page;
	if (b == 0xfe)
		return 2 * M.page;
	return al[b % (sizeof al / sizeof al[0])];
}

/* The error rtcache_create() must give, or 0 (then m's geometry is set). */
static int create_error(struct mcache *m, size_t size, size_t align, unsigned flags, int with_ctor)
{
	if (size == 0 || size > SLAB_MAX ||
	    (flags & ~(unsigned)(RTCACHE_ZERO | RTCACHE_HWCACHE_ALIGN | RTCACHE_NOLOCK)))
		return EINVAL;
	if ((flags & RTCACHE_ZERO) && with_ctor)
		return EINVAL;
	if (align && (!pow2(align) || align > M.page))
		return EINVAL;
	size_t a = align < sizeof(void *) ? sizeof(void *) : align;
	if ((flags & RTCACHE_HWCACHE_ALIGN) && a < RTCACHE_LINE)
		a = RTCACHE_LINE;
	m->align = a;
	m->stride = round_up(size, a);
	m->B = g_slab(rt_owner_max(&M.heap), m->stride, a, with_ctor);
	if (!m->B)
		return EINVAL;
	m->S = g_fit(m->B, m->stride, a, with_ctor);
	m->first = g_first(m->S, a, with_ctor);
	return 0;
}

static void created(struct mcache *m, rtcache_t *c, size_t size, unsigned flags, int cd)
{
	memset(&m->allocs, 0, sizeof *m - offsetof(struct mcache, allocs));
	m->c = c;
	m->size = size;
	m->flags = flags;
	m->ctor = cd & 1;
	m->dtor = (cd & 2) != 0;
	m->zero = (flags & RTCACHE_ZERO) != 0;
	m->fill = !m->ctor && (M.hflags & RTHEAP_F_DEBUG_FILL);
	m->keep = 1;
	M.allocs++;
	CHECK(m->S <= MAX_S, "model: %zu objects per slab", m->S);
	struct rtcache_stats st;
	CHECK(rtcache_get_stats(c, &st) == 0, "stats");
	CHECK(st.obj_size == size && st.align == m->align && st.stride == m->stride,
	      "size %zu align %zu stride %zu vs %zu %zu %zu", st.obj_size, st.align, st.stride,
	      size, m->align, m->stride);
	CHECK(st.slab_bytes == m->B && st.objs_per_slab == m->S &&
	          st.pages_per_slab == m->B / M.page,
	      "slab %zu B, %zu objects (rule: %zu B, %zu)", st.slab_bytes, st.objs_per_slab, m->B,
	      m->S);
	CHECK(strncmp(st.name, m->name, 31) == 0 && strlen(st.name) == (strlen(m->name) < 31 ? strlen(m->name) : 31),
	      "name \"%s\" for \"%s\"", st.name, m->name);
	CHECK(st.total_slabs == 0 && st.allocs == 0, "a new cache has slabs or allocations");
}

static void do_create(struct input *in, int slot)
{
	struct mcache *m = &M.mc[slot];
	if (m->c)
		return;
	size_t size = choose_size(in), align = choose_align(in);
	unsigned fb = get8(in), cd = get8(in);
	unsigned flags = fb & 7;
	if ((fb & 0xc0) == 0xc0)
		flags |= 1u << (3 + fb % 5); /* unknown flag */
	if (cd & 4)
		snprintf(m->name, sizeof m->name, "cache-%d-with-a-name-longer-than-31-bytes", slot);
	else
		snprintf(m->name, sizeof m->name, "c%d-%u", slot, cd >> 3);
	int err = create_error(m, size, align, flags, cd & 1);
	size_t lf = largest_free();
	errno = 0;
	rtcache_t *c = rtcache_create(&M.heap, m->name, size, align, flags,
	                              (cd & 1) ? ctor : NULL, (cd & 2) ? dtor : NULL);
	if (err) {
		CHECK(!c && errno == err, "create(%zu, %zu, %#x) = %p errno %d, expected %d", size,
		      align, flags, (void *)c, errno, err);
		return;
	}
	if (!c) {
		size_t need = M.desc_round > M.page ? M.desc_round : M.page;
		CHECK(errno == ENOMEM && lf < need, "create(%zu) failed, errno %d, largest free %zu",
		      size, errno, lf);
		M.failed++;
		return;
	}
	created(m, c, size, flags, (int)cd);
}

/* ---- allocation ---- */

/* Verify what the cache hands out (a constructed object, zeroes, the
 * debug fill). */
static void verify_fresh(const struct mcache *m, const unsigned char *p)
{
	if (m->ctor)
		verify_stamp(p, m->size, "allocation");
	else if (m->zero)
		verify_all(p, m->size, 0);
	else if (m->fill)
		verify_all(p, m->size, RT_OWNER_FILL_FRESH);
}

static uint8_t next_seed(void)
{
	if (++M.seed == 0)
		M.seed = 1;
	return M.seed;
}

/* Object idx of s was handed out: verify it; fill it (its user writes)
 * unless @p keep: 1, a pool's reserve (nobody touches it); 2, the same,
 * but the pool's call released it again already (not to be read). */
static void handed_out(struct mcache *m, struct mslab *s, size_t idx, int reused, int keep)
{
	unsigned char *p = obj_at(m, s, idx);
	if (reused && s->dirty[idx]) /* written after release (debug fill) */
		expect_report(RTHEAP_ERR_USE_AFTER_FREE, p);
	s->dirty[idx] = 0;
	if (keep < 2)
		verify_fresh(m, p);
	s->seed[idx] = keep ? 0 : next_seed();
	if (!keep)
		fill_user(p, m->size, s->seed[idx]);
	s->tag[idx] = keep != 0;
	s->live[idx] = 1;
	m->live++;
	m->allocs++;
}

/* Verify a live object's contents; put it back in its constructed state
 * for a release (the cache's rule for constructor caches). */
static void verify_live(const struct mcache *m, const struct mslab *s, size_t idx, int release)
{
	unsigned char *p = obj_at(m, s, idx);
	if (s->seed[idx])
		verify_user(p, m->size, s->seed[idx]);
	else
		verify_fresh(m, p);
	if (release && m->ctor && s->seed[idx])
		stamp(p, m->size);
}

/* A new slab was taken for p: check where it is, add it to the model. */
static struct mslab *new_slab(struct mcache *m, unsigned char *p)
{
	unsigned char *addr = (unsigned char *)((uintptr_t)p & ~(uintptr_t)(m->B - 1));
	CHECK(p == addr + m->first, "first object of a new slab at %p, slab %p", (void *)p,
	      (void *)addr);
	CHECK(in_extent(addr, m->B), "slab %p outside the heap", (void *)addr);
	CHECK(!overlaps(addr, m->B), "slab %p overlaps a block or a slab", (void *)addr);
	CHECK(m->ctor ? m->ctor_calls == m->S && m->ctor_first == p : m->ctor_calls == 0,
	      "constructor ran %zu times from %p for a new slab of %zu at %p", m->ctor_calls,
	      (void *)m->ctor_first, m->S, (void *)p);
	struct mslab *s = slab_new(m, addr);
	list_push(m->all, &m->nall, s);
	list_push(m->avail, &m->navail, s);
	M.allocs++;
	return s;
}

/* The object the next allocation of m returns, or NULL: a new slab. */
static unsigned char *alloc_predict(const struct mcache *m)
{
	if (!m->navail)
		return NULL;
	const struct mslab *s = m->avail[0];
	return obj_at(m, s, s->nfree ? s->stack[s->nfree - 1] : s->fresh);
}

/* m had no free object and no slab for one: the heap had no run. */
static void alloc_failed(struct mcache *m, size_t lf)
{
	CHECK(lf < 2 * m->B - M.page, "no slab of %zu B with %zu B free in one run", m->B, lf);
	m->failures++;
	M.failed++;
}

/* m handed out p (with no free object, the first of a new slab). */
static void alloc_apply(struct mcache *m, unsigned char *p, int keep)
{
	const int need_slab = m->navail == 0;
	struct mslab *s = need_slab ? new_slab(m, p) : m->avail[0];
	int reused = s->nfree > 0;
	size_t idx = reused ? s->stack[--s->nfree] : s->fresh++;
	CHECK(p == obj_at(m, s, idx), "allocation returned %p, model %p (slab %p, object %zu)",
	      (void *)p, (void *)obj_at(m, s, idx), (void *)s->addr, idx);
	CHECK(((uintptr_t)p & (m->align - 1)) == 0, "object misaligned");
	if (s->inuse++ == 0 && !need_slab)
		list_del(m->empty, &m->nempty, s);
	if (s->inuse == m->S) {
		list_del(m->avail, &m->navail, s);
		list_push(m->full, &m->nfull, s);
	}
	handed_out(m, s, idx, reused, keep);
}

static void do_alloc(struct mcache *m, int nolock)
{
	unsigned char *want = alloc_predict(m);
	size_t lf = largest_free();
	op_start(m);
	M.cur = m;
	unsigned char *p = nolock ? rtcache_alloc_nolock(m->c) : rtcache_alloc(m->c);
	M.cur = NULL;
	if (!want && !p) {
		CHECK(m->ctor_calls == 0, "constructor ran for a failed slab");
		alloc_failed(m, lf);
		return;
	}
	CHECK(p != NULL, "allocation failed with a free object in the cache");
	CHECK(!want || m->ctor_calls == 0, "constructor ran without a new slab");
	alloc_apply(m, p, 0);
}

/* ---- release ---- */

/* Model of a good release of object idx of s (before the call). */
static void model_release(struct mcache *m, struct mslab *s, size_t idx)
{
	CHECK(s->live[idx], "model: releasing a free object");
	s->live[idx] = 0;
	s->tag[idx] = 0;
	s->stack[s->nfree++] = (uint16_t)idx;
	m->live--;
	m->frees++;
	s->inuse--;
	if (m->navail == 0 || m->avail[0] != s) {
		if (list_find(m->full, m->nfull, s) >= 0)
			list_del(m->full, &m->nfull, s);
		else
			list_del(m->avail, &m->navail, s);
		list_push(m->avail, &m->navail, s);
	}
	if (s->inuse == 0) {
		list_push(m->empty, &m->nempty, s);
		if ((unsigned)m->nempty > m->keep)
			model_give(m, m->empty[m->nempty - 1]);
	}
}

/* The slab and index of live object p of m. */
static struct mslab *live_slab(const struct mcache *m, const void *p, size_t *idx)
{
	struct mslab *s = slab_holding(m, p);
	long i = s ? obj_index(m, s, p) : -1;
	CHECK(i >= 0 && s->live[i], "model: %p is not a live object of %s", p, m->name);
	*idx = (size_t)i;
	return s;
}

static void do_free(struct input *in, struct mcache *m, int nolock)
{
	unsigned k = get16(in);
	if (!m->live)
		return;
	struct mslab *s;
	size_t idx;
	nth_live(m, k % m->live, &s, &idx);
	if (s->tag[idx]) /* a pool's: released through the pool */
		return;
	unsigned char *p = obj_at(m, s, idx);
	verify_live(m, s, idx, 1);
	op_start(m);
	model_release(m, s, idx);
	M.cur = m;
	int rc = nolock ? rtcache_free_nolock(m->c, p) : rtcache_free(m->c, p);
	M.cur = NULL;
	CHECK(rc == 0, "release of live object %p = %d", (void *)p, rc);
	gone_done(m);
}

/* What rtcache_free(m, a) answers for a, not a live object of m: the
 * error, with the kind reported; 1 if a is a live object (not a misuse). */
MODEL_FN static int predict_bad(const struct mcache *m, const void *a, rtheap_error_kind_t *kind)
{
	*kind = RTHEAP_ERR_FOREIGN;
	if (!in_extent(a, 1))
		return -EFAULT;
	*kind = RTHEAP_ERR_NOT_BLOCK;
	const struct mslab *s = slab_holding(m, a);
	long idx = s ? obj_index(m, s, a) : -1;
	if (idx < 0)
		return -EINVAL;
	if (s->live[idx])
		return 1;
	*kind = RTHEAP_ERR_DOUBLE_FREE;
	return -EALREADY;
}

/* A live object of another cache than m, or NULL. */
static unsigned char *other_object(const struct mcache *m, unsigned r)
{
	for (int i = 0; i < MAX_CACHES; i++) {
		struct mcache *o = &M.mc[(r + (unsigned)i) % MAX_CACHES];
		if (o == m || !o->c || !o->live)
			continue;
		struct mslab *s;
		size_t idx;
		nth_live(o, r % o->live, &s, &idx);
		return obj_at(o, s, idx);
	}
	return NULL;
}

/* An address for a bad release, as the input says. */
static unsigned char *bad_address(struct input *in, const struct mcache *m)
{
	unsigned how = get8(in), r = get16(in);
	const struct mslab *s = m->nall ? m->all[r % (unsigned)m->nall] : NULL;
	size_t tail = m->B - m->first - m->S * m->stride;
	unsigned char *p = NULL;
	switch (how % 8) {
	case 0: /* interior of an object */
	case 1: /* an object not live: released, never used or dropped */
		if (s)
			p = obj_at(m, s, (r >> 3) % m->S) + (how % 8 == 0 ? 1 + r % (m->stride - 1) : 0);
		break;
	case 2: /* the slab header */
		if (s)
			p = s->addr + r % m->first;
		break;
	case 3: /* the slab's tail */
		if (s)
			p = tail ? obj_at(m, s, m->S) + r % tail : s->addr;
		break;
	case 4:
		p = foreign_mem + r % sizeof foreign_mem;
		break;
	case 5:
		p = other_object(m, r);
		if (p && (how & 0x80))
			p = (unsigned char *)((uintptr_t)p & ~(uintptr_t)(M.page - 1));
		break;
	case 6: /* a heap block, live or freed */
		p = (how & 0x80) || !M.nblk ? M.freed[r % FREED_RING] : M.blk[r % (unsigned)M.nblk].p;
		break;
	default:
		p = (how & 0x80) ? arena2 + (r * 8u) % ARENA2_SIZE : arena + ((size_t)r * 24u) % ARENA_SIZE;
		break;
	}
	return p;
}

static void do_bad_free(struct input *in, struct mcache *m)
{
	int nolock = (int)(get8(in) & 1);
	unsigned char *p = bad_address(in, m);
	rtheap_error_kind_t kind;
	if (!p)
		return;
	int expect = predict_bad(m, p, &kind);
	if (expect == 1)
		return;
	M.cur = m;
	int rc = nolock ? rtcache_free_nolock(m->c, p) : rtcache_free(m->c, p);
	M.cur = NULL;
	CHECK(rc == expect, "bad release of %p to %s = %d, expected %d", (void *)p, m->name, rc,
	      expect);
	expect_report(kind, p);
}

/* ---- plain heap blocks beside the caches ---- */

static void do_heap_alloc(struct input *in)
{
	size_t size = 1 + get16(in) % (3 * M.page);
	if (M.nblk == MAX_BLOCKS)
		return;
	size_t round = rtheap_round_size(&M.heap, size), lf = largest_free();
	unsigned char *p = rtheap_alloc(&M.heap, size);
	if (!p) {
		CHECK(lf < (round > M.page ? round : M.page), "alloc(%zu) failed, %zu B free in a run",
		      size, lf);
		M.failed++;
		return;
	}
	CHECK(in_extent(p, round) && !overlaps(p, round), "block %p (%zu B) overlaps", (void *)p,
	      round);
	struct hblock *b = &M.blk[M.nblk++];
	b->p = p;
	b->req = size;
	b->round = round;
	b->seed = ++M.seed;
	fill_user(p, size, b->seed);
	M.allocs++;
}

/* Release a heap block, or hand the heap a slab or an object of a cache. */
static void do_heap_free(struct input *in)
{
	unsigned how = get8(in), r = get16(in);
	struct mcache *m = &M.mc[r % MAX_CACHES];
	if ((how & 3) == 3 && m->c && m->nall) {
		const struct mslab *s = m->all[(r >> 2) % (unsigned)m->nall];
		unsigned char *p = (how & 4) ? s->addr : obj_at(m, s, (r >> 4) % m->S);
		CHECK(rtheap_free(&M.heap, p) == -EINVAL, "the heap released %p of a slab", (void *)p);
		expect_report(RTHEAP_ERR_NOT_BLOCK, p);
		return;
	}
	if (!M.nblk)
		return;
	int i = (int)(r % (unsigned)M.nblk);
	struct hblock b = M.blk[i];
	if (b.tag) /* a pool's element */
		return;
	verify_user(b.p, b.req, b.seed);
	CHECK(rtheap_free(&M.heap, b.p) == 0, "free of block %p", (void *)b.p);
	M.blk[i] = M.blk[--M.nblk];
	M.freed[M.freed_pos++ % FREED_RING] = b.p;
	M.frees++;
}

/* ---- page-order blocks (rtheap/kmem.h) ---- */

static size_t pg_bytes(unsigned order)
{
	return RTKMEM_PAGE_SIZE << order;
}

MODEL_FN static int pages_overlap(const unsigned char *p, size_t n)
{
	for (int i = 0; i < PM.n; i++)
		if (p < PM.blk[i].p + pg_bytes(PM.blk[i].order) && PM.blk[i].p < p + n)
			return 1;
	return 0;
}

/* Each block is an owned run: one live block of its bytes. */
static void pages_account(size_t *used, size_t *live, size_t *owned)
{
	for (int i = 0; i < PM.n; i++) {
		*used += pg_bytes(PM.blk[i].order);
		*live += 1;
		*owned += pg_bytes(PM.blk[i].order) / M.page;
	}
}

/* The live block starting at @p a with @p order, or -1. */
MODEL_FN static int page_block(const void *a, unsigned order)
{
	for (int i = 0; i < PM.n; i++)
		if (PM.blk[i].p == a && PM.blk[i].order == order)
			return i;
	return -1;
}

static void do_pages_alloc(struct input *in)
{
	unsigned b = get8(in), order = b % 5;
	unsigned flags = (b & 0x10) ? RTKMEM_ZERO : RTKMEM_ATOMIC;
	size_t bytes = pg_bytes(order), lf = largest_free();
	if (PM.n == MAX_PAGEBLKS)
		return;
	errno = 0;
	unsigned char *p = rtkmem_pages_alloc(&M.heap, order, flags);
	if (!p) {
		/* a free run of 2B - P pages is sure to hold an aligned one */
		CHECK(errno == ENOMEM && lf < 2 * bytes - M.page,
		      "pages(order %u) failed (errno %d), %zu B free in a run", order, errno, lf);
		M.failed++;
		return;
	}
	CHECK(((uintptr_t)p & (bytes - 1)) == 0, "page block %p not aligned to %zu", (void *)p,
	      bytes);
	CHECK(in_extent(p, bytes) && !overlaps(p, bytes), "page block %p overlaps", (void *)p);
	if (flags & RTKMEM_ZERO)
		verify_all(p, bytes, 0);
	PM.blk[PM.n].p = p;
	PM.blk[PM.n].order = order;
	PM.blk[PM.n].seed = next_seed();
	fill_user(p, bytes, PM.blk[PM.n].seed);
	PM.n++;
	M.allocs++;
}

static void pages_release(int i)
{
	unsigned char *p = PM.blk[i].p;
	unsigned order = PM.blk[i].order;
	verify_user(p, pg_bytes(order), PM.blk[i].seed);
	CHECK(rtkmem_pages_free(&M.heap, p, order) == 0, "pages_free(%p, %u)", (void *)p, order);
	PM.blk[i] = PM.blk[--PM.n];
	PM.freed[PM.freed_pos++ % FREED_RING] = p;
	M.frees++;
}

/* A candidate bad release: an address and an order. */
static unsigned char *pages_bad_address(struct input *in, unsigned *order)
{
	unsigned how = get8(in) % 8, r = get16(in);
	const int i = PM.n ? (int)(r % (unsigned)PM.n) : -1;
	struct mcache *m = pick(r);
	*order = get8(in) % 7;
	switch (how) {
	case 0: /* a live block with another order */
		if (i >= 0 && *order == PM.blk[i].order)
			*order = (*order + 1 + r % 3) % 7;
		return i >= 0 ? PM.blk[i].p : NULL;
	case 1: /* interior of a live block: a page or a byte in */
		if (i < 0)
			return NULL;
		*order = PM.blk[i].order;
		return PM.blk[i].p + ((r & 0x100) && *order ? RTKMEM_PAGE_SIZE : 16u * (1 + r % 8));
	case 2: /* released already (perhaps handed out again since) */
		return PM.freed[r % FREED_RING];
	case 3: /* a slab of a cache, with the order of its size */
		if (!m || !m->nall || m->B < RTKMEM_PAGE_SIZE)
			return NULL;
		*order = rtkmem_get_order(m->B);
		return m->all[(r >> 3) % (unsigned)m->nall]->addr;
	case 4: /* a heap block */
		return M.nblk ? M.blk[r % (unsigned)M.nblk].p : NULL;
	case 5:
		return foreign_mem;
	case 6: /* an order no block has */
		*order = 64 + r % 200;
		return i >= 0 ? PM.blk[i].p : foreign_mem;
	default: /* any page of the heap's buffer */
		return M.ext_buf[0] + (size_t)r % (M.ext_size[0] / M.page) * M.page;
	}
}

/* A release the model says is bad: refused, reported, nothing changed. */
static void do_pages_bad_free(struct input *in)
{
	unsigned order;
	unsigned char *a = pages_bad_address(in, &order);
	if (!a || (order < 64 && page_block(a, order) >= 0))
		return; /* not bad after all */
	rtheap_error_kind_t kind = RTHEAP_ERR_NOT_BLOCK;
	int rc = -EINVAL;
	if (order < 64 && pg_bytes(order) >= M.page && !in_extent(a, 1)) {
		kind = RTHEAP_ERR_FOREIGN;
		rc = -EFAULT;
	}
	int got = rtkmem_pages_free(&M.heap, a, order);
	CHECK(got == rc, "pages_free(%p, %u): %d, expected %d", (void *)a, order, got, rc);
	expect_report(kind, a);
}

static void do_pages_free(struct input *in)
{
	unsigned b = get8(in);
	if ((b & 3) == 3) {
		do_pages_bad_free(in);
	} else if ((b & 3) == 2 && PM.n) {
		/* the heap refuses a page block */
		unsigned char *p = PM.blk[(b >> 2) % (unsigned)PM.n].p;
		CHECK(rtheap_free(&M.heap, p) == -EINVAL, "the heap released page block %p",
		      (void *)p);
		expect_report(RTHEAP_ERR_NOT_BLOCK, p);
	} else if (PM.n) {
		pages_release((int)((b >> 2) % (unsigned)PM.n));
	}
}

static void pages_teardown(void)
{
	while (PM.n)
		pages_release(PM.n - 1);
}

/* ---- clear, shrink, keep, enumerate, destroy ---- */

/* Every live object back in its constructed state (the program's duty
 * before a clear), its contents verified. */
MODEL_FN static void restore_all(struct mcache *m)
{
	for (int i = 0; i < m->nall; i++) {
		struct mslab *s = m->all[i];
		for (size_t idx = 0; s->inuse && idx < m->S; idx++) {
			if (!s->live[idx])
				continue;
			verify_live(m, s, idx, 1);
		}
	}
}

static void model_clear_slab(struct mcache *m, struct mslab *s)
{
	if (s->inuse == m->S) {
		list_del(m->full, &m->nfull, s);
		list_push(m->avail, &m->navail, s);
	}
	if (s->inuse != 0)
		list_push(m->empty, &m->nempty, s);
	memset(s->live, 0, m->S);
	memset(s->dirty, 0, m->S);
	memset(s->tag, 0, m->S);
	s->inuse = s->fresh = s->nfree = 0;
}

static struct mpool *pool_on(const struct mcache *m);

static void do_clear(struct mcache *m)
{
	struct mslab *order[2 * MAX_SLABS];
	int n = 0;
	if (pool_on(m)) /* its reserve holds live objects: not for a clear */
		return;
	restore_all(m);
	for (int i = 0; i < m->navail; i++)
		order[n++] = m->avail[i];
	for (int i = 0; i < m->nfull; i++)
		order[n++] = m->full[i];
	for (int i = 0; i < n; i++)
		model_clear_slab(m, order[i]);
	m->live = 0;
	M.cur = m;
	CHECK(rtcache_clear(m->c) == 0, "clear");
	M.cur = NULL;
	CHECK(m->nfull == 0 && m->nempty == m->nall, "model: clear left a slab in use");
}

static void do_shrink(struct mcache *m)
{
	op_start(m);
	give_empty(m);
	long want = (long)((size_t)m->ngone * m->B);
	M.cur = m;
	long got = rtcache_shrink(m->c);
	M.cur = NULL;
	CHECK(got == want, "shrink gave %ld bytes back, expected %ld", got, want);
	gone_done(m);
}

static void do_set_keep(struct input *in, struct mcache *m)
{
	unsigned b = get8(in);
	unsigned keep = b < 0xf0 ? b % 4 : 1000u;
	CHECK(rtcache_set_keep(m->c, keep) == 0, "set_keep");
	m->keep = keep;
}

static int enum_cb(void *obj, void *arg)
{
	struct mcache *m = arg;
	const struct mslab *s = slab_holding(m, obj);
	long idx = s ? obj_index(m, s, obj) : -1;
	CHECK(idx >= 0 && s->live[idx], "enumerated %p: not a live object of %s", obj, m->name);
	CHECK(s->seen[idx] != M.epoch, "enumerated %p twice", obj);
	s->seen[idx] = M.epoch;
	if (++M.enum_calls == M.enum_stop)
		return 7;
	return 0;
}

static void do_enumerate(struct input *in, struct mcache *m)
{
	unsigned b = get8(in);
	M.epoch++;
	M.enum_calls = 0;
	M.enum_stop = (b & 1) && m->live ? 1 + b % m->live : 0;
	int rc = rtcache_enumerate(m->c, enum_cb, m);
	if (M.enum_stop) {
		CHECK(rc == 7 && M.enum_calls == M.enum_stop, "enumeration stopped at %zu (rc %d), not %zu",
		      M.enum_calls, rc, M.enum_stop);
		return;
	}
	CHECK(rc == 0 && M.enum_calls == m->live, "enumerated %zu of %zu live objects (rc %d)",
	      M.enum_calls, m->live, rc);
}

static void do_destroy(struct mcache *m)
{
	if (pool_on(m)) /* the pool goes first */
		return;
	if (m->live) {
		CHECK(rtcache_destroy(m->c) == -EBUSY, "destroy with %zu live objects", m->live);
		return;
	}
	op_start(m);
	give_empty(m);
	CHECK(m->nall == 0, "model: a slab in use without live objects");
	M.cur = m;
	CHECK(rtcache_destroy(m->c) == 0, "destroy");
	M.cur = NULL;
	gone_done(m);
	m->c = NULL;
	M.frees++; /* the descriptor */
}

/* ---- write after release (debug fill), extend, reports, bad calls ---- */

/* Change a byte of a released object past its link: the allocation that
 * hands it out again must report it (RTHEAP_ERR_USE_AFTER_FREE). */
static void do_write_after_free(struct input *in, struct mcache *m)
{
	unsigned r = get16(in);
	if (!m->fill || m->size <= 2)
		return;
	for (int i = 0; i < m->nall; i++) {
		struct mslab *s = m->all[(r + (unsigned)i) % (unsigned)m->nall];
		if (!s->nfree)
			continue;
		size_t idx = s->stack[(r >> 4) % s->nfree];
		unsigned char *p = obj_at(m, s, idx) + 2 + (r >> 2) % (m->size - 2);
		FUZZ_UNPOISON(p, 1);
		*p = 0x11; /* not RT_OWNER_FILL_FREED */
		s->dirty[idx] = 1;
		return;
	}
}

static void do_extend(struct input *in)
{
	unsigned b = get8(in);
	if (M.next == 2)
		return;
	size_t off = (size_t)(b % 16) * 64;
	size_t pages = 2 + get8(in) % 64, size = RTHEAP_BUFFER_SIZE(pages * M.page, M.page);
	if (off + size > ARENA2_SIZE)
		size = ARENA2_SIZE - off;
	if (size < RTHEAP_BUFFER_SIZE(2 * M.page, M.page))
		return;
	CHECK(rtheap_extend(&M.heap, arena2 + off, size, 0) == 0, "extend(%zu)", size);
	M.ext_buf[1] = arena2 + off;
	M.ext_size[1] = size;
	M.next = 2;
}

/* Lines of text holding s, in buf. */
static size_t count_in(const char *buf, const char *s)
{
	size_t n = 0;
	for (const char *p = strstr(buf, s); p; p = strstr(p + 1, s))
		n++;
	return n;
}

static void do_reports(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL, "open_memstream");
	CHECK(rtheap_slabinfo(&M.heap, f) == 0, "slabinfo");
	CHECK(rtheap_dump(&M.heap, f, 1) == 0, "dump");
	fclose(f);
	for (int i = 0; i < MAX_CACHES; i++) {
		const struct mcache *m = &M.mc[i];
		char key[96];
		if (!m->c)
			continue;
		snprintf(key, sizeof key, "in use, cache \"%.31s\" created at", m->name);
		CHECK(count_in(buf, key) == (size_t)m->nall, "dump lists %zu slabs of %s, not %d",
		      count_in(buf, key), m->name, m->nall);
		snprintf(key, sizeof key, "%.31s ", m->name);
		CHECK(count_in(buf, key) >= 1, "slabinfo has no line for %s", m->name);
	}
	size_t pools = 0;
	for (int i = 0; i < MAX_POOLS; i++)
		pools += M.mp[i].p != NULL;
	CHECK(count_in(buf, ": min_nr ") == pools, "dump lists %zu pools, not %zu",
	      count_in(buf, ": min_nr "), pools);
	free(buf);
}

static void do_bad_calls(struct mcache *m)
{
	struct rtcache_stats st;
	CHECK(rtcache_alloc(NULL) == NULL && rtcache_alloc_nolock(NULL) == NULL, "alloc(NULL)");
	CHECK(rtcache_free(NULL, foreign_mem) == -EINVAL, "free on NULL");
	CHECK(rtcache_free_nolock(NULL, foreign_mem) == -EINVAL, "free_nolock on NULL");
	CHECK(rtcache_clear(NULL) == -EINVAL && rtcache_shrink(NULL) == -EINVAL, "NULL cache");
	CHECK(rtcache_set_keep(NULL, 1) == -EINVAL && rtcache_destroy(NULL) == -EINVAL, "NULL");
	CHECK(rtcache_get_stats(NULL, &st) == -EINVAL, "stats of NULL");
	CHECK(rtcache_enumerate(NULL, enum_cb, NULL) == -EINVAL, "enumerate NULL");
	if (!m)
		return;
	CHECK(rtcache_free(m->c, NULL) == 0 && rtcache_free_nolock(m->c, NULL) == 0, "free(NULL)");
	CHECK(rtcache_get_stats(m->c, NULL) == -EINVAL, "stats into NULL");
	CHECK(rtcache_enumerate(m->c, NULL, NULL) == -EINVAL, "enumerate with NULL");
}

/* ---- reserve pools (rtheap/pool.h) ---- */

/* The cache slot the input names, or another live one; NULL if none. */
static struct mcache *pick(unsigned b)
{
	for (int i = 0; i < MAX_CACHES; i++) {
		struct mcache *m = &M.mc[(b + (unsigned)i) % MAX_CACHES];
		if (m->c)
			return m;
	}
	return NULL;
}

static struct mpool *pool_on(const struct mcache *m)
{
	for (int i = 0; i < MAX_POOLS; i++)
		if (M.mp[i].p && M.mp[i].m == m)
			return &M.mp[i];
	return NULL;
}

MODEL_FN static int block_index(const void *p)
{
	for (int i = 0; i < M.nblk; i++)
		if (M.blk[i].p == p)
			return i;
	return -1;
}

static int ptr_del(void **l, size_t *n, const void *p)
{
	for (size_t i = 0; i < *n; i++)
		if (l[i] == p) {
			memmove(&l[i], &l[i + 1], (*n - i - 1) * sizeof *l);
			(*n)--;
			return 1;
		}
	return 0;
}

static size_t at_least_page(size_t n)
{
	return n > M.page ? n : M.page;
}

/* The element functions of a pool on functions: heap blocks of esize. */
static void *fn_alloc(int flags, void *data)
{
	struct mpool *q = data;
	CHECK(flags == RTPOOL_NOWAIT || flags == RTPOOL_WAIT, "element flags %#x", (unsigned)flags);
	q->fn_allocs++;
	if (M.nblk == MAX_BLOCKS || q->ngot == MAX_ELEMS)
		return NULL;
	size_t round = rtheap_round_size(&M.heap, q->esize), lf = largest_free();
	unsigned char *p = rtheap_alloc(&M.heap, q->esize);
	if (!p) {
		CHECK(lf < at_least_page(round), "element of %zu B failed, %zu B free", q->esize, lf);
		M.failed++;
		return NULL;
	}
	CHECK(in_extent(p, round) && !overlaps(p, round), "element %p overlaps", (void *)p);
	struct hblock *b = &M.blk[M.nblk++];
	*b = (struct hblock){p, q->esize, round, next_seed(), 1};
	fill_user(p, b->req, b->seed);
	M.allocs++;
	q->got[q->ngot++] = p;
	return p;
}

/* Releases come in the order the model expects (want), or, for the
 * elements of a failed fill, the last allocated first. */
static void fn_free(void *elem, void *data)
{
	struct mpool *q = data;
	int i = block_index(elem);
	q->fn_frees++;
	CHECK(i >= 0 && M.blk[i].tag, "element %p released is not a pool's block", elem);
	if (q->wpos < q->nwant) {
		CHECK(elem == q->want[q->wpos], "element %p released, %p expected", elem,
		      q->want[q->wpos]);
		q->wpos++;
	} else {
		CHECK(q->ngot && elem == q->got[q->ngot - 1], "element %p released out of order", elem);
		q->ngot--;
	}
	verify_user(elem, M.blk[i].req, M.blk[i].seed);
	CHECK(rtheap_free(&M.heap, elem) == 0, "free of element %p", elem);
	M.blk[i] = M.blk[--M.nblk];
	M.frees++;
}

/* Start of a pool operation. */
static void pool_op(struct mpool *q)
{
	q->ngot = q->nwant = q->wpos = q->fn_allocs = q->fn_frees = 0;
	if (q->m)
		op_start(q->m);
	M.cur = q->m;
}

/* End of a pool operation: the underlying releases all happened. */
static void pool_op_end(struct mpool *q)
{
	M.cur = NULL;
	if (q->m)
		gone_done(q->m);
	else
		CHECK(q->wpos == q->nwant, "%zu of %zu element releases", q->wpos, q->nwant);
}

/* The pool gives e back to its underlying allocator (model first). */
static void under_release(struct mpool *q, void *e)
{
	if (q->m) {
		size_t idx;
		struct mslab *s = live_slab(q->m, e, &idx);
		verify_live(q->m, s, idx, 1);
		model_release(q->m, s, idx);
	} else {
		q->want[q->nwant++] = e;
	}
}

/* The program takes element e from the pool: verify it, write it. */
static void elem_take(struct mpool *q, void *e)
{
	if (q->m) {
		size_t idx;
		struct mslab *s = live_slab(q->m, e, &idx);
		verify_live(q->m, s, idx, 0);
		s->seed[idx] = next_seed();
		s->tag[idx] = 1;
		fill_user(e, q->m->size, s->seed[idx]);
		return;
	}
	int i = block_index(e);
	CHECK(i >= 0 && M.blk[i].tag, "element %p is not a pool's block", e);
	verify_user(e, M.blk[i].req, M.blk[i].seed);
	M.blk[i].seed = next_seed();
	fill_user(e, M.blk[i].req, M.blk[i].seed);
}

/* The slab a pool call took for m: its live objects the model does not
 * know yet (a call takes at most one, see pool_room()). */
static unsigned char *found_slab;
static int find_unknown(void *obj, void *arg)
{
	const struct mcache *m = arg;
	if (slab_holding(m, obj))
		return 0;
	found_slab = (unsigned char *)((uintptr_t)obj & ~(uintptr_t)(m->B - 1));
	return 1;
}

static unsigned char *new_slab_of(struct mcache *m)
{
	found_slab = NULL;
	(void)rtcache_enumerate(m->c, find_unknown, m);
	return found_slab;
}

/* Can n allocations of m take at most one new slab? */
static int pool_room(const struct mcache *m, size_t n)
{
	return n <= (size_t)m->nall * m->S - m->live + m->S;
}

/* A pool call made n allocations of m in a row into @p into, stopping at
 * the first failure (@p failed: the one slab it needed was not given,
 * with at least @p lf bytes free in a run): how many succeeded. */
static size_t fill_model(struct mcache *m, size_t n, int failed, size_t lf, void **into)
{
	unsigned char *slab = failed ? NULL : new_slab_of(m);
	for (size_t k = 0; k < n; k++) {
		unsigned char *p = alloc_predict(m);
		if (!p && failed) {
			alloc_failed(m, lf);
			return k;
		}
		if (!p) {
			CHECK(slab != NULL, "the slab a pool took is not found");
			p = slab + m->first;
		}
		alloc_apply(m, p, failed ? 2 : 1);
		into[k] = p;
	}
	CHECK(!failed, "a slab failed that the model did not need");
	return n;
}

/* Free bytes in one run at a point of a call, at least: @p lf before
 * it, less what @p n heap blocks of up to @p bytes may have taken. */
static size_t lf_after(size_t lf, int n, size_t bytes)
{
	size_t t = (size_t)n * round_up(at_least_page(bytes), M.page);
	return lf > t ? lf - t : 0;
}

struct snap {
	struct rtheap_stats h;
	struct rtcache_stats c;
};

static void take_snap(struct snap *sn, struct mcache *m)
{
	CHECK(rtheap_get_stats(&M.heap, &sn->h) == 0, "stats");
	memset(&sn->c, 0, sizeof sn->c);
	if (m)
		CHECK(rtcache_get_stats(m->c, &sn->c) == 0, "cache stats");
}

/* A failed creation before any element: the descriptor or the array. */
static void create_failed_early(const struct snap *a, const struct snap *b, size_t arr)
{
	M.failed++;
	if (b->h.alloc_calls == a->h.alloc_calls) {
		CHECK(a->h.largest_free < at_least_page(M.pool_desc_round),
		      "pool descriptor failed with %zu B free", a->h.largest_free);
		return;
	}
	CHECK(arr && b->h.free_calls == a->h.free_calls + 1, "pool array failure not clean");
	M.allocs++;
	M.frees++;
}

/* A fill failed: the n elements it took went back, the last first. */
static void fill_undone(struct mpool *q, size_t n, void **elems)
{
	size_t idx;
	if (q->m)
		while (n--) {
			struct mslab *s = live_slab(q->m, elems[n], &idx);
			model_release(q->m, s, idx);
		}
	else
		CHECK(q->ngot == 0 && q->fn_frees + 1 == q->fn_allocs, "fill failure: %zu of %zu back",
		      q->fn_frees, q->fn_allocs);
}

static void do_pool_create(struct input *in, struct mpool *q)
{
	unsigned b = get8(in), e = get8(in);
	size_t min_nr = b % 6;
	struct mcache *m = (b & 0x40) ? NULL : pick(b >> 3);
	if (m && (pool_on(m) || !pool_room(m, min_nr)))
		m = NULL;
	memset(q, 0, sizeof *q);
	q->m = m;
	q->esize = 1 + e * 3;
	q->min_nr = min_nr;
	size_t arr = min_nr ? rtheap_round_size(&M.heap, min_nr * sizeof(void *)) : 0;
	struct snap sa, sb;
	take_snap(&sa, m);
	pool_op(q);
	errno = 0;
	rtpool_t *p = m ? rtpool_create_cache(&M.heap, min_nr, m->c)
	                : rtpool_create(&M.heap, min_nr, fn_alloc, fn_free, q);
	int err = errno;
	M.cur = NULL;
	take_snap(&sb, m);
	CHECK(p || err == ENOMEM, "pool create errno %d", err);
	if (!p && !q->fn_allocs && sb.c.allocs == sa.c.allocs && sb.c.failures == sa.c.failures) {
		create_failed_early(&sa, &sb, arr);
		pool_op_end(q);
		return;
	}
	size_t n = min_nr;
	if (m)
		n = fill_model(m, min_nr, sb.c.failures > sa.c.failures,
		               lf_after(sa.h.largest_free, 2, arr + M.pool_desc_round), q->res);
	if (!p) { /* then the array and the descriptor went back */
		fill_undone(q, n, q->res);
		pool_op_end(q);
		M.allocs += 1 + (arr != 0);
		M.frees += 1 + (arr != 0);
		return;
	}
	if (!m) {
		CHECK(q->ngot == min_nr, "pool made with %zu of %zu elements", q->ngot, min_nr);
		memcpy(q->res, q->got, min_nr * sizeof *q->got);
	}
	pool_op_end(q);
	q->p = p;
	q->curr = min_nr;
	q->arr_round = arr;
	M.allocs += 1 + (arr != 0);
}

/* Can an allocation from the underlying allocator not fail? */
static int under_sure(const struct mpool *q, size_t lf)
{
	if (q->m)
		return alloc_predict(q->m) || lf >= 2 * q->m->B - M.page;
	return M.nblk < MAX_BLOCKS && lf >= at_least_page(rtheap_round_size(&M.heap, q->esize));
}

/* What the pool's underlying allocator gave the call that returned e,
 * or NULL (it failed). */
static void *under_result(struct mpool *q, void *e, size_t lf)
{
	if (!q->m) {
		CHECK(q->fn_allocs == 1, "%zu element allocations for one", q->fn_allocs);
		return q->ngot ? q->got[0] : NULL;
	}
	unsigned char *want = alloc_predict(q->m);
	if (want)
		CHECK(e == want, "pool allocation %p, model %p", e, (void *)want);
	else if (!e || (q->curr && e == q->res[q->curr - 1]))
		alloc_failed(q->m, lf);
	else
		want = e;
	if (want)
		alloc_apply(q->m, want, 1);
	return want;
}

static void do_pool_alloc(struct input *in, struct mpool *q)
{
	static const struct timespec past = {0, 0};
	unsigned mode = get8(in) % 4; /* 0, 1: no wait; 2: wait; 3: a deadline past */
	if (q->nout == MAX_ELEMS)
		return;
	size_t lf = largest_free();
	if (mode == 2 && !q->curr && !under_sure(q, lf))
		mode = 0; /* it would wait for ever */
	pool_op(q);
	errno = 0;
	void *e = mode == 3 ? rtpool_alloc_timed(q->p, &past)
	                    : rtpool_alloc(q->p, mode == 2 ? RTPOOL_WAIT : RTPOOL_NOWAIT);
	int err = errno;
	M.cur = NULL;
	void *u = under_result(q, e, lf);
	pool_op_end(q);
	if (u) {
		CHECK(e == u, "pool gave %p, its allocator %p", e, u);
	} else if (q->curr) {
		CHECK(e == q->res[q->curr - 1], "pool gave %p, reserve top %p", e, q->res[q->curr - 1]);
		q->curr--;
		q->from_reserve++;
	} else {
		CHECK(!e && err == (mode == 3 ? ETIMEDOUT : ENOMEM), "empty pool gave %p errno %d", e, err);
		q->failures++;
		q->timeouts += mode == 3;
		q->waits += mode == 3;
		return;
	}
	q->allocs++;
	q->out[q->nout++] = e;
	elem_take(q, e);
}

static void do_pool_free(struct mpool *q, unsigned r)
{
	if (!q->nout)
		return;
	void *e = q->out[r % q->nout];
	int to_reserve = q->curr < q->min_nr;
	pool_op(q);
	if (!to_reserve)
		under_release(q, e);
	(void)ptr_del(q->out, &q->nout, e);
	M.cur = q->m;
	CHECK(rtpool_free(q->p, e) == 0, "pool release of %p", e);
	pool_op_end(q);
	q->frees++;
	if (to_reserve) {
		q->res[q->curr++] = e;
		q->refills++;
	}
}

/* A bad release to a pool on a cache whose reserve is full: the cache
 * refuses it. */
static void do_pool_bad_free(struct input *in, struct mpool *q)
{
	rtheap_error_kind_t kind;
	if (!q->m || q->curr < q->min_nr)
		return;
	unsigned char *p = bad_address(in, q->m);
	int expect = p ? predict_bad(q->m, p, &kind) : 1;
	if (expect == 1)
		return;
	M.cur = q->m;
	int rc = rtpool_free(q->p, p);
	M.cur = NULL;
	CHECK(rc == expect, "bad pool release of %p = %d, expected %d", (void *)p, rc, expect);
	expect_report(kind, p);
}

static void pool_grow(struct mpool *q, size_t n)
{
	size_t k = n - q->min_nr, arr = rtheap_round_size(&M.heap, n * sizeof(void *));
	void *got[MAX_ELEMS];
	if ((q->m && !pool_room(q->m, k)) || q->curr + k > MAX_ELEMS)
		return;
	struct snap sa, sb;
	take_snap(&sa, q->m);
	pool_op(q);
	int rc = rtpool_resize(q->p, n);
	M.cur = NULL;
	take_snap(&sb, q->m);
	if (sb.h.alloc_calls == sa.h.alloc_calls) { /* no array */
		CHECK(rc == -ENOMEM && !q->fn_allocs, "resize without an array = %d", rc);
		M.failed++;
		pool_op_end(q);
		return;
	}
	M.allocs++;
	size_t ok = k;
	if (q->m)
		ok = fill_model(q->m, k, sb.c.failures > sa.c.failures,
		                lf_after(sa.h.largest_free, 1, arr), got);
	else if (rc == 0)
		memcpy(got, q->got, k * sizeof *got);
	if (rc) {
		CHECK(rc == -ENOMEM, "resize = %d", rc);
		fill_undone(q, ok, got);
		pool_op_end(q);
		M.frees++; /* the new array */
		return;
	}
	CHECK(q->m || q->ngot == k, "grown with %zu of %zu elements", q->ngot, k);
	pool_op_end(q);
	memcpy(&q->res[q->curr], got, k * sizeof *got);
	q->curr += k;
	q->min_nr = n;
	M.frees += q->arr_round != 0;
	q->arr_round = arr;
}

static void pool_shrink(struct mpool *q, size_t n)
{
	struct snap sa, sb;
	take_snap(&sa, q->m);
	pool_op(q);
	while (q->curr > n)
		under_release(q, q->res[--q->curr]);
	M.cur = q->m;
	CHECK(rtpool_resize(q->p, n) == 0, "shrink");
	pool_op_end(q);
	take_snap(&sb, q->m);
	q->min_nr = n;
	if (n == 0) {
		M.frees += q->arr_round != 0;
		q->arr_round = 0;
	} else if (sb.h.failed_allocs > sa.h.failed_allocs) {
		M.failed++; /* no smaller array: the larger one stays */
	} else {
		M.allocs++;
		M.frees++;
		q->arr_round = rtheap_round_size(&M.heap, n * sizeof(void *));
	}
}

static void do_pool_destroy(struct mpool *q)
{
	pool_op(q);
	for (size_t i = q->curr; i > 0; i--)
		under_release(q, q->res[i - 1]);
	CHECK(rtpool_destroy(q->p) == 0, "pool destroy");
	pool_op_end(q);
	M.frees += 1 + (q->arr_round != 0);
	for (size_t i = 0; i < q->nout; i++) { /* plain objects / blocks now */
		size_t idx;
		if (q->m)
			live_slab(q->m, q->out[i], &idx)->tag[idx] = 0;
		else
			M.blk[block_index(q->out[i])].tag = 0;
	}
	q->p = NULL;
}

static void do_pool_bad_calls(struct mpool *q)
{
	struct rtpool_stats st;
	struct timespec bad = {0, 1000000000L};
	errno = 0;
	CHECK(rtpool_alloc(NULL, 0) == NULL && errno == EINVAL, "pool alloc NULL");
	CHECK(rtpool_free(NULL, foreign_mem) == -EINVAL && rtpool_resize(NULL, 1) == -EINVAL,
	      "NULL pool");
	CHECK(rtpool_destroy(NULL) == -EINVAL && rtpool_get_stats(NULL, &st) == -EINVAL, "NULL pool");
	if (!q->p)
		return;
	errno = 0;
	CHECK(rtpool_alloc(q->p, 2) == NULL && errno == EINVAL, "unknown pool flag");
	errno = 0;
	CHECK(rtpool_alloc_timed(q->p, NULL) == NULL && errno == EINVAL, "NULL deadline");
	errno = 0;
	CHECK(rtpool_alloc_timed(q->p, &bad) == NULL && errno == EINVAL, "bad deadline");
	CHECK(rtpool_free(q->p, NULL) == 0 && rtpool_get_stats(q->p, NULL) == -EINVAL, "NULLs");
}

static void do_pool_op(struct input *in, unsigned op, unsigned sel)
{
	struct mpool *q = &M.mp[sel % MAX_POOLS];
	if (!q->p) {
		do_pool_create(in, q);
		return;
	}
	unsigned b = get8(in);
	size_t n = b % 7;
	if (op == 21 || op == 22)
		do_pool_alloc(in, q);
	else if (op == 23 && (b & 3) == 3)
		do_pool_bad_free(in, q);
	else if (op == 23)
		do_pool_free(q, b >> 2);
	else if ((b & 0xc0) == 0xc0)
		do_pool_destroy(q);
	else if (b & 0x80)
		do_pool_bad_calls(q);
	else if (n > q->min_nr)
		pool_grow(q, n);
	else if (n < q->min_nr)
		pool_shrink(q, n);
	else
		CHECK(rtpool_resize(q->p, n) == 0, "resize to the same size");
}

/* ---- heap set-up and tear-down ---- */

static const size_t page_choices[] = {256, 512, 1024, 4096, 256, 2048, 256, 4096};

/* The heap's size of a cache descriptor: one cache made and destroyed. */
static void probe_descriptor(void)
{
	struct rtheap_stats a, b;
	CHECK(rtheap_get_stats(&M.heap, &a) == 0, "stats");
	rtcache_t *c = rtcache_create(&M.heap, "probe", 8, 0, 0, NULL, NULL);
	CHECK(c != NULL, "a cache on a fresh heap");
	CHECK(rtheap_get_stats(&M.heap, &b) == 0, "stats");
	M.desc_round = b.used - a.used;
	CHECK(M.desc_round > 0 && b.live_blocks == a.live_blocks + 1, "descriptor of %zu B",
	      M.desc_round);
	CHECK(rtcache_destroy(c) == 0, "destroy");
	CHECK(rtheap_get_stats(&M.heap, &b) == 0 && b.used == a.used, "probe left memory used");
	rtpool_t *p = rtpool_create(&M.heap, 0, fn_alloc, fn_free, &M.mp[0]);
	CHECK(p != NULL, "a pool on a fresh heap");
	CHECK(rtheap_get_stats(&M.heap, &b) == 0, "stats");
	M.pool_desc_round = b.used - a.used;
	CHECK(rtpool_destroy(p) == 0, "pool destroy");
	CHECK(rtheap_get_stats(&M.heap, &b) == 0 && b.used == a.used, "probe left memory used");
	M.allocs = b.alloc_calls;
	M.frees = b.free_calls;
	M.failed = b.failed_allocs;
	M.errors = b.errors;
}

static void heap_init(struct input *in)
{
	unsigned a = get8(in), b = get8(in), c = get8(in);
	size_t P = page_choices[a % (sizeof page_choices / sizeof page_choices[0])];
	size_t pages = 16 + b % 128, off = (size_t)(c % 32) * 8;
	size_t size = RTHEAP_BUFFER_SIZE(pages * P, P);
	if (off + size > ARENA_SIZE)
		size = ARENA_SIZE - off;
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.page_size = P;
	cfg.lock = (rtheap_lock_mode_t)((a >> 3) % 3);
	cfg.flags = (a & 0x80) ? RTHEAP_F_DEBUG_FILL : 0;
	cfg.name = "fuzz";
	CHECK(rtheap_init(&M.heap, arena + off, size, &cfg) == 0, "init(page %zu, %zu B)", P, size);
	CHECK(rtheap_set_error_handler(&M.heap, on_error, &M) == 0, "error handler");
	M.alive = 1;
	M.page = P;
	M.hflags = cfg.flags;
	M.ext_buf[0] = arena + off;
	M.ext_size[0] = size;
	M.next = 1;
	probe_descriptor();
}

/* Everything back (a clear first where objects are live), then the heap. */
static void teardown(void)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (RG[i].r) {
			do_rg_destroy(&RG[i]);
			check_all();
		}
	for (int i = 0; i < MAX_POOLS; i++)
		if (M.mp[i].p) {
			do_pool_destroy(&M.mp[i]);
			check_all();
		}
	for (int i = 0; i < MAX_CACHES; i++) {
		struct mcache *m = &M.mc[i];
		if (!m->c)
			continue;
		if (m->live)
			do_clear(m);
		do_destroy(m);
		check_all();
	}
	pages_teardown();
	check_all();
	while (M.nblk) {
		struct hblock *b = &M.blk[--M.nblk];
		verify_user(b->p, b->req, b->seed);
		CHECK(rtheap_free(&M.heap, b->p) == 0, "free");
		M.frees++;
	}
	check_all();
	struct rtheap_stats st;
	CHECK(rtheap_get_stats(&M.heap, &st) == 0 && st.used == 0 && st.live_blocks == 0,
	      "memory left in use: %zu B", st.used);
	CHECK(rtheap_destroy(&M.heap, NULL, NULL) == 0, "heap destroy");
	M.alive = 0;
}

static void do_cache_op(struct input *in, unsigned op, struct mcache *m)
{
	switch (op) {
	case 1: case 2: case 3: case 4:
		do_alloc(m, op == 4);
		break;
	case 5: case 6: case 7:
		do_free(in, m, op == 7);
		break;
	case 8: case 9:
		do_bad_free(in, m);
		break;
	case 12:
		do_clear(m);
		break;
	case 13:
		do_shrink(m);
		break;
	case 14:
		do_set_keep(in, m);
		break;
	case 15:
		do_enumerate(in, m);
		break;
	case 16:
		do_destroy(m);
		break;
	case 17:
		do_write_after_free(in, m);
		break;
	default:
		do_bad_calls(m);
		break;
	}
}

static size_t round_up_pow2(size_t x)
{
	size_t p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

static void rg_fill(struct mregion *g, unsigned char *p, size_t size, size_t round, int large)
{
	struct rgalloc *a = &g->a[g->na++];
	*a = (struct rgalloc){p, size, round, next_seed(), large};
	fill_user(p, size, a->seed);
	g->allocs++;
}

/* A small allocation the model predicts; the block switch's new block is
 * the heap's choice.  0, or -1 when it must fail (no block in the heap). */
static unsigned char *rg_small_predict(struct mregion *g, size_t need, int *new_block)
{
	struct rgblk *c = &g->blk[g->cur];
	*new_block = 0;
	if (need <= g->B - c->off)
		return c->addr + c->off;
	c->failed++;
	if (c->live == 0) {
		rg_rewind(g, c);
		return c->addr + g->first;
	}
	if (g->nreuse) {
		int k = g->reuse[0];
		memmove(&g->reuse[0], &g->reuse[1], (size_t)(g->nreuse - 1) * sizeof(int));
		g->nreuse--;
		rg_rewind(g, &g->blk[k]);
		g->blk[k].failed = 0;
		g->cur = k;
		return g->blk[k].addr + g->first;
	}
	*new_block = 1;
	return NULL;
}

static void rg_small_taken(struct mregion *g, unsigned char *p, size_t size, size_t need)
{
	struct rgblk *c = &g->blk[g->cur];
	size_t gi = (size_t)(p - c->addr) / 16;
	c->lv[gi] = c->st[gi] = 1;
	c->off += (uint32_t)need;
	c->live++;
	rg_fill(g, p, size, 0, 0);
}

/* A small allocation needing a new block: the heap gave p (or nothing). */
static void rg_new_block(struct mregion *g, unsigned char *p, size_t size, size_t lf)
{
	if (!p) {
		CHECK(lf < 2 * g->B - M.page, "region: no block of %zu B, %zu B free", g->B, lf);
		CHECK(errno == ENOMEM, "errno %d", errno);
		M.failed++;
		g->failures++;
		return;
	}
	unsigned char *addr = p - g->first;
	CHECK(((uintptr_t)addr & (g->B - 1)) == 0, "region block %p not aligned", (void *)addr);
	CHECK(in_extent(addr, g->B) && !overlaps(addr, g->B), "region block %p overlaps",
	      (void *)addr);
	CHECK(g->nblk < RG_MAX_BLOCKS, "model: too many blocks");
	rg_blk_init(g, &g->blk[g->nblk], addr);
	g->cur = g->nblk++;
	M.allocs++;
	rg_small_taken(g, p, size, round_up(size, 16));
}

static void rg_large(struct mregion *g, size_t size)
{
	size_t round = size > SIZE_MAX - RTREGION_LARGE_HDR
	                   ? 0 : rtheap_round_size(&M.heap, size + RTREGION_LARGE_HDR);
	size_t lf = largest_free();
	errno = 0;
	unsigned char *p = rtregion_alloc(g->r, size);
	if (!p) {
		CHECK(errno == ENOMEM && (!round || lf < at_least_page(round)),
		      "region large %zu failed (%d), %zu B free", size, errno, lf);
		if (size <= SIZE_MAX - RTREGION_LARGE_HDR)
			M.failed++; /* the heap was asked */
		g->failures++;
		return;
	}
	CHECK(round && ((uintptr_t)p & 15) == 0, "region large %p", (void *)p);
	CHECK(in_extent(p - RTREGION_LARGE_HDR, round) &&
	          !overlaps(p - RTREGION_LARGE_HDR, round),
	      "region large %p overlaps", (void *)p);
	M.allocs++;
	g->nlarge++;
	g->large_bytes += size;
	rg_fill(g, p, size, round, 1);
}

static size_t rg_choose_size(struct input *in, const struct mregion *g)
{
	unsigned k = get8(in);
	switch (k % 8) {
	case 0: return 0;
	case 1: return g->small_max;
	case 2: return g->small_max + 1 + get16(in) % 300;
	case 3: return (k & 0x80) ? SIZE_MAX - (k & 0x3f) : (size_t)1 << 40;
	case 4: return 1 + get16(in) % (2 * g->B);
	default: return 1 + get16(in) % 300;
	}
}

static void do_rg_alloc(struct input *in, struct mregion *g)
{
	size_t size = rg_choose_size(in, g);
	int zero = get8(in) & 1, nb;
	if (g->na == RG_MAX_ALLOCS)
		return;
	if (size == 0) {
		errno = 0;
		CHECK((zero ? rtregion_calloc(g->r, 1, 0) : rtregion_alloc(g->r, 0)) == NULL &&
		          errno == EINVAL, "region alloc(0)");
		return;
	}
	if (size > g->small_max) {
		rg_large(g, size);
		return;
	}
	size_t need = round_up(size, 16), lf = largest_free();
	unsigned char *want = rg_small_predict(g, need, &nb);
	unsigned char *p = zero ? rtregion_calloc(g->r, size, 1) : rtregion_alloc(g->r, size);
	if (zero && p)
		verify_all(p, size, 0);
	if (nb) {
		rg_new_block(g, p, size, lf);
		return;
	}
	CHECK(p == want, "region alloc(%zu) gave %p, model %p", size, (void *)p, (void *)want);
	rg_small_taken(g, p, size, need);
}

/* The model's answer for a release of p: 0 (and which allocation), or
 * the error; and the block of a small one. */
MODEL_FN static int rg_expect_free(const struct mregion *g, const unsigned char *p, int *ai,
                                   int *bi)
{
	*ai = *bi = -1;
	if (!in_extent(p, 1))
		return -EFAULT;
	for (int k = 0; k < g->nblk; k++) {
		const struct rgblk *b = &g->blk[k];
		if (p < b->addr || p >= b->addr + g->B)
			continue;
		size_t off = (size_t)(p - b->addr);
		*bi = k;
		if ((off & 15) || off < g->first || off >= b->off)
			return -EINVAL;
		if (!b->lv[off / 16])
			return b->st[off / 16] ? -EALREADY : -EINVAL;
		break;
	}
	for (int k = 0; k < g->na; k++)
		if (g->a[k].p == p) {
			*ai = k;
			return 0;
		}
	CHECK(*bi < 0, "model: a live granule with no allocation");
	return -EINVAL;
}

static void rg_released(struct mregion *g, int ai, int bi)
{
	struct rgalloc a = g->a[ai];
	g->a[ai] = g->a[--g->na];
	g->frees++;
	g->freed[g->freed_pos++ % FREED_RING] = a.p;
	if (a.large) {
		g->nlarge--;
		g->large_bytes -= a.size;
		M.frees++;
		return;
	}
	struct rgblk *b = &g->blk[bi];
	b->lv[(size_t)(a.p - b->addr) / 16] = 0;
	if (--b->live == 0 && bi != g->cur) {
		memmove(&g->reuse[1], &g->reuse[0], (size_t)g->nreuse * sizeof(int));
		g->reuse[0] = bi;
		g->nreuse++;
	}
}

/* A pointer for a release: live, freed, interior, another pool's,
 * a heap block, foreign, a block header, a large one's header. */
static unsigned char *rg_pick(struct input *in, struct mregion *g)
{
	unsigned how = get8(in), r = get16(in);
	struct mregion *o = &RG[(g - RG + 1) % MAX_REGIONS];
	switch (how % 10) {
	case 0: case 1: case 2: case 3:
		return g->na ? g->a[r % (unsigned)g->na].p : NULL;
	case 4:
		return g->freed[r % FREED_RING];
	case 5:
		return g->na ? g->a[r % (unsigned)g->na].p + 1 + (r >> 8) % 40 : NULL;
	case 6:
		return o->r && o->na ? o->a[r % (unsigned)o->na].p : NULL;
	case 7:
		return M.nblk ? M.blk[r % (unsigned)M.nblk].p : foreign_mem + (r & 0xf0);
	case 8:
		return g->nblk ? g->blk[r % (unsigned)g->nblk].addr + (r >> 8) % (g->first + 32) : NULL;
	default:
		return foreign_mem + (r & 0x1f0);
	}
}

static void do_rg_free(struct input *in, struct mregion *g)
{
	unsigned char *p = rg_pick(in, g);
	int ai, bi, want = 0;
	if (p)
		want = rg_expect_free(g, p, &ai, &bi);
	if (p && want == 0)
		verify_user(p, g->a[ai].size, g->a[ai].seed);
	int rc = rtregion_free(g->r, p);
	CHECK(rc == want, "region free(%p) = %d, model %d", (void *)p, rc, want);
	if (!p)
		return;
	if (want == 0) {
		rg_released(g, ai, bi);
		return;
	}
	g->misuse++;
	expect_report(want == -EFAULT ? RTHEAP_ERR_FOREIGN
	              : want == -EALREADY ? RTHEAP_ERR_DOUBLE_FREE : RTHEAP_ERR_NOT_BLOCK, p);
}

static void do_rg_reset(struct mregion *g)
{
	for (int k = 0; k < g->na; k++) {
		verify_user(g->a[k].p, g->a[k].size, g->a[k].seed);
		M.frees += (size_t)g->a[k].large;
	}
	CHECK(rtregion_reset(g->r) == 0, "region reset");
	g->na = 0;
	g->nlarge = g->large_bytes = 0;
	g->resets++;
	g->nreuse = 0;
	for (int k = 0; k < g->nblk; k++) {
		rg_rewind(g, &g->blk[k]);
		g->blk[k].failed = 0;
		if (k > 0)
			g->reuse[g->nreuse++] = k;
	}
	g->cur = 0;
	memset(g->freed, 0, sizeof g->freed);
}

/* Block k leaves the model (given back by a shrink): the others keep
 * their order, the indices of the current block and the reuse list
 * follow. */
static void rg_drop_block(struct mregion *g, int k)
{
	free(g->blk[k].lv);
	free(g->blk[k].st);
	memmove(&g->blk[k], &g->blk[k + 1], (size_t)(g->nblk - k - 1) * sizeof g->blk[0]);
	g->nblk--;
	CHECK(g->cur != k, "model: the current block given back");
	if (g->cur > k)
		g->cur--;
	for (int i = 0; i < g->nreuse; i++)
		if (g->reuse[i] > k)
			g->reuse[i]--;
}

/* rtregion_shrink: the reusable blocks beyond keep go back, from the
 * reuse list's tail. */
static void do_rg_shrink(struct input *in, struct mregion *g)
{
	size_t keep = get8(in) % 4;
	CHECK(rtregion_shrink(g->r, keep) == 0, "region shrink");
	while ((size_t)g->nreuse > keep) {
		int k = g->reuse[--g->nreuse];
		CHECK(g->blk[k].live == 0, "model: a live block on the reuse list");
		M.frees++;
		rg_drop_block(g, k);
	}
}

static void do_rg_destroy(struct mregion *g)
{
	for (int k = 0; k < g->na; k++)
		verify_user(g->a[k].p, g->a[k].size, g->a[k].seed);
	CHECK(rtregion_destroy(g->r) == 0, "region destroy");
	M.frees += 1 + (size_t)g->nblk + g->nlarge;
	for (int k = 0; k < g->nblk; k++) {
		free(g->blk[k].lv);
		free(g->blk[k].st);
	}
	memset(g, 0, sizeof *g);
	for (int i = 0; i < MAX_REGIONS; i++) /* stale pointers into it */
		memset(RG[i].freed, 0, sizeof RG[i].freed);
}

/* Create, then one allocation of 16 bytes that tells where the first
 * block is (the model's first block, kept as a live allocation). */
static void do_rg_create(struct input *in, struct mregion *g)
{
	static const size_t want[] = {0, 1024, 4096, 16384, 100, 3000};
	unsigned w = get8(in);
	size_t B = want[w % 6] ? want[w % 6] : 4096, lf = largest_free();
	struct rtheap_stats a, b;
	if (B < M.page)
		B = M.page;
	B = round_up_pow2(B < 1024 ? 1024 : B);
	CHECK(rtheap_get_stats(&M.heap, &a) == 0, "stats");
	errno = 0;
	rtregion_t *r = rtregion_create(&M.heap, want[w % 6], (w & 0x80) ? RTREGION_LOCKED : 0);
	CHECK(rtheap_get_stats(&M.heap, &b) == 0, "stats");
	if (!r) {
		/* the descriptor (a bucket block, maybe a new bucket page) is
		 * taken first, from the same free memory as the block */
		CHECK(errno == ENOMEM && lf < 2 * B + 2 * M.page + 1024,
		      "region create (B %zu) failed (%d), %zu B free", B, errno, lf);
		M.failed += b.failed_allocs - a.failed_allocs;
		M.allocs += b.alloc_calls - a.alloc_calls;
		M.frees += b.free_calls - a.free_calls;
		return;
	}
	memset(g, 0, sizeof *g);
	g->r = r;
	g->B = B;
	g->first = rg_header(B);
	g->small_max = B - g->first;
	CHECK(b.used - a.used > B && b.live_blocks == a.live_blocks + 2, "region: descriptor and block");
	g->desc_round = b.used - a.used - B;
	M.allocs += 2;
	unsigned char *p = rtregion_alloc(r, 16);
	CHECK(p != NULL, "region: the first block serves 16 bytes");
	rg_blk_init(g, &g->blk[0], p - g->first);
	CHECK(((uintptr_t)g->blk[0].addr & (B - 1)) == 0, "region: first block %p not aligned to %zu (want %zu, page %zu)", (void *)g->blk[0].addr, B, want[w % 6], M.page);
	g->nblk = 1;
	g->cur = 0;
	rg_small_taken(g, p, 16, 16);
}

static void do_region_op(struct input *in, unsigned op)
{
	struct mregion *g = &RG[get8(in) % MAX_REGIONS];
	if (!g->r) {
		do_rg_create(in, g);
		return;
	}
	switch (op % 16) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		do_rg_alloc(in, g);
		break;
	case 6: case 7: case 8: case 9: case 10:
		do_rg_free(in, g);
		break;
	case 11: case 12:
		do_rg_reset(g);
		break;
	case 13:
		do_rg_destroy(g);
		break;
	case 14:
		do_rg_shrink(in, g);
		break;
	default:
		if (rtregion_monitor(g->r, NULL, "x") != -EINVAL || rtregion_free(NULL, NULL) != -EINVAL)
			CHECK(0, "region bad calls");
		break;
	}
}

static void do_op(struct input *in, unsigned op)
{
	unsigned sel = get8(in);
	struct mcache *m = pick(sel);
	switch (op) {
	case 0:
		do_create(in, (int)(sel % MAX_CACHES));
		return;
	case 10:
		do_heap_alloc(in);
		return;
	case 11:
		do_heap_free(in);
		return;
	case 18:
		if (sel & 0x80)
			do_extend(in);
		else
			do_reports();
		return;
	case 20: case 21: case 22: case 23:
		do_pool_op(in, op, sel);
		return;
	case 24:
		do_pages_alloc(in);
		return;
	case 25:
		do_pages_free(in);
		return;
	default:
		break;
	}
	if (!m)
		do_create(in, (int)(sel % MAX_CACHES));
	else
		do_cache_op(in, op, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int trace = -1; /* FUZZ_CACHE_TRACE=1: one line per operation */
	if (trace < 0)
		trace = getenv("FUZZ_CACHE_TRACE") != NULL;
	struct input in = {data, size, 0};
	memset(&M, 0, sizeof M);
	memset(RG, 0, sizeof RG);
	memset(&PM, 0, sizeof PM);
	M.seed = (uint8_t)size;
	heap_init(&in);
	check_all();
	int ops = 0;
	while (in.i < in.n && ops++ < 400) {
		unsigned raw = get8(&in), op = raw % 26;
		if (trace)
			fprintf(stderr, "op %d: %u at byte %zu\n", ops, raw, in.i - 1);
		if (raw >= 216) /* region pools: 40 of the 256 values */
			do_region_op(&in, raw - 216);
		else
			do_op(&in, op);
		check_all();
	}
	teardown();
	return 0;
}
