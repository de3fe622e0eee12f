/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- control messages: fixed-size objects from an object cache
 * (rtheap/cache.h) behind a reserve pool (rtheap/pool.h).
 *
 * Every cycle the real-time thread takes one control message from the
 * pool without waiting (RTPOOL_NOWAIT) and releases the oldest ones down
 * to a target that wanders between CTL_RING/2 and CTL_RING.  The pool
 * keeps CTL_RESERVE messages aside, so that a control message can still be
 * had while the heap is short of memory and the helper has not extended it
 * yet.  The cache's constructor stamps each object once, when its slab is
 * made; a message goes back to the cache in that state, so the stamp must
 * still be there whenever the pool hands one out.
 */
#include "rtdemo.h"

#include <stdio.h>
#include <string.h>

static void ctl_ctor(void *obj, rtcache_t *cache, unsigned long flags)
{
	struct demo *d = rtcache_private(cache);
	struct ctl_msg *m = obj;
	(void)flags;
	memset(m, 0, sizeof *m);
	m->magic = CTL_MAGIC;
	atomic_fetch_add_explicit(&d->ctl_ctor_calls, 1, memory_order_relaxed);
}

static uint32_t ctl_check(uint64_t seq)
{
	return (uint32_t)(seq * 0x9e3779b1u) ^ 0xc0ffee11u;
}

int ctl_setup(struct demo *d)
{
	d->ctl_cache = rtcache_create(&d->heap, "rtdemo.ctl", sizeof(struct ctl_msg),
	                              0, 0, ctl_ctor, NULL);
	if (!d->ctl_cache) {
		perror("rtdemo: rtcache_create");
		return -1;
	}
	rtcache_set_private(d->ctl_cache, d);
	d->ctl_pool = rtpool_create_cache(&d->heap, CTL_RESERVE, d->ctl_cache);
	if (!d->ctl_pool) {
		perror("rtdemo: rtpool_create_cache");
		rtcache_destroy(d->ctl_cache);
		d->ctl_cache = NULL;
		return -1;
	}
	return 0;
}

static uint64_t elapsed(const struct demo *d, uint64_t t0, uint64_t t1)
{
	uint64_t ns = t1 - t0;
	return ns > d->timer_overhead_ns ? ns - d->timer_overhead_ns : 0;
}

static void ctl_take(struct demo *d)
{
	struct rt_stats *s = &d->rt;
	uint64_t t0 = mono_ns();
	struct ctl_msg *m = rtpool_alloc(d->ctl_pool, RTPOOL_NOWAIT);
	uint64_t t1 = mono_ns();
	if (!m) {
		s->ctl_failed++;
		return;
	}
	hist_add(&s->ctl_alloc, elapsed(d, t0, t1), s->cycles);
	s->ctl_allocs++;
	if (m->magic != CTL_MAGIC)
		s->ctl_corrupt++; /* the constructed state was lost */
	m->seq = d->ctl_seq++;
	m->check = ctl_check(m->seq);
	m->body[0] = (unsigned char)m->seq;
	d->ctl_ring[(d->ctl_head + d->ctl_count) % CTL_RING] = m;
	d->ctl_count++;
}

static void ctl_release_oldest(struct demo *d)
{
	struct rt_stats *s = &d->rt;
	struct ctl_msg *m = d->ctl_ring[d->ctl_head];
	d->ctl_ring[d->ctl_head] = NULL;
	d->ctl_head = (d->ctl_head + 1) % CTL_RING;
	d->ctl_count--;
	if (m->magic != CTL_MAGIC || m->check != ctl_check(m->seq) ||
	    m->body[0] != (unsigned char)m->seq)
		s->ctl_corrupt++;
	uint64_t t0 = mono_ns();
	int rc = rtpool_free(d->ctl_pool, m); /* constructed state kept */
	uint64_t t1 = mono_ns();
	if (rc != 0) {
		s->ctl_errors++;
		return;
	}
	s->ctl_frees++;
	if (!d->teardown)
		hist_add(&s->ctl_free, elapsed(d, t0, t1), s->cycles);
}

void ctl_cycle(struct demo *d)
{
	unsigned target = CTL_RING / 2 + (unsigned)((d->rt.cycles / 64u) % (CTL_RING / 2));
	if (d->ctl_count == CTL_RING)
		ctl_release_oldest(d);
	ctl_take(d);
	while (d->ctl_count > target)
		ctl_release_oldest(d);
}

/* After the run, single-threaded: release the live messages, keep the
 * statistics, then the pool and the cache go back to the heap. */
void ctl_teardown(struct demo *d)
{
	d->teardown = true;
	while (d->ctl_count > 0)
		ctl_release_oldest(d);
	if (d->ctl_cache)
		rtcache_get_stats(d->ctl_cache, &d->ctl_stats);
	if (d->ctl_pool) {
		rtpool_get_stats(d->ctl_pool, &d->pool_stats);
		rtpool_destroy(d->ctl_pool);
		d->ctl_pool = NULL;
	}
	if (d->ctl_cache && rtcache_destroy(d->ctl_cache) != 0)
		d->rt.ctl_errors++;
	d->ctl_cache = NULL;
}
