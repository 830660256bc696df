/* Stream processing throughput: eddy applications (the runtime of include/eddy/app.h running a
 * DSL topology on the embedded log) against hand-written C loops doing the same work over the
 * same input, read from the same log, in the same run.
 *
 *   bench_streams --dir D [--case all|stateless|count-memory|count-rocksdb|join|restore]
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
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "core/buf.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "eddy/streams.h"

#define KEY_LEN 13
#define COUNT_VALUE_LEN 87
#define TABLE_VALUE_LEN 50
#define STATELESS_VALUE_LEN 100
/* The application producer's batch.size (the client seam's default); the hand-written loops
 * append when a batch holds this many bytes of keys and values. */
#define BATCH_BYTES 1000000
#define COMMIT_INTERVAL_MS "30000"
/* An application that has not finished a case after this long has failed (or hangs). */
#define WAIT_MAX_NS (600 * 1000000000LL)

static const char *dir;
static char log_dir[4096];
static double scale = 1.0;
static const char *only;
static int eddy_first;
static int verbose;
/* statestore.cache.max.bytes of the applications: Kafka Streams' default unless --cache-bytes
 * says otherwise (0 shows what the record cache costs or saves). */
static const char *cache_bytes = "10485760";
static eddy_log *bench_log;

static uint8_t *value_pool; /* 64 KiB of pattern bytes: record values come from here */
static char (*key_table)[16];

static int64_t scaled(int64_t n)
{
    int64_t s = (int64_t)((double)n * scale);
    return s < 1 ? 1 : s;
}

static bool run_eddy(void)
{
    return !only || strcmp(only, "eddy") == 0;
}

static bool run_base(void)
{
    return !only || strcmp(only, "baseline") == 0;
}

/* Keys "user-%08d", numbered in a scrambled order (as bench_store's), so that neither side
 * sees sorted inserts. */
static void keys_make(int64_t count)
{
    key_table = malloc((size_t)count * sizeof(*key_table));
    if (!key_table)
        bench_die("out of memory for %" PRId64 " keys", count);
    for (int64_t i = 0; i < count; i++) {
        uint64_t n = ((uint64_t)i * 2654435761u) % 100000000u;
        snprintf(key_table[i], sizeof(key_table[i]), "user-%08" PRIu64, n);
    }
}

static eddy_slice key_at(int64_t index)
{
    return (eddy_slice){key_table[index], KEY_LEN};
}

/* Uniform draws of `count` indices below `range` (a fixed LCG: the same workload every run). */
static uint32_t *draws_make(int64_t count, int64_t range, uint64_t seed)
{
    uint32_t *draws = malloc((size_t)count * sizeof(*draws));
    if (!draws)
        bench_die("out of memory for %" PRId64 " draws", count);
    uint64_t state = seed;
    for (int64_t r = 0; r < count; r++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        draws[r] = (uint32_t)((state >> 33) % (uint64_t)range);
    }
    return draws;
}

/* Record i's value of `len` bytes: a window of the pattern pool, so neighbours differ. */
static eddy_slice pool_value(int64_t i, size_t len)
{
    size_t slots = (BENCH_CHUNK_BYTES - 256) / len;
    return (eddy_slice){value_pool + (size_t)(i % (int64_t)slots) * len, len};
}

/* ---- The log: topics, filling, reading back ---------------------------------------------- */

static void topic_create(const char *topic, bool compact)
{
    eddy_config *config = NULL;
    if (compact) {
        config = eddy_config_new();
        if (!config)
            bench_die("out of memory");
        bench_check(eddy_config_set(config, "cleanup.policy", "compact"), "cleanup.policy");
    }
    bench_check(eddy_log_topic_create(bench_log, topic, 1, config), topic);
    eddy_config_destroy(config);
}

static void topic_delete(const char *topic)
{
    eddy_err err = eddy_log_topic_delete(bench_log, topic);
    if (err != EDDY_OK && err != EDDY_ERR_UNKNOWN_TOPIC)
        bench_check(err, topic);
}

static int64_t end_offset(const char *topic)
{
    int64_t end = 0;
    if (eddy_log_partition_info(bench_log, topic, 0, NULL, &end, NULL, NULL) != EDDY_OK)
        return 0;
    return end;
}

/* The hand-written loops' (and the fillers') output batching: records gathered with their
 * bytes copied into one buffer, appended as one batch (acks=1) once it holds BATCH_BYTES. */
typedef struct batch_writer {
    const char *topic;
    eddy_record *records;
    size_t count, capacity;
    uint8_t *bytes;
    size_t used;
    int64_t appended;
} batch_writer;

static void writer_open(batch_writer *w, const char *topic)
{
    memset(w, 0, sizeof(*w));
    w->topic = topic;
    w->capacity = BATCH_BYTES / 8 + 1;
    w->records = malloc(w->capacity * sizeof(*w->records));
    w->bytes = malloc(BATCH_BYTES + 65536);
    if (!w->records || !w->bytes)
        bench_die("out of memory");
}

static void writer_flush(batch_writer *w)
{
    if (w->count == 0)
        return;
    bench_check(
        eddy_log_append(bench_log, w->topic, 0, w->records, w->count, EDDY_ACKS_LEADER, NULL, NULL),
        "eddy_log_append");
    w->appended += (int64_t)w->count;
    w->count = 0;
    w->used = 0;
}

static inline void writer_add(batch_writer *w, eddy_slice key, eddy_slice value,
                              int64_t timestamp_ms)
{
    if (w->used + key.len + value.len > BATCH_BYTES || w->count == w->capacity)
        writer_flush(w);
    eddy_record *r = &w->records[w->count++];
    memset(r, 0, sizeof(*r));
    r->timestamp_ms = timestamp_ms;
    if (key.data) {
        memcpy(w->bytes + w->used, key.data, key.len);
        r->key = (eddy_slice){w->bytes + w->used, key.len};
        w->used += key.len;
    }
    if (value.data) {
        memcpy(w->bytes + w->used, value.data, value.len);
        r->value = (eddy_slice){w->bytes + w->used, value.len};
        w->used += value.len;
    }
}

static void writer_close(batch_writer *w)
{
    writer_flush(w);
    free(w->records);
    free(w->bytes);
}

/* What a topic holds, to compare both sides' outputs: record count, byte sums of keys and
 * values. */
typedef struct topic_digest {
    int64_t records;
    uint64_t key_sum, value_sum;
} topic_digest;

static topic_digest topic_digest_of(const char *topic)
{
    topic_digest d = {0};
    int64_t end = end_offset(topic);
    eddy_log_reader *r;
    bench_check(eddy_log_reader_new(bench_log, topic, 0, EDDY_OFFSET_BEGINNING, &r), topic);
    eddy_record rec;
    for (int64_t i = 0; i < end; i++) {
        bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
        d.records++;
        d.key_sum += rec.key.data ? bench_sum_bytes(rec.key.data, rec.key.len) : 0;
        d.value_sum += rec.value.data ? bench_sum_bytes(rec.value.data, rec.value.len) : 0;
    }
    eddy_log_reader_destroy(r);
    return d;
}

static void digests_compare(const char *what, const char *eddy_topic, const char *base_topic)
{
    if (!run_eddy() || !run_base())
        return;
    topic_digest e = topic_digest_of(eddy_topic), b = topic_digest_of(base_topic);
    if (e.records != b.records || e.key_sum != b.key_sum || e.value_sum != b.value_sum)
        bench_die("%s: eddy wrote %" PRId64 " records (key sum %" PRIu64 ", value sum %" PRIu64
                  "), the hand-written loop %" PRId64 " (%" PRIu64 ", %" PRIu64 ")",
                  what, e.records, e.key_sum, e.value_sum, b.records, b.key_sum, b.value_sum);
}

/* ---- Running an application ---------------------------------------------------------------- */

static eddy_config *app_config(const char *application_id, const char *dsl_store)
{
    char state[4200];
    snprintf(state, sizeof(state), "%s/state", dir);
    eddy_config *c = eddy_config_new();
    if (!c)
        bench_die("out of memory");
    bench_check(eddy_config_set(c, "application.id", application_id), "application.id");
    bench_check(eddy_config_set(c, "log.dir", log_dir), "log.dir");
    bench_check(eddy_config_set(c, "state.dir", state), "state.dir");
    bench_check(eddy_config_set(c, "acks", "1"), "acks");
    bench_check(eddy_config_set(c, "statestore.cache.max.bytes", cache_bytes), "cache");
    bench_check(eddy_config_set(c, "commit.interval.ms", COMMIT_INTERVAL_MS), "commit");
    if (dsl_store)
        bench_check(eddy_config_set(c, "default.dsl.store", dsl_store), "default.dsl.store");
    return c;
}

static eddy_app *app_start(eddy_builder *b, const char *application_id, const char *dsl_store)
{
    eddy_config *c = app_config(application_id, dsl_store);
    eddy_app *app;
    bench_check(eddy_app_new(b, c, &app), "eddy_app_new");
    eddy_config_destroy(c);
    bench_check(eddy_app_start(app), "eddy_app_start");
    return app;
}

static void app_stop(eddy_app *app)
{
    bench_check(eddy_app_close(app), "eddy_app_close");
    eddy_app_destroy(app);
}

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void app_check(eddy_app *app, int64_t start_ns)
{
    if (eddy_app_state_get(app) == EDDY_APP_ERROR)
        bench_die("the application failed: %s", eddy_app_error(app));
    if (bench_now_ns() - start_ns > WAIT_MAX_NS)
        bench_die("the application has not finished after %lld s", WAIT_MAX_NS / 1000000000LL);
}

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
        int64_t end = end_offset(topic), now = bench_now_ns();
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
        app_check(app, start_ns);
        nap_us(500);
    }
}

/* With --verbose, the timed region of each side on stderr, in CLOCK_MONOTONIC seconds (what
 * `perf record -k CLOCK_MONOTONIC` stamps samples with, for `perf report --time A,B`). */
static void timed_region(const char *what, const char *side, int64_t start_ns, int64_t end_ns)
{
    if (verbose)
        fprintf(stderr, "%s %s: timed %.6f,%.6f (%.3f s)\n", what, side, (double)start_ns / 1e9,
                (double)end_ns / 1e9, (double)(end_ns - start_ns) / 1e9);
}

static double rate(int64_t records, int64_t ns)
{
    return ns > 0 ? (double)records * 1e9 / (double)ns : 0.0;
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
    memcpy(&b, (const char *)key + KEY_LEN - 8, 8);
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
    while (m->slots[i].hash && (m->slots[i].hash != hash || memcmp(m->slots[i].key, key, KEY_LEN)))
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
    memcpy(m->slots[i].key, key, KEY_LEN);
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
    snprintf(r->path, sizeof(r->path), "%s/%s", dir, name);
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
    const int64_t records = scaled(2000000);
    const char *in = "sl-in", *eddy_out = "sl-out-eddy", *base_out = "sl-out-base";
    topic_create(in, false);
    topic_create(eddy_out, false);
    topic_create(base_out, false);
    batch_writer fill;
    writer_open(&fill, in);
    int64_t expected = 0;
    for (int64_t i = 0; i < records; i++) {
        eddy_slice v = pool_value(i, STATELESS_VALUE_LEN);
        expected += stateless_keep(v.data, v.len);
        writer_add(&fill, (eddy_slice){0}, v, -1);
    }
    writer_close(&fill);

    double eddy_rps = 0, base_rps = 0;
    output_timeline timeline = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (eddy_first != 0);
        if (eddy_turn && run_eddy()) {
            eddy_builder *b = eddy_builder_new();
            eddy_stream *s = eddy_stream_from(b, in, NULL, NULL);
            s = eddy_map_values(eddy_filter(s, stateless_filter_fn, NULL), stateless_map_fn, NULL);
            eddy_to(s, eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = app_start(b, "bench-stateless", NULL);
            timeline = app_wait_output(app, eddy_out, expected, start);
            int64_t ns = timeline.total_ns;
            timed_region(what, "eddy", start, start + ns);
            eddy_rps = rate(records, ns);
            app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && run_base()) {
            int64_t start = bench_now_ns();
            eddy_log_reader *r;
            bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
            batch_writer out;
            writer_open(&out, base_out);
            eddy_record rec;
            uint8_t buf[STATELESS_VALUE_LEN];
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.value.data || !stateless_keep(rec.value.data, rec.value.len))
                    continue;
                size_t len = rec.value.len < sizeof(buf) ? rec.value.len : sizeof(buf);
                stateless_transform(rec.value.data, len, buf);
                writer_add(&out, rec.key, (eddy_slice){buf, len}, rec.timestamp_ms);
            }
            writer_flush(&out);
            int64_t ns = bench_now_ns() - start;
            timed_region(what, "baseline", start, start + ns);
            base_rps = rate(records, ns);
            if (out.appended != expected)
                bench_die("stateless: the loop wrote %" PRId64 " records, not %" PRId64,
                          out.appended, expected);
            writer_close(&out);
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
    topic_delete(in);
    topic_delete(eddy_out);
    topic_delete(base_out);
}

/* ---- Case 2: count by key -------------------------------------------------------------------- */

/* Waits until the application's store `store` holds `count` for `key` (read through the
 * record cache, with eddy_app_store_get(), which takes the stream thread's lock between two
 * batches): the last input record's key reaching its final count means every record was
 * processed, since one task processes its partition in order. */
static void app_wait_store(eddy_app *app, const char *store, eddy_slice key, int64_t count,
                           int64_t start_ns)
{
    for (;;) {
        void *value = NULL;
        size_t len = 0;
        eddy_err err = eddy_app_store_get(app, store, key, &value, &len);
        bool done = err == EDDY_OK && len == 8 && (int64_t)eddy__be64_get(value) == count;
        eddy_free(value);
        if (done)
            return;
        app_check(app, start_ns);
        nap_us(1000);
    }
}

/* Checks that the last count `topic` holds for each key is the key's true count. */
static void count_output_check(const char *topic, const uint32_t *true_counts, int64_t keys)
{
    hash_map last;
    map_init(&last);
    int64_t end = end_offset(topic);
    eddy_log_reader *r;
    bench_check(eddy_log_reader_new(bench_log, topic, 0, EDDY_OFFSET_BEGINNING, &r), topic);
    eddy_record rec;
    for (int64_t i = 0; i < end; i++) {
        bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
        if (!rec.key.data || rec.key.len != KEY_LEN || !rec.value.data || rec.value.len != 8)
            bench_die("count: %s holds a record that is not (13-byte key, count)", topic);
        bool fresh = false;
        map_find(&last, rec.key.data, true, &fresh)->payload =
            (int64_t)eddy__be64_get(rec.value.data);
    }
    eddy_log_reader_destroy(r);
    size_t counted = 0;
    for (int64_t k = 0; k < keys; k++) {
        if (!true_counts[k])
            continue;
        counted++;
        map_slot *slot = map_find(&last, key_table[k], false, NULL);
        if (!slot || slot->payload != (int64_t)true_counts[k])
            bench_die("count: %s ends with %" PRId64 " for key %.13s, which occurs %" PRIu32
                      " times",
                      topic, slot ? slot->payload : 0, key_table[k], true_counts[k]);
    }
    if (counted != last.used)
        bench_die("count: %s holds %zu keys, the input %zu", topic, last.used, counted);
    free(last.slots);
}

static void case_count(bool memory)
{
    const char *what = memory ? "count-memory" : "count-rocksdb";
    const int64_t records = scaled(memory ? 2000000 : 1000000), keys = scaled(1000000);
    const char *in = "cnt-in", *eddy_out = "cnt-out-eddy", *base_out = "cnt-out-base";
    const char *base_changelog = "cnt-base-changelog";
    const char *app_id = memory ? "bench-count-memory" : "bench-count-rocksdb";
    char eddy_changelog[256];
    snprintf(eddy_changelog, sizeof(eddy_changelog), "%s-counts-changelog", app_id);
    topic_create(in, false);
    topic_create(eddy_out, false);
    topic_create(base_out, false);
    topic_create(base_changelog, true);
    uint32_t *draws = draws_make(records, keys, 42);
    uint32_t *true_counts = calloc((size_t)keys, sizeof(*true_counts));
    if (!true_counts)
        bench_die("out of memory");
    batch_writer fill;
    writer_open(&fill, in);
    for (int64_t i = 0; i < records; i++) {
        true_counts[draws[i]]++;
        writer_add(&fill, key_at(draws[i]), pool_value(i, COUNT_VALUE_LEN), -1);
    }
    writer_close(&fill);
    eddy_slice last_key = key_at(draws[records - 1]);
    int64_t last_count = true_counts[draws[records - 1]];

    double eddy_rps = 0, eddy_processed_rps = 0, base_rps = 0;
    int64_t eddy_close_ns = 0, eddy_out_records = 0, eddy_changelog_records = 0;
    int64_t base_out_records = 0, base_changelog_records = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (eddy_first != 0);
        if (eddy_turn && run_eddy()) {
            eddy_builder *b = eddy_builder_new();
            eddy_table *counts =
                eddy_count(eddy_group_by_key(eddy_stream_from(b, in, NULL, NULL)), "counts");
            eddy_table_to(counts, eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = app_start(b, app_id, memory ? "in_memory" : "rocksDB");
            app_wait_store(app, "counts", last_key, last_count, start);
            int64_t processed = bench_now_ns();
            /* The cache holds the last writes of up to statestore.cache.max.bytes of keys:
             * the final commit of eddy_app_close() writes them (store, changelog, output) and
             * flushes the store, so the time runs until it returns. */
            bench_check(eddy_app_close(app), "eddy_app_close");
            int64_t closed = bench_now_ns();
            timed_region(what, "eddy (until processed)", start, processed);
            timed_region(what, "eddy", start, closed);
            eddy_rps = rate(records, closed - start);
            eddy_processed_rps = rate(records, processed - start);
            eddy_close_ns = closed - processed;
            eddy_out_records = end_offset(eddy_out);
            eddy_changelog_records = end_offset(eddy_changelog);
            eddy_app_destroy(app);
            eddy_builder_destroy(b);
            count_output_check(eddy_out, true_counts, keys);
        } else if (!eddy_turn && run_base()) {
            int64_t start = bench_now_ns();
            hash_map map;
            rocks db;
            if (memory)
                map_init(&map);
            else
                rocks_open(&db, "cnt-base-rocksdb");
            eddy_log_reader *r;
            bench_check(eddy_log_reader_new(bench_log, in, 0, EDDY_OFFSET_BEGINNING, &r), in);
            batch_writer out, changelog;
            writer_open(&out, base_out);
            writer_open(&changelog, base_changelog);
            eddy_record rec;
            char *error = NULL;
            for (int64_t i = 0; i < records; i++) {
                bench_check(eddy_log_reader_next(r, 0, &rec), "eddy_log_reader_next");
                if (!rec.key.data || rec.key.len != KEY_LEN)
                    bench_die("count: unexpected key");
                int64_t count;
                if (memory) {
                    bool fresh = false;
                    map_slot *slot = map_find(&map, rec.key.data, true, &fresh);
                    count = ++slot->payload;
                } else {
                    size_t len = 0;
                    char *old = rocksdb_get(db.db, db.read, rec.key.data, KEY_LEN, &len, &error);
                    rocks_check(error, "rocksdb_get");
                    count = old && len == 8 ? (int64_t)eddy__be64_get((const uint8_t *)old) : 0;
                    rocksdb_free(old);
                    count++;
                }
                uint8_t encoded[8];
                eddy__be64_put(encoded, (uint64_t)count);
                eddy_slice value = {encoded, 8};
                if (!memory) {
                    rocksdb_put(db.db, db.write, rec.key.data, KEY_LEN, (const char *)encoded, 8,
                                &error);
                    rocks_check(error, "rocksdb_put");
                }
                writer_add(&changelog, rec.key, value, rec.timestamp_ms);
                writer_add(&out, rec.key, value, rec.timestamp_ms);
            }
            writer_flush(&changelog);
            writer_flush(&out);
            /* The loop's equivalent of eddy's final commit and close: the database flushed
             * and closed, the map freed. */
            if (memory) {
                free(map.slots);
            } else {
                rocks_flush(&db);
                rocks_close(&db);
            }
            int64_t ns = bench_now_ns() - start;
            timed_region(what, "baseline", start, start + ns);
            base_rps = rate(records, ns);
            base_out_records = out.appended;
            base_changelog_records = changelog.appended;
            writer_close(&out);
            writer_close(&changelog);
            eddy_log_reader_destroy(r);
            if (!memory)
                bench_remove_tree(db.path);
            count_output_check(base_out, true_counts, keys);
        }
    }
    printf("streams case=count store=%s records=%" PRId64 " keys=%" PRId64 " acks=1 "
           "cache_bytes=%s commit_ms=" COMMIT_INTERVAL_MS " eddy_rps=%.0f base_rps=%.0f "
           "ratio=%.3f eddy_processed_rps=%.0f ratio_processed=%.3f eddy_close_us=%" PRId64
           " eddy_out_count=%" PRId64 " eddy_changelog_count=%" PRId64 " base_out_count=%" PRId64
           " base_changelog_count=%" PRId64 "\n",
           memory ? "memory" : "rocksdb", records, keys, cache_bytes, eddy_rps, base_rps,
           base_rps > 0 ? eddy_rps / base_rps : 0.0, eddy_processed_rps,
           base_rps > 0 ? eddy_processed_rps / base_rps : 0.0, eddy_close_ns / 1000,
           eddy_out_records, eddy_changelog_records, base_out_records, base_changelog_records);
    fflush(stdout);
    free(draws);
    free(true_counts);
    topic_delete(in);
    topic_delete(eddy_out);
    topic_delete(base_out);
    topic_delete(base_changelog);
    topic_delete(eddy_changelog);
}

/* ---- Case 3: stream-table join ------------------------------------------------------------- */

static void __attribute__((noinline))
join_values(const uint8_t *left, size_t left_len, const uint8_t *right, size_t right_len,
            uint8_t *out)
{
    memcpy(out, left, left_len);
    memcpy(out + left_len, right, right_len);
}

static void join_fn(eddy_ctx *ctx, const eddy_record *left, eddy_slice right, void *opaque)
{
    (void)opaque;
    uint8_t out[COUNT_VALUE_LEN + TABLE_VALUE_LEN];
    if (left->value.len + right.len > sizeof(out))
        return;
    join_values(left->value.data, left->value.len, right.data, right.len, out);
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
    const int64_t records = scaled(2000000), table_keys = scaled(100000);
    const int64_t key_space = table_keys + table_keys / 4;
    const char *table_topic = "jn-table", *stream_topic = "jn-stream";
    const char *eddy_out = "jn-out-eddy", *base_out = "jn-out-base";
    const char *app_id = "bench-join";
    topic_create(table_topic, false);
    topic_create(stream_topic, false);
    topic_create(eddy_out, false);
    topic_create(base_out, false);
    batch_writer fill;
    writer_open(&fill, table_topic);
    for (int64_t i = 0; i < table_keys; i++)
        writer_add(&fill, key_at(i), pool_value(i + 7, TABLE_VALUE_LEN), -1);
    writer_close(&fill);

    /* The table is loaded first, by a run of the application over the table topic alone. */
    if (run_eddy()) {
        eddy_builder *b = join_builder(table_topic, stream_topic, eddy_out);
        int64_t start = bench_now_ns();
        eddy_app *app = app_start(b, app_id, "in_memory");
        for (;;) {
            void *value = NULL;
            size_t len = 0;
            eddy_err err = eddy_app_store_get(app, "table", key_at(table_keys - 1), &value, &len);
            eddy_free(value);
            if (err == EDDY_OK)
                break;
            app_check(app, start);
            nap_us(1000);
        }
        app_stop(app);
        eddy_builder_destroy(b);
    }

    uint32_t *draws = draws_make(records, key_space, 7);
    int64_t expected = 0;
    writer_open(&fill, stream_topic);
    for (int64_t i = 0; i < records; i++) {
        expected += draws[i] < table_keys;
        writer_add(&fill, key_at(draws[i]), pool_value(i, COUNT_VALUE_LEN), -1);
    }
    writer_close(&fill);

    double eddy_rps = 0, base_rps = 0;
    output_timeline timeline = {0};
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (eddy_first != 0);
        if (eddy_turn && run_eddy()) {
            eddy_builder *b = join_builder(table_topic, stream_topic, eddy_out);
            int64_t start = bench_now_ns();
            eddy_app *app = app_start(b, app_id, "in_memory");
            timeline = app_wait_output(app, eddy_out, expected, start);
            int64_t ns = timeline.total_ns;
            timed_region(what, "eddy", start, start + ns);
            eddy_rps = rate(records, ns);
            app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && run_base()) {
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
            batch_writer out;
            writer_open(&out, base_out);
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
                join_values(rec.value.data, rec.value.len, values.data + slot->payload + 4, len,
                            joined);
                writer_add(&out, rec.key, (eddy_slice){joined, rec.value.len + len},
                           rec.timestamp_ms);
            }
            writer_flush(&out);
            int64_t ns = bench_now_ns() - start;
            timed_region(what, "baseline", start, start + ns);
            base_rps = rate(records, ns);
            if (out.appended != expected)
                bench_die("join: the loop wrote %" PRId64 " records, not %" PRId64, out.appended,
                          expected);
            writer_close(&out);
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
    topic_delete(table_topic);
    topic_delete(stream_topic);
    topic_delete(eddy_out);
    topic_delete(base_out);
    char changelog[256];
    snprintf(changelog, sizeof(changelog), "%s-table-changelog", app_id);
    topic_delete(changelog);
}

/* ---- Case 4: restoring a RocksDB store from its changelog ----------------------------------- */

static void case_restore(void)
{
    const char *what = "restore";
    const int64_t records = scaled(2000000), keys = scaled(1000000);
    const char *in = "rs-in", *app_id = "bench-restore";
    char changelog[256];
    snprintf(changelog, sizeof(changelog), "%s-counts-changelog", app_id);
    topic_create(in, false);
    topic_create(changelog, true);
    uint32_t *draws = draws_make(records, keys, 99);
    batch_writer fill;
    writer_open(&fill, changelog);
    for (int64_t i = 0; i < records; i++) {
        uint8_t v[8];
        eddy__be64_put(v, (uint64_t)i);
        writer_add(&fill, key_at(draws[i]), (eddy_slice){v, 8}, -1);
    }
    writer_close(&fill);
    /* A probe: the last record's key must hold the last record's value on both sides. */
    eddy_slice probe = key_at(draws[records - 1]);

    double eddy_rps = 0, base_rps = 0, eddy_running_rps = 0, base_flushed_rps = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool eddy_turn = (pass == 0) == (eddy_first != 0);
        if (eddy_turn && run_eddy()) {
            char state[4200];
            snprintf(state, sizeof(state), "%s/state/%s", dir, app_id);
            bench_remove_tree(state); /* no checkpoint, no store */
            eddy_builder *b = eddy_builder_new();
            eddy_count(eddy_group_by_key(eddy_stream_from(b, in, NULL, NULL)), "counts");
            int64_t start = bench_now_ns();
            eddy_app *app = app_start(b, app_id, "rocksDB");
            for (;;) {
                uint64_t restored = 0, total = 0;
                eddy_app_restoration(app, &restored, &total);
                if (total > 0 && restored >= total) {
                    if (total != (uint64_t)records)
                        bench_die("restore: %" PRIu64 " records to restore, not %" PRId64, total,
                                  records);
                    break;
                }
                app_check(app, start);
                nap_us(500);
            }
            timed_region(what, "eddy", start, bench_now_ns());
            eddy_rps = rate(records, bench_now_ns() - start);
            bench_check(eddy_app_wait_running(app, 600000), "eddy_app_wait_running");
            eddy_running_rps = rate(records, bench_now_ns() - start);
            void *value = NULL;
            size_t len = 0;
            bench_check(eddy_app_store_get(app, "counts", probe, &value, &len), "store get");
            if (len != 8 || eddy__be64_get(value) != (uint64_t)(records - 1))
                bench_die("restore: eddy's store holds a wrong value for the probe key");
            eddy_free(value);
            app_stop(app);
            eddy_builder_destroy(b);
        } else if (!eddy_turn && run_base()) {
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
            timed_region(what, "baseline", start, bench_now_ns());
            base_rps = rate(records, bench_now_ns() - start);
            rocks_flush(&db);
            base_flushed_rps = rate(records, bench_now_ns() - start);
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
    topic_delete(in);
    topic_delete(changelog);
}

/* ------------------------------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},         {"case", required_argument, NULL, 'c'},
        {"scale", required_argument, NULL, 's'},       {"only", required_argument, NULL, 'o'},
        {"eddy-first", no_argument, NULL, 'e'},        {"verbose", no_argument, NULL, 'v'},
        {"cache-bytes", required_argument, NULL, 'b'}, {NULL, 0, NULL, 0},
    };
    const char *which = "all";
    const char *env_scale = getenv("EDDY_BENCH_SCALE");
    if (env_scale)
        scale = strtod(env_scale, NULL);
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'c':
            which = optarg;
            break;
        case 's':
            scale = strtod(optarg, NULL);
            break;
        case 'o':
            only = optarg;
            break;
        case 'e':
            eddy_first = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'b':
            cache_bytes = optarg;
            break;
        default:
            dir = NULL;
            optind = argc;
            break;
        }
    }
    static const char *const cases[] = {
        "all", "stateless", "count-memory", "count-rocksdb", "join", "restore", NULL};
    bool known = false;
    for (size_t i = 0; cases[i]; i++)
        known |= strcmp(cases[i], which) == 0;
    if (!dir || !known || !(scale > 0) || scale > 100 ||
        (only && strcmp(only, "eddy") != 0 && strcmp(only, "baseline") != 0)) {
        fprintf(stderr, "usage: bench_streams --dir D [--case all|stateless|count-memory|"
                        "count-rocksdb|join|restore] [--scale F] [--only eddy|baseline] "
                        "[--eddy-first]\n       (EDDY_BENCH_SCALE=F also sets the scale)\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        bench_die("cannot create %s: %s", dir, strerror(errno));
    /* A fresh directory of our own inside D: the log, the applications' state, the databases. */
    char own[4096];
    snprintf(own, sizeof(own), "%s/streams-%d", dir, (int)getpid());
    bench_remove_tree(own);
    if (mkdir(own, 0755) != 0)
        bench_die("cannot create %s: %s", own, strerror(errno));
    dir = own;
    snprintf(log_dir, sizeof(log_dir), "%s/log", dir);
    bench_check(eddy_log_open(log_dir, EDDY_LOG_CREATE, &bench_log), "eddy_log_open");

    value_pool = malloc(BENCH_CHUNK_BYTES);
    if (!value_pool)
        bench_die("out of memory");
    bench_fill_pattern(value_pool, BENCH_CHUNK_BYTES, 3);
    keys_make(scaled(1000000));

    bool all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "stateless") == 0)
        case_stateless();
    if (all || strcmp(which, "count-memory") == 0)
        case_count(true);
    if (all || strcmp(which, "count-rocksdb") == 0)
        case_count(false);
    if (all || strcmp(which, "join") == 0)
        case_join();
    if (all || strcmp(which, "restore") == 0)
        case_restore();

    eddy_log_close(bench_log);
    bench_remove_tree(own);
    free(key_table);
    free(value_pool);
    return 0;
}
