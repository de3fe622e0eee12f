/* SPDX-License-Identifier: MIT */
// Unit tests of every function of rtheap.h, used correctly (bad input:
// test_errors.cc, one case per row of docs/errors.md).
#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "test_common.h"

using rtt::expect_same_stats;
using rtt::heap_ok;
using rtt::stats;

namespace {

constexpr size_t kHeap = 256 * 1024;

// ---------------------------------------------------------------- good fit

// The rule rtheap.h states for rtheap_alloc: a request of n pages is served
// whenever a free run of at least fit_pages(n) pages exists (n rounded up
// to its run list's granularity: n itself below 32 pages, a multiple of
// 2^(floor(log2 n) - 4) above, so less than n + n/16); a shorter run that
// still holds n pages is used only if it heads n's own list.
uint32_t fit_pages(uint32_t n)
{
	if (n < 32)
		return n;
	unsigned f = 31u - static_cast<unsigned>(__builtin_clz(n));
	uint32_t w = 1u << (f - 4);
	return (n + w - 1) / w * w;
}

// Free runs of `first` then `second` pages (separated by live pages, the
// first one at the lower address), the rest of the heap allocated: returns
// what rtheap_alloc(want pages) gives.  Of two runs on one list, the lower
// one is the head, whatever the order of release (rtheap_alloc).
bool serves(uint32_t first, uint32_t second, uint32_t want)
{
	constexpr size_t kP = 256;
	const uint32_t pages = first + second + 2 + 8;
	rtt::Mapping m(RTHEAP_BUFFER_SIZE(size_t{pages} * kP, kP));
	rtheap_t h{};
	EXPECT_EQ(0, rtheap_init(&h, m.data(), m.size(), nullptr));
	const size_t usable = stats(&h).usable / kP;
	void *a = rtheap_alloc(&h, first * kP);
	void *s1 = rtheap_alloc(&h, kP);
	void *c = rtheap_alloc(&h, second * kP);
	void *s2 = rtheap_alloc(&h, kP);
	void *rest = rtheap_alloc(&h, (usable - first - second - 2) * kP);
	EXPECT_TRUE(a && s1 && c && s2 && rest);
	EXPECT_EQ(0u, stats(&h).free);
	EXPECT_EQ(0, rtheap_free(&h, a)); // pushed first: the head of its list
	EXPECT_EQ(0, rtheap_free(&h, c)); // pushed last, and higher: second
	void *p = rtheap_alloc(&h, want * kP);
	EXPECT_TRUE(heap_ok(&h));
	rtheap_destroy(&h, nullptr, nullptr);
	return p != nullptr;
}

TEST(GoodFit, RuleAndItsLimit)
{
	EXPECT_EQ(88u, fit_pages(86));
	EXPECT_EQ(31u, fit_pages(31));
	EXPECT_EQ(32u, fit_pages(32));
	EXPECT_EQ(34u, fit_pages(33));
	EXPECT_EQ(1088u, fit_pages(1025));
	// The case of the cleanup issue: runs of 86 and 84 pages on one list
	// ([84, 88)), the 84-page run at its head: 86 pages are refused, as
	// the rule allows (no run of fit_pages(86) = 88 pages).
	EXPECT_FALSE(serves(84, 86, 86));
	// The head holds the request: served.
	EXPECT_TRUE(serves(86, 84, 86));
	// A run of fit_pages(n) pages anywhere: served, whatever the order.
	EXPECT_TRUE(serves(84, 88, 86));
	EXPECT_TRUE(serves(88, 84, 86));
	// Below 32 pages the lists are exact: any run that holds n serves it.
	EXPECT_TRUE(serves(30, 29, 30));
	EXPECT_TRUE(serves(29, 31, 30));
	// largest_free is always servable: it is a list's lower bound.
	for (uint32_t n : {33u, 86u, 100u, 250u}) {
		constexpr size_t kP = 256;
		rtt::Mapping m(RTHEAP_BUFFER_SIZE(size_t{n} * kP, kP));
		rtheap_t h{};
		ASSERT_EQ(0, rtheap_init(&h, m.data(), m.size(), nullptr));
		const size_t lf = stats(&h).largest_free;
		// one free run: the head of the highest list, all of it
		EXPECT_EQ(stats(&h).usable, lf) << n;
		EXPECT_NE(nullptr, rtheap_alloc(&h, lf)) << n;
		rtheap_destroy(&h, nullptr, nullptr);
	}
}

// ---------------------------------------------------------------- placement

// Placement (docs/design.md, section 3): of the heads of the first two
// lists that fit the lower is taken, and a released run goes behind a
// lower head; the run that ends the extent counts as the highest (its
// node is in the extent header, below the pages, and is told from a page
// node by its address alone).  The header's node moves with the buffer's
// address: each offset below places it differently (kP - 64: the first
// place it could take, 64 bytes in, would be page aligned).
TEST(Placement, TheRunEndingTheExtentComesLast)
{
	constexpr size_t kP = 256;
	rtt::AlignedMapping m(1 << 18, 4096);
	ASSERT_TRUE(m.ok());
	for (size_t off : {size_t{0}, size_t{8}, size_t{16}, size_t{24}, kP - 64, kP - 56}) {
		rtheap_t h{};
		ASSERT_EQ(0, rtheap_init(&h, m.data() + off, (1 << 18) - 256, nullptr));
		const size_t np = stats(&h).usable / kP;
		auto *low = static_cast<uint8_t *>(rtheap_alloc(&h, 5 * kP)); // pages 0..4
		void *sep = rtheap_alloc(&h, kP);                                // page 5
		void *big = rtheap_alloc(&h, (np - 9) * kP);                     // up to np - 4
		auto *top = static_cast<uint8_t *>(rtheap_alloc(&h, 3 * kP));  // the last 3
		ASSERT_TRUE(low && sep && big && top) << off;
		ASSERT_EQ(0, rtheap_free(&h, low));
		// Take: the lists of 3 (the top run: it ends the extent) and 5
		// pages (the bottom run) are the first two that fit 2 pages.
		ASSERT_EQ(0, rtheap_free(&h, top));
		auto *p = static_cast<uint8_t *>(rtheap_alloc(&h, 2 * kP));
		EXPECT_TRUE(p >= low && p < low + 5 * kP) << off;
		// Push: the rest of the bottom run (3 pages) went to the head of
		// the list of 3, in front of the top run ...
		EXPECT_EQ(low, rtheap_alloc(&h, 3 * kP)) << off;
		EXPECT_EQ(top, rtheap_alloc(&h, 3 * kP)) << off;
		// ... and the top run, released after the bottom one, goes
		// behind it.
		ASSERT_EQ(0, rtheap_free(&h, low));
		ASSERT_EQ(0, rtheap_free(&h, top));
		EXPECT_EQ(low, rtheap_alloc(&h, 3 * kP)) << off;
		rtheap_destroy(&h, nullptr, nullptr);
	}
}

// ---------------------------------------------------------------- init

// (Rejected page sizes, buffers, lock modes and flags: ErrInit in
// test_errors.cc.)
TEST(Init, PageSizesAndTheDefault)
{
	rtt::AlignedMapping m(1 << 20, 32768);
	// Powers of two from 8 to the maximum; below 256 rounds up to 256.
	for (size_t p = 8; p <= RTHEAP_MAX_PAGE; p <<= 1) {
		auto h = rtt::new_heap();
		auto cfg = rtt::config(p);
		ASSERT_EQ(0, rtheap_init(h.get(), m.data(), 1 << 20, &cfg)) << "page " << p;
		size_t want = std::max<size_t>(p, RTHEAP_MIN_PAGE);
		EXPECT_EQ(want, rtheap_page_size(h.get())) << "page " << p;
		EXPECT_EQ(want, stats(h.get()).page_size);
		EXPECT_TRUE(heap_ok(h.get()));
		EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	}
	// 0 means the default, and a NULL config too.
	auto h = rtt::new_heap();
	auto cfg = rtt::config(0);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), 1 << 20, &cfg));
	EXPECT_EQ((size_t)RTHEAP_DEFAULT_PAGE, rtheap_page_size(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), 1 << 20, nullptr));
	EXPECT_EQ((size_t)RTHEAP_DEFAULT_PAGE, rtheap_page_size(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

TEST(Init, EveryLockMode)
{
	rtt::Mapping m(kHeap);
	auto h = rtt::new_heap();
	rtheap_config cfg;
	for (auto lock : {RTHEAP_LOCK_PI_MUTEX, RTHEAP_LOCK_NONE, RTHEAP_LOCK_SPIN,
	                  RTHEAP_LOCK_SHARED}) {
		cfg = rtt::config(256, lock);
		int err = rtheap_init(h.get(), m.data(), kHeap, &cfg);
		if (lock == RTHEAP_LOCK_SHARED && err == -ENOTSUP)
			continue; /* no robust process-shared PI mutex here */
		ASSERT_EQ(0, err) << "lock " << lock;
		void *p = rtheap_alloc(h.get(), 100);
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(0, rtheap_free(h.get(), p));
		EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	}
}

TEST(Init, UsableMatchesOverheadAndStatsAreFresh)
{
	for (size_t page : {256u, 512u, 4096u, 32768u}) {
		for (size_t sz : {(size_t)300000, (size_t)(1 << 20), (size_t)(1 << 20) + 77}) {
			rtt::AlignedMapping m(sz, page);
			auto h = rtt::new_heap();
			auto cfg = rtt::config(page);
			ASSERT_EQ(0, rtheap_init(h.get(), m.data(), sz, &cfg));
			auto st = stats(h.get());
			EXPECT_EQ(page, st.page_size);
			EXPECT_EQ(1u, st.extents);
			EXPECT_EQ(sz, st.size);
			EXPECT_EQ(sz - rtheap_overhead(sz, page), st.usable) << "page " << page << " size " << sz;
			EXPECT_EQ(0u, st.usable % page);
			EXPECT_EQ(0u, st.used);
			EXPECT_EQ(st.usable, st.free);
			EXPECT_EQ(0u, st.peak_used);
			EXPECT_EQ(1u, st.free_runs);
			// one free run: all of it is servable (rt_runs_largest)
			EXPECT_EQ(st.usable, st.largest_free);
			EXPECT_EQ(0u, st.pages_bucket);
			EXPECT_EQ(0u, st.pages_run);
			EXPECT_EQ(0u, st.live_blocks);
			EXPECT_EQ(0u, st.alloc_calls);
			EXPECT_EQ(0u, st.free_calls);
			EXPECT_EQ(0u, st.failed_allocs);
			EXPECT_EQ(0u, st.errors);
			for (int c = 0; c < RTHEAP_NR_CLASSES; c++) {
				EXPECT_EQ(0u, st.class_live[c]);
				EXPECT_EQ(0u, st.class_pages[c]);
			}
			// largest_free is a promise: that allocation succeeds.
			void *p = rtheap_alloc(h.get(), st.largest_free);
			EXPECT_NE(nullptr, p) << "page " << page << " size " << sz;
			EXPECT_TRUE(heap_ok(h.get()));
			EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
		}
	}
}

// ------------------------------------------------------ fixture: a heap

class HeapTest : public ::testing::Test {
protected:
	size_t page_ = 256;
	rtt::Mapping mem_{kHeap};
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	bool live_ = false;

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		auto cfg = rtt::config(page_, RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(h_.get(), mem_.data(), kHeap, &cfg));
		live_ = true;
	}
	void TearDown() override
	{
		if (live_) {
			EXPECT_EQ(0, rtheap_destroy(h_.get(), nullptr, nullptr));
		}
	}
	rtheap_t *h() { return h_.get(); }
	// A buffer that lives until after TearDown (destroy reads the extents).
	unsigned char *extra(size_t n)
	{
		extra_.emplace_back(new rtt::Mapping(n));
		return extra_.back()->data();
	}
	std::vector<std::unique_ptr<rtt::Mapping>> extra_;
};

// ------------------------------------------------------------ allocation

TEST_F(HeapTest, RoundingAlignmentAndUsableSize)
{
	const size_t reqs[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
	                       200, 255, 256, 257, 511, 512, 513, 1000, 4096, 4097, 10000};
	std::vector<void *> ps;
	for (size_t r : reqs) {
		size_t want = rtt::expected_round(r, page_);
		EXPECT_EQ(want, rtheap_round_size(h(), r)) << "request " << r;
		void *p = rtheap_alloc(h(), r);
		ASSERT_NE(nullptr, p) << "request " << r;
		EXPECT_EQ(want, rtheap_usable_size(h(), p)) << "request " << r;
		EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % rtt::expected_align(want, page_))
		    << "request " << r << " at " << p;
		EXPECT_EQ(0, rtheap_check_block(h(), p));
		std::memset(p, 0x3c, want); // the whole usable size is writable
		ps.push_back(p);
	}
	EXPECT_TRUE(heap_ok(h()));
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	EXPECT_EQ(0u, stats(h()).used);
	// (sizes 0 and near SIZE_MAX: ErrHeap.AllocSizeZero, AllocSizeNearSizeMax)
}

TEST_F(HeapTest, ExhaustionFailsThenRecovers)
{
	std::vector<void *> ps;
	for (;;) {
		void *p = rtheap_alloc(h(), page_);
		if (!p)
			break;
		ps.push_back(p);
	}
	auto st = stats(h());
	EXPECT_EQ(st.usable / page_, ps.size());
	EXPECT_EQ(st.usable, st.used);
	EXPECT_EQ(0u, st.free);
	EXPECT_EQ(nullptr, rtheap_alloc(h(), 16));
	EXPECT_EQ(0u, st.free_runs);
	EXPECT_TRUE(heap_ok(h()));
	EXPECT_EQ(0, rtheap_free(h(), ps.back()));
	ps.pop_back();
	void *q = rtheap_alloc(h(), 16);
	EXPECT_NE(nullptr, q);
	EXPECT_EQ(0, rtheap_free(h(), q));
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	st = stats(h());
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(1u, st.free_runs);
	EXPECT_TRUE(heap_ok(h()));
}

TEST(Zalloc, ZeroesOverDirtyBuffer)
{
	for (size_t page : {256u, 4096u}) {
		rtt::Mapping m(kHeap);
		std::memset(m.data(), 0xff, kHeap);
		auto h = rtt::new_heap();
		auto cfg = rtt::config(page);
		ASSERT_EQ(0, rtheap_init(h.get(), m.data(), kHeap, &cfg));
		std::vector<std::pair<unsigned char *, size_t>> blocks;
		for (size_t sz : {1u, 16u, 24u, 100u, 128u, 200u, 256u, 1000u, 2048u, 5000u, 20000u}) {
			auto *p = static_cast<unsigned char *>(rtheap_zalloc(h.get(), sz));
			ASSERT_NE(nullptr, p) << sz;
			size_t us = rtheap_usable_size(h.get(), p);
			ASSERT_GE(us, sz);
			for (size_t i = 0; i < sz; i++) {
				ASSERT_EQ(0, p[i]) << "size " << sz << " byte " << i;
			}
			blocks.emplace_back(p, us);
		}
		// Dirty, free, and zalloc again: still zero.
		for (auto &b : blocks) {
			std::memset(b.first, 0xee, b.second);
			ASSERT_EQ(0, rtheap_free(h.get(), b.first));
		}
		for (size_t sz : {16u, 100u, 256u, 5000u}) {
			auto *p = static_cast<unsigned char *>(rtheap_zalloc(h.get(), sz));
			ASSERT_NE(nullptr, p);
			for (size_t i = 0; i < sz; i++) {
				ASSERT_EQ(0, p[i]) << "reuse, size " << sz << " byte " << i;
			}
		}
		EXPECT_TRUE(heap_ok(h.get()));
		EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	}
}

// Debug mode checks the list nodes kept in free memory before following
// them: a write after free into a node is reported and the call refused,
// instead of the heap chasing garbage pointers.
static std::vector<rtheap_error_kind_t> g_kinds;
static void record_kind(rtheap_t *, rtheap_error_kind_t k, const void *, void *)
{
	g_kinds.push_back(k);
}

TEST(DebugFill, OverwrittenListNodesAreReportedNotFollowed)
{
	if (RTHEAP_TEST_SANITIZED)
		GTEST_SKIP() << "ASan reports the write itself (tests/asan)";
	rtt::Mapping m(kHeap);
	auto h = rtt::new_heap();
	auto cfg = rtt::config(256, RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), kHeap, &cfg));
	g_kinds.clear();
	ASSERT_EQ(0, rtheap_set_error_handler(h.get(), record_kind, nullptr));

	// Bucket node: a full page of 16-byte blocks, one freed and overwritten.
	void *b[16];
	for (auto &p : b)
		ASSERT_NE(nullptr, p = rtheap_alloc(h.get(), 16));
	ASSERT_EQ(0, rtheap_free(h.get(), b[5]));
	std::memset(b[5], 0x41, 16);
	auto before = stats(h.get());
	EXPECT_EQ(nullptr, rtheap_alloc(h.get(), 16));
	ASSERT_EQ(1u, g_kinds.size());
	EXPECT_EQ(RTHEAP_ERR_CORRUPT, g_kinds[0]);
	EXPECT_EQ(before.used, stats(h.get()).used);

	// Run node: a freed 2-page run overwritten, then its neighbour freed.
	void *r = rtheap_alloc(h.get(), 512), *s = rtheap_alloc(h.get(), 512);
	void *t = rtheap_alloc(h.get(), 512);
	ASSERT_TRUE(r && s && t);
	ASSERT_EQ(0, rtheap_free(h.get(), r));
	std::memset(r, 0x41, 8);
	EXPECT_EQ(-EUCLEAN, rtheap_free(h.get(), s));
	EXPECT_EQ(0, rtheap_check_block(h.get(), s)); // still allocated
	ASSERT_EQ(2u, g_kinds.size());
	EXPECT_EQ(RTHEAP_ERR_CORRUPT, g_kinds[1]);
	// The heap's own check sees the damage too.
	EXPECT_EQ(-EUCLEAN, rtheap_check(h.get(), nullptr));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

TEST(DebugFill, FreshBlocksCarryThePattern)
{
	rtt::Mapping m(kHeap);
	auto h = rtt::new_heap();
	auto cfg = rtt::config(256, RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), kHeap, &cfg));
	for (size_t sz : {16u, 100u, 1000u}) {
		auto *p = static_cast<unsigned char *>(rtheap_alloc(h.get(), sz));
		ASSERT_NE(nullptr, p);
		for (size_t i = 0; i < sz; i++) {
			ASSERT_EQ(0xa5, p[i]) << "size " << sz << " byte " << i;
		}
		std::memset(p, 0, sz);
		EXPECT_EQ(0, rtheap_free(h.get(), p));
	}
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// -------------------------------------------------------- test_and_free

static int g_ck_calls;
static void *g_ck_arg;
static int ck_refuse(void *b)
{
	g_ck_calls++;
	g_ck_arg = b;
	return -EBUSY;
}
static int ck_accept(void *b)
{
	g_ck_calls++;
	g_ck_arg = b;
	return 0;
}
static int ck_positive(void *)
{
	g_ck_calls++;
	return 7;
}

TEST_F(HeapTest, TestAndFree)
{
	for (size_t sz : {24u, 1000u}) {
		void *p = rtheap_alloc(h(), sz);
		ASSERT_NE(nullptr, p);
		size_t n = rtheap_usable_size(h(), p);
		rtt::fill(p, n, 42);
		auto before = stats(h());
		g_ck_calls = 0;
		EXPECT_EQ(-EBUSY, rtheap_test_and_free(h(), p, ck_refuse));
		EXPECT_EQ(1, g_ck_calls);
		EXPECT_EQ(p, g_ck_arg);
		EXPECT_EQ(7, rtheap_test_and_free(h(), p, ck_positive));
		expect_same_stats(before, stats(h()), "refused test_and_free");
		EXPECT_EQ(0, rtheap_check_block(h(), p));
		EXPECT_EQ(SIZE_MAX, rtt::verify(p, n, 42));
		EXPECT_TRUE(heap_ok(h()));
		g_ck_calls = 0;
		EXPECT_EQ(0, rtheap_test_and_free(h(), p, ck_accept));
		EXPECT_EQ(1, g_ck_calls);
		EXPECT_EQ(p, g_ck_arg);
		EXPECT_EQ(-EINVAL, rtheap_check_block(h(), p));
		EXPECT_EQ(before.used - n, stats(h()).used);
	}
	// NULL checker behaves as free.
	void *q = rtheap_alloc(h(), 64);
	ASSERT_NE(nullptr, q);
	EXPECT_EQ(0, rtheap_test_and_free(h(), q, nullptr));
	EXPECT_EQ(-EINVAL, rtheap_check_block(h(), q));
	EXPECT_EQ(0u, stats(h()).used);
	EXPECT_TRUE(heap_ok(h()));
}

// ---------------------------------------------------------- statistics

TEST_F(HeapTest, StatsFollowARunningModel)
{
	struct B {
		void *p;
		size_t n;
	};
	std::vector<B> live;
	size_t used = 0, peak = 0, allocs = 0, frees = 0, fails = 0, pages_run = 0;
	size_t class_live[RTHEAP_NR_CLASSES] = {};
	std::mt19937_64 rng(7);
	auto check = [&](const char *where) {
		auto st = stats(h());
		EXPECT_EQ(used, st.used) << where;
		EXPECT_EQ(st.usable - used, st.free) << where;
		EXPECT_EQ(peak, st.peak_used) << where;
		EXPECT_EQ(live.size(), st.live_blocks) << where;
		EXPECT_EQ(allocs, st.alloc_calls) << where;
		EXPECT_EQ(frees, st.free_calls) << where;
		EXPECT_EQ(fails, st.failed_allocs) << where;
		EXPECT_EQ(pages_run, st.pages_run) << where;
		size_t pb = 0;
		for (int c = 0; c < RTHEAP_NR_CLASSES; c++) {
			EXPECT_EQ(class_live[c], st.class_live[c]) << where << " class " << c;
			size_t per_page = page_ / (16u << c);
			if (c < RTHEAP_NR_CLASSES && (16u << c) <= page_ / 2) {
				// enough pages for the live blocks, no empty page kept
				EXPECT_GE(st.class_pages[c] * per_page, class_live[c]) << where;
				EXPECT_LE(st.class_pages[c], class_live[c]) << where;
			} else {
				EXPECT_EQ(0u, st.class_pages[c]) << where;
			}
			pb += st.class_pages[c];
		}
		EXPECT_EQ(pb, st.pages_bucket) << where;
		EXPECT_LE((st.pages_bucket + st.pages_run) * page_, st.usable) << where;
		EXPECT_TRUE(heap_ok(h())) << where;
	};
	for (int i = 0; i < 3000; i++) {
		bool do_alloc = live.empty() || rng() % 100 < 55;
		if (do_alloc) {
			size_t sz = 1 + rng() % (rng() % 4 == 0 ? 5000 : 200);
			void *p = rtheap_alloc(h(), sz);
			if (!p) {
				fails++;
				continue;
			}
			size_t n = rtheap_usable_size(h(), p);
			ASSERT_EQ(rtt::expected_round(sz, page_), n);
			live.push_back(B{p, n});
			used += n;
			peak = std::max(peak, used);
			allocs++;
			if (n <= page_ / 2)
				class_live[rtt::class_of(n)]++;
			else
				pages_run += n / page_;
		} else {
			size_t k = rng() % live.size();
			B b = live[k];
			live[k] = live.back();
			live.pop_back();
			ASSERT_EQ(0, rtheap_free(h(), b.p));
			used -= b.n;
			frees++;
			if (b.n <= page_ / 2)
				class_live[rtt::class_of(b.n)]--;
			else
				pages_run -= b.n / page_;
		}
		if (i % 100 == 0)
			check("during");
	}
	// A failure is counted.
	EXPECT_EQ(nullptr, rtheap_alloc(h(), kHeap));
	fails++;
	check("after a failure");
	while (!live.empty()) {
		ASSERT_EQ(0, rtheap_free(h(), live.back().p));
		if (live.back().n <= page_ / 2)
			class_live[rtt::class_of(live.back().n)]--;
		else
			pages_run -= live.back().n / page_;
		used -= live.back().n;
		live.pop_back();
		frees++;
	}
	check("all freed");
	auto st = stats(h());
	EXPECT_EQ(0u, st.pages_bucket);
	EXPECT_EQ(1u, st.free_runs);
	EXPECT_EQ(st.usable, st.free);
	EXPECT_EQ(st.usable, st.largest_free); // one free run again
	// get_stats argument checks.
	EXPECT_EQ(-EINVAL, rtheap_get_stats(h(), nullptr));
}

TEST_F(HeapTest, BucketPagesPerClass)
{
	// 17 blocks of 16 B need exactly 2 pages of 256 B (16 blocks each).
	std::vector<void *> ps;
	for (int i = 0; i < 17; i++)
		ps.push_back(rtheap_alloc(h(), 16));
	for (void *p : ps) {
		ASSERT_NE(nullptr, p);
	}
	auto st = stats(h());
	EXPECT_EQ(17u, st.class_live[0]);
	EXPECT_EQ(2u, st.class_pages[0]);
	EXPECT_EQ(2u, st.pages_bucket);
	EXPECT_EQ(17u * 16u, st.used);
	// Two 128 B blocks share one page.
	void *a = rtheap_alloc(h(), 128), *b = rtheap_alloc(h(), 128);
	ASSERT_NE(nullptr, a);
	ASSERT_NE(nullptr, b);
	st = stats(h());
	EXPECT_EQ(1u, st.class_pages[3]);
	EXPECT_EQ(2u, st.class_live[3]);
	EXPECT_EQ(3u, st.pages_bucket);
	EXPECT_EQ(0, rtheap_free(h(), a));
	EXPECT_EQ(0, rtheap_free(h(), b));
	st = stats(h());
	EXPECT_EQ(0u, st.class_pages[3]);
	EXPECT_EQ(2u, st.pages_bucket);
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	st = stats(h());
	EXPECT_EQ(0u, st.pages_bucket);
	EXPECT_EQ(1u, st.free_runs);
	EXPECT_TRUE(heap_ok(h()));
}

// ------------------------------------------------------- overhead etc.

// rtheap_overhead() is exact for a page-aligned buffer; at another 8-byte
// alignment the padding before the page array differs, by less than a
// page, so the buffer holds at most one page fewer or one more.
TEST(Overhead, ExactWhenPageAlignedWithinOnePageOtherwise)
{
	for (size_t page : {256u, 1024u}) {
		rtt::AlignedMapping mem(1 << 20, page);
		ASSERT_TRUE(mem.ok());
		for (size_t sz = 4 * page; sz < 64 * page; sz += 52) {
			const size_t o = rtheap_overhead(sz, page);
			ASSERT_LT(o, sz);
			const size_t want = (sz - o) / page;
			for (size_t off = 0; off < page; off += 8) {
				auto h = rtt::new_heap();
				auto cfg = rtt::config(page);
				ASSERT_EQ(0, rtheap_init(h.get(), mem.data() + off, sz, &cfg));
				const size_t got = rtt::stats(h.get()).usable / page;
				if (off == 0) {
					ASSERT_EQ(want, got) << "size " << sz;
				} else {
					ASSERT_LE(got, want + 1) << "size " << sz << " offset " << off;
					ASSERT_GE(got + 1, want) << "size " << sz << " offset " << off;
				}
				ASSERT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
			}
		}
	}
}

TEST(Overhead, ValuesAndVersion)
{
	for (size_t page : {256u, 512u, 4096u, 32768u}) {
		for (size_t sz : {(size_t)4096, (size_t)65536, (size_t)100000, (size_t)(1 << 20),
		                  (size_t)(1 << 24) + 123}) {
			size_t o = rtheap_overhead(sz, page);
			EXPECT_LE(o, sz);
			if (o < sz) {
				EXPECT_EQ(0u, (sz - o) % page) << page << " " << sz;
				EXPECT_GE(o, (size_t)RTHEAP_EXTENT_HDR);
			}
		}
		// No page fits: everything is overhead.
		EXPECT_EQ((size_t)100, rtheap_overhead(100, page));
		EXPECT_EQ((size_t)RTHEAP_EXTENT_HDR, rtheap_overhead(RTHEAP_EXTENT_HDR, page));
	}
	// Page size 0 is the default page size, as for rtheap_init.
	for (size_t sz : {(size_t)4096, (size_t)100000, (size_t)(1 << 20)})
		EXPECT_EQ(rtheap_overhead(sz, RTHEAP_DEFAULT_PAGE), rtheap_overhead(sz, 0)) << sz;
	// Small page sizes are rounded up as rtheap_init does.
	EXPECT_EQ(rtheap_overhead(1 << 20, 256), rtheap_overhead(1 << 20, 8));
	EXPECT_EQ(rtheap_overhead(1 << 20, 256), rtheap_overhead(1 << 20, 64));
	const char *v = rtheap_version();
	ASSERT_NE(nullptr, v);
	EXPECT_GT(std::strlen(v), 0u);
	EXPECT_TRUE(v[0] >= '0' && v[0] <= '9') << v;
}

// -------------------------------------------------------------- extend

TEST_F(HeapTest, ExtendAddsAnExtent)
{
	struct {
		unsigned char *p;
		unsigned char *data() const { return p; }
	} m2{extra(1 << 20)};
	// (rejected extends: ErrHeap.Extend* in test_errors.cc)
	auto st0 = stats(h());
	ASSERT_EQ(0, rtheap_extend(h(), m2.data(), 1 << 20, RTHEAP_F_ZEROED));
	auto st = stats(h());
	EXPECT_EQ(2u, st.extents);
	EXPECT_EQ(kHeap + (1u << 20), st.size);
	EXPECT_EQ(st0.usable + (1 << 20) - rtheap_overhead(1 << 20, page_), st.usable);
	EXPECT_EQ(2u, st.free_runs);
	EXPECT_TRUE(heap_ok(h()));
	// Only the new extent can hold this block.
	size_t big = 600 * 1024;
	auto *p = static_cast<unsigned char *>(rtheap_alloc(h(), big));
	ASSERT_NE(nullptr, p);
	EXPECT_GE(p, m2.data());
	EXPECT_LE(p + big, m2.data() + (1 << 20));
	std::memset(p, 1, big);
	EXPECT_EQ(0, rtheap_free(h(), p));
	EXPECT_TRUE(heap_ok(h()));
}

// (destroy and its flush routine: ErrDestroy in test_errors.cc)

struct LowRec {
	size_t free_bytes;
	size_t request;
};

static void on_low(rtheap_t *, size_t free_bytes, size_t request, void *arg)
{
	static_cast<std::vector<LowRec> *>(arg)->push_back(LowRec{free_bytes, request});
}

TEST_F(HeapTest, LowMemoryCallback)
{
	std::vector<LowRec> log;
	auto st = stats(h());
	const size_t thr = st.usable / 2;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), thr, on_low, &log));
	std::vector<void *> ps;
	// Down to the threshold: no call.
	while (stats(h()).free >= thr + page_) {
		ps.push_back(rtheap_alloc(h(), page_));
		ASSERT_NE(nullptr, ps.back());
	}
	EXPECT_TRUE(log.empty());
	// Crossing: exactly one call, request 0, with the new free figure.
	ps.push_back(rtheap_alloc(h(), page_));
	ASSERT_NE(nullptr, ps.back());
	ASSERT_EQ(1u, log.size());
	EXPECT_EQ(0u, log[0].request);
	EXPECT_LT(log[0].free_bytes, thr);
	EXPECT_EQ(stats(h()).free, log[0].free_bytes);
	// Further allocations below the threshold: no call.
	for (int i = 0; i < 3; i++)
		ps.push_back(rtheap_alloc(h(), page_));
	EXPECT_EQ(1u, log.size());
	// Free back to the threshold re-arms; the next crossing calls again.
	while (stats(h()).free < thr) {
		ASSERT_EQ(0, rtheap_free(h(), ps.back()));
		ps.pop_back();
	}
	EXPECT_EQ(1u, log.size());
	while (log.size() == 1 && stats(h()).free >= thr) {
		ps.push_back(rtheap_alloc(h(), page_));
		ASSERT_NE(nullptr, ps.back());
	}
	ASSERT_EQ(2u, log.size());
	EXPECT_EQ(0u, log[1].request);
	// An extension brings free memory above the threshold: re-armed.
	ASSERT_EQ(0, rtheap_extend(h(), extra(kHeap), kHeap, RTHEAP_F_ZEROED));
	ASSERT_GE(stats(h()).free, thr);
	EXPECT_EQ(2u, log.size());
	while (log.size() == 2 && stats(h()).free >= thr) {
		ps.push_back(rtheap_alloc(h(), page_));
		ASSERT_NE(nullptr, ps.back());
	}
	ASSERT_EQ(3u, log.size());
	EXPECT_EQ(0u, log[2].request);
	// A failed allocation always calls, with its size.
	size_t huge = 10 * kHeap;
	EXPECT_EQ(nullptr, rtheap_alloc(h(), huge));
	ASSERT_EQ(4u, log.size());
	EXPECT_EQ(huge, log[3].request);
	EXPECT_EQ(stats(h()).free, log[3].free_bytes);
	EXPECT_EQ(nullptr, rtheap_alloc(h(), huge + 1));
	ASSERT_EQ(5u, log.size());
	EXPECT_EQ(huge + 1, log[4].request);
	// Cleared: no more calls.
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
	EXPECT_EQ(nullptr, rtheap_alloc(h(), huge));
	EXPECT_EQ(5u, log.size());
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	EXPECT_TRUE(heap_ok(h()));
}

TEST_F(HeapTest, LowMemoryCallbackOnExhaustion)
{
	std::vector<LowRec> log;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, on_low, &log)); // threshold 0: never crossed
	std::vector<void *> ps;
	for (;;) {
		void *p = rtheap_alloc(h(), 64);
		if (!p)
			break;
		ps.push_back(p);
	}
	ASSERT_EQ(1u, log.size());
	EXPECT_EQ(64u, log[0].request);
	EXPECT_EQ(0u, log[0].free_bytes);
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	EXPECT_TRUE(heap_ok(h()));
}

// Setting a threshold while free memory is already below it arms the
// callback: the next successful allocation calls it once (request 0).
TEST_F(HeapTest, LowMemoryThresholdSetWhileBelowFiresOnNextAlloc)
{
	std::vector<LowRec> log;
	const size_t thr = stats(h()).usable / 2;
	std::vector<void *> ps;
	while (stats(h()).free >= thr - 4 * page_) {
		ps.push_back(rtheap_alloc(h(), page_));
		ASSERT_NE(nullptr, ps.back());
	}
	ASSERT_EQ(0, rtheap_set_lowmem(h(), thr, on_low, &log));
	EXPECT_TRUE(log.empty()); // setting calls nothing
	// A release that leaves memory below the threshold calls nothing.
	ASSERT_EQ(0, rtheap_free(h(), ps.back()));
	ps.pop_back();
	EXPECT_TRUE(log.empty());
	ps.push_back(rtheap_alloc(h(), 16));
	ASSERT_NE(nullptr, ps.back());
	ASSERT_EQ(1u, log.size());
	EXPECT_EQ(0u, log[0].request);
	EXPECT_EQ(stats(h()).free, log[0].free_bytes);
	EXPECT_LT(log[0].free_bytes, thr);
	// Once per crossing: further allocations below it call nothing.
	ps.push_back(rtheap_alloc(h(), 16));
	ASSERT_NE(nullptr, ps.back());
	EXPECT_EQ(1u, log.size());
	// Setting it again (the same or another threshold) re-arms it.
	ASSERT_EQ(0, rtheap_set_lowmem(h(), thr, on_low, &log));
	ps.push_back(rtheap_alloc(h(), 16));
	ASSERT_NE(nullptr, ps.back());
	EXPECT_EQ(2u, log.size());
	// The run watch behaves the same: set while the largest free run is
	// already shorter than asked, the next allocation calls.
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, on_low, &log));
	ps.push_back(rtheap_alloc(h(), 16));
	ASSERT_NE(nullptr, ps.back());
	EXPECT_EQ(2u, log.size()); // threshold 0, no run watch: nothing
	ASSERT_EQ(0, rtheap_set_lowmem_run(h(), kHeap));
	EXPECT_EQ(2u, log.size());
	ps.push_back(rtheap_alloc(h(), 16));
	ASSERT_NE(nullptr, ps.back());
	ASSERT_EQ(3u, log.size());
	EXPECT_EQ(0u, log[2].request);
	ASSERT_EQ(0, rtheap_set_lowmem_run(h(), 0));
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	EXPECT_TRUE(heap_ok(h()));
}

// A threshold above the whole heap: the first allocation calls (free
// memory is below it at once); memory never comes back above it, so
// neither releases nor an extension too small to reach it re-arm the
// callback; setting it again does.
TEST_F(HeapTest, LowMemoryThresholdAboveTheHeap)
{
	std::vector<LowRec> log;
	const size_t thr = 4 * kHeap;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), thr, on_low, &log));
	EXPECT_TRUE(log.empty());
	void *p = rtheap_alloc(h(), 16);
	ASSERT_NE(nullptr, p);
	ASSERT_EQ(1u, log.size());
	EXPECT_EQ(0u, log[0].request);
	EXPECT_EQ(stats(h()).free, log[0].free_bytes);
	ASSERT_EQ(0, rtheap_free(h(), p));
	p = rtheap_alloc(h(), 16);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(1u, log.size()) << "a release re-armed a threshold above the heap";
	ASSERT_EQ(0, rtheap_extend(h(), extra(kHeap), kHeap, RTHEAP_F_ZEROED));
	ASSERT_LT(stats(h()).usable, thr);
	void *q = rtheap_alloc(h(), 16);
	ASSERT_NE(nullptr, q);
	EXPECT_EQ(1u, log.size()) << "an extension still below the threshold re-armed it";
	EXPECT_TRUE(heap_ok(h())) << "disarmed";
	ASSERT_EQ(0, rtheap_set_lowmem(h(), thr, on_low, &log));
	void *r = rtheap_alloc_aligned(h(), 16, 64); // aligned allocations notify as well
	ASSERT_NE(nullptr, r);
	ASSERT_EQ(2u, log.size());
	EXPECT_EQ(0u, log[1].request);
	EXPECT_EQ(stats(h()).free, log[1].free_bytes);
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
	for (void *b : {p, q, r})
		EXPECT_EQ(0, rtheap_free(h(), b));
	EXPECT_TRUE(heap_ok(h()));
}

// In debug mode every allocation takes the slow end (to fill the block):
// the callback is still called once per crossing, not at every allocation
// below the threshold, and re-armed by the release that brings memory back
// (rtheap_free or rtheap_test_and_free).
TEST(LowMemoryDebug, OncePerCrossing)
{
	constexpr size_t kP = 256;
	rtt::Mapping m(kHeap);
	ASSERT_TRUE(m.ok());
	auto h = rtt::new_heap();
	auto cfg = rtt::config(kP, RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), kHeap, &cfg));
	std::vector<LowRec> log;
	const size_t thr = stats(h.get()).usable / 2;
	ASSERT_EQ(0, rtheap_set_lowmem(h.get(), thr, on_low, &log));
	std::vector<void *> ps;
	while (log.empty()) {
		ps.push_back(rtheap_alloc(h.get(), kP));
		ASSERT_NE(nullptr, ps.back());
	}
	EXPECT_LT(stats(h.get()).free, thr);
	EXPECT_GE(stats(h.get()).free + kP, thr) << "called at the crossing";
	for (int i = 0; i < 4; i++) {
		ps.push_back(rtheap_alloc(h.get(), i % 2 ? 64 : kP));
		ASSERT_NE(nullptr, ps.back());
	}
	EXPECT_EQ(1u, log.size());
	EXPECT_TRUE(heap_ok(h.get())) << "disarmed";
	while (stats(h.get()).free + rtheap_usable_size(h.get(), ps.back()) < thr) {
		ASSERT_EQ(0, rtheap_free(h.get(), ps.back()));
		ps.pop_back();
	}
	ASSERT_EQ(0, rtheap_test_and_free(h.get(), ps.back(), ck_accept)); // the crossing back
	ps.pop_back();
	EXPECT_GE(stats(h.get()).free, thr);
	EXPECT_TRUE(heap_ok(h.get())) << "re-armed";
	EXPECT_EQ(1u, log.size());
	while (log.size() == 1) {
		ps.push_back(rtheap_alloc(h.get(), kP));
		ASSERT_NE(nullptr, ps.back());
	}
	EXPECT_EQ(2u, log.size());
	for (void *p : ps)
		EXPECT_EQ(0, rtheap_free(h.get(), p));
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// The callback runs outside the heap lock: it may read the statistics,
// extend the heap and allocate.  The failed call still returns NULL; the
// documented retry (one more call) then succeeds from the new extent.
struct Extender {
	rtheap_t *heap;
	unsigned char *buf;
	size_t size;
	int calls = 0;
	int extend_rc = 1;
	size_t seen_free = SIZE_MAX;
	bool inner_alloc_ok = false;
};

static void extend_on_low(rtheap_t *heap, size_t, size_t request, void *arg)
{
	auto *e = static_cast<Extender *>(arg);
	e->calls++;
	if (request == 0 || e->extend_rc == 0)
		return;
	rtheap_stats st;
	if (rtheap_get_stats(heap, &st) == 0)
		e->seen_free = st.free;
	e->extend_rc = rtheap_extend(heap, e->buf, e->size, RTHEAP_F_ZEROED);
	void *p = rtheap_alloc(heap, 16);
	e->inner_alloc_ok = p != nullptr && rtheap_free(heap, p) == 0;
}

TEST_F(HeapTest, LowMemoryCallbackMayCallTheHeapThenRetry)
{
	const size_t big = kHeap / 2;
	Extender ex{h(), extra(RTHEAP_BUFFER_SIZE(big, 256)), RTHEAP_BUFFER_SIZE(big, 256)};
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, extend_on_low, &ex));
	void *a = rtheap_alloc(h(), big);
	ASSERT_NE(nullptr, a);
	EXPECT_EQ(0, ex.calls);
	// Does not fit in what is left of the first extent: the callback
	// extends (under no lock: a PI mutex would deadlock otherwise) ...
	void *b = rtheap_alloc(h(), big);
	EXPECT_EQ(nullptr, b); // ... but this call has already failed.
	ASSERT_EQ(1, ex.calls);
	EXPECT_EQ(0, ex.extend_rc);
	EXPECT_LT(ex.seen_free, big);
	EXPECT_TRUE(ex.inner_alloc_ok);
	EXPECT_EQ(2u, stats(h()).extents);
	b = rtheap_alloc(h(), big); // the retry
	ASSERT_NE(nullptr, b);
	EXPECT_EQ(1, ex.calls);
	EXPECT_EQ(0, rtheap_free(h(), a));
	EXPECT_EQ(0, rtheap_free(h(), b));
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
	EXPECT_EQ(0u, stats(h()).used);
	EXPECT_TRUE(heap_ok(h()));
}

// RTHEAP_BUFFER_SIZE(request, page), added as an extent, serves a failed
// run request whatever the extent buffer's alignment (8 bytes at least).
TEST_F(HeapTest, ExtentOfBufferSizeServesTheFailedRequest)
{
	std::vector<void *> ps;
	for (void *p; (p = rtheap_alloc(h(), page_)) != nullptr;)
		ps.push_back(p);
	size_t k = 0;
	for (size_t req : {(size_t)17, page_ / 2, page_ + 1, 5 * page_ - 3, (size_t)100000}) {
		for (size_t off : {(size_t)0, (size_t)8, page_ / 2, page_ - 8}) {
			SCOPED_TRACE("request " + std::to_string(req) + " offset " +
			             std::to_string(off));
			ASSERT_EQ(nullptr, rtheap_alloc(h(), req));
			const size_t n = RTHEAP_BUFFER_SIZE(req, 256);
			unsigned char *buf = extra(n + page_) + off;
			ASSERT_EQ(0, rtheap_extend(h(), buf, n, 0));
			void *p = rtheap_alloc(h(), req);
			ASSERT_NE(nullptr, p);
			EXPECT_GE(static_cast<unsigned char *>(p), buf);
			EXPECT_LE(static_cast<unsigned char *>(p) + req, buf + n);
			// Fill the rest of the new extent so the next request fails again.
			for (size_t s : {req, (size_t)16})
				for (void *q; (q = rtheap_alloc(h(), s)) != nullptr;)
					ps.push_back(q);
			ps.push_back(p);
			k++;
		}
	}
	EXPECT_EQ(k + 1, stats(h()).extents);
	for (void *p : ps) {
		EXPECT_EQ(0, rtheap_free(h(), p));
	}
	EXPECT_TRUE(heap_ok(h()));
}

TEST_F(HeapTest, LowMemoryRunWatch)
{
	std::vector<LowRec> log;
	const size_t usable = stats(h()).usable;
	const size_t want = 8 * page_; // the application needs 8-page blocks
	// A threshold on free bytes alone that is never crossed here.
	ASSERT_EQ(0, rtheap_set_lowmem(h(), page_, on_low, &log));
	ASSERT_EQ(0, rtheap_set_lowmem_run(h(), want));
	EXPECT_EQ(-EINVAL, rtheap_set_lowmem_run(nullptr, want));
	// Fill with 4-page blocks, then free every other one: half of the heap
	// is free, in holes of 4 pages, so no run of 8 pages remains.
	std::vector<void *> ps;
	for (void *p; (p = rtheap_alloc(h(), 4 * page_)) != nullptr;)
		ps.push_back(p);
	ASSERT_GT(ps.size(), 8u);
	// The fill itself crossed the run limit once (and failed once).
	size_t calls = log.size();
	ASSERT_GE(calls, 1u);
	EXPECT_EQ(0u, log[0].request);
	EXPECT_LT(stats(h()).largest_free, want);
	for (size_t i = 0; i < ps.size(); i += 2) {
		ASSERT_EQ(0, rtheap_free(h(), ps[i]));
		ps[i] = nullptr;
	}
	auto st = stats(h());
	EXPECT_GT(st.free, usable / 3);     // plenty of free bytes...
	EXPECT_LT(st.largest_free, want);   // ...but no long run: still disarmed
	EXPECT_EQ(calls, log.size());
	// Freeing a neighbour makes a 12-page run: re-armed, no call.
	ASSERT_EQ(0, rtheap_free(h(), ps[1]));
	ps[1] = nullptr;
	EXPECT_EQ(12 * page_, stats(h()).largest_free); // the 12-page run, nothing longer
	EXPECT_EQ(calls, log.size());
	// Taking that run again crosses the run limit: exactly one call.
	void *a = rtheap_alloc(h(), 12 * page_);
	ASSERT_NE(nullptr, a);
	ASSERT_EQ(calls + 1, log.size());
	EXPECT_EQ(0u, log.back().request);
	void *b = rtheap_alloc(h(), 16);
	ASSERT_NE(nullptr, b);
	EXPECT_EQ(calls + 1, log.size()); // once per crossing
	// Turned off: free bytes alone decide, and they are above the threshold.
	ASSERT_EQ(0, rtheap_free(h(), a));
	ASSERT_EQ(0, rtheap_set_lowmem_run(h(), 0));
	a = rtheap_alloc(h(), 12 * page_);
	ASSERT_NE(nullptr, a);
	EXPECT_EQ(calls + 1, log.size());
	ASSERT_EQ(0, rtheap_free(h(), a));
	ASSERT_EQ(0, rtheap_free(h(), b));
	for (void *p : ps) {
		if (p) {
			EXPECT_EQ(0, rtheap_free(h(), p));
		}
	}
	EXPECT_TRUE(heap_ok(h()));
}

} // namespace
