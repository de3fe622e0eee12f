/* SPDX-License-Identifier: MIT */
/*
 * kmem.c -- kernel-style allocation (rtheap/kmem.h, docs/kmem.md):
 * requests with flags on any heap, and page-order blocks as owned runs of
 * kind RT_OWN_PAGES (owner.h).
 *
 *   rtkmem_alloc(ATOMIC) ---> rtheap_alloc ---> block | NULL (at once)
 *   rtkmem_alloc(WAIT)   ---> rtheap_alloc fails --> wait_loop():
 *        try; default heap: rtheap_default_grow(need), try;
 *        sleep on w.cond (<= RTKMEM_POLL_MS, <= deadline); again
 *   rtkmem_free / rtkmem_pages_free ---> release; waiting? -> broadcast
 *
 * No lost wake-up with one relaxed load on the release side: a waiter
 * raises w.waiting, then tries again under the heap lock, and sleeps
 * without dropping w.mtx in between.  A release frees under the heap
 * lock, then reads w.waiting.  The two heap-lock sections are ordered:
 * if the waiter's try comes second, it sees the released memory; if it
 * comes first, its increment happens before the release's load (unlock
 * then lock of the heap lock), which therefore sees it, takes w.mtx
 * (held by the waiter until it sleeps) and broadcasts.
 *
 * A page-order release checks the run (its size and kind in the page
 * map) and gives it back in one heap-lock section (rt_owner_give_kind()),
 * so that two racing releases of one block cannot give back a run that
 * another layer took in between.
 *
 * Locks, in this order: w.mtx, then the heap lock; the
 * default heap's growth (its own locks, then the heap lock) is called
 * with none held.  Misuse is reported with no lock held.
 */
#include "owner.h"
#include "rtheap/default.h"
#include "rtheap/kmem.h"
#include "rtheap/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define rt_unlikely(x) __builtin_expect(!!(x), 0)
#define rt_likely(x) __builtin_expect(!!(x), 1)
#define KMEM_COLD static __attribute__((noinline, cold))

#define KNOWN_FLAGS ((unsigned)(RTKMEM_WAIT | RTKMEM_ZERO))
/* Orders whose block size fits a size_t. */
#define ORDER_LIMIT ((unsigned)(sizeof(size_t) * 8u) - RTKMEM_PAGE_SHIFT)
#define NSEC 1000000000L

_Static_assert((int)RTKMEM_ATOMIC == (int)RTPOOL_NOWAIT && (int)RTKMEM_WAIT == (int)RTPOOL_WAIT,
               "one GFP flag serves both layers (rtheap/compat/gfp.h)");

static struct {
	pthread_mutex_t mtx;  /* waiters sleep on cond with it */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC */
	atomic_size_t waiting;
	atomic_size_t sleeps, wakeups, grows, timeouts, page_errors;
	_Atomic uint64_t timeout_ns, poll_ns;
} w = { .timeout_ns = RTKMEM_WAIT_DEFAULT_NS,
        .poll_ns = (uint64_t)RTKMEM_POLL_MS * 1000000u };

static pthread_once_t w_once = PTHREAD_ONCE_INIT;

/* A mutex with priority inheritance where the system has it. */
static void mutex_init(pthread_mutex_t *m)
{
	if (rt_owner_pi_mutex_init(m) != 0)
		(void)pthread_mutex_init(m, NULL);
}

static void w_init(void)
{
	pthread_condattr_t ca;
	mutex_init(&w.mtx);
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&w.cond, &ca);
	(void)pthread_condattr_destroy(&ca);
}

/* In a forked child only the forking thread lives: a lock another thread
 * held at fork() would stay held, and its waiters are gone.  The locks
 * are made afresh (nothing is taken around fork(): the default heap's
 * handlers hold the heap lock then, which a waiter may be waiting for
 * while it holds w.mtx). */
static void kmem_fork_child(void)
{
	w_init();
	atomic_store(&w.waiting, 0);
}

/* At load time, so that no real-time call pays for the set-up (the
 * pthread_once() calls below then only read a flag). */
__attribute__((constructor)) static void kmem_load(void)
{
	pthread_once(&w_once, w_init);
	(void)pthread_atfork(NULL, NULL, kmem_fork_child);
}

static void *fail(int err)
{
	errno = err;
	return NULL;
}

static void count(atomic_size_t *c)
{
	atomic_fetch_add_explicit(c, 1u, memory_order_relaxed);
}

/* ---------------------------------------------------------------- waking */

KMEM_COLD void wake_slow(void)
{
	pthread_once(&w_once, w_init);
	pthread_mutex_lock(&w.mtx);
	count(&w.wakeups);
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.mtx);
}

/* After a release (its heap-lock section done): wake the waiters. */
static inline void wake_waiters(void)
{
	/* relaxed is enough: see the top of the file */
	if (rt_unlikely(atomic_load_explicit(&w.waiting, memory_order_relaxed)))
		wake_slow();
}

/* ---------------------------------------------------------------- requests */

/* What a waiter asks for: plain bytes or a page-order block. */
struct req {
	rtheap_t *heap;
	size_t bytes; /* the size, or the block's size (pages) */
	unsigned flags;
	bool pages;
};

static void *take_pages(rtheap_t *heap, size_t bytes, unsigned flags)
{
	void *p = rt_owner_take_kind(heap, bytes, RT_OWN_PAGES);
	if (p && (flags & RTKMEM_ZERO))
		memset(p, 0, bytes);
	return p;
}

static void *try_once(const struct req *r)
{
	if (r->pages)
		return take_pages(r->heap, r->bytes, r->flags);
	return (r->flags & RTKMEM_ZERO) ? rtheap_zalloc(r->heap, r->bytes)
	                                : rtheap_alloc(r->heap, r->bytes);
}

/* @p heap is the process default heap (which this does not create). */
static bool on_default_heap(const rtheap_t *heap)
{
	struct rtheap_default_info info;
	return rtheap_default_stats(&info) == 0 && info.created &&
	       rtheap_default() == heap;
}

static size_t default_extents(void)
{
	struct rtheap_default_info info;
	(void)rtheap_default_stats(&info);
	return info.extents;
}

/* Grow the default heap for @p r (a page-order block of B bytes needs a
 * free span of 2B - P to be sure of an aligned run); wake the other
 * waiters when memory was added. */
static void grow_for(const struct req *r)
{
	size_t before = default_extents();
	size_t need = r->pages && r->bytes <= SIZE_MAX / 2 ? 2u * r->bytes : r->bytes;
	count(&w.grows);
	if (rtheap_default_grow(need) == 0 && default_extents() != before)
		wake_slow();
}

/* ---------------------------------------------------------------- waiting */

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool expired(const struct timespec *deadline)
{
	struct timespec now;
	if (!deadline)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return !ts_before(&now, deadline);
}

static struct timespec ts_after(uint64_t ns)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ns / (uint64_t)NSEC);
	t.tv_nsec += (long)(ns % (uint64_t)NSEC);
	if (t.tv_nsec >= NSEC) {
		t.tv_sec++;
		t.tv_nsec -= NSEC;
	}
	return t;
}

/* When a sleep ends at the latest: the poll period or the deadline,
 * whichever comes first; false: neither (sleep until woken). */
static bool sleep_until(const struct timespec *deadline, struct timespec *until)
{
	uint64_t poll = atomic_load_explicit(&w.poll_ns, memory_order_relaxed);
	if (poll == RTKMEM_WAIT_FOREVER) {
		if (deadline)
			*until = *deadline;
		return deadline != NULL;
	}
	*until = ts_after(poll);
	if (deadline && ts_before(deadline, until))
		*until = *deadline;
	return true;
}

/* Raise w.waiting, try under w.mtx, sleep until woken, the poll period
 * or the deadline.  The block, or NULL. */
static void *sleep_once(const struct req *r, const struct timespec *deadline)
{
	struct timespec until;
	bool timed = sleep_until(deadline, &until);
	pthread_once(&w_once, w_init);
	pthread_mutex_lock(&w.mtx);
	atomic_fetch_add(&w.waiting, 1u);
	void *p = try_once(r);
	if (!p) {
		count(&w.sleeps);
		if (timed)
			(void)pthread_cond_timedwait(&w.cond, &w.mtx, &until);
		else
			(void)pthread_cond_wait(&w.cond, &w.mtx);
	}
	atomic_fetch_sub(&w.waiting, 1u);
	pthread_mutex_unlock(&w.mtx);
	return p;
}

/* The may-wait path, after a failed try.  Trip count: bounded by the
 * deadline (each round sleeps or grows), not by the heap. */
KMEM_COLD void *wait_loop(const struct req *r, const struct timespec *deadline)
{
	const bool dflt = on_default_heap(r->heap);
	const bool solo = rt_owner_lock_mode(r->heap) == RTHEAP_LOCK_NONE;
	for (;;) {
		void *p = try_once(r);
		if (p)
			return p;
		if (dflt) {
			grow_for(r);
			if ((p = try_once(r)) != NULL)
				return p;
		}
		if (solo)
			return fail(ENOMEM);
		if (expired(deadline))
			break;
		if ((p = sleep_once(r, deadline)) != NULL)
			return p;
	}
	count(&w.timeouts);
	return fail(ETIMEDOUT);
}

static bool ts_valid(const struct timespec *t)
{
	return !t || (t->tv_nsec >= 0 && t->tv_nsec < NSEC);
}

/* A failed first try of rtkmem_alloc() / rtkmem_pages_alloc() whose
 * arguments are valid: ENOMEM, or wait with the default timeout. */
KMEM_COLD void *after_failure(const struct req *r)
{
	if (!(r->flags & RTKMEM_WAIT))
		return fail(ENOMEM);
	uint64_t ns = atomic_load_explicit(&w.timeout_ns, memory_order_relaxed);
	if (ns == RTKMEM_WAIT_FOREVER)
		return wait_loop(r, NULL);
	struct timespec deadline = ts_after(ns);
	return wait_loop(r, &deadline);
}

/* ---------------------------------------------------------------- bytes */

static bool heap_usable(rtheap_t *heap)
{
	return rt_owner_lock_mode(heap) >= 0;
}

KMEM_COLD void *alloc_failed(rtheap_t *heap, size_t size, unsigned flags)
{
	if (!size || !heap_usable(heap))
		return fail(EINVAL);
	const struct req r = { heap, size, flags, false };
	return after_failure(&r);
}

void *rtkmem_alloc(rtheap_t *heap, size_t size, unsigned flags)
{
	if (rt_unlikely(flags & ~KNOWN_FLAGS))
		return fail(EINVAL);
	void *p = (flags & RTKMEM_ZERO) ? rtheap_zalloc(heap, size) : rtheap_alloc(heap, size);
	if (rt_likely(p != NULL))
		return p;
	return alloc_failed(heap, size, flags);
}

void *rtkmem_alloc_timed(rtheap_t *heap, size_t size, unsigned flags,
                         const struct timespec *abs_timeout)
{
	if ((flags & ~KNOWN_FLAGS) || !size || !heap_usable(heap) || !ts_valid(abs_timeout))
		return fail(EINVAL);
	const struct req r = { heap, size, flags | RTKMEM_WAIT, false };
	return wait_loop(&r, abs_timeout);
}

int rtkmem_free(rtheap_t *heap, void *ptr)
{
	int rc = rtheap_free(heap, ptr);
	if (rt_likely(rc == 0))
		wake_waiters();
	return rc;
}

uint64_t rtkmem_set_wait_timeout(uint64_t ns)
{
	return atomic_exchange(&w.timeout_ns, ns);
}

uint64_t rtkmem_set_poll_interval(uint64_t ns)
{
	const uint64_t min = 1000000u;
	return atomic_exchange(&w.poll_ns, ns < min ? min : ns);
}

int rtkmem_get_stats(struct rtkmem_stats *st)
{
	if (!st)
		return -EINVAL;
	st->waiting = atomic_load(&w.waiting);
	st->sleeps = atomic_load(&w.sleeps);
	st->wakeups = atomic_load(&w.wakeups);
	st->grows = atomic_load(&w.grows);
	st->timeouts = atomic_load(&w.timeouts);
	st->page_errors = atomic_load(&w.page_errors);
	return 0;
}

/* ---------------------------------------------------------------- pages */

int rtkmem_max_order(rtheap_t *heap)
{
	size_t max = rt_owner_max(heap);
	if (max < RTKMEM_PAGE_SIZE)
		return -EINVAL;
	return (int)(sizeof(unsigned long long) * 8u - 1u) -
	       __builtin_clzll((unsigned long long)(max >> RTKMEM_PAGE_SHIFT));
}

/* Can @p heap ever serve a block of @p order? */
static bool order_valid(rtheap_t *heap, unsigned order)
{
	int max = rtkmem_max_order(heap);
	return max >= 0 && order <= (unsigned)max &&
	       (RTKMEM_PAGE_SIZE << order) >= rtheap_page_size(heap);
}

KMEM_COLD void *pages_failed(rtheap_t *heap, unsigned order, unsigned flags)
{
	if (!order_valid(heap, order))
		return fail(EINVAL);
	const struct req r = { heap, RTKMEM_PAGE_SIZE << order, flags, true };
	return after_failure(&r);
}

void *rtkmem_pages_alloc(rtheap_t *heap, unsigned order, unsigned flags)
{
	if (rt_unlikely((flags & ~KNOWN_FLAGS) || order >= ORDER_LIMIT))
		return fail(EINVAL);
	void *p = take_pages(heap, RTKMEM_PAGE_SIZE << order, flags);
	if (rt_likely(p != NULL))
		return p;
	return pages_failed(heap, order, flags);
}

void *rtkmem_pages_alloc_timed(rtheap_t *heap, unsigned order, unsigned flags,
                               const struct timespec *abs_timeout)
{
	if ((flags & ~KNOWN_FLAGS) || order >= ORDER_LIMIT || !order_valid(heap, order) ||
	    !ts_valid(abs_timeout))
		return fail(EINVAL);
	const struct req r = { heap, RTKMEM_PAGE_SIZE << order, flags | RTKMEM_WAIT, true };
	return wait_loop(&r, abs_timeout);
}

KMEM_COLD int pages_refused(rtheap_t *heap, void *addr, int rc)
{
	if (rc == -EUCLEAN) /* reported by the heap already */
		return rc;
	count(&w.page_errors);
	rt_owner_report(heap, rc == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK, addr);
	return rc;
}

int rtkmem_pages_free(rtheap_t *heap, void *addr, unsigned order)
{
	if (rt_unlikely(!addr))
		return 0;
	if (rt_unlikely(order >= ORDER_LIMIT))
		return pages_refused(heap, addr, -EINVAL);
	/* checked (size, kind, first page) and given back in one heap-lock
	 * section; -EUCLEAN (debug mode) is reported by the heap */
	int rc = rt_owner_give_kind(heap, addr, RTKMEM_PAGE_SIZE << order, RT_OWN_PAGES);
	if (rt_unlikely(rc))
		return pages_refused(heap, addr, rc);
	wake_waiters();
	return 0;
}
