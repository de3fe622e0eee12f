#!/bin/sh
# cyclictest.sh -- system jitter while real-time threads hammer a heap.
#
#   latency/cyclictest.sh [--quick] [--duration S] [--out DIR] [--build DIR]
#
# Runs cyclictest (rt-tests) on one CPU three times: with the other CPU
# idle, with rtheap-hammer --alloc rtheap on the other CPU, and with
# rtheap-hammer --alloc glibc.  Prints min / avg / max of each run side by
# side, writes the histograms (cyclictest -h layout, one column per run),
# a CSV summary and a gnuplot plot into DIR (default cyclictest-out).
# Installs rt-tests with apt-get when cyclictest is missing (as root).
# Default 30 s per run, 5 s with --quick.
set -eu

duration=30
out=cyclictest-out
build=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) duration=5 ;;
	--duration) duration="$2"; shift ;;
	--out) out="$2"; shift ;;
	--build) build="$2"; shift ;;
	-h|--help)
		sed -n '2,12p' "$0"
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
buckets=1000   # histogram range in us (1 us buckets); beyond: overflows
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

for load in idle rtheap glibc; do
	run "$load"
done

# "# Min Latencies: 00003" -> 3
field() {
	sed -n "s/^# $2: *\\([0-9]*\\).*/\\1/p" "$out/cyclictest_$1.hist" | head -n 1 | sed 's/^0*\([0-9]\)/\1/'
}

csv="$out/cyclictest_summary.csv"
echo "load,duration_s,interval_us,cpu,min_us,avg_us,max_us,samples,overflows" >"$csv"
printf '\n%-8s %8s %8s %8s %10s %10s   (cyclictest -m -p 80 -i %s on CPU %s, %ss each)\n' \
	load min_us avg_us max_us samples overflows "$interval" "$ccpu" "$duration"
for load in idle rtheap glibc; do
	mn=$(field "$load" "Min Latencies")
	av=$(field "$load" "Avg Latencies")
	mx=$(field "$load" "Max Latencies")
	tot=$(field "$load" "Total")
	ov=$(field "$load" "Histogram Overflows")
	printf '%-8s %8s %8s %8s %10s %10s\n' "$load" "${mn:-?}" "${av:-?}" "${mx:-?}" "${tot:-?}" "${ov:-?}"
	echo "$load,$duration,$interval,$ccpu,${mn:-},${av:-},${mx:-},${tot:-},${ov:-}" >>"$csv"
done
for load in rtheap glibc; do
	[ -s "$out/hammer_$load.txt" ] && sed 's/^/  /' "$out/hammer_$load.txt"
done

# Histograms side by side: bucket idle rtheap glibc.
side="$out/cyclictest_hist.txt"
{
	echo "# cyclictest histograms (1 us buckets), columns: us idle rtheap glibc"
	for load in idle rtheap glibc; do
		grep -v '^#' "$out/cyclictest_$load.hist" | awk '{print $1, $2}' >"$out/.h_$load"
	done
	join -a1 -e 0 -o 0,1.2,2.2 "$out/.h_idle" "$out/.h_rtheap" |
		join -a1 -e 0 -o 0,1.2,1.3,2.2 - "$out/.h_glibc"
} >"$side"
rm -f "$out/.h_idle" "$out/.h_rtheap" "$out/.h_glibc"

if command -v gnuplot >/dev/null 2>&1; then
	cat >"$out/cyclictest.gp" <<EOF
set terminal pngcairo size 900,460 font ',10'
set output 'cyclictest.png'
set title "cyclictest wake-up latency on CPU $ccpu (${duration} s each), load on CPU $hcpu"
set logscale y
set xlabel 'latency (us)'
set ylabel 'samples'
set grid
plot 'cyclictest_hist.txt' using 1:(\$2>0?\$2:1/0) with steps lw 1.5 title 'idle', \
     '' using 1:(\$3>0?\$3:1/0) with steps lw 1.5 title 'rtheap hammer', \
     '' using 1:(\$4>0?\$4:1/0) with steps lw 1.5 title 'glibc hammer'
EOF
	(cd "$out" && gnuplot cyclictest.gp) || echo "cyclictest.sh: gnuplot failed" >&2
fi
echo "files in $out: cyclictest_summary.csv cyclictest_hist.txt cyclictest_*.hist/json cyclictest.png" >&2
