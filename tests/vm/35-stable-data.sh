#!/bin/sh
# timeout: 240
# Unstable data: O_DIRECT writes from a page that another thread keeps
# changing while they are in flight. What is checksummed, logged, applied
# locally and shipped must be the same bytes: every entry in the log
# matches its data CRC (`replog check` reads all of them), and the remote
# equals the local device once the link catches up.
. /tests/lib.sh

for i in 0 1 2; do ramdev $i >/dev/null; done
len=16384                       # 8 MiB replicated device, 2048 blocks
# A 16 MiB log holds the 400 entries (two blocks each) with the link down.
dmc create rs --table "0 $len error"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 32768 blockdev 1 0 blockdev 2 1 asynchronous"
dmc message repl 0 slink message 1 retest 200
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"

step unstable writes
dmesg_mark
unstable /dev/mapper/r0 400 2048 7 || fail "unstable writes failed"
expect_dmesg "slink=1 down (write error, "
assert_eq "$(slink_backlog 1 | cut -d, -f2)" 400 "entries held for the link that is down"

step log check
# Every live entry's data against its CRC (replog check reads them all).
replog check /dev/ram0 >check.out 2>&1 || { cat check.out; fail "replog check of the log: $(tail -n 1 check.out)"; }
assert_eq "$(tail -n 1 check.out)" "clean" "replog check verdict"

step catch up
lower rs "0 $len linear /dev/ram2 0"
wait_eq "A,0,0" "the link catches up" slink_backlog 1
wait_eq "A 128/128" "remote regions" remote_state r0 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local after unstable writes"

step done
dmc remove r0
dmc remove repl
dmc remove rs
