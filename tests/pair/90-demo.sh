#!/bin/sh
# timeout: 900
# dr-agent: 1
# `make demo` as a test of the two-site suite, so a broken demo fails
# `make test`: tests/pair/demo.sh as it is, its narration in the test's
# output instead of on the host's terminal.
PAIR_SAY_QUIET=1
. /tests/demo.sh
