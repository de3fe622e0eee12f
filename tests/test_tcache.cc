/* SPDX-License-Identifier: MIT */
// Per-thread caches (rtheap/tcache.h), one thread at a time: the round trip
// of every class, sizes above max_size, the refill and flush boundaries,
// the depot's cap, a thread's exit, destroy, every error row of
// docs/errors.md ("Per-thread caches"), checked mode, and rtheap_check()
// seeing the cache (and a planted inconsistency in it).  The threaded
// cases are in test_tcache_threads.cc.
#include <pthread.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rtheap/tcache.h"
#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

using rtt::heap_ok;
using rtt::stats;

namespace {

struct Report {
	rtheap_error_kind_t kind;
	const void *addr;
};

void record(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	static_cast<std::vector<Report> *>(arg)->push_back({kind, addr});
}

class Heap {
public:
	explicit Heap(size_t bytes = 4u << 20, size_t page = 256,
	              rtheap_lock_mode_t lock = RTHEAP_LOCK_PI_MUTEX, unsigned flags = 0)
	    : map_(RTHEAP_BUFFER_SIZE(bytes, page))
	{
		rtheap_config cfg = rtt::config(page, lock, flags);
		EXPECT_EQ(0, rtheap_init(&h, map_.data(), map_.size(), &cfg));
		EXPECT_EQ(0, rtheap_set_error_handler(&h, record, &reports));
		initial = stats(&h);
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
	rtheap_stats initial;

private:
	rtt::Mapping map_;
};

rttcache_stats tstats(rttcache_t *tc)
{
	rttcache_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rttcache_get_stats(tc, &st));
	return st;
}

rttcache_t *make(rtheap_t *h, size_t max_size, unsigned batch, unsigned depot,
                 unsigned flags = 0)
{
	rttcache_config cfg;
	std::memset(&cfg, 0, sizeof cfg);
	cfg.max_size = max_size;
	cfg.batch = batch;
	cfg.depot = depot;
	cfg.flags = flags;
	return rttcache_create(h, &cfg);
}

// The heap is back where it started (every block, the descriptor too).
void expect_initial(Heap &hp)
{
	rtheap_stats st = stats(&hp.h);
	EXPECT_EQ(hp.initial.free, st.free);
	EXPECT_EQ(hp.initial.live_blocks, st.live_blocks);
}

TEST(TCache, RoundTripEveryClass)
{
	for (size_t page : {(size_t)256, (size_t)4096}) {
		Heap hp(4u << 20, page);
		rttcache_t *tc = make(&hp.h, 4096, 4, 2);
		ASSERT_NE(nullptr, tc);
		for (unsigned c = 0; (size_t)16 << c <= 4096; c++) {
			size_t cls = (size_t)16 << c;
			for (size_t req : {cls, cls / 2 + 1}) {
				if (req < 1)
					continue;
				void *p = rttcache_alloc(tc, req);
				ASSERT_NE(nullptr, p) << req;
				EXPECT_EQ(cls, rtheap_usable_size(&hp.h, p)) << "page " << page << " req " << req;
				EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % (cls < page ? cls : page));
				std::memset(p, 0x3c, cls); // the whole class is the caller's
				EXPECT_EQ(0, rttcache_free(tc, p));
				rttcache_stats st = tstats(tc);
				EXPECT_EQ((size_t)4, st.class_cached[c]) << req; // batch: 3 left + 1 back
				void *q = rttcache_alloc(tc, req);
				EXPECT_EQ(p, q) << "the bin is LIFO";
				EXPECT_EQ(0, rttcache_free(tc, q));
			}
		}
		EXPECT_TRUE(heap_ok(&hp.h));
		rttcache_stats st = tstats(tc);
		EXPECT_EQ((size_t)1, st.threads);
		EXPECT_EQ(st.thread_blocks, st.cached_blocks);
		EXPECT_EQ(0u, st.errors);
		EXPECT_EQ(0, rttcache_destroy(tc));
		expect_initial(hp);
	}
}

TEST(TCache, AboveMaxSizeGoesToTheHeap)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	EXPECT_EQ(0, rttcache_thread_init(tc));
	EXPECT_EQ(0, rttcache_thread_init(tc)); // once
	EXPECT_EQ(1u, tstats(tc).threads);
	size_t live = stats(&hp.h).live_blocks - 1; // without the thread state
	void *p = rttcache_alloc(tc, 1025);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ((size_t)1280, rtheap_usable_size(&hp.h, p)); // 5 pages, not a class
	EXPECT_EQ(live + 2, stats(&hp.h).live_blocks);
	EXPECT_EQ(0, rttcache_free(tc, p));
	EXPECT_EQ(live + 1, stats(&hp.h).live_blocks);
	EXPECT_EQ(0u, tstats(tc).cached_blocks);
	// a power-of-two run above max_size is not cached either
	void *q = rttcache_alloc(tc, 2048);
	ASSERT_NE(nullptr, q);
	EXPECT_EQ(0, rttcache_free(tc, q));
	EXPECT_EQ(0u, tstats(tc).cached_blocks);
	// and a run of an odd length from the heap itself (3 pages)
	void *r = rtheap_alloc(&hp.h, 700);
	ASSERT_NE(nullptr, r);
	EXPECT_EQ(0, rttcache_free(tc, r));
	EXPECT_EQ(0u, tstats(tc).cached_blocks);
	EXPECT_EQ(live + 1, stats(&hp.h).live_blocks);
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, HeapBlocksOfACachedClassAreCached)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	void *a = rtheap_alloc(&hp.h, 40);   // bucket block of 64
	void *b = rtheap_alloc(&hp.h, 1000); // run of 4 pages: class 1024
	ASSERT_TRUE(a && b);
	EXPECT_EQ(0, rttcache_free(tc, a));
	EXPECT_EQ(0, rttcache_free(tc, b));
	rttcache_stats st = tstats(tc);
	EXPECT_EQ(1u, st.class_cached[2]);
	EXPECT_EQ(1u, st.class_cached[6]);
	EXPECT_EQ(a, rttcache_alloc(tc, 64));
	EXPECT_EQ(b, rttcache_alloc(tc, 513));
	EXPECT_EQ(0, rttcache_free(tc, a));
	EXPECT_EQ(0, rttcache_free(tc, b));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

// Heap runs of 1 .. 512 pages released into a cache of every class (256 B
// pages: up to 256 pages = 64 KiB): a power-of-two run up to max_size is
// cached in its class (the release fast path decodes the run's map entry),
// anything longer goes back to the heap.
TEST(TCache, RunsOfEveryPowerOfTwoLength)
{
	Heap hp(8u << 20);
	rttcache_t *tc = make(&hp.h, RTTCACHE_MAX_SIZE, 4, 2);
	ASSERT_NE(nullptr, tc);
	void *first = rttcache_alloc(tc, 16); // the thread's state and view
	ASSERT_NE(nullptr, first);
	EXPECT_EQ(0, rttcache_free(tc, first));
	const size_t cached = tstats(tc).cached_blocks;
	for (unsigned k = 0; k <= 9; k++) {
		const size_t live = stats(&hp.h).live_blocks;
		void *b = rtheap_alloc(&hp.h, (size_t)256 << k);
		ASSERT_NE(nullptr, b);
		ASSERT_EQ((size_t)256 << k, rtheap_usable_size(&hp.h, b));
		EXPECT_EQ(0, rttcache_free(tc, b));
		rttcache_stats st = tstats(tc);
		if (k <= 8) {
			EXPECT_EQ(1u, st.class_cached[k + 4]) << k;
			EXPECT_EQ(b, rttcache_alloc(tc, (size_t)256 << k)) << k;
			EXPECT_EQ(0, rttcache_free(tc, b));
		} else {
			EXPECT_EQ(live, stats(&hp.h).live_blocks) << "512 pages: to the heap";
			EXPECT_EQ(cached + 9u, st.cached_blocks);
		}
	}
	EXPECT_EQ(cached + 9u, tstats(tc).cached_blocks) << "one run of each class 4..12";
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, RefillAndFlushBoundaries)
{
	Heap hp;
	const unsigned B = 4; // bin capacity 8
	rttcache_t *tc = make(&hp.h, 1024, B, 4);
	ASSERT_NE(nullptr, tc);
	std::vector<void *> v;
	// exactly batch allocations: one refill from the heap
	for (unsigned i = 0; i < B; i++)
		v.push_back(rttcache_alloc(tc, 32));
	rttcache_stats st = tstats(tc);
	EXPECT_EQ(1u, st.refills);
	EXPECT_EQ(1u, st.heap_batches);
	EXPECT_EQ(0u, st.class_cached[1]);
	// batch + 1: the second refill
	v.push_back(rttcache_alloc(tc, 32));
	st = tstats(tc);
	EXPECT_EQ(2u, st.refills);
	EXPECT_EQ(B - 1, st.class_cached[1]);
	for (unsigned i = 0; i < 2 * B - 1; i++)
		v.push_back(rttcache_alloc(tc, 32));
	for (void *p : v)
		ASSERT_NE(nullptr, p);
	ASSERT_EQ(3 * B, v.size());
	st = tstats(tc);
	EXPECT_EQ(3u, st.refills);
	EXPECT_EQ(0u, st.class_cached[1]);
	// releases up to 2 * batch: no flush
	for (unsigned i = 0; i < 2 * B; i++)
		EXPECT_EQ(0, rttcache_free(tc, v[i]));
	st = tstats(tc);
	EXPECT_EQ(0u, st.flushes);
	EXPECT_EQ(2 * B, st.class_cached[1]);
	EXPECT_EQ(2 * B, st.thread_blocks);
	// one more: one flush of batch blocks into the depot
	EXPECT_EQ(0, rttcache_free(tc, v[2 * B]));
	st = tstats(tc);
	EXPECT_EQ(1u, st.flushes);
	EXPECT_EQ(1u, st.depot_puts);
	EXPECT_EQ(1u, st.depot_magazines);
	EXPECT_EQ((size_t)B, st.depot_blocks);
	EXPECT_EQ((size_t)B + 1, st.thread_blocks);
	EXPECT_EQ(2 * B + 1, st.cached_blocks);
	EXPECT_EQ((2 * B + 1) * 32, st.cached_bytes);
	for (unsigned i = 2 * B + 1; i < 3 * B; i++)
		EXPECT_EQ(0, rttcache_free(tc, v[i]));
	EXPECT_TRUE(heap_ok(&hp.h));
	// empty the bin, then the next refill is the depot's magazine
	size_t in_bin = tstats(tc).thread_blocks;
	v.clear();
	for (size_t i = 0; i < in_bin; i++)
		v.push_back(rttcache_alloc(tc, 32));
	st = tstats(tc);
	EXPECT_EQ(0u, st.thread_blocks);
	EXPECT_EQ(0u, st.depot_gets);
	v.push_back(rttcache_alloc(tc, 32));
	st = tstats(tc);
	EXPECT_EQ(1u, st.depot_gets);
	EXPECT_EQ(0u, st.depot_magazines);
	EXPECT_EQ((size_t)B - 1, st.thread_blocks);
	EXPECT_EQ(3u, st.heap_batches) << "the depot served the refill, not the heap";
	for (void *p : v)
		EXPECT_EQ(0, rttcache_free(tc, p));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, DepotCapSendsBatchesToTheHeap)
{
	Heap hp;
	const unsigned B = 4;
	rttcache_t *tc = make(&hp.h, 1024, B, 1); // one magazine per class
	ASSERT_NE(nullptr, tc);
	std::vector<void *> v;
	for (unsigned i = 0; i < 4 * B; i++)
		v.push_back(rtheap_alloc(&hp.h, 64));
	EXPECT_EQ(0, rttcache_thread_init(tc));
	size_t live = stats(&hp.h).live_blocks;
	for (unsigned i = 0; i < 2 * B + 1; i++)
		EXPECT_EQ(0, rttcache_free(tc, v[i]));
	rttcache_stats st = tstats(tc);
	EXPECT_EQ(1u, st.depot_magazines);
	EXPECT_EQ(0u, st.heap_batches);
	for (unsigned i = 2 * B + 1; i < 4 * B; i++)
		EXPECT_EQ(0, rttcache_free(tc, v[i])); // the bin fills again: a second flush
	st = tstats(tc);
	EXPECT_EQ(2u, st.flushes);
	EXPECT_EQ(1u, st.depot_magazines) << "the depot keeps at most depot magazines";
	EXPECT_EQ(1u, st.depot_puts);
	EXPECT_EQ(1u, st.heap_batches);
	EXPECT_EQ(live - B, stats(&hp.h).live_blocks) << "one batch went back to the heap";
	EXPECT_EQ(3 * B, st.cached_blocks);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, ThreadExitGivesBlocksBack)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 8, 2);
	ASSERT_NE(nullptr, tc);
	size_t live = stats(&hp.h).live_blocks;
	std::thread th([&] {
		EXPECT_EQ(0, rttcache_thread_init(tc));
		std::vector<void *> v;
		for (size_t s : {16, 100, 256, 1000})
			for (int i = 0; i < 5; i++)
				v.push_back(rttcache_alloc(tc, s));
		for (void *p : v)
			EXPECT_EQ(0, rttcache_free(tc, p));
		rttcache_stats st = tstats(tc);
		EXPECT_EQ(1u, st.threads);
		EXPECT_EQ(4u * 8u, st.thread_blocks); // 4 classes, one batch each
		EXPECT_GT(stats(&hp.h).live_blocks, live);
	});
	th.join();
	rttcache_stats st = tstats(tc);
	EXPECT_EQ(0u, st.threads);
	EXPECT_EQ(1u, st.thread_exits);
	EXPECT_EQ(0u, st.cached_blocks);
	EXPECT_EQ(4u, st.refills) << "counters of a gone thread are kept";
	EXPECT_EQ(live, stats(&hp.h).live_blocks) << "blocks and the thread state went back";
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, DestroyReturnsEverything)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 4096, 4, 3);
	ASSERT_NE(nullptr, tc);
	std::vector<void *> keep;
	// another thread leaves blocks in the depot and blocks behind...
	std::thread th([&] {
		std::vector<void *> v;
		for (int i = 0; i < 120; i++)
			v.push_back(rttcache_alloc(tc, 16u << (i % 9)));
		for (void *p : v)
			EXPECT_EQ(0, rttcache_free(tc, p));
	});
	th.join();
	// ... this thread caches some and keeps one state
	for (int i = 0; i < 30; i++)
		keep.push_back(rttcache_alloc(tc, 24));
	for (void *p : keep)
		EXPECT_EQ(0, rttcache_free(tc, p));
	rttcache_stats st = tstats(tc);
	EXPECT_GT(st.depot_magazines, 0u);
	EXPECT_GT(st.thread_blocks, 0u);
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
	EXPECT_TRUE(hp.reports.empty());
}

TEST(TCache, FlushGivesTheThreadsBlocksBack)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	EXPECT_EQ(0, rttcache_flush(tc)); // no state yet: nothing to do
	size_t live = stats(&hp.h).live_blocks;
	void *p = rttcache_alloc(tc, 16);
	void *q = rttcache_alloc(tc, 512);
	EXPECT_EQ(0, rttcache_free(tc, p));
	EXPECT_EQ(0, rttcache_free(tc, q));
	EXPECT_EQ(8u, tstats(tc).thread_blocks);
	EXPECT_EQ(0, rttcache_flush(tc));
	EXPECT_EQ(0u, tstats(tc).cached_blocks);
	EXPECT_EQ(live + 1, stats(&hp.h).live_blocks); // the thread state stays
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCache, AnotherExtentRefreshesTheView)
{
	rtt::Mapping more(RTHEAP_BUFFER_SIZE(1u << 20, 256)); // outlives the heap
	Heap hp(64u << 10);
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	std::vector<void *> v;
	while (void *p = rtheap_alloc(&hp.h, 128))
		v.push_back(p); // the first extent is full
	ASSERT_EQ(0, rtheap_extend(&hp.h, more.data(), more.size(), RTHEAP_F_ZEROED));
	void *a = rttcache_alloc(tc, 128); // from the new extent
	ASSERT_NE(nullptr, a);
	EXPECT_GE(reinterpret_cast<unsigned char *>(a), more.data());
	EXPECT_EQ(0, rttcache_free(tc, v[0]));  // first extent
	EXPECT_EQ(0, rttcache_free(tc, a));     // second
	EXPECT_EQ(0, rttcache_free(tc, v[1]));  // first again
	EXPECT_EQ(6u, tstats(tc).class_cached[3]);
	EXPECT_EQ(v[1], rttcache_alloc(tc, 128));
	EXPECT_EQ(a, rttcache_alloc(tc, 128));
	EXPECT_EQ(v[0], rttcache_alloc(tc, 128));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	for (void *p : v)
		EXPECT_EQ(0, rtheap_free(&hp.h, p));
	EXPECT_EQ(0, rtheap_free(&hp.h, a));
	EXPECT_TRUE(hp.reports.empty());
}

TEST(TCache, ADestroyedCachesIdIsReused)
{
	Heap hp;
	for (int round = 0; round < 3; round++) {
		rttcache_t *tc = make(&hp.h, 1024, 4, 2);
		ASSERT_NE(nullptr, tc);
		void *p = rttcache_alloc(tc, 64);
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(0, rttcache_free(tc, p));
		EXPECT_EQ(1u, tstats(tc).threads) << "a new state each round";
		EXPECT_EQ(4u, tstats(tc).cached_blocks);
		EXPECT_EQ(0, rttcache_destroy(tc));
		expect_initial(hp);
	}
}

TEST(TCache, CachedBlocksArePoisonedExceptTheirTwoWords)
{
#if !RTHEAP_TEST_ASAN
	GTEST_SKIP() << "AddressSanitizer build only";
#else
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	for (size_t size : {64, 512}) {
		char *p = static_cast<char *>(rttcache_alloc(tc, size));
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(nullptr, __asan_region_is_poisoned(p, size));
		EXPECT_EQ(0, rttcache_free(tc, p));
		EXPECT_FALSE(__asan_address_is_poisoned(p));
		EXPECT_FALSE(__asan_address_is_poisoned(p + 15));
		EXPECT_TRUE(__asan_address_is_poisoned(p + 16));
		EXPECT_TRUE(__asan_address_is_poisoned(p + size - 1));
		EXPECT_EQ(p, rttcache_alloc(tc, size));
		EXPECT_EQ(nullptr, __asan_region_is_poisoned(p, size));
		EXPECT_EQ(0, rttcache_free(tc, p));
	}
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
#endif
}

// ---------------------------------------------------------------- errors

TEST(TCacheErrors, CreateSettings)
{
	Heap hp;
	struct {
		size_t max_size;
		unsigned batch, depot, flags;
	} bad[] = {{8, 0, 0, 0},      {24, 0, 0, 0}, {RTTCACHE_MAX_SIZE * 2, 0, 0, 0},
	           {1000, 0, 0, 0},   {0, RTTCACHE_MAX_BATCH + 1, 0, 0},
	           {0, 0, RTTCACHE_MAX_DEPOT + 1, 0}, {0, 0, 0, 1u << 7}};
	size_t live = stats(&hp.h).live_blocks;
	for (auto &b : bad) {
		errno = 0;
		EXPECT_EQ(nullptr, make(&hp.h, b.max_size, b.batch, b.depot, b.flags));
		EXPECT_EQ(EINVAL, errno) << b.max_size << " " << b.batch << " " << b.depot;
	}
	rtheap_t dead{};
	errno = 0;
	EXPECT_EQ(nullptr, rttcache_create(&dead, nullptr));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rttcache_create(nullptr, nullptr));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(live, stats(&hp.h).live_blocks);
	rttcache_t *tc = rttcache_create(&hp.h, nullptr); // defaults
	ASSERT_NE(nullptr, tc);
	rttcache_stats st = tstats(tc);
	EXPECT_EQ(1024u, st.max_size);
	EXPECT_EQ(16u, st.batch);
	EXPECT_EQ(RTTCACHE_DEFAULT_DEPOT, st.depot);
	EXPECT_EQ(0, rttcache_destroy(tc));
}

TEST(TCacheErrors, CreateNoMemoryAndTooManyCaches)
{
	Heap small(8u << 10);
	errno = 0;
	EXPECT_EQ(nullptr, make(&small.h, 1024, 64, RTTCACHE_MAX_DEPOT));
	EXPECT_EQ(ENOMEM, errno);
	Heap hp;
	std::vector<rttcache_t *> v;
	for (unsigned i = 0; i < RTTCACHE_MAX_CACHES; i++) {
		v.push_back(make(&hp.h, 64, 2, 1));
		ASSERT_NE(nullptr, v.back()) << i;
	}
	size_t live = stats(&hp.h).live_blocks;
	errno = 0;
	EXPECT_EQ(nullptr, make(&hp.h, 64, 2, 1));
	EXPECT_EQ(EMFILE, errno);
	EXPECT_EQ(live, stats(&hp.h).live_blocks);
	for (rttcache_t *tc : v)
		EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCacheErrors, NullArguments)
{
	rttcache_stats st;
	EXPECT_EQ(-EINVAL, rttcache_destroy(nullptr));
	errno = 0;
	EXPECT_EQ(nullptr, rttcache_alloc(nullptr, 16));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, rttcache_free(nullptr, &st));
	EXPECT_EQ(-EINVAL, rttcache_flush(nullptr));
	EXPECT_EQ(-EINVAL, rttcache_thread_init(nullptr));
	EXPECT_EQ(-EINVAL, rttcache_get_stats(nullptr, &st));
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	EXPECT_EQ(-EINVAL, rttcache_get_stats(tc, nullptr));
	errno = 1234;
	EXPECT_EQ(nullptr, rttcache_alloc(tc, 0));
	EXPECT_EQ(1234, errno) << "size 0: NULL, errno unchanged";
	EXPECT_EQ(0, rttcache_free(tc, nullptr));
	EXPECT_EQ(0u, tstats(tc).errors);
	EXPECT_EQ(0, rttcache_destroy(tc));
}

TEST(TCacheErrors, ForeignAndInteriorPointers)
{
	Heap hp, other;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	void *mine = rttcache_alloc(tc, 64);
	void *run = rttcache_alloc(tc, 1024);
	void *theirs = rtheap_alloc(&other.h, 64);
	ASSERT_TRUE(mine && run && theirs);
	rtheap_stats before = stats(&hp.h);
	rttcache_stats tb = tstats(tc);
	int local = 0;
	struct {
		void *p;
		int err;
		rtheap_error_kind_t kind;
	} bad[] = {
	    {theirs, -EFAULT, RTHEAP_ERR_FOREIGN},  // another heap's block
	    {&local, -EFAULT, RTHEAP_ERR_FOREIGN},  // the stack
	    {static_cast<char *>(mine) + 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
	    {static_cast<char *>(run) + 256, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
	    {static_cast<char *>(run) + 8, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
	};
	for (auto &b : bad) {
		hp.reports.clear();
		EXPECT_EQ(b.err, rttcache_free(tc, b.p)) << b.p;
		ASSERT_EQ(1u, hp.reports.size()) << b.p;
		EXPECT_EQ(b.kind, hp.reports[0].kind);
		EXPECT_EQ(b.p, hp.reports[0].addr);
	}
	rttcache_stats ta = tstats(tc);
	EXPECT_EQ(tb.errors + 5, ta.errors);
	EXPECT_EQ(tb.cached_blocks, ta.cached_blocks) << "nothing changes";
	EXPECT_EQ(before.live_blocks, stats(&hp.h).live_blocks);
	EXPECT_EQ(before.errors + 5, stats(&hp.h).errors);
	EXPECT_EQ(0, rttcache_free(tc, mine));
	EXPECT_EQ(0, rttcache_free(tc, run));
	EXPECT_EQ(0, rtheap_free(&other.h, theirs));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCacheErrors, DoubleReleaseOfACachedBlock)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	for (size_t size : {48, 512}) {
		void *p = rttcache_alloc(tc, size);
		ASSERT_NE(nullptr, p);
		EXPECT_EQ(0, rttcache_free(tc, p));
		rttcache_stats tb = tstats(tc);
		hp.reports.clear();
		EXPECT_EQ(-EINVAL, rttcache_free(tc, p));
		ASSERT_EQ(1u, hp.reports.size());
		EXPECT_EQ(RTHEAP_ERR_DOUBLE_FREE, hp.reports[0].kind);
		EXPECT_EQ(p, hp.reports[0].addr);
		rttcache_stats ta = tstats(tc);
		EXPECT_EQ(tb.double_frees + 1, ta.double_frees);
		EXPECT_EQ(tb.errors + 1, ta.errors);
		EXPECT_EQ(tb.cached_blocks, ta.cached_blocks) << "cached once only";
		EXPECT_TRUE(heap_ok(&hp.h));
		// handed out again, it can be released again
		EXPECT_EQ(p, rttcache_alloc(tc, size));
		EXPECT_EQ(0, rttcache_free(tc, p));
	}
	// also from another thread (its own bins), while in the depot, and
	// released by another thread than the one that cached it
	void *p = rttcache_alloc(tc, 48);
	EXPECT_EQ(0, rttcache_free(tc, p));
	std::thread th([&] { EXPECT_EQ(-EINVAL, rttcache_free(tc, p)); });
	th.join();
	EXPECT_EQ(3u, tstats(tc).double_frees);
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCacheErrors, CheckedModeSeesADoubleReleaseOfAHeapBlock)
{
	for (bool debug_fill : {false, true}) {
		Heap hp(4u << 20, 256, RTHEAP_LOCK_PI_MUTEX, debug_fill ? RTHEAP_F_DEBUG_FILL : 0);
		rttcache_t *tc = make(&hp.h, 1024, 4, 2, debug_fill ? 0 : RTTCACHE_CHECKED);
		ASSERT_NE(nullptr, tc);
		void *p = rtheap_alloc(&hp.h, 64);
		void *q = rtheap_alloc(&hp.h, 64);
		ASSERT_TRUE(p && q);
		EXPECT_EQ(0, rtheap_free(&hp.h, p)); // back in the heap
		rttcache_stats tb = tstats(tc);
		hp.reports.clear();
		EXPECT_EQ(-EINVAL, rttcache_free(tc, p));
		ASSERT_EQ(1u, hp.reports.size());
		EXPECT_EQ(RTHEAP_ERR_DOUBLE_FREE, hp.reports[0].kind);
		rttcache_stats ta = tstats(tc);
		EXPECT_EQ(tb.errors + 1, ta.errors);
		EXPECT_EQ(tb.cached_blocks, ta.cached_blocks);
		// a good release is still cached, and a double release of it seen
		EXPECT_EQ(0, rttcache_free(tc, q));
		EXPECT_EQ(1u, tstats(tc).class_cached[2]);
		EXPECT_EQ(-EINVAL, rttcache_free(tc, q));
		EXPECT_EQ(1u, tstats(tc).double_frees);
		void *r = rttcache_alloc(tc, 64);
		EXPECT_EQ(q, r);
		EXPECT_EQ(0, rttcache_free(tc, r));
		EXPECT_TRUE(heap_ok(&hp.h));
		EXPECT_EQ(0, rttcache_destroy(tc));
		expect_initial(hp);
	}
}

TEST(TCacheErrors, AllocationFailure)
{
	Heap hp(16u << 10);
	rttcache_t *tc = make(&hp.h, 1024, 64, 1);
	ASSERT_NE(nullptr, tc);
	std::vector<void *> v;
	errno = 0;
	void *p;
	while ((p = rttcache_alloc(tc, 1024)) != nullptr)
		v.push_back(p);
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_FALSE(v.empty()) << "partial batches serve what the heap has";
	EXPECT_EQ(1u, tstats(tc).failures);
	errno = 0;
	EXPECT_EQ(nullptr, rttcache_alloc(tc, 1u << 20)); // above max_size, too big
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(2u, tstats(tc).failures);
	for (void *b : v)
		EXPECT_EQ(0, rttcache_free(tc, b));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCacheErrors, NoMemoryForAThreadsState)
{
	Heap hp(64u << 10);
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	std::vector<void *> v;
	while (void *p = rtheap_alloc(&hp.h, 16))
		v.push_back(p); // the heap is full, down to its smallest blocks
	std::thread th([&] {
		EXPECT_EQ(-ENOMEM, rttcache_thread_init(tc));
		errno = 0;
		EXPECT_EQ(nullptr, rttcache_alloc(tc, 16)); // straight to the heap: full
		EXPECT_EQ(ENOMEM, errno);
		// a release without a state goes straight to the heap
		EXPECT_EQ(0, rttcache_free(tc, v.back()));
		EXPECT_EQ(0u, tstats(tc).cached_blocks);
		EXPECT_EQ(0u, tstats(tc).threads);
	});
	th.join();
	v.pop_back();
	EXPECT_EQ(1u, tstats(tc).failures);
	for (void *p : v)
		EXPECT_EQ(0, rtheap_free(&hp.h, p));
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

// ---------------------------------------------------------------- check, dump

TEST(TCacheCheck, ACorruptedCachedBlockIsFound)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	void **p = static_cast<void **>(rttcache_alloc(tc, 64));
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0, rttcache_free(tc, p));
	EXPECT_TRUE(heap_ok(&hp.h));
	rtheap_fault f;
	// the key word overwritten (a write after release)
	void *key = p[1];
	p[1] = nullptr;
	EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, &f));
	EXPECT_STREQ("tcache: a cached block lost its key", f.what);
	EXPECT_EQ(p, f.addr);
	EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, nullptr)); // no fault to fill
	p[1] = key;
	EXPECT_TRUE(heap_ok(&hp.h));
	// the link overwritten: the chain leaves the heap's blocks
	void *link = p[0];
	int local[4] = {0, 0, 0, 0};
	p[0] = local;
	EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, &f));
	EXPECT_STREQ("tcache: a cached block is not a live block of its class", f.what);
	// a chain cut short
	p[0] = nullptr;
	EXPECT_EQ(-EUCLEAN, rtheap_check(&hp.h, &f));
	EXPECT_STREQ("tcache: a bin's or magazine's count disagrees with its chain", f.what);
	p[0] = link;
	EXPECT_TRUE(heap_ok(&hp.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	expect_initial(hp);
}

TEST(TCacheCheck, DumpListsTheCache)
{
	Heap hp;
	rttcache_t *tc = make(&hp.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	void *p = rttcache_alloc(tc, 64);
	EXPECT_EQ(0, rttcache_free(tc, p));
	char buf[4096] = {0};
	FILE *f = fmemopen(buf, sizeof buf - 1, "w");
	ASSERT_NE(nullptr, f);
	EXPECT_EQ(0, rtheap_dump(&hp.h, f, 1));
	fclose(f);
	std::string s(buf);
	EXPECT_NE(std::string::npos, s.find("tcache")) << s;
	EXPECT_NE(std::string::npos, s.find("cached 4 blocks")) << s;
	EXPECT_EQ(0, rttcache_destroy(tc));
}

} // namespace
