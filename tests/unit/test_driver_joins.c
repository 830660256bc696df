/* Stream-stream joins, table-table joins and cogroup through the test driver.
 *
 * The first tests reproduce the join semantics tables of the Kafka Streams developer guide
 * (docs/streams/developer-guide/dsl-api.html, "Semantics of stream-stream joins" and
 * "Semantics of table-table equi-joins"): every row is piped in turn and the records the join
 * writes for that row are compared with the table's cell, in order. A cell "[A, a]" is what the
 * value joiner got (the joiner here writes exactly that text); a cell "null" in a table-table
 * join is a tombstone (the joiner is not called); an empty cell is no output. All rows use one
 * key. Output timestamps follow Kafka's code (KStreamKStreamJoin: the larger of the two
 * records'; a record joined with null: its own), and for table-table joins the change's own
 * timestamp (eddy's table stores keep none).
 *
 * The other tests check window edges against Kafka's rules: a record exactly `before` or
 * `after` away joins, one millisecond further does not; a left/outer record is joined with null
 * only once stream time passes its timestamp + after (right side: + before) + grace; a late
 * match within grace still joins and cancels the null result; a late record whose window closed
 * is joined with null at once; the window stores' retention (before + after + grace) hides older
 * records. */
#include "test.h"

#include "eddy/config.h"
#include "eddy/serde.h"
#include "eddy/test_driver.h"
#include "eddy/windows.h"

#define JOIN_APP_ID "joins"
#define EXPECT_MAX 8

/* ---- Helpers --------------------------------------------------------------------------------- */

/* Writes "[left, right]", "null" standing for a missing side. */
static void bracket_joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                           eddy_slice right_value, void *opaque)
{
    (void)left, (void)opaque;
    char text[256];
    snprintf(text, sizeof text, "[%.*s, %.*s]", left_value.data ? (int)left_value.len : 4,
             left_value.data ? (const char *)left_value.data : "null",
             right_value.data ? (int)right_value.len : 4,
             right_value.data ? (const char *)right_value.data : "null");
    eddy_result_str(ctx, text);
}

static eddy_test_driver *driver_new(eddy_builder *builder)
{
    EXPECT_OK(eddy_builder_check(builder));
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_OK(eddy_config_set(config, "application.id", JOIN_APP_ID));
    eddy_test_driver *driver = NULL;
    EXPECT_OK(eddy_test_driver_new(builder, config, 0, &driver));
    eddy_config_destroy(config);
    return driver;
}

static void pipe_record(eddy_test_driver *driver, const char *topic, const char *key,
                        const char *value, int64_t timestamp_ms)
{
    eddy_err err = eddy_test_driver_pipe(driver, topic, eddy_string_slice(key),
                                         eddy_string_slice(value), timestamp_ms);
    if (err != EDDY_OK)
        eddy_test_fail(__FILE__, __LINE__, "pipe (%s, %s) @%" PRId64 " to %s: %s: %s",
                       key ? key : "null", value ? value : "null", timestamp_ms, topic,
                       eddy_err_name(err), eddy_last_error());
}

/* Reads everything written to `topic` since the last call and compares it, in order, with
 * `expected`: NULL-terminated strings "key=value@timestamp" ("null" for a null value). */
static void expect_records(eddy_test_driver *driver, const char *topic, const char *when,
                           const char *const *expected)
{
    size_t count = 0;
    while (expected[count])
        count++;
    eddy_record record;
    eddy_err err;
    size_t got = 0;
    while ((err = eddy_test_driver_read(driver, topic, &record)) == EDDY_OK) {
        char text[512];
        snprintf(text, sizeof text, "%.*s=%.*s@%" PRId64, record.key.data ? (int)record.key.len : 4,
                 record.key.data ? (const char *)record.key.data : "null",
                 record.value.data ? (int)record.value.len : 4,
                 record.value.data ? (const char *)record.value.data : "null", record.timestamp_ms);
        if (got >= count)
            eddy_test_fail(__FILE__, __LINE__, "%s: %s: unexpected record %zu: %s", topic, when,
                           got, text);
        if (strcmp(text, expected[got]) != 0)
            eddy_test_fail(__FILE__, __LINE__, "%s: %s: record %zu: got %s, expected %s", topic,
                           when, got, text, expected[got]);
        got++;
    }
    if (err != EDDY_ERR_END)
        eddy_test_fail(__FILE__, __LINE__, "read %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
    if (got != count)
        eddy_test_fail(__FILE__, __LINE__,
                       "%s: %s: got %zu records, expected %zu (first missing: %s)", topic, when,
                       got, count, expected[got]);
}

/* One row of a semantics table: an input (topic, value; the key is always "k") and, for each
 * join kind, what the join writes. */
typedef struct table_row {
    int64_t timestamp_ms;
    const char *topic; /* "left" or "right" */
    const char *value; /* NULL: a null value */
    const char *inner[EXPECT_MAX];
    const char *left[EXPECT_MAX];
    const char *outer[EXPECT_MAX];
} table_row;

typedef enum join_kind { KIND_INNER, KIND_LEFT, KIND_OUTER } join_kind;

static void run_rows(eddy_test_driver *driver, const table_row *rows, size_t count, join_kind kind)
{
    for (size_t i = 0; i < count; i++) {
        const table_row *row = &rows[i];
        pipe_record(driver, row->topic, "k", row->value, row->timestamp_ms);
        char when[96];
        snprintf(when, sizeof when, "after the row at %" PRId64 " (%s %s)", row->timestamp_ms,
                 row->topic, row->value ? row->value : "null");
        expect_records(driver, "out", when,
                       kind == KIND_INNER  ? row->inner
                       : kind == KIND_LEFT ? row->left
                                           : row->outer);
    }
}

/* ---- The developer guide's stream-stream join table ------------------------------------------ */

/*
 * The guide's table (timestamps in seconds, here milliseconds x 1000). The guide states "a join
 * window size of 15 seconds with a grace period of 5 seconds"; its rows need a time difference
 * of at least 11 s (D at 15 joins a at 4) and, for [E, null] to come out with F at 60, E's
 * window to have closed by then. Kafka closes it when stream time > 40 + difference + grace
 * (KStreamKStreamJoin.isOuterJoinWindowOpen: open while t + after + grace >= stream time), so
 * with exactly 15 s Kafka itself would emit [E, null] only at 80; every difference from 11 s to
 * 14.999 s gives the guide's table. 14 s is used.
 */
static const table_row stream_stream_rows[] = {
    {1000, "left", NULL, {NULL}, {NULL}, {NULL}},
    {2000, "right", NULL, {NULL}, {NULL}, {NULL}},
    {3000, "left", "A", {NULL}, {NULL}, {NULL}},
    {4000, "right", "a", {"k=[A, a]@4000"}, {"k=[A, a]@4000"}, {"k=[A, a]@4000"}},
    {5000, "left", "B", {"k=[B, a]@5000"}, {"k=[B, a]@5000"}, {"k=[B, a]@5000"}},
    {6000,
     "right",
     "b",
     {"k=[A, b]@6000", "k=[B, b]@6000"},
     {"k=[A, b]@6000", "k=[B, b]@6000"},
     {"k=[A, b]@6000", "k=[B, b]@6000"}},
    {7000, "left", NULL, {NULL}, {NULL}, {NULL}},
    {8000, "right", NULL, {NULL}, {NULL}, {NULL}},
    {9000,
     "left",
     "C",
     {"k=[C, a]@9000", "k=[C, b]@9000"},
     {"k=[C, a]@9000", "k=[C, b]@9000"},
     {"k=[C, a]@9000", "k=[C, b]@9000"}},
    {10000,
     "right",
     "c",
     {"k=[A, c]@10000", "k=[B, c]@10000", "k=[C, c]@10000"},
     {"k=[A, c]@10000", "k=[B, c]@10000", "k=[C, c]@10000"},
     {"k=[A, c]@10000", "k=[B, c]@10000", "k=[C, c]@10000"}},
    {11000, "right", NULL, {NULL}, {NULL}, {NULL}},
    {12000, "left", NULL, {NULL}, {NULL}, {NULL}},
    {13000, "right", NULL, {NULL}, {NULL}, {NULL}},
    {14000,
     "right",
     "d",
     {"k=[A, d]@14000", "k=[B, d]@14000", "k=[C, d]@14000"},
     {"k=[A, d]@14000", "k=[B, d]@14000", "k=[C, d]@14000"},
     {"k=[A, d]@14000", "k=[B, d]@14000", "k=[C, d]@14000"}},
    {15000,
     "left",
     "D",
     {"k=[D, a]@15000", "k=[D, b]@15000", "k=[D, c]@15000", "k=[D, d]@15000"},
     {"k=[D, a]@15000", "k=[D, b]@15000", "k=[D, c]@15000", "k=[D, d]@15000"},
     {"k=[D, a]@15000", "k=[D, b]@15000", "k=[D, c]@15000", "k=[D, d]@15000"}},
    {40000, "left", "E", {NULL}, {NULL}, {NULL}},
    {60000, "left", "F", {NULL}, {"k=[E, null]@40000"}, {"k=[E, null]@40000"}},
    {80000, "right", "f", {NULL}, {"k=[F, null]@60000"}, {"k=[F, null]@60000"}},
    {100000, "left", "G", {NULL}, {NULL}, {"k=[null, f]@80000"}},
};

#define GUIDE_DIFFERENCE_MS 14000
#define GUIDE_GRACE_MS 5000

typedef eddy_stream *(*stream_join_fn)(eddy_stream *, eddy_stream *, eddy_value_joiner_fn, void *,
                                       int64_t, int64_t, int64_t);

static stream_join_fn stream_join_of(join_kind kind)
{
    return kind == KIND_INNER  ? eddy_join_stream
           : kind == KIND_LEFT ? eddy_left_join_stream
                               : eddy_outer_join_stream;
}

static eddy_builder *stream_join_builder(join_kind kind, int64_t before_ms, int64_t after_ms,
                                         int64_t grace_ms)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    eddy_stream *left = eddy_stream_from(builder, "left", NULL, NULL);
    eddy_stream *right = eddy_stream_from(builder, "right", NULL, NULL);
    eddy_to(stream_join_of(kind)(left, right, bracket_joiner, NULL, before_ms, after_ms, grace_ms),
            "out");
    return builder;
}

static void guide_stream_stream(join_kind kind)
{
    eddy_builder *builder =
        stream_join_builder(kind, GUIDE_DIFFERENCE_MS, GUIDE_DIFFERENCE_MS, GUIDE_GRACE_MS);
    eddy_test_driver *driver = driver_new(builder);
    run_rows(driver, stream_stream_rows, sizeof stream_stream_rows / sizeof stream_stream_rows[0],
             kind);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

TEST(guide_stream_stream_inner_join)
{
    guide_stream_stream(KIND_INNER);
}

TEST(guide_stream_stream_left_join)
{
    guide_stream_stream(KIND_LEFT);
}

TEST(guide_stream_stream_outer_join)
{
    guide_stream_stream(KIND_OUTER);
}

/* ---- The developer guide's table-table join table -------------------------------------------- */

static const table_row table_table_rows[] = {
    {1, "left", NULL, {NULL}, {NULL}, {NULL}},
    {2, "right", NULL, {NULL}, {NULL}, {NULL}},
    {3, "left", "A", {NULL}, {"k=[A, null]@3"}, {"k=[A, null]@3"}},
    {4, "right", "a", {"k=[A, a]@4"}, {"k=[A, a]@4"}, {"k=[A, a]@4"}},
    {5, "left", "B", {"k=[B, a]@5"}, {"k=[B, a]@5"}, {"k=[B, a]@5"}},
    {6, "right", "b", {"k=[B, b]@6"}, {"k=[B, b]@6"}, {"k=[B, b]@6"}},
    {7, "left", NULL, {"k=null@7"}, {"k=null@7"}, {"k=[null, b]@7"}},
    {8, "right", NULL, {NULL}, {NULL}, {"k=null@8"}},
    {9, "left", "C", {NULL}, {"k=[C, null]@9"}, {"k=[C, null]@9"}},
    {10, "right", "c", {"k=[C, c]@10"}, {"k=[C, c]@10"}, {"k=[C, c]@10"}},
    {11, "right", NULL, {"k=null@11"}, {"k=[C, null]@11"}, {"k=[C, null]@11"}},
    {12, "left", NULL, {NULL}, {"k=null@12"}, {"k=null@12"}},
    {13, "right", NULL, {NULL}, {NULL}, {NULL}},
    {14, "right", "d", {NULL}, {NULL}, {"k=[null, d]@14"}},
    {15, "left", "D", {"k=[D, d]@15"}, {"k=[D, d]@15"}, {"k=[D, d]@15"}},
};

typedef eddy_table *(*table_join_fn)(eddy_table *, eddy_table *, eddy_value_joiner_fn, void *);

static table_join_fn table_join_of(join_kind kind)
{
    return kind == KIND_INNER  ? eddy_table_join
           : kind == KIND_LEFT ? eddy_table_left_join
                               : eddy_table_outer_join;
}

static void guide_table_table(join_kind kind)
{
    eddy_builder *builder = eddy_builder_new();
    EXPECT_TRUE(builder != NULL);
    eddy_table *left = eddy_table_from(builder, "left", NULL, NULL, NULL);
    eddy_table *right = eddy_table_from(builder, "right", NULL, NULL, NULL);
    eddy_table_to(table_join_of(kind)(left, right, bracket_joiner, NULL), "out");
    eddy_test_driver *driver = driver_new(builder);
    run_rows(driver, table_table_rows, sizeof table_table_rows / sizeof table_table_rows[0], kind);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

TEST(guide_table_table_inner_join)
{
    guide_table_table(KIND_INNER);
}

TEST(guide_table_table_left_join)
{
    guide_table_table(KIND_LEFT);
}

TEST(guide_table_table_outer_join)
{
    guide_table_table(KIND_OUTER);
}

/* ---- Stream-stream window edges -------------------------------------------------------------- */

#define NONE ((const char *const[]){NULL})
#define RECORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* before 10, after 20: a left record at t joins right records from t - 10 to t + 20, both ends
 * included; a right record at t joins left records from t - 20 to t + 10. The grace period is
 * long enough that retention (before + after + grace) hides nothing here. */
TEST(stream_join_window_bounds)
{
    eddy_builder *builder = stream_join_builder(KIND_INNER, 10, 20, 1000);
    eddy_test_driver *driver = driver_new(builder);

    /* Right records first, then the left one: it looks from 100 - 10 to 100 + 20. */
    pipe_record(driver, "right", "a", "r89", 89);
    pipe_record(driver, "right", "a", "r90", 90);
    pipe_record(driver, "right", "a", "r120", 120);
    pipe_record(driver, "right", "a", "r121", 121);
    expect_records(driver, "out", "right records alone", NONE);
    pipe_record(driver, "left", "a", "L100", 100);
    expect_records(driver, "out", "the left record",
                   RECORDS("a=[L100, r90]@100", "a=[L100, r120]@120"));

    /* The left record first, then right ones: each looks from t - 20 to t + 10. */
    pipe_record(driver, "left", "b", "L200", 200);
    pipe_record(driver, "right", "b", "r190", 190); /* 190 + 10 = 200: joins */
    pipe_record(driver, "right", "b", "r189", 189); /* 189 + 10 < 200 */
    pipe_record(driver, "right", "b", "r220", 220); /* 220 - 20 = 200: joins */
    pipe_record(driver, "right", "b", "r221", 221); /* 221 - 20 > 200 */
    expect_records(driver, "out", "the right records",
                   RECORDS("b=[L200, r190]@200", "b=[L200, r220]@220"));

    /* Other keys never join. */
    pipe_record(driver, "left", "c", "L205", 205);
    expect_records(driver, "out", "another key", NONE);

    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* Retention of the join stores is before + after + grace (Kafka's JoinWindows: size + grace):
 * once the right store has seen 120, records at or before 120 - 30 = 90 are gone, so a late
 * left record at 100 no longer finds r90, though it is within its window; r92 it finds. */
TEST(stream_join_retention_hides_old_records)
{
    eddy_builder *builder = stream_join_builder(KIND_INNER, 10, 20, 0);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "right", "a", "r90", 90);
    pipe_record(driver, "right", "a", "r92", 92);
    pipe_record(driver, "right", "a", "r120", 120);
    pipe_record(driver, "left", "a", "L100", 100);
    expect_records(driver, "out", "the late left record",
                   RECORDS("a=[L100, r92]@100", "a=[L100, r120]@120"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

static size_t store_entries(eddy_test_driver *driver, const char *name)
{
    eddy_kv_store *store = eddy_test_driver_store(driver, name);
    if (!store)
        eddy_test_fail(__FILE__, __LINE__, "the driver has no store %s", name);
    eddy_kv_iter *iter;
    EXPECT_OK(eddy_kv_all(store, &iter));
    eddy_slice key, value;
    size_t count = 0;
    eddy_err err;
    while ((err = eddy_kv_iter_next(iter, &key, &value)) == EDDY_OK)
        count++;
    EXPECT_EQ(err, EDDY_ERR_END);
    eddy_kv_iter_destroy(iter);
    return count;
}

/* The buffers are deleted from, not only hidden, once retention (here 10 + 10 + 0) has passed:
 * as Kafka drops a segment, after at least a minute of observed time. The left buffer is
 * KSTREAM-JOINTHIS-0000000004-store in Kafka's naming (sources 0 and 1, windowed 2 and 3). */
TEST(stream_join_buffers_expire)
{
    eddy_builder *builder = stream_join_builder(KIND_INNER, 10, 10, 0);
    eddy_test_driver *driver = driver_new(builder);
    const char *left_store = "KSTREAM-JOINTHIS-0000000004-store";
    for (int64_t t = 0; t < 60000; t += 1000)
        pipe_record(driver, "left", "a", "L", t);
    EXPECT_EQ(store_entries(driver, left_store), 60);
    pipe_record(driver, "left", "a", "L", 70000);
    EXPECT_EQ(store_entries(driver, left_store), 1);
    pipe_record(driver, "right", "a", "r", 70005);
    expect_records(driver, "out", "a match after expiry", RECORDS("a=[L, r]@70005"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* A left-join record without a match is joined with null once stream time passes its
 * timestamp + after + grace (100 + 20 + 10 = 130): not at 130, at 131. */
TEST(stream_left_join_grace_edge)
{
    eddy_builder *builder = stream_join_builder(KIND_LEFT, 10, 20, 10);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "left", "a", "L100", 100);
    expect_records(driver, "out", "the unmatched left record", NONE);
    pipe_record(driver, "right", "z", "z120", 120);
    pipe_record(driver, "right", "z", "z130", 130);
    expect_records(driver, "out", "stream time 130", NONE);
    pipe_record(driver, "right", "z", "z131", 131);
    expect_records(driver, "out", "stream time 131", RECORDS("a=[L100, null]@100"));
    pipe_record(driver, "right", "z", "z500", 500);
    expect_records(driver, "out", "later", NONE);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* A match that arrives late but within grace joins and cancels the null result. */
TEST(stream_left_join_late_match_within_grace)
{
    eddy_builder *builder = stream_join_builder(KIND_LEFT, 10, 20, 10);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "left", "a", "L100", 100);
    pipe_record(driver, "left", "z", "Z125", 125); /* stream time 125: L100's window ended */
    expect_records(driver, "out", "stream time 125", NONE);
    pipe_record(driver, "right", "a", "r115", 115); /* late, within 100 + 20 and grace */
    expect_records(driver, "out", "the late match", RECORDS("a=[L100, r115]@115"));
    pipe_record(driver, "left", "y", "Y300", 300);
    expect_records(driver, "out", "stream time 300", RECORDS("z=[Z125, null]@125"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* A record whose window already closed (t + after < stream time) and that matches nothing is
 * joined with null at once (KStreamKStreamJoin: timeTo < streamTime). */
TEST(stream_left_join_late_record_emits_at_once)
{
    eddy_builder *builder = stream_join_builder(KIND_LEFT, 10, 20, 10);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "left", "z", "Z200", 200);
    pipe_record(driver, "left", "a", "L150", 150); /* 150 + 20 = 170 < 200 */
    expect_records(driver, "out", "the late left record", RECORDS("a=[L150, null]@150"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* Outer joins (before 10, after 20, grace 0): a right record at t is joined with null once
 * stream time passes t + before + grace, a left one t + after + grace. As in Kafka's
 * emitNonJoinedOuterRecords, the buffer is only looked at when the record being processed is
 * not out of order, and not while the earliest buffered time known + this side's after (for a
 * right record: before) + grace >= stream time; so a left record at 121 does not yet emit the
 * right record at 110 that a right record at 121 then emits. The buffer is in time order, right
 * before left at one time (Kafka's TimestampedKeyAndJoinSide). */
TEST(stream_outer_join_emission_order)
{
    eddy_builder *builder = stream_join_builder(KIND_OUTER, 10, 20, 0);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "right", "a", "r100", 100);
    pipe_record(driver, "left", "b", "L105", 105);
    pipe_record(driver, "right", "z", "z110", 110);
    expect_records(driver, "out", "stream time 110", NONE);
    pipe_record(driver, "right", "y", "y111", 111);
    expect_records(driver, "out", "stream time 111", RECORDS("a=[null, r100]@100"));
    pipe_record(driver, "left", "x", "L121", 121);
    expect_records(driver, "out", "a left record at 121", NONE);
    pipe_record(driver, "right", "w", "w121", 121);
    expect_records(driver, "out", "a right record at 121", RECORDS("z=[null, z110]@110"));
    pipe_record(driver, "right", "v", "v1000", 1000);
    expect_records(driver, "out", "stream time 1000",
                   RECORDS("b=[L105, null]@105", "y=[null, y111]@111", "w=[null, w121]@121",
                           "x=[L121, null]@121"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* Left and outer joins join a record with a null key and a value with null at once (Kafka 3.7+,
 * KIP-962); inner joins drop it. A null value is dropped by every join. */
TEST(stream_join_null_keys)
{
    static const join_kind kinds[] = {KIND_INNER, KIND_LEFT, KIND_OUTER};
    for (size_t i = 0; i < 3; i++) {
        eddy_builder *builder = stream_join_builder(kinds[i], 10, 10, 0);
        eddy_test_driver *driver = driver_new(builder);
        pipe_record(driver, "left", NULL, "L", 100);
        expect_records(driver, "out", "a left record with a null key",
                       kinds[i] == KIND_INNER ? NONE : RECORDS("null=[L, null]@100"));
        pipe_record(driver, "right", NULL, "r", 100);
        expect_records(driver, "out", "a right record with a null key",
                       kinds[i] == KIND_OUTER ? RECORDS("null=[null, r]@100") : NONE);
        pipe_record(driver, "left", "a", NULL, 100);
        pipe_record(driver, "right", "a", "r", 100);
        pipe_record(driver, "right", "a", NULL, 100);
        pipe_record(driver, "left", "z", "Z", 1000);
        expect_records(driver, "out", "null values",
                       kinds[i] == KIND_OUTER ? RECORDS("a=[null, r]@100") : NONE);
        eddy_test_driver_destroy(driver);
        eddy_builder_destroy(builder);
    }
}

/* Records of one key and timestamp are all kept (the stores retain duplicates) and joined in
 * arrival order; an unmatched pair with one key and timestamp is emitted whole. */
TEST(stream_join_duplicates)
{
    eddy_builder *builder = stream_join_builder(KIND_OUTER, 10, 10, 0);
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "left", "a", "L1", 100);
    pipe_record(driver, "left", "a", "L2", 100);
    pipe_record(driver, "right", "a", "r", 105);
    expect_records(driver, "out", "the match", RECORDS("a=[L1, r]@105", "a=[L2, r]@105"));
    pipe_record(driver, "right", "b", "r1", 200);
    pipe_record(driver, "right", "b", "r2", 200);
    pipe_record(driver, "left", "z", "Z", 211);
    expect_records(driver, "out", "stream time 211",
                   RECORDS("b=[null, r1]@200", "b=[null, r2]@200"));
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* ---- Table-table joins ----------------------------------------------------------------------- */

/* An inner-joined table grouped and counted: the count subtracts the old joined row, so the
 * join must send old values through its MERGE (Kafka enables them on both input tables). */
static void select_all(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    eddy_forward(ctx, eddy_string_slice("all"), record->value);
}

TEST(table_join_sends_old_values_downstream)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_table *left = eddy_table_from(builder, "left", NULL, NULL, NULL);
    eddy_table *right = eddy_table_from(builder, "right", NULL, NULL, NULL);
    eddy_table *joined = eddy_table_join(left, right, bracket_joiner, NULL);
    eddy_table *counts = eddy_table_count(eddy_table_group_by(joined, select_all, NULL), "counts");
    eddy_to(eddy_to_stream(counts), "counts-out");
    eddy_test_driver *driver = driver_new(builder);
    pipe_record(driver, "left", "k1", "A", 1);
    pipe_record(driver, "right", "k1", "a", 2);
    pipe_record(driver, "left", "k2", "B", 3);
    pipe_record(driver, "right", "k2", "b", 4);
    pipe_record(driver, "right", "k1", "x", 5); /* k1 changes, still joined */
    pipe_record(driver, "left", "k1", NULL, 6); /* k1 no longer joins */
    eddy_kv_store *store = eddy_test_driver_store(driver, "counts");
    EXPECT_TRUE(store != NULL);
    eddy_slice value;
    EXPECT_OK(eddy_kv_get(store, eddy_string_slice("all"), &value));
    int64_t count = -1;
    EXPECT_OK(eddy_int64_decode(value, &count));
    EXPECT_EQ(count, 1);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}

/* ---- Cogroup --------------------------------------------------------------------------------- */

static void empty_initializer(eddy_ctx *ctx, void *opaque)
{
    (void)opaque;
    eddy_result_str(ctx, "");
}

/* Appends the opaque's tag and the record's value to the aggregate. */
static void tag_aggregator(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate,
                           void *opaque)
{
    char text[256];
    snprintf(text, sizeof text, "%.*s%s%.*s", (int)aggregate.len, (const char *)aggregate.data,
             (const char *)opaque, (int)record->value.len, (const char *)record->value.data);
    eddy_result_str(ctx, text);
}

TEST(cogroup_two_streams)
{
    eddy_builder *builder = eddy_builder_new();
    eddy_grouped_stream *clicks =
        eddy_group_by_key(eddy_stream_from(builder, "clicks", NULL, NULL));
    eddy_grouped_stream *views = eddy_group_by_key(eddy_stream_from(builder, "views", NULL, NULL));
    eddy_cogrouped_stream *both = eddy_cogroup(clicks, tag_aggregator, "c");
    both = eddy_cogroup_add(both, views, tag_aggregator, "v");
    eddy_table *table = eddy_cogroup_aggregate(both, empty_initializer, NULL, "activity");
    eddy_table_to(table, "out");
    eddy_test_driver *driver = driver_new(builder);

    pipe_record(driver, "clicks", "k1", "1", 10);
    expect_records(driver, "out", "a click", RECORDS("k1=c1@10"));
    pipe_record(driver, "views", "k1", "2", 11);
    expect_records(driver, "out", "a view", RECORDS("k1=c1v2@11"));
    pipe_record(driver, "views", "k2", "3", 12);
    expect_records(driver, "out", "another key", RECORDS("k2=v3@12"));
    pipe_record(driver, "clicks", "k1", NULL, 13); /* null value: skipped */
    pipe_record(driver, "views", NULL, "9", 14);   /* null key: skipped */
    expect_records(driver, "out", "null key and value", NONE);
    pipe_record(driver, "clicks", "k2", "4", 15);
    expect_records(driver, "out", "a click of k2", RECORDS("k2=v3c4@15"));

    eddy_kv_store *store = eddy_test_driver_store(driver, "activity");
    EXPECT_TRUE(store != NULL);
    eddy_slice value;
    EXPECT_OK(eddy_kv_get(store, eddy_string_slice("k1"), &value));
    EXPECT_MEMEQ(value.data, value.len, "c1v2", 4);
    EXPECT_OK(eddy_kv_get(store, eddy_string_slice("k2"), &value));
    EXPECT_MEMEQ(value.data, value.len, "v3c4", 4);
    eddy_test_driver_destroy(driver);
    eddy_builder_destroy(builder);
}
