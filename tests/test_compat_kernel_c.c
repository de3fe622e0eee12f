/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the kernel's general and page allocation calls, written
 * as a driver of the textbook writes them (a scull-like device: a quantum
 * set of kmalloc'ed quanta, a page-backed buffer): rtheap/compat/kernel.h
 * must compile as strict C11 with -Wall -Wextra -Werror, together with
 * rtheap/compat/slab.h (one definition of the GFP flags).  Called from
 * test_compat_kernel.cc.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rtheap/compat/kernel.h"
#include "rtheap/compat/slab.h"

int kernel_c_program(void);

struct scull_qset {
	void **data;
	struct scull_qset *next;
};

enum { QSET = 8, QUANTUM = 1000 };

/* Returns 0, or the number of the first step that misbehaved. */
int kernel_c_program(void)
{
	struct scull_qset *qs;
	unsigned long buf, zp;
	int order, i;
	char *c;

	qs = kmalloc(sizeof(*qs), GFP_KERNEL);
	if (!qs)
		return 1;
	memset(qs, 0, sizeof(*qs));
	qs->data = kzalloc(QSET * sizeof(char *), GFP_KERNEL);
	if (!qs->data || qs->data[QSET - 1] != NULL)
		return 2;
	for (i = 0; i < QSET; i++) {
		qs->data[i] = kmalloc(QUANTUM, GFP_ATOMIC);
		if (!qs->data[i])
			return 3;
		memset(qs->data[i], i, QUANTUM);
	}
	for (i = 0; i < QSET; i++)
		kfree(qs->data[i]);
	kfree(qs->data);
	kfree(qs);
	kfree(NULL);

	/* a buffer of 3 pages: order 2, 16 KiB aligned */
	order = get_order(3 * PAGE_SIZE);
	if (order != 2 || get_order(PAGE_SIZE) != 0 || get_order(1) != 0)
		return 4;
	buf = __get_free_pages(GFP_KERNEL, (unsigned int)order);
	if (!buf || (buf & ((PAGE_SIZE << order) - 1)) != 0 || (buf & ~PAGE_MASK) != 0)
		return 5;
	c = (char *)buf;
	memset(c, 0x5a, PAGE_SIZE << order);
	free_pages(buf, (unsigned int)order);
	zp = get_zeroed_page(GFP_ATOMIC);
	if (!zp || (zp % PAGE_SIZE) != 0)
		return 6;
	for (c = (char *)zp; c < (char *)zp + PAGE_SIZE; c++)
		if (*c)
			return 7;
	free_page(zp);
	buf = __get_free_page(GFP_KERNEL | __GFP_ZERO);
	if (!buf || *(char *)buf != 0)
		return 8;
	free_pages(buf, 0);
	free_pages(0, 3);
	return 0;
}
