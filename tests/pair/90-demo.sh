#!/bin/sh
# timeout: 900
# dr-agent: 1
# `make demo` as a test of the two-site suite, so a broken demo fails
# `make test`: tests/pair/demo.sh as it is, its narration in the test's
# output instead of on the host's terminal.
PAIR_SAY_QUIET=1
# Shorter loads than `make demo`'s: the same steps, less waiting.
DEMO_SLOW=8
DEMO_OUTAGE=16
. /tests/demo.sh
