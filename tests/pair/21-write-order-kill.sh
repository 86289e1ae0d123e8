#!/bin/sh
# timeout: 720
# dr-disks: 4
# Write-order fidelity over NBD with the DR guest killed: an asynchronous
# site link to the DR's disk 3 (a fresh image no other test writes, so
# the copy starts in sync with the zeroed local device); crashwriter order-write (one-block writes,
# each followed by fdatasync, so each write is its own epoch) runs on the
# replicated device, and at a seeded-random moment the DR's QEMU is
# killed. The DR's disk image (the host file, after the kill: only what
# reached the DR's disk) must then be the state after a prefix of the
# logged writes, and hold at least every write the replicator counted as
# durable at the DR before the kill. A `dmsetup wait` on the replicator
# wakes when the link goes down. The DR is restarted, the link comes back
# by itself and catches up, and the image is then the local device's
# state. DMR_ORDER_SEED repeats a run's sequence, DMR_ORDER_ROUNDS sets
# the number of kills (2; each costs a DR boot).
. /tests/lib.sh

BLOCKS=512                  # the replicated device: 2 MiB of 4 KiB blocks
SECTORS=$((BLOCKS * 8))
REGIONS=$((SECTORS / 64))   # dirty log regions of 32 KiB
LOG_SECTORS=65536           # a 32 MiB log on /dev/ram0: a round's writes fit
                            # (the writer's pace follows the guest's speed)
ROUNDS=${DMR_ORDER_ROUNDS:-2}
DOWN_WAIT=$((NBD_TIMEOUT * 3 + 10)) # seconds for the link to go down

seed=${DMR_ORDER_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "write-order over NBD: seed $seed, $ROUNDS DR kills, $BLOCKS blocks"

DISK=3                      # the DR disk (and export dr3) of the copy

ramdev 0 >/dev/null
ramdev 1 >/dev/null
step "waiting for the DR"
dr_start
[ "$(dr_disks)" -gt $DISK ] || fail "the DR exports $(dr_disks) disk(s), the test needs disk $DISK"
nbd_attach /dev/nbd0 $DISK
nbd_watch /dev/nbd0 $DISK

dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto $LOG_SECTORS blockdev 1 0 blockdev 2 1 asynchronous"
ctl=$(devno repl)
LOG=$DMR_TMP/order.log
: >"$LOG"
dmc message repl 0 slink message 1 retest 500

# caught_up WHAT: every region of the DR's copy in sync, no log entry
# left for the link.
caught_up() {
	DMR_WAIT=120 wait_eq "A $REGIONS/$REGIONS" "$1: regions" remote_state r0 1
	# One epoch, so one flush at the DR, per write: up to a minute.
	DMR_WAIT=180 wait_eq "A,0,0" "$1: backlog" slink_backlog 1
}
# local_check [--at-least K]: order-check of the local device; sets $state.
local_check() {
	local out
	out=$(crashwriter order-check --dev /dev/ram1 --blocks $BLOCKS --seed "$seed" --log "$LOG" "$@") ||
		fail "round $r: local device: $out"
	echo "local: $out"
	state=${out#order-check: device is the state after write }
	state=${state%% *}
}
# dr_check [AT_LEAST]: order-check of the DR's image (by the host); sets $state.
dr_check() {
	local out
	out=$(dr_order_check $DISK $BLOCKS "$seed" "$LOG" "$@")
	echo "DR image: $out"
	state=${out#order-check: device is the state after write }
	state=${state%% *}
}
# The live entries site link 1 still needs: <ios> of "<S|A>,<ios>,<sectors>".
backlog_ios() {
	local b
	b=$(slink_backlog 1)
	b=${b#*,}
	echo "${b%,*}"
}

# The DR's image is zeroes (the state after write 0 of an empty log), as
# the local device: the copy starts in sync (nosync).
r=0
dr_check 0
assert_eq "$state" 0 "the DR's image before the test: all zeroes"
dmc create r0 --table "0 $SECTORS replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/nbd0 core 2 64 nosync"
caught_up "start"

n=0
x=$((seed % 2147483648))
while [ $r -lt $ROUNDS ]; do
	r=$((r + 1))
	first=$((n + 1))
	# 0.5 to 1.5 s of writes before the kill, from the seed (an LCG, its
	# high bits). The link lags behind the writer (each write is an
	# epoch, one flush at the DR), and the DR's restart has to catch up
	# with all of it: keep it short.
	x=$(((x * 1103515245 + 12345) % 2147483648))
	ms=$((500 + x / 65536 % 1001))
	step "round $r: writing for $ms ms, then killing the DR"
	crashwriter order-write --dev /dev/mapper/r0 --blocks $BLOCKS --seed "$seed" \
		--first $first --duration-ms 120000 --out "$LOG" 2>"$DMR_TMP/writer.err" &
	wpid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"

	# A lower bound of what is durable on the DR's disk: of the first n0
	# acknowledged writes, at most <ios> (the entries the link still
	# needs, read after n0) are not.
	n0=$(tail -n 1 "$LOG")
	n0=${n0%% *}
	n0=${n0:-0}
	ios=$(backlog_ios)
	durable=$((n0 - ios))
	[ $durable -ge 0 ] || durable=0
	ev=$(dmc info -c --noheadings -o events repl | tr -d ' ')
	rm -f woke
	(
		dmc wait repl "$ev" >/dev/null 2>&1 || true
		remote_state r0 1 >woke.tmp
		mv woke.tmp woke
	) &
	waiter=$!
	dmesg_mark
	dr_kill
	step "round $r: DR killed (acknowledged $n0, the link needed $ios entries)"
	# The writer goes on with the DR dead: an asynchronous link never
	# fails a local write.
	sleep 0.3
	if kill "$wpid" 2>/dev/null; then
		wait "$wpid" || true
	else
		wait "$wpid" || fail "round $r: the writer failed: $(cat "$DMR_TMP/writer.err")"
		fail "round $r: the writer ended by itself: $(cat "$DMR_TMP/writer.err")"
	fi
	n=$(tail -n 1 "$LOG")
	n=${n%% *}
	n=${n:-0}
	[ "$n0" -ge $first ] || fail "round $r: no write acknowledged in $ms ms"

	# What the DR's disk holds: a prefix state, with every write durable
	# there before the kill.
	dr_check "$durable"
	at_cut=$state
	local_check --at-least "$n"
	m_local=$state

	step "round $r: restarting the DR"
	dr_start &
	drpid=$!
	# The link goes down (the NBD I/O timeout) and the waiter wakes.
	i=0
	while [ ! -f woke ]; do
		i=$((i + 1))
		if [ $i -gt $((DOWN_WAIT * 5)) ]; then
			kill $waiter 2>/dev/null || true
			fail "round $r: dmsetup wait on the replicator did not return within $DOWN_WAIT s of the kill: r0: $(status_of r0)"
		fi
		sleep 0.2
	done
	wait $waiter || true
	assert_eq "$(cat woke)" "W $REGIONS/$REGIONS" "round $r: the DR's copy when dmsetup wait returned"
	expect_dmesg "slink=1 down (write error, "
	wait $drpid || fail "round $r: the DR did not come back"
	step "round $r: DR back"
	caught_up "round $r: after the DR restart"
	expect_dmesg "slink=1 up again after"
	dr_check "$n"
	assert_eq "$state" "$m_local" "round $r: the DR's state after catching up (after write N) vs the local device's"
	echo "round $r: writes $first..$n; at the kill: acknowledged $n0, durable at the DR >= $durable, the DR's disk after write $at_cut; after the restart: after write $state"
done

assert_eq "$(dr_sha $SECTORS 0 $DISK)" "$(sha /dev/ram1 $SECTORS)" "sha256 of the DR's image and the local device at the end"

dmc remove r0
dmc remove repl
nbd_detach /dev/nbd0
