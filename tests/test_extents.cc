/* SPDX-License-Identifier: MIT */
// "Many extents really work": a heap made of RTHEAP_MAX_EXTENTS extents of
// very different sizes, added in shuffled address order.
#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "test_common.h"

using rtt::heap_ok;

namespace {

constexpr size_t kPage = 256;

struct Buf {
	unsigned char *p;
	size_t n;
};

// Carve `count` buffers out of one mapping, with gaps and 8-byte
// misalignments, sizes from tiny (two pages) to 1 MiB.
std::vector<Buf> carve(rtt::Mapping &m, int count, std::mt19937_64 &rng)
{
	std::vector<Buf> v;
	size_t pos = 0;
	for (int i = 0; i < count; i++) {
		size_t n;
		switch (i % 8) {
		case 0: n = RTHEAP_BUFFER_SIZE(2 * kPage, kPage); break; // tiny
		case 1: n = RTHEAP_BUFFER_SIZE(3 * kPage, kPage) + 8 * (rng() % 16); break;
		case 2: n = 4096 + rng() % 8192; break;
		case 3: n = 16384 + rng() % 16384; break;
		case 4: n = 65536 + rng() % 65536; break;
		case 5: n = 200000 + rng() % 100000; break;
		case 6: n = (i == 6) ? (1 << 20) : 30000 + rng() % 30000; break;
		default: n = 8192 + rng() % 4096; break;
		}
		n &= ~(size_t)7;
		pos += 8 * (rng() % 64); // misalign by a multiple of 8
		v.push_back(Buf{m.data() + pos, n});
		pos += n + 4096 * (rng() % 3); // sometimes adjacent, sometimes a gap
		EXPECT_LE(pos, m.size());
	}
	return v;
}

class Extents : public ::testing::Test {
protected:
	std::unique_ptr<rtheap_t> h_ = rtt::new_heap();
	rtt::Mapping m_{48 << 20};
	std::vector<Buf> bufs_;
	std::mt19937_64 rng_{2024};

	void build(int count)
	{
		ASSERT_TRUE(m_.ok());
		bufs_ = carve(m_, count, rng_);
		std::vector<int> order(bufs_.size());
		std::iota(order.begin(), order.end(), 0);
		std::shuffle(order.begin(), order.end(), rng_);
		auto cfg = rtt::config(kPage, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
		size_t size = 0;
		for (size_t k = 0; k < order.size(); k++) {
			const Buf &b = bufs_[order[k]];
			if (k == 0) {
				ASSERT_EQ(0, rtheap_init(h_.get(), b.p, b.n, &cfg));
			}
			else {
				ASSERT_EQ(0, rtheap_extend(h_.get(), b.p, b.n, RTHEAP_F_ZEROED)) << "extent " << k;
			}
			size += b.n;
			if (k == 10) {
				// Overlaps are refused while there is room in the table.
				auto before = rtt::stats(h_.get());
				const Buf &o = bufs_[order[3]];
				EXPECT_EQ(-EINVAL, rtheap_extend(h_.get(), o.p, o.n, 0)) << "duplicate";
				EXPECT_EQ(-EINVAL, rtheap_extend(h_.get(), o.p + 8, o.n, 0)) << "shifted";
				EXPECT_EQ(-EINVAL, rtheap_extend(h_.get(), o.p + o.n - 8, 4096, 0)) << "tail";
				if (o.p >= m_.data() + 4096) {
					EXPECT_EQ(-EINVAL, rtheap_extend(h_.get(), o.p - 4096, o.n + 8192, 0))
					    << "enclosing";
				}
				rtt::expect_same_stats(before, rtt::stats(h_.get()), "overlap refused");
			}
		}
		auto st = rtt::stats(h_.get());
		EXPECT_EQ((size_t)count, st.extents);
		EXPECT_EQ(size, st.size);
		EXPECT_EQ((size_t)count, st.free_runs);
		EXPECT_TRUE(heap_ok(h_.get()));
	}
	void TearDown() override { rtheap_destroy(h_.get(), nullptr, nullptr); }

	int extent_of(const void *p, size_t n) const
	{
		auto *c = static_cast<const unsigned char *>(p);
		for (size_t i = 0; i < bufs_.size(); i++)
			if (c >= bufs_[i].p && c + n <= bufs_[i].p + bufs_[i].n)
				return (int)i;
		return -1;
	}
};

TEST_F(Extents, FullTableIsEnospc)
{
	build(RTHEAP_MAX_EXTENTS);
	auto before = rtt::stats(h_.get());
	rtt::Mapping extra(1 << 20);
	EXPECT_EQ(-ENOSPC, rtheap_extend(h_.get(), extra.data(), 1 << 20, 0));
	EXPECT_EQ(-ENOSPC, rtheap_extend(h_.get(), extra.data(), 1 << 20, RTHEAP_F_ZEROED));
	rtt::expect_same_stats(before, rtt::stats(h_.get()), "table full");
	EXPECT_TRUE(heap_ok(h_.get()));
	EXPECT_EQ(nullptr, rtheap_alloc(h_.get(), 1 << 21)) << "no extent holds 2 MiB";
}

TEST_F(Extents, BlocksNeverOverlapNeverCrossNeverGetLost)
{
	build(RTHEAP_MAX_EXTENTS);
	const auto st0 = rtt::stats(h_.get());
	struct B {
		size_t n;
		uint64_t tag;
		int ext;
	};
	std::map<uintptr_t, B> live;
	uint64_t serial = 0;
	auto take = [&](size_t req) -> bool {
		void *p = rtheap_alloc(h_.get(), req);
		if (!p)
			return false;
		size_t n = rtheap_usable_size(h_.get(), p);
		EXPECT_EQ(rtt::expected_round(req, kPage), n);
		EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % rtt::expected_align(n, kPage));
		int e = extent_of(p, n);
		EXPECT_GE(e, 0) << "block " << p << " (" << n << " B) is not inside one extent";
		uintptr_t a = reinterpret_cast<uintptr_t>(p);
		auto nx = live.lower_bound(a);
		if (nx != live.end()) {
			EXPECT_LE(a + n, nx->first) << "overlap";
		}
		if (nx != live.begin()) {
			EXPECT_LE(std::prev(nx)->first + std::prev(nx)->second.n, a) << "overlap";
		}
		B b{n, rtt::mix64(++serial), e};
		rtt::fill(p, n, b.tag);
		live[a] = b;
		return true;
	};
	auto give_back = [&](std::map<uintptr_t, B>::iterator it) {
		EXPECT_EQ(SIZE_MAX, rtt::verify(reinterpret_cast<void *>(it->first), it->second.n,
		                                it->second.tag))
		    << "block " << reinterpret_cast<void *>(it->first) << " overwritten";
		EXPECT_EQ(0, rtheap_free(h_.get(), reinterpret_cast<void *>(it->first)));
		return live.erase(it);
	};
	auto free_random = [&](size_t count) {
		std::vector<uintptr_t> keys;
		for (auto &kv : live)
			keys.push_back(kv.first);
		std::shuffle(keys.begin(), keys.end(), rng_);
		keys.resize(std::min(count, keys.size()));
		size_t i = 0;
		for (uintptr_t k : keys) {
			give_back(live.find(k));
			if (++i % 64 == 0) {
				ASSERT_TRUE(heap_ok(h_.get()));
			}
		}
	};

	for (int round = 0; round < 3; round++) {
		SCOPED_TRACE("round " + std::to_string(round));
		// Mixed small blocks and page runs until the first failure.
		for (;;) {
			size_t req = (rng_() % 3) ? 16 + rng_() % 241 : kPage + rng_() % (12 * kPage);
			if (!take(req))
				break;
		}
		ASSERT_TRUE(heap_ok(h_.get()));
		// Then fill every remaining byte: whole pages, then every class.
		while (take(kPage)) {
		}
		for (size_t s = kPage / 2; s >= 16; s /= 2)
			while (take(s)) {
			}
		auto st = rtt::stats(h_.get());
		EXPECT_EQ(0u, st.free) << "memory lost: free bytes no block size can reach";
		EXPECT_EQ(st.usable, st.used);
		EXPECT_EQ(live.size(), st.live_blocks);
		std::vector<int> per_ext(bufs_.size(), 0);
		for (auto &kv : live)
			if (kv.second.ext >= 0)
				per_ext[kv.second.ext]++;
		for (size_t i = 0; i < per_ext.size(); i++) {
			EXPECT_GT(per_ext[i], 0) << "extent " << i << " (" << bufs_[i].n << " B) unused";
		}
		ASSERT_TRUE(heap_ok(h_.get()));
		// Free a random half, check, then everything in random order.
		free_random(live.size() / 2);
		ASSERT_TRUE(heap_ok(h_.get()));
		if (round == 2)
			break;
		free_random(live.size());
	}
	free_random(live.size());
	auto st = rtt::stats(h_.get());
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(st0.usable, st.free);
	EXPECT_EQ(0u, st.live_blocks);
	EXPECT_EQ(st0.free_runs, st.free_runs) << "one free run per extent again";
	EXPECT_EQ(0u, st.pages_bucket);
	EXPECT_TRUE(heap_ok(h_.get()));
	// The 1 MiB extent is whole again.
	void *big = rtheap_alloc(h_.get(), (1 << 20) - 64 * 1024);
	EXPECT_NE(nullptr, big);
	EXPECT_EQ(6, extent_of(big, (1 << 20) - 64 * 1024));
}

TEST_F(Extents, DescendingAddressOrder)
{
	// Each extension lands below all previous ones.
	rtt::Mapping m(8 << 20);
	auto cfg = rtt::config(kPage, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	const size_t n = (8 << 20) / RTHEAP_MAX_EXTENTS;
	for (int i = RTHEAP_MAX_EXTENTS - 1; i >= 0; i--) {
		unsigned char *b = m.data() + (size_t)i * n;
		if (i == RTHEAP_MAX_EXTENTS - 1) {
			ASSERT_EQ(0, rtheap_init(h_.get(), b, n, &cfg));
		}
		else {
			ASSERT_EQ(0, rtheap_extend(h_.get(), b, n, RTHEAP_F_ZEROED));
		}
		// A block from every extent added so far is found by free.
		std::vector<void *> ps;
		for (;;) {
			void *p = rtheap_alloc(h_.get(), 4 * kPage);
			if (!p)
				break;
			ps.push_back(p);
		}
		for (void *p : ps) {
			ASSERT_EQ(0, rtheap_free(h_.get(), p));
		}
	}
	auto st = rtt::stats(h_.get());
	EXPECT_EQ((size_t)RTHEAP_MAX_EXTENTS, st.extents);
	EXPECT_EQ((size_t)RTHEAP_MAX_EXTENTS, st.free_runs);
	EXPECT_EQ(0u, st.used);
	EXPECT_EQ(st.alloc_calls, st.free_calls);
	EXPECT_TRUE(heap_ok(h_.get()));
	// Adjacent extents are not merged: no block spans two of them.
	EXPECT_EQ(nullptr, rtheap_alloc(h_.get(), n));
	EXPECT_EQ(0, rtheap_destroy(h_.get(), nullptr, nullptr)); // before m goes
}

} // namespace
