#!/bin/sh
# timeout: 500
# Remote site links: entries reach the remote devices for each policy and
# for several links; a failed link leaves local I/O alone, is retried and
# catches up; a log that runs full gives the link's entries up and the
# regions they wrote are resynchronised, and only those; a new device
# added with `sync` gets a full initial copy.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
len=32768                       # 16 MiB replicated device
# Three remote devices: a loop device (it has a write cache, so flushes
# reach it: see Completion below) and slices of ram2 and ram3, under
# linear devices whose tables the test swaps to cut a link.
r1=$(loopdev 16)
dmc create rs1 --table "0 $len linear $r1 0"
dmc create rs2 --table "0 $len linear /dev/ram2 $len"
dmc create rs3 --table "0 $len linear /dev/ram3 0"
dmc create log --table "0 4096 linear /dev/ram0 0"

dmc create repl --table "0 1 replicator ringbuffer 4 /dev/mapper/log 0 auto 4096 blockdev 1 0 blockdev 2 1 asynchronous"
ctl=$(devno repl)
dmc message repl 0 slink message 1 retest 200
dmc create r0 --table "0 $len replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/mapper/rs1 core 2 128 nosync"

# wait_caught_up N       site link N holds every entry
wait_caught_up() {
	local i=0
	while ! slink_backlog "$1" | grep -q '^[SMA],0,0$'; do
		i=$((i + 1)); [ $i -lt 300 ] || fail "slink $1 never caught up: $(dmc status repl)"
		sleep 0.1
	done
}
# wait_in_sync DEV N     DEV's remote on N is alive with every region in sync
wait_in_sync() {
	local i=0 want
	want="A $(($len / 128))/$(($len / 128))"
	while [ "$(remote_state "$1" "$2")" != "$want" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || fail "$1 on slink $2 never in sync: $(dmc status "$1")"
		sleep 0.1
	done
}
same() { # same A B WHAT: equal contents over the replicated length
	assert_eq "$(sha "$1" $len)" "$(sha "$2" $len)" "$3"
}

# Asynchronous: entries arrive in the background.
assert_eq "$(remote_state r0 1)" "A 256/256" "remote status, nosync"
rand_write /dev/mapper/r0 8192 100 >/dev/null
wait_caught_up 1
same /dev/mapper/r0 /dev/mapper/rs1 "async copy"

# Synchronous: once the write returns the remote has it.
dmc message repl 0 slink message 1 policy synchronous
assert_eq "$(slink_backlog 1)" "S,0,0" "synchronous link in status"
sum=$(rand_write /dev/mapper/r0 2048 20000)
assert_eq "$(sha /dev/mapper/rs1 2048 20000)" "$sum" "sync write is on the remote when it completes"

# Completion: a synchronous link completes a write once a flush made it
# durable at the site (`disk`, the default), or with `ram` once the
# site's device completed it. The site's flushes are held 60 s (dm-delay)
# while a write waits under `disk`; switching the link to `ram` lets it
# complete, still counted in the backlog until the flush.
lower rs1 "0 $len delay $r1 0 0 $r1 0 0 $r1 0 60000"
dmc message repl 0 slink message 1 policy synchronous disk
assert_eq "$(table_of repl | grep -o 'blockdev 3 1 synchronous disk$')" "blockdev 3 1 synchronous disk" "disk in the table"
dd if=/dev/urandom of=/dev/mapper/r0 bs=4096 count=1 seek=3000 oflag=direct conv=notrunc status=none &
writer=$!
sleep 3
kill -0 $writer 2>/dev/null || fail "a write completed before the site's flush (disk)"
assert_eq "$(slink_backlog 1)" "S,1,8" "the waiting write in the backlog"
dmc message repl 0 slink message 1 policy synchronous ram
i=0
while kill -0 $writer 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 200 ] || fail "the write still waits after the switch to ram: $(dmc status repl)"
	sleep 0.1
done
wait $writer || fail "the write held under disk failed"
assert_eq "$(slink_backlog 1)" "M,1,8" "ram link in status, the entry not yet durable there"
sum=$(rand_write /dev/mapper/r0 8 24000)
assert_eq "$(sha $r1 8 24000)" "$sum" "a ram write is on the site's device when it completes"
assert_eq "$(table_of repl | grep -o 'blockdev 3 1 synchronous ram$')" "blockdev 3 1 synchronous ram" "ram in the table"
# The table reloads verbatim, and a policy message keeps the word.
t=$(dmc table repl)
dmc load repl --table "$t"
dmc resume repl
assert_eq "$(dmc table repl)" "$t" "table with ram reloaded"
dmc message repl 0 slink message 1 policy asynchronous
assert_eq "$(table_of repl | grep -o 'blockdev 3 1 asynchronous ram$')" "blockdev 3 1 asynchronous ram" "policy message keeps ram"
# The held flushes go through when the delay's table is swapped.
lower rs1 "0 $len linear $r1 0"
wait_caught_up 1
same /dev/mapper/r0 /dev/mapper/rs1 "after the held flushes"
dmc message repl 0 slink message 1 policy asynchronous disk

# A link that writes wait for is fed from the writer's stable copy, not
# from the ring: with every read of the log device failing, a
# synchronous link still ships and stays up.
dmc message repl 0 slink message 1 policy synchronous
dmesg_mark
lower log "0 4096 flakey /dev/ram0 0 0 1 1 error_reads"
sum=$(rand_write /dev/mapper/r0 256 26000)
assert_eq "$(sha /dev/mapper/rs1 256 26000)" "$sum" "a synchronous copy with the log unreadable"
assert_eq "$(remote_state r0 1 | cut -c1)" "A" "link up with the log unreadable"
! _dmesg_has "slink=1 down" || fail "the link read the ring: $(dmesg | grep -F slink=1 | tail -n 2)"
lower log "0 4096 linear /dev/ram0 0"
dmc message repl 0 slink message 1 policy asynchronous

# A failed link: local I/O goes on, the link shows W and comes back.
dmesg_mark
lower rs1 "0 $len error"
sum=$(rand_write /dev/mapper/r0 1024 3000)
assert_eq "$(sha /dev/ram1 1024 3000)" "$sum" "local write with the link down"
expect_dmesg "slink=1 down (write error, "
assert_eq "$(remote_state r0 1 | cut -c1)" "W" "link down in status"
lower rs1 "0 $len linear $r1 0"
expect_dmesg "slink=1 up again after"
wait_caught_up 1
same /dev/mapper/r0 /dev/mapper/rs1 "after the link came back"
assert_eq "$(remote_state r0 1)" "A 256/256" "nothing to resync after a short outage"

# A cut long enough to fill the log: its entries are given up and the
# regions they wrote resynchronised, exactly those.
dmesg_mark
lower rs1 "0 $len error"
# 12 regions (64 KiB each), rewritten until the 2 MiB log ran over.
for pass in 1 2 3 4 5 6; do
	for r in 3 7 8 9 40 41 100 150 200 201 250 255; do
		scribble /dev/mapper/r0 128 $((r * 128))
	done
done
expect_dmesg "log full: slink=1 gives up"
state=$(remote_state r0 1)
assert_eq "$state" "W 244/256" "12 regions out of sync"
lower rs1 "0 $len linear $r1 0"
wait_in_sync r0 1
wait_caught_up 1
expect_dmesg "slink=1 device 0 in sync; 12 regions resynchronised"
same /dev/mapper/r0 /dev/mapper/rs1 "after resync"

# Two more site links, one device each added online: `sync` copies all.
dmc message repl 0 slink add blockdev 2 2 synchronous
dmc message repl 0 slink add blockdev 2 3 asynchronous
dmc message r0 0 device add $ctl 0 2 1 /dev/mapper/rs2 core 2 128 sync
dmc message r0 0 device add $ctl 0 3 1 /dev/mapper/rs3 core 2 128 sync
fio --name=mix --filename=/dev/mapper/r0 --rw=randwrite --bs=4k --iodepth=8 \
	--ioengine=libaio --direct=1 --io_size=2M --output=/dev/null || fail "fio"
for n in 1 2 3; do
	wait_in_sync r0 $n
	wait_caught_up $n
done
same /dev/mapper/r0 /dev/mapper/rs1 "slink 1 of 3"
same /dev/mapper/r0 /dev/mapper/rs2 "slink 2 of 3 (sync, initial copy)"
same /dev/mapper/r0 /dev/mapper/rs3 "slink 3 of 3 (async, initial copy)"

# Remove a device and its link online; the rest goes on.
dmc message r0 0 device del 3
dmc message repl 0 slink del 3
rand_write /dev/mapper/r0 256 0 >/dev/null
wait_caught_up 1
same /dev/mapper/r0 /dev/mapper/rs1 "after device del"

dmc remove r0
dmc remove repl
for d in rs1 rs2 rs3 log; do dmc remove $d; done
losetup -d "$r1"
