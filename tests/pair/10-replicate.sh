#!/bin/sh
# timeout: 900
# The replicator with its remote site over a real transport: site link 1
# is the DR guest's disk, imported over NBD. The initial copy, an
# asynchronous load under netem, one over a rate-limited link (it falls
# behind, then catches up), a synchronous write, and the DR killed under
# load: local writes go on, the link shows W, the log runs full and gives
# the link's entries up; once the DR is back the link comes up by itself
# and resynchronises exactly the regions written meanwhile. After each
# phase the DR's disk image equals the local device. Then a network
# partition with the DR up heals by itself. Last, an online
# verify finds and repairs two regions changed on the DR's disk behind the
# replicator.
. /tests/lib.sh

dev=/dev/nbd0
len=8192 # the replicated device: 4 MiB, 32 regions of 128 KiB (the
          # link carries a few hundred KiB/s under TCG)
regions=32
ramdev 0 >/dev/null
ramdev 1 >/dev/null

step "waiting for the DR"
dr_start
nbd_attach $dev
nbd_watch $dev

# The smallest log (1 MiB), so that a cut of a few MiB of writes fills it.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 2048 blockdev 1 0 blockdev 2 1 asynchronous"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 1s
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 $dev core 2 256 sync"

# in_sync WHAT: every region in sync and every entry durable at the DR.
in_sync() {
	wait_eq "A $regions/$regions" "$1: regions" remote_state r0 1
	wait_eq "A,0,0" "$1: backlog" slink_backlog 1
}
# dr_equal WHAT: the DR's disk image holds what the local device holds.
dr_equal() {
	assert_eq "$(dr_sha $len 0)" "$(sha /dev/ram1 $len)" "$1"
}

step "initial copy"
in_sync "initial copy"
dr_equal "DR after the initial copy"

step "asynchronous load under netem (delay 20ms, loss 1%)"
netem_set delay 20ms loss 1%
for r in 0 5 10 15 20 25 30; do
	scribble /dev/mapper/r0 128 $((r * 256))
done
in_sync "async under netem"
netem_clear
dr_equal "DR after an asynchronous load under netem"

step "asynchronous load over a 512 kbit/s link (netem rate)"
netem_set rate 512kbit
# 256 KiB in one dd: done at local speed, while the link needs 4 s.
scribble /dev/mapper/r0 512 4096
b=$(slink_backlog 1 | cut -d, -f2)
[ "$b" -gt 0 ] || fail "no backlog behind a 512 kbit/s link: $(slink_backlog 1)"
in_sync "async over a rate-limited link"
netem_clear
dr_equal "DR after a rate-limited load"

step "synchronous: a completed write is on the DR"
dmc message repl 0 slink message 1 policy synchronous
sum=$(rand_write /dev/mapper/r0 256 2048)
assert_eq "$(dr_sha 256 2048)" "$sum" "DR holds a synchronous write once it completed"
dmc message repl 0 slink message 1 policy asynchronous

step "DR killed under load"
dmesg_mark
e0=$(dmc info -c --noheadings -o events repl | tr -d ' ')
dr_kill
# 12 regions, each rewritten until the log gave the link's entries up.
# The writes must all succeed: the local site never fails for a remote.
pass=0
while ! _dmesg_has "log full: slink=1 gives up"; do
	pass=$((pass + 1))
	[ $pass -le 20 ] || fail "the log never ran full: $(status_of repl)"
	for r in 1 2 3 6 9 12 17 18 22 27 28 31; do
		scribble /dev/mapper/r0 64 $((r * 256 + 32))
	done
done
expect_dmesg "slink=1 down (write error, "
assert_eq "$(remote_state r0 1)" "W $((regions - 12))/$regions" "link down, 12 regions out of sync"
[ "$(dmc info -c --noheadings -o events repl | tr -d ' ')" -gt "$e0" ] || fail "no dm event on the replicator for the link going down"
want=$(sha /dev/ram1 $len)
assert_eq "$(sha /dev/mapper/r0 $len)" "$want" "local reads with the DR dead"

step "DR back: the link comes up and resynchronises"
dr_start
in_sync "resync"
expect_dmesg "slink=1 up again after"
expect_dmesg "slink=1 device 0 in sync; 12 regions resynchronised"
dr_equal "DR after the resync"

step "network partition under load: the link heals by itself"
# Nothing reaches the DR, which stays up: the NBD requests time out
# (NBD_TIMEOUT), the link goes down, local writes go on; once the network
# is back nbd-reconnect (nbd_watch) gives the device a new connection and
# the link ships the held entries in order.
dmesg_mark
netem_set loss 100%
for r in 5 8 13 21; do
	scribble /dev/mapper/r0 64 $((r * 256 + 64))
done
expect_dmesg "slink=1 down (" $((NBD_TIMEOUT + 30))
assert_eq "$(remote_state r0 1)" "W $regions/$regions" "link down in the partition, entries held"
netem_clear
in_sync "after the partition"
expect_dmesg "slink=1 up again after"
dr_equal "DR after the partition"

step "online verify over NBD: blocks changed behind the replicator"
# Written through the NBD device itself (4 KiB blocks), not the
# replicator: the DR's copy of regions 4 and 23 differs and nothing else
# knows.
scribble $dev 8 $((4 * 256 + 96))
scribble $dev 8 $((23 * 256 + 248))
dmesg_mark
dmc message r0 0 verify 1 repair
verify_state() { dm_status r0 | sed -n 's/.* verify \(.*\)$/\1/p'; }
wait_eq "1 verified $regions/$regions 2 0" "verify over NBD" verify_state
expect_dmesg "replicator: slink=1 device 0: region 4 (sectors 1024+256) differs; marked out of sync"
expect_dmesg "replicator: slink=1 device 0: region 23 (sectors 5888+256) differs; marked out of sync"
in_sync "repair"
dr_equal "DR after the repair"

dmc remove r0
dmc remove repl
nbd_detach $dev
