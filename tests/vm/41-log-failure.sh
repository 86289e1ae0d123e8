#!/bin/sh
# timeout: 360
# A failed log device does not stop the group: once the log's writes
# fail (its table swapped to `error` under a write load), every write
# goes straight to the local device, no write fails (fio verifies every
# block it wrote), the log shows F, an event is raised, and the remote's
# disk dirty log marks every region written meanwhile. A new log then
# replaces the failed one online (reload of the replicator, r0 suspended
# and resumed, never removed, a writer running): exactly the marked
# regions resynchronise, the remote ends equal to the local device, and
# a block planted on the remote in a region never written stays. The new
# log then fails by dm-flakey and is replaced by the first device,
# repaired (formatted, its old entries never replayed).
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=16384 # 8 MiB replicated device, 128 regions of 64 KiB
events() { dmc info -c --noheadings -o events "$1" | tr -d ' '; }
# The health of the log group of the replicator's status.
log_health() { dm_status repl | awk '{ for (i = 5; i < NF; i++) if ($i ~ /^[48]$/ && $(i + 1) ~ /^[AF]$/) { print $(i + 1); exit } }'; }
synced() { remote_state r0 1 | sed 's|^. \([0-9]*\)+*/128$|\1|'; }

dmc create lg --table "0 4096 linear /dev/ram0 0"
dmc create dl --table "0 2048 linear /dev/ram3 0"
rtable="0 1 replicator ringbuffer 4 /dev/mapper/lg 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create repl --table "$rtable"
ctl=$(devno repl)
dtable="0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/ram2 disk 2 /dev/mapper/dl 128"
dmc create r0 --table "$dtable"
wait_eq 128 "initial copy" synced
# The last region is never written from here on; a block planted in it
# on the remote only shows that a resync copied the region.
dd if=/dev/urandom of=/dev/ram2 bs=4k count=1 seek=$(((len - 8) / 8)) oflag=direct status=none
planted=$(sha /dev/ram2 8 $((len - 8)))
rand_write /dev/mapper/r0 2048 >/dev/null
wait_eq "A,0,0" "shipped before the failure" slink_backlog 1

step log fails under a load
dmesg_mark
ev=$(events repl)
fio --name=load --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=16 \
	--ioengine=libaio --direct=1 --size=4M --io_size=6M --verify=crc32c \
	--output=fio.out &
fio=$!
sleep 2
# The link is stopped as the log fails, so it surely lacks entries then
# (a link that keeps up may hold every one, and have none to give up).
dmc message repl 0 stop 1
lower lg "0 4096 error"
wait $fio || { cat fio.out; fail "a write failed or was lost after the log failed"; }
expect_dmesg "replicator: replication log " 10
expect_dmesg "replicator: log failed: slink=1 gives up"
dmc message repl 0 start 1
assert_eq "$(log_health)" F "log health"
[ "$(events repl)" -gt "$ev" ] || fail "no event on the replicator after the log failed"
n=$(synced)
[ "$n" -lt 128 ] || fail "no region out of sync after writes without the log: $(status_of r0)"
assert_eq "$(sha /dev/mapper/r0 8 $((len - 8)))" "$(sha /dev/ram1 8 $((len - 8)))" "r0 reads its local device"

step more writes after the failure
sum=$(rand_write /dev/mapper/r0 128 0)
assert_eq "$(sha /dev/ram1 128 0)" "$sum" "a write after the failure is on the local device"
m=$(synced)
[ "$m" -lt 128 ] || fail "regions written without the log are in sync: $(status_of r0)"
sleep 1
assert_eq "$(synced)" "$m" "nothing resynchronises without a log"

step new log, online
# The failed log is replaced without removing r0, a writer running: a
# reload of the replicator naming a new log (formatted whatever it
# holds) is refused while r0 is live, and takes over once r0 is
# suspended; r0's resume attaches its devices to the new log.
lg2=$(loopdev 4)
dmc create lgb --table "0 8192 linear $lg2 0"
fio --name=across --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=4 \
	--ioengine=libaio --direct=1 --size=2M --io_size=3M --verify=crc32c \
	--rate_iops=200 --output=fio2.out &
fio=$!
new="0 1 replicator ringbuffer 4 /dev/mapper/lgb 0 create 4096 blockdev 1 0 blockdev 2 1 asynchronous"
dmc reload repl --table "$new"
dmesg_mark
expect_fail dmc resume repl
expect_dmesg "cannot resume: Suspend the group's replicator-dev devices to replace its log"
dmc suspend r0
m=$(synced)
[ "$m" -lt 128 ] || fail "regions written without the log are in sync: $(status_of r0)"
dmesg_mark
dmc resume repl
expect_dmesg "replication log replaced"
# Stopped until the count is read: the resync would start at once.
dmc message repl 0 stop 1
dmc resume r0
assert_eq "$(synced)" "$m" "regions in sync kept across the log replacement"
assert_eq "$(log_health)" A "health of the new log"
assert_eq "$(table_of repl)" "$(echo "$new" | cut -d' ' -f4- | sed "s|/dev/mapper/lgb|$(devno lgb)|")" "replicator table with the new log"
dmc message repl 0 start 1
wait $fio || { cat fio2.out; fail "a write failed or was lost across the log replacement"; }
wait_eq "A,0,0" "caught up" slink_backlog 1
wait_eq 128 "resynchronised" synced
expect_dmesg "slink=1 device 0 in sync; " 10
# At least the regions out of sync at the replacement; more when the
# resync had begun between the give-up and the log failure (the count
# runs from the device's last in-sync state).
k=$(_dmesg_since_mark | sed -n 's/.*slink=1 device 0 in sync; \([0-9]*\) regions resynchronised.*/\1/p' | tail -n 1)
[ "${k:-0}" -ge $((128 - m)) ] || fail "${k:-no} regions resynchronised, $((128 - m)) were out of sync at the replacement"
assert_eq "$(sha /dev/ram2 $((len - 8)))" "$(sha /dev/ram1 $((len - 8)))" "remote equals local"
assert_eq "$(sha /dev/ram2 8 $((len - 8)))" "$planted" "a region never written was not copied"

step flakey log, replaced by the repaired first one
# The new log fails too, by dm-flakey (its writes and flushes fail, its
# reads work), and is replaced by the first log device, working again:
# formatted, so none of its old entries is replayed over newer data.
dmesg_mark
lower lgb "0 8192 flakey $lg2 0 0 1 1 error_writes"
sum1=$(rand_write /dev/mapper/r0 256 2048)
expect_dmesg "replicator: replication log " 10
assert_eq "$(log_health)" F "health after dm-flakey"
lower lg "0 4096 linear /dev/ram0 0"
dmc reload repl --table "$(echo "$rtable" | sed 's/ auto / create /')"
dmc suspend r0
dmc resume repl
dmc resume r0
assert_eq "$(log_health)" A "health of the repaired log"
wait_eq "A,0,0" "caught up on the repaired log" slink_backlog 1
wait_eq 128 "resynchronised on the repaired log" synced
# Written after everything else: an old entry of the first log replayed
# over it would show here.
assert_eq "$(sha /dev/ram1 256 2048)" "$sum1" "the write after the second failure"
assert_eq "$(sha /dev/ram2 $((len - 8)))" "$(sha /dev/ram1 $((len - 8)))" "remote equals local after the second failure"

step done
dmc remove r0
dmc remove repl
dmc remove lg
dmc remove lgb
dmc remove dl
losetup -d "$lg2"
