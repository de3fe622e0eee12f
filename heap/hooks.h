/* SPDX-License-Identifier: MIT */
/*
 * hooks.h -- the one place where rtheap talks to memory checkers.
 *
 * Every build of the library (the default shared and static rtheap
 * included, no special flag) finds out at run time which checker watches
 * the process, and then describes heap memory to it:
 *
 *  - AddressSanitizer, when the program was built with -fsanitize=address.
 *    The library refers to __asan_poison_memory_region and
 *    __asan_unpoison_memory_region weakly (declared below; no sanitizer
 *    header): they resolve to the ASan run-time when the process has one,
 *    else to NULL.  Free memory inside the heap is poisoned, so a use after
 *    free or an overflow into free space is reported as "use-after-poison"
 *    (with no allocation or free stack).  When the library itself is
 *    compiled with ASan the run-time is there by construction, and the flag
 *    starts set so that the library's own instrumented reads of list nodes
 *    in free memory are always opened and closed.
 *  - Memcheck, when the program runs under "valgrind --tool=memcheck".
 *    The client requests of valgrind/memcheck.h are compiled in whenever
 *    CMake found that header (RTHEAP_HAVE_MEMCHECK_H); they are used when
 *    RUNNING_ON_VALGRIND is true and Memcheck answers a request of its own
 *    (other valgrind tools, callgrind or the latency harness's icount tool
 *    among them, leave it unanswered and see the plain library, so their
 *    counts stay those of a normal run).  Blocks are described as
 *    malloc-like blocks and free memory as no-access, so Memcheck reports
 *    invalid reads and writes, and leaks, inside the heap.
 *
 * Detection runs once per process: a constructor stores the answer in the
 * flag word rt_ck_word, and the first hook_pages_added() does it too if a
 * heap is set up before constructors have run (another library's
 * constructor).  Every detection stores the same value and the word is a
 * relaxed atomic: no data race for TSan to report.
 *
 * Cost without a checker.  A public entry point with hooks on its path
 * (rtheap_alloc, rtheap_alloc_aligned, rtheap_free, rtheap_test_and_free)
 * runs one of two copies of the same inlined code, chosen by the heap's
 * slow_copy field (rt_copy_of(): set at init from this word and the debug
 * flag, internal.h): with ck = 0 every hook below is an "if (0)" and
 * disappears; the copy with ck = RT_CK_ANY is out of line and cold.  So
 * the normal path pays one load (from the descriptor's first line), one
 * test and one branch per call.  Code off the hot path (init, destroy, the
 * checker, debug fill) passes hook_state() as ck.
 *
 * The discipline every caller follows:
 *  - hook_pages_added()   once per extent: the whole page array is free;
 *  - hook_block_alloc()   after a block has been carved, before it is used;
 *  - hook_block_free()    once the block is back in free memory;
 *  - hook_block_resize()  a live block grew or shrank in place (realloc):
 *                         after the pages it gains were taken, before the
 *                         pages it loses are given back;
 *  - hook_open()          before the heap itself reads or writes free memory
 *                         (a list node, a debug fill pattern);
 *  - hook_close()         right after: free memory is poisoned again, so a
 *                         program writing into a freed block is caught even
 *                         where the heap keeps a list node.
 *
 * This header is private to the single translation unit heap/unity.c: its
 * functions and the flag word are static, so the library exports no symbol
 * for them.
 */
#ifndef RTHEAP_HOOKS_H
#define RTHEAP_HOOKS_H

#include <stdatomic.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define RTHEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RTHEAP_ASAN 1
#endif
#endif

#if defined(RTHEAP_HAVE_MEMCHECK_H) && RTHEAP_HAVE_MEMCHECK_H
#include <valgrind/memcheck.h>
#define RT_CK_WITH_MEMCHECK 1
#else
#define RT_CK_WITH_MEMCHECK 0
#endif

/* The ASan interface, weakly: NULL unless the process has the run-time. */
extern void __asan_poison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak));
extern void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak));

/* Bits of the flag word. */
#define RT_CK_ASAN 1u     /* the AddressSanitizer run-time is present */
#define RT_CK_MEMCHECK 2u /* running under valgrind's Memcheck */
#define RT_CK_ANY (RT_CK_ASAN | RT_CK_MEMCHECK)
#define RT_CK_DONE 0x100u /* detection has run */

#ifdef RTHEAP_ASAN
static _Atomic unsigned rt_ck_word = RT_CK_ASAN;
#else
static _Atomic unsigned rt_ck_word;
#endif

#define RT_CK_COLD static __attribute__((noinline, cold))

static inline unsigned rt_ck_load(void)
{
	return atomic_load_explicit(&rt_ck_word, memory_order_relaxed);
}

/* Which checkers watch this process: the same answer every time. */
RT_CK_COLD unsigned rt_ck_detect(void)
{
	unsigned ck = RT_CK_DONE;
	if (__asan_poison_memory_region && __asan_unpoison_memory_region)
		ck |= RT_CK_ASAN;
#if RT_CK_WITH_MEMCHECK
	if (RUNNING_ON_VALGRIND) {
		/* Memcheck answers (non-zero) and marks the word defined, which
		 * it is; any other tool leaves the default answer, 0. */
		if (VALGRIND_MAKE_MEM_DEFINED(&rt_ck_word, sizeof(rt_ck_word)) != 0)
			ck |= RT_CK_MEMCHECK;
	}
#endif
	atomic_store_explicit(&rt_ck_word, ck, memory_order_relaxed);
	return ck;
}

__attribute__((constructor)) static void rt_ck_init(void)
{
	(void)rt_ck_detect();
}

/* The checkers present (RT_CK_ASAN, RT_CK_MEMCHECK), or 0: read it once
 * per public call and pass it down as ck. */
static inline unsigned hook_state(void)
{
	return rt_ck_load() & RT_CK_ANY;
}

/* -- the cold half: only called with a checker present -- */

static inline void rt_ck_noaccess(unsigned ck, void *p, size_t n)
{
#if RT_CK_WITH_MEMCHECK
	if (ck & RT_CK_MEMCHECK)
		(void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
	if (ck & RT_CK_ASAN)
		__asan_poison_memory_region(p, n);
}

RT_CK_COLD void rt_ck_pages_added(void *p, size_t n)
{
	unsigned ck = rt_ck_load();
	if (!(ck & RT_CK_DONE))
		ck = rt_ck_detect(); /* a heap set up before constructors ran */
	rt_ck_noaccess(ck, p, n);
}

RT_CK_COLD void rt_ck_block_alloc(void *p, size_t n)
{
	unsigned ck = rt_ck_load();
	if (ck & RT_CK_ASAN)
		__asan_unpoison_memory_region(p, n);
#if RT_CK_WITH_MEMCHECK
	if (ck & RT_CK_MEMCHECK)
		VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, 0);
#endif
}

RT_CK_COLD void rt_ck_block_free(void *p, size_t n)
{
	unsigned ck = rt_ck_load();
#if RT_CK_WITH_MEMCHECK
	if (ck & RT_CK_MEMCHECK)
		VALGRIND_FREELIKE_BLOCK(p, 0);
#endif
	rt_ck_noaccess(ck, p, n);
}

/* A live block at p changes from n to m bytes where it is: the bytes it
 * gains become addressable (undefined for Memcheck), those it loses
 * inaccessible. */
RT_CK_COLD void rt_ck_block_resize(void *p, size_t n, size_t m)
{
	unsigned ck = rt_ck_load();
	unsigned char *c = p;
#if RT_CK_WITH_MEMCHECK
	if (ck & RT_CK_MEMCHECK)
		VALGRIND_RESIZEINPLACE_BLOCK(p, n, m, 0);
#endif
	if (!(ck & RT_CK_ASAN))
		return;
	if (m > n)
		__asan_unpoison_memory_region(c + n, m - n);
	else
		__asan_poison_memory_region(c + m, n - m);
}

RT_CK_COLD void rt_ck_open(void *p, size_t n)
{
	unsigned ck = rt_ck_load();
	if (ck & RT_CK_ASAN)
		__asan_unpoison_memory_region(p, n);
#if RT_CK_WITH_MEMCHECK
	if (ck & RT_CK_MEMCHECK)
		(void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}

RT_CK_COLD void rt_ck_close(void *p, size_t n)
{
	rt_ck_noaccess(rt_ck_load(), p, n);
}

/* -- the hooks: ck is hook_state(), or a constant in the hot copies -- */

static inline void hook_pages_added(void *p, size_t n)
{
	/* not rare enough to matter, and it catches "not detected yet" */
	if (__builtin_expect(rt_ck_load() != RT_CK_DONE, 0))
		rt_ck_pages_added(p, n);
}

static inline void hook_block_alloc(unsigned ck, void *p, size_t n)
{
	if (__builtin_expect((ck & RT_CK_ANY) != 0, 0))
		rt_ck_block_alloc(p, n);
}

static inline void hook_block_free(unsigned ck, void *p, size_t n)
{
	if (__builtin_expect((ck & RT_CK_ANY) != 0, 0))
		rt_ck_block_free(p, n);
}

static inline void hook_block_resize(unsigned ck, void *p, size_t n, size_t m)
{
	if (__builtin_expect((ck & RT_CK_ANY) != 0, 0))
		rt_ck_block_resize(p, n, m);
}

/* The heap reads/writes free memory itself: open it briefly. */
static inline void hook_open(unsigned ck, void *p, size_t n)
{
	if (__builtin_expect((ck & RT_CK_ANY) != 0, 0))
		rt_ck_open(p, n);
}

static inline void hook_close(unsigned ck, void *p, size_t n)
{
	if (__builtin_expect((ck & RT_CK_ANY) != 0, 0))
		rt_ck_close(p, n);
}

#endif /* RTHEAP_HOOKS_H */
