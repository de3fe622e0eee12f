/* SPDX-License-Identifier: MIT */
/*
 * rig.h -- shared declarations of the latency harness (rtheap-latency).
 *
 * The harness has three layers:
 *  - the driver (main.c) plans the cases, starts one worker process per
 *    case and writes the tables, CSV, JSON and histograms (report.c) and
 *    the plots (plots.c); its private declarations are in driver.h;
 *  - the worker (worker.c) generates the operation trace of its case from
 *    the seed and replays it on a fresh heap of one allocator, in a forked
 *    child per replay, timing or counting every operation;
 *  - the allocators (allocators.c) sit behind one small vtable.
 * The worker is the same executable started with --worker.  A peer's
 * library is loaded with LD_PRELOAD into its own workers only (it is then
 * the process allocator, as users deploy it; jemalloc could not be
 * dlopen()ed anyway, it needs static TLS), so every other case runs on
 * the plain C library.  TLSF and o1heap, which manage a caller's buffer as
 * rtheap does, are compiled into the harness from the user's sources
 * (peers_static.c).
 */
#ifndef RTHEAP_LATENCY_RIG_H
#define RTHEAP_LATENCY_RIG_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Allocators                                                          */
/* ------------------------------------------------------------------ */

/** One allocator behind the rig.  A context is a fresh heap. */
struct rig_alloc {
	const char *name;      /**< short name used in tables and files */
	const char *desc;      /**< one-line description */
	int peer;              /**< 1 for the allocators rtheap is compared with */
	/** Make the allocator usable in this process (dlsym, options);
	 *  0, or -1 with a reason in @p why. */
	int (*load)(char *why, size_t whylen);
	/** Fresh heap of @p bytes usable bytes split into @p extents extents
	 *  (only rtheap honours both; peers ignore them). */
	void *(*init)(size_t bytes, unsigned extents);
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr);
	void (*destroy)(void *ctx);
	/** Fixed-buffer heap for the fill test, NULL if the allocator cannot
	 *  be confined to a caller-given buffer. */
	void *(*init_fixed)(void *buf, size_t size);
	/** Allocation in the fixed heap; NULL: use alloc. */
	void *(*alloc_fixed)(void *ctx, size_t size);
	void (*destroy_fixed)(void *ctx);
	/** Usable size of a live block, or 0 if unknown. */
	size_t (*usable)(void *ctx, void *ptr);
	/** Bytes of heap descriptor at the start of the context (rtheap's
	 *  rtheap_t, TLSF's control structure, o1heap's instance: set by
	 *  load), left out of the cache-line counts; 0 for the others. */
	size_t desc_size;
	/** Make the heap fresh again over the same memory, keeping @p ctx
	 *  (0, or nonzero on failure); NULL if the allocator cannot.  The
	 *  measured pass then repeats the warm-up's calls on the same
	 *  addresses and touches no memory the warm-up did not touch. */
	int (*reset)(void *ctx);
};

/** A heap buffer of @p len bytes, mmap'ed and faulted in (2 MiB aligned
 *  and advised MADV_HUGEPAGE with --thp); NULL on failure. */
void *rig_map_buffer(size_t len);
/** The buffer size rtheap uses for @p bytes usable bytes in one extent:
 *  the memory every heap over a caller's buffer is given. */
size_t rig_buffer_size(size_t bytes);
#ifdef RIG_HAVE_TLSF
extern struct rig_alloc rig_alloc_tlsf;      /* peers_static.c */
#endif
#ifdef RIG_HAVE_O1HEAP
extern struct rig_alloc rig_alloc_o1heap;    /* peers_static.c */
#endif

/** The allocators compiled in; NULL-terminated. */
extern const struct rig_alloc *const rig_allocs[];
const struct rig_alloc *rig_find_alloc(const char *name);
/** Library to LD_PRELOAD into a worker for @p name, or NULL. */
const char *rig_preload(const char *name);
/** Set allocator tuning variables in the environment (worker side). */
void rig_tune_env(const char *name, int tune);
/** Apply in-process tuning (mallopt) in a replay child. */
void rig_tune_process(const char *name, int tune);
/** Peers that were not found at configure time, comma separated. */
extern const char rig_skipped_at_build[];

/* ------------------------------------------------------------------ */
/* Traces                                                              */
/* ------------------------------------------------------------------ */

enum rig_workload {
	WL_SMALL = 0,  /**< uniform 16 B .. 4 KiB, ~50 % live */
	WL_MIXED,      /**< log-uniform 16 B .. 256 KiB, ~50 % live */
	WL_FRAG,       /**< adversarial fragmentation */
	WL_COUNT,      /**< the workloads every allocator runs */
	/* Adversarial holes A/B, for heaps over a caller's buffer only (the
	 * fill depends on the allocator's capacity, see rig_holes_sizes). */
	WL_HOLES_SMALL = WL_COUNT, /**< holes 48 B / 1000 B */
	WL_HOLES_MID,  /**< holes 512 B / 1536 B */
	WL_ALL
};

/** A replayable operation trace: size[i] > 0 allocates into slot[i],
 *  size[i] == 0 frees slot[i]. */
struct rig_trace {
	uint32_t *slot;
	uint32_t *size;
	size_t nops;
	size_t cap;
	size_t nslots;
	size_t nalloc;
	size_t nfree;
	size_t peak_live;      /**< largest requested bytes live at once */
};

int rig_trace_make(struct rig_trace *t, enum rig_workload wl, size_t heap_bytes,
                   size_t churn, uint64_t seed);
/** Sizes A and B of a holes workload; 0 if @p wl is not one. */
int rig_holes_sizes(enum rig_workload wl, uint32_t *a, uint32_t *b);
/** A holes trace whose fill makes exactly @p pairs A/B pairs (the worker
 *  measures how many the allocator holds; rig_trace_make uses the pairs
 *  whose requested bytes fill the heap). */
int rig_trace_make_holes(struct rig_trace *t, enum rig_workload wl, size_t heap_bytes,
                         size_t churn, uint64_t seed, size_t pairs);
void rig_trace_free(struct rig_trace *t);
const char *rig_workload_name(enum rig_workload wl);
int rig_workload_parse(const char *s);

/* Deterministic random numbers (splitmix64 seeding a xorshift). */
struct rig_rng { uint64_t s[2]; };
void rig_rng_seed(struct rig_rng *r, uint64_t seed);
uint64_t rig_rng_next(struct rig_rng *r);
/** Uniform in [lo, hi]. */
uint64_t rig_rng_range(struct rig_rng *r, uint64_t lo, uint64_t hi);
/** Log-uniform in [lo, hi]. */
uint64_t rig_rng_log(struct rig_rng *r, uint64_t lo, uint64_t hi);

/* ------------------------------------------------------------------ */
/* Timer                                                               */
/* ------------------------------------------------------------------ */

struct rig_timer {
	int tsc;               /**< 1: TSC, 0: clock_gettime(CLOCK_MONOTONIC_RAW) */
	double ticks_per_ns;   /**< TSC ticks per nanosecond (1 for clock_gettime) */
	uint64_t overhead;     /**< ticks of an empty measurement (subtracted) */
	char why[96];          /**< why the TSC is not used ("" when it is) */
};

int rig_timer_calibrate(struct rig_timer *tm, int force_clock);
/** Wall clock in ns (CLOCK_MONOTONIC_RAW). */
uint64_t rig_now_ns(void);

/* ------------------------------------------------------------------ */
/* Results exchanged between worker and driver                         */
/* ------------------------------------------------------------------ */

#define RIG_HIST_BUCKETS 2000     /* histogram: 10 ns buckets, 0 .. 20 us */
#define RIG_HIST_NS 10

enum rig_mode { MODE_TIMED = 0, MODE_TPUT, MODE_ICOUNT, MODE_FILL };

struct rig_opstats {
	uint64_t count;        /**< operations measured */
	double p50, p99, p999, p9999, max;   /**< over the per-op minima */
	double rawmax;         /**< largest single sample over all replays */
	double mean, min;
	uint32_t hist[RIG_HIST_BUCKETS];
	uint64_t overflow;     /**< minima above the histogram range */
};

struct rig_result {
	int status;            /**< 0 ok, 1 skipped, 2 failed */
	char note[256];
	int rt_fifo;           /**< SCHED_FIFO obtained in the replay child */
	int rt_mlock;          /**< mlockall obtained */
	int rt_cpu;            /**< CPU pinned to, or -1 */
	double ticks_per_ns;
	double overhead_ns;
	int timer_tsc;
	char timer_why[96];    /**< why the TSC is not used ("" when it is) */
	uint64_t failed;       /**< allocations that returned NULL */
	uint64_t nops;
	uint64_t peak_live;
	struct rig_opstats a, f;  /**< alloc, free (ns or instructions) */
	struct rig_opstats la, lf; /**< icount mode: distinct cache lines touched */
	double ns_per_op;      /**< throughput: best replay */
	double ns_per_op_median;
	double fill_pct_min, fill_pct_avg, fill_pct_max;   /**< requested bytes */
	double fill_round_avg; /**< bytes of the rounded blocks */
	double fill_blocks_avg;
	uint64_t holes_pairs;  /**< holes workloads: A/B pairs of the fill */
	uint64_t timed_minflt; /**< most page faults in one replay's timed pass */
	uint64_t timed_nivcsw; /**< most involuntary switches in one timed pass */
};

/** Parameters of one worker run. */
struct rig_case {
	enum rig_mode mode;
	enum rig_workload wl;
	char alloc[32];
	size_t heap_bytes;
	unsigned extents;
	size_t churn;
	uint64_t seed;
	unsigned replays;
	int cpu;               /**< CPU for the replay child, -1 = none */
	int rt_prio;           /**< SCHED_FIFO priority, 0 = do not try */
	int tune;              /**< RT tuning of the peers */
	int fill_dist;         /**< fill test: 0 uniform 16..4096, 1 log 16..65536 */
	int force_clock;
	int tiny;              /**< smoke-test sizes */
};

int rig_worker_main(const struct rig_case *c, struct rig_result *r);
/** The replays of rig_worker_main on a trace the caller made (the group
 *  "caches" makes its own): MODE_TIMED and MODE_TPUT in forked children
 *  (per-op minima, best and median), MODE_ICOUNT counted through the
 *  vtable; fills @p r with the timer and the statistics.  0, or -1 with
 *  r->status 2. */
int rig_replay_trace(const struct rig_case *c, const struct rig_alloc *A,
                     const struct rig_trace *t, struct rig_result *r);

/* Statistics helpers. */
void rig_stats_from(struct rig_opstats *s, uint32_t *v, size_t n,
                    double scale, const uint32_t *raw);

#endif
