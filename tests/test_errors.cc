/* SPDX-License-Identifier: MIT */
// One test per row of docs/errors.md: every class of bad input to every
// public function, the value the call returns, and the rule that an error
// leaves the heap unchanged (rtheap_check passes, live blocks keep their
// contents, statistics are unchanged apart from the error counters).
//
// Test names are the row identifiers used in docs/errors.md.

#include <dlfcn.h>
#include <pthread.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "rtheap/rtheap.h"
#include "rtheap/xnheap.h"

#include "test_common.h"

#if RTHEAP_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

using rtt::AlignedBuf;

namespace {

// Memory that is not part of any heap, for "foreign address" rows.
alignas(64) unsigned char g_foreign[1024];

struct Recorded {
	rtheap_error_kind_t kind;
	const void *addr;
	rtheap_t *heap;
};

void record_error(rtheap_t *h, rtheap_error_kind_t kind, const void *addr, void *arg)
{
	static_cast<std::vector<Recorded> *>(arg)->push_back({kind, addr, h});
}

struct Live {
	unsigned char *p;
	size_t n;
	unsigned char seed;
};

// The fixture's pattern in a live block (tests/test_common.h).
void fill(const Live &b)
{
	rtt::fill(b.p, b.n, b.seed);
}

bool intact(const Live &b)
{
	return rtt::verify(b.p, b.n, b.seed) == SIZE_MAX;
}

// A heap with a mix of live blocks (bucket blocks of several classes, a
// one-page block and multi-page runs), a freed bucket block and a freed
// run, so that every kind of page is present.
class ErrHeap : public ::testing::Test {
protected:
	static constexpr size_t kBuf = 256 * 1024;
	AlignedBuf buf{kBuf};
	rtheap_t heap{};
	std::vector<Live> live;
	std::vector<Recorded> errs;
	unsigned char *freed_small = nullptr; // a free block in a used bucket page
	unsigned char *freed_run = nullptr;   // first page of a freed run
	rtheap_stats before{};

	void SetUp() override { make(0, 0); }

	// The fixture's heap again, with another page size or flags.
	void remake(size_t page, unsigned flags)
	{
		ASSERT_EQ(rtheap_destroy(&heap, nullptr, nullptr), 0);
		live.clear();
		ASSERT_NO_FATAL_FAILURE(make(page, flags));
	}
	void make(size_t page, unsigned flags)
	{
		struct rtheap_config cfg{};
		cfg.page_size = page;
		cfg.flags = flags;
		cfg.name = "errors";
		ASSERT_EQ(rtheap_init(&heap, buf.p, buf.n, &cfg), 0);
		ASSERT_EQ(rtheap_set_error_handler(&heap, record_error, &errs), 0);
		const size_t P = rtheap_page_size(&heap);
		const size_t sizes[] = {16, 24, 64, 100, P / 2, P, P + 1, 3 * P, 5 * P + 17};
		unsigned char seed = 1;
		for (size_t s : sizes) {
			auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, s));
			ASSERT_NE(p, nullptr) << s;
			live.push_back({p, s, seed++});
			fill(live.back());
		}
		// Freed bucket block: allocate two of a class, free the first.
		freed_small = static_cast<unsigned char *>(rtheap_alloc(&heap, 32));
		auto *keep = static_cast<unsigned char *>(rtheap_alloc(&heap, 32));
		ASSERT_NE(freed_small, nullptr);
		ASSERT_NE(keep, nullptr);
		live.push_back({keep, 32, seed++});
		fill(live.back());
		ASSERT_EQ(rtheap_free(&heap, freed_small), 0);
		// Freed run between two live runs, so it stays a separate free run.
		freed_run = static_cast<unsigned char *>(rtheap_alloc(&heap, 4 * P));
		auto *guard = static_cast<unsigned char *>(rtheap_alloc(&heap, 2 * P));
		ASSERT_NE(freed_run, nullptr);
		ASSERT_NE(guard, nullptr);
		live.push_back({guard, 2 * P, seed++});
		fill(live.back());
		ASSERT_EQ(rtheap_free(&heap, freed_run), 0);
		snapshot();
	}

	void snapshot()
	{
		ASSERT_EQ(rtheap_get_stats(&heap, &before), 0);
		errs.clear();
	}

	// The heap is exactly as at the last snapshot; @p misuses errors were
	// counted in between.
	void expect_unchanged(size_t misuses)
	{
		EXPECT_TRUE(rtt::heap_ok(&heap));
		for (const Live &b : live) {
			EXPECT_TRUE(intact(b)) << static_cast<void *>(b.p);
			EXPECT_EQ(rtheap_check_block(&heap, b.p), 0);
		}
		rtheap_stats now{};
		ASSERT_EQ(rtheap_get_stats(&heap, &now), 0);
		rtt::expect_same_stats(before, now, "rejected call", false);
		EXPECT_EQ(now.errors, before.errors + misuses);
		EXPECT_EQ(errs.size(), misuses);
	}

	size_t P() const { return rtheap_page_size(&heap); }
	void *extent_begin() const { return buf.p; }
	void *extent_end() const { return buf.p + buf.n; }
};

// ------------------------------------------------------------------
// rtheap_init
// ------------------------------------------------------------------

TEST(ErrInit, NullDescriptor)
{
	AlignedBuf b(64 * 1024);
	EXPECT_EQ(rtheap_init(nullptr, b.p, b.n, nullptr), -EINVAL);
}

TEST(ErrInit, NullBuffer)
{
	rtheap_t h{};
	EXPECT_EQ(rtheap_init(&h, nullptr, 64 * 1024, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_page_size(&h), 0u); // still not initialised
	EXPECT_EQ(rtheap_alloc(&h, 16), nullptr);
}

TEST(ErrInit, MisalignedBuffer)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	for (size_t off : {1, 2, 3, 4, 5, 6, 7, 12}) {
		EXPECT_EQ(rtheap_init(&h, b.p + off, b.n - off, nullptr), -EINVAL) << off;
		EXPECT_EQ(rtheap_page_size(&h), 0u);
	}
	// 8-byte alignment is enough.
	for (size_t off : {8, 16, 24, 40}) {
		ASSERT_EQ(rtheap_init(&h, b.p + off, b.n - off, nullptr), 0) << off;
		EXPECT_EQ(rtheap_check(&h, nullptr), 0);
		EXPECT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	}
}

TEST(ErrInit, TooSmall)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	for (size_t page : {256u, 512u, 1024u, 4096u}) {
		struct rtheap_config cfg{};
		cfg.page_size = page;
		// The last one holds the header, two pages and their map
		// entries, but no room is left to align the page array to P.
		for (size_t sz : {size_t{0}, size_t{8}, size_t{RTHEAP_EXTENT_HDR},
		                  size_t{RTHEAP_EXTENT_HDR} + page,
		                  size_t{RTHEAP_EXTENT_HDR} + 2 * page - 1,
		                  size_t{RTHEAP_EXTENT_HDR} + 2 * (page + RTHEAP_MAP_BYTES(page))}) {
			EXPECT_EQ(rtheap_init(&h, b.p, sz, &cfg), -EINVAL)
				<< "page " << page << " size " << sz;
			EXPECT_EQ(rtheap_page_size(&h), 0u);
			EXPECT_EQ(rtheap_overhead(sz, page), sz) << "page " << page << " size " << sz;
		}
		// The documented sizing macro is always enough for two pages, and
		// gives exactly two in a page-aligned buffer.
		ASSERT_EQ(rtheap_init(&h, b.p, RTHEAP_BUFFER_SIZE(2 * page, page), &cfg), 0);
		rtheap_stats st{};
		ASSERT_EQ(rtheap_get_stats(&h, &st), 0);
		EXPECT_EQ(st.usable, 2 * page);
		EXPECT_EQ(rtheap_check(&h, nullptr), 0);
		ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	}
}

TEST(ErrInit, SizeNearSizeMax)
{
	// Rejected before any memory is touched: the buffer is only 64 KiB.
	// Sizes that run past the end of the address space are always wrong;
	// on 64-bit machines, so are sizes beyond RTHEAP_MAX_EXTENT_PAGES
	// pages (on 32-bit ones a 2 GiB buffer is plausible, and 2^29 pages do
	// not fit in the address space).
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	std::vector<size_t> sizes = {SIZE_MAX, SIZE_MAX - 255,
	                             SIZE_MAX - reinterpret_cast<uintptr_t>(b.p) + 17};
	if (sizeof(size_t) > 4) {
		sizes.push_back(SIZE_MAX / 2 + 1);
		sizes.push_back(static_cast<size_t>(RTHEAP_EXTENT_HDR +
		                                    (RTHEAP_MAX_EXTENT_PAGES + 1ull) * (256u + 4u) + 256u));
	}
	for (size_t sz : sizes) {
		EXPECT_EQ(rtheap_init(&h, b.p, sz, nullptr), -EINVAL) << sz;
		EXPECT_EQ(rtheap_page_size(&h), 0u);
	}
}

TEST(ErrInit, PageSizeNotPowerOfTwo)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	for (size_t page : {3u, 12u, 24u, 100u, 257u, 384u, 1000u, 4097u, 24576u}) {
		struct rtheap_config cfg{};
		cfg.page_size = page;
		EXPECT_EQ(rtheap_init(&h, b.p, b.n, &cfg), -EINVAL) << page;
	}
}

TEST(ErrInit, PageSizeOutOfRange)
{
	AlignedBuf b(256 * 1024);
	rtheap_t h{};
	for (size_t page : {size_t{1}, size_t{2}, size_t{4}, size_t{65536}, size_t{131072}, size_t{1} << 20,
	                    size_t{1} << 31, SIZE_MAX / 2 + 1, SIZE_MAX}) {
		struct rtheap_config cfg{};
		cfg.page_size = page;
		EXPECT_EQ(rtheap_init(&h, b.p, b.n, &cfg), -EINVAL) << page;
	}
	// In range: 8..128 are rounded up to RTHEAP_MIN_PAGE; the largest works.
	for (size_t page : {size_t{8}, size_t{16}, size_t{128}}) {
		struct rtheap_config cfg{};
		cfg.page_size = page;
		ASSERT_EQ(rtheap_init(&h, b.p, b.n, &cfg), 0) << page;
		EXPECT_EQ(rtheap_page_size(&h), size_t{RTHEAP_MIN_PAGE});
		ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	}
	struct rtheap_config cfg{};
	cfg.page_size = RTHEAP_MAX_PAGE;
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, &cfg), 0);
	EXPECT_EQ(rtheap_page_size(&h), size_t{RTHEAP_MAX_PAGE});
	ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
}

TEST(ErrInit, UnknownLockMode)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	for (int mode : {4, 7, 100, -1}) {
		struct rtheap_config cfg{};
		cfg.lock = static_cast<rtheap_lock_mode_t>(mode);
		EXPECT_EQ(rtheap_init(&h, b.p, b.n, &cfg), -EINVAL) << mode;
	}
}

TEST(ErrInit, UnknownFlags)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	for (unsigned fl : {1u << 3, 1u << 7, 1u << 20, 1u << 31, ~0u}) {
		struct rtheap_config cfg{};
		cfg.flags = fl;
		EXPECT_EQ(rtheap_init(&h, b.p, b.n, &cfg), -EINVAL) << fl;
	}
}

// The system cannot give a priority-inheritance mutex (a C library without
// PTHREAD_PRIO_INHERIT): this test program stands in for
// pthread_mutexattr_setprotocol() and refuses while g_refuse_pi is set.
std::atomic<bool> g_refuse_pi{false};

} // namespace

extern "C" int pthread_mutexattr_setprotocol(pthread_mutexattr_t *attr, int protocol) noexcept
{
	using fn_t = int (*)(pthread_mutexattr_t *, int);
	static const fn_t real =
		reinterpret_cast<fn_t>(dlsym(RTLD_NEXT, "pthread_mutexattr_setprotocol"));
	if (g_refuse_pi.load())
		return ENOTSUP;
	return real(attr, protocol);
}

namespace {

TEST(ErrInit, PiMutexUnavailable)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	struct rtheap_config cfg{};
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	g_refuse_pi = true;
	const int rc = rtheap_init(&h, b.p, b.n, &cfg);
	g_refuse_pi = false;
	EXPECT_EQ(rc, -ENOTSUP);
	EXPECT_EQ(rtheap_page_size(&h), 0u); // still not initialised
	EXPECT_EQ(rtheap_alloc(&h, 16), nullptr);
	EXPECT_EQ(rtheap_check(&h, nullptr), -EINVAL);
	// The other lock modes need no mutex; PI works again once available.
	for (auto lock : {RTHEAP_LOCK_NONE, RTHEAP_LOCK_SPIN}) {
		cfg.lock = lock;
		g_refuse_pi = true;
		const int rc2 = rtheap_init(&h, b.p, b.n, &cfg);
		g_refuse_pi = false;
		ASSERT_EQ(rc2, 0) << lock;
		ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	}
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, &cfg), 0);
	EXPECT_EQ(rtheap_check(&h, nullptr), 0);
	// A refused init over that live heap changes nothing in it.
	void *live = rtheap_alloc(&h, 100);
	ASSERT_NE(live, nullptr);
	const auto before = rtt::stats(&h);
	AlignedBuf other(64 * 1024);
	struct rtheap_config cfg2{};
	cfg2.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg2.page_size = 1024;
	g_refuse_pi = true;
	const int rc3 = rtheap_init(&h, other.p, other.n, &cfg2);
	g_refuse_pi = false;
	EXPECT_EQ(rc3, -ENOTSUP);
	EXPECT_EQ(rtheap_page_size(&h), before.page_size);
	EXPECT_EQ(rtt::stats(&h).used, before.used);
	EXPECT_EQ(rtheap_check(&h, nullptr), 0);
	EXPECT_EQ(rtheap_free(&h, live), 0);
	ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
}

// ------------------------------------------------------------------
// Uninitialised / destroyed descriptors, for every function
// ------------------------------------------------------------------

int refuse_ck(void *) { return 42; }
int accept_ck(void *) { return 0; }

void dummy_lowmem(rtheap_t *, size_t, size_t, void *) {}

// Every call that takes a heap answers an unusable descriptor without
// touching memory.
void expect_all_reject(rtheap_t *h, void *some_ptr)
{
	AlignedBuf b(64 * 1024);
	rtheap_stats st{};
	EXPECT_EQ(rtheap_extend(h, b.p, b.n, 0), -EINVAL);
	EXPECT_EQ(rtheap_destroy(h, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_alloc(h, 16), nullptr);
	EXPECT_EQ(rtheap_alloc(h, 4096), nullptr);
	EXPECT_EQ(rtheap_zalloc(h, 16), nullptr);
	EXPECT_EQ(rtheap_alloc_aligned(h, 16, 64), nullptr);
	EXPECT_EQ(rtheap_alloc_aligned(h, 4096, 65536), nullptr);
	EXPECT_EQ(rtheap_free(h, some_ptr), -EINVAL);
	EXPECT_EQ(rtheap_test_and_free(h, some_ptr, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_test_and_free(h, some_ptr, accept_ck), -EINVAL);
	EXPECT_EQ(rtheap_check_block(h, some_ptr), -EINVAL);
	EXPECT_EQ(rtheap_usable_size(h, some_ptr), 0u);
	EXPECT_EQ(rtheap_set_lowmem(h, 100, dummy_lowmem, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_set_error_handler(h, record_error, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_get_stats(h, &st), -EINVAL);
	EXPECT_EQ(rtheap_check(h, nullptr), -EINVAL);
	struct rtheap_fault f{};
	EXPECT_EQ(rtheap_check(h, &f), -EINVAL);
	EXPECT_EQ(rtheap_set_error_handler(h, nullptr, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_page_size(h), 0u);
	EXPECT_EQ(rtheap_round_size(h, 16), 0u);
}

TEST(ErrUninit, NullDescriptorEveryCall)
{
	expect_all_reject(nullptr, g_foreign);
}

TEST(ErrUninit, ZeroedDescriptorEveryCall)
{
	rtheap_t h;
	std::memset(&h, 0, sizeof h);
	expect_all_reject(&h, g_foreign);
}

TEST(ErrUninit, GarbageDescriptorEveryCall)
{
	rtheap_t h;
	for (int pat : {0xA5, 0xFF}) {
		std::memset(&h, pat, sizeof h);
		expect_all_reject(&h, g_foreign);
	}
}

TEST(ErrUninit, FailedInitLeavesUnusable)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	struct rtheap_config cfg{};
	cfg.page_size = 300;
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, &cfg), -EINVAL);
	expect_all_reject(&h, b.p + 4096);
}

// A failed init changes nothing: a live heap stays live, its blocks and
// statistics intact (argument errors are found before anything is written).
TEST(ErrUninit, FailedInitKeepsLiveHeap)
{
	AlignedBuf b(64 * 1024), other(64 * 1024);
	rtheap_t h{};
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	auto *blk = static_cast<unsigned char *>(rtheap_alloc(&h, 100));
	ASSERT_NE(blk, nullptr);
	std::memset(blk, 0x3C, 100);
	rtheap_stats before{}, after{};
	ASSERT_EQ(rtheap_get_stats(&h, &before), 0);
	struct rtheap_config cfg{};
	cfg.page_size = 300;
	EXPECT_EQ(rtheap_init(&h, other.p, other.n, &cfg), -EINVAL);
	EXPECT_EQ(rtheap_init(&h, other.p + 1, other.n - 1, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_init(&h, other.p, 64, nullptr), -EINVAL);
	ASSERT_EQ(rtheap_get_stats(&h, &after), 0);
	EXPECT_EQ(std::memcmp(&before, &after, sizeof(before)), 0);
	for (int i = 0; i < 100; i++)
		EXPECT_EQ(blk[i], 0x3C) << i;
	EXPECT_EQ(rtheap_check(&h, nullptr), 0);
	EXPECT_EQ(rtheap_free(&h, blk), 0);
	EXPECT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
}

TEST(ErrUninit, AfterDestroyEveryCall)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	void *blk = rtheap_alloc(&h, 100);
	void *big = rtheap_alloc(&h, 2000);
	ASSERT_NE(blk, nullptr);
	ASSERT_NE(big, nullptr);
	ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	// Free after destroy of a block that was live: the descriptor is dead.
	EXPECT_EQ(rtheap_free(&h, blk), -EINVAL);
	EXPECT_EQ(rtheap_free(&h, big), -EINVAL);
	expect_all_reject(&h, blk);
}

// ------------------------------------------------------------------
// rtheap_destroy
// ------------------------------------------------------------------

struct FlushLog {
	std::vector<std::pair<void *, size_t>> calls;
	std::vector<rtheap_t *> heaps;  // the heap passed to each call
	std::vector<void *> cookies;    // the cookie passed to each call
};

void log_flush(rtheap_t *h, void *b, size_t size, void *cookie)
{
	auto *log = static_cast<FlushLog *>(cookie);
	log->calls.emplace_back(b, size);
	log->heaps.push_back(h);
	log->cookies.push_back(cookie);
}

TEST(ErrDestroy, DoubleDestroy)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	FlushLog log;
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	ASSERT_EQ(rtheap_destroy(&h, log_flush, &log), 0);
	EXPECT_EQ(log.calls.size(), 1u);
	EXPECT_EQ(rtheap_destroy(&h, log_flush, &log), -EINVAL);
	EXPECT_EQ(log.calls.size(), 1u); // no flush for a dead heap
}

// The descriptor is dead before the first flush: a flush routine that
// calls the heap (here: statistics, an allocation) is refused, and may
// release its buffer (here: overwrites it, header included).
struct DeadCheck {
	rtheap_t *heap;
	int calls, stats_rc;
	void *alloc;
};
void flush_calls_heap(rtheap_t *heap, void *buf, size_t size, void *cookie)
{
	auto *d = static_cast<DeadCheck *>(cookie);
	rtheap_stats st{};
	d->calls++;
	d->stats_rc = rtheap_get_stats(heap, &st);
	d->alloc = rtheap_alloc(heap, 64);
	std::memset(buf, 0xEE, size);
}

TEST(ErrDestroy, DescriptorDeadBeforeFlush)
{
	AlignedBuf a(64 * 1024), b(32 * 1024);
	rtheap_t h{};
	ASSERT_EQ(rtheap_init(&h, a.p, a.n, nullptr), 0);
	ASSERT_EQ(rtheap_extend(&h, b.p, b.n, 0), 0);
	DeadCheck d{&h, 0, 0, nullptr};
	ASSERT_EQ(rtheap_destroy(&h, flush_calls_heap, &d), 0);
	EXPECT_EQ(d.calls, 2);
	EXPECT_EQ(d.stats_rc, -EINVAL);
	EXPECT_EQ(d.alloc, nullptr);
	EXPECT_EQ(rtheap_destroy(&h, flush_calls_heap, &d), -EINVAL);
	EXPECT_EQ(d.calls, 2);
}

// The default misuse handler is RT-safe: it writes nothing when the misuse
// happens, records the first address of each kind, and rtheap_destroy()
// prints them.  rtheap_print_error() prints at once, to the FILE given.
TEST(ErrCallback, DefaultHandlerRecordsDestroyPrints)
{
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&h, 100));
	ASSERT_NE(p, nullptr);
	testing::internal::CaptureStderr();
	EXPECT_EQ(rtheap_free(&h, p + 16), -EINVAL);
	EXPECT_EQ(rtheap_free(&h, p + 32), -EINVAL);
	EXPECT_EQ(rtheap_free(&h, g_foreign), -EFAULT);
	std::string during = testing::internal::GetCapturedStderr();
	EXPECT_EQ(during, "");
	rtheap_stats st{};
	ASSERT_EQ(rtheap_get_stats(&h, &st), 0);
	EXPECT_EQ(st.errors, 3u);
	testing::internal::CaptureStderr();
	ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	std::string at_destroy = testing::internal::GetCapturedStderr();
	char first[64];
	std::snprintf(first, sizeof first, "first at %p", static_cast<void *>(p + 16));
	EXPECT_NE(at_destroy.find("3 misuse(s)"), std::string::npos) << at_destroy;
	EXPECT_NE(at_destroy.find(first), std::string::npos) << at_destroy;
	EXPECT_NE(at_destroy.find("outside the heap"), std::string::npos) << at_destroy;

	// rtheap_print_error: opt-in, prints each misuse when it happens.
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	FILE *f = std::tmpfile();
	ASSERT_NE(f, nullptr);
	ASSERT_EQ(rtheap_set_error_handler(&h, rtheap_print_error, f), 0);
	EXPECT_EQ(rtheap_free(&h, g_foreign), -EFAULT);
	EXPECT_EQ(rtheap_free(&h, g_foreign), -EFAULT);
	std::rewind(f);
	char line[256];
	int lines = 0;
	while (std::fgets(line, sizeof line, f))
		lines++;
	std::fclose(f);
	EXPECT_EQ(lines, 2);
	testing::internal::CaptureStderr();
	ASSERT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	EXPECT_EQ(testing::internal::GetCapturedStderr(), ""); // nothing recorded
}

// rtheap_print_error() names the kind, the heap and its name (if any),
// writing to stderr when given no FILE; rtheap_destroy() names the heap
// too when it prints what the default handler recorded.
TEST(ErrCallback, PrintErrorNamesEveryKind)
{
	struct Kind {
		rtheap_error_kind_t kind;
		const char *text;
	};
	const Kind kinds[] = {
		{RTHEAP_ERR_FOREIGN, "address outside the heap"},
		{RTHEAP_ERR_NOT_BLOCK, "address is not the start of a block"},
		{RTHEAP_ERR_DOUBLE_FREE, "block already free (double free)"},
		{RTHEAP_ERR_USE_AFTER_FREE, "free memory written after free"},
		{RTHEAP_ERR_CORRUPT, "heap metadata corrupted"},
		{RTHEAP_ERR_OWNER_DIED, "a process died holding the lock (heap recovered)"},
		{RTHEAP_ERR_BROKEN, "a process died holding the lock mid-change (heap broken)"},
		// 0 only: every other value an enum of kinds 1..7 holds is a kind
		{static_cast<rtheap_error_kind_t>(0), "unknown misuse"},
	};
	AlignedBuf b(64 * 1024);
	rtheap_t named{}, unnamed{}, dead{};
	struct rtheap_config cfg{};
	cfg.name = "printer";
	ASSERT_EQ(rtheap_init(&named, b.p, b.n / 2, &cfg), 0);
	ASSERT_EQ(rtheap_init(&unnamed, b.p + b.n / 2, b.n / 2, nullptr), 0);
	char want[256];
	for (const Kind &k : kinds) {
		SCOPED_TRACE(k.text);
		testing::internal::CaptureStderr();
		rtheap_print_error(&named, k.kind, g_foreign, nullptr);
		std::snprintf(want, sizeof want, "rtheap %p printer: %s (%p)\n",
		              static_cast<void *>(&named), k.text, static_cast<void *>(g_foreign));
		EXPECT_EQ(testing::internal::GetCapturedStderr(), want);
		for (rtheap_t *h : {&unnamed, &dead}) { // no name; not a heap
			testing::internal::CaptureStderr();
			rtheap_print_error(h, k.kind, g_foreign, nullptr);
			std::snprintf(want, sizeof want, "rtheap %p: %s (%p)\n", static_cast<void *>(h),
			              k.text, static_cast<void *>(g_foreign));
			EXPECT_EQ(testing::internal::GetCapturedStderr(), want);
		}
	}
	EXPECT_EQ(rtheap_free(&named, g_foreign), -EFAULT); // the default handler records it
	testing::internal::CaptureStderr();
	ASSERT_EQ(rtheap_destroy(&named, nullptr, nullptr), 0);
	std::snprintf(want, sizeof want,
	              "rtheap %p printer: 1 misuse(s) reported to the default handler:\n"
	              "  address outside the heap, first at %p\n",
	              static_cast<void *>(&named), static_cast<void *>(g_foreign));
	EXPECT_EQ(testing::internal::GetCapturedStderr(), want);
	ASSERT_EQ(rtheap_destroy(&unnamed, nullptr, nullptr), 0);
}

TEST(ErrDestroy, FlushOncePerExtentThenReinit)
{
	AlignedBuf a(64 * 1024), b(32 * 1024), c(16 * 1024);
	rtheap_t h{};
	FlushLog log;
	ASSERT_EQ(rtheap_init(&h, a.p, a.n, nullptr), 0);
	ASSERT_EQ(rtheap_extend(&h, c.p, c.n, 0), 0);
	ASSERT_EQ(rtheap_extend(&h, b.p + 8, b.n - 8, 0), 0);
	ASSERT_NE(rtheap_alloc(&h, 5000), nullptr);
	ASSERT_EQ(rtheap_destroy(&h, log_flush, &log), 0);
	ASSERT_EQ(log.calls.size(), 3u);
	std::vector<std::pair<void *, size_t>> want = {
		{a.p, a.n}, {c.p, c.n}, {b.p + 8, b.n - 8}};
	for (const auto &w : want) {
		size_t n = 0;
		for (const auto &got : log.calls)
			n += got == w;
		EXPECT_EQ(n, 1u) << w.first;
	}
	for (size_t i = 0; i < log.calls.size(); i++) {
		EXPECT_EQ(log.heaps[i], &h);
		EXPECT_EQ(log.cookies[i], &log);
	}
	// Same memory, initialised again: a fresh, consistent heap.
	ASSERT_EQ(rtheap_init(&h, a.p, a.n, nullptr), 0);
	ASSERT_EQ(rtheap_extend(&h, b.p, b.n, 0), 0);
	rtheap_stats st{};
	ASSERT_EQ(rtheap_get_stats(&h, &st), 0);
	EXPECT_EQ(st.used, 0u);
	EXPECT_EQ(st.live_blocks, 0u);
	EXPECT_EQ(st.alloc_calls, 0u);
	EXPECT_EQ(st.extents, 2u);
	EXPECT_EQ(rtheap_check(&h, nullptr), 0);
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&h, 100));
	ASSERT_NE(p, nullptr);
	EXPECT_TRUE((p >= a.p && p < a.p + a.n) || (p >= b.p && p < b.p + b.n));
	log = FlushLog{};
	EXPECT_EQ(rtheap_destroy(&h, log_flush, &log), 0);
	ASSERT_EQ(log.calls.size(), 2u); // only the extents of the new heap
	EXPECT_TRUE(log.calls[0].first == a.p || log.calls[1].first == a.p);
}

// ------------------------------------------------------------------
// rtheap_extend
// ------------------------------------------------------------------

TEST_F(ErrHeap, ExtendNullBuffer)
{
	EXPECT_EQ(rtheap_extend(&heap, nullptr, 64 * 1024, 0), -EINVAL);
	expect_unchanged(0);
}

TEST_F(ErrHeap, ExtendMisaligned)
{
	AlignedBuf b(64 * 1024);
	for (size_t off : {1, 2, 4, 6})
		EXPECT_EQ(rtheap_extend(&heap, b.p + off, b.n - off, 0), -EINVAL) << off;
	expect_unchanged(0);
}

TEST_F(ErrHeap, ExtendTooSmall)
{
	AlignedBuf b(64 * 1024);
	for (size_t sz : {size_t{0}, size_t{RTHEAP_EXTENT_HDR}, size_t{RTHEAP_EXTENT_HDR} + P(),
	                  size_t{RTHEAP_EXTENT_HDR} + 2 * P() - 1})
		EXPECT_EQ(rtheap_extend(&heap, b.p, sz, 0), -EINVAL) << sz;
	expect_unchanged(0);
}

TEST_F(ErrHeap, ExtendSizeNearSizeMax)
{
	AlignedBuf b(64 * 1024);
	std::vector<size_t> sizes = {SIZE_MAX, SIZE_MAX - 4095,
	                             SIZE_MAX - reinterpret_cast<uintptr_t>(b.p) + 17};
	if (sizeof(size_t) > 4) // see ErrInit.SizeNearSizeMax
		sizes.push_back(SIZE_MAX / 2 + 1);
	for (size_t sz : sizes)
		EXPECT_EQ(rtheap_extend(&heap, b.p, sz, 0), -EINVAL) << sz;
	expect_unchanged(0);
}

TEST_F(ErrHeap, ExtendUnknownFlags)
{
	AlignedBuf b(64 * 1024);
	// RTHEAP_F_DEBUG_FILL is an init flag, not an extend flag.
	for (unsigned fl : {1u << 3, 1u << 9, 1u << 30, ~0u, unsigned{RTHEAP_F_DEBUG_FILL}})
		EXPECT_EQ(rtheap_extend(&heap, b.p, b.n, fl), -EINVAL) << fl;
	expect_unchanged(0);
}

TEST_F(ErrHeap, ExtendOverlapping)
{
	unsigned char *s = buf.p;
	const size_t n = buf.n;
	// Same buffer, a tail of it, a head of it, a piece inside it.
	AlignedBuf big(3 * n);
	EXPECT_EQ(rtheap_extend(&heap, s, n, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, s + 8, n - 8, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, s + n / 2, n / 2, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, s, n / 2, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, s + 4096, 16 * 1024, 0), -EINVAL);
	expect_unchanged(0);
	// Around a second extent placed in the middle of a larger buffer: the
	// overlapping candidates stick out on one side or both.
	ASSERT_EQ(rtheap_extend(&heap, big.p + n, n, 0), 0);
	snapshot();
	EXPECT_EQ(rtheap_extend(&heap, big.p + n - 4096, 8192, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, big.p + 2 * n - 4096, 8192, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, big.p, 3 * n, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, big.p + n - 8, n + 16, 0), -EINVAL);
	expect_unchanged(0);
	// Adjacent but not overlapping is fine.
	EXPECT_EQ(rtheap_extend(&heap, big.p, n, 0), 0);
	EXPECT_EQ(rtheap_extend(&heap, big.p + 2 * n, n, 0), 0);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

TEST_F(ErrHeap, ExtendTableFull)
{
	const size_t per = RTHEAP_BUFFER_SIZE(2 * P(), P());
	AlignedBuf pool(per * (RTHEAP_MAX_EXTENTS + 1), 4096);
	int added = 0;
	for (int i = 1; i < RTHEAP_MAX_EXTENTS; i++) {
		ASSERT_EQ(rtheap_extend(&heap, pool.p + i * per, per, 0), 0) << i;
		added++;
	}
	snapshot();
	EXPECT_EQ(before.extents, size_t{RTHEAP_MAX_EXTENTS});
	EXPECT_EQ(rtheap_extend(&heap, pool.p, per, 0), -ENOSPC);
	expect_unchanged(0);
	// A bad buffer is still rejected as bad when the table is full:
	// NULL, misaligned, and overlapping an extent already in the table.
	EXPECT_EQ(rtheap_extend(&heap, nullptr, per, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, pool.p + 4, per, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, pool.p + per + per / 2, per, 0), -EINVAL);
	EXPECT_EQ(rtheap_extend(&heap, pool.p + per / 2, per, 0), -EINVAL);
	expect_unchanged(0);
	EXPECT_EQ(added, RTHEAP_MAX_EXTENTS - 1);
}

// ------------------------------------------------------------------
// rtheap_alloc / rtheap_zalloc
// ------------------------------------------------------------------

TEST_F(ErrHeap, AllocSizeZero)
{
	EXPECT_EQ(rtheap_alloc(&heap, 0), nullptr);
	EXPECT_EQ(rtheap_zalloc(&heap, 0), nullptr);
	EXPECT_EQ(rtheap_round_size(&heap, 0), 0u);
	expect_unchanged(0);
}

TEST_F(ErrHeap, AllocSizeNearSizeMax)
{
	std::vector<size_t> sizes = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - P() + 1, SIZE_MAX - P(),
	                             SIZE_MAX / 2 + 1, (SIZE_MAX / P()) * P(),
	                             size_t{RTHEAP_MAX_EXTENT_PAGES} * P() + 1, kBuf, kBuf * 4,
	                             SIZE_MAX - 4095, SIZE_MAX / 2, before.usable + 1};
	if (sizeof(size_t) > 4) {
		// Sizes an extent of RTHEAP_MAX_EXTENT_PAGES pages could hold (so
		// round_size answers them) but no free-run list can promise.
		const size_t maxreq = size_t{RTHEAP_MAX_EXTENT_PAGES} * P();
		for (size_t s : {maxreq, maxreq - 16 * P()}) {
			EXPECT_EQ(rtheap_round_size(&heap, s), s) << s;
			sizes.push_back(s);
		}
	}
	for (size_t s : sizes) {
		EXPECT_EQ(rtheap_alloc(&heap, s), nullptr) << s;
		EXPECT_EQ(rtheap_zalloc(&heap, s), nullptr) << s;
	}
	for (size_t s : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - P() + 1, SIZE_MAX - 4095})
		EXPECT_EQ(rtheap_round_size(&heap, s), 0u) << s;
	rtheap_stats now{};
	ASSERT_EQ(rtheap_get_stats(&heap, &now), 0);
	EXPECT_EQ(now.failed_allocs, before.failed_allocs + 2 * sizes.size());
	expect_unchanged(0);
}

// ------------------------------------------------------------------
// rtheap_alloc_aligned
// ------------------------------------------------------------------

// An alignment that is not a power of two (0 included) is an argument
// error, as size 0: NULL, nothing counted, no low-memory call.
TEST_F(ErrHeap, AllocAlignedBadAlign)
{
	rtt::LowmemLog lm;
	ASSERT_EQ(rtheap_set_lowmem(&heap, 0, rtt::LowmemLog::record, &lm), 0);
	snapshot();
	// Through a variable, as a caller computing the alignment would.
	volatile size_t bad[] = {0, 3, 48, 24, 12288, 3 * P(), SIZE_MAX, SIZE_MAX / 2};
	for (size_t a : bad) {
		for (size_t s : {size_t{1}, size_t{16}, P(), 3 * P()})
			EXPECT_EQ(rtheap_alloc_aligned(&heap, s, a), nullptr) << s << " " << a;
	}
	// Size 0, with any alignment.
	for (size_t a : {size_t{1}, size_t{64}, P(), 8 * P()})
		EXPECT_EQ(rtheap_alloc_aligned(&heap, 0, a), nullptr) << a;
	EXPECT_TRUE(lm.requests.empty());
	rtheap_stats now{};
	ASSERT_EQ(rtheap_get_stats(&heap, &now), 0);
	EXPECT_EQ(now.failed_allocs, before.failed_allocs);
	expect_unchanged(0);
}


// A power-of-two alignment beyond any extent (SIZE_MAX/2 + 1), a size
// beyond any extent, and sizes whose padding for the alignment overflows:
// NULL, counted as failed allocations, low-memory call with the size.
TEST_F(ErrHeap, AllocAlignedHugeSizeOrAlign)
{
	rtt::LowmemLog lm;
	ASSERT_EQ(rtheap_set_lowmem(&heap, 0, rtt::LowmemLog::record, &lm), 0);
	snapshot();
	struct Req {
		size_t size, align;
	};
	std::vector<Req> reqs = {
		{16, SIZE_MAX / 2 + 1},
		{P(), SIZE_MAX / 2 + 1},
		{SIZE_MAX, 64 * P()},
		{SIZE_MAX - 100, 4096},           // size + align wraps
		{SIZE_MAX - P() + 1, 2 * P()},
		{SIZE_MAX / 2 + 1, 2 * P()},
		{64, SIZE_MAX / 4 + 1},           // beyond any extent at these pages
		{kBuf, 2 * P()},                  // more than the heap
		{P(), kBuf * 4},                  // alignment padding beyond the heap
	};
	if (sizeof(size_t) > 4) { // 2^29 pages do not fit a 32-bit size_t
		const size_t maxreq = static_cast<size_t>(uint64_t{RTHEAP_MAX_EXTENT_PAGES} * P());
		reqs.push_back({maxreq, 2 * P()}); // n + a - 1 pages exceed an extent
		reqs.push_back({maxreq, 16});      // aligned enough: as rtheap_alloc(maxreq)
		reqs.push_back({maxreq / 2, static_cast<size_t>((uint64_t{1} << 28) * P())}); // 2^28 pages of padding
	}
	for (const Req &r : reqs)
		EXPECT_EQ(rtheap_alloc_aligned(&heap, r.size, r.align), nullptr)
			<< r.size << " " << r.align;
	ASSERT_EQ(lm.requests.size(), reqs.size());
	for (size_t i = 0; i < lm.requests.size(); i++)
		EXPECT_EQ(lm.requests[i], reqs[i].size);
	rtheap_stats now{};
	ASSERT_EQ(rtheap_get_stats(&heap, &now), 0);
	EXPECT_EQ(now.failed_allocs, before.failed_allocs + reqs.size());
	expect_unchanged(0);
}

TEST_F(ErrHeap, AllocExhaustionAndRecovery)
{
	rtt::LowmemLog lm;
	ASSERT_EQ(rtheap_set_lowmem(&heap, 0, rtt::LowmemLog::record, &lm), 0);
	// Exhaust with big runs, then page blocks, then every bucket class.
	std::vector<void *> got;
	std::vector<size_t> levels;
	for (size_t s = 16 * P(); s >= 16; s /= 2)
		levels.push_back(s);
	for (size_t s : levels) {
		for (;;) {
			void *p = rtheap_alloc(&heap, s);
			if (!p)
				break;
			std::memset(p, 0x5A, s);
			got.push_back(p);
		}
		ASSERT_EQ(rtheap_check(&heap, nullptr), 0);
		ASSERT_FALSE(lm.requests.empty());
		EXPECT_EQ(lm.requests.back(), s);
	}
	rtheap_stats full{};
	ASSERT_EQ(rtheap_get_stats(&heap, &full), 0);
	EXPECT_EQ(full.free_runs, 0u);
	for (size_t s : levels)
		EXPECT_EQ(rtheap_alloc(&heap, s), nullptr) << s;
	for (const Live &b : live)
		EXPECT_TRUE(intact(b));
	// Recovery by freeing.
	for (void *p : got)
		ASSERT_EQ(rtheap_free(&heap, p), 0);
	rtheap_stats now{};
	ASSERT_EQ(rtheap_get_stats(&heap, &now), 0);
	EXPECT_EQ(now.used, before.used);
	EXPECT_EQ(now.live_blocks, before.live_blocks);
	EXPECT_EQ(now.free_runs, before.free_runs);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	void *again = rtheap_alloc(&heap, 16 * P());
	EXPECT_NE(again, nullptr);
	if (again) {
		EXPECT_EQ(rtheap_free(&heap, again), 0);
	}
}

TEST_F(ErrHeap, AllocExhaustionRecoveryByExtend)
{
	std::vector<void *> got;
	for (;;) {
		void *p = rtheap_alloc(&heap, 16);
		if (!p)
			break;
		got.push_back(p);
	}
	EXPECT_EQ(rtheap_alloc(&heap, 16), nullptr);
	AlignedBuf more(64 * 1024);
	ASSERT_EQ(rtheap_extend(&heap, more.p, more.n, 0), 0);
	void *p = rtheap_alloc(&heap, 16);
	ASSERT_NE(p, nullptr);
	EXPECT_TRUE(static_cast<unsigned char *>(p) >= more.p &&
	            static_cast<unsigned char *>(p) < more.p + more.n);
	void *q = rtheap_alloc(&heap, 8 * P());
	EXPECT_NE(q, nullptr);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	for (void *g : got)
		ASSERT_EQ(rtheap_free(&heap, g), 0);
	EXPECT_EQ(rtheap_free(&heap, p), 0);
	if (q) {
		EXPECT_EQ(rtheap_free(&heap, q), 0);
	}
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	for (const Live &b : live)
		EXPECT_TRUE(intact(b));
}

// ------------------------------------------------------------------
// rtheap_free and friends: every bad pointer
// ------------------------------------------------------------------

// The release functions that share rtheap_free's contract.
// (xnheap_free and xnheap_test_and_free have their own cases, ErrXnheap.*.)
enum class FreeFn { Free, TestAndFreeNull, TestAndFreeAccept };

int ck_calls = 0;
int counting_accept(void *)
{
	ck_calls++;
	return 0;
}

class ErrFree : public ErrHeap, public ::testing::WithParamInterface<FreeFn> {
protected:
	int release(void *p)
	{
		switch (GetParam()) {
		case FreeFn::Free:
			return rtheap_free(&heap, p);
		case FreeFn::TestAndFreeNull:
			return rtheap_test_and_free(&heap, p, nullptr);
		case FreeFn::TestAndFreeAccept:
			return rtheap_test_and_free(&heap, p, counting_accept);
		}
		return -12345;
	}
	void SetUp() override
	{
		ck_calls = 0;
		ErrHeap::SetUp();
	}
	// Expect @p p to be refused with @p err, the heap unchanged, one misuse
	// of a kind in @p kinds reported with the address, and (for the
	// test-and-free variant) the check function not called.
	void expect_refused(void *p, int err, std::initializer_list<rtheap_error_kind_t> kinds)
	{
		snapshot();
		EXPECT_EQ(release(p), err) << p;
		EXPECT_EQ(ck_calls, 0);
		expect_unchanged(1);
		if (errs.size() == 1) {
			bool ok = false;
			for (auto k : kinds)
				ok |= errs[0].kind == k;
			EXPECT_TRUE(ok) << "kind " << errs[0].kind;
			EXPECT_EQ(errs[0].addr, p);
			EXPECT_EQ(errs[0].heap, &heap);
		}
	}
};

TEST_P(ErrFree, NullPointer)
{
	// A no-op returning 0, as free(NULL): not a misuse, nothing counted,
	// no callback, the check function not called.
	snapshot();
	EXPECT_EQ(release(nullptr), 0);
	EXPECT_EQ(ck_calls, 0);
	expect_unchanged(0);
}

TEST_P(ErrFree, ForeignAddress)
{
	int on_stack = 0;
	expect_refused(g_foreign, -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(&on_stack, -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(buf.p - 16, -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(buf.p + buf.n, -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(buf.p + buf.n + 4096, -EFAULT, {RTHEAP_ERR_FOREIGN});
	rtt::Mapping other(4096);
	expect_refused(other.data(), -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(reinterpret_cast<void *>(uintptr_t{16}), -EFAULT, {RTHEAP_ERR_FOREIGN});
	expect_refused(reinterpret_cast<void *>(UINTPTR_MAX & ~uintptr_t{15}), -EFAULT,
	               {RTHEAP_ERR_FOREIGN});
}

TEST_P(ErrFree, ExtentMetadata)
{
	// Inside the buffer given to init, but in the extent header / page map
	// or the unusable tail, never a block.
	expect_refused(buf.p, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
	expect_refused(buf.p + 64, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
}

TEST_P(ErrFree, InteriorPointer)
{
	for (const Live &b : live) {
		const size_t us = rtheap_usable_size(&heap, b.p);
		ASSERT_GE(us, b.n);
		for (size_t off : {size_t{1}, size_t{8}, size_t{16}, us / 2, us - 16, us - 1}) {
			if (off == 0 || off >= us)
				continue;
			EXPECT_EQ(rtheap_check_block(&heap, b.p + off), -EINVAL);
			EXPECT_EQ(rtheap_usable_size(&heap, b.p + off), 0u);
			expect_refused(b.p + off, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
		}
		// every later page of a multi-page block, and into one
		for (size_t off = P(); off < us; off += P()) {
			EXPECT_EQ(rtheap_check_block(&heap, b.p + off), -EINVAL);
			expect_refused(b.p + off, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
			expect_refused(b.p + off + 128, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
		}
	}
}

TEST_P(ErrFree, PointerIntoFreePage)
{
	// First page of a freed run, a later page of it, a block-aligned
	// address inside it.
	expect_refused(freed_run, -EINVAL, {RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE});
	expect_refused(freed_run + P(), -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
	expect_refused(freed_run + 3 * P(), -EINVAL, {RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE});
	expect_refused(freed_run + 16, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
	// A page never handed out (near the end of the extent).
	unsigned char *unused = buf.p + buf.n - 2 * P();
	for (const Live &b : live)
		ASSERT_FALSE(unused >= b.p && unused < b.p + b.n) << "test assumption";
	expect_refused(unused, -EINVAL, {RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE});
	// A slot of a bucket page in use that holds no live block (never used,
	// or freed_small).
	const unsigned char *keep = live[9].p; // the 32-byte block kept in make()
	ASSERT_EQ(live[9].n, 32u);
	auto *page = reinterpret_cast<unsigned char *>(reinterpret_cast<uintptr_t>(keep) &
	                                               ~static_cast<uintptr_t>(P() - 1));
	unsigned char *slot = nullptr;
	for (size_t off = 0; off < P() && !slot; off += 32) {
		bool used = page + off == freed_small;
		for (const Live &b : live)
			used |= page + off == b.p;
		if (!used)
			slot = page + off;
	}
	ASSERT_NE(slot, nullptr);
	EXPECT_EQ(rtheap_check_block(&heap, slot), -EINVAL);
	EXPECT_EQ(rtheap_usable_size(&heap, slot), 0u);
	expect_refused(slot, -EINVAL, {RTHEAP_ERR_NOT_BLOCK, RTHEAP_ERR_DOUBLE_FREE});
}

TEST_P(ErrFree, DoubleFreeBucketBlock)
{
	// freed_small's page still holds a live block: the address is the
	// start of a free block.
	expect_refused(freed_small, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE});
	// Free a live block through this variant, then again.
	Live b = live[1];
	snapshot();
	ASSERT_EQ(release(b.p), 0);
	live.erase(live.begin() + 1);
	ck_calls = 0;
	expect_refused(b.p, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE, RTHEAP_ERR_NOT_BLOCK});
	// A block whose bucket page became empty again: the fixture's only
	// 64-byte block.
	size_t k = 0;
	while (k < live.size() && live[k].n != 64)
		k++;
	ASSERT_LT(k, live.size());
	Live c = live[k];
	ASSERT_EQ(release(c.p), 0);
	live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
	ck_calls = 0;
	expect_refused(c.p, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE, RTHEAP_ERR_NOT_BLOCK});
}

TEST_P(ErrFree, DoubleFreeRun)
{
	expect_refused(freed_run, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE, RTHEAP_ERR_NOT_BLOCK});
	Live b = live[7]; // the 3-page run
	ASSERT_EQ(b.n, 3 * P());
	ASSERT_EQ(release(b.p), 0);
	live.erase(live.begin() + 7);
	ck_calls = 0;
	expect_refused(b.p, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE, RTHEAP_ERR_NOT_BLOCK});
	// A one-page block and a long run, each freed between live blocks.
	for (size_t sz : {P(), 20 * P()}) {
		auto *r = static_cast<unsigned char *>(rtheap_alloc(&heap, sz));
		auto *g = static_cast<unsigned char *>(rtheap_alloc(&heap, 16));
		ASSERT_NE(r, nullptr);
		ASSERT_NE(g, nullptr);
		live.push_back({g, 16, static_cast<unsigned char>(100 + sz / P())});
		fill(live.back());
		ASSERT_EQ(release(r), 0);
		ck_calls = 0;
		expect_refused(r, -EINVAL, {RTHEAP_ERR_DOUBLE_FREE, RTHEAP_ERR_NOT_BLOCK});
	}
}

TEST_P(ErrFree, MisalignedPointer)
{
	expect_refused(live[0].p + 3, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
	expect_refused(freed_run + 1, -EINVAL, {RTHEAP_ERR_NOT_BLOCK});
}

INSTANTIATE_TEST_SUITE_P(Variants, ErrFree,
                         ::testing::Values(FreeFn::Free, FreeFn::TestAndFreeNull,
                                           FreeFn::TestAndFreeAccept),
                         [](const ::testing::TestParamInfo<FreeFn> &i) {
	                         switch (i.param) {
	                         case FreeFn::Free:
		                         return std::string("free");
	                         case FreeFn::TestAndFreeNull:
		                         return std::string("test_and_free_null");
	                         case FreeFn::TestAndFreeAccept:
		                         return std::string("test_and_free_accept");
	                         default:
		                         return std::string("other");
	                         }
                         });

TEST_F(ErrHeap, FreeOtherPageSizes)
{
	// The same pointer classes on heaps with larger pages (bucket pages
	// with a block bitmap).
	for (size_t page : {1024u, 4096u}) {
		ASSERT_NO_FATAL_FAILURE(remake(page, 0));
		snapshot();
		EXPECT_EQ(rtheap_free(&heap, live[0].p + 16), -EINVAL);
		EXPECT_EQ(rtheap_free(&heap, freed_small), -EINVAL);
		EXPECT_EQ(rtheap_free(&heap, freed_run), -EINVAL);
		EXPECT_EQ(rtheap_free(&heap, freed_run + P()), -EINVAL);
		EXPECT_EQ(rtheap_free(&heap, g_foreign), -EFAULT);
		expect_unchanged(5);
	}
}

TEST_F(ErrHeap, TestAndFreeRefused)
{
	for (const Live &b : live) {
		EXPECT_EQ(rtheap_test_and_free(&heap, b.p, refuse_ck), 42);
	}
	expect_unchanged(0);
	// And the blocks are still releasable.
	for (const Live &b : live)
		EXPECT_EQ(rtheap_test_and_free(&heap, b.p, accept_ck), 0);
	live.clear();
	rtheap_stats st{};
	ASSERT_EQ(rtheap_get_stats(&heap, &st), 0);
	EXPECT_EQ(st.live_blocks, 0u);
	EXPECT_EQ(st.used, 0u);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

// ------------------------------------------------------------------
// Queries: check_block, usable_size, round_size, page_size, overhead
// ------------------------------------------------------------------

TEST_F(ErrHeap, CheckBlockAndUsableSizeBadPointers)
{
	int on_stack = 0;
	struct {
		const void *p;
		int err;
	} cases[] = {
		{nullptr, -EFAULT},         {g_foreign, -EFAULT},       {&on_stack, -EFAULT},
		{buf.p + buf.n, -EFAULT},   {buf.p - 8, -EFAULT},       {buf.p, -EINVAL},
		{live[0].p + 1, -EINVAL},   {live[4].p + 16, -EINVAL},  {freed_small, -EINVAL},
		{freed_run, -EINVAL},       {freed_run + P(), -EINVAL},
	};
	for (const auto &c : cases) {
		EXPECT_EQ(rtheap_check_block(&heap, c.p), c.err) << c.p;
		EXPECT_EQ(rtheap_usable_size(&heap, c.p), 0u) << c.p;
	}
	for (const Live &b : live) {
		EXPECT_EQ(rtheap_check_block(&heap, b.p), 0);
		EXPECT_EQ(rtheap_usable_size(&heap, b.p), rtheap_round_size(&heap, b.n));
	}
	// Queries are not misuses: nothing counted, no callback.
	expect_unchanged(0);
}

TEST_F(ErrHeap, StatsAndCheckNullOutput)
{
	EXPECT_EQ(rtheap_get_stats(&heap, nullptr), -EINVAL);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	expect_unchanged(0);
}

TEST(ErrQuery, OverheadBadArguments)
{
	// No page fits: the whole size is overhead.
	for (size_t sz : {size_t{0}, size_t{1}, size_t{RTHEAP_EXTENT_HDR}})
		EXPECT_EQ(rtheap_overhead(sz, 256), sz) << sz;
	// Invalid page sizes: reported as "no page fits".
	for (size_t page : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{300}, size_t{65536},
	                    SIZE_MAX})
		EXPECT_EQ(rtheap_overhead(64 * 1024, page), size_t{64 * 1024}) << page;
	// Huge sizes do not overflow: overhead never exceeds the size.
	for (size_t sz : {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2})
		EXPECT_LE(rtheap_overhead(sz, 4096), sz) << sz;
}

TEST(ErrQuery, VersionString)
{
	ASSERT_NE(rtheap_version(), nullptr);
	EXPECT_GT(std::strlen(rtheap_version()), 0u);
}

// ------------------------------------------------------------------
// Error callback, abort-on-error, debug fill
// ------------------------------------------------------------------

struct ReentrantCheck {
	rtheap_t *heap;
	int calls = 0;
	int check_result = -1;
};

void reentrant_handler(rtheap_t *h, rtheap_error_kind_t, const void *, void *arg)
{
	auto *r = static_cast<ReentrantCheck *>(arg);
	r->calls++;
	// Called outside the heap lock: calling back into the heap works.
	r->check_result = rtheap_check(h, nullptr);
}

TEST_F(ErrHeap, CallbackRunsOutsideLock)
{
	ReentrantCheck r{&heap};
	ASSERT_EQ(rtheap_set_error_handler(&heap, reentrant_handler, &r), 0);
	EXPECT_EQ(rtheap_free(&heap, freed_small), -EINVAL);
	EXPECT_EQ(r.calls, 1);
	EXPECT_EQ(r.check_result, 0);
}

TEST_F(ErrHeap, DefaultHandlerOncePerKind)
{
	ASSERT_EQ(rtheap_set_error_handler(&heap, nullptr, nullptr), 0);
	::testing::internal::CaptureStderr();
	EXPECT_EQ(rtheap_free(&heap, g_foreign), -EFAULT);
	EXPECT_EQ(rtheap_free(&heap, g_foreign + 16), -EFAULT);
	EXPECT_EQ(rtheap_free(&heap, live[0].p + 1), -EINVAL);
	EXPECT_EQ(rtheap_free(&heap, live[0].p + 2), -EINVAL);
	// RT-safe: nothing is written when the misuse happens (rtheap_destroy
	// prints the first address of each kind: ErrCallback suite).
	std::string out = ::testing::internal::GetCapturedStderr();
	EXPECT_EQ(out, "");
	EXPECT_TRUE(errs.empty()); // the recording handler was replaced
	rtheap_stats st{};
	ASSERT_EQ(rtheap_get_stats(&heap, &st), 0);
	EXPECT_EQ(st.errors, before.errors + 4);
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

volatile std::sig_atomic_t g_abort_handled = 0;

// In a death test's child: a heap that aborts on misuse (exit 3 if init
// fails, so that such a death is not taken for the abort).
void init_abort_on_error(rtheap_t *h, AlignedBuf &b)
{
	struct rtheap_config cfg{};
	cfg.flags = RTHEAP_F_ABORT_ON_ERROR;
	if (rtheap_init(h, b.p, b.n, &cfg) != 0)
		std::exit(3);
}

TEST(ErrAbort, AbortOnErrorFlag)
{
	GTEST_FLAG_SET(death_test_style, "threadsafe");
	// The death must be the abort itself (SIGABRT), not any other exit.
	EXPECT_EXIT(
		{
			AlignedBuf b(64 * 1024);
			rtheap_t h{};
			init_abort_on_error(&h, b);
			void *p = rtheap_alloc(&h, 64);
			rtheap_free(&h, p);
			rtheap_free(&h, p); // double free: abort
			std::exit(0);
		},
		::testing::KilledBySignal(SIGABRT), "");
	// The callback runs first, then the process aborts: the child's SIGABRT
	// handler exits with a code that says whether the callback had run.
	EXPECT_EXIT(
		{
			std::signal(SIGABRT, [](int) { std::exit(g_abort_handled ? 40 : 41); });
			AlignedBuf b(64 * 1024);
			rtheap_t h{};
			init_abort_on_error(&h, b);
			rtheap_set_error_handler(
				&h, [](rtheap_t *, rtheap_error_kind_t, const void *, void *) { g_abort_handled = 1; },
				nullptr);
			void *p = rtheap_alloc(&h, 64);
			rtheap_free(&h, p);
			rtheap_free(&h, p); // double free: the callback, then abort
			std::exit(0);
		},
		::testing::ExitedWithCode(40), "");
	// Without the flag the same misuse returns.
	AlignedBuf b(64 * 1024);
	rtheap_t h{};
	ASSERT_EQ(rtheap_init(&h, b.p, b.n, nullptr), 0);
	std::vector<Recorded> errs;
	ASSERT_EQ(rtheap_set_error_handler(&h, record_error, &errs), 0);
	void *p = rtheap_alloc(&h, 64);
	ASSERT_EQ(rtheap_free(&h, p), 0);
	EXPECT_EQ(rtheap_free(&h, p), -EINVAL);
	EXPECT_EQ(errs.size(), 1u);
}

TEST_F(ErrHeap, DebugFillWriteAfterFree)
{
	if (RTHEAP_TEST_ASAN)
		GTEST_SKIP() << "ASan build: writing a freed block is reported by ASan itself "
		                "(see tests/asan)";
	ASSERT_NO_FATAL_FAILURE(remake(0, RTHEAP_F_DEBUG_FILL));
	// Fresh blocks carry the fresh pattern.
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 128));
	ASSERT_NE(p, nullptr);
	for (size_t i = 0; i < 128; i++)
		ASSERT_EQ(p[i], 0xA5) << i;
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	// Freed blocks carry the free pattern past any free-list link.
	for (size_t i = 32; i < 128; i++)
		ASSERT_EQ(p[i], 0xDD) << i;
	snapshot();
	p[100] = 0x11; // write after free
	// Allocate the class again until the block comes back (bounded: one
	// bucket page holds P/128 blocks of this class).
	std::vector<void *> got;
	bool back = false;
	for (size_t i = 0; i < 64 && !back; i++) {
		void *q = rtheap_alloc(&heap, 128);
		ASSERT_NE(q, nullptr);
		got.push_back(q);
		back = q == p;
	}
	EXPECT_TRUE(back);
	ASSERT_EQ(errs.size(), 1u);
	EXPECT_EQ(errs[0].kind, RTHEAP_ERR_USE_AFTER_FREE);
	// The block was alone in its page: the page went back to the free runs
	// and the freed-page check (rt_debug_take) reports the first changed
	// byte, not the block.
	EXPECT_EQ(errs[0].addr, static_cast<const void *>(p + 100));
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	for (void *q : got)
		EXPECT_EQ(rtheap_free(&heap, q), 0);
}

// The bucket-block check: a neighbour stays live, so the freed block stays
// in its bucket page and is verified when it is handed out again; the
// report names the block's start.
TEST_F(ErrHeap, DebugFillWriteAfterFreeBucketBlock)
{
	if (RTHEAP_TEST_ASAN)
		GTEST_SKIP() << "ASan build: writing a freed block is reported by ASan itself "
		                "(see tests/asan)";
	ASSERT_NO_FATAL_FAILURE(remake(0, RTHEAP_F_DEBUG_FILL));
	auto *p = static_cast<unsigned char *>(rtheap_alloc(&heap, 128));
	void *neighbour = rtheap_alloc(&heap, 128);
	ASSERT_NE(p, nullptr);
	ASSERT_NE(neighbour, nullptr);
	size_t page = rtheap_page_size(&heap);
	ASSERT_EQ(reinterpret_cast<uintptr_t>(p) / page,
	          reinterpret_cast<uintptr_t>(neighbour) / page) << "same bucket page";
	ASSERT_EQ(rtheap_free(&heap, p), 0);
	snapshot();
	p[100] = 0x11; // write after free, past the list node
	std::vector<void *> got;
	bool back = false;
	for (size_t i = 0; i < page / 128 && !back; i++) {
		void *q = rtheap_alloc(&heap, 128);
		ASSERT_NE(q, nullptr);
		got.push_back(q);
		back = q == p;
		if (!back) {
			EXPECT_TRUE(errs.empty()) << "an untouched block was reported";
		}
	}
	ASSERT_TRUE(back);
	ASSERT_EQ(errs.size(), 1u);
	EXPECT_EQ(errs[0].kind, RTHEAP_ERR_USE_AFTER_FREE);
	EXPECT_EQ(errs[0].addr, static_cast<const void *>(p)) << "the block's start";
	// handed out refilled with the fresh pattern
	for (size_t i = 0; i < 128; i++)
		ASSERT_EQ(p[i], 0xA5) << i;
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	for (void *q : got)
		EXPECT_EQ(rtheap_free(&heap, q), 0);
	EXPECT_EQ(rtheap_free(&heap, neighbour), 0);
}

// Debug fill also checks the list nodes the heap is about to write through
// (heap/debug.c): a free-run node changed in free memory is reported
// (RTHEAP_ERR_CORRUPT) and the call refused, whichever field was changed,
// by the allocation that would take the run (at the node) and by the
// releases that would merge with it (at the released block).
struct RunNode {
	void *prev, *next, *ext;
	uint32_t start, len;
	uint32_t idx; // its list (docs/design.md, R3)
};

class DebugNodes : public ::testing::Test {
protected:
	static constexpr size_t kP = 256;
	AlignedBuf buf{64 * 1024};
	rtheap_t heap{};
	std::vector<Recorded> errs;
	unsigned char *a = nullptr, *b = nullptr, *c = nullptr, *d = nullptr;
	RunNode *nd = nullptr;
	RunNode saved{};
	void SetUp() override
	{
		struct rtheap_config cfg{};
		cfg.page_size = kP;
		cfg.flags = RTHEAP_F_DEBUG_FILL;
		cfg.name = "debug-nodes";
		ASSERT_EQ(rtheap_init(&heap, buf.p, buf.n, &cfg), 0);
		ASSERT_EQ(rtheap_set_error_handler(&heap, record_error, &errs), 0);
		// a (2 pages) | b (3 pages, freed: its node in its first page) | c (1) | d
		a = static_cast<unsigned char *>(rtheap_alloc(&heap, 2 * kP));
		b = static_cast<unsigned char *>(rtheap_alloc(&heap, 3 * kP));
		c = static_cast<unsigned char *>(rtheap_alloc(&heap, kP));
		d = static_cast<unsigned char *>(rtheap_alloc(&heap, kP));
		ASSERT_TRUE(a && b && c && d);
		ASSERT_EQ(b, a + 2 * kP);
		ASSERT_EQ(c, b + 3 * kP);
		std::memset(a, 0x11, 2 * kP);
		ASSERT_EQ(rtheap_free(&heap, b), 0);
		nd = reinterpret_cast<RunNode *>(b);
		open();
		saved = *nd;
		ASSERT_EQ(3u, saved.len);
		ASSERT_TRUE(errs.empty());
	}
	void TearDown() override { rtheap_destroy(&heap, nullptr, nullptr); }
	void open()
	{
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(nd, sizeof *nd);
#endif
	}
	void restore()
	{
		open();
#if RTHEAP_TEST_ASAN
		// A corrupt link into the live block a is refused from the page
		// map before anything is read: the check must not have opened
		// and closed (poisoned) the live block.
		EXPECT_EQ(__asan_region_is_poisoned(a, 2 * kP), nullptr);
#endif
		*nd = saved;
		errs.clear();
		EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	}
	// Every call that would use the node refuses and reports: the
	// allocations that would take the run (a page run, a new bucket page,
	// each through rtheap_alloc and rtheap_alloc_aligned, and a run
	// aligned beyond the page), at the node; the releases that would
	// merge with it (rtheap_free, and rtheap_test_and_free before its
	// check function is asked), at the block released.
	void expect_refused(const char *what)
	{
		SCOPED_TRACE(what);
		auto before = rtt::stats(&heap);
		EXPECT_EQ(nullptr, rtheap_alloc(&heap, 3 * kP)) << "page run";
		EXPECT_EQ(nullptr, rtheap_alloc(&heap, 64)) << "new bucket page";
		EXPECT_EQ(nullptr, rtheap_alloc_aligned(&heap, 3 * kP, 16)) << "aligned page run";
		EXPECT_EQ(nullptr, rtheap_alloc_aligned(&heap, 64, 64)) << "aligned bucket page";
		EXPECT_EQ(nullptr, rtheap_alloc_aligned(&heap, kP, 2 * kP)) << "run aligned to 2 pages";
		const size_t nalloc = 5;
		ASSERT_EQ(errs.size(), nalloc);
		for (const Recorded &e : errs) {
			EXPECT_EQ(e.kind, RTHEAP_ERR_CORRUPT);
			EXPECT_EQ(e.addr, static_cast<const void *>(nd));
		}
		ck_calls = 0;
		EXPECT_EQ(rtheap_free(&heap, a), -EUCLEAN) << "merge with the next run";
		EXPECT_EQ(rtheap_free(&heap, c), -EUCLEAN) << "merge with the previous run";
		EXPECT_EQ(rtheap_test_and_free(&heap, a, counting_ck), -EUCLEAN) << "next, test";
		EXPECT_EQ(rtheap_test_and_free(&heap, c, counting_ck), -EUCLEAN) << "previous, test";
		EXPECT_EQ(ck_calls, 0) << "refused before the check function";
		ASSERT_EQ(errs.size(), nalloc + 4);
		const unsigned char *at[] = {a, c, a, c};
		for (size_t i = 0; i < 4; i++) {
			EXPECT_EQ(errs[nalloc + i].kind, RTHEAP_ERR_CORRUPT);
			EXPECT_EQ(errs[nalloc + i].addr, static_cast<const void *>(at[i]));
		}
		auto after = rtt::stats(&heap);
		EXPECT_EQ(before.used, after.used);
		EXPECT_EQ(before.live_blocks, after.live_blocks);
		EXPECT_EQ(before.failed_allocs + nalloc, after.failed_allocs);
		EXPECT_EQ(before.errors + nalloc + 4, after.errors);
		restore();
	}
	static int counting_ck(void *)
	{
		ck_calls++;
		return 0;
	}
	static int ck_calls;
	uint32_t *map() const { return reinterpret_cast<uint32_t *>(buf.p + RTHEAP_EXTENT_HDR); }
	uint32_t page_of(const void *p) const
	{
		return static_cast<uint32_t>((static_cast<const unsigned char *>(p) - a) / kP);
	}
};

int DebugNodes::ck_calls = 0;

TEST_F(DebugNodes, EachFieldOfAFreeRunNode)
{
	const uint32_t npages = static_cast<uint32_t>(rtt::stats(&heap).usable / kP);
	open(); // ASan: the heap closed it again
	nd->ext = nd;
	expect_refused("extent");
	open();
	nd->len = 0;
	expect_refused("length 0");
	open();
	nd->start = npages + 5;
	expect_refused("start past the extent");
	open();
	nd->len = npages;
	expect_refused("length past the extent");
	open();
	nd->start += 1;
	expect_refused("start of another page");
	open();
	nd->len = 2;
	expect_refused("length differs from the map");
	open();
	nd->prev = a; // a live run: not a node of a free run
	expect_refused("back link into a live block");
	open();
	nd->next = g_foreign; // outside every extent
	expect_refused("forward link outside the heap");
	open();
	nd->prev = a + kP + 8; // inside the heap, not at the start of a page
	expect_refused("back link into the middle of a page");
	open();
	nd->next = buf.p + 16; // in the extent, before its page array (header)
	expect_refused("forward link into the extent header");
	open();
	nd->idx ^= 1u; // the list of another length
	expect_refused("list index of another list");
	open();
	nd->idx = 0xffffffffu; // no list at all
	expect_refused("list index out of range");
	// repaired: every call works again
	EXPECT_NE(nullptr, rtheap_alloc(&heap, 3 * kP));
	EXPECT_EQ(rtheap_free(&heap, a), 0);
	EXPECT_EQ(rtheap_free(&heap, c), 0);
	EXPECT_TRUE(errs.empty());
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

// The same for the node of a bucket page (two links in its node block):
// the release that empties the page would unlink it, and is refused with a
// report at the block released.  Its back link must be NULL (the page heads
// its list), its forward link the node block of a partial page of its
// class; the free run it would merge with is checked as well.
TEST_F(DebugNodes, BucketPageNode)
{
	auto *x1 = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	auto *x2 = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
	ASSERT_TRUE(x1 && x2);
	const uintptr_t page = reinterpret_cast<uintptr_t>(x1) & ~(uintptr_t)(kP - 1);
	ASSERT_EQ(page, reinterpret_cast<uintptr_t>(x2) & ~(uintptr_t)(kP - 1));
	// the page was cut from the end of b's free run: pages 2..3 stay free
	ASSERT_EQ(page_of(reinterpret_cast<void *>(page)), 4u);
	// a fresh page: block 0 holds the node, blocks are handed out from the top
	void **node = reinterpret_cast<void **>(page);
	ASSERT_NE(static_cast<void *>(x1), static_cast<void *>(node));
	ASSERT_NE(static_cast<void *>(x2), static_cast<void *>(node));
	auto open_node = [&] {
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(node, 2 * sizeof(void *));
#endif
	};
	open_node();
	void *const saved_prev = node[0], *const saved_next = node[1];
	ASSERT_EQ(saved_prev, nullptr);
	ASSERT_EQ(saved_next, nullptr);
	// Corrupt, free x1 (the page stays partial: nothing checked), expect
	// the release of x2 refused, repair, take x1 back (the same block).
	auto expect_emptying_refused = [&](auto corrupt, auto repair) {
		corrupt();
		errs.clear();
		ASSERT_EQ(rtheap_free(&heap, x1), 0) << "the page stays partial: no unlink";
		EXPECT_TRUE(errs.empty());
		EXPECT_EQ(rtheap_free(&heap, x2), -EUCLEAN) << "emptying it would unlink it";
		ck_calls = 0;
		EXPECT_EQ(rtheap_test_and_free(&heap, x2, counting_ck), -EUCLEAN);
		EXPECT_EQ(ck_calls, 0) << "refused before the check function";
		ASSERT_EQ(errs.size(), 2u);
		for (const Recorded &e : errs) {
			EXPECT_EQ(e.kind, RTHEAP_ERR_CORRUPT);
			EXPECT_EQ(e.addr, static_cast<const void *>(x2)) << "the block released";
		}
		repair();
		errs.clear();
		EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
		EXPECT_EQ(rtheap_alloc(&heap, 64), static_cast<void *>(x1));
	};
	for (void *bad : {static_cast<void *>(g_foreign), static_cast<void *>(node),
	                  static_cast<void *>(a)}) {
		SCOPED_TRACE(bad);
		expect_emptying_refused([&] { open_node(); node[0] = bad; },
		                        [&] { open_node(); node[0] = saved_prev; });
	}
	{
		SCOPED_TRACE("the free run before the page");
		open();
		const RunNode keep = *nd; // b's node, now of the run 2..3
		ASSERT_EQ(2u, keep.len);
		expect_emptying_refused([&] { open(); nd->len = 7; },
		                        [&] { open(); *nd = keep; });
	}
	// A 32-byte block: a bucket page of another class, at page 3.
	void *y = rtheap_alloc(&heap, 32);
	ASSERT_NE(y, nullptr);
	void *ypage = reinterpret_cast<void *>(reinterpret_cast<uintptr_t>(y) & ~(uintptr_t)(kP - 1));
	ASSERT_EQ(page_of(ypage), 3u);
	struct Bad {
		void *p;
		const char *what;
	};
	for (Bad bad : {Bad{buf.p + 16, "the extent header"}, Bad{a, "a page run"},
	                Bad{ypage, "the node of a page of another class"},
	                Bad{x1, "a block of the page that is not its node block"}}) {
		SCOPED_TRACE(bad.what);
		expect_emptying_refused([&] { open_node(); node[1] = bad.p; },
		                        [&] { open_node(); node[1] = saved_next; });
	}
	EXPECT_EQ(rtheap_free(&heap, y), 0);
	EXPECT_EQ(rtheap_free(&heap, x1), 0);
	EXPECT_EQ(rtheap_free(&heap, x2), 0);
	EXPECT_TRUE(errs.empty());
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

// A bucket page that does not head its class list: its back link must be
// the node block of the partial page before it.
TEST_F(DebugNodes, BucketPageNodeNotHeadingItsList)
{
	// 64-byte blocks, 4 a page, handed out from the top, the node block
	// (block 0) last: x[0..3] fill page A, x[4..7] page B.
	unsigned char *x[8];
	for (auto &p : x) {
		p = static_cast<unsigned char *>(rtheap_alloc(&heap, 64));
		ASSERT_NE(p, nullptr);
	}
	auto page_start = [](const void *p) {
		return reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(kP - 1);
	};
	ASSERT_EQ(page_start(x[0]), page_start(x[3]));
	ASSERT_EQ(page_start(x[4]), page_start(x[7]));
	ASSERT_NE(page_start(x[0]), page_start(x[4]));
	// Free x[2]: A is partial again and x[2]'s block holds its node; then
	// x[6]: B is partial and pushed in front of A.
	ASSERT_EQ(rtheap_free(&heap, x[2]), 0);
	ASSERT_EQ(rtheap_free(&heap, x[6]), 0);
	void **anode = reinterpret_cast<void **>(x[2]);
#if RTHEAP_TEST_ASAN
	__asan_unpoison_memory_region(anode, 2 * sizeof(void *));
#endif
	ASSERT_EQ(anode[0], static_cast<void *>(x[6])) << "A follows B, whose node is x[6]'s block";
	void *const saved = anode[0];
	anode[0] = a; // a page run
	EXPECT_EQ(rtheap_free(&heap, x[0]), 0);
	EXPECT_EQ(rtheap_free(&heap, x[1]), 0);
	EXPECT_TRUE(errs.empty()) << "A stays partial: nothing unlinked";
	EXPECT_EQ(rtheap_free(&heap, x[3]), -EUCLEAN) << "emptying A would unlink it";
	ASSERT_EQ(errs.size(), 1u);
	EXPECT_EQ(errs[0].kind, RTHEAP_ERR_CORRUPT);
	EXPECT_EQ(errs[0].addr, static_cast<const void *>(x[3]));
#if RTHEAP_TEST_ASAN
	__asan_unpoison_memory_region(anode, 2 * sizeof(void *));
#endif
	anode[0] = saved;
	errs.clear();
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	for (int i : {3, 4, 5, 7})
		EXPECT_EQ(rtheap_free(&heap, x[i]), 0) << i;
	EXPECT_TRUE(errs.empty());
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
}

// The page map entries of the free runs a release would merge with are
// checked too: a length that runs past the start of the extent (before
// the block) or past its end (after it) is refused, not followed.
TEST_F(DebugNodes, NeighbourRunLengthBeyondTheExtent)
{
	uint32_t *m = map();
	const uint32_t free3 = (1u << 29) | 3u; // FREE, 3 pages (docs/design.md)
	ASSERT_EQ(m[2], free3);
	ASSERT_EQ(m[4], free3);
	ASSERT_EQ(page_of(c), 5u);
	const uint32_t npages = static_cast<uint32_t>(rtt::stats(&heap).usable / kP);
	auto before = rtt::stats(&heap);
	m[4] = (1u << 29) | 6u; // the run before c would start before page 0
	EXPECT_EQ(rtheap_free(&heap, c), -EUCLEAN);
	m[4] = free3;
	m[2] = (1u << 29) | npages; // the run after a would end past the extent
	EXPECT_EQ(rtheap_free(&heap, a), -EUCLEAN);
	m[2] = free3;
	ASSERT_EQ(errs.size(), 2u);
	EXPECT_EQ(errs[0].kind, RTHEAP_ERR_CORRUPT);
	EXPECT_EQ(errs[0].addr, static_cast<const void *>(c));
	EXPECT_EQ(errs[1].kind, RTHEAP_ERR_CORRUPT);
	EXPECT_EQ(errs[1].addr, static_cast<const void *>(a));
	auto after = rtt::stats(&heap);
	EXPECT_EQ(before.used, after.used);
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	errs.clear();
	EXPECT_EQ(rtheap_check(&heap, nullptr), 0);
	EXPECT_EQ(rtheap_free(&heap, a), 0);
	EXPECT_EQ(rtheap_free(&heap, c), 0);
	EXPECT_TRUE(errs.empty());
}

// Allocation takes a page's node block last, unlinking the page: in debug
// mode the node is checked first, and a changed one fails the allocation
// (report at the node), through rtheap_alloc and rtheap_alloc_aligned,
// on a page with its bitmap in the map entry (16 blocks) or in the side
// table (64 blocks).
TEST(DebugBucketNode, CheckedBeforeTheLastBlockIsTaken)
{
	for (size_t page : {size_t{256}, size_t{1024}}) {
		SCOPED_TRACE(page);
		AlignedBuf b(64 * 1024);
		rtheap_t h{};
		std::vector<Recorded> errs;
		struct rtheap_config cfg{};
		cfg.page_size = page;
		cfg.flags = RTHEAP_F_DEBUG_FILL;
		ASSERT_EQ(rtheap_init(&h, b.p, b.n, &cfg), 0);
		ASSERT_EQ(rtheap_set_error_handler(&h, record_error, &errs), 0);
		const size_t nb = page / 16;
		std::vector<void *> got;
		for (size_t i = 0; i + 1 < nb; i++)
			got.push_back(rtheap_alloc(&h, 16));
		void **node = static_cast<void **>(got[0]);
		node = reinterpret_cast<void **>(reinterpret_cast<uintptr_t>(node) & ~(uintptr_t)(page - 1));
		for (void *p : got) {
			ASSERT_NE(p, nullptr);
			ASSERT_NE(p, static_cast<void *>(node)) << "block 0 is the node block, taken last";
			ASSERT_EQ(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(page - 1),
			          reinterpret_cast<uintptr_t>(node)) << "one page";
		}
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(node, 2 * sizeof(void *));
#endif
		void *const saved = node[0];
		ASSERT_EQ(saved, nullptr);
		node[0] = node; // the page heads its list: its back link must be NULL
		const auto before = rtt::stats(&h);
		EXPECT_EQ(rtheap_alloc(&h, 16), nullptr);
		EXPECT_EQ(rtheap_alloc_aligned(&h, 16, 16), nullptr);
		ASSERT_EQ(errs.size(), 2u);
		for (const Recorded &e : errs) {
			EXPECT_EQ(e.kind, RTHEAP_ERR_CORRUPT);
			EXPECT_EQ(e.addr, static_cast<const void *>(node));
		}
		const auto after = rtt::stats(&h);
		EXPECT_EQ(before.used, after.used);
		EXPECT_EQ(before.failed_allocs + 2, after.failed_allocs);
#if RTHEAP_TEST_ASAN
		__asan_unpoison_memory_region(node, 2 * sizeof(void *));
#endif
		node[0] = saved;
		EXPECT_EQ(rtheap_check(&h, nullptr), 0);
		EXPECT_EQ(rtheap_alloc_aligned(&h, 16, 16), static_cast<void *>(node));
		got.push_back(node);
		for (void *p : got)
			EXPECT_EQ(rtheap_free(&h, p), 0);
		EXPECT_EQ(errs.size(), 2u);
		EXPECT_EQ(rtheap_check(&h, nullptr), 0);
		EXPECT_EQ(rtheap_destroy(&h, nullptr, nullptr), 0);
	}
}

// ------------------------------------------------------------------
// xnheap_*
// ------------------------------------------------------------------

TEST(ErrXnheap, InitBadArguments)
{
	AlignedBuf b(64 * 1024);
	xnheap_t h{};
	EXPECT_EQ(xnheap_init(nullptr, b.p, b.n, 256), -EINVAL);
	EXPECT_EQ(xnheap_init(&h, nullptr, b.n, 256), -EINVAL);
	EXPECT_EQ(xnheap_init(&h, b.p + 4, b.n - 4, 256), -EINVAL);
	EXPECT_EQ(xnheap_init(&h, b.p, 0, 256), -EINVAL);
	EXPECT_EQ(xnheap_init(&h, b.p, RTHEAP_EXTENT_HDR + 256, 256), -EINVAL);
	EXPECT_EQ(xnheap_init(&h, b.p, ~0ul, 256), -EINVAL);
	// 0 is no page size for Xenomai (unlike the native config).
	// 65536 is a valid page size, but 64 KiB cannot hold two such pages;
	// 2^23 is above 2^XNHEAP_MAXLOG2.
	for (u_long ps : {0ul, 1ul, 4ul, 3ul, 300ul, 65536ul, 1ul << 23, ~0ul})
		EXPECT_EQ(xnheap_init(&h, b.p, b.n, ps), -EINVAL) << ps;
	EXPECT_EQ(xnheap_page_size(&h), 0ul);
	// Powers of two from 8 to 128 are rounded up to 256.
	for (u_long ps : {8ul, 128ul}) {
		ASSERT_EQ(xnheap_init(&h, b.p, b.n, ps), 0) << ps;
		EXPECT_EQ(xnheap_page_size(&h), u_long{RTHEAP_MIN_PAGE});
		ASSERT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
	}
	ASSERT_EQ(xnheap_init(&h, b.p, b.n, 8), 0);
	EXPECT_EQ(xnheap_page_size(&h), u_long{RTHEAP_MIN_PAGE});
	EXPECT_EQ(xnheap_extentsize(&h), u_long{b.n});
	EXPECT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
}

void xn_dummy_flush(xnheap_t *, void *, u_long, void *cookie)
{
	++*static_cast<int *>(cookie);
}

TEST(ErrXnheap, UninitialisedAndDestroyed)
{
	AlignedBuf b(64 * 1024), more(64 * 1024);
	xnheap_t zero;
	std::memset(&zero, 0, sizeof zero);
	xnheap_t dead{};
	ASSERT_EQ(xnheap_init(&dead, b.p, b.n, 512), 0);
	void *blk = xnheap_alloc(&dead, 64);
	ASSERT_NE(blk, nullptr);
	int flushes = 0;
	ASSERT_EQ(xnheap_destroy(&dead, xn_dummy_flush, &flushes), 0);
	EXPECT_EQ(flushes, 1);
	for (xnheap_t *h : {static_cast<xnheap_t *>(nullptr), &zero, &dead}) {
		EXPECT_EQ(xnheap_destroy(h, xn_dummy_flush, &flushes), -EINVAL);
		EXPECT_EQ(xnheap_alloc(h, 64), nullptr);
		EXPECT_EQ(xnheap_free(h, blk), -EINVAL);
		EXPECT_EQ(xnheap_test_and_free(h, blk, accept_ck), -EINVAL);
		EXPECT_EQ(xnheap_extend(h, more.p, more.n), -EINVAL);
		EXPECT_EQ(xnheap_check_block(h, blk), -EINVAL);
		EXPECT_EQ(xnheap_usable_mem(h), 0ul);
		EXPECT_EQ(xnheap_used_mem(h), 0ul);
		EXPECT_EQ(xnheap_max_contiguous(h), 0ul);
		EXPECT_EQ(xnheap_page_size(h), 0ul);
	}
	EXPECT_EQ(flushes, 1);
	EXPECT_EQ(xnheap_extentsize(nullptr), 0ul);
}

TEST(ErrXnheap, BadPointersAndExtents)
{
	AlignedBuf b(128 * 1024), more(64 * 1024);
	xnheap_t h{};
	ASSERT_EQ(xnheap_init(&h, b.p, b.n, 512), 0);
	std::vector<Recorded> errs;
	ASSERT_EQ(rtheap_set_error_handler(&h.rt, record_error, &errs), 0);
	auto *small = static_cast<unsigned char *>(xnheap_alloc(&h, 48));
	auto *run = static_cast<unsigned char *>(xnheap_alloc(&h, 3000));
	auto *keep = static_cast<unsigned char *>(xnheap_alloc(&h, 48));
	ASSERT_TRUE(small && run && keep);
	std::memset(keep, 0x77, 48);
	const u_long used = xnheap_used_mem(&h);
	EXPECT_EQ(xnheap_alloc(&h, 0), nullptr);
	EXPECT_EQ(xnheap_alloc(&h, ~0ul), nullptr);
	EXPECT_EQ(xnheap_alloc(&h, ~0ul - 511), nullptr);
	// Xenomai 2 semantics: NULL is outside the heap (the native call, as
	// free(), takes it as a no-op); not counted as a misuse.
	EXPECT_EQ(xnheap_free(&h, nullptr), -EFAULT);
	EXPECT_EQ(xnheap_test_and_free(&h, nullptr, accept_ck), -EFAULT);
	EXPECT_EQ(xnheap_free(&h, g_foreign), -EFAULT);
	EXPECT_EQ(xnheap_free(&h, small + 16), -EINVAL);
	EXPECT_EQ(xnheap_free(&h, run + 512), -EINVAL);
	EXPECT_EQ(xnheap_test_and_free(&h, small, refuse_ck), 42);
	EXPECT_EQ(xnheap_test_and_free(&h, g_foreign, accept_ck), -EFAULT);
	EXPECT_EQ(xnheap_check_block(&h, small), 0);
	EXPECT_EQ(xnheap_check_block(&h, small + 1), -EINVAL);
	EXPECT_EQ(xnheap_check_block(&h, g_foreign), -EFAULT);
	EXPECT_EQ(xnheap_used_mem(&h), used);
	ASSERT_EQ(xnheap_free(&h, small), 0);
	EXPECT_EQ(xnheap_free(&h, small), -EINVAL);
	ASSERT_EQ(xnheap_free(&h, run), 0);
	EXPECT_EQ(xnheap_free(&h, run), -EINVAL);
	EXPECT_EQ(xnheap_test_and_free(&h, run, accept_ck), -EINVAL);
	// Extents: bad buffers and overlap.
	EXPECT_EQ(xnheap_extend(&h, nullptr, more.n), -EINVAL);
	EXPECT_EQ(xnheap_extend(&h, more.p + 2, more.n - 2), -EINVAL);
	EXPECT_EQ(xnheap_extend(&h, more.p, 100), -EINVAL);
	EXPECT_EQ(xnheap_extend(&h, more.p, ~0ul), -EINVAL);
	EXPECT_EQ(xnheap_extend(&h, b.p, b.n), -EINVAL);
	EXPECT_EQ(xnheap_extend(&h, b.p + 1024, 8192), -EINVAL);
	EXPECT_EQ(rtheap_check(&h.rt, nullptr), 0);
	for (int i = 0; i < 48; i++)
		ASSERT_EQ(keep[i], 0x77);
	EXPECT_EQ(errs.size(), 7u); // the refused releases above, but free(NULL)
	// Table full.
	const size_t per = RTHEAP_BUFFER_SIZE(2 * 512, 512);
	AlignedBuf pool(per * RTHEAP_MAX_EXTENTS, 4096);
	for (int i = 1; i < RTHEAP_MAX_EXTENTS; i++)
		ASSERT_EQ(xnheap_extend(&h, pool.p + i * per, per), 0) << i;
	EXPECT_EQ(xnheap_extend(&h, pool.p, per), -ENOSPC);
	EXPECT_EQ(rtheap_check(&h.rt, nullptr), 0);
	EXPECT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
}

TEST(ErrXnheap, OverheadBadArguments)
{
	EXPECT_EQ(xnheap_overhead(0, 512), 0ul);
	EXPECT_EQ(xnheap_overhead(100, 512), 100ul);
	EXPECT_EQ(xnheap_overhead(64 * 1024, 300), u_long{64 * 1024});
	for (u_long psize : {0ul, 1ul, 2ul, 4ul}) // pages xnheap_init rejects
		EXPECT_EQ(xnheap_overhead(64 * 1024, psize), u_long{64 * 1024}) << psize;
	EXPECT_LE(xnheap_overhead(~0ul, 4096), ~0ul);
	// Pages above 32 KiB: above 2^XNHEAP_MAXLOG2, or fewer than two pages.
	EXPECT_EQ(xnheap_overhead(64ul << 20, 1ul << 23), 64ul << 20);
	EXPECT_EQ(xnheap_overhead(64ul << 20, 3ul << 20), 64ul << 20);
	EXPECT_EQ(xnheap_overhead(2ul << 20, 1ul << 20), 2ul << 20);
	EXPECT_LT(xnheap_overhead(3ul << 20, 1ul << 20), 1ul << 20);
}

TEST(ErrXnheap, RoundedSizeBadPageSize)
{
	EXPECT_EQ(xnheap_rounded_size(4096, 0), 0u);
	EXPECT_EQ(xnheap_rounded_size(4096, 3), 0u);
	EXPECT_EQ(xnheap_rounded_size(4096, 768), 0u);
	EXPECT_GT(xnheap_rounded_size(4096, 512), 4096u);
}

TEST(ErrXnheap, SetLabelNullArguments)
{
	AlignedBuf b(64 * 1024);
	xnheap_t h{};
	ASSERT_EQ(xnheap_init(&h, b.p, b.n, 512), 0);
	xnheap_set_label(&h, "kept");
	xnheap_set_label(nullptr, "lost %d", 1);
	xnheap_set_label(&h, nullptr);
	EXPECT_STREQ(h.label, "kept");
	EXPECT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
}

struct XnObj {
	xnholder_t link;
	char data[48];
};

TEST(ErrXnheap, ScheduleFreeNullArguments)
{
	AlignedBuf b(64 * 1024);
	xnheap_t h{};
	ASSERT_EQ(xnheap_init(&h, b.p, b.n, 512), 0);
	auto *o = static_cast<XnObj *>(xnheap_alloc(&h, sizeof(XnObj)));
	ASSERT_NE(o, nullptr);
	const u_long used = xnheap_used_mem(&h);
	xnheap_schedule_free(nullptr, o, &o->link);
	xnheap_schedule_free(&h, o, nullptr);
	EXPECT_EQ(h.idleq, nullptr);
	xnheap_finalize_free(&h);
	xnheap_finalize_free(nullptr);
	EXPECT_EQ(xnheap_check_block(&h, o), 0); // still allocated
	EXPECT_EQ(xnheap_used_mem(&h), used);
	EXPECT_EQ(xnheap_free(&h, o), 0);
	EXPECT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
}

TEST(ErrXnheap, FinalizeBadQueuedBlocks)
{
	AlignedBuf b(64 * 1024);
	xnheap_t h{};
	ASSERT_EQ(xnheap_init(&h, b.p, b.n, 512), 0);
	std::vector<Recorded> errs;
	ASSERT_EQ(rtheap_set_error_handler(&h.rt, record_error, &errs), 0);
	auto *good = static_cast<XnObj *>(xnheap_alloc(&h, sizeof(XnObj)));
	auto *keep = static_cast<XnObj *>(xnheap_alloc(&h, sizeof(XnObj)));
	auto *gone = static_cast<XnObj *>(xnheap_alloc(&h, sizeof(XnObj)));
	ASSERT_TRUE(good && keep && gone);
	std::memset(keep->data, 0x66, sizeof keep->data);
	ASSERT_EQ(xnheap_free(&h, gone), 0);
	const u_long used = xnheap_used_mem(&h);
	xnholder_t l1, l2, l3;
	xnheap_schedule_free(&h, g_foreign, &l1);                          // foreign
	xnheap_schedule_free(&h, reinterpret_cast<char *>(keep) + 16, &l2); // interior
	xnheap_schedule_free(&h, gone, &l3);                               // double free
	xnheap_schedule_free(&h, good, &good->link);
	xnheap_finalize_free(&h);
	// The good block is released, the three others reported and refused.
	EXPECT_EQ(xnheap_check_block(&h, good), -EINVAL);
	EXPECT_EQ(xnheap_used_mem(&h), used - 64);
	ASSERT_EQ(errs.size(), 3u);
	EXPECT_EQ(errs[0].kind, RTHEAP_ERR_DOUBLE_FREE); // the most recent first
	EXPECT_EQ(errs[0].addr, static_cast<void *>(gone));
	EXPECT_EQ(errs[1].kind, RTHEAP_ERR_NOT_BLOCK);
	EXPECT_EQ(errs[2].kind, RTHEAP_ERR_FOREIGN);
	EXPECT_EQ(errs[2].addr, static_cast<void *>(g_foreign));
	for (unsigned char c : keep->data)
		ASSERT_EQ(c, 0x66);
	EXPECT_EQ(xnheap_check_block(&h, keep), 0);
	struct rtheap_stats st;
	ASSERT_EQ(rtheap_get_stats(&h.rt, &st), 0);
	EXPECT_EQ(st.errors, 3u);
	EXPECT_EQ(rtheap_check(&h.rt, nullptr), 0);
	EXPECT_EQ(xnheap_destroy(&h, nullptr, nullptr), 0);
}

TEST(ErrXnheap, SystemInitAndDestroy)
{
	(void)xnheap_system(); // set up, whatever the state
	AlignedBuf b(64 * 1024);
	EXPECT_EQ(xnheap_system_init(b.p, b.n, 512), -EBUSY);
	EXPECT_EQ(xnheap_system_init(nullptr, 0, 0), -EBUSY);
	ASSERT_EQ(xnheap_system_destroy(nullptr, nullptr), 0);
	EXPECT_EQ(xnheap_system_destroy(nullptr, nullptr), -EINVAL);
	EXPECT_EQ(xnheap_system_init(nullptr, 4096, 0), -EINVAL);
	EXPECT_EQ(xnheap_system_init(b.p + 4, b.n - 4, 0), -EINVAL);
	EXPECT_EQ(xnheap_system_init(b.p, 100, 0), -EINVAL);
	EXPECT_EQ(xnheap_system_init(b.p, b.n, 300), -EINVAL);
	EXPECT_EQ(xnheap_system_init(b.p, b.n, 1ul << 23), -EINVAL);
	EXPECT_EQ(xnheap_system_init(nullptr, 0, 3), -EINVAL);
	// After the failures, the system heap is still to be set up.
	EXPECT_EQ(xnheap_system_destroy(nullptr, nullptr), -EINVAL);
	ASSERT_EQ(xnheap_system_init(b.p, b.n, 0), 0);
	EXPECT_EQ(xnheap_page_size(&kheap), u_long{XNHEAP_PAGE_SIZE});
	ASSERT_EQ(xnheap_system_destroy(nullptr, nullptr), 0);
	EXPECT_NE(xnheap_system(), nullptr); // back to the defaults
}

TEST(ErrXnheap, XnmallocXnfree)
{
	EXPECT_EQ(xnmalloc(0), nullptr);
	EXPECT_EQ(xnmalloc(~0ul), nullptr);
	EXPECT_EQ(xnmalloc(xnheap_usable_mem(&kheap) + 1), nullptr);
	auto *p = static_cast<unsigned char *>(xnmalloc(100));
	ASSERT_NE(p, nullptr);
	const u_long used = xnheap_used_mem(&kheap);
	EXPECT_EQ(xnfree(nullptr), -EFAULT);
	EXPECT_EQ(xnfree(g_foreign), -EFAULT);
	EXPECT_EQ(xnfree(p + 16), -EINVAL);
	EXPECT_EQ(xnheap_used_mem(&kheap), used);
	EXPECT_EQ(xnfree(p), 0);
	EXPECT_EQ(xnfree(p), -EINVAL);
	EXPECT_EQ(rtheap_check(&kheap.rt, nullptr), 0);
}

} // namespace
