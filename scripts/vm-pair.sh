#!/usr/bin/env bash
# Two-site tests: a PRIMARY guest runs tests/pair/[0-9]*.sh (with
# tests/vm/runner.sh, so the output is the VM suite's: "ok NAME" or
# "FAIL NAME: reason" per test, then "N passed, N failed"), and a DR guest
# exports its disk to it over NBD.
#
#   scripts/vm-pair.sh [NAME...]
#
# The guests share a private Ethernet: QEMU's stream netdev over a unix
# socket (the primary's QEMU listens, the DR's connects; a restarted DR
# connects again), never the host's network. Primary 169.254.77.1/16, DR
# 169.254.77.2/16. The DR's disks /dev/vda, /dev/vdb... are 64 MiB host
# files (cache=writeback), so their contents outlive the DR guest;
# tests/pair/dr.sh exports them with nbd-server as "dr", "dr1", "dr2"...
# The number of disks is the largest "# dr-disks: N" header (1 to 4) of
# the selected tests, 1 without one; DMR_PAIR_DR_DISKS overrides it. The
# DR boots together with the primary, and again when a test asks.
#
# A test talks to this script with marker lines on the job's serial port
# ("DMR-PAIR: ID REQUEST...", see tests/pair/lib.sh: dr_start, dr_kill,
# dr_sha, dr_disks, dr_order_check); the answer goes to the file ID on a
# 9p share the primary mounts on /mnt/pair. The requests and answers are
# logged in host.log of the run directory (~/.cache/dm-replicator/logs/
# pair-*, the 5 latest runs), with each guest boot's logs below it.
#
# Guest tools: nbd-client, tc (iproute2), nbd-reconnect (built here from
# tools/nbd-reconnect/nbd-reconnect.c) and crashwriter (cargo, release; the host
# runs it too, for dr_order_check) in the primary, nbd-server in the DR. Both
# guests boot with kmemleak=off and without the initcalls they do not need.
# The primary loads dm_replicator.ko for each test (DMR_MODULE as in
# vm.sh). The DR loads it only when a selected test says "# dr-agent: 1"
# in its header: then the DR also mounts the share and runs the scripts
# the primary puts there (tests/pair/lib.sh: dr_run), with dmsetup,
# nbd-client, replog and the module, so that it can be a primary site
# too. Other settings: see vm.sh.
set -euo pipefail
. "$(dirname "$0")/vm.sh"

tdir=$DMR_TOP/tests/pair
names=()
if [ $# = 0 ]; then
	while IFS= read -r f; do names+=("$(basename "$f" .sh)"); done < <(
		find "$tdir" -maxdepth 1 -name '[0-9]*.sh' | LC_ALL=C sort)
	args=
else
	for a in "$@"; do
		n=$(basename "$a" .sh)
		[ -f "$tdir/$n.sh" ] || { echo "vm-pair.sh: no test $tdir/$n.sh" >&2; exit 2; }
		names+=("$n")
	done
	args=$(IFS=,; echo "${names[*]}")
fi
limit=300 # both boots under TCG, slack
ndisks=1
agent=0
for n in "${names[@]}"; do
	! grep -q '^# dr-agent: *1' "$tdir/$n.sh" || agent=1
	t=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$tdir/$n.sh" | head -1)
	limit=$((limit + ${t:-300} + 30))
	d=$(sed -n 's/^# dr-disks: *\([0-9][0-9]*\).*/\1/p' "$tdir/$n.sh" | head -1)
	[ "${d:-1}" -le "$ndisks" ] || ndisks=$d
done
limit=${DMR_TIMEOUT:-$limit}
ndisks=${DMR_PAIR_DR_DISKS:-$ndisks}
# The primary has /dev/nbd0../dev/nbd3 (vm.sh: nbd.nbds_max=4).
[[ $ndisks =~ ^[1-4]$ ]] || { echo "vm-pair.sh: DR disks: '$ndisks' is not 1 to 4" >&2; exit 2; }

logbase=${DMR_LOGDIR:-$DMR_CACHE/logs}
mkdir -p "$logbase"
run=$(mktemp -d "$logbase/pair-$(date +%Y%m%d-%H%M%S).XXXX")
ls -dt "$logbase"/pair-* 2>/dev/null | tail -n +6 | xargs -r rm -rf
share=$run/share
mkdir "$share"
# The socket path must stay short (108 bytes); the image is scratch.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmr-pair.XXXXXX")
sock=$tmp/net.sock
# DR disk k is imgs[k]; disk 0 ($img) also identifies the DR's QEMU.
img=$tmp/dr.img
imgs=("$img")
for ((k = 1; k < ndisks; k++)); do imgs+=("$tmp/dr$k.img"); done
for f in "${imgs[@]}"; do truncate -s 64M "$f"; done
echo 0 >"$run/dr.boots"

# --- the DR guest ---------------------------------------------------------
# All DR state is in files: requests are served in subshells.
dr_running() {
	local p
	p=$(cat "$run/dr.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null
}

# The current DR boot's QEMU pid, if that QEMU is ours and alive.
dr_qemu_pid() {
	local n pid
	n=$(cat "$run/dr.boots")
	pid=$(cat "$run/dr-$n/latest/qemu.pid" 2>/dev/null) || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$img" || return 1
	echo "$pid"
}

dr_line() {
	[ "$1" != "DMR-PAIR: dr-ready" ] || touch "$run/dr.ready"
	return 0
}

# Boot the DR in the background (after the primary's QEMU listens).
dr_launch() {
	local n
	n=$(($(cat "$run/dr.boots") + 1))
	echo "$n" >"$run/dr.boots"
	rm -f "$run/dr.ready"
	(
		set +e
		for ((i = 0; i < 600; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
		export DMR_KERNEL=$dr_kernel DMR_LOGDIR=$run/dr-$n DMR_GUEST_BINS=/usr/bin/nbd-server DMR_MODULE=none DMR_TESTS_DIR=$tdir
		export DMR_APPEND="kmemleak=off initcall_blacklist=nbd_init,drbd_init,brd_init $user_append"
		VM_QEMU_EXTRA=()
		extra=()
		if [ $agent = 1 ]; then
			unset DMR_MODULE
			DMR_GUEST_BINS="/usr/bin/nbd-server /usr/sbin/nbd-client $targetdir/release/replog"
			DMR_APPEND="kmemleak=off initcall_blacklist=drbd_init,brd_init DMR_DR_AGENT=1 $user_append"
			VM_QEMU_EXTRA+=(-virtfs "local,path=$share,mount_tag=pair,security_model=none")
			extra=("$DMR_TOP/tests/vm/lib.sh=/tests/vm/lib.sh")
		fi
		for f in "${imgs[@]}"; do
			VM_QEMU_EXTRA+=(-drive "file=$f,if=virtio,format=raw,cache=writeback")
		done
		VM_QEMU_EXTRA+=(-netdev "stream,id=pair,server=off,addr.type=unix,addr.path=$sock"
			-device virtio-net-pci,netdev=pair,mac=52:54:00:77:00:02)
		VM_LINE_HOOK=dr_line
		vm_boot run /tests/dr.sh "$((limit + 60))" "${extra[@]}" || true
		[ ! -f "$run/dr-$n.killed" ] || VM_STATUS=killed
		echo "DR boot $n: $VM_STATUS after $VM_SECS s (/init at ${VM_UP:-?} s)" >>"$run/host.log"
	) </dev/null >"$run/dr-$n.out" 2>&1 &
	echo $! >"$run/dr.pid"
}

# Answers for the requests (one line: "ok [DATA]" or "fail REASON").
dr_wait_ready() {
	local i
	for ((i = 0; i < 3000; i++)); do
		[ ! -f "$run/dr.ready" ] || { echo ok; return; }
		dr_running || { echo "fail DR guest ended before it was ready (see $run/dr-*.out)"; return; }
		sleep 0.1
	done
	echo "fail DR guest not ready after 300 s"
}

dr_kill() {
	local pid i
	dr_running || { echo "fail DR guest is not running"; return; }
	pid=$(dr_qemu_pid) || { echo "fail no QEMU of the DR guest found"; return; }
	touch "$run/dr-$(cat "$run/dr.boots").killed"
	kill -KILL "$pid"
	for ((i = 0; i < 300; i++)); do
		dr_running || { echo ok; return; }
		sleep 0.1
	done
	echo "fail DR guest still there 30 s after SIGKILL"
}

# dr_image DISK: the image file of DR disk DISK, or a fail answer.
dr_image() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -lt "${#imgs[@]}" ] || { echo "fail the DR has no disk $1 (it has ${#imgs[@]})"; return 1; }
	echo "${imgs[$1]}"
}

# What is in the image file: QEMU's writes (cache=writeback) are in the
# host's page cache, which a killed QEMU does not take along; what the DR
# guest had not written out of its own page cache is not there.
dr_sha() {
	local f
	[[ ($# = 2 || $# = 3) && $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] || { echo "fail usage: dr-sha SECTORS START [DISK]"; return; }
	f=$(dr_image "${3:-0}") || { echo "$f"; return; }
	echo "ok $(dd if="$f" bs=512 count="$1" skip="$2" status=none | sha256sum | cut -c1-64)"
}

# dr-order-check DISK BLOCKS SEED [AT_LEAST]: crashwriter order-check of
# the image file against the write-order log the primary put on the share
# (order.log); one line of its output (all of it on failure, joined).
dr_order_check() {
	local f out rc=0 least=()
	[[ ($# = 3 || $# = 4) && $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] || { echo "fail usage: dr-order-check DISK BLOCKS SEED [AT_LEAST]"; return; }
	f=$(dr_image "$1") || { echo "$f"; return; }
	[ -f "$share/order.log" ] || { echo "fail no order.log on the share"; return; }
	[ $# = 3 ] || least=(--at-least "$4")
	out=$("$cw" order-check --dev "$f" --blocks "$2" --seed "$3" --log "$share/order.log" --buffered "${least[@]}" 2>&1) || rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $out"
	else
		echo "fail order-check (status $rc): $(echo "$out" | tr '\n' ';' | cut -c1-2000)"
	fi
}

# --- requests from the primary ------------------------------------------
pair_answer() {
	local id=$1 cmd=$2 ans
	shift 2
	echo "$(date +%T.%N | cut -c1-12) request $id: $cmd $*"
	case $cmd in
	start-dr)
		dr_running || dr_launch
		ans=$(dr_wait_ready) ;;
	kill-dr) ans=$(dr_kill) ;;
	dr-sha) ans=$(dr_sha "$@") ;;
	dr-disks) ans="ok ${#imgs[@]}" ;;
	dr-order-check) ans=$(dr_order_check "$@") ;;
	*) ans="fail unknown request: $cmd" ;;
	esac
	echo "$(date +%T.%N | cut -c1-12) answer $id: $ans"
	echo "$ans" >"$share/$id.tmp"
	mv "$share/$id.tmp" "$share/$id"
}

# VM_LINE_HOOK of the primary: serve each request in the background, so
# the primary's output keeps flowing.
# "DMR-SAY: TEXT" lines (tests/pair/lib.sh: say) are shown at once.
pair_line() {
	local re='^DMR-PAIR: ([0-9a-f]{8}) ([a-z-]+)( [0-9 ]*)?$'
	vm_wd_line "$1"
	if [[ $1 == "DMR-SAY: "* ]]; then
		printf '%s\n' "${1#DMR-SAY: }" >&2
		return 0
	fi
	[[ $1 =~ $re ]] || return 0
	# shellcheck disable=SC2086 # the numbers are separate arguments
	pair_answer "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" ${BASH_REMATCH[3]} </dev/null >>"$run/host.log" 2>&1 &
	return 0
}

cleanup() {
	local pid
	if pid=$(dr_qemu_pid); then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- setup --------------------------------------------------------------
user_append=${DMR_APPEND:-}
export DMR_INITRD_RAW=1
if ! DMR_KERNEL=$(vm_kernel) || [ ! -f "$DMR_KERNEL" ]; then
	echo "FAIL ${names[0]}: no guest kernel"
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi
export DMR_KERNEL
dr_kernel=$DMR_KERNEL
if [ -n "${DMR_PAIR_DR_FLAVOUR:-}" ] && ! dr_kernel=$(DMR_KERNEL='' DMR_FLAVOUR=$DMR_PAIR_DR_FLAVOUR vm_kernel); then
	echo "FAIL ${names[0]}: no $DMR_PAIR_DR_FLAVOUR kernel for the DR"
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi
reconnect=$DMR_CACHE/pair/nbd-reconnect
reconnect_src=$DMR_TOP/tools/nbd-reconnect/nbd-reconnect.c
if [ ! -x "$reconnect" ] || [ "$reconnect_src" -nt "$reconnect" ]; then
	mkdir -p "$(dirname "$reconnect")"
	if ! gcc -O2 -Wall -o "$reconnect" "$reconnect_src" 2>"$run/gcc.log"; then
		echo "FAIL ${names[0]}: cannot build nbd-reconnect"
		sed 's/^/    /' "$run/gcc.log"
		echo "0 passed, ${#names[@]} failed"
		exit 1
	fi
fi

# crashwriter: the write-order load in the primary, its checker on the
# host; replog: failback in the primary, and in the DR agent.
targetdir=${CARGO_TARGET_DIR:-$DMR_TOP/target}
cw=$targetdir/release/crashwriter
if ! (cd "$DMR_TOP" && cargo build --release --quiet -p crashwriter -p replog) >"$run/cargo.log" 2>&1; then
	echo "FAIL ${names[0]}: cargo build of crashwriter or replog failed"
	tail -n 20 "$run/cargo.log" | sed 's/^/    /'
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi

# --- run ----------------------------------------------------------------
t_start=$(date +%s)
dr_launch
export DMR_LOGDIR=$run/primary DMR_GUEST_BINS="/usr/sbin/nbd-client /usr/bin/nbd-server /usr/sbin/tc $reconnect $cw $targetdir/release/replog" DMR_TESTS_DIR=$tdir
vm_guest_tool dmstat
export DMR_APPEND="kmemleak=off initcall_blacklist=drbd_init DMR_KMEMLEAK=0 $user_append"
for v in DMR_TEST_TIMEOUT DMR_XTRACE DMR_VERBOSE; do
	[ -z "${!v:-}" ] || DMR_APPEND+=" $v=${!v}"
done
VM_QEMU_EXTRA=(-netdev "stream,id=pair,server=on,addr.type=unix,addr.path=$sock"
	-device virtio-net-pci,netdev=pair,mac=52:54:00:77:00:01
	-virtfs "local,path=$share,mount_tag=pair,security_model=none")
VM_LINE_HOOK=pair_line
tc_dist=/usr/lib/x86_64-linux-gnu/tc
# The host's watchdog (vm.sh): a hung test costs its timeout plus slack;
# the tests after it run in a new primary guest (and a new DR).
vm_wd_start
pboots=0
VM_TODO=("${names[@]}")
while [ ${#VM_TODO[@]} -gt 0 ]; do
	pboots=$((pboots + 1))
	[ $pboots = 1 ] || args=$(IFS=,; echo "${VM_TODO[*]}")
	vm_wd_arm
	vm_boot test "$args" "$limit" "$DMR_TOP/tests/vm/lib.sh=/tests/vm/lib.sh" \
		"$DMR_TOP/tests/vm/runner.sh=/tests/runner.sh" \
		"$tc_dist/normal.dist=$tc_dist/normal.dist" "$tc_dist/pareto.dist=$tc_dist/pareto.dist" >/dev/null || true
	vm_wd_disarm
	if dr_running; then dr_kill >/dev/null; fi
	out=$VM_LOG/output.log
	[ -f "$out" ] || : >"$out"

	# What the primary reported, without the requests and its closing line.
	grep -vE '^DMR-(PAIR|SAY|TEST): |^[0-9]+ passed, [0-9]+ failed$' "$out" || true
	vm_console_splats "$VM_LOG/console.log" "$out" "$tdir"
	vm_tally "$out"
	[ ${#VM_TODO[@]} = 0 ] || vm_blame "$out" "$limit" primary || break
done
echo "# pair run: $(cat "$run/dr.boots") DR boot(s) with $ndisks disk(s), $(($(date +%s) - t_start)) s; logs in $run"
echo "$VM_PASS passed, $VM_FAIL failed"
[ "$VM_FAIL" = 0 ]
