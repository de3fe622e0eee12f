/*
 * xnheap.c -- the Xenomai 2 heap interface, as thin wrappers over the
 * native calls.  Each wrapper has the bound and context of the native call.
 */
#include "rtheap/xnheap.h"
#include "internal.h"

#include <errno.h>

int xnheap_init_abi(xnheap_t *heap, void *heapaddr, u_long heapsize,
                    u_long pagesize, size_t desc_size, unsigned abi)
{
	if (!heap)
		return -EINVAL;
	if (rt_check_abi("xnheap_init", desc_size, sizeof(xnheap_t), abi))
		return -EINVAL;
	/* Xenomai takes 0 as no valid page size: demand an explicit one */
	if (pagesize == 0)
		return -EINVAL;
	struct rtheap_config cfg = { 0 };
	cfg.page_size = pagesize;
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	int err = rtheap_init(&heap->rt, heapaddr, heapsize, &cfg);
	if (!err)
		heap->extentsize = heapsize;
	return err;
}

struct flush_ctx {
	xnheap_t *heap;
	xnheap_flushfn fn;
	void *cookie;
};

static void flush_one(rtheap_t *rt, void *buf, size_t size, void *cookie)
{
	struct flush_ctx *c = cookie;
	(void)rt;
	c->fn(c->heap, buf, (u_long)size, c->cookie);
}

int xnheap_destroy(xnheap_t *heap, xnheap_flushfn flushfn, void *cookie)
{
	if (!heap)
		return -EINVAL;
	struct flush_ctx c = { heap, flushfn, cookie };
	return rtheap_destroy(&heap->rt, flushfn ? flush_one : NULL, &c);
}

void *xnheap_alloc(xnheap_t *heap, u_long size)
{
	return heap ? rtheap_alloc(&heap->rt, size) : NULL;
}

int xnheap_free(xnheap_t *heap, void *block)
{
	return heap ? rtheap_free(&heap->rt, block) : -EINVAL;
}

int xnheap_test_and_free(xnheap_t *heap, void *block, int (*ckfn)(void *block))
{
	return heap ? rtheap_test_and_free(&heap->rt, block, ckfn) : -EINVAL;
}

int xnheap_extend(xnheap_t *heap, void *extaddr, u_long extsize)
{
	return heap ? rtheap_extend(&heap->rt, extaddr, extsize, 0) : -EINVAL;
}

int xnheap_check_block(xnheap_t *heap, void *block)
{
	return heap ? rtheap_check_block(&heap->rt, block) : -EINVAL;
}

u_long xnheap_overhead(u_long hsize, u_long psize)
{
	return (u_long)rtheap_overhead(hsize, psize);
}

static int stats_of(xnheap_t *heap, struct rtheap_stats *st)
{
	return heap ? rtheap_get_stats(&heap->rt, st) : -EINVAL;
}

u_long xnheap_usable_mem(xnheap_t *heap)
{
	struct rtheap_stats st;
	return stats_of(heap, &st) ? 0 : (u_long)st.usable;
}

u_long xnheap_used_mem(xnheap_t *heap)
{
	struct rtheap_stats st;
	return stats_of(heap, &st) ? 0 : (u_long)st.used;
}

u_long xnheap_max_contiguous(xnheap_t *heap)
{
	struct rtheap_stats st;
	return stats_of(heap, &st) ? 0 : (u_long)st.largest_free;
}

u_long xnheap_extentsize(xnheap_t *heap)
{
	return heap && rtheap_page_size(&heap->rt) ? heap->extentsize : 0;
}

u_long xnheap_page_size(xnheap_t *heap)
{
	return heap ? (u_long)rtheap_page_size(&heap->rt) : 0;
}
