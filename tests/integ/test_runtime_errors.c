/* The runtime's error handling (include/eddy/app.h) on the embedded log (local, no Kafka).
 *
 * Bad input at start: each case asserts the exact error code and that eddy_last_error() names
 * the culprit (a missing input topic, co-partitioned topics of different partition counts, an
 * unknown key, a bad value, an unsupported guarantee, a missing application.id, a state
 * directory in use).
 *
 * Faults while running: records that cannot be deserialized under each handler (log-and-fail,
 * log-and-continue, a dead-letter topic), a corrupt checkpoint file and a damaged RocksDB
 * directory between two runs (both must be restored from the changelog with the right counts),
 * and the state listener's view of a clean run.
 *
 * Each test has its own directory (test_tmpdir()) holding the log (log.dir) and the state
 * (state.dir), and its own application.id. Inputs are appended with the embedded log's API and
 * outputs read with log readers, polled against a generous deadline (never fixed sleeps). */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eddy/app.h"
#include "eddy/config.h"
#include "eddy/log.h"
#include "eddy/logging.h"

/* How long a test waits for something the runtime does (an output, a state), and how often it
 * looks: generous, so that slow sanitizer builds on busy machines still pass. */
#define RT_DEADLINE_MS 20000
#define RT_POLL_US 10000
/* Records a test reads from one partition at most. */
#define RT_RECORDS_MAX 64
#define RT_BYTES_MAX 256

/* ---- Test environment ------------------------------------------------------------------------ */

typedef struct rt_env {
    char dir[1024];
    char log_dir[1100];
    char state_dir[1100];
    eddy_log *log;
} rt_env;

static int64_t rt_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Opens (creating) the test's log, with the state directory next to it. */
static void rt_env_open(rt_env *env)
{
    snprintf(env->dir, sizeof env->dir, "%s", test_tmpdir());
    snprintf(env->log_dir, sizeof env->log_dir, "%s/log", env->dir);
    snprintf(env->state_dir, sizeof env->state_dir, "%s/state", env->dir);
    EXPECT_OK(eddy_log_open(env->log_dir, EDDY_LOG_CREATE, &env->log));
}

static void rt_env_close(rt_env *env)
{
    eddy_log_close(env->log);
    env->log = NULL;
}

/* A configuration with the test's log and state directories, the record cache off (every
 * update reaches the changelog and the output) and a short commit interval. */
static eddy_config *rt_config(const rt_env *env, const char *app_id)
{
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    if (app_id)
        EXPECT_OK(eddy_config_set(config, "application.id", app_id));
    EXPECT_OK(eddy_config_set(config, "log.dir", env->log_dir));
    EXPECT_OK(eddy_config_set(config, "state.dir", env->state_dir));
    EXPECT_OK(eddy_config_set(config, "statestore.cache.max.bytes", "0"));
    EXPECT_OK(eddy_config_set(config, "commit.interval.ms", "100"));
    return config;
}

static void rt_topic(rt_env *env, const char *topic, int32_t partitions)
{
    EXPECT_OK(eddy_log_topic_create(env->log, topic, partitions, NULL));
}

static void rt_append(rt_env *env, const char *topic, const char *key, eddy_slice value)
{
    eddy_record record = {.key = eddy_string_slice(key), .value = value, .timestamp_ms = -1};
    EXPECT_OK(eddy_log_append(env->log, topic, 0, &record, 1, EDDY_ACKS_LEADER, NULL, NULL));
}

static void rt_append_str(rt_env *env, const char *topic, const char *key, const char *value)
{
    rt_append(env, topic, key, eddy_string_slice(value));
}

static void rt_append_i64(rt_env *env, const char *topic, const char *key, int64_t value)
{
    uint8_t bytes[8];
    eddy_int64_encode(value, bytes);
    rt_append(env, topic, key, (eddy_slice){bytes, sizeof bytes});
}

/* ---- Reading outputs ------------------------------------------------------------------------- */

typedef struct rt_record {
    char key[RT_BYTES_MAX];
    size_t key_len;
    uint8_t value[RT_BYTES_MAX];
    size_t value_len;
    bool value_null;
    int64_t offset;
    size_t header_count;
    char header_keys[8][64];
    char header_values[8][RT_BYTES_MAX];
} rt_record;

static void rt_copy(const eddy_record *from, rt_record *to)
{
    memset(to, 0, sizeof *to);
    EXPECT_TRUE(from->key.len < RT_BYTES_MAX && from->value.len < RT_BYTES_MAX);
    if (from->key.data)
        memcpy(to->key, from->key.data, from->key.len);
    to->key_len = from->key.len;
    to->value_null = from->value.data == NULL;
    if (from->value.data)
        memcpy(to->value, from->value.data, from->value.len);
    to->value_len = from->value.len;
    to->offset = from->offset;
    for (size_t h = 0; h < from->header_count && h < 8; h++) {
        const eddy_header *header = &from->headers[h];
        EXPECT_TRUE(header->key.len < 64 && header->value.len < RT_BYTES_MAX);
        memcpy(to->header_keys[h], header->key.data, header->key.len);
        if (header->value.data)
            memcpy(to->header_values[h], header->value.data, header->value.len);
        to->header_count = h + 1;
    }
}

/* Reads partition 0 of @p topic from the beginning to its current end. */
static size_t rt_read(rt_env *env, const char *topic, rt_record *out, size_t max)
{
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(env->log, topic, 0, EDDY_OFFSET_BEGINNING, &reader));
    size_t count = 0;
    for (;;) {
        eddy_record record;
        eddy_err err = eddy_log_reader_next(reader, 0, &record);
        if (err == EDDY_ERR_TIMED_OUT)
            break;
        EXPECT_OK(err);
        EXPECT_TRUE(count < max);
        rt_copy(&record, &out[count++]);
    }
    eddy_log_reader_destroy(reader);
    return count;
}

/* Waits until partition 0 of @p topic holds at least @p at_least records; returns how many it
 * read (fails the test at the deadline). */
static size_t rt_wait_records(rt_env *env, const char *topic, size_t at_least, rt_record *out,
                              size_t max)
{
    int64_t deadline = rt_now_ms() + RT_DEADLINE_MS;
    for (;;) {
        size_t count = rt_read(env, topic, out, max);
        if (count >= at_least)
            return count;
        if (rt_now_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__, "%s holds %zu records after %d ms, expected %zu",
                           topic, count, RT_DEADLINE_MS, at_least);
        usleep(RT_POLL_US);
    }
}

static int64_t rt_i64(const rt_record *record)
{
    int64_t value = 0;
    EXPECT_OK(eddy_int64_decode((eddy_slice){record->value, record->value_len}, &value));
    return value;
}

/* The value of header @p key of @p record (fails when absent). */
static const char *rt_header(const rt_record *record, const char *key)
{
    for (size_t h = 0; h < record->header_count; h++)
        if (strcmp(record->header_keys[h], key) == 0)
            return record->header_values[h];
    eddy_test_fail(__FILE__, __LINE__, "record at offset %" PRId64 " has no header %s",
                   record->offset, key);
}

static void rt_wait_state(eddy_app *app, eddy_app_state state)
{
    int64_t deadline = rt_now_ms() + RT_DEADLINE_MS;
    while (eddy_app_state_get(app) != state) {
        if (rt_now_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__, "state %s after %d ms, expected %s",
                           eddy_app_state_name(eddy_app_state_get(app)), RT_DEADLINE_MS,
                           eddy_app_state_name(state));
        usleep(RT_POLL_US);
    }
}

/* ---- Topologies ------------------------------------------------------------------------------ */

/* numbers-in (string keys, int64 values) → numbers-out, unchanged. */
static eddy_builder *rt_build_passthrough(void)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    eddy_stream *in =
        eddy_stream_from(builder, "numbers-in", eddy_serde_string(), eddy_serde_int64());
    eddy_to(in, "numbers-out");
    EXPECT_OK(eddy_builder_check(builder));
    return builder;
}

/* words (the key is the word) → count per key in the store "counts" → counts-out (int64). */
static eddy_builder *rt_build_count(void)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    eddy_stream *words =
        eddy_stream_from(builder, "words", eddy_serde_string(), eddy_serde_string());
    eddy_table *counts = eddy_count(eddy_group_by_key(words), "counts");
    eddy_table_to(counts, "counts-out");
    EXPECT_OK(eddy_builder_check(builder));
    return builder;
}

static void rt_join_value(eddy_ctx *ctx, const eddy_record *left, eddy_slice right_value,
                          void *opaque)
{
    (void)left, (void)opaque;
    eddy_result(ctx, right_value);
}

/* orders (stream) joined with customers (table) → joined. */
static eddy_builder *rt_build_join(void)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    eddy_stream *orders =
        eddy_stream_from(builder, "orders", eddy_serde_string(), eddy_serde_string());
    eddy_table *customers =
        eddy_table_from(builder, "customers", eddy_serde_string(), eddy_serde_string(), NULL);
    eddy_to(eddy_join_table(orders, customers, rt_join_value, NULL), "joined");
    EXPECT_OK(eddy_builder_check(builder));
    return builder;
}

/* ---- Bad input at start ---------------------------------------------------------------------- */

TEST(start_fails_on_missing_input_topic)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-out", 1); /* the output exists; the input numbers-in does not */
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-missing-topic");
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_ERR(eddy_app_start(app), EDDY_ERR_UNKNOWN_TOPIC);
    EXPECT_CONTAINS(eddy_last_error(), "numbers-in");
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_ERROR);
    /* A failed start leaves nothing running that close must wait for. */
    eddy_app_close(app);
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

/* A stream–table join whose topics have @p orders and @p customers partitions must fail to
 * start, naming both topics with their counts. */
static void rt_check_copartition(const char *app_id, int32_t orders, int32_t customers)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "orders", orders);
    rt_topic(&env, "customers", customers);
    rt_topic(&env, "joined", 1);
    eddy_builder *builder = rt_build_join();
    eddy_config *config = rt_config(&env, app_id);
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_ERR(eddy_app_start(app), EDDY_ERR_CONFIG);
    char orders_text[64], customers_text[64];
    snprintf(orders_text, sizeof orders_text, "orders (%" PRId32 " partitions)", orders);
    snprintf(customers_text, sizeof customers_text, "customers (%" PRId32 " partitions)",
             customers);
    EXPECT_CONTAINS(eddy_last_error(), orders_text);
    EXPECT_CONTAINS(eddy_last_error(), customers_text);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_ERROR);
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(start_fails_on_copartition_mismatch_stream_larger)
{
    rt_check_copartition("err-copart-a", 3, 2);
}

TEST(start_fails_on_copartition_mismatch_table_larger)
{
    rt_check_copartition("err-copart-b", 2, 3);
}

TEST(new_fails_on_unknown_config_key)
{
    rt_env env;
    rt_env_open(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-unknown-key");
    /* eddy_config keeps unknown keys for other layers; the runtime must refuse them. */
    EXPECT_OK(eddy_config_set(config, "num.stream.thread", "2"));
    eddy_app *app = (eddy_app *)1;
    EXPECT_ERR(eddy_app_new(builder, config, &app), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "num.stream.thread");
    EXPECT_TRUE(app == NULL);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

/* Sets @p key to @p value and makes an application: one of the two layers must refuse the
 * value with EDDY_ERR_CONFIG and a message naming the key and the value. */
static void rt_check_bad_value(const char *app_id, const char *key, const char *value)
{
    rt_env env;
    rt_env_open(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, app_id);
    eddy_app *app = NULL;
    eddy_err err = eddy_config_set(config, key, value);
    if (err == EDDY_OK)
        err = eddy_app_new(builder, config, &app);
    if (err != EDDY_ERR_CONFIG)
        eddy_test_fail(__FILE__, __LINE__, "%s=%s: expected EDDY_ERR_CONFIG, got %s (%s)", key,
                       value, eddy_err_name(err), eddy_last_error());
    EXPECT_CONTAINS(eddy_last_error(), key);
    EXPECT_CONTAINS(eddy_last_error(), value);
    EXPECT_TRUE(app == NULL);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(bad_value_not_an_integer)
{
    rt_check_bad_value("err-bad-value-a", "num.stream.threads", "abc");
}

TEST(bad_value_out_of_the_runtime_range)
{
    /* eddy_config accepts any positive count; the runtime runs at most 64 threads. */
    rt_check_bad_value("err-bad-value-b", "num.stream.threads", "100000");
}

TEST(bad_value_not_a_handler)
{
    rt_check_bad_value("err-bad-value-c", "default.deserialization.exception.handler",
                       "logAndPray");
}

TEST(new_fails_on_exactly_once)
{
    rt_env env;
    rt_env_open(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-eos");
    EXPECT_OK(eddy_config_set(config, "processing.guarantee", "exactly_once_v2"));
    eddy_app *app = NULL;
    EXPECT_ERR(eddy_app_new(builder, config, &app), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "processing.guarantee");
    EXPECT_CONTAINS(eddy_last_error(), "exactly_once_v2");
    EXPECT_TRUE(app == NULL);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(new_fails_without_application_id)
{
    rt_env env;
    rt_env_open(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, NULL);
    eddy_app *app = NULL;
    EXPECT_ERR(eddy_app_new(builder, config, &app), EDDY_ERR_CONFIG);
    EXPECT_CONTAINS(eddy_last_error(), "application.id");
    EXPECT_TRUE(app == NULL);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(second_app_on_same_state_dir_is_busy)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-in", 1);
    rt_topic(&env, "numbers-out", 1);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-busy");
    eddy_app *first = NULL, *second = NULL, *third = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &first));
    EXPECT_OK(eddy_app_start(first));
    EXPECT_OK(eddy_app_wait_running(first, RT_DEADLINE_MS));

    EXPECT_OK(eddy_app_new(builder, config, &second));
    EXPECT_ERR(eddy_app_start(second), EDDY_ERR_BUSY);
    EXPECT_CONTAINS(eddy_last_error(), env.state_dir);
    EXPECT_EQ(eddy_app_state_get(second), EDDY_APP_ERROR);
    eddy_app_destroy(second);

    /* The first keeps running, and keeps its lock after the second gave up. */
    EXPECT_EQ(eddy_app_state_get(first), EDDY_APP_RUNNING);
    EXPECT_OK(eddy_app_new(builder, config, &third));
    EXPECT_ERR(eddy_app_start(third), EDDY_ERR_BUSY);
    eddy_app_destroy(third);
    rt_append_i64(&env, "numbers-in", "k", 42);
    rt_record out[RT_RECORDS_MAX];
    size_t count = rt_wait_records(&env, "numbers-out", 1, out, RT_RECORDS_MAX);
    EXPECT_EQ(count, 1);
    EXPECT_EQ(rt_i64(&out[0]), 42);
    EXPECT_EQ(eddy_app_state_get(first), EDDY_APP_RUNNING);
    EXPECT_OK(eddy_app_close(first));
    EXPECT_EQ(eddy_app_state_get(first), EDDY_APP_NOT_RUNNING);
    eddy_app_destroy(first);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

/* ---- Records that cannot be deserialized ----------------------------------------------------- */

/* The bad record's bytes: 3 bytes (an int64 needs 8), one of them NUL. */
static const uint8_t rt_bad_value[3] = {0x01, 0x00, 0xff};

/* numbers-in: k0=10, k1=11, k2=<3 bytes> (offset 2), k3=13. */
static void rt_append_numbers_with_bad_one(rt_env *env)
{
    rt_append_i64(env, "numbers-in", "k0", 10);
    rt_append_i64(env, "numbers-in", "k1", 11);
    rt_append(env, "numbers-in", "k2", (eddy_slice){rt_bad_value, sizeof rt_bad_value});
    rt_append_i64(env, "numbers-in", "k3", 13);
}

static void rt_expect_good_numbers(const rt_record *out, size_t count)
{
    EXPECT_EQ(count, 3);
    EXPECT_MEMEQ(out[0].key, out[0].key_len, "k0", 2);
    EXPECT_EQ(rt_i64(&out[0]), 10);
    EXPECT_MEMEQ(out[1].key, out[1].key_len, "k1", 2);
    EXPECT_EQ(rt_i64(&out[1]), 11);
    EXPECT_MEMEQ(out[2].key, out[2].key_len, "k3", 2);
    EXPECT_EQ(rt_i64(&out[2]), 13);
}

TEST(deserialization_error_fails_the_app_by_default)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-in", 1);
    rt_topic(&env, "numbers-out", 1);
    rt_append_numbers_with_bad_one(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-deser-fail");
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_OK(eddy_app_start(app));
    rt_wait_state(app, EDDY_APP_ERROR);
    const char *message = eddy_app_error(app);
    EXPECT_CONTAINS(message, "0_0");
    EXPECT_CONTAINS(message, "numbers-in");
    EXPECT_CONTAINS(message, "partition 0");
    EXPECT_CONTAINS(message, "offset 2");
    EXPECT_EQ(eddy_app_close(app), EDDY_ERR_SERIALIZATION);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_ERROR);

    /* The records before the bad one were processed; nothing after it. */
    rt_record out[RT_RECORDS_MAX];
    size_t count = rt_read(&env, "numbers-out", out, RT_RECORDS_MAX);
    EXPECT_EQ(count, 2);
    EXPECT_EQ(rt_i64(&out[0]), 10);
    EXPECT_EQ(rt_i64(&out[1]), 11);
    /* At-least-once: the committed position never passes the record that failed, so a restart
     * meets it again instead of silently skipping it. */
    int64_t committed = -1;
    eddy_err err = eddy_log_group_committed(env.log, "err-deser-fail", "numbers-in", 0, &committed);
    if (err != EDDY_ERR_NOT_FOUND) {
        EXPECT_OK(err);
        EXPECT_LE(committed, 2);
    }
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(deserialization_error_skipped_with_log_and_continue)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-in", 1);
    rt_topic(&env, "numbers-out", 1);
    rt_append_numbers_with_bad_one(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-deser-continue");
    EXPECT_OK(
        eddy_config_set(config, "default.deserialization.exception.handler", "logAndContinue"));
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, RT_DEADLINE_MS));
    rt_record out[RT_RECORDS_MAX];
    rt_wait_records(&env, "numbers-out", 3, out, RT_RECORDS_MAX);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_RUNNING);
    EXPECT_STREQ(eddy_app_error(app), "");
    /* A record after the skipped one still flows. */
    rt_append_i64(&env, "numbers-in", "k4", 14);
    size_t count = rt_wait_records(&env, "numbers-out", 4, out, RT_RECORDS_MAX);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_RUNNING);
    EXPECT_EQ(eddy_app_dropped_records(app), 1); /* Kafka's dropped-records metric */
    EXPECT_OK(eddy_app_close(app));
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_NOT_RUNNING);
    count = rt_read(&env, "numbers-out", out, RT_RECORDS_MAX);
    EXPECT_EQ(count, 4);
    rt_expect_good_numbers(out, 3);
    EXPECT_EQ(rt_i64(&out[3]), 14);
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

TEST(deserialization_error_goes_to_dead_letter_topic)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-in", 1);
    rt_topic(&env, "numbers-out", 1);
    rt_topic(&env, "dlq", 1);
    rt_append_numbers_with_bad_one(&env);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-deser-dlq");
    EXPECT_OK(eddy_config_set(config, "errors.dead.letter.queue.topic.name", "dlq"));
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, RT_DEADLINE_MS));
    rt_record out[RT_RECORDS_MAX], dead[RT_RECORDS_MAX];
    rt_wait_records(&env, "numbers-out", 3, out, RT_RECORDS_MAX);
    rt_wait_records(&env, "dlq", 1, dead, RT_RECORDS_MAX);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_RUNNING);
    EXPECT_OK(eddy_app_close(app));
    rt_expect_good_numbers(out, rt_read(&env, "numbers-out", out, RT_RECORDS_MAX));
    EXPECT_EQ(rt_read(&env, "dlq", dead, RT_RECORDS_MAX), 1);
    /* The original bytes, as they were in the input. */
    EXPECT_MEMEQ(dead[0].key, dead[0].key_len, "k2", 2);
    EXPECT_TRUE(!dead[0].value_null);
    EXPECT_MEMEQ(dead[0].value, dead[0].value_len, rt_bad_value, sizeof rt_bad_value);
    /* Where it came from and why (KIP-1034's headers). */
    EXPECT_STREQ(rt_header(&dead[0], "__streams.errors.topic"), "numbers-in");
    EXPECT_STREQ(rt_header(&dead[0], "__streams.errors.partition"), "0");
    EXPECT_STREQ(rt_header(&dead[0], "__streams.errors.offset"), "2");
    EXPECT_CONTAINS(rt_header(&dead[0], "__streams.errors.exception"), "int64");
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}

/* ---- Damaged local state between two runs ---------------------------------------------------- */

/* Warnings the runtime logged (from its threads), collected by a log sink. */
static pthread_mutex_t rt_warnings_lock = PTHREAD_MUTEX_INITIALIZER;
static char rt_warnings[16384];

static void rt_collect_warnings(eddy_log_level level, const char *module, const char *message,
                                void *opaque)
{
    (void)opaque;
    fprintf(stderr, "[%s] %s: %s\n", level <= EDDY_LOG_WARN ? "warn" : "info", module, message);
    if (level > EDDY_LOG_WARN)
        return;
    pthread_mutex_lock(&rt_warnings_lock);
    size_t used = strlen(rt_warnings);
    snprintf(rt_warnings + used, sizeof rt_warnings - used, "%s: %s\n", module, message);
    pthread_mutex_unlock(&rt_warnings_lock);
}

/* Runs the count application once: appends @p words (keys), waits until counts-out holds
 * @p outputs_before + the number of words, and closes cleanly. Returns the count output last
 * for each of the words "a" and "b" through @p last_a and @p last_b (-1: none). When
 * @p restored / @p total are given, they receive the run's restoration progress. */
static void rt_count_run(rt_env *env, const char *app_id, const char *const *words,
                         size_t word_count, size_t outputs_before, int64_t *last_a, int64_t *last_b,
                         uint64_t *restored, uint64_t *total)
{
    eddy_builder *builder = rt_build_count();
    eddy_config *config = rt_config(env, app_id);
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, RT_DEADLINE_MS));
    for (size_t i = 0; i < word_count; i++)
        rt_append_str(env, "words", words[i], words[i]);
    rt_record out[RT_RECORDS_MAX];
    size_t count =
        rt_wait_records(env, "counts-out", outputs_before + word_count, out, RT_RECORDS_MAX);
    EXPECT_EQ(count, outputs_before + word_count);
    *last_a = *last_b = -1;
    for (size_t i = 0; i < count; i++) {
        if (out[i].key_len == 1 && out[i].key[0] == 'a')
            *last_a = rt_i64(&out[i]);
        if (out[i].key_len == 1 && out[i].key[0] == 'b')
            *last_b = rt_i64(&out[i]);
    }
    /* The store agrees with the output. */
    void *value = NULL;
    size_t len = 0;
    EXPECT_OK(eddy_app_store_get(app, "counts", eddy_string_slice("a"), &value, &len));
    int64_t stored = 0;
    EXPECT_OK(eddy_int64_decode((eddy_slice){value, len}, &stored));
    EXPECT_EQ(stored, *last_a);
    eddy_free(value);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_RUNNING);
    if (restored)
        eddy_app_restoration(app, restored, total);
    EXPECT_OK(eddy_app_close(app));
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_NOT_RUNNING);
    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
}

/* The first run of the count application: a×3 and b×2, so five changelog records. Returns the
 * changelog's end offset after the run. */
static int64_t rt_count_first_run(rt_env *env, const char *app_id)
{
    rt_topic(env, "words", 1);
    rt_topic(env, "counts-out", 1);
    static const char *const words[] = {"a", "b", "a", "b", "a"};
    int64_t a = 0, b = 0;
    uint64_t restored = 0, total = 0;
    rt_count_run(env, app_id, words, 5, 0, &a, &b, &restored, &total);
    EXPECT_EQ(a, 3);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(restored, 0);
    EXPECT_EQ(total, 0);
    char changelog[256];
    snprintf(changelog, sizeof changelog, "%s-counts-changelog", app_id);
    int64_t end = 0;
    EXPECT_OK(eddy_log_partition_info(env->log, changelog, 0, NULL, &end, NULL, NULL));
    EXPECT_EQ(end, 5);
    return end;
}

static void rt_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        eddy_test_fail(__FILE__, __LINE__, "cannot write %s", path);
    fputs(text, f);
    EXPECT_EQ(fclose(f), 0);
}

/* The second run: one more "a"; its count must continue from the restored state. */
static void rt_count_second_run(rt_env *env, const char *app_id, int64_t changelog_records)
{
    static const char *const words[] = {"a"};
    int64_t a = 0, b = 0;
    uint64_t restored = 0, total = 0;
    rt_count_run(env, app_id, words, 1, 5, &a, &b, &restored, &total);
    EXPECT_EQ(a, 4);
    EXPECT_EQ(restored, (uint64_t)changelog_records);
    EXPECT_EQ(total, (uint64_t)changelog_records);
}

TEST(corrupt_checkpoint_restores_the_whole_changelog)
{
    rt_env env;
    rt_env_open(&env);
    const char *app_id = "err-bad-checkpoint";
    int64_t changelog_records = rt_count_first_run(&env, app_id);
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/0_0/.checkpoint", env.state_dir, app_id);
    struct stat st;
    EXPECT_EQ(stat(path, &st), 0); /* the clean close wrote one */
    rt_write_file(path, "\x01garbage that is not a checkpoint\n");

    rt_warnings[0] = '\0';
    eddy_logging_set_sink(rt_collect_warnings, NULL);
    rt_count_second_run(&env, app_id, changelog_records);
    eddy_logging_set_sink(NULL, NULL);
    pthread_mutex_lock(&rt_warnings_lock);
    EXPECT_CONTAINS(rt_warnings, "checkpoint");
    pthread_mutex_unlock(&rt_warnings_lock);
    rt_env_close(&env);
}

TEST(damaged_rocksdb_store_is_wiped_and_restored)
{
    rt_env env;
    rt_env_open(&env);
    const char *app_id = "err-bad-rocksdb";
    int64_t changelog_records = rt_count_first_run(&env, app_id);
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/0_0/rocksdb/counts/CURRENT", env.state_dir, app_id);
    struct stat st;
    EXPECT_EQ(stat(path, &st), 0);
    /* CURRENT names the MANIFEST; garbage there makes the database unreadable. */
    rt_write_file(path, "garbage-not-a-manifest");
    rt_count_second_run(&env, app_id, changelog_records);
    rt_env_close(&env);
}

/* ---- The state listener ---------------------------------------------------------------------- */

typedef struct rt_transitions {
    pthread_mutex_t lock;
    eddy_app_state from[256], to[256];
    size_t count;
} rt_transitions;

static void rt_on_state(eddy_app_state new_state, eddy_app_state old_state, void *opaque)
{
    rt_transitions *t = opaque;
    pthread_mutex_lock(&t->lock);
    if (t->count < 256) {
        t->from[t->count] = old_state;
        t->to[t->count] = new_state;
    }
    t->count++;
    pthread_mutex_unlock(&t->lock);
}

static void rt_transitions_print(const rt_transitions *t)
{
    for (size_t i = 0; i < t->count && i < 256; i++)
        fprintf(stderr, "    %zu: %s -> %s\n", i, eddy_app_state_name(t->from[i]),
                eddy_app_state_name(t->to[i]));
}

TEST(state_listener_sees_a_clean_run)
{
    rt_env env;
    rt_env_open(&env);
    rt_topic(&env, "numbers-in", 1);
    rt_topic(&env, "numbers-out", 1);
    eddy_builder *builder = rt_build_passthrough();
    eddy_config *config = rt_config(&env, "err-listener");
    static rt_transitions t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    eddy_app *app = NULL;
    EXPECT_OK(eddy_app_new(builder, config, &app));
    eddy_app_set_state_listener(app, rt_on_state, &t);
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_CREATED);
    EXPECT_OK(eddy_app_start(app));
    EXPECT_OK(eddy_app_wait_running(app, RT_DEADLINE_MS));
    rt_append_i64(&env, "numbers-in", "k", 1);
    rt_record out[RT_RECORDS_MAX];
    rt_wait_records(&env, "numbers-out", 1, out, RT_RECORDS_MAX);
    EXPECT_OK(eddy_app_close(app));
    EXPECT_EQ(eddy_app_state_get(app), EDDY_APP_NOT_RUNNING);
    EXPECT_OK(eddy_app_close(app)); /* again: nothing more happens */

    pthread_mutex_lock(&t.lock);
    rt_transitions_print(&t);
    EXPECT_TRUE(t.count >= 4 && t.count <= 256);
    /* CREATED → REBALANCING first. */
    EXPECT_STREQ(eddy_app_state_name(t.from[0]), "CREATED");
    EXPECT_STREQ(eddy_app_state_name(t.to[0]), "REBALANCING");
    /* Each change starts where the previous one ended. */
    for (size_t i = 1; i < t.count; i++)
        EXPECT_STREQ(eddy_app_state_name(t.from[i]), eddy_app_state_name(t.to[i - 1]));
    /* Then REBALANCING and RUNNING alternate, reaching RUNNING at least once. */
    size_t last = t.count - 1;
    bool ran = false;
    for (size_t i = 1; i + 2 <= last; i++) {
        EXPECT_TRUE(t.to[i] == EDDY_APP_RUNNING || t.to[i] == EDDY_APP_REBALANCING);
        ran |= t.to[i] == EDDY_APP_RUNNING;
    }
    EXPECT_TRUE(ran);
    /* Then the close: → PENDING_SHUTDOWN → NOT_RUNNING. */
    EXPECT_TRUE(t.from[last - 1] == EDDY_APP_RUNNING || t.from[last - 1] == EDDY_APP_REBALANCING);
    EXPECT_STREQ(eddy_app_state_name(t.to[last - 1]), "PENDING_SHUTDOWN");
    EXPECT_STREQ(eddy_app_state_name(t.to[last]), "NOT_RUNNING");
    pthread_mutex_unlock(&t.lock);

    eddy_app_destroy(app);
    eddy_config_destroy(config);
    eddy_builder_destroy(builder);
    rt_env_close(&env);
}
