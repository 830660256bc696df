#!/usr/bin/env bash
# eddy topic produce / consume: round trips, keys, headers, formats, offsets, placement.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

e topic create plain >/dev/null
e topic create keyed -p 4 >/dev/null

# ---- round trip: one record per line, the newline stripped, a last line without one ---------
run --stdin $'one\ntwo\n\nfour' e topic produce plain
expect_ok "produce"
expect_eq "$out" "Produced 4 records to plain." "produce summary"
run e topic consume plain
expect_ok "consume"
expect_eq "$out" $'one\ntwo\n\nfour' "values round trip (empty line kept)"
run --stdin "x" e topic produce plain
expect_eq "$out" "Produced 1 record to plain." "singular summary"

run e topic consume plain -f '%p:%o:%k:%v:%K:%V\n'
expect_ok "consume with format"
expect_eq "$(printf '%s\n' "$out" | head -2 | paste -sd' ')" "0:0::one:-1:3 0:1::two:-1:3" \
  "null key prints empty, %K -1"
expect_eq "$(printf '%s\n' "$out" | sed -n 3p)" "0:2:::-1:0" "empty value is not null"

# ---- keys: --key-delim and -k -----------------------------------------------------------------
run --stdin $'k1|v1\nk2|v|2\n|novalue-key\nk1|v3\n' e topic produce keyed --key-delim '|'
expect_ok "produce with --key-delim"
run e topic consume keyed -f '%k=%v %K\n'
expect_ok "consume keyed"
expect_eq "$(printf '%s\n' "$out" | sort | paste -sd';')" "=novalue-key 0;k1=v1 2;k1=v3 2;k2=v|2 2" \
  "keys split at the first delimiter; empty key is empty, not null"
run --stdin $'a\tb\n' e topic produce plain --key-delim '\t'
expect_ok "tab delimiter as \\t"
run e topic consume plain -o -1 -f '[%k][%v]\n'
expect_eq "$out" "[a][b]" "tab-delimited key"
run --stdin $'x\ny\n' e topic produce plain -k fixed
expect_ok "produce -k"
run e topic consume plain -o -2 -f '%k %v\n'
expect_eq "$out" $'fixed x\nfixed y' "-k applies to every record"

# ---- placement: a key always lands in the same partition; keyless records spread ---------------
seq 1 400 | sed 's/^/key-/; s/$/|v/' >"$WORK/keys"
e topic produce keyed --key-delim '|' <"$WORK/keys" >/dev/null
e topic produce keyed --key-delim '|' <"$WORK/keys" >/dev/null
run e topic consume keyed -f '%k %p\n'
pairs=$(printf '%s\n' "$out" | grep '^key-' | sort -u)
expect_eq "$(printf '%s\n' "$pairs" | wc -l)" "400" "each key in exactly one partition"
expect_eq "$(printf '%s\n' "$pairs" | awk '{print $2}' | sort -u | paste -sd' ')" "0 1 2 3" \
  "keys spread over all partitions"
run e topic consume keyed -p 2 -f '%p\n'
expect_eq "$(printf '%s\n' "$out" | sort -u)" "2" "-p 2 reads partition 2 only"
run e topic consume keyed -p 0,3 -p 3 -f '%p\n'
expect_eq "$(printf '%s\n' "$out" | sort -u | paste -sd' ')" "0 3" "-p list"

# Records of one key keep their order, across batches and partitions.
e topic create ordered -p 5 >/dev/null
seq 1 20000 | awk '{print "k" ($1 % 13) "|" $1}' >"$WORK/ordered"
e topic produce ordered --key-delim '|' <"$WORK/ordered" >/dev/null
e topic consume ordered -f '%k %v\n' >"$WORK/ordered.out"
expect_eq "$(wc -l <"$WORK/ordered.out")" "20000" "all keyed records"
awk '{ if (($1 in last) && $2 <= last[$1]) bad = 1; last[$1] = $2 } END { exit bad }' \
  "$WORK/ordered.out" || fail "records of a key came out of order"

e topic create spread -p 3 >/dev/null
seq 1 300 | e topic produce spread >/dev/null
run e topic describe spread -p
ends=$(printf '%s\n' "$out" | awk '$1 ~ /^[0-9]+$/ {print $3}' | paste -sd' ')
expect_eq "$ends" "100 100 100" "keyless records go round robin"

run --stdin $'p1\np2\n' e topic produce spread -p 1
expect_ok "produce -p"
run e topic consume spread -p 1 -o -2
expect_eq "$out" $'p1\np2' "records pinned to partition 1"

# ---- headers ----------------------------------------------------------------------------------
e topic create headers >/dev/null
run --stdin $'h1\n' e topic produce headers -H trace=abc -H empty= -H 'eq=a=b'
expect_ok "produce with headers"
run e topic consume headers -f '%H|%h|%v\n'
expect_eq "$out" "3|trace=abc,empty=,eq=a=b|h1" "headers round trip"

# ---- tombstones -------------------------------------------------------------------------------
run --stdin $'k|\nk|v\n' e topic produce headers --key-delim '|' -Z
expect_ok "produce -Z"
run e topic consume headers -o -2 -f '%V\n'
expect_eq "$out" $'-1\n1' "-Z: empty value is null"

# ---- format escapes and directives ------------------------------------------------------------
run e topic consume headers -n 1 -f '%T\t%%\\\x41\r\n'
expect_eq "$out" "$(printf 'headers\t%%\\A\r')" "escapes and %T"
run e topic consume headers -n 1 -f '%t\n'
now=$(now_ms)
if [ "$out" -lt $((now - 600000)) ] || [ "$out" -gt "$now" ]; then
  fail "%t is not a recent Unix ms"
fi

# ---- offsets: start, end, N, -N, +N, @time; -n ---------------------------------------------
e topic create offs >/dev/null
seq 0 9 | e topic produce offs >/dev/null
sleep 0.05
t_mid=$(now_ms)
sleep 0.05
seq 10 19 | e topic produce offs >/dev/null
check_offset() {
  run e topic consume offs -o "$1" -f '%v '
  expect_ok "-o $1"
  expect_eq "$out" "$2" "-o $1"
}
check_offset start "$(seq -s' ' 0 19) "
check_offset end ""
check_offset 15 "15 16 17 18 19 "
check_offset 500 ""
check_offset -3 "17 18 19 "
check_offset -100 "$(seq -s' ' 0 19) "
check_offset +18 "18 19 "
check_offset "@$t_mid" "$(seq -s' ' 10 19) "
check_offset "@0" "$(seq -s' ' 0 19) "
check_offset "@$((t_mid + 3600000))" ""
run e topic consume offs -n 3
expect_eq "$out" $'0\n1\n2' "-n 3"
run e topic consume offs -o 18 -n 5
expect_eq "$out" $'18\n19' "-n beyond the end stops at the end"

# ---- long lines, many lines -------------------------------------------------------------------
e topic create big >/dev/null
head -c 3000000 /dev/zero | tr '\0' 'x' >"$WORK/long"
printf '\nshort' >>"$WORK/long"
run e topic produce big <"$WORK/long"
expect_ok "produce a 3 MB line"
e topic consume big >"$WORK/long.out"
printf '\n' >>"$WORK/long"
cmp -s "$WORK/long" "$WORK/long.out" || fail "3 MB line did not round trip"

e topic create many -p 2 >/dev/null
seq 1 200000 >"$WORK/many"
run e topic produce many --acks 1 <"$WORK/many"
expect_eq "$out" "Produced 200000 records to many." "200k records"
e topic consume many | sort -n >"$WORK/many.out"
cmp -s "$WORK/many" "$WORK/many.out" || fail "200k records did not round trip"

# ---- --follow: new records appear; SIGINT and SIGTERM exit 0 --------------------------------
e topic create live >/dev/null
"$EDDY" --data "$DATA" topic consume live --follow -f '%v\n' >"$WORK/follow.out" 2>"$WORK/follow.err" &
pid=$!
sleep 0.5
printf 'first\nsecond\n' | e topic produce live >/dev/null
for _ in $(seq 1 100); do
  [ "$(wc -l <"$WORK/follow.out")" -ge 2 ] && break
  sleep 0.05
done
kill -INT "$pid"
set +e; wait "$pid"; status=$?; set -e
expect_eq "$status" "0" "--follow exits 0 on SIGINT"
expect_eq "$(cat "$WORK/follow.out")" $'first\nsecond' "--follow printed new records"
[ ! -s "$WORK/follow.err" ] || fail "--follow wrote to stderr: $(cat "$WORK/follow.err")"

"$EDDY" --data "$DATA" topic consume live --follow -o end >"$WORK/follow2.out" &
pid=$!
sleep 0.3
kill -TERM "$pid"
set +e; wait "$pid"; status=$?; set -e
expect_eq "$status" "0" "--follow exits 0 on SIGTERM"
[ ! -s "$WORK/follow2.out" ] || fail "-o end --follow printed old records"

# ---- a closed stdout ends consume quietly ---------------------------------------------------
first=$(e topic consume many -p 0 -n 1)
run bash -c "'$EDDY' --data '$DATA' topic consume many -p 0 | head -1"
expect_eq "$out" "$first" "consume | head -1"
[ -z "$err" ] || fail "consume into a closed pipe printed: $err"

echo "ok: test_produce_consume"
