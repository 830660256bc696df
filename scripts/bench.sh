#!/usr/bin/env bash
# Runs eddy's benchmarks several times and prints the median of every figure, beside the
# naive baselines measured in the same runs and the targets (docs/BENCHMARKS.md).
#
#   scripts/bench.sh BUILD_DIR            (make bench: scripts/bench.sh build/release)
#
# Environment:
#   EDDY_BENCH_RUNS   runs of each benchmark (default 5); medians are over these
#   EDDY_BENCH_DIR    data directory (default BUILD_DIR/bench-data: the real disk, not tmpfs);
#                     created, and removed at the end
#   EDDY_BENCH_RAW    if set, the raw lines of every run are also written to this file
#   EDDY_BENCH_SCALE  passed on to bench_streams and bench_windows: their record counts (and
#                     bench_streams' key counts) times this (1)
#   EDDY_BENCH_ONLY   if set, only these benchmarks run (names separated by spaces, e.g.
#                     "bench_kafka"); the others are skipped
#
# Every benchmark line is "<name> key=value ...". Figures (rates, latencies, ratios, counts) are
# the keys ending in _rps, _us, _count, ratio* or _per_sync and avg_batch; every other key names
# the configuration. A ratio is eddy / baseline within one run, so its median is the median of the
# per-run ratios (each run pairs eddy with a baseline measured seconds apart on the same disk).
set -euo pipefail

build=${1:-build/release}
runs=${EDDY_BENCH_RUNS:-5}
data=${EDDY_BENCH_DIR:-$build/bench-data}
bin=$build/bench

if ! log=$(cmake --build "$build" --target eddy_bench 2>&1); then
    echo "$log" >&2
    echo "bench.sh: building the benchmarks in $build failed" >&2
    exit 1
fi
for b in bench_append bench_consume bench_latency bench_store bench_streams bench_windows \
    bench_kafka; do
    [ -x "$bin/$b" ] || { echo "bench.sh: $bin/$b is missing" >&2; exit 1; }
done
# Whether benchmark $1 runs (EDDY_BENCH_ONLY).
selected() { [ -z "${EDDY_BENCH_ONLY:-}" ] || [[ " $EDDY_BENCH_ONLY " == *" $1 "* ]]; }

mkdir -p "$data"
raw=$(mktemp)
cleanup() { rm -rf "$data"; rm -f "$raw"; }
trap cleanup EXIT

fs=$(df -PT "$data" | awk 'NR == 2 { print $2 " on " $1 }')
echo "eddy benchmarks: $runs runs each, data in $data ($fs), $(nproc) CPUs"

# The configurations: name, then arguments. acks=1 runs share a fixed record count; acks=all
# runs append for one second per side with 4 threads per process.
append_configs=(
    "--size 100  --acks 1 --procs 1 --partitions 1 --records 4000000"
    "--size 100  --acks 1 --procs 2 --partitions 1 --records 4000000"
    "--size 100  --acks 1 --procs 2 --partitions 2 --records 4000000"
    "--size 1024 --acks 1 --procs 1 --partitions 1 --records 400000"
    "--size 1024 --acks 1 --procs 2 --partitions 1 --records 400000"
    "--size 1024 --acks 1 --procs 2 --partitions 2 --records 400000"
    "--size 100  --acks all --procs 1 --partitions 1 --threads 4 --seconds 1"
    "--size 100  --acks all --procs 2 --partitions 1 --threads 4 --seconds 1"
    "--size 100  --acks all --procs 2 --partitions 2 --threads 4 --seconds 1"
    "--size 1024 --acks all --procs 1 --partitions 1 --threads 4 --seconds 1"
    "--size 1024 --acks all --procs 2 --partitions 1 --threads 4 --seconds 1"
    "--size 1024 --acks all --procs 2 --partitions 2 --threads 4 --seconds 1"
)
consume_configs=(
    "--size 100  --records 4000000"
    "--size 1024 --records 400000"
)
# State stores: a count (get + put per record) over uniformly drawn keys. RocksDB is ~100x
# slower per record than memory, so it counts fewer records.
store_configs=(
    "--kind memory  --keys 1000000 --records 10000000"
    "--kind rocksdb --keys 100000  --records 1000000"
)

# CPU time the machine spent outside this script's benchmarks (other programs, kernel threads),
# in clock ticks: busy time from /proc/stat minus the benchmarks' own (this shell's reaped
# children, /proc/$$/stat fields 16-17). Ratios and latencies are sensitive to it on a small
# machine, so every run reports it.
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
cpu_ours() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
cpus=$(nproc)

start=$(date +%s)
windows_failed=0
for run in $(seq 1 "$runs"); do
    run_start=$(date +%s%N)
    busy0=$(cpu_busy)
    ours0=$(cpu_ours)
    order=""
    [ $((run % 2)) -eq 0 ] && order="--eddy-first"
    kafka_order=""
    [ $((run % 2)) -eq 0 ] && kafka_order="--plain-first"
    selected bench_append && for c in "${append_configs[@]}"; do
        # shellcheck disable=SC2086
        "$bin/bench_append" --dir "$data" $c $order >>"$raw"
    done
    selected bench_consume && for c in "${consume_configs[@]}"; do
        # shellcheck disable=SC2086
        "$bin/bench_consume" --dir "$data" $c $order >>"$raw"
    done
    selected bench_store && for c in "${store_configs[@]}"; do
        # shellcheck disable=SC2086
        "$bin/bench_store" --dir "$data" $c $order >>"$raw"
    done
    selected bench_latency && for pace in sleep spin; do
        "$bin/bench_latency" --dir "$data" --rate 100000 --seconds 2 --max-batch 10 \
            --pace "$pace" >>"$raw"
    done
    # Stream processing: every case of bench_streams (about a minute per run here).
    # shellcheck disable=SC2086
    selected bench_streams && "$bin/bench_streams" --dir "$data" $order >>"$raw"
    # Windows and joins: every case of bench_windows (about 35 s per run here). It exits with
    # status 1 when eddy's output was wrong, after printing its figures: the table shows them,
    # and this script fails at the end.
    if selected bench_windows; then
        # shellcheck disable=SC2086
        "$bin/bench_windows" --dir "$data" $order >>"$raw" || windows_failed=1
    fi
    # Kafka: produce and consume through the client seam vs plain librdkafka, and the count
    # application on the mock vs on the embedded log (about 20 s per run here).
    # shellcheck disable=SC2086
    selected bench_kafka && "$bin/bench_kafka" --dir "$data" $kafka_order >>"$raw"
    other=$(awk -v b0="$busy0" -v b1="$(cpu_busy)" -v o0="$ours0" -v o1="$(cpu_ours)" \
        -v ns="$(($(date +%s%N) - run_start))" -v hz="$(getconf CLK_TCK)" -v cpus="$cpus" \
        'BEGIN { o = ((b1 - b0) - (o1 - o0)) / hz; if (o < 0) o = 0
                 printf "%.1f", 100 * o / (ns / 1e9 * cpus) }')
    echo "  run $run of $runs done ($(($(date +%s) - start)) s; CPU used outside the benchmarks: $other% of $cpus CPUs)"
done
[ -n "${EDDY_BENCH_RAW:-}" ] && cp "$raw" "$EDDY_BENCH_RAW"

# Medians: one output line per configuration, "<name> config... figure=median ...".
medians=$(awk '
function is_figure(k) { return k ~ /(_rps|_us|_per_sync|_count)$/ || k ~ /^ratio/ || k == "avg_batch" }
{
    config = $1
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (!is_figure(kv[1]))
            config = config " " $i
    }
    if (!(config in seen)) { seen[config] = 1; order[++n] = config }
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (!is_figure(kv[1]))
            continue
        key = config SUBSEP kv[1]
        if (!(key in count)) { keys[config] = keys[config] " " kv[1] }
        values[key, ++count[key]] = kv[2] + 0
    }
}
function median(key,    m, i, j, t, a) {
    m = count[key]
    for (i = 1; i <= m; i++) a[i] = values[key, i]
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (m % 2) return a[(m + 1) / 2]
    return (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
    for (c = 1; c <= n; c++) {
        line = order[c]
        k = split(keys[order[c]], names, " ")
        for (i = 1; i <= k; i++) line = line " " names[i] "=" median(order[c] SUBSEP names[i])
        print line
    }
}' "$raw")

# The table.
echo "$medians" | awk '
function get(key,    i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] }
    return ""
}
function mrps(x) { return sprintf("%.2f M", x / 1e6) }
function krps(x) { return x >= 1e6 ? sprintf("%.2f M", x / 1e6) : sprintf("%.0f k", x / 1e3) }
function target_mark(ratio, target) { return ratio >= target ? "meets" : "MISSES" }
BEGIN { appended = 0 }
$1 == "append" {
    if (!appended++) {
        printf "\nAppend (records/s; batch = records per eddy_log_append = per naive write(); median of runs)\n"
        printf "%-5s %-4s %-5s %-5s %-3s %-5s %11s %11s %6s %-14s %s\n", "size", "acks", "procs", "parts", "thr", "batch", "eddy", "naive", "ratio", "target", "ack p50/p99 us: eddy | naive"
    }
    acks = get("acks"); size = get("size")
    target = ""; mark = ""
    if (acks == "1" && size == "100") { target = ">= 0.75x"; mark = target_mark(get("ratio"), 0.75) }
    if (acks == "all") { target = ">= 0.5x"; mark = target_mark(get("ratio"), 0.5) }
    lat = ""
    if (acks == "all")
        lat = sprintf("%.0f/%.0f | %.0f/%.0f", get("eddy_p50_us"), get("eddy_p99_us"), get("base_p50_us"), get("base_p99_us"))
    printf "%-5s %-4s %-5s %-5s %-3s %-5s %11s %11s %6.2f %-14s %s\n", size, acks, get("procs"), get("partitions"), get("threads"), get("batch"), mrps(get("eddy_rps")), mrps(get("base_rps")), get("ratio"), target " " mark, lat
}
$1 == "consume" {
    if (!consumed++) {
        printf "\nConsume, warm (records/s; naive = mmap scan with CRC-32C per 64 KiB; plain = mmap scan without CRC)\n"
        printf "%-5s %-9s %11s %11s %6s %-14s %11s %6s\n", "size", "records", "eddy", "naive", "ratio", "target", "plain", "ratio"
    }
    printf "%-5s %-9s %11s %11s %6.2f %-14s %11s %6.2f\n", get("size"), get("records"), mrps(get("eddy_rps")), mrps(get("base_rps")), get("ratio"), ">= 0.3x " target_mark(get("ratio"), 0.3), mrps(get("scan_rps")), get("ratio_scan")
}
$1 == "store" {
    if (!stored++) {
        printf "\nState store count, get + put per record (records/s; naive = hand-written hash map | rocksdb_get + rocksdb_put)\n"
        printf "%-8s %-8s %-9s %11s %11s %6s %-14s %s\n", "store", "keys", "records", "eddy", "naive", "ratio", "target", "first scan ms"
    }
    target = ""
    if (get("kind") == "memory") target = ">= 0.33x " target_mark(get("ratio"), 0.33)
    printf "%-8s %-8s %-9s %11s %11s %6.2f %-14s %.0f\n", get("kind"), get("keys"), get("records"), mrps(get("eddy_rps")), mrps(get("base_rps")), get("ratio"), target, get("first_scan_us") / 1000
}
$1 == "streams" {
    if (!streamed++) {
        printf "\nStream processing (input records/s; eddy = an application on the runtime, loop = hand-written C on eddy_log reading the same input in the same run; acks=1 on both)\n"
        printf "%-10s %-8s %-8s %-13s %9s %9s %6s %-15s %s\n", "case", "store", "records", "keys", "eddy", "loop", "ratio", "target", "notes"
    }
    c = get("case"); store = get("store"); keys = get("keys"); target = ""; note = ""
    if (c == "stateless") { store = "-"; keys = "-"; target = ">= 0.5x " target_mark(get("ratio"), 0.5) }
    if (c == "join") { store = "memory"; keys = get("table_keys") " table" }
    if (c == "stateless" || c == "join")
        note = sprintf("steady %s (%.2f); start-up %.0f ms; last batch %.0f ms", krps(get("eddy_steady_rps")), get("ratio_steady"), get("eddy_start_us") / 1000, get("eddy_tail_us") / 1000)
    if (c == "count") {
        target = store == "memory" ? ">= 0.33x " target_mark(get("ratio"), 0.33) : ">= 0.25x " target_mark(get("ratio"), 0.25)
        if (get("cache_bytes") == "0") store = store ",nocache"
        note = sprintf("until processed %s (%.2f); close %.0f ms; written out+changelog: eddy %.2f+%.2f M, loop %.2f+%.2f M", krps(get("eddy_processed_rps")), get("ratio_processed"), get("eddy_close_us") / 1000, get("eddy_out_count") / 1e6, get("eddy_changelog_count") / 1e6, get("base_out_count") / 1e6, get("base_changelog_count") / 1e6)
    }
    if (c == "restore") {
        target = ">= 0.5x " target_mark(get("ratio"), 0.5)
        note = sprintf("with the final flush: eddy %s, loop %s, ratio %.2f", krps(get("eddy_running_rps")), krps(get("base_flushed_rps")), get("ratio_flushed"))
    }
    printf "%-10s %-8s %-8s %-13s %9s %9s %6.2f %-15s %s\n", c, store, get("records"), keys, krps(get("eddy_rps")), krps(get("base_rps")), get("ratio"), target, note
}
$1 == "windows" {
    if (!windowed++) {
        printf "\nWindows and joins (input records/s; eddy = an application on the runtime, loop = hand-written C on eddy_log reading the same input in the same run; acks=1 on both)\n"
        printf "%-9s %-6s %-8s %-6s %9s %9s %6s %-15s %-6s %s\n", "case", "cache", "records", "keys", "eddy", "loop", "ratio", "target", "wrong", "notes"
    }
    c = get("case"); cache = get("cache_bytes") == "0" ? "off" : sprintf("%.0f MB", get("cache_bytes") / 1048576)
    note = ""
    if (c == "tumbling" || c == "hopping")
        note = sprintf("%s windows of %.0f s every %.0f s; ", get("windows"), get("size_ms") / 1000, get("advance_ms") / 1000)
    if (c == "session")
        note = sprintf("%s sessions, %s bridging merges; ", get("sessions"), get("merges"))
    if (c != "join")
        note = note sprintf("until processed %s (%.2f); written out+changelog: eddy %.2f+%.2f M, loop %.2f+%.2f M", krps(get("eddy_processed_rps")), get("ratio_processed"), get("eddy_out_count") / 1e6, get("eddy_changelog_count") / 1e6, get("base_out_count") / 1e6, get("base_changelog_count") / 1e6)
    else
        note = sprintf("%s joined records; both inputs counted", get("out"))
    wrong = get("eddy_wrong_count") + 0
    printf "%-9s %-6s %-8s %-6s %9s %9s %6.2f %-15s %-6s %s\n", c, cache, get("records"), get("keys"), krps(get("eddy_rps")), krps(get("base_rps")), get("ratio"), ">= 0.25x " target_mark(get("ratio"), 0.25), wrong ? "WRONG " wrong : "0", note
}
$1 == "kafka" && get("step") != "count" {
    if (!kafkaed++) {
        printf "\nKafka client on librdkafka'"'"'s mock cluster, in process (records/s; eddy = the client seam, plain = librdkafka code doing the same work; median of the passes of a run)\n"
        printf "%-8s %-8s %-5s %-5s %9s %9s %6s %-15s %s\n", "step", "records", "size", "parts", "eddy", "plain", "ratio", "target", "notes"
    }
    s = get("step"); note = get("same_config") == "yes" ? "same librdkafka properties; " : "PROPERTIES DIFFER (stderr); "
    if (s == "produce" && get("batch") == "linger")
        note = note sprintf("linger.ms=5: records per batch eddy %.0f, plain %.0f", get("records") / get("eddy_batch_count"), get("records") / get("base_batch_count"))
    else if (s == "produce")
        note = note sprintf("batches of exactly %s records (%.0f | %.0f batches)", get("batch"), get("eddy_batch_count"), get("base_batch_count"))
    else
        note = note sprintf("batches of %s records; first record after: eddy %.1f ms, plain %.1f ms", get("batch"), get("eddy_first_us") / 1000, get("base_first_us") / 1000)
    printf "%-8s %-8s %-5s %-5s %9s %9s %6.2f %-15s %s\n", s, get("records"), get("size"), get("partitions"), krps(get("eddy_rps")), krps(get("base_rps")), get("ratio"), ">= 0.7x " target_mark(get("ratio"), 0.7), note
}
$1 == "kafka" && get("step") == "count" {
    printf "\nCount application end to end, eddy on the mock vs on the embedded log (input records/s; no target)\n"
    printf "%-8s %-8s %-6s %-5s %9s %9s %6s %s\n", "case", "records", "keys", "parts", "mock", "log", "ratio", "notes"
    printf "%-8s %-8s %-6s %-5s %9s %9s %6.2f %s\n", "count", get("records"), get("keys"), get("partitions"), krps(get("mock_rps")), krps(get("log_rps")), get("ratio"), sprintf("from the first record counted: mock %s, log %s (%.2f); start-up: mock %.0f ms, log %.0f ms", krps(get("mock_counting_rps")), krps(get("log_counting_rps")), get("ratio_counting"), get("mock_start_us") / 1000, get("log_start_us") / 1000)
}
$1 == "latency" {
    if (!latencies++) {
        printf "\nAppend-to-consume latency across processes (us; %s rec/s of %s B, acks=1, 1-10 records per append)\n", get("rate"), get("size")
        printf "%-12s %-28s %8s %8s %8s %8s  %s\n", "producer", "", "p50", "p99", "p999", "max", "target"
    }
    mark = get("p99_us") <= 1000 ? "meets" : "MISSES"
    pace = get("pace") "-paced"
    printf "%-12s %-28s %8.1f %8.1f %8.1f %8.1f  p99 <= 1000 %s\n", pace, "eddy, from due time", get("p50_us"), get("p99_us"), get("p999_us"), get("max_us"), mark
    printf "%-12s %-28s %8.1f %8.1f %8.1f %8.1f\n", sprintf("%.2f rec/app", get("avg_batch")), "eddy, from append call", get("call_p50_us"), get("call_p99_us"), get("call_p999_us"), get("call_max_us")
    printf "%-12s %-28s %8.1f %8.1f %8.1f %8.1f\n", "", "eddy_log_append call itself", get("append_p50_us"), get("append_p99_us"), get("append_p999_us"), get("append_max_us")
    printf "%-12s %-28s %8.1f %8.1f %8.1f %8.1f\n", "", "futex ping, no log (floor)", get("base_p50_us"), get("base_p99_us"), get("base_p999_us"), get("base_max_us")
}'
echo
echo "Total time: $(($(date +%s) - start)) s"
if [ "$windows_failed" -ne 0 ]; then
    echo "bench.sh: bench_windows found eddy's output wrong (the wrong column; its messages above)" >&2
    exit 1
fi
