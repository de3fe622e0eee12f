/* SPDX-License-Identifier: MIT */
/*
 * scaling.c -- the scaling benchmark (group "scaling", run by --full or
 * --only scaling).
 *
 * For each allocator and each thread count of --threads (default 1, 2, 4
 * and the powers of two up to twice the CPUs), one worker process (this
 * executable with --scaling-worker; a peer's library in LD_PRELOAD, as in
 * the other groups) runs N threads at once:
 *  - trace "random": each thread replays its own small random trace
 *    (uniform 16 B .. 4 KiB, about half of its share live; seed --seed + i
 *    for thread i);
 *  - trace "pc" (producer-consumer, N >= 2): N/2 producers allocate
 *    messages (the allocation sizes of their small trace) and pass them
 *    through a bounded single-producer single-consumer ring each to their
 *    consumer, which releases them: every release is remote.
 * Each of the K replays (--replays) is a forked child with a fresh heap and
 * fresh threads (as in worker.c); each thread runs its part once untimed
 * (warm-up), once untimed as a whole (throughput: all the operations of
 * all threads over the wall time from the first thread's start to the last
 * one's end; best and median of the K replays), then once timing every
 * operation: per operation the minimum over the K replays is kept (in
 * shared memory) and the worst case is the max of these minima (the method
 * of the other groups), p99.9 over the same minima.  Threads are pinned round-robin
 * when there are several CPUs; SCHED_FIFO is asked for only when the
 * threads do not outnumber the CPUs (a spinning thread could otherwise
 * hold a CPU from the one holding the lock).
 * rtheap is one heap shared by all threads (PI mutex, spin lock, and per-
 * thread caches of rtheap/tcache.h over a PI-mutex heap, and over a spin-
 * lock heap, when liburcu is there).  A third worker, under valgrind --tool=icount, counts the
 * instructions of the per-thread cache's calls, single-threaded.
 * Output: a table on stdout, scaling.csv, a section of results.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "timer.h"
#include "rtheap/config.h"
#include "rtheap/rtheap.h"

#if RTHEAP_HAVE_URCU && defined(__has_include)
#if __has_include("rtheap/tcache.h")
#include "rtheap/tcache.h"
#define SC_HAVE_TC 1
#endif
#endif
#ifndef SC_HAVE_TC
#define SC_HAVE_TC 0
#endif

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define SC_MAX_THREADS 256
#define SC_MAX_COUNTS 12
#define SC_MAX_ROWS 256
#define SC_RING 1024u              /* slots of a producer-consumer ring */
#define SC_SKIP UINT32_MAX
#define SC_IC_ROWS 12
#define SC_TC_MAX 4096u            /* rtheap-tc: max_size (batch, depot: defaults) */

enum sc_kind { SK_PI, SK_SPIN, SK_TC, SK_SYS };
enum sc_trace { ST_RANDOM = 0, ST_PC = 1 };

static const char *const sc_allocs[] = { "rtheap-pi", "rtheap-spin", "rtheap-tc",
	                                 "rtheap-tc64", "rtheap-tc-spin", "glibc", "jemalloc", "mimalloc",
	                                 "tcmalloc", NULL };

struct sc_stat {
	uint64_t n;
	double p50, p999, max;     /* ns, over the per-op minima */
};

/* One allocator x thread count x trace: what a worker hands back. */
struct sc_row {
	char alloc[16];
	int trace;
	unsigned threads, ncpu, replays;
	int status;                /* 0 ok, 1 skipped, 2 failed */
	char note[160];
	int pinned, fifo, mlock;   /* pinning / SCHED_FIFO / mlockall obtained */
	uint64_t ops, failed;
	double ops_s_best, ops_s_median;
	struct sc_stat a, f;
};

struct sc_icrow {
	char call[48];
	uint32_t n, min, med, max;
};

struct sc_icount {
	int status;
	char note[160];
	unsigned nrows;
	struct sc_icrow rows[SC_IC_ROWS];
};

static unsigned sc_counts[SC_MAX_COUNTS], sc_ncounts;
static struct sc_row *sc_rows;
static unsigned sc_nrows;
static struct sc_icount sc_ic;
static int sc_ran;

/* ------------------------------------------------------------------ */
/* Option --threads                                                    */
/* ------------------------------------------------------------------ */

int scaling_option(const char *a, const char *v, int *i)
{
	char buf[128], *save = NULL, *tok;
	if (strcmp(a, "--threads") || !v)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	sc_ncounts = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long n = strtol(tok, NULL, 10);
		if (n < 1 || n > SC_MAX_THREADS || sc_ncounts == SC_MAX_COUNTS) {
			fprintf(stderr, "rtheap-latency: --threads: up to %d counts in 1..%d\n",
			        SC_MAX_COUNTS, SC_MAX_THREADS);
			exit(2);
		}
		sc_counts[sc_ncounts++] = (unsigned)n;
	}
	(*i)++;
	return 1;
}

/* 1, 2, 4, then powers of two up to twice the CPUs. */
static void sc_default_counts(unsigned ncpu)
{
	sc_ncounts = 0;
	for (unsigned n = 1; n <= 4 || n <= 2 * ncpu; n *= 2)
		if (sc_ncounts < SC_MAX_COUNTS && n <= SC_MAX_THREADS)
			sc_counts[sc_ncounts++] = n;
}

/* ------------------------------------------------------------------ */
/* Worker side: one run of N threads                                   */
/* ------------------------------------------------------------------ */

/* Bounded single-producer single-consumer ring of messages. */
struct sc_ring {
	_Alignas(64) _Atomic size_t head;  /* written by the consumer */
	_Alignas(64) _Atomic size_t tail;  /* written by the producer */
	_Alignas(64) void *slot[SC_RING];
};

struct sc_run;

struct sc_thread {
	pthread_t tid;
	unsigned idx;
	struct sc_run *run;
	struct rig_trace t;
	void **ptr;
	uint32_t *minv;            /* per-op minimum (ticks) over the replays */
	void *ctx;                 /* per-thread context: cache, mi_heap ... */
	struct sc_ring *ring;      /* producer-consumer: this pair's ring */
	int producer, consumer;
	uint64_t *t0, *t1;         /* per replay: start and end of its pass */
	uint64_t failed;
	int pinned, fifo;
};

struct sc_run {
	const struct rig_alloc *A;
	enum sc_kind kind;
	int trace;
	rtheap_t *heap;
	unsigned n, k, ncpu;
	pthread_barrier_t bar;
	struct rig_timer tm;
	struct sc_thread *th;
	int rt_prio;
	void *tc;                  /* rtheap-tc: the cache set of the heap */
	unsigned cur;              /* the replay this child runs */
	int spin;                  /* rtheap-tc-spin: the caches over a spin-lock heap */
	unsigned batch;            /* rtheap-tc64: batch 64 (0: the default, 16) */
	size_t heap_bytes;         /* rtheap-*: the shared heap's usable bytes */
};

static void *sc_map(size_t bytes)
{
	/* shared: the replay children write the minima, times and flags */
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void *sc_alloc(struct sc_thread *th, size_t size)
{
	switch (th->run->kind) {
#if SC_HAVE_TC
	case SK_TC: return rttcache_alloc(th->ctx, size);
#endif
	case SK_SYS: return th->run->A->alloc(th->ctx, size);
	default: return rtheap_alloc(th->run->heap, size);
	}
}

static void sc_free(struct sc_thread *th, void *p)
{
	switch (th->run->kind) {
#if SC_HAVE_TC
	case SK_TC: (void)rttcache_free(th->ctx, p); break;
#endif
	case SK_SYS: th->run->A->free(th->ctx, p); break;
	default: (void)rtheap_free(th->run->heap, p); break;
	}
}

/* Pin thread i round-robin (when there are several CPUs); SCHED_FIFO when
 * the threads do not outnumber the CPUs; the per-thread context. */
static void sc_thread_setup(struct sc_thread *th)
{
	struct sc_run *r = th->run;
	if (r->ncpu > 1) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(th->idx % r->ncpu, &set);
		th->pinned = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
	}
	if (r->rt_prio > 0 && r->n <= r->ncpu) {
		struct sched_param sp;
		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = r->rt_prio;
		th->fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	}
	if (r->kind == SK_SYS)
		th->ctx = r->A->init(0, 1);      /* mimalloc: this thread's heap */
#if SC_HAVE_TC
	else if (r->kind == SK_TC && !rttcache_thread_init(r->tc))
		th->ctx = r->tc;                 /* this thread's state, made now */
#endif
}

/* Random trace: one pass, untimed (cyc NULL) or timing each operation into
 * the per-op minima. */
static void sc_pass_random(struct sc_thread *th, int timed)
{
	const struct rig_trace *t = &th->t;
	const uint64_t ovh = th->run->tm.overhead;
	for (size_t i = 0; i < t->nops; i++) {
		uint32_t s = t->slot[i];
		uint64_t a = 0, b = 0, d;
		if (t->size[i]) {
			a = timed ? rig_ticks_begin() : 0;
			void *p = sc_alloc(th, t->size[i]);
			b = timed ? rig_ticks_end() : 0;
			if (p)
				*(volatile uint64_t *)p = i;
			else
				th->failed++;
			th->ptr[s] = p;
		} else {
			if (!th->ptr[s])
				continue;
			a = timed ? rig_ticks_begin() : 0;
			sc_free(th, th->ptr[s]);
			b = timed ? rig_ticks_end() : 0;
			th->ptr[s] = NULL;
		}
		d = b - a > ovh ? b - a - ovh : 0;
		if (timed && d < th->minv[i])
			th->minv[i] = d >= SC_SKIP ? SC_SKIP - 1 : (uint32_t)d;
	}
}

/* Producer: the allocation sizes of its trace, one message each, into the
 * ring (waiting, yielding, while it is full); minima indexed by message. */
static void sc_pass_producer(struct sc_thread *th, int timed)
{
	const struct rig_trace *t = &th->t;
	struct sc_ring *rg = th->ring;
	size_t m = 0, tail = atomic_load_explicit(&rg->tail, memory_order_relaxed);
	for (size_t i = 0; i < t->nops; i++) {
		if (!t->size[i])
			continue;
		uint64_t a = timed ? rig_ticks_begin() : 0;
		void *p = sc_alloc(th, t->size[i]);
		uint64_t b = timed ? rig_ticks_end() : 0, d;
		d = b - a > th->run->tm.overhead ? b - a - th->run->tm.overhead : 0;
		if (timed && d < th->minv[m])
			th->minv[m] = d >= SC_SKIP ? SC_SKIP - 1 : (uint32_t)d;
		m++;
		if (p)
			*(volatile uint64_t *)p = i;
		else
			th->failed++;
		while (tail - atomic_load_explicit(&rg->head, memory_order_acquire) >= SC_RING)
			sched_yield();
		rg->slot[tail % SC_RING] = p;
		atomic_store_explicit(&rg->tail, ++tail, memory_order_release);
	}
}

/* Consumer: releases the t.nalloc messages of its producer. */
static void sc_pass_consumer(struct sc_thread *th, int timed)
{
	struct sc_ring *rg = th->ring;
	size_t head = atomic_load_explicit(&rg->head, memory_order_relaxed);
	for (size_t m = 0; m < th->t.nalloc; m++) {
		while (atomic_load_explicit(&rg->tail, memory_order_acquire) == head)
			sched_yield();
		void *p = rg->slot[head % SC_RING];
		atomic_store_explicit(&rg->head, ++head, memory_order_release);
		if (!p)
			continue;
		uint64_t a = timed ? rig_ticks_begin() : 0;
		sc_free(th, p);
		uint64_t b = timed ? rig_ticks_end() : 0, d;
		d = b - a > th->run->tm.overhead ? b - a - th->run->tm.overhead : 0;
		if (timed && d < th->minv[m])
			th->minv[m] = d >= SC_SKIP ? SC_SKIP - 1 : (uint32_t)d;
	}
}

static void sc_pass(struct sc_thread *th, int timed)
{
	if (th->producer)
		sc_pass_producer(th, timed);
	else if (th->consumer)
		sc_pass_consumer(th, timed);
	else
		sc_pass_random(th, timed);
}

static void *sc_thread_main(void *arg)
{
	struct sc_thread *th = arg;
	struct sc_run *r = th->run;
	memset(th->ptr, 0, th->t.nslots * sizeof(void *));
	sc_thread_setup(th);
	pthread_barrier_wait(&r->bar);
	sc_pass(th, 0);                      /* warm-up */
	pthread_barrier_wait(&r->bar);
	th->t0[r->cur] = rig_now_ns();
	sc_pass(th, 0);                      /* throughput */
	th->t1[r->cur] = rig_now_ns();
	pthread_barrier_wait(&r->bar);
	sc_pass(th, 1);                      /* each operation timed */
	return NULL;
}

/* Thread i's trace and arrays; 0 or -1. */
static int sc_thread_init(struct sc_run *r, unsigned i, size_t heap, size_t churn,
                          uint64_t seed, struct sc_ring *rings)
{
	struct sc_thread *th = &r->th[i];
	unsigned pair = i / 2;
	th->idx = i;
	th->run = r;
	if (r->trace == ST_PC) {
		th->producer = !(i & 1);
		th->consumer = i & 1;
		th->ring = &rings[pair];
		seed += pair;                    /* both ends know the same trace */
	} else {
		seed += i;
	}
	if (rig_trace_make(&th->t, WL_SMALL, heap, churn, seed))
		return -1;
	th->ptr = sc_map(th->t.nslots * sizeof(void *));
	th->minv = sc_map(th->t.nops * sizeof(uint32_t));
	th->t0 = sc_map(r->k * sizeof(uint64_t));
	th->t1 = sc_map(r->k * sizeof(uint64_t));
	if (!th->ptr || !th->minv || !th->t0 || !th->t1)
		return -1;
	for (size_t j = 0; j < th->t.nops; j++)
		th->minv[j] = SC_SKIP;
	return 0;
}

/* The heap shared by the threads of the rtheap allocators. */
static int sc_heap_new(struct sc_run *r, size_t bytes)
{
	struct rtheap_config cfg;
	const size_t len = rig_buffer_size(bytes);
	void *buf = rig_map_buffer(len);
	r->heap = calloc(1, sizeof(*r->heap));
	if (!buf || !r->heap)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = r->kind == SK_SPIN || r->spin ? RTHEAP_LOCK_SPIN : RTHEAP_LOCK_PI_MUTEX;
	cfg.name = "latency-scaling";
	if (rtheap_init(r->heap, buf, len, &cfg))
		return -1;
#if SC_HAVE_TC
	if (r->kind == SK_TC) {
		struct rttcache_config tcfg;
		memset(&tcfg, 0, sizeof(tcfg));
		tcfg.max_size = SC_TC_MAX;       /* the trace's largest request */
		tcfg.batch = r->batch;
		r->tc = rttcache_create(r->heap, &tcfg);
		return r->tc ? 0 : -1;
	}
#endif
	return 0;
}

static int sc_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Throughput of each replay (all operations over the wall time from the
 * first start to the last end): best and median into the row. */
static void sc_tput(struct sc_run *r, struct sc_row *row)
{
	double v[64];
	row->ops = 0;
	for (unsigned i = 0; i < r->n; i++) {
		const struct sc_thread *th = &r->th[i];
		row->ops += th->producer || th->consumer ? th->t.nalloc : th->t.nops;
	}
	for (unsigned k = 0; k < r->k; k++) {
		uint64_t t0 = UINT64_MAX, t1 = 0;
		for (unsigned i = 0; i < r->n; i++) {
			t0 = r->th[i].t0[k] < t0 ? r->th[i].t0[k] : t0;
			t1 = r->th[i].t1[k] > t1 ? r->th[i].t1[k] : t1;
		}
		v[k] = (double)row->ops / ((double)(t1 - t0) / 1e9);
	}
	qsort(v, r->k, sizeof(v[0]), sc_cmp_d);
	row->ops_s_best = v[r->k - 1];
	row->ops_s_median = v[r->k / 2];
}

/* The per-op minima of every thread, alloc (want 1) or free (0). */
static void sc_stat_of(struct sc_run *r, int want, struct sc_stat *out)
{
	size_t n = 0, cap = 0;
	uint32_t *v;
	struct rig_opstats *s = calloc(1, sizeof(*s));
	for (unsigned i = 0; i < r->n; i++)
		cap += r->th[i].t.nops;
	v = malloc((cap ? cap : 1) * sizeof(*v));
	if (!v || !s)
		return;
	for (unsigned i = 0; i < r->n; i++) {
		const struct sc_thread *th = &r->th[i];
		for (size_t j = 0; j < th->t.nops; j++) {
			int is_alloc = th->producer ? 1 : th->consumer ? 0 : th->t.size[j] != 0;
			if (th->minv[j] != SC_SKIP && is_alloc == want)
				v[n++] = th->minv[j];
		}
	}
	rig_stats_from(s, v, n, 1.0 / r->tm.ticks_per_ns, NULL);
	out->n = s->count;
	out->p50 = s->p50;
	out->p999 = s->p999;
	out->max = s->max;
	free(v);
	free(s);
}

static enum sc_kind sc_kind_of(const char *name)
{
	return !strcmp(name, "rtheap-pi") ? SK_PI : !strcmp(name, "rtheap-spin") ? SK_SPIN
	     : !strncmp(name, "rtheap-tc", 9) ? SK_TC : SK_SYS;
}

/* The allocator of @p row in this process: 0, or 1 (skipped, said in the
 * row's note). */
static int sc_load(struct sc_run *r, struct sc_row *row, int tune)
{
	char why[200] = "";
	r->kind = sc_kind_of(row->alloc);
	r->spin = !strcmp(row->alloc, "rtheap-tc-spin");
	r->batch = !strcmp(row->alloc, "rtheap-tc64") ? 64u : 0u;
	if (r->kind == SK_TC && !SC_HAVE_TC) {
		snprintf(row->note, sizeof(row->note),
		         "built without per-thread caches (liburcu or rtheap/tcache.h missing)");
		return 1;
	}
	if (r->kind != SK_SYS)
		return 0;
	rig_tune_process(row->alloc, tune);
	r->A = rig_find_alloc(row->alloc);
	if (!r->A)
		snprintf(row->note, sizeof(row->note), "%s: not built in", row->alloc);
	else if (r->A->load(why, sizeof(why)))
		snprintf(row->note, sizeof(row->note), "%s: %s", row->alloc, why);
	else
		return 0;
	return 1;
}

/* One replay, in a child: a fresh heap (rtheap-*), mlockall, the threads
 * (warm-up, throughput pass, timed pass); 0 or -1. */
static int sc_replay(struct sc_run *r, struct sc_row *row)
{
	unsigned started = 0;
	if (r->kind != SK_SYS && sc_heap_new(r, r->heap_bytes))
		return -1;
	row->mlock &= mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	if (pthread_barrier_init(&r->bar, NULL, r->n))
		return -1;
	for (; started < r->n; started++)
		if (pthread_create(&r->th[started].tid, NULL, sc_thread_main, &r->th[started]))
			break;
	if (started < r->n) {
		snprintf(row->note, sizeof(row->note), "only %u threads started", started);
		_exit(4);                        /* the others wait at the barrier */
	}
	for (unsigned i = 0; i < r->n; i++) {
		pthread_join(r->th[i].tid, NULL);
		if (r->kind == SK_TC && !r->th[i].ctx)
			return -1;
		row->pinned &= r->th[i].pinned;
		row->fifo &= r->th[i].fifo;
	}
	return 0;
}

/* K replays, each in a forked child from the same traces (the minima, the
 * times and the flags are in shared memory), then the figures. */
static int sc_go(struct sc_run *r, struct sc_row *row)
{
	row->pinned = row->fifo = row->mlock = 1;
	for (r->cur = 0; r->cur < r->k; r->cur++) {
		int st = 0;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0)
			_exit(sc_replay(r, row) ? 3 : 0);
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			snprintf(row->note, sizeof(row->note), "replay %u failed (status 0x%x)",
			         r->cur, st);
			return -1;
		}
	}
	for (unsigned i = 0; i < r->n; i++)
		row->failed += r->th[i].failed;
	sc_tput(r, row);
	sc_stat_of(r, 1, &row->a);
	sc_stat_of(r, 0, &row->f);
	return 0;
}

struct sc_args {
	char alloc[16];
	int trace;
	unsigned threads, replays;
	size_t heap, churn;
	uint64_t seed;
	int prio, force_clock, tune;
};

/* One run of N threads into @p row. */
static void sc_worker_run(const struct sc_args *g, struct sc_row *row)
{
	struct sc_run run;
	struct sc_ring *rings = NULL;
	memset(&run, 0, sizeof(run));
	snprintf(row->alloc, sizeof(row->alloc), "%s", g->alloc);
	row->trace = g->trace;
	row->threads = g->threads;
	row->replays = g->replays;
	run.trace = g->trace;
	run.n = g->threads;
	run.k = g->replays < 1 ? 1 : g->replays > 64 ? 64 : g->replays;
	run.ncpu = row->ncpu;
	run.rt_prio = g->prio;
	if (sc_load(&run, row, g->tune)) {
		row->status = 1;
		return;
	}
	rig_timer_calibrate(&run.tm, g->force_clock);
	run.th = sc_map(run.n * sizeof(*run.th));
	if (g->trace == ST_PC)
		rings = sc_map((run.n / 2 + 1) * sizeof(*rings));
	int bad = !run.th || (g->trace == ST_PC && !rings);
	run.heap_bytes = (size_t)run.n * (2 * g->heap + 4 * MIB);
	for (unsigned i = 0; !bad && i < run.n; i++)
		bad = sc_thread_init(&run, i, g->heap, g->churn, g->seed, rings);
	if (bad || sc_go(&run, row)) {
		row->status = 2;
		if (!row->note[0])
			snprintf(row->note, sizeof(row->note), "setup failed (trace or memory)");
	}
}

/* ------------------------------------------------------------------ */
/* Worker side: instruction counts of the per-thread cache             */
/* ------------------------------------------------------------------ */

#if defined(RIG_HAVE_VALGRIND_H) && SC_HAVE_TC
static int sc_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A row of min / median / max of @p n counts (sorted already). */
static void sc_ic_row(struct sc_icount *ic, const char *call, const uint32_t *v, size_t n)
{
	struct sc_icrow *x;
	if (ic->nrows >= SC_IC_ROWS)
		return;
	x = &ic->rows[ic->nrows++];
	memset(x, 0, sizeof(*x));
	snprintf(x->call, sizeof(x->call), "%s", call);
	x->n = (uint32_t)n;
	if (n) {
		x->min = v[0];
		x->med = v[n / 2];
		x->max = v[n - 1];
	}
}

/* A row of the calls of one kind whose flag is @p want (0: fast path,
 * block of at most 1 KiB; 2: fast path, larger block; 1: refill / flush). */
static void sc_ic_part(struct sc_icount *ic, const char *call, const uint32_t *v,
                       const uint8_t *flag, size_t n, uint8_t want, const char *what)
{
	char name[48];
	size_t k = 0;
	uint32_t *w = malloc((n ? n : 1) * sizeof(*w));
	if (!w)
		return;
	for (size_t i = 0; i < n; i++)
		if (flag[i] == want)
			w[k++] = v[i];
	qsort(w, k, sizeof(*w), sc_cmp_u32);
	snprintf(name, sizeof(name), "%s, %s", call, what);
	sc_ic_row(ic, name, w, k);
	free(w);
}

#define SC_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t sc_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, SC_REQ, 0, 0, 0, 0, 0);
}
#if defined(__GNUC__) && !defined(__clang__)
#define SC_BRACKET __attribute__((noipa))
#else
#define SC_BRACKET __attribute__((noinline))
#endif
#define SC_NULL_INSTR 2u

typedef void *(*sc_ta_fn)(rttcache_t *, size_t);
typedef int (*sc_tf_fn)(rttcache_t *, void *);
typedef int (*sc_tx_fn)(rttcache_t *);
typedef void *(*sc_ha_fn)(rtheap_t *, size_t);
typedef int (*sc_hf_fn)(rtheap_t *, void *);
static void *sc_null_ta(rttcache_t *c, size_t s) { (void)c; (void)s; return NULL; }
static int sc_null_tf(rttcache_t *c, void *p) { (void)c; (void)p; return 0; }
static int sc_null_tx(rttcache_t *c) { (void)c; return 0; }
static void *sc_null_ha(rtheap_t *h, size_t s) { (void)h; (void)s; return NULL; }
static int sc_null_hf(rtheap_t *h, void *p) { (void)h; (void)p; return 0; }

#define SC_DEFINE_BRACKET(name, ret, fnt, params, args)                  \
	static SC_BRACKET uint32_t name(fnt fn, ret *out params)       \
	{                                                              \
		uint64_t c0 = sc_now(), c1;                            \
		ret v = fn args;                                       \
		c1 = sc_now();                                         \
		*out = v;                                              \
		return (uint32_t)(c1 - c0);                            \
	}
#define SC_P(...) __VA_ARGS__
SC_DEFINE_BRACKET(sc_b_ta, void *, sc_ta_fn, SC_P(, rttcache_t *c, size_t s), (c, s))
SC_DEFINE_BRACKET(sc_b_tf, int, sc_tf_fn, SC_P(, rttcache_t *c, void *p), (c, p))
SC_DEFINE_BRACKET(sc_b_tx, int, sc_tx_fn, SC_P(, rttcache_t *c), (c))
SC_DEFINE_BRACKET(sc_b_ha, void *, sc_ha_fn, SC_P(, rtheap_t *h, size_t s), (h, s))
SC_DEFINE_BRACKET(sc_b_hf, int, sc_hf_fn, SC_P(, rtheap_t *h, void *p), (h, p))

static uint32_t sc_net(uint32_t raw, uint32_t o)
{
	return raw > o ? raw - o + SC_NULL_INSTR : SC_NULL_INSTR;
}

/* The cache's refills + flushes so far (outside the counted bracket). */
static size_t sc_ic_events(rttcache_t *c)
{
	struct rttcache_stats st;
	return rttcache_get_stats(c, &st) ? 0 : st.refills + st.flushes;
}

/* Counts of one replay of @p t: through the cache @p c, or the heap when
 * @p c is NULL; alloc counts into va (*na), free counts into vf (*nf);
 * ka / kf: 1 when the call refilled or flushed a bin (the cache's
 * statistics read before and after it). */
static void sc_ic_replay(rtheap_t *h, rttcache_t *c, const struct rig_trace *t, void **ptr,
                         uint32_t *va, uint8_t *ka, size_t *na, uint32_t *vf, uint8_t *kf,
                         size_t *nf)
{
	void *p;
	int rc;
	uint32_t oa = c ? sc_b_ta(sc_null_ta, &p, c, 16) : sc_b_ha(sc_null_ha, &p, h, 16);
	uint32_t of = c ? sc_b_tf(sc_null_tf, &rc, c, NULL) : sc_b_hf(sc_null_hf, &rc, h, NULL);
	for (size_t i = 0; i < t->nops; i++) {
		uint32_t s = t->slot[i];
		size_t e0 = c ? sc_ic_events(c) : 0;
		if (t->size[i]) {
			uint32_t n = c ? sc_b_ta(rttcache_alloc, &p, c, t->size[i])
			               : sc_b_ha(rtheap_alloc, &p, h, t->size[i]);
			ka[*na] = c && sc_ic_events(c) != e0 ? 1
			        : p && rtheap_usable_size(h, p) > 1024 ? 2 : 0;
			va[(*na)++] = sc_net(n, oa);
			ptr[s] = p;
		} else if (ptr[s]) {
			int big = rtheap_usable_size(h, ptr[s]) > 1024;
			uint32_t n = c ? sc_b_tf(rttcache_free, &rc, c, ptr[s])
			               : sc_b_hf(rtheap_free, &rc, h, ptr[s]);
			kf[*nf] = c && sc_ic_events(c) != e0 ? 1 : big ? 2 : 0;
			vf[(*nf)++] = sc_net(n, of);
			ptr[s] = NULL;
		}
	}
}

/* rttcache_flush on a cache holding the blocks of a burst of allocations
 * and releases (32 rounds; @p v gets the counts). */
static size_t sc_ic_flush(rttcache_t *c, const struct rig_trace *t, void **ptr, uint32_t *v)
{
	int rc;
	size_t n = 0;
	uint32_t o = sc_b_tx(sc_null_tx, &rc, c);
	for (unsigned r = 0; r < 32; r++) {
		size_t m = 0;
		for (size_t i = 0; i < t->nops && m < 64; i++)
			if (t->size[i])
				ptr[m++] = rttcache_alloc(c, 16 + t->size[(i + r) % t->nops] % 4080u);
		while (m--)
			if (ptr[m])
				(void)rttcache_free(c, ptr[m]);
		v[n++] = sc_net(sc_b_tx(rttcache_flush, &rc, c), o);
	}
	return n;
}

static void sc_icount_run(struct sc_icount *ic, rtheap_t *h, rttcache_t *c,
                          const struct rig_trace *t)
{
	void **ptr = calloc(t->nslots + 64, sizeof(void *));
	uint32_t *va = calloc(2 * t->nops + 64, sizeof(uint32_t));
	uint32_t *vf = calloc(2 * t->nops + 64, sizeof(uint32_t));
	uint8_t *ka = calloc(2 * t->nops + 64, 1), *kf = calloc(2 * t->nops + 64, 1);
	size_t na = 0, nf = 0;
	if (!ptr || !va || !vf || !ka || !kf || rttcache_thread_init(c)) {
		ic->status = 2;
		snprintf(ic->note, sizeof(ic->note), "no memory or no cache state");
		return;
	}
	for (int pass = 0; pass < 2; pass++)
		sc_ic_replay(h, c, t, ptr, va, ka, &na, vf, kf, &nf);
	sc_ic_part(ic, "rttcache_alloc", va, ka, na, 0, "bin hit, <= 1 KiB");
	sc_ic_part(ic, "rttcache_alloc", va, ka, na, 2, "bin hit, > 1 KiB");
	sc_ic_part(ic, "rttcache_alloc", va, ka, na, 1, "empty bin (refill)");
	sc_ic_part(ic, "rttcache_free", vf, kf, nf, 0, "room, <= 1 KiB");
	sc_ic_part(ic, "rttcache_free", vf, kf, nf, 2, "room, > 1 KiB");
	sc_ic_part(ic, "rttcache_free", vf, kf, nf, 1, "full bin (flush)");
	na = sc_ic_flush(c, t, ptr, va);
	qsort(va, na, sizeof(*va), sc_cmp_u32);
	sc_ic_row(ic, "rttcache_flush (after a burst of 64)", va, na);
	na = nf = 0;
	sc_ic_replay(h, NULL, t, ptr, va, ka, &na, vf, kf, &nf);
	qsort(va, na, sizeof(*va), sc_cmp_u32);
	qsort(vf, nf, sizeof(*vf), sc_cmp_u32);
	sc_ic_row(ic, "rtheap_alloc (PI mutex, no cache)", va, na);
	sc_ic_row(ic, "rtheap_free (PI mutex, no cache)", vf, nf);
	free(ptr);
	free(va);
	free(vf);
	free(ka);
	free(kf);
}
#endif

/* Single-threaded counts of the cache's calls over the small trace, on a
 * PI-mutex heap (the one the caches sit on in the timed runs). */
static void sc_icount_main(struct sc_icount *ic, size_t heap, size_t churn, uint64_t seed)
{
#if defined(RIG_HAVE_VALGRIND_H) && SC_HAVE_TC
	struct sc_run r;
	struct rig_trace t;
	uint64_t c0;
	memset(&r, 0, sizeof(r));
	r.kind = SK_TC;
	if (!RUNNING_ON_VALGRIND || (c0 = sc_now(), sc_now() == c0)) {
		ic->status = 1;
		snprintf(ic->note, sizeof(ic->note), "not under valgrind --tool=icount");
		return;
	}
	if (rig_trace_make(&t, WL_SMALL, heap, churn, seed) || sc_heap_new(&r, 4 * heap + 8 * MIB)) {
		ic->status = 2;
		snprintf(ic->note, sizeof(ic->note), "no trace or no heap");
		return;
	}
	sc_icount_run(ic, r.heap, r.tc, &t);
	rig_trace_free(&t);
#else
	(void)heap;
	(void)churn;
	(void)seed;
	ic->status = 1;
	snprintf(ic->note, sizeof(ic->note), "%s", SC_HAVE_TC
	         ? "built without valgrind/valgrind.h" : "built without per-thread caches");
#endif
}

int scaling_worker_main(int argc, char **argv)
{
	struct sc_args g;
	int fd = -1, icount = 0;
	memset(&g, 0, sizeof(g));
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--alloc")) snprintf(g.alloc, sizeof(g.alloc), "%s", v);
		else if (!strcmp(k, "--trace")) g.trace = atoi(v);
		else if (!strcmp(k, "--threads")) g.threads = (unsigned)atoi(v);
		else if (!strcmp(k, "--replays")) g.replays = (unsigned)atoi(v);
		else if (!strcmp(k, "--heap")) g.heap = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--churn")) g.churn = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--seed")) g.seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--prio")) g.prio = atoi(v);
		else if (!strcmp(k, "--force-clock")) g.force_clock = atoi(v);
		else if (!strcmp(k, "--tune")) g.tune = atoi(v);
		else if (!strcmp(k, "--icount")) icount = atoi(v);
		else if (!strcmp(k, "--result-fd")) fd = atoi(v);
	}
	if (fd < 0)
		return 2;
	void *m = mmap(NULL, icount ? sizeof(struct sc_icount) : sizeof(struct sc_row),
	               PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 2;
	if (icount) {
		sc_icount_main(m, g.heap, g.churn, g.seed);
		return 0;
	}
	struct sc_row *row = m;
	if (g.threads < 1 || g.threads > SC_MAX_THREADS)
		return 2;
	row->ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	sc_worker_run(&g, row);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver side                                                         */
/* ------------------------------------------------------------------ */

/* Per-thread trace: its heap share and churn, by level. */
static size_t sc_heap_share(void)
{
	return O.level == 2 ? 16 * MIB : O.level ? 4 * MIB : 1 * MIB;
}

static size_t sc_churn(void)
{
	return O.level == 2 ? 200000 : O.level ? 30000 : 2000;
}

struct sc_spawn {
	const struct sc_args *g;
	int icount;
};

static pid_t sc_spawn(const void *ctx, int fd)
{
	const struct sc_spawn *s = ctx;
	const struct sc_args *g = s->g;
	char self[PATH_MAX], a[11][40];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;
	if (len <= 0)
		return -1;
	self[len] = 0;
	snprintf(a[0], 40, "%s", g->alloc);
	snprintf(a[1], 40, "%d", g->trace);
	snprintf(a[2], 40, "%u", g->threads);
	snprintf(a[3], 40, "%u", g->replays);
	snprintf(a[4], 40, "%zu", g->heap);
	snprintf(a[5], 40, "%zu", g->churn);
	snprintf(a[6], 40, "%llu", (unsigned long long)g->seed);
	snprintf(a[7], 40, "%d", g->prio);
	snprintf(a[8], 40, "%d", g->force_clock);
	snprintf(a[9], 40, "%d", g->tune);
	snprintf(a[10], 40, "%d", fd);
	char *argv[] = { "valgrind", "--tool=icount", "-q", self, "--scaling-worker",
		"--alloc", a[0], "--trace", a[1], "--threads", a[2], "--replays", a[3],
		"--heap", a[4], "--churn", a[5], "--seed", a[6], "--prio", a[7],
		"--force-clock", a[8], "--tune", a[9], "--result-fd", a[10],
		"--icount", s->icount ? "1" : "0", NULL };
	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (rig_preload(g->alloc))
		setenv("LD_PRELOAD", rig_preload(g->alloc), 1);
	rig_tune_env(g->alloc, g->tune);
	if (s->icount) {
		setenv("VALGRIND_LIB", vg_tool_dir(), 1);
		execvp(argv[0], argv);
	} else {
		execv(self, argv + 3);
	}
	_exit(127);
}

static void sc_args_of(struct sc_args *g, const char *alloc, int trace, unsigned n)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->alloc, sizeof(g->alloc), "%s", alloc);
	g->trace = trace;
	g->threads = n;
	g->replays = O.replays;
	g->heap = sc_heap_share();
	g->churn = sc_churn();
	g->seed = O.seed;
	g->prio = O.rt ? O.prio : 0;
	g->force_clock = O.force_clock;
	g->tune = O.tune;
}

/* One worker: a row of the table. */
static void sc_run_one(const char *alloc, int trace, unsigned n)
{
	struct sc_args g;
	struct sc_spawn sp = { &g, 0 };
	struct sc_row *row = &sc_rows[sc_nrows++];
	int st = 0;
	sc_args_of(&g, alloc, trace, n);
	fprintf(stderr, "\rscaling: %-6s %-11s %3u threads   ", trace ? "pc" : "random", alloc, n);
	if (worker_collect("rtheap-scaling", row, sizeof(*row), sc_spawn, &sp, &st)) {
		memset(row, 0, sizeof(*row));
		row->status = 2;
		snprintf(row->note, sizeof(row->note), "worker failed (wait status 0x%x)", st);
	}
	snprintf(row->alloc, sizeof(row->alloc), "%s", alloc);
	row->trace = trace;
	row->threads = n;
}

static void sc_run_icount(void)
{
	struct sc_args g;
	struct sc_spawn sp = { &g, 1 };
	int st = 0;
	sc_args_of(&g, "rtheap-tc", ST_RANDOM, 1);
	g.heap = 1 * MIB;
	g.churn = O.level ? 20000 : 2000;
	memset(&sc_ic, 0, sizeof(sc_ic));
	if (!O.icount || !vg_tool_dir()) {
		sc_ic.status = 1;
		snprintf(sc_ic.note, sizeof(sc_ic.note), "instruction-count mode off");
		return;
	}
	fprintf(stderr, "\rscaling: icount of the per-thread cache          ");
	if (worker_collect("rtheap-scaling-ic", &sc_ic, sizeof(sc_ic), sc_spawn, &sp, &st)) {
		sc_ic.status = 2;
		snprintf(sc_ic.note, sizeof(sc_ic.note), "worker failed (wait status 0x%x)", st);
	}
}

void scaling_run(void)
{
	const unsigned ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (!group_wanted("scaling", O.level == 2))
		return;
	sc_ran = 1;
	if (!sc_ncounts)
		sc_default_counts(ncpu);
	sc_rows = calloc(SC_MAX_ROWS, sizeof(*sc_rows));
	if (!sc_rows)
		return;
	for (int trace = ST_RANDOM; trace <= ST_PC; trace++)
		for (unsigned c = 0; c < sc_ncounts; c++)
			for (int a = 0; sc_allocs[a]; a++) {
				unsigned n = trace == ST_PC ? sc_counts[c] & ~1u : sc_counts[c];
				int dup = trace == ST_PC && c && (sc_counts[c - 1] & ~1u) == n;
				if (n && !dup && alloc_selected(sc_allocs[a]) &&
				    sc_nrows < SC_MAX_ROWS)
					sc_run_one(sc_allocs[a], trace, n);
			}
	sc_run_icount();
	fprintf(stderr, "\n");
}

int scaling_failed(void)
{
	if (!sc_ran)
		return 0;
	for (unsigned i = 0; i < sc_nrows; i++)
		if (sc_rows[i].status == 2)
			return 1;
	return sc_ic.status == 2;
}

/* The row of the same allocator and trace with the fewest threads. */
static const struct sc_row *sc_base(const struct sc_row *x)
{
	for (unsigned i = 0; i < sc_nrows; i++)
		if (sc_rows[i].trace == x->trace && !strcmp(sc_rows[i].alloc, x->alloc) &&
		    sc_rows[i].status == 0)
			return &sc_rows[i];
	return NULL;
}

/* Fastest of jemalloc, mimalloc and tcmalloc at @p x's trace and threads. */
static const struct sc_row *sc_best_peer(const struct sc_row *x)
{
	const struct sc_row *b = NULL;
	for (unsigned i = 0; i < sc_nrows; i++) {
		const struct sc_row *y = &sc_rows[i];
		if (y->trace == x->trace && y->threads == x->threads && !y->status &&
		    (!strcmp(y->alloc, "jemalloc") || !strcmp(y->alloc, "mimalloc") ||
		     !strcmp(y->alloc, "tcmalloc")) && (!b || y->ops_s_best > b->ops_s_best))
			b = y;
	}
	return b;
}

static void sc_table_row(FILE *f, const struct sc_row *x)
{
	const struct sc_row *b = sc_base(x), *p = sc_best_peer(x);
	if (x->status) {
		fprintf(f, "| %s | %s | %u | %s: %s |||||||||||\n", x->trace ? "pc" : "random",
		        x->alloc, x->threads, x->status == 1 ? "skipped" : "FAILED", x->note);
		return;
	}
	fprintf(f, "| %s | %s | %u | %.2f | %.2f | %.2f | %.2f | ", x->trace ? "pc" : "random",
	        x->alloc, x->threads, x->ops_s_best / 1e6, x->ops_s_median / 1e6,
	        x->ops_s_best / 1e6 / x->threads, b ? x->ops_s_best / b->ops_s_best : 0);
	if (p)
		fprintf(f, "%.2f | ", p->ops_s_best / x->ops_s_best);
	else
		fprintf(f, "- | ");
	fprintf(f, "%.0f | %.0f | %.0f | %.0f | %s | %s |%s\n", x->a.max, x->a.p999, x->f.max,
	        x->f.p999, x->pinned ? "yes" : "no", x->fifo ? "yes" : "no",
	        x->failed ? " allocations failed" : "");
}

static void sc_icount_table(FILE *f)
{
	if (sc_ic.status) {
		fprintf(f, "\nInstruction counts of the per-thread cache: %s\n", sc_ic.note);
		return;
	}
	fprintf(f, "\nInstructions per call of the per-thread cache, single thread, exact "
	        "(valgrind --tool=icount; the small trace replayed twice through a cache over a "
	        "PI-mutex heap, max_size %u; a call is put under refill / flush when the cache's "
	        "statistics, read before and after it, counted one):\n\n"
	        "| call | calls | min | median | max |\n| --- | ---: | ---: | ---: | ---: |\n",
	        SC_TC_MAX);
	for (unsigned i = 0; i < sc_ic.nrows; i++) {
		const struct sc_icrow *x = &sc_ic.rows[i];
		fprintf(f, "| %s | %u | %u | %u | %u |\n", x->call, x->n, x->min, x->med, x->max);
	}
}

void scaling_table(FILE *f)
{
	const unsigned ncpu = sc_nrows ? sc_rows[0].ncpu : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (!sc_ran)
		return;
	fprintf(f, "\n## SCALING: threads on %u CPUs (group scaling)\n\n", ncpu);
	fprintf(f, "Each thread replays its own small trace (16 B .. 4 KiB, %zu MiB share, "
	        "%zu operations of churn; seed --seed + thread); pc: producers pass "
	        "the allocation sizes of their trace through a %u-slot ring to a consumer "
	        "that releases them (threads = producers + consumers). rtheap-*: one heap "
	        "shared by all threads. Each replay: a forked child, fresh heap and threads, "
	        "warm-up pass. Throughput: all operations over the wall time of "
	        "one untimed pass of every thread, best (and median) of %u replays; speedup: over "
	        "the fewest threads of the same allocator and trace; peer/x: the fastest of "
	        "jemalloc, mimalloc, tcmalloc divided by this one (<= 1.25 is the goal for "
	        "rtheap-tc). Worst: max over the operations of each operation's minimum over "
	        "the %u replays' timed passes (ns), p99.9 over the "
	        "same minima. Threads pinned round-robin when there are several CPUs; "
	        "SCHED_FIFO only when they do not outnumber the CPUs.\n\n",
	        sc_heap_share() / MIB, sc_churn(), SC_RING, O.replays, O.replays);
	fprintf(f, "| trace | allocator | threads | Mops/s | median | per thread | speedup | "
	        "peer/x | alloc worst | alloc p99.9 | free worst | free p99.9 | pinned | FIFO |\n"
	        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
	        "---: | --- | --- |\n");
	for (unsigned i = 0; i < sc_nrows; i++)
		sc_table_row(f, &sc_rows[i]);
	sc_icount_table(f);
}

static void sc_csv(FILE *f)
{
	fprintf(f, "trace,allocator,threads,ncpu,pinned,fifo,mlock,replays,ops,ops_per_s_best,"
	        "ops_per_s_median,ops_per_s_per_thread,speedup,alloc_count,alloc_p50,"
	        "alloc_p999,alloc_max,free_count,free_p50,free_p999,free_max,failed,"
	        "instr_calls,instr_min,instr_median,instr_max,status\n");
	for (unsigned i = 0; i < sc_nrows; i++) {
		const struct sc_row *x = &sc_rows[i], *b = sc_base(x);
		fprintf(f, "%s,%s,%u,%u,%d,%d,%d,%u,%llu,%.0f,%.0f,%.0f,%.3f,%llu,%.1f,%.1f,%.1f,"
		        "%llu,%.1f,%.1f,%.1f,%llu,,,,,\"%s\"\n", x->trace ? "pc" : "random",
		        x->alloc, x->threads, x->ncpu, x->pinned, x->fifo, x->mlock, x->replays,
		        (unsigned long long)x->ops, x->ops_s_best, x->ops_s_median,
		        x->ops_s_best / x->threads, b && !x->status ? x->ops_s_best / b->ops_s_best : 0,
		        (unsigned long long)x->a.n, x->a.p50, x->a.p999, x->a.max,
		        (unsigned long long)x->f.n, x->f.p50, x->f.p999, x->f.max,
		        (unsigned long long)x->failed, x->status ? x->note : "ok");
	}
	for (unsigned i = 0; i < sc_ic.nrows; i++) {
		const struct sc_icrow *x = &sc_ic.rows[i];
		fprintf(f, "icount,\"%s\",1,,,,,,,,,,,,,,,,,,,,%u,%u,%u,%u,\"ok\"\n", x->call, x->n,
		        x->min, x->med, x->max);
	}
}

void scaling_write(void)
{
	char path[PATH_MAX];
	FILE *f;
	if (!sc_ran)
		return;
	snprintf(path, sizeof(path), "%s/scaling.csv", O.out);
	if ((f = fopen(path, "w"))) {
		sc_csv(f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/results.md", O.out);
	if (!(f = fopen(path, "a"))) {
		fprintf(stderr, "rtheap-latency: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	scaling_table(f);
	fclose(f);
}
