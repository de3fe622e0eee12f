/* SPDX-License-Identifier: MIT */
// Reserve pools (rtheap/pool.h): the guarantee at exhaustion (allocation
// succeeds while the reserve lasts, fails cleanly after, a release refills
// the reserve first), waiting and timed allocation, resize, destroy,
// statistics, bad input (the rows of docs/errors.md), and a threaded
// stress.
//
// The label is "concurrency" (built and run in the ThreadSanitizer build
// too): most cases here run a second thread.  Nothing depends on timing:
// a test that needs a thread to be asleep in the pool polls the pool's
// statistics until its `waits` counter says so, and asserts the order of
// events, never a duration.

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rtheap/cache.h"
#include "rtheap/pool.h"
#include "test_common.h"

using rtt::heap_ok;
using rtt::stats;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

constexpr size_t kElem = 64;       // element size of the heap-backed pools
constexpr size_t kHeap = 64 * 1024;

// The underlying allocator of most tests: kElem-byte blocks of a heap.
// `budget` allocations are allowed (-1: no limit); with `gate` closed an
// allocation waits until it opens (counted in `blocked`).  Every flags
// argument is logged.
struct Backing {
	rtheap_t *heap = nullptr;
	std::atomic<long> budget{-1};
	std::atomic<size_t> allocs{0}, frees{0};
	std::atomic<bool> gate{false};
	std::atomic<int> blocked{0};
	std::mutex log_mtx;
	std::vector<unsigned> flags_log;

	static void *alloc(unsigned flags, void *data)
	{
		auto *b = static_cast<Backing *>(data);
		{
			std::lock_guard<std::mutex> g(b->log_mtx);
			b->flags_log.push_back(flags);
		}
		if (b->gate.load()) {
			b->blocked++;
			while (b->gate.load())
				sched_yield();
		}
		if (b->budget.load() == 0)
			return nullptr;
		if (b->budget.load() > 0)
			b->budget--;
		void *p = rtheap_alloc(b->heap, kElem);
		if (p)
			b->allocs++;
		return p;
	}
	static void release(void *elem, void *data)
	{
		auto *b = static_cast<Backing *>(data);
		EXPECT_EQ(0, rtheap_free(b->heap, elem));
		b->frees++;
	}
	std::vector<unsigned> log()
	{
		std::lock_guard<std::mutex> g(log_mtx);
		return flags_log;
	}
	void clear_log()
	{
		std::lock_guard<std::mutex> g(log_mtx);
		flags_log.clear();
	}
};

rtpool_stats pool_stats(rtpool_t *p)
{
	rtpool_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rtpool_get_stats(p, &st));
	return st;
}

// Poll until `n` callers have gone to sleep in the pool (stats.waits).
void await_waits(rtpool_t *p, size_t n)
{
	while (pool_stats(p).waits < n)
		sched_yield();
}

// CLOCK_MONOTONIC now + ms (negative: in the past).
timespec mono_in(long ms)
{
	timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	long long ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec + ms * 1000000LL;
	t.tv_sec = (time_t)(ns / 1000000000LL);
	t.tv_nsec = (long)(ns % 1000000000LL);
	return t;
}

class Pool : public ::testing::Test {
protected:
	void SetUp() override
	{
		ASSERT_TRUE(buf_.ok());
		rtheap_config c = rtt::config(256, RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(&h_, buf_.data(), buf_.size(), &c));
		b_.heap = &h_;
	}
	void TearDown() override
	{
		release(filler_);
		EXPECT_TRUE(heap_ok(&h_));
		rtheap_destroy(&h_, nullptr, nullptr);
	}
	size_t used() { return stats(&h_).used; }
	rtpool_t *make(size_t min_nr)
	{
		return rtpool_create(&h_, min_nr, Backing::alloc, Backing::release, &b_);
	}
	// Take every kElem block the heap has left (into filler_).
	void exhaust()
	{
		void *p;
		while ((p = rtheap_alloc(&h_, kElem)) != nullptr)
			filler_.push_back(p);
		ASSERT_FALSE(filler_.empty());
	}
	void release(std::vector<void *> &v)
	{
		for (void *p : v)
			EXPECT_EQ(0, rtheap_free(&h_, p));
		v.clear();
	}

	rtt::Mapping buf_{kHeap};
	rtheap_t h_{};
	Backing b_;
	std::vector<void *> filler_;
};

// ------------------------------------------------------------ the guarantee

TEST_F(Pool, CreateFillsTheReserve)
{
	const size_t u0 = used();
	rtpool_t *p = make(4);
	ASSERT_NE(nullptr, p);
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(4u, st.min_nr);
	EXPECT_EQ(4u, st.curr_nr);
	EXPECT_EQ(4u, b_.allocs.load());
	// the reserve fills with RTPOOL_WAIT (set-up may block)
	for (unsigned f : b_.log())
		EXPECT_EQ((unsigned)RTPOOL_WAIT, f);
	EXPECT_STREQ(__FILE__, st.file);
	EXPECT_GT(st.line, 0);
	// descriptor + array + 4 elements came from the heap
	EXPECT_GE(used(), u0 + 4 * kElem + 4 * sizeof(void *));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, UnderlyingAllocatorFirst)
{
	rtpool_t *p = make(3);
	ASSERT_NE(nullptr, p);
	b_.clear_log();
	void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_NE(nullptr, e);
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(3u, st.curr_nr) << "the reserve must stay whole while the heap has memory";
	EXPECT_EQ(0u, st.from_reserve);
	EXPECT_EQ(1u, st.allocs);
	ASSERT_EQ(1u, b_.log().size());
	EXPECT_EQ((unsigned)RTPOOL_NOWAIT, b_.log()[0]);
	// even a WAIT caller asks the underlying allocator without waiting first
	b_.clear_log();
	void *w = rtpool_alloc(p, RTPOOL_WAIT);
	ASSERT_NE(nullptr, w);
	ASSERT_EQ(1u, b_.log().size());
	EXPECT_EQ((unsigned)RTPOOL_NOWAIT, b_.log()[0]);
	// the reserve is full: releases go back to the heap
	const size_t u = used();
	EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(0, rtpool_free(p, w));
	EXPECT_EQ(u - 2 * kElem, used());
	EXPECT_EQ(2u, b_.frees.load());
	EXPECT_EQ(0u, pool_stats(p).refills);
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, GuaranteeAtExhaustion)
{
	constexpr size_t kMin = 4;
	rtpool_t *p = make(kMin);
	ASSERT_NE(nullptr, p);
	exhaust();
	ASSERT_EQ(nullptr, rtheap_alloc(&h_, kElem)) << "the heap must be exhausted";
	const size_t u = used();

	// exactly min_nr allocations succeed, from the reserve
	std::set<void *> got;
	for (size_t i = 0; i < kMin; i++) {
		void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
		ASSERT_NE(nullptr, e) << "allocation " << i << " of the reserve";
		EXPECT_EQ(0, rtheap_check_block(&h_, e));
		std::memset(e, int(i), kElem);
		got.insert(e);
		EXPECT_EQ(kMin - 1 - i, pool_stats(p).curr_nr);
	}
	EXPECT_EQ(kMin, got.size()) << "the reserve handed out an element twice";
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(kMin, st.from_reserve);
	EXPECT_EQ(0u, st.failures);

	// the next one fails cleanly
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_alloc(p, RTPOOL_NOWAIT));
	EXPECT_EQ(ENOMEM, errno);
	st = pool_stats(p);
	EXPECT_EQ(1u, st.failures);
	EXPECT_EQ(kMin, st.allocs);
	EXPECT_EQ(0u, st.curr_nr);
	EXPECT_EQ(u, used());
	EXPECT_TRUE(heap_ok(&h_));

	// a release refills the reserve (not the heap), and is handed out next
	void *back = *got.begin();
	EXPECT_EQ(0, rtpool_free(p, back));
	st = pool_stats(p);
	EXPECT_EQ(1u, st.curr_nr);
	EXPECT_EQ(1u, st.refills);
	EXPECT_EQ(u, used()) << "the element must stay in the reserve";
	EXPECT_EQ(nullptr, rtheap_alloc(&h_, kElem)) << "the heap must not have got it";
	EXPECT_EQ(back, rtpool_alloc(p, RTPOOL_NOWAIT));
	EXPECT_EQ(kMin + 1, pool_stats(p).from_reserve);

	// memory back in the heap: the underlying allocator serves first again
	EXPECT_EQ(0, rtheap_free(&h_, filler_.back()));
	filler_.pop_back();
	void *fresh = rtpool_alloc(p, RTPOOL_NOWAIT);
	EXPECT_NE(nullptr, fresh);
	EXPECT_EQ(kMin + 1, pool_stats(p).from_reserve);

	// every release refills the reserve until it is full, then the heap
	EXPECT_EQ(0, rtpool_free(p, fresh));
	for (void *e : got)
		EXPECT_EQ(0, rtpool_free(p, e));
	st = pool_stats(p);
	EXPECT_EQ(kMin, st.curr_nr);
	EXPECT_EQ(kMin + 1, st.refills);
	EXPECT_EQ(u - kElem, used()) << "one release must have gone to the heap";
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// ------------------------------------------------------------ waiting

// Drain the reserve of an exhausted heap: returns the elements.
std::vector<void *> drain(rtpool_t *p)
{
	std::vector<void *> v;
	void *e;
	while ((e = rtpool_alloc(p, RTPOOL_NOWAIT)) != nullptr)
		v.push_back(e);
	return v;
}

TEST_F(Pool, WaitBlocksUntilRelease)
{
	rtpool_t *p = make(2);
	ASSERT_NE(nullptr, p);
	exhaust();
	std::vector<void *> held = drain(p);
	ASSERT_EQ(2u, held.size());

	std::atomic<int> stage{0};
	void *got = nullptr;
	std::thread t([&] {
		got = rtpool_alloc(p, RTPOOL_WAIT);
		stage = 2;
	});
	await_waits(p, 1);
	EXPECT_EQ(0, stage.load()) << "the waiter returned before any release";
	stage = 1;
	EXPECT_EQ(0, rtpool_free(p, held[1]));
	t.join();
	EXPECT_EQ(2, stage.load());
	EXPECT_EQ(held[1], got) << "the waiter must get the released element";
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(1u, st.waits);
	EXPECT_EQ(3u, st.from_reserve);
	EXPECT_EQ(0u, st.curr_nr);
	EXPECT_EQ(0, rtpool_free(p, got));
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, WaitAsksWithWaitFlagBeforeSleeping)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	exhaust();
	std::vector<void *> held = drain(p);
	ASSERT_EQ(1u, held.size());
	b_.clear_log();
	void *got = nullptr;
	std::thread t([&] { got = rtpool_alloc(p, RTPOOL_WAIT); });
	await_waits(p, 1);
	// first without waiting, then (reserve empty) with RTPOOL_WAIT
	std::vector<unsigned> log = b_.log();
	ASSERT_EQ(2u, log.size());
	EXPECT_EQ((unsigned)RTPOOL_NOWAIT, log[0]);
	EXPECT_EQ((unsigned)RTPOOL_WAIT, log[1]);
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	t.join();
	EXPECT_EQ(held[0], got);
	EXPECT_EQ(0, rtpool_free(p, got));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// A release that goes to the underlying allocator (reserve full, here
// min_nr 0) wakes a waiter too, which then gets the memory from there.
TEST_F(Pool, WaitWokenByReleaseToUnderlying)
{
	rtpool_t *p = make(0);
	ASSERT_NE(nullptr, p);
	std::vector<void *> held = drain(p); // the whole heap, through the pool
	ASSERT_FALSE(held.empty());
	const size_t u = used();
	void *got = nullptr;
	std::atomic<bool> done{false};
	std::thread t([&] {
		got = rtpool_alloc(p, RTPOOL_WAIT);
		done = true;
	});
	await_waits(p, 1);
	EXPECT_FALSE(done.load());
	EXPECT_EQ(0, rtpool_free(p, held.back()));
	held.pop_back();
	t.join();
	ASSERT_NE(nullptr, got);
	EXPECT_EQ(0, rtheap_check_block(&h_, got));
	EXPECT_EQ(u, used());
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(0u, st.from_reserve);
	EXPECT_EQ(0u, st.refills);
	held.push_back(got);
	for (void *e : held)
		EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, TimedExpires)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	exhaust();
	std::vector<void *> held = drain(p);
	ASSERT_EQ(1u, held.size());
	const size_t u = used();

	timespec past = mono_in(-1000);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_alloc_timed(p, &past));
	EXPECT_EQ(ETIMEDOUT, errno);
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(1u, st.timeouts);
	EXPECT_EQ(2u, st.failures); // drain's last NOWAIT, then this one

	timespec soon = mono_in(20);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_alloc_timed(p, &soon));
	EXPECT_EQ(ETIMEDOUT, errno);
	st = pool_stats(p);
	EXPECT_EQ(2u, st.timeouts);
	EXPECT_EQ(3u, st.failures);
	EXPECT_EQ(u, used());
	EXPECT_TRUE(heap_ok(&h_));

	// a deadline already past still takes what is there
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	EXPECT_EQ(held[0], rtpool_alloc_timed(p, &past));
	EXPECT_EQ(2u, pool_stats(p).timeouts);
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, TimedWokenBeforeDeadline)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	exhaust();
	std::vector<void *> held = drain(p);
	ASSERT_EQ(1u, held.size());
	void *got = nullptr;
	std::thread t([&] {
		timespec far = mono_in(600 * 1000); // beyond the test's time-out
		got = rtpool_alloc_timed(p, &far);
	});
	await_waits(p, 1);
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	t.join();
	EXPECT_EQ(held[0], got);
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(0u, st.timeouts);
	EXPECT_EQ(0, rtpool_free(p, got));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// ------------------------------------------------------------ resize, destroy

TEST_F(Pool, ResizeUpAndDown)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	const size_t u1 = used();
	ASSERT_EQ(0, rtpool_resize(p, 8));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(8u, st.min_nr);
	EXPECT_EQ(8u, st.curr_nr);
	const size_t u8 = used();
	EXPECT_GE(u8, u1 + 7 * kElem);
	ASSERT_EQ(0, rtpool_resize(p, 8)); // same size: nothing changes
	EXPECT_EQ(u8, used());
	ASSERT_EQ(0, rtpool_resize(p, 1));
	st = pool_stats(p);
	EXPECT_EQ(1u, st.min_nr);
	EXPECT_EQ(1u, st.curr_nr);
	EXPECT_EQ(u1, used()) << "elements and the larger array must be back in the heap";
	ASSERT_EQ(0, rtpool_resize(p, 0));
	EXPECT_EQ(0u, pool_stats(p).curr_nr);
	EXPECT_LT(used(), u1);
	ASSERT_EQ(0, rtpool_resize(p, 3));
	EXPECT_EQ(3u, pool_stats(p).curr_nr);
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// Shrink on a full heap: the surplus goes back, and the reserve stays in
// its larger array (the heap has no block for a smaller one): not an
// error.  The elements come from outside the heap here, so that their
// release gives the heap nothing.
TEST_F(Pool, ShrinkOnFullHeapKeepsTheArray)
{
	struct Outside {
		static void *alloc(unsigned, void *) { return std::malloc(kElem); }
		static void release(void *e, void *) { std::free(e); }
	};
	rtpool_t *p = rtpool_create(&h_, 8, Outside::alloc, Outside::release, nullptr);
	ASSERT_NE(nullptr, p);
	for (size_t sz = 32768; sz >= 16; sz /= 2) {
		void *b;
		while ((b = rtheap_alloc(&h_, sz)) != nullptr)
			filler_.push_back(b);
	}
	const rtheap_stats before = stats(&h_);
	EXPECT_EQ(0, rtpool_resize(p, 2));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(2u, st.min_nr);
	EXPECT_EQ(2u, st.curr_nr);
	EXPECT_EQ(before.used, stats(&h_).used);
	EXPECT_EQ(before.failed_allocs + 1, stats(&h_).failed_allocs);
	// the pool works as one of min_nr 2
	void *a = rtpool_alloc(p, RTPOOL_NOWAIT);
	void *b = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_TRUE(a && b);
	EXPECT_EQ(0, rtpool_free(p, a));
	EXPECT_EQ(0, rtpool_free(p, b));
	EXPECT_EQ(2u, pool_stats(p).curr_nr);
	// and grows again once the heap has room
	release(filler_);
	EXPECT_EQ(0, rtpool_resize(p, 5));
	EXPECT_EQ(5u, pool_stats(p).curr_nr);
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// Grow with part of the reserve lent out: the new elements join the ones
// still there, and releases refill up to the new min_nr.
TEST_F(Pool, ResizeWhileReserveLent)
{
	rtpool_t *p = make(4);
	ASSERT_NE(nullptr, p);
	b_.budget = 0; // the underlying allocator has nothing: the reserve serves
	std::vector<void *> held = drain(p);
	ASSERT_EQ(4u, held.size());
	EXPECT_EQ(0, rtpool_free(p, held.back()));
	held.pop_back();
	EXPECT_EQ(1u, pool_stats(p).curr_nr);
	b_.budget = -1;
	ASSERT_EQ(0, rtpool_resize(p, 6));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(6u, st.min_nr);
	EXPECT_EQ(3u, st.curr_nr);
	for (void *e : held)
		EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(6u, pool_stats(p).curr_nr);
	// shrink below what is lent: the surplus goes back, the rest stays
	b_.budget = 0;
	held = drain(p);
	EXPECT_EQ(6u, held.size());
	const size_t u = used();
	ASSERT_EQ(0, rtpool_resize(p, 2));
	EXPECT_EQ(0u, pool_stats(p).curr_nr);
	for (void *e : held)
		EXPECT_EQ(0, rtpool_free(p, e));
	st = pool_stats(p);
	EXPECT_EQ(2u, st.curr_nr);
	// four elements and the array's shrink (six pointers to two) back
	const size_t arr = rtheap_round_size(&h_, 6 * sizeof(void *)) -
	                   rtheap_round_size(&h_, 2 * sizeof(void *));
	EXPECT_EQ(u - 4 * kElem - arr, used());
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, ResizeFailsUnchanged)
{
	rtpool_t *p = make(2);
	ASSERT_NE(nullptr, p);
	const size_t u = used();
	const size_t frees = b_.frees.load();
	// the underlying allocator gives out 3 of the 5 new elements
	b_.budget = 3;
	EXPECT_EQ(-ENOMEM, rtpool_resize(p, 7));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(2u, st.min_nr);
	EXPECT_EQ(2u, st.curr_nr);
	EXPECT_EQ(u, used());
	EXPECT_EQ(frees + 3, b_.frees.load()) << "the three taken must be given back";
	// no heap memory for the new array
	b_.budget = -1;
	exhaust();
	const size_t ue = used();
	EXPECT_EQ(-ENOMEM, rtpool_resize(p, 64));
	EXPECT_EQ(2u, pool_stats(p).min_nr);
	EXPECT_EQ(ue, used());
	EXPECT_TRUE(heap_ok(&h_));
	// the pool still works
	void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
	EXPECT_NE(nullptr, e);
	EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, ResizeAndDestroyBusyDuringResize)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	b_.gate = true;
	int rc = 1;
	std::thread t([&] { rc = rtpool_resize(p, 3); });
	while (b_.blocked.load() == 0)
		sched_yield();
	EXPECT_EQ(-EBUSY, rtpool_resize(p, 5));
	EXPECT_EQ(-EBUSY, rtpool_resize(p, 0));
	EXPECT_EQ(-EBUSY, rtpool_destroy(p));
	EXPECT_EQ(1u, pool_stats(p).min_nr);
	b_.gate = false;
	t.join();
	EXPECT_EQ(0, rc);
	EXPECT_EQ(3u, pool_stats(p).curr_nr);
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(Pool, DestroyReturnsEverything)
{
	const rtheap_stats before = stats(&h_);
	rtpool_t *p = make(5);
	ASSERT_NE(nullptr, p);
	void *a = rtpool_alloc(p, RTPOOL_NOWAIT);
	void *b = rtpool_alloc(p, RTPOOL_NOWAIT);
	void *c = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_TRUE(a && b && c);
	EXPECT_EQ(0, rtpool_free(p, a));
	EXPECT_EQ(0, rtpool_free(p, b));
	ASSERT_EQ(0, rtpool_resize(p, 9));
	EXPECT_EQ(0, rtpool_destroy(p));
	// c is still a live element of the underlying allocator
	EXPECT_EQ(0, rtheap_check_block(&h_, c));
	EXPECT_EQ(0, rtheap_free(&h_, c));
	const rtheap_stats after = stats(&h_);
	EXPECT_EQ(before.used, after.used);
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	EXPECT_EQ(b_.allocs.load(), b_.frees.load() + 1); // + c, freed by hand
}

TEST_F(Pool, DestroyBusyWhileWaiting)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	exhaust();
	std::vector<void *> held = drain(p);
	ASSERT_EQ(1u, held.size());
	void *got = nullptr;
	std::thread t([&] { got = rtpool_alloc(p, RTPOOL_WAIT); });
	await_waits(p, 1);
	EXPECT_EQ(-EBUSY, rtpool_destroy(p));
	EXPECT_EQ(0, rtpool_free(p, held[0]));
	t.join();
	EXPECT_EQ(held[0], got);
	EXPECT_EQ(0, rtpool_free(p, got));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// min_nr 0: accepted; no reserve, every call goes to the underlying
// allocator, and NOWAIT fails cleanly when it has nothing.
TEST_F(Pool, MinNrZero)
{
	const size_t u0 = used();
	rtpool_t *p = make(0);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0u, pool_stats(p).curr_nr);
	EXPECT_EQ(0u, b_.allocs.load());
	void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_NE(nullptr, e);
	const size_t u = used();
	EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(u - kElem, used());
	b_.budget = 0;
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_alloc(p, RTPOOL_NOWAIT));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(1u, pool_stats(p).failures);
	EXPECT_EQ(0, rtpool_destroy(p));
	EXPECT_EQ(u0, used());
}

TEST_F(Pool, Stats)
{
	rtpool_t *p = make(2);
	ASSERT_NE(nullptr, p);
	void *a = rtpool_alloc(p, RTPOOL_NOWAIT); // underlying
	b_.budget = 0;
	void *b = rtpool_alloc(p, RTPOOL_NOWAIT); // reserve
	void *c = rtpool_alloc(p, RTPOOL_NOWAIT); // reserve
	void *d = rtpool_alloc(p, RTPOOL_NOWAIT); // failure
	ASSERT_TRUE(a && b && c);
	EXPECT_EQ(nullptr, d);
	timespec past = mono_in(-1);
	EXPECT_EQ(nullptr, rtpool_alloc_timed(p, &past)); // failure, timeout, wait
	EXPECT_EQ(0, rtpool_free(p, a)); // refill
	EXPECT_EQ(0, rtpool_free(p, b)); // refill
	EXPECT_EQ(0, rtpool_free(p, c)); // underlying
	EXPECT_EQ(0, rtpool_free(p, nullptr)); // not counted
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(2u, st.min_nr);
	EXPECT_EQ(2u, st.curr_nr);
	EXPECT_EQ(3u, st.allocs);
	EXPECT_EQ(2u, st.from_reserve);
	EXPECT_EQ(3u, st.frees);
	EXPECT_EQ(2u, st.refills);
	EXPECT_EQ(1u, st.waits);
	EXPECT_EQ(1u, st.timeouts);
	EXPECT_EQ(2u, st.failures);
	EXPECT_EQ(0, rtpool_destroy(p));
}

// ------------------------------------------------------------ reports

std::string dump(rtheap_t *h, int verbose)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	EXPECT_NE(nullptr, f);
	if (!f)
		return {};
	EXPECT_EQ(0, rtheap_dump(h, f, verbose));
	std::fclose(f);
	std::string s(buf, len);
	std::free(buf);
	return s;
}

// The pool registers on its heap: rtheap_dump() lists it with the
// creator's file:line (and its counters when verbose), rtheap_check()
// checks it; destroy and a failed create leave no trace.
TEST_F(Pool, DumpAndCheckSeeThePool)
{
	const int line = __LINE__ + 1;
	rtpool_t *p = rtpool_create(&h_, 3, Backing::alloc, Backing::release, &b_);
	ASSERT_NE(nullptr, p);
	void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_NE(nullptr, e);
	const std::string where = std::string(__FILE__) + ":" + std::to_string(line);
	std::string d0 = dump(&h_, 0);
	EXPECT_NE(std::string::npos, d0.find("pool at ")) << d0;
	EXPECT_NE(std::string::npos, d0.find(where)) << d0;
	std::string d1 = dump(&h_, 1);
	EXPECT_NE(std::string::npos, d1.find("min_nr 3 curr_nr 3 allocs 1")) << d1;
	EXPECT_NE(std::string::npos, d1.find(where)) << d1;
	EXPECT_NE(std::string::npos, d1.find("by 1 layer objects")) << d1;
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(0, rtpool_destroy(p));
	EXPECT_EQ(std::string::npos, dump(&h_, 1).find("pool")) << "destroyed pool still listed";
	b_.budget = 1;
	EXPECT_EQ(nullptr, make(2));
	EXPECT_EQ(std::string::npos, dump(&h_, 1).find("pool")) << "failed pool listed";
	EXPECT_TRUE(heap_ok(&h_));
}

// ------------------------------------------------------------ bad input
// (docs/errors.md, "rtpool_*")

TEST_F(Pool, CreateBadArguments)
{
	const rtheap_stats before = stats(&h_);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create(&h_, 1, nullptr, Backing::release, &b_));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create(&h_, 1, Backing::alloc, nullptr, &b_));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create_cache(&h_, 1, nullptr));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create(&h_, SIZE_MAX / sizeof(void *) + 1,
	                                 Backing::alloc, Backing::release, &b_));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create(nullptr, 1, Backing::alloc, Backing::release, &b_));
	EXPECT_EQ(EINVAL, errno);
	rtheap_t zero{};
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create(&zero, 1, Backing::alloc, Backing::release, &b_));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0u, b_.allocs.load());
	rtt::expect_same_stats(before, stats(&h_), "create with bad arguments");
}

TEST_F(Pool, CreateFailsCleanly)
{
	const rtheap_stats before = stats(&h_);
	// the underlying allocator gives 2 of the 4 elements
	b_.budget = 2;
	errno = 0;
	EXPECT_EQ(nullptr, make(4));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(2u, b_.allocs.load());
	EXPECT_EQ(2u, b_.frees.load());
	rtheap_stats after = stats(&h_);
	EXPECT_EQ(before.used, after.used);
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	// a reserve array larger than the heap
	b_.budget = -1;
	errno = 0;
	EXPECT_EQ(nullptr, make(kHeap));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(before.used, stats(&h_).used);
	// no memory for the descriptor: every block of every size taken
	for (size_t sz = 32768; sz >= 16; sz /= 2) {
		void *p;
		while ((p = rtheap_alloc(&h_, sz)) != nullptr)
			filler_.push_back(p);
	}
	const size_t u = used();
	errno = 0;
	EXPECT_EQ(nullptr, make(0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(u, used());
	EXPECT_TRUE(heap_ok(&h_));
}

TEST(PoolErrors, UnusablePoolEveryCall)
{
	alignas(64) unsigned char zero[1024] = {};
	alignas(64) unsigned char junk[1024];
	std::memset(junk, 0x5a, sizeof junk);
	rtpool_t *bad[] = {nullptr, reinterpret_cast<rtpool_t *>(zero),
	                   reinterpret_cast<rtpool_t *>(junk)};
	int elem;
	timespec ts = mono_in(0);
	rtpool_stats st;
	for (rtpool_t *p : bad) {
		errno = 0;
		EXPECT_EQ(nullptr, rtpool_alloc(p, RTPOOL_NOWAIT));
		EXPECT_EQ(EINVAL, errno);
		errno = 0;
		EXPECT_EQ(nullptr, rtpool_alloc(p, RTPOOL_WAIT));
		EXPECT_EQ(EINVAL, errno);
		errno = 0;
		EXPECT_EQ(nullptr, rtpool_alloc_timed(p, &ts));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(-EINVAL, rtpool_free(p, &elem));
		EXPECT_EQ(-EINVAL, rtpool_free(p, nullptr));
		EXPECT_EQ(-EINVAL, rtpool_resize(p, 1));
		EXPECT_EQ(-EINVAL, rtpool_get_stats(p, &st));
		EXPECT_EQ(-EINVAL, rtpool_destroy(p));
	}
}

TEST_F(Pool, BadCallArguments)
{
	rtpool_t *p = make(1);
	ASSERT_NE(nullptr, p);
	const size_t u = used();
	// unknown flags
	for (unsigned f : {2u, 4u, 0x80000000u, 3u}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtpool_alloc(p, f)) << f;
		EXPECT_EQ(EINVAL, errno);
	}
	// bad time-outs
	timespec neg = mono_in(0), big = mono_in(0);
	neg.tv_nsec = -1;
	big.tv_nsec = 1000000000L;
	for (const timespec *t : {(const timespec *)nullptr, (const timespec *)&neg,
	                          (const timespec *)&big}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtpool_alloc_timed(p, t));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(-EINVAL, rtpool_get_stats(p, nullptr));
	EXPECT_EQ(-EINVAL, rtpool_resize(p, SIZE_MAX / sizeof(void *) + 1));
	// NULL element: nothing
	EXPECT_EQ(0, rtpool_free(p, nullptr));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(0u, st.allocs);
	EXPECT_EQ(0u, st.frees);
	EXPECT_EQ(0u, st.failures);
	EXPECT_EQ(1u, st.min_nr);
	EXPECT_EQ(1u, st.curr_nr);
	EXPECT_EQ(1u, b_.allocs.load());
	EXPECT_EQ(u, used());
	EXPECT_EQ(0, rtpool_destroy(p));
}

// ------------------------------------------------------------ stress

// Four threads allocate (WAIT, timed or NOWAIT) and release on a pool
// whose underlying allocator has room for one element only, so that the
// reserve's four and that one circulate, through the reserve and through
// the underlying allocator: a thread holds at most two and allocates while
// holding at most one, so with five elements nobody waits for ever (four
// sleepers hold four at most).  Each element carries its holder's pattern
// while held.  Returns the pool's statistics at the end.
constexpr size_t kStressMin = 4;

rtpool_stats stress(rtpool_t *p)
{
	constexpr int kThreads = 4;
	const int ops = kTsan ? 1500 : 20000;
	std::atomic<long> bad{0}, done{0};
	auto worker = [&](int id) {
		uint64_t s = rtt::mix64(uint64_t(id) + 1);
		void *held[2] = {nullptr, nullptr};
		for (int i = 0; i < ops; i++) {
			s = rtt::mix64(s);
			int slot = int(s & 1);
			if (held[slot]) {
				if (rtt::verify(held[slot], kElem, uint64_t(id)) != SIZE_MAX)
					bad++;
				if (rtpool_free(p, held[slot]))
					bad++;
				held[slot] = nullptr;
				continue;
			}
			void *e;
			if ((s >> 8) % 5 == 0)
				e = rtpool_alloc(p, RTPOOL_NOWAIT);
			else if ((s >> 8) % 5 == 1) {
				timespec far = mono_in(600 * 1000);
				e = rtpool_alloc_timed(p, &far);
			} else
				e = rtpool_alloc(p, RTPOOL_WAIT);
			if (!e && (s >> 8) % 5 != 0)
				bad++;
			if (e) {
				rtt::fill(e, kElem, uint64_t(id));
				held[slot] = e;
				done++;
				sched_yield(); // let the others find the pool short
			}
		}
		for (void *e : held)
			if (e && rtpool_free(p, e))
				bad++;
	};
	std::vector<std::thread> ts;
	for (int i = 0; i < kThreads; i++)
		ts.emplace_back(worker, i);
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(0, bad.load());
	rtpool_stats st = pool_stats(p);
	std::printf("stress: %zu allocations, %zu from the reserve, %zu waits, "
	            "%zu failures (NOWAIT)\n", st.allocs, st.from_reserve, st.waits,
	            st.failures);
	EXPECT_EQ(size_t(done.load()), st.allocs);
	EXPECT_EQ(st.allocs, st.frees);
	EXPECT_EQ(kStressMin, st.curr_nr) << "the reserve must be full again";
	return st;
}

TEST_F(Pool, StressFourThreads)
{
	rtpool_t *p = make(kStressMin);
	ASSERT_NE(nullptr, p);
	exhaust();
	EXPECT_EQ(0, rtheap_free(&h_, filler_.back()));
	filler_.pop_back();
	const size_t u = used();
	stress(p);
	EXPECT_EQ(u, used()) << "the fifth element must be back in the heap";
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
}

// ------------------------------------------------------------ on a cache

class PoolCache : public Pool {
protected:
	void SetUp() override
	{
		Pool::SetUp();
		c_ = rtcache_create(&h_, "elems", kElem, 0, 0, nullptr, nullptr);
		ASSERT_NE(nullptr, c_);
	}
	void TearDown() override
	{
		for (void *o : objs_)
			EXPECT_EQ(0, rtcache_free(c_, o));
		objs_.clear();
		EXPECT_EQ(0, rtcache_destroy(c_));
		Pool::TearDown();
	}
	rtcache_stats cstats()
	{
		rtcache_stats st;
		EXPECT_EQ(0, rtcache_get_stats(c_, &st));
		return st;
	}
	// Take every object the cache can still give (into objs_).
	void exhaust_cache()
	{
		void *o;
		while ((o = rtcache_alloc(c_)) != nullptr)
			objs_.push_back(o);
		ASSERT_FALSE(objs_.empty());
	}
	rtcache_t *c_ = nullptr;
	std::vector<void *> objs_;
};

TEST_F(PoolCache, GuaranteeAtExhaustion)
{
	constexpr size_t kMin = 3;
	rtpool_t *p = rtpool_create_cache(&h_, kMin, c_);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(kMin, cstats().active_objs) << "the reserve holds live objects of the cache";
	EXPECT_EQ(-EBUSY, rtcache_destroy(c_)) << "the cache must stay while the pool holds its objects";
	exhaust_cache();
	std::vector<void *> got;
	for (size_t i = 0; i < kMin; i++) {
		void *e = rtpool_alloc(p, RTPOOL_NOWAIT);
		ASSERT_NE(nullptr, e);
		got.push_back(e);
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_alloc(p, RTPOOL_NOWAIT));
	EXPECT_EQ(ENOMEM, errno);
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(kMin, st.from_reserve);
	EXPECT_EQ(1u, st.failures);
	const size_t active = cstats().active_objs;
	// a release refills the reserve; the cache does not see it
	EXPECT_EQ(0, rtpool_free(p, got.back()));
	EXPECT_EQ(1u, pool_stats(p).curr_nr);
	EXPECT_EQ(active, cstats().active_objs);
	EXPECT_EQ(got.back(), rtpool_alloc(p, RTPOOL_NOWAIT));
	// an object back in the cache: the cache serves first
	EXPECT_EQ(0, rtcache_free(c_, objs_.back()));
	objs_.pop_back();
	void *fresh = rtpool_alloc(p, RTPOOL_NOWAIT);
	EXPECT_NE(nullptr, fresh);
	EXPECT_EQ(kMin + 1, pool_stats(p).from_reserve);
	// releases: reserve first, then the cache
	got.push_back(fresh);
	for (void *e : got)
		EXPECT_EQ(0, rtpool_free(p, e));
	EXPECT_EQ(kMin, pool_stats(p).curr_nr);
	EXPECT_EQ(active - 1, cstats().active_objs);
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
	EXPECT_EQ(objs_.size(), cstats().active_objs) << "the reserve must be back in the cache";
}

TEST_F(PoolCache, CreateAndDump)
{
	errno = 0;
	EXPECT_EQ(nullptr, rtpool_create_cache(nullptr, 1, c_));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0u, cstats().active_objs);
	const int line = __LINE__ + 1;
	rtpool_t *p = rtpool_create_cache(&h_, 2, c_);
	ASSERT_NE(nullptr, p);
	char cache[32];
	std::snprintf(cache, sizeof cache, " cache %p ", static_cast<void *>(c_));
	const std::string d = dump(&h_, 1);
	EXPECT_NE(std::string::npos, d.find(cache)) << d;
	EXPECT_NE(std::string::npos, d.find(std::string(__FILE__) + ":" + std::to_string(line))) << d;
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(PoolCache, FreeOfANonObject)
{
	rtpool_t *p = rtpool_create_cache(&h_, 1, c_);
	ASSERT_NE(nullptr, p);
	void *x = rtpool_alloc(p, RTPOOL_NOWAIT); // from the cache
	ASSERT_NE(nullptr, x);
	EXPECT_EQ(0, rtpool_free(p, x));          // reserve full: to the cache
	const rtheap_stats hs = stats(&h_);
	const rtpool_stats ps = pool_stats(p);
	const rtcache_stats cs = cstats();
	void *block = rtheap_alloc(&h_, kElem);
	ASSERT_NE(nullptr, block);
	int local = 0;
	EXPECT_EQ(-EALREADY, rtpool_free(p, x));      // double release
	EXPECT_EQ(-EINVAL, rtpool_free(p, block));    // a heap block
	EXPECT_EQ(-EFAULT, rtpool_free(p, &local));   // outside the heap
	EXPECT_EQ(hs.errors + 3, stats(&h_).errors);
	EXPECT_EQ(0, rtheap_free(&h_, block));
	rtpool_stats st = pool_stats(p);
	EXPECT_EQ(ps.frees, st.frees);
	EXPECT_EQ(ps.curr_nr, st.curr_nr);
	EXPECT_EQ(cs.active_objs, cstats().active_objs);
	EXPECT_EQ(cs.frees, cstats().frees);
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(PoolCache, WaitBlocksUntilRelease)
{
	rtpool_t *p = rtpool_create_cache(&h_, 1, c_);
	ASSERT_NE(nullptr, p);
	exhaust_cache();
	void *held = rtpool_alloc(p, RTPOOL_NOWAIT);
	ASSERT_NE(nullptr, held);
	std::atomic<bool> done{false};
	void *got = nullptr;
	std::thread t([&] {
		got = rtpool_alloc(p, RTPOOL_WAIT);
		done = true;
	});
	await_waits(p, 1);
	EXPECT_FALSE(done.load());
	EXPECT_EQ(0, rtpool_free(p, held));
	t.join();
	EXPECT_EQ(held, got);
	EXPECT_EQ(0, rtpool_free(p, got));
	EXPECT_EQ(0, rtpool_destroy(p));
}

TEST_F(PoolCache, StressFourThreads)
{
	rtpool_t *p = rtpool_create_cache(&h_, kStressMin, c_);
	ASSERT_NE(nullptr, p);
	exhaust_cache();
	EXPECT_EQ(0, rtcache_free(c_, objs_.back()));
	objs_.pop_back();
	stress(p);
	EXPECT_EQ(objs_.size() + kStressMin, cstats().active_objs)
	    << "the fifth element must be back in the cache";
	EXPECT_TRUE(heap_ok(&h_));
	EXPECT_EQ(0, rtpool_destroy(p));
}

} // namespace
