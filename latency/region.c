/* SPDX-License-Identifier: MIT */
/*
 * region.c -- region-pool benchmarks (group "region", run by --full or
 * --only region).  docs/region.md has the figures and the command.
 *
 *  1. Request-shaped trace: R requests, each of 64..127 allocations (70%
 *     16..128 B, 25% 129..1024 B, 4% 1025..3000 B, 1% 5000..12000 B: large
 *     for a 4 KiB block), one in ten released during the request, then the
 *     request ends: rtregion_reset() for the region pool, a release of
 *     every live allocation for rtheap_alloc/rtheap_free and glibc
 *     malloc/free.  Per allocator: throughput (the whole trace, best of 5,
 *     per allocation), and the timed replay's worst case and p99.9 of one
 *     allocation, one release and one end of request.
 *  2. rtregion_free() of one allocation in a pool of 10^4 live blocks and
 *     in one of 100 blocks (each free timed; min, median, max).
 *  3. rtregion_reset() of a pool of 1 .. 10^4 full blocks (best of 5).
 *  4. Instruction counts (valgrind --tool=icount, latency/vgtool): this
 *     executable re-run as "--region-worker" counts every instruction of
 *     each rtregion_alloc() (bump path and block switch apart),
 *     rtregion_free() with 10^4 live blocks, and rtheap_alloc()/free() for
 *     comparison.
 * Everything runs in this process on heaps of lock mode NONE (the
 * unlocked pool); tables on stdout and region.csv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/region.h"
#include "timer.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define RG_HEAP ((size_t)96 << 20)
#define RG_ALLOCS 3 /* region, rtheap, glibc */
#define RG_MAXREQ 128

static const char *const rg_names[RG_ALLOCS] = {"rtregion", "rtheap", "glibc"};
static int rg_bad;

/* ------------------------------------------------------------------ */
/* the trace                                                           */
/* ------------------------------------------------------------------ */

enum { OP_ALLOC, OP_FREE, OP_END };
struct rg_op {
	uint8_t kind;
	uint8_t slot;  /* alloc: slot filled; free: slot released */
	uint32_t size; /* alloc */
};

struct rg_trace {
	struct rg_op *op;
	size_t n, allocs, frees, ends;
};

static uint64_t rg_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t rg_size(uint64_t *s)
{
	unsigned k = (unsigned)(rg_rng(s) % 100);
	if (k < 70)
		return 16 + (uint32_t)(rg_rng(s) % 113);
	if (k < 95)
		return 129 + (uint32_t)(rg_rng(s) % 896);
	if (k < 99)
		return 1025 + (uint32_t)(rg_rng(s) % 1976);
	return 5000 + (uint32_t)(rg_rng(s) % 7001);
}

/* One request: its allocations, a tenth of them released, then its end. */
static void rg_request(struct rg_trace *t, uint64_t *s)
{
	unsigned n = 64 + (unsigned)(rg_rng(s) % 64);
	bool live[RG_MAXREQ] = {false};
	for (unsigned i = 0; i < n; i++) {
		t->op[t->n++] = (struct rg_op){OP_ALLOC, (uint8_t)i, rg_size(s)};
		live[i] = true;
		t->allocs++;
		if (rg_rng(s) % 10 == 0) {
			unsigned j = (unsigned)(rg_rng(s) % (i + 1));
			if (live[j]) {
				t->op[t->n++] = (struct rg_op){OP_FREE, (uint8_t)j, 0};
				live[j] = false;
				t->frees++;
			}
		}
	}
	t->op[t->n++] = (struct rg_op){OP_END, 0, 0};
	t->ends++;
}

static int rg_trace_make(struct rg_trace *t, size_t requests, uint64_t seed)
{
	uint64_t s = seed | 1;
	memset(t, 0, sizeof *t);
	t->op = malloc(requests * (2 * RG_MAXREQ + 1) * sizeof *t->op);
	if (!t->op)
		return -1;
	for (size_t r = 0; r < requests; r++)
		rg_request(t, &s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the allocators                                                      */
/* ------------------------------------------------------------------ */

struct rg_ctx {
	int which;
	rtheap_t heap;
	void *mem;
	rtregion_t *pool;
	void *slot[RG_MAXREQ];
	bool live[RG_MAXREQ];
};

static int rg_open(struct rg_ctx *x, int which)
{
	memset(x, 0, sizeof *x);
	x->which = which;
	if (which == 2)
		return 0;
	x->mem = mmap(NULL, RG_HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->mem == MAP_FAILED)
		return -1;
	memset(x->mem, 0, RG_HEAP); /* touched: no page faults in the timing */
	struct rtheap_config cfg = {0};
	cfg.lock = RTHEAP_LOCK_NONE;
	if (rtheap_init(&x->heap, x->mem, RG_HEAP, &cfg))
		return -1;
	if (which == 0 && !(x->pool = rtregion_create(&x->heap, 0, 0)))
		return -1;
	return 0;
}

static void rg_close(struct rg_ctx *x)
{
	if (x->which == 2)
		return;
	if (x->pool)
		(void)rtregion_destroy(x->pool);
	(void)rtheap_destroy(&x->heap, NULL, NULL);
	munmap(x->mem, RG_HEAP);
}

static void rg_end(struct rg_ctx *x)
{
	if (x->which == 0) {
		(void)rtregion_reset(x->pool);
		memset(x->live, 0, sizeof x->live);
		return;
	}
	for (unsigned i = 0; i < RG_MAXREQ; i++)
		if (x->live[i]) {
			if (x->which == 1)
				(void)rtheap_free(&x->heap, x->slot[i]);
			else
				free(x->slot[i]);
			x->live[i] = false;
		}
}

/* One operation; -1 if an allocation failed. */
static inline int rg_do(struct rg_ctx *x, const struct rg_op *o)
{
	if (o->kind == OP_ALLOC) {
		void *p = x->which == 0 ? rtregion_alloc(x->pool, o->size)
		          : x->which == 1 ? rtheap_alloc(&x->heap, o->size)
		                          : malloc(o->size);
		if (!p)
			return -1;
		*(volatile char *)p = 1;
		x->slot[o->slot] = p;
		x->live[o->slot] = true;
	} else if (o->kind == OP_FREE) {
		void *p = x->slot[o->slot];
		if (x->which == 0)
			(void)rtregion_free(x->pool, p);
		else if (x->which == 1)
			(void)rtheap_free(&x->heap, p);
		else
			free(p);
		x->live[o->slot] = false;
	} else {
		rg_end(x);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* 1. the request trace                                                */
/* ------------------------------------------------------------------ */

struct rg_lat {
	double max, p999, med; /* ns */
};

struct rg_tput {
	double ns_per_alloc;
	struct rg_lat lat[3]; /* alloc, free, end */
};

static struct rg_tput rg_trace_res[RG_ALLOCS];
static struct rig_timer rg_tm;

static double rg_ns(uint64_t ticks)
{
	uint64_t t = ticks > rg_tm.overhead ? ticks - rg_tm.overhead : 0;
	return (double)t / rg_tm.ticks_per_ns;
}

static int rg_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct rg_lat rg_lat_of(uint64_t *v, size_t n)
{
	struct rg_lat l = {0, 0, 0};
	if (!n)
		return l;
	qsort(v, n, sizeof *v, rg_cmp_u64);
	l.max = rg_ns(v[n - 1]);
	l.p999 = rg_ns(v[(size_t)((double)(n - 1) * 0.999)]);
	l.med = rg_ns(v[n / 2]);
	return l;
}

/* Whole-trace time, best of 5: ns per allocation. */
static double rg_throughput(int which, const struct rg_trace *t)
{
	double best = 0;
	for (int rep = 0; rep < 5; rep++) {
		struct rg_ctx x;
		if (rg_open(&x, which))
			return -1;
		uint64_t t0 = rig_now_ns();
		for (size_t i = 0; i < t->n; i++)
			if (rg_do(&x, &t->op[i]))
				rg_bad = 1;
		double ns = (double)(rig_now_ns() - t0) / (double)t->allocs;
		rg_end(&x);
		rg_close(&x);
		if (rep == 0 || ns < best)
			best = ns;
	}
	return best;
}

/* Every operation timed, per-operation minimum over RG_REPLAYS replays
 * (a fresh heap or pool each: the same state at each operation, so
 * that the minimum removes interrupts and preemption), then by kind. */
#define RG_REPLAYS 5
static int rg_timed(int which, const struct rg_trace *t, struct rg_tput *res)
{
	uint64_t *m = malloc(t->n * sizeof(uint64_t)), *v[3];
	size_t n[3] = {0, 0, 0};
	struct rg_ctx x;
	for (int k = 0; k < 3; k++)
		v[k] = malloc(t->n * sizeof(uint64_t));
	if (!m || !v[0] || !v[1] || !v[2])
		return -1;
	memset(m, 0xff, t->n * sizeof(uint64_t));
	for (int rep = 0; rep < RG_REPLAYS; rep++) {
		if (rg_open(&x, which))
			return -1;
		for (size_t i = 0; i < t->n; i++) {
			uint64_t a = rig_ticks_begin();
			int rc = rg_do(&x, &t->op[i]);
			uint64_t b = rig_ticks_end();
			rg_bad |= rc != 0;
			m[i] = b - a < m[i] ? b - a : m[i];
		}
		rg_end(&x);
		rg_close(&x);
	}
	for (size_t i = 0; i < t->n; i++)
		v[t->op[i].kind][n[t->op[i].kind]++] = m[i];
	for (int k = 0; k < 3; k++) {
		res->lat[k] = rg_lat_of(v[k], n[k]);
		free(v[k]);
	}
	free(m);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 2. release with many live blocks, 3. reset cost                     */
/* ------------------------------------------------------------------ */

struct rg_rel {
	size_t blocks;
	struct rg_lat lat;
	double min;
};
static struct rg_rel rg_release[2];

struct rg_reset {
	size_t blocks;
	double ns;
};
static struct rg_reset rg_resets[5];

/* A pool of @p blocks full 4 KiB blocks (two allocations each); their
 * first allocations in @p first.  0 or -1. */
static int rg_fill(struct rg_ctx *x, size_t blocks, void **first)
{
	for (size_t i = 0; i < blocks; i++) {
		void *a = rtregion_alloc(x->pool, 2000), *b = rtregion_alloc(x->pool, 1900);
		if (!a || !b)
			return -1;
		if (first)
			first[i] = a;
	}
	return 0;
}

/* Release of the first allocation of every block, random order, each
 * timed; per-release minimum over RG_REPLAYS fresh pools. */
static int rg_release_case(size_t blocks, struct rg_rel *out)
{
	struct rg_ctx x;
	void **first = malloc(blocks * sizeof(void *));
	uint64_t *v = malloc(blocks * sizeof(uint64_t));
	size_t *ord = malloc(blocks * sizeof(size_t));
	uint64_t s = 88172645463325252ull;
	if (!first || !v || !ord)
		return -1;
	memset(v, 0xff, blocks * sizeof(uint64_t));
	for (size_t i = 0; i < blocks; i++)
		ord[i] = i;
	for (size_t i = blocks - 1; i > 0; i--) { /* random order */
		size_t j = (size_t)(rg_rng(&s) % (i + 1)), t = ord[i];
		ord[i] = ord[j];
		ord[j] = t;
	}
	for (int rep = 0; rep < RG_REPLAYS; rep++) {
		if (rg_open(&x, 0) || rg_fill(&x, blocks, first))
			return -1;
		for (size_t i = 0; i < blocks; i++) {
			uint64_t a = rig_ticks_begin();
			int rc = rtregion_free(x.pool, first[ord[i]]);
			uint64_t b = rig_ticks_end();
			rg_bad |= rc != 0;
			v[i] = b - a < v[i] ? b - a : v[i];
		}
		rg_close(&x);
	}
	out->blocks = blocks;
	out->lat = rg_lat_of(v, blocks);
	out->min = rg_ns(v[0]);
	free(first);
	free(v);
	free(ord);
	return 0;
}

static int rg_reset_case(size_t blocks, struct rg_reset *out)
{
	struct rg_ctx x;
	double best = 0;
	if (rg_open(&x, 0))
		return -1;
	for (int rep = 0; rep < 5; rep++) {
		if (rg_fill(&x, blocks, NULL))
			return -1;
		uint64_t a = rig_ticks_begin();
		(void)rtregion_reset(x.pool);
		uint64_t b = rig_ticks_end();
		double ns = rg_ns(b - a);
		if (rep == 0 || ns < best)
			best = ns;
	}
	out->blocks = blocks;
	out->ns = best;
	rg_close(&x);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 4. instruction counts (worker side, under valgrind)                 */
/* ------------------------------------------------------------------ */

#ifdef RIG_HAVE_VALGRIND_H
#define RG_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t rg_icount_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, RG_ICOUNT_REQ, 0, 0, 0, 0, 0);
}
#define RG_NULL_INSTR 2u /* an empty call: xor eax, eax; ret */
static void *rg_null_alloc(rtregion_t *r, size_t n)
{
	(void)r;
	(void)n;
	return NULL;
}

static int rg_null_free(rtregion_t *r, void *p)
{
	(void)r;
	(void)p;
	return 0;
}

static void *rg_null_halloc(rtheap_t *h, size_t n)
{
	(void)h;
	(void)n;
	return NULL;
}

static int rg_null_hfree(rtheap_t *h, void *p)
{
	(void)h;
	(void)p;
	return 0;
}

/* The same code must run around the empty and the real calls: no clone
 * specialised for the empty one (as in caches.c). */
#if defined(__GNUC__) && !defined(__clang__)
#define RG_BRACKET __attribute__((noipa))
#else
#define RG_BRACKET __attribute__((noinline))
#endif

typedef void *(*rg_alloc_fn)(rtregion_t *, size_t);
typedef int (*rg_free_fn)(rtregion_t *, void *);
typedef void *(*rg_halloc_fn)(rtheap_t *, size_t);
typedef int (*rg_hfree_fn)(rtheap_t *, void *);

/* One call between two counter reads: its instructions plus the bracket's. */
static RG_BRACKET uint64_t rg_count_a(rg_alloc_fn f, rtregion_t *r, size_t n, void **out)
{
	uint64_t c0 = rg_icount_now();
	void *p = f(r, n);
	uint64_t c1 = rg_icount_now();
	*out = p;
	return c1 - c0;
}

static RG_BRACKET uint64_t rg_count_f(rg_free_fn f, rtregion_t *r, void *p, int *rc)
{
	uint64_t c0 = rg_icount_now();
	int x = f(r, p);
	uint64_t c1 = rg_icount_now();
	*rc = x;
	return c1 - c0;
}

static RG_BRACKET uint64_t rg_count_ha(rg_halloc_fn f, rtheap_t *h, size_t n, void **out)
{
	uint64_t c0 = rg_icount_now();
	void *p = f(h, n);
	uint64_t c1 = rg_icount_now();
	*out = p;
	return c1 - c0;
}

static RG_BRACKET uint64_t rg_count_hf(rg_hfree_fn f, rtheap_t *h, void *p, int *rc)
{
	uint64_t c0 = rg_icount_now();
	int x = f(h, p);
	uint64_t c1 = rg_icount_now();
	*rc = x;
	return c1 - c0;
}

/* The brackets' own instructions (an empty call counts RG_NULL_INSTR). */
struct rg_base {
	uint64_t a, f, ha, hf;
};

static void rg_print(const char *what, uint64_t *v, size_t n)
{
	if (!n)
		return;
	qsort(v, n, sizeof *v, rg_cmp_u64);
	printf("%s %zu %llu %llu %llu\n", what, n, (unsigned long long)v[0],
	       (unsigned long long)v[n / 2], (unsigned long long)v[n - 1]);
}

/* rtregion_alloc of 32 B, n calls: bump calls and block switches. */
static void rg_count_alloc(struct rg_ctx *x, const struct rg_base *bs, void **keep, size_t n)
{
	uint64_t *bump = malloc(n * sizeof *bump), *sw = malloc(n * sizeof *sw);
	size_t nb = 0, ns = 0;
	struct rtregion_stats st;
	for (size_t i = 0; i < n && bump && sw; i++) {
		(void)rtregion_get_stats(x->pool, &st);
		size_t blocks = st.blocks, reuse = st.reusable_blocks, used = st.used_bytes;
		uint64_t c = rg_count_a(rtregion_alloc, x->pool, 32, &keep[i]) - bs->a;
		(void)rtregion_get_stats(x->pool, &st);
		if (st.blocks != blocks || st.reusable_blocks != reuse || st.used_bytes != used + 32)
			sw[ns++] = c;
		else
			bump[nb++] = c;
	}
	rg_print("alloc_bump", bump, nb);
	rg_print("alloc_switch", sw, ns);
	free(bump);
	free(sw);
}

/* rtregion_free with 10^4 live blocks. */
static void rg_count_free(struct rg_ctx *x, const struct rg_base *bs)
{
	size_t n = 10000;
	void **first = malloc(n * sizeof(void *));
	uint64_t *v = malloc(n * sizeof *v);
	int rc;
	if (!first || !v || rg_fill(x, n, first))
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = rg_count_f(rtregion_free, x->pool, first[i], &rc) - bs->f;
	rg_print("free_10k_blocks", v, n);
	free(first);
	free(v);
}

/* rtheap_alloc / rtheap_free of 32 B, for comparison. */
static void rg_count_heap(struct rg_ctx *x, const struct rg_base *bs)
{
	size_t n = 10000;
	void **p = malloc(n * sizeof(void *));
	uint64_t *a = malloc(n * sizeof *a), *f = malloc(n * sizeof *f);
	int rc;
	if (!p || !a || !f)
		return;
	for (size_t i = 0; i < n; i++)
		a[i] = rg_count_ha(rtheap_alloc, &x->heap, 32, &p[i]) - bs->ha;
	for (size_t i = 0; i < n; i++)
		f[i] = rg_count_hf(rtheap_free, &x->heap, p[i], &rc) - bs->hf;
	rg_print("rtheap_alloc_32", a, n);
	rg_print("rtheap_free_32", f, n);
	free(p);
	free(a);
	free(f);
}

int region_worker_main(int argc, char **argv)
{
	struct rg_ctx x;
	struct rg_base bs;
	void *dummy, **keep = malloc(10000 * sizeof(void *));
	int rc;
	(void)argc;
	(void)argv;
	if (!keep || !RUNNING_ON_VALGRIND || rg_open(&x, 0))
		return 2;
	bs.a = rg_count_a(rg_null_alloc, x.pool, 0, &dummy) - RG_NULL_INSTR;
	bs.f = rg_count_f(rg_null_free, x.pool, NULL, &rc) - RG_NULL_INSTR;
	bs.ha = rg_count_ha(rg_null_halloc, &x.heap, 0, &dummy) - RG_NULL_INSTR;
	bs.hf = rg_count_hf(rg_null_hfree, &x.heap, NULL, &rc) - RG_NULL_INSTR;
	rg_count_alloc(&x, &bs, keep, 10000);
	(void)rtregion_reset(x.pool);
	rg_count_free(&x, &bs);
	rg_count_heap(&x, &bs);
	rg_close(&x);
	free(keep);
	return 0;
}
#else
int region_worker_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
#endif

/* ------------------------------------------------------------------ */
/* the driver side                                                     */
/* ------------------------------------------------------------------ */

struct rg_icount {
	char what[32];
	size_t n;
	unsigned long long min, med, max;
};
static struct rg_icount rg_ic[8];
static int rg_nic;

static void rg_run_icount(void)
{
	char self[PATH_MAX], cmd[PATH_MAX * 2 + 128], line[256];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *lib = vg_tool_dir();
	if (!O.icount || !lib || len <= 0)
		return;
	self[len] = 0;
	snprintf(cmd, sizeof cmd, "VALGRIND_LIB='%s' valgrind --tool=icount -q '%s' --region-worker",
	         lib, self);
	fflush(NULL);
	FILE *p = popen(cmd, "r");
	while (p && rg_nic < 8 && fgets(line, sizeof line, p)) {
		struct rg_icount *c = &rg_ic[rg_nic];
		if (sscanf(line, "%31s %zu %llu %llu %llu", c->what, &c->n, &c->min, &c->med,
		           &c->max) == 5)
			rg_nic++;
	}
	if (!p || pclose(p) != 0)
		rg_bad = 1;
}

static int rg_wanted(void)
{
	return group_wanted("region", O.level == 2);
}

static void rg_table(FILE *f, const struct rg_trace *t)
{
	fprintf(f, "\nRegion pools (group region): request trace of %zu requests, %zu allocations,"
	        " %zu releases (timer: %s)\n", t->ends, t->allocs, t->frees,
	        rg_tm.tsc ? "TSC" : "clock_gettime");
	fprintf(f, "%-9s %9s | %21s | %21s | %21s\n", "", "ns/alloc", "alloc med/p99.9/max",
	        "free med/p99.9/max", "end med/p99.9/max");
	for (int a = 0; a < RG_ALLOCS; a++) {
		const struct rg_tput *r = &rg_trace_res[a];
		fprintf(f, "%-9s %9.1f |", rg_names[a], r->ns_per_alloc);
		for (int k = 0; k < 3; k++)
			fprintf(f, " %5.0f %6.0f %8.0f |", r->lat[k].med, r->lat[k].p999, r->lat[k].max);
		fputc('\n', f);
	}
	fprintf(f, "rtregion_free, random order, ns: blocks min median p99.9 max\n");
	for (int i = 0; i < 2; i++)
		fprintf(f, "  %6zu %6.0f %6.0f %6.0f %8.0f\n", rg_release[i].blocks, rg_release[i].min,
		        rg_release[i].lat.med, rg_release[i].lat.p999, rg_release[i].lat.max);
	fprintf(f, "rtregion_reset of full 4 KiB blocks (best of 5): blocks ns ns/block\n");
	for (int i = 0; i < 5; i++)
		fprintf(f, "  %6zu %10.0f %8.1f\n", rg_resets[i].blocks, rg_resets[i].ns,
		        rg_resets[i].ns / (double)rg_resets[i].blocks);
	if (rg_nic)
		fprintf(f, "instructions per call (valgrind --tool=icount): what calls min median max\n");
	for (int i = 0; i < rg_nic; i++)
		fprintf(f, "  %-16s %6zu %5llu %5llu %6llu\n", rg_ic[i].what, rg_ic[i].n, rg_ic[i].min,
		        rg_ic[i].med, rg_ic[i].max);
}

static void rg_csv(void)
{
	FILE *f = open_out("region.csv");
	if (!f)
		return;
	fprintf(f, "what,allocator,n,a,b,c,d\n");
	for (int a = 0; a < RG_ALLOCS; a++)
		for (int k = 0; k < 3; k++)
			fprintf(f, "trace_%s,%s,%d,%.1f,%.1f,%.1f,%.1f\n",
			        k == 0 ? "alloc" : k == 1 ? "free" : "end", rg_names[a], k,
			        rg_trace_res[a].ns_per_alloc, rg_trace_res[a].lat[k].med,
			        rg_trace_res[a].lat[k].p999, rg_trace_res[a].lat[k].max);
	for (int i = 0; i < 2; i++)
		fprintf(f, "release,rtregion,%zu,%.1f,%.1f,%.1f,%.1f\n", rg_release[i].blocks,
		        rg_release[i].min, rg_release[i].lat.med, rg_release[i].lat.p999,
		        rg_release[i].lat.max);
	for (int i = 0; i < 5; i++)
		fprintf(f, "reset,rtregion,%zu,%.1f,0,0,0\n", rg_resets[i].blocks, rg_resets[i].ns);
	for (int i = 0; i < rg_nic; i++)
		fprintf(f, "icount_%s,rtregion,%zu,%llu,%llu,%llu,0\n", rg_ic[i].what, rg_ic[i].n,
		        rg_ic[i].min, rg_ic[i].med, rg_ic[i].max);
	fclose(f);
}

void region_run(void)
{
	struct rg_trace t;
	static const size_t nb[5] = {1, 10, 100, 1000, 10000};
	if (!rg_wanted())
		return;
	rig_timer_calibrate(&rg_tm, O.force_clock);
	if (rg_trace_make(&t, O.level ? 4000 : 200, O.seed)) {
		rg_bad = 1;
		return;
	}
	for (int a = 0; a < RG_ALLOCS; a++) {
		rg_trace_res[a].ns_per_alloc = rg_throughput(a, &t);
		if (rg_timed(a, &t, &rg_trace_res[a]))
			rg_bad = 1;
	}
	if (rg_release_case(10000, &rg_release[0]) || rg_release_case(100, &rg_release[1]))
		rg_bad = 1;
	for (int i = 0; i < 5; i++)
		if (rg_reset_case(nb[i], &rg_resets[i]))
			rg_bad = 1;
	rg_run_icount();
	rg_table(stdout, &t);
	rg_csv();
	free(t.op);
}

int region_failed(void)
{
	return rg_bad;
}
