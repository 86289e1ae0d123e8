#!/bin/sh
# The demo scenario, run inside the VM by `make demo`: a replication group
# with a log, the local site and one remote site, one replicated device,
# data written and read back, and what dmsetup shows.
set -e
export DM_DISABLE_UDEV=1
dm() { dmsetup --noudevsync "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "RAM disks: /dev/ram0 log, /dev/ram1 local site, /dev/ram2 remote site"
for d in /dev/ram0 /dev/ram1 /dev/ram2; do blkdiscard "$d"; done

step "dmsetup targets"
dmsetup targets | grep -E 'replicator'

step "create the replicator: ringbuffer log on /dev/ram0, site links 0 (local) and 1 (remote, async, 1000 writes behind at most)"
dm create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 0 blockdev 4 1 asynchronous ios 1000"

step "create replicator-dev data0: local /dev/ram1, remote /dev/ram2 with a core dirty log of 1 MiB regions"
size=$(blockdev --getsz /dev/ram1)
dm create data0 --table "0 $size replicator-dev /dev/mapper/repl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/ram2 core 2 2048 sync"

step "write 16 MiB of random data through /dev/mapper/data0 and read it back"
dd if=/dev/urandom of=/tmp/data bs=1M count=16 status=none
dd if=/tmp/data of=/dev/mapper/data0 bs=1M oflag=direct status=none
w=$(sha256sum </tmp/data | cut -d' ' -f1)
r=$(dd if=/dev/mapper/data0 bs=1M count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1)
l=$(dd if=/dev/ram1 bs=1M count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1)
echo "written          $w"
echo "read via data0   $r"
echo "on local device  $l"
[ "$w" = "$r" ] && [ "$w" = "$l" ] || { echo "MISMATCH"; exit 1; }

step "site link message: make site link 1 synchronous; statistics on"
dm message repl 0 slink message 1 policy synchronous
dm message repl 0 statistics on
dd if=/dev/mapper/data0 of=/dev/null bs=1M count=4 iflag=direct status=none

step "dmsetup table"
dm table
step "dmsetup status"
dm status

step "tear down"
dm remove data0
dm remove repl
echo "demo done"
