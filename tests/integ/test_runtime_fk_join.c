/* The foreign-key table-table join through the real runtime (include/eddy/app.h) on the
 * embedded log (local, no Kafka), with multi-partition tables whose joined rows live in
 * different partitions: each left row's foreign key is chosen so that the right row is in a
 * partition of another number than the left row's, so every match crosses tasks through the
 * registration and response topics.
 *
 * Every input is appended (to the partition Kafka's default partitioner gives its key) before
 * the application starts: right rows, left rows, then updates of both sides (a right row
 * changed, one deleted, one added late; left rows moving to another foreign key, changing their
 * value only, deleted). The application runs with the record cache off until the group has
 * committed every partition of every input and internal topic to its end; then the output
 * topic (one partition) is folded into a table, last value per key, and compared with the join
 * of the final tables. Intermediate records depend on how the tasks interleave; the final table
 * does not. */
#include "test.h"

#include <time.h>
#include <unistd.h>

#include "eddy/app.h"
#include "eddy/config.h"
#include "eddy/log.h"
#include "eddy/windows.h"

#define FK_LEFT "fk-left"
#define FK_RIGHT "fk-right"
#define FK_OUT "fk-out"
#define FK_LEFT_ROWS 20
#define FK_RIGHT_ROWS 10
#define FK_DEADLINE_MS 30000
#define FK_SETTLE_MS 300
#define FK_POLL_US 10000
#define FK_VALUE_MAX 64

/* The final value of a row (empty: absent). */
typedef struct fk_row {
    char value[FK_VALUE_MAX];
    char foreign[FK_VALUE_MAX]; /* left rows: the foreign key */
} fk_row;

typedef struct fk_run {
    char app_id[64];
    char dir[1024];
    int32_t left_partitions, right_partitions;
    bool left_join;
    eddy_log *log;
    eddy_builder *builder;
    eddy_app *app;
    fk_row left[FK_LEFT_ROWS], right[FK_RIGHT_ROWS];
    int64_t timestamp_ms;
} fk_run;

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- Callbacks ------------------------------------------------------------------------------ */

/* The foreign key: the part of the value after '|'. */
static void foreign_key(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)opaque;
    const char *bar = memchr(record->value.data, '|', record->value.len);
    if (bar) {
        const char *start = bar + 1;
        eddy_result(ctx,
                    (eddy_slice){start, record->value.len -
                                            (size_t)(start - (const char *)record->value.data)});
    }
}

static void joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                   eddy_slice right_value, void *opaque)
{
    (void)left, (void)opaque;
    char text[256];
    snprintf(text, sizeof text, "(%.*s,%.*s)", (int)left_value.len, (const char *)left_value.data,
             right_value.data ? (int)right_value.len : 4,
             right_value.data ? (const char *)right_value.data : "null");
    eddy_result_str(ctx, text);
}

/* ---- Inputs --------------------------------------------------------------------------------- */

static int32_t partition_of(const char *key, int32_t partitions)
{
    return eddy_log_partition_for_key(eddy_string_slice(key), partitions);
}

/* Appends (key, value) to the partition of its key, and remembers the row's final value. */
static void fk_put(fk_run *run, const char *topic, int32_t partitions, fk_row *row, const char *key,
                   const char *value)
{
    eddy_record record = {.key = eddy_string_slice(key),
                          .value = eddy_string_slice(value),
                          .timestamp_ms = run->timestamp_ms++};
    EXPECT_OK(eddy_log_append(run->log, topic, partition_of(key, partitions), &record, 1,
                              EDDY_ACKS_LEADER, NULL, NULL));
    snprintf(row->value, sizeof row->value, "%s", value ? value : "");
    const char *bar = value ? strchr(value, '|') : NULL;
    snprintf(row->foreign, sizeof row->foreign, "%s", bar ? bar + 1 : "");
}

static void right_put(fk_run *run, int index, const char *value)
{
    char key[16];
    snprintf(key, sizeof key, "r%d", index);
    fk_put(run, FK_RIGHT, run->right_partitions, &run->right[index], key, value);
}

/* Left row `index` pointing to the first right row from `from` on whose partition number
 * differs from the left row's. */
static void left_put(fk_run *run, int index, int from, const char *suffix)
{
    char key[16], foreign[16], value[FK_VALUE_MAX];
    snprintf(key, sizeof key, "l%d", index);
    int32_t partition = partition_of(key, run->left_partitions);
    int chosen = -1;
    for (int k = 0; k < FK_RIGHT_ROWS && chosen < 0; k++) {
        int candidate = (from + k) % FK_RIGHT_ROWS;
        snprintf(foreign, sizeof foreign, "r%d", candidate);
        if (partition_of(foreign, run->right_partitions) != partition)
            chosen = candidate;
    }
    EXPECT_TRUE(chosen >= 0);
    snprintf(foreign, sizeof foreign, "r%d", chosen);
    snprintf(value, sizeof value, "L%d%s|%s", index, suffix, foreign);
    fk_put(run, FK_LEFT, run->left_partitions, &run->left[index], key, value);
}

static void left_delete(fk_run *run, int index)
{
    char key[16];
    snprintf(key, sizeof key, "l%d", index);
    fk_put(run, FK_LEFT, run->left_partitions, &run->left[index], key, NULL);
}

static void fk_produce(fk_run *run)
{
    EXPECT_OK(eddy_log_topic_create(run->log, FK_LEFT, run->left_partitions, NULL));
    EXPECT_OK(eddy_log_topic_create(run->log, FK_RIGHT, run->right_partitions, NULL));
    EXPECT_OK(eddy_log_topic_create(run->log, FK_OUT, 1, NULL));
    run->timestamp_ms = 1000;
    for (int j = 0; j < FK_RIGHT_ROWS - 1; j++) { /* the last one comes late */
        char value[16];
        snprintf(value, sizeof value, "R%dv1", j);
        right_put(run, j, value);
    }
    for (int i = 0; i < FK_LEFT_ROWS; i++)
        left_put(run, i, i, "v1");
    right_put(run, 1, "R1v2");
    right_put(run, 2, NULL);
    left_put(run, 3, 5, "v2"); /* maybe another foreign key */
    left_put(run, 7, 8, "v2"); /* likewise */
    left_delete(run, 4);
    char same[FK_VALUE_MAX]; /* l5 changes its value, not its foreign key */
    snprintf(same, sizeof same, "L5v3|%s", run->left[5].foreign);
    fk_put(run, FK_LEFT, run->left_partitions, &run->left[5], "l5", same);
    right_put(run, FK_RIGHT_ROWS - 1, "R9v1"); /* the late right row */
    left_put(run, 6, FK_RIGHT_ROWS - 1, "v2");
    right_put(run, 0, "R0v2");
    left_delete(run, 8);
    left_put(run, 8, 2, "v3"); /* back, maybe on the deleted r2 */
}

/* ---- Running --------------------------------------------------------------------------------- */

static void fk_run_open(fk_run *run, const char *app_id, int32_t left_partitions,
                        int32_t right_partitions, bool left_join)
{
    snprintf(run->app_id, sizeof run->app_id, "%s", app_id);
    snprintf(run->dir, sizeof run->dir, "%s", test_tmpdir());
    run->left_partitions = left_partitions;
    run->right_partitions = right_partitions;
    run->left_join = left_join;
    char path[1200];
    snprintf(path, sizeof path, "%s/log", run->dir);
    EXPECT_OK(eddy_log_open(path, EDDY_LOG_CREATE, &run->log));
    fk_produce(run);
    run->builder = eddy_builder_new();
    const eddy_serde *s = eddy_serde_string();
    eddy_table *left = eddy_table_from(run->builder, FK_LEFT, s, s, NULL);
    eddy_table *right = eddy_table_from(run->builder, FK_RIGHT, s, s, NULL);
    eddy_table_to(left_join ? eddy_table_fk_left_join(left, right, foreign_key, joiner, NULL)
                            : eddy_table_fk_join(left, right, foreign_key, joiner, NULL),
                  FK_OUT);
    EXPECT_OK(eddy_builder_check(run->builder));
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "application.id", run->app_id));
    EXPECT_OK(eddy_config_set(config, "log.dir", path));
    snprintf(path, sizeof path, "%s/state", run->dir);
    EXPECT_OK(eddy_config_set(config, "state.dir", path));
    EXPECT_OK(eddy_config_set(config, "statestore.cache.max.bytes", "0"));
    EXPECT_OK(eddy_config_set(config, "commit.interval.ms", "100"));
    EXPECT_OK(eddy_app_new(run->builder, config, &run->app));
    eddy_config_destroy(config);
}

static void fk_run_close(fk_run *run)
{
    eddy_app_destroy(run->app);
    eddy_builder_destroy(run->builder);
    eddy_log_close(run->log);
}

/* True when the group has committed every partition of `topic` to its end. */
static bool committed_to_end(fk_run *run, const char *topic)
{
    int32_t partitions = 0;
    if (eddy_log_topic_partitions(run->log, topic, &partitions) != EDDY_OK)
        return false;
    for (int32_t p = 0; p < partitions; p++) {
        int64_t end = 0, committed = 0;
        EXPECT_OK(eddy_log_partition_info(run->log, topic, p, NULL, &end, NULL, NULL));
        if (eddy_log_group_committed(run->log, run->app_id, topic, p, &committed) != EDDY_OK)
            committed = 0;
        if (committed != end)
            return false;
    }
    return true;
}

/* The application's internal topics: "<app>-...-topic". */
static bool internal_topics_committed(fk_run *run, int *count)
{
    char **names = NULL;
    size_t total = 0;
    EXPECT_OK(eddy_log_topic_list(run->log, &names, &total));
    size_t prefix = strlen(run->app_id);
    bool done = true;
    *count = 0;
    for (size_t i = 0; i < total; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(names[i], run->app_id, prefix) != 0 || names[i][prefix] != '-' || len < 6 ||
            strcmp(names[i] + len - 6, "-topic") != 0)
            continue;
        (*count)++;
        done &= committed_to_end(run, names[i]);
    }
    eddy_log_names_free(names, total);
    return done;
}

static void fk_wait_processed(fk_run *run)
{
    int64_t deadline = now_ms() + FK_DEADLINE_MS;
    for (;;) {
        if (eddy_app_state_get(run->app) == EDDY_APP_ERROR)
            eddy_test_fail(__FILE__, __LINE__, "the application failed: %s",
                           eddy_app_error(run->app));
        int internal = 0;
        bool done = committed_to_end(run, FK_LEFT) && committed_to_end(run, FK_RIGHT) &&
                    internal_topics_committed(run, &internal);
        if (done && internal == 2) {
            /* A last commit may still be under way for the output: let it land, then check
             * that nothing new arrived meanwhile. */
            usleep(FK_SETTLE_MS * 1000);
            if (committed_to_end(run, FK_LEFT) && committed_to_end(run, FK_RIGHT) &&
                internal_topics_committed(run, &internal))
                return;
        }
        if (now_ms() > deadline)
            eddy_test_fail(__FILE__, __LINE__, "not processed after %d ms (state %s)",
                           FK_DEADLINE_MS, eddy_app_state_name(eddy_app_state_get(run->app)));
        usleep(FK_POLL_US);
    }
}

/* ---- Checking ------------------------------------------------------------------------------- */

/* The output folded into a table: last value per left key ("" when deleted or never set). */
static void fk_read_output(fk_run *run, char got[FK_LEFT_ROWS][128], size_t *records)
{
    memset(got, 0, sizeof(char[FK_LEFT_ROWS][128]));
    eddy_log_reader *reader = NULL;
    EXPECT_OK(eddy_log_reader_new(run->log, FK_OUT, 0, EDDY_OFFSET_BEGINNING, &reader));
    eddy_record record;
    eddy_err err;
    *records = 0;
    while ((err = eddy_log_reader_next(reader, 0, &record)) == EDDY_OK) {
        (*records)++;
        int index = -1;
        EXPECT_TRUE(record.key.len > 1 && ((const char *)record.key.data)[0] == 'l');
        EXPECT_TRUE(sscanf((const char *)record.key.data + 1, "%d", &index) == 1);
        EXPECT_TRUE(index >= 0 && index < FK_LEFT_ROWS);
        snprintf(got[index], 128, "%.*s", record.value.data ? (int)record.value.len : 0,
                 record.value.data ? (const char *)record.value.data : "");
    }
    EXPECT_EQ(err, EDDY_ERR_TIMED_OUT);
    eddy_log_reader_destroy(reader);
}

/* The join of the final tables. */
static void fk_expected(const fk_run *run, int index, char *out, size_t size)
{
    const fk_row *left = &run->left[index];
    out[0] = '\0';
    if (!left->value[0])
        return;
    const fk_row *right = NULL;
    int j = -1;
    if (sscanf(left->foreign, "r%d", &j) == 1 && j >= 0 && j < FK_RIGHT_ROWS &&
        run->right[j].value[0])
        right = &run->right[j];
    if (right)
        snprintf(out, size, "(%s,%s)", left->value, right->value);
    else if (run->left_join)
        snprintf(out, size, "(%s,null)", left->value);
}

static void fk_run_case(const char *app_id, int32_t left_partitions, int32_t right_partitions,
                        bool left_join)
{
    fk_run run = {0};
    fk_run_open(&run, app_id, left_partitions, right_partitions, left_join);
    EXPECT_OK(eddy_app_start(run.app));
    fk_wait_processed(&run);
    EXPECT_OK(eddy_app_close(run.app));
    /* The internal topics: the registration topic partitioned as the right table's input, the
     * response topic as the left table's. */
    char topic[256];
    int32_t partitions = 0;
    snprintf(topic, sizeof topic, "%s-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
             app_id);
    EXPECT_OK(eddy_log_topic_partitions(run.log, topic, &partitions));
    EXPECT_EQ(partitions, right_partitions);
    snprintf(topic, sizeof topic, "%s-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
             app_id);
    EXPECT_OK(eddy_log_topic_partitions(run.log, topic, &partitions));
    EXPECT_EQ(partitions, left_partitions);
    char got[FK_LEFT_ROWS][128];
    size_t records = 0;
    fk_read_output(&run, got, &records);
    int joined = 0;
    for (int i = 0; i < FK_LEFT_ROWS; i++) {
        char expected[128];
        fk_expected(&run, i, expected, sizeof expected);
        if (strcmp(got[i], expected) != 0)
            eddy_test_fail(__FILE__, __LINE__, "l%d: got \"%s\", expected \"%s\" (%zu records)", i,
                           got[i], expected, records);
        joined += expected[0] != '\0';
    }
    /* The data must exercise the join: most rows joined, some not. */
    EXPECT_GE(joined, FK_LEFT_ROWS / 2);
    fk_run_close(&run);
}

TEST(runtime_fk_inner_join_across_partitions)
{
    fk_run_case("fkj-inner", 2, 2, false);
}

/* Tables of different partition counts: the join does not need them co-partitioned. */
TEST(runtime_fk_left_join_across_partition_counts)
{
    fk_run_case("fkj-left", 2, 3, true);
}
