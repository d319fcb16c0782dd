#!/usr/bin/env bash
# Builds and installs gocred, and provides it as `git-credential-gocred` so that
# `git config credential.helper gocred` works (git runs `git credential-gocred`).
#
#   install/install.sh                 # installs into ~/.local/bin (GOCRED_PREFIX to change)
#   install/install.sh --prefix /usr/local
#   install/install.sh --init          # then runs `gocred init` (git + Go set up from GOPRIVATE)
#
# Needs only a Rust toolchain (cargo). Prints the helper line to put in git's config.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${GOCRED_PREFIX:-$HOME/.local}"
run_init=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --init) run_init=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo not found; install Rust first (https://rustup.rs)" >&2
  exit 1
fi

cargo install --locked --quiet --force --path "$here" --root "$prefix"
bin="$prefix/bin"
# A relative link keeps working if the prefix is moved.
ln -sfn gocred "$bin/git-credential-gocred"

case "$bin" in
  *" "*) echo "install.sh: warning: $bin contains a space; Go's GOAUTH cannot run a command from there" >&2 ;;
esac
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "install.sh: add $bin to your PATH (e.g. in ~/.profile: export PATH=\"$bin:\$PATH\")" >&2 ;;
esac
echo "installed: $bin/gocred and $bin/git-credential-gocred"
if [ "$run_init" = 1 ]; then
  exec "$bin/gocred" init
fi
echo "next: gocred init     (sets up git and Go for the modules GOPRIVATE names; --dry-run to preview)"
