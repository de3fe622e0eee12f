/* SPDX-License-Identifier: MIT */
/*
 * owner.h -- the one door of the layers into the core.
 *
 * A layer (object caches, reserve pools, the process default heap, the
 * compatibility interfaces built on them) is a client of the heap.  It
 * includes this header and the public headers, and nothing else of heap/:
 * if a layer needs more, widen this door on purpose, with a comment.
 *
 * What the door offers:
 *  - owned runs: a run of pages taken for a layer, aligned to its own
 *    size, marked PG_OWNED in the page map, so that an address inside it
 *    is found in O(log E) (extent search, then one map read) and a release
 *    needs no per-object header;
 *  - a registry of layer objects per heap (struct rt_owner, embedded in
 *    the layer's own object), walked by rtheap_check() and the reports;
 *  - misuse reports through the heap's error callback and counters;
 *  - the memory-checker hooks (ASan, Memcheck) the heap uses for blocks;
 *  - the heap's lock mode and flags, for a layer that mirrors them.
 *
 *   heap page map:   ... | RUN|2 NONE | OWNED|8 NONE NONE ... NONE | FREE|5 ...
 *                                     ^ owned run, 8 pages, aligned to 8 P
 *                                     | the layer's own header at its start
 *
 * Every function is exported from the library with hidden visibility: it
 * is not part of the public API and may change with any release.
 */
#ifndef RTHEAP_OWNER_H
#define RTHEAP_OWNER_H

#include <errno.h>
#include <pthread.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_DOOR __attribute__((visibility("hidden")))

/* Debug fill patterns (RTHEAP_F_DEBUG_FILL): the heap's, for layers too. */
#define RT_OWNER_FILL_FRESH 0xa5
#define RT_OWNER_FILL_FREED 0xdd

struct rt_owner;

/* What the core may ask of a registered layer object. */
struct rt_owner_ops {
	const char *kind; /* "cache", "pool", ...: shown in reports */
	/* rtheap_check(): verify the object's own structures (it takes its
	 * own lock).  0, or -EUCLEAN with *f filled. */
	int (*check)(struct rt_owner *o, struct rtheap_fault *f);
	/* rtheap_dump(): print the object (one block of lines). */
	void (*dump)(struct rt_owner *o, FILE *out);
};

/* Embedded in the layer's object; the registry links them per heap. */
struct rt_owner {
	struct rt_owner *next, *prev;
	const struct rt_owner_ops *ops;
	rtheap_t *heap;
	const char *file; /* creator's file and line (reports) */
	int line;
};

/* -- registry (heap lock; O(1)) -- */

/* Link o (ops, file, line set by the caller) to heap: 0 or -EINVAL
 * (unusable heap). */
RT_DOOR int rt_owner_register(rtheap_t *heap, struct rt_owner *o);
/* Unlink o from its heap. */
RT_DOOR void rt_owner_unregister(struct rt_owner *o);
/* Iteration: the first registered object (o == NULL) or the one after o;
 * NULL at the end.  Not locked: no object may be registered or
 * unregistered meanwhile (reports and checks, documented as such). */
RT_DOOR struct rt_owner *rt_owner_next(rtheap_t *heap, struct rt_owner *o);

/* A layer's check found @p what at @p addr: fill *f (if not NULL; no
 * extent or page) and return -EUCLEAN, the result of ops->check. */
static inline int rt_owner_fault(struct rtheap_fault *f, const char *what,
                                 const void *addr)
{
	if (f) {
		f->what = what;
		f->addr = addr;
		f->extent = -1;
		f->page = -1;
	}
	return -EUCLEAN;
}

/* -- owned runs -- */

/* Kinds of owned runs.  The page map keeps the kind of each run, so that
 * rt_owner_find_kind() never takes another layer's run (of the same size)
 * for the caller's own.  A new layer adds its kind here (at most
 * RT_OWN_KIND_MAX). */
enum {
	RT_OWN_CACHE = 0,  /* object-cache slabs (cache.c) */
	RT_OWN_REGION = 1, /* region-pool blocks */
	RT_OWN_PAGES = 2,  /* page-order blocks */
	RT_OWN_PERCPU = 3, /* reserved: per-CPU chunks (percpu.c uses heap
	                    * blocks today, docs/percpu.md) */
	RT_OWN_KIND_MAX = 255
};

/* Take a run of @p bytes for a layer of kind @p kind (a power of two, at least the page size, at most
 * rtheap_owner_max()) aligned to @p bytes in absolute terms, marked owned
 * in the page map.  The memory is accessible to checkers (undefined
 * content).  It counts as a live block in the heap's statistics.  NULL if
 * no free run fits (a failed allocation: counted, the low-memory callback
 * runs) or @p bytes is not valid.  Bound: as rtheap_alloc_aligned().
 * Context: RT-safe (takes the heap lock). */
RT_DOOR void *rt_owner_take_kind(rtheap_t *heap, size_t bytes, unsigned kind);
/* rt_owner_take_kind(heap, bytes, RT_OWN_CACHE). */
RT_DOOR void *rt_owner_take(rtheap_t *heap, size_t bytes);
/* Give an owned run back: 0, or -EINVAL (not the start of an owned run;
 * nothing changes, no report: a layer bug).  The memory must not be
 * poisoned by the layer any more (rt_owner_unpoison() it first).  Bound:
 * as rtheap_free().  Context: RT-safe. */
RT_DOOR int rt_owner_give(rtheap_t *heap, void *run);
/* Give back the owned run that starts at @p run if it is one of exactly
 * @p bytes and kind @p kind, all under one heap lock (no other layer can
 * take the run between the check and the release): 0; -EFAULT: run is
 * outside every extent; -EINVAL: not the first page of such a run (a heap
 * block, free memory, an interior address, another size or kind; nothing
 * changes, no report: the layer reports); -EUCLEAN as rt_owner_give().
 * Bound: as rtheap_free().  Context: RT-safe. */
RT_DOOR int rt_owner_give_kind(rtheap_t *heap, void *run, size_t bytes, unsigned kind);
/* The owned run of @p bytes that would hold @p p: *run = p rounded down to
 * @p bytes.  0 if *run is the first page of an owned run of exactly
 * @p bytes and kind @p kind; -EFAULT: p is outside every extent; -EINVAL:
 * otherwise (a heap block, free memory, a run of another size or another
 * kind, a size that is not a power of two of at least a page, a kind above
 * RT_OWN_KIND_MAX).  Takes the heap lock (the
 * extent table may change under an extend); the caller's own lock keeps
 * its runs from being given back meanwhile.  Bound: O(log E).
 * Context: RT-safe. */
RT_DOOR int rt_owner_find_kind(rtheap_t *heap, const void *p, size_t bytes,
                               unsigned kind, void **run);
/* rt_owner_find_kind(heap, p, bytes, RT_OWN_CACHE, run). */
RT_DOOR int rt_owner_find(rtheap_t *heap, const void *p, size_t bytes, void **run);
/* Largest run rt_owner_take() accepts, in bytes (0 for an unusable heap). */
RT_DOOR size_t rt_owner_max(rtheap_t *heap);

/* -- batches and a lock-free view of the page map (widened for the
 *    per-thread caches, heap/tcache.c) --
 * A per-thread cache refills and flushes a batch of blocks of one size
 * under ONE heap lock, and finds the class of a block it is given without
 * the heap lock: through a view of one extent (its page array and page
 * map, which never move while the heap lives) and the decoder below.  The
 * page map entry of a live block does not change while the block lives,
 * except the free-block bits / count of a bucket page (not its class):
 * the core writes map entries with relaxed atomic stores, the view reads
 * them with relaxed atomic loads (both plain moves on the usual targets). */

/* Allocate up to @p n blocks of @p size bytes (as rtheap_alloc(), with its
 * accounting, checker hooks and debug fill) under one heap lock, into
 * out[0..).  Returns how many (fewer when the heap runs out: if none, the
 * failure is counted and the low-memory callback runs, as for one failed
 * rtheap_alloc(); a partial batch is not a failure).  0 also for an
 * unusable heap, @p size 0 or @p n 0, and for a broken shared heap (errno
 * ENOTRECOVERABLE, nothing allocated).  Bound: n x rtheap_alloc()'s.
 * Context: RT-safe. */
RT_DOOR unsigned rt_owner_alloc_batch(rtheap_t *heap, size_t size, unsigned n,
                                      void **out);
/* Under one heap lock: check that @p p starts a live block (as
 * rtheap_check_block(), nothing reported), then allocate @p size bytes
 * (as rtheap_alloc()) into *out.  0; the check's error (-EFAULT, -EINVAL:
 * nothing allocated); -ENOMEM: no memory (counted, low-memory callback,
 * as a failed rtheap_alloc()); -EINVAL: unusable heap, @p size 0 or NULL
 * @p out; -ENOTRECOVERABLE: a broken shared heap.  Bound:
 * rtheap_check_block()'s + rtheap_alloc()'s, one lock section.
 * Context: RT-safe. */
RT_DOOR int rt_owner_check_alloc(rtheap_t *heap, const void *p, size_t size,
                                 void **out);
/* Release @p n blocks (as rtheap_free() each) under one heap lock.
 * 0, or the first error (that block stays as it was, reported as
 * rtheap_free() reports it; the others are released).  -EINVAL for an
 * unusable heap; -ENOTRECOVERABLE for a broken shared heap (nothing
 * released).  Bound: n x rtheap_free()'s.
 * Context: RT-safe. */
RT_DOOR int rt_owner_free_batch(rtheap_t *heap, unsigned n, void *const *ptrs);

/* One extent seen without the heap lock: an address a is in its page
 * array iff a - base < span; its page's map entry is
 * rt_owner_map_load(map, (a - base) >> page shift). */
struct rt_owner_view {
	uintptr_t base;       /* page array (aligned to the page size) */
	size_t span;          /* its bytes */
	const uint32_t *map;  /* its page map */
};
/* The view of the extent that holds @p p (heap lock): 0; -EFAULT: p is in
 * no extent's page array; -EINVAL: unusable heap; -ENOTRECOVERABLE: a
 * broken shared heap.  Bound: O(log E).
 * Context: RT-safe. */
RT_DOOR int rt_owner_view(rtheap_t *heap, const void *p, struct rt_owner_view *v);
/* log2 of the heap's page size (0 for an unusable heap). */
RT_DOOR unsigned rt_owner_page_shift(rtheap_t *heap);

/* Decoder of page map entries (owner.c asserts it agrees with the core):
 * type in bits 29..31; a RUN entry (the first page of a live page-run
 * block) holds the run's length in pages in bits 0..28; a BUCKET entry
 * (a page of bucket blocks) holds the class c (blocks of 16 << c bytes,
 * at offsets multiple of their size in the page) in bits 25..28. */
#define RT_OWNER_MAP_RUN 2u
#define RT_OWNER_MAP_BUCKET 3u
static inline uint32_t rt_owner_map_load(const uint32_t *map, size_t pg)
{
	return __atomic_load_n(&map[pg], __ATOMIC_RELAXED);
}
static inline unsigned rt_owner_map_type(uint32_t e)
{
	return (unsigned)(e >> 29);
}
static inline unsigned rt_owner_map_class(uint32_t e)
{
	return (unsigned)((e >> 25) & 0xfu);
}
static inline uint32_t rt_owner_map_len(uint32_t e)
{
	return e & 0x1fffffffu;
}

/* -- the heap's settings -- */

/* Lock mode of the heap (rtheap_config.lock), -1 if unusable. */
RT_DOOR int rt_owner_lock_mode(rtheap_t *heap);
/* Flags of the heap (enum rtheap_flags: RTHEAP_F_DEBUG_FILL, ...). */
RT_DOOR unsigned rt_owner_flags(rtheap_t *heap);
/* Whether @p heap is a process-shared heap marked broken (a lock owner
 * died in the middle of a change): after a door or heap call got nothing,
 * it tells ENOTRECOVERABLE from ENOMEM.  No lock (a relaxed load; the mark
 * is never cleared).  false for an unusable heap.  Bound: O(1).
 * Context: RT-safe. */
RT_DOOR bool rt_owner_broken(rtheap_t *heap);
/* Initialise @p m as a priority-inheritance mutex, as the heap's own lock
 * is made: 0 or -ENOTSUP. */
RT_DOOR int rt_owner_pi_mutex_init(pthread_mutex_t *m);

#ifndef __cplusplus
/* A layer object's own lock, in the heap's lock modes (RTHEAP_LOCK_NONE:
 * nothing; RTHEAP_LOCK_PI_MUTEX: a priority-inheritance mutex;
 * RTHEAP_LOCK_SPIN: a test-and-set spinlock).  Taken before the heap's
 * lock, never after it.  (Not for C++: the tests that include this header
 * do not use it.) */
struct rt_layer_lock {
	int mode;
	atomic_flag spin;
	pthread_mutex_t mtx;
};

/* 0, or -ENOTSUP (no priority-inheritance mutex on this system). */
static inline int rt_layer_lock_init(struct rt_layer_lock *l, int mode)
{
	l->mode = mode;
	atomic_flag_clear(&l->spin);
	return mode == RTHEAP_LOCK_PI_MUTEX ? rt_owner_pi_mutex_init(&l->mtx) : 0;
}

static inline void rt_layer_lock_destroy(struct rt_layer_lock *l)
{
	if (l->mode == RTHEAP_LOCK_PI_MUTEX)
		pthread_mutex_destroy(&l->mtx);
}

static inline void rt_layer_lock(struct rt_layer_lock *l)
{
	if (l->mode == RTHEAP_LOCK_NONE)
		return;
	if (l->mode == RTHEAP_LOCK_PI_MUTEX) {
		pthread_mutex_lock(&l->mtx);
		return;
	}
	while (atomic_flag_test_and_set_explicit(&l->spin, memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
}

static inline void rt_layer_unlock(struct rt_layer_lock *l)
{
	if (l->mode == RTHEAP_LOCK_NONE)
		return;
	if (l->mode == RTHEAP_LOCK_PI_MUTEX) {
		pthread_mutex_unlock(&l->mtx);
		return;
	}
	atomic_flag_clear_explicit(&l->spin, memory_order_release);
}
#endif

/* -- misuse -- */

/* Report a misuse of a layer call on @p addr: counted in the heap's
 * errors, delivered to its error callback (outside every lock: call it
 * after releasing the layer's lock), abort with RTHEAP_F_ABORT_ON_ERROR. */
RT_DOOR void rt_owner_report(rtheap_t *heap, rtheap_error_kind_t kind,
                             const void *addr);

/* -- memory checkers (the heap's hooks) -- */

/* Non-zero when a checker watches the process (ASan or Memcheck): the
 * calls below are no-ops otherwise; a layer may test this first. */
RT_DOOR unsigned rt_owner_checked(void);
/* An object of n bytes at p is handed out: accessible, its contents kept;
 * Memcheck sees a malloc-like block, defined if @p defined (a constructed
 * or zeroed object), else undefined. */
RT_DOOR void rt_owner_obj_alloc(void *p, size_t n, int defined);
/* An object is free again: no access. */
RT_DOOR void rt_owner_obj_free(void *p, size_t n);
/* Open / close free memory the layer itself reads or writes. */
RT_DOOR void rt_owner_open(void *p, size_t n);
RT_DOOR void rt_owner_close(void *p, size_t n);
/* Debug fill: the first byte of [p, p + n) that does not hold
 * RT_OWNER_FILL_FREED, or NULL (the heap's own check of its freed
 * memory).  The memory must be open to the checkers.  Bound: O(n). */
RT_DOOR const void *rt_owner_fill_broken(const void *p, size_t n);

/* -- fork (widened for the process default heap, heap/default.c) --
 * A heap in private memory lives on in a forked child, but only the
 * forking thread does: a lock held by another thread at fork() would stay
 * held in the child forever, and a priority-inheritance mutex cannot even
 * be released there by the forking thread (its word names the parent's
 * thread id: EPERM).  pthread_atfork handlers call, in this order:
 * prepare: take the heap lock (the heap is consistent while it is held);
 * parent: release it; child: release it as far as the C library lets
 * (so that ThreadSanitizer sees it free) and set it up afresh, free (no
 * heap state changes).  @p heap: a live heap.  Context: the atfork handlers only;
 * not from a thread that holds the heap lock (a heap callback). */
RT_DOOR void rt_owner_fork_prepare(rtheap_t *heap);
RT_DOOR void rt_owner_fork_parent(rtheap_t *heap);
RT_DOOR void rt_owner_fork_child(rtheap_t *heap);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_OWNER_H */
