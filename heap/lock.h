/* SPDX-License-Identifier: MIT */
/*
 * lock.h -- the heap lock, in the mode chosen at init (rtheap_config.lock):
 *   RTHEAP_LOCK_NONE      no lock: the caller serialises;
 *   RTHEAP_LOCK_PI_MUTEX  a priority-inheritance pthread mutex;
 *   RTHEAP_LOCK_SPIN      a test-and-set spin lock (acquire/release).
 *
 * Discipline: the function that calls heap_lock() calls heap_unlock(), at
 * one point, the exit label of its critical section; callees never unlock.
 * Notifications found under the lock are collected there and delivered
 * after heap_unlock() (notify.c).
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

/* Can a lock of this mode be set up?  0 or -ENOTSUP.  Tried on a mutex of
 * the caller's stack before init writes the descriptor, so that a refusal
 * (no priority inheritance in this C library or kernel) leaves a live heap
 * in the descriptor untouched.  A Linux mutex holds no resource: once the
 * probe succeeded, heap_lock_init() succeeds too. */
static inline int heap_lock_probe(int mode)
{
	pthread_mutex_t m;
	if (mode != RTHEAP_LOCK_PI_MUTEX)
		return 0;
	int err = pi_mutex_init(&m);
	if (!err)
		pthread_mutex_destroy(&m);
	return err;
}

/* Set up the lock of h->lock_mode: 0 or -ENOTSUP. */
static inline int heap_lock_init(struct rt_heap *h)
{
	atomic_flag_clear(&h->spin);
	if (h->lock_mode != RTHEAP_LOCK_PI_MUTEX)
		return 0;
	return pi_mutex_init(&h->mtx);
}

static inline void heap_lock_destroy(struct rt_heap *h)
{
	if (h->lock_mode == RTHEAP_LOCK_PI_MUTEX)
		pthread_mutex_destroy(&h->mtx);
}

#endif /* RTHEAP_LOCK_H */
