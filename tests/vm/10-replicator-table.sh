#!/bin/sh
# The replicator target's table: the seed's and LVM2's lines load, the
# table output reloads verbatim, and malformed lines are refused with a
# specific reason, leaving nothing behind.
. /tests/lib.sh

ramdev 0 >/dev/null
dmc create replog_store --table "0 131072 linear /dev/ram0 0"
store=$(devno replog_store)

# The seed's example, verbatim.
dmc create repl --table "0 1 replicator ringbuffer 4 /dev/mapper/replog_store 32 auto 65536 blockdev 4 0 async ios 100 blockdev 4 1 async ios 10000"
want="ringbuffer 4 $store 32 auto 65536 blockdev 4 0 asynchronous ios 100 blockdev 4 1 asynchronous ios 10000"
assert_eq "$(table_of repl)" "$want" "table of the seed example"
assert_eq "$(dmc status repl | cut -d' ' -f4-)" "replicating 0/65512 2 0 A,0,0 1 A,0,0 8 A 1 1 0 0 0 0 0" "status"

# The table output reloads verbatim into an identical table.
dmc reload repl --table "$(dmc table repl)"
dmc resume repl
assert_eq "$(table_of repl)" "$want" "table after reload"
dmc remove repl

# LVM2's emitted form (slink 0 synchronous, open implied forms too).
dmc create repl --table "0 1 replicator ringbuffer 4 $store 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 100"
assert_eq "$(table_of repl)" "ringbuffer 4 $store 0 auto 65536 blockdev 2 0 synchronous blockdev 4 1 asynchronous ios 100" "LVM2 line"
assert_eq "$(dmc status repl | cut -d' ' -f4-)" "replicating 0/65512 2 0 S,0,0 1 A,0,0 8 A 1 1 0 0 0 0 0" "status of LVM2 line"
dmc remove repl

# Units, combined policies, the old ios=N form, and a bare slink.
dmc create repl --table "0 1 replicator ringbuffer 4 $store 0 create 4096 blockdev 2 0 sync+stall blockdev 4 1 async size 200m blockdev 4 2 stall timeout 5s blockdev 3 3 a ios=7 blockdev 1 4"
assert_eq "$(table_of repl)" "ringbuffer 4 $store 0 create 4096 blockdev 2 0 synchronous+stall blockdev 4 1 asynchronous size 200m blockdev 4 2 asynchronous+stall timeout 5s blockdev 4 3 asynchronous ios 7 blockdev 1 4" "units and policies"
t=$(dmc table repl)
dmc remove repl
dmc create repl --table "${t#0 1 replicator }" 2>/dev/null || dmc create repl --table "$t"
assert_eq "$(dmc table repl)" "$t" "table recreated from its own output"
dmc remove repl

# Open modes: implicit open (2 parameters) and explicit open.
dmc create repl --table "0 1 replicator ringbuffer 2 $store 0 blockdev 1 0"
assert_eq "$(table_of repl)" "ringbuffer 2 $store 0 blockdev 1 0" "implicit open"
dmc remove repl
dmc create repl --table "0 1 replicator ringbuffer 3 $store 0 open blockdev 1 0"
assert_eq "$(table_of repl)" "ringbuffer 3 $store 0 open blockdev 1 0" "explicit open"
dmc remove repl

# Malformed lines: each refused with its own reason (checked in one go).
ok="ringbuffer 4 $store 0 auto 65536"
bad() { refuse_table bad "0 1 replicator $1" "replicator: $2"; }
bad "" "Missing replication log type"
bad "ringbuffer" "Too few replication log parameters"
bad "ringbuffer x $store 0" "Invalid replication log parameter count"
bad "ringbuffer 9 $store 0 auto 65536 blockdev 1 0" "Too few replication log parameters"
bad "journal 4 $store 0 auto 65536 blockdev 1 0" "Unknown replication log type"
bad "ringbuffer 4 $store zero auto 65536 blockdev 1 0" "Invalid replication log device start"
bad "ringbuffer 4 $store 0 maybe 65536 blockdev 1 0" "Unknown replication log open mode"
bad "ringbuffer 3 $store 0 auto blockdev 1 0" "Replication log size required with auto or create"
bad "ringbuffer 4 $store 0 auto 100 blockdev 1 0" "Replication log size must be at least 2048 sectors"
bad "ringbuffer 4 $store 0 auto 0x100 blockdev 1 0" "Invalid replication log size"
bad "ringbuffer 4 $store 0 auto 262144 blockdev 1 0" "Replication log does not fit on its device"
bad "ringbuffer 4 $store 130000 auto 4096 blockdev 1 0" "Replication log does not fit on its device"
bad "ringbuffer 4 /dev/nonexistent 0 auto 65536 blockdev 1 0" "Cannot open replication log device"
bad "$ok" "At least one site link required"
bad "$ok blockdev 1 1" "First site link must be 0"
bad "$ok blockdev 1 0 blockdev 1 0" "Duplicate site link number"
bad "$ok tcp 1 0" "Unknown site link type"
bad "$ok blockdev 6 0 a ram ios 1 d" "Site link takes 1 to 5 parameters"
bad "$ok blockdev 5 0 a b ios 1" "Unknown site link completion (ram or disk)"
bad "$ok blockdev 3 0" "Too few site link parameters"
bad "$ok blockdev one 0" "Invalid site link parameter count"
bad "$ok blockdev 1 -1" "Invalid site link number"
bad "$ok blockdev 1 2048" "Site link number must be below 2048"
bad "$ok blockdev 2 0 fast" "Unknown site link policy"
bad "$ok blockdev 2 0 s" "Ambiguous site link policy abbreviation"
bad "$ok blockdev 2 0 sync+async" "Policies synchronous and asynchronous are mutually exclusive"
bad "$ok blockdev 4 0 sync ios 10" "Fall-behind limit not allowed on a synchronous site link"
bad "$ok blockdev 4 0 async bytes 10" "Unknown fall-behind type"
bad "$ok blockdev 4 0 async size 10q" "Unknown fall-behind unit"
bad "$ok blockdev 4 0 async ios 10k" "Fall-behind ios takes no unit"
bad "$ok blockdev 4 0 async ios ten" "Invalid fall-behind value"
bad "$ok blockdev 4 0 async ios 0" "Fall-behind value must not be 0"
bad "$ok blockdev 4 0 async size 99999999999999999e" "Fall-behind value too large"
expect_refusals

dmc remove replog_store
