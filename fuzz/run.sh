#!/usr/bin/env bash
# Runs gocred's fuzz targets one after another, each for a fixed number of executions.
#
#   fuzz/run.sh                      every target, 10,000,000 executions each
#   RUNS=100000 fuzz/run.sh          a short smoke run
#   fuzz/run.sh netrc_block scope_patterns
#   SANITIZER=leak fuzz/run.sh       LeakSanitizer alone: 2-4x the executions a second
#
# Needs a nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz from
# crates.io when it is missing. Builds with AddressSanitizer (LeakSanitizer on; SANITIZER=leak
# for LeakSanitizer alone, SANITIZER=none for neither), so a crash, a leak, an input slower than
# TIMEOUT seconds or one using more than RSS_MB MiB stops the run with the input saved under
# fuzz/artifacts/<target>/. Inputs libFuzzer finds go to
# fuzz/work-corpus/<target>/ (not committed); the committed seeds in fuzz/corpus/<target>/ are
# only read. One fuzzer process at a time, at the lowest CPU priority. Each target's libFuzzer
# statistics land in fuzz/logs/<target>.log and one line per target in fuzz/logs/summary.tsv
# (target, executions, exec/s, seconds, exit status).
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-10000000}
TIMEOUT=${TIMEOUT:-10}
RSS_MB=${RSS_MB:-2048}
SANITIZER=${SANITIZER:-address}
ALL=(protocol_reader goauth_stdin goauth_url netrc_go netrc_curl netrc_block config_parse
     scope_patterns server_text)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

# Longest input per target: enough to cross every size limit the code has (curl's 4096-byte
# line buffer: netrc_curl), small enough to keep executions fast. Go's netrc reader has no size
# limit, so netrc_go needs no long input; netrc_block's check grows with hosts × file size.
max_len() {
  case "$1" in
    netrc_curl) echo 8192 ;;
    netrc_go) echo 2048 ;;
    netrc_block) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "run.sh: a nightly toolchain is needed: rustup toolchain install nightly" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

mkdir -p logs
for t in "${TARGETS[@]}"; do
  mkdir -p "work-corpus/$t"
  echo "== $t: $RUNS executions, sanitizer $SANITIZER" >&2
  start=$(date +%s)
  set +e
  nice -n 19 cargo +nightly fuzz run -s "$SANITIZER" "$t" "work-corpus/$t" "corpus/$t" -- \
    -runs="$RUNS" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -max_len="$(max_len "$t")" \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  status=$?
  set -e
  end=$(date +%s)
  grep -E '^(#[0-9]+ +(INITED|DONE)|==[0-9]+==|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|SUMMARY|Done)' "logs/$t.log" >&2 || true
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log")
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$runs" "$rate" "$((end - start))" "$status" |
    tee -a logs/summary.tsv
  if [ "$status" -ne 0 ]; then
    echo "run.sh: $t failed (exit $status): see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    exit "$status"
  fi
done
