#!/usr/bin/env bash
# The eddy command line against Kafka (--brokers, -X, EDDY_BROKERS), on a development cluster
# (`eddy dev kafka`, librdkafka's mock) started here, or on EDDY_TEST_KAFKA's broker (make
# test-kafka): topics, produce and consume (placement by murmur2 compared with the embedded
# log), headers and timestamps, a group's committed offsets, what the mock cannot do (only on
# a development cluster: a real broker does it), and bad input. Topic and group names carry
# the run's prefix, so that a broker that keeps them from run to run sees new ones. Every client
# runs under `timeout`.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

ORDERS=${RUN_PREFIX}orders
PAYMENTS=${RUN_PREFIX}payments
NOSUCH=${RUN_PREFIX}nosuch
READERS=${RUN_PREFIX}readers

# The mock's rebalances wait session.timeout.ms - 1 s; these values keep a group consume short
# (see ../shared/notes/kafka-mock.md).
GROUP_FLAGS=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

if [ -n "$KAFKA_EXTERNAL" ]; then
  BROKERS=$KAFKA_EXTERNAL
else
  "$EDDY" dev kafka --port-file "$WORK/port" >/dev/null 2>"$WORK/dev.err" &
  dev_pid=$!
  stop_dev() { kill -TERM "$dev_pid" 2>/dev/null || true; wait "$dev_pid" 2>/dev/null || true; }
  trap 'stop_dev; cleanup' EXIT
  for _ in $(seq 200); do
    [ -s "$WORK/port" ] && break
    sleep 0.1
  done
  [ -s "$WORK/port" ] || fail "eddy dev kafka did not start: $(cat "$WORK/dev.err")"
  BROKERS=$(head -n 1 "$WORK/port")
fi
# A development cluster (this one, or an external `eddy dev kafka`) answers on its control
# channel; a real Kafka or Redpanda has none, and does what the mock cannot.
if timeout 30 "$EDDY" dev kafka topics -b "$BROKERS" >/dev/null 2>&1; then
  MOCK=1
else
  MOCK=0
fi

k() { timeout 30 "$EDDY" --brokers "$BROKERS" "$@"; }

run k topic create "$ORDERS" -p 3
expect_ok "topic create $ORDERS"

# ---- topics ------------------------------------------------------------------------------------
run k topic list
expect_ok "topic list"
expect_match "$out" '^NAME +PARTITIONS +REPLICAS' "list header"
expect_match "$out" "$ORDERS +3 +[0-9]+" "orders listed"

# The mock answers no CreateTopics: topic create goes through the dev cluster (on a real broker,
# through CreateTopics).
run k topic create "$PAYMENTS" -p 2
expect_ok "topic create"
expect_match "$out" "$PAYMENTS +OK" "created"
run k topic create "$PAYMENTS" -p 2
expect_error 1 "topic '$PAYMENTS' already exists"
run k topic create 'bad name'
expect_error 2 "invalid topic name"

run k topic list
expect_match "$out" "$PAYMENTS +2 +[0-9]+" "new topic listed with its partitions"

run k topic describe "$PAYMENTS"
expect_ok "topic describe"
expect_match "$out" 'PARTITIONS +2' "summary"
expect_match "$out" 'PARTITION +LEADER +REPLICAS +ISR +START-OFFSET +END-OFFSET' "partition header"
if [ "$MOCK" = 1 ]; then
  expect_match "$out" 'answers no DescribeConfigs' "configs: a note, not an error"
  expect_match "$out" '^1 +1 +1 +1 +0 +0$' "partition 1 row"
else
  expect_match "$out" '^1 +[0-9]+ +[0-9,]+ +[0-9,]+ +0 +0$' "partition 1 row"
fi

# Looking a topic up never names it in a Metadata request (the mock would create it).
run k topic describe "$NOSUCH"
expect_error 1 "unknown topic '$NOSUCH'"
run k topic list
[[ "$out" != *"$NOSUCH"* ]] || fail "describe created the unknown topic"

if [ "$MOCK" = 1 ]; then
  run k topic delete "$PAYMENTS"
  expect_error 1 "cannot delete topics.*nothing was deleted"
fi

# ---- produce and consume: placement as the embedded log's ------------------------------------
seq 1 100 | sed 's/.*/key-&|value-&/' >"$WORK/keyed"
run k topic produce "$ORDERS" --key-delim '|' <"$WORK/keyed"
expect_ok "produce 100 keyed records"
expect_eq "$out" "Produced 100 records to $ORDERS." "produce summary"
run k topic consume "$ORDERS" -f '%p %k %v\n'
expect_ok "consume them back"
printf '%s\n' "$out" | sort >"$WORK/kafka.txt"
expect_eq "$(wc -l <"$WORK/kafka.txt")" "100" "100 records consumed"

e topic create orders -p 3 >/dev/null
e topic produce orders --key-delim '|' <"$WORK/keyed" >/dev/null
e topic consume orders -f '%p %k %v\n' | sort >"$WORK/embedded.txt"
cmp -s "$WORK/kafka.txt" "$WORK/embedded.txt" ||
  fail "keys on different partitions than the embedded log's: $(diff "$WORK/kafka.txt" "$WORK/embedded.txt" | head -5)"
[ "$(cut -d' ' -f1 "$WORK/kafka.txt" | sort -u | wc -l)" -eq 3 ] || fail "not all partitions used"

# Headers, timestamps, null and empty values round-trip.
run --stdin $'hv\n' k topic produce "$PAYMENTS" -p 1 -k hk -H a=1 -H b=two --timestamp 1700000000123
expect_ok "produce with headers and timestamp"
run --stdin $'\n' k topic produce "$PAYMENTS" -p 1 -k tomb -Z
expect_ok "produce a tombstone"
run --stdin $'\n' k topic produce "$PAYMENTS" -p 1 -k empty
expect_ok "produce an empty value"
run k topic consume "$PAYMENTS" -p 1 -f '%k|%t|%h|%H|%K|%V|%v\n'
expect_ok "consume them"
expect_eq "$(printf '%s\n' "$out" | head -n 1)" "hk|1700000000123|a=1,b=two|2|2|2|hv" "headers and timestamp"
expect_match "$out" '^tomb\|[0-9]+\|\|0\|4\|-1\|$' "tombstone: null value"
expect_match "$out" 'empty\|[0-9]+\|\|0\|5\|0\|$' "empty value is not null"

# -o and -n as on the embedded log.
run k topic consume "$ORDERS" -p 0 -o -2 -f '%o\n'
expect_ok "consume -o -2"
expect_eq "$(printf '%s\n' "$out" | wc -l)" "2" "two records before the end"
run k topic consume "$ORDERS" -n 5
expect_ok "consume -n 5"
expect_eq "$(printf '%s\n' "$out" | wc -l)" "5" "five records"
run --stdin $'x\n' k topic produce "$ORDERS" -p 3
expect_error 1 "partition 3 does not exist: topic '$ORDERS' has 3 partitions"

# ---- groups: committed offsets and lag ---------------------------------------------------------
run k topic consume "$ORDERS" -g "$READERS" -n 10 -f '%p %o\n' "${GROUP_FLAGS[@]}"
expect_ok "group consume -n 10"
expect_eq "$(printf '%s\n' "$out" | wc -l)" "10" "ten records"
p=$(printf '%s\n' "$out" | head -n 1 | cut -d' ' -f1)
read -r n0 n1 n2 <<<"$(for q in 0 1 2; do printf '%s\n' "$out" | grep -c "^$q " || true; done | paste -sd' ')"
run k group describe "$READERS"
expect_ok "group describe"
expect_match "$out" "GROUP +$READERS" "summary names the group"
if [ "$MOCK" = 1 ]; then
  expect_match "$out" 'STATE +unknown \(the brokers answer no DescribeGroups\)' "state unknown on the mock"
fi
expect_match "$out" 'TOTAL-LAG +90' "total lag"
expect_match "$out" 'TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +MEMBER-ID' "lag header"
expect_match "$out" "$ORDERS +0 +$n0 " "partition 0's committed offset"
expect_match "$out" "$ORDERS +1 +$n1 " "partition 1's committed offset"
expect_match "$out" "$ORDERS +2 +$n2 " "partition 2's committed offset"
[ -n "$p" ] || fail "no partition read"
# The next member resumes after the committed offsets: the rest, once.
run k topic consume "$ORDERS" -g "$READERS" -f '%p %o\n' "${GROUP_FLAGS[@]}"
expect_ok "group consume resumes"
expect_eq "$(printf '%s\n' "$out" | wc -l)" "90" "the other 90 records"
run k group describe "$READERS"
expect_match "$out" 'TOTAL-LAG +0' "caught up"

if [ "$MOCK" = 1 ]; then
  run k group describe nosuchgroup
  expect_error 1 "unknown group 'nosuchgroup'"
  run k group list
  expect_error 1 "did not answer ListGroups"
fi

# ---- configuration and bad input ---------------------------------------------------------------
run env EDDY_BROKERS="$BROKERS" timeout 30 "$EDDY" topic list
expect_ok "EDDY_BROKERS"
expect_match "$out" "$ORDERS +3" "EDDY_BROKERS selects Kafka"
run timeout 30 "$EDDY" -X "brokers=$BROKERS" topic list
expect_ok "-X brokers= is --brokers"
expect_match "$out" "$ORDERS +3" "-X brokers selects Kafka"
run env EDDY_BROKERS="$BROKERS" "$EDDY" --data "$DATA" topic list
expect_ok "--data wins over EDDY_BROKERS"
expect_match "$out" '^NAME +PARTITIONS$' "embedded list"

run k topic list -X no.such.property=1
expect_error 2 'No such configuration property'
run k topic list -X security.protocol=bogus
expect_error 2 'Invalid value "bogus" for configuration property "security.protocol"'
run k topic list -X novalue
expect_error 2 "-X 'novalue': expected KEY=VALUE"
run "$EDDY" --data "$DATA" --brokers "$BROKERS" topic list
expect_error 2 "cannot be used together"
run "$EDDY" --data "$DATA" topic list -X acks=1
expect_error 2 "-X needs --brokers"
run k log verify
expect_error 2 "log verify checks the embedded log"
run k topic create t --replicas 0
expect_error 2 "invalid replication factor"
run --stdin $'x\n' k topic produce "$ORDERS" --acks 1 -X enable.idempotence=true
expect_error 2 "enable.idempotence"

# An unreachable broker: one line naming it, exit 1, within the timeout.
for command in "topic list" "topic consume orders" "group describe readers"; do
  start=$(now_ms)
  # shellcheck disable=SC2086
  run timeout 10 "$EDDY" --brokers 127.0.0.1:1 --timeout-ms 500 $command
  expect_error 1 "no answer from the brokers at 127.0.0.1:1 within 500 ms"
  [ $(($(now_ms) - start)) -lt 3000 ] || fail "'$command' took longer than its timeout"
done
start=$(now_ms)
run --stdin $'x\n' timeout 10 "$EDDY" --brokers 127.0.0.1:1 --timeout-ms 500 topic produce orders
expect_error 1 "no answer from the brokers at 127.0.0.1:1"
[ $(($(now_ms) - start)) -lt 3000 ] || fail "produce took longer than its timeout"

echo "ok: test_kafka_cli"
