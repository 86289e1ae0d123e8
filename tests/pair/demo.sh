#!/bin/sh
# timeout: 900
# dr-agent: 1
# `make demo`: the main job end to end on two sites. Runs in the primary
# guest of scripts/vm-pair.sh (not part of the test suite: its name has
# no number). The DR guest's disk, imported over NBD, holds the remote
# copies of a group of two devices replicated asynchronously with a
# fall-behind limit. A write load runs while the link is slowed down,
# then while the DR guest is killed (the primary keeps serving) and after
# it is back (only the regions written meanwhile are resynchronised).
# The checksums of both sites agree. Then the primary site is lost: the
# DR site takes over and writes; the old primary comes back as the new
# DR site and gets back only the regions either side changed
# (Documentation/dr-guide.rst), shown against the devices' size.
. /tests/lib.sh

len=16384 # each replicated device: 8 MiB, 32 regions of 256 KiB
# Seconds of the slowed-down load and of the load during the DR outage
# (tests/pair/90-demo.sh runs shorter ones).
SLOW=${DEMO_SLOW:-20}
OUTAGE=${DEMO_OUTAGE:-30}
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
for i in 0 1 2 3; do ramdev $i >/dev/null; done
dmc create dl0 --table "0 2048 linear /dev/ram3 0"
dmc create dl1 --table "0 2048 linear /dev/ram3 2048"

say "== A replication group: an 8 MiB log on /dev/ram0, site link 1 asynchronous, at most 256 writes behind"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 16384 blockdev 1 0 blockdev 4 1 asynchronous ios 256"
dmc message repl 0 slink message 1 retest 1s
say "== Two replicated devices: local /dev/ram1, /dev/ram2; remote slices of /dev/nbd0; 256 KiB regions in disk dirty logs, initial copy (sync)"
dmc create data0 --table "0 $len replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/dr0 disk 3 /dev/mapper/dl0 512 sync"
dmc create data1 --table "0 $len replicator-dev /dev/mapper/repl 1 0 1 /dev/ram2 nolog 0 1 1 /dev/mapper/dr1 disk 3 /dev/mapper/dl1 512 sync"
say "  dmsetup table:"
dmc table | while read -r l; do say "    $l"; done
wait_synced
show

say "== Write load (fio, $SLOW s) while netem slows the link down (30 ms delay): the fall-behind limit turns the link synchronous (S)"
dmesg_mark
netem_set delay 30ms
load slow $SLOW 8M
watch $SLOW
fio_done slow
netem_clear
n=$(_dmesg_since_mark | grep -c 'enforcing fallbehind' || true)
say "  the link passed its limit $n times; the kernel said first:"
kernel_said 2 'fallbehind'
wait_synced

say "== The DR guest is killed during a write load on the first 1 MiB of each device"
dmesg_mark
load outage $OUTAGE 1M
sleep 3
dr_kill
watch $((OUTAGE - 4))
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

say "== The primary site is lost: its link goes dark during a write load on the first 1 MiB, then its group stops"
netem_set loss 100%
load lost 6 1M
fio_done lost
show
dmc remove data0
dmc remove data1
dmc remove repl
dmc remove dr0
dmc remove dr1
nbd_detach /dev/nbd0
netem_clear
say "  what the primary never shipped stays in its log and dirty logs"

say "== Takeover: the DR site starts a group over its copies, the old primary its remote (down), and writes"
# The DR's disk: the copies at 0 and 8 MiB, its log at 16 MiB, its
# dirty logs at 20 MiB (headers cleared: whatever an earlier test left
# there is not this group's). First the DR stops exporting its disk
# (dr-guide.rst, "Takeover"): the old primary's NBD writes that the dark
# link held are still in its TCP stack, retransmitted once the network
# heals, and must not land on the copies behind the new group's back.
dr_run "
for p in \$(pidof nbd-server); do kill \$p; done
dmsetup remove_all
for d in /dev/nbd0 /dev/nbd1; do nbd-client -d \$d >/dev/null 2>&1 || true; done
dd if=/dev/zero of=/dev/vda bs=1M count=6 seek=16 oflag=direct status=none
dmsetup create bd0 --table '0 $len linear /dev/vda 0'
dmsetup create bd1 --table '0 $len linear /dev/vda $len'
dmsetup create blog --table '0 8192 linear /dev/vda 32768'
dmsetup create bdl0 --table '0 2048 linear /dev/vda 40960'
dmsetup create bdl1 --table '0 2048 linear /dev/vda 43008'
dmsetup create toA0 --table '0 $len error'
dmsetup create toA1 --table '0 $len error'
dmsetup create replB --table '0 1 replicator ringbuffer 4 /dev/mapper/blog 0 create 8192 blockdev 1 0 blockdev 2 1 asynchronous'
dmsetup message replB 0 slink message 1 retest 1000
ctl=\$(dmsetup info -c --noheadings -o major,minor --separator : replB | tr -d ' ')
dmsetup create b0 --table \"0 $len replicator-dev \$ctl 0 0 1 /dev/mapper/bd0 nolog 0 1 1 /dev/mapper/toA0 disk 3 /dev/mapper/bdl0 512 nosync\"
dmsetup create b1 --table \"0 $len replicator-dev \$ctl 1 0 1 /dev/mapper/bd1 nolog 0 1 1 /dev/mapper/toA1 disk 3 /dev/mapper/bdl1 512 nosync\"
# The application at the DR site: 512 KiB at 6 MiB of b0, 256 KiB at 7 MiB of b1.
dd if=/dev/urandom of=/dev/mapper/b0 bs=64k count=8 seek=96 oflag=direct status=none
dd if=/dev/urandom of=/dev/mapper/b1 bs=64k count=4 seek=112 oflag=direct status=none
echo \"replB: \$(dmsetup status replB | cut -d' ' -f4-)\"
echo \"b0:    \$(dmsetup status b0 | cut -d' ' -f4-)\"
" >takeover.out || fail "takeover at the DR site: $(cat takeover.out)"
while read -r l; do say "$l"; done <takeover.out

say "== The old primary returns as the DR site: only what either side changed is copied to it"
# Its writes the DR never received: from its log and dirty logs, while
# its group is down; copying the DR's data over them discards them.
marks=
for d in 0 1; do
	replog failback /dev/ram0 --slink 1 --dev $d --dirty-log /dev/mapper/dl$d --region-size 512 --length $len \
		--mark b$d --discard-unshipped >marks$d.sh 2>failback$d.err || [ $? = 1 ] || fail "replog failback: $(cat failback$d.err)"
	say "  device $d: $(tail -n 1 failback$d.err)"
	marks="$marks$(cat marks$d.sh)
"
done
# The old primary exports its devices; the new primary marks the regions,
# imports them and swaps its error tables for them.
primary_export a0=/dev/ram1 a1=/dev/ram2
dr_run "
$marks
for d in 0 1; do
	nbd-client $PAIR_PRIMARY 10809 /dev/nbd\$d -N a\$d -t $NBD_TIMEOUT -b 4096 >/dev/null
	dmsetup suspend --noflush toA\$d
	dmsetup load toA\$d --table \"0 $len linear /dev/nbd\$d 0\"
	dmsetup resume toA\$d
done
i=0
until [ \"\$(dmsetup status b0 | cut -d' ' -f11-) \$(dmsetup status b1 | cut -d' ' -f11-)\" = '1 A 32/32 1 A 32/32' ] &&
	dmsetup status replB | grep -q ' 1 A,0,0 '; do
	i=\$((i + 1)); [ \$i -le 600 ] || { dmsetup status; exit 1; }; sleep 0.5
done
dmesg | sed -n 's/.*replicator: \\(slink=1 device [01] in sync; .*\\)/kernel: \\1/p'
echo \"b0:    \$(dmsetup status b0 | cut -d' ' -f4-)\"
echo \"b1:    \$(dmsetup status b1 | cut -d' ' -f4-)\"
" >back.out || fail "failback at the DR site: $(cat back.out)"
while read -r l; do say "$l"; done <back.out
copied=$(sed -n 's/.*in sync; \([0-9]*\) regions resynchronised/\1/p' back.out | paste -sd+ - | sed 's/^$/0/' | bc)
say "  failback copied $copied of 64 regions ($((copied / 4)) MiB of 16 MiB) to the old primary, plus the new primary's writes from its log"

say "== Checksums after the failback"
n0=$(sha /dev/ram1 $len); n1=$(sha /dev/ram2 $len)
d0=$(dr_sha $len 0); d1=$(dr_sha $len $len)
say "  device 0  new primary $d0"
say "            new DR      $n0"
say "  device 1  new primary $d1"
say "            new DR      $n1"
if [ "$n0" != "$d0" ] || [ "$n1" != "$d1" ]; then
	# Which 256 KiB regions differ, for the report.
	differ=
	for d in 0 1; do
		for r in $(seq 0 31); do
			[ "$(sha /dev/ram$((d + 1)) 512 $((r * 512)))" = "$(dr_sha 512 $((d * len + r * 512)))" ] ||
				differ="$differ device $d region $r,"
		done
	done
	fail "the sites differ after the failback:${differ%,}"
fi
say "  both sites hold the same data again"

dr_run "
for d in b0 b1 replB toA0 toA1 bd0 bd1 blog bdl0 bdl1; do dmsetup remove \$d; done
nbd-client -d /dev/nbd0 >/dev/null; nbd-client -d /dev/nbd1 >/dev/null
" >/dev/null
primary_unexport
dmc remove dl0
dmc remove dl1
