#!/usr/bin/env bash
# Tries the README's "two commands" the way a new user would: on a brand-new Debian 12 with only a
# Rust toolchain added. It builds that machine as a chroot, runs the commands in it exactly as the
# README writes them, and prints how long each step took.
#
#   sudo install/fresh-machine.sh             # needs root, debootstrap, and this machine's rustup
#
# The machine: `debootstrap --variant=minbase bookworm` (the package set of the `debian:bookworm`
# image: no python3, git, gcc, curl or ca-certificates), plus what such an image or VM has anyway:
# the image's apt sources (bookworm, -updates, -security), an /etc/hosts naming localhost, and a
# policy-rc.d that stops apt from starting the services it installs (nginx, sshd). Added to it:
# this machine's default rustup toolchain (~/.rustup/toolchains/<default>, ~/.cargo/bin and a
# settings.toml naming it; no crates), this machine's extra CA certificates (trusted once
# ca-certificates is installed, as on this machine), its resolv.conf, and `git archive HEAD` of
# this checkout in /root/gocred (commit first: uncommitted changes are not in it).
# The commands run as root with `env -i HOME=/root PATH=<Debian's root PATH with ~/.cargo/bin>`,
# on a pseudo-terminal (init asks questions there), with GOPRIVATE set as a user of gocred has it.
#
# Environment: FRESH_MIRROR (Debian mirror; default: the first one in this machine's apt sources),
# FRESH_GOPRIVATE (default git.corp.example), FRESH_ANSWERS (typed into the terminal for the first
# command, e.g. `n\ny\n` for `gocred init`'s questions; default: nothing, the README's commands
# ask none), FRESH_COMMANDS (one a line: run these instead of the README's, to look into one
# step), FRESH_KEEP=1 keeps the root. SIGINT/SIGTERM end the run and clean up.
# Exit status: 0 when both commands succeeded.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "fresh-machine: $*" >&2; }
die() {
  say "FAILED: $*"
  exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found (apt-get install debootstrap)"
command -v script >/dev/null 2>&1 || die "script not found (apt package bsdutils)"

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror="${FRESH_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\?[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
fi
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/\?[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
security="${mirror%/debian}/debian-security"

rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
toolchain="$(sed -n 's/^default_toolchain[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' "$rustup_home/settings.toml" 2>/dev/null)"
[ -n "$toolchain" ] && [ -d "$rustup_home/toolchains/$toolchain" ] ||
  die "no default rustup toolchain in $rustup_home (settings.toml default_toolchain)"
[ -x "$cargo_home/bin/cargo" ] || die "$cargo_home/bin/cargo not found"

# The README's two commands: the first sh block after the "## The two commands" heading, one
# command a line, comments dropped.
mapfile -t commands < <(awk '
  /^## The two commands/ { sect = 1; next }
  sect && /^## / { exit }
  sect && /^```sh/ { inblock = 1; next }
  inblock && /^```/ { exit }
  inblock { sub(/[[:space:]]+#.*$/, ""); sub(/^#.*$/, ""); if ($0 != "") print }
' "$here/README.md")
# FRESH_COMMANDS (one a line) replaces them, to look into one step.
if [ -n "${FRESH_COMMANDS:-}" ]; then mapfile -t commands <<<"$FRESH_COMMANDS"; fi
[ "${#commands[@]}" -ge 1 ] || die "no commands found under \"## The two commands\" in README.md"

root="$(mktemp -d "${TMPDIR:-/var/tmp}/gocred-fresh.XXXXXX")"
chmod 755 "$root" # a machine's / (apt's _apt user must reach /var/lib/apt)
mounted=()
cleanup() {
  local status=$? pid i
  # Whatever the run left behind inside the chroot (a test daemon) would keep it busy.
  for p in /proc/[0-9]*; do pid="${p#/proc/}"
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[$i]}" 2>/dev/null || say "could not unmount ${mounted[$i]}"
  done
  if [ "${FRESH_KEEP:-}" = 1 ]; then
    say "kept the root: $root"
  elif ! grep -q " $root" /proc/mounts; then
    rm -rf --one-file-system "$root"
  else
    say "left $root: something is still mounted under it"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timings=()
timed() {
  local name="$1" t0=$SECONDS
  shift
  if "$@"; then
    timings+=("$(printf '%-44s %4d s' "$name" $((SECONDS - t0)))")
  else
    local rc=$?
    timings+=("$(printf '%-44s %4d s  FAILED (exit %d)' "$name" $((SECONDS - t0)) "$rc")")
    return "$rc"
  fi
}
report() {
  say "timings:"
  printf '  %s\n' "${timings[@]}" >&2
}

say "debootstrap --variant=minbase bookworm from $mirror into $root"
timed "debootstrap --variant=minbase bookworm" \
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -n 20 "$root.debootstrap.log" >&2; rm -f "$root.debootstrap.log"; die "debootstrap"; }
rm -f "$root.debootstrap.log"

# What the debian:bookworm image (or a VM) has beyond the minbase package set.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi

# Only a Rust toolchain added.
mkdir -p "$root/root/.rustup/toolchains" "$root/root/.cargo"
cp -a "$(readlink -f "$rustup_home/toolchains/$toolchain")" "$root/root/.rustup/toolchains/$toolchain"
printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "default"\n' "$toolchain" >"$root/root/.rustup/settings.toml"
cp -a "$cargo_home/bin" "$root/root/.cargo/bin"

mkdir -p "$root/root/gocred"
git -C "$here" archive --format=tar HEAD | tar -x -C "$root/root/gocred"

# A machine's / is a mount point (an image's overlay, a VM's disk); a bare directory is not, and
# `unshare -m` (which makes / private) fails there. Bound onto itself, private, it is one.
mount --bind "$root" "$root"
mount --make-private "$root"
mounted+=("$root")
for m in proc sys dev dev/pts run; do
  case "$m" in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sysfs "$root/sys" ;;
    dev | dev/pts) mount --bind "/$m" "$root/$m" ;;
    run) mount -t tmpfs -o mode=755 tmpfs "$root/run" ;;
  esac
  mounted+=("$root/$m")
done

path="/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
goprivate="${FRESH_GOPRIVATE:-git.corp.example}"
answers="${FRESH_ANSWERS:-}"
# Copies its input to stdout, and each line with the seconds since it started to file $1.
stamp() {
  local t0=$SECONDS line
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line"
    printf '%d\t%s\n' $((SECONDS - t0)) "${line%$'\r'}" >>"$1"
  done
}
# One README command, as root in the chroot's checkout, on a pseudo-terminal (`script`); its
# output goes to ours and to a log kept in the root (/root/LOG, and LOG.stamps with the times).
in_root() {
  local cmd="$1" input="$2" log="$3"
  # In the background, waited for: bash runs the INT/TERM traps (and so the clean-up) only
  # between commands, and `wait` is one it can interrupt. A background job starts with SIGINT
  # and SIGQUIT ignored, and nohup ignores SIGHUP, which children inherit: env gives the command
  # every default back, as a user's shell has them (`ci exec` keeps ignored signals ignored).
  printf '%b' "$input" | chroot "$root" /usr/bin/env -i --default-signal \
    HOME=/root PATH="$path" TERM=dumb \
    GOPRIVATE="$goprivate" /usr/bin/script -qefc "cd /root/gocred && $cmd" "/root/$log" |
    stamp "$root/root/$log.stamps" &
  wait $!
}
# Where the commands' phases ended, in seconds into the command: the first line matching each.
phases() {
  local n="$1" label re at
  while IFS='|' read -r label re; do
    at="$(awk -F'\t' -v re="$re" '$2 ~ re { print $1; exit }' "$root/root/command-$n.log.stamps" 2>/dev/null)"
    [ -z "$at" ] || printf '  command %d: %-36s at %4d s\n' "$n" "$label" "$at" >&2
  done <<'EOF'
build dependencies installed|^install.sh: building gocred with cargo
gocred built and installed|^installed: 
test dependencies installed|^go version go
tests built, first test binary runs|^ +Running 
tests done|^tests: 
EOF
}

status=0
n=0
for cmd in "${commands[@]}"; do
  n=$((n + 1))
  say "command $n: $cmd"
  input=""
  [ "$n" = 1 ] && [ -z "${FRESH_COMMANDS:-}" ] && input="$answers"
  # The next command still runs: the README's commands do not depend on each other.
  timed "command $n: $cmd" in_root "$cmd" "$input" "command-$n.log" || status=1
done

# test.sh's verdict is its last line.
last="$(tr -d '\r' <"$root/root/command-$n.log" | grep -v '^Script done' | grep -v '^[[:space:]]*$' | tail -n 1 || true)"
say "last line of command $n: $last"
report
say "phases:"
for ((i = 1; i <= n; i++)); do phases "$i"; done
[ "$status" = 0 ] || die "a command failed (see the timings)"
case "$last" in
  "tests: "*" passed, 0 failed, "*) say "both commands passed on a brand-new Debian 12" ;;
  *) die "the last command did not end with a passing test count" ;;
esac
