/* SPDX-License-Identifier: MIT */
// Sizing: metadata overhead, RTHEAP_BUFFER_SIZE as a compile-time constant,
// the zero-overhead sizing rule, and fill efficiency.
#include <cmath>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

// A compile-time constant: usable for static arrays and static_assert.
static_assert(RTHEAP_BUFFER_SIZE(65536, 256) > 65536, "constant expression");
static_assert(RTHEAP_BUFFER_SIZE(65536, 256) ==
                  RTHEAP_EXTENT_HDR + 256 * (256 + RTHEAP_MAP_BYTES(256)) + 256,
              "documented formula");
alignas(8) unsigned char g_static_buf[RTHEAP_BUFFER_SIZE(65536, 256)];

TEST(Sizing, OverheadAtMostTwoPercentFromOneMiB)
{
	// up to 16 GiB, or 1 GiB where size_t has 32 bits
	const size_t top = static_cast<size_t>(std::min<uint64_t>(uint64_t{1} << 34, SIZE_MAX / 4 + 1));
	for (size_t sz = 1 << 20; sz <= top; sz *= 2) {
		for (size_t s : {sz, sz + 4095, sz + sz / 3}) {
			size_t o = rtheap_overhead(s, 256);
			EXPECT_LE(o * 50, s) << "size " << s << " overhead " << o;
			EXPECT_GT(o, 0u);
		}
	}
	std::printf("overhead of 1 MiB / 16 MiB with page 256: %zu / %zu bytes\n",
	            rtheap_overhead(1 << 20, 256), rtheap_overhead(16 << 20, 256));
}

TEST(Sizing, StaticBufferOfBufferSizeHoldsExactlyTheUsableBytes)
{
	auto h = rtt::new_heap();
	ASSERT_EQ(0, rtheap_init(h.get(), g_static_buf, sizeof g_static_buf, nullptr));
	auto st = rtt::stats(h.get());
	EXPECT_EQ(65536u, st.usable);
	EXPECT_EQ(sizeof g_static_buf, st.size);
	std::vector<void *> ps;
	for (void *p; (p = rtheap_alloc(h.get(), 256)) != nullptr;)
		ps.push_back(p);
	EXPECT_EQ(256u, ps.size());
	EXPECT_TRUE(heap_ok(h.get()));
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// For each power-of-two size s from 16 to 4P, a buffer of
// RTHEAP_BUFFER_SIZE(N, P) bytes, whatever its 8-byte misalignment, gives
// exactly N/s blocks of size s before the first failure.
TEST(Sizing, ZeroOverheadRule)
{
	for (size_t P : {256u, 512u, 4096u}) {
		const size_t N = 64 * P;
		const size_t bsize = RTHEAP_BUFFER_SIZE(N, P);
		rtt::AlignedMapping mem(bsize + P, P);
		ASSERT_TRUE(mem.ok());
		for (size_t off : {(size_t)0, (size_t)8, (size_t)16, (size_t)72, P / 2, P / 2 + 8,
		                   P - 16, P - 8}) {
			for (size_t s = 16; s <= 4 * P; s *= 2) {
				SCOPED_TRACE("page " + std::to_string(P) + " offset " + std::to_string(off) +
				             " block " + std::to_string(s));
				auto h = rtt::new_heap();
				auto cfg = rtt::config(P);
				ASSERT_EQ(0, rtheap_init(h.get(), mem.data() + off, bsize, &cfg));
				ASSERT_EQ(N, rtt::stats(h.get()).usable);
				size_t count = 0;
				while (rtheap_alloc(h.get(), s) != nullptr)
					count++;
				EXPECT_EQ(N / s, count);
				auto st = rtt::stats(h.get());
				EXPECT_EQ(N, st.used);
				EXPECT_EQ(0u, st.free);
				EXPECT_TRUE(heap_ok(h.get()));
				EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
			}
		}
	}
}

// Requests until the first failure; returns requested bytes / buffer size.
double fill_ratio(size_t page, bool log_uniform, size_t hi, uint64_t seed)
{
	const size_t size = 16 << 20;
	rtt::Mapping m(size);
	auto h = rtt::new_heap();
	auto cfg = rtt::config(page, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	EXPECT_EQ(0, rtheap_init(h.get(), m.data(), size, &cfg));
	std::mt19937_64 rng(seed);
	std::uniform_int_distribution<size_t> uni(16, hi);
	std::uniform_real_distribution<double> lg(std::log(16.0), std::log((double)hi + 1));
	size_t requested = 0;
	for (;;) {
		size_t r = log_uniform ? (size_t)std::exp(lg(rng)) : uni(rng);
		if (r > hi)
			r = hi;
		if (!rtheap_alloc(h.get(), r))
			break;
		requested += r;
	}
	EXPECT_TRUE(heap_ok(h.get()));
	rtheap_destroy(h.get(), nullptr, nullptr);
	return (double)requested / (double)size;
}

TEST(Sizing, FillEfficiency)
{
	double worst_u = 1, worst_l = 1;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		worst_u = std::min(worst_u, fill_ratio(256, false, 4096, seed));
		worst_l = std::min(worst_l, fill_ratio(256, true, 65536, seed));
	}
	std::printf("16 MiB heap, page 256: uniform 16..4096 fills %.4f, log-uniform 16..65536 "
	            "fills %.4f (requested bytes / buffer size, worst of 3 seeds)\n",
	            worst_u, worst_l);
	EXPECT_GE(worst_u, 0.90);
	EXPECT_GE(worst_l, 0.95);
	for (size_t page : {512u, 4096u})
		std::printf("  for information, page %zu: uniform %.4f, log-uniform %.4f\n", page,
		            fill_ratio(page, false, 4096, 1), fill_ratio(page, true, 65536, 1));
}

} // namespace
