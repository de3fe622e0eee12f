/* SPDX-License-Identifier: MIT */
/*
 * pool.c -- reserve pools (rtheap/pool.h): min_nr elements of an
 * underlying allocator (an object cache or the caller's two functions)
 * kept in a reserve, so that allocation still succeeds under memory
 * pressure, as the kernel's mempool.
 *
 * A layer of its own: it includes owner.h and the public headers only.
 *
 * Locking.  The pool's lock (a PI mutex) covers the reserve (elements,
 * curr_nr, min_nr, cap) and the counters that are not atomic.  It is never
 * held across a call of the underlying allocator or of the heap, so every
 * holder keeps it for O(1) (check and dump O(min_nr), not RT).
 *
 * Waking.  A caller that waits sleeps on `cond` until a release (or a
 * resize) wakes it.  A release to the reserve happens under the lock and
 * signals there.  A release to the underlying allocator happens outside
 * the lock; it bumps `gen` and then signals if `waiters` is non-zero.  A
 * waiter raises `waiters` under the lock, then compares `gen` with the
 * value it read before it last asked the underlying allocator: both are
 * sequentially consistent atomics, so either the releaser sees the waiter
 * (and signals once the waiter sleeps: it needs the lock the waiter holds
 * until cond_wait releases it) or the waiter sees the new `gen` (and asks
 * the underlying allocator again instead of sleeping).  No wake-up is
 * lost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "owner.h"
#include "rtheap/cache.h"
#include "rtheap/pool.h"
#include "rtheap/rtheap.h"

#define POOL_MAGIC 0x72706f6cu /* "rpol" */

struct rtpool {
	struct rt_owner own;    /* registry link, creator's file:line */
	unsigned magic;
	rtheap_t *heap;         /* where the descriptor and the array live */
	rtpool_alloc_fn *alloc_fn;
	rtpool_free_fn *free_fn;
	void *data;
	rtcache_t *cache;       /* non-NULL: elements are objects of it */
	pthread_mutex_t mtx;
	pthread_cond_t cond;    /* on CLOCK_MONOTONIC */
	/* under mtx */
	void **elements;        /* the reserve: elements[0 .. curr_nr) */
	size_t cap;             /* entries of elements (>= min_nr) */
	size_t min_nr, curr_nr;
	size_t from_reserve, refills, waits, timeouts, failures;
	int resizing;
	/* touched outside mtx */
	atomic_size_t allocs, frees;
	atomic_size_t gen;      /* releases to the underlying allocator */
	atomic_uint waiters;    /* callers between cond_wait's entry and exit */
};

static int pool_ok(const struct rtpool *p)
{
	return p && p->magic == POOL_MAGIC;
}

/* -- the underlying allocator -- */

static void *under_alloc(struct rtpool *p, unsigned flags)
{
	if (p->cache)
		return rtcache_alloc(p->cache);
	return p->alloc_fn((int)flags, p->data); /* 0 or RTPOOL_WAIT */
}

static int under_free(struct rtpool *p, void *elem)
{
	if (p->cache)
		return rtcache_free(p->cache, elem);
	p->free_fn(elem, p->data);
	return 0;
}

/* -- registry hooks: rtheap_check() and rtheap_dump() -- */

/* The pool's own structures; the elements only for being non-NULL (the
 * underlying allocator's are opaque).  O(curr_nr) under the pool's lock,
 * which nests the heap's (pool -> heap). */
static int pool_check(struct rt_owner *o, struct rtheap_fault *f)
{
	struct rtpool *p = (struct rtpool *)(void *)o;
	const char *what = NULL;
	pthread_mutex_lock(&p->mtx);
	if (p->magic != POOL_MAGIC)
		what = "pool: bad magic";
	else if (p->curr_nr > p->min_nr || p->min_nr > p->cap)
		what = "pool: reserve count out of range";
	else if (p->cap && !p->elements)
		what = "pool: no reserve array";
	else if (rtheap_check_block(p->heap, p) ||
	         (p->elements && rtheap_check_block(p->heap, p->elements)))
		what = "pool: descriptor or reserve array is not a live heap block";
	for (size_t i = 0; !what && i < p->curr_nr; i++)
		if (!p->elements[i])
			what = "pool: NULL element in the reserve";
	pthread_mutex_unlock(&p->mtx);
	if (!what)
		return 0;
	return rt_owner_fault(f, what, p);
}

static void pool_dump(struct rt_owner *o, FILE *out)
{
	struct rtpool *p = (struct rtpool *)(void *)o;
	struct rtpool_stats st;
	if (rtpool_get_stats(p, &st))
		return;
	fprintf(out, "pool %p: min_nr %zu curr_nr %zu allocs %zu from_reserve %zu "
	        "frees %zu refills %zu waits %zu timeouts %zu failures %zu",
	        (void *)p, st.min_nr, st.curr_nr, st.allocs, st.from_reserve,
	        st.frees, st.refills, st.waits, st.timeouts, st.failures);
	if (p->cache)
		fprintf(out, " cache %p", (void *)p->cache);
	fprintf(out, " (%s:%d)\n", st.file ? st.file : "?", st.line);
}

static const struct rt_owner_ops pool_ops = {
	.kind = "pool",
	.check = pool_check,
	.dump = pool_dump,
};

/* -- creation and destruction -- */

/* The pool's lock and condition variable: 0 or ENOTSUP. */
static int pool_sync_init(struct rtpool *p)
{
	pthread_condattr_t ca;
	if (rt_owner_pi_mutex_init(&p->mtx))
		return ENOTSUP;
	int err = pthread_condattr_init(&ca);
	if (!err) {
		err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&p->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (err) {
		pthread_mutex_destroy(&p->mtx);
		return ENOTSUP;
	}
	return 0;
}

/* An array of n element pointers from the heap (NULL for n 0: *ok says
 * whether it worked). */
static void **array_new(rtheap_t *heap, size_t n, int *ok)
{
	void **a = n ? rtheap_alloc(heap, n * sizeof(void *)) : NULL;
	*ok = !n || a;
	return a;
}

/* Descriptor, array and lock, no element yet: the pool, or NULL with
 * errno. */
static struct rtpool *pool_new(rtheap_t *heap, size_t min_nr,
                               const char *file, int line)
{
	int ok, err;
	if (!rtheap_page_size(heap) || min_nr > SIZE_MAX / sizeof(void *)) {
		errno = EINVAL;
		return NULL;
	}
	struct rtpool *p = rtheap_alloc(heap, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->elements = array_new(heap, min_nr, &ok);
	err = ok ? pool_sync_init(p) : ENOMEM;
	if (err) {
		rtheap_free(heap, p->elements);
		rtheap_free(heap, p);
		errno = err;
		return NULL;
	}
	p->heap = heap;
	p->cap = p->min_nr = min_nr;
	p->own.ops = &pool_ops;
	p->own.file = file;
	p->own.line = line;
	atomic_init(&p->allocs, 0);
	atomic_init(&p->frees, 0);
	atomic_init(&p->gen, 0);
	atomic_init(&p->waiters, 0);
	return p;
}

/* Everything of a pool that left (or never joined) the registry: the
 * reserve to the underlying allocator, the rest to the heap. */
static void pool_release(struct rtpool *p)
{
	rtheap_t *heap = p->heap;
	p->magic = 0;
	for (size_t i = p->curr_nr; i > 0; i--)
		(void)under_free(p, p->elements[i - 1]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mtx);
	rtheap_free(heap, p->elements);
	rtheap_free(heap, p);
}

/* Fill the reserve of a new pool and register it: the pool, or NULL with
 * errno (everything given back). */
static struct rtpool *pool_start(struct rtpool *p)
{
	int err = 0;
	while (p->curr_nr < p->min_nr) {
		void *e = under_alloc(p, RTPOOL_WAIT);
		if (!e) {
			err = ENOMEM;
			break;
		}
		p->elements[p->curr_nr++] = e;
	}
	if (!err && rt_owner_register(p->heap, &p->own))
		err = EINVAL;
	if (err) {
		pool_release(p);
		errno = err;
		return NULL;
	}
	p->magic = POOL_MAGIC;
	return p;
}

rtpool_t *rtpool_create_at(rtheap_t *heap, size_t min_nr,
                           rtpool_alloc_fn *alloc_fn, rtpool_free_fn *free_fn,
                           void *data, const char *file, int line)
{
	if (!alloc_fn || !free_fn) {
		errno = EINVAL;
		return NULL;
	}
	struct rtpool *p = pool_new(heap, min_nr, file, line);
	if (!p)
		return NULL;
	p->alloc_fn = alloc_fn;
	p->free_fn = free_fn;
	p->data = data;
	return pool_start(p);
}

rtpool_t *rtpool_create_cache_at(rtheap_t *heap, size_t min_nr,
                                 rtcache_t *cache, const char *file, int line)
{
	if (!cache) {
		errno = EINVAL;
		return NULL;
	}
	struct rtpool *p = pool_new(heap, min_nr, file, line);
	if (!p)
		return NULL;
	p->cache = cache;
	return pool_start(p);
}

int rtpool_destroy(rtpool_t *p)
{
	if (!pool_ok(p))
		return -EINVAL;
	pthread_mutex_lock(&p->mtx);
	int busy = atomic_load(&p->waiters) || p->resizing;
	pthread_mutex_unlock(&p->mtx);
	if (busy)
		return -EBUSY;
	rt_owner_unregister(&p->own);
	pool_release(p);
	return 0;
}

/* -- allocation and release -- */

/* One allocation that found the underlying allocator empty. */
struct pool_get {
	const struct timespec *deadline; /* NULL: no limit */
	unsigned flags;  /* for asking the underlying allocator again */
	int waiting;     /* may wait at all */
	int asked;       /* asked it with `flags` since `seen` was read */
	int expired;     /* the deadline passed */
	size_t seen;     /* gen before the underlying allocator was last asked */
};

/* Sleep once (lock held; waiters already raised for us). */
static void pool_sleep(struct rtpool *p, struct pool_get *g)
{
	int rc;
	p->waits++;
	if (g->deadline)
		rc = pthread_cond_timedwait(&p->cond, &p->mtx, g->deadline);
	else
		rc = pthread_cond_wait(&p->cond, &p->mtx);
	atomic_fetch_sub(&p->waiters, 1u);
	if (rc == ETIMEDOUT)
		g->expired = 1;
}

/* The slow path, lock held on entry and exit: the reserve, else (may
 * wait) a wait for a release and the underlying allocator again. */
static void *pool_get_slow(struct rtpool *p, struct pool_get *g)
{
	void *e = NULL;
	while (!e) {
		if (p->curr_nr) {
			e = p->elements[--p->curr_nr];
			p->from_reserve++;
			break;
		}
		if (!g->waiting || g->expired)
			break;
		atomic_fetch_add(&p->waiters, 1u);
		if (!g->asked || atomic_load(&p->gen) != g->seen) {
			atomic_fetch_sub(&p->waiters, 1u);
			g->asked = 1;
			g->seen = atomic_load(&p->gen);
			pthread_mutex_unlock(&p->mtx);
			e = under_alloc(p, g->flags);
			pthread_mutex_lock(&p->mtx);
			continue;
		}
		pool_sleep(p, g);
	}
	return e;
}

static void *pool_get(struct rtpool *p, unsigned flags,
                      const struct timespec *deadline)
{
	struct pool_get g = {
		.deadline = deadline,
		.flags = deadline ? RTPOOL_NOWAIT : flags,
		.waiting = deadline || (flags & RTPOOL_WAIT),
	};
	g.asked = !g.waiting || g.flags == RTPOOL_NOWAIT;
	g.seen = atomic_load(&p->gen);
	void *e = under_alloc(p, RTPOOL_NOWAIT);
	if (!e) {
		pthread_mutex_lock(&p->mtx);
		e = pool_get_slow(p, &g);
		if (!e) {
			p->failures++;
			p->timeouts += (size_t)g.expired;
			/* a wake-up meant for the underlying allocator may
			 * have come with our timeout: pass it on */
			if (g.expired && atomic_load(&p->gen) != g.seen)
				pthread_cond_signal(&p->cond);
		}
		pthread_mutex_unlock(&p->mtx);
	}
	if (!e) {
		errno = g.expired ? ETIMEDOUT : ENOMEM;
		return NULL;
	}
	atomic_fetch_add_explicit(&p->allocs, 1u, memory_order_relaxed);
	return e;
}

void *rtpool_alloc(rtpool_t *p, unsigned flags)
{
	if (!pool_ok(p) || (flags & ~(unsigned)RTPOOL_WAIT)) {
		errno = EINVAL;
		return NULL;
	}
	return pool_get(p, flags, NULL);
}

void *rtpool_alloc_timed(rtpool_t *p, const struct timespec *abs_timeout)
{
	if (!pool_ok(p) || !abs_timeout || abs_timeout->tv_nsec < 0 ||
	    abs_timeout->tv_nsec >= 1000000000L) {
		errno = EINVAL;
		return NULL;
	}
	return pool_get(p, RTPOOL_WAIT, abs_timeout);
}

int rtpool_free(rtpool_t *p, void *elem)
{
	if (!pool_ok(p))
		return -EINVAL;
	if (!elem)
		return 0;
	pthread_mutex_lock(&p->mtx);
	if (p->curr_nr < p->min_nr) {
		p->elements[p->curr_nr++] = elem;
		p->refills++;
		if (atomic_load(&p->waiters))
			pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mtx);
		atomic_fetch_add_explicit(&p->frees, 1u, memory_order_relaxed);
		return 0;
	}
	pthread_mutex_unlock(&p->mtx);
	int rc = under_free(p, elem);
	if (rc)
		return rc;
	atomic_fetch_add_explicit(&p->frees, 1u, memory_order_relaxed);
	atomic_fetch_add(&p->gen, 1u);
	if (atomic_load(&p->waiters)) {
		pthread_mutex_lock(&p->mtx);
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->mtx);
	}
	return 0;
}

/* -- resize -- */

/* Claim the pool for a resize: 0, -EINVAL or -EBUSY; *old = min_nr. */
static int resize_begin(struct rtpool *p, size_t *old)
{
	int rc = 0;
	pthread_mutex_lock(&p->mtx);
	if (p->resizing)
		rc = -EBUSY;
	else
		p->resizing = 1;
	*old = p->min_nr;
	pthread_mutex_unlock(&p->mtx);
	return rc;
}

/* End a resize that changed nothing. */
static int resize_cancel(struct rtpool *p, int rc)
{
	pthread_mutex_lock(&p->mtx);
	p->resizing = 0;
	pthread_mutex_unlock(&p->mtx);
	return rc;
}

/* Install array a of n entries (the reserve fits: curr_nr <= n), end the
 * resize; returns the old array, for the heap. */
static void **resize_end(struct rtpool *p, void **a, size_t n)
{
	void **old = p->elements;
	for (size_t i = 0; a && a != old && i < p->curr_nr; i++)
		a[i] = old[i];
	p->elements = a;
	p->cap = n;
	p->resizing = 0;
	return old == a ? NULL : old;
}

/* Grow from min_nr `old` to n: take the array and the n - old elements
 * first, so that a failure changes nothing. */
static int pool_grow(struct rtpool *p, size_t old, size_t n)
{
	int ok;
	void **a = array_new(p->heap, n, &ok);
	size_t i = old;
	while (ok && i < n && (a[i] = under_alloc(p, RTPOOL_WAIT)) != NULL)
		i++;
	if (i < n) {
		while (i-- > old)
			(void)under_free(p, a[i]);
		rtheap_free(p->heap, a);
		return resize_cancel(p, -ENOMEM);
	}
	pthread_mutex_lock(&p->mtx);
	/* the new elements go right after the reserve (curr_nr <= old),
	 * which resize_end() copies below them */
	for (i = old; i < n; i++)
		a[p->curr_nr + i - old] = a[i];
	void **prev = resize_end(p, a, n);
	p->curr_nr += n - old;
	p->min_nr = n;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mtx);
	rtheap_free(p->heap, prev);
	return 0;
}

/* Shrink to n: surplus elements back one at a time (the lock is not held
 * across the release), then a smaller array if the heap has one. */
static int pool_shrink(struct rtpool *p, size_t n)
{
	int ok;
	pthread_mutex_lock(&p->mtx);
	p->min_nr = n;
	while (p->curr_nr > n) {
		void *e = p->elements[--p->curr_nr];
		pthread_mutex_unlock(&p->mtx);
		(void)under_free(p, e);
		pthread_mutex_lock(&p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
	void **a = array_new(p->heap, n, &ok);
	pthread_mutex_lock(&p->mtx);
	void **prev = ok ? resize_end(p, a, n) : resize_end(p, p->elements, p->cap);
	pthread_mutex_unlock(&p->mtx);
	rtheap_free(p->heap, prev);
	return 0;
}

int rtpool_resize(rtpool_t *p, size_t new_min_nr)
{
	size_t old;
	if (!pool_ok(p) || new_min_nr > SIZE_MAX / sizeof(void *))
		return -EINVAL;
	int rc = resize_begin(p, &old);
	if (rc)
		return rc;
	if (new_min_nr == old)
		return resize_cancel(p, 0);
	if (new_min_nr > old)
		return pool_grow(p, old, new_min_nr);
	return pool_shrink(p, new_min_nr);
}

int rtpool_get_stats(rtpool_t *p, struct rtpool_stats *st)
{
	if (!pool_ok(p) || !st)
		return -EINVAL;
	pthread_mutex_lock(&p->mtx);
	st->file = p->own.file;
	st->line = p->own.line;
	st->min_nr = p->min_nr;
	st->curr_nr = p->curr_nr;
	st->from_reserve = p->from_reserve;
	st->refills = p->refills;
	st->waits = p->waits;
	st->timeouts = p->timeouts;
	st->failures = p->failures;
	st->allocs = atomic_load_explicit(&p->allocs, memory_order_relaxed);
	st->frees = atomic_load_explicit(&p->frees, memory_order_relaxed);
	pthread_mutex_unlock(&p->mtx);
	return 0;
}
