/* SPDX-License-Identifier: MIT */
/*
 * lock.h -- the heap lock, in the mode chosen at init (rtheap_config.lock):
 *   RTHEAP_LOCK_NONE      no lock: the caller serialises;
 *   RTHEAP_LOCK_PI_MUTEX  a priority-inheritance pthread mutex;
 *   RTHEAP_LOCK_SPIN      a test-and-set spin lock (acquire/release);
 *   RTHEAP_LOCK_SHARED    a process-shared, priority-inheritance, robust
 *                         pthread mutex (a heap shared by processes).
 *
 * Discipline: the function that calls heap_lock() calls heap_unlock(), at
 * one point, the exit label of its critical section; callees never unlock.
 * heap_lock() returns 0 (locked) or -ENOTRECOVERABLE (not locked: a shared
 * heap found broken, see below): the caller then returns its documented
 * failure without unlocking.  The hot copies (alloc, free, realloc: ck)
 * lock with heap_lock_ck(): a shared heap takes a copy of its own
 * (ck = RT_CK_SHARED, or the checked copy RT_CK_ANY: rt_copy_compute()),
 * so the plain copy's lock is the local one, whose result is the
 * constant 0, and the hot paths of the other modes keep their cost to
 * the instruction.  Notifications found under the lock are collected there and
 * delivered after heap_unlock() (notify.c).
 *
 * Shared mode, a dead owner (rtheap.h, "Process-shared heaps"): the lock
 * returns EOWNERDEAD to the next locker.  heap_lock_shared() then checks
 * the whole heap under the lock (check.c), marks the mutex consistent
 * whatever the result (nobody may wait for ever), counts the death or
 * marks the heap broken, releases the lock, delivers the report, and
 * locks again: its loop runs once per owner death it meets.  A broken
 * heap is refused under the lock, so that the flag needs no atomics.
 */
#ifndef RTHEAP_LOCK_H
#define RTHEAP_LOCK_H

#ifndef RTHEAP_UNITY_BUILD
#error "lock.h is part of heap/unity.c"
#endif
#include "internal.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* After taking the lock: the test point of step-counting builds. */
#define RT_LOCKED(r) (RT_TEST_POINT(RT_TP_LOCKED), (r))

/* The owner died holding the lock, which we now hold: check the heap,
 * recover or mark it broken, make the mutex consistent, unlock, report.
 * 0: recovered (lock again), -ENOTRECOVERABLE: broken. */
RT_COLD int shared_recover(struct rt_heap *h)
{
	struct rt_pending pd;
	struct rtheap_fault f = {0};
	bool report = !h->broken;
	int err = report ? rt_check_locked(h, &f) : -EUCLEAN;
	h->pend_kind = 0; /* a report the dead owner did not deliver is lost */
	if (err) {
		/* relaxed atomic: rt_owner_broken() reads it without the lock */
		__atomic_store_n(&h->broken, 1u, __ATOMIC_RELAXED);
		if (report)
			rt_notify_event(h, RTHEAP_ERR_BROKEN, f.addr, &pd);
	} else {
		h->owner_deaths++;
		rt_notify_event(h, RTHEAP_ERR_OWNER_DIED, h, &pd);
	}
	(void)pthread_mutex_consistent(&h->mtx);
	pthread_mutex_unlock(&h->mtx);
	if (report)
		rt_notify_deliver(h, &pd);
	return err ? -ENOTRECOVERABLE : 0;
}

/* heap_lock() of a shared heap: 0 with the lock held, or -ENOTRECOVERABLE
 * (and errno ENOTRECOVERABLE) without it: the heap is broken, or the mutex
 * refuses (ENOTRECOVERABLE after a death left unrecovered, or any other
 * error). */
RT_COLD int heap_lock_shared(struct rt_heap *h)
{
	for (;;) { /* once per dead owner met */
		int err = pthread_mutex_lock(&h->mtx);
		if (rt_likely(!err)) {
			if (rt_likely(!h->broken))
				return RT_LOCKED(0);
			pthread_mutex_unlock(&h->mtx);
			break;
		}
		if (err != EOWNERDEAD || shared_recover(h))
			break;
	}
	/* refused: errno too, for the calls that return NULL */
	errno = ENOTRECOVERABLE;
	return -ENOTRECOVERABLE;
}

/* The lock of a heap of one process (NONE, PI_MUTEX, SPIN): as before the
 * shared mode existed, instruction for instruction. */
static inline void heap_lock_local(struct rt_heap *h)
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

static inline void heap_unlock_local(struct rt_heap *h)
{
	if (h->lock_mode == RTHEAP_LOCK_NONE)
		return;
	if (h->lock_mode == RTHEAP_LOCK_PI_MUTEX) {
		pthread_mutex_unlock(&h->mtx);
		return;
	}
	atomic_flag_clear_explicit(&h->spin, memory_order_release);
}

/* Any mode: 0 with the lock held, or -ENOTRECOVERABLE (shared mode). */
static inline int heap_lock(struct rt_heap *h)
{
	if (rt_unlikely(h->lock_mode == RTHEAP_LOCK_SHARED))
		return heap_lock_shared(h);
	heap_lock_local(h);
	return RT_LOCKED(0);
}

static inline void heap_unlock(struct rt_heap *h)
{
	if (rt_unlikely(h->lock_mode == RTHEAP_LOCK_SHARED))
		pthread_mutex_unlock(&h->mtx);
	else
		heap_unlock_local(h);
}

/* In the hot copies (ck, internal.h): the plain copy (ck = 0) never serves
 * a shared heap (rt_copy_compute() sends it to the checked copy), so its
 * lock is the local one and always succeeds: the caller's test of the
 * result folds away and the plain copy keeps its cost. */
static inline int heap_lock_ck(struct rt_heap *h, const unsigned ck)
{
	if (!ck) {
		rt_assert(h->lock_mode != RTHEAP_LOCK_SHARED, "shared heap in the plain copy");
		heap_lock_local(h);
		return RT_LOCKED(0);
	}
	if (ck == RT_CK_SHARED)
		return heap_lock_shared(h);
	return heap_lock(h);
}

static inline void heap_unlock_ck(struct rt_heap *h, const unsigned ck)
{
	if (!ck)
		heap_unlock_local(h);
	else if (ck == RT_CK_SHARED)
		pthread_mutex_unlock(&h->mtx);
	else
		heap_unlock(h);
}

/* Initialise m as a priority-inheritance mutex: 0 or -ENOTSUP. */
static inline int pi_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a))
		return -ENOTSUP;
	int err = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	if (!err)
		err = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return err ? -ENOTSUP : 0;
}

/* Initialise m as a process-shared, priority-inheritance, robust mutex:
 * 0 or -ENOTSUP. */
static inline int shared_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a))
		return -ENOTSUP;
	int err = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	if (!err)
		err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!err)
		err = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return err ? -ENOTSUP : 0;
}

static inline int mode_mutex_init(int mode, pthread_mutex_t *m)
{
	if (mode == RTHEAP_LOCK_PI_MUTEX)
		return pi_mutex_init(m);
	if (mode == RTHEAP_LOCK_SHARED)
		return shared_mutex_init(m);
	return 0;
}

static inline bool mode_has_mutex(int mode)
{
	return mode == RTHEAP_LOCK_PI_MUTEX || mode == RTHEAP_LOCK_SHARED;
}

/* Can a lock of this mode be set up?  0 or -ENOTSUP.  Tried on a mutex of
 * the caller's stack before init writes the descriptor, so that a refusal
 * (no priority inheritance, or no process-shared robust PI mutex, in this
 * C library or kernel) leaves a live heap in the descriptor untouched.  A
 * Linux mutex holds no resource: once the probe succeeded,
 * heap_lock_init() succeeds too. */
static inline int heap_lock_probe(int mode)
{
	pthread_mutex_t m;
	if (!mode_has_mutex(mode))
		return 0;
	int err = mode_mutex_init(mode, &m);
	if (!err)
		pthread_mutex_destroy(&m);
	return err;
}

/* Set up the lock of h->lock_mode: 0 or -ENOTSUP. */
static inline int heap_lock_init(struct rt_heap *h)
{
	atomic_flag_clear(&h->spin);
	return mode_mutex_init(h->lock_mode, &h->mtx);
}

static inline void heap_lock_destroy(struct rt_heap *h)
{
	if (mode_has_mutex(h->lock_mode))
		pthread_mutex_destroy(&h->mtx);
}

#endif /* RTHEAP_LOCK_H */
