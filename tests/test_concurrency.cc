/* SPDX-License-Identifier: MIT */
// Concurrency: many threads (more than the CPUs) on one heap in PI-mutex
// mode, with blocks freed by threads other than their allocator, extents
// added while others allocate, both lock modes (PI mutex and spinlock) with
// rtheap_zalloc and zeroed extents, and a priority-inheritance check.
//
// Built in every build and again in the ThreadSanitizer build (ctest label
// "concurrency").  Nothing here depends on timing: each thread does a fixed
// number of operations.

#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rtheap/rtheap.h"

#include "test_common.h"

using rtt::AlignedBuf;

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

// xorshift64*: per-thread, deterministic.
struct Rng {
	uint64_t s;
	explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
	uint64_t next()
	{
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		return s * 2685821657736338717ull;
	}
	size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// Block header written by the allocating thread: owner, serial and size,
// followed by a pattern derived from them.  The freeing thread (any
// thread) verifies it, so overlapping blocks or a block handed out twice
// show up as a mismatch.
struct Tag {
	uint32_t owner;
	uint32_t serial;
	uint64_t size;
};

// Every byte of the first 64, then one byte per 16-byte granule (blocks
// are 16-byte aligned, so any overlap covers a sampled byte) and the last
// byte: cheap enough for big blocks under ThreadSanitizer.
inline size_t next_sampled(size_t i, size_t size)
{
	if (i < 64)
		return i + 1;
	size_t n = i + 16;
	return n < size ? n : (i + 1 < size ? size - 1 : size);
}

void stamp(unsigned char *p, size_t size, uint32_t owner, uint32_t serial)
{
	Tag t{owner, serial, size};
	std::memcpy(p, &t, sizeof t);
	for (size_t i = sizeof t; i < size; i = next_sampled(i, size))
		p[i] = static_cast<unsigned char>(owner * 31u + serial + i);
}

bool verify(const unsigned char *p, size_t size)
{
	Tag t;
	std::memcpy(&t, p, sizeof t);
	if (t.size != size)
		return false;
	for (size_t i = sizeof t; i < size; i = next_sampled(i, size))
		if (p[i] != static_cast<unsigned char>(t.owner * 31u + t.serial + i))
			return false;
	return true;
}

// Hand-off slots between threads: a block published by one thread is
// taken and freed by another.  The exchange gives the release/acquire
// ordering that makes the pattern written by the owner visible.
// One 64-bit word: the pointer in the low bits (48 of them on 64-bit
// machines, 32 on 32-bit ones), the size above.
constexpr unsigned kPtrBits = sizeof(void *) > 4 ? 48 : 32;
struct Slot {
	std::atomic<uint64_t> word{0}; // block pointer | (size << kPtrBits)
};

uint64_t pack(void *p, size_t size)
{
	return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)) |
	       (static_cast<uint64_t>(size) << kPtrBits);
}
void *unpack_ptr(uint64_t w)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>(w & ((uint64_t{1} << kPtrBits) - 1)));
}
size_t unpack_size(uint64_t w) { return static_cast<size_t>(w >> kPtrBits); }

unsigned thread_count()
{
	unsigned cpus = std::thread::hardware_concurrency();
	if (cpus == 0)
		cpus = 2;
	return cpus * 4 < 8 ? 8 : cpus * 4; // always more threads than CPUs
}

size_t pick_size(Rng &r, size_t page)
{
	switch (r.below(8)) {
	case 0:
		return 1 + r.below(4 * page); // page runs
	case 1:
		return page / 2 + 1 + r.below(page); // one or two pages
	default:
		return sizeof(Tag) + r.below(page / 2 - sizeof(Tag) + 1); // buckets
	}
}

struct Shared {
	rtheap_t *heap;
	size_t page;
	std::vector<Slot> slots;
	std::atomic<int> bad_content{0};
	std::atomic<int> bad_free{0};
	std::atomic<long> failed{0};
	std::atomic<long> cross_frees{0};
	std::atomic<long> ops{0};  // operations started, all workers together
	bool zalloc = false;       // one allocation in five through rtheap_zalloc
	explicit Shared(size_t nslots) : slots(nslots) {}
};

// rtheap_zalloc's promise, on the bytes stamp() and verify() look at.
bool zeroed(const unsigned char *p, size_t size)
{
	for (size_t i = 0; i < size; i = next_sampled(i, size))
		if (p[i] != 0)
			return false;
	return true;
}

void worker(Shared *sh, uint32_t id, long ops)
{
	Rng r(id + 1);
	std::vector<std::pair<unsigned char *, size_t>> mine;
	uint32_t serial = 0;
	for (long i = 0; i < ops; i++) {
		sh->ops.fetch_add(1, std::memory_order_relaxed);
		const size_t what = r.below(10);
		if (what < 4 || mine.empty()) {
			size_t sz = pick_size(r, sh->page);
			const bool z = sh->zalloc && r.below(5) == 0;
			auto *p = static_cast<unsigned char *>(z ? rtheap_zalloc(sh->heap, sz)
			                                         : rtheap_alloc(sh->heap, sz));
			if (!p) {
				sh->failed.fetch_add(1, std::memory_order_relaxed);
				continue;
			}
			if (z && !zeroed(p, sz))
				sh->bad_content.fetch_add(1, std::memory_order_relaxed);
			stamp(p, sz, id, serial++);
			mine.emplace_back(p, sz);
		} else if (what < 7) {
			size_t k = r.below(mine.size());
			auto [p, sz] = mine[k];
			mine[k] = mine.back();
			mine.pop_back();
			if (!verify(p, sz))
				sh->bad_content.fetch_add(1, std::memory_order_relaxed);
			if (rtheap_free(sh->heap, p) != 0)
				sh->bad_free.fetch_add(1, std::memory_order_relaxed);
		} else {
			// Swap one of ours into a random slot; free what was there.
			size_t k = r.below(mine.size());
			auto [p, sz] = mine[k];
			mine[k] = mine.back();
			mine.pop_back();
			Slot &s = sh->slots[r.below(sh->slots.size())];
			uint64_t old = s.word.exchange(pack(p, sz), std::memory_order_acq_rel);
			if (old) {
				auto *q = static_cast<unsigned char *>(unpack_ptr(old));
				if (!verify(q, unpack_size(old)))
					sh->bad_content.fetch_add(1, std::memory_order_relaxed);
				if (rtheap_free(sh->heap, q) != 0)
					sh->bad_free.fetch_add(1, std::memory_order_relaxed);
				sh->cross_frees.fetch_add(1, std::memory_order_relaxed);
			}
		}
	}
	for (auto [p, sz] : mine) {
		if (!verify(p, sz))
			sh->bad_content.fetch_add(1, std::memory_order_relaxed);
		if (rtheap_free(sh->heap, p) != 0)
			sh->bad_free.fetch_add(1, std::memory_order_relaxed);
	}
}

void drain_slots(Shared &sh)
{
	for (Slot &s : sh.slots) {
		uint64_t w = s.word.exchange(0);
		if (!w)
			continue;
		EXPECT_TRUE(verify(static_cast<unsigned char *>(unpack_ptr(w)), unpack_size(w)));
		EXPECT_EQ(rtheap_free(sh.heap, unpack_ptr(w)), 0);
	}
}

// After the workers: the blocks still in slots released, no damaged block
// and no refused release seen, and the heap empty, with no misuse counted
// and every allocation matched by a release.  The statistics are returned
// for the checks of each test.
rtheap_stats expect_all_released(Shared &sh)
{
	drain_slots(sh);
	EXPECT_EQ(sh.bad_content.load(), 0) << "damaged or not zeroed blocks";
	EXPECT_EQ(sh.bad_free.load(), 0);
	rtheap_stats st{};
	EXPECT_EQ(rtheap_get_stats(sh.heap, &st), 0);
	EXPECT_EQ(st.used, 0u);
	EXPECT_EQ(st.live_blocks, 0u);
	EXPECT_EQ(st.free, st.usable);
	EXPECT_EQ(st.alloc_calls, st.free_calls);
	EXPECT_EQ(st.errors, 0u);
	EXPECT_TRUE(rtt::heap_ok(sh.heap));
	return st;
}

class Concurrency : public ::testing::TestWithParam<size_t> {};

TEST_P(Concurrency, CrossThreadStressPiMutex)
{
	const size_t page = GetParam();
	AlignedBuf b(2u << 20);
	rtheap_t heap{};
	struct rtheap_config cfg{};
	cfg.page_size = page;
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg.name = "stress";
	ASSERT_EQ(rtheap_init(&heap, b.p, b.n, &cfg), 0);
	const unsigned n = thread_count();
	const long ops = kTsan ? 20000 : 100000;
	Shared sh(64);
	sh.heap = &heap;
	sh.page = rtheap_page_size(&heap);
	std::vector<std::thread> ts;
	for (unsigned i = 0; i < n; i++)
		ts.emplace_back(worker, &sh, i, ops);
	for (auto &t : ts)
		t.join();
	const rtheap_stats st = expect_all_released(sh);
	EXPECT_GT(sh.cross_frees.load(), 0);
	EXPECT_EQ(st.pages_bucket + st.pages_run, 0u);
	// All memory is back in one piece per extent.
	EXPECT_EQ(st.free_runs, 1u);
	void *all = rtheap_alloc(&heap, st.largest_free);
	EXPECT_NE(all, nullptr);
	std::printf("[ info ] %u threads x %ld ops, page %zu: %zu allocs, %ld cross-thread frees, "
	            "%ld failed allocs\n",
	            n, ops, sh.page, st.alloc_calls, sh.cross_frees.load(), sh.failed.load());
	ASSERT_EQ(rtheap_destroy(&heap, nullptr, nullptr), 0);
}

INSTANTIATE_TEST_SUITE_P(Pages, Concurrency, ::testing::Values(256, 4096));

// Extents are added by a helper thread while workers allocate and free.
TEST(ConcurrencyExtend, ExtendWhileAllocating)
{
	constexpr int kExtents = 24;
	AlignedBuf first(64 * 1024);
	std::vector<AlignedBuf *> extra;
	for (int i = 0; i < kExtents; i++)
		extra.push_back(new AlignedBuf(64 * 1024));
	rtheap_t heap{};
	ASSERT_EQ(rtheap_init(&heap, first.p, first.n, nullptr), 0);
	const unsigned n = thread_count();
	Shared sh(32);
	sh.heap = &heap;
	sh.page = rtheap_page_size(&heap);
	std::atomic<int> extend_errors{0};
	std::vector<std::thread> ts;
	for (unsigned i = 0; i < n; i++)
		ts.emplace_back(worker, &sh, i, kTsan ? 5000L : 30000L);
	std::thread helper([&] {
		for (int i = 0; i < kExtents; i++) {
			if (rtheap_extend(&heap, extra[i]->p, extra[i]->n, 0) != 0)
				extend_errors++;
			std::this_thread::yield();
		}
	});
	for (auto &t : ts)
		t.join();
	helper.join();
	const rtheap_stats st = expect_all_released(sh);
	EXPECT_EQ(extend_errors.load(), 0);
	EXPECT_EQ(st.extents, size_t{kExtents + 1});
	ASSERT_EQ(rtheap_destroy(&heap, nullptr, nullptr), 0);
	for (AlignedBuf *e : extra)
		delete e;
}

// Each lock mode with a few workers (a spinning waiter needs the holder to
// run): rtheap_zalloc among the allocations, one extent added with
// RTHEAP_F_ZEROED and one without (its map cleared outside the lock) while
// the workers run, and statistics that match what the workers saw.
class ConcurrencyLocks : public ::testing::TestWithParam<rtheap_lock_mode_t> {};

TEST_P(ConcurrencyLocks, ZallocAndExtendWhileRunning)
{
	const rtheap_lock_mode_t lock = GetParam();
	constexpr unsigned kWorkers = 4;
	const long ops = (lock == RTHEAP_LOCK_SPIN ? 100000L : 40000L) / (kTsan ? 5 : 1);
	AlignedBuf first(128 << 10), second(2 << 20), third(512 << 10);
	// mmap'ed memory is zero-filled: RTHEAP_F_ZEROED may be claimed for it.
	std::memset(first.p, 0, first.n);
	std::memset(second.p, 0, second.n);
	rtheap_t heap{};
	struct rtheap_config cfg{};
	cfg.page_size = 256;
	cfg.lock = lock;
	cfg.flags = RTHEAP_F_ZEROED;
	cfg.name = "locks";
	ASSERT_EQ(rtheap_init(&heap, first.p, first.n, &cfg), 0);
	Shared sh(64);
	sh.heap = &heap;
	sh.page = rtheap_page_size(&heap);
	sh.zalloc = true;
	const long total = static_cast<long>(kWorkers) * ops;
	std::atomic<int> ext_rc{1};
	std::thread extender([&] {
		while (sh.ops.load() < total / 4)
			std::this_thread::yield();
		int rc1 = rtheap_extend(&heap, second.p, second.n, RTHEAP_F_ZEROED);
		while (sh.ops.load() < total / 2)
			std::this_thread::yield();
		int rc2 = rtheap_extend(&heap, third.p, third.n, 0);
		ext_rc = rc1 | rc2;
	});
	std::vector<std::thread> ts;
	for (unsigned i = 0; i < kWorkers; i++)
		ts.emplace_back(worker, &sh, i, ops);
	for (auto &t : ts)
		t.join();
	extender.join();
	const rtheap_stats st = expect_all_released(sh);
	EXPECT_EQ(ext_rc.load(), 0);
	EXPECT_GT(sh.cross_frees.load(), 100) << "too few cross-thread frees to mean anything";
	EXPECT_EQ(st.extents, 3u);
	EXPECT_EQ(st.failed_allocs, static_cast<size_t>(sh.failed.load()));
	EXPECT_EQ(st.free_runs, 3u); // one per extent
	std::printf("[ info ] lock %d: %u threads x %ld ops: %zu allocs, %ld cross-thread frees, "
	            "%ld failed allocs\n",
	            static_cast<int>(lock), kWorkers, ops, st.alloc_calls, sh.cross_frees.load(),
	            sh.failed.load());
	ASSERT_EQ(rtheap_destroy(&heap, nullptr, nullptr), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ConcurrencyLocks,
                         ::testing::Values(RTHEAP_LOCK_PI_MUTEX, RTHEAP_LOCK_SPIN),
                         [](const ::testing::TestParamInfo<rtheap_lock_mode_t> &i) {
	                         return std::string(i.param == RTHEAP_LOCK_SPIN ? "Spinlock"
	                                                                        : "PiMutex");
                         });

// rtheap_check runs while extents are being added and blocks allocated and
// freed: every check must pass, and ThreadSanitizer must see no race between
// the check's walk and an extension's work outside the lock.
TEST(ConcurrencyExtend, CheckWhileExtending)
{
	constexpr int kExtents = 40;
	AlignedBuf first(64 * 1024);
	std::vector<AlignedBuf *> extra;
	for (int i = 0; i < kExtents; i++)
		extra.push_back(new AlignedBuf(32 * 1024 + 4096 * (i % 5)));
	rtheap_t heap{};
	ASSERT_EQ(rtheap_init(&heap, first.p, first.n, nullptr), 0);
	Shared sh(32);
	sh.heap = &heap;
	sh.page = rtheap_page_size(&heap);
	std::atomic<bool> done{false};
	std::atomic<int> extend_errors{0}, check_errors{0}, checks{0};
	std::thread work(worker, &sh, 0u, kTsan ? 4000L : 20000L);
	std::thread checker([&] {
		while (!done.load()) {
			rtheap_fault f{};
			if (rtheap_check(&heap, &f) != 0) {
				check_errors++;
				std::fprintf(stderr, "check: %s\n", f.what ? f.what : "?");
			}
			checks++;
		}
	});
	std::thread helper([&] {
		for (int i = 0; i < kExtents; i++)
			if (rtheap_extend(&heap, extra[i]->p, extra[i]->n, 0) != 0)
				extend_errors++;
	});
	helper.join();
	work.join();
	while (checks.load() == 0) // the checker may not have run yet
		std::this_thread::yield();
	done = true;
	checker.join();
	const rtheap_stats st = expect_all_released(sh);
	EXPECT_GT(checks.load(), 0);
	EXPECT_EQ(check_errors.load(), 0);
	EXPECT_EQ(extend_errors.load(), 0);
	EXPECT_EQ(st.extents, size_t{kExtents + 1});
	ASSERT_EQ(rtheap_destroy(&heap, nullptr, nullptr), 0);
	for (AlignedBuf *e : extra)
		delete e;
}

// Misuse reported concurrently: every thread double-frees its own blocks;
// each misuse is counted once and the heap stays consistent.
std::atomic<int> g_cb_calls{0};
void count_cb(rtheap_t *, rtheap_error_kind_t kind, const void *, void *)
{
	if (kind == RTHEAP_ERR_DOUBLE_FREE || kind == RTHEAP_ERR_NOT_BLOCK)
		g_cb_calls.fetch_add(1);
}

TEST(ConcurrencyErrors, ConcurrentMisuse)
{
	AlignedBuf b(1u << 20);
	rtheap_t heap{};
	ASSERT_EQ(rtheap_init(&heap, b.p, b.n, nullptr), 0);
	ASSERT_EQ(rtheap_set_error_handler(&heap, count_cb, nullptr), 0);
	g_cb_calls = 0;
	const unsigned n = thread_count();
	const int per = kTsan ? 500 : 3000;
	std::atomic<int> wrong{0};
	std::vector<std::thread> ts;
	for (unsigned t = 0; t < n; t++)
		ts.emplace_back([&, t] {
			Rng r(t + 100);
			for (int i = 0; i < per; i++) {
				void *p = rtheap_alloc(&heap, 16 + r.below(600));
				if (!p)
					continue;
				void *other = rtheap_alloc(&heap, 32);
				if (rtheap_free(&heap, p) != 0 || !other) {
					wrong++;
					continue;
				}
				// Interior pointer of a live block: one refusal, one
				// callback, whatever the other threads do meanwhile.
				int rc = rtheap_free(&heap, static_cast<char *>(other) + 8);
				if (rc != -EINVAL)
					wrong++;
				if (rtheap_free(&heap, other) != 0)
					wrong++;
			}
		});
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(wrong.load(), 0);
	EXPECT_EQ(g_cb_calls.load(), static_cast<int>(n) * per);
	rtheap_stats st{};
	ASSERT_EQ(rtheap_get_stats(&heap, &st), 0);
	EXPECT_EQ(st.errors, static_cast<size_t>(n) * per);
	EXPECT_EQ(st.used, 0u);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

// ------------------------------------------------------------------
// Priority inheritance
// ------------------------------------------------------------------

long my_tid() { return static_cast<long>(syscall(SYS_gettid)); }

// Effective priority of a thread as the kernel schedules it, from
// /proc/self/task/TID/stat field 18: -1 - rt_priority for real-time
// threads, and it follows priority-inheritance boosts.
long kernel_prio(long tid)
{
	std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
	std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	size_t close = s.rfind(')');
	if (close == std::string::npos)
		return 1000;
	std::istringstream in(s.substr(close + 2));
	std::string field;
	// Fields after "(comm)": state is field 3; we want field 18.
	for (int i = 3; i <= 18; i++)
		if (!(in >> field))
			return 1000;
	return std::stol(field);
}

struct PiState {
	rtheap_t heap;
	std::atomic<int> holding{0};
	std::atomic<int> release{0};
	std::atomic<int> high_started{0};
	long low_tid = 0;
	long boosted_prio = 1000;
	long base_prio = 1000;
};
PiState *g_pi;

// Runs under the heap lock (rtheap_test_and_free's check function): the low
// priority thread holds the lock here until the high one is seen waiting.
int hold_lock(void *)
{
	PiState *s = g_pi;
	s->base_prio = kernel_prio(s->low_tid);
	s->holding = 1;
	// Wait (bounded by iterations, not by a clock measurement) until our
	// effective priority rises, i.e. the high thread blocks on the lock.
	for (int i = 0; i < 20000; i++) {
		long p = kernel_prio(s->low_tid);
		if (p < s->boosted_prio)
			s->boosted_prio = p;
		if (s->high_started && p < s->base_prio)
			break;
		struct timespec ts{0, 500000};
		nanosleep(&ts, nullptr);
	}
	return 0;
}

bool start_fifo(pthread_t *th, int prio, void *(*fn)(void *), void *arg, int *err)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&a, SCHED_FIFO);
	struct sched_param sp{};
	sp.sched_priority = prio;
	pthread_attr_setschedparam(&a, &sp);
	*err = pthread_create(th, &a, fn, arg);
	pthread_attr_destroy(&a);
	return *err == 0;
}

void *low_main(void *blk)
{
	g_pi->low_tid = my_tid();
	rtheap_test_and_free(&g_pi->heap, blk, hold_lock);
	return nullptr;
}

void *high_main(void *out)
{
	g_pi->high_started = 1;
	*static_cast<void **>(out) = rtheap_alloc(&g_pi->heap, 64);
	return nullptr;
}

TEST(PriorityInheritance, LowHolderIsBoosted)
{
	// Probe whether this process may use SCHED_FIFO at all.
	pthread_t probe;
	int err = 0;
	if (!start_fifo(&probe, 1, [](void *) -> void * { return nullptr; }, nullptr, &err))
		GTEST_SKIP() << "SCHED_FIFO not permitted here (pthread_create: " << std::strerror(err)
		             << "); run as root or with CAP_SYS_NICE / rtprio limit to test "
		                "priority inheritance";
	pthread_join(probe, nullptr);

	AlignedBuf b(64 * 1024);
	PiState st{};
	g_pi = &st;
	struct rtheap_config cfg{};
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	ASSERT_EQ(rtheap_init(&st.heap, b.p, b.n, &cfg), 0);
	void *blk = rtheap_alloc(&st.heap, 32);
	ASSERT_NE(blk, nullptr);

	pthread_t low, high;
	ASSERT_TRUE(start_fifo(&low, 10, low_main, blk, &err)) << std::strerror(err);
	for (int i = 0; i < 100000 && !st.holding; i++) {
		struct timespec ts{0, 100000};
		nanosleep(&ts, nullptr);
	}
	ASSERT_TRUE(st.holding.load()) << "low thread never took the lock";
	void *high_got = nullptr;
	ASSERT_TRUE(start_fifo(&high, 50, high_main, &high_got, &err)) << std::strerror(err);
	pthread_join(low, nullptr);
	pthread_join(high, nullptr);
	// rt_priority 10 is reported as -11; boosted to 50, as -51.
	EXPECT_EQ(st.base_prio, -11);
	EXPECT_EQ(st.boosted_prio, -51) << "the lock holder was not boosted to the waiter's "
	                                   "priority: no priority inheritance";
	EXPECT_NE(high_got, nullptr);
	EXPECT_EQ(rtheap_check_block(&st.heap, blk), -EINVAL); // freed by low
	EXPECT_EQ(rtheap_check(&st.heap, nullptr), 0);
	ASSERT_EQ(rtheap_destroy(&st.heap, nullptr, nullptr), 0);
}

} // namespace
