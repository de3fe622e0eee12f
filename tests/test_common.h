/* SPDX-License-Identifier: MIT */
// Helpers shared by the GoogleTest suite of rtheap (tests/test_*.cc).
#ifndef RTHEAP_TEST_COMMON_H
#define RTHEAP_TEST_COMMON_H

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rtheap/rtheap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RTHEAP_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RTHEAP_TEST_SANITIZED 1
#endif
#endif
#ifndef RTHEAP_TEST_SANITIZED
#define RTHEAP_TEST_SANITIZED 0
#endif

// AddressSanitizer alone (free memory inside the heap is poisoned).
#if defined(__SANITIZE_ADDRESS__)
#define RTHEAP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RTHEAP_TEST_ASAN 1
#endif
#endif
#ifndef RTHEAP_TEST_ASAN
#define RTHEAP_TEST_ASAN 0
#endif

namespace rtt {

// An anonymous private mapping: page aligned and zero-filled, released on
// destruction.  `noreserve` adds MAP_NORESERVE for very large buffers.
class Mapping {
public:
	explicit Mapping(size_t size, bool noreserve = false) : size_(size)
	{
		int fl = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
		void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, fl, -1, 0);
		base_ = (p == MAP_FAILED) ? nullptr : static_cast<unsigned char *>(p);
	}
	~Mapping()
	{
		if (base_)
			munmap(base_, size_);
	}
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	unsigned char *data() const { return base_; }
	size_t size() const { return size_; }
	bool ok() const { return base_ != nullptr; }

private:
	unsigned char *base_ = nullptr;
	size_t size_;
};

// A mapping of at least `size` bytes whose data() is aligned to `align`
// (a power of two), plus `offset` bytes.
class AlignedMapping {
public:
	AlignedMapping(size_t size, size_t align, size_t offset = 0)
	    : map_(size + align + offset)
	{
		if (map_.ok()) {
			uintptr_t a = reinterpret_cast<uintptr_t>(map_.data());
			a = (a + align - 1) & ~(uintptr_t)(align - 1);
			p_ = reinterpret_cast<unsigned char *>(a) + offset;
		}
	}
	unsigned char *data() const { return p_; }
	bool ok() const { return p_ != nullptr; }

private:
	Mapping map_;
	unsigned char *p_ = nullptr;
};

// A malloc'ed buffer (not zero-filled, unlike Mapping) of `n` bytes at
// `p`, aligned to `align` (default: the largest page size, so that the
// heap's layout in it is exact for every page size).
struct AlignedBuf {
	unsigned char *p = nullptr;
	size_t n = 0;
	explicit AlignedBuf(size_t size, size_t align = RTHEAP_MAX_PAGE) : n(size)
	{
		p = static_cast<unsigned char *>(
		    std::aligned_alloc(align, (size + align - 1) / align * align));
	}
	~AlignedBuf() { std::free(p); }
	AlignedBuf(const AlignedBuf &) = delete;
	AlignedBuf &operator=(const AlignedBuf &) = delete;
};

// Low-memory callback that records each failed request:
// rtheap_set_lowmem(h, thr, rtt::LowmemLog::record, &log).
struct LowmemLog {
	std::vector<size_t> requests;
	static void record(rtheap_t *, size_t, size_t request, void *arg)
	{
		static_cast<LowmemLog *>(arg)->requests.push_back(request);
	}
};

inline std::unique_ptr<rtheap_t> new_heap()
{
	return std::unique_ptr<rtheap_t>(new rtheap_t()); // value-initialised: zeroed
}

inline rtheap_config config(size_t page, rtheap_lock_mode_t lock = RTHEAP_LOCK_NONE,
                            unsigned flags = 0)
{
	rtheap_config c;
	std::memset(&c, 0, sizeof c);
	c.page_size = page;
	c.lock = lock;
	c.flags = flags;
	c.name = "test";
	return c;
}

inline rtheap_stats stats(rtheap_t *h)
{
	rtheap_stats st;
	std::memset(&st, 0x5a, sizeof st);
	int rc = rtheap_get_stats(h, &st);
	EXPECT_EQ(0, rc) << "rtheap_get_stats";
	return st;
}

// rtheap_check() with the fault, if any, in the failure message.
inline ::testing::AssertionResult heap_ok(rtheap_t *h)
{
	rtheap_fault f;
	std::memset(&f, 0, sizeof f);
	int rc = rtheap_check(h, &f);
	if (rc == 0)
		return ::testing::AssertionSuccess();
	return ::testing::AssertionFailure()
	       << "rtheap_check() = " << rc << ": " << (f.what ? f.what : "(null)")
	       << " addr=" << f.addr << " extent=" << f.extent << " page=" << f.page;
}

// Block size rtheap_alloc() must give for a request (rtheap.h): up to P/2
// a power of two >= 16, beyond that whole pages.
inline size_t expected_round(size_t req, size_t page)
{
	if (req == 0)
		return 0;
	if (req <= page / 2) {
		size_t r = RTHEAP_MIN_BLOCK;
		while (r < req)
			r <<= 1;
		return r;
	}
	return (req + page - 1) / page * page;
}

// Alignment a block of (rounded) size `rounded` must have.
inline size_t expected_align(size_t rounded, size_t page)
{
	return rounded <= page / 2 ? rounded : page;
}

// The block size rtheap_alloc_aligned() accounts (rtheap.h): the plain
// block when it is aligned enough, else max(size, align) up to a page,
// else whole pages.
inline size_t aligned_round(size_t size, size_t align, size_t page)
{
	const size_t r = expected_round(size, page);
	if (align <= expected_align(r, page))
		return r;
	if (align <= page)
		return expected_round(size > align ? size : align, page);
	return (size + page - 1) / page * page;
}

inline unsigned class_of(size_t rounded)
{
	unsigned c = 0;
	while ((size_t)RTHEAP_MIN_BLOCK << c < rounded)
		c++;
	return c;
}

inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

// Fill / verify `n` bytes at `p` (8-byte aligned) with a pattern derived
// from `tag`: whole words, then the last n % 8 bytes.
inline void fill(void *p, size_t n, uint64_t tag)
{
	uint64_t *w = static_cast<uint64_t *>(p);
	uint64_t k = mix64(tag) | 1;
	for (size_t i = 0; i < n / 8; i++)
		w[i] = k * (i + 1) ^ tag;
	if (n % 8) {
		uint64_t last = k * (n / 8 + 1) ^ tag;
		std::memcpy(w + n / 8, &last, n % 8);
	}
}

// Offset of the first wrong word (or of the tail), SIZE_MAX if the
// pattern is intact.
inline size_t verify(const void *p, size_t n, uint64_t tag)
{
	const uint64_t *w = static_cast<const uint64_t *>(p);
	uint64_t k = mix64(tag) | 1;
	for (size_t i = 0; i < n / 8; i++)
		if (w[i] != (k * (i + 1) ^ tag))
			return i * 8;
	if (n % 8) {
		uint64_t last = k * (n / 8 + 1) ^ tag;
		if (std::memcmp(w + n / 8, &last, n % 8) != 0)
			return n / 8 * 8;
	}
	return SIZE_MAX;
}

// Every field but `errors` (a detected misuse counts there by design) and,
// if `failed_allocs_too` is false, `failed_allocs` (a refused allocation
// counts there).
inline void expect_same_stats(const rtheap_stats &a, const rtheap_stats &b,
                              const char *where, bool failed_allocs_too = true)
{
#define RTT_F(x) EXPECT_EQ(a.x, b.x) << where << ": field " #x
	RTT_F(page_size);
	RTT_F(extents);
	RTT_F(size);
	RTT_F(usable);
	RTT_F(used);
	RTT_F(free);
	RTT_F(peak_used);
	RTT_F(largest_free);
	RTT_F(free_runs);
	RTT_F(pages_bucket);
	RTT_F(pages_run);
	RTT_F(live_blocks);
	RTT_F(alloc_calls);
	RTT_F(free_calls);
	if (failed_allocs_too) {
		RTT_F(failed_allocs);
	}
#undef RTT_F
	for (int c = 0; c < RTHEAP_NR_CLASSES; c++) {
		EXPECT_EQ(a.class_live[c], b.class_live[c]) << where << ": class_live[" << c << "]";
		EXPECT_EQ(a.class_pages[c], b.class_pages[c]) << where << ": class_pages[" << c << "]";
	}
}

} // namespace rtt

#endif
