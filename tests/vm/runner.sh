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
# leftover dm and loop devices, scan kmemleak (then clear it, so the next
# test only sees its own leaks), and check dmesg for splats.
# Prints "ok NAME" or "FAIL NAME: reason" with indented details, then
# "N passed, N failed". Exits 1 iff a test failed.
#
# Environment (vm-test.sh passes these on from the host):
#   DMR_TEST_TIMEOUT   default per-test timeout in seconds (300)
#   DMR_KMEMLEAK=0     skip the kmemleak scan (saves ~15 s per test)
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
elif [ "${DMR_KMEMLEAK:-1}" != 0 ]; then
	echo "# kmemleak unavailable: leaks are not checked"
fi
xtrace=-x
[ "${DMR_XTRACE:-1}" = 0 ] && xtrace=

lockdep_on() {
	# No lockdep (release kernel) counts as "on": nothing to warn about.
	[ -r /proc/lockdep_stats ] || return 0
	grep -q 'debug_locks: *1' /proc/lockdep_stats
}
lockdep_was_on=0
lockdep_on && lockdep_was_on=1

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

npass=0 nfail=0
for name in "$@"; do
	file=$T/$name.sh
	out=$RES/$name.out dm=$RES/$name.dmesg leaks=$RES/$name.kmemleak
	: >"$out"; : >"$leaks"
	rm -f $RES/$name.timeout
	r_dmesg='' r_tmo='' r_test='' r_rmmod='' r_leak='' r_setup=''
	if [ ! -f "$file" ]; then
		echo "FAIL $name: no such test"
		nfail=$((nfail + 1))
		continue
	fi
	tmo=$(sed -n 's/^# timeout: *\([0-9][0-9]*\).*/\1/p' "$file" | head -1)
	tmo=${tmo:-${DMR_TEST_TIMEOUT:-300}}
	# "# allow-dmesg: ERE" lines: expected kernel messages (rare).
	allow=$(sed -n 's/^# allow-dmesg: *//p' "$file" | paste -sd'|')

	dmesg -c >/dev/null
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

	if [ $have_kml = 1 ]; then
		# kmemleak only reports objects older than 5 s at scan start.
		# (debugfs files have no size: read them before testing -s.)
		sleep_until "$(echo "$t_rm + 5.2" | bc)"
		if ! echo scan >$KML 2>/dev/null; then
			# kmemleak turned itself off (its dmesg line fails the test).
			echo "# kmemleak stopped working during $name: later tests are not leak-checked"
			have_kml=0
		fi
		[ $have_kml = 0 ] || cat $KML >"$leaks"
		if [ -s "$leaks" ]; then
			# A second scan drops objects that were only in flight.
			sleep 1
			echo scan >$KML
			cat $KML >"$leaks"
			if [ -s "$leaks" ]; then
				r_leak="kmemleak: $(grep -c '^unreferenced object' "$leaks") unreferenced object(s), first: $(sed -n 's/^    \[<[0-9a-f]*>\] \([^ ]*\).*/\1/p' "$leaks" | grep -vE "$ALLOCATORS" | head -n1)"
			fi
		fi
		# Reported objects are greyed: the next test sees only its own.
		[ $have_kml = 0 ] || echo clear >$KML
	fi

	dmesg >"$dm"
	if [ -n "$allow" ]; then
		m=$(grep -E "$BAD" "$dm" | grep -v 'kmemleak: .*suspected memory leak' | grep -vE "$allow" | head -n1)
	else
		m=$(grep -E "$BAD" "$dm" | grep -v 'kmemleak: .*suspected memory leak' | head -n1)
	fi
	[ -z "$m" ] || r_dmesg="dmesg: $(echo "$m" | sed 's/^\[[ 0-9.]*\] //')"

	t2=$(now)
	note "$name: test ${t1:+$(echo "$t1 - $t0" | bc) s, checks $(echo "$t2 - $t1" | bc) s}"
	reason=$r_setup
	for r in "$r_dmesg" "$r_tmo" "$r_test" "$r_rmmod" "$r_leak"; do
		[ -n "$reason" ] || reason=$r
	done
	if [ -z "$reason" ]; then
		echo "ok $name"
		npass=$((npass + 1))
		[ "${DMR_VERBOSE:-0}" = 0 ] || indent <"$out"
	else
		echo "FAIL $name: $reason"
		nfail=$((nfail + 1))
		for r in "$r_dmesg" "$r_tmo" "$r_test" "$r_rmmod" "$r_leak"; do
			[ -z "$r" ] || [ "$r" = "$reason" ] || echo "    also: $r"
		done
		echo "    --- dmesg ---"
		head -n 200 "$dm" | indent
		[ "$(wc -l <"$dm")" -le 200 ] || echo "    ... ($(wc -l <"$dm") lines)"
		if [ -s "$leaks" ]; then
			echo "    --- kmemleak ---"
			head -n 80 "$leaks" | indent
		fi
		echo "    --- output (last 100 lines) ---"
		tail -n 100 "$out" | indent
	fi
	if [ $lockdep_was_on = 1 ] && ! lockdep_on; then
		echo "# lockdep switched itself off during $name: later tests are not lock-checked"
		lockdep_was_on=0
	fi
done
echo "$npass passed, $nfail failed"
[ $nfail = 0 ]
