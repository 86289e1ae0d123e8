#!/usr/bin/env bash
# Build the test guest's initramfs.
#
#   scripts/initramfs.sh OUT [HOSTFILE[=GUESTPATH]...]
#
# OUT is written as a gzip'ed newc cpio made of two concatenated archives
# (the kernel unpacks them in turn):
#   base     static busybox with applet links, dmsetup, util-linux losetup and
#            blockdev, coreutils dd, fio, and every shared library they need.
#            About 85 MiB unpacked (fio drags in ceph, gluster, icu...), so it
#            is built once and cached by the content hash of what goes in.
#   overlay  /init, the module (/lib/dm_replicator.ko), tests/vm/* (/tests/)
#            and the extra HOSTFILEs (/extra/BASENAME unless =GUESTPATH is
#            given). Small, so editing a test costs a fraction of a second.
# Both parts are cached under $DMR_CACHE/initramfs by content hash.
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
# Host binaries and where they go in the guest. /bin is a link to usr/bin in
# the guest (as on the Debian host), so library paths from ldd work as-is.
bins=(
	/usr/bin/busybox:/usr/bin/busybox
	/usr/sbin/dmsetup:/usr/sbin/dmsetup
	/usr/sbin/losetup:/usr/sbin/losetup
	/usr/sbin/blockdev:/usr/sbin/blockdev
	/usr/bin/dd:/usr/bin/dd
	/usr/bin/fio:/usr/bin/fio
)
# Busybox must be the static build: the applet links are used before and
# without any library.
if ldd /usr/bin/busybox >/dev/null 2>&1; then
	echo "initramfs.sh: /usr/bin/busybox is not static (install busybox-static)" >&2
	exit 1
fi

# Every library ldd lists, plus the loader, at the path ldd prints.
libs=()
for b in "${bins[@]}"; do
	src=${b%%:*}
	[ -x "$src" ] || { echo "initramfs.sh: $src missing; run scripts/deps.sh" >&2; exit 1; }
	while read -r l; do libs+=("$l"); done < <(
		ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)

# Key: this script, and the content of every file with its guest path.
base_key=$( {
	cat "$0"
	for b in "${bins[@]}"; do echo "${b#*:}"; sha256sum <"${b%%:*}"; done
	for l in "${libs[@]}"; do echo "$l"; sha256sum <"$l"; done
} | hash)
base=$cache/base-$base_key.cpio.gz

# Write a newc cpio of directory $1 to stdout, owned by root, entries sorted
# so the archive does not depend on the order readdir returns.
mkcpio() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet)
}

if [ ! -f "$base" ]; then
	t0=$(date +%s.%N)
	stage=$(mktemp -d "$cache/stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} "$stage"/{dev,proc,sys,tmp,run,etc,root,mnt}
	for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
	for b in "${bins[@]}"; do cp -L "${b%%:*}" "$stage${b#*:}"; done
	for l in "${libs[@]}"; do
		mkdir -p "$stage$(dirname "$l")"
		cp -L "$l" "$stage$l"
	done
	# Applet links for everything busybox has that the real tools above
	# do not replace. dd is coreutils' so tests get the GNU options they
	# know from the host (conv=fdatasync, oflag=dsync, status=none...).
	for a in $(/usr/bin/busybox --list); do
		[ -e "$stage/usr/bin/$a" ] || [ -e "$stage/usr/sbin/$a" ] || ln -s busybox "$stage/usr/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"
	mkcpio "$stage" | gzip -6 >"$base.tmp"
	mv "$base.tmp" "$base"
	rm -rf "$stage"; trap - EXIT
	echo "initramfs.sh: built base $(basename "$base") ($(du -m "$base" | cut -f1) MiB) in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s" >&2
	# Drop stale base archives.
	find "$cache" -maxdepth 1 -name 'base-*.cpio.gz' ! -name "$(basename "$base")" -delete
fi

# --- overlay part -------------------------------------------------------
# The guest's /init. The job comes from the kernel command line so one
# initramfs serves both vm-test.sh and vm-run.sh:
#   dmr_job=test dmr_args=A,B   run tests/vm/runner.sh A B (none: all)
#   dmr_job=run  dmr_args=PATH  insmod the module, run sh PATH
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
mkdir -p /dev/pts /dev/shm && mount -t tmpfs shm /dev/shm
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
	sh /tests/runner.sh $args </dev/null >$out 2>&1
	rc=$? ;;
run)
	rc=0
	if [ -f /lib/dm_replicator.ko ]; then
		insmod /lib/dm_replicator.ko >$out 2>&1 || rc=$?
	fi
	if [ $rc = 0 ]; then
		sh $args </dev/null >$out 2>&1
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
if [ -d "$DMR_TOP/tests/vm" ]; then
	cp -r "$DMR_TOP/tests/vm/." "$ostage/tests/"
fi
for x in "$@"; do
	src=${x%%=*}
	case $x in *=*) dst=${x#*=} ;; *) dst=/extra/$(basename "$src") ;; esac
	[ -f "$src" ] || { echo "initramfs.sh: $src: no such file" >&2; exit 1; }
	mkdir -p "$ostage$(dirname "$dst")"
	cp "$src" "$ostage$dst"
done
# /lib is a link in the base; an overlay directory of the same name would
# replace it, so the overlay only ever writes under usr/.
if [ -e "$ostage/lib" ] || [ -e "$ostage/bin" ]; then
	echo "initramfs.sh: extra files must not go under /lib or /bin (use /usr/...)" >&2
	exit 1
fi
ov_key=$( (cd "$ostage" && find . -type f | LC_ALL=C sort | xargs sha256sum) | hash)
overlay=$cache/overlay-$ov_key.cpio.gz
if [ ! -f "$overlay" ]; then
	mkcpio "$ostage" | gzip -6 >"$overlay.tmp"
	mv "$overlay.tmp" "$overlay"
	# Keep the 20 newest overlays.
	ls -t "$cache"/overlay-*.cpio.gz | tail -n +21 | xargs -r rm -f
fi
rm -rf "$ostage"; trap - EXIT

cat "$base" "$overlay" >"$out.tmp"
mv "$out.tmp" "$out"
