/* SPDX-License-Identifier: MIT */
/*
 * percpu.c -- per-CPU area benchmarks (group "percpu", run by --full or
 * --only percpu).
 *
 * Two workers (this executable with --percpu-worker), each on fresh heaps
 * (room for 1000 areas of 4000-byte instances) with the default page
 * (256 B), lock modes NONE and PI_MUTEX:
 *  - under valgrind --tool=icount (latency/vgtool): the exact instructions
 *    of each call, min / median / max over PC_CALLS calls: rtpercpu_ptr()
 *    (every CPU in turn), sched_getcpu(), rtpercpu_this(), rtpercpu_get(),
 *    rtpercpu_put(), rtpercpu_alloc() and rtpercpu_free() (PC_CALLS areas
 *    allocated, then released in reverse order) for an 8-byte and a
 *    4000-byte instance, and rtheap_alloc_aligned() / rtheap_free() of the
 *    same block for comparison.  Under valgrind glibc cannot register its
 *    rseq area (valgrind refuses the system call), so sched_getcpu() takes
 *    its fallback there (the vDSO, whose kernel-side work is not counted);
 *    the row shows what was counted;
 *  - natively: nanoseconds per call of the four access calls, the mean of
 *    10^6 calls (a loop; with rseq, no system call), best of 5 loops.
 * Output: a table on stdout, percpu.csv, a section of results.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/percpu.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define PC_CALLS 1000u
#define PC_MAX_ROWS 24
#define PC_NATIVE_CALLS 1000000u
#define PC_NATIVE_RUNS 5

struct pc_row {
	char call[48];
	char lock[12];
	uint32_t min, med, max;  /* instructions (icount) */
	double ns;               /* native mean, 0 if not timed */
};

/* What a worker hands back (a shared mapping of a memfd). */
struct pc_result {
	int status;              /* 0 ok, 1 skipped, 2 failed */
	char note[160];
	unsigned ncpu;
	unsigned nrows;
	struct pc_row rows[PC_MAX_ROWS];
};

static struct pc_result pc_icount_res, pc_native_res;
static int pc_ran;

/* ------------------------------------------------------------------ */
/* Worker side                                                         */
/* ------------------------------------------------------------------ */

/* A heap for PC_CALLS areas of 4000-byte instances (and some room). */
static size_t pc_heap_bytes(void)
{
	return (size_t)PC_CALLS * (64 + rtpercpu_nr_cpus() * (size_t)4032) / 4 * 5 + MIB;
}

static rtheap_t *pc_heap_new(rtheap_lock_mode_t lock)
{
	struct rtheap_config cfg;
	const size_t bytes = rig_buffer_size(pc_heap_bytes());
	rtheap_t *h = calloc(1, sizeof(*h));
	void *buf = rig_map_buffer(bytes);
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = lock;
	cfg.name = "latency-percpu";
	if (!h || !buf || rtheap_init(h, buf, bytes, &cfg)) {
		free(h);
		return NULL;
	}
	return h;
}

static struct pc_row *pc_add(struct pc_result *r, const char *call, const char *lock)
{
	struct pc_row *x;
	if (r->nrows >= PC_MAX_ROWS)
		return NULL;
	x = &r->rows[r->nrows++];
	memset(x, 0, sizeof(*x));
	snprintf(x->call, sizeof(x->call), "%s", call);
	snprintf(x->lock, sizeof(x->lock), "%s", lock);
	return x;
}

static int pc_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* min / median / max of n counts into a row. */
static void pc_stats(struct pc_result *r, const char *call, const char *lock,
                     uint32_t *v, size_t n)
{
	struct pc_row *x = pc_add(r, call, lock);
	if (!x || !n)
		return;
	qsort(v, n, sizeof(*v), pc_cmp);
	x->min = v[0];
	x->med = v[n / 2];
	x->max = v[n - 1];
}

#ifdef RIG_HAVE_VALGRIND_H
#define PC_REQ VG_USERREQ_TOOL_BASE('I', 'C')
static inline uint64_t pc_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, PC_REQ, 0, 0, 0, 0, 0);
}

/* Brackets: one call between two counter reads; the same code runs with
 * an empty function (two instructions: xor eax, eax; ret) to measure the
 * bracket, which is taken off (as latency/caches.c does). */
#if defined(__GNUC__) && !defined(__clang__)
#define PC_BRACKET __attribute__((noipa))
#else
#define PC_BRACKET __attribute__((noinline))
#endif
#define PC_NULL_INSTR 2u

typedef void *(*pc_ptr_fn)(const rtpercpu_t *, unsigned);
typedef void *(*pc_this_fn)(const rtpercpu_t *);
typedef int (*pc_put_fn)(const rtpercpu_t *);
typedef int (*pc_cpu_fn)(void);
typedef rtpercpu_t *(*pc_alloc_fn)(rtheap_t *, size_t, size_t);
typedef int (*pc_free_fn)(rtheap_t *, rtpercpu_t *);
typedef void *(*pc_halloc_fn)(rtheap_t *, size_t, size_t);
typedef int (*pc_hfree_fn)(rtheap_t *, void *);

static void *pc_null_ptr(const rtpercpu_t *p, unsigned c) { (void)p; (void)c; return NULL; }
static void *pc_null_this(const rtpercpu_t *p) { (void)p; return NULL; }
static int pc_null_put(const rtpercpu_t *p) { (void)p; return 0; }
static int pc_null_cpu(void) { return 0; }
static rtpercpu_t *pc_null_alloc(rtheap_t *h, size_t s, size_t a) { (void)h; (void)s; (void)a; return NULL; }
static int pc_null_free(rtheap_t *h, rtpercpu_t *p) { (void)h; (void)p; return 0; }
static void *pc_null_halloc(rtheap_t *h, size_t s, size_t a) { (void)h; (void)s; (void)a; return NULL; }
static int pc_null_hfree(rtheap_t *h, void *p) { (void)h; (void)p; return 0; }

#define PC_DEFINE_BRACKET(name, ret, fnt, params, args)                  \
	static PC_BRACKET uint32_t name(fnt fn, ret *out params)       \
	{                                                              \
		uint64_t c0 = pc_now(), c1;                            \
		ret v = fn args;                                       \
		c1 = pc_now();                                         \
		*out = v;                                              \
		return (uint32_t)(c1 - c0);                            \
	}
#define PC_P(...) __VA_ARGS__
PC_DEFINE_BRACKET(pc_b_ptr, void *, pc_ptr_fn, PC_P(, const rtpercpu_t *p, unsigned c), (p, c))
PC_DEFINE_BRACKET(pc_b_this, void *, pc_this_fn, PC_P(, const rtpercpu_t *p), (p))
PC_DEFINE_BRACKET(pc_b_put, int, pc_put_fn, PC_P(, const rtpercpu_t *p), (p))
PC_DEFINE_BRACKET(pc_b_cpu, int, pc_cpu_fn, , ())
PC_DEFINE_BRACKET(pc_b_alloc, rtpercpu_t *, pc_alloc_fn, PC_P(, rtheap_t *h, size_t s, size_t a), (h, s, a))
PC_DEFINE_BRACKET(pc_b_free, int, pc_free_fn, PC_P(, rtheap_t *h, rtpercpu_t *p), (h, p))
PC_DEFINE_BRACKET(pc_b_halloc, void *, pc_halloc_fn, PC_P(, rtheap_t *h, size_t s, size_t a), (h, s, a))
PC_DEFINE_BRACKET(pc_b_hfree, int, pc_hfree_fn, PC_P(, rtheap_t *h, void *p), (h, p))

/* Instructions of a count taken with the bracket, the bracket's own
 * (measured with the empty function: o) taken off. */
static uint32_t pc_net(uint32_t raw, uint32_t o)
{
	return raw > o ? raw - o + PC_NULL_INSTR : PC_NULL_INSTR;
}

/* The four access calls on area pc (counted PC_CALLS times each). */
static void pc_count_access(struct pc_result *r, rtpercpu_t *pc, uint32_t *v)
{
	void *p;
	int rc;
	const unsigned n = rtpercpu_nr_cpus();
	uint32_t o = pc_b_ptr(pc_null_ptr, &p, pc, 0);
	for (unsigned i = 0; i < PC_CALLS; i++)
		v[i] = pc_net(pc_b_ptr(rtpercpu_ptr, &p, pc, i % n), o);
	pc_stats(r, "rtpercpu_ptr", "-", v, PC_CALLS);
	o = pc_b_cpu(pc_null_cpu, &rc);
	for (unsigned i = 0; i < PC_CALLS; i++)
		v[i] = pc_net(pc_b_cpu(sched_getcpu, &rc), o);
	pc_stats(r, "sched_getcpu (no rseq under valgrind)", "-", v, PC_CALLS);
	o = pc_b_this(pc_null_this, &p, pc);
	for (unsigned i = 0; i < PC_CALLS; i++)
		v[i] = pc_net(pc_b_this(rtpercpu_this, &p, pc), o);
	pc_stats(r, "rtpercpu_this", "-", v, PC_CALLS);
	for (unsigned i = 0; i < PC_CALLS; i++)
		v[i] = pc_net(pc_b_this(rtpercpu_get, &p, pc), o);
	pc_stats(r, "rtpercpu_get", "-", v, PC_CALLS);
	o = pc_b_put(pc_null_put, &rc, pc);
	for (unsigned i = 0; i < PC_CALLS; i++)
		v[i] = pc_net(pc_b_put(rtpercpu_put, &rc, pc), o);
	pc_stats(r, "rtpercpu_put", "-", v, PC_CALLS);
}

/* PC_CALLS areas of @p size allocated, then released in reverse order;
 * 0, or -1 if one call failed. */
static int pc_count_areas(rtheap_t *h, size_t size, uint32_t *va, uint32_t *vf,
                          void **keep)
{
	rtpercpu_t *pc;
	int rc;
	uint32_t oa = pc_b_alloc(pc_null_alloc, &pc, h, size, 0);
	uint32_t of = pc_b_free(pc_null_free, &rc, h, NULL);
	for (unsigned i = 0; i < PC_CALLS; i++) {
		va[i] = pc_net(pc_b_alloc(rtpercpu_alloc, &pc, h, size, 0), oa);
		if (!(keep[i] = pc))
			return -1;
	}
	for (unsigned i = PC_CALLS; i-- > 0;) {
		vf[i] = pc_net(pc_b_free(rtpercpu_free, &rc, h, keep[i]), of);
		if (rc)
			return -1;
	}
	return 0;
}

/* The same blocks (@p bytes aligned to @p align) with the heap's calls. */
static int pc_count_blocks(rtheap_t *h, size_t bytes, size_t align, uint32_t *va,
                           uint32_t *vf, void **keep)
{
	int rc;
	uint32_t oa = pc_b_halloc(pc_null_halloc, &keep[0], h, bytes, align);
	uint32_t of = pc_b_hfree(pc_null_hfree, &rc, h, NULL);
	for (unsigned i = 0; i < PC_CALLS; i++) {
		va[i] = pc_net(pc_b_halloc(rtheap_alloc_aligned, &keep[i], h, bytes, align), oa);
		if (!keep[i])
			return -1;
	}
	for (unsigned i = PC_CALLS; i-- > 0;) {
		vf[i] = pc_net(pc_b_hfree(rtheap_free, &rc, h, keep[i]), of);
		if (rc)
			return -1;
	}
	return 0;
}

/* Allocation and release of areas of @p size, and of their blocks. */
static int pc_count_alloc(struct pc_result *r, rtheap_t *h, const char *lock,
                          size_t size, uint32_t *va, uint32_t *vf, void **keep)
{
	char name[48];
	struct rtpercpu_info in;
	rtpercpu_t *probe = rtpercpu_alloc(h, size, 0);
	if (!probe || rtpercpu_info(probe, &in) || rtpercpu_free(h, probe))
		return -1;
	if (pc_count_areas(h, size, va, vf, keep))
		return -1;
	snprintf(name, sizeof(name), "rtpercpu_alloc %zu B (block %zu B)", size, in.bytes);
	pc_stats(r, name, lock, va, PC_CALLS);
	snprintf(name, sizeof(name), "rtpercpu_free %zu B", size);
	pc_stats(r, name, lock, vf, PC_CALLS);
	if (pc_count_blocks(h, in.bytes, in.align, va, vf, keep))
		return -1;
	snprintf(name, sizeof(name), "  rtheap_alloc_aligned %zu B, %zu", in.bytes, in.align);
	pc_stats(r, name, lock, va, PC_CALLS);
	snprintf(name, sizeof(name), "  rtheap_free %zu B", in.bytes);
	pc_stats(r, name, lock, vf, PC_CALLS);
	return 0;
}

static void pc_icount(struct pc_result *r)
{
	static const size_t sizes[2] = { 8, 4000 };
	static const rtheap_lock_mode_t locks[2] = { RTHEAP_LOCK_NONE, RTHEAP_LOCK_PI_MUTEX };
	static const char *const lname[2] = { "none", "pi" };
	uint32_t *va = malloc(PC_CALLS * sizeof(uint32_t));
	uint32_t *vf = malloc(PC_CALLS * sizeof(uint32_t));
	void **keep = malloc(PC_CALLS * sizeof(void *));
	uint64_t c0;
	if (!RUNNING_ON_VALGRIND || (c0 = pc_now(), pc_now() == c0)) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "not under valgrind --tool=icount");
		return;
	}
	for (int l = 0; l < 2 && va && vf && keep; l++) {
		rtheap_t *h = pc_heap_new(locks[l]);
		rtpercpu_t *pc = h ? rtpercpu_alloc(h, 8, 0) : NULL;
		if (!pc) {
			r->status = 2;
			snprintf(r->note, sizeof(r->note), "no heap or area");
			return;
		}
		if (!l)
			pc_count_access(r, pc, va);
		for (int s = 0; s < 2; s++)
			if (pc_count_alloc(r, h, lname[l], sizes[s], va, vf, keep)) {
				r->status = 2;
				snprintf(r->note, sizeof(r->note), "an allocation failed");
				return;
			}
	}
	free(va);
	free(vf);
	free(keep);
}
#endif

static double pc_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One timed loop of PC_NATIVE_CALLS calls of access call @p op: ns per
 * call (the loop included). */
static double pc_loop(rtpercpu_t *pc, int op)
{
	volatile uintptr_t sink = 0;
	const unsigned n = rtpercpu_nr_cpus();
	double t0 = pc_ns();
	for (unsigned i = 0; i < PC_NATIVE_CALLS; i++) {
		switch (op) {
		case 0: sink += (uintptr_t)rtpercpu_ptr(pc, i % n); break;
		case 1: sink += (uintptr_t)sched_getcpu(); break;
		case 2: sink += (uintptr_t)rtpercpu_this(pc); break;
		default:
			sink += (uintptr_t)rtpercpu_get(pc);
			sink += (uintptr_t)rtpercpu_put(pc);
			break;
		}
	}
	(void)sink;
	return (pc_ns() - t0) / PC_NATIVE_CALLS;
}

/* Native: the access calls, the best of PC_NATIVE_RUNS loops each. */
static void pc_native(struct pc_result *r)
{
	static const char *const names[4] = { "rtpercpu_ptr", "sched_getcpu", "rtpercpu_this",
	                                       "rtpercpu_get + rtpercpu_put" };
	rtheap_t *h = pc_heap_new(RTHEAP_LOCK_NONE);
	rtpercpu_t *pc = h ? rtpercpu_alloc(h, 8, 0) : NULL;
	if (!pc) {
		r->status = 2;
		snprintf(r->note, sizeof(r->note), "no heap or area");
		return;
	}
	for (int op = 0; op < 4; op++) {
		struct pc_row *x = pc_add(r, names[op], "-");
		for (int k = 0; x && k < PC_NATIVE_RUNS; k++) {
			double ns = pc_loop(pc, op);
			x->ns = k && x->ns < ns ? x->ns : ns;
		}
	}
}

int percpu_worker_main(int argc, char **argv)
{
	int fd = -1, icount = 0;
	struct pc_result *r;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--result-fd"))
			fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--icount"))
			icount = atoi(argv[i + 1]);
	}
	if (fd < 0)
		return 2;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return 2;
	memset(r, 0, sizeof(*r));
	r->ncpu = rtpercpu_nr_cpus();
	if (!icount) {
		pc_native(r);
	} else {
#ifdef RIG_HAVE_VALGRIND_H
		pc_icount(r);
#else
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "built without valgrind/valgrind.h");
#endif
	}
	munmap(r, sizeof(*r));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver side                                                         */
/* ------------------------------------------------------------------ */

static int pc_wanted(void)
{
	return group_wanted("percpu", O.level == 2);
}

/* Run one worker (under valgrind if @p icount) into @p out. */
static void pc_run_worker(int icount, struct pc_result *out)
{
	char self[PATH_MAX], fds[16];
	int fd = memfd_create("rtheap-percpu", 0), st = 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid = -1;
	memset(out, 0, sizeof(*out));
	if (fd >= 0 && len > 0 && ftruncate(fd, sizeof(*out)) == 0) {
		self[len] = 0;
		snprintf(fds, sizeof(fds), "%d", fd);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			char *vg[] = { "valgrind", "--tool=icount", "-q", self, "--percpu-worker",
			               "--result-fd", fds, "--icount", "1", NULL };
			if (icount) {
				setenv("VALGRIND_LIB", vg_tool_dir(), 1);
				execvp(vg[0], vg);
			} else {
				execv(self, (char *[]){ self, "--percpu-worker", "--result-fd", fds,
				                        "--icount", "0", NULL });
			}
			_exit(127);
		}
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	struct pc_result *r = pid > 0 ? mmap(NULL, sizeof(*r), PROT_READ, MAP_SHARED, fd, 0)
	                              : MAP_FAILED;
	if (r != MAP_FAILED && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		*out = *r;
	} else {
		out->status = 2;
		snprintf(out->note, sizeof(out->note), "worker failed (status %d)", st);
	}
	if (r != MAP_FAILED)
		munmap(r, sizeof(*r));
	if (fd >= 0)
		close(fd);
}

void percpu_run(void)
{
	if (!pc_wanted())
		return;
	pc_ran = 1;
	fprintf(stderr, "percpu: native\n");
	pc_run_worker(0, &pc_native_res);
	if (O.icount && vg_tool_dir()) {
		fprintf(stderr, "percpu: icount\n");
		pc_run_worker(1, &pc_icount_res);
	} else {
		pc_icount_res.status = 1;
		snprintf(pc_icount_res.note, sizeof(pc_icount_res.note),
		         "instruction-count mode off (--no-icount, or the icount tool not built)");
	}
}

int percpu_failed(void)
{
	return pc_ran && (pc_icount_res.status == 2 || pc_native_res.status == 2);
}

void percpu_table(FILE *f)
{
	const char *hdr = "| call | heap lock | instr min | median | max |\n| --- | --- | ---: | ---: | ---: |\n";
	if (!pc_ran)
		return;
	fprintf(f, "\n## Per-CPU areas (group percpu; %u possible CPUs)\n\n", pc_native_res.ncpu);
	if (pc_icount_res.status) {
		fprintf(f, "instruction counts: %s\n", pc_icount_res.note);
	} else {
		fprintf(f, "Instructions per call, exact (valgrind --tool=icount; %u calls each):\n\n%s",
		        PC_CALLS, hdr);
		for (unsigned i = 0; i < pc_icount_res.nrows; i++) {
			const struct pc_row *x = &pc_icount_res.rows[i];
			fprintf(f, "| %s | %s | %u | %u | %u |\n", x->call, x->lock, x->min, x->med, x->max);
		}
	}
	fprintf(f, "\nNative, mean of %u calls, best of %d loops (no system call with rseq):\n\n"
	        "| call | ns per call |\n| --- | ---: |\n", PC_NATIVE_CALLS, PC_NATIVE_RUNS);
	for (unsigned i = 0; i < pc_native_res.nrows; i++)
		fprintf(f, "| %s | %.2f |\n", pc_native_res.rows[i].call, pc_native_res.rows[i].ns);
	if (pc_native_res.status)
		fprintf(f, "native run: %s\n", pc_native_res.note);
}

void percpu_write(void)
{
	char path[PATH_MAX];
	FILE *f;
	if (!pc_ran)
		return;
	snprintf(path, sizeof(path), "%s/percpu.csv", O.out);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "call,lock,instr_min,instr_median,instr_max,ns_native\n");
		for (unsigned i = 0; i < pc_icount_res.nrows; i++) {
			const struct pc_row *x = &pc_icount_res.rows[i];
			fprintf(f, "\"%s\",%s,%u,%u,%u,\n", x->call, x->lock, x->min, x->med, x->max);
		}
		for (unsigned i = 0; i < pc_native_res.nrows; i++)
			fprintf(f, "\"%s\",-,,,,%.3f\n", pc_native_res.rows[i].call,
			        pc_native_res.rows[i].ns);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/results.md", O.out);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "rtheap-latency: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	percpu_table(f);
	fclose(f);
}
