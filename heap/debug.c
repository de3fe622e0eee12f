/*
 * debug.c -- debug fill patterns and misuse reports.
 *
 * With RTHEAP_F_DEBUG_FILL, every free byte the heap has handed out once
 * holds RT_FILL_FREED: freed blocks and runs are filled on release, list
 * nodes are refilled when they are dropped, and a fresh bucket page is
 * filled when it is split.  Pages beyond the extent's high-water mark (never
 * handed out) hold whatever the buffer held and are not verified.  When a
 * block is handed out again its bytes are verified, and a write after free
 * is reported with its address.  This costs O(block size) and is a debug aid.
 *
 * Misuse found under the heap lock is recorded in the descriptor and
 * delivered to the error callback after the lock is released.
 */
#include "internal.h"

#include <string.h>

RT_FN void rt_debug_fill(void *p, size_t n, int byte)
{
	memset(p, byte, n);
}

RT_FN const void *rt_debug_verify(const void *p, size_t n, int byte)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)byte)
			return c + i;
	return NULL;
}

RT_FN void rt_report(struct rt_heap *h, rtheap_error_kind_t kind, const void *addr)
{
	h->errors++;
	if (!h->pend_kind) {
		h->pend_kind = kind;
		h->pend_addr = addr;
	}
}

/* Pages [start, start+n) were just taken from the free runs: verify the
 * part below the high-water mark, then raise the mark. */
RT_FN void rt_debug_take(struct rt_heap *h, struct rt_extent *x, uint32_t start,
                   uint32_t n)
{
	uint32_t end = start + n < x->hw ? start + n : x->hw;
	if (start < end) {
		void *p = rt_page_addr(h, x, start);
		size_t len = (size_t)(end - start) << h->pshift;
		hook_open(p, len);
		const void *bad = rt_debug_verify(p, len, RT_FILL_FREED);
		hook_close(p, len);
		if (bad)
			rt_report(h, RTHEAP_ERR_USE_AFTER_FREE, bad);
	}
	if (start + n > x->hw)
		x->hw = start + n;
}
