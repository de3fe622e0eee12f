/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- the periodic real-time thread.
 *
 * Every period it wakes at an absolute time (clock_nanosleep on
 * CLOCK_MONOTONIC, TIMER_ABSTIME), measures how late it woke, then runs one
 * cycle of the message workload: a few allocations of varying sizes, one
 * random release, and releases of the oldest messages down to the target
 * working set; then one fixed-size control message from the object cache's
 * reserve pool (control.c).  The target grows with the cycle count (up to --max-live
 * messages), so the heap needs more memory as the run goes on and the
 * helper thread has to extend it.  Each heap call is timed on its own.
 *
 * Nothing here blocks except clock_nanosleep: no system allocator, no I/O,
 * no lock other than the heap's own (bounded, priority-inheriting in the
 * default mode).
 */
#include "rtdemo.h"

#include <errno.h>
#include <string.h>

static uint32_t bins_wake[WAKE_BINS];
static uint32_t bins_alloc[HEAP_BINS];
static uint32_t bins_alloc_notify[HEAP_BINS];
static uint32_t bins_free[HEAP_BINS];
static uint32_t bins_ctl_alloc[HEAP_BINS];
static uint32_t bins_ctl_free[HEAP_BINS];

/* Per-thread count of low-memory callbacks: the callback runs in the
 * allocating thread, so the RT thread sees whether its own call fired it. */
static _Thread_local uint64_t callbacks_here;

void note_callback_in_this_thread(void)
{
	callbacks_here++;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Log-uniform size: 7 in 8 messages are 16 B .. 1 KiB (bucket blocks),
 * 1 in 8 are 1 KiB .. 16 KiB (page runs). */
static size_t pick_size(uint64_t *rng)
{
	uint64_t r = rng_next(rng);
	unsigned lo_shift, span;
	if ((r & 7u) != 0) {
		lo_shift = 4;   /* 16 B */
		span = 6;       /* .. 1 KiB */
	} else {
		lo_shift = 10;  /* 1 KiB */
		span = 4;       /* .. 16 KiB */
	}
	/* exponent with 1/256 resolution, then the fractional power of two
	 * approximated linearly inside the octave: good enough for a demo */
	uint64_t e = (r >> 8) % ((uint64_t)span * 256u);
	size_t base = (size_t)1 << (lo_shift + e / 256u);
	size_t size = base + (base * (e % 256u)) / 256u;
	if (size < MSG_MIN)
		size = MSG_MIN;
	if (size > MSG_MAX)
		size = MSG_MAX;
	return size;
}

static uint32_t msg_check(uint64_t seq, uint32_t size)
{
	return (uint32_t)(seq * 2654435761u) ^ size ^ 0x5a5a5a5au;
}

static unsigned char msg_fill(uint64_t seq)
{
	return (unsigned char)(seq * 31u + 7u);
}

static void msg_write(struct msg *m, uint64_t seq, size_t size)
{
	m->seq = seq;
	m->size = (uint32_t)size;
	m->check = msg_check(seq, (uint32_t)size);
	if (size > sizeof *m)
		memset(m->payload, msg_fill(seq), size - sizeof *m);
}

bool msg_ok(const struct msg *m)
{
	if (m->size < MSG_MIN || m->size > MSG_MAX ||
	    m->check != msg_check(m->seq, m->size))
		return false;
	if (m->size > sizeof *m) {
		size_t n = m->size - sizeof *m;
		unsigned char f = msg_fill(m->seq);
		if (m->payload[0] != f || m->payload[n / 2] != f ||
		    m->payload[n - 1] != f)
			return false;
	}
	return true;
}

uint64_t minus_overhead(const struct demo *d, uint64_t ns)
{
	return ns > d->timer_overhead_ns ? ns - d->timer_overhead_ns : 0;
}

static void release(struct demo *d, struct msg *m)
{
	struct rt_stats *s = &d->rt;
	if (!msg_ok(m))
		s->corrupt++;
	/* every other release goes to the releaser thread (second.c) */
	if (d->second_on && !d->teardown && (d->hand_toggle++ & 1u) &&
	    handoff_put(d, m))
		return;
	uint64_t t0 = mono_ns();
	int rc = demo_free(d, m);
	uint64_t t1 = mono_ns();
	if (rc != 0) {
		s->free_errors++;
		return;
	}
	s->frees++;
	if (!d->teardown)
		hist_add(&s->free, minus_overhead(d, t1 - t0), s->cycles);
}

static void free_oldest(struct demo *d)
{
	struct msg *m = d->ring[d->ring_head];
	d->ring[d->ring_head] = NULL;
	d->ring_head = (d->ring_head + 1) % d->ring_cap;
	d->ring_count--;
	release(d, m);
}

/* Free a random live message; the oldest takes its place in the ring. */
static void free_random(struct demo *d)
{
	unsigned i = (unsigned)(rng_next(&d->rng) % d->ring_count);
	unsigned slot = (d->ring_head + i) % d->ring_cap;
	struct msg *m = d->ring[slot];
	d->ring[slot] = d->ring[d->ring_head];
	d->ring[d->ring_head] = NULL;
	d->ring_head = (d->ring_head + 1) % d->ring_cap;
	d->ring_count--;
	release(d, m);
}

static void alloc_one(struct demo *d)
{
	struct rt_stats *s = &d->rt;
	size_t size = pick_size(&d->rng);
	uint64_t before = callbacks_here;
	uint64_t t0 = mono_ns();
	struct msg *m = demo_alloc(d, size);
	uint64_t t1 = mono_ns();
	uint64_t ns = minus_overhead(d, t1 - t0);
	if (callbacks_here != before) {
		s->notified_allocs++;
		hist_add(&s->alloc_notify, ns, s->cycles);
	} else {
		hist_add(&s->alloc, ns, s->cycles);
	}
	if (m == NULL) {
		if (s->failed_allocs++ == 0)
			rtheap_get_stats(&d->heap, &d->fail_stats);
		return;
	}
	s->allocs++;
	s->bytes_requested += size;
	msg_write(m, d->seq++, size);
	unsigned tail = (d->ring_head + d->ring_count) % d->ring_cap;
	d->ring[tail] = m;
	d->ring_count++;
}

/* One cycle of the workload. */
static void run_cycle(struct demo *d)
{
	/* the working set grows by one message every 4 cycles */
	uint64_t target = 64u + d->rt.cycles / 4u;
	if (target > d->opt.max_live)
		target = d->opt.max_live;

	unsigned n = 1u + (unsigned)(rng_next(&d->rng) % 3u);
	for (unsigned i = 0; i < n; i++) {
		if (d->ring_count == d->ring_cap)
			free_oldest(d);
		alloc_one(d);
	}
	if (d->ring_count > 0 && (rng_next(&d->rng) & 1u))
		free_random(d);
	while (d->ring_count > target)
		free_oldest(d);
}

/* Store a heap snapshot for the status line and the helper. */
static void publish_heap(struct demo *d, const struct rtheap_stats *st)
{
	struct published *p = &d->pub;
	atomic_store_explicit(&p->used, st->used, memory_order_relaxed);
	atomic_store_explicit(&p->free, st->free, memory_order_relaxed);
	atomic_store_explicit(&p->largest_free, st->largest_free,
	                      memory_order_relaxed);
	atomic_store_explicit(&p->extents, st->extents, memory_order_release);
}

/* The low-memory callback watches free bytes; free bytes scattered in
 * holes smaller than the largest message do not help, so the RT thread
 * also asks for an extent when no free run can take two large messages. */
static bool short_of_memory(const struct demo *d, const struct rtheap_stats *st)
{
	return st->free < d->threshold || st->largest_free < d->reserve_run;
}

/* Lock mode "none": buffers mapped by the helper are added here, by the
 * only thread that uses the heap.  With RTHEAP_F_ZEROED the call does not
 * clear the page map: O(E), no system call. */
static void take_handoff(struct demo *d)
{
	unsigned ready = atomic_load_explicit(&d->ext_ready, memory_order_acquire);
	unsigned taken = atomic_load_explicit(&d->ext_consumed, memory_order_relaxed);
	if (ready == taken)
		return;
	for (unsigned i = taken; i < ready; i++) {
		uint64_t t0 = mono_ns();
		int rc = rtheap_extend(&d->heap, d->ext[i].buf, d->ext[i].size,
		                       RTHEAP_F_ZEROED);
		uint64_t t = minus_overhead(d, mono_ns() - t0);
		if (t > d->rt.extend_max_ns)
			d->rt.extend_max_ns = t;
		if (rc == 0) {
			d->ext[i].in_heap = true;
			d->ext[i].cycle = d->rt.cycles;
			atomic_fetch_add(&d->ext_added, 1);
		} else {
			atomic_fetch_add(&d->extend_errors, 1);
			atomic_store(&d->last_extend_error, rc);
			if (rc == -ENOSPC)
				atomic_store(&d->table_full, true);
		}
	}
	uint64_t dt = mono_ns() - atomic_load(&d->notify_ns);
	if (dt > atomic_load(&d->reaction_max_ns))
		atomic_store(&d->reaction_max_ns, dt);
	struct rtheap_stats st;
	bool have = rtheap_get_stats(&d->heap, &st) == 0;
	if (have)
		publish_heap(d, &st);
	atomic_store_explicit(&d->ext_consumed, ready, memory_order_release);
	atomic_store(&d->request_pending, false);
	if (have && short_of_memory(d, &st) && !atomic_load(&d->table_full))
		request_extent(d); /* still short: ask for one more */
}

static void publish(struct demo *d, bool heap_too)
{
	struct published *p = &d->pub;
	struct rt_stats *s = &d->rt;
	atomic_store_explicit(&p->cycles, s->cycles, memory_order_relaxed);
	/* the heap's own worst: without the callbacks' sem_post */
	atomic_store_explicit(&p->worst_alloc, s->alloc.max, memory_order_relaxed);
	atomic_store_explicit(&p->worst_free, s->free.max, memory_order_relaxed);
	atomic_store_explicit(&p->worst_wake, s->wake.max, memory_order_relaxed);
	atomic_store_explicit(&p->failed, s->failed_allocs, memory_order_relaxed);
	atomic_store_explicit(&p->live, d->ring_count, memory_order_relaxed);
	if (!heap_too)
		return;
	struct rtheap_stats st;
	if (rtheap_get_stats(&d->heap, &st) != 0)
		return;
	publish_heap(d, &st);
	if (st.largest_free < d->reserve_run && !atomic_load(&d->table_full) &&
	    !atomic_load(&d->request_pending)) {
		atomic_fetch_add(&d->reserve_requests, 1);
		request_extent(d);
	}
}

int rt_prepare(struct demo *d)
{
	hist_init(&d->rt.wake, bins_wake, WAKE_BINS, WAKE_BIN_NS);
	hist_init(&d->rt.alloc, bins_alloc, HEAP_BINS, HEAP_BIN_NS);
	hist_init(&d->rt.alloc_notify, bins_alloc_notify, HEAP_BINS, HEAP_BIN_NS);
	hist_init(&d->rt.free, bins_free, HEAP_BINS, HEAP_BIN_NS);
	hist_init(&d->rt.ctl_alloc, bins_ctl_alloc, HEAP_BINS, HEAP_BIN_NS);
	hist_init(&d->rt.ctl_free, bins_ctl_free, HEAP_BINS, HEAP_BIN_NS);
	d->ring_cap = d->opt.max_live;
	return 0;
}

void prefault_stack(void)
{
	volatile unsigned char buf[64 * 1024];
	for (size_t i = 0; i < sizeof buf; i += 256)
		buf[i] = 0;
}

void ts_add_ns(struct timespec *ts, uint64_t ns)
{
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

void *rt_main(void *arg)
{
	struct demo *d = arg;
	const uint64_t period = (uint64_t)d->opt.period_us * 1000u;
	struct timespec next;

	prefault_stack();
	demo_thread_init(d);
	publish(d, true);
	clock_gettime(CLOCK_MONOTONIC, &next);
	ts_add_ns(&next, period);

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		int rc;
		do {
			rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
			                     NULL);
		} while (rc == EINTR);
		uint64_t now = mono_ns();
		uint64_t due = ts_ns(&next);
		hist_add(&d->rt.wake, now > due ? now - due : 0, d->rt.cycles);

		if (d->ext_mode == EXT_HANDOFF)
			take_handoff(d);
		run_cycle(d);
		ctl_cycle(d);
		d->rt.cycles++;
		publish(d, (d->rt.cycles & 15u) == 0);

		if (d->opt.cycles && d->rt.cycles >= d->opt.cycles)
			break;

		/* next period; skip the ones already missed */
		ts_add_ns(&next, period);
		now = mono_ns();
		while (ts_ns(&next) <= now) {
			d->rt.overruns++;
			ts_add_ns(&next, period);
		}
	}
	publish(d, true);
	atomic_store(&d->rt_done, true);
	return NULL;
}

/* After the run (RT thread joined): release every live message. */
unsigned rt_free_all(struct demo *d)
{
	unsigned n = d->ring_count;
	d->teardown = true; /* not timed: main thread, after the run */
	while (d->ring_count > 0)
		free_oldest(d);
	return n;
}
