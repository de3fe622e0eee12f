// SPDX-License-Identifier: MIT
/*
 * realtime.c -- the program of docs/realtime.md: a 1 kHz SCHED_FIFO
 * producer that allocates messages, a consumer that checks and frees them,
 * and a helper thread that extends the heap when the low-memory callback
 * asks.  Runs for about one second and ends with "realtime example: PASS"
 * (exit 0) or "realtime example: FAIL ..." (exit 1).
 *
 * Run it as root for the real-time parts; without the privilege for
 * mlockall or SCHED_FIFO it says so and goes on (the program is correct
 * either way, only its timing is no longer real-time).
 */
#define _GNU_SOURCE
#include <rtheap/rtheap.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 256u
#define CYCLES 1000u                    /* one second at 1 kHz */
#define PERIOD_NS 1000000L
#define WINDOW 200u                     /* messages the consumer keeps */
#define RING 2048u                      /* > CYCLES: the ring never fills */
#define FIRST_USABLE (64u * 1024u)
#define GROW_USABLE (256u * 1024u)      /* what the helper adds each time */
#define RESERVE_USABLE (320u * 1024u)   /* emergency extent for the callback */
#define THRESHOLD (48u * 1024u)         /* low-memory threshold, free bytes */
#define SNAPSHOT (300u * 1024u)         /* a large message, cycle 100 */
#define MAX_GROW 16

/*
 * Static buffers in .bss: zero-filled as long as nothing writes them before
 * rtheap_init / rtheap_extend, so RTHEAP_F_ZEROED is right for them.  Any
 * 8-byte alignment would do; RTHEAP_BUFFER_SIZE pays for the worst one.
 */
static unsigned char first[RTHEAP_BUFFER_SIZE(FIRST_USABLE, PAGE)];
static unsigned char reserve[RTHEAP_BUFFER_SIZE(RESERVE_USABLE, PAGE)];

struct msg {
	uint32_t seq;
	uint32_t len;
	unsigned char data[];
};

static rtheap_t heap;
static struct msg *ring[RING];
static atomic_uint ring_head, ring_tail;  /* producer writes head, consumer tail */
static atomic_bool producer_done, stop_helper;

/* Low-memory callback -> helper, without a system call in the callback. */
static atomic_bool need_helper;           /* set by the callback */
static atomic_size_t want_request;        /* largest failed request seen */
static atomic_bool reserve_taken;
static sem_t helper_sem;                  /* posted by the producer, end of cycle */

/* Results. */
static unsigned long produced, retried_ok, deferred, overruns;
static unsigned long consumed, corrupt;
static atomic_uint reserve_extends, helper_extends;
static void *helper_bufs[MAX_GROW];
static size_t helper_sizes[MAX_GROW];

static size_t msg_len(uint32_t seq)
{
	return seq == 100 ? SNAPSHOT : 16 + (size_t)(seq * 97u) % 3000u;
}

static unsigned char pattern(uint32_t seq, size_t i)
{
	return (unsigned char)(seq * 31u + i * 7u);
}

/*
 * Called by rtheap_alloc, in the producer, outside the heap lock: once when
 * free memory drops below THRESHOLD (request 0) and on every failed
 * allocation (request = its size).  It may call the heap.  No system call:
 * it records what is needed; the producer posts the helper at the end of
 * its cycle.  Thread-safe (atomics), though only the producer allocates.
 */
static void on_lowmem(rtheap_t *h, size_t free_bytes, size_t request, void *arg)
{
	(void)free_bytes;
	(void)arg;
	if (request > 0 && request <= RESERVE_USABLE &&
	    !atomic_exchange(&reserve_taken, true)) {
		/* A failed request: add the emergency extent now, from this
		 * thread.  It is resident (locked or prefaulted) and zero-filled,
		 * so extend does no page clearing and no page fault: O(E). */
		if (rtheap_extend(h, reserve, sizeof(reserve), RTHEAP_F_ZEROED) == 0)
			atomic_fetch_add(&reserve_extends, 1);
	}
	size_t prev = atomic_load(&want_request);
	while (request > prev &&
	       !atomic_compare_exchange_weak(&want_request, &prev, request))
		;
	atomic_store(&need_helper, true);
}

static void timespec_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static void *producer(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	uint32_t seq = 0;
	for (unsigned cycle = 0; cycle < CYCLES; cycle++) {
		timespec_add_ns(&next, PERIOD_NS);
		/* --- deadline-critical work: one message --- */
		size_t len = msg_len(seq);
		struct msg *m = rtheap_alloc(&heap, sizeof(*m) + len);
		if (!m) {
			/* The callback has run and may have extended the heap:
			 * the failed call is not retried by rtheap, so retry once. */
			m = rtheap_alloc(&heap, sizeof(*m) + len);
			if (m)
				retried_ok++;
		}
		if (m) {
			m->seq = seq;
			m->len = (uint32_t)len;
			for (size_t i = 0; i < len; i++)
				m->data[i] = pattern(seq, i);
			unsigned head = atomic_load_explicit(&ring_head, memory_order_relaxed);
			ring[head % RING] = m;
			atomic_store_explicit(&ring_head, head + 1, memory_order_release);
			produced++;
			seq++;
		} else {
			deferred++; /* degrade: the same message, next cycle */
		}
		/* --- end of the critical part: now a system call is fine --- */
		if (atomic_exchange(&need_helper, false))
			sem_post(&helper_sem);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
			overruns++;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	atomic_store(&producer_done, true);
	return NULL;
}

static bool check_msg(const struct msg *m, uint32_t want_seq)
{
	if (m->seq != want_seq || m->len != msg_len(want_seq))
		return false;
	for (size_t i = 0; i < m->len; i++)
		if (m->data[i] != pattern(m->seq, i))
			return false;
	return true;
}

static void *consumer(void *arg)
{
	(void)arg;
	static struct msg *kept[WINDOW];
	unsigned nkept = 0, oldest = 0;
	uint32_t want = 0;
	for (;;) {
		bool done = atomic_load(&producer_done);
		unsigned tail = atomic_load_explicit(&ring_tail, memory_order_relaxed);
		unsigned head = atomic_load_explicit(&ring_head, memory_order_acquire);
		for (; tail != head; tail++) {
			struct msg *m = ring[tail % RING];
			if (!check_msg(m, want++))
				corrupt++;
			consumed++;
			/* Keep the last WINDOW messages: memory in use grows
			 * past the first extent, so the helper must extend. */
			if (nkept == WINDOW) {
				if (rtheap_free(&heap, kept[oldest]) != 0)
					corrupt++;
				kept[oldest] = m;
				oldest = (oldest + 1) % WINDOW;
			} else {
				kept[nkept++] = m;
			}
		}
		atomic_store_explicit(&ring_tail, tail, memory_order_release);
		if (done && tail == atomic_load(&ring_head))
			break;
		struct timespec nap = {0, 500000};
		nanosleep(&nap, NULL);
	}
	for (unsigned i = 0; i < nkept; i++)
		if (rtheap_free(&heap, kept[i]) != 0)
			corrupt++;
	return NULL;
}

/*
 * Not real-time: woken by the producer after the callback ran.  Adds an
 * extent large enough for the largest failed request, and at least
 * GROW_USABLE, from fresh anonymous memory (zero-filled; populated now, and
 * locked too if mlockall(MCL_FUTURE) succeeded), until free memory is back
 * above the threshold.
 */
static void *helper(void *arg)
{
	(void)arg;
	unsigned n = 0;
	while (!atomic_load(&stop_helper)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		timespec_add_ns(&until, 20000000L);
		if (sem_timedwait(&helper_sem, &until) != 0)
			continue;
		struct rtheap_stats st;
		size_t request = atomic_exchange(&want_request, 0);
		while (n < MAX_GROW && rtheap_get_stats(&heap, &st) == 0 &&
		       (st.free < THRESHOLD || request > 0)) {
			size_t usable = request > GROW_USABLE ? request : GROW_USABLE;
			size_t size = RTHEAP_BUFFER_SIZE(usable, PAGE);
			void *buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
			                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (buf == MAP_FAILED)
				break;
			if (rtheap_extend(&heap, buf, size, RTHEAP_F_ZEROED) != 0) {
				munmap(buf, size);
				break;
			}
			helper_bufs[n] = buf;
			helper_sizes[n] = size;
			n++;
			atomic_fetch_add(&helper_extends, 1);
			request = 0;
		}
	}
	return NULL;
}

/* Start a thread with SCHED_FIFO at @p prio, or with the default policy if
 * that is not permitted (prio 0 asks for the default). */
static int start(pthread_t *t, void *(*fn)(void *), int prio, const char *name,
                 bool *rt_ok)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	/* Small stacks: mlockall(MCL_FUTURE) locks all of each stack. */
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (prio > 0 && *rt_ok) {
		struct sched_param sp = {.sched_priority = prio};
		pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&a, SCHED_FIFO);
		pthread_attr_setschedparam(&a, &sp);
		int err = pthread_create(t, &a, fn, NULL);
		pthread_attr_destroy(&a);
		if (err == 0)
			return 0;
		printf("note: SCHED_FIFO not permitted (%s, starting the %s): running the "
		       "real-time threads with the default policy; timing is not real-time\n",
		       strerror(err), name);
		*rt_ok = false;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
	}
	int err = pthread_create(t, &a, fn, NULL);
	pthread_attr_destroy(&a);
	return err;
}

int main(void)
{
	/* 1. No page faults in the real-time path: lock everything now and
	 *    later, or at least touch the buffers once. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
		printf("note: mlockall not permitted (%s): prefaulting the buffers "
		       "instead; they may still be paged out\n", strerror(errno));
		memset(first, 0, sizeof(first));     /* still zero-filled */
		memset(reserve, 0, sizeof(reserve));
	}

	/* 2. The heap over the static buffer: O(1) with RTHEAP_F_ZEROED. */
	struct rtheap_config cfg = {0};
	cfg.page_size = PAGE;
	cfg.lock = RTHEAP_LOCK_PI_MUTEX;
	cfg.flags = RTHEAP_F_ZEROED;
	cfg.name = "realtime-example";
	int err = rtheap_init(&heap, first, sizeof(first), &cfg);
	if (err) {
		printf("realtime example: FAIL rtheap_init: %s\n", strerror(-err));
		return 1;
	}
	sem_init(&helper_sem, 0, 0);
	if (rtheap_set_lowmem(&heap, THRESHOLD, on_lowmem, NULL) != 0) {
		printf("realtime example: FAIL rtheap_set_lowmem\n");
		return 1;
	}

	/* 3. Threads: producer FIFO 80, consumer FIFO 70, helper default. */
	bool rt_ok = true;
	pthread_t tp, tc, th;
	if (start(&th, helper, 0, "helper", &rt_ok) ||
	    start(&tc, consumer, 70, "consumer", &rt_ok) ||
	    start(&tp, producer, 80, "producer", &rt_ok)) {
		printf("realtime example: FAIL pthread_create\n");
		return 1;
	}
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	atomic_store(&stop_helper, true);
	pthread_join(th, NULL);

	/* 4. Every message checked and freed: the heap is empty and sound. */
	struct rtheap_stats st;
	rtheap_get_stats(&heap, &st);
	struct rtheap_fault fault = {0};
	int check = rtheap_check(&heap, &fault);
	printf("%lu messages in %u cycles (%lu deferred to a later cycle, %lu served "
	       "by the retry), %lu late wake-ups\n",
	       produced, CYCLES, deferred, retried_ok, overruns);
	printf("extents: 1 initial + %u by the callback (reserve) + %u by the helper; "
	       "peak use %zu of %zu bytes\n",
	       atomic_load(&reserve_extends), atomic_load(&helper_extends),
	       st.peak_used, st.usable);

	const char *why = NULL;
	if (consumed != produced)
		why = "messages lost";
	else if (corrupt)
		why = "corrupt message or failed free";
	else if (check != 0)
		why = fault.what ? fault.what : "rtheap_check";
	else if (st.used != 0 || st.live_blocks != 0)
		why = "memory still in use";
	else if (st.extents < 2)
		why = "the heap was never extended";
	else if (produced == 0)
		why = "nothing produced";
	rtheap_destroy(&heap, NULL, NULL);
	for (unsigned i = 0; i < MAX_GROW; i++)
		if (helper_bufs[i])
			munmap(helper_bufs[i], helper_sizes[i]);
	sem_destroy(&helper_sem);
	if (why) {
		printf("realtime example: FAIL %s\n", why);
		return 1;
	}
	printf("realtime example: PASS\n");
	return 0;
}
