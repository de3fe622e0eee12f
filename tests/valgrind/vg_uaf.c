/* SPDX-License-Identifier: MIT */
/* Use after free inside the heap: Memcheck must report an invalid read
 * of a freed bucket block and of a freed page run. */
#include "vg_common.h"

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	volatile unsigned char *small = vg_alloc(&h, 48);
	void *keep = vg_alloc(&h, 48);
	volatile unsigned char *run = vg_alloc(&h, 1000);
	small[0] = 1;
	run[0] = 1;
	rtheap_free(&h, (void *)small);
	rtheap_free(&h, (void *)run);
	int sum = small[40] + run[700]; /* two invalid reads */
	rtheap_free(&h, keep);
	printf("vg_uaf read %d\n", sum);
	return 0;
}
