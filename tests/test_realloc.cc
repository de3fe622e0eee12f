/* SPDX-License-Identifier: MIT */
// rtheap_realloc, rtheap_calloc, rtheap_aligned_alloc (rtheap.h): the
// in-place paths (a bucket block while its class fits, a run that shrinks
// giving its tail back, a run that grows into the free run after it),
// the move (content kept, old block released), failure (the old block
// untouched), exhaustion, extension through the low-memory callback, the
// bad pointers (reported exactly as rtheap_free reports them), calloc's
// overflow and aligned_alloc's alignments up to RTHEAP_MAX_ALIGN.
// rtheap_check after every case, at page sizes 256 and 4096.
#include <algorithm>
#include <random>
#include <vector>

#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

using rtt::heap_ok;

namespace {

alignas(64) unsigned char g_foreign[256];

struct Err {
	rtheap_error_kind_t kind;
	const void *addr;
};

void record_error(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	static_cast<std::vector<Err> *>(arg)->push_back({kind, addr});
}

unsigned char *ucp(void *p)
{
	return static_cast<unsigned char *>(p);
}

class Realloc : public ::testing::TestWithParam<size_t> {
protected:
	static constexpr size_t kHeap = 1u << 20;
	size_t P() const { return GetParam(); }
	rtt::Mapping mem_{kHeap};
	std::unique_ptr<rtheap_t> hp_ = rtt::new_heap();
	std::vector<Err> errs_;
	int inits_ = 0;
	rtheap_t *h() { return hp_.get(); }

	void init(unsigned flags = 0)
	{
		ASSERT_TRUE(mem_.ok());
		if (inits_++) // a buffer used by a destroyed heap is not zero-filled
			std::memset(mem_.data(), 0, kHeap);
		auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE, flags | RTHEAP_F_ZEROED);
		ASSERT_EQ(0, rtheap_init(h(), mem_.data(), kHeap, &cfg));
		ASSERT_EQ(0, rtheap_set_error_handler(h(), record_error, &errs_));
	}
	void SetUp() override { init(); }
	void TearDown() override
	{
		EXPECT_TRUE(heap_ok(h()));
		EXPECT_EQ(0, rtheap_destroy(h(), nullptr, nullptr));
	}
	unsigned char *alloc(size_t n)
	{
		auto *p = ucp(rtheap_alloc(h(), n));
		EXPECT_NE(nullptr, p) << n;
		return p;
	}
	// realloc expected to succeed; the content of the first `keep` bytes
	// (filled with `tag` before) checked after.
	unsigned char *resize(void *p, size_t n, size_t keep, uint64_t tag)
	{
		rtt::fill(p, keep, tag);
		auto *q = ucp(rtheap_realloc(h(), p, n));
		EXPECT_NE(nullptr, q) << n;
		if (!q)
			return nullptr;
		EXPECT_GE(rtheap_usable_size(h(), q), n);
		EXPECT_EQ(SIZE_MAX, rtt::verify(q, std::min(keep, n), tag));
		EXPECT_TRUE(heap_ok(h()));
		return q;
	}
};

// ------------------------------------------------------------ C forms

TEST_P(Realloc, NullPointerAllocatesAndSizeZeroReleases)
{
	auto *p = ucp(rtheap_realloc(h(), nullptr, 100));
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(128u, rtheap_usable_size(h(), p));
	const auto st = rtt::stats(h());
	EXPECT_EQ(1u, st.alloc_calls);
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_realloc(h(), p, 0)); // released, as glibc
	EXPECT_EQ(0, errno);
	EXPECT_EQ(-EINVAL, rtheap_check_block(h(), p));
	EXPECT_EQ(1u, rtt::stats(h()).free_calls);
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_realloc(h(), nullptr, 0)); // as rtheap_alloc(0)
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0u, rtt::stats(h()).failed_allocs);
	EXPECT_TRUE(errs_.empty());
}

// ------------------------------------------------------------ buckets

TEST_P(Realloc, BucketBlockStaysWhileItsClassFits)
{
	auto *p = alloc(100); // class 128
	auto *q = resize(p, 128, 100, 1);
	EXPECT_EQ(p, q);
	q = resize(p, 16, 16, 2); // a shrink keeps the whole class
	EXPECT_EQ(p, q);
	EXPECT_EQ(128u, rtheap_usable_size(h(), p));
	q = resize(p, 120, 16, 3);
	EXPECT_EQ(p, q);
	const auto st = rtt::stats(h());
	EXPECT_EQ(1u, st.alloc_calls);
	EXPECT_EQ(128u, st.used);
	EXPECT_EQ(0, rtheap_free(h(), p));
}

TEST_P(Realloc, BucketBlockGrowsByMove)
{
	auto *guard = alloc(16);
	auto *p = alloc(48); // class 64
	auto *q = resize(p, 65, 48, 4);
	EXPECT_NE(p, q);
	EXPECT_EQ(128u, rtheap_usable_size(h(), q));
	EXPECT_EQ(-EINVAL, rtheap_check_block(h(), p)); // the old block is gone
	auto *r = resize(q, 3 * P() + 7, 128, 5); // to a run
	EXPECT_EQ(4 * P(), rtheap_usable_size(h(), r));
	const auto st = rtt::stats(h());
	EXPECT_EQ(2u, st.live_blocks);
	EXPECT_EQ(16 + 4 * P(), st.used);
	EXPECT_EQ(0, rtheap_free(h(), r));
	EXPECT_EQ(0, rtheap_free(h(), guard));
}

// ------------------------------------------------------------ runs: shrink

TEST_P(Realloc, RunShrinksInPlaceGivingItsTailBack)
{
	auto *a = alloc(10 * P());
	auto *g = alloc(P());
	const auto st0 = rtt::stats(h());
	auto *q = resize(a, 3 * P() - 5, 3 * P() - 5, 6);
	EXPECT_EQ(a, q);
	EXPECT_EQ(3 * P(), rtheap_usable_size(h(), a));
	const auto st1 = rtt::stats(h());
	EXPECT_EQ(st0.used - 7 * P(), st1.used);
	EXPECT_EQ(st0.pages_run - 7, st1.pages_run);
	EXPECT_EQ(st0.free_runs + 1, st1.free_runs);
	EXPECT_EQ(st0.alloc_calls, st1.alloc_calls);
	EXPECT_EQ(st0.free_calls, st1.free_calls);
	// the 7 pages are a free run of their own, lowest: taken next
	EXPECT_EQ(a + 3 * P(), rtheap_alloc(h(), 7 * P()));
	EXPECT_TRUE(heap_ok(h()));
	(void)g;
}

TEST_P(Realloc, RunShrinkMergesWithTheFreeRunAfterIt)
{
	auto *a = alloc(10 * P());
	auto *b = alloc(5 * P());
	auto *g = alloc(P());
	ASSERT_EQ(a + 10 * P(), b);
	ASSERT_EQ(0, rtheap_free(h(), b));
	const auto st0 = rtt::stats(h());
	EXPECT_EQ(a, resize(a, 4 * P(), 4 * P(), 7));
	const auto st1 = rtt::stats(h());
	EXPECT_EQ(st0.free_runs, st1.free_runs); // merged: one run of 11 pages
	EXPECT_EQ(a + 4 * P(), rtheap_alloc(h(), 11 * P()));
	(void)g;
}

TEST_P(Realloc, RunShrinksToOnePageBelowHalfAPage)
{
	auto *a = alloc(5 * P());
	EXPECT_EQ(a, resize(a, 10, 10, 8));
	EXPECT_EQ(P(), rtheap_usable_size(h(), a)); // still a run, of one page
	EXPECT_EQ(a, resize(a, P(), 10, 9));
	EXPECT_EQ(P(), rtt::stats(h()).used);
}

// ------------------------------------------------------------ runs: grow

TEST_P(Realloc, RunGrowsInPlaceIntoTheExtentsTailRun)
{
	auto *a = alloc(2 * P()); // the first pages: the tail run follows
	const auto st0 = rtt::stats(h());
	auto *q = resize(a, 20 * P() + 1, 2 * P(), 10);
	EXPECT_EQ(a, q);
	EXPECT_EQ(21 * P(), rtheap_usable_size(h(), a));
	const auto st1 = rtt::stats(h());
	EXPECT_EQ(st0.used + 19 * P(), st1.used);
	EXPECT_EQ(st1.used, st1.peak_used);
	EXPECT_EQ(st0.free_runs, st1.free_runs);
	EXPECT_EQ(st0.alloc_calls, st1.alloc_calls);
	std::memset(a, 0x3c, 21 * P()); // every byte is the caller's
	EXPECT_EQ(0, rtheap_free(h(), a));
	EXPECT_EQ(st0.largest_free + 2 * P(), rtt::stats(h()).largest_free);
}

TEST_P(Realloc, RunGrowsInPlaceIntoAFreeRunPartThenWhole)
{
	auto *a = alloc(4 * P());
	auto *b = alloc(8 * P());
	auto *g = alloc(P());
	ASSERT_EQ(a + 4 * P(), b);
	ASSERT_EQ(0, rtheap_free(h(), b));
	const auto st0 = rtt::stats(h());
	// the head of the free run: its node moves to the remainder
	EXPECT_EQ(a, resize(a, 8 * P(), 4 * P(), 11));
	EXPECT_EQ(st0.free_runs, rtt::stats(h()).free_runs);
	EXPECT_EQ(a, resize(a, 12 * P(), 8 * P(), 12)); // the whole rest
	EXPECT_EQ(st0.free_runs - 1, rtt::stats(h()).free_runs);
	EXPECT_EQ(12 * P(), rtheap_usable_size(h(), a));
	// g follows: no room after a, so the block moves
	auto *m = resize(a, 13 * P(), 12 * P(), 13);
	EXPECT_NE(a, m);
	EXPECT_EQ(-EINVAL, rtheap_check_block(h(), a));
	EXPECT_EQ(0, rtheap_check_block(h(), g));
	EXPECT_EQ(0, rtheap_free(h(), m));
}

TEST_P(Realloc, RunGrowsByMoveWhenTheFreeRunAfterItIsShort)
{
	auto *a = alloc(4 * P());
	auto *b = alloc(2 * P());
	auto *g = alloc(P());
	ASSERT_EQ(0, rtheap_free(h(), b));
	auto *m = resize(a, 7 * P(), 4 * P(), 14); // needs 3, 2 are free
	EXPECT_NE(a, m);
	// the old block went back and merged with the 2 free pages
	EXPECT_EQ(a, rtheap_alloc(h(), 6 * P()));
	(void)g;
}

// ------------------------------------------------------------ failure

TEST_P(Realloc, FailureLeavesTheBlockIntactAndNotifies)
{
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	auto *a = alloc(3 * P());
	auto *g = alloc(P());
	rtt::fill(a, 3 * P(), 15);
	const auto st0 = rtt::stats(h());
	for (size_t n : {kHeap, kHeap * 4, SIZE_MAX / 2, SIZE_MAX}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtheap_realloc(h(), a, n)) << n;
		EXPECT_EQ(ENOMEM, errno);
		ASSERT_FALSE(low.requests.empty());
		EXPECT_EQ(n, low.requests.back());
	}
	EXPECT_EQ(SIZE_MAX, rtt::verify(a, 3 * P(), 15));
	const auto st1 = rtt::stats(h());
	rtt::expect_same_stats(st0, st1, "failed realloc", false);
	EXPECT_EQ(st0.failed_allocs + 4, st1.failed_allocs);
	EXPECT_EQ(3 * P(), rtheap_usable_size(h(), a));
	// armed while free memory is already below the threshold: a failed
	// resize tells of its request once, not of the shortage first
	low.requests.clear();
	ASSERT_EQ(0, rtheap_set_lowmem(h(), kHeap, rtt::LowmemLog::record, &low));
	EXPECT_EQ(nullptr, rtheap_realloc(h(), a, 2 * kHeap));
	ASSERT_EQ(1u, low.requests.size());
	EXPECT_EQ(2 * kHeap, low.requests[0]);
	(void)g;
}

// Growing by 1.5x until the heap is full: in place while the tail run
// lasts; the last failure leaves the block as it was.
TEST_P(Realloc, ExhaustionByGrowthInPlace)
{
	auto *a = alloc(P());
	size_t n = P(), moves = 0;
	for (;;) {
		size_t want = n + n / 2;
		rtt::fill(a, n, want);
		auto *q = ucp(rtheap_realloc(h(), a, want));
		if (!q)
			break;
		moves += q != a;
		a = q;
		ASSERT_EQ(SIZE_MAX, rtt::verify(a, n, want));
		n = want;
	}
	EXPECT_EQ(0u, moves); // alone in the heap: always in place
	EXPECT_EQ(SIZE_MAX, rtt::verify(a, n, n + n / 2));
	const auto st = rtt::stats(h());
	EXPECT_GT(n + n / 2, st.largest_free + st.used);
	EXPECT_EQ(1u, st.live_blocks);
	EXPECT_EQ(0, rtheap_free(h(), a));
}

// The low-memory callback extends the heap with an extent that serves the
// failed request: the retry succeeds, the content moves along.
struct Extender {
	rtheap_t *heap;
	size_t page;
	std::vector<std::unique_ptr<rtt::Mapping>> maps;
	static void cb(rtheap_t *h, size_t, size_t request, void *arg)
	{
		auto *e = static_cast<Extender *>(arg);
		if (!request)
			return;
		size_t sz = RTHEAP_BUFFER_SIZE(request, e->page);
		e->maps.push_back(std::make_unique<rtt::Mapping>(sz));
		EXPECT_EQ(0, rtheap_extend(h, e->maps.back()->data(), sz, RTHEAP_F_ZEROED));
	}
};

TEST_P(Realloc, AutomaticExtensionThroughTheLowMemoryCallback)
{
	Extender ext{h(), P(), {}};
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, Extender::cb, &ext));
	auto *a = alloc(P());
	auto *g = alloc(P()); // a cannot grow in place
	rtt::fill(a, P(), 16);
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_realloc(h(), a, 2 * kHeap));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(1u, ext.maps.size()); // the callback ran, and extended
	auto *q = ucp(rtheap_realloc(h(), a, 2 * kHeap));
	ASSERT_NE(nullptr, q);
	EXPECT_EQ(SIZE_MAX, rtt::verify(q, P(), 16));
	EXPECT_EQ(2u, rtt::stats(h()).extents);
	std::memset(q, 1, 2 * kHeap);
	EXPECT_EQ(0, rtheap_free(h(), q));
	(void)g;
	EXPECT_TRUE(heap_ok(h()));
	EXPECT_EQ(0, rtheap_destroy(h(), nullptr, nullptr));
	init(); // TearDown's heap, before the mappings go
}

// An in-place growth that takes free memory below the threshold calls
// the callback once (request 0), as an allocation does.
TEST_P(Realloc, InPlaceGrowthCrossesTheLowMemoryThreshold)
{
	rtt::LowmemLog low;
	auto *a = alloc(P());
	const auto st = rtt::stats(h());
	ASSERT_EQ(0, rtheap_set_lowmem(h(), st.free - 8 * P(), rtt::LowmemLog::record, &low));
	EXPECT_EQ(a, resize(a, 4 * P(), P(), 17));
	EXPECT_TRUE(low.requests.empty());
	EXPECT_EQ(a, resize(a, 12 * P(), 4 * P(), 18));
	ASSERT_EQ(1u, low.requests.size());
	EXPECT_EQ(0u, low.requests[0]);
	EXPECT_EQ(a, resize(a, 2 * P(), 2 * P(), 19)); // back above: re-armed
	EXPECT_EQ(a, resize(a, 12 * P(), 2 * P(), 20));
	EXPECT_EQ(2u, low.requests.size());
}

// ------------------------------------------------------------ bad pointers

// Every bad pointer: realloc answers NULL with the errno of rtheap_free's
// error, reports the same kind and address, counts it, changes nothing;
// rtheap_free of the same pointer then reports the same.
TEST_P(Realloc, BadPointersAreReportedAsFreeReportsThem)
{
	auto *bucket = alloc(64);
	auto *bucket2 = alloc(64);
	auto *run = alloc(3 * P());
	auto *freed_run = alloc(2 * P());
	auto *g = alloc(P());
	auto *freed_bucket = alloc(64);
	(void)g; // keeps freed_run from merging with the tail run
	ASSERT_EQ(0, rtheap_free(h(), freed_run));
	ASSERT_EQ(0, rtheap_free(h(), freed_bucket));
	rtt::fill(bucket, 64, 21);
	rtt::fill(run, 3 * P(), 22);
	struct Case {
		void *p;
		int err;
		rtheap_error_kind_t kind;
	};
	const Case cases[] = {
		{g_foreign, EFAULT, RTHEAP_ERR_FOREIGN},
		{g_foreign + 17, EFAULT, RTHEAP_ERR_FOREIGN},
		{mem_.data() + 8, EINVAL, RTHEAP_ERR_NOT_BLOCK}, // extent header
		{bucket + 16, EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{bucket + 1, EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{run + 8, EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{run + P(), EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{freed_run, EINVAL, RTHEAP_ERR_DOUBLE_FREE},
		{freed_run + P() + 16, EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{freed_bucket, EINVAL, RTHEAP_ERR_DOUBLE_FREE},
	};
	for (const Case &c : cases) {
		for (size_t n : {size_t{0}, size_t{1}, size_t{64}, 5 * P()}) {
			const auto st0 = rtt::stats(h());
			errs_.clear();
			errno = 0;
			EXPECT_EQ(nullptr, rtheap_realloc(h(), c.p, n));
			EXPECT_EQ(c.err, errno) << c.p << " size " << n;
			ASSERT_EQ(1u, errs_.size()) << c.p << " size " << n;
			EXPECT_EQ(c.kind, errs_[0].kind) << c.p << " size " << n;
			EXPECT_EQ(c.p, errs_[0].addr);
			const auto st1 = rtt::stats(h());
			rtt::expect_same_stats(st0, st1, "bad realloc");
			EXPECT_EQ(st0.errors + 1, st1.errors);
			errs_.clear();
			EXPECT_EQ(-c.err, rtheap_free(h(), c.p));
			ASSERT_EQ(1u, errs_.size());
			EXPECT_EQ(c.kind, errs_[0].kind);
		}
	}
	EXPECT_EQ(SIZE_MAX, rtt::verify(bucket, 64, 21));
	EXPECT_EQ(SIZE_MAX, rtt::verify(run, 3 * P(), 22));
	EXPECT_EQ(0, rtheap_check_block(h(), bucket2));
	// an unusable heap: EINVAL, nothing reported
	rtheap_t dead{};
	errs_.clear();
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_realloc(&dead, bucket, 10));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, rtheap_realloc(nullptr, nullptr, 10));
	EXPECT_TRUE(errs_.empty());
}

// ------------------------------------------------------------ debug mode

TEST_P(Realloc, DebugFillOfTheGrownAndShrunkParts)
{
	ASSERT_EQ(0, rtheap_destroy(h(), nullptr, nullptr));
	init(RTHEAP_F_DEBUG_FILL);
	auto *a = alloc(2 * P());
	auto *g = alloc(P());
	auto *b = alloc(6 * P());
	ASSERT_EQ(0, rtheap_free(h(), b)); // freed: pattern 0xdd
	EXPECT_EQ(a + 3 * P(), b);
	ASSERT_EQ(0, rtheap_free(h(), g));
	auto *q = resize(a, 5 * P(), 2 * P(), 23);
	EXPECT_EQ(a, q);
	for (size_t i = 2 * P(); i < 5 * P(); i++)
		ASSERT_EQ(0xa5, a[i]) << i; // fresh
	EXPECT_EQ(a, resize(a, P(), P(), 24));
	// the pages given back hold the freed pattern: taking them again
	// finds no write after free
	auto *c = alloc(8 * P());
	EXPECT_EQ(a + P(), c);
	EXPECT_TRUE(errs_.empty());
	EXPECT_EQ(0u, rtt::stats(h()).errors);
}

// Debug mode: a free run's node that a resize would follow, overwritten
// (a write after free): the resize is refused, EUCLEAN, reported as
// RTHEAP_ERR_CORRUPT, nothing changed; repaired, it works.
TEST_P(Realloc, DebugCorruptNodeRefusesTheResize)
{
	ASSERT_EQ(0, rtheap_destroy(h(), nullptr, nullptr));
	init(RTHEAP_F_DEBUG_FILL);
	auto *a = alloc(2 * P());
	auto *b = alloc(4 * P());
	auto *c = alloc(4 * P());
	auto *d = alloc(P());
	auto *g = alloc(P());
	ASSERT_EQ(a + 2 * P(), b);
	ASSERT_EQ(c + 4 * P(), d);
	ASSERT_EQ(0, rtheap_free(h(), b));
	ASSERT_EQ(0, rtheap_free(h(), d));
	rtt::fill(a, 2 * P(), 30);
	rtt::fill(c, 4 * P(), 31);
	for (unsigned char *run : {b, d}) {
		auto *node = reinterpret_cast<void **>(run); // prev, next, ext: the first words
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(node, 3 * sizeof(void *));
#endif
		void *saved = node[2];
		node[2] = g_foreign; // its extent
		const auto st0 = rtt::stats(h());
		errs_.clear();
		errno = 0;
		if (run == b) // a grows into b's run
			EXPECT_EQ(nullptr, rtheap_realloc(h(), a, 3 * P()));
		else // c's tail would merge with d's run
			EXPECT_EQ(nullptr, rtheap_realloc(h(), c, P()));
		EXPECT_EQ(EUCLEAN, errno);
		ASSERT_EQ(1u, errs_.size());
		EXPECT_EQ(RTHEAP_ERR_CORRUPT, errs_[0].kind);
		const auto st1 = rtt::stats(h());
		rtt::expect_same_stats(st0, st1, "corrupt node");
		EXPECT_EQ(st0.errors + 1, st1.errors);
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(node, 3 * sizeof(void *));
#endif
		node[2] = saved;
#if RTHEAP_TEST_ASAN
		__asan_poison_memory_region(node, 3 * sizeof(void *));
#endif
	}
	EXPECT_EQ(SIZE_MAX, rtt::verify(a, 2 * P(), 30));
	EXPECT_EQ(SIZE_MAX, rtt::verify(c, 4 * P(), 31));
	errs_.clear();
	EXPECT_EQ(a, rtheap_realloc(h(), a, 3 * P()));
	EXPECT_EQ(c, rtheap_realloc(h(), c, P()));
	EXPECT_TRUE(errs_.empty());
	(void)g;
}

// AddressSanitizer sees a block resized in place: the pages a shrink
// gives back are poisoned at once, those a growth takes are not.
TEST_P(Realloc, AsanSeesTheResizeInPlace)
{
#if RTHEAP_TEST_ASAN
	auto *a = alloc(4 * P()); // the first block: the tail run follows
	EXPECT_EQ(a, rtheap_realloc(h(), a, 2 * P()));
	EXPECT_FALSE(__asan_address_is_poisoned(a + 2 * P() - 1));
	EXPECT_TRUE(__asan_address_is_poisoned(a + 2 * P()));
	EXPECT_TRUE(__asan_address_is_poisoned(a + 4 * P() - 1));
	EXPECT_EQ(a, rtheap_realloc(h(), a, 6 * P()));
	EXPECT_EQ(nullptr, __asan_region_is_poisoned(a, 6 * P()));
	EXPECT_TRUE(__asan_address_is_poisoned(a + 6 * P()));
	EXPECT_EQ(0, rtheap_free(h(), a));
	EXPECT_TRUE(__asan_address_is_poisoned(a + P()));
#else
	GTEST_SKIP() << "AddressSanitizer build only";
#endif
}

// ------------------------------------------------------------ random

// Random resizes among other live blocks: content always kept, heap
// consistent, and many resizes in place.
TEST_P(Realloc, RandomResizesKeepTheContent)
{
	std::mt19937_64 rng(GetParam());
	struct B {
		unsigned char *p;
		size_t n;
		uint64_t tag;
	};
	std::vector<B> v;
	size_t in_place = 0, moved = 0;
	for (int step = 0; step < 4000; step++) {
		size_t k = rng() % 24;
		size_t n = 1 + rng() % (rng() % 4 ? P() : 12 * P());
		if (k >= v.size()) {
			auto *p = ucp(rtheap_alloc(h(), n));
			if (p) {
				v.push_back({p, n, rng()});
				rtt::fill(p, n, v.back().tag);
			}
			continue;
		}
		B &b = v[k];
		ASSERT_EQ(SIZE_MAX, rtt::verify(b.p, b.n, b.tag));
		if (rng() % 8 == 0) {
			ASSERT_EQ(0, rtheap_free(h(), b.p));
			v.erase(v.begin() + static_cast<long>(k));
			continue;
		}
		auto *q = ucp(rtheap_realloc(h(), b.p, n));
		if (!q) {
			ASSERT_EQ(SIZE_MAX, rtt::verify(b.p, b.n, b.tag));
			continue;
		}
		(q == b.p ? in_place : moved)++;
		ASSERT_EQ(SIZE_MAX, rtt::verify(q, std::min(n, b.n), b.tag));
		b = {q, n, rng()};
		rtt::fill(q, n, b.tag);
		if (step % 256 == 0) {
			ASSERT_TRUE(heap_ok(h()));
		}
	}
	EXPECT_GT(in_place, 100u);
	EXPECT_GT(moved, 100u);
	for (auto &b : v)
		ASSERT_EQ(0, rtheap_free(h(), b.p));
	EXPECT_EQ(0u, rtt::stats(h()).used);
}

// ------------------------------------------------------------ calloc

TEST_P(Realloc, CallocZeroesAndChecksOverflow)
{
	auto *d = alloc(3 * P());
	std::memset(d, 0xee, 3 * P());
	ASSERT_EQ(0, rtheap_free(h(), d));
	auto *z = ucp(rtheap_calloc(h(), 3, P()));
	ASSERT_EQ(d, z); // the dirty pages again
	for (size_t i = 0; i < 3 * P(); i++)
		ASSERT_EQ(0, z[i]);
	auto *s = alloc(24);
	std::memset(s, 0xee, 24);
	ASSERT_EQ(0, rtheap_free(h(), s));
	auto *zs = ucp(rtheap_calloc(h(), 6, 4));
	ASSERT_EQ(s, zs);
	for (size_t i = 0; i < 32; i++)
		ASSERT_EQ(0, zs[i]);
	const auto st0 = rtt::stats(h());
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	const size_t over[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {SIZE_MAX / 2 + 1, 2},
	                          {size_t{1} << (sizeof(size_t) * 4), size_t{1} << (sizeof(size_t) * 4)}};
	for (const auto &o : over) {
		errno = 0;
		EXPECT_EQ(nullptr, rtheap_calloc(h(), o[0], o[1]));
		EXPECT_EQ(ENOMEM, errno);
	}
	EXPECT_TRUE(low.requests.empty()); // no extension can help
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_calloc(h(), 0, 100));
	EXPECT_EQ(nullptr, rtheap_calloc(h(), 100, 0));
	EXPECT_EQ(0, errno);
	rtt::expect_same_stats(st0, rtt::stats(h()), "calloc overflow");
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_calloc(h(), 2, kHeap)); // too large: counted
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(st0.failed_allocs + 1, rtt::stats(h()).failed_allocs);
	ASSERT_EQ(1u, low.requests.size());
	EXPECT_EQ(2 * kHeap, low.requests[0]);
	rtheap_t dead{};
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_calloc(&dead, 1, 1));
	EXPECT_EQ(EINVAL, errno);
}

// ------------------------------------------------------------ aligned_alloc

TEST_P(Realloc, AlignedAllocBadAlignments)
{
	const auto st0 = rtt::stats(h());
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	const size_t bad[] = {0, 3, 24, 48, 3 * P(), RTHEAP_MAX_ALIGN + 1,
	                      RTHEAP_MAX_ALIGN * 2, SIZE_MAX / 2 + 1, SIZE_MAX};
	for (size_t a : bad) {
		errno = 0;
		EXPECT_EQ(nullptr, rtheap_aligned_alloc(h(), a, 100)) << a;
		EXPECT_EQ(EINVAL, errno) << a;
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_aligned_alloc(h(), 64, 0));
	EXPECT_EQ(0, errno);
	EXPECT_TRUE(low.requests.empty());
	rtt::expect_same_stats(st0, rtt::stats(h()), "bad alignment");
	// a good alignment this heap cannot serve: counted, notified
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_aligned_alloc(h(), RTHEAP_MAX_ALIGN, 100));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(st0.failed_allocs + 1, rtt::stats(h()).failed_allocs);
	ASSERT_EQ(1u, low.requests.size());
	EXPECT_EQ(100u, low.requests[0]);
	rtheap_t dead{};
	errno = 0;
	EXPECT_EQ(nullptr, rtheap_aligned_alloc(&dead, 64, 1));
	EXPECT_EQ(EINVAL, errno);
}

INSTANTIATE_TEST_SUITE_P(Pages, Realloc, ::testing::Values(size_t{256}, size_t{4096}));

// Every power of two from 1 to RTHEAP_MAX_ALIGN, on a heap large enough
// for the largest (a reserved mapping: only the pages the heap writes
// are touched).  Under the sanitizers, whose shadow of a 1 GiB page array
// would be written in full, up to 64 MiB.
TEST(AlignedAlloc, EveryAlignmentUpToTheMaximum)
{
	const size_t P = 4096;
	const size_t top = RTHEAP_TEST_SANITIZED ? size_t{1} << 26 : RTHEAP_MAX_ALIGN;
	const size_t sz = RTHEAP_BUFFER_SIZE(top + 64 * P, P);
	rtt::Mapping mem(sz, true);
	if (!mem.ok())
		GTEST_SKIP() << "no address space for " << sz << " bytes";
	auto h = rtt::new_heap();
	auto cfg = rtt::config(P, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	ASSERT_EQ(0, rtheap_init(h.get(), mem.data(), sz, &cfg));
	auto *low = rtheap_alloc(h.get(), 100); // the run starts off any alignment
	ASSERT_NE(nullptr, low);
	for (size_t a = 1; a <= top; a <<= 1) {
		for (size_t n : {size_t{1}, size_t{100}, P, 3 * P + 5}) {
			auto *p = ucp(rtheap_aligned_alloc(h.get(), a, n));
			ASSERT_NE(nullptr, p) << "align " << a << " size " << n;
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % a);
			EXPECT_GE(rtheap_usable_size(h.get(), p), n);
			std::memset(p, 0x77, n);
			EXPECT_EQ(0, rtheap_free(h.get(), p));
		}
	}
	EXPECT_EQ(0, rtheap_free(h.get(), low));
	EXPECT_TRUE(heap_ok(h.get()));
	const auto st = rtt::stats(h.get());
	EXPECT_EQ(0u, st.live_blocks);
	EXPECT_EQ(0u, st.failed_allocs);
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

} // namespace
