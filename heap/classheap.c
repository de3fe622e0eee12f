/* SPDX-License-Identifier: MIT */
/*
 * classheap.c -- the size-class allocator over a buffer (rtheap/classheap.h):
 * thirteen power-of-two classes served by an rtheap on one buffer, with a
 * registry of fall-back (malloc) blocks so that every release is routed
 * to where its block came from and anything else is an exact error.
 *
 * A layer of its own: it includes owner.h and the public headers only.
 * It is the one layer that calls the system allocator, on purpose and
 * only off the real-time paths: the buffer allocated once at open, the
 * fall-back blocks and the registry's table.
 *
 * Heap blocks.  A request takes rtheap_alloc(16 << q): up to half a page
 * a bucket block of exactly the class, above it a run of class / P pages.
 * Either way rtheap_usable_size() of the block is its class, read back
 * from the heap's page map when it is needed (resize): no header, no
 * table.
 *
 * Routing.  The heap never grows: its one extent lies inside the buffer,
 * so an address inside [buffer, buffer + size) is the heap's to judge
 * (rtheap_free() answers exactly, and reports), and an address outside it
 * is a fall-back block or foreign (rtheap_check_block() would say -EFAULT
 * for it: tests/test_classheap.cc checks that the two agree).  A release
 * of a heap block is thus two compares and rtheap_free(): no extra lookup.
 *
 * Fall-back blocks.  An open-addressing hash set of (address, size),
 * linear probing, backward-shift deletion, kept at most half full, grown
 * by doubling under the registry mutex.  Expected O(1) per operation; a
 * pathological address pattern makes a probe sequence O(live fall-back
 * blocks).  The system allocator behind it is not bounded either.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owner.h"
#include "rtheap/classheap.h"
#include "rtheap/rtheap.h"

#define CL_MAGIC 0x72636c73u /* "rcls" */
#define CL_TAB_MIN 16u

struct cl_ent {
	uintptr_t addr;        /* 0: empty slot */
	size_t size;
};

struct cl {
	rtheap_t heap;
	unsigned magic;        /* CL_MAGIC while open */
	unsigned flags;
	int refs;              /* under cl_open_lock */
	void *own;             /* the buffer open allocated, or NULL */
	size_t bufsize;
	uintptr_t lo, hi;      /* the buffer: [lo, hi) */
	pthread_mutex_t sys_lock;
	/* under sys_lock */
	struct cl_ent *tab;
	size_t cap, nsys, sys_bytes;
	/* touched without a lock */
	_Atomic(rtclass_notify_fn) notify;
	_Atomic(void *) notify_arg;
	atomic_size_t allocs[RTCLASS_NR]; /* counted before the heap call */
	atomic_size_t failed;
	size_t sys_calls;      /* under sys_lock */
	struct rt_owner owner; /* in the heap's registry while open */
};

_Static_assert(sizeof(struct cl) <= sizeof(rtclass_t), "rtclass_t too small");
_Static_assert(_Alignof(struct cl) <= _Alignof(rtclass_t), "rtclass_t misaligned");

static pthread_mutex_t cl_open_lock = PTHREAD_MUTEX_INITIALIZER;
static rtclass_t cl_global;

static int cl_op_check(struct rt_owner *o, struct rtheap_fault *f);
static void cl_op_dump(struct rt_owner *o, FILE *out);
static const struct rt_owner_ops cl_ops = {
	.kind = "class",
	.check = cl_op_check,
	.dump = cl_op_dump,
};

static struct cl *cl_of(rtclass_t *c)
{
	return (struct cl *)(void *)c;
}

/* The open object behind @p c, or NULL. */
static struct cl *cl_get(rtclass_t *c)
{
	struct cl *k = c ? cl_of(c) : NULL;
	return k && k->magic == CL_MAGIC ? k : NULL;
}

int rtclass_class_of(size_t size)
{
	unsigned w;
	if (size > RTCLASS_MAX)
		return -1;
	if (size <= RTCLASS_MIN)
		return 0;
	/* bits of size - 1: the smallest power of two >= size is 1 << w */
	w = (unsigned)(sizeof(unsigned long long) * CHAR_BIT) -
	    (unsigned)__builtin_clzll((unsigned long long)(size - 1u));
	return (int)w - 4;
}

static size_t cl_size(int q)
{
	return (size_t)RTCLASS_MIN << q;
}

/* ------------------------------------------------------------------ */
/* The registry of fall-back blocks (under sys_lock)                   */
/* ------------------------------------------------------------------ */

static size_t cl_hash(const struct cl *k, uintptr_t a)
{
	uint64_t h = (uint64_t)(a >> 4) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (k->cap - 1u);
}

/* Slot of @p a, or of the empty slot where it would go. */
static size_t cl_slot(const struct cl *k, uintptr_t a)
{
	size_t i = cl_hash(k, a);
	while (k->tab[i].addr && k->tab[i].addr != a)
		i = (i + 1u) & (k->cap - 1u);
	return i;
}

static void cl_put(struct cl *k, uintptr_t a, size_t size)
{
	size_t i = cl_slot(k, a);
	k->tab[i].addr = a;
	k->tab[i].size = size;
}

/* Make room for one more entry: 0 or -ENOMEM. */
static int cl_reserve(struct cl *k)
{
	struct cl_ent *old = k->tab;
	size_t oldcap = k->cap, cap = oldcap ? oldcap * 2u : CL_TAB_MIN;
	if (2u * (k->nsys + 1u) <= oldcap)
		return 0;
	k->tab = calloc(cap, sizeof(*k->tab));
	if (!k->tab) {
		k->tab = old;
		return -ENOMEM;
	}
	k->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].addr)
			cl_put(k, old[i].addr, old[i].size);
	free(old);
	return 0;
}

/* Remove slot @p i, shifting back the entries of its probe run. */
static void cl_remove(struct cl *k, size_t i)
{
	size_t j = i, m = k->cap - 1u;
	for (;;) {
		j = (j + 1u) & m;
		if (!k->tab[j].addr)
			break;
		size_t h = cl_hash(k, k->tab[j].addr);
		/* the entry at j may fill i if its home is not in (i, j] */
		if (((j - h) & m) >= ((j - i) & m)) {
			k->tab[i] = k->tab[j];
			i = j;
		}
	}
	k->tab[i].addr = 0;
	k->tab[i].size = 0;
}

/* Size of the fall-back block at @p p, 0 if there is none. */
static size_t cl_sys_size(struct cl *k, const void *p)
{
	size_t n = 0;
	pthread_mutex_lock(&k->sys_lock);
	if (k->cap) {
		size_t i = cl_slot(k, (uintptr_t)p);
		n = k->tab[i].addr ? k->tab[i].size : 0;
	}
	pthread_mutex_unlock(&k->sys_lock);
	return n;
}

static void *cl_sys_alloc(struct cl *k, size_t size)
{
	void *p = malloc(size);
	int rc;
	if (!p)
		return NULL;
	pthread_mutex_lock(&k->sys_lock);
	rc = cl_reserve(k);
	if (rc == 0) {
		cl_put(k, (uintptr_t)p, size);
		k->nsys++;
		k->sys_bytes += size;
		k->sys_calls++;
	}
	pthread_mutex_unlock(&k->sys_lock);
	if (rc) {
		free(p);
		return NULL;
	}
	if (k->flags & RTCLASS_F_DEBUG_FILL)
		memset(p, RT_OWNER_FILL_FRESH, size);
	return p;
}

/* Release the fall-back block @p p: 0, or -EFAULT if it is none. */
static int cl_sys_free(struct cl *k, void *p)
{
	size_t size = 0;
	int found = 0;
	pthread_mutex_lock(&k->sys_lock);
	if (k->cap) {
		size_t i = cl_slot(k, (uintptr_t)p);
		if (k->tab[i].addr) {
			size = k->tab[i].size;
			cl_remove(k, i);
			k->nsys--;
			k->sys_bytes -= size;
			found = 1;
		}
	}
	pthread_mutex_unlock(&k->sys_lock);
	if (!found)
		return -EFAULT;
	if (k->flags & RTCLASS_F_DEBUG_FILL)
		memset(p, RT_OWNER_FILL_FREED, size);
	free(p);
	return 0;
}

/* Last close: every fall-back block and the table. */
static void cl_sys_drop(struct cl *k)
{
	for (size_t i = 0; i < k->cap; i++)
		if (k->tab[i].addr)
			free((void *)k->tab[i].addr);
	free(k->tab);
	k->tab = NULL;
	k->cap = k->nsys = k->sys_bytes = 0;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static int cl_first_open(struct cl *k, void *buf, size_t size, unsigned flags)
{
	struct rtheap_config cfg;
	int rc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = flags & RTCLASS_F_NOLOCK ? RTHEAP_LOCK_NONE : RTHEAP_LOCK_PI_MUTEX;
	cfg.flags = flags & RTCLASS_F_DEBUG_FILL ? (unsigned)RTHEAP_F_DEBUG_FILL : 0u;
	cfg.name = "rtclass";
	k->own = NULL;
	if (!buf) {
		size = size ? size : RTCLASS_DEFAULT_BUFFER;
		buf = k->own = malloc(size);
		if (!buf)
			return -ENOMEM;
	}
	rc = rtheap_init(&k->heap, buf, size, &cfg);
	if (rc == 0 && pthread_mutex_init(&k->sys_lock, NULL) != 0) {
		rtheap_destroy(&k->heap, NULL, NULL);
		rc = -ENOMEM;
	}
	if (rc) {
		free(k->own);
		k->own = NULL;
		return rc;
	}
	k->flags = flags;
	k->bufsize = size;
	k->lo = (uintptr_t)buf;
	k->hi = k->lo + size;
	k->tab = NULL;
	k->cap = k->nsys = k->sys_bytes = k->sys_calls = 0;
	for (int q = 0; q < RTCLASS_NR; q++)
		atomic_store_explicit(&k->allocs[q], 0, memory_order_relaxed);
	atomic_store_explicit(&k->failed, 0, memory_order_relaxed);
	memset(&k->owner, 0, sizeof(k->owner));
	k->owner.ops = &cl_ops;
	k->owner.file = "rtclass_open";
	(void)rt_owner_register(&k->heap, &k->owner); /* a live heap: cannot fail */
	k->refs = 1;
	k->magic = CL_MAGIC;
	return 0;
}

int rtclass_open(rtclass_t *c, void *buf, size_t size, unsigned flags)
{
	const unsigned known = RTCLASS_F_SYSTEM | RTCLASS_F_DEBUG_FILL | RTCLASS_F_NOLOCK;
	struct cl *k;
	int rc = 0;
	if (!c || (flags & ~known))
		return -EINVAL;
	k = cl_of(c);
	pthread_mutex_lock(&cl_open_lock);
	if (k->magic != CL_MAGIC)
		rc = cl_first_open(k, buf, size, flags);
	else if (k->refs == INT_MAX)
		rc = -EOVERFLOW;
	else
		k->refs++;
	pthread_mutex_unlock(&cl_open_lock);
	return rc;
}

int rtclass_open_auto(rtclass_t *c)
{
	struct cl *k;
	int rc = 0;
	if (!c)
		return -EINVAL;
	k = cl_of(c);
	if (k->magic == CL_MAGIC)
		return 0;
	pthread_mutex_lock(&cl_open_lock);
	if (k->magic != CL_MAGIC)
		rc = cl_first_open(k, NULL, 0, 0);
	pthread_mutex_unlock(&cl_open_lock);
	return rc;
}

int rtclass_close(rtclass_t *c)
{
	struct cl *k;
	int left = -EINVAL;
	if (!c)
		return -EINVAL;
	k = cl_of(c);
	pthread_mutex_lock(&cl_open_lock);
	if (k->magic == CL_MAGIC) {
		left = --k->refs;
		if (left == 0) {
			k->magic = 0;
			rt_owner_unregister(&k->owner);
			rtheap_destroy(&k->heap, NULL, NULL);
			cl_sys_drop(k);
			pthread_mutex_destroy(&k->sys_lock);
			free(k->own);
			k->own = NULL;
		}
	}
	pthread_mutex_unlock(&cl_open_lock);
	return left;
}

/* ------------------------------------------------------------------ */
/* Allocation, release, resize                                         */
/* ------------------------------------------------------------------ */

static void cl_failed(struct cl *k, size_t size)
{
	rtclass_notify_fn fn = atomic_load_explicit(&k->notify, memory_order_acquire);
	atomic_fetch_add_explicit(&k->failed, 1, memory_order_relaxed);
	if (fn)
		fn(size, atomic_load_explicit(&k->notify_arg, memory_order_acquire));
}

void *rtclass_alloc(rtclass_t *c, size_t size)
{
	struct cl *k = cl_get(c);
	int q = rtclass_class_of(size);
	void *p = NULL;
	if (!k)
		return NULL;
	if (q >= 0) {
		/* counted first: a check never sees a live block uncounted */
		atomic_fetch_add_explicit(&k->allocs[q], 1, memory_order_relaxed);
		p = rtheap_alloc(&k->heap, cl_size(q));
		if (p)
			return p;
		atomic_fetch_sub_explicit(&k->allocs[q], 1, memory_order_relaxed);
	}
	if (k->flags & RTCLASS_F_SYSTEM)
		p = cl_sys_alloc(k, q >= 0 ? cl_size(q) : size);
	if (!p)
		cl_failed(k, size);
	return p;
}

static int cl_in_buffer(const struct cl *k, const void *p)
{
	uintptr_t a = (uintptr_t)p;
	return a >= k->lo && a < k->hi;
}

int rtclass_free(rtclass_t *c, void *p)
{
	struct cl *k = cl_get(c);
	if (!k)
		return -EINVAL;
	if (!p)
		return 0;
	/* the heap judges its own addresses, and every address when there
	 * can be no fall-back block; the registry the others */
	if (cl_in_buffer(k, p) || !(k->flags & RTCLASS_F_SYSTEM))
		return rtheap_free(&k->heap, p);
	if (cl_sys_free(k, p) == 0)
		return 0;
	return rtheap_free(&k->heap, p); /* reports the foreign address */
}

/* Usable size of the live block @p p (heap or fall-back) in *n: 0, or the
 * error rtclass_free() would give, reported. */
static int cl_usable(struct cl *k, void *p, size_t *n)
{
	int rc;
	*n = cl_in_buffer(k, p) ? rtheap_usable_size(&k->heap, p) : cl_sys_size(k, p);
	if (*n)
		return 0;
	rc = rtheap_check_block(&k->heap, p);
	rc = rc == -EFAULT ? -EFAULT : -EINVAL;
	rt_owner_report(&k->heap, rc == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK, p);
	return rc;
}

int rtclass_resize(rtclass_t *c, void **pp, size_t size)
{
	struct cl *k = cl_get(c);
	void *q;
	size_t n;
	int rc;
	if (!k || !pp)
		return -EINVAL;
	if (!*pp) {
		q = rtclass_alloc(c, size);
		if (!q)
			return -ENOMEM;
		*pp = q;
		return 0;
	}
	rc = cl_usable(k, *pp, &n);
	if (rc || size <= n)
		return rc;
	q = rtclass_alloc(c, size);
	if (!q)
		return -ENOMEM;
	memcpy(q, *pp, n);
	rc = rtclass_free(c, *pp);
	*pp = q;
	return rc;
}

void *rtclass_realloc(rtclass_t *c, void *p, size_t size)
{
	void *q = p;
	return rtclass_resize(c, &q, size) == 0 ? q : NULL;
}

size_t rtclass_usable_size(rtclass_t *c, const void *p)
{
	struct cl *k = cl_get(c);
	if (!k || !p)
		return 0;
	return cl_in_buffer(k, p) ? rtheap_usable_size(&k->heap, p) : cl_sys_size(k, p);
}

/* ------------------------------------------------------------------ */
/* Settings and reports                                                */
/* ------------------------------------------------------------------ */

int rtclass_set_notifier(rtclass_t *c, rtclass_notify_fn fn, void *arg)
{
	struct cl *k;
	if (!c)
		return -EINVAL;
	k = cl_of(c);
	atomic_store_explicit(&k->notify_arg, arg, memory_order_release);
	atomic_store_explicit(&k->notify, fn, memory_order_release);
	return 0;
}

int rtclass_get_stats(rtclass_t *c, struct rtclass_stats *st)
{
	struct cl *k = cl_get(c);
	struct rtheap_stats hs;
	if (!k || !st || rtheap_get_stats(&k->heap, &hs) != 0)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&cl_open_lock);
	st->refs = (unsigned)k->refs;
	pthread_mutex_unlock(&cl_open_lock);
	st->buffer = k->bufsize;
	st->usable = hs.usable;
	st->heap_free = hs.free;
	st->largest_free = hs.largest_free;
	st->errors = hs.errors;
	st->heap_live = hs.live_blocks;
	st->heap_bytes = hs.used;
	for (int q = 0; q < RTCLASS_NR; q++)
		st->class_allocs[q] = atomic_load_explicit(&k->allocs[q], memory_order_relaxed);
	pthread_mutex_lock(&k->sys_lock);
	st->sys_live = k->nsys;
	st->sys_bytes = k->sys_bytes;
	st->sys_calls = k->sys_calls;
	pthread_mutex_unlock(&k->sys_lock);
	st->failed = atomic_load_explicit(&k->failed, memory_order_relaxed);
	return 0;
}

rtheap_t *rtclass_heap(rtclass_t *c)
{
	struct cl *k = cl_get(c);
	return k ? &k->heap : NULL;
}

rtclass_t *rtclass_global(void)
{
	return &cl_global;
}

/* ------------------------------------------------------------------ */
/* rtheap_check() and rtheap_dump() of the heap (the owner registry)   */
/* ------------------------------------------------------------------ */

static struct cl *cl_of_owner(struct rt_owner *o)
{
	return (struct cl *)(void *)((char *)o - offsetof(struct cl, owner));
}


/* The registry under sys_lock: every entry outside the buffer, where a
 * lookup finds it (so no duplicate and no entry cut off by a hole), the
 * counts and bytes those of the entries, the table at most half full. */
static int cl_check_registry(struct cl *k, struct rtheap_fault *f)
{
	size_t n = 0, bytes = 0;
	if (k->cap & (k->cap - 1u) || (k->cap ? !k->tab : k->tab != NULL) ||
	    2u * k->nsys > k->cap)
		return rt_owner_fault(f, "class: registry table size or fill broken", k->tab);
	for (size_t i = 0; i < k->cap; i++) {
		const struct cl_ent *e = &k->tab[i];
		if (!e->addr)
			continue;
		if (cl_in_buffer(k, (const void *)e->addr) || !e->size)
			return rt_owner_fault(f, "class: registry entry inside the buffer or empty", (void *)e->addr);
		size_t j = cl_slot(k, e->addr);
		if (j != i)
			return rt_owner_fault(f, k->tab[j].addr ? "class: registry holds an address twice"
			                                  : "class: registry entry a lookup cannot find",
			                (void *)e->addr);
		n++;
		bytes += e->size;
	}
	if (n != k->nsys || bytes != k->sys_bytes || k->sys_calls < n)
		return rt_owner_fault(f, "class: registry counters do not match its entries", k->tab);
	return 0;
}

static int cl_op_check(struct rt_owner *o, struct rtheap_fault *f)
{
	struct cl *k = cl_of_owner(o);
	struct rtheap_stats hs;
	size_t counted = 0;
	if (k->magic != CL_MAGIC || k->hi - k->lo != k->bufsize)
		return rt_owner_fault(f, "class: descriptor overwritten", k);
	pthread_mutex_lock(&k->sys_lock);
	int rc = cl_check_registry(k, f);
	pthread_mutex_unlock(&k->sys_lock);
	if (rc)
		return rc;
	/* every live heap block was counted in its class before it was taken
	 * (rtclass_alloc), so the live count read first is never above the
	 * sum read after it, concurrent calls or not */
	if (rtheap_get_stats(&k->heap, &hs) != 0)
		return rt_owner_fault(f, "class: heap unusable", k);
	for (int q = 0; q < RTCLASS_NR; q++)
		counted += atomic_load_explicit(&k->allocs[q], memory_order_relaxed);
	if (hs.live_blocks > counted)
		return rt_owner_fault(f, "class: more live heap blocks than class allocations", k);
	return 0;
}

static void cl_op_dump(struct rt_owner *o, FILE *out)
{
	struct cl *k = cl_of_owner(o);
	struct rtclass_stats st;
	if (rtclass_get_stats((rtclass_t *)(void *)k, &st) != 0)
		return;
	fprintf(out, "class heap %p: buffer %p, %zu B (%zu usable), flags 0x%x, %u refs;"
	        " heap blocks %zu (%zu B), free %zu B; fall-back blocks %zu (%zu B),"
	        " %zu calls; failed %zu, errors %zu\n  allocations per class:",
	        (void *)k, (void *)k->lo, st.buffer, st.usable, k->flags, st.refs,
	        st.heap_live, st.heap_bytes, st.heap_free, st.sys_live, st.sys_bytes,
	        st.sys_calls, st.failed, st.errors);
	for (int q = 0; q < RTCLASS_NR; q++)
		fprintf(out, " %zu:%zu", cl_size(q), st.class_allocs[q]);
	fputc('\n', out);
	pthread_mutex_lock(&k->sys_lock);
	for (size_t i = 0; i < k->cap; i++)
		if (k->tab[i].addr)
			fprintf(out, "  fall-back block %p: %zu B\n", (void *)k->tab[i].addr,
			        k->tab[i].size);
	pthread_mutex_unlock(&k->sys_lock);
}
