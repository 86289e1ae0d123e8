#!/bin/sh
# Log capacity (make torture; about 20 minutes of the debug guest, too
# long for make test). Run with:
#   DMR_TIMEOUT=3600 scripts/vm-run.sh tests/torture/log-capacity.sh
#
# Any log must fill to capacity, however many entries that takes: the
# live entries' table must not be limited by one allocation. Ten passes
# of 4 KiB discards over a 16 MiB device (40,960 entries of one ring
# block each) go to a device whose only site link is down, so every
# entry stays live in a 180 MiB ring; the link's backlog must count all
# of them, and once the link is back the remote must equal the local
# device. A table grown by doubling one kmalloc'd vector stopped at
# 8,192 entries (its next doubling was too large for kmalloc).
. /tests/lib.sh

n=40960
len=32768
log=$(loopdev 200)
local=$(loopdev 16)
remote=$(loopdev 16)
# Something other than zeroes on both, so the discards change them.
dd if=/dev/urandom of="$local" bs=1M count=$((len / 2048)) oflag=direct status=none
dd if="$local" of="$remote" bs=1M count=$((len / 2048)) iflag=direct oflag=direct status=none
dmc create rs --table "0 $len error"
dmc create repl --table "0 1 replicator ringbuffer 4 $log 0 auto $((180 * 2048)) blockdev 1 0 blockdev 2 1 asynchronous"
dmc message repl 0 slink message 1 retest 1000
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 $local nolog 0 1 1 /dev/mapper/rs core 2 1024 nosync"

step "$n discards with the link down"
fio --name=capacity --filename=/dev/mapper/r0 --rw=trim --bs=4k --loops=10 \
	--ioengine=libaio --iodepth=32 >fio.out 2>&1 || { cat fio.out; fail "fio trim"; }
echo "status: $(dm_status repl)"
assert_eq "$(slink_backlog 1 | cut -d, -f2)" "$n" "entries held for the link that is down"

step catch up
lower rs "0 $len linear $remote 0"
DMR_WAIT=1200 wait_eq "A,0,0" "the link catches up" slink_backlog 1
assert_eq "$(sha "$remote" $len)" "$(sha "$local" $len)" "remote equals local"

step done
dmc remove r0
dmc remove repl
dmc remove rs
echo "log-capacity: ok"
