/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the block-arena calls, as code written for the
 * renderer's memory manager uses them: rtheap/compat/mi_mem.h must
 * compile as strict C11 with -Wall -Wextra -Werror.  Called from
 * test_compat_mi_mem.cc.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rtheap/compat/mi_mem.h"

int mi_mem_c_program(rtheap_t *heap);

typedef struct node {
	struct node *next;
	double weight;
	int id;
} node;

static void count_node(void *blk, void *arg)
{
	const node *n = blk;
	int *sum = arg;
	*sum += n->id;
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;
	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Returns 0, or the number of the first step that misbehaved. */
int mi_mem_c_program(rtheap_t *heap)
{
	miMemblk *nodes;
	node *a, *b, *c;
	int sum = 0;
	FILE *out;

	mi_mem_set_heap(heap);
	if (mi_mem_get_heap() != heap)
		return 1;
	nodes = mi_mem_blkcreate((int)sizeof(node));
	if (!nodes)
		return 2;
	a = mi_mem_blkallocate(nodes);
	b = mi_mem_blkfallocate(nodes);
	c = mi_mem_blkallocate(nodes);
	if (!a || !b || !c || a == b || b == c || a == c)
		return 3;
	if (!is_zero(a, sizeof *a) || !is_zero(b, sizeof *b) || !is_zero(c, sizeof *c))
		return 4;
	a->id = 1;
	b->id = 20;
	c->id = 300;
	a->next = b;
	mi_mem_blkenumerate(nodes, count_node, &sum);
	if (sum != 321)
		return 5;
	mi_mem_blkrelease(nodes, b);
	if (mi_mem_blkallocate(nodes) != b || !is_zero(b, sizeof *b))
		return 6;
	out = tmpfile();
	if (!out)
		return 7;
	mi_mem_summary(out);
	mi_mem_dump(out);
	if (ftell(out) <= 0)
		return 8;
	fclose(out);
	mi_mem_blkclear(nodes);
	sum = 0;
	mi_mem_blkenumerate(nodes, count_node, &sum);
	if (sum != 0)
		return 9;
	mi_mem_blkdelete(nodes);
	return 0;
}
