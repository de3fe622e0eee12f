/* SPDX-License-Identifier: MIT */
/* Region pools under Memcheck: every allocation of a pool is a block of
 * its requested size.  A clean request (allocations written and read, one
 * released, a calloc read, a reset, the blocks used again), then one read
 * of a released allocation and one write into an allocation's padding
 * (past its 40 bytes, before the next granule): two invalid accesses. */
#include "vg_common.h"

#include "rtheap/region.h"

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	void *blk = vg_alloc(&h, 100); /* a heap block beside the pool */
	rtregion_t *r = rtregion_create(&h, 0, 0);
	if (!r)
		return 2;
	int sum = 0;
	for (int round = 0; round < 3; round++) {
		char *a = rtregion_alloc(r, 40);
		char *z = rtregion_calloc(r, 6, 4);
		char *big = rtregion_alloc(r, 9000);
		if (!a || !z || !big)
			return 2;
		for (int i = 0; i < 40; i++)
			a[i] = (char)i;
		big[8999] = 3;
		sum += a[39] + z[23] + big[8999]; /* written, zeroed: defined */
		rtregion_free(r, z);
		rtregion_reset(r);
	}
	char *a = rtregion_alloc(r, 40), *b = rtregion_alloc(r, 24);
	if (!a || !b)
		return 2;
	b[0] = 1;
	rtregion_free(r, b);
	sum += ((volatile char *)b)[0];   /* invalid read */
	((volatile char *)a)[44] = 1;    /* invalid write: a's padding */
	if (rtregion_destroy(r) != 0 || rtheap_free(&h, blk) != 0)
		return 2;
	printf("vg_region sum %d\n", sum);
	return 0;
}
