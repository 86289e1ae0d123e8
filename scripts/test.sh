#!/usr/bin/env bash
# make test: host tests, then the VM suite, the crash test (5 rounds, on
# the packaged test kernel with the module and tool packages) and
# the two-site suite on the debug kernel, with one closing line
# "N passed, N failed" over all, after the wall time of each part.
#
# The host tests run while the kernel, the module and the guest tools are
# built (once, before any guest). The guests are TCG, one host CPU each
# (the crash test's has two CPUs), so the suites then run in two lanes at once (DMR_TEST_LANES=1: one
# after the other): lane 1 runs the first half of the VM suite, then the
# two-site suite; lane 2 the other half, then the crash test. Their
# reports are shown in that order: host, VM, crash, two-site.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$DMR_TOP"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
t_all=$(date +%s)
times=()
# timed NAME CMD...: run CMD, note its wall time under NAME.
timed() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	"$@"
	rc=$?
	echo "$name $(($(date +%s) - t0))" >>"$logs/times"
	return $rc
}
mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# The host tests run while the kernel builds: the build has long stretches
# on one CPU (the Rust crates, the links).
host() { scripts/host-test.sh >"$logs/host" 2>&1; echo $? >"$logs/host.rc"; }
timed host host &
hostpid=$!

# Build what every lane needs, once: two lanes building one kernel or
# module tree at the same time would corrupt it.
build() {
	DMR_KERNEL=$(scripts/kernel.sh debug)/arch/x86/boot/bzImage &&
		DMR_MODULE=$(scripts/module.sh debug) &&
		cargo build --release --quiet -p crashwriter -p replog -p powercut
}
if ! timed build build >"$logs/build" 2>&1; then
	# Without a kernel every suite fails at once, and says so.
	echo "# build of the guest kernel, module or tools failed:"
	tail -n 30 "$logs/build" | sed 's/^/    /'
else
	DMR_KERNEL=$(scripts/kernel.sh debug)/arch/x86/boot/bzImage
	DMR_MODULE=$(scripts/module.sh debug)
	export DMR_KERNEL DMR_MODULE
	# The packages the crash test's guest installs (scripts/test-packages.sh),
	# built here before any guest runs. A failure here is the crash test's
	# to report: it builds them again and says why.
	timed packages scripts/test-packages.sh debug >"$logs/packages" 2>&1 || true
fi

# The suites that follow the shards (two-site after shard 1, the crash
# test after shard 2) weigh in the split: their times of the last run,
# in $DMR_CACHE/suite-times.
suite_times=$DMR_CACHE/suite-times
last() { awk -v n="$1" '$1 == n { t = $2 } END { print t + 0 }' "$suite_times" 2>/dev/null; }
t_pair=$(last two-site) t_crash=$(last crash)
export DMR_VM_SHARD_LOAD="${t_pair:-600},${t_crash:-480}"
[ "$t_pair" != 0 ] || DMR_VM_SHARD_LOAD="600,${DMR_VM_SHARD_LOAD#*,}"
[ "$t_crash" != 0 ] || DMR_VM_SHARD_LOAD="${DMR_VM_SHARD_LOAD%,*},480"

# vm K/N: shard K of the VM suite's N. One CPU per guest: a lane has one
# host CPU (TCG runs a guest CPU on a host thread).
vm() {
	local k=${1%/*}
	DMR_SMP=1 DMR_FLAVOUR=debug DMR_VM_SHARD=$1 DMR_LOGDIR=$DMR_CACHE/logs/shard$k scripts/vm-test.sh >"$logs/vm$k.out" 2>&1
	echo $? >"$logs/vm$k.rc"
}
# Each crash point counts as one test. The guest boots the packaged test
# kernel and installs the module and tool packages, as a server would. It
# has two CPUs, so that locking and ordering bugs that need two can show
# under its concurrent load and crashes (the lane with the crash test has
# the most room; a VM shard on two CPUs ran 10-20 % slower, the crash
# test no slower).
crash() {
	DMR_SMP=2 DMR_FLAVOUR=debug DMR_CRASH_PACKAGES=1 scripts/crash-test.sh 5 >"$logs/crash" 2>&1
	echo $? >"$logs/crash.rc"
}
# Two guests: tests/pair/ (primary and DR site over NBD).
pair() { DMR_SMP=1 DMR_FLAVOUR=debug scripts/vm-pair.sh >"$logs/pair" 2>&1; echo $? >"$logs/pair.rc"; }
# make install into a scratch root (the module only): the .ko lands under
# updates/, depmod's modules.dep names it, and its version is that of
# src/kmod.rs and dkms.conf. One test line, counted with the host tests.
install_check() {
	local root ko want why=
	root=$(mktemp -d)
	want=$(sed -n 's/^const VERSION: \[u32; 3\] = \[\([0-9]*\), \([0-9]*\), \([0-9]*\)\];$/\1.\2.\3/p' src/kmod.rs)
	if [ -z "${DMR_MODULE:-}" ]; then
		why="the module was not built"
	elif ! make --no-print-directory -s install FLAVOUR=debug INSTALL_MOD_PATH="$root" \
		INSTALL_PARTS=module >"$logs/install.out" 2>&1; then
		why="make install failed: $(tail -n 1 "$logs/install.out")"
	else
		ko=$(cd "$root" && find lib/modules -path '*/updates/dm-replicator/dm_replicator.ko')
		if [ -z "$ko" ]; then
			why="no lib/modules/*/updates/dm-replicator/dm_replicator.ko in $root"
		elif ! grep -q '^updates/dm-replicator/dm_replicator.ko:' "$root/${ko%%/updates/*}/modules.dep" 2>/dev/null; then
			why="modules.dep does not name updates/dm-replicator/dm_replicator.ko"
		elif [ "$(modinfo -F version "$root/$ko")" != "$want" ]; then
			why="modinfo -F version says '$(modinfo -F version "$root/$ko")', src/kmod.rs '$want'"
		elif ! grep -qx "PACKAGE_VERSION=\"$want\"" dkms.conf; then
			why="dkms.conf's PACKAGE_VERSION is not $want"
		fi
	fi
	rm -rf "$root"
	if [ -z "$why" ]; then echo "ok install"; else echo "FAIL install: $why"; fi
}
timed install install_check >"$logs/install"
wait $hostpid
cat "$logs/host" "$logs/install"
hrc=$(cat "$logs/host.rc" 2>/dev/null || echo 1)
if [ "${DMR_TEST_LANES:-2}" = 1 ]; then
	timed "vm" vm 1/1
	timed crash crash
	timed two-site pair
else
	{ timed "vm-1/2" vm 1/2; timed two-site pair; } &
	{ timed "vm-2/2" vm 2/2; timed crash crash; } &
	wait
fi
# The VM suite's shards as one report.
cat "$logs"/vm[0-9].out 2>/dev/null | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
cat "$logs/crash" "$logs/pair"

count() { sed -n "s/^$1\([0-9]*\) passed, \([0-9]*\) failed$/\\$2/p" "$3" | tail -1; }
hp=$(count 'host: ' 1 "$logs/host"); hf=$(count 'host: ' 2 "$logs/host")
hp=${hp:-0}; hf=${hf:-0}
[ "$hrc" = 0 ] || [ "$hf" != 0 ] || hf=1
np=$hp nf=$hf
if grep -q '^ok install$' "$logs/install"; then np=$((np + 1)); else nf=$((nf + 1)); fi
# part LOG RCFILE: add a suite's counts; a suite that printed no closing
# line, or failed without a failed test, failed as a whole.
part() {
	local p f rc
	p=$(count '' 1 "$1"); f=$(count '' 2 "$1")
	rc=$(cat "$2" 2>/dev/null || echo 1)
	[ -n "$p" ] || { p=0; f=$((${f:-0} + 1)); }
	[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
	np=$((np + p)) nf=$((nf + f))
}
for k in 1 2; do
	[ -f "$logs/vm$k.rc" ] || [ $k = 2 ] || echo 1 >"$logs/vm$k.rc"
	[ -f "$logs/vm$k.rc" ] || continue
	part "$logs/vm$k.out" "$logs/vm$k.rc"
done
part "$logs/crash" "$logs/crash.rc"
part "$logs/pair" "$logs/pair.rc"
grep -E '^(two-site|crash) ' "$logs/times" >"$suite_times.new" 2>/dev/null && mv "$suite_times.new" "$suite_times"
echo
line="# wall time:"
while read -r name secs; do line="$line $name $(mmss "$secs"),"; done <"$logs/times"
echo "$line total $(mmss $(($(date +%s) - t_all)))"
echo "$np passed, $nf failed"
[ "$nf" = 0 ]
