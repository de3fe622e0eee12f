/* SPDX-License-Identifier: MIT */
/* Shared set-up for the valgrind programs: one heap over a static buffer. */
#ifndef RTHEAP_VG_COMMON_H
#define RTHEAP_VG_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "rtheap/rtheap.h"

static _Alignas(4096) unsigned char vg_buf[64 * 1024];

static void vg_init(rtheap_t *h)
{
	if (rtheap_init(h, vg_buf, sizeof vg_buf, NULL) != 0) {
		fprintf(stderr, "rtheap_init failed\n");
		exit(2);
	}
}

static void *vg_alloc(rtheap_t *h, size_t n)
{
	void *p = rtheap_alloc(h, n);
	if (!p) {
		fprintf(stderr, "rtheap_alloc(%zu) failed\n", n);
		exit(2);
	}
	return p;
}

#endif
