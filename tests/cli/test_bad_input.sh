#!/usr/bin/env bash
# Bad input: each case prints exactly one line "eddy: ..." on stderr, exits non-zero (2 for
# usage errors, 1 for runtime errors) and changes nothing in the data directory.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

e topic create orders -p 3 >/dev/null
printf 'a|1\nb|2\nc|3\n' | e topic produce orders --key-delim '|' >/dev/null
seq 1 5 | e topic consume orders -g g1 -n 2 >/dev/null

# check STATUS PATTERN [--stdin TEXT] ARGS...: eddy --data $DATA ARGS... fails with STATUS and
# one error line matching PATTERN, and the data directory is unchanged.
check() {
  local status=$1 pattern=$2
  shift 2
  local before after
  before=$(snapshot)
  if [ "$1" = "--stdin" ]; then
    local input=$2
    shift 2
    run --stdin "$input" e "$@"
  else
    run e "$@"
  fi
  expect_error "$status" "$pattern"
  after=$(snapshot)
  [ "$before" == "$after" ] || fail "'eddy $*' changed the data directory"
}

# ---- unknown command, flag, operand -------------------------------------------------------------
run "$EDDY"
expect_error 2 "missing command"
check 2 "unknown command 'frobnicate'" frobnicate
check 2 "unknown command 'topic frobnicate'" topic frobnicate
check 2 "needs a command" topic
check 2 "unknown flag '--nope'" topic list --nope
check 2 "unknown flag '-x'" topic describe orders -x
check 2 "unknown flag '--bogus'" --bogus topic list
check 2 "flag '--follow' takes no value" topic consume orders --follow=yes
check 2 "flag '-p' needs a value" topic create t2 -p
check 2 "unexpected argument 'extra'" topic list extra
check 2 "needs NAME" topic create
check 2 "needs NAME" topic consume
check 2 "unexpected argument 'second'" topic produce orders second

# ---- malformed values ---------------------------------------------------------------------------
check 2 "invalid partition count 'abc'" topic create t2 -p abc
check 2 "invalid partition count '0'" topic create t2 -p 0
check 2 "invalid partition count '10001'" topic create t2 -p 10001
check 2 "invalid partition count ''" topic create t2 --partitions=
check 2 "'badpair'.*KEY=VALUE" topic create t2 -c badpair
check 2 "retention.ms" topic create t2 -c retention.ms=abc
check 2 "segment.bytes" topic create t2 -c segment.bytes=-5
check 2 "cleanup.policy" topic create t2 -c cleanup.policy=sometimes
check 2 "invalid topic name 'bad/name'" topic create t2 bad/name
check 2 "invalid topic name '\.\.'" topic create ..
check 2 "named twice" topic create t2 t2
check 2 "invalid partition 'abc'" --stdin "x" topic produce orders -p abc
check 2 "invalid partition '-1'" --stdin "x" topic produce orders -p -1
check 2 "invalid --acks '2'" --stdin "x" topic produce orders --acks 2
check 2 "-H 'novalue'.*KEY=VALUE" --stdin "x" topic produce orders -H novalue
check 2 "cannot be used together" --stdin "x" topic produce orders -k k --key-delim ,
check 2 "--key-delim must not be empty" --stdin "x" topic produce orders --key-delim ''
check 2 "invalid offset 'garbage'" topic consume orders -o garbage
check 2 "invalid offset '@soon'" topic consume orders -o @soon
check 2 "invalid offset ''" topic consume orders -o ''
check 2 "invalid count '0'" topic consume orders -n 0
check 2 "invalid count 'many'" topic consume orders -n many
check 2 "unknown directive '%z'" topic consume orders -f '%z'
check 2 "unknown escape" topic consume orders -f 'a\q'
check 2 "invalid partition 'x'" topic consume orders -p 0,x
check 2 "invalid partition list" topic consume orders -p 0,,1
check 2 "-p cannot be used with -g" topic consume orders -g g1 -p 0
check 2 "with -g, -o must be start or end" topic consume orders -g g1 -o 5
check 2 "data directory name is empty" topic list --data=
check 2 "invalid group id 'a b'" topic consume orders -g 'a b'
check 2 "invalid group id ''" topic consume orders -g ''
check 2 "named twice" topic delete orders orders

# ---- runtime errors: unknown topic, partition, group; existing topic ------------------------
check 1 "unknown topic 'nosuch'" topic describe nosuch
check 1 "unknown topic 'nosuch'" topic describe orders nosuch
check 1 "unknown topic 'nosuch'" --stdin "x" topic produce nosuch
check 1 "unknown topic 'nosuch'" topic consume nosuch
check 1 "unknown topic 'nosuch'" topic delete orders nosuch
check 1 "unknown topic 'nosuch'" log verify nosuch
check 1 "topic 'orders' already exists" topic create neworder orders
check 1 "partition 3 does not exist" --stdin "x" topic produce orders -p 3
check 1 "partition 7 does not exist" topic consume orders -p 1,7
check 1 "unknown group 'nosuch'" group describe nosuch
run e topic list
expect_eq "$(printf '%s\n' "$out" | awk 'NR > 1 {print $1}' | paste -sd' ')" "orders" \
  "failed creates and deletes left the topic list alone"

# ---- a line without the key delimiter: earlier lines produced, none after ---------------------
e topic create lines >/dev/null
run --stdin $'k1,v1\nk2,v2\nno delimiter here\nk4,v4\n' e topic produce lines --key-delim ,
expect_error 1 "line 3 has no key delimiter ','.*2 records produced"
run e topic consume lines -f '%k=%v\n'
expect_eq "$out" $'k1=v1\nk2=v2' "only the lines before the bad one were produced"

# ---- unreadable input: stdin that is a directory ------------------------------------------------
before=$(snapshot)
run e topic produce orders <"$WORK"
expect_error 1 "reading stdin: Is a directory \(0 records produced"
[ "$(snapshot)" == "$before" ] || fail "a failed read of stdin changed the data"

# ---- the data directory: missing, a file, written by a newer eddy, unreadable ----------------
run "$EDDY" --data "$WORK/none" topic list
expect_error 1 "data directory '.*none' does not exist"
[ ! -e "$WORK/none" ] || fail "topic list created the directory"
touch "$WORK/plainfile"
run "$EDDY" --data "$WORK/plainfile" topic list
expect_error 1 "plainfile"

cp -a "$DATA" "$WORK/newer"
format_file="$WORK/newer/eddy.format"
[ -f "$format_file" ] || fail "no eddy.format in the data directory"
sed -i 's/[0-9][0-9]*/99/' "$format_file"
before=$(DATA=$WORK/newer snapshot)
for args in "topic list" "topic describe orders" "topic consume orders" "log verify" \
  "group list" "topic create other"; do
  # shellcheck disable=SC2086
  run "$EDDY" --data "$WORK/newer" $args
  expect_error 1 "version|format"
done
run --stdin "x" "$EDDY" --data "$WORK/newer" topic produce orders
expect_error 1 "version|format"
[ "$(DATA=$WORK/newer snapshot)" == "$before" ] || fail "a newer-format directory was changed"
[ ! -e "$WORK/newer/topics/other" ] || fail "topic created in a newer-format directory"

# An unreadable topic file. root reads anything, so as root the command runs as 'nobody'.
cp -a "$DATA" "$WORK/locked"
chmod 000 "$WORK/locked/topics/orders/topic.properties"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  if command -v setpriv >/dev/null; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod 755 "$WORK"
    chmod -R a+rwX "$WORK/locked"
    chmod 000 "$WORK/locked/topics/orders/topic.properties"
  else
    echo "skip: unreadable-file case needs setpriv when run as root"
  fi
fi
if [ "$(id -u)" -ne 0 ] || [ ${#as_user[@]} -gt 0 ]; then
  before=$(DATA=$WORK/locked snapshot)
  run "${as_user[@]}" "$EDDY" --data "$WORK/locked" topic describe orders
  expect_error 1 "topic.properties|ermission|denied"
  run "${as_user[@]}" "$EDDY" --data "$WORK/locked" topic list
  expect_error 1 "topic.properties|ermission|denied"
  [ "$(DATA=$WORK/locked snapshot)" == "$before" ] || fail "unreadable file case changed data"
fi

echo "ok: test_bad_input"
