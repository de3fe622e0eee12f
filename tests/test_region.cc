/* SPDX-License-Identifier: MIT */
// Region pools (rtheap/region.h): block size and alignment, bump
// allocation, reuse of a block whose live count drops to zero, large
// allocations, every bad release (docs/errors.md), reset, destroy,
// exhaustion, calloc overflow, the monitor, the heap's check and dump,
// release in O(1) with 10^4 live blocks (by counting: the core's steps,
// and no other block touched), and a randomized model test.
//
// Linked with the step-counting variant of the library (rtheap_steps).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "owner.h" // the debug fill patterns
#include "rtheap/default.h"
#include "rtheap/region.h"
#include "rtheap_steps.h"
#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

using rtt::heap_ok;
using rtt::stats;

namespace {

constexpr size_t kPage = 256;

struct Report {
	rtheap_error_kind_t kind;
	const void *addr;
};

void record(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	static_cast<std::vector<Report> *>(arg)->push_back({kind, addr});
}

// A heap in a mapping (dirty: allocations hold what the buffer held),
// the error callback recording into `reports`.
class Heap {
public:
	explicit Heap(size_t bytes = 1u << 20, size_t page = kPage,
	              rtheap_lock_mode_t lock = RTHEAP_LOCK_NONE, unsigned flags = 0)
	    : map_(RTHEAP_BUFFER_SIZE(bytes, page))
	{
		std::memset(map_.data(), 0x5c, map_.size());
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

rtregion_stats rstats(rtregion_t *r)
{
	rtregion_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rtregion_get_stats(r, &st));
	return st;
}

char *cp(void *p)
{
	return static_cast<char *>(p);
}

#if !defined(REGION_TEST_THREADS)

bool aligned(const void *p, size_t a)
{
	return (reinterpret_cast<uintptr_t>(p) & (a - 1)) == 0;
}

// The block of a small allocation (blocks are aligned to their size).
void *block_of(void *p, size_t block)
{
	return reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(block - 1));
}

// The block header the header documents: links, pool, four counts, then
// two bitmaps of B / 16 bits, rounded up to 16 bytes.
size_t expected_header(size_t block)
{
	size_t h = 5 * sizeof(void *) + 16 + 2 * (block / 16 / 8);
	return (h + 15) / 16 * 16;
}

TEST(Region, DefaultBlockIsTheOriginals4096BytesAndAllocationsAre16Aligned)
{
	Heap hp;
	const rtheap_stats before = stats(&hp.h);
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	rtregion_stats st = rstats(r);
	EXPECT_EQ(4096u, st.block_size);
	EXPECT_EQ(expected_header(4096), st.block_header);
	EXPECT_EQ(4096u - st.block_header, st.small_max);
	EXPECT_EQ(1u, st.blocks) << "the first block is taken at creation";
	EXPECT_EQ(before.live_blocks + 2, stats(&hp.h).live_blocks) << "descriptor + block";
	std::vector<char *> ps;
	for (size_t n : {1, 15, 16, 17, 31, 100, 1, 1000}) {
		char *p = cp(rtregion_alloc(r, n));
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(aligned(p, RTREGION_ALIGN)) << n;
		std::memset(p, 0x11, n);
		ps.push_back(p);
	}
	// Exact bump offsets: 1->16, 15->16, 16->16, 17->32, 31->32, 100->112, 1->16.
	const size_t steps[] = {16, 16, 16, 32, 32, 112, 16};
	for (size_t i = 0; i + 1 < ps.size(); i++)
		EXPECT_EQ(steps[i], size_t(ps[i + 1] - ps[i])) << i;
	EXPECT_EQ(cp(block_of(ps[0], 4096)) + st.block_header, ps[0]);
	st = rstats(r);
	EXPECT_EQ(8u, st.live_small);
	EXPECT_EQ(16u * 3 + 32 * 2 + 112 + 16 + 1008, st.used_bytes);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
	const rtheap_stats after = stats(&hp.h);
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	EXPECT_EQ(before.used, after.used);
}

TEST(Region, BlockSizesAreRoundedToPowersOfTwoAndBoundsAreRefused)
{
	Heap hp(4u << 20);
	struct {
		size_t want, got;
	} cases[] = {{1, 1024}, {1024, 1024}, {4097, 8192}, {12288, 16384}, {65536, 65536}};
	for (auto c : cases) {
		rtregion_t *r = rtregion_create(&hp.h, c.want, 0);
		ASSERT_NE(nullptr, r) << c.want;
		EXPECT_EQ(c.got, rstats(r).block_size) << c.want;
		EXPECT_EQ(c.got - expected_header(c.got), rstats(r).small_max);
		EXPECT_EQ(0, rtregion_destroy(r));
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, RTREGION_BLOCK_MAX + 1, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, 8u << 20, 0)) << "no such run in this heap";
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, 0, 1u << 7));
	EXPECT_EQ(EINVAL, errno) << "unknown flag";
	rtregion_t *anon = rtregion_create_at(&hp.h, 0, 0, nullptr, 0);
	ASSERT_NE(nullptr, anon);
	EXPECT_STREQ("?", rstats(anon).file);
	EXPECT_EQ(0, rtregion_destroy(anon));
	rtheap_t dead{};
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&dead, 0, 0));
	EXPECT_EQ(EINVAL, errno) << "unusable heap";
	EXPECT_EQ(0u, hp.reports.size());
}

TEST(Region, CreateFailsCleanlyWithoutMemory)
{
	Heap hp(8192, kPage);
	rtheap_stats st0 = stats(&hp.h);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, 1u << 20, 0));
	EXPECT_EQ(ENOMEM, errno) << "no run of 1 MiB in an 8 KiB heap";
	EXPECT_EQ(st0.failed_allocs + 1, stats(&hp.h).failed_allocs);
	// Fill the heap so that the block cannot be had.
	std::vector<void *> hold;
	for (void *p; (p = rtheap_alloc(&hp.h, kPage));)
		hold.push_back(p);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, 1024, 0));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(&hp.h, 1024, RTREGION_GROW));
	EXPECT_EQ(ENOMEM, errno) << "RTREGION_GROW grows only the default heap";
	for (void *p : hold)
		EXPECT_EQ(0, rtheap_free(&hp.h, p));
	rtheap_stats st1 = stats(&hp.h);
	EXPECT_EQ(st0.live_blocks, st1.live_blocks);
	EXPECT_EQ(st0.used, st1.used);
}

TEST(Region, SizeBoundsZeroHugeAndCallocOverflow)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	const rtregion_stats s0 = rstats(r);
	const rtheap_stats h0 = stats(&hp.h);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_alloc(r, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_calloc(r, 0, 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(s0.failures, rstats(r).failures) << "size 0 is not a failure";
	for (size_t huge : {SIZE_MAX, SIZE_MAX - 47, SIZE_MAX - RTREGION_LARGE_HDR + 1, SIZE_MAX / 2}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtregion_alloc(r, huge)) << huge;
		EXPECT_EQ(ENOMEM, errno) << huge;
	}
	EXPECT_EQ(s0.failures + 4, rstats(r).failures);
	// calloc overflow: refused before anything is counted
	const rtregion_stats s1 = rstats(r);
	const size_t fails = stats(&hp.h).failed_allocs;
	for (auto nm : {std::pair<size_t, size_t>{SIZE_MAX, 2}, {2, SIZE_MAX / 2 + 1},
	                {size_t(1) << (4 * sizeof(size_t) + 1), size_t(1) << (4 * sizeof(size_t) + 1)}}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtregion_calloc(r, nm.first, nm.second));
		EXPECT_EQ(ENOMEM, errno);
	}
	EXPECT_EQ(s1.failures, rstats(r).failures);
	EXPECT_EQ(fails, stats(&hp.h).failed_allocs);
	// calloc zeroes, small and large, from dirty memory
	for (size_t n : {24, 4000, 5000}) {
		unsigned char *p = static_cast<unsigned char *>(rtregion_calloc(r, n, 1));
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(n, size_t(std::count(p, p + n, 0))) << n;
		std::memset(p, 0x77, n);
		EXPECT_EQ(0, rtregion_free(r, p));
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_alloc(nullptr, 8));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, rtregion_calloc(nullptr, 1, 8));
	EXPECT_EQ(0u, hp.reports.size());
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
	EXPECT_EQ(h0.live_blocks - 2, stats(&hp.h).live_blocks);
}

// A bad release: exactly one report of its kind and address, the error
// returned, the heap's statistics unchanged but errors + 1, the pool's
// unchanged but misuse + 1.
void expect_refused(Heap &hp, rtregion_t *r, void *p, int rc, rtheap_error_kind_t kind,
                    const char *what)
{
	const rtheap_stats h0 = stats(&hp.h);
	const rtregion_stats s0 = rstats(r);
	hp.reports.clear();
	EXPECT_EQ(rc, rtregion_free(r, p)) << what;
	ASSERT_EQ(1u, hp.reports.size()) << what;
	EXPECT_EQ(kind, hp.reports[0].kind) << what;
	EXPECT_EQ(p, hp.reports[0].addr) << what;
	const rtheap_stats h1 = stats(&hp.h);
	rtt::expect_same_stats(h0, h1, what);
	EXPECT_EQ(h0.errors + 1, h1.errors) << what;
	const rtregion_stats s1 = rstats(r);
	EXPECT_EQ(s0.live_small, s1.live_small) << what;
	EXPECT_EQ(s0.large, s1.large) << what;
	EXPECT_EQ(s0.frees, s1.frees) << what;
	EXPECT_EQ(s0.blocks, s1.blocks) << what;
	EXPECT_EQ(s0.reusable_blocks, s1.reusable_blocks) << what;
	EXPECT_EQ(s0.misuse + 1, s1.misuse) << what;
	EXPECT_TRUE(heap_ok(&hp.h)) << what;
	hp.reports.clear();
}

TEST(Region, EveryBadReleaseIsAnExactErrorAndChangesNothing)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	rtregion_t *other = rtregion_create(&hp.h, 0, 0);
	rtregion_t *wide = rtregion_create(&hp.h, 8192, 0);
	ASSERT_TRUE(r && other && wide);
	char *a = cp(rtregion_alloc(r, 40));
	char *b = cp(rtregion_alloc(r, 40));
	char *big = cp(rtregion_alloc(r, 10000));
	char *o = cp(rtregion_alloc(other, 40));
	char *w = cp(rtregion_alloc(wide, 40));
	char *wbig = cp(rtregion_alloc(wide, 20000));
	void *blk = rtheap_alloc(&hp.h, 100);
	ASSERT_TRUE(a && b && big && o && w && wbig && blk);
	int local = 0;
	const size_t hdr = rstats(r).block_header;
	char *base = cp(block_of(a, 4096));

	expect_refused(hp, r, &local, -EFAULT, RTHEAP_ERR_FOREIGN, "foreign (stack)");
	expect_refused(hp, r, blk, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "a heap block");
	expect_refused(hp, r, o, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "another pool's (same block size)");
	expect_refused(hp, r, w, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "another pool's (other block size)");
	expect_refused(hp, r, wbig, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "another pool's large");
	expect_refused(hp, r, a + 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "interior, on a granule");
	expect_refused(hp, r, a + 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "interior, misaligned");
	expect_refused(hp, r, b + 48, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "past the bump offset");
	expect_refused(hp, r, base, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "the block header");
	expect_refused(hp, r, base + hdr - 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "the block's bitmaps");
	expect_refused(hp, r, big + 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "interior of a large");
	expect_refused(hp, r, big + 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "interior of a large, misaligned");
	expect_refused(hp, r, cp(blk) + 48, -EINVAL, RTHEAP_ERR_NOT_BLOCK,
	               "48 bytes into a small heap block (too small to be a large one)");
	expect_refused(hp, r, big - RTREGION_LARGE_HDR, -EINVAL, RTHEAP_ERR_NOT_BLOCK,
	               "a large allocation's header");
	ASSERT_EQ(0, rtregion_free(r, a));
	expect_refused(hp, r, a, -EALREADY, RTHEAP_ERR_DOUBLE_FREE, "double release (small)");
	ASSERT_EQ(0, rtregion_free(r, big));
	expect_refused(hp, r, big, -EINVAL, RTHEAP_ERR_NOT_BLOCK, "double release (large)");
	// still an exact error once the block has no live allocation left
	ASSERT_EQ(0, rtregion_free(r, b));
	expect_refused(hp, r, b, -EALREADY, RTHEAP_ERR_DOUBLE_FREE, "double release, block empty");

	// a large allocation whose header's magic was overwritten is refused
	char *big2 = cp(rtregion_alloc(r, 6000));
	ASSERT_NE(nullptr, big2);
	char *magic = big2 - RTREGION_LARGE_HDR + 4 * sizeof(void *);
	uint32_t keep, bad = 0;
	std::memcpy(&keep, magic, 4);
	std::memcpy(magic, &bad, 4);
	EXPECT_EQ(-EINVAL, rtregion_free(r, big2));
	std::memcpy(magic, &keep, 4);
	// ... and one whose list link was overwritten (pointing at itself)
	char *link = big2 - RTREGION_LARGE_HDR;
	void *next, *self = link;
	std::memcpy(&next, link, sizeof next);
	std::memcpy(link, &self, sizeof self);
	EXPECT_EQ(-EINVAL, rtregion_free(r, big2));
	std::memcpy(link, &next, sizeof next);
	EXPECT_EQ(0, rtregion_free(r, big2));
	hp.reports.clear();

	EXPECT_EQ(0, rtregion_free(r, nullptr));
	EXPECT_EQ(-EINVAL, rtregion_free(nullptr, o));
	alignas(64) unsigned char fake[512] = {};
	EXPECT_EQ(-EINVAL, rtregion_free(reinterpret_cast<rtregion_t *>(fake), o))
	    << "not a pool (no magic)";
	EXPECT_EQ(nullptr, rtregion_alloc(reinterpret_cast<rtregion_t *>(fake), 8));
	EXPECT_EQ(0u, hp.reports.size()) << "NULL pointer and NULL pool are not reported";
	EXPECT_EQ(0, rtregion_free(other, o));
	EXPECT_EQ(0, rtregion_free(wide, w));
	EXPECT_EQ(0, rtregion_free(wide, wbig));
	EXPECT_EQ(0, rtheap_free(&hp.h, blk));
	EXPECT_EQ(0, rtregion_destroy(r));
	EXPECT_EQ(-EINVAL, rtregion_destroy(nullptr));
	EXPECT_EQ(0, rtregion_destroy(other));
	EXPECT_EQ(0, rtregion_destroy(wide));
}

TEST(Region, ABlockWhoseCountDropsToZeroIsReusedAndNoNewBlockIsTaken)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	const size_t n = rstats(r).small_max / 64; // allocations of 64 B per block
	std::vector<char *> first, second;
	for (size_t i = 0; i < n; i++)
		first.push_back(cp(rtregion_alloc(r, 64)));
	void *blk1 = block_of(first[0], 4096);
	for (char *p : first)
		ASSERT_EQ(blk1, block_of(p, 4096));
	second.push_back(cp(rtregion_alloc(r, 64))); // does not fit: a second block
	void *blk2 = block_of(second[0], 4096);
	ASSERT_NE(blk1, blk2);
	EXPECT_EQ(2u, rstats(r).blocks);
	for (size_t i = 0; i + 1 < n; i++)
		ASSERT_EQ(0, rtregion_free(r, first[i]));
	EXPECT_EQ(0u, rstats(r).reusable_blocks) << "one allocation still lives in block 1";
	ASSERT_EQ(0, rtregion_free(r, first[n - 1]));
	EXPECT_EQ(1u, rstats(r).reusable_blocks) << "count zero: reusable at once";
	for (size_t i = 1; i < n; i++)
		second.push_back(cp(rtregion_alloc(r, 64)));
	const size_t used = rtt::stats(&hp.h).used;
	char *p = cp(rtregion_alloc(r, 64)); // block 2 full: block 1 again, from its start
	EXPECT_EQ(cp(blk1) + rstats(r).block_header, p);
	EXPECT_EQ(2u, rstats(r).blocks);
	EXPECT_EQ(0u, rstats(r).reusable_blocks);
	EXPECT_EQ(used, rtt::stats(&hp.h).used) << "no heap allocation";
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, TheCurrentBlockIsRewoundWhenEmptyAndFull)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *p0 = cp(rtregion_alloc(r, 1000));
	ASSERT_EQ(0, rtregion_free(r, p0));
	// alloc/free pairs: three fit in a block (1008 B each), then the
	// empty current block is rewound: one block, never more
	int again = 0;
	for (int i = 0; i < 100; i++) {
		char *p = cp(rtregion_alloc(r, 1000));
		ASSERT_NE(nullptr, p);
		again += p == p0;
		ASSERT_EQ(0, rtregion_free(r, p));
	}
	rtregion_stats st = rstats(r);
	EXPECT_EQ(1u, st.blocks);
	EXPECT_EQ(0u, st.live_small);
	EXPECT_EQ(33, again) << "rewound to its start at each failure";
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, LargeAllocationsAreHeapBlocksReleasedOneByOneOrByReset)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	const size_t small_max = rstats(r).small_max;
	const rtheap_stats h0 = stats(&hp.h);
	char *edge = cp(rtregion_alloc(r, small_max)); // the largest small one
	ASSERT_NE(nullptr, edge);
	EXPECT_EQ(0u, rstats(r).large);
	std::vector<char *> ls;
	for (size_t n : {small_max + 1, size_t(5000), size_t(20000), size_t(100000)}) {
		char *p = cp(rtregion_alloc(r, n));
		ASSERT_NE(nullptr, p) << n;
		EXPECT_TRUE(aligned(p, 16));
		EXPECT_GE(rtheap_usable_size(&hp.h, p - RTREGION_LARGE_HDR), n + RTREGION_LARGE_HDR);
		std::memset(p, 0x42, n);
		ls.push_back(p);
	}
	rtregion_stats st = rstats(r);
	EXPECT_EQ(4u, st.large);
	EXPECT_EQ(small_max + 1 + 5000 + 20000 + 100000, st.large_bytes);
	EXPECT_TRUE(heap_ok(&hp.h));
	ASSERT_EQ(0, rtregion_free(r, ls[1])); // from the middle of the list
	EXPECT_EQ(3u, rstats(r).large);
	EXPECT_TRUE(heap_ok(&hp.h));
	ASSERT_EQ(0, rtregion_reset(r));
	st = rstats(r);
	EXPECT_EQ(0u, st.large);
	EXPECT_EQ(0u, st.large_bytes);
	EXPECT_EQ(0u, st.live_small);
	const rtheap_stats h1 = stats(&hp.h);
	EXPECT_EQ(h0.live_blocks, h1.live_blocks) << "the one block stays, the large ones went";
	EXPECT_EQ(1u, st.blocks);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, ResetDropsEverythingKeepsTheBlocksAndStartsOver)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *first = nullptr;
	for (int i = 0; i < 500; i++) {
		char *p = cp(rtregion_alloc(r, 100));
		ASSERT_NE(nullptr, p);
		if (!first)
			first = p;
	}
	ASSERT_NE(nullptr, rtregion_alloc(r, 9000));
	const rtregion_stats s0 = rstats(r);
	ASSERT_GE(s0.blocks, 10u);
	const size_t used_blocks = stats(&hp.h).used - (rtheap_round_size(&hp.h, 9000 + RTREGION_LARGE_HDR));
	ASSERT_EQ(0, rtregion_reset(r));
	rtregion_stats s1 = rstats(r);
	EXPECT_EQ(s0.blocks, s1.blocks);
	EXPECT_EQ(s0.blocks - 1, s1.reusable_blocks);
	EXPECT_EQ(0u, s1.live_small);
	EXPECT_EQ(0u, s1.used_bytes);
	EXPECT_EQ(1u, s1.resets);
	EXPECT_EQ(used_blocks, stats(&hp.h).used) << "the large one went back, the blocks stay";
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(-EINVAL, rtregion_free(r, first)) << "dropped by the reset";
	hp.reports.clear();
	EXPECT_EQ(first, cp(rtregion_alloc(r, 100))) << "the oldest block is current again";
	for (int i = 1; i < 500; i++)
		ASSERT_NE(nullptr, rtregion_alloc(r, 100));
	EXPECT_EQ(s0.blocks, rstats(r).blocks) << "the kept blocks served the same requests";
	EXPECT_EQ(used_blocks, stats(&hp.h).used);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(-EINVAL, rtregion_reset(nullptr));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, DestroyGivesEverythingBackWhateverIsLive)
{
	Heap hp;
	const rtheap_stats h0 = stats(&hp.h);
	rtregion_t *r = rtregion_create(&hp.h, 0, RTREGION_LOCKED);
	ASSERT_NE(nullptr, r);
	for (int i = 0; i < 300; i++)
		ASSERT_NE(nullptr, rtregion_alloc(r, size_t(1 + i * 37 % 3000)));
	for (int i = 0; i < 5; i++)
		ASSERT_NE(nullptr, rtregion_alloc(r, 7000));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
	const rtheap_stats h1 = stats(&hp.h);
	EXPECT_EQ(h0.live_blocks, h1.live_blocks);
	EXPECT_EQ(h0.used, h1.used);
	EXPECT_EQ(h0.pages_owned, h1.pages_owned);
}

TEST(Region, ExhaustionFailsCleanlyAndCountsAndResetRecovers)
{
	Heap hp(64u << 10);
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	size_t n = 0;
	while (rtregion_alloc(r, 1000))
		n++;
	EXPECT_GT(n, 20u);
	EXPECT_EQ(ENOMEM, errno);
	rtregion_stats st = rstats(r);
	EXPECT_EQ(1u, st.failures);
	EXPECT_EQ(nullptr, rtregion_alloc(r, 100000));
	EXPECT_EQ(2u, rstats(r).failures);
	EXPECT_GE(stats(&hp.h).failed_allocs, 2u);
	EXPECT_TRUE(heap_ok(&hp.h));
	ASSERT_EQ(0, rtregion_reset(r));
	for (size_t i = 0; i < n; i++)
		ASSERT_NE(nullptr, rtregion_alloc(r, 1000)) << i;
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

// Release with 10^4 live blocks: the core does as many steps as with one
// block (a page-map lookup), and the release touches no other block: every
// other block of the pool is made inaccessible (mprotect) first.
TEST(Region, ReleaseIsConstantWithTenThousandLiveBlocks)
{
	const long sys = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(4096, sys) << "the test protects 4 KiB blocks one by one";
	Heap hp(48u << 20, 4096);
	rtregion_t *r = rtregion_create(&hp.h, 4096, 0);
	ASSERT_NE(nullptr, r);
	const size_t per = rstats(r).small_max / 16 / 2; // two live per block, room for more
	(void)per;
	std::vector<std::pair<char *, char *>> blocks; // two allocations per block
	while (blocks.size() < 10000) {
		char *a = cp(rtregion_alloc(r, 2000));
		char *b = cp(rtregion_alloc(r, 1900));
		ASSERT_TRUE(a && b);
		ASSERT_EQ(block_of(a, 4096), block_of(b, 4096));
		blocks.emplace_back(a, b);
	}
	EXPECT_EQ(10000u, rstats(r).blocks);
	// steps with one other pool of one block, then in the big pool
	rtregion_t *small = rtregion_create(&hp.h, 4096, 0);
	char *s1 = cp(rtregion_alloc(small, 2000));
	char *s2 = cp(rtregion_alloc(small, 1900));
	rtheap_steps_reset();
	ASSERT_EQ(0, rtregion_free(small, s1));
	const unsigned long few = rtheap_steps_get();
	rtheap_steps_reset();
	ASSERT_EQ(0, rtregion_free(r, blocks[1234].first));
	const unsigned long many = rtheap_steps_get();
	EXPECT_EQ(few, many) << "a release does the same work with 1 or 10^4 blocks";
	(void)s2;
	// no other block touched: protect all but the target, release twice
	// (the second empties the block: it joins the reusable list, which is empty)
	const size_t t = 7777;
	for (size_t i = 0; i < blocks.size(); i++)
		if (i != t) {
			ASSERT_EQ(0, mprotect(block_of(blocks[i].first, 4096), 4096, PROT_NONE));
		}
	EXPECT_EQ(0, rtregion_free(r, blocks[t].first));
	EXPECT_EQ(0, rtregion_free(r, blocks[t].second));
	EXPECT_EQ(-EALREADY, rtregion_free(r, blocks[t].second));
	for (size_t i = 0; i < blocks.size(); i++)
		if (i != t) {
			ASSERT_EQ(0, mprotect(block_of(blocks[i].first, 4096), 4096,
			                      PROT_READ | PROT_WRITE));
		}
	EXPECT_EQ(1u, rstats(r).reusable_blocks);
	hp.reports.clear();
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(small));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, MonitorPrintsEachBlockThenTheLargeAllocations)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	std::vector<void *> ps;
	for (int i = 0; i < 5; i++)
		ps.push_back(rtregion_alloc(r, 1500)); // two per block: three blocks
	void *big = rtregion_alloc(r, 6000);
	ASSERT_EQ(0, rtregion_free(r, ps[0]));
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_NE(nullptr, f);
	ASSERT_EQ(0, rtregion_monitor(r, f, "after five"));
	fclose(f);
	std::string out(buf, len);
	free(buf);
	EXPECT_NE(std::string::npos, out.find("after five"));
	const size_t hdr = rstats(r).block_header;
	// blocks in list order (newest first): 1 of 1500, 2, 2 (one freed)
	char want[160];
	std::snprintf(want, sizeof want, "used %6u free %6u live %5u failures %4u  current",
	              1504u, unsigned(4096 - hdr - 1504), 1u, 0u);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	std::snprintf(want, sizeof want, "used %6u free %6u live %5u failures %4u\n", 3008u,
	              unsigned(4096 - hdr - 3008), 1u, 1u);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	std::snprintf(want, sizeof want, "used %6u free %6u live %5u failures %4u\n", 3008u,
	              unsigned(4096 - hdr - 3008), 2u, 1u);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	std::snprintf(want, sizeof want, "large   1 %p: size 6000", big);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	EXPECT_LT(out.find("block   3"), out.find("large   1"));
	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, rtregion_monitor(r, f, nullptr)); // no title
	fclose(f);
	free(buf);
	EXPECT_EQ(-EINVAL, rtregion_monitor(r, nullptr, "x"));
	EXPECT_EQ(-EINVAL, rtregion_monitor(nullptr, stdout, "x"));
	EXPECT_EQ(0, rtregion_destroy(r));
}

TEST(Region, HeapDumpListsThePoolAndCheckFindsACorruptBlock)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *p = cp(rtregion_alloc(r, 64));
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ASSERT_EQ(0, rtheap_dump(&hp.h, f, 1));
	fclose(f);
	std::string out(buf, len);
	free(buf);
	EXPECT_NE(std::string::npos, out.find("region ")) << out;
	EXPECT_NE(std::string::npos, out.find("test_region.cc")) << out;
	EXPECT_NE(std::string::npos, out.find("live     1")) << out;
	EXPECT_TRUE(heap_ok(&hp.h));
	// the live count of the block, overwritten
	uint32_t *live = reinterpret_cast<uint32_t *>(cp(block_of(p, 4096)) + 5 * sizeof(void *) + 4);
	const uint32_t keep = *live;
	*live = keep + 1;
	rtheap_fault fl{};
	EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, &fl));
	EXPECT_NE(nullptr, std::strstr(fl.what, "region:")) << fl.what;
	*live = keep;
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

// The start of the pool descriptor (heap/region.c, struct rtregion).
struct PoolHead {
	uint32_t fast_magic, block;
	void *cur;
	size_t allocs;
	uint32_t magic;
};

// rtheap_check finds each kind of damage to a pool's structures (each
// undone before the next).
TEST(Region, CheckFindsEachDamage)
{
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *a = cp(rtregion_alloc(r, 32));
	char *big = cp(rtregion_alloc(r, 5000));
	ASSERT_TRUE(a && big);
	char *blk = cp(block_of(a, 4096));
	const size_t P = sizeof(void *);
	uint64_t *maps = reinterpret_cast<uint64_t *>(blk + 5 * P + 16);
	struct Poke {
		const char *what;
		void *at;
		size_t n;
		uint64_t val;
	} pokes[] = {
	    {"block magic", blk + 5 * P, 4, 0x12345678},
	    {"block pool", blk + 4 * P, P, 0x40},
	    {"bump offset past the block", blk + 5 * P + 8, 4, 5000},
	    {"bump offset below the first allocation", blk + 5 * P + 8, 4, 0},
	    {"the current block linked as reusable", blk + 2 * P, P,
	     reinterpret_cast<uintptr_t>(blk) + 64},
	    {"a start bit past the offset", &maps[1], 8, maps[1] | (uint64_t(1) << 40)},
	    {"a live bit without its start", &maps[0], 8, maps[0] | (uint64_t(1) << 9)},
	    {"block list link", blk + 0, P, reinterpret_cast<uintptr_t>(blk) + 64},
	    {"large magic", big - RTREGION_LARGE_HDR + 4 * P, 4, 0},
	    {"large size", big - RTREGION_LARGE_HDR + 3 * P, P, 1},
	    {"large list link", big - RTREGION_LARGE_HDR, P,
	     reinterpret_cast<uintptr_t>(big)},
	    {"large pool", big - RTREGION_LARGE_HDR + 2 * P, P, 0x40},
	    {"the pool's magic", cp(r) + offsetof(PoolHead, magic), 4, 0},
	};
	for (const Poke &k : pokes) {
		unsigned char keep[8];
		std::memcpy(keep, k.at, k.n);
		std::memcpy(k.at, &k.val, k.n);
		rtheap_fault f{};
		EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, &f)) << k.what;
		EXPECT_NE(nullptr, f.what ? std::strstr(f.what, "region:") : nullptr) << k.what;
		EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, nullptr)) << k.what;
		std::memcpy(k.at, keep, k.n);
		EXPECT_TRUE(heap_ok(&hp.h)) << k.what;
	}
	rtregion_stats st;
	EXPECT_EQ(-EINVAL, rtregion_get_stats(r, nullptr));
	EXPECT_EQ(-EINVAL, rtregion_get_stats(nullptr, &st));
	EXPECT_EQ(0, rtregion_destroy(r));
}

// Bytes at p all equal to v (read past AddressSanitizer's poison: the
// padding, the free room and released allocations are poisoned there).
__attribute__((no_sanitize("address"))) bool all_are(const void *p, size_t n, unsigned char v)
{
	const volatile unsigned char *c = static_cast<const volatile unsigned char *>(p);
	for (size_t i = 0; i < n; i++)
		if (c[i] != v)
			return false;
	return true;
}

// A write after release (which AddressSanitizer would stop at once).
__attribute__((no_sanitize("address"))) void poke(void *p, unsigned char v)
{
	*static_cast<volatile unsigned char *>(p) = v;
}

// Exactly one report, of a write after release at `at`; then cleared.
void expect_uaf(Heap &hp, const void *at, const char *what)
{
	ASSERT_EQ(1u, hp.reports.size()) << what;
	EXPECT_EQ(RTHEAP_ERR_USE_AFTER_FREE, hp.reports[0].kind) << what;
	EXPECT_EQ(at, hp.reports[0].addr) << what;
	hp.reports.clear();
}

// With the heap's RTHEAP_F_DEBUG_FILL: fresh allocations hold 0xA5 (their
// padding too), released ones and the free room 0xDD; a write after
// release is reported when its block is rewound, reset, shrunk away or
// destroyed, at the start of the released allocation (or at the byte,
// past the bump offset); live allocations are never taken for one.
TEST(Region, DebugFillPatternsAndWritesAfterReleaseAreReported)
{
	Heap hp(1u << 20, kPage, RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	const size_t hdr = rstats(r).block_header, room = 4096 - hdr;
	char *a = cp(rtregion_alloc(r, 40));
	char *b = cp(rtregion_alloc(r, 40));
	ASSERT_TRUE(a && b);
	char *base = cp(block_of(a, 4096));
	EXPECT_TRUE(all_are(a, 48, RT_OWNER_FILL_FRESH)) << "fresh, its padding too";
	EXPECT_TRUE(all_are(b + 48, room - 96, RT_OWNER_FILL_FREED)) << "the free room";
	std::memset(a, 0x11, 40);
	ASSERT_EQ(0, rtregion_free(r, a));
	EXPECT_TRUE(all_are(a, 48, RT_OWNER_FILL_FREED)) << "released, its padding too";
	poke(a + 5, 1); // a write after release
	std::memset(b, 0x22, 40);
	ASSERT_EQ(0, rtregion_free(r, b));
	EXPECT_EQ(0u, hp.reports.size()) << "not seen before the block is rewound";
	const size_t errs = stats(&hp.h).errors;
	// the current block, empty, is rewound by a request that does not fit
	char *c = cp(rtregion_alloc(r, room));
	EXPECT_EQ(base + hdr, c) << "the allocation is served";
	expect_uaf(hp, a, "rewind of the current block");
	EXPECT_EQ(errs + 1, stats(&hp.h).errors);
	EXPECT_TRUE(all_are(c, room, RT_OWNER_FILL_FRESH));
	// reset: a released allocation written; a live one is not a write
	ASSERT_EQ(0, rtregion_reset(r));
	EXPECT_EQ(0u, hp.reports.size()) << "a live allocation dropped by a reset";
	EXPECT_TRUE(all_are(base + hdr, room, RT_OWNER_FILL_FREED)) << "reset fills";
	char *d = cp(rtregion_alloc(r, 100));
	char *e = cp(rtregion_alloc(r, 100));
	ASSERT_EQ(0, rtregion_free(r, d));
	poke(d + 111, 7); // in its padding: its span
	ASSERT_EQ(0, rtregion_reset(r));
	expect_uaf(hp, d, "reset, write in a released allocation's padding");
	(void)e;
	// past the bump offset: memory released before the last rewind
	poke(base + hdr + 2000, 3);
	ASSERT_EQ(0, rtregion_reset(r));
	expect_uaf(hp, base + hdr + 2000, "reset, write past the bump offset");
	// a reusable block given back by a shrink, then the pool's destroy
	std::vector<char *> ps;
	for (int i = 0; i < 4; i++)
		ps.push_back(cp(rtregion_alloc(r, 1900))); // two per block
	ASSERT_EQ(2u, rstats(r).blocks);
	ASSERT_EQ(0, rtregion_free(r, ps[0]));
	ASSERT_EQ(0, rtregion_free(r, ps[1]));
	ASSERT_EQ(1u, rstats(r).reusable_blocks);
	poke(ps[1] + 1903, 9); // in its padding
	ASSERT_EQ(0, rtregion_shrink(r, 0));
	expect_uaf(hp, ps[1], "shrink");
	ASSERT_EQ(0, rtregion_free(r, ps[2]));
	poke(ps[2], 9);
	EXPECT_EQ(0, rtregion_destroy(r));
	expect_uaf(hp, ps[2], "destroy");
	// two blocks written: one report per call, the first block reset
	// (the newest: the list's head)
	r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *x1 = cp(rtregion_alloc(r, 1900));
	ASSERT_NE(nullptr, rtregion_alloc(r, 1900));
	char *x3 = cp(rtregion_alloc(r, 1900)); // the second block
	ASSERT_EQ(0, rtregion_free(r, x1));
	ASSERT_EQ(0, rtregion_free(r, x3));
	poke(x1, 1);
	poke(x3 + 100, 1);
	ASSERT_EQ(0, rtregion_reset(r));
	expect_uaf(hp, x3, "two writes, one report");
	EXPECT_EQ(0, rtregion_destroy(r));
	// no false report over many operations
	r = rtregion_create(&hp.h, 1024, 0);
	ASSERT_NE(nullptr, r);
	std::mt19937 rng(7);
	std::vector<char *> live;
	for (int i = 0; i < 5000; i++) {
		if (rng() % 3 || live.empty()) {
			size_t n = 1 + rng() % 400;
			char *p = cp(rtregion_alloc(r, n));
			ASSERT_NE(nullptr, p);
			std::memset(p, 0x33, n);
			live.push_back(p);
		} else {
			size_t k = rng() % live.size();
			ASSERT_EQ(0, rtregion_free(r, live[k]));
			live.erase(live.begin() + long(k));
		}
		if (i % 1000 == 999) {
			ASSERT_EQ(0, rtregion_reset(r));
			live.clear();
		}
	}
	EXPECT_EQ(0, rtregion_destroy(r));
	EXPECT_EQ(0u, hp.reports.size());
}

// rtregion_shrink gives the reusable blocks beyond `keep` back, those the
// pool would reuse last first; a block with live allocations and the
// current block stay.
TEST(Region, ShrinkGivesReusableBlocksBeyondKeepBack)
{
	Heap hp;
	const rtheap_stats h0 = stats(&hp.h);
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	std::vector<void *> order; // blocks in the order taken
	for (int i = 0; i < 20; i++) {
		char *p = cp(rtregion_alloc(r, 1900)); // two per block
		ASSERT_NE(nullptr, p);
		if (order.empty() || order.back() != block_of(p, 4096))
			order.push_back(block_of(p, 4096));
	}
	ASSERT_EQ(10u, order.size());
	const rtheap_stats h1 = stats(&hp.h);
	EXPECT_EQ(0, rtregion_shrink(r, 0)) << "nothing reusable: nothing given";
	EXPECT_EQ(10u, rstats(r).blocks);
	ASSERT_EQ(0, rtregion_reset(r));
	EXPECT_EQ(9u, rstats(r).reusable_blocks);
	EXPECT_EQ(0, rtregion_shrink(r, 9));
	EXPECT_EQ(10u, rstats(r).blocks);
	EXPECT_EQ(0, rtregion_shrink(r, 3));
	rtregion_stats st = rstats(r);
	EXPECT_EQ(4u, st.blocks);
	EXPECT_EQ(3u, st.reusable_blocks);
	const rtheap_stats h2 = stats(&hp.h);
	EXPECT_EQ(h1.live_blocks - 6, h2.live_blocks);
	EXPECT_EQ(h1.used - 6 * 4096, h2.used);
	EXPECT_TRUE(heap_ok(&hp.h));
	// the four kept are the four the pool walks first: the oldest
	for (int i = 0; i < 8; i++) {
		char *p = cp(rtregion_alloc(r, 1900));
		EXPECT_EQ(order[size_t(i / 2)], block_of(p, 4096)) << i;
	}
	EXPECT_EQ(4u, rstats(r).blocks);
	// live blocks and the current one stay; an emptied block goes
	char *x = cp(rtregion_alloc(r, 1900)); // a fifth block (new)
	char *y = cp(rtregion_alloc(r, 1900));
	ASSERT_EQ(5u, rstats(r).blocks);
	ASSERT_EQ(0, rtregion_free(r, x));
	ASSERT_EQ(0, rtregion_free(r, y)); // the current block, empty
	EXPECT_EQ(0, rtregion_shrink(r, 0));
	EXPECT_EQ(5u, rstats(r).blocks) << "the empty current block stays";
	ASSERT_EQ(0, rtregion_reset(r));
	EXPECT_EQ(0, rtregion_shrink(r, 0));
	EXPECT_EQ(1u, rstats(r).blocks);
	EXPECT_EQ(0u, rstats(r).reusable_blocks);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(-EINVAL, rtregion_shrink(nullptr, 0));
	EXPECT_EQ(0u, hp.reports.size());
	EXPECT_EQ(0, rtregion_destroy(r));
	EXPECT_EQ(h0.live_blocks, stats(&hp.h).live_blocks);
	EXPECT_EQ(h0.used, stats(&hp.h).used);
}

// Allocate from `h` until nothing is left (large runs first, then
// smaller blocks); the blocks are kept in `hold`.
void exhaust(rtheap_t *h, std::vector<void *> &hold)
{
	for (size_t n : {size_t(1) << 16, size_t(4096), size_t(1024), size_t(256), size_t(16)})
		for (void *p; (p = rtheap_alloc(h, n));)
			hold.push_back(p);
}

// The process default heap (set up small and without its helper here):
// with RTREGION_GROW, a creation whose descriptor or first block, a block
// switch or a large allocation that finds no memory grows that heap once
// and retries; without it, or on another heap, the same calls fail.
TEST(Region, GrowOnTheDefaultHeapRetriesOnceAfterGrowing)
{
	const int rc = rtheap_default_setup(256u << 10, 256u << 10, 0, RTHEAP_DEFAULT_NOHELPER);
	ASSERT_TRUE(rc == 0 || rc == -EBUSY);
	rtheap_t *dh = rtheap_default();
	ASSERT_NE(nullptr, dh);
	rtheap_default_info di{};
	ASSERT_EQ(0, rtheap_default_stats(&di));
	ASSERT_EQ(0u, di.flags & ~unsigned(RTHEAP_DEFAULT_NOHELPER)) << "a debug default heap";
	ASSERT_TRUE(di.flags & RTHEAP_DEFAULT_NOHELPER) << "set up by this test, before its first use";
	auto grows = [] {
		rtheap_default_info i{};
		EXPECT_EQ(0, rtheap_default_stats(&i));
		return i.grow_extents;
	};
	// the descriptor's rounded size, from a first pool
	const size_t used0 = stats(dh).used;
	rtregion_t *r0 = rtregion_create(nullptr, 0, 0);
	ASSERT_NE(nullptr, r0);
	const size_t desc = stats(dh).used - used0 - 4096;
	EXPECT_EQ(0, rtregion_destroy(r0));
	std::vector<void *> hold;
	void *d = rtheap_alloc(dh, desc);
	ASSERT_NE(nullptr, d);
	exhaust(dh, hold);
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(nullptr, 0, 0)) << "no descriptor";
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, rtheap_free(dh, d)); // room for a descriptor, none for a block
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_create(nullptr, 0, 0)) << "no first block";
	EXPECT_EQ(ENOMEM, errno);
	size_t g0 = grows();
	rtregion_t *r1 = rtregion_create(nullptr, 0, RTREGION_GROW); // the block after growing
	ASSERT_NE(nullptr, r1);
	EXPECT_EQ(g0 + 1, grows());
	exhaust(dh, hold);
	g0 = grows();
	rtregion_t *r2 = rtregion_create(nullptr, 0, RTREGION_GROW); // the descriptor after growing
	ASSERT_NE(nullptr, r2);
	EXPECT_EQ(g0 + 1, grows());
	rtregion_t *r3 = rtregion_create(nullptr, 0, 0); // no flag: from the new extent
	ASSERT_NE(nullptr, r3);
	// a block switch and a large allocation, each after growing
	exhaust(dh, hold);
	g0 = grows();
	const size_t small_max = rstats(r2).small_max;
	ASSERT_NE(nullptr, rtregion_alloc(r2, small_max));
	ASSERT_NE(nullptr, rtregion_alloc(r2, small_max)) << "a new block, after growing";
	EXPECT_EQ(g0 + 1, grows());
	exhaust(dh, hold);
	g0 = grows();
	ASSERT_NE(nullptr, rtregion_alloc(r2, 10000)) << "a large one, after growing";
	EXPECT_EQ(g0 + 1, grows());
	// without the flag: no growth
	exhaust(dh, hold);
	g0 = grows();
	EXPECT_EQ(nullptr, rtregion_create(nullptr, 0, 0));
	ASSERT_NE(nullptr, rtregion_alloc(r3, small_max));
	EXPECT_EQ(nullptr, rtregion_alloc(r3, small_max)) << "no new block";
	errno = 0;
	EXPECT_EQ(nullptr, rtregion_alloc(r3, 10000));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(g0, grows());
	// RTREGION_GROW on another heap while the default heap exists
	{
		Heap hp(64u << 10);
		rtregion_t *rp = rtregion_create(&hp.h, 0, RTREGION_GROW);
		ASSERT_NE(nullptr, rp);
		while (rtregion_alloc(rp, 1000))
			;
		EXPECT_EQ(g0, grows()) << "the default heap was not grown for another heap";
		EXPECT_EQ(0, rtregion_destroy(rp));
	}
	EXPECT_TRUE(heap_ok(dh));
	EXPECT_EQ(0, rtregion_destroy(r1));
	EXPECT_EQ(0, rtregion_destroy(r2));
	EXPECT_EQ(0, rtregion_destroy(r3));
	for (void *p : hold)
		ASSERT_EQ(0, rtheap_free(dh, p));
	EXPECT_TRUE(heap_ok(dh));
}

// Random allocations, releases and resets against a model: contents
// intact, no two live allocations overlap, the counts agree, the check
// passes.
TEST(Region, RandomizedAgainstAModel)
{
	Heap hp(8u << 20);
	for (size_t block : {size_t(1024), size_t(4096), size_t(16384)}) {
		rtregion_t *r = rtregion_create(&hp.h, block, 0);
		ASSERT_NE(nullptr, r);
		std::mt19937_64 rng(block);
		std::map<char *, std::pair<size_t, uint64_t>> live;
		uint64_t tag = 1;
		for (int step = 0; step < 20000; step++) {
			unsigned op = unsigned(rng() % 100);
			if (op < 60 || live.empty()) {
				size_t n = rng() % 8 ? 1 + rng() % 300 : 1 + rng() % (3 * block);
				char *p = cp(rtregion_alloc(r, n));
				ASSERT_NE(nullptr, p);
				ASSERT_TRUE(aligned(p, 16));
				auto nx = live.lower_bound(p);
				if (nx != live.end()) {
					ASSERT_LE(p + n, nx->first);
				}
				if (nx != live.begin()) {
					auto pv = std::prev(nx);
					ASSERT_LE(pv->first + pv->second.first, p);
				}
				rtt::fill(p, n, tag);
				live[p] = {n, tag++};
			} else if (op < 99) {
				auto it = live.begin();
				std::advance(it, long(rng() % live.size()));
				ASSERT_EQ(SIZE_MAX, rtt::verify(it->first, it->second.first, it->second.second));
				ASSERT_EQ(0, rtregion_free(r, it->first));
				live.erase(it);
			} else {
				ASSERT_EQ(0, rtregion_reset(r));
				live.clear();
			}
			if (step % 2000 == 0) {
				ASSERT_TRUE(heap_ok(&hp.h));
				rtregion_stats st = rstats(r);
				size_t small = 0;
				for (auto &e : live)
					small += e.second.first <= st.small_max;
				ASSERT_EQ(small, st.live_small);
				ASSERT_EQ(live.size() - small, st.large);
			}
		}
		for (auto &e : live)
			ASSERT_EQ(SIZE_MAX, rtt::verify(e.first, e.second.first, e.second.second));
		EXPECT_EQ(0u, hp.reports.size());
		EXPECT_TRUE(heap_ok(&hp.h));
		EXPECT_EQ(0, rtregion_destroy(r));
	}
}

// AddressSanitizer sees every small allocation as a block: its bytes
// open while it lives, its padding and the block's free room poisoned,
// poisoned again once released or dropped by a reset.
TEST(Region, CheckersSeeEachAllocationAsABlock)
{
#if !RTHEAP_TEST_ASAN
	GTEST_SKIP() << "AddressSanitizer build only";
#else
	Heap hp;
	rtregion_t *r = rtregion_create(&hp.h, 0, 0);
	ASSERT_NE(nullptr, r);
	char *a = cp(rtregion_alloc(r, 40));
	char *b = cp(rtregion_calloc(r, 1, 24));
	ASSERT_TRUE(a && b);
	EXPECT_EQ(nullptr, __asan_region_is_poisoned(a, 40));
	EXPECT_EQ(nullptr, __asan_region_is_poisoned(b, 24));
	EXPECT_TRUE(__asan_address_is_poisoned(a + 40)) << "padding up to 48";
	EXPECT_TRUE(__asan_address_is_poisoned(b + 32)) << "the block's free room";
	ASSERT_EQ(0, rtregion_free(r, a));
	EXPECT_TRUE(__asan_address_is_poisoned(a));
	EXPECT_FALSE(__asan_address_is_poisoned(b));
	ASSERT_EQ(0, rtregion_reset(r));
	EXPECT_TRUE(__asan_address_is_poisoned(b)) << "dropped by the reset";
	char *c = cp(rtregion_alloc(r, 16));
	EXPECT_EQ(a, c) << "rewound";
	EXPECT_EQ(nullptr, __asan_region_is_poisoned(c, 16));
	EXPECT_EQ(0, rtregion_destroy(r));
#endif
}

#endif // !REGION_TEST_THREADS

// Built twice: in test_region (label unit) and alone in
// test_region_threads (label concurrency: the ThreadSanitizer build runs it).
class RegionLocked : public ::testing::TestWithParam<rtheap_lock_mode_t> {};

TEST_P(RegionLocked, LockedPoolSharedByTwoThreads)
{
	Heap hp(4u << 20, kPage, GetParam());
	rtregion_t *r = rtregion_create(&hp.h, 0, RTREGION_LOCKED);
	ASSERT_NE(nullptr, r);
	auto work = [r](int tag) {
		std::vector<char *> ps;
		for (int i = 0; i < 20000; i++) {
			char *p = cp(rtregion_alloc(r, size_t(8 + (i * 13) % 200)));
			ASSERT_NE(nullptr, p);
			*p = char(tag);
			ps.push_back(p);
			if (ps.size() > 50) {
				ASSERT_EQ(char(tag), *ps.front());
				ASSERT_EQ(0, rtregion_free(r, ps.front()));
				ps.erase(ps.begin());
			}
		}
		for (char *p : ps)
			ASSERT_EQ(0, rtregion_free(r, p));
	};
	std::thread t1(work, 1), t2(work, 2);
	t1.join();
	t2.join();
	EXPECT_EQ(0u, rstats(r).live_small);
	EXPECT_EQ(40000u, rstats(r).allocs);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rtregion_destroy(r));
}

// The pool's lock follows the heap's mode: a PI mutex, a spin lock.
INSTANTIATE_TEST_SUITE_P(Modes, RegionLocked,
                         ::testing::Values(RTHEAP_LOCK_PI_MUTEX, RTHEAP_LOCK_SPIN));

} // namespace
