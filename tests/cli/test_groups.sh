#!/usr/bin/env bash
# Consuming as a group member: commits, resuming, group list / describe and lag.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

e topic create events -p 2 >/dev/null
seq 1 10 | e topic produce events -p 0 >/dev/null
seq 11 15 | e topic produce events -p 1 >/dev/null

run e group list
expect_ok "group list without groups"
expect_eq "$(printf '%s\n' "$out" | tr -s ' ')" "GROUP MEMBERS STATE" "empty group list"

# ---- a group consumer commits what it printed; the next run resumes there --------------------
run e topic consume events -g readers -n 4 -f '%p:%v\n'
expect_ok "group consume -n 4"
expect_eq "$(printf '%s\n' "$out" | wc -l)" "4" "four records"
first=$out
run e topic consume events -g readers -f '%p:%v\n'
expect_ok "group consume resumes"
expect_eq "$(printf '%s\n%s\n' "$first" "$out" | sort -t: -k2 -n | paste -sd' ')" \
  "0:1 0:2 0:3 0:4 0:5 0:6 0:7 0:8 0:9 0:10 1:11 1:12 1:13 1:14 1:15" \
  "the two runs together read every record once"
run e topic consume events -g readers
expect_ok "group consume at the end"
expect_eq "$out" "" "nothing left for the group"

# ---- group list / describe --------------------------------------------------------------------
run e group list
expect_ok "group list"
expect_match "$out" '^GROUP +MEMBERS +STATE' "group list header"
expect_match "$out" 'readers +0 +Empty' "group listed, no live member"

seq 16 18 | e topic produce events -p 1 >/dev/null
run e group describe readers
expect_ok "group describe"
expect_match "$out" 'GROUP +readers' "summary names the group"
expect_match "$out" 'STATE +Empty' "no members after exit"
expect_match "$out" 'TOTAL-LAG +3' "total lag"
expect_match "$out" 'TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +MEMBER-ID' "lag header"
expect_match "$out" 'events +0 +10 +10 +0 +-' "partition 0 caught up"
expect_match "$out" 'events +1 +5 +8 +3 +-' "partition 1 lags by 3"

# A live member shows with its pid and assignment.
"$EDDY" --data "$DATA" topic consume events -g watchers --follow -o end >/dev/null &
pid=$!
for _ in $(seq 1 100); do
  run e group describe watchers
  [ "$rc" -eq 0 ] && [[ "$out" == *"STATE       Stable"* ]] && break
  sleep 0.05
done
expect_match "$out" 'STATE +Stable' "live member makes the group Stable"
expect_match "$out" 'MEMBER-ID +PID +ASSIGNMENT' "member table"
expect_match "$out" " $pid +events\[0,1\]" "member with pid and assignment"
expect_match "$out" "events +0 +[-0-9]+ +10 +[-0-9]+ +[^ -]" "partition owned by the member"

# --follow commits when idle: produce, and the live member's commit shows up.
seq 19 20 | e topic produce events -p 0 >/dev/null
for _ in $(seq 1 100); do
  run e group describe watchers
  [[ "$out" =~ events\ +0\ +12\ +12 ]] && break
  sleep 0.05
done
expect_match "$out" 'events +0 +12 +12 +0' "idle --follow member committed what it read"

# A second member of a group whose only partitions are taken gets nothing: without --follow
# it gives up after about a second, printing nothing.
e topic create solo >/dev/null
echo one | e topic produce solo >/dev/null
"$EDDY" --data "$DATA" topic consume solo -g watchers --follow >/dev/null &
holder=$!
for _ in $(seq 1 100); do
  run e group describe watchers
  [[ "$out" == *" $holder "*"solo[0]"* ]] && break
  sleep 0.05
done
start=$(now_ms)
run timeout 20 "$EDDY" --data "$DATA" topic consume solo -g watchers
expect_ok "member without partitions"
expect_eq "$out" "" "member without partitions prints nothing"
[ $(($(now_ms) - start)) -lt 10000 ] || fail "member without partitions took too long"
kill -TERM "$holder"
wait "$holder" || fail "holder did not exit 0"

# ... and when stopped.
kill -TERM "$pid"
set +e; wait "$pid"; status=$?; set -e
expect_eq "$status" "0" "group --follow exits 0 on SIGTERM"
run e group describe watchers
expect_match "$out" 'events +0 +12 +12 +0' "follow member committed what it read"

# -o end for a new group starts at the end; -o start at the beginning.
run e topic consume events -g late -o end
expect_ok "new group at end"
expect_eq "$out" "" "-o end prints nothing"
run e topic consume events -g early -o start -f '%v\n'
expect_eq "$(printf '%s\n' "$out" | wc -l)" "20" "-o start reads everything"

# ---- two members split the partitions ---------------------------------------------------------
e topic create wide -p 4 >/dev/null
"$EDDY" --data "$DATA" topic consume wide -g pair --follow >/dev/null &
a=$!
"$EDDY" --data "$DATA" topic consume wide -g pair --follow >/dev/null &
b=$!
live_members() { printf '%s\n' "$out" | grep -cE "^[^ ]+ +($a|$b) " || true; }
owners() { printf '%s\n' "$out" | awk '$1 == "wide" && $6 != "-" {print $6}' | sort -u | wc -l; }
# Joining is not instant: the first member gives up partitions at its next poll.
for _ in $(seq 1 200); do
  run e group describe pair
  [ "$(live_members)" -eq 2 ] && [ "$(owners)" -eq 2 ] && break
  sleep 0.05
done
expect_eq "$(live_members)" "2" "two live members"
expect_eq "$(owners)" "2" "partitions split between the members"
expect_match "$out" "$a +wide\[[0-3,]+\]" "first member's assignment"
expect_match "$out" "$b +wide\[[0-3,]+\]" "second member's assignment"
kill -INT "$a" "$b"
wait "$a" "$b" || fail "members did not exit 0"

# ---- errors -------------------------------------------------------------------------------------
run e group describe nosuchgroup
expect_error 1 "nosuchgroup"

echo "ok: test_groups"
