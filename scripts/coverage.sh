#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Line and branch coverage of the heap (heap/*.c) by the test suite.
#   scripts/coverage.sh [--plain] [--min-branch PCT] [--html]
# Builds in build-coverage (gcc --coverage, RTHEAP_COVERAGE=ON, -O0) and
# build-coverage-asan (the same with AddressSanitizer), runs ctest in each
# without the fuzz, package, latency and valgrind labels, and prints the
# merged coverage of heap/*.c with gcovr (Debian package gcovr).
# The hot paths exist twice (hooks.h): a copy without memory checkers, run
# in a plain build, and a copy that speaks to ASan or valgrind, run only
# under a checker; the two builds together run both.  --plain: the first
# build only (its figure leaves the checker copies uncovered).
# heap/xnheap.c (the Xenomai skin, a layer over the public API, tested by
# test_xnheap) is left out of the figure.
# With --min-branch PCT the exit status is non-zero when branch coverage is
# below PCT.  Exit status is non-zero if a test fails.
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
# build_and_test DIR CMAKE-ARGS...
build_and_test() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DRTHEAP_COVERAGE=ON -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF "$@" \
    >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" 2>&1 | tail -n 2
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  find "$dir" -name '*.gcda' -delete
  (cd "$dir" && ctest -j"$jobs" --output-on-failure -LE "fuzz|package|latency|valgrind|mutation")
}
dirs=(build-coverage)
build_and_test build-coverage || rc=1
if [ $plain -eq 0 ]; then
  dirs+=(build-coverage-asan)
  build_and_test build-coverage-asan -DRTHEAP_SANITIZE=address || rc=1
fi

filter=(--root . --filter 'heap/[a-z_]+\.c$' --exclude 'heap/xnheap\.c$'
        --exclude-unreachable-branches --exclude-throw-branches)
gcovr "${filter[@]}" --txt-metric branch "${dirs[@]}" 2>/dev/null ||
  gcovr "${filter[@]}" --branches "${dirs[@]}"
summary=$(gcovr "${filter[@]}" --print-summary --output build-coverage/coverage.txt "${dirs[@]}")
echo "$summary"
if [ $html -eq 1 ]; then
  gcovr "${filter[@]}" --html-details build-coverage/coverage.html "${dirs[@]}"
  echo "coverage.sh: build-coverage/coverage.html"
fi
branch=$(sed -nE 's/^branches: ([0-9.]+)%.*/\1/p' <<<"$summary")
# The same without the branches of the checker-hook macros (RUN_OPEN,
# BKT_CLOSE, ...: `if (ck && ...)` with ck a constant in each inlined
# copy, so half of each such branch is dead in every copy).
hooks=$(gcovr "${filter[@]}" --exclude-branches-by-pattern '.*\b[A-Z]+_(OPEN|CLOSE)\(ck, .*' \
        --print-summary --output build-coverage/coverage-nohooks.txt "${dirs[@]}" |
        sed -nE 's/^branches: ([0-9.]+%.*)/\1/p')
echo "coverage.sh: heap/ branch coverage ${branch}% (without the checker-hook macro branches: $hooks)"
if [ -n "$min_branch" ] && awk -v b="$branch" -v m="$min_branch" 'BEGIN { exit !(b < m) }'; then
  echo "coverage.sh: branch coverage ${branch}% is below ${min_branch}%" >&2
  rc=1
fi
exit $rc
