#!/bin/sh
# timeout: 240
# Boot-time assembly with the real module (Documentation/assembly.rst):
# `replog config up` creates a group from a configuration file, the
# tables it loaded are what `dmsetup table` prints back, `show` and
# `metrics` read the live status, `down` removes it cleanly (the log
# writes its checkpoint), and a second `up` brings the group back with
# its data, its disk dirty log in sync and nothing to resynchronise; `up`
# on a running group changes nothing.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=16384 # 8 MiB devices, 128 regions of 64 KiB
dmc create far0 --table "0 $len linear /dev/ram2 0"
dmc create far1 --table "0 $len linear /dev/ram2 $len"
dmc create dl0 --table "0 2048 linear /dev/ram2 $((2 * len))"
cat >groups.conf <<EOF
# Two devices replicated to one asynchronous site.
group grp
  log /dev/ram0 auto 32768
  site 0 synchronous
  site 1 asynchronous ios 1000
  device g0 0 /dev/ram1 length $len
    remote 1 /dev/mapper/far0 disk /dev/mapper/dl0 128 sync
  device g1 1 /dev/ram3 length $len
    remote 1 /dev/mapper/far1 core 128 nosync
EOF
ctl_path=/dev/mapper/grp

step check and tables
replog config check groups.conf
replog config tables groups.conf >tables.out
cat tables.out
assert_eq "$(sed -n 's/^g1 //p' tables.out)" \
	"0 $len replicator-dev $ctl_path 1 0 1 /dev/ram3 nolog 0 1 1 /dev/mapper/far1 core 2 128 nosync" "g1's line"

step up: the tables loaded are what dmsetup prints
replog config up groups.conf
ctl=$(devno grp)
assert_eq "$(dmc table grp)" "0 1 replicator ringbuffer 4 $(bdevno /dev/ram0) 0 auto 32768 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 1000" "grp's table"
assert_eq "$(dmc table g0)" "0 $len replicator-dev $ctl 0 0 1 $(bdevno /dev/ram1) nolog 0 1 1 $(devno far0) disk 3 $(devno dl0) 128 sync" "g0's table"
assert_eq "$(dmc table g1)" "0 $len replicator-dev $ctl 1 0 1 $(bdevno /dev/ram3) nolog 0 1 1 $(devno far1) core 2 128 nosync" "g1's table"
sum0=$(rand_write /dev/mapper/g0 $len)
sum1=$(rand_write /dev/mapper/g1 4096 2048)
wait_eq "A 128/128" "g0 in sync" remote_state g0 1
wait_eq "A,0,0" "the link catches up" slink_backlog 1 grp

step show and metrics
replog config show groups.conf >show.out
cat show.out
grep -qF "group grp: replicating; log ok (A)" show.out || fail "show: no group line"
grep -qF "slink 1: A; 128/128 regions in sync (100.0%)" show.out || fail "show: g0's copy"
replog config metrics groups.conf >metrics.out
grep -qx 'dmr_device_regions_in_sync{group="grp",device="g0",slink="1"} 128' metrics.out ||
	{ cat metrics.out; fail "metrics: g0's regions in sync"; }
grep -qx 'dmr_log_ok{group="grp"} 1' metrics.out || { cat metrics.out; fail "metrics: log health"; }

step up again changes nothing
replog config up groups.conf
assert_eq "$(dmc table g0)" "0 $len replicator-dev $ctl 0 0 1 $(bdevno /dev/ram1) nolog 0 1 1 $(devno far0) disk 3 $(devno dl0) 128 sync" "g0's table after a second up"

step down and up: the group comes back with its data
dmesg_mark
replog config down groups.conf
for d in g0 g1 grp; do
	if dmc info $d >/dev/null 2>&1; then fail "$d still exists after down"; fi
done
replog config up groups.conf
assert_eq "$(sha /dev/mapper/g0 $len)" "$sum0" "g0's data after down and up"
assert_eq "$(sha /dev/mapper/g1 4096 2048)" "$sum1" "g1's data after down and up"
# The disk dirty log kept g0's copy in sync: nothing to copy again.
assert_eq "$(remote_state g0 1)" "A 128/128" "g0's copy in sync after down and up"
assert_eq "$(sha /dev/mapper/far0 $len)" "$sum0" "g0's remote"

step done
replog config down groups.conf
for d in dl0 far1 far0; do dmc remove $d; done
