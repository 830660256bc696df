#!/usr/bin/env bash
# make demo: a short, readable demonstration of eddy's embedded log.
#   usage: scripts/demo.sh path/to/eddy
# It creates a topic in a fresh data directory, produces records, consumes them with a
# consumer group of two processes, kills one with SIGKILL, and shows the other take over its
# partitions and the group's lag fall to zero.
set -euo pipefail

eddy_bin=$(realpath "${1:-build/release/eddy}")
work=$(mktemp -d "${TMPDIR:-/tmp}/eddy-demo.XXXXXX")
export EDDY_DATA="$work/eddy-data"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bold=$'\e[1m' dim=$'\e[2m' reset=$'\e[0m'
[ -t 1 ] || { bold=""; dim=""; reset=""; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
say() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
run() { printf '$ %s\n' "$*"; "$@"; }
eddy() { "$eddy_bin" "$@"; }

# The group's total lag, as 'eddy group describe' reports it.
group_lag() {
    "$eddy_bin" group describe "$1" | awk '$1 == "TOTAL-LAG" { print $2 }'
}

orders() { # orders FROM TO: lines "customer-N:order-M" for M in FROM..TO
    for ((i = $1; i <= $2; i++)); do echo "customer-$((i % 17)):order-$i"; done
}

step "1. A data directory and a topic with 4 partitions"
say "The embedded log lives in a directory ($EDDY_DATA); no server runs."
run eddy topic create orders -p 4

step "2. Two consumer processes join group 'billing'"
say "Each is a separate 'eddy topic consume -g billing --follow' process. The group splits"
say "the 4 partitions between its members with the range strategy: 2 each."
"$eddy_bin" topic consume orders -g billing -o start --follow -f '%p %o %k %v\n' \
    >"$work/consumer-1.out" &
c1=$!
pids+=("$c1")
"$eddy_bin" topic consume orders -g billing -o start --follow -f '%p %o %k %v\n' \
    >"$work/consumer-2.out" &
c2=$!
pids+=("$c2")
sleep 2
run eddy group describe billing

step "3. Produce 2,000 orders keyed by customer"
say "Records with the same key land in the same partition (Kafka's murmur2 partitioner);"
say "each consumer prints the records of its own partitions."
orders 1 2000 | run eddy topic produce orders --key-delim :
sleep 1
echo "consumer 1 (pid $c1) has printed $(wc -l <"$work/consumer-1.out") records," \
    "consumer 2 (pid $c2) $(wc -l <"$work/consumer-2.out")."
run eddy topic describe orders

step "4. SIGKILL consumer 1 (pid $c1), then produce 1,000 more orders"
say "No goodbye: the kernel releases the dead member's lock, the survivor notices and"
say "the group rebalances."
kill -9 "$c1"
wait "$c1" 2>/dev/null || true
orders 2001 3000 | run eddy topic produce orders --key-delim :
run eddy group describe billing

step "5. Consumer 2 owns every partition and the lag falls to zero"
for _ in $(seq 1 40); do
    lag=$(group_lag billing)
    say "  total lag: $lag"
    [ "$lag" = 0 ] && break
    sleep 0.5
done
run eddy group describe billing

step "What happened"
n1=$(wc -l <"$work/consumer-1.out")
n2=$(wc -l <"$work/consumer-2.out")
unique=$(cat "$work/consumer-1.out" "$work/consumer-2.out" | awk '{print $1, $2}' | sort -u | wc -l)
echo "consumer 1 printed $n1 records before it was killed; consumer 2 printed $n2 in all."
echo "$unique distinct records of 3000 were consumed (at-least-once: a record the dead"
echo "member printed but had not committed is read again by its successor)."
if [ "$unique" -ne 3000 ] || [ "$lag" != 0 ]; then
    echo "demo: expected all 3000 records consumed and lag 0" >&2
    exit 1
fi
kill -TERM "$c2"
wait "$c2" 2>/dev/null || true
run eddy log verify
echo
echo "Try it yourself: export EDDY_DATA=./eddy-data; $eddy_bin --help"
