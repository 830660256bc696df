/* Windowed aggregations and suppression through the test driver (src/runtime/ops_window.c):
 * time windows (tumbling, hopping), sliding windows, session windows, suppression until a
 * window closes or a time limit, bounded buffers and retention.
 *
 * Every expectation is worked out from Kafka Streams' rules (KStreamWindowAggregate,
 * KStreamSlidingWindowAggregate, KStreamSessionWindowAggregate, KTableSuppressProcessor and
 * its buffer), not from eddy's output; the comments show the reasoning. The sliding-window
 * inputs and results of the *_kafka_small_input tests are those of Kafka's own
 * KStreamSlidingWindowAggregateTest, which compares each window's set of updates.
 *
 * Each output record is written as text: `key@start=value tTS` for time and sliding windows,
 * `key@[start,end]=value tTS` for sessions, `key=value tTS` for plain tables; values are
 * int64 counts or strings, `null` for a tombstone. */
#include "test.h"

#include <stdbool.h>

#include "eddy/config.h"
#include "eddy/logging.h"
#include "eddy/serde.h"
#include "eddy/streams.h"
#include "eddy/test_driver.h"
#include "store/window.h"

#define IN "in"
#define OUT "out"
#define LINE_MAX_BYTES 256
#define LINES_MAX 64

typedef enum key_shape { SHAPE_TIME, SHAPE_SESSION, SHAPE_PLAIN } key_shape;
typedef enum value_shape { VALUE_COUNT, VALUE_STRING } value_shape;

/* ---- Callbacks: Kafka's MockInitializer.STRING_INIT, MockAggregator.TOSTRING_ADDER and
 * MockReducer.STRING_ADDER, and a session merger joining with '&'. ---- */

static void init_zero(eddy_ctx *ctx, void *opaque)
{
    (void)opaque;
    eddy_result_str(ctx, "0");
}

static void join3(eddy_ctx *ctx, eddy_slice left, const char *sep, eddy_slice right)
{
    char buf[LINE_MAX_BYTES];
    snprintf(buf, sizeof buf, "%.*s%s%.*s", (int)left.len, left.data ? (const char *)left.data : "",
             sep, (int)right.len, right.data ? (const char *)right.data : "null");
    eddy_result_str(ctx, buf);
}

static void add_plus(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate, void *opaque)
{
    (void)opaque;
    join3(ctx, aggregate, "+", record->value);
}

static void reduce_plus(eddy_ctx *ctx, eddy_slice aggregate, const eddy_record *value, void *opaque)
{
    (void)opaque;
    join3(ctx, aggregate, "+", value->value);
}

static void merge_amp(eddy_ctx *ctx, const eddy_record *key, eddy_slice left, eddy_slice right,
                      void *opaque)
{
    (void)key, (void)opaque;
    join3(ctx, left, "&", right);
}

/* ---- Debug log lines about expired windows (one per window a record is not added to) --------- */

static int late_lines;

static void count_late(eddy_log_level level, const char *module, const char *message, void *opaque)
{
    (void)level, (void)module, (void)opaque;
    if (strstr(message, "expired window"))
        late_lines++;
}

static void watch_late_lines(void)
{
    late_lines = 0;
    eddy_logging_set_level(EDDY_LOG_DEBUG);
    eddy_logging_set_sink(count_late, NULL);
}

/* ---- Driver helpers -------------------------------------------------------------------------- */

static eddy_grouped_stream *grouped_input(eddy_builder *builder)
{
    return eddy_group_by_key(
        eddy_stream_from(builder, IN, eddy_serde_string(), eddy_serde_string()));
}

static eddy_test_driver *driver_for(eddy_builder *builder)
{
    EXPECT_OK(eddy_builder_check(builder));
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "application.id", "windows"));
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 0, &driver));
    eddy_config_destroy(config);
    return driver;
}

/* Pipes key=value (value NULL: a null value; key NULL: a null key) at ts into IN. */
static void pipe(eddy_test_driver *driver, const char *key, const char *value, int64_t ts)
{
    eddy_err err =
        eddy_test_driver_pipe(driver, IN, eddy_string_slice(key), eddy_string_slice(value), ts);
    if (err != EDDY_OK)
        eddy_test_fail(__FILE__, __LINE__, "pipe %s=%s @%" PRId64 ": %s: %s", key ? key : "null",
                       value ? value : "null", ts, eddy_err_name(err), eddy_last_error());
}

static int64_t be64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

static void format_value(char *out, size_t size, eddy_slice value, value_shape shape)
{
    if (!value.data)
        snprintf(out, size, "null");
    else if (shape == VALUE_COUNT && value.len == 8)
        snprintf(out, size, "%" PRId64, be64(value.data));
    else
        snprintf(out, size, "%.*s", (int)value.len, (const char *)value.data);
}

static void format_record(char *out, size_t size, const eddy_record *r, key_shape keys,
                          value_shape values)
{
    char value[LINE_MAX_BYTES];
    format_value(value, sizeof value, r->value, values);
    const uint8_t *k = r->key.data;
    size_t suffix = keys == SHAPE_TIME ? 8 : keys == SHAPE_SESSION ? 16 : 0;
    if (!k || r->key.len < suffix) {
        snprintf(out, size, "<bad key of %zu bytes>=%s t%" PRId64, r->key.len, value,
                 r->timestamp_ms);
        return;
    }
    int key_len = (int)(r->key.len - suffix);
    if (keys == SHAPE_TIME)
        snprintf(out, size, "%.*s@%" PRId64 "=%s t%" PRId64, key_len, (const char *)k,
                 be64(k + key_len), value, r->timestamp_ms);
    else if (keys == SHAPE_SESSION)
        snprintf(out, size, "%.*s@[%" PRId64 ",%" PRId64 "]=%s t%" PRId64, key_len, (const char *)k,
                 be64(k + key_len + 8), be64(k + key_len), value, r->timestamp_ms);
    else
        snprintf(out, size, "%.*s=%s t%" PRId64, key_len, (const char *)k, value, r->timestamp_ms);
}

typedef struct lines {
    char items[LINES_MAX][LINE_MAX_BYTES];
    size_t count;
} lines;

/* Reads every unread record of OUT. */
static void read_out(eddy_test_driver *driver, key_shape keys, value_shape values, lines *got)
{
    got->count = 0;
    eddy_record r;
    eddy_err err;
    while ((err = eddy_test_driver_read(driver, OUT, &r)) == EDDY_OK) {
        EXPECT_TRUE(got->count < LINES_MAX);
        format_record(got->items[got->count++], LINE_MAX_BYTES, &r, keys, values);
    }
    EXPECT_EQ(err, EDDY_ERR_END);
}

static void print_lines(const char *title, const char *const *items, size_t count)
{
    fprintf(stderr, "  %s (%zu):\n", title, count);
    for (size_t i = 0; i < count; i++)
        fprintf(stderr, "    %s\n", items[i]);
}

static void fail_lines(int line, const char *what, const lines *got, const char *const *expected,
                       size_t expected_count)
{
    const char *got_items[LINES_MAX];
    for (size_t i = 0; i < got->count; i++)
        got_items[i] = got->items[i];
    print_lines("expected", expected, expected_count);
    print_lines("got", got_items, got->count);
    eddy_test_fail(__FILE__, line, "%s differ", what);
}

/* The records of OUT since the last check must be exactly `expected`, in order. */
#define EXPECT_OUT(driver, keys, values, ...)                                                      \
    do {                                                                                           \
        static const char *const expected_[] = {__VA_ARGS__};                                      \
        expect_out(__LINE__, driver, keys, values, expected_,                                      \
                   sizeof expected_ / sizeof expected_[0]);                                        \
    } while (0)

#define EXPECT_NO_OUT(driver) EXPECT_EQ(eddy_test_driver_unread(driver, OUT), 0)

static void expect_out(int line, eddy_test_driver *driver, key_shape keys, value_shape values,
                       const char *const *expected, size_t count)
{
    lines got;
    read_out(driver, keys, values, &got);
    bool same = got.count == count;
    for (size_t i = 0; same && i < count; i++)
        same = strcmp(got.items[i], expected[i]) == 0;
    if (!same)
        fail_lines(line, "output records", &got, expected, count);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The set of records of OUT (duplicates and order ignored) must be `expected` (Kafka's tests
 * compare sets of updates per window). */
static void expect_out_set(int line, eddy_test_driver *driver, key_shape keys, value_shape values,
                           const char *const *expected, size_t count)
{
    lines got;
    read_out(driver, keys, values, &got);
    qsort(got.items, got.count, LINE_MAX_BYTES, compare_strings);
    size_t unique = 0;
    for (size_t i = 0; i < got.count; i++)
        if (unique == 0 || strcmp(got.items[unique - 1], got.items[i]) != 0)
            memmove(got.items[unique++], got.items[i], LINE_MAX_BYTES);
    got.count = unique;
    bool same = got.count == count;
    for (size_t i = 0; same && i < count; i++) {
        bool found = false;
        for (size_t j = 0; j < got.count && !found; j++)
            found = strcmp(got.items[j], expected[i]) == 0;
        same = found;
    }
    if (!same)
        fail_lines(line, "sets of output records", &got, expected, count);
}

#define EXPECT_OUT_SET(driver, keys, values, ...)                                                  \
    do {                                                                                           \
        static const char *const expected_[] = {__VA_ARGS__};                                      \
        expect_out_set(__LINE__, driver, keys, values, expected_,                                  \
                       sizeof expected_ / sizeof expected_[0]);                                    \
    } while (0)

/* The int64 count of `key`'s window starting at start in the window store `name` (-1: none). */
static int64_t window_count(eddy_test_driver *driver, const char *name, const char *key,
                            int64_t start)
{
    eddy_kv_store *store = eddy_test_driver_store(driver, name);
    EXPECT_TRUE(store != NULL);
    eddy_slice value;
    eddy_err err = eddy__window_get(store, eddy_string_slice(key), start, &value);
    if (err == EDDY_ERR_NOT_FOUND)
        return -1;
    EXPECT_OK(err);
    eddy_slice count;
    int64_t time_ms;
    EXPECT_OK(eddy_window_store_value(value, &count, &time_ms));
    EXPECT_EQ(count.len, 8);
    return be64(count.data);
}

/* Whether `key`'s session [start, end] is in the session store `name`. */
static eddy_err session_seen(void *opaque, int64_t start_ms, int64_t end_ms, eddy_slice value)
{
    (void)value;
    const int64_t *want = opaque;
    if (start_ms == want[0] && end_ms == want[1])
        return EDDY_ERR_EXISTS; /* stops the scan: found */
    return EDDY_OK;
}

static bool session_present(eddy_test_driver *driver, const char *name, const char *key,
                            int64_t start, int64_t end)
{
    eddy_kv_store *store = eddy_test_driver_store(driver, name);
    EXPECT_TRUE(store != NULL);
    int64_t want[2] = {start, end};
    eddy_err err =
        eddy__session_find(store, eddy_string_slice(key), end, start, session_seen, want);
    EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_EXISTS);
    return err == EDDY_ERR_EXISTS;
}

static void finish(eddy_test_driver *driver, eddy_builder *builder)
{
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* ---- Time windows ---------------------------------------------------------------------------- */

/* Tumbling windows of 10 ms with 5 ms of grace. Windows are [start, start + 10): a record at
 * exactly 10 opens the next window. A window takes records while its end > stream time - grace
 * (KStreamWindowAggregate: windowEnd > closeTime), so [0, 10) closes when stream time reaches
 * 15: a record at stream time 14 still goes in, one at stream time 15 is dropped. */
TEST(time_window_tumbling_boundaries)
{
    watch_late_lines();
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 10, 10, 5), "counts"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);

    pipe(driver, "a", "v", 0);
    pipe(driver, "a", "v", 9);
    pipe(driver, "a", "v", 10); /* the window's end: the next window */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=1 t0", "a@0=2 t9", "a@10=1 t10");

    pipe(driver, "a", "v", 3);  /* out of order, stream time 10: close 5 < end 10 */
    pipe(driver, "a", "v", 14); /* stream time 14 */
    pipe(driver, "a", "v", 2);  /* close 9 < end 10: still open */
    /* An update carries the window's latest timestamp (Kafka's timestamped store): 9. */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=3 t9", "a@10=2 t14", "a@0=4 t9");
    EXPECT_EQ(late_lines, 0);

    pipe(driver, "a", "v", 15); /* stream time 15 = end 10 + grace 5 */
    pipe(driver, "a", "v", 4);  /* close 10: end 10 is not > 10: dropped */
    pipe(driver, "b", "v", 9);  /* another key, same closed window: dropped */
    pipe(driver, "b", "v", 10); /* [10, 20) is open */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@10=3 t15", "b@10=1 t10");
    EXPECT_EQ(late_lines, 2);

    EXPECT_EQ(window_count(driver, "counts", "a", 0), 4);
    EXPECT_EQ(window_count(driver, "counts", "a", 10), 3);
    EXPECT_EQ(window_count(driver, "counts", "b", 0), -1);
    finish(driver, builder);
}

/* Hopping windows of 10 ms advancing by 5 ms, no grace: a record at t is in the windows
 * [k*5, k*5 + 10) that contain it, oldest first (TimeWindows.windowsFor), and a late record
 * can be dropped from an old window while it still goes into a newer one. */
TEST(time_window_hopping)
{
    watch_late_lines();
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 10, 5, 0), "counts"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);

    pipe(driver, "a", "v", 7);  /* windows 0 and 5 */
    pipe(driver, "a", "v", 12); /* windows 5 and 10; stream time 12 */
    pipe(driver, "a", "v", 3);  /* window 0 only; its end 10 <= 12: dropped */
    pipe(driver, "a", "v", 8);  /* window 0 dropped, window 5 (end 15) updated */
    pipe(driver, "a", "v", 4);  /* window 0 only (start (4-10+5)/5*5 clamps to 0) */
    /* a@5's third update keeps the window's latest timestamp, 12 (Kafka's timestamped store). */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=1 t7", "a@5=1 t7", "a@5=2 t12", "a@10=1 t12",
               "a@5=3 t12");
    EXPECT_EQ(late_lines, 3);
    finish(driver, builder);
}

/* size/advance = 3: a record falls in three windows and counts once in each. */
TEST(time_window_hopping_record_in_several_windows)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 15, 5, 100), "counts"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);

    pipe(driver, "k", "v", 20); /* windows 10, 15, 20 */
    pipe(driver, "k", "v", 24); /* windows 10, 15, 20 */
    pipe(driver, "k", "v", 25); /* windows 15, 20, 25 */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "k@10=1 t20", "k@15=1 t20", "k@20=1 t20",
               "k@10=2 t24", "k@15=2 t24", "k@20=2 t24", "k@15=3 t25", "k@20=3 t25", "k@25=1 t25");
    EXPECT_EQ(window_count(driver, "counts", "k", 20), 3);
    finish(driver, builder);
}

/* Windowed reduce and aggregate: the first value of a window is the reduce result as it is;
 * aggregate starts from the initializer. */
TEST(time_window_reduce_and_aggregate)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_windowed_stream *windowed = eddy_windowed_by_time(grouped_input(builder), 10, 10, 0);
    eddy_table_to(eddy_windowed_reduce(windowed, reduce_plus, NULL, "reduced"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "x", 1);
    pipe(driver, "a", "y", 2);
    pipe(driver, "a", "z", 11);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_STRING, "a@0=x t1", "a@0=x+y t2", "a@10=z t11");
    finish(driver, builder);

    builder = eddy_builder_new();
    windowed = eddy_windowed_by_time(grouped_input(builder), 10, 10, 0);
    eddy_table_to(eddy_windowed_aggregate(windowed, init_zero, add_plus, NULL, "aggregated"), OUT);
    driver = driver_for(builder);
    pipe(driver, "a", "x", 1);
    pipe(driver, "a", "y", 2);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_STRING, "a@0=0+x t1", "a@0=0+x+y t2");
    finish(driver, builder);
}

/* KStreamWindowAggregate and KStreamSessionWindowAggregate skip null keys only: a null value
 * is aggregated (a windowed count counts it). KStreamSlidingWindowAggregate skips both. */
TEST(windowed_null_keys_and_values)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_grouped_stream *grouped = grouped_input(builder);
    eddy_table_to(eddy_windowed_count(eddy_windowed_by_time(grouped, 10, 10, 0), "tumbling"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, NULL, "v", 1);
    pipe(driver, "a", NULL, 2);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=1 t2");
    finish(driver, builder);

    builder = eddy_builder_new();
    eddy_table_to(
        eddy_session_count(eddy_windowed_by_session(grouped_input(builder), 10, 0), "sessions"),
        OUT);
    driver = driver_for(builder);
    pipe(driver, NULL, "v", 1);
    pipe(driver, "a", NULL, 2);
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[2,2]=1 t2");
    finish(driver, builder);

    builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_sliding(grouped_input(builder), 10, 0), "sliding"),
        OUT);
    driver = driver_for(builder);
    pipe(driver, NULL, "v", 20);
    pipe(driver, "a", NULL, 20);
    EXPECT_NO_OUT(driver);
    finish(driver, builder);
}

/* Retention: window size + grace (10 ms). Windows are dropped from the store once stream time
 * enters a new segment interval (Kafka's max(retention / 2, 60 s)): at 70000, every window
 * that started before 70000 - 10 + 1 goes, and the current ones stay. */
TEST(time_window_retention)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 10, 10, 0), "counts"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 5);
    pipe(driver, "b", "v", 30);
    EXPECT_EQ(window_count(driver, "counts", "a", 0), 1);
    pipe(driver, "a", "v", 70000);
    EXPECT_EQ(window_count(driver, "counts", "a", 0), -1);
    EXPECT_EQ(window_count(driver, "counts", "b", 30), -1);
    EXPECT_EQ(window_count(driver, "counts", "a", 70000), 1);
    finish(driver, builder);
}

/* ---- Sliding windows ------------------------------------------------------------------------- */

/* Every update, in the order Kafka's processReverse makes them (count, d = 10, no drops):
 *   10: no windows: left window [0,10] = 1.
 *   15: [0,10] ends before 15: previous record 10. Its right window [11,21] is missing and 15
 *       falls in it: created = 1. Left window [5,15] starts from [0,10]'s aggregate: 2.
 *   12: latest first: [11,21] contains 12 (right aggregate, 1 before the update): 2; [5,15]: 3;
 *       [0,10] ends before 12: previous 10, whose right window exists. Left window [2,12]
 *       from [0,10]: 2. Right window [13,23] takes [11,21]'s earlier aggregate (1) as it is,
 *       with its timestamp 15.
 * Timestamps are each window's latest record. */
TEST(sliding_window_updates_in_order)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_sliding(grouped_input(builder), 10, 100), "sliding"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 10);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=1 t10");
    pipe(driver, "a", "v", 15);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@11=1 t15", "a@5=2 t15");
    pipe(driver, "a", "v", 12);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@11=2 t15", "a@5=3 t15", "a@2=2 t12",
               "a@13=1 t15");
    finish(driver, builder);
}

/* Late records (d = 10, no grace): after stream time 20 a record at 9 has its window end at
 * 19 < 20: dropped. One at 10 updates [10,20] (end 20 is not < 20), its left window [0,10] has
 * closed (dropped for that window only), and its right window [11,21] takes [10,20]'s earlier
 * aggregate. */
TEST(sliding_window_late_records)
{
    watch_late_lines();
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_windowed_count(eddy_windowed_by_sliding(grouped_input(builder), 10, 0), "sliding"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 20);
    pipe(driver, "a", "v", 9);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@10=1 t20");
    EXPECT_EQ(late_lines, 1);
    pipe(driver, "a", "v", 10);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@10=2 t20", "a@11=1 t20");
    EXPECT_EQ(late_lines, 2);
    finish(driver, builder);
}

/* Kafka's KStreamSlidingWindowAggregateTest.testAggregateSmallInput (d = 10, grace 5). */
TEST(sliding_window_aggregate_kafka_small_input)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_windowed_stream *windowed = eddy_windowed_by_sliding(grouped_input(builder), 10, 5);
    eddy_table_to(eddy_windowed_aggregate(windowed, init_zero, add_plus, NULL, "sliding"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "A", "1", 10);
    pipe(driver, "A", "2", 10);
    pipe(driver, "A", "3", 14);
    pipe(driver, "A", "4", 15);
    pipe(driver, "A", "5", 20);
    pipe(driver, "A", "6", 22);
    pipe(driver, "A", "7", 30);
    EXPECT_OUT_SET(driver, SHAPE_TIME, VALUE_STRING, "A@0=0+1 t10", "A@0=0+1+2 t10",
                   "A@4=0+1+2+3 t14", "A@5=0+1+2+3+4 t15", "A@10=0+1+2+3+4+5 t20", "A@11=0+3 t14",
                   "A@11=0+3+4 t15", "A@11=0+3+4+5 t20", "A@12=0+3+4+5+6 t22", "A@15=0+4 t15",
                   "A@15=0+4+5 t20", "A@15=0+4+5+6 t22", "A@16=0+5 t20", "A@16=0+5+6 t22",
                   "A@20=0+5+6+7 t30", "A@21=0+6 t22", "A@21=0+6+7 t30", "A@23=0+7 t30");
    finish(driver, builder);
}

/* Kafka's KStreamSlidingWindowAggregateTest.testReduceSmallInput (d = 10, grace 5). */
TEST(sliding_window_reduce_kafka_small_input)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_windowed_stream *windowed = eddy_windowed_by_sliding(grouped_input(builder), 10, 5);
    eddy_table_to(eddy_windowed_reduce(windowed, reduce_plus, NULL, "sliding"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "A", "1", 10);
    pipe(driver, "A", "2", 14);
    pipe(driver, "A", "3", 15);
    pipe(driver, "A", "4", 22);
    pipe(driver, "A", "5", 26);
    pipe(driver, "A", "6", 30);
    EXPECT_OUT_SET(driver, SHAPE_TIME, VALUE_STRING, "A@0=1 t10", "A@4=1+2 t14", "A@5=1+2+3 t15",
                   "A@11=2 t14", "A@11=2+3 t15", "A@12=2+3+4 t22", "A@15=3 t15", "A@15=3+4 t22",
                   "A@16=4 t22", "A@16=4+5 t26", "A@20=4+5+6 t30", "A@23=5 t26", "A@23=5+6 t30",
                   "A@27=6 t30");
    finish(driver, builder);
}

/* Kafka's KStreamSlidingWindowAggregateTest.testEarlyRecordsSmallInput (d = 50, no grace):
 * records before 50 share the window [0,50]. */
TEST(sliding_window_early_records_kafka_small_input)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_windowed_stream *windowed = eddy_windowed_by_sliding(grouped_input(builder), 50, 0);
    eddy_table_to(eddy_windowed_aggregate(windowed, init_zero, add_plus, NULL, "sliding"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "A", "1", 0);
    pipe(driver, "A", "2", 5);
    pipe(driver, "A", "3", 6);
    pipe(driver, "A", "4", 3);
    pipe(driver, "A", "5", 13);
    pipe(driver, "A", "6", 10);
    pipe(driver, "A", "7", 70);
    EXPECT_OUT_SET(driver, SHAPE_TIME, VALUE_STRING, "A@0=0+1 t0", "A@0=0+1+2 t5", "A@0=0+1+2+3 t6",
                   "A@0=0+1+2+3+4 t6", "A@0=0+1+2+3+4+5 t13", "A@0=0+1+2+3+4+5+6 t13", "A@1=0+2 t5",
                   "A@1=0+2+3 t6", "A@1=0+2+3+4 t6", "A@1=0+2+3+4+5 t13", "A@1=0+2+3+4+5+6 t13",
                   "A@4=0+2+3 t6", "A@4=0+2+3+5 t13", "A@4=0+2+3+5+6 t13", "A@6=0+3 t6",
                   "A@6=0+3+5 t13", "A@6=0+3+5+6 t13", "A@7=0+5 t13", "A@7=0+5+6 t13",
                   "A@11=0+5 t13", "A@20=0+7 t70");
    finish(driver, builder);
}

/* ---- Session windows ------------------------------------------------------------------------- */

/* Count with gap 10 and grace 20. A record within the gap of a session extends it (the old
 * session's key gets a tombstone at its end, the new one is emitted at its end); one that
 * bridges two sessions merges them; one inside a session rewrites it (tombstone, then the
 * same key again). A session is dropped when it ends before stream time - grace - gap. */
TEST(session_merge_and_split)
{
    watch_late_lines();
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_session_count(eddy_windowed_by_session(grouped_input(builder), 10, 20), "sessions"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 0);
    pipe(driver, "a", "v", 5);  /* within the gap: [0,5] */
    pipe(driver, "a", "v", 30); /* 25 after the session's end: a new one */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[0,0]=1 t0", "a@[0,0]=null t0",
               "a@[0,5]=2 t5", "a@[30,30]=1 t30");

    pipe(driver, "a", "v", 18); /* 13 after [0,5], 12 before [30,30]: a session of its own */
    pipe(driver, "a", "v", 12); /* bridges [0,5] and [18,18] */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[18,18]=1 t18", "a@[0,5]=null t5",
               "a@[18,18]=null t18", "a@[0,18]=4 t18");

    pipe(driver, "a", "v", 25); /* bridges [0,18] and [30,30] */
    pipe(driver, "a", "v", 10); /* inside [0,30] */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[0,18]=null t18", "a@[30,30]=null t30",
               "a@[0,30]=6 t30", "a@[0,30]=null t30", "a@[0,30]=7 t30");

    pipe(driver, "a", "v", 100); /* stream time 100: sessions ending before 70 are closed */
    pipe(driver, "b", "v", 69);  /* dropped */
    pipe(driver, "b", "v", 70);  /* ends exactly at 100 - 20 - 10: still accepted */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[100,100]=1 t100", "b@[70,70]=1 t70");
    EXPECT_EQ(late_lines, 1);
    EXPECT_TRUE(session_present(driver, "sessions", "a", 0, 30));
    EXPECT_TRUE(!session_present(driver, "sessions", "a", 0, 18));
    finish(driver, builder);
}

/* Session reduce: the merger is the reducer (Kafka's mergerForAggregator over
 * aggregatorForReducer), starting from a null aggregate, sessions in end order. */
TEST(session_reduce_merges_with_the_reducer)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_session_stream *sessions = eddy_windowed_by_session(grouped_input(builder), 10, 100);
    eddy_table_to(eddy_session_reduce(sessions, reduce_plus, NULL, "sessions"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "1", 0);
    pipe(driver, "a", "2", 5);
    pipe(driver, "a", "3", 30);
    pipe(driver, "a", "4", 15);
    pipe(driver, "a", "5", 22);
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_STRING, "a@[0,0]=1 t0", "a@[0,0]=null t0",
               "a@[0,5]=1+2 t5", "a@[30,30]=3 t30", "a@[0,5]=null t5", "a@[0,15]=1+2+4 t15",
               "a@[0,15]=null t15", "a@[30,30]=null t30", "a@[0,30]=1+2+4+3+5 t30");
    finish(driver, builder);
}

/* Session aggregate: Kafka starts every merge from the initializer and folds each found
 * session's aggregate in with the merger, then adds the record. */
TEST(session_aggregate_merger)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_session_stream *sessions = eddy_windowed_by_session(grouped_input(builder), 10, 100);
    eddy_table_to(
        eddy_session_aggregate(sessions, init_zero, add_plus, merge_amp, NULL, "sessions"), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "1", 0);
    pipe(driver, "a", "2", 20);
    pipe(driver, "a", "3", 10);
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_STRING, "a@[0,0]=0+1 t0", "a@[20,20]=0+2 t20",
               "a@[0,0]=null t0", "a@[20,20]=null t20", "a@[0,20]=0&0+1&0+2+3 t20");
    finish(driver, builder);
}

/* Sessions older than the retention (gap + grace = 30) are invisible to merges, as in Kafka's
 * session stores (observed end - retention + 1 onwards), and later dropped from the store. */
TEST(session_retention)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table_to(
        eddy_session_count(eddy_windowed_by_session(grouped_input(builder), 10, 20), "sessions"),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "c", "v", 70);
    pipe(driver, "c", "v", 100);
    pipe(driver, "c", "v", 75); /* [70,70] ended before 100 - 30 + 1: expired, not merged */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "c@[70,70]=1 t70", "c@[100,100]=1 t100",
               "c@[75,75]=1 t75");
    pipe(driver, "c", "v", 70000); /* a new segment interval: expired sessions are deleted */
    EXPECT_TRUE(!session_present(driver, "sessions", "c", 100, 100));
    EXPECT_TRUE(session_present(driver, "sessions", "c", 70000, 70000));
    finish(driver, builder);
}

/* ---- Suppression ----------------------------------------------------------------------------- */

/* untilWindowCloses on tumbling 10 ms windows without grace: a window's final count is emitted
 * once stream time reaches its end, with the timestamp of its last update; windows closing
 * together come out in key order (Kafka's buffer orders by time, then key). */
TEST(suppress_until_window_closes)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts =
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 10, 10, 0), "counts");
    eddy_table_to(
        eddy_suppress_until_window_closes(counts, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "b", "v", 1);
    pipe(driver, "a", "v", 2);
    pipe(driver, "a", "v", 3);
    pipe(driver, "a", "v", 9);
    EXPECT_NO_OUT(driver);
    pipe(driver, "a", "v", 10);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=3 t9", "b@0=1 t1");
    pipe(driver, "a", "v", 5); /* late: dropped by the aggregation, nothing reaches suppress */
    pipe(driver, "a", "v", 19);
    EXPECT_NO_OUT(driver);
    pipe(driver, "c", "v", 25);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@10=2 t19");
    finish(driver, builder);
}

/* untilWindowCloses after sessions (gap 10, no grace) waits for end + grace + gap, and drops
 * the tombstones of merged-away sessions (final results). */
TEST(suppress_session_final_results)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts =
        eddy_session_count(eddy_windowed_by_session(grouped_input(builder), 10, 0), "sessions");
    eddy_table_to(
        eddy_suppress_until_window_closes(counts, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 0);
    pipe(driver, "a", "v", 5);  /* [0,0] becomes a tombstone, [0,5] = 2 */
    pipe(driver, "b", "v", 14); /* 5 + 10 > 14: not yet */
    EXPECT_NO_OUT(driver);
    pipe(driver, "b", "v", 15); /* [0,0]'s tombstone is dropped, [0,5] emitted */
    EXPECT_OUT(driver, SHAPE_SESSION, VALUE_COUNT, "a@[0,5]=2 t5");
    finish(driver, builder);
}

/* untilTimeLimit (10 ms) on a table: a key's latest value is emitted once stream time is 10
 * past its first buffered update; updates meanwhile keep that first time. */
TEST(suppress_until_time_limit)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts = eddy_count(grouped_input(builder), "counts");
    eddy_table_to(
        eddy_suppress_until_time_limit(counts, 10, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 0);
    pipe(driver, "a", "v", 5);
    pipe(driver, "b", "v", 8);
    EXPECT_NO_OUT(driver);
    pipe(driver, "c", "v", 10);
    EXPECT_OUT(driver, SHAPE_PLAIN, VALUE_COUNT, "a=2 t5");
    pipe(driver, "c", "v", 18);
    EXPECT_OUT(driver, SHAPE_PLAIN, VALUE_COUNT, "b=1 t8");
    finish(driver, builder);
}

/* untilTimeLimit keeps tombstones (Kafka drops them only for final results). */
TEST(suppress_until_time_limit_forwards_tombstones)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *table =
        eddy_table_from(builder, IN, eddy_serde_string(), eddy_serde_string(), "table");
    eddy_table_to(
        eddy_suppress_until_time_limit(table, 10, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "x", "1", 0);
    pipe(driver, "x", NULL, 5);
    pipe(driver, "y", "2", 20);
    EXPECT_OUT(driver, SHAPE_PLAIN, VALUE_STRING, "x=null t5");
    finish(driver, builder);
}

/* A bounded buffer with EMIT_EARLY (untilTimeLimit: Kafka allows an eager buffer there only)
 * emits its oldest entries while it holds more than max_records. A key buffered again keeps
 * its place and is emitted with its latest value and timestamp. */
TEST(suppress_emit_early_when_full)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts =
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 100, 100, 0), "counts");
    eddy_table_to(
        eddy_suppress_until_time_limit(counts, 1000, 2, 0, EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "b", "v", 1);
    pipe(driver, "a", "v", 2);
    EXPECT_NO_OUT(driver);
    pipe(driver, "c", "v", 3); /* three entries: the oldest (b, time 1) goes */
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "b@0=1 t1");
    pipe(driver, "a", "v", 4); /* a is buffered already (time 2): still two entries */
    EXPECT_NO_OUT(driver);
    pipe(driver, "d", "v", 5);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=2 t4");
    finish(driver, builder);
}

/* max_bytes with EMIT_EARLY: Kafka's size estimate of one buffered count here is 47 bytes
 * (8 buffer time + 9 key + 8 value + 22 record context with the topic "in"; 55 when the old
 * value is sent too): two fit in 120 bytes, three do not. */
TEST(suppress_emit_early_max_bytes)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts =
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 100, 100, 0), "counts");
    eddy_table_to(
        eddy_suppress_until_time_limit(counts, 1000, 0, 120, EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL),
        OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 1);
    pipe(driver, "b", "v", 2);
    EXPECT_NO_OUT(driver);
    pipe(driver, "c", "v", 3);
    EXPECT_OUT(driver, SHAPE_TIME, VALUE_COUNT, "a@0=1 t1");
    finish(driver, builder);
}

/* SHUT_DOWN fails the task with Kafka's message, naming the processor and the limit. */
TEST(suppress_shut_down_when_full)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *counts =
        eddy_windowed_count(eddy_windowed_by_time(grouped_input(builder), 100, 100, 0), "counts");
    eddy_table_to(
        eddy_suppress_until_window_closes(counts, 2, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL), OUT);
    eddy_test_driver *driver = driver_for(builder);
    pipe(driver, "a", "v", 1);
    pipe(driver, "b", "v", 2);
    eddy_err err =
        eddy_test_driver_pipe(driver, IN, eddy_string_slice("c"), eddy_string_slice("v"), 3);
    EXPECT_NE(err, EDDY_OK);
    EXPECT_CONTAINS(eddy_last_error(), "KTABLE-SUPPRESS-");
    EXPECT_CONTAINS(eddy_last_error(), "buffer exceeded its max capacity");
    EXPECT_CONTAINS(eddy_last_error(), "[3/2] records");
    EXPECT_ERR(eddy_test_driver_pipe(driver, IN, eddy_string_slice("d"), eddy_string_slice("v"), 4),
               EDDY_ERR_STATE);
    EXPECT_NO_OUT(driver);
    finish(driver, builder);
}
