/* SPDX-License-Identifier: MIT */
// AddressSanitizer integration: in an ASan build the heap poisons free
// blocks and free pages, so that touching them inside an rtheap heap is
// reported by ASan (as use-after-poison: manual poisoning carries no
// allocation stacks).  Each case runs in a death-test child process and
// expects ASan's report on its stderr.
//
// Meaningful only in an ASan build (RTHEAP_SANITIZE=address or
// address,undefined); elsewhere every test is skipped with a message.  (A
// program built with -fsanitize=address against the default library is
// covered by tests/checkers.)

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rtheap/rtheap.h"

#include "../test_common.h"

namespace {

// What ASan prints for an access to memory the heap poisoned.
constexpr const char *kAsanReport =
	"AddressSanitizer: (use-after-poison|heap-use-after-free|heap-buffer-overflow)";

alignas(32768) unsigned char g_buf[256 * 1024];

// Volatile accesses so that the compiler keeps them.  The pointer goes
// through a volatile variable so that the compiler forgets the block size it
// learnt from rtheap_alloc's alloc_size attribute (-Warray-bounds would
// reject the deliberate out-of-bounds accesses).
void poke(void *p, size_t off)
{
	void *volatile opaque = p;
	static_cast<volatile unsigned char *>(opaque)[off] = 0x42;
}
unsigned char peek(const void *p, size_t off)
{
	const void *volatile opaque = p;
	return static_cast<const volatile unsigned char *>(opaque)[off];
}

class Asan : public ::testing::TestWithParam<size_t> {
protected:
	rtheap_t heap{};
	void SetUp() override
	{
		if (!RTHEAP_TEST_ASAN)
			GTEST_SKIP() << "not an ASan build: configure with -DRTHEAP_SANITIZE=address";
		GTEST_FLAG_SET(death_test_style, "threadsafe");
		struct rtheap_config cfg{};
		cfg.page_size = GetParam();
		ASSERT_EQ(rtheap_init(&heap, g_buf, sizeof g_buf, &cfg), 0);
	}
	void TearDown() override
	{
		if (RTHEAP_TEST_ASAN)
			rtheap_destroy(&heap, nullptr, nullptr);
	}
	size_t P() const { return rtheap_page_size(&heap); }
};

TEST_P(Asan, LiveBlocksAreAccessible)
{
	// No false positives: every byte of live blocks of every kind is usable.
	for (size_t sz : {size_t{16}, size_t{48}, size_t{200}, P() / 2, P(), 3 * P() + 5}) {
		auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, sz));
		ASSERT_NE(p, nullptr);
		std::memset(p, 0x11, sz);
		auto *z = static_cast<unsigned char *>(rtheap_zalloc(&heap, sz));
		ASSERT_NE(z, nullptr);
		for (size_t i = 0; i < sz; i++)
			ASSERT_EQ(z[i], 0);
		ASSERT_EQ(rtheap_free(&heap, p), 0);
		ASSERT_EQ(rtheap_free(&heap, z), 0);
	}
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

TEST_P(Asan, ReadAfterFreeBucketBlock)
{
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	auto *keep = rtheap_alloc(&heap, 64); // keeps the bucket page in use
	ASSERT_NE(p, nullptr);
	ASSERT_NE(keep, nullptr);
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	EXPECT_DEATH((void)peek(p, 40), kAsanReport);
}

TEST_P(Asan, WriteAfterFreeBucketBlock)
{
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 32));
	auto *keep = rtheap_alloc(&heap, 32);
	ASSERT_NE(p, nullptr);
	ASSERT_NE(keep, nullptr);
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	EXPECT_DEATH(poke(p, 20), kAsanReport);
}

TEST_P(Asan, UseAfterFreeRun)
{
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 3 * P()));
	ASSERT_NE(p, nullptr);
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	EXPECT_DEATH((void)peek(p, 0), kAsanReport);
	EXPECT_DEATH(poke(p, 2 * P() + 7), kAsanReport);
}

TEST_P(Asan, OverflowIntoFreeNeighbourBlock)
{
	// Two neighbouring blocks of one class; the second is freed, so writing
	// one byte past the end of the first lands in free (poisoned) memory.
	auto *a = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	auto *b = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	ASSERT_NE(a, nullptr);
	ASSERT_NE(b, nullptr);
	unsigned char *first = a < b ? a : b;
	unsigned char *second = a < b ? b : a;
	ASSERT_EQ(static_cast<size_t>(second - first), 64u) << "blocks not adjacent";
	ASSERT_EQ(rtheap_free(&heap, second), 0);
	std::memset(first, 0, 64);
	EXPECT_DEATH(poke(first, 64), kAsanReport);
}

TEST_P(Asan, OverflowOutOfRunIntoFreePage)
{
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 2 * P()));
	ASSERT_NE(p, nullptr);
	std::memset(p, 0, 2 * P());
	// The page after the run is free in a fresh heap.
	ASSERT_EQ(rtheap_check_block(&heap, p + 2 * P()), -EINVAL);
	EXPECT_DEATH(poke(p, 2 * P()), kAsanReport);
}

TEST_P(Asan, FreshPagesArePoisoned)
{
	// Never-allocated memory of the page array is poisoned from init on.
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, P()));
	ASSERT_NE(p, nullptr);
	EXPECT_DEATH((void)peek(p, 8 * P()), kAsanReport);
}

// The heap's own list words live in free memory: the node of a bucket page
// (the first 16 bytes of one free block) and the node of a free run (the
// start of its first page).  The heap opens them only while it touches them
// (hooks.h hook_open/hook_close): afterwards they are poisoned again.
TEST_P(Asan, NodeWordsOfFreedBucketBlock)
{
	// A full page of 64-byte blocks, then one freed: the page goes on its
	// class list with the node in that block.
	const size_t n = P() / 64;
	std::vector<unsigned char *> blk;
	for (size_t i = 0; i < n; i++) {
		blk.push_back(static_cast<unsigned char *>(rtheap_alloc(&heap, 64)));
		ASSERT_NE(blk.back(), nullptr);
		ASSERT_EQ(reinterpret_cast<uintptr_t>(blk.back()) / P(),
		          reinterpret_cast<uintptr_t>(blk[0]) / P()) << "one page";
	}
	unsigned char *p = blk[n / 2];
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	EXPECT_DEATH((void)peek(p, 0), kAsanReport);
	EXPECT_DEATH((void)peek(p, 8), kAsanReport);
	EXPECT_DEATH(poke(p, 15), kAsanReport);
	// taken again: open to its owner
	EXPECT_EQ(rtheap_alloc(&heap, 64), static_cast<void *>(p));
	poke(p, 0);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

TEST_P(Asan, NodeWordsOfFreedRun)
{
	// A guard after the run, so that the free run does not end the extent
	// (its node would be in the extent header) and keeps its node in its
	// first page.
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 3 * P()));
	void *guard = rtheap_alloc(&heap, P());
	ASSERT_NE(p, nullptr);
	ASSERT_NE(guard, nullptr);
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	EXPECT_DEATH((void)peek(p, 0), kAsanReport);
	EXPECT_DEATH((void)peek(p, 16), kAsanReport);
	EXPECT_DEATH(poke(p, 24), kAsanReport);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

TEST_P(Asan, DebugFilledFreedMemory)
{
	// With debug fill the heap writes the freed pattern into free memory
	// (opening it): it must close it again.
	rtheap_destroy(&heap, nullptr, nullptr);
	struct rtheap_config cfg{};
	cfg.page_size = GetParam();
	cfg.flags = RTHEAP_F_DEBUG_FILL;
	ASSERT_EQ(rtheap_init(&heap, g_buf, sizeof g_buf, &cfg), 0);
	auto *small = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	void *keep = rtheap_alloc(&heap, 64);
	auto *run = static_cast<unsigned char *>(rtheap_alloc(&heap, 2 * P()));
	void *guard = rtheap_alloc(&heap, P());
	ASSERT_TRUE(small && keep && run && guard);
	ASSERT_EQ(rtheap_free(&heap, small), 0);
	ASSERT_EQ(rtheap_free(&heap, run), 0);
	EXPECT_DEATH((void)peek(small, 40), kAsanReport);
	EXPECT_DEATH((void)peek(small, 0), kAsanReport);
	EXPECT_DEATH((void)peek(run, P() + 5), kAsanReport);
	EXPECT_DEATH((void)peek(run, 0), kAsanReport);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

INSTANTIATE_TEST_SUITE_P(Pages, Asan, ::testing::Values(256, 4096));

} // namespace
