/* SPDX-License-Identifier: MIT */
/*
 * rtheap/percpu.h -- per-CPU data: one instance of an object per possible
 * CPU, each in cache lines of its own, in one block of a heap; reach the
 * current CPU's instance or any CPU's, and release them all at once (the
 * Linux kernel's alloc_percpu(), per_cpu_ptr(), this_cpu_ptr()).
 *
 * An area is one heap block (rtheap_alloc_aligned(), aligned to its line
 * L = max(64, align)): a header line, then N instances, each `stride`
 * bytes apart, stride = size rounded up to a multiple of L:
 *
 *   +--------+-----------+-----------+-- ... --+-------------+
 *   | header | CPU 0     | CPU 1     |         | CPU N-1     |
 *   | L B    | stride B  | stride B  |         | stride B    |
 *   +--------+-----------+-----------+-- ... --+-------------+
 *   ^ the handle (rtpercpu_t *)
 *            ^ rtpercpu_ptr(pc, 0)   ^ rtpercpu_ptr(pc, 1)
 *
 * No two instances share a cache line, and no instance shares one with
 * the header (read-only after creation) or with another heap block (the
 * block starts and ends on a line boundary).  The handle is not an
 * instance: never store through it.
 *
 * N, the number of possible CPUs, is fixed for the life of the process
 * by the layer's first call (rtpercpu_nr_cpus(), made by the first
 * rtpercpu_alloc() at the latest): the highest CPU number of
 * /sys/devices/system/cpu/possible plus one, else
 * sysconf(_SC_NPROCESSORS_CONF), at most RTPERCPU_MAX_CPUS.  Make that
 * first call during set-up: it reads a file.  CPUs hot-plugged later are
 * possible CPUs already (the kernel sizes its own tables the same way);
 * an instance of a CPU that is never online is simply never the current
 * one.
 *
 * Threads migrate (docs/percpu.md, "Migration").  The current-CPU calls
 * return the instance of the CPU the thread ran on during the call; by
 * the time the caller uses it, the thread may run on another CPU, and
 * another thread may be using the same instance.  This API cannot
 * prevent that (user space cannot disable migration); the caller must:
 *  - pin the thread to one CPU (sched_setaffinity / pthread_setaffinity_np,
 *    as real-time threads usually are: SCHED_FIFO and one CPU each), and
 *    not share that CPU with another thread that uses the same area; then
 *    the instance is the thread's own and needs no lock; or
 *  - use atomic operations, or a lock per instance, on the instance
 *    (contention stays low: rarely two threads at once per CPU); or
 *  - accept the race where it is harmless (statistics summed later).
 * What is guaranteed in every case: the pointer is an instance of the
 * area (of the CPU the thread ran on at the call), valid until
 * rtpercpu_free(); instances of distinct CPUs never overlap.
 *
 * Conventions: as rtheap.h (negative errno results, "Bound", "Context";
 * a call that reports an error changes nothing).
 *
 * Real-time paths: rtpercpu_ptr(), rtpercpu_this(), rtpercpu_get(),
 * rtpercpu_put(), rtpercpu_cpu(), rtpercpu_nr_cpus() after the first call;
 * rtpercpu_alloc() and rtpercpu_free() are bounded too (O(1) heap calls
 * plus the zeroing of N * stride bytes), once the layer has run.
 * docs/percpu.md has the design and the figures.
 */
#ifndef RTHEAP_PERCPU_H
#define RTHEAP_PERCPU_H

#include <stddef.h>

#include "rtheap/rtheap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A per-CPU area (opaque): the address of its heap block. */
typedef struct rtpercpu rtpercpu_t;

/** The cache line instances are separated by (the least alignment). */
#define RTPERCPU_LINE 64u
/** The largest alignment rtpercpu_alloc() accepts (the kernel's
 *  PAGE_SIZE limit of __alloc_percpu()). */
#define RTPERCPU_MAX_ALIGN 4096u
/** The most CPUs an area has instances for (the kernel's largest NR_CPUS);
 *  CPUs numbered from this on have none. */
#define RTPERCPU_MAX_CPUS 8192u

/**
 * The number N of possible CPUs: every area has instances 0 .. N-1.
 * Decided by the first call in the process (see the top of this header)
 * and never changed afterwards.
 * @return N, at least 1.
 * Bound: O(1) after the first call (pthread_once's fast path); the first
 *        reads /sys/devices/system/cpu/possible.
 * Context: RT-safe after the first call; make the first during set-up.
 */
unsigned rtpercpu_nr_cpus(void);

/**
 * The CPU the calling thread runs on (sched_getcpu()).  On glibc 2.35 and
 * later on Linux 4.18 and later this reads the rseq area the C library
 * registered for the thread: no system call (docs/percpu.md measures it);
 * older systems use the vDSO, and only without either is it a system
 * call.  The answer may be stale as soon as it is returned (migration).
 * @return the CPU number, or -1 (errno from sched_getcpu(): ENOSYS on a
 *         system that cannot tell).
 * Bound: O(1).  Context: RT-safe (no system call with rseq or the vDSO).
 */
int rtpercpu_cpu(void);

/**
 * Allocate an area on @p heap: N instances of @p size bytes (N =
 * rtpercpu_nr_cpus()), each aligned to L = max(RTPERCPU_LINE, @p align)
 * and zero-filled, cache-line separated as drawn at the top of this
 * header.  One heap block of L + N * stride bytes, stride = @p size
 * rounded up to a multiple of L.  The first call of the layer decides N
 * (see rtpercpu_nr_cpus()).
 * @param align 0 (RTPERCPU_LINE) or a power of two up to
 *              RTPERCPU_MAX_ALIGN
 * @return the area's handle, or NULL with errno: EINVAL (unusable heap,
 *         @p size 0, @p align not 0 and not a power of two or above
 *         RTPERCPU_MAX_ALIGN, L + N * stride overflows size_t; nothing
 *         counted); ENOMEM (the heap has no block for it: counted in the
 *         heap's failed_allocs, its low-memory callback runs, as any
 *         failed allocation; nothing else changes).
 * Bound: one rtheap_alloc_aligned() (O(1)) plus zeroing N * stride bytes.
 * Context: RT-safe once the layer has run (the zeroing is bounded by the
 *          area's size, fixed by N and @p size).
 */
RTHEAP_WARN_UNUSED
rtpercpu_t *rtpercpu_alloc(rtheap_t *heap, size_t size, size_t align);

/**
 * Release the area @p pc of @p heap: every instance at once.
 * The release goes through rtheap_test_and_free(): the heap finds the
 * block (O(log E)) and checks, under its lock, that it is an area (the
 * header's check word), then frees it.
 * @return 0 (also for NULL: nothing done, as the kernel's free_percpu());
 *         -EINVAL: unusable heap (not reported); misuse, reported to the
 *         heap's error callback and counted in its errors, nothing
 *         changes: -EFAULT for an address outside every extent
 *         (RTHEAP_ERR_FOREIGN); -EINVAL for a released area
 *         (RTHEAP_ERR_DOUBLE_FREE, while its block is free), an address
 *         inside a block or in free memory (an instance instead of the
 *         handle: RTHEAP_ERR_NOT_BLOCK), a live heap block that is not an
 *         area (RTHEAP_ERR_NOT_BLOCK).  With RTHEAP_F_DEBUG_FILL only:
 *         -EUCLEAN, as rtheap_free() (a neighbour overwritten after free;
 *         the area stays allocated).
 * Bound: as rtheap_free(): O(log E) then O(1).
 * Context: RT-safe.  No thread may use an instance afterwards.
 */
int rtpercpu_free(rtheap_t *heap, rtpercpu_t *pc);

/**
 * The instance of CPU @p cpu of area @p pc (any possible CPU, online or
 * not, current or not).
 * @return the instance; NULL for @p cpu >= N (out of range: not a misuse,
 *         nothing counted), a NULL @p pc, or an area whose check word is
 *         gone (a released area whose memory was not reused yet: a
 *         debugging aid, not a guarantee; @p pc must be a live handle).
 * Bound: O(1): three loads, a compare, a multiply-add.
 * Context: RT-safe, any thread, no lock.
 */
void *rtpercpu_ptr(const rtpercpu_t *pc, unsigned cpu);

/**
 * The instance of the CPU the calling thread runs on:
 * rtpercpu_ptr(pc, rtpercpu_cpu()).  See the top of this header for what
 * a migration after the call means and what the caller must do.
 * @return the instance, or NULL (as rtpercpu_ptr(), or rtpercpu_cpu()
 *         failed, or the CPU is numbered RTPERCPU_MAX_CPUS or above).
 * Bound: O(1).  Context: RT-safe, no system call where rtpercpu_cpu()
 *        makes none.
 */
void *rtpercpu_this(const rtpercpu_t *pc);

/**
 * rtpercpu_this(), opening a get/put pair for the kernel's get_cpu_ptr()
 * / put_cpu_ptr().  The kernel disables preemption between the two; user
 * space cannot, so the pair only records, in the calling thread, the CPU
 * of the outermost get (pairs nest), for rtpercpu_put() to check.  Use it
 * in pinned threads, where the check confirms the pinning.
 * @return as rtpercpu_this(); a NULL return opens no pair.
 * Bound: O(1).  Context: RT-safe.
 */
void *rtpercpu_get(const rtpercpu_t *pc);

/**
 * Close the innermost get/put pair of the calling thread.  Nothing is
 * released (there is nothing to give back); the answer says whether the
 * thread stayed on one CPU.
 * @return 0: the thread runs on the CPU of its outermost rtpercpu_get()
 *         (it may still have left and come back meanwhile; pin it to be
 *         sure); 1: it runs on another CPU now: the instance it used may
 *         have been used concurrently by a thread of the first CPU;
 *         -EINVAL: no pair is open in this thread, or @p pc is NULL or
 *         released (nothing changes).
 * Bound: O(1).  Context: RT-safe.
 */
int rtpercpu_put(const rtpercpu_t *pc);

/** Size, stride and alignment of an area (rtpercpu_info()). */
struct rtpercpu_info {
	size_t size;      /**< bytes asked per instance */
	size_t stride;    /**< bytes from one instance to the next */
	size_t align;     /**< alignment of every instance (L) */
	size_t bytes;     /**< the heap block: L + ncpu * stride */
	unsigned ncpu;    /**< instances (rtpercpu_nr_cpus()) */
};
/** Fill @p info for the live area @p pc: 0, or -EINVAL (NULL argument,
 *  no check word).  Bound O(1).  Context: RT-safe. */
int rtpercpu_info(const rtpercpu_t *pc, struct rtpercpu_info *info);

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_PERCPU_H */
