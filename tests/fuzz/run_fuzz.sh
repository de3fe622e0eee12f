#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the libFuzzer target over a fresh copy of the seed corpus.
# Usage: run_fuzz.sh FUZZER SEED_CORPUS WORKDIR [libFuzzer options...]
# e.g.   run_fuzz.sh ./rtheap_fuzz tests/fuzz/corpus /tmp/fz -max_total_time=60
# Exit status: 0 when nothing was found, non-zero on any finding (the
# crashing input is left in WORKDIR as crash-* / leak-* / timeout-*).
set -eu
FUZZER=$1; SEEDS=$2; WORK=$3; shift 3
rm -rf "$WORK"
mkdir -p "$WORK/corpus"
cp "$SEEDS"/* "$WORK/corpus/" 2>/dev/null || true
exec "$FUZZER" -artifact_prefix="$WORK/" -max_len=256 -timeout=20 -rss_limit_mb=2048 \
	-print_final_stats=1 "$@" "$WORK/corpus"
