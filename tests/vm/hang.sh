#!/bin/sh
# timeout: 30
# Self-test of the hang handling, never part of the suite (its name has no
# number): run it by name, e.g. `scripts/vm-test.sh hang 01-vm-sanity`.
# A writer blocks in D state on a suspended dm-linear device, which no
# signal can end. The runner's own timeout cannot kill it, so the host's
# watchdog must: `FAIL hang: hung: ...` within the timeout plus
# $DMR_HANG_SLACK, then the tests named after it run in a new guest.
. /tests/lib.sh

r=$(ramdev 0)
dmc create dmr-hang --table "0 8 linear $r 0"
dmc suspend dmr-hang
# O_DIRECT: the bio waits in the suspended device, uninterruptibly.
dd if=/dev/zero of=/dev/mapper/dmr-hang bs=4k count=1 oflag=direct status=none
fail "a write to a suspended device completed"
