/* SPDX-License-Identifier: MIT */
/*
 * rtdemo -- histograms, the live status line, the summary and the JSON file.
 */
#include "rtdemo.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void hist_init(struct hist *h, uint32_t *bins, uint32_t nbins, uint32_t bin_ns)
{
	memset(h, 0, sizeof *h);
	memset(bins, 0, (size_t)nbins * sizeof *bins); /* also pre-faults */
	h->bins = bins;
	h->nbins = nbins;
	h->bin_ns = bin_ns;
	h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t ns, uint64_t cycle)
{
	uint64_t b = ns / h->bin_ns;
	if (b < h->nbins)
		h->bins[b]++;
	else
		h->overflow++;
	h->count++;
	h->sum += ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max) {
		h->max = ns;
		h->max_cycle = cycle;
	}
}

/* Upper edge of the bin holding the pct-th percentile (the exact maximum
 * when it falls in the overflow or in the top bin). */
uint64_t hist_percentile(const struct hist *h, double pct)
{
	if (h->count == 0)
		return 0;
	uint64_t rank = (uint64_t)((double)h->count * pct / 100.0);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < h->nbins; b++) {
		seen += h->bins[b];
		if (seen > rank) {
			uint64_t edge = (uint64_t)(b + 1) * h->bin_ns;
			return edge < h->max ? edge : h->max;
		}
	}
	return h->max;
}

void format_ns(char *out, size_t n, uint64_t ns)
{
	if (ns < 1000)
		snprintf(out, n, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(out, n, "%.1f us", (double)ns / 1e3);
	else
		snprintf(out, n, "%.2f ms", (double)ns / 1e6);
}

void format_bytes(char *out, size_t n, uint64_t bytes)
{
	if (bytes < 10 * 1024)
		snprintf(out, n, "%" PRIu64 " B", bytes);
	else if (bytes < 10 * 1024 * 1024)
		snprintf(out, n, "%.0f KiB", (double)bytes / 1024.0);
	else
		snprintf(out, n, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

/* Compact forms for the status line: "2.6M", "630K", "3.1us", "1.9ms". */
static void short_bytes(char *out, size_t n, uint64_t b)
{
	if (b < 1024)
		snprintf(out, n, "%" PRIu64 "B", b);
	else if (b < 1024 * 1024)
		snprintf(out, n, "%" PRIu64 "K", b / 1024);
	else
		snprintf(out, n, "%.1fM", (double)b / (1024.0 * 1024.0));
}

static void short_ns(char *out, size_t n, uint64_t ns)
{
	if (ns < 1000)
		snprintf(out, n, "%" PRIu64 "ns", ns);
	else if (ns < 1000000)
		snprintf(out, n, "%.1fus", (double)ns / 1e3);
	else
		snprintf(out, n, "%.1fms", (double)ns / 1e6);
}

/* One line, rewritten in place with \r; cut to the terminal width so that
 * it never wraps. */
void print_status(const struct demo *d, double elapsed_s)
{
	const struct published *p = &d->pub;
	char used[16], fr[16], wa[16], wf[16], ww[16], line[256];
	short_bytes(used, sizeof used, atomic_load_explicit(&p->used, memory_order_relaxed));
	short_bytes(fr, sizeof fr, atomic_load_explicit(&p->free, memory_order_relaxed));
	short_ns(wa, sizeof wa, atomic_load_explicit(&p->worst_alloc, memory_order_relaxed));
	short_ns(wf, sizeof wf, atomic_load_explicit(&p->worst_free, memory_order_relaxed));
	short_ns(ww, sizeof ww, atomic_load_explicit(&p->worst_wake, memory_order_relaxed));
	int len = snprintf(line, sizeof line,
	        "%5.1fs %6" PRIu64 " cycles  used %-5s free %-5s ext %-2" PRIu64
	        "  worst: alloc %-6s free %-6s wake-up %-6s  failed %" PRIu64,
	        elapsed_s, atomic_load_explicit(&p->cycles, memory_order_relaxed),
	        used, fr, atomic_load_explicit(&p->extents, memory_order_relaxed),
	        wa, wf, ww, atomic_load_explicit(&p->failed, memory_order_relaxed));
	struct winsize ws;
	size_t width = sizeof line - 1;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col - 1u;
	if (len > 0 && (size_t)len > width)
		line[width] = '\0';
	/* on a terminal \033[K clears the rest of the line */
	printf("\r%s%s", line, isatty(STDOUT_FILENO) ? "\033[K" : "  ");
	fflush(stdout);
}

static const char *lock_name(rtheap_lock_mode_t m)
{
	switch (m) {
	case RTHEAP_LOCK_PI_MUTEX: return "pi";
	case RTHEAP_LOCK_NONE: return "none";
	case RTHEAP_LOCK_SPIN: return "spin";
	case RTHEAP_LOCK_SHARED: return "shared";
	}
	return "?";
}

static void hist_line(const char *name, const struct hist *h)
{
	char mn[24], avg[24], p50[24], p99[24], p999[24], mx[24];
	if (h->count == 0) {
		printf("  %-17s %7d\n", name, 0);
		return;
	}
	format_ns(mn, sizeof mn, h->min);
	format_ns(avg, sizeof avg, h->sum / h->count);
	format_ns(p50, sizeof p50, hist_percentile(h, 50.0));
	format_ns(p99, sizeof p99, hist_percentile(h, 99.0));
	format_ns(p999, sizeof p999, hist_percentile(h, 99.9));
	format_ns(mx, sizeof mx, h->max);
	printf("  %-17s %7" PRIu64 " %9s %9s %9s %9s %9s %9s %7" PRIu64 "\n",
	       name, h->count, mn, avg, p50, p99, p999, mx, h->max_cycle);
}

/* The control messages: the object cache's statistics and the pool's. */
static void print_control(const struct demo *d)
{
	const struct rt_stats *s = &d->rt;
	const struct rtcache_stats *c = &d->ctl_stats;
	const struct rtpool_stats *p = &d->pool_stats;
	printf("  control     %" PRIu64 " allocated, %" PRIu64 " freed, %" PRIu64
	       " failed, %" PRIu64 " errors, %" PRIu64 " damaged (128 B, "
	       "object cache behind a reserve pool)\n", s->ctl_allocs,
	       s->ctl_frees, s->ctl_failed, s->ctl_errors, s->ctl_corrupt);
	printf("  cache       %s, created at %s:%d: %zu B objects, %zu per slab "
	       "of %zu pages;\n              %zu of %zu objects active at the "
	       "end, %zu slabs, %zu allocs, %zu failures,\n              %" PRIu64
	       " constructor calls\n",
	       c->name ? c->name : "?", c->file ? c->file : "?", c->line,
	       c->obj_size, c->objs_per_slab, c->pages_per_slab, c->active_objs,
	       c->total_objs, c->total_slabs, c->allocs, c->failures,
	       atomic_load(&d->ctl_ctor_calls));
	printf("  pool        reserve of %zu (%zu held at the end), %zu served "
	       "from the reserve, %zu failures\n", p->min_nr, p->curr_nr,
	       p->from_reserve, p->failures);
}

static const char *release_path(const struct demo *d)
{
	if (!d->second_on)
		return "none";
	return d->use_tcache ? "tcache" : "rtheap_free";
}

/* The per-thread cache's statistics (before it was destroyed). */
static void print_tcache(const struct demo *d)
{
#if RTHEAP_HAVE_URCU
	const struct rttcache_stats *t = &d->tc_stats;
	char b[24];
	format_bytes(b, sizeof b, t->cached_bytes);
	printf("  tcache      classes up to %zu B, batch %u, depot %u: %zu "
	       "refills, %zu flushes,\n              depot %zu puts / %zu gets, "
	       "%zu heap batches, %zu failures, %zu errors;\n              %zu "
	       "blocks (%s) cached at the end, given back by "
	       "rttcache_destroy() = %d\n", t->max_size, t->batch, t->depot,
	       t->refills, t->flushes, t->depot_puts, t->depot_gets,
	       t->heap_batches, t->failures, t->errors, t->cached_blocks, b,
	       d->tc_destroy_rc);
#else
	(void)d;
#endif
}

/* The releaser thread: how it ran, the ring, the cache. */
static void print_second(const struct demo *d)
{
	const struct rel_stats *r = &d->rel;
	const struct handoff *h = &d->hand;
	if (!d->second_on) {
		printf("  releaser    off (%s)\n", d->second_off ? d->second_off
		       : d->opt.second ? "could not start" : "--no-second");
		return;
	}
	printf("  releaser    %s", d->fifo2 ? "SCHED_FIFO" : "SCHED_OTHER");
	if (d->fifo2)
		printf(" prio %d", d->prio2);
	printf(", %" PRIu64 " cycles, half a period after the RT thread;\n"
	       "              releases through %s;\n", r->cycles,
	       d->use_tcache ? "the per-thread cache (rttcache_free)"
	                     : "rtheap_free under the heap lock");
	printf("              %" PRIu64 " handed over (every other release), %"
	       PRIu64 " released, %" PRIu64 " errors, %" PRIu64 " damaged;\n"
	       "              ring of %u: max occupancy %u, %" PRIu64 " full "
	       "(freed by the RT thread), at most %" PRIu64 " per cycle\n",
	       h->handed, r->released, r->errors, r->corrupt, HANDOFF_SLOTS,
	       h->max_used, h->full, r->max_batch);
	if (d->use_tcache)
		print_tcache(d);
}

/* The histogram table: the RT thread's calls, the releaser's, control
 * messages. */
static void print_timing(const struct demo *d)
{
	const struct rt_stats *s = &d->rt;
	char a[24], b[24];

	printf("\n  %-17s %7s %9s %9s %9s %9s %9s %9s %7s\n", "", "count",
	       "min", "avg", "p50", "p99", "p99.9", "max", "cycle");
	hist_line("wake-up latency", &s->wake);
	hist_line(d->use_tcache ? "rttcache_alloc" : "rtheap_alloc", &s->alloc);
	hist_line("alloc + callback", &s->alloc_notify);
	hist_line(d->use_tcache ? "rttcache_free" : "rtheap_free", &s->free);
	if (d->second_on) {
		hist_line("releaser wake-up", &d->rel.wake);
		hist_line(d->use_tcache ? "releaser tc_free" : "releaser free",
		          &d->rel.release);
	}
	hist_line("control msg alloc", &s->ctl_alloc);
	hist_line("control msg free", &s->ctl_free);
	format_ns(a, sizeof a, d->timer_overhead_ns);
	if (d->ext_mode == EXT_HANDOFF && atomic_load(&d->ext_added) >
	                                          atomic_load(&d->ext_at_start)) {
		format_ns(b, sizeof b, s->extend_max_ns);
		printf("  rtheap_extend in the real-time thread: max %s\n", b);
	}
	printf("  Heap call times exclude the timer's own cost (%s); \"alloc + "
	       "callback\" are the\n  allocations that ran the low-memory "
	       "callback (it posts the helper's semaphore).\n", a);
}

void print_summary(const struct demo *d, bool pass)
{
	const struct rt_stats *s = &d->rt;
	const struct rtheap_stats *e = &d->end_stats;
	char a[24], b[24], c[24];

	printf("\nrtdemo: %.2f s, %" PRIu64 " cycles of %u us (%" PRIu64
	       " overruns), %s", d->elapsed_s, s->cycles, d->opt.period_us,
	       s->overruns, d->fifo ? "SCHED_FIFO" : "SCHED_OTHER (not real-time)");
	if (d->fifo)
		printf(" prio %d", d->opt.prio);
	if (d->rt_cpu >= 0)
		printf(" on CPU %d", d->rt_cpu);
	printf(",\n        memory %s\n",
	       d->mlockall_ok ? "locked (mlockall)" : "NOT locked by mlockall");
	printf("heap:   lock %s, %zu B pages, first buffer %zu KiB (%s%s), "
	       "extents of %zu KiB\n        added by the %s\n",
	       lock_name(d->opt.lock), e->page_size, d->buf0_size / 1024,
	       d->buf0_static ? "static array" : "mmap",
	       d->buf0_locked ? ", mlocked" : ", not locked",
	       d->extent_bytes / 1024,
	       d->ext_mode == EXT_DIRECT
	               ? "helper thread"
	               : "RT thread itself (lock none: the helper maps them)");

	print_timing(d);
	printf("\n  messages    %" PRIu64 " allocated, %" PRIu64 " freed by the RT "
	       "thread (%u still live at the end,\n              freed after "
	       "the run), %" PRIu64 " by the releaser\n",
	       s->allocs, s->frees, d->live_at_end, d->rel.released);
	format_bytes(a, sizeof a, d->buf0_size);
	format_bytes(b, sizeof b, e->size);
	format_bytes(c, sizeof c, e->peak_used);
	printf("  heap        grew from %s to %s: %zu extents (%u added during "
	       "the run), peak used %s\n", a, b, e->extents,
	       atomic_load(&d->ext_added) - atomic_load(&d->ext_at_start), c);
	if (d->ext_count > atomic_load(&d->ext_at_start)) {
		printf("              added at cycles");
		unsigned shown = 0;
		for (unsigned i = atomic_load(&d->ext_at_start); i < d->ext_count; i++) {
			if (!d->ext[i].in_heap)
				continue;
			if (shown++ == 10) {
				printf(" ...");
				break;
			}
			printf(" %" PRIu64, d->ext[i].cycle);
		}
		printf("\n");
	}
	format_bytes(a, sizeof a, d->threshold);
	printf("  low memory  %" PRIu64 " callbacks (free below %s or no free run of"
	       " %zu KiB;\n              %" PRIu64 " for failed allocations),"
	       " %" PRIu64 " extra requests\n              from the RT thread's own check",
	       atomic_load(&d->lowmem_events), a, d->reserve_run / 1024,
	       atomic_load(&d->lowmem_fail_events),
	       atomic_load(&d->reserve_requests));
	if (atomic_load(&d->ext_added) > atomic_load(&d->ext_at_start)) {
		format_ns(b, sizeof b, atomic_load(&d->reaction_max_ns));
		format_ns(c, sizeof c, atomic_load(&d->map_max_ns));
		printf("; slowest request -> extent in\n              the heap %s "
		       "(mmap + mlock %s)", b, c);
	}
	printf("\n");
	if (atomic_load(&d->ext_at_start))
		printf("              (%u extents added before the start: the first "
		       "buffer was below the threshold)\n",
		       atomic_load(&d->ext_at_start));
	if (atomic_load(&d->extend_errors) || atomic_load(&d->map_failures) ||
	    atomic_load(&d->lock_failures))
		printf("  helper      %u extend errors (last %d), %u mmap failures,"
		       " %u extents not locked\n",
		       atomic_load(&d->extend_errors),
		       atomic_load(&d->last_extend_error),
		       atomic_load(&d->map_failures),
		       atomic_load(&d->lock_failures));
	print_second(d);
	print_control(d);
	printf("  failures    %" PRIu64 " failed allocations, %" PRIu64
	       " free errors, %" PRIu64 " damaged messages\n",
	       s->failed_allocs, s->free_errors, s->corrupt);
	if (atomic_load(&d->first_fail_request) != 0)
		printf("              first failure: %zu B requested with %zu B "
		       "free, largest free run %zu B\n",
		       atomic_load(&d->first_fail_request),
		       atomic_load(&d->first_fail_free),
		       d->fail_stats.largest_free);
	printf("  at the end  all freed: %zu B used, %zu live blocks, "
	       "rtheap_check() = %d%s%s\n",
	       d->final_stats.used, d->final_stats.live_blocks, d->check_rc,
	       d->check_rc != 0 && d->fault.what ? ": " : "",
	       d->check_rc != 0 && d->fault.what ? d->fault.what : "");
	printf("\nresult: %s\n", pass ? "PASS" : "FAIL");
}

static void json_hist(FILE *f, const char *name, const struct hist *h, bool last)
{
	fprintf(f, "    \"%s\": {\"count\": %" PRIu64 ", \"min_ns\": %" PRIu64
	        ", \"avg_ns\": %" PRIu64 ", \"p50_ns\": %" PRIu64 ", \"p99_ns\": %"
	        PRIu64 ", \"p99_9_ns\": %" PRIu64 ", \"max_ns\": %" PRIu64
	        ", \"max_cycle\": %" PRIu64 ", \"bin_ns\": %u, \"overflow\": %" PRIu64 ", \"bins\": [",
	        name, h->count, h->count ? h->min : 0,
	        h->count ? h->sum / h->count : 0, hist_percentile(h, 50.0),
	        hist_percentile(h, 99.0), hist_percentile(h, 99.9), h->max,
	        h->max_cycle, h->bin_ns, h->overflow);
	/* sparse: [bin_start_ns, count] pairs of the non-empty bins */
	bool first = true;
	for (uint32_t b = 0; b < h->nbins; b++) {
		if (h->bins[b] == 0)
			continue;
		fprintf(f, "%s[%" PRIu64 ", %u]", first ? "" : ", ",
		        (uint64_t)b * h->bin_ns, h->bins[b]);
		first = false;
	}
	fprintf(f, "]}%s\n", last ? "" : ",");
}

static void json_second(FILE *f, const struct demo *d)
{
	const struct rel_stats *r = &d->rel;
	const struct handoff *h = &d->hand;
	fprintf(f, "  \"releaser\": {\"enabled\": %s, \"path\": \"%s\","
	        " \"sched_fifo\": %s, \"prio\": %d, \"cycles\": %" PRIu64
	        ", \"handed\": %" PRIu64 ", \"released\": %" PRIu64
	        ", \"errors\": %" PRIu64 ", \"damaged\": %" PRIu64
	        ", \"ring_slots\": %u, \"ring_max_used\": %u, \"ring_full\": %"
	        PRIu64 ", \"max_per_cycle\": %" PRIu64 "},\n",
	        d->second_on ? "true" : "false", release_path(d),
	        d->fifo2 ? "true" : "false", d->prio2, r->cycles, h->handed,
	        r->released, r->errors, r->corrupt, HANDOFF_SLOTS, h->max_used,
	        h->full, r->max_batch);
#if RTHEAP_HAVE_URCU
	const struct rttcache_stats *t = &d->tc_stats;
	if (d->use_tcache)
		fprintf(f, "  \"tcache\": {\"max_size\": %zu, \"batch\": %u,"
		        " \"depot\": %u, \"refills\": %zu, \"flushes\": %zu,"
		        " \"depot_puts\": %zu, \"depot_gets\": %zu,"
		        " \"heap_batches\": %zu, \"failures\": %zu,"
		        " \"errors\": %zu, \"cached_blocks_at_end\": %zu,"
		        " \"destroy\": %d},\n", t->max_size, t->batch, t->depot,
		        t->refills, t->flushes, t->depot_puts, t->depot_gets,
		        t->heap_batches, t->failures, t->errors, t->cached_blocks,
		        d->tc_destroy_rc);
#endif
}

int write_json(const struct demo *d, const char *path, bool pass)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	const struct rt_stats *s = &d->rt;
	const struct rtheap_stats *e = &d->end_stats;
	fprintf(f, "{\n  \"program\": \"rtdemo\",\n  \"rtheap_version\": \"%s\",\n",
	        rtheap_version());
	fprintf(f, "  \"result\": \"%s\",\n", pass ? "pass" : "fail");
	fprintf(f, "  \"config\": {\"duration_s\": %.3f, \"cycles_limit\": %" PRIu64
	        ", \"period_us\": %u, \"prio\": %d, \"cpu\": %d, \"lock\": \"%s\","
	        " \"static\": %s, \"initial_kib\": %zu, \"extent_kib\": %zu,"
	        " \"lowmem_kib\": %zu, \"max_live\": %u, \"seed\": %" PRIu64 "},\n",
	        d->opt.duration, d->opt.cycles, d->opt.period_us, d->opt.prio,
	        d->opt.cpu, lock_name(d->opt.lock),
	        d->opt.use_static ? "true" : "false", d->opt.initial_kib,
	        d->opt.extent_kib, d->opt.lowmem_kib, d->opt.max_live, d->opt.seed);
	fprintf(f, "  \"environment\": {\"sched_fifo\": %s, \"mlockall\": %s,"
	        " \"rt_cpu\": %d, \"extend_mode\": \"%s\", \"timer_overhead_ns\": %"
	        PRIu64 "},\n",
	        d->fifo ? "true" : "false", d->mlockall_ok ? "true" : "false",
	        d->rt_cpu, d->ext_mode == EXT_DIRECT ? "helper" : "handoff",
	        d->timer_overhead_ns);
	fprintf(f, "  \"run\": {\"elapsed_s\": %.3f, \"cycles\": %" PRIu64
	        ", \"overruns\": %" PRIu64 ", \"allocs\": %" PRIu64 ", \"frees\": %"
	        PRIu64 ", \"failed_allocs\": %" PRIu64 ", \"free_errors\": %" PRIu64
	        ", \"damaged_messages\": %" PRIu64 ", \"bytes_requested\": %" PRIu64
	        ", \"rt_extend_max_ns\": %" PRIu64
	        ", \"live_at_end\": %u},\n",
	        d->elapsed_s, s->cycles, s->overruns, s->allocs, s->frees,
	        s->failed_allocs, s->free_errors, s->corrupt, s->bytes_requested,
	        s->extend_max_ns,
	        d->live_at_end);
	fprintf(f, "  \"timing\": {\n");
	json_hist(f, "wakeup", &s->wake, false);
	json_hist(f, "alloc", &s->alloc, false);
	json_hist(f, "alloc_with_callback", &s->alloc_notify, false);
	json_hist(f, "free", &s->free, false);
	json_hist(f, "control_alloc", &s->ctl_alloc, false);
	json_hist(f, "control_free", &s->ctl_free, false);
	json_hist(f, "releaser_wakeup", &d->rel.wake, false);
	json_hist(f, "releaser_free", &d->rel.release, true);
	fprintf(f, "  },\n");
	fprintf(f, "  \"heap\": {\"page_size\": %zu, \"extents\": %zu, \"size\": %zu,"
	        " \"usable\": %zu, \"used_at_end\": %zu, \"peak_used\": %zu,"
	        " \"threshold\": %zu, \"extents_added\": %u,"
	        " \"extents_added_before_run\": %u, \"lowmem_events\": %" PRIu64
	        ", \"lowmem_fail_events\": %" PRIu64 ", \"reserve_requests\": %"
	        PRIu64 ", \"extend_errors\": %u,"
	        " \"mmap_failures\": %u, \"mlock_failures\": %u,"
	        " \"reaction_max_ns\": %" PRIu64 ", \"map_max_ns\": %" PRIu64
	        ", \"heap_failed_allocs\": %zu, \"heap_errors\": %zu},\n",
	        e->page_size, e->extents, e->size, e->usable, e->used, e->peak_used,
	        d->threshold, atomic_load(&d->ext_added),
	        atomic_load(&d->ext_at_start), atomic_load(&d->lowmem_events),
	        atomic_load(&d->lowmem_fail_events),
	        atomic_load(&d->reserve_requests),
	        atomic_load(&d->extend_errors), atomic_load(&d->map_failures),
	        atomic_load(&d->lock_failures), atomic_load(&d->reaction_max_ns),
	        atomic_load(&d->map_max_ns), e->failed_allocs, e->errors);
	fprintf(f, "  \"control\": {\"allocs\": %" PRIu64 ", \"frees\": %" PRIu64
	        ", \"failed\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"damaged\": %"
	        PRIu64 ", \"cache_slabs\": %zu, \"cache_objs_per_slab\": %zu,"
	        " \"cache_failures\": %zu, \"pool_min\": %zu,"
	        " \"pool_from_reserve\": %zu, \"pool_failures\": %zu},\n",
	        s->ctl_allocs, s->ctl_frees, s->ctl_failed, s->ctl_errors,
	        s->ctl_corrupt, d->ctl_stats.total_slabs, d->ctl_stats.objs_per_slab,
	        d->ctl_stats.failures, d->pool_stats.min_nr,
	        d->pool_stats.from_reserve, d->pool_stats.failures);
	json_second(f, d);
	fprintf(f, "  \"extensions\": [");
	for (unsigned i = 0; i < d->ext_count; i++)
		fprintf(f, "%s{\"bytes\": %zu, \"locked\": %s, \"in_heap\": %s,"
		        " \"before_run\": %s, \"cycle\": %" PRIu64 "}",
		        i ? ", " : "", d->ext[i].size,
		        d->ext[i].locked ? "true" : "false",
		        d->ext[i].in_heap ? "true" : "false",
		        i < atomic_load(&d->ext_at_start) ? "true" : "false",
		        d->ext[i].cycle);
	fprintf(f, "],\n");
	fprintf(f, "  \"final\": {\"used\": %zu, \"live_blocks\": %zu,"
	        " \"check\": %d}\n}\n",
	        d->final_stats.used, d->final_stats.live_blocks, d->check_rc);
	return fclose(f) == 0 ? 0 : -1;
}
