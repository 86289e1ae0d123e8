# Helpers for two-site tests (busybox ash), run in the PRIMARY guest by
# scripts/vm-pair.sh. Source with:  . /tests/lib.sh
# shellcheck shell=sh
#
# Everything of tests/vm/lib.sh (dmc, sha, rand_write, fail, assert_eq,
# dmesg_mark, expect_dmesg...), and:
#
#   dr_start                 boot the DR guest unless it runs; return once its
#                            nbd-server listens (the host boots it; the first
#                            boot starts together with the primary's)
#   dr_kill                  SIGKILL the DR guest's QEMU (its disk image stays)
#   dr_sha SECTORS START [DISK]
#                            sha256 of the DR's disk image DISK (0; the host
#                            file), SECTORS 512-byte sectors from START
#   dr_disks                 how many disks the DR exports (a test that needs
#                            N says "# dr-disks: N" in its header)
#   dr_export DISK           the NBD export name of DR disk DISK: dr, dr1, dr2..
#   dr_order_check DISK BLOCKS SEED LOG [AT_LEAST]
#                            crashwriter order-check, run by the host on the
#                            DR's disk image DISK against the write-order log
#                            LOG (copied to the share); prints its verdict
#                            line, fails the test if the image is not the
#                            state after a prefix of the logged writes (after
#                            at least write AT_LEAST)
#   dr_run SCRIPT            run the shell script SCRIPT (text, sh -e) in the
#                            DR guest (needs "# dr-agent: 1" in the test's
#                            header); prints its output, returns its status
#   primary_export NAME=DEV...
#                            serve devices of this guest with nbd-server on
#                            $PAIR_PRIMARY:10809, export NAME for DEV (an
#                            nbd-server of this guest goes first)
#   primary_unexport         stop this guest's nbd-server
#   nbd_attach [DEV [DISK]]  import DR disk DISK (0) as DEV (/dev/nbd0) with
#                            nbd-client (netlink mode, I/O timeout
#                            $NBD_TIMEOUT = 10 s, 4 KiB blocks)
#   nbd_watch [DEV [DISK]]   run `nbd-reconnect -w` for DEV in the background:
#                            whenever the kernel declares DEV's connection
#                            dead, it reconnects DEV to the DR (retrying every
#                            second) without anyone closing DEV
#   nbd_reconnect [DEV [DISK]]
#                            one reconnection attempt now; fails unless the
#                            kernel took the new connection
#   nbd_detach [DEV]         stop the watcher, disconnect DEV
#   flush_dev DEV            fsync DEV: a flush request down to the DR's disk
#   netem_set ARGS...        tc netem on the link to the DR (egress of the
#                            primary), e.g. netem_set delay 20ms loss 1%
#   netem_clear              remove it
#   step TEXT                print "== <uptime> TEXT" (progress in the output)
#   say TEXT                 print TEXT, and show it on the host at once
#                            (unless $PAIR_SAY_QUIET is set: then only print)
#   try_io SECS CMD...       run CMD with a deadline: status 0/1 as CMD's,
#                            124 if it still runs after SECS (then left running)
#
# Addresses: primary 169.254.77.1/16, DR 169.254.77.2/16 on eth0; the DR's
# nbd-server listens on port 10809 with an export per disk: "dr" (its
# /dev/vda), "dr1" (/dev/vdb)...
# The host answers dr_* requests through a 9p share mounted on /mnt/pair.

. /tests/vm/lib.sh

PAIR_PRIMARY=169.254.77.1
PAIR_DR=169.254.77.2
PAIR_PORT=10809
NBD_TIMEOUT=${NBD_TIMEOUT:-10}
# How long a request to the host may take (a DR boot under TCG: 30-60 s).
PAIR_WAIT=${PAIR_WAIT:-300}

# Network and share, once per boot.
if [ ! -e /tmp/pair.up ]; then
	ip link set lo up
	ip link set eth0 up
	ip addr add $PAIR_PRIMARY/16 dev eth0
	mkdir -p /mnt/pair
	mount -t 9p -o trans=virtio,version=9p2000.L,cache=none pair /mnt/pair ||
		fail "cannot mount the host's 9p share"
	: >/tmp/pair.up
fi

# pair_req WORDS...: ask the host (a marker line on the job's serial port,
# seen by vm-pair.sh), wait for its answer file on the share, print the
# answer's data; fail unless it starts with "ok".
pair_req() {
	local id i=0 ans
	id=$(cut -c1-8 /proc/sys/kernel/random/uuid)
	echo "DMR-PAIR: $id $*" >/dev/ttyS1
	while [ ! -f /mnt/pair/$id ]; do
		i=$((i + 1))
		[ $i -le $((PAIR_WAIT * 5)) ] || fail "host did not answer '$*' within $PAIR_WAIT s"
		sleep 0.2
	done
	ans=$(cat /mnt/pair/$id)
	case $ans in
	ok*) echo "${ans#ok}" | sed 's/^ //' ;;
	*) fail "host: $* -> $ans" ;;
	esac
}

dr_start() { pair_req start-dr >/dev/null; }
dr_kill() { pair_req kill-dr >/dev/null; }
dr_sha() { pair_req dr-sha "${1:?dr_sha SECTORS START [DISK]}" "${2:-0}" "${3:-0}"; }
dr_disks() { pair_req dr-disks; }

dr_run() {
	local id i=0 rc
	id=$(cut -c1-8 /proc/sys/kernel/random/uuid)
	[ -d /mnt/pair/dr-cmd ] || fail "dr_run: no agent in the DR guest (test header: # dr-agent: 1)"
	printf 'export PATH=/usr/sbin:/usr/bin DM_DISABLE_UDEV=1\n%s\n' "${1:?dr_run SCRIPT}" >/mnt/pair/dr-cmd/$id.tmp
	mv /mnt/pair/dr-cmd/$id.tmp /mnt/pair/dr-cmd/$id.sh
	while [ ! -f /mnt/pair/dr-cmd/$id.rc ]; do
		i=$((i + 1))
		[ $i -le $((PAIR_WAIT * 5)) ] || fail "the DR did not run its script within $PAIR_WAIT s: $1"
		sleep 0.2
	done
	rc=$(cat /mnt/pair/dr-cmd/$id.rc)
	sed 's/^/  dr| /' /mnt/pair/dr-cmd/$id.out
	return "$rc"
}

primary_export() {
	local i=0 x
	primary_unexport
	mkdir -p /var/run /tmp/nbd-primary
	printf '[generic]\n\tuser = root\n\tgroup = root\n\tlistenaddr = %s\n' $PAIR_PRIMARY >/tmp/nbd-primary/config
	for x in "$@"; do
		printf '[%s]\n\texportname = %s\n\tflush = true\n\tfua = true\n' "${x%%=*}" "${x#*=}" >>/tmp/nbd-primary/config
	done
	nbd-server -C /tmp/nbd-primary/config || fail "nbd-server on this guest"
	until netstat -ltn 2>/dev/null | grep -q ':10809 '; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "this guest's nbd-server does not listen"
		sleep 0.1
	done
}

primary_unexport() {
	local i=0 p
	for p in $(pidof nbd-server); do kill "$p" 2>/dev/null || true; done
	while netstat -ltn 2>/dev/null | grep -q ':10809 '; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "this guest's nbd-server does not go away"
		sleep 0.1
	done
}

dr_export() {
	if [ "${1:-0}" = 0 ]; then echo dr; else echo "dr$1"; fi
}

dr_order_check() {
	local disk=${1:?dr_order_check DISK BLOCKS SEED LOG [AT_LEAST]} blocks=${2:?} seed=${3:?} log=${4:?}
	cp "$log" /mnt/pair/order.log.tmp || fail "dr_order_check: cannot copy $log to the share"
	mv /mnt/pair/order.log.tmp /mnt/pair/order.log
	pair_req dr-order-check "$disk" "$blocks" "$seed" ${5:+"$5"}
}

nbd_attach() {
	local dev=${1:-/dev/nbd0}
	/usr/bin/nbd-client $PAIR_DR $PAIR_PORT "$dev" -N "$(dr_export "${2:-0}")" -t "$NBD_TIMEOUT" -b ${NBD_BS:-4096} ||
		fail "nbd-client could not attach $dev"
}

nbd_watch() {
	local dev=${1:-/dev/nbd0} n
	n=$(basename "$dev")
	nbd-reconnect -w $PAIR_DR $PAIR_PORT "$(dr_export "${2:-0}")" "$dev" 2>/tmp/reconnect-$n.log &
	echo $! >/tmp/reconnect-$n.pid
}

nbd_reconnect() {
	local dev=${1:-/dev/nbd0}
	dmesg_mark
	nbd-reconnect $PAIR_DR $PAIR_PORT "$(dr_export "${2:-0}")" "$dev" || fail "nbd-reconnect $dev failed"
	expect_dmesg "$(basename "$dev"): reconnected socket"
}

nbd_detach() {
	local dev=${1:-/dev/nbd0} n
	n=$(basename "$dev")
	if [ -f /tmp/reconnect-$n.pid ]; then
		kill "$(cat /tmp/reconnect-$n.pid)" 2>/dev/null || true
		rm -f /tmp/reconnect-$n.pid
	fi
	/usr/bin/nbd-client -d "$dev" >/dev/null || fail "nbd-client -d $dev failed"
}

flush_dev() {
	dd if=/dev/null of="${1:?flush_dev DEV}" conv=fsync,notrunc status=none
}

netem_set() { /usr/bin/tc qdisc replace dev eth0 root netem "$@"; }
netem_clear() { /usr/bin/tc qdisc del dev eth0 root 2>/dev/null || true; }

step() { echo "== $(cut -d' ' -f1 /proc/uptime) $*"; }
say() {
	echo "$*"
	[ -n "${PAIR_SAY_QUIET:-}" ] || echo "$*" | sed 's/^/DMR-SAY: /' >/dev/ttyS1
}

try_io() {
	local secs=$1 i=0 pid
	shift
	rm -f /tmp/try_io.rc
	(
		rc=0
		"$@" || rc=$?
		echo $rc >/tmp/try_io.rc
	) &
	pid=$!
	while [ ! -f /tmp/try_io.rc ]; do
		i=$((i + 1))
		[ $i -le $((secs * 5)) ] || return 124
		sleep 0.2
	done
	wait $pid
	return "$(cat /tmp/try_io.rc)"
}
