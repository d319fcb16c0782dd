#!/usr/bin/env bash
# Instructions of one hot credential `get`, counted by callgrind (repeatable, unlike wall time):
# gocred's release binary against `git credential-store get`.
#
#   bash benches/startup-callgrind.sh [GOCRED_BINARY]
#
# GOCRED_BINARY defaults to the release build of install/release.sh for this machine
# (target/<host>/release/gocred; built when missing). Each contender answers one request from a
# fresh process, as git runs a helper, in a throw-away HOME:
#   git credential-store get          a plaintext file (the floor for a helper)
#   gocred get, pat in keyutils       the token read from the kernel user keyring (as a cached
#                                     minted token is)
#   gocred get, env                   the token from an environment variable (no keyring)
# Prints each total and the ratio to credential-store. Goal: <= 1.2x. Needs valgrind, git, and
# for keyutils a kernel keyring (the entry is removed at the end).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

command -v valgrind >/dev/null 2>&1 || { echo "startup-callgrind: needs valgrind" >&2; exit 1; }
bin="${1:-}"
if [ -z "$bin" ]; then
  host="$(rustc -vV | sed -n 's/^host: //p')"
  bin="${CARGO_TARGET_DIR:-$here/target}/$host/release/gocred"
  if [ ! -x "$bin" ]; then
    echo "startup-callgrind: building $bin (install/release.sh)" >&2
    bash "$here/install/release.sh" --target "$host" --out "$(mktemp -d)" >&2
  fi
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

work="$(mktemp -d)"
service="gocred-callgrind-$$"
cleanup() {
  env -i HOME="$work" GOCRED_CONFIG="$work/config.toml" GOCRED_KEYRING=keyutils \
    GOCRED_KEYRING_SERVICE="$service" "$bin" logout ku.corp.test >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
token="callgrind_tok_0123456789abcdefghijklmnopqrstuv"
printf '[[rule]]\npattern = "env.corp.test"\nsource = "env"\nvariable = "BENCH_TOKEN"\n[[rule]]\npattern = "ku.corp.test"\nsource = "pat"\n' >"$work/config.toml"
chmod 600 "$work/config.toml"
printf 'https://alice:%s@store.corp.test\n' "$token" >"$work/git-credentials"
chmod 600 "$work/git-credentials"
run_env=(env -i HOME="$work" PATH=/usr/bin:/bin LANG=C.UTF-8 GOENV=off
  GOCRED_CONFIG="$work/config.toml" GOCRED_KEYRING=keyutils GOCRED_KEYRING_SERVICE="$service"
  BENCH_TOKEN="$token")
printf '%s\n' "$token" | "${run_env[@]}" "$bin" login ku.corp.test >/dev/null 2>&1

# count NAME HOST CMD...: one run under callgrind; prints the instruction total.
count() {
  local name="$1" host="$2"
  shift 2
  local out="$work/cg.$name"
  printf 'protocol=https\nhost=%s\n\n' "$host" |
    "${run_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
      >"$work/answer" 2>"$work/valgrind.log" || {
    cat "$work/valgrind.log" >&2
    exit 1
  }
  grep -q "$token" "$work/answer" || { echo "startup-callgrind: $name gave no token" >&2; exit 1; }
  sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -n 1
}

store="$(count store store.corp.test git credential-store --file "$work/git-credentials" get)"
ku="$(count keyutils ku.corp.test "$bin" get)"
envc="$(count env env.corp.test "$bin" get)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "binary: $bin"
printf '%-34s %12s\n' "contender" "instructions"
printf '%-34s %12s\n' "git credential-store get" "$store"
printf '%-34s %12s  %sx\n' "gocred get (pat, keyutils)" "$ku" "$(ratio "$ku" "$store")"
printf '%-34s %12s  %sx\n' "gocred get (env)" "$envc" "$(ratio "$envc" "$store")"
echo "goal: gocred <= 1.2x git credential-store"
