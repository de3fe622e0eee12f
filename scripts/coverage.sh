#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Line and branch coverage of the heap (heap/*.c) by the test suite.
#   scripts/coverage.sh [--plain] [--min-branch PCT] [--html]
# Builds in build-coverage (gcc --coverage -O0, RTHEAP_COVERAGE=ON) and
# build-coverage-asan (the same with AddressSanitizer), runs ctest in each
# without the fuzz, package, latency, valgrind and mutation labels, and
# prints the merged coverage of heap/*.c with gcovr (Debian package gcovr).
#
# Why two builds: the hot paths exist twice (heap/hooks.h), a copy without
# memory checkers, run in a plain build, and a copy that speaks to ASan or
# valgrind, run only under a checker; the two builds together run both.
# --plain: the first build only (its figure leaves the checker copies
# uncovered).  heap/xnheap.c (the Xenomai skin, a layer over the public
# API, tested by test_xnheap) is left out.
#
# How it is measured (docs/design.md, section 4, says why):
#  - RTHEAP_COVERAGE defines RTHEAP_COVERAGE_BUILD: the hot functions are
#    not forced inline (RT_HOT, heap/internal.h), so each exists once and
#    gcov counts the branches of a line of source once, whichever copy
#    (plain or checked) and caller took them.
#  - The library is compiled with NDEBUG, so rt_assert() (heap/internal.h)
#    is compiled out: an assertion of the heap's own state, whose failing
#    side only a heap bug can take.  (A line pattern could not exclude
#    them: gcc gives the branches of an inlined function to the line where
#    their basic block starts, often the caller's.)  The assertions run in
#    the Debug builds of the suite (scripts/test-all.sh, asan).
#  - The ASan build is compiled with -fno-sanitize-address-use-after-scope:
#    its basic blocks are then those of the plain build, gcov puts the same
#    branches on the same lines in both, and gcovr adds the two runs branch
#    by branch.
#  - Counted figure: without the lines of the checker-hook macros RUN_OPEN
#    and RUN_CLOSE (heap/runs.c), `if (ck && run_node_in_page(h, nd))`
#    (with forced inlining ck was a constant in each copy; with one
#    instance they are taken anyway, and the raw figure counts them).
#  - Raw figure: every branch gcc emits for heap/*.c in this NDEBUG build,
#    no line left out.
# Nothing else is left out: branches that no test can take (listed in
# docs/design.md) count against the figure.  --min-branch PCT: the exit status is non-zero when the
# counted branch coverage is below PCT.  Exit status is non-zero if a test
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."

min_branch=""
html=0
plain=0
while [ $# -gt 0 ]; do
  case "$1" in
    --plain) plain=1; shift ;;
    --min-branch) min_branch=$2; shift 2 ;;
    --html) html=1; shift ;;
    *) echo "usage: $0 [--plain] [--min-branch PCT] [--html]" >&2; exit 2 ;;
  esac
done
command -v gcovr >/dev/null || { echo "coverage.sh: gcovr not found (apt-get install gcovr)" >&2; exit 2; }
jobs=$(nproc 2>/dev/null || echo 2)
rc=0
# build_and_test DIR C-FLAGS CMAKE-ARGS...
build_and_test() {
  local dir=$1 cflags=$2; shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DCMAKE_C_FLAGS="$cflags" -DRTHEAP_COVERAGE=ON -DRTHEAP_BUILD_LATENCY=OFF \
    -DRTHEAP_BUILD_DEMO=OFF "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" 2>&1 | tail -n 2
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  find "$dir" -name '*.gcda' -delete
  (cd "$dir" && ctest -j"$jobs" --output-on-failure -LE "fuzz|package|latency|valgrind|mutation")
}
dirs=(build-coverage)
build_and_test build-coverage "-DNDEBUG" || rc=1
if [ $plain -eq 0 ]; then
  dirs+=(build-coverage-asan)
  build_and_test build-coverage-asan "-DNDEBUG -fno-sanitize-address-use-after-scope" \
    -DRTHEAP_SANITIZE=address || rc=1
fi

filter=(--root . --filter 'heap/[a-z_]+\.c$' --exclude 'heap/xnheap\.c$'
        --exclude-unreachable-branches --exclude-throw-branches)
hooks=(--exclude-branches-by-pattern '.*\bRUN_(OPEN|CLOSE)\(ck, .*')
# branches: the figure of a gcovr summary, "P% (N out of M)"
branches() { sed -nE 's/^branches: ([0-9.]+)% \(([0-9]+) out of ([0-9]+)\).*/\1% (\2 of \3)/p'; }
gcovr "${filter[@]}" "${hooks[@]}" --txt-metric branch "${dirs[@]}" 2>/dev/null ||
  gcovr "${filter[@]}" "${hooks[@]}" --branches "${dirs[@]}"
counted=$(gcovr "${filter[@]}" "${hooks[@]}" --print-summary \
          --output build-coverage/coverage.txt "${dirs[@]}")
raw=$(gcovr "${filter[@]}" --print-summary --output build-coverage/coverage-raw.txt "${dirs[@]}")
echo "$counted"
if [ $html -eq 1 ]; then
  gcovr "${filter[@]}" "${hooks[@]}" --html-details build-coverage/coverage.html "${dirs[@]}"
  echo "coverage.sh: build-coverage/coverage.html"
fi
builds="plain + ASan"
[ $plain -eq 1 ] && builds="plain build only"
branch=$(branches <<<"$counted" | sed -E 's/%.*//')
echo "coverage.sh: heap/ branch coverage $(branches <<<"$counted") counted, without the" \
     "checker-hook macro lines; raw $(branches <<<"$raw") ($builds, NDEBUG)"
if [ -n "$min_branch" ] && awk -v b="$branch" -v m="$min_branch" 'BEGIN { exit !(b < m) }'; then
  echo "coverage.sh: counted branch coverage ${branch}% is below ${min_branch}%" >&2
  rc=1
fi
exit $rc
