/* SPDX-License-Identifier: MIT */
// Per-thread caches, bounded time measured without clocks (the rtheap_steps
// variant counts the core's map accesses, list hops and scans): a fast-path
// call does no core step at all, and the worst call, a refill or a flush,
// does at most one batch of single heap operations, each within the core's
// own step bound, whatever the heap's size and history.
#include <algorithm>
#include <random>
#include <vector>

#include "rtheap/tcache.h"
#include "rtheap_steps.h"
#include "test_common.h"

using rtt::heap_ok;

namespace {

// test_steps.cc's bound of one rtheap_alloc / rtheap_free (free with one
// extent: no extent search to speak of).
constexpr unsigned long kStepBound = 32;

struct Max {
	unsigned long worst = 0;
	size_t calls = 0, zero = 0;
	void add(unsigned long s)
	{
		worst = std::max(worst, s);
		calls++;
		zero += s == 0;
	}
};

void run(size_t heap_bytes, unsigned batch, Max &m)
{
	rtt::Mapping map(RTHEAP_BUFFER_SIZE(heap_bytes, 256));
	rtheap_t h{};
	rtheap_config cfg = rtt::config(256, RTHEAP_LOCK_NONE);
	ASSERT_EQ(0, rtheap_init(&h, map.data(), map.size(), &cfg));
	rttcache_config tcfg;
	std::memset(&tcfg, 0, sizeof tcfg);
	tcfg.batch = batch;
	tcfg.depot = 2;
	rttcache_t *tc = rttcache_create(&h, &tcfg);
	ASSERT_NE(nullptr, tc);
	ASSERT_EQ(0, rttcache_thread_init(tc));
	// fragment the heap first: every other block of many sizes stays live
	std::vector<void *> keep, v;
	for (int i = 0; i < 4000; i++) {
		void *p = rtheap_alloc(&h, 16u << (i % 8));
		if (p && (i & 1)) {
			keep.push_back(p);
		} else if (p) {
			ASSERT_EQ(0, rtheap_free(&h, p));
		}
	}
	std::mt19937 rng(7);
	for (int i = 0; i < 200000; i++) {
		if (v.empty() || (rng() % 2 && v.size() < 2000)) {
			size_t req = 1 + rng() % 1024;
			rtheap_steps_reset();
			void *p = rttcache_alloc(tc, req);
			m.add(rtheap_steps_get());
			ASSERT_NE(nullptr, p);
			v.push_back(p);
		} else {
			size_t j = rng() % v.size();
			rtheap_steps_reset();
			ASSERT_EQ(0, rttcache_free(tc, v[j]));
			m.add(rtheap_steps_get());
			v[j] = v.back();
			v.pop_back();
		}
	}
	for (void *p : v)
		ASSERT_EQ(0, rttcache_free(tc, p));
	EXPECT_TRUE(heap_ok(&h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	for (void *p : keep)
		ASSERT_EQ(0, rtheap_free(&h, p));
	rtheap_destroy(&h, nullptr, nullptr);
}

TEST(TCacheSteps, WorstCallIsOneBatch)
{
	for (unsigned batch : {4u, 16u, 64u}) {
		Max small, large;
		run(8u << 20, batch, small);
		run(64u << 20, batch, large);
		// a fast-path call does no core step
		EXPECT_GT(small.zero * 10, small.calls * 8) << "most calls take the fast path";
		EXPECT_GT(large.zero * 10, large.calls * 8);
		// the worst: one batch of single operations (+1 for the view's
		// extent lookup of a first release from a new extent)
		EXPECT_LE(small.worst, batch * kStepBound + kStepBound) << "batch " << batch;
		EXPECT_LE(large.worst, batch * kStepBound + kStepBound) << "batch " << batch;
		EXPECT_GE(small.worst, batch) << "a refill does at least batch steps";
		RecordProperty("worst_steps_batch_" + std::to_string(batch),
		               (int)std::max(small.worst, large.worst));
		std::printf("batch %u: worst call %lu steps (8 MiB heap), %lu (64 MiB); "
		            "%.1f%% of calls without a core step\n", batch, small.worst,
		            large.worst, 100.0 * (double)large.zero / (double)large.calls);
	}
}

} // namespace
