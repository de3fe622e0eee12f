#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutation check: plant each known defect in a COPY of the source tree,
# build the tests that should notice it, run them, and expect at least one
# failure per mutant.  Prints a table mutant -> killed / survived /
# does not apply / build failed; exit status 0 only if every mutant is
# killed.  See tests/mutation/README.md.
#   tests/mutation/run.sh [--work DIR] [--only NAME] [--list]
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=""
only=""
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work) work=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --list) list=1; shift ;;
    *) echo "usage: $0 [--work DIR] [--only NAME] [--list]" >&2; exit 2 ;;
  esac
done
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

# One mutant per line, fields separated by '|':
#   name | file | sed script (GNU sed) | build targets | ctest -R regex
# The sed script must change the file: if its pattern is gone (the code
# was refactored), the mutant is reported "does not apply", not passed.
mutants=$(cat <<'MUTANTS'
debugfill_bucket_check_off|heap/heap.c|s/^\(\t*\)if (rt_debug_verify(p, bsize, RT_FILL_FREED))$/\1if (0 \&\& rt_debug_verify(p, bsize, RT_FILL_FREED))/|test_errors|^test_errors\.ErrHeap\.DebugFill
hook_close_noop|heap/hooks.h|/^static inline void hook_close(/,/^}/s/^\(\t*\)rt_ck_close(p, n);$/\1(void)p, (void)n;/|vg_clean vg_uaf vg_overrun vg_leak vg_node|^valgrind_memcheck$
alloc_run_log2_map_reads|heap/page.c|/^RT_HOT void \*page_claim(/,/^}/s/^\(\t*\)rt_map_set(x, start, PG_MAKE(PG_RUN, n));$/&\n\1for (uint32_t m_ = n; m_ > 1; m_ >>= 1)\n\1\t(void)rt_map_get(x, start);/|test_steps|^test_steps\.
side_scan_one_word_late|heap/bucket.c|s/^\(\t*\)for (uint32_t i = nw; i-- > 0;) {$/\1for (uint32_t i = nw - 1; i-- > 0;) {/|test_api test_random test_steps|^(test_api|test_random|test_steps)\.
merge_next_run_skipped|heap/runs.c|s/^\(\t*\)uint32_t e = rt_map_get(x, start + \*len);$/\1uint32_t e = PG_MAKE(PG_RUN, 1); (void)rt_map_get(x, start + *len);/|test_api test_random|^(test_api|test_random)\.
lowmem_rearm_skipped|heap/heap.c|s/^\(\t*\)rt_lowmem_try_arm(h);$/\1if (0) rt_lowmem_try_arm(h);/|test_api|^test_api\.
extent_lookup_off_by_one|heap/extent.c|s/return a - base\[lo\] < h->look\[lo\].lsize ? h->look\[lo\].x : NULL;/return a - base[lo] <= h->look[lo].lsize ? h->look[lo].x : NULL;/|test_extents test_errors test_api|^(test_extents|test_errors|test_api)\.
realloc_grow_remainder_lost|heap/runs.c|s/^\(\t*\)rt_runs_insert(h, x, start + n, len - n, ck);$/\1(void)0;/|test_realloc|^test_realloc\.
realloc_shrink_keeps_tail|heap/resize.c|s/^\(\t*\)rt_runs_release(h, x, pg + m, n - m, ck);$/\1(void)0;/|test_realloc|^test_realloc\.
MUTANTS
)

if [ $list -eq 1 ]; then
  cut -d'|' -f1,2 <<<"$mutants" | tr '|' '\t'
  exit 0
fi

[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/rtheap-mutation.XXXXXX")
mkdir -p "$work"
tree="$work/src"
build="$work/build"
log="$work/log"
mkdir -p "$log"
echo "== mutation: copy of the tree in $tree, build in $build"
rm -rf "$tree"
mkdir -p "$tree"
# the sources only: no build directories (any directory holding a
# CMakeCache.txt), no git metadata
(cd "$src" && tar --exclude='./build*' --exclude='./.git' --exclude-tag-all=CMakeCache.txt -cf - .) | (cd "$tree" && tar -xf -)

cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_CXX_COMPILER=g++ -DRTHEAP_BUILD_LATENCY=OFF -DRTHEAP_BUILD_DEMO=OFF \
  -DRTHEAP_BUILD_EXAMPLES=OFF >"$log/configure.log" 2>&1 ||
  { cat "$log/configure.log"; echo "mutation: configure failed"; exit 1; }

results=()
status=0
while IFS='|' read -r name file script targets regex; do
  [ -n "$name" ] || continue
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  cp "$src/$file" "$tree/$file"
  sed -i -e "$script" "$tree/$file"
  if cmp -s "$src/$file" "$tree/$file"; then
    result="does not apply (pattern not found in $file)"
    status=1
  else
    # shellcheck disable=SC2086
    if ! cmake --build "$build" -j"$jobs" --target $targets >"$log/$name.build.log" 2>&1; then
      result="build failed (see $log/$name.build.log)"
      status=1
    elif (cd "$build" && ctest -j"$jobs" -R "$regex" >"$log/$name.ctest.log" 2>&1); then
      if grep -q "No tests were found" "$log/$name.ctest.log"; then
        result="no tests matched '$regex'"
      else
        result="SURVIVED"
      fi
      status=1
    else
      nfail=$(sed -nE 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1 of \2 tests failed/p' \
              "$log/$name.ctest.log")
      result="killed (${nfail:-tests failed})"
    fi
  fi
  cp "$src/$file" "$tree/$file" # back to the original for the next mutant
  echo "   $name: $result"
  results+=("$(printf '%-28s %-14s %s' "$name" "$file" "$result")")
done <<<"$mutants"

echo "== mutation results"
printf '%-28s %-14s %s\n' "mutant" "file" "result"
for r in "${results[@]}"; do echo "$r"; done
if [ $status -eq 0 ]; then
  echo "mutation: every mutant killed"
else
  echo "mutation: FAILED (a mutant survived, did not apply or did not build)"
fi
exit $status
