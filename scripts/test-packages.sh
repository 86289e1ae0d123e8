#!/usr/bin/env bash
# The packages a test guest installs: the test kernel packaged by
# `make kernel-package KCONFIG_BASE=test`, and the module built against
# that package's linux-headers (as DKMS or `make install KDIR=` would on a
# server) and packaged by `make module-package`, with the tools' package.
#
#   scripts/test-packages.sh [FLAVOUR]     (debug, the default, or release)
#
# Prints the directory that holds the four .deb files: linux-image-KREL,
# linux-headers-KREL, dm-replicator-modules-KREL, dm-replicator-utils.
# The kernel package is cached (kernel-package.sh's key); the module is
# rebuilt incrementally. Used by the crash test (scripts/crash-test.sh,
# DMR_CRASH_PACKAGES=1) and built by make test before any guest boots.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:-debug}
case $flavour in debug | release) ;; *) echo "usage: test-packages.sh [debug|release]" >&2; exit 2 ;; esac
die() { echo "test-packages: $*" >&2; exit 1; }

KCONFIG_BASE=test KPKG_TEST_FLAVOUR=$flavour KDEB_COMPRESS=gzip \
	"$DMR_TOP/scripts/kernel-package.sh" >/dev/null
kdebs=$(KCONFIG_BASE=test KPKG_TEST_FLAVOUR=$flavour KDEB_COMPRESS=gzip \
	"$DMR_TOP/scripts/kernel-package.sh" 2>/dev/null | grep '\.deb$') ||
	die "kernel-package.sh listed no packages"
image=$(grep '/linux-image-[^/]*\.deb$' <<<"$kdebs" | grep -v -- '-dbg_' | head -1)
headers=$(grep '/linux-headers-[^/]*\.deb$' <<<"$kdebs" | head -1)
[ -n "$image" ] && [ -n "$headers" ] || die "no linux-image or linux-headers package in: $kdebs"

out=$DMR_CACHE/test-packages/$flavour
mkdir -p "$out"
# The headers as a server has them after dpkg -i, extracted once per
# package file.
hroot=$out/headers-$(basename "$headers" .deb)
if [ ! -f "$hroot/.dmr-extracted" ]; then
	rm -rf "$out"/headers-*
	mkdir -p "$hroot"
	dpkg-deb -x "$headers" "$hroot"
	touch "$hroot/.dmr-extracted"
fi
kdir=$(echo "$hroot"/usr/src/linux-headers-*)
[ -d "$kdir" ] || die "$headers holds no usr/src/linux-headers-*"

rm -f "$out"/*.deb
ln -s "$image" "$headers" "$out/"
KDIR=$kdir PKG_DIR=$out "$DMR_TOP/scripts/module-package.sh" >/dev/null
echo "$out"
