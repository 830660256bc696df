#!/usr/bin/env bash
# make demo: a short, readable demonstration of eddy's embedded log and its stream processing.
#   usage: scripts/demo.sh path/to/eddy
# It creates a topic in a fresh data directory, produces records, consumes them with a
# consumer group of two processes, kills one with SIGKILL, and shows the other take over its
# partitions and the group's lag fall to zero. Then it runs the wordcount example (built next
# to eddy, in examples/) on another fresh data directory: lines in, counts out, a clean stop.
# Every wait is a bounded poll; any failure exits non-zero.
set -euo pipefail

eddy_bin=$(realpath "${1:-build/release/eddy}")
wordcount_bin="$(dirname "$eddy_bin")/examples/wordcount"
if [ ! -x "$wordcount_bin" ]; then
    echo "demo: $wordcount_bin not found (make build builds the examples next to eddy)" >&2
    exit 1
fi
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

step "6. A stream-processing application: wordcount"
say "examples/wordcount reads lines from 'text-lines', counts the words in a state store and"
say "writes each new count to 'word-counts' (Kafka Streams' WordCountDemo). It gets a fresh"
say "data directory of its own, and its local state (RocksDB stores, checkpoints) another."
wc_data="$work/wordcount-data"
wc_state="$work/wordcount-state"
eddy_wc() { "$eddy_bin" --data "$wc_data" "$@"; }
# Prints words as they could be typed, each after a space, those with spaces or escapes quoted.
words() {
    for word in "$@"; do
        if [[ $word =~ [^A-Za-z0-9_./:=,@+-] ]]; then printf " '%s'" "$word"; else printf ' %s' "$word"; fi
    done
}
run_wc() { printf '$'; words eddy --data "$wc_data" "$@"; printf '\n'; eddy_wc "$@"; }
run_wc topic create text-lines word-counts -p 4
printf '$'
words "$wordcount_bin" --data "$wc_data" --set state.dir="$wc_state" --set commit.interval.ms=500
printf ' &\n'
"$wordcount_bin" --data "$wc_data" --set state.dir="$wc_state" --set commit.interval.ms=500 \
    2>"$work/wordcount.err" &
wc_pid=$!
pids+=("$wc_pid")
lines='the quick brown fox\njumps over the lazy dog\nthe fox\n'
printf "\$ printf '%s' |" "$lines"
words eddy --data "$wc_data" topic produce text-lines
printf '\n'
# shellcheck disable=SC2059 # the lines are the format: printf turns their \n into newlines
printf "$lines" | eddy_wc topic produce text-lines

# The latest count of each word: one "word count" line per word, sorted by word.
current_counts() {
    eddy_wc topic consume word-counts -f '%k %v\n' |
        awk '{ n[$1] = $2 } END { for (w in n) print w, n[w] }' | sort
}
expected_counts=$'brown 1\ndog 1\nfox 2\njumps 1\nlazy 1\nover 1\nquick 1\nthe 3'
say "Waiting until word-counts holds every count (polling, at most 15 s)..."
counts=""
for _ in $(seq 1 75); do
    counts=$(current_counts)
    [ "$counts" = "$expected_counts" ] && break
    if ! kill -0 "$wc_pid" 2>/dev/null; then
        echo "demo: wordcount stopped early:" >&2
        cat "$work/wordcount.err" >&2
        exit 1
    fi
    sleep 0.2
done
if [ "$counts" != "$expected_counts" ]; then
    printf 'demo: word-counts holds\n%s\nexpected\n%s\n' "$counts" "$expected_counts" >&2
    cat "$work/wordcount.err" >&2
    exit 1
fi
say "The store's cache folds a word's updates between two commits (every 500 ms here) into"
say "one record: 'the' was counted three times, and word-counts may hold only 'the 3'."
run_wc topic consume word-counts -f '%k %v\n'
echo "The current counts, the last record of each word:"
printf '%s\n' "$counts" | sed 's/^/    /'
say "Next to yours, the application's internal topics: the repartition topic that brings each"
say "word to one task, and the compacted changelog of the store 'counts'."
run_wc topic list

step "7. Stop wordcount with SIGTERM: a final commit, then exit status 0"
kill -TERM "$wc_pid"
wc_status=0
wait "$wc_pid" || wc_status=$?
say "What it logged (state changes; tasks and restoration are logged too):"
grep -E 'state |wordcount: ' "$work/wordcount.err" | sed 's/^/    /'
echo "wordcount exited with status $wc_status."
if [ "$wc_status" -ne 0 ]; then
    echo "demo: wordcount exited with status $wc_status" >&2
    exit 1
fi
say "Its state directory has one directory per task (sub-topology_partition). Each counting"
say "task (1_N) keeps a RocksDB store and a .checkpoint naming the changelog offset the store"
say "holds, so that the next start restores only what came after it:"
run ls "$wc_state/wordcount"
for checkpoint in "$wc_state"/wordcount/1_*/.checkpoint; do
    task=$(basename "$(dirname "$checkpoint")")
    echo "    $task/.checkpoint: $(sed -n 3p "$checkpoint")"
done

echo
echo "Try it yourself: export EDDY_DATA=./eddy-data; $eddy_bin --help"
echo "and examples/wordcount/README.md for the wordcount walk-through."
