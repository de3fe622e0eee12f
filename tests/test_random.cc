/* SPDX-License-Identifier: MIT */
// Randomised test against a shadow model: many seeds, thousands of mixed
// alloc / zalloc / alloc_aligned / free / test_and_free / extend operations
// each, every invariant checked as it goes; every page size from 256 B to
// 32 KiB and every lock mode.
#include <algorithm>
#include <map>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

struct LiveBlock {
	size_t index;   // position in Model::keys_
	size_t req;     // requested size
	size_t usable;  // rtheap_usable_size()
	uint64_t tag;   // pattern seed
};

struct Extent {
	std::unique_ptr<rtt::AlignedMapping> map;
	unsigned char *buf;
	size_t size;
};

class Model {
public:
	Model(uint64_t seed, size_t page, size_t first_size, bool check_every_op)
	    : rng_(seed), seed_(seed), page_(page), every_op_(check_every_op),
	      debug_fill_(seed % 4 == 3),
	      lock_(seed % 3 == 0 ? RTHEAP_LOCK_PI_MUTEX
	            : seed % 3 == 1 ? RTHEAP_LOCK_NONE : RTHEAP_LOCK_SPIN)
	{
		add_buffer(first_size, true);
		if (ready_) {
			EXPECT_EQ(0, rtheap_set_error_handler(h_.get(), on_error, this));
		}
	}
	~Model()
	{
		if (ready_)
			rtheap_destroy(h_.get(), nullptr, nullptr);
	}

	void run(int ops)
	{
		for (op_ = 0; op_ < ops && !::testing::Test::HasFatalFailure(); op_++) {
			unsigned r = rng_() % 1000;
			bool full = used_ > usable_ * 9 / 10;
			if (r < 8 && extents_.size() < 6)
				extend();
			else if (live_.empty() || r < (full ? 400u : 560u))
				alloc();
			else if (r < 980)
				free_one(r % 4 == 0); // a quarter through test_and_free
			else
				bad_free();
			verify_counters();
			if (every_op_ || op_ % 16 == 0) {
				ASSERT_TRUE(heap_ok(h_.get())) << where();
			}
		}
	}

	void drain()
	{
		while (!live_.empty() && !::testing::Test::HasFatalFailure())
			free_one(false);
		ASSERT_TRUE(heap_ok(h_.get())) << where();
		auto st = rtt::stats(h_.get());
		EXPECT_EQ(0u, st.used) << where();
		EXPECT_EQ(st.usable, st.free) << where();
		EXPECT_EQ(0u, st.live_blocks) << where();
		EXPECT_EQ(0u, st.pages_bucket) << where();
		EXPECT_EQ(0u, st.pages_run) << where();
		EXPECT_EQ(st.alloc_calls, st.free_calls) << where();
		EXPECT_EQ(expected_errors_, st.errors) << where();
		EXPECT_EQ(expected_errors_, reported_) << where();
		// Everything coalesced: one free run per extent, the largest of
		// which is (within the documented 1/16) what largest_free says.
		EXPECT_EQ(extents_.size(), st.free_runs) << where();
		size_t biggest = 0;
		size_t total = 0;
		for (auto &x : extents_) {
			biggest = std::max(biggest, npages_of(x) * page_);
			total += npages_of(x) * page_;
		}
		EXPECT_EQ(total, st.usable) << where() << ": page arrays as computed from the layout";
		EXPECT_LE(st.largest_free, biggest) << where();
		EXPECT_GE(st.largest_free, biggest - biggest / 16) << where();
		void *p = rtheap_alloc(h_.get(), st.largest_free);
		EXPECT_NE(nullptr, p) << where();
		if (p) {
			EXPECT_EQ(0, rtheap_free(h_.get(), p));
		}
	}

	size_t allocs() const { return allocs_; }
	size_t failures() const { return failures_; }

private:
	std::string where() const
	{
		return "seed " + std::to_string(seed_) + " page " + std::to_string(page_) + " op " +
		       std::to_string(op_);
	}

	void add_buffer(size_t size, bool first)
	{
		Extent x;
		x.map.reset(new rtt::AlignedMapping(size + 64, page_)); // P-aligned
		ASSERT_TRUE(x.map->ok());
		// Mostly page aligned (so rtheap_overhead() is exact), sometimes not.
		size_t off = (rng_() % 4 == 0) ? 8 * (1 + rng_() % 7) : 0;
		x.buf = x.map->data() + off;
		x.size = size;
		if (first) {
			auto cfg = rtt::config(page_, lock_,
			                       RTHEAP_F_ZEROED | (debug_fill_ ? RTHEAP_F_DEBUG_FILL : 0));
			ASSERT_EQ(0, rtheap_init(h_.get(), x.buf, x.size, &cfg)) << where();
			ready_ = true;
		} else {
			ASSERT_EQ(0, rtheap_extend(h_.get(), x.buf, x.size,
			                           rng_() % 2 ? RTHEAP_F_ZEROED : 0))
			    << where();
		}
		auto st = rtt::stats(h_.get());
		EXPECT_EQ(extents_.size() + 1, st.extents);
		if (off == 0) {
			EXPECT_EQ(usable_ + size - rtheap_overhead(size, page_), st.usable) << where();
		}
		usable_ = st.usable;
		extents_.push_back(std::move(x));
	}

	void extend()
	{
		size_t sz = RTHEAP_BUFFER_SIZE(2 * page_, page_) + rng_() % (256 * 1024);
		add_buffer(sz, false);
	}

	size_t pick_size()
	{
		unsigned k = rng_() % 100;
		if (k < 8)
			return 1 + rng_() % 16; // tiny
		if (k < 83)
			return 16 + rng_() % (4096 - 16 + 1);
		if (k < 93)
			return 4096 + rng_() % (65536 - 4096 + 1);
		// exact powers of two and page multiples, +-1
		size_t b = (size_t)1 << (4 + rng_() % 12);
		return b + (rng_() % 3) - 1;
	}

	uintptr_t pages_of(const Extent &x, size_t np) const
	{
		const size_t meta_per_page = 4 + (page_ > 256 ? page_ / 128 : 0);
		uintptr_t meta = reinterpret_cast<uintptr_t>(x.buf) + RTHEAP_EXTENT_HDR +
		                 np * meta_per_page;
		return (meta + page_ - 1) & ~(uintptr_t)(page_ - 1);
	}
	// the most pages whose metadata and array fit the buffer
	size_t npages_of(const Extent &x) const
	{
		const size_t meta_per_page = 4 + (page_ > 256 ? page_ / 128 : 0);
		uintptr_t end = reinterpret_cast<uintptr_t>(x.buf) + x.size;
		size_t np = (x.size - RTHEAP_EXTENT_HDR) / (page_ + meta_per_page) + 1;
		while (np > 0 && pages_of(x, np) + np * page_ > end)
			np--;
		return np;
	}

	// The extent whose page array (not merely its buffer) holds [p, p+n).
	// Layout (docs/design.md): a 256-byte header, the map (4 bytes a
	// page), from P = 512 on the side table (P/128 bytes a page), then the
	// page array aligned to P; npages from rtheap_overhead().
	const Extent *extent_of(uintptr_t p, size_t n) const
	{
		for (auto &x : extents_) {
			uintptr_t pages = pages_of(x, npages_of(x));
			uintptr_t end = pages + npages_of(x) * page_;
			if (p >= pages && p + n <= end)
				return &x;
		}
		return nullptr;
	}

	// An alignment for rtheap_alloc_aligned: mostly one the block of req
	// bytes has anyway (the block is then the one rtheap_alloc gives),
	// else any power of two up to 4 pages.
	size_t pick_align(size_t req)
	{
		const size_t natural = rtt::expected_align(rtt::expected_round(req, page_), page_);
		const size_t top = rng_() % 4 ? natural : 4 * page_;
		unsigned bits = 0;
		while ((size_t{2} << bits) <= top)
			bits++;
		return size_t{1} << (rng_() % (bits + 1));
	}

	void alloc()
	{
		size_t req = pick_size();
		const unsigned how = rng_() % 8; // 2: zalloc, 2: alloc_aligned, 4: alloc
		const size_t align = how >= 6 ? pick_align(req) : 1;
		const bool zero = how < 2;
		const size_t want = rtt::aligned_round(req, align, page_);
		auto before = rtt::stats(h_.get());
		void *p = zero        ? rtheap_zalloc(h_.get(), req)
		          : how >= 6 ? rtheap_alloc_aligned(h_.get(), req, align)
		                      : rtheap_alloc(h_.get(), req);
		if (!p) {
			failures_++;
			if (align > rtt::expected_align(want, page_))
				return; // an aligned run needs more than its size (rtheap.h)
			// largest_free is a promise.
			ASSERT_GT(want, before.largest_free) << where() << " request " << req;
			if (want <= page_ / 2) {
				unsigned c = rtt::class_of(want);
				ASSERT_EQ(before.class_pages[c] * (page_ / want), before.class_live[c])
				    << where() << ": a bucket page of class " << c
				    << " had a free slot, yet alloc failed";
			}
			return;
		}
		uintptr_t a = reinterpret_cast<uintptr_t>(p);
		size_t n = rtheap_usable_size(h_.get(), p);
		ASSERT_EQ(want, n) << where() << " request " << req << " align " << align;
		ASSERT_EQ(0u, a % std::max(align, rtt::expected_align(n, page_)))
		    << where() << " block " << p << " align " << align;
		ASSERT_NE(nullptr, extent_of(a, n))
		    << where() << ": block crosses or leaves the page arrays";
		// No overlap with any live block.
		auto next = live_.lower_bound(a);
		if (next != live_.end()) {
			ASSERT_LE(a + n, next->first) << where() << ": overlaps the next block";
		}
		if (next != live_.begin()) {
			auto prev = std::prev(next);
			ASSERT_LE(prev->first + prev->second.usable, a)
			    << where() << ": overlaps the previous block";
		}
		if (zero || debug_fill_) {
			auto *c = static_cast<unsigned char *>(p);
			const unsigned char want_byte = zero ? 0 : 0xa5;
			for (size_t i = 0; i < n; i++)
				ASSERT_EQ(want_byte, c[i]) << where() << ": fresh block byte " << i
				                          << (zero ? " (zalloc)" : " (debug fill)");
		}
		uint64_t tag = rtt::mix64(seed_ * 1000003u + allocs_);
		rtt::fill(p, n, tag);
		live_[a] = LiveBlock{keys_.size(), req, n, tag};
		keys_.push_back(a);
		used_ += n;
		allocs_++;
	}

	void free_one(bool via_test)
	{
		// A random live block (chosen independently of the addresses, so
		// that a seed always replays the same sequence).
		auto it = live_.find(keys_[rng_() % keys_.size()]);
		void *p = reinterpret_cast<void *>(it->first);
		const LiveBlock &b = it->second;
		ASSERT_EQ(SIZE_MAX, rtt::verify(p, b.usable, b.tag))
		    << where() << ": block " << p << " of " << b.usable << " bytes was overwritten";
		ASSERT_EQ(b.usable, rtheap_usable_size(h_.get(), p)) << where();
		if (via_test) {
			ASSERT_EQ(-EBUSY, rtheap_test_and_free(h_.get(), p, [](void *) { return -EBUSY; }))
			    << where();
			ASSERT_EQ(0, rtheap_check_block(h_.get(), p)) << where();
			ASSERT_EQ(0, rtheap_test_and_free(h_.get(), p, [](void *) { return 0; })) << where();
		} else {
			ASSERT_EQ(0, rtheap_free(h_.get(), p)) << where();
		}
		ASSERT_EQ(-EINVAL, rtheap_check_block(h_.get(), p)) << where();
		used_ -= b.usable;
		last_freed_ = p;
		keys_[b.index] = keys_.back();
		live_[keys_.back()].index = b.index;
		keys_.pop_back();
		live_.erase(it);
	}

	static void on_error(rtheap_t *, rtheap_error_kind_t, const void *, void *arg)
	{
		static_cast<Model *>(arg)->reported_++;
	}

	// A misuse: interior pointer of a live block, or a double free.  Must
	// fail with -EINVAL and change nothing.
	void bad_free()
	{
		void *p;
		if (last_freed_ && live_.count(reinterpret_cast<uintptr_t>(last_freed_)) == 0 &&
		    rng_() % 2) {
			p = last_freed_;
		} else if (!live_.empty()) {
			auto it = live_.find(keys_[rng_() % keys_.size()]);
			size_t off = 8 * (1 + rng_() % (it->second.usable / 8 - 1));
			p = reinterpret_cast<unsigned char *>(it->first) + off;
		} else {
			return;
		}
		auto before = rtt::stats(h_.get());
		if (rng_() % 2) {
			ASSERT_EQ(-EINVAL, rtheap_free(h_.get(), p)) << where() << " bad pointer " << p;
		} else {
			// the check function is never asked about a misuse
			ASSERT_EQ(-EINVAL, rtheap_test_and_free(h_.get(), p, [](void *) { return -EBUSY; }))
			    << where() << " bad pointer " << p;
		}
		expected_errors_++;
		auto after = rtt::stats(h_.get());
		rtt::expect_same_stats(before, after, "bad free");
		ASSERT_EQ(before.errors + 1, after.errors) << where();
		ASSERT_TRUE(heap_ok(h_.get())) << where();
	}

	void verify_counters()
	{
		auto st = rtt::stats(h_.get());
		ASSERT_EQ(used_, st.used) << where();
		ASSERT_EQ(st.usable - st.used, st.free) << where();
		ASSERT_EQ(live_.size(), st.live_blocks) << where();
		ASSERT_EQ(usable_, st.usable) << where();
		ASSERT_EQ(failures_, st.failed_allocs) << where();
	}

	std::mt19937_64 rng_;
	uint64_t seed_;
	size_t page_;
	bool every_op_;
	bool debug_fill_;
	rtheap_lock_mode_t lock_;
	void *last_freed_ = nullptr;
	size_t expected_errors_ = 0, reported_ = 0;
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	bool ready_ = false;
	std::vector<Extent> extents_;
	std::map<uintptr_t, LiveBlock> live_;
	std::vector<uintptr_t> keys_;
	size_t used_ = 0, usable_ = 0, allocs_ = 0, failures_ = 0;
	int op_ = 0;
};

const size_t kPages[] = {256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
constexpr uint64_t kNPages = sizeof kPages / sizeof kPages[0];

// Small heaps, integrity walk after every operation.
TEST(Random, SmallHeapsCheckedEveryOp)
{
	size_t allocs = 0, fails = 0;
	for (uint64_t seed = 1; seed <= 24; seed++) { // every page size, lock mode, fill
		size_t page = kPages[seed % kNPages];
		Model m(seed, page, 96 * 1024 + (seed % 5) * page + 24, true);
		m.run(1500);
		m.drain();
		ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "seed " << seed;
		allocs += m.allocs();
		fails += m.failures();
	}
	EXPECT_GT(fails, 0u) << "the small heaps should have been exhausted at times";
	std::printf("small heaps: %zu allocations, %zu failures\n", allocs, fails);
}

// Fifty seeds, bigger heaps, walk every 16 operations.
TEST(Random, FiftySeeds)
{
	size_t allocs = 0, fails = 0;
	for (uint64_t seed = 100; seed < 150; seed++) {
		size_t page = kPages[seed % kNPages];
		Model m(seed, page, 512 * 1024 + (seed % 7) * 4096, false);
		m.run(4000);
		m.drain();
		ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "seed " << seed;
		allocs += m.allocs();
		fails += m.failures();
	}
	EXPECT_GT(allocs, 50u * 1000u);
	std::printf("50 seeds: %zu allocations, %zu failures\n", allocs, fails);
}

} // namespace
