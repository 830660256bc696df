#!/usr/bin/env bash
# Helpers for the command-line tests (tests/cli/test_*.sh), which source this file.
#
# ctest runs each tests/cli/test_*.sh as `bash script.sh /path/to/eddy`. Run directly
# (`bash lib.sh /path/to/eddy`), this file only checks that the binary starts.
#
# After sourcing: $EDDY is the binary, $WORK a fresh temporary directory (removed at exit),
# $DATA a data directory path inside it (not yet created), and `e ARGS...` runs
# `eddy --data $DATA ARGS...`.
#
# Kafka tests: $KAFKA_EXTERNAL is EDDY_TEST_KAFKA (`make test-kafka KAFKA=host:port`), the broker
# to run against instead of a development cluster of the test's own (empty: none); $RUN_PREFIX is
# unique to the run, for topic and group names on a broker that keeps them between runs;
# `needs_mock REASON` ends a test that only makes sense on the mock cluster when
# $KAFKA_EXTERNAL is set, saying so.

set -euo pipefail

EDDY=${1:?usage: bash $0 /path/to/eddy}
[ -x "$EDDY" ] || { echo "FAIL: '$EDDY' is not an executable" >&2; exit 1; }
EDDY=$(cd "$(dirname "$EDDY")" && pwd)/$(basename "$EDDY") # tests change directory
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eddy-cli-test.XXXXXX")
DATA=$WORK/data
# At exit, also stop the background eddy processes a failed test leaves behind.
cleanup() {
  local pids
  pids=$(jobs -p)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null || true
    wait 2>/dev/null || true
  fi
  chmod -R u+rwX "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
unset EDDY_DATA EDDY_LOG_LEVEL
# Sanitizer reports must fail a test, not scroll by.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

e() { "$EDDY" --data "$DATA" "$@"; }

KAFKA_EXTERNAL=${EDDY_TEST_KAFKA:-}
RUN_PREFIX="eddy-test-$$-$(date +%s)-"

needs_mock() {
  if [ -n "$KAFKA_EXTERNAL" ]; then
    echo "skipped: needs the mock cluster ($1)"
    exit 0
  fi
}

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${out+x}" ]; then printf -- '--- stdout:\n%s\n--- stderr:\n%s\n--- status: %s\n' \
    "$out" "$err" "$rc" >&2; fi
  exit 1
}

# run [--stdin TEXT] COMMAND...: runs COMMAND and sets $out, $err (trailing newlines removed)
# and $rc. With --stdin the text is fed to stdin exactly as given (no newline added); without
# it, COMMAND reads the caller's stdin (so `run eddy ... <file` works).
run() {
  set +e
  if [ "$1" = "--stdin" ]; then
    local input=$2
    shift 2
    printf '%s' "$input" | "$@" >"$WORK/.out" 2>"$WORK/.err"
    rc=${PIPESTATUS[1]}
  else
    "$@" >"$WORK/.out" 2>"$WORK/.err"
    rc=$?
  fi
  set -e
  out=$(cat "$WORK/.out")
  err=$(cat "$WORK/.err")
}

# expect_ok: the last run succeeded and printed nothing on stderr.
expect_ok() {
  [ "$rc" -eq 0 ] || fail "${1:-command} exited $rc, expected 0"
  [ -z "$err" ] || fail "${1:-command} printed on stderr"
}

# expect_error STATUS [PATTERN]: the last run exited STATUS with exactly one stderr line
# starting "eddy: " (and matching the extended regex PATTERN when given).
expect_error() {
  local status=$1 pattern=${2:-}
  [ "$rc" -eq "$status" ] || fail "exited $rc, expected $status"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "expected exactly one stderr line"
  [[ "$err" == "eddy: "* ]] || fail "stderr does not start with 'eddy: '"
  if [ -n "$pattern" ]; then
    printf '%s' "$err" | grep -Eq -- "$pattern" || fail "stderr does not match /$pattern/"
  fi
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  [ "$1" == "$2" ] || fail "$3: got [$1], expected [$2]"
}

# expect_match TEXT REGEX WHAT
expect_match() {
  printf '%s' "$1" | grep -Eq -- "$2" || fail "$3: [$1] does not match /$2/"
}

# snapshot: what a failed command must not change: every topic's description and the bytes
# of every segment, index and metadata file.
snapshot() {
  {
    if [ -d "$DATA" ]; then
      local topic
      for topic in $(e topic list | tail -n +2 | awk '{print $1}'); do
        e topic describe "$topic"
      done
      (cd "$DATA" && find . -type f \( -name '*.log' -o -name '*.index' -o -name '*.timeindex' \
        -o -name '*.properties' -o -name 'eddy.format' \) -print0 | sort -z |
        xargs -0 -r md5sum)
    else
      echo "no data directory"
    fi
  } 2>&1
}

# now_ms: the current Unix time in milliseconds.
now_ms() { date +%s%3N; }

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  run "$EDDY" --version
  expect_ok "eddy --version"
  expect_match "$out" '^eddy [0-9]+\.[0-9]+\.[0-9]+$' "version line"
  run "$EDDY" --help
  expect_ok "eddy --help"
  expect_match "$out" 'topic produce' "main help lists commands"
  echo "ok: lib.sh (binary starts)"
fi
