/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- the low-memory callback and the non-real-time helper thread.
 *
 * The heap calls on_lowmem() from the allocating (real-time) thread when an
 * allocation takes free memory below the threshold, and on every failed
 * allocation.  The callback only counts and posts a semaphore: no memory
 * is obtained in the real-time thread.
 *
 * The helper thread, at normal priority, sleeps on that semaphore.  When
 * woken it maps fresh anonymous memory (zero-filled by the kernel, hence
 * RTHEAP_F_ZEROED: rtheap_extend does not even clear the page map), locks
 * it, and adds it to the heap -- directly when the heap has a lock, or by
 * handing the buffer to the real-time thread when the heap was built with
 * RTHEAP_LOCK_NONE (then only that thread may call the heap).
 */
#include "rtdemo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

void on_lowmem(rtheap_t *heap, size_t free_bytes, size_t request, void *arg)
{
	struct demo *d = arg;
	(void)heap;
	note_callback_in_this_thread();
	atomic_fetch_add_explicit(&d->lowmem_events, 1, memory_order_relaxed);
	if (request != 0) {
		atomic_fetch_add_explicit(&d->lowmem_fail_events, 1,
		                          memory_order_relaxed);
		if (request > atomic_load(&d->fail_request))
			atomic_store(&d->fail_request, request);
		if (atomic_load(&d->first_fail_request) == 0) {
			atomic_store(&d->first_fail_free, free_bytes);
			atomic_store(&d->first_fail_request, request);
		}
	}
	request_extent(d);
}

/* Wake the helper (from the RT thread: sem_post never blocks). */
void request_extent(struct demo *d)
{
	if (!atomic_exchange(&d->request_pending, true))
		atomic_store(&d->notify_ns, mono_ns());
	sem_post(&d->helper_sem);
}

static size_t round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

/* Bytes of buffer to map so that a block of @p request bytes fits. */
static size_t extent_size_for(const struct demo *d, size_t request)
{
	size_t bytes = d->extent_bytes;
	size_t page = rtheap_page_size(&d->heap);
	if (request != 0 && page != 0) {
		size_t need = RTHEAP_BUFFER_SIZE(request, page) + page;
		if (need > bytes)
			bytes = need;
	}
	return round_up(bytes, d->os_page);
}

/* mmap + mlock one buffer; touch it if it could not be locked so that the
 * real-time thread does not take the first-touch page faults. */
static int map_extent(struct demo *d, size_t bytes, struct extent_rec *rec)
{
	uint64_t t0 = mono_ns();
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) {
		atomic_fetch_add(&d->map_failures, 1);
		return -errno;
	}
	rec->buf = p;
	rec->size = bytes;
	rec->in_heap = false;
	rec->locked = mlock(p, bytes) == 0;
	if (!rec->locked) {
		atomic_fetch_add(&d->lock_failures, 1);
		for (size_t off = 0; off < bytes; off += d->os_page)
			((volatile unsigned char *)p)[off] = 0; /* stays zero */
	}
	uint64_t dt = mono_ns() - t0;
	if (dt > atomic_load(&d->map_max_ns))
		atomic_store(&d->map_max_ns, dt);
	return 0;
}

static void unmap_extent(struct extent_rec *rec)
{
	if (rec->buf != NULL)
		munmap(rec->buf, rec->size);
	rec->buf = NULL;
	rec->size = 0;
}

/* Map a buffer and call rtheap_extend from this thread. */
static int extend_direct(struct demo *d, size_t bytes)
{
	if (d->ext_count >= RTHEAP_MAX_EXTENTS) {
		atomic_store(&d->table_full, true);
		return -ENOSPC;
	}
	struct extent_rec *rec = &d->ext[d->ext_count];
	int rc = map_extent(d, bytes, rec);
	if (rc != 0)
		return rc;
	rc = rtheap_extend(&d->heap, rec->buf, rec->size, RTHEAP_F_ZEROED);
	if (rc != 0) {
		atomic_fetch_add(&d->extend_errors, 1);
		atomic_store(&d->last_extend_error, rc);
		if (rc == -ENOSPC)
			atomic_store(&d->table_full, true);
		unmap_extent(rec);
		return rc;
	}
	rec->in_heap = true;
	rec->cycle = atomic_load_explicit(&d->pub.cycles, memory_order_relaxed);
	d->ext_count++;
	atomic_fetch_add(&d->ext_added, 1);
	return 0;
}

/* Before the run (single thread): used when the first buffer is already
 * below the threshold, which would otherwise leave the callback unarmed. */
int add_extent_now(struct demo *d, size_t bytes)
{
	int rc = extend_direct(d, round_up(bytes, d->os_page));
	if (rc == 0)
		atomic_fetch_add(&d->ext_at_start, 1);
	return rc;
}

/* Extend until free memory is back at the threshold (so that the callback
 * is armed again) and the largest failed request fits. */
static void serve_direct(struct demo *d, uint64_t t_notify)
{
	for (int round = 0; round < 8 && !atomic_load(&d->table_full); round++) {
		struct rtheap_stats st;
		if (rtheap_get_stats(&d->heap, &st) != 0)
			return;
		size_t req = atomic_load(&d->fail_request);
		if (req != 0 && st.largest_free >= req) {
			atomic_store(&d->fail_request, 0);
			req = 0;
		}
		if (st.free >= d->threshold && st.largest_free >= d->reserve_run &&
		    req == 0)
			break;
		if (extend_direct(d, extent_size_for(d, req)) != 0)
			return;
		uint64_t dt = mono_ns() - t_notify;
		if (dt > atomic_load(&d->reaction_max_ns))
			atomic_store(&d->reaction_max_ns, dt);
	}
}

/* Lock "none": map one buffer and publish it for the real-time thread,
 * which asks again (posts the semaphore) if it is still short. */
static void serve_handoff(struct demo *d)
{
	unsigned ready = atomic_load(&d->ext_ready);
	if (ready != atomic_load_explicit(&d->ext_consumed, memory_order_acquire))
		return; /* the last buffer has not been taken yet */
	if (ready >= RTHEAP_MAX_EXTENTS) {
		atomic_store(&d->table_full, true);
		return;
	}
	size_t req = atomic_exchange(&d->fail_request, 0);
	if (map_extent(d, extent_size_for(d, req), &d->ext[ready]) != 0) {
		atomic_store(&d->request_pending, false); /* let it ask again */
		return;
	}
	d->ext_count = ready + 1;
	atomic_store_explicit(&d->ext_ready, ready + 1, memory_order_release);
}

void *helper_main(void *arg)
{
	struct demo *d = arg;
	for (;;) {
		while (sem_wait(&d->helper_sem) != 0 && errno == EINTR)
			;
		if (atomic_load(&d->stop))
			break;
		if (atomic_load(&d->table_full))
			continue;
		uint64_t t_notify = atomic_load(&d->notify_ns);
		if (d->ext_mode == EXT_DIRECT) {
			atomic_store(&d->request_pending, false);
			serve_direct(d, t_notify);
		} else {
			serve_handoff(d); /* the RT thread clears the request */
		}
	}
	return NULL;
}

/* After the run: unmap every buffer (the heap has been destroyed). */
void release_memory(struct demo *d)
{
	for (unsigned i = 0; i < RTHEAP_MAX_EXTENTS; i++)
		unmap_extent(&d->ext[i]);
	if (d->buf0 != NULL && !d->buf0_static)
		munmap(d->buf0, d->buf0_size);
	d->buf0 = NULL;
}
