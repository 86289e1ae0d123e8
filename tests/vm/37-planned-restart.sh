#!/bin/sh
# timeout: 480
# A planned restart while a site is down: 800 writes the site has not
# received stay in the log across `dmsetup remove` and `create` of the
# replicated device and the replicator (the checkpoint records where the
# site link stands), and once the site is back they are shipped in order:
# no region is marked out of sync and the remote ends equal to the local
# device. Then, with a small log: writes given up (log full) for a device
# whose replicated device is removed are resynchronised when it is
# created again.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=32768 # 16 MiB replicated device, 256 regions of 64 KiB
dmc create rs --table "0 $len linear /dev/ram2 0"
rtable="0 1 replicator ringbuffer 4 /dev/ram0 0 auto 32768 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create repl --table "$rtable"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200
dtable="0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"
dmc create r0 --table "$dtable"

step shipped
rand_write /dev/mapper/r0 8192 >/dev/null
wait_eq "A,0,0" "4 MiB shipped" slink_backlog 1
assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "remote after 4 MiB"

step site down
dmesg_mark
lower rs "0 $len error"
dd if=/dev/urandom of=load bs=4k count=800 status=none
dd if=load of=/dev/mapper/r0 bs=4k oflag=direct conv=notrunc status=none
expect_dmesg "slink=1 down (write error, "
assert_eq "$(slink_backlog 1)" "A,800,6400" "entries held for the site that is down"

step restart
dmc remove r0
dmc remove repl
dmesg_mark
dmc create repl --table "$rtable"
dmc message repl 0 slink message 1 retest 200
dmc create r0 --table "$dtable"
assert_eq "$(slink_backlog 1)" "A,800,6400" "entries held across the restart"
expect_dmesg "slink=1 resumes at entry "
assert_eq "$(remote_state r0 1 | cut -d' ' -f2)" "256/256" "no region marked out of sync"

step site back
lower rs "0 $len linear /dev/ram2 0"
expect_dmesg "slink=1 up again after" 10
wait_eq "A,0,0" "the site catches up" slink_backlog 1
assert_eq "$(remote_state r0 1)" "A 256/256" "remote after the catch-up"
assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "remote equals local"
assert_eq "$(sha /dev/ram1 6400)" "$(sha256sum load | cut -d' ' -f1)" "the 800 writes on the local device"
if _dmesg_has "gives up"; then fail "entries given up"; fi

step give up while removed
# A 1 MiB log (253 ring blocks): 40 writes of r0 held for the site, r0
# removed, then r1's writes fill the log and the link gives up both
# devices' entries. r0 created again gets the regions of its 40 writes
# (3 of 64 KiB) marked out of sync.
dmc remove r0
dmc remove repl
lower rs "0 $len error"
dmc create rs1 --table "0 $len error"
rtable2="0 1 replicator ringbuffer 4 /dev/ram0 65536 auto 2048 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create repl --table "$rtable2"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200
dtable="0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"
dmc create r0 --table "$dtable"
dmesg_mark
dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=40 oflag=direct status=none
assert_eq "$(slink_backlog 1)" "A,40,320" "r0's writes held for the site"
dmc remove r0
assert_eq "$(slink_backlog 1)" "A,40,320" "r0's writes held while r0 is removed"
dmc create r1 --table "0 $len replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 /dev/mapper/rs1 core 2 128 nosync"
dd if=/dev/urandom of=/dev/mapper/r1 bs=4k count=200 oflag=direct status=none
expect_dmesg "log full: slink=1 gives up "
dmc create r0 --table "$dtable"
assert_eq "$(remote_state r0 1 | cut -d' ' -f2)" "253/256" "regions given up while r0 was removed"
lower rs "0 $len linear /dev/ram2 0"
lower rs1 "0 $len linear /dev/ram2 $len"
wait_eq "A 256/256" "r0 resynchronised" remote_state r0 1
wait_eq "A 256/256" "r1 resynchronised" remote_state r1 1
wait_eq "A,0,0" "backlog after the resync" slink_backlog 1
assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "r0's remote equals local"
assert_eq "$(sha /dev/mapper/rs1 $len)" "$(sha /dev/ram3 $len)" "r1's remote equals local"

step "a restart before a removed device's given-up writes are resynchronised"
# Only a dirty log could say which regions the link gave up for r0 while
# r0 was removed, and there is none then: the checkpoint records the
# device as lost instead, and after a restart of the group r0's copy is
# resynchronised whole.
lower rs "0 $len error"
lower rs1 "0 $len error"
dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=40 oflag=direct status=none
dmc remove r0
dmesg_mark
dd if=/dev/urandom of=/dev/mapper/r1 bs=4k count=200 oflag=direct status=none
expect_dmesg "log full: slink=1 gives up "
dmc remove r1
dmc remove repl
dmc create repl --table "$rtable2"
dmc message repl 0 slink message 1 retest 200
ctl=$(devno repl)
dtable="0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"
dmc create r0 --table "$dtable"
assert_eq "$(remote_state r0 1 | cut -d' ' -f2 | tr -d +)" "0/256" "r0's regions after the restart"
# r1's core dirty log went with r1: it is copied whole (sync).
dmc create r1 --table "0 $len replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 /dev/mapper/rs1 core 2 128 sync"
lower rs "0 $len linear /dev/ram2 0"
lower rs1 "0 $len linear /dev/ram2 $len"
wait_eq "A 256/256" "r0 resynchronised" remote_state r0 1
wait_eq "A 256/256" "r1 resynchronised" remote_state r1 1
wait_eq "A,0,0" "backlog after the resync" slink_backlog 1
assert_eq "$(sha /dev/mapper/rs $len)" "$(sha /dev/ram1 $len)" "r0's remote equals local after the restart"
assert_eq "$(sha /dev/mapper/rs1 $len)" "$(sha /dev/ram3 $len)" "r1's remote equals local after the restart"

step done
dmc remove r0
dmc remove r1
dmc remove repl
dmc remove rs
dmc remove rs1
