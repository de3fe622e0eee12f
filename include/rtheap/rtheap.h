/* SPDX-License-Identifier: MIT */
/*
 * rtheap -- a bounded-time, extendable heap for real-time programs.
 *
 * A heap in the McKusick-Karels style (USENIX 1988) made of extents over
 * caller-supplied buffers.  Sub-page requests are served from power-of-two
 * buckets, larger ones from contiguous page runs indexed by a two-level
 * segregated fit.  Every allocation and release costs a constant number of
 * steps, whatever the heap size, the number of free blocks or the history;
 * docs/design.md states each bound and argues it.
 *
 * Conventions used by every function below:
 *  - Errors are returned as negative errno values (-EINVAL, -EFAULT, ...).
 *  - "Bound" is the worst-case work of the call.  P is the heap's page size,
 *    E the number of extents (at most RTHEAP_MAX_EXTENTS).
 *  - "Context" says from where the call may be made.  "RT-safe" means: no
 *    system call, no allocation, no unbounded loop; with the lock mode
 *    RTHEAP_LOCK_PI_MUTEX the call may block on the heap lock for at most
 *    one other bounded heap operation (priority inheritance applies);
 *    with RTHEAP_LOCK_SHARED the same holds across processes, except
 *    for the one call that finds the lock's owner dead: that call checks
 *    the whole heap (O(heap), see "Process-shared heaps").
 *  - A call that reports an error leaves the heap exactly as it was.
 *
 * The library never calls malloc, mmap or any other system allocator: all
 * metadata lives in the extents and in the caller's rtheap_t.
 *
 * Where to find the answers a real-time program needs (docs/realtime.md
 * is the guide, examples/realtime.c the program it describes):
 *  - alignment of buffers and blocks, and buffer sizing: RTHEAP_BUFFER_SIZE,
 *    rtheap_init(), rtheap_alloc(), rtheap_overhead();
 *  - static (.bss) buffers and RTHEAP_F_ZEROED: enum rtheap_flags;
 *  - page faults, mlockall and prefaulting: rtheap_init();
 *  - the low-memory callback (what it may call, threads, cost, threshold
 *    set while already below it): rtheap_lowmem_fn, rtheap_set_lowmem();
 *  - retrying a failed allocation, and how large an extent to add:
 *    rtheap_alloc(), rtheap_extend();
 *  - rtheap_free(heap, NULL): a no-op returning 0, as free(NULL);
 *  - realloc, calloc and aligned_alloc with C's contracts (errno, size 0):
 *    rtheap_realloc(), rtheap_calloc(), rtheap_aligned_alloc();
 *  - compiler attributes: RTHEAP_MALLOC and its neighbours below;
 *  - C++: rtheap/memory_resource.hpp, a std::pmr::memory_resource.
 */
#ifndef RTHEAP_RTHEAP_H
#define RTHEAP_RTHEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rtheap/config.h"

/* ------------------------------------------------------------------ */
/* Attributes                                                          */
/* ------------------------------------------------------------------ */

/*
 * Function attributes that compilers and checkers use (GCC, clang, and
 * tools that read them: -Wall, -fanalyzer, _FORTIFY_SOURCE, sanitizers).
 * Each expands to nothing where the compiler lacks it; define one before
 * including this header to override it (e.g. as nothing).
 *  - RTHEAP_MALLOC: the result aliases no other object (rtheap_alloc,
 *    rtheap_alloc_aligned, rtheap_zalloc);
 *  - RTHEAP_ALLOC_SIZE(i): argument i is the size of the block, so that
 *    __builtin_object_size / _FORTIFY_SOURCE and -Warray-bounds know it.
 *    They know the requested size, not rtheap_usable_size(): use only the
 *    bytes you asked for;
 *  - RTHEAP_WARN_UNUSED: ignoring the result is a bug.  Only on the
 *    allocation functions, where an ignored result is a leak.  Not on
 *    rtheap_free(): its result is diagnostic (an error changes nothing and
 *    is also reported to the error callback), and cleanup code, like
 *    free(NULL)-style code, ignores it; GCC does not let a (void) cast
 *    silence this attribute, so it is kept where ignoring is always wrong.
 *    Not on rtheap_init() and rtheap_extend() either: check them, but a
 *    caller whose arguments cannot fail (a static buffer of
 *    RTHEAP_BUFFER_SIZE() bytes, the default configuration) may ignore
 *    them, and a failure shows anyway (an unusable heap returns NULL from
 *    every allocation; a heap that did not grow calls the low-memory
 *    callback again).
 */
#ifdef __has_attribute
#define RTHEAP_HAS_ATTRIBUTE_(x) __has_attribute(x)
#else
#define RTHEAP_HAS_ATTRIBUTE_(x) 0
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define RTHEAP_GCC_AT_LEAST_(maj, min) \
	(__GNUC__ > (maj) || (__GNUC__ == (maj) && __GNUC_MINOR__ >= (min)))
#else
#define RTHEAP_GCC_AT_LEAST_(maj, min) 0
#endif

#ifndef RTHEAP_MALLOC
#if RTHEAP_HAS_ATTRIBUTE_(__malloc__) || RTHEAP_GCC_AT_LEAST_(3, 0)
#define RTHEAP_MALLOC __attribute__((__malloc__))
#else
#define RTHEAP_MALLOC
#endif
#endif

#ifndef RTHEAP_ALLOC_SIZE
#if RTHEAP_HAS_ATTRIBUTE_(__alloc_size__) || RTHEAP_GCC_AT_LEAST_(4, 3)
#define RTHEAP_ALLOC_SIZE(i) __attribute__((__alloc_size__(i)))
#else
#define RTHEAP_ALLOC_SIZE(i)
#endif
#endif

#ifndef RTHEAP_WARN_UNUSED
#if RTHEAP_HAS_ATTRIBUTE_(__warn_unused_result__) || RTHEAP_GCC_AT_LEAST_(3, 4)
#define RTHEAP_WARN_UNUSED __attribute__((__warn_unused_result__))
#else
#define RTHEAP_WARN_UNUSED
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Limits and sizing                                                   */
/* ------------------------------------------------------------------ */

/**
 * Smallest block handed out (bytes); every block is aligned to at least
 * this, whatever the alignment of the buffers (see rtheap_alloc() for the
 * alignment of each block).
 */
#define RTHEAP_MIN_BLOCK 16u
/** Smallest internal page size.  Smaller requested sizes are rounded up. */
#define RTHEAP_MIN_PAGE 256u
/** Largest page size accepted. */
#define RTHEAP_MAX_PAGE 32768u
/** Default page size: chosen for fill efficiency, see docs/design.md. */
#define RTHEAP_DEFAULT_PAGE 256u
/** Largest number of pages in one extent (run lengths are 29-bit). */
#define RTHEAP_MAX_EXTENT_PAGES ((1u << 29) - 1u)

/**
 * Largest alignment rtheap_aligned_alloc() accepts: 1 GiB, the largest
 * huge page of common hardware.  The cost of an aligned allocation does
 * not depend on its alignment (rtheap_alloc_aligned()), only the free run
 * it needs grows with it.
 */
#define RTHEAP_MAX_ALIGN ((size_t)1 << 30)

/** Bytes of the fixed extent header at the start of every extent buffer. */
#define RTHEAP_EXTENT_HDR 256u

/**
 * Bytes of page-map metadata per page: a 32-bit entry, plus, for pages
 * larger than RTHEAP_MIN_PAGE, a block bitmap of P/128 bytes so that bucket
 * pages holding more than 16 blocks can be tracked exactly.
 */
#define RTHEAP_MAP_BYTES(page) \
	(4u + ((page) > RTHEAP_MIN_PAGE ? (page) / 128u : 0u))

/** Pages of an extent offering @p usable bytes: rounded up, at least 2. */
#define RTHEAP_PAGES_FOR(usable, page)                                        \
	(((size_t)(usable) + (page) - 1u) / (page) < 2u                        \
		 ? (size_t)2                                                   \
		 : ((size_t)(usable) + (page) - 1u) / (page))

/**
 * Buffer size, in bytes, that is enough for an extent offering @p usable
 * bytes of page array (rounded up to whole pages, at least two) with page
 * size @p page (a power of two in [RTHEAP_MIN_PAGE, RTHEAP_MAX_PAGE]),
 * whatever the buffer's alignment (the extra page pays for the worst
 * alignment).  A compile-time constant when its arguments are.  The caller
 * keeps @p usable far below SIZE_MAX: the sum is not checked for overflow.
 *
 * The buffer needs 8-byte alignment only.  The page array inside it is
 * aligned to the page size in absolute terms, so the alignment of the
 * blocks never depends on the buffer's.  A buffer of this size holds
 * exactly RTHEAP_PAGES_FOR(usable, page) pages at any 8-byte alignment, so
 * aligning it further (to 64 bytes, or to the page size) gains no page:
 * the padding before the page array is always less than a page and this
 * size already pays for it.  Aligning it to 64 bytes only keeps the map on
 * cache-line boundaries.  Aligning to the page size matters when you size
 * a buffer with rtheap_overhead(), which assumes it.
 *
 * For a request of @p n bytes that failed, an extent of
 * RTHEAP_BUFFER_SIZE(n, page) serves it (see rtheap_extend()).
 */
#define RTHEAP_BUFFER_SIZE(usable, page)                                      \
	((size_t)RTHEAP_EXTENT_HDR +                                          \
	 RTHEAP_PAGES_FOR(usable, page) *                                      \
		 ((size_t)(page) + RTHEAP_MAP_BYTES(page)) +                   \
	 (size_t)(page))

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/**
 * The heap descriptor.  A complete type so that callers can place it
 * anywhere (static, stack, shared memory); its content is private.
 * Name it rtheap_t.  Its tag is not "rtheap": in C++ a class of that name
 * would forbid the namespace rtheap (rtheap/memory_resource.hpp).
 */
typedef struct rtheap_s {
	uint64_t opaque_[RTHEAP_DESC_WORDS];
} rtheap_t;

/** Lock protecting the heap, chosen at init. */
typedef enum rtheap_lock_mode {
	/** pthread mutex with PTHREAD_PRIO_INHERIT: the default, right under PREEMPT_RT. */
	RTHEAP_LOCK_PI_MUTEX = 0,
	/** No lock: the caller guarantees single-threaded use.  Fastest. */
	RTHEAP_LOCK_NONE = 1,
	/** Busy-wait spinlock: for threads pinned on distinct CPUs only. */
	RTHEAP_LOCK_SPIN = 2,
	/**
	 * A heap shared by processes: a process-shared (PTHREAD_PROCESS_SHARED),
	 * priority-inheriting (PTHREAD_PRIO_INHERIT), robust
	 * (PTHREAD_MUTEX_ROBUST) mutex in the descriptor.  rtheap_init()
	 * returns -ENOTSUP where the system refuses such a mutex.  See
	 * "Process-shared heaps" below for the address rule, rtheap_attach()
	 * and the recovery when a process dies holding the lock.
	 */
	RTHEAP_LOCK_SHARED = 3,
} rtheap_lock_mode_t;

/*
 * Process-shared heaps (RTHEAP_LOCK_SHARED)
 * ------------------------------------------
 * The address rule: the heap stores plain pointers (to its extents, its
 * list nodes, its blocks), so every process that uses the heap maps ALL of
 * its memory, the descriptor and every extent buffer, at the same address
 * as the process that created it.  Two ways to meet it:
 *  - fork(): a child inherits a MAP_SHARED mapping at the same address;
 *  - an unrelated process maps the shared object (shm_open, a file,
 *    memfd) at the creator's address with MAP_FIXED_NOREPLACE (the
 *    creator publishes the address, e.g. in the first bytes of the
 *    object).
 * Every other process calls rtheap_attach() once before its first call on
 * the heap: it checks the descriptor (this ABI, this lock mode) and that
 * the descriptor and the extents are at the addresses they were created
 * at.  An extent added later by rtheap_extend() must be mapped by every
 * process, at the same address, before any of them can meet its blocks.
 * Blocks may be passed between processes freely (allocate in one, release
 * in another): a block is an address valid in all of them.
 *
 * What is not shared:
 *  - callbacks (rtheap_set_error_handler(), rtheap_set_lowmem()) are code
 *    addresses of the process that set them: valid in the processes that
 *    run the same executable image at the same load addresses, that is
 *    its fork() children.  A process whose copy of the library is loaded
 *    elsewhere (another executable, another exec of the same one under
 *    ASLR) never calls them: it uses the default misuse handler (which
 *    records in the descriptor) and no low-memory callback.  The check
 *    compares the address of an object of the library, so it cannot see
 *    an executable that differs while the library is at the same address
 *    (static linking without PIE): in such a setup set no callbacks;
 *  - rtheap_config.name is a pointer too: NULL, or a string at the same
 *    address in every process (inside the shared mapping);
 *  - the layers (object caches, pools, regions, per-CPU and class heaps,
 *    rtheap_default()) are process-local objects: create them per
 *    process on the shared heap if needed, never share their handles;
 *    their own locks are private to the process;
 *  - memory checkers (AddressSanitizer, valgrind's Memcheck) keep their
 *    state per process: a block allocated in another process looks free
 *    to this one's checker.  Under a checker, the process that receives a
 *    block marks it live first, e.g. ASAN_UNPOISON_MEMORY_REGION(p,
 *    rtheap_usable_size(heap, p)) or VALGRIND_MAKE_MEM_DEFINED (all the
 *    processes of a heap run under the same checkers: rtheap_attach()).
 *
 * Recovery: when a process dies holding the heap lock, the next call of
 * any process that takes the lock meets EOWNERDEAD.  Under the lock it runs
 * the full integrity check of rtheap_check() (O(total pages + free runs +
 * bucket pages), the bound of that one call, instead of O(1)); a report
 * the dead process had not delivered is dropped.
 *  - The heap is whole (the process died between two operations, or in a
 *    read-only part of one): the mutex is marked consistent, the death is
 *    counted (rtheap_stats.owner_deaths), the lock is released and the
 *    error callback hears RTHEAP_ERR_OWNER_DIED (addr: the descriptor);
 *    then the call takes the lock again and goes on as usual.
 *  - The check fails (the process died in the middle of a change): the
 *    heap is marked broken in the descriptor, for every process; the
 *    mutex is still marked consistent so that nobody waits for ever; the
 *    error callback hears RTHEAP_ERR_BROKEN (addr: where the check failed)
 *    and, from then on, every call fails at once and exactly (docs/
 *    errors.md): allocations return NULL with errno ENOTRECOVERABLE,
 *    rtheap_free() and the other int calls -ENOTRECOVERABLE,
 *    rtheap_check() -EUCLEAN, rtheap_usable_size() 0.  Blocks already
 *    handed out stay usable memory; the heap is never repaired: destroy
 *    it and build a new one.  The same failures follow when the mutex
 *    itself reports ENOTRECOVERABLE (or refuses to lock at all).
 * A death that happens while no process holds the lock costs nothing.
 * Blocks the dead process held stay allocated (leaked, visible in the
 * statistics) unless another process releases them.
 */

/** Flags for rtheap_config.flags and rtheap_extend(). */
enum rtheap_flags {
	/**
	 * The buffer is known to be zero-filled (for instance fresh anonymous
	 * mmap memory): init/extend skip clearing the page map and become O(1).
	 * Passing it for a buffer that is not zero-filled corrupts the heap.
	 *
	 * Precisely: only the page map must read as zero, that is bytes
	 * [RTHEAP_EXTENT_HDR, RTHEAP_EXTENT_HDR + 4 * npages) of the buffer
	 * (at most RTHEAP_EXTENT_HDR + 4 * size / page bytes from its start);
	 * the header is written by init/extend and the page array may hold
	 * anything.  Qualifies: a static-storage object (.bss, or initialised
	 * with zeros) that nothing has written since the program started;
	 * fresh MAP_ANONYMOUS memory; memory the program cleared itself (a
	 * memset(0) to prefault it keeps it zero-filled).  Does not qualify:
	 * a buffer once used by a destroyed heap (destroy leaves the map as
	 * it was), a reused stack or a recycled malloc block.
	 */
	RTHEAP_F_ZEROED = 1u << 0,
	/** Fill fresh blocks with 0xA5 and freed blocks with 0xDD (debug aid).
	 *  Not for real-time use: allocation and release then also cost time
	 *  proportional to the block's rounded size (the pattern is written
	 *  and verified over the whole block: a 4000-page run costs hundreds
	 *  of thousands of cycles). */
	RTHEAP_F_DEBUG_FILL = 1u << 1,
	/** Abort the process when a misuse (bad free, corruption) is detected. */
	RTHEAP_F_ABORT_ON_ERROR = 1u << 2,
};

/** Init-time configuration.  Zero-initialise, then set what you need. */
struct rtheap_config {
	/** Page size in bytes: a power of two, 8..RTHEAP_MAX_PAGE; 0 = default.
	 *  Values below RTHEAP_MIN_PAGE are rounded up to it; others (1, 2, 4,
	 *  non powers of two, above the maximum) are -EINVAL. */
	size_t page_size;
	/** Lock mode (default RTHEAP_LOCK_PI_MUTEX). */
	rtheap_lock_mode_t lock;
	/** Bitwise OR of enum rtheap_flags. */
	unsigned flags;
	/** Optional name shown in diagnostics (not copied; may be NULL). */
	const char *name;
};

/** Number of bucket classes: 16 B .. RTHEAP_MAX_PAGE/2. */
#define RTHEAP_NR_CLASSES 11

/** Heap statistics (a consistent snapshot taken under the lock). */
struct rtheap_stats {
	size_t page_size;         /**< page size in use */
	size_t extents;           /**< number of extents */
	size_t size;              /**< sum of the extent buffer sizes */
	size_t usable;            /**< bytes in page arrays (what blocks can use) */
	size_t used;              /**< bytes held by live blocks (rounded sizes) */
	size_t free;              /**< usable - used */
	size_t peak_used;         /**< highest value of used since init */
	size_t largest_free;      /**< a run of this many bytes is free now and
	                               an allocation of this size succeeds (the
	                               good fit of rtheap_alloc()); less than the
	                               true largest free run by under 1/16 of it */
	size_t free_runs;         /**< number of free page runs */
	size_t pages_bucket;      /**< pages split into bucket blocks */
	size_t pages_run;         /**< pages held by multi-page / page blocks */
	size_t pages_owned;       /**< pages of runs held by layers (object
	                               caches' slabs, rtheap/cache.h); each
	                               such run counts as one live block */
	size_t live_blocks;       /**< live blocks of every kind */
	size_t alloc_calls;       /**< successful allocations since init */
	size_t free_calls;        /**< successful releases since init */
	size_t failed_allocs;     /**< allocations that returned NULL */
	size_t errors;            /**< misuses detected (bad frees, ...) */
	size_t owner_deaths;      /**< RTHEAP_LOCK_SHARED: processes that died
	                               holding the lock and left the heap whole
	                               (recovered, RTHEAP_ERR_OWNER_DIED) */
	/** Per bucket class c (block size 16 << c): live blocks and pages. */
	size_t class_live[RTHEAP_NR_CLASSES];
	size_t class_pages[RTHEAP_NR_CLASSES];
};

/** Where rtheap_check() found an inconsistency. */
struct rtheap_fault {
	const char *what;    /**< static description, e.g. "free run tail mismatch" */
	const void *addr;    /**< address concerned (page, block or descriptor) */
	int extent;          /**< extent index, or -1 */
	long page;           /**< page index inside the extent, or -1 */
};

/** Kinds of misuse reported to the error callback. */
typedef enum rtheap_error_kind {
	RTHEAP_ERR_FOREIGN = 1,    /**< address outside every extent */
	RTHEAP_ERR_NOT_BLOCK,      /**< inside the heap, not the start of a block */
	RTHEAP_ERR_DOUBLE_FREE,    /**< a free bucket block, or the first or
	                                last page of a free run (where a freed
	                                block began): most likely a double free */
	RTHEAP_ERR_USE_AFTER_FREE, /**< debug fill pattern overwritten after free;
	                                addr is the start of the written bucket
	                                block (its class: rtheap_usable_size() of
	                                the address once handed out), or the first
	                                modified byte of a free page */
	RTHEAP_ERR_CORRUPT,        /**< metadata inconsistency detected */
	RTHEAP_ERR_OWNER_DIED,     /**< RTHEAP_LOCK_SHARED: a process died
	                                holding the heap lock; the heap was
	                                checked, found whole and recovered
	                                (addr: the descriptor).  Not a misuse:
	                                not counted in errors, no abort with
	                                RTHEAP_F_ABORT_ON_ERROR */
	RTHEAP_ERR_BROKEN,         /**< RTHEAP_LOCK_SHARED: a process died
	                                holding the heap lock in the middle of
	                                a change; the check failed (addr: where)
	                                and the heap is now broken: every call
	                                fails with ENOTRECOVERABLE */
} rtheap_error_kind_t;

/** Error callback: called, outside the heap lock, for each detected misuse. */
typedef void (*rtheap_error_fn)(rtheap_t *heap, rtheap_error_kind_t kind,
                                const void *addr, void *arg);

/**
 * Low-memory callback: called outside the heap lock, from the allocating
 * thread, once each time free memory drops below the threshold, and on
 * every failed allocation (@p request is then the size that could not be
 * served; 0 for a threshold crossing).  Keep it short (post a semaphore,
 * write an eventfd): it runs in the caller's real-time context.
 *
 * It is called after the heap lock is released, before rtheap_alloc()
 * returns, so it may call any function of this heap: rtheap_get_stats(),
 * rtheap_alloc() (a failure there calls it again, recursively: guard
 * against that), rtheap_free(), rtheap_extend() (from a real-time thread,
 * only with a buffer already locked or prefaulted and RTHEAP_F_ZEROED:
 * otherwise clearing the map costs O(pages) and may fault).  A failed
 * allocation is not retried after the callback returns: the caller gets
 * NULL even if the callback extended the heap, and retries (rtheap_alloc()).
 *
 * It may run in several threads at once: a threshold crossing is reported
 * to one thread only (the crossing disarms it under the lock), but every
 * failed allocation calls it in its own thread, and a new crossing can be
 * reported while an earlier call is still running.  Make it thread-safe
 * (atomics, no unprotected shared state).
 *
 * Its cost is added to the allocation that triggered it.  sem_post() or
 * write() to an eventfd is a system call whenever a thread waits on it
 * (a futex wake: bounded, but a kernel entry and a possible reschedule).
 * Where that matters, let the callback only set an atomic flag, and let
 * the real-time thread post the semaphore at the end of its cycle, after
 * its deadline-critical work (docs/realtime.md, examples/realtime.c).
 */
typedef void (*rtheap_lowmem_fn)(rtheap_t *heap, size_t free_bytes,
                                 size_t request, void *arg);

/** Flush callback for rtheap_destroy(): called once per extent. */
typedef void (*rtheap_flush_fn)(rtheap_t *heap, void *buf, size_t size,
                                void *cookie);

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/**
 * Initialise @p heap over the caller's buffer (its first extent).
 *
 * Only the extent header and the page map are written: the page array is
 * never touched, so a 1 GiB buffer costs no page faults beyond its map.
 *
 * Page faults: because init and extend leave the page array untouched, the
 * first write to each page of a block happens in the caller, and faults
 * there unless the memory is resident: a real-time program calls
 * mlockall(MCL_CURRENT | MCL_FUTURE) before it initialises the heap (locks
 * and populates static buffers and every later mapping), or, where that is
 * not permitted, prefaults its buffers by writing every page once (a
 * memset to zero keeps RTHEAP_F_ZEROED valid) or maps them with
 * MAP_POPULATE | MAP_LOCKED.  The same holds for buffers given to
 * rtheap_extend().
 *
 * Alignment: @p buf needs 8 bytes (-EINVAL otherwise); further alignment
 * changes no block's alignment (see rtheap_alloc()) and, for a buffer of
 * RTHEAP_BUFFER_SIZE() bytes, not the number of pages either.
 *
 * @param heap descriptor to initialise (its previous content is ignored)
 * @param buf  buffer, 8-byte aligned; owned by the heap until destroy
 * @param size buffer size in bytes; need not be a multiple of the page size
 * @param cfg  configuration, or NULL for the defaults
 * @return 0, or -EINVAL: NULL heap or buffer, misaligned buffer, page size
 *         not a power of two or above RTHEAP_MAX_PAGE, unknown lock mode or
 *         flags, buffer too small for the header and two pages, more than
 *         RTHEAP_MAX_EXTENT_PAGES pages; -ENOTSUP: the PI mutex (with
 *         RTHEAP_LOCK_SHARED: the process-shared, priority-inheriting,
 *         robust mutex) could not be created.
 * @return also -EINVAL, with a message on stderr and nothing written, when
 *         the program was compiled against headers of another build of
 *         rtheap (another RTHEAP_MAX_EXTENTS, so another sizeof(rtheap_t),
 *         or another ABI version) than the library it runs with.
 * Bound: O(1) plus clearing the map (4 bytes per page; nothing with
 *        RTHEAP_F_ZEROED).
 * Context: any thread; not concurrently with other calls on the same heap.
 *
 * rtheap_init() is an inline wrapper that passes the caller's
 * sizeof(rtheap_t) and RTHEAP_ABI_VERSION to rtheap_init_abi(), the entry
 * point of the library: call rtheap_init(), never rtheap_init_abi().
 */
static inline int rtheap_init(rtheap_t *heap, void *buf, size_t size,
                              const struct rtheap_config *cfg);

/** The checked entry point behind rtheap_init(): @p desc_size and @p abi are
 *  the caller's sizeof(rtheap_t) and RTHEAP_ABI_VERSION.  As rtheap_init(). */
int rtheap_init_abi(rtheap_t *heap, void *buf, size_t size,
                    const struct rtheap_config *cfg, size_t desc_size,
                    unsigned abi);

static inline int rtheap_init(rtheap_t *heap, void *buf, size_t size,
                              const struct rtheap_config *cfg)
{
	return rtheap_init_abi(heap, buf, size, cfg, sizeof(rtheap_t),
	                       RTHEAP_ABI_VERSION);
}

/**
 * Add the buffer as a new extent.  The map is cleared before the heap lock
 * is taken; under the lock the extent is inserted in the address-sorted
 * extent table and its pages join the free-run index.
 *
 * How large: no block straddles two extents, so a new extent helps only
 * with what fits in it alone, whatever the fragmentation of the others.
 * For one failed request of n bytes (the callback's @p request),
 * RTHEAP_BUFFER_SIZE(n, page) is enough: n > page/2 needs a run of
 * ceil(n / page) pages, a smaller n one page (an extent has at least two).
 * For a set of requests that must all succeed from the new extent alone,
 * with no release in between:
 *   usable = sum over requests n > page/2 of rtheap_round_size(n)
 *          + sum over bucket classes s of ceil(count_s * s / page) * page
 * (s the rounded size 16, 32, ..., page/2, count_s the requests of that
 * class), and the buffer is RTHEAP_BUFFER_SIZE(usable, page).  Other
 * threads may take the new memory first: add what they allocate meanwhile.
 *
 * @param flags 0 or RTHEAP_F_ZEROED
 * @return 0, or -EINVAL: NULL heap or buffer, uninitialised heap,
 *         misaligned or too small buffer, unknown flags, buffer overlapping
 *         an existing extent; -ENOSPC: RTHEAP_MAX_EXTENTS extents already.
 * Bound: clearing the map (outside the lock), then O(E) under the lock.
 * Context: any thread, concurrently with other calls (typically a non-RT
 *          helper thread woken by the low-memory callback).
 */
int rtheap_extend(rtheap_t *heap, void *buf, size_t size, unsigned flags);

/**
 * Destroy the heap: invalidate the descriptor, then call @p flush (if not
 * NULL) once per extent with the buffer and size passed to init / extend.
 * The descriptor is dead before the first flush, so that flush may release
 * the buffer (the extent's header lives in it); a call on the heap from
 * flush gets -EINVAL.  Live blocks are abandoned.  The heap may be
 * initialised again afterwards.  If the default misuse handler recorded
 * misuses, one line per kind is printed on stderr first.
 * @return 0, or -EINVAL for a NULL or uninitialised heap.
 * Bound: O(E) plus the callbacks.
 * Context: not concurrently with any other call on the same heap; not
 *          RT-safe (flush, and stderr when misuses were recorded).
 */
int rtheap_destroy(rtheap_t *heap, rtheap_flush_fn flush, void *cookie);

/**
 * Attach the calling process to a heap created by another process with
 * RTHEAP_LOCK_SHARED, in memory this process shares with it (see
 * "Process-shared heaps" above).  Call it once, before any other call on
 * the heap, in every process but the creator: after fork(), or after
 * mapping the shared object at the creator's address.  It takes the heap
 * lock (so it recovers a dead owner, as any call does), checks, and
 * changes nothing.
 * @return 0: the heap can be used from this process;
 *         -EINVAL: NULL @p heap, or the memory does not hold an initialised
 *         heap of this build of the library (another ABI version, another
 *         RTHEAP_MAX_EXTENTS, destroyed, never initialised; a program
 *         compiled against headers of another build also gets a message on
 *         stderr, as rtheap_init());
 *         -EPERM: the heap was not created with RTHEAP_LOCK_SHARED (its lock
 *         cannot be shared: use it from its own process only);
 *         -EADDRNOTAVAIL: the descriptor, or the header of one of its
 *         extents, is not at the address the heap recorded when it was
 *         created or extended (memory mapped elsewhere, or an extent not
 *         mapped in this process): the heap cannot be used here;
 *         -ENOTSUP: this process runs under a memory checker (valgrind)
 *         and the creator did not, or the reverse (the heap fixed at
 *         init which copy of its hot paths it runs, hooks.h);
 *         -ENOTRECOVERABLE: the heap is broken (a process died in the
 *         middle of a change, see the recovery above).
 * Bound: O(E) under the heap lock, one mincore() system call per extent;
 *        O(heap) if it meets a dead lock owner.
 * Context: not RT (a system call); any thread of the attaching process.
 *
 * rtheap_attach() is an inline wrapper that passes the caller's
 * sizeof(rtheap_t) and RTHEAP_ABI_VERSION to rtheap_attach_abi(), as
 * rtheap_init() does.
 */
static inline int rtheap_attach(rtheap_t *heap);

/** The checked entry point behind rtheap_attach(); as rtheap_init_abi(). */
int rtheap_attach_abi(rtheap_t *heap, size_t desc_size, unsigned abi);

static inline int rtheap_attach(rtheap_t *heap)
{
	return rtheap_attach_abi(heap, sizeof(rtheap_t), RTHEAP_ABI_VERSION);
}

/* ------------------------------------------------------------------ */
/* Allocation                                                          */
/* ------------------------------------------------------------------ */

/**
 * Allocate a block of at least @p size bytes.
 *
 * Requests up to P/2 bytes are rounded up to a power of two (>= 16) and the
 * block is aligned to that size; larger requests are rounded up to whole
 * pages and the block is page aligned.
 * So every block is aligned to min(rtheap_round_size(size), P): at least
 * 16 bytes, and a block larger than a page only to the page size, never to
 * its own size.  This holds whatever the alignment of the buffers.  For a
 * larger alignment, use rtheap_alloc_aligned().
 *
 * Retry pattern: the low-memory callback runs before this call returns
 * NULL, and may extend the heap (or another thread may free), but the
 * failed call is not retried.  Call once more:
 *     p = rtheap_alloc(h, n);
 *     if (!p)                      // the callback has run by now
 *             p = rtheap_alloc(h, n);
 *     if (!p)                      // degrade: drop, defer to the next cycle
 *             ...
 * A retry that fails calls the callback again with the same request.  With
 * an extending helper thread, retry in a later cycle instead of spinning.
 * Good fit, exactly: a request of n pages (size > P/2, n = size rounded up
 * to pages) is served whenever a free run of at least fit(n) pages exists,
 * where fit(n) is n below 32 pages and otherwise n rounded up to a
 * multiple of 2^(floor(log2 n) - 4): less than n + n/16.  A free run of n
 * to fit(n) - 1 pages serves it only if it is the first of its size list,
 * so the call may return NULL while such a run is free (free runs of 86
 * and 84 pages, the 84-page one first: 86 pages fail, fit(86) = 88).  A
 * bucket request is served whenever its class has a block free in any
 * page, or a free page exists.  stats.largest_free is always servable.
 * Placement: of the free runs that may serve a request (a new bucket page
 * is a request of one page), the heads of the first two non-empty size
 * lists are compared and the one at the lower address is taken; a freed
 * run goes to the head of its list only if it lies below the head.  The
 * run that ends an extent counts as the highest.  So blocks gather at low
 * addresses and the free memory at the top stays whole: on a long random
 * trace the largest free block holds steady instead of shrinking
 * (docs/latency.md, "Long-run fragmentation").
 * @return the block, or NULL: size 0, size beyond any extent, rounding
 *         overflow, uninitialised heap, or no free run that the good fit
 *         above finds.  A failure other than size 0 or an uninitialised
 *         heap is counted in failed_allocs and calls the low-memory
 *         callback, if one is set.
 * Bound: O(1): at most six bitmap searches (three lists found) and
 *        three list heads read, one list removal and one insertion; no
 *        loop depends on heap size, block count or history.
 *        The constant grows with the page size for the smallest blocks: a
 *        bucket page's free-block bitmap is scanned a word at a time, up
 *        to P/512 32-bit words (one for P <= 512 B, 64 at 32 KiB).
 *        With RTHEAP_F_DEBUG_FILL, list nodes are checked first (O(log E))
 *        and an overwritten one fails the call with RTHEAP_ERR_CORRUPT;
 *        the fill adds O(rounded size) (see RTHEAP_F_DEBUG_FILL).
 * Context: RT-safe.
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtheap_alloc(rtheap_t *heap, size_t size);

/**
 * Allocate a block of at least @p size bytes whose address is a multiple
 * of @p align (absolute address), a power of two.  Release it with
 * rtheap_free(); rtheap_usable_size() gives its size.
 *
 * When the block rtheap_alloc() would give is aligned enough (@p align up
 * to min(rtheap_round_size(size), P)), this is rtheap_alloc().  Up to P, the
 * block is the one rtheap_alloc(max(size, align)) gives: a power of two of
 * at least @p align bytes, aligned to its size, or one page.  Above P, the
 * block is a run of ceil(size / P) pages (at least one) starting at a
 * multiple of @p align: the heap takes a free run of at least
 * n + align/P - 1 pages (n the block's pages) from its free-run index and
 * gives the pages before and after the aligned piece back as free runs, as
 * TLSF's memalign does.  The good fit is the same as rtheap_alloc()'s, for
 * that longer length: the call may fail while a free run of n pages
 * that happens to be suitably aligned exists, if no free run of
 * n + align/P - 1 pages does (stats.largest_free at least that long is
 * sure to serve it).  Aligned runs cut free runs in up to three pieces,
 * so they fragment the heap more than plain runs.
 *
 * @return the block, or NULL: size 0, @p align not a power of two (0
 *         included), or an uninitialised heap (these three are not counted
 *         and call no callback); size or @p align beyond any extent, or no
 *         free run that fits (counted in failed_allocs, and the low-memory
 *         callback runs with @p size as the request; an extent that is
 *         sure to serve the request after such a failure holds
 *         RTHEAP_BUFFER_SIZE(size + align - P, P) bytes for align > P).
 * Bound: O(1), as rtheap_alloc(); above P: two bitmap searches (the
 *        first list whose runs all hold the span, no comparison of heads),
 *        one list removal and at most two insertions (head and tail
 *        pieces); no loop depends on heap size, block count, history or
 *        @p align.
 *        With RTHEAP_F_DEBUG_FILL, as rtheap_alloc(), plus filling the
 *        head piece with the debug pattern (O(align)).
 * Context: RT-safe.
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtheap_alloc_aligned(rtheap_t *heap, size_t size, size_t align);

/** As rtheap_alloc(), and the block is zero-filled (cost adds a memset of
 *  the rounded size, O(size)). */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(2) RTHEAP_WARN_UNUSED
void *rtheap_zalloc(rtheap_t *heap, size_t size);

/**
 * Resize the block at @p ptr to at least @p size bytes, as C's realloc():
 * the content up to the smaller of the old and new sizes is kept.
 *  - @p ptr NULL: rtheap_alloc(@p size).
 *  - @p size 0 (and @p ptr not NULL): the block is released as by
 *    rtheap_free() and NULL is returned, errno unchanged, as glibc's
 *    realloc(p, 0) does (C17 leaves it to the implementation, C23 makes it
 *    undefined: portable code calls rtheap_free() instead).
 *  - In place, the same pointer returned, whenever the block can stay:
 *    a bucket block (up to P/2) while @p size fits its class (a shrink
 *    keeps the whole class); a run of n pages that needs m = ceil(size/P)
 *    pages: m <= n gives its last n - m pages back as a free run (merged
 *    with a free run after it), m > n takes the first m - n pages of the
 *    free run that starts right after it, if that run holds them.  A
 *    shrink is always in place and does not fail (but for the debug-mode
 *    EUCLEAN below).  A resize in place that takes free memory below the
 *    low-memory threshold calls the callback once (request 0), as an
 *    allocation does.
 *  - Otherwise rtheap_alloc(@p size), a copy of the old block's usable
 *    size, and rtheap_free(@p ptr).  The low-memory callback hears of a
 *    failure with @p size as the request, as for rtheap_alloc(): retry
 *    after it, as there.
 * Growth in place is counted by no statistic (alloc_calls and free_calls
 * count a moved block once each); used and peak_used follow the size.
 * @return the block (@p ptr or a new one), or NULL with errno set and the
 *         old block untouched (still allocated, content unchanged):
 *         ENOMEM: no room (counted in failed_allocs by rtheap_alloc());
 *         EFAULT / EINVAL: @p ptr outside every extent / inside the heap
 *         but not the start of a live block (interior, free, double
 *         release): reported to the misuse callback and counted in errors,
 *         exactly as rtheap_free() does, nothing changed; EINVAL also for
 *         an uninitialised heap (nothing reported).  With
 *         RTHEAP_F_DEBUG_FILL only: EUCLEAN when a free-run node that the
 *         resize would follow was overwritten (RTHEAP_ERR_CORRUPT).
 * Bound: in place, O(log E) extent lookup then O(1): a shrink costs as a
 *        release of the pages given back (at most one merge and one
 *        insertion), a growth one map read and at most one unlink and one
 *        insertion.  Moved: rtheap_alloc() + a copy of min(old, new) bytes
 *        + rtheap_free(); the copy is the only size-dependent cost.
 *        With RTHEAP_F_DEBUG_FILL, plus O(size) fill and verify.
 * Context: RT-safe (a moved block's copy takes time proportional to its
 *          size: bound it by the sizes the program uses).
 */
RTHEAP_ALLOC_SIZE(3) RTHEAP_WARN_UNUSED
void *rtheap_realloc(rtheap_t *heap, void *ptr, size_t size);

/**
 * Allocate a zero-filled block for an array of @p n elements of @p size
 * bytes, as C's calloc(): rtheap_zalloc(@p n * @p size).
 * @return the block, or NULL: errno ENOMEM when @p n * @p size overflows
 *         size_t (not counted, no callback: no extension can help) or when
 *         rtheap_zalloc() fails (counted, callback, as rtheap_alloc());
 *         EINVAL for an uninitialised heap; a product of 0 gives NULL with
 *         errno unchanged, as rtheap_alloc(0).
 * Bound: as rtheap_alloc(), plus a memset of the rounded size (O(size)).
 * Context: RT-safe (the memset takes time proportional to the size).
 */
RTHEAP_MALLOC RTHEAP_WARN_UNUSED
void *rtheap_calloc(rtheap_t *heap, size_t n, size_t size);

/**
 * Allocate @p size bytes aligned to @p align, C11's aligned_alloc() with
 * its argument order: rtheap_alloc_aligned(@p size, @p align), for any
 * power of two @p align up to RTHEAP_MAX_ALIGN (any @p size: C17 dropped
 * the requirement that it be a multiple of @p align).  Above the page
 * size the block is an over-allocated run trimmed at both ends, in O(1)
 * (see rtheap_alloc_aligned() for the free run it needs).
 * @return the block, or NULL: errno EINVAL for @p align 0, not a power of
 *         two, or above RTHEAP_MAX_ALIGN, or an uninitialised heap (not
 *         counted, no callback); ENOMEM when rtheap_alloc_aligned() fails
 *         (counted, callback); @p size 0 gives NULL with errno unchanged.
 * Bound: as rtheap_alloc_aligned(): O(1), whatever @p align.
 * Context: RT-safe.
 */
RTHEAP_MALLOC RTHEAP_ALLOC_SIZE(3) RTHEAP_WARN_UNUSED
void *rtheap_aligned_alloc(rtheap_t *heap, size_t align, size_t size);

/**
 * Release a block.  A NULL @p ptr does nothing and returns 0, as free(NULL)
 * does (tlsf_free, o1heapFree and Zephyr's sys_heap_free agree): it is not
 * a misuse, not counted and not reported (an unusable @p heap is still
 * -EINVAL).
 * @return 0 (also for NULL); -EFAULT: @p ptr is outside every extent;
 *         -EINVAL: @p ptr is inside the heap but not the start of a live
 *         block (interior pointer, free page, double free), or the heap
 *         is not initialised.  Errors change nothing and are exact.
 *         With RTHEAP_F_DEBUG_FILL only: -EUCLEAN when a list node that the
 *         release would follow was overwritten (a write after free into a
 *         neighbouring free block); the block stays allocated and
 *         RTHEAP_ERR_CORRUPT is reported.
 * Bound: O(log E) extent lookup, then O(1): at most two coalescing merges
 *        and one insertion.
 * Context: RT-safe.
 */
int rtheap_free(rtheap_t *heap, void *ptr);

/**
 * Release @p ptr only if @p ckfn(ptr) returns 0; otherwise return ckfn's
 * value and leave the block allocated and intact.  @p ckfn runs under the
 * heap lock and must not call the heap.  NULL @p ckfn behaves as free.
 * A NULL @p ptr returns 0 without calling @p ckfn, as rtheap_free().
 * @return as rtheap_free(), or ckfn's non-zero value.
 * Bound: as rtheap_free() plus ckfn.  Context: RT-safe if ckfn is.
 */
int rtheap_test_and_free(rtheap_t *heap, void *ptr, int (*ckfn)(void *block));

/**
 * Tell whether @p ptr is the start of a live block.
 * @return 0 if it is; -EFAULT outside every extent; -EINVAL otherwise.
 * Bound: O(log E).  Context: RT-safe.
 */
int rtheap_check_block(rtheap_t *heap, const void *ptr);

/**
 * Usable size of the live block at @p ptr (its rounded size), or 0 when
 * @p ptr is not the start of a live block.
 * Bound: O(log E).  Context: RT-safe.
 */
size_t rtheap_usable_size(rtheap_t *heap, const void *ptr);

/* ------------------------------------------------------------------ */
/* Notification and diagnostics                                        */
/* ------------------------------------------------------------------ */

/**
 * Set (or clear with @p fn NULL) the low-memory callback and its threshold
 * in free bytes.  The callback is armed while free memory is at or above
 * the threshold; it fires once when an allocation takes it below, and is
 * re-armed when frees or an extension bring free memory back to the
 * threshold.  Failed allocations always call it.
 * Setting it arms it: if free memory is already below @p threshold, the
 * next successful allocation calls @p fn once (request 0), so a callback
 * installed late still hears of the shortage.  An extension that leaves
 * free memory below the threshold does not call it again (the helper that
 * extended knows: it reads rtheap_get_stats() and adds more).  See
 * rtheap_lowmem_fn for what the callback may do, its threads and cost.
 * @return 0, or -EINVAL for a NULL or uninitialised heap.
 * Bound: O(1).  Context: any thread.
 */
int rtheap_set_lowmem(rtheap_t *heap, size_t threshold, rtheap_lowmem_fn fn,
                      void *arg);

/**
 * Also treat a largest free run below @p run_bytes as low memory (0, the
 * default, turns this off): while armed, an allocation that leaves no free
 * run of @p run_bytes calls the low-memory callback (request 0), and the
 * callback re-arms only when both free bytes and the largest run are back
 * at their limits.  Use it when the application needs large blocks: free
 * bytes alone can be plentiful while no run is long enough.  With it set,
 * alloc and free each add a constant check of the free-run index.
 * Setting it arms the callback as rtheap_set_lowmem() does.
 * @return 0, or -EINVAL for a NULL or uninitialised heap.
 * Bound: O(1).  Context: any thread.
 */
int rtheap_set_lowmem_run(rtheap_t *heap, size_t run_bytes);

/**
 * Set (or reset to the default with @p fn NULL) the misuse callback.  It
 * runs in the call that found the misuse (often a real-time thread), after
 * the heap lock is released.  The default handler is RT-safe: it records
 * the first address of each kind of misuse in the descriptor and writes
 * nothing; rtheap_destroy() prints what it recorded, one line per kind, on
 * stderr (besides that, only rtheap_init() refusing a descriptor of another
 * build writes to a stream).  The statistics count every misuse (errors).
 * To print each misuse when it happens, install rtheap_print_error(),
 * which is not RT-safe.
 * @return 0, or -EINVAL for a NULL or uninitialised heap.
 * Bound: O(1).  Context: any thread.
 */
int rtheap_set_error_handler(rtheap_t *heap, rtheap_error_fn fn, void *arg);

/**
 * A ready-made misuse callback that prints one line, with the heap, its
 * name, the kind of misuse and the address, to @p arg (a FILE *) or to
 * stderr when @p arg is NULL:
 *     rtheap_set_error_handler(heap, rtheap_print_error, NULL);
 * Bound: that of fprintf.  Context: not RT-safe (stdio, a system call);
 * for development and for programs without real-time threads.
 */
void rtheap_print_error(rtheap_t *heap, rtheap_error_kind_t kind,
                        const void *addr, void *arg);

/**
 * Take a consistent snapshot of the statistics.
 * @return 0, or -EINVAL for NULL arguments or an uninitialised heap.
 * Bound: O(1).  Context: RT-safe.
 */
int rtheap_get_stats(rtheap_t *heap, struct rtheap_stats *st);

/**
 * Full integrity walk of every extent: page map, bucket bitmaps and lists,
 * free-run index, statistics.  For tests and diagnostics, not the hot path.
 * Then every layer object on the heap (object caches of rtheap/cache.h,
 * reserve pools) checks its own structures, outside the heap lock; no
 * layer object may be created or destroyed meanwhile.
 * @param fault if not NULL, receives the first inconsistency found
 * @return 0 if consistent; -EINVAL for a NULL or uninitialised heap;
 *         -EUCLEAN if an inconsistency was found.
 * Bound: O(total pages + free runs + bucket pages), under the heap lock,
 *        plus each layer object's own check.
 * Context: not from a real-time thread.
 */
int rtheap_check(rtheap_t *heap, struct rtheap_fault *fault);

/** Page size of the heap in bytes, or 0 for a NULL/uninitialised heap.
 *  Bound: O(1).  Context: any (RT-safe, no lock). */
size_t rtheap_page_size(const rtheap_t *heap);

/**
 * A dump of the whole heap to @p out: its statistics and extents, then
 * every layer object registered on it (object caches of rtheap/cache.h
 * with each slab's address, use and the creator's file:line; reserve
 * pools), a summary line last.
 * With @p verbose 0, one line per layer object and no slabs.
 * @return 0 or -EINVAL.
 * Bound: O(extents + layer objects), O(slabs) more with @p verbose, plus
 *        the stream's output.
 * Context: not RT; nothing may be created or destroyed on the heap
 * meanwhile.
 */
int rtheap_dump(rtheap_t *heap, FILE *out, int verbose);

/**
 * Bytes of an extent buffer of @p size bytes with page size @p page_size
 * (0 for the default; rounded as rtheap_init rounds it) that are not page
 * array: header, map, alignment padding and the unusable tail.  Assumes a
 * buffer aligned to the page size; a buffer of other alignment can hold
 * one page fewer (or one more): its padding before the page array differs.
 * So size a buffer exactly with this function only if it is page aligned
 * (mmap memory is, for pages up to the system page size); otherwise use
 * RTHEAP_BUFFER_SIZE(), which is right at any alignment.  Returns @p size when the buffer is too small for an extent (fewer
 * than two pages fit) or the page size is invalid.
 * Bound: O(1).  Context: any (no heap is touched).
 */
size_t rtheap_overhead(size_t size, size_t page_size);

/** Block size for a request, as rtheap_alloc rounds it; 0 if invalid.
 *  Bound: O(1).  Context: any (RT-safe, no lock). */
size_t rtheap_round_size(const rtheap_t *heap, size_t size);

/** Library version string (RTHEAP_VERSION_STRING of the build), e.g. "0.3.1".
 *  Bound: O(1).  Context: any. */
const char *rtheap_version(void);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_RTHEAP_H */
