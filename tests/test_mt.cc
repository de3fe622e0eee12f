/* SPDX-License-Identifier: MIT */
// Several threads on one heap (PI mutex and spinlock): allocations, frees
// of blocks allocated by other threads, and an extension in the middle.
#include <atomic>
#include <thread>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

constexpr int kWorkers = 4;
constexpr int kSlots = 64;

struct Shared {
	rtheap_t *h;
	std::atomic<void *> mailbox[kSlots];
	std::atomic<long> ops{0};
	std::atomic<long> bad{0};       // wrong return codes or damaged blocks
	std::atomic<long> failures{0};  // NULL allocations
	std::atomic<long> cross{0};     // blocks freed by another thread
	std::atomic<int> ready{0};      // start line: all workers begin together
};

// Word 0 holds the usable size, the rest a pattern derived from the address.
void stamp(rtheap_t *h, void *p)
{
	size_t n = rtheap_usable_size(h, p);
	auto *w = static_cast<uint64_t *>(p);
	w[0] = n;
	rtt::fill(w + 1, n - 8, rtt::mix64(reinterpret_cast<uintptr_t>(p)));
}

bool intact(rtheap_t *h, void *p)
{
	auto *w = static_cast<uint64_t *>(p);
	size_t n = rtheap_usable_size(h, p);
	return n >= 16 && w[0] == n &&
	       rtt::verify(w + 1, n - 8, rtt::mix64(reinterpret_cast<uintptr_t>(p))) == SIZE_MAX;
}

void release(Shared &s, void *p)
{
	if (!intact(s.h, p))
		s.bad++;
	if (rtheap_free(s.h, p) != 0)
		s.bad++;
}

void worker(Shared &s, int id, int ops)
{
	std::mt19937_64 rng(id * 7919 + 1);
	std::vector<void *> mine;
	s.ready++;
	while (s.ready.load() < kWorkers)
		std::this_thread::yield();
	for (int i = 0; i < ops; i++) {
		unsigned r = rng() % 100;
		if (r < 50 || mine.empty()) {
			size_t sz = (rng() % 8) ? 1 + rng() % 1024 : 1024 + rng() % 8192;
			void *p = (r % 5 == 0) ? rtheap_zalloc(s.h, sz) : rtheap_alloc(s.h, sz);
			if (!p) {
				s.failures++;
			} else {
				stamp(s.h, p);
				mine.push_back(p);
			}
		} else if (r < 70) {
			// Hand a block over; free whatever was in the slot.
			size_t k = rng() % mine.size();
			void *p = mine[k];
			mine[k] = mine.back();
			mine.pop_back();
			void *old = s.mailbox[rng() % kSlots].exchange(p, std::memory_order_acq_rel);
			if (old) {
				release(s, old);
				s.cross++;
			}
		} else {
			size_t k = rng() % mine.size();
			release(s, mine[k]);
			mine[k] = mine.back();
			mine.pop_back();
		}
		s.ops.fetch_add(1, std::memory_order_relaxed);
		if (mine.size() > 300) { // keep the working set bounded
			for (size_t k = 0; k < 100; k++)
				release(s, mine[k]);
			mine.erase(mine.begin(), mine.begin() + 100);
		}
	}
	for (void *p : mine)
		release(s, p);
}

void run(rtheap_lock_mode_t lock, int ops_per_worker)
{
	const size_t first = 128 << 10, second = 2 << 20, third = 512 << 10;
	rtt::Mapping m1(first), m2(second), m3(third);
	auto h = rtt::new_heap();
	auto cfg = rtt::config(256, lock, RTHEAP_F_ZEROED);
	ASSERT_EQ(0, rtheap_init(h.get(), m1.data(), first, &cfg));
	Shared s;
	s.h = h.get();
	for (auto &slot : s.mailbox)
		slot.store(nullptr);

	const long total = (long)kWorkers * ops_per_worker;
	std::atomic<int> ext_rc{1};
	std::thread extender([&] {
		while (s.ops.load() < total / 4)
			std::this_thread::yield();
		int rc1 = rtheap_extend(h.get(), m2.data(), second, RTHEAP_F_ZEROED);
		while (s.ops.load() < total / 2)
			std::this_thread::yield();
		int rc2 = rtheap_extend(h.get(), m3.data(), third, 0); // map cleared outside the lock
		ext_rc = rc1 | rc2;
	});
	std::vector<std::thread> ws;
	for (int i = 0; i < kWorkers; i++)
		ws.emplace_back(worker, std::ref(s), i, ops_per_worker);
	for (auto &t : ws)
		t.join();
	extender.join();
	EXPECT_EQ(0, ext_rc.load());
	for (auto &slot : s.mailbox) {
		void *p = slot.exchange(nullptr);
		if (p)
			release(s, p);
	}
	EXPECT_EQ(0, s.bad.load()) << "damaged blocks or refused frees";
	EXPECT_GT(s.cross.load(), 100) << "too few cross-thread frees to mean anything";
	auto st = rtt::stats(h.get());
	EXPECT_EQ(3u, st.extents);
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(0u, st.live_blocks);
	EXPECT_EQ(st.usable, st.free);
	EXPECT_EQ(st.alloc_calls, st.free_calls);
	EXPECT_EQ((size_t)s.failures.load(), st.failed_allocs);
	EXPECT_EQ(3u, st.free_runs);
	EXPECT_EQ(0u, st.errors);
	EXPECT_TRUE(heap_ok(h.get()));
	std::printf("lock %d: %ld ops, %zu allocations, %ld cross-thread frees, %ld failures\n",
	            (int)lock, s.ops.load(), st.alloc_calls, s.cross.load(), s.failures.load());
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

TEST(MultiThread, PiMutex) { run(RTHEAP_LOCK_PI_MUTEX, 40000); }

TEST(MultiThread, Spinlock) { run(RTHEAP_LOCK_SPIN, 100000); }

} // namespace
