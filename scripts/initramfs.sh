#!/usr/bin/env bash
# Build the test guest's initramfs.
#
#   scripts/initramfs.sh OUT [HOSTFILE[=GUESTPATH]...]
#
# OUT is written as a gzip'ed newc cpio made of two concatenated archives
# (the kernel unpacks them in turn):
#   base     static busybox with applet links, dmsetup, util-linux losetup and
#            blockdev, coreutils dd, fio, the libraries they need (placeholders for
#            fio's unused engines), /usr/lib/dmr/tools.sh. Built once;
#            cached by the content hash of what goes in.
#   overlay  /init, the module (/lib/dm_replicator.ko), tests/vm/* (/tests/;
#            $DMR_TESTS_DIR instead if set)
#            and the extra HOSTFILEs (/extra/BASENAME, or GUESTPATH if
#            given; not under /lib or /bin); the executables named in
#            $DMR_GUEST_BINS (/usr/bin/BASENAME, with the libraries they
#            need that the base lacks). Small, so a changed test costs
#            a fraction of a second.
# Both parts are cached under $DMR_CACHE/initramfs by content hash.
# DMR_INITRD_RAW=1 writes OUT uncompressed (boots faster under TCG).
#
# The module comes from $DMR_MODULE (a path, or "none" for no module), else
# from `scripts/module.sh $DMR_FLAVOUR` (flavour default: debug).
set -euo pipefail
. "$(dirname "$0")/env.sh"

out=${1:?usage: initramfs.sh OUT [HOSTFILE[=GUESTPATH]...]}
shift
cache=$DMR_CACHE/initramfs
mkdir -p "$cache"

hash() { sha256sum | cut -c1-16; }

# Every library ldd lists for the given binaries, plus the loader, at the
# path ldd prints.
libs_of() {
	local b
	for b in "$@"; do
		[ -x "$b" ] || { echo "initramfs.sh: $b missing; run scripts/deps.sh" >&2; return 1; }
		# A static binary makes ldd fail: it simply has no libraries.
		{ ldd "$b" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | sort -u
}

# Write a newc cpio of directory $1 to stdout, owned by root, entries sorted
# so the archive does not depend on the order readdir returns.
mkcpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet)
}

secs_since() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }

# --- the module ---------------------------------------------------------
module=${DMR_MODULE:-}
if [ -z "$module" ]; then
	if [ -x "$DMR_TOP/scripts/module.sh" ]; then
		module=$("$DMR_TOP/scripts/module.sh" "${DMR_FLAVOUR:-debug}")
	else
		echo "initramfs.sh: scripts/module.sh missing; building without the module" >&2
		module=none
	fi
fi
if [ "$module" != none ] && [ ! -f "$module" ]; then
	echo "initramfs.sh: module $module not found" >&2
	exit 1
fi

# --- base part ----------------------------------------------------------
# Host binaries, at the same path in the guest. /bin, /lib... are links to
# usr/ in the guest as on the Debian host, so ldd's paths work as they are.
bins=(/usr/bin/busybox /usr/sbin/dmsetup /usr/sbin/losetup /usr/sbin/blockdev /usr/bin/dd)
fio=/usr/bin/fio
# Busybox must be the static build: its applets run before any library is
# known to be there.
if ldd /usr/bin/busybox >/dev/null 2>&1; then
	echo "initramfs.sh: /usr/bin/busybox is not static (install busybox-static)" >&2
	exit 1
fi

# Debian's fio links the libraries of its ceph, gluster, nbd, rdma and pmem
# engines, which pull in ~80 MiB more (icu, boost, gnutls...). Unpacking
# those made the debug guest's boot 15-25 s slower under TCG, and linking
# them cost 6 s per fio start. The guest gets placeholder libraries instead, whose
# functions abort with a message: the engines tests use (sync, psync,
# libaio, io_uring...) never call them.
fio_keep='^(libc|libm|libz|libaio|libnuma)\.so'
fio_replaced=$(readelf -d $fio | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | grep -vE "$fio_keep")

# Libraries (via a variable: a failure inside <(...) would go unnoticed):
# all of the tools', and fio's own that are not replaced.
libs=$(
	libs_of "${bins[@]}"
	[ -x $fio ] || { echo "initramfs.sh: $fio missing; run scripts/deps.sh" >&2; exit 1; }
	ldd $fio | awk '$2 == "=>" { print $1, $3 } $1 ~ /^\// { print "ld.so", $1 }' |
		grep -E "$fio_keep|^ld.so " | cut -d' ' -f2
)
libs=$(sort -u <<<"$libs")
mapfile -t libs <<<"$libs"

# make_placeholder SONAME DIR: DIR/SONAME defines, with the same symbol versions,
# every function fio takes from the real SONAME.
make_placeholder() {
	local so=$1 dir=$2 real need vs=()
	real=$(ldd $fio | awk -v l="$so" '$1 == l { print $3 }')
	# "name@version" of fio's undefined symbols that real defines.
	need=$(join <(objdump -T $fio | awk '/\*UND\*/ { v = $(NF-1); gsub(/[()]/, "", v); print $NF "@" v }' | sort -u) \
		<(objdump -T "$real" | awk '!/\*UND\*/ && NF >= 6 { v = $(NF-1); gsub(/[()]/, "", v); print $NF "@" v }' | sort -u))
	[ -n "$need" ] || { echo "initramfs.sh: fio takes nothing from $so?" >&2; return 1; }
	{
		echo '#include <stdio.h>'
		echo '#include <stdlib.h>'
		echo "static void placeholder(const char *f) { fprintf(stderr, \"fio: %s: $so is a placeholder in the test guest\\n\", f); abort(); }"
		awk -F@ '{ print "void " $1 "(void) { placeholder(\"" $1 "\"); }" }' <<<"$need"
	} >"$dir/$so.c"
	if grep -qv '@Base$' <<<"$need"; then
		awk -F@ '{ a[$2] = a[$2] " " $1 ";" } END { for (v in a) print v " { global:" a[v] " };" }' <<<"$need" >"$dir/$so.map"
		vs=(-Wl,--version-script="$dir/$so.map")
	fi
	gcc -shared -fPIC -O1 -Wl,-soname,"$so" "${vs[@]}" -o "$dir/$so" "$dir/$so.c"
}

# busybox ash runs its own applets in preference to anything on PATH, so a
# plain "dd" would be busybox's; shell functions come before applets.
tools_sh() {
	cat <<'EOF'
# Make the real tools win over busybox applets of the same name (busybox ash
# prefers applets to PATH). Sourced by /tests/lib.sh, the test runner, tests
# and vm-run scripts.
dd() { /usr/bin/dd "$@"; }
losetup() { /usr/sbin/losetup "$@"; }
blockdev() { /usr/sbin/blockdev "$@"; }
EOF
}

# Key: this script, and each file's path and content.
base_key=$( {
	cat "$0"
	for f in "${bins[@]}" $fio "${libs[@]}"; do echo "$f"; sha256sum <"$f"; done
} | hash)
base=$cache/base-$base_key.cpio.gz

if [ ! -f "$base" ]; then
	t0=$(date +%s.%N)
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/usr/{bin,sbin,lib/dmr,lib/x86_64-linux-gnu,lib64} "$stage"/{dev,proc,sys,tmp,run,etc,root,mnt}
	for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
	for f in "${bins[@]}" $fio "${libs[@]}"; do
		mkdir -p "$stage$(dirname "$f")"
		cp -L "$f" "$stage$f"
	done
	mkdir "$stage/placeholders"
	for so in $fio_replaced; do make_placeholder "$so" "$stage/placeholders"; done
	for so in $fio_replaced; do mv "$stage/placeholders/$so" "$stage/usr/lib/x86_64-linux-gnu/"; done
	rm -rf "$stage/placeholders"
	tools_sh >"$stage/usr/lib/dmr/tools.sh"
	# Applet links for everything busybox has that the real tools above do
	# not replace. dd is coreutils' so tests get the GNU options known from
	# the host (conv=fdatasync, oflag=dsync, iflag=fullblock...).
	for a in $(/usr/bin/busybox --list); do
		[ -e "$stage/usr/bin/$a" ] || [ -e "$stage/usr/sbin/$a" ] || ln -s busybox "$stage/usr/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"
	# fio must start with the placeholders (only possible as root: chroot).
	if [ "$(id -u)" = 0 ] && ! chroot "$stage" /usr/bin/fio --version >/dev/null; then
		echo "initramfs.sh: fio does not start with the placeholder libraries" >&2
		exit 1
	fi
	mkcpio "$stage" | gzip -6 >"$base.tmp.$$"
	mv "$base.tmp.$$" "$base"
	rm -rf "$stage"
	trap - EXIT
	echo "initramfs.sh: built $(basename "$base") ($(du -k "$base" | cut -f1) KiB) in $(secs_since "$t0") s" >&2
	# Drop stale base archives.
	find "$cache" -maxdepth 1 -name 'base-*.cpio.gz' ! -name "$(basename "$base")" -delete
fi

# --- overlay part -------------------------------------------------------
# The guest's /init. The job comes from the kernel command line so one
# initramfs serves both vm-test.sh and vm-run.sh:
#   dmr_job=test dmr_args=A,B   run /tests/runner.sh A B (none: all)
#   dmr_job=run  dmr_args=PATH  insmod the module, run PATH with sh
# Job output goes to ttyS1 (the host's stdout); ttyS0 carries the kernel
# console. The job's exit status is printed last as DMR-EXIT=<n>.
init_script() {
	cat <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin HOME=/root TERM=dumb DM_DISABLE_UDEV=1
mount -t devtmpfs dev /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs -o mode=1777 tmp /tmp
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm
ln -sf /proc/self/fd /dev/fd
echo "dmr-init: up at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console

job= args=
for w in $(cat /proc/cmdline); do
	case $w in
	dmr_job=*) job=${w#dmr_job=} ;;
	dmr_args=*) args=$(echo "${w#dmr_args=}" | tr , ' ') ;;
	esac
done

out=/dev/ttyS1
[ -c $out ] || out=/dev/console
# Raw: no \n -> \r\n and no echo of what the host might send.
stty -F $out raw -echo 2>/dev/null
cd /tmp
case $job in
test)
	# The runner's own stderr (shell job notices...) would break the
	# one-line-per-test output: it goes to the console log instead.
	sh /tests/runner.sh $args </dev/null >$out 2>/dev/console
	rc=$? ;;
run)
	rc=0
	if [ -f /lib/dm_replicator.ko ]; then
		insmod /lib/dm_replicator.ko >$out 2>&1 || rc=$?
	fi
	if [ $rc = 0 ]; then
		# $0 is the script; tools.sh first so dd, losetup, blockdev are
		# the real ones.
		sh -c '. /usr/lib/dmr/tools.sh; . "$0"' $args </dev/null >$out 2>&1
		rc=$?
	else
		echo "vm: insmod /lib/dm_replicator.ko failed" >$out
	fi ;;
*)
	echo "dmr-init: no dmr_job on the kernel command line" >$out
	rc=2 ;;
esac
echo "DMR-EXIT=$rc" >$out
sync
echo "dmr-init: job exited with $rc at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
reboot -f
sleep 5
# reboot -f failed: returning from init panics, which also ends QEMU.
exit $rc
EOF
}

ostage=$(mktemp -d "$cache/ostage.XXXXXX")
trap 'rm -rf "$ostage"' EXIT
mkdir -p "$ostage"/usr/lib "$ostage/tests" "$ostage/extra"
init_script >"$ostage/init"
chmod 755 "$ostage/init"
[ "$module" = none ] || cp "$module" "$ostage/usr/lib/dm_replicator.ko"
# DMR_TESTS_DIR: another test directory (used to test the runner itself).
tests_dir=${DMR_TESTS_DIR:-$DMR_TOP/tests/vm}
if [ -d "$tests_dir" ]; then
	cp -r "$tests_dir/." "$ostage/tests/"
fi
# DMR_GUEST_BINS: host executables (space-separated paths, e.g. the
# crash test's crashwriter and replog) for /usr/bin, with the libraries
# ldd lists for them that are not in the base, at their /usr path.
if [ -n "${DMR_GUEST_BINS:-}" ]; then
	mkdir -p "$ostage/usr/bin"
	# shellcheck disable=SC2086 # a list of paths
	glibs=$(libs_of $DMR_GUEST_BINS)
	declare -A inbase=()
	for l in "${libs[@]}"; do inbase[$l]=1; done
	for l in $glibs; do
		[ -z "${inbase[$l]:-}" ] || continue
		case $l in /lib/* | /lib64/* | /bin/* | /sbin/*) g=/usr$l ;; *) g=$l ;; esac
		mkdir -p "$ostage$(dirname "$g")"
		cp -L "$l" "$ostage$g"
	done
	for b in $DMR_GUEST_BINS; do cp "$b" "$ostage/usr/bin/$(basename "$b")"; done
fi
for x in "$@"; do
	src=${x%%=*}
	case $x in *=*) dst=${x#*=} ;; *) dst=/extra/$(basename "$src") ;; esac
	[ -f "$src" ] || { echo "initramfs.sh: $src: no such file" >&2; exit 1; }
	mkdir -p "$ostage$(dirname "$dst")"
	cp "$src" "$ostage$dst"
done
# /lib and /bin are links in the base; a directory of the same name in the
# overlay would replace them.
for d in bin sbin lib lib64; do
	if [ -e "$ostage/$d" ]; then
		echo "initramfs.sh: extra files must not go under /$d (use /usr/$d)" >&2
		exit 1
	fi
done
ov_key=$( (cd "$ostage" && find . -type f | LC_ALL=C sort | xargs sha256sum) | hash)
overlay=$cache/overlay-$ov_key.cpio.gz
if [ ! -f "$overlay" ]; then
	mkcpio "$ostage" | gzip -6 >"$overlay.tmp.$$"
	mv "$overlay.tmp.$$" "$overlay"
	# Keep the 20 newest overlays. Other builds run at the same time
	# (make test's lanes) and prune too: a file gone by the time ls
	# looks at it is no error.
	{ ls -t "$cache"/overlay-*.cpio.gz 2>/dev/null || true; } | tail -n +21 | xargs -r rm -f
fi
rm -rf "$ostage"
trap - EXIT

if [ "${DMR_INITRD_RAW:-}" = 1 ]; then
	# Uncompressed: inflating ~4 MiB under TCG costs the debug guest's
	# boot 3-5 s more than copying the 9 MiB (the kernel takes both).
	zcat "$base" "$overlay" >"$out.tmp.$$"
else
	cat "$base" "$overlay" >"$out.tmp.$$"
fi
mv "$out.tmp.$$" "$out"
