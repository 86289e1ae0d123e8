#!/bin/sh
# timeout: 900
# Power cuts: every write, flush and FUA that reaches the log device and
# the two local devices of a group is recorded (powercut record serves
# them through NBD) while four threads write to both replicated devices;
# then, for many cut points of that history, the state a power cut would
# leave (flushed writes kept, the others kept, lost or torn) is put on RAM
# disks, the same tables are loaded, and every acknowledged write must be
# there, with a log that checks clean once the group is removed. A second
# recording starts from the state a cut at the end of the load left, so
# its cuts fall during recovery and replay themselves, and their checks
# are a second recovery.
#
# DMR_POWERCUT_POINTS (cuts of the load, default 150; the replay
# scenario gets two fifths as many) and DMR_POWERCUT_SEED (default:
# random, printed) change the run; vm-test.sh passes them on.
. /tests/lib.sh

seed=${DMR_POWERCUT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
points=${DMR_POWERCUT_POINTS:-150}
replay_points=$(( (points * 2 + 4) / 5 ))
echo "powercut seed $seed, $points + $replay_points cuts"
# Local devices of 2 MiB; a 3 MiB log device whose 2 MiB ring wraps
# under the load and is then grown online to 3 MiB (replog resize).
SIZE=2M SECTORS=4096 BLOCKS=512 LOGSIZE=3M LOGSECTORS=6144

for i in 0 1 2 3; do ramdev $i >/dev/null; done

# tables DEV0 DEV1 DEV2: the group's tables, one "NAME TABLE" per line.
tables() {
	echo "repl 0 1 replicator ringbuffer 4 $1 0 auto $SECTORS blockdev 2 0 synchronous"
	echo "data0 0 $SECTORS replicator-dev @repl 0 0 1 $2 nolog 0"
	echo "data1 0 $SECTORS replicator-dev @repl 1 0 1 $3 nolog 0"
}
tables %0 %1 %2 >tables

# next_seq_over N: yes once the log's next sequence number is above N.
next_seq_over() {
	dm_status repl | awk -v n="$1" '{ for (i = 1; i < NF; i++) if ($i == "A" && ($(i - 1) == 8 || $(i - 1) == 4)) { print ($(i + 2) > n ? "yes" : "no"); exit } }'
}

# record NAME LOAD_ARGS [IMAGE_PREFIX [RESIZE]]: one recording into
# NAME.trace; the load is crashwriter write LOAD_ARGS on both mapped
# devices; with RESIZE, the log is resized to RESIZE sectors during it.
record() {
	name=$1 load=$2 img=${3:-} resize=${4:-}
	rm -f marks && mkfifo marks
	devs=
	for i in 0 1 2; do
		size=$SIZE
		[ $i != 0 ] || size=$LOGSIZE
		devs="$devs --dev /dev/nbd$i=$size${img:+:$img.$i}"
	done
	# shellcheck disable=SC2086 # the device list
	powercut record $devs --marks marks --out "$name.trace" >"$name.rec" 2>&1 &
	rec=$!
	wait_eq 1 "recorder ready" grep -c "^powercut: recording" "$name.rec"
	tables /dev/nbd0 /dev/nbd1 /dev/nbd2 >rec.tables
	dmc create repl --table "$(sed -n 's/^repl //p' rec.tables)"
	for d in data0 data1; do
		dmc create $d --table "$(sed -n "s/^$d //p" rec.tables | sed "s/@repl/$(devno repl)/")"
	done
	# shellcheck disable=SC2086 # the load's arguments
	crashwriter write --dev /dev/mapper/data0 --dev /dev/mapper/data1 --blocks $BLOCKS $load >marks &
	load_pid=$!
	if [ -n "$resize" ]; then
		# Half way through the load, with entries live and writes going
		# on: the log's status ends "8 A <head> <next> ...".
		wait_eq yes "half the load logged" next_seq_over 120
		dmc message repl 0 replog resize "$resize"
	fi
	wait $load_pid || fail "the load under the recorder failed"
	dmc remove data1
	dmc remove data0
	dmc remove repl
	echo end >marks
	wait $rec || { cat "$name.rec"; fail "powercut record failed"; }
	cat "$name.rec"
}

# A group of the same targets on /dev/ram3 stays up while the cuts are
# checked: it holds the bio slabs of the targets' bio_sets, which the
# debug kernel (KASAN) would otherwise destroy and create again with
# every group, a second per cut.
anchor_up() {
	dmc create pcanchor --table "0 1 replicator ringbuffer 4 /dev/ram3 0 auto $SECTORS blockdev 2 0 synchronous"
	dmc create pcanchor-local --table "0 $SECTORS linear /dev/ram3 $SECTORS"
	dmc create pcanchor-dev --table "0 $SECTORS replicator-dev $(devno pcanchor) 0 0 1 /dev/mapper/pcanchor-local nolog 0"
}
anchor_down() {
	dmc remove pcanchor-dev
	dmc remove pcanchor-local
	dmc remove pcanchor
}

# check NAME POINTS [ACKS]: check POINTS cuts of NAME.trace.
check() {
	powercut check --name "$1" --trace "$1.trace" --dev /dev/ram0 --dev /dev/ram1 --dev /dev/ram2 \
		--tables tables --verify data0 --verify data1 --local 1 --local 2 --log 0 \
		--blocks $BLOCKS --points "$2" --seed "$seed" ${3:+--acks "$3"} >"$1.out" 2>&1 ||
		{ cat "$1.out"; fail "power cuts of the $1 scenario: $(grep -c FAIL "$1.out") failed"; }
	cat "$1.out"
}

step record the load
record load "--seed $seed --start-seq 1 --threads 4 --count 240 --sync-every 40" "" $LOGSECTORS
step cuts of the load
anchor_up
check load "$points"
anchor_down

step record recovery and replay
# The state a cut right after the load's last acknowledgement leaves:
# every entry since the last checkpoint is replayed on activation.
powercut state --trace load.trace --seed "$seed" --out cut
record replay "--seed $((seed + 1)) --start-seq 100000 --threads 2 --count 40" cut
step cuts of recovery and replay
anchor_up
check replay "$replay_points" cut.acks
anchor_down
