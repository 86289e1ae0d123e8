#!/usr/bin/env bash
# make test: host tests, then the VM suite, the crash test (20 rounds) and
# the two-site suite on the debug kernel, with one closing line
# "N passed, N failed" over all.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$DMR_TOP"

hlog=$(mktemp); vlog=$(mktemp); clog=$(mktemp); plog=$(mktemp)
trap 'rm -f "$hlog" "$vlog" "$clog" "$plog"' EXIT

scripts/host-test.sh 2>&1 | tee "$hlog"
hrc=${PIPESTATUS[0]}
DMR_FLAVOUR=debug scripts/vm-test.sh 2>&1 | tee "$vlog"
vrc=${PIPESTATUS[0]}
# Each crash point counts as one test.
DMR_FLAVOUR=debug scripts/crash-test.sh 20 2>&1 | tee "$clog"
crc=${PIPESTATUS[0]}
# Two guests: tests/pair/ (primary and DR site over NBD).
DMR_FLAVOUR=debug scripts/vm-pair.sh 2>&1 | tee "$plog"
prc=${PIPESTATUS[0]}

count() { sed -n "s/^$1\([0-9]*\) passed, \([0-9]*\) failed$/\\$2/p" "$3" | tail -1; }
hp=$(count 'host: ' 1 "$hlog"); hf=$(count 'host: ' 2 "$hlog")
vp=$(count '' 1 "$vlog"); vf=$(count '' 2 "$vlog")
crp=$(count '' 1 "$clog"); crf=$(count '' 2 "$clog")
pp=$(count '' 1 "$plog"); pf=$(count '' 2 "$plog")
hp=${hp:-0}; hf=${hf:-0}; vp=${vp:-0}; vf=${vf:-0}; crp=${crp:-0}; crf=${crf:-0}; pp=${pp:-0}; pf=${pf:-0}
# A suite that printed no closing line failed as a whole.
[ -n "$(count '' 1 "$vlog")" ] || vf=$((vf + 1))
[ -n "$(count '' 1 "$clog")" ] || crf=$((crf + 1))
[ -n "$(count '' 1 "$plog")" ] || pf=$((pf + 1))
[ "$hrc" = 0 ] || [ "$hf" != 0 ] || hf=1
[ "$vrc" = 0 ] || [ "$vf" != 0 ] || vf=1
[ "$crc" = 0 ] || [ "$crf" != 0 ] || crf=1
[ "$prc" = 0 ] || [ "$pf" != 0 ] || pf=1
echo
echo "$((hp + vp + crp + pp)) passed, $((hf + vf + crf + pf)) failed"
[ $((hf + vf + crf + pf)) = 0 ]
