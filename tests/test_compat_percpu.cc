/* SPDX-License-Identifier: MIT */
// Conformance of rtheap/compat/kernel_percpu.h with the per-CPU data of
// the device-driver textbook, as shared/docs/seed-systems.md (family 5)
// describes it: "one instance per processor, accessed without locks";
// the kernel's forms (alloc_percpu(type) returns a typed handle,
// per_cpu_ptr() for every possible CPU, get_cpu_ptr() / put_cpu_ptr());
// plus what this port adds: misuse caught, reported, harmless.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

#include "rtheap/compat/kernel_percpu.h"
#include "rtheap/default.h"
#include "compat_common.h"
#include "test_common.h"

extern "C" int percpu_c_program(void);   // test_compat_percpu_c.c
extern "C" int percpu_c11_program(void); // test_compat_percpu_c11.c

using namespace rtt;

namespace {

struct pkt_stats {
	unsigned long packets;
	unsigned long bytes;
};

// ---- the kernel's forms, at compile time ----
static_assert(std::is_same<decltype(alloc_percpu(struct pkt_stats)), pkt_stats *>::value,
              "alloc_percpu(type) returns type *");
static_assert(std::is_same<decltype(alloc_percpu(int)), int *>::value, "alloc_percpu(int)");
static_assert(std::is_same<decltype(per_cpu_ptr((pkt_stats *)nullptr, 0)), pkt_stats *>::value,
              "per_cpu_ptr keeps the type");
static_assert(std::is_same<decltype(this_cpu_ptr((pkt_stats *)nullptr)), pkt_stats *>::value,
              "this_cpu_ptr keeps the type");
static_assert(std::is_same<decltype(get_cpu_ptr((pkt_stats *)nullptr)), pkt_stats *>::value,
              "get_cpu_ptr keeps the type");
static_assert(std::is_same<decltype(&__alloc_percpu), void *(*)(size_t, size_t)>::value,
              "__alloc_percpu(size, align)");
static_assert(std::is_same<decltype(&free_percpu), void (*)(void *)>::value, "free_percpu");

// The default heap of this process: 1 MiB, no helper thread (so that an
// allocation that does not fit fails and stays failed), set before any
// use of rtheap_default() (static initialisation).
const int default_setup_rc =
    rtheap_default_setup(1u << 20, 1u << 20, 0, RTHEAP_DEFAULT_NOHELPER);

std::vector<unsigned> allowed_cpus()
{
	std::vector<unsigned> v;
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return v;
	for (unsigned c = 0; c < num_possible_cpus() && c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			v.push_back(c);
	return v;
}

class CompatPercpu : public ::testing::Test {
protected:
	rtheap_t *heap_ = nullptr;
	std::vector<Misuse> misuse_;

	void SetUp() override
	{
		ASSERT_EQ(0, default_setup_rc);
		heap_ = rtheap_default();
		ASSERT_NE(nullptr, heap_);
		ASSERT_EQ(0, rtheap_set_error_handler(heap_, record_misuse, &misuse_));
	}
	void TearDown() override
	{
		EXPECT_TRUE(heap_ok(heap_));
		rtheap_set_error_handler(heap_, nullptr, nullptr);
	}
};

} // namespace

// One instance per possible CPU, zeroed, distinct, cache-line separated.
TEST_F(CompatPercpu, OneZeroedInstancePerPossibleCpu)
{
	const rtheap_stats before = stats(heap_);
	pkt_stats *s = alloc_percpu(struct pkt_stats);
	ASSERT_NE(nullptr, s);
	EXPECT_EQ(rtpercpu_nr_cpus(), num_possible_cpus());
	EXPECT_EQ(num_possible_cpus(), nr_cpu_ids);
	std::vector<uintptr_t> seen;
	int cpu;
	for_each_possible_cpu(cpu) {
		pkt_stats *p = per_cpu_ptr(s, cpu);
		ASSERT_NE(nullptr, p);
		EXPECT_NE((uintptr_t)s, (uintptr_t)p) << "the handle is not an instance";
		EXPECT_EQ(0u, p->packets);
		EXPECT_EQ(0u, p->bytes);
		EXPECT_EQ(0u, (uintptr_t)p % 64);
		for (uintptr_t q : seen)
			EXPECT_GE((uintptr_t)p > q ? (uintptr_t)p - q : q - (uintptr_t)p, 64u);
		seen.push_back((uintptr_t)p);
	}
	EXPECT_EQ((size_t)num_possible_cpus(), seen.size());
	EXPECT_EQ(nullptr, per_cpu_ptr(s, num_possible_cpus()));
	free_percpu(s);
	const rtheap_stats after = stats(heap_);
	EXPECT_EQ(before.used, after.used) << "free_percpu gave everything back";
	EXPECT_EQ(before.live_blocks, after.live_blocks);
	EXPECT_TRUE(misuse_.empty());
}

// "Accessed without locks": a thread pinned on each CPU counts in its
// instance through get_cpu_ptr / put_cpu_ptr; the sum over every
// possible CPU is exact and each CPU's instance has its own thread's
// counts only.
TEST_F(CompatPercpu, PinnedThreadsCountWithoutLocks)
{
	const std::vector<unsigned> cpus = allowed_cpus();
	ASSERT_FALSE(cpus.empty());
	pkt_stats *s = alloc_percpu(struct pkt_stats);
	ASSERT_NE(nullptr, s);
	const unsigned long kRounds = 100000;
	std::atomic<unsigned> failed{0};
	std::vector<std::thread> threads;
	for (unsigned cpu : cpus)
		threads.emplace_back([&, cpu] {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
				failed++;
				return;
			}
			for (unsigned long i = 0; i < kRounds; i++) {
				pkt_stats *p = get_cpu_ptr(s);
				p->packets++;
				p->bytes += cpu + 1;
				put_cpu_ptr(s);
			}
			if (smp_processor_id() != (int)cpu)
				failed++;
		});
	for (std::thread &t : threads)
		t.join();
	ASSERT_EQ(0u, failed.load());
	unsigned long packets = 0;
	unsigned c;
	for_each_possible_cpu(c) {
		bool used = false;
		for (unsigned a : cpus)
			used |= a == c;
		EXPECT_EQ(used ? kRounds : 0, per_cpu_ptr(s, c)->packets) << "cpu " << c;
		EXPECT_EQ(used ? kRounds * (c + 1) : 0, per_cpu_ptr(s, c)->bytes) << "cpu " << c;
		packets += per_cpu_ptr(s, c)->packets;
	}
	EXPECT_EQ(kRounds * cpus.size(), packets);
	free_percpu(s);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatPercpu, AlignmentAndTheCurrentCpu)
{
	char(*v)[100] = (char(*)[100])__alloc_percpu(100, 512);
	ASSERT_NE(nullptr, v);
	unsigned c;
	for_each_possible_cpu(c)
		EXPECT_EQ(0u, (uintptr_t)per_cpu_ptr(v, c) % 512);
	const int me = smp_processor_id();
	ASSERT_GE(me, 0);
	EXPECT_LT((unsigned)me, num_possible_cpus());
	EXPECT_GE(raw_smp_processor_id(), 0);
	// right after the call the thread may have migrated: only "one of
	// the instances" is certain without pinning
	char(*here)[100] = this_cpu_ptr(v);
	bool found = false;
	for_each_possible_cpu(c)
		found |= here == per_cpu_ptr(v, c);
	EXPECT_TRUE(found);
	EXPECT_NE(nullptr, raw_cpu_ptr(v));
	free_percpu(v);
	errno = 0;
	EXPECT_EQ(nullptr, __alloc_percpu(16, 3)) << "alignment not a power of two";
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(nullptr, __alloc_percpu(0, 0));
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatPercpu, AllocationThatDoesNotFitFailsAtOnce)
{
	const rtheap_stats before = stats(heap_);
	errno = 0;
	EXPECT_EQ(nullptr, __alloc_percpu(8u << 20, 0));
	EXPECT_EQ(ENOMEM, errno);
	const rtheap_stats after = stats(heap_);
	expect_same_stats(before, after, "too big", false);
	EXPECT_EQ(before.failed_allocs + 1, after.failed_allocs);
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatPercpu, BadFreePercpuIsReportedAndChangesNothing)
{
	pkt_stats *s = alloc_percpu(struct pkt_stats);
	pkt_stats *gone = alloc_percpu(struct pkt_stats);
	void *plain = rtheap_default_alloc(128);
	ASSERT_TRUE(s && gone && plain);
	std::memset(plain, 0, 128);
	free_percpu(gone);
	per_cpu_ptr(s, 0)->packets = 42;
	int on_stack = 0;
	struct Case {
		const char *what;
		void *p;
		rtheap_error_kind_t kind;
	} cases[] = {
		{ "foreign", &on_stack, RTHEAP_ERR_FOREIGN },
		{ "an instance instead of the handle", per_cpu_ptr(s, 0), RTHEAP_ERR_NOT_BLOCK },
		{ "a kmalloc-style block", plain, RTHEAP_ERR_NOT_BLOCK },
		{ "freed already", gone, RTHEAP_ERR_DOUBLE_FREE },
	};
	for (const Case &c : cases) {
		const rtheap_stats hs = stats(heap_);
		misuse_.clear();
		free_percpu(c.p);
		ASSERT_EQ(1u, misuse_.size()) << c.what;
		EXPECT_EQ(c.kind, misuse_[0].kind) << c.what;
		EXPECT_EQ(c.p, misuse_[0].addr) << c.what;
		const rtheap_stats hs2 = stats(heap_);
		expect_same_stats(hs, hs2, c.what);
		EXPECT_EQ(hs.errors + 1, hs2.errors) << c.what;
	}
	EXPECT_EQ(42u, per_cpu_ptr(s, 0)->packets);
	misuse_.clear();
	free_percpu(nullptr);
	EXPECT_TRUE(misuse_.empty());
	free_percpu(s);
	EXPECT_EQ(0, rtheap_default_free(plain));
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatPercpu, StrictC11Program)
{
	EXPECT_EQ(0, percpu_c_program()) << "line of the failed check in test_compat_percpu_c.c";
	EXPECT_TRUE(misuse_.empty());
}

TEST_F(CompatPercpu, PlainC11FormsWithoutTypeof)
{
	EXPECT_EQ(0, percpu_c11_program()) << "line of the failed check in test_compat_percpu_c11.c";
	EXPECT_TRUE(misuse_.empty());
}
