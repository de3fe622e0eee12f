#!/bin/sh
# SPDX-License-Identifier: MIT
# cyclictest.sh -- system jitter while real-time threads hammer a heap.
#
#   latency/cyclictest.sh [--quick] [--duration S] [--range US] [--out DIR] [--build DIR]
#
# Runs cyclictest (rt-tests) on one CPU three times: with the other CPU
# idle, with rtheap-hammer --alloc rtheap on the other CPU, and with
# rtheap-hammer --alloc glibc; a fourth run, rtheap-tc (the hammer's
# threads through per-thread caches), when the hammer was built with them.  Prints min / avg / max, the samples of
# 1 ms or more and the histogram overflows of each run side by side, and
# writes into DIR (default cyclictest-out) the histograms (cyclictest -h
# layout, one column per run, 1 us buckets up to US, default 20000; later
# samples are cyclictest's overflows), a CSV summary and a gnuplot plot of
# the samples at least x us late (log axes, up to the largest latency,
# overflows included).  Installs rt-tests with apt-get when cyclictest is
# missing (as root).  Default 30 s per run, 5 s with --quick.
set -eu

duration=30
out=cyclictest-out
build=""
buckets=20000  # histogram range in us (1 us buckets); beyond: overflows
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) duration=5 ;;
	--duration) duration="$2"; shift ;;
	--range) buckets="$2"; shift ;;
	--out) out="$2"; shift ;;
	--build) build="$2"; shift ;;
	-h|--help)
		sed -n '2,15p' "$0"
		exit 0 ;;
	*) echo "cyclictest.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
hammer=""
for d in "$build" "$here/../build" .; do
	if [ -n "$d" ] && [ -x "$d/latency/rtheap-hammer" ]; then
		hammer="$d/latency/rtheap-hammer"
		break
	fi
done
if [ -z "$hammer" ] && command -v rtheap-hammer >/dev/null 2>&1; then
	hammer=$(command -v rtheap-hammer)
fi
if [ -z "$hammer" ]; then
	echo "cyclictest.sh: rtheap-hammer not found: build it, or pass --build DIR" >&2
	exit 1
fi

if ! command -v cyclictest >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "cyclictest.sh: installing rt-tests" >&2
		apt-get install -y rt-tests >/dev/null || { apt-get update >/dev/null && apt-get install -y rt-tests >/dev/null; }
	fi
	command -v cyclictest >/dev/null 2>&1 || { echo "cyclictest.sh: cyclictest missing (install rt-tests)" >&2; exit 1; }
fi

ncpu=$(getconf _NPROCESSORS_ONLN)
if [ "$ncpu" -ge 2 ]; then
	ccpu=$((ncpu - 1))   # cyclictest
	hcpu=0               # hammer threads
else
	ccpu=0
	hcpu=0
	echo "cyclictest.sh: WARNING: one CPU only, cyclictest and the load share it" >&2
fi
if [ "$(id -u)" != 0 ]; then
	echo "cyclictest.sh: WARNING: not root: SCHED_FIFO and mlockall may be refused;" \
	     "cyclictest and the hammer fall back to normal scheduling" >&2
fi

mkdir -p "$out"
interval=200   # cyclictest period in us

run() {
	load=$1
	pid=""
	if [ "$load" != idle ]; then
		"$hammer" --alloc "$load" --cpu "$hcpu" --prio 70 --threads 2 \
			--duration $((duration + 2)) >"$out/hammer_$load.txt" 2>&1 &
		pid=$!
		sleep 1
	fi
	echo "cyclictest.sh: ${duration}s, load: $load (cyclictest on CPU $ccpu, load on CPU $hcpu)" >&2
	cyclictest -m -p 80 -a "$ccpu" --mainaffinity="$hcpu" -i "$interval" \
		-D "${duration}s" -h "$buckets" --histfile="$out/cyclictest_$load.hist" \
		--json="$out/cyclictest_$load.json" -q >"$out/cyclictest_$load.txt" 2>&1 || true
	if [ -n "$pid" ]; then
		wait "$pid" || true
	fi
}

loads="idle rtheap glibc"
if "$hammer" --alloc rtheap-tc --threads 1 --duration 0 >/dev/null 2>&1; then
	loads="idle rtheap rtheap-tc glibc"
fi
for load in $loads; do
	run "$load"
done

# "# Min Latencies: 00003" -> 3
field() {
	sed -n "s/^# $2: *\\([0-9]*\\).*/\\1/p" "$out/cyclictest_$1.hist" | head -n 1 | sed 's/^0*\([0-9]\)/\1/'
}

# Samples of 1 ms or more: histogram buckets from 1000 us, plus overflows.
ge1ms() {
	grep -v '^#' "$out/cyclictest_$1.hist" |
		awk -v ov="${2:-0}" '$1 + 0 >= 1000 { n += $2 } END { print n + ov }'
}

# Samples at least x us late, for the plot: one "x count" line where the
# count changes.  Overflows lie between the histogram range and the max:
# they are drawn as a plateau up to the max (an upper bound there).
ccdf() {
	grep -v '^#' "$out/cyclictest_$1.hist" |
		awk -v ov="${2:-0}" -v mx="${3:-0}" -v range="$buckets" '
		{ b = $1 + 0; n[b] = $2 + 0; if ($2 + 0 > 0) last = b }
		END {
			tot = ov
			for (b = range - 1; b >= 0; b--) { tot += n[b]; c[b] = tot }
			prev = -1
			for (b = 0; b < range; b++)
				if (c[b] > 0 && c[b] != prev) { print b, c[b]; prev = c[b] }
			if (ov > 0) { print range, ov; print mx, 1; print mx + 1, 1 }
			else if (last != "") print last + 1, c[last]
		}'
}

csv="$out/cyclictest_summary.csv"
echo "load,duration_s,interval_us,cpu,min_us,avg_us,max_us,samples,overflows,samples_ge_1ms,hist_range_us" >"$csv"
printf '\n%-8s %8s %8s %8s %10s %8s %10s   (cyclictest -m -p 80 -i %s on CPU %s, %ss each)\n' \
	load min_us avg_us max_us samples '>=1ms' overflows "$interval" "$ccpu" "$duration"
keys=""
anyov=0
maxall=1
for load in $loads; do
	mn=$(field "$load" "Min Latencies")
	av=$(field "$load" "Avg Latencies")
	mx=$(field "$load" "Max Latencies")
	tot=$(field "$load" "Total")
	ov=$(field "$load" "Histogram Overflows")
	ms=$(ge1ms "$load" "${ov:-0}")
	printf '%-8s %8s %8s %8s %10s %8s %10s\n' "$load" "${mn:-?}" "${av:-?}" "${mx:-?}" "${tot:-?}" \
		"${ms:-?}" "${ov:-?}"
	echo "$load,$duration,$interval,$ccpu,${mn:-},${av:-},${mx:-},${tot:-},${ov:-},${ms:-},$buckets" >>"$csv"
	ccdf "$load" "${ov:-0}" "${mx:-0}" >"$out/cyclictest_ccdf_$load.txt"
	case $load in idle) label=idle ;; *) label="$load hammer" ;; esac
	keys="$keys|$label: max ${mx:-?} us, ${ms:-?} >= 1 ms, ${ov:-?} overflows"
	if [ "${mx:-0}" -gt "$maxall" ]; then
		maxall=$mx
	fi
	if [ "${ov:-0}" -gt 0 ]; then
		anyov=1
	fi
done
echo "  >=1ms: samples of 1 ms or more; overflows: samples beyond the ${buckets} us histogram" \
	"range (included in max_us, >=1ms and the plot)"
if [ "$anyov" = 1 ]; then
	echo "  overflows present: --range larger than max_us gives their exact histogram"
fi
for load in $loads; do
	[ "$load" = idle ] && continue
	[ -s "$out/hammer_$load.txt" ] && sed 's/^/  /' "$out/hammer_$load.txt"
done

# Histograms side by side: bucket idle rtheap glibc.
side="$out/cyclictest_hist.txt"
{
	echo "# cyclictest histograms (1 us buckets), columns: us $loads"
	for load in $loads; do
		grep -v '^#' "$out/cyclictest_$load.hist" | awk '{print $1, $2}' >"$out/.h_$load"
	done
	# join the columns one load at a time (every histogram has every bucket)
	cp "$out/.h_idle" "$out/.h_all"
	for load in $loads; do
		[ "$load" = idle ] && continue
		awk 'NR == FNR { v[$1] = $2; next } { print $0, ($1 in v ? v[$1] : 0) }' \
			"$out/.h_$load" "$out/.h_all" >"$out/.h_tmp"
		mv "$out/.h_tmp" "$out/.h_all"
	done
	cat "$out/.h_all"
} >"$side"
for load in $loads all; do
	rm -f "$out/.h_$load"
done

if command -v gnuplot >/dev/null 2>&1; then
	plots=""
	i=2
	for load in $loads; do
		k=$(echo "$keys" | cut -d'|' -f$i)
		plots="$plots${plots:+, \\
}     'cyclictest_ccdf_$load.txt' using 1:2 with steps lw 1.5 title '$k'"
		i=$((i + 1))
	done
	if [ "$anyov" = 1 ]; then
		sub="right of the dashed line (${buckets} us, histogram range): overflows, drawn flat up to the max"
		arrow="set arrow from $buckets, graph 0 to $buckets, graph 1 nohead dt 2 lc rgb 'gray40'"
	else
		sub="histogram range ${buckets} us, no overflows"
		arrow=""
	fi
	cat >"$out/cyclictest.gp" <<EOF
set terminal pngcairo noenhanced size 900,500 font ',10'
set output 'cyclictest.png'
set title "cyclictest wake-up latency on CPU $ccpu (${duration} s each), load on CPU $hcpu: samples at least x late\n$sub"
set logscale xy
set xrange [*:$((maxall * 2))]
set yrange [0.8:*]
set format y '%.0f'
set xlabel 'latency (us)'
set ylabel 'samples >= x'
set grid
set key top right
$arrow
plot $plots
EOF
	(cd "$out" && gnuplot cyclictest.gp) || echo "cyclictest.sh: gnuplot failed" >&2
fi
echo "files in $out: cyclictest_summary.csv cyclictest_hist.txt cyclictest_ccdf_*.txt cyclictest_*.hist/json cyclictest.png" >&2
