/* SPDX-License-Identifier: MIT */
/*
 * tcache.c -- per-thread caches in front of a heap (rtheap/tcache.h), a
 * layer on the door (owner.h), built with liburcu (wait-free queue).
 *
 *   thread A state            depot of class c (shared)         heap
 *   bin[c]: head -> b -> b    [mag|mag|mag] wfcq, at most D     (one lock)
 *           n <= 2 * batch      ^ flush: enqueue (wait-free)
 *                               | refill: dequeue (class lock)
 *   empty bin:  depot magazine, else batch blocks from the heap (one lock)
 *   full bin:   batch blocks as a magazine to the depot, else to the heap
 *
 * A cached block holds its whole class (16 << c bytes): word 0 links the
 * bin's (or the magazine's) chain, word 1 holds the cache's key (a release
 * that finds it there is a double release).  A block handed out has word 1
 * cleared; a block given back to the heap too.
 *
 * Per-thread state: found through tc_tls[id] (initial-exec TLS) with the
 * cache's generation, so that a state of a destroyed cache whose id was
 * reused is never followed.  Created on the thread's first call (one heap
 * block, the thread list under tc->mtx), given back by the pthread key's
 * destructor at thread exit.
 *
 * Fast paths: no lock, no atomic read-modify-write; the bin counts and the
 * per-thread counters are written with relaxed atomic stores (plain moves)
 * so that the statistics reader is race-free.  The class of a released
 * block comes from the thread's view of one extent of the page map
 * (owner.h, rt_owner_view), read with a relaxed load.
 *
 * Depot: a cds_wfcq queue of magazines (descriptors from a pool made at
 * create, D per class: a flush that finds none free gives its batch to the
 * heap, so the depot holds at most D magazines).  Dequeues and the pool's
 * free stack are under the class's lock (the heap's lock mode), O(1)
 * sections; CDS_WFCQ_WOULDBLOCK counts as empty.  The count of full
 * magazines is raised (release) before the enqueue and lowered (acq_rel)
 * after the dequeue: the ordering edge a race detector can see, since
 * liburcu itself is not instrumented.
 *
 * Lock order: tc->mtx (slow path) -> class lock -> heap lock.
 */
#include "owner.h"
#include "rtheap/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <urcu/wfcqueue.h>

#define tc_likely(x) __builtin_expect(!!(x), 1)
#define tc_unlikely(x) __builtin_expect(!!(x), 0)
#define TC_SIDE static __attribute__((noinline))

#define TC_MAGIC 0x54436368u /* "TCch" */
#define TC_KNOWN_FLAGS ((unsigned)RTTCACHE_CHECKED)
#define TC_CAP_MAX (2u * RTTCACHE_MAX_BATCH)

/* ------------------------------------------------------------ structures */

struct tc_bin {
	void **head;     /* chain through word 0 */
	unsigned n;      /* blocks; relaxed stores (stats reader) */
	unsigned pad_;
	uintptr_t mask;  /* an offset in the page array with a bit of it set
	                  * is not a block start: class size - 1 below the
	                  * page size (buckets), page size - 1 from it (runs
	                  * start on any page) */
};

/* bin_at[] of a map entry's top 7 bits (type, bucket class): the offset of
 * the bin in struct tc_thread, 0 when the release takes the slow path (not
 * a bucket page, or a class above max_size), TC_AT_RUN for the first page
 * of a run of n < 2^25 pages: then run_at[n] (n < TC_RUN_AT) gives the bin
 * of a power-of-two n whose class is cached, 0 otherwise.  A cached class
 * is at most RTTCACHE_MAX_SIZE bytes, so n <= RTTCACHE_MAX_SIZE /
 * RTHEAP_MIN_PAGE. */
#define TC_BIN_AT 128u
#define TC_RUN_AT (RTTCACHE_MAX_SIZE / RTHEAP_MIN_PAGE + 1u)
#define TC_AT_RUN 1u

struct tc_thread {
	/* the fast paths' fields first */
	uintptr_t vbase;     /* fast copy of the view; span 0 when slow */
	size_t vspan;
	const uint32_t *vmap;
	void *key;
	size_t amax;         /* sizes served by the fast path: size - 1 < amax */
	unsigned pshift, ncls, cap;
	struct tc_bin bin[RTTCACHE_NR_CLASSES];
	uint16_t bin_at[TC_BIN_AT];
	uint16_t run_at[TC_RUN_AT];
	/* slow paths */
	struct rt_owner_view view;
	struct rttcache *tc;
	struct tc_thread *next, *prev; /* tc->threads, under tc->mtx */
	size_t refills, flushes, depot_puts, depot_gets, heap_batches;
};

_Static_assert(sizeof(struct tc_thread) <= 0xffffu, "bin offsets fit bin_at[]");
_Static_assert(RTTCACHE_NR_CLASSES <= 16u, "a bucket class is 4 bits of a map entry");

/* Cache-line aligned (64 B): two threads' depot operations on different
 * classes or magazines never write the same line (the descriptor and
 * its magazines are a page run, aligned to the page, >= 256 B). */
#define TC_LINE __attribute__((aligned(64)))

struct TC_LINE tc_mag {
	struct cds_wfcq_node node;
	void **chain;
	unsigned n;
	struct tc_mag *free_next;
};

struct TC_LINE tc_depot {
	struct __cds_wfcq_head head;
	struct cds_wfcq_tail tail;
	struct rt_layer_lock lock;  /* dequeues and the free stack */
	struct tc_mag *free;        /* empty magazines (lock) */
	atomic_size_t count;        /* full magazines */
};

struct rttcache {
	struct rt_owner owner;
	uint32_t magic;
	unsigned id, batch, depot, cap, ncls, flags, pshift;
	bool hooks;     /* a memory checker watches: cached blocks poisoned */
	bool validate;  /* checked mode: rtheap_check_block() on release */
	unsigned long gen;
	size_t slot_off;  /* id * sizeof(struct tc_slot): no scaling on the fast paths */
	size_t max_size;
	void *key;
	rtheap_t *heap;
	pthread_key_t pkey;
	pthread_mutex_t mtx;        /* thread list and totals */
	struct tc_thread *threads;
	size_t nthreads;
	size_t done[5];             /* counters of gone threads (mtx) */
	atomic_size_t failures, errors, double_frees, thread_exits;
	struct tc_depot dep[RTTCACHE_NR_CLASSES];
	struct tc_mag mags[];       /* ncls * depot */
};

struct tc_slot {
	struct tc_thread *ts;
	unsigned long gen;
};

static __thread __attribute__((tls_model("initial-exec")))
struct tc_slot tc_tls[RTTCACHE_MAX_CACHES];

static pthread_mutex_t tc_ids_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct rttcache *tc_ids[RTTCACHE_MAX_CACHES];
static unsigned long tc_next_gen;

/* ------------------------------------------------------------ helpers */

/* The calling thread's slot of the cache. */
static inline struct tc_slot *tc_slot_of(const struct rttcache *tc)
{
	return (struct tc_slot *)(void *)((char *)tc_tls + tc->slot_off);
}

static inline bool tc_ok(const struct rttcache *tc)
{
	return tc && tc->magic == TC_MAGIC;
}

/* Class of a request of 1..max_size bytes: blocks of 16 << class; one
 * or, one bit scan, one subtraction (no branch). */
static inline unsigned tc_class(size_t size)
{
	return (unsigned)(sizeof(long) * 8u - 1u) -
	       (unsigned)__builtin_clzl((unsigned long)((size - 1) | 15u)) - 3u;
}

static inline size_t tc_size(unsigned c)
{
	return (size_t)16 << c;
}

static inline void tc_set(unsigned *v, unsigned x)
{
	__atomic_store_n(v, x, __ATOMIC_RELAXED);
}

static inline void tc_bump(size_t *v, size_t by)
{
	__atomic_store_n(v, *v + by, __ATOMIC_RELAXED);
}

static inline size_t tc_read(const size_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static inline void tc_count(atomic_size_t *v)
{
	atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

/* A block enters a cache: poisoned except its two words (checkers). */
static inline void tc_close(const struct rttcache *tc, void **p, unsigned c)
{
	if (tc_unlikely(tc->hooks)) {
		rt_owner_obj_free(p, tc_size(c));
		rt_owner_open(p, 2 * sizeof(void *));
	}
}

/* A cached block leaves for the heap: key cleared, accessible again. */
static inline void tc_release_block(const struct rttcache *tc, void **p, unsigned c)
{
	p[1] = NULL;
	if (tc_unlikely(tc->hooks))
		rt_owner_obj_alloc(p, tc_size(c), 1);
}

/* Give the n blocks (1..TC_CAP_MAX: a bin holds at most 2 * batch, a
 * magazine batch) of a chain to the heap in one lock section. */
static int tc_chain_to_heap(struct rttcache *tc, void **chain, unsigned n,
                            unsigned c)
{
	void *out[TC_CAP_MAX];
	for (unsigned k = 0; k < n; k++) {
		void **next = (void **)chain[0];
		tc_release_block(tc, chain, c);
		out[k] = chain;
		chain = next;
	}
	/* 0, or -ENOTRECOVERABLE: a broken shared heap took nothing (the
	 * blocks stay out of it); a misuse cannot occur (they are live) */
	return rt_owner_free_batch(tc->heap, n, out);
}

/* ------------------------------------------------------------ depot */

/* A full magazine of class c, or NULL (empty, or an enqueue in flight). */
static struct tc_mag *depot_get(struct rttcache *tc, unsigned c, void ***chain,
                                unsigned *n)
{
	struct tc_depot *d = &tc->dep[c];
	struct tc_mag *m = NULL;
	if (!atomic_load_explicit(&d->count, memory_order_relaxed))
		return NULL;
	rt_layer_lock(&d->lock);
	struct cds_wfcq_node *nd = __cds_wfcq_dequeue_nonblocking(&d->head, &d->tail);
	if (nd && nd != CDS_WFCQ_WOULDBLOCK) {
		atomic_fetch_sub_explicit(&d->count, 1, memory_order_acq_rel);
		m = caa_container_of(nd, struct tc_mag, node);
		*chain = m->chain;
		*n = m->n;
		m->chain = NULL;
		m->free_next = d->free;
		d->free = m;
	}
	rt_layer_unlock(&d->lock);
	return m;
}

/* Put a chain of batch blocks into the depot of class c: true, or false
 * when the depot holds its maximum (no empty magazine). */
static bool depot_put(struct rttcache *tc, unsigned c, void **chain, unsigned n)
{
	struct tc_depot *d = &tc->dep[c];
	rt_layer_lock(&d->lock);
	struct tc_mag *m = d->free;
	if (m)
		d->free = m->free_next;
	rt_layer_unlock(&d->lock);
	if (!m)
		return false;
	m->chain = chain;
	m->n = n;
	m->free_next = NULL;
	cds_wfcq_node_init(&m->node);
	atomic_fetch_add_explicit(&d->count, 1, memory_order_release);
	(void)cds_wfcq_enqueue(&d->head, &d->tail, &m->node);
	return true;
}

/* ------------------------------------------------------------ refill, flush */

/* The error of a heap call that got nothing: ENOTRECOVERABLE when the
 * heap is a broken shared heap (it refuses every call), else ENOMEM. */
static int tc_heap_errno(rtheap_t *heap)
{
	return rt_owner_broken(heap) ? ENOTRECOVERABLE : ENOMEM;
}

/* The bin of class c is empty: one magazine from the depot, or one batch
 * from the heap.  0, -ENOMEM, or -ENOTRECOVERABLE (a broken shared heap). */
static int tc_refill(struct rttcache *tc, struct tc_thread *t, unsigned c)
{
	struct tc_bin *b = &t->bin[c];
	void **chain = NULL;
	unsigned n = 0;
	if (depot_get(tc, c, &chain, &n)) {
		b->head = chain;
		tc_set(&b->n, n);
		tc_bump(&t->depot_gets, 1);
		tc_bump(&t->refills, 1);
		return 0;
	}
	void *out[RTTCACHE_MAX_BATCH];
	unsigned got = rt_owner_alloc_batch(tc->heap, tc_size(c), tc->batch, out);
	if (!got)
		return -tc_heap_errno(tc->heap);
	for (unsigned i = 0; i < got; i++) {
		void **p = out[i];
		tc_close(tc, p, c);
		p[0] = i + 1 < got ? out[i + 1] : NULL;
		p[1] = tc->key;
	}
	b->head = (void **)out[0];
	tc_set(&b->n, got);
	tc_bump(&t->heap_batches, 1);
	tc_bump(&t->refills, 1);
	return 0;
}

/* The bin of class c is full (2 * batch blocks): batch blocks leave it,
 * as one magazine to the depot, or to the heap when the depot is full. */
static void tc_flush_bin(struct rttcache *tc, struct tc_thread *t, unsigned c)
{
	struct tc_bin *b = &t->bin[c];
	const unsigned k = tc->batch;
	void **chain = b->head, **last = chain;
	for (unsigned i = 1; i < k; i++)
		last = (void **)last[0];
	b->head = (void **)last[0];
	last[0] = NULL;
	tc_set(&b->n, b->n - k);
	if (depot_put(tc, c, chain, k)) {
		tc_bump(&t->depot_puts, 1);
	} else {
		(void)tc_chain_to_heap(tc, chain, k, c); /* refused: dropped */
		tc_bump(&t->heap_batches, 1);
	}
	tc_bump(&t->flushes, 1);
}

/* Every block of the thread's bins back to the heap: 0, or
 * -ENOTRECOVERABLE (a broken shared heap refused them: the bins are
 * emptied all the same, their blocks stay out of the heap). */
static int tc_thread_drain(struct rttcache *tc, struct tc_thread *t)
{
	int first = 0;
	for (unsigned c = 0; c < tc->ncls; c++) {
		struct tc_bin *b = &t->bin[c];
		if (!b->n)
			continue;
		int err = tc_chain_to_heap(tc, b->head, b->n, c);
		if (err && !first)
			first = err;
		b->head = NULL;
		tc_set(&b->n, 0);
		tc_bump(&t->heap_batches, 1);
	}
	return first;
}

/* ------------------------------------------------------------ threads */

/* Under tc->mtx: t leaves the list; its counters go to the totals. */
static void tc_thread_unlink(struct rttcache *tc, struct tc_thread *t)
{
	if (t->next)
		t->next->prev = t->prev;
	if (t->prev)
		t->prev->next = t->next;
	else
		tc->threads = t->next;
	tc->nthreads--;
	tc->done[0] += t->refills;
	tc->done[1] += t->flushes;
	tc->done[2] += t->depot_puts;
	tc->done[3] += t->depot_gets;
	tc->done[4] += t->heap_batches;
}

/* pthread key destructor: the exiting thread's blocks go back. */
static void tc_thread_exit(void *arg)
{
	struct tc_thread *t = arg;
	struct rttcache *tc = t->tc; /* alive: destroy deletes the key first */
	(void)tc_thread_drain(tc, t); /* refused by a broken heap: dropped */
	pthread_mutex_lock(&tc->mtx);
	tc_thread_unlink(tc, t);
	pthread_mutex_unlock(&tc->mtx);
	/* this thread's slot is t's (the value of the key is set with it): a
	 * later call of a destructor on this cache makes a new state */
	tc_tls[tc->id].gen = 0;
	tc_tls[tc->id].ts = NULL;
	tc_count(&tc->thread_exits);
	(void)rtheap_free(tc->heap, t);
}

/* The fast paths' copy of the view (none when every call goes slow). */
static void tc_view_publish(const struct rttcache *tc, struct tc_thread *t)
{
	bool slow = tc->hooks || tc->validate;
	t->vbase = t->view.base;
	t->vspan = slow ? 0 : t->view.span;
	t->vmap = t->view.map;
}

static uint16_t tc_bin_off(unsigned c)
{
	return (uint16_t)(offsetof(struct tc_thread, bin) + c * sizeof(struct tc_bin));
}

/* The release fast path's tables: bin masks, bin_at[], run_at[]. */
static void tc_thread_tables(const struct rttcache *tc, struct tc_thread *t)
{
	const size_t page = (size_t)1 << tc->pshift;
	for (unsigned c = 0; c < RTTCACHE_NR_CLASSES; c++)
		t->bin[c].mask = (tc_size(c) < page ? tc_size(c) : page) - 1;
	for (unsigned c = 0; c < tc->ncls; c++)
		t->bin_at[(RT_OWNER_MAP_BUCKET << 4) | c] = tc_bin_off(c);
	t->bin_at[RT_OWNER_MAP_RUN << 4] = TC_AT_RUN;
	/* a run of 1 << k pages holds class k + pshift - 4 */
	for (unsigned k = 0; ((size_t)1 << k) < TC_RUN_AT; k++) {
		unsigned c = k + tc->pshift - 4u;
		if (tc->pshift >= 4u && c < tc->ncls)
			t->run_at[(size_t)1 << k] = tc_bin_off(c);
	}
}

static struct tc_thread *tc_thread_new(struct rttcache *tc)
{
	struct tc_thread *t = rtheap_alloc(tc->heap, sizeof(*t));
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->key = tc->key;
	t->amax = (tc->hooks || tc->validate) ? 0 : tc->max_size;
	t->pshift = tc->pshift;
	t->ncls = tc->ncls;
	t->cap = tc->cap;
	t->tc = tc;
	tc_thread_tables(tc, t);
	tc_view_publish(tc, t);
	pthread_mutex_lock(&tc->mtx);
	t->next = tc->threads;
	if (t->next)
		t->next->prev = t;
	tc->threads = t;
	tc->nthreads++;
	pthread_mutex_unlock(&tc->mtx);
	(void)pthread_setspecific(tc->pkey, t);
	tc_tls[tc->id].ts = t;
	tc_tls[tc->id].gen = tc->gen;
	return t;
}

/* The calling thread's state, made on its first call (NULL: no memory). */
static inline struct tc_thread *tc_self(struct rttcache *tc)
{
	struct tc_slot *sl = tc_slot_of(tc);
	if (tc_likely(sl->gen == tc->gen))
		return sl->ts;
	return tc_thread_new(tc);
}

/* ------------------------------------------------------------ alloc */

static void *tc_heap_alloc(struct rttcache *tc, size_t size)
{
	void *p = rtheap_alloc(tc->heap, size);
	if (!p) {
		tc_count(&tc->failures);
		errno = tc_heap_errno(tc->heap);
	}
	return p;
}

TC_SIDE void *tc_alloc_slow(struct rttcache *tc, size_t size)
{
	if (!tc_ok(tc)) {
		errno = EINVAL;
		return NULL;
	}
	if (size == 0)
		return NULL;
	if (size > tc->max_size)
		return tc_heap_alloc(tc, size);
	unsigned c = tc_class(size);
	struct tc_thread *t = tc_self(tc);
	if (!t)
		return tc_heap_alloc(tc, tc_size(c));
	struct tc_bin *b = &t->bin[c];
	int err = b->head ? 0 : tc_refill(tc, t, c);
	if (err) {
		tc_count(&tc->failures);
		errno = -err;
		return NULL;
	}
	void **p = b->head;
	b->head = (void **)p[0];
	tc_set(&b->n, b->n - 1);
	if (tc->hooks)
		rt_owner_obj_alloc(p, tc_size(c), 0);
	p[1] = NULL;
	return p;
}

void *rttcache_alloc(rttcache_t *tc, size_t size)
{
	if (tc_likely(tc != NULL)) {
		const struct tc_slot *sl = tc_slot_of(tc);
		struct tc_thread *t = sl->ts;
		if (tc_likely(sl->gen == tc->gen && size - 1 < t->amax)) {
			struct tc_bin *b = &t->bin[tc_class(size)];
			void **p = b->head;
			if (tc_likely(p != NULL)) {
				b->head = (void **)p[0];
				tc_set(&b->n, b->n - 1);
				p[1] = NULL;
				return p;
			}
		}
	}
	return tc_alloc_slow(tc, size);
}

/* ------------------------------------------------------------ free */

/* Class of ptr if it is a cacheable block of this cache's classes: 0 and
 * *cls; 1: not cacheable (the heap decides and reports). */
static int tc_class_of(struct rttcache *tc, struct tc_thread *t, const void *ptr,
                       unsigned *cls)
{
	uintptr_t off = (uintptr_t)ptr - t->view.base;
	if (off >= t->view.span) {
		struct rt_owner_view v;
		if (rt_owner_view(tc->heap, ptr, &v))
			return 1;
		t->view = v;
		tc_view_publish(tc, t);
		off = (uintptr_t)ptr - v.base;
	}
	uint32_t e = rt_owner_map_load(t->view.map, off >> tc->pshift);
	unsigned c;
	if (rt_owner_map_type(e) == RT_OWNER_MAP_BUCKET) {
		c = rt_owner_map_class(e);
		if (off & (tc_size(c) - 1))
			return 1;
	} else if (rt_owner_map_type(e) == RT_OWNER_MAP_RUN) {
		uint32_t len = rt_owner_map_len(e);
		if ((off & (((uintptr_t)1 << tc->pshift) - 1)) || !len || (len & (len - 1)))
			return 1;
		c = (unsigned)__builtin_ctz(len) + tc->pshift - 4u;
	} else {
		return 1;
	}
	if (c >= tc->ncls)
		return 1;
	*cls = c;
	return 0;
}

TC_SIDE int tc_double_free(struct rttcache *tc, void *ptr)
{
	tc_count(&tc->errors);
	tc_count(&tc->double_frees);
	rt_owner_report(tc->heap, RTHEAP_ERR_DOUBLE_FREE, ptr);
	return -EINVAL;
}

/* ptr, a block of class c, into the thread's bin (flush first if full). */
static int tc_put(struct rttcache *tc, struct tc_thread *t, unsigned c, void *ptr)
{
	void **p = ptr;
	struct tc_bin *b = &t->bin[c];
	if (p[1] == tc->key)
		return tc_double_free(tc, ptr);
	if (b->n >= t->cap)
		tc_flush_bin(tc, t, c);
	tc_close(tc, p, c);
	p[0] = b->head;
	p[1] = tc->key;
	b->head = p;
	tc_set(&b->n, b->n + 1);
	return 0;
}

/* Anything that is not a cacheable block goes to rtheap_free(): released
 * there, or reported exactly as rtheap_free() reports it. */
static int tc_to_heap(struct rttcache *tc, void *ptr)
{
	int err = rtheap_free(tc->heap, ptr);
	if (err && err != -ENOTRECOVERABLE) /* a refusal is not a misuse */
		tc_count(&tc->errors);
	return err;
}

TC_SIDE int tc_free_slow(struct rttcache *tc, void *ptr)
{
	if (!tc_ok(tc))
		return -EINVAL;
	if (!ptr)
		return 0;
	struct tc_thread *t = tc_self(tc);
	unsigned c;
	if (!t || tc_class_of(tc, t, ptr, &c))
		return tc_to_heap(tc, ptr);
	if (tc->validate && rtheap_check_block(tc->heap, ptr))
		return tc_to_heap(tc, ptr);
	return tc_put(tc, t, c, ptr);
}

/* GCC would pair the two word stores of the push through a vector
 * register (three more instructions on the fast path). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-slp-vectorize")))
#endif
int rttcache_free(rttcache_t *tc, void *ptr)
{
	/* a NULL ptr is outside every view (the page arrays do not start at
	 * address 0, and an empty view has span 0): the slow path answers */
	if (tc_likely(tc != NULL)) {
		const struct tc_slot *sl = tc_slot_of(tc);
		struct tc_thread *t = sl->ts;
		if (tc_likely(sl->gen == tc->gen)) {
			uintptr_t off = (uintptr_t)ptr - t->vbase;
			if (tc_likely(off < t->vspan)) {
				uint32_t e = rt_owner_map_load(t->vmap, off >> t->pshift);
				unsigned at = t->bin_at[e >> 25];
				if (tc_unlikely(at <= TC_AT_RUN)) {
					/* RUN | n, n < 2^25: run_at[n].  Every entry
					 * with at 0 (other type, or n >= 2^25) gives
					 * n >= 2^25 here, so it stays 0 (slow). */
					uint32_t n = e - (RT_OWNER_MAP_RUN << 29);
					at = n < TC_RUN_AT ? t->run_at[n] : 0u;
				}
				if (tc_likely(at != 0)) {
					struct tc_bin *b = (struct tc_bin *)(void *)((char *)t + at);
					void **p = ptr, *key = t->key;
					if (tc_likely(!(off & b->mask) && p[1] != key && b->n < t->cap)) {
						p[0] = b->head;
						p[1] = key;
						b->head = p;
						tc_set(&b->n, b->n + 1);
						return 0;
					}
				}
			}
		}
	}
	return tc_free_slow(tc, ptr);
}

int rttcache_flush(rttcache_t *tc)
{
	if (!tc_ok(tc))
		return -EINVAL;
	struct tc_slot *sl = tc_slot_of(tc);
	if (sl->gen != tc->gen)
		return 0;
	int err = tc_thread_drain(tc, sl->ts);
	tc_bump(&sl->ts->flushes, 1);
	return err;
}

int rttcache_thread_init(rttcache_t *tc)
{
	if (!tc_ok(tc))
		return -EINVAL;
	return tc_self(tc) ? 0 : -tc_heap_errno(tc->heap);
}

/* ------------------------------------------------------------ create, destroy */

static int tc_op_check(struct rt_owner *o, struct rtheap_fault *f);
static void tc_op_dump(struct rt_owner *o, FILE *out);
static const struct rt_owner_ops tc_ops = {
	.kind = "tcache",
	.check = tc_op_check,
	.dump = tc_op_dump,
};

static inline struct rttcache *tc_of(struct rt_owner *o)
{
	return (struct rttcache *)(void *)((char *)o - offsetof(struct rttcache, owner));
}

/* The settings of cfg, checked and defaulted into tc: 0 or -EINVAL. */
static int tc_settings(struct rttcache *tc, const struct rttcache_config *cfg)
{
	struct rttcache_config z;
	memset(&z, 0, sizeof(z));
	if (!cfg)
		cfg = &z;
	size_t ms = cfg->max_size ? cfg->max_size : 1024u;
	if (ms < 16 || ms > RTTCACHE_MAX_SIZE || (ms & (ms - 1)) ||
	    cfg->batch > RTTCACHE_MAX_BATCH || cfg->depot > RTTCACHE_MAX_DEPOT ||
	    (cfg->flags & ~TC_KNOWN_FLAGS))
		return -EINVAL;
	tc->max_size = ms;
	tc->ncls = tc_class(ms) + 1u;
	tc->batch = cfg->batch ? cfg->batch : 16u;
	tc->cap = 2u * tc->batch;
	tc->depot = cfg->depot ? cfg->depot : RTTCACHE_DEFAULT_DEPOT;
	tc->flags = cfg->flags;
	return 0;
}

static int tc_depots_init(struct rttcache *tc, int mode)
{
	for (unsigned c = 0; c < RTTCACHE_NR_CLASSES; c++) {
		struct tc_depot *d = &tc->dep[c];
		__cds_wfcq_init(&d->head, &d->tail);
		atomic_init(&d->count, 0);
		d->free = NULL;
		if (rt_layer_lock_init(&d->lock, mode)) {
			while (c--)
				rt_layer_lock_destroy(&tc->dep[c].lock);
			return -ENOTSUP;
		}
		for (unsigned i = 0; c < tc->ncls && i < tc->depot; i++) {
			struct tc_mag *m = &tc->mags[c * tc->depot + i];
			m->chain = NULL;
			m->n = 0;
			m->free_next = d->free;
			d->free = m;
		}
	}
	return 0;
}

/* A free id (tc_ids_mtx held): its index, or -1. */
static int tc_id_take(struct rttcache *tc)
{
	for (unsigned i = 0; i < RTTCACHE_MAX_CACHES; i++) {
		if (!tc_ids[i]) {
			tc_ids[i] = tc;
			tc->id = i;
			tc->slot_off = i * sizeof(struct tc_slot);
			tc->gen = ++tc_next_gen;
			return 0;
		}
	}
	return -1;
}

/* Everything of create after the descriptor is allocated: 0 or an errno. */
static int tc_setup(struct rttcache *tc, rtheap_t *heap)
{
	tc->heap = heap;
	tc->pshift = rt_owner_page_shift(heap);
	tc->hooks = rt_owner_checked() != 0;
	tc->validate = (tc->flags & RTTCACHE_CHECKED) ||
	               (rt_owner_flags(heap) & RTHEAP_F_DEBUG_FILL);
	tc->key = (void *)(((uintptr_t)tc * (uintptr_t)0x9e3779b97f4a7c15ull) | 1u);
	if (tc_depots_init(tc, rt_owner_lock_mode(heap)))
		return ENOTSUP;
	pthread_mutex_init(&tc->mtx, NULL);
	pthread_mutex_lock(&tc_ids_mtx);
	int err = tc_id_take(tc) ? EMFILE : 0;
	if (!err && pthread_key_create(&tc->pkey, tc_thread_exit)) {
		tc_ids[tc->id] = NULL;
		err = EAGAIN;
	}
	pthread_mutex_unlock(&tc_ids_mtx);
	if (!err) {
		tc->owner.ops = &tc_ops;
		tc->owner.file = __FILE__;
		tc->owner.line = __LINE__;
		tc->magic = TC_MAGIC;
		(void)rt_owner_register(heap, &tc->owner);
		return 0;
	}
	for (unsigned c = 0; c < RTTCACHE_NR_CLASSES; c++)
		rt_layer_lock_destroy(&tc->dep[c].lock);
	pthread_mutex_destroy(&tc->mtx);
	return err;
}

rttcache_t *rttcache_create(rtheap_t *heap, const struct rttcache_config *cfg)
{
	struct rttcache probe;
	memset(&probe, 0, sizeof(probe));
	if (rt_owner_lock_mode(heap) < 0 || tc_settings(&probe, cfg)) {
		errno = EINVAL;
		return NULL;
	}
	size_t mags = (size_t)probe.ncls * probe.depot;
	struct rttcache *tc = rtheap_alloc(heap, sizeof(*tc) + mags * sizeof(struct tc_mag));
	if (!tc) {
		errno = tc_heap_errno(heap);
		return NULL;
	}
	memcpy(tc, &probe, sizeof(*tc));
	int err = tc_setup(tc, heap);
	if (err) {
		(void)rtheap_free(heap, tc);
		errno = err;
		return NULL;
	}
	return tc;
}

/* Every full magazine of every depot back to the heap (quiescent). */
static void tc_depots_drain(struct rttcache *tc)
{
	for (unsigned c = 0; c < tc->ncls; c++) {
		struct tc_depot *d = &tc->dep[c];
		struct cds_wfcq_node *nd;
		while ((nd = __cds_wfcq_dequeue_blocking(&d->head, &d->tail)) != NULL) {
			struct tc_mag *m = caa_container_of(nd, struct tc_mag, node);
			atomic_fetch_sub_explicit(&d->count, 1, memory_order_acq_rel);
			(void)tc_chain_to_heap(tc, m->chain, m->n, c);
		}
	}
}

int rttcache_destroy(rttcache_t *tc)
{
	if (!tc_ok(tc))
		return -EINVAL;
	pthread_mutex_lock(&tc_ids_mtx);
	tc_ids[tc->id] = NULL;
	(void)pthread_key_delete(tc->pkey);
	pthread_mutex_unlock(&tc_ids_mtx);
	rt_owner_unregister(&tc->owner);
	pthread_mutex_lock(&tc->mtx);
	while (tc->threads) {
		struct tc_thread *t = tc->threads;
		(void)tc_thread_drain(tc, t); /* destroy's result: the last release */
		tc_thread_unlink(tc, t);
		(void)rtheap_free(tc->heap, t);
	}
	pthread_mutex_unlock(&tc->mtx);
	tc_depots_drain(tc);
	if (tc_tls[tc->id].gen == tc->gen) {
		tc_tls[tc->id].gen = 0;
		tc_tls[tc->id].ts = NULL;
	}
	for (unsigned c = 0; c < RTTCACHE_NR_CLASSES; c++)
		rt_layer_lock_destroy(&tc->dep[c].lock);
	pthread_mutex_destroy(&tc->mtx);
	tc->magic = 0;
	return rtheap_free(tc->heap, tc);
}

/* ------------------------------------------------------------ statistics */

static void tc_stats_threads(struct rttcache *tc, struct rttcache_stats *st)
{
	size_t sum[5];
	memcpy(sum, tc->done, sizeof(sum));
	for (struct tc_thread *t = tc->threads; t; t = t->next) {
		for (unsigned c = 0; c < tc->ncls; c++) {
			size_t n = __atomic_load_n(&t->bin[c].n, __ATOMIC_RELAXED);
			st->class_cached[c] += n;
			st->thread_blocks += n;
			st->cached_bytes += n * tc_size(c);
		}
		sum[0] += tc_read(&t->refills);
		sum[1] += tc_read(&t->flushes);
		sum[2] += tc_read(&t->depot_puts);
		sum[3] += tc_read(&t->depot_gets);
		sum[4] += tc_read(&t->heap_batches);
	}
	st->threads = tc->nthreads;
	st->refills = sum[0];
	st->flushes = sum[1];
	st->depot_puts = sum[2];
	st->depot_gets = sum[3];
	st->heap_batches = sum[4];
}

int rttcache_get_stats(rttcache_t *tc, struct rttcache_stats *st)
{
	if (!tc_ok(tc) || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->max_size = tc->max_size;
	st->batch = tc->batch;
	st->depot = tc->depot;
	pthread_mutex_lock(&tc->mtx);
	tc_stats_threads(tc, st);
	pthread_mutex_unlock(&tc->mtx);
	for (unsigned c = 0; c < tc->ncls; c++) {
		size_t m = atomic_load_explicit(&tc->dep[c].count, memory_order_relaxed);
		st->depot_magazines += m;
		st->depot_blocks += m * tc->batch;
		st->class_cached[c] += m * tc->batch;
		st->cached_bytes += m * tc->batch * tc_size(c);
	}
	st->cached_blocks = st->thread_blocks + st->depot_blocks;
	st->failures = atomic_load_explicit(&tc->failures, memory_order_relaxed);
	st->errors = atomic_load_explicit(&tc->errors, memory_order_relaxed);
	st->double_frees = atomic_load_explicit(&tc->double_frees, memory_order_relaxed);
	st->thread_exits = atomic_load_explicit(&tc->thread_exits, memory_order_relaxed);
	return 0;
}

/* ------------------------------------------------------------ check, dump */


/* A chain of n blocks of class c: each a live block of its class holding
 * the key; the chain ends after exactly n (at most TC_CAP_MAX + 1 steps). */
static int tc_check_chain(struct rttcache *tc, void **chain, unsigned n,
                          unsigned c, struct rtheap_fault *f)
{
	unsigned k = 0;
	for (; chain && k <= TC_CAP_MAX; k++) {
		if (rtheap_usable_size(tc->heap, chain) != tc_size(c))
			return rt_owner_fault(f, "tcache: a cached block is not a live block of its class",
			                chain);
		if (chain[1] != tc->key)
			return rt_owner_fault(f, "tcache: a cached block lost its key", chain);
		chain = (void **)chain[0];
	}
	if (k != n)
		return rt_owner_fault(f, "tcache: a bin's or magazine's count disagrees with its chain",
		                chain);
	return 0;
}

static int tc_check_depot(struct rttcache *tc, unsigned c, struct rtheap_fault *f)
{
	struct tc_depot *d = &tc->dep[c];
	size_t mags = 0;
	int err = 0;
	rt_layer_lock(&d->lock);
	struct cds_wfcq_node *nd = __cds_wfcq_first_nonblocking(&d->head, &d->tail);
	while (!err && nd && nd != CDS_WFCQ_WOULDBLOCK && mags <= tc->depot) {
		struct tc_mag *m = caa_container_of(nd, struct tc_mag, node);
		err = m->n == tc->batch ? tc_check_chain(tc, m->chain, m->n, c, f)
		                        : rt_owner_fault(f, "tcache: a depot magazine is not full", m);
		mags++;
		nd = __cds_wfcq_next_nonblocking(&d->head, &d->tail, nd);
	}
	if (!err && mags != atomic_load_explicit(&d->count, memory_order_relaxed))
		err = rt_owner_fault(f, "tcache: the depot's count disagrees with its queue", d);
	rt_layer_unlock(&d->lock);
	return err;
}

static int tc_op_check(struct rt_owner *o, struct rtheap_fault *f)
{
	struct rttcache *tc = tc_of(o);
	if (tc->magic != TC_MAGIC)
		return rt_owner_fault(f, "tcache: descriptor's magic overwritten", tc);
	int err = 0;
	pthread_mutex_lock(&tc->mtx);
	for (struct tc_thread *t = tc->threads; !err && t; t = t->next)
		for (unsigned c = 0; !err && c < tc->ncls; c++)
			err = t->bin[c].n > tc->cap
			          ? rt_owner_fault(f, "tcache: a bin holds more than 2 * batch blocks", t)
			          : tc_check_chain(tc, t->bin[c].head, t->bin[c].n, c, f);
	pthread_mutex_unlock(&tc->mtx);
	for (unsigned c = 0; !err && c < tc->ncls; c++)
		err = tc_check_depot(tc, c, f);
	return err;
}

static void tc_op_dump(struct rt_owner *o, FILE *out)
{
	struct rttcache *tc = tc_of(o);
	struct rttcache_stats st;
	(void)rttcache_get_stats(tc, &st); /* registered: a live cache */
	fprintf(out, "tcache %p: classes 16..%zu B, batch %u, depot %u; %zu threads;"
	        " cached %zu blocks (%zu B: %zu in threads, %zu in %zu depot magazines);"
	        " refills %zu, flushes %zu, depot puts %zu gets %zu, heap batches %zu;"
	        " failures %zu, errors %zu\n", (void *)tc, st.max_size, st.batch,
	        st.depot, st.threads, st.cached_blocks, st.cached_bytes,
	        st.thread_blocks, st.depot_blocks, st.depot_magazines, st.refills,
	        st.flushes, st.depot_puts, st.depot_gets, st.heap_batches,
	        st.failures, st.errors);
}
