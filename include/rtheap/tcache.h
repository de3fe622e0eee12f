/* SPDX-License-Identifier: MIT */
/*
 * rtheap/tcache.h -- per-thread caches in front of a heap, still bounded.
 *
 * A per-thread cache (rttcache_t) keeps, for every calling thread, a bin
 * of free blocks per power-of-two class (16 B .. max_size).  Allocation
 * pops a block from the calling thread's bin, release pushes it: no lock
 * and no atomic read-modify-write.  When a bin is empty, one refill takes
 * a full magazine of `batch` blocks from the class's shared depot (a
 * wait-free queue of liburcu, urcu/wfcqueue.h), or else `batch` blocks
 * from the heap under ONE heap lock; when a bin is full (2 * batch
 * blocks), one flush moves `batch` blocks as a magazine to the depot
 * (wait-free enqueue), or, if the depot holds its maximum, back to the
 * heap under one heap lock.  A block released by another thread than the
 * one that allocated it is cached by the releasing thread: producer /
 * consumer flows go through the depot (the consumer's full magazines are
 * the producer's refills).
 *
 * Worst case of every real-time call: its fast path plus ONE batch,
 * RTTCACHE_WORST_BATCH(batch) single heap operations under one heap lock
 * (docs/errors.md, section "Per-thread caches"; the design and figures are
 * in the concurrency documentation).
 *
 * Memory held per thread and cache: at most 2 * batch blocks per class,
 * i.e. at most 2 * batch * (2 * max_size - 16) bytes, plus
 * depot * batch blocks per class in the shared depot; both are counted in
 * rttcache_get_stats().  rtheap_check() sees the cache (registered with
 * its heap): every cached block must be a live block of its class.
 *
 * Fast paths (x86-64, gcc -O2): rttcache_alloc 29 instructions, rttcache_free
 * 40 (the release finds the block's class in the page map, lock-free, and
 * checks for an interior pointer and a double release).  Under a memory
 * checker (ASan, Memcheck) and in checked mode every call takes the slow
 * path (cached blocks are poisoned except their first two words).
 *
 * fork(): the child keeps the forking thread's state; the other threads'
 * states stay registered with their blocks (counted, never used).
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context";
 * a call that reports an error changes nothing).
 *
 * Threads: the first call of a thread on a cache creates that thread's
 * state (one heap block, a mutex-protected registration: not real-time;
 * call rttcache_thread_init() at thread start to take that cost there).
 * At thread exit, a thread's cached blocks go back to the heap (pthread
 * key destructor).  Available only when the library is built with
 * liburcu (RTHEAP_HAVE_URCU in rtheap/config.h).
 */
#ifndef RTHEAP_TCACHE_H
#define RTHEAP_TCACHE_H

#include <stddef.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A per-thread cache set on one heap (opaque; allocated from its heap). */
typedef struct rttcache rttcache_t;

/** Largest max_size (bytes): classes 16 B .. 64 KiB. */
#define RTTCACHE_MAX_SIZE 65536u
/** Number of classes up to RTTCACHE_MAX_SIZE (16 << c, c < 13). */
#define RTTCACHE_NR_CLASSES 13u
/** Largest batch (blocks per refill / flush / magazine). */
#define RTTCACHE_MAX_BATCH 64u
/** Largest depot (full magazines kept per class). */
#define RTTCACHE_MAX_DEPOT 1024u
/** Default depot (full magazines kept per class). */
#define RTTCACHE_DEFAULT_DEPOT 8u
/** Caches that may exist at once in a process (create: EMFILE beyond). */
#define RTTCACHE_MAX_CACHES 16u
/** Worst case of any real-time call, in single heap operations (each
 *  bounded as rtheap_alloc() / rtheap_free()) under one heap lock:
 *  a refill or a flush of one batch. */
#define RTTCACHE_WORST_BATCH(batch) (batch)

/** Flags of rttcache_config. */
enum rttcache_flags {
	/** Checked mode: every rttcache_free() first validates the block with
	 *  rtheap_check_block() (heap lock: not a fast path), so a double
	 *  release of a block already given back to the heap is caught.
	 *  Automatic when the heap has RTHEAP_F_DEBUG_FILL. */
	RTTCACHE_CHECKED = 1u << 0,
};

/** Creation settings.  Zero-initialise, then set what you need. */
struct rttcache_config {
	/** Largest request served by the caches: a power of two in
	 *  [16, RTTCACHE_MAX_SIZE]; 0 = 1024.  Larger requests go straight to
	 *  rtheap_alloc(). */
	size_t max_size;
	/** Blocks per refill / flush / magazine: 1..RTTCACHE_MAX_BATCH;
	 *  0 = 16.  A bin holds at most 2 * batch blocks. */
	unsigned batch;
	/** Full magazines kept per class in the shared depot:
	 *  0..RTTCACHE_MAX_DEPOT; 0 = RTTCACHE_DEFAULT_DEPOT. */
	unsigned depot;
	/** Bitwise OR of enum rttcache_flags. */
	unsigned flags;
};

/** Statistics (rttcache_get_stats()).  Counters read while other threads
 *  run are each exact at some instant, not one snapshot. */
struct rttcache_stats {
	size_t max_size;        /**< settings in use */
	unsigned batch, depot;
	size_t threads;         /**< threads with a state on this cache now */
	size_t cached_blocks;   /**< blocks held: threads' bins + depot */
	size_t cached_bytes;    /**< their bytes (class sizes) */
	size_t thread_blocks;   /**< of which in the threads' bins */
	size_t depot_blocks;    /**< of which in the depot */
	size_t depot_magazines; /**< full magazines in the depot */
	size_t class_cached[RTTCACHE_NR_CLASSES]; /**< blocks held, by class */
	size_t refills;         /**< refills (bin was empty) */
	size_t flushes;         /**< flushes (bin was full) + rttcache_flush() */
	size_t depot_puts;      /**< magazines enqueued into the depot */
	size_t depot_gets;      /**< magazines taken from the depot */
	size_t heap_batches;    /**< batch calls into the heap (alloc + free) */
	size_t failures;        /**< allocations that returned NULL */
	size_t errors;          /**< misuses reported by rttcache_free() */
	size_t double_frees;    /**< of which double releases seen by the key */
	size_t thread_exits;    /**< thread states given back at thread exit */
};

/**
 * Create a per-thread cache set on @p heap (@p cfg NULL: defaults).
 * Its descriptor and magazine pool are one heap block; it is registered
 * with the heap (rtheap_check(), rtheap_dump()).
 * @return the cache, or NULL with errno: EINVAL (unusable heap, a setting
 *         out of range), ENOMEM (the heap cannot hold the descriptor),
 *         ENOTRECOVERABLE (a process-shared heap broken by a dead lock
 *         owner), EMFILE (RTTCACHE_MAX_CACHES caches exist), EAGAIN (no
 *         pthread key left).
 * Bound: O(classes * depot) initialisation.  Context: set-up, not RT.
 */
rttcache_t *rttcache_create(rtheap_t *heap, const struct rttcache_config *cfg);

/**
 * Destroy the cache: every cached block (every thread's bins and the
 * depot) goes back to the heap, then the descriptor.  No thread may use
 * the cache meanwhile or afterwards (their states are released here; a
 * thread's later exit does nothing for it).
 * @return 0; -EINVAL: NULL cache (nothing changes); -ENOTRECOVERABLE:
 *         the heap is a process-shared heap broken by a dead lock owner
 *         (the cache is destroyed, its blocks and descriptor stay in the
 *         broken heap).  A pointer that is
 *         not a live cache (a destroyed one included) is undefined
 *         behaviour for every call, as a released block is for
 *         rtheap_free(): the fast paths check NULL only.
 * Bound: O(threads * classes * batch + classes * depot * batch).
 * Context: set-up, not RT.
 */
int rttcache_destroy(rttcache_t *tc);

/**
 * Allocate @p size bytes (0: NULL, errno unchanged, as rtheap_alloc()).
 * Up to max_size: from the calling thread's bin of class
 * max(16, next power of two of size); the block holds the whole class.
 * Above max_size: rtheap_alloc(heap, size).
 * @return the block, or NULL with errno ENOMEM (counted in failures;
 *         the heap's low-memory callback ran), ENOTRECOVERABLE (a
 *         process-shared heap broken by a dead lock owner, when the call
 *         needs the heap; counted in failures, the heap not touched), or
 *         EINVAL (NULL cache).
 * Bound: fast path (pop, no lock, no atomic read-modify-write); on an
 *        empty bin plus one refill: one depot dequeue (O(1)) or
 *        RTTCACHE_WORST_BATCH(batch) heap allocations under one heap lock.
 *        A thread's first call also creates its state (not RT:
 *        rttcache_thread_init()).
 * Context: RT-safe after rttcache_thread_init() in the calling thread.
 */
void *rttcache_alloc(rttcache_t *tc, size_t size);

/**
 * Release @p ptr, a block of the cache's heap (from rttcache_alloc() of
 * any thread, or rtheap_alloc()).  NULL: 0.  A block of a cacheable class
 * (a bucket block or a power-of-two page run of at most max_size) goes to
 * the calling thread's bin; others go to rtheap_free().
 * @return 0; -EFAULT: outside every extent of the heap (including a block
 *         of another heap: reported RTHEAP_ERR_FOREIGN); -EINVAL: not the
 *         start of a live block (reported as rtheap_free() reports it), or
 *         a double release of a block held by this cache (the block's key
 *         word: reported RTHEAP_ERR_DOUBLE_FREE, counted in double_frees);
 *         -EINVAL also for a NULL @p tc; -ENOTRECOVERABLE: a broken
 *         process-shared heap, when the call needs the heap (not counted
 *         in errors: not a misuse).  Errors change nothing.  A release
 *         whose flush the broken heap refuses returns 0: the block is
 *         cached, the flushed batch leaves the bin and stays out of the
 *         heap (lost with it).
 *         A double release of a block already back in the heap is only
 *         seen in checked mode (RTTCACHE_CHECKED, RTHEAP_F_DEBUG_FILL).
 * Bound: fast path (map read, push, no lock, no atomic read-modify-write);
 *        on a full bin plus one flush: one wait-free depot enqueue or
 *        RTTCACHE_WORST_BATCH(batch) heap releases under one heap lock.
 *        An address outside the thread's view of the heap: one heap
 *        lookup under the heap lock, O(log E).
 * Context: RT-safe after rttcache_thread_init() in the calling thread.
 */
int rttcache_free(rttcache_t *tc, void *ptr);

/**
 * Give the calling thread's cached blocks back to the heap (one heap lock
 * section per class that holds blocks).  The depot is not touched.
 * @return 0; -EINVAL: NULL cache; -ENOTRECOVERABLE: a process-shared heap
 *         broken by a dead lock owner refused them (the bins are emptied
 *         all the same: the blocks stay out of the heap, lost with it).
 * Bound: O(classes * batch).  Context: RT-safe (bounded), not a fast path.
 */
int rttcache_flush(rttcache_t *tc);

/**
 * Create the calling thread's state now (otherwise the thread's first
 * call does): one heap block and a registration under a mutex.
 * @return 0 (also when it exists); -EINVAL: NULL cache; -ENOMEM;
 *         -ENOTRECOVERABLE: a process-shared heap broken by a dead lock
 *         owner.
 * Bound: O(classes).  Context: thread start-up, not RT.
 */
int rttcache_thread_init(rttcache_t *tc);

/**
 * Statistics of the cache (see struct rttcache_stats).
 * @return 0; -EINVAL: NULL cache or NULL @p st.
 * Bound: O(threads * classes).  Context: not RT (takes the thread-list
 *        mutex).
 */
int rttcache_get_stats(rttcache_t *tc, struct rttcache_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_TCACHE_H */
