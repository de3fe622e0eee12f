/* SPDX-License-Identifier: MIT */
/*
 * main.c -- rtheap-latency: the driver of the latency harness.
 *
 *   rtheap-latency [--quick | --full | --tiny] [--out DIR] [options]
 *
 * Plans the cases (workload x heap size x extents x allocator x mode),
 * runs each in a worker process (this executable with --worker), and
 * writes: a table on stdout, latency.csv, icount.csv, throughput.csv,
 * fill.csv, results.json, histograms in cyclictest's -h layout (hist/)
 * and gnuplot plots (*.png).  See docs/latency.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rig.h"
#include "rtheap/rtheap.h"

#define MIB ((size_t)1 << 20)
#define MAX_CASES 512

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

struct opts {
	int level;            /* 0 tiny, 1 quick, 2 full */
	const char *out;
	uint64_t seed;
	unsigned replays;
	char allocs[256];
	char only[256];
	int cpu, prio, rt, icount, callgrind, plots, tune, force_clock;
};

static struct opts O;

static void usage(FILE *f)
{
	fprintf(f,
	"usage: rtheap-latency [--quick|--full|--tiny] [--out DIR] [options]\n"
	"  --quick          short traces, growth series up to 256 MiB (default; < 1 min)\n"
	"  --full           the figures of docs/latency.md (growth up to 1 GiB)\n"
	"  --tiny           smoke-test sizes (seconds)\n"
	"  --out DIR        output directory (default latency-out)\n"
	"  --seed N         trace seed (default 1)\n"
	"  --replays K      replays per case, per-op minimum kept (default 7)\n"
	"  --alloc LIST     comma-separated allocators (default: all built in)\n"
	"  --only LIST      only these groups: workload,growth,extents,throughput,fill,icount\n"
	"  --cpu N          CPU of the measuring thread (default: the last one)\n"
	"  --prio N         SCHED_FIFO priority (default 80)\n"
	"  --no-rt          do not ask for SCHED_FIFO\n"
	"  --no-icount      skip the instruction-count mode (valgrind)\n"
	"  --no-callgrind   skip the callgrind profile of rtheap\n"
	"  --no-plots       do not run gnuplot\n"
	"  --no-tune        run the peers with their default (non-RT) settings\n"
	"  --clock          time with clock_gettime instead of the TSC\n"
	"  --thp            back rtheap's buffers with transparent huge pages\n"
	"  --list           list the allocators built in and exit\n");
}

/* ------------------------------------------------------------------ */
/* Worker side                                                         */
/* ------------------------------------------------------------------ */

static int worker_main(int argc, char **argv)
{
	struct rig_case c;
	struct rig_result *r;
	int fd = -1;

	memset(&c, 0, sizeof(c));
	c.cpu = -1;
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--mode")) c.mode = (enum rig_mode)atoi(v);
		else if (!strcmp(k, "--wl")) c.wl = (enum rig_workload)atoi(v);
		else if (!strcmp(k, "--alloc")) snprintf(c.alloc, sizeof(c.alloc), "%s", v);
		else if (!strcmp(k, "--heap")) c.heap_bytes = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--extents")) c.extents = (unsigned)atoi(v);
		else if (!strcmp(k, "--churn")) c.churn = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--seed")) c.seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--replays")) c.replays = (unsigned)atoi(v);
		else if (!strcmp(k, "--cpu")) c.cpu = atoi(v);
		else if (!strcmp(k, "--prio")) c.rt_prio = atoi(v);
		else if (!strcmp(k, "--tune")) c.tune = atoi(v);
		else if (!strcmp(k, "--fill-dist")) c.fill_dist = atoi(v);
		else if (!strcmp(k, "--force-clock")) c.force_clock = atoi(v);
		else if (!strcmp(k, "--result-fd")) fd = atoi(v);
	}
	if (fd < 0)
		return 2;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return 2;
	rig_worker_main(&c, r);
	munmap(r, sizeof(*r));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver: running cases                                               */
/* ------------------------------------------------------------------ */

enum runner { RUN_NATIVE, RUN_ICOUNT, RUN_CALLGRIND };

struct rec {
	struct rig_case c;
	struct rig_result r;
	const char *group;    /* "workload", "growth", "extents", ... */
};

static struct rec *recs;
static size_t nrecs;
static char self_exe[PATH_MAX];
static int rt_fifo_ok = -1, rt_mlock_ok = -1;
static char rt_why[256];

static const char *vg_tool_dir(void)
{
	const char *e = getenv("RTHEAP_LATENCY_VGLIB");
	if (e)
		return e;
#ifdef RIG_VGTOOL_DIR
	return RIG_VGTOOL_DIR;
#else
	return NULL;
#endif
}

static int run_worker(const struct rig_case *c, struct rig_result *out,
                      enum runner how, const char *cgfile)
{
	char a[16][40];
	char *argv[64];
	int n = 0, fd, st;
	pid_t pid;
	struct rig_result *r;

	memset(out, 0, sizeof(*out));
	fd = memfd_create("rtheap-latency", 0);
	if (fd < 0 || ftruncate(fd, sizeof(*out)) < 0) {
		out->status = 2;
		snprintf(out->note, sizeof(out->note), "memfd: %s", strerror(errno));
		return -1;
	}
	if (how == RUN_ICOUNT) {
		argv[n++] = "valgrind";
		argv[n++] = "--tool=icount";
		argv[n++] = "--lines=yes";
		argv[n++] = "-q";
	} else if (how == RUN_CALLGRIND) {
		static char cgopt[PATH_MAX + 32];
		snprintf(cgopt, sizeof(cgopt), "--callgrind-out-file=%s", cgfile);
		argv[n++] = "valgrind";
		argv[n++] = "--tool=callgrind";
		argv[n++] = "-q";
		argv[n++] = "--collect-atstart=no";
		argv[n++] = cgopt;
	}
	argv[n++] = self_exe;
	argv[n++] = "--worker";
	{
		int k = 0;
#define ARG(key, fmt, val)                                          \
	do {                                                        \
		argv[n++] = key;                                    \
		snprintf(a[k], sizeof(a[0]), fmt, val);             \
		argv[n++] = a[k++];                                 \
	} while (0)
		ARG("--mode", "%d", (int)c->mode);
		ARG("--wl", "%d", (int)c->wl);
		ARG("--alloc", "%s", c->alloc);
		ARG("--heap", "%zu", c->heap_bytes);
		ARG("--extents", "%u", c->extents);
		ARG("--churn", "%zu", c->churn);
		ARG("--seed", "%llu", (unsigned long long)c->seed);
		ARG("--replays", "%u", c->replays);
		ARG("--cpu", "%d", c->cpu);
		ARG("--prio", "%d", c->rt_prio);
		ARG("--tune", "%d", c->tune);
		ARG("--fill-dist", "%d", c->fill_dist);
		ARG("--force-clock", "%d", c->force_clock);
		ARG("--result-fd", "%d", fd);
#undef ARG
	}
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *pre = rig_preload(c->alloc);
		if (pre)
			setenv("LD_PRELOAD", pre, 1);
		rig_tune_env(c->alloc, c->tune);
		if (how == RUN_ICOUNT && vg_tool_dir())
			setenv("VALGRIND_LIB", vg_tool_dir(), 1);
		if (how == RUN_CALLGRIND)
			setenv("RIG_CALLGRIND", "1", 1);
		if (how == RUN_NATIVE)
			execv(self_exe, argv);
		else
			execvp("valgrind", argv);
		fprintf(stderr, "rtheap-latency: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r != MAP_FAILED) {
		*out = *r;
		munmap(r, sizeof(*r));
	}
	close(fd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		out->status = 2;
		if (WIFSIGNALED(st))
			snprintf(out->note, sizeof(out->note), "worker killed by signal %d",
			         WTERMSIG(st));
		else if (WEXITSTATUS(st) == 127)
			snprintf(out->note, sizeof(out->note), "cannot start %s", argv[0]);
		else if (!out->note[0])
			snprintf(out->note, sizeof(out->note), "worker exit status %d",
			         WEXITSTATUS(st));
		return -1;
	}
	return 0;
}

static int in_list(const char *list, const char *name)
{
	char buf[256], *save = NULL, *tok;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, name))
			return 1;
	return 0;
}

static struct rec *add_case(const char *group, enum rig_mode mode,
                            enum rig_workload wl, const char *alloc,
                            size_t heap, unsigned extents, size_t churn)
{
	struct rec *x;
	static struct rec scratch;
	if (O.only[0] && !in_list(O.only, group))
		return &scratch; /* not run, not recorded */
	if (nrecs == MAX_CASES)
		return NULL;
	x = &recs[nrecs++];
	memset(x, 0, sizeof(*x));
	x->group = group;
	x->c.mode = mode;
	x->c.wl = wl;
	snprintf(x->c.alloc, sizeof(x->c.alloc), "%s", alloc);
	x->c.heap_bytes = heap;
	x->c.extents = extents;
	x->c.churn = churn;
	x->c.seed = O.seed;
	x->c.replays = O.replays;
	x->c.cpu = O.cpu;
	x->c.rt_prio = O.rt ? O.prio : 0;
	x->c.tune = O.tune;
	x->c.force_clock = O.force_clock;
	return x;
}

static int alloc_selected(const char *name)
{
	return !O.allocs[0] || in_list(O.allocs, name);
}

/* Ask a child for SCHED_FIFO and mlockall, to say up front what we get. */
static void probe_rt(void)
{
	int *res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	if (res == MAP_FAILED)
		return;
	res[0] = res[1] = res[2] = res[3] = 0;
	pid = fork();
	if (pid == 0) {
		struct sched_param sp;
		memset(&sp, 0, sizeof(sp));
		sp.sched_priority = O.prio;
		res[0] = O.rt ? sched_setscheduler(0, SCHED_FIFO, &sp) == 0 : 0;
		res[2] = res[0] ? 0 : errno;
		res[1] = mlockall(MCL_CURRENT) == 0;
		res[3] = res[1] ? 0 : errno;
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	rt_fifo_ok = res[0];
	rt_mlock_ok = res[1];
	rt_why[0] = 0;
	if (!O.rt)
		snprintf(rt_why, sizeof(rt_why), "SCHED_FIFO not requested (--no-rt)");
	else if (!rt_fifo_ok)
		snprintf(rt_why, sizeof(rt_why), "SCHED_FIFO refused: %s", strerror(res[2]));
	if (!rt_mlock_ok)
		snprintf(rt_why + strlen(rt_why), sizeof(rt_why) - strlen(rt_why),
		         "%smlockall refused: %s", rt_why[0] ? "; " : "", strerror(res[3]));
	munmap(res, 4096);
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

static FILE *open_out(const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", O.out, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "rtheap-latency: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

static const char *human(size_t bytes, char *buf, size_t len)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		snprintf(buf, len, "%zuG", bytes >> 30);
	else if (bytes >= MIB && bytes % MIB == 0)
		snprintf(buf, len, "%zuM", bytes >> 20);
	else
		snprintf(buf, len, "%zuK", bytes >> 10);
	return buf;
}

static const char *tag_of(const struct rec *x, char *buf, size_t len)
{
	char h[32];
	snprintf(buf, len, "%s_%s_%ux", rig_workload_name(x->c.wl),
	         human(x->c.heap_bytes, h, sizeof(h)), x->c.extents ? x->c.extents : 1);
	return buf;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Same case (workload, heap, extents, mode) for another allocator. */
static int same_case(const struct rec *a, const struct rec *b)
{
	return a->c.mode == b->c.mode && a->c.wl == b->c.wl &&
	       a->c.heap_bytes == b->c.heap_bytes && a->c.extents == b->c.extents &&
	       a->c.fill_dist == b->c.fill_dist && !strcmp(a->group, b->group);
}

/*
 * The same measurement already listed under an earlier group, or NULL.
 * The growth series contains the heap size of the workload tables (16 MiB,
 * 1 MiB with --tiny), so that case belongs to both groups; it is run once
 * (see main) and its table and histograms are written once.
 */
static const struct rec *earlier_group(const struct rec *x)
{
	for (const struct rec *y = recs; y < x; y++)
		if (strcmp(y->group, x->group) && y->c.mode == x->c.mode &&
		    y->c.wl == x->c.wl && y->c.heap_bytes == x->c.heap_bytes &&
		    y->c.extents == x->c.extents && y->c.fill_dist == x->c.fill_dist)
			return y;
	return NULL;
}

static void print_ns(FILE *f, double v)
{
	if (v >= 100000)
		fprintf(f, " %7.0fu", v / 1000.0);
	else
		fprintf(f, " %8.0f", v);
}

static void table_timed(FILE *f, const char *group, const char *unit)
{
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		const struct rec *prev;
		int first = 1;
		char h[32];
		if (strcmp(x->group, group))
			continue;
		for (size_t j = 0; j < i; j++)
			if (same_case(&recs[j], x))
				first = 0;
		if (!first)
			continue;
		if ((prev = earlier_group(x)) != NULL) {
			fprintf(f, "\n%s workload %s, heap %s, %u extent%s: see the %s table above (same run)\n",
			        x->c.mode == MODE_ICOUNT ? "INSTRUCTIONS:" : "LATENCY:",
			        rig_workload_name(x->c.wl), human(x->c.heap_bytes, h, sizeof(h)),
			        x->c.extents ? x->c.extents : 1, x->c.extents > 1 ? "s" : "",
			        prev->group);
			continue;
		}
		fprintf(f, "\n%s workload %s, heap %s, %u extent%s, %llu ops%s\n",
		        x->c.mode == MODE_ICOUNT ? "INSTRUCTIONS:" : "LATENCY:",
		        rig_workload_name(x->c.wl), human(x->c.heap_bytes, h, sizeof(h)),
		        x->c.extents ? x->c.extents : 1, x->c.extents > 1 ? "s" : "",
		        (unsigned long long)x->r.nops,
		        x->c.mode == MODE_ICOUNT ? " (exact, one pass)" : "");
		fprintf(f, "%-10s |%s alloc: %8s %8s %8s %8s %8s %8s |%s free:  %8s %8s %8s %8s %8s %8s\n",
		        "allocator", "", "max", "p99.99", "p99.9", "p99", "p50",
		        x->c.mode == MODE_ICOUNT ? "lines max/p99.9/p50" : "rawmax", "", "max", "p99.99",
		        "p99.9", "p99", "p50", x->c.mode == MODE_ICOUNT ? "lines max/p99.9/p50" : "rawmax");
		for (size_t j = i; j < nrecs; j++) {
			struct rec *y = &recs[j];
			if (!same_case(x, y))
				continue;
			fprintf(f, "%-10s |", y->c.alloc);
			if (y->r.status) {
				fprintf(f, " %s: %s\n", y->r.status == 1 ? "skipped" : "FAILED",
				        y->r.note);
				continue;
			}
			for (int op = 0; op < 2; op++) {
				const struct rig_opstats *s = op ? &y->r.f : &y->r.a;
				fprintf(f, "%s", op ? " | free:  " : " alloc: ");
				if (y->c.mode == MODE_ICOUNT) {
					const struct rig_opstats *l = op ? &y->r.lf : &y->r.la;
					fprintf(f, " %8.0f %8.0f %8.0f %8.0f %8.0f  lines %3.0f/%3.0f/%3.0f",
					        s->max, s->p9999, s->p999, s->p99, s->p50, l->max, l->p999, l->p50);
					continue;
				}
				print_ns(f, s->max);
				print_ns(f, s->p9999);
				print_ns(f, s->p999);
				print_ns(f, s->p99);
				print_ns(f, s->p50);
				print_ns(f, s->rawmax);
			}
			if (y->r.failed)
				fprintf(f, "  (%llu failed allocs)", (unsigned long long)y->r.failed);
			fprintf(f, "\n");
		}
	}
	(void)unit;
}

/* What the per-case tables' columns mean, printed once above them. */
static void table_legend(FILE *f)
{
	int timed = 0, icount = 0;
	for (size_t i = 0; i < nrecs; i++) {
		timed |= recs[i].c.mode == MODE_TIMED;
		icount |= recs[i].c.mode == MODE_ICOUNT;
	}
	if (!timed && !icount)
		return;
	fprintf(f, "\nPER-CASE TABLES\n");
	if (timed)
		fprintf(f, "  LATENCY: ns; max and p99.99 .. p50 are over the per-op minima of %u replays;\n"
		           "    rawmax = largest single sample of any replay (interrupts, preemption included);\n"
		           "    a 'u' suffix means microseconds (values of 100 us and more): 101u = 101 us\n",
		        O.replays);
	if (icount)
		fprintf(f, "  INSTRUCTIONS: instructions per call (exact, one pass); lines: distinct 64-byte\n"
		           "    lines touched outside the stack, max/p99.9/p50\n");
}

static void write_latency_csv(void)
{
	FILE *f = open_out("latency.csv"), *g = open_out("icount.csv");
	if (!f || !g) {
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		return;
	}
	fprintf(f, "group,workload,heap_bytes,extents,allocator,op,count,failed_allocs,"
	           "p50_ns,p99_ns,p999_ns,p9999_ns,max_ns,rawmax_ns,mean_ns,replays,status\n");
	fprintf(g, "group,workload,heap_bytes,extents,allocator,op,count,"
	           "p50_instr,p99_instr,p999_instr,p9999_instr,max_instr,mean_instr,"
	           "p50_lines,p999_lines,max_lines,status\n");
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		if (x->c.mode != MODE_TIMED && x->c.mode != MODE_ICOUNT)
			continue;
		for (int op = 0; op < 2; op++) {
			const struct rig_opstats *s = op ? &x->r.f : &x->r.a;
			FILE *o = x->c.mode == MODE_TIMED ? f : g;
			fprintf(o, "%s,%s,%zu,%u,%s,%s,%llu,", x->group, rig_workload_name(x->c.wl),
			        x->c.heap_bytes, x->c.extents ? x->c.extents : 1, x->c.alloc,
			        op ? "free" : "alloc", (unsigned long long)s->count);
			if (x->c.mode == MODE_TIMED)
				fprintf(o, "%llu,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%u,",
				        (unsigned long long)x->r.failed, s->p50, s->p99, s->p999,
				        s->p9999, s->max, s->rawmax, s->mean, x->c.replays);
			else {
				const struct rig_opstats *l = op ? &x->r.lf : &x->r.la;
				fprintf(o, "%.0f,%.0f,%.0f,%.0f,%.0f,%.1f,%.0f,%.0f,%.0f,", s->p50, s->p99,
				        s->p999, s->p9999, s->max, s->mean, l->p50, l->p999, l->max);
			}
			csv_str(o, x->r.status == 0 ? "ok" : x->r.note);
			fputc('\n', o);
		}
	}
	fclose(f);
	fclose(g);
}

static void write_other_csv(void)
{
	FILE *f = open_out("throughput.csv"), *g = open_out("fill.csv");
	if (!f || !g) {
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		return;
	}
	fprintf(f, "workload,heap_bytes,allocator,ops,ns_per_op_best,ns_per_op_median,replays,status\n");
	fprintf(g, "distribution,buffer_bytes,allocator,usable_pct_min,usable_pct_avg,"
	           "usable_pct_max,rounded_pct_avg,blocks_avg,seeds,status\n");
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		if (x->c.mode == MODE_TPUT) {
			fprintf(f, "%s,%zu,%s,%llu,%.2f,%.2f,%u,", rig_workload_name(x->c.wl),
			        x->c.heap_bytes, x->c.alloc, (unsigned long long)x->r.nops,
			        x->r.ns_per_op, x->r.ns_per_op_median, x->c.replays);
			csv_str(f, x->r.status == 0 ? "ok" : x->r.note);
			fputc('\n', f);
		} else if (x->c.mode == MODE_FILL) {
			fprintf(g, "%s,%zu,%s,%.2f,%.2f,%.2f,%.2f,%.0f,%u,",
			        x->c.fill_dist ? "log16-65536" : "uniform16-4096", x->c.heap_bytes,
			        x->c.alloc, x->r.fill_pct_min, x->r.fill_pct_avg, x->r.fill_pct_max,
			        x->r.fill_round_avg, x->r.fill_blocks_avg, x->c.replays);
			csv_str(g, x->r.status == 0 ? "ok" : x->r.note);
			fputc('\n', g);
		}
	}
	fclose(f);
	fclose(g);
}

static const char *mode_name(enum rig_mode m)
{
	static const char *const n[] = { "timed", "throughput", "icount", "fill" };
	return n[m];
}

/* Kernel clocksource behind clock_gettime (tsc, kvm-clock, hpet, ...). */
static const char *kernel_clocksource(void)
{
	static char cs[64];
	FILE *f;
	if (cs[0])
		return cs;
	snprintf(cs, sizeof(cs), "unknown");
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fgets(cs, sizeof(cs), f))
			cs[strcspn(cs, "\n")] = 0;
		fclose(f);
	}
	return cs;
}

/* Why the timed cases did not use the TSC ("" when they did). */
static const char *timer_why(const struct rec *x)
{
	if (x->r.timer_tsc)
		return "";
	if (O.force_clock)
		return "--clock given";
	return x->r.timer_why[0] ? x->r.timer_why : "reason unknown";
}

static void write_json(double elapsed)
{
	FILE *f = open_out("results.json");
	struct utsname u;
	char cpu[256] = "unknown", line[512];
	FILE *ci = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	if (ci) {
		while (fgets(line, sizeof(line), ci))
			if (!strncmp(line, "model name", 10)) {
				char *p = strchr(line, ':');
				if (p) {
					snprintf(cpu, sizeof(cpu), "%s", p + 2);
					cpu[strcspn(cpu, "\n")] = 0;
				}
				break;
			}
		fclose(ci);
	}
	uname(&u);
	fprintf(f, "{\n  \"meta\": {\"tool\": \"rtheap-latency\", \"rtheap_version\": ");
	json_str(f, rtheap_version());
	fprintf(f, ", \"mode\": \"%s\", \"seed\": %llu, \"replays\": %u, \"cpu\": %d, "
	           "\"cpus_online\": %ld, \"sched_fifo\": %s, \"mlockall\": %s, \"rt_note\": ",
	        O.level == 2 ? "full" : O.level == 1 ? "quick" : "tiny",
	        (unsigned long long)O.seed, O.replays, O.cpu, sysconf(_SC_NPROCESSORS_ONLN),
	        rt_fifo_ok > 0 ? "true" : "false", rt_mlock_ok > 0 ? "true" : "false");
	json_str(f, rt_why);
	fprintf(f, ", \"peers_tuned\": %s, \"rtheap_thp\": %s, \"kernel\": ",
	        O.tune ? "true" : "false", getenv("RIG_THP") ? "true" : "false");
	json_str(f, u.release);
	fprintf(f, ", \"kernel_version\": ");
	json_str(f, u.version);
	fprintf(f, ", \"cpu_model\": ");
	json_str(f, cpu);
	fprintf(f, ", \"skipped_at_build\": ");
	json_str(f, rig_skipped_at_build);
	fprintf(f, ", \"elapsed_s\": %.1f", elapsed);
	{
		double tpn = 0;
		int tsc = 0;
		const char *why = "no timed case";
		for (size_t i = 0; i < nrecs; i++)
			if (recs[i].c.mode == MODE_TIMED && !recs[i].r.status) {
				tpn = recs[i].r.ticks_per_ns;
				tsc = recs[i].r.timer_tsc;
				why = timer_why(&recs[i]);
				break;
			}
		fprintf(f, ", \"timer\": \"%s\", \"tsc_ghz\": %.4f, \"timer_note\": ",
		        tsc ? "tsc" : "clock_gettime", tsc ? tpn : 0.0);
		json_str(f, why);
		fprintf(f, ", \"clocksource\": ");
		json_str(f, kernel_clocksource());
	}
	fprintf(f, "},\n  \"results\": [\n");
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		fprintf(f, "    {\"group\": \"%s\", \"mode\": \"%s\", \"workload\": \"%s\", "
		           "\"heap_bytes\": %zu, \"extents\": %u, \"allocator\": \"%s\", \"status\": \"%s\", \"note\": ",
		        x->group, mode_name(x->c.mode), x->c.mode == MODE_FILL
		        ? (x->c.fill_dist ? "fill-log16-65536" : "fill-uniform16-4096")
		        : rig_workload_name(x->c.wl),
		        x->c.heap_bytes, x->c.extents ? x->c.extents : 1, x->c.alloc,
		        x->r.status == 0 ? "ok" : x->r.status == 1 ? "skipped" : "failed");
		json_str(f, x->r.note);
		if (x->r.status == 0) {
			if (x->c.mode == MODE_TIMED || x->c.mode == MODE_ICOUNT) {
				fprintf(f, ", \"unit\": \"%s\", \"ops\": %llu, \"failed_allocs\": %llu",
				        x->c.mode == MODE_TIMED ? "ns" : "instructions",
				        (unsigned long long)x->r.nops, (unsigned long long)x->r.failed);
				for (int op = 0; op < 2; op++) {
					const struct rig_opstats *s = op ? &x->r.f : &x->r.a;
					fprintf(f, ", \"%s\": {\"count\": %llu, \"p50\": %.1f, \"p99\": %.1f, "
					           "\"p99.9\": %.1f, \"p99.99\": %.1f, \"max\": %.1f, "
					           "\"rawmax\": %.1f, \"mean\": %.2f}",
					        op ? "free" : "alloc", (unsigned long long)s->count, s->p50,
					        s->p99, s->p999, s->p9999, s->max, s->rawmax, s->mean);
				}
				if (x->c.mode == MODE_ICOUNT)
					for (int op = 0; op < 2; op++) {
						const struct rig_opstats *l = op ? &x->r.lf : &x->r.la;
						fprintf(f, ", \"%s_lines\": {\"p50\": %.0f, \"p99.9\": %.0f, \"max\": %.0f}",
						        op ? "free" : "alloc", l->p50, l->p999, l->max);
					}
			} else if (x->c.mode == MODE_TPUT) {
				fprintf(f, ", \"ops\": %llu, \"ns_per_op\": %.2f, \"ns_per_op_median\": %.2f",
				        (unsigned long long)x->r.nops, x->r.ns_per_op, x->r.ns_per_op_median);
			} else {
				fprintf(f, ", \"usable_pct_min\": %.2f, \"usable_pct_avg\": %.2f, "
				           "\"usable_pct_max\": %.2f, \"rounded_pct_avg\": %.2f, \"blocks_avg\": %.0f",
				        x->r.fill_pct_min, x->r.fill_pct_avg, x->r.fill_pct_max,
				        x->r.fill_round_avg, x->r.fill_blocks_avg);
			}
		}
		fprintf(f, "}%s\n", i + 1 < nrecs ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
}

/* Histograms in cyclictest's -h layout: one line per bucket, one column
 * per allocator, then the summary lines cyclictest prints. */
static void write_hist(const struct rec *x0, int op, const char *path_tag)
{
	char name[256];
	const struct rec *cols[16];
	int nc = 0;
	size_t last = 0;
	FILE *f;

	for (size_t j = 0; j < nrecs && nc < 16; j++)
		if (same_case(x0, &recs[j]) && !recs[j].r.status)
			cols[nc++] = &recs[j];
	if (!nc)
		return;
	snprintf(name, sizeof(name), "hist/%s_%s.txt", path_tag, op ? "free" : "alloc");
	f = open_out(name);
	if (!f)
		return;
	for (int c = 0; c < nc; c++) {
		const struct rig_opstats *s = op ? &cols[c]->r.f : &cols[c]->r.a;
		for (size_t b = 0; b < RIG_HIST_BUCKETS; b++)
			if (s->hist[b] && b > last)
				last = b;
	}
	fprintf(f, "# Histogram of per-operation minima over %u replays: %s, %s\n",
	        x0->c.replays, path_tag, op ? "free" : "alloc");
	fprintf(f, "# bucket = %d ns (first column: lower bound in ns); columns:", RIG_HIST_NS);
	for (int c = 0; c < nc; c++)
		fprintf(f, " %s", cols[c]->c.alloc);
	fprintf(f, "\n");
	for (size_t b = 0; b <= last; b++) {
		fprintf(f, "%06zu", b * RIG_HIST_NS);
		for (int c = 0; c < nc; c++) {
			const struct rig_opstats *s = op ? &cols[c]->r.f : &cols[c]->r.a;
			fprintf(f, " %06u", s->hist[b]);
		}
		fprintf(f, "\n");
	}
#define SUMMARY(label, expr)                                            \
	do {                                                            \
		fprintf(f, "# %s", label);                              \
		for (int c = 0; c < nc; c++) {                          \
			const struct rig_opstats *s = op ? &cols[c]->r.f : &cols[c]->r.a; \
			fprintf(f, " %05.0f", (double)(expr));          \
		}                                                       \
		fprintf(f, "\n");                                       \
	} while (0)
	SUMMARY("Total:", s->count);
	SUMMARY("Min Latencies:", s->min);
	SUMMARY("Avg Latencies:", s->mean);
	SUMMARY("Max Latencies:", s->max);
	SUMMARY("Histogram Overflows:", s->overflow);
#undef SUMMARY
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* gnuplot                                                             */
/* ------------------------------------------------------------------ */

static int have_gnuplot(void)
{
	return system("gnuplot --version >/dev/null 2>&1") == 0;
}

static void run_gnuplot(const char *script)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot '%s' 2>gnuplot.log", O.out, script);
	if (system(cmd) != 0)
		fprintf(stderr, "rtheap-latency: gnuplot %s failed (see %s/gnuplot.log)\n",
		        script, O.out);
}

/* Distribution plot: for each allocator the share of operations whose
 * per-op minimum is at least x (complementary CDF), log-log. */
static void plot_dist(const struct rec *x0, const char *tag)
{
	char name[256], dat[256];
	FILE *f;
	int nc = 0;
	const struct rec *cols[16];
	size_t last = 0;

	for (size_t j = 0; j < nrecs && nc < 16; j++)
		if (same_case(x0, &recs[j]) && !recs[j].r.status)
			cols[nc++] = &recs[j];
	if (!nc)
		return;
	for (int op = 0; op < 2; op++) {
		snprintf(dat, sizeof(dat), "hist/%s_%s.ccdf", tag, op ? "free" : "alloc");
		f = open_out(dat);
		if (!f)
			return;
		fprintf(f, "# ns, then per allocator: share of operations >= ns\n");
		for (int c = 0; c < nc; c++) {
			const struct rig_opstats *s = op ? &cols[c]->r.f : &cols[c]->r.a;
			for (size_t b = 0; b < RIG_HIST_BUCKETS; b++)
				if (s->hist[b] && b > last)
					last = b;
		}
		for (size_t b = 0; b <= last + 1 && b < RIG_HIST_BUCKETS; b++) {
			fprintf(f, "%zu", b * RIG_HIST_NS);
			for (int c = 0; c < nc; c++) {
				const struct rig_opstats *s = op ? &cols[c]->r.f : &cols[c]->r.a;
				uint64_t above = s->overflow;
				for (size_t k = b; k < RIG_HIST_BUCKETS; k++)
					above += s->hist[k];
				if (above && s->count)
					fprintf(f, " %.9g", (double)above / (double)s->count);
				else
					fprintf(f, " NaN");
			}
			fprintf(f, "\n");
		}
		fclose(f);
	}
	snprintf(name, sizeof(name), "plot_dist_%s.gp", tag);
	f = open_out(name);
	if (!f)
		return;
	fprintf(f, "set terminal pngcairo noenhanced size 1100,460 font ',10'\n"
	           "set output 'dist_%s.png'\n"
	           "set multiplot layout 1,2 title 'Share of operations at least this slow (per-op minimum over %u replays), %s'\n"
	           "set logscale y\nset logscale x\nset xlabel 'ns'\nset ylabel 'share of operations'\n"
	           "set format y '1e%%T'\nset grid\nset key top right\nset xrange [10:*]\n",
	        tag, x0->c.replays, tag);
	for (int op = 0; op < 2; op++) {
		fprintf(f, "set title '%s'\nplot ", op ? "free" : "alloc");
		for (int c = 0; c < nc; c++)
			fprintf(f, "%s'hist/%s_%s.ccdf' using 1:%d with steps lw 1.5 title '%s'",
			        c ? ", " : "", tag, op ? "free" : "alloc", c + 2, cols[c]->c.alloc);
		fprintf(f, "\n");
	}
	fprintf(f, "unset multiplot\n");
	fclose(f);
	run_gnuplot(name);
}

static void plot_series(const char *group, const char *file, const char *xlabel,
                        int by_extents)
{
	char dat[64], gp[64];
	const char *names[16];
	int nc = 0;
	FILE *f;
	size_t xs[16];
	int nx = 0;

	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		size_t xv = by_extents ? x->c.extents : x->c.heap_bytes;
		int seen = 0;
		if (strcmp(x->group, group) || x->c.mode != MODE_TIMED)
			continue;
		for (int c = 0; c < nc; c++)
			if (!strcmp(names[c], x->c.alloc))
				seen = 1;
		if (!seen && nc < 16)
			names[nc++] = x->c.alloc;
		seen = 0;
		for (int k = 0; k < nx; k++)
			if (xs[k] == xv)
				seen = 1;
		if (!seen && nx < 16)
			xs[nx++] = xv;
	}
	if (!nc || !nx)
		return;
	snprintf(dat, sizeof(dat), "%s.dat", file);
	f = open_out(dat);
	if (!f)
		return;
	fprintf(f, "# x");
	for (int c = 0; c < nc; c++)
		fprintf(f, " %s_alloc_max %s_free_max", names[c], names[c]);
	fprintf(f, "\n");
	for (int k = 0; k < nx; k++) {
		fprintf(f, "%g", by_extents ? (double)xs[k] : (double)xs[k] / (double)MIB);
		for (int c = 0; c < nc; c++) {
			struct rec *hit = NULL;
			for (size_t i = 0; i < nrecs; i++) {
				struct rec *x = &recs[i];
				size_t xv = by_extents ? x->c.extents : x->c.heap_bytes;
				if (!strcmp(x->group, group) && x->c.mode == MODE_TIMED &&
				    xv == xs[k] && !strcmp(x->c.alloc, names[c]) && !x->r.status)
					hit = x;
			}
			if (hit)
				fprintf(f, " %.1f %.1f", hit->r.a.max, hit->r.f.max);
			else
				fprintf(f, " NaN NaN");
		}
		fprintf(f, "\n");
	}
	fclose(f);
	snprintf(gp, sizeof(gp), "plot_%s.gp", file);
	f = open_out(gp);
	if (!f)
		return;
	fprintf(f, "set terminal pngcairo noenhanced size 1100,460 font ',10'\nset output '%s.png'\n"
	           "set multiplot layout 1,2 title 'Worst case (max of per-op minima over %u replays), small workload'\n"
	           "set logscale x 2\nset logscale y\nset grid\nset key top left\n"
	           "set xlabel '%s'\nset ylabel 'ns'\n", file, O.replays, xlabel);
	for (int op = 0; op < 2; op++) {
		fprintf(f, "set title '%s'\nplot ", op ? "free" : "alloc");
		for (int c = 0; c < nc; c++)
			fprintf(f, "%s'%s' using 1:%d with linespoints lw 1.5 pt 7 title '%s'",
			        c ? ", " : "", dat, 2 + 2 * c + op, names[c]);
		fprintf(f, "\n");
	}
	fprintf(f, "unset multiplot\n");
	fclose(f);
	run_gnuplot(gp);
}

/* ------------------------------------------------------------------ */
/* Planning                                                            */
/* ------------------------------------------------------------------ */

static void plan(void)
{
	const size_t base = O.level ? 16 * MIB : 1 * MIB;
	const size_t churn = O.level == 2 ? 200000 : O.level == 1 ? 30000 : 2000;
	size_t growth[4] = { 1 * MIB, 16 * MIB, 256 * MIB, 1024 * MIB };
	int ngrowth = O.level == 2 ? 4 : O.level == 1 ? 3 : 2;
	size_t ext_total = O.level ? 64 * MIB : 4 * MIB;
	unsigned exts[3] = { 1, 8, 64 };
	struct rec *x;

	if (!O.level)
		growth[1] = 4 * MIB;
	for (int wl = 0; wl < WL_COUNT; wl++)
		for (int a = 0; rig_allocs[a]; a++)
			if (alloc_selected(rig_allocs[a]->name))
				add_case("workload", MODE_TIMED, (enum rig_workload)wl,
				         rig_allocs[a]->name, base, 1, churn);
	for (int g = 0; g < ngrowth; g++)
		for (int a = 0; rig_allocs[a]; a++)
			if (alloc_selected(rig_allocs[a]->name))
				add_case("growth", MODE_TIMED, WL_SMALL, rig_allocs[a]->name,
				         growth[g], 1, churn);
	if (alloc_selected("rtheap"))
		for (int e = 0; e < 3; e++)
			add_case("extents", MODE_TIMED, WL_SMALL, "rtheap", ext_total, exts[e], churn);
	for (int a = 0; rig_allocs[a]; a++)
		if (alloc_selected(rig_allocs[a]->name))
			add_case("throughput", MODE_TPUT, WL_SMALL, rig_allocs[a]->name, base, 1, churn);
	for (int d = 0; d < 2; d++)
		for (int a = 0; rig_allocs[a]; a++)
			if (alloc_selected(rig_allocs[a]->name) &&
			    strcmp(rig_allocs[a]->name, "rtheap-pi")) {
				x = add_case("fill", MODE_FILL, WL_SMALL, rig_allocs[a]->name,
				             16 * MIB, 1, 0);
				if (x)
					x->c.fill_dist = d;
			}
	if (O.icount) {
		size_t ih[2] = { 1 * MIB, O.level == 2 ? 1024 * MIB : O.level ? 16 * MIB : 4 * MIB };
		for (int h = 0; h < 2; h++)
			for (int a = 0; rig_allocs[a]; a++)
				if (alloc_selected(rig_allocs[a]->name) &&
				    (O.level == 2 || (O.level == 1 && h == 0) ||
				     !strcmp(rig_allocs[a]->name, "rtheap")))
					add_case("icount", MODE_ICOUNT, WL_SMALL, rig_allocs[a]->name,
					         ih[h], 1, churn);
		if (alloc_selected("rtheap"))
			add_case("icount", MODE_ICOUNT, WL_SMALL, "rtheap", ext_total, 64, churn);
		if (O.level == 2)
			for (int wl = WL_MIXED; wl < WL_COUNT; wl++)
				for (int a = 0; rig_allocs[a]; a++)
					if (alloc_selected(rig_allocs[a]->name))
						add_case("icount", MODE_ICOUNT, (enum rig_workload)wl,
						         rig_allocs[a]->name, base, 1, churn);
	}
}

static void progress(size_t i, const struct rec *x)
{
	char h[32];
	fprintf(stderr, "\r[%3zu/%zu] %-10s %-6s %-9s %5s x%-2u %-10s", i + 1, nrecs, x->group,
	        mode_name(x->c.mode), rig_workload_name(x->c.wl),
	        human(x->c.heap_bytes, h, sizeof(h)), x->c.extents, x->c.alloc);
	fflush(stderr);
}

static const struct rec *find(const char *group, enum rig_mode m, enum rig_workload wl,
                              size_t heap, unsigned ext, const char *alloc, int dist)
{
	for (size_t i = 0; i < nrecs; i++) {
		const struct rec *x = &recs[i];
		if (!strcmp(x->group, group) && x->c.mode == m && x->c.wl == wl &&
		    (!heap || x->c.heap_bytes == heap) && (!ext || x->c.extents == ext) &&
		    !strcmp(x->c.alloc, alloc) && x->c.fill_dist == dist)
			return x;
	}
	return NULL;
}

static void summary_tables(FILE *f)
{
	char h[32];
	size_t growth_min = 0, growth_max = 0;
	for (size_t i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].group, "growth")) {
			if (!growth_min || recs[i].c.heap_bytes < growth_min)
				growth_min = recs[i].c.heap_bytes;
			if (recs[i].c.heap_bytes > growth_max)
				growth_max = recs[i].c.heap_bytes;
		}
	fprintf(f, "\nWORST CASE (max of per-op minima, ns) ACROSS WORKLOADS, alloc / free\n");
	fprintf(f, "%-10s", "allocator");
	for (int wl = 0; wl < WL_COUNT; wl++)
		fprintf(f, " | %17s", rig_workload_name((enum rig_workload)wl));
	fprintf(f, " | growth %s->%s x\n", human(growth_min, h, sizeof(h)),
	        human(growth_max, h + 16, 16));
	for (int a = 0; rig_allocs[a]; a++) {
		const struct rec *lo, *hi;
		if (!alloc_selected(rig_allocs[a]->name))
			continue;
		fprintf(f, "%-10s", rig_allocs[a]->name);
		for (int wl = 0; wl < WL_COUNT; wl++) {
			const struct rec *x = find("workload", MODE_TIMED, (enum rig_workload)wl, 0, 0,
			                           rig_allocs[a]->name, 0);
			if (x && !x->r.status)
				fprintf(f, " | %8.0f %8.0f", x->r.a.max, x->r.f.max);
			else
				fprintf(f, " | %17s", "n/a");
		}
		lo = find("growth", MODE_TIMED, WL_SMALL, growth_min, 0, rig_allocs[a]->name, 0);
		hi = find("growth", MODE_TIMED, WL_SMALL, growth_max, 0, rig_allocs[a]->name, 0);
		if (lo && hi && !lo->r.status && !hi->r.status && lo->r.a.max > 0 && lo->r.f.max > 0)
			fprintf(f, " | %5.2f %5.2f", hi->r.a.max / lo->r.a.max, hi->r.f.max / lo->r.f.max);
		fprintf(f, "\n");
	}

	fprintf(f, "\nTHROUGHPUT, small workload, whole trace timed (ns per operation)\n");
	{
		const struct rec *rt = find("throughput", MODE_TPUT, WL_SMALL, 0, 0, "rtheap", 0);
		for (int a = 0; rig_allocs[a]; a++) {
			const struct rec *x = find("throughput", MODE_TPUT, WL_SMALL, 0, 0,
			                           rig_allocs[a]->name, 0);
			if (!x)
				continue;
			if (x->r.status) {
				fprintf(f, "%-10s  %s\n", x->c.alloc, x->r.note);
				continue;
			}
			fprintf(f, "%-10s  best %7.2f  median %7.2f", x->c.alloc, x->r.ns_per_op,
			        x->r.ns_per_op_median);
			if (rt && !rt->r.status && rt->r.ns_per_op > 0)
				fprintf(f, "   %.2fx rtheap", x->r.ns_per_op / rt->r.ns_per_op);
			fprintf(f, "\n");
		}
	}

	fprintf(f, "\nFILL TEST: usable %% of a 16 MiB buffer at the first failed allocation\n");
	for (int d = 0; d < 2; d++) {
		fprintf(f, "  sizes %s:\n", d ? "log-uniform 16..65536" : "uniform 16..4096");
		for (int a = 0; rig_allocs[a]; a++) {
			const struct rec *x = find("fill", MODE_FILL, WL_SMALL, 0, 0, rig_allocs[a]->name, d);
			if (!x)
				continue;
			if (x->r.status)
				fprintf(f, "    %-10s %s\n", x->c.alloc, x->r.note);
			else
				fprintf(f, "    %-10s requested %5.1f%% (min %.1f, max %.1f), rounded blocks %5.1f%%, %0.f blocks\n",
				        x->c.alloc, x->r.fill_pct_avg, x->r.fill_pct_min, x->r.fill_pct_max,
				        x->r.fill_round_avg, x->r.fill_blocks_avg);
		}
	}
}

/* Markdown tables of the figures (results.md), for docs/latency.md. */
static void md_num(FILE *f, double v)
{
	if (v >= 1e6)
		fprintf(f, "%.1f ms", v / 1e6);
	else if (v >= 1e4)
		fprintf(f, "%.0f us", v / 1e3);
	else
		fprintf(f, "%.0f", v);
}

static void md_pair(FILE *f, const struct rec *x, int p999)
{
	if (!x || x->r.status) {
		fprintf(f, " n/a |");
		return;
	}
	fprintf(f, " ");
	md_num(f, x->r.a.max);
	if (p999) {
		fprintf(f, " / ");
		md_num(f, x->r.a.p999);
		fprintf(f, " \\| ");
		md_num(f, x->r.f.max);
		fprintf(f, " / ");
		md_num(f, x->r.f.p999);
	} else {
		fprintf(f, " / ");
		md_num(f, x->r.f.max);
	}
	fprintf(f, " |");
}

static void write_markdown(void)
{
	FILE *f = open_out("results.md");
	char h[32];
	size_t hs[8];
	int nh = 0;
	if (!f)
		return;
	fprintf(f, "<!-- generated by rtheap-latency (%s mode, seed %llu, %u replays) -->\n\n",
	        O.level == 2 ? "full" : O.level ? "quick" : "tiny",
	        (unsigned long long)O.seed, O.replays);
	fprintf(f, "Worst case (max of per-op minima), ns, alloc / free:\n\n| allocator |");
	for (int wl = 0; wl < WL_COUNT; wl++)
		fprintf(f, " %s |", rig_workload_name((enum rig_workload)wl));
	fprintf(f, "\n|---|");
	for (int wl = 0; wl < WL_COUNT; wl++)
		fprintf(f, "---|");
	fprintf(f, "\n");
	for (int a = 0; rig_allocs[a]; a++) {
		if (!alloc_selected(rig_allocs[a]->name))
			continue;
		fprintf(f, "| %s |", rig_allocs[a]->name);
		for (int wl = 0; wl < WL_COUNT; wl++)
			md_pair(f, find("workload", MODE_TIMED, (enum rig_workload)wl, 0, 0,
			                rig_allocs[a]->name, 0), 0);
		fprintf(f, "\n");
	}

	for (size_t i = 0; i < nrecs; i++) {
		int seen = 0;
		if (strcmp(recs[i].group, "growth"))
			continue;
		for (int k = 0; k < nh; k++)
			if (hs[k] == recs[i].c.heap_bytes)
				seen = 1;
		if (!seen && nh < 8)
			hs[nh++] = recs[i].c.heap_bytes;
	}
	if (nh) {
		fprintf(f, "\nGrowth series (small workload), worst case ns, alloc / free:\n\n| allocator |");
		for (int k = 0; k < nh; k++)
			fprintf(f, " %s |", human(hs[k], h, sizeof(h)));
		fprintf(f, " %s / %s |\n|---|", human(hs[nh - 1], h, sizeof(h)), human(hs[0], h + 16, 16));
		for (int k = 0; k <= nh; k++)
			fprintf(f, "---|");
		fprintf(f, "\n");
		for (int a = 0; rig_allocs[a]; a++) {
			const struct rec *lo, *hi;
			if (!alloc_selected(rig_allocs[a]->name))
				continue;
			fprintf(f, "| %s |", rig_allocs[a]->name);
			for (int k = 0; k < nh; k++)
				md_pair(f, find("growth", MODE_TIMED, WL_SMALL, hs[k], 0,
				                rig_allocs[a]->name, 0), 0);
			lo = find("growth", MODE_TIMED, WL_SMALL, hs[0], 0, rig_allocs[a]->name, 0);
			hi = find("growth", MODE_TIMED, WL_SMALL, hs[nh - 1], 0, rig_allocs[a]->name, 0);
			if (lo && hi && !lo->r.status && !hi->r.status && lo->r.a.max > 0 && lo->r.f.max > 0)
				fprintf(f, " %.1fx / %.1fx |\n", hi->r.a.max / lo->r.a.max,
				        hi->r.f.max / lo->r.f.max);
			else
				fprintf(f, " n/a |\n");
		}
	}

	fprintf(f, "\nExtent series (small workload, rtheap), ns:\n\n"
	           "| extents | heap | alloc worst | alloc p99.9 | free worst | free p99.9 |\n"
	           "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < nrecs; i++) {
		const struct rec *x = &recs[i];
		if (strcmp(x->group, "extents") || x->r.status)
			continue;
		fprintf(f, "| %u | %s | %.0f | %.0f | %.0f | %.0f |\n", x->c.extents,
		        human(x->c.heap_bytes, h, sizeof(h)), x->r.a.max, x->r.a.p999, x->r.f.max,
		        x->r.f.p999);
	}

	fprintf(f, "\nThroughput (small workload, whole trace timed):\n\n"
	           "| allocator | best ns/op | median ns/op | relative to rtheap |\n|---|---|---|---|\n");
	{
		const struct rec *rt = find("throughput", MODE_TPUT, WL_SMALL, 0, 0, "rtheap", 0);
		for (int a = 0; rig_allocs[a]; a++) {
			const struct rec *x = find("throughput", MODE_TPUT, WL_SMALL, 0, 0,
			                           rig_allocs[a]->name, 0);
			if (!x || x->r.status)
				continue;
			fprintf(f, "| %s | %.1f | %.1f |", x->c.alloc, x->r.ns_per_op, x->r.ns_per_op_median);
			if (rt && !rt->r.status && rt->r.ns_per_op > 0)
				fprintf(f, " %.2f |\n", x->r.ns_per_op / rt->r.ns_per_op);
			else
				fprintf(f, " |\n");
		}
	}

	fprintf(f, "\nFill test (16 MiB buffer, usable %% at the first failure, average of %u seeds):\n\n"
	           "| sizes | allocator | requested %% (min .. max) | rounded blocks %% | blocks |\n"
	           "|---|---|---|---|---|\n", O.replays);
	for (int d = 0; d < 2; d++)
		for (int a = 0; rig_allocs[a]; a++) {
			const struct rec *x = find("fill", MODE_FILL, WL_SMALL, 0, 0, rig_allocs[a]->name, d);
			if (!x)
				continue;
			fprintf(f, "| %s | %s |", d ? "log-uniform 16..65536" : "uniform 16..4096", x->c.alloc);
			if (x->r.status)
				fprintf(f, " %s | | |\n", x->r.note);
			else
				fprintf(f, " %.1f (%.1f .. %.1f) | %.1f | %.0f |\n", x->r.fill_pct_avg,
				        x->r.fill_pct_min, x->r.fill_pct_max, x->r.fill_round_avg,
				        x->r.fill_blocks_avg);
		}

	{
		const struct rec *cols[16];
		int nc = 0;
		for (size_t i = 0; i < nrecs && nc < 16; i++) {
			int seen = 0;
			if (recs[i].c.mode != MODE_ICOUNT)
				continue;
			for (int c = 0; c < nc; c++)
				if (same_case(cols[c], &recs[i]))
					seen = 1;
			if (!seen)
				cols[nc++] = &recs[i];
		}
		if (nc) {
			fprintf(f, "\nInstructions per call, exact (alloc max / p99.9 \\| free max / p99.9):\n\n| allocator |");
			for (int c = 0; c < nc; c++) {
				char ext[32] = "";
				if (cols[c]->c.extents > 1)
					snprintf(ext, sizeof(ext), ", %u extents", cols[c]->c.extents);
				fprintf(f, " %s %s%s |", rig_workload_name(cols[c]->c.wl),
				        human(cols[c]->c.heap_bytes, h, sizeof(h)), ext);
			}
			fprintf(f, "\n|---|");
			for (int c = 0; c < nc; c++)
				fprintf(f, "---|");
			fprintf(f, "\n");
			for (int a = 0; rig_allocs[a]; a++) {
				int any = 0;
				for (int c = 0; c < nc; c++)
					if (find("icount", MODE_ICOUNT, cols[c]->c.wl, cols[c]->c.heap_bytes,
					         cols[c]->c.extents, rig_allocs[a]->name, 0))
						any = 1;
				if (!any || !alloc_selected(rig_allocs[a]->name))
					continue;
				fprintf(f, "| %s |", rig_allocs[a]->name);
				for (int c = 0; c < nc; c++) {
					const struct rec *x = find("icount", MODE_ICOUNT, cols[c]->c.wl,
					                           cols[c]->c.heap_bytes, cols[c]->c.extents,
					                           rig_allocs[a]->name, 0);
					if (!x || x->r.status)
						fprintf(f, " |");
					else
						fprintf(f, " %.0f / %.0f \\| %.0f / %.0f |", x->r.a.max, x->r.a.p999,
						        x->r.f.max, x->r.f.p999);
				}
				fprintf(f, "\n");
			}
		}
	}
	{
		int any = 0;
		for (size_t i = 0; i < nrecs; i++)
			if (recs[i].c.mode == MODE_ICOUNT && !recs[i].r.status)
				any = 1;
		if (any) {
			fprintf(f, "\nDistinct 64-byte lines touched per call outside the stack "
			           "(alloc max / p50 \\| free max / p50):\n\n"
			           "| case | allocator | lines |\n|---|---|---|\n");
			for (size_t i = 0; i < nrecs; i++) {
				const struct rec *x = &recs[i];
				char ext[32] = "";
				if (x->c.mode != MODE_ICOUNT || x->r.status)
					continue;
				if (x->c.extents > 1)
					snprintf(ext, sizeof(ext), ", %u extents", x->c.extents);
				fprintf(f, "| %s %s%s | %s | %.0f / %.0f \\| %.0f / %.0f |\n",
				        rig_workload_name(x->c.wl), human(x->c.heap_bytes, h, sizeof(h)), ext,
				        x->c.alloc, x->r.la.max, x->r.la.p50, x->r.lf.max, x->r.lf.p50);
			}
		}
	}
	fclose(f);
}

/* Header lines: the clock the timed cases used, and their scheduling. */
static void print_timer(void)
{
	for (size_t i = 0; i < nrecs; i++) {
		const struct rec *x = &recs[i];
		if (x->c.mode != MODE_TIMED || x->r.status)
			continue;
		if (x->r.timer_tsc)
			printf("timer: TSC (lfence;rdtsc / rdtscp;lfence), %.3f GHz calibrated against "
			       "CLOCK_MONOTONIC_RAW (kernel clocksource %s), overhead %.1f ns subtracted\n",
			       x->r.ticks_per_ns, kernel_clocksource(), x->r.overhead_ns);
		else
			printf("timer: clock_gettime(CLOCK_MONOTONIC_RAW) (kernel clocksource %s), "
			       "overhead %.1f ns subtracted; TSC not used: %s\n",
			       kernel_clocksource(), x->r.overhead_ns, timer_why(x));
		printf("replay child: %s, %s, CPU %d\n", x->r.rt_fifo ? "SCHED_FIFO" : "NOT SCHED_FIFO",
		       x->r.rt_mlock ? "mlockall" : "NOT mlocked", x->r.rt_cpu);
		return;
	}
	printf("timer: none (no timed case measured)\n");
}

static void run_callgrind(void)
{
	size_t hs[2] = { 1 * MIB, 1024 * MIB };
	int nh = O.level == 2 ? 2 : 1;
	const size_t churn = O.level == 2 ? 200000 : 30000;
	if (system("command -v callgrind_annotate >/dev/null 2>&1") != 0) {
		fprintf(stderr, "rtheap-latency: callgrind_annotate not found; no profile\n");
		return;
	}
	for (int h = 0; h < nh; h++) {
		struct rig_case c;
		struct rig_result r;
		char cg[PATH_MAX], txt[PATH_MAX + 300], hb[32];
		memset(&c, 0, sizeof(c));
		c.mode = MODE_ICOUNT;
		c.wl = WL_SMALL;
		snprintf(c.alloc, sizeof(c.alloc), "rtheap");
		c.heap_bytes = hs[h];
		c.extents = 1;
		c.churn = churn;
		c.seed = O.seed;
		c.replays = 1;
		c.cpu = -1;
		human(hs[h], hb, sizeof(hb));
		snprintf(cg, sizeof(cg), "%s/callgrind_rtheap_small_%s.out", O.out, hb);
		fprintf(stderr, "\rcallgrind profile of rtheap, small workload, %s heap...          ", hb);
		if (run_worker(&c, &r, RUN_CALLGRIND, cg) != 0) {
			fprintf(stderr, "\nrtheap-latency: callgrind run failed: %s\n", r.note);
			continue;
		}
		snprintf(txt, sizeof(txt),
		         "callgrind_annotate --inclusive=yes --threshold=100 '%s' > '%s/callgrind_rtheap_small_%s.txt' 2>/dev/null",
		         cg, O.out, hb);
		if (system(txt) != 0)
			fprintf(stderr, "\nrtheap-latency: callgrind_annotate failed\n");
	}
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	uint64_t t0;
	char cmd[PATH_MAX + 64];
	ssize_t n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return worker_main(argc, argv);

	O.level = 1;
	O.out = "latency-out";
	O.seed = 1;
	O.replays = 7;
	O.cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	O.prio = 80;
	O.rt = O.icount = O.callgrind = O.plots = O.tune = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) O.level = 1;
		else if (!strcmp(a, "--full")) O.level = 2;
		else if (!strcmp(a, "--tiny")) O.level = 0;
		else if (!strcmp(a, "--out") && v) { O.out = v; i++; }
		else if (!strcmp(a, "--seed") && v) { O.seed = strtoull(v, NULL, 0); i++; }
		else if (!strcmp(a, "--replays") && v) { O.replays = (unsigned)atoi(v); i++; }
		else if (!strcmp(a, "--alloc") && v) { snprintf(O.allocs, sizeof(O.allocs), "%s", v); i++; }
		else if (!strcmp(a, "--only") && v) { snprintf(O.only, sizeof(O.only), "%s", v); i++; }
		else if (!strcmp(a, "--cpu") && v) { O.cpu = atoi(v); i++; }
		else if (!strcmp(a, "--prio") && v) { O.prio = atoi(v); i++; }
		else if (!strcmp(a, "--no-rt")) O.rt = 0;
		else if (!strcmp(a, "--no-icount")) O.icount = 0;
		else if (!strcmp(a, "--no-callgrind")) O.callgrind = 0;
		else if (!strcmp(a, "--no-plots")) O.plots = 0;
		else if (!strcmp(a, "--no-tune")) O.tune = 0;
		else if (!strcmp(a, "--clock")) O.force_clock = 1;
		else if (!strcmp(a, "--thp")) setenv("RIG_THP", "1", 1);
		else if (!strcmp(a, "--list")) {
			for (int k = 0; rig_allocs[k]; k++)
				printf("%-10s %s\n", rig_allocs[k]->name, rig_allocs[k]->desc);
			if (rig_skipped_at_build[0])
				printf("not built in: %s\n", rig_skipped_at_build);
			return 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "rtheap-latency: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (O.replays < 1 || O.replays > 64) {
		fprintf(stderr, "rtheap-latency: --replays must be in 1..64\n");
		return 2;
	}
	if (O.level == 0 && O.replays == 7)
		O.replays = 2;
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "rtheap-latency: cannot find my own executable\n");
		return 1;
	}
	self_exe[n] = 0;
	snprintf(cmd, sizeof(cmd), "%s/hist", O.out);
	mkdir(O.out, 0777);
	if (mkdir(cmd, 0777) && errno != EEXIST) {
		fprintf(stderr, "rtheap-latency: cannot create %s: %s\n", cmd, strerror(errno));
		return 1;
	}
	if (O.icount && system("valgrind --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "rtheap-latency: valgrind not found: instruction counts skipped\n");
		O.icount = O.callgrind = 0;
	}
#ifndef RIG_HAVE_VALGRIND_H
	O.icount = O.callgrind = 0;
#endif
	if (!vg_tool_dir())
		O.icount = 0;
	recs = calloc(MAX_CASES, sizeof(*recs));
	if (!recs)
		return 1;

	probe_rt();
	printf("rtheap-latency (rtheap %s), %s mode, seed %llu, %u replays per case, CPU %d\n",
	       rtheap_version(), O.level == 2 ? "full" : O.level ? "quick" : "tiny",
	       (unsigned long long)O.seed, O.replays, O.cpu);
	if (rt_fifo_ok > 0 && rt_mlock_ok > 0)
		printf("real-time setup: SCHED_FIFO priority %d and mlockall granted\n", O.prio);
	else
		printf("WARNING: real-time setup incomplete: %s.  Figures include scheduler noise.\n",
		       rt_why);
	if (rig_skipped_at_build[0])
		printf("skipped (not found at configure time): %s\n", rig_skipped_at_build);
	if (!O.icount)
		printf("instruction-count mode: off\n");

	plan();
	t0 = rig_now_ns();
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		/* a case shared between groups is run once */
		const struct rec *dup = NULL;
		for (size_t j = 0; j < i; j++)
			if (recs[j].c.mode == x->c.mode && recs[j].c.wl == x->c.wl &&
			    recs[j].c.heap_bytes == x->c.heap_bytes &&
			    recs[j].c.extents == x->c.extents && recs[j].c.churn == x->c.churn &&
			    recs[j].c.fill_dist == x->c.fill_dist &&
			    !strcmp(recs[j].c.alloc, x->c.alloc))
				dup = &recs[j];
		progress(i, x);
		if (dup) {
			x->r = dup->r;
			continue;
		}
		run_worker(&x->c, &x->r, x->c.mode == MODE_ICOUNT ? RUN_ICOUNT : RUN_NATIVE, NULL);
	}
	fprintf(stderr, "\n");
	if (O.callgrind && O.icount && alloc_selected("rtheap") && O.level &&
	    (!O.only[0] || in_list(O.only, "icount")))
		run_callgrind();

	print_timer();
	/* skipped allocators, once each */
	for (int a = 0; rig_allocs[a]; a++)
		for (size_t i = 0; i < nrecs; i++)
			if (!strcmp(recs[i].c.alloc, rig_allocs[a]->name) && recs[i].r.status &&
			    recs[i].c.mode == MODE_TIMED) {
				printf("%s %s: %s\n", recs[i].r.status == 1 ? "skipped" : "FAILED",
				       recs[i].c.alloc, recs[i].r.note);
				break;
			}

	summary_tables(stdout);
	table_legend(stdout);
	table_timed(stdout, "workload", "ns");
	table_timed(stdout, "growth", "ns");
	table_timed(stdout, "extents", "ns");
	table_timed(stdout, "icount", "instr");

	write_latency_csv();
	write_other_csv();
	write_json((double)(rig_now_ns() - t0) / 1e9);
	write_markdown();
	for (size_t i = 0; i < nrecs; i++) {
		struct rec *x = &recs[i];
		char tag[96];
		int first = 1;
		if (x->c.mode != MODE_TIMED && x->c.mode != MODE_ICOUNT)
			continue;
		for (size_t j = 0; j < i; j++)
			if (same_case(&recs[j], x))
				first = 0;
		if (!first || earlier_group(x))
			continue;
		tag_of(x, tag, sizeof(tag));
		if (x->c.mode == MODE_ICOUNT) {
			memmove(tag + 7, tag, strlen(tag) + 1);
			memcpy(tag, "icount_", 7);
		}
		write_hist(x, 0, tag);
		write_hist(x, 1, tag);
		if (O.plots && x->c.mode == MODE_TIMED && !strcmp(x->group, "workload") &&
		    have_gnuplot())
			plot_dist(x, tag);
	}
	if (O.plots && have_gnuplot()) {
		plot_series("growth", "growth", "heap size (MiB)", 0);
		plot_series("extents", "extents", "extents (same total memory)", 1);
	} else if (O.plots) {
		printf("gnuplot not found: no plots\n");
	}
	printf("\nfiles in %s: latency.csv icount.csv throughput.csv fill.csv results.json results.md hist/ *.png (%.0f s)\n",
	       O.out, (double)(rig_now_ns() - t0) / 1e9);
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].r.status == 2)
			return 1;
	return 0;
}
