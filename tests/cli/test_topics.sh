#!/usr/bin/env bash
# eddy topic create / list / describe / delete, the global flags, help and version.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# ---- reading commands never create the data directory ------------------------------------
for cmd in "topic list" "topic describe t" "group list" "log verify" "topic consume t"; do
  # shellcheck disable=SC2086
  run e $cmd
  expect_error 1 "data directory '.*' does not exist"
  [ ! -e "$DATA" ] || fail "'eddy $cmd' created the data directory"
done
run --stdin "x" e topic produce t
expect_error 1 "does not exist"
[ ! -e "$DATA" ] || fail "produce created the data directory"

# ---- create ---------------------------------------------------------------------------------
run e topic create orders
expect_ok "topic create"
expect_eq "$(printf '%s\n' "$out" | head -1 | tr -s ' ')" "TOPIC STATUS" "create header"
expect_eq "$(printf '%s\n' "$out" | tail -1 | tr -s ' ')" "orders OK" "create row"
[ -f "$DATA/eddy.format" ] || fail "topic create did not create the data directory"

run e topic create payments shipments -p 3 -c retention.ms=3600000 -c cleanup.policy=compact
expect_ok "create two topics"
expect_eq "$(printf '%s\n' "$out" | tail -n +2 | awk '{print $1 "=" $2}' | paste -sd' ')" \
  "payments=OK shipments=OK" "create rows"

# Flags may come before or after operands, in short or long form, with '=' or not.
run e topic create --partitions=2 --topic-config segment.bytes=1024 small
expect_ok "create with long flags"

# ---- list -----------------------------------------------------------------------------------
run e topic list
expect_ok "topic list"
expect_eq "$(printf '%s\n' "$out" | tr -s ' ')" \
  "$(printf 'NAME PARTITIONS\norders 1\npayments 3\nshipments 3\nsmall 2')" "topic list"

# --data after the subcommand, and EDDY_DATA instead of --data.
run "$EDDY" topic list --data "$DATA"
expect_ok "--data after the command"
expect_match "$out" '^NAME' "list with --data after"
run env EDDY_DATA="$DATA" "$EDDY" topic list
expect_ok "EDDY_DATA"
expect_match "$out" 'payments +3' "list through EDDY_DATA"
run "$EDDY" --data "$DATA" topic --data "$DATA" list
expect_ok "--data between group and command"

# Without --data or EDDY_DATA the directory is ./eddy-data.
mkdir "$WORK/cwd"
(cd "$WORK/cwd" && "$EDDY" topic create here >/dev/null) || fail "create in ./eddy-data"
[ -d "$WORK/cwd/eddy-data/topics/here" ] || fail "default data directory is not ./eddy-data"
run bash -c "cd '$WORK/cwd' && '$EDDY' topic list"
expect_match "$out" 'here +1' "list in ./eddy-data"

# ---- describe -------------------------------------------------------------------------------
run e topic describe payments
expect_ok "describe"
expect_match "$out" '^SUMMARY' "describe starts with SUMMARY"
expect_match "$out" 'NAME +payments' "summary name"
expect_match "$out" 'PARTITIONS +3' "summary partitions"
expect_match "$out" 'cleanup.policy +compact +set' "set key shows SOURCE set"
expect_match "$out" 'retention.ms +3600000 +set' "set retention.ms"
expect_match "$out" 'segment.bytes +1073741824 +default' "Kafka default shown"
expect_match "$out" 'PARTITION +START-OFFSET +END-OFFSET +SIZE +SEGMENTS' "partition header"
rows=$(printf '%s\n' "$out" | sed -n '/^PARTITION /,$p' | tail -n +2 | awk '{print $1,$2,$3}' |
  paste -sd';')
expect_eq "$rows" "0 0 0;1 0 0;2 0 0" "empty partitions"

run e topic describe payments -p
expect_ok "describe -p"
[[ "$out" != *SUMMARY* && "$out" != *CONFIGS* ]] || fail "describe -p printed other sections"
run e topic describe payments --print-configs
expect_ok "describe -c"
expect_match "$out" '^CONFIGS' "configs section only"

printf 'a\nb\nc\n' | e topic produce orders >/dev/null
run e topic describe orders -p
expect_ok "describe after produce"
row=$(printf '%s\n' "$out" | tail -1 | awk '{print $1, $2, $3, $5}')
expect_eq "$row" "0 0 3 1" "partition 0 after three records"
size=$(printf '%s\n' "$out" | tail -1 | awk '{print $4}')
[ "$size" -gt 0 ] || fail "SIZE should be positive, got $size"

# ---- delete ---------------------------------------------------------------------------------
run e topic delete shipments small
expect_ok "delete"
expect_eq "$(printf '%s\n' "$out" | tail -n +2 | awk '{print $1 "=" $2}' | paste -sd' ')" \
  "shipments=OK small=OK" "delete rows"
run e topic list
expect_eq "$(printf '%s\n' "$out" | tail -n +2 | awk '{print $1}' | paste -sd' ')" \
  "orders payments" "list after delete"
run e topic create shipments
expect_ok "re-create a deleted topic"
run e topic describe shipments -p
expect_eq "$(printf '%s\n' "$out" | tail -1 | awk '{print $2, $3}')" "0 0" "re-created is empty"

# ---- help and version -----------------------------------------------------------------------
run "$EDDY" --version
expect_ok "--version"
expect_match "$out" '^eddy [0-9]+\.[0-9]+\.[0-9]+' "version"
for args in "--help" "-h" "topic --help" "group -h" "log --help" \
  "topic create --help" "topic list -h" "topic describe --help" "topic delete --help" \
  "topic produce --help" "topic consume --help" "group list --help" \
  "group describe --help" "log verify --help"; do
  # shellcheck disable=SC2086
  run "$EDDY" $args
  expect_ok "eddy $args"
  expect_match "$out" 'Usage:' "eddy $args prints usage"
done
run "$EDDY" topic create --help
expect_match "$out" '-p, --partitions' "create help lists -p"
expect_match "$out" '--data DIR' "help lists global flags"
run "$EDDY" topic consume --help
expect_match "$out" '--follow' "consume help lists --follow"
expect_match "$out" '%k key' "consume help lists format directives"

echo "ok: test_topics"
