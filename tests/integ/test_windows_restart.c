/* Restart and takeover of the runtime with window and session stores (local, embedded log):
 *
 *   - a tumbling-window count in a RocksDB store (the default), closed gracefully and
 *     restarted with more records in the same windows: the counts go on from where they were,
 *     nothing is restored after a clean close (the checkpoint covers the whole changelog), and
 *     a change the checkpoint does not cover is the only record restored;
 *   - the same count in a memory store: the whole changelog is restored, counts go on;
 *   - a session aggregation across a restart (RocksDB and memory stores): a record after the
 *     restart that bridges two sessions from before it merges them, with a tombstone for each
 *     old session key;
 *   - two processes share a windowed count; one is SIGKILLed mid-stream; the other takes its
 *     tasks over, and the latest count of every (key, window) in the output is never below the
 *     true count (at-least-once: no loss; repeats may count some records twice).
 *
 * Timestamps are near the wall clock (aligned to a window), so that the changelogs' time
 * retention (window size + grace + a day) keeps every record. Output records are written as
 * text with times relative to that base: `key@start=value tTS` for time windows,
 * `key@[start,end]=value tTS` for sessions, and compared exactly (key bytes per windows.h,
 * values, timestamps). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "eddy/serde.h"
#include "eddy/windows.h"
#include "test.h"

#define APP_ID "wr"
#define INPUT "events"
#define OUTPUT "windowed-out"
#define STORE "win-store"
#define CHANGELOG APP_ID "-" STORE "-changelog"
#define DEADLINE_MS 30000
#define POLL_MS 20
#define LINE_BYTES 160
#define LINES_MAX 64

typedef enum key_shape { SHAPE_TIME, SHAPE_SESSION } key_shape;

/* ---- Time and the log ------------------------------------------------------------------------ */

static int64_t monotonic_ms(void)
{
    return eddy__monotonic_ns() / 1000000;
}

/* The wall clock rounded down to a multiple of `unit_ms`: a window start near now. */
static int64_t aligned_now_ms(int64_t unit_ms)
{
    return eddy__now_ms() / unit_ms * unit_ms;
}

static eddy_log *open_log(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/log", dir);
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(path, EDDY_LOG_CREATE, &log));
    return log;
}

static void create_topics(eddy_log *log, int32_t partitions)
{
    EXPECT_OK(eddy_log_topic_create(log, INPUT, partitions, NULL));
    EXPECT_OK(eddy_log_topic_create(log, OUTPUT, partitions, NULL));
}

/* Appends (key, value) at `timestamp_ms` to INPUT; partition -1: by the key. */
static void append(eddy_log *log, int32_t partition, const char *key, const char *value,
                   int64_t timestamp_ms)
{
    eddy_record rec = {.key = eddy_string_slice(key),
                       .value = eddy_string_slice(value),
                       .timestamp_ms = timestamp_ms};
    EXPECT_OK(eddy_log_append(log, INPUT, partition, &rec, 1, EDDY_ACKS_LEADER, NULL, NULL));
}

static int64_t end_offset(eddy_log *log, const char *topic, int32_t partition)
{
    int64_t end = 0;
    EXPECT_OK(eddy_log_partition_info(log, topic, partition, NULL, &end, NULL, NULL));
    return end;
}

static bool input_committed(eddy_log *log, int32_t partitions)
{
    for (int32_t p = 0; p < partitions; p++) {
        int64_t committed = 0;
        if (eddy_log_group_committed(log, APP_ID, INPUT, p, &committed) != EDDY_OK)
            committed = 0;
        if (committed != end_offset(log, INPUT, p))
            return false;
    }
    return true;
}

/* ---- Topologies ------------------------------------------------------------------------------ */

#define WINDOW_MS 60000
#define SESSION_GAP_MS 20000
#define SESSION_GRACE_MS 60000

static eddy_grouped_stream *grouped_input(eddy_builder *b)
{
    return eddy_group_by_key(eddy_stream_from(b, INPUT, eddy_serde_string(), eddy_serde_string()));
}

/* Tumbling windows of `window_ms` with `grace_ms`, counted in STORE of `kind`, to OUTPUT. */
static eddy_builder *windowed_count_builder(eddy_store_kind kind, int64_t window_ms,
                                            int64_t grace_ms)
{
    eddy_builder *b = eddy_builder_new();
    EXPECT_TRUE(b != NULL);
    eddy_windowed_stream *windowed =
        eddy_windowed_by_time(grouped_input(b), window_ms, window_ms, grace_ms);
    eddy_table_to(eddy_windowed_count(windowed, STORE), OUTPUT);
    eddy_builder_store_options(b, STORE, kind, true);
    EXPECT_OK(eddy_builder_check(b));
    return b;
}

static void init_empty(eddy_ctx *ctx, void *opaque)
{
    (void)opaque;
    eddy_result_str(ctx, "");
}

static void append_value(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate,
                         void *opaque)
{
    (void)opaque;
    char text[LINE_BYTES];
    snprintf(text, sizeof text, "%.*s%.*s", (int)aggregate.len,
             aggregate.data ? (const char *)aggregate.data : "", (int)record->value.len,
             record->value.data ? (const char *)record->value.data : "");
    eddy_result_str(ctx, text);
}

/* Kafka's merger contract: called once per existing session, left = the aggregate so far. */
static void merge_amp(eddy_ctx *ctx, const eddy_record *key, eddy_slice left, eddy_slice right,
                      void *opaque)
{
    (void)key, (void)opaque;
    char text[LINE_BYTES];
    snprintf(text, sizeof text, "%.*s&%.*s", (int)left.len,
             left.data ? (const char *)left.data : "", (int)right.len,
             right.data ? (const char *)right.data : "");
    eddy_result_str(ctx, text);
}

static eddy_builder *session_builder(eddy_store_kind kind)
{
    eddy_builder *b = eddy_builder_new();
    EXPECT_TRUE(b != NULL);
    eddy_session_stream *sessions =
        eddy_windowed_by_session(grouped_input(b), SESSION_GAP_MS, SESSION_GRACE_MS);
    eddy_table_to(
        eddy_session_aggregate(sessions, init_empty, append_value, merge_amp, NULL, STORE), OUTPUT);
    eddy_builder_store_options(b, STORE, kind, true);
    EXPECT_OK(eddy_builder_check(b));
    return b;
}

static eddy_config *app_config(const char *dir, const char *state)
{
    char path[1024];
    eddy_config *c = eddy_config_new();
    EXPECT_TRUE(c != NULL);
    snprintf(path, sizeof path, "%s/log", dir);
    EXPECT_OK(eddy_config_set(c, "log.dir", path));
    snprintf(path, sizeof path, "%s/%s", dir, state);
    EXPECT_OK(eddy_config_set(c, "state.dir", path));
    EXPECT_OK(eddy_config_set(c, "application.id", APP_ID));
    EXPECT_OK(eddy_config_set(c, "commit.interval.ms", "100"));
    EXPECT_OK(eddy_config_set(c, "statestore.cache.max.bytes", "0"));
    return c;
}

/* ---- Output as text -------------------------------------------------------------------------- */

typedef struct lines {
    char items[LINES_MAX][LINE_BYTES];
    size_t count;
} lines;

static void format_record(char *out, size_t size, const eddy_record *r, key_shape shape,
                          int64_t base_ms)
{
    char value[LINE_BYTES];
    int64_t count = 0;
    if (r->value.data == NULL)
        snprintf(value, sizeof value, "null");
    else if (shape == SHAPE_TIME && eddy_int64_decode(r->value, &count) == EDDY_OK)
        snprintf(value, sizeof value, "%" PRId64, count);
    else
        snprintf(value, sizeof value, "%.*s", (int)r->value.len, (const char *)r->value.data);
    eddy_slice key;
    int64_t start = 0, end = 0;
    eddy_err err = shape == SHAPE_TIME ? eddy_time_windowed_key(r->key, &key, &start)
                                       : eddy_session_windowed_key(r->key, &key, &start, &end);
    if (err != EDDY_OK)
        snprintf(out, size, "<bad key of %zu bytes>=%s t%" PRId64, r->key.len, value,
                 r->timestamp_ms - base_ms);
    else if (shape == SHAPE_TIME)
        snprintf(out, size, "%.*s@%" PRId64 "=%s t%" PRId64, (int)key.len, (const char *)key.data,
                 start - base_ms, value, r->timestamp_ms - base_ms);
    else
        snprintf(out, size, "%.*s@[%" PRId64 ",%" PRId64 "]=%s t%" PRId64, (int)key.len,
                 (const char *)key.data, start - base_ms, end - base_ms, value,
                 r->timestamp_ms - base_ms);
}

/* Every record of OUTPUT's partition 0. */
static void read_output(eddy_log *log, key_shape shape, int64_t base_ms, lines *got)
{
    got->count = 0;
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(log, OUTPUT, 0, EDDY_OFFSET_BEGINNING, &reader));
    eddy_record r;
    while (eddy_log_reader_next(reader, 0, &r) == EDDY_OK) {
        EXPECT_TRUE(got->count < LINES_MAX);
        format_record(got->items[got->count++], LINE_BYTES, &r, shape, base_ms);
    }
    eddy_log_reader_destroy(reader);
}

#define EXPECT_OUTPUT(log, shape, base_ms, ...)                                                    \
    do {                                                                                           \
        static const char *const expected_[] = {__VA_ARGS__};                                      \
        expect_output(__LINE__, log, shape, base_ms, expected_,                                    \
                      sizeof expected_ / sizeof expected_[0]);                                     \
    } while (0)

/* OUTPUT must hold exactly `expected`, in order; on failure both lists are printed. */
static void expect_output(int line, eddy_log *log, key_shape shape, int64_t base_ms,
                          const char *const *expected, size_t count)
{
    lines got;
    read_output(log, shape, base_ms, &got);
    bool same = got.count == count;
    for (size_t i = 0; same && i < count; i++)
        same = strcmp(got.items[i], expected[i]) == 0;
    if (same)
        return;
    size_t rows = got.count > count ? got.count : count;
    fprintf(stderr, "  output of %s (times relative to the base):\n", OUTPUT);
    for (size_t i = 0; i < rows; i++)
        fprintf(stderr, "    %s#%zu expected %-36s got %s\n",
                i < count && i < got.count && strcmp(got.items[i], expected[i]) == 0 ? "  " : "!!",
                i, i < count ? expected[i] : "-", i < got.count ? got.items[i] : "-");
    eddy_test_fail(__FILE__, line, "the output records differ");
}

/* ---- One in-process run ---------------------------------------------------------------------- */

typedef struct run_result {
    uint64_t restored, total;
} run_result;

/* Starts the application, waits until it has committed every input record and OUTPUT holds
 * `outputs` records, reads the restoration counts, and closes it gracefully. */
static run_result run_until(const char *dir, eddy_builder *b, eddy_log *log, int64_t outputs)
{
    eddy_config *c = app_config(dir, "state");
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(b, c, &app));
    EXPECT_OK(eddy_app_start(app));
    int64_t deadline = monotonic_ms() + DEADLINE_MS;
    for (;;) {
        if (eddy_app_state_get(app) == EDDY_APP_ERROR)
            eddy_test_fail(__FILE__, __LINE__, "the application failed: %s", eddy_app_error(app));
        bool committed = input_committed(log, 1);
        int64_t written = end_offset(log, OUTPUT, 0);
        if (committed && written >= outputs)
            break;
        if (monotonic_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__,
                           "after %d ms: input committed %d, %" PRId64 " of %" PRId64
                           " outputs (state %s)",
                           DEADLINE_MS, committed, written, outputs,
                           eddy_app_state_name(eddy_app_state_get(app)));
        eddy__sleep_ms(POLL_MS);
    }
    run_result result = {0};
    eddy_app_restoration(app, &result.restored, &result.total);
    EXPECT_OK(eddy_app_close(app));
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_NOT_RUNNING);
    eddy_app_destroy(app);
    eddy_config_destroy(c);
    return result;
}

static int64_t changelog_records(eddy_log *log)
{
    int64_t start = 0, end = 0;
    EXPECT_OK(eddy_log_partition_info(log, CHANGELOG, 0, &start, &end, NULL, NULL));
    return end - start;
}

/* ---- (a) RocksDB: counts go on; only what the checkpoint does not cover is restored ---------- */

/* Appends to the changelog a copy of its latest record whose value is the count `count`, with
 * the count `replacement`: a change written after the last commit, as a process that crashed
 * after logging it would leave. The key bytes are the runtime's own, whatever their layout. */
static void append_changelog_tail(eddy_log *log, int64_t count, int64_t replacement)
{
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(log, CHANGELOG, 0, EDDY_OFFSET_BEGINNING, &reader));
    uint8_t key[256];
    size_t key_len = 0;
    bool found = false;
    eddy_record r;
    while (eddy_log_reader_next(reader, 0, &r) == EDDY_OK) {
        int64_t value = 0, time_ms = 0;
        eddy_slice aggregate = {0};
        /* Window store values are [latest timestamp][aggregate] (windows.h). */
        if (r.key.data && r.key.len <= sizeof key &&
            eddy_window_store_value(r.value, &aggregate, &time_ms) == EDDY_OK &&
            eddy_int64_decode(aggregate, &value) == EDDY_OK && value == count) {
            memcpy(key, r.key.data, r.key.len);
            key_len = r.key.len;
            found = true;
        }
    }
    eddy_log_reader_destroy(reader);
    EXPECT_TRUE(found);
    uint8_t bytes[16];
    eddy_int64_encode(0, bytes); /* the window's latest timestamp */
    eddy_int64_encode(replacement, bytes + 8);
    eddy_record tail = {.key = {key, key_len}, .value = {bytes, 16}, .timestamp_ms = -1};
    EXPECT_OK(eddy_log_append(log, CHANGELOG, 0, &tail, 1, EDDY_ACKS_LEADER, NULL, NULL));
}

TEST(windowed_count_rocksdb_restart_continues_and_restores_only_the_tail)
{
    const char *dir = test_tmpdir();
    eddy_log *log = open_log(dir);
    create_topics(log, 1);
    int64_t base = aligned_now_ms(WINDOW_MS);
    eddy_builder *b = windowed_count_builder(EDDY_STORE_DEFAULT, WINDOW_MS, 0);

    append(log, 0, "u1", "v", base + 1000);
    append(log, 0, "u2", "v", base + 1500);
    append(log, 0, "u1", "v", base + 2000);
    append(log, 0, "u1", "v", base + 3000);
    run_result first = run_until(dir, b, log, 4);
    EXPECT_EQ(first.restored, 0);
    EXPECT_EQ(first.total, 0);

    /* A graceful restart: its checkpoint covers the changelog, nothing is restored; the
     * window [0, 60000) of u1 goes on from 3. */
    append(log, 0, "u1", "v", base + 4000);
    append(log, 0, "u1", "v", base + 5000);
    append(log, 0, "u2", "v", base + 5500);
    run_result second = run_until(dir, b, log, 7);
    EXPECT_EQ(second.restored, 0);
    EXPECT_EQ(second.total, 0);
    EXPECT_OUTPUT(log, SHAPE_TIME, base, "u1@0=1 t1000", "u2@0=1 t1500", "u1@0=2 t2000",
                  "u1@0=3 t3000", "u1@0=4 t4000", "u1@0=5 t5000", "u2@0=2 t5500");

    /* One change past the checkpoint (u1's window at 100): the only record restored, and the
     * next record counts on from it. */
    append_changelog_tail(log, 5, 100);
    append(log, 0, "u1", "v", base + 6000);
    run_result third = run_until(dir, b, log, 8);
    EXPECT_EQ(third.restored, 1);
    EXPECT_EQ(third.total, 1);
    EXPECT_OUTPUT(log, SHAPE_TIME, base, "u1@0=1 t1000", "u2@0=1 t1500", "u1@0=2 t2000",
                  "u1@0=3 t3000", "u1@0=4 t4000", "u1@0=5 t5000", "u2@0=2 t5500", "u1@0=101 t6000");

    eddy_builder_destroy(b);
    eddy_log_close(log);
}

/* ---- (b) Memory: the whole changelog is restored; counts go on ------------------------------- */

TEST(windowed_count_memory_restart_restores_the_whole_changelog)
{
    const char *dir = test_tmpdir();
    eddy_log *log = open_log(dir);
    create_topics(log, 1);
    int64_t base = aligned_now_ms(WINDOW_MS);
    eddy_builder *b = windowed_count_builder(EDDY_STORE_MEMORY, WINDOW_MS, 0);

    append(log, 0, "u1", "v", base + 1000);
    append(log, 0, "u2", "v", base + 1500);
    append(log, 0, "u1", "v", base + 2000);
    append(log, 0, "u1", "v", base + 3000);
    run_result first = run_until(dir, b, log, 4);
    EXPECT_EQ(first.restored, 0);
    int64_t logged = changelog_records(log);
    EXPECT_EQ(logged, 4); /* the cache is off: every update is logged */

    append(log, 0, "u1", "v", base + 4000);
    append(log, 0, "u1", "v", base + 5000);
    append(log, 0, "u2", "v", base + 2500);
    run_result second = run_until(dir, b, log, 7);
    EXPECT_EQ(second.restored, (uint64_t)logged);
    EXPECT_EQ(second.total, (uint64_t)logged);
    EXPECT_OUTPUT(log, SHAPE_TIME, base, "u1@0=1 t1000", "u2@0=1 t1500", "u1@0=2 t2000",
                  "u1@0=3 t3000", "u1@0=4 t4000", "u1@0=5 t5000", "u2@0=2 t2500");

    eddy_builder_destroy(b);
    eddy_log_close(log);
}

/* ---- Expiry of restored windows is silent ------------------------------------------------- */

/* Windows of 1 s without grace (retention 1 s). A restarted task restores u1's window [0, 1000)
 * and then sees a record at 5000: that window has expired. Kafka's window store drops expired
 * segments below its caching and logging layers, so the output shows the new window's count
 * only: no tombstone for the expired window. */
TEST(expired_restored_windows_are_dropped_silently)
{
    const char *dir = test_tmpdir();
    eddy_log *log = open_log(dir);
    create_topics(log, 1);
    int64_t base = aligned_now_ms(WINDOW_MS);
    eddy_builder *b = windowed_count_builder(EDDY_STORE_DEFAULT, 1000, 0);

    append(log, 0, "u1", "v", base + 100);
    append(log, 0, "u1", "v", base + 200);
    run_until(dir, b, log, 2);
    append(log, 0, "u1", "v", base + 5000);
    run_until(dir, b, log, 3);
    EXPECT_OUTPUT(log, SHAPE_TIME, base, "u1@0=1 t100", "u1@0=2 t200", "u1@5000=1 t5000");

    eddy_builder_destroy(b);
    eddy_log_close(log);
}

/* ---- (c) Sessions merge across a restart ----------------------------------------------------- */

/* Gap 20 s, grace 60 s; the aggregate appends values; the merger joins with '&' (Kafka starts a
 * merge from the initializer, "", and folds in each found session, oldest end first):
 *   a@0       [0,0]          = a
 *   b@1000    merges [0,0]: tombstone; [0,1000] = ("" & a) + b = &ab
 *   c@40000   39 s after 1000: a session of its own, [40000,40000] = c
 *   --- graceful restart ---
 *   d@20000   within 20 s of 1000 and of 40000: merges both: two tombstones, then
 *             [0,40000] = (("" & &ab) & c) + d = &&ab&cd
 * Each session record is timestamped by the session's end (KStreamSessionWindowAggregate, and
 * Kafka's SessionCacheFlushListener when the store is cached), tombstones by the old end. */
static void session_merge_across_restart(eddy_store_kind kind)
{
    const char *dir = test_tmpdir();
    eddy_log *log = open_log(dir);
    create_topics(log, 1);
    int64_t base = aligned_now_ms(WINDOW_MS);
    eddy_builder *b = session_builder(kind);

    append(log, 0, "s", "a", base);
    append(log, 0, "s", "b", base + 1000);
    append(log, 0, "s", "c", base + 40000);
    run_result first = run_until(dir, b, log, 4);
    EXPECT_EQ(first.restored, 0);
    int64_t logged = changelog_records(log);

    append(log, 0, "s", "d", base + 20000);
    run_result second = run_until(dir, b, log, 7);
    if (kind == EDDY_STORE_MEMORY)
        EXPECT_EQ(second.restored, (uint64_t)logged);
    else
        EXPECT_EQ(second.restored, 0);
    EXPECT_OUTPUT(log, SHAPE_SESSION, base, "s@[0,0]=a t0", "s@[0,0]=null t0",
                  "s@[0,1000]=&ab t1000", "s@[40000,40000]=c t40000", "s@[0,1000]=null t1000",
                  "s@[40000,40000]=null t40000", "s@[0,40000]=&&ab&cd t40000");

    eddy_builder_destroy(b);
    eddy_log_close(log);
}

TEST(session_merge_across_restart_rocksdb)
{
    session_merge_across_restart(EDDY_STORE_ROCKSDB);
}

TEST(session_merge_across_restart_memory)
{
    session_merge_across_restart(EDDY_STORE_MEMORY);
}

/* ---- (d) Two processes, one SIGKILLed: at-least-once per (key, window) ----------------------- */

#define KEYS 40
#define PARTITIONS 4
#define TAKEOVER_WINDOW_MS 1000
/* Retention (size + grace) longer than the test's 22 s of event time: no window expires, so
 * the output holds counts only (expiry is checked deterministically by
 * expired_restored_windows_are_dropped_silently). */
#define TAKEOVER_GRACE_MS 60000
#define TAKEOVER_WINDOWS_MAX 32

typedef struct window_counts {
    int64_t base_ms;
    int64_t counts[KEYS][TAKEOVER_WINDOWS_MAX];
} window_counts;

static void key_name(int key, char out[8])
{
    snprintf(out, 8, "k%02d", key);
}

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* A child process running the windowed count until SIGTERM; exits 0 after a clean close. */
static pid_t spawn_instance(const char *dir, const char *state)
{
    pid_t pid = fork();
    EXPECT_TRUE(pid >= 0);
    if (pid != 0)
        return pid;
    signal(SIGTERM, on_term);
    eddy_builder *b =
        windowed_count_builder(EDDY_STORE_ROCKSDB, TAKEOVER_WINDOW_MS, TAKEOVER_GRACE_MS);
    eddy_config *c = app_config(dir, state);
    eddy_app *app = NULL;
    if (eddy_app_new(b, c, &app) != EDDY_OK || eddy_app_start(app) != EDDY_OK) {
        fprintf(stderr, "instance %s: %s\n", state, eddy_last_error());
        _exit(3);
    }
    while (!child_stop && eddy_app_state_get(app) != EDDY_APP_ERROR)
        eddy__sleep_ms(10);
    int failed = eddy_app_state_get(app) == EDDY_APP_ERROR;
    if (failed)
        fprintf(stderr, "instance %s: %s\n", state, eddy_app_error(app));
    failed |= eddy_app_close(app) != EDDY_OK;
    eddy_app_destroy(app);
    eddy_config_destroy(c);
    eddy_builder_destroy(b);
    _exit(failed ? 1 : 0);
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Appends `records` records, one millisecond apart from *next_ms on, keys in a pseudo-random
 * order, each to its key's partition, counting each in `truth`. */
static void produce(eddy_log *log, uint64_t *seed, int records, int64_t *next_ms,
                    window_counts *truth)
{
    for (int i = 0; i < records; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int key = (int)((*seed >> 33) % KEYS);
        int64_t window = (*next_ms - truth->base_ms) / TAKEOVER_WINDOW_MS;
        EXPECT_TRUE(window >= 0 && window < TAKEOVER_WINDOWS_MAX);
        char name[8];
        key_name(key, name);
        append(log, -1, name, "v", *next_ms);
        truth->counts[key][window]++;
        (*next_ms)++;
    }
}

/* A tombstone as a latest count: Kafka never writes one for a windowed count (its window
 * stores drop expired windows silently), so it is below any true count. */
#define TOMBSTONE (-2)

/* The latest count written for each (key, window) (-1: none yet); *records: how many
 * records the output holds. Fails on a key that is not a time-windowed key of ours. */
static void latest_counts(eddy_log *log, window_counts *latest, int64_t *records)
{
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < TAKEOVER_WINDOWS_MAX; w++)
            latest->counts[k][w] = -1;
    *records = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        eddy_log_reader *reader = NULL;
        EXPECT_OK(eddy_log_reader_new(log, OUTPUT, p, EDDY_OFFSET_BEGINNING, &reader));
        eddy_record r;
        while (eddy_log_reader_next(reader, 0, &r) == EDDY_OK) {
            (*records)++;
            eddy_slice key;
            int64_t start = 0, count = 0;
            int k = -1;
            EXPECT_OK(eddy_time_windowed_key(r.key, &key, &start));
            if (r.value.data == NULL)
                count = TOMBSTONE; /* a deleted window: below any count */
            else
                EXPECT_OK(eddy_int64_decode(r.value, &count));
            EXPECT_TRUE(key.len == 3 && sscanf((const char *)key.data, "k%2d", &k) == 1);
            int64_t w = (start - latest->base_ms) / TAKEOVER_WINDOW_MS;
            EXPECT_TRUE(k >= 0 && k < KEYS && w >= 0 && w < TAKEOVER_WINDOWS_MAX);
            EXPECT_EQ((start - latest->base_ms) % TAKEOVER_WINDOW_MS, 0);
            latest->counts[k][w] = count;
        }
        eddy_log_reader_destroy(reader);
    }
}

/* How many (key, window) cells with records have a latest count below the truth. */
static int cells_behind(const window_counts *truth, const window_counts *latest)
{
    int behind = 0;
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < TAKEOVER_WINDOWS_MAX; w++)
            behind += truth->counts[k][w] > 0 && latest->counts[k][w] < truth->counts[k][w];
    return behind;
}

/* Polls the output until every cell has caught up with the truth or the deadline passes;
 * returns the cells still behind. */
static int wait_caught_up(eddy_log *log, const window_counts *truth, window_counts *latest,
                          int timeout_ms)
{
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t records = 0;
        latest_counts(log, latest, &records);
        int behind = cells_behind(truth, latest);
        if (behind == 0 || monotonic_ms() > deadline)
            return behind;
        eddy__sleep_ms(50);
    }
}

/* Waits until the changelog partitions of the tasks of `partitions` hold at least `records`
 * records. */
static void wait_changelog_records(eddy_log *log, const bool *partitions, int64_t records,
                                   int timeout_ms)
{
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t written = 0;
        for (int32_t p = 0; p < PARTITIONS; p++) {
            int64_t end = 0;
            if (partitions[p] &&
                eddy_log_partition_info(log, CHANGELOG, p, NULL, &end, NULL, NULL) == EDDY_OK)
                written += end;
        }
        if (written >= records)
            return;
        if (monotonic_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__,
                           "after %d ms the victim's changelog partitions hold %" PRId64
                           " records, fewer than %" PRId64,
                           timeout_ms, written, records);
        eddy__sleep_ms(5);
    }
}

typedef struct group_view {
    pid_t victim;
    int members;
    int members_with_partitions;
    bool victim_owns[PARTITIONS]; /* the input partitions the victim's tasks read */
} group_view;

static void count_member(const char *member_id, int pid, const eddy_topic_partition *owned,
                         size_t count, void *opaque)
{
    (void)member_id;
    group_view *view = opaque;
    view->members++;
    view->members_with_partitions += count > 0;
    for (size_t i = 0; i < count && pid == view->victim; i++)
        if (strcmp(owned[i].topic, INPUT) == 0 && owned[i].partition >= 0 &&
            owned[i].partition < PARTITIONS)
            view->victim_owns[owned[i].partition] = true;
}

/* Waits until the application's group has two live members that each own partitions, so that
 * the one to be killed has tasks to hand over; returns which partitions it owns. */
static group_view wait_two_members_with_tasks(eddy_log *log, pid_t victim, int timeout_ms)
{
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        group_view view = {.victim = victim};
        int64_t generation = 0;
        if (eddy_log_group_describe(log, APP_ID, count_member, &view, &generation) == EDDY_OK &&
            view.members == 2 && view.members_with_partitions == 2)
            return view;
        if (monotonic_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__,
                           "after %d ms the group has %d members, %d of them with partitions",
                           timeout_ms, view.members, view.members_with_partitions);
        eddy__sleep_ms(POLL_MS);
    }
}

TEST(sigkill_one_of_two_windowed_instances_loses_nothing)
{
    const char *dir = test_tmpdir();
    eddy_log *log = open_log(dir);
    create_topics(log, PARTITIONS);
    static window_counts truth, latest;
    memset(&truth, 0, sizeof truth);
    truth.base_ms = latest.base_ms = aligned_now_ms(TAKEOVER_WINDOW_MS);
    int64_t next_ms = truth.base_ms;
    uint64_t seed = test_seed();

    pid_t a = spawn_instance(dir, "state-a");
    pid_t b = spawn_instance(dir, "state-b");
    group_view view = wait_two_members_with_tasks(log, a, 20000);
    produce(log, &seed, 20000, &next_ms, &truth);
    /* Mid-stream: once a's tasks have state (changelog records), kill a with no chance to
     * commit. */
    wait_changelog_records(log, view.victim_owns, 200, 20000);
    kill(a, SIGKILL);
    EXPECT_EQ(wait_exit(a), 128 + SIGKILL);
    /* The kill came before the first 20000 records were all counted (one output each: the
     * cache is off), so the survivor has work of a's to take over. */
    int64_t at_kill = 0;
    latest_counts(log, &latest, &at_kill);
    if (at_kill >= 20000)
        eddy_test_fail(__FILE__, __LINE__, "the kill came too late: %" PRId64 " outputs", at_kill);
    produce(log, &seed, 2000, &next_ms, &truth);

    int behind = wait_caught_up(log, &truth, &latest, DEADLINE_MS);
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < TAKEOVER_WINDOWS_MAX; w++)
            if (truth.counts[k][w] > 0 && latest.counts[k][w] < truth.counts[k][w])
                fprintf(
                    stderr, "k%02d window %d: latest count %" PRId64 "%s, true count %" PRId64 "\n",
                    k, w, latest.counts[k][w],
                    latest.counts[k][w] == TOMBSTONE ? " (a tombstone)" : "", truth.counts[k][w]);
    EXPECT_EQ(behind, 0);
    /* Nothing is counted in a window it does not belong to. */
    for (int k = 0; k < KEYS; k++)
        for (int w = 0; w < TAKEOVER_WINDOWS_MAX; w++)
            if (truth.counts[k][w] == 0)
                EXPECT_EQ(latest.counts[k][w], -1);
    kill(b, SIGTERM);
    EXPECT_EQ(wait_exit(b), 0);
    eddy_log_close(log);
}
