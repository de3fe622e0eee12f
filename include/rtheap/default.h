/* SPDX-License-Identifier: MIT */
/*
 * rtheap/default.h -- the process default heap: one heap per process, for
 * the interfaces that take no heap argument (the compatibility headers,
 * kmalloc-style calls, ...).  No set-up call is needed: the first call of
 * rtheap_default() creates it.
 *
 * Memory: anonymous private mappings (mmap MAP_PRIVATE | MAP_ANONYMOUS),
 * locked with mlock() and prefaulted (every page written once), so that
 * no allocation from it takes a page fault.  When mlock() is refused
 * (EPERM: no CAP_IPC_LOCK and a zero RLIMIT_MEMLOCK; ENOMEM: beyond the
 * limit), the memory is used unlocked but still prefaulted, and
 * rtheap_default_stats() says so (locked 0, lock_errno).
 *
 * Size: the first extent holds `initial` bytes (rtheap_default_setup()
 * called before first use, else the environment variable
 * RTHEAP_DEFAULT_SIZE, else RTHEAP_DEFAULT_INITIAL: 8 MiB).  The heap
 * grows by extents of `step` bytes (or more, for a large request) up to
 * `max` bytes mapped in all (0: no limit), and at most RTHEAP_MAX_EXTENTS
 * extents.  Environment values are a decimal number of bytes with an
 * optional suffix K, M or G (powers of 1024): "262144", "256K", "8M".
 *
 * Growth, two ways (docs/default-heap.md):
 *  - a helper thread (SCHED_OTHER, created with the heap, all signals
 *    blocked) is woken by the heap's low-memory callback: when free memory
 *    drops below a quarter of min(initial, step), or when an allocation
 *    fails.  The callback only posts a semaphore, at most once per round
 *    of the helper; the helper maps, locks, prefaults and adds an extent
 *    of max(step, what the failed request needs);
 *  - rtheap_default_grow(), synchronously, for callers that may block.
 *
 * What a real-time thread sees when memory runs out: rtheap_alloc()
 * returns NULL at once (bounded, as always), and the helper is woken.
 * The thread degrades for this cycle and retries in a later one, once the
 * helper has added memory (rtheap_alloc() in rtheap.h, retry pattern).
 * It never waits for the helper and never maps memory itself.  Beyond
 * `max` (or RTHEAP_MAX_EXTENTS extents), allocations keep failing cleanly:
 * NULL, the heap unchanged and consistent, grow_failures counted.
 *
 * fork(): a child works with no set-up call.  Its heap is its own copy of
 * the parent's (private mappings): blocks the parent allocated before the
 * fork are live in the child too and may be freed there.  The heap lock is
 * taken around fork() (pthread_atfork) so that the child's copy is
 * consistent even if other threads were allocating, and set up afresh in
 * the child; the helper thread does not exist in the child and is created
 * again by the child's first call of rtheap_default().  Memory locks are
 * not inherited: the child's heap is resident (it shares the parent's
 * pages, copy on write) but not locked.  In the parent, the first write to
 * each heap page after a fork copies it (a page fault): a real-time
 * process should not fork during its real-time phase (posix_spawn does
 * not copy it).  Do not call fork() from a heap callback.
 *
 * Teardown: none.  The mappings live until the process ends; nothing is
 * unmapped at exit, so that atexit handlers and destructors that run late
 * may still use and free blocks of the default heap.  Never pass
 * rtheap_default() to rtheap_destroy().
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context").
 */
#ifndef RTHEAP_DEFAULT_H
#define RTHEAP_DEFAULT_H

#include <stddef.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Initial size when neither rtheap_default_setup() nor the environment
 *  gives one: 8 MiB. */
#define RTHEAP_DEFAULT_INITIAL ((size_t)8 << 20)
/** Smallest initial size, step and maximum accepted: 64 KiB. */
#define RTHEAP_DEFAULT_MIN ((size_t)64 << 10)

/** Flags of rtheap_default_setup(). */
enum rtheap_default_flags {
	/** No helper thread: the heap grows only through
	 *  rtheap_default_grow() (the low-memory callback still counts). */
	RTHEAP_DEFAULT_NOHELPER = 1u << 0,
	/** Create the heap with RTHEAP_F_DEBUG_FILL (not for real-time use). */
	RTHEAP_DEFAULT_DEBUG = 1u << 1,
};

/** Bits of rtheap_default_info.env_ignored: environment variables that
 *  were set but not used (malformed, out of range, or a maximum below the
 *  initial size chosen by rtheap_default_setup()). */
enum rtheap_default_env {
	RTHEAP_DEFAULT_ENV_SIZE = 1u << 0, /**< RTHEAP_DEFAULT_SIZE */
	RTHEAP_DEFAULT_ENV_STEP = 1u << 1, /**< RTHEAP_DEFAULT_STEP */
	RTHEAP_DEFAULT_ENV_MAX = 1u << 2,  /**< RTHEAP_DEFAULT_MAX */
};

/** What rtheap_default_stats() reports.  Sizes in bytes. */
struct rtheap_default_info {
	int created;            /**< the heap exists (in this process) */
	int locked;             /**< every mapped byte is locked (mlock) */
	int helper_running;     /**< the helper thread exists */
	int lock_errno;         /**< errno of the last refused mlock, or 0 */
	unsigned flags;         /**< enum rtheap_default_flags in force */
	unsigned env_ignored;   /**< enum rtheap_default_env bits */
	size_t initial;         /**< settings in force (0 before creation) */
	size_t step;
	size_t max;             /**< 0: no limit */
	size_t threshold;       /**< low-memory threshold, free bytes */
	size_t extents;         /**< extents mapped, the first included */
	size_t bytes_mapped;    /**< sum of the extents' sizes */
	size_t bytes_locked;    /**< of which locked (0 in a forked child) */
	size_t helper_extents;  /**< extents added by the helper thread */
	size_t grow_calls;      /**< calls of rtheap_default_grow() */
	size_t grow_extents;    /**< extents added by rtheap_default_grow() */
	size_t grow_failures;   /**< extensions refused (max, mmap, extent
	                             table full), by the helper or grow */
	size_t lowmem_calls;    /**< low-memory callbacks (crossings and
	                             failed allocations) */
};

/**
 * The process default heap, created by the first call: a mapping of the
 * initial size (see the top of this header), locked and prefaulted,
 * rtheap_init() over it with the priority-inheritance mutex
 * (RTHEAP_LOCK_PI_MUTEX), the default page size and the low-memory
 * callback; then the helper thread, unless RTHEAP_DEFAULT_NOHELPER.
 * Concurrent first calls create one heap; all get the same pointer.
 * Use it with every call of rtheap.h except rtheap_init(),
 * rtheap_destroy() and rtheap_set_lowmem() (the default heap's callback
 * is its growth).
 * @return the heap, or NULL with errno set (ENOMEM: even the initial
 *         mapping failed; a later call tries again).  A helper thread that
 *         could not be created is not an error (the heap then grows only
 *         through rtheap_default_grow(); helper_running is 0).
 * Bound: after the first call, O(1): two atomic loads.  The first call
 *        maps and touches the initial size (O(initial / system page)).
 * Context: RT-safe after the first call in the process, and after the
 *          first call in a forked child (which creates the child's helper
 *          thread); the first call is not RT-safe (mmap, mlock, page
 *          faults, pthread_create): make it during set-up.
 */
rtheap_t *rtheap_default(void);

/**
 * Choose the settings of the default heap before its first use.  A zero
 * argument means "from the environment, else the default" (initial:
 * RTHEAP_DEFAULT_SIZE, else 8 MiB; step: RTHEAP_DEFAULT_STEP, else the
 * initial size; max: RTHEAP_DEFAULT_MAX, else no limit).  Sizes are
 * rounded up to the system page size.  An initial size that comes from
 * the environment or the default is cut down to @p max.  Calling it again
 * before first use replaces the earlier settings.
 * @param initial bytes of the first extent
 * @param step    bytes of each later extent (a larger failed request gets
 *                an extent that serves it)
 * @param max     bytes mapped in all, the first extent included
 * @param flags   enum rtheap_default_flags
 * @return 0; -EBUSY: the heap exists already (or is being created);
 *         -EINVAL: unknown flags, @p initial or @p step nonzero and below
 *         RTHEAP_DEFAULT_MIN or above what one extent can hold
 *         (RTHEAP_MAX_EXTENT_PAGES pages of 256 bytes, or SIZE_MAX / 4),
 *         @p max nonzero and below RTHEAP_DEFAULT_MIN or below a nonzero
 *         @p initial.  Errors change nothing.
 * Bound: O(1).  Context: not RT (takes the set-up mutex).
 */
int rtheap_default_setup(size_t initial, size_t step, size_t max,
                         unsigned flags);

/**
 * Add an extent so that a request of @p need bytes can be served:
 * max(step, RTHEAP_BUFFER_SIZE(need, page)) bytes, cut down to what is
 * left under max (still enough for @p need), mapped, locked (if
 * permitted) and prefaulted, then rtheap_extend().  When the heap can
 * already serve @p need (its largest free run holds it), nothing is
 * mapped and 0 is returned.  @p need 0 adds one extent of `step` bytes
 * (or what is left under max) unconditionally.  Creates the heap first if
 * it does not exist.  Serialised with the helper thread: if the helper
 * was adding memory, the call waits and usually finds the request
 * servable.  Other threads may take the new memory before the caller's
 * retry: retry in a loop with a deadline.
 * @return 0; -EINVAL: @p need above what one extent can hold (see
 *         rtheap_default_setup()); -ENOMEM: the extent would pass max, or
 *         mmap failed, or the heap could not be created; -ENOSPC: the heap
 *         has RTHEAP_MAX_EXTENTS extents.  Errors change nothing (and are
 *         counted in grow_failures, except -EINVAL).
 * Bound: O(extent size / system page) for mapping and touching, plus
 *        waiting for an extension under way.
 * Context: not RT (mmap, mlock, page faults, a mutex held across them):
 *          for the may-wait allocation paths.
 */
int rtheap_default_grow(size_t need);

/**
 * Fill @p info (see struct rtheap_default_info).  Before the heap exists,
 * created is 0 and every other field is 0.  The counters are read one by
 * one (atomics), not as one snapshot.  rtheap_get_stats(rtheap_default(),
 * ...) gives the heap's own statistics.
 * @return 0, or -EINVAL for a NULL @p info.
 * Bound: O(1).  Context: RT-safe.
 */
int rtheap_default_stats(struct rtheap_default_info *info);

/**
 * rtheap_alloc(rtheap_default(), @p size): NULL also when the default
 * heap cannot be created.
 * Bound, context: as rtheap_default() then rtheap_alloc().
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(1) RTHEAP_WARN_UNUSED
void *rtheap_default_alloc(size_t size);

/**
 * rtheap_free(rtheap_default(), @p ptr): 0 (also for NULL), or as
 * rtheap_free(); -ENOMEM if the default heap cannot be created.
 * Bound, context: as rtheap_default() then rtheap_free().
 */
int rtheap_default_free(void *ptr);

/**
 * rtheap_realloc(rtheap_default(), @p ptr, @p size).  A failed growth
 * wakes the helper thread through the low-memory callback, as a failed
 * rtheap_default_alloc() does: retry in a later cycle.
 * @return as rtheap_realloc(); NULL with errno ENOMEM also when the
 *         default heap cannot be created.
 * Bound, context: as rtheap_default() then rtheap_realloc().
 */
RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtheap_default_realloc(void *ptr, size_t size);

/**
 * rtheap_calloc(rtheap_default(), @p n, @p size).
 * @return as rtheap_calloc(); NULL with errno ENOMEM also when the default
 *         heap cannot be created.
 * Bound, context: as rtheap_default() then rtheap_calloc().
 */
RTHEAP_MALLOC RTHEAP_WARN_UNUSED
void *rtheap_default_calloc(size_t n, size_t size);

/**
 * rtheap_aligned_alloc(rtheap_default(), @p align, @p size): C11's
 * aligned_alloc() on the default heap, any power of two up to
 * RTHEAP_MAX_ALIGN.  A failure above the page size also asks the helper
 * for an extent of @p size + @p align - P bytes (the free run an aligned
 * run needs, more than the @p size the low-memory callback hears of), so
 * that a retry after the helper's round succeeds.
 * @return as rtheap_aligned_alloc(); NULL with errno ENOMEM also when the
 *         default heap cannot be created.
 * Bound, context: as rtheap_default() then rtheap_aligned_alloc().
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtheap_default_aligned_alloc(size_t align, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_DEFAULT_H */
