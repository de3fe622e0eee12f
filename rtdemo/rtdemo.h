/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- shared declarations of the real-time demo.
 *
 * Threads and who touches what:
 *  - the RT thread (SCHED_FIFO when permitted) runs the periodic loop of
 *    rt_thread.c: it is the only thread that allocates from the heap, it
 *    owns struct rt_stats and the message ring, and publishes a few
 *    figures through struct published for the status line;
 *  - the helper thread (normal scheduling, helper.c) sleeps on a
 *    semaphore posted by the heap's low-memory callback, maps and locks a
 *    new extent and adds it to the heap;
 *  - the releaser (second.c), a second periodic thread (SCHED_FIFO one
 *    priority below by default) takes every other message the RT thread
 *    would free from a single-producer single-consumer ring and releases
 *    it: through the per-thread cache both threads use (rtheap/tcache.h)
 *    when the library has liburcu, else rtheap_free under the heap lock;
 *  - the main thread (main.c) parses options, sets everything up, prints
 *    the status line, waits for the end (duration, cycles or a signal),
 *    then tears down and reports (report.c).  During the run it never
 *    calls the heap, so the lock mode "none" is safe.
 */
#ifndef RTDEMO_H
#define RTDEMO_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rtheap/cache.h"
#include "rtheap/config.h"
#include "rtheap/pool.h"
#include "rtheap/rtheap.h"
#if RTHEAP_HAVE_URCU
#include "rtheap/tcache.h"
#endif

/* Largest --initial-kib accepted with --static (size of the static array). */
#define RTDEMO_STATIC_KIB 4096u

/* Smallest and largest message sizes (bytes). */
#define MSG_MIN 16u
#define MSG_MAX 16384u

/* Histogram geometry: linear bins, one overflow counter. */
#define HEAP_BIN_NS 10u      /* heap calls: 10 ns bins ... */
#define HEAP_BINS 5000u      /* ... up to 50 us */
#define WAKE_BIN_NS 1000u    /* wake-up: 1 us bins ... */
#define WAKE_BINS 10000u     /* ... up to 10 ms */

struct options {
	double duration;          /* seconds; 0 = no time limit */
	uint64_t cycles;          /* stop after this many cycles; 0 = none */
	unsigned period_us;
	int prio;
	int cpu;                  /* -1: RT thread not pinned */
	size_t initial_kib;
	size_t extent_kib;
	size_t lowmem_kib;
	unsigned max_live;
	rtheap_lock_mode_t lock;
	bool use_static;
	bool status;              /* force the live status line */
	const char *json;
	uint64_t seed;
	bool second;              /* run the releaser thread (--no-second) */
	int second_prio;          /* its SCHED_FIFO priority; 0: prio - 1 */
	bool release_plain;       /* --release-plain: rtheap_free, no cache */
};

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t overflow;        /* samples >= nbins * bin_ns */
	uint64_t max_cycle;       /* cycle in which max was seen */
	uint32_t bin_ns;
	uint32_t nbins;
	uint32_t *bins;
};

/* How new extents reach the heap. */
enum ext_mode {
	EXT_DIRECT,  /* the helper calls rtheap_extend (locked heap) */
	EXT_HANDOFF, /* the helper hands a mapped buffer to the RT thread,
	                which calls rtheap_extend itself (lock "none") */
};

struct extent_rec {
	void *buf;
	size_t size;
	bool locked;              /* mlock succeeded */
	bool in_heap;             /* rtheap_extend accepted it */
	uint64_t cycle;           /* RT cycle count when it was added */
};

/* Ring from the RT thread (the only producer) to the releaser (the only
 * consumer): lock-free, each index written by one side only. */
#define HANDOFF_SLOTS 256u   /* a power of two */

struct handoff {
	_Alignas(64) _Atomic unsigned tail;  /* written by the producer */
	_Alignas(64) _Atomic unsigned head;  /* written by the consumer */
	struct msg *slot[HANDOFF_SLOTS];
	/* producer's counters */
	uint64_t handed;          /* messages put in the ring */
	uint64_t full;            /* ring full: the RT thread freed it itself */
	unsigned max_used;        /* most slots in use seen by the producer */
};

/* Owned by the releaser while it runs; read by main after the join. */
struct rel_stats {
	uint64_t cycles;
	uint64_t released;        /* messages released */
	uint64_t errors;          /* the release returned non-zero */
	uint64_t corrupt;         /* message content found damaged */
	uint64_t max_batch;       /* most messages released in one cycle */
	struct hist wake;
	struct hist release;
};

/* Owned by the RT thread while it runs; read by main after the join. */
struct rt_stats {
	uint64_t cycles;
	uint64_t overruns;        /* periods missed because a cycle ran late */
	uint64_t allocs;          /* successful allocations */
	uint64_t frees;
	uint64_t failed_allocs;
	uint64_t free_errors;     /* rtheap_free returned non-zero */
	uint64_t corrupt;         /* message content found damaged */
	uint64_t notified_allocs; /* allocations during which the callback ran */
	uint64_t bytes_requested;
	uint64_t extend_max_ns;   /* lock "none": rtheap_extend in this thread */
	struct hist wake;
	struct hist alloc;        /* allocations that did not call the callback */
	struct hist alloc_notify; /* allocations that called it (sem_post) */
	struct hist free;
	/* control messages (object cache behind a reserve pool) */
	uint64_t ctl_allocs, ctl_frees, ctl_failed, ctl_errors, ctl_corrupt;
	struct hist ctl_alloc;
	struct hist ctl_free;
};

/* Figures the RT thread publishes for the status line (relaxed atomics). */
struct published {
	_Atomic uint64_t cycles;
	_Atomic uint64_t worst_alloc;
	_Atomic uint64_t worst_free;
	_Atomic uint64_t worst_wake;
	_Atomic uint64_t failed;
	_Atomic uint64_t live;
	_Atomic uint64_t used;
	_Atomic uint64_t free;
	_Atomic uint64_t largest_free;
	_Atomic uint64_t extents;
};

/* Fixed-size control messages: from an object cache behind a reserve
 * pool (rt_thread.c, "control messages"). */
#define CTL_RING 32u         /* at most this many live at once */
#define CTL_RESERVE 16u      /* the pool's guaranteed minimum */
#define CTL_MAGIC 0x63746c31u /* "ctl1": written by the constructor */

struct ctl_msg {
	uint32_t magic;           /* constructed state, kept while free */
	uint32_t check;
	uint64_t seq;
	unsigned char body[112];  /* 128 bytes in all */
};

/* A message in the ring: a checkable header, then payload bytes. */
struct msg {
	uint64_t seq;
	uint32_t size;            /* requested size, header included */
	uint32_t check;
	unsigned char payload[];
};

struct demo {
	struct options opt;
	rtheap_t heap;
	size_t threshold;         /* low-memory threshold in bytes */
	size_t reserve_run;       /* keep a free run of this size (2 * MSG_MAX) */
	size_t extent_bytes;      /* size of each extent the helper maps */
	size_t os_page;

	/* first buffer */
	void *buf0;
	size_t buf0_size;
	bool buf0_static;
	bool buf0_locked;

	/* environment actually obtained */
	bool fifo;
	bool mlockall_ok;
	int rt_cpu;               /* -1 if not pinned */
	enum ext_mode ext_mode;
	uint64_t timer_overhead_ns;

	/* run control */
	atomic_bool stop;
	atomic_bool rt_done;

	/* low-memory notification (written by the callback, in the RT thread) */
	sem_t helper_sem;
	_Atomic uint64_t lowmem_events;
	_Atomic uint64_t lowmem_fail_events;
	_Atomic uint64_t notify_ns;        /* time of the oldest request not
	                                      served yet */
	atomic_bool request_pending;
	_Atomic uint64_t reserve_requests; /* requests made by the RT thread
	                                      for want of a large free run */
	_Atomic size_t fail_request;       /* largest request that failed */
	_Atomic size_t first_fail_request; /* first failure: request ... */
	_Atomic size_t first_fail_free;    /* ... and free bytes then */
	struct rtheap_stats fail_stats;    /* RT thread: at the first failure */

	/* extents added after init (index 0.. ext_count-1) */
	struct extent_rec ext[RTHEAP_MAX_EXTENTS];
	unsigned ext_count;                /* written by the helper only */
	atomic_uint ext_ready;             /* handoff: buffers published */
	atomic_uint ext_consumed;          /* handoff: buffers taken by RT */
	atomic_uint ext_added;             /* buffers accepted by rtheap_extend */
	atomic_uint ext_at_start;          /* of which added before the run */
	atomic_uint extend_errors;
	atomic_int last_extend_error;
	atomic_uint map_failures;
	atomic_uint lock_failures;
	atomic_bool table_full;
	_Atomic uint64_t reaction_max_ns;  /* notification -> extent in heap */
	_Atomic uint64_t map_max_ns;       /* mmap + mlock of one extent */

	/* RT thread */
	struct rt_stats rt;
	struct published pub;
	struct msg **ring;
	unsigned ring_cap;
	unsigned ring_head;
	unsigned ring_count;
	uint64_t rng;
	uint64_t seq;
	bool teardown;            /* frees after the run are not timed */
	rtcache_t *ctl_cache;     /* control messages: the cache ... */
	rtpool_t *ctl_pool;       /* ... and its reserve pool */
	struct ctl_msg *ctl_ring[CTL_RING];
	unsigned ctl_head, ctl_count;
	uint64_t ctl_seq;
	_Atomic uint64_t ctl_ctor_calls;

	/* releaser (second.c) */
	bool second_on;           /* the releaser runs */
	const char *second_off;   /* why it does not (NULL: it runs / asked) */
	bool use_tcache;          /* releases through the per-thread cache */
	bool fifo2;               /* the releaser got SCHED_FIFO */
	int prio2;
	atomic_bool stop2;
	unsigned hand_toggle;     /* RT thread: hand over every other release */
	struct handoff hand;
	struct rel_stats rel;
#if RTHEAP_HAVE_URCU
	rttcache_t *tc;
	struct rttcache_stats tc_stats; /* before rttcache_destroy */
#endif
	int tc_destroy_rc;

	/* final state, filled by main after the run */
	double elapsed_s;
	struct rtheap_stats end_stats;    /* before freeing the ring */
	struct rtcache_stats ctl_stats;   /* control messages, at the end */
	char ctl_name[32];                /* ctl_stats.name, kept: the cache is gone */
	struct rtpool_stats pool_stats;
	struct rtheap_stats final_stats;  /* after freeing everything */
	unsigned live_at_end;
	int check_rc;
	struct rtheap_fault fault;
};

/* time.c-like helpers */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* report.c */
void hist_init(struct hist *h, uint32_t *bins, uint32_t nbins, uint32_t bin_ns);
void hist_add(struct hist *h, uint64_t ns, uint64_t cycle);
uint64_t hist_percentile(const struct hist *h, double pct);
void format_ns(char *out, size_t n, uint64_t ns);
void format_bytes(char *out, size_t n, uint64_t bytes);
void print_status(const struct demo *d, double elapsed_s);
void print_summary(const struct demo *d, bool pass);
int write_json(const struct demo *d, const char *path, bool pass);

/* rt_thread.c */
int rt_prepare(struct demo *d);
void *rt_main(void *arg);
unsigned rt_free_all(struct demo *d);
void note_callback_in_this_thread(void);

/* second.c */
int second_setup(struct demo *d);
bool handoff_put(struct demo *d, struct msg *m);
void *second_main(void *arg);
void demo_thread_init(struct demo *d);
void *demo_alloc(struct demo *d, size_t size);
int demo_free(struct demo *d, void *p);
void second_teardown(struct demo *d);

/* rt_thread.c (shared with second.c) */
bool msg_ok(const struct msg *m);
uint64_t minus_overhead(const struct demo *d, uint64_t ns);
void ts_add_ns(struct timespec *ts, uint64_t ns);
uint64_t ts_ns(const struct timespec *ts);
void prefault_stack(void);

/* control.c */
int ctl_setup(struct demo *d);
void ctl_cycle(struct demo *d);
void ctl_teardown(struct demo *d);

/* helper.c */
void on_lowmem(rtheap_t *heap, size_t free_bytes, size_t request, void *arg);
void request_extent(struct demo *d);
void *helper_main(void *arg);
int add_extent_now(struct demo *d, size_t bytes);
void release_memory(struct demo *d);

#endif
