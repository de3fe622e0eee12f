#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Line and branch coverage of the heap (heap/*.c) by the test suite.
#   scripts/coverage.sh [--min-branch PCT] [--html]
# Builds in build-coverage (gcc --coverage, RTHEAP_COVERAGE=ON, -O0), runs
# ctest without the fuzz, package, latency and valgrind labels, and prints the
# coverage of heap/*.c with gcovr (Debian package gcovr).  heap/xnheap.c (the
# Xenomai skin, a layer over the public API) is left out of the figure.
# With --min-branch PCT the exit status is non-zero when branch coverage is
# below PCT.  Exit status is non-zero if a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

min_branch=""
html=0
while [ $# -gt 0 ]; do
  case "$1" in
    --min-branch) min_branch=$2; shift 2 ;;
    --html) html=1; shift ;;
    *) echo "usage: $0 [--min-branch PCT] [--html]" >&2; exit 2 ;;
  esac
done
command -v gcovr >/dev/null || { echo "coverage.sh: gcovr not found (apt-get install gcovr)" >&2; exit 2; }
jobs=$(nproc 2>/dev/null || echo 2)
dir=build-coverage

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DRTHEAP_COVERAGE=ON -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j"$jobs" 2>&1 | tail -n 2
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
find "$dir" -name '*.gcda' -delete
rc=0
(cd "$dir" && ctest -j"$jobs" --output-on-failure -LE "fuzz|package|latency|valgrind") || rc=1

filter=(--root . --filter 'heap/[a-z_]+\.c$' --exclude 'heap/xnheap\.c$'
        --exclude-unreachable-branches --exclude-throw-branches)
gcovr "${filter[@]}" --txt-metric branch "$dir" 2>/dev/null ||
  gcovr "${filter[@]}" --branches "$dir"
summary=$(gcovr "${filter[@]}" --print-summary --output /dev/null "$dir")
echo "$summary"
if [ $html -eq 1 ]; then
  gcovr "${filter[@]}" --html-details "$dir/coverage.html" "$dir"
  echo "coverage.sh: $dir/coverage.html"
fi
branch=$(sed -nE 's/^branches: ([0-9.]+)%.*/\1/p' <<<"$summary")
echo "coverage.sh: heap/ branch coverage ${branch}%"
if [ -n "$min_branch" ] && awk -v b="$branch" -v m="$min_branch" 'BEGIN { exit !(b < m) }'; then
  echo "coverage.sh: branch coverage ${branch}% is below ${min_branch}%" >&2
  rc=1
fi
exit $rc
