#!/bin/sh
# timeout: 420
# Site links under management while writes go on: a link going down wakes
# `dmsetup wait` on the replicated device; a remote whose I/O hangs is
# marked down after `slink_timeout`; a `stall` link holds writers
# when the log is full instead of giving entries up, and lets them go when
# it is back; suspend/resume and reloads of both targets and policy
# changes under a verified fio load lose and fail no write; an initial
# copy with a `disk` dirty log resumes where it stopped after the devices
# are removed and created again.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=16384 # 8 MiB replicated device, 128 regions of 64 KiB
dmc create rs --table "0 $len linear /dev/ram2 0"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 2048 blockdev 1 0 blockdev 2 1 async+stall"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"

events() { dmc info -c --noheadings -o events "$1" | tr -d ' '; }
in_sync() {
	wait_eq "A 128/128" "$1: regions" remote_state r0 1
	wait_eq "$2" "$1: backlog" slink_backlog 1
	assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "$1: remote equals local"
}
full_waits() { status_of repl | awk '{ print $NF }'; }

step events
# Events: the link going down wakes a waiter on the replicated device.
ev=$(events r0)
timeout 60 dmsetup --noudevsync wait r0 "$ev" &
waiter=$!
dmesg_mark
lower rs "0 $len error"
rand_write /dev/mapper/r0 8 0 >/dev/null
expect_dmesg "slink=1 down (write error, "
wait $waiter || fail "dmsetup wait r0 did not wake when the link went down"
[ "$(events r0)" -gt "$ev" ] || fail "no event on r0: $(events r0) after $ev"

step stall
# stall: with the link down the 1 MiB log fills and the writer is held,
# no entry is given up; once the link is back the writer goes on.
w0=$(full_waits)
dd if=/dev/urandom of=load bs=1M count=3 status=none
dd if=load of=/dev/mapper/r0 bs=64k oflag=direct conv=notrunc status=none &
writer=$!
wait_eq yes "a full log holds the writer" eval '[ "$(full_waits)" -gt "$w0" ] && echo yes'
sleep 1
kill -0 $writer 2>/dev/null || fail "the writer finished while the stall link was down and the log full"
if _dmesg_has "gives up"; then fail "a stall link gave entries up"; fi
lower rs "0 $len linear /dev/ram2 0"
wait $writer || fail "a held write failed"
expect_dmesg "slink=1 up again after"
in_sync "stall link back" "A,0,0"
assert_eq "$(sha /dev/ram1 6144)" "$(sha256sum load | cut -d' ' -f1)" "held writes on the local device"

step timeout
# A remote that does not answer (its device suspended, so I/O queues):
# after slink_timeout the link is down and a synchronous write completes;
# once the device answers again the link comes back by itself.
echo 2 >/sys/module/dm_replicator/parameters/slink_timeout
dmc message repl 0 slink message 1 policy synchronous
dmesg_mark
dmc suspend rs
sum=$(rand_write /dev/mapper/r0 8 64)
expect_dmesg "slink=1 down (timeout, I/O pending for "
assert_eq "$(sha /dev/ram1 8 64)" "$sum" "local write past a remote that does not answer"
assert_eq "$(remote_state r0 1)" "W 128/128" "status of a link that timed out"
dmc resume rs
expect_dmesg "slink=1 up again after" 10
in_sync "after the timeout" "S,0,0"
echo 30 >/sys/module/dm_replicator/parameters/slink_timeout

step reloads
# Under a verified fio load: suspend/resume and reload both targets,
# change the link's policy and limit, add and delete a second link and
# its device; fio checks every block it wrote. The load is rate-limited
# so that it still runs at every change (checked before each one).
dmc message repl 0 slink message 1 policy asynchronous
dmc create rs2 --table "0 $len linear /dev/ram3 4096"
fio --name=online --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=8 \
	--ioengine=libaio --direct=1 --size=1M --verify=crc32c --verify_fatal=1 \
	--rate_iops=5 --output=fio.out &
fio=$!
# change CMD...: CMD, with the load checked to be still running.
change() {
	kill -0 $fio 2>/dev/null || fail "the load ended before: $*"
	"$@"
}
sleep 1
for round in 1 2; do
	change dmc suspend r0
	change dmc resume r0
	change dmc load r0 --table "$(dmc table r0)"
	change dmc resume r0
	change dmc message repl 0 slink message 1 policy synchronous
	change dmc message repl 0 slink add blockdev 2 2 asynchronous
	change dmc message r0 0 device add $ctl 0 2 1 /dev/mapper/rs2 core 2 128 nosync
	change dmc suspend repl
	change dmc resume repl
	change dmc load repl --table "$(dmc table repl)"
	change dmc resume repl
	change dmc message repl 0 slink message 1 policy asynchronous
	change dmc message r0 0 device del 2
	change dmc message repl 0 slink del 2
done
change dmc message repl 0 slink message 1 fallbehind ios 8
wait $fio || { cat fio.out; fail "fio failed or found a lost write during reloads"; }
in_sync "after reloads" "A,0,0"
assert_eq "$(table_of repl)" "ringbuffer 4 $(bdevno /dev/ram0) 0 auto 2048 blockdev 1 0 blockdev 4 1 asynchronous ios 8" "reloaded replicator table"
dmc remove r0
dmc remove rs2

step disk log
# disk dirty log: an initial copy cut short (its remote fails once 40
# regions are in sync, then both devices go) resumes after they are
# created again from exactly the regions in sync, copying only the others.
# Each remote write takes 500 ms, so the 88 regions left (11 rounds of 8)
# take longer than swapping the remote's table (three dmsetup runs).
dd if=/dev/urandom of=/dev/ram1 bs=1M count=2 oflag=direct status=none
dmc create dl --table "0 2048 linear /dev/ram3 0"
lower rs "0 $len delay /dev/ram2 0 500"
dmesg_mark
dtable="0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs disk 2 /dev/mapper/dl 128"
dmc create r0 --table "$dtable"
synced() { remote_state r0 1 | sed 's|^. \([0-9]*\)+*/128$|\1|'; }
i=0
while [ "$(synced)" -lt 40 ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "initial copy does not progress: $(status_of r0)"
	sleep 0.1
done
lower rs "0 $len error"
wait_eq W "link down during the initial copy" eval "remote_state r0 1 | cut -c1"
n=$(synced)
rtable=$(dmc table repl)
dmc remove r0
dmc remove repl
dmc create repl --table "$rtable"
step restarted
dmc message repl 0 slink message 1 retest 200
dmesg_mark
dmc create r0 --table "$dtable"
assert_eq "$(synced)" "$n" "regions in sync after a restart"
# A reload with the link still down: the new table's dirty log reads its
# state before the old table's is carried over.
dmc reload r0 --table "$dtable"
dmc resume r0
assert_eq "$(synced)" "$n" "regions in sync after a reload"
lower rs "0 $len linear /dev/ram2 0"
in_sync "resumed initial copy" "A,0,0"
expect_dmesg "slink=1 device 0 in sync; $((128 - n)) regions resynchronised" 10

step done
dmc remove r0
dmc remove repl
dmc remove rs
dmc remove dl
