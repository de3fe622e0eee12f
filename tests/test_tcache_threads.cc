/* SPDX-License-Identifier: MIT */
// Per-thread caches (rtheap/tcache.h) under threads, more threads than
// cores (label concurrency: the ThreadSanitizer build runs it too):
//  - producer / consumers: one thread allocates, N others release (the
//    remote-release path through the depot): every block is handed out to
//    one owner at a time (a stamp over the whole block), nothing is lost,
//    the statistics add up and rtheap_check() passes;
//  - a random mix in many threads exchanging blocks, with a statistics
//    reader running meanwhile; thread exits give everything back;
//  - both lock modes of the heap that allow threads.
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "rtheap/tcache.h"
#include "test_common.h"

using rtt::heap_ok;
using rtt::stats;

namespace {

#if RTHEAP_TEST_SANITIZED
constexpr int kScale = 1;
#else
constexpr int kScale = 4;
#endif

struct Fixture {
	explicit Fixture(rtheap_lock_mode_t lock, size_t bytes = 16u << 20)
	    : map(RTHEAP_BUFFER_SIZE(bytes, 256))
	{
		rtheap_config cfg = rtt::config(256, lock);
		EXPECT_EQ(0, rtheap_init(&h, map.data(), map.size(), &cfg));
		initial = stats(&h);
	}
	~Fixture()
	{
		EXPECT_TRUE(heap_ok(&h));
		rtheap_destroy(&h, nullptr, nullptr);
	}
	rtt::Mapping map;
	rtheap_t h{};
	rtheap_stats initial;
};

rttcache_t *make(rtheap_t *h, size_t max_size, unsigned batch, unsigned depot)
{
	rttcache_config cfg;
	std::memset(&cfg, 0, sizeof cfg);
	cfg.max_size = max_size;
	cfg.batch = batch;
	cfg.depot = depot;
	return rttcache_create(h, &cfg);
}

// A block's owner writes its stamp over the whole block; the next owner
// finds it intact (no one else held the block meanwhile).
void stamp(void *p, size_t n, uint64_t v)
{
	uint64_t *w = static_cast<uint64_t *>(p);
	for (size_t i = 0; i < n / 8; i++)
		w[i] = v;
}

bool stamped(const void *p, size_t n, uint64_t v)
{
	const uint64_t *w = static_cast<const uint64_t *>(p);
	for (size_t i = 0; i < n / 8; i++)
		if (w[i] != v)
			return false;
	return true;
}

size_t class_bytes(size_t req)
{
	size_t c = 16;
	while (c < req)
		c <<= 1;
	return c;
}

struct Msg {
	void *p;
	size_t n;
	uint64_t v;
};

// One channel per consumer: a mutex and a condition variable (the test's
// own synchronisation; the cache under test has none on its fast paths).
struct Channel {
	std::mutex m;
	std::condition_variable cv;
	std::deque<Msg> q;
	bool done = false;
};

void producer_consumers(rtheap_lock_mode_t lock)
{
	Fixture fx(lock);
	rttcache_t *tc = make(&fx.h, 2048, 8, 4);
	ASSERT_NE(nullptr, tc);
	const unsigned consumers = 5; // + the producer: 6 threads on 2 cores
	const int per = 3000 * kScale;
	// In flight (allocated, not yet released) at most kInFlight blocks:
	// consumers starved on a loaded machine make the producer wait instead
	// of exhausting the heap. Worst case held: kInFlight x 2048 B in flight
	// + 6 threads' bins (8 classes x 2 x batch x 2048 B) + the depot
	// (8 classes x depot x batch x 2048 B) = 2 + 1.5 + 0.5 MiB of 16 MiB.
	constexpr long kInFlight = 1024;
	std::vector<Channel> ch(consumers);
	std::atomic<long> released{0}, bad{0}, inflight{0};
	std::vector<std::thread> th;
	for (unsigned k = 0; k < consumers; k++)
		th.emplace_back([&, k] {
			Channel &c = ch[k];
			for (;;) {
				std::unique_lock<std::mutex> lk(c.m);
				c.cv.wait(lk, [&] { return c.done || !c.q.empty(); });
				if (c.q.empty())
					break;
				Msg m = c.q.front();
				c.q.pop_front();
				lk.unlock();
				if (!stamped(m.p, m.n, m.v))
					bad++;
				if (rttcache_free(tc, m.p))
					bad++;
				released++;
				inflight.fetch_sub(1);
			}
		});
	std::mt19937 rng(12);
	uint64_t serial = 1;
	for (int i = 0; i < per * (int)consumers; i++) {
		// bounded: each consumer ends every pass of its loop with a
		// release, so the count falls while the producer yields
		while (inflight.load() >= kInFlight)
			std::this_thread::yield();
		size_t req = 1 + rng() % 2048;
		void *p = rttcache_alloc(tc, req);
		ASSERT_NE(nullptr, p);
		size_t n = class_bytes(req);
		uint64_t v = serial++ * 0x9e3779b97f4a7c15ull;
		stamp(p, n, v);
		inflight.fetch_add(1);
		Channel &c = ch[(unsigned)i % consumers];
		{
			std::lock_guard<std::mutex> lk(c.m);
			c.q.push_back({p, n, v});
		}
		c.cv.notify_one();
	}
	for (auto &c : ch) {
		std::lock_guard<std::mutex> lk(c.m);
		c.done = true;
		c.cv.notify_one();
	}
	for (auto &t : th)
		t.join();
	EXPECT_EQ(0, bad.load());
	EXPECT_EQ((long)per * (long)consumers, released.load());
	rttcache_stats st;
	ASSERT_EQ(0, rttcache_get_stats(tc, &st));
	EXPECT_EQ(1u, st.threads) << "the consumers' states went back at exit";
	EXPECT_EQ(consumers, st.thread_exits);
	EXPECT_GT(st.depot_gets, 0u) << "the producer refilled from the consumers' magazines";
	EXPECT_GT(st.depot_puts, 0u);
	EXPECT_EQ(0u, st.errors);
	EXPECT_LE(st.depot_magazines, (size_t)RTTCACHE_NR_CLASSES * 4);
	// what is cached is exactly what the heap counts beyond the start:
	// cached blocks + the producer's state + the descriptor
	rtheap_stats hs = stats(&fx.h);
	EXPECT_EQ(fx.initial.live_blocks + st.cached_blocks + 2, hs.live_blocks);
	size_t bytes = 0;
	for (unsigned c = 0; c < RTTCACHE_NR_CLASSES; c++)
		bytes += st.class_cached[c] * ((size_t)16 << c);
	EXPECT_EQ(bytes, st.cached_bytes);
	EXPECT_TRUE(heap_ok(&fx.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	rtheap_stats end = stats(&fx.h);
	EXPECT_EQ(fx.initial.live_blocks, end.live_blocks);
	EXPECT_EQ(fx.initial.free, end.free);
}

TEST(TCacheThreads, ProducerConsumersPiMutex)
{
	producer_consumers(RTHEAP_LOCK_PI_MUTEX);
}

TEST(TCacheThreads, ProducerConsumersSpin)
{
	producer_consumers(RTHEAP_LOCK_SPIN);
}

// Many threads: random sizes, random releases, half of the blocks handed
// to the next thread through a small shared exchange; a reader polls the
// statistics meanwhile.
TEST(TCacheThreads, RandomMixWithExchangesAndExits)
{
	Fixture fx(RTHEAP_LOCK_PI_MUTEX, 32u << 20);
	rttcache_t *tc = make(&fx.h, 1024, 4, 2);
	ASSERT_NE(nullptr, tc);
	const unsigned nth = 6;
	std::mutex xm;
	std::vector<Msg> exchange;
	std::atomic<bool> stop{false};
	std::atomic<long> bad{0};
	std::thread reader([&] {
		while (!stop.load()) {
			rttcache_stats st;
			if (rttcache_get_stats(tc, &st) || st.cached_blocks != st.thread_blocks + st.depot_blocks)
				bad++;
			std::this_thread::yield();
		}
	});
	std::vector<std::thread> th;
	for (unsigned k = 0; k < nth; k++)
		th.emplace_back([&, k] {
			std::mt19937 rng(100 + k);
			std::vector<Msg> mine;
			for (int i = 0; i < 4000 * kScale; i++) {
				unsigned r = rng() % 8;
				if (r < 3 || mine.empty()) { // as many allocations as releases
					size_t req = 1 + rng() % 1500;
					void *p = rttcache_alloc(tc, req);
					if (!p) {
						bad++;
						continue;
					}
					uint64_t v = ((uint64_t)k << 40) | (uint64_t)i;
					stamp(p, class_bytes(req) > 1024 ? 1024 : class_bytes(req), v);
					mine.push_back({p, class_bytes(req) > 1024 ? 1024 : class_bytes(req), v});
				} else if (r < 6) { // r in 3..5
					size_t j = rng() % mine.size();
					Msg m = mine[j];
					mine[j] = mine.back();
					mine.pop_back();
					if (!stamped(m.p, m.n, m.v))
						bad++;
					if (rttcache_free(tc, m.p))
						bad++;
				} else if (r == 6) {
					std::lock_guard<std::mutex> lk(xm);
					exchange.push_back(mine.back());
					mine.pop_back();
				} else {
					std::lock_guard<std::mutex> lk(xm);
					if (!exchange.empty()) {
						mine.push_back(exchange.back());
						exchange.pop_back();
					}
				}
			}
			for (Msg &m : mine) {
				if (!stamped(m.p, m.n, m.v))
					bad++;
				if (rttcache_free(tc, m.p))
					bad++;
			}
		});
	for (auto &t : th)
		t.join();
	stop = true;
	reader.join();
	for (Msg &m : exchange)
		if (!stamped(m.p, m.n, m.v) || rttcache_free(tc, m.p))
			bad++;
	EXPECT_EQ(0, bad.load());
	rttcache_stats st;
	ASSERT_EQ(0, rttcache_get_stats(tc, &st));
	EXPECT_EQ(nth, st.thread_exits);
	EXPECT_EQ(1u, st.threads); // this thread (the exchange's leftovers)
	EXPECT_EQ(st.cached_blocks, st.depot_blocks + st.thread_blocks);
	rtheap_stats hs = stats(&fx.h);
	EXPECT_EQ(fx.initial.live_blocks + st.cached_blocks + 2, hs.live_blocks);
	EXPECT_TRUE(heap_ok(&fx.h));
	EXPECT_EQ(0, rttcache_destroy(tc));
	EXPECT_EQ(fx.initial.free, stats(&fx.h).free);
}

// Two caches on one heap, used by the same threads at once, each thread
// with its own state in each (the per-cache slots of the thread).
TEST(TCacheThreads, TwoCachesOneHeap)
{
	Fixture fx(RTHEAP_LOCK_SPIN);
	rttcache_t *a = make(&fx.h, 512, 8, 2), *b = make(&fx.h, 256, 2, 1);
	ASSERT_TRUE(a && b);
	std::atomic<long> bad{0};
	std::vector<std::thread> th;
	for (unsigned k = 0; k < 4; k++)
		th.emplace_back([&, k] {
			std::vector<void *> va, vb;
			for (int i = 0; i < 2000 * kScale; i++) {
				va.push_back(rttcache_alloc(a, 8 + (size_t)(i + k) % 500));
				vb.push_back(rttcache_alloc(b, 8 + (size_t)(i * 7 + k) % 250));
				if (!va.back() || !vb.back())
					bad++;
				if (va.size() > 40) {
					// released into the other cache: still any heap block
					if (rttcache_free(b, va.front()) || rttcache_free(a, vb.front()))
						bad++;
					va.erase(va.begin());
					vb.erase(vb.begin());
				}
			}
			for (void *p : va)
				bad += rttcache_free(a, p) != 0;
			for (void *p : vb)
				bad += rttcache_free(b, p) != 0;
		});
	for (auto &t : th)
		t.join();
	EXPECT_EQ(0, bad.load());
	EXPECT_TRUE(heap_ok(&fx.h));
	EXPECT_EQ(0, rttcache_destroy(a));
	EXPECT_EQ(0, rttcache_destroy(b));
	EXPECT_EQ(fx.initial.free, stats(&fx.h).free);
	EXPECT_EQ(fx.initial.live_blocks, stats(&fx.h).live_blocks);
}

} // namespace
