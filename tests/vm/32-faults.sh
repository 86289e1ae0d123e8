#!/bin/sh
# timeout: 400
# Faults injected under the devices of a site link, lvm2 test-suite style
# (swap the lower table, resume): dm-delay under the remote device drives
# the link past its fall-behind limit and back; dm-flakey makes the link
# fail and recover over and over under a write load; dm-dust under the
# local device makes the initial copy's reads fail (R). Local writes never
# fail, and every run ends with the remote equal to the local device. A
# remote with 4 KiB logical blocks gets no smaller writes. A group removed
# while its link is down leaves no timer behind, and one removed during a
# resync nothing at all.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=16384 # 8 MiB replicated device, 128 regions of 64 KiB
dmc create rs --table "0 $len linear /dev/ram2 0"
dmc create ld --table "0 $len dust /dev/ram1 0 512"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 4096 blockdev 1 0 blockdev 4 1 asynchronous ios 16"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/mapper/ld nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"

in_sync() {
	wait_eq "A 128/128" "$1: regions" remote_state r0 1
	wait_eq "A,0,0" "$1: backlog" slink_backlog 1
	assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "$1: remote equals local"
}

# dm-delay: the remote answers after 500 ms; a burst of 4 KiB writes, 32
# at a time, puts the link more than 16 entries behind: writes then wait
# for it (S) until the burst is done.
dmesg_mark
lower rs "0 $len delay /dev/ram2 0 500"
fio --name=burst --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=32 \
	--ioengine=libaio --direct=1 --io_size=512k --output=/dev/null &
fio=$!
expect_dmesg "enforcing fallbehind sync on slink=1" 30
# The link goes in and out of its limit during the burst: poll.
wait_eq S "a link past its limit shown synchronous" eval "slink_backlog 1 | cut -c1"
wait $fio || fail "a local write failed while the remote was slow"
lower rs "0 $len linear /dev/ram2 0"
in_sync "after dm-delay"
expect_dmesg "releasing fallbehind sync on slink=1"

# dm-flakey: the remote fails every write for 1 s in every 2 s while fio
# writes; the link goes down, is retried, gives entries up when the log
# is full, and resynchronises in the end.
dmesg_mark
lower rs "0 $len flakey /dev/ram2 0 1 1 1 error_writes"
fio --name=flakey --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=8 \
	--ioengine=libaio --direct=1 --time_based --runtime=6 --size=8M --output=/dev/null ||
	fail "a local write failed while the remote was flakey"
expect_dmesg "slink=1 down (write error, "
lower rs "0 $len linear /dev/ram2 0"
in_sync "after dm-flakey"

# dm-dust under the local device: a bad block in the first region fails
# the initial copy's read of it (R); once the block reads again, the copy
# completes.
dmc message r0 0 device del 1
dmc message ld 0 addbadblock 5
dmc message ld 0 enable
dmesg_mark
dmc message r0 0 device add $ctl 0 1 1 /dev/mapper/rs core 2 128 sync
expect_dmesg "slink=1 down (read error, region copy failed: -61)" 30
wait_eq "R" "initial copy over a bad block" eval "remote_state r0 1 | cut -c1"
dmc message ld 0 disable
in_sync "after dm-dust"
expect_dmesg "slink=1 up again after"

# A remote with 4 KiB logical blocks (NBD with -b 4096, many disks): its
# limits stack into the device's, so no write is too small for it; one
# added by message to a device of 512-byte blocks is refused.
truncate -s 8M big.img
big=$(losetup --find --show -b 4096 big.img)
dmc create r1 --table "0 $len replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 $big core 2 128 nosync"
assert_eq "$(blockdev --getss /dev/mapper/r1)" 4096 "logical block size of a device with a 4 KiB remote"
dmc message repl 0 slink message 1 policy synchronous
sum=$(rand_write /dev/mapper/r1 256 2048)
assert_eq "$(sha $big 256 2048)" "$sum" "synchronous write on the 4 KiB remote"
dmc message repl 0 slink message 1 policy asynchronous
dmc message r0 0 device del 1
expect_msg_refused r0 "message refused: Remote device has a larger logical block size than this device" device add $ctl 0 1 1 $big core 2 128 nosync
dmc remove r1
losetup -d "$big"

dmc remove r0
dmc remove repl

# Teardown with a link down and its retest pending (a minute away, so
# the link is still down when the group goes): the group's last work run
# asks for the retest, which must not arm a timer in the queue being
# freed (the destructor disables the delayed work first). A timer freed
# while armed is reported by debugobjects (ODEBUG: free active ...
# timer_list hint: dmr_ioq_later), which fails the test.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 create 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message repl 0 slink message 1 retest 1m
lower rs "0 $len error"
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 /dev/mapper/ld nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"
dmesg_mark
rand_write /dev/mapper/r0 8 0 >/dev/null
expect_dmesg "slink=1 down (write error, "
dmc remove r0
dmc remove repl

# Teardown during a resync: the initial copy of a remote whose writes
# take 200 ms runs, region copies in flight, when both devices go; the
# removal must wait for them and leave nothing behind (the runner checks
# KASAN, ODEBUG, kmemleak and rmmod after the test).
lower rs "0 $len delay /dev/ram2 0 200"
ramdev 0 >/dev/null
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 create 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 /dev/mapper/ld nolog 0 1 1 /dev/mapper/rs core 2 128 sync"
wait_eq 1 "initial copy under way" eval 'n=$(remote_state r0 1 | sed "s|^. \([0-9]*\)+*/128$|\1|"); [ "$n" -ge 8 ] && [ "$n" -lt 128 ] && echo 1'
dmc remove r0
dmc remove repl
for d in rs ld; do dmc remove $d; done
