#!/usr/bin/env bash
# Host tests of the plain-Rust crates (grammar, formats, ring arithmetic).
# Prints cargo's output and, last, "N passed, N failed" for these tests.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$DMR_TOP"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --quiet 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | paste -sd+ - | bc)
failed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | paste -sd+ - | bc)
passed=${passed:-0}; failed=${failed:-0}
# A build failure runs no test at all: count it as one failure.
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "host: $passed passed, $failed failed"
[ "$rc" = 0 ]
