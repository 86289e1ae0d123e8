#!/bin/sh
# timeout: 300
# Online verify: `verify <slink>` compares a device with its remote copy
# region by region and names the regions that differ; `verify <slink>
# repair` marks them out of sync and the resync copies exactly those.
# Differences made behind the replicator's back: blocks scribbled on the
# remote device, and writes a remote dm-flakey (drop_writes) acknowledged
# but never stored, the silent loss nothing else can see. A verify under
# a write load finds nothing; a slow one can be stopped; refusals.
. /tests/lib.sh

for i in 0 1 2; do ramdev $i >/dev/null; done
len=16384 # 8 MiB, 128 regions of 64 KiB (128 sectors)
dmc create rem --table "0 $len linear /dev/ram2 0"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 32768 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rem core 2 128 nosync"
# The verify group at the end of r0's status, and waiting for its end.
verify_state() { dm_status r0 | sed -n 's/.* verify \(.*\)$/\1/p'; }
verify_word() { verify_state | cut -d' ' -f2; }
verify_done() { wait_eq verified "the verify of r0 ends" verify_word; }
events() { dmc info -c --noheadings -o events r0 | tr -d ' '; }

step fill and verify an equal copy
rand_write /dev/mapper/r0 $len >/dev/null
wait_eq "A,0,0" "the link catches up" slink_backlog 1
assert_eq "$(remote_state r0 1)" "A 128/128" "r0 in sync"
assert_eq "$(verify_state)" "" "no verify group before the first verify"
dmesg_mark
ev=$(events)
dmc message r0 0 verify 1
verify_done
assert_eq "$(verify_state)" "1 verified 128/128 0 0" "verify of an equal copy"
expect_dmesg "replicator: slink=1 device 0: verify verified: 128 of 128 regions, 0 differ, 0 skipped"
wait_eq 1 "event at the end of the verify" eval '[ "$(events)" -gt "$ev" ] && echo 1'

step blocks changed behind the replicator
# Region 5: 4 KiB in its middle; region 77: its last sector.
scribble /dev/ram2 8 $((5 * 128 + 40))
scribble /dev/ram2 1 $((77 * 128 + 127))
dmesg_mark
dmc message r0 0 verify 1
verify_done
assert_eq "$(verify_state)" "1 verified 128/128 2 0" "verify finds the two regions"
expect_dmesg "replicator: slink=1 device 0: region 5 (sectors 640+128) differs"
expect_dmesg "replicator: slink=1 device 0: region 77 (sectors 9856+128) differs"
# Verify alone repairs nothing.
assert_eq "$(remote_state r0 1)" "A 128/128" "regions still in sync after a verify"
[ "$(sha /dev/ram2 $len)" != "$(sha /dev/ram1 $len)" ] || fail "the remote equals the local device after a verify without repair"

step writes a remote flakey device drops
# Every write to the remote is acknowledged and dropped.
lower rem "0 $len flakey /dev/ram2 0 0 3600 1 drop_writes"
rand_write /dev/mapper/r0 16 $((20 * 128 + 16)) >/dev/null
rand_write /dev/mapper/r0 8 $((21 * 128 + 120)) >/dev/null
sync
wait_eq "A,0,0" "the dropped writes count as shipped" slink_backlog 1
assert_eq "$(remote_state r0 1)" "A 128/128" "the link shows nothing wrong"
lower rem "0 $len linear /dev/ram2 0"

step verify and repair
dmesg_mark
dmc message r0 0 verify 1 repair
verify_done
assert_eq "$(verify_state)" "1 verified 128/128 4 0" "verify finds the scribbled and the dropped regions"
for r in "5 (sectors 640+128)" "20 (sectors 2560+128)" "21 (sectors 2688+128)" "77 (sectors 9856+128)"; do
	expect_dmesg "replicator: slink=1 device 0: region $r differs; marked out of sync"
done
wait_eq "A 128/128" "the marked regions resynchronise" remote_state r0 1
# Each marked region may resynchronise before the next is found: the
# counts of the "in sync" lines add up to the regions copied.
resynced() {
	_dmesg_since_mark | sed -n 's/.*slink=1 device 0 in sync; \([0-9]*\) regions resynchronised/\1/p' |
		paste -sd+ - | sed 's/^$/0/' | bc
}
wait_eq 4 "regions resynchronised by the repair" resynced
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local after the repair"
dmc message r0 0 verify 1
verify_done
assert_eq "$(verify_state)" "1 verified 128/128 0 0" "verify after the repair"

step verify under a write load
fio --name=load --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --ioengine=libaio --iodepth=8 \
	--direct=1 --time_based --runtime=600 --rate_iops=200 --randseed=42 >fio.out 2>&1 &
fio=$!
sleep 2
kill -0 $fio 2>/dev/null || { cat fio.out; fail "fio did not start"; }
dmesg_mark
dmc message r0 0 verify 1
verify_done
kill -0 $fio 2>/dev/null || { cat fio.out; fail "the load ended before the verify did"; }
kill $fio
wait $fio || true
state=$(verify_state)
case $state in
"1 verified 128/128 0 "*) ;;
*) fail "verify under a load: '$state'" ;;
esac
echo "verify under load: $state"
wait_eq "A,0,0" "the link catches up after the load" slink_backlog 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local after the load"

step a slow verify stopped
# Each remote read takes 100 ms: the verify takes longer than 12 s.
lower rem "0 $len delay /dev/ram2 0 100 /dev/ram2 0 0"
dmc message r0 0 verify 1
refuse_msg r0 "message refused: A verify is running on this device" verify 1
dmc message r0 0 verify stop
wait_eq stopped "the verify stops" verify_word
done=$(verify_state | cut -d' ' -f3 | cut -d/ -f1)
[ "$done" -lt 128 ] || fail "the stopped verify went through all regions"
refuse_msg r0 "message refused: No verify is running on this device" verify stop
lower rem "0 $len linear /dev/ram2 0"

step refusals
refuse_msg r0 "message refused: No device on this site link" verify 2
refuse_msg r0 "message refused: Site link 0 cannot be verified" verify 0
refuse_msg r0 "message refused: Missing site link number or stop after verify" verify
refuse_msg r0 "message refused: Only repair may follow verify <slink_nr>" verify 1 fix
expect_refusals

step a verify in progress when the device goes
lower rem "0 $len delay /dev/ram2 0 100 /dev/ram2 0 0"
dmc message r0 0 verify 1
dmc remove r0
lower rem "0 $len linear /dev/ram2 0"

step done
dmc remove repl
dmc remove rem
