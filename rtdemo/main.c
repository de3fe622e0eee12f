/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- a real-time program using rtheap, end to end.
 *
 * main.c: options, setup (memory locking, the first heap buffer, threads),
 * the status loop, teardown and the exit code.  See README.md.
 */
#include "rtdemo.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static _Alignas(4096) unsigned char static_buf[RTDEMO_STATIC_KIB * 1024u];
static struct demo demo;

static void usage(FILE *f)
{
	fprintf(f,
"usage: rtdemo [options]\n"
"A periodic real-time thread allocates and frees messages from an rtheap;\n"
"a second one releases every other message it hands over; a helper\n"
"thread, woken by the heap's low-memory callback, adds extents.\n"
"\n"
"  --duration SEC     run time in seconds (default 10; 0 = until Ctrl-C)\n"
"  --cycles N         stop after N cycles instead (deterministic workload)\n"
"  --period-us US     period of the real-time thread (default 1000 = 1 kHz)\n"
"  --prio N           SCHED_FIFO priority (default 80)\n"
"  --cpu N            pin the real-time thread to CPU N\n"
"  --initial-kib N    first heap buffer (default 256)\n"
"  --extent-kib N     size of each extent the helper adds (default 512)\n"
"  --lowmem-kib N     low-memory threshold (default 128)\n"
"  --max-live N       largest number of live messages (default 4096)\n"
"  --lock pi|none|spin  heap lock (default pi: priority-inheritance mutex)\n"
"  --static           first buffer is a static array (max %u KiB),\n"
"                     not an mlocked mmap\n"
"  --status           print the live status line even if stdout is no tty\n"
"  --json FILE        also write the summary as JSON\n"
"  --seed N           seed of the workload (default 1)\n"
"  --second-prio N    SCHED_FIFO priority of the releaser thread\n"
"                     (default: --prio minus 1)\n"
"  --no-second        no releaser: the real-time thread frees everything\n"
"  --release-plain    releases through rtheap_free, not the per-thread\n"
"                     cache (which is used when built with liburcu)\n"
"  --help             this text\n"
"\n"
"Exit code 0 when no allocation failed and the heap is consistent\n"
"(rtheap_check) and empty after everything was freed; 1 otherwise.\n",
	        RTDEMO_STATIC_KIB);
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "rtdemo: warning: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* The releaser's options: 0 --second-prio, 1 --no-second,
 * 2 --release-plain.  Returns the name of a bad option, or NULL. */
static const char *parse_second_option(int which, const char *arg,
                                       struct options *o)
{
	uint64_t v;
	switch (which) {
	case 0:
		if (parse_u64(arg, 1, 99, &v))
			return "--second-prio (1 .. 99)";
		o->second_prio = (int)v;
		break;
	case 1:
		o->second = false;
		break;
	default:
		o->release_plain = true;
		break;
	}
	return NULL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DURATION = 256, O_CYCLES, O_PERIOD, O_PRIO, O_CPU, O_INITIAL,
	       O_EXTENT, O_LOWMEM, O_MAXLIVE, O_LOCK, O_STATIC, O_STATUS, O_JSON,
	       O_SEED, O_HELP, O_SECOND_PRIO, O_NO_SECOND, O_PLAIN };
	static const struct option longopts[] = {
		{"duration", required_argument, NULL, O_DURATION},
		{"cycles", required_argument, NULL, O_CYCLES},
		{"period-us", required_argument, NULL, O_PERIOD},
		{"prio", required_argument, NULL, O_PRIO},
		{"cpu", required_argument, NULL, O_CPU},
		{"initial-kib", required_argument, NULL, O_INITIAL},
		{"extent-kib", required_argument, NULL, O_EXTENT},
		{"lowmem-kib", required_argument, NULL, O_LOWMEM},
		{"max-live", required_argument, NULL, O_MAXLIVE},
		{"lock", required_argument, NULL, O_LOCK},
		{"static", no_argument, NULL, O_STATIC},
		{"status", no_argument, NULL, O_STATUS},
		{"json", required_argument, NULL, O_JSON},
		{"seed", required_argument, NULL, O_SEED},
		{"help", no_argument, NULL, O_HELP},
		{"second-prio", required_argument, NULL, O_SECOND_PRIO},
		{"no-second", no_argument, NULL, O_NO_SECOND},
		{"release-plain", no_argument, NULL, O_PLAIN},
		{NULL, 0, NULL, 0},
	};
	bool duration_set = false;
	uint64_t v;
	int c;

	*o = (struct options){
		.duration = 10.0, .period_us = 1000, .prio = 80, .cpu = -1,
		.initial_kib = 256, .extent_kib = 512, .lowmem_kib = 128,
		.max_live = 4096, .lock = RTHEAP_LOCK_PI_MUTEX, .seed = 1,
		.second = true,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case O_DURATION: {
			char *end;
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->duration >= 0) ||
			    o->duration > 1e7)
				bad = "--duration";
			duration_set = true;
			break;
		}
		case O_CYCLES:
			if (parse_u64(optarg, 1, UINT64_MAX, &o->cycles))
				bad = "--cycles";
			break;
		case O_PERIOD:
			if (parse_u64(optarg, 50, 1000000, &v))
				bad = "--period-us (50 .. 1000000)";
			o->period_us = (unsigned)v;
			break;
		case O_PRIO:
			if (parse_u64(optarg, 1, 99, &v))
				bad = "--prio (1 .. 99)";
			o->prio = (int)v;
			break;
		case O_CPU:
			if (parse_u64(optarg, 0, CPU_SETSIZE - 1, &v))
				bad = "--cpu";
			o->cpu = (int)v;
			break;
		case O_INITIAL:
			if (parse_u64(optarg, 16, 1u << 20, &v))
				bad = "--initial-kib (16 .. 1048576)";
			o->initial_kib = (size_t)v;
			break;
		case O_EXTENT:
			if (parse_u64(optarg, 64, 1u << 20, &v))
				bad = "--extent-kib (64 .. 1048576)";
			o->extent_kib = (size_t)v;
			break;
		case O_LOWMEM:
			if (parse_u64(optarg, 1, 1u << 20, &v))
				bad = "--lowmem-kib (1 .. 1048576)";
			o->lowmem_kib = (size_t)v;
			break;
		case O_MAXLIVE:
			if (parse_u64(optarg, 64, 1u << 24, &v))
				bad = "--max-live (64 .. 16777216)";
			o->max_live = (unsigned)v;
			break;
		case O_LOCK:
			if (strcmp(optarg, "pi") == 0)
				o->lock = RTHEAP_LOCK_PI_MUTEX;
			else if (strcmp(optarg, "none") == 0)
				o->lock = RTHEAP_LOCK_NONE;
			else if (strcmp(optarg, "spin") == 0)
				o->lock = RTHEAP_LOCK_SPIN;
			else
				bad = "--lock (pi, none or spin)";
			break;
		case O_STATIC:
			o->use_static = true;
			break;
		case O_STATUS:
			o->status = true;
			break;
		case O_JSON:
			o->json = optarg;
			break;
		case O_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				bad = "--seed";
			break;
		case O_SECOND_PRIO:
		case O_NO_SECOND:
		case O_PLAIN:
			bad = parse_second_option(c - O_SECOND_PRIO, optarg, o);
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "rtdemo: bad value for %s: %s\n", bad, optarg);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtdemo: unexpected argument: %s\n", argv[optind]);
		return -1;
	}
	if (o->cycles && !duration_set)
		o->duration = 0; /* the cycle count alone ends the run */
	if (o->use_static && o->initial_kib > RTDEMO_STATIC_KIB) {
		fprintf(stderr, "rtdemo: --static allows at most %u KiB\n",
		        RTDEMO_STATIC_KIB);
		return -1;
	}
	return 0;
}

/* Lock all memory (current and future mappings) when the lock limit
 * allows it.  An unprivileged process usually has a small limit (8 MiB on
 * Debian): mlockall would then make every later mmap beyond it fail, so
 * the demo rather locks the heap buffers one by one while the limit allows
 * and pre-faults whatever it could not lock. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RTDEMO_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RTDEMO_SANITIZED 1
#endif
#endif

static void lock_memory(struct demo *d)
{
	struct rlimit rl;
#ifdef RTDEMO_SANITIZED
	/* the sanitizers reserve terabytes of shadow memory: never lock it */
	(void)d;
	(void)rl;
	warn("%s", "sanitizer build: not calling mlockall");
	return;
#endif
	if (geteuid() != 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		warn("not calling mlockall: the lock limit is %llu KiB ('ulimit -l')"
		     "; heap buffers are locked one by one while it allows, the "
		     "rest is pre-faulted (run as root for locked memory)",
		     (unsigned long long)rl.rlim_cur / 1024);
		return;
	}
	d->mlockall_ok = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	if (!d->mlockall_ok)
		warn("mlockall failed (%s): memory is not locked, page faults may "
		     "add latency (run as root or raise 'ulimit -l')",
		     strerror(errno));
}

/* Smallest cost of a clock_gettime pair, subtracted from heap call times. */
static uint64_t timer_overhead(void)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 2000; i++) {
		uint64_t t0 = mono_ns();
		uint64_t t1 = mono_ns();
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return best;
}

static void touch(void *p, size_t n, size_t step)
{
	for (size_t off = 0; off < n; off += step)
		((volatile unsigned char *)p)[off] = 0; /* keeps it zero */
}

static int setup_first_buffer(struct demo *d)
{
	d->buf0_size = d->opt.initial_kib * 1024u;
	if (d->opt.use_static) {
		d->buf0 = static_buf; /* .bss: zero-filled, never used before */
		d->buf0_static = true;
	} else {
		void *p = mmap(NULL, d->buf0_size, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED) {
			perror("rtdemo: mmap");
			return -1;
		}
		d->buf0 = p;
	}
	d->buf0_locked = mlock(d->buf0, d->buf0_size) == 0;
	if (!d->buf0_locked) {
		warn("cannot mlock the first heap buffer (%s): touching it instead",
		     strerror(errno));
		touch(d->buf0, d->buf0_size, d->os_page);
	}
	struct rtheap_config cfg = {
		.lock = d->opt.lock,
		.flags = RTHEAP_F_ZEROED, /* fresh mmap or untouched .bss */
		.name = "rtdemo",
	};
	int rc = rtheap_init(&d->heap, d->buf0, d->buf0_size, &cfg);
	if (rc != 0) {
		fprintf(stderr, "rtdemo: rtheap_init failed: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

/* CPUs: with --cpu (or the spin lock, which needs the helper on another
 * CPU than the real-time thread) the helper runs on the other CPUs. */
static int plan_cpus(struct demo *d, cpu_set_t *rt_set, cpu_set_t *helper_set)
{
	cpu_set_t allowed;
	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
		perror("rtdemo: sched_getaffinity");
		return -1;
	}
	int count = CPU_COUNT(&allowed);
	int last = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			last = c;

	d->ext_mode = d->opt.lock == RTHEAP_LOCK_NONE ? EXT_HANDOFF : EXT_DIRECT;
	d->rt_cpu = d->opt.cpu;
	if (d->rt_cpu >= 0 && !CPU_ISSET(d->rt_cpu, &allowed)) {
		fprintf(stderr, "rtdemo: CPU %d is not available\n", d->rt_cpu);
		return -1;
	}
	if (d->opt.lock == RTHEAP_LOCK_SPIN) {
		if (count < 2) {
			warn("%s", "one CPU only: with the spin lock the helper "
			     "hands extents to the real-time thread");
			d->ext_mode = EXT_HANDOFF;
		} else if (d->rt_cpu < 0) {
			d->rt_cpu = last;
		}
	}
	*helper_set = allowed;
	CPU_ZERO(rt_set);
	if (d->rt_cpu >= 0) {
		CPU_SET(d->rt_cpu, rt_set);
		if (count >= 2)
			CPU_CLR(d->rt_cpu, helper_set);
	}
	return 0;
}

static int start_threads(struct demo *d, pthread_t *rt, pthread_t *helper)
{
	cpu_set_t rt_set, helper_set;
	pthread_attr_t attr;
	int rc;

	if (plan_cpus(d, &rt_set, &helper_set) != 0)
		return -1;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setaffinity_np(&attr, sizeof helper_set, &helper_set);
	rc = pthread_create(helper, &attr, helper_main, d);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		fprintf(stderr, "rtdemo: cannot start the helper: %s\n", strerror(rc));
		return -1;
	}

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (d->rt_cpu >= 0)
		pthread_attr_setaffinity_np(&attr, sizeof rt_set, &rt_set);
	struct sched_param sp = {.sched_priority = d->opt.prio};
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	rc = pthread_create(rt, &attr, rt_main, d);
	d->fifo = rc == 0;
	if (rc != 0) {
		warn("cannot use SCHED_FIFO (%s): the periodic thread runs with "
		     "SCHED_OTHER, its latencies are not real-time (run as root "
		     "or raise 'ulimit -r')", strerror(rc));
		pthread_attr_setinheritsched(&attr, PTHREAD_INHERIT_SCHED);
		rc = pthread_create(rt, &attr, rt_main, d);
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		fprintf(stderr, "rtdemo: cannot start the real-time thread: %s\n",
		        strerror(rc));
		atomic_store(&d->stop, true);
		sem_post(&d->helper_sem);
		pthread_join(*helper, NULL);
		return -1;
	}
	return 0;
}

/* The releaser: SCHED_FIFO at prio2 when permitted, on the RT thread's
 * CPU when --cpu pins that one. */
static int start_second(struct demo *d, pthread_t *rel)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (d->opt.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(d->opt.cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof set, &set);
	}
	struct sched_param sp = {.sched_priority = d->prio2};
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	int rc = pthread_create(rel, &attr, second_main, d);
	d->fifo2 = rc == 0;
	if (rc != 0) {
		pthread_attr_setinheritsched(&attr, PTHREAD_INHERIT_SCHED);
		rc = pthread_create(rel, &attr, second_main, d);
	}
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		fprintf(stderr, "rtdemo: cannot start the releaser thread: %s\n",
		        strerror(rc));
		return -1;
	}
	return 0;
}

/* End of the run: the RT thread first, then the releaser (which releases
 * what is left in the ring), then the helper. */
static void stop_threads(struct demo *d, pthread_t rt, pthread_t rel,
                         pthread_t helper, uint64_t t_start)
{
	atomic_store(&d->stop, true);
	pthread_join(rt, NULL);
	d->elapsed_s = (double)(mono_ns() - t_start) / 1e9;
	if (d->second_on) {
		atomic_store_explicit(&d->stop2, true, memory_order_release);
		pthread_join(rel, NULL);
	}
	sem_post(&d->helper_sem);
	pthread_join(helper, NULL);
}

/* Exit status: nothing failed, lost or damaged; heap consistent, empty. */
static bool run_passed(const struct demo *d)
{
	const struct rt_stats *s = &d->rt;
	const struct rel_stats *r = &d->rel;
	return s->failed_allocs == 0 && s->free_errors == 0 &&
	       s->corrupt == 0 && d->check_rc == 0 &&
	       s->ctl_failed == 0 && s->ctl_errors == 0 && s->ctl_corrupt == 0 &&
	       r->errors == 0 && r->corrupt == 0 && d->tc_destroy_rc == 0 &&
	       d->hand.handed == r->released &&
	       s->allocs == s->frees + r->released &&
	       d->final_stats.used == 0 && d->final_stats.live_blocks == 0;
}

/* Wait for the end of the run, printing the status line once a second. */
static void wait_for_end(struct demo *d, uint64_t t_start, bool status)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	uint64_t end = d->opt.duration > 0
	                       ? t_start + (uint64_t)(d->opt.duration * 1e9)
	                       : UINT64_MAX;
	uint64_t next_status = t_start + 1000000000u;
	for (;;) {
		uint64_t now = mono_ns();
		if (now >= end || atomic_load(&d->rt_done))
			break;
		if (status && now >= next_status) {
			print_status(d, (double)(now - t_start) / 1e9);
			next_status += 1000000000u;
		}
		uint64_t wait = 100000000u; /* 100 ms slices */
		if (end - now < wait)
			wait = end - now;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	if (status) {
		print_status(d, (double)(mono_ns() - t_start) / 1e9);
		putchar('\n');
	}
}

int main(int argc, char **argv)
{
	struct demo *d = &demo;
	pthread_t rt, helper, rel = pthread_self();

	if (parse_options(argc, argv, &d->opt) != 0)
		return 2;
	d->os_page = (size_t)sysconf(_SC_PAGESIZE);
	d->threshold = d->opt.lowmem_kib * 1024u;
	d->extent_bytes = d->opt.extent_kib * 1024u;
	d->reserve_run = 2u * MSG_MAX;
	d->rng = d->opt.seed ? d->opt.seed : 0x9E3779B97F4A7C15ULL;
	d->check_rc = -1;

	/* SIGINT / SIGTERM are taken by sigtimedwait in main only */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	lock_memory(d);
	d->timer_overhead_ns = timer_overhead();

	if (sem_init(&d->helper_sem, 0, 0) != 0) {
		perror("rtdemo: sem_init");
		return 1;
	}
	if (setup_first_buffer(d) != 0)
		return 1;
	if (rtheap_set_lowmem(&d->heap, d->threshold, on_lowmem, d) != 0) {
		fprintf(stderr, "rtdemo: rtheap_set_lowmem failed\n");
		return 1;
	}
	/* Large messages need contiguous runs: also call back when the largest
	 * free run drops below the reserve (the RT thread's own check of the
	 * statistics, every 16 cycles, stays as a second line). */
	if (rtheap_set_lowmem_run(&d->heap, d->reserve_run) != 0) {
		fprintf(stderr, "rtdemo: rtheap_set_lowmem_run failed\n");
		return 1;
	}

	/* The callback is armed only while free memory is at or above the
	 * threshold: start above it. */
	struct rtheap_stats st;
	rtheap_get_stats(&d->heap, &st);
	if (st.free < d->threshold || st.largest_free < d->reserve_run) {
		fprintf(stderr, "rtdemo: note: the first buffer is below the "
		        "low-memory threshold; adding extents before the start\n");
		while (st.free < d->threshold || st.largest_free < d->reserve_run) {
			int rc = add_extent_now(d, d->extent_bytes);
			if (rc != 0) {
				fprintf(stderr, "rtdemo: cannot extend the heap: %s\n",
				        strerror(-rc));
				return 1;
			}
			rtheap_get_stats(&d->heap, &st);
		}
	}
	atomic_store(&d->ext_ready, d->ext_count);
	atomic_store(&d->ext_consumed, d->ext_count);

	d->ring = calloc(d->opt.max_live, sizeof *d->ring);
	if (d->ring == NULL) {
		perror("rtdemo: calloc");
		return 1;
	}
	touch(d->ring, d->opt.max_live * sizeof *d->ring, d->os_page);
	rt_prepare(d);
	if (ctl_setup(d) != 0 || second_setup(d) != 0)
		return 1;

	bool status = d->opt.status || isatty(STDOUT_FILENO);
	uint64_t t_start = mono_ns();
	/* the releaser first: the RT thread reads second_on */
	if (d->second_on && start_second(d, &rel) != 0)
		d->second_on = false;
	if (start_threads(d, &rt, &helper) != 0)
		return 1;
	wait_for_end(d, t_start, status);
	stop_threads(d, rt, rel, helper, t_start);

	/* Single-threaded from here on. */
	rtheap_get_stats(&d->heap, &d->end_stats);
	d->live_at_end = rt_free_all(d);
	ctl_teardown(d);
	second_teardown(d);
	rtheap_get_stats(&d->heap, &d->final_stats);
	d->check_rc = rtheap_check(&d->heap, &d->fault);

	bool pass = run_passed(d);
	print_summary(d, pass);
	if (d->opt.json && write_json(d, d->opt.json, pass) != 0) {
		fprintf(stderr, "rtdemo: cannot write %s: %s\n", d->opt.json,
		        strerror(errno));
		pass = false;
	}

	rtheap_destroy(&d->heap, NULL, NULL);
	release_memory(d);
	free(d->ring);
	sem_destroy(&d->helper_sem);
	return pass ? 0 : 1;
}
