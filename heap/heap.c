/* SPDX-License-Identifier: MIT */
/*
 * heap.c -- the public entry points: life cycle, lock, allocation and
 * release, notification.  The data-structure work is in runs.c (page
 * runs), bucket.c (sub-page blocks) and extent.c (extents).
 */
#ifndef RTHEAP_UNITY_BUILD
#error "heap.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#ifdef RTHEAP_STEP_COUNT
_Thread_local unsigned long rtheap_step_counter;
#endif

const char *rtheap_version(void)
{
	return RTHEAP_VERSION_STRING;
}

/* ---------------- lock ---------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void heap_lock(struct rt_heap *h)
{
	if (h->lock_mode == RTHEAP_LOCK_NONE)
		return;
	if (h->lock_mode == RTHEAP_LOCK_PI_MUTEX) {
		pthread_mutex_lock(&h->mtx);
		return;
	}
	while (atomic_flag_test_and_set_explicit(&h->spin, memory_order_acquire))
		cpu_relax();
}

static inline void heap_unlock(struct rt_heap *h)
{
	if (h->lock_mode == RTHEAP_LOCK_NONE)
		return;
	if (h->lock_mode == RTHEAP_LOCK_PI_MUTEX) {
		pthread_mutex_unlock(&h->mtx);
		return;
	}
	atomic_flag_clear_explicit(&h->spin, memory_order_release);
}

/* ---------------- notifications (delivered outside the lock) ---------------- */

struct pending {
	rtheap_error_kind_t kind;
	const void *addr;
	rtheap_error_fn err_fn;
	void *err_arg;
	rtheap_lowmem_fn low_fn;
	void *low_arg;
	size_t low_free, low_request;
};

static const char *kind_name(rtheap_error_kind_t k)
{
	switch (k) {
	case RTHEAP_ERR_FOREIGN: return "address outside the heap";
	case RTHEAP_ERR_NOT_BLOCK: return "address is not the start of a block";
	case RTHEAP_ERR_DOUBLE_FREE: return "block already free (double free)";
	case RTHEAP_ERR_USE_AFTER_FREE: return "free memory written after free";
	case RTHEAP_ERR_CORRUPT: return "heap metadata corrupted";
	}
	return "unknown misuse";
}

/* The default misuse handler runs in the failing call, often a real-time
 * thread: it records the first address of each kind and writes nothing.
 * rtheap_destroy() prints what it recorded. */
static void default_error(rtheap_t *heap, rtheap_error_kind_t kind,
                         const void *addr, void *arg)
{
	(void)arg;
	struct rt_heap *h = rt_heap_of(heap);
	unsigned k = (unsigned)kind & 7u;
	if (!(atomic_fetch_or(&h->err_seen, 1u << k) & (1u << k)))
		h->err_first[k] = addr;
}

void rtheap_print_error(rtheap_t *heap, rtheap_error_kind_t kind,
                        const void *addr, void *arg)
{
	FILE *f = arg ? (FILE *)arg : stderr;
	const char *name = rt_heap_ok(rt_heap_of(heap)) ? rt_heap_of(heap)->name : NULL;
	fprintf(f, "rtheap %p%s%s: %s (%p)\n", (void *)heap, name ? " " : "",
	        name ? name : "", kind_name(kind), addr);
}

/* rtheap_destroy(): say what the default handler recorded. */
static void print_recorded(struct rt_heap *h)
{
	unsigned seen = atomic_load(&h->err_seen);
	if (!seen)
		return;
	fprintf(stderr, "rtheap %p%s%s: %zu misuse(s) reported to the default handler:\n",
	        (void *)h, h->name ? " " : "", h->name ? h->name : "", h->errors);
	for (unsigned k = 0; k < 8; k++)
		if (seen & (1u << k))
			fprintf(stderr, "  %s, first at %p\n",
			        kind_name((rtheap_error_kind_t)k), h->err_first[k]);
}

/* Under the lock: collect what must be delivered after unlocking. */
static inline void collect(struct rt_heap *h, struct pending *pd)
{
	pd->kind = h->pend_kind;
	if (rt_unlikely(pd->kind)) {
		pd->addr = h->pend_addr;
		pd->err_fn = h->err_fn ? h->err_fn : default_error;
		pd->err_arg = h->err_arg;
		h->pend_kind = 0;
	}
}

static void deliver(struct rt_heap *h, const struct pending *pd)
{
	if (pd->low_fn)
		pd->low_fn((rtheap_t *)(void *)h, pd->low_free, pd->low_request,
		           pd->low_arg);
	if (pd->kind) {
		pd->err_fn((rtheap_t *)(void *)h, pd->kind, pd->addr, pd->err_arg);
		if (h->flags & RTHEAP_F_ABORT_ON_ERROR)
			abort();
	}
}

/*
 * Low-memory notification state, kept as limits on h->used so that the hot
 * paths test one comparison each:
 *   armed:    alloc notifies when used > lowmem_trip (free < threshold), or,
 *             with a run watch, when the largest free run is below
 *             lowmem_run (alloc_slow routes every alloc to the check);
 *   disarmed: free tries to re-arm when used < lowmem_rearm.
 * An unused limit is set so that its test is never true.
 */
static void lowmem_arm(struct rt_heap *h)
{
	h->lowmem_armed = true;
	h->lowmem_rearm = 0;
	if (!h->lowmem_fn)
		h->lowmem_trip = SIZE_MAX;
	else if (h->lowmem_threshold > h->usable)
		h->lowmem_trip = 0;
	else
		h->lowmem_trip = h->usable - h->lowmem_threshold;
	h->alloc_slow = (h->flags & RTHEAP_F_DEBUG_FILL) ||
	                (h->lowmem_fn && h->lowmem_run);
}

static void lowmem_disarm(struct rt_heap *h)
{
	h->lowmem_armed = false;
	h->lowmem_trip = SIZE_MAX;
	if (h->lowmem_run)
		h->lowmem_rearm = SIZE_MAX; /* every free looks at the runs */
	else if (h->lowmem_threshold > h->usable)
		h->lowmem_rearm = 0;
	else
		h->lowmem_rearm = h->usable - h->lowmem_threshold + 1;
	h->alloc_slow = (h->flags & RTHEAP_F_DEBUG_FILL) != 0;
}

static bool lowmem_ok(const struct rt_heap *h)
{
	return h->usable - h->used >= h->lowmem_threshold &&
	       (!h->lowmem_run || rt_runs_largest(h) >= h->lowmem_run);
}

/* Free path, disarmed: re-arm once memory is back above both limits. */
RT_COLD void lowmem_try_arm(struct rt_heap *h)
{
	if (lowmem_ok(h))
		lowmem_arm(h);
}

/* After an extension changed usable: re-arm if memory is back above the
 * limits, else stay (or become) disarmed: the helper that extended too
 * little was already told, and reads the statistics to see it. */
static void lowmem_update(struct rt_heap *h)
{
	if (!h->lowmem_fn || lowmem_ok(h))
		lowmem_arm(h);
	else
		lowmem_disarm(h);
}

/* ---------------- life cycle ---------------- */

static int init_lock(struct rt_heap *h)
{
	atomic_flag_clear(&h->spin);
	if (h->lock_mode != RTHEAP_LOCK_PI_MUTEX)
		return 0;
	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a))
		return -ENOTSUP;
	int err = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	if (!err)
		err = pthread_mutex_init(&h->mtx, &a);
	pthread_mutexattr_destroy(&a);
	return err ? -ENOTSUP : 0;
}

static size_t max_request_for(unsigned pshift)
{
	uint64_t m = (uint64_t)RTHEAP_MAX_EXTENT_PAGES << pshift;
	if (m > (uint64_t)(SIZE_MAX >> 1))
		m = (uint64_t)(SIZE_MAX >> 1);
	return (size_t)m;
}

/*
 * Add an extent in three phases (extent.c): reserve its place under the
 * lock, write its header and map outside the lock (first-touch page faults
 * of a fresh buffer happen there), publish it under the lock.
 */
static int add_extent(struct rt_heap *h, void *buf, size_t size,
                      unsigned flags, bool locked)
{
	uint32_t slot;
	if (locked)
		heap_lock(h);
	int err = rt_extent_reserve(h, buf, size, &slot);
	if (locked)
		heap_unlock(h);
	if (err)
		return err;
	struct rt_extent *x = rt_extent_prepare(h, buf, size, slot, flags);
	if (locked)
		heap_lock(h);
	rt_extent_publish(h, x);
	lowmem_update(h);
	if (locked)
		heap_unlock(h);
	return 0;
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
	if ((unsigned)c->lock > RTHEAP_LOCK_SPIN || (c->flags & ~known))
		return -EINVAL;

	if (rt_extent_check_args(page, buf, size))
		return -EINVAL;

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
	int err = init_lock(h);
	if (err)
		return err;

	err = add_extent(h, buf, size, c->flags, false);
	rt_assert(!err, "the first extent was validated");
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
	return add_extent(h, buf, size, flags, true);
}

int rtheap_destroy(rtheap_t *heap, rtheap_flush_fn flush, void *cookie)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	print_recorded(h);
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
	if (h->lock_mode == RTHEAP_LOCK_PI_MUTEX)
		pthread_mutex_destroy(&h->mtx);
	h->nr_ext = 0;
	return 0;
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

/* Failed allocation: count, notify, unlock. */
RT_COLD void *alloc_failed(struct rt_heap *h, size_t size)
{
	struct pending pd;
	h->failed++;
	pd.low_fn = h->lowmem_fn;
	pd.low_arg = h->lowmem_arg;
	pd.low_request = size;
	pd.low_free = h->usable - h->used;
	collect(h, &pd);
	heap_unlock(h);
	deliver(h, &pd);
	return NULL;
}

/* Successful allocation with something unusual to do: debug fill, or the
 * low-memory threshold crossed.  Unlocks. */
RT_COLD void *alloc_slow_end(struct rt_heap *h, void *p, size_t bsize,
                             bool bucket)
{
	struct pending pd;
	pd.low_fn = NULL;
	if (h->flags & RTHEAP_F_DEBUG_FILL) {
		if (bucket) {
			/* report the block that was written; its class is
			 * rtheap_usable_size() of the address */
			if (rt_debug_verify(p, bsize, RT_FILL_FREED))
				rt_report(h, RTHEAP_ERR_USE_AFTER_FREE, p);
		}
		rt_debug_fill(p, bsize, RT_FILL_FRESH);
	}
	if (h->used > h->lowmem_trip ||
	    (h->lowmem_armed && h->lowmem_fn && h->lowmem_run &&
	     rt_runs_largest(h) < h->lowmem_run)) {
		pd.low_fn = h->lowmem_fn;
		pd.low_arg = h->lowmem_arg;
		pd.low_request = 0;
		pd.low_free = h->usable - h->used;
		lowmem_disarm(h);
	}
	collect(h, &pd);
	heap_unlock(h);
	if (pd.low_fn || pd.kind)
		deliver(h, &pd);
	return p;
}

/* A block was taken: account it, tell the checkers, unlock (both
 * allocation bodies). */
RT_HOT void *alloc_end(struct rt_heap *h, void *p, size_t bsize, bool bucket,
                       const unsigned ck)
{
	h->used += bsize;
	if (h->used > h->peak)
		h->peak = h->used;
	h->alloc_calls++;
	hook_block_alloc(ck, p, bsize);
	if (rt_unlikely(h->used > h->lowmem_trip || h->alloc_slow))
		return alloc_slow_end(h, p, bsize, bucket);
	heap_unlock(h);
	return p;
}

/*
 * The allocation, for ck = 0 (no memory checker: the hooks compile to
 * nothing) and ck = RT_CK_ANY (the checked copy, hooks.h).
 */
RT_HOT void *alloc_body(struct rt_heap *h, size_t size, const unsigned ck)
{
	void *p;
	size_t bsize;
	bool bucket;

	if (rt_unlikely(!rt_heap_ok(h) || size == 0))
		return NULL;
	heap_lock(h);
	bucket = size <= h->page >> 1;
	if (rt_likely(bucket)) {
		unsigned cls = class_of(size);
		p = rt_bucket_alloc(h, cls, ck);
		bsize = (size_t)16 << cls;
	} else if (rt_likely(size <= h->max_request)) {
		p = rt_page_alloc(h, size, &bsize, ck);
	} else {
		p = NULL;
	}
	if (rt_unlikely(!p))
		return alloc_failed(h, size);
	return alloc_end(h, p, bsize, bucket, ck);
}

RT_COLD void *alloc_checked(struct rt_heap *h, size_t size)
{
	return alloc_body(h, size, RT_CK_ANY);
}

void *rtheap_alloc(rtheap_t *heap, size_t size)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(hook_state()))
		return alloc_checked(h, size);
	return alloc_body(h, size, 0);
}

/*
 * Aligned allocation.  A block whose natural alignment (its size up to
 * P/2, else P) meets align is an ordinary one; up to P, a block of
 * max(size, align) is (its natural alignment is align); above P, a page
 * run aligned to align in absolute terms (runs.c).  A bad align is an
 * argument error, like size 0: NULL, not counted.
 */
RT_HOT void *alloc_aligned_body(struct rt_heap *h, size_t size, size_t align,
                                const unsigned ck)
{
	void *p;
	size_t bsize = 0;
	bool bucket = false;

	if (rt_unlikely(!rt_heap_ok(h) || size == 0 || align == 0 ||
	                (align & (align - 1))))
		return NULL;
	heap_lock(h);
	size_t want = size > align ? size : align;
	if (rt_unlikely(size > h->max_request || align > h->max_request)) {
		p = NULL;
	} else if (want <= h->page >> 1) {
		unsigned cls = class_of(want);
		p = rt_bucket_alloc(h, cls, ck);
		bsize = (size_t)16 << cls;
		bucket = true;
	} else if (align <= h->page) {
		p = rt_page_alloc(h, want, &bsize, ck);
	} else {
		p = rt_page_alloc_aligned(h, size, align, &bsize, ck);
	}
	if (rt_unlikely(!p))
		return alloc_failed(h, size);
	return alloc_end(h, p, bsize, bucket, ck);
}

RT_COLD void *alloc_aligned_checked(struct rt_heap *h, size_t size, size_t align)
{
	return alloc_aligned_body(h, size, align, RT_CK_ANY);
}

void *rtheap_alloc_aligned(rtheap_t *heap, size_t size, size_t align)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(hook_state()))
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
		lowmem_try_arm(h);
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

/* free_locked() with a memory checker present (hooks.h). */
RT_COLD int free_locked_checked(struct rt_heap *h, void *ptr, int (*ckfn)(void *))
{
	return free_locked(h, ptr, ckfn, RT_CK_ANY);
}

RT_COLD int free_error(struct rt_heap *h, int err)
{
	struct pending pd;
	pd.low_fn = NULL;
	collect(h, &pd);
	heap_unlock(h);
	if (pd.kind)
		deliver(h, &pd);
	return err;
}

int rtheap_free(rtheap_t *heap, void *ptr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h)))
		return -EINVAL;
	if (rt_unlikely(!ptr))
		return 0; /* as free(NULL): nothing to do, not a misuse */
	heap_lock(h);
	int err = rt_unlikely(hook_state()) ? free_locked_checked(h, ptr, NULL)
	                                    : free_locked(h, ptr, NULL, 0);
	if (rt_unlikely(err))
		return free_error(h, err);
	heap_unlock(h);
	return 0;
}

int rtheap_test_and_free(rtheap_t *heap, void *ptr, int (*ckfn)(void *block))
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h)))
		return -EINVAL;
	if (rt_unlikely(!ptr))
		return 0; /* as rtheap_free(NULL); ckfn is not called */
	heap_lock(h);
	int err = rt_unlikely(hook_state()) ? free_locked_checked(h, ptr, ckfn)
	                                    : free_locked(h, ptr, ckfn, 0);
	if (err)
		return free_error(h, err);
	heap_unlock(h);
	return 0;
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
	heap_lock(h);
	long long r = block_size(h, ptr);
	heap_unlock(h);
	return r < 0 ? (int)r : 0;
}

size_t rtheap_usable_size(rtheap_t *heap, const void *ptr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return 0;
	heap_lock(h);
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
	heap_lock(h);
	h->lowmem_threshold = threshold;
	h->lowmem_fn = fn;
	h->lowmem_arg = arg;
	/* Armed whatever free memory is now: if it is already below a limit,
	 * the next successful allocation calls fn (request 0).  A callback set
	 * late would otherwise hear nothing until memory came back. */
	lowmem_arm(h);
	heap_unlock(h);
	return 0;
}

int rtheap_set_lowmem_run(rtheap_t *heap, size_t run_bytes)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	heap_lock(h);
	h->lowmem_run = run_bytes;
	lowmem_arm(h); /* as rtheap_set_lowmem */
	heap_unlock(h);
	return 0;
}

int rtheap_set_error_handler(rtheap_t *heap, rtheap_error_fn fn, void *arg)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -EINVAL;
	heap_lock(h);
	h->err_fn = fn;
	h->err_arg = arg;
	heap_unlock(h);
	return 0;
}

int rtheap_get_stats(rtheap_t *heap, struct rtheap_stats *st)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	heap_lock(h);
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
	st->live_blocks = h->alloc_calls - h->free_calls;
	st->alloc_calls = h->alloc_calls;
	st->free_calls = h->free_calls;
	st->failed_allocs = h->failed;
	st->errors = h->errors;
	for (unsigned c = 0; c < RTHEAP_NR_CLASSES; c++) {
		st->class_live[c] = h->class_live[c];
		st->class_pages[c] = h->class_pages[c];
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
	heap_lock(h);
	int r = fn(h, arg);
	heap_unlock(h);
	return r;
}
