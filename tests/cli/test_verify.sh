#!/usr/bin/env bash
# eddy log verify on a clean log, then after one flipped byte in a closed segment; consume
# stops at the damage with an error naming the file.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

e topic create clean -p 2 >/dev/null
e topic create seg -c segment.bytes=1024 >/dev/null
# Each produce is one batch of ~10 records (~400 bytes); 1 KiB segments then roll every few.
for i in $(seq 1 12); do
  seq "$((i * 100))" "$((i * 100 + 9))" | sed 's/^/record-number-/' | e topic produce seg >/dev/null
done
seq 1 50 | e topic produce clean >/dev/null

run e log verify
expect_ok "verify clean"
expect_match "$out" '^ok: 2 topics, 3 partitions, [0-9]+ segments, [0-9]+ bytes verified$' "ok line"
run e log verify seg
expect_ok "verify one topic"
expect_match "$out" '^ok: 1 topic, 1 partitions' "ok line for one topic"

segments=$(find "$DATA/topics/seg/0" -name '*.log' | sort)
count=$(printf '%s\n' "$segments" | wc -l)
[ "$count" -ge 3 ] || fail "expected several segments, got $count"
run e topic describe seg -p
expect_eq "$(printf '%s\n' "$out" | tail -1 | awk '{print $5}')" "$count" "SEGMENTS column"

# Flip one byte of the second segment (closed: a later one exists), inside its first batch's
# first record: past the 61-byte batch header, so the batch's CRC covers it.
victim=$(printf '%s\n' "$segments" | sed -n 2p)
name=$(basename "$victim")
[[ "$name" =~ ^[0-9]{20}\.log$ ]] || fail "unexpected segment name $name"
at=70
byte=$(od -An -tu1 -j "$at" -N1 "$victim" | tr -d ' ')
# shellcheck disable=SC2059 # the format is the escaped byte
printf "$(printf '\\x%02x' $((byte ^ 0xff)))" |
  dd of="$victim" bs=1 seek="$at" count=1 conv=notrunc status=none

run e log verify
[ "$rc" -eq 1 ] || fail "verify of a corrupt log exited $rc, expected 1"
expect_match "$out" "$name" "verify names the damaged file"
expect_match "$err" '^eddy: verify found [0-9]+ problems? in ' "verify's error line"
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "verify printed more than one error line"
run e log verify clean
expect_ok "the other topic is still clean"

# consume prints what comes before the damage, then stops with an error naming the file.
run e topic consume seg
expect_error 1 "$name"
[ -n "$out" ] || fail "consume printed nothing before the damaged segment"
expect_eq "$(printf '%s\n' "$out" | head -1)" "record-number-100" "records before the damage"

echo "ok: test_verify"
