#!/usr/bin/env bash
# make install: build dm_replicator.ko against one kernel and install it,
# with the replog and nbd-reconnect tools, the systemd units and the
# documentation.
# make install-dkms: the module's source for DKMS instead of a built module.
# make module KDIR=DIR: only build the module against DIR (--build-only).
#
#   scripts/install.sh [--build-only]
#
# The kernel, the first that applies:
#   KDIR=DIR              a Rust-enabled kernel build tree: the O= build
#                         directory of `make kernel-package` (printed at its
#                         end), or /lib/modules/VER/build of the
#                         linux-headers package it built
#   FLAVOUR=debug|release the cached test-guest kernel (scripts/kernel.sh);
#                         its module is scripts/module.sh's
#   neither               the running kernel: /lib/modules/$(uname -r)/build
#
# Where (Kbuild's and the GNU conventions):
#   INSTALL_MOD_PATH  root of the module tree (default /): the module goes to
#                     $INSTALL_MOD_PATH/lib/modules/VER/updates/dm-replicator/,
#                     VER the kernelrelease of the tree it was built against
#   DESTDIR, PREFIX   replog and nbd-reconnect to $DESTDIR$PREFIX/sbin
#                     (PREFIX=/usr/local), the units to
#                     $DESTDIR/lib/systemd/system, the documentation
#                     to $DESTDIR/usr/share/doc/dm-replicator, the DKMS
#                     source to $DESTDIR/usr/src/dm-replicator-VERSION
#   INSTALL_PARTS     what to install: "module replog nbd-reconnect unit doc"
#                     by default; "dkms" (make install-dkms) instead of
#                     "module"
#   CC, CFLAGS        the C compiler for nbd-reconnect (cc, -O2)
#   INSTALL_MOD_STRIP as for modules_install: 1 strips the module's debug
#                     information (a kernel with CONFIG_DEBUG_INFO, such as
#                     Debian's configuration, makes a 6 MiB module)
#   DEPMOD            the depmod to run (default: depmod from PATH or
#                     /sbin; DEPMOD=: to skip it)
set -euo pipefail
. "$(dirname "$0")/env.sh"

build_only=0
case ${1:-} in
'') ;;
--build-only) build_only=1 ;;
*) echo "usage: install.sh [--build-only]" >&2; exit 2 ;;
esac

parts=${INSTALL_PARTS:-module replog nbd-reconnect unit doc}
for p in $parts; do
	case $p in module | replog | nbd-reconnect | unit | doc | dkms) ;;
	*) echo "install.sh: unknown part '$p' in INSTALL_PARTS (known: module replog nbd-reconnect unit doc dkms)" >&2; exit 2 ;;
	esac
done
has_part() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
mod_root=${INSTALL_MOD_PATH:-}
destdir=${DESTDIR:-}
prefix=${PREFIX:-/usr/local}
docdir=/usr/share/doc/dm-replicator
# The one version of the module, its DKMS package and its targets.
version=$(sed -n 's/^PACKAGE_VERSION="\?\([^"]*\)"\?$/\1/p' "$DMR_TOP/dkms.conf")
[ -n "$version" ] || { echo "install.sh: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install: $*" >&2; }

# conf KDIR OPTION: the value of CONFIG_OPTION in KDIR's auto.conf.
conf() { sed -n "s/^CONFIG_$2=\"\?\([^\"]*\)\"\?$/\1/p" "$1/include/config/auto.conf"; }

# check_kdir KDIR: a tree an external Rust module can be built against.
check_kdir() {
	local k=$1
	[ -d "$k" ] || die "KDIR=$k: no such directory"
	[ -f "$k/include/config/kernel.release" ] && [ -f "$k/include/config/auto.conf" ] ||
		die "KDIR=$k: not a configured kernel build tree (no include/config/kernel.release)"
	[ "$(conf "$k" RUST)" = y ] ||
		die "the kernel of $k ($(cat "$k/include/config/kernel.release")) has no CONFIG_RUST:" \
			"dm_replicator.ko is a Rust module. Build and install a Rust-enabled kernel with" \
			"'make kernel-package' (Documentation/install.rst)."
	[ -f "$k/rust/libkernel.rmeta" ] ||
		die "$k has CONFIG_RUST but not the kernel's Rust metadata (rust/libkernel.rmeta):" \
			"linux-headers packages carry it only when built by 'make kernel-package'." \
			"Build against that kernel's build tree: make install KDIR=<its O= directory>."
	[ -f "$k/Module.symvers" ] || die "KDIR=$k: the kernel is not built (no Module.symvers)"
}

# The build of an arbitrary tree: like scripts/module.sh, sources mirrored
# into the cache, one build directory per tree and work tree.
build_kdir() {
	local k=$1 out llvm=() maj
	check_kdir "$k"
	out=$DMR_CACHE/module/kdir-$(realpath "$k" | sha256sum | cut -c1-8)-$(printf %s "$DMR_TOP" | sha256sum | cut -c1-8)
	mkdir -p "$out"
	rsync -a --delete \
		--exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' --exclude '*.mod*' \
		--exclude 'bindings_generated.rs' --exclude '*.rmeta' --exclude '*.d' \
		--exclude 'Module.symvers' --exclude 'modules.order' \
		--include '/Kbuild' --include '/src/***' --include '/include/***' --exclude '*' \
		"$DMR_TOP/" "$out/"
	# The module is compiled by the kernel's own compiler: clang of the
	# same major version (clang-14 on Debian 12), or gcc.
	if [ "$(conf "$k" CC_IS_CLANG)" = y ]; then
		maj=$(($(conf "$k" CLANG_VERSION) / 10000))
		if command -v "clang-$maj" >/dev/null; then llvm=(LLVM="-$maj"); else llvm=(LLVM=1); fi
	fi
	DMR_FAULT='' make -s -C "$k" M="$out" "${llvm[@]}" RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" \
		BINDGEN="$BINDGEN" -j"$(($(nproc) + 1))" modules >&2
	echo "$out/dm_replicator.ko"
}

# The kernel tree and the module built against it.
kdir=${KDIR:-}
flavour=${FLAVOUR:-}
ko=
if has_part module || [ $build_only = 1 ]; then
	if [ -n "$kdir" ]; then
		ko=$(build_kdir "$kdir")
	elif [ -n "$flavour" ]; then
		case $flavour in release | debug) ;; *) die "unknown FLAVOUR $flavour (debug or release)" ;; esac
		kdir=$("$DMR_TOP/scripts/kernel.sh" "$flavour")
		ko=$("$DMR_TOP/scripts/module.sh" "$flavour")
	else
		kdir=/lib/modules/$(uname -r)/build
		[ -e "$kdir" ] ||
			die "no build tree for the running kernel $(uname -r) ($kdir): give KDIR=<a Rust-enabled" \
				"kernel build tree> (make kernel-package prints one) or FLAVOUR=debug|release for the" \
				"test kernels"
		ko=$(build_kdir "$kdir")
	fi
fi
if [ $build_only = 1 ]; then
	echo "$ko"
	exit 0
fi

if has_part module; then
	krel=$(cat "$kdir/include/config/kernel.release")
	vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
	[ "${vermagic%% *}" = "$krel" ] ||
		die "$ko was built for '${vermagic%% *}', but $kdir is $krel"
	dest=$mod_root/lib/modules/$krel/updates/dm-replicator
	install -D -m 644 "$ko" "$dest/dm_replicator.ko"
	case ${INSTALL_MOD_STRIP:-} in
	'' | 0) ;;
	1) strip --strip-debug "$dest/dm_replicator.ko" ;;
	*) strip $INSTALL_MOD_STRIP "$dest/dm_replicator.ko" ;;
	esac
	# Signed with the kernel's own key when the tree has it (the build tree
	# of make kernel-package does; a headers package does not), as
	# modules_install would: else loading it taints a kernel with
	# CONFIG_MODULE_SIG ("module verification failed").
	if [ "$(conf "$kdir" MODULE_SIG)" = y ]; then
		key=$(conf "$kdir" MODULE_SIG_KEY)
		case $key in /* | pkcs11:*) ;; *) key=$kdir/$key ;; esac
		if [ -x "$kdir/scripts/sign-file" ] && [ -f "$key" ] && [ -f "$kdir/certs/signing_key.x509" ]; then
			"$kdir/scripts/sign-file" "$(conf "$kdir" MODULE_SIG_HASH)" "$key" \
				"$kdir/certs/signing_key.x509" "$dest/dm_replicator.ko"
			say "signed with $key"
		else
			say "note: not signed ($kdir has no module signing key); loading it taints the kernel"
		fi
	fi
	say "$dest/dm_replicator.ko ($krel)"
	[ -n "$mod_root" ] || [ -d "/lib/modules/$krel/kernel" ] ||
		say "note: kernel $krel is not installed on this machine"
	depmod=${DEPMOD-}
	if [ -z "$depmod" ]; then
		depmod=$(PATH=$PATH:/usr/sbin:/sbin command -v depmod || true)
	fi
	if [ "$depmod" = : ]; then
		say "depmod skipped (DEPMOD=:)"
	elif [ -z "$depmod" ]; then
		say "note: depmod not found (kmod): run 'depmod $krel' before 'modprobe dm_replicator'"
	else
		# A staging root has no modules.order or modules.builtin: not worth
		# a warning.
		"$depmod" -b "${mod_root:-/}" "$krel" 2> >(grep -v -e 'modules\.order' -e 'modules\.builtin' >&2)
	fi
fi

if has_part dkms; then
	src=$destdir/usr/src/dm-replicator-$version
	rm -rf "$src"
	mkdir -p "$src"
	rsync -a --exclude 'target/' --include '/Kbuild' --include '/dkms.conf' \
		--include '/src/***' --include '/include/***' --exclude '*' "$DMR_TOP/" "$src/"
	say "$src (DKMS source)"
	if [ -z "$destdir" ] && command -v dkms >/dev/null; then
		dkms status -m dm-replicator -v "$version" 2>/dev/null | grep -q . ||
			dkms add -m dm-replicator -v "$version"
		# Built for every installed kernel with CONFIG_RUST (AUTOINSTALL),
		# now for the running one if it is such a kernel; --force: again
		# from the sources just copied, if this version was built before.
		if grep -qs '^CONFIG_RUST=y' "/boot/config-$(uname -r)"; then
			dkms install --force -m dm-replicator -v "$version"
		else
			say "the running kernel $(uname -r) has no CONFIG_RUST: DKMS builds the module when a" \
				"Rust-enabled kernel's headers are installed, or: dkms install dm-replicator/$version -k VER"
		fi
	elif [ -z "$destdir" ]; then
		say "note: dkms not found (apt-get install dkms), then: dkms add dm-replicator/$version"
	fi
fi

if has_part replog; then
	bin=${CARGO_TARGET_DIR:-$DMR_TOP/target}/release/replog
	if command -v cargo >/dev/null; then
		(cd "$DMR_TOP" && cargo build --release --quiet -p replog) >&2
	elif [ -x "$bin" ]; then
		say "note: cargo not found; installing the replog built before ($bin)"
	else
		die "cargo not found: replog needs the project's Rust toolchain (rustup, rust-toolchain.toml)"
	fi
	install -D -m 755 "$bin" "$destdir$prefix/sbin/replog"
	say "$destdir$prefix/sbin/replog"
fi

# The NBD reconnection helper (Documentation/install.rst, "Reconnection"):
# plain C with libc and the kernel's UAPI headers, built with the system's
# compiler into the cache.
if has_part nbd-reconnect; then
	nr_src=$DMR_TOP/tools/nbd-reconnect/nbd-reconnect.c
	nr_out=$DMR_CACHE/nbd-reconnect/nbd-reconnect
	cc=${CC:-cc}
	command -v "$cc" >/dev/null ||
		die "no C compiler '$cc' for nbd-reconnect (apt-get install gcc, or set CC)"
	mkdir -p "${nr_out%/*}"
	# shellcheck disable=SC2086 # CFLAGS and LDFLAGS are word lists
	"$cc" ${CFLAGS:--O2} -Wall ${CPPFLAGS:-} -o "$nr_out.tmp" "$nr_src" ${LDFLAGS:-} >&2 ||
		die "cannot build nbd-reconnect with $cc (it needs linux/nbd-netlink.h: apt-get install linux-libc-dev)"
	mv "$nr_out.tmp" "$nr_out"
	install -D -m 755 "$nr_out" "$destdir$prefix/sbin/nbd-reconnect"
	say "$destdir$prefix/sbin/nbd-reconnect"
fi

if has_part unit; then
	# With the absolute paths of the tools installed here: systemd finds a
	# bare name only in its own fixed list of directories.
	unitdir=$destdir/lib/systemd/system
	mkdir -p "$unitdir"
	for u in dm-replicator.service nbd-reconnect@.service; do
		sed -e "s|^\(Exec[A-Za-z]*\)=replog |\1=$prefix/sbin/replog |" \
			-e "s|^\(Exec[A-Za-z]*\)=nbd-reconnect |\1=$prefix/sbin/nbd-reconnect |" \
			"$DMR_TOP/scripts/systemd/$u" >"$unitdir/$u.tmp"
		chmod 644 "$unitdir/$u.tmp"
		mv "$unitdir/$u.tmp" "$unitdir/$u"
	done
	say "$unitdir/dm-replicator.service (enable with: systemctl daemon-reload; systemctl enable dm-replicator.service)"
	say "$unitdir/nbd-reconnect@.service (per remote NBD device: /etc/dm-replicator/nbd-NAME.conf," \
		"then systemctl enable --now nbd-reconnect@NAME.service)"
fi

if has_part doc; then
	install -d "$destdir$docdir"
	install -m 644 "$DMR_TOP"/Documentation/*.rst "$destdir$docdir/"
	say "$destdir$docdir/"
fi
