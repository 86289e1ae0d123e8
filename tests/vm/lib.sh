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
#                            sha256 of DEV (or a sector range), read with O_DIRECT;
#                            an unreadable DEV fails and prints a unique value
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
#   dm_status NAME           `dmsetup status NAME` (by the static dmstat, faster)
#   status_of NAME           the status line of NAME without "<start> <len> <type> "
#   slink_backlog N          "<S|A>,<ios>,<sectors>" of site link N (replicator "repl")
#   remote_state DEV N       "<health> <in_sync>[+]/<regions>" of DEV's copy on site link N
#   step TEXT                print "== <uptime> TEXT" (where a failed test's
#                            time went)
#   fail MSG                 fail the test with "error: MSG"
#
# Refusals (a table or message the target must refuse, with a reason in the
# kernel log). Each command runs at once and must fail at once (else the
# test fails there, naming it); the kernel log is checked later, for a whole
# run of refusals with one dmesg and one awk (each process start costs
# ~0.5 s under TCG):
#   refuse_table NAME TABLE TEXT
#                            `dmc create NAME --table TABLE` fails
#   refuse_msg NAME TEXT MESSAGE...
#                            `dmc message NAME 0 MESSAGE...` fails
#   refuse_cmd TEXT CMD...   CMD fails (e.g. a dmc reload)
#   expect_refusals          for each refusal recorded since the last check:
#                            the kernel log lines from its mark up to the next
#                            mark contain its TEXT (fixed string; waits up to
#                            $DMR_DMESG_WAIT, 2, s for late lines), and no
#                            device refused by refuse_table exists (one
#                            dmsetup ls). Then forgets them. Call it after
#                            each run of refusals, before anything that
#                            depends on the state they left (a status, a
#                            table), and before the test ends: unchecked
#                            refusals are not checked at all.
#   expect_refused NAME TABLE TEXT
#                            refuse_table, then expect_refusals
#   expect_msg_refused NAME TEXT MESSAGE...
#                            refuse_msg, then expect_refusals
# Each refusal writes a mark as dmesg_mark does, so expect_dmesg after it
# looks at the log since the latest refusal. Call them directly, not in a
# subshell ($(...), a pipeline): they set variables.
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

# A device that cannot be read gives a value no other call gives (and a
# message): two failures never compare equal, whatever the caller does
# with the result of $(sha ...).
sha() {
	local dev=${1:?sha DEV [SECTORS [START]]} sum
	if [ -n "${2:-}" ]; then
		sum=$(dd if="$dev" bs=1M status=none iflag=direct,count_bytes,skip_bytes \
			count=$(($2 * 512)) skip=$((${3:-0} * 512)) | sha256sum)
	else
		sum=$(dd if="$dev" bs=1M status=none iflag=direct | sha256sum)
	fi || {
		echo "sha: cannot read $dev" >&2
		echo "unreadable:$dev:$(cat /proc/sys/kernel/random/uuid)"
		return 1
	}
	echo "${sum%% *}"
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

# dm_status NAME: `dmsetup status NAME`, by the static dmstat where the
# guest has it (a dmsetup start costs ~0.6 s under TCG; polls add up).
dm_status() {
	if [ -x /usr/bin/dmstat ]; then
		/usr/bin/dmstat "${1:?dm_status NAME}"
	else
		dmc status "${1:?dm_status NAME}"
	fi
}

status_of() {
	dm_status "${1:?status_of NAME}" | cut -d' ' -f4-
}

# slink_backlog N [NAME]: "<policy>,<ios>,<size>" of site link N of the
# replicator NAME (default repl).
slink_backlog() {
	dm_status "${2:-repl}" | awk -v n="${1:?slink_backlog N}" '{ for (i = 1; i < NF; i++) if ($i == n && $(i + 1) ~ /^[SMA],/) { print $(i + 1); exit } }'
}

# replicator-dev status: ... <#devs> 0 A - {<slink> <health> <sync>}...
remote_state() {
	dm_status "${1:?remote_state DEV N}" | awk -v n="${2:?remote_state DEV N}" '{ for (i = 8; i < NF; i++) if ($i == n) { print $(i + 1), $(i + 2); exit } }'
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

# Refusals: see the top. A record per refusal in $_dmr_refusals,
# "<mark>\t<text>\t<what>"; the names refuse_table refused in
# $_dmr_refusals.devs, one a line.
_dmr_refusals=$DMR_TMP/dmr-refusals.$$
_dmr_tab='	'
_dmr_nl='
'

# _dmr_refuse DEV TEXT WHAT CMD...
#                            mark the kernel log, record the refusal, run CMD:
#                            it must fail. DEV (if not empty) must not exist
#                            afterwards; WHAT names the refusal in errors.
_dmr_refuse() {
	local dev=$1 text=$2 what=$3
	shift 3
	[ -n "$text" ] || fail "refusal without an expected text: $what"
	case $text$what in
	*"$_dmr_tab"* | *"$_dmr_nl"*) fail "refusal with a tab or newline in its text or command: $what" ;;
	esac
	dmesg_mark
	printf '%s\t%s\t%s\n' "$_dmr_mark" "$text" "$what" >>"$_dmr_refusals" ||
		fail "cannot record a refusal in $_dmr_refusals"
	if [ -n "$dev" ]; then
		echo "$dev" >>"$_dmr_refusals.devs" || fail "cannot record a refusal in $_dmr_refusals.devs"
	fi
	if "$@"; then
		fail "expected to fail: $what"
	fi
	return 0
}

refuse_table() {
	_dmr_refuse "${1:?refuse_table NAME TABLE TEXT}" "${3:?refuse_table NAME TABLE TEXT}" \
		"dmc create $1 --table '$2'" dmc create "$1" --table "$2"
}

refuse_msg() {
	local name=${1:?refuse_msg NAME TEXT MESSAGE...} text=${2:?refuse_msg NAME TEXT MESSAGE...}
	shift 2
	_dmr_refuse "" "$text" "dmc message $name 0 $*" dmc message "$name" 0 "$@"
}

refuse_cmd() {
	local text=${1:?refuse_cmd TEXT CMD...}
	shift
	[ $# -gt 0 ] || fail "refuse_cmd TEXT CMD..."
	_dmr_refuse "" "$text" "$*" "$@"
}

# Over the records, then a copy of the kernel log: exit 0 if each refusal's
# text is on a line after its mark and before the next mark (any
# "dmr-mark-"); else print why the first one that is not fails, then the log
# from its mark (30 lines), and exit 1.
_dmr_refusals_awk='
BEGIN { FS = "\t" }
FNR == NR {
	n++; mark[n] = $1; text[n] = $2; what[n] = $3
	if ($1 in id) dup = $1
	id[$1] = n
	next
}
{ nl++; line[nl] = $0 }
p = index($0, "dmr-mark-") {
	m = substr($0, p); sub(/[ \t\r]+$/, "", m)
	cur = 0
	if (m in id) { cur = id[m]; start[cur] = nl }
	next
}
cur && index($0, text[cur]) { found[cur] = 1 }
END {
	if (dup != "") { print "expect_refusals: mark " dup " recorded twice (a refusal in a subshell?)"; exit 1 }
	for (i = 1; i <= n; i++) {
		if (!(i in start)) why = "its mark " mark[i] " is not in the kernel log"
		else if (!found[i]) why = "no kernel log line after its mark contains \047" text[i] "\047"
		else continue
		print "expect_refusals: " what[i] ": " why
		if (i in start) for (j = start[i]; j <= nl && j < start[i] + 30; j++) print line[j]
		exit 1
	}
}'

expect_refusals() {
	local f=$_dmr_refusals i=0 tries why ls dev
	[ -s "$f" ] || fail "expect_refusals: no refusal recorded since the last check"
	tries=$((${DMR_DMESG_WAIT:-2} * 5))
	# The log is read again only while a text is missing (a late line).
	while :; do
		dmesg >"$f.log" || fail "expect_refusals: dmesg failed"
		if awk "$_dmr_refusals_awk" "$f" "$f.log" >"$f.why"; then
			break
		fi
		i=$((i + 1))
		if [ $i -gt $tries ]; then
			read -r why <"$f.why" || why="expect_refusals: awk failed"
			echo "kernel log from the mark of the first refusal that fails:" >&2
			sed 1d "$f.why" >&2
			fail "$why"
		fi
		sleep 0.2
	done
	# No device left behind: one listing for all of them ("NAME<spaces>\t(...)"
	# lines, or "No devices found").
	if [ -s "$f.devs" ]; then
		ls=$(dmc ls) || fail "expect_refusals: dmsetup ls failed"
		while read -r dev; do
			case $_dmr_nl$ls in
			*"$_dmr_nl$dev "* | *"$_dmr_nl$dev$_dmr_tab"*) fail "device $dev left behind after a refused table" ;;
			esac
		done <"$f.devs"
	fi
	: >"$f"
	: >"$f.devs"
}

expect_refused() {
	refuse_table "$@"
	expect_refusals
}

expect_msg_refused() {
	refuse_msg "$@"
	expect_refusals
}
