#!/bin/sh
# timeout: 600
# Forward progress when memory is short: every allocation from the log
# queue's two bio slabs fails (failslab), so each bio of the log, the
# local device and the remote device comes from the bio_sets' reserves,
# while fio keeps 128 writes in flight. The main work item frees those
# bios only after it took their completions: it must never wait for the
# reserve with more of it held than it has, or it waits for itself. The
# writes must all complete and read back, and the remote copy must equal
# the local one. Then every allocation made with the module's code on the
# stack (slab and page allocator, by the stacktrace filter of failslab
# and fail_page_alloc) fails one time in ten under the same load, with
# the same outcome. Last, the remote device stops answering while the bio
# slabs fail again: the remote writes it swallowed hold pages of the
# reserves until it answers, so they must be bounded, and the writes must
# complete once the link times out.
. /tests/lib.sh

for i in 0 1 2; do ramdev $i >/dev/null; done
len=16384 # 8 MiB
# The remote, through dm-linear so that it can stop answering (suspended).
dmc create rs --table "0 $len linear /dev/ram2 0"
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 32768 blockdev 1 0 blockdev 2 1 asynchronous"
dmc create r0 --table "0 $len replicator-dev $(devno repl) 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs core 2 128 nosync"

step "the log queue's bio slabs"
# The log queue's bio_sets (src/dm/ioq.c): bs (front pad struct dmr_io,
# 48 bytes, inline bvecs: 64 more) and rbs (the same front pad, no bvecs)
# sit next to stable_bs (front pad struct dmr_stable, 16 bytes, inline
# bvecs): slabs bio-N, bio-(N-64) and bio-(N-32). No other bio_set of
# the guest has that shape.
bs=
for f in /sys/kernel/slab/bio-*; do
	n=${f##*/bio-}
	if [ -d "/sys/kernel/slab/bio-$((n - 64))" ] && [ -d "/sys/kernel/slab/bio-$((n - 32))" ]; then
		bs=$n
	fi
done
[ -n "$bs" ] || { ls /sys/kernel/slab | grep '^bio-' >&2; fail "cannot find the log queue's bio slabs"; }

fa=/sys/kernel/debug/failslab
echo N >$fa/ignore-gfp-wait
echo 0 >$fa/verbose
echo 0 >$fa/space
echo 1 >$fa/interval

# slab_writes NAME SEED WHAT: fio's verified 4 KiB random writes over the
# device, 128 in flight, with every allocation from the queue's two bio
# slabs failing; at least two per write (log and local device) must have.
slab_writes() {
	echo Y >$fa/cache-filter
	echo 100 >$fa/probability
	echo 1000000 >$fa/times
	echo 1 >"/sys/kernel/slab/bio-$bs/failslab"
	echo 1 >"/sys/kernel/slab/bio-$((bs - 64))/failslab"
	fio --name="$1" --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --size=8M \
		--ioengine=libaio --iodepth=128 --direct=1 --randseed="$2" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 >fio.out 2>&1 ||
		{ cat fio.out; fail "fio $3"; }
	echo 0 >"/sys/kernel/slab/bio-$bs/failslab"
	echo 0 >"/sys/kernel/slab/bio-$((bs - 64))/failslab"
	echo 0 >$fa/probability
	failed=$((1000000 - $(cat $fa/times)))
	echo "$failed slab allocations failed"
	[ "$failed" -ge 4096 ] || fail "only $failed allocations failed $3: the bio slabs were not the queue's"
}

step writes with the bio slabs failing
slab_writes pressure 38 "with the bio slabs failing"

step the remote catches up
wait_eq "A,0,0" "the link catches up" slink_backlog 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local"

step every allocation of the module failing at times
# The module's text: from its first to past its last text symbol.
range=$(awk '$4 == "[dm_replicator]" && $2 ~ /^[tT]$/ { print $1 }' /proc/kallsyms | sort | sed -n '1p;$p' | tr '\n' ' ')
set -- $range
[ $# -eq 2 ] || fail "cannot find the module's text in /proc/kallsyms: '$range'"
# The end: 64 KiB past the last symbol, added to the low 32 bits (shell
# arithmetic is signed 64-bit; module addresses are below ffffffffff000000).
hi=${2%????????}
lo=${2#"$hi"}
start=0x$1
end=$(printf '0x%s%08x' "$hi" $((0x$lo + 0x10000)))
fp=/sys/kernel/debug/fail_page_alloc
for f in $fa $fp; do
	echo N >$f/ignore-gfp-wait
	echo 0 >$f/verbose
	echo 0 >$f/space
	echo 1 >$f/interval
	echo 1000000 >$f/times
	echo 32 >$f/stacktrace-depth
	echo $start >$f/require-start
	echo $end >$f/require-end
done
echo N >$fa/cache-filter
echo N >$fp/ignore-gfp-highmem
echo 0 >$fp/min-order
echo 10 >$fa/probability
echo 10 >$fp/probability
fio --name=module --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --size=8M \
	--ioengine=libaio --iodepth=128 --direct=1 --randseed=380 \
	--verify=crc32c --do_verify=1 --verify_fatal=1 >fio.out 2>&1 ||
	{ cat fio.out; fail "fio with the module's allocations failing"; }
echo 0 >$fa/probability
echo 0 >$fp/probability
slab=$((1000000 - $(cat $fa/times)))
pages=$((1000000 - $(cat $fp/times)))
echo "$slab slab and $pages page allocations failed"
# The work item allocates for every batch of entries at least.
[ "$slab" -ge 100 ] || fail "only $slab slab allocations of the module failed"
wait_eq "A,0,0" "the link catches up after the failures" slink_backlog 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local after the failures"

step a remote that hangs while the bio slabs fail
# Its writes queue in the suspended dm-linear. Those from the stable
# copies hold reserve pages (at most the ship budget, see ioq.c); after
# slink_timeout the link is down and writes stop waiting for it. The log
# fills and gives the link's entries up to its dirty log; once the device
# answers the link comes back and resynchronises.
echo 2 >/sys/module/dm_replicator/parameters/slink_timeout
dmc message repl 0 slink message 1 retest 200
dmesg_mark
dmc suspend rs
slab_writes hung 381 "with the remote hung and the bio slabs failing"
expect_dmesg "slink=1 down (timeout, I/O pending for "
dmc resume rs
expect_dmesg "slink=1 up again after" 20
wait_eq "A 128/128" "the link resynchronises after it hung" remote_state r0 1
wait_eq "A,0,0" "the link catches up after it hung" slink_backlog 1
assert_eq "$(sha /dev/ram2 $len)" "$(sha /dev/ram1 $len)" "remote equals local after it hung"
echo 30 >/sys/module/dm_replicator/parameters/slink_timeout

step done
dmc remove r0
dmc remove repl
dmc remove rs
