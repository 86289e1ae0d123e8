#!/bin/sh
# timeout: 600
# dr-disks: 3
# dr-agent: 1
# Takeover and failback across two machines over NBD (the procedure of
# Documentation/dr-guide.rst). Site B, the harness's DR guest (the one
# the host can kill), is the primary: its disk vda (8 MiB of it) is
# replicated asynchronously to site A, this guest, whose /dev/ram1 it
# imports from A's nbd-server; B's log is on vdb, its disk dirty log on
# vdc. The link is cut (netem loss 100 %) under a write load on B, and B
# is killed. A takes over: a group over /dev/ram1, B its remote (down),
# and writes. B comes back; what it never shipped is read from its log
# and dirty log over NBD (`replog failback`) and marked on A; A copies
# back only those regions, and ships its own writes from its log. A
# sentinel planted on B in a region nobody wrote survives. Then the
# planned switch back: A stops, B is primary again over the same data,
# with A's copy as its remote, nothing lost. Both copies carry replica
# labels (in their last 4 KiB, beyond the replicated 8 MiB): A's copy is
# promoted at the takeover, B's old copy is refused until it joins A's
# generation after the failback marks, and the roles swap again with a
# promotion of B and a join of A's copy.
. /tests/lib.sh

len=16384 # 8 MiB: 128 regions of 64 KiB (128 sectors)
R=128

# A's nbd-server exports /dev/ram1 as "a".
a_export() { primary_export a=/dev/ram1; }
a_unexport() { primary_unexport; }

# Shell text for B: wait until slink 1 of B's group holds nothing.
B_SHIPPED='i=0
until dmsetup status repl | grep -q " 1 A,0,0 "; do
	i=$((i + 1)); [ $i -le 600 ] || { dmsetup status repl; exit 1; }; sleep 0.1
done'

for i in 0 1 2; do ramdev $i >/dev/null; done

step "site B is the primary, replicating to site A"
a_export
dr_start
# B's disks as a new primary's: what earlier tests left there is gone
# (the copies start equal: zeroes on both sides).
dr_run "
dmsetup remove_all
for d in /dev/nbd0 /dev/nbd1 /dev/nbd2 /dev/nbd3; do nbd-client -d \$d >/dev/null 2>&1 || true; done
dd if=/dev/zero of=/dev/vda bs=1M count=8 oflag=direct status=none
dd if=/dev/zero of=/dev/vdb bs=1M count=4 oflag=direct status=none
dd if=/dev/zero of=/dev/vdc bs=1M count=1 oflag=direct status=none
nbd-client $PAIR_PRIMARY 10809 /dev/nbd0 -N a -t $NBD_TIMEOUT -b 4096
replog label create /dev/vda --dev-nr 0 --length $len --force
replog label join /dev/nbd0 --from /dev/vda
dmsetup create repl --table '0 1 replicator ringbuffer 4 /dev/vdb 0 create 8192 blockdev 1 0 blockdev 2 1 asynchronous'
ctl=\$(dmsetup info -c --noheadings -o major,minor --separator : repl | tr -d ' ')
dmsetup create p --table \"0 $len replicator-dev \$ctl 0 0 1 /dev/vda nolog 0 1 1 /dev/nbd0 disk 3 /dev/vdc $R nosync\"
# 1 MiB in regions 64..79, shipped.
dd if=/dev/urandom of=/dev/mapper/p bs=64k count=16 seek=64 oflag=direct status=none
$B_SHIPPED
dmsetup status p
" || fail "B's group"
assert_eq "$(sha /dev/ram1 $len)" "$(dr_sha $len 0)" "A's copy equals B"

step "the link is cut under a write load on B; B is killed"
netem_set loss 100%
dr_run "
# 4 KiB writes in regions 0..47, in the background until B dies.
setsid sh -c 'i=0; while :; do dd if=/dev/urandom of=/dev/mapper/p bs=4k count=1 seek=\$(( (i * 37) % 768 )) oflag=direct status=none; i=\$((i + 1)); done' </dev/null >/dev/null 2>&1 &
sleep 8
dmsetup status repl
dmsetup status p
" || fail "B's load"
dr_kill
netem_clear
a_unexport
image=$(sha /dev/ram1 $len)

step "takeover: site A's group over its copy, B its remote (down)"
# A's copy becomes a primary of the next generation.
replog label promote /dev/ram1
dmc create toB --table "0 $((len + 8)) error"
dmc create replA --table "0 1 replicator ringbuffer 4 /dev/ram0 0 create 8192 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message replA 0 slink message 1 retest 500
dmc create a --table "0 $len replicator-dev $(devno replA) 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/toB disk 3 /dev/ram2 $R nosync"
assert_eq "$(sha /dev/mapper/a $len)" "$image" "A serves its copy"
# A writes regions 100..103, 60 KiB each: whole 4 KiB blocks in one bio
# (A's device took its limits from the error table: at most 255 sectors
# per bio; B's NBD device has 4 KiB blocks).
for r in 100 101 102 103; do rand_write /dev/mapper/a 120 $((r * R)) >/dev/null; done
say "  A took over; its writes wait for B: $(slink_backlog 1 replA)"

step "B comes back: what it never shipped"
dr_start
nbd_attach /dev/nbd0 0
nbd_attach /dev/nbd1 1
nbd_attach /dev/nbd2 2
rc=0
replog failback /dev/nbd1 --slink 1 --dev 0 --dirty-log /dev/nbd2 --region-size $R --length $len --mark a \
	--discard-unshipped >marks.sh 2>failback.err || rc=$?
cat failback.err
cat marks.sh
# 1: B was killed, its log has crash residue that recovery discards.
[ $rc -le 1 ] || fail "replog failback: exit $rc"
[ -s marks.sh ] || fail "nothing unshipped on B: the cut and the load did not work"
union=$(awk '{ n += $8 / 128 } END { print n + 0 }' marks.sh)
# A sentinel on B in region 120, which nobody wrote since the copies
# were equal: a failback that copies it is not fast.
sentinel=$((120 * R + 8))
dd if=/dev/urandom of=/dev/nbd0 bs=4096 count=1 seek=$((sentinel / 8)) oflag=direct status=none
sum_sentinel=$(sha /dev/nbd0 8 $sentinel)

step "failback: A marks those regions and copies them back to B"
dmesg_mark
sh -e marks.sh
# The path to B again (all of B's disk: its label is in its last 4 KiB).
# B's copy is still the primary of the old generation: refused, nothing
# written to it, until it joins A's generation.
lower toB "0 $(sectors /dev/nbd0) linear /dev/nbd0 0"
expect_dmesg "holds generation 1, this site 2: Remote device holds an older generation: fail it back first" 8
assert_eq "$(sha /dev/nbd0 8 $sentinel)" "$sum_sentinel" "B untouched while refused"
replog label join /dev/nbd0 --from /dev/ram1
wait_eq "$(devno replA) 0 replicating 2 0 A - 1 A 128/128" "B in sync and consistent" status_of a
wait_eq "A,0,0" "A's writes shipped to B" slink_backlog 1 replA
resynced() {
	_dmesg_since_mark | sed -n 's/.*slink=1 device 0 in sync; \([0-9]*\) regions resynchronised/\1/p' |
		paste -sd+ - | sed 's/^$/0/' | bc
}
wait_eq "$union" "regions copied back" resynced
say "  failback copied $union of 128 regions back to B, and shipped A's 4 regions of writes from its log"
assert_eq "$(sha /dev/nbd0 8 $sentinel)" "$sum_sentinel" "the sentinel in a region nobody wrote"
assert_eq "$(sha /dev/nbd0 $sentinel)" "$(sha /dev/ram1 $sentinel)" "B equals A before the sentinel"
rest=$((sentinel + 8))
assert_eq "$(sha /dev/nbd0 $((len - rest)) $rest)" "$(sha /dev/ram1 $((len - rest)) $rest)" "B equals A after the sentinel"
# The test's own block undone: B is now a whole copy of A.
dd if=/dev/mapper/a of=/dev/nbd0 bs=4096 count=1 skip=$((sentinel / 8)) seek=$((sentinel / 8)) iflag=direct oflag=direct status=none
assert_eq "$(sha /dev/nbd0 $len)" "$(sha /dev/ram1 $len)" "B equals A"

step "planned switch back: A stops, B is the primary again"
final=$(sha /dev/mapper/a $len)
dmc remove a
dmc remove replA
dmc remove toB
for d in 0 1 2; do nbd_detach /dev/nbd$d; done
a_export
# B's log and dirty log are of the old era: the log still holds the
# entries A discarded (a `create` refuses an active log; they must never
# be replayed): formatted again; the dirty log's header cleared (a fresh
# one, all in sync: nosync).
dr_run "
replog format /dev/vdb --size 8192 --force
dd if=/dev/zero of=/dev/vdc bs=4k count=1 oflag=direct status=none
nbd-client $PAIR_PRIMARY 10809 /dev/nbd0 -N a -t $NBD_TIMEOUT -b 4096
replog label promote /dev/vda
replog label join /dev/nbd0 --from /dev/vda
dmsetup create repl --table '0 1 replicator ringbuffer 4 /dev/vdb 0 create 8192 blockdev 1 0 blockdev 2 1 asynchronous'
ctl=\$(dmsetup info -c --noheadings -o major,minor --separator : repl | tr -d ' ')
dmsetup create p --table \"0 $len replicator-dev \$ctl 0 0 1 /dev/vda nolog 0 1 1 /dev/nbd0 disk 3 /dev/vdc $R nosync\"
echo \"before \$(dd if=/dev/mapper/p bs=1M count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)\"
dd if=/dev/urandom of=/dev/mapper/p bs=64k count=4 seek=40 oflag=direct status=none
$B_SHIPPED
dmsetup status p
echo \"after \$(dd if=/dev/mapper/p bs=1M count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)\"
dmsetup remove p
dmsetup remove repl
nbd-client -d /dev/nbd0
" >switch.out || fail "B as primary again: $(cat switch.out)"
cat switch.out
assert_eq "$(sed -n 's/.*| before //p' switch.out)" "$final" "B holds everything A wrote"
assert_eq "$(sed -n 's/.*| after //p' switch.out)" "$(sha /dev/ram1 $len)" "A's copy equals B after B's new writes"
a_unexport
