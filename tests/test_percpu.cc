/* SPDX-License-Identifier: MIT */
// Per-CPU areas (rtheap/percpu.h): layout, zeroing, the instance of each
// CPU reached by threads pinned on it, misuse, exhaustion.  The threaded
// cases are labelled concurrency (the TSan build runs them).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <new>
#include <cstdint>
#include <thread>
#include <vector>

#include "compat_common.h"
#include "rtheap/percpu.h"
#include "test_common.h"

using namespace rtt;

namespace {

// A heap of its own per test (1 MiB, 4 KiB pages, PI mutex), misuse
// recorded.
class Percpu : public ::testing::Test {
protected:
	static constexpr size_t kSize = 1u << 20;
	Mapping mem_{kSize};
	rtheap_t heap_{};
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_TRUE(mem_.ok());
		rtheap_config cfg = config(4096, RTHEAP_LOCK_PI_MUTEX);
		ASSERT_EQ(0, rtheap_init(&heap_, mem_.data(), kSize, &cfg));
		ASSERT_EQ(0, rtheap_set_error_handler(&heap_, record_misuse, &misuse_));
	}
	void TearDown() override
	{
		EXPECT_TRUE(heap_ok(&heap_));
		rtheap_destroy(&heap_, nullptr, nullptr);
	}
};

// The CPUs this process may run on (the allowed set), below nr_cpus.
std::vector<unsigned> allowed_cpus()
{
	std::vector<unsigned> v;
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return v;
	for (unsigned c = 0; c < rtpercpu_nr_cpus() && c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			v.push_back(c);
	return v;
}

// Pin the calling thread on cpu: true if it worked.
bool pin(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

struct Counter {
	uint64_t hits;
	int cpu_seen;   // -1 until the thread of that CPU writes it
	int put_result;
};

} // namespace

#if !defined(PERCPU_TEST_THREADS)

TEST(PercpuCpus, PossibleCpusCoverEveryOnlineCpu)
{
	unsigned n = rtpercpu_nr_cpus();
	EXPECT_GE(n, 1u);
	EXPECT_LE(n, RTPERCPU_MAX_CPUS);
	EXPECT_EQ(n, rtpercpu_nr_cpus()) << "decided once";
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	ASSERT_GT(online, 0);
	EXPECT_GE(n, (unsigned long)online);
	int cpu = rtpercpu_cpu();
	ASSERT_GE(cpu, 0);
	EXPECT_LT((unsigned)cpu, n);
	for (unsigned c : allowed_cpus())
		EXPECT_LT(c, n);
}

TEST_F(Percpu, LayoutIsCacheLineSeparatedAlignedAndZeroed)
{
	const unsigned n = rtpercpu_nr_cpus();
	const size_t sizes[] = { 1, 8, 63, 64, 65, 200, 1000, 5000 };
	const size_t aligns[] = { 0, 1, 8, 64, 128, 4096 };
	for (size_t size : sizes)
		for (size_t align : aligns) {
			// dirty the heap first: the instances must come zeroed
			void *junk = rtheap_alloc(&heap_, 64 << 10);
			ASSERT_NE(nullptr, junk);
			std::memset(junk, 0x5a, 64 << 10);
			ASSERT_EQ(0, rtheap_free(&heap_, junk));
			rtpercpu_t *pc = rtpercpu_alloc(&heap_, size, align);
			ASSERT_NE(nullptr, pc) << size << " " << align;
			const size_t line = align > 64 ? align : 64;
			struct rtpercpu_info in{};
			ASSERT_EQ(0, rtpercpu_info(pc, &in));
			EXPECT_EQ(size, in.size);
			EXPECT_EQ(line, in.align);
			EXPECT_EQ(n, in.ncpu);
			EXPECT_EQ(0u, in.stride % line);
			EXPECT_GE(in.stride, size);
			EXPECT_LT(in.stride - size, line);
			EXPECT_EQ(line + n * in.stride, in.bytes);
			EXPECT_GE(rtheap_usable_size(&heap_, pc), in.bytes);
			EXPECT_EQ(0u, (uintptr_t)pc % line) << "the block starts a line";
			for (unsigned c = 0; c < n; c++) {
				auto *p = static_cast<unsigned char *>(rtpercpu_ptr(pc, c));
				ASSERT_NE(nullptr, p);
				EXPECT_EQ(0u, (uintptr_t)p % line);
				// not the header's line, and each one line(s) apart
				EXPECT_GE((uintptr_t)p, (uintptr_t)pc + 64);
				if (c) {
					EXPECT_GE((uintptr_t)p - (uintptr_t)rtpercpu_ptr(pc, c - 1), 64u);
				}
				for (size_t i = 0; i < size; i++)
					ASSERT_EQ(0, p[i]) << "cpu " << c << " byte " << i;
				std::memset(p, 0xff, size);
			}
			EXPECT_TRUE(heap_ok(&heap_));
			ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
		}
	EXPECT_TRUE(misuse_.empty());
	EXPECT_EQ(0u, stats(&heap_).live_blocks);
}

TEST_F(Percpu, InstancesNeverOverlapAndKeepTheirContents)
{
	const unsigned n = rtpercpu_nr_cpus();
	std::vector<rtpercpu_t *> areas;
	for (size_t k = 0; k < 20; k++) {
		rtpercpu_t *pc = rtpercpu_alloc(&heap_, 24 + k * 40, 0);
		ASSERT_NE(nullptr, pc);
		areas.push_back(pc);
		for (unsigned c = 0; c < n; c++)
			fill(rtpercpu_ptr(pc, c), 24 + k * 40, k * 1000 + c);
	}
	for (size_t k = 0; k < areas.size(); k++)
		for (unsigned c = 0; c < n; c++)
			EXPECT_EQ(SIZE_MAX, verify(rtpercpu_ptr(areas[k], c), 24 + k * 40, k * 1000 + c))
			        << "area " << k << " cpu " << c;
	EXPECT_TRUE(heap_ok(&heap_));
	for (rtpercpu_t *pc : areas)
		ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
	EXPECT_EQ(0u, stats(&heap_).live_blocks);
}

TEST_F(Percpu, CpuOutOfRangeIsNull)
{
	const unsigned n = rtpercpu_nr_cpus();
	rtpercpu_t *pc = rtpercpu_alloc(&heap_, 16, 0);
	ASSERT_NE(nullptr, pc);
	const rtheap_stats before = stats(&heap_);
	EXPECT_EQ(nullptr, rtpercpu_ptr(pc, n));
	EXPECT_EQ(nullptr, rtpercpu_ptr(pc, UINT32_MAX));
	EXPECT_EQ(nullptr, rtpercpu_ptr(pc, (unsigned)-1));
	EXPECT_EQ(nullptr, rtpercpu_ptr(nullptr, 0));
	EXPECT_NE(nullptr, rtpercpu_ptr(pc, n - 1));
	expect_same_stats(before, stats(&heap_), "out of range");
	EXPECT_EQ(before.errors, stats(&heap_).errors);
	EXPECT_TRUE(misuse_.empty());
	ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
}

TEST_F(Percpu, BadArgumentsChangeNothing)
{
	const rtheap_stats before = stats(&heap_);
	const size_t bad_align[] = { 3, 48, 100, 8192, (size_t)1 << (sizeof(size_t) * 8 - 2) };
	for (size_t a : bad_align) {
		errno = 0;
		EXPECT_EQ(nullptr, rtpercpu_alloc(&heap_, 16, a)) << a;
		EXPECT_EQ(EINVAL, errno) << a;
	}
	errno = 0;
	EXPECT_EQ(nullptr, rtpercpu_alloc(&heap_, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpercpu_alloc(&heap_, SIZE_MAX, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(nullptr, rtpercpu_alloc(&heap_, SIZE_MAX / 2 + 1, 64));
	EXPECT_EQ(EINVAL, errno);
	rtheap_t zero{};
	errno = 0;
	EXPECT_EQ(nullptr, rtpercpu_alloc(&zero, 16, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, rtpercpu_alloc(nullptr, 16, 0));
	EXPECT_EQ(-EINVAL, rtpercpu_free(nullptr, nullptr));
	EXPECT_EQ(-EINVAL, rtpercpu_free(&zero, nullptr));
	EXPECT_EQ(0, rtpercpu_free(&heap_, nullptr)) << "NULL: nothing, as free_percpu";
	struct rtpercpu_info in{};
	EXPECT_EQ(-EINVAL, rtpercpu_info(nullptr, &in));
	const rtheap_stats after = stats(&heap_);
	expect_same_stats(before, after, "bad arguments");
	EXPECT_EQ(before.errors, after.errors);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(Percpu, ExhaustionFailsCleanly)
{
	rtpercpu_t *keep = rtpercpu_alloc(&heap_, 32, 0);
	ASSERT_NE(nullptr, keep);
	std::memset(rtpercpu_ptr(keep, 0), 0x77, 32);
	const rtheap_stats before = stats(&heap_);
	// one instance per CPU of the whole heap's size: never fits
	errno = 0;
	EXPECT_EQ(nullptr, rtpercpu_alloc(&heap_, kSize, 0));
	EXPECT_EQ(ENOMEM, errno);
	const rtheap_stats after = stats(&heap_);
	expect_same_stats(before, after, "exhaustion", false);
	EXPECT_EQ(before.failed_allocs + 1, after.failed_allocs);
	EXPECT_EQ(before.errors, after.errors);
	auto *k = static_cast<unsigned char *>(rtpercpu_ptr(keep, 0));
	for (size_t i = 0; i < 32; i++)
		ASSERT_EQ(0x77, k[i]);
	// fill the heap with areas until one fails, then release them all
	std::vector<rtpercpu_t *> all;
	for (;;) {
		rtpercpu_t *pc = rtpercpu_alloc(&heap_, 4000, 0);
		if (!pc)
			break;
		all.push_back(pc);
		ASSERT_LT(all.size(), kSize / 64) << "the heap never ran out";
	}
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_FALSE(all.empty());
	EXPECT_TRUE(heap_ok(&heap_));
	for (rtpercpu_t *pc : all)
		ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
	EXPECT_EQ(0, rtpercpu_free(&heap_, keep));
	EXPECT_EQ(0u, stats(&heap_).live_blocks);
	EXPECT_TRUE(misuse_.empty());
}

// Each bad release: exactly one misuse of the expected kind and address,
// nothing else changes (the areas keep their contents).
TEST_F(Percpu, BadReleasesAreReportedExactlyAndChangeNothing)
{
	rtpercpu_t *pc = rtpercpu_alloc(&heap_, 40, 0);
	rtpercpu_t *big = rtpercpu_alloc(&heap_, 5000, 0);
	void *plain = rtheap_alloc(&heap_, 256);
	rtpercpu_t *gone = rtpercpu_alloc(&heap_, 40, 0);
	ASSERT_TRUE(pc && big && plain && gone);
	std::memset(plain, 0, 256);
	ASSERT_EQ(0, rtpercpu_free(&heap_, gone));
	fill(rtpercpu_ptr(pc, 0), 40, 1);
	int on_stack = 0;
	struct Case {
		const char *what;
		void *p;
		rtheap_error_kind_t kind;
		int rc;
	} cases[] = {
		{ "foreign (stack)", &on_stack, RTHEAP_ERR_FOREIGN, -EFAULT },
		{ "an instance, not the handle", rtpercpu_ptr(pc, 0), RTHEAP_ERR_NOT_BLOCK, -EINVAL },
		{ "inside the header", (char *)pc + 8, RTHEAP_ERR_NOT_BLOCK, -EINVAL },
		{ "misaligned, inside the header", (char *)pc + 1, RTHEAP_ERR_NOT_BLOCK, -EINVAL },
		{ "the last bytes of a small block", (char *)plain + 255, RTHEAP_ERR_NOT_BLOCK,
		  -EINVAL },
		{ "inside a large area", rtpercpu_ptr(big, 0), RTHEAP_ERR_NOT_BLOCK, -EINVAL },
		{ "a plain heap block", plain, RTHEAP_ERR_NOT_BLOCK, -EINVAL },
		{ "released already", gone, RTHEAP_ERR_DOUBLE_FREE, -EINVAL },
	};
	for (const Case &c : cases) {
		const rtheap_stats hs = stats(&heap_);
		misuse_.clear();
		EXPECT_EQ(c.rc, rtpercpu_free(&heap_, static_cast<rtpercpu_t *>(c.p))) << c.what;
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.p, misuse_[0].addr) << c.what;
		const rtheap_stats hs2 = stats(&heap_);
		expect_same_stats(hs, hs2, c.what);
		EXPECT_EQ(hs.errors + 1, hs2.errors) << c.what;
		EXPECT_TRUE(heap_ok(&heap_)) << c.what;
	}
	// everything still there and still releasable
	EXPECT_EQ(SIZE_MAX, verify(rtpercpu_ptr(pc, 0), 40, 1));
	EXPECT_EQ(0, rtheap_free(&heap_, plain)) << "the plain block stayed live";
	EXPECT_EQ(0, rtpercpu_free(&heap_, pc));
	EXPECT_EQ(0, rtpercpu_free(&heap_, big));
	// a released area's memory, not reused yet: its check word is gone
	// (under ASan the read itself is reported, as a use after free)
	if (!RTHEAP_TEST_ASAN) {
		EXPECT_EQ(nullptr, rtpercpu_ptr(gone, 0)) << "a released area has no check word";
	}
	EXPECT_EQ(0u, stats(&heap_).live_blocks);
}

TEST_F(Percpu, GetPutPairsNestAndCheckThePinning)
{
	rtpercpu_t *pc = rtpercpu_alloc(&heap_, 8, 0);
	ASSERT_NE(nullptr, pc);
	EXPECT_EQ(-EINVAL, rtpercpu_put(pc)) << "no pair open";
	std::vector<unsigned> cpus = allowed_cpus();
	ASSERT_FALSE(cpus.empty());
	std::thread t([&] {
		ASSERT_TRUE(pin(cpus.back()));
		void *a = rtpercpu_get(pc);
		void *b = rtpercpu_get(pc);
		EXPECT_EQ(rtpercpu_ptr(pc, cpus.back()), a);
		EXPECT_EQ(a, b);
		EXPECT_EQ(a, rtpercpu_this(pc));
		EXPECT_EQ((int)cpus.back(), rtpercpu_cpu());
		EXPECT_EQ(0, rtpercpu_put(pc)) << "pinned: never migrated";
		EXPECT_EQ(0, rtpercpu_put(pc));
		EXPECT_EQ(-EINVAL, rtpercpu_put(pc)) << "unbalanced";
		EXPECT_EQ(-EINVAL, rtpercpu_put(nullptr));
		EXPECT_EQ(nullptr, rtpercpu_get(nullptr));
		EXPECT_EQ(-EINVAL, rtpercpu_put(pc)) << "a NULL get opens no pair";
	});
	t.join();
	ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
	EXPECT_TRUE(misuse_.empty());
}

#else // PERCPU_TEST_THREADS: the threaded cases, labelled concurrency

// One thread pinned on each allowed CPU writes its own instance through
// the current-CPU call, many times, without a lock; the main thread then
// reads every instance through rtpercpu_ptr: each has exactly its
// thread's updates (no sharing, no lost update).
TEST_F(Percpu, ThreadsPinnedOnEachCpuOwnTheirInstance)
{
	const unsigned n = rtpercpu_nr_cpus();
	const std::vector<unsigned> cpus = allowed_cpus();
	ASSERT_FALSE(cpus.empty());
	rtpercpu_t *pc = rtpercpu_alloc(&heap_, sizeof(Counter), 0);
	ASSERT_NE(nullptr, pc);
	for (unsigned c = 0; c < n; c++)
		static_cast<Counter *>(rtpercpu_ptr(pc, c))->cpu_seen = -1;
	const uint64_t kRounds = 200000;
	std::atomic<unsigned> pinned{0}, failed{0};
	std::vector<std::thread> threads;
	for (unsigned cpu : cpus)
		threads.emplace_back([&, cpu] {
			if (!pin(cpu)) {
				failed++;
				return;
			}
			pinned++;
			for (uint64_t i = 0; i < kRounds; i++) {
				auto *me = static_cast<Counter *>(rtpercpu_get(pc));
				if (!me) {
					failed++;
					return;
				}
				me->hits++;
				me->cpu_seen = rtpercpu_cpu();
				me->put_result = rtpercpu_put(pc);
			}
		});
	for (std::thread &t : threads)
		t.join();
	ASSERT_EQ(0u, failed.load());
	ASSERT_EQ(cpus.size(), pinned.load());
	for (unsigned c = 0; c < n; c++) {
		const auto *k = static_cast<const Counter *>(rtpercpu_ptr(pc, c));
		bool mine = false;
		for (unsigned a : cpus)
			mine |= a == c;
		EXPECT_EQ(mine ? kRounds : 0u, k->hits) << "cpu " << c;
		EXPECT_EQ(mine ? (int)c : -1, k->cpu_seen) << "cpu " << c;
		EXPECT_EQ(0, k->put_result) << "cpu " << c;
	}
	EXPECT_TRUE(heap_ok(&heap_));
	ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
	EXPECT_TRUE(misuse_.empty());
}

// Unpinned threads (more than CPUs) on the documented pattern for them:
// atomics on the current instance; the sum over all instances is exact.
TEST_F(Percpu, UnpinnedThreadsWithAtomicsLoseNothing)
{
	const unsigned n = rtpercpu_nr_cpus();
	rtpercpu_t *pc = rtpercpu_alloc(&heap_, sizeof(std::atomic<uint64_t>), 0);
	ASSERT_NE(nullptr, pc);
	for (unsigned c = 0; c < n; c++)
		new (rtpercpu_ptr(pc, c)) std::atomic<uint64_t>(0);
	const unsigned kThreads = 2 * n + 2;
	const uint64_t kRounds = 50000;
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < kThreads; t++)
		threads.emplace_back([&] {
			for (uint64_t i = 0; i < kRounds; i++) {
				auto *a = static_cast<std::atomic<uint64_t> *>(rtpercpu_this(pc));
				ASSERT_NE(nullptr, a);
				a->fetch_add(1, std::memory_order_relaxed);
			}
		});
	for (std::thread &t : threads)
		t.join();
	uint64_t sum = 0;
	for (unsigned c = 0; c < n; c++)
		sum += static_cast<std::atomic<uint64_t> *>(rtpercpu_ptr(pc, c))->load();
	EXPECT_EQ(kThreads * kRounds, sum);
	ASSERT_EQ(0, rtpercpu_free(&heap_, pc));
}

#endif // PERCPU_TEST_THREADS
