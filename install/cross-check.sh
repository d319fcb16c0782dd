#!/usr/bin/env bash
# Type-checks gocred for the release targets this Linux machine cannot run natively:
# `cargo check` and `cargo clippy -D warnings` of every target (lib, bin, tests, benches) for
#   x86_64-pc-windows-gnu   (ring's C built with mingw-w64: a complete build)
#   x86_64-apple-darwin, aarch64-apple-darwin
#                           (no Apple SDK here: ring's C is compiled by clang against stub
#                            headers only so that its build script passes; nothing is linked,
#                            so this proves gocred's own code and its dependencies' Rust code
#                            type-check for macOS, not that ring's C is right there)
# A target whose toolchain cannot be installed (no rustup, no apt) is skipped with a message.
#
#   install/cross-check.sh [TARGET...]     (default: the three above)
# CARGO_TARGET_DIR is honoured; the default is target/cross, apart from the host build.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here" || exit 1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target/cross}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin)

failed=0
skipped=0
say() { echo "cross-check: $*" >&2; }

have_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
  command -v rustup >/dev/null 2>&1 || return 1
  rustup target add "$1" >/dev/null 2>&1
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" = 0 ] || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; }
}

# Stub Apple SDK headers for ring's C (type-check only, see above).
apple_stubs() {
  local d="$CARGO_TARGET_DIR/apple-stub-include"
  mkdir -p "$d"
  cat >"$d/TargetConditionals.h" <<'H'
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
H
  echo '#define assert(x) ((void)0)' >"$d/assert.h"
  cat >"$d/string.h" <<'H'
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
H
  echo "$d"
}

for t in "${targets[@]}"; do
  start=$SECONDS
  if ! have_target "$t"; then
    say "SKIP $t: its Rust standard library is not installed and rustup cannot add it"
    skipped=$((skipped + 1)); continue
  fi
  envs=()
  case "$t" in
    *-windows-gnu)
      if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 && ! apt_install gcc-mingw-w64-x86-64; then
        say "SKIP $t: no x86_64-w64-mingw32-gcc (apt package gcc-mingw-w64-x86-64) for ring's C"
        skipped=$((skipped + 1)); continue
      fi
      ;;
    *-apple-darwin)
      if ! command -v clang >/dev/null 2>&1 && ! apt_install clang llvm; then
        say "SKIP $t: no clang (apt package clang) for ring's C"
        skipped=$((skipped + 1)); continue
      fi
      ar="$(command -v llvm-ar || find /usr/bin -name 'llvm-ar-*' 2>/dev/null | sort | tail -n 1)"
      [ -n "$ar" ] || { say "SKIP $t: no llvm-ar"; skipped=$((skipped + 1)); continue; }
      inc="$(apple_stubs)"
      arch="${t%%-*}"; [ "$arch" = aarch64 ] && arch=arm64
      v="${t//-/_}"
      envs=("CC_$v=clang" "AR_$v=$ar"
        "CFLAGS_$v=--target=$arch-apple-macos11 -ffreestanding -nostdinc -isystem $(clang -print-resource-dir)/include -I$inc")
      ;;
  esac
  ok=1
  env "${envs[@]}" cargo check --locked --target "$t" --all-targets --quiet || ok=0
  [ $ok = 1 ] && { env "${envs[@]}" cargo clippy --locked --target "$t" --all-targets --quiet -- -D warnings || ok=0; }
  if [ $ok = 1 ]; then
    say "ok   $t: cargo check + clippy -D warnings, all targets ($((SECONDS - start)) s)"
  else
    say "FAIL $t"
    failed=$((failed + 1))
  fi
done
say "$((${#targets[@]} - failed - skipped)) ok, $failed failed, $skipped skipped"
[ $failed = 0 ]
