/* SPDX-License-Identifier: MIT */
/*
 * kmem.c -- instruction counts of the kernel-style layer (rtheap/kmem.h),
 * group "kmem" (run by --full or --only kmem; needs the icount tool).
 *
 * One worker (this executable with --kmem-worker, under valgrind
 * --tool=icount) replays churn traces and counts, exactly, the
 * instructions of every call from its first instruction to its return:
 *  - bytes: N live slots, sizes drawn from 32, 200, 1000, 3000 bytes;
 *    fill, 2N random operations (a full slot is released, an empty one
 *    allocated), drain.  rtkmem_alloc(RTKMEM_ATOMIC) / rtkmem_free, and
 *    rtheap_alloc / rtheap_free on the same trace for comparison;
 *  - pages: the same with page-order blocks of orders 0 to 3:
 *    rtkmem_pages_alloc(RTKMEM_ATOMIC) / rtkmem_pages_free, and
 *    rtheap_alloc_aligned(4096 << o, 4096 << o) / rtheap_free;
 * each on a fresh heap of 256-byte pages, in lock modes NONE and PI_MUTEX.
 * Output: a table on stdout and kmem.csv (min, median, p99, max, mean
 * per call).
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
#include "rtheap/kmem.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define KM_ROWS 16
#define KM_HEAP ((size_t)64 << 20)

struct km_row {
	char call[40];
	char lock[8];
	size_t n;
	uint32_t min, med, p99, max;
	double mean;
};

struct km_result {
	int status; /* 0 measured, 1 skipped, 2 failed */
	char note[120];
	int nrows;
	struct km_row rows[KM_ROWS];
};

static struct km_result km_res;
static int km_ran;

/* ------------------------------------------------------------------ */
/* Worker (under valgrind --tool=icount)                               */
/* ------------------------------------------------------------------ */

#ifdef RIG_HAVE_VALGRIND_H
#define KM_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t km_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, KM_ICOUNT_REQ, 0, 0, 0, 0, 0);
}

#if defined(__GNUC__) && !defined(__clang__)
#define KM_BRACKET __attribute__((noipa))
#else
#define KM_BRACKET __attribute__((noinline))
#endif

/* Every call is made through one of these, with the same arguments'
 * kinds: (heap, a, b) -> pointer, (heap, pointer, b) -> int. */
typedef void *(*km_alloc_fn)(rtheap_t *, size_t, size_t);
typedef int (*km_free_fn)(rtheap_t *, void *, size_t);

static void *km_null_alloc(rtheap_t *h, size_t a, size_t b)
{
	(void)h, (void)a, (void)b;
	return NULL;
}

static int km_null_free(rtheap_t *h, void *p, size_t b)
{
	(void)h, (void)p, (void)b;
	return 0;
}
/* the empty calls: two instructions each (xor eax, eax; ret) */
#define KM_NULL_INSTR 2u

static KM_BRACKET uint32_t km_count_alloc(km_alloc_fn fn, rtheap_t *h, size_t a, size_t b,
                                          void **out)
{
	uint64_t c0 = km_now(), c1;
	void *p = fn(h, a, b);
	c1 = km_now();
	*out = p;
	return (uint32_t)(c1 - c0);
}

static KM_BRACKET uint32_t km_count_free(km_free_fn fn, rtheap_t *h, void *p, size_t b, int *rc)
{
	uint64_t c0 = km_now(), c1;
	int r = fn(h, p, b);
	c1 = km_now();
	*rc = r;
	return (uint32_t)(c1 - c0);
}

/* The calls measured, with the bracket's argument kinds (the casts only
 * widen what the callee reads: every argument is passed in a register,
 * and the callee reads its own type of it). */
static void *km_kmem_alloc(rtheap_t *h, size_t n, size_t f)
{
	return rtkmem_alloc(h, n, (unsigned)f);
}

static int km_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void km_stats(struct km_row *r, uint32_t *v, size_t n)
{
	double sum = 0;
	r->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), km_cmp);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	r->min = v[0];
	r->med = v[n / 2];
	r->p99 = v[n * 99 / 100];
	r->max = v[n - 1];
	r->mean = sum / (double)n;
}

/* One trace: which slot each step touches, and its size or order. */
struct km_trace {
	size_t nslots, nsteps;
	uint32_t *slot, *arg;
};

static uint64_t km_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int km_trace_make(struct km_trace *t, size_t nslots, int pages, uint64_t seed)
{
	static const uint32_t sizes[4] = { 32, 200, 1000, 3000 };
	uint64_t s = seed | 1u;
	t->nslots = nslots;
	t->nsteps = 3 * nslots;
	t->slot = malloc(t->nsteps * sizeof(uint32_t));
	t->arg = malloc(t->nsteps * sizeof(uint32_t));
	if (!t->slot || !t->arg)
		return -1;
	for (size_t i = 0; i < t->nsteps; i++) {
		t->slot[i] = i < nslots ? (uint32_t)i : (uint32_t)(km_rng(&s) % nslots);
		t->arg[i] = pages ? (uint32_t)(km_rng(&s) % 4) : sizes[km_rng(&s) % 4];
	}
	return 0;
}

/* What a replay calls: alloc(heap, a(arg), b(arg)), free(heap, p, c(arg)). */
struct km_calls {
	const char *alloc_name, *free_name;
	km_alloc_fn fa;
	km_free_fn ff;
	int pages;      /* arg is an order */
	int aligned;    /* rtheap_alloc_aligned(bytes, bytes) */
};

static void km_args(const struct km_calls *k, uint32_t arg, size_t *a, size_t *b)
{
	if (!k->pages) {
		*a = arg;
		*b = RTKMEM_ATOMIC;
	} else if (k->aligned) {
		*a = *b = RTKMEM_PAGE_SIZE << arg;
	} else {
		*a = arg;
		*b = RTKMEM_ATOMIC;
	}
}

/* The counts of one replay, and the live blocks of its slots. */
struct km_run {
	rtheap_t heap;
	void **live;
	uint32_t *larg, *va, *vf;
	size_t na, nf;
	uint32_t oa, of; /* instructions of the brackets */
};

/* Step @p j of @p t (the drain when @p drain: slot j released if live). */
static int km_step(const struct km_trace *t, const struct km_calls *k, struct km_run *x,
                   size_t j, int drain)
{
	uint32_t s = drain ? (uint32_t)j : t->slot[j];
	size_t a, b;
	int frc;
	if (x->live[s]) {
		km_args(k, x->larg[s], &a, &b);
		x->vf[x->nf++] = km_count_free(k->ff, &x->heap, x->live[s],
		                               k->pages && !k->aligned ? a : 0, &frc) - x->of;
		x->live[s] = NULL;
		return frc;
	}
	if (drain)
		return 0;
	km_args(k, t->arg[j], &a, &b);
	x->va[x->na++] = km_count_alloc(k->fa, &x->heap, a, b, &x->live[s]) - x->oa;
	x->larg[s] = t->arg[j];
	return x->live[s] ? 0 : -1;
}

/* Replay @t with @k on a fresh heap of lock mode @lock; rows ra, rf. */
static int km_replay(const struct km_trace *t, const struct km_calls *k, rtheap_lock_mode_t lock,
                     struct km_row *ra, struct km_row *rf)
{
	struct rtheap_config cfg;
	struct km_run x;
	void *buf = mmap(NULL, KM_HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *dummy;
	int rc = -1, frc;

	memset(&x, 0, sizeof(x));
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = lock;
	cfg.name = "kmem";
	x.live = calloc(t->nslots, sizeof(void *));
	x.larg = calloc(t->nslots, sizeof(uint32_t));
	x.va = malloc((t->nsteps + t->nslots) * sizeof(uint32_t));
	x.vf = malloc((t->nsteps + t->nslots) * sizeof(uint32_t));
	if (!x.live || !x.larg || !x.va || !x.vf || buf == MAP_FAILED ||
	    rtheap_init(&x.heap, buf, KM_HEAP, &cfg) != 0)
		goto out;
	x.oa = km_count_alloc(km_null_alloc, &x.heap, 0, 0, &dummy) - KM_NULL_INSTR;
	x.of = km_count_free(km_null_free, &x.heap, NULL, 0, &frc) - KM_NULL_INSTR;
	for (size_t j = 0; j < t->nsteps; j++)
		if (km_step(t, k, &x, j, 0))
			goto out;
	for (size_t j = 0; j < t->nslots; j++)
		if (km_step(t, k, &x, j, 1))
			goto out;
	km_stats(ra, x.va, x.na);
	km_stats(rf, x.vf, x.nf);
	snprintf(ra->call, sizeof(ra->call), "%s", k->alloc_name);
	snprintf(rf->call, sizeof(rf->call), "%s", k->free_name);
	snprintf(ra->lock, sizeof(ra->lock), "%s", lock == RTHEAP_LOCK_NONE ? "none" : "pi");
	snprintf(rf->lock, sizeof(rf->lock), "%s", ra->lock);
	rtheap_destroy(&x.heap, NULL, NULL);
	rc = 0;
out:
	if (buf != MAP_FAILED)
		munmap(buf, KM_HEAP);
	free(x.live);
	free(x.larg);
	free(x.va);
	free(x.vf);
	return rc;
}

static void *km_heap_alloc(rtheap_t *h, size_t n, size_t f)
{
	(void)f;
	return rtheap_alloc(h, n);
}

static int km_heap_free(rtheap_t *h, void *p, size_t b)
{
	(void)b;
	return rtheap_free(h, p);
}

static int km_kmem_free(rtheap_t *h, void *p, size_t b)
{
	(void)b;
	return rtkmem_free(h, p);
}

static void *km_pages_alloc(rtheap_t *h, size_t order, size_t f)
{
	return rtkmem_pages_alloc(h, (unsigned)order, (unsigned)f);
}

static int km_pages_free(rtheap_t *h, void *p, size_t order)
{
	return rtkmem_pages_free(h, p, (unsigned)order);
}

static void *km_aligned_alloc(rtheap_t *h, size_t n, size_t align)
{
	return rtheap_alloc_aligned(h, n, align);
}

static void km_measure(struct km_result *res, size_t nslots, uint64_t seed)
{
	static const struct km_calls calls[4] = {
		{ "rtkmem_alloc(ATOMIC)", "rtkmem_free", km_kmem_alloc, km_kmem_free, 0, 0 },
		{ "rtheap_alloc", "rtheap_free", km_heap_alloc, km_heap_free, 0, 0 },
		{ "rtkmem_pages_alloc(ATOMIC)", "rtkmem_pages_free", km_pages_alloc, km_pages_free, 1, 0 },
		{ "rtheap_alloc_aligned", "rtheap_free (aligned)", km_aligned_alloc, km_heap_free, 1, 1 },
	};
	static const rtheap_lock_mode_t locks[2] = { RTHEAP_LOCK_NONE, RTHEAP_LOCK_PI_MUTEX };
	struct km_trace tb, tp;
	uint64_t c0;

	if (!RUNNING_ON_VALGRIND || (c0 = km_now(), km_now() == c0)) {
		res->status = 1;
		snprintf(res->note, sizeof(res->note), "not under valgrind --tool=icount");
		return;
	}
	if (km_trace_make(&tb, nslots, 0, seed) || km_trace_make(&tp, nslots / 4, 1, seed + 1)) {
		res->status = 2;
		snprintf(res->note, sizeof(res->note), "out of memory for the traces");
		return;
	}
	for (int l = 0; l < 2; l++)
		for (int c = 0; c < 4; c++) {
			struct km_row *r = &res->rows[res->nrows];
			if (km_replay(c < 2 ? &tb : &tp, &calls[c], locks[l], r, r + 1)) {
				res->status = 2;
				snprintf(res->note, sizeof(res->note), "%s failed", calls[c].alloc_name);
				return;
			}
			res->nrows += 2;
		}
}
#endif

int kmem_worker_main(int argc, char **argv)
{
	int fd = -1;
	size_t nslots = 10000;
	uint64_t seed = 1;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--result-fd"))
			fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--slots"))
			nslots = (size_t)strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
	}
	if (fd < 0 || nslots < 4)
		return 2;
	struct km_result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (res == MAP_FAILED)
		return 2;
	memset(res, 0, sizeof(*res));
#ifdef RIG_HAVE_VALGRIND_H
	km_measure(res, nslots, seed);
#else
	(void)seed;
	res->status = 1;
	snprintf(res->note, sizeof(res->note), "built without valgrind.h");
#endif
	munmap(res, sizeof(*res));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

static int km_wanted(void)
{
	return group_wanted("kmem", O.level == 2);
}

static pid_t km_spawn(const void *ctx, int fd)
{
	size_t nslots = *(const size_t *)ctx;
	char self[PATH_MAX], a[3][32];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return -1;
	self[len] = 0;
	snprintf(a[0], sizeof(a[0]), "%d", fd);
	snprintf(a[1], sizeof(a[1]), "%zu", nslots);
	snprintf(a[2], sizeof(a[2]), "%llu", (unsigned long long)O.seed);
	char *argv[] = { "valgrind", "--tool=icount", "-q", self, "--kmem-worker",
		         "--result-fd", a[0], "--slots", a[1], "--seed", a[2], NULL };
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("VALGRIND_LIB", vg_tool_dir(), 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void kmem_run(void)
{
	static const size_t slots[3] = { 1000, 10000, 10000 };
	int st = 0;

	if (!km_wanted())
		return;
	km_ran = 1;
	memset(&km_res, 0, sizeof(km_res));
	if (!O.icount || !vg_tool_dir()) {
		km_res.status = 1;
		snprintf(km_res.note, sizeof(km_res.note), "instruction counts off (no icount tool)");
		return;
	}
	fprintf(stderr, "kmem: instruction counts under valgrind ...\n");
	if (worker_collect("rtheap-kmem", &km_res, sizeof(km_res), km_spawn, &slots[O.level],
	                   &st)) {
		memset(&km_res, 0, sizeof(km_res));
		km_res.status = 2;
		snprintf(km_res.note, sizeof(km_res.note), "worker failed, status %d", st);
	}
}

int kmem_failed(void)
{
	return km_ran && km_res.status == 2;
}

void kmem_table(FILE *f)
{
	if (!km_ran)
		return;
	fprintf(f, "\nkmem: instructions per call, exact (valgrind --tool=icount)\n");
	if (km_res.status) {
		fprintf(f, "  %s: %s\n", km_res.status == 1 ? "skipped" : "FAILED", km_res.note);
		return;
	}
	fprintf(f, "  %-28s %-5s %8s %6s %6s %6s %6s %8s\n", "call", "lock", "calls", "min",
	        "median", "p99", "max", "mean");
	for (int i = 0; i < km_res.nrows; i++) {
		const struct km_row *r = &km_res.rows[i];
		fprintf(f, "  %-28s %-5s %8zu %6u %6u %6u %6u %8.1f\n", r->call, r->lock, r->n,
		        r->min, r->med, r->p99, r->max, r->mean);
	}
}

void kmem_write(void)
{
	if (!km_ran || km_res.status)
		return;
	FILE *f = open_out("kmem.csv");
	if (!f)
		return;
	fprintf(f, "call,lock,calls,min,median,p99,max,mean\n");
	for (int i = 0; i < km_res.nrows; i++) {
		const struct km_row *r = &km_res.rows[i];
		fprintf(f, "%s,%s,%zu,%u,%u,%u,%u,%.2f\n", r->call, r->lock, r->n, r->min, r->med,
		        r->p99, r->max, r->mean);
	}
	fclose(f);
}
