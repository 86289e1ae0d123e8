#!/bin/sh
# timeout: 240
# Takeover and fast failback on one guest (the two sites are slices of
# RAM disks). The primary P replicates to the DR device D; the link is
# cut and P goes on writing: a burst the log cannot hold (given up to
# P's disk dirty log) and a few writes it holds. P's group goes away.
# At the DR a new group takes over D, with P as its remote (down), and
# writes. When P returns, what it never shipped is computed from its log
# (`replog unshipped`: the entries it holds) and its dirty log (`replog
# dirty`: the regions of the entries it gave up), merged into runs of
# regions (`replog failback`) and fed to the new group (`mark`); the link
# comes up and copies only the union of those regions and the new writes:
# a sentinel planted on P in a region nobody wrote is still there, every
# other byte of P equals D.
. /tests/lib.sh

len=16384 # 8 MiB devices, 128 regions of 64 KiB (128 sectors)
for i in 0 1 2 3; do ramdev $i >/dev/null; done
dmc create loga --table "0 4096 linear /dev/ram0 0"
dmc create logb --table "0 32768 linear /dev/ram0 4096"
dmc create dla --table "0 2048 linear /dev/ram3 0"
dmc create dlb --table "0 2048 linear /dev/ram3 2048"
dmc create toD --table "0 $len linear /dev/ram2 0"
P=/dev/ram1
D=/dev/ram2

step "the primary replicates to the DR"
dmc create repla --table "0 1 replicator ringbuffer 4 /dev/mapper/loga 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create pa --table "0 $len replicator-dev $(devno repla) 0 0 1 $P nolog 0 1 1 /dev/mapper/toD disk 3 /dev/mapper/dla 128 nosync"
# 1 MiB of data in regions 64..79 (the log holds it: no resync).
rand_write /dev/mapper/pa 2048 $((64 * 128)) >/dev/null
wait_eq "A,0,0" "the DR catches up" slink_backlog 1 repla
assert_eq "$(sha $D $len)" "$(sha $P $len)" "DR equals primary"

step "the link is cut; the primary writes more than its log holds"
lower toD "0 $len error"
dmesg_mark
# Three writes in regions 100, 101 and 110, then 3 MiB from region 0:
# the 2 MiB log gives the link's oldest entries up (to P's dirty log) and
# holds the last ones (the writes that waited for room).
for r in 100 101 110; do rand_write /dev/mapper/pa 16 $((r * 128 + 32)) >/dev/null; done
rand_write /dev/mapper/pa 6144 0 >/dev/null
expect_dmesg "log full: slink=1 gives up"
dmc remove pa
dmc remove repla
dmc remove toD

step "takeover: a new group on the DR device, the old primary its remote (down)"
dmc create toP --table "0 $len error"
dmc create replb --table "0 1 replicator ringbuffer 4 /dev/mapper/logb 0 auto 32768 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message replb 0 slink message 1 retest 200
dmc create pb --table "0 $len replicator-dev $(devno replb) 0 0 1 $D nolog 0 1 1 /dev/mapper/toP disk 3 /dev/mapper/dlb 128 nosync"
# The new primary writes: regions 60 and 61, and region 100 again.
for r in 60 61 100; do rand_write /dev/mapper/pb 8 $((r * 128 + 64)) >/dev/null; done
# A sentinel on the old primary, in region 90 that nobody wrote since the
# copies were equal: a failback that copies it is not fast.
sentinel=$((90 * 128 + 8))
dd if=/dev/urandom of=$P bs=4096 count=1 seek=$((sentinel / 8)) oflag=direct status=none
sum_sentinel=$(sha $P 8 $sentinel)

step "failback: what the old primary never shipped"
replog unshipped /dev/mapper/loga --slink 1 >unshipped.out
cat unshipped.out
replog dirty /dev/mapper/dla --region-size 128 --length $len >dirty.out
cat dirty.out
[ -s unshipped.out ] || fail "no entry in the old primary's log for the DR"
[ -s dirty.out ] || fail "no region in the old primary's dirty log"
awk '$1 != 0 { exit 1 }' unshipped.out || fail "an unshipped entry of another device: $(cat unshipped.out)"
# The regions of both lists, merged into runs: what the failback must
# copy, and no more; one `mark` per run (a dmsetup costs ~0.6 s here).
# Copying back discards what the old primary never shipped: refused
# unless asked for.
rc=0
replog failback /dev/mapper/loga --slink 1 --dev 0 --dirty-log /dev/mapper/dla \
	--region-size 128 --length $len --mark pb >refused.out 2>refused.err || rc=$?
assert_eq "$rc" 4 "replog failback without --discard-unshipped: exit status"
assert_eq "$(tail -n 1 refused.err)" "replog failback: the old primary holds writes the other site never received (51 of 128 regions); copying back discards them: give --discard-unshipped to do so" "the refusal"
[ ! -s refused.out ] || fail "a refused failback printed: $(cat refused.out)"
replog failback /dev/mapper/loga --slink 1 --dev 0 --dirty-log /dev/mapper/dla \
	--region-size 128 --length $len --mark pb --discard-unshipped | tee marks.out | sh -e
cat marks.out
union=0
while read -r _ _ _ _ _ _ sector sectors; do
	union=$((union + sectors / 128))
done <marks.out
[ "$union" -lt 128 ] || fail "the lists cover the whole device"

step "the old primary comes back as the DR"
dmesg_mark
lower toP "0 $len linear $P 0"
wait_eq "A 128/128" "the old primary resynchronises" remote_state pb 1
wait_eq "A,0,0" "the new writes are shipped" slink_backlog 1 replb
resynced() {
	_dmesg_since_mark | sed -n 's/.*slink=1 device 0 in sync; \([0-9]*\) regions resynchronised/\1/p' |
		paste -sd+ - | sed 's/^$/0/' | bc
}
# Regions 0..47 (the burst) and 100, 101, 110: nothing else.
wait_eq "$union" "regions copied back" resynced
assert_eq "$union" 51 "regions the old primary never shipped"
echo "failback copied $union of 128 regions"
assert_eq "$(sha $P 8 $sentinel)" "$sum_sentinel" "the sentinel in a region nobody wrote"
assert_eq "$(sha $P $sentinel)" "$(sha $D $sentinel)" "old primary equals DR before the sentinel"
rest=$((sentinel + 8))
assert_eq "$(sha $P $((len - rest)) $rest)" "$(sha $D $((len - rest)) $rest)" "old primary equals DR after the sentinel"

step done
dmc remove pb
dmc remove replb
for d in toP dlb dla logb loga; do dmc remove $d; done
