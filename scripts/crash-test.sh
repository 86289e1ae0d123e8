#!/usr/bin/env bash
# Crash test: kill QEMU at random points of a write load and check, after
# each reboot, that every acknowledged write is still there.
#
#   scripts/crash-test.sh [ROUNDS]        (default 20 crash points)
#
# The guest's disks are sparse host files on virtio-blk: /dev/vda the
# replication log (64 MiB), /dev/vdb and /dev/vdc the data devices (32 MiB
# each), /dev/vdd and /dev/vde their copies on a synchronous remote site
# link. Boot 0 creates the tables (the log is created by the table's
# "auto") and starts crashwriter's load on the mapped devices; 1 to 6 s
# after the load started, QEMU gets SIGKILL. Every later boot checks the
# log with `replog check` (a torn tail is fine), reactivates the tables,
# verifies the writes of all earlier rounds and starts a new load, so N
# crash points cost N+2 boots: the boot that verifies crash point N runs
# its load to the end instead, stops the group cleanly as the unit does at
# shutdown and reboots; the last boot checks that clean restart (test
# "clean-restart"): the group back, every write there, then removed, the
# local devices, the remote copies and the log checked once more
# (`replog check` must then be clean). The guest side is
# tests/crash/crash.sh.
#
# Output: "ok crash-N: SUMMARY" or "FAIL crash-N: REASON" (details indented)
# per crash point and for clean-restart, then "N passed, N failed"; exits
# non-zero iff one failed. After a failure the remaining rounds are not
# run (and fail).
#
# Environment (and vm.sh's):
#   DMR_CRASH_TARGET=replicator|linear  the tables; linear (plain dm-linear,
#                            no module, no replog) tests the harness itself
#   DMR_CRASH_PACKAGES=1     boot the test kernel as `make kernel-package
#                            KCONFIG_BASE=test` packages it, and install the
#                            packages in the guest at every boot (the kernel
#                            image, the module built against the packaged
#                            headers, the tools): the group comes up through
#                            the installed unit (scripts/test-packages.sh;
#                            make test sets it)
#   DMR_CRASH_SEED=N         seed of the kill times and the loads
#   DMR_CRASH_THREADS=4      writer threads
#   DMR_CRASH_CACHE=none     QEMU cache mode of the disks (writeback if the
#                            host file system has no O_DIRECT)
#   DMR_CRASH_KEEP=1         keep the disk images (also kept on failure)
#   DMR_CRASH_SABOTAGE=N     self-test: before the boot that verifies crash
#                            N, zero the block of that round's last acked
#                            write in its image: crash-N must FAIL (linear)
#   DMR_TIMEOUT=300          host-side limit per boot, seconds
set -euo pipefail
. "$(dirname "$0")/vm.sh"

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -le 1 ] || usage
rounds=${1:-20}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
target=${DMR_CRASH_TARGET:-replicator}
case $target in replicator | linear) ;; *) echo "crash-test.sh: DMR_CRASH_TARGET: replicator or linear" >&2; exit 2 ;; esac
seed=${DMR_CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
threads=${DMR_CRASH_THREADS:-4}
limit=${DMR_TIMEOUT:-300}
blocks=8192 # per data device: 32 MiB

npass=0 nfail=0
t_start=$(date +%s)
secs() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# tname N: the name of test N: crash point N, or the clean restart after
# the last one.
tname() { if [ "$1" -gt "$rounds" ]; then echo clean-restart; else echo "crash-$1"; fi; }

# fail_round N REASON [DETAILS]: a FAIL line, details indented below it.
fail_round() {
	echo "FAIL $(tname "$1"): $2"
	[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/    /'
	nfail=$((nfail + 1))
}

# finish: the rounds from $1 on did not run; closing line.
finish() {
	local r
	for ((r = $1; r <= rounds + 1; r++)); do
		fail_round "$r" "not run (${2:-an earlier round failed})"
	done
	local keep=
	[ "${DMR_CRASH_KEEP:-}" != 1 ] && [ "$nfail" = 0 ] || keep="; disk images in $img"
	echo "# $boots boot(s) in $(($(date +%s) - t_start)) s; logs in $run$keep"
	echo "$npass passed, $nfail failed"
	[ "$nfail" = 0 ] && exit 0
	exit 1
}

# --- setup ------------------------------------------------------------------
logbase=${DMR_LOGDIR:-$DMR_CACHE/logs}
mkdir -p "$logbase"
run=$(mktemp -d "$logbase/crash-$(date +%Y%m%d-%H%M%S).XXXX")
ls -dt "$logbase"/crash-* 2>/dev/null | tail -n +6 | xargs -r rm -rf
# Each boot's logs (vm.sh keeps the 20 newest) go under the run directory.
export DMR_LOGDIR=$run
boots=0
echo "# crash test: $rounds rounds, target $target, seed $seed"

img=$(mktemp -d "${TMPDIR:-/tmp}/dmr-crash.XXXXXX")
cleanup() {
	if [ "${DMR_CRASH_KEEP:-}" = 1 ] || [ "$nfail" != 0 ]; then
		return
	fi
	rm -rf "$img"
}
trap cleanup EXIT

targetdir=${CARGO_TARGET_DIR:-$DMR_TOP/target}
if ! (cd "$DMR_TOP" && cargo build --release --quiet -p crashwriter -p replog) >"$run/cargo.log" 2>&1; then
	fail_round 1 "cargo build of crashwriter and replog failed" "$(tail -n 20 "$run/cargo.log")"
	finish 2 "no tools"
fi
cw=$targetdir/release/crashwriter
export DMR_GUEST_BINS="$cw $targetdir/release/replog"
packages=()
if [ "${DMR_CRASH_PACKAGES:-}" = 1 ] && [ "$target" = replicator ]; then
	# The kernel is the packaged one; the module and replog come from the
	# packages installed in the guest.
	if ! pkgdir=$("$DMR_TOP/scripts/test-packages.sh" "${DMR_FLAVOUR:-debug}" 2>"$run/packages.log"); then
		fail_round 1 "the test packages could not be built" "$(tail -n 20 "$run/packages.log")"
		finish 2 "no packages"
	fi
	image=$(ls "$pkgdir"/linux-image-*.deb)
	mkdir -p "$img/image"
	dpkg-deb --fsys-tarfile "$image" | tar -x -C "$img/image" --wildcards './boot/vmlinuz-*'
	DMR_KERNEL=$(ls "$img"/image/boot/vmlinuz-*)
	export DMR_KERNEL DMR_MODULE=none DMR_GUEST_BINS=$cw
	for f in "$image" "$pkgdir"/dm-replicator-*.deb; do
		packages+=("$f=/extra/debs/$(basename "$f")")
	done
	echo "# packaged kernel $(basename "$DMR_KERNEL"), $(cd "$pkgdir" && ls dm-replicator-*.deb | tr '\n' ' ')"
fi
# Resolve the kernel and the module once, not at every boot.
if ! DMR_KERNEL=$(vm_kernel) || [ ! -f "$DMR_KERNEL" ]; then
	fail_round 1 "no guest kernel"
	finish 2 "no kernel"
fi
export DMR_KERNEL
if [ "$target" = linear ]; then
	export DMR_MODULE=${DMR_MODULE:-none}
elif [ ${#packages[@]} -gt 0 ]; then
	:
elif [ -z "${DMR_MODULE:-}" ]; then
	if ! DMR_MODULE=$("$DMR_TOP/scripts/module.sh" "${DMR_FLAVOUR:-debug}" 2>"$run/module.log"); then
		fail_round 1 "module build failed" "$(tail -n 20 "$run/module.log")"
		finish 2 "no module"
	fi
	export DMR_MODULE
fi

# Boot time is most of the cost: an uncompressed initramfs unpacks 3-5 s
# faster, and without kmemleak (never scanned here) the debug guest boots
# about 6 s faster and runs faster. The test needs no RAM disks, nbd or
# drbd devices, whose built-in initcalls take another 3 s.
export DMR_INITRD_RAW=1
export DMR_APPEND="kmemleak=off initcall_blacklist=nbd_init,drbd_init,brd_init ${DMR_APPEND:-}"

truncate -s 64M "$img/log.img"
truncate -s 32M "$img/data0.img" "$img/data1.img" "$img/remote0.img" "$img/remote1.img"
# cache=none: QEMU writes the images with O_DIRECT, past the host's page
# cache, and the guest sees a volatile write cache it must flush. (A kill
# still keeps what QEMU wrote: losing unflushed writes is the power-cut
# suite's model, tests/vm/36-power-cut.sh.) A host file system without
# O_DIRECT gets writeback.
cache=${DMR_CRASH_CACHE:-none}
if [ "$cache" = none ] && ! dd if=/dev/zero of="$img/log.img" bs=4096 count=1 oflag=direct conv=notrunc status=none 2>/dev/null; then
	echo "# crash-test: $img has no O_DIRECT; the disks use cache=writeback"
	cache=writeback
fi
VM_QEMU_EXTRA=()
for d in log data0 data1 remote0 remote1; do
	VM_QEMU_EXTRA+=(-drive "file=$img/$d.img,if=virtio,format=raw,cache=$cache")
done
: >"$run/acks"     # newest acked write per block, all rounds (compacted)
: >"$run/acks.all" # every ack line of every round

# The kill: when the load says it started, a sleeper SIGKILLs this boot's
# QEMU after $crash_delay seconds (if it is still this boot's QEMU).
crash_delay=
crash_hook() {
	[ "$1" = "crashwriter: started" ] || return 0
	date +%s.%N >"$VM_LOG/started"
	[ -n "$crash_delay" ] || return 0 # the load before the clean restart
	(
		sleep "$crash_delay"
		pid=$(cat "$VM_LOG/qemu.pid" 2>/dev/null) || exit 0
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$VM_LOG/console.log" || exit 0
		date +%s.%N >"$VM_LOG/killed"
		kill -KILL "$pid"
	) </dev/null >/dev/null 2>&1 &
}
VM_LINE_HOOK=crash_hook

splat_re='BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|kmemleak|lockdep|circular locking|recursive locking|inconsistent lock state|panicked|Call Trace:'
# splat FROM TO: first splat in the console between the lines matching the
# EREs FROM and TO (TO empty: to the end).
splat() {
	awk -v from="$1" -v to="$2" -v re="$splat_re" '
		$0 ~ from { on = 1; next }
		to != "" && $0 ~ to { on = 0 }
		on && $0 ~ re { sub(/^\[[ 0-9.]*\] /, ""); print; exit }' "$VM_LOG/console.log"
}

# Why the guest did not finish: timeout or death, with the console tail.
death() {
	local why
	if [ "$VM_STATUS" = setup ]; then
		why="no guest (setup failed)"
	elif [ "$VM_STATUS" = timeout ]; then
		why="guest hung: host timeout after $limit s"
	else
		why="guest died"
	fi
	local d
	d=$(vm_death_reason)
	[ -z "$d" ] || why="$why: $d"
	# Say so when something else signalled QEMU.
	d=$(grep -m1 'terminating on signal' "$VM_LOG/qemu.err" 2>/dev/null | sed 's/^qemu-system-x86_64: //' || true)
	[ -z "$d" ] || why="$why (qemu: $d)"
	echo "$why"
}

# The guest's failure line and its details, or why it did not report.
guest_failure() {
	local out=$VM_LOG/output.log line
	line=$(grep -m1 '^crash-fail: ' "$out" || true)
	if [ -n "$line" ]; then
		reason=${line#crash-fail: }
		details=$(sed -n '/^crash-fail: /,$p' "$out" | sed -n '2,$p' | grep '^    ' | sed 's/^    //' | head -n 40 || true)
	elif [ -f "$VM_LOG/exit" ]; then
		reason="guest script exited with $(cat "$VM_LOG/exit") without reporting"
		details=$(grep -vE '^[AF] ' "$out" | tail -n 20 || true)
	else
		reason=$(death)
		details="last kernel console lines ($VM_LOG/console.log):
$(tail -n 30 "$VM_LOG/console.log")"
	fi
}

# --- the rounds ---------------------------------------------------------
# Boot b verifies crash point b (b >= 1) and, unless it is the last,
# starts the load that crash point b+1 interrupts; boot rounds runs its
# load to the end and stops cleanly, boot rounds+1 verifies that.
load_note=
for ((b = 0; b <= rounds + 1; b++)); do
	if [ $b = 0 ]; then
		phase=first
	elif [ $b = "$rounds" ]; then
		phase=clean
	elif [ $b -gt "$rounds" ]; then
		phase=last
	else
		phase=middle
	fi
	cat >"$run/crash.conf" <<EOF
ROUND=$b
PHASE=$phase
TARGET=$target
SEED=$((RANDOM * 32768 + RANDOM))
START_SEQ=$((b * 1000000000 + 1))
BLOCKS=$blocks
THREADS=$threads
EOF
	crash_delay=$(printf '%d.%03d' $((1 + RANDOM % 5)) $((RANDOM % 1000)))
	[ $phase != clean ] || crash_delay=
	t0=$(date +%s.%N)
	vm_boot run /extra/crash.sh "$limit" "$DMR_TOP/tests/crash/crash.sh=/extra/crash.sh" \
		"$run/crash.conf=/extra/crash.conf" "$run/acks=/extra/acks" "${packages[@]}" >/dev/null 2>"$run/boot.err" || true
	boots=$((boots + 1))
	[ -z "$VM_LOG" ] || cp "$run/crash.conf" "$VM_LOG/"
	out=$VM_LOG/output.log
	[ -f "$out" ] || : >"$out"
	[ -z "${DMR_VERBOSE:-}" ] || vm_log "boot $b: $VM_STATUS after $(secs "$t0") s, logs in $VM_LOG"

	# The verification of crash point b.
	if [ $b -gt 0 ]; then
		verified=$(sed -n 's/^crash-verified: //p' "$out" | head -1)
		s=$(splat 'dmr-init: up at' 'dmr-crash: load ')
		if [ -n "$s" ]; then
			fail_round "$b" "kernel log: $s" "see $VM_LOG/console.log"
			finish $((b + 1))
		fi
		if [ -z "$verified" ] || { [ $phase = last ] && ! grep -q '^crash-done: ' "$out"; }; then
			guest_failure
			fail_round "$b" "$reason" "$details"
			finish $((b + 1))
		fi
		summary="$load_note; verified ${verified%%;*}"
		if [ $phase = last ]; then
			summary+="; clean shutdown, local devices verified"
			[ "$target" != replicator ] || summary+=", remote copies verified, replog check clean"
		fi
		echo "ok $(tname "$b"): $summary"
		npass=$((npass + 1))
	fi
	[ $phase != last ] || break

	# The load that crash point b+1 interrupted.
	n=$((b + 1))
	if [ ! -f "$VM_LOG/started" ]; then
		guest_failure
		fail_round "$n" "load did not start: $reason" "$details"
		finish $((n + 1))
	fi
	if [ $phase = clean ]; then
		if ! grep -q '^crash-clean: ' "$out"; then
			guest_failure
			fail_round "$n" "the clean stop did not finish: $reason" "$details"
			finish $((n + 1))
		fi
	elif [ ! -f "$VM_LOG/killed" ]; then
		guest_failure
		if [ -f "$VM_LOG/exit" ]; then
			why=$(grep '^crashwriter: ' "$out" | grep -v '^crashwriter: started$' | head -n 1 || true)
			reason="load ended before the kill: ${why:-exit status $(cat "$VM_LOG/exit")}"
		fi
		fail_round "$n" "$reason" "$details"
		finish $((n + 1))
	fi
	if [ $b = 0 ]; then s=$(splat 'dmr-init: up at' ''); else s=$(splat 'dmr-crash: load ' ''); fi
	if [ -n "$s" ]; then
		fail_round "$n" "kernel log during the load: $s" "see $VM_LOG/console.log"
		finish $((n + 1))
	fi
	sed -n '/^crashwriter: started$/,$p' "$out" | grep -E '^[AF] ' >"$VM_LOG/acks" || true
	nacks=$(grep -c '^A ' "$VM_LOG/acks" || true)
	if [ "$nacks" = 0 ]; then
		fail_round "$n" "no write acknowledged in the $crash_delay s before the kill" \
			"$(grep -vE '^[AF] ' "$out" | tail -n 20)"
		finish $((n + 1))
	fi
	cat "$VM_LOG/acks" >>"$run/acks.all"
	"$cw" compact --acks "$run/acks" --acks "$VM_LOG/acks" >"$run/acks.new"
	mv "$run/acks.new" "$run/acks"
	if [ $phase = clean ]; then
		load_note="$nacks acked writes, $(sed -n 's/^crash-clean: //p' "$out"), a clean reboot"
	else
		load_note="killed $(printf '%.1f' "$(echo "$(cat "$VM_LOG/killed") - $(cat "$VM_LOG/started")" | bc)") s into the load after $nacks acked writes"
	fi

	if [ "${DMR_CRASH_SABOTAGE:-}" = "$n" ]; then
		# Self-test of the verifier: lose an acknowledged block.
		read -r _ sseq sdev sblock _ < <(grep '^A ' "$VM_LOG/acks" | tail -n 1)
		dd if=/dev/zero of="$img/data$sdev.img" bs=4096 seek="$sblock" count=1 conv=notrunc status=none
		echo "# sabotage: zeroed block $sblock of data$sdev.img (acked seq $sseq); crash-$n must fail"
	fi
done
finish $((rounds + 2))
