#!/bin/sh
# timeout: 240
# Local device failures. A read error of a replicated device's local
# device reaches the application. A write is acknowledged once the log
# has it, before its local write ends: when that write fails, the device
# lacks an acknowledged write, so every read of it fails from then on
# (never the data the write replaced), while the log and the remote site
# still have the write. Both show (R, then W for slink 0 of its status),
# raise an event and leave the log and the group's other device working.
# A local device whose flushes fail too (dm-flakey, error_writes) does
# not hold the log: the other device writes three times the ring while
# it fails. A reload with a working local device shows A again.
. /tests/lib.sh

for i in 0 2 3; do ramdev $i >/dev/null; done
len=16384 # 8 MiB replicated devices, 128 regions of 64 KiB
half=$((len / 2))
rs1=$(loopdev 8)
# A loop device has a write cache, so flushes reach dm-flakey over it.
l0=$(loopdev 8)
events() { dmc info -c --noheadings -o events "$1" | tr -d ' '; }
# The health of the log group of the replicator's status.
log_health() { dm_status repl | awk '{ for (i = 5; i < NF; i++) if ($i ~ /^[48]$/ && $(i + 1) ~ /^[AF]$/) { print $(i + 1); exit } }'; }
local_state() { dm_status "$1" | awk '{ print $8, $9, $10 }'; }

# r0's local device: the first half works, the second half fails.
dmc create ld --table "0 $half linear $l0 0
$half $half error"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
ctl=$(devno repl)
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/mapper/ld nolog 0 1 1 /dev/ram2 core 2 128 nosync"
dmc create r1 --table "0 $len replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 $rs1 core 2 128 nosync"
assert_eq "$(local_state r0)" "0 A -" "r0's local device before any error"

step read error
dmesg_mark
ev=$(events r0)
expect_fail dd if=/dev/mapper/r0 of=/dev/null bs=4k count=1 skip=$((half / 8)) iflag=direct status=none
assert_eq "$(local_state r0)" "0 R -" "r0's local device after a read error"
wait_eq 1 "event on r0 after a read error" eval '[ "$(events r0)" -gt "$ev" ] && echo 1'
expect_dmesg "replicator-dev 0: read error on local device"

step write error
dmesg_mark
ev=$(events r0)
sum=$(rand_write /dev/mapper/r0 64 0)
assert_eq "$(sha /dev/mapper/r0 64 0)" "$sum" "r0's first blocks read back"
# Acknowledged: the log has it; its local write fails afterwards.
lost=$(rand_write /dev/mapper/r0 8 $half)
wait_eq "0 W -" "r0's local device after a write error" local_state r0
wait_eq 1 "event on r0 after a write error" eval '[ "$(events r0)" -gt "$ev" ] && echo 1'
expect_dmesg "replicator: write error on local device"
expect_dmesg "replicator: acknowledged write of 8 sectors at $half lost on local device"
# r0 lacks an acknowledged write: none of its reads may return what
# its local device holds, not even of the working half.
expect_fail dd if=/dev/mapper/r0 of=/dev/null bs=4k count=1 iflag=direct status=none
assert_eq "$(log_health)" A "log health after a local write error"
assert_eq "$(local_state r1)" "0 A -" "r1's local device"
# The other device goes on; both are replicated, the lost write too.
sum1=$(rand_write /dev/mapper/r1 2048 0)
wait_eq "A,0,0" "site link caught up" slink_backlog 1
assert_eq "$(sha /dev/ram2 64 0)" "$sum" "r0's first blocks on the remote"
assert_eq "$(sha /dev/ram2 8 $half)" "$lost" "r0's lost write on the remote"
assert_eq "$(sha $rs1 2048)" "$sum1" "r1's writes on the remote"

step flushes fail
# Every write and flush of r0's local device fails from now on; r1
# writes three times the 2 MiB ring, which goes round only if the log
# lets r0's failed entries go.
lower ld "0 $len flakey $l0 0 0 1 1 error_writes"
dmesg_mark
dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=1 oflag=direct status=none ||
	fail "a write of r0 while its local device fails: the log has it"
fio --name=other --filename=/dev/mapper/r1 --rw=write --bs=64k --iodepth=4 \
	--ioengine=libaio --direct=1 --size=6M --loops=1 --output=/dev/null ||
	fail "writes of r1 while r0's local device fails"
assert_eq "$(log_health)" A "log health while a local device fails its flushes"
wait_eq "A,0,0" "site link caught up with r1" slink_backlog 1
assert_eq "$(sha $rs1 $len)" "$(sha /dev/ram3 $len)" "r1's remote equals its local device"

step reload
lower ld "0 $len linear $l0 0"
dmc reload r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/mapper/ld nolog 0 1 1 /dev/ram2 core 2 128 nosync"
dmc resume r0
assert_eq "$(local_state r0)" "0 A -" "r0's local device after a reload"
sum=$(rand_write /dev/mapper/r0 64 $half)
assert_eq "$(sha /dev/mapper/r0 64 $half)" "$sum" "r0 writes after the reload"

step done
dmc remove r0
dmc remove r1
dmc remove repl
dmc remove ld
losetup -d "$rs1" "$l0"
