#!/usr/bin/env bash
# eddy dev kafka: the development cluster in the background, topics created while it runs,
# faults, bad input, and a clean stop on SIGTERM and SIGINT. Every wait is bounded.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

needs_mock "tests of eddy dev kafka itself"

# wait_for_file FILE: up to 20 s for FILE to appear.
wait_for_file() {
  local i
  for i in $(seq 200); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  fail "'$1' did not appear within 20 s (cluster stderr: $(cat "$WORK"/dk*.err 2>/dev/null))"
}

# wait_for_exit PID: up to 20 s for PID to end; sets $rc to its exit status.
wait_for_exit() {
  local i
  for i in $(seq 200); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$1" 2>/dev/null && fail "process $1 did not stop within 20 s"
  set +e
  wait "$1" 2>/dev/null
  rc=$?
  set -e
}

# A cluster command that must be refused before it starts serving: bounded by a timeout, so a
# wrongly accepted one cannot hang the test (status 124).
refused() { run timeout 20 "$EDDY" dev kafka "$@"; }

dk() { "$EDDY" dev kafka "$@"; }

# ---- help says what it is -----------------------------------------------------------------
run "$EDDY" dev kafka --help
expect_ok "dev kafka --help"
expect_match "$out" 'development and tests only' "help: development only"
expect_match "$out" 'in memory' "help: in memory"
expect_match "$out" 'dies with the process' "help: data dies"
expect_match "$out" 'no Admin API' "help: no admin API"
expect_match "$out" 'compaction' "help: no compaction"
expect_match "$out" '5 MiB' "help: partition limit"
for sub in create-topic topics fault; do
  run "$EDDY" dev kafka "$sub" --help
  expect_ok "dev kafka $sub --help"
  expect_match "$out" 'bootstrap-servers' "$sub help names --bootstrap-servers"
done
run "$EDDY" --help
expect_match "$out" 'dev kafka' "main help lists dev kafka"

# ---- bad flags: refused before anything starts ----------------------------------------------
refused --brokers 0
expect_error 2 "invalid broker count '0'"
refused --brokers 10
expect_error 2 "invalid broker count '10'"
refused --brokers two
expect_error 2 "invalid broker count 'two'"
refused --topic orders
expect_error 2 "invalid topic 'orders': expected NAME:PARTITIONS"
refused --topic orders:0
expect_error 2 "invalid topic 'orders:0'"
refused --topic orders:abc
expect_error 2 "invalid topic 'orders:abc'"
refused --topic 'bad name:1'
expect_error 2 "invalid topic name 'bad name'"
refused --topic a:1 --topic a:2
expect_error 2 "topic 'a' is named twice"
refused --nope
expect_error 2 "unknown flag '--nope'"
refused extra
expect_error 2 "unexpected argument 'extra'"
refused --port-file ''
expect_error 2 "port-file"

# ---- start one in the background ----------------------------------------------------------
PORT_FILE=$WORK/kafka.port
"$EDDY" dev kafka --brokers 3 --port-file "$PORT_FILE" --topic orders:3 --topic payments:1 \
  >"$WORK/dk.out" 2>"$WORK/dk.err" &
DK_PID=$!
wait_for_file "$PORT_FILE"
BOOTSTRAP=$(cat "$PORT_FILE")
expect_match "$BOOTSTRAP" '^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$' \
  "port file holds the bootstrap address"
expect_eq "$(cat "$WORK/dk.out")" "$BOOTSTRAP" "stdout is the bootstrap address, one line"
ls "$WORK" | grep -q 'kafka.port.tmp' && fail "the port file's temporary was left behind"

# The --topic topics exist once the port file does.
run dk topics -b "$BOOTSTRAP"
expect_ok "topics"
expect_eq "$(printf '%s\n' "$out" | tr -s ' ')" \
  "$(printf 'NAME PARTITIONS\norders 3\npayments 1')" "topics at start"

# ---- create topics while it runs ----------------------------------------------------------
run dk create-topic -b "$BOOTSTRAP" clicks:5 views:2
expect_ok "create-topic"
expect_eq "$(printf '%s\n' "$out" | tr -s ' ')" \
  "$(printf 'TOPIC PARTITIONS STATUS\nclicks 5 OK\nviews 2 OK')" "create-topic table"
run dk create-topic --bootstrap-servers="$BOOTSTRAP" clicks:5
expect_error 1 "topic 'clicks' already exists"
run dk create-topic -b "$BOOTSTRAP" orders:7
expect_error 1 "topic 'orders' already exists"
# Any one broker's address will do, and so will localhost.
LAST_PORT=${BOOTSTRAP##*:}
run dk create-topic -b "localhost:$LAST_PORT" searches:1
expect_ok "create-topic through the last broker's port"
run dk topics -b "$BOOTSTRAP"
expect_eq "$(printf '%s\n' "$out" | tail -n +2 | awk '{print $1 ":" $2}' | paste -sd' ')" \
  "orders:3 payments:1 clicks:5 views:2 searches:1" "topics after creation"
grep -q "created topic 'clicks' with 5 partitions" "$WORK/dk.err" ||
  fail "the cluster did not log the creation of 'clicks'"

# Bad operands: usage errors, nothing created.
run dk create-topic -b "$BOOTSTRAP" good:1 bad
expect_error 2 "invalid topic 'bad': expected NAME:PARTITIONS"
run dk create-topic -b "$BOOTSTRAP" good:0
expect_error 2 "invalid topic 'good:0'"
run dk create-topic -b "$BOOTSTRAP" good:10001
expect_error 2 "invalid topic 'good:10001'"
run dk create-topic -b "$BOOTSTRAP" ..:1
expect_error 2 "invalid topic name '..'"
run dk create-topic -b "$BOOTSTRAP" good:1 good:2
expect_error 2 "named twice"
run dk create-topic good:1
expect_error 2 "bootstrap-servers is required"
run dk create-topic -b "$BOOTSTRAP"
expect_error 2 "needs NAME:PARTITIONS"
run dk topics -b "$BOOTSTRAP"
expect_match "$out" 'searches' "topics still listed"
printf '%s' "$out" | grep -q '^good' && fail "a refused create-topic created 'good'"

# No cluster at that address: one line, exit 1.
run dk create-topic -b 127.0.0.1:1 x:1
expect_error 1 "no development Kafka cluster .* answers at '127.0.0.1:1'"
run dk topics -b kafka.example.com:9092
expect_error 1 "no development Kafka cluster"
run dk fault -b 127.0.0.1:1 broker-down 1
expect_error 1 "no development Kafka cluster"

# ---- faults -------------------------------------------------------------------------------
run dk fault -b "$BOOTSTRAP" broker-down 2
expect_ok "broker-down"
run dk fault -b "$BOOTSTRAP" broker-up 2
expect_ok "broker-up"
run dk fault -b "$BOOTSTRAP" leader orders 1 3
expect_ok "leader"
run dk fault -b "$BOOTSTRAP" leader orders 2 none
expect_ok "leader none"
run dk fault -b "$BOOTSTRAP" request-errors 0 2 NOT_LEADER_FOR_PARTITION
expect_ok "request-errors by name"
run dk fault -b "$BOOTSTRAP" request-errors 1 1 -- -195
expect_ok "request-errors with a negative code after --"
grep -q 'broker 2 down' "$WORK/dk.err" || fail "the cluster did not log 'broker 2 down'"
grep -q 'fails with _TRANSPORT (-195)' "$WORK/dk.err" || fail "request-errors not logged"

run dk fault -b "$BOOTSTRAP" broker-down 4
expect_error 1 "no broker 4 \(the brokers are 1..3\)"
run dk fault -b "$BOOTSTRAP" leader orders 3 1
expect_error 1 "topic 'orders': no partition 3"
run dk fault -b "$BOOTSTRAP" leader nowhere 0 1
expect_error 1 "topic 'nowhere' was not created"
run dk fault -b "$BOOTSTRAP" request-errors 0 1 NO_SUCH_ERROR
expect_error 1 "error code 'NO_SUCH_ERROR'"
run dk fault -b "$BOOTSTRAP" broker-down two
expect_error 2 "invalid number 'two'"
run dk fault -b "$BOOTSTRAP" broker-down
expect_error 2 "expected 'broker-down BROKER_ID'"
run dk fault -b "$BOOTSTRAP" explode 1
expect_error 2 "unknown fault 'explode'"
run dk fault -b "$BOOTSTRAP"
expect_error 2 "needs FAULT"
run dk fault broker-down 1
expect_error 2 "bootstrap-servers is required"

# ---- SIGTERM stops it cleanly ---------------------------------------------------------------
kill -TERM "$DK_PID"
wait_for_exit "$DK_PID"
expect_eq "$rc" 0 "exit status after SIGTERM"
[ ! -e "$PORT_FILE" ] || fail "the port file was not removed at exit"
grep -q 'stopping on SIGTERM' "$WORK/dk.err" || fail "no stop message"
run dk topics -b "$BOOTSTRAP"
expect_error 1 "no development Kafka cluster"

# ---- SIGINT too, without a port file; and a killed one leaves no channel behind -------------
"$EDDY" dev kafka >"$WORK/dk2.out" 2>"$WORK/dk2.err" &
DK2_PID=$!
wait_for_file "$WORK/dk2.out"
BOOTSTRAP2=$(head -1 "$WORK/dk2.out")
run dk create-topic -b "$BOOTSTRAP2" one:1
expect_ok "create-topic on the second cluster"
kill -INT "$DK2_PID"
wait_for_exit "$DK2_PID"
expect_eq "$rc" 0 "exit status after SIGINT"

# (Started from a subshell, so that bash does not report the SIGKILL as a dead job.)
("$EDDY" dev kafka --port-file "$WORK/dk3.port" >/dev/null 2>"$WORK/dk3.err" &
  echo $! >"$WORK/dk3.pid"
  wait) 2>/dev/null &
DK3_WRAPPER=$!
wait_for_file "$WORK/dk3.port"
BOOTSTRAP3=$(cat "$WORK/dk3.port")
kill -KILL "$(cat "$WORK/dk3.pid")"
wait_for_exit "$DK3_WRAPPER"
run dk create-topic -b "$BOOTSTRAP3" x:1
expect_error 1 "no development Kafka cluster"

# A port file that cannot be written: one error line, exit 1, nothing left running.
refused --port-file "$WORK/no-such-dir/port"
expect_error 1 "cannot write port file '.*no-such-dir/port'"

echo "ok: test_dev_kafka.sh"
