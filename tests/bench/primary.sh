#!/bin/sh
# The benchmark's primary guest job (scripts/bench.sh boots it with `run`,
# next to the DR guest of tests/bench/dr.sh). For each configuration: set
# it up on the same RAM disks, fill its device once, run every fio
# workload (REPEATS time-based runs of RUNTIME s after RAMP s), wait for
# the remote copies to catch up between workloads, tear it down. Then the
# extra measurements: module memory (slab statistics), resynchronisation
# throughput after a cut, and a perf profile of one configuration.
#
# Settings come from /mnt/pair/bench.conf (written by the host; NO_DR=1:
# booted alone, no DR guest to start, local configurations only); results
# go to /mnt/pair/results/ (the host's share):
#   CONFIG/WORKLOAD.json   fio's JSON output, one job per repeat
#   CONFIG/WORKLOAD.status dmsetup status after the workload, and notes
#   CONFIG/setup.txt       tables, setup notes; failures.txt: setup failures
#   extra/*.txt            KEY VALUE lines of the extra measurements
#   profile/*.txt          perf reports
# A configuration that cannot be set up is recorded and skipped; the job
# never fails on a figure.
. /tests/pair/lib.sh
. /mnt/pair/bench.conf

R=/mnt/pair/results
mkdir -p $R/extra $R/profile
: >$R/failures.txt
LEN=32768              # 16 MiB: every configuration's device
LOGLEN=65536           # the replicator's log: 32 MiB on /dev/ram0
REGION=512             # 256 KiB regions (dm-mirror and the remote dirty logs)
NET_LOCAL=169.254.77.1
NET_DR=169.254.77.2
SETTLE=${SETTLE:-60}   # at most this long waiting for remotes between workloads

uname -r >$R/kernel.txt
mkdir -p /var/lock /var/lib/drbd /run/drbd
echo "$(grep -c '^processor' /proc/cpuinfo) CPU, $(sed -n 's/MemTotal: *//p' /proc/meminfo), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" >$R/guest.txt
# The host compares these uptimes with the files' modification times.
cut -d' ' -f1 /proc/uptime >$R/clock-start
# perf: sample the kernel too, read its symbols.
echo -1 >/proc/sys/kernel/perf_event_paranoid 2>/dev/null
echo 0 >/proc/sys/kernel/kptr_restrict 2>/dev/null

log() { say "bench: $*"; }
note() { echo "$*" >>"$R/$CFG/setup.txt"; }
up() { cut -d' ' -f1 /proc/uptime; }
secs_since() { echo "$(up) $1" | awk '{ printf "%.2f", $1 - $2 }'; }

# --- workloads --------------------------------------------------------------
# NAME: fio options (4 KiB unless said otherwise; libaio, direct I/O).
WORKLOADS="randwrite-qd1 randwrite-qd32 randwrite-qd32-4j randrw70-qd32 seqwrite-1m-qd8"
wl_opts() {
	case $1 in
	randwrite-qd1) echo "rw=randwrite bs=4k iodepth=1 numjobs=1" ;;
	randwrite-qd32) echo "rw=randwrite bs=4k iodepth=32 numjobs=1" ;;
	randwrite-qd32-4j) echo "rw=randwrite bs=4k iodepth=32 numjobs=4" ;;
	randrw70-qd32) echo "rw=randrw rwmixread=70 bs=4k iodepth=32 numjobs=1" ;;
	seqwrite-1m-qd8) echo "rw=write bs=1m iodepth=8 numjobs=1" ;;
	esac
}

# jobfile WORKLOAD DEV: REPEATS jobs in a row (stonewall), one fio run.
jobfile() {
	local r=1
	cat <<EOF
[global]
ioengine=libaio
direct=1
time_based=1
runtime=$RUNTIME
ramp_time=$RAMP
size=16m
filename=$2
randrepeat=0
norandommap=1
group_reporting=1
percentile_list=50:99:99.9
stonewall
EOF
	while [ $r -le "$REPEATS" ]; do
		echo "[$1.r$r]"
		wl_opts "$1" | tr ' ' '\n'
		r=$((r + 1))
	done
}

# --- waiting for remote copies --------------------------------------------
# repl_settled: every site link of "repl" holds every entry and every
# remote of "r0" is in sync (nothing outstanding).
repl_settled() {
	dmc status repl | awk '{ for (i = 1; i < NF; i++) if ($i != "0" && $(i + 1) ~ /^[SA],/ && $(i + 1) !~ /^[SA],0,0$/) bad = 1 } END { exit bad }' || return 1
	dmc status r0 | awk '{ for (i = 8; i + 2 <= NF; i += 3) if ($(i + 2) != "-") { split($(i + 2), a, "/"); if ($(i + 1) != "A" || a[1] != a[2]) bad = 1 } } END { exit bad }'
}
drbd_settled() {
	! grep -qE 'oos:[1-9]|ua:[1-9]|ap:[1-9]|pe:[1-9]' /proc/drbd
}
# settle FUNC: wait until FUNC holds (at most $SETTLE s); print the wait.
settle() {
	local t0 i=0
	t0=$(up)
	while ! $1; do
		i=$((i + 1))
		[ $i -le $((SETTLE * 5)) ] || { echo "timeout $(secs_since "$t0")"; return; }
		sleep 0.2
	done
	echo "ok $(secs_since "$t0")"
}

# run_workloads DEV SETTLEFUNC: every workload on DEV, results in $R/$CFG.
run_workloads() {
	local dev=$1 sf=$2 w
	for w in $WORKLOADS; do
		case " $ONLY_WORKLOADS " in "  " | *" $w "*) ;; *) continue ;; esac
		[ "$sf" = none ] || dmc message repl 0 replog statistics reset >/dev/null 2>&1
		dmesg_mark
		jobfile "$w" "$dev" >/tmp/job.fio
		if ! fio --output-format=json --output="/tmp/$w.json" /tmp/job.fio >/tmp/fio.err 2>&1; then
			echo "$CFG $w: fio failed: $(tail -n 3 /tmp/fio.err | tr '\n' ' ')" >>$R/failures.txt
			log "$CFG $w: fio failed"
		fi
		cp "/tmp/$w.json" "$R/$CFG/$w.json" 2>/dev/null
		{
			echo "status:"
			dmc status 2>/dev/null | sed 's/^/  /'
			[ ! -e /proc/drbd ] || sed 's/^/  drbd: /' /proc/drbd
			echo "fallbehind_enforced $(_dmesg_since_mark | grep -c 'enforcing fallbehind' || true)"
			echo "gave_up $(_dmesg_since_mark | grep -c 'gives up' || true)"
			[ "$sf" = none ] || echo "settle $(settle "$sf")"
		} >"$R/$CFG/$w.status"
		log "$CFG $w: done ($(tail -n 1 "$R/$CFG/$w.status"))"
	done
}

# fill DEV: write it once (brd allocates its pages; remote copies too).
fill() {
	dd if=/dev/zero of="$1" bs=1M count=$((LEN / 2048)) oflag=direct status=none
}

# --- configurations ---------------------------------------------------------
# setup_NAME prints the device to benchmark and the settle function.
rams() { for i in 0 1 2 3; do ramdev $i >/dev/null; done; }

setup_raw() { echo "/dev/ram1 none"; }
setup_linear() {
	dmc create lin --table "0 $LEN linear /dev/ram1 0" && echo "/dev/mapper/lin none"
}
setup_mirror() {
	# Two legs on separate RAM disks, core log, no initial resync.
	dmc create mir --table "0 $LEN mirror core 2 $REGION nosync 2 /dev/ram1 0 /dev/ram2 0" &&
		echo "/dev/mapper/mir none"
}

# remote N DEV: linear device rsN over DEV (the table 'lower' swaps to cut).
remote() { dmc create "rs$1" --table "0 $LEN linear $2 ${3:-0}"; }
# repl SLINKS... : the replicator with slink 0 and the given slink params;
# r0 with one remote per slink on rs1.. (core dirty log, in sync).
repl() {
	local t="0 1 replicator ringbuffer 4 /dev/ram0 0 auto $LOGLEN blockdev 1 0" n=1 d
	d="0 $LEN replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0"
	for p in "$@"; do
		t="$t blockdev $(echo "$n $p" | wc -w) $n $p"
		d="$d $n 1 /dev/mapper/rs$n core 2 $REGION nosync"
		n=$((n + 1))
	done
	dmc create repl --table "$t" && dmc create r0 --table "$d" || return 1
	dmc message repl 0 slink message 1 retest 200 >/dev/null 2>&1
	echo "/dev/mapper/r0 repl_settled"
}
# Local remotes: slices of /dev/ram2 and /dev/ram3.
local_remotes() {
	local n=1
	while [ $n -le "$1" ]; do
		remote $n /dev/ram$((2 + (n - 1) / 2)) $((((n - 1) % 2) * LEN)) || return 1
		n=$((n + 1))
	done
}
setup_repl_sync() { local_remotes 1 && repl synchronous; }
# Completion ram: a write waits for the remote's write, not its flush.
setup_repl_sync_ram() { local_remotes 1 && repl "synchronous ram"; }
setup_repl_async1() { local_remotes 1 && repl asynchronous; }
setup_repl_async2() { local_remotes 2 && repl asynchronous asynchronous; }
setup_repl_async4() { local_remotes 4 && repl asynchronous asynchronous asynchronous asynchronous; }
# A limit so low that the random-write loads pass it over and over.
setup_repl_fallbehind() { local_remotes 1 && repl "asynchronous ios 8"; }
# The DR's /dev/ram2 over NBD.
net_remote() {
	nbd_attach /dev/nbd0 >/dev/null && remote 1 /dev/nbd0
}
setup_repl_sync_net() { net_remote && repl synchronous; }
setup_repl_sync_net_ram() { net_remote && repl "synchronous ram"; }
setup_repl_async_net() { net_remote && repl asynchronous; }

# DRBD 8.4: the peer of tests/bench/dr.sh; protocol C (rc) or A (ra).
drbd_wait() { # drbd_wait MINOR ERE SECS
	local i=0
	while ! grep -E "^ *$1: " /proc/drbd | grep -qE "$2"; do
		i=$((i + 1))
		[ $i -le $(($3 * 5)) ] || { echo "drbd $1: not '$2' after $3 s: $(grep -A1 -E "^ *$1: " /proc/drbd | tr '\n' ' ')" >&2; return 1; }
		sleep 0.2
	done
}
# drbd_connect NAME MINOR PORT PROTOCOL: both sides connect and listen at
# once; when their first packets cross, each drops a socket and retries
# at random, which can take long: after 20 s start over (4 times).
# Connected means the state DRBD_CONNECTED (an ERE, default cs:Connected).
drbd_connect() {
	local n=0
	while [ $n -lt 4 ]; do
		n=$((n + 1))
		drbdsetup-84 connect "$1" "ipv4:$NET_LOCAL:$3" "ipv4:$NET_DR:$3" --protocol="$4" --max-buffers=8000 || return 1
		drbd_wait "$2" "${DRBD_CONNECTED:-cs:Connected}" 20 2>/tmp/drbd-wait.err && return 0
		drbdsetup-84 disconnect "ipv4:$NET_LOCAL:$3" "ipv4:$NET_DR:$3"
		sleep $n
	done
	cat /tmp/drbd-wait.err >&2
	return 1
}
drbd_up() { # drbd_up NAME MINOR PORT PROTOCOL
	local back=/dev/mapper/drbd$1
	dmc create "drbd$1" --table "0 34816 linear /dev/ram1 0" &&
		{ printf "yes\nyes\n" | drbdmeta --force "$2" v08 "$back" internal create-md >/tmp/drbdmeta.log 2>&1 ||
			{ tail -n 2 /tmp/drbdmeta.log >&2; false; }; } &&
		drbdsetup-84 new-resource "$1" &&
		drbdsetup-84 new-minor "$1" "$2" 0 &&
		drbdsetup-84 attach "$2" "$back" "$back" internal &&
		drbd_connect "$@" &&
		drbdsetup-84 new-current-uuid "$2" --clear-bitmap &&
		drbdsetup-84 primary "$2" &&
		drbd_wait "$2" 'ds:UpToDate/UpToDate' 30 || return 1
	echo "/dev/drbd$2 drbd_settled"
}
setup_drbd_c() { drbd_up rc 0 7789 C; }
setup_drbd_a() { drbd_up ra 1 7790 A; }
setup_drbd_rs() { drbd_up rs 2 7791 C; }

# Tear everything down, whatever the configuration left.
teardown() {
	local r
	for r in rc ra rs; do drbdsetup-84 down $r >/dev/null 2>&1; done
	dmc remove r0 >/dev/null 2>&1
	dmc remove repl >/dev/null 2>&1
	dmc remove_all >/dev/null 2>&1
	[ ! -e /sys/block/nbd0/pid ] || /usr/bin/nbd-client -d /dev/nbd0 >/dev/null 2>&1
	true
}

# bench_config NAME: one configuration, in a subshell so a failing helper
# only ends it.
bench_config() {
	CFG=$1
	mkdir -p "$R/$CFG"
	: >"$R/$CFG/setup.txt"
	rams
	local fn t0 spec rc=0
	fn=setup_$(echo "$CFG" | tr - _)
	t0=$(up)
	spec=$($fn 2>/tmp/setup.err) || rc=$?
	spec=$(printf '%s\n' "$spec" | tail -n 1)
	if [ $rc != 0 ] || [ -z "$spec" ]; then
		echo "$CFG: setup failed: $(tail -n 3 /tmp/setup.err | tr '\n' ' ')" >>$R/failures.txt
		log "$CFG: setup failed: $(tail -n 3 /tmp/setup.err | tr '\n' ' ')"
		cat /tmp/setup.err >>"$R/$CFG/setup.txt"
		teardown
		return 0
	fi
	note "setup_secs $(secs_since "$t0")"
	note "device ${spec% *}"
	dmc table 2>/dev/null | sed 's/^/table /' >>"$R/$CFG/setup.txt"
	fill "${spec% *}" || note "fill failed"
	[ "${spec#* }" = none ] || note "settle_after_fill $(settle "${spec#* }")"
	log "$CFG: ${spec% *}"
	run_workloads $spec
	teardown
}

# --- the runs -----------------------------------------------------------------
log "kernel $(uname -r), $(cat $R/guest.txt); configurations: $CONFIGS"
[ "${NO_DR:-0}" = 1 ] || dr_start
for c in $CONFIGS; do
	(bench_config "$c")
	teardown
done

cut -d' ' -f1 /proc/uptime >$R/clock-end
. /tests/extra.sh
log "done"
