/* SPDX-License-Identifier: MIT */
/*
 * longrun.c -- the long-run fragmentation report (group "longrun").
 *
 * One trace, run for a long time on a heap over a caller's buffer: a table
 * of slots (40000), each operation picks one at random; a full slot is
 * released, an empty one gets a new block of a random size: 75 % log-
 * uniform 16..511 B, 22 % uniform 128..2176 B, 3 % uniform 2..34 KiB.  The
 * live set settles at about 20000 blocks, 18 MB.  At checkpoints (1, 2, 5
 * times a power of ten from 10^5, then every tenth of the run over its
 * last half) the worker finds the largest block the heap can still give by
 * trying: a binary search on the size, each try an allocation released at
 * once.  It assumes that a heap which serves a size serves every smaller
 * one, as every heap here does (good fit lists, power-of-two fragments).
 *
 * Every allocator whose vtable has init_fixed runs it, over a buffer of
 * the same size (rig_buffer_size: rtheap's buffer for 32 MiB of pages),
 * in its own worker process (this executable with --longrun-worker, with
 * the allocator's LD_PRELOAD if it has one), once per seed.  Output:
 * a table on stdout, longrun.csv, and a section appended to results.md.
 * Options: --longrun-ops N (default 10^8 with --full, 2*10^6 with
 * --quick, 10^5 with --tiny), --longrun-seeds K (seeds --seed ..
 * --seed + K - 1; default 2, 1 with --tiny).
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

#define LR_HEAP (32 * MIB)
#define LR_SLOTS 40000u
#define LR_MAX_CP 32
#define LR_MAX_SEEDS 8
#define LR_MAX_ROWS 64

/* What a worker hands back (a shared mapping of a memfd). */
struct lr_result {
	int status;             /* 0 ok, 1 not measured (note says why), 2 failed */
	char note[160];
	unsigned ncp;
	uint64_t ops[LR_MAX_CP];
	uint64_t largest[LR_MAX_CP];     /* bytes */
	uint64_t live_bytes[LR_MAX_CP];  /* requested bytes of the live blocks */
	uint32_t live_blocks[LR_MAX_CP];
	uint64_t failed[LR_MAX_CP];      /* allocations refused so far */
};

struct lr_row {
	const char *alloc;
	uint64_t seed;
	struct lr_result r;
};

static double lr_ops;          /* 0: the level's default */
static unsigned lr_seeds;      /* 0: the level's default */
static struct lr_row lr_rows[LR_MAX_ROWS];
static size_t lr_nrows;

/* ------------------------------------------------------------------ */
/* The trace (worker side)                                             */
/* ------------------------------------------------------------------ */

/* Checkpoints for a run of @ops operations, ascending; their count. */
static unsigned lr_checkpoints(uint64_t ops, uint64_t *cp)
{
	static const unsigned mant[3] = { 1, 2, 5 };
	unsigned n = 0;
	for (uint64_t d = 100000; d <= ops; d *= 10)
		for (int k = 0; k < 3; k++)
			if (d * mant[k] * 2 <= ops && n < LR_MAX_CP - 6)
				cp[n++] = d * mant[k];
	for (uint64_t k = 5; k <= 10; k++)
		if (ops * k / 10 > (n ? cp[n - 1] : 0))
			cp[n++] = ops * k / 10;
	return n;
}

static size_t lr_draw(struct rig_rng *r)
{
	uint64_t w = rig_rng_next(r) % 100;
	if (w < 75)
		return (size_t)rig_rng_log(r, 16, 511);
	if (w < 97)
		return (size_t)rig_rng_range(r, 128, 2176);
	return (size_t)rig_rng_range(r, 2048, 34 * 1024);
}

struct lr_heap {
	const struct rig_alloc *A;
	void *ctx;
	void *(*alloc)(void *, size_t);
	char *buf;
	size_t len;
};

/* An allocation that must lie in the buffer (-1 if it does not). */
static int lr_alloc(const struct lr_heap *hp, size_t size, void **p)
{
	*p = hp->alloc(hp->ctx, size);
	if (*p && ((char *)*p < hp->buf || (char *)*p + size > hp->buf + hp->len))
		return -1;
	return 0;
}

/* The largest size the heap serves now, by trying: binary search. */
static size_t lr_largest(const struct lr_heap *hp)
{
	size_t lo = 0, hi = hp->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		void *p;
		if (lr_alloc(hp, mid, &p))
			return 0;
		if (p) {
			hp->A->free(hp->ctx, p);
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return lo;
}

/* The slot table and the live set of one run. */
struct lr_live {
	void **p;
	uint32_t *size;
	uint64_t bytes, failed;
	uint32_t blocks;
};

/* One operation on a random slot; -1 if the heap broke its buffer. */
static int lr_step(const struct lr_heap *hp, struct lr_live *lv, struct rig_rng *rng)
{
	size_t s = (size_t)rig_rng_range(rng, 0, LR_SLOTS - 1);
	if (lv->p[s]) {
		hp->A->free(hp->ctx, lv->p[s]);
		lv->p[s] = NULL;
		lv->bytes -= lv->size[s];
		lv->blocks--;
		return 0;
	}
	size_t n = lr_draw(rng);
	if (lr_alloc(hp, n, &lv->p[s]))
		return -1;
	if (!lv->p[s]) {
		lv->failed++;
		return 0;
	}
	lv->size[s] = (uint32_t)n;
	lv->bytes += n;
	lv->blocks++;
	return 0;
}

/* Replay the trace, filling @r at each checkpoint; -1: out of the buffer. */
static int lr_replay(const struct lr_heap *hp, uint64_t ops, uint64_t seed,
                     struct lr_result *r)
{
	struct lr_live lv;
	struct rig_rng rng;
	uint64_t cp[LR_MAX_CP];
	unsigned ncp = lr_checkpoints(ops, cp), k = 0;
	int rc = 0;

	memset(&lv, 0, sizeof(lv));
	lv.p = calloc(LR_SLOTS, sizeof(*lv.p));
	lv.size = calloc(LR_SLOTS, sizeof(*lv.size));
	if (!lv.p || !lv.size)
		rc = -2;
	rig_rng_seed(&rng, seed);
	for (uint64_t i = 1; !rc && k < ncp; i++) {
		rc = lr_step(hp, &lv, &rng);
		if (rc || i != cp[k])
			continue;
		r->ops[k] = i;
		r->largest[k] = lr_largest(hp);
		r->live_bytes[k] = lv.bytes;
		r->live_blocks[k] = lv.blocks;
		r->failed[k] = lv.failed;
		r->ncp = ++k;
	}
	free(lv.p);
	free(lv.size);
	return rc;
}

/* Set up the allocator over a fresh buffer and replay; fills @r. */
static void lr_measure(const char *alloc, uint64_t ops, uint64_t seed, struct lr_result *r)
{
	const struct rig_alloc *A = rig_find_alloc(alloc);
	const size_t align = (size_t)2 << 20; /* mimalloc arenas: segment aligned */
	struct lr_heap hp;
	char why[200] = "", *raw;
	int rc;

	if (!A || A->load(why, sizeof(why)) || !A->init_fixed) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "n/a: %.150s", !A ? "not built in" :
		         why[0] ? why : "no heap over a caller's buffer");
		return;
	}
	hp.A = A;
	hp.len = rig_buffer_size(LR_HEAP);
	raw = mmap(NULL, hp.len + align, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (raw == MAP_FAILED) {
		r->status = 2;
		snprintf(r->note, sizeof(r->note), "mmap: %.150s", strerror(errno));
		return;
	}
	hp.buf = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	hp.ctx = A->init_fixed(hp.buf, hp.len);
	hp.alloc = A->alloc_fixed ? A->alloc_fixed : A->alloc;
	if (!hp.ctx) {
		r->status = 1;
		snprintf(r->note, sizeof(r->note), "n/a: %.64s refused the buffer", alloc);
		return;
	}
	rc = lr_replay(&hp, ops, seed, r);
	if (rc)
		r->status = rc == -1 ? 1 : 2;
	if (rc)
		snprintf(r->note, sizeof(r->note), "%s", rc == -1 ?
		         "n/a: a block outside the buffer" : "out of memory for the slots");
	/* the process ends here: the buffer is not given back (peers may
	 * still map it) */
}

int longrun_worker_main(int argc, char **argv)
{
	const char *alloc = "";
	uint64_t ops = 0, seed = 1;
	int fd = -1;
	struct lr_result *r;

	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--alloc")) alloc = argv[i + 1];
		else if (!strcmp(argv[i], "--ops")) ops = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--result-fd")) fd = atoi(argv[i + 1]);
	}
	if (fd < 0 || !ops)
		return 2;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return 2;
	memset(r, 0, sizeof(*r));
	lr_measure(alloc, ops, seed, r);
	munmap(r, sizeof(*r));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Driver side                                                         */
/* ------------------------------------------------------------------ */

int longrun_option(const char *a, const char *v, int *i)
{
	if (!strcmp(a, "--longrun-ops") && v) {
		lr_ops = strtod(v, NULL); /* accepts 1e8 */
		if (lr_ops < 1 || lr_ops > 1e13) {
			fprintf(stderr, "rtheap-latency: --longrun-ops must be in 1..1e13\n");
			exit(2);
		}
	} else if (!strcmp(a, "--longrun-seeds") && v) {
		lr_seeds = (unsigned)atoi(v);
		if (lr_seeds < 1 || lr_seeds > LR_MAX_SEEDS) {
			fprintf(stderr, "rtheap-latency: --longrun-seeds must be in 1..%d\n",
			        LR_MAX_SEEDS);
			exit(2);
		}
	} else {
		return 0;
	}
	(*i)++;
	return 1;
}

static uint64_t lr_nops(void)
{
	if (lr_ops >= 1)
		return (uint64_t)lr_ops;
	return O.level == 2 ? 100000000u : O.level ? 2000000u : 100000u;
}

static unsigned lr_nseeds(void)
{
	return lr_seeds ? lr_seeds : O.level ? 2 : 1;
}

static int lr_wanted(void)
{
	return group_wanted("longrun", 1);
}

/* Start a worker, this executable with --longrun-worker, the result in
 * the memfd @fd; its pid, or -1. */
struct lr_job {
	const char *alloc;
	uint64_t seed;
};

static pid_t lr_spawn(const void *ctx, int fd)
{
	const char *alloc = ((const struct lr_job *)ctx)->alloc;
	uint64_t seed = ((const struct lr_job *)ctx)->seed;
	char self[PATH_MAX], a_ops[32], a_seed[32], a_fd[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (n <= 0)
		return -1;
	self[n] = 0;
	snprintf(a_ops, sizeof(a_ops), "%llu", (unsigned long long)lr_nops());
	snprintf(a_seed, sizeof(a_seed), "%llu", (unsigned long long)seed);
	snprintf(a_fd, sizeof(a_fd), "%d", fd);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		const char *pre = rig_preload(alloc);
		if (pre)
			setenv("LD_PRELOAD", pre, 1);
		rig_tune_env(alloc, O.tune);
		execl(self, self, "--longrun-worker", "--alloc", alloc, "--ops", a_ops,
		      "--seed", a_seed, "--result-fd", a_fd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Run one worker and collect what it measured. */
static void lr_run_worker(const char *alloc, uint64_t seed, struct lr_result *out)
{
	const struct lr_job job = { alloc, seed };
	int st = 0;
	memset(out, 0, sizeof(*out));
	int rc = worker_collect("rtheap-longrun", out, sizeof(*out), lr_spawn, &job, &st);
	if (rc == 0)
		return;
	out->status = 2;
	if (rc == -1 && WIFSIGNALED(st)) {
		/* a peer that crashes over a caller's buffer is not measured;
		 * rtheap crashing is a failure */
		const struct rig_alloc *A = rig_find_alloc(alloc);
		out->status = A && A->peer ? 1 : 2;
		snprintf(out->note, sizeof(out->note), "%sworker killed by signal %d",
		         out->status == 1 ? "n/a: " : "", WTERMSIG(st));
	} else {
		snprintf(out->note, sizeof(out->note), "worker failed (status %d)", st);
	}
}

void longrun_run(void)
{
	if (!lr_wanted())
		return;
	for (int a = 0; rig_allocs[a]; a++) {
		const char *name = rig_allocs[a]->name;
		/* rtheap-pi places blocks as rtheap does */
		if (!alloc_selected(name) || !strcmp(name, "rtheap-pi"))
			continue;
		for (unsigned s = 0; s < lr_nseeds() && lr_nrows < LR_MAX_ROWS; s++) {
			struct lr_row *x = &lr_rows[lr_nrows++];
			x->alloc = name;
			x->seed = O.seed + s;
			fprintf(stderr, "\rlongrun: %-10s seed %llu, %.0e operations...      ", name,
			        (unsigned long long)x->seed, (double)lr_nops());
			if (!rig_allocs[a]->init_fixed) {
				x->r.status = 1;
				snprintf(x->r.note, sizeof(x->r.note), "n/a: no heap over a caller's buffer");
				break; /* one row says it */
			}
			lr_run_worker(name, x->seed, &x->r);
		}
	}
	if (lr_nrows)
		fprintf(stderr, "\n");
}

/* ------------------------------------------------------------------ */
/* Tables and files                                                    */
/* ------------------------------------------------------------------ */

/* The first measured row: its checkpoints are every measured row's. */
static const struct lr_row *lr_first_ok(void)
{
	for (size_t i = 0; i < lr_nrows; i++)
		if (lr_rows[i].r.status == 0 && lr_rows[i].r.ncp)
			return &lr_rows[i];
	return NULL;
}

/* Lowest and highest figure over the checkpoints of the last half. */
static void lr_last_half(const struct lr_result *r, double *lo, double *hi)
{
	uint64_t half = r->ops[r->ncp - 1] / 2;
	*lo = 1e300;
	*hi = 0;
	for (unsigned k = 0; k < r->ncp; k++)
		if (r->ops[k] >= half) {
			double v = (double)r->largest[k] / 1e6;
			*lo = v < *lo ? v : *lo;
			*hi = v > *hi ? v : *hi;
		}
}

static void lr_rule(FILE *f, int md, size_t ncol)
{
	if (!md)
		return;
	fprintf(f, "|---:|");
	for (size_t c = 0; c < ncol; c++)
		fprintf(f, "---:|");
	fprintf(f, "\n");
}

/* The table, as text (md 0) or Markdown: checkpoints x (allocator, seed). */
static void lr_table(FILE *f, int md)
{
	const struct lr_row *x0 = lr_first_ok(), *col[LR_MAX_ROWS];
	const char *sep = md ? " | " : " ", *end = md ? " |\n" : "\n";
	size_t ncol = 0;

	for (size_t i = 0; i < lr_nrows; i++)
		if (lr_rows[i].r.status == 0 && x0 && lr_rows[i].r.ncp == x0->r.ncp)
			col[ncol++] = &lr_rows[i];
	fprintf(f, "%s%10s", md ? "| " : "", "ops");
	for (size_t c = 0; c < ncol; c++)
		fprintf(f, "%s%8s s%llu", sep, col[c]->alloc, (unsigned long long)col[c]->seed);
	fprintf(f, "%s", end);
	lr_rule(f, md, ncol);
	for (unsigned k = 0; x0 && k < x0->r.ncp; k++) {
		fprintf(f, "%s%10.3g", md ? "| " : "", (double)x0->r.ops[k]);
		for (size_t c = 0; c < ncol; c++)
			fprintf(f, "%s%11.2f", sep, (double)col[c]->r.largest[k] / 1e6);
		fprintf(f, "%s", end);
	}
	fprintf(f, "%s%10s", md ? "| " : "", "last half");
	for (size_t c = 0; c < ncol; c++) {
		double lo, hi;
		lr_last_half(&col[c]->r, &lo, &hi);
		fprintf(f, "%s%5.2f-%5.2f", sep, lo, hi);
	}
	fprintf(f, "%s", end);
}

/* The trace and the notes of the rows not measured. */
static void lr_notes(FILE *f, int md)
{
	const struct lr_row *x0 = lr_first_ok();
	if (x0) {
		unsigned k = x0->r.ncp - 1;
		fprintf(f, "%s%s over a %.1f MB buffer (rtheap: 32 MiB of pages); live set at the "
		        "end: %u blocks, %.1f MB requested (%s s%llu)\n", md ? "" : "  ",
		        "largest block still allocatable, MB (10^6 bytes), found by trying,",
		        (double)rig_buffer_size(LR_HEAP) / 1e6, x0->r.live_blocks[k],
		        (double)x0->r.live_bytes[k] / 1e6, x0->alloc,
		        (unsigned long long)x0->seed);
	}
	for (size_t i = 0; i < lr_nrows; i++) {
		const struct lr_row *x = &lr_rows[i];
		if (x->r.status)
			fprintf(f, "%s%s seed %llu: %s\n", md ? "- " : "  ", x->alloc,
			        (unsigned long long)x->seed, x->r.note);
		else if (x->r.failed[x->r.ncp ? x->r.ncp - 1 : 0])
			fprintf(f, "%s%s seed %llu: %llu allocations refused during the run\n",
			        md ? "- " : "  ", x->alloc, (unsigned long long)x->seed,
			        (unsigned long long)x->r.failed[x->r.ncp - 1]);
	}
}

void longrun_table(FILE *f)
{
	if (!lr_nrows)
		return;
	fprintf(f, "\nLONG-RUN FRAGMENTATION: 40000 slots, sizes 75 %% 16..511 B (log), "
	        "22 %% 128..2176 B, 3 %% 2..34 KiB\n");
	lr_notes(f, 0);
	lr_table(f, 0);
}

static void lr_csv(void)
{
	FILE *f = open_out("longrun.csv");
	if (!f)
		return;
	fprintf(f, "allocator,seed,ops,largest_bytes,live_blocks,live_bytes,failed,status\n");
	for (size_t i = 0; i < lr_nrows; i++) {
		const struct lr_row *x = &lr_rows[i];
		if (x->r.status || !x->r.ncp) {
			fprintf(f, "%s,%llu,0,0,0,0,0,\"", x->alloc, (unsigned long long)x->seed);
			for (const char *s = x->r.note; *s; s++) {
				if (*s == '"')
					fputc('"', f);
				fputc(*s, f);
			}
			fprintf(f, "\"\n");
			continue;
		}
		for (unsigned k = 0; k < x->r.ncp; k++)
			fprintf(f, "%s,%llu,%llu,%llu,%u,%llu,%llu,\"ok\"\n", x->alloc,
			        (unsigned long long)x->seed, (unsigned long long)x->r.ops[k],
			        (unsigned long long)x->r.largest[k], x->r.live_blocks[k],
			        (unsigned long long)x->r.live_bytes[k],
			        (unsigned long long)x->r.failed[k]);
	}
	fclose(f);
}

void longrun_write(void)
{
	char path[PATH_MAX];
	FILE *f;
	if (!lr_nrows)
		return;
	lr_csv();
	snprintf(path, sizeof(path), "%s/results.md", O.out);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "rtheap-latency: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "\n## Long-run fragmentation\n\n40000 slots, sizes 75 %% 16..511 B "
	        "(log-uniform), 22 %% 128..2176 B, 3 %% 2..34 KiB; ");
	lr_notes(f, 1);
	fprintf(f, "\n");
	lr_table(f, 1);
	fclose(f);
}

int longrun_failed(void)
{
	for (size_t i = 0; i < lr_nrows; i++)
		if (lr_rows[i].r.status == 2)
			return 1;
	return 0;
}
