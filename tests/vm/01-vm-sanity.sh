#!/bin/sh
# timeout: 180
# The test guest itself works, without our module: the tools are there,
# dm-linear maps a brd ram disk, O_DIRECT data round-trips through both.
. /tests/lib.sh

# The tools the other tests rely on.
dd --version | head -n1 | grep -F coreutils
losetup --version | grep -F util-linux
blockdev --getsz /dev/ram0
dmsetup version
fio --version

# Every CPU QEMU was given is online (the kernel finds them in ACPI's
# MADT), so locking and ordering bugs that need two CPUs can show.
[ -z "${DMR_CPUS:-}" ] || assert_eq "$(grep -c '^processor' /proc/cpuinfo)" "$DMR_CPUS" "online CPUs"

r=$(ramdev 0)
n=$(sectors "$r")
[ "$n" -gt 0 ] || fail "ram disk $r is empty"

dmc create dmr-sanity --table "0 $n linear $r 0"
dev=/dev/mapper/dmr-sanity
[ -b $dev ] || fail "$dev did not appear"
assert_eq "$(sectors $dev)" "$n" "size of $dev"

# 4 MiB of random data through dm, read back through dm and the ram disk.
sum=$(rand_write $dev 8192)
assert_eq "$(sha $dev 8192)" "$sum" "data read back through $dev"
assert_eq "$(sha "$r" 8192)" "$sum" "data read back through $r"

# A linear mapping at an offset lands at the offset on the disk.
dmc create dmr-sanity-off --table "0 2048 linear $r 20000"
sum=$(rand_write /dev/mapper/dmr-sanity-off 2048)
assert_eq "$(sha "$r" 2048 20000)" "$sum" "offset mapping on $r"
assert_eq "$(sha $dev 2048 20000)" "$sum" "offset mapping through $dev"
dmc remove dmr-sanity-off

# The status and table interfaces answer.
dmc table dmr-sanity | grep -F "0 $n linear"
dmc status dmr-sanity | grep -F "0 $n linear"
# lib.sh's status reader (dmstat) prints what dmsetup prints, and fails
# on a device that does not exist.
[ -x /usr/bin/dmstat ] || fail "no /usr/bin/dmstat (vm-test.sh builds it from tests/vm/dmstat.c)"
assert_eq "$(dmstat dmr-sanity)" "$(dmc status dmr-sanity)" "dmstat status"
assert_eq "$(dmstat -t dmr-sanity)" "$(dmc table dmr-sanity)" "dmstat table"
expect_fail dmstat dmr-no-such-device

# Async direct I/O with verification (libaio needs CONFIG_AIO).
fio --name=sanity --filename=$dev --rw=randwrite --bs=4k --size=1M \
	--direct=1 --ioengine=libaio --iodepth=8 --verify=crc32c --verify_fatal=1 \
	--output-format=terse >/dev/null

# A loop device on tmpfs works too.
l=$(loopdev 16)
assert_eq "$(sectors "$l")" 32768 "loop device size"
losetup -d "$l"

# Bad tables are refused, and the kernel log says why.
dmesg_mark
expect_fail dmc create dmr-sanity-bad --table "0 $((n + 8)) linear $r 8"
expect_dmesg "device-mapper: table"

dmc remove dmr-sanity
[ ! -e $dev ] || fail "$dev still there after remove"
