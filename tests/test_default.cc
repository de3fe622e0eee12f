/* SPDX-License-Identifier: MIT */
// The process default heap (rtheap/default.h).  It is global to the
// process and created once, so every case runs in a fresh child process
// (run_child): the test process itself never touches it.  A child reports
// through its exit status: 0 passed, 77 skipped, anything else failed
// (the failed check is printed on stderr); alarm() turns a hang (a lock
// left held across fork) into a failure.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "child_common.h"
#include "test_common.h"

#include "rtheap/default.h"

#if defined(__SANITIZE_THREAD__)
#define DEFHEAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DEFHEAP_TSAN 1
#endif
#endif

#ifdef DEFHEAP_TSAN
// A forked child of a multi-threaded process creates threads here (the
// default heap's helper): ThreadSanitizer supports it, but dies by default;
// and it would wait a second at every child's exit (threads still run).
extern "C" const char *__tsan_default_options(void)
{
	return "die_after_fork=0:atexit_sleep_ms=0";
}
#endif

namespace {

constexpr size_t kK = 1024;
constexpr size_t kM = 1024 * 1024;

using rtchild::kSkip;
using rtchild::leave;
using rtchild::run_child;

void clear_env()
{
	unsetenv("RTHEAP_DEFAULT_SIZE");
	unsetenv("RTHEAP_DEFAULT_STEP");
	unsetenv("RTHEAP_DEFAULT_MAX");
}

rtheap_default_info info()
{
	rtheap_default_info i;
	std::memset(&i, 0xff, sizeof i);
	if (rtheap_default_stats(&i) != 0)
		std::memset(&i, 0, sizeof i);
	return i;
}

bool consistent(rtheap_t *h)
{
	rtheap_fault f{};
	int rc = rtheap_check(h, &f);
	if (rc != 0)
		std::fprintf(stderr, "rtheap_check: %d %s\n", rc, f.what ? f.what : "");
	return rc == 0;
}

size_t sys_page()
{
	return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Retry rtheap_alloc(h, n) every millisecond for at most ~10 s: the
// helper thread extends the heap meanwhile (no assertion on how fast).
void *alloc_retry(rtheap_t *h, size_t n)
{
	for (int i = 0; i < 10000; i++) {
		void *p = rtheap_alloc(h, n);
		if (p)
			return p;
		usleep(1000);
	}
	return nullptr;
}

// Wait (bounded, ~10 s) until pred() holds.
bool wait_for(const std::function<bool()> &pred)
{
	for (int i = 0; i < 10000; i++) {
		if (pred())
			return true;
		usleep(1000);
	}
	return pred();
}

// kB of locked memory of this process (/proc/self/status VmLck), or -1.
long vm_locked_kb()
{
	std::ifstream f("/proc/self/status");
	std::string line;
	while (std::getline(f, line))
		if (line.rfind("VmLck:", 0) == 0)
			return std::strtol(line.c_str() + 6, nullptr, 10);
	return -1;
}

// Every system page of [p, p + n) resident (mincore)?
bool resident(const void *p, size_t n)
{
	uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t)(sys_page() - 1);
	size_t len = reinterpret_cast<uintptr_t>(p) + n - a;
	std::vector<unsigned char> v((len + sys_page() - 1) / sys_page());
	if (mincore(reinterpret_cast<void *>(a), len, v.data()) != 0)
		return false;
	for (unsigned char c : v)
		if (!(c & 1))
			return false;
	return true;
}

// ------------------------------------------------------------ creation

TEST(DefaultHeap, CreatedOnFirstUseWithDefaults)
{
	IN_CHILD([] {
		clear_env();
		CK(info().created == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		CK(rtheap_default() == h);
		rtheap_default_info i = info();
		CK(i.created == 1);
		CK(i.initial == RTHEAP_DEFAULT_INITIAL);
		CK(i.step == RTHEAP_DEFAULT_INITIAL);
		CK(i.max == 0);
		CK(i.threshold == RTHEAP_DEFAULT_INITIAL / 4);
		CK(i.extents == 1);
		CK(i.bytes_mapped == RTHEAP_DEFAULT_INITIAL);
		CK(i.helper_running == 1);
		CK(i.flags == 0 && i.env_ignored == 0);
		CK(i.grow_calls == 0 && i.helper_extents == 0 && i.grow_failures == 0);
		// locked, or the recorded fallback
		CK(i.locked == (i.bytes_locked == i.bytes_mapped));
		CK(i.locked || (i.lock_errno == EPERM || i.lock_errno == ENOMEM));
		rtheap_stats st = rtt::stats(h);
		CK(st.size == RTHEAP_DEFAULT_INITIAL && st.extents == 1);
		void *p = rtheap_alloc(h, 100);
		CK(p != nullptr);
		std::memset(p, 1, 100);
		CK(rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// The memory is locked (VmLck counts it) or, where mlock is refused,
// still resident: a block never touched by the program is in core.
TEST(DefaultHeap, LockedAndPrefaulted)
{
	IN_CHILD([] {
		clear_env();
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		rtheap_default_info i = info();
		// (the sanitizers' mlock does nothing and reports success)
		if (i.locked && !RTHEAP_TEST_SANITIZED)
			CK(vm_locked_kb() >= static_cast<long>(i.bytes_mapped / 1024));
		void *p = rtheap_alloc(h, 512 * kK);
		CK(p != nullptr);
		CK(resident(p, 512 * kK));
		CK(rtheap_free(h, p) == 0);
		return 0;
	});
}

// Drop the right to lock memory (RLIMIT_MEMLOCK 0, CAP_IPC_LOCK off):
// mlock fails with EPERM, the heap carries on unlocked but prefaulted.
TEST(DefaultHeap, UnlockedFallbackWhenMlockRefused)
{
	IN_CHILD([] {
		clear_env();
		__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
		__user_cap_data_struct cap[2]{};
		if (syscall(SYS_capget, &hdr, cap) == 0) {
			cap[0].effective &= ~(1u << CAP_IPC_LOCK);
			(void)syscall(SYS_capset, &hdr, cap);
		}
		rlimit rl{0, 0};
		CK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
		rtt::Mapping probe(sys_page());
		if (mlock(probe.data(), sys_page()) == 0)
			return kSkip; // still allowed to lock: no fallback to see
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		rtheap_default_info i = info();
		CK(i.locked == 0 && i.bytes_locked == 0);
		CK(i.lock_errno == EPERM || i.lock_errno == ENOMEM);
		CK(i.bytes_mapped == RTHEAP_DEFAULT_INITIAL);
		void *p = rtheap_alloc(h, 1 * kM);
		CK(p != nullptr);
		CK(resident(p, 1 * kM));
		CK(rtheap_free(h, p) == 0);
		// an extension takes the same path
		CK(rtheap_default_grow(0) == 0);
		CK(info().extents == 2 && info().bytes_locked == 0);
		CK(consistent(h));
		return 0;
	});
}

// Eight threads make their first call at once: one heap, one mapping.
TEST(DefaultHeap, ConcurrentFirstUseGivesOneHeap)
{
	IN_CHILD([] {
		clear_env();
		constexpr int kThreads = 8;
		std::atomic<int> ready{0};
		std::atomic<bool> go{false};
		std::vector<rtheap_t *> got(kThreads, nullptr);
		std::vector<std::thread> ts;
		for (int t = 0; t < kThreads; t++)
			ts.emplace_back([&, t] {
				ready++;
				while (!go.load())
					std::this_thread::yield();
				got[static_cast<size_t>(t)] = rtheap_default();
				void *p = rtheap_alloc(got[static_cast<size_t>(t)], 64);
				(void)rtheap_free(got[static_cast<size_t>(t)], p);
			});
		while (ready.load() < kThreads)
			std::this_thread::yield();
		go = true;
		for (auto &t : ts)
			t.join();
		for (rtheap_t *h : got)
			CK(h != nullptr && h == got[0]);
		rtheap_default_info i = info();
		CK(i.extents == 1 && i.bytes_mapped == RTHEAP_DEFAULT_INITIAL);
		CK(rtt::stats(got[0]).extents == 1);
		CK(rtt::stats(got[0]).live_blocks == 0);
		CK(consistent(got[0]));
		return 0;
	});
}

// ------------------------------------------------------------ settings

TEST(DefaultHeap, EnvironmentSizesHonoured)
{
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_SIZE", "3M", 1);
		setenv("RTHEAP_DEFAULT_STEP", "512k", 1);
		setenv("RTHEAP_DEFAULT_MAX", "16777216", 1);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == 3 * kM && i.step == 512 * kK && i.max == 16 * kM);
		CK(i.env_ignored == 0);
		CK(i.threshold == 128 * kK);
		CK(rtt::stats(h).size >= 3 * kM);
		CK(rtt::stats(h).size < RTHEAP_DEFAULT_INITIAL);
		return 0;
	});
	// the G suffix, and a size rounded up to the system page
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_SIZE", "70000", 1);
		setenv("RTHEAP_DEFAULT_MAX", "1G", 1);
		CK(rtheap_default() != nullptr);
		rtheap_default_info i = info();
		CK(i.initial >= 70000 && i.initial % sys_page() == 0 &&
		   i.initial < 70000 + sys_page());
		CK(i.step == i.initial && i.max == 1024 * kM);
		return 0;
	});
	// suffixes in either case
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_SIZE", "1m", 1);
		setenv("RTHEAP_DEFAULT_STEP", "128K", 1);
		setenv("RTHEAP_DEFAULT_MAX", "2g", 1);
		CK(rtheap_default() != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == 1 * kM && i.step == 128 * kK && i.max == 2048 * kM);
		CK(i.env_ignored == 0);
		return 0;
	});
	// the initial size from the environment is cut down to the maximum
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_MAX", "1M", 1);
		CK(rtheap_default() != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == 1 * kM && i.max == 1 * kM && i.bytes_mapped == 1 * kM);
		return 0;
	});
}

// Malformed or out-of-range values are ignored (the default is used) and
// reported in env_ignored; the heap is created all the same.
TEST(DefaultHeap, EnvironmentBadValuesIgnored)
{
	const char *bad[] = {"", "abc", "12Q", "-5", "1M ", " 1M", "4K",
	                     "99999999999999999999999", "17179869184G", "1.5M",
	                     "200G" /* beyond one extent */};
	for (const char *v : bad) {
		SCOPED_TRACE(std::string("RTHEAP_DEFAULT_SIZE=\"") + v + "\"");
		IN_CHILD([v] {
			clear_env();
			setenv("RTHEAP_DEFAULT_SIZE", v, 1);
			setenv("RTHEAP_DEFAULT_STEP", v, 1);
			CK(rtheap_default() != nullptr);
			rtheap_default_info i = info();
			CK(i.initial == RTHEAP_DEFAULT_INITIAL && i.step == i.initial);
			CK(i.env_ignored == (RTHEAP_DEFAULT_ENV_SIZE | RTHEAP_DEFAULT_ENV_STEP));
			return 0;
		});
	}
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_MAX", "1K", 1);
		CK(rtheap_default() != nullptr);
		CK(info().env_ignored == RTHEAP_DEFAULT_ENV_MAX && info().max == 0);
		return 0;
	});
}

TEST(DefaultHeap, SetupBeforeFirstUse)
{
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_SIZE", "4M", 1); // setup wins
		CK(rtheap_default_setup(1 * kM, 256 * kK, 4 * kM, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(info().created == 0); // setup does not create it
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == 1 * kM && i.step == 256 * kK && i.max == 4 * kM);
		CK(i.flags == RTHEAP_DEFAULT_NOHELPER && i.helper_running == 0);
		CK(i.threshold == 64 * kK);
		CK(rtt::stats(h).size == 1 * kM);
		return 0;
	});
	// zeros take the environment; a later setup replaces an earlier one
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_STEP", "128K", 1);
		CK(rtheap_default_setup(2 * kM, 0, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(rtheap_default_setup(512 * kK, 0, 0, 0) == 0);
		CK(rtheap_default() != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == 512 * kK && i.step == 128 * kK && i.max == 0);
		CK(i.flags == 0 && i.helper_running == 1);
		return 0;
	});
	// an environment maximum below setup's explicit initial size is ignored
	IN_CHILD([] {
		clear_env();
		setenv("RTHEAP_DEFAULT_MAX", "256K", 1);
		CK(rtheap_default_setup(1 * kM, 0, 0, 0) == 0);
		CK(rtheap_default() != nullptr);
		CK(info().initial == 1 * kM && info().max == 0);
		CK(info().env_ignored == RTHEAP_DEFAULT_ENV_MAX);
		return 0;
	});
}

TEST(DefaultHeap, SetupAfterFirstUseIsBusy)
{
	IN_CHILD([] {
		clear_env();
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		CK(rtheap_default_setup(1 * kM, 0, 0, 0) == -EBUSY);
		CK(rtheap_default_setup(0, 0, 0, 0) == -EBUSY);
		CK(rtheap_default_setup(0, 0, 0, RTHEAP_DEFAULT_NOHELPER) == -EBUSY);
		rtheap_default_info i = info();
		CK(i.initial == RTHEAP_DEFAULT_INITIAL && i.flags == 0 && i.helper_running == 1);
		CK(rtheap_default() == h);
		return 0;
	});
}

TEST(DefaultHeap, SetupBadValues)
{
	IN_CHILD([] {
		clear_env();
		const size_t lo = RTHEAP_DEFAULT_MIN;
		CK(rtheap_default_setup(0, 0, 0, 1u << 2) == -EINVAL);          // unknown flag
		CK(rtheap_default_setup(0, 0, 0, ~0u) == -EINVAL);
		CK(rtheap_default_setup(1, 0, 0, 0) == -EINVAL);                // below min
		CK(rtheap_default_setup(lo - 1, 0, 0, 0) == -EINVAL);
		CK(rtheap_default_setup(0, lo - 1, 0, 0) == -EINVAL);
		CK(rtheap_default_setup(0, 0, lo - 1, 0) == -EINVAL);
		CK(rtheap_default_setup(SIZE_MAX, 0, 0, 0) == -EINVAL);         // beyond one extent
		CK(rtheap_default_setup(0, SIZE_MAX / 2, 0, 0) == -EINVAL);
		CK(rtheap_default_setup(2 * kM, 0, 1 * kM, 0) == -EINVAL);      // max < initial
		// nothing changed: no heap, and the defaults apply
		CK(info().created == 0);
		CK(rtheap_default() != nullptr);
		rtheap_default_info i = info();
		CK(i.initial == RTHEAP_DEFAULT_INITIAL && i.max == 0 && i.flags == 0);
		// the limits themselves are accepted (before first use)
		return 0;
	});
	IN_CHILD([] {
		clear_env();
		const size_t lo = RTHEAP_DEFAULT_MIN;
		CK(rtheap_default_setup(lo, lo, lo, 0) == 0);
		CK(rtheap_default_setup(1 * kM, 4 * kM, 1 * kM, 0) == 0); // step > max: cut
		return 0;
	});
}

TEST(DefaultHeap, DebugFlagFillsBlocks)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(0, 0, 0, RTHEAP_DEFAULT_DEBUG) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		auto *p = static_cast<unsigned char *>(rtheap_alloc(h, 64));
		CK(p != nullptr);
		for (int k = 0; k < 64; k++)
			CK(p[k] == 0xa5);
		CK(rtheap_free(h, p) == 0);
		return 0;
	});
	IN_CHILD([] { // and not without it: fresh mapped memory reads zero
		clear_env();
		auto *p = static_cast<unsigned char *>(rtheap_default_alloc(64));
		CK(p != nullptr && p[0] == 0);
		CK(rtheap_default_free(p) == 0);
		return 0;
	});
}

TEST(DefaultHeap, Convenience)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_free(nullptr) == 0);
		CK(info().created == 0); // free(NULL) creates nothing
		void *p = rtheap_default_alloc(1000);
		CK(p != nullptr);
		CK(rtheap_usable_size(rtheap_default(), p) >= 1000);
		CK(rtheap_default_free(p) == 0);
		CK(rtheap_default_free(p) == -EINVAL); // double free: as rtheap_free
		int local = 0;
		CK(rtheap_default_free(&local) == -EFAULT);
		CK(rtheap_default_alloc(0) == nullptr);
		CK(rtheap_default_stats(nullptr) == -EINVAL);
		CK(consistent(rtheap_default()));
		return 0;
	});
}

// The C-style calls on the default heap: realloc, calloc, aligned_alloc
// with C's contracts (errno, size 0), the first of them creating the heap.
TEST(DefaultHeap, ReallocCallocAlignedAlloc)
{
	IN_CHILD([] {
		clear_env();
		char *p = static_cast<char *>(rtheap_default_realloc(nullptr, 100));
		CK(p != nullptr && info().created == 1); // realloc(NULL) creates it
		rtheap_t *h = rtheap_default();
		std::memset(p, 0x5c, 100);
		char *q = static_cast<char *>(rtheap_default_realloc(p, 5000));
		CK(q != nullptr && rtheap_usable_size(h, q) >= 5000);
		for (int i = 0; i < 100; i++)
			CK(q[i] == 0x5c);
		char *r = static_cast<char *>(rtheap_default_realloc(q, 1000));
		CK(r == q); // a shrink stays in place
		errno = 0;
		CK(rtheap_default_realloc(r, 0) == nullptr && errno == 0); // released
		CK(rtheap_check_block(h, r) == -EINVAL);
		errno = 0;
		CK(rtheap_default_realloc(r, 64) == nullptr && errno == EINVAL);
		int local = 0;
		errno = 0;
		CK(rtheap_default_realloc(&local, 64) == nullptr && errno == EFAULT);
		CK(rtt::stats(h).errors == 2);

		unsigned char *z = static_cast<unsigned char *>(rtheap_default_calloc(300, 7));
		CK(z != nullptr && rtheap_usable_size(h, z) >= 2100);
		for (size_t i = 0; i < 2100; i++)
			CK(z[i] == 0);
		errno = 0;
		CK(rtheap_default_calloc(SIZE_MAX / 2, 3) == nullptr && errno == ENOMEM);
		CK(rtt::stats(h).failed_allocs == 0); // an overflow is not counted
		CK(rtheap_default_free(z) == 0);

		for (size_t a = 1; a <= 1 * kM; a <<= 1) {
			void *b = rtheap_default_aligned_alloc(a, 100);
			CK(b != nullptr && reinterpret_cast<uintptr_t>(b) % a == 0);
			CK(rtheap_default_free(b) == 0);
		}
		errno = 0;
		CK(rtheap_default_aligned_alloc(48, 100) == nullptr && errno == EINVAL);
		errno = 0;
		CK(rtheap_default_aligned_alloc(RTHEAP_MAX_ALIGN * 2, 100) == nullptr &&
		   errno == EINVAL);
		CK(rtt::stats(h).live_blocks == 0 && consistent(h));
		return 0;
	});
}

// Out of memory: realloc, calloc and aligned_alloc fail at once (the old
// block intact), the helper extends, a retry succeeds.
TEST(DefaultHeap, CStyleCallsGrowThroughHelper)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr && info().helper_running == 1);
		char *p = static_cast<char *>(rtheap_default_alloc(100 * kK));
		CK(p != nullptr);
		rtt::fill(p, 100 * kK, 11);
		errno = 0;
		CK(rtheap_default_realloc(p, 1 * kM) == nullptr && errno == ENOMEM);
		CK(rtt::verify(p, 100 * kK, 11) == SIZE_MAX); // untouched
		CK(rtheap_check_block(h, p) == 0);
		CK(info().lowmem_calls >= 1);
		char *q = nullptr;
		for (int i = 0; i < 10000 && !q; i++) {
			q = static_cast<char *>(rtheap_default_realloc(p, 1 * kM));
			if (!q)
				usleep(1000);
		}
		CK(q != nullptr && rtheap_usable_size(h, q) >= 1 * kM);
		CK(rtt::verify(q, 100 * kK, 11) == SIZE_MAX);
		CK(info().helper_extents >= 1);
		size_t ext = info().extents;
		void *z = rtheap_default_calloc(1024, 2 * kK); // 2 MiB
		for (int i = 0; i < 10000 && !z; i++) {
			usleep(1000);
			z = rtheap_default_calloc(1024, 2 * kK);
		}
		CK(z != nullptr && info().extents > ext);
		ext = info().extents;
		void *a = rtheap_default_aligned_alloc(1 * kM, 3 * kM);
		for (int i = 0; i < 10000 && !a; i++) {
			usleep(1000);
			a = rtheap_default_aligned_alloc(1 * kM, 3 * kM);
		}
		CK(a != nullptr && reinterpret_cast<uintptr_t>(a) % kM == 0);
		CK(info().extents > ext);
		CK(rtheap_default_free(q) == 0 && rtheap_default_free(z) == 0 &&
		   rtheap_default_free(a) == 0);
		CK(consistent(h));
		return 0;
	});
}

// ------------------------------------------------------------ growth

// Out of memory with the helper: the allocation fails at once, the
// helper extends, a retry succeeds.
TEST(DefaultHeap, HelperExtendsAfterFailedAllocation)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr && info().helper_running == 1);
		CK(rtheap_alloc(h, 1 * kM) == nullptr); // beyond the first extent
		CK(info().lowmem_calls >= 1);
		void *p = alloc_retry(h, 1 * kM);
		CK(p != nullptr);
		std::memset(p, 7, 1 * kM);
		rtheap_default_info i = info();
		CK(i.helper_extents >= 1 && i.grow_calls == 0 && i.grow_extents == 0);
		CK(i.extents >= 2 && rtt::stats(h).extents == i.extents);
		// the extent served the request: at least RTHEAP_BUFFER_SIZE of it
		CK(i.bytes_mapped >= 256 * kK + RTHEAP_BUFFER_SIZE(1 * kM, 256));
		CK(rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// Crossing the low-memory threshold (a quarter of min(initial, step))
// wakes the helper before anything fails.
TEST(DefaultHeap, HelperExtendsBelowThreshold)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr && info().threshold == 64 * kK);
		std::vector<void *> blocks;
		// allocate until the crossing is reported, no further: the
		// helper then adds one step
		while (info().lowmem_calls == 0) {
			void *p = rtheap_alloc(h, 4 * kK);
			CK(p != nullptr);
			blocks.push_back(p);
		}
		CK(blocks.size() >= (256 - 64) / 4 - 4);
		CK(rtt::stats(h).failed_allocs == 0);
		CK(wait_for([] { return info().helper_extents == 1; }));
		CK(rtt::stats(h).extents == 2);
		CK(rtt::stats(h).free >= 64 * kK);
		for (void *p : blocks)
			CK(rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// NOHELPER: nothing grows the heap by itself; rtheap_default_grow() does.
TEST(DefaultHeap, NoHelperGrowsOnlyThroughGrow)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr && info().helper_running == 0);
		CK(rtheap_alloc(h, 1 * kM) == nullptr);
		usleep(20000);
		CK(rtheap_alloc(h, 1 * kM) == nullptr);
		CK(info().extents == 1 && info().lowmem_calls >= 2);
		CK(rtheap_default_grow(1 * kM) == 0);
		rtheap_default_info i = info();
		CK(i.extents == 2 && i.grow_calls == 1 && i.grow_extents == 1);
		CK(i.helper_extents == 0 && i.grow_failures == 0);
		void *p = rtheap_alloc(h, 1 * kM);
		CK(p != nullptr);
		// a request the heap can serve already maps nothing
		CK(rtheap_default_grow(16 * kK) == 0);
		CK(info().extents == 2 && info().grow_calls == 2);
		// grow(0): one step, unconditionally
		CK(rtheap_default_grow(0) == 0);
		CK(info().extents == 3 && rtt::stats(h).size == info().bytes_mapped);
		CK(info().bytes_mapped >= 512 * kK + RTHEAP_BUFFER_SIZE(1 * kM, 256));
		CK(rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
	// a full heap (not one free page): grow() serves a bucket request
	IN_CHILD([] {
		clear_env();
		const size_t lo = RTHEAP_DEFAULT_MIN;
		CK(rtheap_default_setup(lo, lo, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		size_t n = 0;
		while (rtheap_alloc(h, 16) != nullptr)
			n++;
		CK(n > 1000 && rtt::stats(h).largest_free == 0);
		CK(rtheap_default_grow(16) == 0);
		CK(info().extents == 2 && info().bytes_mapped == 2 * lo);
		CK(rtheap_alloc(h, 16) != nullptr);
		CK(consistent(h));
		return 0;
	});
	// grow() before first use creates the heap
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(rtheap_default_grow(0) == 0);
		CK(info().created == 1 && info().extents == 2);
		return 0;
	});
}

TEST(DefaultHeap, GrowBadNeed)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(rtheap_default_grow(SIZE_MAX) == -EINVAL);
		CK(rtheap_default_grow(SIZE_MAX / 2) == -EINVAL);
		CK(info().created == 0); // refused before anything
		CK(rtheap_default() != nullptr);
		CK(rtheap_default_grow(SIZE_MAX) == -EINVAL);
		rtheap_default_info i = info();
		CK(i.extents == 1 && i.grow_calls == 0 && i.grow_failures == 0);
		return 0;
	});
}

// max: extensions stop there (-ENOMEM), allocations keep failing cleanly,
// the heap stays consistent and usable.
TEST(DefaultHeap, MaxHonoured)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 1 * kM, RTHEAP_DEFAULT_NOHELPER) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		for (int k = 0; k < 3; k++)
			CK(rtheap_default_grow(0) == 0);
		CK(info().bytes_mapped == 1 * kM && info().extents == 4);
		CK(rtheap_default_grow(0) == -ENOMEM);
		CK(rtheap_default_grow(2 * kM) == -ENOMEM);
		rtheap_default_info i = info();
		CK(i.bytes_mapped == 1 * kM && i.extents == 4 && i.grow_failures == 2);
		std::vector<void *> blocks;
		for (void *p; (p = rtheap_alloc(h, 4 * kK)) != nullptr;)
			blocks.push_back(p);
		CK(blocks.size() > 200);
		for (int k = 0; k < 100; k++)
			CK(rtheap_alloc(h, 4 * kK) == nullptr);
		CK(rtheap_default_grow(4 * kK) == -ENOMEM);
		CK(info().bytes_mapped == 1 * kM);
		CK(consistent(h));
		for (void *p : blocks)
			CK(rtheap_free(h, p) == 0);
		CK(consistent(h) && rtt::stats(h).live_blocks == 0);
		return 0;
	});
	// the last extension is cut down to what is left under max
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 512 * kK, 640 * kK, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(rtheap_default_grow(0) == 0);
		CK(info().bytes_mapped == 640 * kK && info().extents == 2);
		CK(rtheap_default_grow(0) == -ENOMEM);
		return 0;
	});
}

// With the helper: it extends up to max, then allocations keep failing
// cleanly and the helper's refusals are counted.
TEST(DefaultHeap, MaxHonouredWithHelper)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 512 * kK, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		std::vector<void *> blocks;
		for (int miss = 0; miss < 2000;) {
			void *p = rtheap_alloc(h, 4 * kK);
			if (p) {
				blocks.push_back(p);
				continue;
			}
			miss++;
			usleep(1000);
			if (info().grow_failures > 0 && info().bytes_mapped == 512 * kK)
				break;
		}
		rtheap_default_info i = info();
		CK(i.bytes_mapped == 512 * kK && i.extents == 2 && i.helper_extents == 1);
		CK(i.grow_failures >= 1);
		CK(rtheap_alloc(h, 4 * kK) == nullptr);
		CK(consistent(h));
		for (void *p : blocks)
			CK(rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// The extent table is finite: beyond RTHEAP_MAX_EXTENTS, -ENOSPC.
TEST(DefaultHeap, ExtentTableFull)
{
	IN_CHILD([] {
		clear_env();
		const size_t lo = RTHEAP_DEFAULT_MIN;
		CK(rtheap_default_setup(lo, lo, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(rtheap_default() != nullptr);
		for (unsigned k = 1; k < RTHEAP_MAX_EXTENTS; k++)
			CK(rtheap_default_grow(0) == 0);
		CK(info().extents == RTHEAP_MAX_EXTENTS);
		size_t mapped = info().bytes_mapped;
		CK(rtheap_default_grow(0) == -ENOSPC);
		CK(info().bytes_mapped == mapped && info().grow_failures == 1);
		CK(consistent(rtheap_default()));
		return 0;
	});
}

// A failed request no extent could hold: the helper refuses it (counted)
// and maps nothing.
TEST(DefaultHeap, HelperRefusesImpossibleRequest)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		CK(rtheap_alloc(h, SIZE_MAX / 2) == nullptr);
		CK(wait_for([] { return info().grow_failures == 1; }));
		rtheap_default_info i = info();
		CK(i.extents == 1 && i.bytes_mapped == 256 * kK && i.helper_extents == 0);
		CK(consistent(h));
		return 0;
	});
}

// Limit the address space to what the process uses now plus @p extra
// bytes (RLIMIT_AS; the hard limit stays, so it can be raised again).
bool limit_address_space(size_t extra)
{
	std::ifstream f("/proc/self/status");
	std::string line;
	long kb = -1;
	while (std::getline(f, line))
		if (line.rfind("VmSize:", 0) == 0)
			kb = std::strtol(line.c_str() + 7, nullptr, 10);
	if (kb < 0)
		return false;
	rlimit rl{};
	if (getrlimit(RLIMIT_AS, &rl) != 0)
		return false;
	rl.rlim_cur = static_cast<rlim_t>(kb) * 1024 + extra;
	return setrlimit(RLIMIT_AS, &rl) == 0;
}

bool unlimit_address_space()
{
	rlimit rl{};
	if (getrlimit(RLIMIT_AS, &rl) != 0)
		return false;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_AS, &rl) == 0;
}

// Even the initial mapping fails: NULL with errno ENOMEM, every entry
// point fails cleanly, and a later call tries again.  (Not under the
// sanitizers: they need the address space they reserve.)
TEST(DefaultHeap, NullWhenInitialMappingFails)
{
	if (RTHEAP_TEST_SANITIZED)
		GTEST_SKIP() << "RLIMIT_AS and the sanitizers' shadow memory";
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(64 * kM, 0, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		CK(limit_address_space(16 * kM));
		errno = 0;
		CK(rtheap_default() == nullptr && errno == ENOMEM);
		CK(info().created == 0);
		CK(rtheap_default_alloc(16) == nullptr);
		int x = 0;
		CK(rtheap_default_free(&x) == -ENOMEM);
		errno = 0;
		CK(rtheap_default_realloc(nullptr, 16) == nullptr && errno == ENOMEM);
		errno = 0;
		CK(rtheap_default_calloc(4, 4) == nullptr && errno == ENOMEM);
		errno = 0;
		CK(rtheap_default_aligned_alloc(64, 16) == nullptr && errno == ENOMEM);
		CK(rtheap_default_grow(16) == -ENOMEM);
		CK(rtheap_default_setup(1 * kM, 0, 0, 0) == 0); // not created: allowed
		CK(unlimit_address_space());
		rtheap_t *h = rtheap_default();
		CK(h != nullptr && info().initial == 1 * kM);
		CK(info().grow_failures == 1 && info().grow_calls == 1);
		CK(consistent(h));
		return 0;
	});
}

// The helper thread cannot be created (no address space for its stack):
// not an error; the heap works and grows through rtheap_default_grow().
TEST(DefaultHeap, HelperCreationFailureIsNotAnError)
{
	if (RTHEAP_TEST_SANITIZED)
		GTEST_SKIP() << "RLIMIT_AS and the sanitizers' shadow memory";
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		pthread_attr_t a;
		size_t stack = 0;
		CK(pthread_attr_init(&a) == 0 && pthread_attr_getstacksize(&a, &stack) == 0);
		pthread_attr_destroy(&a);
		if (stack < 4 * kM)
			return kSkip; // a thread stack would fit where the heap fits
		CK(limit_address_space(2 * kM));
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		rtheap_default_info i = info();
		CK(i.created == 1 && i.helper_running == 0);
		CK(rtheap_default() == h); // not retried on every call
		CK(rtheap_alloc(h, 512 * kK) == nullptr);
		CK(rtheap_default_grow(512 * kK) == 0);
		void *p = rtheap_alloc(h, 512 * kK);
		CK(p != nullptr && rtheap_free(h, p) == 0);
		CK(consistent(h));
		return 0;
	});
}

// ------------------------------------------------------------ fork

// A child allocates, frees (also a block of the parent's), grows through
// its own helper, and its heap is its own copy.
TEST(DefaultHeap, ForkedChildWorks)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 256 * kK, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		auto *mine = static_cast<unsigned char *>(rtheap_alloc(h, 200));
		CK(mine != nullptr);
		std::memset(mine, 0x3c, 200);
		int rc = run_child([mine] {
			rtheap_t *hc = rtheap_default(); // no set-up call
			CK(hc != nullptr);
			CK(info().helper_running == 1);   // re-created in the child
			CK(info().bytes_locked == 0);     // locks are not inherited
			for (int k = 0; k < 200; k++)
				CK(mine[k] == 0x3c);
			CK(rtheap_free(hc, mine) == 0);
			std::vector<void *> v;
			for (int k = 0; k < 100; k++) {
				v.push_back(rtheap_alloc(hc, 16u << (k % 10)));
				CK(v.back() != nullptr);
			}
			for (void *p : v)
				CK(rtheap_free(hc, p) == 0);
			// the child's helper extends the child's heap
			CK(rtheap_alloc(hc, 1 * kM) == nullptr);
			void *big = alloc_retry(hc, 1 * kM);
			// at least one extension by the child's helper: a retry that
			// fails while the helper maps may ask for a second one
			CK(big != nullptr && info().helper_extents >= 1);
			CK(rtheap_free(hc, big) == 0);
			CK(consistent(hc));
			return 0;
		}, 15);
		CK(rc == 0);
		// the parent's heap did not see the child's frees
		CK(rtheap_check_block(h, mine) == 0);
		CK(mine[0] == 0x3c);
		CK(info().extents == 1 && info().helper_extents == 0);
		CK(rtheap_free(h, mine) == 0);
		CK(consistent(h));
		return 0;
	});
}

// NOHELPER: the child has no helper either.
TEST(DefaultHeap, ForkedChildWithoutHelper)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(256 * kK, 0, 0, RTHEAP_DEFAULT_NOHELPER) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		return run_child([h] {
			CK(rtheap_default() == h && info().helper_running == 0);
			CK(rtheap_alloc(h, 1 * kM) == nullptr);
			CK(rtheap_default_grow(1 * kM) == 0);
			void *p = rtheap_alloc(h, 1 * kM);
			CK(p != nullptr && rtheap_free(h, p) == 0);
			CK(info().grow_extents == 1 && info().helper_extents == 0);
			return consistent(h) ? 0 : 1;
		}, 10);
	});
}

// fork() while other threads allocate and free in a loop: each child
// finds the heap consistent and its lock free (a lock left held would
// hang the child: alarm() fails it).
TEST(DefaultHeap, ForkWhileThreadsAllocate)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(1 * kM, 1 * kM, 0, 0) == 0);
		rtheap_t *h = rtheap_default();
		CK(h != nullptr);
		std::atomic<bool> stop{false};
		std::atomic<long> ops{0};
		std::vector<std::thread> ts;
		for (unsigned t = 0; t < 2; t++)
			ts.emplace_back([&, t] {
				std::mt19937 rng(t + 1);
				// on the stack: a forked child, where this thread
				// is gone, must not see a heap object leak (LSan)
				std::array<void *, 64> live{};
				while (!stop.load(std::memory_order_relaxed)) {
					size_t i = rng() % live.size();
					if (live[i]) {
						(void)rtheap_free(h, live[i]);
						live[i] = nullptr;
					} else {
						live[i] = rtheap_alloc(h, 16 + rng() % 3000);
					}
					ops.fetch_add(1, std::memory_order_relaxed);
				}
				for (void *p : live)
					(void)rtheap_free(h, p);
			});
		int failed = 0;
		for (int f = 0; f < 40; f++) {
			long before = ops.load();
			while (ops.load() < before + 200) // the threads are busy
				std::this_thread::yield();
			int rc = run_child([] {
				rtheap_t *hc = rtheap_default();
				if (!hc || !consistent(hc))
					return 2;
				for (int k = 0; k < 500; k++) {
					void *p = rtheap_alloc(hc, 16u << (k % 9));
					if (!p || rtheap_free(hc, p) != 0)
						return 3;
				}
				return consistent(hc) ? 0 : 4;
			}, 10);
			if (rc != 0) {
				std::fprintf(stderr, "fork %d: child status %d\n", f, rc);
				failed++;
			}
		}
		stop = true;
		for (auto &t : ts)
			t.join();
		CK(failed == 0);
		CK(consistent(h) && rtt::stats(h).live_blocks == 0);
		return 0;
	}, 60);
}

// fork() before the default heap exists: the child creates its own.
TEST(DefaultHeap, ForkBeforeFirstUse)
{
	IN_CHILD([] {
		clear_env();
		CK(rtheap_default_setup(512 * kK, 0, 0, 0) == 0);
		int rc = run_child([] {
			CK(info().created == 0);
			CK(rtheap_default() != nullptr);
			CK(info().initial == 512 * kK); // the settings came along
			return 0;
		}, 10);
		CK(rc == 0);
		CK(info().created == 0);
		return 0;
	});
}

// ------------------------------------------------------------ teardown

// Nothing is unmapped at exit: an atexit handler registered before the
// heap existed (so it runs after any the library might register) still
// frees its block and finds the heap consistent.
void *g_exit_block = nullptr;
void late_free()
{
	rtheap_t *h = rtheap_default();
	// the status tells that this handler ran, and what it found
	leave(rtheap_free(h, g_exit_block) == 0 && consistent(h) ? 0 : 3);
}

TEST(DefaultHeap, UsableFromAtexitHandlers)
{
	IN_CHILD([] {
		clear_env();
		CK(std::atexit(late_free) == 0);
		g_exit_block = rtheap_default_alloc(5000);
		CK(g_exit_block != nullptr);
		std::exit(5); // late_free() runs and changes the status
	});
}

} // namespace
