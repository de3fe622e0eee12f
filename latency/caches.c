/* SPDX-License-Identifier: MIT */
/*
 * caches.c -- object-cache benchmarks (group "caches", run by --full or
 * --only caches).
 *
 * One churn trace per case (live objects N, object size): N allocations
 * into slots 0..N-1, then 2N operations on a random slot of 2N (a full
 * slot is released, an empty one gets a new object), then every live
 * object released in random order.  The live set stays near N.  Every
 * allocator replays the same trace:
 *
 *   rtcache     rtcache_alloc_nolock / rtcache_free_nolock, RTCACHE_NOLOCK
 *               cache on a heap of lock mode NONE
 *   rtheap      rtheap_alloc / rtheap_free of the object size, same heap kind
 *   rtcache-pi  rtcache_alloc / rtcache_free, the cache's lock a PI mutex
 *               (its heap's lock mode PI_MUTEX)
 *   rtheap-pi   rtheap_alloc / rtheap_free on that heap kind
 *   rtcache-4k, rtheap-4k   as rtcache and rtheap on a heap of 4 KiB pages
 *               (the default page is 256 bytes: one-page slabs hold 2 to
 *               6 of these objects; 4 KiB slabs hold 4 to 125)
 *   glibc, jemalloc, mimalloc   the harness's vtables (allocators.c), when
 *               built in
 *
 * Figures, each from its own worker process (this executable with
 * --caches-worker; the peer's library in LD_PRELOAD as for the other
 * groups):
 *  - worst case and p99.9 of alloc and free: the harness's timed replays
 *    (rig_replay_trace: per-op minimum over K replays, fresh heap each);
 *  - throughput: the whole trace timed, best of 5 replays;
 *  - memory: after the churn (before the drain), live objects per MiB of
 *    what the allocator holds by its own accounting (cc_footprint);
 *  - instruction counts of the cache calls (under valgrind --tool=icount,
 *    latency/vgtool): exact instructions per call, each call classified
 *    by whether it took a slab from the heap (alloc) or gave one back
 *    (free): the fast path is every other call.
 * Output: tables on stdout, caches.csv, a section of results.md.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/cache.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define CC_NSIZES 4
#define CC_MAX_ROWS 320
#define CC_SKIP UINT32_MAX
#define CC_NVALS 6

static const uint32_t cc_sizes[CC_NSIZES] = { 32, 64, 200, 1000 };

/* The allocators of the group, in table order. */
static const char *const cc_allocs[] = {
	"rtcache", "rtheap", "rtcache-pi", "rtheap-pi", "rtcache-4k", "rtheap-4k", "glibc",
	"jemalloc", "mimalloc", NULL,
};

/* What a worker hands back (a shared mapping of a memfd). */
struct cc_result {
	struct rig_result r;     /* status, note; timed: r.a / r.f; throughput;
	                            icount: r.a / r.f over every call */
	size_t heap_bytes;
	/* memory (MODE_FILL) */
	uint64_t mem_objs;
	double mem_bytes;
	char mem_how[120];
	/* icount: calls that took (alloc) or gave back (free) no slab ... */
	struct rig_opstats fast_a, fast_f;
	/* ... and those that did */
	uint64_t slab_a, slab_f;
	uint32_t slab_a_max, slab_f_max, slab_a_min, slab_f_min;
	uint64_t objs_per_slab, slab_bytes;
	/* the most frequent counts of the fast calls, ascending, and the
	 * share of the fast calls each has (0: unused) */
	uint32_t val_a[CC_NVALS], val_f[CC_NVALS];
	double share_a[CC_NVALS], share_f[CC_NVALS];
};

struct cc_row {
	const char *alloc;
	enum rig_mode mode;      /* TIMED, TPUT, ICOUNT, FILL (memory) */
	uint32_t size;
	size_t live;
	unsigned extents;
	unsigned replays;
	struct cc_result res;
};

static struct cc_row *cc_rows;
static size_t cc_nrows;

/* ------------------------------------------------------------------ */
/* rtheap with 4 KiB pages (worker side)                               */
/* ------------------------------------------------------------------ */

#define CC_PAGE_4K 4096u
#define CC_MAX_EXT 64

/* As allocators.c's rtheap context, with the page size given. */
struct cc_heap {
	rtheap_t heap;           /* first member: the ctx is the heap */
	unsigned n;
	void *buf[CC_MAX_EXT];
	size_t len[CC_MAX_EXT];
};

static int cc_heap_build(struct cc_heap *h)
{
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = CC_PAGE_4K;
	cfg.lock = RTHEAP_LOCK_NONE;
	cfg.name = "latency-4k";
	for (unsigned i = 0; i < h->n; i++)
		if (i ? rtheap_extend(&h->heap, h->buf[i], h->len[i], 0)
		      : rtheap_init(&h->heap, h->buf[0], h->len[0], &cfg))
			return -1;
	return 0;
}

static void cc_heap_destroy(void *ctx)
{
	struct cc_heap *h = ctx;
	rtheap_destroy(&h->heap, NULL, NULL);
	for (unsigned i = 0; i < h->n; i++)
		munmap(h->buf[i], h->len[i]);
	free(h);
}

static void *cc_heap_init(size_t bytes, unsigned extents)
{
	struct cc_heap *h = calloc(1, sizeof(*h));
	size_t per;
	extents = extents ? extents : 1;
	if (!h || extents > CC_MAX_EXT || extents > RTHEAP_MAX_EXTENTS) {
		free(h);
		return NULL;
	}
	per = RTHEAP_BUFFER_SIZE(bytes / extents, CC_PAGE_4K);
	for (; h->n < extents; h->n++) {
		h->len[h->n] = per;
		if (!(h->buf[h->n] = rig_map_buffer(per)))
			break;
	}
	if (h->n == extents && cc_heap_build(h) == 0)
		return h;
	cc_heap_destroy(h);
	return NULL;
}

static int cc_heap_reset(void *ctx)
{
	struct cc_heap *h = ctx;
	rtheap_destroy(&h->heap, NULL, NULL);
	return cc_heap_build(h);
}

static void *cc_heap_alloc(void *ctx, size_t size)
{
	return rtheap_alloc(ctx, size);
}

static void cc_heap_free(void *ctx, void *p)
{
	rtheap_free(ctx, p);
}

static int cc_load(char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	return 0;
}

static const struct rig_alloc cc_heap4k = {
	"rtheap-4k", "rtheap_alloc/rtheap_free, lock mode NONE, 4 KiB pages", 0, cc_load,
	cc_heap_init, cc_heap_alloc, cc_heap_free, cc_heap_destroy, NULL, NULL, NULL, NULL,
	sizeof(rtheap_t), cc_heap_reset,
};

/* ------------------------------------------------------------------ */
/* The cache allocators (worker side)                                  */
/* ------------------------------------------------------------------ */

static size_t cc_obj;    /* object size of this worker's case */

struct cc_ctx {
	rtcache_t *cache;
	void *hctx;              /* the rtheap vtable's context (its heap first) */
	const struct rig_alloc *H;
	unsigned flags;
};

static rtcache_t *cc_make(struct cc_ctx *c)
{
	return rtcache_create((rtheap_t *)c->hctx, "latency", cc_obj, 0, c->flags, NULL, NULL);
}

static void *cc_init_on(const struct rig_alloc *heap, unsigned flags, size_t bytes,
                        unsigned extents)
{
	struct cc_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->H = heap;
	c->flags = flags;
	c->hctx = c->H ? c->H->init(bytes, extents) : NULL;
	c->cache = c->hctx ? cc_make(c) : NULL;
	if (c->cache)
		return c;
	if (c->hctx)
		c->H->destroy(c->hctx);
	free(c);
	return NULL;
}

static void *cc_init_nolock(size_t bytes, unsigned extents)
{
	return cc_init_on(rig_find_alloc("rtheap"), RTCACHE_NOLOCK, bytes, extents);
}

static void *cc_init_4k(size_t bytes, unsigned extents)
{
	return cc_init_on(&cc_heap4k, RTCACHE_NOLOCK, bytes, extents);
}

static void *cc_init_locked(size_t bytes, unsigned extents)
{
	return cc_init_on(rig_find_alloc("rtheap-pi"), 0, bytes, extents);
}

static void *cc_alloc_nolock(void *ctx, size_t size)
{
	(void)size;
	return rtcache_alloc_nolock(((struct cc_ctx *)ctx)->cache);
}

static void cc_free_nolock(void *ctx, void *p)
{
	(void)rtcache_free_nolock(((struct cc_ctx *)ctx)->cache, p);
}

static void *cc_alloc_locked(void *ctx, size_t size)
{
	(void)size;
	return rtcache_alloc(((struct cc_ctx *)ctx)->cache);
}

static void cc_free_locked(void *ctx, void *p)
{
	(void)rtcache_free(((struct cc_ctx *)ctx)->cache, p);
}

/* The cache goes first (it is registered on its heap), then the heap. */
static void cc_drop_cache(struct cc_ctx *c)
{
	if (rtcache_destroy(c->cache) == -EBUSY) {
		rtcache_clear(c->cache);
		rtcache_destroy(c->cache);
	}
	c->cache = NULL;
}

static void cc_destroy(void *ctx)
{
	struct cc_ctx *c = ctx;
	cc_drop_cache(c);
	c->H->destroy(c->hctx);
	free(c);
}

/* A fresh heap and cache over the same buffers (see worker.c, reset_heap). */
static int cc_reset(void *ctx)
{
	struct cc_ctx *c = ctx;
	cc_drop_cache(c);
	if (c->H->reset(c->hctx))
		return -1;
	c->cache = cc_make(c);
	return c->cache ? 0 : -1;
}

static const struct rig_alloc cc_nolock = {
	"rtcache", "rtcache_alloc_nolock/rtcache_free_nolock, RTCACHE_NOLOCK, heap lock NONE", 0,
	cc_load, cc_init_nolock, cc_alloc_nolock, cc_free_nolock, cc_destroy, NULL, NULL,
	NULL, NULL, 0, cc_reset,
};

static const struct rig_alloc cc_locked = {
	"rtcache-pi", "rtcache_alloc/rtcache_free, cache and heap locked by a PI mutex", 0,
	cc_load, cc_init_locked, cc_alloc_locked, cc_free_locked, cc_destroy, NULL, NULL,
	NULL, NULL, 0, cc_reset,
};

static const struct rig_alloc cc_nolock4k = {
	"rtcache-4k", "as rtcache, on a heap of 4 KiB pages", 0,
	cc_load, cc_init_4k, cc_alloc_nolock, cc_free_nolock, cc_destroy, NULL, NULL,
	NULL, NULL, 0, cc_reset,
};

static const struct rig_alloc *cc_find(const char *name)
{
	static const struct rig_alloc *const own[] = { &cc_nolock, &cc_locked, &cc_nolock4k,
	                                               &cc_heap4k };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(name, own[i]->name))
			return own[i];
	return rig_find_alloc(name);
}

static int cc_is_cache(const char *name)
{
	return !strncmp(name, "rtcache", 7);
}

/* ------------------------------------------------------------------ */
/* The churn trace (worker side)                                       */
/* ------------------------------------------------------------------ */

static int cc_push(struct rig_trace *t, size_t slot, uint32_t size)
{
	if (t->nops == t->cap)
		return -1;
	t->slot[t->nops] = (uint32_t)slot;
	t->size[t->nops++] = size;
	if (size)
		t->nalloc++;
	else
		t->nfree++;
	return 0;
}

/* Release every full slot, in random order. */
static int cc_drain(struct rig_trace *t, uint8_t *full, struct rig_rng *rng)
{
	uint32_t *order = malloc(t->nslots * sizeof(*order));
	size_t n = 0;
	int rc = 0;
	if (!order)
		return -1;
	for (size_t s = 0; s < t->nslots; s++)
		if (full[s])
			order[n++] = (uint32_t)s;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rig_rng_range(rng, 0, i - 1);
		uint32_t x = order[i - 1];
		order[i - 1] = order[j];
		order[j] = x;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = cc_push(t, order[i], 0);
	free(order);
	return rc;
}

/* The trace of the header comment; *churn_end: the first op of the drain. */
static int cc_trace(struct rig_trace *t, size_t live, uint32_t size, uint64_t seed,
                    size_t *churn_end)
{
	struct rig_rng rng;
	uint8_t *full;
	size_t nlive = 0, peak = 0;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->nslots = 2 * live;
	t->cap = 5 * live;
	t->slot = mmap(NULL, t->cap * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->size = mmap(NULL, t->cap * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	full = calloc(t->nslots, 1);
	if (t->slot == MAP_FAILED || t->size == MAP_FAILED || !full) {
		free(full);
		return -1;
	}
	rig_rng_seed(&rng, seed);
	for (size_t s = 0; s < live && !rc; s++, nlive++)
		rc = cc_push(t, s, size), full[s] = 1;
	peak = nlive;
	for (size_t i = 0; i < 2 * live && !rc; i++) {
		size_t s = (size_t)rig_rng_range(&rng, 0, t->nslots - 1);
		rc = cc_push(t, s, full[s] ? 0 : size);
		nlive = full[s] ? nlive - 1 : nlive + 1;
		full[s] ^= 1;
		peak = nlive > peak ? nlive : peak;
	}
	*churn_end = t->nops;
	t->peak_live = peak * size;
	if (!rc)
		rc = cc_drain(t, full, &rng);
	free(full);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Memory: what each allocator holds, by its own accounting            */
/* ------------------------------------------------------------------ */

/* Pages an rtheap holds (bucket, run and owned pages: partly used ones
 * whole), plus their share of the extent's header and page map. */
static double cc_heap_held(rtheap_t *h)
{
	struct rtheap_stats st;
	double pages, total;
	if (rtheap_get_stats(h, &st) || !st.page_size)
		return -1;
	pages = (double)(st.pages_bucket + st.pages_run + st.pages_owned);
	total = (double)(st.usable / st.page_size);
	return pages * (double)st.page_size +
	       (double)rtheap_overhead(st.size, st.page_size) * pages / total;
}

/* Function pointers are cast through this union (ISO C has no direct
 * conversion between object and function pointers). */
#define CC_SYM(var, name)                                                    \
	do {                                                                 \
		union { void *o; __typeof__(var) f; } u_;                    \
		u_.o = dlsym(RTLD_DEFAULT, name);                            \
		var = u_.f;                                                  \
	} while (0)

static double cc_jemalloc_held(void)
{
	int (*ctl)(const char *, void *, size_t *, void *, size_t);
	uint64_t epoch = 1;
	size_t active = 0, meta = 0, len = sizeof(size_t), elen = sizeof(epoch);
	CC_SYM(ctl, "mallctl");
	if (!ctl || ctl("epoch", &epoch, &elen, &epoch, sizeof(epoch)) ||
	    ctl("stats.active", &active, &len, NULL, 0) ||
	    ctl("stats.metadata", &meta, &len, NULL, 0))
		return -1;
	return (double)(active + meta);
}

struct cc_mi_area {
	void *blocks;
	size_t reserved, committed, used, block_size, full_block_size;
};

static bool cc_mi_visit(const void *heap, const struct cc_mi_area *area, void *block,
                        size_t block_size, void *arg)
{
	(void)heap;
	(void)block_size;
	if (!block)
		*(double *)arg += (double)area->committed;
	return true;
}

static double cc_mimalloc_held(void *heap)
{
	bool (*visit)(const void *, bool, bool (*)(const void *, const struct cc_mi_area *,
	                                           void *, size_t, void *), void *);
	double sum = 0;
	CC_SYM(visit, "mi_heap_visit_blocks");
	if (!visit)
		return -1;
	/* false: stopped by the visitor (never) or an empty heap (0 bytes) */
	(void)visit(heap, false, cc_mi_visit, &sum);
	return sum;
}

/* Bytes held now by @name's heap @ctx; -1 if it cannot tell.  @how: what
 * is counted. */
static double cc_footprint(const char *name, void *ctx, char *how, size_t len)
{
	if (cc_is_cache(name) || !strncmp(name, "rtheap", 6)) {
		snprintf(how, len, "heap pages held (bucket, run, slab) + their share of the page map");
		return cc_heap_held(cc_is_cache(name) ? ((struct cc_ctx *)ctx)->hctx : ctx);
	}
	if (!strcmp(name, "glibc")) {
		struct mallinfo2 mi = mallinfo2();
		snprintf(how, len, "mallinfo2: arena + hblkhd - keepcost (taken from the system, "
		         "top chunk left out)");
		return (double)(mi.arena + mi.hblkhd - mi.keepcost);
	}
	if (!strcmp(name, "jemalloc")) {
		snprintf(how, len, "mallctl stats.active + stats.metadata");
		return cc_jemalloc_held();
	}
	if (!strcmp(name, "mimalloc")) {
		snprintf(how, len, "committed bytes of the heap's pages (mi_heap_visit_blocks; "
		         "segment headers not counted)");
		return cc_mimalloc_held(ctx);
	}
	snprintf(how, len, "no accounting known for %s", name);
	return -1;
}

/* Replay up to the end of the churn, then read what the allocator holds. */
static int cc_memory(const struct rig_case *c, const struct rig_alloc *A,
                     const struct rig_trace *t, size_t churn_end, struct cc_result *res)
{
	void **ptr = calloc(t->nslots, sizeof(*ptr));
	void *ctx;
	double before, after;
	uint64_t live = 0;

	rig_tune_process(A->name, c->tune);
	ctx = ptr ? A->init(c->heap_bytes, 1) : NULL;
	if (!ctx)
		return -1;
	/* the rtheap kinds count from a fresh heap (0), descriptor included */
	before = cc_is_cache(A->name) || !strncmp(A->name, "rtheap", 6) ? 0 :
	         cc_footprint(A->name, ctx, res->mem_how, sizeof(res->mem_how));
	for (size_t i = 0; i < churn_end; i++) {
		uint32_t s = t->slot[i];
		if (t->size[i]) {
			if (!(ptr[s] = A->alloc(ctx, t->size[i])))
				return -1;
			*(volatile uint64_t *)ptr[s] = i;
			live++;
		} else {
			A->free(ctx, ptr[s]);
			ptr[s] = NULL;
			live--;
		}
	}
	after = cc_footprint(A->name, ctx, res->mem_how, sizeof(res->mem_how));
	res->mem_objs = live;
	res->mem_bytes = before < 0 || after < 0 ? -1 : after - before;
	return 0; /* the process ends here: nothing given back */
}

/* ------------------------------------------------------------------ */
/* Instruction counts of the cache calls (worker side, under valgrind)  */
/* ------------------------------------------------------------------ */

#ifdef RIG_HAVE_VALGRIND_H
/* Request number answered by the icount tool (latency/vgtool). */
#define CC_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t cc_icount_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, CC_ICOUNT_REQ, 0, 0, 0, 0, 0);
}

typedef void *(*cc_alloc_fn)(rtcache_t *);
typedef int (*cc_free_fn)(rtcache_t *, void *);
typedef void *(*cc_halloc_fn)(rtheap_t *, size_t);
typedef int (*cc_hfree_fn)(rtheap_t *, void *);

/* The empty calls that measure the bracket: two instructions each
 * (xor eax, eax; ret), added back to every count, so that a count is
 * every instruction of the call from its first to its return. */
#define CC_NULL_INSTR 2u
static void *cc_null_alloc(rtcache_t *c)
{
	(void)c;
	return NULL;
}

static int cc_null_free(rtcache_t *c, void *p)
{
	(void)c;
	(void)p;
	return 0;
}

static void *cc_null_halloc(rtheap_t *h, size_t n)
{
	(void)h;
	(void)n;
	return NULL;
}

static int cc_null_hfree(rtheap_t *h, void *p)
{
	(void)h;
	(void)p;
	return 0;
}

/* The same code must run around the empty and the real calls: no clone
 * of a bracket specialised for the empty one (GCC's constant propagation
 * made one, and counted the real calls 12 instructions too high). */
#if defined(__GNUC__) && !defined(__clang__)
#define CC_BRACKET __attribute__((noipa))
#else
#define CC_BRACKET __attribute__((noinline))
#endif

/* One call between two counter reads: instructions of the bracket. */
static CC_BRACKET uint32_t cc_count_alloc(cc_alloc_fn fn, rtcache_t *c, void **out)
{
	uint64_t c0 = cc_icount_now(), c1;
	void *p = fn(c);
	c1 = cc_icount_now();
	*out = p;
	return (uint32_t)(c1 - c0);
}

static CC_BRACKET uint32_t cc_count_free(cc_free_fn fn, rtcache_t *c, void *p, int *rc)
{
	uint64_t c0 = cc_icount_now(), c1;
	int r = fn(c, p);
	c1 = cc_icount_now();
	*rc = r;
	return (uint32_t)(c1 - c0);
}

static CC_BRACKET uint32_t cc_count_halloc(cc_halloc_fn fn, rtheap_t *h, size_t n, void **out)
{
	uint64_t c0 = cc_icount_now(), c1;
	void *p = fn(h, n);
	c1 = cc_icount_now();
	*out = p;
	return (uint32_t)(c1 - c0);
}

static CC_BRACKET uint32_t cc_count_hfree(cc_hfree_fn fn, rtheap_t *h, void *p, int *rc)
{
	uint64_t c0 = cc_icount_now(), c1;
	int r = fn(h, p);
	c1 = cc_icount_now();
	*rc = r;
	return (uint32_t)(c1 - c0);
}

/* What the counted pass calls: a cache's calls, or the heap's. */
struct cc_target {
	rtcache_t *cache;        /* NULL: rtheap_alloc / rtheap_free on heap */
	rtheap_t *heap;
	cc_alloc_fn fa;
	cc_free_fn ff;
	uint32_t oa, of;         /* instructions of the brackets */
};

/* Instructions of the bracket around an empty call (the least of a few). */
static void cc_bracket(struct cc_target *g)
{
	void *p;
	int rc;
	g->oa = g->of = CC_SKIP;
	for (int i = 0; i < 16; i++) {
		uint32_t a = g->cache ? cc_count_alloc(cc_null_alloc, NULL, &p)
		                      : cc_count_halloc(cc_null_halloc, NULL, 0, &p);
		uint32_t f = g->cache ? cc_count_free(cc_null_free, NULL, NULL, &rc)
		                      : cc_count_hfree(cc_null_hfree, NULL, NULL, &rc);
		g->oa = a < g->oa ? a : g->oa;
		g->of = f < g->of ? f : g->of;
	}
}

/* One counted call: instructions from its first to its return. */
static uint32_t cc_count_op(const struct cc_target *g, uint32_t size, void **p, int *rc)
{
	uint32_t n;
	*rc = 0;
	if (size && g->cache)
		n = cc_count_alloc(g->fa, g->cache, p) - g->oa;
	else if (size)
		n = cc_count_halloc(rtheap_alloc, g->heap, size, p) - g->oa;
	else if (g->cache)
		n = cc_count_free(g->ff, g->cache, *p, rc) - g->of;
	else
		n = cc_count_hfree(rtheap_free, g->heap, *p, rc) - g->of;
	return n + CC_NULL_INSTR;
}

/* The slabs of the cache, or the pages the heap holds: a call that
 * changes it took memory from the heap or gave some back. */
static int cc_held(const struct cc_target *g, size_t *held, struct cc_result *res)
{
	struct rtcache_stats st;
	struct rtheap_stats hs;
	if (!g->cache) {
		if (rtheap_get_stats(g->heap, &hs))
			return -1;
		*held = hs.pages_bucket + hs.pages_run;
		return 0;
	}
	if (rtcache_get_stats(g->cache, &st))
		return -1;
	*held = st.total_slabs;
	res->objs_per_slab = st.objs_per_slab;
	res->slab_bytes = st.slab_bytes;
	return 0;
}

struct cc_counted {
	uint32_t *cnt;           /* instructions per op */
	uint8_t *slab;           /* the op changed the slabs (pages) held */
};

/* The counted pass; -1 with a note on a failed call. */
static int cc_count_pass(struct cc_target *g, const struct rig_trace *t, struct cc_counted *k,
                         struct cc_result *res)
{
	void **ptr = calloc(t->nslots, sizeof(*ptr));
	size_t held = 0, now;

	cc_bracket(g);
	for (size_t i = 0; ptr && i < t->nops; i++) {
		uint32_t s = t->slot[i];
		int rc;
		k->cnt[i] = cc_count_op(g, t->size[i], &ptr[s], &rc);
		if (t->size[i] && ptr[s])
			*(volatile uint64_t *)ptr[s] = i;
		else if (!t->size[i] && !rc)
			ptr[s] = NULL;
		if ((t->size[i] && !ptr[s]) || rc || cc_held(g, &now, res)) {
			snprintf(res->r.note, sizeof(res->r.note), "op %zu: %s failed (%d)", i,
			         t->size[i] ? "alloc" : "free", rc);
			return -1;
		}
		k->slab[i] = now != held;
		held = now;
	}
	free(ptr);
	return ptr ? 0 : -1;
}

/* The CC_NVALS most frequent values of @p v (sorted, @p n of them),
 * ascending, with their shares. */
static void cc_top_values(const uint32_t *v, size_t n, uint32_t *val, double *share)
{
	size_t cnt[CC_NVALS] = { 0 };
	memset(val, 0, CC_NVALS * sizeof(*val));
	for (size_t i = 0, j; i < n; i = j) {
		int k = CC_NVALS - 1;
		for (j = i; j < n && v[j] == v[i]; j++)
			;
		if (j - i <= cnt[k])
			continue;
		for (; k > 0 && cnt[k - 1] < j - i; k--) {
			cnt[k] = cnt[k - 1];
			val[k] = val[k - 1];
		}
		cnt[k] = j - i;
		val[k] = v[i];
	}
	for (int a = 0; a < CC_NVALS; a++)   /* ascending by value */
		for (int b = a + 1; b < CC_NVALS; b++)
			if (cnt[b] && (val[b] < val[a] || !cnt[a])) {
				uint32_t x = val[a];
				size_t y = cnt[a];
				val[a] = val[b], cnt[a] = cnt[b];
				val[b] = x, cnt[b] = y;
			}
	for (int a = 0; a < CC_NVALS; a++)
		share[a] = n ? (double)cnt[a] / (double)n : 0;
}

/* Statistics of one kind of call (alloc or free) of the counted pass. */
static void cc_count_stats(const struct rig_trace *t, const struct cc_counted *k, int op,
                           uint32_t *all, uint32_t *fast, struct rig_opstats *s_all,
                           struct rig_opstats *s_fast, uint64_t *nslab, uint32_t *mx,
                           uint32_t *mn, uint32_t *val, double *share)
{
	size_t na = 0, nf = 0;
	*nslab = 0;
	*mx = 0;
	*mn = CC_SKIP;
	for (size_t i = 0; i < t->nops; i++) {
		if ((t->size[i] != 0) != (op == 0))
			continue;
		all[na++] = k->cnt[i];
		if (!k->slab[i]) {
			fast[nf++] = k->cnt[i];
			continue;
		}
		(*nslab)++;
		*mx = k->cnt[i] > *mx ? k->cnt[i] : *mx;
		*mn = k->cnt[i] < *mn ? k->cnt[i] : *mn;
	}
	rig_stats_from(s_all, all, na, 1.0, NULL);
	rig_stats_from(s_fast, fast, nf, 1.0, NULL); /* sorts fast */
	cc_top_values(fast, nf, val, share);
}

static int cc_icount(const struct rig_case *c, const struct rig_alloc *A,
                     const struct rig_trace *t, struct cc_result *res)
{
	struct cc_counted k;
	struct cc_target g;
	uint32_t *all = malloc(t->nops * sizeof(uint32_t));
	uint32_t *fast = malloc(t->nops * sizeof(uint32_t));
	void *cx;
	uint64_t c0;

	k.cnt = malloc(t->nops * sizeof(uint32_t));
	k.slab = malloc(t->nops);
	if (!RUNNING_ON_VALGRIND || (c0 = cc_icount_now(), cc_icount_now() == c0)) {
		res->r.status = 1;
		snprintf(res->r.note, sizeof(res->r.note), "not under valgrind --tool=icount");
		return 0;
	}
	cx = all && fast && k.cnt && k.slab ? A->init(c->heap_bytes, c->extents) : NULL;
	if (!cx)
		return -1;
	memset(&g, 0, sizeof(g));
	if (cc_is_cache(A->name)) {
		struct cc_ctx *cc = cx;
		g.cache = cc->cache;
		g.fa = A == &cc_locked ? rtcache_alloc : rtcache_alloc_nolock;
		g.ff = A == &cc_locked ? rtcache_free : rtcache_free_nolock;
	} else {
		g.heap = cx; /* the rtheap contexts start with the heap */
	}
	if (cc_count_pass(&g, t, &k, res))
		return -1;
	cc_count_stats(t, &k, 0, all, fast, &res->r.a, &res->fast_a, &res->slab_a,
	               &res->slab_a_max, &res->slab_a_min, res->val_a, res->share_a);
	cc_count_stats(t, &k, 1, all, fast, &res->r.f, &res->fast_f, &res->slab_f,
	               &res->slab_f_max, &res->slab_f_min, res->val_f, res->share_f);
	res->r.nops = t->nops;
	A->destroy(cx);
	free(all);
	free(fast);
	free(k.cnt);
	free(k.slab);
	return 0;
}
#endif

/* ------------------------------------------------------------------ */
/* Worker entry                                                        */
/* ------------------------------------------------------------------ */

static void cc_parse(int argc, char **argv, struct rig_case *c, int *fd)
{
	memset(c, 0, sizeof(*c));
	c->cpu = -1;
	c->wl = WL_SMALL;
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--mode")) c->mode = (enum rig_mode)atoi(v);
		else if (!strcmp(k, "--alloc")) snprintf(c->alloc, sizeof(c->alloc), "%s", v);
		else if (!strcmp(k, "--obj")) cc_obj = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--live")) c->churn = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--heap")) c->heap_bytes = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--extents")) c->extents = (unsigned)atoi(v);
		else if (!strcmp(k, "--seed")) c->seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--replays")) c->replays = (unsigned)atoi(v);
		else if (!strcmp(k, "--cpu")) c->cpu = atoi(v);
		else if (!strcmp(k, "--prio")) c->rt_prio = atoi(v);
		else if (!strcmp(k, "--tune")) c->tune = atoi(v);
		else if (!strcmp(k, "--force-clock")) c->force_clock = atoi(v);
		else if (!strcmp(k, "--result-fd")) *fd = atoi(v);
	}
}

static void cc_measure(const struct rig_case *c, struct cc_result *res)
{
	const struct rig_alloc *A = cc_find(c->alloc);
	struct rig_trace t;
	size_t churn_end = 0;
	char why[200] = "";
	int rc = 0;

	res->heap_bytes = c->heap_bytes;
	if (!A || A->load(why, sizeof(why))) {
		res->r.status = 1;
		snprintf(res->r.note, sizeof(res->r.note), "%s: %s", c->alloc,
		         A ? why : "not built in");
		return;
	}
	if (cc_trace(&t, c->churn, (uint32_t)cc_obj, c->seed, &churn_end)) {
		res->r.status = 2;
		snprintf(res->r.note, sizeof(res->r.note), "trace generation failed");
		return;
	}
	if (c->mode == MODE_FILL) {
		rc = cc_memory(c, A, &t, churn_end, res);
	} else if (c->mode == MODE_ICOUNT) {
#ifdef RIG_HAVE_VALGRIND_H
		rc = cc_is_cache(A->name) || !strncmp(A->name, "rtheap", 6) ? cc_icount(c, A, &t, res)
		                                                              : -1;
#else
		res->r.status = 1;
		snprintf(res->r.note, sizeof(res->r.note), "built without valgrind/valgrind.h");
#endif
	} else {
		rc = rig_replay_trace(c, A, &t, &res->r);
	}
	if (rc) {
		res->r.status = 2;
		if (!res->r.note[0])
			snprintf(res->r.note, sizeof(res->r.note), "%s failed", mode_name(c->mode));
	}
	rig_trace_free(&t);
}

int caches_worker_main(int argc, char **argv)
{
	struct rig_case c;
	struct cc_result *res;
	int fd = -1;

	cc_parse(argc, argv, &c, &fd);
	if (fd < 0 || !c.churn || !cc_obj)
		return 2;
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (res == MAP_FAILED)
		return 2;
	memset(res, 0, sizeof(*res));
	res->r.rt_cpu = -1;
	cc_measure(&c, res);
	munmap(res, sizeof(*res));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver: planning and running                                        */
/* ------------------------------------------------------------------ */

static int cc_wanted(void)
{
	return group_wanted("caches", O.level == 2);
}

/* Live objects of the two series: 10^5 and 10^6 with --full. */
static size_t cc_live(int big)
{
	static const size_t n[3][2] = { { 1000, 4000 }, { 10000, 100000 }, { 100000, 1000000 } };
	return n[O.level][big];
}

/* Heap of the rtheap kinds: room for the live set one and a half times. */
static size_t cc_heap(size_t live, uint32_t size)
{
	size_t b = live * size / 2 * 3 + 8 * MIB;
	return (b + MIB - 1) / MIB * MIB;
}

static void cc_add(const char *alloc, enum rig_mode mode, uint32_t size, size_t live,
                   unsigned extents)
{
	struct cc_row *x;
	if (cc_nrows == CC_MAX_ROWS)
		return;
	x = &cc_rows[cc_nrows++];
	memset(x, 0, sizeof(*x));
	x->alloc = alloc;
	x->mode = mode;
	x->size = size;
	x->live = live;
	x->extents = extents;
	x->replays = mode == MODE_TIMED ? O.replays : mode == MODE_TPUT ?
	             (O.replays_given ? O.replays : O.level ? 5 : 2) : 1;
}

/* Instruction counts: every size at 10^4 live objects and at the large
 * count of the series, the unlocked calls on 1 and 64 extents, the locked
 * ones, those on 4 KiB pages and rtheap_alloc / rtheap_free (for
 * comparison) on 1. */
static void cc_plan_icount(void)
{
	const size_t small = O.level ? 10000 : 1000, big = cc_live(1);
	if (!O.icount || !vg_tool_dir())
		return;
	for (int n = 0; n < 2; n++)
		for (int s = 0; s < CC_NSIZES; s++) {
			if (alloc_selected("rtcache")) {
				cc_add("rtcache", MODE_ICOUNT, cc_sizes[s], n ? big : small, 1);
				cc_add("rtcache", MODE_ICOUNT, cc_sizes[s], n ? big : small, 64);
			}
			if (alloc_selected("rtcache-pi"))
				cc_add("rtcache-pi", MODE_ICOUNT, cc_sizes[s], n ? big : small, 1);
			if (alloc_selected("rtcache-4k"))
				cc_add("rtcache-4k", MODE_ICOUNT, cc_sizes[s], n ? big : small, 1);
			if (alloc_selected("rtheap"))
				cc_add("rtheap", MODE_ICOUNT, cc_sizes[s], n ? big : small, 1);
			if (alloc_selected("rtheap-4k"))
				cc_add("rtheap-4k", MODE_ICOUNT, cc_sizes[s], n ? big : small, 1);
		}
}

static void cc_plan(void)
{
	static const enum rig_mode modes[3] = { MODE_TIMED, MODE_TPUT, MODE_FILL };
	for (int big = 0; big < 2; big++)
		for (int s = 0; s < CC_NSIZES; s++)
			for (int a = 0; cc_allocs[a]; a++) {
				if (!alloc_selected(cc_allocs[a]) || !cc_find(cc_allocs[a]))
					continue;
				for (int m = 0; m < 3; m++)
					cc_add(cc_allocs[a], modes[m], cc_sizes[s], cc_live(big), 1);
			}
	cc_plan_icount();
}

/* The command line of the worker of row @x (valgrind first for the
 * instruction counts) in @p argv, its values in @p a; the argument count. */
static int cc_argv(const struct cc_row *x, int fd, const char *self, char **argv,
                   char (*a)[32])
{
	int n = 0, k = 0;
	if (x->mode == MODE_ICOUNT) {
		argv[n++] = "valgrind";
		argv[n++] = "--tool=icount";
		argv[n++] = "-q";
	}
	argv[n++] = (char *)self;
	argv[n++] = "--caches-worker";
#define CC_ARG(key, fmt, val)                                        \
	do {                                                         \
		argv[n++] = key;                                     \
		snprintf(a[k], sizeof(a[0]), fmt, val);              \
		argv[n++] = a[k++];                                  \
	} while (0)
	CC_ARG("--mode", "%d", (int)x->mode);
	CC_ARG("--alloc", "%s", x->alloc);
	CC_ARG("--obj", "%u", x->size);
	CC_ARG("--live", "%zu", x->live);
	CC_ARG("--heap", "%zu", cc_heap(x->live, x->size));
	CC_ARG("--extents", "%u", x->extents);
	CC_ARG("--seed", "%llu", (unsigned long long)O.seed);
	CC_ARG("--replays", "%u", x->replays);
	CC_ARG("--cpu", "%d", O.cpu);
	CC_ARG("--prio", "%d", O.rt ? O.prio : 0);
	CC_ARG("--tune", "%d", O.tune);
	CC_ARG("--force-clock", "%d", O.force_clock);
	CC_ARG("--result-fd", "%d", fd);
#undef CC_ARG
	argv[n] = NULL;
	return n;
}

/* Start a worker for row @x, the result in the memfd @fd; its pid or -1. */
static pid_t cc_spawn(const void *ctx, int fd)
{
	const struct cc_row *x = ctx;
	char self[PATH_MAX], a[13][32];
	char *argv[40];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (len <= 0)
		return -1;
	self[len] = 0;
	cc_argv(x, fd, self, argv, a);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		const char *pre = rig_preload(x->alloc);
		if (pre)
			setenv("LD_PRELOAD", pre, 1);
		rig_tune_env(x->alloc, O.tune);
		if (x->mode == MODE_ICOUNT)
			setenv("VALGRIND_LIB", vg_tool_dir(), 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Run one worker and collect what it measured. */
static void cc_run_worker(struct cc_row *x)
{
	int st = 0;
	memset(&x->res, 0, sizeof(x->res));
	int rc = worker_collect("rtheap-caches", &x->res, sizeof(x->res), cc_spawn, x, &st);
	if (rc) {
		const struct rig_alloc *A = cc_find(x->alloc);
		bool killed = rc == -1 && WIFSIGNALED(st);
		/* a peer that crashes is not measured; rtheap crashing is a failure */
		x->res.r.status = A && A->peer ? 1 : 2;
		snprintf(x->res.r.note, sizeof(x->res.r.note), "worker %s %d",
		         killed ? "killed by signal" : "failed, status", killed ? WTERMSIG(st) : st);
	}
}

void caches_run(void)
{
	if (!cc_wanted())
		return;
	cc_rows = calloc(CC_MAX_ROWS, sizeof(*cc_rows));
	if (!cc_rows)
		return;
	cc_plan();
	for (size_t i = 0; i < cc_nrows; i++) {
		struct cc_row *x = &cc_rows[i];
		fprintf(stderr, "\r[%3zu/%zu] caches %-10s %7zu x %4u B, %2u ext %-10s", i + 1,
		        cc_nrows, mode_name(x->mode), x->live, x->size, x->extents, x->alloc);
		cc_run_worker(x);
	}
	if (cc_nrows)
		fprintf(stderr, "\n");
}

int caches_failed(void)
{
	for (size_t i = 0; i < cc_nrows; i++)
		if (cc_rows[i].res.r.status == 2)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

static const struct cc_row *cc_get(const char *alloc, enum rig_mode mode, uint32_t size,
                                   size_t live, unsigned extents)
{
	for (size_t i = 0; i < cc_nrows; i++) {
		const struct cc_row *x = &cc_rows[i];
		if (x->mode == mode && x->size == size && x->live == live &&
		    x->extents == extents && !strcmp(x->alloc, alloc))
			return x;
	}
	return NULL;
}

static int cc_ok(const struct cc_row *x)
{
	return x && !x->res.r.status;
}

/* Objects per MiB of a memory row, or -1. */
static double cc_per_mib(const struct cc_row *m)
{
	if (!cc_ok(m) || m->res.mem_bytes <= 0)
		return -1;
	return (double)m->res.mem_objs * (double)MIB / m->res.mem_bytes;
}

/* One cell: a number, or n/a. */
static void cc_cell(FILE *f, int md, int w, const char *fmt, double v, int ok)
{
	char b[32];
	if (ok)
		snprintf(b, sizeof(b), fmt, v);
	else
		snprintf(b, sizeof(b), "n/a");
	if (md)
		fprintf(f, " %s |", b);
	else
		fprintf(f, " %*s", w, b);
}

/* The row of one allocator and size: worst / p99.9 / ns per op / objs per MiB. */
static void cc_line(FILE *f, int md, const char *alloc, uint32_t size, size_t live)
{
	const struct cc_row *t = cc_get(alloc, MODE_TIMED, size, live, 1);
	const struct cc_row *p = cc_get(alloc, MODE_TPUT, size, live, 1);
	const struct cc_row *m = cc_get(alloc, MODE_FILL, size, live, 1);
	double mib = cc_per_mib(m);
	if (!t && !p && !m)
		return;
	if (md)
		fprintf(f, "| %u | %s |", size, alloc);
	else
		fprintf(f, "%6u  %-10s", size, alloc);
	cc_cell(f, md, 8, "%.0f", cc_ok(t) ? t->res.r.a.max : 0, cc_ok(t));
	cc_cell(f, md, 8, "%.0f", cc_ok(t) ? t->res.r.a.p999 : 0, cc_ok(t));
	cc_cell(f, md, 8, "%.0f", cc_ok(t) ? t->res.r.f.max : 0, cc_ok(t));
	cc_cell(f, md, 8, "%.0f", cc_ok(t) ? t->res.r.f.p999 : 0, cc_ok(t));
	cc_cell(f, md, 8, "%.1f", cc_ok(p) ? p->res.r.ns_per_op : 0, cc_ok(p));
	cc_cell(f, md, 9, "%.0f", mib, mib > 0);
	if (!cc_ok(t) || !cc_ok(p) || !cc_ok(m)) {
		const struct cc_row *bad = !cc_ok(t) && t ? t : !cc_ok(p) && p ? p : m;
		if (bad && bad->res.r.status)
			fprintf(f, md ? " %s |" : "  %s", bad->res.r.note);
	} else if (md) {
		fprintf(f, " |");
	}
	fprintf(f, "\n");
}

/* The goals of one size: the cache's worst case against every other
 * allocator's, its throughput against the fastest. */
static void cc_goals(FILE *f, int md, const char *cache, const char *heap, uint32_t size,
                     size_t live)
{
	const struct cc_row *c = cc_get(cache, MODE_TIMED, size, live, 1);
	const struct cc_row *cp = cc_get(cache, MODE_TPUT, size, live, 1);
	double wa = 0, wf = 0, tp = 1e300;
	const char *wa_n = "-", *wf_n = "-", *tp_n = "-";
	if (!cc_ok(c) || !cc_ok(cp))
		return;
	for (int a = 0; cc_allocs[a]; a++) {
		const struct cc_row *x = cc_get(cc_allocs[a], MODE_TIMED, size, live, 1);
		const struct cc_row *y = cc_get(cc_allocs[a], MODE_TPUT, size, live, 1);
		if (cc_is_cache(cc_allocs[a]) || (!strncmp(cc_allocs[a], "rtheap", 6) &&
		                                  strcmp(cc_allocs[a], heap)))
			continue;
		if (cc_ok(x) && (wa <= 0 || x->res.r.a.max < wa))
			wa = x->res.r.a.max, wa_n = x->alloc;
		if (cc_ok(x) && (wf <= 0 || x->res.r.f.max < wf))
			wf = x->res.r.f.max, wf_n = x->alloc;
		if (cc_ok(y) && y->res.r.ns_per_op < tp)
			tp = y->res.r.ns_per_op, tp_n = y->alloc;
	}
	if (wa <= 0 || wf <= 0 || tp >= 1e300)
		return;
	fprintf(f, md ? "| %u | %s | %.2f (%s) | %.2f (%s) | %.2f (%s) |\n"
	              : "%6u  %-10s  alloc %5.2f (%s)  free %5.2f (%s)  ns/op %5.2f (%s)\n",
	        size, cache, c->res.r.a.max / wa, wa_n, c->res.r.f.max / wf, wf_n,
	        cp->res.r.ns_per_op / tp, tp_n);
}

static void cc_table_live(FILE *f, int md, size_t live)
{
	int any = 0;
	for (size_t i = 0; i < cc_nrows; i++)
		any |= cc_rows[i].live == live && cc_rows[i].mode != MODE_ICOUNT;
	if (!any)
		return;
	fprintf(f, md ? "\n%zu live objects:\n\n| size | allocator | alloc worst | alloc p99.9 | "
	                "free worst | free p99.9 | ns/op | objs/MiB | |\n"
	                "|---:|---|---:|---:|---:|---:|---:|---:|---|\n"
	              : "\n%zu live objects\n  size  allocator     alloc    p99.9     free    p99.9"
	                "    ns/op  objs/MiB\n", live);
	for (int s = 0; s < CC_NSIZES; s++)
		for (int a = 0; cc_allocs[a]; a++)
			cc_line(f, md, cc_allocs[a], cc_sizes[s], live);
	fprintf(f, md ? "\nRatios of the cache to the best other allocator (below 1: the cache is "
	                "better; each cache against rtheap_alloc on its own heap kind and against "
	                "glibc, jemalloc, mimalloc):\n\n| size | cache | alloc worst | "
	                "free worst | ns/op |\n|---:|---|---|---|---|\n"
	              : "  ratios of the cache to the best other (alloc and free worst, ns/op; "
	                "below 1: cache better)\n");
	for (int s = 0; s < CC_NSIZES; s++) {
		cc_goals(f, md, "rtcache", "rtheap", cc_sizes[s], live);
		cc_goals(f, md, "rtcache-pi", "rtheap-pi", cc_sizes[s], live);
		cc_goals(f, md, "rtcache-4k", "rtheap-4k", cc_sizes[s], live);
	}
}

/* Instruction counts: one line per icount row. */
static void cc_icount_line(FILE *f, int md, const struct cc_row *x)
{
	const struct cc_result *r = &x->res;
	char S[24] = "-", B[24] = "-";
	if (!cc_ok(x)) {
		fprintf(f, md ? "| %zu | %u | %u | %s | %s |\n" : "%8zu %5u %4u  %-10s  %s\n",
		        x->live, x->size, x->extents, x->alloc, x->res.r.note);
		return;
	}
	if (cc_is_cache(x->alloc)) {
		snprintf(S, sizeof(S), "%llu", (unsigned long long)r->objs_per_slab);
		snprintf(B, sizeof(B), "%llu", (unsigned long long)r->slab_bytes);
	}
	fprintf(f, md ? "| %zu | %u | %u | %s | %s | %s | %.0f / %.0f / %.0f | %.0f | "
	                "%llu: %u..%u | %.0f / %.0f / %.0f | %.0f | %llu: %u..%u |\n"
	              : "%8zu %5u %4u  %-10s %5s %6s | %5.0f %5.0f %5.0f %5.0f %7llu %5u..%-6u"
	                "| %5.0f %5.0f %5.0f %5.0f %7llu %5u..%u\n",
	        x->live, x->size, x->extents, x->alloc, S, B, r->r.a.max, r->r.a.p999, r->r.a.p50,
	        r->fast_a.max, (unsigned long long)r->slab_a, r->slab_a ? r->slab_a_min : 0,
	        r->slab_a_max, r->r.f.max, r->r.f.p999, r->r.f.p50, r->fast_f.max,
	        (unsigned long long)r->slab_f, r->slab_f ? r->slab_f_min : 0, r->slab_f_max);
}

/* "41 (12%) 43 (35%)": the most frequent counts of the fast calls. */
static void cc_vals(FILE *f, const uint32_t *val, const double *share)
{
	if (share[0] <= 0)
		fprintf(f, "-"); /* no fast call */
	for (int k = 0; k < CC_NVALS; k++)
		if (share[k] >= 0.005)
			fprintf(f, "%s%u (%.0f%%)", k ? " " : "", val[k], 100 * share[k]);
		else if (share[k] > 0)
			fprintf(f, "%s%u (<1%%)", k ? " " : "", val[k]);
}

static void cc_table_values(FILE *f, int md)
{
	fprintf(f, md ? "\nThe most frequent counts of the fast calls (share of the fast calls; "
	                "the cheapest is the plain path, the dearer ones move a slab between the "
	                "cache's lists):\n\n| live | size | extents | calls | alloc | free |\n"
	                "|---:|---:|---:|---|---|---|\n"
	              : "\n  the most frequent counts of the fast calls (share of the fast calls):\n"
	                "    live  size  ext  calls      | alloc / free\n");
	for (size_t i = 0; i < cc_nrows; i++) {
		const struct cc_row *x = &cc_rows[i];
		if (x->mode != MODE_ICOUNT || !cc_ok(x))
			continue;
		fprintf(f, md ? "| %zu | %u | %u | %s | " : "%8zu %5u %4u  %-10s | ", x->live,
		        x->size, x->extents, x->alloc);
		cc_vals(f, x->res.val_a, x->res.share_a);
		fprintf(f, md ? " | " : " / ");
		cc_vals(f, x->res.val_f, x->res.share_f);
		fprintf(f, md ? " |\n" : "\n");
	}
}

static void cc_table_icount(FILE *f, int md)
{
	int any = 0;
	for (size_t i = 0; i < cc_nrows; i++)
		any |= cc_rows[i].mode == MODE_ICOUNT;
	if (!any)
		return;
	fprintf(f, md ? "\nInstructions per call, exact (valgrind --tool=icount; each call from "
	                "its first instruction to its return).  fast: calls that took no slab "
	                "from the heap (alloc) or gave none back (free); slab: the others, their "
	                "number and range (rtheap rows, for comparison: calls that took or gave "
	                "back pages):\n\n| live | size | extents | cache | S | slab bytes | "
	                "alloc max / p99.9 / p50 | alloc fast max | alloc slab calls | free max / "
	                "p99.9 / p50 | free fast max | free slab calls |\n"
	                "|---:|---:|---:|---|---:|---:|---|---:|---|---|---:|---|\n"
	              : "\nOBJECT CACHES: instructions per call (exact); fast = took no slab from "
	                "the heap (alloc) / gave none back (free);\n  slab = the others: count and "
	                "range (rtheap rows: calls that took or gave back pages).  S = objects "
	                "per slab\n"
	                "    live  size  ext  calls          S   slab | alloc   max p99.9   p50  "
	                "fast    slab range      | free    max p99.9   p50  fast    slab range\n");
	for (size_t i = 0; i < cc_nrows; i++)
		if (cc_rows[i].mode == MODE_ICOUNT)
			cc_icount_line(f, md, &cc_rows[i]);
	cc_table_values(f, md);
}

/* How each allocator's memory was counted (from its memory rows). */
static void cc_mem_notes(FILE *f, int md)
{
	for (int a = 0; cc_allocs[a]; a++)
		for (size_t i = 0; i < cc_nrows; i++) {
			const struct cc_row *x = &cc_rows[i];
			if (x->mode != MODE_FILL || strcmp(x->alloc, cc_allocs[a]))
				continue;
			if (cc_ok(x))
				fprintf(f, "%s%s: %s\n", md ? "- " : "    ", x->alloc, x->res.mem_how);
			break;
		}
}

/* The clock and scheduling of the timed rows (from the first one). */
static void cc_timer(FILE *f, int md)
{
	for (size_t i = 0; i < cc_nrows; i++) {
		const struct rig_result *r = &cc_rows[i].res.r;
		if (cc_rows[i].mode != MODE_TIMED || r->status)
			continue;
		fprintf(f, "%stimer: %s, %.3f GHz, overhead %.1f ns subtracted; replay child: %s, "
		        "%s, CPU %d\n", md ? "" : "  ", r->timer_tsc ? "TSC" : "clock_gettime",
		        r->ticks_per_ns, r->overhead_ns, r->rt_fifo ? "SCHED_FIFO" : "not SCHED_FIFO",
		        r->rt_mlock ? "mlockall" : "not mlocked", r->rt_cpu);
		return;
	}
}

static unsigned cc_replays(enum rig_mode m)
{
	for (size_t i = 0; i < cc_nrows; i++)
		if (cc_rows[i].mode == m)
			return cc_rows[i].replays;
	return 0;
}

static void cc_header(FILE *f, int md)
{
	fprintf(f, md ? "\n## Object caches\n\nChurn trace: N objects allocated, then 2N "
	                "operations on a random slot of 2N (full: release, empty: allocate), then "
	                "every object released in random order; the same trace for every "
	                "allocator.  Worst = max over the trace of the per-op minimum of %u "
	                "replays (ns); ns/op = whole trace timed, best of %u replays; objs/MiB = "
	                "live objects per MiB held after the churn.\n\n"
	              : "\nOBJECT CACHES: churn trace, N objects allocated, then 2N operations on "
	                "a random slot of 2N\n  (full: release, empty: allocate), then every "
	                "object released in random order; same trace for all.\n  worst = max over "
	                "the trace of the per-op minimum of %u replays (ns); ns/op = whole trace "
	                "timed,\n  best of %u replays; objs/MiB = live objects per MiB held after "
	                "the churn.\n",
	        cc_replays(MODE_TIMED), cc_replays(MODE_TPUT));
	cc_timer(f, md);
	fprintf(f, md ? "\nMemory counted as:\n\n" : "  memory counted as:\n");
	cc_mem_notes(f, md);
	for (int a = 0; cc_allocs[a]; a++)
		if (!cc_find(cc_allocs[a]))
			fprintf(f, "%s%s: not built in\n", md ? "- " : "  ", cc_allocs[a]);
}

static void cc_tables(FILE *f, int md)
{
	size_t lives[2] = { cc_live(0), cc_live(1) };
	int timed = 0;
	if (!cc_nrows)
		return;
	for (size_t i = 0; i < cc_nrows; i++)
		timed |= cc_rows[i].mode != MODE_ICOUNT;
	if (timed) {
		cc_header(f, md);
		for (int k = 0; k < 2; k++)
			cc_table_live(f, md, lives[k]);
	}
	cc_table_icount(f, md);
}

void caches_table(FILE *f)
{
	cc_tables(f, 0);
}

/* ------------------------------------------------------------------ */
/* caches.csv and results.md                                           */
/* ------------------------------------------------------------------ */

static void cc_csv_key(FILE *f, const struct cc_row *x)
{
	const struct cc_row *t = cc_get(x->alloc, MODE_TIMED, x->size, x->live, x->extents);
	const struct cc_row *p = cc_get(x->alloc, MODE_TPUT, x->size, x->live, x->extents);
	const struct cc_row *m = cc_get(x->alloc, MODE_FILL, x->size, x->live, x->extents);
	const struct cc_row *k = cc_get(x->alloc, MODE_ICOUNT, x->size, x->live, x->extents);
	const struct cc_row *bad = NULL;
	fprintf(f, "%zu,%u,%u,%s,", x->live, x->size, x->extents, x->alloc);
	if (cc_is_cache(x->alloc) || !strncmp(x->alloc, "rtheap", 6))
		fprintf(f, "%zu,", cc_heap(x->live, x->size));
	else
		fprintf(f, ",");
	if (cc_ok(t))
		fprintf(f, "%llu,%.1f,%.1f,%.1f,%.1f,%llu,%.1f,%.1f,%.1f,%.1f,%u,%llu,",
		        (unsigned long long)t->res.r.a.count, t->res.r.a.p50, t->res.r.a.p999,
		        t->res.r.a.max, t->res.r.a.rawmax, (unsigned long long)t->res.r.f.count,
		        t->res.r.f.p50, t->res.r.f.p999, t->res.r.f.max, t->res.r.f.rawmax, t->replays,
		        (unsigned long long)t->res.r.timed_minflt);
	else
		fprintf(f, ",,,,,,,,,,,,");
	if (cc_ok(p))
		fprintf(f, "%.2f,%.2f,%u,", p->res.r.ns_per_op, p->res.r.ns_per_op_median, p->replays);
	else
		fprintf(f, ",,,");
	if (cc_ok(m) && m->res.mem_bytes > 0)
		fprintf(f, "%llu,%.0f,%.0f,", (unsigned long long)m->res.mem_objs, m->res.mem_bytes,
		        cc_per_mib(m));
	else
		fprintf(f, ",,,");
	if (cc_ok(k))
		fprintf(f, "%.0f,%.0f,%.0f,%llu,%u,%.0f,%.0f,%.0f,%llu,%u,%llu,%llu,",
		        k->res.r.a.max, k->res.r.a.p999, k->res.fast_a.max,
		        (unsigned long long)k->res.slab_a, k->res.slab_a_max, k->res.r.f.max,
		        k->res.r.f.p999, k->res.fast_f.max, (unsigned long long)k->res.slab_f,
		        k->res.slab_f_max, (unsigned long long)k->res.objs_per_slab,
		        (unsigned long long)k->res.slab_bytes);
	else
		fprintf(f, ",,,,,,,,,,,,");
	bad = t && t->res.r.status ? t : p && p->res.r.status ? p : m && m->res.r.status ? m
	      : k && k->res.r.status ? k : NULL;
	fprintf(f, "\"");
	for (const char *s = bad ? bad->res.r.note : "ok"; *s; s++)
		fprintf(f, *s == '"' ? "\"\"" : "%c", *s);
	fprintf(f, "\"\n");
}

static void cc_csv(void)
{
	FILE *f = open_out("caches.csv");
	if (!f)
		return;
	fprintf(f, "live,obj_size,extents,allocator,rtheap_buffer_usable_bytes,"
	           "alloc_count,alloc_p50_ns,alloc_p999_ns,alloc_max_ns,alloc_rawmax_ns,"
	           "free_count,free_p50_ns,free_p999_ns,free_max_ns,free_rawmax_ns,replays,"
	           "timed_pass_page_faults_max,"
	           "ns_per_op_best,ns_per_op_median,tput_replays,mem_objects,mem_bytes,objs_per_mib,"
	           "alloc_instr_max,alloc_instr_p999,alloc_instr_fast_max,alloc_slab_calls,"
	           "alloc_instr_slab_max,free_instr_max,free_instr_p999,free_instr_fast_max,"
	           "free_slab_calls,free_instr_slab_max,objs_per_slab,slab_bytes,status\n");
	for (size_t i = 0; i < cc_nrows; i++) {
		const struct cc_row *x = &cc_rows[i];
		int first = 1;
		for (size_t j = 0; j < i; j++)
			if (cc_rows[j].size == x->size && cc_rows[j].live == x->live &&
			    cc_rows[j].extents == x->extents && !strcmp(cc_rows[j].alloc, x->alloc))
				first = 0;
		if (first)
			cc_csv_key(f, x);
	}
	fclose(f);
}

void caches_write(void)
{
	char path[PATH_MAX];
	FILE *f;
	if (!cc_nrows)
		return;
	cc_csv();
	snprintf(path, sizeof(path), "%s/results.md", O.out);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "rtheap-latency: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	cc_tables(f, 1);
	fclose(f);
}
