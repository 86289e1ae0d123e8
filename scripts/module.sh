#!/usr/bin/env bash
# Build dm_replicator.ko against the cached kernel of one flavour and print
# the path of the .ko. The sources are mirrored into the cache first, so the
# work tree never holds build artefacts.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:?usage: module.sh release|debug}
kdir=$("$DMR_TOP/scripts/kernel.sh" "$flavour")
# One build directory per work tree, so that two checkouts never share one.
out=$DMR_CACHE/module/$(basename "$kdir")-$(printf %s "$DMR_TOP" | sha256sum | cut -c1-8)
# DMR_FAULT=NAME: a test-only build with one deliberate bug (see Kbuild),
# in a directory of its own.
fault=${DMR_FAULT:-}
case $fault in
'' | ack_before_flush) ;;
*) echo "module.sh: unknown DMR_FAULT $fault (known: ack_before_flush)" >&2; exit 2 ;;
esac
out=$out${fault:+-fault-$fault}
export DMR_FAULT=$fault
mkdir -p "$out"
rsync -a --delete \
	--exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod*' \
	--exclude 'bindings_generated.rs' --exclude '*.rmeta' --exclude '*.d' \
	--exclude 'Module.symvers' --exclude 'modules.order' \
	--include '/Kbuild' --include '/src/***' --include '/include/***' --exclude '*' \
	"$DMR_TOP/" "$out/"
make -s -C "$kdir" M="$out" LLVM="$KLLVM" RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" \
	BINDGEN="$BINDGEN" -j"$(($(nproc) + 1))" modules >&2
echo "$out/dm_replicator.ko"
