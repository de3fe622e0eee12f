/* SPDX-License-Identifier: MIT */
/* Correct use: valgrind must report no error at all (no false positive
 * from the heap's own metadata work on free blocks). */
#include <string.h>

#include "vg_common.h"

int main(void)
{
	static rtheap_t h;
	void *p[64];
	vg_init(&h);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++) {
			size_t n = (size_t)(16 + (i * 37 + round * 11) % 1500);
			p[i] = vg_alloc(&h, n);
			memset(p[i], i, n);
		}
		for (int i = 0; i < 64; i += 2)
			rtheap_free(&h, p[i]);
		for (int i = 1; i < 64; i += 2)
			rtheap_free(&h, p[i]);
	}
	void *z = rtheap_zalloc(&h, 300);
	if (!z || ((unsigned char *)z)[299] != 0)
		return 3;
	rtheap_free(&h, z);
	if (rtheap_check(&h, NULL) != 0)
		return 4;
	rtheap_destroy(&h, NULL, NULL);
	puts("vg_clean done");
	return 0;
}
