/* SPDX-License-Identifier: MIT */
/*
 * Xenomai 2 compatible heap interface over rtheap.
 *
 * Code written for the Xenomai 2 nucleus heap (xnheap_*, xnmalloc, xnfree,
 * the deferred release, XNHEAP_PAGE_SIZE, xnheap_rounded_size) compiles
 * and runs unchanged against this header, with these relaxations: extents
 * may have any size (not just the size of the first one, not capped at
 * 2 GiB, not a multiple of the page size), and every allocation and
 * release is O(1) (O(log E) to find the extent of a freed block); the
 * deferred release queues in O(1) and releases in O(pending).
 *
 * Return codes follow the native API: -EINVAL for bad arguments or an
 * address inside the heap that is not a live block, -EFAULT for an address
 * outside every extent, -ENOSPC when the extent table is full.
 *
 * Page sizes: every power of two from 8 bytes to 4 MiB (2^XNHEAP_MAXLOG2)
 * is accepted, as in Xenomai 2.  Sizes below RTHEAP_MIN_PAGE (256) are
 * rounded up to it internally, and xnheap_page_size() reports the size in
 * use.  Sizes above RTHEAP_MAX_PAGE (32 KiB) are kept by this layer and
 * mapped onto core pages of 32 KiB: see "Large pages" below.  The lock is
 * the native default, a priority-inheritance mutex.  Contexts and bounds
 * are those of the native function each call wraps (see rtheap.h) unless
 * stated otherwise.
 *
 * Block sizes: with P the page size in use (xnheap_page_size()), a
 * request of up to twice P gets the smallest power of two that holds it
 * (at least 16 bytes; Xenomai 2 gives 8-byte blocks to requests of 1..8
 * bytes), a larger one the smallest multiple of P, as in Xenomai 2.  A
 * heap asked for pages below 256 bytes uses P = 256, so a request above
 * twice the asked page size and up to 512 bytes gets a power of two where
 * Xenomai 2 would round it to a multiple of the smaller page.
 * xnheap_used_mem() counts these sizes, as Xenomai 2 does.
 *
 * Large pages (P above 32 KiB): block sizes follow the rule above with the
 * heap's P, so xnheap_used_mem() and the rounding match Xenomai 2, and so
 * does alignment: a block of 2^k <= P bytes is aligned to 2^k, a larger
 * one (2P, or a multiple of P) to P, as in Xenomai 2.  Xenomai 2 aligns
 * relative to the extent's page array, this layer in absolute terms (the
 * blocks of 32 KiB or more are page runs aligned with
 * rtheap_alloc_aligned()); with a buffer aligned to P the two agree.  What
 * remains different: a block that needs an alignment above 32 KiB is found
 * by the good fit over a free run of n + A/32 KiB - 1 core pages (A its
 * alignment, n its core pages; see rtheap_alloc_aligned()), where Xenomai
 * 2 walks its free page list for any aligned range of exactly its pages:
 * in a fragmented heap such a request may fail where Xenomai 2 would find
 * room (xnheap_max_contiguous() of at least that span is sure to serve
 * it); and requests of up to 16 KiB come from 32 KiB bucket pages.  An
 * extent must offer at least two pages of P bytes (xnheap_rounded_size()
 * gives a size that does, and that holds a two-page block whatever the
 * buffer's alignment).
 */
#ifndef RTHEAP_XNHEAP_H
#define RTHEAP_XNHEAP_H

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RTHEAP_HAVE_U_LONG
#define RTHEAP_HAVE_U_LONG
/* Same type as the BSD typedef in <sys/types.h>; repeating it is valid. */
typedef unsigned long u_long;
#endif

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

/** The page size Xenomai 2 code passes for general-purpose heaps. */
#define XNHEAP_PAGE_SIZE 512
/** Clears the offset within an XNHEAP_PAGE_SIZE page. */
#define XNHEAP_PAGE_MASK (~(XNHEAP_PAGE_SIZE - 1))
/** Rounds @p addr (an integer) up to a multiple of XNHEAP_PAGE_SIZE. */
#define XNHEAP_PAGE_ALIGN(addr) (((addr) + XNHEAP_PAGE_SIZE - 1) & XNHEAP_PAGE_MASK)
/** Smallest page size accepted: 2^XNHEAP_MINLOG2 bytes. */
#define XNHEAP_MINLOG2 3
/** Largest page size accepted: 2^XNHEAP_MAXLOG2 bytes (4 MiB). */
#define XNHEAP_MAXLOG2 22

#ifndef XNOBJECT_NAME_LEN
/** Longest object name in Xenomai 2; a heap label holds 16 more bytes. */
#define XNOBJECT_NAME_LEN 32
#endif

/** Bytes of xnheap_t.label, terminating NUL included (Xenomai 2's
 *  XNOBJECT_NAME_LEN + 16, fixed here so that the layout of xnheap_t does
 *  not depend on the user's XNOBJECT_NAME_LEN). */
#define RTHEAP_XN_LABEL_LEN 48

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/*
 * The link of a deferred release (xnheap_schedule_free()): Xenomai 2's
 * queue element, two pointers, next and last.  Code that has its own queue
 * header defining struct xnholder / xnholder_t includes it first: this
 * header then leaves the type alone when _XENO_NUCLEUS_QUEUE_H (the guard
 * of Xenomai 2's queue header) or RTHEAP_XN_HAVE_XNHOLDER is defined.
 * Define RTHEAP_XN_HAVE_XNHOLDER yourself when your own definition comes
 * from elsewhere; it must start with the two members
 * "struct xnholder *next, *last;" in that order, which is what the library
 * uses.
 */
#if !defined(RTHEAP_XN_HAVE_XNHOLDER) && !defined(_XENO_NUCLEUS_QUEUE_H)
#define RTHEAP_XN_HAVE_XNHOLDER 1
typedef struct xnholder {
	struct xnholder *next;
	struct xnholder *last;
} xnholder_t;
#endif

/** The heap descriptor: a complete type that callers declare themselves. */
typedef struct xnheap {
	rtheap_t rt;          /**< the native heap */
	u_long extentsize;    /**< size of the initial extent, as passed to init */
	u_long pagesize;      /**< page size as passed to init (private) */
	/** deferred releases, a FIFO of holders (private, atomic access):
	 * the oldest queued holder (NULL if none) and the newest (or the
	 * address of idleq itself when the queue is empty) */
	struct xnholder *idleq;
	void *idleq_tail;
	char label[RTHEAP_XN_LABEL_LEN]; /**< see xnheap_set_label() */
} xnheap_t;

/** Flush routine of xnheap_destroy(): called once per extent. */
typedef void (*xnheap_flushfn)(xnheap_t *heap, void *extaddr, u_long extsize,
                               void *cookie);

/* ------------------------------------------------------------------ */
/* Heaps                                                               */
/* ------------------------------------------------------------------ */

/**
 * Initialise over @p heapaddr (@p heapsize bytes) with @p pagesize pages.
 * The label becomes "unlabeled @<address of heap>", the deferred-release
 * queue is emptied.
 * @return 0, or -EINVAL: NULL heap or buffer, misaligned or too small
 *         buffer (see rtheap_init()), @p pagesize not a power of two in
 *         [8, 2^XNHEAP_MAXLOG2], or, for pages above 32 KiB, fewer than two
 *         such pages of usable memory; also -EINVAL, with a message on
 *         stderr and nothing written, when the program was compiled against
 *         the headers of another build of rtheap (see rtheap_init());
 *         -ENOTSUP: no PI mutex.
 * Bound: O(1) plus clearing the map (4 bytes per page).
 * Context: any thread; not concurrently with other calls on the heap.
 * An inline wrapper that passes the caller's sizeof(xnheap_t) and
 * RTHEAP_ABI_VERSION to xnheap_init_abi().
 */
static inline int xnheap_init(xnheap_t *heap, void *heapaddr, u_long heapsize,
                              u_long pagesize);

/** The checked entry point behind xnheap_init(): @p desc_size and @p abi are
 *  the caller's sizeof(xnheap_t) and RTHEAP_ABI_VERSION. */
int xnheap_init_abi(xnheap_t *heap, void *heapaddr, u_long heapsize,
                    u_long pagesize, size_t desc_size, unsigned abi);

static inline int xnheap_init(xnheap_t *heap, void *heapaddr, u_long heapsize,
                              u_long pagesize)
{
	return xnheap_init_abi(heap, heapaddr, heapsize, pagesize,
	                       sizeof(xnheap_t), RTHEAP_ABI_VERSION);
}

/**
 * Call @p flushfn once per extent (with the address and size passed to
 * xnheap_init() or xnheap_extend()), then invalidate the heap.  Live
 * blocks and blocks still queued by xnheap_schedule_free() are abandoned
 * with the memory.  Returns int as in Xenomai 2.0 to 2.4 (2.5 and later
 * return void; callers that ignore the value are served either way).
 * @return 0 or -EINVAL (NULL or uninitialised heap).
 * Bound: O(E) plus the callbacks.  Context: not concurrently with any
 * other call on the heap.
 */
int xnheap_destroy(xnheap_t *heap, xnheap_flushfn flushfn, void *cookie);

/**
 * Set the heap's label from a printf format, truncated to
 * RTHEAP_XN_LABEL_LEN - 1 bytes, as Xenomai 2 does; read it from
 * heap->label.  Nothing happens for a NULL heap or format.  The heap need
 * not be initialised (xnheap_init() resets the label, so label after it).
 * Bound: that of vsnprintf() on the format and its arguments.
 * Context: not RT-safe (vsnprintf); not concurrently with a reader of the
 * label.  Errors: none (void, as in Xenomai 2).
 */
void xnheap_set_label(xnheap_t *heap, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/** Allocate @p size bytes (rounded as described at the top of this file);
 *  NULL on failure or for size 0.  O(1), RT-safe. */
void *xnheap_alloc(xnheap_t *heap, u_long size);

/** Release a block: 0, -EFAULT (outside the heap, or NULL) or -EINVAL
 *  (not a live block).  O(log E), RT-safe. */
int xnheap_free(xnheap_t *heap, void *block);

/** Release @p block if @p ckfn(block) returns 0, else return ckfn's value
 *  and keep the block.  Errors as xnheap_free() (-EFAULT for NULL, without
 *  calling ckfn).  O(log E) plus ckfn, RT-safe if ckfn is. */
int xnheap_test_and_free(xnheap_t *heap, void *block, int (*ckfn)(void *block));

/** Add an extent of any size: 0, -EINVAL or -ENOSPC.  See rtheap_extend(). */
int xnheap_extend(xnheap_t *heap, void *extaddr, u_long extsize);

/** 0 if @p block starts a live block, else -EINVAL or -EFAULT.  O(log E). */
int xnheap_check_block(xnheap_t *heap, void *block);

/* ------------------------------------------------------------------ */
/* Deferred release                                                    */
/* ------------------------------------------------------------------ */

/**
 * Queue @p block for release by a later xnheap_finalize_free(), linking it
 * through @p link, which the caller provides and keeps untouched until
 * then (typically a member of the object being released, as Xenomai 2
 * skins pass &task->link).  Use it when the block may still be referenced
 * for a short while, for instance by the thread that is deleting itself.
 *
 * The block is not checked here: a block that is not live in @p heap is
 * refused when the queue is finalised, and reported then as a misuse of
 * the heap (error callback, errors count), like an xnheap_free() of it.
 * Nothing happens for a NULL heap or link (the block stays allocated).
 *
 * Bound: O(1) and wait-free: three stores and one atomic exchange on the
 * heap's queue tail; no lock, no loop, no system call (the queue is the
 * one of RCU-deferred release: liburcu's wait-free concurrent queue when
 * the library is built with liburcu, an exchange-based one otherwise).
 * Context: RT-safe; also from a signal handler.  Any number of threads
 * may queue on the same heap at once, and concurrently with
 * xnheap_finalize_free().  Errors: none (void, as in Xenomai 2).
 */
void xnheap_schedule_free(xnheap_t *heap, void *block, struct xnholder *link);

/**
 * Release every block queued on @p heap by xnheap_schedule_free() before
 * the call, most recently queued first (as Xenomai 2's LIFO list).  Blocks
 * queued during the call are left for the next one.  Nothing happens for a NULL heap or empty queue.
 *
 * Bound: O(1) when the queue is empty; otherwise O(pending) releases
 * (each O(log E)).  If a concurrent xnheap_schedule_free() has published
 * a block but not yet its link (a window of one store), this call waits
 * for that store, yielding the CPU.
 * Context: not RT (Xenomai 2 runs it from a non-RT point, the scheduler
 * tail): call it from a housekeeping thread, or from the thread that
 * queued once the references are gone; never from a signal handler.
 * Errors: none returned (void, as in Xenomai 2); a queued block that is
 * not a live block of @p heap is reported to the heap's error callback.
 */
void xnheap_finalize_free(xnheap_t *heap);

/* ------------------------------------------------------------------ */
/* Sizing and queries                                                  */
/* ------------------------------------------------------------------ */

/** Bytes of an extent of @p hsize bytes with page size @p psize taken by
 *  metadata, padding and the unusable tail; @p hsize when no heap fits
 *  (including, for pages above 32 KiB, fewer than two usable pages).
 *  O(1). */
u_long xnheap_overhead(u_long hsize, u_long psize);

/**
 * Size of a heap buffer (extent) with page size @p psize that offers at
 * least @p hsize bytes, and at least two pages, to blocks, whatever the
 * buffer's alignment: pass it to xnheap_init() or xnheap_extend().  A
 * multiple of @p psize, as in Xenomai 2.  For pages above 32 KiB it also
 * covers the up to @p psize - 32 KiB of the page array that lie before its
 * first @p psize-aligned address (blocks of a page or more are aligned to
 * the page: see "Large pages" above), so that a block of max(hsize, 2 *
 * psize) bytes, when that is a multiple of @p psize, fits in the new
 * extent whatever the buffer's alignment.  0 when @p psize is not a power
 * of two.  The caller keeps @p hsize far below ULONG_MAX (no overflow
 * check, as in Xenomai 2).  O(1), RT-safe, a header-only function.
 */
static inline size_t xnheap_rounded_size(size_t hsize, size_t psize)
{
	size_t core, want, buf;

	if (psize == 0 || (psize & (psize - 1)) != 0)
		return 0;
	core = psize < RTHEAP_MIN_PAGE ? RTHEAP_MIN_PAGE
	     : psize > RTHEAP_MAX_PAGE ? RTHEAP_MAX_PAGE : psize;
	want = hsize < 2 * psize ? 2 * psize : hsize;
	if (psize > core)
		want += psize - core; /* to the first psize-aligned page */
	buf = RTHEAP_BUFFER_SIZE(want, core);
	return (buf + psize - 1) & ~(psize - 1);
}

/** Bytes available to blocks in all extents.  O(1). */
u_long xnheap_usable_mem(xnheap_t *heap);

/** Bytes held by live blocks (rounded sizes).  O(1). */
u_long xnheap_used_mem(xnheap_t *heap);

/** Size of a free run that an allocation of that size is sure to get
 *  (rtheap_stats.largest_free: under the true largest free run by less
 *  than 1/16 of it; Xenomai 2 reports the largest run itself).  O(1). */
u_long xnheap_max_contiguous(xnheap_t *heap);

/** Size of the initial extent as passed to xnheap_init().  O(1). */
u_long xnheap_extentsize(xnheap_t *heap);

/** Page size in use: as passed to init, or 256 for smaller sizes; 0 for a
 *  NULL or uninitialised heap.  O(1). */
u_long xnheap_page_size(xnheap_t *heap);

/* ------------------------------------------------------------------ */
/* The system heap: xnmalloc, xnfree, kheap                            */
/* ------------------------------------------------------------------ */

/*
 * The library owns one system heap, Xenomai 2's kheap.  It is set up on
 * first use (by xnheap_system(), so by xnmalloc(), xnfree() or &kheap)
 * over a static zero-filled buffer of RTHEAP_XN_SYSHEAP_SIZE bytes (build
 * option, default 256 KiB as Xenomai 2's CONFIG_XENO_OPT_SYS_HEAPSZ) with
 * XNHEAP_PAGE_SIZE pages, or explicitly, before first use, by
 * xnheap_system_init() over the caller's buffer.
 *
 * First use: the set-up is O(1) (the static buffer is known to be zero, so
 * the map is not cleared), but it takes a process-wide mutex (no priority
 * inheritance) and touches the buffer's first memory page, which may fault.
 * Threads racing on first use wait for the one that sets the heap up.
 * After first use, xnheap_system() is one atomic load.  Real-time programs
 * call xnheap_system_init() (or xnheap_system()) during their set-up.
 */

/**
 * Set up the system heap before its first use: over @p buf (@p size
 * bytes), or over the built-in buffer when @p buf is NULL and @p size is
 * 0; with @p pagesize pages, or XNHEAP_PAGE_SIZE when it is 0.
 * @return 0; -EBUSY: the system heap is already set up (first use or an
 *         earlier call); -EINVAL: @p buf NULL with a non-zero @p size, or
 *         any error of xnheap_init(); -ENOTSUP as xnheap_init().
 * Bound: as xnheap_init() (O(1) over the built-in buffer the first time).
 * Context: set-up code; not RT-safe (process-wide mutex).
 */
int xnheap_system_init(void *buf, u_long size, u_long pagesize);

/**
 * Destroy the system heap (xnheap_destroy() with @p flushfn and
 * @p cookie); the next use sets it up again.  Not concurrently with any
 * other use of the system heap.  The built-in buffer is no longer known to
 * be zero, so a later set-up over it clears its map.
 * @return 0, or -EINVAL when the system heap is not set up.
 * Bound: O(E) plus the callbacks.  Context: tear-down code; not RT-safe.
 */
int xnheap_system_destroy(xnheap_flushfn flushfn, void *cookie);

/**
 * The system heap, set up on first use as described above; NULL if that
 * set-up failed (no PI mutex), or, with a message on stderr, when the
 * program was compiled against the headers of another build of rtheap
 * (another sizeof(xnheap_t) or RTHEAP_ABI_VERSION: the program would read
 * the heap's fields at the wrong offsets).  An inline wrapper over
 * xnheap_system_abi().
 * Bound: one atomic load after the first use.  Context: RT-safe after
 * the first use.
 */
static inline xnheap_t *xnheap_system(void);

/** The checked entry point behind xnheap_system(): @p desc_size and
 *  @p abi are the caller's sizeof(xnheap_t) and RTHEAP_ABI_VERSION. */
xnheap_t *xnheap_system_abi(size_t desc_size, unsigned abi);

static inline xnheap_t *xnheap_system(void)
{
	return xnheap_system_abi(sizeof(xnheap_t), RTHEAP_ABI_VERSION);
}

/** xnheap_alloc() on the system heap.  O(1), RT-safe after first use. */
void *xnmalloc(u_long size);

/** xnheap_free() on the system heap: 0, -EFAULT (NULL or outside the
 *  heap, as in Xenomai 2, where xnfree(NULL) answers -EFAULT too), -EINVAL
 *  (not a live block).  O(log E), RT-safe after first use. */
int xnfree(void *block);

/** Release the system heap's deferred blocks (xnheap_finalize_free()). */
#define xnfreesync() xnheap_finalize_free(xnheap_system())

#ifndef RTHEAP_XN_NO_KHEAP
/** Xenomai 2's system heap object: &kheap works as in Xenomai 2 code.
 *  Define RTHEAP_XN_NO_KHEAP before including this header if the name
 *  kheap is taken in your program. */
#define kheap (*xnheap_system())
#endif

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_XNHEAP_H */
