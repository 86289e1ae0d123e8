#!/bin/sh
# timeout: 150
# A remote device whose dirty log is dm-log-userspace, served by ulogd
# (tests/vm/ulogd.c, core-log semantics in memory): a `sync` initial copy;
# the table shown and reloaded verbatim, the new log taking the old one's
# state; a cut long enough to fill the replication log (its 12 regions out
# of sync in the userspace log, then exactly those resynchronised); a log
# ulogd refuses, and no daemon at all, fail the table cleanly.
#
# Every dirty-log call is a netlink round trip to ulogd (20-45 ms in the
# debug guest on a busy host), so the device is 2 MiB: 32 regions of
# 64 KiB. Each process start costs 0.5-1.5 s there, so the test starts as
# few as it can.
. /tests/lib.sh

ramdev 0 >/dev/null
len=4096 # 2 MiB replicated device, 32 regions of 64 KiB
uuid=dmr-ulog-r0
ulog="userspace 4 $uuid core 128 sync"

# Not in the test's process group: if the runner kills the test, ulogd
# must outlive it to answer while the runner removes the devices (without
# a server, dm-log-userspace retries a live log's requests forever).
setsid ulogd -v 2>ulogd.log &
ulogd_pid=$!
on_exit() {
	rc=$?
	if [ $rc != 0 ] && [ -n "$ulogd_pid" ]; then
		dmc remove_all --force >/dev/null 2>&1
		kill "$ulogd_pid"
		echo "--- ulogd.log ---"
		cat ulogd.log
	fi
	exit $rc
}
trap on_exit EXIT
# ulogd_lines ERE            how many lines of ulogd.log match ERE
ulogd_lines() { grep -cE "$1" ulogd.log || true; }
# sum DEV                    sha256 of the replicated length (O_DIRECT)
sum() { sha "$1" 4096; }
wait_eq 1 "ulogd ready" ulogd_lines '^ulogd: ready$'
# setsid execs ulogd in place (the shell's child is no group leader).
read -r comm </proc/$ulogd_pid/comm
assert_eq "$comm" ulogd "process $ulogd_pid"

dmc create rs --table "0 $len linear /dev/ram2 0"
# A 1 MiB log: 1.3 passes over the 12 regions below fill it, so the
# second one gives up all of the first one's entries.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 2048 blockdev 1 0 blockdev 2 1 asynchronous"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200

# The initial copy: every region starts out of sync in the userspace log.
dd if=/dev/urandom of=/dev/ram1 bs=64k count=32 oflag=direct status=none
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs $ulog"
state=$(remote_state r0 1)
case $state in
"A 32/32" | "A "[0-9]+/32 | "A "[0-9][0-9]+/32) ;;
*) fail "status during the initial copy: $state" ;;
esac
wait_eq "A 32/32" "initial copy" remote_state r0 1
assert_eq "$(sum /dev/mapper/rs)" "$(sum /dev/ram1)" "remote after the initial copy"
assert_eq "$(ulogd_lines "^ulogd: ctr $uuid luid=[0-9a-f]+: 32 regions of 128 sectors, out of sync$")" 1 "ulogd ctr line"

# The table shows the userspace log as given and reloads verbatim: a
# second log of the same uuid (its own luid) takes the first one's state.
read -r ram1 </sys/class/block/ram1/dev
table="$ctl 0 0 1 $ram1 nolog 0 1 1 $(devno rs) $ulog"
assert_eq "$(table_of r0)" "$table" "table"
dmc load r0 --table "$(dmc table r0)"
dmc resume r0
assert_eq "$(remote_state r0 1)" "A 32/32" "regions in sync after the reload"
assert_eq "$(table_of r0)" "$table" "table after the reload"
assert_eq "$(ulogd_lines "^ulogd: ctr $uuid luid=")" 2 "ulogd ctr lines after the reload"
wait_eq 1 "ulogd dtr of the old table" ulogd_lines "^ulogd: dtr $uuid luid=[0-9a-f]+: 32/32 regions in sync$"

# Writes to regions in sync change none, so they ask the log nothing: the
# in-sync count is kept between changes (ulogd -v logs every request; the
# old module asked at least twice per pass of its work).
queries() { ulogd_lines " (GET_SYNC_COUNT|IN_SYNC) $uuid "; }
before=$(queries)
dd if=/dev/urandom of=/dev/mapper/r0 bs=4k count=64 oflag=direct status=none
wait_eq "A,0,0" "backlog after 64 writes" slink_backlog 1
asked=$(($(queries) - before))
echo "in-sync queries during 64 writes to regions in sync: $asked"
[ "$asked" -le 2 ] || fail "64 writes to regions in sync asked the userspace log $asked times"

# A cut long enough to fill the log: the link gives its entries up, and
# the 12 regions written (four runs of three) are out of sync in the new
# log; once the remote is back, exactly those are resynchronised.
dmesg_mark
counts() { ulogd_lines " GET_SYNC_COUNT $uuid "; }
counts_before=$(counts)
lower rs "0 $len error"
for pass in 1 2; do
	for r in 1 10 20 29; do
		scribble /dev/mapper/r0 384 $((r * 128))
	done
done
expect_dmesg "log full: slink=1 gives up"
assert_eq "$(remote_state r0 1)" "W 20/32" "12 regions out of sync"
lower rs "0 $len linear /dev/ram2 0"
wait_eq "A 32/32" "resync" remote_state r0 1
wait_eq "A,0,0" "backlog after the cut" slink_backlog 1
expect_dmesg "slink=1 device 0 in sync; 12 regions resynchronised"
# The in-sync count is asked once and then kept as regions change (the
# module before asked after every change: 13 times here).
counted=$(($(counts) - counts_before))
echo "in-sync count requests from the cut to the end of the resync: $counted"
[ "$counted" -le 4 ] || fail "the cut and resync of 12 regions asked the userspace log's count $counted times"
assert_eq "$(sum /dev/mapper/rs)" "$(sum /dev/ram1)" "remote after the resync"

# A log ulogd refuses (the region size is no power of two) fails the
# table; ulogd goes on.
bad="0 $len replicator-dev $ctl 1 0 1 /dev/ram3 nolog 0 1 1 /dev/ram2"
expect_refused r1 "$bad userspace 3 dmr-bad core 100" "Cannot create dirty log"
assert_eq "$(ulogd_lines '^ulogd: ctr dmr-bad luid=[0-9a-f]+: refused, bad region size')" 1 "ulogd refusal"
kill -0 $ulogd_pid || fail "ulogd died"

dmc remove r0
wait_eq 2 "ulogd dtr at remove" ulogd_lines "^ulogd: dtr $uuid luid=[0-9a-f]+: 32/32 regions in sync$"

# No daemon: the dirty log cannot be created, nothing is left behind.
kill $ulogd_pid
wait $ulogd_pid || true
ulogd_pid=
expect_refused r1 "$bad $ulog" "Cannot create dirty log"
expect_dmesg "Userspace log server not found"

dmc remove repl
dmc remove rs
