/* SPDX-License-Identifier: MIT */
/*
 * hammer.c -- rtheap-hammer: real-time threads that hammer a heap, as the
 * load of latency/cyclictest.sh.
 *
 *   rtheap-hammer --alloc rtheap|rtheap-tc|glibc [--threads N] [--cpu C] [--prio P]
 *                 [--duration S] [--heap MIB]
 *
 * Each thread is pinned to CPU C with SCHED_FIFO priority P (when
 * permitted) and runs bursts of 2000 random allocations and releases
 * (16 B .. 256 KiB, log-uniform, about half of the heap live), sleeping
 * 200 us between bursts.  With rtheap the threads share one heap (PI mutex)
 * over an mlocked buffer; with rtheap-tc (built with liburcu only) they
 * go through per-thread caches on that heap (rtheap/tcache.h: one cache
 * set, max_size 4096, each thread's state made at its start); with glibc they call malloc/free with glibc's
 * default settings (trimming and mmap of large blocks go to the kernel).
 * At the end it prints the operations done, the slowest operation seen,
 * the real-time throttling setting and the share of CPU C the threads used;
 * a worst operation as long as the throttling window is named as such.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rtheap/config.h"
#include "rtheap/rtheap.h"

#if RTHEAP_HAVE_URCU && defined(__has_include)
#if __has_include("rtheap/tcache.h")
#include "rtheap/tcache.h"
#define HAMMER_TC 1
#endif
#endif
#ifndef HAMMER_TC
#define HAMMER_TC 0
#endif

#define SLOTS 4096

static int use_rtheap = 1, use_tc, cpu = 0, prio = 70, nthreads = 2;
static double duration = 10;
static size_t heap_mib = 64;
static rtheap_t heap;
static volatile int stop;
#if HAMMER_TC
static rttcache_t *tc;
#endif

static void *h_alloc(size_t n)
{
#if HAMMER_TC
	if (use_tc)
		return rttcache_alloc(tc, n);
#endif
	return use_rtheap ? rtheap_alloc(&heap, n) : malloc(n);
}

static void h_free(void *p)
{
#if HAMMER_TC
	if (use_tc) {
		rttcache_free(tc, p);
		return;
	}
#endif
	if (use_rtheap)
		rtheap_free(&heap, p);
	else
		free(p);
}

struct tstate {
	pthread_t th;
	unsigned id;
	unsigned long long ops, failed, worst_ns;
	int fifo;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t draw_size(uint64_t *s)
{
	double u = (double)(rng_next(s) >> 11) / 9007199254740992.0;
	return (size_t)exp(log(16.0) + u * (log(262144.0) - log(16.0)));
}

static void *worker(void *arg)
{
	struct tstate *t = arg;
	void **slot = calloc(SLOTS, sizeof(void *));
	size_t *len = calloc(SLOTS, sizeof(size_t));
	size_t live = 0, target = heap_mib * 1024 * 1024 / 2 / (size_t)nthreads;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (t->id + 1);
	struct timespec next;

	if (!slot || !len)
		return NULL;
#if HAMMER_TC
	if (use_tc && rttcache_thread_init(tc))
		return NULL;
#endif
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		for (int i = 0; i < 2000; i++) {
			unsigned s = (unsigned)(rng_next(&rng) % SLOTS);
			unsigned long long t0 = now_ns(), d;
			if (slot[s]) {
				h_free(slot[s]);
				slot[s] = NULL;
				live -= len[s];
			} else {
				size_t n = draw_size(&rng);
				if (live + n > target)
					continue;
				slot[s] = h_alloc(n);
				if (slot[s]) {
					((volatile char *)slot[s])[0] = 1;
					len[s] = n;
					live += n;
				} else {
					t->failed++;
				}
			}
			d = now_ns() - t0;
			if (d > t->worst_ns)
				t->worst_ns = d;
			t->ops++;
		}
		next.tv_nsec += 200000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	for (unsigned s = 0; s < SLOTS; s++)
		if (slot[s])
			h_free(slot[s]);
	free(slot);
	free(len);
	return NULL;
}

/* A long from a /proc file, or @p dflt when it cannot be read. */
static long read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long v = dflt;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

/*
 * Real-time throttling: SCHED_FIFO/RR tasks may use sched_rt_runtime_us of
 * every sched_rt_period_us; the rest of the period is kept for normal tasks
 * (on Linux 6.12 and later by the fair server, same default).  The threads
 * here are runnable most of the time, so they reach that limit and are then
 * held off for up to (period - runtime): one of their operations straddles
 * the stall.  Prints the setting and, when the worst operation is that long,
 * names the cause.
 */
static void report_throttling(unsigned long long worst_ns, double cpu_share, int fifo)
{
	long runtime = read_long("/proc/sys/kernel/sched_rt_runtime_us", -2);
	long period = read_long("/proc/sys/kernel/sched_rt_period_us", -2);
	double window_ms;

	if (runtime == -2 || period <= 0) {
		printf("rtheap-hammer: real-time throttling unknown (/proc/sys/kernel/sched_rt_* "
		       "unreadable); the threads used %.1f%% of CPU %d\n", 100 * cpu_share, cpu);
		return;
	}
	if (runtime < 0 || runtime >= period) {
		printf("rtheap-hammer: real-time throttling off (sched_rt_runtime_us=%ld); "
		       "the threads used %.1f%% of CPU %d\n", runtime, 100 * cpu_share, cpu);
		return;
	}
	window_ms = (double)(period - runtime) / 1000.0;
	printf("rtheap-hammer: real-time throttling on: sched_rt_runtime_us=%ld, sched_rt_period_us=%ld "
	       "(after %.0f ms of each %.0f ms, real-time threads wait up to %.0f ms); "
	       "the threads used %.1f%% of CPU %d\n", runtime, period, (double)runtime / 1000.0,
	       (double)period / 1000.0, window_ms, 100 * cpu_share, cpu);
	if (fifo && (double)worst_ns / 1e6 >= window_ms / 2)
		printf("rtheap-hammer: note: worst_op_ns (%.1f ms) holds a real-time throttling stall, "
		       "not allocator work: the threads %s their %.0f ms and waited out the %.0f ms "
		       "window (echo -1 > /proc/sys/kernel/sched_rt_runtime_us turns throttling off)\n",
		       (double)worst_ns / 1e6,
		       cpu_share >= 0.98 * (double)runtime / (double)period ? "used up" : "probably used up",
		       (double)runtime / 1000.0, window_ms);
}

int main(int argc, char **argv)
{
	struct tstate ts[16];
	pthread_attr_t attr;
	unsigned long long total = 0, worst = 0, failed = 0;
	int fifo_all = 1;
	void *buf = NULL;
	size_t bufsize = 0;
	struct timespec wall0, wall1, cpu0, cpu1;
	double wall_s, cpu_s;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(argv[i], "--alloc")) {
			use_rtheap = strcmp(v, "glibc") != 0;
			use_tc = !strcmp(v, "rtheap-tc");
			if (strcmp(v, "glibc") && strcmp(v, "rtheap") && (!HAMMER_TC || !use_tc)) {
				fprintf(stderr, "rtheap-hammer: --alloc rtheap|%sglibc\n",
				        HAMMER_TC ? "rtheap-tc|" : "");
				return 2;
			}
			i++;
		} else if (!strcmp(argv[i], "--threads")) {
			nthreads = atoi(v);
			i++;
		} else if (!strcmp(argv[i], "--cpu")) {
			cpu = atoi(v);
			i++;
		} else if (!strcmp(argv[i], "--prio")) {
			prio = atoi(v);
			i++;
		} else if (!strcmp(argv[i], "--duration")) {
			duration = atof(v);
			i++;
		} else if (!strcmp(argv[i], "--heap")) {
			heap_mib = (size_t)atol(v);
			i++;
		} else {
			fprintf(stderr, "usage: rtheap-hammer --alloc rtheap|rtheap-tc|glibc [--threads N] "
			                "[--cpu C] [--prio P] [--duration S] [--heap MIB]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 16 || heap_mib < 1) {
		fprintf(stderr, "rtheap-hammer: bad --threads or --heap\n");
		return 2;
	}
	if (use_rtheap) {
		struct rtheap_config cfg;
		int rc;
		bufsize = RTHEAP_BUFFER_SIZE(heap_mib << 20, RTHEAP_DEFAULT_PAGE);
		buf = mmap(NULL, bufsize, PROT_READ | PROT_WRITE,
		           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (buf == MAP_FAILED) {
			perror("rtheap-hammer: mmap");
			return 1;
		}
		if (mlock(buf, bufsize))
			fprintf(stderr, "rtheap-hammer: warning: mlock refused (%s)\n", strerror(errno));
		memset(&cfg, 0, sizeof(cfg));
		cfg.lock = RTHEAP_LOCK_PI_MUTEX;
		rc = rtheap_init(&heap, buf, bufsize, &cfg);
		if (rc) {
			fprintf(stderr, "rtheap-hammer: rtheap_init: %s\n", strerror(-rc));
			return 1;
		}
	}
#if HAMMER_TC
	if (use_tc) {
		struct rttcache_config tcfg;
		memset(&tcfg, 0, sizeof(tcfg));
		tcfg.max_size = 4096;
		tc = rttcache_create(&heap, &tcfg);
		if (!tc) {
			fprintf(stderr, "rtheap-hammer: rttcache_create: %s\n", strerror(errno));
			return 1;
		}
	}
#endif
	pthread_attr_init(&attr);
	clock_gettime(CLOCK_MONOTONIC, &wall0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	for (int i = 0; i < nthreads; i++) {
		cpu_set_t set;
		struct sched_param sp;
		memset(&ts[i], 0, sizeof(ts[i]));
		ts[i].id = (unsigned)i;
		if (pthread_create(&ts[i].th, &attr, worker, &ts[i])) {
			perror("rtheap-hammer: pthread_create");
			return 1;
		}
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		pthread_setaffinity_np(ts[i].th, sizeof(set), &set);
		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = prio;
		ts[i].fifo = pthread_setschedparam(ts[i].th, SCHED_FIFO, &sp) == 0;
		fifo_all &= ts[i].fifo;
	}
	if (!fifo_all)
		fprintf(stderr, "rtheap-hammer: warning: SCHED_FIFO refused, threads run SCHED_OTHER\n");
	{
		struct timespec d;
		d.tv_sec = (time_t)duration;
		d.tv_nsec = (long)((duration - (double)d.tv_sec) * 1e9);
		while (nanosleep(&d, &d) && errno == EINTR)
			;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	clock_gettime(CLOCK_MONOTONIC, &wall1);
	stop = 1;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ts[i].th, NULL);
		total += ts[i].ops;
		failed += ts[i].failed;
		if (ts[i].worst_ns > worst)
			worst = ts[i].worst_ns;
	}
	printf("rtheap-hammer: alloc=%s threads=%d cpu=%d fifo=%s ops=%llu failed=%llu worst_op_ns=%llu\n",
	       use_tc ? "rtheap-tc" : use_rtheap ? "rtheap" : "glibc", nthreads, cpu, fifo_all ? "yes" : "no", total,
	       failed, worst);
	wall_s = (double)(wall1.tv_sec - wall0.tv_sec) + (double)(wall1.tv_nsec - wall0.tv_nsec) / 1e9;
	cpu_s = (double)(cpu1.tv_sec - cpu0.tv_sec) + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
	report_throttling(worst, wall_s > 0 ? cpu_s / wall_s : 0, fifo_all);
#if HAMMER_TC
	if (use_tc)
		rttcache_destroy(tc);
#endif
	if (use_rtheap) {
		rtheap_destroy(&heap, NULL, NULL);
		munmap(buf, bufsize);
	}
	return 0;
}
