/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/walloc.h with the embedded web server's
// block allocator, as shared/docs/seed-systems.md (family 3) describes
// it: thirteen power-of-two classes from 16 B to 64 KiB, a buffer given
// by the user or allocated once, reference-counted open and close, a
// realloc that keeps a block big enough, a notifier called with the size
// that could not be served, the fall-back to malloc with USE_MALLOC and
// the routing of each release; plus what this port adds: bad pointers
// caught, reported, harmless.
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "rtheap/compat/walloc.h"
#include "compat_common.h"
#include "test_common.h"

extern "C" int walloc_c_program(void); // test_compat_walloc_c.c

namespace {

// ---- the original's forms, at compile time ----
static_assert(std::is_same<decltype(&wopenAlloc), int (*)(void *, int, int)>::value,
              "int wopenAlloc(void *buf, int bufsize, int flags)");
static_assert(std::is_same<decltype(&wcloseAlloc), void (*)(void)>::value, "wcloseAlloc");
static_assert(std::is_same<decltype(&walloc), void *(*)(int)>::value, "void *walloc(int)");
static_assert(std::is_same<decltype(&wfree), void (*)(void *)>::value, "void wfree(void *)");
static_assert(std::is_same<decltype(&wrealloc), void *(*)(void *, int)>::value,
              "void *wrealloc(void *, int)");
static_assert(std::is_same<WebsMemNotifier, void (*)(int)>::value, "notifier type");
static_assert(std::is_same<decltype(&websSetMemNotifier), void (*)(WebsMemNotifier)>::value,
              "websSetMemNotifier");
static_assert(USE_MALLOC == 1 && WEBS_USE_MALLOC == 1 && WEBS_USER_BUF == 2, "flags");
static_assert(WEBS_MAX_CLASS == 13 && WEBS_SHIFT == 4, "classes");
static_assert(WEBS_DEFAULT_MEM == 64 * 1024, "default buffer");

using rtt::Misuse;
using rtt::record_misuse;

constexpr int kBuf = 1 << 20;

std::vector<int> g_notified;
void on_low_memory(int size)
{
	g_notified.push_back(size);
}

rtclass_stats gstats()
{
	rtclass_stats st;
	std::memset(&st, 0x5a, sizeof st);
	EXPECT_EQ(0, rtclass_get_stats(rtclass_global(), &st));
	return st;
}

bool inside(const void *p, const void *buf, size_t size)
{
	auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(buf);
	return a >= b && a < b + size;
}

// Every test starts with the global class heap closed and the notifier
// recording, and closes every reference it left.
class Walloc : public ::testing::Test {
protected:
	rtt::Mapping mem_{kBuf};
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_EQ(nullptr, rtclass_heap(rtclass_global())) << "closed between tests";
		g_notified.clear();
		websSetMemNotifier(on_low_memory);
	}
	void TearDown() override
	{
		if (rtheap_t *h = rtclass_heap(rtclass_global())) {
			EXPECT_TRUE(rtt::heap_ok(h));
		}
		while (rtclass_close(rtclass_global()) > 0) {
		}
		websSetMemNotifier(nullptr);
	}
	void open(int flags, int size = kBuf)
	{
		ASSERT_EQ(0, wopenAlloc(mem_.data(), size, flags));
		ASSERT_EQ(0, rtheap_set_error_handler(rtclass_heap(rtclass_global()), record_misuse,
		                                      &misuse_));
	}
	// walloc(size) until a block comes from outside the buffer or none.
	std::vector<void *> fill_buffer(int size)
	{
		std::vector<void *> v;
		websSetMemNotifier(nullptr);
		for (;;) {
			void *p = walloc(size);
			if (!p || !inside(p, mem_.data(), mem_.size())) {
				wfree(p);
				break;
			}
			v.push_back(p);
		}
		websSetMemNotifier(on_low_memory);
		return v;
	}
};

TEST_F(Walloc, ThirteenRealClassesAndReallocKeepsTheBlock)
{
	open(0);
	for (int q = 0; q < 13; q++) {
		const int cls = 16 << q;
		auto *p = static_cast<unsigned char *>(walloc(cls / 2 + 1));
		ASSERT_NE(nullptr, p) << cls;
		EXPECT_TRUE(inside(p, mem_.data(), mem_.size()));
		std::memset(p, 0x33, size_t(cls)); // the whole class is usable
		EXPECT_EQ(p, wrealloc(p, cls)) << "grown within the class: kept, " << cls;
		EXPECT_EQ(p, wrealloc(p, 1)) << "shrunk: kept, " << cls;
		EXPECT_EQ(size_t(cls), rtclass_usable_size(rtclass_global(), p));
		EXPECT_EQ(1u, gstats().heap_live);
		if (q < 12) {
			auto *n = static_cast<unsigned char *>(wrealloc(p, cls + 1));
			ASSERT_NE(nullptr, n);
			EXPECT_NE(p, n) << "beyond the class: moved";
			EXPECT_EQ(0x33, n[0]);
			EXPECT_EQ(0x33, n[cls - 1]);
			EXPECT_EQ(size_t(2 * cls), rtclass_usable_size(rtclass_global(), n));
			EXPECT_EQ(1u, gstats().heap_live) << "the old block released";
			p = n;
		}
		wfree(p);
	}
	void *z = walloc(0);
	EXPECT_NE(nullptr, z) << "0 bytes: the 16-byte class";
	EXPECT_EQ(16u, rtclass_usable_size(rtclass_global(), z));
	EXPECT_EQ(1u, gstats().heap_live);
	wfree(z);
	EXPECT_EQ(0u, gstats().heap_bytes);
	EXPECT_TRUE(g_notified.empty());
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(Walloc, UserBufferOrOneAllocatedOnce)
{
	open(0);
	void *p = walloc(5000);
	EXPECT_TRUE(inside(p, mem_.data(), mem_.size())) << "the user's buffer";
	wfree(p);
	wcloseAlloc();
	ASSERT_EQ(0, wopenAlloc(nullptr, 300000, 0));
	EXPECT_EQ(300000u, gstats().buffer);
	p = walloc(5000);
	ASSERT_NE(nullptr, p);
	EXPECT_FALSE(inside(p, mem_.data(), mem_.size()));
	EXPECT_EQ(0, rtheap_check_block(rtclass_heap(rtclass_global()), p));
	wfree(p);
	wcloseAlloc();
	ASSERT_EQ(0, wopenAlloc(nullptr, 0, 0));
	EXPECT_EQ(size_t(WEBS_DEFAULT_MEM), gstats().buffer) << "0: the default size";
	wcloseAlloc();
}

TEST_F(Walloc, OpenAndCloseAreReferenceCounted)
{
	open(0);
	ASSERT_EQ(0, wopenAlloc(nullptr, 4096, USE_MALLOC)) << "a second user";
	EXPECT_EQ(2u, gstats().refs);
	void *p = walloc(100);
	EXPECT_TRUE(inside(p, mem_.data(), mem_.size())) << "still the first buffer";
	wcloseAlloc();
	EXPECT_NE(nullptr, rtclass_heap(rtclass_global())) << "one user left";
	EXPECT_EQ(128u, rtclass_usable_size(rtclass_global(), p));
	wfree(p);
	wcloseAlloc();
	EXPECT_EQ(nullptr, rtclass_heap(rtclass_global())) << "the last close";
	wcloseAlloc(); // one too many: harmless
	EXPECT_EQ(nullptr, rtclass_heap(rtclass_global()));
}

TEST_F(Walloc, WallocBeforeAnyOpenOpensWithTheDefaults)
{
	void *p = walloc(100);
	ASSERT_NE(nullptr, p);
	const rtclass_stats st = gstats();
	EXPECT_EQ(size_t(WEBS_DEFAULT_MEM), st.buffer);
	EXPECT_EQ(1u, st.refs);
	EXPECT_EQ(nullptr, walloc(70000)) << "the defaults do not allow malloc";
	EXPECT_EQ(std::vector<int>{70000}, g_notified);
	wfree(p);
	wcloseAlloc();
	EXPECT_EQ(nullptr, rtclass_heap(rtclass_global()));
}

TEST_F(Walloc, NotifierOnlyOnFailureWithTheSize)
{
	open(0, 256 * 1024);
	std::vector<void *> v = fill_buffer(4000);
	EXPECT_TRUE(g_notified.empty()) << "every success is silent";
	EXPECT_EQ(nullptr, walloc(3000));
	EXPECT_EQ(std::vector<int>{3000}, g_notified);
	void *small = v.back();
	v.pop_back();
	EXPECT_EQ(nullptr, wrealloc(small, 9000)) << "no room to grow";
	EXPECT_EQ((std::vector<int>{3000, 9000}), g_notified);
	EXPECT_EQ(nullptr, walloc(-1));
	EXPECT_EQ(2u, g_notified.size()) << "a negative size is no shortage";
	websSetMemNotifier(nullptr);
	EXPECT_EQ(nullptr, walloc(3000));
	EXPECT_EQ(2u, g_notified.size()) << "cleared";
	wfree(small);
	for (void *p : v)
		wfree(p);
}

TEST_F(Walloc, UseMallocFallsBackAndEachBlockGoesHome)
{
	open(USE_MALLOC, 256 * 1024);
	rtheap_t *h = rtclass_heap(rtclass_global());
	void *huge = walloc(100000);
	ASSERT_NE(nullptr, huge) << "above 64 KiB: malloc";
	EXPECT_FALSE(inside(huge, mem_.data(), mem_.size()));
	std::vector<void *> v = fill_buffer(1000);
	void *over = walloc(1000);
	ASSERT_NE(nullptr, over) << "the buffer is full: malloc";
	EXPECT_FALSE(inside(over, mem_.data(), mem_.size()));
	EXPECT_EQ(over, wrealloc(over, 1024)) << "a fall-back block holds its class too";
	EXPECT_EQ(2u, gstats().sys_live);
	// releasing the fall-back blocks changes nothing in the heap
	const rtheap_stats hs = rtt::stats(h);
	wfree(huge);
	wfree(over);
	rtt::expect_same_stats(hs, rtt::stats(h), "fall-back releases");
	EXPECT_EQ(0u, gstats().sys_live);
	// and a heap block goes back to the heap
	wfree(v.back());
	v.pop_back();
	EXPECT_EQ(hs.live_blocks - 1, rtt::stats(h).live_blocks);
	for (void *p : v)
		wfree(p);
	EXPECT_TRUE(g_notified.empty());
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(Walloc, NegativeSizes)
{
	EXPECT_EQ(-1, wopenAlloc(mem_.data(), -1, 0));
	EXPECT_EQ(-1, wopenAlloc(nullptr, INT_MIN, USE_MALLOC));
	EXPECT_EQ(nullptr, rtclass_heap(rtclass_global())) << "still closed";
	open(USE_MALLOC);
	EXPECT_EQ(nullptr, walloc(-1));
	EXPECT_EQ(nullptr, walloc(INT_MIN));
	auto *p = static_cast<char *>(walloc(10));
	ASSERT_NE(nullptr, p);
	std::strcpy(p, "kept");
	EXPECT_EQ(nullptr, wrealloc(p, -1));
	EXPECT_STREQ("kept", p);
	EXPECT_EQ(16u, rtclass_usable_size(rtclass_global(), p));
	EXPECT_EQ(nullptr, wrealloc(nullptr, -1));
	wfree(p);
	EXPECT_TRUE(g_notified.empty());
	EXPECT_EQ(0u, gstats().failed);
}

TEST_F(Walloc, BadPointersAreReportedNotFollowed)
{
	open(USE_MALLOC);
	rtheap_t *h = rtclass_heap(rtclass_global());
	auto *a = static_cast<unsigned char *>(walloc(64));
	auto *b = static_cast<unsigned char *>(walloc(64));
	auto *s = static_cast<unsigned char *>(walloc(70000));
	ASSERT_TRUE(a && b && s);
	wfree(b);
	int local = 0;
	const struct {
		const char *what;
		void *p;
		rtheap_error_kind_t kind;
	} cases[] = {
		{"a stack address", &local, RTHEAP_ERR_FOREIGN},
		{"inside a block", a + 8, RTHEAP_ERR_NOT_BLOCK},
		{"released twice", b, RTHEAP_ERR_DOUBLE_FREE},
		{"inside a malloc block", s + 8, RTHEAP_ERR_FOREIGN},
	};
	for (const auto &c : cases) {
		const rtheap_stats hs = rtt::stats(h);
		const rtclass_stats cs = gstats();
		misuse_.clear();
		wfree(c.p);
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.p, misuse_[0].addr) << c.what;
		EXPECT_EQ(nullptr, wrealloc(c.p, 100)) << c.what;
		EXPECT_EQ(2u, misuse_.size()) << c.what;
		const rtheap_stats hs2 = rtt::stats(h);
		rtt::expect_same_stats(hs, hs2, c.what);
		EXPECT_EQ(hs.errors + 2, hs2.errors) << c.what;
		EXPECT_EQ(cs.sys_live, gstats().sys_live) << c.what;
	}
	EXPECT_TRUE(g_notified.empty());
	wfree(a);
	wfree(s);
}

TEST_F(Walloc, DebugFillThroughTheHeapsDebugMode)
{
	open(WALLOC_DEBUG_FILL);
	auto *p = static_cast<unsigned char *>(walloc(100));
	ASSERT_NE(nullptr, p);
	for (int i = 0; i < 128; i++)
		ASSERT_EQ(0xa5, p[i]) << i;
	wfree(p);
	if (!RTHEAP_TEST_ASAN) { // ASan stops the reads and writes of freed memory
		EXPECT_EQ(0xdd, p[127]) << "freed: the freed pattern";
		p[100] = 0; // written after release
	}
	void *again = walloc(128);
	EXPECT_EQ(p, again);
	ASSERT_EQ(RTHEAP_TEST_ASAN ? 0u : 1u, misuse_.size());
	if (!RTHEAP_TEST_ASAN) {
		EXPECT_EQ(RTHEAP_ERR_USE_AFTER_FREE, misuse_[0].kind);
	}
	wfree(again);
}

TEST_F(Walloc, ACProgramOfTheCalls)
{
	EXPECT_EQ(0, walloc_c_program());
	EXPECT_EQ(nullptr, rtclass_heap(rtclass_global())) << "it closed what it opened";
}

} // namespace
