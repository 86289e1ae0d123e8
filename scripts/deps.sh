#!/usr/bin/env bash
# Install everything the build and the test VM need, idempotently.
# Debian 12 packages via apt, bindgen-cli via cargo into the project cache.
#
#   scripts/deps.sh          build and test dependencies (make deps)
#   scripts/deps.sh bench    those, and the benchmark's: drbd-utils (the
#                            DRBD peer's 8.4 tools), linux-perf (the guest
#                            profile), python3-matplotlib (the report's plots)
set -euo pipefail
. "$(dirname "$0")/env.sh"

PKGS=(
	linux-source-6.12 rustc-web rust-web-src
	libclang-14-dev clang-14 lld-14 llvm-14
	build-essential flex bison bc cpio kmod libelf-dev libssl-dev debhelper
	xz-utils gzip python3
	busybox-static dmsetup util-linux fio qemu-system-x86 rsync
	nbd-server nbd-client iproute2
)
case ${1:-} in
"") ;;
bench) PKGS+=(drbd-utils linux-perf python3-matplotlib) ;;
*) echo "usage: deps.sh [bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	echo "deps: installing bindgen-cli $BINDGEN_VERSION"
	# Host cargo (rustup) builds the tool; it only generates source text,
	# so it need not match the kernel's rustc.
	cargo install --locked --quiet --root "$DMR_TOOLS" bindgen-cli --version "$BINDGEN_VERSION"
fi
echo "deps: ok"
