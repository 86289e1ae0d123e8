#!/usr/bin/env bash
# make test: host tests, then the VM suite on the debug kernel, with one
# closing line "N passed, N failed" over both.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$DMR_TOP"

hlog=$(mktemp); vlog=$(mktemp)
trap 'rm -f "$hlog" "$vlog"' EXIT

scripts/host-test.sh 2>&1 | tee "$hlog"
hrc=${PIPESTATUS[0]}
DMR_FLAVOUR=debug scripts/vm-test.sh 2>&1 | tee "$vlog"
vrc=${PIPESTATUS[0]}

count() { sed -n "s/^$1\([0-9]*\) passed, \([0-9]*\) failed$/\\$2/p" "$3" | tail -1; }
hp=$(count 'host: ' 1 "$hlog"); hf=$(count 'host: ' 2 "$hlog")
vp=$(count '' 1 "$vlog"); vf=$(count '' 2 "$vlog")
hp=${hp:-0}; hf=${hf:-0}; vp=${vp:-0}; vf=${vf:-0}
# A suite that printed no closing line failed as a whole.
[ -n "$(count '' 1 "$vlog")" ] || vf=$((vf + 1))
[ "$hrc" = 0 ] || [ "$hf" != 0 ] || hf=1
[ "$vrc" = 0 ] || [ "$vf" != 0 ] || vf=1
echo
echo "$((hp + vp)) passed, $((hf + vf)) failed"
[ $((hf + vf)) = 0 ]
