#!/bin/sh
# timeout: 300
# Write-order fidelity across a group: two devices of one group, each
# written by two threads at once (crashwriter group-write: every write
# followed by fdatasync and then logged, with the number of log lines
# seen before it was issued). Wherever the asynchronous link is cut, the
# two remote devices together must hold every write that a write they
# hold depends on (acknowledged and synced before it was issued), on
# either device; the local devices hold every logged write; after the
# link is back both remotes equal their local devices. See testing.rst,
# "Write-order fidelity". DMR_ORDER_SEED repeats a run; DMR_ORDER_ROUNDS
# changes the number of cuts (2).
. /tests/lib.sh

BLOCKS=1024                 # each replicated device: 4 MiB of 4 KiB blocks
SECTORS=$((BLOCKS * 8))
REGIONS=$((SECTORS / 64))    # core dirty logs, 32 KiB regions
ROUNDS=${DMR_ORDER_ROUNDS:-2}
seed=${DMR_ORDER_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "group order: seed $seed, $ROUNDS rounds, 2 devices of $BLOCKS blocks, 2 threads each"

for i in 0 1 2 3; do ramdev $i >/dev/null; done
# Local devices: /dev/ram1 and /dev/ram3; remotes: two halves of
# /dev/ram2, each behind a table swapped to "error" to cut the link, and
# read below the cut through views of their own.
dmc create rem0 --table "0 $SECTORS linear /dev/ram2 0"
dmc create rem1 --table "0 $SECTORS linear /dev/ram2 $SECTORS"
dmc create view0 --table "0 $SECTORS linear /dev/ram2 0"
dmc create view1 --table "0 $SECTORS linear /dev/ram2 $SECTORS"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 32768 blockdev 1 0 blockdev 4 1 asynchronous ios 10000"
ctl=$(devno repl)
dmc create r0 --table "0 $SECTORS replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rem0 core 2 64 nosync"
dmc create r1 --table "0 $SECTORS replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 /dev/mapper/rem1 core 2 64 nosync"
dmc message repl 0 slink message 1 retest 500

cut() {
	lower rem0 "0 $SECTORS error"
	lower rem1 "0 $SECTORS error"
}
restore() {
	lower rem0 "0 $SECTORS linear /dev/ram2 0"
	lower rem1 "0 $SECTORS linear /dev/ram2 $SECTORS"
}
LOG=$DMR_TMP/group.log
: >"$LOG"
gcheck() {
	local what=$1 out
	shift
	out=$(crashwriter group-check "$@" --blocks $BLOCKS --seed "$seed" --log "$LOG") ||
		fail "round $r: $what: $out"
	echo "round $r: $what: $out"
}

r=0
x=$((seed % 2147483648))
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	x=$(((x * 1103515245 + 12345) % 2147483648))
	ms=$((300 + x / 65536 % 1701))
	lines=$(wc -l <"$LOG")
	crashwriter group-write --dev /dev/mapper/r0 --dev /dev/mapper/r1 --threads 2 \
		--blocks $BLOCKS --seed "$seed" --duration-ms 60000 --log "$LOG" 2>"$DMR_TMP/writer.err" &
	wpid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	cut
	if kill -KILL "$wpid" 2>/dev/null; then
		wait "$wpid" || true
	else
		wait "$wpid" || fail "round $r: the writer failed: $(cat "$DMR_TMP/writer.err")"
		fail "round $r: the writer ended by itself: $(cat "$DMR_TMP/writer.err")"
	fi
	[ "$(wc -l <"$LOG")" -gt "$lines" ] || fail "round $r: no write logged in $ms ms"
	step "round $r: cut after $ms ms"
	gcheck "remotes at the cut" --dev /dev/mapper/view0 --dev /dev/mapper/view1
	gcheck "local devices" --dev /dev/ram1 --dev /dev/ram3 --all
	restore
	wait_eq "A,0,0" "round $r: the link catches up" slink_backlog 1
	wait_eq "A $REGIONS/$REGIONS" "round $r: r0 in sync" remote_state r0 1
	wait_eq "A $REGIONS/$REGIONS" "round $r: r1 in sync" remote_state r1 1
	gcheck "remotes after the catch-up" --dev /dev/mapper/view0 --dev /dev/mapper/view1 --all
done
assert_eq "$(sha /dev/mapper/view0)" "$(sha /dev/ram1 $SECTORS)" "r0's remote equals its local device"
assert_eq "$(sha /dev/mapper/view1)" "$(sha /dev/ram3 $SECTORS)" "r1's remote equals its local device"

for d in r0 r1 repl rem0 rem1 view0 view1; do dmc remove $d; done
