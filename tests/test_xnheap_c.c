/*
 * The same kind of program in C, as Xenomai 2 code is written: the BSD
 * u_long typedef from <sys/types.h> and the one of xnheap.h must agree,
 * and the header must compile as strict C11.  Called from test_xnheap.cc.
 */
#define _DEFAULT_SOURCE 1
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "rtheap/xnheap.h"

int xnheap_c_program(void *mem, u_long size);

static int flushes;

static void count_flush(xnheap_t *heap, void *extaddr, u_long extsize, void *cookie)
{
	(void)heap;
	(void)extaddr;
	(void)extsize;
	(void)cookie;
	flushes++;
}

static int keep_block(void *block)
{
	(void)block;
	return -EBUSY;
}

/* Returns 0, or the number of the first step that misbehaved. */
int xnheap_c_program(void *mem, u_long size)
{
	static xnheap_t heap;
	u_long half = size / 2 & ~7ul;
	char *p;

	if (xnheap_init(&heap, mem, half, 512) != 0)
		return 1;
	if (xnheap_extend(&heap, (char *)mem + half, size - half) != 0)
		return 2;
	p = xnheap_alloc(&heap, 100);
	if (!p)
		return 3;
	memset(p, 1, 100);
	if (xnheap_test_and_free(&heap, p, keep_block) != -EBUSY)
		return 4;
	if (xnheap_check_block(&heap, p) != 0)
		return 5;
	if (xnheap_used_mem(&heap) != 128)
		return 6;
	if (xnheap_free(&heap, p) != 0)
		return 7;
	if (xnheap_free(&heap, p) != -EINVAL)
		return 8;
	if (xnheap_used_mem(&heap) != 0)
		return 9;
	if (xnheap_extentsize(&heap) != half)
		return 10;
	if (xnheap_page_size(&heap) != 512)
		return 11;
	flushes = 0;
	if (xnheap_destroy(&heap, count_flush, NULL) != 0)
		return 12;
	if (flushes != 2)
		return 13;
	return 0;
}
