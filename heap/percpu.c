/* SPDX-License-Identifier: MIT */
/*
 * percpu.c -- per-CPU data (rtheap/percpu.h): one instance per possible
 * CPU, cache-line separated, in one heap block with a header line.
 *
 * A layer of its own: it includes owner.h (for rt_owner_report()) and the
 * public headers only.  No lock: an area is immutable from its creation
 * to its release (the header is written before the handle is returned and
 * only read afterwards; the instances are the caller's).
 *
 * Invariants of a live area pc (a heap block of at least pc->bytes):
 *  A1 pc->check == (uintptr_t)pc ^ PERCPU_MAGIC (cleared by the release,
 *     under the heap lock, just before the block is freed);
 *  A2 pc->line is a power of two >= RTPERCPU_LINE, pc is aligned to it,
 *     pc->stride is a multiple of it and >= pc->size;
 *  A3 instance c lies at pc + line + c * stride, c < pc->ncpu: distinct
 *     instances never share a line, nor with the header (line 0).
 */
#define _GNU_SOURCE 1 /* sched_getcpu */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"
#include "rtheap/percpu.h"
#include "rtheap/rtheap.h"

#define PERCPU_MAGIC ((uintptr_t)0x7063707572746870ull) /* "phtrupcp" */

struct rtpercpu {
	uintptr_t check;  /* A1: first word (the release checks only it) */
	size_t line;      /* L: alignment of every instance, header size */
	size_t stride;
	size_t size;      /* bytes asked per instance */
	unsigned ncpu;
};

_Static_assert(sizeof(struct rtpercpu) <= RTPERCPU_LINE,
               "the header fits in the first line");

/* -- the number of possible CPUs, decided once -- */

static pthread_once_t ncpu_once = PTHREAD_ONCE_INIT;
static unsigned ncpu_value;

/* The highest CPU number of the kernel's possible mask ("0-3,8-11\n")
 * plus one; 0 if the file cannot be read or holds no number. */
static unsigned ncpu_from_sys(void)
{
	char buf[4096];
	int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	unsigned long top = 0, cur = 0;
	int any = 0, in = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			cur = in ? cur * 10 + (unsigned long)(buf[i] - '0')
			         : (unsigned long)(buf[i] - '0');
			if (cur > RTPERCPU_MAX_CPUS)
				cur = RTPERCPU_MAX_CPUS;
			in = any = 1;
			top = cur > top ? cur : top;
		} else {
			in = 0;
		}
	}
	return any ? (unsigned)top + 1u : 0;
}

static void ncpu_init(void)
{
	unsigned n = ncpu_from_sys();
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_CONF);
		n = c > 0 ? (unsigned)(c < (long)RTPERCPU_MAX_CPUS ? c : (long)RTPERCPU_MAX_CPUS) : 1u;
	}
	ncpu_value = n < RTPERCPU_MAX_CPUS ? n : RTPERCPU_MAX_CPUS;
}

unsigned rtpercpu_nr_cpus(void)
{
	(void)pthread_once(&ncpu_once, ncpu_init);
	return ncpu_value;
}

int rtpercpu_cpu(void)
{
	return sched_getcpu();
}

/* -- areas -- */

static int area_ok(const struct rtpercpu *pc)
{
	return pc && pc->check == ((uintptr_t)pc ^ PERCPU_MAGIC);
}

/* The block size of an area: 0 (errno EINVAL) for bad arguments. */
static size_t area_bytes(size_t size, size_t line, unsigned n, size_t *stride)
{
	if (!size || size > SIZE_MAX - (line - 1)) {
		errno = EINVAL;
		return 0;
	}
	*stride = (size + line - 1) & ~(line - 1);
	if (*stride > (SIZE_MAX - line) / n) {
		errno = EINVAL;
		return 0;
	}
	return line + (size_t)n * *stride;
}

rtpercpu_t *rtpercpu_alloc(rtheap_t *heap, size_t size, size_t align)
{
	size_t stride = 0;
	if (!rtheap_page_size(heap) || (align & (align - 1)) ||
	    align > RTPERCPU_MAX_ALIGN) {
		errno = EINVAL;
		return NULL;
	}
	size_t line = align > RTPERCPU_LINE ? align : RTPERCPU_LINE;
	unsigned n = rtpercpu_nr_cpus();
	size_t bytes = area_bytes(size, line, n, &stride);
	if (!bytes)
		return NULL;
	struct rtpercpu *pc = rtheap_alloc_aligned(heap, bytes, line);
	if (!pc) {
		errno = ENOMEM;
		return NULL;
	}
	memset(pc, 0, bytes);
	pc->line = line;
	pc->stride = stride;
	pc->size = size;
	pc->ncpu = n;
	pc->check = (uintptr_t)pc ^ PERCPU_MAGIC;
	return pc;
}

/* rtheap_test_and_free()'s check, under the heap lock, on a live block:
 * an area (its check word cleared) or 1 (left alone). */
static int area_release_check(void *block)
{
	struct rtpercpu *pc = block;
	if (pc->check != ((uintptr_t)pc ^ PERCPU_MAGIC))
		return 1;
	pc->check = 0;
	return 0;
}

int rtpercpu_free(rtheap_t *heap, rtpercpu_t *pc)
{
	if (!rtheap_page_size(heap))
		return -EINVAL;
	if (!pc)
		return 0;
	/* foreign, interior and released addresses: the heap reports them */
	int rc = rtheap_test_and_free(heap, pc, area_release_check);
	if (rc == 1) {
		rt_owner_report(heap, RTHEAP_ERR_NOT_BLOCK, pc);
		return -EINVAL;
	}
	return rc;
}

void *rtpercpu_ptr(const rtpercpu_t *pc, unsigned cpu)
{
	if (!area_ok(pc) || cpu >= pc->ncpu)
		return NULL;
	return (char *)(uintptr_t)pc + pc->line + (size_t)cpu * pc->stride;
}

void *rtpercpu_this(const rtpercpu_t *pc)
{
	int cpu = sched_getcpu();
	return cpu < 0 ? NULL : rtpercpu_ptr(pc, (unsigned)cpu);
}

/* -- get / put: a check of the pinning, per thread -- */

static _Thread_local unsigned pair_depth;
static _Thread_local int pair_cpu;

void *rtpercpu_get(const rtpercpu_t *pc)
{
	int cpu = sched_getcpu();
	void *p = cpu < 0 ? NULL : rtpercpu_ptr(pc, (unsigned)cpu);
	if (p && pair_depth++ == 0)
		pair_cpu = cpu;
	return p;
}

int rtpercpu_put(const rtpercpu_t *pc)
{
	if (!area_ok(pc) || !pair_depth)
		return -EINVAL;
	pair_depth--;
	return sched_getcpu() == pair_cpu ? 0 : 1;
}

int rtpercpu_info(const rtpercpu_t *pc, struct rtpercpu_info *info)
{
	if (!area_ok(pc) || !info)
		return -EINVAL;
	info->size = pc->size;
	info->stride = pc->stride;
	info->align = pc->line;
	info->ncpu = pc->ncpu;
	info->bytes = pc->line + (size_t)pc->ncpu * pc->stride;
	return 0;
}
