#!/bin/sh
# What building gocred from a checkout needs besides Rust, installed with apt when missing:
# gcc + libc6-dev (cargo links with `cc`, and ring compiles C), ca-certificates (cargo downloads
# the crates over HTTPS) and git (gocred init configures it; the tests run it). A brand-new
# Debian 12 (the debian:bookworm image) has none of them.
#
#   install/build-deps.sh           # installs what is missing (root, or sudo)
#   install/build-deps.sh --list    # prints the Debian package names, one a line
#
# Exit status 0 when everything is there afterwards; otherwise 1 and the last line on stderr is
# `build-deps: FAILED: <what>`. POSIX sh: install.sh runs it too.
set -eu

PKGS="gcc libc6-dev ca-certificates git"

fail() {
  printf 'build-deps: FAILED: %s\n' "$*" >&2
  exit 1
}

if [ "${1:-}" = --list ]; then
  # shellcheck disable=SC2086 # one package name a line: word splitting is the point
  printf '%s\n' $PKGS
  exit 0
fi

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "missing:$missing; run as root: apt-get install$missing"
    sudo=sudo
  fi
  printf 'build-deps: apt-get install%s\n' "$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update"
  # shellcheck disable=SC2086 # one word per package
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null ||
    fail "apt-get install$missing"
fi

# Checked by what cargo and init run, also where there is no dpkg.
gaps=""
command -v cc >/dev/null 2>&1 || gaps="$gaps cc (a C compiler and linker: gcc)"
command -v git >/dev/null 2>&1 || gaps="$gaps git"
if command -v dpkg-query >/dev/null 2>&1 && [ ! -r /etc/ssl/certs/ca-certificates.crt ]; then
  gaps="$gaps /etc/ssl/certs/ca-certificates.crt (ca-certificates)"
fi
[ -z "$gaps" ] || fail "not found:$gaps"
