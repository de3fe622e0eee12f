/* SPDX-License-Identifier: MIT */
/*
 * A program that uses an installed rtheap, built by the package test
 * through find_package(rtheap) and through pkg-config.
 */
#include <rtheap/rtheap.h>
#include <rtheap/xnheap.h>

#include <stdio.h>
#include <string.h>

static _Alignas(256) unsigned char arena[RTHEAP_BUFFER_SIZE(64 * 1024, 256)];
static _Alignas(256) unsigned char xarena[RTHEAP_BUFFER_SIZE(64 * 1024, 512)];

int main(void)
{
	rtheap_t heap;
	xnheap_t xheap;

	if (strcmp(rtheap_version(), RTHEAP_VERSION_STRING) != 0) {
		printf("headers %s, library %s\n", RTHEAP_VERSION_STRING, rtheap_version());
		return 1;
	}
	if (rtheap_init(&heap, arena, sizeof(arena), NULL) != 0)
		return 2;
	void *p = rtheap_alloc(&heap, 100);
	void *q = rtheap_alloc(&heap, 5000);
	if (!p || !q)
		return 3;
	memset(p, 1, 100);
	memset(q, 2, 5000);
	if (rtheap_free(&heap, p) || rtheap_free(&heap, q) || rtheap_check(&heap, NULL))
		return 4;
	if (rtheap_destroy(&heap, NULL, NULL))
		return 5;
	if (xnheap_init(&xheap, xarena, sizeof(xarena), 512) != 0)
		return 6;
	void *x = xnheap_alloc(&xheap, 64);
	if (!x || xnheap_free(&xheap, x) || xnheap_destroy(&xheap, NULL, NULL))
		return 7;
	printf("consumer ok: rtheap %s\n", rtheap_version());
	return 0;
}
