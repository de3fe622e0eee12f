/* SPDX-License-Identifier: MIT */
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

/* Code ported from Xenomai 2 brings its own queue header: the holder type
 * is then left alone by xnheap.h (guard _XENO_NUCLEUS_QUEUE_H), and the
 * name kheap may belong to the program (RTHEAP_XN_NO_KHEAP). */
#define _XENO_NUCLEUS_QUEUE_H
typedef struct xnholder {
	struct xnholder *next;
	struct xnholder *last;
} xnholder_t;
#define RTHEAP_XN_NO_KHEAP 1

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
	static xnheap_t kheap; /* the program's own, not the system heap */
	xnheap_t *const heapp = &kheap;
	struct {
		xnholder_t link;
		int data;
	} *obj;
	u_long half = size / 2 & ~7ul;
	char *p;

	if (xnheap_init(heapp, mem, half, 512) != 0)
		return 1;
	if (xnheap_extend(heapp, (char *)mem + half, size - half) != 0)
		return 2;
	p = xnheap_alloc(heapp, 100);
	if (!p)
		return 3;
	memset(p, 1, 100);
	if (xnheap_test_and_free(heapp, p, keep_block) != -EBUSY)
		return 4;
	if (xnheap_check_block(heapp, p) != 0)
		return 5;
	if (xnheap_used_mem(heapp) != 128)
		return 6;
	if (xnheap_free(heapp, p) != 0)
		return 7;
	if (xnheap_free(heapp, p) != -EINVAL)
		return 8;
	if (xnheap_used_mem(heapp) != 0)
		return 9;
	if (xnheap_extentsize(heapp) != half)
		return 10;
	if (xnheap_page_size(heapp) != 512)
		return 11;
	obj = xnheap_alloc(heapp, sizeof(*obj));
	if (!obj || heapp == xnheap_system())
		return 14;
	xnheap_schedule_free(heapp, obj, &obj->link);
	xnheap_finalize_free(heapp);
	if (xnheap_check_block(heapp, obj) != -EINVAL)
		return 15;
	flushes = 0;
	if (xnheap_destroy(heapp, count_flush, NULL) != 0)
		return 12;
	if (flushes != 2)
		return 13;
	return 0;
}
