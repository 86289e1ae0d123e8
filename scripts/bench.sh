#!/usr/bin/env bash
# Benchmark suite (`make bench`): fio over RAM-backed devices in QEMU
# guests on the release kernel, for the raw RAM disk, dm-linear, dm-mirror,
# DRBD (protocols C and A, to a second guest) and the replicator
# (synchronous, asynchronous with 1, 2 and 4 site links, past a
# fall-behind limit, and over NBD to the second guest); then module memory,
# resync throughput after a cut, a perf profile, and the replay time of a
# full log after a crash. A few configurations run again in a boot of the
# primary alone on fewer CPUs, for their scaling from 1 to $DMR_SMP CPUs
# against dm-linear's. A report (JSON, Markdown, PNG plots) is written by
# scripts/bench-report.py.
#
#   scripts/bench.sh              full run (~25 min); results into
#                                 Documentation/bench/ (the reference)
#   QUICK=1 scripts/bench.sh      short runs, one repeat (~6 min); results
#                                 into $DMR_CACHE/bench/quick/
#
# It is a benchmark, not a test: it exits 0 whatever the figures, and
# non-zero only when no guest could run at all. A configuration that
# cannot be set up is recorded in the JSON ("failures") and skipped.
# Under TCG absolute figures mean little; ratios within one run do.
#
# Guests: as scripts/vm-pair.sh (primary 169.254.77.1, DR 169.254.77.2 on
# a private QEMU stream netdev; a 9p share "pair" for settings and
# results), both on the release kernel. The primary runs
# tests/bench/primary.sh, the DR tests/bench/dr.sh (nbd-server and DRBD).
# The scaling run boots the primary again, alone (NO_DR=1 in its own
# share's bench.conf), with $BENCH_SCALE_CPUS CPUs; its results/ become
# results/scale/ of the main run. The replay measurement boots a single
# guest twice per log size
# (tests/bench/replay.sh) on file-backed disks and SIGKILLs QEMU between.
#
# Environment (and vm.sh's):
#   QUICK=1                 the quick variant
#   BENCH_OUT=DIR           where the report goes
#   BENCH_CONFIGS="..."     configurations (default: all, see primary.sh)
#   BENCH_WORKLOADS="..."   only these workloads
#   BENCH_EXTRAS="..."      extra measurements: memory resync profile
#   BENCH_REPLAY="4k 128k"  replay measurement entry sizes ("" = none)
#   BENCH_RUNTIME, BENCH_REPEATS, BENCH_RAMP   fio run shape
#   BENCH_PROFILE="CONFIG..." BENCH_PROFILE_WL=WORKLOAD  what perf samples
#                           (and linear), default "repl-sync repl-async4"
#   BENCH_WAIT=300          seconds to wait for other QEMUs to finish
#   DMR_SMP=2               guest CPUs of the two-guest run (vm.sh)
#   BENCH_SCALE_CPUS=1      guest CPUs of the scaling run ("" = no scaling run)
#   BENCH_SCALE_CONFIGS="..."   its configurations, local ones only (default
#                           "linear mirror repl-sync repl-sync-ram repl-async1")
#   BENCH_SCALE_WORKLOADS="..." its workloads (default
#                           "randwrite-qd32 randwrite-qd32-4j")
set -euo pipefail
. "$(dirname "$0")/vm.sh"
export DMR_FLAVOUR=release

quick=${QUICK:-0}
[ "$quick" = 1 ] || quick=0
all_configs="raw linear mirror drbd-c drbd-a repl-sync repl-sync-ram repl-sync-net repl-sync-net-ram repl-async1 repl-async2 repl-async4 repl-async-net repl-fallbehind"
if [ $quick = 1 ]; then
	runtime=${BENCH_RUNTIME:-2} repeats=${BENCH_REPEATS:-1} ramp=${BENCH_RAMP:-1}
	replay_mb=32 settle=20 profile_secs=3 resync_max=60
	out=${BENCH_OUT:-$DMR_CACHE/bench/quick}
else
	runtime=${BENCH_RUNTIME:-5} repeats=${BENCH_REPEATS:-3} ramp=${BENCH_RAMP:-1}
	replay_mb=128 settle=60 profile_secs=8 resync_max=180
	out=${BENCH_OUT:-$DMR_TOP/Documentation/bench}
fi
configs=${BENCH_CONFIGS:-$all_configs}
extras=${BENCH_EXTRAS-memory resync profile}
replay_sizes=${BENCH_REPLAY-4k 128k}
profile=${BENCH_PROFILE:-repl-sync repl-async4} profile_wl=${BENCH_PROFILE_WL:-randwrite-qd32}
smp=${DMR_SMP:-2}
export DMR_SMP=$smp
scale_cpus=${BENCH_SCALE_CPUS-1}
scale_configs=${BENCH_SCALE_CONFIGS:-linear mirror repl-sync repl-sync-ram repl-async1}
scale_workloads=${BENCH_SCALE_WORKLOADS:-randwrite-qd32 randwrite-qd32-4j}

say() { echo "bench: $*" >&2; }

logbase=${DMR_LOGDIR:-$DMR_CACHE/logs}
mkdir -p "$logbase"
run=$(mktemp -d "$logbase/bench-$(date +%Y%m%d-%H%M%S).XXXX")
ls -dt "$logbase"/bench-* 2>/dev/null | tail -n +6 | xargs -r rm -rf
share=$run/share
mkdir -p "$share/results/extra"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmr-bench.XXXXXX")
sock=$tmp/net.sock
cleanup() {
	local p
	if p=$(dr_qemu_pid); then kill -KILL "$p" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- a quiet host ---------------------------------------------------------
others() { pgrep -c qemu-system || true; }
waited=0
while [ "$(others)" != 0 ] && [ $waited -lt "${BENCH_WAIT:-300}" ]; do
	[ $waited != 0 ] || say "$(others) other QEMU(s) running; waiting up to ${BENCH_WAIT:-300} s"
	sleep 10
	waited=$((waited + 10))
done
qemus_before=$(others)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# --- kernel, module, tools -----------------------------------------------
DMR_KERNEL=$(vm_kernel)
[ -f "$DMR_KERNEL" ] || { say "no release kernel"; exit 1; }
export DMR_KERNEL
DMR_MODULE=${DMR_MODULE:-$("$DMR_TOP/scripts/module.sh" release)}
export DMR_MODULE
drbd_bins=
for b in /lib/drbd/drbdsetup-84 /usr/sbin/drbdmeta; do
	[ -x "$b" ] && drbd_bins+=" $b" || say "$b missing (scripts/deps.sh bench): DRBD configurations will fail"
done
perf_bin=
if [ -x /usr/bin/perf ] && /usr/bin/perf --version >/dev/null 2>&1; then
	perf_bin=/usr/bin/perf
else
	say "no working /usr/bin/perf (scripts/deps.sh bench): no profile"
fi

# bench_conf CONFIGS WORKLOADS EXTRAS [LINE...]: a primary's bench.conf.
bench_conf() {
	cat <<EOF
QUICK=$quick
RUNTIME=$runtime
REPEATS=$repeats
RAMP=$ramp
SETTLE=$settle
CONFIGS="$1"
ONLY_WORKLOADS="$2"
EXTRAS="$3"
PROFILE="$profile"
RESYNC_MAX=$resync_max
PROFILE_WL=$profile_wl
PROFILE_SECS=$profile_secs
EOF
	shift 3
	[ $# = 0 ] || printf '%s\n' "$@"
}
bench_conf "$configs" "${BENCH_WORKLOADS:-}" "$extras" >"$share/bench.conf"
say "run directory $run; $(echo "$configs" | wc -w) configurations on $smp CPUs, runtime $runtime s x $repeats${scale_cpus:+; $(echo "$scale_configs" | wc -w) again on $scale_cpus CPU(s)}"
t_start=$(date +%s)

export DMR_INITRD_RAW=1 DMR_TESTS_DIR=$DMR_TOP/tests/bench
# The guest clock. The kernel has neither ACPI (PM timer) nor an HPET it
# can find, so it calibrates the TSC against the PIT, which under TCG on a
# loaded host fails (the clocksource falls back to jiffies, which runs
# slow when ticks are late) or comes out wrong (a clock running several
# times too fast: fio's runtime and every latency scale with it). Under
# TCG the guest's TSC counts at the host's TSC rate, so the guests are
# told that rate.
tsc_khz=$({ dmesg 2>/dev/null || true; } | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' | tail -n 1)
[ -n "$tsc_khz" ] || tsc_khz=$({ dmesg 2>/dev/null || true; } | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -n 1)
[ -n "$tsc_khz" ] || tsc_khz=$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
tsc_khz=$(printf '%.0f' "$(echo "$tsc_khz * 1000" | bc)")
common_append="kmemleak=off drbd.minor_count=3"
[ "${DMR_KVM:-0}" = 1 ] || common_append+=" tsc_early_khz=$tsc_khz tsc=reliable"

# --- the DR guest --------------------------------------------------------
dr_line() {
	case $1 in
	"DMR-PAIR: dr-ready") touch "$run/dr.ready" ;;
	BENCH-DR:*) echo "$1" >>"$run/dr.notes" ;;
	esac
	return 0
}
dr_launch() {
	(
		set +e
		for ((i = 0; i < 600; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
		export DMR_LOGDIR=$run/dr DMR_MODULE=none DMR_GUEST_BINS="/usr/bin/nbd-server$drbd_bins"
		export DMR_APPEND="$common_append initcall_blacklist=nbd_init ${DMR_APPEND:-}"
		VM_QEMU_EXTRA=(-netdev "stream,id=pair,server=off,addr.type=unix,addr.path=$sock"
			-device virtio-net-pci,netdev=pair,mac=52:54:00:77:00:02)
		VM_LINE_HOOK=dr_line
		vm_boot run /tests/dr.sh "$((limit + 120))" || true
		echo "DR: $VM_STATUS after $VM_SECS s" >>"$run/host.log"
	) </dev/null >"$run/dr.out" 2>&1 &
	echo $! >"$run/dr.pid"
}
dr_qemu_pid() {
	local pid
	pid=$(cat "$run/dr/latest/qemu.pid" 2>/dev/null) || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$sock" || return 1
	echo "$pid"
}

# The primary's requests: start-dr (wait until the DR is ready), and
# DMR-SAY lines shown at once.
primary_line() {
	local re='^DMR-PAIR: ([0-9a-f]{8}) ([a-z-]+)'
	if [[ $1 == "DMR-SAY: "* ]]; then
		printf '%s\n' "${1#DMR-SAY: }" >&2
		return 0
	fi
	[[ $1 =~ $re ]] || return 0
	(
		id=${BASH_REMATCH[1]} ans="fail unknown request"
		if [ "${BASH_REMATCH[2]}" = start-dr ]; then
			ans="fail DR guest not ready after 300 s"
			for ((i = 0; i < 3000; i++)); do
				[ ! -f "$run/dr.ready" ] || { ans=ok; break; }
				sleep 0.1
			done
		fi
		echo "$ans" >"$share/$id.tmp"
		mv "$share/$id.tmp" "$share/$id"
	) </dev/null >>"$run/host.log" 2>&1 &
	return 0
}

# primary_boot NAME LIMIT OUT: boot tests/bench/primary.sh (with the
# caller's VM_QEMU_EXTRA and VM_LINE_HOOK), its output into OUT, its end
# in host.log under NAME; fails if the guest did not report an exit.
primary_boot() {
	if vm_boot run /tests/primary.sh "$2" "$DMR_TOP/tests/vm/lib.sh=/tests/vm/lib.sh" \
		"$DMR_TOP/tests/pair/lib.sh=/tests/pair/lib.sh" >"$3"; then
		echo "$1: exit $VM_RC after $VM_SECS s" >>"$run/host.log"
	else
		echo "$1: $VM_STATUS after $VM_SECS s" >>"$run/host.log"
		vm_explain_death "$2" 2>>"$run/host.log"
		return 1
	fi
}

# --- the two-guest run ---------------------------------------------------
nconf=$(echo "$configs" | wc -w)
limit=$((600 + nconf * (5 * repeats * (runtime + ramp + 3) + 90) + 900))
dr_launch
tc_dist=/usr/lib/x86_64-linux-gnu/tc
(
	export DMR_LOGDIR=$run/primary
	export DMR_GUEST_BINS="/usr/sbin/nbd-client $perf_bin$drbd_bins"
	export DMR_APPEND="$common_append ${DMR_APPEND:-}"
	VM_QEMU_EXTRA=(-netdev "stream,id=pair,server=on,addr.type=unix,addr.path=$sock"
		-device virtio-net-pci,netdev=pair,mac=52:54:00:77:00:01
		-virtfs "local,path=$share,mount_tag=pair,security_model=none")
	VM_LINE_HOOK=primary_line
	primary_boot primary "$limit" "$run/primary.out" || true
)
if pid=$(dr_qemu_pid); then kill -KILL "$pid" 2>/dev/null || true; fi
wait "$(cat "$run/dr.pid")" 2>/dev/null || true
[ ! -f "$run/dr.notes" ] || cat "$run/dr.notes" >>"$share/results/failures.txt"

# --- CPU scaling: the primary alone on fewer CPUs ----------------------------
# Local configurations only (no DR guest, no network device), on a share
# of its own; its results/ (guest.txt: its CPU count) become results/scale/.
if [ -n "$scale_cpus" ]; then
	say "scaling: $scale_configs on $scale_cpus CPU(s)"
	scale_share=$run/scale/share
	mkdir -p "$scale_share/results"
	bench_conf "$scale_configs" "$scale_workloads" "" NO_DR=1 >"$scale_share/bench.conf"
	nsconf=$(echo "$scale_configs" | wc -w)
	slimit=$((600 + nsconf * ($(echo "$scale_workloads" | wc -w) * repeats * (runtime + ramp + 3) + 90)))
	(
		export DMR_LOGDIR=$run/scale/primary DMR_SMP=$scale_cpus DMR_GUEST_BINS=
		export DMR_APPEND="$common_append ${DMR_APPEND:-}"
		VM_QEMU_EXTRA=(-virtfs "local,path=$scale_share,mount_tag=pair,security_model=none")
		VM_LINE_HOOK=primary_line
		primary_boot "scale primary" "$slimit" "$run/scale/primary.out" ||
			echo "scale ($scale_cpus CPU): primary $VM_STATUS after $VM_SECS s" >>"$share/results/failures.txt"
	)
	rm -rf "$share/results/scale"
	cp -r "$scale_share/results" "$share/results/scale"
fi

# --- replay of a full log after a crash -----------------------------------
kill_hook() {
	[ "$1" = BENCH-KILL ] || return 0
	local pid
	pid=$(cat "$VM_LOG/qemu.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null || true
}
for bs in $replay_sizes; do
	say "replay: a full ${replay_mb} MiB log of $bs entries"
	truncate -s $((replay_mb + 1))M "$tmp/log.img"
	truncate -s 16M "$tmp/data.img"
	(
		export DMR_LOGDIR=$run/replay-$bs DMR_GUEST_BINS=
		VM_QEMU_EXTRA=(-drive "file=$tmp/log.img,if=virtio,format=raw,cache=writeback"
			-drive "file=$tmp/data.img,if=virtio,format=raw,cache=writeback"
			-virtfs "local,path=$share,mount_tag=pair,security_model=none")
		VM_LINE_HOOK=kill_hook
		export DMR_APPEND="$common_append initcall_blacklist=nbd_init,drbd_init bench_bs=$bs bench_logmb=$replay_mb bench_phase=fill ${DMR_APPEND:-}"
		vm_boot run /tests/replay.sh 900 "$DMR_TOP/tests/vm/lib.sh=/tests/vm/lib.sh" >"$run/replay-$bs-fill.out" || true
		echo "replay $bs fill: $VM_STATUS after $VM_SECS s" >>"$run/host.log"
		export DMR_APPEND="${DMR_APPEND/bench_phase=fill/bench_phase=replay}"
		if ! vm_boot run /tests/replay.sh 900 "$DMR_TOP/tests/vm/lib.sh=/tests/vm/lib.sh" >"$run/replay-$bs.out" || [ "$VM_RC" != 0 ]; then
			echo "replay $bs: $VM_STATUS ${VM_RC:-}: $(tail -n 3 "$run/replay-$bs.out" | tr '\n' ' ')" >>"$share/results/failures.txt"
		fi
		echo "replay $bs: $VM_STATUS after $VM_SECS s" >>"$run/host.log"
	)
	rm -f "$tmp/log.img" "$tmp/data.img"
done

# --- report ---------------------------------------------------------------
secs=$(($(date +%s) - t_start))
cat >"$share/results/meta.env" <<EOF
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
quick=$quick
runtime=$runtime
repeats=$repeats
ramp=$ramp
kernel=$(cat "$share/results/kernel.txt" 2>/dev/null || file -b "$DMR_KERNEL" | sed -n 's/.*version \([^ ]*\).*/\1/p')
guest=$(cat "$share/results/guest.txt" 2>/dev/null || echo unknown)
guest_smp=$smp
scale_smp=$scale_cpus
scale_configs=$scale_configs
scale_workloads=$scale_workloads
scale_guest=$(cat "$share/results/scale/guest.txt" 2>/dev/null || echo none)
host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
host_cores=$(nproc)
host_mem_kib=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)
host_os=$(. /etc/os-release && echo "$PRETTY_NAME")
qemu=$(qemu-system-x86_64 --version | head -n 1)
accel=$([ "${DMR_KVM:-0}" = 1 ] && echo kvm || echo tcg)
fio=$(fio --version)
host_load_before=$load_before
host_load_after=$(cut -d' ' -f1-3 /proc/loadavg)
other_qemus_before=$qemus_before
waited_for_quiet_secs=$waited
other_qemus_after=$(( $(others) ))
tsc_khz=$tsc_khz
guest_clock_rate=$(c0=$(stat -c %.Y "$share/results/clock-start" 2>/dev/null) c1=$(stat -c %.Y "$share/results/clock-end" 2>/dev/null) &&
	g0=$(cat "$share/results/clock-start") g1=$(cat "$share/results/clock-end") &&
	printf '%.3f' "$(echo "($g1 - $g0) / ($c1 - $c0)" | bc -l)" || echo unknown)
run_secs=$secs
EOF
mkdir -p "$out"
# Debian's python3: its python3-matplotlib draws the plots.
if /usr/bin/python3 "$DMR_TOP/scripts/bench-report.py" "$share/results" "$out"; then
	say "report in $out ($secs s); logs in $run"
else
	say "report generation failed; raw results in $share/results"
fi
grep -v '^$' "$share/results/failures.txt" 2>/dev/null | sed 's/^/bench: not measured: /' >&2 || true
[ -d "$share/results" ] && ls "$share/results" | grep -q . || exit 1
exit 0
