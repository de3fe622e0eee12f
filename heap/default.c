/* SPDX-License-Identifier: MIT */
/*
 * default.c -- the process default heap (rtheap/default.h,
 * docs/default-heap.md).
 *
 * A layer: its own translation unit, over the public API; of the door
 * (owner.h) it uses only the heap lock around fork().
 *
 *   rtheap_default()  --first call-->  map initial, mlock, prefault,
 *        |                              rtheap_init, set_lowmem, helper
 *        v
 *   rtheap_alloc() fails or crosses the threshold
 *        |  on_lowmem(): record the request, sem_post (once per round)
 *        v
 *   helper thread: sem_wait, extend_for(request)  <-- rtheap_default_grow()
 *                   (g.grow held: map, mlock, prefault, rtheap_extend)
 *
 * Locks, always taken in this order: g.setup (creation, settings, helper
 * creation), g.grow (every extension), the heap lock (inside the heap's
 * calls).  The low-memory callback takes none: it runs in the allocating
 * (perhaps real-time) thread.  The fork handlers take all three.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS, MAP_POPULATE */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "owner.h"
#include "rtheap/default.h"

enum { ST_NONE, ST_READY };
/* The helper thread: none yet (created by the next rtheap_default()),
 * running, could not be created (not retried), not wanted (NOHELPER). */
enum { HELPER_NONE, HELPER_RUNNING, HELPER_FAILED, HELPER_OFF };

struct settings {
	size_t initial, step, max;
	unsigned flags;
};

static struct {
	_Alignas(64) rtheap_t heap;
	_Atomic int state;          /* ST_*: READY published with release */
	_Atomic int helper;         /* HELPER_* */
	pthread_mutex_t setup;
	pthread_mutex_t grow;
	sem_t wake;                 /* the helper sleeps on it */
	sem_t started;              /* posted once by a new helper thread */
	atomic_bool posted;         /* wake posted, helper not awake yet */
	_Atomic size_t pending;     /* largest failed request since it woke */
	struct settings asked;      /* by rtheap_default_setup() */
	struct settings cur;        /* in force once READY */
	size_t threshold;
	unsigned env_ignored;
	bool fork_locked;           /* prepare took the heap lock */
	_Atomic size_t extents, mapped, locked, helper_ext, grow_calls,
		grow_ext, failures, lowmem;
	_Atomic int lock_errno;
} g = { .setup = PTHREAD_MUTEX_INITIALIZER, .grow = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ sizes */

/* Largest buffer one extent may be: fewer than RTHEAP_MAX_EXTENT_PAGES
 * pages of 256 bytes even for RTHEAP_BUFFER_SIZE() of it, and far from
 * overflow in the rounding below (SIZE_MAX / 4 on 32-bit machines). */
static size_t extent_limit(void)
{
	unsigned long long pages = (unsigned long long)RTHEAP_MAX_EXTENT_PAGES - 1u;
	unsigned long long bytes = pages * RTHEAP_DEFAULT_PAGE;
	return bytes < SIZE_MAX / 4 ? (size_t)bytes : SIZE_MAX / 4;
}

static bool size_ok(size_t v)
{
	return v >= RTHEAP_DEFAULT_MIN && v <= extent_limit();
}

static size_t sys_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE); /* never fails on Linux */
}

static size_t round_up(size_t v)
{
	size_t p = sys_page();
	return (v + p - 1u) / p * p;
}

/* "262144", "256K", "8M", "1G" (powers of 1024): 0, or -1 if malformed
 * or beyond size_t. */
static int parse_size(const char *s, size_t *out)
{
	size_t v = 0;
	unsigned shift = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		size_t d = (size_t)(*s - '0');
		if (v > (SIZE_MAX - d) / 10u)
			return -1;
		v = v * 10u + d;
	}
	if (*s == 'k' || *s == 'K')
		shift = 10;
	else if (*s == 'm' || *s == 'M')
		shift = 20;
	else if (*s == 'g' || *s == 'G')
		shift = 30;
	if (shift)
		s++;
	if (*s || v > (SIZE_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

/* The value of an environment variable, 0 when unset; a value that is
 * set but malformed or out of range counts as unset and sets @p bit in
 * env_ignored. */
static size_t env_size(const char *name, unsigned bit, bool is_max)
{
	const char *s = getenv(name);
	size_t v = 0;
	if (!s)
		return 0;
	if (parse_size(s, &v) == 0 && v >= RTHEAP_DEFAULT_MIN &&
	    (is_max || v <= extent_limit()))
		return v;
	g.env_ignored |= bit;
	return 0;
}

/* g.cur from what setup asked, the environment and the defaults. */
static void resolve(void)
{
	struct settings s = g.asked;
	g.env_ignored = 0;
	if (!s.initial)
		s.initial = env_size("RTHEAP_DEFAULT_SIZE", RTHEAP_DEFAULT_ENV_SIZE, false);
	if (!s.step)
		s.step = env_size("RTHEAP_DEFAULT_STEP", RTHEAP_DEFAULT_ENV_STEP, false);
	if (!s.max) {
		s.max = env_size("RTHEAP_DEFAULT_MAX", RTHEAP_DEFAULT_ENV_MAX, true);
		if (s.max && g.asked.initial > s.max) {
			/* setup's explicit initial size wins over the variable */
			g.env_ignored |= RTHEAP_DEFAULT_ENV_MAX;
			s.max = 0;
		}
	}
	if (!s.initial)
		s.initial = RTHEAP_DEFAULT_INITIAL;
	if (s.max && s.initial > s.max)
		s.initial = s.max; /* from the environment or the default */
	if (!s.step)
		s.step = s.initial;
	s.initial = round_up(s.initial);
	s.step = round_up(s.step);
	if (s.max)
		s.max = s.max / sys_page() * sys_page();
	g.cur = s;
	size_t low = s.initial < s.step ? s.initial : s.step;
	g.threshold = low / 4u;
}

/* ------------------------------------------------------------ memory */

/* A fresh extent of @p size bytes (a multiple of the system page):
 * mapped, locked if permitted (*locked says), resident.  Zero-filled
 * (RTHEAP_F_ZEROED holds).  NULL if mmap fails. */
static void *map_extent(size_t size, bool *locked)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*locked = mlock(p, size) == 0;
	if (*locked)
		atomic_fetch_add(&g.locked, size);
	else
		atomic_store(&g.lock_errno, errno);
	/* write every page once (zero keeps it zero-filled): MAP_POPULATE
	 * and mlock may leave pages out (memory pressure; the sanitizers'
	 * mlock does nothing) */
	size_t step = sys_page();
	for (size_t off = 0; off < size; off += step)
		((volatile unsigned char *)p)[off] = 0;
	atomic_fetch_add(&g.mapped, size);
	atomic_fetch_add(&g.extents, 1u);
	return p;
}

/* Undo map_extent() (an extension the heap refused). */
static void unmap_extent(void *p, size_t size, bool locked)
{
	if (locked)
		atomic_fetch_sub(&g.locked, size);
	munmap(p, size);
	atomic_fetch_sub(&g.mapped, size);
	atomic_fetch_sub(&g.extents, 1u);
}

/* ------------------------------------------------------------ growth */

/* Bytes of the extent to add for @p need (0: one step), cut down to what
 * is left under max; 0 if not even the need fits there. */
static size_t extent_bytes(size_t need, size_t page)
{
	size_t want = need ? round_up(RTHEAP_BUFFER_SIZE(need, page)) : 0;
	size_t size = want > g.cur.step ? want : g.cur.step;
	if (!g.cur.max)
		return size;
	size_t mapped = atomic_load(&g.mapped);
	size_t left = mapped < g.cur.max ? g.cur.max - mapped : 0;
	left = left / sys_page() * sys_page();
	if (size > left)
		size = left;
	if (size < want || size < RTHEAP_DEFAULT_MIN)
		return 0;
	return size;
}

/* Who asks for an extent: rtheap_default_grow(0), rtheap_default_grow(n),
 * the helper thread. */
enum asker { ASK_FORCE, ASK_GROW, ASK_HELPER };

/* Does the heap need an extent for @p need?  A request it cannot serve
 * (its rounded size beyond the largest free run) does; for the helper,
 * so does free memory below the threshold (a crossing and a failure may
 * have been merged into one wake-up). */
static bool must_extend(size_t need, enum asker who)
{
	struct rtheap_stats st;
	if (who == ASK_FORCE)
		return true;
	(void)rtheap_get_stats(&g.heap, &st); /* a live heap: 0 */
	if (who == ASK_HELPER && st.free < g.threshold)
		return true;
	if (!need)
		return false;
	size_t r = rtheap_round_size(&g.heap, need);
	return r == 0 || r > st.largest_free;
}

/* Under g.grow: map an extent for @p need and give it to the heap.
 * 0, -EINVAL (beyond any extent), -ENOMEM (max, mmap), -ENOSPC. */
static int extend_locked(size_t need, enum asker who)
{
	bool locked;
	if (need > extent_limit())
		return -EINVAL;
	if (atomic_load(&g.extents) >= RTHEAP_MAX_EXTENTS)
		return -ENOSPC;
	size_t size = extent_bytes(need, rtheap_page_size(&g.heap));
	void *buf = size ? map_extent(size, &locked) : NULL;
	if (!buf)
		return -ENOMEM;
	int err = rtheap_extend(&g.heap, buf, size, RTHEAP_F_ZEROED);
	if (err) {
		unmap_extent(buf, size, locked);
		return err;
	}
	atomic_fetch_add(who == ASK_HELPER ? &g.helper_ext : &g.grow_ext, 1u);
	return 0;
}

/* Add an extent for @p need if the heap needs one (must_extend()), under
 * g.grow.  0 (also when none was needed) or as extend_locked(), counted
 * in failures. */
static int extend_for(size_t need, enum asker who)
{
	int err = 0;
	pthread_mutex_lock(&g.grow);
	if (must_extend(need, who))
		err = extend_locked(need, who);
	if (err)
		atomic_fetch_add(&g.failures, 1u);
	pthread_mutex_unlock(&g.grow);
	return err;
}

/* Ask the helper for an extent that serves @p request bytes (0: only
 * the threshold): record it, wake the helper.  Lock-free; one sem_post
 * per helper round. */
static void want(size_t request)
{
	/* pending = max(pending, request): a retry only when another thread
	 * changed pending meanwhile (lock-free; no heap-size dependence) */
	size_t cur = atomic_load(&g.pending);
	while (request > cur &&
	       !atomic_compare_exchange_weak(&g.pending, &cur, request))
		;
	if (atomic_load(&g.helper) == HELPER_RUNNING && !atomic_exchange(&g.posted, true))
		sem_post(&g.wake);
}

/* The heap's low-memory callback, in the allocating thread: record the
 * request, wake the helper.  Lock-free; one sem_post per helper round. */
static void on_lowmem(rtheap_t *heap, size_t free_bytes, size_t request, void *arg)
{
	(void)heap;
	(void)free_bytes;
	(void)arg;
	atomic_fetch_add_explicit(&g.lowmem, 1u, memory_order_relaxed);
	want(request);
}

static void *helper_main(void *arg)
{
	(void)arg;
	/* the thread's start-up (the C library's, a checker's) is over: a
	 * fork() from now on finds it asleep, not inside an allocator */
	sem_post(&g.started);
	for (;;) {
		/* no EINTR (every signal is blocked); a spurious return
		 * would only run a round that finds nothing to do */
		(void)sem_wait(&g.wake);
		atomic_store(&g.posted, false);
		size_t need = atomic_exchange(&g.pending, 0);
		(void)extend_for(need, ASK_HELPER);
	}
	return NULL;
}

/* Wait, at most a second, for a new helper's start-up (helper_main): a
 * fork() right after set-up then finds it asleep.  Bounded: a helper that
 * cannot start (a forked child whose checker's allocator was locked by
 * another thread of the parent) must not hang its creator. */
static void await_helper(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	while (sem_timedwait(&g.started, &until) && errno == EINTR)
		;
}

/* Under g.setup: start the helper thread, non real-time, every signal
 * blocked (the process's signals go to its other threads). */
static void start_helper(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	struct sched_param sp = { .sched_priority = 0 };
	if (g.cur.flags & RTHEAP_DEFAULT_NOHELPER) {
		atomic_store(&g.helper, HELPER_OFF);
		return;
	}
	sem_init(&g.wake, 0, 0);
	sem_init(&g.started, 0, 0);
	atomic_store(&g.posted, false);
	(void)pthread_attr_init(&a); /* cannot fail in glibc */
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&a, SCHED_OTHER);
	pthread_attr_setschedparam(&a, &sp);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* running before it exists: a post in between is not lost */
	atomic_store(&g.helper, HELPER_RUNNING);
	int err = pthread_create(&t, &a, helper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (err) /* no thread (EAGAIN): grow() still works */
		atomic_store(&g.helper, HELPER_FAILED);
	else
		await_helper();
}

/* ------------------------------------------------------------ creation */

/* Under g.setup: map the first extent and make the heap.  0 or -errno. */
static int create(void)
{
	struct rtheap_config cfg = { 0 };
	bool locked;
	resolve();
	void *buf = map_extent(g.cur.initial, &locked);
	if (!buf)
		return -ENOMEM;
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg.flags = RTHEAP_F_ZEROED;
	if (g.cur.flags & RTHEAP_DEFAULT_DEBUG)
		cfg.flags |= RTHEAP_F_DEBUG_FILL;
	cfg.name = "default";
	int err = rtheap_init(&g.heap, buf, g.cur.initial, &cfg);
	if (err) {
		unmap_extent(buf, g.cur.initial, locked);
		return err;
	}
	rtheap_set_lowmem(&g.heap, g.threshold, on_lowmem, NULL);
	atomic_store_explicit(&g.state, ST_READY, memory_order_release);
	return 0;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&g.setup);
	pthread_mutex_lock(&g.grow);
	g.fork_locked = atomic_load(&g.state) == ST_READY;
	if (g.fork_locked)
		rt_owner_fork_prepare(&g.heap);
}

static void fork_parent(void)
{
	if (g.fork_locked)
		rt_owner_fork_parent(&g.heap);
	pthread_mutex_unlock(&g.grow);
	pthread_mutex_unlock(&g.setup);
}

/* The child's only thread is the one that forked: it holds g.setup and
 * g.grow (plain mutexes: it may release them) and the heap lock (set up
 * afresh).  The helper is not in the child: the next rtheap_default()
 * creates it.  Memory locks are not inherited. */
static void fork_child(void)
{
	if (g.fork_locked)
		rt_owner_fork_child(&g.heap);
	g.fork_locked = false;
	if (atomic_load(&g.helper) != HELPER_OFF)
		atomic_store(&g.helper, HELPER_NONE);
	atomic_store(&g.posted, false);
	atomic_store(&g.pending, 0);
	atomic_store(&g.locked, 0);
	pthread_mutex_unlock(&g.grow);
	pthread_mutex_unlock(&g.setup);
}

static void register_atfork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ------------------------------------------------------------ API */

rtheap_t *rtheap_default(void)
{
	if (atomic_load_explicit(&g.state, memory_order_acquire) == ST_READY &&
	    atomic_load_explicit(&g.helper, memory_order_relaxed) != HELPER_NONE)
		return &g.heap;
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&g.setup);
	int err = 0;
	if (atomic_load(&g.state) != ST_READY)
		err = create();
	if (!err && atomic_load(&g.helper) == HELPER_NONE)
		start_helper();
	pthread_mutex_unlock(&g.setup);
	if (err) {
		errno = -err;
		return NULL;
	}
	return &g.heap;
}

int rtheap_default_setup(size_t initial, size_t step, size_t max, unsigned flags)
{
	const unsigned known = RTHEAP_DEFAULT_NOHELPER | RTHEAP_DEFAULT_DEBUG;
	if ((flags & ~known) || (initial && !size_ok(initial)) ||
	    (step && !size_ok(step)) || (max && max < RTHEAP_DEFAULT_MIN) ||
	    (max && initial > max))
		return -EINVAL;
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&g.setup);
	int err = -EBUSY;
	if (atomic_load(&g.state) != ST_READY) {
		g.asked = (struct settings){ initial, step, max, flags };
		err = 0;
	}
	pthread_mutex_unlock(&g.setup);
	return err;
}

int rtheap_default_grow(size_t need)
{
	if (need > extent_limit())
		return -EINVAL;
	atomic_fetch_add(&g.grow_calls, 1u);
	if (!rtheap_default()) {
		atomic_fetch_add(&g.failures, 1u);
		return -ENOMEM;
	}
	return extend_for(need, need ? ASK_GROW : ASK_FORCE);
}

int rtheap_default_stats(struct rtheap_default_info *info)
{
	if (!info)
		return -EINVAL;
	*info = (struct rtheap_default_info){ 0 };
	if (atomic_load_explicit(&g.state, memory_order_acquire) != ST_READY)
		return 0;
	info->created = 1;
	info->helper_running = atomic_load(&g.helper) == HELPER_RUNNING;
	info->lock_errno = atomic_load(&g.lock_errno);
	info->flags = g.cur.flags;
	info->env_ignored = g.env_ignored;
	info->initial = g.cur.initial;
	info->step = g.cur.step;
	info->max = g.cur.max;
	info->threshold = g.threshold;
	info->extents = atomic_load(&g.extents);
	info->bytes_mapped = atomic_load(&g.mapped);
	info->bytes_locked = atomic_load(&g.locked);
	info->locked = info->bytes_locked == info->bytes_mapped;
	info->helper_extents = atomic_load(&g.helper_ext);
	info->grow_calls = atomic_load(&g.grow_calls);
	info->grow_extents = atomic_load(&g.grow_ext);
	info->grow_failures = atomic_load(&g.failures);
	info->lowmem_calls = atomic_load(&g.lowmem);
	return 0;
}

void *rtheap_default_alloc(size_t size)
{
	rtheap_t *h = rtheap_default();
	return h ? rtheap_alloc(h, size) : NULL;
}

int rtheap_default_free(void *ptr)
{
	if (!ptr)
		return 0;
	rtheap_t *h = rtheap_default();
	return h ? rtheap_free(h, ptr) : -ENOMEM;
}

void *rtheap_default_realloc(void *ptr, size_t size)
{
	rtheap_t *h = rtheap_default();
	return h ? rtheap_realloc(h, ptr, size) : NULL; /* errno: ENOMEM */
}

void *rtheap_default_calloc(size_t n, size_t size)
{
	rtheap_t *h = rtheap_default();
	return h ? rtheap_calloc(h, n, size) : NULL;
}

/* An aligned request above the page size needs a free run of
 * size + align - P bytes (rtheap_alloc_aligned()), more than the size the
 * low-memory callback heard of: ask the helper for that span too, so that
 * a retry finds it. */
void *rtheap_default_aligned_alloc(size_t align, size_t size)
{
	rtheap_t *h = rtheap_default();
	if (!h)
		return NULL;
	void *p = rtheap_aligned_alloc(h, align, size);
	size_t page = rtheap_page_size(h);
	if (!p && errno == ENOMEM && align > page && size <= SIZE_MAX - align)
		want(size + align - page);
	return p;
}
