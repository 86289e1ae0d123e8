# Shared settings for the build and VM scripts. Sourced, not run.
# shellcheck shell=bash
DMR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DMR_CACHE=${DMR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dm-replicator}
DMR_TOOLS=$DMR_CACHE/tools
BINDGEN_VERSION=0.73.2
BINDGEN=$DMR_TOOLS/bin/bindgen
# The kernel and the module must be built by Debian's rustc-web, never rustup's.
KRUSTC=/usr/bin/rustc
KRUSTDOC=/usr/bin/rustdoc
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-14/lib}
# The kernel is built with clang/lld 14 (LLVM=-14): KASAN together with
# Rust needs a clang-built kernel, and the module must use the same compiler.
KLLVM=-14
