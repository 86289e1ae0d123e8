# The benchmark's extra measurements, sourced by tests/bench/primary.sh
# after the fio configurations (same helpers and settings). Each writes
# KEY VALUE lines to $R/extra/NAME.txt; EXTRAS (bench.conf) selects them.
# shellcheck shell=sh

# --- module memory ------------------------------------------------------------
# Slab bytes in use (active objects times object size, every cache) and
# /proc/meminfo's Slab, SUnreclaim, VmallocUsed and MemFree, in bytes.
# The median of three readings a second apart.
mem_snap() { # mem_snap TAG
	local i
	for i in 1 2 3; do
		sync
		echo 3 >/proc/sys/vm/drop_caches
		sleep 1
		echo "$1.slab_active_bytes $(awk 'NR > 2 { s += $2 * $4 } END { printf "%d", s }' /proc/slabinfo)"
		awk -v t="$1" '/^(Slab|SUnreclaim|VmallocUsed|MemFree):/ { sub(":", "", $1); printf "%s.%s %d\n", t, $1, $2 * 1024 }' /proc/meminfo
	done | sort -k1,1 -k2,2n | awk '{ v[$1, ++n[$1]] = $2 } END { for (k in n) print k, v[k, 2] }' | sort
}
extra_memory() {
	local f=$R/extra/memory.txt n ios
	CFG=memory
	rams
	: >$f
	mem_snap base >>$f
	# The log on dm-zero: its writes allocate no RAM disk pages, so MemFree
	# shows the module's own allocations (the page allocator's too).
	dmc create zlog --table "0 $((LOGLEN + 2048)) zero" || return 1
	dmc create repl --table "0 1 replicator ringbuffer 4 /dev/mapper/zlog 0 auto $LOGLEN blockdev 1 0 blockdev 2 1 asynchronous" || return 1
	mem_snap replicator >>$f
	# Replicated devices of 1 and 16 GiB on dm-zero (local and remote):
	# what grows with the size is per-GiB cost.
	for g in 1 16; do
		n=$((g * 2097152))
		dmc create zl --table "0 $n zero" && dmc create zr --table "0 $n zero" || return 1
		dmc create r0 --table "0 $n replicator-dev /dev/mapper/repl 0 0 1 /dev/mapper/zl nolog 0 1 1 /dev/mapper/zr core 2 $REGION nosync" || return 1
		mem_snap "dev${g}g" >>$f
		dmc remove r0 && dmc remove zl && dmc remove zr || return 1
	done
	# Outstanding entries: the remote suspended, so the site link's copies
	# wait and every new write stays an entry it still needs.
	remote 1 /dev/ram2 0 || return 1
	dmc create r0 --table "0 $LEN replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs1 core 2 $REGION nosync" || return 1
	fill /dev/mapper/r0
	settle repl_settled >/dev/null
	mem_snap idle >>$f
	dmc suspend rs1
	dd if=/dev/zero of=/dev/mapper/r0 bs=4k count=${MEM_ENTRIES:-3500} oflag=direct status=none
	ios=$(slink_backlog 1 | cut -d, -f2)
	echo "outstanding_entries $ios" >>$f
	echo "outstanding_status $(status_of repl)" >>$f
	mem_snap outstanding >>$f
	dmc resume rs1
	echo "drain $(settle repl_settled)" >>$f
	mem_snap drained >>$f
	echo "region_sectors $REGION" >>$f
	teardown
}

# --- resynchronisation after a cut --------------------------------------------
# resync_repl NAME REMOTE_SETUP: a 2 MiB log, the link cut (remote swapped
# to an error table), the whole 16 MiB device written (the log runs full,
# the link gives its entries up), the link restored: time until every
# region is in sync and the link holds every entry.
resync_repl() {
	local f=$R/extra/resync-$1.txt t0 st before regions
	CFG=resync-$1
	rams
	: >$f
	$2 || return 1
	dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous" || return 1
	dmc message repl 0 slink message 1 retest 200
	dmc create r0 --table "0 $LEN replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs1 core 2 $REGION nosync" || return 1
	dmesg_mark
	lower rs1 "0 $LEN error"
	dd if=/dev/urandom of=/tmp/rand bs=1M count=4 status=none
	for i in 0 1 2 3; do dd if=/tmp/rand of=/dev/mapper/r0 bs=1M seek=$((i * 4)) oflag=direct status=none; done
	sleep 1
	st=$(remote_state r0 1)
	before=${st#* }
	before=${before%/*}
	before=${before%+}
	regions=$((LEN / REGION))
	echo "cut_state $st" >>$f
	echo "regions_out_of_sync $((regions - before))" >>$f
	echo "bytes $(((regions - before) * REGION * 512))" >>$f
	echo "throttle $(cat /sys/module/dm_replicator/parameters/resync_throttle 2>/dev/null || echo ?)" >>$f
	t0=$(up)
	lower rs1 "0 $LEN linear $3 0"
	SETTLE=$RESYNC_MAX settle repl_settled | sed 's/^/settle /' >>$f
	echo "secs $(secs_since "$t0")" >>$f
	echo "final_state $(remote_state r0 1)" >>$f
	echo "final_status $(status_of repl)" >>$f
	_dmesg_since_mark | grep -E 'slink=1 (up|down)|in sync' | sed 's/^\[[ 0-9.]*\] /dmesg /' >>$f
	[ "$(sha /dev/ram1 $LEN)" = "$(sha /dev/mapper/rs1 $LEN)" ] && echo "equal 1" >>$f || echo "equal 0" >>$f
	teardown
}
extra_resync() {
	resync_repl local "remote 1 /dev/ram2 0" /dev/ram2
	resync_repl net net_remote /dev/nbd0
	resync_drbd
}
# DRBD protocol C (resource "rs", set up for this alone): disconnect,
# write the device, reconnect, time until UpToDate/UpToDate with nothing
# out of sync. DRBD's resync rate controller runs with its defaults.
resync_drbd() {
	local f=$R/extra/resync-drbd.txt t0 oos
	CFG=resync-drbd
	rams
	: >$f
	setup_drbd_rs >/dev/null || return 1
	drbdsetup-84 disconnect "ipv4:$NET_LOCAL:7791" "ipv4:$NET_DR:7791" || return 1
	dd if=/dev/urandom of=/tmp/rand bs=1M count=4 status=none
	for i in 0 1 2 3; do dd if=/tmp/rand of=/dev/drbd2 bs=1M seek=$((i * 4)) oflag=direct status=none; done
	oos=$(grep -A2 -E '^ *2: ' /proc/drbd | sed -n 's/.*oos:\([0-9]*\).*/\1/p' | head -n 1)
	echo "bytes $((${oos:-0} * 1024))" >>$f
	t0=$(up)
	# Connected once the resync has started (SyncSource).
	DRBD_CONNECTED='cs:(Connected|SyncSource)' drbd_connect rs 2 7791 C || return 1
	echo "connect_secs $(secs_since "$t0")" >>$f
	SETTLE=$RESYNC_MAX settle 'drbd_uptodate' | sed 's/^/settle /' >>$f
	echo "secs $(secs_since "$t0")" >>$f
	sed 's/^/drbd: /' /proc/drbd >>$f
	teardown
}
drbd_uptodate() { grep -q 'ds:UpToDate/UpToDate' /proc/drbd && drbd_settled; }

# --- profile ------------------------------------------------------------------
# perf (cpu-clock sampling of the whole guest, call graphs) during
# PROFILE_WL on each configuration of PROFILE, and on linear for comparison.
profile_one() { # profile_one CONFIG WORKLOAD
	local spec fn
	CFG=profile-$1
	rams
	mkdir -p "$R/$CFG"
	fn=setup_$(echo "$1" | tr - _)
	spec=$($fn) || { echo "profile: setup of $1 failed" >>$R/failures.txt; teardown; return 1; }
	fill "${spec% *}"
	[ "${spec#* }" = none ] || settle "${spec#* }" >/dev/null
	jobfile "$2" "${spec% *}" | sed "s/^runtime=.*/runtime=$PROFILE_SECS/" | awk '/^\[.*\.r2\]/ { exit } { print }' >/tmp/job.fio
	perf record -a -g -e cpu-clock -F 999 -o /tmp/perf.data -- \
		fio --output-format=json --output="$R/profile/$1.json" /tmp/job.fio >/tmp/perf.err 2>&1 ||
		{ echo "profile: perf record on $1 failed: $(tail -n 2 /tmp/perf.err | tr '\n' ' ')" >>$R/failures.txt; teardown; return 1; }
	perf report -i /tmp/perf.data --stdio --no-children --sort dso,sym --percent-limit 0.3 -g none \
		>"$R/profile/$1-flat.txt" 2>/dev/null
	perf report -i /tmp/perf.data --stdio --children --sort sym --percent-limit 3 -g none \
		>"$R/profile/$1-children.txt" 2>/dev/null
	perf report -i /tmp/perf.data --stdio --no-children --sort sym --percent-limit 2 -g graph,0.5,callee \
		--max-stack 12 >"$R/profile/$1-callers.txt" 2>/dev/null
	rm -f /tmp/perf.data
	teardown
}
extra_profile() {
	command -v perf >/dev/null || { echo "profile: no perf in the guest" >>$R/failures.txt; return 0; }
	local p
	for p in $PROFILE linear; do
		profile_one "$p" "$PROFILE_WL"
	done
}

for x in $EXTRAS; do
	log "extra: $x"
	(extra_$x) || echo "extra $x: failed" >>$R/failures.txt
	teardown
done
