/* SPDX-License-Identifier: MIT */
/*
 * rtheap_attach() from a process that runs under Memcheck, to a
 * process-shared heap made by a process that does not: -ENOTSUP, and the
 * heap is left as it was (docs/errors.md, "Process-shared heaps").
 *
 * Run natively, with the valgrind program as argument.  The first process
 * makes the heap in a memfd mapped at a fixed address, with a live block,
 * then starts itself under Memcheck with the memfd and that address.  The
 * second process maps the same memory at the same address (the address
 * rule of shared heaps) and attaches: it must get -ENOTSUP.  Back in the
 * first process, the heap must still attach, pass its check and hold its
 * block.  Exit 0 and "attach under Memcheck: -ENOTSUP" when all holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rtheap/rtheap.h"

#define MAP_BYTES ((size_t)1 << 20)
#define BUF_OFF ((size_t)64 << 10)

/* Addresses both a native process and Memcheck's client can map (the
 * first free one is taken). */
static const uintptr_t candidates[] = {
#if UINTPTR_MAX > 0xffffffffu
	(uintptr_t)0x4000000000ull, (uintptr_t)0x1000000000ull,
	(uintptr_t)0x800000000ull, (uintptr_t)0x200000000ull,
#else
	(uintptr_t)0x40000000u, (uintptr_t)0x20000000u,
#endif
};

static int attach_here(int fd, uintptr_t at)
{
	void *m = mmap((void *)at, MAP_BYTES, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (m != (void *)at) {
		/* valgrind keeps some ranges for itself, and may then place the
		 * mapping elsewhere instead of failing */
		fprintf(stderr, "second process: cannot map at %#lx (%s)\n",
		        (unsigned long)at,
		        m == MAP_FAILED ? strerror(errno) : "placed elsewhere");
		return 4;
	}
	int err = rtheap_attach((rtheap_t *)m);
	if (err != -ENOTSUP) {
		fprintf(stderr, "second process: rtheap_attach gave %d, not -ENOTSUP\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "attach"))
		return attach_here(atoi(argv[2]), (uintptr_t)strtoull(argv[3], NULL, 16));
	if (argc != 2) {
		fprintf(stderr, "usage: vg_attach VALGRIND\n");
		return 2;
	}
	int fd = memfd_create("rtheap-vg-attach", 0);
	if (fd < 0 || ftruncate(fd, (off_t)MAP_BYTES) != 0)
		return perror("memfd"), 2;
	unsigned char *m = MAP_FAILED;
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		m = mmap((void *)candidates[i], MAP_BYTES, PROT_READ | PROT_WRITE,
		         MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		if (m == (void *)candidates[i])
			break;
		if (m != MAP_FAILED)
			munmap(m, MAP_BYTES);
		m = MAP_FAILED;
	}
	if (m == MAP_FAILED)
		return fprintf(stderr, "no candidate address is free\n"), 2;
	rtheap_t *h = (rtheap_t *)(void *)m;
	struct rtheap_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.lock = RTHEAP_LOCK_SHARED;
	int err = rtheap_init(h, m + BUF_OFF, MAP_BYTES - BUF_OFF, &cfg);
	if (err == -ENOTSUP) /* no robust priority-inheriting mutex here */
		return printf("skipped: no process-shared lock\n"), 77;
	if (err)
		return fprintf(stderr, "rtheap_init: %d\n", err), 2;
	void *blk = rtheap_alloc(h, 100);
	struct rtheap_stats before, after;
	if (!blk || rtheap_get_stats(h, &before))
		return fprintf(stderr, "set-up failed\n"), 2;

	char fds[16], at[32], self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return perror("readlink"), 2;
	self[n] = '\0';
	snprintf(fds, sizeof fds, "%d", fd);
	snprintf(at, sizeof at, "%lx", (unsigned long)(uintptr_t)m);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 2;
	if (pid == 0) {
		char *args[] = { argv[1], "-q", "--tool=memcheck", "--error-exitcode=99",
		                 self, "attach", fds, at, NULL };
		execvp(argv[1], args);
		perror(argv[1]);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 4) /* not this test's subject */
		return printf("skipped: Memcheck cannot map the heap at %s\n", at), 77;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fprintf(stderr, "second process failed (status %#x)\n", st), 1;
	/* the heap as it was: attaches here, passes its check, same counts */
	if (rtheap_attach(h) != 0 || rtheap_check(h, NULL) != 0 ||
	    rtheap_get_stats(h, &after) || after.live_blocks != before.live_blocks ||
	    after.used != before.used || rtheap_usable_size(h, blk) < 100)
		return fprintf(stderr, "the heap changed\n"), 1;
	rtheap_free(h, blk);
	printf("attach under Memcheck: -ENOTSUP\n");
	return 0;
}
