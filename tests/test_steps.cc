/* SPDX-License-Identifier: MIT */
// Bounded time, measured without clocks: the rtheap_steps variant counts
// every map access, list hop, bitmap-word scan and search iteration.  The
// worst count per operation over adversarial sequences must not depend on
// the heap size, and only logarithmically on the number of extents (free).
#include <algorithm>
#include <vector>

#include "rtheap_steps.h"
#include "test_common.h"

using rtt::heap_ok;

namespace {

constexpr size_t kPage = 256;
// "A small constant": generous, but far below anything that grows with
// the heap (a 1 MiB heap has 4096 pages, a 256 MiB heap a million).
constexpr unsigned long kStepBound = 32;

struct Maxima {
	unsigned long alloc = 0, alloc_fail = 0, free = 0;
	size_t allocs = 0, fails = 0, frees = 0;
	// rtheap_alloc_aligned, above the page size (aligned runs) and not
	unsigned long aligned_run = 0, aligned_other = 0, aligned_fail = 0;
	size_t aligned_runs = 0, aligned_others = 0, aligned_fails = 0;
};

class Probe {
public:
	explicit Probe(rtheap_t *h) : h_(h) {}
	void *alloc(size_t sz)
	{
		rtheap_steps_reset();
		void *p = rtheap_alloc(h_, sz);
		unsigned long s = rtheap_steps_get();
		if (p) {
			m.alloc = std::max(m.alloc, s);
			m.allocs++;
		} else {
			m.alloc_fail = std::max(m.alloc_fail, s);
			m.fails++;
		}
		return p;
	}
	void *alloc_aligned(size_t sz, size_t align)
	{
		rtheap_steps_reset();
		void *p = rtheap_alloc_aligned(h_, sz, align);
		unsigned long s = rtheap_steps_get();
		if (!p) {
			m.aligned_fail = std::max(m.aligned_fail, s);
			m.aligned_fails++;
		} else if (align > kPage) {
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % align);
			m.aligned_run = std::max(m.aligned_run, s);
			m.aligned_runs++;
		} else {
			EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(p) % align);
			m.aligned_other = std::max(m.aligned_other, s);
			m.aligned_others++;
		}
		return p;
	}
	void release(void *p)
	{
		rtheap_steps_reset();
		int rc = rtheap_free(h_, p);
		unsigned long s = rtheap_steps_get();
		EXPECT_EQ(0, rc);
		m.free = std::max(m.free, s);
		m.frees++;
	}
	Maxima m;

private:
	rtheap_t *h_;
};

// The longest releases, for certain, on a fresh heap of pages of P bytes:
// a block of `mid` bytes whose pages then merge with a 2-page free run
// below (one boundary entry more than a 1-page one) and a free page
// above, into a run that goes second on its list because a run of the
// same length lies below it.  mid = P / 2: the last block of a bucket
// page (inline bitmap at every P; a side page costs one step less);
// mid = P: a one-page run.  alloc and release are the caller's
// (measured) calls; every block is released.
template <class Alloc, class Release>
void worst_release(Alloc alloc, Release release, size_t P, size_t mid)
{
	char *low = static_cast<char *>(alloc(4 * P));
	void *g1 = alloc(P);
	char *a = static_cast<char *>(alloc(2 * P));
	char *b = static_cast<char *>(alloc(mid));
	char *c = static_cast<char *>(alloc(P));
	void *g2 = alloc(P);
	ASSERT_TRUE(low && g1 && a && b && c && g2);
	char *bp = b - reinterpret_cast<uintptr_t>(b) % P; // b's page
	ASSERT_TRUE(low < a && a + 2 * P == bp && bp + P == c) << "pages cut in address order";
	release(low);
	release(a);
	release(c);
	release(b); // merges a and c into 4 pages, and goes second, behind low
	release(g1);
	release(g2);
}

// The blocks an adversarial program holds and their bytes, released
// through the probe.
struct Held {
	Held(Probe &pr, rtheap_t *h) : pr_(pr), h_(h) {}
	void *keep(void *p)
	{
		if (p) {
			blocks.push_back(p);
			used += rtheap_usable_size(h_, p);
		}
		return p;
	}
	void drop(size_t k)
	{
		void *p = blocks[k];
		used -= rtheap_usable_size(h_, p);
		pr_.release(p);
		blocks[k] = blocks.back();
		blocks.pop_back();
	}
	// Free every other block, in order: holes between the live ones.
	void drop_every_other()
	{
		std::vector<void *> kept;
		for (size_t i = 0; i < blocks.size(); i++) {
			if (i % 2) {
				used -= rtheap_usable_size(h_, blocks[i]);
				pr_.release(blocks[i]);
			} else {
				kept.push_back(blocks[i]);
			}
		}
		blocks.swap(kept);
	}
	std::vector<void *> blocks;
	size_t used = 0;

private:
	Probe &pr_;
	rtheap_t *h_;
};

// Fragment the heap into many free runs and half-filled bucket pages, then
// torment it.  `budget` caps the bytes held, so that the same sequence can
// run on heaps of different sizes.
Maxima adversarial(rtheap_t *h, uint64_t seed, size_t budget)
{
	Probe pr(h);
	std::mt19937_64 rng(seed);
	Held held(pr, h);
	const std::vector<void *> &blocks = held.blocks;
	const size_t &used = held.used;
	auto take = [&](size_t sz) { return held.keep(pr.alloc(sz)); };
	auto drop = [&](size_t k) { held.drop(k); };
	const size_t smalls[] = {16, 24, 40, 64, 100, 128};
	const size_t larges[] = {129, 256, 257, 512, 3 * 256, 5 * 256 - 7, 9 * 256};

	// 1. Alternate small and large blocks.
	for (size_t i = 0; used < budget; i++) {
		if (!take(smalls[i % 6]) || !take(larges[(i / 6 + i) % 7]))
			break;
	}
	// 2. Free every other block: holes between live runs, bucket pages
	//    with every other slot free.
	held.drop_every_other();
	// 3. Sizes that just miss the holes (one page more than each hole,
	//    one class above), allocated and freed at once.
	for (int i = 0; i < 2000; i++) {
		size_t sz = larges[i % 7] + kPage;
		if (i % 3 == 0)
			sz = smalls[i % 6] * 2 + 1;
		void *p = pr.alloc(sz);
		if (p)
			pr.release(p);
	}
	// 4. Random mix within the budget.
	for (int i = 0; i < 20000; i++) {
		if (!blocks.empty() && (used >= budget || rng() % 2))
			drop(rng() % blocks.size());
		else if (rng() % 2)
			take(smalls[rng() % 6] + rng() % 8);
		else
			take(larges[rng() % 7] + rng() % 3 * kPage);
	}
	// 5. Random frees of everything.
	while (!blocks.empty())
		drop(rng() % blocks.size());
	// 6. Requests that cannot succeed.
	pr.alloc(SIZE_MAX / 4);
	pr.alloc(SIZE_MAX / 2);
	return pr.m;
}

// The same torment with aligned requests mixed in: every power-of-two
// alignment from 1 to 64 pages, on sub-page and multi-page sizes, between
// plain blocks that cut the free memory into runs of every length.
Maxima adversarial_aligned(rtheap_t *h, uint64_t seed, size_t budget)
{
	Probe pr(h);
	std::mt19937_64 rng(seed);
	Held held(pr, h);
	const std::vector<void *> &blocks = held.blocks;
	const size_t &used = held.used;
	auto keep = [&](void *p) { return held.keep(p); };
	auto drop = [&](size_t k) { held.drop(k); };
	const size_t sizes[] = {1, 40, 129, 256, 257, 3 * 256, 5 * 256 - 7, 9 * 256};
	auto align = [&](unsigned k) { return size_t{1} << (k % 15); }; // 1 .. 64 pages
	// 0. The longest release, on any heap.
	worst_release([&](size_t sz) { return pr.alloc(sz); },
	              [&](void *p) { pr.release(p); }, kPage, kPage / 2);
	// 1. Plain and aligned blocks alternately, every alignment.
	for (unsigned i = 0; used < budget; i++) {
		if (!keep(pr.alloc(sizes[i % 8] + kPage)) ||
		    !keep(pr.alloc_aligned(sizes[(i / 8 + i) % 8], align(i))))
			break;
	}
	// 2. Free every other block: holes of many lengths and offsets.
	held.drop_every_other();
	// 3. Aligned requests that just miss the holes, freed at once.
	for (unsigned i = 0; i < 3000; i++) {
		void *p = pr.alloc_aligned(sizes[i % 8] + (i % 3) * kPage, align(i * 7));
		if (p)
			pr.release(p);
	}
	// 4. Random mix within the budget.
	for (int i = 0; i < 20000; i++) {
		if (!blocks.empty() && (used >= budget || rng() % 2))
			drop(rng() % blocks.size());
		else if (rng() % 3)
			keep(pr.alloc_aligned(sizes[rng() % 8] + rng() % 3 * kPage,
			                      align(static_cast<unsigned>(rng()))));
		else
			keep(pr.alloc(sizes[rng() % 8] + rng() % 3 * kPage));
	}
	while (!blocks.empty())
		drop(rng() % blocks.size());
	// 5. Requests that cannot succeed.
	pr.alloc_aligned(SIZE_MAX / 4, 64 * kPage);
	pr.alloc_aligned(kPage, SIZE_MAX / 4 + 1);
	pr.alloc_aligned(SIZE_MAX / 2, 2 * kPage);
	return pr.m;
}

void print(const char *what, const Maxima &m)
{
	std::printf("%-28s max steps: alloc %lu (n=%zu), failed alloc %lu (n=%zu), free %lu (n=%zu)\n",
	            what, m.alloc, m.allocs, m.alloc_fail, m.fails, m.free, m.frees);
}

struct BigHeap {
	rtt::Mapping map;
	std::unique_ptr<rtheap_t> h = rtt::new_heap();
	explicit BigHeap(size_t size) : map(size, true)
	{
		EXPECT_TRUE(map.ok());
		auto cfg = rtt::config(kPage, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
		EXPECT_EQ(0, rtheap_init(h.get(), map.data(), size, &cfg));
	}
	~BigHeap() { rtheap_destroy(h.get(), nullptr, nullptr); }
	size_t usable() { return rtt::stats(h.get()).usable; }
};

// One adversarial program run three times: on a 1 MiB heap and a 256 MiB
// heap with the same budget (80 % of the small heap), then on the big heap
// with 80 % of it.  Both heaps are checked, and empty at the end.
struct ThreeRuns {
	Maxima a, b, c;
};
ThreeRuns three_runs(Maxima (*program)(rtheap_t *, uint64_t, size_t), uint64_t seed,
                     void (*show)(const char *, const Maxima &))
{
	BigHeap small(1 << 20), big(256u << 20);
	const size_t budget = small.usable() * 4 / 5;
	ThreeRuns r;
	r.a = program(small.h.get(), seed, budget);
	r.b = program(big.h.get(), seed, budget);
	EXPECT_TRUE(heap_ok(small.h.get()));
	EXPECT_TRUE(heap_ok(big.h.get()));
	r.c = program(big.h.get(), seed + 1, big.usable() * 4 / 5);
	EXPECT_TRUE(heap_ok(big.h.get()));
	show("1 MiB heap:", r.a);
	show("256 MiB heap, same budget:", r.b);
	show("256 MiB heap, 80% budget:", r.c);
	EXPECT_EQ(0u, rtt::stats(small.h.get()).used);
	EXPECT_EQ(0u, rtt::stats(big.h.get()).used);
	return r;
}

TEST(Steps, WorstCaseDoesNotDependOnHeapSize)
{
	const ThreeRuns r = three_runs(adversarial, 1, print);
	const Maxima &a = r.a, &b = r.b, &c = r.c;
	EXPECT_EQ(a.alloc, b.alloc);
	EXPECT_EQ(a.free, b.free);
	EXPECT_EQ(a.alloc, c.alloc);
	EXPECT_EQ(a.free, c.free);
	for (const Maxima *m : {&a, &b, &c}) {
		EXPECT_LT(m->alloc, kStepBound);
		EXPECT_LT(m->alloc_fail, kStepBound);
		EXPECT_LT(m->free, kStepBound);
		EXPECT_GT(m->allocs, 10000u);
	}
}

void print_aligned(const char *what, const Maxima &m)
{
	std::printf("%-28s max steps: aligned run %lu (n=%zu), aligned other %lu (n=%zu), "
	            "failed %lu (n=%zu), free %lu\n",
	            what, m.aligned_run, m.aligned_runs, m.aligned_other, m.aligned_others,
	            m.aligned_fail, m.aligned_fails, m.free);
}

// rtheap_alloc_aligned: the same constant bound as rtheap_alloc, whatever
// the heap size and the alignment.
TEST(Steps, AlignedWorstCaseDoesNotDependOnHeapSize)
{
	const ThreeRuns r = three_runs(adversarial_aligned, 5, print_aligned);
	const Maxima &a = r.a, &b = r.b, &c = r.c;
	EXPECT_EQ(a.aligned_run, b.aligned_run);
	EXPECT_EQ(a.aligned_run, c.aligned_run);
	EXPECT_EQ(a.free, b.free);
	for (const Maxima *m : {&a, &b, &c}) {
		// An aligned run: one unlink, then the head and the tail
		// pieces (two boundary entries and one push each, a push
		// linking second one hop more), then the RUN entry: 10 steps
		// at most (a block ending the run writes one entry instead of
		// the tail piece's three).
		EXPECT_LE(m->aligned_run, 10u);
		EXPECT_LT(m->aligned_other, kStepBound);
		EXPECT_LT(m->aligned_fail, kStepBound);
		EXPECT_LT(m->alloc, kStepBound);
		EXPECT_LT(m->free, kStepBound);
		EXPECT_GT(m->aligned_runs, 3000u);
		EXPECT_GT(m->aligned_others, 3000u);
		EXPECT_GT(m->aligned_fails, 2u);
	}
}

TEST(Steps, SixtyFourExtentsCostAtMostLogEMoreToFree)
{
	const size_t total = 4 << 20;
	BigHeap one(total);
	rtt::Mapping many(total, true);
	auto h = rtt::new_heap();
	const int E = RTHEAP_MAX_EXTENTS;
	const size_t each = total / E;
	auto cfg = rtt::config(kPage, RTHEAP_LOCK_NONE, RTHEAP_F_ZEROED);
	// Extents added in an interleaved address order.
	for (int k = 0; k < E; k++) {
		int i = (k * 37) % E; // 37 is prime to 64: a permutation
		unsigned char *b = many.data() + (size_t)i * each;
		if (k == 0) {
			ASSERT_EQ(0, rtheap_init(h.get(), b, each, &cfg));
		}
		else {
			ASSERT_EQ(0, rtheap_extend(h.get(), b, each, RTHEAP_F_ZEROED));
		}
	}
	const size_t budget = rtt::stats(h.get()).usable * 3 / 4;
	Maxima a = adversarial(one.h.get(), 3, budget);
	Maxima b = adversarial(h.get(), 3, budget);
	EXPECT_TRUE(heap_ok(one.h.get()));
	EXPECT_TRUE(heap_ok(h.get()));
	print("1 extent of 4 MiB:", a);
	print("64 extents of 64 KiB:", b);
	unsigned log2e = 0;
	while ((1 << (log2e + 1)) <= E)
		log2e++;
	EXPECT_EQ(a.alloc, b.alloc) << "allocation must not depend on the extent count";
	EXPECT_LE(b.free, a.free + log2e + 1);
	EXPECT_LE(a.free, b.free);
	EXPECT_LT(b.free, kStepBound);
	EXPECT_EQ(0u, rtt::stats(h.get()).used);
	EXPECT_EQ(0, rtheap_destroy(h.get(), nullptr, nullptr));
}

// ---- exact maxima per path, every page size, every public call ----
//
// Each operation is classified by the path it takes (bucket or run; for a
// free, how many neighbouring free runs it merged with, from the free-run
// count around it) and the maximum step count per path is asserted exactly:
// a defect that adds even one step on a path (a log2(n) loop, a second
// scan) changes it.  The same maxima are reached on heaps of 64 and of 512
// pages of each size, with and without debug fill and the low-memory run
// watch (neither adds a counted step).  A change to the heap that changes a
// path's cost must update expected_max() and say why.
enum Path {
	kAllocBucket, kAllocRun, kAllocFail, kFreeBucket, kFreeRun0, kFreeRun1,
	kFreeRun2, kAligned, kNPaths
};
const char *const kPathName[kNPaths] = {
	"alloc bucket", "alloc run", "alloc failing after the search", "free bucket",
	"free run, no merge", "free run, 1 merge", "free run, 2 merges", "aligned run"};

unsigned long expected_max(Path p, size_t P)
{
	switch (p) {
	case kAllocBucket:
		// a fresh page: the run taken (as kAllocRun, but its remainder
		// never goes second, below), the page's map entry, and from
		// P = 512 on one step per side-bitmap word (P/512 of them)
		// instead of the inline bitmap
		return P == 256 ? 7 : 7 + P / 512;
	// The good fit compares the heads of two lists: one step when there
	// is a second one.  Every push of a free run that lies above the
	// head of its list links it second, one hop more than a push at the
	// head: one step on a split whose remainder changes list, on every
	// release, and on each of the two pieces of an aligned run.  (A
	// fresh bucket page never pays it: the remainder of the run it is
	// cut from goes to a shorter list, which is empty or whose head lies
	// above it, else the good fit would have taken that head.)
	case kAllocRun: return 8;
	case kAllocFail: return 0; // the bitmaps name no list: no map access
	case kFreeBucket: return 13;
	case kFreeRun0: return 7;
	case kFreeRun1: return 10;
	case kFreeRun2: return 12;
	case kAligned: return 10;
	default: return 0;
	}
}

struct PathMax {
	unsigned long max[kNPaths] = {};
	size_t n[kNPaths] = {};
	void add(Path p, unsigned long s)
	{
		max[p] = std::max(max[p], s);
		n[p]++;
	}
};

size_t free_runs(rtheap_t *h) { return rtt::stats(h).free_runs; }

// A deterministic torment of a heap with pages of P bytes.
PathMax measure_paths(rtheap_t *h, size_t P, uint64_t seed)
{
	PathMax pm;
	std::mt19937_64 rng(seed);
	std::vector<void *> blocks;
	auto timed_free = [&](void *p) {
		bool bucket = rtheap_usable_size(h, p) <= P / 2;
		size_t before = free_runs(h);
		rtheap_steps_reset();
		int rc = rtheap_free(h, p);
		unsigned long s = rtheap_steps_get();
		EXPECT_EQ(0, rc);
		if (bucket) {
			pm.add(kFreeBucket, s);
		} else {
			size_t after = free_runs(h);
			// +1: a new run; 0: merged with one; -1: with two
			long merges = 1 - (static_cast<long>(after) - static_cast<long>(before));
			if (merges >= 0 && merges <= 2)
				pm.add(static_cast<Path>(kFreeRun0 + merges), s);
			else
				ADD_FAILURE() << "free changed the free runs by " << after - before;
		}
	};
	auto timed_alloc = [&](size_t sz, bool aligned) -> void * {
		rtheap_steps_reset();
		void *p = aligned ? rtheap_alloc_aligned(h, sz, 2 * P) : rtheap_alloc(h, sz);
		unsigned long s = rtheap_steps_get();
		if (!p)
			return nullptr; // failures are measured on purpose below
		pm.add(aligned ? kAligned : sz <= P / 2 ? kAllocBucket : kAllocRun, s);
		blocks.push_back(p);
		return p;
	};
	const size_t npages = rtt::stats(h).usable / P;
	// The worst bucket allocation for certain: a fresh page of the
	// smallest class (the most side-bitmap words) cut from a free run in
	// the middle of the extent (a split with a node in a page).
	{
		void *a3 = rtheap_alloc(h, 3 * P), *guard = rtheap_alloc(h, P);
		EXPECT_EQ(0, rtheap_free(h, a3));
		void *p = timed_alloc(16, false);
		EXPECT_TRUE(p >= a3 && static_cast<char *>(p) < static_cast<char *>(a3) + 3 * P)
			<< "the page came from the 3-page run";
		blocks.pop_back();
		EXPECT_EQ(0, rtheap_free(h, p));
		EXPECT_EQ(0, rtheap_free(h, guard));
	}
	// The worst releases of a bucket block and of a run, for certain.
	for (size_t mid : {P / 2, P})
		worst_release([&](size_t sz) { return rtheap_alloc(h, sz); }, timed_free, P, mid);
	for (int i = 0; i < 6000; i++) {
		unsigned r = static_cast<unsigned>(rng() % 16);
		if (!blocks.empty() && (r < 7 || rtt::stats(h).used > npages * P / 2)) {
			size_t k = rng() % blocks.size();
			void *p = blocks[k];
			blocks[k] = blocks.back();
			blocks.pop_back();
			timed_free(p);
		} else if (r < 11) {
			size_t limit = std::min(P / 2, size_t{16} << (rng() % 12));
			timed_alloc(1 + rng() % limit, false); // every class, 16 often
		} else if (r < 14) {
			timed_alloc(P * (1 + rng() % 4) - rng() % 2, false);
		} else {
			timed_alloc(P + 1 + rng() % (2 * P), true);
		}
	}
	while (!blocks.empty()) {
		timed_free(blocks.back());
		blocks.pop_back();
	}
	// Failures after the search (not at rounding): a live page at every
	// fourth page, so that runs of 3 pages exist and none of 4.
	std::vector<void *> runs;
	while (void *p = rtheap_alloc(h, P))
		runs.push_back(p);
	for (size_t i = 0; i < runs.size(); i++) {
		if (i % 4) {
			EXPECT_EQ(0, rtheap_free(h, runs[i]));
		}
	}
	EXPECT_NE(nullptr, rtheap_alloc_aligned(h, 1, 1)) << "a bucket page still fits";
	for (size_t sz : {4 * P, 5 * P, 64 * P, npages * P / 2}) {
		rtheap_steps_reset();
		void *p = rtheap_alloc(h, sz);
		unsigned long s = rtheap_steps_get();
		EXPECT_EQ(nullptr, p) << sz;
		pm.add(kAllocFail, s);
	}
	return pm;
}

struct PageHeap {
	rtt::AlignedMapping map;
	std::unique_ptr<rtheap_t> h = rtt::new_heap();
	PageHeap(size_t P, size_t npages, unsigned flags)
	    : map(RTHEAP_BUFFER_SIZE(npages * P, P), P)
	{
		EXPECT_TRUE(map.ok());
		auto cfg = rtt::config(P, RTHEAP_LOCK_NONE, flags);
		EXPECT_EQ(0, rtheap_init(h.get(), map.data(), RTHEAP_BUFFER_SIZE(npages * P, P), &cfg));
	}
	~PageHeap() { rtheap_destroy(h.get(), nullptr, nullptr); }
};

void lowmem_cb(rtheap_t *, size_t, size_t, void *) {}

enum Mode { kPlain, kDebugFill, kRunWatch, kNModes };
const char *const kModeName[kNModes] = {"plain", "debug fill", "low-memory run watch"};

PathMax measure_mode(size_t P, size_t npages, Mode mode)
{
	PageHeap ph(P, npages, mode == kDebugFill ? RTHEAP_F_DEBUG_FILL : 0);
	if (mode == kRunWatch) {
		EXPECT_EQ(0, rtheap_set_lowmem(ph.h.get(), 0, lowmem_cb, nullptr));
		EXPECT_EQ(0, rtheap_set_lowmem_run(ph.h.get(), 8 * P));
	}
	return measure_paths(ph.h.get(), P, 7);
}

class StepsPerPage : public ::testing::TestWithParam<size_t> {};

TEST_P(StepsPerPage, ExactMaximumPerPath)
{
	const size_t P = GetParam();
	for (int mode = 0; mode < kNModes; mode++) {
		SCOPED_TRACE(kModeName[mode]);
		for (size_t npages : {64, 512}) {
			SCOPED_TRACE(npages);
			PathMax m = measure_mode(P, npages, static_cast<Mode>(mode));
			for (int k = 0; k < kNPaths; k++) {
				SCOPED_TRACE(kPathName[k]);
				EXPECT_GT(m.n[k], 0u) << "path never taken";
				EXPECT_EQ(expected_max(static_cast<Path>(k), P), m.max[k]);
			}
		}
	}
}

// zalloc and test_and_free cost what alloc and free cost, operation by
// operation: the same sequence on twin heaps, one with each pair of calls.
int accept_block(void *) { return 0; }

TEST_P(StepsPerPage, ZallocAndTestAndFreeCostAsAllocAndFree)
{
	const size_t P = GetParam();
	PageHeap plain(P, 128, 0), other(P, 128, 0);
	std::mt19937_64 rng(11);
	std::vector<void *> a, b;
	size_t ops = 0;
	for (int i = 0; i < 3000; i++) {
		bool do_free = !a.empty() && (rng() % 2 || a.size() > 60);
		if (do_free) {
			size_t k = rng() % a.size();
			rtheap_steps_reset();
			EXPECT_EQ(0, rtheap_free(plain.h.get(), a[k]));
			unsigned long s1 = rtheap_steps_get();
			rtheap_steps_reset();
			EXPECT_EQ(0, rtheap_test_and_free(other.h.get(), b[k], accept_block));
			unsigned long s2 = rtheap_steps_get();
			ASSERT_EQ(s1, s2) << "free vs test_and_free, op " << i;
			a[k] = a.back(), a.pop_back();
			b[k] = b.back(), b.pop_back();
		} else {
			size_t sz = rng() % 2 ? 1 + rng() % (P / 2) : 1 + rng() % (4 * P);
			rtheap_steps_reset();
			void *p = rtheap_alloc(plain.h.get(), sz);
			unsigned long s1 = rtheap_steps_get();
			rtheap_steps_reset();
			void *q = rtheap_zalloc(other.h.get(), sz);
			unsigned long s2 = rtheap_steps_get();
			ASSERT_EQ(p == nullptr, q == nullptr);
			ASSERT_EQ(s1, s2) << "alloc vs zalloc of " << sz << ", op " << i;
			if (p) {
				a.push_back(p);
				b.push_back(q);
			}
		}
		ops++;
	}
	EXPECT_EQ(3000u, ops);
	EXPECT_TRUE(heap_ok(plain.h.get()));
	EXPECT_TRUE(heap_ok(other.h.get()));
}

// rtheap_extend: its steps do not depend on the size of the buffer added.
TEST_P(StepsPerPage, ExtendCostDoesNotDependOnItsSize)
{
	const size_t P = GetParam();
	unsigned long cost[2] = {};
	const size_t pages[2] = {8, 1024};
	for (int i = 0; i < 2; i++) {
		// the buffer outlives the heap (destroy reads its header)
		rtt::AlignedMapping more(RTHEAP_BUFFER_SIZE(pages[i] * P, P), P);
		ASSERT_TRUE(more.ok());
		PageHeap ph(P, 16, 0);
		rtheap_steps_reset();
		ASSERT_EQ(0, rtheap_extend(ph.h.get(), more.data(),
		                           RTHEAP_BUFFER_SIZE(pages[i] * P, P), 0));
		cost[i] = rtheap_steps_get();
		EXPECT_TRUE(heap_ok(ph.h.get()));
	}
	EXPECT_EQ(cost[0], cost[1]);
	EXPECT_LT(cost[0], kStepBound);
}

// rtheap_realloc in place, path by path, on a heap of npages pages, for a
// block that gains or loses `delta` pages.
struct ReallocSteps {
	unsigned long bucket = 0;     // a bucket block within its class
	unsigned long same = 0;       // a run, the same number of pages
	unsigned long grow_tail = 0;  // into the run that ends the extent
	unsigned long grow_part = 0;  // into the head of a free run (node moves)
	unsigned long grow_whole = 0; // a whole free run
	unsigned long shrink = 0;     // tail given back, nothing to merge
	unsigned long shrink_merge = 0; // tail given back, merged with the run after
};

ReallocSteps measure_realloc(size_t P, size_t npages, size_t delta)
{
	PageHeap ph(P, npages, 0);
	rtheap_t *h = ph.h.get();
	auto steps = [h](void *p, size_t n) {
		rtheap_steps_reset();
		void *q = rtheap_realloc(h, p, n);
		unsigned long s = rtheap_steps_get();
		EXPECT_EQ(p, q) << "in place, " << n << " bytes";
		return s;
	};
	ReallocSteps m;
	void *t = rtheap_alloc(h, P); // first: the extent's tail run follows
	m.grow_tail = steps(t, (1 + delta) * P);
	m.same = steps(t, (1 + delta) * P - 1);
	void *a = rtheap_alloc(h, P), *f = rtheap_alloc(h, (delta + 1) * P);
	void *g = rtheap_alloc(h, P), *c = rtheap_alloc(h, (delta + 1) * P);
	void *d = rtheap_alloc(h, P), *e = rtheap_alloc(h, P);
	EXPECT_TRUE(a && f && g && c && d && e);
	EXPECT_EQ(0, rtheap_free(h, f));
	EXPECT_EQ(0, rtheap_free(h, d));
	m.grow_part = steps(a, (1 + delta) * P); // delta of the delta + 1 pages
	m.grow_whole = steps(a, (2 + delta) * P); // the last one
	m.shrink = steps(a, P); // g follows: no merge
	m.shrink_merge = steps(c, P); // d's free page follows
	void *b = rtheap_alloc(h, 100);
	m.bucket = steps(b, 128);
	for (void *p : {t, a, g, c, e, b})
		EXPECT_EQ(0, rtheap_free(h, p));
	EXPECT_TRUE(heap_ok(h));
	return m;
}

// Realloc in place is bounded: its steps depend neither on the heap size
// nor on the number of pages gained or lost (the copy of a moved block is
// the only size-dependent cost, and it counts no step).
TEST_P(StepsPerPage, ReallocInPlaceCostDoesNotDependOnHeapOrSize)
{
	const size_t P = GetParam();
	for (size_t delta : {1, 7, 40, 200}) {
		SCOPED_TRACE(delta);
		const ReallocSteps m = measure_realloc(P, 1024, delta);
		const ReallocSteps big = measure_realloc(P, 4096, delta);
		// one map read (the lookup is O(log E), no step with one extent)
		EXPECT_EQ(1u, m.bucket);
		EXPECT_EQ(1u, m.same);
		// the block's entry and the next page's; the head of the free
		// run: one unlink, the remainder's two boundary entries and one
		// push (second on its list: one hop more), the old head entry;
		// the block's entry written: 9 at most
		EXPECT_LE(m.grow_part, 9u);
		EXPECT_GE(m.grow_part, 8u);
		// the whole run: one unlink, its two boundary entries cleared
		EXPECT_EQ(5u, m.grow_whole);
		// the tail run keeps its node: its two entries, and an unlink and
		// a push only if the remainder changes list
		EXPECT_LE(m.grow_tail, 9u);
		// the block's entry read and written; the release of the tail:
		// both neighbours read, one merge (unlink, one entry cleared),
		// the run's two entries, one push
		EXPECT_LE(m.shrink, 10u);
		EXPECT_LE(m.shrink_merge, 10u);
		EXPECT_GT(m.shrink_merge, m.shrink) << "the merge path was taken";
		// the same on a heap four times larger (the tail run's list
		// differs, so its count may too, within the bound)
		EXPECT_EQ(m.bucket, big.bucket);
		EXPECT_EQ(m.grow_part, big.grow_part);
		EXPECT_EQ(m.grow_whole, big.grow_whole);
		EXPECT_EQ(m.shrink, big.shrink);
		EXPECT_EQ(m.shrink_merge, big.shrink_merge);
		EXPECT_LE(big.grow_tail, 9u);
	}
}

INSTANTIATE_TEST_SUITE_P(Pages, StepsPerPage,
                         ::testing::Values(256, 512, 1024, 2048, 4096, 8192, 16384, 32768));

} // namespace
