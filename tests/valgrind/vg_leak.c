/* SPDX-License-Identifier: MIT */
/* Leak inside the heap: Memcheck must report both leaked blocks (a bucket
 * block of 128 bytes and a run of 2048) as "definitely lost".
 * One ordinary malloc block stays live at exit: valgrind 3.19 runs the
 * leak search only when some malloc block is still live. */
#include "vg_common.h"

static void *keep_malloc;
static rtheap_t h;

static void leak_some(void)
{
	/* The only pointers to these blocks die with this frame. */
	void *volatile p1 = vg_alloc(&h, 100);
	void *volatile p2 = vg_alloc(&h, 2000);
	(void)p1;
	(void)p2;
}

int main(void)
{
	vg_init(&h);
	keep_malloc = malloc(32);
	/* A block at the very start of the page array stays "still
	 * reachable" through the extent header's pointer to that array:
	 * keep the first pages busy with a properly freed block. */
	void *first = vg_alloc(&h, 1000);
	leak_some();
	rtheap_free(&h, first);
	puts("vg_leak done");
	return 0;
}
