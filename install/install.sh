#!/bin/sh
# Installs gocred, also as `git-credential-gocred` (so `credential.helper = gocred` works), into
# PREFIX/bin (default ~/.local/bin), with its man pages and shell completions under PREFIX/share.
#
# A release, no Rust needed (the default when this script is not inside a gocred checkout):
#   curl -fsSL https://github.com/gocred/gocred/releases/latest/download/install.sh | sh
#   sh install.sh --version 0.1.0 --prefix /usr/local
# picks the archive for this OS and CPU, downloads it and SHA256SUMS from the base URL, refuses
# it unless its SHA-256 matches (then nothing is installed), and installs it. Needs curl or wget,
# tar, and sha256sum (or shasum, or openssl).
#
# From a checkout (the default when run from one, or --from-source): cargo build, with cargo's
# progress. Needs Rust (cargo), a C compiler and linker (cc), CA certificates and git; on
# Debian/Ubuntu, as root or with sudo, install/build-deps.sh installs gcc, libc6-dev,
# ca-certificates and git with apt-get when they are missing.
#
# Options:
#   --prefix DIR        install into DIR/bin (GOCRED_PREFIX; default ~/.local)
#   --version V         a release by version, e.g. 0.1.0 (GOCRED_VERSION; default: latest)
#   --base-url URL      where the archives and SHA256SUMS are (GOCRED_BASE_URL), for mirrors;
#                       default https://github.com/gocred/gocred/releases/{latest/download,download/vV}
#   --target TRIPLE     another archive than this machine's (e.g. x86_64-unknown-linux-musl)
#   --release | --from-source   force one mode
#   --init [--goprivate PATTERNS]   then run `gocred init` (needs git, and Go 1.24 or later)
# Exit status: 0 installed, 1 failed (nothing installed), 2 usage, 3 no release for this target.
# POSIX sh on purpose: it is piped to `sh`, which is dash, ash or busybox on many machines.
set -eu

repo="gocred/gocred"
prefix="${GOCRED_PREFIX:-$HOME/.local}"
version="${GOCRED_VERSION:-}"
base_url="${GOCRED_BASE_URL:-}"
target=""
mode=""
run_init=0
goprivate=""
exe=""

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a value"; base_url="$2"; shift 2 ;;
    --base-url=*) base_url="${1#--base-url=}"; shift ;;
    --target) [ $# -ge 2 ] || die "--target needs a value"; target="$2"; shift 2 ;;
    --target=*) target="${1#--target=}"; shift ;;
    --release) mode=release; shift ;;
    --from-source) mode=source; shift ;;
    --init) run_init=1; shift ;;
    --goprivate) [ $# -ge 2 ] || die "--goprivate needs a value"; goprivate="$2"; shift 2 ;;
    --goprivate=*) goprivate="${1#--goprivate=}"; shift ;;
    -h|--help) sed -n '2,26p' "$0" 2>/dev/null || say "see the header of install.sh"; exit 0 ;;
    *) say "unknown argument $1 (see --help)"; exit 2 ;;
  esac
done
version="${version#v}"
[ "$version" != latest ] || version=""
case "$prefix" in
  /*) ;;
  *) prefix="$(pwd)/$prefix" ;;
esac
bin="$prefix/bin"

# A checkout: this file is install/install.sh next to gocred's Cargo.toml. Piped to sh, $0 is
# the shell's name and there is no checkout.
checkout=""
case "$0" in
  */install.sh)
    d="$(cd "$(dirname "$0")/.." 2>/dev/null && pwd)" || d=""
    if [ -n "$d" ] && [ -f "$d/Cargo.toml" ] && grep -q '^name = "gocred"' "$d/Cargo.toml"; then
      checkout="$d"
    fi ;;
esac
if [ -z "$mode" ]; then
  if [ -n "$checkout" ] && [ -z "$version$base_url$target" ]; then mode=source; else mode=release; fi
fi

# --- downloads -----------------------------------------------------------------------------

# fetch URL FILE: 0 when saved, 3 when the server says 404, 1 otherwise (with a message).
fetch() {
  case "$1" in
    https://*) ;;
    *) die "refusing $1: only https:// downloads" ;;
  esac
  if command -v curl >/dev/null 2>&1; then
    code="$(curl -sSL --proto '=https' --tlsv1.2 --retry 3 -o "$2" -w '%{http_code}' "$1")" || {
      say "download failed: $1"; return 1; }
    case "$code" in
      200) return 0 ;;
      404) return 3 ;;
      *) say "download failed: $1: HTTP $code"; return 1 ;;
    esac
  elif command -v wget >/dev/null 2>&1; then
    # busybox wget (Alpine) knows only -q and -O.
    if wget -q -O "$2" "$1" 2>"$2.err"; then rm -f "$2.err"; return 0; fi
    if grep -q 404 "$2.err" 2>/dev/null; then rm -f "$2.err"; return 3; fi
    say "download failed: $1: $(cat "$2.err" 2>/dev/null)"
    return 1
  else
    die "needs curl or wget to download (or build from a checkout with --from-source)"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    die "needs sha256sum, shasum or openssl to verify the download"
  fi
}

host_target() {
  os="$(uname -s)"
  arch="$(uname -m)"
  case "$arch" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) die "no release for CPU $arch; build from a checkout with --from-source" ;;
  esac
  case "$os" in
    # Static (musl): runs on any Linux, glibc or musl, distroless included.
    Linux) echo "$arch-unknown-linux-musl" ;;
    Darwin) echo "$arch-apple-darwin" ;;
    MINGW*|MSYS*|CYGWIN*) [ "$arch" = x86_64 ] || die "no Windows release for $arch"; echo "x86_64-pc-windows-msvc" ;;
    *) die "no release for $os; build from a checkout with --from-source" ;;
  esac
}

install_release() {
  [ -n "$target" ] || target="$(host_target)"
  case "$target" in
    *-windows-*) ext=zip; exe=.exe ;;
    *) ext=tar.gz; exe="" ;;
  esac
  if [ -z "$base_url" ]; then
    if [ -n "$version" ]; then
      base_url="https://github.com/$repo/releases/download/v$version"
    else
      base_url="https://github.com/$repo/releases/latest/download"
    fi
  fi
  base_url="${base_url%/}"

  tmp="$(mktemp -d "${TMPDIR:-/tmp}/gocred-install.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  trap 'rm -rf "$tmp"; exit 130' INT TERM HUP

  say "downloading $base_url/SHA256SUMS"
  st=0; fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS" || st=$?
  if [ "$st" = 3 ]; then say "no release at $base_url (SHA256SUMS: 404)"; exit 3; fi
  [ "$st" = 0 ] || exit 1
  # The one archive for this target (and version, when asked); names never hold spaces.
  if [ -n "$version" ]; then want="gocred-$version-$target.$ext"; else want="gocred-*-$target.$ext"; fi
  lines="$(awk -v want="$want" '
    function glob(p) { gsub(/\./, "\\.", p); gsub(/\*/, "[^ /]*", p); return "^" p "$" }
    length($1) == 64 && $1 ~ /^[0-9a-f]+$/ && NF == 2 && $2 ~ glob(want) { print }
  ' "$tmp/SHA256SUMS")"
  n="$(printf '%s' "$lines" | grep -c . || true)"
  if [ "$n" = 0 ]; then say "no $want in $base_url/SHA256SUMS"; exit 3; fi
  [ "$n" = 1 ] || die "$base_url/SHA256SUMS lists several archives for $target; give --version"
  expected="${lines%% *}"
  archive="${lines##* }"
  name="${archive%."$ext"}"

  say "downloading $base_url/$archive"
  st=0; fetch "$base_url/$archive" "$tmp/$archive" || st=$?
  [ "$st" = 0 ] || die "could not download $archive; nothing installed"
  actual="$(sha256_of "$tmp/$archive")"
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $archive: SHA256SUMS says $expected, the download is $actual; nothing installed"
  fi
  say "verified sha256 $actual"

  mkdir "$tmp/x"
  if [ "$ext" = zip ]; then
    if command -v unzip >/dev/null 2>&1; then unzip -q "$tmp/$archive" -d "$tmp/x"; else tar -xf "$tmp/$archive" -C "$tmp/x"; fi
  else
    tar -xzf "$tmp/$archive" -C "$tmp/x"
  fi || die "could not unpack $archive; nothing installed"
  src="$tmp/x/$name"
  [ -f "$src/gocred$exe" ] && [ ! -L "$src/gocred$exe" ] || die "$archive has no $name/gocred$exe; nothing installed"
  # Runs here (right CPU, right libc) before anything is put in place.
  got="$("$src/gocred$exe" --version 2>/dev/null)" || die "the gocred in $archive does not run on this machine; nothing installed"

  mkdir -p "$bin"
  # Copy beside, then rename over: a gocred running right now keeps its file.
  cp "$src/gocred$exe" "$bin/.gocred.new$exe"
  chmod 0755 "$bin/.gocred.new$exe"
  mv -f "$bin/.gocred.new$exe" "$bin/gocred$exe"
  if [ -n "$exe" ]; then
    cp "$bin/gocred$exe" "$bin/git-credential-gocred$exe"
  else
    ln -sfn gocred "$bin/git-credential-gocred"
  fi
  share="$prefix/share"
  mkdir -p "$share/man/man1" "$share/bash-completion/completions" "$share/zsh/site-functions" \
    "$share/fish/vendor_completions.d"
  cp "$src"/man/man1/*.1 "$share/man/man1/"
  cp "$src/completions/gocred.bash" "$share/bash-completion/completions/gocred"
  cp "$src/completions/_gocred" "$share/zsh/site-functions/_gocred"
  cp "$src/completions/gocred.fish" "$share/fish/vendor_completions.d/gocred.fish"
  say "installed $got from $archive"
}

install_source() {
  [ -n "$checkout" ] || die "--from-source needs a gocred checkout (run install/install.sh from it)"
  # What building needs besides Rust (gcc + libc6-dev, ca-certificates for cargo's downloads,
  # git), named once in build-deps.sh: on Debian/Ubuntu, as root or with sudo, it adds what is
  # missing with apt-get; anywhere, it says what is still missing.
  if ! sh "$checkout/install/build-deps.sh"; then
    command -v cargo >/dev/null 2>&1 || say "building needs Rust (cargo: https://rustup.rs) as well"
    die "cannot build from source (see above); or install a release without Rust: install.sh --release"
  fi
  command -v cargo >/dev/null 2>&1 ||
    die "building needs Rust (cargo: https://rustup.rs); or install a release without Rust: install.sh --release"
  say "building gocred with cargo (a release build; a few minutes on a small machine)"
  # The release build's flags (static on Linux), for this machine's target only: with an
  # explicit --target they never reach build scripts and proc macros.
  host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
  [ -n "$host" ] || die "rustc -vV names no host target"
  # shellcheck source=install/build-env.sh
  . "$checkout/install/build-env.sh"
  gocred_build_env "$host"
  # cargo's own progress: a bar on a terminal, one line per crate otherwise.
  cargo install --locked --force --path "$checkout" --root "$prefix" --target "$host"
  ln -sfn gocred "$bin/git-credential-gocred"
}

if [ "$mode" = release ]; then install_release; else install_source; fi

case "$bin" in
  *" "*) say "warning: $bin contains a space; Go's GOAUTH cannot run a command from there" ;;
esac
echo "installed: $bin/gocred and $bin/git-credential-gocred"
on_path=0
case ":$PATH:" in
  *":$bin:"*) on_path=1 ;;
esac
if [ "$on_path" = 0 ]; then
  # The exact line for this shell, and where to keep it (root's ~/.profile has no ~/.local/bin).
  say "$bin is not on your PATH. For this shell run:"
  # shellcheck disable=SC2016 # $PATH is for the user's shell to expand
  printf '\n    export PATH="%s:$PATH"\n\n' "$bin" >&2
  say "and add that line to ~/.profile (or ~/.bashrc, ~/.zshrc) to keep it."
fi

if [ "$run_init" = 1 ]; then
  # `gocred init` configures git and runs `go env -w`: say what is missing before it starts.
  missing=""
  command -v git >/dev/null 2>&1 || missing="git"
  if ! command -v go >/dev/null 2>&1; then
    missing="${missing:+$missing and }Go 1.24 or later (https://go.dev/dl)"
  else
    gov="$(go env GOVERSION 2>/dev/null || true)"
    minor="$(printf '%s' "$gov" | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
    if [ -z "$minor" ] || [ "$minor" -lt 24 ]; then
      missing="${missing:+$missing and }Go 1.24 or later (found ${gov:-an unknown version})"
    fi
  fi
  [ -z "$missing" ] || die "gocred is installed, but \`gocred init\` needs $missing; install it, then run: gocred init"
  set -- init
  [ -z "$goprivate" ] || set -- init --goprivate "$goprivate"
  # Piped to sh, stdin is this script: init's questions go to the terminal.
  if [ ! -t 0 ] && [ -r /dev/tty ] && (: </dev/tty) 2>/dev/null; then
    exec "$bin/gocred$exe" "$@" </dev/tty
  fi
  exec "$bin/gocred$exe" "$@"
fi
echo "next: gocred init     (sets up git and Go for the modules GOPRIVATE names; --dry-run to preview)"
