/* SPDX-License-Identifier: MIT */
/* stats.c -- percentiles and histograms of per-operation minima. */
#include <stdlib.h>
#include <string.h>

#include "rig.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t pct(const uint32_t *v, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/*
 * @p v: per-op minima (sorted in place); @p raw: per-op maxima over the
 * replays (or NULL); @p scale converts units (ticks to ns, or 1).
 */
void rig_stats_from(struct rig_opstats *s, uint32_t *v, size_t n, double scale,
                    const uint32_t *raw)
{
	double sum = 0;
	memset(s, 0, sizeof(*s));
	s->count = n;
	if (n == 0)
		return;
	if (raw) {
		uint32_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (raw[i] > m)
				m = raw[i];
		s->rawmax = m * scale;
	}
	for (size_t i = 0; i < n; i++) {
		double x = v[i] * scale;
		size_t b = (size_t)(x / RIG_HIST_NS);
		sum += x;
		if (b < RIG_HIST_BUCKETS)
			s->hist[b]++;
		else
			s->overflow++;
	}
	qsort(v, n, sizeof(*v), cmp_u32);
	s->mean = sum / (double)n;
	s->p50 = pct(v, n, 0.50) * scale;
	s->p99 = pct(v, n, 0.99) * scale;
	s->p999 = pct(v, n, 0.999) * scale;
	s->p9999 = pct(v, n, 0.9999) * scale;
	s->max = v[n - 1] * scale;
	s->min = v[0] * scale;
	if (!raw)
		s->rawmax = s->max;
}
