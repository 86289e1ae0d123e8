#!/bin/sh
# timeout: 1200
# Power cuts: every write, flush and FUA that reaches the devices of a
# group is recorded (powercut record serves them through NBD) while four
# threads write to both replicated devices; then, for many cut points of
# that history, the state a power cut would leave (flushed writes kept,
# the others kept, lost or torn) is put on RAM disks, the same tables are
# loaded, and every acknowledged write must be there, with a log that
# checks clean once the group is removed. Three scenarios:
#   load    the ring wraps, checkpoints, an online replog resize;
#   replay  a second recording that starts from the state a cut at the
#           end of the load left: its cuts fall during recovery and
#           replay themselves, and their checks are a second recovery;
#   remote  an asynchronous remote site (which keeps its power) on both
#           devices: its copy at each cut must be in write order at flush
#           granularity, and after activation the link must bring it
#           level with the local devices by itself;
#   resync  the same with the remote copies out of sync at the start, so
#           that cuts fall while they are being resynchronised: they
#           must still catch up by themselves.
#
# DMR_POWERCUT_POINTS (cuts of the load, default 25; replay gets two
# fifths as many, remote one fifth, resync one tenth) and
# DMR_POWERCUT_SEED (default: random, printed) change the run; vm-test.sh
# passes them on.
. /tests/lib.sh

seed=${DMR_POWERCUT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
points=${DMR_POWERCUT_POINTS:-25}
replay_points=$(((points * 2 + 4) / 5))
remote_points=$(((points + 4) / 5))
resync_points=$(((points + 9) / 10))
echo "powercut seed $seed, $points + $replay_points + $remote_points + $resync_points cuts"
# Local devices of 2 MiB; a 3 MiB log device whose 1 MiB ring wraps
# under the load and is then grown online to 1.5 MiB (replog resize); the
# remote site's copies of both devices back to back on a 4 MiB device.
# The loads are as small as still makes the ring wrap: recording one
# costs about 20 s of the debug guest.
SECTORS=4096 BLOCKS=512 RING=2048 LOGSECTORS=3072
LOCAL_SIZES="3M 2M 2M" REMOTE_SIZES="2M 2M 2M 4M"

for i in 0 1 2 3; do ramdev $i >/dev/null; done

# The tables, one "NAME TABLE" a line: %N is trace device N (the log
# device, local devices, remote device), @NAME an earlier table's device.
cat >local.tables <<EOF
repl 0 1 replicator ringbuffer 4 %0 0 auto $RING blockdev 2 0 synchronous
data0 0 $SECTORS replicator-dev @repl 0 0 1 %1 nolog 0
data1 0 $SECTORS replicator-dev @repl 1 0 1 %2 nolog 0
EOF
cat >remote.tables <<EOF
rem0 0 $SECTORS linear %3 0
rem1 0 $SECTORS linear %3 $SECTORS
repl 0 1 replicator ringbuffer 4 %0 0 auto $RING blockdev 2 0 synchronous blockdev 2 1 asynchronous
data0 0 $SECTORS replicator-dev @repl 0 0 1 %1 nolog 0 1 1 @rem0 core 2 128 nosync
data1 0 $SECTORS replicator-dev @repl 1 0 1 %2 nolog 0 1 1 @rem1 core 2 128 nosync
EOF

sed 's/ nosync$/ sync/' remote.tables >resync.tables

# create_tables FILE: creates FILE's tables over /dev/nbdN, in order.
create_tables() {
	while read -r t_name t_table; do
		t_table=$(echo "$t_table" | sed 's|%\([0-9]\)|/dev/nbd\1|g')
		for ref in $(echo "$t_table" | grep -o '@[a-z0-9]*'); do
			t_table=$(echo "$t_table" | sed "s|$ref|$(devno "${ref#@}")|")
		done
		dmc create "$t_name" --table "$t_table"
	done <"$1"
}

# next_seq_over N: yes once the log's next sequence number is above N
# (the log's status ends "8 A <head> <next> ...").
next_seq_over() {
	dm_status repl | awk -v n="$1" '{ for (i = 1; i < NF; i++) if ($i == "A" && ($(i - 1) == 8 || $(i - 1) == 4)) { print ($(i + 2) > n ? "yes" : "no"); exit } }'
}

# record NAME TABLES SIZES LOAD_ARGS [IMAGE_PREFIX [RESIZE]]: one
# recording into NAME.trace. SIZES: one size per trace device (/dev/nbdN).
# The load is crashwriter write LOAD_ARGS on both mapped devices; with
# RESIZE, the log is resized to RESIZE sectors half way through it.
record() {
	name=$1 tables=$2 sizes=$3 load=$4 img=${5:-} resize=${6:-}
	rm -f marks && mkfifo marks
	devs= i=0
	for size in $sizes; do
		devs="$devs --dev /dev/nbd$i=$size${img:+:$img.$i}"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086 # the device list
	powercut record $devs --marks marks --out "$name.trace" >"$name.rec" 2>&1 &
	rec=$!
	wait_eq 1 "recorder ready" grep -c "^powercut: recording" "$name.rec"
	create_tables "$tables"
	# shellcheck disable=SC2086 # the load's arguments
	crashwriter write --dev /dev/mapper/data0 --dev /dev/mapper/data1 --blocks $BLOCKS $load >marks &
	load_pid=$!
	if [ -n "$resize" ]; then
		# With entries live and writes going on.
		wait_eq yes "an eighth of the load logged" next_seq_over 60
		dmc message repl 0 replog resize "$resize"
	fi
	wait $load_pid || fail "the load under the recorder failed"
	for t in $(awk '{ n[NR] = $1 } END { for (i = NR; i > 0; i--) print n[i] }' "$tables"); do
		dmc remove "$t"
	done
	echo end >marks
	wait $rec || { cat "$name.rec"; fail "powercut record failed"; }
	cat "$name.rec"
}

# A group of the same targets at the far end of /dev/ram3 stays up while
# the cuts are checked: it holds the bio slabs of the targets' bio_sets,
# which the debug kernel (KASAN) would otherwise destroy and create again
# with every group, a second per cut.
anchor_up() {
	dmc create pcanchor --table "0 1 replicator ringbuffer 4 /dev/ram3 32768 auto $SECTORS blockdev 2 0 synchronous"
	dmc create pcanchor-local --table "0 $SECTORS linear /dev/ram3 40960"
	dmc create pcanchor-dev --table "0 $SECTORS replicator-dev $(devno pcanchor) 0 0 1 /dev/mapper/pcanchor-local nolog 0"
}
anchor_down() {
	dmc remove pcanchor-dev
	dmc remove pcanchor-local
	dmc remove pcanchor
}

# check NAME TABLES SIZES POINTS ACKS [ARGS...]: check POINTS cuts of
# NAME.trace (recorded with TABLES on devices of SIZES), with the acks of
# the file ACKS ("": none) from before the trace; ARGS go to powercut.
check() {
	name=$1 tables=$2 sizes=$3 n=$4 acks=$5
	shift 5
	devs= i=0
	for _ in $sizes; do
		devs="$devs --dev /dev/ram$i"
		i=$((i + 1))
	done
	anchor_up
	# shellcheck disable=SC2086 # the device list and the optional arguments
	powercut check --name "$name" --trace "$name.trace" $devs \
		--tables "$tables" --verify data0 --verify data1 --local 1 --local 2 --log 0 \
		--blocks $BLOCKS --points "$n" --seed "$seed" ${acks:+--acks "$acks"} "$@" >"$name.out" 2>&1 ||
		{ cat "$name.out"; fail "power cuts of the $name scenario: $(grep -c FAIL "$name.out") failed"; }
	cat "$name.out"
	anchor_down
}

step record the load
record load local.tables "$LOCAL_SIZES" \
	"--seed $seed --start-seq 1 --threads 4 --count 120 --sync-every 20" "" $LOGSECTORS
step cuts of the load
check load local.tables "$LOCAL_SIZES" "$points" ""

step record recovery and replay
# The state a cut right after the load's last acknowledgement leaves:
# every entry since the last checkpoint is replayed on activation.
powercut state --trace load.trace --seed "$seed" --out cut
record replay local.tables "$LOCAL_SIZES" "--seed $((seed + 1)) --start-seq 100000 --threads 2 --count 40" cut
step cuts of recovery and replay
check replay local.tables "$LOCAL_SIZES" "$replay_points" cut.acks

step record a load with a remote site
record remote remote.tables "$REMOTE_SIZES" \
	"--seed $((seed + 2)) --start-seq 200000 --threads 4 --count 80 --sync-every 10 --issue-marks"
step cuts of the primary, the remote site powered
check remote remote.tables "$REMOTE_SIZES" "$remote_points" "" --remote-image 3 --remote rem0 --remote rem1

step record a load while the remote site resynchronises
record resync resync.tables "$REMOTE_SIZES" \
	"--seed $((seed + 3)) --start-seq 300000 --threads 4 --count 80 --sync-every 10"
step cuts of the primary during the resync
check resync resync.tables "$REMOTE_SIZES" "$resync_points" "" \
	--remote-image 3 --remote rem0 --remote rem1 --resyncing
