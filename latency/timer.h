/* SPDX-License-Identifier: MIT */
/* timer.h -- inline time stamps of the latency harness (see timer.c). */
#ifndef RTHEAP_LATENCY_TIMER_H
#define RTHEAP_LATENCY_TIMER_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define RIG_HAVE_TSC 1
#else
#define RIG_HAVE_TSC 0
#endif

/** 1 when the TSC is used, 0 for clock_gettime (set by calibration). */
extern int rig_use_tsc;

static inline uint64_t rig_clock_ns_(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Time stamp taken before an operation. */
static inline uint64_t rig_ticks_begin(void)
{
#if RIG_HAVE_TSC
	if (rig_use_tsc) {
		uint64_t t;
		_mm_lfence();
		t = __rdtsc();
		_mm_lfence();
		return t;
	}
#endif
	return rig_clock_ns_();
}

/** Time stamp taken after an operation. */
static inline uint64_t rig_ticks_end(void)
{
#if RIG_HAVE_TSC
	if (rig_use_tsc) {
		unsigned aux;
		uint64_t t = __rdtscp(&aux);
		_mm_lfence();
		return t;
	}
#endif
	return rig_clock_ns_();
}

#endif
