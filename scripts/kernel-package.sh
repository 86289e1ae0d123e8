#!/usr/bin/env bash
# make kernel-package: installable Debian packages of Linux 6.12 with
# CONFIG_RUST, for a server that runs dm_replicator.ko
# (Documentation/install.rst, "The kernel").
#
#   scripts/kernel-package.sh [--config-only]
#
# The source is Debian's linux-source-6.12 (/usr/src/linux-source-6.12.tar.*),
# unpacked into the cache apart from the test kernels' tree: its packaging
# script is patched so that the linux-headers package carries the kernel's
# Rust metadata (rust/*.rmeta, libmacros.so), without which no Rust module,
# ours included, builds against it (DKMS, make install).
#
# The configuration, KCONFIG_BASE:
#   debian (default)  Debian's own for this machine's flavour (amd64,
#                     cloud-amd64 or rt-amd64; KPKG_FLAVOUR to choose), the
#                     first found of: KCONFIG_FILE=PATH; /boot/config-$(uname -r)
#                     if the running kernel is Debian's 6.12; the .config of an
#                     installed linux-headers-6.12.*-<flavour>; the <flavour>
#                     configuration of linux-config-6.12
#   test              the test guests' kernel (scripts/kernel.sh, flavour
#                     KPKG_TEST_FLAVOUR: debug, the default, or release),
#                     packaged from a copy of its build tree with
#                     LOCALVERSION set: a minute, not a build. It boots the
#                     QEMU guests, not a real server (no disk, file system
#                     or network drivers beyond virtio); the crash test
#                     boots it (Documentation/testing.rst)
# Debian's is merged with what the module needs (CONFIG_RUST and what Rust
# needs in 6.12, device-mapper, see below), then olddefconfig; then, for
# both, a check that CONFIG_RUST=y and every option the module needs stuck
# (else it fails, saying which dependency is off).
#
# Other variables:
#   KPKG_LOCALVERSION  appended to the kernelrelease (default -dmr-<flavour>,
#                      -dmr-test): 6.12.118-dmr-amd64 installs beside Debian's
#                      6.12.118+deb12-amd64
#   KPKG_DEBUG_INFO=n  no debug information: a much faster build, no -dbg
#                      package, but no BTF either (BPF tools need it)
#   KPKG_CC            the C compiler: gcc (default with Debian's
#                      configuration: Debian's compiler; clang 14 lacks the
#                      return-thunk and SLS options of the retbleed, SRSO and
#                      ITS mitigations, so olddefconfig would drop them) or
#                      clang (LLVM=-14; always with KCONFIG_BASE=test, whose
#                      tree clang built)
#   KDEB_COMPRESS      the packages' compression (the kernel's: xz by
#                      default; gzip is several times faster)
#
# Output: $DMR_CACHE/kernel-package/<base>-<flavour>-<key>/ holds the .deb
# files, printed at the end; its build/ is the kernel build tree, the KDIR
# for `make install KDIR=...`.
set -euo pipefail
. "$(dirname "$0")/env.sh"

config_only=0
case ${1:-} in
'') ;;
--config-only) config_only=1 ;;
*) echo "usage: kernel-package.sh [--config-only]" >&2; exit 2 ;;
esac
die() { echo "kernel-package: $*" >&2; exit 1; }
say() { echo "kernel-package: $*" >&2; }

base=${KCONFIG_BASE:-debian}
case $base in debian | test) ;; *) die "unknown KCONFIG_BASE=$base (debian or test)" ;; esac

src_tar=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -1 || true)
[ -n "$src_tar" ] || die "/usr/src/linux-source-6.12.tar.* missing: apt-get install linux-source-6.12 (make deps)"
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)

# --- The base configuration -------------------------------------------------

running=$(uname -r)
if [ -n "${KPKG_FLAVOUR:-}" ]; then
	flavour=$KPKG_FLAVOUR
else
	case $running in
	6.*+deb*-*) flavour=${running#*+deb*-} ;;
	*) flavour=amd64 ;;
	esac
fi
case $flavour in amd64 | cloud-amd64 | rt-amd64) ;; *) die "unknown flavour $flavour (KPKG_FLAVOUR=amd64|cloud-amd64|rt-amd64)" ;; esac

# find_debian_config: print the path of Debian's configuration and say where
# it comes from; fail with the package to install.
find_debian_config() {
	local f pkg owner
	if [ -n "${KCONFIG_FILE:-}" ]; then
		[ -f "$KCONFIG_FILE" ] || die "KCONFIG_FILE=$KCONFIG_FILE: no such file"
		say "base configuration: $KCONFIG_FILE (KCONFIG_FILE)"
		echo "$KCONFIG_FILE"
		return
	fi
	f=/boot/config-$running
	if [ -f "$f" ] && [[ $running == 6.12.* ]]; then
		owner=$(dpkg-query -S "$f" 2>/dev/null | cut -d: -f1 || true)
		if [[ $owner == linux-image-6.12.*+deb* ]]; then
			say "base configuration: $f (the running kernel, $owner)"
			echo "$f"
			return
		fi
	fi
	pkg=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "linux-headers-6.12.*-$flavour" 2>/dev/null |
		awk '$1 == "ii" { print $2 }' | grep -E "^linux-headers-6\.12\.[0-9]+\+deb[0-9]+-$flavour\$" |
		sort -V | tail -1 || true)
	if [ -n "$pkg" ] && [ -f "/usr/src/$pkg/.config" ]; then
		say "base configuration: /usr/src/$pkg/.config ($pkg)"
		echo "/usr/src/$pkg/.config"
		return
	fi
	case $flavour in
	rt-amd64) f=/usr/src/linux-config-6.12/config.amd64_rt_amd64.xz ;;
	*) f=/usr/src/linux-config-6.12/config.amd64_none_$flavour.xz ;;
	esac
	if [ -f "$f" ]; then
		say "base configuration: $f (linux-config-6.12)"
		echo "$f"
		return
	fi
	die "no Debian configuration of Linux 6.12 for the $flavour flavour on this machine" \
		"(the running kernel is $running; no linux-headers-6.12.*-$flavour, no linux-config-6.12)." \
		"Install the one matching linux-source-6.12 $kver: apt-get install linux-config-6.12" \
		"(or linux-headers-6.12.*+deb12-$flavour), or give KCONFIG_FILE=PATH, or" \
		"KCONFIG_BASE=test for the test guests' configuration."
}


if [ "$base" = debian ]; then
	base_file=$(find_debian_config)
	base_text=$(xzcat -f "$base_file")
	grep -q '^CONFIG_X86_64=y' <<<"$base_text" || die "$base_file is not an x86_64 configuration"
	localversion=${KPKG_LOCALVERSION--dmr-$flavour}
else
	flavour=${KPKG_TEST_FLAVOUR:-debug}
	case $flavour in debug | release) ;; *) die "KPKG_TEST_FLAVOUR=$flavour: debug or release" ;; esac
	tree=$("$DMR_TOP/scripts/kernel.sh" "$flavour")
	base_text=$(cat "$tree/.config")
	localversion=${KPKG_LOCALVERSION--dmr-test}
	[ "${KPKG_CC:-clang}" = clang ] || die "KPKG_CC=$KPKG_CC: the test kernel's tree is built with clang"
	[ -z "${KPKG_DEBUG_INFO:-}" ] || say "note: KPKG_DEBUG_INFO is ignored with KCONFIG_BASE=test"
	KPKG_CC=clang KPKG_DEBUG_INFO=n
fi
debug_info=${KPKG_DEBUG_INFO:-y}
case $debug_info in y | n) ;; *) die "KPKG_DEBUG_INFO=$debug_info: y or n" ;; esac
cc=${KPKG_CC:-gcc}
case $cc in
gcc) llvm=() ;;
clang) llvm=(LLVM="$KLLVM") ;;
*) die "KPKG_CC=$cc: gcc or clang" ;;
esac

# pahole >= 1.24 keeps Debian's BTF (CONFIG_RUST needs its --lang_exclude);
# without it olddefconfig turns DEBUG_INFO_BTF off.
pahole_v=$(pahole --version 2>/dev/null || echo none)

key=$( {
	echo "$kver $base $flavour $localversion $debug_info $cc $KLLVM $pahole_v ${tree:-} ${KDEB_COMPRESS:-}"
	echo "$base_text"
	cat "$0"
	for t in "$KRUSTC" "$BINDGEN" clang-14 gcc; do "$t" --version 2>/dev/null | head -1 || echo "no $t"; done
} | sha256sum | cut -c1-12)
top=$DMR_CACHE/kernel-package/$base-$flavour-$key
out=$top/build

# list_packages: what a finished build left, and what to do with it.
list_packages() {
	say "packages in $top:"
	ls -1 "$top"/*.deb
	say "install on the server (not linux-libc-dev, which would replace Debian's):"
	say "  dpkg -i $(cd "$top" && ls linux-image-*.deb linux-headers-*.deb | grep -v -- '-dbg_' | tr '\n' ' ')"
	say "the module against this kernel: make install KDIR=$out"
}
# Built already (the key covers the configuration): nothing to redo.
if [ $config_only = 0 ] && [ -f "$top/.dmr-built" ]; then
	list_packages
	exit 0
fi

# --- The source tree ----------------------------------------------------------

if [ "$base" = test ]; then
	# The source the test kernel's tree was built from (scripts/kernel.sh):
	# the copy of the tree must find it where it was.
	srcdir=$(sed -n 's/^srctree := //p' "$tree/Makefile" 2>/dev/null || true)
	[ -n "$srcdir" ] && [ -d "$srcdir" ] || srcdir=$DMR_CACHE/src/linux-source-6.12-$kver
	[ -f "$srcdir/Makefile" ] || die "the test kernel's source $srcdir is missing"
else
	srcdir=$DMR_CACHE/kernel-package/src/linux-source-6.12-$kver
fi
if [ ! -f "$srcdir/.dmr-extracted" ]; then
	say "extracting $src_tar"
	rm -rf "$srcdir"; mkdir -p "$srcdir"
	tar -xf "$src_tar" -C "$srcdir" --strip-components=1
	touch "$srcdir/.dmr-extracted"
fi
# The linux-headers package of 6.12 has the C headers and scripts an
# external module needs, but not the Rust crates' metadata: add it (and the
# .config, which DKMS's BUILD_EXCLUSIVE_CONFIG reads) when CONFIG_RUST is on.
extmod=$srcdir/scripts/package/install-extmod-build
if ! grep -q 'dm-replicator' "$extmod"; then
	anchor="find \"\${destdir}\" \\( -name '.*.cmd' -o -name '*.o' \\) -delete"
	grep -qxF "$anchor" "$extmod" || die "$extmod changed: its last line is not the one this script patches before"
	awk -v anchor="$anchor" '
		$0 == anchor {
			print "# dm-replicator (scripts/kernel-package.sh): what an external Rust"
			print "# module is built with besides the C headers, the metadata of the"
			print "# kernel crates and the macros crate; and the configuration."
			print "if is_enabled CONFIG_RUST; then"
			print "\t{"
			print "\t\tfind rust -maxdepth 1 -type f \\( -name \"*.rmeta\" -o -name \"*.so\" \\)"
			print "\t\techo \"${KCONFIG_CONFIG:-.config}\""
			print "\t} | tar -c -f - -T - | tar -xf - -C \"${destdir}\""
			print "fi"
			print ""
		}
		{ print }' "$extmod" >"$extmod.new"
	chmod 755 "$extmod.new"
	mv "$extmod.new" "$extmod"
fi

kmake=(make -C "$srcdir" O="$out" "${llvm[@]}" RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" BINDGEN="$BINDGEN")

# --- The configuration --------------------------------------------------------

# What the module needs, beyond CONFIG_RUST: device-mapper (dm-mod: targets,
# dm-io, kcopyd), its dirty logs (dm-log, part of DM_MIRROR; userspace logs),
# crc32c; NBD for remote sites. Tristates: built in or modules.
need_bool=(MODULES MODULE_UNLOAD BLOCK MD)
need_tristate=(BLK_DEV_DM DM_MIRROR DM_LOG_USERSPACE LIBCRC32C CRYPTO_CRC32C BLK_DEV_NBD)

cfg() { "$srcdir/scripts/config" --file "$out/.config" "$@"; }
if [ "$base" = test ]; then
	# The test kernel as built, under its own release name: only what
	# includes the release string is rebuilt. Copies for earlier test
	# kernels (half a GiB each) go.
	find "$DMR_CACHE/kernel-package" -mindepth 1 -maxdepth 1 -name "test-$flavour-*" ! -path "$top" \
		-exec rm -rf {} + 2>/dev/null || true
	rm -rf "$out"
	mkdir -p "$top"
	cp -a "$tree" "$out"
	rm -f "$out/.dmr-built"
	cfg --set-str LOCALVERSION "$localversion" --disable LOCALVERSION_AUTO
else
	mkdir -p "$out"
	printf '%s\n' "$base_text" >"$out/.config"

	# CONFIG_RUST's dependencies in 6.12 (init/Kconfig) that a distribution
	# configuration may miss: no symbol versions (Rust symbols have none),
	# no structure layout randomisation, no clang CFI (rustc must match it).
	cfg --disable MODVERSIONS --enable RANDSTRUCT_NONE --disable RANDSTRUCT_FULL \
		--disable RANDSTRUCT_PERFORMANCE --disable CFI_CLANG
	if [ "$debug_info" = n ]; then
		cfg --enable DEBUG_INFO_NONE --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
			--disable DEBUG_INFO_DWARF4 --disable DEBUG_INFO_DWARF5 --disable DEBUG_INFO_BTF
	fi
	cfg --enable RUST
	for o in "${need_bool[@]}"; do cfg --enable "$o"; done
	for o in "${need_tristate[@]}"; do
		grep -Eq "^CONFIG_$o=[ym]$" "$out/.config" || cfg --module "$o"
	done
	# Debian's configuration names Debian's signing certificates, which are
	# not in the source: the build signs the modules with a key of its own.
	cfg --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS "" \
		--set-str LOCALVERSION "$localversion" --disable LOCALVERSION_AUTO
	grep -q '^CONFIG_MODULE_SIG=y' "$out/.config" && cfg --enable MODULE_SIG_ALL
fi
"${kmake[@]}" -s olddefconfig >&2
# include/config/auto.conf, which the kernelrelease is read from.
"${kmake[@]}" -s syncconfig >&2

# --- The check ----------------------------------------------------------------

on() { grep -q "^CONFIG_$1=y" "$out/.config"; }
val() { sed -n "s/^CONFIG_$1=//p" "$out/.config"; }
if ! on RUST; then
	echo "kernel-package: CONFIG_RUST is off in $out/.config after olddefconfig:" >&2
	on HAVE_RUST || echo "  HAVE_RUST is off: no Rust support on this architecture" >&2
	if ! on RUST_IS_AVAILABLE; then
		echo "  RUST_IS_AVAILABLE is off, the toolchain check (make rustavailable) says:" >&2
		"${kmake[@]}" -s --no-print-directory rustavailable 2>&1 | sed 's/^/    /' >&2 || true
	fi
	on MODVERSIONS && echo "  MODVERSIONS is on (must be off)" >&2
	on RANDSTRUCT && echo "  RANDSTRUCT is on (must be off: RANDSTRUCT_NONE)" >&2
	on GCC_PLUGIN_RANDSTRUCT && echo "  GCC_PLUGIN_RANDSTRUCT is on" >&2
	if on DEBUG_INFO_BTF; then
		on PAHOLE_HAS_LANG_EXCLUDE ||
			echo "  DEBUG_INFO_BTF is on but pahole $(val PAHOLE_VERSION) < 1.24 (PAHOLE_HAS_LANG_EXCLUDE): install dwarves or KPKG_DEBUG_INFO=n" >&2
		on LTO && echo "  DEBUG_INFO_BTF is on together with LTO" >&2
	fi
	on CFI_CLANG && ! on HAVE_CFI_ICALL_NORMALIZE_INTEGERS_RUSTC &&
		echo "  CFI_CLANG is on and rustc cannot match it" >&2
	on CALL_PADDING && [ "$(val RUSTC_VERSION)" -lt 108100 ] &&
		echo "  CALL_PADDING is on and rustc is older than 1.81" >&2
	on KASAN && ! on CC_IS_CLANG && echo "  KASAN is on with gcc (needs LLVM=1)" >&2
	on KASAN_SW_TAGS && echo "  KASAN_SW_TAGS is on" >&2
	on MITIGATION_RETHUNK && on KASAN && [ "$(val RUSTC_VERSION)" -lt 108300 ] &&
		echo "  MITIGATION_RETHUNK and KASAN are on and rustc is older than 1.83" >&2
	exit 1
fi
bad=0
for o in "${need_bool[@]}"; do
	on "$o" || { echo "kernel-package: CONFIG_$o is off; the module needs it" >&2; bad=1; }
done
for o in "${need_tristate[@]}"; do
	grep -Eq "^CONFIG_$o=[ym]$" "$out/.config" ||
		{ echo "kernel-package: CONFIG_$o is off; the module needs it (y or m)" >&2; bad=1; }
done
on MODVERSIONS && { echo "kernel-package: CONFIG_MODVERSIONS is on" >&2; bad=1; }
[ $bad = 0 ] || exit 1

krel=$("${kmake[@]}" -s kernelrelease)
say "$out/.config: CONFIG_RUST=y (rustc $(val RUSTC_VERSION), $(sed -n 's/^CONFIG_CC_VERSION_TEXT=//p' "$out/.config")), kernelrelease $krel"
if [ "$base" = debian ]; then
	# What differs from Debian's configuration, in short.
	printf '%s\n' "$base_text" >"$top/debian.config"
	say "against Debian's configuration ($top/debian.config):"
	"$srcdir/scripts/diffconfig" "$top/debian.config" "$out/.config" |
		grep -E '^[-+ ](RUST|MODVERSIONS|ASM_MODVERSIONS|RANDSTRUCT|CFI_CLANG|DEBUG_INFO|CC_IS|LD_IS|MITIGATION|LOCALVERSION|SYSTEM_TRUSTED|SYSTEM_REVOCATION|MODULE_SIG|BLK_DEV_DM|DM_|BLK_DEV_NBD)' |
		sed 's/^/    /' >&2 || true
	say "    ($("$srcdir/scripts/diffconfig" "$top/debian.config" "$out/.config" | wc -l) options differ in all: $srcdir/scripts/diffconfig shows them)"
fi
on DEBUG_INFO_BTF || ! grep -q '^CONFIG_DEBUG_INFO_BTF=y' <<<"$base_text" ||
	say "note: DEBUG_INFO_BTF is off (Debian has it on): pahole $pahole_v; apt-get install dwarves keeps it"

# What the build needs beyond make deps: bindeb-pkg runs debhelper.
missing=()
for c in dh_listpackages:debhelper dpkg-buildpackage:dpkg-dev bc:bc bison:bison flex:flex \
	cpio:cpio rsync:rsync; do
	command -v "${c%%:*}" >/dev/null || missing+=("${c#*:}")
done
PATH=$PATH:/usr/sbin:/sbin command -v depmod >/dev/null || missing+=(kmod)
[ -f /usr/include/libelf.h ] || missing+=(libelf-dev)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
on DEBUG_INFO_BTF && ! command -v pahole >/dev/null && missing+=(dwarves)

if [ $config_only = 1 ]; then
	[ ${#missing[@]} = 0 ] || say "note: the package build will need: apt-get install ${missing[*]}"
	say "configuration only: $out/.config"
	exit 0
fi
[ ${#missing[@]} = 0 ] || die "the package build needs: apt-get install ${missing[*]}"
avail=$(df -Pk "$top" | awk 'NR == 2 { print int($4 / 1048576) }')
need=$([ "$base" = test ] && echo 5 || { on DEBUG_INFO && echo 40 || echo 15; })
[ "$avail" -ge "$need" ] || say "warning: $avail GiB free under $top; this build may need about $need GiB"

if [ "$base" = test ]; then say "packaging $krel in $out (about a minute)"; else say "building $krel packages in $out (hours with Debian's configuration on 2 cores)"; fi
rm -f "$top"/*.deb "$top"/*.buildinfo "$top"/*.changes
"${kmake[@]}" -j"$(($(nproc) + 1))" bindeb-pkg >&2
touch "$top/.dmr-built"
list_packages
