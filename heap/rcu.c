/* SPDX-License-Identifier: MIT */
/*
 * rcu.c -- RCU-deferred release (rtheap/rcu.h), a layer on the door.
 *
 * Per heap, in a process-local table (a heap in shared memory has one
 * reclaimer per process that starts one): a deferred-release queue
 * (defer.h: liburcu's wait-free concurrent queue) and a reclaimer thread.
 *
 *   rtheap_free_rcu(h, p):  find h's domain (8 acquire loads)
 *                           check p, node = 2 words          one heap lock
 *                                   (rt_owner_check_alloc: as
 *                                   rtheap_check_block + rtheap_alloc)
 *                           node = { link, p | 1 }; push    one exchange
 *   rtheap_free_rcu_head:   the same, node = the caller's head in p, { link, p }
 *   reclaimer, every period_us or when a barrier wakes it:
 *                           chain = take(queue)
 *                           synchronize()                    one grace period
 *                           for each node: rtheap_free(block) [, rtheap_free(node)]
 *
 * A node's word is the block's address, with bit 0 set when the node is a
 * heap block of its own (rtheap_free_rcu), clear when it lies in the block
 * (rtheap_free_rcu_head); 0 marks a barrier's marker (on the barrier's
 * stack).  The queue is FIFO, so a marker is passed after everything
 * queued before it.
 *
 * No system call on the queueing side: the reclaimer polls (a timed wait
 * on its condition variable); only barrier and stop, which are not RT,
 * signal it.  Locks: the domain's mutex is never held while the heap is
 * called (the reclaimer releases without it); the table's mutex (start,
 * stop) is taken before the domain's.
 */
#include "rtheap/rcu.h"

#include "defer.h"
#include "owner.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <urcu/urcu-memb.h>

struct rcu_node {
	struct rt_defer_node link;
	uintptr_t word; /* block | 1, block, or 0 (marker) */
};
_Static_assert(sizeof(struct rcu_node) == sizeof(struct rtheap_rcu_head),
               "the caller's head holds a node");

struct rcu_marker {
	struct rcu_node node;
	int done; /* under the domain's mutex */
};

struct rcu_domain {
	_Atomic(rtheap_t *) heap; /* published last by start, cleared by stop */
	rtheap_t *owner;          /* the heap, for the reclaimer (set before it starts) */
	struct rt_defer_queue q;
	void (*sync)(void);
	unsigned period_us;
	pthread_t thread;
	pthread_mutex_t mtx; /* stop, kick, markers' done */
	pthread_cond_t wake; /* the reclaimer sleeps on it */
	pthread_cond_t passed; /* barriers sleep on it */
	int stop, kick;
	_Atomic uint64_t queued, released, errors, gps, batch_max, max_pending;
	_Atomic uint64_t nomem, refused;
};

static struct rcu_domain rcu_tab[RTHEAP_RCU_MAX_HEAPS];
/* Serialises start and stop (the table's writers). */
static pthread_mutex_t rcu_tab_mtx = PTHREAD_MUTEX_INITIALIZER;

#define RCU_ADD(d, field, n) atomic_fetch_add_explicit(&(d)->field, (n), memory_order_relaxed)
#define RCU_GET(d, field) atomic_load_explicit(&(d)->field, memory_order_relaxed)

/* The domain of heap, or NULL.  RTHEAP_RCU_MAX_HEAPS acquire loads. */
static struct rcu_domain *rcu_find(const rtheap_t *heap)
{
	if (!heap)
		return NULL;
	for (unsigned i = 0; i < RTHEAP_RCU_MAX_HEAPS; i++)
		if (atomic_load_explicit(&rcu_tab[i].heap, memory_order_acquire) == heap)
			return &rcu_tab[i];
	return NULL;
}

static void rcu_max(_Atomic uint64_t *m, uint64_t v)
{
	/* only the reclaimer writes the maxima: no lost update */
	if (v > atomic_load_explicit(m, memory_order_relaxed))
		atomic_store_explicit(m, v, memory_order_relaxed);
}

static uint64_t rcu_pending(struct rcu_domain *d)
{
	uint64_t done = RCU_GET(d, released) + RCU_GET(d, errors);
	uint64_t q = RCU_GET(d, queued);
	return q > done ? q - done : 0;
}

/* ---------------- the reclaimer ---------------- */

static void rcu_pass_marker(struct rcu_domain *d, struct rcu_marker *m)
{
	pthread_mutex_lock(&d->mtx);
	m->done = 1;
	pthread_cond_broadcast(&d->passed);
	pthread_mutex_unlock(&d->mtx);
}

/* Release one node's block (and the node when it is its own block).  The
 * node's fields are read before the block, which may hold it, is gone. */
static void rcu_release(struct rcu_domain *d, rtheap_t *heap, struct rcu_node *n)
{
	uintptr_t w = n->word;
	if (rtheap_free(heap, (void *)(w & ~(uintptr_t)1)) == 0)
		RCU_ADD(d, released, 1);
	else
		RCU_ADD(d, errors, 1); /* reported by the heap (double release) */
	if (w & 1)
		(void)rtheap_free(heap, n);
}

/* One batch: take the queue, one grace period, release it all; then
 * pass the barriers' markers met (after the counters are final). */
static void rcu_batch(struct rcu_domain *d, rtheap_t *heap)
{
	struct rt_defer_node *n = rt_defer_take(&d->q);
	if (!n)
		return;
	d->sync();
	RCU_ADD(d, gps, 1);
	/* pending only falls while releasing: its peak is now */
	rcu_max(&d->max_pending, rcu_pending(d));
	uint64_t count = 0;
	struct rt_defer_node *markers = NULL;
	while (n) {
		struct rt_defer_node *next = n->next;
		struct rcu_node *r = (struct rcu_node *)(void *)n;
		if (r->word) {
			rcu_release(d, heap, r);
			count++;
		} else {
			n->next = markers;
			markers = n;
		}
		n = next;
	}
	rcu_max(&d->batch_max, count);
	while (markers) {
		struct rt_defer_node *next = markers->next;
		rcu_pass_marker(d, (struct rcu_marker *)(void *)markers);
		markers = next;
	}
}

static void rcu_deadline(struct timespec *ts, unsigned us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += (long)(us % 1000000u) * 1000;
	ts->tv_sec += (time_t)(us / 1000000u) + ts->tv_nsec / 1000000000;
	ts->tv_nsec %= 1000000000;
}

static void *rcu_reclaimer(void *arg)
{
	struct rcu_domain *d = arg;
	rtheap_t *heap = d->owner;
	pthread_mutex_lock(&d->mtx);
	while (!d->stop) {
		pthread_mutex_unlock(&d->mtx);
		rcu_batch(d, heap);
		pthread_mutex_lock(&d->mtx);
		if (!d->stop && !d->kick) {
			struct timespec ts;
			rcu_deadline(&ts, d->period_us);
			(void)pthread_cond_timedwait(&d->wake, &d->mtx, &ts);
		}
		d->kick = 0;
	}
	pthread_mutex_unlock(&d->mtx);
	return NULL;
}

/* ---------------- start and stop ---------------- */

/* The domain's mutex and condition variables (monotonic clock).  With
 * these arguments glibc's init calls cannot fail (they allocate nothing):
 * their results are not tested (untestable branches). */
static void rcu_sync_init(struct rcu_domain *d)
{
	pthread_condattr_t ca;
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&d->wake, &ca);
	(void)pthread_cond_init(&d->passed, &ca);
	(void)pthread_condattr_destroy(&ca);
	(void)pthread_mutex_init(&d->mtx, NULL);
}

static void rcu_sync_destroy(struct rcu_domain *d)
{
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->passed);
	pthread_mutex_destroy(&d->mtx);
}

/* The reclaimer thread: SCHED_OTHER, whatever the caller runs at.  The
 * attribute calls cannot fail with these arguments; pthread_create can
 * (-EAGAIN). */
static int rcu_spawn(struct rcu_domain *d)
{
	pthread_attr_t a;
	struct sched_param sp;
	memset(&sp, 0, sizeof sp);
	(void)pthread_attr_init(&a);
	(void)pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
	(void)pthread_attr_setschedpolicy(&a, SCHED_OTHER);
	(void)pthread_attr_setschedparam(&a, &sp);
	int err = pthread_create(&d->thread, &a, rcu_reclaimer, d);
	pthread_attr_destroy(&a);
	return -err;
}

static struct rcu_domain *rcu_free_slot(void)
{
	for (unsigned i = 0; i < RTHEAP_RCU_MAX_HEAPS; i++)
		if (!atomic_load_explicit(&rcu_tab[i].heap, memory_order_relaxed))
			return &rcu_tab[i];
	return NULL;
}

static int rcu_setup(struct rcu_domain *d, rtheap_t *heap,
                     const struct rtheap_rcu_config *cfg)
{
	d->sync = cfg && cfg->synchronize ? cfg->synchronize : urcu_memb_synchronize_rcu;
	d->period_us = cfg && cfg->period_us ? cfg->period_us : RTHEAP_RCU_PERIOD_US;
	d->stop = d->kick = 0;
	rt_defer_init(&d->q);
	uint64_t zero = 0;
	_Atomic uint64_t *counters[] = { &d->queued, &d->released, &d->errors, &d->gps,
	                                 &d->batch_max, &d->max_pending, &d->nomem,
	                                 &d->refused };
	for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
		atomic_store_explicit(counters[i], zero, memory_order_relaxed);
	d->owner = heap; /* the slot stays free (d->heap NULL) until published */
	rcu_sync_init(d);
	int err = rcu_spawn(d);
	if (err)
		rcu_sync_destroy(d);
	return err;
}

int rtheap_rcu_start(rtheap_t *heap, const struct rtheap_rcu_config *cfg)
{
	int mode = heap ? rt_owner_lock_mode(heap) : -1;
	if (mode < 0 || mode == RTHEAP_LOCK_NONE)
		return -EINVAL;
	if (cfg && cfg->period_us > 1000000u)
		return -EINVAL;
	pthread_mutex_lock(&rcu_tab_mtx);
	struct rcu_domain *d = NULL;
	int err = rcu_find(heap) ? -EBUSY : (d = rcu_free_slot()) != NULL ? 0 : -ENOSPC;
	if (d) {
		err = rcu_setup(d, heap, cfg);
		/* published (release) once the queue and the thread exist */
		if (!err)
			atomic_store_explicit(&d->heap, heap, memory_order_release);
	}
	pthread_mutex_unlock(&rcu_tab_mtx);
	return err;
}

static void rcu_wait_marker(struct rcu_domain *d, struct rcu_marker *m)
{
	pthread_mutex_lock(&d->mtx);
	d->kick = 1;
	pthread_cond_signal(&d->wake);
	while (!m->done)
		pthread_cond_wait(&d->passed, &d->mtx);
	pthread_mutex_unlock(&d->mtx);
}

int rtheap_rcu_barrier(rtheap_t *heap)
{
	struct rcu_domain *d = rcu_find(heap);
	if (!d)
		return -ENODEV;
	struct rcu_marker m;
	m.node.word = 0;
	m.done = 0;
	rt_defer_push(&d->q, &m.node.link);
	rcu_wait_marker(d, &m);
	return 0;
}

int rtheap_rcu_stop(rtheap_t *heap)
{
	pthread_mutex_lock(&rcu_tab_mtx);
	struct rcu_domain *d = rcu_find(heap);
	if (!d) {
		pthread_mutex_unlock(&rcu_tab_mtx);
		return -ENODEV;
	}
	(void)rtheap_rcu_barrier(heap);
	pthread_mutex_lock(&d->mtx);
	d->stop = 1;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->mtx);
	pthread_join(d->thread, NULL);
	/* nothing may be queued now (the contract); if something was, by a
	 * call that raced with this one, it is still released safely */
	rcu_batch(d, heap);
	rcu_sync_destroy(d);
	atomic_store_explicit(&d->heap, NULL, memory_order_release);
	pthread_mutex_unlock(&rcu_tab_mtx);
	return 0;
}

/* ---------------- queueing (RT side) ---------------- */

/* ptr is not a live block of heap: the exact error, reported as
 * rtheap_free() would, counted; nothing queued. */
static int rcu_refuse(struct rcu_domain *d, rtheap_t *heap, const void *addr, int err)
{
	RCU_ADD(d, refused, 1);
	rt_owner_report(heap, err == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK, addr);
	return err;
}

static void rcu_queue(struct rcu_domain *d, struct rcu_node *n, uintptr_t word)
{
	n->word = word;
	RCU_ADD(d, queued, 1); /* before the push: pending never goes below 0 */
	rt_defer_push(&d->q, &n->link);
}

int rtheap_free_rcu(rtheap_t *heap, void *ptr)
{
	struct rcu_domain *d = rcu_find(heap);
	if (!d)
		return -ENODEV;
	if (!ptr)
		return 0;
	void *n; /* the check and the node's allocation: one lock section */
	int err = rt_owner_check_alloc(heap, ptr, sizeof(struct rcu_node), &n);
	if (err == -ENOMEM) {
		RCU_ADD(d, nomem, 1);
		return -ENOMEM;
	}
	if (err)
		return rcu_refuse(d, heap, ptr, err);
	rcu_queue(d, n, (uintptr_t)ptr | 1u);
	return 0;
}

int rtheap_free_rcu_head(rtheap_t *heap, void *ptr, struct rtheap_rcu_head *head)
{
	struct rcu_domain *d = rcu_find(heap);
	if (!d)
		return -ENODEV;
	if (!ptr)
		return 0;
	size_t size = rtheap_usable_size(heap, ptr);
	if (!size)
		return rcu_refuse(d, heap, ptr, rtheap_check_block(heap, ptr));
	uintptr_t b = (uintptr_t)ptr, h = (uintptr_t)head;
	if (!head || h % _Alignof(struct rtheap_rcu_head) || h < b ||
	    size < sizeof *head || h - b > size - sizeof *head)
		return rcu_refuse(d, heap, head, -EINVAL);
	rcu_queue(d, (struct rcu_node *)(void *)head, b);
	return 0;
}

int rtheap_rcu_get_stats(rtheap_t *heap, struct rtheap_rcu_stats *st)
{
	struct rcu_domain *d = rcu_find(heap);
	if (!d)
		return -ENODEV;
	if (!st)
		return -EINVAL;
	st->queued = RCU_GET(d, queued);
	st->released = RCU_GET(d, released);
	st->errors = RCU_GET(d, errors);
	st->grace_periods = RCU_GET(d, gps);
	st->batches_max = RCU_GET(d, batch_max);
	st->pending = rcu_pending(d);
	uint64_t m = RCU_GET(d, max_pending);
	st->max_pending = m > st->pending ? m : st->pending;
	st->nomem = RCU_GET(d, nomem);
	st->refused = RCU_GET(d, refused);
	return 0;
}
