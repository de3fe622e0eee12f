/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/slab.h with the kernel-style interfaces of
// the device-driver textbook, as shared/docs/seed-systems.md (family 5)
// describes them: object caches with constructor and destructor and
// cache-line alignment, allocation flags that say whether the caller may
// wait, reserve pools that keep a guaranteed minimum; plus what this port
// adds: misuse caught, reported, harmless.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "rtheap/compat/slab.h"
#include "rtheap/default.h"
#include "compat_common.h"
#include "test_common.h"

extern "C" int slab_c_program(rtheap_t *heap); // test_compat_slab_c.c

namespace {

// ---- the textbook's types and signatures, at compile time ----
using ctor_t = void (*)(void *, kmem_cache_t *, unsigned long);
static_assert(std::is_same<kmem_cache_t, rtcache_t>::value, "kmem_cache_t");
static_assert(std::is_same<decltype(&kmem_cache_create_at),
                           kmem_cache_t *(*)(const char *, size_t, size_t, unsigned long, ctor_t,
                                             ctor_t, const char *, int)>::value,
              "kmem_cache_create");
static_assert(std::is_same<ctor_t, rtcache_ctor_fn>::value, "constructor type");
static_assert(std::is_same<decltype(&kmem_cache_alloc), void *(*)(kmem_cache_t *, int)>::value,
              "kmem_cache_alloc");
static_assert(std::is_same<decltype(&kmem_cache_free), void (*)(kmem_cache_t *, void *)>::value,
              "kmem_cache_free");
static_assert(std::is_same<decltype(&kmem_cache_destroy), int (*)(kmem_cache_t *)>::value,
              "kmem_cache_destroy");
static_assert(std::is_same<decltype(&kmem_cache_shrink), int (*)(kmem_cache_t *)>::value,
              "kmem_cache_shrink");
static_assert(std::is_same<mempool_t, rtpool_t>::value, "mempool_t");
static_assert(std::is_same<mempool_alloc_t, void *(int, void *)>::value, "mempool_alloc_t");
static_assert(std::is_same<mempool_free_t, void(void *, void *)>::value, "mempool_free_t");
static_assert(std::is_same<decltype(&mempool_create_at),
                           mempool_t *(*)(int, mempool_alloc_t *, mempool_free_t *, void *,
                                          const char *, int)>::value,
              "mempool_create");
static_assert(std::is_same<decltype(&mempool_alloc), void *(*)(mempool_t *, int)>::value,
              "mempool_alloc");
static_assert(std::is_same<decltype(&mempool_free), void (*)(void *, mempool_t *)>::value,
              "mempool_free(element, pool)");
static_assert(std::is_same<decltype(&mempool_resize), int (*)(mempool_t *, int, int)>::value,
              "mempool_resize");
static_assert(std::is_same<decltype(&mempool_destroy), void (*)(mempool_t *)>::value,
              "mempool_destroy");
static_assert(std::is_same<decltype(&mempool_alloc_slab), mempool_alloc_t *>::value, "alloc_slab");
static_assert(std::is_same<decltype(&mempool_free_slab), mempool_free_t *>::value, "free_slab");
// GFP_ATOMIC never waits, GFP_KERNEL may: the pool's own two modes.
static_assert(GFP_ATOMIC == (int)RTPOOL_NOWAIT, "GFP_ATOMIC");
static_assert(GFP_KERNEL == (int)RTPOOL_WAIT, "GFP_KERNEL");
static_assert(GFP_NOIO == GFP_KERNEL && GFP_NOFS == GFP_KERNEL, "GFP_NOIO, GFP_NOFS may wait");
static_assert(RTCACHE_LINE == 64, "the cache line of SLAB_HWCACHE_ALIGN");
static_assert(SLAB_CTOR_CONSTRUCTOR == RTCACHE_CTOR, "constructor flag");

// The default heap of this process: small and without its helper thread,
// so that only a GFP_KERNEL allocation can make it grow.  Set before any
// use of rtheap_default() (static initialisation).
const int default_setup_rc =
    rtheap_default_setup(256u << 10, 256u << 10, 0, RTHEAP_DEFAULT_NOHELPER);

using rtt::Misuse;
using rtt::record_misuse;

rtcache_stats cache_stats(kmem_cache_t *c)
{
	rtcache_stats st;
	std::memset(&st, 0, sizeof st);
	EXPECT_EQ(0, rtcache_get_stats(c, &st));
	return st;
}

rtpool_stats pool_stats(mempool_t *p)
{
	rtpool_stats st;
	std::memset(&st, 0, sizeof st);
	EXPECT_EQ(0, rtpool_get_stats(p, &st));
	return st;
}

// Take every byte of @p h: the largest free run while there is one, then
// the last bucket slots.  Returns the blocks, to be freed.
std::vector<void *> exhaust(rtheap_t *h)
{
	std::vector<void *> blocks;
	for (;;) {
		const size_t lf = rtt::stats(h).largest_free;
		void *p = lf ? rtheap_alloc(h, lf) : nullptr;
		if (!p)
			break;
		blocks.push_back(p);
	}
	while (void *p = rtheap_alloc(h, 16))
		blocks.push_back(p);
	return blocks;
}

void release(rtheap_t *h, std::vector<void *> &blocks)
{
	for (void *p : blocks)
		EXPECT_EQ(0, rtheap_free(h, p));
	blocks.clear();
}

// Every test runs on a heap of its own, the current heap of the interface
// (compat_common.h).
class CompatSlab : public rtt::CompatHeapTest<kmem_set_heap> {};

// ---- constructor and destructor ----

// What the constructor and destructor saw.  The constructor writes a
// pattern derived from the object's address over the whole object (its
// "constructed state"); the destructor checks it is still there.
struct Lifecycle {
	kmem_cache_t *cache = nullptr;
	size_t size = 0;
	std::map<void *, int> constructed, destructed;
	size_t ctor_calls = 0, dtor_calls = 0, bad_flags = 0, bad_cache = 0, dtor_saw_damage = 0;
};
Lifecycle *life;

void obj_ctor(void *obj, kmem_cache_t *cache, unsigned long flags)
{
	life->ctor_calls++;
	life->constructed[obj]++;
	if (flags != SLAB_CTOR_CONSTRUCTOR || (flags & SLAB_CTOR_ATOMIC))
		life->bad_flags++;
	if (cache != life->cache)
		life->bad_cache++;
	rtt::fill(obj, life->size, (uint64_t)(uintptr_t)obj);
}

void obj_dtor(void *obj, kmem_cache_t *cache, unsigned long flags)
{
	life->dtor_calls++;
	life->destructed[obj]++;
	if (flags & SLAB_CTOR_CONSTRUCTOR)
		life->bad_flags++;
	if (cache != life->cache)
		life->bad_cache++;
	if (rtt::verify(obj, life->size, (uint64_t)(uintptr_t)obj) != SIZE_MAX)
		life->dtor_saw_damage++;
}

bool constructed_state(void *obj)
{
	return rtt::verify(obj, life->size, (uint64_t)(uintptr_t)obj) == SIZE_MAX;
}

TEST_F(CompatSlab, ConstructorOncePerObjectOfEachSlabDestructorWhenTheSlabGoes)
{
	Lifecycle lc;
	life = &lc;
	lc.size = 96;
	kmem_cache_t *c = kmem_cache_create("lifecycle", lc.size, 0, 0, obj_ctor, obj_dtor);
	ASSERT_NE(nullptr, c);
	lc.cache = c;
	EXPECT_EQ(0u, lc.ctor_calls) << "no slab before the first allocation";
	const rtcache_stats st0 = cache_stats(c);
	const size_t S = st0.objs_per_slab;
	ASSERT_GE(S, 2u);

	// Three slabs made: S constructor calls each, once per object.
	std::vector<void *> objs;
	for (size_t i = 0; i < 2 * S + 1; i++) {
		void *p = kmem_cache_alloc(c, GFP_KERNEL);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(constructed_state(p)) << "handed out constructed";
		objs.push_back(p);
	}
	EXPECT_EQ(3 * S, lc.ctor_calls);
	EXPECT_EQ(3 * S, lc.constructed.size());
	for (auto &kv : lc.constructed)
		EXPECT_EQ(1, kv.second);
	EXPECT_EQ(3 * S, cache_stats(c).total_objs);
	EXPECT_EQ(0u, lc.dtor_calls);

	// Free and allocate again, keeping one object per slab live: no slab
	// is made or given back, and objects keep their constructed state
	// while free (the cache's links are outside them).
	std::set<uintptr_t> slab_kept;
	std::vector<void *> freed;
	for (void *p : objs) {
		if (slab_kept.insert((uintptr_t)p & ~(uintptr_t)(st0.slab_bytes - 1)).second)
			continue;
		kmem_cache_free(c, p);
		freed.push_back(p);
	}
	for (size_t i = 0; i < freed.size(); i++) {
		void *p = kmem_cache_alloc(c, GFP_ATOMIC);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(constructed_state(p)) << "object " << p << " lost its constructed state";
	}
	EXPECT_EQ(3 * S, lc.ctor_calls) << "no constructor call on reuse";
	EXPECT_EQ(0u, lc.dtor_calls);

	// Everything freed: the cache keeps one empty slab (its hysteresis) and
	// gives the others back, destructor on each of their objects.
	for (void *p : objs)
		kmem_cache_free(c, p);
	EXPECT_EQ(1u, cache_stats(c).total_slabs);
	EXPECT_EQ(2 * S, lc.dtor_calls);
	// Shrink gives the last one back: 0, nothing left (kernel 2.6 answer).
	EXPECT_EQ(0, kmem_cache_shrink(c));
	EXPECT_EQ(0u, cache_stats(c).total_slabs);
	EXPECT_EQ(3 * S, lc.dtor_calls);
	EXPECT_EQ(lc.constructed, lc.destructed) << "every constructed object destructed once";
	EXPECT_EQ(0u, lc.dtor_saw_damage);

	// A new slab: S more constructor calls.  Shrink with an object live
	// answers 1 (slabs in use remain) and gives nothing back.
	void *again = kmem_cache_alloc(c, GFP_ATOMIC);
	ASSERT_NE(nullptr, again);
	EXPECT_EQ(4 * S, lc.ctor_calls);
	EXPECT_EQ(1, kmem_cache_shrink(c));
	EXPECT_EQ(3 * S, lc.dtor_calls);

	// Destroy refuses while an object is live (non-zero, nothing changes),
	// then runs the destructor on every object of the last slab.
	EXPECT_NE(0, kmem_cache_destroy(c));
	EXPECT_EQ(3 * S, lc.dtor_calls);
	EXPECT_TRUE(constructed_state(again));
	kmem_cache_free(c, again);
	EXPECT_EQ(0, kmem_cache_destroy(c));
	EXPECT_EQ(4 * S, lc.dtor_calls);
	EXPECT_EQ(lc.ctor_calls, lc.dtor_calls);
	for (auto &kv : lc.constructed)
		EXPECT_EQ(kv.second, lc.destructed[kv.first]) << kv.first;
	EXPECT_EQ(0u, lc.bad_flags);
	EXPECT_EQ(0u, lc.bad_cache);
	EXPECT_EQ(0u, lc.dtor_saw_damage);
	EXPECT_EQ(0u, rtt::stats(&heap_).pages_owned);
	EXPECT_TRUE(misuse_.empty());
	life = nullptr;
}

// ---- alignment and flags ----

bool every_object_aligned(kmem_cache_t *c, size_t align, size_t n, std::vector<void *> &objs)
{
	bool all = true;
	for (size_t i = 0; i < n; i++) {
		void *p = kmem_cache_alloc(c, GFP_ATOMIC);
		if (!p)
			return false;
		objs.push_back(p);
		if ((uintptr_t)p % align)
			all = false;
	}
	return all;
}

TEST_F(CompatSlab, HwcacheAlignGivesCacheLineAlignedObjects)
{
	std::vector<void *> objs;
	kmem_cache_t *aligned = kmem_cache_create("aligned", 24, 0, SLAB_HWCACHE_ALIGN, nullptr, nullptr);
	ASSERT_NE(nullptr, aligned);
	const size_t n = 3 * cache_stats(aligned).objs_per_slab;
	EXPECT_TRUE(every_object_aligned(aligned, 64, n, objs));
	EXPECT_GE(cache_stats(aligned).stride, 64u);
	for (void *p : objs)
		kmem_cache_free(aligned, p);
	objs.clear();

	// Without the flag, 24-byte objects are packed: the flag is what aligns.
	kmem_cache_t *packed = kmem_cache_create("packed", 24, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, packed);
	EXPECT_FALSE(every_object_aligned(packed, 64, 8, objs));
	for (void *p : objs)
		kmem_cache_free(packed, p);
	objs.clear();

	// The offset argument is taken as an alignment.
	kmem_cache_t *by_offset = kmem_cache_create("offset128", 24, 128, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, by_offset);
	EXPECT_TRUE(every_object_aligned(by_offset, 128, 40, objs));
	for (void *p : objs)
		kmem_cache_free(by_offset, p);
	EXPECT_EQ(0, kmem_cache_destroy(by_offset));
	EXPECT_EQ(0, kmem_cache_destroy(packed));
	EXPECT_EQ(0, kmem_cache_destroy(aligned));
}

TEST_F(CompatSlab, TextbookFlagsAcceptedUnknownOnesRefused)
{
	kmem_cache_t *plain = kmem_cache_create("plain", 40, 0, 0, nullptr, nullptr);
	kmem_cache_t *ignored = kmem_cache_create("ignored", 40, 0, SLAB_NO_REAP | SLAB_CACHE_DMA,
	                                          nullptr, nullptr);
	kmem_cache_t *both = kmem_cache_create("both", 40, 0,
	                                       SLAB_HWCACHE_ALIGN | SLAB_NO_REAP | SLAB_CACHE_DMA,
	                                       nullptr, nullptr);
	ASSERT_TRUE(plain && ignored && both);
	// SLAB_NO_REAP and SLAB_CACHE_DMA change nothing; with SLAB_HWCACHE_ALIGN
	// the line alignment is there.
	EXPECT_EQ(cache_stats(plain).stride, cache_stats(ignored).stride);
	EXPECT_EQ(cache_stats(plain).objs_per_slab, cache_stats(ignored).objs_per_slab);
	EXPECT_EQ(64u, cache_stats(both).stride);

	const rtheap_stats before = rtt::stats(&heap_);
	std::vector<unsigned long> unknown = {0x1ul, 0x400ul, 0x800ul, 0x8000ul, 1ul << 31, ~0ul};
	if (sizeof(unsigned long) > 4)
		unknown.push_back(1ul << (sizeof(unsigned long) * CHAR_BIT - 1)); // beyond 32 bits
	for (unsigned long f : unknown) {
		errno = 0;
		EXPECT_EQ(nullptr, kmem_cache_create("bad", 40, 0, f, nullptr, nullptr)) << std::hex << f;
		EXPECT_EQ(EINVAL, errno) << std::hex << f;
		EXPECT_EQ(nullptr, kmem_cache_create("bad", 40, 0, f | SLAB_HWCACHE_ALIGN, nullptr, nullptr));
	}
	// An offset that is no alignment, a size 0.
	for (size_t off : {3ul, 48ul, 100ul}) {
		errno = 0;
		EXPECT_EQ(nullptr, kmem_cache_create("bad", 40, off, 0, nullptr, nullptr)) << off;
		EXPECT_EQ(EINVAL, errno) << off;
	}
	EXPECT_EQ(nullptr, kmem_cache_create("bad", 0, 0, 0, nullptr, nullptr));
	rtt::expect_same_stats(before, rtt::stats(&heap_), "refused creations");
	EXPECT_EQ(0, kmem_cache_destroy(both));
	EXPECT_EQ(0, kmem_cache_destroy(ignored));
	EXPECT_EQ(0, kmem_cache_destroy(plain));
}

TEST_F(CompatSlab, CachesAreListedWithTheCreatorsFileAndLine)
{
	const int line = __LINE__ + 1;
	kmem_cache_t *c = kmem_cache_create("listed", 64, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const int pline = __LINE__ + 1;
	mempool_t *pool = mempool_create_slab_pool(2, c);
	ASSERT_NE(nullptr, pool);
	EXPECT_EQ(line, cache_stats(c).line);
	EXPECT_STREQ(__FILE__, cache_stats(c).file);
	EXPECT_EQ(pline, pool_stats(pool).line);
	EXPECT_STREQ(__FILE__, pool_stats(pool).file);

	FILE *f = std::tmpfile();
	ASSERT_NE(nullptr, f);
	EXPECT_EQ(0, rtheap_slabinfo(&heap_, f));
	EXPECT_EQ(0, rtheap_dump(&heap_, f, 0));
	std::string out;
	std::rewind(f);
	char buf[4096];
	size_t n;
	while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
		out.append(buf, n);
	std::fclose(f);
	const std::string tag = std::string(__FILE__) + ":" + std::to_string(line) + "\n";
	const std::string ptag = std::string(__FILE__) + ":" + std::to_string(pline) + "\n";
	EXPECT_NE(std::string::npos, out.find("listed")) << out;
	size_t k = 0;
	for (size_t at = out.find(tag); at != std::string::npos; at = out.find(tag, at + 1))
		k++;
	EXPECT_EQ(2u, k) << "slabinfo and dump: " << out;
	EXPECT_NE(std::string::npos, out.find(ptag)) << out;
	mempool_destroy(pool);
	EXPECT_EQ(0, kmem_cache_destroy(c));
}

// ---- allocation flags ----

TEST_F(CompatSlab, AtomicNeverWaitsAndKernelHasNothingToWaitForOnAHeapOfItsOwn)
{
	kmem_cache_t *c = kmem_cache_create("full", 128, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	std::vector<void *> blocks = exhaust(&heap_);
	rtheap_default_info d0;
	ASSERT_EQ(0, rtheap_default_stats(&d0));
	const rtheap_stats before = rtt::stats(&heap_);

	EXPECT_EQ(nullptr, kmem_cache_alloc(c, GFP_ATOMIC));
	EXPECT_EQ(nullptr, kmem_cache_alloc(c, GFP_KERNEL));
	const rtheap_stats after = rtt::stats(&heap_);
	rtt::expect_same_stats(before, after, "failed allocations", false);
	EXPECT_GE(after.failed_allocs, before.failed_allocs + 2);
	EXPECT_EQ(2u, cache_stats(c).failures);
	rtheap_default_info d1;
	ASSERT_EQ(0, rtheap_default_stats(&d1));
	EXPECT_EQ(d0.grow_calls, d1.grow_calls) << "the default heap is not this cache's";

	release(&heap_, blocks);
	void *p = kmem_cache_alloc(c, GFP_ATOMIC);
	EXPECT_NE(nullptr, p);
	kmem_cache_free(c, p);
	EXPECT_EQ(0, kmem_cache_destroy(c));
}

TEST_F(CompatSlab, KernelAllocationGrowsTheDefaultHeapAtomicDoesNot)
{
	ASSERT_EQ(0, default_setup_rc);
	kmem_set_heap(nullptr); // the process default heap
	rtheap_t *def = kmem_get_heap();
	ASSERT_NE(nullptr, def);
	ASSERT_EQ(def, rtheap_default());
	rtheap_default_info d0;
	ASSERT_EQ(0, rtheap_default_stats(&d0));
	ASSERT_TRUE(d0.flags & RTHEAP_DEFAULT_NOHELPER);
	ASSERT_EQ(0, d0.helper_running);

	kmem_cache_t *c = kmem_cache_create("grows", 512, 0, SLAB_HWCACHE_ALIGN, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	std::vector<void *> blocks = exhaust(def);
	ASSERT_FALSE(blocks.empty());
	ASSERT_EQ(0u, rtt::stats(def).largest_free);
	const size_t extents = rtt::stats(def).extents;

	EXPECT_EQ(nullptr, kmem_cache_alloc(c, GFP_ATOMIC)) << "never waits, never grows";
	rtheap_default_info d1;
	ASSERT_EQ(0, rtheap_default_stats(&d1));
	EXPECT_EQ(d0.grow_calls, d1.grow_calls);
	EXPECT_EQ(extents, rtt::stats(def).extents);

	void *p = kmem_cache_alloc(c, GFP_KERNEL); // grows the heap, then succeeds
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0u, (uintptr_t)p % 64);
	rtheap_default_info d2;
	ASSERT_EQ(0, rtheap_default_stats(&d2));
	EXPECT_EQ(d1.grow_calls + 1, d2.grow_calls);
	EXPECT_EQ(d1.grow_extents + 1, d2.grow_extents);
	EXPECT_EQ(extents + 1, rtt::stats(def).extents);
	// The new slab serves the next ones without waiting.
	void *q = kmem_cache_alloc(c, GFP_ATOMIC);
	EXPECT_NE(nullptr, q);

	kmem_cache_free(c, q);
	kmem_cache_free(c, p);
	EXPECT_EQ(0, kmem_cache_destroy(c));
	release(def, blocks);
	EXPECT_TRUE(rtt::heap_ok(def));
}

// ---- reserve pools ----

TEST_F(CompatSlab, PoolReserveGuaranteeAtExhaustion)
{
	kmem_cache_t *c = kmem_cache_create("elements", 200, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	const int min_nr = 4;
	mempool_t *pool = mempool_create_slab_pool(min_nr, c);
	ASSERT_NE(nullptr, pool);
	EXPECT_EQ((size_t)min_nr, pool_stats(pool).curr_nr) << "the reserve is filled at creation";
	EXPECT_EQ((size_t)min_nr, cache_stats(c).active_objs);

	// The heap exhausted and the cache drained: only the reserve is left.
	std::vector<void *> blocks = exhaust(&heap_);
	std::vector<void *> drained;
	while (void *p = kmem_cache_alloc(c, GFP_ATOMIC))
		drained.push_back(p);
	ASSERT_EQ(nullptr, kmem_cache_alloc(c, GFP_ATOMIC));

	std::vector<void *> got;
	for (int i = 0; i < min_nr; i++) {
		void *e = mempool_alloc(pool, GFP_ATOMIC);
		ASSERT_NE(nullptr, e) << "reserve element " << i;
		std::memset(e, 0x6B, 200);
		got.push_back(e);
		const rtpool_stats ps = pool_stats(pool);
		EXPECT_EQ((size_t)(min_nr - 1 - i), ps.curr_nr);
		EXPECT_EQ((size_t)(i + 1), ps.from_reserve);
	}
	EXPECT_EQ((size_t)min_nr, std::set<void *>(got.begin(), got.end()).size());

	// Reserve empty: GFP_ATOMIC fails cleanly, nothing changes.
	const rtheap_stats hs = rtt::stats(&heap_);
	const rtpool_stats ps0 = pool_stats(pool);
	errno = 0;
	EXPECT_EQ(nullptr, mempool_alloc(pool, GFP_ATOMIC));
	EXPECT_EQ(ENOMEM, errno);
	rtt::expect_same_stats(hs, rtt::stats(&heap_), "failed pool allocation", false);
	EXPECT_EQ(ps0.failures + 1, pool_stats(pool).failures);
	EXPECT_EQ(0u, pool_stats(pool).curr_nr);

	// A release refills the reserve first (the element does not go back to
	// the cache), and the next allocation takes it again.
	const size_t active = cache_stats(c).active_objs;
	mempool_free(got[1], pool);
	EXPECT_EQ(1u, pool_stats(pool).curr_nr);
	EXPECT_EQ(active, cache_stats(c).active_objs);
	EXPECT_EQ(got[1], mempool_alloc(pool, GFP_ATOMIC));
	EXPECT_EQ(0u, pool_stats(pool).curr_nr);

	// With an object free in the cache, the pool takes it first and leaves
	// the reserve alone.
	void *spare = drained.back();
	drained.pop_back();
	kmem_cache_free(c, spare);
	const size_t from_reserve = pool_stats(pool).from_reserve;
	void *fresh = mempool_alloc(pool, GFP_ATOMIC);
	EXPECT_EQ(spare, fresh);
	EXPECT_EQ(from_reserve, pool_stats(pool).from_reserve);
	got.push_back(fresh);

	// Releases fill the reserve up to min_nr; the one after goes back to
	// the cache.
	for (int i = 0; i < min_nr; i++)
		mempool_free(got[(size_t)i], pool);
	EXPECT_EQ((size_t)min_nr, pool_stats(pool).curr_nr);
	const size_t active2 = cache_stats(c).active_objs;
	mempool_free(got.back(), pool);
	EXPECT_EQ((size_t)min_nr, pool_stats(pool).curr_nr);
	EXPECT_EQ(active2 - 1, cache_stats(c).active_objs);

	for (void *p : drained)
		kmem_cache_free(c, p);
	release(&heap_, blocks);
	mempool_destroy(pool);
	EXPECT_EQ(0u, cache_stats(c).active_objs) << "destroy gives the reserve back";
	EXPECT_EQ(0, kmem_cache_destroy(c));
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatSlab, KernelPoolAllocationWaitsForARelease)
{
	kmem_cache_t *c = kmem_cache_create("waited", 64, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, c);
	mempool_t *pool = mempool_create(1, mempool_alloc_slab, mempool_free_slab, c);
	ASSERT_NE(nullptr, pool);
	std::vector<void *> blocks = exhaust(&heap_);
	std::vector<void *> drained;
	while (void *p = kmem_cache_alloc(c, GFP_ATOMIC))
		drained.push_back(p);
	void *e = mempool_alloc(pool, GFP_ATOMIC); // the reserve's one element
	ASSERT_NE(nullptr, e);
	ASSERT_EQ(nullptr, mempool_alloc(pool, GFP_ATOMIC));

	std::atomic<void *> got{nullptr};
	std::atomic<bool> done{false};
	std::thread waiter([&] {
		got = mempool_alloc(pool, GFP_KERNEL);
		done = true;
	});
	// Wait (without a time assertion) until the thread sleeps in the pool.
	for (int i = 0; i < 60000 && pool_stats(pool).waits == 0; i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	EXPECT_GE(pool_stats(pool).waits, 1u);
	EXPECT_FALSE(done.load()) << "GFP_KERNEL returned while nothing was available";
	mempool_free(e, pool);
	waiter.join();
	EXPECT_EQ(e, got.load());

	mempool_free(got.load(), pool);
	for (void *p : drained)
		kmem_cache_free(c, p);
	release(&heap_, blocks);
	mempool_destroy(pool);
	EXPECT_EQ(0, kmem_cache_destroy(c));
}

// Caller-supplied element functions: a budget of elements they may still
// hand out, the flags they were called with, what is outstanding.
struct Source {
	int budget = 0;
	std::vector<int> flags;
	std::set<void *> out;
	size_t frees = 0;
};

void *source_alloc(int gfp_mask, void *pool_data)
{
	Source *s = static_cast<Source *>(pool_data);
	s->flags.push_back(gfp_mask);
	if (s->budget <= 0)
		return nullptr;
	s->budget--;
	void *p = std::malloc(32);
	s->out.insert(p);
	return p;
}

void source_free(void *element, void *pool_data)
{
	Source *s = static_cast<Source *>(pool_data);
	s->frees++;
	if (s->out.erase(element))
		std::free(element);
}

TEST_F(CompatSlab, PoolOnCallerFunctionsCreateAllocResizeDestroy)
{
	Source src;
	src.budget = 3;
	mempool_t *pool = mempool_create(3, source_alloc, source_free, &src);
	ASSERT_NE(nullptr, pool);
	EXPECT_EQ(std::vector<int>(3, GFP_KERNEL), src.flags) << "filled with GFP_KERNEL";
	EXPECT_EQ(3u, src.out.size());

	// The functions are asked first, with GFP_ATOMIC; the reserve serves
	// when they have nothing.
	src.flags.clear();
	src.budget = 1;
	void *a = mempool_alloc(pool, GFP_ATOMIC);
	void *b = mempool_alloc(pool, GFP_ATOMIC);
	ASSERT_TRUE(a && b);
	EXPECT_EQ(std::vector<int>(2, GFP_ATOMIC), src.flags);
	EXPECT_EQ(2u, pool_stats(pool).curr_nr);
	EXPECT_EQ(1u, pool_stats(pool).from_reserve);

	// Resize up: new elements with GFP_KERNEL; with none to be had,
	// -ENOMEM and nothing changes.
	src.flags.clear();
	EXPECT_EQ(-ENOMEM, mempool_resize(pool, 6, GFP_KERNEL));
	EXPECT_EQ(3u, pool_stats(pool).min_nr);
	EXPECT_EQ(2u, pool_stats(pool).curr_nr);
	src.budget = 10;
	EXPECT_EQ(0, mempool_resize(pool, 6, GFP_ATOMIC));
	EXPECT_EQ(6u, pool_stats(pool).min_nr);
	EXPECT_GE(pool_stats(pool).curr_nr, 5u);
	for (int f : src.flags)
		EXPECT_EQ(GFP_KERNEL, f) << "a resize may wait, whatever its mask";
	// Resize down: the extra elements go back through the free function.
	const size_t frees = src.frees;
	EXPECT_EQ(0, mempool_resize(pool, 1, GFP_KERNEL));
	EXPECT_EQ(1u, pool_stats(pool).curr_nr);
	EXPECT_GT(src.frees, frees);

	mempool_free(a, pool);
	mempool_free(b, pool);
	mempool_free(nullptr, pool); // nothing happens
	mempool_destroy(pool);
	EXPECT_TRUE(src.out.empty()) << "every element given back: " << src.out.size();
}

TEST_F(CompatSlab, PoolBadArgumentsChangeNothing)
{
	Source src;
	src.budget = 100;
	const rtheap_stats before = rtt::stats(&heap_);
	errno = 0;
	EXPECT_EQ(nullptr, mempool_create(-1, source_alloc, source_free, &src));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, mempool_create(INT_MIN, source_alloc, source_free, &src));
	EXPECT_EQ(nullptr, mempool_create(2, nullptr, source_free, &src));
	EXPECT_EQ(nullptr, mempool_create(2, source_alloc, nullptr, &src));
	EXPECT_TRUE(src.flags.empty());
	rtt::expect_same_stats(before, rtt::stats(&heap_), "refused pool creation");

	mempool_t *pool = mempool_create(2, source_alloc, source_free, &src);
	ASSERT_NE(nullptr, pool);
	const rtpool_stats ps = pool_stats(pool);
	for (int gfp : {2, 4, -1, INT_MIN}) {
		errno = 0;
		EXPECT_EQ(nullptr, mempool_alloc(pool, gfp)) << gfp;
		EXPECT_EQ(EINVAL, errno) << gfp;
	}
	EXPECT_EQ(-EINVAL, mempool_resize(pool, -3, GFP_KERNEL));
	const rtpool_stats ps2 = pool_stats(pool);
	EXPECT_EQ(ps.curr_nr, ps2.curr_nr);
	EXPECT_EQ(ps.min_nr, ps2.min_nr);
	EXPECT_EQ(ps.allocs, ps2.allocs);
	EXPECT_EQ(ps.failures, ps2.failures);
	mempool_destroy(pool);
	EXPECT_TRUE(src.out.empty());
}

// ---- misuse ----

TEST_F(CompatSlab, MisuseIsReportedAndChangesNothing)
{
	kmem_cache_t *c = kmem_cache_create("victim", 48, 0, 0, nullptr, nullptr);
	kmem_cache_t *other = kmem_cache_create("other", 48, 0, 0, nullptr, nullptr);
	ASSERT_TRUE(c && other);
	char *a = static_cast<char *>(kmem_cache_alloc(c, GFP_KERNEL));
	char *b = static_cast<char *>(kmem_cache_alloc(c, GFP_KERNEL));
	void *theirs = kmem_cache_alloc(other, GFP_KERNEL);
	void *heap_block = rtheap_alloc(&heap_, 48);
	ASSERT_TRUE(a && b && theirs && heap_block);
	std::memset(a, 0x2E, 48);
	kmem_cache_free(c, b);
	int on_stack = 0;

	const std::vector<rtt::BadRelease> cases = {
	    {"foreign (the stack)", &on_stack, RTHEAP_ERR_FOREIGN},
	    {"a heap block", heap_block, RTHEAP_ERR_NOT_BLOCK},
	    {"interior pointer", a + 16, RTHEAP_ERR_NOT_BLOCK},
	    {"an object of another cache", theirs, RTHEAP_ERR_NOT_BLOCK},
	    {"double free", b, RTHEAP_ERR_DOUBLE_FREE},
	};
	rtt::expect_bad_releases(&heap_, c, misuse_, cases,
	                         [&](void *p) { kmem_cache_free(c, p); });
	for (int i = 0; i < 48; i++)
		EXPECT_EQ(0x2E, (unsigned char)a[i]);
	EXPECT_EQ(b, kmem_cache_alloc(c, GFP_ATOMIC)) << "b is still the next one";

	// A pool whose reserve is full hands a released element to the cache,
	// which catches a foreign one the same way.
	mempool_t *pool = mempool_create_slab_pool(1, c);
	ASSERT_NE(nullptr, pool);
	misuse_.clear();
	const rtheap_stats hs = rtt::stats(&heap_);
	mempool_free(&on_stack, pool);
	ASSERT_EQ(1u, misuse_.size());
	EXPECT_EQ(RTHEAP_ERR_FOREIGN, misuse_[0].kind);
	rtt::expect_same_stats(hs, rtt::stats(&heap_), "foreign element to a full pool");
	EXPECT_EQ(1u, pool_stats(pool).curr_nr);
	mempool_destroy(pool);

	misuse_.clear();
	kmem_cache_free(c, nullptr); // a no-op
	EXPECT_TRUE(misuse_.empty());
	kmem_cache_free(c, a);
	kmem_cache_free(c, b);
	kmem_cache_free(other, theirs);
	EXPECT_EQ(0, rtheap_free(&heap_, heap_block));
	EXPECT_EQ(0, kmem_cache_destroy(other));
	EXPECT_EQ(0, kmem_cache_destroy(c));
}

// The header compiles as C11 with -Wall -Wextra -Werror, and a C program
// of those calls behaves (test_compat_slab_c.c).
TEST_F(CompatSlab, CProgram)
{
	EXPECT_EQ(0, slab_c_program(&heap_));
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(0u, rtt::stats(&heap_).pages_owned);
}

} // namespace
