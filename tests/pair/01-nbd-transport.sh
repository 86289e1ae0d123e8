#!/bin/sh
# timeout: 400
# The transport to the DR site: the DR's disk imported over NBD as
# /dev/nbd0, held open for the whole test by a dm-linear device (as a
# replicator's table would hold it). Flushed writes reach the DR's disk
# image; with the DR dead, I/O to the held device fails within seconds;
# once the DR is back, the same open device works again (nbd-reconnect
# hands the kernel a new connection) and the data is intact.
. /tests/lib.sh

dev=/dev/nbd0
step "waiting for the DR"
dr_start
step "attaching $dev"
nbd_attach $dev
nbd_watch $dev
assert_eq "$(sectors $dev)" 131072 "size of the imported DR disk (64 MiB)"
dmc create pairhold --table "0 131072 linear $dev 0"
held=/dev/mapper/pairhold

step "writes"
# Flushed writes are on the DR's disk, and read back the same.
h1=$(rand_write $held 512 0)
flush_dev $held
assert_eq "$(dr_sha 512 0)" "$h1" "DR disk image after a flushed 256 KiB write"
assert_eq "$(sha $held 512 0)" "$h1" "read back through the held device"

step "netem"
# netem on the link: a 200 ms delay shows in a 4 KiB read, which still works.
netem_set delay 200ms
t0=$(cut -d' ' -f1 /proc/uptime)
sha $dev 8 0 >/dev/null
ms=$(awk -v t0="$t0" '{ printf "%d", ($1 - t0) * 1000 }' /proc/uptime)
netem_clear
[ "$ms" -ge 200 ] || fail "a read under netem delay 200ms took only $ms ms"

# DR dead: a direct write to the held /dev/nbd0 fails (EIO) after the I/O
# timeout instead of hanging; later I/O fails at once.
step "killing the DR"
dr_kill
step "write with the DR dead"
limit=$((NBD_TIMEOUT * 2 + 10))
t0=$(cut -d' ' -f1 /proc/uptime)
rc=0
dead_write() { dd if=/dev/zero of=$dev bs=4k count=1 seek=1000 oflag=direct conv=notrunc 2>dead.err; }
try_io $limit dead_write || rc=$?
secs=$(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime)
[ $rc != 124 ] || fail "write to the dead DR still hangs after $limit s"
[ $rc != 0 ] || fail "write to the dead DR succeeded"
grep -q 'Input/output error' dead.err || fail "write to the dead DR: $(cat dead.err)"
echo "write with the DR dead failed after $secs s: $(grep -m1 error dead.err)"
rc=0
try_io 3 dd if=$held of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null || rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || fail "read with the DR dead: status $rc, not an immediate error"
# The holder still has it.
assert_eq "$(table_of pairhold)" "$(bdevno $dev) 0" "holder's table"

# DR back: the watcher reconnects; the held device works again.
dmesg_mark
step "restarting the DR"
dr_start
step "DR back, waiting for the held device to work"
i=0
until try_io 5 dd if=$held of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 60 ] || fail "held device still fails 60 s after the DR came back: $(cat /tmp/reconnect-nbd0.log)"
	sleep 1
done
expect_dmesg "nbd0: reconnected socket"
step "held device works again"
cat /tmp/reconnect-nbd0.log
assert_eq "$(sha $held 512 0)" "$h1" "data written before the DR restart, read through the held device"
h2=$(rand_write $held 512 4096)
flush_dev $held
assert_eq "$(sha $dev 512 4096)" "$h2" "read back directly from $dev"
assert_eq "$(dr_sha 512 4096)" "$h2" "DR disk image after a write through the reconnected device"
assert_eq "$(dr_sha 512 0)" "$h1" "DR disk image, first write"

dmc remove pairhold
nbd_detach $dev
