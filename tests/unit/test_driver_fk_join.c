/* The foreign-key table-table join (eddy_table_fk_join, eddy_table_fk_left_join) through the
 * test driver, its topology and description, and its internal pieces.
 *
 * The behaviour tests replay Kafka Streams' KTableKTableForeignKeyJoinIntegrationTest (apache/
 * kafka trunk, Oct 2024) with its inputs, extractor (the part of the left value after '|') and
 * joiner ("(left,right)"): doJoinFromLeftThenDeleteLeftEntity, doJoinFromRightThenDelete-
 * RightEntity, shouldEmitTombstoneWhenDeletingNonJoiningRecords, shouldNotEmitTombstonesWhen-
 * DeletingNonExistingRecords, joinShouldProduceNullsWhenValueHasNonMatchingForeignKey,
 * shouldUnsubscribeOldForeignKeyIfLeftSideIsUpdated, shouldEmitRecordOnNullForeignKeyForLeft-
 * Joins and shouldEmitRecordWhenOldAndNewFkDiffer, for inner and left joins. Kafka's test reads
 * the output as a map (the last value per key); here every record is compared, in order, with
 * what Kafka's processors write for that input (each such list ends in the value Kafka's map
 * has). Where Kafka's processors write a record twice or an intermediate value, the comment
 * says which instruction causes it (ops_fk.c's file comment has the rules).
 *
 * The description test is Kafka's KStreamImplTest.shouldSupportForeignKeyTableTableJoinWith-
 * KTableFromKStream with the two `stream(...).toTable()` tables made by `builder.table(...)`
 * (eddy has no toTable): the same counter values, KTABLE-SOURCE-n and <topic>-STATE-STORE-n in
 * place of KSTREAM-TOTABLE-n and its store, so the lines are in the order Kafka's rules give
 * for those names. */
#include "test.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "eddy/config.h"
#include "eddy/serde.h"
#include "eddy/test_driver.h"
#include "eddy/windows.h"
#include "runtime/task_internal.h"

#define FK_APP_ID "fk"
#define LEFT "left_table"
#define RIGHT "right_table"
#define OUTPUT "output-topic"
#define REJOIN_OUTPUT "rejoin-output-topic"
/* The names the topologies of make_topology() get (left table 0-2, right table 3-5, the join
 * from 6). */
#define SUBSCRIPTION_STORE "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010"
#define RESPONSE_TOPIC FK_APP_ID "-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"
#define REGISTRATION_TOPIC FK_APP_ID "-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"

/* ---- Callbacks ------------------------------------------------------------------------------- */

typedef enum extractor_mode {
    EXTRACT_AFTER_BAR,   /* Kafka's value.split("\\|")[1] */
    EXTRACT_NULL,        /* value -> null */
    EXTRACT_RETURN_NULL, /* null when the part after '|' is "returnNull" */
} extractor_mode;

/* The part of the value after the first '|' (up to a next '|'), as Kafka's test's extractor. */
static void extract_foreign_key(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    extractor_mode mode = *(const extractor_mode *)opaque;
    if (mode == EXTRACT_NULL)
        return;
    const char *value = record->value.data;
    size_t len = record->value.len, start = 0;
    while (start < len && value[start] != '|')
        start++;
    if (start == len)
        return;
    start++;
    size_t end = start;
    while (end < len && value[end] != '|')
        end++;
    eddy_slice fk = {value + start, end - start};
    if (mode == EXTRACT_RETURN_NULL && fk.len == 10 && memcmp(fk.data, "returnNull", 10) == 0)
        return;
    eddy_result(ctx, fk);
}

static void format_join(eddy_ctx *ctx, const char *format, eddy_slice left, eddy_slice right)
{
    char text[512];
    snprintf(text, sizeof text, format, left.data ? (int)left.len : 4,
             left.data ? (const char *)left.data : "null", right.data ? (int)right.len : 4,
             right.data ? (const char *)right.data : "null");
    eddy_result_str(ctx, text);
}

/* Kafka's test joiner: "(" + value1 + "," + value2 + ")". */
static void joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                   eddy_slice right_value, void *opaque)
{
    (void)left, (void)opaque;
    format_join(ctx, "(%.*s,%.*s)", left_value, right_value);
}

/* Kafka's test rejoiner: "rejoin(" + value1 + "," + value2 + ")". */
static void rejoiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                     eddy_slice right_value, void *opaque)
{
    (void)left, (void)opaque;
    format_join(ctx, "rejoin(%.*s,%.*s)", left_value, right_value);
}

/* ---- Helpers --------------------------------------------------------------------------------- */

/* Kafka's getTopology: two string tables, the join written to OUTPUT, and with `rejoin` the
 * result joined (inner, or left for a left join) with the left table again, to REJOIN_OUTPUT. */
static eddy_builder *make_topology(bool left_join, bool rejoin, extractor_mode *mode)
{
    eddy_builder *b = eddy_builder_new();
    EXPECT_TRUE(b != NULL);
    const eddy_serde *s = eddy_serde_string();
    eddy_table *left = eddy_table_from(b, LEFT, s, s, NULL);
    eddy_table *right = eddy_table_from(b, RIGHT, s, s, NULL);
    eddy_table *joined =
        left_join ? eddy_table_fk_left_join(left, right, extract_foreign_key, joiner, mode)
                  : eddy_table_fk_join(left, right, extract_foreign_key, joiner, mode);
    eddy_table_to(joined, OUTPUT);
    if (rejoin)
        eddy_table_to(left_join ? eddy_table_left_join(joined, left, rejoiner, NULL)
                                : eddy_table_join(joined, left, rejoiner, NULL),
                      REJOIN_OUTPUT);
    EXPECT_OK(eddy_builder_check(b));
    return b;
}

static eddy_test_driver *driver_new(eddy_builder *builder)
{
    eddy_config *config = eddy_config_new();
    EXPECT_TRUE(config != NULL);
    EXPECT_OK(eddy_config_set(config, "application.id", FK_APP_ID));
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
static void expect_records_at(int line, eddy_test_driver *driver, const char *topic,
                              const char *const *expected)
{
    size_t count = 0;
    while (expected[count])
        count++;
    eddy_record record;
    eddy_err err;
    size_t got = 0;
    while ((err = eddy_test_driver_read(driver, topic, &record)) == EDDY_OK) {
        char text[600];
        snprintf(text, sizeof text, "%.*s=%.*s@%" PRId64, record.key.data ? (int)record.key.len : 4,
                 record.key.data ? (const char *)record.key.data : "null",
                 record.value.data ? (int)record.value.len : 4,
                 record.value.data ? (const char *)record.value.data : "null", record.timestamp_ms);
        if (got >= count)
            eddy_test_fail(__FILE__, line, "%s: unexpected record %zu: %s", topic, got, text);
        if (strcmp(text, expected[got]) != 0)
            eddy_test_fail(__FILE__, line, "%s: record %zu: got %s, expected %s", topic, got, text,
                           expected[got]);
        got++;
    }
    if (err != EDDY_ERR_END)
        eddy_test_fail(__FILE__, line, "read %s: %s: %s", topic, eddy_err_name(err),
                       eddy_last_error());
    if (got != count)
        eddy_test_fail(__FILE__, line, "%s: got %zu records, expected %zu (first missing: %s)",
                       topic, got, count, expected[got]);
}

#define EXPECT_OUTPUT(driver, ...)                                                                 \
    expect_records_at(__LINE__, driver, OUTPUT, (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_NO_OUTPUT(driver)                                                                   \
    expect_records_at(__LINE__, driver, OUTPUT, (const char *const[]){NULL})
#define EXPECT_REJOIN(driver, ...)                                                                 \
    expect_records_at(__LINE__, driver, REJOIN_OUTPUT, (const char *const[]){__VA_ARGS__, NULL})

/* The subscription store's key of (foreign key, left key): [length, 4 bytes BE][fk][pk]. */
static bool subscribed(eddy_test_driver *driver, const char *foreign, const char *primary)
{
    eddy_kv_store *store = eddy_test_driver_store(driver, SUBSCRIPTION_STORE);
    EXPECT_TRUE(store != NULL);
    uint8_t key[128];
    size_t fk_len = strlen(foreign), pk_len = strlen(primary);
    EXPECT_TRUE(4 + fk_len + pk_len <= sizeof key);
    eddy__be32_put(key, (uint32_t)fk_len);
    memcpy(key + 4, foreign, fk_len);
    memcpy(key + 4 + fk_len, primary, pk_len);
    eddy_slice value;
    eddy_err err = eddy_kv_get(store, (eddy_slice){key, 4 + fk_len + pk_len}, &value);
    if (err == EDDY_ERR_NOT_FOUND)
        return false;
    EXPECT_OK(err);
    return true;
}

/* ---- Kafka's KTableKTableForeignKeyJoinIntegrationTest --------------------------------------- */

static void join_from_left_then_delete_left_entity(bool left_join)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(left_join, true, &mode);
    eddy_test_driver *d = driver_new(b);
    /* The right rows first: nothing subscribes to them yet. */
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 0);
    pipe_record(d, RIGHT, "rhs2", "rhsValue2", 1);
    pipe_record(d, RIGHT, "rhs3", "rhsValue3", 2); /* never referenced */
    EXPECT_NO_OUTPUT(d);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 3);
    pipe_record(d, LEFT, "lhs2", "lhsValue2|rhs2", 4);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@3", "lhs2=(lhsValue2|rhs2,rhsValue2)@4");
    EXPECT_REJOIN(d, "lhs1=rejoin((lhsValue1|rhs1,rhsValue1),lhsValue1|rhs1)@3",
                  "lhs2=rejoin((lhsValue2|rhs2,rhsValue2),lhsValue2|rhs2)@4");
    /* Another reference to an existing foreign key. */
    pipe_record(d, LEFT, "lhs3", "lhsValue3|rhs1", 5);
    EXPECT_OUTPUT(d, "lhs3=(lhsValue3|rhs1,rhsValue1)@5");
    EXPECT_REJOIN(d, "lhs3=rejoin((lhsValue3|rhs1,rhsValue1),lhsValue3|rhs1)@5");
    EXPECT_TRUE(subscribed(d, "rhs1", "lhs1") && subscribed(d, "rhs1", "lhs3"));
    /* Deleting a left row deletes its result. The left join sends instruction 1 to the old
     * foreign key and 2 to the new (null) one: each answer gives a tombstone. */
    pipe_record(d, LEFT, "lhs1", NULL, 6);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=null@6", "lhs1=null@6");
    else
        EXPECT_OUTPUT(d, "lhs1=null@6");
    /* The rejoin sees the left row's deletion first (the result row still there), then the
     * result's tombstones: a left join's THIS side forwards the first (its old row goes) and
     * skips the second (nothing on either side any more); an inner join's has no right row. */
    if (left_join)
        EXPECT_REJOIN(d, "lhs1=rejoin((lhsValue1|rhs1,rhsValue1),null)@6", "lhs1=null@6");
    else
        EXPECT_REJOIN(d, "lhs1=null@6");
    EXPECT_TRUE(!subscribed(d, "rhs1", "lhs1") && subscribed(d, "rhs1", "lhs3"));
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(inner_join_from_left_then_delete_left_entity)
{
    join_from_left_then_delete_left_entity(false);
}

TEST(left_join_from_left_then_delete_left_entity)
{
    join_from_left_then_delete_left_entity(true);
}

static void join_from_right_then_delete_right_entity(bool left_join)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(left_join, false, &mode);
    eddy_test_driver *d = driver_new(b);
    /* The left rows first: the inner join has nothing to say, the left join joins with null. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    pipe_record(d, LEFT, "lhs2", "lhsValue2|rhs2", 1);
    pipe_record(d, LEFT, "lhs3", "lhsValue3|rhs1", 2);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@0", "lhs2=(lhsValue2|rhs2,null)@1",
                      "lhs3=(lhsValue3|rhs1,null)@2");
    else
        EXPECT_NO_OUTPUT(d);
    /* A right row answers every subscriber, in left-key order (the store's prefix scan). */
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 3);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@3", "lhs3=(lhsValue3|rhs1,rhsValue1)@3");
    pipe_record(d, RIGHT, "rhs2", "rhsValue2", 4);
    EXPECT_OUTPUT(d, "lhs2=(lhsValue2|rhs2,rhsValue2)@4");
    pipe_record(d, RIGHT, "rhs3", "rhsValue3", 5); /* no subscriber */
    EXPECT_NO_OUTPUT(d);
    /* Deleting the right row: tombstones (inner) or rows joined with null (left). */
    pipe_record(d, RIGHT, "rhs1", NULL, 6);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@6", "lhs3=(lhsValue3|rhs1,null)@6");
    else
        EXPECT_OUTPUT(d, "lhs1=null@6", "lhs3=null@6");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(inner_join_from_right_then_delete_right_entity)
{
    join_from_right_then_delete_right_entity(false);
}

TEST(left_join_from_right_then_delete_right_entity)
{
    join_from_right_then_delete_right_entity(true);
}

static void tombstone_when_deleting_non_joining_records(bool left_join)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(left_join, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@0");
    else
        EXPECT_NO_OUTPUT(d);
    /* An unnecessary tombstone for the inner join (whether a result was emitted is unknown);
     * a necessary one, twice (instructions 1 and 2), for the left join. */
    pipe_record(d, LEFT, "lhs1", NULL, 1);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=null@1", "lhs1=null@1");
    else
        EXPECT_OUTPUT(d, "lhs1=null@1");
    /* Deleting it again changes nothing: no output. */
    pipe_record(d, LEFT, "lhs1", NULL, 2);
    EXPECT_NO_OUTPUT(d);
    /* Nor does deleting a row that never existed (shouldNotEmitTombstonesWhenDeleting-
     * NonExistingRecords). */
    pipe_record(d, LEFT, "lhs2", NULL, 3);
    EXPECT_NO_OUTPUT(d);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(inner_join_tombstone_when_deleting_non_joining_records)
{
    tombstone_when_deleting_non_joining_records(false);
}

TEST(left_join_tombstone_when_deleting_non_joining_records)
{
    tombstone_when_deleting_non_joining_records(true);
}

TEST(inner_join_nulls_when_value_has_non_matching_foreign_key)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(false, false, &mode);
    eddy_test_driver *d = driver_new(b);
    /* No output for a new inner join on a foreign key without a row (instruction 3). */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    EXPECT_NO_OUTPUT(d);
    /* Moving to another missing foreign key: 0 to rhs1, 2 to rhs2, whose null answer is an
     * unnecessary tombstone (the earlier result is unknown). */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs2", 1);
    EXPECT_OUTPUT(d, "lhs1=null@1");
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs3", 2);
    EXPECT_OUTPUT(d, "lhs1=null@2");
    EXPECT_TRUE(!subscribed(d, "rhs1", "lhs1") && !subscribed(d, "rhs2", "lhs1") &&
                subscribed(d, "rhs3", "lhs1"));
    /* rhs1 was referenced once, but not now: nothing changes. */
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 3);
    EXPECT_NO_OUTPUT(d);
    /* Moving to the existing foreign key completes the join. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 4);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@4");
    /* And moving away again is a tombstone. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs2", 5);
    EXPECT_OUTPUT(d, "lhs1=null@5");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(left_join_nulls_when_value_has_non_matching_foreign_key)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(true, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@0");
    /* A change of foreign key sends 1 to the old one and 2 to the new one; both answers carry
     * the new value's hash, so both are joined (with null): the record comes twice. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs2", 1);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs2,null)@1", "lhs1=(lhsValue1|rhs2,null)@1");
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs3", 2);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs3,null)@2", "lhs1=(lhsValue1|rhs3,null)@2");
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 3);
    EXPECT_NO_OUTPUT(d);
    /* Moving to the existing foreign key: the old one's null answer first, then the match. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 4);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@4", "lhs1=(lhsValue1|rhs1,rhsValue1)@4");
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs2", 5);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs2,null)@5", "lhs1=(lhsValue1|rhs2,null)@5");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

static void unsubscribe_old_foreign_key_if_left_side_is_updated(bool left_join)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(left_join, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 0);
    pipe_record(d, RIGHT, "rhs2", "rhsValue2", 1);
    EXPECT_NO_OUTPUT(d);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 2);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@2");
    /* The inner join unsubscribes silently (0); the left join's old foreign key answers null
     * first (1). */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs2", 3);
    if (left_join)
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs2,null)@3", "lhs1=(lhsValue1|rhs2,rhsValue2)@3");
    else
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs2,rhsValue2)@3");
    /* The old foreign key's row changes: lhs1 no longer hears of it. */
    pipe_record(d, RIGHT, "rhs1", "rhsValue1Delta", 4);
    EXPECT_NO_OUTPUT(d);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(inner_join_unsubscribes_old_foreign_key_if_left_side_is_updated)
{
    unsubscribe_old_foreign_key_if_left_side_is_updated(false);
}

TEST(left_join_unsubscribes_old_foreign_key_if_left_side_is_updated)
{
    unsubscribe_old_foreign_key_if_left_side_is_updated(true);
}

TEST(left_join_emits_record_on_null_foreign_key)
{
    extractor_mode mode = EXTRACT_NULL;
    eddy_builder *b = make_topology(true, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@0");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(left_join_emits_record_when_old_and_new_foreign_keys_differ)
{
    extractor_mode mode = EXTRACT_RETURN_NULL;
    eddy_builder *b = make_topology(true, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 0);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,null)@0");
    EXPECT_TRUE(subscribed(d, "rhs1", "lhs1"));
    /* The new foreign key is null: 1 to rhs1 (unsubscribing), then 2 to the null key. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|returnNull", 0);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|returnNull,null)@0", "lhs1=(lhsValue1|returnNull,null)@0");
    EXPECT_TRUE(!subscribed(d, "rhs1", "lhs1"));
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

/* ---- Null foreign keys in inner joins, stale answers ----------------------------------------- */

/* Kafka's defaultJoinInstructions skip a change whose new foreign key is null (or whose old one
 * was): the subscription stays and the old result is not withdrawn. The right row's later
 * answers carry the old value's hash, which no longer matches: they are dropped. */
TEST(inner_join_skips_null_foreign_keys_and_drops_stale_answers)
{
    extractor_mode mode = EXTRACT_RETURN_NULL;
    eddy_builder *b = make_topology(false, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 0);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 1);
    EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@1");
    pipe_record(d, LEFT, "lhs1", "lhsValue1|returnNull", 2);
    EXPECT_NO_OUTPUT(d);
    EXPECT_TRUE(subscribed(d, "rhs1", "lhs1"));
    pipe_record(d, RIGHT, "rhs1", "rhsValue1Delta", 3);
    EXPECT_NO_OUTPUT(d);
    /* A new left row with a null foreign key is skipped too. */
    pipe_record(d, LEFT, "lhs2", "lhsValue2|returnNull", 4);
    EXPECT_NO_OUTPUT(d);
    /* And a change from a null foreign key (the old one was null) as well. */
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 5);
    EXPECT_NO_OUTPUT(d);
    /* Deleting the row: 1 to the old foreign key, which was null: skipped as well. */
    pipe_record(d, LEFT, "lhs2", NULL, 6);
    EXPECT_NO_OUTPUT(d);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

/* An answer computed for an older left value is dropped: an answer read from the response
 * topic and delivered again after the left row changed gives nothing, while delivered again
 * before, it joins once more. */
TEST(stale_answers_are_dropped)
{
    for (int join = 0; join < 2; join++) {
        extractor_mode mode = EXTRACT_AFTER_BAR;
        eddy_builder *b = make_topology(join == 1, false, &mode);
        eddy_test_driver *d = driver_new(b);
        pipe_record(d, RIGHT, "rhs1", "rhsValue1", 0);
        pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 1);
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@1");
        eddy_record answer;
        EXPECT_OK(eddy_test_driver_read(d, RESPONSE_TOPIC, &answer));
        EXPECT_EQ(eddy_test_driver_unread(d, RESPONSE_TOPIC), 0);
        EXPECT_OK(eddy_test_driver_pipe_record(d, RESPONSE_TOPIC, &answer));
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1|rhs1,rhsValue1)@1");
        /* The value changes, the foreign key does not. */
        pipe_record(d, LEFT, "lhs1", "lhsValue1b|rhs1", 2);
        EXPECT_OUTPUT(d, "lhs1=(lhsValue1b|rhs1,rhsValue1)@2");
        EXPECT_OK(eddy_test_driver_pipe_record(d, RESPONSE_TOPIC, &answer));
        EXPECT_NO_OUTPUT(d);
        /* Nor does it join once the left row is gone (the left join's deletion answers twice,
         * instructions 1 and 2). */
        pipe_record(d, LEFT, "lhs1", NULL, 3);
        if (join == 1)
            EXPECT_OUTPUT(d, "lhs1=null@3", "lhs1=null@3");
        else
            EXPECT_OUTPUT(d, "lhs1=null@3");
        EXPECT_OK(eddy_test_driver_pipe_record(d, RESPONSE_TOPIC, &answer));
        EXPECT_NO_OUTPUT(d);
        eddy_test_driver_destroy(d);
        eddy_builder_destroy(b);
    }
}

/* The left key's subscription is the left row's: two left rows with one foreign key, one of
 * them changing, and the right row updated and deleted. */
TEST(several_left_rows_per_foreign_key)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(false, false, &mode);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, LEFT, "a", "x|k", 0);
    pipe_record(d, LEFT, "b", "y|k", 1);
    EXPECT_NO_OUTPUT(d);
    pipe_record(d, RIGHT, "k", "K1", 2);
    EXPECT_OUTPUT(d, "a=(x|k,K1)@2", "b=(y|k,K1)@2");
    pipe_record(d, RIGHT, "k", "K2", 3);
    EXPECT_OUTPUT(d, "a=(x|k,K2)@3", "b=(y|k,K2)@3");
    pipe_record(d, LEFT, "b", "y2|k", 4);
    EXPECT_OUTPUT(d, "b=(y2|k,K2)@4");
    /* A foreign key that is a prefix of another is another key: "k" does not answer "kk". */
    pipe_record(d, LEFT, "c", "z|kk", 5);
    EXPECT_NO_OUTPUT(d);
    pipe_record(d, RIGHT, "k", NULL, 6);
    EXPECT_OUTPUT(d, "a=null@6", "b=null@6");
    pipe_record(d, RIGHT, "kk", "KK", 7);
    EXPECT_OUTPUT(d, "c=(z|kk,KK)@7");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

/* A table joined with itself: employees and their managers (a hierarchy), through one table. */
static void manager_of(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    const char *bar = memchr(record->value.data, '|', record->value.len);
    if (bar)
        eddy_result(
            ctx, (eddy_slice){bar + 1, record->value.len -
                                           (size_t)(bar + 1 - (const char *)record->value.data)});
}

TEST(self_join_through_one_table)
{
    eddy_builder *b = eddy_builder_new();
    const eddy_serde *s = eddy_serde_string();
    eddy_table *people = eddy_table_from(b, "people", s, s, NULL);
    eddy_table_to(eddy_table_fk_left_join(people, people, manager_of, joiner, NULL), OUTPUT);
    EXPECT_OK(eddy_builder_check(b));
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, "people", "ann", "Ann", 0);
    EXPECT_OUTPUT(d, "ann=(Ann,null)@0");
    pipe_record(d, "people", "bob", "Bob|ann", 1);
    EXPECT_OUTPUT(d, "bob=(Bob|ann,Ann)@1");
    /* Ann's row changes: she answers Bob (her subscriber) and herself. */
    pipe_record(d, "people", "ann", "Ann|cy", 2);
    EXPECT_OUTPUT(d, "bob=(Bob|ann,Ann|cy)@2", "ann=(Ann|cy,null)@2");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

/* ---- Topology -------------------------------------------------------------------------------- */

static const char fk_description[] =
    "Topologies:\n"
    "   Sub-topology: 0\n"
    "    Source: KTABLE-SOURCE-0000000016 (topics: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"
    "    Source: KSTREAM-SOURCE-0000000001 (topics: [input1])\n"
    "      --> KTABLE-SOURCE-0000000002\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017 (stores: "
    "[input1-STATE-STORE-0000000000])\n"
    "      --> KTABLE-FK-JOIN-OUTPUT-0000000018\n"
    "      <-- KTABLE-SOURCE-0000000016\n"
    "    Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])\n"
    "      --> KTABLE-TOSTREAM-0000000020\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017\n"
    "    Processor: KTABLE-SOURCE-0000000002 (stores: [input1-STATE-STORE-0000000000])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"
    "      <-- KSTREAM-SOURCE-0000000001\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007 (stores: [])\n"
    "      --> KTABLE-SINK-0000000008\n"
    "      <-- KTABLE-SOURCE-0000000002\n"
    "    Processor: KTABLE-TOSTREAM-0000000020 (stores: [])\n"
    "      --> KSTREAM-SINK-0000000021\n"
    "      <-- KTABLE-FK-JOIN-OUTPUT-0000000018\n"
    "    Sink: KSTREAM-SINK-0000000021 (topic: output)\n"
    "      <-- KTABLE-TOSTREAM-0000000020\n"
    "    Sink: KTABLE-SINK-0000000008 (topic: "
    "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007\n"
    "\n"
    "  Sub-topology: 1\n"
    "    Source: KSTREAM-SOURCE-0000000004 (topics: [input2])\n"
    "      --> KTABLE-SOURCE-0000000005\n"
    "    Source: KTABLE-SOURCE-0000000009 (topics: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012\n"
    "      <-- KTABLE-SOURCE-0000000009\n"
    "    Processor: KTABLE-SOURCE-0000000005 (stores: [input2-STATE-STORE-0000000003])\n"
    "      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n"
    "      <-- KSTREAM-SOURCE-0000000004\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012 (stores: "
    "[input2-STATE-STORE-0000000003])\n"
    "      --> KTABLE-SINK-0000000015\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011\n"
    "    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: "
    "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])\n"
    "      --> KTABLE-SINK-0000000015\n"
    "      <-- KTABLE-SOURCE-0000000005\n"
    "    Sink: KTABLE-SINK-0000000015 (topic: "
    "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)\n"
    "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012, "
    "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013\n"
    "\n";

/* Kafka's KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream, with
 * builder.table (see the file comment); inner and left joins describe alike. */
TEST(fk_join_describes_as_kafka_streams)
{
    for (int join = 0; join < 2; join++) {
        eddy_builder *b = eddy_builder_new();
        const eddy_serde *s = eddy_serde_string();
        eddy_table *left = eddy_table_from(b, "input1", s, s, NULL);
        eddy_table *right = eddy_table_from(b, "input2", s, s, NULL);
        extractor_mode mode = EXTRACT_AFTER_BAR;
        eddy_table *joined =
            join ? eddy_table_fk_left_join(left, right, extract_foreign_key, joiner, &mode)
                 : eddy_table_fk_join(left, right, extract_foreign_key, joiner, &mode);
        eddy_table_to(joined, "output");
        char *text = NULL;
        EXPECT_OK(eddy_builder_describe(b, &text));
        EXPECT_STREQ(text, fk_description);
        eddy_free(text);
        eddy_builder_destroy(b);
    }
}

/* Kafka's KTableKTableForeignKeyJoinScenarioTest.shouldUseExpectedTopicsWithSerde: the internal
 * topics, with the changelogs of both materialized tables, and nothing for the output. */
TEST(fk_join_topics_stores_and_copartitioning)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(false, false, &mode);
    const eddy__topology *t = NULL;
    EXPECT_OK(eddy__builder_build(b, &t));
    uint32_t internal = 0;
    for (uint32_t i = 0; i < t->topic_count; i++) {
        if (!t->topics[i].internal)
            continue;
        internal++;
        char name[256];
        eddy__topic_full_name(&t->topics[i], FK_APP_ID, name, sizeof name);
        EXPECT_TRUE(strcmp(name, REGISTRATION_TOPIC) == 0 || strcmp(name, RESPONSE_TOPIC) == 0);
        EXPECT_EQ(t->topics[i].partitions, 0);
    }
    EXPECT_EQ(internal, 2);
    const char *stores[] = {"left_table-STATE-STORE-0000000000",
                            "right_table-STATE-STORE-0000000003", SUBSCRIPTION_STORE};
    EXPECT_EQ(t->store_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        bool found = false;
        for (uint32_t k = 0; k < t->store_count; k++)
            if (strcmp(t->stores[k].name, stores[i]) == 0) {
                found = true;
                EXPECT_TRUE(t->stores[k].changelog);
                /* Kafka's subscription store is never cached. */
                EXPECT_EQ(t->stores[k].caching, i != 2);
            }
        EXPECT_TRUE(found);
    }
    /* Two co-partition groups: the right table's topic with the registration topic, the left
     * table's with the response topic. */
    EXPECT_EQ(t->copartition_group_count, 2);
    for (uint32_t g = 0; g < 2; g++) {
        const eddy__ids *group = &t->copartition_groups[g];
        EXPECT_EQ(group->count, 2);
        char a[256], c[256];
        eddy__topic_full_name(&t->topics[group->items[0]], FK_APP_ID, a, sizeof a);
        eddy__topic_full_name(&t->topics[group->items[1]], FK_APP_ID, c, sizeof c);
        bool right_group = strcmp(a, RIGHT) == 0 || strcmp(c, RIGHT) == 0;
        const char *internal_name = strcmp(a, RIGHT) == 0 || strcmp(a, LEFT) == 0 ? c : a;
        EXPECT_STREQ(internal_name, right_group ? REGISTRATION_TOPIC : RESPONSE_TOPIC);
    }
    eddy_builder_destroy(b);
}

/* A downstream operator that reads the result materializes it in KTABLE-FK-JOIN-OUTPUT-STATE-
 * STORE-<n> (Kafka's KTableSource.materialize); the result itself can be joined again. */
TEST(fk_join_result_materializes_on_demand)
{
    extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = make_topology(false, true, &mode);
    const eddy__topology *t = NULL;
    EXPECT_OK(eddy__builder_build(b, &t));
    bool found = false;
    for (uint32_t k = 0; k < t->store_count; k++)
        found |= strcmp(t->stores[k].name, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE-0000000019") == 0;
    EXPECT_TRUE(found);
    eddy_test_driver *d = driver_new(b);
    pipe_record(d, RIGHT, "rhs1", "rhsValue1", 0);
    pipe_record(d, LEFT, "lhs1", "lhsValue1|rhs1", 1);
    eddy_kv_store *store =
        eddy_test_driver_store(d, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE-0000000019");
    EXPECT_TRUE(store != NULL);
    eddy_slice value;
    EXPECT_OK(eddy_kv_get(store, eddy_string_slice("lhs1"), &value));
    EXPECT_MEMEQ(value.data, value.len, "(lhsValue1|rhs1,rhsValue1)", 26);
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
}

TEST(fk_join_misuse_is_recorded)
{
    eddy_builder *b = eddy_builder_new();
    eddy_builder *other = eddy_builder_new();
    const eddy_serde *s = eddy_serde_string();
    eddy_table *left = eddy_table_from(b, "l", s, s, NULL);
    eddy_table *right = eddy_table_from(b, "r", s, s, NULL);
    eddy_table *foreign = eddy_table_from(other, "f", s, s, NULL);
    EXPECT_TRUE(eddy_table_fk_join(NULL, right, extract_foreign_key, joiner, NULL) == NULL);
    eddy_table_fk_join(left, right, NULL, joiner, NULL);
    EXPECT_ERR(eddy_builder_check(b), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "foreign-key extractor is NULL");
    eddy_builder_destroy(b);
    b = eddy_builder_new();
    left = eddy_table_from(b, "l", s, s, NULL);
    eddy_table_fk_left_join(left, foreign, extract_foreign_key, joiner, NULL);
    EXPECT_ERR(eddy_builder_check(b), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "another builder");
    eddy_builder_destroy(b);
    /* A table-table join's result has no single store to read: refused, as for other joins. */
    b = eddy_builder_new();
    left = eddy_table_from(b, "l", s, s, NULL);
    right = eddy_table_from(b, "r", s, s, NULL);
    eddy_table *both = eddy_table_join(left, right, joiner, NULL);
    eddy_table_fk_join(both, right, extract_foreign_key, joiner, NULL);
    EXPECT_ERR(eddy_builder_check(b), EDDY_ERR_STATE);
    eddy_builder_destroy(b);
    eddy_builder_destroy(other);
}

/* MurmurHash3 x64-128, the left values' hash: its published test values (seed 0) and the empty
 * input. */
TEST(murmur3_128_matches_reference_values)
{
    uint64_t h[2];
    eddy__murmur3_128("", 0, 0, h);
    EXPECT_TRUE(h[0] == 0 && h[1] == 0);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    eddy__murmur3_128(fox, strlen(fox), 0, h);
    EXPECT_TRUE(h[0] == 0xe34bbc7bbc071b6cULL && h[1] == 0x7a433ca9c49a9347ULL);
}

/* ---- Allocation failures --------------------------------------------------------------------- */

/* Builds, describes and runs both joins through the driver; the first error is returned, and
 * the number of records written to the three outputs in *outputs. */
static eddy_err build_and_run_everything(size_t *outputs)
{
    *outputs = 0;
    static extractor_mode mode = EXTRACT_AFTER_BAR;
    eddy_builder *b = eddy_builder_new();
    if (!b)
        return EDDY_ERR_NO_MEMORY;
    const eddy_serde *s = eddy_serde_string();
    eddy_table *left = eddy_table_from(b, LEFT, s, s, NULL);
    eddy_table *right = eddy_table_from(b, RIGHT, s, s, NULL);
    eddy_table *inner = eddy_table_fk_join(left, right, extract_foreign_key, joiner, &mode);
    eddy_table_to(inner, OUTPUT);
    eddy_table_to(eddy_table_join(inner, left, rejoiner, NULL), REJOIN_OUTPUT);
    eddy_table_to(eddy_table_fk_left_join(left, right, extract_foreign_key, joiner, &mode),
                  "left-output");
    char *text = NULL;
    eddy_err err = eddy_builder_describe(b, &text);
    eddy_free(text);
    eddy_config *config = err == EDDY_OK ? eddy_config_new() : NULL;
    if (err == EDDY_OK && !config)
        err = EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK)
        err = eddy_config_set(config, "application.id", FK_APP_ID);
    eddy_test_driver *d = NULL;
    if (err == EDDY_OK)
        err = eddy_test_driver_new(b, config, 0, &d);
    eddy_config_destroy(config);
    static const char *const inputs[][3] = {
        {RIGHT, "rhs1", "rhsValue1"},
        {LEFT, "lhs1", "lhsValue1|rhs1"},
        {LEFT, "lhs2", "lhsValue2|rhs1"},
        {RIGHT, "rhs1", "rhsValue1b"},
        {LEFT, "lhs1", "lhsValue1|rhs2"},
        {RIGHT, "rhs1", NULL},
        {LEFT, "lhs2", NULL},
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0] && err == EDDY_OK; i++)
        err = eddy_test_driver_pipe(d, inputs[i][0], eddy_string_slice(inputs[i][1]),
                                    eddy_string_slice(inputs[i][2]), (int64_t)i);
    if (err == EDDY_OK)
        *outputs = eddy_test_driver_unread(d, OUTPUT) + eddy_test_driver_unread(d, REJOIN_OUTPUT) +
                   eddy_test_driver_unread(d, "left-output");
    eddy_test_driver_destroy(d);
    eddy_builder_destroy(b);
    return err;
}

/* Failing each allocation in turn, from then on, never crashes or leaks and fails the run.
 * Failing it once never crashes or leaks either; a run that still succeeds (a few allocations
 * outside the join, such as the build's check of duplicate names, are skipped when they fail)
 * must have written every output record. */
TEST(fk_join_allocation_failures_never_crash_or_leak)
{
    int64_t before = eddy__alloc_live_bytes();
    size_t expected = 0, outputs = 0;
    EXPECT_OK(build_and_run_everything(&expected));
    EXPECT_GE(expected, 10);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
    for (int persistent = 0; persistent < 2; persistent++) {
        for (uint64_t n = 1;; n++) {
            EXPECT_TRUE(n < 1000000);
            eddy__alloc_fail_after(n, persistent);
            eddy_err err = build_and_run_everything(&outputs);
            uint64_t injected = eddy__alloc_failures_injected();
            eddy__alloc_fail_after(0, 0);
            EXPECT_EQ(eddy__alloc_live_bytes(), before);
            if (injected == 0) {
                EXPECT_OK(err);
                break;
            }
            if (err == EDDY_OK && (persistent || outputs != expected))
                eddy_test_fail(__FILE__, __LINE__,
                               "allocation %" PRIu64 " (persistent %d) failed unnoticed: %zu "
                               "output records, expected %zu",
                               n, persistent, outputs, expected);
        }
    }
}
