/* SPDX-License-Identifier: MIT */
/*
 * uaf.c -- a program as a user would write it against the installed
 * library: one heap over a static buffer, a block allocated and freed.
 *
 *   uaf uaf     then reads and writes the freed block (byte 8 of it): a
 *               memory checker must report the access;
 *   uaf clean   does everything else the same, and nothing wrong.
 *
 * It prints "block <address> size <n>" and, before the bad access,
 * "touch <address>", so that the test can check that the checker's report
 * names an address inside the freed block.
 */
#include <stdio.h>
#include <string.h>

#include <rtheap/rtheap.h>

static _Alignas(4096) unsigned char buf[64 * 1024];

int main(int argc, char **argv)
{
	static rtheap_t heap;
	int bad = argc > 1 && !strcmp(argv[1], "uaf");

	if (argc != 2 || (!bad && strcmp(argv[1], "clean"))) {
		fprintf(stderr, "usage: %s uaf|clean\n", argv[0]);
		return 2;
	}
	if (rtheap_init(&heap, buf, sizeof buf, NULL) != 0) {
		fprintf(stderr, "rtheap_init failed\n");
		return 2;
	}
	/* keep: the page of the freed block stays a bucket page */
	unsigned char *keep = rtheap_alloc(&heap, 64);
	volatile unsigned char *blk = rtheap_alloc(&heap, 64);
	if (!keep || !blk) {
		fprintf(stderr, "rtheap_alloc failed\n");
		return 2;
	}
	memset(keep, 1, 64);
	for (int i = 0; i < 64; i++)
		blk[i] = (unsigned char)i;
	fprintf(stderr, "block %p size 64\n", (void *)blk);
	int sum = blk[8];
	if (rtheap_free(&heap, (void *)blk) != 0) {
		fprintf(stderr, "rtheap_free failed\n");
		return 2;
	}
	if (bad) {
		fprintf(stderr, "touch %p\n", (void *)(blk + 8));
		sum += blk[8]; /* read after free */
		blk[8] = 0x5a; /* write after free */
	}
	if (rtheap_free(&heap, keep) != 0 || rtheap_destroy(&heap, NULL, NULL) != 0) {
		fprintf(stderr, "rtheap_free/destroy failed\n");
		return 2;
	}
	printf("uaf %s: done (%d)\n", argv[1], sum);
	return 0;
}
