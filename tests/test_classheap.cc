/* SPDX-License-Identifier: MIT */
// The class heap (rtheap/classheap.h): real power-of-two classes over an
// rtheap on one buffer, resize in place within the class, the notifier,
// the fall-back to malloc and the routing of every release, reference
// counted open and close, and exact errors for every bad pointer.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <cstdio>
#include <thread>
#include <vector>

#include "rtheap/classheap.h"
#include "compat_common.h"
#include "test_common.h"

namespace {

using rtt::Misuse;
using rtt::record_misuse;

constexpr size_t kBuf = 1u << 20;

// Notifier that records each size it is called with.
void record_size(size_t size, void *arg)
{
	static_cast<std::vector<size_t> *>(arg)->push_back(size);
}

rtclass_stats cstats(rtclass_t *c)
{
	rtclass_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rtclass_get_stats(c, &st));
	return st;
}

bool inside(const void *p, const void *buf, size_t size)
{
	auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(buf);
	return a >= b && a < b + size;
}

// A class heap opened over a mapping of kBuf bytes (or as the test says),
// misuse recorded, sizes of notifier calls recorded.
class ClassHeap : public ::testing::Test {
protected:
	rtt::Mapping mem_{kBuf};
	rtclass_t cls_{};
	std::vector<Misuse> misuse_;
	std::vector<size_t> notified_;

	void open(unsigned flags, void *buf, size_t size)
	{
		ASSERT_EQ(0, rtclass_open(&cls_, buf, size, flags));
		ASSERT_EQ(0, rtheap_set_error_handler(rtclass_heap(&cls_), record_misuse, &misuse_));
		ASSERT_EQ(0, rtclass_set_notifier(&cls_, record_size, &notified_));
	}
	void open(unsigned flags = 0) { open(flags, mem_.data(), kBuf); }
	void TearDown() override
	{
		if (rtclass_heap(&cls_)) {
			EXPECT_TRUE(rtt::heap_ok(rtclass_heap(&cls_)));
			while (rtclass_close(&cls_) > 0) {
			}
		}
	}
	// Allocate class blocks of @p size until the heap has none left (the
	// notifier off meanwhile: the last try may fail).
	std::vector<void *> exhaust(size_t size)
	{
		std::vector<void *> v;
		EXPECT_EQ(0, rtclass_set_notifier(&cls_, nullptr, nullptr));
		for (;;) {
			void *p = rtclass_alloc(&cls_, size);
			if (!p || !inside(p, mem_.data(), kBuf)) {
				if (p) {
					EXPECT_EQ(0, rtclass_free(&cls_, p));
				}
				break;
			}
			v.push_back(p);
		}
		EXPECT_EQ(0, rtclass_set_notifier(&cls_, record_size, &notified_));
		return v;
	}
};

// ---- classes ----

TEST(ClassOf, PowerOfTwoClassesFrom16To64K)
{
	EXPECT_EQ(0, rtclass_class_of(0));
	EXPECT_EQ(0, rtclass_class_of(1));
	EXPECT_EQ(0, rtclass_class_of(16));
	EXPECT_EQ(1, rtclass_class_of(17));
	for (int q = 0; q < RTCLASS_NR; q++) {
		const size_t s = size_t{16} << q;
		EXPECT_EQ(q, rtclass_class_of(s)) << s;
		if (q) {
			EXPECT_EQ(q, rtclass_class_of(s / 2 + 1)) << s;
		}
		if (q + 1 < RTCLASS_NR) {
			EXPECT_EQ(q + 1, rtclass_class_of(s + 1)) << s;
		}
	}
	EXPECT_EQ(12, rtclass_class_of(65536));
	EXPECT_EQ(-1, rtclass_class_of(65537));
	EXPECT_EQ(-1, rtclass_class_of(SIZE_MAX));
	EXPECT_EQ(13, RTCLASS_NR);
}

TEST_F(ClassHeap, EveryClassIsRealAndHoldsItsWholeClass)
{
	open();
	for (int q = 0; q < RTCLASS_NR; q++) {
		const size_t cls = size_t{16} << q;
		for (size_t req : {cls / 2 + 1, cls - 1, cls}) {
			if (req == 0 || rtclass_class_of(req) != q)
				continue;
			const size_t allocs0 = cstats(&cls_).class_allocs[q];
			auto *p = static_cast<unsigned char *>(rtclass_alloc(&cls_, req));
			ASSERT_NE(nullptr, p) << req;
			EXPECT_TRUE(inside(p, mem_.data(), kBuf));
			EXPECT_EQ(cls, rtclass_usable_size(&cls_, p)) << req;
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % std::min<size_t>(cls, 256)) << req;
			// the whole class is the caller's: written, then read back
			rtt::fill(p, cls, cls + req);
			auto *n = static_cast<unsigned char *>(rtclass_alloc(&cls_, req));
			ASSERT_NE(nullptr, n);
			rtt::fill(n, cls, 7);
			EXPECT_EQ(SIZE_MAX, rtt::verify(p, cls, cls + req)) << req;
			const rtclass_stats st = cstats(&cls_);
			EXPECT_EQ(allocs0 + 2, st.class_allocs[q]);
			EXPECT_EQ(2u, st.heap_live);
			EXPECT_EQ(2 * cls, st.heap_bytes);
			EXPECT_EQ(0, rtclass_free(&cls_, n));
			EXPECT_EQ(0, rtclass_free(&cls_, p));
			EXPECT_EQ(0u, cstats(&cls_).heap_live);
		}
	}
	// 0 bytes is the 16-byte class
	void *z = rtclass_alloc(&cls_, 0);
	ASSERT_NE(nullptr, z);
	EXPECT_EQ(16u, rtclass_usable_size(&cls_, z));
	EXPECT_EQ(0, rtclass_free(&cls_, z));
	EXPECT_TRUE(misuse_.empty());
	EXPECT_TRUE(notified_.empty());
}

TEST_F(ClassHeap, NoHeaderClassBlocksFillTheBuffer)
{
	// 64-byte blocks: the heap's pages hold exactly page/64 each, so
	// the blocks use all the usable bytes but whole free pages
	open();
	const rtclass_stats before = cstats(&cls_);
	std::vector<void *> v = exhaust(64);
	const rtclass_stats st = cstats(&cls_);
	EXPECT_EQ(v.size() * 64, st.heap_bytes);
	EXPECT_EQ(before.usable - st.heap_free, st.heap_bytes);
	EXPECT_LT(st.heap_free, 64u);
	for (void *p : v)
		ASSERT_EQ(0, rtclass_free(&cls_, p));
}

// ---- resize ----

TEST_F(ClassHeap, ResizeWithinTheClassNeverMoves)
{
	open();
	for (int q = 0; q < RTCLASS_NR; q++) {
		const size_t cls = size_t{16} << q;
		void *p = rtclass_alloc(&cls_, cls / 2 + 1);
		ASSERT_NE(nullptr, p);
		rtt::fill(p, cls / 2 + 1, q);
		void *r = p;
		ASSERT_EQ(0, rtclass_resize(&cls_, &r, cls));
		EXPECT_EQ(p, r) << cls;
		EXPECT_EQ(p, rtclass_realloc(&cls_, p, cls)) << cls;
		EXPECT_EQ(p, rtclass_realloc(&cls_, p, 1)) << "shrink keeps " << cls;
		EXPECT_EQ(p, rtclass_realloc(&cls_, p, 0)) << "0 keeps " << cls;
		EXPECT_EQ(SIZE_MAX, rtt::verify(p, cls / 2 + 1, q));
		EXPECT_EQ(0, rtclass_free(&cls_, p));
	}
	EXPECT_TRUE(notified_.empty());
}

TEST_F(ClassHeap, ResizeAboveTheClassMovesAndCopies)
{
	open();
	void *p = rtclass_alloc(&cls_, 100);
	ASSERT_NE(nullptr, p);
	rtt::fill(p, 128, 11);
	void *q = rtclass_realloc(&cls_, p, 129);
	ASSERT_NE(nullptr, q);
	EXPECT_NE(p, q);
	EXPECT_EQ(256u, rtclass_usable_size(&cls_, q));
	EXPECT_EQ(SIZE_MAX, rtt::verify(q, 128, 11));
	EXPECT_EQ(0u, rtclass_usable_size(&cls_, p)) << "the old block is released";
	EXPECT_EQ(1u, cstats(&cls_).heap_live);
	EXPECT_EQ(256u, cstats(&cls_).heap_bytes);
	EXPECT_EQ(1u, cstats(&cls_).class_allocs[4]);
	void *n = nullptr;
	ASSERT_EQ(0, rtclass_resize(&cls_, &n, 40)) << "NULL is an allocation";
	EXPECT_EQ(64u, rtclass_usable_size(&cls_, n));
	EXPECT_EQ(0, rtclass_free(&cls_, n));
	EXPECT_EQ(0, rtclass_free(&cls_, q));
}

TEST_F(ClassHeap, ResizeThatFailsKeepsTheBlockAndNotifies)
{
	open();
	void *p = rtclass_alloc(&cls_, 300);
	ASSERT_NE(nullptr, p);
	rtt::fill(p, 512, 3);
	void *r = p;
	EXPECT_EQ(-ENOMEM, rtclass_resize(&cls_, &r, 70000));
	EXPECT_EQ(p, r);
	EXPECT_EQ(nullptr, rtclass_realloc(&cls_, p, 2u << 20));
	EXPECT_EQ(SIZE_MAX, rtt::verify(p, 512, 3));
	EXPECT_EQ(512u, rtclass_usable_size(&cls_, p));
	EXPECT_EQ((std::vector<size_t>{70000, 2u << 20}), notified_);
	EXPECT_EQ(2u, cstats(&cls_).failed);
	EXPECT_EQ(0, rtclass_free(&cls_, p));
}

// ---- the notifier ----

TEST_F(ClassHeap, NotifierOnlyOnFailureWithTheSizeAsked)
{
	open();
	std::vector<void *> v = exhaust(4096);
	const size_t failed0 = cstats(&cls_).failed;
	EXPECT_TRUE(notified_.empty()) << "successes notify nothing";
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 3000));
	EXPECT_EQ((std::vector<size_t>{3000}), notified_);
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 65537)) << "above the classes, no fall-back";
	EXPECT_EQ((std::vector<size_t>{3000, 65537}), notified_);
	ASSERT_EQ(0, rtclass_free(&cls_, v.back()));
	v.pop_back();
	void *p = rtclass_alloc(&cls_, 3000);
	EXPECT_NE(nullptr, p);
	EXPECT_EQ(2u, notified_.size());
	EXPECT_EQ(failed0 + 2, cstats(&cls_).failed);
	ASSERT_EQ(0, rtclass_set_notifier(&cls_, nullptr, nullptr));
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 4096));
	EXPECT_EQ(2u, notified_.size()) << "cleared";
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	for (void *b : v)
		ASSERT_EQ(0, rtclass_free(&cls_, b));
}

struct FreeOne {
	rtclass_t *c;
	void *p;
	int calls;
};

TEST_F(ClassHeap, NotifierMayReleaseAndTheRetrySucceeds)
{
	open();
	std::vector<void *> v = exhaust(8192);
	FreeOne f{&cls_, v.back(), 0};
	v.pop_back();
	ASSERT_EQ(0, rtclass_set_notifier(
	                 &cls_,
	                 [](size_t size, void *arg) {
		                 auto *fo = static_cast<FreeOne *>(arg);
		                 EXPECT_EQ(8000u, size);
		                 fo->calls++;
		                 EXPECT_EQ(0, rtclass_free(fo->c, fo->p));
	                 },
	                 &f));
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 8000));
	EXPECT_EQ(1, f.calls);
	void *p = rtclass_alloc(&cls_, 8000);
	EXPECT_NE(nullptr, p);
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	for (void *b : v)
		ASSERT_EQ(0, rtclass_free(&cls_, b));
}

// ---- the fall-back to malloc ----

TEST_F(ClassHeap, AboveTheClassesFallsBackOnlyWithTheFlag)
{
	open(RTCLASS_F_SYSTEM);
	const rtheap_stats hs = rtt::stats(rtclass_heap(&cls_));
	auto *p = static_cast<unsigned char *>(rtclass_alloc(&cls_, 100000));
	ASSERT_NE(nullptr, p);
	EXPECT_FALSE(inside(p, mem_.data(), kBuf));
	// the heap itself tells that the block is none of its own
	EXPECT_EQ(-EFAULT, rtheap_check_block(rtclass_heap(&cls_), p));
	EXPECT_EQ(100000u, rtclass_usable_size(&cls_, p));
	std::memset(p, 1, 100000);
	rtclass_stats st = cstats(&cls_);
	EXPECT_EQ(1u, st.sys_live);
	EXPECT_EQ(100000u, st.sys_bytes);
	EXPECT_EQ(1u, st.sys_calls);
	EXPECT_EQ(0u, st.heap_bytes);
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	st = cstats(&cls_);
	EXPECT_EQ(0u, st.sys_live);
	EXPECT_EQ(0u, st.sys_bytes);
	rtt::expect_same_stats(hs, rtt::stats(rtclass_heap(&cls_)), "fall-back only");
	EXPECT_TRUE(notified_.empty());
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(ClassHeap, BufferExhaustedFallsBackWithTheWholeClass)
{
	open(RTCLASS_F_SYSTEM);
	std::vector<void *> v = exhaust(1024);
	void *p = rtclass_alloc(&cls_, 600);
	ASSERT_NE(nullptr, p);
	EXPECT_FALSE(inside(p, mem_.data(), kBuf));
	EXPECT_EQ(1024u, rtclass_usable_size(&cls_, p)) << "a class block, even from malloc";
	EXPECT_EQ(p, rtclass_realloc(&cls_, p, 1024)) << "within the class: kept";
	// growing a fall-back block: a new block (the heap is full: malloc)
	rtt::fill(p, 1024, 5);
	void *q = rtclass_realloc(&cls_, p, 5000);
	ASSERT_NE(nullptr, q);
	EXPECT_EQ(8192u, rtclass_usable_size(&cls_, q));
	EXPECT_EQ(SIZE_MAX, rtt::verify(q, 1024, 5));
	EXPECT_EQ(1u, cstats(&cls_).sys_live);
	// a heap block grown beyond the buffer moves to malloc, and back
	ASSERT_EQ(0, rtclass_free(&cls_, v.back()));
	v.pop_back();
	void *h = rtclass_alloc(&cls_, 1000);
	ASSERT_TRUE(inside(h, mem_.data(), kBuf));
	rtt::fill(h, 1024, 9);
	void *h2 = rtclass_realloc(&cls_, h, 2000);
	ASSERT_NE(nullptr, h2);
	EXPECT_FALSE(inside(h2, mem_.data(), kBuf));
	EXPECT_EQ(SIZE_MAX, rtt::verify(h2, 1024, 9));
	EXPECT_EQ(2u, cstats(&cls_).sys_live);
	EXPECT_EQ(0, rtclass_free(&cls_, h2));
	EXPECT_EQ(0, rtclass_free(&cls_, q));
	EXPECT_EQ(0u, cstats(&cls_).sys_live);
	for (void *b : v)
		ASSERT_EQ(0, rtclass_free(&cls_, b));
	EXPECT_TRUE(notified_.empty());
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(ClassHeap, WithoutTheFlagTheBufferIsAll)
{
	open();
	std::vector<void *> v = exhaust(2048);
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 2048));
	EXPECT_EQ((std::vector<size_t>{2048}), notified_);
	EXPECT_EQ(0u, cstats(&cls_).sys_calls);
	for (void *b : v)
		ASSERT_EQ(0, rtclass_free(&cls_, b));
}

// The registry against a model: many fall-back blocks released in random
// order (growth of the table, deletion inside probe runs), each routed.
// The output of rtheap_dump() on the class heap's heap.
std::string dump_of(rtheap_t *h, int verbose)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	EXPECT_EQ(0, rtheap_dump(h, f, verbose));
	std::fclose(f);
	std::string out(buf, len);
	std::free(buf);
	return out;
}

// The class heap is in its heap's owner registry from the first open to
// the last close: rtheap_dump() prints its classes, counters and
// fall-back blocks.
TEST_F(ClassHeap, HeapDumpPrintsTheClassHeap)
{
	open(RTCLASS_F_SYSTEM);
	ASSERT_EQ(0, rtclass_open(&cls_, nullptr, 0, 0)); // a second reference
	void *s = rtclass_alloc(&cls_, 100);
	void *big = rtclass_alloc(&cls_, 70001);
	ASSERT_TRUE(s && big);
	const std::string out = dump_of(rtclass_heap(&cls_), 1);
	char want[128];
	std::snprintf(want, sizeof want, "fall-back block %p: 70001 B\n", big);
	EXPECT_NE(std::string::npos, out.find(want)) << out;
	EXPECT_NE(std::string::npos, out.find("heap blocks 1 (128 B)")) << out;
	EXPECT_NE(std::string::npos, out.find("fall-back blocks 1 (70001 B), 1 calls")) << out;
	EXPECT_NE(std::string::npos, out.find("2 refs")) << out;
	EXPECT_NE(std::string::npos, out.find(" 128:1 256:0")) << out;
	// registered once, though opened twice
	EXPECT_EQ(out.find("class heap "), out.rfind("class heap ")) << out;
	EXPECT_NE(std::string::npos, out.find("owned by 1 layer objects")) << out;
	const std::string quiet = dump_of(rtclass_heap(&cls_), 0);
	EXPECT_NE(std::string::npos, quiet.find("class at ")) << quiet;
	EXPECT_EQ(1, rtclass_close(&cls_));
	EXPECT_NE(std::string::npos, dump_of(rtclass_heap(&cls_), 1).find(want));
	EXPECT_EQ(0, rtclass_free(&cls_, s));
	EXPECT_EQ(0, rtclass_free(&cls_, big));
}

// rtheap_check() verifies the registry of fall-back blocks and the class
// counters: each damage below is found (and undone before the next).
TEST_F(ClassHeap, CheckFindsACorruptRegistry)
{
	open(RTCLASS_F_SYSTEM);
	rtheap_t *h = rtclass_heap(&cls_);
	void *a = rtclass_alloc(&cls_, 70001);
	void *b = rtclass_alloc(&cls_, 80003);
	ASSERT_TRUE(a && b);
	EXPECT_TRUE(rtt::heap_ok(h));
	// the registry's table pointer, capacity, count and bytes are four
	// words in a row of the object's private state: find them by value
	size_t *w = reinterpret_cast<size_t *>(&cls_);
	const size_t nw = sizeof cls_ / sizeof(size_t);
	size_t at = 0;
	for (size_t i = 1; i + 2 < nw && !at; i++)
		if (w[i] == 16 && w[i + 1] == 2 && w[i + 2] == 150004)
			at = i;
	ASSERT_NE(0u, at) << "registry words not found";
	struct Ent {
		uintptr_t addr;
		size_t size;
	};
	Ent *tab = reinterpret_cast<Ent *>(w[at - 1]);
	Ent *ea = nullptr, *eb = nullptr;
	for (size_t i = 0; i < 16; i++) {
		if (tab[i].addr == reinterpret_cast<uintptr_t>(a))
			ea = &tab[i];
		if (tab[i].addr == reinterpret_cast<uintptr_t>(b))
			eb = &tab[i];
	}
	ASSERT_TRUE(ea && eb);
	auto expect_fault = [&](const char *what) {
		rtheap_fault f{};
		EXPECT_EQ(-EUCLEAN, rtheap_check(h, &f)) << what;
		ASSERT_NE(nullptr, f.what) << what;
		EXPECT_NE(nullptr, std::strstr(f.what, what)) << f.what;
		EXPECT_EQ(-EUCLEAN, rtheap_check(h, nullptr)) << what;
	};
	w[at + 1] = 3; // the count
	expect_fault("class: registry counters");
	w[at + 1] = 2;
	const Ent keep_a = *ea, keep_b = *eb;
	ea->addr = reinterpret_cast<uintptr_t>(mem_.data()) + 4096; // inside the buffer
	expect_fault("class: registry entry inside the buffer");
	*ea = keep_a;
	eb->size = keep_a.size;
	eb->addr = keep_a.addr; // a duplicate (or an entry out of its probe run)
	expect_fault("class: registry ");
	*eb = keep_b;
	w[at] = 12; // not a power of two
	expect_fault("class: registry table size");
	w[at] = 16;
	EXPECT_TRUE(rtt::heap_ok(h));
	// a block taken from the heap behind the class counters' back
	void *direct = rtheap_alloc(h, 64);
	ASSERT_NE(nullptr, direct);
	expect_fault("class: more live heap blocks than class allocations");
	EXPECT_EQ(0, rtheap_free(h, direct));
	EXPECT_TRUE(rtt::heap_ok(h));
	EXPECT_EQ(0, rtclass_free(&cls_, a));
	EXPECT_EQ(0, rtclass_free(&cls_, b));
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(ClassHeap, RegistryRoutesEveryFallbackBlock)
{
	open(RTCLASS_F_SYSTEM);
	std::mt19937_64 rng(42);
	std::map<void *, size_t> live;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 700; i++) {
			const size_t n = 65537 + rng() % 5000;
			void *p = rtclass_alloc(&cls_, n);
			ASSERT_NE(nullptr, p);
			ASSERT_TRUE(live.emplace(p, n).second);
		}
		std::vector<void *> order;
		for (auto &e : live)
			order.push_back(e.first);
		std::shuffle(order.begin(), order.end(), rng);
		order.resize(order.size() / 2);
		for (void *p : order) {
			ASSERT_EQ(live[p], rtclass_usable_size(&cls_, p));
			ASSERT_EQ(0, rtclass_free(&cls_, p));
			live.erase(p);
			// released: not a block any more
			ASSERT_EQ(0u, rtclass_usable_size(&cls_, p));
		}
		for (auto &e : live)
			ASSERT_EQ(e.second, rtclass_usable_size(&cls_, e.first));
		const rtclass_stats st = cstats(&cls_);
		EXPECT_EQ(live.size(), st.sys_live);
	}
	EXPECT_TRUE(misuse_.empty());
	// the last close releases the rest (ASan / Memcheck see no leak)
}

// ---- open and close ----

TEST_F(ClassHeap, OpenAndCloseAreReferenceCounted)
{
	open();
	EXPECT_EQ(1u, cstats(&cls_).refs);
	rtt::Mapping other(kBuf);
	// a later open counts only: its buffer and flags are ignored
	ASSERT_EQ(0, rtclass_open(&cls_, other.data(), kBuf, RTCLASS_F_SYSTEM));
	EXPECT_EQ(2u, cstats(&cls_).refs);
	void *p = rtclass_alloc(&cls_, 100);
	EXPECT_TRUE(inside(p, mem_.data(), kBuf));
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 70000)) << "no fall-back: the first open's flags";
	EXPECT_EQ(1, rtclass_close(&cls_));
	EXPECT_EQ(1u, cstats(&cls_).refs);
	EXPECT_EQ(128u, rtclass_usable_size(&cls_, p)) << "still open";
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	EXPECT_EQ(0, rtclass_close(&cls_));
	// closed: everything refuses, nothing crashes
	EXPECT_EQ(nullptr, rtclass_heap(&cls_));
	EXPECT_EQ(nullptr, rtclass_alloc(&cls_, 16));
	EXPECT_EQ(-EINVAL, rtclass_free(&cls_, p));
	EXPECT_EQ(0u, rtclass_usable_size(&cls_, p));
	EXPECT_EQ(-EINVAL, rtclass_close(&cls_));
	rtclass_stats st;
	EXPECT_EQ(-EINVAL, rtclass_get_stats(&cls_, &st));
	EXPECT_EQ(1u, notified_.size()) << "the 70000 only; closed calls notify nothing";
	// open again, on the other buffer
	ASSERT_EQ(0, rtclass_open(&cls_, other.data(), kBuf, 0));
	p = rtclass_alloc(&cls_, 100);
	EXPECT_TRUE(inside(p, other.data(), kBuf));
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	EXPECT_EQ(0, rtclass_close(&cls_));
}

TEST_F(ClassHeap, BufferAllocatedOnceAtOpen)
{
	ASSERT_EQ(0, rtclass_open(&cls_, nullptr, 200000, 0));
	rtclass_stats st = cstats(&cls_);
	EXPECT_EQ(200000u, st.buffer);
	EXPECT_GT(st.usable, 190000u);
	void *p = rtclass_alloc(&cls_, 65536);
	ASSERT_NE(nullptr, p);
	EXPECT_FALSE(inside(p, mem_.data(), kBuf));
	EXPECT_EQ(0, rtheap_check_block(rtclass_heap(&cls_), p)) << "a heap block";
	EXPECT_EQ(0, rtclass_free(&cls_, p));
	EXPECT_EQ(0, rtclass_close(&cls_));
	// no size: the default buffer
	ASSERT_EQ(0, rtclass_open(&cls_, nullptr, 0, 0));
	EXPECT_EQ(size_t{RTCLASS_DEFAULT_BUFFER}, cstats(&cls_).buffer);
	EXPECT_EQ(0, rtclass_close(&cls_));
	// open_auto: opens a closed object once, takes no reference after
	ASSERT_EQ(0, rtclass_open_auto(&cls_));
	ASSERT_EQ(0, rtclass_open_auto(&cls_));
	EXPECT_EQ(1u, cstats(&cls_).refs);
	EXPECT_EQ(size_t{RTCLASS_DEFAULT_BUFFER}, cstats(&cls_).buffer);
	EXPECT_EQ(0, rtclass_close(&cls_));
}

TEST_F(ClassHeap, BadOpensLeaveTheObjectClosed)
{
	EXPECT_EQ(-EINVAL, rtclass_open(nullptr, mem_.data(), kBuf, 0));
	EXPECT_EQ(-EINVAL, rtclass_open(&cls_, mem_.data(), kBuf, 1u << 9));
	EXPECT_EQ(-EINVAL, rtclass_open(&cls_, mem_.data(), 100, 0)) << "too small";
	EXPECT_EQ(-EINVAL, rtclass_open(&cls_, mem_.data() + 3, kBuf - 3, 0)) << "misaligned";
	EXPECT_EQ(-EINVAL, rtclass_open(&cls_, nullptr, 100, 0)) << "allocated, too small";
	EXPECT_EQ(nullptr, rtclass_heap(&cls_));
	if (!RTHEAP_TEST_SANITIZED) { // ASan and TSan abort on an impossible malloc
		EXPECT_EQ(-ENOMEM, rtclass_open(&cls_, nullptr, SIZE_MAX - 4096, 0));
		EXPECT_EQ(nullptr, rtclass_heap(&cls_));
	}
	EXPECT_EQ(-EINVAL, rtclass_close(nullptr));
	EXPECT_EQ(-EINVAL, rtclass_open_auto(nullptr));
	EXPECT_EQ(-EINVAL, rtclass_set_notifier(nullptr, nullptr, nullptr));
	EXPECT_EQ(nullptr, rtclass_alloc(nullptr, 16));
	EXPECT_EQ(-EINVAL, rtclass_free(nullptr, nullptr));
	void *p = nullptr;
	EXPECT_EQ(-EINVAL, rtclass_resize(nullptr, &p, 16));
	EXPECT_EQ(nullptr, rtclass_heap(nullptr));
}

// ---- misuse: exact errors, reported, nothing changes ----

TEST_F(ClassHeap, BadReleasesAreExactErrors)
{
	open(RTCLASS_F_SYSTEM);
	rtheap_t *h = rtclass_heap(&cls_);
	auto *a = static_cast<unsigned char *>(rtclass_alloc(&cls_, 64));
	auto *b = static_cast<unsigned char *>(rtclass_alloc(&cls_, 1000));
	auto *d = static_cast<unsigned char *>(rtclass_alloc(&cls_, 64));
	auto *s = static_cast<unsigned char *>(rtclass_alloc(&cls_, 80000));
	auto *s2 = static_cast<unsigned char *>(rtclass_alloc(&cls_, 80000));
	void *heap_mem = std::malloc(64);
	ASSERT_TRUE(a && b && d && s && s2 && heap_mem);
	ASSERT_EQ(0, rtclass_free(&cls_, d));
	ASSERT_EQ(0, rtclass_free(&cls_, s2));
	int local = 0;
	struct Case {
		const char *what;
		void *p;
		int rc;
		rtheap_error_kind_t kind;
	} cases[] = {
		{"interior of a bucket block", a + 16, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{"interior of a run block", b + 256, -EINVAL, RTHEAP_ERR_NOT_BLOCK},
		{"bucket block released twice", d, -EINVAL, RTHEAP_ERR_DOUBLE_FREE},
		{"stack address", &local, -EFAULT, RTHEAP_ERR_FOREIGN},
		{"another malloc block", heap_mem, -EFAULT, RTHEAP_ERR_FOREIGN},
		{"interior of a fall-back block", s + 16, -EFAULT, RTHEAP_ERR_FOREIGN},
		{"fall-back block released twice", s2, -EFAULT, RTHEAP_ERR_FOREIGN},
	};
	for (const Case &c : cases) {
		const rtheap_stats hs = rtt::stats(h);
		const rtclass_stats cs = cstats(&cls_);
		misuse_.clear();
		EXPECT_EQ(c.rc, rtclass_free(&cls_, c.p)) << c.what;
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.p, misuse_[0].addr) << c.what;
		const rtheap_stats hs2 = rtt::stats(h);
		rtt::expect_same_stats(hs, hs2, c.what);
		EXPECT_EQ(hs.errors + 1, hs2.errors) << c.what;
		const rtclass_stats cs2 = cstats(&cls_);
		EXPECT_EQ(cs.heap_bytes, cs2.heap_bytes) << c.what;
		EXPECT_EQ(cs.sys_live, cs2.sys_live) << c.what;
		EXPECT_EQ(cs.errors + 1, cs2.errors) << c.what;
		// resize of the same pointer: the same error, nothing moves
		misuse_.clear();
		void *r = c.p;
		EXPECT_EQ(c.rc, rtclass_resize(&cls_, &r, 5000)) << c.what;
		EXPECT_EQ(c.p, r) << c.what;
		EXPECT_EQ(nullptr, rtclass_realloc(&cls_, c.p, 5000)) << c.what;
		ASSERT_EQ(2u, misuse_.size()) << c.what;
		EXPECT_EQ(c.rc == -EFAULT ? RTHEAP_ERR_FOREIGN : RTHEAP_ERR_NOT_BLOCK,
		          misuse_[0].kind)
		    << c.what;
		EXPECT_EQ(0u, rtclass_usable_size(&cls_, c.p)) << c.what;
	}
	EXPECT_TRUE(notified_.empty()) << "misuse is not a shortage";
	std::free(heap_mem);
	EXPECT_EQ(0, rtclass_free(&cls_, nullptr));
	EXPECT_EQ(0, rtclass_free(&cls_, a));
	EXPECT_EQ(0, rtclass_free(&cls_, b));
	EXPECT_EQ(0, rtclass_free(&cls_, s));
}

// Routing by the buffer's bounds agrees with the heap: outside the buffer
// the heap sees no extent (rtheap_check_block -EFAULT), and without
// RTCLASS_F_SYSTEM every address is the heap's to judge.
TEST_F(ClassHeap, BufferBoundsAgreeWithTheHeapsExtents)
{
	open();
	rtheap_t *h = rtclass_heap(&cls_);
	unsigned char *lo = mem_.data(), *hi = mem_.data() + kBuf;
	EXPECT_EQ(-EFAULT, rtheap_check_block(h, lo - 16));
	EXPECT_EQ(-EFAULT, rtheap_check_block(h, hi));
	EXPECT_EQ(-EFAULT, rtheap_check_block(h, hi + 4096));
	void *first = rtclass_alloc(&cls_, 16);
	ASSERT_TRUE(inside(first, lo, kBuf));
	int local = 0;
	for (void *p : {static_cast<void *>(lo - 16), static_cast<void *>(hi),
	                static_cast<void *>(&local)}) {
		misuse_.clear();
		EXPECT_EQ(-EFAULT, rtclass_free(&cls_, p));
		ASSERT_EQ(1u, misuse_.size());
		EXPECT_EQ(RTHEAP_ERR_FOREIGN, misuse_[0].kind);
	}
	// the buffer's own header is inside the buffer, not a block
	misuse_.clear();
	EXPECT_EQ(rtheap_check_block(h, lo), rtclass_free(&cls_, lo));
	EXPECT_EQ(1u, misuse_.size());
	EXPECT_EQ(0, rtclass_free(&cls_, first));
}

// ---- debug fill: the heap's debug mode ----

TEST_F(ClassHeap, DebugFillMarksFreshAndFreedAndCatchesWritesAfterRelease)
{
	open(RTCLASS_F_DEBUG_FILL | RTCLASS_F_SYSTEM);
	auto *p = static_cast<unsigned char *>(rtclass_alloc(&cls_, 48));
	ASSERT_NE(nullptr, p);
	for (size_t i = 0; i < 64; i++)
		ASSERT_EQ(0xa5, p[i]) << i;
	ASSERT_EQ(0, rtclass_free(&cls_, p));
	misuse_.clear();
	if (!RTHEAP_TEST_ASAN) { // ASan stops the reads and writes of freed memory
		for (size_t i = 16; i < 64; i++) // past the free-list link
			ASSERT_EQ(0xdd, p[i]) << i;
		p[40] = 1; // a write after release
	}
	void *again = rtclass_alloc(&cls_, 64);
	ASSERT_EQ(p, again) << "the freed block comes back first";
	ASSERT_EQ(RTHEAP_TEST_ASAN ? 0u : 1u, misuse_.size());
	if (!RTHEAP_TEST_ASAN) {
		EXPECT_EQ(RTHEAP_ERR_USE_AFTER_FREE, misuse_[0].kind);
	}
	// a fall-back block is filled too
	auto *s = static_cast<unsigned char *>(rtclass_alloc(&cls_, 70000));
	ASSERT_NE(nullptr, s);
	EXPECT_EQ(0xa5, s[0]);
	EXPECT_EQ(0xa5, s[69999]);
	EXPECT_EQ(0, rtclass_free(&cls_, s));
	EXPECT_EQ(0, rtclass_free(&cls_, again));
}

// ---- threads ----

TEST_F(ClassHeap, ThreadsAllocateAndReleaseHeapAndFallbackBlocks)
{
	open(RTCLASS_F_SYSTEM);
	auto work = [this](unsigned seed) {
		std::mt19937 rng(seed);
		std::vector<void *> mine;
		for (int i = 0; i < 4000; i++) {
			if (mine.size() < 40 && rng() % 2) {
				size_t n = rng() % 8 == 0 ? 70000 : rng() % 5000;
				void *p = rtclass_alloc(&cls_, n);
				ASSERT_NE(nullptr, p);
				std::memset(p, int(seed), n ? n : 1);
				mine.push_back(p);
			} else if (!mine.empty()) {
				size_t k = rng() % mine.size();
				ASSERT_EQ(0, rtclass_free(&cls_, mine[k]));
				mine[k] = mine.back();
				mine.pop_back();
			}
		}
		for (void *p : mine)
			ASSERT_EQ(0, rtclass_free(&cls_, p));
	};
	std::thread t1(work, 1u), t2(work, 2u);
	work(3u);
	t1.join();
	t2.join();
	const rtclass_stats st = cstats(&cls_);
	EXPECT_EQ(0u, st.sys_live);
	EXPECT_EQ(0u, st.heap_bytes);
	EXPECT_TRUE(misuse_.empty());
}

} // namespace
