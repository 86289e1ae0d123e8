#!/usr/bin/env bash
# Host tests of the plain-Rust crates (grammar, formats, ring arithmetic),
# then clippy over the workspace with warnings as errors, counted as one
# more test ("ok clippy" or "FAIL clippy: <first error>").
# Prints cargo's output and, last, "host: N passed, N failed" for these.
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
if cargo clippy --workspace --all-targets --quiet -- -D warnings >"$log" 2>&1; then
	echo "ok clippy"
	passed=$((passed + 1))
else
	cat "$log"
	# The first error and where it is, on one line.
	why=$(grep -m1 '^error' "$log")
	at=$(grep -m1 -o -- '--> .*' "$log")
	echo "FAIL clippy: ${why:-$(tail -n 1 "$log")}${at:+ (${at#--> })}"
	failed=$((failed + 1))
	rc=1
fi
echo "host: $passed passed, $failed failed"
[ "$rc" = 0 ]
