#!/bin/sh
# The replicator-dev target's table: the seed's lines load, data passes to
# the local device, the table output reloads verbatim, and malformed lines
# are refused with a specific reason, leaving nothing behind.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
dmc create replog_store --table "0 65536 linear /dev/ram0 0"
dmc create local_device --table "0 65536 linear /dev/ram1 0"
dmc create remote_device --table "0 65536 linear /dev/ram2 0"
dmc create local_device2 --table "0 32768 linear /dev/ram1 65536"
dmc create remote_device2 --table "0 32768 linear /dev/ram2 65536"
dmc create dlog --table "0 8192 linear /dev/ram3 0"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/mapper/replog_store 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 100 blockdev 1 2"
ctl=$(devno repl)
ld=$(devno local_device); rd=$(devno remote_device)
ld2=$(devno local_device2); rd2=$(devno remote_device2)
dl=$(devno dlog)

# The seed's first example (63:4 is the replicator's own device).
dmc create r0 --table "0 65536 replicator-dev $ctl 0 0 1 /dev/mapper/local_device nolog 0"
assert_eq "$(table_of r0)" "$ctl 0 0 1 $ld nolog 0" "table of a local-only device"
assert_eq "$(dmc status r0 | cut -d' ' -f4-)" "$ctl 0 replicating 1 0 A -" "status of a local-only device"

# Data passes to the local device, at the right place.
sum=$(rand_write /dev/mapper/r0 2048 100)
assert_eq "$(sha /dev/mapper/local_device 2048 100)" "$sum" "data on the local device"
assert_eq "$(sha /dev/mapper/r0 2048 100)" "$sum" "data read back"
dmc remove r0

# The seed's second example: a local and a remote device with a core log.
dmc create r0 --table "0 65536 replicator-dev $ctl 0 0 1 /dev/mapper/local_device nolog 0 1 1 /dev/mapper/remote_device core 2 2048 sync"
want="$ctl 0 0 1 $ld nolog 0 1 1 $rd core 2 2048 sync"
assert_eq "$(table_of r0)" "$want" "table with a remote device"
# `sync`: a full initial copy in the background, `+` while it runs.
case "$(remote_state r0 1)" in
"A "[0-9]*"+/32" | "A 32/32") ;;
*) fail "status with a remote device: $(status_of r0)" ;;
esac
wait_eq "$ctl 0 replicating 2 0 A - 1 A 32/32" "status after the initial copy" status_of r0
assert_eq "$(sha /dev/mapper/remote_device 65536)" "$(sha /dev/mapper/local_device 65536)" "remote equals local after the initial copy"
dmc reload r0 --table "$(dmc table r0)"
dmc resume r0
assert_eq "$(table_of r0)" "$want" "table after reload"
assert_eq "$(remote_state r0 1)" "A 32/32" "a reload keeps the sync state (no second initial copy)"

# LVM2's form: a disk dirty log, nosync (everything in sync from the start).
dmc create r1 --table "0 32768 replicator-dev $ctl 1 0 1 $ld2 nolog 0 1 1 $rd2 disk 3 $dl 2048 nosync"
assert_eq "$(table_of r1)" "$ctl 1 0 1 $ld2 nolog 0 1 1 $rd2 disk 3 $dl 2048 nosync" "disk dirty log table"
assert_eq "$(dmc status r1 | cut -d' ' -f4-)" "$ctl 1 replicating 2 0 A - 1 A 16/16" "nosync is in sync"

# The seed's third example: a region larger than the device is one
# region covering it. LVM2's log-less form `core 2 0 sync`: the default
# region (1024 sectors). Both tables reload verbatim.
dmc create small_local --table "0 1024 linear /dev/ram3 8192"
dmc create small_remote --table "0 1024 linear /dev/ram3 9216"
dmc create lvm_local --table "0 4096 linear /dev/ram3 10240"
dmc create lvm_remote --table "0 4096 linear /dev/ram3 14336"
sl=$(devno small_local); sr=$(devno small_remote); vl=$(devno lvm_local); vr=$(devno lvm_remote)
dmc create r2 --table "0 1024 replicator-dev $ctl 2 0 1 /dev/mapper/small_local nolog 0 1 1 /dev/mapper/small_remote core 2 2048 sync"
dmc create r3 --table "0 4096 replicator-dev $ctl 3 0 1 $vl nolog 0 1 1 $vr core 2 0 sync"
for d in r2 r3; do
	want=$(table_of $d)
	dmc reload $d --table "$(dmc table $d)"
	dmc resume $d
	assert_eq "$(table_of $d)" "$want" "$d's table after a reload"
done
assert_eq "$(table_of r2)" "$ctl 2 0 1 $sl nolog 0 1 1 $sr core 2 2048 sync" "a region larger than the device, as written"
assert_eq "$(table_of r3)" "$ctl 3 0 1 $vl nolog 0 1 1 $vr core 2 0 sync" "LVM2's core 2 0 sync, as written"
wait_eq "$ctl 2 replicating 2 0 A - 1 A 1/1" "one region covering the device" status_of r2
wait_eq "$ctl 3 replicating 2 0 A - 1 A 4/4" "four default regions" status_of r3
assert_eq "$(sha /dev/mapper/small_remote)" "$(sha /dev/mapper/small_local)" "r2's remote after its initial copy"
dmc remove r2
dmc remove r3
for d in small_local small_remote lvm_local lvm_remote; do dmc remove $d; done

# The replicator cannot go while its devices hold it.
expect_fail dmc remove repl

# Malformed lines, each refused with its own reason (checked in one go).
bad() { refuse_table bad "0 32768 replicator-dev $1" "replicator-dev: $2"; }
bad "" "Missing replicator device"
bad "$ctl" "Missing device number"
bad "$ctl x 0 1 $ld2 nolog 0" "Invalid device number"
bad "$ctl 7" "At least one device required"
bad "$ctl 7 0 1 $ld2" "Too few device arguments"
bad "$ctl 7 1 1 $rd2 core 1 2048" "First device must be on site link 0"
bad "$ctl 7 0 2 $ld2 x nolog 0" "Device parameter count must be 1"
bad "$ctl 7 0 1 $ld2 core 1 2048" "Site link 0 device must use nolog 0"
bad "$ctl 7 0 1 $ld2 nolog 1 x" "nolog takes no parameters"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 nolog 0" "Dirty log required on remote site link"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 ram 1 2048" "Unknown dirty log type"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 1 1000" "Region size must be a power of two of at least 8 sectors"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 2 2048 maybe" "Dirty log sync argument must be sync or nosync"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 3 2048 sync x" "core dirty log takes 1 or 2 parameters"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 disk 1 2048" "disk dirty log takes 2 or 3 parameters"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 1 2048 2 1 $rd2 core 1 4096" "Region size differs between remote devices"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 1 4096" "Region size differs from the replication group's"
bad "$ctl 7 0 1 $ld2 nolog 0 3 1 $rd2 core 1 2048" "Site link not configured on the replicator"
bad "$ctl 7 0 1 /dev/nonexistent nolog 0" "Cannot open local device"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 /dev/nonexistent core 1 2048" "Cannot open remote device"
bad "$ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 disk 2 /dev/nonexistent 2048" "Cannot create dirty log"
bad "$ld 7 0 1 $ld2 nolog 0" "Device is not a replicator"
bad "/dev/nonexistent 7 0 1 $ld2 nolog 0" "Cannot open replicator control device"
bad "$ctl 1 0 1 $ld nolog 0" "Device number is bound to another local device"
refuse_table bad "0 65536 replicator-dev $ctl 7 0 1 $ld2 nolog 0 1 1 $rd2 core 1 2048" "replicator-dev: Remote device is smaller than the replicated device"
expect_refusals

dmc remove r1
dmc remove r0
dmc remove repl
for d in dlog remote_device2 local_device2 remote_device local_device replog_store; do dmc remove $d; done
