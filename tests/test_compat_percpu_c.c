/* SPDX-License-Identifier: MIT */
/*
 * A C11 program of the kernel's per-CPU calls, written as a driver would
 * write them: rtheap/compat/kernel_percpu.h must compile as strict C11
 * with -Wall -Wextra -Wpedantic -Werror (loop variables int and unsigned,
 * `__percpu` annotations, per_cpu_ptr(...)->field).  Called from
 * test_compat_percpu.cc; returns 0, or the line of the first check that
 * failed.
 */
#include <stddef.h>
#include <stdint.h>

#include "rtheap/compat/kernel_percpu.h"

int percpu_c_program(void);

struct netdev_stats {
	unsigned long rx_packets;
	unsigned long tx_packets;
	int last_cpu;
};

#define CHECK(cond)                      \
	do {                             \
		if (!(cond))             \
			return __LINE__; \
	} while (0)

static int count_packets(struct netdev_stats __percpu *stats, unsigned long *rx,
                         unsigned long *tx)
{
	int cpu;
	*rx = *tx = 0;
	for_each_possible_cpu(cpu) {
		*rx += per_cpu_ptr(stats, cpu)->rx_packets;
		*tx += per_cpu_ptr(stats, cpu)->tx_packets;
	}
	return cpu;
}

int percpu_c_program(void)
{
	struct netdev_stats __percpu *stats = alloc_percpu(struct netdev_stats);
	unsigned long rx, tx;
	unsigned int cpu;
	int me;

	CHECK(stats != NULL);
	CHECK(num_possible_cpus() >= 1);
	CHECK(nr_cpu_ids == num_possible_cpus());
	for_each_possible_cpu(cpu) {
		struct netdev_stats *s = per_cpu_ptr(stats, cpu);
		CHECK(s != NULL);
		CHECK(s->rx_packets == 0 && s->tx_packets == 0 && s->last_cpu == 0);
		CHECK(((uintptr_t)s & 63) == 0);
	}
	CHECK(cpu == num_possible_cpus());
	CHECK(per_cpu_ptr(stats, num_possible_cpus()) == NULL);

	{
		struct netdev_stats *s = get_cpu_ptr(stats);
		CHECK(s != NULL);
		s->rx_packets += 3;
		s->last_cpu = smp_processor_id();
		put_cpu_ptr(stats);
	}
	this_cpu_ptr(stats)->tx_packets += 2;
	raw_cpu_ptr(stats)->tx_packets += 1;
	me = raw_smp_processor_id();
	CHECK(me >= 0 && (unsigned)me < num_possible_cpus());

	CHECK(count_packets(stats, &rx, &tx) == (int)num_possible_cpus());
	CHECK(rx == 3);
	CHECK(tx == 3);

	{
		long __percpu *big = __alloc_percpu(200, 256);
		int c;
		CHECK(big != NULL);
		for_each_possible_cpu(c)
			CHECK(((uintptr_t)per_cpu_ptr(big, c) & 255) == 0);
		free_percpu(big);
	}
	free_percpu(stats);
	free_percpu(NULL);
	return 0;
}
