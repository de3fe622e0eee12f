/* SPDX-License-Identifier: MIT */
/*
 * rtheap/classheap.h -- the size-class allocator over a buffer: thirteen
 * power-of-two classes, 16 B to 64 KiB, served by an rtheap that runs on
 * one buffer (the caller's, or one allocated once at open), with an
 * optional fall-back to the system allocator (malloc) for what the
 * classes or the buffer cannot hold.  The native layer behind
 * rtheap/compat/walloc.h (the embedded web server's walloc family).
 *
 * The classes are real: a request of n bytes (0 included) takes a block
 * of its class, the smallest 16 << q (q = 0 .. 12) of at least n bytes,
 * and the block has room for the whole class: rtclass_usable_size() is
 * the class size, and rtclass_realloc() within the class never moves it.
 * Classes up to half a heap page are the heap's buckets (aligned to their
 * size); larger classes are page runs of exactly the class size (aligned
 * to the page).  No block carries a header: the heap's page map tells
 * the class of a heap block, and a block outside the heap is looked up in
 * the registry of fall-back blocks, so that a release of anything else is
 * an exact error instead of a crash.
 *
 *   rtclass_t: { rtheap over the buffer | registry of malloc blocks |
 *                references | notifier | per-class counters }
 *   request n -> class q -> rtheap_alloc(16 << q)    (RT, bounded)
 *             -> else, if RTCLASS_F_SYSTEM: malloc    (not RT)
 *             -> else NULL, notifier(n)
 *
 * Real-time paths: rtclass_alloc() of a class size served by the heap,
 * rtclass_free() of a heap block, rtclass_realloc() that stays in the
 * class (and one that moves to another heap block: a copy of the old
 * block, O(class size)).  Everything that touches the system allocator
 * (a fall-back block's allocation, release or resize; a release of an
 * address outside the heap; open; close) is not a real-time call.
 *
 * Errors are negative errno values; misuse (a release of something that
 * is not a live block) also goes to the heap's error callback
 * (rtheap_set_error_handler() on rtclass_heap()) and its error count.
 *
 * Threads: allocation, release and resize may run concurrently (the heap
 * has its lock, the registry its own mutex, taken only on the system
 * paths).  Open and close are reference counted and serialised among
 * themselves; the last close must not race with any other call.
 */
#ifndef RTHEAP_CLASSHEAP_H
#define RTHEAP_CLASSHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Number of classes: 16, 32, ..., 65536 bytes. */
#define RTCLASS_NR 13
/** Smallest class (bytes). */
#define RTCLASS_MIN 16u
/** Largest class (bytes): requests above it go to the system allocator
 *  with RTCLASS_F_SYSTEM, else fail. */
#define RTCLASS_MAX 65536u
/** Buffer allocated at open when the caller gives neither buffer nor
 *  size (the original's default). */
#define RTCLASS_DEFAULT_BUFFER (64u * 1024u)
/** Words of an rtclass_t: the heap descriptor and the layer's state. */
#define RTCLASS_WORDS (RTHEAP_DESC_WORDS + 56)

/**
 * The class heap.  A complete type so that it can be static, on the
 * stack or inside another object; its content is private.  Zero it
 * before its first open (static storage is): a zeroed object is closed.
 */
typedef struct rtclass_s {
	uint64_t opaque_[RTCLASS_WORDS];
} rtclass_t;

/** Flags of rtclass_open(). */
enum rtclass_flags {
	/** Requests above RTCLASS_MAX, and class requests the buffer cannot
	 *  serve, fall back to malloc (not RT).  Such blocks are released and
	 *  resized by the same calls, which route each block to where it
	 *  came from. */
	RTCLASS_F_SYSTEM = 1u << 0,
	/** The heap's debug mode (RTHEAP_F_DEBUG_FILL): fresh blocks are
	 *  filled with 0xA5, released ones with 0xDD, and a write into a
	 *  released block is reported when its memory is handed out again.
	 *  Fall-back blocks get the same patterns (not checked).  Costs
	 *  O(class size) per call: not for real-time use. */
	RTCLASS_F_DEBUG_FILL = 1u << 1,
	/** The heap takes no lock (RTHEAP_LOCK_NONE): one thread only. */
	RTCLASS_F_NOLOCK = 1u << 2,
};

/**
 * Called, in the failing call, when an allocation or a resize returns
 * NULL (and only then), with the size that could not be served: the
 * request as the caller gave it, not its class.  It may call the class
 * heap (free something, for instance); a call from it that fails calls it
 * again.  It runs in the caller's context: keep it RT-safe if the caller
 * is a real-time thread.
 */
typedef void (*rtclass_notify_fn)(size_t size, void *arg);

/** Statistics (rtclass_get_stats()). */
struct rtclass_stats {
	unsigned refs;                 /**< open references (0: closed) */
	size_t buffer;                 /**< bytes of the buffer under the heap */
	size_t usable;                 /**< bytes of it blocks can use (heap page array) */
	size_t heap_free;              /**< free bytes of the heap */
	size_t largest_free;           /**< the heap's largest servable run */
	size_t class_allocs[RTCLASS_NR]; /**< heap allocations of class 16 << q
	                                    since open (resizes that moved included) */
	size_t heap_live;              /**< live heap blocks */
	size_t heap_bytes;             /**< sum of their class sizes */
	size_t sys_live;               /**< live fall-back blocks */
	size_t sys_bytes;              /**< their bytes (as allocated) */
	size_t sys_calls;              /**< fall-back allocations since open */
	size_t failed;                 /**< allocations / resizes that returned NULL */
	size_t errors;                 /**< misuses the heap counted (bad releases...) */
};

/**
 * Open @p c, or take one more reference on it.
 *
 * First open: the heap runs on @p buf (@p size bytes, 8-byte aligned,
 * the caller's until the last close) or, with @p buf NULL, on a buffer of
 * @p size bytes (RTCLASS_DEFAULT_BUFFER when 0) allocated once here with
 * malloc and released by the last close.  The heap's page size is its
 * default (256 B: classes up to 128 B are buckets, larger ones runs).
 * Later opens only count a reference: their buffer, size and flags are
 * ignored (the first opener's settings stay; the original let a later
 * opener change the flags of everyone).
 * @return 0; -EINVAL: NULL @p c, unknown flags, a buffer the heap refuses
 *         (too small for its header and two pages, misaligned) -- the
 *         object stays closed; -ENOMEM: the buffer could not be allocated;
 *         -ENOTSUP: the heap's PI mutex could not be made; -EOVERFLOW: the
 *         reference count is at its maximum (INT_MAX).
 * Bound: first open O(buffer pages) (the heap clears its page map) plus
 *        malloc; later opens O(1).
 * Context: not RT (malloc, mutex creation).
 */
int rtclass_open(rtclass_t *c, void *buf, size_t size, unsigned flags);

/**
 * Open @p c as rtclass_open(c, NULL, 0, 0) does if it is closed; nothing
 * (no reference taken) if it is open.  The original's start on first
 * allocation (walloc before any wopenAlloc).
 * @return 0 or rtclass_open()'s error.
 * Bound: O(1) when open.  Context: as rtclass_open() when closed; RT-safe
 *        when open.
 */
int rtclass_open_auto(rtclass_t *c);

/**
 * Drop one reference.  The last one destroys the heap (its blocks are
 * gone), releases every fall-back block still live and the registry, and
 * the buffer if open allocated it; the object is closed and may be opened
 * again.  The notifier stays set.
 * @return the references left (0 after the last); -EINVAL: NULL or
 *         closed @p c.
 * Bound: O(1), the last close O(live fall-back blocks) plus free().
 * Context: not RT.  The last close must not race with any other call.
 */
int rtclass_close(rtclass_t *c);

/**
 * Allocate a block of the class of @p size (0 is the 16-byte class).
 * From the heap first; if it has no block of the class, or @p size is
 * above RTCLASS_MAX, from malloc when RTCLASS_F_SYSTEM is set: malloc of
 * the class size for a class request (so the block still holds its whole
 * class), of @p size above RTCLASS_MAX.
 * The block is aligned to min(class, 256) from the heap (at least 16),
 * malloc's alignment otherwise.
 * @return the block; NULL (the notifier called with @p size): no memory
 *         in the heap and no fall-back (not allowed, or malloc failed),
 *         or @p size above RTCLASS_MAX without RTCLASS_F_SYSTEM; NULL
 *         without notifier: @p c closed or NULL.
 * Bound: heap path as rtheap_alloc() (O(1)) plus one atomic increment
 *        (the class's allocation counter).
 *        Fall-back: malloc plus a registry insertion (expected O(1), worst
 *        O(live fall-back blocks); growing the registry O(its size)).
 * Context: RT-safe when served by the heap; a request above RTCLASS_MAX,
 *          or one the heap cannot serve with RTCLASS_F_SYSTEM, is not.
 */
void *rtclass_alloc(rtclass_t *c, size_t size);

/**
 * Release a block to where it came from: a heap block to the heap, a
 * fall-back block to free().  NULL does nothing (returns 0).
 * @return 0; -EINVAL: @p p is inside the heap but not the start of a live
 *         block (interior pointer, double release), or @p c is closed;
 *         -EFAULT: @p p is neither in the heap nor a live fall-back block
 *         (foreign pointer, fall-back block released twice).  Errors
 *         change nothing and are reported to the heap's error callback
 *         (RTHEAP_ERR_NOT_BLOCK / RTHEAP_ERR_DOUBLE_FREE / RTHEAP_ERR_FOREIGN,
 *         as rtheap_free() classifies them), counted in its errors.
 *         With RTCLASS_F_DEBUG_FILL, -EUCLEAN as rtheap_free().
 * Routing: an address inside the buffer is the heap's (rtheap_free()
 * judges it); outside it, with RTCLASS_F_SYSTEM, the registry is searched.
 * Bound: an address inside the buffer, or any address without
 *        RTCLASS_F_SYSTEM: two compares and rtheap_free() (O(log E)).
 *        Otherwise the registry mutex and search (expected O(1), worst
 *        O(live fall-back blocks)) and free().
 * Context: RT-safe for an address inside the buffer (and for any address
 *          without RTCLASS_F_SYSTEM); not RT for others.
 */
int rtclass_free(rtclass_t *c, void *p);

/**
 * Resize the block *@p pp to hold @p size bytes.  A block whose usable
 * size (its class; a fall-back block's allocated size) is at least
 * @p size stays where it is (shrinking too: nothing is given back).
 * Otherwise a block of the class of @p size is allocated as
 * rtclass_alloc() does, the old block's usable bytes copied into it, the
 * old block released, and *@p pp set to the new one.  *@p pp NULL is
 * rtclass_alloc().
 * @return 0; -ENOMEM: no block for @p size (the notifier called with
 *         @p size; the old block untouched); -EINVAL / -EFAULT: *@p pp is
 *         not a live block (as rtclass_free(); reported to the error
 *         callback; nothing changes), or @p c / @p pp NULL or @p c closed
 *         (-EINVAL).
 * Bound: O(log E) when a heap block stays (a fall-back block: the
 *        registry search); otherwise rtclass_alloc() plus a
 *        copy of the old usable size plus rtclass_free().
 * Context: RT-safe when the old and the new block are heap blocks.
 */
int rtclass_resize(rtclass_t *c, void **pp, size_t size);

/** rtclass_resize() with realloc's form: the block (the same or a new
 *  one), or NULL on any error (the old block untouched).  NULL @p p is
 *  rtclass_alloc().  Bound and context: rtclass_resize()'s. */
void *rtclass_realloc(rtclass_t *c, void *p, size_t size);

/**
 * Usable bytes of the live block at @p p: its class size for a heap
 * block, the allocated size for a fall-back block; 0 otherwise.
 * Bound: O(log E), plus the registry search outside the heap.
 * Context: RT-safe for heap addresses.
 */
size_t rtclass_usable_size(rtclass_t *c, const void *p);

/**
 * Set (or clear with NULL @p fn) the notifier.  Allowed on a closed
 * object; kept across close and open.  fn and arg are two stores: set
 * them while no allocation may fail concurrently, or a failure may see
 * the new function with the old argument.
 * @return 0, or -EINVAL for NULL @p c.  Bound: O(1).  Context: any.
 */
int rtclass_set_notifier(rtclass_t *c, rtclass_notify_fn fn, void *arg);

/**
 * A snapshot of the statistics (each counter read once; concurrent calls
 * may make them disagree slightly).
 * @return 0, or -EINVAL: NULL argument or closed @p c.
 * Bound: O(1) (the heap's lock, the registry's mutex).  Context: not RT.
 */
int rtclass_get_stats(rtclass_t *c, struct rtclass_stats *st);

/**
 * The heap under @p c, for its error handler, checks and dumps; NULL when
 * @p c is closed.  The class heap is registered with it (kind "class")
 * from the first open to the last close: rtheap_check() on it also checks
 * the registry of fall-back blocks and the class counters (-EUCLEAN, a
 * fault whose what starts with "class:"), and rtheap_dump() prints the
 * classes, counters and fall-back blocks.  Do not allocate from it or
 * release its blocks directly: the class counters would not know (and
 * rtheap_check() reports more live blocks than class allocations).
 * Bound: O(1).  Context: any.
 */
rtheap_t *rtclass_heap(rtclass_t *c);

/** Class index q (size 16 << q) of a request of @p size bytes, or -1
 *  above RTCLASS_MAX.  Bound: O(1).  Context: any. */
int rtclass_class_of(size_t size);

/**
 * The process-wide class heap of rtheap/compat/walloc.h: the one global
 * object, forced by the original's calls, which name no heap.  Closed
 * until the first wopenAlloc() (or walloc()).  Native code should own its
 * rtclass_t instead.  Bound: O(1).  Context: any.
 */
rtclass_t *rtclass_global(void);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_CLASSHEAP_H */
