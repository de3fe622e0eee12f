/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input bytes drive a sequence of operations on small
 * rtheap heaps (init with several page sizes, extend, alloc, zalloc,
 * aligned alloc, calloc, C11 aligned_alloc, realloc (in place or moved,
 * predicted by the model), free,
 * test-and-free, invalid frees of interior / foreign / freed / random
 * addresses, queries, destroy), mirrored in a shadow model.
 *
 * After every operation: rtheap_check passes, the statistics match the
 * model, the error callback was called exactly as the model predicts.
 * Block contents are filled on allocation and verified before release and
 * on demand, so overlapping blocks or metadata written into live blocks
 * are caught.  Any mismatch aborts, which libFuzzer reports as a crash.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see tests/CMakeLists.txt).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtheap/rtheap.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#endif
#endif
#ifndef FUZZ_UNPOISON
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Model helpers whose loops would otherwise dominate the run time with
 * comparison tracing: libFuzzer needs coverage of the heap, not of them. */
#if defined(__clang__) && __clang_major__ >= 13
#define MODEL_FN __attribute__((no_sanitize("coverage"), noinline))
#else
#define MODEL_FN
#endif

#define ARENA_SIZE (256u << 10)
#define MAX_BLOCKS 384
#define FREED_RING 16

static _Alignas(32768) unsigned char arena[ARENA_SIZE];
static _Alignas(64) unsigned char foreign_mem[256];

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "fuzz_heap: line %d: %s: ", __LINE__, \
			        #cond);                                   \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			abort();                                          \
		}                                                         \
	} while (0)

/* ---- input reader ---- */

struct input {
	const uint8_t *d;
	size_t n, i;
};

static unsigned get8(struct input *in) { return in->i < in->n ? in->d[in->i++] : 0u; }
static unsigned get16(struct input *in)
{
	unsigned lo = get8(in);
	return lo | get8(in) << 8;
}
static uint32_t get32(struct input *in)
{
	uint32_t lo = get16(in);
	return lo | (uint32_t)get16(in) << 16;
}

/* ---- model ---- */

struct extent {
	unsigned char *buf;
	size_t size;
};

struct block {
	unsigned char *p;
	size_t req;   /* requested size: filled and verified */
	size_t round; /* rounded size: accounted */
	uint8_t seed;
};

static struct model {
	rtheap_t heap;
	int alive;
	size_t page;
	unsigned flags;
	struct extent ext[RTHEAP_MAX_EXTENTS];
	int next;
	size_t bump; /* arena bytes handed out to extents since the last init */
	struct block blk[MAX_BLOCKS];
	int nblk;
	unsigned char *freed[FREED_RING];
	unsigned freed_pos;
	size_t used, usable, allocs, frees, failed, errors;
	uint8_t seed;
	/* error callback log */
	int cb_calls;
	rtheap_error_kind_t cb_kind;
	const void *cb_addr;
	/* low-memory callback */
	int lowmem_on;
	size_t lowmem_thr;
	int lowmem_armed; /* the heap will notify on the next alloc below thr */
	int lm_calls;
	size_t lm_request, lm_free;
	/* flush log */
	int flushes;
	int flush_bad;
} M;

static void on_error(rtheap_t *h, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	CHECK(h == &M.heap && arg == &M, "error callback with wrong heap/arg");
	M.cb_calls++;
	M.cb_kind = kind;
	M.cb_addr = addr;
}

static void on_lowmem(rtheap_t *h, size_t free_bytes, size_t request, void *arg)
{
	CHECK(h == &M.heap && arg == &M, "lowmem callback with wrong heap/arg");
	M.lm_calls++;
	M.lm_request = request;
	M.lm_free = free_bytes;
}

static void on_flush(rtheap_t *h, void *buf, size_t size, void *cookie)
{
	int hit = 0;
	CHECK(h == &M.heap && cookie == &M, "flush callback with wrong heap/cookie");
	M.flushes++;
	for (int i = 0; i < M.next; i++)
		if (M.ext[i].buf == buf && M.ext[i].size == size) {
			M.ext[i].size = 0; /* each extent once */
			hit = 1;
		}
	if (!hit)
		M.flush_bad++;
}

static int ck_called;
static int ck_refuse(void *b)
{
	(void)b;
	ck_called++;
	return 7;
}
static int ck_accept(void *b)
{
	(void)b;
	ck_called++;
	return 0;
}

/* Contents: the first 64 bytes, the last 8 and bytes 0 and 8 of every
 * 16-byte granule (where list links and headers would land) carry a
 * pattern; the rest is not touched, to keep big blocks cheap. */
static inline int sampled(size_t i, size_t n)
{
	return i < 64 || i + 8 >= n || (i & 7) == 0;
}

MODEL_FN static void fill_block(const struct block *b)
{
	for (size_t i = 0; i < b->req; i++)
		if (sampled(i, b->req))
			b->p[i] = (unsigned char)(b->seed ^ (i * 13u) ^ (i >> 8));
}

MODEL_FN static void verify_block(const struct block *b)
{
	for (size_t i = 0; i < b->req; i++)
		if (sampled(i, b->req) && b->p[i] != (unsigned char)(b->seed ^ (i * 13u) ^ (i >> 8)))
			CHECK(0, "block %p (req %zu) byte %zu overwritten", (void *)b->p, b->req, i);
}

MODEL_FN static int in_extent(const void *a)
{
	const unsigned char *p = a;
	for (int i = 0; i < M.next; i++)
		if (p >= M.ext[i].buf && p < M.ext[i].buf + M.ext[i].size)
			return i;
	return -1;
}

/* The page array of extent e (docs/design.md): a 256-byte header, the map
 * (4 bytes a page), from P = 512 on the side bitmaps (P/128 bytes a
 * page), then npages pages aligned to P: the most that fit the buffer. */
MODEL_FN static const unsigned char *pages_at(int e, size_t np)
{
	const size_t P = M.page, meta = 4 + (P > 256 ? P / 128 : 0);
	uintptr_t m = (uintptr_t)M.ext[e].buf + RTHEAP_EXTENT_HDR + np * meta;
	return (const unsigned char *)((m + P - 1) & ~(uintptr_t)(P - 1));
}

MODEL_FN static size_t npages_of(int e)
{
	const size_t P = M.page, meta = 4 + (P > 256 ? P / 128 : 0);
	const unsigned char *end = M.ext[e].buf + M.ext[e].size;
	size_t np = (M.ext[e].size - RTHEAP_EXTENT_HDR) / (P + meta) + 1;
	while (np > 0 && (size_t)(end - pages_at(e, np)) < np * P)
		np--;
	return np;
}

/* Bytes of the largest live bucket block in the page at pg, 0 if none;
 * *used: some live block (bucket or run) overlaps the page. */
MODEL_FN static size_t page_class(const unsigned char *pg, int *used)
{
	size_t cls = 0;
	*used = 0;
	for (int i = 0; i < M.nblk; i++) {
		const struct block *b = &M.blk[i];
		if (b->p < pg + M.page && b->p + b->round > pg) {
			*used = 1;
			if (b->round <= M.page / 2)
				cls = b->round;
		}
	}
	return cls;
}

/* The kind of misuse the heap reports for releasing a, an address inside
 * extent e that no live block covers: DOUBLE_FREE for a free block of a
 * bucket page and for the first or last page of a free run (the map marks
 * both ends FREE), NOT_BLOCK for anything else. */
MODEL_FN static rtheap_error_kind_t predicted_kind(const unsigned char *a, int e)
{
	const size_t P = M.page, np = npages_of(e);
	const unsigned char *pages = pages_at(e, np);
	if (a < pages || a >= pages + np * P)
		return RTHEAP_ERR_NOT_BLOCK;
	size_t pg = (size_t)(a - pages) / P, off = (size_t)(a - pages) % P;
	int used, prev_used = 1, next_used = 1;
	size_t cls = page_class(pages + pg * P, &used);
	if (cls)
		return off % cls == 0 ? RTHEAP_ERR_DOUBLE_FREE : RTHEAP_ERR_NOT_BLOCK;
	if (used || off)
		return RTHEAP_ERR_NOT_BLOCK;
	if (pg > 0)
		page_class(pages + (pg - 1) * P, &prev_used);
	if (pg + 1 < np)
		page_class(pages + (pg + 1) * P, &next_used);
	return prev_used || next_used ? RTHEAP_ERR_DOUBLE_FREE : RTHEAP_ERR_NOT_BLOCK;
}

MODEL_FN static int live_index(const void *a)
{
	for (int i = 0; i < M.nblk; i++)
		if (M.blk[i].p == a)
			return i;
	return -1;
}

/* Block whose rounded extent covers @a (start or interior), or -1. */
MODEL_FN static int covering(const void *a)
{
	const unsigned char *p = a;
	for (int i = 0; i < M.nblk; i++)
		if (p >= M.blk[i].p && p < M.blk[i].p + M.blk[i].round)
			return i;
	return -1;
}

MODEL_FN static size_t first_not(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return i;
	return n;
}

MODEL_FN static int overlapping(const unsigned char *p, size_t n)
{
	for (int i = 0; i < M.nblk; i++)
		if (p + n > M.blk[i].p && M.blk[i].p + M.blk[i].round > p)
			return i;
	return -1;
}

MODEL_FN static size_t model_round(size_t size)
{
	size_t P = M.page;
	if (size == 0)
		return 0;
	if (size <= P / 2) {
		size_t r = RTHEAP_MIN_BLOCK;
		while (r < size)
			r <<= 1;
		return r;
	}
	/* Beyond what one extent can hold (or half the address space): invalid. */
	size_t max = (size_t)RTHEAP_MAX_EXTENT_PAGES * P;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	if (size > max)
		return 0;
	return (size + P - 1) / P * P;
}

/* Statistics must agree with the model; the heap must pass its check. */
static void check_heap(void)
{
	struct rtheap_stats st;
	struct rtheap_fault f;
	if (!M.alive) {
		CHECK(rtheap_check(&M.heap, NULL) == -EINVAL, "dead heap checked");
		CHECK(rtheap_get_stats(&M.heap, &st) == -EINVAL, "dead heap stats");
		return;
	}
	memset(&f, 0, sizeof f);
	int rc = rtheap_check(&M.heap, &f);
	CHECK(rc == 0, "rtheap_check %d: %s at %p extent %d page %ld", rc,
	      f.what ? f.what : "?", f.addr, f.extent, f.page);
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats");
	CHECK(st.page_size == M.page, "page %zu vs %zu", st.page_size, M.page);
	CHECK(st.extents == (size_t)M.next, "extents %zu vs %d", st.extents, M.next);
	CHECK(st.usable == M.usable, "usable %zu vs %zu", st.usable, M.usable);
	CHECK(st.used == M.used, "used %zu vs %zu", st.used, M.used);
	CHECK(st.free == st.usable - st.used, "free %zu", st.free);
	CHECK(st.peak_used >= st.used, "peak %zu < used %zu", st.peak_used, st.used);
	CHECK(st.live_blocks == (size_t)M.nblk, "live %zu vs %d", st.live_blocks, M.nblk);
	CHECK(st.alloc_calls == M.allocs, "allocs %zu vs %zu", st.alloc_calls, M.allocs);
	CHECK(st.free_calls == M.frees, "frees %zu vs %zu", st.free_calls, M.frees);
	CHECK(st.failed_allocs == M.failed, "failed %zu vs %zu", st.failed_allocs, M.failed);
	CHECK(st.errors == M.errors, "errors %zu vs %zu", st.errors, M.errors);
	CHECK(st.largest_free <= st.free, "largest_free %zu > free %zu", st.largest_free, st.free);
	CHECK(st.largest_free % M.page == 0, "largest_free %zu", st.largest_free);
	CHECK(st.pages_bucket * M.page + st.pages_run * M.page <= st.usable, "pages");
	size_t in_classes = 0;
	for (int c = 0; c < RTHEAP_NR_CLASSES; c++)
		in_classes += st.class_live[c];
	CHECK(in_classes <= st.live_blocks, "class_live sum %zu", in_classes);
}

static void forget_heap(void)
{
	M.alive = 0;
	M.next = 0;
	M.nblk = 0;
	M.used = M.usable = M.allocs = M.frees = M.failed = M.errors = 0;
	M.lowmem_on = 0;
}

static void do_destroy(void)
{
	if (!M.alive) {
		CHECK(rtheap_destroy(&M.heap, on_flush, &M) == -EINVAL, "destroy of dead heap");
		CHECK(M.flushes == 0, "flush on dead heap");
		return;
	}
	M.flushes = 0;
	M.flush_bad = 0;
	int n = M.next;
	CHECK(rtheap_destroy(&M.heap, on_flush, &M) == 0, "destroy");
	CHECK(M.flushes == n && M.flush_bad == 0, "flush calls %d for %d extents, %d bad",
	      M.flushes, n, M.flush_bad);
	M.flushes = 0;
	forget_heap();
	/* A destroyed heap answers every call with an error. */
	CHECK(rtheap_alloc(&M.heap, 16) == NULL, "alloc after destroy");
	CHECK(rtheap_free(&M.heap, arena + 4096) == -EINVAL, "free after destroy");
	CHECK(rtheap_page_size(&M.heap) == 0, "page size after destroy");
}

/* Carve a candidate extent buffer from the arena, as the input says. */
static int carve(struct input *in, size_t P, unsigned char **buf, size_t *size)
{
	unsigned mode = get8(in);
	size_t sz;
	switch (mode & 3) {
	case 0: /* just too small, or just enough */
		sz = RTHEAP_EXTENT_HDR + 2 * P - 1 - (get8(in) % 32);
		if (mode & 4)
			sz = RTHEAP_BUFFER_SIZE(2 * P, P);
		break;
	case 1:
		sz = RTHEAP_BUFFER_SIZE((2 + get8(in) % 6) * P, P);
		break;
	case 2: /* mostly small heaps: the full check after every op stays cheap */
		sz = RTHEAP_BUFFER_SIZE((2 + get16(in) % ((mode & 0x80) ? 64 : 16)) * P, P);
		break;
	default:
		sz = RTHEAP_EXTENT_HDR + get16(in) % (12 * P);
		break;
	}
	unsigned m = get8(in);
	size_t off;
	if ((m & 0xF0) == 0xF0)
		off = 1 + (m & 7) % 7; /* misaligned */
	else if (m & 1)
		off = 8 * ((m >> 1) & 7);
	else
		off = 0;
	size_t start = (M.bump + 63) & ~(size_t)63;
	if (start + off + sz > ARENA_SIZE)
		return -1;
	*buf = arena + start + off;
	*size = sz;
	return 0;
}

static void zero_region(unsigned char *buf, size_t size)
{
	/* The region was never handed to a live heap (or its heap was
	 * destroyed): the caller owns it and may write it. */
	memset(buf, 0, size);
}

static size_t min_usable(size_t size, size_t P)
{
	/* RTHEAP_BUFFER_SIZE(k*P, P) <= size  =>  at least k pages usable. */
	if (size < RTHEAP_EXTENT_HDR + P)
		return 0;
	size_t k = (size - RTHEAP_EXTENT_HDR - P) / (P + RTHEAP_MAP_BYTES(P));
	return k * P;
}

static const size_t page_choices[] = {256, 8, 512, 1024, 4096, 256, 2048, 32768,
                                      3,   100, 65536, 128, 256, 512, 16384, 0};

static void do_init(struct input *in)
{
	if (M.alive)
		do_destroy();
	M.bump = 0;
	size_t req_page = page_choices[get8(in) % (sizeof page_choices / sizeof page_choices[0])];
	int bad_page = req_page != 0 && (req_page > RTHEAP_MAX_PAGE || (req_page & (req_page - 1)) ||
	                                 req_page < 8);
	size_t P = req_page == 0 ? RTHEAP_DEFAULT_PAGE
	                         : (req_page < RTHEAP_MIN_PAGE ? RTHEAP_MIN_PAGE : req_page);
	if (bad_page)
		P = RTHEAP_DEFAULT_PAGE;
	unsigned char *buf;
	size_t size;
	if (carve(in, P, &buf, &size))
		return;
	unsigned fl = get8(in);
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.page_size = req_page;
	cfg.lock = (rtheap_lock_mode_t)(fl % 3);
	cfg.flags = 0;
	if ((fl & 0x30) == 0x10) /* a quarter of the heaps: its checks cost O(block size) */
		cfg.flags |= RTHEAP_F_DEBUG_FILL;
	if (fl & 0x40) {
		zero_region(buf, size);
		cfg.flags |= RTHEAP_F_ZEROED;
	}
	int misaligned = ((uintptr_t)buf & 7) != 0;
	int rc = rtheap_init(&M.heap, buf, size, &cfg);
	if (bad_page || misaligned || size < RTHEAP_EXTENT_HDR + 2 * P) {
		CHECK(rc == -EINVAL, "init(page %zu, size %zu, buf %p) = %d", req_page, size,
		      (void *)buf, rc);
		CHECK(rtheap_page_size(&M.heap) == 0, "failed init left a usable heap");
		return;
	}
	if (size >= RTHEAP_BUFFER_SIZE(2 * P, P))
		CHECK(rc == 0, "init(page %zu, size %zu) = %d", P, size, rc);
	if (rc != 0) {
		CHECK(rc == -EINVAL, "init rc %d", rc);
		return;
	}
	struct rtheap_stats st;
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats after init");
	CHECK(st.usable % P == 0 && st.usable >= min_usable(size, P) && st.usable >= 2 * P &&
	              st.usable <= size - RTHEAP_EXTENT_HDR,
	      "usable %zu for size %zu page %zu", st.usable, size, P);
	if ((uintptr_t)buf % P == 0)
		CHECK(st.usable == size - rtheap_overhead(size, P),
		      "overhead(%zu, %zu) = %zu but usable %zu", size, P, rtheap_overhead(size, P),
		      st.usable);
	CHECK(st.size == size, "size %zu vs %zu", st.size, size);
	M.alive = 1;
	M.page = P;
	M.flags = cfg.flags;
	M.ext[0].buf = buf;
	M.ext[0].size = size;
	M.next = 1;
	M.usable = st.usable;
	M.lowmem_armed = M.usable - M.used >= M.lowmem_thr;
	M.bump = (size_t)(buf - arena) + size;
	CHECK(rtheap_set_error_handler(&M.heap, on_error, &M) == 0, "set handler");
}

static void do_extend(struct input *in)
{
	if (!M.alive) {
		CHECK(rtheap_extend(&M.heap, arena, 4096, 0) == -EINVAL, "extend of dead heap");
		return;
	}
	size_t P = M.page;
	unsigned char *buf;
	size_t size;
	unsigned how = get8(in);
	int overlap = 0;
	if ((how & 7) == 7) {
		/* Overlap an existing extent. */
		const struct extent *e = &M.ext[get8(in) % M.next];
		size_t a = (get16(in) % e->size) & ~(size_t)7;
		size_t len = 1024 + get16(in) % 8192;
		if ((how & 0x18) == 0x18 && e->buf - arena >= 512) {
			buf = e->buf - 512; /* straddles the start */
			size = 512 + len;
		} else {
			buf = e->buf + a;
			size = len;
		}
		if ((size_t)(buf - arena) + size > ARENA_SIZE)
			return;
		overlap = 1;
	} else if (carve(in, P, &buf, &size)) {
		return;
	}
	unsigned flags = 0;
	if (how & 0x20) {
		if (!overlap) {
			zero_region(buf, size);
			flags = RTHEAP_F_ZEROED;
		}
	}
	if (how & 0x40)
		flags |= 1u << 5; /* unknown flag */
	size_t before_usable = M.usable;
	int rc = rtheap_extend(&M.heap, buf, size, flags);
	int bad = overlap || ((uintptr_t)buf & 7) || size < RTHEAP_EXTENT_HDR + 2 * P ||
	          (flags & ~(unsigned)RTHEAP_F_ZEROED);
	if (bad) { /* -EINVAL first, even with a full extent table */
		CHECK(rc == -EINVAL, "bad extend(%p, %zu, %#x) overlap %d = %d", (void *)buf, size,
		      flags, overlap, rc);
		return;
	}
	if (M.next == RTHEAP_MAX_EXTENTS) {
		CHECK(rc == -ENOSPC, "extend with full table = %d", rc);
		return;
	}
	if (size >= RTHEAP_BUFFER_SIZE(2 * P, P))
		CHECK(rc == 0, "extend(%p, %zu) = %d", (void *)buf, size, rc);
	if (rc != 0) {
		CHECK(rc == -EINVAL, "extend rc %d", rc);
		return;
	}
	struct rtheap_stats st;
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats");
	size_t gained = st.usable - before_usable;
	CHECK(gained % P == 0 && gained >= min_usable(size, P) && gained >= 2 * P,
	      "extend of %zu gave %zu usable", size, gained);
	M.ext[M.next].buf = buf;
	M.ext[M.next].size = size;
	M.next++;
	M.usable = st.usable;
	M.lowmem_armed = M.usable - M.used >= M.lowmem_thr;
	M.bump = (size_t)(buf - arena) + size;
}

static size_t choose_size(struct input *in)
{
	size_t P = M.page ? M.page : RTHEAP_DEFAULT_PAGE;
	unsigned mode = get8(in);
	switch (mode & 7) {
	case 0:
		return get8(in) % 33;
	case 1:
	case 2:
	case 3:
		return 1 + get16(in) % (P / 2);
	case 4:
		return P / 2 + get16(in) % (4 * P);
	case 5:
		return 1 + get32(in) % (64 * P);
	case 6: {
		static const size_t huge[] = {SIZE_MAX,         SIZE_MAX - 1, SIZE_MAX - 255,
		                              SIZE_MAX / 2 + 1, SIZE_MAX / 2, (size_t)1 << 40,
		                              (size_t)RTHEAP_MAX_EXTENT_PAGES * 256 + 1,
		                              ARENA_SIZE};
		return huge[(mode >> 3) % 8];
	}
	default: {
		struct rtheap_stats st;
		if (!M.alive || rtheap_get_stats(&M.heap, &st))
			return 64;
		size_t s = (mode & 8) ? st.largest_free : st.largest_free + 1;
		return s ? s : 1;
	}
	}
}

/* Alignment for rtheap_alloc_aligned: mostly powers of two from 1 to 128
 * pages, sometimes not a power of two (refused, not counted) or a power
 * of two beyond any extent. */
static size_t choose_align(struct input *in)
{
	unsigned v = get8(in);
	size_t P = M.page ? M.page : RTHEAP_DEFAULT_PAGE;
	unsigned pshift = 0;
	while (((size_t)1 << pshift) < P)
		pshift++;
	if ((v & 15) == 15) {
		static const size_t odd[] = {0, 3, 48, SIZE_MAX / 2 + 1, SIZE_MAX, 24, (size_t)1 << 40,
		                             3 * 4096};
		return odd[(v >> 4) % 8];
	}
	return (size_t)1 << ((v >> 2) % (pshift + 8)); /* 1 .. 128 pages */
}

/* Block size rtheap_alloc_aligned accounts (rtheap.h), 0 when it must
 * fail; *span: the bytes of free run that are sure to serve it. */
MODEL_FN static size_t model_round_aligned(size_t size, size_t align, size_t *span)
{
	size_t P = M.page;
	size_t max = (size_t)RTHEAP_MAX_EXTENT_PAGES * P;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	size_t r = model_round(size);
	*span = r;
	if (r == 0 || align > max)
		return 0;
	size_t natural = r <= P / 2 ? r : P;
	if (align <= natural)
		return r;
	if (align <= P) {
		r = model_round(size > align ? size : align);
		*span = r;
		return r;
	}
	r = (size + P - 1) / P * P;
	*span = r + (align - P);
	return r;
}

static int pow2(size_t a)
{
	return a != 0 && (a & (a - 1)) == 0;
}

/* mode 0: rtheap_alloc, 1: rtheap_zalloc, 2: rtheap_alloc_aligned,
 * 3: rtheap_aligned_alloc (C11 order, at most RTHEAP_MAX_ALIGN), 4:
 * rtheap_calloc, 5: rtheap_realloc(NULL, size) */
MODEL_FN static void *alloc_call(int mode, size_t size, size_t align)
{
	switch (mode) {
	case 1:
		return rtheap_zalloc(&M.heap, size);
	case 2:
		return rtheap_alloc_aligned(&M.heap, size, align);
	case 3:
		return rtheap_aligned_alloc(&M.heap, align, size);
	case 4: /* n x 1 or 1 x n */
		return size & 1 ? rtheap_calloc(&M.heap, size, 1) : rtheap_calloc(&M.heap, 1, size);
	case 5:
		return rtheap_realloc(&M.heap, NULL, size);
	default:
		return rtheap_alloc(&M.heap, size);
	}
}

/* The errno a failed C-style call (modes 3 to 5) sets: EINVAL for a bad
 * alignment, none for size 0, else ENOMEM. */
static void check_errno(int mode, size_t size, size_t align)
{
	int bad_align = mode == 3 && (!pow2(align) || align > RTHEAP_MAX_ALIGN);
	if (mode < 3)
		return;
	if (bad_align)
		CHECK(errno == EINVAL, "mode %d align %zu: errno %d", mode, align, errno);
	else if (size == 0)
		CHECK(errno == 0, "mode %d size 0: errno %d", mode, errno);
	else
		CHECK(errno == ENOMEM, "mode %d size %zu: errno %d", mode, size, errno);
}

/* calloc whose product overflows: NULL, ENOMEM, nothing counted. */
static void calloc_overflow(size_t size)
{
	size_t n = size > 1 ? size : 2;
	size_t m = SIZE_MAX / n + 1;
	errno = 0;
	CHECK(rtheap_calloc(&M.heap, n, m) == NULL && errno == ENOMEM,
	      "calloc(%zu, %zu) overflowing: errno %d", n, m, errno);
	CHECK(M.lm_calls == 0, "lowmem callback for a calloc overflow");
}

static void do_alloc(struct input *in, int mode)
{
	const int zero = mode == 1 || mode == 4;
	size_t size = choose_size(in);
	size_t align = mode == 2 || mode == 3 ? choose_align(in) : 1;
#define ALLOC() alloc_call(mode, size, align)
	if (!M.alive) {
		errno = 0;
		void *p = ALLOC();
		CHECK(p == NULL, "alloc from dead heap");
		CHECK(mode < 3 || errno == EINVAL, "dead heap: errno %d", errno);
		return;
	}
	if (M.nblk == MAX_BLOCKS)
		return;
	struct rtheap_stats st0;
	CHECK(rtheap_get_stats(&M.heap, &st0) == 0, "stats");
	size_t want = model_round(size), span = want;
	CHECK(rtheap_round_size(&M.heap, size) == want, "round_size(%zu) = %zu, model %zu", size,
	      rtheap_round_size(&M.heap, size), want);
	if (mode == 2 || mode == 3)
		want = model_round_aligned(size, align, &span);
	M.lm_calls = 0;
	if (mode == 4)
		calloc_overflow(size);
	errno = 0;
	unsigned char *p = ALLOC();
#undef ALLOC
	CHECK(M.cb_calls == 0, "error callback on alloc");
	if (!p)
		check_errno(mode, size, align);
	if (!p && (size == 0 || !pow2(align) || (mode == 3 && align > RTHEAP_MAX_ALIGN))) {
		/* Not counted as a failed allocation, no low-memory call. */
		CHECK(M.lm_calls == 0, "lowmem callback for size 0 or a bad alignment");
		return;
	}
	CHECK(pow2(align), "alignment %zu served", align);
	if (!p) {
		CHECK(want == 0 || span > st0.largest_free,
		      "alloc(%zu, align %zu) failed but largest_free is %zu (span %zu)", size, align,
		      st0.largest_free, span);
		M.failed++;
		if (M.lowmem_on)
			CHECK(M.lm_calls == 1 && M.lm_request == size,
			      "lowmem on failure: %d calls, request %zu (want %zu)", M.lm_calls,
			      M.lm_request, size);
		else
			CHECK(M.lm_calls == 0, "lowmem callback not set but called");
		return;
	}
	CHECK(want != 0, "alloc(%zu, align %zu) succeeded", size, align);
	CHECK((uintptr_t)p % align == 0, "block %p misaligned for %zu", (void *)p, align);
	int e = in_extent(p);
	CHECK(e >= 0, "block %p outside every extent", (void *)p);
	CHECK(p + want <= M.ext[e].buf + M.ext[e].size, "block %p+%zu past its extent",
	      (void *)p, want);
	if (want <= M.page / 2)
		CHECK((uintptr_t)p % want == 0, "block %p of %zu misaligned", (void *)p, want);
	else
		CHECK((uintptr_t)p % M.page == 0, "run %p not page aligned", (void *)p);
	int ov = overlapping(p, want);
	CHECK(ov < 0, "block %p+%zu overlaps live %p+%zu", (void *)p, want,
	      (void *)M.blk[ov].p, M.blk[ov].round);
	CHECK(rtheap_usable_size(&M.heap, p) == want, "usable_size %zu vs %zu",
	      rtheap_usable_size(&M.heap, p), want);
	CHECK(rtheap_check_block(&M.heap, p) == 0, "check_block of new block");
	if (zero) {
		size_t i = first_not(p, size, 0);
		CHECK(i == size, "zalloc byte %zu is %#x", i, p[i]);
	} else if (M.flags & RTHEAP_F_DEBUG_FILL) {
		size_t i = first_not(p, size, 0xA5);
		CHECK(i == size, "debug fill: fresh byte %zu of %p is %#x", i, (void *)p, p[i]);
	}
	struct block *b = &M.blk[M.nblk++];
	b->p = p;
	b->req = size;
	b->round = want;
	b->seed = M.seed++;
	fill_block(b);
	size_t free_before = M.usable - M.used;
	M.used += want;
	M.allocs++;
	size_t free_after = M.usable - M.used;
	/* Armed (by rtheap_set_lowmem, or by memory coming back to the
	 * threshold), the heap notifies once when an allocation leaves free
	 * memory below the threshold, and disarms. */
	if (M.lowmem_on && M.lowmem_armed && free_after < M.lowmem_thr) {
		CHECK(M.lm_calls == 1 && M.lm_request == 0 && M.lm_free == free_after,
		      "lowmem notification: %d calls, request %zu, free %zu (want %zu)",
		      M.lm_calls, M.lm_request, M.lm_free, free_after);
		M.lowmem_armed = 0;
	} else {
		CHECK(M.lm_calls == 0, "lowmem called while %s (%zu -> %zu, thr %zu)",
		      M.lowmem_armed ? "above the threshold" : "disarmed", free_before,
		      free_after, M.lowmem_thr);
	}
}

/* A release re-arms the notification once free memory is back at the
 * threshold; an extension sets the state from where free memory is. */
static void lowmem_after_free(void)
{
	if (M.usable - M.used >= M.lowmem_thr)
		M.lowmem_armed = 1;
}

static void remember_freed(unsigned char *p)
{
	M.freed[M.freed_pos++ % FREED_RING] = p;
}

static void do_free(struct input *in)
{
	if (!M.alive || M.nblk == 0)
		return;
	int i = (int)(get16(in) % (unsigned)M.nblk);
	struct block b = M.blk[i];
	verify_block(&b);
	unsigned how = get8(in) % 3;
	ck_called = 0;
	int rc = how == 0 ? rtheap_free(&M.heap, b.p)
	         : how == 1 ? rtheap_test_and_free(&M.heap, b.p, ck_accept)
	                    : rtheap_test_and_free(&M.heap, b.p, NULL);
	CHECK(rc == 0, "free of live block %p = %d", (void *)b.p, rc);
	CHECK(ck_called == (how == 1), "check function calls %d", ck_called);
	CHECK(M.cb_calls == 0, "error callback on valid free");
	M.blk[i] = M.blk[--M.nblk];
	M.used -= b.round;
	M.frees++;
	lowmem_after_free();
	remember_freed(b.p);
	CHECK(rtheap_check_block(&M.heap, b.p) != 0, "freed block still live");
}

/* ---- realloc of a live block ---- */

/* The first `keep` bytes of what block b held (its pattern) are intact. */
MODEL_FN static void verify_prefix(const struct block *b, const unsigned char *p, size_t keep)
{
	for (size_t i = 0; i < keep && i < b->req; i++)
		if (sampled(i, b->req) && p[i] != (unsigned char)(b->seed ^ (i * 13u) ^ (i >> 8)))
			CHECK(0, "resized block %p (was %p, req %zu) byte %zu lost", (void *)p,
			      (void *)b->p, b->req, i);
}

/* Would rtheap_realloc resize b to size where it is?  The new rounded
 * size in *round.  A bucket block: while its class holds size.  A run of
 * n pages needing m: m <= n always; m > n when the m - n pages after it
 * are in its extent's page array and no live block covers them (every
 * page no live block covers is free, and adjacent free pages form one
 * run, R2). */
MODEL_FN static int in_place(const struct block *b, size_t size, size_t *round)
{
	const size_t P = M.page;
	*round = b->round;
	if (b->round <= P / 2 || model_round(size) == 0)
		return size <= b->round;
	size_t n = b->round / P, m = (size + P - 1) / P;
	*round = m * P;
	if (m <= n)
		return 1;
	int e = in_extent(b->p);
	size_t np = npages_of(e);
	const unsigned char *end = pages_at(e, np) + np * P, *after = b->p + b->round;
	return (size_t)(end - after) >= (m - n) * P && overlapping(after, (m - n) * P) < 0;
}

/* The low-memory state after a successful resize whose used bytes went
 * from `before` to M.used: notified once (request 0) if armed and free
 * memory is below the threshold, else re-armed when back above it. */
static void lowmem_after_resize(size_t before)
{
	size_t free_after = M.usable - M.used;
	if (M.lowmem_on && M.lowmem_armed && free_after < M.lowmem_thr) {
		CHECK(M.lm_calls == 1 && M.lm_request == 0 && M.lm_free == free_after,
		      "lowmem on resize: %d calls, request %zu, free %zu (want %zu)", M.lm_calls,
		      M.lm_request, M.lm_free, free_after);
		M.lowmem_armed = 0;
	} else {
		CHECK(M.lm_calls == 0, "lowmem called on resize (%zu -> %zu used)", before, M.used);
		if (M.used < before)
			lowmem_after_free();
	}
}

/* A moved block: allocated (notifying as an allocation), then the old one
 * released (re-arming as a release). */
static void lowmem_after_move(size_t used_both)
{
	size_t free_alloc = M.usable - used_both;
	if (M.lowmem_on && M.lowmem_armed && free_alloc < M.lowmem_thr) {
		CHECK(M.lm_calls == 1 && M.lm_request == 0 && M.lm_free == free_alloc,
		      "lowmem on move: %d calls, request %zu, free %zu (want %zu)", M.lm_calls,
		      M.lm_request, M.lm_free, free_alloc);
		M.lowmem_armed = 0;
	} else {
		CHECK(M.lm_calls == 0, "lowmem called on move");
	}
	lowmem_after_free();
}

/* The block b (index i) became p of `size` bytes, rounded to round. */
static void resized(int i, unsigned char *p, size_t size, size_t round)
{
	struct block old = M.blk[i];
	int moved = p != old.p;
	verify_prefix(&old, p, size);
	CHECK((uintptr_t)p % (round <= M.page / 2 ? round : M.page) == 0,
	      "resized block %p misaligned", (void *)p);
	CHECK(rtheap_usable_size(&M.heap, p) == round, "usable_size %zu vs %zu after resize",
	      rtheap_usable_size(&M.heap, p), round);
	if ((M.flags & RTHEAP_F_DEBUG_FILL) && size > old.round) {
		size_t k = first_not(p + old.round, size - old.round, 0xA5);
		CHECK(k == size - old.round, "debug fill: grown byte %zu of %p is %#x",
		      old.round + k, (void *)p, p[old.round + k]);
	}
	M.blk[i] = M.blk[--M.nblk]; /* out of the overlap check */
	int ov = overlapping(p, round);
	CHECK(ov < 0, "resized %p+%zu overlaps live %p", (void *)p, round, (void *)M.blk[ov].p);
	struct block *nb = &M.blk[M.nblk++];
	*nb = (struct block){p, size, round, M.seed++};
	fill_block(nb);
	size_t before = M.used;
	M.used = M.used - old.round + round;
	if (!moved) {
		lowmem_after_resize(before);
		return;
	}
	CHECK(rtheap_check_block(&M.heap, old.p) != 0, "moved-from block still live");
	M.allocs++;
	M.frees++;
	remember_freed(old.p);
	lowmem_after_move(before + round);
}

/* A resize of b to size failed: it could not stay, and no free run could
 * take it (the good fit); the block is as it was; counted, notified. */
static void realloc_refused(const struct block *b, size_t size, int stay, size_t largest)
{
	size_t want = model_round(size);
	CHECK(!stay, "realloc(%p, %zu) failed in place", (void *)b->p, size);
	CHECK(errno == ENOMEM, "realloc failed: errno %d", errno);
	CHECK(want == 0 || want > largest, "realloc(%zu) moved failed but largest_free is %zu",
	      size, largest);
	verify_block(b);
	CHECK(rtheap_usable_size(&M.heap, b->p) == b->round, "failed realloc changed the block");
	M.failed++;
	if (M.lowmem_on)
		CHECK(M.lm_calls == 1 && M.lm_request == size,
		      "lowmem on failed realloc: %d calls, request %zu", M.lm_calls, M.lm_request);
	else
		CHECK(M.lm_calls == 0, "lowmem callback not set but called");
}

static void do_realloc(struct input *in)
{
	if (!M.alive) {
		errno = 0;
		CHECK(rtheap_realloc(&M.heap, arena + 256, 16) == NULL && errno == EINVAL,
		      "realloc on a dead heap");
		return;
	}
	if (M.nblk == 0)
		return;
	int i = (int)(get16(in) % (unsigned)M.nblk);
	struct block b = M.blk[i];
	verify_block(&b);
	size_t size = choose_size(in), round;
	struct rtheap_stats st0;
	CHECK(rtheap_get_stats(&M.heap, &st0) == 0, "stats");
	int stay = in_place(&b, size, &round);
	M.lm_calls = 0;
	errno = 0;
	unsigned char *p = rtheap_realloc(&M.heap, b.p, size);
	CHECK(M.cb_calls == 0, "error callback on realloc of a live block");
	if (size == 0) { /* released */
		CHECK(p == NULL && errno == 0, "realloc(p, 0) = %p, errno %d", (void *)p, errno);
		M.blk[i] = M.blk[--M.nblk];
		M.used -= b.round;
		M.frees++;
		lowmem_after_free();
		remember_freed(b.p);
		return;
	}
	if (!p) {
		realloc_refused(&b, size, stay, st0.largest_free);
		return;
	}
	CHECK(stay == (p == b.p), "realloc(%p of %zu, %zu): model says %s, heap %p", (void *)b.p,
	      b.round, size, stay ? "in place" : "moved", (void *)p);
	resized(i, p, size, stay ? round : model_round(size));
}

static void do_refused_free(void)
{
	if (!M.alive || M.nblk == 0)
		return;
	struct block *b = &M.blk[M.nblk - 1];
	struct rtheap_stats st0, st1;
	CHECK(rtheap_get_stats(&M.heap, &st0) == 0, "stats");
	ck_called = 0;
	int rc = rtheap_test_and_free(&M.heap, b->p, ck_refuse);
	CHECK(rc == 7 && ck_called == 1, "refused test_and_free = %d, %d calls", rc, ck_called);
	CHECK(rtheap_get_stats(&M.heap, &st1) == 0, "stats");
	CHECK(memcmp(&st0, &st1, sizeof st0) == 0, "refused test_and_free changed stats");
	verify_block(b);
}

/* Expected answer for releasing/querying @a, which is not a live block start. */
static int expected_bad(const void *a)
{
	return in_extent(a) >= 0 ? -EINVAL : -EFAULT;
}

static void bad_free(const void *a, int interior)
{
	struct rtheap_stats st0, st1;
	int want = expected_bad(a);
	CHECK(rtheap_get_stats(&M.heap, &st0) == 0, "stats");
	CHECK(rtheap_check_block(&M.heap, a) == want, "check_block(%p) = %d, want %d", a,
	      rtheap_check_block(&M.heap, a), want);
	CHECK(rtheap_usable_size(&M.heap, a) == 0, "usable_size of non-block %p", a);
	if (!a) {
		/* NULL: a no-op returning 0, as free(NULL); not a misuse. */
		ck_called = 0;
		CHECK(rtheap_free(&M.heap, NULL) == 0, "free(NULL)");
		CHECK(rtheap_test_and_free(&M.heap, NULL, ck_accept) == 0 && ck_called == 0,
		      "test_and_free(NULL)");
		CHECK(M.cb_calls == 0, "callback for free(NULL)");
		CHECK(rtheap_get_stats(&M.heap, &st1) == 0, "stats");
		CHECK(memcmp(&st0, &st1, sizeof st0) == 0, "free(NULL) changed the statistics");
		return;
	}
	int which = (int)(((uintptr_t)a >> 4) % 4);
	ck_called = 0;
	int rc;
	if (which == 3) { /* realloc answers as free, through errno */
		size_t n = ((uintptr_t)a >> 6) & 1 ? 0 : 100 + ((uintptr_t)a & 0x3ff);
		errno = 0;
		CHECK(rtheap_realloc(&M.heap, (void *)a, n) == NULL, "realloc(%p) served", a);
		rc = -errno;
	} else {
		rc = which == 0 ? rtheap_free(&M.heap, (void *)a)
		     : which == 1 ? rtheap_test_and_free(&M.heap, (void *)a, ck_accept)
		                  : rtheap_test_and_free(&M.heap, (void *)a, NULL);
	}
	CHECK(rc == want, "free(%p) = %d, want %d", a, rc, want);
	CHECK(ck_called == 0, "check function called for a bad pointer");
	CHECK(M.cb_calls == 1, "error callback calls %d for bad free", M.cb_calls);
	CHECK(M.cb_addr == a, "callback address %p for %p", M.cb_addr, a);
	if (want == -EFAULT)
		CHECK(M.cb_kind == RTHEAP_ERR_FOREIGN, "kind %d for foreign", M.cb_kind);
	else if (interior)
		CHECK(M.cb_kind == RTHEAP_ERR_NOT_BLOCK, "kind %d for interior", M.cb_kind);
	else
		CHECK(M.cb_kind == predicted_kind(a, in_extent(a)), "kind %d for free memory %p, "
		      "model %d", M.cb_kind, a, predicted_kind(a, in_extent(a)));
	M.cb_calls = 0;
	M.errors++;
	CHECK(rtheap_get_stats(&M.heap, &st1) == 0, "stats");
	st0.errors++;
	CHECK(memcmp(&st0, &st1, sizeof st0) == 0, "bad free changed the statistics");
}

static void do_bad_free(struct input *in)
{
	if (!M.alive) {
		CHECK(rtheap_free(&M.heap, arena + 256) == -EINVAL, "free on dead heap");
		return;
	}
	unsigned kind = get8(in);
	switch (kind % 6) {
	case 0: /* interior of a live block */
		if (M.nblk) {
			const struct block *b = &M.blk[get16(in) % (unsigned)M.nblk];
			size_t off = 1 + get16(in) % (b->round - 1);
			bad_free(b->p + off, 1);
		}
		break;
	case 1: /* foreign memory */
		bad_free(foreign_mem + (get8(in) & 0xF0), 0);
		break;
	case 2: { /* the arena beyond every extent, or NULL */
		size_t off = M.bump + 64 + get16(in);
		bad_free(off < ARENA_SIZE ? arena + (off & ~(size_t)15) : NULL, 0);
		break;
	}
	case 3: { /* a block freed earlier (double free) */
		unsigned char *p = M.freed[get8(in) % FREED_RING];
		if (!p || live_index(p) >= 0)
			break;
		bad_free(p, covering(p) >= 0);
		break;
	}
	default: { /* anywhere inside an extent */
		const struct extent *e = &M.ext[get8(in) % M.next];
		uintptr_t a0 = (uintptr_t)(e->buf + get32(in) % e->size);
		if (kind & 0x80)
			a0 &= ~(uintptr_t)(M.page - 1); /* a page start */
		else if (kind & 0x40)
			a0 &= ~(uintptr_t)15; /* a possible block start */
		if (a0 < (uintptr_t)e->buf)
			a0 = (uintptr_t)e->buf;
		const unsigned char *a = (const unsigned char *)a0;
		if (live_index(a) >= 0)
			break;
		bad_free(a, covering(a) >= 0);
		break;
	}
	}
}

static void do_set_lowmem(struct input *in)
{
	if (!M.alive) {
		CHECK(rtheap_set_lowmem(&M.heap, 1, on_lowmem, &M) == -EINVAL, "dead heap lowmem");
		return;
	}
	unsigned v = get8(in);
	if (v & 1) {
		M.lowmem_on = 0;
		CHECK(rtheap_set_lowmem(&M.heap, 0, NULL, NULL) == 0, "clear lowmem");
		return;
	}
	M.lowmem_thr = (M.usable / 256) * (v >> 1) * 2;
	M.lowmem_on = 1;
	M.lowmem_armed = 1; /* armed whatever free memory is now */
	CHECK(rtheap_set_lowmem(&M.heap, M.lowmem_thr, on_lowmem, &M) == 0, "set lowmem");
}

MODEL_FN static void do_verify_all(void)
{
	for (int i = 0; i < M.nblk; i++) {
		verify_block(&M.blk[i]);
		CHECK(rtheap_check_block(&M.heap, M.blk[i].p) == 0, "live block not live");
		CHECK(rtheap_usable_size(&M.heap, M.blk[i].p) == M.blk[i].round, "usable size");
	}
}

static void do_free_all(void)
{
	if (!M.alive)
		return;
	while (M.nblk) {
		struct block b = M.blk[--M.nblk];
		verify_block(&b);
		CHECK(rtheap_free(&M.heap, b.p) == 0, "free %p", (void *)b.p);
		M.used -= b.round;
		M.frees++;
		lowmem_after_free();
		remember_freed(b.p);
	}
	struct rtheap_stats st;
	CHECK(rtheap_get_stats(&M.heap, &st) == 0, "stats");
	CHECK(st.used == 0 && st.live_blocks == 0, "not empty after freeing everything");
	/* Every page is free again: the largest extent's pages form one run. */
	CHECK(st.largest_free > 0, "no free run in an empty heap");
	void *p = rtheap_alloc(&M.heap, st.largest_free);
	CHECK(p != NULL, "largest_free %zu not allocatable in an empty heap", st.largest_free);
	if (M.usable - st.largest_free < M.lowmem_thr)
		M.lowmem_armed = 0; /* that allocation notified, if armed */
	CHECK(rtheap_free(&M.heap, p) == 0, "free largest");
	lowmem_after_free();
	M.allocs++;
	M.frees++;
}

/* ---- write after free under RTHEAP_F_DEBUG_FILL, on a heap of its own ----
 * A block is freed and one byte of it past any list node is changed.  With
 * a live neighbour the block stays in its bucket page, and the heap must
 * report it (RTHEAP_ERR_USE_AFTER_FREE, the block's start) when it hands the
 * block out again, and nothing before; with no neighbour the page goes back
 * to the free runs and the report names the changed byte when the page is
 * taken again. */
static _Alignas(4096) unsigned char uaf_buf[64u << 10];
static struct {
	int calls;
	rtheap_error_kind_t kind;
	const void *addr;
} U;

static void on_uaf_error(rtheap_t *h, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	(void)h;
	(void)arg;
	U.calls++;
	U.kind = kind;
	U.addr = addr;
}

static void do_write_after_free(struct input *in)
{
	static const size_t pages[] = {256, 512, 1024, 4096};
	static rtheap_t h;
	const size_t P = pages[get8(in) % 4];
	unsigned nclass = 0; /* block sizes 32 .. P/2 */
	for (size_t b = 32; b <= P / 2; b <<= 1)
		nclass++;
	const size_t bs = (size_t)32 << (get8(in) % nclass);
	const int alone = get8(in) & 1;
	const size_t off = 16 + get8(in) % (bs - 16);
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	memset(&h, 0, sizeof h);
	cfg.page_size = P;
	cfg.lock = RTHEAP_LOCK_NONE;
	cfg.flags = RTHEAP_F_DEBUG_FILL;
	CHECK(rtheap_init(&h, uaf_buf, sizeof uaf_buf, &cfg) == 0, "uaf heap init");
	CHECK(rtheap_set_error_handler(&h, on_uaf_error, NULL) == 0, "uaf handler");
	memset(&U, 0, sizeof U);
	unsigned char *p = rtheap_alloc(&h, bs), *q = rtheap_alloc(&h, bs);
	CHECK(p && q && (uintptr_t)p / P == (uintptr_t)q / P, "two blocks of %zu in one page", bs);
	CHECK(rtheap_free(&h, p) == 0, "free");
	if (alone)
		CHECK(rtheap_free(&h, q) == 0, "free the neighbour");
	FUZZ_UNPOISON(p + off, 1);
	p[off] ^= 0x5a; /* the freed pattern changed */
	if (!alone) {
		unsigned char *r = NULL;
		for (size_t i = 0; i < P / bs && r != p; i++) {
			r = rtheap_alloc(&h, bs);
			CHECK(r != NULL, "alloc of %zu in the uaf heap", bs);
			CHECK(r == p || U.calls == 0, "report for an untouched block %p", (void *)r);
		}
		CHECK(r == p, "the freed block %p never came back", (void *)p);
		CHECK(U.calls == 1 && U.kind == RTHEAP_ERR_USE_AFTER_FREE && U.addr == p,
		      "bucket block written after free: %d reports, kind %d, addr %p (block %p, "
		      "byte %zu)", U.calls, U.kind, U.addr, (void *)p, off);
	} else {
		struct rtheap_stats st;
		CHECK(rtheap_get_stats(&h, &st) == 0 && st.used == 0, "uaf heap empty");
		void *r = rtheap_alloc(&h, st.largest_free); /* every page again */
		CHECK(r != NULL, "largest_free of the uaf heap");
		CHECK(U.calls == 1 && U.kind == RTHEAP_ERR_USE_AFTER_FREE && U.addr == p + off,
		      "freed page written: %d reports, kind %d, addr %p (want %p)", U.calls, U.kind,
		      U.addr, (void *)(p + off));
	}
	CHECK(rtheap_check(&h, NULL) == 0, "uaf heap check");
	CHECK(rtheap_destroy(&h, NULL, NULL) == 0, "uaf heap destroy");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size, 0};
	if (M.alive)
		do_destroy();
	memset(M.freed, 0, sizeof M.freed);
	M.cb_calls = 0;
	M.seed = (uint8_t)size;
	do_init(&in);
	check_heap();
	int ops = 0;
	while (in.i < in.n && ops++ < 400) {
		unsigned op = get8(&in);
		switch (op % 16) {
		case 0:
			if ((op >> 4) == 0)
				do_init(&in);
			else
				do_alloc(&in, 0);
			break;
		case 1:
		case 2:
		case 3:
			do_alloc(&in, 0);
			break;
		case 4:
			do_alloc(&in, (op >> 4) >= 12 ? 4 : (op >> 4) >= 10 ? 5 : 1);
			break;
		case 15:
			do_alloc(&in, (op >> 4) >= 10 ? 3 : 2);
			break;
		case 5:
		case 6:
			do_free(&in);
			break;
		case 7:
			if ((op >> 4) >= 6)
				do_realloc(&in);
			else
				do_free(&in);
			break;
		case 8:
		case 9:
			do_bad_free(&in);
			break;
		case 10:
			do_extend(&in);
			break;
		case 11:
			do_refused_free();
			break;
		case 12:
			do_verify_all();
			break;
		case 13:
			if ((op >> 4) < 2)
				do_destroy();
			else if ((op >> 4) < 6)
				do_free_all();
			else
				do_set_lowmem(&in);
			break;
		case 14:
			if ((op >> 4) >= 12)
				do_write_after_free(&in);
			else
				do_free(&in);
			break;
		default:
			do_free(&in);
			break;
		}
		CHECK(M.cb_calls == 0, "unexpected error callback (kind %d, addr %p)", M.cb_kind,
		      M.cb_addr);
		check_heap();
	}
	do_verify_all();
	if (M.alive)
		do_destroy();
	return 0;
}
