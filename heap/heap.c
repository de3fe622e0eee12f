/* SPDX-License-Identifier: MIT */
/*
 * heap.c -- the public entry points: life cycle, allocation and release,
 * settings and statistics.  Each entry point is a recipe: check its
 * arguments, lock, find the block kind (by size to allocate, by the page
 * type in the map to release) and hand over to it: page.c (page runs) or
 * bucket.c (sub-page blocks); account the statistics, unlock, deliver what
 * notify.c collected.  The function that locks (lock.h) unlocks, at one
 * point.  Extents are added by extent.c.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "heap.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"
#include "lock.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* config.h measures struct rt_heap at configure time: the public descriptor
 * is exactly the private one rounded up to 8 bytes, in both directions. */
_Static_assert(sizeof(struct rt_heap) <= sizeof(rtheap_t),
               "rtheap_t smaller than the private descriptor: re-run the CMake configure");
_Static_assert(sizeof(rtheap_t) - sizeof(struct rt_heap) < sizeof(uint64_t),
               "rtheap_t larger than the private descriptor: re-run the CMake configure");
_Static_assert(_Alignof(struct rt_heap) <= _Alignof(rtheap_t),
               "rtheap_t under-aligned for the private descriptor");
_Static_assert(RTHEAP_MAX_PAGE >> 4 <= (16u << (RTHEAP_NR_CLASSES - 1)) * 2,
               "bucket classes must reach half of the largest page");
_Static_assert(RTHEAP_MAX_EXTENTS <= 64 * 64, "extset summary is one word");
#if UINTPTR_MAX > 0xffffffffu
_Static_assert(offsetof(struct rt_heap, bases) == 128,
               "the hot fields fill the first two lines of the descriptor");
#endif

#ifdef RTHEAP_STEP_COUNT
_Thread_local unsigned long rtheap_step_counter;
#endif

const char *rtheap_version(void)
{
	return RTHEAP_VERSION_STRING;
}

/* ---------------- life cycle ---------------- */

static size_t max_request_for(unsigned pshift)
{
	uint64_t m = (uint64_t)RTHEAP_MAX_EXTENT_PAGES << pshift;
	if (m > (uint64_t)(SIZE_MAX >> 1))
		m = (uint64_t)(SIZE_MAX >> 1);
	return (size_t)m;
}

/* Phase 1 of adding an extent (extent.c), under the lock. */
static int extent_reserve_locked(struct rt_heap *h, void *buf, size_t size,
                                 uint32_t *slot)
{
	int err = heap_lock(h);
	if (err)
		return err;
	err = rt_extent_reserve(h, buf, size, slot);
	heap_unlock(h);
	return err;
}

/* Phase 3, under the lock: publish, and re-arm or disarm the low-memory
 * notification for the new size.  0, or -ENOTRECOVERABLE (a shared heap
 * broken meanwhile: the extent stays reserved, never published). */
static int extent_publish_locked(struct rt_heap *h, struct rt_extent *x)
{
	int err = heap_lock(h);
	if (err)
		return err;
	rt_extent_publish(h, x);
	rt_lowmem_update(h);
	heap_unlock(h);
	return 0;
}

/*
 * Add an extent in three phases (extent.c): reserve its place under the
 * lock, write its header and map outside the lock (first-touch page faults
 * of a fresh buffer happen there), publish it under the lock.
 */
static int add_extent(struct rt_heap *h, void *buf, size_t size, unsigned flags)
{
	uint32_t slot;
	int err = extent_reserve_locked(h, buf, size, &slot);
	if (err)
		return err;
	return extent_publish_locked(h, rt_extent_prepare(h, buf, size, slot, flags));
}

/*
 * The caller's descriptor was laid out by the rtheap.h and config.h it was
 * compiled against: refuse one of another size or ABI before writing a
 * byte of it (the library would otherwise write past a smaller one).  Init
 * is not a real-time call, so the message goes straight to stderr.
 */
RT_FN int rt_check_abi(const char *call, size_t desc_size, size_t want,
                     unsigned abi)
{
	if (desc_size == want && abi == RTHEAP_ABI_VERSION)
		return 0;
	fprintf(stderr,
	        "rtheap: %s refused: the program was compiled against rtheap headers "
	        "for a %zu-byte descriptor, ABI %u; this library (%s) needs %zu bytes, "
	        "ABI %u (RTHEAP_MAX_EXTENTS=%u). Rebuild the program against the "
	        "headers installed with the library.\n",
	        call, desc_size, abi, RTHEAP_VERSION_STRING, want,
	        (unsigned)RTHEAP_ABI_VERSION, (unsigned)RTHEAP_MAX_EXTENTS);
	return -EINVAL;
}

static int rt_init(rtheap_t *heap, void *buf, size_t size,
                   const struct rtheap_config *cfg)
{
	static const struct rtheap_config defaults;
	const struct rtheap_config *c = cfg ? cfg : &defaults;
	const unsigned known = RTHEAP_F_ZEROED | RTHEAP_F_DEBUG_FILL |
	                       RTHEAP_F_ABORT_ON_ERROR;

	if (!heap || !buf)
		return -EINVAL;
	size_t page = c->page_size ? c->page_size : RTHEAP_DEFAULT_PAGE;
	if ((page & (page - 1)) || page < 8 || page > RTHEAP_MAX_PAGE)
		return -EINVAL;
	if (page < RTHEAP_MIN_PAGE)
		page = RTHEAP_MIN_PAGE;
	if ((unsigned)c->lock > RTHEAP_LOCK_SHARED || (c->flags & ~known))
		return -EINVAL;

	if (rt_extent_check_args(page, buf, size))
		return -EINVAL;
	if (heap_lock_probe((int)c->lock))
		return -ENOTSUP;

	/* Nothing is written above this line: a failed init changes nothing. */
	struct rt_heap *h = rt_heap_of(heap);
	memset(h, 0, sizeof(*h));
	h->page = page;
	h->pshift = rt_fls32((uint32_t)page);
	h->side_words = page > RTHEAP_MIN_PAGE ? page / 512 : 0; /* P >= 512 here */
	h->nclasses = h->pshift - 4;
	h->max_request = max_request_for(h->pshift);
	h->lock_mode = (int)c->lock;
	h->flags = c->flags & ~(unsigned)RTHEAP_F_ZEROED;
	h->name = c->name;
	h->lowmem_trip = SIZE_MAX;
	h->alloc_slow = (h->flags & RTHEAP_F_DEBUG_FILL) != 0;
	h->self = h;
	h->img = rt_image_mark();
	int err = heap_lock_init(h);
	if (err)
		return err;

	err = add_extent(h, buf, size, c->flags);
	rt_assert(!err, "the first extent was validated");
	h->slow_copy = rt_copy_compute(h);
	h->magic = RT_HEAP_MAGIC;
	return 0;
}

int rtheap_init_abi(rtheap_t *heap, void *buf, size_t size,
                    const struct rtheap_config *cfg, size_t desc_size,
                    unsigned abi)
{
	if (!heap)
		return -EINVAL;
	if (rt_check_abi("rtheap_init", desc_size, sizeof(rtheap_t), abi))
		return -EINVAL;
	return rt_init(heap, buf, size, cfg);
}

int rtheap_extend(rtheap_t *heap, void *buf, size_t size, unsigned flags)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || (flags & ~(unsigned)RTHEAP_F_ZEROED))
		return -EINVAL;
	int err = rt_extent_check_args(h->page, buf, size);
	if (err)
		return err;
	return add_extent(h, buf, size, flags);
}

int rtheap_destroy(rtheap_t *heap, rtheap_flush_fn flush, void *cookie)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	rt_notify_print_recorded(h);
	h->magic = 0;
	for (uint32_t i = 0; i < h->nr_ext; i++) {
		struct rt_extent *x = h->by_slot[i];
		if (!x)
			continue; /* an extend still in progress: caller's race */
		void *buf = x->buf;
		size_t size = x->size;
		x->magic = 0;
		/* let memory checkers see the buffer as the caller's again */
		hook_open(hook_state(), x->pages, (size_t)x->npages << h->pshift);
		if (flush)
			flush(heap, buf, size, cookie);
	}
	heap_lock_destroy(h);
	h->nr_ext = 0;
	h->lk_half = 0;
	return 0;
}

/* ---------------- process-shared heaps: attach ---------------- */

/* Is the page holding p mapped in this process?  msync() fails with
 * ENOMEM on an unmapped range (POSIX), and reads nothing. */
static bool mapped_here(const void *p)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg > 0 ? pg - 1 : 4095);
	return msync((void *)a, 1, MS_ASYNC) == 0;
}

/* Under the lock: is every published extent's header mapped here, where
 * the heap recorded it (its buffer starts with it)?  O(E). */
static int attach_locked(struct rt_heap *h)
{
	for (uint32_t i = 0; i < h->nr_ext; i++) {
		struct rt_extent *x = h->by_slot[i];
		if (x && (!mapped_here(x) || x->magic != RT_EXT_MAGIC ||
		          x->buf != (void *)x || x->slot != i))
			return -EADDRNOTAVAIL;
	}
	return 0;
}

int rtheap_attach_abi(rtheap_t *heap, size_t desc_size, unsigned abi)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!heap || rt_check_abi("rtheap_attach", desc_size, sizeof(rtheap_t), abi))
		return -EINVAL;
	if (!rt_heap_ok(h))
		return -EINVAL;
	if (h->lock_mode != RTHEAP_LOCK_SHARED)
		return -EPERM;
	if (h->self != h)
		return -EADDRNOTAVAIL; /* a copy of the descriptor, elsewhere */
	if (h->slow_copy != rt_copy_compute(h))
		return -ENOTSUP;
	int err = heap_lock(h);
	if (err)
		return err;
	err = attach_locked(h);
	heap_unlock(h);
	return err;
}

/* ---------------- allocation ---------------- */


static inline unsigned class_of(size_t size)
{
	return size <= 16 ? 0u : rt_fls32((uint32_t)(size - 1)) - 3u;
}

size_t rtheap_round_size(const rtheap_t *heap, size_t size)
{
	const struct rt_heap *h = (const struct rt_heap *)(const void *)heap;
	if (!rt_heap_ok(h) || size - 1 >= h->max_request)
		return 0;
	if (size <= h->page >> 1)
		return (size_t)16 << class_of(size);
	return (size + h->page - 1) & ~(h->page - 1);
}

/* Failed allocation: count it, say what to notify (under the lock). */
RT_COLD bool alloc_failed(struct rt_heap *h, size_t size, struct rt_pending *pd)
{
	h->failed++;
	return rt_notify_failed(h, size, pd);
}

/* Successful allocation with something unusual to do: debug fill, or the
 * low-memory threshold crossed.  Under the lock: says what to notify. */
RT_COLD bool alloc_slow_end(struct rt_heap *h, void *p, size_t bsize,
                            bool bucket, struct rt_pending *pd)
{
	if (h->flags & RTHEAP_F_DEBUG_FILL) {
		if (bucket) {
			/* report the block that was written; its class is
			 * rtheap_usable_size() of the address.  The checkers
			 * were just told the block is fresh (undefined to
			 * Memcheck): the heap reads its own fill. */
			hook_open(hook_state(), p, bsize);
			if (rt_debug_verify(p, bsize, RT_FILL_FREED))
				rt_report(h, RTHEAP_ERR_USE_AFTER_FREE, p);
		}
		rt_debug_fill(p, bsize, RT_FILL_FRESH);
	}
	return rt_notify_alloc(h, pd);
}

/* The block p of bsize bytes was taken (NULL: none could be): account it
 * and tell the checkers, under the lock (both allocation bodies).  True if
 * there is something to deliver after unlocking, in pd. */
RT_HOT bool alloc_end(struct rt_heap *h, void *p, size_t size, size_t bsize,
                      bool bucket, struct rt_pending *pd, const unsigned ck)
{
	if (rt_unlikely(!p))
		return alloc_failed(h, size, pd);
	h->used += bsize;
	if (h->used > h->peak)
		h->peak = h->used;
	h->alloc_calls++;
	hook_block_alloc(ck, p, bsize);
	if (rt_unlikely(h->used > h->lowmem_trip || h->alloc_slow))
		return alloc_slow_end(h, p, bsize, bucket, pd);
	return false;
}

/* Take a block for size bytes from the kind that serves it: its size in
 * *bsize, whether it is a bucket block in *bucket. */
RT_HOT void *alloc_take(struct rt_heap *h, size_t size, size_t *bsize,
                        bool *bucket, const unsigned ck)
{
	void *p;
	*bucket = size <= h->page >> 1;
	if (rt_likely(*bucket)) {
		unsigned cls = class_of(size);
		p = rt_bucket_alloc(h, cls, ck);
		*bsize = (size_t)16 << cls;
	} else if (rt_likely(size <= h->max_request)) {
		p = rt_page_alloc(h, size, bsize, ck);
	} else {
		p = NULL;
	}
	return p;
}

/*
 * The allocation, for ck = 0 (no memory checker and no debug mode: the
 * hooks and debug checks compile to nothing) and ck = RT_CK_ANY (the slow
 * copy, rt_copy_of()): lock, take, account, unlock, deliver.  The caller
 * has checked h and size.
 */
RT_HOT void *alloc_body(struct rt_heap *h, size_t size, const unsigned ck)
{
	struct rt_pending pd;
	size_t bsize;
	bool bucket;

	if (rt_unlikely(heap_lock_ck(h, ck)))
		return NULL; /* errno ENOTRECOVERABLE (lock.h) */
	void *p = alloc_take(h, size, &bsize, &bucket, ck);
	bool notify = alloc_end(h, p, size, bsize, bucket, &pd, ck);
	heap_unlock_ck(h, ck);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	return p;
}

RT_COLD void *alloc_checked(struct rt_heap *h, size_t size)
{
	if (rt_copy_of(h) == RT_COPY_SHARED)
		return alloc_body(h, size, RT_CK_SHARED);
	return alloc_body(h, size, RT_CK_ANY);
}

void *rtheap_alloc(rtheap_t *heap, size_t size)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h) || size == 0))
		return NULL;
	if (rt_unlikely(rt_copy_of(h)))
		return alloc_checked(h, size);
	return alloc_body(h, size, 0);
}

/*
 * Aligned allocation.  A block whose natural alignment (its size up to
 * P/2, else P) meets align is an ordinary one; up to P, a block of
 * max(size, align) is (its natural alignment is align); above P, a page
 * run aligned to align in absolute terms (page.c, runs.c).  A bad align
 * is an argument error, like size 0: NULL, not counted.
 */
RT_HOT void *alloc_aligned_take(struct rt_heap *h, size_t size, size_t align,
                                size_t *bsize, bool *bucket, const unsigned ck)
{
	void *p;
	size_t want = size > align ? size : align;
	*bucket = false;
	if (rt_unlikely(size > h->max_request || align > h->max_request)) {
		p = NULL;
	} else if (want <= h->page >> 1) {
		unsigned cls = class_of(want);
		p = rt_bucket_alloc(h, cls, ck);
		*bsize = (size_t)16 << cls;
		*bucket = true;
	} else if (align <= h->page) {
		p = rt_page_alloc(h, want, bsize, ck);
	} else {
		p = rt_page_alloc_aligned(h, size, align, bsize, ck);
	}
	return p;
}

RT_HOT void *alloc_aligned_body(struct rt_heap *h, size_t size, size_t align,
                                const unsigned ck)
{
	struct rt_pending pd;
	size_t bsize = 0;
	bool bucket;

	if (rt_unlikely(heap_lock_ck(h, ck)))
		return NULL; /* errno ENOTRECOVERABLE (lock.h) */
	void *p = alloc_aligned_take(h, size, align, &bsize, &bucket, ck);
	bool notify = alloc_end(h, p, size, bsize, bucket, &pd, ck);
	heap_unlock_ck(h, ck);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	return p;
}

RT_COLD void *alloc_aligned_checked(struct rt_heap *h, size_t size, size_t align)
{
	if (rt_copy_of(h) == RT_COPY_SHARED)
		return alloc_aligned_body(h, size, align, RT_CK_SHARED);
	return alloc_aligned_body(h, size, align, RT_CK_ANY);
}

void *rtheap_alloc_aligned(rtheap_t *heap, size_t size, size_t align)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h) || size == 0 || align == 0 ||
	                (align & (align - 1))))
		return NULL;
	if (rt_unlikely(rt_copy_of(h)))
		return alloc_aligned_checked(h, size, align);
	return alloc_aligned_body(h, size, align, 0);
}

void *rtheap_zalloc(rtheap_t *heap, size_t size)
{
	void *p = rtheap_alloc(heap, size);
	if (p)
		memset(p, 0, rtheap_round_size(heap, size));
	return p;
}

/* ---------------- release ---------------- */

/* Find the extent x, page pg and offset off in that page of ptr: 0, or
 * -EFAULT (outside every extent) or -EINVAL (outside its page array). */
RT_HOT int locate(const struct rt_heap *h, const void *ptr,
                  struct rt_extent **xp, uint32_t *pg, size_t *off)
{
	struct rt_extent *x = rt_extent_find(h, ptr);
	if (rt_unlikely(!x))
		return -EFAULT;
	/* one unsigned compare: below the page array, past it, or an
	 * extent still being added (span 0) */
	uintptr_t o = (uintptr_t)ptr - (uintptr_t)x->pages;
	if (rt_unlikely(o >= x->span))
		return -EINVAL;
	*xp = x;
	*pg = (uint32_t)(o >> h->pshift);
	*off = o & (h->page - 1);
	return 0;
}

/* ptr is in a page that starts no block: a double free if it is the
 * first page of a free run, else not a block. */
RT_COLD int free_no_block(struct rt_heap *h, uint32_t e, size_t off, void *ptr)
{
	rt_report(h, (PG_TYPE(e) == PG_FREE && !off) ? RTHEAP_ERR_DOUBLE_FREE
	                                              : RTHEAP_ERR_NOT_BLOCK,
	          ptr);
	return -EINVAL;
}

/* A block of bsize bytes was released: account it. */
RT_HOT void free_account(struct rt_heap *h, size_t bsize)
{
	rt_assert(h->used >= bsize, "used bytes underflow");
	rt_assert(h->alloc_calls > h->free_calls, "more frees than allocations");
	h->used -= bsize;
	h->free_calls++;
	if (rt_unlikely(h->used < h->lowmem_rearm))
		rt_lowmem_try_arm(h);
}

/*
 * Release ptr under the lock: locate its extent and page, hand it to the
 * owner of its page type (page.c for a run, bucket.c for a bucket page:
 * each checks that ptr starts a live block, asks ckfn, and releases it),
 * then account.  Returns 0 or a negative error (misuse is recorded for
 * delivery).
 */
RT_HOT int free_locked(struct rt_heap *h, void *ptr, int (*ckfn)(void *),
                       const unsigned ck)
{
	struct rt_extent *x;
	uint32_t pg;
	size_t off, bsize = 0;
	int err = locate(h, ptr, &x, &pg, &off);
	if (rt_unlikely(err)) {
		rt_report(h, err == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK,
		          ptr);
		return err;
	}
	uint32_t e = rt_map_get(x, pg);
	switch (PG_TYPE(e)) {
	case PG_RUN:
		err = rt_page_free(h, x, pg, e, off, ptr, ckfn, &bsize, ck);
		break;
	case PG_BUCKET:
		err = rt_bucket_free(h, x, pg, e, off, ptr, ckfn, &bsize, ck);
		break;
	default:
		err = free_no_block(h, e, off, ptr);
		break;
	}
	if (rt_unlikely(err))
		return err;
	free_account(h, bsize);
	return 0;
}

/* The release, for ck = 0 and ck = RT_CK_ANY (as alloc_body): lock,
 * release, unlock, deliver a misuse. */
RT_HOT int free_body(struct rt_heap *h, void *ptr, int (*ckfn)(void *),
                     const unsigned ck)
{
	struct rt_pending pd;
	bool notify = false;

	int err = heap_lock_ck(h, ck);
	if (rt_unlikely(err))
		return err;
	err = free_locked(h, ptr, ckfn, ck);
	if (rt_unlikely(err))
		notify = rt_notify_misuse(h, &pd);
	heap_unlock_ck(h, ck);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	return err;
}

/* free_body() with a memory checker present (hooks.h). */
RT_COLD int free_checked(struct rt_heap *h, void *ptr, int (*ckfn)(void *))
{
	if (rt_copy_of(h) == RT_COPY_SHARED)
		return free_body(h, ptr, ckfn, RT_CK_SHARED);
	return free_body(h, ptr, ckfn, RT_CK_ANY);
}

int rtheap_free(rtheap_t *heap, void *ptr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h)))
		return -EINVAL;
	if (rt_unlikely(!ptr))
		return 0; /* as free(NULL): nothing to do, not a misuse */
	if (rt_unlikely(rt_copy_of(h)))
		return free_checked(h, ptr, NULL);
	return free_body(h, ptr, NULL, 0);
}

int rtheap_test_and_free(rtheap_t *heap, void *ptr, int (*ckfn)(void *block))
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h)))
		return -EINVAL;
	if (rt_unlikely(!ptr))
		return 0; /* as rtheap_free(NULL); ckfn is not called */
	if (rt_unlikely(rt_copy_of(h)))
		return free_checked(h, ptr, ckfn);
	return free_body(h, ptr, ckfn, 0);
}

/* Size of the live block at ptr, or a negative error; nothing reported. */
static long long block_size(struct rt_heap *h, const void *ptr)
{
	struct rt_extent *x;
	uint32_t pg;
	size_t off, size = 0;
	int err = locate(h, ptr, &x, &pg, &off);
	if (err)
		return err;
	uint32_t e = rt_map_get(x, pg);
	if (PG_TYPE(e) == PG_RUN)
		size = rt_page_size(h, e, off);
	else if (PG_TYPE(e) == PG_BUCKET)
		size = rt_bucket_size(h, x, pg, e, off);
	return size ? (long long)size : -EINVAL;
}

int rtheap_check_block(rtheap_t *heap, const void *ptr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err;
	long long r = block_size(h, ptr);
	heap_unlock(h);
	return r < 0 ? (int)r : 0;
}

size_t rtheap_usable_size(rtheap_t *heap, const void *ptr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || heap_lock(h))
		return 0;
	long long r = block_size(h, ptr);
	heap_unlock(h);
	return r < 0 ? 0 : (size_t)r;
}

/* ---------------- notification settings and queries ---------------- */

int rtheap_set_lowmem(rtheap_t *heap, size_t threshold, rtheap_lowmem_fn fn,
                      void *arg)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err;
	h->lowmem_threshold = threshold;
	h->lowmem_fn = fn;
	h->lowmem_arg = arg;
	h->img = rt_image_mark(); /* callbacks of this image (rtheap.h) */
	/* Armed whatever free memory is now: if it is already below a limit,
	 * the next successful allocation calls fn (request 0).  A callback set
	 * late would otherwise hear nothing until memory came back. */
	rt_lowmem_arm(h);
	heap_unlock(h);
	return 0;
}

int rtheap_set_lowmem_run(rtheap_t *heap, size_t run_bytes)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err;
	h->lowmem_run = run_bytes;
	rt_lowmem_arm(h); /* as rtheap_set_lowmem */
	heap_unlock(h);
	return 0;
}

int rtheap_set_error_handler(rtheap_t *heap, rtheap_error_fn fn, void *arg)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err;
	h->err_fn = fn;
	h->err_arg = arg;
	h->img = rt_image_mark(); /* callbacks of this image (rtheap.h) */
	heap_unlock(h);
	return 0;
}

int rtheap_get_stats(rtheap_t *heap, struct rtheap_stats *st)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	int err = heap_lock(h);
	if (err)
		return err;
	st->page_size = h->page;
	st->extents = h->nr_live;
	st->size = h->size;
	st->usable = h->usable;
	st->used = h->used;
	st->free = h->usable - h->used;
	st->peak_used = h->peak;
	st->largest_free = rt_runs_largest(h);
	st->free_runs = h->free_runs;
	st->pages_bucket = h->pages_bucket;
	st->pages_run = h->pages_run;
	st->pages_owned = h->pages_owned;
	st->live_blocks = h->alloc_calls - h->free_calls;
	st->alloc_calls = h->alloc_calls;
	st->free_calls = h->free_calls;
	st->failed_allocs = h->failed;
	st->errors = h->errors;
	st->owner_deaths = h->owner_deaths;
	for (unsigned c = 0; c < RTHEAP_NR_CLASSES; c++) {
		st->class_live[c] = h->cls[c].live;
		st->class_pages[c] = h->cls[c].pages;
	}
	heap_unlock(h);
	return 0;
}

size_t rtheap_page_size(const rtheap_t *heap)
{
	const struct rt_heap *h = (const struct rt_heap *)(const void *)heap;
	return rt_heap_ok(h) ? h->page : 0;
}

/* For check.c: run fn under the heap lock. */
RT_FN int rt_with_lock(rtheap_t *heap, int (*fn)(struct rt_heap *, void *), void *arg)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	int r = heap_lock(h);
	if (r)
		return r;
	r = fn(h, arg);
	heap_unlock(h);
	return r;
}
