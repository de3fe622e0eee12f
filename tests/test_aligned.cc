/* SPDX-License-Identifier: MIT */
// rtheap_alloc_aligned: every power-of-two alignment from 1 to 64 pages at
// page sizes 256 and 4096, the block sizes it accounts, the placement of
// aligned runs (the first aligned page of the free run found), the pieces
// it gives back, its good fit, exhaustion, debug fill and extents whose
// page arrays sit at different offsets.  rtheap_check after every call.
#include <algorithm>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

struct Block {
	unsigned char *p;
	size_t size, align;
	uint8_t seed;
};

// The pattern of tests/test_common.h, seeded per block.
void fill(const Block &b)
{
	rtt::fill(b.p, b.size, b.seed);
}

size_t first_bad(const Block &b)
{
	return rtt::verify(b.p, b.size, b.seed);
}

uintptr_t addr(const void *p)
{
	return reinterpret_cast<uintptr_t>(p);
}

class Aligned : public ::testing::TestWithParam<size_t> {
protected:
	static constexpr size_t kHeap = 16u << 20;
	size_t P() const { return GetParam(); }
	rtt::Mapping mem_{kHeap};
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	rtheap_t *cur_ = h_.get(); // the heap take(), release() work on
	rtheap_t *h() { return cur_; }
	uint8_t seed_ = 1;

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		auto cfg = rtt::config(P(), RTHEAP_LOCK_PI_MUTEX, RTHEAP_F_ZEROED);
		ASSERT_EQ(0, rtheap_init(h(), mem_.data(), kHeap, &cfg));
	}
	void TearDown() override
	{
		EXPECT_TRUE(heap_ok(h_.get()));
		EXPECT_EQ(0, rtheap_destroy(h_.get(), nullptr, nullptr));
	}

	std::vector<size_t> alignments() const
	{
		std::vector<size_t> v;
		for (size_t a = 1; a <= 64 * P(); a *= 2)
			v.push_back(a);
		return v;
	}
	std::vector<size_t> sizes() const
	{
		const size_t p = P();
		return {1, 15, 16, 17, 100, p / 4, p / 2, p / 2 + 1, p - 1, p, p + 1, 2 * p,
		        3 * p + 5, 10 * p};
	}

	// Allocate, check alignment, accounting and the heap; fill.
	Block take(size_t size, size_t align)
	{
		const auto st0 = rtt::stats(h());
		auto *p = static_cast<unsigned char *>(rtheap_alloc_aligned(h(), size, align));
		Block b{p, size, align, seed_++};
		EXPECT_NE(nullptr, p) << "size " << size << " align " << align;
		if (!p)
			return b;
		const size_t want = rtt::aligned_round(size, align, P());
		EXPECT_EQ(0u, addr(p) % align) << "size " << size << " align " << align;
		EXPECT_EQ(want, rtheap_usable_size(h(), p)) << "size " << size << " align " << align;
		EXPECT_EQ(0, rtheap_check_block(h(), p));
		const auto st1 = rtt::stats(h());
		EXPECT_EQ(st0.used + want, st1.used);
		EXPECT_EQ(st0.alloc_calls + 1, st1.alloc_calls);
		EXPECT_EQ(st0.failed_allocs, st1.failed_allocs);
		EXPECT_TRUE(heap_ok(h())) << "size " << size << " align " << align;
		fill(b);
		return b;
	}
	void release(const Block &b)
	{
		EXPECT_EQ(SIZE_MAX, first_bad(b)) << "size " << b.size << " align " << b.align;
		EXPECT_EQ(0, rtheap_free(h(), b.p));
		EXPECT_TRUE(heap_ok(h())) << "free size " << b.size << " align " << b.align;
	}
	void expect_empty()
	{
		const auto st = rtt::stats(h());
		EXPECT_EQ(0u, st.used);
		EXPECT_EQ(0u, st.live_blocks);
		EXPECT_EQ(1u, st.free_runs); // head and tail pieces merged back
		EXPECT_EQ(st.usable, st.largest_free);
	}
};

TEST_P(Aligned, EveryAlignmentAndSizeThenFreeAndReuse)
{
	for (int round = 0; round < 2; round++) {
		std::vector<Block> live;
		size_t used = 0;
		const std::vector<size_t> ss = sizes();
		for (size_t a : alignments()) {
			for (size_t j = 0; j < ss.size(); j++) {
				// second round: the other order, into reused memory
				const size_t sz = round ? ss[ss.size() - 1 - j] : ss[j];
				live.push_back(take(sz, a));
				ASSERT_NE(nullptr, live.back().p);
				used += rtt::aligned_round(sz, a, P());
			}
		}
		EXPECT_EQ(used, rtt::stats(h()).used);
		for (const Block &b : live)
			ASSERT_EQ(SIZE_MAX, first_bad(b)) << "size " << b.size << " align " << b.align;
		// Every other block, then the rest: frees between live neighbours,
		// then merges with both.
		for (size_t i = 0; i < live.size(); i += 2)
			release(live[i]);
		for (size_t i = 1; i < live.size(); i += 2)
			release(live[i]);
		expect_empty();
	}
}

// In an empty heap the one free run is the whole page array: an aligned
// block is placed at its first aligned page, and the head and tail go back
// as free runs, merged again when the block is freed.  Also with the page
// array at several offsets from the alignment.
TEST_P(Aligned, PlacedAtTheFirstAlignedPageOfTheRun)
{
	for (size_t shift = 0; shift < 8; shift++) {
		const size_t len = 1u << 20;
		rtt::AlignedMapping m(len, 64 * P(), shift * P() + 8 * shift);
		ASSERT_TRUE(m.ok());
		auto h = rtt::new_heap();
		auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
		ASSERT_EQ(0, rtheap_init(h.get(), m.data(), len, &cfg));
		// A fresh heap hands out its first page first: the page array start.
		void *first = rtheap_alloc(h.get(), P());
		ASSERT_NE(nullptr, first);
		const uintptr_t base = addr(first);
		ASSERT_EQ(0, rtheap_free(h.get(), first));
		const size_t usable = rtt::stats(h.get()).usable;
		for (size_t a = 2 * P(); a <= 64 * P(); a *= 2) {
			for (size_t n : {size_t{1}, size_t{3}, size_t{17}}) {
				void *p = rtheap_alloc_aligned(h.get(), n * P() - 1, a);
				ASSERT_NE(nullptr, p) << a << " " << n;
				const uintptr_t want = (base + a - 1) & ~(uintptr_t)(a - 1);
				EXPECT_EQ(want, addr(p)) << "align " << a << " pages " << n;
				const auto st = rtt::stats(h.get());
				EXPECT_EQ(n * P(), st.used);
				EXPECT_EQ(n * P(), rtheap_usable_size(h.get(), p));
				EXPECT_EQ(want == base ? 1u : 2u, st.free_runs) << a << " " << n;
				EXPECT_EQ(usable - n * P(), st.free);
				EXPECT_TRUE(heap_ok(h.get()));
				// The head pages are free and usable: a plain run of them
				// (the head's length) fits before the block.
				const size_t head = (want - base) / P();
				if (head) {
					void *q = rtheap_alloc(h.get(), head * P());
					ASSERT_NE(nullptr, q);
					EXPECT_TRUE(addr(q) == base || addr(q) >= want + n * P());
					EXPECT_EQ(0, rtheap_free(h.get(), q));
				}
				EXPECT_EQ(0, rtheap_free(h.get(), p));
				const auto st2 = rtt::stats(h.get());
				EXPECT_EQ(1u, st2.free_runs);
				EXPECT_EQ(usable, st2.largest_free);
				EXPECT_TRUE(heap_ok(h.get()));
			}
		}
		EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
	}
}

// The good fit: with a free run of at least n + a - 1 pages (largest_free
// says whether there is one), the call cannot fail, whatever the
// fragmentation.  Random plain and aligned blocks, random frees.
TEST_P(Aligned, SucceedsWheneverTheLargestRunHoldsTheSpan)
{
	// A heap of 1024 pages, which the random blocks below fill.
	const size_t len = RTHEAP_BUFFER_SIZE(1024 * P(), P());
	rtt::Mapping m(len);
	ASSERT_TRUE(m.ok());
	auto small = rtt::new_heap();
	auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	ASSERT_EQ(0, rtheap_init(small.get(), m.data(), len, &cfg));
	cur_ = small.get();
	std::mt19937_64 rng(GetParam() * 7 + 1);
	std::vector<Block> live;
	size_t ok = 0, refused = 0, sure = 0;
	for (int i = 0; i < 4000; i++) {
		if (!live.empty() && (rng() % 3 == 0 || live.size() > 600)) {
			const size_t k = rng() % live.size();
			release(live[k]);
			live[k] = live.back();
			live.pop_back();
			continue;
		}
		if (rng() % 2) {
			const size_t s = 1 + rng() % (6 * P());
			auto *p = static_cast<unsigned char *>(rtheap_alloc(h(), s));
			if (p) {
				live.push_back(Block{p, s, 1, seed_++});
				fill(live.back());
			}
			continue;
		}
		const size_t a = size_t{1} << (rng() % (rtt::class_of(64 * P()) + 5));
		const size_t s = 1 + rng() % (12 * P());
		const auto st = rtt::stats(h());
		const size_t span = a > P() ? (s + P() - 1) / P() * P() + a - P() : 0;
		auto *p = static_cast<unsigned char *>(rtheap_alloc_aligned(h(), s, a));
		if (span && st.largest_free >= span) {
			sure++;
			EXPECT_NE(nullptr, p) << "size " << s << " align " << a << " largest "
			                      << st.largest_free;
		}
		if (!p) {
			refused++;
			EXPECT_EQ(st.failed_allocs + 1, rtt::stats(h()).failed_allocs);
			continue;
		}
		ok++;
		EXPECT_EQ(0u, addr(p) % a) << "size " << s << " align " << a;
		EXPECT_EQ(rtt::aligned_round(s, a, P()), rtheap_usable_size(h(), p));
		EXPECT_TRUE(heap_ok(h()));
		live.push_back(Block{p, s, a, seed_++});
		fill(live.back());
	}
	for (const Block &b : live)
		release(b);
	expect_empty();
	EXPECT_GT(ok, 500u);
	EXPECT_GT(sure, 100u);
	std::printf("page %zu: %zu aligned served, %zu refused, %zu sure\n", P(), ok, refused, sure);
	EXPECT_GT(refused, 10u); // the heap was under pressure
	EXPECT_EQ(0, rtheap_destroy(small.get(), nullptr, nullptr));
	cur_ = h_.get();
}

// The fallback of the search: when no list is sure to hold n + a - 1
// pages, the head of that length's own list is taken if its aligned piece
// fits.  And the documented limit: an aligned free run of exactly n pages
// is not found when no run of n + a - 1 pages exists.
TEST_P(Aligned, FallbackAndGoodFitLimit)
{
	const size_t len = RTHEAP_BUFFER_SIZE(512 * P(), P());
	rtt::AlignedMapping m(len, P());
	ASSERT_TRUE(m.ok());
	auto h = rtt::new_heap();
	auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), len, &cfg));
	// Every page a one-page block, in address order.
	std::vector<unsigned char *> pages;
	for (;;) {
		auto *p = static_cast<unsigned char *>(rtheap_alloc(h.get(), P()));
		if (!p)
			break;
		if (!pages.empty()) {
			ASSERT_EQ(pages.back() + P(), p);
		}
		pages.push_back(p);
	}
	ASSERT_GE(pages.size(), 256u);
	const size_t a = 4 * P();
	// first page index whose address is a multiple of a, past index 8
	size_t k = 8;
	while (addr(pages[k]) % a)
		k++;
	auto free_pages = [&](size_t from, size_t count) {
		for (size_t i = from; i < from + count; i++)
			ASSERT_EQ(0, rtheap_free(h.get(), pages[i]));
	};
	auto take_pages = [&](size_t from, size_t count) {
		for (size_t i = from; i < from + count; i++) {
			pages[i] = static_cast<unsigned char *>(rtheap_alloc(h.get(), P()));
			ASSERT_NE(nullptr, pages[i]);
		}
	};
	// 1. A free run of 32 pages starting at an aligned page: a request of
	//    30 pages aligned to 4 pages needs 33 for the sure search, finds
	//    none, and takes the head of the list of 33 (runs of 32-33).
	free_pages(k, 32);
	ASSERT_EQ(32 * P(), rtt::stats(h.get()).largest_free);
	void *p = rtheap_alloc_aligned(h.get(), 30 * P(), a);
	EXPECT_EQ(pages[k], p);
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(2 * P(), rtt::stats(h.get()).largest_free); // the tail piece
	ASSERT_EQ(0, rtheap_free(h.get(), p));
	EXPECT_EQ(32 * P(), rtt::stats(h.get()).largest_free);
	take_pages(k, 32);
	// 2. The same run one page later: its aligned piece starts 3 pages in
	//    and does not fit: refused, counted.
	free_pages(k + 1, 32);
	const size_t failed = rtt::stats(h.get()).failed_allocs;
	EXPECT_EQ(nullptr, rtheap_alloc_aligned(h.get(), 30 * P(), a));
	EXPECT_EQ(failed + 1, rtt::stats(h.get()).failed_allocs);
	EXPECT_TRUE(heap_ok(h.get()));
	take_pages(k + 1, 32);
	// 3. The limit: an aligned free run of exactly 5 pages, no run of
	//    5 + 3 = 8: refused although an aligned 5-page piece is free.
	free_pages(k, 5);
	EXPECT_EQ(nullptr, rtheap_alloc_aligned(h.get(), 5 * P(), a));
	EXPECT_EQ(failed + 2, rtt::stats(h.get()).failed_allocs);
	// ... and served once a run of 8 pages is free, anywhere.
	free_pages(k + 40, 8);
	p = rtheap_alloc_aligned(h.get(), 5 * P(), a);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0u, addr(p) % a);
	EXPECT_GE(addr(p), addr(pages[k + 40]));
	EXPECT_LE(addr(p) + 5 * P(), addr(pages[k + 47]) + P());
	EXPECT_TRUE(heap_ok(h.get()));
	ASSERT_EQ(0, rtheap_free(h.get(), p));
	take_pages(k, 5);
	take_pages(k + 40, 8);
	for (unsigned char *q : pages)
		ASSERT_EQ(0, rtheap_free(h.get(), q));
	EXPECT_EQ(1u, rtt::stats(h.get()).free_runs);
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}


// Exhaustion as rtheap_alloc: NULL, failed_allocs, the low-memory callback
// with the request; contents intact; served again after frees.
TEST_P(Aligned, ExhaustionCountsAndNotifies)
{
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	for (size_t a : {size_t{64}, P(), 8 * P(), 64 * P()}) {
		const size_t s = a < P() ? 40 : 3 * P();
		std::vector<Block> live;
		for (;;) {
			auto *p = static_cast<unsigned char *>(rtheap_alloc_aligned(h(), s, a));
			if (!p)
				break;
			ASSERT_EQ(0u, addr(p) % a);
			live.push_back(Block{p, s, a, seed_++});
			fill(live.back());
		}
		ASSERT_FALSE(low.requests.empty());
		EXPECT_EQ(s, low.requests.back());
		const size_t calls = low.requests.size();
		const auto st = rtt::stats(h());
		EXPECT_GT(live.size(), 8u);
		EXPECT_TRUE(heap_ok(h()));
		EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), s, a));
		EXPECT_EQ(st.failed_allocs + 1, rtt::stats(h()).failed_allocs);
		EXPECT_EQ(calls + 1, low.requests.size());
		for (const Block &b : live)
			ASSERT_EQ(SIZE_MAX, first_bad(b));
		if (a <= P()) {
			// A plain block: freeing one makes room for the request
			// again, in its place.
			void *gap = live.back().p;
			release(live.back());
			live.pop_back();
			void *again = rtheap_alloc_aligned(h(), s, a);
			EXPECT_EQ(gap, again);
			ASSERT_EQ(0, rtheap_free(h(), again));
		}
		for (const Block &b : live)
			ASSERT_EQ(0, rtheap_free(h(), b.p));
		expect_empty();
		EXPECT_TRUE(heap_ok(h()));
		void *again = rtheap_alloc_aligned(h(), s, a);
		EXPECT_NE(nullptr, again);
		EXPECT_EQ(0u, addr(again) % a);
		ASSERT_EQ(0, rtheap_free(h(), again));
	}
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
}

int g_errors;
void count_error(rtheap_t *, rtheap_error_kind_t, const void *, void *)
{
	g_errors++;
}

// Debug fill: the head piece of an aligned run lies below the new
// high-water mark; the heap fills it with the freed pattern, so handing
// those pages out later reports nothing, and fresh blocks carry the fresh
// pattern.  Writes after free into a head piece are still caught.
TEST_P(Aligned, DebugFillKnowsTheHeadPieces)
{
	const size_t len = 2u << 20;
	rtt::Mapping m(len);
	ASSERT_TRUE(m.ok());
	std::memset(m.data(), 0x11, len); // not the freed pattern
	auto h = rtt::new_heap();
	auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE, RTHEAP_F_DEBUG_FILL);
	ASSERT_EQ(0, rtheap_init(h.get(), m.data(), len, &cfg));
	g_errors = 0;
	ASSERT_EQ(0, rtheap_set_error_handler(h.get(), count_error, nullptr));
	std::vector<void *> live;
	for (size_t a = 2 * P(); a <= 64 * P(); a *= 2) {
		auto *p = static_cast<unsigned char *>(rtheap_alloc_aligned(h.get(), 2 * P(), a));
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(0u, addr(p) % a);
		for (size_t i = 0; i < 2 * P(); i++)
			ASSERT_EQ(0xa5, p[i]) << i;
		live.push_back(p);
	}
	// Take every free page, head pieces included.
	for (;;) {
		void *q = rtheap_alloc(h.get(), P());
		if (!q)
			break;
		live.push_back(q);
	}
	EXPECT_EQ(0, g_errors);
	EXPECT_EQ(0u, rtt::stats(h.get()).errors);
	EXPECT_TRUE(heap_ok(h.get()));
	for (void *q : live)
		ASSERT_EQ(0, rtheap_free(h.get(), q));
	// A write after free into a page that became a head piece is reported
	// when the page is handed out again.
	auto *p = static_cast<unsigned char *>(rtheap_alloc_aligned(h.get(), P(), 64 * P()));
	ASSERT_NE(nullptr, p);
	ASSERT_EQ(0, rtheap_free(h.get(), p));
	auto *q = static_cast<unsigned char *>(rtheap_alloc(h.get(), P()));
	ASSERT_NE(nullptr, q);
	ASSERT_EQ(0, rtheap_free(h.get(), q));
	if (!RTHEAP_TEST_ASAN) { // ASan would stop the write itself
		q[P() / 2 + 3] = 0x42;
		void *r = rtheap_alloc_aligned(h.get(), 2 * P(), 2 * P());
		EXPECT_EQ(0u, addr(r) % (2 * P()));
		void *s = rtheap_alloc(h.get(), P());
		EXPECT_EQ(1, g_errors);
		ASSERT_EQ(0, rtheap_free(h.get(), r));
		ASSERT_EQ(0, rtheap_free(h.get(), s));
	}
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// Alignment is absolute: extents whose page arrays sit at different
// offsets from a large alignment all serve aligned blocks.
TEST_P(Aligned, ExtentsAtAnyOffset)
{
	const size_t each = RTHEAP_BUFFER_SIZE(128 * P(), P()) + 3 * 64;
	rtt::AlignedMapping m(8 * each + 8 * 64, 64 * P());
	ASSERT_TRUE(m.ok());
	auto h = rtt::new_heap();
	auto cfg = rtt::config(P(), RTHEAP_LOCK_NONE);
	unsigned char *b = m.data();
	for (int i = 0; i < 8; i++) {
		unsigned char *buf = b + i * (each + 64) + 8 * i;
		if (i == 0) {
			ASSERT_EQ(0, rtheap_init(h.get(), buf, each, &cfg));
		} else {
			ASSERT_EQ(0, rtheap_extend(h.get(), buf, each, 0));
		}
	}
	std::vector<void *> live;
	for (int r = 0; r < 64; r++) {
		const size_t a = (2 * P()) << (r % 6);
		void *p = rtheap_alloc_aligned(h.get(), (1 + r % 5) * P(), a);
		if (!p)
			break;
		EXPECT_EQ(0u, addr(p) % a) << r;
		EXPECT_TRUE(heap_ok(h.get()));
		live.push_back(p);
	}
	EXPECT_GT(live.size(), 16u);
	for (void *p : live)
		ASSERT_EQ(0, rtheap_free(h.get(), p));
	const auto st = rtt::stats(h.get());
	EXPECT_EQ(8u, st.free_runs);
	EXPECT_EQ(0u, st.used);
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// Bad alignments are argument errors (NULL, nothing counted, no callback);
// sizes and alignments no extent can hold, and size + alignment wrapping
// around, are counted failures with the low-memory callback.  Nothing
// changes in the heap either way.  (docs/errors.md; test_errors has the
// same rows with a heap full of live and freed blocks.)
TEST_P(Aligned, BadAlignmentAndHugeSizes)
{
	rtt::LowmemLog low;
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, rtt::LowmemLog::record, &low));
	Block keep = take(3 * P(), 4 * P());
	ASSERT_NE(nullptr, keep.p);
	const auto st0 = rtt::stats(h());
	volatile size_t bad[] = {0, 3, 48, 96, 5 * P()};
	for (size_t a : bad)
		for (size_t s : {size_t{1}, P(), 5 * P()})
			EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), s, a)) << s << " " << a;
	EXPECT_TRUE(low.requests.empty());
	rtt::expect_same_stats(st0, rtt::stats(h()), "bad alignment");
	// SIZE_MAX/2 + 1 is a power of two, but beyond any extent: counted.
	volatile size_t huge_align = SIZE_MAX / 2 + 1;
	volatile size_t sizes[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - P() + 1, SIZE_MAX / 2 + 1,
	                           SIZE_MAX / 2};
	size_t failed = 0;
	EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), 16, huge_align));
	failed++;
	for (size_t s : sizes) {
		for (size_t a : {size_t{64}, P(), 2 * P(), 64 * P()}) {
			EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), s, a)) << s << " " << a;
			EXPECT_EQ(s, low.requests.back());
			failed++;
		}
	}
	// Pages plus padding beyond an extent, whatever the size alone.
	const size_t max_req = size_t{RTHEAP_MAX_EXTENT_PAGES} * P();
	EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), max_req - P(), 4 * P()));
	failed++;
	// One page more than the heap's largest free run.
	const size_t largest = rtt::stats(h()).largest_free;
	EXPECT_EQ(nullptr, rtheap_alloc_aligned(h(), largest + 1, 2 * P()));
	failed++;
	auto st1 = rtt::stats(h());
	EXPECT_EQ(st0.failed_allocs + failed, st1.failed_allocs);
	EXPECT_EQ(failed, low.requests.size());
	st1.failed_allocs = st0.failed_allocs;
	rtt::expect_same_stats(st0, st1, "huge requests");
	EXPECT_TRUE(heap_ok(h()));
	release(keep);
	ASSERT_EQ(0, rtheap_set_lowmem(h(), 0, nullptr, nullptr));
}

INSTANTIATE_TEST_SUITE_P(Pages, Aligned, ::testing::Values(size_t{256}, size_t{4096}));

} // namespace
