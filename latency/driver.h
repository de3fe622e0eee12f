/* SPDX-License-Identifier: MIT */
/*
 * driver.h -- private declarations of the driver of rtheap-latency, grouped
 * by the file that defines them:
 *   - main.c    options, planning, running each case in a worker process;
 *   - report.c  the tables on stdout, the CSV, JSON and markdown files and
 *               the histograms;
 *   - plots.c   the gnuplot plots.
 * The worker side (worker.c, allocators.c, ...) has rig.h only.
 */
#ifndef RTHEAP_LATENCY_DRIVER_H
#define RTHEAP_LATENCY_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rig.h"

#define MIB ((size_t)1 << 20)
#define MAX_CASES 512

/* ---------------- options and cases (main.c) ---------------- */

struct opts {
	int level;            /* 0 tiny, 1 quick, 2 full */
	const char *out;
	uint64_t seed;
	unsigned replays;
	char allocs[256];
	char only[256];
	int cpu, prio, rt, icount, callgrind, plots, tune, force_clock;
	int replays_given;    /* --replays given (the peers group has 5 otherwise) */
};

extern struct opts O;

struct rec {
	struct rig_case c;
	struct rig_result r;
	const char *group;    /* "workload", "growth", "extents", ... */
};

/* The planned cases, in plan order; a case is run once, then reported. */
extern struct rec *recs;
extern size_t nrecs;

/* What probe_rt found: SCHED_FIFO and mlockall granted (1), refused (0),
 * not probed (-1), and why not, for the header and results.json. */
extern int rt_fifo_ok, rt_mlock_ok;
extern char rt_why[256];

/* The allocator is among those of --alloc (or no --alloc). */
int alloc_selected(const char *name);
/* The allocators of the group "peers", NULL-terminated: rtheap first. */
extern const char *const peer_allocs[];

/* ---------------- output files and tables (report.c) ---------------- */

/* Open @name under the output directory for writing; NULL (said on
 * stderr) on failure. */
FILE *open_out(const char *name);
/* 16M, 1G, 64K: a size for tables and file names. */
const char *human(size_t bytes, char *buf, size_t len);
const char *mode_name(enum rig_mode m);
int same_case(const struct rec *a, const struct rec *b);
const struct rec *earlier_group(const struct rec *x);

/* stdout */
void print_timer(void);
void summary_tables(FILE *f);
void table_legend(FILE *f);
void table_timed(FILE *f, const char *group, const char *unit);
/* The side-by-side table of the group "peers", as text (md 0) or Markdown. */
void table_peers(FILE *f, int md);

/* files */
void write_latency_csv(void);
void write_other_csv(void);
void write_json(double elapsed);
void write_markdown(void);
void write_hist(const struct rec *x0, int op, const char *path_tag);

/* ---------------- long-run fragmentation (longrun.c) ---------------- */

/* An option of the group "longrun" at argv[*i] (value v): 1 and *i moved
 * past its value, or 0 if it is not one. */
int longrun_option(const char *a, const char *v, int *i);
/* The worker side: rtheap-latency --longrun-worker ... */
int longrun_worker_main(int argc, char **argv);
/* Run the group (if selected), then its table on stdout, its CSV and its
 * section of results.md; 1 if a run failed. */
void longrun_run(void);
void longrun_table(FILE *f);
void longrun_write(void);
int longrun_failed(void);

/* ---------------- the class heap (classheap.c) ---------------- */

/* The worker side: rtheap-latency --classheap-worker KIND FD SEED. */
int classheap_worker_main(int argc, char **argv);
/* Run the group "classheap" (with --full, or named in --only), then its
 * tables on stdout and classheap.csv; 1 if a run failed. */
void classheap_run(void);
void classheap_table(FILE *f);
void classheap_write(void);
int classheap_failed(void);
/* ---------------- region pools (region.c) ---------------- */

/* The worker side: rtheap-latency --region-worker (under valgrind). */
int region_worker_main(int argc, char **argv);
/* Run the group "region" (with --full, or named in --only): its table on
 * stdout and region.csv; region_failed() 1 if a run failed. */
void region_run(void);
int region_failed(void);

/* A group of its own file: 1 if it is to run (named in --only; without
 * --only, @p by_default). */
int group_wanted(const char *name, int by_default);
/* Run a worker that writes its result (@p size bytes) into the memory
 * file @p spawn gets (spawn forks and execs it: its pid, or -1), wait for
 * it, and copy the result into @p out: 0; -1 if the worker failed or was
 * killed (its wait status in *wstatus); -2 if it could not be started. */
int worker_collect(const char *name, void *out, size_t size,
                   pid_t (*spawn)(const void *ctx, int fd), const void *ctx, int *wstatus);
/* The directory of the instruction-count tool (RTHEAP_LATENCY_VGLIB, else
 * the one built with the harness), or NULL. */
const char *vg_tool_dir(void);

/* ---------------- object caches (caches.c) ---------------- */

/* The worker side: rtheap-latency --caches-worker ... */
int caches_worker_main(int argc, char **argv);
/* Run the group "caches" (with --full, or named in --only), then its
 * tables on stdout, caches.csv and its section of results.md; 1 if a run
 * failed. */
void caches_run(void);
void caches_table(FILE *f);
void caches_write(void);
int caches_failed(void);

/* ---------------- per-CPU areas (percpu.c) ---------------- */

/* The worker side: rtheap-latency --percpu-worker ... */
int percpu_worker_main(int argc, char **argv);
/* Run the group "percpu" (with --full, or named in --only), then its
 * tables on stdout, percpu.csv and its section of results.md; 1 if a run
 * failed. */
void percpu_run(void);
void percpu_table(FILE *f);
void percpu_write(void);
int percpu_failed(void);

/* ---------------- realloc (realloc.c) ---------------- */

/* The worker side: rtheap-latency --realloc-worker ... */
int realloc_worker_main(int argc, char **argv);
/* Run the group "realloc" (with --full, or named in --only), then its
 * tables on stdout, realloc.csv and its section of results.md; 1 if a
 * run failed. */
void realloc_run(void);
void realloc_table(FILE *f);
void realloc_write(void);
int realloc_failed(void);
/* ---------------- kernel-style layer (kmem.c) ---------------- */

/* The worker side: rtheap-latency --kmem-worker ... (under valgrind). */
int kmem_worker_main(int argc, char **argv);
/* Run the group "kmem" (with --full, or named in --only): instruction
 * counts of rtkmem_alloc / rtkmem_free and the page-order calls; its table
 * on stdout and kmem.csv; 1 if the worker failed. */
void kmem_run(void);
void kmem_table(FILE *f);
void kmem_write(void);
int kmem_failed(void);

/* ---------------- scaling with threads (scaling.c) ---------------- */

/* --threads LIST at argv[*i] (value v): 1 and *i moved past it, or 0. */
int scaling_option(const char *a, const char *v, int *i);
/* The worker side: rtheap-latency --scaling-worker ... */
int scaling_worker_main(int argc, char **argv);
/* Run the group "scaling" (with --full, or named in --only): throughput
 * and worst case per allocator and thread count, and the instruction
 * counts of the per-thread cache; its table on stdout, scaling.csv and
 * its section of results.md; 1 if a run failed. */
void scaling_run(void);
void scaling_table(FILE *f);
void scaling_write(void);
int scaling_failed(void);

/* ---------------- gnuplot (plots.c) ---------------- */

int have_gnuplot(void);
void plot_dist(const struct rec *x0, const char *tag);
void plot_series(const char *group, const char *file, const char *xlabel,
                 int by_extents);

#endif /* RTHEAP_LATENCY_DRIVER_H */
