/* SPDX-License-Identifier: MIT */
/*
 * xnheap.c -- the Xenomai 2 heap interface, as thin wrappers over the
 * native calls.  Each wrapper has the bound and context of the native call.
 * On top of them: page sizes above RTHEAP_MAX_PAGE (mapped onto core pages
 * of RTHEAP_MAX_PAGE, with the heap's own page size used for rounding and
 * alignment), labels, the deferred-release queue and the system heap.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "xnheap.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "rtheap/xnheap.h"
#include "internal.h"
#include "defer.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

/* The heap's deferred-release queue (see "deferred release" below). */
#define XN_QUEUE(h) ((struct rt_defer_queue *)(void *)&(h)->idleq)

#ifndef RTHEAP_XN_SYSHEAP_SIZE
#define RTHEAP_XN_SYSHEAP_SIZE (256u * 1024u)
#endif

/* Page size the core uses for a heap of Xenomai page size @p pagesize
 * (a valid one): the same, but at most RTHEAP_MAX_PAGE. */
static size_t xn_core_page(u_long pagesize)
{
	return pagesize > RTHEAP_MAX_PAGE ? RTHEAP_MAX_PAGE : pagesize;
}

static int xn_page_ok(u_long pagesize)
{
	return pagesize >= (1ul << XNHEAP_MINLOG2) &&
	       pagesize <= (1ul << XNHEAP_MAXLOG2) &&
	       (pagesize & (pagesize - 1)) == 0;
}

static int xn_setup(xnheap_t *heap, void *heapaddr, u_long heapsize,
                    u_long pagesize, unsigned flags)
{
	if (!heap)
		return -EINVAL;
	/* Xenomai takes 0 as no valid page size: demand an explicit one */
	if (!xn_page_ok(pagesize))
		return -EINVAL;
	struct rtheap_config cfg = { 0 };
	cfg.page_size = xn_core_page(pagesize);
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg.flags = flags;
	int err = rtheap_init(&heap->rt, heapaddr, heapsize, &cfg);
	if (err)
		return err;
	/* Large pages: the extent must hold two of them, as in Xenomai 2,
	 * so that a block of twice the page size can be served. */
	if (pagesize > RTHEAP_MAX_PAGE) {
		struct rtheap_stats st;
		if (rtheap_get_stats(&heap->rt, &st) || st.usable < 2 * pagesize) {
			rtheap_destroy(&heap->rt, NULL, NULL);
			return -EINVAL;
		}
	}
	heap->extentsize = heapsize;
	heap->pagesize = pagesize;
	rt_defer_init(XN_QUEUE(heap));
	snprintf(heap->label, sizeof heap->label, "unlabeled @%p", (void *)heap);
	return 0;
}

int xnheap_init_abi(xnheap_t *heap, void *heapaddr, u_long heapsize,
                    u_long pagesize, size_t desc_size, unsigned abi)
{
	if (!heap)
		return -EINVAL;
	if (rt_check_abi("xnheap_init", desc_size, sizeof(xnheap_t), abi))
		return -EINVAL;
	return xn_setup(heap, heapaddr, heapsize, pagesize, 0);
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

/* Block size of a request of @p size bytes (above RTHEAP_MAX_PAGE / 2) in
 * a heap with pages of @p pagesize > RTHEAP_MAX_PAGE bytes: a power of two
 * up to twice the page, else a multiple of the page; ~0 on overflow, which
 * the core refuses as too large.  The core then serves exactly this size:
 * a power of two of 32 KiB or more, or a multiple of the page, is a whole
 * number of core pages.  O(1): one count-leading-zeros. */
static u_long xn_round_large(u_long pagesize, u_long size)
{
	if (size <= 2 * pagesize) {
		unsigned bits = (unsigned)(sizeof(u_long) * 8) -
		                (unsigned)__builtin_clzl(size - 1);
		return 1ul << bits;
	}
	if (size > ~0ul - (pagesize - 1))
		return ~0ul;
	return (size + pagesize - 1) & ~(pagesize - 1);
}

/*
 * Xenomai 2 carves a block of 2^k bytes up to the page size P from a page
 * split into blocks of that size, so it is aligned to 2^k; a larger block
 * (2P, or a multiple of P) is a range of whole pages, aligned to P: in all,
 * to min(block, P), relative to the extent's page array (get_free_range()
 * of Xenomai 2's nucleus/heap.c takes any run of contiguous pages).  Here
 * the alignment is absolute; with a buffer aligned to P the two agree,
 * since Xenomai 2's page array then starts at a multiple of P.  A block of
 * a core page or more (the rounded size is then a multiple of 32 KiB)
 * comes from rtheap_alloc_aligned(), which serves an alignment up to the
 * core page as rtheap_alloc() and a larger one with an aligned page run,
 * O(1).  Smaller blocks are core bucket blocks, aligned to their size.
 */
void *xnheap_alloc(xnheap_t *heap, u_long size)
{
	if (!heap)
		return NULL;
	if (heap->pagesize > RTHEAP_MAX_PAGE && size > RTHEAP_MAX_PAGE / 2) {
		size = xn_round_large(heap->pagesize, size);
		u_long align = size < heap->pagesize ? size : heap->pagesize;
		return rtheap_alloc_aligned(&heap->rt, size, align);
	}
	return rtheap_alloc(&heap->rt, size);
}

/* Xenomai 2 answers -EFAULT for NULL (it is outside the heap); the native
 * call takes NULL as free() does.  NULL is not reported as a misuse. */
static int xn_null_block(xnheap_t *heap)
{
	return rt_heap_ok(rt_heap_of(&heap->rt)) ? -EFAULT : -EINVAL;
}

int xnheap_free(xnheap_t *heap, void *block)
{
	if (!heap)
		return -EINVAL;
	return block ? rtheap_free(&heap->rt, block) : xn_null_block(heap);
}

int xnheap_test_and_free(xnheap_t *heap, void *block, int (*ckfn)(void *block))
{
	if (!heap)
		return -EINVAL;
	return block ? rtheap_test_and_free(&heap->rt, block, ckfn)
	             : xn_null_block(heap);
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
	if (!xn_page_ok(psize)) /* what xnheap_init() rejects, 0 included */
		return hsize;
	if (psize <= RTHEAP_MAX_PAGE)
		return (u_long)rtheap_overhead(hsize, psize);
	u_long o = (u_long)rtheap_overhead(hsize, RTHEAP_MAX_PAGE);
	/* xnheap_init refuses an extent with fewer than two large pages */
	return hsize - o < 2 * psize ? hsize : o;
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
	size_t core = heap ? rtheap_page_size(&heap->rt) : 0;
	if (!core)
		return 0;
	return heap->pagesize > core ? heap->pagesize : (u_long)core;
}

void xnheap_set_label(xnheap_t *heap, const char *fmt, ...)
{
	if (!heap || !fmt)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(heap->label, sizeof heap->label, fmt, ap);
	va_end(ap);
}

/* ---------------- deferred release ----------------
 *
 * The per-heap queue of holders is the deferred-release queue of defer.h
 * (shared with RCU-deferred release, rcu.c): a wait-free push, a take of
 * everything queued, oldest first.  As in Xenomai 2, a holder's next
 * member links the queue and its last member carries the block's address.
 * Finalisation keeps Xenomai 2's order (its list is LIFO): the taken chain
 * is reversed, then released, each holder's fields read before its block
 * is released (the holder usually lies in the block).  Takes are
 * serialised by xn_defer_mtx (defer.h has a single consumer; Xenomai lets
 * any thread finalise). */

_Static_assert(offsetof(xnheap_t, idleq_tail) ==
                       offsetof(xnheap_t, idleq) + sizeof(struct rt_defer_node),
               "xnheap_t's idleq and idleq_tail are a struct rt_defer_queue");
_Static_assert(offsetof(struct xnholder, next) == 0, "a holder starts with its link");

static pthread_mutex_t xn_defer_mtx = PTHREAD_MUTEX_INITIALIZER;

void xnheap_schedule_free(xnheap_t *heap, void *block, struct xnholder *link)
{
	if (!heap || !link)
		return;
	link->last = (struct xnholder *)block;
	rt_defer_push(XN_QUEUE(heap), (struct rt_defer_node *)(void *)link);
}

void xnheap_finalize_free(xnheap_t *heap)
{
	if (!heap || rt_defer_empty(XN_QUEUE(heap)))
		return;
	pthread_mutex_lock(&xn_defer_mtx);
	struct rt_defer_node *n = rt_defer_take(XN_QUEUE(heap));
	pthread_mutex_unlock(&xn_defer_mtx);
	struct xnholder *lifo = NULL;
	while (n) { /* reverse: newest first */
		struct rt_defer_node *next = n->next;
		struct xnholder *h = (struct xnholder *)(void *)n;
		h->next = lifo;
		lifo = h;
		n = next;
	}
	while (lifo) {
		struct xnholder *next = lifo->next;
		void *block = lifo->last;
		xnheap_free(heap, block);
		lifo = next;
	}
}

/* ---------------- the system heap ----------------
 *
 * xn_sys is NULL until the heap is set up, then &xn_sys_heap; readers
 * load it with acquire ordering, the set-up stores it with release after
 * xnheap_init returned.  Set-up and destruction are serialised by
 * xn_sys_mtx. */
static xnheap_t xn_sys_heap;
static _Atomic(xnheap_t *) xn_sys;
static pthread_mutex_t xn_sys_mtx = PTHREAD_MUTEX_INITIALIZER;
static bool xn_sys_buf_dirty; /* built-in buffer used since program start */
static unsigned char xn_sys_buf[RTHEAP_XN_SYSHEAP_SIZE]
	__attribute__((aligned(4096)));

/* Called with xn_sys_mtx held and the heap not set up. */
static int xn_sys_setup(void *buf, u_long size, u_long pagesize)
{
	unsigned flags = 0;
	if (!buf) {
		if (size)
			return -EINVAL;
		buf = xn_sys_buf;
		size = sizeof xn_sys_buf;
		if (!xn_sys_buf_dirty)
			flags = RTHEAP_F_ZEROED; /* .bss: O(1) set-up */
		xn_sys_buf_dirty = true; /* written from now on, even on failure */
	}
	if (!pagesize)
		pagesize = XNHEAP_PAGE_SIZE;
	int err = xn_setup(&xn_sys_heap, buf, size, pagesize, flags);
	if (err)
		return err;
	xnheap_set_label(&xn_sys_heap, "main heap");
	atomic_store_explicit(&xn_sys, &xn_sys_heap, memory_order_release);
	return 0;
}

int xnheap_system_init(void *buf, u_long size, u_long pagesize)
{
	pthread_mutex_lock(&xn_sys_mtx);
	int err = atomic_load_explicit(&xn_sys, memory_order_relaxed)
	                  ? -EBUSY
	                  : xn_sys_setup(buf, size, pagesize);
	pthread_mutex_unlock(&xn_sys_mtx);
	return err;
}

int xnheap_system_destroy(xnheap_flushfn flushfn, void *cookie)
{
	pthread_mutex_lock(&xn_sys_mtx);
	xnheap_t *h = atomic_load_explicit(&xn_sys, memory_order_relaxed);
	int err = h ? xnheap_destroy(h, flushfn, cookie) : -EINVAL;
	if (h)
		atomic_store_explicit(&xn_sys, NULL, memory_order_release);
	pthread_mutex_unlock(&xn_sys_mtx);
	return err;
}

static xnheap_t *xn_system(void)
{
	xnheap_t *h = atomic_load_explicit(&xn_sys, memory_order_acquire);
	if (__builtin_expect(h != NULL, 1))
		return h;
	pthread_mutex_lock(&xn_sys_mtx);
	if (!atomic_load_explicit(&xn_sys, memory_order_relaxed))
		(void)xn_sys_setup(NULL, 0, 0);
	h = atomic_load_explicit(&xn_sys, memory_order_relaxed);
	pthread_mutex_unlock(&xn_sys_mtx);
	return h;
}

/* The program reads the system heap's fields through its own xnheap_t
 * (kheap.label, heap->extentsize): refuse a program built against the
 * headers of another build, as xnheap_init() does. */
xnheap_t *xnheap_system_abi(size_t desc_size, unsigned abi)
{
	if (rt_check_abi("xnheap_system", desc_size, sizeof(xnheap_t), abi))
		return NULL;
	return xn_system();
}

void *xnmalloc(u_long size)
{
	return xnheap_alloc(xn_system(), size);
}

int xnfree(void *block)
{
	return xnheap_free(xn_system(), block);
}
