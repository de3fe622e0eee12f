/* SPDX-License-Identifier: MIT */
/*
 * peers_static.c -- the adapters of the peers that manage a caller's
 * buffer as rtheap does: TLSF (tlsf_create / tlsf_add_pool / tlsf_malloc /
 * tlsf_free, version 3.x) and o1heap (o1heapInit / o1heapAllocate /
 * o1heapFree, version 2.x).
 *
 * Their sources are not part of this tree: CMake compiles them from the
 * directories given in RTHEAP_PEER_TLSF_DIR and RTHEAP_PEER_O1HEAP_DIR and
 * defines RIG_HAVE_TLSF / RIG_HAVE_O1HEAP; without them this file defines
 * nothing.  Each replay gets a fresh heap over a new buffer of the size
 * rtheap's buffer has for the same usable bytes (rig_buffer_size), mmap'ed
 * and faulted in by the same function as rtheap's (rig_map_buffer, which
 * honours --thp).  One heap per process at a time: the buffer of the
 * current heap is kept in a static.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "rig.h"

#if defined(RIG_HAVE_TLSF) || defined(RIG_HAVE_O1HEAP)
static struct {
	void *buf;
	size_t len;
} cur;

static int static_load(char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	return 0;
}

/* The buffer of a fresh heap of @bytes usable bytes; NULL on failure. */
static void *fresh_buffer(size_t bytes, size_t *len)
{
	*len = rig_buffer_size(bytes);
	cur.buf = rig_map_buffer(*len);
	cur.len = cur.buf ? *len : 0;
	return cur.buf;
}

static void drop_buffer(void *ctx)
{
	(void)ctx;
	if (cur.buf)
		munmap(cur.buf, cur.len);
	cur.buf = NULL;
	cur.len = 0;
}

static void nothing(void *ctx)
{
	(void)ctx;
}
#endif

/* ------------------------------------------------------------------ */
/* TLSF                                                                */
/* ------------------------------------------------------------------ */

#ifdef RIG_HAVE_TLSF
#include <tlsf.h>

/*
 * A TLSF pool holds less than tlsf_block_size_max() bytes: 4 GiB in TLSF's
 * 64-bit configuration (FL_INDEX_MAX 32, chosen by the compiler's
 * pointer size), 1 GiB in the 32-bit one.  tlsf_add_pool accepts a pool of
 * exactly the maximum, but a free block that large indexes one past the
 * first-level table, so pools stay a page below it.  A larger buffer is
 * cut into consecutive pools of that size, each with its own sentinel: a
 * block never spans two pools.  A 1 GiB heap is one pool on x86-64.
 */
static tlsf_t tlsf_over(void *mem, size_t len)
{
	size_t pool_max = tlsf_block_size_max() - 4096;
	const char *env = getenv("RIG_TLSF_POOL_MAX"); /* testing the cut: smaller pools */
	char *buf = mem;
	size_t off = tlsf_size();
	tlsf_t t;

	if (env && strtoull(env, NULL, 0) >= 8192 && strtoull(env, NULL, 0) < pool_max)
		pool_max = (size_t)strtoull(env, NULL, 0) & ~(size_t)4095;
	if (len < off + 4096)
		return NULL;
	t = tlsf_create(buf);
	if (!t)
		return NULL;
	while (len - off >= 4096) {
		size_t chunk = len - off < pool_max ? len - off : pool_max;
		if (!tlsf_add_pool(t, buf + off, chunk))
			return NULL;
		off += chunk;
	}
	return t;
}

static int tl_load(char *why, size_t whylen)
{
	/* the control structure at the start of the buffer plays the part
	 * of rtheap's descriptor in the cache-line counts */
	rig_alloc_tlsf.desc_size = tlsf_size();
	return static_load(why, whylen);
}

static void *tl_init(size_t bytes, unsigned extents)
{
	size_t len;
	void *buf = fresh_buffer(bytes, &len);
	tlsf_t t;
	(void)extents;
	if (!buf)
		return NULL;
	t = tlsf_over(buf, len);
	if (!t)
		drop_buffer(NULL);
	return t;
}

static int tl_reset(void *ctx)
{
	return tlsf_over(cur.buf, cur.len) == ctx ? 0 : -1;
}

static void *tl_alloc(void *ctx, size_t size)
{
	return tlsf_malloc(ctx, size);
}

static void tl_free(void *ctx, void *p)
{
	tlsf_free(ctx, p);
}

static void *tl_init_fixed(void *buf, size_t size)
{
	return tlsf_over(buf, size);
}

static size_t tl_usable(void *ctx, void *p)
{
	(void)ctx;
	return tlsf_block_size(p);
}

struct rig_alloc rig_alloc_tlsf = {
	.name = "tlsf",
	.desc = "TLSF 3.x tlsf_malloc/tlsf_free over a caller buffer (built from RTHEAP_PEER_TLSF_DIR)",
	.peer = 1,
	.load = tl_load,
	.init = tl_init,
	.alloc = tl_alloc,
	.free = tl_free,
	.destroy = drop_buffer,
	.init_fixed = tl_init_fixed,
	.destroy_fixed = nothing,
	.usable = tl_usable,
	.reset = tl_reset,
};
#endif

/* ------------------------------------------------------------------ */
/* o1heap                                                              */
/* ------------------------------------------------------------------ */

#ifdef RIG_HAVE_O1HEAP
#include <o1heap.h>

#if !defined(O1HEAP_VERSION_MAJOR) || O1HEAP_VERSION_MAJOR < 2
#error "the latency harness needs o1heap 2.x (o1heapInit(base, size))"
#endif

/*
 * o1heap wants its arena aligned to O1HEAP_ALIGNMENT (4 pointers: 32 bytes
 * on a 64-bit machine; our buffers are page-aligned) and takes any size
 * from o1heapMinArenaSize up (a capacity above SIZE_MAX / 2 would be cut:
 * not a concern here).  Each block carries a 32-byte header and is rounded
 * up to a power of two, header included: a 1000-byte request takes a
 * 2 KiB fragment.  Blocks are 32-byte aligned.  There is no call for a
 * block's usable size, so the fill test reports only requested bytes.
 */
static int o1_load(char *why, size_t whylen)
{
	/* the instance at the start of the arena: the minimum arena less
	 * its smallest fragment (2 * O1HEAP_ALIGNMENT) */
	rig_alloc_o1heap.desc_size = o1heapMinArenaSize - 2 * O1HEAP_ALIGNMENT;
	return static_load(why, whylen);
}

static void *o1_init(size_t bytes, unsigned extents)
{
	size_t len;
	void *buf = fresh_buffer(bytes, &len);
	O1HeapInstance *h;
	(void)extents;
	if (!buf)
		return NULL;
	h = o1heapInit(buf, len);
	if (!h)
		drop_buffer(NULL);
	return h;
}

static int o1_reset(void *ctx)
{
	return (void *)o1heapInit(cur.buf, cur.len) == ctx ? 0 : -1;
}

static void *o1_alloc(void *ctx, size_t size)
{
	return o1heapAllocate(ctx, size);
}

static void o1_free(void *ctx, void *p)
{
	o1heapFree(ctx, p);
}

static void *o1_init_fixed(void *buf, size_t size)
{
	return o1heapInit(buf, size);
}

struct rig_alloc rig_alloc_o1heap = {
	.name = "o1heap",
	.desc = "o1heap 2.x o1heapAllocate/o1heapFree over a caller buffer (built from RTHEAP_PEER_O1HEAP_DIR)",
	.peer = 1,
	.load = o1_load,
	.init = o1_init,
	.alloc = o1_alloc,
	.free = o1_free,
	.destroy = drop_buffer,
	.init_fixed = o1_init_fixed,
	.destroy_fixed = nothing,
	.reset = o1_reset,
};
#endif

#if !defined(RIG_HAVE_TLSF) && !defined(RIG_HAVE_O1HEAP)
/* ISO C wants at least one declaration in a translation unit. */
typedef int rig_no_static_peer;
#endif
