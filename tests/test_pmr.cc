// SPDX-License-Identifier: MIT
// rtheap::memory_resource (rtheap/memory_resource.hpp): std::pmr containers
// and resources over an rtheap, alignment, exhaustion, equality, and that
// the heap stays consistent and is empty again at the end.
#include <rtheap/memory_resource.hpp>

#include <algorithm>
#include <memory_resource>
#include <string>
#include <string_view>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

constexpr size_t kHeap = 2 * 1024 * 1024;

class Pmr : public ::testing::TestWithParam<size_t> {
protected:
	size_t page() const { return GetParam(); }
	rtt::Mapping mem_{kHeap};
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	rtheap_t *h() { return h_.get(); }

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		auto cfg = rtt::config(page(), RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(h(), mem_.data(), kHeap, &cfg));
	}
	void TearDown() override
	{
		// Everything released, heap consistent.
		auto st = rtt::stats(h());
		EXPECT_EQ(0u, st.used);
		EXPECT_EQ(0u, st.live_blocks);
		EXPECT_EQ(0u, st.errors);
		EXPECT_TRUE(heap_ok(h()));
		EXPECT_EQ(0, rtheap_destroy(h(), nullptr, nullptr));
	}
};

TEST_P(Pmr, VectorAndStringUseTheHeap)
{
	rtheap::memory_resource mr(h());
	EXPECT_EQ(h(), mr.heap());
	{
		std::pmr::vector<int> v(&mr);
		for (int i = 0; i < 10000; i++)
			v.push_back(i * 7);
		EXPECT_EQ(0, rtheap_check_block(h(), v.data()));
		EXPECT_GE(rtheap_usable_size(h(), v.data()), v.capacity() * sizeof(int));
		std::pmr::vector<std::pmr::string> words(&mr);
		for (int i = 0; i < 300; i++)
			words.emplace_back(std::string(static_cast<size_t>(40 + i % 200), 'a' + (char)(i % 26)));
		// Strings allocate from the container's resource (uses-allocator).
		for (const auto &w : words) {
			EXPECT_EQ(&mr, w.get_allocator().resource());
			EXPECT_EQ(0, rtheap_check_block(h(), w.data()));
		}
		auto st = rtt::stats(h());
		EXPECT_GE(st.used, 10000 * sizeof(int) + 300 * 40);
		EXPECT_GE(st.live_blocks, 302u);
		EXPECT_TRUE(heap_ok(h()));
		for (int i = 0; i < 10000; i++)
			ASSERT_EQ(i * 7, v[static_cast<size_t>(i)]);
		for (int i = 0; i < 300; i++)
			ASSERT_EQ(static_cast<size_t>(40 + i % 200), words[static_cast<size_t>(i)].size());
	}
	EXPECT_EQ(0u, rtt::stats(h()).used);
}

TEST_P(Pmr, MonotonicBufferUpstream)
{
	rtheap::memory_resource mr(h());
	std::pmr::monotonic_buffer_resource arena(4096, &mr);
	EXPECT_EQ(&mr, arena.upstream_resource());
	{
		std::pmr::vector<std::pmr::string> v(&arena);
		for (int i = 0; i < 2000; i++)
			v.emplace_back(std::string(100, 'x'));
		for (const auto &s : v)
			ASSERT_EQ(std::string(100, 'x'), std::string_view(s));
	}
	// The arena took its chunks from the heap and keeps them until release.
	EXPECT_GT(rtt::stats(h()).used, 2000u * 100u);
	EXPECT_TRUE(heap_ok(h()));
	arena.release();
	EXPECT_EQ(0u, rtt::stats(h()).used);
}

TEST_P(Pmr, AlignmentIsHonoured)
{
	rtheap::memory_resource mr(h());
	struct Block {
		void *p;
		size_t bytes, align;
	};
	std::vector<Block> live;
	const size_t sizes[] = {1, 8, 24, 100, page() / 2, page() - 1, page(), 3 * page() + 5};
	for (size_t a = 1; a <= 16 * page(); a *= 2) {
		for (size_t n : sizes) {
			void *p = mr.allocate(n, a);
			ASSERT_NE(nullptr, p);
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % a) << "bytes " << n << " align " << a;
			// Every alignment is served by one block, with no hidden
			// header: the pointer is its start, and it costs no more
			// than rtheap_alloc_aligned's rounding.
			EXPECT_EQ(0, rtheap_check_block(h(), p)) << "bytes " << n << " align " << a;
			const size_t want = a <= page() ? rtt::expected_round(n < a ? a : n, page())
			                                : (n + page() - 1) / page() * page();
			EXPECT_EQ(std::max(want, rtt::expected_round(n, page())),
			          rtheap_usable_size(h(), p)) << "bytes " << n << " align " << a;
			rtt::fill(p, n, n * 131 + a);
			live.push_back(Block{p, n, a});
		}
	}
	EXPECT_EQ(0u, rtt::stats(h()).failed_allocs);
	// Zero bytes: a distinct, valid address.
	void *z1 = mr.allocate(0, 1);
	void *z2 = mr.allocate(0, 64);
	ASSERT_TRUE(z1 && z2);
	EXPECT_NE(z1, z2);
	EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(z2) % 64);
	EXPECT_TRUE(heap_ok(h()));
	for (const Block &b : live) {
		EXPECT_EQ(SIZE_MAX, rtt::verify(b.p, b.bytes, b.bytes * 131 + b.align))
		    << "bytes " << b.bytes << " align " << b.align;
	}
	// Released through another resource over the same heap: they are equal.
	rtheap::memory_resource other(h());
	for (const Block &b : live)
		other.deallocate(b.p, b.bytes, b.align);
	mr.deallocate(z1, 0, 1);
	mr.deallocate(z2, 0, 64);
}

TEST_P(Pmr, BadAlignmentIsRefused)
{
	rtheap::memory_resource mr(h());
	EXPECT_EQ(nullptr, mr.try_allocate(16, 3));
	EXPECT_EQ(nullptr, mr.try_allocate(16, 0));
	EXPECT_EQ(nullptr, mr.try_allocate(16, 48));
	// Through a variable: compilers reject a constant non-power-of-two
	// alignment at a pmr allocate() call (alloc_align attribute).
	volatile size_t bad = 24;
	EXPECT_THROW((void)mr.allocate(16, bad), std::bad_alloc);
	EXPECT_EQ(0u, rtt::stats(h()).failed_allocs); // refused before the heap
}


TEST_P(Pmr, ExhaustionThrowsBadAlloc)
{
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	rtheap::memory_resource mr(h());
	EXPECT_THROW((void)mr.allocate(2 * kHeap), std::bad_alloc);
	ASSERT_EQ(1u, low.requests.size());
	EXPECT_EQ(2 * kHeap, low.requests.back());
	EXPECT_EQ(1u, rtt::stats(h()).failed_allocs);
	// The non-throwing variant, and a size that overflows with the padding.
	EXPECT_EQ(nullptr, mr.try_allocate(2 * kHeap));
	// (through a variable: compilers reject a constant size above half
	// the address space at an alloc_size function)
	volatile size_t huge = SIZE_MAX - 8;
	EXPECT_EQ(nullptr, mr.try_allocate(huge, 2 * page()));
	EXPECT_EQ(nullptr, mr.try_allocate(page(), SIZE_MAX / 4 + 1));
	EXPECT_EQ(4u, rtt::stats(h()).failed_allocs); // counted, as any too large request
	{
		// A container that outgrows the heap: bad_alloc, and the container
		// keeps what it had (strong guarantee of push_back).
		std::pmr::vector<uint64_t> v(&mr);
		size_t n = 0;
		bool threw = false;
		try {
			for (;; n++)
				v.push_back(n);
		} catch (const std::bad_alloc &) {
			threw = true;
		}
		EXPECT_TRUE(threw);
		ASSERT_EQ(n, v.size());
		EXPECT_GT(n * sizeof(uint64_t), kHeap / 8);
		for (size_t i = 0; i < n; i++)
			ASSERT_EQ(i, v[i]);
		EXPECT_TRUE(heap_ok(h()));
	}
	EXPECT_GE(low.requests.size(), 3u);
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
}

TEST_P(Pmr, EqualityIsSameHeap)
{
	rtt::Mapping mem2(kHeap);
	auto h2 = rtt::new_heap();
	ASSERT_EQ(0, rtheap_init(h2.get(), mem2.data(), kHeap, nullptr));
	rtheap::memory_resource a(h()), b(h()), c(h2.get());
	rtheap::memory_resource a2 = a;
	EXPECT_TRUE(a == a);
	EXPECT_TRUE(a == b);
	EXPECT_TRUE(a == a2);
	EXPECT_FALSE(a == c);
	EXPECT_FALSE(a == *std::pmr::new_delete_resource());
	EXPECT_FALSE(*std::pmr::new_delete_resource() == a);
	// Containers over equal resources exchange storage on move assignment.
	std::pmr::vector<int> v1({1, 2, 3}, &a), v2(&b), v3(&c);
	const int *data = v1.data();
	v2 = std::move(v1);
	EXPECT_EQ(data, v2.data());
	v3 = std::move(v2); // unequal: copies into h2
	EXPECT_NE(data, v3.data());
	EXPECT_EQ(0, rtheap_check_block(h2.get(), v3.data()));
	v3 = std::pmr::vector<int>(&c);
	v3.shrink_to_fit();
	EXPECT_EQ(0u, rtt::stats(h2.get()).used);
	EXPECT_EQ(0, rtheap_destroy(h2.get(), nullptr, nullptr));
}

TEST(PmrUnusable, DestroyedHeapGivesNothing)
{
	rtt::Mapping mem(kHeap);
	auto h = rtt::new_heap();
	rtheap::memory_resource mr(h.get()); // zero-filled descriptor
	EXPECT_EQ(nullptr, mr.try_allocate(64));
	EXPECT_THROW((void)mr.allocate(64), std::bad_alloc);
	ASSERT_EQ(0, rtheap_init(h.get(), mem.data(), kHeap, nullptr));
	void *p = mr.allocate(64);
	EXPECT_EQ(0, rtheap_check_block(h.get(), p));
	mr.deallocate(p, 64);
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	EXPECT_EQ(nullptr, mr.try_allocate(64));
}

INSTANTIATE_TEST_SUITE_P(Pages, Pmr, ::testing::Values(size_t{256}, size_t{4096}));

} // namespace
