#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The installed library speaks to the memory checkers users run.
#
# Installs the build into a temporary prefix, builds tests/checkers/uaf.c
# against it with pkg-config, as a user would, and checks that:
#   - built with -fsanitize=address, "uaf uaf" is stopped by ASan with a
#     use-after-poison report naming the touched address in the freed block;
#   - built without sanitizer and run under valgrind, "uaf uaf" gets
#     Memcheck's invalid read and invalid write inside the freed block;
#   - "uaf clean" (the same program without the use after free) passes
#     clean under both.
# A part whose tool is missing (a compiler without ASan, no valgrind) is
# skipped with a message; then the test reports itself skipped (exit 77)
# unless a part that ran failed.
#
# Usage: run_checkers.sh CMAKE BUILD_DIR UAF_SOURCE CC LIBDIR VALGRIND WORK_DIR
#   LIBDIR: the install's library directory, relative to the prefix;
#   VALGRIND: path of valgrind, or "" when it is missing.
set -u
CMAKE=$1 BUILD=$2 SRC=$3 CC=$4 LIBDIR=$5 VALGRIND=$6 WORK=$7

fail=0
skipped=""
say() { printf '%s\n' "$*"; }
bad() { say "FAIL $*"; fail=1; }

rm -rf "$WORK"
mkdir -p "$WORK" || exit 1
PREFIX=$WORK/prefix

# ---- install, then ask pkg-config as a user would ----
if ! "$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" 2>&1; then
	cat "$WORK/install.log"
	say "FAIL cmake --install into $PREFIX"
	exit 1
fi
if ! command -v pkg-config >/dev/null 2>&1; then
	say "SKIPPED: pkg-config not found"
	exit 77
fi
PKG_CONFIG_PATH=$PREFIX/$LIBDIR/pkgconfig
export PKG_CONFIG_PATH
# As the README says: the .pc file finds the prefix from its own place.
pc() { pkg-config "$@" rtheap; }
if [ -e "$PREFIX/$LIBDIR/librtheap.so" ]; then
	kind=shared
	LIBS="$(pc --libs) -Wl,-rpath,$PREFIX/$LIBDIR"
elif [ -e "$PREFIX/$LIBDIR/librtheap.a" ]; then
	kind=static
	LIBS=$(pc --libs)
else
	say "FAIL no librtheap.so or librtheap.a in $PREFIX/$LIBDIR"
	exit 1
fi
CFLAGS=$(pc --cflags) || { say "FAIL pkg-config --cflags rtheap"; exit 1; }
say "library under test: $kind, installed in $PREFIX/$LIBDIR"
say "pkg-config: $CFLAGS $LIBS"

# hex address from a line "WORD 0x..." printed by uaf.c
addr_of() { sed -n "s/^$1 \(0x[0-9a-fA-F]*\).*/\1/p" "$2" | head -n 1; }

# ---- AddressSanitizer ----
printf 'int main(void) { return 0; }\n' >"$WORK/probe.c"
if ! "$CC" -fsanitize=address "$WORK/probe.c" -o "$WORK/probe" >/dev/null 2>&1 ||
   ! "$WORK/probe" >/dev/null 2>&1; then
	say "SKIPPED ASan part: $CC cannot build and run a -fsanitize=address program"
	skipped="$skipped asan"
elif ! "$CC" -g -fsanitize=address -fno-omit-frame-pointer $CFLAGS "$SRC" -o "$WORK/uaf_asan" \
		$LIBS >"$WORK/cc_asan.log" 2>&1; then
	cat "$WORK/cc_asan.log"
	bad "asan: cannot build uaf.c against the installed library"
else
	ASAN_OPTIONS=detect_leaks=0
	export ASAN_OPTIONS
	"$WORK/uaf_asan" clean >"$WORK/asan_clean.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || grep -q AddressSanitizer "$WORK/asan_clean.log"; then
		cat "$WORK/asan_clean.log"
		bad "asan clean: status $rc, expected 0 and no report"
	else
		say "ok   asan clean: no report"
	fi
	"$WORK/uaf_asan" uaf >"$WORK/asan_uaf.log" 2>&1
	rc=$?
	touch_at=$(addr_of touch "$WORK/asan_uaf.log")
	block=$(addr_of block "$WORK/asan_uaf.log")
	rep=$(sed -n 's/.*AddressSanitizer: use-after-poison on address \(0x[0-9a-fA-F]*\).*/\1/p' \
		"$WORK/asan_uaf.log" | head -n 1)
	if [ $rc -eq 0 ] || [ -z "$rep" ] || [ -z "$touch_at" ] || [ -z "$block" ]; then
		cat "$WORK/asan_uaf.log"
		bad "asan uaf: status $rc, expected ASan's use-after-poison report"
	elif [ $((rep)) -ne $((touch_at)) ] || [ $((rep)) -lt $((block)) ] ||
	     [ $((rep)) -ge $((block + 64)) ]; then
		cat "$WORK/asan_uaf.log"
		bad "asan uaf: report names $rep, not the touched byte $touch_at of block $block"
	else
		say "ok   asan uaf: use-after-poison on $rep (block $block, 64 bytes)"
	fi
fi

# ---- valgrind Memcheck ----
if [ -z "$VALGRIND" ] || ! "$VALGRIND" --version >/dev/null 2>&1; then
	say "SKIPPED valgrind part: valgrind not found"
	skipped="$skipped valgrind"
elif ! "$CC" -g $CFLAGS "$SRC" -o "$WORK/uaf_plain" $LIBS >"$WORK/cc_plain.log" 2>&1; then
	cat "$WORK/cc_plain.log"
	bad "valgrind: cannot build uaf.c against the installed library"
else
	vg() { "$VALGRIND" --error-exitcode=99 "$WORK/uaf_plain" "$1" >"$WORK/vg_$1.log" 2>&1; }
	vg clean
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$WORK/vg_clean.log"; then
		cat "$WORK/vg_clean.log"
		bad "valgrind clean: status $rc, expected 0 and no error"
	else
		say "ok   valgrind clean: 0 errors"
	fi
	vg uaf
	rc=$?
	log=$WORK/vg_uaf.log
	touch_at=$(addr_of touch "$log")
	# "Address 0x... is 8 bytes inside a block of size 64 free'd", once
	# for the read and once for the write
	inside=$(grep -ci "Address $touch_at is 8 bytes inside a block of size 64 free'd" "$log")
	if [ $rc -ne 99 ] || [ -z "$touch_at" ] ||
	   ! grep -q "Invalid read of size 1" "$log" ||
	   ! grep -q "Invalid write of size 1" "$log" || [ "$inside" -ne 2 ]; then
		cat "$log"
		bad "valgrind uaf: status $rc, expected 99 with an invalid read and an invalid write at $touch_at, 8 bytes inside the freed block of 64"
	else
		say "ok   valgrind uaf: invalid read and write at $touch_at, inside the freed block"
	fi
fi

[ $fail -ne 0 ] && exit 1
if [ -n "$skipped" ]; then
	say "SKIPPED:$skipped (see above); the rest passed ($kind library)"
	exit 77
fi
say "PASSED: ASan and Memcheck see a use after free inside the installed $kind library"
exit 0
