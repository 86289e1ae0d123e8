#!/usr/bin/env bash
# Run the VM test suite (tests/vm/[0-9]*.sh) in ONE guest boot.
#
#   scripts/vm-test.sh [NAME...]
#
# NAME is a test's file name, with or without the directory and ".sh"
# (01-vm-sanity, tests/vm/01-vm-sanity.sh). Without NAMEs, all tests run in
# sorted order. Prints one "ok NAME" or "FAIL NAME: reason" line per test
# (failure details indented below it) and then "N passed, N failed"; exits
# non-zero iff anything failed. If the guest dies or hangs, the tests that
# did not report are failed here. The guest side is tests/vm/runner.sh.
#
# The host-side limit is the sum of the tests' timeouts plus boot and
# per-test slack, unless $DMR_TIMEOUT is set. DMR_TEST_TIMEOUT,
# DMR_KMEMLEAK, DMR_XTRACE and DMR_VERBOSE are passed on to the guest's
# runner (see tests/vm/runner.sh). The guest's /usr/bin/crashwriter is
# built here (cargo, release), and /usr/bin/ulogd (gcc, static, from
# tests/vm/ulogd.c). Other settings: see vm.sh.
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

# Same rule as runner.sh: "# timeout: N" in the test, else 300 s.
limit=600   # boot under TCG with the debug kernel, plus slack
for n in "${names[@]}"; do
	t=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$tdir/$n.sh" | head -1)
	limit=$((limit + ${t:-${DMR_TEST_TIMEOUT:-300}} + 30))
done
limit=${DMR_TIMEOUT:-$limit}

# The guest gets crashwriter (the write-order test's load and checker):
# the release build, as the crash test ships it. A no-op cargo build takes
# a fraction of a second and leaves the binary, so the cached initramfs
# overlay stays valid.
targetdir=${CARGO_TARGET_DIR:-$DMR_TOP/target}
cargo_log=$(mktemp)
if (cd "$DMR_TOP" && cargo build --release --quiet -p crashwriter) >"$cargo_log" 2>&1; then
	DMR_GUEST_BINS="${DMR_GUEST_BINS:+$DMR_GUEST_BINS }$targetdir/release/crashwriter"
	export DMR_GUEST_BINS
else
	vm_log "cargo build of crashwriter failed; tests that use it will fail:"
	tail -n 20 "$cargo_log" | sed 's/^/  | /' >&2
fi
rm -f "$cargo_log"

# ...and ulogd (tests/vm/ulogd.c, the dm-log-userspace server of
# 34-userspace-log), static so it needs no library in the guest. Rebuilt
# only when the source is newer, like the cargo build above.
ulogd_src=$DMR_TOP/tests/vm/ulogd.c
ulogd_bin=$targetdir/c/ulogd
if [ ! "$ulogd_bin" -nt "$ulogd_src" ]; then
	mkdir -p "$(dirname "$ulogd_bin")"
	if ! gcc -O2 -static -Wall -Wextra -o "$ulogd_bin.tmp" "$ulogd_src" 2>"$targetdir/c/ulogd.log"; then
		vm_log "gcc build of ulogd failed; 34-userspace-log will fail:"
		tail -n 20 "$targetdir/c/ulogd.log" | sed 's/^/  | /' >&2
	else
		mv "$ulogd_bin.tmp" "$ulogd_bin"
	fi
fi
if [ -x "$ulogd_bin" ] && [ "$ulogd_bin" -nt "$ulogd_src" ]; then
	DMR_GUEST_BINS="${DMR_GUEST_BINS:+$DMR_GUEST_BINS }$ulogd_bin"
	export DMR_GUEST_BINS
fi

# The runner's settings reach it as VAR=value words on the kernel command
# line, which the kernel hands to /init as environment.
for v in DMR_TEST_TIMEOUT DMR_KMEMLEAK DMR_XTRACE DMR_VERBOSE; do
	[ -z "${!v:-}" ] || DMR_APPEND="${DMR_APPEND:-} $v=${!v}"
done
export DMR_APPEND

ok=0
vm_boot test "$args" "$limit" || true
out=$VM_LOG/output.log
[ -f "$out" ] || : >"$out"

# What the guest reported.
declare -A seen=()
npass=0 nfail=0
while IFS= read -r line; do
	case $line in
	"ok "*) seen[${line#ok }]=1; npass=$((npass + 1)) ;;
	"FAIL "*:*) n=${line#FAIL }; seen[${n%%:*}]=1; nfail=$((nfail + 1)) ;;
	esac
done <"$out"
closed=$(grep -cE '^[0-9]+ passed, [0-9]+ failed$' "$out" || true)

if [ "$closed" -gt 0 ] && [ ${#seen[@]} -ge ${#names[@]} ]; then
	# The runner finished and its closing line is out; a guest that died
	# after that (during reboot) changes nothing.
	[ "$nfail" = 0 ] && [ "${VM_RC:-0}" = 0 ] && ok=1
	[ -z "${DMR_VERBOSE:-}" ] || vm_log "logs in $VM_LOG"
	[ $ok = 1 ] && exit 0
	exit 1
fi

# The guest died, hung, or the runner broke: fail whatever did not report.
vm_explain_death "$limit"
if [ "$VM_STATUS" = setup ]; then
	why="no guest (setup failed)"
elif [ "$VM_STATUS" = timeout ]; then
	why="guest hung: host timeout after $limit s"
elif [ "$VM_STATUS" = exited ]; then
	why="runner exited with $VM_RC without reporting"
else
	why="guest died"
fi
d=$(vm_death_reason)
[ -z "$d" ] || why="$why: $d"
first=1
for n in "${names[@]}"; do
	[ -z "${seen[$n]:-}" ] || continue
	if [ $first = 1 ]; then
		echo "FAIL $n: $why"
		first=0
	else
		echo "FAIL $n: not run ($why)"
	fi
	nfail=$((nfail + 1))
done
echo "$npass passed, $nfail failed"
exit 1
