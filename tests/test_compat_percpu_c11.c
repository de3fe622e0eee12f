/* SPDX-License-Identifier: MIT */
/*
 * The plain C11 forms of rtheap/compat/kernel_percpu.h (no __typeof__:
 * RTHEAP_PERCPU_NO_TYPEOF), as a compiler other than GCC or Clang gets
 * them: the accessors return void *, assigned to typed pointers.  Strict
 * C11, -Wall -Wextra -Wpedantic -Werror.  Called from
 * test_compat_percpu.cc; returns 0, or the line of the first failed check.
 */
#define RTHEAP_PERCPU_NO_TYPEOF 1

#include <stdint.h>

#include "rtheap/compat/kernel_percpu.h"

int percpu_c11_program(void);

struct counter {
	long n;
};

#define CHECK(cond)                      \
	do {                             \
		if (!(cond))             \
			return __LINE__; \
	} while (0)

int percpu_c11_program(void)
{
	struct counter __percpu *c = alloc_percpu(struct counter);
	struct counter *p;
	long sum = 0;
	int cpu;

	CHECK(c != NULL);
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(c, cpu);
		CHECK(p != NULL && p->n == 0);
		p->n = cpu + 1;
	}
	p = get_cpu_ptr(c);
	CHECK(p != NULL);
	p->n += 10;
	put_cpu_ptr(c);
	p = this_cpu_ptr(c);
	CHECK(p != NULL);
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(c, cpu);
		sum += p->n;
	}
	CHECK(sum == 10 + (long)num_possible_cpus() * ((long)num_possible_cpus() + 1) / 2);
	free_percpu(c);
	return 0;
}
