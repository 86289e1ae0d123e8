#!/bin/sh
# Replay time of a full log after a crash (scripts/bench.sh boots this job
# twice per log, on the same file-backed disks: /dev/vda the log, /dev/vdb
# the local device, 16 MiB). bench_phase= on the kernel command line:
#   fill    a replicator whose site link 1 is "stall" and whose remote is
#           suspended: nothing leaves the log, and the writer (fio,
#           REPLAY_BS writes) is held once the log is full. Then
#           "BENCH-KILL" on the job's port: the host SIGKILLs QEMU.
#   replay  create the replicator (recovery scan of the log) and the
#           replicator-dev (its preresume replays every live entry onto
#           /dev/vdb), each timed.
# Results: $REPLAY_OUT (KEY VALUE lines) on the host's 9p share.
export DM_DISABLE_UDEV=1
. /tests/vm/lib.sh
mkdir -p /mnt/pair
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none pair /mnt/pair || fail "no 9p share"
. /mnt/pair/bench.conf
phase= bs= logmb=
for w in $(cat /proc/cmdline); do
	case $w in
	bench_phase=*) phase=${w#bench_phase=} ;;
	bench_bs=*) bs=${w#bench_bs=} ;;
	bench_logmb=*) logmb=${w#bench_logmb=} ;;
	esac
done
out=/mnt/pair/results/extra/replay-$bs.txt
LEN=32768
up() { cut -d' ' -f1 /proc/uptime; }
ring_used() { status_of repl | awk '{ split($2, a, "/"); print a[1] }'; }

ramdev 2 >/dev/null
dmc create rs1 --table "0 $LEN linear /dev/ram2 0"
dmc suspend rs1
case $phase in
fill)
	: >$out
	dmc create repl --table "0 1 replicator ringbuffer 4 /dev/vda 0 create $((logmb * 2048)) blockdev 1 0 blockdev 2 1 stall"
	dmc create r0 --table "0 $LEN replicator-dev /dev/mapper/repl 0 0 1 /dev/vdb nolog 0 1 1 /dev/mapper/rs1 core 2 512 nosync"
	iod=32
	[ "$bs" = 4k ] || iod=4
	fio --name=fill --ioengine=libaio --direct=1 --rw=randwrite --bs="$bs" --iodepth=$iod \
		--filename=/dev/mapper/r0 --size=16m --time_based --runtime=900 --norandommap --randrepeat=0 \
		--output=/tmp/fill.out >/dev/null 2>&1 &
	# Full: the ring's use no longer grows for 3 s.
	t0=$(up) last=-1 same=0
	while [ $same -lt 6 ]; do
		sleep 0.5
		u=$(ring_used)
		if [ "$u" = "$last" ]; then same=$((same + 1)); else same=0; fi
		last=$u
		[ "$(echo "$(up) $t0" | awk '{ print ($1 - $2 > 600) }')" = 0 ] || break
	done
	{
		echo "log_mb $logmb"
		echo "bs $bs"
		echo "fill_secs $(echo "$(up) $t0" | awk '{ printf "%.1f", $1 - $2 }')"
		echo "fill_status $(status_of repl)"
		echo "ring_used_sectors $(ring_used)"
		echo "entries $(slink_backlog 1 | cut -d, -f2)"
	} >>$out
	sync
	echo "BENCH-KILL"
	sleep 600
	;;
replay)
	t0=$(up)
	dmc create repl --table "0 1 replicator ringbuffer 4 /dev/vda 0 auto $((logmb * 2048)) blockdev 1 0 blockdev 2 1 stall" ||
		{ echo "replay_failed create replicator" >>$out; exit 1; }
	t1=$(up)
	echo "open_status $(status_of repl)" >>$out
	dmc create r0 --table "0 $LEN replicator-dev /dev/mapper/repl 0 0 1 /dev/vdb nolog 0 1 1 /dev/mapper/rs1 core 2 512 nosync" ||
		{ echo "replay_failed create replicator-dev" >>$out; exit 1; }
	t2=$(up)
	{
		echo "open_secs $(echo "$t1 $t0" | awk '{ printf "%.2f", $1 - $2 }')"
		echo "replay_secs $(echo "$t2 $t1" | awk '{ printf "%.2f", $1 - $2 }')"
		echo "replayed_status $(status_of repl)"
		dmesg | grep -iE 'replay|recover' | sed 's/^\[[ 0-9.]*\] /dmesg /' | tail -n 6
	} >>$out
	;;
*) fail "bench_phase= fill or replay" ;;
esac
