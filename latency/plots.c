/* SPDX-License-Identifier: MIT */
/*
 * plots.c -- the gnuplot plots of rtheap-latency: per-case distributions
 * (dist_*.png) and the growth and extent series (growth.png, extents.png).
 * Each plot is a data file and a script in the output directory, run there
 * by gnuplot.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

int have_gnuplot(void)
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
void plot_dist(const struct rec *x0, const char *tag)
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

void plot_series(const char *group, const char *file, const char *xlabel,
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
