/* SPDX-License-Identifier: MIT */
/*
 * realloc.c -- rtheap_realloc benchmarks (group "realloc", run by --full
 * or --only realloc).
 *
 * A growing-buffer trace: NB buffers grow step by step among a background
 * of other live blocks.  Each operation is, at random (the same sequence
 * for every allocator, from the seed):
 *  - half of the time a background operation on one of NS slots: an
 *    empty slot gets a block of 16 B .. 8 KiB (log-uniform), a full one
 *    is released;
 *  - else one of the buffers: an empty one starts at 16 .. 63 bytes
 *    (realloc(NULL, n), not counted), a full one grows by the policy
 *    (x1.5, +256 B or +4 KiB), or one time in eight shrinks to two thirds;
 *    a buffer beyond the policy's cap is released.
 * Figures, each from its own worker process (this executable with
 * --realloc-worker):
 *  - native: how many resizes kept their pointer (in place) and, for
 *    rtheap, of which kind (a bucket block within its class, a run grown
 *    into the free run after it, a run shrunk, a run of the same pages),
 *    the bytes the moves copied; the whole trace timed (ns per
 *    operation, best of 3), rtheap and glibc's realloc;
 *  - icount: exact instructions of every rtheap_realloc call, from the
 *    call to its return (valgrind --tool=icount, latency/vgtool), per
 *    kind: min, median, max.  A moved block's count includes its copy.
 * Output: tables on stdout, realloc.csv, a section of results.md.
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
#include "rtheap/rtheap.h"

#ifdef RIG_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#define RL_ICOUNT_REQ VG_USERREQ_TOOL_BASE('I', 'C')
#endif

#define RL_NB 8u          /* growing buffers */
#define RL_NS 2048u       /* background slots */
#define RL_HEAP (64u * MIB)
#define RL_PAGE 256u      /* rtheap's default page */

enum rl_policy { RL_X15, RL_P256, RL_P4K, RL_NPOL };
static const char *const rl_pol_name[RL_NPOL] = { "x1.5", "+256B", "+4KiB" };
static const size_t rl_cap[RL_NPOL] = { MIB, 256u << 10, MIB };

/* What became of a resize (rtheap: all; glibc: in place or moved). */
enum rl_kind { K_BUCKET, K_GROW, K_SHRINK, K_SAME, K_MOVED, K_NKIND };
static const char *const rl_kind_name[K_NKIND] = {
	"bucket, class fits", "run grown in place", "run shrunk", "run, same pages", "moved",
};

struct rl_result {
	int status;              /* 0 ok, 1 skipped, 2 failed */
	char note[160];
	uint64_t ops, reallocs, failed, copied;
	uint64_t calls[K_NKIND];
	double ns_per_op;        /* native: whole trace, best of 3 */
	uint32_t imin[K_NKIND], ip50[K_NKIND], imax[K_NKIND]; /* icount */
};

struct rl_row {
	enum rl_policy pol;
	const char *alloc;       /* "rtheap" or "glibc" */
	enum rig_mode mode;      /* MODE_TPUT (native) or MODE_ICOUNT */
	struct rl_result res;
};

#define RL_MAX_ROWS 12
static struct rl_row rl_rows[RL_MAX_ROWS];
static size_t rl_nrows;

/* ------------------------------------------------------------------ */
/* Worker: the trace                                                   */
/* ------------------------------------------------------------------ */

struct rl_ctx {
	rtheap_t heap;
	int glibc;
	int icount;
	uint64_t bracket;        /* instructions of an empty bracket */
	uint32_t *cnt[K_NKIND];  /* icount: per kind */
	struct rl_result *res;
};

static void *rl_alloc(struct rl_ctx *x, size_t n)
{
	return x->glibc ? malloc(n) : rtheap_alloc(&x->heap, n);
}

static void rl_free(struct rl_ctx *x, void *p)
{
	if (x->glibc)
		free(p);
	else
		(void)rtheap_free(&x->heap, p);
}

#ifdef RIG_HAVE_VALGRIND_H
static inline uint64_t rl_icount_now(void)
{
	return (uint64_t)VALGRIND_DO_CLIENT_REQUEST_EXPR(0, RL_ICOUNT_REQ, 0, 0, 0, 0, 0);
}
#else
#define RUNNING_ON_VALGRIND 0
static inline uint64_t rl_icount_now(void)
{
	return 0;
}
#endif

/* The kind of a resize of an rtheap block of old usable bytes, now q of
 * now usable bytes. */
static enum rl_kind rl_classify(const void *p, const void *q, size_t old, size_t now)
{
	if (p != q)
		return K_MOVED;
	if (old <= RL_PAGE / 2)
		return K_BUCKET;
	return now > old ? K_GROW : now < old ? K_SHRINK : K_SAME;
}

/* One resize of buffer *bp to n bytes, counted. */
static void rl_resize(struct rl_ctx *x, void **bp, size_t n)
{
	void *p = *bp, *q;
	struct rl_result *r = x->res;
	if (x->glibc) {
		q = realloc(p, n);
		r->calls[q == p ? K_SAME : K_MOVED]++;
	} else {
		size_t old = rtheap_usable_size(&x->heap, p);
		uint64_t c0 = x->icount ? rl_icount_now() : 0;
		q = rtheap_realloc(&x->heap, p, n);
		uint64_t c1 = x->icount ? rl_icount_now() : 0;
		enum rl_kind k = q ? rl_classify(p, q, old, rtheap_usable_size(&x->heap, q))
		                   : K_NKIND;
		if (k < K_NKIND) {
			if (x->icount)
				x->cnt[k][r->calls[k]] = (uint32_t)(c1 - c0 - x->bracket);
			r->calls[k]++;
			r->copied += k == K_MOVED ? (old < n ? old : n) : 0;
		}
	}
	r->reallocs++;
	if (q)
		*bp = q;
	else
		r->failed++;
}

/* The next size of a buffer of n bytes under the policy; 0: release it. */
static size_t rl_next(enum rl_policy pol, size_t n, struct rig_rng *g)
{
	size_t m;
	if (rig_rng_range(g, 0, 7) == 0)
		return n * 2 / 3 > 16 ? n * 2 / 3 : 16;
	m = pol == RL_X15 ? n + n / 2 : pol == RL_P256 ? n + 256 : n + 4096;
	return m > rl_cap[pol] ? 0 : m;
}

struct rl_state {
	void *bg[RL_NS];
	void *buf[RL_NB];
	size_t len[RL_NB];
};

static void rl_step(struct rl_ctx *x, struct rl_state *s, enum rl_policy pol,
                    struct rig_rng *g)
{
	if (rig_rng_range(g, 0, 1) == 0) {
		uint32_t k = (uint32_t)rig_rng_range(g, 0, RL_NS - 1);
		if (s->bg[k]) {
			rl_free(x, s->bg[k]);
			s->bg[k] = NULL;
		} else {
			s->bg[k] = rl_alloc(x, (size_t)rig_rng_log(g, 16, 8192));
		}
		return;
	}
	uint32_t j = (uint32_t)rig_rng_range(g, 0, RL_NB - 1);
	if (!s->buf[j]) {
		s->len[j] = (size_t)rig_rng_range(g, 16, 63);
		s->buf[j] = rl_alloc(x, s->len[j]);
		return;
	}
	size_t n = rl_next(pol, s->len[j], g);
	if (!n) {
		rl_free(x, s->buf[j]);
		s->buf[j] = NULL;
		return;
	}
	rl_resize(x, &s->buf[j], n);
	s->len[j] = n;
}

/* One replay of the trace: ops operations, then everything released. */
static void rl_replay(struct rl_ctx *x, enum rl_policy pol, uint64_t ops, uint64_t seed)
{
	struct rl_state *s = calloc(1, sizeof(*s));
	struct rig_rng g;
	if (!s)
		return;
	rig_rng_seed(&g, seed);
	for (uint64_t i = 0; i < ops; i++)
		rl_step(x, s, pol, &g);
	for (uint32_t k = 0; k < RL_NS; k++)
		if (s->bg[k])
			rl_free(x, s->bg[k]);
	for (uint32_t j = 0; j < RL_NB; j++)
		if (s->buf[j])
			rl_free(x, s->buf[j]);
	free(s);
}

/* A fresh rtheap of RL_HEAP usable bytes (lock mode none); 0 or -1. */
static int rl_heap(struct rl_ctx *x)
{
	struct rtheap_config cfg;
	size_t sz = RTHEAP_BUFFER_SIZE(RL_HEAP, RL_PAGE);
	void *buf = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = RL_PAGE;
	cfg.lock = RTHEAP_LOCK_NONE;
	cfg.flags = RTHEAP_F_ZEROED;
	return rtheap_init(&x->heap, buf, sz, &cfg) ? -1 : 0;
}

static int rl_cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* icount: the bracket's own instructions, then the counts per kind. */
static void rl_icount(struct rl_ctx *x, enum rl_policy pol, uint64_t ops, uint64_t seed)
{
	struct rl_result *r = x->res;
	x->bracket = UINT64_MAX;
	for (int i = 0; i < 8; i++) {
		uint64_t c0 = rl_icount_now(), c1 = rl_icount_now();
		x->bracket = c1 - c0 < x->bracket ? c1 - c0 : x->bracket;
	}
	for (int k = 0; k < K_NKIND; k++)
		x->cnt[k] = malloc(ops * sizeof(uint32_t));
	x->icount = 1;
	rl_replay(x, pol, ops, seed);
	for (int k = 0; k < K_NKIND; k++) {
		uint64_t n = r->calls[k];
		if (n && x->cnt[k]) {
			qsort(x->cnt[k], n, sizeof(uint32_t), rl_cmp32);
			r->imin[k] = x->cnt[k][0];
			r->ip50[k] = x->cnt[k][n / 2];
			r->imax[k] = x->cnt[k][n - 1];
		}
		free(x->cnt[k]);
	}
}

/* native: the counts of one replay, then the trace timed (best of 3). */
static void rl_native(struct rl_ctx *x, enum rl_policy pol, uint64_t ops, uint64_t seed)
{
	struct rl_result *r = x->res, keep;
	double best = 0;
	rl_replay(x, pol, ops, seed);
	keep = *r;
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = rig_now_ns();
		rl_replay(x, pol, ops, seed);
		double ns = (double)(rig_now_ns() - t0) / (double)ops;
		best = i == 0 || ns < best ? ns : best;
	}
	*r = keep;
	r->ns_per_op = best;
}

static void rl_measure(const char *alloc, enum rig_mode mode, enum rl_policy pol,
                       uint64_t ops, uint64_t seed, struct rl_result *r)
{
	struct rl_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		r->status = 2;
		return;
	}
	x->res = r;
	x->glibc = !strcmp(alloc, "glibc");
	r->ops = ops;
	if (!x->glibc && rl_heap(x)) {
		r->status = 2;
		snprintf(r->note, sizeof(r->note), "no heap: %s", strerror(errno));
	} else if (mode == MODE_ICOUNT) {
		uint64_t c0 = rl_icount_now();
		if (!RUNNING_ON_VALGRIND || rl_icount_now() == c0) {
			r->status = 1;
			snprintf(r->note, sizeof(r->note), "not under valgrind --tool=icount");
		} else {
			rl_icount(x, pol, ops, seed);
		}
	} else {
		rl_native(x, pol, ops, seed);
	}
	free(x);
}

/* rtheap-latency --realloc-worker --alloc A --mode M --policy P --ops N
 *                --seed S --result-fd FD */
int realloc_worker_main(int argc, char **argv)
{
	const char *alloc = "rtheap";
	int mode = MODE_TPUT, pol = 0, fd = -1;
	uint64_t ops = 0, seed = 1;
	struct rl_result *r;
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--alloc")) alloc = v;
		else if (!strcmp(k, "--mode")) mode = atoi(v);
		else if (!strcmp(k, "--policy")) pol = atoi(v);
		else if (!strcmp(k, "--ops")) ops = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--result-fd")) fd = atoi(v);
	}
	if (fd < 0 || !ops || pol < 0 || pol >= RL_NPOL)
		return 2;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return 2;
	memset(r, 0, sizeof(*r));
	rl_measure(alloc, (enum rig_mode)mode, (enum rl_policy)pol, ops, seed, r);
	munmap(r, sizeof(*r));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

static int rl_wanted(void)
{
	return group_wanted("realloc", O.level == 2);
}

static uint64_t rl_ops(void)
{
	static const uint64_t n[3] = { 20000, 100000, 400000 };
	return n[O.level];
}

static void rl_plan(void)
{
	for (int p = 0; p < RL_NPOL; p++) {
		if (alloc_selected("rtheap"))
			rl_rows[rl_nrows++] = (struct rl_row){ (enum rl_policy)p, "rtheap", MODE_TPUT, { 0 } };
		if (alloc_selected("glibc"))
			rl_rows[rl_nrows++] = (struct rl_row){ (enum rl_policy)p, "glibc", MODE_TPUT, { 0 } };
		if (alloc_selected("rtheap") && O.icount && vg_tool_dir())
			rl_rows[rl_nrows++] = (struct rl_row){ (enum rl_policy)p, "rtheap", MODE_ICOUNT, { 0 } };
	}
}

/* Start the worker of row x (under valgrind for the counts), its result
 * in the memfd fd; its pid or -1. */
static pid_t rl_spawn(const void *ctx, int fd)
{
	const struct rl_row *x = ctx;
	char self[PATH_MAX], a[5][32];
	char *argv[24];
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return -1;
	self[len] = 0;
	if (x->mode == MODE_ICOUNT) {
		argv[n++] = "valgrind";
		argv[n++] = "--tool=icount";
		argv[n++] = "-q";
	}
	argv[n++] = self;
	argv[n++] = "--realloc-worker";
	snprintf(a[0], 32, "%d", (int)x->mode);
	snprintf(a[1], 32, "%d", (int)x->pol);
	snprintf(a[2], 32, "%llu", (unsigned long long)rl_ops());
	snprintf(a[3], 32, "%llu", (unsigned long long)O.seed);
	snprintf(a[4], 32, "%d", fd);
	const char *keys[5] = { "--mode", "--policy", "--ops", "--seed", "--result-fd" };
	argv[n++] = "--alloc";
	argv[n++] = (char *)x->alloc;
	for (int k = 0; k < 5; k++) {
		argv[n++] = (char *)keys[k];
		argv[n++] = a[k];
	}
	argv[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (x->mode == MODE_ICOUNT)
			setenv("VALGRIND_LIB", vg_tool_dir(), 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void rl_run_worker(struct rl_row *x)
{
	int st = 0;
	memset(&x->res, 0, sizeof(x->res));
	if (worker_collect("rtheap-realloc", &x->res, sizeof(x->res), rl_spawn, x, &st)) {
		x->res.status = 2;
		snprintf(x->res.note, sizeof(x->res.note), "worker failed, status %d", st);
	}
}

void realloc_run(void)
{
	if (!rl_wanted())
		return;
	rl_plan();
	for (size_t i = 0; i < rl_nrows; i++) {
		fprintf(stderr, "\r[%2zu/%zu] realloc %-6s %-7s %s      ", i + 1, rl_nrows,
		        rl_pol_name[rl_rows[i].pol], rl_rows[i].alloc, mode_name(rl_rows[i].mode));
		rl_run_worker(&rl_rows[i]);
	}
	fprintf(stderr, "\n");
}

int realloc_failed(void)
{
	for (size_t i = 0; i < rl_nrows; i++)
		if (rl_rows[i].res.status == 2)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Tables, realloc.csv, results.md                                     */
/* ------------------------------------------------------------------ */

static double rl_pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void rl_line_native(FILE *f, int md, const struct rl_row *x)
{
	const struct rl_result *r = &x->res;
	uint64_t moved = r->calls[K_MOVED], in = r->reallocs - r->failed - moved;
	if (r->status) {
		fprintf(f, md ? "| %s | %s | %s |\n" : "%-6s %-7s %s\n", rl_pol_name[x->pol],
		        x->alloc, r->note);
		return;
	}
	fprintf(f, md ? "| %s | %s | %llu | %.1f | " : "%-6s %-7s %9llu %7.1f  ",
	        rl_pol_name[x->pol], x->alloc, (unsigned long long)r->reallocs, rl_pct(in, r->reallocs));
	if (!strcmp(x->alloc, "rtheap"))
		fprintf(f, md ? "%.1f | %.1f | %.1f | %.1f | %.1f | %.2f | " :
		                "%6.1f %6.1f %6.1f %6.1f %6.1f %9.2f  ",
		        rl_pct(r->calls[K_BUCKET], r->reallocs), rl_pct(r->calls[K_GROW], r->reallocs),
		        rl_pct(r->calls[K_SHRINK], r->reallocs), rl_pct(r->calls[K_SAME], r->reallocs),
		        rl_pct(moved, r->reallocs), (double)r->copied / (double)MIB);
	else if (md)
		fprintf(f, "- | - | - | - | %.1f | - | ", rl_pct(moved, r->reallocs));
	else
		fprintf(f, "%6s %6s %6s %6s %6.1f %9s  ", "-", "-", "-", "-",
		        rl_pct(moved, r->reallocs), "-");
	fprintf(f, md ? "%.1f | %llu |\n" : "%6.1f %6llu\n", r->ns_per_op,
	        (unsigned long long)r->failed);
}

static void rl_table_native(FILE *f, int md)
{
	fprintf(f, md ? "\n## realloc: growing buffers (group `realloc`)\n\n%u buffers grown "
	                "(x1.5, +256 B or +4 KiB a step, one step in eight a shrink to 2/3) "
	                "among %u background slots (16 B .. 8 KiB), %llu operations, seed %llu; "
	                "%% of the resizes; in place = the same pointer\n\n"
	                "| growth | allocator | resizes | in place %% | bucket %% | run grown %% | "
	                "shrunk %% | same pages %% | moved %% | MiB copied | ns/op (trace) | failed |\n"
	                "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
	              : "\nREALLOC: %u growing buffers among %u background slots, %llu ops, seed "
	                "%llu (%% of resizes; in place = same pointer)\n"
	                "growth alloc     resizes in-pl%%  bucket  grown shrunk   same  moved "
	                "MiB-copied  ns/op failed\n",
	        RL_NB, RL_NS, (unsigned long long)rl_ops(), (unsigned long long)O.seed);
	for (size_t i = 0; i < rl_nrows; i++)
		if (rl_rows[i].mode == MODE_TPUT)
			rl_line_native(f, md, &rl_rows[i]);
}

static void rl_table_icount(FILE *f, int md)
{
	int any = 0;
	for (size_t i = 0; i < rl_nrows; i++)
		any |= rl_rows[i].mode == MODE_ICOUNT;
	if (!any)
		return;
	fprintf(f, md ? "\nInstructions per `rtheap_realloc` call, exact (valgrind --tool=icount, "
	                "from the call to its return; a move includes its copy)\n\n"
	                "| growth | kind | calls | min | median | max |\n|---|---|---|---|---|---|\n"
	              : "\nrtheap_realloc instructions (exact, icount; a move includes its copy)\n"
	                "growth kind                     calls    min median    max\n");
	for (size_t i = 0; i < rl_nrows; i++) {
		const struct rl_row *x = &rl_rows[i];
		if (x->mode != MODE_ICOUNT)
			continue;
		if (x->res.status) {
			fprintf(f, md ? "| %s | %s |\n" : "%-6s %s\n", rl_pol_name[x->pol], x->res.note);
			continue;
		}
		for (int k = 0; k < K_NKIND; k++)
			if (x->res.calls[k])
				fprintf(f, md ? "| %s | %s | %llu | %u | %u | %u |\n"
				              : "%-6s %-22s %8llu %6u %6u %6u\n",
				        rl_pol_name[x->pol], rl_kind_name[k],
				        (unsigned long long)x->res.calls[k], x->res.imin[k], x->res.ip50[k],
				        x->res.imax[k]);
	}
}

void realloc_table(FILE *f)
{
	if (!rl_nrows)
		return;
	rl_table_native(f, 0);
	rl_table_icount(f, 0);
}

static void rl_csv(void)
{
	FILE *f = open_out("realloc.csv");
	if (!f)
		return;
	fprintf(f, "growth,allocator,mode,ops,resizes,failed,bucket,grown,shrunk,same,moved,"
	           "bytes_copied,ns_per_op,");
	for (int k = 0; k < K_NKIND; k++)
		fprintf(f, "instr_min_%d,instr_p50_%d,instr_max_%d,", k, k, k);
	fprintf(f, "status\n");
	for (size_t i = 0; i < rl_nrows; i++) {
		const struct rl_row *x = &rl_rows[i];
		const struct rl_result *r = &x->res;
		fprintf(f, "%s,%s,%s,%llu,%llu,%llu,", rl_pol_name[x->pol], x->alloc, mode_name(x->mode),
		        (unsigned long long)r->ops, (unsigned long long)r->reallocs,
		        (unsigned long long)r->failed);
		for (int k = 0; k < K_NKIND; k++)
			fprintf(f, "%llu,", (unsigned long long)r->calls[k]);
		fprintf(f, "%llu,%.2f,", (unsigned long long)r->copied, r->ns_per_op);
		for (int k = 0; k < K_NKIND; k++)
			fprintf(f, "%u,%u,%u,", r->imin[k], r->ip50[k], r->imax[k]);
		fprintf(f, "\"%s\"\n", r->status ? r->note : "ok");
	}
	fclose(f);
}

void realloc_write(void)
{
	char path[PATH_MAX];
	FILE *f;
	if (!rl_nrows)
		return;
	rl_csv();
	snprintf(path, sizeof(path), "%s/results.md", O.out);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "rtheap-latency: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	rl_table_native(f, 1);
	rl_table_icount(f, 1);
	fclose(f);
}
