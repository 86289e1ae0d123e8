#!/bin/sh
# The replication log's data path: writes go through the log and land on
# the local devices; overlapping and unaligned writes keep their order;
# flushes and FUA writes complete; many writes share one log flush; a
# full log holds writers without failing them; entries still in the log
# are replayed onto a local device when its table is loaded again.
. /tests/lib.sh

for i in 0 1 2; do ramdev $i >/dev/null; done
log=/dev/ram0
dmc create repl --table "0 1 replicator ringbuffer 4 $log 0 auto 65536 blockdev 2 0 synchronous"
ctl=$(devno repl)
dmc create r0 --table "0 65536 replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0"
dmc create r1 --table "0 65536 replicator-dev $ctl 1 0 1 /dev/ram2 nolog 0"

# Fresh log: head = next = 1, nothing written.
assert_eq "$(dmc status repl | cut -d' ' -f4-)" "replicating 0/65512 1 0 S,0,0 8 A 1 1 0 0 0 0 0" "status of a fresh log"
# The status reader of the polling helpers agrees with dmsetup.
assert_eq "$(dm_status repl)" "$(dmc status repl)" "dm_status of the replicator"
assert_eq "$(dm_status r1)" "$(dmc status r1)" "dm_status of a replicator-dev"

# Data reads back and is on the local device.
sum=$(rand_write /dev/mapper/r0 4096 1000)
assert_eq "$(sha /dev/mapper/r0 4096 1000)" "$sum" "data read back through r0"
assert_eq "$(sha /dev/ram1 4096 1000)" "$sum" "data on r0's local device"
sum1=$(rand_write /dev/mapper/r1 300 7)
assert_eq "$(sha /dev/ram2 300 7)" "$sum1" "data on r1's local device"

# Overlapping, unaligned writes land in order: the device equals a
# reference file that had the same writes applied.
ref=$DMR_TMP/ref
dd if=/dev/mapper/r0 of="$ref" bs=1M count=2 status=none iflag=direct
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	off=$(( (i * 37) % 1500 )); len=$(( (i * 13) % 200 + 1 ))
	dd if=/dev/urandom of="$DMR_TMP/chunk" bs=512 count=$len status=none
	dd if="$DMR_TMP/chunk" of=/dev/mapper/r0 bs=512 seek=$off conv=notrunc oflag=direct status=none
	dd if="$DMR_TMP/chunk" of="$ref" bs=512 seek=$off conv=notrunc status=none
done
assert_eq "$(sha /dev/mapper/r0 4096)" "$(sha "$ref" 4096)" "overlapping unaligned writes"
assert_eq "$(sha /dev/ram1 4096)" "$(sha "$ref" 4096)" "overlapping writes on the local device"

# Flush and FUA writes complete (and are journaled as such).
dd if=/dev/urandom of=/dev/mapper/r1 bs=4k count=4 oflag=direct,sync status=none || fail "FUA write"
sync /dev/mapper/r1 2>/dev/null || blockdev --flushbufs /dev/mapper/r1 || fail "flush"
epoch=$(dmc status repl | cut -d' ' -f13)
[ "$epoch" -ge 1 ] || fail "a flush starts an epoch (epoch $epoch)"

# Group commit: concurrent writers share log flushes.
fio --name=gc --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=16 \
	--ioengine=libaio --direct=1 --size=4M --numjobs=2 --group_reporting \
	--output=/dev/null || fail "fio"
set -- $(dmc status repl | cut -d' ' -f14-)
entries=$1 flushes=$2
[ "$flushes" -lt "$entries" ] || fail "no batching: $entries entries, $flushes log flushes"
echo "group commit: $entries entries, $flushes log flushes"

# Discard and write-zeroes are journaled without data.
blkdiscard -z -o 0 -l 65536 /dev/mapper/r1 2>/dev/null && {
	assert_eq "$(sha /dev/ram2 128)" "$(dd if=/dev/zero bs=512 count=128 status=none | sha256sum | cut -d' ' -f1)" "write-zeroes"
}

# A clean shutdown frees every entry; the log opens again empty, with
# the sequence numbers going on.
next=$(dmc status repl | cut -d' ' -f12)
dmc remove r0
dmc remove r1
dmc remove repl
dmc create repl --table "0 1 replicator ringbuffer 2 $log 0 blockdev 2 0 synchronous"
assert_eq "$(dmc table repl | cut -d' ' -f4-)" "ringbuffer 2 $(bdevno $log) 0 blockdev 2 0 synchronous" "table of an opened log"
set -- $(dmc status repl | cut -d' ' -f4-)
assert_eq "$2 $7 $8 $9" "0/65512 A $next $next" "reopened log is empty and continues the sequence"
dmc create r1 --table "0 65536 replicator-dev $ctl 1 0 1 /dev/ram2 nolog 0"
assert_eq "$(sha /dev/mapper/r1 128 7)" "$(sha /dev/ram2 128 7)" "reopened device"
dmc remove r1
dmc remove repl

# A full log holds writers: a log of 2048 sectors (253 ring blocks) takes
# 4 MiB of writes twice without an error, in order, and waits for space.
ramdev 3 >/dev/null
dmc create small_log --table "0 2048 linear /dev/ram3 0"
dmc create small_local --table "0 65536 linear /dev/ram3 4096"
dmc create repl2 --table "0 1 replicator ringbuffer 4 /dev/mapper/small_log 0 create 2048 blockdev 2 0 synchronous"
ctl2=$(devno repl2)
dmc create s0 --table "0 65536 replicator-dev $ctl2 0 0 1 /dev/mapper/small_local nolog 0"
sum=$(rand_write /dev/mapper/s0 8192)
assert_eq "$(sha /dev/mapper/small_local 8192)" "$sum" "data through a full log"
fio --name=full --filename=/dev/mapper/s0 --rw=randwrite --bs=64k --iodepth=32 \
	--ioengine=libaio --direct=1 --size=4M --output=/dev/null || fail "fio through a full log"
set -- $(dmc status repl2 | cut -d' ' -f4-)
[ "${14}" -gt 0 ] || fail "the log never filled: $*"
echo "full log: waited for space ${14} times"

# A --noflush suspend in the middle of writes through the full log hands
# the writes not yet journaled back to dm core, which issues them again
# after the resume: no error, and the data is all there.
dd if=/dev/urandom of="$DMR_TMP/blob" bs=1M count=4 status=none
dd if="$DMR_TMP/blob" of=/dev/mapper/s0 bs=64k oflag=direct status=none &
ddpid=$!
sleep 1
dmc suspend --noflush s0
dmc resume s0
wait $ddpid || fail "write across a --noflush suspend"
assert_eq "$(sha /dev/mapper/s0 8192)" "$(sha "$DMR_TMP/blob" 8192)" "data across a --noflush suspend"
dmc remove s0
dmc remove repl2

# A write is acknowledged once the log has it and its local write is
# issued, not once that write ended; a read of its range waits for it.
# The local device delays writes by 8 s (dm-delay), reads not at all:
# right after the write the local device still lacks it, a read through
# the mapped device returns it all the same, and a suspend returns only
# once the local writes reached the device.
ramdev 0 >/dev/null
ramdev 1 >/dev/null
dmc create slow --table "0 65536 delay /dev/ram1 0 0 /dev/ram1 0 8000"
dmc create repl --table "0 1 replicator ringbuffer 4 $log 0 auto 65536 blockdev 2 0 synchronous"
dmc create r0 --table "0 65536 replicator-dev $(devno repl) 0 0 1 /dev/mapper/slow nolog 0"
sum=$(rand_write /dev/mapper/r0 8 2048)
[ "$(sha /dev/ram1 8 2048)" != "$sum" ] || fail "the write waited for its local write (8 s)"
assert_eq "$(sha /dev/mapper/r0 8 2048)" "$sum" "a read of a write whose local write is in flight"
sum=$(rand_write /dev/mapper/r0 8 4096)
dmc suspend r0
assert_eq "$(sha /dev/ram1 8 4096)" "$sum" "the local write done when the suspend returned"
dmc resume r0
dmc remove r0
dmc remove repl
dmc remove slow
