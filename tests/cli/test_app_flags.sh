#!/usr/bin/env bash
# The standard flags of an eddy program (eddy_main, src/runtime/main.c), through the example
# program examples/wordcount: help, describe, dot, usage errors (exit 2, one line
# "wordcount: ..." on stderr), configuration errors (exit 1), and a real run stopped by SIGTERM
# and by SIGINT (exit 0, "stopped" on stderr). The eddy CLI ($EDDY) produces and consumes.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

APP=$(dirname "$EDDY")/examples/wordcount
[ -x "$APP" ] || fail "'$APP' is not an executable (build the examples)"

# Every case runs in an empty directory, so that a default ./eddy-data or ./eddy-state that a
# case must not create would show.
CWD=$WORK/cwd
mkdir -p "$CWD"
cd "$CWD"

# expect_app_error STATUS [PATTERN]: the last run exited STATUS with exactly one stderr line
# starting "wordcount: " (and matching the extended regex PATTERN when given).
expect_app_error() {
  local status=$1 pattern=${2:-}
  [ "$rc" -eq "$status" ] || fail "exited $rc, expected $status"
  [ -n "$err" ] || fail "nothing on stderr"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "expected exactly one stderr line"
  [[ "$err" == "wordcount: "* ]] || fail "stderr does not start with 'wordcount: '"
  if [ -n "$pattern" ]; then
    printf '%s' "$err" | grep -Eq -- "$pattern" || fail "stderr does not match /$pattern/"
  fi
}

# expect_untouched: nothing was created in the working directory or at the given paths.
expect_untouched() {
  local path
  for path in "$@"; do
    [ ! -e "$path" ] || fail "$path was created"
  done
  [ -z "$(ls -A "$CWD")" ] || fail "files appeared in the working directory: $(ls -A "$CWD")"
}

# ---- help, describe, dot ------------------------------------------------------------------------
run "$APP" --help
expect_ok "wordcount --help"
expect_match "$out" '^Usage:' "help starts with usage"
expect_match "$out" 'wordcount \[--config FILE\]' "usage names the program"
for flag in --config --set --data --describe --dot --print-topics --bootstrap-servers --help; do
  expect_match "$out" "  $flag" "help lists $flag"
done
run "$APP" -h
expect_ok "wordcount -h"
expect_match "$out" '^Usage:' "-h prints usage"

run "$APP" --describe --data "$WORK/describe-data" --set "state.dir=$WORK/describe-state"
expect_ok "wordcount --describe"
expect_match "$out" '^Topologies:' "describe starts with Topologies:"
expect_match "$out" 'Sub-topology: 0' "describe shows sub-topology 0"
expect_match "$out" 'Source: .*\(topics: \[text-lines\]\)' "describe shows the source topic"
expect_match "$out" 'counts' "describe shows the store"
expect_untouched "$WORK/describe-data" "$WORK/describe-state"

run "$APP" --dot --data "$WORK/dot-data"
expect_ok "wordcount --dot"
expect_match "$out" '^digraph' "dot output is a digraph"
expect_match "$out" 'text-lines' "dot shows the source topic"
expect_untouched "$WORK/dot-data"

# --print-topics: every topic with its partitions, role and configs; the internal ones follow the
# input's partition count. A missing input is one error line naming it.
run "$EDDY" --data "$WORK/topics-data" topic create text-lines word-counts -p 3
expect_ok "eddy topic create for --print-topics"
run "$APP" --print-topics --data "$WORK/topics-data" --set "state.dir=$WORK/topics-state"
expect_ok "wordcount --print-topics"
expect_match "$out" '^text-lines 3 input -$' "print-topics lists the input with its partitions"
expect_match "$out" '^word-counts - output -$' "print-topics lists the output"
expect_match "$out" '^wordcount-counts-repartition 3 repartition -$' "print-topics: repartition"
expect_match "$out" '^wordcount-counts-changelog 3 changelog cleanup\.policy=compact$' \
  "print-topics: the changelog with its cleanup policy"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 4 ] || fail "print-topics printed other lines: $out"
[ ! -e "$WORK/topics-state" ] || fail "--print-topics created the state directory"
run "$EDDY" --data "$WORK/topics-data" topic list
expect_ok "eddy topic list after --print-topics"
printf '%s' "$out" | grep -q 'wordcount-counts' && fail "--print-topics created internal topics"
run "$APP" --print-topics --data "$WORK/empty-data"
expect_app_error 1 "input topic text-lines does not exist"

# ---- usage errors: exit 2 -----------------------------------------------------------------------
run "$APP" --frobnicate
expect_app_error 2 "unknown flag '--frobnicate'"
run "$APP" stray
expect_app_error 2 "unexpected argument 'stray'"
run "$APP" --set
expect_app_error 2 "'--set' needs a value"
run "$APP" --set commit.interval.ms
expect_app_error 2 "commit\.interval\.ms.*KEY=VALUE"
run "$APP" --set commit.interval.ms=soon
expect_app_error 2 "commit\.interval\.ms"
run "$APP" --describe --dot
expect_app_error 2 "--describe, --dot and --print-topics"
run "$APP" --print-topics --describe
expect_app_error 2 "--describe, --dot and --print-topics"
run "$APP" --help=yes
expect_app_error 2 "takes no value"
expect_untouched

# ---- configuration errors: exit 1, one line naming the culprit ----------------------------------
run "$APP" --data "$WORK/cfg-data" --set "state.dir=$WORK/cfg-state" --set unknown.key=1
expect_app_error 1 "unknown\.key"
expect_untouched "$WORK/cfg-data" "$WORK/cfg-state"
run "$APP" --config "$WORK/no-such.properties"
[ "$rc" -ne 0 ] || fail "--config of a missing file exited 0"
expect_app_error "$rc" "no-such\.properties"
printf 'processing.guarantee=exactly_once_v2\n' >"$WORK/eos.properties"
run "$APP" --config "$WORK/eos.properties" --data "$WORK/cfg-data" --set "state.dir=$WORK/cfg-state"
expect_app_error 1 "processing\.guarantee"
expect_untouched "$WORK/cfg-data" "$WORK/cfg-state"

# ---- a run, stopped by a signal -----------------------------------------------------------------

# run_until_signal SIGNAL NAME: runs wordcount on its own data and state directories, produces
# three "hello" with the eddy CLI, waits until word-counts shows "hello 3", sends SIGNAL and
# checks a clean exit.
run_until_signal() {
  local signal=$1 name=$2
  local data=$WORK/$name-data state=$WORK/$name-state log=$WORK/$name.stderr
  "$APP" --data "$data" --set "state.dir=$state" --set commit.interval.ms=100 2>"$log" &
  local pid=$!
  # The program makes its topics at start; wait for them rather than racing it.
  local deadline=$(($(now_ms) + 20000))
  until "$EDDY" --data "$data" topic describe text-lines >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "$name: wordcount exited early: $(cat "$log")"
    [ "$(now_ms)" -lt "$deadline" ] || fail "$name: text-lines was not created within 20 s"
    sleep 0.05
  done
  printf 'hello world\nHello again\nsay hello\n' | "$EDDY" --data "$data" topic produce text-lines \
    >/dev/null || fail "$name: producing text-lines failed"
  deadline=$(($(now_ms) + 20000))
  local counts=""
  while :; do
    counts=$("$EDDY" --data "$data" topic consume word-counts -f '%k %v\n' 2>/dev/null || true)
    printf '%s\n' "$counts" | grep -qx 'hello 3' && break
    kill -0 "$pid" 2>/dev/null || fail "$name: wordcount exited early: $(cat "$log")"
    [ "$(now_ms)" -lt "$deadline" ] ||
      fail "$name: no 'hello 3' within 20 s; word-counts: [$counts]"
    sleep 0.1
  done
  printf '%s\n' "$counts" | grep -qx 'world 1' || fail "$name: no 'world 1' in [$counts]"
  printf '%s\n' "$counts" | grep -qx 'again 1' || fail "$name: no 'again 1' in [$counts]"
  kill -"$signal" "$pid"
  local status=0
  set +e
  wait "$pid"
  status=$?
  set -e
  local stderr_text
  stderr_text=$(cat "$log")
  [ "$status" -eq 0 ] || fail "$name: wordcount exited $status after SIG$signal: [$stderr_text]"
  printf '%s\n' "$stderr_text" | grep -qx 'wordcount: stopped' ||
    fail "$name: no 'wordcount: stopped' on stderr: [$stderr_text]"
  printf '%s\n' "$stderr_text" | grep -q '^wordcount: running (application.id=wordcount)' ||
    fail "$name: no 'running' line on stderr: [$stderr_text]"
  # The final commit left the group's offsets at the end of every input partition (4).
  local committed caught_up
  committed=$("$EDDY" --data "$data" group describe wordcount 2>&1 || true)
  caught_up=$(printf '%s\n' "$committed" | awk '$1 == "text-lines" && $3 == $4 && $5 == 0' | wc -l)
  [ "$caught_up" -eq 4 ] || fail "$name: the input was not committed to its end: [$committed]"
  expect_match "$committed" 'TOTAL-LAG +0' "$name: no lag after the final commit"
}

run_until_signal TERM term
run_until_signal INT int

echo "ok: app flags"
