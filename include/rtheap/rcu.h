/* SPDX-License-Identifier: MIT */
/**
 * @file rcu.h
 * RCU-deferred release (built when the library has liburcu:
 * RTHEAP_HAVE_URCU in rtheap/config.h).
 *
 * Lock-free readers under rcu_read_lock() may still be reading an old
 * version of a shared structure after a writer replaced it: the writer
 * hands the old block to rtheap_free_rcu() (or rtheap_free_rcu_head(),
 * with a link inside the object, as the kernel's kfree_rcu), which only
 * queues it, in bounded time and without a system call.  A reclaimer
 * thread of the library (SCHED_OTHER, one per heap) takes the queue, waits
 * for one grace period for the whole batch (cfg->synchronize, by default
 * urcu_memb_synchronize_rcu), then releases every block of the batch.
 *
 *   RT writer:  p = new; rcu_assign_pointer(gp, p); rtheap_free_rcu(h, old);
 *                                     | wait-free enqueue
 *   reclaimer:  take the queue -> synchronize() -> rtheap_free(each)
 *
 * Readers use the flavour of cfg->synchronize: with the default,
 * <urcu/urcu-memb.h> (urcu_memb_read_lock / urcu_memb_read_unlock, every
 * reader thread registered with urcu_memb_register_thread) or <urcu.h>.
 * A qsbr program passes urcu_qsbr_synchronize_rcu.  The reclaimer never
 * runs in the caller's thread: no real-time thread waits for a grace
 * period.
 *
 * A heap is found by its address in a process-local table of
 * RTHEAP_RCU_MAX_HEAPS entries: a heap in shared memory has its own
 * reclaimer in each process that calls rtheap_rcu_start() on it.  The heap
 * must have a lock (RTHEAP_LOCK_PI_MUTEX or RTHEAP_LOCK_SPIN): the
 * reclaimer releases blocks concurrently with the program.
 */
#ifndef RTHEAP_RCU_H
#define RTHEAP_RCU_H

#include <stdint.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Heaps that may have a reclaimer at once in one process. */
#define RTHEAP_RCU_MAX_HEAPS 8

/** Default of rtheap_rcu_config.period_us: the reclaimer looks at the
 * queue every millisecond when nothing wakes it. */
#define RTHEAP_RCU_PERIOD_US 1000u

/** Settings of rtheap_rcu_start(); zero-initialise, set what you need. */
struct rtheap_rcu_config {
	/** Wait for a grace period of the readers' flavour; NULL:
	 * urcu_memb_synchronize_rcu.  Called from the reclaimer only. */
	void (*synchronize)(void);
	/** How often the reclaimer looks at the queue when nothing wakes it,
	 * in microseconds; 0: RTHEAP_RCU_PERIOD_US.  At most 1000000. */
	unsigned period_us;
};

/** Link of rtheap_free_rcu_head(): inside the object, as the kernel's
 * rcu_head; readers must not use its bytes once it is queued. */
struct rtheap_rcu_head {
	void *opaque_[2];
};

/** Counters of a heap's reclaimer (rtheap_rcu_get_stats()). */
struct rtheap_rcu_stats {
	uint64_t queued;        /**< blocks queued (both calls) */
	uint64_t released;      /**< blocks released after their grace period */
	uint64_t errors;        /**< queued blocks the heap refused to release
	                         *   (released twice: see rtheap_free_rcu()) */
	uint64_t grace_periods; /**< calls of cfg->synchronize (one per batch) */
	uint64_t batches_max;   /**< most blocks released after one grace period */
	uint64_t pending;       /**< queued, not yet released or refused, now */
	uint64_t max_pending;   /**< the most pending seen by the reclaimer */
	uint64_t nomem;         /**< rtheap_free_rcu() calls refused: -ENOMEM */
	uint64_t refused;       /**< rtheap_free_rcu*() calls refused for a bad
	                         *   pointer or head, or by a broken shared
	                         *   heap (nothing queued) */
};

/**
 * Start the reclaimer of @p heap: a thread (SCHED_OTHER, whatever the
 * caller's policy) that releases the blocks queued by rtheap_free_rcu*()
 * after a grace period.
 * @param cfg NULL for the defaults (memb flavour, 1 ms period).
 * @return 0; -EINVAL: unusable heap, a heap without a lock
 *         (RTHEAP_LOCK_NONE) or period_us above 1000000; -EBUSY: already
 *         started for this heap in this process; -ENOSPC: RTHEAP_RCU_MAX_HEAPS
 *         heaps already have one; or the error of pthread_create (-EAGAIN).
 * Bound: O(RTHEAP_RCU_MAX_HEAPS) plus a thread creation.
 * Context: not RT (creates a thread).
 */
int rtheap_rcu_start(rtheap_t *heap, const struct rtheap_rcu_config *cfg);

/**
 * Release @p ptr after a grace period: every reader inside a read-side
 * critical section when this is called may still read the block until
 * it ends.  The block is checked now (exactly as rtheap_check_block());
 * a link node of 2 words is taken from @p heap and queued (wait-free).
 * A NULL @p ptr does nothing and returns 0, as rtheap_free().
 *
 * A block queued twice before its release is released once: the heap
 * refuses the second release (reported to the heap's error callback as a
 * double release; counted in the heap's errors and in stats.errors).  If
 * the block is allocated again between the two releases, the second one
 * releases the new owner's block, as any double free: a caller bug that
 * is caught only when both releases meet in one batch.
 *
 * @return 0; -ENODEV: rtheap_rcu_start() was not called for @p heap in this
 *         process (or it was stopped); -EFAULT: @p ptr outside every
 *         extent; -EINVAL: @p ptr is not the start of a live block (or an
 *         unusable heap); -ENOMEM: no room for the link node (use
 *         rtheap_free_rcu_head()); -ENOTRECOVERABLE: a process-shared
 *         heap broken by a dead lock owner (counted in refused).  Errors
 *         change nothing.
 * Bound: O(RTHEAP_RCU_MAX_HEAPS) table search (8 loads), the block check
 *        (O(log E)) and one allocation of the smallest size in one heap
 *        lock section, one atomic increment and one atomic exchange.
 *        No system call, no wait for the reclaimer.
 * Context: RT-safe.  Not concurrently with rtheap_rcu_stop() on @p heap.
 */
int rtheap_free_rcu(rtheap_t *heap, void *ptr);

/**
 * As rtheap_free_rcu(), linking the block through @p head, which must lie
 * inside the block (as the kernel's kfree_rcu(ptr, field)): no allocation.
 * The head's bytes are overwritten now; the rest of the block is left as
 * it is for the readers.  Queueing the same head twice before its release
 * corrupts the queue (as call_rcu twice on one rcu_head), and so does any
 * second release of a block queued with its head (by rtheap_free_rcu*() or
 * rtheap_free()): the head would be read after its block was released.
 * Not detected: the double release of rtheap_free_rcu() is caught only
 * when no head is involved.
 * @return 0; -ENODEV, -EFAULT, -EINVAL as rtheap_free_rcu(); -EINVAL also
 *         when @p head is NULL, not aligned to a pointer or not wholly
 *         inside the block.  Cannot fail for a valid block and head once
 *         the reclaimer is started.
 * Bound: as rtheap_free_rcu() without the allocation.  Context: RT-safe.
 */
int rtheap_free_rcu_head(rtheap_t *heap, void *ptr, struct rtheap_rcu_head *head);

/**
 * Wait until every block queued on @p heap before the call is released
 * (or refused): queues a marker behind them, wakes the reclaimer and waits
 * for it to pass the marker (at least one grace period).
 * @return 0; -ENODEV: no reclaimer for @p heap.
 * Bound: none (a grace period and the releases).  Context: not RT; not
 * from a read-side critical section (it would never end) nor from
 * cfg->synchronize; any number of threads at once, but not concurrently
 * with rtheap_rcu_stop() on @p heap.
 */
int rtheap_rcu_barrier(rtheap_t *heap);

/**
 * rtheap_rcu_barrier(), then stop and join the reclaimer; @p heap may
 * then be started again or destroyed.  No rtheap_free_rcu*() on @p heap may
 * run concurrently with this call or after it (they get -ENODEV once it
 * returned).
 * @return 0; -ENODEV: no reclaimer for @p heap.
 * Bound: none.  Context: not RT.
 */
int rtheap_rcu_stop(rtheap_t *heap);

/**
 * Copy the counters of @p heap's reclaimer into @p st.
 * @return 0; -ENODEV: no reclaimer for @p heap; -EINVAL: NULL @p st.
 * The counters are read one by one (relaxed): while blocks are queued or
 * released they may not add up; once quiet, queued == released + errors
 * + pending.
 * Bound: O(RTHEAP_RCU_MAX_HEAPS).  Context: RT-safe (atomic loads); not
 * concurrently with rtheap_rcu_stop() on @p heap.
 */
int rtheap_rcu_get_stats(rtheap_t *heap, struct rtheap_rcu_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_RCU_H */
