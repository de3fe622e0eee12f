/* SPDX-License-Identifier: MIT */
/*
 * worker.c -- replay one case on one allocator (the --worker side).
 *
 * Each replay runs in a child forked from the worker, so that every replay
 * starts from the same fresh process state and a fresh heap.  The child
 * pins itself to one CPU, asks for SCHED_FIFO, makes the heap, runs the
 * trace once untimed (warm-up: every page the allocator will use is
 * faulted in, buffers and the result arrays are touched), locks its memory
 * with mlockall, then runs the trace again timing each operation; times go
 * to an array shared with the worker, which keeps for each operation the
 * minimum and the maximum over the replays.
 *
 * The instruction-count mode runs one counted pass in the worker itself,
 * under valgrind with the harness's "icount" tool, which returns the
 * number of guest instructions executed so far through a client request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rig.h"
#include "timer.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#include <valgrind/callgrind.h>
/* Request number answered by the icount tool (latency/vgtool). */
#define RIG_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t icount_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, RIG_ICOUNT_REQ, 0, 0, 0, 0, 0);
}
/* Record the distinct cache lines touched between these two calls. */
static const void *lines_excl_lo, *lines_excl_hi;
static inline void lines_begin(void)
{
	(void)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, RIG_ICOUNT_REQ + 1, lines_excl_lo,
	                                      lines_excl_hi, 0, 0, 0);
}
/* Lines touched outside the stack and outside the heap descriptor. */
static inline uint32_t lines_end(void)
{
	uint64_t v = (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, RIG_ICOUNT_REQ + 2, 0, 0,
	                                                      0, 0, 0);
	return (uint32_t)(v >> 32);
}
#endif

#define SKIP UINT32_MAX

static void *map_shared(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void *map_private(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* What a replay child reports back. */
struct child_report {
	int ok;
	int fifo, mlock, cpu;
	uint64_t failed;
	uint64_t minflt, nivcsw;   /* page faults, involuntary switches (timed pass) */
	double ns_per_op;
	char err[160];
};

static void rt_setup(const struct rig_case *c, struct child_report *rep)
{
	rep->cpu = -1;
	if (c->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(c->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == 0)
			rep->cpu = c->cpu;
	}
	if (c->rt_prio > 0) {
		struct sched_param sp;
		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = c->rt_prio;
		rep->fifo = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
	}
}

/* One untimed pass; leaves every block freed (traces end drained). */
static uint64_t pass_plain(const struct rig_alloc *A, void *ctx,
                           const struct rig_trace *t, void **ptr)
{
	uint64_t failed = 0;
	for (size_t i = 0; i < t->nops; i++) {
		uint32_t s = t->slot[i];
		if (t->size[i]) {
			void *p = A->alloc(ctx, t->size[i]);
			ptr[s] = p;
			if (p)
				*(volatile uint64_t *)p = i;
			else
				failed++;
		} else if (ptr[s]) {
			A->free(ctx, ptr[s]);
			ptr[s] = NULL;
		}
	}
	return failed;
}

static uint64_t pass_timed(const struct rig_alloc *A, void *ctx,
                           const struct rig_trace *t, void **ptr, uint32_t *cyc,
                           uint64_t ovh)
{
	uint64_t failed = 0;
	for (size_t i = 0; i < t->nops; i++) {
		uint32_t s = t->slot[i];
		uint64_t t0, t1, d;
		if (t->size[i]) {
			void *p;
			t0 = rig_ticks_begin();
			p = A->alloc(ctx, t->size[i]);
			t1 = rig_ticks_end();
			ptr[s] = p;
			if (p)
				*(volatile uint64_t *)p = i;
			else
				failed++;
		} else {
			void *p = ptr[s];
			if (!p) {
				cyc[i] = SKIP;
				continue;
			}
			t0 = rig_ticks_begin();
			A->free(ctx, p);
			t1 = rig_ticks_end();
			ptr[s] = NULL;
		}
		d = t1 - t0;
		d = d > ovh ? d - ovh : 0;
		cyc[i] = d >= SKIP ? SKIP - 1 : (uint32_t)d;
	}
	return failed;
}

/* May this process lock all its memory, now and in the future? */
static int lock_unlimited(void)
{
	struct rlimit rl;
	if (geteuid() == 0)
		return 1;
	return getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY;
}

static void touch(void *p, size_t bytes)
{
	memset(p, 0, bytes);
}

/*
 * Between the warm-up and the measured pass: a fresh heap over the same
 * memory, when the allocator can make one (rtheap, TLSF, o1heap), so that
 * the measured pass makes the warm-up's calls again and gets the same
 * addresses: it touches no page and no line the warm-up did not touch.
 * Measured on the drained heap instead, a heap of many extents handed
 * out runs in an order the warm-up never used (the order of its free
 * lists after the drain), so the measured pass touched a few pages for
 * the first time (see docs/latency.md, "extents").  The process
 * allocators have no reset: their measured pass runs on the drained heap.
 */
static int reset_heap(const struct rig_alloc *A, void *ctx, struct child_report *rep)
{
	/* RIG_NO_RESET=1 (diagnostics): measure on the drained heap */
	if (!A->reset || getenv("RIG_NO_RESET") || A->reset(ctx) == 0)
		return 0;
	snprintf(rep->err, sizeof(rep->err), "heap reset failed");
	return -1;
}

/* RIG_TOP=N: list the N slowest operations of a timed case (diagnostics);
 * the figures are computed afterwards from the same, unchanged, minima. */
static void list_slowest(const struct rig_alloc *A, const struct rig_trace *t,
                         uint32_t *minv, const uint32_t *maxv, const struct rig_timer *tm)
{
	int top = atoi(getenv("RIG_TOP")), nl = 0;
	size_t listed[64];
	uint32_t saved[64];
	if (top > 64)
		top = 64;
	for (int k = 0; k < top; k++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < t->nops; i++)
			if (minv[i] != SKIP && (best == SIZE_MAX || minv[i] > minv[best]))
				best = i;
		if (best == SIZE_MAX)
			break;
		fprintf(stderr, "top %s op %zu/%zu %s size %u slot %u: min %.0f ns max %.0f ns\n",
		        A->name, best, t->nops, t->size[best] ? "alloc" : "free",
		        t->size[best], t->slot[best], minv[best] / tm->ticks_per_ns,
		        maxv[best] / tm->ticks_per_ns);
		listed[nl] = best;
		saved[nl++] = minv[best];
		minv[best] = SKIP; /* for the next round */
	}
	while (nl--)
		minv[listed[nl]] = saved[nl];
}

/* Timed and throughput modes: K replays in forked children. */
static int run_replays(const struct rig_case *c, const struct rig_alloc *A,
                       const struct rig_trace *t, const struct rig_timer *tm,
                       struct rig_result *r)
{
	uint32_t *cyc = map_shared(t->nops * sizeof(uint32_t));
	uint32_t *minv = map_private(t->nops * sizeof(uint32_t));
	uint32_t *maxv = map_private(t->nops * sizeof(uint32_t));
	void **ptr = map_private(t->nslots * sizeof(void *));
	struct child_report *rep = map_shared(sizeof(*rep));
	double tput[64];
	unsigned k = c->replays ? c->replays : 1, nt = 0;

	if (!cyc || !minv || !maxv || !ptr || !rep)
		return -1;
	if (k > 64)
		k = 64;
	for (size_t i = 0; i < t->nops; i++) {
		minv[i] = SKIP;
		maxv[i] = 0;
	}
	for (unsigned rep_i = 0; rep_i < k; rep_i++) {
		pid_t pid;
		int st;
		memset(rep, 0, sizeof(*rep));
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			void *ctx;
			uint64_t failed;
			struct rusage ru0, ru1;
			rt_setup(c, rep);
			rig_tune_process(A->name, c->tune);
			ctx = A->init(c->heap_bytes, c->extents);
			if (!ctx) {
				snprintf(rep->err, sizeof(rep->err), "heap init failed");
				_exit(3);
			}
			/* lock first (mlockall walks every page and evicts the
			 * caches), then warm up, so that the timed pass starts
			 * from the state a long-running program is in */
			if (lock_unlimited())
				rep->mlock = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
			touch(cyc, t->nops * sizeof(uint32_t));
			touch(ptr, t->nslots * sizeof(void *));
			pass_plain(A, ctx, t, ptr);
			if (!lock_unlimited()) {
				/* a small RLIMIT_MEMLOCK: MCL_FUTURE would make the
				 * allocator's later mmap calls fail; lock what the
				 * warm-up mapped (if it fits) and warm up again */
				rep->mlock = mlockall(MCL_CURRENT) == 0;
				if (reset_heap(A, ctx, rep))
					_exit(3);
				pass_plain(A, ctx, t, ptr);
			}
			if (reset_heap(A, ctx, rep))
				_exit(3);
			getrusage(RUSAGE_SELF, &ru0);
			if (c->mode == MODE_TPUT) {
				uint64_t n0 = rig_now_ns();
				failed = pass_plain(A, ctx, t, ptr);
				rep->ns_per_op = (double)(rig_now_ns() - n0) / (double)t->nops;
			} else {
				failed = pass_timed(A, ctx, t, ptr, cyc, tm->overhead);
			}
			getrusage(RUSAGE_SELF, &ru1);
			rep->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt) +
			              (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
			rep->nivcsw = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
			rep->failed = failed;
			A->destroy(ctx);
			rep->ok = 1;
			_exit(0);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!rep->ok) {
			snprintf(r->note, sizeof(r->note), "replay %u: %s (status 0x%x)",
			         rep_i, rep->err[0] ? rep->err : "child died", st);
			return -1;
		}
		r->rt_fifo = rep->fifo;
		r->rt_mlock = rep->mlock;
		r->rt_cpu = rep->cpu;
		r->failed = rep->failed;
		if (rep->minflt > r->timed_minflt)
			r->timed_minflt = rep->minflt;
		if (rep->nivcsw > r->timed_nivcsw)
			r->timed_nivcsw = rep->nivcsw;
		if (c->mode == MODE_TPUT) {
			tput[nt++] = rep->ns_per_op;
			continue;
		}
		for (size_t i = 0; i < t->nops; i++) {
			uint32_t v = cyc[i];
			if (v == SKIP)
				continue;
			if (v < minv[i])
				minv[i] = v;
			if (v > maxv[i])
				maxv[i] = v;
		}
	}
	if (c->mode == MODE_TPUT) {
		for (unsigned i = 0; i < nt; i++)
			for (unsigned j = i + 1; j < nt; j++)
				if (tput[j] < tput[i]) {
					double x = tput[i];
					tput[i] = tput[j];
					tput[j] = x;
				}
		r->ns_per_op = tput[0];
		r->ns_per_op_median = tput[nt / 2];
	} else {
		if (getenv("RIG_TOP"))
			list_slowest(A, t, minv, maxv, tm);
		/* split into alloc and free arrays (reuse cyc as scratch) */
		uint32_t *am = cyc, *ar = map_private(t->nops * sizeof(uint32_t));
		uint32_t *fm = map_private(t->nops * sizeof(uint32_t));
		uint32_t *fr = map_private(t->nops * sizeof(uint32_t));
		size_t na = 0, nf = 0;
		if (!ar || !fm || !fr)
			return -1;
		for (size_t i = 0; i < t->nops; i++) {
			if (minv[i] == SKIP)
				continue;
			if (t->size[i]) {
				am[na] = minv[i];
				ar[na++] = maxv[i];
			} else {
				fm[nf] = minv[i];
				fr[nf++] = maxv[i];
			}
		}
		rig_stats_from(&r->a, am, na, 1.0 / tm->ticks_per_ns, ar);
		rig_stats_from(&r->f, fm, nf, 1.0 / tm->ticks_per_ns, fr);
		munmap(ar, t->nops * sizeof(uint32_t));
		munmap(fm, t->nops * sizeof(uint32_t));
		munmap(fr, t->nops * sizeof(uint32_t));
	}
	munmap(cyc, t->nops * sizeof(uint32_t));
	munmap(minv, t->nops * sizeof(uint32_t));
	munmap(maxv, t->nops * sizeof(uint32_t));
	munmap(ptr, t->nslots * sizeof(void *));
	munmap(rep, sizeof(*rep));
	return 0;
}

#ifdef RIG_HAVE_VALGRIND_H
static void *null_alloc(void *ctx, size_t size)
{
	(void)ctx;
	(void)size;
	return NULL;
}

static void null_free(void *ctx, void *p)
{
	(void)ctx;
	(void)p;
}

/* The counted pass: same shape as pass_timed, instruction counts instead. */
static uint64_t pass_counted(const struct rig_alloc *A, void *ctx,
                             const struct rig_trace *t, void **ptr,
                             uint32_t *cnt, uint32_t *lin, uint64_t ovh_a,
                             uint64_t ovh_f, int callgrind)
{
	uint64_t failed = 0;
	/* RIG_CG_OP=i: profile only operation i under callgrind */
	const char *only_s = getenv("RIG_CG_OP");
	size_t only = only_s ? (size_t)strtoull(only_s, NULL, 0) : SIZE_MAX;
	int cg_all = callgrind;
	for (size_t i = 0; i < t->nops; i++) {
		uint32_t s = t->slot[i];
		uint64_t c0, c1, d, ovh;
		callgrind = cg_all && (only == SIZE_MAX || only == i);
		if (t->size[i]) {
			void *p;
			if (callgrind)
				CALLGRIND_TOGGLE_COLLECT;
			lines_begin();
			c0 = icount_now();
			p = A->alloc(ctx, t->size[i]);
			c1 = icount_now();
			if (lin)
				lin[i] = lines_end();
			if (callgrind)
				CALLGRIND_TOGGLE_COLLECT;
			ptr[s] = p;
			if (p)
				*(volatile uint64_t *)p = i;
			else
				failed++;
			ovh = ovh_a;
		} else {
			void *p = ptr[s];
			if (!p) {
				cnt[i] = SKIP;
				continue;
			}
			if (callgrind)
				CALLGRIND_TOGGLE_COLLECT;
			lines_begin();
			c0 = icount_now();
			A->free(ctx, p);
			c1 = icount_now();
			if (lin)
				lin[i] = lines_end();
			if (callgrind)
				CALLGRIND_TOGGLE_COLLECT;
			ptr[s] = NULL;
			ovh = ovh_f;
		}
		d = c1 - c0;
		d = d > ovh ? d - ovh : 0;
		cnt[i] = d >= SKIP ? SKIP - 1 : (uint32_t)d;
	}
	return failed;
}

static int run_icount(const struct rig_case *c, const struct rig_alloc *A,
                      const struct rig_trace *t, struct rig_result *r)
{
	/* static, like the real vtable and trace (the stack is not counted) */
	static struct rig_alloc nul;
	static uint32_t slots[64], sizes[64], tmp[64], tlin[64];
	uint32_t lin_ovh_a = SKIP, lin_ovh_f = SKIP;
	uint32_t *cnt = map_private(t->nops * sizeof(uint32_t));
	uint32_t *lin = map_private(t->nops * sizeof(uint32_t));
	uint32_t *am = map_private(t->nops * sizeof(uint32_t));
	uint32_t *fm = map_private(t->nops * sizeof(uint32_t));
	void **ptr = map_private(t->nslots * sizeof(void *));
	uint64_t ovh_a = UINT64_MAX, ovh_f = UINT64_MAX, c0;
	size_t na = 0, nf = 0;
	void *ctx;
	int callgrind = getenv("RIG_CALLGRIND") != NULL;

	if (!cnt || !lin || !am || !fm || !ptr)
		return -1;
	if (!RUNNING_ON_VALGRIND) {
		snprintf(r->note, sizeof(r->note), "not running under valgrind --tool=icount");
		r->status = 1;
		return 0;
	}
	c0 = icount_now();
	if (icount_now() == c0 && !callgrind) {
		snprintf(r->note, sizeof(r->note), "valgrind tool is not icount (counter does not move)");
		r->status = 1;
		return 0;
	}
	/* Overhead of the bracket: the same loop on an allocator that does
	 * nothing (its own 1-2 instructions are subtracted as well). */
	nul = *A;
	nul.alloc = null_alloc;
	nul.free = null_free;
	{
		struct rig_trace small = *t;
		void *pp[64];
		for (int i = 0; i < 64; i++) {
			slots[i] = (uint32_t)(i / 2);
			sizes[i] = (i % 2) ? 0 : 16;
			pp[i] = NULL;
		}
		small.slot = slots;
		small.size = sizes;
		small.nops = 64;
		for (int rep = 0; rep < 3; rep++) {
			/* allocs return NULL: frees are skipped; measure allocs */
			pass_counted(&nul, NULL, &small, pp, tmp, tlin, 0, 0, 0);
			for (int i = 0; i < 64; i += 2) {
				if (tmp[i] < ovh_a)
					ovh_a = tmp[i];
				if (tlin[i] < lin_ovh_a)
					lin_ovh_a = tlin[i];
			}
		}
		/* frees: make every alloc "succeed" with a dummy pointer */
		for (int rep = 0; rep < 3; rep++) {
			for (int i = 0; i < 64; i++) {
				sizes[i] = 0;
				pp[i] = &pp[i];
				slots[i] = (uint32_t)i;
			}
			pass_counted(&nul, NULL, &small, pp, tmp, tlin, 0, 0, 0);
			for (int i = 0; i < 64; i++) {
				if (tmp[i] < ovh_f)
					ovh_f = tmp[i];
				if (tlin[i] < lin_ovh_f)
					lin_ovh_f = tlin[i];
			}
		}
	}
	ctx = A->init(c->heap_bytes, c->extents);
	if (!ctx) {
		snprintf(r->note, sizeof(r->note), "heap init failed");
		return -1;
	}
	rig_tune_process(A->name, c->tune);
	if (A->desc_size) {
		/* rtheap: the descriptor is hot in any program using the heap;
		 * count the lines of the extents (and anything else) only */
		lines_excl_lo = ctx;
		lines_excl_hi = (const char *)ctx + A->desc_size;
	}
	pass_plain(A, ctx, t, ptr);
	if (A->reset && !getenv("RIG_NO_RESET") && A->reset(ctx)) { /* as timed */
		snprintf(r->note, sizeof(r->note), "heap reset failed");
		return -1;
	}
	r->failed = pass_counted(A, ctx, t, ptr, cnt, lin, ovh_a, ovh_f, callgrind);
	A->destroy(ctx);
	if (getenv("RIG_TOP")) {
		/* RIG_TOP=N: list the N most expensive operations (diagnostics);
		 * am is scratch here */
		int top = atoi(getenv("RIG_TOP"));
		memcpy(am, cnt, t->nops * sizeof(uint32_t));
		for (int k = 0; k < top; k++) {
			size_t best = SIZE_MAX;
			for (size_t i = 0; i < t->nops; i++)
				if (am[i] != SKIP && (best == SIZE_MAX || am[i] > am[best]))
					best = i;
			if (best == SIZE_MAX)
				break;
			fprintf(stderr, "top-icount %s op %zu/%zu %s size %u slot %u: %u instructions\n",
			        A->name, best, t->nops, t->size[best] ? "alloc" : "free",
			        t->size[best], t->slot[best], am[best]);
			am[best] = SKIP;
		}
	}
	for (size_t i = 0; i < t->nops; i++) {
		if (cnt[i] == SKIP)
			continue;
		if (t->size[i])
			am[na++] = cnt[i];
		else
			fm[nf++] = cnt[i];
	}
	rig_stats_from(&r->a, am, na, 1.0, NULL);
	rig_stats_from(&r->f, fm, nf, 1.0, NULL);
	na = nf = 0;
	for (size_t i = 0; i < t->nops; i++) {
		if (cnt[i] == SKIP)
			continue;
		/* minus the lines of the bracket itself (vtable, trace) */
		if (t->size[i])
			am[na++] = lin[i] > lin_ovh_a ? lin[i] - lin_ovh_a : 0;
		else
			fm[nf++] = lin[i] > lin_ovh_f ? lin[i] - lin_ovh_f : 0;
	}
	rig_stats_from(&r->la, am, na, 1.0, NULL);
	rig_stats_from(&r->lf, fm, nf, 1.0, NULL);
	r->overhead_ns = (double)ovh_a; /* bracket cost, in instructions */
	return 0;
}
#endif

/* Fill test: random sizes into a fixed 16 MiB buffer until the first failure. */
static int run_fill(const struct rig_case *c, const struct rig_alloc *A,
                    struct rig_result *r)
{
	const size_t buf_size = c->heap_bytes;
	unsigned k = c->replays ? c->replays : 1;
	double sum = 0, sumr = 0, sumb = 0, mn = 1e9, mx = 0;

	if (!A->init_fixed) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "n/a: no way to confine %s to a caller buffer", A->name);
		return 0;
	}
	for (unsigned rep = 0; rep < k; rep++) {
		struct rig_rng rng;
		/* 2 MiB alignment: mimalloc arenas need segment-aligned memory */
		size_t align = 2u << 20;
		char *raw = mmap(NULL, buf_size + align, PROT_READ | PROT_WRITE,
		                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		char *buf;
		void *ctx;
		uint64_t req = 0, rnd = 0, blocks = 0;
		void *(*alloc)(void *, size_t);
		if (raw == MAP_FAILED)
			return -1;
		buf = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
		ctx = A->init_fixed(buf, buf_size);
		if (!ctx) {
			munmap(raw, buf_size + align);
			r->status = 1;
			snprintf(r->note, sizeof(r->note), "n/a: %s refused the fixed buffer", A->name);
			return 0;
		}
		alloc = A->alloc_fixed ? A->alloc_fixed : A->alloc;
		rig_rng_seed(&rng, c->seed + rep * 7777u);
		for (;;) {
			size_t sz = c->fill_dist ? rig_rng_log(&rng, 16, 65536)
			                         : rig_rng_range(&rng, 16, 4096);
			void *p = alloc(ctx, sz);
			if (!p)
				break;
			if ((char *)p < buf || (char *)p + sz > buf + buf_size) {
				r->status = 1;
				snprintf(r->note, sizeof(r->note),
				         "n/a: %s returned memory outside the buffer", A->name);
				return 0;
			}
			req += sz;
			rnd += A->usable ? A->usable(ctx, p) : sz;
			blocks++;
		}
		if (blocks == 0) {
			r->status = 1;
			snprintf(r->note, sizeof(r->note), "n/a: %s allocated nothing from a %zu MiB buffer",
			         A->name, buf_size >> 20);
			return 0;
		}
		{
			double pct = 100.0 * (double)req / (double)buf_size;
			sum += pct;
			sumr += 100.0 * (double)rnd / (double)buf_size;
			sumb += (double)blocks;
			if (pct < mn)
				mn = pct;
			if (pct > mx)
				mx = pct;
		}
		if (A->destroy_fixed)
			A->destroy_fixed(ctx);
		if (!A->peer)
			munmap(raw, buf_size + align); /* peers may still map it */
	}
	r->fill_pct_min = mn;
	r->fill_pct_max = mx;
	r->fill_pct_avg = sum / k;
	r->fill_round_avg = A->usable ? sumr / k : -1; /* -1: unknown */
	r->fill_blocks_avg = sumb / k;
	return 0;
}

/*
 * Holes workloads: the A/B pairs a fresh heap of this allocator holds
 * before the first failure (at most what the buffer could hold with no
 * overhead at all).  The trace fills 15/16 of that, "nearly full" for
 * every allocator whatever its rounding and overhead.
 */
static size_t holes_capacity(const struct rig_case *c, const struct rig_alloc *A,
                             uint32_t a, uint32_t b)
{
	const size_t cap = rig_buffer_size(c->heap_bytes) / (a + b) + 1;
	size_t n = 0;
	void *ctx = A->init(c->heap_bytes, c->extents);
	if (!ctx)
		return 0;
	while (n < cap && A->alloc(ctx, b) && A->alloc(ctx, a))
		n++;
	A->destroy(ctx); /* live blocks abandoned with the heap */
	return n;
}

static int make_trace(const struct rig_case *c, const struct rig_alloc *A,
                      struct rig_trace *t, struct rig_result *r)
{
	uint32_t a, b;
	int rc;
	if (rig_holes_sizes(c->wl, &a, &b)) {
		size_t n = holes_capacity(c, A, a, b);
		if (n < 16) {
			r->status = 2;
			snprintf(r->note, sizeof(r->note), "holes: the heap holds %zu A/B pairs", n);
			return -1;
		}
		r->holes_pairs = n - n / 16;
		rc = rig_trace_make_holes(t, c->wl, c->heap_bytes, c->churn, c->seed,
		                          r->holes_pairs);
	} else {
		rc = rig_trace_make(t, c->wl, c->heap_bytes, c->churn, c->seed);
	}
	if (rc) {
		r->status = 2;
		snprintf(r->note, sizeof(r->note), "trace generation failed");
	}
	return rc;
}

/* The timer's calibration, into the result. */
static void timer_setup(const struct rig_case *c, struct rig_timer *tm, struct rig_result *r)
{
	rig_timer_calibrate(tm, c->force_clock || c->mode == MODE_ICOUNT);
	r->ticks_per_ns = tm->ticks_per_ns;
	r->overhead_ns = (double)tm->overhead / tm->ticks_per_ns;
	r->timer_tsc = tm->tsc;
	snprintf(r->timer_why, sizeof(r->timer_why), "%s", tm->why);
}

int rig_replay_trace(const struct rig_case *c, const struct rig_alloc *A,
                     const struct rig_trace *t, struct rig_result *r)
{
	struct rig_timer tm;
	int rc;
	timer_setup(c, &tm, r);
	r->nops = t->nops;
	r->peak_live = t->peak_live;
	if (c->mode == MODE_ICOUNT) {
#ifdef RIG_HAVE_VALGRIND_H
		rc = run_icount(c, A, t, r);
#else
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "built without valgrind/valgrind.h");
		rc = 0;
#endif
	} else {
		rc = run_replays(c, A, t, &tm, r);
	}
	if (rc)
		r->status = 2;
	return rc;
}

int rig_worker_main(const struct rig_case *c, struct rig_result *r)
{
	const struct rig_alloc *A = rig_find_alloc(c->alloc);
	struct rig_timer tm;
	struct rig_trace t;
	char why[200] = "";
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->rt_cpu = -1;
	if (!A) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "%s: not built in", c->alloc);
		return 0;
	}
	if (A->load(why, sizeof(why))) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "%s: %s", c->alloc, why);
		return 0;
	}
	if (c->mode == MODE_FILL) {
		timer_setup(c, &tm, r);
		rc = run_fill(c, A, r);
		if (rc)
			r->status = 2;
		return rc;
	}
	if (make_trace(c, A, &t, r))
		return -1;
	rc = rig_replay_trace(c, A, &t, r);
	rig_trace_free(&t);
	return rc;
}
