/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/mi_mem.h with the block arenas of a
// renderer's memory manager, as shared/docs/seed-systems.md (family 1)
// describes them: zeroed blocks, LIFO reuse, clear keeps the pages,
// enumerate sees exactly the live blocks, a fast unlocked variant, dump
// and summary tagged with the creator's file and line, delete returns all
// memory; plus what this port adds: misuse caught, reported, harmless.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "rtheap/compat/mi_mem.h"
#include "rtheap/default.h"
#include "compat_common.h"
#include "test_common.h"

extern "C" int mi_mem_c_program(rtheap_t *heap); // test_compat_mi_mem_c.c

namespace {

// The original's signatures, checked at compile time.
static_assert(std::is_same<miMemblk, rtcache_t>::value, "miMemblk is the native cache");
static_assert(std::is_same<decltype(&mi_mem_int_blkcreate),
                           miMemblk *(*)(int, const char *, int)>::value, "blkcreate");
static_assert(std::is_same<decltype(&mi_mem_blkdelete), void (*)(miMemblk *)>::value, "delete");
static_assert(std::is_same<decltype(&mi_mem_blkallocate), void *(*)(miMemblk *)>::value, "alloc");
static_assert(std::is_same<decltype(&mi_mem_blkfallocate), void *(*)(miMemblk *)>::value, "falloc");
static_assert(std::is_same<decltype(&mi_mem_blkrelease), void (*)(miMemblk *, void *)>::value,
              "release");
static_assert(std::is_same<decltype(&mi_mem_blkclear), void (*)(miMemblk *)>::value, "clear");
static_assert(std::is_same<decltype(&mi_mem_blkenumerate),
                           void (*)(miMemblk *, void (*)(void *, void *), void *)>::value,
              "enumerate");
static_assert(std::is_same<decltype(&mi_mem_dump), void (*)(FILE *)>::value, "dump");
static_assert(std::is_same<decltype(&mi_mem_summary), void (*)(FILE *)>::value, "summary");
static_assert(std::is_same<decltype(&mi_mem_set_heap), void (*)(rtheap_t *)>::value, "set_heap");

using rtt::Misuse;
using rtt::record_misuse;

// What a listing function prints, read back from a temporary file.
std::string capture(void (*list)(FILE *))
{
	FILE *f = std::tmpfile();
	if (!f)
		return "(tmpfile failed)";
	list(f);
	std::string out;
	std::rewind(f);
	char buf[4096];
	size_t n;
	while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
		out.append(buf, n);
	std::fclose(f);
	return out;
}

size_t count_of(const std::string &hay, const std::string &needle)
{
	size_t n = 0;
	for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
		n++;
	return n;
}

bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = static_cast<const unsigned char *>(p);
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

rtcache_stats arena_stats(miMemblk *mb)
{
	rtcache_stats st;
	std::memset(&st, 0, sizeof st);
	EXPECT_EQ(0, rtcache_get_stats(mb, &st));
	return st;
}

void collect(void *blk, void *arg)
{
	static_cast<std::vector<void *> *>(arg)->push_back(blk);
}

// Every test runs on a heap of its own, the current heap of the interface
// (compat_common.h).
class CompatMiMem : public rtt::CompatHeapTest<mi_mem_set_heap> {};

TEST_F(CompatMiMem, SizeRoundedUpToPointerSizeWithoutTheOriginalsCap)
{
	struct {
		int bsize;
		size_t stride;
	} cases[] = {{1, sizeof(void *)},
	             {(int)sizeof(void *) + 1, 2 * sizeof(void *)},
	             {24, 24},
	             {20000, 20000 + (sizeof(void *) - 20000 % sizeof(void *)) % sizeof(void *)}};
	for (auto &c : cases) {
		miMemblk *mb = mi_mem_blkcreate(c.bsize);
		ASSERT_NE(nullptr, mb) << c.bsize;
		EXPECT_EQ(c.stride, arena_stats(mb).stride) << c.bsize;
		EXPECT_EQ((size_t)c.bsize, arena_stats(mb).obj_size);
		// Two blocks never overlap: the second starts a stride away at least.
		char *a = static_cast<char *>(mi_mem_blkallocate(mb));
		char *b = static_cast<char *>(mi_mem_blkallocate(mb));
		ASSERT_TRUE(a && b) << c.bsize;
		EXPECT_GE((size_t)(a > b ? a - b : b - a), c.stride);
		EXPECT_EQ(0u, (uintptr_t)a % sizeof(void *));
		std::memset(a, 0x11, (size_t)c.bsize);
		std::memset(b, 0x22, (size_t)c.bsize);
		mi_mem_blkdelete(mb);
	}
}

TEST_F(CompatMiMem, NonPositiveSizeCreatesNothing)
{
	rtheap_stats before = rtt::stats(&heap_);
	for (int bsize : {0, -1, -8, INT32_MIN}) {
		EXPECT_EQ(nullptr, mi_mem_blkcreate(bsize)) << bsize;
		rtt::expect_same_stats(before, rtt::stats(&heap_), "non-positive size");
	}
}

TEST_F(CompatMiMem, BlocksAreZeroedEvenAfterGarbageWasReleased)
{
	const int bsize = 200;
	miMemblk *mb = mi_mem_blkcreate(bsize);
	ASSERT_NE(nullptr, mb);
	const rtcache_stats st = arena_stats(mb);
	const size_t n = 3 * st.objs_per_slab + 1; // four slabs
	std::vector<void *> blocks;
	for (size_t i = 0; i < n; i++) {
		void *p = (i % 2) ? mi_mem_blkallocate(mb) : mi_mem_blkfallocate(mb);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(all_zero(p, bsize)) << "fresh block " << i;
		std::memset(p, 0xA7, bsize);
		blocks.push_back(p);
	}
	// Release all but one block of each slab (so that no slab empties and
	// goes back to the heap): the released blocks hold garbage.
	std::set<uintptr_t> slab_kept;
	std::set<void *> released;
	for (void *p : blocks) {
		if (slab_kept.insert((uintptr_t)p & ~(uintptr_t)(st.slab_bytes - 1)).second)
			continue;
		mi_mem_blkrelease(mb, p);
		released.insert(p);
	}
	ASSERT_EQ(4u, slab_kept.size());
	std::set<void *> again;
	for (size_t i = 0; i < released.size(); i++) {
		void *p = (i % 2) ? mi_mem_blkfallocate(mb) : mi_mem_blkallocate(mb);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(all_zero(p, bsize)) << "reused block " << i;
		again.insert(p);
	}
	// The same blocks came back (so the zeroing above was over garbage).
	EXPECT_EQ(released, again);
	EXPECT_TRUE(misuse_.empty());
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, ReleasedBlockIsTheNextOneAllocated)
{
	miMemblk *mb = mi_mem_blkcreate(48);
	ASSERT_NE(nullptr, mb);
	void *a = mi_mem_blkallocate(mb);
	void *b = mi_mem_blkallocate(mb);
	void *c = mi_mem_blkallocate(mb);
	ASSERT_TRUE(a && b && c);
	mi_mem_blkrelease(mb, b);
	EXPECT_EQ(b, mi_mem_blkallocate(mb));
	mi_mem_blkrelease(mb, a);
	mi_mem_blkrelease(mb, c);
	EXPECT_EQ(c, mi_mem_blkallocate(mb)); // last released, first out
	EXPECT_EQ(a, mi_mem_blkfallocate(mb));
	// Across slabs too: a block of the first slab released while later
	// slabs have room is still the next one.
	const size_t per = arena_stats(mb).objs_per_slab;
	std::vector<void *> many;
	for (size_t i = 0; i < 2 * per; i++)
		many.push_back(mi_mem_blkallocate(mb));
	mi_mem_blkrelease(mb, a);
	EXPECT_EQ(a, mi_mem_blkallocate(mb));
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, ClearReleasesEveryBlockAndKeepsThePages)
{
	miMemblk *mb = mi_mem_blkcreate(64);
	ASSERT_NE(nullptr, mb);
	const size_t n = 5 * arena_stats(mb).objs_per_slab; // five full slabs
	std::set<void *> first;
	for (size_t i = 0; i < n; i++) {
		void *p = mi_mem_blkallocate(mb);
		ASSERT_NE(nullptr, p);
		std::memset(p, 0x5C, 64);
		first.insert(p);
	}
	const rtcache_stats full = arena_stats(mb);
	const rtheap_stats before = rtt::stats(&heap_);
	ASSERT_GT(before.pages_owned, 0u);

	mi_mem_blkclear(mb);
	const rtcache_stats cleared = arena_stats(mb);
	EXPECT_EQ(0u, cleared.active_objs);
	EXPECT_EQ(full.total_slabs, cleared.total_slabs);
	// The heap saw nothing: not one page given back.
	rtt::expect_same_stats(before, rtt::stats(&heap_), "after clear");
	EXPECT_EQ(before.pages_owned, rtt::stats(&heap_).pages_owned);
	std::vector<void *> seen;
	mi_mem_blkenumerate(mb, collect, &seen);
	EXPECT_TRUE(seen.empty());

	// The next allocations reuse those pages: no new slab, the same blocks,
	// zeroed again.
	std::set<void *> second;
	for (size_t i = 0; i < n; i++) {
		void *p = mi_mem_blkallocate(mb);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(all_zero(p, 64)) << i;
		second.insert(p);
	}
	EXPECT_EQ(first, second);
	const rtheap_stats after = rtt::stats(&heap_);
	EXPECT_EQ(before.pages_owned, after.pages_owned);
	EXPECT_EQ(before.alloc_calls, after.alloc_calls);
	EXPECT_EQ(full.total_slabs, arena_stats(mb).total_slabs);
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, EnumerateSeesExactlyTheLiveBlocks)
{
	miMemblk *mb = mi_mem_blkcreate(32);
	ASSERT_NE(nullptr, mb);
	std::vector<void *> seen;
	mi_mem_blkenumerate(mb, collect, &seen);
	EXPECT_TRUE(seen.empty()) << "new arena";

	const size_t n = 4 * arena_stats(mb).objs_per_slab + 5;
	std::vector<void *> all;
	for (size_t i = 0; i < n; i++)
		all.push_back(mi_mem_blkallocate(mb));
	std::set<void *> live;
	for (size_t i = 0; i < n; i++) {
		if (i % 3 == 1 || (i >= 2 * n / 5 && i < 3 * n / 5)) // a whole slab empties too
			mi_mem_blkrelease(mb, all[i]);
		else
			live.insert(all[i]);
	}
	mi_mem_blkenumerate(mb, collect, &seen);
	EXPECT_EQ(live.size(), seen.size()) << "each live block once";
	EXPECT_EQ(live, std::set<void *>(seen.begin(), seen.end()));

	// The argument reaches the callback; a NULL callback does nothing.
	seen.clear();
	mi_mem_blkenumerate(mb, nullptr, &seen);
	mi_mem_blkenumerate(nullptr, collect, &seen);
	EXPECT_TRUE(seen.empty());
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, FastUnlockedVariantHandsOutBlocksLikeTheLockedOne)
{
	miMemblk *mb = mi_mem_blkcreate(100);
	ASSERT_NE(nullptr, mb);
	const size_t n = 2 * arena_stats(mb).objs_per_slab + 1;
	std::set<void *> got;
	for (size_t i = 0; i < n; i++) {
		void *p = mi_mem_blkfallocate(mb);
		ASSERT_NE(nullptr, p);
		EXPECT_TRUE(all_zero(p, 100));
		std::memset(p, (int)i, 100);
		EXPECT_TRUE(got.insert(p).second) << "handed out twice: " << p;
	}
	void *locked = mi_mem_blkallocate(mb);
	EXPECT_EQ(0u, got.count(locked));
	rtcache_stats st = arena_stats(mb);
	EXPECT_EQ(n + 1, st.active_objs);
	EXPECT_EQ(n + 1, st.allocs);
	void *some = *got.begin();
	mi_mem_blkrelease(mb, some);
	EXPECT_EQ(some, mi_mem_blkfallocate(mb));
	std::vector<void *> seen;
	mi_mem_blkenumerate(mb, collect, &seen);
	EXPECT_EQ(n + 1, seen.size());
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, DumpAndSummaryNameTheCreatorsFileAndLine)
{
	const int line = __LINE__ + 1;
	miMemblk *mb = mi_mem_blkcreate(512);
	ASSERT_NE(nullptr, mb);
	const size_t n = 2 * arena_stats(mb).objs_per_slab + 1; // three slabs
	for (size_t i = 0; i < n; i++)
		ASSERT_NE(nullptr, mi_mem_blkallocate(mb));
	const size_t slabs = arena_stats(mb).total_slabs;
	ASSERT_EQ(3u, slabs);
	const std::string tag = std::string(__FILE__) + ":" + std::to_string(line) + "\n";

	const std::string summary = capture(mi_mem_summary);
	EXPECT_EQ(1u, count_of(summary, tag)) << summary;
	// The dump lists the arena and each of its pages (slabs) with the tag.
	const std::string dump = capture(mi_mem_dump);
	EXPECT_EQ(1u + slabs, count_of(dump, tag)) << dump;

	// Another arena, from another line, is told apart.
	const int line2 = __LINE__ + 1;
	miMemblk *other = mi_mem_blkcreate(16);
	ASSERT_NE(nullptr, other);
	const std::string tag2 = std::string(__FILE__) + ":" + std::to_string(line2) + "\n";
	EXPECT_EQ(1u, count_of(capture(mi_mem_summary), tag2));
	EXPECT_EQ(1u, count_of(capture(mi_mem_summary), tag));
	mi_mem_blkdelete(other);
	mi_mem_blkdelete(mb);
	EXPECT_EQ(0u, count_of(capture(mi_mem_dump), tag)) << "a deleted arena is not listed";
}

TEST_F(CompatMiMem, DeleteReturnsEveryPageToTheHeap)
{
	const rtheap_stats before = rtt::stats(&heap_);
	miMemblk *mb = mi_mem_blkcreate(72);
	ASSERT_NE(nullptr, mb);
	const size_t n = 10 * arena_stats(mb).objs_per_slab + 7;
	for (size_t i = 0; i < n; i++)
		ASSERT_NE(nullptr, mi_mem_blkallocate(mb));
	const rtheap_stats busy = rtt::stats(&heap_);
	EXPECT_GT(busy.used, before.used);
	EXPECT_GE(busy.pages_owned, 10u);

	mi_mem_blkdelete(mb); // blocks still live: delete takes them too
	const rtheap_stats after = rtt::stats(&heap_);
	EXPECT_EQ(before.used, after.used);
	EXPECT_EQ(before.pages_owned, after.pages_owned);
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	EXPECT_EQ(before.free, after.free);
	EXPECT_EQ(before.largest_free, after.largest_free);
	EXPECT_EQ(before.free_runs, after.free_runs);
	std::string summary = capture(mi_mem_summary);
	EXPECT_EQ(std::string::npos, summary.find("cache at")) << summary;
	mi_mem_blkdelete(nullptr); // nothing happens
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatMiMem, MisuseIsReportedAndChangesNothing)
{
	miMemblk *mb = mi_mem_blkcreate(40);
	miMemblk *other = mi_mem_blkcreate(40);
	ASSERT_TRUE(mb && other);
	char *a = static_cast<char *>(mi_mem_blkallocate(mb));
	char *b = static_cast<char *>(mi_mem_blkallocate(mb));
	void *theirs = mi_mem_blkallocate(other);
	void *heap_block = rtheap_alloc(&heap_, 40);
	ASSERT_TRUE(a && b && theirs && heap_block);
	std::memset(a, 0x3C, 40);
	mi_mem_blkrelease(mb, b); // b is free from here on
	int on_stack = 0;

	const std::vector<rtt::BadRelease> cases = {
	    {"foreign (the stack)", &on_stack, RTHEAP_ERR_FOREIGN},
	    {"a heap block", heap_block, RTHEAP_ERR_NOT_BLOCK},
	    {"interior pointer", a + 8, RTHEAP_ERR_NOT_BLOCK},
	    {"a block of another arena", theirs, RTHEAP_ERR_NOT_BLOCK},
	    {"double release", b, RTHEAP_ERR_DOUBLE_FREE},
	};
	rtt::expect_bad_releases(&heap_, mb, misuse_, cases,
	                         [&](void *p) { mi_mem_blkrelease(mb, p); });
	// Nothing changed: a is intact and live, b comes back next.
	for (int i = 0; i < 40; i++)
		EXPECT_EQ(0x3C, (unsigned char)a[i]);
	EXPECT_EQ(b, mi_mem_blkallocate(mb));
	misuse_.clear();
	mi_mem_blkrelease(mb, nullptr); // a no-op, as free(NULL)
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(0, rtheap_free(&heap_, heap_block));
	mi_mem_blkdelete(other);
	mi_mem_blkdelete(mb);
}

TEST_F(CompatMiMem, ArenasGoOnTheCurrentHeapOrTheDefaultHeap)
{
	EXPECT_EQ(&heap_, mi_mem_get_heap());
	const int line = __LINE__ + 1;
	miMemblk *mine = mi_mem_blkcreate(56);
	ASSERT_NE(nullptr, mine);
	ASSERT_NE(nullptr, mi_mem_blkallocate(mine));

	mi_mem_set_heap(nullptr); // back to the process default heap
	rtheap_t *def = rtheap_default();
	ASSERT_NE(nullptr, def);
	EXPECT_EQ(def, mi_mem_get_heap());
	const int line2 = __LINE__ + 1;
	miMemblk *theirs = mi_mem_blkcreate(56);
	ASSERT_NE(nullptr, theirs);
	void *p = mi_mem_blkallocate(theirs);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(-EFAULT, rtheap_check_block(&heap_, p)) << "not in the test heap";

	const std::string tag = std::string(__FILE__) + ":" + std::to_string(line) + "\n";
	const std::string tag2 = std::string(__FILE__) + ":" + std::to_string(line2) + "\n";
	const std::string on_default = capture(mi_mem_summary); // the default heap now
	EXPECT_EQ(1u, count_of(on_default, tag2));
	EXPECT_EQ(0u, count_of(on_default, tag));
	mi_mem_set_heap(&heap_);
	const std::string on_mine = capture(mi_mem_summary);
	EXPECT_EQ(1u, count_of(on_mine, tag));
	EXPECT_EQ(0u, count_of(on_mine, tag2));

	// An arena stays on its heap whatever the current heap is now.
	mi_mem_blkrelease(theirs, p);
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(p, mi_mem_blkallocate(theirs));
	mi_mem_blkdelete(theirs);
	mi_mem_blkdelete(mine);
	EXPECT_TRUE(rtt::heap_ok(def));
}

TEST_F(CompatMiMem, LockedAllocateFromManyThreads)
{
	miMemblk *mb = mi_mem_blkcreate(64);
	ASSERT_NE(nullptr, mb);
	const unsigned nthreads = 2 * std::max(2u, std::thread::hardware_concurrency());
	std::vector<std::thread> threads;
	std::vector<int> bad(nthreads, 0);
	for (unsigned t = 0; t < nthreads; t++) {
		threads.emplace_back([mb, t, &bad] {
			std::vector<unsigned char *> mine;
			for (int round = 0; round < 200; round++) {
				for (int i = 0; i < 20; i++) {
					auto *p = static_cast<unsigned char *>(mi_mem_blkallocate(mb));
					if (!p || !all_zero(p, 64)) {
						bad[t]++;
						continue;
					}
					std::memset(p, (int)(t + 1), 64);
					mine.push_back(p);
				}
				for (unsigned char *p : mine) {
					for (int k = 0; k < 64; k++)
						if (p[k] != (unsigned char)(t + 1))
							bad[t]++;
					mi_mem_blkrelease(mb, p);
				}
				mine.clear();
			}
		});
	}
	for (auto &th : threads)
		th.join();
	for (unsigned t = 0; t < nthreads; t++)
		EXPECT_EQ(0, bad[t]) << "thread " << t;
	EXPECT_EQ(0u, arena_stats(mb).active_objs);
	EXPECT_TRUE(misuse_.empty());
	mi_mem_blkdelete(mb);
}

// The header compiles as C11 with -Wall -Wextra -Werror, and a C program
// of those calls behaves (test_compat_mi_mem_c.c).
TEST_F(CompatMiMem, CProgram)
{
	EXPECT_EQ(0, mi_mem_c_program(&heap_));
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(0u, rtt::stats(&heap_).pages_owned);
}

} // namespace
