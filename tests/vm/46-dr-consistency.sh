#!/bin/sh
# timeout: 240
# The DR copy's consistency state. The log ships writes in order, so a
# remote copy that falls behind (or whose link is down) is still a
# point-in-time image; a resync copies regions out of write order and
# the status says so (`consistency -I`) until every region is in sync
# and the link has shipped what the region copies took. Each change
# raises an event. The recipe of replicator.rst ("Keeping a consistent
# image through a resync"): a dm-snapshot of the DR device taken while
# the link is down, before the resync, holds the image the DR had; it
# is dropped once the copy is consistent again. Last, a remote whose
# block size grew under the table: writes it cannot take as they are go
# by region instead of taking the link down for good.
. /tests/lib.sh

len=16384 # 8 MiB, 128 regions of 64 KiB (128 sectors)
for i in 0 1 2 3; do ramdev $i >/dev/null; done
L=/dev/ram1 # the local device
R=/dev/ram2 # the DR device
dmc create toD --table "0 $len linear $R 0"
# A 2 MiB log: a 3 MiB burst with the link down is given up to the
# dirty log.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message repl 0 slink message 1 retest 200
ctl=$(devno repl)
events() { dmc info -c --noheadings -o events d0 | tr -d ' '; }
consistency() { dm_status d0 | sed -n 's/.* consistency \([-CI]*\).*/\1/p'; }

step "the initial copy: inconsistent until every region is copied"
dmesg_mark
dmc create d0 --table "0 $len replicator-dev $ctl 0 0 1 $L nolog 0 1 1 /dev/mapper/toD core 2 128 sync"
wait_eq "$ctl 0 replicating 2 0 A - 1 A 128/128" "d0 in sync, the consistency group gone" status_of d0
expect_dmesg "replicator: slink=1 device 0 consistent"

step "writes shipped in order keep the copy consistent"
dmesg_mark
rand_write /dev/mapper/d0 2048 $((64 * 128)) >/dev/null
wait_eq "A,0,0" "the DR catches up" slink_backlog 1
assert_eq "$(status_of d0)" "$ctl 0 replicating 2 0 A - 1 A 128/128" "status after shipping"
_dmesg_has "inconsistent" && fail "in-order shipping made the copy inconsistent: $(_dmesg_since_mark)"
image=$(sha $R $len)
assert_eq "$image" "$(sha $L $len)" "DR equals local"

step "the link is down; the log gives a burst up: behind, still consistent"
lower toD "0 $len error"
dmesg_mark
rand_write /dev/mapper/d0 6144 0 >/dev/null
expect_dmesg "log full: slink=1 gives up"
# Retests (every 200 ms) fail: nothing reaches the DR.
sleep 1
got=$(remote_state d0 1)
case $got in
"W "[0-9]*/128) ;;
*) fail "d0's remote after the give-up: '$got'" ;;
esac
assert_eq "$(consistency)" "" "no consistency group while the link is down"
assert_eq "$(sha $R $len)" "$image" "the DR image unchanged"

step "a snapshot of the DR device, then the link heals: resync, inconsistent"
# As LVM takes a snapshot: the origin suspended (here the link's path is
# still the error table), the snapshot created, the origin resumed
# through snapshot-origin. dm-delay on the link's side slows the resync
# down enough to see it.
dmc create snap --table "0 $len snapshot $R /dev/ram3 N 8"
dmc create origin --table "0 $len snapshot-origin $R"
dmesg_mark
ev=$(events)
lower toD "0 $len delay /dev/mapper/origin 0 100"
wait_eq "-I" "the copy is inconsistent during the resync" consistency
wait_eq 1 "an event when it became inconsistent" eval '[ "$(events)" -gt "$ev" ] && echo 1'
# The resync takes seconds (each region copy waits 100 ms twice).
ev=$(events)
expect_dmesg "replicator: slink=1 device 0 inconsistent: "
assert_eq "$(sha /dev/mapper/snap $len)" "$image" "the snapshot holds the DR's image during the resync"
wait_eq "A 128/128" "the resync ends" remote_state d0 1
wait_eq "" "consistent again" consistency
wait_eq "A,0,0" "the link has shipped everything" slink_backlog 1
wait_eq 1 "an event when it became consistent" eval '[ "$(events)" -gt "$ev" ] && echo 1'
expect_dmesg "replicator: slink=1 device 0 consistent"
assert_eq "$(sha $R $len)" "$(sha $L $len)" "DR equals local after the resync"
assert_eq "$(sha /dev/mapper/snap $len)" "$image" "the snapshot still holds the old image"

step "the snapshot dropped"
lower toD "0 $len linear $R 0"
dmc remove origin
dmc remove snap
assert_eq "$(sha $R $len)" "$(sha $L $len)" "DR equals local without the snapshot"

step "marked regions: the copy is declared different"
dmesg_mark
lower toD "0 $len delay $R 0 500"
dmc message d0 0 mark 1 $((10 * 128)) 128
wait_eq "-I" "inconsistent once regions are marked" consistency
expect_dmesg "replicator: slink=1 device 0 inconsistent: regions marked out of sync"
wait_eq "$ctl 0 replicating 2 0 A - 1 A 128/128" "resynchronised and consistent" status_of d0

step "a reload of the same device keeps its state"
lower toD "0 $len error"
rand_write /dev/mapper/d0 6144 0 >/dev/null
wait_eq "" "retests fail, still consistent" consistency
dmc load d0 --table "0 $len replicator-dev $ctl 0 0 1 $L nolog 0 1 1 /dev/mapper/toD core 2 128 nosync"
dmc suspend d0
dmc resume d0
# A core log starts all in sync with nosync; the old table's out-of-sync
# regions carry over, and so does its state.
assert_eq "$(consistency)" "" "same device reloaded: state carried over"
lower toD "0 $len linear $R 0"
wait_eq "$ctl 0 replicating 2 0 A - 1 A 128/128" "in sync and consistent at the end" status_of d0
assert_eq "$(sha $R $len)" "$(sha $L $len)" "DR equals local at the end"

step "the remote's block size grows: small writes go by region"
# The DR device through a loop device with 4 KiB blocks; d0 keeps the
# 512-byte blocks it stacked at load, so a 512-byte write is taken and
# cannot be copied as it is.
lo=$(losetup --show -f --direct-io=on --sector-size 4096 $R) || fail "losetup"
lower toD "0 $len linear $lo 0"
dmesg_mark
scribble /dev/mapper/d0 1 $((30 * 128 + 3))
expect_dmesg "replicator: slink=1 device 0: writes not aligned to the remote's 4096-byte blocks are resynchronised by region"
wait_eq "$ctl 0 replicating 2 0 A - 1 A 128/128" "the region resynchronised, consistent" status_of d0
wait_eq "A,0,0" "the link holds nothing" slink_backlog 1
assert_eq "$(sha $R $len)" "$(sha $L $len)" "DR equals local after the small write"
_dmesg_has "slink=1 down" && fail "the small write took the link down: $(_dmesg_since_mark)"

dmc remove d0
dmc remove repl
dmc remove toD
losetup -d $lo
