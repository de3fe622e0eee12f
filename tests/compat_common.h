/* SPDX-License-Identifier: MIT */
// Shared by the conformance tests of the compatibility headers
// (test_compat_mi_mem.cc, test_compat_slab.cc): the misuse recorder and
// the check that a bad release through a compatibility call is reported
// exactly and changes nothing.
#ifndef RTHEAP_COMPAT_COMMON_H
#define RTHEAP_COMPAT_COMMON_H

#include <vector>

#include "rtheap/cache.h"
#include "test_common.h"

namespace rtt {

struct Misuse {
	rtheap_error_kind_t kind;
	const void *addr;
};

// Error callback: appends (kind, address) to the std::vector<Misuse> arg.
inline void record_misuse(rtheap_t *, rtheap_error_kind_t kind, const void *addr,
                          void *arg)
{
	static_cast<std::vector<Misuse> *>(arg)->push_back({kind, addr});
}

struct BadRelease {
	const char *what;
	void *p;
	rtheap_error_kind_t kind;
};

// Each case released through release(p) (a compatibility call that
// returns nothing): exactly one misuse of its kind and address reported,
// the heap's statistics unchanged but errors + 1, the cache's live
// objects, releases and slabs unchanged.
template <class Release>
void expect_bad_releases(rtheap_t *heap, rtcache_t *cache, std::vector<Misuse> &misuse,
                         const std::vector<BadRelease> &cases, Release release)
{
	for (const BadRelease &c : cases) {
		const rtheap_stats hs = stats(heap);
		rtcache_stats cs{}, cs2{};
		ASSERT_EQ(0, rtcache_get_stats(cache, &cs));
		misuse.clear();
		release(c.p);
		ASSERT_EQ(1u, misuse.size()) << c.what;
		EXPECT_EQ(c.kind, misuse[0].kind) << c.what;
		EXPECT_EQ(c.p, misuse[0].addr) << c.what;
		const rtheap_stats hs2 = stats(heap);
		expect_same_stats(hs, hs2, c.what);
		EXPECT_EQ(hs.errors + 1, hs2.errors) << c.what;
		ASSERT_EQ(0, rtcache_get_stats(cache, &cs2));
		EXPECT_EQ(cs.active_objs, cs2.active_objs) << c.what;
		EXPECT_EQ(cs.frees, cs2.frees) << c.what;
		EXPECT_EQ(cs.total_slabs, cs2.total_slabs) << c.what;
	}
}

// Every test runs on a heap of its own (4 MiB, 4 KiB pages, the default
// priority-inheritance lock), made the current heap of the interface by
// SetHeap (mi_mem_set_heap, kmem_set_heap); misuse is recorded in misuse_.
template <void (*SetHeap)(rtheap_t *)>
class CompatHeapTest : public ::testing::Test {
protected:
	static constexpr size_t kSize = 4u << 20;
	Mapping mem_{kSize};
	rtheap_t heap_{};
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		rtheap_config cfg = config(4096, RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(&heap_, mem_.data(), kSize, &cfg));
		ASSERT_EQ(0, rtheap_set_error_handler(&heap_, record_misuse, &misuse_));
		SetHeap(&heap_);
	}
	void TearDown() override
	{
		EXPECT_TRUE(heap_ok(&heap_));
		SetHeap(nullptr);
		rtheap_destroy(&heap_, nullptr, nullptr);
	}
};

} // namespace rtt

#endif
