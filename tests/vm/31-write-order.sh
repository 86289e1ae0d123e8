#!/bin/sh
# timeout: 420
# Write-order fidelity of an asynchronous remote site link: at any point
# where the link is cut, the remote device is exactly the state after
# some prefix of the acknowledged writes; the local device has them all;
# once the link is back and the remote has caught up, both are equal.
#
# One writer (crashwriter order-write) does one-block writes, each
# followed by fdatasync, so each write is its own epoch; see testing.rst,
# "Write-order fidelity". The rounds continue one run (one seed, write
# numbers going on), so each check also covers every earlier round and
# resync. Set DMR_ORDER_SEED (e.g. through DMR_APPEND) to repeat a run's
# sequence; DMR_ORDER_ROUNDS changes the number of cut points (10).
. /tests/lib.sh

BLOCKS=4096                 # the replicated device: 16 MiB of 4 KiB blocks
SECTORS=$((BLOCKS * 8))
LOG_SECTORS=32768           # a 16 MiB log on /dev/ram0
ROUNDS=${DMR_ORDER_ROUNDS:-10}
SYNC_WAIT=30                # seconds for the remote to catch up

# Process starts cost 0.3-1 s each under TCG: the round loop parses with
# the shell's own expansions where it can.
seed=${DMR_ORDER_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "write-order: seed $seed, $ROUNDS rounds, $BLOCKS blocks"

for i in 0 1 2; do ramdev $i >/dev/null; done
dmc create log --table "0 $LOG_SECTORS linear /dev/ram0 0"
# The remote site's device; its table is swapped to "error" to cut the link.
dmc create remote --table "0 $SECTORS linear /dev/ram2 0"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/mapper/log 0 auto $LOG_SECTORS blockdev 1 0 blockdev 4 1 asynchronous ios 10000"
ctl=$(devno repl)
# Both devices start zeroed, so the remote starts in sync (nosync).
dmc create r0 --table "0 $SECTORS replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/remote core 2 64 nosync"
# A link that is down is tried again after 5 s by default; 0.5 s keeps
# the rounds short.
dmc message repl 0 slink message 1 retest 500
echo "replicator: $(dmc status repl | cut -d' ' -f4-)"
echo "r0: $(dmc status r0 | cut -d' ' -f4-)"

link() {
	dmc suspend --noflush remote
	dmc load remote --table "$1"
	dmc resume remote
}

# check WHAT DEV [--at-least K]: order-check DEV against the log; sets
# $state to the write its state is after.
check() {
	local what=$1 dev=$2 out
	shift 2
	out=$(crashwriter order-check --dev "$dev" --blocks $BLOCKS --seed "$seed" --log "$LOG" "$@") ||
		fail "round $r: $what: $out"
	echo "$out"
	state=${out#order-check: device is the state after write }
	state=${state%% *}
}

# Sets $backlog to the live log entries remote site link 1 still needs
# (replicator status: <#slinks> {<slink_nr> <S|A>,<ios>,<sectors>}...).
backlog1() {
	local n i
	set -- $(dmc status repl)
	n=$6
	shift 6
	backlog=
	i=0
	while [ $i -lt "$n" ]; do
		if [ "$1" = 1 ]; then
			backlog=${2#*,}
			backlog=${backlog%,*}
		fi
		shift 2
		i=$((i + 1))
	done
}

# Wait until the remote is in sync (<in_sync>/<regions> of site link 1
# complete) and site link 1 needs no more log entries.
wait_in_sync() {
	local deadline now st
	read -r now _ </proc/uptime
	deadline=$((${now%.*} + SYNC_WAIT))
	while :; do
		r0_status=$(dmc status r0)
		st=${r0_status##* }
		if [ "${st%/*}" = "${st#*/}" ]; then
			backlog1
			[ "$backlog" != 0 ] || return 0
		fi
		read -r now _ </proc/uptime
		[ "${now%.*}" -lt "$deadline" ] ||
			fail "round $r: remote not in sync after $SYNC_WAIT s: r0: $(dmc status r0 | cut -d' ' -f4-); replicator: $(dmc status repl | cut -d' ' -f4-)"
		sleep 0.2
	done
}

LOG=$DMR_TMP/order.log
: >"$LOG"
n=0
r=0
x=$((seed % 2147483648))
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	first=$((n + 1))
	# 0.3 to 2 s, from the seed (an LCG, its high bits).
	x=$(((x * 1103515245 + 12345) % 2147483648))
	ms=$((300 + x / 65536 % 1701))
	# The writer's own limit only matters if the test goes wrong.
	crashwriter order-write --dev /dev/mapper/r0 --blocks $BLOCKS --seed "$seed" \
		--first $first --duration-ms 60000 --out "$LOG" 2>"$DMR_TMP/writer.err" &
	wpid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"

	# Cut the link while the writer runs, then stop it. An asynchronous
	# site link must not fail writes when its device does.
	link "0 $SECTORS error"
	if kill "$wpid" 2>/dev/null; then
		wait "$wpid" || true
	else
		wait "$wpid" || fail "round $r: the writer failed: $(cat "$DMR_TMP/writer.err")"
		fail "round $r: the writer ended by itself: $(cat "$DMR_TMP/writer.err")"
	fi
	n=$(tail -n 1 "$LOG")
	n=${n%% *}
	n=${n:-0}
	[ "$n" -ge $first ] || fail "round $r: no write acknowledged in $ms ms"

	# The remote's own device (below the cut) is a prefix state; the
	# local device has every acknowledged write.
	check "remote after the cut" /dev/ram2
	at_cut=$state
	check "local device" /dev/ram1 --at-least "$n"
	m_local=$state

	# Link back; the remote catches up and ends equal to the local device.
	link "0 $SECTORS linear /dev/ram2 0"
	read -r t0 _ </proc/uptime
	wait_in_sync
	read -r t1 _ </proc/uptime
	# Both exact states after the same write: the same bytes (a sha256 of
	# 2 x 16 MiB would cost ~4 s per round under TCG; it is done once at
	# the end).
	check "remote after resync" /dev/ram2 --at-least "$n"
	assert_eq "$state" "$m_local" "round $r: the remote's state after resync (after write N) vs the local device's"
	echo "round $r: writes $first..$n in $ms ms; remote at the cut: after write $at_cut; local and remote after resync: after write $m_local; in sync $t0..$t1 s (uptime); r0: ${r0_status#* * * }"
done

assert_eq "$(sha /dev/ram2 $SECTORS)" "$(sha /dev/ram1 $SECTORS)" "sha256 of the remote and the local device at the end"

dmc remove r0
dmc remove repl
dmc remove remote
dmc remove log
