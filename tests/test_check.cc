/* SPDX-License-Identifier: MIT */
// White-box tests of rtheap_check(): corrupt the heap's metadata on purpose,
// one piece at a time, and expect the checker to report it; restore it and
// expect a clean bill again.  The page-map encoding used here is the one
// documented in docs/design.md and heap/internal.h (type in bits 29..31,
// payload in bits 0..28; map right after the 256-byte extent header).
#include "test_common.h"

#include <vector>

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
// List nodes live in poisoned free memory: open them to corrupt them.
#define OPEN_FREE(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define CLOSE_FREE(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define OPEN_FREE(p, n) ((void)(p), (void)(n))
#define CLOSE_FREE(p, n) ((void)(p), (void)(n))
#endif

namespace {

constexpr uint32_t kNone = 0, kFree = 1, kRun = 2, kBucket = 3;
constexpr size_t kPage = 256;
constexpr size_t kSize = 1 << 20;

uint32_t type_of(uint32_t e) { return e >> 29; }
uint32_t make(uint32_t t, uint32_t payload) { return (t << 29) | payload; }

class Corrupt : public ::testing::Test {
protected:
	rtt::Mapping mem_{kSize};
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	uint32_t *map_ = nullptr;
	unsigned char *pages_ = nullptr;
	void *run_ = nullptr;          // a 3-page run at page 0
	std::vector<void *> small_;    // 64-byte blocks in one bucket page
	void *run2_ = nullptr;         // a run after a free hole

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		auto cfg = rtt::config(kPage, RTHEAP_LOCK_NONE);
		ASSERT_EQ(0, rtheap_init(h_.get(), mem_.data(), kSize, &cfg));
		map_ = reinterpret_cast<uint32_t *>(mem_.data() + RTHEAP_EXTENT_HDR);
		run_ = rtheap_alloc(h_.get(), 3 * kPage);
		ASSERT_NE(nullptr, run_);
		pages_ = static_cast<unsigned char *>(run_); // first run starts at page 0
		for (int i = 0; i < 3; i++)
			small_.push_back(rtheap_alloc(h_.get(), 64)); // page 3
		void *hole = rtheap_alloc(h_.get(), 4 * kPage);  // pages 4..7
		run2_ = rtheap_alloc(h_.get(), 2 * kPage);       // pages 8..9
		ASSERT_EQ(0, rtheap_free(h_.get(), hole));       // free run 4..7
		ASSERT_EQ(0, check());
	}
	void TearDown() override { rtheap_destroy(h_.get(), nullptr, nullptr); }

	int check(struct rtheap_fault *f = nullptr) { return rtheap_check(h_.get(), f); }
	uint32_t page_of(const void *p) const
	{
		return static_cast<uint32_t>((static_cast<const unsigned char *>(p) - pages_) / kPage);
	}

	// Apply a corruption, expect it caught with a description, undo it.
	template <typename T>
	void expect_caught(T *where, T bad, const char *what)
	{
		SCOPED_TRACE(what);
		OPEN_FREE(where, sizeof(T)); // a node in free memory is poisoned
		T saved = *where;
		*where = bad;
		struct rtheap_fault f;
		EXPECT_EQ(-EUCLEAN, check(&f));
		EXPECT_NE(nullptr, f.what);
		OPEN_FREE(where, sizeof(T)); // the check closed it again
		*where = saved;
		EXPECT_EQ(0, check());
	}
};

TEST_F(Corrupt, LayoutAssumptionsHold)
{
	EXPECT_EQ(0u, page_of(run_));
	EXPECT_EQ(make(kRun, 3), map_[0]);
	EXPECT_EQ(kBucket, type_of(map_[3]));
	EXPECT_EQ(make(kFree, 4), map_[4]);
	EXPECT_EQ(make(kFree, 4), map_[7]);
	EXPECT_EQ(make(kRun, 2), map_[8]);
	EXPECT_EQ(kNone, type_of(map_[5]));
}

TEST_F(Corrupt, RunLengthChanged)
{
	expect_caught(&map_[0], make(kRun, 2), "run head shortened");
	expect_caught(&map_[0], make(kRun, 4), "run head lengthened");
}

TEST_F(Corrupt, InteriorPageMarked)
{
	expect_caught(&map_[1], make(kFree, 1), "free mark inside a run");
	expect_caught(&map_[5], make(kRun, 1), "run mark inside a free run");
}

TEST_F(Corrupt, FreeRunBoundaries)
{
	expect_caught(&map_[7], make(kFree, 3), "free run tail disagrees");
	expect_caught(&map_[4], make(kFree, 5), "free run head too long");
	expect_caught(&map_[4], make(kNone, 0), "free run head lost");
}

TEST_F(Corrupt, BucketBitmap)
{
	uint32_t e = map_[3];
	// 64-byte blocks: 4 per page, 3 live; the bitmap is the low 16 bits.
	unsigned live = static_cast<unsigned>(
		(static_cast<unsigned char *>(small_[0]) - (pages_ + 3 * kPage)) / 64);
	ASSERT_EQ(0u, (e >> live) & 1u);
	expect_caught(&map_[3], e | (1u << live), "live block marked free");
	expect_caught(&map_[3], e & ~0xffffu, "free block marked live");
	expect_caught(&map_[3], e ^ (1u << 25), "class changed");
}

TEST_F(Corrupt, FreeRunNode)
{
	// The node of the free run 4..7 lives in its first page:
	// { prev, next, extent, start, len }.
	struct Node {
		void *prev, *next, *ext;
		uint32_t start, len;
	};
	Node *nd = reinterpret_cast<Node *>(pages_ + 4 * kPage);
	OPEN_FREE(nd, sizeof(*nd));
	ASSERT_EQ(4u, nd->start);
	ASSERT_EQ(4u, nd->len);
	CLOSE_FREE(nd, sizeof(*nd));
	expect_caught(&nd->len, 5u, "node length");
	expect_caught(&nd->start, 3u, "node start");
	expect_caught(&nd->ext, static_cast<void *>(nd), "node extent");
	expect_caught(&nd->prev, static_cast<void *>(nd), "node back link");
}

TEST_F(Corrupt, BucketNode)
{
	// The page with 3 live 64-byte blocks has one free block holding the
	// page's list node { prev, next }.
	void *freeblk = nullptr;
	for (int b = 0; b < 4 && !freeblk; b++) {
		unsigned char *blk = pages_ + 3 * kPage + 64 * b;
		bool live = false;
		for (void *p : small_)
			live |= p == blk;
		if (!live)
			freeblk = blk;
	}
	ASSERT_NE(nullptr, freeblk);
	void **links = static_cast<void **>(freeblk);
	expect_caught(&links[0], static_cast<void *>(links), "bucket back link");
}

TEST_F(Corrupt, CleanAfterEveryRepairAndFree)
{
	for (void *p : small_)
		EXPECT_EQ(0, rtheap_free(h_.get(), p));
	EXPECT_EQ(0, rtheap_free(h_.get(), run_));
	EXPECT_EQ(0, rtheap_free(h_.get(), run2_));
	EXPECT_EQ(0, check());
	struct rtheap_stats st;
	ASSERT_EQ(0, rtheap_get_stats(h_.get(), &st));
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(1u, st.free_runs);
}

} // namespace
