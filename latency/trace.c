/* SPDX-License-Identifier: MIT */
/*
 * trace.c -- deterministic operation traces of the latency harness.
 *
 * A trace is generated once per case from a seed and replayed unchanged on
 * every allocator and every replay, so that all of them see the same
 * requests in the same order.
 */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include "rig.h"

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rig_rng_seed(struct rig_rng *r, uint64_t seed)
{
	r->s[0] = splitmix(&seed);
	r->s[1] = splitmix(&seed);
}

uint64_t rig_rng_next(struct rig_rng *r)
{
	/* xorshift128+ */
	uint64_t s1 = r->s[0];
	const uint64_t s0 = r->s[1];
	r->s[0] = s0;
	s1 ^= s1 << 23;
	r->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return r->s[1] + s0;
}

uint64_t rig_rng_range(struct rig_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + rig_rng_next(r) % (hi - lo + 1);
}

uint64_t rig_rng_log(struct rig_rng *r, uint64_t lo, uint64_t hi)
{
	double u = (double)(rig_rng_next(r) >> 11) / 9007199254740992.0;
	double v = exp(log((double)lo) + u * (log((double)hi + 1.0) - log((double)lo)));
	uint64_t x = (uint64_t)v;
	return x < lo ? lo : x > hi ? hi : x;
}

static const char *const wl_names[WL_ALL] = { "small", "mixed", "frag", "holes48-1000",
                                              "holes512-1536" };

const char *rig_workload_name(enum rig_workload wl)
{
	return (unsigned)wl < WL_ALL ? wl_names[wl] : "?";
}

int rig_workload_parse(const char *s)
{
	for (int i = 0; i < WL_ALL; i++)
		if (strcmp(s, wl_names[i]) == 0)
			return i;
	return -1;
}

static void *map_array(size_t bytes)
{
	void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Generator state: live slots kept in an array for O(1) random choice. */
struct gen {
	struct rig_trace *t;
	size_t cap;
	uint32_t *live;      /* live slot ids */
	uint32_t *pos;       /* slot -> index in live */
	uint32_t *slot_size; /* requested size of each live slot */
	uint32_t *freeslots; /* stack of unused slot ids */
	size_t nlive, nfreeslots, live_bytes;
	struct rig_rng rng;
};

static int gen_push(struct gen *g, uint32_t slot, uint32_t size)
{
	struct rig_trace *t = g->t;
	if (t->nops == g->cap)
		return -1;
	t->slot[t->nops] = slot;
	t->size[t->nops] = size;
	t->nops++;
	return 0;
}

static int gen_alloc(struct gen *g, uint32_t size)
{
	uint32_t s;
	if (g->nfreeslots)
		s = g->freeslots[--g->nfreeslots];
	else
		s = (uint32_t)g->t->nslots++;
	g->pos[s] = (uint32_t)g->nlive;
	g->live[g->nlive++] = s;
	g->slot_size[s] = size;
	g->live_bytes += size;
	if (g->live_bytes > g->t->peak_live)
		g->t->peak_live = g->live_bytes;
	g->t->nalloc++;
	return gen_push(g, s, size);
}

static int gen_free_at(struct gen *g, size_t idx)
{
	uint32_t s = g->live[idx];
	uint32_t last = g->live[--g->nlive];
	g->live[idx] = last;
	g->pos[last] = (uint32_t)idx;
	g->live_bytes -= g->slot_size[s];
	g->freeslots[g->nfreeslots++] = s;
	g->t->nfree++;
	return gen_push(g, s, 0);
}

static int gen_free_slot(struct gen *g, uint32_t s)
{
	return gen_free_at(g, g->pos[s]);
}

static int gen_free_random(struct gen *g)
{
	return gen_free_at(g, (size_t)rig_rng_range(&g->rng, 0, g->nlive - 1));
}

static uint32_t draw(struct gen *g, enum rig_workload wl)
{
	if (wl == WL_SMALL)
		return (uint32_t)rig_rng_range(&g->rng, 16, 4096);
	return (uint32_t)rig_rng_log(&g->rng, 16, 256 * 1024);
}

/* Fill to half of the heap, churn around that level, drain in random order. */
static int gen_steady(struct gen *g, enum rig_workload wl, size_t heap, size_t churn)
{
	size_t target = heap / 2;
	uint32_t next = draw(g, wl);
	while (g->live_bytes + next <= target) {
		if (gen_alloc(g, next))
			return -1;
		next = draw(g, wl);
	}
	for (size_t i = 0; i < churn; i++) {
		int do_alloc = (int)(rig_rng_next(&g->rng) & 1);
		if (g->live_bytes + next > target + target / 16)
			do_alloc = 0;
		else if (g->live_bytes < target - target / 16 || g->nlive == 0)
			do_alloc = 1;
		if (do_alloc) {
			if (gen_alloc(g, next))
				return -1;
			next = draw(g, wl);
		} else if (gen_free_random(g)) {
			return -1;
		}
	}
	while (g->nlive)
		if (gen_free_random(g))
			return -1;
	return 0;
}

/*
 * Holes: alternate a small block (size in small_lo .. small_hi) and a large
 * one until the fill is done (@pairs pairs, or @target requested bytes),
 * then free every @stride-th large block, leaving holes of one large block
 * between live neighbours for any allocator; then @churn operations:
 * requests of big_lo .. big_hi (sizes that do not fit a hole; at most 16
 * live, the oldest freed first), and one time in four a small request (at
 * most 64 live); finally drain in random order.
 */
struct holes_spec {
	uint32_t small_lo, small_hi, large, stride, big_lo, big_hi;
	size_t target, pairs;
	uint64_t reseed;   /* pairs given: the churn's own seed (the same
	                    * churn whatever the number of pairs) */
};

static int holes_churn(struct gen *g, const struct holes_spec *h, size_t churn)
{
	uint32_t fifo[16], head = 0, n = 0;
	uint32_t small[64], shead = 0, ns = 0;
	for (size_t i = 0; i < churn; i++) {
		if (rig_rng_next(&g->rng) % 4 == 0) {
			/* a small request that fits anywhere; at most 64 live */
			if (ns == 64) {
				if (gen_free_slot(g, small[shead]))
					return -1;
				shead = (shead + 1) % 64;
				ns--;
			}
			if (gen_alloc(g, (uint32_t)rig_rng_range(&g->rng, h->small_lo, h->small_hi)))
				return -1;
			small[(shead + ns) % 64] = g->live[g->nlive - 1];
			ns++;
			continue;
		}
		if (n == 16) {
			if (gen_free_slot(g, fifo[head]))
				return -1;
			head = (head + 1) % 16;
			n--;
		}
		if (gen_alloc(g, (uint32_t)rig_rng_range(&g->rng, h->big_lo, h->big_hi)))
			return -1;
		fifo[(head + n) % 16] = g->live[g->nlive - 1];
		n++;
	}
	return 0;
}

static int gen_holes(struct gen *g, const struct holes_spec *h, size_t churn)
{
	uint32_t *larges, nlarge = 0;
	size_t maxl = h->pairs ? h->pairs : h->target / h->large + 1;
	larges = map_array(maxl * sizeof(*larges));
	if (!larges)
		return -1;
	while (nlarge < maxl &&
	       (h->pairs || g->live_bytes + h->large + h->small_hi <= h->target)) {
		if (gen_alloc(g, h->large))
			return -1;
		larges[nlarge++] = g->live[g->nlive - 1];
		if (gen_alloc(g, (uint32_t)rig_rng_range(&g->rng, h->small_lo, h->small_hi)))
			return -1;
	}
	for (uint32_t i = 0; i < nlarge; i += h->stride)
		if (gen_free_slot(g, larges[i]))
			return -1;
	munmap(larges, maxl * sizeof(*larges));
	if (h->pairs)
		rig_rng_seed(&g->rng, h->reseed);
	if (holes_churn(g, h, churn))
		return -1;
	while (g->nlive)
		if (gen_free_random(g))
			return -1;
	return 0;
}

/*
 * frag: 4 KiB large blocks and 16..64 B small ones up to 80 % of the heap,
 * every other large block freed, requests of 4 KiB + 1 .. 4 KiB + 512.
 * holes A/B: A and B alternately (the large block B allocated first), all
 * the B's freed, requests of B + 1 .. 2 B (they fit no hole of TLSF or
 * rtheap; o1heap rounds a block with its 32-byte header up to a power of
 * two, so for B = 1536 the requests up to 2016 B do fit its 2 KiB holes).
 */
static void holes_spec_of(enum rig_workload wl, size_t heap, size_t pairs,
                          struct holes_spec *h)
{
	uint32_t a = 0, b = 0;
	memset(h, 0, sizeof(*h));
	if (wl == WL_FRAG) {
		h->small_lo = 16;
		h->small_hi = 64;
		h->large = 4096;
		h->stride = 2;
		h->big_lo = 4096 + 1;
		h->big_hi = 4096 + 512;
		h->target = heap / 10 * 8;
		return;
	}
	rig_holes_sizes(wl, &a, &b);
	h->small_lo = h->small_hi = a;
	h->large = b;
	h->stride = 1;
	h->big_lo = b + 1;
	h->big_hi = 2 * b;
	h->target = heap;
	h->pairs = pairs;
}

int rig_holes_sizes(enum rig_workload wl, uint32_t *a, uint32_t *b)
{
	if (wl == WL_HOLES_SMALL) {
		*a = 48;
		*b = 1000;
	} else if (wl == WL_HOLES_MID) {
		*a = 512;
		*b = 1536;
	} else {
		return 0;
	}
	return 1;
}

static int trace_make(struct rig_trace *t, enum rig_workload wl, size_t heap_bytes,
                      size_t churn, uint64_t seed, size_t pairs)
{
	struct gen g;
	size_t maxblocks = heap_bytes / 16 + churn + 64;
	int rc;

	memset(t, 0, sizeof(*t));
	memset(&g, 0, sizeof(g));
	g.t = t;
	/* every block is freed once: at most 2 ops per allocation (the
	 * mappings are lazily populated, only the used part costs memory) */
	g.cap = 2 * maxblocks;
	t->cap = g.cap;
	t->slot = map_array(g.cap * sizeof(uint32_t));
	t->size = map_array(g.cap * sizeof(uint32_t));
	g.live = map_array(maxblocks * sizeof(uint32_t));
	g.pos = map_array(maxblocks * sizeof(uint32_t));
	g.slot_size = map_array(maxblocks * sizeof(uint32_t));
	g.freeslots = map_array(maxblocks * sizeof(uint32_t));
	if (!t->slot || !t->size || !g.live || !g.pos || !g.slot_size || !g.freeslots)
		return -1;
	rig_rng_seed(&g.rng, seed * 1000003u + (uint64_t)wl * 7919u + heap_bytes);
	if (wl == WL_SMALL || wl == WL_MIXED) {
		rc = gen_steady(&g, wl, heap_bytes, churn);
	} else {
		struct holes_spec h;
		holes_spec_of(wl, heap_bytes, pairs, &h);
		h.reseed = seed * 1000003u + (uint64_t)wl * 7919u + 1;
		rc = gen_holes(&g, &h, churn);
	}
	munmap(g.live, maxblocks * sizeof(uint32_t));
	munmap(g.pos, maxblocks * sizeof(uint32_t));
	munmap(g.slot_size, maxblocks * sizeof(uint32_t));
	munmap(g.freeslots, maxblocks * sizeof(uint32_t));
	return rc;
}

int rig_trace_make(struct rig_trace *t, enum rig_workload wl, size_t heap_bytes,
                   size_t churn, uint64_t seed)
{
	uint32_t a, b;
	size_t pairs = 0;
	if (rig_holes_sizes(wl, &a, &b))
		pairs = heap_bytes / (a + b);   /* the requested bytes fill the heap */
	return trace_make(t, wl, heap_bytes, churn, seed, pairs);
}

int rig_trace_make_holes(struct rig_trace *t, enum rig_workload wl, size_t heap_bytes,
                         size_t churn, uint64_t seed, size_t pairs)
{
	return trace_make(t, wl, heap_bytes, churn, seed, pairs);
}

void rig_trace_free(struct rig_trace *t)
{
	if (t->slot)
		munmap(t->slot, t->cap * sizeof(uint32_t));
	if (t->size)
		munmap(t->size, t->cap * sizeof(uint32_t));
	memset(t, 0, sizeof(*t));
}
