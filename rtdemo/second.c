/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- the releaser: a second real-time thread that releases messages
 * allocated by the first one.
 *
 * The RT thread hands every other message it would free to this thread
 * through a bounded single-producer single-consumer ring (struct handoff:
 * the producer writes only the tail, the consumer only the head, release
 * and acquire order the slots).  When the ring is full the RT thread frees
 * the message itself and counts a full event; it never waits.
 *
 * The releaser wakes every period, half a period after the RT thread
 * (clock_nanosleep, TIMER_ABSTIME), checks each message it finds in the
 * ring and releases it, timing every release:
 *  - with liburcu (RTHEAP_HAVE_URCU), through the per-thread cache both
 *    threads use (rtheap/tcache.h): the RT thread allocates with
 *    rttcache_alloc, the releaser's rttcache_free puts the block in its
 *    own bin and, once a bin is full, a magazine into the cache's depot
 *    where the RT thread's next refill finds it;
 *  - otherwise, or with --release-plain, rtheap_free under the heap's
 *    priority-inheriting lock.
 */
#include "rtdemo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint32_t bins_rel_wake[WAKE_BINS];
static uint32_t bins_release[HEAP_BINS];

/* Per-thread cache settings: classes up to 1 KiB (7 in 8 messages), a
 * batch of 16 blocks, 8 full magazines per class in the depot. */
#define DEMO_TC_MAX_SIZE 1024u
#define DEMO_TC_BATCH 16u

int second_setup(struct demo *d)
{
	hist_init(&d->rel.wake, bins_rel_wake, WAKE_BINS, WAKE_BIN_NS);
	hist_init(&d->rel.release, bins_release, HEAP_BINS, HEAP_BIN_NS);
	d->tc_destroy_rc = 0;
	if (d->opt.second && d->opt.lock != RTHEAP_LOCK_PI_MUTEX)
		d->second_off = d->opt.lock == RTHEAP_LOCK_NONE
		        ? "lock none: one thread only may call the heap"
		        : "lock spin: a preempted lower-priority holder would "
		          "stall the RT thread";
	d->second_on = d->opt.second && d->second_off == NULL;
	d->prio2 = d->opt.second_prio ? d->opt.second_prio
	                              : (d->opt.prio > 1 ? d->opt.prio - 1 : 1);
#if RTHEAP_HAVE_URCU
	d->use_tcache = d->second_on && !d->opt.release_plain;
	if (!d->use_tcache)
		return 0;
	struct rttcache_config cfg = {.max_size = DEMO_TC_MAX_SIZE,
	                              .batch = DEMO_TC_BATCH};
	d->tc = rttcache_create(&d->heap, &cfg);
	if (d->tc == NULL) {
		fprintf(stderr, "rtdemo: rttcache_create failed: %s\n",
		        strerror(errno));
		return -1;
	}
#endif
	return 0;
}

/* Thread start-up (not RT): the thread's cache state, made now. */
void demo_thread_init(struct demo *d)
{
#if RTHEAP_HAVE_URCU
	if (d->use_tcache && rttcache_thread_init(d->tc) != 0)
		fprintf(stderr, "rtdemo: warning: rttcache_thread_init failed: the "
		        "thread's first cache call makes its state\n");
#else
	(void)d;
#endif
}

void *demo_alloc(struct demo *d, size_t size)
{
#if RTHEAP_HAVE_URCU
	if (d->use_tcache)
		return rttcache_alloc(d->tc, size);
#endif
	return rtheap_alloc(&d->heap, size);
}

int demo_free(struct demo *d, void *p)
{
#if RTHEAP_HAVE_URCU
	if (d->use_tcache)
		return rttcache_free(d->tc, p);
#endif
	return rtheap_free(&d->heap, p);
}

/* Producer (RT thread): false when the ring is full. */
bool handoff_put(struct demo *d, struct msg *m)
{
	struct handoff *h = &d->hand;
	unsigned tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
	unsigned head = atomic_load_explicit(&h->head, memory_order_acquire);
	if (tail - head == HANDOFF_SLOTS) {
		h->full++;
		return false;
	}
	h->slot[tail % HANDOFF_SLOTS] = m;
	atomic_store_explicit(&h->tail, tail + 1u, memory_order_release);
	h->handed++;
	if (tail + 1u - head > h->max_used)
		h->max_used = tail + 1u - head;
	return true;
}

/* Consumer (releaser): release what the ring holds now (at most
 * HANDOFF_SLOTS messages), each release timed. */
static void drain(struct demo *d)
{
	struct handoff *h = &d->hand;
	struct rel_stats *r = &d->rel;
	unsigned head = atomic_load_explicit(&h->head, memory_order_relaxed);
	unsigned tail = atomic_load_explicit(&h->tail, memory_order_acquire);
	uint64_t n = 0;
	for (; head != tail; head++, n++) {
		struct msg *m = h->slot[head % HANDOFF_SLOTS];
		if (!msg_ok(m))
			r->corrupt++;
		uint64_t t0 = mono_ns();
		int rc = demo_free(d, m);
		uint64_t t1 = mono_ns();
		hist_add(&r->release, minus_overhead(d, t1 - t0), r->cycles);
		if (rc != 0)
			r->errors++;
		else
			r->released++;
		/* the slot is free again once the head passes it */
		atomic_store_explicit(&h->head, head + 1u, memory_order_release);
	}
	if (n > r->max_batch)
		r->max_batch = n;
}

void *second_main(void *arg)
{
	struct demo *d = arg;
	const uint64_t period = (uint64_t)d->opt.period_us * 1000u;
	struct timespec next;

	prefault_stack();
	demo_thread_init(d);
	clock_gettime(CLOCK_MONOTONIC, &next);
	ts_add_ns(&next, period + period / 2u); /* half a period after the RT thread */
	while (!atomic_load_explicit(&d->stop2, memory_order_acquire)) {
		int rc;
		do {
			rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
			                     NULL);
		} while (rc == EINTR);
		uint64_t now = mono_ns();
		uint64_t due = ts_ns(&next);
		hist_add(&d->rel.wake, now > due ? now - due : 0, d->rel.cycles);
		drain(d);
		d->rel.cycles++;
		ts_add_ns(&next, period);
		now = mono_ns();
		while (ts_ns(&next) <= now)
			ts_add_ns(&next, period);
	}
	drain(d); /* the RT thread has stopped: whatever it handed last */
	return NULL;
}

/* After both threads joined: the cache's statistics, then the cache goes
 * (its bins and depot back to the heap). */
void second_teardown(struct demo *d)
{
#if RTHEAP_HAVE_URCU
	if (d->tc == NULL)
		return;
	rttcache_get_stats(d->tc, &d->tc_stats);
	d->tc_destroy_rc = rttcache_destroy(d->tc);
	d->tc = NULL;
#else
	(void)d;
#endif
}
