#!/bin/sh
# timeout: 240
# stop and start of a replicator pause and resume shipping: a stopped
# site link (one, by number, or every one) gets nothing while its entries
# pile up in its backlog, writes do not wait for it even when it is
# synchronous, the other link goes on; start ships the backlog in order
# and the remote ends equal to the local device. A stopped link whose
# entries the full log gives up does not resynchronise until it starts.
# rmmod fails while the tables exist and harms nothing.
. /tests/lib.sh

for i in 0 1 2; do ramdev $i >/dev/null; done
len=16384 # 8 MiB replicated device, 128 regions of 64 KiB
rs2=$(loopdev 8)
events() { dmc info -c --noheadings -o events "$1" | tr -d ' '; }
backlog() { slink_backlog "$1" | cut -d, -f2-; }
word() { dm_status repl | awk '{ print $4 }'; }
# 64 writes of 4 KiB at sector $1
writes64() { dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=64 seek=$(($1 / 8)) oflag=direct status=none; }

dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 4096 blockdev 1 0 blockdev 2 1 synchronous blockdev 2 2 asynchronous"
ctl=$(devno repl)
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/ram2 core 2 128 nosync 2 1 $rs2 core 2 128 nosync"
rand_write /dev/mapper/r0 2048 >/dev/null
wait_eq "0,0" "slink 1 caught up" backlog 1
wait_eq "0,0" "slink 2 caught up" backlog 2

step stop one link
dmesg_mark
ev=$(events repl)
dmc message repl 0 stop 1
expect_dmesg "replicator: slink=1 stopped"
[ "$(events repl)" -gt "$ev" ] || fail "stop 1 raised no event"
before=$(sha /dev/ram2 $len)
writes64 4096
assert_eq "$(backlog 1)" "64,512" "entries held for the stopped synchronous link"
wait_eq "0,0" "slink 2 ships while slink 1 is stopped" backlog 2
sleep 1
assert_eq "$(backlog 1)" "64,512" "stopped link's backlog a second later"
assert_eq "$(sha /dev/ram2 $len)" "$before" "the stopped link's remote is unchanged"
assert_eq "$(word)" replicating "group word with one link stopped"

step stop the group
dmc message repl 0 stop
assert_eq "$(word)" stopped "group word after stop"
writes64 8192
assert_eq "$(backlog 1)" "128,1024" "slink 1 backlog"
assert_eq "$(backlog 2)" "64,512" "slink 2 backlog"

step start one link
dmesg_mark
dmc message repl 0 start 1
expect_dmesg "replicator: slink=1 started"
wait_eq "0,0" "slink 1 ships its backlog" backlog 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "slink 1's remote after start"
assert_eq "$(backlog 2)" "64,512" "slink 2 still stopped"

step start the group
dmc message repl 0 start
assert_eq "$(word)" replicating "group word after start"
wait_eq "0,0" "slink 2 ships its backlog" backlog 2
assert_eq "$(sha $rs2 $len)" "$(sha /dev/ram1 $len)" "slink 2's remote after start"

step stopped link and a full log
# slink 2 stopped while three times the 2 MiB ring is written: its
# entries are given up to its dirty log, and nothing resynchronises
# until it starts.
dmc message repl 0 stop 2
dmesg_mark
dd if=/dev/urandom of=/dev/mapper/r0 bs=64k count=96 oflag=direct status=none
expect_dmesg "replicator: log full: slink=2 gives up" 10
n=$(remote_state r0 2)
case $n in
"A 128/128") fail "regions given up by the full log are not out of sync: $n" ;;
esac
sleep 1
assert_eq "$(remote_state r0 2)" "$n" "a stopped link does not resynchronise"
dmc message repl 0 start 2
wait_eq "A 128/128" "resynchronised after start" remote_state r0 2
wait_eq "0,0" "slink 2 caught up" backlog 2
assert_eq "$(sha $rs2 $len)" "$(sha /dev/ram1 $len)" "slink 2's remote after its resync"

step refusals
expect_msg_refused repl "message refused: Site link does not exist" stop 3
expect_msg_refused repl "message refused: Site link 0 cannot be started or stopped" start 0
# The module cannot go while tables use it, and the group is unharmed.
expect_fail rmmod dm_replicator
sum=$(rand_write /dev/mapper/r0 64 0)
assert_eq "$(sha /dev/mapper/r0 64 0)" "$sum" "a write after the refused rmmod"
wait_eq "0,0" "slink 1 after the refused rmmod" backlog 1
assert_eq "$(sha /dev/ram2 64 0)" "$sum" "shipped after the refused rmmod"

step done
dmc remove r0
dmc remove repl
losetup -d "$rs2"
