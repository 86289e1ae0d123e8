#!/bin/sh
# Messages of both targets: every valid message takes effect (table,
# status, events), every invalid one is refused with its reason in the
# kernel log and changes nothing.
. /tests/lib.sh

for i in 0 1 2 3; do ramdev $i >/dev/null; done
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 0 blockdev 4 1 asynchronous ios 100"
ctl=$(devno repl)
r1=$(bdevno /dev/ram1); r2=$(bdevno /dev/ram2)
dmc create r0 --table "0 65536 replicator-dev $ctl 0 0 1 /dev/ram1 nolog 0 1 1 /dev/ram2 core 2 2048 nosync"
rtable() { table_of repl | cut -d' ' -f7-; }
events() { dmc info -c --noheadings -o events "$1" | tr -d ' '; }

# Site links: add, change policy and limit, delete.
e=$(events repl)
dmc message repl 0 slink add blockdev 4 2 async size 64m
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100 blockdev 4 2 asynchronous size 64m" "slink add"
[ "$(events repl)" -gt "$e" ] || fail "slink add raised no event"
dmc message repl 0 slink message 2 fallbehind timeout=3m
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100 blockdev 4 2 asynchronous timeout 3m" "fallbehind by assignment"
dmc message repl 0 slink message 2 fallbehind ios 5
dmc message repl 0 slink message 2 policy async+stall
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100 blockdev 4 2 asynchronous+stall ios 5" "policy change"
dmc message repl 0 slink message 2 policy sync
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100 blockdev 2 2 synchronous" "synchronous drops the limit"
assert_eq "$(dmc status repl | cut -d' ' -f4-)" "replicating 0/65512 3 0 A,0,0 1 A,0,0 2 S,0,0 8 A 1 1 0 0 0 0 0" "status after policy change"
expect_msg_refused repl "message refused: Fall-behind limit not allowed on a synchronous site link" slink message 2 fallbehind ios 5
dmc message repl 0 slink del 2
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100" "slink del"

refuse_msg repl "message refused: Site link still has devices" slink del 1
refuse_msg repl "message refused: Site link does not exist" slink del 9
refuse_msg repl "message refused: Site link already exists" slink add blockdev 1 1
refuse_msg repl "message refused: Site link 0 cannot be added or deleted by message" slink del 0
refuse_msg repl "message refused: Site link does not exist" slink message 9 policy sync
refuse_msg repl "message refused: Unknown site link policy" slink message 1 policy fast
refuse_msg repl "message refused: Unknown site link command" slink rename 1
refuse_msg repl "message refused: Unknown message" explode
refuse_msg repl "message refused: Only all may follow start or stop" start now
refuse_msg repl "message refused: Unknown statistics argument" statistics maybe
refuse_msg repl "message refused: Replication log does not fit on its device" replog resize 999999
refuse_msg repl "message refused: Replication log size must be at least 2048 sectors" replog resize 10
refuse_msg repl "message refused: Unknown replication log command" replog shrink
expect_refusals
assert_eq "$(rtable)" "blockdev 1 0 blockdev 4 1 asynchronous ios 100" "refused messages changed nothing"

# Log resize shows in the table and the status.
dmc message repl 0 replog resize 32768
assert_eq "$(table_of repl | cut -d' ' -f1-6 | sed 's/ [0-9]*:[0-9]* / X /')" "ringbuffer 4 X 0 auto 32768" "resized log"
assert_eq "$(dmc status repl | cut -d' ' -f5)" "0/32744" "resized log status"
dmc message repl 0 replog resize 65536
assert_eq "$(dmc status repl | cut -d' ' -f5)" "0/65512" "log grown again"

# The log's counters: hidden, shown, reset.
dd if=/dev/zero of=/dev/mapper/r0 bs=4k count=2 oflag=direct status=none
assert_eq "$(dmc status repl | cut -d' ' -f11-)" "8 A 1 3 0 2 2 2 0" "log counters after two writes"
dmc message repl 0 replog statistics off
assert_eq "$(dmc status repl | cut -d' ' -f11-)" "4 A 1 3 0" "log counters hidden"
dmc message repl 0 replog statistics reset
dmc message repl 0 replog statistics on
assert_eq "$(dmc status repl | cut -d' ' -f11-)" "8 A 1 3 0 0 0 0 0" "log counters reset"

# Statistics count the group's I/O while on.
dmc message repl 0 statistics on
dd if=/dev/mapper/r0 of=/dev/null bs=4k count=3 iflag=direct status=none
dd if=/dev/zero of=/dev/mapper/r0 bs=4k count=2 oflag=direct status=none
assert_eq "$(dmc status repl | sed 's/.* stats //')" "r=3 w=2 rs=24 ws=16" "statistics"
dmc message repl 0 statistics reset
assert_eq "$(dmc status repl | sed 's/.* stats //')" "r=0 w=0 rs=0 ws=0" "statistics reset"
dmc message repl 0 statistics off
case "$(dmc status repl)" in *stats*) fail "statistics still shown after off" ;; esac

# Start and stop, for the group and for one device.
e=$(events r0)
dmc message r0 0 stop
assert_eq "$(dmc status r0 | cut -d' ' -f6)" "stopped" "device stopped"
[ "$(events r0)" -gt "$e" ] || fail "stop raised no event"
dmc message r0 0 start
assert_eq "$(dmc status r0 | cut -d' ' -f6)" "replicating" "device started"
dmc message repl 0 stop all
assert_eq "$(dmc status repl | cut -d' ' -f4)" "stopped" "group stopped"
assert_eq "$(dmc status r0 | cut -d' ' -f6)" "stopped" "stop all reaches devices"
dmc message repl 0 start all
assert_eq "$(dmc status r0 | cut -d' ' -f6)" "replicating" "start all reaches devices"

# Devices: delete and add a remote device online, with data flowing.
sum=$(rand_write /dev/mapper/r0 256)
dmc message r0 0 device del 1
assert_eq "$(table_of r0)" "$ctl 0 0 1 $r1 nolog 0" "device del"
dmc message repl 0 slink del 1
dmc message repl 0 slink add blockdev 2 1 sync
dmc message r0 0 device add $ctl 0 1 1 /dev/ram2 core 2 2048 sync
assert_eq "$(table_of r0 | cut -d' ' -f8-)" "1 1 $r2 core 2 2048 sync" "device add"
wait_eq "2 0 A - 1 A 32/32" "status after device add and its initial copy" eval "dmc status r0 | cut -d' ' -f7-"
assert_eq "$(sha /dev/mapper/r0 256)" "$sum" "data intact across device changes"
assert_eq "$(sha /dev/ram2 65536)" "$(sha /dev/ram1 65536)" "added device equals the local one after its initial copy"

refuse_msg r0 "message refused: Device already on this site link" device add $ctl 0 1 1 /dev/ram3 core 1 2048
refuse_msg r0 "message refused: Replicator device or device number does not match this device" device add $ctl 5 1 1 /dev/ram3 core 1 2048
refuse_msg r0 "message refused: Site link 0 device cannot be added or deleted by message" device del 0
refuse_msg r0 "message refused: No device on this site link" device del 7
refuse_msg r0 "message refused: Unknown device command" device swap 1
refuse_msg r0 "message refused: Too many message arguments" stop all

# A reload may not drop a site link that still has devices.
refuse_cmd "replicator: A removed site link still has devices" \
	dmc reload repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 0"
expect_refusals
dmc reload repl --table "0 1 replicator ringbuffer 4 /dev/ram0 0 auto 65536 blockdev 1 0 blockdev 2 1 sync blockdev 1 5"
dmc resume repl
assert_eq "$(rtable)" "blockdev 1 0 blockdev 2 1 synchronous blockdev 1 5" "reloaded site links"

dmc remove r0
dmc remove repl
