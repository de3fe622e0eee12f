/* SPDX-License-Identifier: MIT */
/* rtheap_realloc under Memcheck: a run grown in place, shrunk in place and
 * moved, every byte written and read, gives no error (the pages a growth
 * takes become addressable, their content undefined until written); then
 * two misuses are reported: a write into the pages a shrink gave back,
 * and a read of the old block after a move. */
#include <string.h>

#include "vg_common.h"

static unsigned sum(const unsigned char *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	unsigned char *a = vg_alloc(&h, 1024); /* 4 pages; free pages follow */
	memset(a, 1, 1024);
	unsigned char *g = rtheap_realloc(&h, a, 3000); /* grown in place */
	if (g != a)
		return 3;
	memset(a + 1024, 2, 3000 - 1024);
	if (sum(a, 3000) != 1024u + 2u * (3000u - 1024u))
		return 4;
	if (rtheap_realloc(&h, a, 600) != a) /* shrunk in place: 3 pages */
		return 5;
	volatile unsigned char *v = a;
	v[768] = 7; /* invalid write: a page the shrink gave back */
	unsigned char *guard = vg_alloc(&h, 256); /* right after a */
	unsigned char *m = rtheap_realloc(&h, a, 5000); /* moved */
	if (!m || m == a || sum(m, 600) != 600u)
		return 6;
	volatile unsigned char *old = a;
	if (old[16] == 42) /* invalid read: the block moved away */
		puts("unexpected");
	rtheap_free(&h, m);
	rtheap_free(&h, guard);
	if (rtheap_check(&h, NULL) != 0)
		return 7;
	rtheap_destroy(&h, NULL, NULL);
	puts("vg_realloc done");
	return 0;
}
