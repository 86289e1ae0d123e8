#!/usr/bin/env bash
# Build (or reuse) the guest kernel for one flavour: release or debug.
#
#   scripts/kernel.sh FLAVOUR      prints the build directory (KDIR) on stdout
#
# The build lives in the cache, keyed by kernel version, flavour, config
# fragments and compiler versions, so a second run is a no-op.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:?usage: kernel.sh release|debug}
case $flavour in release|debug) ;; *) echo "kernel.sh: unknown flavour $flavour" >&2; exit 2 ;; esac

src_tar=/usr/src/linux-source-6.12.tar.xz
[ -f "$src_tar" ] || { echo "kernel.sh: $src_tar missing; run 'make deps'" >&2; exit 1; }

kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
srcdir=$DMR_CACHE/src/linux-source-6.12-$kver
if [ ! -f "$srcdir/.dmr-extracted" ]; then
	echo "kernel.sh: extracting $src_tar" >&2
	rm -rf "$srcdir"; mkdir -p "$srcdir"
	tar -xf "$src_tar" -C "$srcdir" --strip-components=1
	touch "$srcdir/.dmr-extracted"
fi

frags=("$DMR_TOP/scripts/kconfig/base.config" "$DMR_TOP/scripts/kconfig/$flavour.config")
key=$( { echo "$kver $flavour $KLLVM"; cat "${frags[@]}"; "$KRUSTC" --version; "$BINDGEN" --version; clang-14 --version | head -1; } | sha256sum | cut -c1-12)
out=$DMR_CACHE/build/$flavour-$key
kmake=(make -C "$srcdir" O="$out" LLVM="$KLLVM" RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" BINDGEN="$BINDGEN")

if [ ! -f "$out/.dmr-built" ]; then
	echo "kernel.sh: building $flavour kernel in $out (several minutes)" >&2
	mkdir -p "$out"
	"${kmake[@]}" -s tinyconfig >&2
	"$srcdir/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >&2
	"${kmake[@]}" -s olddefconfig >&2
	# Every line of the fragments must have survived olddefconfig.
	bad=0
	while IFS= read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		opt=${line%%=*}; val=${line#*=}
		if [ "$val" = n ]; then
			grep -qx "# $opt is not set" "$out/.config" || { echo "kernel.sh: $opt=n did not stick" >&2; bad=1; }
		else
			grep -qx "$line" "$out/.config" || { echo "kernel.sh: $line did not stick" >&2; bad=1; }
		fi
	done < <(cat "${frags[@]}")
	[ $bad = 0 ] || exit 1
	"${kmake[@]}" -s -j"$(($(nproc) + 1))" bzImage modules >&2
	touch "$out/.dmr-built"
fi
echo "$out"
