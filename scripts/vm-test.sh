#!/usr/bin/env bash
# Run the VM test suite (tests/vm/[0-9]*.sh) in one guest boot per shard.
#
#   scripts/vm-test.sh [NAME...]
#
# NAME is a test's file name, with or without the directory and ".sh"
# (01-vm-sanity, tests/vm/01-vm-sanity.sh). Without NAMEs, all tests run in
# sorted order. Prints one "ok NAME" or "FAIL NAME: reason" line per test
# (failure details indented below it) and then "N passed, N failed"; exits
# non-zero iff anything failed. The guest side is tests/vm/runner.sh.
#
# Hangs cost one test's timeout: a watchdog here kills the guest when a
# test has not ended $DMR_HANG_SLACK (45) s after its own timeout (or
# the guest has not started its first test 600 s after boot), fails that
# test with the reason, and boots a new guest for the tests that did not
# report. A guest that dies (a panic, e.g. the hung-task detector's) is
# handled the same way. $DMR_TIMEOUT, if set, bounds each boot instead of
# the sum of the tests' timeouts.
#
# Shards: with DMR_VM_JOBS=N (default: 2 on a host with 2 or more CPUs,
# else 1) the tests are split into N groups of about equal run time (the
# times of the last run, else the timeouts) that run in N guests at once.
# DMR_VM_SHARD=K/N runs only the K-th of N such groups (scripts/test.sh
# uses it to interleave suites). DMR_TEST_TIMEOUT, DMR_TIMEOUT_SCALE,
# DMR_KMEMLEAK, DMR_KMEMLEAK_GROUP, DMR_XTRACE and DMR_VERBOSE are passed
# on to the guest's runner (see tests/vm/runner.sh), and so are
# DMR_POWERCUT_POINTS and DMR_POWERCUT_SEED (tests/vm/36-power-cut.sh).
# The guest's /usr/bin/crashwriter, /usr/bin/replog and /usr/bin/powercut
# are built here (cargo, release), and the static C tools of tests/vm (ulogd, dmstat, unstable; gcc). Other settings: see
# vm.sh.
set -euo pipefail
. "$(dirname "$0")/vm.sh"

tdir=${DMR_TESTS_DIR:-$DMR_TOP/tests/vm}
names=()
if [ $# = 0 ]; then
	while IFS= read -r f; do names+=("$(basename "$f" .sh)"); done < <(
		find "$tdir" -maxdepth 1 -name '[0-9]*.sh' | LC_ALL=C sort)
	args=
else
	for a in "$@"; do
		n=$(basename "$a" .sh)
		[ -f "$tdir/$n.sh" ] || { echo "vm-test.sh: no test $tdir/$n.sh" >&2; exit 2; }
		[[ $n =~ ^[A-Za-z0-9._-]+$ ]] || { echo "vm-test.sh: bad test name $n" >&2; exit 2; }
		names+=("$n")
	done
	args=$(IFS=,; echo "${names[*]}")
fi
[ ${#names[@]} -gt 0 ] || { echo "vm-test.sh: no tests in $tdir" >&2; exit 2; }

# The guest gets crashwriter (the write-order test's load and checker),
# replog (log checks) and powercut (the power-cut test): the release
# builds, as the crash test ships them. A no-op cargo build takes a fraction of a second and leaves the
# binaries, so the cached initramfs overlay stays valid.
targetdir=${CARGO_TARGET_DIR:-$DMR_TOP/target}
cargo_log=$(mktemp)
if (cd "$DMR_TOP" && cargo build --release --quiet -p crashwriter -p replog -p powercut) >"$cargo_log" 2>&1; then
	DMR_GUEST_BINS="${DMR_GUEST_BINS:+$DMR_GUEST_BINS }$targetdir/release/crashwriter $targetdir/release/replog $targetdir/release/powercut"
	export DMR_GUEST_BINS
else
	vm_log "cargo build of crashwriter failed; tests that use it will fail:"
	tail -n 20 "$cargo_log" | sed 's/^/  | /' >&2
fi
rm -f "$cargo_log"

# ...and ulogd (the dm-log-userspace server of 34-userspace-log), dmstat
# (lib.sh's status reader) and unstable (35-stable-data's writer), static
# C tools (vm.sh).
vm_guest_tool ulogd
vm_guest_tool dmstat
vm_guest_tool unstable

# The runner's settings reach it as VAR=value words on the kernel command
# line, which the kernel hands to /init as environment.
for v in DMR_TEST_TIMEOUT DMR_KMEMLEAK DMR_KMEMLEAK_GROUP DMR_XTRACE DMR_VERBOSE DMR_TIMEOUT_SCALE DMR_POWERCUT_POINTS DMR_POWERCUT_SEED; do
	[ -z "${!v:-}" ] || DMR_APPEND="${DMR_APPEND:-} $v=${!v}"
done
export DMR_APPEND

# Run time of each test (seconds, test and checks) from the last runs,
# for splitting into shards; the timeout stands in for a test never run.
times=$DMR_CACHE/vm-times
weight() {
	local w
	w=$(awk -v n="$1" '$1 == n { w = $2 } END { print w }' "$times" 2>/dev/null)
	[ -n "$w" ] || w=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$tdir/$1.sh" | head -1)
	echo "${w:-${DMR_TEST_TIMEOUT:-300}}"
}
# shard K N NAME...: the names of shard K (1-based) of N, longest first
# to the least loaded shard; printed in the order given. DMR_VM_SHARD_LOAD
# ("S1,S2,...") is what each shard's lane runs besides, in seconds
# (scripts/test.sh runs another suite after each shard).
shard() {
	local k=$1 n=$2
	shift 2
	for x in "$@"; do echo "$(weight "$x") $x"; done | sort -k1,1nr -k2 |
		awk -v k="$k" -v n="$n" -v pre="${DMR_VM_SHARD_LOAD:-}" '
			BEGIN { split(pre, p, ","); for (i = 1; i <= n; i++) load[i] = p[i] + 0 }
			{ b = 1; for (i = 2; i <= n; i++) if (load[i] < load[b]) b = i; load[b] += $1; if (b == k) print $2 }' |
		LC_ALL=C sort
}

if [ -n "${DMR_VM_SHARD:-}" ]; then
	[[ $DMR_VM_SHARD =~ ^([0-9]+)/([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] &&
		[ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] || { echo "vm-test.sh: DMR_VM_SHARD: K/N" >&2; exit 2; }
	mapfile -t names < <(shard "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${names[@]}")
	[ ${#names[@]} -gt 0 ] || { echo "0 passed, 0 failed"; exit 0; }
	args=$(IFS=,; echo "${names[*]}")
	export DMR_VM_JOBS=1
fi
jobs=${DMR_VM_JOBS:-$(($(nproc) >= 2 ? 2 : 1))}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "vm-test.sh: DMR_VM_JOBS: a number" >&2; exit 2; }
[ "$jobs" -le ${#names[@]} ] || jobs=${#names[@]}
if [ "$jobs" -gt 1 ]; then
	# One vm-test.sh per shard, each with its own log directory; their
	# reports are shown one after the other, then one closing line.
	sdir=$(mktemp -d)
	trap 'rm -rf "$sdir"' EXIT
	# The shards share one kernel and module: resolve (build) them once.
	DMR_KERNEL=$(vm_kernel) || { echo "vm-test.sh: no guest kernel" >&2; exit 1; }
	[ -n "${DMR_MODULE:-}" ] || DMR_MODULE=$("$DMR_TOP/scripts/module.sh" "${DMR_FLAVOUR:-debug}") ||
		{ echo "vm-test.sh: module build failed" >&2; exit 1; }
	export DMR_KERNEL DMR_MODULE
	base=${DMR_LOGDIR:-$DMR_CACHE/logs}
	for ((k = 1; k <= jobs; k++)); do
		echo "# vm shard $k/$jobs: $(shard "$k" "$jobs" "${names[@]}" | paste -sd' ')"
		DMR_VM_SHARD=$k/$jobs DMR_LOGDIR=$base/shard$k "$0" "${names[@]}" >"$sdir/$k.out" 2>&1 &
	done
	wait
	np=0 nf=0
	for ((k = 1; k <= jobs; k++)); do
		grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$sdir/$k.out" || true
		c=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$sdir/$k.out" | tail -1)
		if [ -n "$c" ]; then
			np=$((np + ${c% *})) nf=$((nf + ${c#* }))
		else
			echo "FAIL vm-shard-$k: no closing line"
			nf=$((nf + 1))
		fi
	done
	echo "$np passed, $nf failed"
	[ "$nf" = 0 ]
	exit
fi

# The host's watchdog (vm.sh): a hung test costs its timeout plus slack.
vm_wd_start
VM_LINE_HOOK=vm_wd_line
VM_HIDE_RE='^DMR-TEST: |^[0-9]+ passed, [0-9]+ failed$'

# --- the boots -----------------------------------------------------------
boots=0
VM_TODO=("${names[@]}")
while [ ${#VM_TODO[@]} -gt 0 ]; do
	boots=$((boots + 1))
	limit=600 # boot under TCG with the debug kernel, plus slack
	for n in "${VM_TODO[@]}"; do
		t=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$tdir/$n.sh" | head -1)
		limit=$((limit + ${t:-${DMR_TEST_TIMEOUT:-300}} * ${DMR_TIMEOUT_SCALE:-1} + VM_WD_SLACK + 30))
	done
	limit=${DMR_TIMEOUT:-$limit}
	vm_wd_arm
	args=$(IFS=,; echo "${VM_TODO[*]}")
	vm_boot test "$args" "$limit" || true
	vm_wd_disarm
	out=$VM_LOG/output.log
	[ -f "$out" ] || : >"$out"
	# Each test's time, for the next run's shards.
	sed -n 's/.*dmr-runner: \([A-Za-z0-9._-]*\): test \([0-9.]*\) s, checks \([0-9.]*\) s.*/\1 \2 \3/p' "$VM_LOG/console.log" |
		awk '{ printf "%s %d\n", $1, $2 + $3 + 0.5 }' >>"$times" 2>/dev/null || true
	tail -n 200 "$times" >"$times.tmp" 2>/dev/null && mv "$times.tmp" "$times"

	vm_console_splats "$VM_LOG/console.log" "$out" "$tdir"
	vm_tally "$out"
	# Every test reported (a guest that died afterwards, during reboot,
	# changes nothing), or the one that hung is failed and a new guest
	# runs the rest.
	[ ${#VM_TODO[@]} = 0 ] || vm_blame "$out" "$limit" guest || break
done
[ -z "${DMR_VERBOSE:-}" ] || vm_log "logs in $VM_LOG"
[ "$boots" = 1 ] || echo "# $boots guest boots"
echo "$VM_PASS passed, $VM_FAIL failed"
[ "$VM_FAIL" = 0 ]
