/* SPDX-License-Identifier: MIT */
/*
 * A skin-style program, written the way a Xenomai 2 skin uses the nucleus
 * heap: a message queue object whose control block comes from the system
 * heap (xnmalloc), with a private, labelled message pool sized with
 * xnheap_rounded_size() and XNHEAP_PAGE_SIZE; messages that are still
 * referenced when released go through the deferred release
 * (xnheap_schedule_free + xnheap_finalize_free), and the queue object
 * itself is released the way skins release a deleted task (&kheap,
 * xnfreesync).  Strict C11; called from test_xnheap.cc, which checks the
 * return value: 0, or the number of the first step that misbehaved.
 */
#define _DEFAULT_SOURCE 1
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rtheap/xnheap.h"

int xnheap_skin_program(int nqueues, int nmsgs);

#define MSG_PAYLOAD 40

struct skin_msg {
	xnholder_t link;        /* for the deferred release */
	int seq;
	char payload[MSG_PAYLOAD];
};

struct skin_queue {
	xnholder_t link;        /* for the deferred release of the object */
	xnheap_t bufpool;       /* message pool */
	void *poolmem;          /* from the system heap */
	u_long poolsize;
	char name[XNOBJECT_NAME_LEN];
	struct skin_msg *pending[64];
	int npending;
};

static int pool_flushes;

static void release_pool(xnheap_t *heap, void *extaddr, u_long extsize, void *cookie)
{
	struct skin_queue *q = cookie;
	(void)heap;
	(void)extsize;
	if (extaddr == q->poolmem && xnfree(extaddr) == 0)
		pool_flushes++;
}

/* rt_queue_create: a pool able to hold @p nmsgs messages at once. */
static struct skin_queue *queue_create(const char *name, int nmsgs, int *step)
{
	struct skin_queue *q = xnmalloc(sizeof(*q));
	u_long want = (u_long)nmsgs * 64; /* a message takes a 64-byte block */

	if (!q) {
		*step = 100;
		return NULL;
	}
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->poolsize = xnheap_rounded_size(want, XNHEAP_PAGE_SIZE);
	if (q->poolsize == 0 || XNHEAP_PAGE_ALIGN(q->poolsize) != q->poolsize) {
		*step = 101;
		goto fail;
	}
	q->poolmem = xnmalloc(q->poolsize);
	if (!q->poolmem) {
		*step = 102;
		goto fail;
	}
	if (xnheap_init(&q->bufpool, q->poolmem, q->poolsize, XNHEAP_PAGE_SIZE) != 0) {
		*step = 103;
		xnfree(q->poolmem);
		goto fail;
	}
	xnheap_set_label(&q->bufpool, "rt_queue: %s", name);
	if (xnheap_usable_mem(&q->bufpool) < want ||
	    xnheap_page_size(&q->bufpool) != XNHEAP_PAGE_SIZE) {
		*step = 104;
		goto fail;
	}
	return q;
fail:
	xnfree(q);
	return NULL;
}

/* rt_queue_send: allocate a message and keep it pending. */
static int queue_send(struct skin_queue *q, int seq)
{
	struct skin_msg *m = xnheap_alloc(&q->bufpool, sizeof(*m));
	if (!m || q->npending == (int)(sizeof(q->pending) / sizeof(q->pending[0])))
		return -ENOMEM;
	m->seq = seq;
	memset(m->payload, seq & 0xff, sizeof(m->payload));
	q->pending[q->npending++] = m;
	return 0;
}

/* rt_queue_receive + rt_queue_free: the receiver still reads the message
 * after handing it back, so the release is deferred. */
static int queue_receive(struct skin_queue *q, int *seq)
{
	struct skin_msg *m;
	if (q->npending == 0)
		return -EWOULDBLOCK;
	m = q->pending[--q->npending];
	xnheap_schedule_free(&q->bufpool, m, &m->link);
	*seq = m->seq; /* still readable: nothing is released yet */
	if (xnheap_check_block(&q->bufpool, m) != 0)
		return -EIDRM;
	return 0;
}

/* rt_queue_delete: tear the pool down, defer the object's release. */
static int queue_delete(struct skin_queue *q)
{
	int err;
	xnheap_finalize_free(&q->bufpool);
	pool_flushes = 0;
	err = xnheap_destroy(&q->bufpool, release_pool, q);
	if (err)
		return err;
	if (pool_flushes != 1)
		return -EIO;
	xnheap_schedule_free(&kheap, q, &q->link);
	return 0;
}

int xnheap_skin_program(int nqueues, int nmsgs)
{
	struct skin_queue *qs[8];
	const u_long sys_used = xnheap_used_mem(&kheap);
	int step = 0, i, n, seq;

	if (nqueues > 8 || nmsgs > 64)
		return 1;
	if (xnheap_page_size(&kheap) != XNHEAP_PAGE_SIZE)
		return 2;
	if (xnfree(NULL) != -EFAULT)
		return 3;

	for (i = 0; i < nqueues; i++) {
		char name[XNOBJECT_NAME_LEN];
		char label[RTHEAP_XN_LABEL_LEN];
		snprintf(name, sizeof(name), "q%d", i);
		qs[i] = queue_create(name, nmsgs, &step);
		if (!qs[i])
			return step;
		snprintf(label, sizeof(label), "rt_queue: %s", name);
		if (strcmp(qs[i]->bufpool.label, label) != 0)
			return 4;
	}
	if (xnheap_used_mem(&kheap) <= sys_used)
		return 5;

	for (i = 0; i < nqueues; i++) {
		struct skin_queue *q = qs[i];
		for (n = 0; n < nmsgs; n++)
			if (queue_send(q, n) != 0)
				return 10;
		if (xnheap_used_mem(&q->bufpool) != (u_long)nmsgs * 64)
			return 11;
		for (n = nmsgs - 1; n >= 0; n--) {
			if (queue_receive(q, &seq) != 0 || seq != n)
				return 12;
		}
		/* Every message is queued for release, none released yet. */
		if (xnheap_used_mem(&q->bufpool) != (u_long)nmsgs * 64)
			return 13;
		xnheap_finalize_free(&q->bufpool);
		if (xnheap_used_mem(&q->bufpool) != 0)
			return 14;
		if (rtheap_check(&q->bufpool.rt, NULL) != 0)
			return 15;
		/* Refill: the released blocks serve again. */
		for (n = 0; n < nmsgs; n++)
			if (queue_send(q, 1000 + n) != 0)
				return 16;
		for (n = 0; n < nmsgs; n += 2)
			if (queue_receive(q, &seq) != 0)
				return 17;
	}

	/* Delete: pending messages go with the pool, the objects are
	 * released through kheap's deferred queue, all at once. */
	for (i = 0; i < nqueues; i++) {
		if (queue_delete(qs[i]) != 0)
			return 20;
		if (xnheap_check_block(&kheap, qs[i]) != 0)
			return 21; /* deferred: still allocated */
	}
	xnfreesync();
	for (i = 0; i < nqueues; i++)
		if (xnheap_check_block(&kheap, qs[i]) != -EINVAL)
			return 22;
	if (xnheap_used_mem(&kheap) != sys_used)
		return 23;
	if (rtheap_check(&kheap.rt, NULL) != 0)
		return 24;
	return 0;
}
