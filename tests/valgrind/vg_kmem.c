/* SPDX-License-Identifier: MIT */
/* Page-order blocks (rtheap/kmem.h) under Memcheck: a clean use of a
 * zeroed block and of a block written before it is read (no error), then
 * one read of a released block and one write just past the end of a live
 * block, into free pages: two invalid accesses. */
#include "vg_common.h"

#include "rtheap/kmem.h"

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	void *blk = vg_alloc(&h, 100); /* a heap block beside the page blocks */
	unsigned char *z = rtkmem_pages_alloc(&h, 0, RTKMEM_ZERO);
	unsigned char *a = rtkmem_pages_alloc(&h, 1, RTKMEM_ATOMIC);
	if (!z || !a)
		return 2;
	int sum = z[100] + z[RTKMEM_PAGE_SIZE - 1]; /* zeroed: defined */
	for (size_t i = 0; i < 2 * RTKMEM_PAGE_SIZE; i++)
		a[i] = (unsigned char)i;
	sum += a[2 * RTKMEM_PAGE_SIZE - 1];
	if (rtkmem_pages_free(&h, a, 1) != 0)
		return 2;
	sum += ((volatile unsigned char *)a)[10];                 /* invalid read */
	((volatile unsigned char *)z)[RTKMEM_PAGE_SIZE] = 1;      /* invalid write */
	if (rtkmem_pages_free(&h, z, 0) != 0 || rtkmem_free(&h, blk) != 0)
		return 2;
	printf("vg_kmem sum %d\n", sum);
	return 0;
}
