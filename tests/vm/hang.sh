#!/bin/sh
# timeout: 30
# Self-test of the hang handling, never part of the suite (its name has no
# number): run it by name, e.g. `scripts/vm-test.sh hang 01-vm-sanity`.
# The test's own process becomes a writer blocked in D state on a
# suspended dm-linear device, which no signal can end: the runner's
# timeout cannot kill it and the runner waits for it for good. The
# hung-task detector panics the guest (within the timeout plus its 10 s
# period), or, booted with hung_task_panic=0, the host's watchdog kills it
# $DMR_HANG_SLACK s after the timeout. Either way `FAIL hang: ...` comes
# within a minute of the timeout, and the tests named after it run in a
# new guest.
. /tests/lib.sh

r=$(ramdev 0)
dmc create dmr-hang --table "0 8 linear $r 0"
dmc suspend dmr-hang
# O_DIRECT: the bio waits in the suspended device, uninterruptibly; exec,
# so the blocked writer is the process the runner waits for.
exec /usr/bin/dd if=/dev/zero of=/dev/mapper/dmr-hang bs=4k count=1 oflag=direct status=none
