#!/bin/sh
# Crash test, guest side: one boot of scripts/crash-test.sh (busybox ash).
#
# The host kills QEMU while the load runs, so every boot but the last two
# ends in a crash. Each boot: check the log device (replicator), activate
# the tables (which replays the log), verify the previous round's
# acknowledged writes, then start a new load and wait to be killed. The
# boot before the last runs its load to the end instead, stops the group
# as the unit does at shutdown, checks the devices and the log, and
# reboots (a clean restart, which the last boot verifies). The last boot
# instead removes the devices cleanly and verifies the local devices, the
# remote copies and the log once more. With the replicator, the group (a
# local and a remote site, synchronous) is described in
# /etc/dm-replicator/groups.conf and brought up and down as the systemd
# unit does at boot and shutdown (`replog config up|down`,
# Documentation/assembly.rst): boot-time assembly after every crash.
#
# With /extra/debs/ (DMR_CRASH_PACKAGES=1: the guest runs the packaged
# test kernel), each boot first installs the packages with dpkg, as a
# server's root holds them (the guest's root is a fresh initramfs at every
# boot): linux-image, dm-replicator-modules, dm-replicator-utils. The
# group then comes up and goes down through the installed unit's own
# commands (ExecStartPre, ExecStart; ExecStop), run in order: modprobe
# from the kernel's module tree, the packaged replog.
#
# /extra/crash.conf (from the host) sets:
#   ROUND      this boot's number (0 = first, formats)
#   PHASE      first | middle | clean | last
#   TARGET     replicator | linear
#   SEED START_SEQ BLOCKS THREADS   the load's settings
# /extra/acks holds the acknowledged writes of all earlier rounds.
#
# Lines for the host: "crash: ..." notes, "crash-verified: SUMMARY",
# "crash-clean: SUMMARY", "crash-done: SUMMARY", "crash-fail: REASON"
# (details follow, indented),
# crashwriter's "violation: ..." and "verify: ..." lines, then its
# "crashwriter: started" and A/F lines.

. /tests/lib.sh
. /extra/crash.conf

# --- devices and tables (the harness's knobs) ---------------------------
LOG=/dev/vda
DATA0=/dev/vdb
DATA1=/dev/vdc
REMOTE0=/dev/vdd     # the remote site's copies (replicator only)
REMOTE1=/dev/vde
LOG_SECTORS=8192     # 4 MiB of the log device: the ring wraps during a load
DEV_SECTORS=65536    # the whole 32 MiB data devices
REPL_TABLE="0 1 replicator ringbuffer 4 $LOG 0 auto $LOG_SECTORS blockdev 2 0 synchronous blockdev 2 1 synchronous"
# The same group for the boot unit (scripts/systemd/dm-replicator.service).
# The remotes' core dirty logs start "nosync" at every boot: what a crash
# left unshipped is in the log, which recovery replays to them.
CONF=/etc/dm-replicator/groups.conf
mkdir -p /etc/dm-replicator
cat >$CONF <<EOF
group repl
  log $LOG auto $LOG_SECTORS
  site 0 synchronous
  site 1 synchronous
  device data0 0 $DATA0 length $DEV_SECTORS
    remote 1 $REMOTE0 core 1024 nosync
  device data1 1 $DATA1 length $DEV_SECTORS
    remote 1 $REMOTE1 core 1024 nosync
EOF
# data_table DEV_NR LOCAL_DEV REMOTE_DEV: the table of one data device.
data_table() {
	case $TARGET in
	replicator) echo "0 $DEV_SECTORS replicator-dev $ctl $1 0 1 $2 nolog 0 1 1 $3 core 2 1024 nosync" ;;
	linear) echo "0 $DEV_SECTORS linear $2 0" ;;
	esac
}
UNIT=/lib/systemd/system/dm-replicator.service
PACKAGES=0
[ -d /extra/debs ] && PACKAGES=1
# -------------------------------------------------------------------------

ACKS=/extra/acks
MAPPED="--dev /dev/mapper/data0 --dev /dev/mapper/data1"
LOCAL="--dev $DATA0 --dev $DATA1"
REMOTE="--dev $REMOTE0 --dev $REMOTE1"

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

# install_packages: the packages of /extra/debs, into a dpkg database of
# this boot's root; the kernel running is the one they were built for.
install_packages() {
	mkdir -p /var/lib/dpkg/info /var/lib/dpkg/updates
	[ -f /var/lib/dpkg/status ] || : >/var/lib/dpkg/status
	# Only what busybox's dpkg cannot see: dmsetup and libc are not
	# packages in this root.
	dpkg -i --force-depends /extra/debs/linux-image-*.deb /extra/debs/dm-replicator-*.deb \
		>/tmp/dpkg.out 2>&1 || die "dpkg -i of the packages failed" /tmp/dpkg.out
	ko=/lib/modules/$(uname -r)/updates/dm-replicator/dm_replicator.ko
	[ -f "$ko" ] || die "the packages hold no $ko for the running kernel $(uname -r)" /tmp/dpkg.out
	[ -x /usr/sbin/replog ] && [ -f $UNIT ] || die "dm-replicator-utils installed no /usr/sbin/replog or $UNIT"
	grep -q "^updates/dm-replicator/dm_replicator.ko:" /lib/modules/$(uname -r)/modules.dep ||
		die "modules.dep of $(uname -r) does not name the module after dpkg -i"
	note "installed $(ls /extra/debs | tr '\n' ' ')on $(uname -r)"
}

# unit KEY...: run the installed unit's KEY= command lines, in order, as
# systemd would (none of them uses a prefix such as '-').
unit() {
	for key in "$@"; do
		sed -n "s/^$key=//p" $UNIT >/tmp/unit.cmds
		while IFS= read -r cmd; do
			sh -c "$cmd" >/tmp/dm.out 2>&1 || die "$UNIT: $key=$cmd failed" /tmp/dm.out
		done </tmp/unit.cmds
	done
}

activate() {
	ctl=
	if [ "$TARGET" = replicator ]; then
		if [ $PACKAGES = 1 ]; then
			unit ExecStartPre ExecStart
			grep -q '^dm_replicator ' /proc/modules || die "the unit did not load dm_replicator"
		else
			replog config up $CONF >/tmp/dm.out 2>&1 || die "replog config up failed" /tmp/dm.out
		fi
		ctl=$(devno repl)
		# What the unit loaded is the harness's group.
		[ "$(dmc table repl)" = "$(echo "$REPL_TABLE" | sed "s|$LOG|$(bdevno $LOG)|")" ] ||
			die "replog config up loaded '$(dmc table repl)'"
		[ "$(dmc table data0)" = "$(data_table 0 "$(bdevno $DATA0)" "$(bdevno $REMOTE0)")" ] ||
			die "replog config up loaded data0 as '$(dmc table data0)'"
		[ "$(dmc table data1)" = "$(data_table 1 "$(bdevno $DATA1)" "$(bdevno $REMOTE1)")" ] ||
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
		if [ $PACKAGES = 1 ]; then
			unit ExecStop
		else
			replog config down $CONF >/tmp/dm.out 2>&1 || die "replog config down failed" /tmp/dm.out
		fi
		return
	fi
	for d in data0 data1; do
		dmc remove $d >/tmp/dm.out 2>&1 || die "dmsetup remove $d failed" /tmp/dm.out
	done
	if [ "$TARGET" = replicator ]; then
		dmc remove repl >/tmp/dm.out 2>&1 || die "dmsetup remove repl failed" /tmp/dm.out
	fi
}

# verify WHAT DEVS...: all acknowledged writes ($ACKS and $MORE_ACKS) are
# on DEVS.
MORE_ACKS=
verify() {
	what=$1
	shift
	t0=$(up)
	crashwriter verify "$@" --blocks $BLOCKS --acks $ACKS $MORE_ACKS >/tmp/verify.out 2>&1
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
[ $PACKAGES = 0 ] || install_packages
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
		verify "verify of the remote copies" $REMOTE
		replog_check "after dmsetup remove" 0
	fi
	echo "crash-done: clean shutdown"
	exit 0
fi
if [ "$PHASE" = clean ]; then
	# A load that ends, then the shutdown a server does: the unit stops
	# the group (a clean suspend), the devices hold every write, the log
	# checks clean; the reboot that follows is verified by the last boot.
	kmsg "load $((ROUND + 1)), to its end"
	note "load from seq $START_SEQ, 600 writes"
	crashwriter write $MAPPED --blocks $BLOCKS --seed $SEED --start-seq $START_SEQ --threads $THREADS \
		--count 600 >/tmp/clean.out 2>&1 || die "the load before the clean stop failed" /tmp/clean.out
	cat /tmp/clean.out
	grep -E '^[AF] ' /tmp/clean.out >/tmp/clean.acks
	MORE_ACKS="--acks /tmp/clean.acks"
	deactivate
	verify "verify of the local devices after the clean stop" $LOCAL
	if [ "$TARGET" = replicator ]; then
		verify "verify of the remote copies after the clean stop" $REMOTE
		replog_check "after the clean stop" 0
	fi
	if [ "$TARGET" != replicator ]; then
		echo "crash-clean: the devices removed, local devices checked"
	elif [ $PACKAGES = 1 ]; then
		echo "crash-clean: the group stopped by the unit's ExecStop, local devices, remote copies and log checked"
	else
		echo "crash-clean: the group stopped by replog config down, local devices, remote copies and log checked"
	fi
	exit 0
fi
kmsg "load $((ROUND + 1))"
note "load from seq $START_SEQ"
exec crashwriter write $MAPPED --blocks $BLOCKS --seed $SEED --start-seq $START_SEQ --threads $THREADS
