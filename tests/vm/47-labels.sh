#!/bin/sh
# timeout: 180
# Replica labels (Documentation/replicator.rst, "Identity and
# generations"): a replicator-dev whose local device is labelled uses a
# remote device only if it is a secondary copy of the same group, device
# and generation. A wrong peer (another group, another device, no label)
# is refused, and so is each side of a takeover that was not failed back:
# the old primary may not overwrite the promoted DR copy, the new primary
# may not use the old one before it joined; two independent promotions
# are a split brain, refused until one side's copy is chosen. The
# refusals are the same `replog label check` gives in userspace. The
# devices are slices of RAM disks: the replicated length, then the label.
. /tests/lib.sh

len=16384         # 8 MiB replicated
size=$((len + 8)) # and the label block
ramdev 0 >/dev/null
ramdev 1 >/dev/null
dmc create loga --table "0 4096 linear /dev/ram0 0"
dmc create logb --table "0 4096 linear /dev/ram0 4096"
for i in 0 1 2 3 4; do
	dmc create c$i --table "0 $size linear /dev/ram1 $((i * size))"
done
P=/dev/mapper/c0 # the primary's device
D=/dev/mapper/c1 # its DR copy
X=/dev/mapper/c2 # a copy of another group
Y=/dev/mapper/c3 # a copy of another device of the group
Z=/dev/mapper/c4 # never labelled

# dev_table LOCAL REMOTE [REPL]: device 0 of REPL (repla), its remote on
# slink 1 in sync already.
dev_table() {
	echo "0 $len replicator-dev $(devno "${3:-repla}") 0 0 1 $1 nolog 0 1 1 $2 core 2 128 nosync"
}
# label_refusal LOCAL REMOTE: the reason `replog label check` gives.
label_refusal() {
	replog label check "$1" "$2" --length $len --dev-nr 0 2>&1 >/dev/null | sed 's/^replog: [^:]*: //; s/ (.*//'
}

step "labels: the primary's device, its DR copy"
replog label create $P --dev-nr 0 --length $len >create.out || fail "replog label create: $(cat create.out)"
cat create.out
group=$(sed -n 's/.* group \([0-9a-f-]*\) device 0 primary generation 1$/\1/p' create.out)
[ -n "$group" ] || fail "replog label create printed: $(cat create.out)"
replog label join $D --from $P
replog label show $D >show.out
assert_eq "$(sed -n '1p;3p' show.out | tr '\n' ' ')" "group $group role secondary " "the DR copy's label"
replog label check $P $D --length $len --dev-nr 0 || fail "replog label check refused a joined copy"

step "a labelled pair replicates"
dmc create repla --table "0 1 replicator ringbuffer 4 /dev/mapper/loga 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message repla 0 slink message 1 retest 500
dmc create pa --table "$(dev_table $P $D)"
rand_write /dev/mapper/pa 256 1024 >/dev/null
wait_eq "A,0,0" "the DR catches up" slink_backlog 1 repla
assert_eq "$(sha $D $len)" "$(sha $P $len)" "DR equals primary"
dmc remove pa

step "wrong peers are refused"
replog label create $X --dev-nr 0 --length $len >/dev/null
replog label create $Y --dev-nr 1 --length $len --group "$group" >/dev/null
assert_eq "$(label_refusal $P $X)" "Remote device belongs to another replication group" "replog label check, another group"
refuse_table pa "$(dev_table $P $X)" "Remote device belongs to another replication group"
refuse_table pa "$(dev_table $P $Y)" "Remote device is a copy of another device of the group"
refuse_table pa "$(dev_table $P $Z)" "Remote device has no label but the local device has one"
# The DR copy cannot be the primary's local device before a takeover.
refuse_table pa "$(dev_table $D $P)" "Local device is a secondary copy: promote it first"
# The replicated length may not reach the label.
refuse_table pa "0 $size replicator-dev $(devno repla) 0 0 1 $P nolog 0" "Replicated length overlaps the device label"
expect_refusals

step "a remote out of reach at load is checked before the link writes to it"
dmc create far --table "0 $size error"
dmesg_mark
dmc create pa --table "$(dev_table $P /dev/mapper/far)"
expect_dmesg "cannot read its label (-5): checked before the link writes to it"
rand_write /dev/mapper/pa 64 2048 >/dev/null
expect_dmesg "slink=1 down (cannot read a remote device's label)"
# The path comes back to another group's copy: refused, nothing written.
sum_x=$(sha $X $len)
dmesg_mark
lower far "0 $size linear $X 0"
expect_dmesg "Remote device belongs to another replication group" 8
expect_dmesg "the link stays down until the remote device is the right copy"
assert_eq "$(slink_backlog 1 repla)" "A,1,64" "the write held for the link"
assert_eq "$(sha $X $len)" "$sum_x" "the other group's copy"
# Then to the right one: checked, the link comes up and ships.
dmesg_mark
lower far "0 $size linear $D 0"
wait_eq "A,0,0" "the DR catches up" slink_backlog 1 repla
expect_dmesg "label accepted"
assert_eq "$(sha $D $len)" "$(sha $P $len)" "DR equals primary"
dmc remove pa
dmc remove far

step "takeover: the DR copy is promoted"
replog label promote $D >promote.out
cat promote.out
assert_eq "$(sed -n 's/.* generation //p' promote.out)" 2 "generation after the promotion"
dmc create replb --table "0 1 replicator ringbuffer 4 /dev/mapper/logb 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
# The old primary, back, may not replicate to the new one...
assert_eq "$(label_refusal $P $D)" "Remote device holds a newer generation: this site was taken over" "replog label check, old primary"
dmesg_mark
refuse_table pa "$(dev_table $P $D)" "Remote device holds a newer generation: this site was taken over"
expect_refusals
expect_dmesg "holds generation 2, this site 1"
# ... nor the new primary use the old one before it is failed back.
refuse_table pb "$(dev_table $D $P replb)" "Remote device holds an older generation: fail it back first"
expect_refusals

step "split brain: the old primary was promoted on its own too"
replog label promote --force $P >/dev/null
assert_eq "$(label_refusal $D $P)" "Remote device was promoted on its own: split brain" "replog label check, split brain"
refuse_table pb "$(dev_table $D $P replb)" "Remote device was promoted on its own: split brain"
expect_refusals

step "resolved: the old primary's changes are discarded, it joins the new generation"
replog label join $P --from $D >/dev/null
dmc create pb --table "0 $len replicator-dev $(devno replb) 0 0 1 $D nolog 0 1 1 $P core 2 128 sync"
rand_write /dev/mapper/pb 64 4096 >/dev/null
wait_eq "A 128/128" "the old primary is a copy again" remote_state pb 1
wait_eq "A,0,0" "the new writes are shipped" slink_backlog 1 replb
assert_eq "$(sha $P $len)" "$(sha $D $len)" "old primary equals new primary"

step done
dmc remove pb
dmc remove replb
dmc remove repla
for i in 0 1 2 3 4; do dmc remove c$i; done
dmc remove logb
dmc remove loga
