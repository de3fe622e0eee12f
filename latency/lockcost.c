/* SPDX-License-Identifier: MIT */
/*
 * lockcost.c -- what each lock mode adds to an uncontended rtheap_alloc /
 * rtheap_free pair (docs: the process-shared heap).
 *
 *   rtheap-lockcost MODE [N] [time]
 *
 * MODE: none, pi, spin or shared.  N pairs of rtheap_alloc(64) +
 * rtheap_free and N pairs of rtheap_alloc(2000) + rtheap_free (a bucket
 * block and a page run, page 256 B) on a fresh 1 MiB heap, after 1000
 * pairs of each as warm-up.  Without "time" it does nothing else: run it
 * under valgrind --tool=callgrind --toggle-collect=rtheap_alloc (or
 * rtheap_free) and divide the instructions collected by 2 * (N + 1000)
 * calls.  With "time" it prints the nanoseconds per pair of each size,
 * the best of 5 passes of N pairs (clock_gettime, CLOCK_MONOTONIC).
 */
#define _POSIX_C_SOURCE 200809L
#include <rtheap/rtheap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Alignas(64) unsigned char buf[1u << 20];

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int pairs(rtheap_t *h, size_t size, long n)
{
	for (long i = 0; i < n; i++) {
		void *p = rtheap_alloc(h, size);
		if (!p || rtheap_free(h, p))
			return -1;
	}
	return 0;
}

static int mode_of(const char *s)
{
	if (!strcmp(s, "none"))
		return RTHEAP_LOCK_NONE;
	if (!strcmp(s, "pi"))
		return RTHEAP_LOCK_PI_MUTEX;
	if (!strcmp(s, "spin"))
		return RTHEAP_LOCK_SPIN;
	if (!strcmp(s, "shared"))
		return RTHEAP_LOCK_SHARED;
	return -1;
}

int main(int argc, char **argv)
{
	int mode = argc > 1 ? mode_of(argv[1]) : -1;
	long n = argc > 2 ? atol(argv[2]) : 100000;
	int timed = argc > 3 && !strcmp(argv[3], "time");
	if (mode < 0 || n <= 0) {
		fprintf(stderr, "usage: %s none|pi|spin|shared [N] [time]\n", argv[0]);
		return 2;
	}
	rtheap_t h;
	struct rtheap_config cfg = {0};
	cfg.lock = (rtheap_lock_mode_t)mode;
	int err = rtheap_init(&h, buf, sizeof(buf), &cfg);
	if (err) {
		fprintf(stderr, "rtheap_init: %s\n", strerror(-err));
		return 1;
	}
	if (pairs(&h, 64, 1000) || pairs(&h, 2000, 1000))
		return 1;
	if (!timed)
		return pairs(&h, 64, n) || pairs(&h, 2000, n);
	static const size_t sizes[2] = {64, 2000};
	for (int s = 0; s < 2; s++) {
		double best = 1e30;
		for (int r = 0; r < 5; r++) {
			double t0 = now_ns();
			if (pairs(&h, sizes[s], n))
				return 1;
			double t = (now_ns() - t0) / (double)n;
			best = t < best ? t : best;
		}
		printf("%s size %zu: %.1f ns per alloc+free pair\n", argv[1], sizes[s], best);
	}
	return 0;
}
