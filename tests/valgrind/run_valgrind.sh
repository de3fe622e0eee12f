#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the valgrind programs (linked with the default rtheap) under Memcheck and check
# that each misuse inside an rtheap heap is reported.
# Usage: run_valgrind.sh VALGRIND DIR_OF_PROGRAMS
set -u
VG=${1:-valgrind}
DIR=${2:-.}
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run NAME EXPECTED_STATUS PATTERN...: every PATTERN must appear in the log.
run() {
	name=$1; want=$2; shift 2
	"$VG" --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
		--errors-for-leak-kinds=definite "$DIR/$name" >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $name: exit status $rc, expected $want"; cat "$out"; fail=1; return
	fi
	for pat in "$@"; do
		if ! grep -q -- "$pat" "$out"; then
			echo "FAIL $name: no '$pat' in the valgrind report"; cat "$out"; fail=1; return
		fi
	done
	echo "ok   $name: status $rc; found: $*"
}

run vg_clean 0 "ERROR SUMMARY: 0 errors"
run vg_uaf 99 "Invalid read of size 1" "vg_uaf.c" "ERROR SUMMARY: 2 errors"
run vg_overrun 99 "Invalid write of size 1" "vg_overrun.c" "ERROR SUMMARY: 2 errors"
run vg_node 99 "Invalid read of size 1" "vg_node.c" "ERROR SUMMARY: 2 errors"
run vg_cache 99 "Invalid read of size 4" "Invalid write of size 1" "vg_cache.c" "ERROR SUMMARY: 2 errors"
run vg_region 99 "Invalid read of size 1" "Invalid write of size 1" "vg_region.c" "ERROR SUMMARY: 2 errors"
run vg_realloc 99 "Invalid write of size 1" "Invalid read of size 1" "vg_realloc.c" "ERROR SUMMARY: 2 errors"
run vg_kmem 99 "Invalid read of size 1" "Invalid write of size 1" "vg_kmem.c" "ERROR SUMMARY: 2 errors"
run vg_leak 99 "definitely lost: 2,176 bytes in 2 blocks" "vg_leak.c"

# vg_attach runs natively and starts its second process under Memcheck:
# rtheap_attach() there must answer -ENOTSUP and leave the heap as it was.
"$DIR/vg_attach" "$VG" >"$out" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
	echo "skip vg_attach: $(cat "$out")"
elif [ "$rc" -ne 0 ] || ! grep -q "attach under Memcheck: -ENOTSUP" "$out"; then
	echo "FAIL vg_attach: exit status $rc"; cat "$out"; fail=1
else
	echo "ok   vg_attach: status 0; found: attach under Memcheck: -ENOTSUP"
fi
exit $fail
