/* SPDX-License-Identifier: MIT */
/* The heap's list words in free memory: Memcheck must report a read of the
 * node of a bucket page (the first bytes of the freed block that holds it)
 * and of the node of a free run (the start of its first page), which the
 * heap makes inaccessible again after touching them (hooks.h). */
#include "vg_common.h"

int main(void)
{
	static rtheap_t h;
	static volatile unsigned char *blk[4096 / 64];
	vg_init(&h);
	const size_t page = rtheap_page_size(&h), n = page / 64;
	/* a full page of 64-byte blocks; the freed one holds the page's node */
	for (size_t i = 0; i < n; i++)
		blk[i] = vg_alloc(&h, 64);
	volatile unsigned char *run = vg_alloc(&h, 3 * page);
	void *guard = vg_alloc(&h, page); /* the free run keeps its node in its page */
	rtheap_free(&h, (void *)blk[n / 2]);
	rtheap_free(&h, (void *)run);
	int sum = blk[n / 2][0] + run[0]; /* two invalid reads: node words */
	for (size_t i = 0; i < n; i++)
		if (i != n / 2)
			rtheap_free(&h, (void *)blk[i]);
	rtheap_free(&h, guard);
	printf("vg_node read %d\n", sum);
	return rtheap_check(&h, NULL) == 0 ? 0 : 3;
}
