# Helpers for VM tests (busybox ash). Source with:  . /tests/lib.sh
# shellcheck shell=sh
#
#   dmc ARGS...              dmsetup --noudevsync ARGS (there is no udev)
#   ramdev N                 zero brd disk /dev/ramN (N = 0..3, 64 MiB), print its path
#   loopdev SIZE_MB          new zeroed loop device on tmpfs, print its path
#   sectors DEV              size of DEV in 512-byte sectors
#   rand_write DEV SECTORS [START]
#                            write random data with O_DIRECT, print its sha256
#   scribble DEV SECTORS START
#                            write random data with O_DIRECT, one process, no
#                            checksum (a cheaper load)
#   sha DEV [SECTORS [START]]
#                            sha256 of DEV (or a sector range), read with O_DIRECT
#   expect_fail CMD...       CMD must fail (its output is shown)
#   dmesg_mark               remember "now" in the kernel log (call it directly,
#                            not inside $(...): it sets a variable)
#   expect_dmesg TEXT [SECS] the kernel log since the mark (or since the test
#                            began) has a line containing TEXT (fixed string);
#                            waits up to SECS (default $DMR_DMESG_WAIT, 2) s
#   assert_eq A B WHAT       A and B must be equal strings
#   wait_eq WANT WHAT CMD... run CMD until it prints WANT; fail after
#                            $DMR_WAIT (60) s with what it printed last
#   lower NAME TABLE         swap NAME's table under its users (suspend
#                            --noflush, load, resume), as lvm2's tests do
#   status_of NAME           the status line of NAME without "<start> <len> <type> "
#   slink_backlog N          "<S|A>,<ios>,<sectors>" of site link N (replicator "repl")
#   remote_state DEV N       "<health> <in_sync>[+]/<regions>" of DEV's copy on site link N
#   step TEXT                print "== <uptime> TEXT" (where a failed test's
#                            time went)
#   fail MSG                 fail the test with "error: MSG"
#
# The runner runs each test with `sh -e -x` in $DMR_TMP (a fresh directory on
# tmpfs); pipefail is on too. Remember that -e is off inside `if`, `&&`,
# `||`, `!` and in functions called from them.

export DM_DISABLE_UDEV=1
# dd, losetup, blockdev: the real tools, not busybox's applets.
. /usr/lib/dmr/tools.sh
set -o pipefail 2>/dev/null || true
DMR_TMP=${DMR_TMP:-/tmp}

fail() {
	echo "error: $*" >&2
	exit 1
}

step() { echo "== $(cut -d' ' -f1 /proc/uptime) $*"; }

dmc() {
	dmsetup --noudevsync "$@"
}

sectors() {
	blockdev --getsz "$1"
}

ramdev() {
	local d=/dev/ram${1:?ramdev N}
	[ -b "$d" ] || fail "ramdev: no $d (brd has /dev/ram0../dev/ram3)"
	# Discard frees brd's pages (so they read as zeros) and drops the page
	# cache; fall back to writing zeros.
	if ! blkdiscard "$d" 2>/dev/null; then
		dd if=/dev/zero of="$d" bs=1M count="$(($(sectors "$d") / 2048))" oflag=direct status=none ||
			fail "ramdev: cannot zero $d"
	fi
	echo "$d"
}

loopdev() {
	local f
	f=$(mktemp "$DMR_TMP/loop.XXXXXX") || fail "loopdev: mktemp"
	truncate -s "${1:?loopdev SIZE_MB}M" "$f" || fail "loopdev: truncate"
	losetup --find --show "$f" || fail "loopdev: losetup"
}

sha() {
	local dev=${1:?sha DEV [SECTORS [START]]}
	if [ -n "${2:-}" ]; then
		dd if="$dev" bs=1M status=none iflag=direct,count_bytes,skip_bytes \
			count=$(($2 * 512)) skip=$((${3:-0} * 512)) | sha256sum | cut -d' ' -f1
	else
		dd if="$dev" bs=1M status=none iflag=direct | sha256sum | cut -d' ' -f1
	fi
}

scribble() {
	dd if=/dev/urandom of="${1:?scribble DEV SECTORS START}" bs=$((${2:?} * 512)) count=1 status=none \
		iflag=fullblock oflag=direct,seek_bytes seek=$((${3:?} * 512)) conv=notrunc ||
		fail "scribble: writing $1"
}

rand_write() {
	local dev=${1:?rand_write DEV SECTORS [START]} n=${2:?rand_write DEV SECTORS [START]} f
	f=$(mktemp "$DMR_TMP/rand.XXXXXX")
	dd if=/dev/urandom of="$f" bs=1M status=none iflag=count_bytes count=$((n * 512)) ||
		fail "rand_write: urandom"
	dd if="$f" of="$dev" bs=1M status=none oflag=direct,seek_bytes seek=$((${3:-0} * 512)) conv=notrunc ||
		fail "rand_write: writing $dev"
	sha256sum "$f" | cut -d' ' -f1
	rm -f "$f"
}

expect_fail() {
	if "$@"; then
		fail "expected to fail: $*"
	fi
	return 0
}

_dmr_marks=0
_dmr_mark=
dmesg_mark() {
	_dmr_marks=$((_dmr_marks + 1))
	_dmr_mark="dmr-mark-$$-$_dmr_marks"
	echo "$_dmr_mark" >/dev/kmsg
}

_dmesg_since_mark() {
	if [ -n "$_dmr_mark" ]; then
		dmesg | awk -v m="$_dmr_mark" 'seen { print } index($0, m) { seen = 1 }'
	else
		dmesg
	fi
}

expect_dmesg() {
	local text=${1:?expect_dmesg TEXT [SECS]} i=0 tries
	tries=$((${2:-${DMR_DMESG_WAIT:-2}} * 5))
	while ! _dmesg_has "$text"; do
		i=$((i + 1))
		if [ $i -gt $tries ]; then
			echo "kernel log since the mark:" >&2
			_dmesg_since_mark | tail -n 30 >&2
			fail "expect_dmesg: no line contains '$text'"
		fi
		sleep 0.2
	done
}
# Not grep -q: with pipefail, an early exit would SIGPIPE the writer.
_dmesg_has() { _dmesg_since_mark | grep -F -- "$1" >/dev/null; }

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-assert_eq}: '$1' != '$2'"
}

wait_eq() {
	local want=$1 what=$2 got i=0
	shift 2
	while got=$("$@"); [ "$got" != "$want" ]; do
		i=$((i + 1))
		[ $i -lt $((${DMR_WAIT:-60} * 10)) ] || fail "$what: '$got' != '$want' after ${DMR_WAIT:-60} s"
		sleep 0.1
	done
}

lower() {
	dmc suspend --noflush "${1:?lower NAME TABLE}"
	dmc load "$1" --table "${2:?lower NAME TABLE}"
	dmc resume "$1"
}

status_of() {
	dmc status "${1:?status_of NAME}" | cut -d' ' -f4-
}

slink_backlog() {
	dmc status repl | awk -v n="${1:?slink_backlog N}" '{ for (i = 1; i < NF; i++) if ($i == n && $(i + 1) ~ /^[SA],/) { print $(i + 1); exit } }'
}

# replicator-dev status: ... <#devs> 0 A - {<slink> <health> <sync>}...
remote_state() {
	dmc status "${1:?remote_state DEV N}" | awk -v n="${2:?remote_state DEV N}" '{ for (i = 8; i < NF; i++) if ($i == n) { print $(i + 1), $(i + 2); exit } }'
}

# devno NAME                 major:minor of dm device NAME (as tables print it)
devno() {
	dmc info -c --noheadings -o major,minor --separator : "${1:?devno NAME}" | tr -d ' '
}

# bdevno PATH               major:minor of block device PATH
bdevno() {
	cat "/sys/class/block/$(basename "$(readlink -f "${1:?bdevno PATH}")")/dev"
}

# table_of NAME              the table line of NAME without "<start> <len> <type> "
table_of() {
	dmc table "${1:?table_of NAME}" | cut -d' ' -f4-
}

# expect_refused NAME TABLE TEXT
#                            creating NAME with TABLE fails, the kernel log
#                            gives TEXT, and no device NAME is left behind
expect_refused() {
	dmesg_mark
	expect_fail dmc create "$1" --table "$2"
	expect_dmesg "$3"
	if dmc info "$1" >/dev/null 2>&1; then
		fail "device $1 left behind after a refused table"
	fi
}

# expect_msg_refused NAME TEXT MESSAGE...
#                            the message fails and the kernel log gives TEXT
expect_msg_refused() {
	local name=$1 text=$2
	shift 2
	dmesg_mark
	expect_fail dmc message "$name" 0 "$@"
	expect_dmesg "$text"
}
