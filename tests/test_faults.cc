/* SPDX-License-Identifier: MIT */
// init / extend write only the extent header and the page map: over a fresh
// 1 GiB mapping they cost no more minor page faults than the map's pages,
// and none beyond a few with RTHEAP_F_ZEROED.
#include <sys/resource.h>

#include "test_common.h"

namespace {

constexpr size_t kGiB = (size_t)1 << 30;
constexpr long kSlack = 32; // faults of the test itself (stack, stats, ...)

long minflt()
{
	rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

long os_pages(size_t bytes)
{
	long ps = sysconf(_SC_PAGESIZE);
	return (long)((bytes + (size_t)ps - 1) / (size_t)ps);
}

// Pages of header + map for an extent of `size` bytes with page `page`.
long meta_pages(size_t size, size_t page)
{
	size_t npages = size / page;
	return os_pages(RTHEAP_EXTENT_HDR + npages * RTHEAP_MAP_BYTES(page)) + 1;
}

class Faults : public ::testing::TestWithParam<unsigned> {
protected:
	void SetUp() override
	{
		if (RTHEAP_TEST_SANITIZED)
			GTEST_SKIP() << "sanitizer shadow memory distorts page-fault counts";
	}
};

TEST_P(Faults, InitAndExtendTouchOnlyTheMap)
{
	const unsigned flags = GetParam();
	const size_t page = 256;
	rtt::Mapping a(kGiB, true), b(kGiB, true);
	ASSERT_TRUE(a.ok());
	ASSERT_TRUE(b.ok());
	auto h = rtt::new_heap();
	auto cfg = rtt::config(page, RTHEAP_LOCK_PI_MUTEX, flags);
	const long limit = (flags & RTHEAP_F_ZEROED) ? 16 : meta_pages(kGiB, page) + kSlack;
	rtheap_stats st;
	(void)rtheap_get_stats(h.get(), &st); // warm the code paths up
	(void)minflt();

	long f0 = minflt();
	ASSERT_EQ(0, rtheap_init(h.get(), a.data(), kGiB, &cfg));
	long f_init = minflt() - f0;

	f0 = minflt();
	ASSERT_EQ(0, rtheap_extend(h.get(), b.data(), kGiB, flags));
	long f_ext = minflt() - f0;

	std::printf("flags %u: minor faults init %ld, extend %ld (limit %ld; map alone %ld pages)\n",
	            flags, f_init, f_ext, limit, meta_pages(kGiB, page) - 1);
	EXPECT_LE(f_init, limit);
	EXPECT_LE(f_ext, limit);
	// The heap works, and a small allocation touches a few pages only.
	f0 = minflt();
	void *p = rtheap_alloc(h.get(), 100);
	void *q = rtheap_alloc(h.get(), 100000);
	long f_alloc = minflt() - f0;
	ASSERT_NE(nullptr, p);
	ASSERT_NE(nullptr, q);
	EXPECT_LE(f_alloc, 16);
	auto s = rtt::stats(h.get());
	EXPECT_EQ(2 * (kGiB - rtheap_overhead(kGiB, page)), s.usable);
	EXPECT_EQ(0, rtheap_free(h.get(), p));
	EXPECT_EQ(0, rtheap_free(h.get(), q));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

INSTANTIATE_TEST_SUITE_P(Flags, Faults, ::testing::Values(0u, (unsigned)RTHEAP_F_ZEROED));

} // namespace
