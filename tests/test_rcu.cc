// SPDX-License-Identifier: MIT
// RCU-deferred release (rtheap/rcu.h).  Built twice: the calls and their
// errors (test_rcu), and readers and writers in threads, more threads than
// CPUs (RCU_TEST_THREADS: test_rcu_threads, label concurrency, also run in
// the ThreadSanitizer build).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <urcu/urcu-memb.h>

#include "rtheap/rcu.h"
#include "rtheap/rtheap.h"
#include "test_common.h"

namespace {

constexpr size_t kHeap = 1 << 20;

struct Heap {
	rtt::Mapping mem;
	rtheap_t h;
	explicit Heap(unsigned flags = RTHEAP_F_DEBUG_FILL,
	              rtheap_lock_mode_t lock = RTHEAP_LOCK_PI_MUTEX, size_t size = kHeap)
	        : mem(size)
	{
		struct rtheap_config cfg = {};
		cfg.lock = lock;
		cfg.flags = flags;
		EXPECT_EQ(0, rtheap_init(&h, mem.data(), size, &cfg));
	}
	~Heap() { rtheap_destroy(&h, nullptr, nullptr); }
	size_t live()
	{
		struct rtheap_stats st;
		EXPECT_EQ(0, rtheap_get_stats(&h, &st));
		return st.live_blocks;
	}
	size_t errors()
	{
		struct rtheap_stats st;
		EXPECT_EQ(0, rtheap_get_stats(&h, &st));
		return st.errors;
	}
	void check()
	{
		struct rtheap_fault f;
		EXPECT_EQ(0, rtheap_check(&h, &f)) << (f.what ? f.what : "");
	}
};

struct rtheap_rcu_stats stats_of(rtheap_t *h)
{
	struct rtheap_rcu_stats st;
	memset(&st, 0xff, sizeof st);
	EXPECT_EQ(0, rtheap_rcu_get_stats(h, &st));
	return st;
}

// queued == released + errors + pending, at any quiet moment
void expect_add_up(const struct rtheap_rcu_stats &st)
{
	EXPECT_EQ(st.queued, st.released + st.errors + st.pending);
	EXPECT_LE(st.pending, st.max_pending);
}

} // namespace

#if !defined(RCU_TEST_THREADS)

namespace {

// A grace period the test controls: the reclaimer enters it, the test sees
// that, and opens it when it wants the batch released.
struct Gate {
	std::mutex m;
	std::condition_variable cv;
	bool open = true;
	int entered = 0, returned = 0;
};
Gate gate;

void gated_synchronize()
{
	std::unique_lock<std::mutex> l(gate.m);
	gate.entered++;
	gate.cv.notify_all();
	gate.cv.wait(l, [] { return gate.open; });
	gate.returned++;
	gate.cv.notify_all();
}

void gate_close()
{
	std::lock_guard<std::mutex> l(gate.m);
	gate.open = false;
	gate.entered = gate.returned = 0;
}

void gate_wait_entered(int n)
{
	std::unique_lock<std::mutex> l(gate.m);
	gate.cv.wait(l, [n] { return gate.entered >= n; });
}

void gate_open()
{
	std::lock_guard<std::mutex> l(gate.m);
	gate.open = true;
	gate.cv.notify_all();
}

struct rtheap_rcu_config gated(unsigned period_us = 1000)
{
	struct rtheap_rcu_config c = {};
	c.synchronize = gated_synchronize;
	c.period_us = period_us;
	return c;
}

struct Errs {
	int count[8] = {};
	const void *last = nullptr;
};
void on_error(rtheap_t *, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	auto *e = static_cast<Errs *>(arg);
	e->count[kind & 7]++;
	e->last = addr;
}

} // namespace

TEST(Rcu, StartErrors)
{
	Heap a;
	EXPECT_EQ(-EINVAL, rtheap_rcu_start(nullptr, nullptr));
	Heap nolock(0, RTHEAP_LOCK_NONE);
	EXPECT_EQ(-EINVAL, rtheap_rcu_start(&nolock.h, nullptr)); // the reclaimer needs a lock
	struct rtheap_rcu_config c = {};
	c.period_us = 1000001;
	EXPECT_EQ(-EINVAL, rtheap_rcu_start(&a.h, &c));
	EXPECT_EQ(-ENODEV, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(-ENODEV, rtheap_rcu_barrier(&a.h));
	struct rtheap_rcu_stats st;
	EXPECT_EQ(-ENODEV, rtheap_rcu_get_stats(&a.h, &st));
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	EXPECT_EQ(-EBUSY, rtheap_rcu_start(&a.h, nullptr)); // started twice
	EXPECT_EQ(-EINVAL, rtheap_rcu_get_stats(&a.h, nullptr));
	EXPECT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(-ENODEV, rtheap_rcu_stop(&a.h));
	// started again after a stop
	EXPECT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	EXPECT_EQ(0, rtheap_rcu_stop(&a.h));
}

TEST(Rcu, TableFull)
{
	std::vector<std::unique_ptr<Heap>> heaps;
	for (int i = 0; i <= RTHEAP_RCU_MAX_HEAPS; i++)
		heaps.emplace_back(new Heap(0, RTHEAP_LOCK_SPIN, 64 * 1024));
	for (int i = 0; i < RTHEAP_RCU_MAX_HEAPS; i++)
		ASSERT_EQ(0, rtheap_rcu_start(&heaps[i]->h, nullptr)) << i;
	EXPECT_EQ(-ENOSPC, rtheap_rcu_start(&heaps.back()->h, nullptr));
	// a slot freed by a stop is taken again
	ASSERT_EQ(0, rtheap_rcu_stop(&heaps[3]->h));
	EXPECT_EQ(0, rtheap_rcu_start(&heaps.back()->h, nullptr));
	void *p = rtheap_alloc(&heaps.back()->h, 40);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(-ENODEV, rtheap_free_rcu(&heaps[3]->h, p)); // not its heap
	EXPECT_EQ(0, rtheap_free_rcu(&heaps.back()->h, p));
	EXPECT_EQ(0, rtheap_rcu_stop(&heaps.back()->h));
	EXPECT_EQ(-EINVAL, rtheap_check_block(&heaps.back()->h, p));
	for (int i = 0; i < RTHEAP_RCU_MAX_HEAPS; i++)
		if (i != 3) {
			EXPECT_EQ(0, rtheap_rcu_stop(&heaps[i]->h));
		}
}

TEST(Rcu, FreeWithoutStart)
{
	Heap a;
	void *p = rtheap_alloc(&a.h, 100);
	ASSERT_NE(nullptr, p);
	struct rtheap_rcu_head head;
	EXPECT_EQ(-ENODEV, rtheap_free_rcu(&a.h, p));
	EXPECT_EQ(-ENODEV, rtheap_free_rcu_head(&a.h, p, &head));
	EXPECT_EQ(-ENODEV, rtheap_free_rcu(nullptr, p));
	EXPECT_EQ(-ENODEV, rtheap_free_rcu_head(nullptr, p, &head));
	EXPECT_EQ(0, rtheap_check_block(&a.h, p)); // untouched
	EXPECT_EQ(1u, a.live());
	EXPECT_EQ(0, rtheap_free(&a.h, p));
}

TEST(Rcu, BadPointersQueueNothing)
{
	Heap a, b;
	Errs e;
	ASSERT_EQ(0, rtheap_set_error_handler(&a.h, on_error, &e));
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	char *p = static_cast<char *>(rtheap_alloc(&a.h, 100));
	void *freed = rtheap_alloc(&a.h, 100);
	void *other = rtheap_alloc(&b.h, 100); // another heap's block
	ASSERT_TRUE(p && freed && other);
	ASSERT_EQ(0, rtheap_free(&a.h, freed));
	const size_t live = a.live(), errs = a.errors();
	EXPECT_EQ(0, rtheap_free_rcu(&a.h, nullptr)); // as rtheap_free(NULL)
	EXPECT_EQ(0, rtheap_free_rcu_head(&a.h, nullptr, nullptr));
	EXPECT_EQ(-EFAULT, rtheap_free_rcu(&a.h, other));
	EXPECT_EQ(1, e.count[RTHEAP_ERR_FOREIGN]);
	EXPECT_EQ(-EINVAL, rtheap_free_rcu(&a.h, p + 16)); // interior
	EXPECT_EQ(-EINVAL, rtheap_free_rcu(&a.h, freed));  // already free
	EXPECT_EQ(2, e.count[RTHEAP_ERR_NOT_BLOCK]);
	struct rtheap_rcu_head h;
	EXPECT_EQ(-EFAULT, rtheap_free_rcu_head(&a.h, other, &h));
	EXPECT_EQ(-EINVAL, rtheap_free_rcu_head(&a.h, freed, &h));
	EXPECT_EQ(errs + 5, a.errors());
	EXPECT_EQ(live, a.live()); // no node taken
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	struct rtheap_rcu_stats st = stats_of(&a.h);
	EXPECT_EQ(0u, st.queued);
	EXPECT_EQ(5u, st.refused);
	EXPECT_EQ(0, rtheap_check_block(&a.h, p));
	EXPECT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(0, rtheap_check_block(&a.h, p)); // never queued: still live
	a.check();
}

TEST(Rcu, HeadMustLieInTheBlock)
{
	Heap a;
	Errs e;
	ASSERT_EQ(0, rtheap_set_error_handler(&a.h, on_error, &e));
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	char *p = static_cast<char *>(rtheap_alloc(&a.h, 64));
	ASSERT_NE(nullptr, p);
	const size_t usable = rtheap_usable_size(&a.h, p);
	struct rtheap_rcu_head outside;
	EXPECT_EQ(-EINVAL, rtheap_free_rcu_head(&a.h, p, nullptr));
	EXPECT_EQ(-EINVAL, rtheap_free_rcu_head(&a.h, p, &outside));
	auto *misaligned = reinterpret_cast<struct rtheap_rcu_head *>(p + 4);
	EXPECT_EQ(-EINVAL, rtheap_free_rcu_head(&a.h, p, misaligned));
	// the last word of the block and past it
	auto *tail = reinterpret_cast<struct rtheap_rcu_head *>(p + usable - sizeof(void *));
	EXPECT_EQ(-EINVAL, rtheap_free_rcu_head(&a.h, p, tail));
	EXPECT_EQ(4, e.count[RTHEAP_ERR_NOT_BLOCK]);
	EXPECT_EQ(0u, stats_of(&a.h).queued);
	EXPECT_EQ(4u, stats_of(&a.h).refused);
	// the last head that fits is taken
	auto *last = reinterpret_cast<struct rtheap_rcu_head *>(p + usable - sizeof(struct rtheap_rcu_head));
	EXPECT_EQ(0, rtheap_free_rcu_head(&a.h, p, last));
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(-EINVAL, rtheap_check_block(&a.h, p));
	EXPECT_EQ(0u, a.live());
	a.check();
}

// The block stays allocated, intact, until the grace period has ended.
TEST(Rcu, ReleasedOnlyAfterTheGracePeriod)
{
	Heap a;
	gate_close();
	struct rtheap_rcu_config c = gated();
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&a.h, 200));
	ASSERT_NE(nullptr, p);
	memset(p, 0x5a, 200);
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, p));
	gate_wait_entered(1); // the reclaimer took the batch, waits for readers
	EXPECT_EQ(0, rtheap_check_block(&a.h, p));
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(0x5a, p[i]) << i;
	EXPECT_EQ(1u, stats_of(&a.h).pending);
	gate_open();
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	EXPECT_EQ(-EINVAL, rtheap_check_block(&a.h, p));
	EXPECT_EQ(0u, a.live()); // the block and its node
	struct rtheap_rcu_stats st = stats_of(&a.h);
	EXPECT_EQ(1u, st.queued);
	EXPECT_EQ(1u, st.released);
	EXPECT_EQ(0u, st.pending);
	EXPECT_GE(st.grace_periods, 1u);
	expect_add_up(st);
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
}

// One grace period per batch; the barrier waits for all; counters add up.
TEST(Rcu, BatchAndBarrier)
{
	Heap a;
	gate_close();
	struct rtheap_rcu_config c = gated();
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	const size_t base = a.live();
	void *first = rtheap_alloc(&a.h, 24);
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, first));
	gate_wait_entered(1);
	// while the reclaimer waits, 100 more: the next batch
	struct Obj {
		long data[5];
		struct rtheap_rcu_head head;
	};
	for (int i = 0; i < 100; i++) {
		auto *o = static_cast<Obj *>(rtheap_alloc(&a.h, sizeof(Obj)));
		ASSERT_NE(nullptr, o);
		if (i % 2)
			ASSERT_EQ(0, rtheap_free_rcu(&a.h, o));
		else
			ASSERT_EQ(0, rtheap_free_rcu_head(&a.h, o, &o->head));
	}
	EXPECT_EQ(101u, stats_of(&a.h).pending);
	std::atomic<bool> done{false};
	std::thread barrier([&] {
		EXPECT_EQ(0, rtheap_rcu_barrier(&a.h));
		done = true;
	});
	gate_wait_entered(1);
	EXPECT_FALSE(done.load()); // the gate is closed: nothing released yet
	gate_open();
	barrier.join();
	EXPECT_EQ(base, a.live()); // everything queued before the barrier
	struct rtheap_rcu_stats st = stats_of(&a.h);
	EXPECT_EQ(101u, st.queued);
	EXPECT_EQ(101u, st.released);
	EXPECT_EQ(0u, st.errors);
	EXPECT_EQ(0u, st.pending);
	EXPECT_EQ(101u, st.max_pending); // all were pending when batch 1 ended
	EXPECT_EQ(100u, st.batches_max); // batch 2: one grace period for 100
	EXPECT_GE(st.grace_periods, 2u);
	EXPECT_LE(st.grace_periods, 4u); // not one per block
	expect_add_up(st);
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	a.check();
}

// Stop releases what is pending, even if the reclaimer sleeps for a second.
TEST(Rcu, StopReleasesPending)
{
	Heap a(RTHEAP_F_DEBUG_FILL, RTHEAP_LOCK_SPIN);
	struct rtheap_rcu_config c = {};
	c.period_us = 1000000;
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(0, rtheap_free_rcu(&a.h, rtheap_alloc(&a.h, 16u + 8u * (unsigned)i)));
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(0u, a.live());
	a.check();
	void *p = rtheap_alloc(&a.h, 8);
	EXPECT_EQ(-ENODEV, rtheap_free_rcu(&a.h, p)); // stopped
	EXPECT_EQ(0, rtheap_check_block(&a.h, p));
}

// A block queued twice is released once; the second release is refused by
// the heap (double release), counted and reported.
TEST(Rcu, DoubleReleaseRefusedOnce)
{
	Heap a;
	Errs e;
	ASSERT_EQ(0, rtheap_set_error_handler(&a.h, on_error, &e));
	gate_close();
	struct rtheap_rcu_config c = gated();
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	void *keep = rtheap_alloc(&a.h, 24);
	void *first = rtheap_alloc(&a.h, 24);
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, first));
	gate_wait_entered(1); // batch 1 is held: the next two share batch 2
	void *p = rtheap_alloc(&a.h, 300);
	ASSERT_NE(nullptr, p);
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, p));
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, p)); // still live: accepted
	const size_t errs = a.errors();
	gate_open();
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	struct rtheap_rcu_stats st = stats_of(&a.h);
	EXPECT_EQ(3u, st.queued);
	EXPECT_EQ(2u, st.released);
	EXPECT_EQ(1u, st.errors);
	expect_add_up(st);
	EXPECT_EQ(errs + 1, a.errors());
	EXPECT_EQ(1, e.count[RTHEAP_ERR_DOUBLE_FREE]); // a freed bucket block
	EXPECT_EQ(p, e.last);
	EXPECT_EQ(1u, a.live()); // keep only: blocks and nodes all released once
	EXPECT_EQ(0, rtheap_check_block(&a.h, keep));
	a.check();
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
}

// No room for a node: -ENOMEM, nothing changes; the head variant still works.
TEST(Rcu, NoMemoryForTheNode)
{
	Heap a(0, RTHEAP_LOCK_PI_MUTEX, 64 * 1024);
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	struct Obj {
		struct rtheap_rcu_head head;
		char data[16];
	};
	auto *o = static_cast<Obj *>(rtheap_alloc(&a.h, sizeof(Obj)));
	ASSERT_NE(nullptr, o);
	std::vector<void *> fill;
	for (void *q; (q = rtheap_alloc(&a.h, 16)) != nullptr;)
		fill.push_back(q);
	const size_t live = a.live();
	EXPECT_EQ(-ENOMEM, rtheap_free_rcu(&a.h, o));
	EXPECT_EQ(live, a.live());
	EXPECT_EQ(1u, stats_of(&a.h).nomem);
	EXPECT_EQ(0u, stats_of(&a.h).queued);
	EXPECT_EQ(0, rtheap_free_rcu_head(&a.h, o, &o->head)); // no allocation
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	EXPECT_EQ(live - 1, a.live());
	EXPECT_EQ(-EINVAL, rtheap_check_block(&a.h, o));
	for (void *q : fill)
		ASSERT_EQ(0, rtheap_free(&a.h, q));
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(0u, a.live());
}

// The default flavour (memb): a reader inside its critical section holds
// the release back; the grace period ends when it leaves.
namespace {
std::atomic<int> memb_entered{0}, memb_returned{0};
void counted_memb_synchronize()
{
	memb_entered++;
	urcu_memb_synchronize_rcu();
	memb_returned++;
}
} // namespace

TEST(Rcu, MembReaderHoldsTheRelease)
{
	Heap a;
	struct rtheap_rcu_config c = {};
	c.synchronize = counted_memb_synchronize;
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	void *p = rtheap_alloc(&a.h, 64);
	ASSERT_NE(nullptr, p);
	std::mutex m;
	std::condition_variable cv;
	int phase = 0; // 1: reader inside; 2: reader may leave
	std::thread reader([&] {
		urcu_memb_register_thread();
		urcu_memb_read_lock();
		{
			std::unique_lock<std::mutex> l(m);
			phase = 1;
			cv.notify_all();
			cv.wait(l, [&] { return phase == 2; });
		}
		urcu_memb_read_unlock();
		urcu_memb_unregister_thread();
	});
	{
		std::unique_lock<std::mutex> l(m);
		cv.wait(l, [&] { return phase == 1; });
	}
	const int before = memb_returned.load();
	ASSERT_EQ(0, rtheap_free_rcu(&a.h, p));
	while (memb_entered.load() <= before)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	// the reader is still inside: no grace period can have ended since
	EXPECT_EQ(before, memb_returned.load());
	EXPECT_EQ(0, rtheap_check_block(&a.h, p));
	{
		std::lock_guard<std::mutex> l(m);
		phase = 2;
		cv.notify_all();
	}
	reader.join();
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	EXPECT_EQ(-EINVAL, rtheap_check_block(&a.h, p));
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(0u, a.live());
}

#else // RCU_TEST_THREADS

namespace {

constexpr uint64_t kCanary = 0x6a09e667f3bcc908ull;
constexpr int kReaders = 3, kWriters = 2, kSlots = 16;
#if defined(__SANITIZE_THREAD__)
constexpr int kRounds = 3000; // per writer
#else
constexpr int kRounds = 30000;
#endif

struct Obj {
	uint64_t canary;
	uint64_t value; // value == ~canary2 check below
	uint64_t canary2;
	struct rtheap_rcu_head head; // readers never touch it
	unsigned char payload[40];
};

std::atomic<Obj *> slots[kSlots];
// Each reader's count of finished critical sections, stored with release
// just before rcu_read_unlock: the synchronize below loads them with
// acquire after the grace period, which makes the grace period visible
// to ThreadSanitizer (liburcu is not instrumented: without this, TSan
// would see the reclaimer's debug fill race with the readers' reads).
std::atomic<unsigned long> reader_done[kReaders];

void tsan_visible_synchronize()
{
	urcu_memb_synchronize_rcu();
	for (auto &d : reader_done)
		(void)d.load(std::memory_order_acquire);
}

bool obj_ok(const Obj *o)
{
	if (o->canary != kCanary || o->canary2 != (kCanary ^ o->value))
		return false;
	for (unsigned char b : o->payload)
		if (b != static_cast<unsigned char>(o->value))
			return false;
	return true;
}

Obj *obj_new(rtheap_t *h, uint64_t v)
{
	auto *o = static_cast<Obj *>(rtheap_alloc(h, sizeof(Obj)));
	if (!o)
		return nullptr;
	o->canary = kCanary;
	o->value = v;
	o->canary2 = kCanary ^ v;
	memset(o->payload, static_cast<int>(v & 0xff), sizeof o->payload);
	return o;
}

} // namespace

// Readers under rcu_read_lock read objects while writers replace them and
// release the old ones with rtheap_free_rcu*: a reader never sees a freed
// object (the heap's debug fill would break the canaries), nothing is lost
// or released twice.
TEST(RcuThreads, ReadersNeverSeeFreedMemory)
{
	Heap a(RTHEAP_F_DEBUG_FILL, RTHEAP_LOCK_PI_MUTEX, 4 << 20);
	struct rtheap_rcu_config c = {};
	c.synchronize = tsan_visible_synchronize;
	c.period_us = 200;
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, &c));
	for (int i = 0; i < kSlots; i++)
		slots[i].store(obj_new(&a.h, static_cast<uint64_t>(i)), std::memory_order_release);
	std::atomic<bool> stop{false};
	std::atomic<unsigned long> bad{0}, reads{0};
	std::vector<std::thread> th;
	for (int r = 0; r < kReaders; r++)
		th.emplace_back([&, r] {
			urcu_memb_register_thread();
			unsigned long n = 0, k = static_cast<unsigned long>(r);
			while (!stop.load(std::memory_order_relaxed)) {
				urcu_memb_read_lock();
				for (int i = 0; i < kSlots; i++) {
					const Obj *o = slots[(k + i) % kSlots].load(std::memory_order_acquire);
					if (!obj_ok(o))
						bad++;
				}
				reader_done[r].store(++n, std::memory_order_release);
				urcu_memb_read_unlock();
				k++;
			}
			reads += n;
			urcu_memb_unregister_thread();
		});
	std::atomic<unsigned long> failed{0}, waits{0};
	std::vector<std::thread> writers;
	for (int w = 0; w < kWriters; w++)
		writers.emplace_back([&, w] {
			for (int i = 0; i < kRounds; i++) {
				Obj *o = obj_new(&a.h, static_cast<uint64_t>(w * kRounds + i));
				// Writers outrun grace periods here: when the heap is
				// full of pending blocks, wait for them (not RT) and retry.
				for (int retry = 0; !o && retry < 100; retry++) {
					waits++;
					EXPECT_EQ(0, rtheap_rcu_barrier(&a.h));
					o = obj_new(&a.h, static_cast<uint64_t>(w * kRounds + i));
				}
				if (!o) {
					if (failed++ == 0)
						fprintf(stderr, "writer %d round %d: no memory\n", w, i);
					continue;
				}
				Obj *old = slots[(w + i * 7) % kSlots].exchange(o, std::memory_order_acq_rel);
				int err = (i % 2) ? rtheap_free_rcu(&a.h, old)
				                  : rtheap_free_rcu_head(&a.h, old, &old->head);
				if (err && failed++ == 0)
					fprintf(stderr, "writer %d round %d: error %d\n", w, i, err);
			}
		});
	for (auto &t : writers)
		t.join();
	stop = true;
	for (auto &t : th)
		t.join();
	{
		struct rtheap_rcu_stats st = stats_of(&a.h);
		fprintf(stderr, "queued %lu released %lu gps %lu max_pending %lu batch_max %lu reads %lu waits %lu\n",
		        (unsigned long)st.queued, (unsigned long)st.released,
		        (unsigned long)st.grace_periods, (unsigned long)st.max_pending,
		        (unsigned long)st.batches_max, reads.load(), waits.load());
	}
	EXPECT_EQ(0u, bad.load());
	EXPECT_EQ(0u, failed.load());
	EXPECT_GT(reads.load(), 0u);
	for (auto &s : slots) {
		ASSERT_EQ(0, rtheap_free_rcu(&a.h, s.exchange(nullptr)));
	}
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	EXPECT_EQ(0u, a.live()); // nothing lost
	a.check();
	EXPECT_EQ(0u, a.errors()); // nothing released twice
}

// Stats read while threads queue: they add up once all is quiet, and the
// barrier from several threads at once returns for each.
TEST(RcuThreads, ConcurrentBarriers)
{
	Heap a(RTHEAP_F_DEBUG_FILL, RTHEAP_LOCK_SPIN, 2 << 20);
	ASSERT_EQ(0, rtheap_rcu_start(&a.h, nullptr));
	std::vector<std::thread> th;
	for (int t = 0; t < 4; t++)
		th.emplace_back([&] {
			for (int i = 0; i < 500; i++) {
				void *p = rtheap_alloc(&a.h, 32u + static_cast<unsigned>(i % 200));
				ASSERT_NE(nullptr, p);
				ASSERT_EQ(0, rtheap_free_rcu(&a.h, p));
				if (i % 100 == 99) {
					ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
				}
				struct rtheap_rcu_stats st;
				ASSERT_EQ(0, rtheap_rcu_get_stats(&a.h, &st));
			}
		});
	for (auto &t : th)
		t.join();
	ASSERT_EQ(0, rtheap_rcu_barrier(&a.h));
	struct rtheap_rcu_stats st = stats_of(&a.h);
	EXPECT_EQ(2000u, st.queued);
	EXPECT_EQ(2000u, st.released);
	EXPECT_EQ(0u, st.pending);
	expect_add_up(st);
	EXPECT_EQ(0u, a.live());
	ASSERT_EQ(0, rtheap_rcu_stop(&a.h));
	a.check();
}

#endif // RCU_TEST_THREADS
