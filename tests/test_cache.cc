/* SPDX-License-Identifier: MIT */
// Object caches (rtheap/cache.h): geometry, LIFO reuse, zeroing, alignment,
// constructor and destructor counts, every bad release (docs/errors.md),
// clear, enumerate, shrink, the keep hysteresis, destroy, exhaustion, the
// reports, a randomized model test and a threaded stress.
//
// Built twice from this file: test_cache (label unit: everything but the
// threads) and test_cache_threads (label concurrency, also built in the
// ThreadSanitizer configuration: the threaded stress only).
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <sstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rtheap/cache.h"
#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

using rtt::expect_same_stats;
using rtt::heap_ok;
using rtt::stats;

namespace {

constexpr size_t kPage = 256;
constexpr size_t kHeapBytes = 1024 * 1024;

// Every misuse the heap's error callback hears of.
struct Report {
	rtheap_error_kind_t kind;
	const void *addr;
};

void record(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	static_cast<std::vector<Report> *>(arg)->push_back({kind, addr});
}

rtcache_stats cstats(rtcache_t *c)
{
	rtcache_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rtcache_get_stats(c, &st));
	return st;
}

// A heap in a mapping, with the error callback recording into `reports`.
class Heap {
public:
	explicit Heap(size_t bytes = kHeapBytes, size_t page = kPage,
	              rtheap_lock_mode_t lock = RTHEAP_LOCK_NONE, unsigned flags = 0,
	              int dirt = 0x5c)
	    : map_(RTHEAP_BUFFER_SIZE(bytes, page))
	{
		// Not zero: objects handed out hold what the buffer held.
		std::memset(map_.data(), dirt, map_.size());
		rtheap_config cfg = rtt::config(page, lock, flags);
		EXPECT_EQ(0, rtheap_init(&h, map_.data(), map_.size(), &cfg));
		EXPECT_EQ(0, rtheap_set_error_handler(&h, record, &reports));
	}
	~Heap()
	{
		EXPECT_TRUE(heap_ok(&h));
		rtheap_destroy(&h, nullptr, nullptr);
	}
	Heap(const Heap &) = delete;
	Heap &operator=(const Heap &) = delete;
	rtheap_t h{};
	std::vector<Report> reports;

private:
	rtt::Mapping map_;
};

#if !defined(CACHE_TEST_THREADS)

void expect_same_cache(const rtcache_stats &a, const rtcache_stats &b, const char *where)
{
#define RTT_C(x) EXPECT_EQ(a.x, b.x) << where << ": cache field " #x
	RTT_C(active_objs);
	RTT_C(total_objs);
	RTT_C(active_slabs);
	RTT_C(total_slabs);
	RTT_C(empty_slabs);
	RTT_C(allocs);
	RTT_C(frees);
	RTT_C(failures);
	RTT_C(overhead_bytes);
#undef RTT_C
}

bool aligned(const void *p, size_t a)
{
	return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

size_t round_up(size_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

// The formula of rtheap/cache.h: the bytes before the first object.
constexpr size_t kHdr = 5 * sizeof(void *) + 16;
constexpr size_t kWordBits = 8 * sizeof(unsigned long);
size_t first_off(size_t n, size_t align, bool ctor)
{
	size_t map = (n + kWordBits - 1) / kWordBits * sizeof(unsigned long);
	return round_up(kHdr + map + (ctor ? 2 * n : 0), align);
}
size_t fit(size_t bytes, size_t stride, size_t align, bool ctor)
{
	size_t n = 0;
	while (n < 65535 && first_off(n + 1, align, ctor) + (n + 1) * stride <= bytes)
		n++;
	return n;
}
// The whole overhead of a slab: header, bitmap, side array, padding, tail.
size_t overhead(size_t bytes, size_t stride, size_t align, bool ctor)
{
	return bytes - fit(bytes, stride, align, ctor) * stride;
}
// The rule of rtheap/cache.h: the smallest power of two of pages (from
// one page; none past the first that holds 65535 objects) whose whole
// overhead is at most 1/8; failing that, the smallest whose tail alone is
// (the cases below never need the last fallback, the largest slab).
size_t expected_slab(size_t page, size_t stride, size_t align, bool ctor)
{
	size_t tail = 0;
	for (size_t B = page; B <= (size_t)1 << 24; B *= 2) {
		size_t n = fit(B, stride, align, ctor);
		if (n == 0)
			continue;
		if (overhead(B, stride, align, ctor) <= B / 8)
			return B;
		if (!tail && B - first_off(n, align, ctor) - n * stride <= B / 8)
			tail = B;
		if (n == 65535)
			break;
	}
	return tail;
}

// ---------------------------------------------------------------- geometry

struct Geo {
	size_t size, align;
	unsigned flags;
	bool ctor;
	size_t page;
	bool fallback; // no slab meets the whole-overhead bound
};

void nop_ctor(void *, rtcache_t *, unsigned long) {}

TEST(CacheGeometry, SlabSizeAndOverheadFollowTheFormula)
{
	const bool F = false;
	const Geo cases[] = {
	    {1, 0, 0, false, 256, F},       {8, 0, 0, false, 256, F},
	    {24, 0, 0, false, 256, F},      {32, 0, 0, true, 256, F},
	    {64, 0, RTCACHE_HWCACHE_ALIGN, false, 256, F},
	    {100, 16, 0, false, 256, F},    {200, 0, 0, true, 256, F},
	    {1000, 0, 0, false, 256, F},    {1000, 0, 0, false, 4096, F},
	    {3000, 128, 0, false, 1024, F}, {13, 0, RTCACHE_ZERO, false, 4096, F},
	    {40, 0, RTCACHE_HWCACHE_ALIGN, true, 512, F},
	    {20000, 0, 0, false, 256, F},   {96, 0, 0, false, 256, F},
	    {128, 0, 0, false, 256, F},     {16, 0, 0, true, 4096, F},
	    {16, 0, 0, true, 256, F},
	    // no slab meets the whole bound: the tail rule
	    {8, 0, 0, true, 256, true},     {8, 0, 0, true, 4096, true},
	};
	for (const Geo &g : cases) {
		SCOPED_TRACE(testing::Message() << "size " << g.size << " align " << g.align
		                                << " flags " << g.flags << " ctor " << g.ctor
		                                << " page " << g.page);
		Heap heap(4 * 1024 * 1024, g.page);
		rtcache_t *c = rtcache_create(&heap.h, "geo", g.size, g.align, g.flags,
		                              g.ctor ? nop_ctor : nullptr, nullptr);
		ASSERT_NE(nullptr, c);
		rtcache_stats st = cstats(c);
		size_t align = std::max<size_t>(g.align ? g.align : 0, sizeof(void *));
		if (g.flags & RTCACHE_HWCACHE_ALIGN)
			align = std::max<size_t>(align, RTCACHE_LINE);
		EXPECT_EQ(g.size, st.obj_size);
		EXPECT_EQ(align, st.align);
		EXPECT_EQ(round_up(g.size, align), st.stride);
		EXPECT_EQ(0u, st.total_slabs); // no slab before the first alloc
		// The slab: the smallest power of two of pages whose whole
		// overhead (header, bitmap, side array, padding, tail) is <= 1/8.
		const size_t B = st.slab_bytes;
		ASSERT_GE(B, g.page);
		EXPECT_EQ(0u, B & (B - 1));
		EXPECT_EQ(B / g.page, st.pages_per_slab);
		EXPECT_EQ(expected_slab(g.page, st.stride, align, g.ctor), B);
		const size_t S = fit(B, st.stride, align, g.ctor);
		EXPECT_EQ(S, st.objs_per_slab);
		EXPECT_GE(S, 1u);
		if (!g.fallback) {
			EXPECT_LE(B - S * st.stride, B / 8);
			if (B > g.page) { // half the slab would not meet it, or hold none
				size_t s2 = fit(B / 2, st.stride, align, g.ctor);
				EXPECT_TRUE(s2 == 0 || B / 2 - s2 * st.stride > B / 16);
			}
		} else { // a bit and 2 bytes of link per 8-byte object: over 1/8
			for (size_t b = g.page; b <= (size_t)1 << 20; b *= 2)
				EXPECT_GT(overhead(b, st.stride, align, g.ctor), b / 8) << b;
			EXPECT_LE(B - first_off(S, align, g.ctor) - S * st.stride, B / 8);
			EXPECT_EQ(g.page, B); // the tail alone: one page does
		}
		void *p = rtcache_alloc(c);
		ASSERT_NE(nullptr, p);
		st = cstats(c);
		EXPECT_EQ(1u, st.total_slabs);
		EXPECT_EQ(first_off(S, align, g.ctor), st.overhead_bytes);
		// The first object follows the header in its slab.
		uintptr_t slab = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(B - 1);
		EXPECT_EQ(slab + first_off(S, align, g.ctor), reinterpret_cast<uintptr_t>(p));
		EXPECT_EQ(0, rtcache_free(c, p));
		EXPECT_EQ(0, rtcache_destroy(c));
	}
}

// ---------------------------------------------------------------- basic use

class Cache : public ::testing::Test {
protected:
	Heap heap;
};

TEST_F(Cache, AllocFreeDistinctObjectsInTheirSlabs)
{
	rtcache_t *c = rtcache_create(&heap.h, "basic", 48, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const rtcache_stats st0 = cstats(c);
	const size_t S = st0.objs_per_slab, n = 3 * S + 1;
	std::set<uintptr_t> seen;
	std::vector<void *> objs;
	for (size_t i = 0; i < n; i++) {
		void *p = rtcache_alloc(c);
		ASSERT_NE(nullptr, p);
		ASSERT_TRUE(seen.insert(reinterpret_cast<uintptr_t>(p)).second);
		rtt::fill(p, 48, i);
		objs.push_back(p);
	}
	// no two objects overlap: every pattern intact
	for (size_t i = 0; i < n; i++)
		EXPECT_EQ(SIZE_MAX, rtt::verify(objs[i], 48, i)) << i;
	rtcache_stats st = cstats(c);
	EXPECT_EQ(n, st.active_objs);
	EXPECT_EQ(4u, st.total_slabs);
	EXPECT_EQ(4u, st.active_slabs);
	EXPECT_EQ(4 * S, st.total_objs);
	EXPECT_EQ(n, st.allocs);
	EXPECT_TRUE(heap_ok(&heap.h));
	for (void *p : objs)
		ASSERT_EQ(0, rtcache_free(c, p));
	st = cstats(c);
	EXPECT_EQ(0u, st.active_objs);
	EXPECT_EQ(n, st.frees);
	EXPECT_EQ(1u, st.total_slabs); // keep 1: the others went back
	EXPECT_EQ(1u, st.empty_slabs);
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, LifoReuse)
{
	rtcache_t *c = rtcache_create(&heap.h, "lifo", 32, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const size_t S = cstats(c).objs_per_slab;
	void *a = rtcache_alloc(c), *b = rtcache_alloc(c), *d = rtcache_alloc(c);
	ASSERT_TRUE(a && b && d);
	EXPECT_EQ(0, rtcache_free(c, b));
	EXPECT_EQ(b, rtcache_alloc(c));
	EXPECT_EQ(0, rtcache_free(c, a));
	EXPECT_EQ(0, rtcache_free(c, d));
	EXPECT_EQ(d, rtcache_alloc(c));
	EXPECT_EQ(a, rtcache_alloc(c));
	// Across slabs: fill slab 1, put one object in slab 2.
	std::vector<void *> objs = {a, b, d};
	while (objs.size() < S + 1)
		objs.push_back(rtcache_alloc(c));
	void *x = objs.back(); // alone in slab 2
	ASSERT_GE(S, 4u);
	// A release into the full slab 1: its object comes back first.
	EXPECT_EQ(0, rtcache_free(c, objs[S - 1]));
	EXPECT_EQ(objs[S - 1], rtcache_alloc(c));
	// A release that empties slab 2 while slab 1 has a free object.
	EXPECT_EQ(0, rtcache_free(c, objs[S - 2]));
	EXPECT_EQ(0, rtcache_free(c, x));
	EXPECT_EQ(x, rtcache_alloc(c));
	// (LIFO is about the last release only: slab 2, at the head now, still
	// has never used objects, and the next allocation takes one of them.)
	objs.erase(objs.begin() + static_cast<long>(S - 2));
	for (void *p : objs)
		EXPECT_EQ(0, rtcache_free_nolock(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, NolockVariantsAndNolockCache)
{
	rtcache_t *c = rtcache_create(&heap.h, "nolock", 16, 0, RTCACHE_NOLOCK, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	void *p = rtcache_alloc_nolock(c);
	void *q = rtcache_alloc(c);
	ASSERT_TRUE(p && q && p != q);
	EXPECT_EQ(0, rtcache_free_nolock(c, q));
	EXPECT_EQ(q, rtcache_alloc_nolock(c));
	EXPECT_EQ(0, rtcache_free(c, q));
	EXPECT_EQ(0, rtcache_free_nolock(c, p));
	EXPECT_EQ(0u, cstats(c).active_objs);
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, ZeroedOnEveryAllocation)
{
	rtcache_t *c = rtcache_create(&heap.h, "zero", 100, 0, RTCACHE_ZERO, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	ASSERT_EQ(0, rtcache_set_keep(c, 10)); // every slab stays: LIFO over all
	const size_t S = cstats(c).objs_per_slab;
	std::vector<unsigned char *> objs;
	for (size_t i = 0; i < S + 3; i++) { // fresh objects (the heap's buffer holds 0x5c)
		auto *p = static_cast<unsigned char *>(rtcache_alloc(c));
		ASSERT_NE(nullptr, p);
		for (size_t k = 0; k < 100; k++)
			ASSERT_EQ(0, p[k]) << i << " byte " << k;
		std::memset(p, 0xab, 100);
		objs.push_back(p);
	}
	for (unsigned char *p : objs)
		ASSERT_EQ(0, rtcache_free(c, p));
	const size_t slabs = cstats(c).total_slabs;
	for (size_t i = 0; i < objs.size(); i++) { // reused objects (same slabs)
		auto *p = static_cast<unsigned char *>(rtcache_alloc(c));
		if (i == 0) {
			EXPECT_EQ(objs.back(), p);
		}
		for (size_t k = 0; k < 100; k++)
			ASSERT_EQ(0, p[k]) << i << " byte " << k;
		objs[i] = p;
	}
	EXPECT_EQ(slabs, cstats(c).total_slabs);
	for (unsigned char *p : objs)
		ASSERT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST(CacheAlign, EveryObjectAligned)
{
	for (size_t page : {256u, 4096u}) {
		Heap heap(2 * 1024 * 1024, page);
		for (size_t align : {0u, 1u, 2u, 8u, 16u, 32u, 64u, 128u, 256u}) {
			for (unsigned flags : {0u, unsigned(RTCACHE_HWCACHE_ALIGN)}) {
				for (size_t size : {1u, 24u, 100u, 520u}) {
					SCOPED_TRACE(testing::Message() << "page " << page << " align " << align
					                                << " flags " << flags << " size " << size);
					rtcache_t *c = rtcache_create(&heap.h, "al", size, align, flags,
					                              nullptr, nullptr);
					ASSERT_NE(nullptr, c);
					size_t want = std::max<size_t>(align, sizeof(void *));
					if (flags)
						want = std::max<size_t>(want, 64);
					const size_t n = 2 * cstats(c).objs_per_slab + 1;
					std::vector<void *> objs;
					for (size_t i = 0; i < n; i++) {
						void *p = rtcache_alloc(c);
						ASSERT_NE(nullptr, p);
						ASSERT_TRUE(aligned(p, want)) << p;
						objs.push_back(p);
					}
					for (void *p : objs)
						ASSERT_EQ(0, rtcache_free(c, p));
					ASSERT_EQ(0, rtcache_destroy(c));
				}
			}
		}
	}
}

// ---------------------------------------------------------------- constructor, destructor

struct Obj {
	uint32_t state;
	uint32_t serial;
	rtcache_t *cache;
	char payload[44];
};
constexpr uint32_t kConstructed = 0xC0FFEEu;

struct Counts {
	size_t ctor = 0, dtor = 0, bad = 0;
};

void obj_ctor(void *p, rtcache_t *c, unsigned long flags)
{
	auto *n = static_cast<Counts *>(rtcache_private(c));
	Obj *o = static_cast<Obj *>(p);
	if (flags != RTCACHE_CTOR)
		n->bad++;
	o->state = kConstructed;
	o->serial = static_cast<uint32_t>(n->ctor++);
	o->cache = c;
	std::memset(o->payload, 0x77, sizeof o->payload);
}

void obj_dtor(void *p, rtcache_t *c, unsigned long flags)
{
	auto *n = static_cast<Counts *>(rtcache_private(c));
	Obj *o = static_cast<Obj *>(p);
	if (flags != RTCACHE_DTOR || o->state != kConstructed || o->cache != c)
		n->bad++;
	o->state = 0;
	n->dtor++;
}

TEST_F(Cache, ConstructorAndDestructorCounts)
{
	Counts n;
	rtcache_t *c = rtcache_create(&heap.h, "ctor", sizeof(Obj), 0, 0, obj_ctor, obj_dtor);
	ASSERT_NE(nullptr, c);
	rtcache_set_private(c, &n);
	EXPECT_EQ(&n, rtcache_private(c));
	const size_t S = cstats(c).objs_per_slab;
	std::vector<Obj *> objs;
	for (size_t i = 0; i < S + 1; i++) {
		Obj *o = static_cast<Obj *>(rtcache_alloc(c));
		ASSERT_NE(nullptr, o);
		EXPECT_EQ(kConstructed, o->state);
		EXPECT_EQ(c, o->cache);
		objs.push_back(o);
		EXPECT_EQ(i < S ? S : 2 * S, n.ctor) << "ctor runs S times per slab made";
	}
	EXPECT_EQ(0u, n.dtor);
	// Objects keep their whole constructed state across free and alloc:
	// the cache writes nothing into them (its links are outside).
	for (Obj *o : objs)
		std::memset(o->payload, static_cast<int>(o->serial & 0xff), sizeof o->payload);
	ASSERT_EQ(0, rtcache_free(c, objs[S])); // slab 2 empty first: the oldest
	for (size_t i = 0; i < S; i++)
		ASSERT_EQ(0, rtcache_free(c, objs[i]));
	EXPECT_EQ(S, n.dtor) << "two empty slabs, keep 1: the oldest went back";
	for (size_t i = 0; i < S; i++) { // the kept slab 1's objects, LIFO
		Obj *o = static_cast<Obj *>(rtcache_alloc(c));
		ASSERT_EQ(objs[S - 1 - i], o);
		EXPECT_EQ(kConstructed, o->state);
		EXPECT_EQ(c, o->cache);
		for (char ch : o->payload)
			ASSERT_EQ(static_cast<char>(o->serial & 0xff), ch);
	}
	EXPECT_EQ(2 * S, n.ctor) << "no new slab";
	for (size_t i = 0; i < S; i++)
		ASSERT_EQ(0, rtcache_free(c, objs[i]));
	EXPECT_EQ(long(cstats(c).slab_bytes), rtcache_shrink(c));
	EXPECT_EQ(2 * S, n.dtor) << "dtor runs S times per slab given back";
	EXPECT_EQ(0, rtcache_destroy(c));
	EXPECT_EQ(2 * S, n.dtor);
	EXPECT_EQ(0u, n.bad);
}

TEST_F(Cache, DestroyRunsTheDestructorOnItsSlabs)
{
	Counts n;
	rtcache_t *c = rtcache_create(&heap.h, "ctor", sizeof(Obj), 0, 0, obj_ctor, obj_dtor);
	ASSERT_NE(nullptr, c);
	rtcache_set_private(c, &n);
	ASSERT_EQ(0, rtcache_set_keep(c, 5));
	const size_t S = cstats(c).objs_per_slab;
	std::vector<void *> objs;
	for (size_t i = 0; i < 3 * S; i++)
		objs.push_back(rtcache_alloc(c));
	for (void *p : objs)
		ASSERT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0u, n.dtor);
	EXPECT_EQ(0, rtcache_destroy(c));
	EXPECT_EQ(3 * S, n.dtor);
	EXPECT_EQ(3 * S, n.ctor);
	EXPECT_EQ(0u, n.bad);
}

// ---------------------------------------------------------------- bad releases

// One misuse: exact result, one error counted and reported (kind and
// address), nothing else changed.
class CacheErr : public ::testing::TestWithParam<bool> {
protected:
	void SetUp() override
	{
		c = rtcache_create(&heap.h, "err", 64, 0, 0, nullptr, nullptr);
		ASSERT_NE(nullptr, c);
		for (int i = 0; i < 40; i++)
			live.push_back(rtcache_alloc(c));
		ASSERT_EQ(0, rtcache_free(c, live[10]));
		freed = live[10];
		live.erase(live.begin() + 10);
	}
	void TearDown() override
	{
		for (void *p : live)
			EXPECT_EQ(0, rtcache_free(c, p));
		EXPECT_EQ(0, rtcache_destroy(c));
	}
	int release(rtcache_t *cache, void *p)
	{
		return GetParam() ? rtcache_free_nolock(cache, p) : rtcache_free(cache, p);
	}
	void expect_refused(void *p, int rc, rtheap_error_kind_t kind, rtcache_t *other = nullptr)
	{
		const rtheap_stats h0 = stats(&heap.h);
		const rtcache_stats c0 = cstats(c);
		const rtcache_stats o0 = other ? cstats(other) : c0;
		heap.reports.clear();
		EXPECT_EQ(rc, release(c, p));
		const rtheap_stats h1 = stats(&heap.h);
		expect_same_stats(h0, h1, "bad release");
		EXPECT_EQ(h0.errors + 1, h1.errors);
		expect_same_cache(c0, cstats(c), "bad release");
		if (other)
			expect_same_cache(o0, cstats(other), "bad release, the other cache");
		ASSERT_EQ(1u, heap.reports.size());
		EXPECT_EQ(kind, heap.reports[0].kind);
		EXPECT_EQ(p, heap.reports[0].addr);
		EXPECT_TRUE(heap_ok(&heap.h));
		// the live objects are still live: LIFO unchanged too
		void *q = rtcache_alloc(c);
		EXPECT_EQ(freed, q);
		EXPECT_EQ(0, rtcache_free(c, q));
	}
	Heap heap;
	rtcache_t *c = nullptr;
	std::vector<void *> live;
	void *freed = nullptr;
};

TEST_P(CacheErr, ForeignPointer)
{
	std::vector<unsigned char> outside(256);
	expect_refused(outside.data() + 64, -EFAULT, RTHEAP_ERR_FOREIGN);
	expect_refused(&outside, -EFAULT, RTHEAP_ERR_FOREIGN);
}

TEST_P(CacheErr, HeapBlock)
{
	for (size_t n : {16u, 64u, 200u, 1000u, 5000u}) {
		void *b = rtheap_alloc(&heap.h, n);
		ASSERT_NE(nullptr, b);
		expect_refused(b, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
		EXPECT_EQ(0, rtheap_free(&heap.h, b));
		expect_refused(b, -EINVAL, RTHEAP_ERR_NOT_BLOCK); // free memory
	}
}

TEST_P(CacheErr, InteriorPointer)
{
	const rtcache_stats st = cstats(c);
	auto *p = static_cast<unsigned char *>(live[3]);
	expect_refused(p + 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused(p + 8, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused(p + st.stride - 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	// the slab header, and past the last object (the tail)
	uintptr_t slab = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(st.slab_bytes - 1);
	expect_refused(reinterpret_cast<void *>(slab), -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused(reinterpret_cast<void *>(slab + 8), -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	const size_t first = st.overhead_bytes / st.total_slabs;
	expect_refused(reinterpret_cast<void *>(slab + first - 8), -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	void *past = reinterpret_cast<void *>(slab + first + st.objs_per_slab * st.stride);
	if (reinterpret_cast<uintptr_t>(past) < slab + st.slab_bytes)
		expect_refused(past, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
}

TEST_P(CacheErr, DoubleRelease)
{
	expect_refused(freed, -EALREADY, RTHEAP_ERR_DOUBLE_FREE);
	// an object of a slab of this cache never handed out: the last one of
	// the newest slab (the 40 objects do not fill whole slabs)
	const rtcache_stats st = cstats(c);
	ASSERT_NE(0u, 40 % st.objs_per_slab);
	uintptr_t slab = reinterpret_cast<uintptr_t>(live.back()) & ~(uintptr_t)(st.slab_bytes - 1);
	const size_t first = st.overhead_bytes / st.total_slabs;
	void *last = reinterpret_cast<void *>(slab + first + (st.objs_per_slab - 1) * st.stride);
	ASSERT_EQ(live.end(), std::find(live.begin(), live.end(), last));
	expect_refused(last, -EALREADY, RTHEAP_ERR_DOUBLE_FREE);
}

TEST_P(CacheErr, ObjectOfAnotherCache)
{
	// same size (same slab size): the slab header names the other cache
	rtcache_t *same = rtcache_create(&heap.h, "same", 64, 0, 0, nullptr, nullptr);
	// another size, another slab size
	rtcache_t *big = rtcache_create(&heap.h, "big", 3000, 0, 0, nullptr, nullptr);
	ASSERT_TRUE(same && big);
	ASSERT_EQ(cstats(c).slab_bytes, cstats(same).slab_bytes);
	ASSERT_NE(cstats(c).slab_bytes, cstats(big).slab_bytes);
	void *p = rtcache_alloc(same), *q = rtcache_alloc(big);
	ASSERT_TRUE(p && q);
	expect_refused(p, -EINVAL, RTHEAP_ERR_NOT_BLOCK, same);
	expect_refused(q, -EINVAL, RTHEAP_ERR_NOT_BLOCK, big);
	// and the other way round
	heap.reports.clear();
	EXPECT_EQ(-EINVAL, rtcache_free(big, live[0]));
	EXPECT_EQ(-EINVAL, rtcache_free(same, live[0]));
	EXPECT_EQ(2u, heap.reports.size());
	EXPECT_EQ(0, rtcache_free(same, p));
	EXPECT_EQ(0, rtcache_free(big, q));
	EXPECT_EQ(0, rtcache_destroy(same));
	EXPECT_EQ(0, rtcache_destroy(big));
}

TEST_P(CacheErr, NullObjectAndNullCache)
{
	const rtheap_stats h0 = stats(&heap.h);
	const rtcache_stats c0 = cstats(c);
	heap.reports.clear();
	EXPECT_EQ(0, release(c, nullptr));
	EXPECT_EQ(-EINVAL, release(nullptr, live[0]));
	EXPECT_EQ(-EINVAL, release(nullptr, nullptr));
	const rtheap_stats h1 = stats(&heap.h);
	expect_same_stats(h0, h1, "NULL");
	EXPECT_EQ(h0.errors, h1.errors);
	expect_same_cache(c0, cstats(c), "NULL");
	EXPECT_TRUE(heap.reports.empty());
}

INSTANTIATE_TEST_SUITE_P(Locked, CacheErr, ::testing::Values(false));
INSTANTIATE_TEST_SUITE_P(Nolock, CacheErr, ::testing::Values(true));

TEST(CacheErrCreate, BadArguments)
{
	Heap heap;
	rtheap_t zeroed{};
	const rtheap_stats h0 = stats(&heap.h);
	struct Bad {
		rtheap_t *h;
		size_t size, align;
		unsigned flags;
		rtcache_ctor_fn ctor;
		const char *what;
	} bad[] = {
	    {nullptr, 64, 0, 0, nullptr, "NULL heap"},
	    {&zeroed, 64, 0, 0, nullptr, "zeroed heap"},
	    {&heap.h, 0, 0, 0, nullptr, "size 0"},
	    {&heap.h, SIZE_MAX, 0, 0, nullptr, "size SIZE_MAX"},
	    {&heap.h, SIZE_MAX / 2, 0, 0, nullptr, "size SIZE_MAX / 2"},
	    {&heap.h, size_t(1) << 30, 0, 0, nullptr, "1 GiB: no slab holds it"},
	    {&heap.h, 64, 3, 0, nullptr, "align 3"},
	    {&heap.h, 64, 24, 0, nullptr, "align 24"},
	    {&heap.h, 64, 2 * kPage, 0, nullptr, "align above the page"},
	    {&heap.h, 64, 0, RTCACHE_ZERO, nop_ctor, "zero with a constructor"},
	    {&heap.h, 64, 0, 1u << 5, nullptr, "unknown flag"},
	    {&heap.h, 64, 0, 1u << 31, nullptr, "unknown flag"},
	};
	for (const Bad &b : bad) {
		errno = 0;
		EXPECT_EQ(nullptr, rtcache_create(b.h, "bad", b.size, b.align, b.flags, b.ctor, nullptr))
		    << b.what;
		EXPECT_EQ(EINVAL, errno) << b.what;
	}
	const rtheap_stats h1 = stats(&heap.h);
	expect_same_stats(h0, h1, "refused creations");
	EXPECT_EQ(h0.errors, h1.errors);
	EXPECT_TRUE(heap.reports.empty());
}

TEST(CacheErrCreate, NoMemoryForTheDescriptor)
{
	Heap heap(16 * kPage);
	std::vector<void *> blocks;
	while (void *p = rtheap_alloc(&heap.h, 16))
		blocks.push_back(p);
	const rtheap_stats h0 = stats(&heap.h);
	errno = 0;
	EXPECT_EQ(nullptr, rtcache_create(&heap.h, "nomem", 64, 0, 0, nullptr, nullptr));
	EXPECT_EQ(ENOMEM, errno);
	const rtheap_stats h1 = stats(&heap.h);
	expect_same_stats(h0, h1, "no memory", false);
	EXPECT_EQ(h0.failed_allocs + 1, h1.failed_allocs);
	for (void *p : blocks)
		EXPECT_EQ(0, rtheap_free(&heap.h, p));
	rtcache_t *c = rtcache_create(&heap.h, "nomem", 64, 0, 0, nullptr, nullptr);
	EXPECT_NE(nullptr, c);
	EXPECT_EQ(0, rtcache_destroy(c));
}

int count_obj(void *, void *arg)
{
	++*static_cast<size_t *>(arg);
	return 0;
}

TEST(CacheErrUnusable, NullCacheEveryCall)
{
	Heap heap;
	const rtheap_stats h0 = stats(&heap.h);
	rtcache_stats st;
	size_t n = 0;
	EXPECT_EQ(nullptr, rtcache_alloc(nullptr));
	EXPECT_EQ(nullptr, rtcache_alloc_nolock(nullptr));
	EXPECT_EQ(-EINVAL, rtcache_free(nullptr, &n));
	EXPECT_EQ(-EINVAL, rtcache_free_nolock(nullptr, &n));
	EXPECT_EQ(-EINVAL, rtcache_clear(nullptr));
	EXPECT_EQ(-EINVAL, rtcache_enumerate(nullptr, count_obj, &n));
	EXPECT_EQ(-EINVAL, rtcache_shrink(nullptr));
	EXPECT_EQ(-EINVAL, rtcache_set_keep(nullptr, 3));
	EXPECT_EQ(-EINVAL, rtcache_destroy(nullptr));
	EXPECT_EQ(-EINVAL, rtcache_get_stats(nullptr, &st));
	EXPECT_EQ(nullptr, rtcache_private(nullptr));
	rtcache_set_private(nullptr, &n); // no crash
	rtheap_t zeroed{};
	EXPECT_EQ(-EINVAL, rtheap_slabinfo(nullptr, stdout));
	EXPECT_EQ(-EINVAL, rtheap_slabinfo(&zeroed, stdout));
	EXPECT_EQ(-EINVAL, rtheap_slabinfo(&heap.h, nullptr));
	const rtheap_stats h1 = stats(&heap.h);
	expect_same_stats(h0, h1, "unusable cache", true);
	EXPECT_EQ(h0.errors, h1.errors);
	EXPECT_EQ(0u, n);
	EXPECT_TRUE(heap.reports.empty());
}

TEST(CacheErrUnusable, NullArguments)
{
	Heap heap;
	rtcache_t *c = rtcache_create(&heap.h, "args", 64, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	void *p = rtcache_alloc(c);
	const rtcache_stats c0 = cstats(c);
	const rtheap_stats h0 = stats(&heap.h);
	size_t n = 0;
	EXPECT_EQ(-EINVAL, rtcache_enumerate(c, nullptr, &n));
	EXPECT_EQ(-EINVAL, rtcache_get_stats(c, nullptr));
	expect_same_stats(h0, stats(&heap.h), "NULL arguments", true);
	expect_same_cache(c0, cstats(c), "NULL arguments");
	EXPECT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
}

// ---------------------------------------------------------------- clear, enumerate, shrink, keep, destroy

int collect(void *obj, void *arg)
{
	static_cast<std::set<void *> *>(arg)->insert(obj);
	return 0;
}

std::set<void *> live_set(rtcache_t *c)
{
	std::set<void *> s;
	EXPECT_EQ(0, rtcache_enumerate(c, collect, &s));
	return s;
}

TEST_F(Cache, ClearDropsEveryObjectKeepsTheSlabs)
{
	rtcache_t *c = rtcache_create(&heap.h, "clear", 40, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const size_t S = cstats(c).objs_per_slab, n = 3 * S + 5;
	std::set<void *> first;
	for (size_t i = 0; i < n; i++)
		first.insert(rtcache_alloc(c));
	ASSERT_EQ(n, first.size());
	ASSERT_EQ(0u, first.count(nullptr));
	const rtcache_stats st0 = cstats(c);
	const rtheap_stats h0 = stats(&heap.h);
	EXPECT_EQ(0, rtcache_clear(c));
	rtcache_stats st = cstats(c);
	EXPECT_EQ(0u, st.active_objs);
	EXPECT_EQ(0u, st.active_slabs);
	EXPECT_EQ(st0.total_slabs, st.total_slabs);
	EXPECT_EQ(st0.total_slabs, st.empty_slabs);
	EXPECT_TRUE(live_set(c).empty());
	expect_same_stats(h0, stats(&heap.h), "clear keeps the slabs");
	EXPECT_TRUE(heap_ok(&heap.h));
	// A cleared object is free.
	heap.reports.clear();
	EXPECT_EQ(-EALREADY, rtcache_free(c, *first.begin()));
	EXPECT_EQ(1u, heap.reports.size());
	// The next allocations reuse the slabs: no heap call, the same objects.
	std::set<void *> second;
	for (size_t i = 0; i < n; i++)
		second.insert(rtcache_alloc(c));
	EXPECT_EQ(first, second);
	EXPECT_EQ(h0.alloc_calls, stats(&heap.h).alloc_calls);
	EXPECT_EQ(st0.total_slabs, cstats(c).total_slabs);
	EXPECT_EQ(second, live_set(c));
	EXPECT_EQ(0, rtcache_clear(c));
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, ClearWithConstructorRunsNoDestructor)
{
	Counts k;
	rtcache_t *c = rtcache_create(&heap.h, "clear", sizeof(Obj), 0, 0, obj_ctor, obj_dtor);
	ASSERT_NE(nullptr, c);
	rtcache_set_private(c, &k);
	const size_t S = cstats(c).objs_per_slab;
	for (size_t i = 0; i < 2 * S; i++)
		ASSERT_NE(nullptr, rtcache_alloc(c));
	EXPECT_EQ(0, rtcache_clear(c));
	EXPECT_EQ(0u, k.dtor);
	for (size_t i = 0; i < 2 * S; i++) {
		Obj *o = static_cast<Obj *>(rtcache_alloc(c));
		ASSERT_NE(nullptr, o);
		EXPECT_EQ(kConstructed, o->state);
	}
	EXPECT_EQ(2 * S, k.ctor);
	EXPECT_EQ(0, rtcache_clear(c));
	EXPECT_EQ(0, rtcache_destroy(c));
	EXPECT_EQ(2 * S, k.dtor);
}

int stop_at_third(void *, void *arg)
{
	return ++*static_cast<int *>(arg) == 3 ? 42 : 0;
}

TEST_F(Cache, EnumerateSeesExactlyTheLiveSet)
{
	rtcache_t *c = rtcache_create(&heap.h, "enum", 72, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	EXPECT_TRUE(live_set(c).empty());
	std::mt19937 rng(7);
	std::set<void *> model;
	std::vector<void *> v;
	for (int i = 0; i < 600; i++) {
		void *p = rtcache_alloc(c);
		model.insert(p);
		v.push_back(p);
	}
	std::shuffle(v.begin(), v.end(), rng);
	for (size_t i = 0; i < 350; i++) {
		ASSERT_EQ(0, rtcache_free(c, v[i]));
		model.erase(v[i]);
	}
	EXPECT_EQ(model, live_set(c));
	int calls = 0;
	EXPECT_EQ(42, rtcache_enumerate(c, stop_at_third, &calls));
	EXPECT_EQ(3, calls);
	for (size_t i = 350; i < v.size(); i++)
		ASSERT_EQ(0, rtcache_free(c, v[i]));
	EXPECT_TRUE(live_set(c).empty());
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, ShrinkGivesEmptySlabsBack)
{
	rtcache_t *c = rtcache_create(&heap.h, "shrink", 128, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	ASSERT_EQ(0, rtcache_set_keep(c, 100));
	const rtcache_stats st0 = cstats(c);
	const size_t S = st0.objs_per_slab, B = st0.slab_bytes;
	const rtheap_stats h0 = stats(&heap.h);
	std::vector<void *> objs;
	for (size_t i = 0; i < 4 * S; i++)
		objs.push_back(rtcache_alloc(c));
	EXPECT_EQ(h0.used + 4 * B, stats(&heap.h).used);
	for (size_t i = 0; i < 3 * S; i++) // slabs 1..3 empty, slab 4 full
		ASSERT_EQ(0, rtcache_free(c, objs[i]));
	EXPECT_EQ(3u, cstats(c).empty_slabs);
	EXPECT_EQ(long(3 * B), rtcache_shrink(c));
	rtcache_stats st = cstats(c);
	EXPECT_EQ(1u, st.total_slabs);
	EXPECT_EQ(0u, st.empty_slabs);
	EXPECT_EQ(S, st.active_objs);
	EXPECT_EQ(h0.used + B, stats(&heap.h).used);
	EXPECT_EQ(0, rtcache_shrink(c));
	EXPECT_TRUE(heap_ok(&heap.h));
	for (size_t i = 3 * S; i < 4 * S; i++)
		ASSERT_EQ(0, rtcache_free(c, objs[i]));
	EXPECT_EQ(long(B), rtcache_shrink(c));
	EXPECT_EQ(h0.used, stats(&heap.h).used);
	EXPECT_EQ(0, rtcache_destroy(c));
}

// Alternate alloc/free of one object just past a full slab.
size_t heap_calls_at_boundary(Heap &heap, unsigned keep)
{
	rtcache_t *c = rtcache_create(&heap.h, "keep", 64, 0, 0, nullptr, nullptr);
	EXPECT_NE(nullptr, c);
	EXPECT_EQ(0, rtcache_set_keep(c, keep));
	const size_t S = cstats(c).objs_per_slab;
	std::vector<void *> objs;
	for (size_t i = 0; i < S; i++)
		objs.push_back(rtcache_alloc(c));
	const rtheap_stats h0 = stats(&heap.h);
	for (int i = 0; i < 100; i++) {
		void *p = rtcache_alloc(c);
		EXPECT_NE(nullptr, p);
		EXPECT_EQ(0, rtcache_free(c, p));
	}
	const rtheap_stats h1 = stats(&heap.h);
	EXPECT_EQ(h1.alloc_calls - h0.alloc_calls, h1.free_calls - h0.free_calls + (keep ? 1 : 0));
	for (void *p : objs)
		EXPECT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
	return h1.alloc_calls - h0.alloc_calls;
}

TEST_F(Cache, KeepHysteresisAtASlabBoundary)
{
	EXPECT_EQ(1u, heap_calls_at_boundary(heap, 1)) << "default keep: one slab taken, kept";
	EXPECT_EQ(1u, heap_calls_at_boundary(heap, 3));
	EXPECT_EQ(100u, heap_calls_at_boundary(heap, 0)) << "keep 0: a slab per alloc";
}

TEST_F(Cache, DefaultKeepIsOne)
{
	rtcache_t *c = rtcache_create(&heap.h, "keep", 64, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const size_t S = cstats(c).objs_per_slab;
	std::vector<void *> objs;
	for (size_t i = 0; i < 3 * S; i++)
		objs.push_back(rtcache_alloc(c));
	for (void *p : objs)
		ASSERT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(1u, cstats(c).total_slabs);
	EXPECT_EQ(1u, cstats(c).empty_slabs);
	EXPECT_EQ(0, rtcache_destroy(c));
}

TEST_F(Cache, DestroyBusyChangesNothing)
{
	const rtheap_stats base = stats(&heap.h);
	rtcache_t *c = rtcache_create(&heap.h, "busy", 64, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	void *p = rtcache_alloc(c);
	ASSERT_NE(nullptr, p);
	const rtheap_stats h0 = stats(&heap.h);
	const rtcache_stats c0 = cstats(c);
	EXPECT_EQ(-EBUSY, rtcache_destroy(c));
	expect_same_stats(h0, stats(&heap.h), "destroy busy");
	expect_same_cache(c0, cstats(c), "destroy busy");
	EXPECT_TRUE(heap_ok(&heap.h));
	EXPECT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
	const rtheap_stats h1 = stats(&heap.h);
	EXPECT_EQ(base.used, h1.used);
	EXPECT_EQ(base.live_blocks, h1.live_blocks);
	EXPECT_EQ(base.alloc_calls + 2, h1.alloc_calls); // descriptor and one slab
	EXPECT_EQ(base.free_calls + 2, h1.free_calls);
}

TEST(CacheExhaustion, FailsCleanlyThenRecovers)
{
	Heap heap(24 * kPage);
	rtcache_t *c = rtcache_create(&heap.h, "small", 200, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	std::vector<void *> objs;
	while (void *p = rtcache_alloc(c))
		objs.push_back(p);
	ASSERT_FALSE(objs.empty());
	rtcache_stats st = cstats(c);
	EXPECT_EQ(1u, st.failures);
	EXPECT_EQ(objs.size(), st.active_objs);
	EXPECT_EQ(st.total_objs, st.active_objs);
	const rtheap_stats h0 = stats(&heap.h);
	EXPECT_EQ(nullptr, rtcache_alloc(c));
	const rtheap_stats h1 = stats(&heap.h);
	EXPECT_EQ(2u, cstats(c).failures);
	EXPECT_EQ(h0.failed_allocs + 1, h1.failed_allocs);
	expect_same_stats(h0, h1, "failed alloc", false);
	EXPECT_TRUE(heap_ok(&heap.h));
	void *back = objs.back();
	objs.pop_back();
	EXPECT_EQ(0, rtcache_free(c, back));
	EXPECT_EQ(back, rtcache_alloc(c));
	objs.push_back(back);
	for (void *p : objs)
		EXPECT_EQ(0, rtcache_free(c, p));
	EXPECT_EQ(0, rtcache_destroy(c));
}

// ---------------------------------------------------------------- reports

std::string capture(const std::function<void(FILE *)> &fn)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	EXPECT_NE(nullptr, f);
	fn(f);
	std::fclose(f);
	std::string s(buf, len);
	std::free(buf);
	return s;
}

TEST_F(Cache, SlabinfoAndDumpNameTheCreator)
{
	const int line_msgs = __LINE__ + 1;
	rtcache_t *msgs = rtcache_create(&heap.h, "msgs", 96, 0, 0, nullptr, nullptr);
	const int line_timers = __LINE__ + 1;
	rtcache_t *timers = rtcache_create(&heap.h, "timers", 40, 0, 0, nullptr, nullptr);
	ASSERT_TRUE(msgs && timers);
	std::vector<void *> m;
	for (int i = 0; i < 7; i++)
		m.push_back(rtcache_alloc(msgs));
	void *t = rtcache_alloc(timers);
	const std::string at_msgs = std::string(__FILE__) + ":" + std::to_string(line_msgs);
	const std::string at_timers = std::string(__FILE__) + ":" + std::to_string(line_timers);
	const rtcache_stats st = cstats(msgs);
	std::string info = capture([&](FILE *f) { EXPECT_EQ(0, rtheap_slabinfo(&heap.h, f)); });
	EXPECT_EQ(0u, info.find("# name")) << info;
	// the row of msgs, column by column
	std::vector<std::string> cols;
	std::istringstream lines(info);
	for (std::string line; std::getline(lines, line);)
		if (line.compare(0, 5, "msgs ") == 0) {
			std::istringstream words(line);
			for (std::string w; words >> w;)
				cols.push_back(w);
		}
	const std::vector<std::string> want = {
	    "msgs", "7", std::to_string(st.total_objs), "96", std::to_string(st.objs_per_slab),
	    std::to_string(st.pages_per_slab), ":", "slabdata", std::to_string(st.active_slabs),
	    std::to_string(st.total_slabs), "0", ":", "stats", "7", "0", "0", ":", "created",
	    at_msgs};
	EXPECT_EQ(want, cols) << info;
	EXPECT_NE(std::string::npos, info.find(at_msgs)) << info;
	EXPECT_NE(std::string::npos, info.find("timers")) << info;
	EXPECT_NE(std::string::npos, info.find(at_timers)) << info;
	std::string dump = capture([&](FILE *f) { EXPECT_EQ(0, rtheap_dump(&heap.h, f, 1)); });
	EXPECT_NE(std::string::npos, dump.find("cache \"msgs\"")) << dump;
	EXPECT_NE(std::string::npos, dump.find("objects 7/" + std::to_string(st.total_objs))) << dump;
	// one line per slab, with its use and the creator
	size_t slab_lines = 0, in_use = 0;
	std::istringstream dl(dump);
	for (std::string line; std::getline(dl, line);) {
		if (line.find("  slab ") != 0 || line.find(at_msgs) == std::string::npos)
			continue;
		slab_lines++;
		in_use += std::stoul(line.substr(line.find(": ") + 2));
	}
	EXPECT_EQ(st.total_slabs, slab_lines) << dump;
	EXPECT_EQ(7u, in_use) << dump;
	EXPECT_NE(std::string::npos, dump.find("cache \"timers\"")) << dump;
	EXPECT_NE(std::string::npos, dump.find(at_timers)) << dump;
	std::string quiet = capture([&](FILE *f) { EXPECT_EQ(0, rtheap_dump(&heap.h, f, 0)); });
	EXPECT_NE(std::string::npos, quiet.find(at_msgs)) << quiet;
	EXPECT_EQ(std::string::npos, quiet.find("in use")) << quiet;
	for (void *p : m)
		EXPECT_EQ(0, rtcache_free(msgs, p));
	EXPECT_EQ(0, rtcache_free(timers, t));
	EXPECT_EQ(0, rtcache_destroy(msgs));
	EXPECT_EQ(0, rtcache_destroy(timers));
	info = capture([&](FILE *f) { EXPECT_EQ(0, rtheap_slabinfo(&heap.h, f)); });
	EXPECT_EQ(std::string::npos, info.find("msgs")) << info;
}

// ---------------------------------------------------------------- check, debug fill, checkers

TEST_F(Cache, CheckFindsACorruptFreeList)
{
#if RTHEAP_TEST_ASAN
	GTEST_SKIP() << "writes into a free (poisoned) object";
#else
	rtcache_t *c = rtcache_create(&heap.h, "corrupt", 32, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	std::vector<void *> objs;
	for (int i = 0; i < 6; i++)
		objs.push_back(rtcache_alloc(c));
	ASSERT_EQ(0, rtcache_free(c, objs[2]));
	ASSERT_EQ(0, rtcache_free(c, objs[4]));
	EXPECT_TRUE(heap_ok(&heap.h));
	// objs[4] is the head; its link (first two bytes) names objs[2] (index
	// 2: the first six objects of a fresh slab are 0..5).  Point it at itself.
	uint16_t saved;
	std::memcpy(&saved, objs[4], 2);
	EXPECT_EQ(2u, saved);
	const uint16_t self = 4;
	std::memcpy(objs[4], &self, 2);
	rtheap_fault f{};
	EXPECT_EQ(-EUCLEAN, rtheap_check(&heap.h, &f));
	ASSERT_NE(nullptr, f.what);
	EXPECT_NE(nullptr, std::strstr(f.what, "cache")) << f.what;
	std::memcpy(objs[4], &saved, 2);
	EXPECT_TRUE(heap_ok(&heap.h));
	for (int i : {0, 1, 3, 5})
		EXPECT_EQ(0, rtcache_free(c, objs[i]));
	EXPECT_EQ(0, rtcache_destroy(c));
#endif
}

TEST(CacheDebugFill, PatternsAndWriteAfterFree)
{
	Heap heap(kHeapBytes, kPage, RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	rtcache_t *c = rtcache_create(&heap.h, "fill", 48, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	auto *p = static_cast<unsigned char *>(rtcache_alloc(c));
	auto *q = static_cast<unsigned char *>(rtcache_alloc(c));
	ASSERT_TRUE(p && q);
	for (int k = 0; k < 48; k++)
		ASSERT_EQ(0xa5, p[k]) << k;
	ASSERT_EQ(0, rtcache_free(c, p));
#if !RTHEAP_TEST_ASAN
	for (int k = 2; k < 48; k++) // past the link
		ASSERT_EQ(0xdd, p[k]) << k;
	p[20] = 1; // a write after free
	const size_t errors = stats(&heap.h).errors;
	heap.reports.clear();
	EXPECT_EQ(p, rtcache_alloc(c)); // handed out anyway, reported
	ASSERT_EQ(1u, heap.reports.size());
	EXPECT_EQ(RTHEAP_ERR_USE_AFTER_FREE, heap.reports[0].kind);
	EXPECT_EQ(p, heap.reports[0].addr);
	EXPECT_EQ(errors + 1, stats(&heap.h).errors);
	for (int k = 0; k < 48; k++)
		ASSERT_EQ(0xa5, p[k]) << k;
	// an intact free object: no report
	ASSERT_EQ(0, rtcache_free(c, q));
	EXPECT_EQ(q, rtcache_alloc(c));
	EXPECT_EQ(1u, heap.reports.size());
	ASSERT_EQ(0, rtcache_free(c, p));
#endif
	ASSERT_EQ(0, rtcache_free(c, q));
	EXPECT_EQ(0, rtcache_destroy(c));
}

#if RTHEAP_TEST_ASAN
TEST_F(Cache, FreeObjectsArePoisoned)
{
	for (bool ctor : {false, true}) {
		rtcache_t *c = rtcache_create(&heap.h, "asan", 40, 0, 0, ctor ? nop_ctor : nullptr, nullptr);
		ASSERT_NE(nullptr, c);
		char *p = static_cast<char *>(rtcache_alloc(c));
		char *q = static_cast<char *>(rtcache_alloc(c));
		EXPECT_FALSE(__asan_region_is_poisoned(p, 40));
		EXPECT_TRUE(__asan_address_is_poisoned(q + 40)) << "past the object";
		const size_t stride = cstats(c).stride;
		EXPECT_TRUE(__asan_address_is_poisoned(q + stride)) << "never handed out";
		EXPECT_EQ(0, rtcache_free(c, p));
		EXPECT_TRUE(__asan_address_is_poisoned(p));
		EXPECT_TRUE(__asan_address_is_poisoned(p + 39));
		EXPECT_EQ(p, rtcache_alloc(c));
		EXPECT_FALSE(__asan_region_is_poisoned(p, 40));
		EXPECT_EQ(0, rtcache_clear(c));
		EXPECT_TRUE(__asan_address_is_poisoned(p));
		EXPECT_TRUE(__asan_address_is_poisoned(q));
		EXPECT_EQ(0, rtcache_destroy(c));
	}
}
#endif

// ---------------------------------------------------------------- randomized model

struct ModelCache {
	rtcache_t *c;
	size_t size;
	std::map<void *, uint64_t> live; // object -> tag
	std::vector<void *> dead;        // released objects (for bad releases)
};

void model_batch(Heap &heap, std::vector<ModelCache> &caches, std::mt19937_64 &rng,
                 uint64_t &serial)
{
	for (int op = 0; op < 400; op++) {
		ModelCache &m = caches[rng() % caches.size()];
		const unsigned r = static_cast<unsigned>(rng() % 100);
		if (r < 55 || m.live.empty()) {
			void *p = rtcache_alloc(m.c);
			ASSERT_NE(nullptr, p);
			for (ModelCache &o : caches)
				ASSERT_EQ(0u, o.live.count(p)) << "handed out twice";
			rtt::fill(p, m.size, ++serial);
			m.live[p] = serial;
			m.dead.erase(std::remove(m.dead.begin(), m.dead.end(), p), m.dead.end());
		} else if (r < 97) {
			auto it = m.live.begin();
			std::advance(it, static_cast<long>(rng() % m.live.size()));
			ASSERT_EQ(SIZE_MAX, rtt::verify(it->first, m.size, it->second)) << "overlap";
			ASSERT_EQ(0, rtcache_free(m.c, it->first));
			m.dead.push_back(it->first);
			m.live.erase(it);
		} else if (!m.dead.empty()) { // a bad release: refused, nothing changes
			void *p = m.dead[rng() % m.dead.size()];
			const rtcache_stats c0 = cstats(m.c);
			const int rc = rtcache_free(m.c, p);
			ASSERT_TRUE(rc == -EALREADY || rc == -EINVAL) << rc;
			expect_same_cache(c0, cstats(m.c), "model bad release");
		}
	}
	(void)heap;
}

void model_verify(Heap &heap, std::vector<ModelCache> &caches)
{
	ASSERT_TRUE(heap_ok(&heap.h));
	for (ModelCache &m : caches) {
		std::set<void *> want;
		for (auto &kv : m.live) {
			want.insert(kv.first);
			ASSERT_EQ(SIZE_MAX, rtt::verify(kv.first, m.size, kv.second));
		}
		EXPECT_EQ(want, live_set(m.c));
		EXPECT_EQ(m.live.size(), cstats(m.c).active_objs);
	}
}

TEST(CacheModel, RandomOpsAgainstAModel)
{
	Heap heap(4 * 1024 * 1024, 512);
	std::vector<ModelCache> caches;
	const struct {
		size_t size, align;
		unsigned flags;
		rtcache_ctor_fn ctor;
	} specs[] = {
	    {24, 0, 0, nullptr},
	    {24, 0, RTCACHE_ZERO, nullptr},
	    {200, 0, 0, nop_ctor},
	    {1000, 0, RTCACHE_HWCACHE_ALIGN, nullptr},
	    {64, 32, 0, nullptr},
	};
	for (auto &s : specs) {
		rtcache_t *c = rtcache_create(&heap.h, "model", s.size, s.align, s.flags, s.ctor, nullptr);
		ASSERT_NE(nullptr, c);
		caches.push_back({c, s.size, {}, {}});
	}
	std::mt19937_64 rng(12345);
	uint64_t serial = 0;
	for (int batch = 0; batch < 60; batch++) {
		model_batch(heap, caches, rng, serial);
		if (HasFatalFailure())
			return;
		model_verify(heap, caches);
		ModelCache &m = caches[rng() % caches.size()];
		switch (rng() % 8) {
		case 0: // clear one cache
			ASSERT_EQ(0, rtcache_clear(m.c));
			for (auto &kv : m.live)
				m.dead.push_back(kv.first);
			m.live.clear();
			break;
		case 1:
			ASSERT_GE(rtcache_shrink(m.c), 0);
			break;
		case 2:
			ASSERT_EQ(0, rtcache_set_keep(m.c, static_cast<unsigned>(rng() % 4)));
			break;
		default:
			break;
		}
	}
	model_verify(heap, caches);
	for (ModelCache &m : caches) {
		ASSERT_EQ(0, rtcache_clear(m.c));
		ASSERT_EQ(0, rtcache_destroy(m.c));
	}
}

#else // CACHE_TEST_THREADS

// ---------------------------------------------------------------- threads

struct Tagged {
	uint32_t owner, serial;
	uint64_t check;
};

uint64_t tag_of(uint32_t owner, uint32_t serial)
{
	return rtt::mix64((uint64_t(owner) << 32) | serial);
}

struct Shared {
	rtcache_t *c;
	std::atomic<void *> mailbox[64];
	std::atomic<size_t> bad{0};
};

// Each thread allocates, tags, verifies and frees, and posts some objects
// in a mailbox that any thread may take and free (cross-thread releases).
void worker(Shared *sh, uint32_t id, int ops)
{
	std::vector<Tagged *> mine;
	uint32_t serial = 0;
	uint64_t x = id * 0x9E3779B97F4A7C15ull + 1;
	auto check_free = [&](Tagged *t) {
		if (t->check != tag_of(t->owner, t->serial))
			sh->bad++;
		if (rtcache_free(sh->c, t) != 0)
			sh->bad++;
	};
	for (int i = 0; i < ops; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x % 3 != 0 || mine.empty()) {
			auto *t = static_cast<Tagged *>(rtcache_alloc(sh->c));
			if (!t) {
				sh->bad++;
				continue;
			}
			*t = {id, ++serial, tag_of(id, serial)};
			if (x % 7 == 0) { // post it
				void *old = sh->mailbox[x % 64].exchange(t);
				if (old)
					check_free(static_cast<Tagged *>(old));
			} else {
				mine.push_back(t);
			}
		} else {
			size_t k = (x >> 8) % mine.size();
			check_free(mine[k]);
			mine[k] = mine.back();
			mine.pop_back();
		}
	}
	for (Tagged *t : mine)
		check_free(t);
}

void stress(rtheap_lock_mode_t lock)
{
	Heap heap(4 * 1024 * 1024, kPage, lock);
	Shared sh;
	sh.c = rtcache_create(&heap.h, "mt", sizeof(Tagged) + 8, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, sh.c);
	for (auto &m : sh.mailbox)
		m.store(nullptr);
	const int ops = RTHEAP_TEST_SANITIZED ? 20000 : 100000;
	std::vector<std::thread> threads;
	for (uint32_t i = 0; i < 4; i++) // more threads than the 2 CPUs of the test machine
		threads.emplace_back(worker, &sh, i, ops);
	for (auto &t : threads)
		t.join();
	for (auto &m : sh.mailbox) {
		if (void *p = m.load()) {
			EXPECT_EQ(0, rtcache_free(sh.c, p));
		}
	}
	EXPECT_EQ(0u, sh.bad.load());
	const rtcache_stats st = cstats(sh.c);
	EXPECT_EQ(0u, st.active_objs);
	EXPECT_EQ(st.allocs, st.frees);
	EXPECT_TRUE(heap_ok(&heap.h));
	EXPECT_TRUE(heap.reports.empty());
	EXPECT_EQ(0, rtcache_destroy(sh.c));
}

TEST(CacheThreads, StressPiMutex)
{
	stress(RTHEAP_LOCK_PI_MUTEX);
}

TEST(CacheThreads, StressSpin)
{
	stress(RTHEAP_LOCK_SPIN);
}

#endif // CACHE_TEST_THREADS

} // namespace
