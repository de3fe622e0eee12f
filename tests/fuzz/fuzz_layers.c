/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the class heap (rtheap/classheap.h) and the per-CPU
 * areas (rtheap/percpu.h), each against a shadow model of its documented
 * behaviour (docs/classheap.md, docs/percpu.md; tests/fuzz/README.md lists
 * the operations).
 *
 * Class heap: open and close (reference counted; the last close drops
 * every block), alloc, free, resize and realloc with the class rounding
 * and the in-place rule (a block whose usable size holds the request
 * stays), the fall-back to malloc (RTCLASS_F_SYSTEM) and the routing of
 * each release, and bad releases with their exact answers: a foreign
 * address -EFAULT, an interior address of a heap block -EINVAL, of a
 * fall-back block -EFAULT, a heap block released twice -EINVAL, a
 * fall-back block released twice -EFAULT; each counted once in the
 * errors.  Per-CPU areas: alloc (bad sizes and alignments refused with
 * EINVAL), every instance zeroed, aligned and apart, ptr out of range
 * NULL, free, and bad handles (an instance: -EINVAL; foreign: -EFAULT; a
 * released area: -EINVAL).  After every operation the statistics agree
 * with the model and rtheap_check() passes on both heaps.  A mismatch
 * aborts (a crash for libFuzzer).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (tests/CMakeLists.txt).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtheap/classheap.h"
#include "rtheap/percpu.h"
#include "rtheap/rtheap.h"

#define NB 48     /* live class blocks in the model */
#define NA 12     /* live per-CPU areas */
#define BUF (64u * 1024u)

#define EXPECT(c)                                                               \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "fuzz_layers: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                \
		}                                                               \
	} while (0)

struct blk {
	unsigned char *p;
	size_t usable;   /* class size, or the fall-back size */
	int sys;         /* a fall-back block */
	unsigned char tag;
};

static _Alignas(4096) unsigned char cbuf[BUF];
static _Alignas(4096) unsigned char pbuf[BUF];
static unsigned char foreign[64];

static struct {
	rtclass_t c;
	int refs;
	unsigned flags;
	struct blk b[NB];
	size_t nb;
	size_t allocs[RTCLASS_NR], sys_calls, failed, errors;
	unsigned char *gone[8]; /* released heap block addresses */
	unsigned char *gone_sys; /* a released fall-back block */
} M;

static struct {
	rtheap_t h;
	rtpercpu_t *a[NA];
	size_t size[NA];
	size_t na;
	rtpercpu_t *gone;
	size_t errors;
} P;

struct in {
	const uint8_t *d;
	size_t n;
};

static unsigned take(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->d++;
}

static size_t take16(struct in *in)
{
	return take(in) | (size_t)take(in) << 8;
}

static int in_buf(const void *p)
{
	return (const unsigned char *)p >= cbuf && (const unsigned char *)p < cbuf + BUF;
}

/* -- the class heap -- */

static void class_verify(void)
{
	struct rtclass_stats st;
	size_t hl = 0, hb = 0, sl = 0, sb = 0;
	EXPECT(rtclass_get_stats(&M.c, &st) == (M.refs ? 0 : -EINVAL));
	if (!M.refs)
		return;
	for (size_t i = 0; i < M.nb; i++) {
		if (M.b[i].sys) {
			sl++;
			sb += M.b[i].usable;
		} else {
			hl++;
			hb += M.b[i].usable;
		}
		EXPECT(rtclass_usable_size(&M.c, M.b[i].p) == M.b[i].usable);
		EXPECT(M.b[i].p[0] == M.b[i].tag && M.b[i].p[M.b[i].usable - 1] == M.b[i].tag);
	}
	EXPECT(st.refs == (unsigned)M.refs && st.heap_live == hl && st.heap_bytes == hb);
	EXPECT(st.sys_live == sl && st.sys_bytes == sb && st.sys_calls == M.sys_calls);
	EXPECT(st.failed == M.failed && st.errors == M.errors);
	for (int q = 0; q < RTCLASS_NR; q++)
		EXPECT(st.class_allocs[q] == M.allocs[q]);
	EXPECT(rtheap_check(rtclass_heap(&M.c), NULL) == 0);
}

/* Record a block the layer returned for a request of n bytes. */
static void class_got(unsigned char *p, size_t n, unsigned char tag)
{
	int q = rtclass_class_of(n);
	struct blk *b = &M.b[M.nb++];
	EXPECT(in_buf(p) || (M.flags & RTCLASS_F_SYSTEM));
	b->p = p;
	b->sys = !in_buf(p);
	b->usable = q >= 0 ? (size_t)RTCLASS_MIN << q : n;
	b->tag = tag;
	if (b->sys)
		M.sys_calls++;
	else
		M.allocs[q]++;
	EXPECT(q >= 0 || b->sys);
	memset(p, tag, b->usable);
}

static void class_forget(size_t i)
{
	if (!M.b[i].sys) {
		memmove(&M.gone[1], &M.gone[0], sizeof(M.gone) - sizeof(M.gone[0]));
		M.gone[0] = M.b[i].p;
	} else {
		M.gone_sys = M.b[i].p;
	}
	M.b[i] = M.b[--M.nb];
}

static size_t req_size(struct in *in)
{
	unsigned k = take(in);
	if (k < 200)
		return take16(in) >> (k % 12); /* 0 .. 64 KiB, small ones often */
	return RTCLASS_MAX + 1 + take16(in);  /* above the classes */
}

static void class_alloc(struct in *in)
{
	size_t n = req_size(in);
	unsigned char *p = rtclass_alloc(&M.c, n);
	if (!M.refs) {
		EXPECT(!p);
		return;
	}
	if (!p) {
		M.failed++;
		return;
	}
	if (M.nb == NB) { /* no room in the model: give it back */
		EXPECT(rtclass_free(&M.c, p) == 0);
		if (in_buf(p))
			M.allocs[rtclass_class_of(n)]++;
		else
			M.sys_calls++;
		return;
	}
	class_got(p, n, (unsigned char)(1 + take(in) % 250));
}

static long class_find(const void *p)
{
	for (size_t i = 0; i < M.nb; i++)
		if (M.b[i].p == p)
			return (long)i;
	return -1;
}

static void class_free(struct in *in)
{
	if (!M.nb)
		return;
	size_t i = take(in) % M.nb;
	EXPECT(rtclass_free(&M.c, M.b[i].p) == 0);
	class_forget(i);
}

static void class_resize(struct in *in, int use_realloc)
{
	if (!M.nb)
		return;
	size_t i = take(in) % M.nb, n = req_size(in);
	struct blk old = M.b[i];
	void *q = old.p;
	int rc;
	if (use_realloc) {
		q = rtclass_realloc(&M.c, old.p, n);
		rc = q ? 0 : -ENOMEM;
		if (!q)
			q = old.p;
	} else {
		rc = rtclass_resize(&M.c, &q, n);
	}
	if (n <= old.usable) {
		EXPECT(rc == 0 && q == old.p); /* in place, shrinking too */
		return;
	}
	if (rc) {
		EXPECT(rc == -ENOMEM && q == old.p);
		M.failed++;
		return;
	}
	unsigned char *p = q;
	for (size_t k = 0; k < old.usable; k++)
		EXPECT(p[k] == old.tag);
	class_forget(i);
	class_got(p, n, old.tag);
}

/* Bad releases and their exact answers. */
static void class_bad(struct in *in)
{
	unsigned k = take(in) % 5;
	void *p = NULL;
	int want = -EINVAL;
	if (!M.refs)
		return;
	if (k == 0) {
		p = foreign + take(in) % 64;
		want = -EFAULT;
	} else if (k == 1 && M.nb) {
		struct blk *b = &M.b[take(in) % M.nb];
		p = b->p + 1 + take(in) % (b->usable - 1 ? b->usable - 1 : 1);
		if (b->usable == 1)
			return;
		want = b->sys ? -EFAULT : -EINVAL;
		/* a fall-back interior address may be another block's start */
		if (b->sys && (class_find(p) >= 0))
			return;
		if (!b->sys && !(M.flags & RTCLASS_F_SYSTEM))
			want = -EINVAL;
	} else if (k == 2 && M.gone[k = take(in) % 8, k]) {
		p = M.gone[k];
		k = 2;
		want = -EINVAL;
	} else if (k == 3 && M.gone_sys) {
		p = M.gone_sys;
		want = -EFAULT;
	} else {
		return;
	}
	if (class_find(p) >= 0)
		return; /* a live block again: not a bad release */
	EXPECT(rtclass_free(&M.c, p) == want);
	M.errors++;
	void *q = p;
	EXPECT(rtclass_resize(&M.c, &q, 1u << 20) == want && q == p);
	M.errors++;
}

static void class_open(struct in *in)
{
	unsigned f = take(in) & (RTCLASS_F_SYSTEM | RTCLASS_F_NOLOCK);
	EXPECT(rtclass_open(&M.c, cbuf, BUF, f) == 0);
	if (M.refs++ == 0) {
		M.flags = f;
		M.nb = 0;
		memset(M.allocs, 0, sizeof(M.allocs));
		M.sys_calls = M.failed = M.errors = 0;
		memset(M.gone, 0, sizeof(M.gone));
		M.gone_sys = NULL;
	}
}

static void class_close(void)
{
	if (!M.refs)
		return;
	EXPECT(rtclass_close(&M.c) == M.refs - 1);
	if (--M.refs == 0)
		M.nb = 0;
}

/* -- per-CPU areas -- */

static void percpu_verify(void)
{
	struct rtheap_stats hs;
	EXPECT(rtheap_get_stats(&P.h, &hs) == 0);
	EXPECT(hs.live_blocks == P.na && hs.errors == P.errors);
	EXPECT(rtheap_check(&P.h, NULL) == 0);
}

static void percpu_alloc(struct in *in)
{
	static const size_t aligns[] = {0, 64, 128, 4096, 3, 8192, 32, 256};
	size_t size = take16(in) % 5000, align = aligns[take(in) % 8];
	int bad = !size || (align & (align - 1)) || align > RTPERCPU_MAX_ALIGN;
	errno = 0;
	rtpercpu_t *pc = rtpercpu_alloc(&P.h, size, align);
	if (bad) {
		EXPECT(!pc && errno == EINVAL);
		return;
	}
	if (!pc) {
		EXPECT(errno == ENOMEM);
		return;
	}
	size_t line = align > RTPERCPU_LINE ? align : RTPERCPU_LINE;
	unsigned n = rtpercpu_nr_cpus();
	for (unsigned c = 0; c < n; c++) {
		unsigned char *x = rtpercpu_ptr(pc, c);
		EXPECT(x && (uintptr_t)x % line == 0);
		EXPECT(x[0] == 0 && x[size - 1] == 0);
		if (c)
			EXPECT(x >= (unsigned char *)rtpercpu_ptr(pc, c - 1) + size);
		memset(x, 0x5a, size);
	}
	EXPECT(rtpercpu_ptr(pc, n) == NULL);
	if (P.na == NA) {
		EXPECT(rtpercpu_free(&P.h, pc) == 0);
		P.gone = pc;
		return;
	}
	P.size[P.na] = size;
	P.a[P.na++] = pc;
}

static void percpu_free(struct in *in)
{
	if (!P.na)
		return;
	size_t i = take(in) % P.na;
	EXPECT(rtpercpu_free(&P.h, P.a[i]) == 0);
	P.gone = P.a[i];
	P.a[i] = P.a[--P.na];
	P.size[i] = P.size[P.na];
}

static void percpu_bad(struct in *in)
{
	unsigned k = take(in) % 3;
	void *p;
	int want = -EINVAL;
	if (k == 0 && P.na) {
		p = rtpercpu_ptr(P.a[take(in) % P.na], 0); /* an instance */
	} else if (k == 1) {
		p = foreign;
		want = -EFAULT;
	} else if (k == 2 && P.gone) {
		p = P.gone;
		for (size_t i = 0; i < P.na; i++)
			if ((void *)P.a[i] == p)
				return; /* the block was reused by a live area */
	} else {
		return;
	}
	EXPECT(rtpercpu_free(&P.h, (rtpercpu_t *)p) == want);
	P.errors++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	memset(&M, 0, sizeof(M));
	memset(&P, 0, sizeof(P));
	EXPECT(rtheap_init(&P.h, pbuf, BUF, NULL) == 0);
	while (in.n) {
		switch (take(&in) % 11) {
		case 0: class_open(&in); break;
		case 1: class_close(); break;
		case 2: case 3: class_alloc(&in); break;
		case 4: class_free(&in); break;
		case 5: class_resize(&in, take(&in) & 1); break;
		case 6: class_bad(&in); break;
		case 7: percpu_alloc(&in); break;
		case 8: percpu_free(&in); break;
		default: percpu_bad(&in); break;
		}
		class_verify();
		percpu_verify();
	}
	while (M.refs)
		class_close();
	(void)rtheap_destroy(&P.h, NULL, NULL);
	return 0;
}
