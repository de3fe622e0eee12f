/* SPDX-License-Identifier: MIT */
/*
 * rtheap/compat/kernel_percpu.h -- the kernel's per-CPU allocation calls
 * (alloc_percpu(), per_cpu_ptr(), get_cpu_ptr() / put_cpu_ptr(),
 * this_cpu_ptr(), free_percpu(), for_each_possible_cpu()) over rtheap's
 * per-CPU areas (rtheap/percpu.h), on the process default heap
 * (rtheap/default.h).  Included by rtheap/compat/kernel.h; usable alone.
 *
 * The forms are the kernel's: alloc_percpu(type) is a macro taking a type
 * and returns a `type *` (zeroed instances); that pointer is a handle, not
 * an instance: reach an instance with per_cpu_ptr(ptr, cpu) for any
 * possible CPU, this_cpu_ptr(ptr) / get_cpu_ptr(ptr) for the current one;
 * never dereference the handle itself (it addresses the area's header).
 * `__percpu` is accepted (defined empty).  Each macro is one call of the
 * native layer: bounds, contexts and errors are rtheap/percpu.h's.
 *
 * Typed results: per_cpu_ptr(), this_cpu_ptr(), raw_cpu_ptr() and
 * get_cpu_ptr() return the type of their argument through __typeof__
 * (GCC and Clang, also in strict -std=c11 mode; C23's typeof), so that
 * `per_cpu_ptr(p, cpu)->field` compiles.  With another C11 compiler (or
 * RTHEAP_PERCPU_NO_TYPEOF defined) they return void *: assign the result
 * to a typed pointer first; alloc_percpu(type) then needs a type name
 * that `type *` can follow (not an array type).
 *
 * Differences from the kernel:
 *  - get_cpu_ptr() cannot disable preemption or migration (user space):
 *    the instance is the current CPU's at the call.  Pin the thread to
 *    one CPU (as real-time threads are) or use atomics on the instance;
 *    rtheap/percpu.h and docs/percpu.md say what is guaranteed.
 *    put_cpu_ptr() closes the pair and ignores the answer of
 *    rtpercpu_put() (call that directly to learn whether the thread
 *    migrated in between);
 *  - possible CPUs are 0 .. num_possible_cpus() - 1, all of them (the
 *    kernel's mask may have holes: such instances are then never used);
 *  - free_percpu() of something that is not a live area of the default
 *    heap changes nothing and is reported to that heap's error callback
 *    (the kernel would corrupt memory or WARN);
 *  - the allocation never sleeps: it fails (NULL) at once when the
 *    default heap has no block for it, and the heap's helper thread is
 *    woken to extend it (rtheap/default.h): retry later;
 *  - __alloc_percpu() accepts an alignment up to RTPERCPU_MAX_ALIGN
 *    (4096, the kernel's PAGE_SIZE limit) and aligns every instance to at
 *    least RTPERCPU_LINE (64) bytes.
 *
 * Real-time paths: per_cpu_ptr(), this_cpu_ptr(), get_cpu_ptr(),
 * put_cpu_ptr(), smp_processor_id(), num_possible_cpus(); alloc_percpu()
 * and free_percpu() are bounded too once the default heap and the layer
 * exist (call num_possible_cpus() and alloc_percpu() once in set-up).
 */
#ifndef RTHEAP_COMPAT_KERNEL_PERCPU_H
#define RTHEAP_COMPAT_KERNEL_PERCPU_H

#include <stddef.h>

#include "rtheap/default.h"
#include "rtheap/percpu.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef __percpu
#define __percpu
#endif

/* The type of an expression, where the compiler can tell it.
 * RTHEAP_PERCPU_NO_TYPEOF (defined before the include) forces the plain
 * C11 forms (void * results), as another compiler gets them. */
#if defined(RTHEAP_PERCPU_NO_TYPEOF)
#define RTHEAP_PERCPU_TYPED(ptr, val) (val)
#elif defined(__GNUC__) || defined(__clang__)
#define RTHEAP_PERCPU_TYPED(ptr, val) ((__typeof__(ptr))(val))
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L
#define RTHEAP_PERCPU_TYPED(ptr, val) ((typeof(ptr))(val))
#else
#define RTHEAP_PERCPU_TYPED(ptr, val) (val)
#endif

#ifdef __cplusplus
#define RTHEAP_PERCPU_ALIGNOF(type) alignof(type)
#else
#define RTHEAP_PERCPU_ALIGNOF(type) _Alignof(type)
#endif

/* The handle of a typed per-CPU pointer. */
#define RTHEAP_PERCPU_AREA(ptr) ((const rtpercpu_t *)(const void *)(ptr))

/**
 * One zeroed instance of @p size bytes per possible CPU on the default
 * heap, each aligned to max(64, @p align): rtpercpu_alloc(rtheap_default(),
 * size, align).  NULL when the default heap cannot be created or has no
 * block for it, or for a bad size or alignment (errno as rtpercpu_alloc()).
 */
static inline void *__alloc_percpu(size_t size, size_t align)
{
	rtheap_t *heap = rtheap_default();
	return heap ? (void *)rtpercpu_alloc(heap, size, align) : NULL;
}

/** alloc_percpu(type): a `type *` handle of zeroed instances of type. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(RTHEAP_PERCPU_NO_TYPEOF)
#define alloc_percpu(type) \
	((__typeof__(type) *)__alloc_percpu(sizeof(type), RTHEAP_PERCPU_ALIGNOF(type)))
#else
#define alloc_percpu(type) \
	((type *)__alloc_percpu(sizeof(type), RTHEAP_PERCPU_ALIGNOF(type)))
#endif

/** Release every instance: rtpercpu_free(rtheap_default(), ptr).  NULL
 *  does nothing; a bad handle is reported, nothing changes. */
static inline void free_percpu(void *ptr)
{
	if (ptr)
		(void)rtpercpu_free(rtheap_default(), (rtpercpu_t *)ptr);
}

/** The instance of CPU @p cpu (NULL beyond num_possible_cpus()). */
#define per_cpu_ptr(ptr, cpu) \
	RTHEAP_PERCPU_TYPED(ptr, rtpercpu_ptr(RTHEAP_PERCPU_AREA(ptr), (unsigned)(cpu)))

/** The instance of the CPU the caller runs on at the call. */
#define this_cpu_ptr(ptr) RTHEAP_PERCPU_TYPED(ptr, rtpercpu_this(RTHEAP_PERCPU_AREA(ptr)))
#define raw_cpu_ptr(ptr) this_cpu_ptr(ptr)

/** this_cpu_ptr() opening a pair (rtpercpu_get()); close it with
 *  put_cpu_ptr() of the same handle. */
#define get_cpu_ptr(var) RTHEAP_PERCPU_TYPED(var, rtpercpu_get(RTHEAP_PERCPU_AREA(var)))
#define put_cpu_ptr(var) ((void)rtpercpu_put(RTHEAP_PERCPU_AREA(var)))

/** The number of possible CPUs, and a loop over them (0 .. n-1). */
#define num_possible_cpus() rtpercpu_nr_cpus()
#define nr_cpu_ids (rtpercpu_nr_cpus())
#define for_each_possible_cpu(cpu) \
	for ((cpu) = 0; (unsigned long long)(cpu) < rtpercpu_nr_cpus(); (cpu)++)

/** The CPU the caller runs on (sched_getcpu(); -1 if the system cannot
 *  tell).  Stale as soon as it is returned, unless the thread is pinned. */
#define smp_processor_id() rtpercpu_cpu()
#define raw_smp_processor_id() rtpercpu_cpu()

#ifdef __cplusplus
}
#endif

#endif /* RTHEAP_COMPAT_KERNEL_PERCPU_H */
