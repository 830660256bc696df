/* Stream processing throughput: eddy applications (the runtime of include/eddy/app.h running a
 * DSL topology on the embedded log) against hand-written C loops doing the same work over the
 * same input, read from the same log, in the same run.
 *
 *   bench_streams --dir D [--case
 * all|stateless|count-memory|count-memory-uncached|count-rocksdb|join|restore]
 *                 [--scale F] [--only eddy|baseline] [--eddy-first] [--cache-bytes N]
 *                 [--verbose]
 *
 * EDDY_BENCH_SCALE=F (or --scale F) multiplies every record and key count (0.1 for a quick
 * run). --verbose prints each side's timed region in CLOCK_MONOTONIC seconds on stderr (for
 * `perf record -k CLOCK_MONOTONIC` and `perf report --time A,B`).
 *
 * Every case writes its input topics once, untimed (acks=1, 1 partition each, in a fresh log
 * under D); then both sides read them, the hand-written loop first in odd runs and eddy first
 * with --eddy-first. Both sides write with acks=1: the applications' producer is set to
 * `acks=1` (the client seam's default is all) and keeps Kafka Streams' linger.ms=100 and the
 * seam's batch.size of 1,000,000 bytes; a hand-written loop appends a batch to a topic each
 * time the batch holds 1,000,000 bytes of keys and values. Application settings:
 * statestore.cache.max.bytes=10485760 (--cache-bytes changes it) and commit.interval.ms=30000,
 * Kafka Streams' defaults, set explicitly; num.stream.threads=1, poll.ms=100. Every timed run
 * is shorter than the commit interval, so the only commit an application makes is the final
 * one of eddy_app_close().
 *
 * Timing. The eddy side runs from eddy_app_start() until its output is complete: for a
 * stateless or join application, until the output topic's end offset reaches the expected
 * count (polled every 0.5 ms from the main thread); for a count, whose record cache forwards
 * each key's count once per commit or eviction (Kafka's cached KTable), until
 * eddy_app_close() has returned, since the final commit writes what the cache still holds
 * (the time until every record was processed is also printed). A hand-written loop runs from
 * opening its reader to its last append (appends are synchronous), plus, for a count, flushing
 * and closing its database.
 *
 * The cases (sizes at scale 1):
 *
 *   stateless   2 M records, null key, 100-byte value. filter (first value byte < 'n', about
 *               half) -> map_values (lower-case letters to upper-case) -> to. Loop:
 *               eddy_log_reader_next, the same predicate and transform (the same functions),
 *               appends to its output topic.
 *   count       records with a 13-byte key drawn uniformly from 1 M keys, 87-byte values.
 *               group_by_key -> count -> to. store=memory (2 M records): default.dsl.store=
 *               in_memory; loop: an open-addressing hash map. store=rocksdb (1 M records):
 *               default.dsl.store=rocksDB; loop: rocksdb_get + rocksdb_put per record on a
 *               database opened with eddy's store options (Kafka Streams' RocksDBStore
 *               settings, no WAL). A loop has no cache: it appends every updated count, as
 *               (key, 8-byte big-endian count), to its output topic and to a changelog topic
 *               of its own; eddy writes what its cache evicts and flushes, to both. The record
 *               counts of both sides are printed.
 *   join        a table topic of 100 k keys (50-byte values) and a stream of 2 M records
 *               (87-byte values) whose keys are drawn from 125 k keys, so 80 % match.
 *               table_from (in-memory store "table") joined (inner) with stream_from -> to,
 *               value = stream value ++ table value. The table is loaded first: an untimed run
 *               of the application reads the table topic (the stream topic still empty) and
 *               stops, its final commit writing the store's changelog and the offsets; then
 *               the stream is written, and the timed run restores the table from its changelog
 *               and joins the stream. Loop: reads the table topic into a hash map, then the
 *               stream, looks each key up, appends the joined records.
 *   restore     a changelog of 2 M records over 1 M keys (13-byte keys, 8-byte values) already
 *               in the log, no checkpoint, no state: the runtime restores the count's RocksDB
 *               store; timed until eddy_app_restoration() says restored == total. Loop: reads
 *               the changelog and rocksdb_put's each record (no WAL, the same options).
 *               ratio compares both without RocksDB's final flush; ratio_flushed compares eddy
 *               until RUNNING (restoration, its flush, and the stream thread's first empty poll
 *               of up to poll.ms) with the loop including rocksdb_flush.
 *
 * Both sides' outputs are checked: the same records (count and byte sums) for stateless and
 * join; for count, every key's last output count equals its number of input records, on both
 * sides; for restore, a probe key's value in both stores.
 *
 * Output, one line per case, rates in input records per second:
 *   streams case=stateless records=N out=M acks=1 eddy_rps=... base_rps=... ratio=... ...
 * eddy_steady_rps (stateless, join) leaves out start-up and the last batch's linger: the
 * input rate while the output grew (its first growth to its last growth before completion).
 */
#include <inttypes.h>
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_apps.h"
#include "core/buf.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "eddy/streams.h"

#define COUNT_VALUE_LEN 87
#define TABLE_VALUE_LEN 50
#define STATELESS_VALUE_LEN 100

/* ---- Both sides' outputs ----------------------------------------------------------------- */

static void digests_compare(const char *what, const char *eddy_topic, const char *base_topic)
{
    if (!bench_run_eddy() || !bench_run_base())
        return;
    bench_topic_digest e = bench_topic_digest_of(eddy_topic), b = bench_topic_digest_of(base_topic);
    if (e.records != b.records || e.key_sum != b.key_sum || e.value_sum != b.value_sum)
        bench_die("%s: eddy wrote %" PRId64 " records (key sum %" PRIu64 ", value sum %" PRIu64
                  "), the hand-written loop %" PRId64 " (%" PRIu64 ", %" PRIu64 ")",
                  what, e.records, e.key_sum, e.value_sum, b.records, b.key_sum, b.value_sum);
}

/* ---- Running an application ---------------------------------------------------------------- */

/* What app_wait_output saw of the output topic. */
typedef struct output_timeline {
    int64_t total_ns; /* from start until the topic held every expected record */
    int64_t start_ns; /* from start until its first growth: start-up, the first batch */
    int64_t tail_ns;  /* from its last growth before completion until completion: the last
                       * batch waiting in the producer while the stream thread polls */
    double steady;    /* the fraction of the output written per second between the first
                       * growth and the last growth before completion (0 when unknown) */
} output_timeline;

/* Waits until `topic` holds `expected` records, polling its end offset. */
static output_timeline app_wait_output(eddy_app *app, const char *topic, int64_t expected,
                                       int64_t start_ns)
{
    output_timeline t = {0};
    int64_t last = 0, first_ns = -1, first_end = 0, last_change_ns = start_ns, last_change_end = 0;
    for (;;) {
        int64_t end = bench_end_offset(topic), now = bench_now_ns();
        if (end > expected)
            bench_die("%s holds %" PRId64 " records, more than the %" PRId64 " expected", topic,
                      end, expected);
        if (end >= expected) {
            t.total_ns = now - start_ns;
            t.start_ns = first_ns >= 0 ? first_ns - start_ns : t.total_ns;
            t.tail_ns = now - last_change_ns;
            if (first_ns >= 0 && last_change_ns > first_ns && expected > 0)
                t.steady = (double)(last_change_end - first_end) / (double)expected * 1e9 /
                           (double)(last_change_ns - first_ns);
            return t;
        }
        if (end != last) {
            if (first_ns < 0) {
                first_ns = now;
                first_end = end;
            }
            last_change_ns = now;
            last_change_end = end;
            last = end;
        }
        bench_app_check(app, start_ns);
        bench_nap_us(500);
    }
}

/* The timeline's figures for a case's line: eddy's steady rate (input records per second while
 * the output grew, start-up and the last linger left out) and its ratio to the baseline, the
 * start-up and the tail. */
static void timeline_figures(char *buf, size_t size, const output_timeline *t, int64_t records,
                             double base_rps)
{
    double steady_rps = t->steady * (double)records;
    snprintf(buf, size,
             "eddy_steady_rps=%.0f ratio_steady=%.3f eddy_start_us=%" PRId64
             " eddy_tail_us=%" PRId64,
             steady_rps, base_rps > 0 ? steady_rps / base_rps : 0.0, t->start_ns / 1000,
             t->tail_ns / 1000);
}

/* ---- A hand-written hash map: 13-byte keys, a 64-bit payload ----------------------------- */

typedef struct map_slot {
    uint64_t hash; /* 0: empty (hashes are forced odd) */
    char key[16];
    int64_t payload; /* a count, or an offset into the join table's value bytes */
} map_slot;

typedef struct hash_map {
    map_slot *slots;
    size_t capacity, used;
} hash_map;

static inline uint64_t map_mix(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

static inline uint64_t map_hash(const void *key)
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, (const char *)key + BENCH_KEY_LEN - 8, 8);
    return map_mix(map_mix(a ^ 0xe7037ed1a0b428dbULL, b ^ 0xa0761d6478bd642fULL),
                   0x8ebc6af09c88c6e3ULL) |
           1;
}

static void map_init(hash_map *m)
{
    m->capacity = 16;
    m->used = 0;
    m->slots = calloc(m->capacity, sizeof(*m->slots));
    if (!m->slots)
        bench_die("out of memory");
}

static void map_grow(hash_map *m)
{
    size_t grown = m->capacity * 2;
    map_slot *bigger = calloc(grown, sizeof(*bigger));
    if (!bigger)
        bench_die("out of memory");
    for (size_t j = 0; j < m->capacity; j++) {
        if (!m->slots[j].hash)
            continue;
        size_t k = m->slots[j].hash & (grown - 1);
        while (bigger[k].hash)
            k = (k + 1) & (grown - 1);
        bigger[k] = m->slots[j];
    }
    free(m->slots);
    m->slots = bigger;
    m->capacity = grown;
}

/* The slot of `key`, or NULL (insert: the new slot, payload 0, *fresh set). */
static inline map_slot *map_find(hash_map *m, const void *key, bool insert, bool *fresh)
{
    uint64_t hash = map_hash(key);
    size_t mask = m->capacity - 1, i = hash & mask;
    while (m->slots[i].hash &&
           (m->slots[i].hash != hash || memcmp(m->slots[i].key, key, BENCH_KEY_LEN)))
        i = (i + 1) & mask;
    if (m->slots[i].hash || !insert)
        return m->slots[i].hash ? &m->slots[i] : NULL;
    if ((m->used + 1) * 4 > m->capacity * 3) {
        map_grow(m);
        mask = m->capacity - 1;
        i = hash & mask;
        while (m->slots[i].hash)
            i = (i + 1) & mask;
    }
    m->slots[i].hash = hash;
    memcpy(m->slots[i].key, key, BENCH_KEY_LEN);
    m->slots[i].payload = 0;
    m->used++;
    *fresh = true;
    return &m->slots[i];
}

/* ---- RocksDB, opened as eddy's store opens it (src/store/rocksdb.c) ----------------------- */

static void rocks_check(char *error, const char *what)
{
    if (error)
        bench_die("%s: %s", what, error);
}

static rocksdb_options_t *rocks_options(void)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    rocksdb_options_set_compaction_style(o, rocksdb_universal_compaction);
    rocksdb_options_set_write_buffer_size(o, 16u << 20);
    rocksdb_options_set_max_write_buffer_number(o, 3);
    rocksdb_options_set_optimize_filters_for_hits(o, 1);
    rocksdb_options_set_info_log_level(o, 3);
    rocksdb_options_set_keep_log_file_num(o, 4);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    rocksdb_options_increase_parallelism(o, cpus > 2 ? (int)cpus : 2);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_size(t, 4096);
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(50u << 20);
    rocksdb_block_based_options_set_block_cache(t, cache);
    rocksdb_cache_destroy(cache);
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t);
    return o;
}

typedef struct rocks {
    char path[4200];
    rocksdb_options_t *options;
    rocksdb_t *db;
    rocksdb_readoptions_t *read;
    rocksdb_writeoptions_t *write;
} rocks;

static void rocks_open(rocks *r, const char *name)
{
    snprintf(r->path, sizeof(r->path), "%s/%s", bench_dir, name);
    bench_remove_tree(r->path);
    r->options = rocks_options();
    char *error = NULL;
    r->db = rocksdb_open(r->options, r->path, &error);
    rocks_check(error, "rocksdb_open");
    r->read = rocksdb_readoptions_create();
    r->write = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(r->write, 1);
}

static void rocks_flush(rocks *r)
{
    rocksdb_flushoptions_t *f = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(f, 1);
    char *error = NULL;
    rocksdb_flush(r->db, f, &error);
    rocks_check(error, "rocksdb_flush");
    rocksdb_flushoptions_destroy(f);
}

/* The 8-byte big-endian value of `key`, or -1 when absent. */
static int64_t rocks_get_i64(rocks *r, eddy_slice key)
{
    char *error = NULL;
    size_t len = 0;
    char *value = rocksdb_get(r->db, r->read, key.data, key.len, &len, &error);
    rocks_check(error, "rocksdb_get");
    int64_t v = value && len == 8 ? (int64_t)eddy__be64_get((const uint8_t *)value) : -1;
    rocksdb_free(value);
    return v;
}

/* Closes the database (what eddy_app_close does to a store) and keeps its files. */
static void rocks_close(rocks *r)
{
    rocksdb_readoptions_destroy(r->read);
    rocksdb_writeoptions_destroy(r->write);
    rocksdb_close(r->db);
    rocksdb_options_destroy(r->options);
}

/* ---- Case 1: stateless filter -> map_values -> to ------------------------------------------ */

/* The pipeline's work, called by both sides (not inlined, so both run the very same code). */
static bool __attribute__((noinline)) stateless_keep(const uint8_t *value, size_t len)
{
    return len > 0 && value[0] < 'n';
}

static void __attribute__((noinline))
stateless_transform(const uint8_t *in, size_t len, uint8_t *out)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - ('a' - 'A') : in[i]);
}

static bool stateless_filter_fn(const eddy_record *record, void *opaque)
{
    (void)opaque;
    return record->value.data && stateless_keep(record->value.data, record->value.len);
}

static void stateless_map_fn(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    uint8_t out[STATELESS_VALUE_LEN];
    size_t len = record->value.len < sizeof(out) ? record->value.len : sizeof(out);
    stateless_transform(record->value.data, len, out);
    eddy_forward_value(ctx, (eddy_slice){out, len});
}

static void case_stateless(void)
{
    const char *what = "stateless";
    const int64_t records = bench_scaled(2000000);
    const char *in = "sl-in", *eddy_out = "sl-out-eddy", *base_out = "sl-out-base";
    bench_topic_create(in, NULL, -1);
    bench_topic_create(eddy_out, NULL, -1);
    bench_topic_create(base_out, NULL, -1);
    bench_batch_writer fill;
    bench_writer_open(&fill, in);
    int64_t expected = 0;
    for (int64_t i = 0; i < records; i++) {
        eddy_slice v = bench_pool_value(i, STATELESS_VALUE_LEN);
        expected += stateless_keep(v.data, v.len);
        bench_writer_add(&fill, (eddy_slice){0}, v, -1);
    }
    bench_writer_close(&fill);

    double eddy_rps = 0, base_rps = 0;
    output_timeline timeline = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *b = eddy_builder_new();
            eddy_stream *s = eddy_stream_from(b, in, NULL, NULL);
            s = eddy_map_values(eddy_filter(s, stateless_filter_fn, NULL), stateless_map_fn, NULL);
            eddy_to(s, eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = bench_app_start(b, "bench-stateless", NULL, bench_cache_bytes);
            timeline = app_wait_output(app, eddy_out, expected, start);
            int64_t ns = timeline.total_ns;
            bench_timed_region(what, "eddy", start, start + ns);
            eddy_rps = bench_rate(records, ns);
            bench_app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && bench_run_base()) {
            int64_t start = bench_now_ns();
            eddy_log_reader *r;
            bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
            bench_batch_writer out;
            bench_writer_open(&out, base_out);
            eddy_record rec;
            uint8_t buf[STATELESS_VALUE_LEN];
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.value.data || !stateless_keep(rec.value.data, rec.value.len))
                    continue;
                size_t len = rec.value.len < sizeof(buf) ? rec.value.len : sizeof(buf);
                stateless_transform(rec.value.data, len, buf);
                bench_writer_add(&out, rec.key, (eddy_slice){buf, len}, rec.timestamp_ms);
            }
            bench_writer_flush(&out);
            int64_t ns = bench_now_ns() - start;
            bench_timed_region(what, "baseline", start, start + ns);
            base_rps = bench_rate(records, ns);
            if (out.appended != expected)
                bench_die("stateless: the loop wrote %" PRId64 " records, not %" PRId64,
                          out.appended, expected);
            bench_writer_close(&out);
            eddy_log_reader_destroy(r);
        }
    }
    digests_compare("stateless", eddy_out, base_out);
    char figures[256];
    timeline_figures(figures, sizeof(figures), &timeline, records, base_rps);
    printf("streams case=stateless records=%" PRId64 " out=%" PRId64 " acks=1 eddy_rps=%.0f "
           "base_rps=%.0f ratio=%.3f %s\n",
           records, expected, eddy_rps, base_rps, base_rps > 0 ? eddy_rps / base_rps : 0.0,
           figures);
    fflush(stdout);
    bench_topic_delete(in);
    bench_topic_delete(eddy_out);
    bench_topic_delete(base_out);
}

/* ---- Case 2: count by key -------------------------------------------------------------------- */

/* Checks that the last count `topic` holds for each key is the key's true count. */
static void count_output_check(const char *topic, const uint32_t *true_counts, int64_t keys)
{
    hash_map last;
    map_init(&last);
    bench_topic_scan scan;
    bench_topic_scan_open(&scan, topic);
    eddy_record rec;
    while (bench_topic_scan_next(&scan, &rec)) {
        if (!rec.key.data || rec.key.len != BENCH_KEY_LEN || !rec.value.data || rec.value.len != 8)
            bench_die("count: %s holds a record that is not (13-byte key, count)", topic);
        bool fresh = false;
        map_find(&last, rec.key.data, true, &fresh)->payload =
            (int64_t)eddy__be64_get(rec.value.data);
    }
    bench_topic_scan_close(&scan);
    size_t counted = 0;
    for (int64_t k = 0; k < keys; k++) {
        if (!true_counts[k])
            continue;
        counted++;
        map_slot *slot = map_find(&last, bench_key_table[k], false, NULL);
        if (!slot || slot->payload != (int64_t)true_counts[k])
            bench_die("count: %s ends with %" PRId64 " for key %.13s, which occurs %" PRIu32
                      " times",
                      topic, slot ? slot->payload : 0, bench_key_table[k], true_counts[k]);
    }
    if (counted != last.used)
        bench_die("count: %s holds %zu keys, the input %zu", topic, last.used, counted);
    free(last.slots);
}

/* A count (memory or RocksDB store). `cache` is the applications' statestore.cache.max.bytes;
 * with "0" every update is written, exactly the loop's work, and eddy is timed until its output
 * is complete (the close after it untimed, as the loop has none). */
static void case_count(bool memory, const char *cache)
{
    bool uncached = strcmp(cache, "0") == 0;
    const char *what = uncached ? "count-memory-uncached"
                       : memory ? "count-memory"
                                : "count-rocksdb";
    const int64_t records = bench_scaled(memory ? 2000000 : 1000000), keys = bench_scaled(1000000);
    const char *in = "cnt-in", *eddy_out = "cnt-out-eddy", *base_out = "cnt-out-base";
    const char *base_changelog = "cnt-base-changelog";
    /* Each case its own application id: a group's committed offsets outlive the topics. */
    const char *app_id = uncached ? "bench-count-memory-uncached"
                         : memory ? "bench-count-memory"
                                  : "bench-count-rocksdb";
    char eddy_changelog[256];
    snprintf(eddy_changelog, sizeof(eddy_changelog), "%s-counts-changelog", app_id);
    bench_topic_create(in, NULL, -1);
    bench_topic_create(eddy_out, NULL, -1);
    bench_topic_create(base_out, NULL, -1);
    bench_topic_create(base_changelog, "compact", -1);
    uint32_t *draws = bench_draws_make(records, keys, 42);
    uint32_t *true_counts = calloc((size_t)keys, sizeof(*true_counts));
    if (!true_counts)
        bench_die("out of memory");
    bench_batch_writer fill;
    bench_writer_open(&fill, in);
    for (int64_t i = 0; i < records; i++) {
        true_counts[draws[i]]++;
        bench_writer_add(&fill, bench_key_at(draws[i]), bench_pool_value(i, COUNT_VALUE_LEN), -1);
    }
    bench_writer_close(&fill);
    eddy_slice last_key = bench_key_at(draws[records - 1]);
    int64_t last_count = true_counts[draws[records - 1]];

    bench_app_timing eddy_timing = {0};
    double base_rps = 0;
    int64_t eddy_out_records = 0, eddy_changelog_records = 0;
    int64_t base_out_records = 0, base_changelog_records = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *b = eddy_builder_new();
            eddy_table *counts =
                eddy_count(eddy_group_by_key(eddy_stream_from(b, in, NULL, NULL)), "counts");
            eddy_table_to(counts, eddy_out);
            eddy_app *app = bench_app_run_to_close(
                what, b, app_id, memory ? "in_memory" : "rocksDB", cache, "counts", last_key,
                last_count, records, uncached ? eddy_out : NULL, records, &eddy_timing);
            if (uncached)
                eddy_timing.rps = eddy_timing.complete_rps;
            eddy_out_records = bench_end_offset(eddy_out);
            eddy_changelog_records = bench_end_offset(eddy_changelog);
            eddy_app_destroy(app);
            eddy_builder_destroy(b);
            count_output_check(eddy_out, true_counts, keys);
        } else if (!eddy_turn && bench_run_base()) {
            int64_t start = bench_now_ns();
            hash_map map;
            rocks db;
            if (memory)
                map_init(&map);
            else
                rocks_open(&db, "cnt-base-rocksdb");
            eddy_log_reader *r;
            bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
            bench_batch_writer out, changelog;
            bench_writer_open(&out, base_out);
            bench_writer_open(&changelog, base_changelog);
            eddy_record rec;
            char *error = NULL;
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.key.data || rec.key.len != BENCH_KEY_LEN)
                    bench_die("count: unexpected key");
                int64_t count;
                if (memory) {
                    bool fresh = false;
                    map_slot *slot = map_find(&map, rec.key.data, true, &fresh);
                    count = ++slot->payload;
                } else {
                    size_t len = 0;
                    char *old =
                        rocksdb_get(db.db, db.read, rec.key.data, BENCH_KEY_LEN, &len, &error);
                    rocks_check(error, "rocksdb_get");
                    count = old && len == 8 ? (int64_t)eddy__be64_get((const uint8_t *)old) : 0;
                    rocksdb_free(old);
                    count++;
                }
                uint8_t encoded[8];
                eddy__be64_put(encoded, (uint64_t)count);
                eddy_slice value = {encoded, 8};
                if (!memory) {
                    rocksdb_put(db.db, db.write, rec.key.data, BENCH_KEY_LEN, (const char *)encoded,
                                8, &error);
                    rocks_check(error, "rocksdb_put");
                }
                bench_writer_add(&changelog, rec.key, value, rec.timestamp_ms);
                bench_writer_add(&out, rec.key, value, rec.timestamp_ms);
            }
            bench_writer_flush(&changelog);
            bench_writer_flush(&out);
            /* The loop's equivalent of eddy's final commit and close: the database flushed
             * and closed, the map freed. */
            if (memory) {
                free(map.slots);
            } else {
                rocks_flush(&db);
                rocks_close(&db);
            }
            int64_t ns = bench_now_ns() - start;
            bench_timed_region(what, "baseline", start, start + ns);
            base_rps = bench_rate(records, ns);
            base_out_records = out.appended;
            base_changelog_records = changelog.appended;
            bench_writer_close(&out);
            bench_writer_close(&changelog);
            eddy_log_reader_destroy(r);
            if (!memory)
                bench_remove_tree(db.path);
            count_output_check(base_out, true_counts, keys);
        }
    }
    printf("streams case=count store=%s records=%" PRId64 " keys=%" PRId64 " acks=1 "
           "cache_bytes=%s commit_ms=" BENCH_COMMIT_INTERVAL_MS " eddy_rps=%.0f base_rps=%.0f "
           "ratio=%.3f eddy_processed_rps=%.0f ratio_processed=%.3f eddy_close_us=%" PRId64
           " eddy_out_count=%" PRId64 " eddy_changelog_count=%" PRId64 " base_out_count=%" PRId64
           " base_changelog_count=%" PRId64 "\n",
           memory ? "memory" : "rocksdb", records, keys, cache, eddy_timing.rps, base_rps,
           base_rps > 0 ? eddy_timing.rps / base_rps : 0.0, eddy_timing.processed_rps,
           base_rps > 0 ? eddy_timing.processed_rps / base_rps : 0.0, eddy_timing.close_ns / 1000,
           eddy_out_records, eddy_changelog_records, base_out_records, base_changelog_records);
    fflush(stdout);
    free(draws);
    free(true_counts);
    bench_topic_delete(in);
    bench_topic_delete(eddy_out);
    bench_topic_delete(base_out);
    bench_topic_delete(base_changelog);
    bench_topic_delete(eddy_changelog);
}

/* ---- Case 3: stream-table join ------------------------------------------------------------- */

static void join_fn(eddy_ctx *ctx, const eddy_record *left, eddy_slice right, void *opaque)
{
    (void)opaque;
    uint8_t out[COUNT_VALUE_LEN + TABLE_VALUE_LEN];
    if (left->value.len + right.len > sizeof(out))
        return;
    bench_join_values(left->value.data, left->value.len, right.data, right.len, out);
    eddy_result(ctx, (eddy_slice){out, left->value.len + right.len});
}

static eddy_builder *join_builder(const char *table_topic, const char *stream_topic,
                                  const char *out)
{
    eddy_builder *b = eddy_builder_new();
    eddy_table *table = eddy_table_from(b, table_topic, NULL, NULL, "table");
    eddy_stream *stream = eddy_stream_from(b, stream_topic, NULL, NULL);
    eddy_to(eddy_join_table(stream, table, join_fn, NULL), out);
    return b;
}

static void case_join(void)
{
    const char *what = "join";
    const int64_t records = bench_scaled(2000000), table_keys = bench_scaled(100000);
    const int64_t key_space = table_keys + table_keys / 4;
    const char *table_topic = "jn-table", *stream_topic = "jn-stream";
    const char *eddy_out = "jn-out-eddy", *base_out = "jn-out-base";
    const char *app_id = "bench-join";
    bench_topic_create(table_topic, NULL, -1);
    bench_topic_create(stream_topic, NULL, -1);
    bench_topic_create(eddy_out, NULL, -1);
    bench_topic_create(base_out, NULL, -1);
    bench_batch_writer fill;
    bench_writer_open(&fill, table_topic);
    for (int64_t i = 0; i < table_keys; i++)
        bench_writer_add(&fill, bench_key_at(i), bench_pool_value(i + 7, TABLE_VALUE_LEN), -1);
    bench_writer_close(&fill);

    /* The table is loaded first, by a run of the application over the table topic alone. */
    if (bench_run_eddy()) {
        eddy_builder *b = join_builder(table_topic, stream_topic, eddy_out);
        int64_t start = bench_now_ns();
        eddy_app *app = bench_app_start(b, app_id, "in_memory", bench_cache_bytes);
        for (;;) {
            void *value = NULL;
            size_t len = 0;
            eddy_err err =
                eddy_app_store_get(app, "table", bench_key_at(table_keys - 1), &value, &len);
            eddy_free(value);
            if (err == EDDY_OK)
                break;
            bench_app_check(app, start);
            bench_nap_us(1000);
        }
        bench_app_stop(app);
        eddy_builder_destroy(b);
    }

    uint32_t *draws = bench_draws_make(records, key_space, 7);
    int64_t expected = 0;
    bench_writer_open(&fill, stream_topic);
    for (int64_t i = 0; i < records; i++) {
        expected += draws[i] < table_keys;
        bench_writer_add(&fill, bench_key_at(draws[i]), bench_pool_value(i, COUNT_VALUE_LEN), -1);
    }
    bench_writer_close(&fill);

    double eddy_rps = 0, base_rps = 0;
    output_timeline timeline = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            eddy_builder *b = join_builder(table_topic, stream_topic, eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = bench_app_start(b, app_id, "in_memory", bench_cache_bytes);
            timeline = app_wait_output(app, eddy_out, expected, start);
            int64_t ns = timeline.total_ns;
            bench_timed_region(what, "eddy", start, start + ns);
            eddy_rps = bench_rate(records, ns);
            bench_app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && bench_run_base()) {
            int64_t start = bench_now_ns();
            hash_map map;
            map_init(&map);
            eddy__buf values = {0};
            eddy_log_reader *r;
            eddy_record rec;
            bench_check(eddy_log_reader_new(bench_log, table_topic, 0, EDDY_OFFSET_BEGINNING, &r),
                        table_topic);
            for (int64_t i = 0; i < table_keys; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                bool fresh = false;
                map_slot *slot = map_find(&map, rec.key.data, true, &fresh);
                /* payload: offset of a (length, bytes) entry in `values`. */
                slot->payload = (int64_t)values.len;
                uint32_t len = (uint32_t)rec.value.len;
                bench_check(eddy__buf_append(&values, &len, sizeof(len)), "buf");
                bench_check(eddy__buf_append(&values, rec.value.data, rec.value.len), "buf");
            }
            eddy_log_reader_destroy(r);
            bench_check(eddy_log_reader_new(bench_log, stream_topic, 0, EDDY_OFFSET_BEGINNING, &r),
                        stream_topic);
            bench_batch_writer out;
            bench_writer_open(&out, base_out);
            uint8_t joined[COUNT_VALUE_LEN + TABLE_VALUE_LEN];
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.key.data || !rec.value.data)
                    continue;
                map_slot *slot = map_find(&map, rec.key.data, false, NULL);
                if (!slot)
                    continue;
                uint32_t len;
                memcpy(&len, values.data + slot->payload, sizeof(len));
                if (rec.value.len + len > sizeof(joined))
                    continue;
                bench_join_values(rec.value.data, rec.value.len, values.data + slot->payload + 4,
                                  len, joined);
                bench_writer_add(&out, rec.key, (eddy_slice){joined, rec.value.len + len},
                                 rec.timestamp_ms);
            }
            bench_writer_flush(&out);
            int64_t ns = bench_now_ns() - start;
            bench_timed_region(what, "baseline", start, start + ns);
            base_rps = bench_rate(records, ns);
            if (out.appended != expected)
                bench_die("join: the loop wrote %" PRId64 " records, not %" PRId64, out.appended,
                          expected);
            bench_writer_close(&out);
            eddy_log_reader_destroy(r);
            free(map.slots);
            eddy__buf_free(&values);
        }
    }
    digests_compare("join", eddy_out, base_out);
    char figures[256];
    timeline_figures(figures, sizeof(figures), &timeline, records, base_rps);
    printf("streams case=join records=%" PRId64 " table_keys=%" PRId64 " out=%" PRId64
           " acks=1 eddy_rps=%.0f base_rps=%.0f ratio=%.3f %s\n",
           records, table_keys, expected, eddy_rps, base_rps,
           base_rps > 0 ? eddy_rps / base_rps : 0.0, figures);
    fflush(stdout);
    free(draws);
    bench_topic_delete(table_topic);
    bench_topic_delete(stream_topic);
    bench_topic_delete(eddy_out);
    bench_topic_delete(base_out);
    char changelog[256];
    snprintf(changelog, sizeof(changelog), "%s-table-changelog", app_id);
    bench_topic_delete(changelog);
}

/* ---- Case 4: restoring a RocksDB store from its changelog ----------------------------------- */

static void case_restore(void)
{
    const char *what = "restore";
    const int64_t records = bench_scaled(2000000), keys = bench_scaled(1000000);
    const char *in = "rs-in", *app_id = "bench-restore";
    char changelog[256];
    snprintf(changelog, sizeof(changelog), "%s-counts-changelog", app_id);
    bench_topic_create(in, NULL, -1);
    bench_topic_create(changelog, "compact", -1);
    uint32_t *draws = bench_draws_make(records, keys, 99);
    bench_batch_writer fill;
    bench_writer_open(&fill, changelog);
    for (int64_t i = 0; i < records; i++) {
        uint8_t v[8];
        eddy__be64_put(v, (uint64_t)i);
        bench_writer_add(&fill, bench_key_at(draws[i]), (eddy_slice){v, 8}, -1);
    }
    bench_writer_close(&fill);
    /* A probe: the last record's key must hold the last record's value on both sides. */
    eddy_slice probe = bench_key_at(draws[records - 1]);

    double eddy_rps = 0, base_rps = 0, eddy_running_rps = 0, base_flushed_rps = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (bench_eddy_first != 0);
        if (eddy_turn && bench_run_eddy()) {
            char state[4200];
            snprintf(state, sizeof(state), "%s/state/%s", bench_dir, app_id);
            bench_remove_tree(state); /* no checkpoint, no store */
            eddy_builder *b = eddy_builder_new();
            eddy_count(eddy_group_by_key(eddy_stream_from(b, in, NULL, NULL)), "counts");
            int64_t start = bench_now_ns();
            eddy_app *app = bench_app_start(b, app_id, "rocksDB", bench_cache_bytes);
            for (;;) {
                uint64_t restored = 0, total = 0;
                eddy_app_restoration(app, &restored, &total);
                if (total > 0 && restored >= total) {
                    if (total != (uint64_t)records)
                        bench_die("restore: %" PRIu64 " records to restore, not %" PRId64, total,
                                  records);
                    break;
                }
                bench_app_check(app, start);
                bench_nap_us(500);
            }
            bench_timed_region(what, "eddy", start, bench_now_ns());
            eddy_rps = bench_rate(records, bench_now_ns() - start);
            bench_check(eddy_app_wait_running(app, 600000), "eddy_app_wait_running");
            eddy_running_rps = bench_rate(records, bench_now_ns() - start);
            void *value = NULL;
            size_t len = 0;
            bench_check(eddy_app_store_get(app, "counts", probe, &value, &len), "store get");
            if (len != 8 || eddy__be64_get(value) != (uint64_t)(records - 1))
                bench_die("restore: eddy's store holds a wrong value for the probe key");
            eddy_free(value);
            bench_app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && bench_run_base()) {
            int64_t start = bench_now_ns();
            rocks db;
            rocks_open(&db, "rs-base-rocksdb");
            eddy_log_reader *r;
            bench_check(eddy_log_reader_new(bench_log, changelog, 0, EDDY_OFFSET_BEGINNING, &r),
                        changelog);
            eddy_record rec;
            char *error = NULL;
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.key.data)
                    continue;
                if (rec.value.data)
                    rocksdb_put(db.db, db.write, rec.key.data, rec.key.len, rec.value.data,
                                rec.value.len, &error);
                else
                    rocksdb_delete(db.db, db.write, rec.key.data, rec.key.len, &error);
                rocks_check(error, "rocksdb_put");
            }
            bench_timed_region(what, "baseline", start, bench_now_ns());
            base_rps = bench_rate(records, bench_now_ns() - start);
            rocks_flush(&db);
            base_flushed_rps = bench_rate(records, bench_now_ns() - start);
            eddy_log_reader_destroy(r);
            if (rocks_get_i64(&db, probe) != records - 1)
                bench_die("restore: the loop's database holds a wrong value for the probe key");
            rocks_close(&db);
            bench_remove_tree(db.path);
        }
    }
    printf("streams case=restore store=rocksdb records=%" PRId64 " keys=%" PRId64
           " eddy_rps=%.0f base_rps=%.0f ratio=%.3f eddy_running_rps=%.0f "
           "base_flushed_rps=%.0f ratio_flushed=%.3f\n",
           records, keys, eddy_rps, base_rps, base_rps > 0 ? eddy_rps / base_rps : 0.0,
           eddy_running_rps, base_flushed_rps,
           base_flushed_rps > 0 ? eddy_running_rps / base_flushed_rps : 0.0);
    fflush(stdout);
    free(draws);
    bench_topic_delete(in);
    bench_topic_delete(changelog);
}

int main(int argc, char **argv)
{
    static const char *const cases[] = {
        "all",           "stateless", "count-memory", "count-memory-uncached",
        "count-rocksdb", "join",      "restore",      NULL};
    if (!bench_apps_open(argc, argv, "streams", cases,
                         "usage: bench_streams --dir D [--case all|stateless|count-memory|"
                         "count-memory-uncached|"
                         "count-rocksdb|join|restore] [--scale F] [--only eddy|baseline] "
                         "[--eddy-first]\n       (EDDY_BENCH_SCALE=F also sets the scale)\n"))
        return 2;
    bench_keys_make(bench_scaled(1000000));
    if (bench_apps_case("stateless"))
        case_stateless();
    if (bench_apps_case("count-memory"))
        case_count(true, bench_cache_bytes);
    if (bench_apps_case("count-memory-uncached"))
        case_count(true, "0");
    if (bench_apps_case("count-rocksdb"))
        case_count(false, bench_cache_bytes);
    if (bench_apps_case("join"))
        case_join();
    if (bench_apps_case("restore"))
        case_restore();
    bench_apps_close();
    return 0;
}
