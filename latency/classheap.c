/* SPDX-License-Identifier: MIT */
/*
 * classheap.c -- the class heap's figures (group "classheap", run by
 * --full or --only classheap): rtheap/classheap.h, the layer behind
 * rtheap/compat/walloc.h.
 *
 * The class mix (a web server's requests, as walloc serves them): 70 %
 * strings and headers, log-uniform 8 B .. 256 B; 25 % buffers,
 * log-uniform 256 B .. 4 KiB; 5 % large buffers, log-uniform 4 KiB ..
 * 64 KiB.  The "shift" trace starts with strings only (8 .. 512 B) and
 * switches to buffers only (1 KiB .. 64 KiB) half way.
 *
 * 1. Usable memory, in this process (deterministic, no timing):
 *    - fill: requests of the mix until the first failure, no release:
 *      the bytes requested then live, as a share of the buffer;
 *    - churn: for a target T (2.5 % steps of the buffer), 20000
 *      operations that allocate from the mix while the live requested
 *      bytes are below T and release a random live block otherwise; the
 *      largest T with no failed allocation (fresh allocator per T).
 *    Two allocators over the same buffer: rtclass (the real one: its
 *    heap's header and page map live in the buffer too) and "original
 *    (model)": a model of the original design, not its code: each block
 *    is its class plus a 16-byte header (a union of a pointer and an int,
 *    then an int flags word: 16 bytes on LP64), carved in order from the
 *    buffer while more than a block is left, released blocks kept on the
 *    list of their class for good (no coalescing, no return to the
 *    buffer); a request takes its class's list head, else carves.
 * 2. Instruction counts of rtclass_alloc / rtclass_free (worker processes
 *    under valgrind --tool=icount, latency/vgtool; skipped without it):
 *    the churn trace of the mix at T = 50 % of a 4 MiB buffer, every call
 *    counted from its first instruction to its return; rtheap_alloc /
 *    rtheap_free of the class size on the same trace for comparison.
 *    Heaps of lock mode NONE (RTCLASS_F_NOLOCK) and PI_MUTEX.
 * Output: tables on stdout, classheap.csv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/classheap.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define CH_OPS 20000u
#define CH_HDR 16u        /* the original's header on LP64 (model) */
#define CH_MAXLIVE 65536u
#define CH_NBUF 3

static const size_t ch_bufs[CH_NBUF] = { 256u << 10, 1u << 20, 4u << 20 };

enum ch_trace { CH_MIX = 0, CH_SHIFT = 1 };

/* ------------------------------------------------------------------ */
/* The trace                                                           */
/* ------------------------------------------------------------------ */

static size_t ch_draw(struct rig_rng *r, enum ch_trace t, int second_half)
{
	uint64_t u = rig_rng_range(r, 0, 99);
	if (t == CH_SHIFT)
		return second_half ? rig_rng_log(r, 1024, 65536) : rig_rng_log(r, 8, 512);
	if (u < 70)
		return rig_rng_log(r, 8, 256);
	if (u < 95)
		return rig_rng_log(r, 257, 4096);
	return rig_rng_log(r, 4097, 65536);
}

/* An allocator of the comparison: real or model. */
struct ch_alloc {
	void *(*alloc)(void *ctx, size_t n); /* NULL: failed */
	void (*release)(void *ctx, void *p, size_t n);
	void *ctx;
};

/* -- the real one -- */

static void *ch_real_alloc(void *ctx, size_t n)
{
	return rtclass_alloc(ctx, n);
}

static void ch_real_release(void *ctx, void *p, size_t n)
{
	(void)n;
	(void)rtclass_free(ctx, p);
}

/* -- the model of the original design (counts only: blocks of one class
 *    are interchangeable, and carved memory never goes back) -- */

struct ch_model {
	size_t left;               /* bytes not carved yet */
	size_t free_blocks[RTCLASS_NR];
	uintptr_t next_id;         /* a distinct non-NULL "address" per block */
};

static void *ch_model_alloc(void *ctx, size_t n)
{
	struct ch_model *m = ctx;
	int q = rtclass_class_of(n);
	size_t need;
	if (q < 0)
		return NULL;
	need = ((size_t)RTCLASS_MIN << q) + CH_HDR;
	if (m->free_blocks[q])
		m->free_blocks[q]--;
	else if (m->left > need)
		m->left -= need;
	else
		return NULL;
	return (void *)++m->next_id;
}

static void ch_model_release(void *ctx, void *p, size_t n)
{
	struct ch_model *m = ctx;
	(void)p;
	m->free_blocks[rtclass_class_of(n)]++;
}

/* -- one run -- */

struct ch_live {
	void *p[CH_MAXLIVE];
	size_t n[CH_MAXLIVE];
	size_t count, bytes;
};

static void ch_live_add(struct ch_live *L, void *p, size_t n)
{
	L->p[L->count] = p;
	L->n[L->count++] = n;
	L->bytes += n;
}

/* Forget entry @p k (the last one takes its place). */
static void ch_live_del(struct ch_live *L, size_t k)
{
	L->bytes -= L->n[k];
	L->count--;
	L->p[k] = L->p[L->count];
	L->n[k] = L->n[L->count];
}

/* Fill: requests of the mix, none released, a failed one skipped, until
 * CH_GIVEUP failures in a row; the live requested bytes at the first
 * failure in *first, at the end returned. */
#define CH_GIVEUP 500u
static size_t ch_fill(const struct ch_alloc *a, struct ch_live *L, enum ch_trace t,
                      uint64_t seed, size_t *first)
{
	struct rig_rng r;
	unsigned fails = 0;
	rig_rng_seed(&r, seed);
	L->count = L->bytes = 0;
	*first = SIZE_MAX;
	while (L->count < CH_MAXLIVE && fails < CH_GIVEUP) {
		size_t n = ch_draw(&r, t, 0);
		void *p = a->alloc(a->ctx, n);
		if (!p) {
			if (*first == SIZE_MAX)
				*first = L->bytes;
			fails++;
			continue;
		}
		fails = 0;
		ch_live_add(L, p, n);
	}
	return L->bytes;
}

/* Churn around @p target live bytes: 1 if no allocation failed. */
static int ch_churn(const struct ch_alloc *a, struct ch_live *L, enum ch_trace t,
                    size_t target, uint64_t seed)
{
	struct rig_rng r;
	int ok = 1;
	rig_rng_seed(&r, seed);
	L->count = L->bytes = 0;
	for (unsigned op = 0; op < CH_OPS && ok; op++) {
		if (L->bytes < target && L->count < CH_MAXLIVE) {
			size_t n = ch_draw(&r, t, op >= CH_OPS / 2);
			void *p = a->alloc(a->ctx, n);
			if (!p) {
				ok = 0;
				break;
			}
			ch_live_add(L, p, n);
		} else if (L->count) {
			size_t k = (size_t)rig_rng_range(&r, 0, L->count - 1);
			a->release(a->ctx, L->p[k], L->n[k]);
			ch_live_del(L, k);
		}
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Usable memory (driver side)                                         */
/* ------------------------------------------------------------------ */

/* Results of the memory part: [buffer][allocator 0 real, 1 model]. */
struct ch_mem {
	size_t first[2];           /* live requested bytes at the first failure */
	size_t fill[2];            /* ... when nothing more fits */
	size_t fill_blocks[2];
	size_t strings[2];         /* fill with strings only (8 .. 512 B) */
	unsigned churn_pct10[2][2]; /* [trace][alloc]: largest T, in 0.1 % */
	size_t usable;             /* rtclass: heap usable bytes of the buffer */
};

static struct ch_mem ch_mem[CH_NBUF];
static int ch_ran, ch_bad;

/* Open the real allocator over @p buf: 0 or -1. */
static int ch_real_open(rtclass_t *c, void *buf, size_t size, struct ch_alloc *a)
{
	memset(c, 0, sizeof(*c));
	if (rtclass_open(c, buf, size, RTCLASS_F_NOLOCK) != 0)
		return -1;
	a->alloc = ch_real_alloc;
	a->release = ch_real_release;
	a->ctx = c;
	return 0;
}

static void ch_model_open(struct ch_model *m, size_t size, struct ch_alloc *a)
{
	memset(m, 0, sizeof(*m));
	m->left = size;
	a->alloc = ch_model_alloc;
	a->release = ch_model_release;
	a->ctx = m;
}

/* One measurement (fill, or churn at @p target) with allocator @p which. */
static int ch_measure(int which, void *buf, size_t size, struct ch_live *L, int fill,
                      enum ch_trace t, size_t target, size_t *out, size_t *first)
{
	rtclass_t c;
	struct ch_model m;
	struct ch_alloc a;
	int ok = 1;
	memset(&a, 0, sizeof(a));
	if (which == 0 && ch_real_open(&c, buf, size, &a) != 0)
		return -1;
	if (which != 0)
		ch_model_open(&m, size, &a);
	if (fill)
		*out = ch_fill(&a, L, t, O.seed, first);
	else
		ok = ch_churn(&a, L, t, target, O.seed);
	if (which == 0)
		rtclass_close(&c);
	return ok;
}

static void ch_memory_buf(struct ch_mem *M, size_t size, struct ch_live *L)
{
	void *buf = malloc(size);
	rtclass_t c;
	struct ch_alloc a;
	struct rtclass_stats st;
	if (!buf || ch_real_open(&c, buf, size, &a) != 0) {
		ch_bad = 1;
		free(buf);
		return;
	}
	M->usable = rtclass_get_stats(&c, &st) == 0 ? st.usable : 0;
	rtclass_close(&c);
	size_t first;
	for (int w = 0; w < 2; w++) {
		if (ch_measure(w, buf, size, L, 1, CH_MIX, 0, &M->fill[w], &M->first[w]) < 0)
			ch_bad = 1;
		M->fill_blocks[w] = L->count;
		if (ch_measure(w, buf, size, L, 1, CH_SHIFT, 0, &M->strings[w], &first) < 0)
			ch_bad = 1;
		for (int t = 0; t < 2; t++)
			for (unsigned pct10 = 25; pct10 <= 1000; pct10 += 25) {
				size_t target = size / 1000u * pct10;
				int ok = ch_measure(w, buf, size, L, 0, (enum ch_trace)t, target, NULL,
				                    NULL);
				if (ok < 0)
					ch_bad = 1;
				if (ok != 1)
					break;
				M->churn_pct10[t][w] = pct10;
			}
	}
	free(buf);
}

static void ch_memory(void)
{
	struct ch_live *L = malloc(sizeof(*L));
	if (!L) {
		ch_bad = 1;
		return;
	}
	for (int b = 0; b < CH_NBUF; b++)
		ch_memory_buf(&ch_mem[b], ch_bufs[b], L);
	free(L);
}

/* ------------------------------------------------------------------ */
/* Instruction counts (worker side, under valgrind)                    */
/* ------------------------------------------------------------------ */

/* Per kind of call: heap-path calls counted, their least, median, 99.9th
 * percentile and greatest instruction counts. */
struct ch_ic {
	uint64_t calls;
	uint32_t min, med, p999, max;
};

enum { CH_IC_CLS, CH_IC_CLS_PI, CH_IC_HEAP, CH_IC_N };
static const char *const ch_ic_names[CH_IC_N] = { "rtclass", "rtclass-pi", "rtheap" };

struct ch_icres {
	int status;             /* 0 ok, 1 skipped, 2 failed */
	char note[96];
	struct ch_ic a, f;
};

static struct ch_icres ch_ic[CH_IC_N];

#ifdef RIG_HAVE_VALGRIND_H
#define CH_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t ch_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, CH_ICOUNT_REQ, 0, 0, 0, 0, 0);
}

#if defined(__GNUC__) && !defined(__clang__)
#define CH_BRACKET __attribute__((noipa))
#else
#define CH_BRACKET __attribute__((noinline))
#endif

typedef void *(*ch_afn)(void *, size_t);
typedef int (*ch_ffn)(void *, void *);

static void *ch_null_a(void *c, size_t n)
{
	(void)c;
	(void)n;
	return NULL;
}

static int ch_null_f(void *c, void *p)
{
	(void)c;
	(void)p;
	return 0;
}

static void *ch_cls_a(void *c, size_t n)
{
	return rtclass_alloc(c, n);
}

static int ch_cls_f(void *c, void *p)
{
	return rtclass_free(c, p);
}

static void *ch_heap_a(void *h, size_t n)
{
	int q = rtclass_class_of(n);
	return rtheap_alloc(h, (size_t)RTCLASS_MIN << (q < 0 ? 0 : q));
}

static int ch_heap_f(void *h, void *p)
{
	return rtheap_free(h, p);
}
#endif

#ifdef RIG_HAVE_VALGRIND_H
/* One call between two counter reads: the instructions of the bracket. */
static CH_BRACKET uint32_t ch_count_a(ch_afn fn, void *c, size_t n, void **out)
{
	uint64_t c0 = ch_now(), c1;
	void *p = fn(c, n);
	c1 = ch_now();
	*out = p;
	return (uint32_t)(c1 - c0);
}

static CH_BRACKET uint32_t ch_count_f(ch_ffn fn, void *c, void *p, int *rc)
{
	uint64_t c0 = ch_now(), c1;
	int r = fn(c, p);
	c1 = ch_now();
	*rc = r;
	return (uint32_t)(c1 - c0);
}

/* The empty calls are two instructions (xor eax, eax; ret), added back so
 * that a count is every instruction of the call to its return. */
#define CH_NULL_INSTR 2u

static int ch_u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void ch_summary(uint32_t *v, size_t n, struct ch_ic *s)
{
	qsort(v, n, sizeof(*v), ch_u32cmp);
	s->calls = n;
	if (!n)
		return;
	s->min = v[0];
	s->med = v[n / 2];
	s->p999 = v[(size_t)((double)(n - 1) * 0.999)];
	s->max = v[n - 1];
}

struct ch_target {
	ch_afn fa;
	ch_ffn ff;
	void *ctx;
	uint32_t oa, of;           /* the brackets' own instructions */
};

/* The churn trace at half the buffer, each call counted. */
static int ch_ic_trace(struct ch_target *g, size_t size, struct ch_icres *res)
{
	const unsigned ops = 100000u;
	uint32_t *va = malloc(ops * sizeof(*va)), *vf = malloc(ops * sizeof(*vf));
	struct ch_live *L = malloc(sizeof(*L));
	size_t na = 0, nf = 0;
	struct rig_rng r;
	int rc = 0;
	if (!va || !vf || !L) {
		rc = -1;
		goto out;
	}
	rig_rng_seed(&r, O.seed);
	L->count = L->bytes = 0;
	for (unsigned op = 0; op < ops && rc == 0; op++) {
		if (L->bytes < size / 2 && L->count < CH_MAXLIVE) {
			size_t n = ch_draw(&r, CH_MIX, 0);
			void *p;
			uint32_t k = ch_count_a(g->fa, g->ctx, n, &p);
			if (!p) {
				rc = -1;
				break;
			}
			va[na++] = k - g->oa + CH_NULL_INSTR;
			ch_live_add(L, p, n);
		} else if (L->count) {
			size_t i = (size_t)rig_rng_range(&r, 0, L->count - 1);
			int frc;
			vf[nf++] = ch_count_f(g->ff, g->ctx, L->p[i], &frc) - g->of + CH_NULL_INSTR;
			rc = frc ? -1 : 0;
			ch_live_del(L, i);
		}
	}
	ch_summary(va, na, &res->a);
	ch_summary(vf, nf, &res->f);
out:
	free(va);
	free(vf);
	free(L);
	return rc;
}

static int ch_ic_worker(int kind, struct ch_icres *res)
{
	const size_t size = 4u << 20;
	void *buf = malloc(size), *p;
	struct ch_target g;
	rtclass_t c;
	rtheap_t h;
	int rc;
	memset(&c, 0, sizeof(c));
	if (!buf)
		return -1;
	if (kind == CH_IC_HEAP) {
		struct rtheap_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.lock = RTHEAP_LOCK_NONE;
		rc = rtheap_init(&h, buf, size, &cfg);
		g = (struct ch_target){ ch_heap_a, ch_heap_f, &h, 0, 0 };
	} else {
		rc = rtclass_open(&c, buf, size, kind == CH_IC_CLS ? RTCLASS_F_NOLOCK : 0u);
		g = (struct ch_target){ ch_cls_a, ch_cls_f, &c, 0, 0 };
	}
	if (rc == 0) {
		g.oa = g.of = UINT32_MAX;
		for (int i = 0; i < 16; i++) {
			uint32_t a = ch_count_a(ch_null_a, NULL, 0, &p);
			uint32_t f = ch_count_f(ch_null_f, NULL, NULL, &rc);
			g.oa = a < g.oa ? a : g.oa;
			g.of = f < g.of ? f : g.of;
		}
		rc = ch_ic_trace(&g, size, res);
	}
	if (kind == CH_IC_HEAP)
		rtheap_destroy(&h, NULL, NULL);
	else
		rtclass_close(&c);
	free(buf);
	return rc;
}
#endif

/* rtheap-latency --classheap-worker KIND FD SEED: the counts of one kind
 * of call (under valgrind --tool=icount), written to the file FD. */
int classheap_worker_main(int argc, char **argv)
{
	struct ch_icres res;
	int kind, fd;
	memset(&res, 0, sizeof(res));
	if (argc < 5)
		return 2;
	kind = atoi(argv[2]);
	fd = atoi(argv[3]);
	O.seed = strtoull(argv[4], NULL, 0);
#ifdef RIG_HAVE_VALGRIND_H
	if (kind < 0 || kind >= CH_IC_N || !RUNNING_ON_VALGRIND)
		return 2;
	res.status = ch_ic_worker(kind, &res) == 0 ? 0 : 2;
	if (res.status)
		snprintf(res.note, sizeof(res.note), "the trace failed");
#else
	(void)kind;
	res.status = 1;
	snprintf(res.note, sizeof(res.note), "built without valgrind/valgrind.h");
#endif
	return pwrite(fd, &res, sizeof(res), 0) == (ssize_t)sizeof(res) ? 0 : 2;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

static int ch_wanted(void)
{
	return group_wanted("classheap", O.level == 2);
}

/* Run the worker of @p kind under valgrind; its result in ch_ic[kind]. */
static void ch_ic_run(int kind)
{
	struct ch_icres *res = &ch_ic[kind];
	char self[PATH_MAX], k[16], f[16], s[32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd = memfd_create("rtheap-classheap", 0), st = 0;
	pid_t pid = -1;
	memset(res, 0, sizeof(*res));
	if (len > 0 && fd >= 0) {
		self[len] = 0;
		snprintf(k, sizeof(k), "%d", kind);
		snprintf(f, sizeof(f), "%d", fd);
		snprintf(s, sizeof(s), "%llu", (unsigned long long)O.seed);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			setenv("VALGRIND_LIB", vg_tool_dir(), 1);
			execlp("valgrind", "valgrind", "--tool=icount", "-q", self,
			       "--classheap-worker", k, f, s, (char *)NULL);
			_exit(127);
		}
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    pread(fd, res, sizeof(*res), 0) != (ssize_t)sizeof(*res)) {
		res->status = 2;
		snprintf(res->note, sizeof(res->note), "worker failed (status %d)", st);
	}
	if (fd >= 0)
		close(fd);
}

void classheap_run(void)
{
	if (!ch_wanted())
		return;
	ch_ran = 1;
	fprintf(stderr, "classheap: usable memory on the class mix\n");
	ch_memory();
	for (int k = 0; k < CH_IC_N; k++) {
		if (!O.icount || !vg_tool_dir()) {
			ch_ic[k].status = 1;
			snprintf(ch_ic[k].note, sizeof(ch_ic[k].note), "no icount tool");
			continue;
		}
		fprintf(stderr, "classheap: instruction counts, %s\n", ch_ic_names[k]);
		ch_ic_run(k);
	}
}

int classheap_failed(void)
{
	int bad = ch_bad;
	for (int k = 0; ch_ran && k < CH_IC_N; k++)
		bad |= ch_ic[k].status == 2;
	return bad;
}

static double ch_pct(size_t x, size_t of)
{
	return of ? 100.0 * (double)x / (double)of : 0.0;
}

void classheap_table(FILE *f)
{
	char hb[16], hu[16];
	if (!ch_ran)
		return;
	fprintf(f, "\n== classheap: usable memory on the class mix (seed %llu) ==\n",
	        (unsigned long long)O.seed);
	fprintf(f, "   %% of the buffer: requested bytes live at the first failure (first) and\n"
	           "   when %u requests in a row failed (fill; blocks then), largest live\n"
	           "   target sustained for %u operations (churn: mix, shift); strings:\n"
	           "   fill with strings only (8 .. 512 B)\n",
	        CH_GIVEUP, CH_OPS);
	fprintf(f, "%-8s %-18s %8s %8s %8s %8s %8s %8s %10s\n", "buffer", "allocator", "first",
	        "fill", "blocks", "strings", "mix", "shift", "usable");
	for (int b = 0; b < CH_NBUF; b++) {
		const struct ch_mem *M = &ch_mem[b];
		for (int w = 0; w < 2; w++)
			fprintf(f, "%-8s %-18s %7.1f%% %7.1f%% %8zu %7.1f%% %7.1f%% %7.1f%% %10s\n",
			        human(ch_bufs[b], hb, sizeof(hb)),
			        w ? "original (model)" : "rtclass", ch_pct(M->first[w], ch_bufs[b]),
			        ch_pct(M->fill[w], ch_bufs[b]),
			        M->fill_blocks[w], ch_pct(M->strings[w], ch_bufs[b]),
			        M->churn_pct10[0][w] / 10.0,
			        M->churn_pct10[1][w] / 10.0, w ? "-" : human(M->usable, hu, sizeof(hu)));
	}
	fprintf(f, "\n== classheap: instructions per call (heap path, mix at 50 %% of 4 MiB) ==\n");
	fprintf(f, "%-11s %-6s %8s %6s %6s %7s %6s\n", "allocator", "call", "calls", "min",
	        "median", "p99.9", "max");
	for (int k = 0; k < CH_IC_N; k++) {
		const struct ch_icres *r = &ch_ic[k];
		if (r->status) {
			fprintf(f, "%-11s %s: %s\n", ch_ic_names[k],
			        r->status == 1 ? "skipped" : "FAILED", r->note);
			continue;
		}
		for (int op = 0; op < 2; op++) {
			const struct ch_ic *s = op ? &r->f : &r->a;
			fprintf(f, "%-11s %-6s %8llu %6u %6u %7u %6u\n", ch_ic_names[k],
			        op ? "free" : "alloc", (unsigned long long)s->calls, s->min, s->med,
			        s->p999, s->max);
		}
	}
}

void classheap_write(void)
{
	FILE *f;
	if (!ch_ran || !(f = open_out("classheap.csv")))
		return;
	fprintf(f, "part,buffer,allocator,trace_or_call,value,min,median,p999,max\n");
	for (int b = 0; b < CH_NBUF; b++)
		for (int w = 0; w < 2; w++) {
			const char *a = w ? "original-model" : "rtclass";
			const struct ch_mem *M = &ch_mem[b];
			fprintf(f, "memory,%zu,%s,first-failure,%zu,,,,\n", ch_bufs[b], a,
			        M->first[w]);
			fprintf(f, "memory,%zu,%s,fill,%zu,,,,\n", ch_bufs[b], a, M->fill[w]);
			fprintf(f, "memory,%zu,%s,fill-strings,%zu,,,,\n", ch_bufs[b], a,
			        M->strings[w]);
			fprintf(f, "memory,%zu,%s,churn-mix,%.1f,,,,\n", ch_bufs[b], a,
			        M->churn_pct10[0][w] / 10.0);
			fprintf(f, "memory,%zu,%s,churn-shift,%.1f,,,,\n", ch_bufs[b], a,
			        M->churn_pct10[1][w] / 10.0);
		}
	for (int k = 0; k < CH_IC_N; k++)
		for (int op = 0; ch_ic[k].status == 0 && op < 2; op++) {
			const struct ch_ic *s = op ? &ch_ic[k].f : &ch_ic[k].a;
			fprintf(f, "icount,%u,%s,%s,%llu,%u,%u,%u,%u\n", 4u << 20, ch_ic_names[k],
			        op ? "free" : "alloc", (unsigned long long)s->calls, s->min, s->med,
			        s->p999, s->max);
		}
	fclose(f);
}
