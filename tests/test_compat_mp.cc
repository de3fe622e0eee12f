/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/mp.h with the per-connection memory pool
// of shared/docs/seed-systems.md (family 2): many pools per process, small
// requests bumped 16-byte aligned from chained blocks, a live count per
// block and reuse at zero, large requests of their own freed one by one or
// with the pool, calloc, free, reset (blocks kept), destroy (everything
// back), the monitor printout; plus the original's weak points beaten:
// bad releases are caught, reported and harmless.  Everything runs on the
// process default heap, as the header does.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "rtheap/compat/mp.h"
#include "rtheap/default.h"
#include "compat_common.h"
#include "test_common.h"

extern "C" int mp_c_program(void); // test_compat_mp_c.c

namespace {

// ---- the original's names and forms, at compile time ----
static_assert(std::is_same<decltype(&mp_create_pool), mp_pool_s *(*)(size_t)>::value,
              "mp_create_pool");
static_assert(std::is_same<decltype(&mp_destroy_pool), void (*)(mp_pool_s *)>::value,
              "mp_destroy_pool");
static_assert(std::is_same<decltype(&mp_malloc), void *(*)(mp_pool_s *, size_t)>::value,
              "mp_malloc");
static_assert(std::is_same<decltype(&mp_calloc), void *(*)(mp_pool_s *, size_t)>::value,
              "mp_calloc takes one size");
static_assert(std::is_same<decltype(&mp_free), void (*)(mp_pool_s *, void *)>::value, "mp_free");
static_assert(std::is_same<decltype(&mp_reset_pool), void (*)(mp_pool_s *)>::value,
              "mp_reset_pool");
static_assert(std::is_same<decltype(&monitor_mp_poll), void (*)(mp_pool_s *, char *)>::value,
              "monitor_mp_poll");
static_assert(MP_ALIGNMENT == 16 && MP_PAGE_SIZE == 4096, "the original's alignment and block");

// A small default heap without its helper: only RTREGION_GROW makes it grow.
const int default_setup_rc =
    rtheap_default_setup(256u << 10, 256u << 10, 0, RTHEAP_DEFAULT_NOHELPER);

rtregion_stats rs(mp_pool_s *p)
{
	rtregion_stats st;
	std::memset(&st, 0, sizeof st);
	EXPECT_EQ(0, rtregion_get_stats(reinterpret_cast<rtregion_t *>(p), &st));
	return st;
}

class CompatMp : public ::testing::Test {
protected:
	rtheap_t *heap_ = nullptr;
	std::vector<rtt::Misuse> misuse_;
	rtheap_stats before_{};

	void SetUp() override
	{
		ASSERT_EQ(0, default_setup_rc == -EBUSY ? 0 : default_setup_rc);
		heap_ = rtheap_default();
		ASSERT_NE(nullptr, heap_);
		ASSERT_EQ(0, rtheap_set_error_handler(heap_, rtt::record_misuse, &misuse_));
		before_ = rtt::stats(heap_);
	}
	void TearDown() override
	{
		EXPECT_TRUE(rtt::heap_ok(heap_));
		const rtheap_stats after = rtt::stats(heap_);
		EXPECT_EQ(before_.live_blocks, after.live_blocks) << "every pool gave everything back";
		EXPECT_EQ(before_.used, after.used);
		ASSERT_EQ(0, rtheap_set_error_handler(heap_, nullptr, nullptr));
	}
};

bool aligned16(const void *p)
{
	return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

TEST_F(CompatMp, BlockSizeIsTheOriginalsAndPoolsLiveOnTheDefaultHeap)
{
	struct {
		size_t size, block;
	} cases[] = {{0, 4096}, {100, 4096}, {4096, 4096}, {5000, 4096}, {8192, 8192},
	             {12288, 16384}};
	for (auto c : cases) {
		mp_pool_s *p = mp_create_pool(c.size);
		ASSERT_NE(nullptr, p) << c.size;
		EXPECT_EQ(c.block, rs(p).block_size) << c.size;
		void *a = mp_malloc(p, 10);
		ASSERT_NE(nullptr, a);
		EXPECT_EQ(-EINVAL, rtheap_check_block(heap_, reinterpret_cast<void *>(
		                                          reinterpret_cast<uintptr_t>(a) & ~(c.block - 1))))
		    << "inside the default heap (an owned run: no heap block of its own)";
		mp_destroy_pool(p);
	}
}

TEST_F(CompatMp, ManyPoolsPerProcessAreIndependent)
{
	std::vector<mp_pool_s *> pools;
	std::vector<std::vector<char *>> got(64);
	for (int i = 0; i < 64; i++) {
		pools.push_back(mp_create_pool(MP_PAGE_SIZE));
		ASSERT_NE(nullptr, pools.back());
	}
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 64; i++) {
			char *p = static_cast<char *>(mp_malloc(pools[size_t(i)], size_t(8 + round)));
			ASSERT_NE(nullptr, p);
			std::memset(p, i, size_t(8 + round));
			got[size_t(i)].push_back(p);
		}
	for (int i = 0; i < 64; i++) {
		for (char *p : got[size_t(i)])
			ASSERT_EQ(char(i), *p);
		EXPECT_EQ(20u, rs(pools[size_t(i)]).live_small);
	}
	mp_free(pools[0], got[1][0]); // another pool's: refused, reported
	EXPECT_EQ(1u, misuse_.size());
	EXPECT_EQ(20u, rs(pools[1]).live_small);
	for (mp_pool_s *p : pools)
		mp_destroy_pool(p);
}

TEST_F(CompatMp, SmallRequestsAreBumpedAndANewBlockIsChainedWhenFull)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	char *a = static_cast<char *>(mp_malloc(p, 1));
	char *b = static_cast<char *>(mp_malloc(p, 17));
	char *c = static_cast<char *>(mp_malloc(p, 16));
	ASSERT_TRUE(a && b && c && aligned16(a) && aligned16(b) && aligned16(c));
	EXPECT_EQ(a + 16, b);
	EXPECT_EQ(b + 32, c);
	EXPECT_EQ(1u, rs(p).blocks);
	const size_t room = rs(p).small_max - 64;
	ASSERT_NE(nullptr, mp_malloc(p, room)); // exactly the rest
	EXPECT_EQ(1u, rs(p).blocks);
	ASSERT_NE(nullptr, mp_malloc(p, 1));
	EXPECT_EQ(2u, rs(p).blocks) << "full: a new block";
	mp_destroy_pool(p);
}

TEST_F(CompatMp, ABlockIsReusableWhenItsLiveCountDropsToZero)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	std::vector<void *> first;
	while (rs(p).blocks == 1)
		first.push_back(mp_malloc(p, 500));
	void *in_second = first.back();
	first.pop_back();
	for (void *q : first)
		mp_free(p, q);
	EXPECT_EQ(1u, rs(p).reusable_blocks);
	while (rs(p).reusable_blocks == 1)
		ASSERT_NE(nullptr, mp_malloc(p, 500));
	EXPECT_EQ(2u, rs(p).blocks) << "the emptied block served, none was added";
	mp_free(p, in_second);
	EXPECT_TRUE(misuse_.empty());
	mp_destroy_pool(p);
}

TEST_F(CompatMp, LargeRequestsAreFreedOneByOneOrWithThePool)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	std::vector<char *> big;
	for (size_t n : {size_t(5000), size_t(9000), size_t(30000)}) {
		char *q = static_cast<char *>(mp_malloc(p, n));
		ASSERT_TRUE(q && aligned16(q));
		std::memset(q, 0x3c, n);
		big.push_back(q);
	}
	EXPECT_EQ(3u, rs(p).large);
	mp_free(p, big[0]);
	EXPECT_EQ(2u, rs(p).large);
	EXPECT_TRUE(misuse_.empty());
	mp_destroy_pool(p); // the other two go with the pool (TearDown checks)
}

TEST_F(CompatMp, CallocZeroesSmallAndLarge)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	for (int round = 0; round < 3; round++) {
		for (size_t n : {size_t(1), size_t(100), size_t(3000), size_t(6000)}) {
			unsigned char *q = static_cast<unsigned char *>(mp_calloc(p, n));
			ASSERT_NE(nullptr, q);
			for (size_t i = 0; i < n; i++)
				ASSERT_EQ(0, q[i]) << n << " at " << i;
			std::memset(q, 0xff, n); // dirty for the next round
		}
		mp_reset_pool(p);
	}
	EXPECT_EQ(nullptr, mp_calloc(p, 0));
	mp_destroy_pool(p);
}

TEST_F(CompatMp, ResetDropsEverythingAndKeepsTheBlocks)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	void *first = mp_malloc(p, 64);
	for (int i = 0; i < 200; i++)
		ASSERT_NE(nullptr, mp_malloc(p, 100));
	ASSERT_NE(nullptr, mp_malloc(p, 10000));
	const size_t blocks = rs(p).blocks;
	const size_t used = rtt::stats(heap_).used;
	mp_reset_pool(p);
	EXPECT_EQ(blocks, rs(p).blocks);
	EXPECT_EQ(0u, rs(p).live_small);
	EXPECT_EQ(0u, rs(p).large);
	EXPECT_GT(used, rtt::stats(heap_).used) << "the large one went back";
	EXPECT_EQ(first, mp_malloc(p, 64)) << "starts over in the kept blocks";
	mp_destroy_pool(p);
}

TEST_F(CompatMp, MonitorPrintsUsedFreeCountAndFailuresPerBlockThenLarge)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	ASSERT_NE(nullptr, mp_malloc(p, 3000));
	ASSERT_NE(nullptr, mp_malloc(p, 3000)); // does not fit: block 1 failed once
	ASSERT_NE(nullptr, mp_malloc(p, 8000));
	char title[] = "request 7";
	testing::internal::CaptureStdout();
	monitor_mp_poll(p, title);
	std::fflush(stdout);
	const std::string out = testing::internal::GetCapturedStdout();
	EXPECT_NE(std::string::npos, out.find("request 7")) << out;
	const size_t hdr = rs(p).block_header;
	char want[128];
	std::snprintf(want, sizeof want, "used %6u free %6u live %5u failures %4u\n", 3008u,
	              unsigned(4096 - hdr - 3008), 1u, 1u);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	std::snprintf(want, sizeof want, "used %6u free %6u live %5u failures %4u  current",
	              3008u, unsigned(4096 - hdr - 3008), 1u, 0u);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	EXPECT_NE(std::string::npos, out.find("size 8000")) << out;
	mp_destroy_pool(p);
}

// The original ignores a pointer it does not know; here each is reported
// once, with its kind, and changes nothing.
TEST_F(CompatMp, BadReleasesAreReportedAndChangeNothing)
{
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	mp_pool_s *q = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_TRUE(p && q);
	char *a = static_cast<char *>(mp_malloc(p, 32));
	char *big = static_cast<char *>(mp_malloc(p, 9000));
	char *theirs = static_cast<char *>(mp_malloc(q, 32));
	void *heap_block = rtheap_alloc(heap_, 64);
	int local = 0;
	mp_free(p, a);
	struct {
		const char *what;
		void *ptr;
		rtheap_error_kind_t kind;
	} cases[] = {
	    {"foreign", &local, RTHEAP_ERR_FOREIGN},
	    {"heap block", heap_block, RTHEAP_ERR_NOT_BLOCK},
	    {"another pool's", theirs, RTHEAP_ERR_NOT_BLOCK},
	    {"interior of a large", big + 32, RTHEAP_ERR_NOT_BLOCK},
	    {"double free", a, RTHEAP_ERR_DOUBLE_FREE},
	};
	for (auto &c : cases) {
		const rtregion_stats s0 = rs(p);
		const rtheap_stats h0 = rtt::stats(heap_);
		misuse_.clear();
		mp_free(p, c.ptr);
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.ptr, misuse_[0].addr) << c.what;
		const rtregion_stats s1 = rs(p);
		EXPECT_EQ(s0.live_small, s1.live_small) << c.what;
		EXPECT_EQ(s0.large, s1.large) << c.what;
		EXPECT_EQ(s0.misuse + 1, s1.misuse) << c.what;
		rtt::expect_same_stats(h0, rtt::stats(heap_), c.what);
	}
	misuse_.clear();
	mp_free(p, nullptr);
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(0, rtheap_free(heap_, heap_block));
	mp_destroy_pool(q);
	mp_destroy_pool(p);
}

TEST_F(CompatMp, ThePoolGrowsTheDefaultHeapOnDemand)
{
	rtheap_default_info d0;
	ASSERT_EQ(0, rtheap_default_stats(&d0));
	mp_pool_s *p = mp_create_pool(MP_PAGE_SIZE);
	ASSERT_NE(nullptr, p);
	const size_t want = 2 * d0.bytes_mapped; // more than the heap holds now
	size_t got = 0;
	while (got < want) {
		ASSERT_NE(nullptr, mp_malloc(p, 2000)) << got;
		got += 2000;
	}
	ASSERT_NE(nullptr, mp_malloc(p, d0.bytes_mapped)) << "a large one beyond the heap too";
	rtheap_default_info d1;
	ASSERT_EQ(0, rtheap_default_stats(&d1));
	EXPECT_GT(d1.grow_calls, d0.grow_calls);
	EXPECT_GT(d1.bytes_mapped, d0.bytes_mapped);
	EXPECT_EQ(0u, rs(p).failures);
	mp_destroy_pool(p);
}

TEST_F(CompatMp, CProgram)
{
	testing::internal::CaptureStdout();
	EXPECT_EQ(0, mp_c_program());
	std::fflush(stdout);
	const std::string out = testing::internal::GetCapturedStdout();
	EXPECT_NE(std::string::npos, out.find("c program")) << out;
	EXPECT_TRUE(misuse_.empty());
}

} // namespace
