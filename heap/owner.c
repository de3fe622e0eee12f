/* SPDX-License-Identifier: MIT */
/*
 * owner.c -- the door of the layers (owner.h): owned runs, the registry of
 * layer objects, misuse reports and checker hooks for layers, and the
 * heap dump that lists them.
 *
 * An owned run is a page run taken as an aligned allocation would take it
 * (page.c, runs.c) whose first map entry then says OWNED instead of RUN:
 *  O1  an owned run [s, s+n) has map[s] == OWNED|n and every other page of
 *      it NONE, as a run block (P1); n is a power of two and s + the
 *      extent's first page number is a multiple of n (aligned to n pages);
 *  O2  pages_owned is the sum of n over the owned runs; an owned run counts
 *      as one live block of n pages in used, alloc_calls and free_calls.
 * A release through rtheap_free() sees a page that starts no block
 * (-EINVAL, RTHEAP_ERR_NOT_BLOCK): only rt_owner_give() gives it back.
 */
#ifndef RTHEAP_UNITY_BUILD
#error "owner.c is compiled as part of heap/unity.c, not on its own"
#endif
#include "owner.h"
#include "internal.h"

#include <inttypes.h>

/* The copy of the hot paths this heap takes (hooks.h, rt_copy_of()). */
static unsigned owner_ck(const struct rt_heap *h)
{
	return rt_copy_of(h) ? RT_CK_ANY : 0;
}

/* -- registry -- */

int rt_owner_register(rtheap_t *heap, struct rt_owner *o)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !o || !o->ops)
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err;
	o->heap = heap;
	o->prev = NULL;
	o->next = h->owners;
	if (h->owners)
		h->owners->prev = o;
	h->owners = o;
	heap_unlock(h);
	return 0;
}

void rt_owner_unregister(struct rt_owner *o)
{
	struct rt_heap *h = o ? rt_heap_of(o->heap) : NULL;
	if (!rt_heap_ok(h) || heap_lock(h))
		return; /* a broken shared heap: its list is left as it is */
	if (o->next)
		o->next->prev = o->prev;
	if (o->prev)
		o->prev->next = o->next;
	else if (h->owners == o)
		h->owners = o->next;
	o->next = o->prev = NULL;
	heap_unlock(h);
}

struct rt_owner *rt_owner_next(rtheap_t *heap, struct rt_owner *o)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return NULL;
	return o ? o->next : h->owners;
}

/* -- owned runs -- */

size_t rt_owner_max(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return 0;
	/* the largest power of two an aligned take can ever serve: its span
	 * (2n - 1 pages) within the largest request */
	size_t m = h->max_request / 2 + h->page / 2;
	unsigned b = (unsigned)(sizeof(unsigned long) * 8 - 1) -
	             (unsigned)__builtin_clzl((unsigned long)m);
	size_t p = (size_t)1 << b;
	return p >= h->page ? p : 0;
}

/* log2 of n, a power of two (owned runs store their length so). */
static uint32_t owner_log2(uint32_t n)
{
	return 31u - (uint32_t)__builtin_clz(n);
}

/* The run just taken at p (a RUN block of bsize bytes) becomes owned by a
 * layer of the given kind (O1). */
static void owner_mark(struct rt_heap *h, void *p, size_t bsize, unsigned kind)
{
	struct rt_extent *x = NULL;
	uint32_t pg = 0;
	size_t off = 0;
	if (locate(h, p, &x, &pg, &off) || off) {
		rt_assert(false, "a taken run lies in an extent");
		return;
	}
	rt_assert(PG_TYPE(rt_map_get(x, pg)) == PG_RUN, "a taken run starts a RUN entry");
	uint32_t n = (uint32_t)(bsize >> h->pshift);
	rt_map_set(x, pg, OW_MAKE(kind, owner_log2(n)));
	h->pages_run -= n;
	h->pages_owned += n;
}

static void *owner_take_body(struct rt_heap *h, size_t bytes, unsigned kind,
                             const unsigned ck)
{
	struct rt_pending pd;
	size_t bsize = 0;
	bool bucket;

	if (heap_lock_ck(h, ck))
		return NULL; /* errno ENOTRECOVERABLE (lock.h) */
	void *p = alloc_aligned_take(h, bytes, bytes, &bsize, &bucket, ck);
	rt_assert(!p || (!bucket && bsize == bytes), "an owned run is a page run");
	if (p)
		owner_mark(h, p, bsize, kind);
	bool notify = alloc_end(h, p, bytes, bsize, false, &pd, ck);
	heap_unlock_ck(h, ck);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	return p;
}

void *rt_owner_take_kind(rtheap_t *heap, size_t bytes, unsigned kind)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || bytes < h->page || (bytes & (bytes - 1)) ||
	    bytes > rt_owner_max(heap) || kind > RT_OWN_KIND_MAX)
		return NULL;
	return owner_take_body(h, bytes, kind, owner_ck(h));
}

void *rt_owner_take(rtheap_t *heap, size_t bytes)
{
	return rt_owner_take_kind(heap, bytes, RT_OWN_CACHE);
}

/* Under the lock: the owned run at run goes back (a RUN block again for
 * the release path of page.c).  want: its exact map entry, or 0 for any
 * owned run.  -EFAULT: run outside every extent. */
static int owner_give_locked(struct rt_heap *h, void *run, uint32_t want,
                             const unsigned ck)
{
	struct rt_extent *x = NULL;
	uint32_t pg = 0;
	size_t off = 0, bsize = 0;
	int err = locate(h, run, &x, &pg, &off);
	if (err || off)
		return err ? err : -EINVAL;
	uint32_t e = rt_map_get(x, pg);
	if (PG_TYPE(e) != PG_OWNED || (want && e != want))
		return -EINVAL;
	uint32_t n = RUN_LEN(e);
	rt_assert(h->pages_owned >= n, "owned page count underflow (O2)");
	rt_map_set(x, pg, PG_MAKE(PG_RUN, n));
	h->pages_owned -= n;
	h->pages_run += n;
	err = rt_page_free(h, x, pg, PG_MAKE(PG_RUN, n), 0, run, NULL, &bsize, ck);
	if (err) { /* debug mode: a neighbour's node was overwritten */
		rt_map_set(x, pg, e);
		h->pages_owned += n;
		h->pages_run -= n;
		return err;
	}
	free_account(h, bsize);
	return 0;
}

static int owner_give_body(struct rt_heap *h, void *run, uint32_t want)
{
	struct rt_pending pd;
	bool notify = false;
	int err = heap_lock(h);
	if (err)
		return err;
	err = owner_give_locked(h, run, want, owner_ck(h));
	if (err == -EUCLEAN)
		notify = rt_notify_misuse(h, &pd);
	heap_unlock(h);
	if (notify)
		rt_notify_deliver(h, &pd);
	return err;
}

int rt_owner_give(rtheap_t *heap, void *run)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !run)
		return -EINVAL;
	int err = owner_give_body(h, run, 0);
	return err == -EFAULT ? -EINVAL : err;
}

int rt_owner_give_kind(rtheap_t *heap, void *run, size_t bytes, unsigned kind)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h) || bytes < h->page || (bytes & (bytes - 1)) ||
	                (bytes >> h->pshift) > PG_LEN(~0u) || kind > RT_OWN_KIND_MAX))
		return -EINVAL;
	return owner_give_body(h, run,
	                       OW_MAKE(kind, owner_log2((uint32_t)(bytes >> h->pshift))));
}

int rt_owner_find_kind(rtheap_t *heap, const void *p, size_t bytes,
                       unsigned kind, void **run)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (rt_unlikely(!rt_heap_ok(h) || bytes < h->page || (bytes & (bytes - 1)) ||
	                (bytes >> h->pshift) > PG_LEN(~0u) || kind > RT_OWN_KIND_MAX))
		return -EINVAL;
	uint32_t want = OW_MAKE(kind, owner_log2((uint32_t)(bytes >> h->pshift)));
	uintptr_t r = (uintptr_t)p & ~(uintptr_t)(bytes - 1);
	int err = heap_lock(h);
	if (err)
		return err;
	struct rt_extent *x = rt_extent_find(h, p);
	if (rt_unlikely(!x)) {
		err = -EFAULT;
	} else {
		/* r below the page array wraps past the span: not a run */
		uintptr_t o = r - (uintptr_t)x->pages;
		if (o >= x->span || rt_map_get(x, (uint32_t)(o >> h->pshift)) != want)
			err = -EINVAL;
	}
	heap_unlock(h);
	if (rt_likely(!err))
		*run = (void *)r;
	return err;
}

int rt_owner_find(rtheap_t *heap, const void *p, size_t bytes, void **run)
{
	return rt_owner_find_kind(heap, p, bytes, RT_OWN_CACHE, run);
}

/* -- batches and the lock-free view (per-thread caches) -- */

_Static_assert(RT_OWNER_MAP_RUN == PG_RUN && RT_OWNER_MAP_BUCKET == PG_BUCKET,
               "owner.h's map decoder: types");
_Static_assert(PG_TYPE(BK_SIDE(5u, 7u, 9u)) == RT_OWNER_MAP_BUCKET &&
               BK_CLS(BK_SIDE(5u, 7u, 9u)) == ((BK_SIDE(5u, 7u, 9u) >> 25) & 0xfu) &&
               BK_CLS(BK_INLINE(0xffffu, 15u, 10u)) == 10u &&
               ((BK_INLINE(0xffffu, 15u, 10u) >> 25) & 0xfu) == 10u &&
               PG_LEN(PG_MAKE(PG_RUN, 123u)) == (PG_MAKE(PG_RUN, 123u) & 0x1fffffffu) &&
               (PG_MAKE(PG_RUN, 123u) >> 29) == RT_OWNER_MAP_RUN,
               "owner.h's map decoder agrees with internal.h's PG_ and BK_ macros");

/* Under the lock: up to n blocks of size into out; the first notification
 * to deliver in *pd (returns whether there is one). */
static unsigned owner_batch_take(struct rt_heap *h, size_t size, unsigned n,
                                 void **out, bool *notify, struct rt_pending *pd,
                                 const unsigned ck)
{
	struct rt_pending one;
	unsigned got = 0;
	*notify = false;
	while (got < n) {
		size_t bsize = 0;
		bool bucket;
		void *p = alloc_take(h, size, &bsize, &bucket, ck);
		if (!p && got)
			break; /* a partial batch is not a failure */
		bool nt = alloc_end(h, p, size, bsize, bucket, &one, ck);
		if (nt && !*notify) {
			*pd = one;
			*notify = true;
		}
		if (!p)
			break;
		out[got++] = p;
	}
	return got;
}

unsigned rt_owner_alloc_batch(rtheap_t *heap, size_t size, unsigned n, void **out)
{
	struct rt_heap *h = rt_heap_of(heap);
	struct rt_pending pd;
	bool notify;
	if (!rt_heap_ok(h) || size == 0 || n == 0 || !out)
		return 0;
	if (heap_lock(h))
		return 0; /* a broken shared heap, errno ENOTRECOVERABLE (lock.h) */
	unsigned got = owner_batch_take(h, size, n, out, &notify, &pd, owner_ck(h));
	heap_unlock(h);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	return got;
}

int rt_owner_check_alloc(rtheap_t *heap, const void *p, size_t size, void **out)
{
	struct rt_heap *h = rt_heap_of(heap);
	struct rt_pending pd;
	bool notify = false;
	unsigned got = 0;
	if (!rt_heap_ok(h) || size == 0 || !out)
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err; /* a broken shared heap */
	long long r = block_size(h, p);
	if (r >= 0)
		got = owner_batch_take(h, size, 1, out, &notify, &pd, owner_ck(h));
	heap_unlock(h);
	if (rt_unlikely(notify))
		rt_notify_deliver(h, &pd);
	if (r < 0)
		return (int)r;
	return got ? 0 : -ENOMEM;
}

int rt_owner_free_batch(rtheap_t *heap, unsigned n, void *const *ptrs)
{
	struct rt_heap *h = rt_heap_of(heap);
	struct rt_pending pd;
	bool notify = false;
	int first = 0;
	if (!rt_heap_ok(h) || (n && !ptrs))
		return -EINVAL;
	const unsigned ck = owner_ck(h);
	int err = heap_lock(h);
	if (err)
		return err; /* a broken shared heap: nothing released */
	for (unsigned i = 0; i < n; i++) {
		int e = free_locked(h, ptrs[i], NULL, ck);
		if (rt_unlikely(e) && !first) {
			first = e;
			notify = rt_notify_misuse(h, &pd);
		}
	}
	heap_unlock(h);
	if (notify)
		rt_notify_deliver(h, &pd);
	return first;
}

int rt_owner_view(rtheap_t *heap, const void *p, struct rt_owner_view *v)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !v)
		return -EINVAL;
	int err = heap_lock(h);
	if (err)
		return err; /* a broken shared heap */
	err = -EFAULT;
	struct rt_extent *x = rt_extent_find(h, p);
	if (x && (uintptr_t)p - (uintptr_t)x->pages < x->span) {
		v->base = (uintptr_t)x->pages;
		v->span = x->span;
		v->map = x->map;
		err = 0;
	}
	heap_unlock(h);
	return err;
}

unsigned rt_owner_page_shift(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	return rt_heap_ok(h) ? h->pshift : 0;
}

/* -- settings, misuse -- */

int rt_owner_lock_mode(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return -1;
	/* a layer object is process-local (rtheap.h, "Process-shared
	 * heaps"): on a shared heap its own lock is a private PI mutex */
	return h->lock_mode == RTHEAP_LOCK_SHARED ? RTHEAP_LOCK_PI_MUTEX : h->lock_mode;
}

unsigned rt_owner_flags(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	return rt_heap_ok(h) ? h->flags : 0;
}

bool rt_owner_broken(rtheap_t *heap)
{
	struct rt_heap *h = rt_heap_of(heap);
	return rt_heap_ok(h) && __atomic_load_n(&h->broken, __ATOMIC_RELAXED);
}

int rt_owner_pi_mutex_init(pthread_mutex_t *m)
{
	return pi_mutex_init(m);
}

void rt_owner_report(rtheap_t *heap, rtheap_error_kind_t kind, const void *addr)
{
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h))
		return;
	struct rt_pending pd;
	if (heap_lock(h))
		return; /* a broken shared heap: it reported already */
	rt_report(h, kind, addr);
	bool notify = rt_notify_misuse(h, &pd);
	heap_unlock(h);
	if (notify)
		rt_notify_deliver(h, &pd);
}

/* -- checkers -- */

unsigned rt_owner_checked(void)
{
	return hook_state();
}

void rt_owner_obj_alloc(void *p, size_t n, int defined)
{
	unsigned ck = hook_state();
	hook_block_alloc(ck, p, n);
#if RT_CK_WITH_MEMCHECK
	if (defined && (ck & RT_CK_MEMCHECK))
		(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
	(void)defined;
#endif
}

void rt_owner_obj_free(void *p, size_t n)
{
	hook_block_free(hook_state(), p, n);
}

_Static_assert(RT_OWNER_FILL_FRESH == RT_FILL_FRESH && RT_OWNER_FILL_FREED == RT_FILL_FREED,
               "the layers fill with the heap's patterns");

const void *rt_owner_fill_broken(const void *p, size_t n)
{
	return rt_debug_verify(p, n, RT_FILL_FREED);
}

void rt_owner_open(void *p, size_t n)
{
	hook_open(hook_state(), p, n);
}

void rt_owner_close(void *p, size_t n)
{
	hook_close(hook_state(), p, n);
}

/* -- the heap dump (rtheap.h) -- */

static void dump_extents(struct rt_heap *h, FILE *out)
{
	if (heap_lock(h)) {
		fprintf(out, "heap broken: a process died holding its lock mid-change\n");
		return;
	}
	for (uint32_t i = 0; i < h->nr_ext; i++) {
		struct rt_extent *x = h->by_slot[i];
		if (!x)
			continue;
		fprintf(out, "extent %" PRIu32 " at %p: %zu bytes, %" PRIu32
		        " pages of %zu B from %p\n", i, (void *)x, h->rsize[i],
		        x->npages, h->page, (void *)x->pages);
	}
	heap_unlock(h);
}

int rtheap_dump(rtheap_t *heap, FILE *out, int verbose)
{
	struct rtheap_stats st;
	struct rt_heap *h = rt_heap_of(heap);
	if (!rt_heap_ok(h) || !out)
		return -EINVAL;
	int err = rtheap_get_stats(heap, &st);
	if (err)
		return err; /* -ENOTRECOVERABLE: a broken shared heap */
	fprintf(out, "heap %s at %p: page %zu B, %zu extents, %zu bytes usable, "
	        "%zu used (peak %zu), largest free %zu, %zu live blocks\n",
	        h->name ? h->name : "(unnamed)", (void *)heap, st.page_size,
	        st.extents, st.usable, st.used, st.peak_used, st.largest_free,
	        st.live_blocks);
	dump_extents(h, out);
	size_t n = 0;
	for (struct rt_owner *o = rt_owner_next(heap, NULL); o;
	     o = rt_owner_next(heap, o), n++) {
		if (verbose && o->ops->dump)
			o->ops->dump(o, out);
		else
			fprintf(out, "%s at %p, created at %s:%d\n", o->ops->kind,
			        (void *)o, o->file ? o->file : "?", o->line);
	}
	fprintf(out, "summary: %zu extents, %zu of %zu bytes used, %zu pages "
	        "owned by %zu layer objects, %zu allocations failed, %zu errors\n",
	        st.extents, st.used, st.usable, st.pages_owned, n,
	        st.failed_allocs, st.errors);
	return 0;
}
