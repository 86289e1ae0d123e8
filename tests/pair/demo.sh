#!/bin/sh
# timeout: 900
# `make demo`: the main job end to end on two sites. Runs in the primary
# guest of scripts/vm-pair.sh (not part of the test suite: its name has
# no number). The DR guest's disk, imported over NBD, holds the remote
# copies of a group of two devices replicated asynchronously with a
# fall-behind limit. A write load runs while the link is slowed down,
# then while the DR guest is killed (the primary keeps serving) and after
# it is back (only the regions written meanwhile are resynchronised).
# The checksums of both sites agree at the end.
. /tests/lib.sh

len=16384 # each replicated device: 8 MiB, 32 regions of 256 KiB
show() {
	say "  replicator: $(status_of repl)"
	say "  data0:      $(status_of data0)"
	say "  data1:      $(status_of data1)"
}
# watch SECS: the status every 2 s, for SECS seconds
watch() {
	local i=0
	while [ $i -lt "$1" ]; do
		sleep 2
		i=$((i + 2))
		say "  t+${i}s  repl: $(status_of repl | cut -d' ' -f4-)"
		say "         data0: $(remote_state data0 1)   data1: $(remote_state data1 1)"
	done
}
# load NAME SECS SIZE: fio random 4 KiB writes to the first SIZE of each
# devices in the background (its status lands in /tmp/NAME.rc)
load() {
	(
		rc=0
		fio --name="$1" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 \
			--time_based --runtime="$2" --filesize="$3" --output=/tmp/"$1".out \
			--filename=/dev/mapper/data0:/dev/mapper/data1 || rc=$?
		echo $rc >/tmp/"$1".rc
	) &
}
# fio_done NAME: wait for the load, show its write rate and errors
fio_done() {
	while [ ! -f /tmp/"$1".rc ]; do sleep 1; done
	say "  fio $1: exit $(cat /tmp/"$1".rc), $(grep -m1 -o 'IOPS=[^,]*' /tmp/"$1".out) write IOPS, errors: $(grep -c 'err=[ 1-9]*[1-9]' /tmp/"$1".out)"
	[ "$(cat /tmp/"$1".rc)" = 0 ] || fail "fio $1 failed: $(cat /tmp/"$1".out)"
}
# wait_synced: both devices in sync and the link holding every entry;
# waits on the state (up to $DEMO_SYNC_WAIT s of the guest's clock, 600),
# showing it every few seconds.
wait_synced() {
	local i=0 t0
	t0=$(cut -d. -f1 /proc/uptime)
	while [ "$(remote_state data0 1) $(remote_state data1 1) $(slink_backlog 1)" != "A 32/32 A 32/32 A,0,0" ] &&
		[ "$(remote_state data0 1) $(remote_state data1 1) $(slink_backlog 1)" != "A 32/32 A 32/32 S,0,0" ]; do
		[ $(($(cut -d. -f1 /proc/uptime) - t0)) -le "${DEMO_SYNC_WAIT:-600}" ] ||
			fail "not in sync after ${DEMO_SYNC_WAIT:-600} s: $(status_of repl); $(status_of data0); $(status_of data1)"
		i=$((i + 1))
		[ $((i % 2)) = 1 ] || say "  repl: $(status_of repl | cut -d' ' -f4-)   data0: $(remote_state data0 1)   data1: $(remote_state data1 1)"
		sleep 2
	done
}
# kernel_said N ERE: the first N kernel lines since the mark that match
# ERE, without their time stamps. (awk reads to the end: an early exit
# such as head's would kill the writer with SIGPIPE under pipefail.)
kernel_said() {
	_dmesg_since_mark | { grep -E "$2" || true; } | sed 's/^\[[ 0-9.]*\] //' | awk -v n="$1" 'NR <= n' |
		while read -r l; do say "    $l"; done
}

say "== The DR site: a second guest exporting its disk with nbd-server"
dr_start
nbd_attach /dev/nbd0
nbd_watch /dev/nbd0
say "  /dev/nbd0 = the DR's 64 MiB disk, over TCP on a private link (169.254.77.2:10809)"
dmc create dr0 --table "0 $len linear /dev/nbd0 0"
dmc create dr1 --table "0 $len linear /dev/nbd0 $len"
for i in 0 1 2; do ramdev $i >/dev/null; done

say "== A replication group: an 8 MiB log on /dev/ram0, site link 1 asynchronous, at most 256 writes behind"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 16384 blockdev 1 0 blockdev 4 1 asynchronous ios 256"
dmc message repl 0 slink message 1 retest 1s
say "== Two replicated devices: local /dev/ram1, /dev/ram2; remote slices of /dev/nbd0; 256 KiB regions, initial copy (sync)"
dmc create data0 --table "0 $len replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/dr0 core 2 512 sync"
dmc create data1 --table "0 $len replicator-dev /dev/mapper/repl 1 0 1 /dev/ram2 nolog 0 1 1 /dev/mapper/dr1 core 2 512 sync"
say "  dmsetup table:"
dmc table | while read -r l; do say "    $l"; done
wait_synced
show

say "== Write load (fio, 20 s) while netem slows the link down (30 ms delay): the fall-behind limit turns the link synchronous (S)"
dmesg_mark
netem_set delay 30ms
load slow 20 8M
watch 20
fio_done slow
netem_clear
n=$(_dmesg_since_mark | grep -c 'enforcing fallbehind' || true)
say "  the link passed its limit $n times; the kernel said first:"
kernel_said 2 'fallbehind'
wait_synced

say "== The DR guest is killed during a write load on the first 1 MiB of each device"
dmesg_mark
load outage 30 1M
sleep 3
dr_kill
watch 26
fio_done outage
say "  the primary kept serving; the kernel said:"
kernel_said 3 'slink=1 down|gives up'
say "    ... ($(_dmesg_since_mark | grep -c 'gives up' || true) times the log ran full and gave the link's entries up)"
show

say "== The DR guest is back: the link comes up by itself and resynchronises the regions written meanwhile"
dmesg_mark
dr_start
wait_synced
_dmesg_since_mark | { grep -E 'reconnected|up again|in sync' || true; } | sed 's/^\[[ 0-9.]*\] /  kernel: /' | while read -r l; do say "$l"; done
show

say "== Checksums (sha256 of each 8 MiB device)"
l0=$(sha /dev/ram1 $len); l1=$(sha /dev/ram2 $len)
r0=$(dr_sha $len 0); r1=$(dr_sha $len $len)
say "  data0  primary $l0"
say "         DR      $r0"
say "  data1  primary $l1"
say "         DR      $r1"
[ "$l0" = "$r0" ] && [ "$l1" = "$r1" ] || fail "the sites differ"
say "  both sites hold the same data"

dmc remove data0
dmc remove data1
dmc remove repl
dmc remove dr0
dmc remove dr1
nbd_detach /dev/nbd0
