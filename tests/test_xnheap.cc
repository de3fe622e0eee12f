// A program written against the Xenomai 2 nucleus heap interface: the
// caller declares xnheap_t, passes u_long sizes and a flush routine of the
// Xenomai 2 type, and the calls behave as documented in xnheap.h.
#include <sys/types.h> // the BSD u_long typedef comes first, as in Xenomai code

#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "rtheap/xnheap.h"
#include "test_common.h"

extern "C" int xnheap_c_program(void *mem, u_long size); // test_xnheap_c.c

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

// A global heap, as kernel code declared it.
xnheap_t kheap;

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

TEST(Xnheap, BadInit)
{
	rtt::Mapping mem(65536);
	xnheap_t heap;
	for (u_long bad : {3ul, 100ul, 3000ul, 65536ul}) {
		EXPECT_EQ(-EINVAL, xnheap_init(&heap, mem.data(), 65536, bad)) << bad;
	}
	EXPECT_EQ(-EINVAL, xnheap_init(&heap, nullptr, 65536, 256));
	EXPECT_EQ(-EINVAL, xnheap_init(&heap, mem.data() + 4, 65000, 256));
	EXPECT_EQ(-EINVAL, xnheap_init(&heap, mem.data(), 300, 256));
}

TEST(Xnheap, ExtendTestAndFreeAndFlush)
{
	static unsigned char first[64 * 1024 + 100] __attribute__((aligned(8)));
	rtt::Mapping second(200000), third(3 << 20);
	ASSERT_EQ(0, xnheap_init(&kheap, first, sizeof first, 512));
	const u_long usable1 = xnheap_usable_mem(&kheap);
	// Extents of other sizes than the first, and bigger than 16 MiB is not
	// needed here: 3 MiB already exceeds the first extent's size.
	ASSERT_EQ(0, xnheap_extend(&kheap, second.data(), 200000));
	ASSERT_EQ(0, xnheap_extend(&kheap, third.data(), 3 << 20));
	EXPECT_EQ(-EINVAL, xnheap_extend(&kheap, third.data() + 4096, 65536)); // overlap
	EXPECT_EQ(-EINVAL, xnheap_extend(&kheap, first, sizeof first));
	EXPECT_EQ((u_long)sizeof first, xnheap_extentsize(&kheap));
	const u_long usable = xnheap_usable_mem(&kheap);
	EXPECT_EQ(usable1 + (200000 - xnheap_overhead(200000, 512)) +
	              ((3ul << 20) - xnheap_overhead(3ul << 20, 512)),
	          usable);
	EXPECT_GT(xnheap_max_contiguous(&kheap), 2ul << 20);
	// A block only the third extent can hold.
	void *big = xnheap_alloc(&kheap, 2 << 20);
	ASSERT_NE(nullptr, big);
	EXPECT_GE(static_cast<unsigned char *>(big), third.data());
	EXPECT_LE(static_cast<unsigned char *>(big) + (2 << 20), third.data() + (3 << 20));
	EXPECT_EQ((u_long)(2 << 20), xnheap_used_mem(&kheap));

	void *p = xnheap_alloc(&kheap, 40);
	ASSERT_NE(nullptr, p);
	std::memset(p, 0x11, 40);
	EXPECT_EQ(-EBUSY, xnheap_test_and_free(&kheap, p, refuse));
	EXPECT_EQ(0, xnheap_check_block(&kheap, p));
	EXPECT_EQ(0x11, static_cast<unsigned char *>(p)[39]);
	EXPECT_EQ((u_long)(2 << 20) + 64, xnheap_used_mem(&kheap));
	EXPECT_EQ(0, xnheap_test_and_free(&kheap, p, accept_all));
	EXPECT_EQ(-EINVAL, xnheap_check_block(&kheap, p));
	EXPECT_EQ(-EINVAL, xnheap_free(&kheap, p));
	EXPECT_EQ(0, xnheap_free(&kheap, big));
	EXPECT_EQ(0u, xnheap_used_mem(&kheap));
	EXPECT_EQ(0, rtheap_check(&kheap.rt, nullptr));

	g_flushed.clear();
	EXPECT_EQ(0, xnheap_destroy(&kheap, flush_extent, nullptr));
	std::set<std::pair<void *, u_long>> got, want{{first, (u_long)sizeof first},
	                                               {second.data(), 200000ul},
	                                               {third.data(), 3ul << 20}};
	for (auto &f : g_flushed) {
		EXPECT_EQ(&kheap, f.heap);
		got.insert({f.addr, f.size});
	}
	EXPECT_EQ(3u, g_flushed.size());
	EXPECT_EQ(want, got);
	EXPECT_EQ(nullptr, g_cookie);
	// A NULL flush routine is accepted, and the heap can be set up again.
	ASSERT_EQ(0, xnheap_init(&kheap, first, sizeof first, 512));
	EXPECT_EQ(0, xnheap_destroy(&kheap, nullptr, nullptr));
}

TEST(Xnheap, ExtentTableFull)
{
	rtt::Mapping mem(RTHEAP_MAX_EXTENTS * 8192 + 8192);
	xnheap_t heap;
	ASSERT_EQ(0, xnheap_init(&heap, mem.data(), 8192, 256));
	for (int i = 1; i < RTHEAP_MAX_EXTENTS; i++) {
		ASSERT_EQ(0, xnheap_extend(&heap, mem.data() + i * 8192, 8192)) << i;
	}
	EXPECT_EQ(-ENOSPC, xnheap_extend(&heap, mem.data() + RTHEAP_MAX_EXTENTS * 8192, 8192));
	EXPECT_EQ(0, xnheap_destroy(&heap, nullptr, nullptr));
}

TEST(Xnheap, CProgram)
{
	rtt::Mapping mem(1 << 20);
	EXPECT_EQ(0, xnheap_c_program(mem.data(), 1 << 20));
}

} // namespace
