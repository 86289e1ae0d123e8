#!/bin/sh
# Crash test, guest side: one boot of scripts/crash-test.sh (busybox ash).
#
# The host kills QEMU while the load runs, so every boot but the last ends
# in a crash. Each boot: check the log device (replicator), activate the
# tables (which replays the log), verify the previous round's acknowledged
# writes, then start a new load and wait to be killed. The last boot
# instead removes the devices cleanly and verifies the local devices and
# the log once more. With the replicator, the group is described in
# /etc/dm-replicator/groups.conf and brought up and down as the systemd
# unit does at boot and shutdown (`replog config up|down`,
# Documentation/assembly.rst): boot-time assembly after every crash.
#
# /extra/crash.conf (from the host) sets:
#   ROUND      this boot's number (0 = first, formats)
#   PHASE      first | middle | last
#   TARGET     replicator | linear
#   SEED START_SEQ BLOCKS THREADS   the load's settings
# /extra/acks holds the acknowledged writes of all earlier rounds.
#
# Lines for the host: "crash: ..." notes, "crash-verified: SUMMARY",
# "crash-done: SUMMARY", "crash-fail: REASON" (details follow, indented),
# crashwriter's "violation: ..." and "verify: ..." lines, then its
# "crashwriter: started" and A/F lines.

. /tests/lib.sh
. /extra/crash.conf

# --- devices and tables (the harness's knobs) ---------------------------
LOG=/dev/vda
DATA0=/dev/vdb
DATA1=/dev/vdc
LOG_SECTORS=8192     # 4 MiB of the log device: the ring wraps during a load
DEV_SECTORS=65536    # the whole 32 MiB data devices
REPL_TABLE="0 1 replicator ringbuffer 4 $LOG 0 auto $LOG_SECTORS blockdev 2 0 synchronous"
# The same group for the boot unit (scripts/systemd/dm-replicator.service).
CONF=/etc/dm-replicator/groups.conf
mkdir -p /etc/dm-replicator
cat >$CONF <<EOF
group repl
  log $LOG auto $LOG_SECTORS
  site 0 synchronous
  device data0 0 $DATA0 length $DEV_SECTORS
  device data1 1 $DATA1 length $DEV_SECTORS
EOF
# data_table DEV_NR LOCAL_DEV: the table of one data device.
data_table() {
	case $TARGET in
	replicator) echo "0 $DEV_SECTORS replicator-dev $ctl $1 0 1 $2 nolog 0" ;;
	linear) echo "0 $DEV_SECTORS linear $2 0" ;;
	esac
}
# -------------------------------------------------------------------------

ACKS=/extra/acks
MAPPED="--dev /dev/mapper/data0 --dev /dev/mapper/data1"
LOCAL="--dev $DATA0 --dev $DATA1"

up() { cut -d' ' -f1 /proc/uptime; }
note() { echo "crash: [$(up)] $*"; }
kmsg() { echo "dmr-crash: $*" >/dev/kmsg; }

# die REASON [DETAILS_FILE]: the boot's failure, with details indented.
die() {
	echo "crash-fail: $1"
	[ -z "${2:-}" ] || sed 's/^/    /' "$2"
	exit 1
}

# replog_check WHEN OK_CODES: the log device must check with one of
# OK_CODES (0 clean; 1 only crash residue that recovery discards).
replog_check() {
	replog check $LOG >/tmp/replog.out 2>&1
	rc=$?
	case " $2 " in
	*" $rc "*) note "replog check $1: $(tail -n1 /tmp/replog.out) (exit $rc)" ;;
	*) die "replog check $1 exited $rc: $(tail -n1 /tmp/replog.out)" /tmp/replog.out ;;
	esac
}

activate() {
	ctl=
	if [ "$TARGET" = replicator ]; then
		replog config up $CONF >/tmp/dm.out 2>&1 || die "replog config up failed" /tmp/dm.out
		ctl=$(devno repl)
		# What the unit loaded is the harness's group.
		[ "$(dmc table repl)" = "$(echo "$REPL_TABLE" | sed "s|$LOG|$(bdevno $LOG)|")" ] ||
			die "replog config up loaded '$(dmc table repl)'"
		[ "$(dmc table data0)" = "$(data_table 0 "$(bdevno $DATA0)")" ] ||
			die "replog config up loaded data0 as '$(dmc table data0)'"
		[ "$(dmc table data1)" = "$(data_table 1 "$(bdevno $DATA1)")" ] ||
			die "replog config up loaded data1 as '$(dmc table data1)'"
		return
	fi
	dmc create data0 --table "$(data_table 0 $DATA0)" >/tmp/dm.out 2>&1 ||
		die "dmsetup create data0 failed" /tmp/dm.out
	dmc create data1 --table "$(data_table 1 $DATA1)" >/tmp/dm.out 2>&1 ||
		die "dmsetup create data1 failed" /tmp/dm.out
}

deactivate() {
	if [ "$TARGET" = replicator ]; then
		replog config down $CONF >/tmp/dm.out 2>&1 || die "replog config down failed" /tmp/dm.out
		return
	fi
	for d in data0 data1; do
		dmc remove $d >/tmp/dm.out 2>&1 || die "dmsetup remove $d failed" /tmp/dm.out
	done
	if [ "$TARGET" = replicator ]; then
		dmc remove repl >/tmp/dm.out 2>&1 || die "dmsetup remove repl failed" /tmp/dm.out
	fi
}

# verify WHAT DEVS...: all acknowledged writes are on DEVS.
verify() {
	what=$1
	shift
	t0=$(up)
	crashwriter verify "$@" --blocks $BLOCKS --acks $ACKS >/tmp/verify.out 2>&1
	rc=$?
	summary=$(grep '^verify: ' /tmp/verify.out | tail -n1)
	if [ $rc != 0 ]; then
		first=$(grep -m1 '^violation: ' /tmp/verify.out)
		n=$(grep -c '^violation: ' /tmp/verify.out)
		if [ -n "$first" ]; then
			[ "$n" -gt 1 ] && first="$first (and $((n - 1)) more)"
			die "$what: ${first#violation: }" /tmp/verify.out
		fi
		die "$what: crashwriter verify exited $rc" /tmp/verify.out
	fi
	note "$what in $(awk "BEGIN { print $(up) - $t0 }") s: ${summary#verify: }"
}

kmsg "boot $ROUND ($PHASE, $TARGET)"
note "boot $ROUND ($PHASE)"
if [ "$TARGET" = replicator ] && [ "$PHASE" != first ]; then
	# After a crash the log may have a torn tail: recovery discards it.
	replog_check "after the crash" "0 1"
fi
activate
note "tables loaded"
if [ "$PHASE" != first ]; then
	verify "verify after reactivation" $MAPPED
	echo "crash-verified: $(tail -n1 /tmp/verify.out | sed 's/^verify: clean: //')"
fi
if [ "$PHASE" = last ]; then
	deactivate
	verify "verify of the local devices after dmsetup remove" $LOCAL
	if [ "$TARGET" = replicator ]; then
		replog_check "after dmsetup remove" 0
	fi
	echo "crash-done: clean shutdown"
	exit 0
fi
kmsg "load $((ROUND + 1))"
note "load from seq $START_SEQ"
exec crashwriter write $MAPPED --blocks $BLOCKS --seed $SEED --start-seq $START_SEQ --threads $THREADS
