/* SPDX-License-Identifier: MIT */
/*
 * timer.c -- calibrated time stamps for the latency harness.
 *
 * On x86-64 with an invariant TSC (constant_tsc and nonstop_tsc in
 * /proc/cpuinfo) every operation is bracketed by LFENCE;RDTSC;LFENCE and
 * RDTSCP;LFENCE, and the TSC rate is calibrated against
 * CLOCK_MONOTONIC_RAW.  Elsewhere clock_gettime(CLOCK_MONOTONIC_RAW) is
 * used.  In both cases the cost of an empty measurement (its minimum over
 * many tries) is subtracted from each sample.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rig.h"
#include "timer.h"

uint64_t rig_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int rig_use_tsc;

/* 1 when /proc/cpuinfo reports an invariant TSC; otherwise 0 and the
 * reason in @p why. */
static int cpu_has_invariant_tsc(char *why, size_t len)
{
#if RIG_HAVE_TSC
	static const char *const need[] = { "constant_tsc", "nonstop_tsc", "rdtscp" };
	char line[4096], missing[64] = "";
	int found = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f) {
		snprintf(why, len, "cannot read /proc/cpuinfo");
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) == 0) {
			found = 1;
			line[strcspn(line, "\n")] = ' ';
			for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
				char word[32];
				snprintf(word, sizeof(word), " %s ", need[i]);
				if (!strstr(line, word))
					snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
					         " %s", need[i]);
			}
			break;
		}
	}
	fclose(f);
	if (!found)
		snprintf(why, len, "no CPU flags in /proc/cpuinfo");
	else if (missing[0])
		snprintf(why, len, "/proc/cpuinfo lacks%s", missing);
	return found && !missing[0];
#else
	snprintf(why, len, "not an x86 CPU");
	return 0;
#endif
}

int rig_timer_calibrate(struct rig_timer *tm, int force_clock)
{
	uint64_t best = UINT64_MAX;

	memset(tm, 0, sizeof(*tm));
	if (force_clock)
		snprintf(tm->why, sizeof(tm->why), "clock_gettime requested");
	rig_use_tsc = !force_clock && cpu_has_invariant_tsc(tm->why, sizeof(tm->why));
	tm->tsc = rig_use_tsc;
	tm->ticks_per_ns = 1.0;
	if (tm->tsc) {
		/* Three 20 ms windows; keep the median rate. */
		double rate[3];
		for (int k = 0; k < 3; k++) {
			uint64_t n0 = rig_now_ns(), c0 = rig_ticks_begin(), n1, c1;
			do {
				n1 = rig_now_ns();
			} while (n1 - n0 < 20000000u);
			c1 = rig_ticks_end();
			rate[k] = (double)(c1 - c0) / (double)(n1 - n0);
		}
		for (int i = 0; i < 2; i++)
			for (int j = i + 1; j < 3; j++)
				if (rate[j] < rate[i]) {
					double x = rate[i];
					rate[i] = rate[j];
					rate[j] = x;
				}
		tm->ticks_per_ns = rate[1];
		if (!(tm->ticks_per_ns > 0.01)) {
			snprintf(tm->why, sizeof(tm->why), "TSC calibration failed (%.4f ticks/ns)",
			         tm->ticks_per_ns);
			tm->tsc = rig_use_tsc = 0;
			tm->ticks_per_ns = 1.0;
		}
	}
	for (int i = 0; i < 20000; i++) {
		uint64_t a = rig_ticks_begin();
		uint64_t b = rig_ticks_end();
		if (b - a < best)
			best = b - a;
	}
	tm->overhead = best;
	return 0;
}
