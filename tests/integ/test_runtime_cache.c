/* The record cache in the runtime (statestore.cache.max.bytes): with it on, an aggregation
 * writes its store, its changelog and its downstream output once per key per commit (Kafka
 * Streams' cached KTable); with it off (0), once per update. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "eddy/app.h"
#include "eddy/log.h"
#include "test.h"

static eddy_builder *count_builder(void)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *in = eddy_stream_from(b, "clicks", eddy_serde_string(), eddy_serde_string());
    eddy_table_to(eddy_count(eddy_group_by_key(in), "clicks-per-user"), "click-counts");
    return b;
}

static int64_t records_in(eddy_log *log, const char *topic)
{
    int64_t start = 0, end = 0;
    EXPECT_OK(eddy_log_partition_info(log, topic, 0, &start, &end, NULL, NULL));
    return end - start;
}

/* Runs the count over `clicks` (already written) until every input offset is committed, then
 * closes the application (the final commit). */
static void run_count_in(const char *dir, const char *cache_bytes, int64_t inputs,
                         const char *dsl_store)
{
    char path[1024];
    eddy_config *c = eddy_config_new();
    snprintf(path, sizeof path, "%s/log", dir);
    EXPECT_OK(eddy_config_set(c, "log.dir", path));
    snprintf(path, sizeof path, "%s/state", dir);
    EXPECT_OK(eddy_config_set(c, "state.dir", path));
    EXPECT_OK(eddy_config_set(c, "application.id", "cache"));
    EXPECT_OK(eddy_config_set(c, "commit.interval.ms", "600000")); /* only the final commit */
    EXPECT_OK(eddy_config_set(c, "statestore.cache.max.bytes", cache_bytes));
    EXPECT_OK(eddy_config_set(c, "default.dsl.store", dsl_store));
    eddy_builder *b = count_builder();
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(b, c, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, 20000));
    /* The store answers queries through the cache before anything is committed. */
    int64_t deadline = eddy__now_ms() + 20000;
    for (;;) {
        void *value = NULL;
        size_t len = 0;
        int64_t count = 0;
        if (eddy_app_store_get(app, "clicks-per-user", (eddy_slice){"u1", 2}, &value, &len) ==
            EDDY_OK) {
            EXPECT_OK(eddy_int64_decode((eddy_slice){value, len}, &count));
            eddy_free(value);
        }
        if (count == inputs)
            break;
        EXPECT_TRUE(eddy__now_ms() < deadline);
        eddy__sleep_ms(10);
    }
    EXPECT_OK(eddy_app_close(app));
    eddy_app_destroy(app);
    eddy_builder_destroy(b);
    eddy_config_destroy(c);
}

static void run_count(const char *dir, const char *cache_bytes, int64_t inputs)
{
    run_count_in(dir, cache_bytes, inputs, "rocksDB");
}

static eddy_log *setup(const char *dir, int64_t clicks)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/log", dir);
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(path, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "clicks", 1, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "click-counts", 1, NULL));
    for (int64_t i = 0; i < clicks; i++) {
        eddy_record rec = {.key = {"u1", 2}, .value = {"x", 1}, .timestamp_ms = 100 + i};
        EXPECT_OK(eddy_log_append(log, "clicks", 0, &rec, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
    return log;
}

static int64_t last_count(eddy_log *log, int64_t *timestamp_ms)
{
    eddy_log_reader *r = NULL;
    EXPECT_OK(eddy_log_reader_new(log, "click-counts", 0, EDDY_OFFSET_BEGINNING, &r));
    eddy_record rec;
    int64_t count = -1;
    while (eddy_log_reader_next(r, 0, &rec) == EDDY_OK) {
        EXPECT_OK(eddy_int64_decode(rec.value, &count));
        *timestamp_ms = rec.timestamp_ms;
    }
    eddy_log_reader_destroy(r);
    return count;
}

TEST(cache_folds_updates_into_one_per_commit)
{
    const char *dir = test_tmpdir();
    eddy_log *log = setup(dir, 50);
    run_count(dir, "10485760", 50);
    int64_t ts = 0;
    EXPECT_EQ(records_in(log, "click-counts"), 1);
    EXPECT_EQ(records_in(log, "cache-clicks-per-user-changelog"), 1);
    EXPECT_EQ(last_count(log, &ts), 50);
    EXPECT_EQ(ts, 149); /* the timestamp of the last update */
    eddy_log_close(log);
}

TEST(cache_off_emits_every_update)
{
    const char *dir = test_tmpdir();
    eddy_log *log = setup(dir, 50);
    run_count(dir, "0", 50);
    int64_t ts = 0;
    EXPECT_EQ(records_in(log, "click-counts"), 50);
    EXPECT_EQ(records_in(log, "cache-clicks-per-user-changelog"), 50);
    EXPECT_EQ(last_count(log, &ts), 50);
    EXPECT_EQ(ts, 149);
    eddy_log_close(log);
}

/* A window that expires while its latest update waits in the cache still gets that update out
 * at the next commit (Kafka's caching window store flushes it; only the store under it drops
 * the window). */
TEST(expired_window_keeps_its_cached_update)
{
    const char *dir = test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/log", dir);
    eddy_log *log = NULL;
    EXPECT_OK(eddy_log_open(path, EDDY_LOG_CREATE, &log));
    EXPECT_OK(eddy_log_topic_create(log, "clicks", 1, NULL));
    EXPECT_OK(eddy_log_topic_create(log, "window-counts", 1, NULL));
    /* u1 clicks in window [0, 1000); other users' clicks evict it from a cache of a few
     * entries, so its count 1 reaches the store (and the output); u1 clicks again (count 2, only
     * in the cache); a click 70 s later passes retention (1 s) and the expiry round (every
     * minute of stream time) deletes window 0 from the store while its count 2 still waits in
     * the cache (no commit until close). */
    const char *users[] = {"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u1", "u1"};
    int64_t times[] = {100, 150, 150, 150, 150, 150, 150, 150, 200, 70100};
    for (int i = 0; i < 10; i++) {
        eddy_record rec = {.key = {users[i], 2}, .value = {"x", 1}, .timestamp_ms = times[i]};
        EXPECT_OK(eddy_log_append(log, "clicks", 0, &rec, 1, EDDY_ACKS_LEADER, NULL, NULL));
    }
    eddy_builder *b = eddy_builder_new();
    eddy_stream *in = eddy_stream_from(b, "clicks", eddy_serde_string(), eddy_serde_string());
    eddy_table_to(eddy_windowed_count(eddy_windowed_by_time(eddy_group_by_key(in), 1000, 1000, 0),
                                      "per-second"),
                  "window-counts");
    eddy_config *c = eddy_config_new();
    EXPECT_OK(eddy_config_set(c, "log.dir", path));
    snprintf(path, sizeof path, "%s/state", dir);
    EXPECT_OK(eddy_config_set(c, "state.dir", path));
    EXPECT_OK(eddy_config_set(c, "application.id", "expiry"));
    EXPECT_OK(eddy_config_set(c, "commit.interval.ms", "600000"));
    EXPECT_OK(eddy_config_set(c, "default.dsl.store", "in_memory"));
    EXPECT_OK(eddy_config_set(c, "statestore.cache.max.bytes", "400")); /* a few entries */
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(b, c, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, 20000));
    int64_t deadline = eddy__now_ms() + 20000;
    for (;;) { /* every input processed: the last window's count is queryable */
        uint8_t key[10] = {'u', '1'};
        eddy_int64_encode(70000, key + 2);
        void *value = NULL;
        size_t len = 0;
        if (eddy_app_store_get(app, "per-second", (eddy_slice){key, 10}, &value, &len) == EDDY_OK) {
            eddy_free(value);
            break;
        }
        EXPECT_TRUE(eddy__now_ms() < deadline);
        eddy__sleep_ms(10);
    }
    EXPECT_OK(eddy_app_close(app)); /* the final commit flushes the cache */
    eddy_log_reader *r = NULL;
    EXPECT_OK(eddy_log_reader_new(log, "window-counts", 0, EDDY_OFFSET_BEGINNING, &r));
    eddy_record rec;
    int64_t window0 = -1, window70 = -1;
    while (eddy_log_reader_next(r, 0, &rec) == EDDY_OK) {
        eddy_slice key;
        int64_t start = 0, count = 0;
        EXPECT_OK(eddy_time_windowed_key(rec.key, &key, &start));
        EXPECT_OK(eddy_int64_decode(rec.value, &count));
        if (start == 0 && key.len == 2 && memcmp(key.data, "u1", 2) == 0)
            window0 = count;
        if (start == 70000)
            window70 = count;
    }
    eddy_log_reader_destroy(r);
    EXPECT_EQ(window0, 2);
    EXPECT_EQ(window70, 1);
    eddy_app_destroy(app);
    eddy_config_destroy(c);
    eddy_builder_destroy(b);
    eddy_log_close(log);
}

/* The in-memory store's cache keeps only dirty keys (write-behind): the same emissions. */
TEST(memory_store_cache_folds_updates_into_one_per_commit)
{
    const char *dir = test_tmpdir();
    eddy_log *log = setup(dir, 50);
    run_count_in(dir, "10485760", 50, "in_memory");
    int64_t ts = 0;
    EXPECT_EQ(records_in(log, "click-counts"), 1);
    EXPECT_EQ(records_in(log, "cache-clicks-per-user-changelog"), 1);
    EXPECT_EQ(last_count(log, &ts), 50);
    EXPECT_EQ(ts, 149);
    eddy_log_close(log);
}

TEST(memory_store_cache_off_emits_every_update)
{
    const char *dir = test_tmpdir();
    eddy_log *log = setup(dir, 50);
    run_count_in(dir, "0", 50, "in_memory");
    int64_t ts = 0;
    EXPECT_EQ(records_in(log, "click-counts"), 50);
    EXPECT_EQ(records_in(log, "cache-clicks-per-user-changelog"), 50);
    EXPECT_EQ(last_count(log, &ts), 50);
    EXPECT_EQ(ts, 149);
    eddy_log_close(log);
}
