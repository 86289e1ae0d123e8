#!/usr/bin/env bash
# Run one shell script in the test guest, with the module loaded.
#
#   scripts/vm-run.sh SCRIPT
#
# Boots the guest (kernel flavour $DMR_FLAVOUR, default debug), insmods
# dm_replicator.ko, runs SCRIPT (any host file, copied into the guest) with
# /bin/sh in /tmp, prints its output and exits with its status. The guest
# has busybox, dmsetup (DM_DISABLE_UDEV=1 is exported), util-linux losetup
# and blockdev, coreutils dd, fio, and the test helpers at /tests/lib.sh.
# Exits 124 if the host timeout ($DMR_TIMEOUT, default 900 s) killed the
# guest, 125 if the guest died without reporting. Other settings: see vm.sh.
set -euo pipefail
. "$(dirname "$0")/vm.sh"

[ $# = 1 ] || { echo "usage: vm-run.sh SCRIPT" >&2; exit 2; }
script=$1
[ -f "$script" ] || { echo "vm-run.sh: $script: no such file" >&2; exit 2; }
# The guest path goes on the kernel command line: keep it plain.
name=$(basename "$script")
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || name=script.sh
limit=${DMR_TIMEOUT:-900}

if vm_boot run "/extra/$name" "$limit" "$script=/extra/$name"; then
	# A splat does not change the script's status, but must not go unseen.
	splat=$(sed -n '/dmr-init: up at/,$p' "$VM_LOG/console.log" |
		grep -m1 -E 'BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|kmemleak|lockdep|circular locking|recursive locking|inconsistent lock state|panicked|Call Trace:' || true)
	[ -z "$splat" ] || vm_log "warning: kernel log has: $splat (see $VM_LOG/console.log)"
	exit "$VM_RC"
fi
vm_explain_death "$limit"
[ "$VM_STATUS" = timeout ] && exit 124
exit 125
