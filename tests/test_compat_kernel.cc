/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/kernel.h with the kernel's general and page
// allocation calls of the device-driver textbook, as shared/docs/
// seed-systems.md (family 5) describes them: allocation with flags that
// say whether the caller may wait and whether memory must be zeroed;
// 2^order contiguous pages, a get-order helper, zeroed-page variants,
// release by order.  Plus what this port adds: misuse caught, reported
// to the default heap's error callback, harmless.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "rtheap/compat/kernel.h"
#include "rtheap/compat/slab.h" // both: one definition of the GFP flags
#include "compat_common.h"
#include "test_common.h"

extern "C" int kernel_c_program(void); // test_compat_kernel_c.c

namespace {

// ---- the kernel's types and signatures, at compile time ----
static_assert(std::is_same<decltype(&kmalloc), void *(*)(size_t, gfp_t)>::value, "kmalloc");
static_assert(std::is_same<decltype(&kzalloc), void *(*)(size_t, gfp_t)>::value, "kzalloc");
static_assert(std::is_same<decltype(&kcalloc), void *(*)(size_t, size_t, gfp_t)>::value,
              "kcalloc");
static_assert(std::is_same<decltype(&kmalloc_array), void *(*)(size_t, size_t, gfp_t)>::value,
              "kmalloc_array");
static_assert(std::is_same<decltype(&kfree), void (*)(const void *)>::value, "kfree");
static_assert(std::is_same<decltype(&ksize), size_t (*)(const void *)>::value, "ksize");
static_assert(std::is_same<decltype(&__get_free_pages),
                           unsigned long (*)(gfp_t, unsigned int)>::value,
              "__get_free_pages");
static_assert(std::is_same<decltype(&get_zeroed_page), unsigned long (*)(gfp_t)>::value,
              "get_zeroed_page");
static_assert(std::is_same<decltype(&free_pages), void (*)(unsigned long, unsigned int)>::value,
              "free_pages");
static_assert(std::is_same<decltype(&get_order), int (*)(unsigned long)>::value, "get_order");
static_assert(std::is_same<decltype(PAGE_SIZE), unsigned long>::value, "PAGE_SIZE type");
static_assert(PAGE_SIZE == 4096 && PAGE_SHIFT == 12, "PAGE_SIZE");
static_assert(PAGE_MASK == ~4095ul, "PAGE_MASK");
static_assert(std::is_same<gfp_t, unsigned int>::value, "gfp_t");
// one flag word for the slab calls and these
static_assert(GFP_ATOMIC == (int)RTKMEM_ATOMIC && GFP_ATOMIC == (int)RTPOOL_NOWAIT, "GFP_ATOMIC");
static_assert(GFP_KERNEL == (int)RTKMEM_WAIT && GFP_KERNEL == (int)RTPOOL_WAIT, "GFP_KERNEL");
static_assert(__GFP_ZERO == (int)RTKMEM_ZERO && (__GFP_ZERO & GFP_KERNEL) == 0, "__GFP_ZERO");

// The default heap of this process: small and without its helper thread,
// so that only a GFP_KERNEL allocation can make it grow.  Set before any
// use of rtheap_default() (static initialisation).
const int default_setup_rc =
    rtheap_default_setup(256u << 10, 256u << 10, 64u << 20, RTHEAP_DEFAULT_NOHELPER);

using rtt::Misuse;

bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *c = static_cast<const unsigned char *>(p);
	for (size_t i = 0; i < n; i++)
		if (c[i] != v)
			return false;
	return true;
}

rtheap_default_info dinfo()
{
	rtheap_default_info i{};
	EXPECT_EQ(0, rtheap_default_stats(&i));
	return i;
}

// Misuse of the default heap recorded in misuse_ for the test's length.
class CompatKernel : public ::testing::Test {
protected:
	rtheap_t *heap_ = nullptr;
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_EQ(0, default_setup_rc);
		heap_ = rtheap_default();
		ASSERT_NE(nullptr, heap_);
		ASSERT_EQ(0, rtheap_set_error_handler(heap_, rtt::record_misuse, &misuse_));
	}
	void TearDown() override
	{
		EXPECT_TRUE(rtt::heap_ok(heap_));
		rtheap_set_error_handler(heap_, nullptr, nullptr);
	}

	// release() is refused: one misuse of kind at addr, the heap's
	// statistics unchanged but errors + 1.
	template <class Release>
	void expect_refused(const char *what, const void *addr, rtheap_error_kind_t kind,
	                    Release release)
	{
		const rtheap_stats a = rtt::stats(heap_);
		misuse_.clear();
		release();
		ASSERT_EQ(1u, misuse_.size()) << what;
		EXPECT_EQ(kind, misuse_[0].kind) << what;
		EXPECT_EQ(addr, misuse_[0].addr) << what;
		const rtheap_stats b = rtt::stats(heap_);
		rtt::expect_same_stats(a, b, what);
		EXPECT_EQ(a.errors + 1, b.errors) << what;
	}
};

TEST_F(CompatKernel, TextbookDriverInC)
{
	const size_t live = rtt::stats(heap_).live_blocks;
	EXPECT_EQ(0, kernel_c_program());
	EXPECT_EQ(live, rtt::stats(heap_).live_blocks);
	EXPECT_TRUE(misuse_.empty());
}

// kernel.h is the one header of a driver: it brings the per-CPU calls too
TEST_F(CompatKernel, PerCpuCallsComeWithTheHeader)
{
	const size_t live = rtt::stats(heap_).live_blocks;
	long *ctr = alloc_percpu(long);
	ASSERT_NE(ctr, nullptr);
	unsigned seen = 0;
	int cpu;
	for_each_possible_cpu(cpu) {
		long *mine = per_cpu_ptr(ctr, cpu);
		ASSERT_NE(mine, nullptr);
		EXPECT_EQ(*mine, 0) << "zeroed, cpu " << cpu;
		*mine = cpu + 1;
		seen++;
	}
	EXPECT_EQ(seen, num_possible_cpus());
	for_each_possible_cpu(cpu) EXPECT_EQ(*per_cpu_ptr(ctr, cpu), cpu + 1);
	free_percpu(ctr);
	EXPECT_EQ(live, rtt::stats(heap_).live_blocks);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatKernel, KmallocWithFlags)
{
	void *p = kmalloc(100, GFP_ATOMIC);
	ASSERT_NE(nullptr, p);
	EXPECT_GE(ksize(p), 100u);
	EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % ARCH_KMALLOC_MINALIGN);
	std::memset(p, 0xee, ksize(p));
	kfree(p);
	void *z = kzalloc(100, GFP_KERNEL);
	ASSERT_EQ(p, z); // the block just released (the test's premise)
	EXPECT_TRUE(all_bytes(z, ksize(z), 0));
	std::memset(z, 0xee, ksize(z));
	kfree(z);
	z = kmalloc(100, GFP_KERNEL | __GFP_ZERO);
	ASSERT_EQ(p, z);
	EXPECT_TRUE(all_bytes(z, 100, 0));
	std::memset(z, 0xee, 100);
	kfree(z);
	z = kmalloc(100, GFP_ATOMIC);
	ASSERT_EQ(p, z);
	EXPECT_FALSE(all_bytes(z, 100, 0)); // without __GFP_ZERO: not zeroed
	kfree(z);
	// kcalloc: zeroed, overflow refused
	void *c = kcalloc(10, 30, GFP_KERNEL);
	ASSERT_NE(nullptr, c);
	EXPECT_TRUE(all_bytes(c, 300, 0));
	kfree(c);
	EXPECT_EQ(nullptr, kcalloc(SIZE_MAX / 2, 3, GFP_KERNEL));
	EXPECT_EQ(nullptr, kmalloc_array(3, SIZE_MAX / 2, GFP_ATOMIC));
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatKernel, ZeroSizeAndNullAreHarmless)
{
	const rtheap_stats a = rtt::stats(heap_);
	void *z = kmalloc(0, GFP_KERNEL);
	EXPECT_EQ(ZERO_SIZE_PTR, z);
	EXPECT_TRUE(ZERO_OR_NULL_PTR(z));
	EXPECT_EQ(0u, ksize(z));
	kfree(z);
	kfree(nullptr);
	free_pages(0, 0);
	free_pages(0, 7);
	const rtheap_stats b = rtt::stats(heap_);
	rtt::expect_same_stats(a, b, "zero and null");
	EXPECT_EQ(a.errors, b.errors);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatKernel, PagesAlignedToTheirOrder)
{
	EXPECT_EQ(0, get_order(1));
	EXPECT_EQ(0, get_order(PAGE_SIZE));
	EXPECT_EQ(1, get_order(PAGE_SIZE + 1));
	EXPECT_EQ(3, get_order(5 * PAGE_SIZE));
	EXPECT_EQ(10, get_order(4ul << 20));
	for (unsigned o = 0; o <= 5; o++) {
		unsigned long a = __get_free_pages(GFP_KERNEL, o);
		ASSERT_NE(0ul, a) << o;
		EXPECT_EQ(0ul, a % (PAGE_SIZE << o)) << o;
		std::memset(reinterpret_cast<void *>(a), 0x3c, PAGE_SIZE << o);
		free_pages(a, o);
		unsigned long z = __get_free_pages(GFP_ATOMIC | __GFP_ZERO, o);
		ASSERT_EQ(a, z) << o; // the run just released (the test's premise)
		EXPECT_TRUE(all_bytes(reinterpret_cast<void *>(z), PAGE_SIZE << o, 0)) << o;
		free_pages(z, o);
	}
	unsigned long g = get_zeroed_page(GFP_KERNEL);
	ASSERT_NE(0ul, g);
	EXPECT_EQ(0ul, g % PAGE_SIZE);
	EXPECT_TRUE(all_bytes(reinterpret_cast<void *>(g), PAGE_SIZE, 0));
	free_page(g);
	EXPECT_TRUE(misuse_.empty());
}

// No helper thread: GFP_ATOMIC fails at once where GFP_KERNEL grows the
// default heap and succeeds.
TEST_F(CompatKernel, GfpKernelGrowsTheDefaultHeap)
{
	const size_t big = rtt::stats(heap_).largest_free + (512u << 10);
	const size_t ext = dinfo().grow_extents;
	EXPECT_EQ(nullptr, kmalloc(big, GFP_ATOMIC));
	EXPECT_EQ(ext, dinfo().grow_extents);
	void *p = kmalloc(big, GFP_KERNEL);
	ASSERT_NE(nullptr, p);
	EXPECT_EQ(ext + 1, dinfo().grow_extents);
	std::memset(p, 1, big);
	const unsigned order = unsigned(get_order(rtt::stats(heap_).largest_free + 1));
	EXPECT_EQ(0ul, __get_free_pages(GFP_ATOMIC, order));
	unsigned long pg = __get_free_pages(GFP_KERNEL, order);
	ASSERT_NE(0ul, pg);
	EXPECT_EQ(0ul, pg % (PAGE_SIZE << order));
	EXPECT_EQ(ext + 2, dinfo().grow_extents);
	free_pages(pg, order);
	kfree(p);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatKernel, BadReleasesAreReportedAndChangeNothing)
{
	char *blk = static_cast<char *>(kmalloc(1000, GFP_KERNEL));
	unsigned long pg = __get_free_pages(GFP_KERNEL, 1);
	unsigned long gone = __get_free_page(GFP_KERNEL);
	// a neighbour keeps the bucket page of gone_blk in use, so that the
	// heap tells a double release from a pointer into free memory
	char *neighbour = static_cast<char *>(kmalloc(64, GFP_KERNEL));
	char *gone_blk = static_cast<char *>(kmalloc(64, GFP_KERNEL));
	ASSERT_TRUE(blk && pg && gone && neighbour && gone_blk);
	free_page(gone);
	kfree(gone_blk);
	std::memset(blk, 0x11, 1000);
	std::memset(reinterpret_cast<void *>(pg), 0x22, 2 * PAGE_SIZE);
	int local = 0;
	void *pgp = reinterpret_cast<void *>(pg);
	expect_refused("kfree: interior", blk + 16, RTHEAP_ERR_NOT_BLOCK,
	               [&] { kfree(blk + 16); });
	expect_refused("kfree: double", gone_blk, RTHEAP_ERR_DOUBLE_FREE,
	               [&] { kfree(gone_blk); });
	expect_refused("kfree: foreign", &local, RTHEAP_ERR_FOREIGN, [&] { kfree(&local); });
	expect_refused("kfree: a page block", pgp, RTHEAP_ERR_NOT_BLOCK, [&] { kfree(pgp); });
	expect_refused("free_pages: wrong order", pgp, RTHEAP_ERR_NOT_BLOCK,
	               [&] { free_pages(pg, 0); });
	expect_refused("free_pages: wrong order, larger", pgp, RTHEAP_ERR_NOT_BLOCK,
	               [&] { free_pages(pg, 2); });
	void *inner = reinterpret_cast<void *>(pg + PAGE_SIZE);
	expect_refused("free_pages: interior", inner, RTHEAP_ERR_NOT_BLOCK,
	               [&] { free_pages(pg + PAGE_SIZE, 0); });
	void *gonep = reinterpret_cast<void *>(gone);
	expect_refused("free_pages: double", gonep, RTHEAP_ERR_NOT_BLOCK,
	               [&] { free_page(gone); });
	expect_refused("free_pages: a kmalloc block", blk, RTHEAP_ERR_NOT_BLOCK,
	               [&] { free_pages(reinterpret_cast<unsigned long>(blk), 0); });
	void *stack = &local;
	expect_refused("free_pages: foreign", stack, RTHEAP_ERR_FOREIGN,
	               [&] { free_pages(reinterpret_cast<unsigned long>(stack), 0); });
	EXPECT_TRUE(all_bytes(blk, 1000, 0x11));
	EXPECT_TRUE(all_bytes(pgp, 2 * PAGE_SIZE, 0x22));
	kfree(blk);
	kfree(neighbour);
	free_pages(pg, 1);
}

} // namespace
