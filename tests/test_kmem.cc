/* SPDX-License-Identifier: MIT */
// Kernel-style allocation (rtheap/kmem.h): flags (atomic, may wait with a
// timeout, zeroed), waiting satisfied by a release from another thread
// and by the growth of the process default heap, page-order blocks
// (orders, alignment, zeroed, exhaustion) and their bad releases (docs/
// errors.md, section rtkmem_*).  The default-heap cases run in a fresh
// child process each (fork), as in test_default.cc: the test process
// itself never creates the default heap.
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "rtheap/cache.h"
#include "rtheap/default.h"
#include "rtheap/kmem.h"
#include "compat_common.h"
#include "child_common.h"
#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define KMEM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KMEM_TSAN 1
#endif
#endif

#ifdef KMEM_TSAN
// The default-heap cases fork a child of a process that ran threads.
extern "C" const char *__tsan_default_options(void)
{
	return "die_after_fork=0:atexit_sleep_ms=0";
}
#endif

namespace {

using rtt::Misuse;

constexpr size_t kK = 1024;
constexpr size_t kPage = RTKMEM_PAGE_SIZE;

rtkmem_stats kstats()
{
	rtkmem_stats s{};
	EXPECT_EQ(0, rtkmem_get_stats(&s));
	return s;
}

timespec after_ms(long ms)
{
	timespec t{};
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

// Wait (bounded, ~10 s) until pred() holds.
bool wait_for(const std::function<bool()> &pred)
{
	for (int i = 0; i < 10000; i++) {
		if (pred())
			return true;
		usleep(1000);
	}
	return pred();
}

bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *c = static_cast<const unsigned char *>(p);
	for (size_t i = 0; i < n; i++)
		if (c[i] != v)
			return false;
	return true;
}

// Sets the poll interval for one test and restores the default.
struct PollInterval {
	explicit PollInterval(uint64_t ns) { rtkmem_set_poll_interval(ns); }
	~PollInterval() { rtkmem_set_poll_interval(uint64_t(RTKMEM_POLL_MS) * 1000000u); }
};

// A heap of its own (1 MiB, 256-byte pages, priority-inheritance lock),
// misuse recorded.
class Kmem : public ::testing::Test {
protected:
	static constexpr size_t kSize = 1u << 20;
	rtt::Mapping mem_{kSize};
	rtheap_t heap_{};
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		rtheap_config cfg = rtt::config(256, RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(&heap_, mem_.data(), kSize, &cfg));
		ASSERT_EQ(0, rtheap_set_error_handler(&heap_, rtt::record_misuse, &misuse_));
	}
	void TearDown() override
	{
		EXPECT_TRUE(rtt::heap_ok(&heap_));
		rtheap_destroy(&heap_, nullptr, nullptr);
	}

	// Allocate blocks of n bytes (flags RTKMEM_ATOMIC) until none is left.
	std::vector<void *> fill(size_t n)
	{
		std::vector<void *> v;
		for (void *p; (p = rtkmem_alloc(&heap_, n, RTKMEM_ATOMIC)) != nullptr;)
			v.push_back(p);
		return v;
	}
	// The same with page-order blocks.
	std::vector<void *> fill_pages(unsigned order)
	{
		std::vector<void *> v;
		for (void *p; (p = rtkmem_pages_alloc(&heap_, order, RTKMEM_ATOMIC)) != nullptr;)
			v.push_back(p);
		return v;
	}

	// rtkmem_pages_free(addr, order) is refused with rc: one misuse of
	// kind at addr, the heap's statistics unchanged but errors + 1, the
	// layer's page_errors + 1.
	void expect_refused(const char *what, void *addr, unsigned order, int rc,
	                    rtheap_error_kind_t kind)
	{
		const rtheap_stats a = rtt::stats(&heap_);
		const rtkmem_stats ka = kstats();
		misuse_.clear();
		EXPECT_EQ(rc, rtkmem_pages_free(&heap_, addr, order)) << what;
		ASSERT_EQ(1u, misuse_.size()) << what;
		EXPECT_EQ(kind, misuse_[0].kind) << what;
		EXPECT_EQ(addr, misuse_[0].addr) << what;
		const rtheap_stats b = rtt::stats(&heap_);
		rtt::expect_same_stats(a, b, what);
		EXPECT_EQ(a.errors + 1, b.errors) << what;
		EXPECT_EQ(ka.page_errors + 1, kstats().page_errors) << what;
		EXPECT_TRUE(rtt::heap_ok(&heap_)) << what;
	}
};

// ---------------------------------------------------------------- flags

TEST_F(Kmem, AtomicAllocationIsAHeapBlock)
{
	void *p = rtkmem_alloc(&heap_, 100, RTKMEM_ATOMIC);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(128u, rtheap_usable_size(&heap_, p));
	EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % 128u);
	EXPECT_EQ(1u, rtt::stats(&heap_).live_blocks);
	EXPECT_EQ(0, rtkmem_free(&heap_, p));
	EXPECT_EQ(0u, rtt::stats(&heap_).live_blocks);
	// a block of rtkmem_alloc goes back through rtheap_free too
	p = rtkmem_alloc(&heap_, 5000, RTKMEM_WAIT);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0, rtheap_free(&heap_, p));
	EXPECT_EQ(0, rtkmem_free(&heap_, nullptr));
}

TEST_F(Kmem, ZeroFlagZeroesAReusedBlock)
{
	void *p = rtkmem_alloc(&heap_, 200, RTKMEM_ATOMIC);
	ASSERT_NE(nullptr, p);
	std::memset(p, 0xab, 200);
	ASSERT_EQ(0, rtkmem_free(&heap_, p));
	void *q = rtkmem_alloc(&heap_, 200, RTKMEM_ZERO);
	ASSERT_EQ(p, q); // the block just released (the test's premise)
	EXPECT_TRUE(all_bytes(q, rtheap_usable_size(&heap_, q), 0));
	std::memset(q, 0xab, 200);
	ASSERT_EQ(0, rtkmem_free(&heap_, q));
	// without the flag the old contents stay (the premise above is real)
	q = rtkmem_alloc(&heap_, 200, RTKMEM_ATOMIC);
	ASSERT_EQ(p, q);
	EXPECT_TRUE(all_bytes(q, 200, 0xab));
	ASSERT_EQ(0, rtkmem_free(&heap_, q));
}

TEST_F(Kmem, BadArgumentsAreRefused)
{
	const rtheap_stats a = rtt::stats(&heap_);
	const unsigned bad[] = {1u << 2, 1u << 31, ~0u};
	for (unsigned f : bad) {
		errno = 0;
		EXPECT_EQ(nullptr, rtkmem_alloc(&heap_, 64, f)) << f;
		EXPECT_EQ(EINVAL, errno) << f;
		errno = 0;
		EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, 0, f)) << f;
		EXPECT_EQ(EINVAL, errno) << f;
		timespec d = after_ms(0);
		errno = 0;
		EXPECT_EQ(nullptr, rtkmem_alloc_timed(&heap_, 64, f, &d)) << f;
		EXPECT_EQ(EINVAL, errno) << f;
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc(&heap_, 0, RTKMEM_WAIT));
	EXPECT_EQ(EINVAL, errno);
	timespec bad_ts = after_ms(10);
	bad_ts.tv_nsec = 1000000000L;
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc_timed(&heap_, 64, 0, &bad_ts));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc_timed(&heap_, 0, 0, &bad_ts));
	EXPECT_EQ(EINVAL, errno);
	rtheap_t zero{};
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc(&zero, 64, RTKMEM_WAIT));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc(nullptr, 64, RTKMEM_ATOMIC));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(nullptr, 0, RTKMEM_WAIT));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, rtkmem_max_order(nullptr));
	EXPECT_EQ(-EINVAL, rtkmem_max_order(&zero));
	EXPECT_EQ(-EINVAL, rtkmem_get_stats(nullptr));
	const rtheap_stats b = rtt::stats(&heap_);
	rtt::expect_same_stats(a, b, "bad arguments");
	EXPECT_EQ(a.errors, b.errors);
	EXPECT_EQ(a.failed_allocs, b.failed_allocs);
}

// rtkmem_free is rtheap_free: a bad pointer is refused, reported, and
// changes nothing.
TEST_F(Kmem, BadReleasesOfBlocksAreTheHeaps)
{
	char *keep = static_cast<char *>(rtkmem_alloc(&heap_, 64, RTKMEM_ATOMIC));
	char *p = static_cast<char *>(rtkmem_alloc(&heap_, 64, RTKMEM_ATOMIC));
	void *pg = rtkmem_pages_alloc(&heap_, 0, RTKMEM_ATOMIC);
	ASSERT_TRUE(keep && p && pg);
	ASSERT_EQ(0, rtkmem_free(&heap_, p));
	rtt::Mapping other(64 * kK);
	struct Case {
		const char *what;
		void *addr;
		int rc;
		rtheap_error_kind_t kind;
	} cases[] = {
		{"interior", keep + 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{"double", p, -EINVAL, RTHEAP_ERR_DOUBLE_FREE},
		{"a page block", pg, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{"foreign", other.data(), -EFAULT, RTHEAP_ERR_FOREIGN},
	};
	for (const Case &c : cases) {
		const rtheap_stats a = rtt::stats(&heap_);
		misuse_.clear();
		EXPECT_EQ(c.rc, rtkmem_free(&heap_, c.addr)) << c.what;
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.addr, misuse_[0].addr) << c.what;
		const rtheap_stats b = rtt::stats(&heap_);
		rtt::expect_same_stats(a, b, c.what);
		EXPECT_EQ(a.errors + 1, b.errors) << c.what;
	}
	EXPECT_EQ(0, rtkmem_free(&heap_, keep));
	EXPECT_EQ(0, rtkmem_pages_free(&heap_, pg, 0));
}

TEST_F(Kmem, AtomicNeverWaits)
{
	std::vector<void *> v = fill(4096);
	ASSERT_FALSE(v.empty());
	const rtkmem_stats s0 = kstats();
	const size_t failed = rtt::stats(&heap_).failed_allocs;
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc(&heap_, 4096, RTKMEM_ATOMIC));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, 0, RTKMEM_ZERO));
	EXPECT_EQ(ENOMEM, errno);
	const rtkmem_stats s1 = kstats();
	EXPECT_EQ(s0.sleeps, s1.sleeps);
	EXPECT_EQ(s0.timeouts, s1.timeouts);
	EXPECT_EQ(0u, s1.waiting);
	EXPECT_EQ(failed + 2, rtt::stats(&heap_).failed_allocs);
	for (void *p : v)
		ASSERT_EQ(0, rtkmem_free(&heap_, p));
}

TEST_F(Kmem, WaitEndsAtItsDeadline)
{
	std::vector<void *> v = fill(4096);
	ASSERT_FALSE(v.empty());
	const rtkmem_stats s0 = kstats();
	timespec d = after_ms(30);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc_timed(&heap_, 4096, 0, &d));
	EXPECT_EQ(ETIMEDOUT, errno);
	errno = 0;
	d = after_ms(30);
	EXPECT_EQ(nullptr, rtkmem_pages_alloc_timed(&heap_, 0, 0, &d));
	EXPECT_EQ(ETIMEDOUT, errno);
	// RTKMEM_WAIT without a deadline: the process-wide wait timeout
	const uint64_t old = rtkmem_set_wait_timeout(20u * 1000000u);
	EXPECT_EQ(RTKMEM_WAIT_DEFAULT_NS, old);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc(&heap_, 4096, RTKMEM_WAIT));
	EXPECT_EQ(ETIMEDOUT, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, 0, RTKMEM_WAIT));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_EQ(20u * 1000000u, rtkmem_set_wait_timeout(old));
	// a deadline in the past: one try, no sleep
	const rtkmem_stats s1 = kstats();
	d = after_ms(-1000);
	EXPECT_EQ(nullptr, rtkmem_alloc_timed(&heap_, 4096, 0, &d));
	const rtkmem_stats s2 = kstats();
	EXPECT_EQ(s1.sleeps, s2.sleeps);
	EXPECT_EQ(s0.timeouts + 5, s2.timeouts);
	EXPECT_GE(s1.sleeps, s0.sleeps + 4);
	EXPECT_EQ(0u, s2.waiting);
	for (void *p : v)
		ASSERT_EQ(0, rtkmem_free(&heap_, p));
}

TEST(KmemNoLock, NothingWaitsWithoutALock)
{
	rtt::Mapping mem(256 * kK);
	rtheap_t h{};
	rtheap_config cfg = rtt::config(256, RTHEAP_LOCK_NONE);
	ASSERT_EQ(0, rtheap_init(&h, mem.data(), mem.size(), &cfg));
	std::vector<void *> v;
	for (void *p; (p = rtkmem_alloc(&h, 4096, 0)) != nullptr;)
		v.push_back(p);
	const rtkmem_stats s0 = kstats();
	timespec d = after_ms(10000);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_alloc_timed(&h, 4096, 0, &d));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(s0.sleeps, kstats().sleeps);
	for (void *p : v)
		ASSERT_EQ(0, rtkmem_free(&h, p));
	rtheap_destroy(&h, nullptr, nullptr);
}

// With polling off, only the release's wake-up can end the wait before
// its (20 s) deadline.
TEST_F(Kmem, WaitIsSatisfiedByAReleaseFromAnotherThread)
{
	PollInterval off(RTKMEM_WAIT_FOREVER);
	std::vector<void *> v = fill(4096);
	ASSERT_FALSE(v.empty());
	const rtkmem_stats s0 = kstats();
	std::atomic<void *> got{nullptr};
	std::thread t([&] {
		timespec d = after_ms(20000);
		got = rtkmem_alloc_timed(&heap_, 4096, RTKMEM_ZERO, &d);
	});
	ASSERT_TRUE(wait_for([&] { return kstats().sleeps > s0.sleeps; }));
	void *victim = v.back();
	v.pop_back();
	std::memset(victim, 0x5a, 4096);
	EXPECT_EQ(0, rtkmem_free(&heap_, victim));
	t.join();
	void *p = got.load();
	ASSERT_NE(nullptr, p);
	EXPECT_TRUE(all_bytes(p, 4096, 0));
	const rtkmem_stats s1 = kstats();
	EXPECT_GE(s1.wakeups, s0.wakeups + 1);
	EXPECT_EQ(s0.timeouts, s1.timeouts);
	EXPECT_EQ(0u, s1.waiting);
	v.push_back(p);
	for (void *q : v)
		ASSERT_EQ(0, rtkmem_free(&heap_, q));
}

TEST_F(Kmem, PageWaitIsSatisfiedByAPageRelease)
{
	PollInterval off(RTKMEM_WAIT_FOREVER);
	std::vector<void *> v = fill_pages(2);
	ASSERT_GE(v.size(), 2u);
	const rtkmem_stats s0 = kstats();
	std::atomic<void *> got{nullptr};
	std::thread t([&] {
		timespec d = after_ms(20000);
		got = rtkmem_pages_alloc_timed(&heap_, 2, 0, &d);
	});
	ASSERT_TRUE(wait_for([&] { return kstats().sleeps > s0.sleeps; }));
	void *victim = v.back();
	v.pop_back();
	EXPECT_EQ(0, rtkmem_pages_free(&heap_, victim, 2));
	t.join();
	ASSERT_EQ(victim, got.load()); // the released run (with the free pages beside it)
	EXPECT_GE(kstats().wakeups, s0.wakeups + 1);
	v.push_back(got.load());
	for (void *q : v)
		ASSERT_EQ(0, rtkmem_pages_free(&heap_, q, 2));
}

// Four threads share one free 16 KiB run (each holds its block for a few
// yields), polling off: every wait must end with a block, none at its
// deadline (a lost wake-up would leave a waiter asleep until then).
// Plain blocks: a page-order block of the same size could not be had
// from that run alone (an aligned take needs a span of 2B - P).
TEST(KmemStress, NoLostWakeUps)
{
	PollInterval off(RTKMEM_WAIT_FOREVER);
	rtt::Mapping mem(128 * kK);
	rtheap_t h{};
	rtheap_config cfg = rtt::config(256, RTHEAP_LOCK_PI_MUTEX);
	ASSERT_EQ(0, rtheap_init(&h, mem.data(), mem.size(), &cfg));
	std::vector<void *> filler; // all but one 16 KiB run taken
	for (void *p; (p = rtkmem_alloc(&h, 16 * kK, 0)) != nullptr;)
		filler.push_back(p);
	for (void *p; (p = rtkmem_alloc(&h, 256, 0)) != nullptr;)
		filler.push_back(p); // the rest of the memory
	ASSERT_GE(filler.size(), 2u);
	ASSERT_EQ(0, rtkmem_free(&h, filler[0]));
	filler.erase(filler.begin());
	const rtkmem_stats s0 = kstats();
	std::atomic<int> failures{0};
	std::vector<std::thread> ts;
	for (int t = 0; t < 4; t++)
		ts.emplace_back([&] {
			for (int i = 0; i < 300; i++) {
				timespec d = after_ms(20000);
				void *p = rtkmem_alloc_timed(&h, 16 * kK, 0, &d);
				if (!p) {
					failures++;
					continue;
				}
				static_cast<volatile char *>(p)[0] = char(i);
				for (int y = 0; y < 3; y++)
					sched_yield();
				if (rtkmem_free(&h, p))
					failures++;
			}
		});
	for (std::thread &t : ts)
		t.join();
	EXPECT_EQ(0, failures.load());
	const rtkmem_stats s1 = kstats();
	EXPECT_EQ(s0.timeouts, s1.timeouts);
	EXPECT_EQ(0u, s1.waiting);
	EXPECT_GE(s1.sleeps, s0.sleeps + 1); // the waits did happen
	EXPECT_GE(s1.wakeups, s0.wakeups + 1); // and releases ended them
	EXPECT_TRUE(rtt::heap_ok(&h));
	EXPECT_EQ(filler.size(), rtt::stats(&h).live_blocks);
	rtheap_destroy(&h, nullptr, nullptr);
}

// A release with plain rtheap_free() wakes nobody: the waiter's poll
// finds the memory.
TEST_F(Kmem, WaiterPollsForPlainReleases)
{
	std::vector<void *> v = fill(4096);
	ASSERT_FALSE(v.empty());
	const rtkmem_stats s0 = kstats();
	std::atomic<void *> got{nullptr};
	std::thread t([&] {
		timespec d = after_ms(20000);
		got = rtkmem_alloc_timed(&heap_, 4096, 0, &d);
	});
	ASSERT_TRUE(wait_for([&] { return kstats().sleeps > s0.sleeps; }));
	void *victim = v.back();
	v.pop_back();
	EXPECT_EQ(0, rtheap_free(&heap_, victim));
	t.join();
	ASSERT_NE(nullptr, got.load());
	EXPECT_EQ(s0.wakeups, kstats().wakeups);
	v.push_back(got.load());
	for (void *q : v)
		ASSERT_EQ(0, rtkmem_free(&heap_, q));
}

// ---------------------------------------------------------------- pages

TEST(KmemOrder, GetOrderIsTheKernels)
{
	EXPECT_EQ(0u, rtkmem_get_order(1));
	EXPECT_EQ(0u, rtkmem_get_order(kPage));
	EXPECT_EQ(1u, rtkmem_get_order(kPage + 1));
	EXPECT_EQ(1u, rtkmem_get_order(2 * kPage));
	EXPECT_EQ(2u, rtkmem_get_order(2 * kPage + 1));
	EXPECT_EQ(8u, rtkmem_get_order(1u << 20));
	EXPECT_EQ(9u, rtkmem_get_order((1u << 20) + 1));
	for (unsigned o = 0; o < 20; o++) {
		EXPECT_EQ(o, rtkmem_get_order(kPage << o)) << o;
		EXPECT_EQ(o + 1, rtkmem_get_order((kPage << o) + 1)) << o;
	}
	// 0: the order of the whole address space, as the kernel computes it
	EXPECT_EQ(unsigned(sizeof(size_t) * 8) - RTKMEM_PAGE_SHIFT, rtkmem_get_order(0));
}

TEST_F(Kmem, PageBlocksAreAlignedOwnedRuns)
{
	// the largest order any heap of 256-byte pages could serve (after
	// extensions, rt_owner_max: half the largest request): 64 GiB
	const int max = rtkmem_max_order(&heap_);
	if (sizeof(size_t) == 8) {
		EXPECT_EQ(24, max);
	}
	ASSERT_GE(max, 8);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, unsigned(max), RTKMEM_ATOMIC));
	EXPECT_EQ(ENOMEM, errno); // a valid order, no memory
	for (unsigned o = 0; o <= 6; o++) {
		const size_t bytes = kPage << o;
		const rtheap_stats a = rtt::stats(&heap_);
		void *p = rtkmem_pages_alloc(&heap_, o, RTKMEM_ATOMIC);
		ASSERT_NE(nullptr, p) << o;
		EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % bytes) << o;
		std::memset(p, int(o), bytes);
		const rtheap_stats b = rtt::stats(&heap_);
		EXPECT_EQ(a.pages_owned + bytes / 256, b.pages_owned) << o;
		EXPECT_EQ(a.live_blocks + 1, b.live_blocks) << o;
		// not a heap block: rtheap_free refuses it, nothing changes
		misuse_.clear();
		EXPECT_EQ(-EINVAL, rtheap_free(&heap_, p)) << o;
		EXPECT_EQ(1u, misuse_.size()) << o;
		EXPECT_TRUE(all_bytes(p, bytes, (unsigned char)o)) << o;
		EXPECT_EQ(0, rtkmem_pages_free(&heap_, p, o)) << o;
		EXPECT_EQ(a.pages_owned, rtt::stats(&heap_).pages_owned) << o;
	}
	// 1 MiB does not fit in this heap now: no memory, not a bad order
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, 8, RTKMEM_ATOMIC));
	EXPECT_EQ(ENOMEM, errno);
	const size_t failed = rtt::stats(&heap_).failed_allocs;
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, unsigned(max) + 1, RTKMEM_ATOMIC));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, 64, RTKMEM_ATOMIC));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, ~0u, RTKMEM_WAIT));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(failed, rtt::stats(&heap_).failed_allocs); // refused, not failed
}

TEST_F(Kmem, ZeroedPagesAreZero)
{
	void *p = rtkmem_pages_alloc(&heap_, 1, RTKMEM_ATOMIC);
	ASSERT_NE(nullptr, p);
	std::memset(p, 0xcd, 2 * kPage);
	ASSERT_EQ(0, rtkmem_pages_free(&heap_, p, 1));
	void *q = rtkmem_pages_alloc(&heap_, 1, RTKMEM_ZERO);
	ASSERT_EQ(p, q); // the run just released (lowest address first)
	EXPECT_TRUE(all_bytes(q, 2 * kPage, 0));
	std::memset(q, 0xcd, 2 * kPage);
	ASSERT_EQ(0, rtkmem_pages_free(&heap_, q, 1));
	q = rtkmem_pages_alloc(&heap_, 1, RTKMEM_ATOMIC);
	ASSERT_EQ(p, q);
	EXPECT_TRUE(all_bytes(q, 2 * kPage, 0xcd)); // the premise is real
	ASSERT_EQ(0, rtkmem_pages_free(&heap_, q, 1));
}

TEST_F(Kmem, PageExhaustionAndRecovery)
{
	const rtheap_stats a = rtt::stats(&heap_);
	for (unsigned o : {0u, 3u}) {
		std::vector<void *> v = fill_pages(o);
		const size_t bytes = kPage << o;
		ASSERT_GE(v.size() * bytes, kSize / 2) << o;
		std::vector<uintptr_t> s;
		for (void *p : v) {
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % bytes);
			s.push_back(reinterpret_cast<uintptr_t>(p));
		}
		std::sort(s.begin(), s.end());
		for (size_t i = 1; i < s.size(); i++)
			EXPECT_GE(s[i], s[i - 1] + bytes); // disjoint
		errno = 0;
		EXPECT_EQ(nullptr, rtkmem_pages_alloc(&heap_, o, RTKMEM_ATOMIC));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_TRUE(rtt::heap_ok(&heap_));
		for (void *p : v)
			ASSERT_EQ(0, rtkmem_pages_free(&heap_, p, o));
		const rtheap_stats b = rtt::stats(&heap_);
		EXPECT_EQ(a.used, b.used);
		EXPECT_EQ(a.largest_free, b.largest_free);
		EXPECT_EQ(0u, b.pages_owned);
	}
}

TEST_F(Kmem, BadPageReleasesAreExactErrors)
{
	void *p0 = rtkmem_pages_alloc(&heap_, 0, RTKMEM_ATOMIC);
	void *p2 = rtkmem_pages_alloc(&heap_, 2, RTKMEM_ATOMIC);
	void *blk = rtkmem_alloc(&heap_, 4096, RTKMEM_ATOMIC);
	ASSERT_TRUE(p0 && p2 && blk);
	std::memset(p2, 0x77, 4 * kPage);
	char *c2 = static_cast<char *>(p2);
	expect_refused("wrong order, larger", p0, 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("wrong order, smaller", p2, 1, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("wrong order, much larger", p2, 5, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("order beyond any size", p2, 200, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("interior page", c2 + kPage, 2, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("interior page, order 0", c2 + kPage, 0, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("interior byte", c2 + 8, 2, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	expect_refused("a heap block", blk, 0, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	rtt::Mapping other(64 * kK);
	expect_refused("foreign", other.data(), 0, -EFAULT, RTHEAP_ERR_FOREIGN);
	// a slab of an object cache of the same size: another layer's run
	rtcache_t *cache = rtcache_create(&heap_, "same", 3000, 0, 0, nullptr, nullptr);
	ASSERT_NE(nullptr, cache);
	void *obj = rtcache_alloc(cache);
	ASSERT_NE(nullptr, obj);
	rtcache_stats cs{};
	ASSERT_EQ(0, rtcache_get_stats(cache, &cs));
	ASSERT_GE(cs.slab_bytes, kPage);
	ASSERT_EQ(0u, cs.slab_bytes & (cs.slab_bytes - 1));
	void *slab = reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(obj) &
	                                      ~uintptr_t(cs.slab_bytes - 1));
	expect_refused("an object-cache slab of the same size", slab,
	               rtkmem_get_order(cs.slab_bytes), -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	ASSERT_EQ(0, rtcache_get_stats(cache, &cs));
	EXPECT_EQ(1u, cs.active_objs);
	EXPECT_EQ(0, rtcache_free(cache, obj));
	EXPECT_EQ(0, rtcache_destroy(cache));
	// double release
	ASSERT_EQ(0, rtkmem_pages_free(&heap_, p0, 0));
	expect_refused("double release", p0, 0, -EINVAL, RTHEAP_ERR_NOT_BLOCK);
	// the live block kept its contents through all of it
	EXPECT_TRUE(all_bytes(p2, 4 * kPage, 0x77));
	EXPECT_EQ(0, rtkmem_pages_free(&heap_, p2, 2));
	EXPECT_EQ(0, rtkmem_free(&heap_, blk));
	// NULL: nothing, not reported
	misuse_.clear();
	EXPECT_EQ(0, rtkmem_pages_free(&heap_, nullptr, 3));
	EXPECT_TRUE(misuse_.empty());
	// an unusable heap: refused, nobody to report to
	rtheap_t zero{};
	EXPECT_EQ(-EINVAL, rtkmem_pages_free(&zero, p2, 2));
}

TEST(KmemLargePage, OrdersBelowTheHeapPageAreRefused)
{
	rtt::Mapping mem(1u << 20);
	rtheap_t h{};
	rtheap_config cfg = rtt::config(16384, RTHEAP_LOCK_PI_MUTEX);
	ASSERT_EQ(0, rtheap_init(&h, mem.data(), mem.size(), &cfg));
	std::vector<Misuse> misuse;
	ASSERT_EQ(0, rtheap_set_error_handler(&h, rtt::record_misuse, &misuse));
	for (unsigned o : {0u, 1u}) {
		errno = 0;
		EXPECT_EQ(nullptr, rtkmem_pages_alloc(&h, o, RTKMEM_ATOMIC)) << o;
		EXPECT_EQ(EINVAL, errno) << o;
	}
	void *p = rtkmem_pages_alloc(&h, 2, RTKMEM_ATOMIC);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % 16384u);
	EXPECT_EQ(-EINVAL, rtkmem_pages_free(&h, p, 0));
	ASSERT_EQ(1u, misuse.size());
	EXPECT_EQ(RTHEAP_ERR_NOT_BLOCK, misuse[0].kind);
	EXPECT_EQ(0, rtkmem_pages_free(&h, p, 2));
	rtheap_destroy(&h, nullptr, nullptr);
}

#if RTHEAP_TEST_ASAN
TEST_F(Kmem, AsanSeesPageBlocks)
{
	char *p = static_cast<char *>(rtkmem_pages_alloc(&heap_, 1, RTKMEM_ATOMIC));
	ASSERT_NE(nullptr, p);
	EXPECT_FALSE(__asan_address_is_poisoned(p));
	EXPECT_FALSE(__asan_address_is_poisoned(p + 2 * kPage - 1));
	ASSERT_EQ(0, rtkmem_pages_free(&heap_, p, 1));
	EXPECT_TRUE(__asan_address_is_poisoned(p + kPage));
}
#endif

// ---------------------------------------------------------------- default heap

using rtchild::kSkip;
using rtchild::run_child;

rtheap_default_info dinfo()
{
	rtheap_default_info i{};
	(void)rtheap_default_stats(&i);
	return i;
}

bool consistent(rtheap_t *h)
{
	rtheap_fault f{};
	return rtheap_check(h, &f) == 0;
}

// fork() while a thread waits: the child (where that thread does not
// exist) starts with no waiter and free locks; it waits, times out and
// releases without hanging; the parent's waiter is served as usual.
TEST_F(Kmem, ForkWhileAThreadWaits)
{
	PollInterval off(RTKMEM_WAIT_FOREVER);
	std::vector<void *> v = fill(4096);
	ASSERT_FALSE(v.empty());
	const rtkmem_stats s0 = kstats();
	std::atomic<void *> got{nullptr};
	std::thread t([&] {
		timespec d = after_ms(20000);
		got = rtkmem_alloc_timed(&heap_, 4096, 0, &d);
	});
	ASSERT_TRUE(wait_for([&] { return kstats().sleeps > s0.sleeps; }));
	rtheap_t *h = &heap_;
	void *last = v.back();
	int rc = run_child([h, last] {
		CK(kstats().waiting == 0);
		timespec d = after_ms(20);
		errno = 0;
		CK(rtkmem_alloc_timed(h, 4096, 0, &d) == nullptr && errno == ETIMEDOUT);
		CK(rtkmem_free(h, last) == 0);
		d = after_ms(1000);
		CK(rtkmem_alloc_timed(h, 4096, 0, &d) != nullptr);
		return 0;
	});
	EXPECT_EQ(0, rc);
	v.pop_back();
	EXPECT_EQ(0, rtkmem_free(&heap_, last));
	t.join();
	ASSERT_NE(nullptr, got.load());
	v.push_back(got.load());
	for (void *q : v)
		ASSERT_EQ(0, rtkmem_free(&heap_, q));
}

// No helper thread: only the waiter's own growth can serve the request.
TEST(KmemDefault, WaitIsSatisfiedByGrowingTheDefaultHeap)
{
	IN_CHILD([] {
		CK(rtheap_default_setup(64 * kK, 64 * kK, 2048 * kK, RTHEAP_DEFAULT_NOHELPER) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		errno = 0;
		CK(rtkmem_alloc(h, 200 * kK, RTKMEM_ATOMIC) == nullptr && errno == ENOMEM);
		CK(rtkmem_pages_alloc(h, 5, RTKMEM_ATOMIC) == nullptr && errno == ENOMEM);
		CK(dinfo().grow_extents == 0);
		const rtkmem_stats s0 = kstats();
		void *p = rtkmem_alloc(h, 200 * kK, RTKMEM_WAIT | RTKMEM_ZERO);
		CK(p != nullptr);
		CK(all_bytes(p, 200 * kK, 0));
		CK(dinfo().grow_extents == 1);
		timespec d = after_ms(10000);
		void *q = rtkmem_pages_alloc_timed(h, 5, RTKMEM_ZERO, &d);
		CK(q != nullptr);
		CK(reinterpret_cast<uintptr_t>(q) % (kPage << 5) == 0);
		CK(all_bytes(q, kPage << 5, 0));
		CK(dinfo().grow_extents == 2);
		const rtkmem_stats s1 = kstats();
		CK(s1.grows >= s0.grows + 2);
		CK(s1.sleeps == s0.sleeps); // growth, not a sleep, served both
		CK(consistent(h));
		CK(rtkmem_pages_free(h, q, 5) == 0);
		CK(rtkmem_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// Beyond the default heap's maximum a may-wait request times out;
// a release by another thread then serves a waiter.
TEST(KmemDefault, BeyondTheMaximumWaitTimesOutOrIsServedByARelease)
{
	IN_CHILD([] {
		CK(rtheap_default_setup(256 * kK, 64 * kK, 256 * kK, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		std::vector<void *> v;
		for (void *p; (p = rtkmem_alloc(h, 8 * kK, RTKMEM_ATOMIC)) != nullptr;)
			v.push_back(p);
		CK(!v.empty());
		rtkmem_set_wait_timeout(30u * 1000000u);
		const size_t failures = dinfo().grow_failures;
		errno = 0;
		CK(rtkmem_alloc(h, 8 * kK, RTKMEM_WAIT) == nullptr && errno == ETIMEDOUT);
		CK(dinfo().grow_failures > failures);
		CK(dinfo().extents == 1);
		rtkmem_set_poll_interval(RTKMEM_WAIT_FOREVER);
		const rtkmem_stats s0 = kstats();
		std::atomic<void *> got{nullptr};
		std::thread t([&] {
			timespec d = after_ms(20000);
			got = rtkmem_alloc_timed(h, 8 * kK, 0, &d);
		});
		bool slept = wait_for([&] { return kstats().sleeps > s0.sleeps; });
		void *victim = v.back();
		v.pop_back();
		int rc = rtkmem_free(h, victim);
		t.join();
		CK(slept && rc == 0);
		CK(got.load() != nullptr);
		CK(kstats().wakeups > s0.wakeups); // the release woke it
		v.push_back(got.load());
		for (void *p : v)
			CK(rtkmem_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

} // namespace
