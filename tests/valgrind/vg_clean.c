/* SPDX-License-Identifier: MIT */
/* Correct use: valgrind must report no error at all (no false positive
 * from the heap's own metadata work on free blocks). */
#include <stdint.h>
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
	/* Aligned blocks: the head and tail pieces of an aligned run get list
	 * nodes in free memory, which must stay invisible to Memcheck. */
	static const size_t aligns[] = {64, 512, 1024, 4096, 16384};
	static const size_t sizes[] = {40, 300, 700};
	for (int r = 0; r < 2; r++) {
		for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
			void *q[3];
			for (int i = 0; i < 3; i++) {
				q[i] = rtheap_alloc_aligned(&h, sizes[i], aligns[k]);
				if (!q[i] || (uintptr_t)q[i] % aligns[k])
					return 5;
				memset(q[i], i, sizes[i]);
			}
			for (int i = 0; i < 3; i++)
				rtheap_free(&h, q[(i + r) % 3]);
		}
	}
	void *z = rtheap_zalloc(&h, 300);
	if (!z || ((unsigned char *)z)[299] != 0)
		return 3;
	rtheap_free(&h, z);
	if (rtheap_check(&h, NULL) != 0)
		return 4;
	rtheap_destroy(&h, NULL, NULL);
	/* Debug fill: a bucket block handed out is checked for the freed
	 * pattern first; the heap reads its own fill, unseen by Memcheck. */
	struct rtheap_config cf = {0};
	cf.flags = RTHEAP_F_DEBUG_FILL;
	if (rtheap_init(&h, vg_buf, sizeof vg_buf, &cf) != 0)
		return 6;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++)
			p[i] = vg_alloc(&h, (size_t)(16 << (i % 4)));
		for (int i = 0; i < 64; i++)
			rtheap_free(&h, p[i]);
	}
	if (rtheap_check(&h, NULL) != 0)
		return 7;
	rtheap_destroy(&h, NULL, NULL);
	puts("vg_clean done");
	return 0;
}
