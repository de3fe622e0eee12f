/* SPDX-License-Identifier: MIT */
/*
 * Soak test: a long run of random allocations and releases on one heap,
 * with a full rtheap_check every --check operations, printing how
 * fragmented the free memory is over time.
 *
 * The live set is a table of slots: each operation picks a slot at random
 * and frees its block if it holds one, else allocates a block of a random
 * size into it.  Once about half the slots are full the live set is
 * statistically stable, and so should be the fragmentation figures.
 *
 * Every block carries a tag at both ends, verified before release: an
 * overlap or a heap write into a live block stops the run.
 *
 * Usage: rtheap_soak [--ops N] [--check N] [--report N] [--heap BYTES]
 *                    [--page P] [--slots N] [--seed S]
 * Exit status: 0 when every check passed, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtheap/rtheap.h"

struct slot {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 2685821657736338717ull;
}

/* Mostly small blocks, log-uniform; some pages; a few larger runs. */
static size_t pick_size(size_t page)
{
	uint64_t r = rng();
	unsigned what = (unsigned)(r % 100);
	r >>= 8;
	if (what < 75) {
		unsigned shift = 4 + (unsigned)(r % 5); /* 16 .. 256 */
		size_t lo = (size_t)1 << shift;
		return lo + (size_t)((r >> 8) % lo);
	}
	if (what < 97)
		return page / 2 + 1 + (size_t)((r >> 8) % (8 * page));
	return 8 * page + (size_t)((r >> 8) % (128 * page));
}

static void put_tag(const struct slot *s)
{
	memcpy(s->p, &s->tag, sizeof s->tag);
	memcpy(s->p + s->n - sizeof s->tag, &s->tag, sizeof s->tag);
}

static int tag_ok(const struct slot *s)
{
	uint64_t a, b;
	memcpy(&a, s->p, sizeof a);
	memcpy(&b, s->p + s->n - sizeof b, sizeof b);
	return a == s->tag && b == s->tag;
}

static unsigned long long arg_num(const char *s)
{
	char *end;
	double d = strtod(s, &end); /* accepts 1e8 */
	if (*end || d < 0) {
		fprintf(stderr, "bad number: %s\n", s);
		exit(2);
	}
	return (unsigned long long)d;
}

int main(int argc, char **argv)
{
	unsigned long long ops = 100000000ull, check_every = 100000ull, report_every = 0;
	size_t heap_bytes = 32u << 20, page = RTHEAP_DEFAULT_PAGE, nslots = 40000;
	uint64_t seed = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned long long v = arg_num(argv[i + 1]);
		if (!strcmp(argv[i], "--ops"))
			ops = v;
		else if (!strcmp(argv[i], "--check"))
			check_every = v ? v : 1;
		else if (!strcmp(argv[i], "--report"))
			report_every = v;
		else if (!strcmp(argv[i], "--heap"))
			heap_bytes = (size_t)v;
		else if (!strcmp(argv[i], "--page"))
			page = (size_t)v;
		else if (!strcmp(argv[i], "--slots"))
			nslots = (size_t)v ? (size_t)v : 1;
		else if (!strcmp(argv[i], "--seed"))
			seed = v;
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc % 2 == 0) {
		fprintf(stderr, "usage: %s [--ops N] [--check N] [--report N] [--heap BYTES] "
		                "[--page P] [--slots N] [--seed S]\n", argv[0]);
		return 2;
	}
	if (report_every == 0)
		report_every = ops / 50 ? ops / 50 : 1;
	rng_state = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;

	void *buf = aligned_alloc(4096, (heap_bytes + 4095) / 4096 * 4096);
	struct slot *slots = calloc(nslots, sizeof *slots);
	if (!buf || !slots) {
		fprintf(stderr, "out of memory\n");
		return 2;
	}
	static rtheap_t heap;
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.page_size = page;
	cfg.lock = RTHEAP_LOCK_NONE;
	int rc = rtheap_init(&heap, buf, heap_bytes, &cfg);
	if (rc) {
		fprintf(stderr, "rtheap_init: %d\n", rc);
		return 2;
	}
	page = rtheap_page_size(&heap);
	struct rtheap_stats st;
	rtheap_get_stats(&heap, &st);
	printf("# rtheap soak: %llu ops, check every %llu, heap %zu bytes (%zu usable), page %zu, "
	       "%zu slots, seed %" PRIu64 "\n",
	       ops, check_every, heap_bytes, st.usable, page, nslots, seed);
	printf("# %12s %8s %7s %12s %12s %8s %9s %9s %9s\n", "ops", "live", "used%", "free",
	       "largest_free", "usable%", "free_runs", "bkt_pages", "failed");

	/* usable% = largest_free / free: the share of free memory that one
	 * allocation can still get.  Averages over the second and the last
	 * quarter of the run tell whether it drifts once the live set is stable. */
	double q2_sum = 0, q4_sum = 0, q2_min = 100, q4_min = 100;
	unsigned q2_n = 0, q4_n = 0;
	unsigned long long failed = 0, checks = 0, live = 0;
	uint64_t next_tag = 1;
	int bad = 0;
	for (unsigned long long i = 1; i <= ops && !bad; i++) {
		struct slot *s = &slots[rng() % nslots];
		if (s->p) {
			if (!tag_ok(s)) {
				fprintf(stderr, "op %llu: block %p (%zu bytes) overwritten\n", i,
				        (void *)s->p, s->n);
				bad = 1;
			}
			if (rtheap_free(&heap, s->p) != 0) {
				fprintf(stderr, "op %llu: free(%p) refused\n", i, (void *)s->p);
				bad = 1;
			}
			s->p = NULL;
			live--;
		} else {
			size_t n = pick_size(page);
			s->p = rtheap_alloc(&heap, n);
			if (!s->p) {
				failed++;
			} else {
				s->n = n;
				s->tag = next_tag++;
				put_tag(s);
				live++;
			}
		}
		if (i % check_every == 0) {
			struct rtheap_fault f;
			memset(&f, 0, sizeof f);
			checks++;
			if (rtheap_check(&heap, &f) != 0) {
				fprintf(stderr, "op %llu: rtheap_check: %s at %p (extent %d, page %ld)\n",
				        i, f.what ? f.what : "?", f.addr, f.extent, f.page);
				bad = 1;
			}
		}
		if (i % report_every == 0 || i == ops) {
			rtheap_get_stats(&heap, &st);
			double usable_pct = st.free ? 100.0 * (double)st.largest_free / (double)st.free
			                            : 100.0;
			printf("  %12llu %8zu %6.1f%% %12zu %12zu %7.1f%% %9zu %9zu %9llu\n", i,
			       st.live_blocks, 100.0 * (double)st.used / (double)st.usable, st.free,
			       st.largest_free, usable_pct, st.free_runs, st.pages_bucket, failed);
			fflush(stdout);
			if (st.live_blocks != live) {
				fprintf(stderr, "live blocks %zu, expected %llu\n", st.live_blocks, live);
				bad = 1;
			}
			if (i > ops / 4 && i <= ops / 2) {
				q2_sum += usable_pct;
				q2_n++;
				if (usable_pct < q2_min)
					q2_min = usable_pct;
			} else if (i > 3 * (ops / 4)) {
				q4_sum += usable_pct;
				q4_n++;
				if (usable_pct < q4_min)
					q4_min = usable_pct;
			}
		}
	}
	/* Release everything: the heap must be whole again. */
	for (size_t k = 0; k < nslots && !bad; k++)
		if (slots[k].p) {
			if (!tag_ok(&slots[k]) || rtheap_free(&heap, slots[k].p) != 0)
				bad = 1;
			slots[k].p = NULL;
		}
	rtheap_get_stats(&heap, &st);
	if (!bad && (st.used != 0 || st.live_blocks != 0 || rtheap_check(&heap, NULL) != 0)) {
		fprintf(stderr, "heap not empty or inconsistent after releasing everything\n");
		bad = 1;
	}
	printf("# %llu full checks passed%s; %llu failed allocations\n", checks,
	       bad ? " (STOPPED ON ERROR)" : "", failed);
	if (q2_n && q4_n)
		printf("# usable%% (largest_free/free): 2nd quarter mean %.2f min %.2f, "
		       "4th quarter mean %.2f min %.2f, drift %+.2f points\n",
		       q2_sum / q2_n, q2_min, q4_sum / q4_n, q4_min, q4_sum / q4_n - q2_sum / q2_n);
	printf("# after releasing everything: used %zu, free_runs %zu, largest_free %zu of %zu\n",
	       st.used, st.free_runs, st.largest_free, st.usable);
	printf("%s\n", bad ? "SOAK FAILED" : "SOAK PASSED");
	rtheap_destroy(&heap, NULL, NULL);
	free(slots);
	free(buf);
	return bad;
}
