/* SPDX-License-Identifier: MIT */
// Multi-threaded stress of the heap with its layers on liburcu: more
// threads than CPUs allocate through a per-thread cache (rtheap/tcache.h)
// and through rtheap_alloc, release their own blocks, release blocks made
// by other threads (handed over through shared slots), and retire
// published objects with rtheap_free_rcu (rtheap/rcu.h) while reader
// threads read them under urcu-memb's read lock.  The heap has its debug
// fill: a reader that saw a released object, or a holder of a block
// released behind its back, finds the block's stamp broken.  At the end
// every block is accounted for (per allocating thread: allocated -
// released == 0), the heap is empty and consistent, and nothing was
// reported to its error callback (a double release would be).
// Registered only with liburcu, label concurrency (the TSan build runs it).
#include <urcu/urcu-memb.h>

#include <atomic>
#include <thread>

#include "rtheap/rcu.h"
#include "rtheap/tcache.h"
#include "test_common.h"

namespace {

constexpr int kWorkers = 4;  // + 2 readers + the reclaimer: 7 threads, 2 CPUs
constexpr int kReaders = 2;
constexpr int kSlots = 64;   // hand-over slots between workers
constexpr int kPub = 16;     // objects published to the readers
constexpr int kLocal = 256;  // blocks a worker holds at most
#if defined(__SANITIZE_THREAD__)
constexpr int kOps = 20000;  // per worker
#else
constexpr int kOps = 100000;
#endif
constexpr uint64_t kLive = 0x243f6a8885a308d3ull;
constexpr size_t kHeapBytes = 32u << 20;

enum How : uint32_t { VIA_CACHE = 0, VIA_HEAP = 1 };

// Every block starts with this header; the rest is a pattern of its seq.
struct Blk {
	uint64_t canary; // kLive ^ seq while the block is held; 0 once released
	uint64_t seq;
	uint32_t owner;  // allocating worker
	uint32_t size;   // requested bytes
	uint32_t how;
	uint32_t pad;
	// then size - sizeof(Blk) payload bytes
};

unsigned char *payload(Blk *b)
{
	return reinterpret_cast<unsigned char *>(b + 1);
}

const unsigned char *payload(const Blk *b)
{
	return reinterpret_cast<const unsigned char *>(b + 1);
}

unsigned char fill_of(const Blk *b)
{
	return static_cast<unsigned char>(b->seq * 131u + b->owner + 1u);
}

bool blk_ok(const Blk *b)
{
	if (b->canary != (kLive ^ b->seq) || b->size < sizeof(Blk) ||
	    b->size > 4096 || b->owner >= kWorkers)
		return false;
	const unsigned char f = fill_of(b);
	const unsigned char *p = payload(b);
	for (size_t i = 0; i < b->size - sizeof(Blk); i++)
		if (p[i] != f)
			return false;
	return true;
}

struct Shared {
	rtt::Mapping map{kHeapBytes};
	rtheap_t heap{};
	rttcache_t *tc = nullptr;
	std::atomic<Blk *> slot[kSlots]{};
	std::atomic<Blk *> pub[kPub]{};
	std::atomic<uint64_t> released_of[kWorkers]{}; // by allocating worker
	uint64_t allocated[kWorkers]{};                // written by each worker
	std::atomic<uint64_t> bad{0};        // broken stamps seen by holders
	std::atomic<uint64_t> bad_reads{0};  // broken stamps seen by readers
	std::atomic<uint64_t> failed{0};     // allocations that returned NULL
	std::atomic<uint64_t> call_errors{0}; // a release call returned non-zero
	std::atomic<uint64_t> reads{0};
	std::atomic<uint64_t> remote{0}, rcu_frees{0};
	std::atomic<bool> stop_readers{false};
	std::atomic<unsigned long> reader_done[kReaders]{};
};

Shared *g; // for the callbacks below

std::atomic<uint64_t> heap_errors{0};

void on_error(rtheap_t *, rtheap_error_kind_t, const void *, void *)
{
	heap_errors.fetch_add(1);
}

// The grace period made visible to ThreadSanitizer (liburcu is not
// instrumented): each reader stores its count of finished read sections
// with release before rcu_read_unlock, the reclaimer loads them with
// acquire after synchronize_rcu.
void tsan_visible_synchronize()
{
	urcu_memb_synchronize_rcu();
	for (auto &d : g->reader_done)
		(void)d.load(std::memory_order_acquire);
}

uint64_t rng_next(uint64_t &s)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

// 32 B .. 2 KiB: most through the cache's classes (<= 1 KiB), some above.
Blk *make(Shared &S, int me, uint64_t &rng, uint64_t seq)
{
	size_t size = sizeof(Blk) + rng_next(rng) % 2017u;
	bool cache = rng_next(rng) & 1u;
	void *p = cache ? rttcache_alloc(S.tc, size) : rtheap_alloc(&S.heap, size);
	if (p == nullptr) {
		S.failed.fetch_add(1);
		return nullptr;
	}
	auto *b = static_cast<Blk *>(p);
	b->seq = seq;
	b->owner = static_cast<uint32_t>(me);
	b->size = static_cast<uint32_t>(size);
	b->how = cache ? VIA_CACHE : VIA_HEAP;
	memset(payload(b), fill_of(b), size - sizeof(Blk));
	b->canary = kLive ^ seq;
	S.allocated[me]++;
	return b;
}

// Release a block this thread holds (its own or taken from a slot).
void release(Shared &S, Blk *b, uint64_t &rng)
{
	if (!blk_ok(b))
		S.bad.fetch_add(1);
	uint32_t owner = b->owner < kWorkers ? b->owner : 0;
	bool heap = b->how == VIA_HEAP && (rng_next(rng) & 1u);
	b->canary = 0; // a second holder of this block would see it
	int rc = heap ? rtheap_free(&S.heap, b) : rttcache_free(S.tc, b);
	if (rc != 0)
		S.call_errors.fetch_add(1);
	S.released_of[owner].fetch_add(1, std::memory_order_relaxed);
}

// Replace a published object; the old one is retired after a grace period.
void republish(Shared &S, int me, uint64_t &rng, uint64_t seq)
{
	Blk *n = make(S, me, rng, seq);
	if (n == nullptr)
		return;
	Blk *old = S.pub[rng_next(rng) % kPub].exchange(n, std::memory_order_acq_rel);
	if (old == nullptr)
		return;
	if (!blk_ok(old)) // read only: readers may be reading it
		S.bad.fetch_add(1);
	uint32_t owner = old->owner < kWorkers ? old->owner : 0;
	if (rtheap_free_rcu(&S.heap, old) != 0)
		S.call_errors.fetch_add(1);
	S.released_of[owner].fetch_add(1, std::memory_order_relaxed);
	S.rcu_frees.fetch_add(1, std::memory_order_relaxed);
}

struct Local {
	Blk *b[kLocal];
	int n = 0;
	Blk *take(uint64_t &rng)
	{
		int i = static_cast<int>(rng_next(rng) % static_cast<uint64_t>(n));
		Blk *x = b[i];
		b[i] = b[--n];
		return x;
	}
};

// Give a block of ours to a free slot, or release one found in a slot.
void exchange_with_others(Shared &S, Local &L, uint64_t &rng)
{
	auto &s = S.slot[rng_next(rng) % kSlots];
	Blk *got = s.exchange(nullptr, std::memory_order_acq_rel);
	if (got != nullptr) {
		S.remote.fetch_add(1, std::memory_order_relaxed);
		release(S, got, rng); // often made by another thread
		return;
	}
	if (L.n == 0)
		return;
	Blk *mine = L.take(rng);
	Blk *expected = nullptr;
	if (!s.compare_exchange_strong(expected, mine, std::memory_order_acq_rel))
		L.b[L.n++] = mine; // taken meanwhile: keep it
}

void worker(Shared &S, int me)
{
	ASSERT_EQ(0, rttcache_thread_init(S.tc));
	uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(me + 1);
	uint64_t seq = static_cast<uint64_t>(me) << 40;
	Local L;
	for (int op = 0; op < kOps; op++) {
		unsigned r = static_cast<unsigned>(rng_next(rng) % 100u);
		if (r < 40) {
			if (L.n == kLocal)
				release(S, L.take(rng), rng);
			Blk *b = make(S, me, rng, ++seq);
			if (b)
				L.b[L.n++] = b;
		} else if (r < 62) {
			if (L.n > 0)
				release(S, L.take(rng), rng);
		} else if (r < 94) {
			exchange_with_others(S, L, rng);
		} else {
			republish(S, me, rng, ++seq);
		}
	}
	while (L.n > 0)
		release(S, L.take(rng), rng);
	EXPECT_EQ(0, rttcache_flush(S.tc));
}

void reader(Shared &S, int me)
{
	urcu_memb_register_thread();
	uint64_t rng = 0x2545f4914f6cdd1dull * static_cast<uint64_t>(me + 1);
	unsigned long done = 0;
	uint64_t reads = 0;
	while (!S.stop_readers.load(std::memory_order_relaxed)) {
		urcu_memb_read_lock();
		for (int k = 0; k < 4; k++) {
			Blk *b = S.pub[rng_next(rng) % kPub].load(std::memory_order_acquire);
			if (b != nullptr && !blk_ok(b))
				S.bad_reads.fetch_add(1);
			reads++;
		}
		S.reader_done[me].store(++done, std::memory_order_release);
		urcu_memb_read_unlock();
		if ((done & 7u) == 0)
			std::this_thread::yield(); // leave the CPUs to the workers too
	}
	urcu_memb_unregister_thread();
	S.reads.fetch_add(reads);
}

// After the threads: what is still in the slots and published goes, then
// the deferred releases are waited for.
void drain(Shared &S)
{
	uint64_t rng = 1;
	for (auto &s : S.slot)
		if (Blk *b = s.exchange(nullptr))
			release(S, b, rng);
	for (auto &p : S.pub) {
		Blk *b = p.exchange(nullptr);
		if (b == nullptr)
			continue;
		S.released_of[b->owner < kWorkers ? b->owner : 0].fetch_add(1);
		EXPECT_EQ(0, rtheap_free_rcu(&S.heap, b));
		S.rcu_frees.fetch_add(1);
	}
	EXPECT_EQ(0, rtheap_rcu_barrier(&S.heap));
	EXPECT_EQ(0, rttcache_flush(S.tc)); // this thread's bins
}

void setup(Shared &S)
{
	ASSERT_TRUE(S.map.ok());
	struct rtheap_config cfg = {};
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg.flags = RTHEAP_F_ZEROED | RTHEAP_F_DEBUG_FILL;
	cfg.name = "stress_mt";
	ASSERT_EQ(0, rtheap_init(&S.heap, S.map.data(), S.map.size(), &cfg));
	ASSERT_EQ(0, rtheap_set_error_handler(&S.heap, on_error, nullptr));
	struct rtheap_rcu_config rc = {};
	rc.synchronize = tsan_visible_synchronize;
	rc.period_us = 500;
	ASSERT_EQ(0, rtheap_rcu_start(&S.heap, &rc));
	struct rttcache_config tcfg = {};
	tcfg.max_size = 1024;
	tcfg.batch = 8;
	tcfg.depot = 4;
	S.tc = rttcache_create(&S.heap, &tcfg);
	ASSERT_NE(nullptr, S.tc);
}

void run_threads(Shared &S)
{
	std::vector<std::thread> readers, workers;
	for (int r = 0; r < kReaders; r++)
		readers.emplace_back(reader, std::ref(S), r);
	for (int w = 0; w < kWorkers; w++)
		workers.emplace_back(worker, std::ref(S), w);
	for (auto &t : workers)
		t.join();
	S.stop_readers.store(true);
	for (auto &t : readers)
		t.join();
}

// The caches' and the reclaimer's own counters: nothing refused, nothing
// pending, every queued block released once.
void check_layers(Shared &S)
{
	struct rttcache_stats ts = {};
	ASSERT_EQ(0, rttcache_get_stats(S.tc, &ts));
	EXPECT_EQ(0u, ts.errors);
	EXPECT_EQ(0u, ts.double_frees);
	EXPECT_EQ(0u, ts.failures);
	EXPECT_GT(ts.refills, 0u);
	EXPECT_GT(ts.flushes, 0u);
	struct rtheap_rcu_stats rs = {};
	ASSERT_EQ(0, rtheap_rcu_get_stats(&S.heap, &rs));
	EXPECT_EQ(S.rcu_frees.load(), rs.queued);
	EXPECT_EQ(rs.queued, rs.released);
	EXPECT_EQ(0u, rs.errors);
	EXPECT_EQ(0u, rs.pending);
	EXPECT_EQ(0u, rs.refused);
	EXPECT_EQ(0u, rs.nomem);
	EXPECT_EQ(0, rttcache_destroy(S.tc));
	EXPECT_EQ(0, rtheap_rcu_stop(&S.heap));
}

} // namespace

TEST(StressMt, CachesRemoteAndRcuReleasesLoseNothing)
{
	auto S = std::make_unique<Shared>();
	g = S.get();
	heap_errors.store(0);
	ASSERT_NO_FATAL_FAILURE(setup(*S));
	run_threads(*S);
	ASSERT_NO_FATAL_FAILURE(drain(*S));
	ASSERT_NO_FATAL_FAILURE(check_layers(*S));

	uint64_t total = 0;
	for (int w = 0; w < kWorkers; w++) {
		EXPECT_EQ(S->allocated[w], S->released_of[w].load()) << "worker " << w;
		total += S->allocated[w];
	}
	EXPECT_GT(total, static_cast<uint64_t>(kOps)); // the workload ran
	printf("stress_mt: %d workers x %d ops: %llu blocks, %llu released by "
	       "another thread, %llu through rtheap_free_rcu, %llu reads\n",
	       kWorkers, kOps, static_cast<unsigned long long>(total),
	       static_cast<unsigned long long>(S->remote.load()),
	       static_cast<unsigned long long>(S->rcu_frees.load()),
	       static_cast<unsigned long long>(S->reads.load()));
	EXPECT_GT(S->remote.load(), 0u);
	EXPECT_GT(S->rcu_frees.load(), 0u);
	EXPECT_GT(S->reads.load(), 0u);
	EXPECT_EQ(0u, S->bad.load()) << "held blocks with a broken stamp";
	EXPECT_EQ(0u, S->bad_reads.load()) << "readers saw a released object";
	EXPECT_EQ(0u, S->failed.load());
	EXPECT_EQ(0u, S->call_errors.load());

	struct rtheap_stats st = {};
	ASSERT_EQ(0, rtheap_get_stats(&S->heap, &st));
	EXPECT_EQ(0u, st.live_blocks);
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(0u, st.errors);
	EXPECT_EQ(0u, heap_errors.load());
	struct rtheap_fault f = {};
	EXPECT_EQ(0, rtheap_check(&S->heap, &f)) << (f.what ? f.what : "");
	EXPECT_EQ(0, rtheap_destroy(&S->heap, nullptr, nullptr));
	g = nullptr;
}
