#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run the real-time demo (rtdemo/README.md):
#   sudo ./scripts/run-demo.sh [rtdemo options]
# Installs the build tools and liburcu-dev with apt-get if (and only if)
# they are missing, builds rtdemo in build-demo/ (Release, without tests
# and latency harness), then runs it for 10 seconds and prints its summary.  Extra arguments are
# passed to rtdemo (a later --duration overrides the default).  Run as root
# for SCHED_FIFO and locked memory; without privileges the demo still runs,
# with normal scheduling, and says so.
# The exit code is rtdemo's: 0 when no allocation failed and the heap was
# consistent and empty at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
src=$PWD
build=$src/build-demo
log=$build/build.log

# ---- build tools, installed only when missing ----
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
# liburcu (found through pkg-config): the per-thread caches the demo's
# second thread releases through; without it the demo uses rtheap_free
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if command -v dpkg >/dev/null 2>&1; then
	dpkg -s liburcu-dev >/dev/null 2>&1 || missing+=(liburcu-dev)
fi
if ((${#missing[@]})); then
	echo "run-demo: installing missing build packages: ${missing[*]}"
	if [[ $(id -u) -eq 0 ]]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	elif command -v sudo >/dev/null 2>&1; then
		sudo apt-get update -qq
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	else
		echo "run-demo: please install: ${missing[*]}" >&2
		exit 2
	fi
fi

# ---- build ----
mkdir -p "$build"
echo "run-demo: building rtdemo in build-demo/ (Release)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DRTHEAP_BUILD_TESTS=OFF -DRTHEAP_BUILD_LATENCY=OFF \
	-DRTHEAP_BUILD_DEMO=ON >"$log" 2>&1 ||
	{ cat "$log" >&2; exit 2; }
cmake --build "$build" --target rtdemo -j"$(nproc)" >>"$log" 2>&1 ||
	{ cat "$log" >&2; exit 2; }

# ---- run ----
if [[ $(id -u) -ne 0 ]]; then
	echo "run-demo: not root: expect normal scheduling and unlocked memory" \
		"(run with sudo for SCHED_FIFO and mlockall)"
fi
json=$build/rtdemo-summary.json
echo "run-demo: running rtdemo for 10 s (Ctrl-C stops it early)"
echo
rc=0
"$build/rtdemo/rtdemo" --duration 10 --json "$json" "$@" || rc=$?
echo
echo "run-demo: machine-readable summary in ${json#"$src"/}; exit code $rc"
exit "$rc"
