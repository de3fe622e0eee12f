/* SPDX-License-Identifier: MIT */
/*
 * allocators.c -- every allocator of the latency harness behind one vtable.
 *
 * rtheap is linked in, and so are TLSF and o1heap when built from the
 * user's sources (their adapters are in peers_static.c).  The process
 * allocators among the peers (jemalloc, mimalloc, tcmalloc) are found
 * at configure time; a worker measuring one of them is started with that
 * library in LD_PRELOAD (so it is the process allocator, as a user would
 * deploy it, and jemalloc's static TLS is available) and its prefixed entry
 * points (mallocx/dallocx, mi_heap_malloc/mi_free, tc_malloc/tc_free) are
 * looked up with dlsym.  glibc's malloc is measured in a worker with no
 * preload at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rig.h"
#include "rtheap/rtheap.h"

#ifndef RIG_SKIPPED_PEERS
#define RIG_SKIPPED_PEERS ""
#endif
const char rig_skipped_at_build[] = RIG_SKIPPED_PEERS;

/* ------------------------------------------------------------------ */
/* rtheap                                                              */
/* ------------------------------------------------------------------ */

#define RIG_MAX_EXT 64

struct rt_ctx {
	rtheap_t heap;            /* first member: the ctx is the heap */
	rtheap_lock_mode_t lock;
	unsigned n;
	void *buf[RIG_MAX_EXT];
	size_t len[RIG_MAX_EXT];
};

static int rt_load(char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	return 0;
}

static void *map_populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * A heap buffer, faulted in.  With RIG_THP=1 in the environment (option
 * --thp) it is 2 MiB aligned and advised MADV_HUGEPAGE before the first
 * touch, so that transparent huge pages back it where the kernel allows.
 * RIG_NO_PREFAULT=1 (diagnostics) leaves it to be faulted in on use.
 */
void *rig_map_buffer(size_t len)
{
	const size_t huge = (size_t)2 << 20;
	char *raw, *p;
	if (getenv("RIG_NO_PREFAULT")) {
		/* diagnostics: pages faulted in on first touch (unless
		 * mlockall locks them), to count in the timed pass's page
		 * faults what it touches that the warm-up did not */
		raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return raw == MAP_FAILED ? NULL : raw;
	}
	if (!getenv("RIG_THP"))
		return map_populated(len);
	raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (p + len < raw + len + huge)
		munmap(p + len, (size_t)(raw + len + huge - (p + len)));
	madvise(p, len, MADV_HUGEPAGE);
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 0;
	return p;
}

size_t rig_buffer_size(size_t bytes)
{
	return RTHEAP_BUFFER_SIZE(bytes, RTHEAP_DEFAULT_PAGE);
}

/* rtheap_init over the first buffer of @c, rtheap_extend over the others. */
static int rt_build(struct rt_ctx *c, unsigned n)
{
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = c->lock;
	cfg.name = "latency";
	for (unsigned i = 0; i < n; i++) {
		int rc = i ? rtheap_extend(&c->heap, c->buf[i], c->len[i], 0)
		           : rtheap_init(&c->heap, c->buf[0], c->len[0], &cfg);
		if (rc) {
			fprintf(stderr, "rtheap-latency: rtheap_%s(%zu bytes): %s\n",
			        i ? "extend" : "init", c->len[i], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void *rt_init_mode(size_t bytes, unsigned extents, rtheap_lock_mode_t lock)
{
	struct rt_ctx *c;
	size_t per;

	if (extents == 0)
		extents = 1;
	if (extents > RIG_MAX_EXT || extents > RTHEAP_MAX_EXTENTS)
		return NULL;
	c = map_populated(sizeof(*c));
	if (!c)
		return NULL;
	c->lock = lock;
	per = RTHEAP_BUFFER_SIZE(bytes / extents, RTHEAP_DEFAULT_PAGE);
	for (unsigned i = 0; i < extents; i++) {
		c->len[i] = per;
		c->buf[i] = rig_map_buffer(per);
		if (!c->buf[i])
			goto fail;
		c->n = i + 1;
	}
	if (rt_build(c, c->n) == 0)
		return c;
fail:
	for (unsigned i = 0; i < c->n; i++)
		munmap(c->buf[i], c->len[i]);
	munmap(c, sizeof(*c));
	return NULL;
}

/* A fresh heap over the same, already touched, buffers. */
static int rt_reset(void *ctx)
{
	struct rt_ctx *c = ctx;
	rtheap_destroy(&c->heap, NULL, NULL);
	return rt_build(c, c->n);
}

static void *rt_init_none(size_t bytes, unsigned extents)
{
	return rt_init_mode(bytes, extents, RTHEAP_LOCK_NONE);
}

static void *rt_init_pi(size_t bytes, unsigned extents)
{
	return rt_init_mode(bytes, extents, RTHEAP_LOCK_PI_MUTEX);
}

static void *rt_alloc(void *ctx, size_t size)
{
	return rtheap_alloc(ctx, size);
}

static void rt_free(void *ctx, void *p)
{
	rtheap_free(ctx, p);
}

static void rt_destroy(void *ctx)
{
	struct rt_ctx *c = ctx;
	rtheap_destroy(&c->heap, NULL, NULL);
	for (unsigned i = 0; i < c->n; i++)
		munmap(c->buf[i], c->len[i]);
	munmap(c, sizeof(*c));
}

static void *rt_init_fixed(void *buf, size_t size)
{
	struct rtheap_config cfg;
	struct rt_ctx *c = map_populated(sizeof(*c));
	if (!c)
		return NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.lock = RTHEAP_LOCK_NONE;
	if (rtheap_init(&c->heap, buf, size, &cfg)) {
		munmap(c, sizeof(*c));
		return NULL;
	}
	return c;
}

static void rt_destroy_fixed(void *ctx)
{
	struct rt_ctx *c = ctx;
	rtheap_destroy(&c->heap, NULL, NULL);
	munmap(c, sizeof(*c));
}

static size_t rt_usable(void *ctx, void *p)
{
	return rtheap_usable_size(ctx, p);
}

static const struct rig_alloc a_rtheap = {
	"rtheap", "rtheap, lock mode NONE", 0, rt_load, rt_init_none, rt_alloc,
	rt_free, rt_destroy, rt_init_fixed, NULL, rt_destroy_fixed, rt_usable,
	sizeof(rtheap_t), rt_reset,
};

static const struct rig_alloc a_rtheap_pi = {
	"rtheap-pi", "rtheap, lock mode PI_MUTEX", 0, rt_load, rt_init_pi, rt_alloc,
	rt_free, rt_destroy, rt_init_fixed, NULL, rt_destroy_fixed, rt_usable,
	sizeof(rtheap_t), rt_reset,
};

/* ------------------------------------------------------------------ */
/* glibc                                                               */
/* ------------------------------------------------------------------ */

static int gl_load(char *why, size_t whylen)
{
	/* A preloaded allocator would replace malloc: refuse to mislabel it. */
	if (dlsym(RTLD_DEFAULT, "mallocx") || dlsym(RTLD_DEFAULT, "mi_malloc") ||
	    dlsym(RTLD_DEFAULT, "tc_malloc")) {
		snprintf(why, whylen, "malloc is not glibc's in this process");
		return -1;
	}
	return 0;
}

static int dummy_ctx;

static void *gl_init(size_t bytes, unsigned extents)
{
	(void)bytes;
	(void)extents;
	return &dummy_ctx;
}

static void *gl_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void gl_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void gl_destroy(void *ctx)
{
	(void)ctx;
}

static size_t gl_usable(void *ctx, void *p)
{
	(void)ctx;
	return malloc_usable_size(p);
}

static const struct rig_alloc a_glibc = {
	"glibc", "glibc malloc/free", 1, gl_load, gl_init, gl_alloc, gl_free,
	gl_destroy, NULL, NULL, NULL, gl_usable, 0, NULL,
};

/* ------------------------------------------------------------------ */
/* Peers found through dlsym (preloaded into the worker)                */
/* ------------------------------------------------------------------ */

#if defined(RIG_HAVE_JEMALLOC) || defined(RIG_HAVE_MIMALLOC) || defined(RIG_HAVE_TCMALLOC)
static void *lookup(const char *lib, const char *sym, char *why, size_t whylen)
{
	void *p = dlsym(RTLD_DEFAULT, sym);
	if (!p)
		snprintf(why, whylen, "%s not loaded (symbol %s missing)", lib, sym);
	return p;
}

/* Function pointers are cast through this union: ISO C has no direct
 * conversion between object and function pointers. */
#define RIG_SYM(var, lib, name)                                              \
	do {                                                                 \
		union { void *o; __typeof__(var) f; } u_;                    \
		u_.o = lookup(lib, name, why, whylen);                       \
		if (!u_.o)                                                   \
			return -1;                                           \
		var = u_.f;                                                  \
	} while (0)
#endif

#ifdef RIG_HAVE_JEMALLOC
/*
 * No fill test for jemalloc: an arena with extent hooks over a fixed
 * buffer was tried; jemalloc then draws a 2 MiB metadata (base) block from
 * the hooks for about every slab, so only ~10 % of a 16 MiB buffer ends up
 * in live blocks: a figure about the hooks, not about jemalloc's packing.
 */
static void *(*jx_mallocx)(size_t, int);
static void (*jx_dallocx)(void *, int);
static size_t (*jx_sallocx)(const void *, int);

static int jm_load(char *why, size_t whylen)
{
	RIG_SYM(jx_mallocx, "jemalloc", "mallocx");
	RIG_SYM(jx_dallocx, "jemalloc", "dallocx");
	RIG_SYM(jx_sallocx, "jemalloc", "sallocx");
	return 0;
}

static void *jm_init(size_t bytes, unsigned extents)
{
	(void)bytes;
	(void)extents;
	return &dummy_ctx;
}

static void *jm_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return jx_mallocx(size, 0);
}

static void jm_free(void *ctx, void *p)
{
	(void)ctx;
	jx_dallocx(p, 0);
}

static size_t jm_usable(void *ctx, void *p)
{
	(void)ctx;
	return jx_sallocx(p, 0);
}

static const struct rig_alloc a_jemalloc = {
	"jemalloc", "jemalloc mallocx/dallocx (" RIG_JEMALLOC_NAME ")", 1,
	jm_load, jm_init, jm_alloc, jm_free, gl_destroy, NULL, NULL, NULL,
	jm_usable, 0, NULL,
};
#endif

#ifdef RIG_HAVE_MIMALLOC
typedef struct mi_heap_s mi_heap_t;
static mi_heap_t *(*mi_heap_new_)(void);
static void *(*mi_heap_malloc_)(mi_heap_t *, size_t);
static void (*mi_free_)(void *);
static void (*mi_heap_destroy_)(mi_heap_t *);
static size_t (*mi_usable_size_)(const void *);
static bool (*mi_manage_os_memory_ex_)(void *, size_t, bool, bool, bool, int,
                                       bool, int *);
static mi_heap_t *(*mi_heap_new_in_arena_)(int);

static int mi_load(char *why, size_t whylen)
{
	RIG_SYM(mi_heap_new_, "mimalloc", "mi_heap_new");
	RIG_SYM(mi_heap_malloc_, "mimalloc", "mi_heap_malloc");
	RIG_SYM(mi_free_, "mimalloc", "mi_free");
	RIG_SYM(mi_heap_destroy_, "mimalloc", "mi_heap_destroy");
	RIG_SYM(mi_usable_size_, "mimalloc", "mi_usable_size");
	RIG_SYM(mi_manage_os_memory_ex_, "mimalloc", "mi_manage_os_memory_ex");
	RIG_SYM(mi_heap_new_in_arena_, "mimalloc", "mi_heap_new_in_arena");
	return 0;
}

static void *mi_init(size_t bytes, unsigned extents)
{
	(void)bytes;
	(void)extents;
	return mi_heap_new_();
}

static void *mi_alloc(void *ctx, size_t size)
{
	return mi_heap_malloc_(ctx, size);
}

static void mi_free_op(void *ctx, void *p)
{
	(void)ctx;
	mi_free_(p);
}

static void mi_destroy(void *ctx)
{
	mi_heap_destroy_(ctx);
}

static size_t mi_usable(void *ctx, void *p)
{
	(void)ctx;
	return mi_usable_size_(p);
}

static void *mi_init_fixed(void *buf, size_t size)
{
	int id = -1;
	if (!mi_manage_os_memory_ex_(buf, size, true, false, false, -1, true, &id))
		return NULL;
	return mi_heap_new_in_arena_(id);
}

static void mi_destroy_fixed(void *ctx)
{
	(void)ctx; /* the arena stays registered; never reused */
}

static const struct rig_alloc a_mimalloc = {
	"mimalloc", "mimalloc mi_heap_malloc/mi_free (fresh mi_heap_new)", 1,
	mi_load, mi_init, mi_alloc, mi_free_op, mi_destroy, mi_init_fixed,
	NULL, mi_destroy_fixed, mi_usable, 0, NULL,
};
#endif

#ifdef RIG_HAVE_TCMALLOC
static void *(*tc_malloc_)(size_t);
static void (*tc_free_)(void *);
static size_t (*tc_malloc_size_)(void *);

static int tc_load(char *why, size_t whylen)
{
	RIG_SYM(tc_malloc_, "tcmalloc", "tc_malloc");
	RIG_SYM(tc_free_, "tcmalloc", "tc_free");
	RIG_SYM(tc_malloc_size_, "tcmalloc", "tc_malloc_size");
	return 0;
}

static void *tc_init(size_t bytes, unsigned extents)
{
	(void)bytes;
	(void)extents;
	return &dummy_ctx;
}

static void *tc_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return tc_malloc_(size);
}

static void tc_free_op(void *ctx, void *p)
{
	(void)ctx;
	tc_free_(p);
}

static size_t tc_usable(void *ctx, void *p)
{
	(void)ctx;
	return tc_malloc_size_(p);
}

static const struct rig_alloc a_tcmalloc = {
	"tcmalloc", "tcmalloc tc_malloc/tc_free (gperftools, minimal)", 1,
	tc_load, tc_init, tc_alloc, tc_free_op, gl_destroy, NULL, NULL, NULL,
	tc_usable, 0, NULL,
};
#endif

const struct rig_alloc *const rig_allocs[] = {
	&a_rtheap,
	&a_rtheap_pi,
	&a_glibc,
#ifdef RIG_HAVE_JEMALLOC
	&a_jemalloc,
#endif
#ifdef RIG_HAVE_MIMALLOC
	&a_mimalloc,
#endif
#ifdef RIG_HAVE_TCMALLOC
	&a_tcmalloc,
#endif
#ifdef RIG_HAVE_TLSF
	&rig_alloc_tlsf,
#endif
#ifdef RIG_HAVE_O1HEAP
	&rig_alloc_o1heap,
#endif
	NULL,
};

const struct rig_alloc *rig_find_alloc(const char *name)
{
	for (int i = 0; rig_allocs[i]; i++)
		if (strcmp(rig_allocs[i]->name, name) == 0)
			return rig_allocs[i];
	return NULL;
}

const char *rig_preload(const char *name)
{
#ifdef RIG_HAVE_JEMALLOC
	if (strcmp(name, "jemalloc") == 0)
		return RIG_JEMALLOC_LIB;
#endif
#ifdef RIG_HAVE_MIMALLOC
	if (strcmp(name, "mimalloc") == 0)
		return RIG_MIMALLOC_LIB;
#endif
#ifdef RIG_HAVE_TCMALLOC
	if (strcmp(name, "tcmalloc") == 0)
		return RIG_TCMALLOC_LIB;
#endif
	(void)name;
	return NULL;
}

/*
 * Real-time tuning of the peers, as an RT user would configure them: keep
 * the memory obtained from the kernel instead of returning it (so that the
 * warm-up pass leaves every page mapped and locked).
 */
void rig_tune_env(const char *name, int tune)
{
	if (!tune)
		return;
	if (strcmp(name, "jemalloc") == 0)
		setenv("MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1,background_thread:false", 1);
	else if (strcmp(name, "tcmalloc") == 0)
		setenv("TCMALLOC_RELEASE_RATE", "0", 1);
	else if (strcmp(name, "mimalloc") == 0)
		setenv("MIMALLOC_ALLOW_DECOMMIT", "0", 1);
}

void rig_tune_process(const char *name, int tune)
{
	if (!tune)
		return;
	if (strcmp(name, "glibc") == 0) {
		mallopt(M_MMAP_MAX, 0);        /* never mmap a block */
		mallopt(M_TRIM_THRESHOLD, -1); /* never give memory back */
	}
}
