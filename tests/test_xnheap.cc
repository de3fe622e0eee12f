/* SPDX-License-Identifier: MIT */
// A program written against the Xenomai 2 nucleus heap interface: the
// caller declares xnheap_t, passes u_long sizes and a flush routine of the
// Xenomai 2 type, and the calls behave as documented in xnheap.h.
#include <sys/types.h> // the BSD u_long typedef comes first, as in Xenomai code

#include <atomic>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "rtheap/xnheap.h"
#include "test_common.h"

extern "C" int xnheap_c_program(void *mem, u_long size); // test_xnheap_c.c
extern "C" int xnheap_skin_program(int nqueues, int nmsgs); // test_xnheap_skin.c

namespace {

// The Xenomai 2 signatures, checked at compile time.
static_assert(std::is_same<decltype(&xnheap_init),
                           int (*)(xnheap_t *, void *, u_long, u_long)>::value, "init");
static_assert(std::is_same<decltype(&xnheap_destroy),
                           int (*)(xnheap_t *, void (*)(xnheap_t *, void *, u_long, void *),
                                   void *)>::value, "destroy");
static_assert(std::is_same<decltype(&xnheap_alloc), void *(*)(xnheap_t *, u_long)>::value, "alloc");
static_assert(std::is_same<decltype(&xnheap_free), int (*)(xnheap_t *, void *)>::value, "free");
static_assert(std::is_same<decltype(&xnheap_test_and_free),
                           int (*)(xnheap_t *, void *, int (*)(void *))>::value, "test_and_free");
static_assert(std::is_same<decltype(&xnheap_extend), int (*)(xnheap_t *, void *, u_long)>::value,
              "extend");
static_assert(std::is_same<decltype(&xnheap_check_block), int (*)(xnheap_t *, void *)>::value,
              "check_block");
static_assert(std::is_same<decltype(&xnheap_overhead), u_long (*)(u_long, u_long)>::value,
              "overhead");
static_assert(std::is_same<decltype(&xnheap_usable_mem), u_long (*)(xnheap_t *)>::value, "usable");
static_assert(std::is_same<decltype(&xnheap_used_mem), u_long (*)(xnheap_t *)>::value, "used");
static_assert(std::is_same<decltype(&xnheap_max_contiguous), u_long (*)(xnheap_t *)>::value,
              "max_contiguous");
static_assert(std::is_same<decltype(&xnheap_extentsize), u_long (*)(xnheap_t *)>::value,
              "extentsize");
static_assert(std::is_same<decltype(&xnheap_page_size), u_long (*)(xnheap_t *)>::value,
              "page_size");
// (The format attribute keeps decltype out of a template argument here.)
[[maybe_unused]] constexpr void (*kSetLabel)(xnheap_t *, const char *, ...) = &xnheap_set_label;
static_assert(std::is_same<decltype(&xnheap_schedule_free),
                           void (*)(xnheap_t *, void *, xnholder_t *)>::value, "schedule_free");
static_assert(std::is_same<decltype(&xnheap_finalize_free), void (*)(xnheap_t *)>::value,
              "finalize_free");
static_assert(std::is_same<decltype(&xnheap_rounded_size), size_t (*)(size_t, size_t)>::value,
              "rounded_size");
static_assert(std::is_same<decltype(&xnmalloc), void *(*)(u_long)>::value, "xnmalloc");
static_assert(std::is_same<decltype(&xnfree), int (*)(void *)>::value, "xnfree");
static_assert(XNHEAP_PAGE_SIZE == 512, "Xenomai 2.5/2.6 value");
static_assert(XNHEAP_PAGE_ALIGN(1ul) == 512 && XNHEAP_PAGE_ALIGN(512ul) == 512 &&
              XNHEAP_PAGE_ALIGN(513ul) == 1024 && XNHEAP_PAGE_ALIGN(0ul) == 0 &&
              (1000ul & XNHEAP_PAGE_MASK) == 512, "page rounding helpers");
static_assert(XNHEAP_MINLOG2 == 3 && XNHEAP_MAXLOG2 == 22, "Xenomai 2 page size range");
static_assert(XNOBJECT_NAME_LEN == 32 && RTHEAP_XN_LABEL_LEN == XNOBJECT_NAME_LEN + 16,
              "label size");
static_assert(sizeof(((xnheap_t *)nullptr)->label) == RTHEAP_XN_LABEL_LEN, "label member");
static_assert(offsetof(xnholder_t, next) == 0 &&
              offsetof(xnholder_t, last) == sizeof(void *), "holder layout");

// A global heap, as kernel code declared it (kheap is the library's own now).
xnheap_t g_kheap;

struct Flushed {
	xnheap_t *heap;
	void *addr;
	u_long size;
};
std::vector<Flushed> g_flushed;
void *g_cookie;

void flush_extent(xnheap_t *heap, void *extaddr, u_long extsize, void *cookie)
{
	g_flushed.push_back(Flushed{heap, extaddr, extsize});
	g_cookie = cookie;
}

int refuse(void *) { return -EBUSY; }
int accept_all(void *) { return 0; }

u_long rounded(u_long req, u_long page)
{
	return static_cast<u_long>(rtt::expected_round(req, page));
}

TEST(Xnheap, EveryPageSizeAndOddHeapSizes)
{
	for (u_long psize = 8; psize <= 32768; psize <<= 1) {
		// Not a multiple of the page size.
		const u_long page = psize < 256 ? 256 : psize;
		const u_long hsize = 24 * page + 12345 - 8 * (psize % 7);
		rtt::AlignedMapping mem(hsize, 32768);
		xnheap_t heap;
		ASSERT_EQ(0, xnheap_init(&heap, mem.data(), hsize, psize)) << "page " << psize;
		EXPECT_EQ(page, xnheap_page_size(&heap));
		EXPECT_EQ(hsize, xnheap_extentsize(&heap));
		EXPECT_EQ(hsize - xnheap_overhead(hsize, psize), xnheap_usable_mem(&heap)) << psize;
		EXPECT_EQ(0u, xnheap_usable_mem(&heap) % page);
		EXPECT_EQ(0u, xnheap_used_mem(&heap));
		u_long maxc = xnheap_max_contiguous(&heap);
		EXPECT_LE(maxc, xnheap_usable_mem(&heap));
		EXPECT_GE(maxc, xnheap_usable_mem(&heap) - xnheap_usable_mem(&heap) / 16);

		std::vector<std::pair<void *, u_long>> blocks;
		u_long used = 0;
		for (u_long sz : {1ul, 16ul, 17ul, 100ul, page / 2, page / 2 + 1, page, 3 * page + 5}) {
			void *p = xnheap_alloc(&heap, sz);
			ASSERT_NE(nullptr, p) << "page " << psize << " size " << sz;
			u_long r = rounded(sz, page);
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % rtt::expected_align(r, page));
			EXPECT_EQ(0, xnheap_check_block(&heap, p));
			std::memset(p, 0x77, sz);
			used += r;
			blocks.emplace_back(p, r);
			EXPECT_EQ(used, xnheap_used_mem(&heap)) << "page " << psize << " size " << sz;
		}
		EXPECT_EQ(nullptr, xnheap_alloc(&heap, 0));
		EXPECT_EQ(nullptr, xnheap_alloc(&heap, hsize));
		EXPECT_EQ(-EINVAL, xnheap_free(&heap, static_cast<char *>(blocks[0].first) + 8));
		int local = 0;
		EXPECT_EQ(-EFAULT, xnheap_free(&heap, &local));
		EXPECT_EQ(-EFAULT, xnheap_check_block(&heap, &local));
		for (auto &b : blocks) {
			EXPECT_EQ(0, xnheap_free(&heap, b.first));
			EXPECT_EQ(-EINVAL, xnheap_check_block(&heap, b.first));
		}
		EXPECT_EQ(0u, xnheap_used_mem(&heap));
		void *big = xnheap_alloc(&heap, maxc);
		EXPECT_NE(nullptr, big) << "max_contiguous must be allocatable";
		EXPECT_EQ(0, xnheap_free(&heap, big));
		EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
		g_flushed.clear();
		EXPECT_EQ(0, xnheap_destroy(&heap, flush_extent, &heap));
		ASSERT_EQ(1u, g_flushed.size());
		EXPECT_EQ(&heap, g_flushed[0].heap);
		EXPECT_EQ(static_cast<void *>(mem.data()), g_flushed[0].addr);
		EXPECT_EQ(hsize, g_flushed[0].size);
		EXPECT_EQ(static_cast<void *>(&heap), g_cookie);
	}
}

// (bad arguments to xnheap_init: ErrXnheap.InitBadArguments in test_errors.cc)

TEST(Xnheap, ExtendTestAndFreeAndFlush)
{
	static unsigned char first[64 * 1024 + 100] __attribute__((aligned(8)));
	rtt::Mapping second(200000), third(3 << 20);
	ASSERT_EQ(0, xnheap_init(&g_kheap, first, sizeof first, 512));
	const u_long usable1 = xnheap_usable_mem(&g_kheap);
	// Extents of other sizes than the first, and bigger than 16 MiB is not
	// needed here: 3 MiB already exceeds the first extent's size.
	ASSERT_EQ(0, xnheap_extend(&g_kheap, second.data(), 200000));
	ASSERT_EQ(0, xnheap_extend(&g_kheap, third.data(), 3 << 20));
	// (overlapping extents, a full table: ErrXnheap.BadPointersAndExtents)
	EXPECT_EQ((u_long)sizeof first, xnheap_extentsize(&g_kheap));
	const u_long usable = xnheap_usable_mem(&g_kheap);
	EXPECT_EQ(usable1 + (200000 - xnheap_overhead(200000, 512)) +
	              ((3ul << 20) - xnheap_overhead(3ul << 20, 512)),
	          usable);
	EXPECT_GT(xnheap_max_contiguous(&g_kheap), 2ul << 20);
	// A block only the third extent can hold.
	void *big = xnheap_alloc(&g_kheap, 2 << 20);
	ASSERT_NE(nullptr, big);
	EXPECT_GE(static_cast<unsigned char *>(big), third.data());
	EXPECT_LE(static_cast<unsigned char *>(big) + (2 << 20), third.data() + (3 << 20));
	EXPECT_EQ((u_long)(2 << 20), xnheap_used_mem(&g_kheap));

	void *p = xnheap_alloc(&g_kheap, 40);
	ASSERT_NE(nullptr, p);
	std::memset(p, 0x11, 40);
	EXPECT_EQ(-EBUSY, xnheap_test_and_free(&g_kheap, p, refuse));
	EXPECT_EQ(0, xnheap_check_block(&g_kheap, p));
	EXPECT_EQ(0x11, static_cast<unsigned char *>(p)[39]);
	EXPECT_EQ((u_long)(2 << 20) + 64, xnheap_used_mem(&g_kheap));
	EXPECT_EQ(0, xnheap_test_and_free(&g_kheap, p, accept_all));
	EXPECT_EQ(-EINVAL, xnheap_check_block(&g_kheap, p));
	EXPECT_EQ(0, xnheap_free(&g_kheap, big));
	EXPECT_EQ(0u, xnheap_used_mem(&g_kheap));
	EXPECT_EQ(0, rtheap_check(&g_kheap.rt, nullptr));

	g_flushed.clear();
	EXPECT_EQ(0, xnheap_destroy(&g_kheap, flush_extent, nullptr));
	std::set<std::pair<void *, u_long>> got, want{{first, (u_long)sizeof first},
	                                               {second.data(), 200000ul},
	                                               {third.data(), 3ul << 20}};
	for (auto &f : g_flushed) {
		EXPECT_EQ(&g_kheap, f.heap);
		got.insert({f.addr, f.size});
	}
	EXPECT_EQ(3u, g_flushed.size());
	EXPECT_EQ(want, got);
	EXPECT_EQ(nullptr, g_cookie);
	// A NULL flush routine is accepted, and the heap can be set up again.
	ASSERT_EQ(0, xnheap_init(&g_kheap, first, sizeof first, 512));
	EXPECT_EQ(0, xnheap_destroy(&g_kheap, nullptr, nullptr));
}

TEST(Xnheap, CProgram)
{
	rtt::Mapping mem(1 << 20);
	EXPECT_EQ(0, xnheap_c_program(mem.data(), 1 << 20));
}

// ------------------------------------------------------------------
// Sizing: xnheap_rounded_size and XNHEAP_PAGE_SIZE
// ------------------------------------------------------------------

TEST(XnheapRounded, BufferOfRoundedSizeHoldsTheRequest)
{
	for (u_long psize = 8; psize <= (1ul << XNHEAP_MAXLOG2); psize <<= 1) {
		for (u_long hsize : {0ul, 1ul, 1000ul, 4096ul, 100000ul, 3ul << 20}) {
			const size_t r = xnheap_rounded_size(hsize, psize);
			const u_long want = std::max(hsize, 2 * psize);
			ASSERT_EQ(0u, r % psize) << psize << " " << hsize;
			ASSERT_GE(r, want);
			// Whatever the alignment of the buffer.
			for (size_t off : {size_t{0}, size_t{8}, size_t{4096 - 8}, size_t{40000},
			                   size_t{3} << 20}) {
				rtt::AlignedMapping mem(r, 1ul << XNHEAP_MAXLOG2, off);
				ASSERT_TRUE(mem.ok());
				xnheap_t heap;
				ASSERT_EQ(0, xnheap_init(&heap, mem.data(), r, psize))
					<< psize << " " << hsize << " +" << off;
				EXPECT_GE(xnheap_usable_mem(&heap), want);
				// The whole request fits in one block, and so do two pages.
				void *p = xnheap_alloc(&heap, want);
				EXPECT_NE(nullptr, p) << psize << " " << hsize << " +" << off;
				EXPECT_EQ(0, xnheap_free(&heap, p));
				EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
			}
		}
	}
	// A skin pool: its size is a multiple of XNHEAP_PAGE_SIZE.
	EXPECT_EQ(0u, xnheap_rounded_size(10000, XNHEAP_PAGE_SIZE) % XNHEAP_PAGE_SIZE);
	// Tight: not more than a page above the exact buffer size.
	EXPECT_LE(xnheap_rounded_size(100000, 4096),
	          RTHEAP_BUFFER_SIZE(100000, 4096) + 4096);
}

TEST(XnheapRounded, BadPageSize)
{
	EXPECT_EQ(0u, xnheap_rounded_size(4096, 0));
	EXPECT_EQ(0u, xnheap_rounded_size(4096, 300));
	EXPECT_EQ(0u, xnheap_rounded_size(4096, 513));
}

// ------------------------------------------------------------------
// Labels
// ------------------------------------------------------------------

TEST(XnheapLabel, DefaultFormattedAndTruncated)
{
	rtt::Mapping mem(65536);
	xnheap_t heap;
	std::memset(heap.label, 'x', sizeof heap.label);
	ASSERT_EQ(0, xnheap_init(&heap, mem.data(), 65536, XNHEAP_PAGE_SIZE));
	char want[64];
	std::snprintf(want, sizeof want, "unlabeled @%p", static_cast<void *>(&heap));
	EXPECT_STREQ(want, heap.label);
	xnheap_set_label(&heap, "rt_heap: %s #%d", "pool", 7);
	EXPECT_STREQ("rt_heap: pool #7", heap.label);
	// Truncated to RTHEAP_XN_LABEL_LEN - 1 characters, NUL-terminated.
	const std::string longname(100, 'n');
	xnheap_set_label(&heap, "%s", longname.c_str());
	EXPECT_EQ(std::string(RTHEAP_XN_LABEL_LEN - 1, 'n'), std::string(heap.label));
	// The label does not disturb the heap.
	void *p = xnheap_alloc(&heap, 100);
	EXPECT_NE(nullptr, p);
	EXPECT_EQ(0, xnheap_free(&heap, p));
	EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
	// NULL heap or format: nothing happens.
	xnheap_set_label(nullptr, "x");
	xnheap_set_label(&heap, nullptr);
	EXPECT_EQ(std::string(RTHEAP_XN_LABEL_LEN - 1, 'n'), std::string(heap.label));
	EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
}

// ------------------------------------------------------------------
// Deferred release
// ------------------------------------------------------------------

struct Obj {
	int before;
	xnholder_t link; // not necessarily at the start of the object
	char data[100];
};

TEST(XnheapDeferred, ReleasedOnlyByFinalize)
{
	rtt::Mapping mem(1 << 20);
	xnheap_t heap;
	ASSERT_EQ(0, xnheap_init(&heap, mem.data(), 1 << 20, XNHEAP_PAGE_SIZE));
	xnheap_finalize_free(&heap); // empty queue: nothing to do
	std::vector<Obj *> objs;
	for (u_long sz : {u_long{sizeof(Obj)}, u_long{sizeof(Obj)}, 5000ul, 100000ul}) {
		auto *o = static_cast<Obj *>(xnheap_alloc(&heap, sz));
		ASSERT_NE(nullptr, o);
		o->before = 42;
		objs.push_back(o);
	}
	const u_long used = xnheap_used_mem(&heap);
	for (Obj *o : objs)
		xnheap_schedule_free(&heap, o, &o->link);
	// A holder outside the block works too.
	void *plain = xnheap_alloc(&heap, 24);
	ASSERT_NE(nullptr, plain);
	xnholder_t outside;
	xnheap_schedule_free(&heap, plain, &outside);
	EXPECT_EQ(used + 32, xnheap_used_mem(&heap));
	for (Obj *o : objs) {
		EXPECT_EQ(0, xnheap_check_block(&heap, o)); // still allocated
		EXPECT_EQ(42, o->before);                   // and untouched
	}
	// the queue is a FIFO: its head is the first holder queued
	EXPECT_EQ(&objs[0]->link, __atomic_load_n(&heap.idleq, __ATOMIC_RELAXED));
	xnheap_finalize_free(&heap);
	EXPECT_EQ(0u, xnheap_used_mem(&heap));
	for (Obj *o : objs)
		EXPECT_EQ(-EINVAL, xnheap_check_block(&heap, o));
	EXPECT_EQ(-EINVAL, xnheap_check_block(&heap, plain));
	EXPECT_EQ(nullptr, __atomic_load_n(&heap.idleq, __ATOMIC_RELAXED));
	// A second finalize has nothing left to release: no double free.
	struct rtheap_stats st;
	ASSERT_EQ(0, rtheap_get_stats(&heap.rt, &st));
	xnheap_finalize_free(&heap);
	struct rtheap_stats st2;
	ASSERT_EQ(0, rtheap_get_stats(&heap.rt, &st2));
	EXPECT_EQ(st.errors, st2.errors);
	EXPECT_EQ(st.free_calls, st2.free_calls);
	EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
	EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
}

// Finalisation releases the newest first, as Xenomai 2's LIFO list: the
// block released last (the first queued) is the first a bucket gives back.
TEST(XnheapDeferred, FinalizeReleasesNewestFirst)
{
	rtt::Mapping mem(1 << 20);
	xnheap_t heap;
	ASSERT_EQ(0, xnheap_init(&heap, mem.data(), 1 << 20, XNHEAP_PAGE_SIZE));
	Obj *o[3];
	for (auto &p : o) {
		p = static_cast<Obj *>(xnheap_alloc(&heap, sizeof(Obj)));
		ASSERT_NE(nullptr, p);
	}
	for (auto *p : o)
		xnheap_schedule_free(&heap, p, &p->link);
	xnheap_finalize_free(&heap);
	EXPECT_EQ(0u, xnheap_used_mem(&heap));
	// the bucket's free list is LIFO: o[0] was released last
	EXPECT_EQ(static_cast<void *>(o[0]), xnheap_alloc(&heap, sizeof(Obj)));
	EXPECT_EQ(static_cast<void *>(o[1]), xnheap_alloc(&heap, sizeof(Obj)));
}

TEST(XnheapDeferred, ConcurrentQueueingAndFinalize)
{
	constexpr int kThreads = 3, kPerThread = 3000;
	// Room for every block at once: the finaliser may not run until the end.
	rtt::Mapping mem(16 << 20);
	xnheap_t heap;
	ASSERT_EQ(0, xnheap_init(&heap, mem.data(), 16 << 20, XNHEAP_PAGE_SIZE));
	std::atomic<int> running{kThreads};
	std::atomic<int> failed{0};
	std::vector<std::thread> ts;
	for (int t = 0; t < kThreads; t++) {
		ts.emplace_back([&, t] {
			for (int i = 0; i < kPerThread; i++) {
				auto *o = static_cast<Obj *>(
					xnheap_alloc(&heap, sizeof(Obj) + (i % 3) * 200));
				if (!o) {
					failed++;
					continue;
				}
				o->before = t;
				xnheap_schedule_free(&heap, o, &o->link);
			}
			running--;
		});
	}
	// The finaliser runs while the producers queue.
	while (running.load() > 0)
		xnheap_finalize_free(&heap);
	for (auto &t : ts)
		t.join();
	xnheap_finalize_free(&heap);
	EXPECT_EQ(0, failed.load());
	EXPECT_EQ(0u, xnheap_used_mem(&heap));
	struct rtheap_stats st;
	ASSERT_EQ(0, rtheap_get_stats(&heap.rt, &st));
	EXPECT_EQ(size_t{kThreads * kPerThread}, st.free_calls);
	EXPECT_EQ(0u, st.errors);
	EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
	EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
}

// ------------------------------------------------------------------
// System heap: xnmalloc, xnfree, kheap
// ------------------------------------------------------------------

TEST(XnheapSystem, FirstUseDefaults)
{
	xnheap_t *sys = xnheap_system();
	ASSERT_NE(nullptr, sys);
	EXPECT_EQ(sys, &kheap);
	EXPECT_EQ(u_long{XNHEAP_PAGE_SIZE}, xnheap_page_size(&kheap));
	EXPECT_EQ(u_long{RTHEAP_XN_SYSHEAP_SIZE}, xnheap_extentsize(&kheap));
	EXPECT_STREQ("main heap", kheap.label);
	const u_long used = xnheap_used_mem(&kheap);
	void *p = xnmalloc(100);
	ASSERT_NE(nullptr, p);
	std::memset(p, 0x5a, 100);
	EXPECT_EQ(used + 128, xnheap_used_mem(&kheap));
	EXPECT_EQ(0, xnheap_check_block(&kheap, p));
	EXPECT_EQ(0, xnfree(p));
	EXPECT_EQ(used, xnheap_used_mem(&kheap));
	// (bad input to xnmalloc and xnfree: ErrXnheap.XnmallocXnfree)
	// Deferred release on the system heap, as skins release task objects.
	auto *o = static_cast<Obj *>(xnmalloc(sizeof(Obj)));
	ASSERT_NE(nullptr, o);
	xnheap_schedule_free(&kheap, o, &o->link);
	EXPECT_EQ(0, xnheap_check_block(&kheap, o));
	xnfreesync();
	EXPECT_EQ(-EINVAL, xnheap_check_block(&kheap, o));
	EXPECT_EQ(used, xnheap_used_mem(&kheap));
	EXPECT_EQ(0, rtheap_check(&kheap.rt, nullptr));
}

int g_sys_flushes;
void *g_sys_flushed;
void sys_flush(xnheap_t *, void *extaddr, u_long, void *cookie)
{
	g_sys_flushes++;
	g_sys_flushed = extaddr;
	EXPECT_EQ(nullptr, cookie);
}

TEST(XnheapSystem, ExplicitInitOverCallerBuffer)
{
	(void)xnheap_system(); // whatever the state, start from a set-up heap
	ASSERT_EQ(0, xnheap_system_destroy(nullptr, nullptr));
	// (bad input, -EBUSY once set up: ErrXnheap.SystemInitAndDestroy)
	rtt::Mapping mem(1 << 20);
	ASSERT_EQ(0, xnheap_system_init(mem.data(), 1 << 20, 4096));
	EXPECT_EQ(u_long{4096}, xnheap_page_size(&kheap));
	EXPECT_EQ(u_long{1 << 20}, xnheap_extentsize(&kheap));
	auto *p = static_cast<unsigned char *>(xnmalloc(300000));
	ASSERT_NE(nullptr, p); // more than the built-in buffer holds
	EXPECT_GE(p, mem.data());
	EXPECT_LE(p + 300000, mem.data() + (1 << 20));
	EXPECT_EQ(0, xnfree(p));
	g_sys_flushes = 0;
	ASSERT_EQ(0, xnheap_system_destroy(sys_flush, nullptr));
	EXPECT_EQ(1, g_sys_flushes);
	EXPECT_EQ(static_cast<void *>(mem.data()), g_sys_flushed);
	// The built-in buffer again, now with its map cleared, and another page.
	ASSERT_EQ(0, xnheap_system_init(nullptr, 0, 1024));
	EXPECT_EQ(u_long{1024}, xnheap_page_size(&kheap));
	EXPECT_EQ(u_long{RTHEAP_XN_SYSHEAP_SIZE}, xnheap_extentsize(&kheap));
	EXPECT_EQ(0, rtheap_check(&kheap.rt, nullptr));
	p = static_cast<unsigned char *>(xnmalloc(5000));
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(0, xnfree(p));
	ASSERT_EQ(0, xnheap_system_destroy(nullptr, nullptr));
	// First use sets the defaults up again, over a used buffer.
	p = static_cast<unsigned char *>(xnmalloc(64));
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(u_long{XNHEAP_PAGE_SIZE}, xnheap_page_size(&kheap));
	EXPECT_EQ(0, xnfree(p));
	EXPECT_EQ(0u, xnheap_used_mem(&kheap));
	EXPECT_EQ(0, rtheap_check(&kheap.rt, nullptr));
}

TEST(XnheapSystem, ConcurrentFirstUse)
{
	(void)xnheap_system();
	ASSERT_EQ(0, xnheap_system_destroy(nullptr, nullptr));
	constexpr int kThreads = 4;
	std::atomic<int> go{0};
	std::vector<void *> got(kThreads);
	std::vector<xnheap_t *> seen(kThreads);
	std::vector<std::thread> ts;
	for (int t = 0; t < kThreads; t++) {
		ts.emplace_back([&, t] {
			while (!go.load())
				;
			got[t] = xnmalloc(64);
			seen[t] = xnheap_system();
		});
	}
	go = 1;
	for (auto &t : ts)
		t.join();
	std::set<void *> distinct;
	for (int t = 0; t < kThreads; t++) {
		ASSERT_NE(nullptr, got[t]);
		EXPECT_EQ(xnheap_system(), seen[t]);
		distinct.insert(got[t]);
	}
	EXPECT_EQ(size_t{kThreads}, distinct.size());
	EXPECT_EQ(u_long{kThreads * 64}, xnheap_used_mem(&kheap));
	for (void *p : got)
		EXPECT_EQ(0, xnfree(p));
	EXPECT_EQ(0, rtheap_check(&kheap.rt, nullptr));
}

// ------------------------------------------------------------------
// Pages above 32 KiB
// ------------------------------------------------------------------

// Xenomai 2's block size for a request in a heap of page size P.
u_long xeno_block(u_long req, u_long page)
{
	if (req <= 2 * page) {
		u_long b = 16;
		while (b < req)
			b <<= 1;
		return b;
	}
	return (req + page - 1) / page * page;
}

TEST(XnheapLargePages, RoundingUsageAndAlignment)
{
	for (u_long psize = 65536; psize <= (1ul << XNHEAP_MAXLOG2); psize <<= 1) {
		const size_t hsize = xnheap_rounded_size(12 * psize, psize);
		rtt::AlignedMapping mem(hsize, RTHEAP_MAX_PAGE);
		ASSERT_TRUE(mem.ok());
		xnheap_t heap;
		ASSERT_EQ(0, xnheap_init(&heap, mem.data(), hsize, psize)) << psize;
		EXPECT_EQ(psize, xnheap_page_size(&heap));
		EXPECT_EQ(hsize, xnheap_extentsize(&heap));
		EXPECT_EQ(hsize - xnheap_overhead(hsize, psize), xnheap_usable_mem(&heap));
		EXPECT_GE(xnheap_usable_mem(&heap), 12 * psize);
		u_long used = 0;
		std::vector<void *> blocks;
		for (u_long req : {1ul, 100ul, 16384ul, 16385ul, 40000ul, psize / 2 + 1, psize,
		                   psize + 1, 2 * psize, 2 * psize + 1}) {
			void *p = xnheap_alloc(&heap, req);
			ASSERT_NE(nullptr, p) << psize << " " << req;
			const u_long b = xeno_block(req, psize);
			used += b;
			EXPECT_EQ(used, xnheap_used_mem(&heap)) << psize << " " << req;
			EXPECT_EQ(size_t{b}, rtheap_usable_size(&heap.rt, p)) << psize << " " << req;
			// Aligned as in Xenomai 2: to the block size up to the
			// page, to the page above (absolute addresses here; the
			// buffer is aligned to 32 KiB only).
			const u_long al = b < psize ? b : psize;
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % al) << psize << " " << req;
			EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr)) << psize << " " << req;
			std::memset(p, 0x3c, req);
			blocks.push_back(p);
		}
		EXPECT_EQ(nullptr, xnheap_alloc(&heap, ~0ul));
		EXPECT_EQ(nullptr, xnheap_alloc(&heap, ~0ul - psize));
		for (void *p : blocks)
			EXPECT_EQ(0, xnheap_free(&heap, p));
		EXPECT_EQ(0u, xnheap_used_mem(&heap));
		EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
		EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
	}
}

// Every block size class of a heap of 64 KiB pages and of 1 MiB pages:
// the powers of two from 16 bytes to twice the page and a few multiples of
// the page, each asked with its largest and its smallest request, all live
// at once.  Xenomai 2's alignment, min(block, page), holds in absolute
// terms, and relative to the buffer when it is aligned to the page (then
// Xenomai 2's page array is too); rtheap_check after every call.
TEST(XnheapLargePages, AlignmentOfEveryBlockClass)
{
	for (u_long psize : {1ul << 16, 1ul << 20}) {
		for (size_t off : {size_t{0}, size_t{RTHEAP_MAX_PAGE} + 8, size_t{psize / 2 + 4096}}) {
			const size_t hsize = xnheap_rounded_size(72 * psize, psize);
			rtt::AlignedMapping mem(hsize, psize, off);
			ASSERT_TRUE(mem.ok());
			xnheap_t heap;
			ASSERT_EQ(0, xnheap_init(&heap, mem.data(), hsize, psize)) << psize;
			std::vector<u_long> classes;
			for (u_long b = 16; b <= 2 * psize; b *= 2)
				classes.push_back(b);
			for (u_long k : {3ul, 4ul, 5ul, 7ul})
				classes.push_back(k * psize);
			struct Live {
				unsigned char *p;
				u_long req;
			};
			std::vector<Live> live;
			u_long used = 0;
			for (u_long b : classes) {
				const u_long smallest = b <= 2 * psize ? (b <= 16 ? 1 : b / 2 + 1)
				                                       : b - psize + 1;
				for (u_long req : {b, smallest}) {
					auto *p = static_cast<unsigned char *>(xnheap_alloc(&heap, req));
					ASSERT_NE(nullptr, p) << psize << " +" << off << " " << req;
					ASSERT_EQ(b, xeno_block(req, psize));
					used += b;
					EXPECT_EQ(used, xnheap_used_mem(&heap));
					EXPECT_EQ(size_t{b}, rtheap_usable_size(&heap.rt, p));
					const u_long al = b < psize ? b : psize;
					EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % al)
						<< "page " << psize << " +" << off << " block " << b;
					if (off == 0) { // Xenomai 2's own, relative alignment
						EXPECT_EQ(0u, static_cast<size_t>(p - mem.data()) % al);
					}
					EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr)) << req;
					std::memset(p, static_cast<int>(b % 251), 16);
					std::memset(p + req - 16 * (req >= 16), static_cast<int>(b % 251),
					            req >= 16 ? 16 : req);
					live.push_back(Live{p, req});
				}
			}
			for (const Live &l : live) {
				const int v = static_cast<int>(xeno_block(l.req, psize) % 251);
				EXPECT_EQ(v, l.p[0]);
				EXPECT_EQ(v, l.p[l.req - 1]);
				EXPECT_EQ(0, xnheap_free(&heap, l.p));
				EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
			}
			EXPECT_EQ(0u, xnheap_used_mem(&heap));
			EXPECT_EQ(xnheap_usable_mem(&heap), xnheap_max_contiguous(&heap));
			EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
		}
	}
}

TEST(XnheapLargePages, TwoPagesNeeded)
{
	const u_long psize = 1ul << 20;
	const size_t ok = xnheap_rounded_size(0, psize); // two pages
	xnheap_t heap;
	// A block of two pages, aligned to the page, fits whatever the
	// buffer's alignment.
	for (size_t off : {size_t{0}, size_t{8}, size_t{4096}, size_t{RTHEAP_MAX_PAGE},
	                   size_t{RTHEAP_MAX_PAGE} + 8, size_t{psize / 2},
	                   size_t{psize - RTHEAP_MAX_PAGE}, size_t{psize - RTHEAP_MAX_PAGE + 8},
	                   size_t{psize - 4096}}) {
		rtt::AlignedMapping m(ok, psize, off);
		ASSERT_TRUE(m.ok());
		ASSERT_EQ(0, xnheap_init(&heap, m.data(), ok, psize)) << off;
		void *p = xnheap_alloc(&heap, 2 * psize);
		EXPECT_NE(nullptr, p) << off;
		EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % psize) << off;
		EXPECT_EQ(0, rtheap_check(&heap.rt, nullptr));
		EXPECT_EQ(0, xnheap_free(&heap, p));
		EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
	}
	rtt::Mapping mem(ok);
	// Just under two pages of usable memory: refused, as in Xenomai 2.
	EXPECT_EQ(-EINVAL, xnheap_init(&heap, mem.data(), 2 * psize, psize));
	EXPECT_EQ(u_long{2 * psize}, xnheap_overhead(2 * psize, psize));
	EXPECT_EQ(-EINVAL, xnheap_init(&heap, mem.data(), ok, 1ul << (XNHEAP_MAXLOG2 + 1)));
}

// ------------------------------------------------------------------
// A skin-style program in strict C
// ------------------------------------------------------------------

TEST(Xnheap, SkinProgram)
{
	EXPECT_EQ(0, xnheap_skin_program(4, 40));
	EXPECT_EQ(0, xnheap_skin_program(8, 64));
}

} // namespace
