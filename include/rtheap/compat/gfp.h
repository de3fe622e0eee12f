/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/gfp.h -- the kernel's allocation flags, one definition for
 * every kernel-style compatibility header (rtheap/compat/slab.h,
 * rtheap/compat/kernel.h).
 *
 *  - GFP_ATOMIC never waits: a request that finds no memory fails at once
 *    (RT-safe);
 *  - GFP_KERNEL may wait: what it waits for is said by each call (a
 *    release to a reserve pool, a release to the heap or the growth of
 *    the process default heap, with a timeout for kmalloc and the page
 *    calls).  GFP_NOIO and GFP_NOFS are GFP_KERNEL (they differ only in
 *    what the kernel's reclaim may do while waiting; there is none here);
 *  - __GFP_ZERO: zero-filled memory (kmalloc and the page calls).
 *
 * They are ints, as the 2.6 kernel's flags were, and gfp_t (the later
 * kernels' type of a flag word) is an unsigned int, so that code of both
 * eras compiles.  GFP_ATOMIC and GFP_KERNEL have the values of the native
 * RTPOOL_NOWAIT / RTPOOL_WAIT (rtheap/pool.h) and RTKMEM_ATOMIC /
 * RTKMEM_WAIT (rtheap/kmem.h), __GFP_ZERO that of RTKMEM_ZERO: a flag
 * word passes unchanged to the native calls.
 */
#ifndef RTHEAP_COMPAT_GFP_H
#define RTHEAP_COMPAT_GFP_H

#include "rtheap/kmem.h"
#include "rtheap/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A word of allocation flags (the later kernels' gfp_t). */
typedef unsigned int gfp_t;

#define GFP_ATOMIC ((int)RTPOOL_NOWAIT)
#define GFP_KERNEL ((int)RTPOOL_WAIT)
#define GFP_NOIO GFP_KERNEL
#define GFP_NOFS GFP_KERNEL
#define __GFP_ZERO ((int)RTKMEM_ZERO)

#ifdef __cplusplus
static_assert((int)RTKMEM_ATOMIC == (int)RTPOOL_NOWAIT && (int)RTKMEM_WAIT == (int)RTPOOL_WAIT,
              "GFP_ATOMIC and GFP_KERNEL serve rtpool and rtkmem");
#else
_Static_assert((int)RTKMEM_ATOMIC == (int)RTPOOL_NOWAIT && (int)RTKMEM_WAIT == (int)RTPOOL_WAIT,
               "GFP_ATOMIC and GFP_KERNEL serve rtpool and rtkmem");
#endif

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_GFP_H */
