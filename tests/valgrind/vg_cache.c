/* SPDX-License-Identifier: MIT */
/* Object caches under Memcheck: a clean run of a cache with a constructor
 * (objects keep their constructed state, which Memcheck sees as defined:
 * no error), then one read of a released object and one write into an
 * object's neighbour that was never handed out: two invalid accesses. */
#include "vg_common.h"

#include "rtheap/cache.h"

struct obj {
	int stamp;
	char body[44];
};

static void ctor(void *p, rtcache_t *c, unsigned long flags)
{
	(void)c;
	(void)flags;
	struct obj *o = p;
	o->stamp = 7;
	for (size_t i = 0; i < sizeof o->body; i++)
		o->body[i] = 0;
}

int main(void)
{
	static rtheap_t h;
	vg_init(&h);
	void *blk = vg_alloc(&h, 100); /* a heap block beside the slabs */
	rtcache_t *c = rtcache_create(&h, "vg", sizeof(struct obj), 0, 0, ctor, NULL);
	if (!c)
		return 2;
	struct obj *a = rtcache_alloc(c), *b = rtcache_alloc(c);
	if (!a || !b)
		return 2;
	int sum = a->stamp + b->stamp + b->body[3]; /* constructed: defined */
	rtcache_free(c, b);
	b = rtcache_alloc(c); /* the same object again, still constructed */
	sum += b->stamp;
	rtcache_free(c, b);
	sum += ((volatile struct obj *)b)->stamp;             /* invalid read */
	((volatile char *)a)[sizeof(struct obj) * 3] = 1;     /* invalid write */
	rtcache_free(c, a);
	if (rtcache_destroy(c) != 0 || rtheap_free(&h, blk) != 0)
		return 2;
	printf("vg_cache sum %d\n", sum);
	return 0;
}
