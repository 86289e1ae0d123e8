#!/bin/sh
# timeout: 600
# dr-disks: 3
# Three remote site links over NBD: the DR guest's three disks imported as
# /dev/nbd0../dev/nbd2, one replicated device with a copy on each: site
# link 1 synchronous, 2 asynchronous, 3 asynchronous with a fall-behind
# limit of 4 entries. After the initial copy, after an fio burst that puts
# site link 3 past its limit, and after site link 2 is made synchronous
# while fio writes (no write may fail; it then holds every completed write
# at once), every DR disk image equals the local device. No link goes down.
. /tests/lib.sh

len=2048 # the replicated device: 1 MiB, 16 regions of 64 KiB (the link
          # carries 100-300 KiB/s under TCG, shared by the three)
regions=16
# The DR does not die here: a generous I/O timeout, so that requests
# queued behind the three links' traffic on a loaded host do not time out.
NBD_TIMEOUT=60
# The site links' own timeout must not come first.
echo 90 >/sys/module/dm_replicator/parameters/slink_timeout
ramdev 0 >/dev/null
ramdev 1 >/dev/null

step "waiting for the DR"
dr_start
[ "$(dr_disks)" -ge 3 ] || fail "the DR exports $(dr_disks) disk(s), the test needs 3"
for k in 0 1 2; do
	nbd_attach /dev/nbd$k $k
done
# Disks 1 and 2 are fresh images (vm-pair.sh makes them for this test),
# zero like the local device: their copies start in sync (nosync). Disk 0
# holds what earlier tests wrote: its copy starts with an initial copy.
zero=$(sha /dev/ram1 $len)
for k in 1 2; do
	assert_eq "$(dr_sha $len 0 $k)" "$zero" "DR disk $k before the test (zeroes)"
done

dmesg_mark
# A 4 MiB log: the loads below fit, so no link gives entries up.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 8192 blockdev 1 0 blockdev 2 1 synchronous blockdev 2 2 asynchronous blockdev 4 3 asynchronous ios 4"
ctl=$(devno repl)
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/nbd0 core 2 128 sync 2 1 /dev/nbd1 core 2 128 nosync 3 1 /dev/nbd2 core 2 128 nosync"
dmc message repl 0 statistics on
assert_eq "$(table_of repl | cut -d' ' -f7-)" "blockdev 1 0 blockdev 2 1 synchronous blockdev 2 2 asynchronous blockdev 4 3 asynchronous ios 4" "site links in the table"

# in_sync WHAT S2: every region of the three copies in sync, no entry left
# for any link; site link 2 shows S2 (S or A), 1 is S, 3 is A (below its
# limit).
in_sync() {
	for n in 1 2 3; do
		wait_eq "A $regions/$regions" "$1: regions of slink $n" remote_state r0 $n
	done
	wait_eq "S,0,0" "$1: backlog of slink 1" slink_backlog 1
	wait_eq "$2,0,0" "$1: backlog of slink 2" slink_backlog 2
	wait_eq "A,0,0" "$1: backlog of slink 3" slink_backlog 3
}
# all_equal WHAT: each DR disk image holds what the local device holds.
all_equal() {
	local want k
	want=$(sha /dev/ram1 $len)
	for k in 0 1 2; do
		assert_eq "$(dr_sha $len 0 $k)" "$want" "$1: DR disk $k (slink $((k + 1)))"
	done
}

step "initial copy of slink 1"
in_sync "initial copy" A
all_equal "after the initial copy"
expect_dmesg "slink=1 device 0 in sync; $regions regions resynchronised"

step "fio burst: slink 3 past its limit"
dmesg_mark
fio --name=burst --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=16 \
	--ioengine=libaio --direct=1 --io_size=256k --fsync=32 --output=/dev/null ||
	fail "fio burst: a write failed"
expect_dmesg "enforcing fallbehind sync on slink=3"
in_sync "after the burst" A
expect_dmesg "releasing fallbehind sync on slink=3"
_dmesg_has "fallbehind sync on slink=2" && fail "slink 2 has no limit, but: $(_dmesg_since_mark | grep -F 'slink=2')"
all_equal "after the burst"

step "slink 2 made synchronous under load"
dmesg_mark
w0=$(dmc status repl | sed 's/.* w=\([0-9]*\) .*/\1/')
fio --name=policy --filename=/dev/mapper/r0 --rw=randwrite --bs=8k --iodepth=4 \
	--ioengine=libaio --direct=1 --io_size=512k --fsync=16 --output=fio.out &
fio=$!
# Once fio's writes arrive (fio starts in 1-2 s under TCG).
i=0
while [ "$(dmc status repl | sed 's/.* w=\([0-9]*\) .*/\1/')" -lt $((w0 + 8)) ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "fio wrote nothing in 20 s: $(status_of repl)"
	sleep 0.2
done
dmc message repl 0 slink message 2 policy synchronous
kill -0 $fio 2>/dev/null || fail "fio ended before the policy change (not under load)"
case $(slink_backlog 2) in
S,*) ;;
*) fail "slink 2 not shown synchronous after the message: $(status_of repl)" ;;
esac
wait $fio || fail "fio with the policy change: $(grep -i err fio.out)"
grep -q 'err= 0' fio.out || fail "fio reports errors: $(grep -i err fio.out)"
in_sync "after the policy change" S
assert_eq "$(table_of repl | cut -d' ' -f7-)" "blockdev 1 0 blockdev 2 1 synchronous blockdev 2 2 synchronous blockdev 4 3 asynchronous ios 4" "site links after the policy change"
all_equal "after the policy change"

# Both synchronous links hold a write as soon as it completes.
sum=$(rand_write /dev/mapper/r0 128 1024)
assert_eq "$(dr_sha 128 1024 1)" "$sum" "DR disk 1 (slink 2, now synchronous) right after a write"
assert_eq "$(dr_sha 128 1024 0)" "$sum" "DR disk 0 (slink 1) right after a write"

# The links never went down (the runner clears the kernel log per test).
dmesg | grep -F "replicator: slink=" | grep -F " down (" && fail "a site link went down"
in_sync "at the end" S
all_equal "at the end"

dmc remove r0
dmc remove repl
for k in 0 1 2; do
	nbd_detach /dev/nbd$k
done
