/* SPDX-License-Identifier: MIT */
/* example.c -- a heap over a static buffer, extended once, with stats. */
#include <rtheap/rtheap.h>

#include <stdio.h>
#include <string.h>

static _Alignas(64) unsigned char first[RTHEAP_BUFFER_SIZE(64 * 1024, 256)];
static _Alignas(64) unsigned char second[RTHEAP_BUFFER_SIZE(256 * 1024, 256)];

static void print_stats(rtheap_t *heap, const char *when)
{
	struct rtheap_stats st;
	rtheap_get_stats(heap, &st);
	printf("%-16s extents %zu  usable %7zu  used %7zu  free %7zu  largest free run %7zu\n",
	       when, st.extents, st.usable, st.used, st.free, st.largest_free);
}

int main(void)
{
	rtheap_t heap;
	int err = rtheap_init(&heap, first, sizeof(first), NULL);
	if (err) {
		fprintf(stderr, "rtheap_init: %s\n", strerror(-err));
		return 1;
	}
	print_stats(&heap, "after init");

	void *blocks[64];
	size_t n = 0;
	for (size_t size = 16; n < 64; size = size * 3 / 2 + 8) {
		void *p = rtheap_alloc(&heap, size % 20000);
		if (!p)
			break;
		blocks[n++] = p;
	}
	printf("allocated %zu blocks before the first failure\n", n);
	print_stats(&heap, "first extent full");

	err = rtheap_extend(&heap, second, sizeof(second), 0);
	if (err) {
		fprintf(stderr, "rtheap_extend: %s\n", strerror(-err));
		return 1;
	}
	print_stats(&heap, "after extend");
	void *big = rtheap_alloc(&heap, 100000);
	printf("100000-byte block %s\n", big ? "allocated in the new extent" : "failed");
	print_stats(&heap, "with big block");

	for (size_t i = 0; i < n; i++)
		rtheap_free(&heap, blocks[i]);
	rtheap_free(&heap, big);
	print_stats(&heap, "all freed");
	printf("double free answers %d (-EINVAL), foreign free answers %d (-EFAULT)\n",
	       rtheap_free(&heap, big), rtheap_free(&heap, &n));
	err = rtheap_check(&heap, NULL);
	printf("rtheap_check: %s\n", err ? "FAILED" : "consistent");
	rtheap_destroy(&heap, NULL, NULL);
	return err ? 1 : 0;
}
