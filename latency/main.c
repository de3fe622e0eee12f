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
 * (report.c) and gnuplot plots (*.png, plots.c).  See docs/latency.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/rtheap.h"

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

struct opts O;

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
	"  --only LIST      only these groups: workload,growth,extents,throughput,fill,icount,\n"
	"                   peers,longrun, and the groups realloc (growing buffers) and\n"
	"                   caches, classheap, kmem, percpu, region (the layers), scaling\n"
	"                   (threads): run by --full, else only when named here\n"
	"  --threads LIST   thread counts of the group scaling (default 1,2,4 and powers\n"
	"                   of two up to twice the CPUs)\n"
	"  --longrun-ops N  operations of the long-run fragmentation trace (group longrun;\n"
	"                   default 1e8 with --full, 2e6 with --quick, 1e5 with --tiny)\n"
	"  --longrun-seeds K  seeds --seed .. --seed+K-1 for it (default 2, 1 with --tiny)\n"
	"  --peers          the side-by-side table of rtheap, TLSF and o1heap (adds the group\n"
	"                   peers to --only; without --only, only that group is run)\n"
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

struct rec *recs;
size_t nrecs;
static char self_exe[PATH_MAX];
int rt_fifo_ok = -1, rt_mlock_ok = -1;
char rt_why[256];

const char *vg_tool_dir(void)
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

int worker_collect(const char *name, void *out, size_t size,
                   pid_t (*spawn)(const void *ctx, int fd), const void *ctx, int *wstatus)
{
	int fd = memfd_create(name, 0), st = 0, rc = -2;
	pid_t pid = fd < 0 || ftruncate(fd, (off_t)size) < 0 ? -1 : spawn(ctx, fd);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	void *r = pid > 0 ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (pid > 0)
		rc = r != MAP_FAILED && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
	if (rc == 0)
		memcpy(out, r, size);
	if (r != MAP_FAILED)
		munmap(r, size);
	if (fd >= 0)
		close(fd);
	*wstatus = st;
	return rc;
}

int group_wanted(const char *name, int by_default)
{
	return O.only[0] ? in_list(O.only, name) : by_default;
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

int alloc_selected(const char *name)
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
/* Planning                                                            */
/* ------------------------------------------------------------------ */

/*
 * The side-by-side comparison with the peers that manage a caller's buffer
 * (group "peers", run by --full and --peers): rtheap (lock mode NONE), TLSF
 * and o1heap on the same traces and the same buffer size, 5 replays unless
 * --replays is given; worst case, throughput and instruction counts.
 */
const char *const peer_allocs[] = { "rtheap", "tlsf", "o1heap", NULL };

static void plan_peers(size_t churn)
{
	const size_t m = O.level ? 64 * MIB : 4 * MIB, g = O.level ? 1024 * MIB : 16 * MIB;
	const struct { enum rig_workload wl; size_t heap; } w[] = {
		{ WL_SMALL, m }, { WL_MIXED, m }, { WL_HOLES_SMALL, m }, { WL_HOLES_MID, m },
		{ WL_SMALL, g },
	};
	const enum rig_mode modes[3] = { MODE_TIMED, MODE_TPUT, MODE_ICOUNT };
	for (int k = 0; k < (O.icount ? 3 : 2); k++)
		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
			for (int a = 0; peer_allocs[a]; a++) {
				struct rec *x;
				if (!alloc_selected(peer_allocs[a]))
					continue;
				x = add_case("peers", modes[k], w[i].wl, peer_allocs[a], w[i].heap, 1, churn);
				if (x)
					x->c.replays = O.replays_given ? O.replays : O.level ? 5 : 2;
			}
}

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
	if (O.level == 2 || in_list(O.only, "peers"))
		plan_peers(churn);
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
	fprintf(stderr, "\r[%3zu/%zu] %-10s %-6s %-13s %5s x%-2u %-10s", i + 1, nrecs, x->group,
	        mode_name(x->c.mode), rig_workload_name(x->c.wl),
	        human(x->c.heap_bytes, h, sizeof(h)), x->c.extents, x->c.alloc);
	fflush(stderr);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

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

/* Tag of a case in the names of its histogram and plot files. */
static const char *tag_of(const struct rec *x, char *buf, size_t len)
{
	char h[32];
	snprintf(buf, len, "%s_%s_%ux", rig_workload_name(x->c.wl),
	         human(x->c.heap_bytes, h, sizeof(h)), x->c.extents ? x->c.extents : 1);
	return buf;
}

int main(int argc, char **argv)
{
	uint64_t t0;
	char cmd[PATH_MAX + 64];
	ssize_t n;
	int peers = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--worker"))
		return worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--longrun-worker"))
		return longrun_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--caches-worker"))
		return caches_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--classheap-worker"))
		return classheap_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--percpu-worker"))
		return percpu_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--region-worker"))
		return region_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--realloc-worker"))
		return realloc_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--kmem-worker"))
		return kmem_worker_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "--scaling-worker"))
		return scaling_worker_main(argc, argv);

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
		else if (!strcmp(a, "--replays") && v) { O.replays = (unsigned)atoi(v); O.replays_given = 1; i++; }
		else if (!strcmp(a, "--alloc") && v) { snprintf(O.allocs, sizeof(O.allocs), "%s", v); i++; }
		else if (!strcmp(a, "--only") && v) { snprintf(O.only, sizeof(O.only), "%s", v); i++; }
		else if (!strcmp(a, "--peers")) peers = 1;
		else if (longrun_option(a, v, &i)) continue;
		else if (scaling_option(a, v, &i)) continue;
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
	if (peers && !in_list(O.only, "peers"))
		snprintf(O.only + strlen(O.only), sizeof(O.only) - strlen(O.only), "%speers",
		         O.only[0] ? "," : "");
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
			    recs[j].c.replays == x->c.replays &&
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
	longrun_run();
	caches_run();
	classheap_run();
	percpu_run();
	region_run();
	realloc_run();
	kmem_run();
	scaling_run();
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
	table_peers(stdout, 0);
	longrun_table(stdout);
	caches_table(stdout);
	classheap_table(stdout);
	percpu_table(stdout);
	realloc_table(stdout);
	kmem_table(stdout);
	scaling_table(stdout);

	write_latency_csv();
	write_other_csv();
	write_json((double)(rig_now_ns() - t0) / 1e9);
	write_markdown();
	longrun_write();
	caches_write();
	classheap_write();
	percpu_write();
	realloc_write();
	kmem_write();
	scaling_write();
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
	printf("\nfiles in %s: latency.csv icount.csv throughput.csv fill.csv longrun.csv results.json results.md hist/ *.png (%.0f s)\n",
	       O.out, (double)(rig_now_ns() - t0) / 1e9);
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].r.status == 2)
			return 1;
	return longrun_failed() | caches_failed() | classheap_failed() | percpu_failed() |
	       region_failed() | realloc_failed() | kmem_failed() | scaling_failed();
}
