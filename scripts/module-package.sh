#!/usr/bin/env bash
# make module-package: Debian packages of the module, for one kernel, and
# of the tools (Documentation/install.rst, "Module packages").
#
#   scripts/module-package.sh
#
# The kernel is chosen as for `make install` (scripts/install.sh): KDIR=DIR
# (a Rust-enabled build tree, or /usr/src/linux-headers-VER of a headers
# package built by `make kernel-package`), FLAVOUR=debug|release, or the
# running kernel. Two packages, VERSION being dkms.conf's:
#   dm-replicator-modules-KREL_VERSION_amd64.deb
#       lib/modules/KREL/updates/dm-replicator/dm_replicator.ko; depends on
#       linux-image-KREL; depmod at install and removal
#   dm-replicator-utils_VERSION_amd64.deb
#       usr/sbin/replog, usr/sbin/nbd-reconnect, the systemd units
#       (dm-replicator.service, nbd-reconnect@.service), the documentation
# Output: PKG_DIR (default $DMR_CACHE/module-package/KREL), the two paths
# printed on stdout. A kernel update needs a new modules package (or DKMS:
# make install-dkms); the utils package serves every kernel.
set -euo pipefail
. "$(dirname "$0")/env.sh"

die() { echo "module-package: $*" >&2; exit 1; }
[ $# = 0 ] || die "usage: module-package.sh (KDIR=, FLAVOUR= as for make install)"
command -v dpkg-deb >/dev/null || die "dpkg-deb missing: apt-get install dpkg"

version=$(sed -n 's/^PACKAGE_VERSION="\?\([^"]*\)"\?$/\1/p' "$DMR_TOP/dkms.conf")
[ -n "$version" ] || die "no PACKAGE_VERSION in dkms.conf"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mod=$stage/modules utils=$stage/utils
mkdir -p "$mod/DEBIAN" "$utils/DEBIAN"

INSTALL_PARTS=module INSTALL_MOD_PATH=$mod DEPMOD=: "$DMR_TOP/scripts/install.sh"
ko=$(cd "$mod" && find lib/modules -name dm_replicator.ko)
[ -n "$ko" ] || die "make install left no dm_replicator.ko"
krel=${ko#lib/modules/}
krel=${krel%%/*}
out=${PKG_DIR:-$DMR_CACHE/module-package/$krel}
mkdir -p "$out"

# deb DIR: build DIR into $out, print the package's path.
deb() {
	local name ver f
	name=$(sed -n 's/^Package: //p' "$1/DEBIAN/control")
	ver=$(sed -n 's/^Version: //p' "$1/DEBIAN/control")
	f=$out/${name}_${ver}_$arch.deb
	dpkg-deb --root-owner-group -Zxz --build "$1" "$f.tmp" >/dev/null
	mv "$f.tmp" "$f"
	echo "$f"
}

cat >"$mod/DEBIAN/control" <<EOF
Package: dm-replicator-modules-$krel
Source: dm-replicator
Version: $version
Architecture: $arch
Maintainer: dm-replicator developers <root@localhost>
Depends: linux-image-$krel
Recommends: dm-replicator-utils (= $version)
Section: kernel
Priority: optional
Description: dm-replicator kernel module for Linux $krel
 The replicator and replicator-dev device-mapper targets: block-level
 remote replication with write-order fidelity across a group of devices,
 through a persistent replication log.
EOF
for s in postinst postrm; do
	cat >"$mod/DEBIAN/$s" <<EOF
#!/bin/sh
set -e
# modules.dep of $krel names the module (or no longer does).
if command -v depmod >/dev/null 2>&1 && [ -d /lib/modules/$krel ]; then
	depmod -a $krel
fi
exit 0
EOF
	chmod 755 "$mod/DEBIAN/$s"
done

INSTALL_PARTS="replog nbd-reconnect unit doc" DESTDIR=$utils PREFIX=/usr "$DMR_TOP/scripts/install.sh"
cat >"$utils/DEBIAN/control" <<EOF
Package: dm-replicator-utils
Source: dm-replicator
Version: $version
Architecture: $arch
Maintainer: dm-replicator developers <root@localhost>
Depends: dmsetup, libc6
Recommends: nbd-client
Section: admin
Priority: optional
Description: dm-replicator tools: replog, nbd-reconnect, boot-time assembly
 replog inspects and checks the replication log, assembles the groups of
 /etc/dm-replicator/groups.conf at boot (dm-replicator.service) and shows
 their state; nbd-reconnect keeps a remote site's NBD device connected.
EOF

deb "$mod"
deb "$utils"
