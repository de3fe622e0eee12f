/* SPDX-License-Identifier: MIT */
// The door of the layers into the core (heap/owner.h): owned runs, the
// registry walked by rtheap_check(), misuse reports, and rtheap_dump().
// Linked with the static test library, where the door's symbols are
// visible (the shared library hides them).
#include <cstdio>
#include <string>

#include "test_common.h"

#include "owner.h"

namespace {

constexpr size_t kHeap = 1u << 20;

struct Seen {
	int calls = 0;
	rtheap_error_kind_t kind{};
	const void *addr = nullptr;
};

void on_error(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	auto *s = static_cast<Seen *>(arg);
	s->calls++;
	s->kind = kind;
	s->addr = addr;
}

class OwnerTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		struct rtheap_config cfg = {};
		cfg.page_size = 256;
		cfg.lock = RTHEAP_LOCK_NONE;
		cfg.name = "door";
		ASSERT_EQ(rtheap_init(&heap_, map_.data(), kHeap, &cfg), 0);
		ASSERT_EQ(rtheap_set_error_handler(&heap_, on_error, &seen_), 0);
	}
	void TearDown() override { rtheap_destroy(&heap_, nullptr, nullptr); }
	rtheap_stats stats()
	{
		rtheap_stats st;
		EXPECT_EQ(rtheap_get_stats(&heap_, &st), 0);
		return st;
	}
	void expect_ok()
	{
		rtheap_fault f;
		EXPECT_EQ(rtheap_check(&heap_, &f), 0) << (f.what ? f.what : "");
	}
	rtt::Mapping map_{kHeap};
	rtheap_t heap_;
	Seen seen_;
};

TEST_F(OwnerTest, TakeIsAlignedCountedAndGivenBack)
{
	size_t p = rtheap_page_size(&heap_);
	for (size_t bytes = p; bytes <= 64 * p; bytes <<= 1) {
		rtheap_stats before = stats();
		void *run = rt_owner_take(&heap_, bytes);
		ASSERT_NE(run, nullptr) << bytes;
		EXPECT_EQ(reinterpret_cast<uintptr_t>(run) % bytes, 0u) << bytes;
		rtheap_stats st = stats();
		EXPECT_EQ(st.pages_owned, before.pages_owned + bytes / p);
		EXPECT_EQ(st.used, before.used + bytes);
		EXPECT_EQ(st.live_blocks, before.live_blocks + 1);
		EXPECT_EQ(st.pages_run, before.pages_run);
		expect_ok();
		std::memset(run, 0x5a, bytes); // the whole run is the layer's
		void *found = nullptr;
		EXPECT_EQ(rt_owner_find(&heap_, static_cast<char *>(run) + bytes - 1,
		                        bytes, &found), 0);
		EXPECT_EQ(found, run);
		EXPECT_EQ(rt_owner_give(&heap_, run), 0);
		st = stats();
		EXPECT_EQ(st.pages_owned, before.pages_owned);
		EXPECT_EQ(st.used, before.used);
		EXPECT_EQ(st.largest_free, before.largest_free);
		expect_ok();
	}
}

TEST_F(OwnerTest, BadSizesAreRefusedWithoutCountingAFailure)
{
	size_t p = rtheap_page_size(&heap_);
	rtheap_stats before = stats();
	EXPECT_EQ(rt_owner_take(&heap_, 0), nullptr);
	EXPECT_EQ(rt_owner_take(&heap_, p / 2), nullptr);
	EXPECT_EQ(rt_owner_take(&heap_, 3 * p), nullptr);
	EXPECT_EQ(rt_owner_take(&heap_, rt_owner_max(&heap_) * 2), nullptr);
	EXPECT_EQ(rt_owner_take(nullptr, p), nullptr);
	EXPECT_EQ(stats().failed_allocs, before.failed_allocs);
	EXPECT_GE(rt_owner_max(&heap_), p);
	EXPECT_EQ(rt_owner_max(nullptr), 0u);
}

TEST_F(OwnerTest, ExhaustionIsACountedFailure)
{
	size_t big = rtheap_page_size(&heap_);
	while (big * 2 <= stats().largest_free / 2)
		big *= 2;
	std::vector<void *> runs;
	rtheap_stats before = stats();
	for (void *r; runs.size() < 8 && (r = rt_owner_take(&heap_, big));)
		runs.push_back(r);
	ASSERT_GE(runs.size(), 1u);
	ASSERT_LT(runs.size(), 8u) << "the heap holds fewer than 8 such runs";
	EXPECT_EQ(stats().failed_allocs, before.failed_allocs + 1);
	expect_ok();
	for (void *r : runs)
		EXPECT_EQ(rt_owner_give(&heap_, r), 0);
	EXPECT_EQ(stats().used, before.used);
	expect_ok();
}

// rt_owner_check_alloc (rtheap_free_rcu's door): the block check and the
// allocation in one lock section.  A check that fails allocates nothing and
// reports nothing (the caller reports); an allocation that fails is counted
// as rtheap_alloc's are.
TEST_F(OwnerTest, CheckAllocChecksThenAllocates)
{
	void *blk = rtheap_alloc(&heap_, 100);
	ASSERT_NE(blk, nullptr);
	rtheap_stats before = stats();
	void *n = nullptr;
	ASSERT_EQ(rt_owner_check_alloc(&heap_, blk, 16, &n), 0);
	ASSERT_NE(n, nullptr);
	EXPECT_EQ(rtheap_usable_size(&heap_, n), 16u);
	EXPECT_EQ(stats().live_blocks, before.live_blocks + 1);
	EXPECT_EQ(stats().alloc_calls, before.alloc_calls + 1);
	EXPECT_EQ(rtheap_free(&heap_, n), 0);

	int local = 0;
	void *untouched = &local;
	n = untouched;
	before = stats();
	EXPECT_EQ(rt_owner_check_alloc(&heap_, &local, 16, &n), -EFAULT); // foreign
	EXPECT_EQ(rt_owner_check_alloc(&heap_, (char *)blk + 16, 16, &n), -EINVAL); // interior
	EXPECT_EQ(rt_owner_check_alloc(&heap_, blk, 0, &n), -EINVAL);
	EXPECT_EQ(rt_owner_check_alloc(&heap_, blk, 16, nullptr), -EINVAL);
	EXPECT_EQ(rt_owner_check_alloc(nullptr, blk, 16, &n), -EINVAL);
	EXPECT_EQ(n, untouched);
	rtheap_stats after = stats();
	EXPECT_EQ(after.alloc_calls, before.alloc_calls);
	EXPECT_EQ(after.errors, before.errors);
	EXPECT_EQ(seen_.calls, 0);

	// no memory: -ENOMEM, counted as a failed allocation
	before = stats();
	EXPECT_EQ(rt_owner_check_alloc(&heap_, blk, 2 * kHeap, &n), -ENOMEM);
	EXPECT_EQ(n, untouched);
	EXPECT_EQ(stats().failed_allocs, before.failed_allocs + 1);
	EXPECT_EQ(rtheap_free(&heap_, blk), 0);
	expect_ok();
}

TEST_F(OwnerTest, FindTellsForeignFromNotOwned)
{
	size_t p = rtheap_page_size(&heap_);
	void *run = rt_owner_take(&heap_, 4 * p);
	ASSERT_NE(run, nullptr);
	void *blk = rtheap_alloc(&heap_, 100);
	ASSERT_NE(blk, nullptr);
	void *found = reinterpret_cast<void *>(1);
	int outside = 0;
	EXPECT_EQ(rt_owner_find(&heap_, &outside, 4 * p, &found), -EFAULT);
	EXPECT_EQ(rt_owner_find(&heap_, blk, 4 * p, &found), -EINVAL);
	// a run of another size is not found as one of this size
	EXPECT_EQ(rt_owner_find(&heap_, run, 2 * p, &found), -EINVAL);
	EXPECT_EQ(rt_owner_find(&heap_, run, 8 * p, &found), -EINVAL);
	EXPECT_EQ(rt_owner_find(&heap_, run, 3 * p, &found), -EINVAL);
	EXPECT_EQ(found, reinterpret_cast<void *>(1)) << "nothing written on error";
	EXPECT_EQ(rtheap_free(&heap_, blk), 0);
	EXPECT_EQ(rt_owner_give(&heap_, run), 0);
}

TEST_F(OwnerTest, FindTellsTheKindsApart)
{
	size_t p = rtheap_page_size(&heap_);
	void *pages = rt_owner_take_kind(&heap_, 2 * p, RT_OWN_PAGES);
	void *slab = rt_owner_take(&heap_, 2 * p);
	ASSERT_NE(pages, nullptr);
	ASSERT_NE(slab, nullptr);
	void *found = nullptr;
	EXPECT_EQ(rt_owner_find_kind(&heap_, static_cast<char *>(pages) + 1, 2 * p,
	                             RT_OWN_PAGES, &found), 0);
	EXPECT_EQ(found, pages);
	// the same size, another kind: not this layer's run
	EXPECT_EQ(rt_owner_find(&heap_, pages, 2 * p, &found), -EINVAL);
	EXPECT_EQ(rt_owner_find_kind(&heap_, slab, 2 * p, RT_OWN_PAGES, &found), -EINVAL);
	EXPECT_EQ(rt_owner_find_kind(&heap_, slab, 2 * p, RT_OWN_REGION, &found), -EINVAL);
	EXPECT_EQ(rt_owner_find(&heap_, slab, 2 * p, &found), 0);
	EXPECT_EQ(found, slab);
	// a kind out of range is refused by both calls
	EXPECT_EQ(rt_owner_take_kind(&heap_, 2 * p, RT_OWN_KIND_MAX + 1u), nullptr);
	EXPECT_EQ(rt_owner_find_kind(&heap_, pages, 2 * p, RT_OWN_KIND_MAX + 1u, &found),
	          -EINVAL);
	// the largest kind round-trips through the map
	void *top = rt_owner_take_kind(&heap_, p, RT_OWN_KIND_MAX);
	ASSERT_NE(top, nullptr);
	EXPECT_EQ(rt_owner_find_kind(&heap_, top, p, RT_OWN_KIND_MAX, &found), 0);
	EXPECT_EQ(rtheap_check(&heap_, nullptr), 0);
	EXPECT_EQ(rt_owner_give(&heap_, top), 0);
	EXPECT_EQ(rt_owner_give(&heap_, pages), 0);
	EXPECT_EQ(rt_owner_give(&heap_, slab), 0);
	EXPECT_EQ(rtheap_check(&heap_, nullptr), 0);
}

TEST_F(OwnerTest, GiveKindChecksAndReleasesInOneStep)
{
	size_t p = rtheap_page_size(&heap_);
	void *pages = rt_owner_take_kind(&heap_, 4 * p, RT_OWN_PAGES);
	ASSERT_NE(pages, nullptr);
	const rtheap_stats before = rtt::stats(&heap_);
	int outside = 0;
	char *c = static_cast<char *>(pages);
	EXPECT_EQ(rt_owner_give_kind(&heap_, &outside, 4 * p, RT_OWN_PAGES), -EFAULT);
	EXPECT_EQ(rt_owner_give_kind(&heap_, c + p, 4 * p, RT_OWN_PAGES), -EINVAL);
	EXPECT_EQ(rt_owner_give_kind(&heap_, c + 1, 4 * p, RT_OWN_PAGES), -EINVAL);
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 2 * p, RT_OWN_PAGES), -EINVAL);
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 4 * p, RT_OWN_CACHE), -EINVAL);
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 3 * p, RT_OWN_PAGES), -EINVAL);
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 4 * p, RT_OWN_KIND_MAX + 1u), -EINVAL);
	rtt::expect_same_stats(before, rtt::stats(&heap_), "refused gives change nothing");
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 4 * p, RT_OWN_PAGES), 0);
	EXPECT_EQ(rtt::stats(&heap_).pages_owned, before.pages_owned - 4);
	// given back: the same call is now refused (a double release)
	EXPECT_EQ(rt_owner_give_kind(&heap_, pages, 4 * p, RT_OWN_PAGES), -EINVAL);
	EXPECT_EQ(rtheap_check(&heap_, nullptr), 0);
}

TEST_F(OwnerTest, HeapCallsDoNotTouchAnOwnedRun)
{
	size_t p = rtheap_page_size(&heap_);
	void *run = rt_owner_take(&heap_, 2 * p);
	ASSERT_NE(run, nullptr);
	rtheap_stats before = stats();
	EXPECT_EQ(rtheap_free(&heap_, run), -EINVAL);
	EXPECT_EQ(seen_.kind, RTHEAP_ERR_NOT_BLOCK);
	EXPECT_EQ(seen_.addr, run);
	EXPECT_EQ(rtheap_check_block(&heap_, run), -EINVAL);
	EXPECT_EQ(rtheap_usable_size(&heap_, run), 0u);
	rtheap_stats st = stats();
	EXPECT_EQ(st.pages_owned, before.pages_owned);
	EXPECT_EQ(st.errors, before.errors + 1);
	// give() refuses what is not the start of an owned run, silently
	void *blk = rtheap_alloc(&heap_, 4 * p);
	ASSERT_NE(blk, nullptr);
	EXPECT_EQ(rt_owner_give(&heap_, blk), -EINVAL);
	EXPECT_EQ(rt_owner_give(&heap_, static_cast<char *>(run) + p), -EINVAL);
	EXPECT_EQ(rt_owner_give(&heap_, nullptr), -EINVAL);
	EXPECT_EQ(stats().errors, before.errors + 1);
	EXPECT_EQ(rtheap_free(&heap_, blk), 0);
	EXPECT_EQ(rt_owner_give(&heap_, run), 0);
	EXPECT_EQ(rt_owner_give(&heap_, run), -EINVAL) << "given back twice";
	expect_ok();
}

TEST_F(OwnerTest, ReportCountsAndCallsTheHandler)
{
	int x;
	rtheap_stats before = stats();
	rt_owner_report(&heap_, RTHEAP_ERR_DOUBLE_FREE, &x);
	EXPECT_EQ(seen_.calls, 1);
	EXPECT_EQ(seen_.kind, RTHEAP_ERR_DOUBLE_FREE);
	EXPECT_EQ(seen_.addr, &x);
	EXPECT_EQ(stats().errors, before.errors + 1);
}

// A layer object whose check fails on demand, and prints one line.
struct Fake {
	rt_owner o;
	bool broken = false;
};

int fake_check(rt_owner *o, rtheap_fault *f)
{
	auto *fk = reinterpret_cast<Fake *>(o);
	if (!fk->broken)
		return 0;
	if (f) {
		f->what = "fake layer fault";
		f->addr = fk;
	}
	return -EUCLEAN;
}

void fake_dump(rt_owner *o, FILE *out)
{
	std::fprintf(out, "fake layer object %p\n", static_cast<void *>(o));
}

const rt_owner_ops fake_ops = {"fake", fake_check, fake_dump};

std::string dump_of(rtheap_t *h, int verbose)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	EXPECT_NE(f, nullptr);
	EXPECT_EQ(rtheap_dump(h, f, verbose), 0);
	std::fclose(f);
	std::string s(buf, len);
	std::free(buf);
	return s;
}

TEST_F(OwnerTest, CheckAndDumpWalkTheRegistry)
{
	Fake a, b;
	a.o.ops = b.o.ops = &fake_ops;
	a.o.file = "a.c";
	a.o.line = 11;
	b.o.file = "b.c";
	b.o.line = 22;
	ASSERT_EQ(rt_owner_register(&heap_, &a.o), 0);
	ASSERT_EQ(rt_owner_register(&heap_, &b.o), 0);
	EXPECT_EQ(rt_owner_next(&heap_, nullptr), &b.o);
	EXPECT_EQ(rt_owner_next(&heap_, &b.o), &a.o);
	EXPECT_EQ(rt_owner_next(&heap_, &a.o), nullptr);
	expect_ok();
	a.broken = true;
	rtheap_fault f;
	EXPECT_EQ(rtheap_check(&heap_, &f), -EUCLEAN);
	EXPECT_STREQ(f.what, "fake layer fault");
	EXPECT_EQ(f.addr, &a);
	a.broken = false;

	std::string s = dump_of(&heap_, 0);
	EXPECT_NE(s.find("heap door at"), std::string::npos) << s;
	EXPECT_NE(s.find("extent 0 at"), std::string::npos) << s;
	EXPECT_NE(s.find("fake at"), std::string::npos) << s;
	EXPECT_NE(s.find("a.c:11"), std::string::npos) << s;
	EXPECT_NE(s.find("b.c:22"), std::string::npos) << s;
	EXPECT_NE(s.find("by 2 layer objects"), std::string::npos) << s;
	s = dump_of(&heap_, 1);
	EXPECT_NE(s.find("fake layer object"), std::string::npos) << s;

	rt_owner_unregister(&b.o);
	EXPECT_EQ(rt_owner_next(&heap_, nullptr), &a.o);
	EXPECT_EQ(rt_owner_next(&heap_, &a.o), nullptr);
	rt_owner_unregister(&a.o);
	EXPECT_EQ(rt_owner_next(&heap_, nullptr), nullptr);
	EXPECT_EQ(rt_owner_register(&heap_, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_dump(nullptr, stdout, 0), -EINVAL);
	EXPECT_EQ(rtheap_dump(&heap_, nullptr, 0), -EINVAL);
}

TEST_F(OwnerTest, SettingsOfTheHeap)
{
	EXPECT_EQ(rt_owner_lock_mode(&heap_), RTHEAP_LOCK_NONE);
	EXPECT_EQ(rt_owner_flags(&heap_) & RTHEAP_F_DEBUG_FILL, 0u);
	EXPECT_EQ(rt_owner_lock_mode(nullptr), -1);
	EXPECT_FALSE(rt_owner_broken(&heap_)); // only a shared heap can be (test_shared)
	EXPECT_FALSE(rt_owner_broken(nullptr));
}

TEST(OwnerDebug, DebugHeapFillsAndChecksOwnedRuns)
{
	rtt::Mapping m(kHeap);
	rtheap_t h;
	struct rtheap_config cfg = {};
	cfg.flags = RTHEAP_F_DEBUG_FILL;
	ASSERT_EQ(rtheap_init(&h, m.data(), kHeap, &cfg), 0);
	size_t p = rtheap_page_size(&h);
	void *run = rt_owner_take(&h, 8 * p);
	ASSERT_NE(run, nullptr);
	EXPECT_EQ(static_cast<unsigned char *>(run)[8 * p - 1], RT_OWNER_FILL_FRESH);
	EXPECT_EQ(rt_owner_give(&h, run), 0);
	rtheap_fault f;
	EXPECT_EQ(rtheap_check(&h, &f), 0) << (f.what ? f.what : "");
	rtheap_destroy(&h, nullptr, nullptr);
}

} // namespace
