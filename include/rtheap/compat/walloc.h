/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/walloc.h -- the embedded web server's block allocator
 * (wopenAlloc, wcloseAlloc, walloc, wfree, wrealloc, the memory notifier
 * and the USE_MALLOC flag) over rtheap's class heap (rtheap/classheap.h).
 *
 * Code written for those calls compiles against this header unchanged:
 * the sizes are int as in the original (a negative size gives NULL, or
 * -1 from wopenAlloc), wfree returns nothing, the notifier takes the size
 * that could not be served.  Every call is one native call (walloc two:
 * the start on first use), so bounds, contexts and errors are the native
 * ones of rtheap/classheap.h.
 *
 * Global state.  The original's calls name no heap, so they all work on
 * one process-wide class heap, rtclass_global(): that object (and the
 * notifier slot below) is the only global state of this interface, and
 * it is forced by the signatures.  Native code that wants several heaps
 * uses rtclass_t objects of its own.
 *
 * What it keeps from the original: thirteen power-of-two classes from 16
 * bytes to 64 KiB; the buffer is the caller's (buf non-NULL) or allocated
 * once at open (buf NULL; bufsize 0 means 64 KiB); wopenAlloc and
 * wcloseAlloc are reference counted, the last close releasing what open
 * allocated; walloc before any wopenAlloc opens with the defaults (64 KiB
 * allocated, no USE_MALLOC); with USE_MALLOC, requests above 64 KiB and
 * requests the buffer cannot serve fall back to malloc, and wfree /
 * wrealloc route each block to where it came from; wrealloc keeps the
 * block when it is already big enough (a block has room for its whole
 * class, so growing within the class never moves it); walloc(0) gives a
 * 16-byte block; wrealloc(NULL, n) is walloc(n).
 *
 * How it differs from the original:
 *  - no header on the blocks: a class block is exactly its class size in
 *    the buffer (the original adds 8 to 16 bytes to each);
 *  - a bad pointer given to wfree or wrealloc (foreign, interior, freed
 *    twice) changes nothing and is reported to the heap's error callback
 *    (rtheap_set_error_handler(rtclass_heap(rtclass_global()), ...)),
 *    where the original asserted a magic word, or read outside any block;
 *  - freed memory goes back to the heap (coalescing runs) instead of
 *    staying on its class list for good;
 *  - the notifier is called whenever walloc or wrealloc returns NULL for
 *    lack of memory (not for a negative size), with the size asked for;
 *  - a later wopenAlloc only counts a reference: it no longer replaces
 *    the flags of the first; wcloseAlloc of the last reference also
 *    releases every fall-back block still live;
 *  - wrealloc with a negative size returns NULL (the block untouched);
 *    shrinking keeps the block, as in the original;
 *  - WALLOC_DEBUG_FILL (ours) turns on the heap's debug fill patterns.
 *
 * Real-time paths: walloc, wfree and wrealloc of blocks of the classes
 * served by the buffer.  wopenAlloc, wcloseAlloc, the first walloc (when
 * it opens) and everything that falls back to malloc are not.
 */
#ifndef RTHEAP_COMPAT_WALLOC_H
#define RTHEAP_COMPAT_WALLOC_H

#include <limits.h>
#include <stddef.h>

#include "rtheap/classheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The original's flags: malloc may serve what the buffer cannot; the
 * caller gave the buffer (accepted and ignored: the buffer argument
 * decides, as it did in the original). */
#ifndef USE_MALLOC
#define USE_MALLOC 0x1
#endif
#ifndef WEBS_USE_MALLOC
#define WEBS_USE_MALLOC USE_MALLOC
#endif
#ifndef WEBS_USER_BUF
#define WEBS_USER_BUF 0x2
#endif
/* Ours: the heap's debug mode (fill patterns, use-after-free checks). */
#define WALLOC_DEBUG_FILL 0x100
/* The original's class constants. */
#ifndef WEBS_MAX_CLASS
#define WEBS_MAX_CLASS RTCLASS_NR
#endif
#ifndef WEBS_SHIFT
#define WEBS_SHIFT 4
#endif
#ifndef WEBS_DEFAULT_MEM
#define WEBS_DEFAULT_MEM ((int)RTCLASS_DEFAULT_BUFFER)
#endif

/** The notifier: called with the size that could not be served. */
typedef void (*WebsMemNotifier)(int size);

/** Open (or count one more opener of) the process-wide class heap:
 *  0, or -1 (negative @p bufsize, buffer refused, no memory). */
static inline int wopenAlloc(void *buf, int bufsize, int flags)
{
	unsigned f = ((flags & USE_MALLOC) ? (unsigned)RTCLASS_F_SYSTEM : 0u) |
	             ((flags & WALLOC_DEBUG_FILL) ? (unsigned)RTCLASS_F_DEBUG_FILL : 0u);
	if (bufsize < 0)
		return -1;
	return rtclass_open(rtclass_global(), buf, (size_t)bufsize, f) == 0 ? 0 : -1;
}

/** Drop one reference; the last releases everything. */
static inline void wcloseAlloc(void)
{
	(void)rtclass_close(rtclass_global());
}

/** A block of the class of @p size; NULL for a negative size or when no
 *  memory serves it (then the notifier runs). */
static inline void *walloc(int size)
{
	rtclass_t *c = rtclass_global();
	if (size < 0 || rtclass_open_auto(c) != 0)
		return NULL;
	return rtclass_alloc(c, (size_t)size);
}

/** Release a block (NULL: nothing); a bad pointer is reported, not
 *  followed. */
static inline void wfree(void *blk)
{
	(void)rtclass_free(rtclass_global(), blk);
}

/** The same block when it holds @p newsize bytes, else a new one with
 *  the old contents (the old released); NULL on failure, the old block
 *  untouched.  wrealloc(NULL, n) is walloc(n). */
static inline void *wrealloc(void *blk, int newsize)
{
	if (!blk)
		return walloc(newsize);
	if (newsize < 0)
		return NULL;
	return rtclass_realloc(rtclass_global(), blk, (size_t)newsize);
}

/* The native notifier passes a size_t and an argument: the argument
 * points to the slot that holds the caller's function. */
static inline void rtclass_walloc_notify_(size_t size, void *arg)
{
	WebsMemNotifier fn = *(WebsMemNotifier *)arg;
	if (fn)
		fn(size > (size_t)INT_MAX ? INT_MAX : (int)size);
}

/** Set (NULL: clear) the notifier, called when an allocation fails. */
static inline void websSetMemNotifier(WebsMemNotifier cback)
{
	static WebsMemNotifier slot;
	slot = cback;
	(void)rtclass_set_notifier(rtclass_global(), cback ? rtclass_walloc_notify_ : NULL,
	                           (void *)&slot);
}

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_WALLOC_H */
