/* SPDX-License-Identifier: MIT */
/* Overrun into neighbouring free space: Memcheck must report an invalid
 * write just past a bucket block (its free neighbour) and just past a
 * page run (a free page). */
#include "vg_common.h"

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	unsigned char *a = vg_alloc(&h, 64);
	unsigned char *b = vg_alloc(&h, 64);
	unsigned char *first = a < b ? a : b;
	rtheap_free(&h, a < b ? b : a);
	volatile unsigned char *v = first;
	v[64] = 7; /* invalid write: the freed neighbour */
	volatile unsigned char *run = vg_alloc(&h, 512);
	run[512] = 7; /* invalid write: the free page after the run */
	rtheap_free(&h, first);
	rtheap_free(&h, (void *)run);
	puts("vg_overrun done");
	return 0;
}
