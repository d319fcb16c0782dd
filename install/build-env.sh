# shellcheck shell=sh
# Release build flags for gocred, in one place. Sourced (POSIX sh) by install/release.sh and by
# install/install.sh when it builds from a checkout:
#
#   . install/build-env.sh
#   gocred_build_env "$target"      # exports CARGO_TARGET_<TRIPLE>_RUSTFLAGS for that target
#   cargo build --release --locked --target "$target"
#
# Linux glibc targets (x86_64/aarch64-unknown-linux-gnu) are linked static-pie
# (`-C target-feature=+crt-static`): the binary needs no shared library and no glibc version, so
# it runs on any Linux, distroless images included, and the dynamic loader's start-up work (symbol
# lookup, relocations of a dozen libraries) disappears, which halves the instructions of a hot
# `gocred get`. Static glibc cannot load NSS modules, so name resolution is hickory's (reqwest's
# `hickory-dns` feature, on for Linux in Cargo.toml), which reads /etc/resolv.conf and /etc/hosts.
# Relocations are packed as RELR (`-z pack-relative-relocs`) when the linker and glibc know it:
# fewer relocations to apply at start-up. Random numbers come from the getrandom syscall (not
# dlsym, which static binaries lack). musl targets are static already (Rust's default).
#
# The flags go to the target only (CARGO_TARGET_<TRIPLE>_RUSTFLAGS with an explicit --target):
# build scripts and proc macros stay dynamic, as a proc macro must. That is also why they cannot
# live in .cargo/config.toml, which would apply them to every `cargo build` and `cargo test`.
# Set GOCRED_BUILD_DYNAMIC=1 to skip them (a plain dynamic glibc build).

# Prints the flags for target $1 (empty when it needs none).
gocred_rustflags() {
  case "$1" in
    *-unknown-linux-gnu)
      [ "${GOCRED_BUILD_DYNAMIC:-}" != 1 ] || return 0
      # getrandom 0.4 finds glibc's getrandom() with dlsym, which a static binary cannot do,
      # and then falls back to /dev/urandom, which a bare chroot lacks: call the syscall.
      flags="-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\""
      if gocred_relr_works; then
        flags="$flags -C link-arg=-Wl,-z,pack-relative-relocs"
      fi
      printf '%s\n' "$flags"
      ;;
  esac
}

# Whether cc links a static-pie program with RELR relocations that then runs (linker: binutils
# 2.38+ or lld 15+; static glibc 2.36+ applies RELR itself).
gocred_relr_works() {
  command -v cc >/dev/null 2>&1 || return 1
  relr_dir="$(mktemp -d "${TMPDIR:-/tmp}/gocred-relr.XXXXXX")" || return 1
  printf 'int main(void) { return 0; }\n' >"$relr_dir/t.c"
  relr_ok=1
  if cc -static-pie -fPIE -Wl,-z,pack-relative-relocs -o "$relr_dir/t" "$relr_dir/t.c" \
    >/dev/null 2>&1 && "$relr_dir/t"; then
    relr_ok=0
  fi
  rm -rf "$relr_dir"
  return "$relr_ok"
}

# Exports CARGO_TARGET_<TRIPLE>_RUSTFLAGS for target $1 (appending to what is already there).
gocred_build_env() {
  flags="$(gocred_rustflags "$1")"
  [ -n "$flags" ] || return 0
  var="CARGO_TARGET_$(printf '%s' "$1" | tr 'a-z.-' 'A-Z__')_RUSTFLAGS"
  eval "old=\${$var:-}"
  # shellcheck disable=SC2154 # old is set by the eval above
  eval "export $var=\"\${old:+\$old }\$flags\""
  printf 'build-env: %s\n' "$var=$(eval "printf '%s' \"\$$var\"")" >&2
}
