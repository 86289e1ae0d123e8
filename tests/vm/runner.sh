#!/bin/sh
# VM test runner, run by the guest's /init (busybox ash) for
# scripts/vm-test.sh:
#
#   sh /tests/runner.sh [NAME...]      (no NAME: every /tests/[0-9]*.sh)
#
# For each test, in order: clear dmesg, insmod the module, run the test as
# `sh -e -x` in its own process group and work directory ($DMR_TMP) with a
# timeout ("# timeout: N" header, default $DMR_TEST_TIMEOUT or 300 s), kill
# what it left running, rmmod (failing rmmod = leftover reference), remove
# leftover dm and loop devices, and check dmesg for splats. A test that
# failed has its devices removed before rmmod, so a failing rmmod always
# means a reference the module itself kept.
#
# Leaks are checked per group of $DMR_KMEMLEAK_GROUP tests (4): one
# kmemleak scan after the group (a scan costs ~15 s under TCG). When the
# group leaks, each of its tests is run again alone with a scan of its
# own, and the leak is charged to the tests that leak alone (to every test
# of the group if none does). The results of a group are printed once its
# scan is done: "ok NAME" or "FAIL NAME: reason" with indented details,
# then "N passed, N failed". Exits 1 iff a test failed.
#
# For the host's watchdog (vm-test.sh), every run of a test is framed by
# "DMR-TEST: start NAME TIMEOUT" and "DMR-TEST: end NAME" lines, and the
# hung-task detector is set to the test's timeout (the debug kernel
# panics on a task blocked for longer, with its stack on the console).
#
# Environment (vm-test.sh passes these on from the host):
#   DMR_TEST_TIMEOUT   default per-test timeout in seconds (300)
#   DMR_TIMEOUT_SCALE  multiplies every test's timeout (long runs: make torture)
#   DMR_KMEMLEAK=0     skip the kmemleak scans
#   DMR_KMEMLEAK_GROUP tests per kmemleak scan (default 4; 1 = after each)
#   DMR_XTRACE=0       run tests without -x
#   DMR_VERBOSE=1      print the output of passing tests too
export PATH=/usr/sbin:/usr/bin DM_DISABLE_UDEV=1
# dd, losetup, blockdev: the real tools, not busybox's applets.
. /usr/lib/dmr/tools.sh
T=/tests
MOD=/lib/dm_replicator.ko
RES=/tmp/dmr-results
KML=/sys/kernel/debug/kmemleak
# What in dmesg fails a test. kmemleak's own lines are handled separately.
BAD='BUG:|WARNING:|Oops|general protection|possible recursive locking|inconsistent lock state|circular locking|lockdep|KASAN|UBSAN|panicked|Kernel panic|Call Trace:|INFO: task .* blocked|detected stall|kmemleak'
# Allocator frames skipped when naming where a leaked object came from.
ALLOCATORS='^(kmemleak|__kmalloc|kmalloc|kmem_cache|__kmem|slab_|__slab|trace_kmalloc|kvmalloc|__kvmalloc|krealloc|__krealloc|kmemdup|kstrdup|kzalloc|__alloc_pages|alloc_pages|__get_free_pages|mempool_)'
mkdir -p $RES

if [ $# = 0 ]; then
	set -- $(cd $T && ls | grep '^[0-9].*\.sh$' | LC_ALL=C sort | sed 's/\.sh$//')
fi

have_mod=0
[ -f $MOD ] && have_mod=1
[ $have_mod = 1 ] || echo "# no module in the initramfs: insmod/rmmod skipped"
# kmemleak "clear" only greys objects already reported, so scan first:
# what is unreferenced before the first test is not the tests' doing.
have_kml=0
if [ "${DMR_KMEMLEAK:-1}" != 0 ] && [ -w $KML ] && echo scan >$KML 2>/dev/null; then
	echo clear >$KML
	have_kml=1
fi
xtrace=-x
[ "${DMR_XTRACE:-1}" = 0 ] && xtrace=

lockdep_on() {
	# No lockdep (release kernel) counts as "on": nothing to warn about.
	[ -r /proc/lockdep_stats ] || return 0
	grep -q 'debug_locks: *1' /proc/lockdep_stats
}

# The debug kernel (the one with lockdep) must have every checker
# working: one that is missing or off fails the run ("FAIL checks: ..."),
# it is not a note. The release kernel has none of them.
checks_broken=
if [ -r /proc/lockdep_stats ]; then
	lockdep_on || checks_broken="lockdep is off before the first test"
	dmesg | grep -q 'KernelAddressSanitizer initialized' ||
		checks_broken="${checks_broken:+$checks_broken; }KASAN is not in the kernel"
	[ "${DMR_KMEMLEAK:-1}" = 0 ] || [ $have_kml = 1 ] ||
		checks_broken="${checks_broken:+$checks_broken; }kmemleak is unavailable"
fi

# Remove what a test may have left behind, so the next one starts clean.
# (Each process start costs ~0.3 s under TCG: only run the tools if needed.)
cleanup() {
	for d in /sys/block/dm-*; do
		[ -e "$d" ] || break
		# Twice: stacked devices can only go once their users are gone.
		dmsetup --noudevsync remove_all --force >/dev/null 2>&1
		dmsetup --noudevsync remove_all --force >/dev/null 2>&1
		break
	done
	for f in /sys/block/loop*/loop/backing_file; do
		[ -e "$f" ] || break
		losetup -D >/dev/null 2>&1
		break
	done
	# NBD devices still connected (the two-site suite's primary): a
	# failed test's device would fail the next test's attach.
	for f in /sys/block/nbd*/pid; do
		[ -e "$f" ] || break
		f=${f%/pid}
		/usr/bin/nbd-client -d /dev/${f##*/} >/dev/null 2>&1
	done
	rm -f /tmp/reconnect-nbd*.pid
	cd /
	rm -rf /tmp/dmr-work
}

# sleep_until UPTIME: sleep until /proc/uptime reaches UPTIME.
sleep_until() {
	s=$(awk -v t="$1" '{ d = t - $1; print (d > 0 ? d : 0) }' /proc/uptime)
	sleep "$s"
}

# The line that says why a test failed: a helper's "error:" line, else the
# first output line after the last xtrace line (the failing command's own
# message), else the last traced command.
why_failed() {
	out=$1 rc=$2
	r=$(grep -m1 '^error: ' "$out")
	[ -n "$r" ] || r=$(awk '/^\+ / { t = $0; m = ""; next } m == "" && NF { m = $0 } END { if (m != "") print m; else if (t != "") print "failed: " substr(t, 3) }' "$out")
	case $rc in
	1) ;;
	1[2-9][0-9]) r="killed by signal $((rc - 128))${r:+: $r}" ;;
	*) r="exit status $rc${r:+: $r}" ;;
	esac
	echo "${r:-exit status $rc}"
}

indent() { sed 's/^/    /'; }
now() { cut -d' ' -f1 /proc/uptime; }
# Timings go to the kernel console (the host's console.log), not the output.
note() { echo "dmr-runner: $*" >/dev/console 2>/dev/null || true; }

# run_test NAME SUFFIX: run test NAME once (its files get SUFFIX: "" for
# the first run, ".alone" for a leak re-run) and judge everything but
# leaks. Sets r_setup r_dmesg r_tmo r_test r_rmmod; t_rm is when the
# module was gone.
run_test() {
	name=$1 sfx=$2
	file=$T/$name.sh
	out=$RES/$name$sfx.out dm=$RES/$name$sfx.dmesg
	: >"$out"
	rm -f $RES/$name.timeout
	r_dmesg='' r_tmo='' r_test='' r_rmmod='' r_setup=''
	tmo=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$file" | head -1)
	tmo=$((${tmo:-${DMR_TEST_TIMEOUT:-300}} * ${DMR_TIMEOUT_SCALE:-1}))
	# "# allow-dmesg: ERE" lines: expected kernel messages (rare).
	allow=$(sed -n 's/^# allow-dmesg: *//p' "$file" | paste -sd'|')
	[ ! -w /proc/sys/kernel/hung_task_timeout_secs ] || echo "$tmo" >/proc/sys/kernel/hung_task_timeout_secs
	echo "DMR-TEST: start $name $tmo"

	dmesg -c >/dev/null
	# Still in the ring when the test ends, or the ring overflowed and
	# the scan below cannot see all of the test's kernel log.
	echo "dmr-runner: begin $name$sfx" >/dev/kmsg
	t0=$(now) t1=''
	if [ $have_mod = 1 ] && ! insmod $MOD >>"$out" 2>&1; then
		r_setup="insmod failed: $(tail -n1 "$out")"
	else
		mkdir -p /tmp/dmr-work/$name
		# setsid: the test gets its own process group, so a timeout or
		# its leftovers can be killed as a whole.
		(cd /tmp/dmr-work/$name && DMR_TEST=$name DMR_TMP=/tmp/dmr-work/$name \
			exec setsid sh -e $xtrace -c '. /usr/lib/dmr/tools.sh; . "$0"' "$file") >>"$out" 2>&1 </dev/null &
		pid=$!
		setsid sh -c "sleep $tmo; touch $RES/$name.timeout; kill -KILL -$pid" >/dev/null 2>&1 &
		wd=$!
		wait $pid
		rc=$?
		t1=$(now)
		kill -KILL -$wd 2>/dev/null
		wait $wd 2>/dev/null
		# Whatever the test started and left running.
		kill -KILL -$pid 2>/dev/null
		if [ -f $RES/$name.timeout ]; then
			r_tmo="timeout after $tmo s"
		elif [ $rc != 0 ]; then
			r_test=$(why_failed "$out" $rc)
		fi
		cd /
		# A test that failed may have stopped with its devices in place:
		# remove them first, so rmmod only fails on a reference the
		# module kept. A passing test must have removed its own.
		[ -z "$r_tmo$r_test" ] || cleanup
		if [ $have_mod = 1 ] && ! rmmod dm_replicator >$RES/rmmod.err 2>&1; then
			r_rmmod="rmmod failed (leftover module reference): $(tail -n1 $RES/rmmod.err)"
		fi
	fi
	cleanup
	if [ $have_mod = 1 ] && [ -n "$r_rmmod$r_setup" ] && grep -q '^dm_replicator ' /proc/modules; then
		rmmod dm_replicator >/dev/null 2>&1 ||
			echo "# dm_replicator stays loaded after $name; later tests cannot insmod it"
	fi
	t_rm=$(now)

	dmesg >"$dm"
	if [ -n "$allow" ]; then
		m=$(grep -E "$BAD" "$dm" | grep -v 'kmemleak: .*suspected memory leak' | grep -vE "$allow" | head -n1)
	else
		m=$(grep -E "$BAD" "$dm" | grep -v 'kmemleak: .*suspected memory leak' | head -n1)
	fi
	[ -z "$m" ] || r_dmesg="dmesg: $(echo "$m" | sed 's/^\[[ 0-9.]*\] //')"
	grep -qF "dmr-runner: begin $name$sfx" "$dm" ||
		r_dmesg="${r_dmesg:+$r_dmesg; }the kernel log overflowed its ring (log_buf_len): reports may be lost"
	echo "DMR-TEST: end $name"
	note "$name$sfx: test ${t1:+$(echo "$t1 - $t0" | bc) s, checks $(echo "$t_rm - $t1" | bc) s}"
	if [ $have_mod = 1 ] && [ -n "$r_rmmod$r_setup" ] && grep -q '^dm_replicator ' /proc/modules; then
		return 1
	fi
	return 0
}

# leak_scan SINCE FILE: kmemleak's report of objects left since uptime
# SINCE into FILE (empty: no leak), then clear (reported objects are
# greyed, so the next scan sees only new ones).
leak_scan() {
	: >"$2"
	[ $have_kml = 1 ] || return 0
	# kmemleak only reports objects older than 5 s at scan start.
	# (debugfs files have no size: read them before testing -s.)
	sleep_until "$(echo "$1 + 5.2" | bc)"
	if ! echo scan >$KML 2>/dev/null; then
		# kmemleak turned itself off: this group's tests and every later
		# one fail (leaks_unchecked).
		have_kml=0
		kml_died=1
		return 0
	fi
	cat $KML >"$2"
	if [ -s "$2" ]; then
		# A second scan drops objects that were only in flight.
		sleep 1
		echo scan >$KML
		cat $KML >"$2"
	fi
	echo clear >$KML
}

# leak_summary FILE: "N unreferenced object(s), first: FUNCTION"
leak_summary() {
	echo "$(grep -c '^unreferenced object' "$1") unreferenced object(s), first: $(sed -n 's/^    \[<[0-9a-f]*>\] \([^ ]*\).*/\1/p' "$1" | grep -vE "$ALLOCATORS" | head -n1)"
}

# report NAME: print the verdict of NAME from $RES/NAME.verdict (reasons,
# one per line, the first is the headline) with its details.
report() {
	name=$1
	if [ ! -s $RES/$name.verdict ]; then
		echo "ok $name"
		npass=$((npass + 1))
		[ "${DMR_VERBOSE:-0}" = 0 ] || indent <$RES/$name.out
		return
	fi
	echo "FAIL $name: $(head -n1 $RES/$name.verdict)"
	nfail=$((nfail + 1))
	tail -n +2 $RES/$name.verdict | sed 's/^/    also: /'
	echo "    --- dmesg ---"
	head -n 200 $RES/$name.dmesg | indent
	[ "$(wc -l <$RES/$name.dmesg)" -le 200 ] || echo "    ... ($(wc -l <$RES/$name.dmesg) lines)"
	if [ -s $RES/$name.kmemleak ]; then
		echo "    --- kmemleak ---"
		head -n 80 $RES/$name.kmemleak | indent
	fi
	echo "    --- output (last 100 lines) ---"
	tail -n 100 $RES/$name.out | indent
}

# check_group NAMES...: the group's leak scan (and the re-runs that
# attribute a leak), then the verdicts of its tests.
check_group() {
	g_leaks=$RES/group.kmemleak
	leak_scan "$t_rm" $g_leaks
	if [ -s $g_leaks ]; then
		if [ $# = 1 ]; then
			cp $g_leaks $RES/$1.kmemleak
			echo "kmemleak: $(leak_summary $g_leaks)" >>$RES/$1.verdict
		else
			note "group $* leaks; each of its tests runs again alone"
			alone=0
			for n in "$@"; do
				run_test "$n" .alone || break
				leak_scan "$t_rm" $RES/$n.kmemleak
				if [ -s $RES/$n.kmemleak ]; then
					echo "kmemleak: $(leak_summary $RES/$n.kmemleak) (leaks when run alone)" >>$RES/$n.verdict
					alone=1
				fi
			done
			if [ $alone = 0 ]; then
				for n in "$@"; do
					cp $g_leaks $RES/$n.kmemleak
					echo "kmemleak: $(leak_summary $g_leaks) in the group $* (no test leaks alone)" >>$RES/$n.verdict
				done
			fi
		fi
	fi
	for n in "$@"; do
		[ $kml_died = 0 ] || echo "kmemleak stopped working: leaks not checked" >>$RES/$n.verdict
		# The first reason is the headline; the verdict file keeps order.
		sed -i '/^$/d' $RES/$n.verdict
		report "$n"
	done
}

# A task blocked for longer than its test's timeout is a hang: the
# detector (set per test in run_test) looks every 10 s.
[ ! -w /proc/sys/kernel/hung_task_check_interval_secs ] || echo 10 >/proc/sys/kernel/hung_task_check_interval_secs

npass=0 nfail=0
kml_died=0
if [ -n "$checks_broken" ]; then
	echo "FAIL checks: $checks_broken"
	nfail=$((nfail + 1))
fi
group='' gsize=0
t_rm=$(now)
for test in "$@"; do
	if [ ! -f "$T/$test.sh" ]; then
		echo "FAIL $test: no such test"
		nfail=$((nfail + 1))
		continue
	fi
	: >$RES/$test.kmemleak
	lockdep_before=0
	lockdep_on && lockdep_before=1
	run_test "$test" ''
	printf '%s\n' "$r_setup" "$r_dmesg" "$r_tmo" "$r_test" "$r_rmmod" >$RES/$test.verdict
	# Lockdep switches itself off after its first report: the test that
	# did it fails, and so does every later one (nothing checks them).
	lockdep_on || [ $lockdep_before = 0 ] || echo "lockdep switched itself off" >>$RES/$test.verdict
	lockdep_on || [ $lockdep_before = 1 ] || echo "lockdep is off: locking not checked" >>$RES/$test.verdict
	group="$group $test" gsize=$((gsize + 1))
	if [ $gsize -ge "${DMR_KMEMLEAK_GROUP:-4}" ]; then
		check_group $group
		group='' gsize=0
	fi
done
[ -z "$group" ] || check_group $group
echo "$npass passed, $nfail failed"
[ $nfail = 0 ]
