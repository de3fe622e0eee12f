/* SPDX-License-Identifier: MIT */
/*
 * report.c -- what rtheap-latency writes, apart from the plots: the header
 * lines, summary and per-case tables on stdout, latency.csv, icount.csv,
 * throughput.csv, fill.csv, results.json, results.md and the histograms in
 * cyclictest's -h layout (hist/).  All of it reads the cases of main.c
 * (recs, nrecs) once they have run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "driver.h"
#include "rtheap/rtheap.h"

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */
/* ------------------------------------------------------------------ */

FILE *open_out(const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", O.out, name);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "rtheap-latency: cannot write %s: %s\n", path, strerror(errno));
	return f;
}

const char *human(size_t bytes, char *buf, size_t len)
{
	if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
		snprintf(buf, len, "%zuG", bytes >> 30);
	else if (bytes >= MIB && bytes % MIB == 0)
		snprintf(buf, len, "%zuM", bytes >> 20);
	else
		snprintf(buf, len, "%zuK", bytes >> 10);
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
int same_case(const struct rec *a, const struct rec *b)
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
const struct rec *earlier_group(const struct rec *x)
{
	for (const struct rec *y = recs; y < x; y++)
		if (strcmp(y->group, x->group) && y->c.mode == x->c.mode &&
		    y->c.wl == x->c.wl && y->c.heap_bytes == x->c.heap_bytes &&
		    y->c.extents == x->c.extents && y->c.fill_dist == x->c.fill_dist)
			return y;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Per-case tables (stdout)                                            */
/* ------------------------------------------------------------------ */

static void print_ns(FILE *f, double v)
{
	if (v >= 100000)
		fprintf(f, " %7.0fu", v / 1000.0);
	else
		fprintf(f, " %8.0f", v);
}

void table_timed(FILE *f, const char *group, const char *unit)
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
void table_legend(FILE *f)
{
	int timed = 0, icount = 0;
	for (size_t i = 0; i < nrecs; i++) {
		if (!strcmp(recs[i].group, "peers"))
			continue; /* its own table, its own legend */
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

/* ------------------------------------------------------------------ */
/* CSV and JSON files                                                  */
/* ------------------------------------------------------------------ */

/* Open two output files, or neither: false (nothing left open) if either
 * cannot be opened. */
static bool open_pair(const char *a, const char *b, FILE **f, FILE **g)
{
	*f = open_out(a);
	*g = open_out(b);
	if (*f && *g)
		return true;
	if (*f)
		fclose(*f);
	if (*g)
		fclose(*g);
	return false;
}

void write_latency_csv(void)
{
	FILE *f, *g;
	if (!open_pair("latency.csv", "icount.csv", &f, &g))
		return;
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

void write_other_csv(void)
{
	FILE *f, *g;
	if (!open_pair("throughput.csv", "fill.csv", &f, &g))
		return;
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

const char *mode_name(enum rig_mode m)
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

void write_json(double elapsed)
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
			if (x->c.mode == MODE_TIMED || x->c.mode == MODE_TPUT)
				fprintf(f, ", \"replays\": %u, \"timed_pass_page_faults_max\": %llu, "
				           "\"timed_pass_involuntary_switches_max\": %llu", x->c.replays,
				        (unsigned long long)x->r.timed_minflt,
				        (unsigned long long)x->r.timed_nivcsw);
			if (x->c.mode == MODE_TIMED || x->c.mode == MODE_ICOUNT) {
				fprintf(f, ", \"unit\": \"%s\", \"ops\": %llu, \"failed_allocs\": %llu",
				        x->c.mode == MODE_TIMED ? "ns" : "instructions",
				        (unsigned long long)x->r.nops, (unsigned long long)x->r.failed);
				if (x->r.holes_pairs)
					fprintf(f, ", \"holes_pairs\": %llu",
					        (unsigned long long)x->r.holes_pairs);
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
				/* fill: -1 = block sizes unknown (no usable-size call) */
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

/* ------------------------------------------------------------------ */
/* Histograms (hist/)                                                  */
/* ------------------------------------------------------------------ */

/* Histograms in cyclictest's -h layout: one line per bucket, one column
 * per allocator, then the summary lines cyclictest prints. */
void write_hist(const struct rec *x0, int op, const char *path_tag)
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
/* Summary tables, markdown report, header lines                       */
/* ------------------------------------------------------------------ */

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

/* Some case of the groups of the summary tables was planned. */
static int ran_summary_groups(void)
{
	for (size_t i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].group, "workload") || !strcmp(recs[i].group, "growth") ||
		    !strcmp(recs[i].group, "throughput") || !strcmp(recs[i].group, "fill"))
			return 1;
	return 0;
}

void summary_tables(FILE *f)
{
	char h[32], h2[32];
	size_t growth_min = 0, growth_max = 0;
	if (!ran_summary_groups())
		return; /* none of the groups summarised here ran (--only, --peers) */
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
	        human(growth_max, h2, sizeof(h2)));
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
			else if (x->r.fill_round_avg < 0)
				fprintf(f, "    %-10s requested %5.1f%% (min %.1f, max %.1f), rounded blocks n/a (sizes unknown), %0.f blocks\n",
				        x->c.alloc, x->r.fill_pct_avg, x->r.fill_pct_min, x->r.fill_pct_max,
				        x->r.fill_blocks_avg);
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

void write_markdown(void)
{
	FILE *f = open_out("results.md");
	char h[32], h2[32];
	size_t hs[8];
	int nh = 0;
	if (!f)
		return;
	fprintf(f, "<!-- generated by rtheap-latency (%s mode, seed %llu, %u replays) -->\n\n",
	        O.level == 2 ? "full" : O.level ? "quick" : "tiny",
	        (unsigned long long)O.seed, O.replays);
	if (!ran_summary_groups()) {
		table_peers(f, 1);
		fclose(f);
		return;
	}
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
		fprintf(f, " %s / %s |\n|---|", human(hs[nh - 1], h, sizeof(h)), human(hs[0], h2, sizeof(h2)));
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
			else if (x->r.fill_round_avg < 0)
				fprintf(f, " %.1f (%.1f .. %.1f) | n/a | %.0f |\n", x->r.fill_pct_avg,
				        x->r.fill_pct_min, x->r.fill_pct_max, x->r.fill_blocks_avg);
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
	table_peers(f, 1);
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* The side-by-side table of the group "peers"                         */
/* ------------------------------------------------------------------ */

static const char *const peer_fig_name[5] = {
	"alloc worst (ns)", "free worst (ns)", "throughput (ns/op)",
	"alloc max (instr)", "free max (instr)",
};

static const char *peer_wl_label(enum rig_workload wl)
{
	switch (wl) {
	case WL_SMALL: return "uniform 16 B..4 KiB";
	case WL_MIXED: return "log-uniform 16 B..256 KiB";
	case WL_HOLES_SMALL: return "holes 48 B / 1000 B";
	case WL_HOLES_MID: return "holes 512 B / 1536 B";
	default: return rig_workload_name(wl);
	}
}

/* Figure @fig of @alloc on the row (wl, heap); 0 if not measured. */
static int peer_val(enum rig_workload wl, size_t heap, const char *alloc, int fig,
                    double *v)
{
	static const enum rig_mode m[5] = { MODE_TIMED, MODE_TIMED, MODE_TPUT,
	                                    MODE_ICOUNT, MODE_ICOUNT };
	const struct rec *x = find("peers", m[fig], wl, heap, 1, alloc, 0);
	if (!x || x->r.status)
		return 0;
	*v = fig == 2 ? x->r.ns_per_op : fig % 3 == 0 ? x->r.a.max : x->r.f.max;
	return 1;
}

/* The rows: distinct (workload, heap) of the group, in plan order. */
static size_t peer_rows(const struct rec **rows, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < nrecs; i++) {
		int seen = 0;
		if (strcmp(recs[i].group, "peers"))
			continue;
		for (size_t k = 0; k < n; k++)
			if (rows[k]->c.wl == recs[i].c.wl && rows[k]->c.heap_bytes == recs[i].c.heap_bytes)
				seen = 1;
		if (!seen && n < max)
			rows[n++] = &recs[i];
	}
	return n;
}

static void peer_cell(FILE *f, int md, int ok, double v, int fig)
{
	char b[32];
	if (!ok)
		snprintf(b, sizeof(b), "n/a");
	else
		snprintf(b, sizeof(b), fig == 2 ? "%.1f" : "%.0f", v);
	if (md)
		fprintf(f, " %s |", b);
	else
		fprintf(f, " %10s", b);
}

/* Failed allocations, fill pairs and page faults of a row, for the notes. */
static void peer_notes(FILE *f, const struct rec *row, int md)
{
	char h[32], line[512];
	size_t len = 0;
	line[0] = 0;
	for (int a = 0; peer_allocs[a]; a++) {
		const struct rec *x = find("peers", MODE_TIMED, row->c.wl, row->c.heap_bytes, 1,
		                           peer_allocs[a], 0);
		if (!x || x->r.status)
			continue;
		if (x->r.holes_pairs)
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %llu pairs",
			                        len ? ", " : "", x->c.alloc,
			                        (unsigned long long)x->r.holes_pairs);
		if (x->r.failed)
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %llu failed allocs",
			                        len ? ", " : "", x->c.alloc,
			                        (unsigned long long)x->r.failed);
		if (x->r.timed_minflt)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			                        "%s%s %llu page faults in a timed pass", len ? ", " : "",
			                        x->c.alloc, (unsigned long long)x->r.timed_minflt);
		if (len >= sizeof(line))
			break;
	}
	if (!line[0])
		return;
	if (md)
		fprintf(f, "- %s, %s: %s\n", peer_wl_label(row->c.wl),
		        human(row->c.heap_bytes, h, sizeof(h)), line);
	else
		fprintf(f, "  %s, %s: %s\n", peer_wl_label(row->c.wl),
		        human(row->c.heap_bytes, h, sizeof(h)), line);
}

static void peer_row(FILE *f, int md, const struct rec *row, int fig)
{
	char h[32];
	double v[8], best = 0;
	int ok[8], nbest = 0;
	if (md)
		fprintf(f, "| %s | %s | %s |", fig ? "" : peer_wl_label(row->c.wl),
		        fig ? "" : human(row->c.heap_bytes, h, sizeof(h)), peer_fig_name[fig]);
	else
		fprintf(f, "%-26s %5s  %-19s", fig ? "" : peer_wl_label(row->c.wl),
		        fig ? "" : human(row->c.heap_bytes, h, sizeof(h)), peer_fig_name[fig]);
	for (int a = 0; peer_allocs[a] && a < 8; a++) {
		ok[a] = peer_val(row->c.wl, row->c.heap_bytes, peer_allocs[a], fig, &v[a]);
		peer_cell(f, md, ok[a], v[a], fig);
		if (a && ok[a] && (!nbest++ || v[a] < best))
			best = v[a];
	}
	/* rtheap / the better of the peers measured */
	if (ok[0] && nbest && best > 0)
		fprintf(f, md ? " %.2f |\n" : " %10.2f\n", v[0] / best);
	else
		fprintf(f, md ? " n/a |\n" : " %10s\n", "n/a");
}

void table_peers(FILE *f, int md)
{
	const struct rec *rows[16];
	size_t n = peer_rows(rows, 16);
	unsigned replays = 0;
	int nfig = 2;
	if (!n)
		return;
	for (size_t i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].group, "peers")) {
			if (recs[i].c.mode == MODE_TIMED)
				replays = recs[i].c.replays;
			if (recs[i].c.mode == MODE_TPUT && nfig < 3)
				nfig = 3;
			if (recs[i].c.mode == MODE_ICOUNT)
				nfig = 5;
		}
	fprintf(f, md ? "\nSide by side with the peers over a caller buffer "
	                "(worst = max over the trace of the per-op minimum of %u replays; "
	                "ratio = rtheap / min(tlsf, o1heap)):\n\n"
	              : "\nPEERS: rtheap (lock NONE), TLSF, o1heap over the same buffer size; worst = max over\n"
	                "  the trace of the per-op minimum of %u replays; ratio = rtheap / min(tlsf, o1heap)\n",
	        replays);
	if (md) {
		fprintf(f, "| workload | heap | figure |");
		for (int a = 0; peer_allocs[a]; a++)
			fprintf(f, " %s |", peer_allocs[a]);
		fprintf(f, " ratio |\n|---|---|---|");
		for (int a = 0; peer_allocs[a]; a++)
			fprintf(f, "---|");
		fprintf(f, "---|\n");
	} else {
		fprintf(f, "%-26s %5s  %-19s", "workload", "heap", "figure");
		for (int a = 0; peer_allocs[a]; a++)
			fprintf(f, " %10s", peer_allocs[a]);
		fprintf(f, " %10s\n", "ratio");
	}
	for (size_t i = 0; i < n; i++)
		for (int fig = 0; fig < nfig; fig++)
			peer_row(f, md, rows[i], fig);
	fprintf(f, "\n");
	for (size_t i = 0; i < n; i++)
		peer_notes(f, rows[i], md);
	for (int a = 0; peer_allocs[a]; a++)
		if (!rig_find_alloc(peer_allocs[a]))
			fprintf(f, "%s%s: not built in (see docs/latency.md: RTHEAP_PEER_%s_DIR)\n",
			        md ? "- " : "  ", peer_allocs[a],
			        !strcmp(peer_allocs[a], "tlsf") ? "TLSF" : "O1HEAP");
}

/* Header lines: the clock the timed cases used, and their scheduling. */
void print_timer(void)
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
