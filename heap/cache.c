/* SPDX-License-Identifier: MIT */
/*
 * cache.c -- object caches (rtheap/cache.h): objects of one size in slabs,
 * each slab an owned run of the heap (owner.h), aligned to its own size.
 *
 *   slab_bytes-aligned run
 *   +--------+--------+------------+-----+-------+-------+-----+---------+------+
 *   | header | bitmap | next[S] ** | pad | obj 0 | obj 1 | ... | obj S-1 | tail |
 *   +--------+--------+------------+-----+-------+-------+-----+---------+------+
 *   ^ obj & ~(slab_bytes - 1)            ^ first_off    stride
 *   ** only with a constructor: the free-list links stay outside objects
 *
 * The header holds the slab's list links, its counts, the head of its free
 * list and the "fresh" index: objects [fresh, S) were never handed out
 * since the slab was made or cleared, so a new slab needs no list built
 * and clearing a slab is O(1) plus its bitmap.  A free list is a chain of
 * 16-bit object indexes (NO_OBJ ends it), kept in the first two bytes of
 * each free object or, with a constructor, in next[]: one code path, the
 * link cell of object i is at cells_off + i * cell_stride.
 *
 * The cache keeps three circular lists: avail (slabs with a free object),
 * full, and empty (the slabs of avail that hold no live object; a second
 * link in each header).  A release moves its slab to the head of avail and
 * an allocation takes from that head, so the next allocation returns the
 * object released last (LIFO).
 *
 * Locking: the cache's own lock (the heap's mode, or none), then the heap
 * lock inside rt_owner_take()/rt_owner_give(): order cache -> heap.
 * Misuse is reported after the cache's lock is released.
 */
#include "owner.h"
#include "rtheap/cache.h"
#include "rtheap/default.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define rt_unlikely(x) __builtin_expect(!!(x), 0)
#define CACHE_HOT static inline __attribute__((always_inline))
#define CACHE_COLD static __attribute__((noinline, cold))
/* Out of line but not cold: a fast path calls it now and then (GCC lays
 * out every path that may reach a cold function as cold). */
#define CACHE_SIDE static __attribute__((noinline))

#define CACHE_MAGIC 0x43616368u /* "Cach" */
#define SLAB_MAGIC 0x536c6162u  /* "Slab" */
#define NO_OBJ 0xffffu          /* end of a free list */
#define MAX_OBJS 0xffffu        /* S at most: indexes are 16-bit, NO_OBJ excluded */
#define SLAB_MAX ((size_t)1 << 30) /* offsets fit the 32-bit reciprocal */
#define MAP_BITS (CHAR_BIT * sizeof(unsigned long))
#define KNOWN_FLAGS (RTCACHE_ZERO | RTCACHE_HWCACHE_ALIGN | RTCACHE_NOLOCK)

/* ---------------------------------------------------------------- lists */

struct rt_link {
	struct rt_link *next, *prev;
};

static inline void link_init(struct rt_link *h)
{
	h->next = h->prev = h;
}

static inline void link_del(struct rt_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static inline void link_push(struct rt_link *h, struct rt_link *l)
{
	l->next = h->next;
	l->prev = h;
	h->next->prev = l;
	h->next = l;
}

/* ---------------------------------------------------------------- types */

/* At the start of every slab. */
struct slab {
	struct rt_link link;  /* first: avail or full list of the cache */
	struct rt_link elink; /* empty list of the cache, while inuse == 0 */
	struct rtcache *cache;
	uint32_t magic;
	uint32_t inuse;     /* live objects */
	uint32_t free_head; /* object released last, or NO_OBJ */
	uint32_t fresh;     /* objects [fresh, S) never handed out */
	unsigned long map[]; /* bit i set: object i is live */
};
#define SLAB_HDR offsetof(struct slab, map)
/* rtheap/cache.h and docs/caches.md state H: 56 bytes (64-bit), 36 (32-bit). */
_Static_assert(SLAB_HDR == 5 * sizeof(void *) + 16, "slab header size as documented");

/* Fixed at creation. */
struct cache_geom {
	size_t stride;     /* bytes between objects */
	size_t first_off;  /* first object's offset in the slab */
	size_t cells_off;  /* link cell of object 0 */
	size_t cell_stride;
	uint64_t recip;    /* ceil(2^32 / stride): offset -> index */
	uint32_t S;        /* objects per slab */
	size_t slab_bytes;
	size_t obj_size;   /* requested size */
	size_t ck_size;    /* what the checkers open: obj_size, at least the link */
	size_t align;
	size_t page;
};

struct rtcache {
	/* hot: the fast paths read these */
	uint32_t magic;
	bool slow;           /* zero, debug fill or a checker: slow copy */
	struct rt_link avail;
	struct cache_geom g;
	rtheap_t *heap;
	size_t allocs, frees; /* live objects: allocs - frees - dropped */
	struct rt_layer_lock lk; /* the cache's own (mode NONE with NOLOCK) */
	/* the rest */
	struct rt_link full, empty;
	size_t nslabs, nempty, failures;
	size_t dropped;      /* objects dropped by rtcache_clear() */
	unsigned keep;
	unsigned flags;
	bool checked;        /* a memory checker watches */
	bool open_links;     /* checked, and the links are inside free objects */
	bool fill;           /* the heap's debug fill, no constructor */
	rtcache_ctor_fn ctor, dtor;
	void *priv;
	struct rt_owner owner;
	char name[32];
};

static void cache_op_dump(struct rt_owner *o, FILE *out);
static int cache_op_check(struct rt_owner *o, struct rtheap_fault *f);
static const struct rt_owner_ops cache_ops = {
	.kind = "cache",
	.check = cache_op_check,
	.dump = cache_op_dump,
};

static inline struct rtcache *cache_of(struct rt_owner *o)
{
	return (struct rtcache *)(void *)((char *)o - offsetof(struct rtcache, owner));
}

static inline struct slab *slab_of_elink(struct rt_link *l)
{
	return (struct slab *)(void *)((char *)l - offsetof(struct slab, elink));
}

static inline size_t live_objs(const struct rtcache *c)
{
	return c->allocs - c->frees - c->dropped;
}

static inline bool cache_ok(const struct rtcache *c)
{
	return c && c->magic == CACHE_MAGIC;
}

/* ---------------------------------------------------------------- lock */

static inline void cache_lock(struct rtcache *c)
{
	rt_layer_lock(&c->lk);
}

static inline void cache_unlock(struct rtcache *c)
{
	rt_layer_unlock(&c->lk);
}

/* ---------------------------------------------------------------- slab geometry */

static inline size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline size_t map_words(size_t n)
{
	return (n + MAP_BITS - 1) / MAP_BITS;
}

/* Header, bitmap and side array of a slab of n objects (before padding). */
static size_t meta_bytes(size_t n, bool ctor)
{
	return SLAB_HDR + map_words(n) * sizeof(unsigned long) + (ctor ? 2 * n : 0);
}

/* Most objects a slab of @p bytes holds (0: none).  The estimate ignores
 * the bitmap's rounding and the padding, so it is an upper bound; the
 * loop then steps down at most about (word + align) / stride + 1 times. */
static uint32_t slab_fit(size_t bytes, const struct cache_geom *g, bool ctor)
{
	if (bytes <= SLAB_HDR)
		return 0;
	uint64_t per8 = 8u * (uint64_t)g->stride + 1u + (ctor ? 16u : 0u);
	uint64_t n = (uint64_t)(bytes - SLAB_HDR) * 8u / per8;
	if (n > MAX_OBJS)
		n = MAX_OBJS;
	while (n > 0 && round_up(meta_bytes((size_t)n, ctor), g->align) +
	                        (size_t)n * g->stride > bytes)
		n--;
	return (uint32_t)n;
}

/* Choose the slab size: the smallest power of two of pages, from one page
 * up to @p max bytes, whose whole overhead (header, bitmap, side array,
 * padding and tail: B - S * stride) is at most 1/8 of the slab.  Sizes
 * past the first that holds MAX_OBJS objects are not tried (they only
 * add tail).  When none meets the bound (the objects' own bookkeeping
 * alone can exceed it: a constructor's 2-byte link per 8-byte object),
 * the smallest whose tail waste alone is at most 1/8; failing that too,
 * the largest that holds an object.  0, or -EINVAL when not even @p max
 * bytes hold one object. */
static int geom_slab(struct cache_geom *g, size_t max, bool ctor)
{
	size_t whole = 0, tail = 0, last = 0;
	if (max > SLAB_MAX)
		max = SLAB_MAX;
	for (size_t bytes = g->page; bytes && bytes <= max; bytes <<= 1) {
		uint32_t n = slab_fit(bytes, g, ctor);
		if (n == 0)
			continue;
		size_t objs = (size_t)n * g->stride;
		size_t first = round_up(meta_bytes(n, ctor), g->align);
		last = bytes;
		if (!tail && bytes - first - objs <= bytes / 8)
			tail = bytes;
		if (bytes - objs <= bytes / 8) {
			whole = bytes;
			break;
		}
		if (n == MAX_OBJS)
			break;
	}
	g->slab_bytes = whole ? whole : tail ? tail : last;
	if (!g->slab_bytes)
		return -EINVAL;
	g->S = slab_fit(g->slab_bytes, g, ctor);
	g->first_off = round_up(meta_bytes(g->S, ctor), g->align);
	g->cells_off = ctor ? meta_bytes(g->S, false) : g->first_off;
	g->cell_stride = ctor ? sizeof(uint16_t) : g->stride;
	g->recip = (((uint64_t)1 << 32) + g->stride - 1) / g->stride;
	return 0;
}

static bool pow2(size_t x)
{
	return x && !(x & (x - 1));
}

/* Check the arguments of a creation and compute the geometry: 0 or -EINVAL. */
static int geom_plan(struct cache_geom *g, rtheap_t *heap, size_t size,
                     size_t align, unsigned flags, bool ctor)
{
	memset(g, 0, sizeof *g);
	g->page = rtheap_page_size(heap);
	if (!g->page || size == 0 || size > SLAB_MAX || (flags & ~(unsigned)KNOWN_FLAGS))
		return -EINVAL;
	if ((flags & RTCACHE_ZERO) && ctor)
		return -EINVAL;
	if (align && (!pow2(align) || align > g->page))
		return -EINVAL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	if ((flags & RTCACHE_HWCACHE_ALIGN) && align < RTCACHE_LINE)
		align = RTCACHE_LINE;
	g->align = align;
	g->obj_size = size;
	g->ck_size = size < sizeof(uint16_t) ? sizeof(uint16_t) : size;
	g->stride = round_up(size, align);
	return geom_slab(g, rt_owner_max(heap), ctor);
}

/* ---------------------------------------------------------------- objects and links */

CACHE_HOT void *obj_at(const struct rtcache *c, struct slab *s, uint32_t idx)
{
	return (char *)s + c->g.first_off + (size_t)idx * c->g.stride;
}

CACHE_HOT void *cell_at(const struct rtcache *c, struct slab *s, uint32_t idx)
{
	return (char *)s + c->g.cells_off + (size_t)idx * c->g.cell_stride;
}

/* The link of free object idx (opened for the checkers if it lies in the
 * object: free objects are poisoned). */
CACHE_HOT uint32_t link_get(const struct rtcache *c, struct slab *s,
                            uint32_t idx, const unsigned slow)
{
	uint16_t v;
	void *cell = cell_at(c, s, idx);
	if (slow && c->open_links)
		rt_owner_open(cell, sizeof v);
	memcpy(&v, cell, sizeof v);
	if (slow && c->open_links)
		rt_owner_close(cell, sizeof v);
	return v;
}

/* Object idx was just released (still accessible): link it to the head. */
CACHE_HOT void link_set(const struct rtcache *c, struct slab *s, uint32_t idx)
{
	uint16_t v = (uint16_t)s->free_head;
	memcpy(cell_at(c, s, idx), &v, sizeof v);
}

CACHE_HOT bool map_test(const struct slab *s, uint32_t idx)
{
	return (s->map[idx / MAP_BITS] >> (idx % MAP_BITS)) & 1u;
}

/* ---------------------------------------------------------------- slabs */

/* Take a run, set up its header, construct its objects, poison them. */
CACHE_COLD struct slab *slab_make(struct rtcache *c)
{
	struct slab *s = rt_owner_take(c->heap, c->g.slab_bytes);
	if (!s)
		return NULL;
	s->cache = c;
	s->magic = SLAB_MAGIC;
	s->inuse = 0;
	s->free_head = NO_OBJ;
	s->fresh = 0;
	memset(s->map, 0, map_words(c->g.S) * sizeof(unsigned long));
	if (c->ctor)
		for (uint32_t i = 0; i < c->g.S; i++) /* S calls, stated */
			c->ctor(obj_at(c, s, i), c, RTCACHE_CTOR);
	if (c->checked)
		rt_owner_close(obj_at(c, s, 0), (size_t)c->g.S * c->g.stride);
	link_push(&c->avail, &s->link);
	link_push(&c->empty, &s->elink);
	c->nslabs++;
	c->nempty++;
	return s;
}

/* Give an empty slab back to the heap: destructor on every object. */
static void slab_give(struct rtcache *c, struct slab *s)
{
	link_del(&s->link);
	link_del(&s->elink);
	c->nslabs--;
	c->nempty--;
	if (c->checked)
		rt_owner_open(obj_at(c, s, 0), (size_t)c->g.S * c->g.stride);
	if (c->dtor)
		for (uint32_t i = 0; i < c->g.S; i++) /* S calls, stated */
			c->dtor(obj_at(c, s, i), c, RTCACHE_DTOR);
	s->magic = 0;
	s->cache = NULL;
	(void)rt_owner_give(c->heap, s); /* ours: cannot fail */
}

/* Give every empty slab back: the bytes given. */
static size_t slabs_give_empty(struct rtcache *c)
{
	size_t bytes = 0;
	while (c->empty.prev != &c->empty) {
		slab_give(c, slab_of_elink(c->empty.prev));
		bytes += c->g.slab_bytes;
	}
	return bytes;
}

/* ---------------------------------------------------------------- allocation */

/* The slab at the head of avail just handed out an object: it was empty,
 * or it is full now (or both, with S = 1). */
CACHE_SIDE void slab_after_take(struct rtcache *c, struct slab *s)
{
	if (s->inuse == 1) {
		link_del(&s->elink);
		c->nempty--;
	}
	if (s->inuse == c->g.S) {
		link_del(&s->link);
		link_push(&c->full, &s->link);
	}
}

/* Slow copy: a handed-out object made accessible, checked and filled.
 * @return the misuse found (a freed object written: its pattern), or 0. */
CACHE_COLD int obj_handed_out(struct rtcache *c, void *obj, bool reused)
{
	int kind = 0;
	size_t n = c->g.obj_size;
	const size_t keep = sizeof(uint16_t); /* the link overwrote these */
	if (c->fill && reused && n > keep) {
		/* still poisoned: opened to read, rt_owner_obj_alloc() next */
		rt_owner_open((char *)obj + keep, n - keep);
		if (rt_owner_fill_broken((const unsigned char *)obj + keep, n - keep))
			kind = RTHEAP_ERR_USE_AFTER_FREE;
	}
	if (c->checked)
		rt_owner_obj_alloc(obj, c->g.ck_size, c->ctor || (c->flags & RTCACHE_ZERO));
	if (c->flags & RTCACHE_ZERO)
		memset(obj, 0, n);
	else if (c->fill)
		memset(obj, RT_OWNER_FILL_FRESH, n);
	return kind;
}

/* One object, under the cache's lock.  @p slow: the copy with the
 * checkers, zeroing and debug fill (a constant in each copy). */
CACHE_HOT void *alloc_body(struct rtcache *c, int *kind, const unsigned slow)
{
	if (rt_unlikely(c->avail.next == &c->avail) && !slab_make(c)) {
		c->failures++;
		return NULL;
	}
	struct slab *s = (struct slab *)(void *)c->avail.next;
	const bool reused = s->free_head != NO_OBJ;
	uint32_t idx = s->free_head;
	if (reused)
		s->free_head = link_get(c, s, idx, slow);
	else
		idx = s->fresh++;
	s->map[idx / MAP_BITS] |= 1ul << (idx % MAP_BITS);
	if (rt_unlikely(s->inuse++ == 0 || s->inuse == c->g.S))
		slab_after_take(c, s);
	c->allocs++;
	void *obj = obj_at(c, s, idx);
	if (slow)
		*kind = obj_handed_out(c, obj, reused);
	return obj;
}

/* The slow copy, whole: lock (if @p lock), allocate, unlock, report. */
CACHE_COLD void *alloc_slow(struct rtcache *c, bool lock)
{
	int kind = 0;
	if (lock)
		cache_lock(c);
	void *p = alloc_body(c, &kind, 1);
	if (lock)
		cache_unlock(c);
	if (kind)
		rt_owner_report(c->heap, (rtheap_error_kind_t)kind, p);
	return p;
}

void *rtcache_alloc_nolock(rtcache_t *c)
{
	if (rt_unlikely(!cache_ok(c)))
		return NULL;
	if (rt_unlikely(c->slow)) /* fixed at creation: read without the lock */
		return alloc_slow(c, false);
	return alloc_body(c, NULL, 0);
}

void *rtcache_alloc(rtcache_t *c)
{
	if (rt_unlikely(!cache_ok(c)))
		return NULL;
	if (rt_unlikely(c->slow))
		return alloc_slow(c, true);
	cache_lock(c);
	void *p = alloc_body(c, NULL, 0);
	cache_unlock(c);
	return p;
}

/* -- for callers that may wait (the kernel's GFP_KERNEL) -- */

/* @p heap is the process default heap (which this does not create). */
static bool on_default_heap(const rtheap_t *heap)
{
	struct rtheap_default_info info;
	return rtheap_default_stats(&info) == 0 && info.created &&
	       rtheap_default() == heap;
}

void *rtcache_alloc_wait(rtcache_t *c)
{
	void *p = rtcache_alloc(c);
	if (p || !cache_ok(c) || !on_default_heap(c->heap))
		return p;
	/* A slab is a run of B bytes aligned to B: any free run of 2B - P
	 * bytes holds one, so the heap grows until it can serve 2B. */
	if (rtheap_default_grow(2 * c->g.slab_bytes) != 0)
		return NULL;
	return rtcache_alloc(c);
}

/* ---------------------------------------------------------------- release */

/* The slab and index of @p obj, an object of this cache (live or not):
 * 0, -EFAULT (outside the heap) or -EINVAL (not an object of the cache). */
CACHE_HOT int obj_locate(struct rtcache *c, void *obj, struct slab **sp,
                         uint32_t *ip)
{
	void *run;
	int rc = rt_owner_find(c->heap, obj, c->g.slab_bytes, &run);
	if (rt_unlikely(rc))
		return rc == -EFAULT ? -EFAULT : -EINVAL;
	struct slab *s = run;
	size_t rel = (size_t)((char *)obj - (char *)run) - c->g.first_off;
	/* rel wraps above SLAB_MAX for a pointer into the header */
	uint32_t idx = (uint32_t)(((uint64_t)(rel & (SLAB_MAX * 2 - 1)) * c->g.recip) >> 32);
	if (rt_unlikely(s->magic != SLAB_MAGIC || s->cache != c || idx >= c->g.S ||
	                (size_t)idx * c->g.stride != rel))
		return -EINVAL;
	*sp = s;
	*ip = idx;
	return 0;
}

/* The slab of a release is not at the head of avail (it was full, or
 * another slab had a release since), or it is empty now. */
CACHE_SIDE void slab_after_release(struct rtcache *c, struct slab *s)
{
	if (c->avail.next != &s->link) {
		link_del(&s->link);
		link_push(&c->avail, &s->link);
	}
	if (s->inuse == 0) {
		link_push(&c->empty, &s->elink);
		c->nempty++;
		if (c->nempty > c->keep) /* the oldest empty slab goes back */
			slab_give(c, slab_of_elink(c->empty.prev));
	}
}

/* Slow copy: fill the freed object, link it, poison it. */
CACHE_COLD void obj_taken_back(struct rtcache *c, struct slab *s, uint32_t idx,
                               void *obj)
{
	if (c->fill)
		memset(obj, RT_OWNER_FILL_FREED, c->g.obj_size);
	link_set(c, s, idx);
	if (c->checked)
		rt_owner_obj_free(obj, c->g.ck_size);
}

/* Release @p obj under the cache's lock: 0, or the error (each error
 * names one kind of misuse: misuse_of()). */
CACHE_HOT int free_body(struct rtcache *c, void *obj, const unsigned slow)
{
	struct slab *s;
	uint32_t idx;
	int rc = obj_locate(c, obj, &s, &idx);
	if (rt_unlikely(rc))
		return rc;
	unsigned long *w = &s->map[idx / MAP_BITS];
	const unsigned long bit = 1ul << (idx % MAP_BITS);
	if (rt_unlikely(!(*w & bit)))
		return -EALREADY;
	*w &= ~bit;
	if (slow)
		obj_taken_back(c, s, idx, obj);
	else
		link_set(c, s, idx);
	s->free_head = idx;
	c->frees++;
	if (rt_unlikely(--s->inuse == 0 || c->avail.next != &s->link))
		slab_after_release(c, s);
	return 0;
}

/* A refused release, reported after the cache's lock is released. */
CACHE_COLD int free_refused(struct rtcache *c, void *obj, int rc)
{
	rtheap_error_kind_t kind = rc == -EFAULT     ? RTHEAP_ERR_FOREIGN
	                           : rc == -EALREADY ? RTHEAP_ERR_DOUBLE_FREE
	                                             : RTHEAP_ERR_NOT_BLOCK;
	rt_owner_report(c->heap, kind, obj);
	return rc;
}

CACHE_COLD int free_slow(struct rtcache *c, void *obj)
{
	return free_body(c, obj, 1);
}

CACHE_HOT int free_locked(struct rtcache *c, void *obj)
{
	if (rt_unlikely(c->slow))
		return free_slow(c, obj);
	return free_body(c, obj, 0);
}

int rtcache_free_nolock(rtcache_t *c, void *obj)
{
	if (rt_unlikely(!cache_ok(c)))
		return -EINVAL;
	if (rt_unlikely(!obj))
		return 0;
	int rc = free_locked(c, obj);
	if (rt_unlikely(rc))
		return free_refused(c, obj, rc);
	return 0;
}

int rtcache_free(rtcache_t *c, void *obj)
{
	if (rt_unlikely(!cache_ok(c)))
		return -EINVAL;
	if (rt_unlikely(!obj))
		return 0;
	cache_lock(c);
	int rc = free_locked(c, obj);
	cache_unlock(c);
	if (rt_unlikely(rc))
		return free_refused(c, obj, rc);
	return 0;
}

/* ---------------------------------------------------------------- walks */

typedef int (*slab_fn)(struct rtcache *c, struct slab *s, void *arg);

/* fn on every slab (avail, then full) until it returns non-zero; fn may
 * move the slab it is given to the head of avail. */
static int slabs_each(struct rtcache *c, slab_fn fn, void *arg)
{
	struct rt_link *heads[2] = {&c->avail, &c->full};
	for (int i = 0; i < 2; i++) {
		struct rt_link *l = heads[i]->next, *n;
		for (; l != heads[i]; l = n) {
			n = l->next;
			int rc = fn(c, (struct slab *)(void *)l, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

struct live_walk {
	int (*fn)(void *obj, void *arg);
	void *arg;
};

/* w->fn on every live object of s (bitmap order). */
static int slab_each_live(struct rtcache *c, struct slab *s, void *arg)
{
	const struct live_walk *w = arg;
	size_t words = map_words(s->fresh);
	for (size_t i = 0; i < words; i++) {
		unsigned long m = s->map[i];
		while (m) {
			uint32_t idx = (uint32_t)(i * MAP_BITS) + (uint32_t)__builtin_ctzl(m);
			m &= m - 1;
			int rc = w->fn(obj_at(c, s, idx), w->arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- clear, enumerate, shrink */

static int obj_poison(void *obj, void *arg)
{
	rt_owner_obj_free(obj, ((struct rtcache *)arg)->g.ck_size);
	return 0;
}

/* Drop every object of s: its bitmap cleared, every object fresh again. */
static int slab_clear(struct rtcache *c, struct slab *s, void *arg)
{
	(void)arg;
	if (c->checked) {
		struct live_walk w = {obj_poison, c};
		(void)slab_each_live(c, s, &w);
	}
	if (s->inuse == c->g.S) { /* from the full list */
		link_del(&s->link);
		link_push(&c->avail, &s->link);
	}
	if (s->inuse != 0) {
		link_push(&c->empty, &s->elink);
		c->nempty++;
	}
	memset(s->map, 0, map_words(s->fresh) * sizeof(unsigned long));
	s->inuse = 0;
	s->free_head = NO_OBJ;
	s->fresh = 0;
	return 0;
}

int rtcache_clear(rtcache_t *c)
{
	if (!cache_ok(c))
		return -EINVAL;
	cache_lock(c);
	(void)slabs_each(c, slab_clear, NULL);
	c->dropped = c->allocs - c->frees;
	cache_unlock(c);
	return 0;
}

int rtcache_enumerate(rtcache_t *c, int (*fn)(void *obj, void *arg), void *arg)
{
	if (!cache_ok(c) || !fn)
		return -EINVAL;
	struct live_walk w = {fn, arg};
	cache_lock(c);
	int rc = slabs_each(c, slab_each_live, &w);
	cache_unlock(c);
	return rc;
}

long rtcache_shrink(rtcache_t *c)
{
	if (!cache_ok(c))
		return -EINVAL;
	cache_lock(c);
	size_t bytes = slabs_give_empty(c);
	cache_unlock(c);
	return (long)bytes;
}

int rtcache_set_keep(rtcache_t *c, unsigned nslabs)
{
	if (!cache_ok(c))
		return -EINVAL;
	cache_lock(c);
	c->keep = nslabs;
	cache_unlock(c);
	return 0;
}

void rtcache_set_private(rtcache_t *c, void *priv)
{
	if (cache_ok(c))
		c->priv = priv;
}

void *rtcache_private(const rtcache_t *c)
{
	return cache_ok(c) ? c->priv : NULL;
}

/* ---------------------------------------------------------------- create, destroy */

/* Fill the descriptor @p c (zeroed) for the plan @p g. */
static void cache_setup(struct rtcache *c, rtheap_t *heap, const char *name,
                        const struct cache_geom *g, unsigned flags,
                        rtcache_ctor_fn ctor, rtcache_ctor_fn dtor)
{
	c->g = *g;
	c->heap = heap;
	c->flags = flags;
	c->ctor = ctor;
	c->dtor = dtor;
	c->keep = 1;
	c->checked = rt_owner_checked() != 0;
	c->open_links = c->checked && !ctor;
	c->fill = !ctor && (rt_owner_flags(heap) & RTHEAP_F_DEBUG_FILL);
	c->slow = c->checked || c->fill || (flags & RTCACHE_ZERO);
	link_init(&c->avail);
	link_init(&c->full);
	link_init(&c->empty);
	strncpy(c->name, name ? name : "cache", sizeof c->name - 1);
	c->owner.ops = &cache_ops;
}

rtcache_t *rtcache_create_at(rtheap_t *heap, const char *name, size_t size,
                             size_t align, unsigned flags, rtcache_ctor_fn ctor,
                             rtcache_ctor_fn dtor, const char *file, int line)
{
	struct cache_geom g;
	int mode = heap ? rt_owner_lock_mode(heap) : -1;
	int err = mode < 0 ? -EINVAL : geom_plan(&g, heap, size, align, flags, ctor != NULL);
	if (err) {
		errno = -err;
		return NULL;
	}
	struct rtcache *c = rtheap_alloc(heap, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof *c);
	cache_setup(c, heap, name, &g, flags, ctor, dtor);
	c->owner.file = file ? file : "?";
	c->owner.line = line;
	err = rt_layer_lock_init(&c->lk, (flags & RTCACHE_NOLOCK) ? RTHEAP_LOCK_NONE : mode);
	if (!err && rt_owner_register(heap, &c->owner)) {
		rt_layer_lock_destroy(&c->lk);
		err = -EINVAL;
	}
	if (err) {
		(void)rtheap_free(heap, c);
		errno = -err;
		return NULL;
	}
	c->magic = CACHE_MAGIC;
	return c;
}

int rtcache_destroy(rtcache_t *c)
{
	if (!cache_ok(c))
		return -EINVAL;
	cache_lock(c);
	if (live_objs(c)) {
		cache_unlock(c);
		return -EBUSY;
	}
	(void)slabs_give_empty(c); /* no live object: every slab is empty */
	c->magic = 0;
	cache_unlock(c);
	rt_owner_unregister(&c->owner);
	rt_layer_lock_destroy(&c->lk);
	(void)rtheap_free(c->heap, c);
	return 0;
}

/* ---------------------------------------------------------------- statistics and reports */

static void stats_locked(const struct rtcache *c, struct rtcache_stats *st)
{
	memset(st, 0, sizeof *st);
	st->name = c->name;
	st->file = c->owner.file;
	st->line = c->owner.line;
	st->obj_size = c->g.obj_size;
	st->stride = c->g.stride;
	st->align = c->g.align;
	st->objs_per_slab = c->g.S;
	st->slab_bytes = c->g.slab_bytes;
	st->pages_per_slab = c->g.slab_bytes / c->g.page;
	st->active_objs = live_objs(c);
	st->total_objs = c->nslabs * c->g.S;
	st->active_slabs = c->nslabs - c->nempty;
	st->total_slabs = c->nslabs;
	st->empty_slabs = c->nempty;
	st->allocs = c->allocs;
	st->frees = c->frees;
	st->failures = c->failures;
	st->overhead_bytes = c->nslabs * c->g.first_off;
}

int rtcache_get_stats(rtcache_t *c, struct rtcache_stats *st)
{
	if (!cache_ok(c) || !st)
		return -EINVAL;
	cache_lock(c);
	stats_locked(c, st);
	cache_unlock(c);
	return 0;
}

static void slabinfo_line(struct rtcache *c, FILE *out)
{
	struct rtcache_stats st;
	(void)rtcache_get_stats(c, &st);
	fprintf(out, "%-24s %6zu %6zu %6zu %5zu %4zu : slabdata %5zu %5zu %5zu"
	        " : stats %zu %zu %zu : created %s:%d\n",
	        st.name, st.active_objs, st.total_objs, st.obj_size,
	        st.objs_per_slab, st.pages_per_slab, st.active_slabs,
	        st.total_slabs, st.empty_slabs, st.allocs, st.frees,
	        st.failures, st.file, st.line);
}

int rtheap_slabinfo(rtheap_t *heap, FILE *out)
{
	if (!heap || !out || rt_owner_lock_mode(heap) < 0)
		return -EINVAL;
	fprintf(out, "# name <active_objs> <num_objs> <objsize> <objperslab>"
	        " <pagesperslab> : slabdata <active_slabs> <num_slabs>"
	        " <empty_slabs> : stats <allocs> <frees> <failures>"
	        " : created <file:line>\n");
	for (struct rt_owner *o = rt_owner_next(heap, NULL); o; o = rt_owner_next(heap, o))
		if (o->ops == &cache_ops)
			slabinfo_line(cache_of(o), out);
	return 0;
}

static int slab_dump(struct rtcache *c, struct slab *s, void *arg)
{
	fprintf((FILE *)arg, "  slab %p: %u/%u in use, cache \"%s\" created at %s:%d\n",
	        (void *)s, (unsigned)s->inuse, (unsigned)c->g.S, c->name,
	        c->owner.file, c->owner.line);
	return 0;
}

static void cache_op_dump(struct rt_owner *o, FILE *out)
{
	struct rtcache *c = cache_of(o);
	struct rtcache_stats st;
	cache_lock(c);
	stats_locked(c, &st);
	fprintf(out, "cache \"%s\" %p: object %zu B (stride %zu, align %zu),"
	        " %zu per slab, slab %zu B (%zu pages); objects %zu/%zu,"
	        " slabs %zu/%zu (%zu empty); allocs %zu frees %zu failures %zu;"
	        " created at %s:%d\n",
	        st.name, (void *)c, st.obj_size, st.stride, st.align,
	        st.objs_per_slab, st.slab_bytes, st.pages_per_slab,
	        st.active_objs, st.total_objs, st.active_slabs, st.total_slabs,
	        st.empty_slabs, st.allocs, st.frees, st.failures, st.file, st.line);
	(void)slabs_each(c, slab_dump, out);
	cache_unlock(c);
}

/* ---------------------------------------------------------------- check */


static int check_slab_header(struct rtcache *c, struct slab *s, struct rtheap_fault *f)
{
	void *run = NULL;
	if (rt_owner_find(c->heap, s, c->g.slab_bytes, &run) || run != s)
		return rt_owner_fault(f, "cache: a slab is not an owned run of the slab size", s);
	if (s->magic != SLAB_MAGIC || s->cache != c)
		return rt_owner_fault(f, "cache: slab header's magic or cache pointer overwritten", s);
	if (s->fresh > c->g.S || s->inuse > s->fresh)
		return rt_owner_fault(f, "cache: slab counts out of range", s);
	return 0;
}

/* The bitmap: as many bits as live objects, none at or above fresh. */
static int check_slab_map(struct rtcache *c, struct slab *s, struct rtheap_fault *f)
{
	size_t live = 0;
	for (size_t i = 0; i < map_words(c->g.S); i++) {
		unsigned long m = s->map[i];
		size_t lo = i * MAP_BITS;
		unsigned long above = s->fresh <= lo ? m
		                      : s->fresh - lo >= MAP_BITS ? 0ul
		                      : m >> (s->fresh - lo);
		if (above)
			return rt_owner_fault(f, "cache: a never used object is marked live", s);
		live += (size_t)__builtin_popcountl(m);
	}
	if (live != s->inuse)
		return rt_owner_fault(f, "cache: slab bitmap does not match its in-use count", s);
	return 0;
}

/* The free list: fresh - inuse objects, each used once and free now; a
 * cycle is caught by the bound on its length. */
static int check_slab_free_list(struct rtcache *c, struct slab *s, struct rtheap_fault *f)
{
	const uint32_t room = s->fresh - s->inuse;
	uint32_t n = 0;
	for (uint32_t idx = s->free_head; idx != NO_OBJ; idx = link_get(c, s, idx, 1)) {
		if (idx >= s->fresh || map_test(s, idx))
			return rt_owner_fault(f, "cache: free list holds a live or never used object", s);
		if (++n > room)
			return rt_owner_fault(f, "cache: free list longer than the free count (a cycle?)", s);
	}
	if (n != room)
		return rt_owner_fault(f, "cache: free list shorter than the free count", s);
	return 0;
}

struct check_sum {
	size_t slabs, live, empties;
	struct rtheap_fault *f;
};

static int check_slab(struct rtcache *c, struct slab *s, bool full, struct check_sum *sum)
{
	int rc = check_slab_header(c, s, sum->f);
	if (!rc)
		rc = check_slab_map(c, s, sum->f);
	if (!rc)
		rc = check_slab_free_list(c, s, sum->f);
	if (!rc && (full ? s->inuse != c->g.S : s->inuse == c->g.S))
		rc = rt_owner_fault(sum->f, "cache: slab on the wrong list for its count", s);
	if (!rc && s->link.next->prev != &s->link)
		rc = rt_owner_fault(sum->f, "cache: slab list links broken", s);
	sum->live += s->inuse;
	sum->empties += s->inuse == 0;
	return rc;
}

/* One of avail / full, bounded by the slab count (a cycle shows). */
static int check_list(struct rtcache *c, struct rt_link *head, bool full,
                      struct check_sum *sum)
{
	for (struct rt_link *l = head->next; l != head; l = l->next) {
		if (++sum->slabs > c->nslabs)
			return rt_owner_fault(sum->f, "cache: more slabs on the lists than counted", head);
		int rc = check_slab(c, (struct slab *)(void *)l, full, sum);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_empty_list(struct rtcache *c, struct rtheap_fault *f)
{
	size_t n = 0;
	for (struct rt_link *l = c->empty.next; l != &c->empty; l = l->next) {
		struct slab *s = slab_of_elink(l);
		if (++n > c->nempty || s->inuse != 0 || s->magic != SLAB_MAGIC)
			return rt_owner_fault(f, "cache: empty list holds a slab in use, or too many", s);
	}
	return n == c->nempty ? 0 : rt_owner_fault(f, "cache: empty list shorter than counted", c);
}

static int check_locked(struct rtcache *c, struct rtheap_fault *f)
{
	struct check_sum sum = {0, 0, 0, f};
	int rc = check_list(c, &c->avail, false, &sum);
	if (!rc)
		rc = check_list(c, &c->full, true, &sum);
	if (!rc)
		rc = check_empty_list(c, f);
	if (!rc && (sum.slabs != c->nslabs || sum.live != live_objs(c) ||
	            sum.empties != c->nempty))
		rc = rt_owner_fault(f, "cache: counters do not match its slabs", c);
	return rc;
}

static int cache_op_check(struct rt_owner *o, struct rtheap_fault *f)
{
	struct rtcache *c = cache_of(o);
	if (c->magic != CACHE_MAGIC)
		return rt_owner_fault(f, "cache: descriptor's magic overwritten", c);
	cache_lock(c);
	int rc = check_locked(c, f);
	cache_unlock(c);
	return rc;
}
