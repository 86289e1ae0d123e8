#!/usr/bin/env bash
# Shared QEMU launcher for the test guest. Sourced by vm-run.sh and
# vm-test.sh; can also be run by hand:
#
#   scripts/vm.sh JOB ARGS [HOSTFILE[=GUESTPATH]...]
#       JOB=test: ARGS is a comma-separated list of tests/vm names ("" = all)
#       JOB=run:  ARGS is a guest path of a script to run with /bin/sh
#
# The guest prints the job's output on its second serial port, which is this
# script's stdout, and ends it with a DMR-EXIT=<n> marker line that is
# filtered out and becomes vm_boot's result. The first serial port is the
# kernel console; it goes to a log file only (so kernel messages cannot
# split the job's lines), and its tail is shown when the guest dies.
#
# Environment:
#   DMR_FLAVOUR=debug|release  guest kernel and module flavour (default debug)
#   DMR_KERNEL=PATH            use this bzImage instead of scripts/kernel.sh's
#   DMR_MODULE=PATH|none       module to load (default: scripts/module.sh)
#   DMR_KVM=1                  use KVM instead of TCG (hangs on some hosts)
#   DMR_SMP=1 DMR_MEM=1G       guest CPUs and memory (1G: 830 MiB usable after
#                              KASAN; each kmemleak scan walks every struct
#                              page, and takes ~10 s at 1G, 14 s at 2G)
#   DMR_TIMEOUT=SECONDS        host-side limit for the whole guest run
#   DMR_APPEND="..."           extra kernel command line
#   DMR_QEMU_ARGS="..."        extra QEMU arguments (word-split)
#   DMR_VERBOSE=1              also stream the kernel console to stderr
#   DMR_LOGDIR=DIR             where run logs go (default $DMR_CACHE/logs)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Optional inputs of vm_boot, for scripts that source this one:
#   VM_QEMU_EXTRA=(...)  more QEMU arguments, one per array element
#   VM_LINE_HOOK=FUNC    FUNC is called with each output line, in the
#                        reader's subshell; $VM_LOG/qemu.pid holds QEMU's pid
#   VM_HIDE_RE=ERE       output lines matching it go to output.log and the
#                        hook but not to stdout (default: the runner's
#                        "DMR-TEST: " progress lines)

# Output of vm_boot (globals, since the output stream is the job's):
VM_RC=          # guest job's exit status; empty if the guest never said
VM_STATUS=      # exited | timeout | died | setup (no guest was started)
VM_LOG=         # run directory: console.log, output.log
VM_SECS=        # wall-clock seconds of the QEMU run
VM_UP=          # guest uptime (s) when /init started, from the console

vm_log() { echo "vm: $*" >&2; }

# Path of the guest kernel image for $DMR_FLAVOUR.
vm_kernel() {
	if [ -n "${DMR_KERNEL:-}" ]; then
		echo "$DMR_KERNEL"
		return
	fi
	local kdir
	kdir=$("$DMR_TOP/scripts/kernel.sh" "${DMR_FLAVOUR:-debug}")
	echo "$kdir/arch/x86/boot/bzImage"
}

# A fresh run directory under $DMR_LOGDIR; keeps the 20 newest.
vm_new_logdir() {
	local base=${DMR_LOGDIR:-$DMR_CACHE/logs}
	mkdir -p "$base"
	VM_LOG=$(mktemp -d "$base/$(date +%Y%m%d-%H%M%S).XXXX")
	ln -sfn "$(basename "$VM_LOG")" "$base/latest"
	ls -dt "$base"/2*.* 2>/dev/null | tail -n +21 | xargs -r rm -rf
}

# vm_boot JOB ARGS TIMEOUT [HOSTFILE...]
# Builds the initramfs, boots the guest, streams the job's output to stdout.
# Sets VM_RC, VM_STATUS, VM_LOG, VM_SECS, VM_UP. Returns 0 when the guest
# reported an exit status (whatever it is), 1 otherwise.
vm_boot() {
	local job=$1 args=$2 limit=$3
	shift 3
	local kernel initrd t0 t1 qrc accel append tailpid=
	# Callers use "if vm_boot", where set -e is off: check by hand.
	VM_STATUS=setup VM_RC='' VM_SECS='' VM_UP=''
	vm_new_logdir
	[ -z "${VM_WD:-}" ] || echo "$VM_LOG" >"$VM_WD/log"
	kernel=$(vm_kernel) || { vm_log "no guest kernel"; return 1; }
	[ -f "$kernel" ] || { vm_log "kernel image $kernel missing"; return 1; }
	initrd=$VM_LOG/initramfs.cpio.gz
	t0=$(date +%s.%N)
	"$DMR_TOP/scripts/initramfs.sh" "$initrd" "$@" || { vm_log "initramfs build failed"; return 1; }
	t1=$(date +%s.%N)
	[ -z "${DMR_VERBOSE:-}" ] || vm_log "initramfs ready in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s"

	if [ "${DMR_KVM:-0}" = 1 ]; then
		accel=(-accel kvm -cpu host)
	else
		accel=(-accel tcg)
	fi
	# kasan_multi_shot: report every KASAN bug, not only the first of a boot.
	append="console=ttyS0 panic=-1 rdinit=/init kmemleak=on kasan_multi_shot"
	# slub_debug=-: the debug kernel's SLUB_DEBUG_ON red zones, poisoning
	# and alloc/free tracking find nothing KASAN (which checks every
	# access) does not, and made every allocation pay twice: the debug
	# guest runs ~20% faster without them. slub_debug=FZPU in DMR_APPEND
	# turns them back on.
	append+=" slub_debug=-"
	# A test's whole kernel log must fit the ring for the runner's scan
	# (it fails a test whose log overflowed it).
	append+=" log_buf_len=16M"
	# watchdog_thresh=30: a soft lockup is reported after 60 s, not 20,
	# so a TCG guest on a busy host is not taken for a locked-up one.
	append+=" watchdog_thresh=30"
	# printk.devkmsg=on: lib.sh's dmesg marks must not be rate limited.
	# norandmaps: TCG finds translated code by virtual address, so without
	# ASLR a new process reuses it (dynamic binaries start ~2x faster).
	append+=" printk.devkmsg=on no_hash_pointers norandmaps"
	# The pty/nbd/drbd/loop counts cut ~22 s of device creation from a TCG
	# boot of the debug kernel (256 legacy ptys, 16 nbds, drbd's page pool,
	# 8 loops; losetup -f still makes more loops through loop-control).
	append+=" pty.legacy_count=0 nbd.nbds_max=4 drbd.minor_count=1 loop.max_loop=2 ${DMR_APPEND:-}"
	# Guest CPUs. The kernel finds more than the boot CPU only in ACPI's
	# MADT, and ACPI costs a TCG boot ~15 s (its AML runs emulated; on a
	# loaded host the PCI routing method can time out): a one-CPU guest
	# boots without it, as before, and an SMP guest takes its tables but
	# routes PCI interrupts without AML (pci=noacpi). DMR_CPUS: what the
	# guest was given, for 01-vm-sanity's check that it sees every CPU.
	if [ "${DMR_SMP:-1}" = 1 ]; then
		append+=" acpi=off"
	else
		append+=" pci=noacpi"
	fi
	append+=" DMR_CPUS=${DMR_SMP:-1} dmr_job=$job dmr_args=$args"
	# shellcheck disable=SC2206 # DMR_QEMU_ARGS is meant to be word-split
	local extra=(${DMR_QEMU_ARGS:-})
	local qemu=(qemu-system-x86_64 "${accel[@]}" -smp "${DMR_SMP:-1}" -m "${DMR_MEM:-1G}"
		-display none -vga none -monitor none -parallel none -nic none -no-reboot
		-kernel "$kernel" -initrd "$initrd" -append "$append"
		-serial "file:$VM_LOG/console.log" -serial stdio -pidfile "$VM_LOG/qemu.pid"
		"${extra[@]}" ${VM_QEMU_EXTRA[@]+"${VM_QEMU_EXTRA[@]}"})
	printf '%q ' "${qemu[@]}" >"$VM_LOG/qemu.cmd"
	: >"$VM_LOG/console.log"
	if [ -n "${DMR_VERBOSE:-}" ]; then
		tail -n +1 -f "$VM_LOG/console.log" >&2 &
		tailpid=$!
	fi

	t0=$(date +%s.%N)
	rm -f "$VM_LOG/exit"
	set +e
	# QEMU's stdin is /dev/null so the stdio chardev never touches the
	# terminal. timeout kills QEMU if the guest hangs; --foreground keeps
	# QEMU in our process group, so ^C ends it too.
	timeout --foreground -k 10 "$limit" "${qemu[@]}" </dev/null 2>"$VM_LOG/qemu.err" |
		vm_reader "$VM_LOG"
	qrc=${PIPESTATUS[0]}
	set -e
	t1=$(date +%s.%N)
	[ -z "$tailpid" ] || { sleep 0.2; kill "$tailpid" 2>/dev/null; wait "$tailpid" 2>/dev/null || true; }
	rm -f "$initrd"
	[ ! -s "$VM_LOG/qemu.err" ] || sed 's/^/qemu: /' "$VM_LOG/qemu.err" >&2

	VM_SECS=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
	VM_UP=$(sed -n 's/.*dmr-init: up at \([0-9.]*\) s.*/\1/p' "$VM_LOG/console.log" | head -1)
	VM_RC=$(cat "$VM_LOG/exit" 2>/dev/null || true)
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		VM_STATUS=timeout
	elif [ -n "$VM_RC" ]; then
		VM_STATUS=exited
	else
		VM_STATUS=died
	fi
	[ -z "${DMR_VERBOSE:-}" ] || vm_log "guest up at ${VM_UP:-?} s, $VM_STATUS (${VM_RC:-no status}) after $VM_SECS s; logs in $VM_LOG"
	[ -n "$VM_RC" ]
}

# Copy the job's output stream ($1/output.log and stdout), drop the CRs a
# cooked tty would add, and take the DMR-EXIT marker out into $1/exit.
vm_reader() {
	local dir=$1 line re='^(.*)DMR-EXIT=([0-9]+)$'
	exec 3>"$dir/output.log"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		if [[ $line =~ $re ]]; then
			echo "${BASH_REMATCH[2]}" >"$dir/exit"
			line=${BASH_REMATCH[1]}
			[ -n "$line" ] || continue
		fi
		[[ $line =~ ${VM_HIDE_RE:-^DMR-TEST: } ]] || printf '%s\n' "$line"
		printf '%s\n' "$line" >&3
		[ -z "${VM_LINE_HOOK:-}" ] || "$VM_LINE_HOOK" "$line"
	done
	exec 3>&-
}

# The kernel-log line that explains a dead guest, if any: the panic, else
# the last splat (earlier ones may belong to tests that already reported).
vm_death_reason() {
	{
		grep -m1 'Kernel panic' "$VM_LOG/console.log" ||
			grep -E 'BUG:|Oops|general protection|KASAN|WARNING:|panicked' "$VM_LOG/console.log" | tail -n1
	} 2>/dev/null | sed 's/^\[[ 0-9.]*\] //' || true
}

# vm_guest_tool NAME: build tests/vm/NAME.c (static, so it needs no
# library in the guest) into target/c/NAME when the source is newer, and
# add it to $DMR_GUEST_BINS. A failed build is reported; the tests that
# need the tool then fail (or fall back, as lib.sh does without dmstat).
vm_guest_tool() {
	local src=$DMR_TOP/tests/vm/$1.c bin=${CARGO_TARGET_DIR:-$DMR_TOP/target}/c/$1
	if [ ! "$bin" -nt "$src" ]; then
		mkdir -p "$(dirname "$bin")"
		if ! gcc -O2 -static -Wall -Wextra -o "$bin.tmp.$$" "$src" 2>"$bin.log"; then
			vm_log "gcc build of $1 failed:"
			tail -n 20 "$bin.log" | sed 's/^/  | /' >&2
			rm -f "$bin.tmp.$$"
			return 0
		fi
		mv "$bin.tmp.$$" "$bin"
	fi
	DMR_GUEST_BINS="${DMR_GUEST_BINS:+$DMR_GUEST_BINS }$bin"
	export DMR_GUEST_BINS
}

# --- the host's watchdog ---------------------------------------------------
# tests/vm/runner.sh frames each run of a test with "DMR-TEST: start NAME
# TIMEOUT" and "DMR-TEST: end NAME". Fed those lines (vm_wd_line, from a
# VM_LINE_HOOK), the watchdog kills the guest's QEMU when a test has not
# ended $DMR_HANG_SLACK (45) s after its timeout, when no test starts
# within 600 s of boot, or when the checks after a test take over 120 s.
# A hang then costs one test's timeout, whatever the guest's state.
#
#   vm_wd_start          start it (once per script; ends with the script)
#   vm_wd_arm            before vm_boot: the boot's deadline
#   vm_wd_disarm         after vm_boot
#   vm_wd_current OUT    the test of output log OUT that started and did
#                        not end (empty if none)
#   vm_wd_why            if the watchdog killed this boot: why (status 0)
VM_WD_SLACK=${DMR_HANG_SLACK:-45}
vm_wd_start() {
	local parent=$$
	VM_WD=$(mktemp -d)
	# It ends with the script that started it.
	(
		while sleep 2; do
			kill -0 "$parent" 2>/dev/null || { rm -rf "$VM_WD"; exit 0; }
			d=$(cat "$VM_WD/deadline" 2>/dev/null) || continue
			[ "$(date +%s)" -gt "$d" ] || continue
			log=$(cat "$VM_WD/log" 2>/dev/null) || continue
			pid=$(cat "$log/qemu.pid" 2>/dev/null) || continue
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$log/console.log" || continue
			cp "$VM_WD/current" "$VM_WD/killed" 2>/dev/null || echo "- 0" >"$VM_WD/killed"
			rm -f "$VM_WD/deadline"
			kill -KILL "$pid" 2>/dev/null
		done
	) </dev/null >/dev/null 2>&1 &
}
vm_wd_arm() {
	rm -f "$VM_WD/killed" "$VM_WD/current" "$VM_WD/log"
	echo $(($(date +%s) + 600)) >"$VM_WD/deadline"
}
vm_wd_disarm() { rm -f "$VM_WD/deadline"; }
vm_wd_line() {
	local w
	[ -n "${VM_WD:-}" ] || return 0
	case $1 in
	"DMR-TEST: start "*)
		read -r -a w <<<"${1#DMR-TEST: start }"
		[[ ${w[1]:-} =~ ^[0-9]+$ ]] || return 0
		echo "${w[0]} ${w[1]}" >"$VM_WD/current"
		echo $(($(date +%s) + w[1] + VM_WD_SLACK)) >"$VM_WD/deadline" ;;
	"DMR-TEST: end "*)
		rm -f "$VM_WD/current"
		echo $(($(date +%s) + 120)) >"$VM_WD/deadline" ;;
	esac
	return 0
}
vm_wd_current() {
	awk '/^DMR-TEST: start / { c = $3 } /^DMR-TEST: end / { if ($3 == c) c = "" } END { print c }' "$1"
}
vm_wd_why() {
	local kn kt
	[ -f "$VM_WD/killed" ] || return 1
	read -r kn kt <"$VM_WD/killed"
	if [ "$kn" != - ]; then
		echo "hung: no result $((kt + VM_WD_SLACK)) s after it started (timeout $kt s); the host killed the guest"
	else
		echo "guest hung: no test started within 600 s of boot, or the checks after a test took over 120 s; the host killed the guest"
	fi
}

# --- runs that survive a hang -------------------------------------------
# A suite that boots again after a hung or dead guest keeps its state in
# VM_TODO (the tests still to report), VM_SEEN (reported), VM_PASS and
# VM_FAIL. vm_tally OUT counts the "ok"/"FAIL" lines of the output log OUT
# and drops the reported tests from VM_TODO. vm_blame OUT LIMIT WHO, after
# a boot that left tests unreported: fails the test that started and did
# not end (WHO is "guest" or "primary", for the reason) and returns 0, so
# the caller boots again for the rest; with no test to blame it fails the
# rest and returns 1.
declare -A VM_SEEN=()
VM_TODO=() VM_PASS=0 VM_FAIL=0
# vm_console_splats CONSOLE OUT TESTDIR: the guest judges each test by its kernel
# log ring; this reads the whole console of the boot as well. A test
# reported "ok" whose part of the console (from its "dmr-runner: begin"
# line to the next) holds a splat the runner looks for is failed: its
# "ok NAME" line in OUT becomes "FAIL NAME: console: LINE" (printed).
vm_console_splats() {
	local con=$1 out=$2 tdir=$3 n line allow bad_re
	# The runner's own pattern (tests/vm/runner.sh), so both agree.
	bad_re=$(sed -n "s/^BAD='\(.*\)'\$/\1/p" "$DMR_TOP/tests/vm/runner.sh")
	[ -n "$bad_re" ] || { echo "vm.sh: no BAD pattern in tests/vm/runner.sh" >&2; return 1; }
	while IFS=$'\t' read -r n line; do
		grep -qxF "ok $n" "$out" || continue
		allow=$(sed -n 's/^# allow-dmesg: *//p' "$tdir/${n%.alone}.sh" 2>/dev/null | paste -sd'|')
		[ -z "$allow" ] || ! printf '%s\n' "$line" | grep -qE -- "$allow" || continue
		echo "FAIL $n: console: $line"
		awk -v ok="ok $n" -v f="FAIL $n: console: $line" '$0 == ok { print f; next } { print }' "$out" >"$out.tmp" &&
			mv "$out.tmp" "$out"
	done < <(awk -v bad="$bad_re" '
		{ sub(/\r$/, "") }
		/dmr-runner: begin / { t = $NF; next }
		t != "" && $0 ~ bad && $0 !~ /kmemleak: .*suspected memory leak/ {
			sub(/^\[[ 0-9.]*\] /, ""); print t "\t" $0
		}' "$con")
}

vm_tally() {
	local line n left=()
	while IFS= read -r line; do
		case $line in
		"ok "*) VM_SEEN[${line#ok }]=1; VM_PASS=$((VM_PASS + 1)) ;;
		"FAIL "*:*) n=${line#FAIL }; VM_SEEN[${n%%:*}]=1; VM_FAIL=$((VM_FAIL + 1)) ;;
		esac
	done <"$1"
	for n in "${VM_TODO[@]}"; do [ -n "${VM_SEEN[$n]:-}" ] || left+=("$n"); done
	VM_TODO=("${left[@]+"${left[@]}"}")
}
vm_blame() {
	local out=$1 limit=$2 who=$3 cur why d n first=1 left=()
	cur=$(vm_wd_current "$out")
	vm_explain_death "$limit"
	if ! why=$(vm_wd_why); then
		case $VM_STATUS in
		setup) why="no guest (setup failed)" ;;
		timeout) why="$who hung: host timeout after $limit s" ;;
		exited) why="runner exited with $VM_RC without reporting" ;;
		*) why="$who died" ;;
		esac
	fi
	d=$(vm_death_reason)
	[ -z "$d" ] || why="$why: $d"
	if [ -n "$cur" ] && [ -z "${VM_SEEN[$cur]:-}" ]; then
		echo "FAIL $cur: $why"
		echo "    (logs in $VM_LOG)"
		VM_SEEN[$cur]=1
		VM_FAIL=$((VM_FAIL + 1))
		for n in "${VM_TODO[@]}"; do [ "$n" = "$cur" ] || left+=("$n"); done
		VM_TODO=("${left[@]+"${left[@]}"}")
		[ ${#VM_TODO[@]} = 0 ] || echo "# booting a new $who for ${VM_TODO[*]}"
		return 0
	fi
	# No test to blame (the boot, or the checks between tests).
	for n in "${VM_TODO[@]}"; do
		if [ $first = 1 ]; then
			echo "FAIL $n: $why"
			first=0
		else
			echo "FAIL $n: not run ($why)"
		fi
		VM_FAIL=$((VM_FAIL + 1))
	done
	VM_TODO=()
	return 1
}

# Print why the guest did not report, with the console tail, on stderr.
vm_explain_death() {
	local why
	case $VM_STATUS in
	setup) return ;;
	timeout)
		if [ -n "${VM_WD:-}" ] && [ -f "$VM_WD/killed" ]; then
			why="killed by the host's watchdog"
		else
			why="killed after ${1:-?} s (host timeout)"
		fi ;;
	*) why="ended without reporting an exit status" ;;
	esac
	vm_log "guest $why; last kernel console lines ($VM_LOG/console.log):"
	tail -n "${2:-40}" "$VM_LOG/console.log" | sed 's/^/  | /' >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ $# -ge 2 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
	j=$1 a=$2
	shift 2
	if vm_boot "$j" "$a" "${DMR_TIMEOUT:-900}" "$@"; then
		exit "$VM_RC"
	fi
	vm_explain_death "${DMR_TIMEOUT:-900}"
	exit 125
fi
