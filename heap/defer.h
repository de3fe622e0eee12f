/* SPDX-License-Identifier: MIT */
/*
 * defer.h -- the deferred-release queue shared by the Xenomai 2 interface
 * (xnheap.c, in the core) and the RCU-deferred release (rcu.c, a layer).
 *
 * A multi-producer, single-consumer FIFO of caller-provided links.  Push
 * is wait-free: one atomic exchange of the tail and one store, no loop and
 * no system call, so it may run in a real-time thread or a signal handler.
 * Take (the consumer, not real-time) detaches everything pushed so far and
 * returns it as a NULL-terminated chain, oldest first.
 *
 * In the library built with liburcu (heap/CMakeLists.txt defines
 * RTHEAP_DEFER_WFCQ when RTHEAP_HAVE_URCU) the queue is liburcu's wait-free
 * concurrent queue (urcu/wfcqueue.h, called through its shared library:
 * no _LGPL_SOURCE); otherwise (a -m32 build, a system without liburcu, the
 * test programs that compile heap/unity.c themselves and do not link
 * liburcu) it is an exchange-based queue of our own with the same layout and
 * the same two steps: exchange the tail, then link the old tail to the new
 * node.  Between those two steps the node is reachable from the tail but
 * not from the head: the consumer waits for that one store (liburcu: a
 * short busy wait, then 1 ms sleeps; ours: yields, then 50 us sleeps).
 *
 *   head node -> n1 -> n2 -> n3 <- tail       (empty: tail == &head node)
 *
 * The layout is two words, { head.next, tail }, in both builds, so that a
 * descriptor holding a queue (xnheap_t) does not depend on the build.
 *
 * This header depends on nothing of the core (no internal.h): a layer may
 * include it.
 */
#ifndef RTHEAP_DEFER_H
#define RTHEAP_DEFER_H

#include <stddef.h>

#include "rtheap/config.h"

#if defined(RTHEAP_DEFER_WFCQ) && !RTHEAP_HAVE_URCU
#error "RTHEAP_DEFER_WFCQ needs liburcu"
#endif
#ifdef RTHEAP_DEFER_WFCQ
#include <urcu/wfcqueue.h>
#else
#include <sched.h>
#include <time.h>
#endif

/* A link; the user's object starts with it (or embeds it first). */
struct rt_defer_node {
	struct rt_defer_node *next;
};

struct rt_defer_queue {
	struct rt_defer_node head; /* head.next: the oldest node, or NULL */
	struct rt_defer_node *tail; /* the newest node, or &head */
};

/* ThreadSanitizer does not see liburcu's atomics (an uninstrumented shared
 * library): in a TSan build only, every push and take also goes through
 * this counter (read-modify-write, then acquire), which TSan sees, so that
 * what a producer wrote before its push happens-before what the consumer
 * reads after its take. */
#if defined(__SANITIZE_THREAD__)
#define RT_DEFER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_DEFER_TSAN 1
#endif
#endif
#ifdef RT_DEFER_TSAN
static unsigned long rt_defer_tsan_sync;
#define RT_DEFER_TSAN_PUSH() \
	((void)__atomic_fetch_add(&rt_defer_tsan_sync, 1, __ATOMIC_ACQ_REL))
#define RT_DEFER_TSAN_TAKE() \
	((void)__atomic_fetch_add(&rt_defer_tsan_sync, 1, __ATOMIC_ACQ_REL))
#else
#define RT_DEFER_TSAN_PUSH() ((void)0)
#define RT_DEFER_TSAN_TAKE() ((void)0)
#endif

#ifdef RTHEAP_DEFER_WFCQ
_Static_assert(sizeof(struct rt_defer_node) == sizeof(struct cds_wfcq_node),
               "rt_defer_node is a cds_wfcq_node");
_Static_assert(sizeof(struct rt_defer_queue) ==
                       sizeof(struct __cds_wfcq_head) + sizeof(struct cds_wfcq_tail),
               "rt_defer_queue is a wfcq head and tail");
#define RT_DEFER_H(q) ((struct __cds_wfcq_head *)(void *)&(q)->head)
#define RT_DEFER_T(q) ((struct cds_wfcq_tail *)(void *)&(q)->tail)
#define RT_DEFER_N(n) ((struct cds_wfcq_node *)(void *)(n))
#endif

/* Empty queue.  Not concurrent with anything on q. */
static inline void rt_defer_init(struct rt_defer_queue *q)
{
#ifdef RTHEAP_DEFER_WFCQ
	__cds_wfcq_init(RT_DEFER_H(q), RT_DEFER_T(q));
#else
	__atomic_store_n(&q->head.next, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&q->tail, &q->head, __ATOMIC_RELEASE);
#endif
}

/* Push n (any memory the caller keeps until the take that returns it).
 * Wait-free: one exchange and one store (liburcu: the same, in a call). */
static inline void rt_defer_push(struct rt_defer_queue *q, struct rt_defer_node *n)
{
#ifdef RTHEAP_DEFER_WFCQ
	n->next = NULL;
	RT_DEFER_TSAN_PUSH(); /* after the last store TSan sees */
	(void)cds_wfcq_enqueue(RT_DEFER_H(q), RT_DEFER_T(q), RT_DEFER_N(n));
#else
	__atomic_store_n(&n->next, NULL, __ATOMIC_RELAXED);
	struct rt_defer_node *prev = __atomic_exchange_n(&q->tail, n, __ATOMIC_ACQ_REL);
	__atomic_store_n(&prev->next, n, __ATOMIC_RELEASE);
#endif
}

/* Non-zero when nothing was pushed since the last take (a hint: a push may
 * be under way).  O(1), no store: RT-safe. */
static inline int rt_defer_empty(struct rt_defer_queue *q)
{
#ifdef RTHEAP_DEFER_WFCQ
	return cds_wfcq_empty(RT_DEFER_H(q), RT_DEFER_T(q));
#else
	return __atomic_load_n(&q->head.next, __ATOMIC_ACQUIRE) == NULL &&
	       __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == &q->head;
#endif
}

#ifndef RTHEAP_DEFER_WFCQ
/* The link of n once its producer stored it (n is not the last node):
 * the producer is between its exchange and its store.  Yield a few times,
 * then sleep, so that a producer of lower priority on this CPU runs. */
static inline struct rt_defer_node *rt_defer_wait_next(struct rt_defer_node *n)
{
	unsigned spins = 0;
	struct rt_defer_node *next;
	while ((next = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE)) == NULL) {
		if (++spins < 16) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50000 };
			nanosleep(&ts, NULL);
		}
	}
	return next;
}
#endif

/* Detach everything pushed before the call: a NULL-terminated chain,
 * oldest first (every link resolved), or NULL.  Pushes during the call go
 * to the next take.  Single consumer (the caller serialises takes).
 * O(nodes taken); may wait for a producer's one store.  Not RT. */
static inline struct rt_defer_node *rt_defer_take(struct rt_defer_queue *q)
{
	if (rt_defer_empty(q))
		return NULL;
#ifdef RTHEAP_DEFER_WFCQ
	struct __cds_wfcq_head h;
	struct cds_wfcq_tail t;
	__cds_wfcq_init(&h, &t);
	(void)__cds_wfcq_splice_blocking(&h, &t, RT_DEFER_H(q), RT_DEFER_T(q));
	struct cds_wfcq_node *first = __cds_wfcq_first_blocking(&h, &t);
	/* walk once so that every link is stored (the last one is NULL) */
	for (struct cds_wfcq_node *n = first; n; n = __cds_wfcq_next_blocking(&h, &t, n))
		;
	RT_DEFER_TSAN_TAKE();
	return (struct rt_defer_node *)(void *)first;
#else
	struct rt_defer_node *first = __atomic_load_n(&q->head.next, __ATOMIC_ACQUIRE);
	if (!first) /* tail moved, head link not stored yet */
		first = rt_defer_wait_next(&q->head);
	__atomic_store_n(&q->head.next, NULL, __ATOMIC_RELAXED);
	struct rt_defer_node *last = __atomic_exchange_n(&q->tail, &q->head, __ATOMIC_ACQ_REL);
	for (struct rt_defer_node *n = first; n != last; n = rt_defer_wait_next(n))
		;
	RT_DEFER_TSAN_TAKE();
	return first;
#endif
}

#endif /* RTHEAP_DEFER_H */
